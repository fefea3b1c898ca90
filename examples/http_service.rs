//! An HTTP service whose handlers share one [`Store`]: a per-client rate limiter, login sessions
//! and a response cache, the three jobs the crate is built for.
//!
//! ```text
//! cargo run --release --example http_service -- [--addr HOST:PORT] [--rate-limit N]
//! ```
//!
//! | route | what it does | keys |
//! |---|---|---|
//! | `GET /` | fixed-window rate limit per client (N requests per 60 s) | `rate:{client}` |
//! | `POST /login` `{"user": "NAME"}` | new session, returns `{"token": "…"}` | `session:{token}`, 24 h |
//! | `GET /me` (`Authorization: Bearer TOKEN`) | the session's user | |
//! | `POST /logout` (same header) | ends the session | |
//! | `GET /cached/{name}` | slow computation cached for 300 s, `X-Cache: MISS`/`HIT` | `cache:{name}` |
//! | `GET /stats` | live keys, in total and per prefix | |
//!
//! The client of a request is the first address of `X-Forwarded-For` when present, else the
//! peer's IP address. Trusting `X-Forwarded-For` is only right behind a proxy that sets it: a
//! client that talks to this service directly can claim any address and so dodge its limit.
//!
//! One line per request goes to stderr; Ctrl-C or SIGTERM stops accepting connections and lets
//! the requests in flight finish (for at most [`GRACE`]).
//!
//! `tests/http_service.rs` includes this file as a module and drives [`serve`] in-process, which
//! is why everything except `main` is a function taking its inputs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::{Future, IntoFuture};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use scriptling_kv::{Store, Ttl, Value};
use serde_json::json;
use tokio::net::TcpListener;

/// Length of the rate-limit window.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Lifetime of a session.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Lifetime of a cached value.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(300);
/// How long the stand-in for an upstream call takes.
pub(crate) const UPSTREAM_DELAY: Duration = Duration::from_millis(50);
/// After a shutdown signal, how long requests in flight may take before the process stops anyway.
pub(crate) const GRACE: Duration = Duration::from_secs(10);
/// Random bytes in a session token (128 bits), hex-encoded to twice as many characters.
pub(crate) const TOKEN_BYTES: usize = 16;

const DEFAULT_ADDR: &str = "127.0.0.1:8080";
const DEFAULT_RATE_LIMIT: u64 = 100;

/// The `--help` text.
pub(crate) const USAGE: &str = "\
usage: http_service [--addr HOST:PORT] [--rate-limit N]

  --addr HOST:PORT   address to listen on (default 127.0.0.1:8080; port 0 picks a free one)
  --rate-limit N     requests allowed per client per 60 s window on GET / (default 100, N >= 1)
  -h, --help         print this help
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cli {
    /// Print [`USAGE`] and exit successfully.
    Help,
    /// Serve on `addr` with `rate_limit` requests per client per window.
    Run { addr: SocketAddr, rate_limit: u64 },
}

/// Parses the arguments after the program name. `Err` holds a one-line reason.
pub(crate) fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Cli, String> {
    let mut addr = None;
    let mut rate_limit = DEFAULT_RATE_LIMIT;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "--addr" => addr = Some(parse_addr(&value("--addr")?)?),
            "--rate-limit" => {
                let v = value("--rate-limit")?;
                rate_limit = match v.parse::<u64>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(format!("--rate-limit wants an integer >= 1, got {v:?}")),
                };
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let addr = match addr {
        Some(a) => a,
        None => parse_addr(DEFAULT_ADDR)?,
    };
    Ok(Cli::Run { addr, rate_limit })
}

/// `HOST:PORT` with an IP literal, or a host name resolved now (first address wins).
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    s.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("--addr wants HOST:PORT, got {s:?}"))
}

/// What every handler shares: the one store (a cheap `Arc` handle) and the configuration.
#[derive(Debug, Clone)]
struct AppState {
    store: Store,
    limit: u64,
}

/// The client a request is attributed to, worked out once by [`log_requests`].
#[derive(Debug, Clone)]
struct Client(Arc<str>);

/// The service's routes over `store`, with `limit` requests per client per [`WINDOW`] on `GET /`.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`] does) so
/// a request without `X-Forwarded-For` is attributed to its peer address.
pub(crate) fn app(store: Store, limit: u64) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/cached/{name}", get(cached))
        .route("/stats", get(stats))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(middleware::from_fn(log_requests))
        .with_state(AppState { store, limit })
}

/// Serves [`app`] on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish (idle keep-alive connections are closed) for at most [`GRACE`].
pub(crate) async fn serve(
    listener: TcpListener,
    store: Store,
    limit: u64,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    let service = app(store, limit).into_make_service_with_connect_info::<SocketAddr>();
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

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed by this call, before it returns
/// (so a signal that arrives right after the service printed its address is not lost); call it
/// inside the runtime. If a signal cannot be watched, that one never fires (rather than shutting
/// the service down at once).
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (mut terminate, mut interrupt) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(terminate.take()) => {}
                () = wait(interrupt.take()) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        log_line(format_args!(
            "shutdown signal received, finishing requests in flight\n"
        ));
    }
}

fn main() -> ExitCode {
    let (addr, limit) = match parse_args(std::env::args().skip(1)) {
        Ok(Cli::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Cli::Run { addr, rate_limit }) => (addr, rate_limit),
        Err(reason) => {
            eprint!("http_service: {reason}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http_service: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = TcpListener::bind(addr).await?;
        let shutdown = shutdown_signal();
        // Printed after the bind, with the real port, so `--addr 127.0.0.1:0` is usable.
        println!("listening on http://{}", listener.local_addr()?);
        serve(listener, Store::new(), limit, shutdown).await
    });
    match result {
        Ok(()) => {
            eprintln!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("http_service: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Middleware: client attribution and the request log.

/// Works out the client, hands it to the handlers, and logs one line per request:
/// `METHOD PATH STATUS ELAPSEDµs CLIENT`.
async fn log_requests(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let client = client_of(req.headers(), peer);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(client.clone());
    let response = next.run(req).await;
    log_line(format_args!(
        "{method} {path} {} {}us {}\n",
        response.status().as_u16(),
        start.elapsed().as_micros(),
        client.0
    ));
    response
}

/// The first address in `X-Forwarded-For` (trimmed) if there is a usable one, else the peer's IP.
fn client_of(headers: &HeaderMap, peer: Option<SocketAddr>) -> Client {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        // Printable ASCII only, and bounded: it becomes part of a key and of the log line.
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_graphic()));
    let client = match (forwarded, peer) {
        (Some(c), _) => c.to_owned(),
        (None, Some(addr)) => addr.ip().to_string(),
        (None, None) => "unknown".to_owned(),
    };
    Client(client.into())
}

/// Formats the line first so it reaches stderr (unbuffered) in one write: lines from concurrent
/// requests never interleave.
fn log_line(args: std::fmt::Arguments<'_>) {
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
        .insert(WWW_AUTHENTICATE, "Bearer".parse().expect("static header"));
    response
}

// ---------------------------------------------------------------------------------------------
// GET /: the fixed-window rate limiter.

/// Counts one request in the client's window at `key` and returns the count so far.
///
/// The window opens with the request whose `incr` creates the key (count 1): that request, and
/// only in the normal case that request, sets the TTL, with `expire`, which keeps the value, so
/// increments that land between its `incr` and its `expire` are kept (the `set(key, 1, ttl)`
/// recipe of the original library would reset them). Later requests never touch the TTL, so the
/// window is fixed, not sliding.
///
/// Repair: a counter past 1 with no TTL must not stay that way, or its client is locked out for
/// good once it passes the limit (an `expire` lost to a crash, a key written by hand). Such a
/// counter gets a fresh window. The same state is also seen, for a moment, by a request that
/// lands between the opening request's `incr` and its `expire`; then both set a full window
/// from about now, and the window ends a few microseconds later than it would have: harmless.
pub(crate) fn count_request(store: &Store, key: &str, window: Duration) -> i64 {
    match store.incr(key, 1) {
        Ok(1) => {
            store.expire(key, window);
            1
        }
        Ok(count) => {
            if store.ttl(key) == Ttl::Persistent {
                store.expire(key, window);
            }
            count
        }
        // Not an integer (or at i64::MAX): nothing this service writes, so start a new window.
        Err(_) => {
            store.set_with_ttl(key, 1, window);
            1
        }
    }
}

/// Seconds until the window at `key` ends, for `Retry-After`: at least 1.
fn retry_after_secs(store: &Store, key: &str) -> u64 {
    let ttl = store.ttl(key);
    let secs = match ttl {
        Ttl::Expires(_) => ttl.as_secs(),
        // The window ended between the count and now: retrying in a second is right.
        Ttl::Missing => 1,
        // Cannot stay so: `count_request` repairs it on the next request.
        Ttl::Persistent => WINDOW.as_secs() as i64,
    };
    u64::try_from(secs).unwrap_or(1).max(1)
}

async fn index(
    State(app): State<AppState>,
    Extension(Client(client)): Extension<Client>,
) -> Response {
    let key = format!("rate:{client}");
    let count = count_request(&app.store, &key, WINDOW);
    if u64::try_from(count).unwrap_or(0) > app.limit {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        let retry = retry_after_secs(&app.store, &key);
        response
            .headers_mut()
            .insert(RETRY_AFTER, retry.to_string().parse().expect("digits"));
        return response;
    }
    let limit = app.limit;
    format!("hello, you are request {count} of {limit} in this window\n").into_response()
}

// ---------------------------------------------------------------------------------------------
// Sessions.

/// A fresh session token: [`TOKEN_BYTES`] bytes from the OS random source, lowercase hex.
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

/// `POST /login`. Taking the extractor's `Result` lets every rejection (bad JSON, wrong or
/// missing content type, body too large) answer in this service's JSON shape, with `400`.
async fn login(
    State(app): State<AppState>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    let user = match body.get("user") {
        Some(serde_json::Value::String(user)) if !user.trim().is_empty() => user,
        Some(serde_json::Value::String(_)) => {
            return error(StatusCode::BAD_REQUEST, "user must not be empty")
        }
        Some(_) => return error(StatusCode::BAD_REQUEST, "user must be a string"),
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "expected a JSON object with a \"user\" field",
            )
        }
    };
    let Ok(token) = new_token() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness available");
    };
    let session = BTreeMap::from([
        ("user".to_owned(), Value::from(user.as_str())),
        ("created_at".to_owned(), Value::Int(unix_secs())),
    ]);
    app.store
        .set_with_ttl(&session_key(&token), session, SESSION_TTL);
    Json(json!({ "token": token })).into_response()
}

/// `GET /me`.
async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer_token(&headers) else {
        return unauthorized("expected Authorization: Bearer TOKEN");
    };
    // Zero-copy read: only the user name is cloned out of the session.
    let user = app
        .store
        .get_with(&session_key(token), |session| {
            session
                .as_dict()
                .and_then(|d| d.get("user"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .flatten();
    match user {
        Some(user) => Json(json!({ "user": user })).into_response(),
        None => unauthorized("invalid or expired session"),
    }
}

/// `POST /logout`.
async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer_token(&headers) else {
        return unauthorized("expected Authorization: Bearer TOKEN");
    };
    if app.store.delete(&session_key(token)) {
        Json(json!({ "ok": true })).into_response()
    } else {
        unauthorized("invalid or expired session")
    }
}

// ---------------------------------------------------------------------------------------------
// GET /cached/{name}: a read-through cache.

/// Stands in for an upstream call.
async fn compute(name: &str) -> Value {
    tokio::time::sleep(UPSTREAM_DELAY).await;
    Value::from(BTreeMap::from([
        ("name".to_owned(), Value::from(name)),
        (
            "value".to_owned(),
            Value::from(format!("expensive result for {name}")),
        ),
        ("computed_at".to_owned(), Value::Int(unix_secs())),
    ]))
}

/// Serves `cache:{name}` from the store, or computes and caches it for [`CACHE_TTL`].
///
/// Concurrent misses on one name each compute and each store the value (the last write wins);
/// acceptable for a cache of an idempotent call. Coalescing them would take a per-key lock or an
/// in-flight table, which the store does not provide.
async fn cached(State(app): State<AppState>, Path(name): Path<String>) -> Response {
    let key = format!("cache:{name}");
    if let Some(value) = app.store.get(&key) {
        return ([("x-cache", "HIT")], Json(value)).into_response();
    }
    let value = compute(&name).await;
    app.store.set_with_ttl(&key, value.clone(), CACHE_TTL);
    ([("x-cache", "MISS")], Json(value)).into_response()
}

// ---------------------------------------------------------------------------------------------
// GET /stats.

/// Live keys, in total and per prefix. `keys` lists (and sorts) the matches, so this costs
/// O(keys stored): an operator's endpoint, not one to poll hard. `Store::len` is not used: it may
/// count expired entries that the cleaner has not removed yet.
async fn stats(State(app): State<AppState>) -> Response {
    let count = |pattern: &str| app.store.keys(pattern).map_or(0, |keys| keys.len());
    Json(json!({
        "keys": count("*"),
        "rate": count("rate:*"),
        "session": count("session:*"),
        "cache": count("cache:*"),
    }))
    .into_response()
}
