//! Rate limiting: a [`Limiter`] (one decision on one client's budget) and the
//! [`RateLimitLayer`] that puts it in front of a service.
//!
//! # Policies
//!
//! - [`Policy::FixedWindow`]: `limit` requests per `window`. One `incr_with_ttl` per request,
//!   which gives the counter its TTL when (and only when) it creates it, in the same step: no
//!   counter ever exists without its window, and later requests never move it (the window is
//!   fixed, not sliding). A counter overwritten with something that is not an integer starts a
//!   new window; one that lost its TTL (a `PERSIST` by hand) gets the window back. The
//!   `RateLimit-Reset` of a request that did not open the window costs one `ttl` read more.
//! - [`Policy::Gcra`]: the generic cell rate algorithm. Requests arrive at `limit` per `period`
//!   on average (the emission interval `T = period / limit`), and up to `burst` at once. The
//!   state is one integer, the theoretical arrival time (TAT, microseconds since the Unix
//!   epoch, from the limiter's [`Clock`]): a request at `now` is allowed when
//!   `max(TAT, now) - now <= T × (burst - 1)`, and moves TAT to `max(TAT, now) + T`. Each
//!   attempt is a `get_and_expire` (the read, which also moves the key's deadline to
//!   `T × burst` from now, past any TAT this policy can write, so the state never expires
//!   while it still matters) and a `compare_and_set` (the write, which fails if another request
//!   got there first; then the attempt is redone, up to [`GCRA_ATTEMPTS`] times, after which the
//!   request is refused as if over its limit). A missing key is created with `set_if_absent`.
//!   Replicas on one Redis share the state; their clocks must agree to well under `T`.
//!
//! # Headers
//!
//! Every response the layer passes carries the IETF httpapi draft's `RateLimit-Limit` (the
//! window's limit, or the GCRA burst), `RateLimit-Remaining` (requests left now) and
//! `RateLimit-Reset` (seconds, rounded up, until the budget is whole again), unless the inner
//! service already set them (a stricter limit of its own, see [`Limiter::check`]). A refused
//! request gets `429 Too Many Requests`, `Retry-After` (seconds, rounded up, at least 1), the
//! same three headers and the JSON body `{"error":"rate limit exceeded"}`; the inner service
//! never sees it.
//!
//! # Backend failures
//!
//! A backend that cannot answer (Redis down) fails closed by default: `503 Service
//! Unavailable`, `Retry-After` ([`RateLimitLayer::unavailable_retry_after`], 5 s by default)
//! and `{"error":"service unavailable"}`; the error goes to
//! [`RateLimitLayer::on_backend_error`] (the client learns nothing about the servers).
//! [`RateLimitLayer::fail_open`] lets requests through unmetered instead.
//!
//! # Client input
//!
//! The budget's key is `{prefix}{client}`, where the client is named by [`ClientAddr`] (at most
//! 43 bytes): a client cannot pick its key. A refused request's body is read and dropped, at
//! most [`RateLimitLayer::drain_limit`] bytes (1 KiB by default; beyond, the connection is not
//! kept), so a keep-alive connection stays usable.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::{BodyExt, Limited};
use scriptling_kv::{AsyncKv, Error, Ttl, Value};
use tower_layer::Layer;
use tower_service::Service;

use crate::client::ClientAddr;
use crate::clock::{Clock, SharedClock};
use crate::BoxError;

/// `RateLimit-Limit`.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// How many read-and-compare-and-set rounds a GCRA decision tries under contention.
pub const GCRA_ATTEMPTS: usize = 16;

/// The body of a `429` from this module.
pub const RATE_LIMITED_BODY: &str = r#"{"error":"rate limit exceeded"}"#;
/// The body of a `503` from this module (the backend could not answer).
pub const UNAVAILABLE_BODY: &str = r#"{"error":"service unavailable"}"#;

/// How a [`Limiter`] meters a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `limit` requests per fixed `window` (module docs).
    FixedWindow {
        /// Requests allowed per window (at least 1).
        limit: u64,
        /// The window's length.
        window: Duration,
    },
    /// GCRA: `limit` requests per `period` on average, at most `burst` at once (module docs).
    Gcra {
        /// Requests per period (at least 1).
        limit: u64,
        /// The period `limit` is counted over.
        period: Duration,
        /// Requests allowed at once (at least 1).
        burst: u64,
    },
}

/// One decision of a [`Limiter`]: whether the request may go on, and what the `RateLimit-*`
/// headers say. The layer hands it to the inner service as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is within the budget.
    pub allowed: bool,
    /// The client's budget name (the key without the limiter's prefix).
    pub client: Arc<str>,
    /// The requests counted in the current fixed window, this one included (0 for GCRA, which
    /// counts nothing).
    pub used: u64,
    /// `RateLimit-Limit`: the window's limit, or the GCRA burst.
    pub limit: u64,
    /// `RateLimit-Remaining`: requests the client may still send now.
    pub remaining: u64,
    /// `RateLimit-Reset`: time until the whole budget is back.
    pub reset: Duration,
    /// For a refused request, how long until one would be allowed (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Decision {
    /// Sets `RateLimit-Limit`, `-Remaining` and `-Reset` on `headers`, each only if absent.
    pub fn add_headers(&self, headers: &mut http::HeaderMap) {
        for (name, value) in [
            (RATELIMIT_LIMIT, self.limit),
            (RATELIMIT_REMAINING, self.remaining),
            (RATELIMIT_RESET, ceil_secs(self.reset)),
        ] {
            headers.entry(name).or_insert(HeaderValue::from(value));
        }
    }

    /// The `429` of a refused request: `Retry-After` (at least 1 s), the `RateLimit-*`
    /// headers and the JSON body [`RATE_LIMITED_BODY`].
    pub fn too_many_requests(&self) -> Response<Body> {
        let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED_BODY);
        let retry = self.retry_after.map_or(1, ceil_secs).max(1);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry));
        self.add_headers(response.headers_mut());
        response
    }
}

pub(crate) fn json_response(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Meters clients on an [`AsyncKv`] backend with one [`Policy`]; keys are `{prefix}{client}`.
/// Cheap to clone (the backend handle and an `Arc`).
#[derive(Clone)]
pub struct Limiter<K> {
    kv: K,
    prefix: Arc<str>,
    policy: Policy,
    clock: SharedClock,
}

impl<K: fmt::Debug> fmt::Debug for Limiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("kv", &self.kv)
            .field("prefix", &self.prefix)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<K: AsyncKv> Limiter<K> {
    /// A limiter with `policy` on `kv`, keys under `rate:`, time from the system clock.
    /// Limits and bursts of 0 count as 1; a GCRA period shorter than `limit` microseconds has
    /// an emission interval of 1 µs.
    pub fn new(kv: K, policy: Policy) -> Limiter<K> {
        let policy = match policy {
            Policy::FixedWindow { limit, window } => Policy::FixedWindow {
                limit: limit.max(1),
                window,
            },
            Policy::Gcra {
                limit,
                period,
                burst,
            } => Policy::Gcra {
                limit: limit.max(1),
                period,
                burst: burst.max(1),
            },
        };
        Limiter {
            kv,
            prefix: "rate:".into(),
            policy,
            clock: SharedClock::system(),
        }
    }

    /// `limit` requests per fixed `window`.
    pub fn fixed_window(kv: K, limit: u64, window: Duration) -> Limiter<K> {
        Limiter::new(kv, Policy::FixedWindow { limit, window })
    }

    /// GCRA: `limit` per `period` on average, `burst` at once.
    pub fn gcra(kv: K, limit: u64, period: Duration, burst: u64) -> Limiter<K> {
        Limiter::new(
            kv,
            Policy::Gcra {
                limit,
                period,
                burst,
            },
        )
    }

    /// Keys are `{prefix}{client}` (default `rate:`).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Limiter<K> {
        self.prefix = prefix.into();
        self
    }

    /// The clock GCRA reads (the fixed window needs none: its deadline is the key's TTL).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Limiter<K> {
        self.clock = SharedClock(Arc::new(clock));
        self
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The backend.
    pub fn kv(&self) -> &K {
        &self.kv
    }

    /// Counts one request of `client` and decides on it. This is what the layer does for every
    /// request; a service calls it itself for a second, stricter budget on some of its work
    /// (and answers a refusal with [`Decision::too_many_requests`]). `client` becomes part of a
    /// key: pass a name the client cannot choose (a [`ClientAddr`] bucket).
    pub async fn check(&self, client: &str) -> Result<Decision, Error> {
        let key = format!("{}{client}", self.prefix);
        let client: Arc<str> = client.into();
        match self.policy {
            Policy::FixedWindow { limit, window } => {
                self.fixed_window_check(&key, client, limit, window).await
            }
            Policy::Gcra {
                limit,
                period,
                burst,
            } => self.gcra_check(&key, client, limit, period, burst).await,
        }
    }

    async fn fixed_window_check(
        &self,
        key: &str,
        client: Arc<str>,
        limit: u64,
        window: Duration,
    ) -> Result<Decision, Error> {
        let count = match self.kv.incr_with_ttl(key, 1, window).await {
            Ok(count) => count,
            Err(Error::NotAnInteger | Error::Overflow) => {
                self.kv.set_with_ttl(key, 1, window).await?;
                1
            }
            Err(e) => return Err(e),
        };
        let reset = if count == 1 {
            window
        } else {
            match self.kv.ttl(key).await? {
                Ttl::Expires(left) => left,
                // Ended between the count and now: a new window is there for the asking.
                Ttl::Missing => Duration::ZERO,
                // Someone removed the window's end: put it back, or the count never resets.
                Ttl::Persistent => {
                    self.kv.expire(key, window).await?;
                    window
                }
            }
        };
        let used = u64::try_from(count).unwrap_or(0);
        let allowed = used <= limit;
        Ok(Decision {
            allowed,
            client,
            used,
            limit,
            remaining: limit.saturating_sub(used),
            reset,
            retry_after: (!allowed).then_some(reset),
        })
    }

    async fn gcra_check(
        &self,
        key: &str,
        client: Arc<str>,
        limit: u64,
        period: Duration,
        burst: u64,
    ) -> Result<Decision, Error> {
        let t = i64::try_from(period.as_micros() / u128::from(limit))
            .unwrap_or(i64::MAX)
            .max(1);
        let burst_i = i64::try_from(burst).unwrap_or(i64::MAX);
        let tau = t.saturating_mul(burst_i - 1);
        let horizon = Duration::from_micros(u64::try_from(t.saturating_mul(burst_i)).unwrap_or(0));
        let micros = |d: i64| Duration::from_micros(u64::try_from(d).unwrap_or(0));
        let decided = |allowed: bool, tat: i64, now: i64| {
            let ahead = tat - now;
            let remaining = if ahead > tau {
                0
            } else {
                u64::try_from((tau - ahead) / t + 1).unwrap_or(0).min(burst)
            };
            Decision {
                allowed,
                client: client.clone(),
                used: 0,
                limit: burst,
                remaining: if allowed { remaining } else { 0 },
                reset: micros(ahead),
                retry_after: (!allowed).then(|| micros(ahead - tau)),
            }
        };
        for _ in 0..GCRA_ATTEMPTS {
            let now = self
                .clock
                .now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
            match self.kv.get_and_expire(key, horizon).await? {
                None => {
                    let tat = now.saturating_add(t);
                    if self.kv.set_if_absent(key, tat, Some(horizon)).await? {
                        return Ok(decided(true, tat, now));
                    }
                }
                Some(Value::Int(tat)) => {
                    let base = tat.max(now);
                    if base - now > tau {
                        return Ok(decided(false, base, now));
                    }
                    let next = base.saturating_add(t);
                    if self.kv.compare_and_set(key, &Value::Int(tat), next).await? {
                        return Ok(decided(true, next, now));
                    }
                }
                Some(_) => {
                    // Not a state this policy wrote: start over from an empty budget.
                    let tat = now.saturating_add(t);
                    self.kv.set_with_ttl(key, tat, horizon).await?;
                    return Ok(decided(true, tat, now));
                }
            }
        }
        // Lost every race: others are spending this client's budget right now.
        Ok(Decision {
            allowed: false,
            client,
            used: 0,
            limit: burst,
            remaining: 0,
            reset: horizon,
            retry_after: Some(micros(t)),
        })
    }
}

/// Called with every backend error the layers meet (they answer the client without it).
pub type ErrorHook = Arc<dyn Fn(&Error) + Send + Sync>;

/// The [`Layer`] that meters every request with a [`Limiter`] (module docs).
///
/// ```
/// use std::time::Duration;
/// use scriptling_kv::{SharedKv, Store};
/// use scriptling_kv_tower::{ClientAddr, Limiter, RateLimitLayer};
///
/// let kv = SharedKv::new(Store::new());
/// let layer = RateLimitLayer::new(Limiter::fixed_window(kv, 100, Duration::from_secs(60)))
///     .clients(ClientAddr::new().trusted_proxies(["10.0.0.1".parse().unwrap()]));
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hi" }))
///     .layer(layer);
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct RateLimitLayer<K> {
    config: Arc<LimitConfig<K>>,
}

#[derive(Clone)]
struct LimitConfig<K> {
    limiter: Limiter<K>,
    clients: ClientAddr,
    fail_open: bool,
    unavailable_retry_after: u64,
    drain_limit: usize,
    on_error: Option<ErrorHook>,
}

impl<K: fmt::Debug> fmt::Debug for RateLimitLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limiter", &self.config.limiter)
            .field("clients", &self.config.clients)
            .field("fail_open", &self.config.fail_open)
            .finish_non_exhaustive()
    }
}

impl<K: AsyncKv + Clone> RateLimitLayer<K> {
    /// Meters with `limiter`; clients are peer addresses (no trusted proxy), the backend fails
    /// closed (`503`, `Retry-After: 5`), a refused body is drained up to 1 KiB.
    pub fn new(limiter: Limiter<K>) -> RateLimitLayer<K> {
        RateLimitLayer {
            config: Arc::new(LimitConfig {
                limiter,
                clients: ClientAddr::new(),
                fail_open: false,
                unavailable_retry_after: 5,
                drain_limit: 1024,
                on_error: None,
            }),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut LimitConfig<K>)) -> RateLimitLayer<K> {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// How the client of a request is found (trusted proxies, IPv6 prefix).
    #[must_use]
    pub fn clients(self, clients: ClientAddr) -> RateLimitLayer<K> {
        self.with(|c| c.clients = clients)
    }

    /// `true`: a backend error lets the request through unmetered (no `RateLimit-*` headers).
    #[must_use]
    pub fn fail_open(self, open: bool) -> RateLimitLayer<K> {
        self.with(|c| c.fail_open = open)
    }

    /// The `Retry-After` of a `503` (seconds).
    #[must_use]
    pub fn unavailable_retry_after(self, secs: u64) -> RateLimitLayer<K> {
        self.with(|c| c.unavailable_retry_after = secs)
    }

    /// The most bytes of a refused request's body read (and dropped) before answering.
    #[must_use]
    pub fn drain_limit(self, bytes: usize) -> RateLimitLayer<K> {
        self.with(|c| c.drain_limit = bytes)
    }

    /// Called with every backend error (to log it).
    #[must_use]
    pub fn on_backend_error(self, f: impl Fn(&Error) + Send + Sync + 'static) -> RateLimitLayer<K> {
        self.with(|c| c.on_error = Some(Arc::new(f)))
    }
}

impl<S, K: Clone> Layer<S> for RateLimitLayer<K> {
    type Service = RateLimit<S, K>;

    fn layer(&self, inner: S) -> RateLimit<S, K> {
        RateLimit {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The [`Service`] of [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimit<S, K> {
    inner: S,
    config: Arc<LimitConfig<K>>,
}

impl<S: fmt::Debug, K: fmt::Debug> fmt::Debug for RateLimit<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("limiter", &self.config.limiter)
            .finish_non_exhaustive()
    }
}

/// Reads and drops at most `limit` bytes of `body` (errors and longer bodies ignored).
pub(crate) async fn drain<B>(body: B, limit: usize)
where
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    let _ = Limited::new(body, limit).collect().await;
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    K: AsyncKv + Clone + 'static,
    ReqBody: HttpBody + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone takes the place of the service made ready by `poll_ready`, which goes into
        // the future (tower's rule for services that call their inner one later).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            let bucket = config.clients.bucket(&req);
            match config.limiter.check(&bucket).await {
                Ok(decision) if decision.allowed => {
                    req.extensions_mut().insert(decision.clone());
                    let response = inner.call(req).await?;
                    let mut response = response.map(Body::new);
                    decision.add_headers(response.headers_mut());
                    Ok(response)
                }
                Ok(decision) => {
                    drain(req.into_body(), config.drain_limit).await;
                    Ok(decision.too_many_requests())
                }
                Err(e) => {
                    if let Some(hook) = &config.on_error {
                        hook(&e);
                    }
                    if config.fail_open {
                        return Ok(inner.call(req).await?.map(Body::new));
                    }
                    drain(req.into_body(), config.drain_limit).await;
                    let mut response =
                        json_response(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_BODY);
                    response.headers_mut().insert(
                        RETRY_AFTER,
                        HeaderValue::from(config.unavailable_retry_after),
                    );
                    Ok(response)
                }
            }
        })
    }
}
