//! Response caching: the [`CacheLayer`] serves a `GET` from the store when it can, and runs
//! the inner service once for all the concurrent requests that miss (single flight).
//!
//! # What is cached
//!
//! A `GET` whose key ([`CacheLayer::key_fn`]; by default the path and query) is at most
//! [`CacheLayer::max_key_len`] bytes long with the prefix, answered `200 OK` with a body of at
//! most [`CacheLayer::max_body`] bytes, without `Set-Cookie`, and without `Cache-Control:
//! no-store` or `private`. Everything else passes through untouched (another method, a key
//! that is too long or that the key function refuses) or is served once and not stored (any
//! other status, a bigger body: served whole, streamed on). Request headers are not part of the
//! key (`Vary` is not honoured): put the layer only on routes whose answer depends on the path.
//!
//! Stored: the status, the headers named by [`CacheLayer::keep_header`] (by default
//! `Content-Type`, `Content-Encoding`, `Content-Language`, `Cache-Control`, `ETag`,
//! `Last-Modified`) and the body, as one [`Value::Dict`]
//! `{"status": Int, "headers": [[name, value bytes], …], "body": Bytes}` under
//! `{prefix}{key}` (prefix `cache:` by default), with the layer's TTL. A stored value that does
//! not decode (written by something else) is removed and the request served by the inner
//! service.
//!
//! # Single flight
//!
//! The load is [`AsyncKv::try_load_with`]: concurrent misses on one key in one process run the
//! inner service once (`X-Cache: MISS`), the others wait and get its answer
//! (`X-Cache: COALESCED`); a later request is served from the store (`X-Cache: HIT`). An answer
//! that is not stored (an error, a big body) goes to the request that ran it; each waiter then
//! runs the inner service itself, one after the other (errors are never shared). Across
//! processes on one Redis, each process may run its own and the first value stored wins.
//!
//! # Backend failures
//!
//! The cache is an optimisation: when the backend cannot answer, the request is served by the
//! inner service (or with the answer it already produced) and the error goes to
//! [`CacheLayer::on_backend_error`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::future::poll_fn;
use futures_util::StreamExt;
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, SET_COOKIE};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body::{Body as HttpBody, Frame};
use http_body_util::{BodyExt, BodyStream, StreamBody};
use scriptling_kv::{AsyncKv, Error, LoadError, Source, Value};
use tower_layer::Layer;
use tower_service::Service;

use crate::rate_limit::ErrorHook;
use crate::BoxError;

/// The `X-Cache` header.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// The key of a request, without the prefix: `None` to pass the request through uncached.
pub type KeyFn = Arc<dyn Fn(&Uri) -> Option<String> + Send + Sync>;

/// The [`Layer`] of the response cache (module docs).
///
/// ```
/// use std::time::Duration;
/// use scriptling_kv::{SharedKv, Store};
/// use scriptling_kv_tower::CacheLayer;
///
/// let kv = SharedKv::new(Store::new());
/// let app: axum::Router = axum::Router::new()
///     .route("/report", axum::routing::get(|| async { "slow to make" }))
///     .layer(CacheLayer::new(kv).ttl(Duration::from_secs(30)).max_body(64 * 1024));
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct CacheLayer<K> {
    config: Arc<CacheConfig<K>>,
}

#[derive(Clone)]
struct CacheConfig<K> {
    kv: K,
    prefix: String,
    ttl: Duration,
    max_body: usize,
    max_key_len: usize,
    keep: Vec<HeaderName>,
    key_fn: Option<KeyFn>,
    on_error: Option<ErrorHook>,
}

impl<K: fmt::Debug> fmt::Debug for CacheLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("CacheLayer")
            .field("kv", &c.kv)
            .field("prefix", &c.prefix)
            .field("ttl", &c.ttl)
            .field("max_body", &c.max_body)
            .field("max_key_len", &c.max_key_len)
            .finish_non_exhaustive()
    }
}

/// The default TTL of a cached response.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// The default largest body cached, in bytes.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// The default longest key (prefix included), in bytes.
pub const DEFAULT_MAX_KEY_LEN: usize = 256;

impl<K: AsyncKv + Clone> CacheLayer<K> {
    /// A cache on `kv`: prefix `cache:`, key the path and query, [`DEFAULT_TTL`],
    /// [`DEFAULT_MAX_BODY`], [`DEFAULT_MAX_KEY_LEN`].
    pub fn new(kv: K) -> CacheLayer<K> {
        use http::header::{CONTENT_ENCODING, CONTENT_LANGUAGE, CONTENT_TYPE, ETAG, LAST_MODIFIED};
        CacheLayer {
            config: Arc::new(CacheConfig {
                kv,
                prefix: "cache:".to_owned(),
                ttl: DEFAULT_TTL,
                max_body: DEFAULT_MAX_BODY,
                max_key_len: DEFAULT_MAX_KEY_LEN,
                keep: vec![
                    CONTENT_TYPE,
                    CONTENT_ENCODING,
                    CONTENT_LANGUAGE,
                    CACHE_CONTROL,
                    ETAG,
                    LAST_MODIFIED,
                ],
                key_fn: None,
                on_error: None,
            }),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut CacheConfig<K>)) -> CacheLayer<K> {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// Keys are `{prefix}{key}` (default `cache:`).
    #[must_use]
    pub fn prefix(self, prefix: &str) -> CacheLayer<K> {
        self.with(|c| c.prefix = prefix.to_owned())
    }

    /// How long a response stays cached (`Duration::ZERO`: never stored).
    #[must_use]
    pub fn ttl(self, ttl: Duration) -> CacheLayer<K> {
        self.with(|c| c.ttl = ttl)
    }

    /// The largest body stored; a bigger one is served, not stored.
    #[must_use]
    pub fn max_body(self, bytes: usize) -> CacheLayer<K> {
        self.with(|c| c.max_body = bytes)
    }

    /// The longest key (with the prefix); a request with a longer one passes through.
    #[must_use]
    pub fn max_key_len(self, bytes: usize) -> CacheLayer<K> {
        self.with(|c| c.max_key_len = bytes)
    }

    /// Also stores this response header.
    #[must_use]
    pub fn keep_header(self, name: HeaderName) -> CacheLayer<K> {
        self.with(|c| c.keep.push(name))
    }

    /// The key of a request (without the prefix), or `None` to pass it through uncached.
    #[must_use]
    pub fn key_fn(
        self,
        f: impl Fn(&Uri) -> Option<String> + Send + Sync + 'static,
    ) -> CacheLayer<K> {
        self.with(|c| c.key_fn = Some(Arc::new(f)))
    }

    /// Called with every backend error (to log it).
    #[must_use]
    pub fn on_backend_error(self, f: impl Fn(&Error) + Send + Sync + 'static) -> CacheLayer<K> {
        self.with(|c| c.on_error = Some(Arc::new(f)))
    }
}

impl<S, K: Clone> Layer<S> for CacheLayer<K> {
    type Service = Cache<S, K>;

    fn layer(&self, inner: S) -> Cache<S, K> {
        Cache {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The [`Service`] of [`CacheLayer`].
#[derive(Clone)]
pub struct Cache<S, K> {
    inner: S,
    config: Arc<CacheConfig<K>>,
}

impl<S: fmt::Debug, K: fmt::Debug> fmt::Debug for Cache<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("inner", &self.inner)
            .field("kv", &self.config.kv)
            .finish_non_exhaustive()
    }
}

/// A response as stored: status, kept headers, body.
#[derive(Debug, Clone)]
struct Stored {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Stored {
    fn to_value(&self) -> Value {
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| {
                Value::List(vec![
                    Value::from(n.as_str()),
                    Value::Bytes(v.as_bytes().to_vec()),
                ])
            })
            .collect();
        Value::from(std::collections::BTreeMap::from([
            (
                "status".to_owned(),
                Value::Int(i64::from(self.status.as_u16())),
            ),
            ("headers".to_owned(), Value::List(headers)),
            ("body".to_owned(), Value::Bytes(self.body.to_vec())),
        ]))
    }

    /// `None` for anything this module did not write.
    fn from_value(value: &Value) -> Option<Stored> {
        let Value::Dict(dict) = value else {
            return None;
        };
        let status = u16::try_from(dict.get("status")?.as_int()?).ok()?;
        let status = StatusCode::from_u16(status).ok()?;
        let Value::List(list) = dict.get("headers")? else {
            return None;
        };
        let mut headers = Vec::with_capacity(list.len());
        for pair in list {
            let Value::List(pair) = pair else { return None };
            let [Value::Str(name), Value::Bytes(value)] = pair.as_slice() else {
                return None;
            };
            headers.push((
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_bytes(value).ok()?,
            ));
        }
        let Value::Bytes(body) = dict.get("body")? else {
            return None;
        };
        Some(Stored {
            status,
            headers,
            body: Bytes::copy_from_slice(body),
        })
    }

    fn response(&self, source: &'static str) -> Response<Body> {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        headers.insert(X_CACHE, HeaderValue::from_static(source));
        response
    }
}

/// Why a load stored nothing.
enum Uncached<E> {
    /// The inner service's answer, served but not stored.
    Served(Response<Body>),
    /// The inner service failed.
    Failed(E),
    /// The request was gone (cannot happen: one load per request).
    Gone,
}

fn cacheable(status: StatusCode, headers: &HeaderMap) -> bool {
    let no_store = headers.get_all(CACHE_CONTROL).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|d| d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("private"))
        })
    });
    status == StatusCode::OK && !headers.contains_key(SET_COOKIE) && !no_store
}

fn declared_len(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads `body` up to `max` bytes: `Ok(bytes)` if it ended within them, or `Err(body)` that
/// replays what was read and streams the rest (the answer is served whole, not stored).
async fn read_bounded<B>(body: B, max: usize) -> Result<Bytes, Body>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut body = Box::pin(body);
    let mut read = BytesMut::new();
    loop {
        match body.frame().await {
            None => return Ok(read.freeze()),
            Some(Ok(frame)) => {
                // Trailers are not stored; the answer is served without them.
                if let Ok(data) = frame.into_data() {
                    read.extend_from_slice(&data);
                    if read.len() > max {
                        let head = futures_util::stream::iter([Ok::<_, BoxError>(Frame::data(
                            read.freeze(),
                        ))]);
                        let rest = BodyStream::new(body.map_err(Into::into));
                        return Err(Body::new(StreamBody::new(head.chain(rest))));
                    }
                }
            }
            Some(Err(e)) => {
                let head = futures_util::stream::iter([
                    Ok::<_, BoxError>(Frame::data(read.freeze())),
                    Err(e.into()),
                ]);
                return Err(Body::new(StreamBody::new(head)));
            }
        }
    }
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for Cache<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    K: AsyncKv + Clone + 'static,
    ReqBody: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        let key = if req.method() == Method::GET {
            match &config.key_fn {
                Some(f) => f(req.uri()),
                None => Some(
                    req.uri()
                        .path_and_query()
                        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned()),
                ),
            }
            .map(|k| format!("{}{k}", config.prefix))
            .filter(|k| k.len() <= config.max_key_len)
        } else {
            None
        };
        let Some(key) = key else {
            return Box::pin(async move { Ok(inner.call(req).await?.map(Body::new)) });
        };
        Box::pin(async move {
            // The request goes to the loader if this call becomes one; otherwise it stays here,
            // for the fallbacks below.
            let slot = Arc::new(Mutex::new(Some(req)));
            let served: Arc<Mutex<Option<Stored>>> = Arc::new(Mutex::new(None));
            let loader = {
                let (slot, served, config) = (slot.clone(), served.clone(), config.clone());
                let mut inner = inner.clone();
                move || async move {
                    let Some(req) = slot.lock().ok().and_then(|mut s| s.take()) else {
                        return Err(Uncached::Gone);
                    };
                    if let Err(e) = poll_fn(|cx| inner.poll_ready(cx)).await {
                        return Err(Uncached::Failed(e));
                    }
                    let response = inner.call(req).await.map_err(Uncached::Failed)?;
                    let (parts, body) = response.into_parts();
                    let too_big =
                        declared_len(&parts.headers).is_some_and(|n| n > config.max_body as u64);
                    if too_big || !cacheable(parts.status, &parts.headers) {
                        return Err(Uncached::Served(Response::from_parts(
                            parts,
                            Body::new(body),
                        )));
                    }
                    let body = match read_bounded(body, config.max_body).await {
                        Ok(body) => body,
                        Err(whole) => {
                            return Err(Uncached::Served(Response::from_parts(parts, whole)))
                        }
                    };
                    let stored = Stored {
                        status: parts.status,
                        headers: config
                            .keep
                            .iter()
                            .flat_map(|name| {
                                parts
                                    .headers
                                    .get_all(name)
                                    .iter()
                                    .map(|v| (name.clone(), v.clone()))
                            })
                            .collect(),
                        body,
                    };
                    let value = stored.to_value();
                    if let Ok(mut s) = served.lock() {
                        *s = Some(stored);
                    }
                    Ok::<Value, Uncached<S::Error>>(value)
                }
            };
            let outcome = config
                .kv
                .try_load_with(&key, Some(config.ttl), loader)
                .await;
            let report = |e: &Error| {
                if let Some(hook) = &config.on_error {
                    hook(e);
                }
            };
            let pending = || slot.lock().ok().and_then(|mut s| s.take());
            match outcome {
                Ok(loaded) => {
                    let source = match loaded.source {
                        Source::Hit => "HIT",
                        Source::Loaded => "MISS",
                        _ => "COALESCED",
                    };
                    if let Some(stored) = Stored::from_value(&loaded.value) {
                        return Ok(stored.response(source));
                    }
                    // Not a response this layer stored: drop it and ask the inner service.
                    if let Err(e) = config.kv.delete(&key).await {
                        report(&e);
                    }
                    match pending() {
                        Some(req) => Ok(inner.call(req).await?.map(Body::new)),
                        None => Ok(served_or_unavailable(&served)),
                    }
                }
                Err(LoadError::Init(Uncached::Served(mut response))) => {
                    response
                        .headers_mut()
                        .insert(X_CACHE, HeaderValue::from_static("MISS"));
                    Ok(response)
                }
                Err(LoadError::Init(Uncached::Failed(e))) => Err(e),
                Err(LoadError::Init(Uncached::Gone)) => Ok(served_or_unavailable(&served)),
                Err(LoadError::Backend(e)) => {
                    report(&e);
                    match pending() {
                        Some(req) => Ok(inner.call(req).await?.map(Body::new)),
                        None => Ok(served_or_unavailable(&served)),
                    }
                }
            }
        })
    }
}

/// The answer the loader produced but could not store, or a `503` if there is none (cannot
/// happen: a loader that ran left its answer).
fn served_or_unavailable(served: &Mutex<Option<Stored>>) -> Response<Body> {
    match served.lock().ok().and_then(|mut s| s.take()) {
        Some(stored) => stored.response("MISS"),
        None => crate::rate_limit::json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::rate_limit::UNAVAILABLE_BODY,
        ),
    }
}
