//! The routes and their handlers: the service as the composition of the tower layers of
//! `scriptling-kv-tower` (the rate limiter, the response cache, the cookie sessions) around
//! handlers written against [`AsyncKv`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use scriptling_kv::{AsyncKv, Error, SharedKv, Store, Value};
use scriptling_kv_redis::RedisStore;
use scriptling_kv_tower::{
    CacheLayer, ClientAddr, Decision, KvSessionStore, Limiter, RateLimitLayer,
};
use serde_json::json;
use tokio::net::TcpListener;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

pub(crate) use scriptling_kv_tower::client::{bucket_of, client_of};

use super::config::{
    Config, CACHE_TTL, GRACE, JOB_DURATION, JOB_LEASE, JOB_RESULT_TTL, MAX_BODY, MAX_NAME,
    MAX_USER, RETRY_UNAVAILABLE, SESSION_TTL, TOKEN_BYTES, UPSTREAM_DELAY, WINDOW,
};

// ---------------------------------------------------------------------------------------------
// The backends: everything the handlers need beyond `AsyncKv`.

/// The store the service runs on: any backend behind one [`SharedKv`] (chosen from the flags at
/// start), and the in-process store itself when that is the backend (for its counters).
#[derive(Debug, Clone)]
pub(crate) struct Kv {
    kv: SharedKv,
    local: Option<Store>,
    backend: &'static str,
}

impl From<Store> for Kv {
    fn from(store: Store) -> Kv {
        Kv {
            kv: SharedKv::new(store.clone()),
            local: Some(store),
            backend: "memory",
        }
    }
}

impl From<RedisStore> for Kv {
    fn from(store: RedisStore) -> Kv {
        let backend = if store.is_cluster() {
            "redis-cluster"
        } else {
            "redis"
        };
        Kv {
            kv: SharedKv::new(store),
            local: None,
            backend,
        }
    }
}

impl From<super::baseline::BaselineStore> for Kv {
    fn from(store: super::baseline::BaselineStore) -> Kv {
        Kv {
            kv: SharedKv::new(store),
            local: None,
            backend: "baseline",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The service.

/// What every handler shares: the store (a cheap handle) and the create-limit budget.
#[derive(Debug, Clone)]
struct AppState {
    kv: SharedKv,
    local: Option<Store>,
    backend: &'static str,
    /// The stricter window of the routes that create keys (`new:{client}`).
    creations: Limiter<SharedKv>,
}

/// The cookie of a tower-sessions session.
pub(crate) const SESSION_COOKIE: &str = "sid";
/// The key prefix of a cookie session's record.
pub(crate) const COOKIE_SESSION_PREFIX: &str = "cookie-session:";
/// The largest cached response body, in bytes (a computation's JSON is a few dozen).
pub(crate) const MAX_CACHED_BODY: usize = 64 * 1024;

/// Logs a backend error the layers met (they answer the client without it).
fn log_unavailable(e: &Error) {
    log_line(format_args!("store unavailable: {e}\n"));
}

/// The service's routes over `kv`.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`] does) so a
/// request is attributed to its peer address.
pub(crate) fn app(kv: impl Into<Kv>, config: Config) -> Router {
    let Kv { kv, local, backend } = kv.into();
    let clients = ClientAddr::new()
        .trusted_proxies(config.trusted_proxies.iter().copied())
        .ipv6_prefix(config.ipv6_prefix);
    let requests = Limiter::fixed_window(kv.clone(), config.rate_limit, WINDOW).prefix("rate:");
    let creations = Limiter::fixed_window(kv.clone(), config.create_limit, WINDOW).prefix("new:");
    let limit = RateLimitLayer::new(requests)
        .clients(clients.clone())
        .unavailable_retry_after(RETRY_UNAVAILABLE)
        .drain_limit(MAX_BODY)
        .on_backend_error(log_unavailable);
    let cache = CacheLayer::new(kv.clone())
        .prefix("cache:")
        .ttl(CACHE_TTL)
        .max_body(MAX_CACHED_BODY)
        .key_fn(|uri| {
            let name = uri.path().strip_prefix("/cached/")?;
            // An invalid name passes through, to the handler's `400`.
            valid_name(name).then(|| name.to_owned())
        })
        .on_backend_error(log_unavailable);
    let sessions = SessionManagerLayer::new(
        KvSessionStore::new(kv.clone()).with_prefix(COOKIE_SESSION_PREFIX),
    )
    .with_name(SESSION_COOKIE)
    .with_secure(false)
    .with_expiry(Expiry::OnInactivity(
        tower_sessions::cookie::time::Duration::seconds(
            i64::try_from(SESSION_TTL.as_secs()).unwrap_or(i64::MAX),
        ),
    ));
    let state = AppState {
        kv,
        local,
        backend,
        creations,
    };
    let cookie_sessions = Router::new()
        .route("/session/login", post(cookie_login))
        .route("/session/me", get(cookie_me))
        .route("/session/logout", post(cookie_logout))
        .layer(sessions);
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/cached/{name}", get(cached).layer(cache))
        .route("/jobs/{id}", post(start_job).get(job_status))
        .route("/stats", get(stats))
        .merge(cookie_sessions)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
        .layer(limit)
        .layer(middleware::from_fn_with_state(clients, logged))
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish (idle keep-alive connections are closed) for at most [`GRACE`].
pub(crate) async fn serve(
    listener: TcpListener,
    kv: impl Into<Kv>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let service = app(kv, config).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = signalled.send(());
    });
    let deadline = async move {
        match on_signal.await {
            Ok(()) => tokio::time::sleep(GRACE).await,
            // The sender is gone only once the server has finished by itself.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = server.into_future() => result,
        () = deadline => {
            log_line(format_args!("graceful shutdown took over {GRACE:?}; stopping anyway\n"));
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The request log, and the create limit.

/// Outermost: logs one line per request, `METHOD PATH STATUS ELAPSEDµs CLIENT`, whatever
/// answered it (a handler, the limiter's `429`, a `503`).
async fn logged(State(clients): State<ClientAddr>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let client = clients.client(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let shown = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    log_line(format_args!(
        "{method} {path} {} {}us {shown}\n",
        response.status().as_u16(),
        start.elapsed().as_micros(),
    ));
    response
}

/// Counts a request that is about to create a key in the client's stricter window
/// (`new:{client}`, `--create-limit`): `Ok(None)` to go ahead, `Ok(Some(429))` when over.
async fn charge_creation(app: &AppState, client: &Decision) -> Result<Option<Response>, Error> {
    let decision = app.creations.check(&client.client).await?;
    if decision.allowed {
        return Ok(None);
    }
    Ok(Some(decision.too_many_requests().into_response()))
}

/// "1 key", "5 keys".
pub(crate) fn count_keys(n: usize) -> String {
    if n == 1 {
        "1 key".to_string()
    } else {
        format!("{n} keys")
    }
}

/// Formats the line first so it reaches stderr (unbuffered) in one write: lines from concurrent
/// requests never interleave.
pub(crate) fn log_line(args: std::fmt::Arguments<'_>) {
    let line = args.to_string();
    eprint!("{line}");
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// `status` with the JSON body `{"error": message}`.
fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `401` with `WWW-Authenticate: Bearer` (RFC 6750) and a JSON error.
fn unauthorized(message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// `503` for a store that could not answer (Redis down): the service stays up. The client
/// gets a generic body and `Retry-After`; the cause goes to the log only (it names servers and
/// internals a client has no use for).
fn unavailable(e: &Error) -> Response {
    log_line(format_args!("store unavailable: {e}\n"));
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, "service unavailable");
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_UNAVAILABLE));
    response
}

/// Turns a store error into a `503` reply (`?` in the handlers).
macro_rules! tryk {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return unavailable(&e),
        }
    };
}

/// Whether `name` may be a cache or job name: 1 to [`MAX_NAME`] characters of `[A-Za-z0-9._-]`
/// (it becomes part of a key: unbounded names would let a client store anything it likes).
fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The error text for a name [`valid_name`] refuses.
pub(crate) const BAD_NAME: &str = "name must be 1 to 64 characters of A-Z a-z 0-9 . _ -";

// ---------------------------------------------------------------------------------------------
// GET /.

/// `GET /`: the request's number in the client's window (counted by the rate-limit layer,
/// which hands its [`Decision`] to the handlers).
async fn index(Extension(client): Extension<Decision>) -> Response {
    let (count, limit) = (client.used, client.limit);
    format!("hello, you are request {count} of {limit} in this window\n").into_response()
}

// ---------------------------------------------------------------------------------------------
// Sessions.

/// A fresh random token: [`TOKEN_BYTES`] bytes from the OS random source, lowercase hex.
fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)?;
    let mut hex = String::with_capacity(2 * TOKEN_BYTES);
    for b in bytes {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

/// The token of an `Authorization: Bearer TOKEN` header, if it is there and has a token's shape.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    let well_formed = token.len() == 2 * TOKEN_BYTES
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (scheme.eq_ignore_ascii_case("bearer") && well_formed).then_some(token)
}

fn session_key(token: &str) -> String {
    format!("session:{token}")
}

fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The error text of a body over [`MAX_BODY`].
pub(crate) const BODY_TOO_LARGE: &str = "request body is larger than 1024 bytes";
/// The error text of a user name over [`MAX_USER`].
pub(crate) const USER_TOO_LONG: &str = "user must be at most 64 characters";

/// `POST /login`. Taking the extractor's `Result` lets every rejection answer in this service's
/// JSON shape: `413` for a body over [`MAX_BODY`], `400` for the others (bad JSON, wrong or
/// missing content type).
async fn login(
    State(app): State<AppState>,
    Extension(client): Extension<Decision>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let user = match user_of(body) {
        Ok(user) => user,
        Err((status, message)) => return error(status, &message),
    };
    if let Some(limited) = tryk!(charge_creation(&app, &client).await) {
        return limited;
    }
    let Ok(token) = new_token() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness available");
    };
    let session = BTreeMap::from([
        ("user".to_owned(), Value::from(user.as_str())),
        ("created_at".to_owned(), Value::Int(unix_secs())),
    ]);
    tryk!(
        app.kv
            .set_with_ttl(&session_key(&token), session, SESSION_TTL)
            .await
    );
    Json(json!({ "token": token })).into_response()
}

/// The `401` of a request without `Authorization: Bearer …`.
pub(crate) const NO_BEARER: &str = "expected Authorization: Bearer TOKEN";
/// The `401` of a token that is not (or no longer) a session's, malformed ones included.
pub(crate) const BAD_SESSION: &str = "invalid or expired session";

/// The session token of a request: `Err` with the `401`'s text without an `Authorization: Bearer` header
/// ([`NO_BEARER`]) or with one whose token cannot be a session's ([`BAD_SESSION`], as for an
/// unknown one: the client learns nothing about what tokens look like).
fn session_token(headers: &HeaderMap) -> Result<&str, &'static str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
        });
    if !bearer {
        return Err(NO_BEARER);
    }
    bearer_token(headers).ok_or(BAD_SESSION)
}

/// `GET /me`.
async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let token = match session_token(&headers) {
        Ok(token) => token,
        Err(message) => return unauthorized(message),
    };
    let session = tryk!(app.kv.get(&session_key(token)).await);
    let user = session
        .as_ref()
        .and_then(Value::as_dict)
        .and_then(|d| d.get("user"))
        .and_then(Value::as_str);
    match user {
        Some(user) => Json(json!({ "user": user })).into_response(),
        None => unauthorized(BAD_SESSION),
    }
}

/// `POST /logout`.
async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let token = match session_token(&headers) {
        Ok(token) => token,
        Err(message) => return unauthorized(message),
    };
    if tryk!(app.kv.delete(&session_key(token)).await) {
        Json(json!({ "ok": true })).into_response()
    } else {
        unauthorized(BAD_SESSION)
    }
}

// ---------------------------------------------------------------------------------------------
// Cookie sessions: tower-sessions over `KvSessionStore`.

/// The `401` of a request without a (live) cookie session.
pub(crate) const NO_COOKIE_SESSION: &str = "no session: log in with POST /session/login";

/// The session's field that holds the user.
const USER_FIELD: &str = "user";

/// The user named by a login body, or the `400`/`413` that refuses it (the rules of
/// `POST /login`).
fn user_of(
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<String, (StatusCode, String)> {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, BODY_TOO_LARGE.to_owned()))
        }
        Err(rejection) => return Err((StatusCode::BAD_REQUEST, rejection.body_text())),
    };
    match body.get("user") {
        Some(serde_json::Value::String(user)) if user.chars().count() > MAX_USER => {
            Err((StatusCode::BAD_REQUEST, USER_TOO_LONG.to_owned()))
        }
        Some(serde_json::Value::String(user)) if !user.trim().is_empty() => Ok(user.clone()),
        Some(serde_json::Value::String(_)) => {
            Err((StatusCode::BAD_REQUEST, "user must not be empty".to_owned()))
        }
        Some(_) => Err((StatusCode::BAD_REQUEST, "user must be a string".to_owned())),
        None => Err((
            StatusCode::BAD_REQUEST,
            "expected a JSON object with a \"user\" field".to_owned(),
        )),
    }
}

/// A session store error as the client sees it: the generic `503` (the cause is logged).
fn session_unavailable(e: &tower_sessions::session::Error) -> Response {
    log_line(format_args!("store unavailable: {e}\n"));
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, "service unavailable");
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_UNAVAILABLE));
    response
}

/// `POST /session/login`: a new cookie session for the user (a new id even if the request
/// came with one), counted against the create limit. The session layer stores it and sets the
/// cookie when this handler returns.
async fn cookie_login(
    State(app): State<AppState>,
    Extension(client): Extension<Decision>,
    session: Session,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let user = match user_of(body) {
        Ok(user) => user,
        Err((status, message)) => return error(status, &message),
    };
    if let Some(limited) = tryk!(charge_creation(&app, &client).await) {
        return limited;
    }
    if let Err(e) = session.cycle_id().await {
        return session_unavailable(&e);
    }
    let fields = [
        (USER_FIELD, json!(user)),
        ("created_at", json!(unix_secs())),
    ];
    for (field, value) in fields {
        if let Err(e) = session.insert(field, value).await {
            return session_unavailable(&e);
        }
    }
    Json(json!({ "user": user })).into_response()
}

/// The user of the request's cookie session, or the response that says why there is none.
async fn cookie_user(session: &Session) -> Result<String, Box<Response>> {
    match session.get::<String>(USER_FIELD).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(Box::new(error(StatusCode::UNAUTHORIZED, NO_COOKIE_SESSION))),
        // A record that is not ours to read counts as no session.
        Err(tower_sessions::session::Error::SerdeJson(_)) => {
            Err(Box::new(error(StatusCode::UNAUTHORIZED, NO_COOKIE_SESSION)))
        }
        Err(e) => Err(Box::new(session_unavailable(&e))),
    }
}

/// `GET /session/me`.
async fn cookie_me(session: Session) -> Response {
    match cookie_user(&session).await {
        Ok(user) => Json(json!({ "user": user })).into_response(),
        Err(response) => *response,
    }
}

/// `POST /session/logout`: deletes the session (and the layer clears the cookie).
async fn cookie_logout(session: Session) -> Response {
    if let Err(response) = cookie_user(&session).await {
        return *response;
    }
    match session.flush().await {
        Ok(()) => Json(json!({ "ok": true })).into_response(),
        Err(e) => session_unavailable(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// GET /cached/{name}: a read-through cache without a stampede.

/// Stands in for an upstream call.
async fn compute(name: String) -> serde_json::Value {
    tokio::time::sleep(UPSTREAM_DELAY).await;
    json!({
        "name": name,
        "value": format!("expensive result for {name}"),
        "computed_at": unix_secs(),
    })
}

/// `GET /cached/{name}`, behind the cache layer: this handler runs only on a miss (once for
/// all the concurrent misses on one name), and its `200` is stored as `cache:{name}` for
/// [`CACHE_TTL`]; the layer answers the hits (`X-Cache: HIT`, `MISS` or `COALESCED`). A
/// computation counts against the client's create limit first (its `429` is not cached).
async fn cached(
    State(app): State<AppState>,
    Extension(client): Extension<Decision>,
    Path(name): Path<String>,
) -> Response {
    if !valid_name(&name) {
        return error(StatusCode::BAD_REQUEST, BAD_NAME);
    }
    if let Some(limited) = tryk!(charge_creation(&app, &client).await) {
        return limited;
    }
    Json(compute(name).await).into_response()
}

// ---------------------------------------------------------------------------------------------
// Jobs: run once however often they are posted while they run.

/// `POST /jobs/{id}`: takes the job's lock (`set_if_absent`, with a lease in case this process
/// dies) and runs the job in the background; a job already running is not started again. The
/// runner releases the lock with `compare_and_delete`, which removes it only if it still holds
/// this run's token (a lock whose lease ran out and was taken by another run stays theirs).
/// A job that is not running counts against the client's create limit before it starts.
async fn start_job(
    State(app): State<AppState>,
    Extension(client): Extension<Decision>,
    Path(id): Path<String>,
) -> Response {
    if !valid_name(&id) {
        return error(StatusCode::BAD_REQUEST, BAD_NAME);
    }
    let lock = format!("job:{id}");
    let running = || {
        (
            StatusCode::CONFLICT,
            Json(json!({ "job": id, "error": "job is already running" })),
        )
            .into_response()
    };
    if tryk!(app.kv.exists(&lock).await) {
        return running();
    }
    if let Some(limited) = tryk!(charge_creation(&app, &client).await) {
        return limited;
    }
    let Ok(token) = new_token() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness available");
    };
    if !tryk!(
        app.kv
            .set_if_absent(&lock, token.as_str(), Some(JOB_LEASE))
            .await
    ) {
        return running();
    }
    let kv = app.kv.clone();
    let job = id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(JOB_DURATION).await;
        let result = json!({ "finished_at": unix_secs() }).to_string();
        let _ = kv
            .set_with_ttl(&format!("job-done:{job}"), result, JOB_RESULT_TTL)
            .await;
        let _ = kv.compare_and_delete(&lock, &Value::from(token)).await;
    });
    (
        StatusCode::ACCEPTED,
        Json(json!({ "job": id, "status": "started" })),
    )
        .into_response()
}

/// `GET /jobs/{id}`: `running`, `done` (with when), or 404.
async fn job_status(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if !valid_name(&id) {
        return error(StatusCode::BAD_REQUEST, BAD_NAME);
    }
    if tryk!(app.kv.exists(&format!("job:{id}")).await) {
        return Json(json!({ "job": id, "status": "running" })).into_response();
    }
    match tryk!(app.kv.get(&format!("job-done:{id}")).await) {
        Some(Value::Str(result)) => {
            let result: serde_json::Value = serde_json::from_str(&result).unwrap_or_default();
            Json(json!({ "job": id, "status": "done", "result": result })).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "no such job"),
    }
}

// ---------------------------------------------------------------------------------------------
// GET /stats.

/// The store's counters: hits and misses of the reads, keys expired and evicted, and the key
/// count (which may include expired keys not yet removed). Constant cost on every backend: no
/// key is walked. On Redis, `"keys": null`: counting the namespace is a `SCAN` of the whole
/// database, so it is not counted (module docs).
async fn stats(State(app): State<AppState>) -> Response {
    let numbers = match &app.local {
        Some(store) => {
            let stats = store.stats();
            json!({
                "backend": app.backend,
                "keys": store.len(),
                "hits": stats.hits,
                "misses": stats.misses,
                "expired": stats.expired,
                "evicted": stats.evicted,
            })
        }
        None => json!({ "backend": app.backend, "keys": null }),
    };
    Json(numbers).into_response()
}
