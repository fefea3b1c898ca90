//! An HTTP service whose handlers share one store: a per-client rate limiter, login sessions, a
//! response cache and a job lock, the jobs the crate is built for. The handlers are written once,
//! against [`AsyncKv`], and run on the in-process [`Store`] by default or on Redis
//! (`--redis URL`, `--redis-cluster URL,URL,...`) when several replicas must share their state.
//!
//! ```text
//! cargo run --release --example http_service -- [--addr HOST:PORT] [--rate-limit N]
//!     [--create-limit N] [--max-keys N] [--trusted-proxy ADDR]... [--ipv6-prefix BITS]
//!     [--data-dir DIR] [--redis URL | --redis-cluster URL,URL,...]
//! ```
//!
//! | route | what it does | keys |
//! |---|---|---|
//! | every route | counted in the client's window before its handler runs (below) | `rate:{client}`, 60 s |
//! | routes that create a key | also counted in the client's create window (below) | `new:{client}`, 60 s |
//! | `GET /` | says how much of the client's budget this request used | |
//! | `POST /login` `{"user": "NAME"}` | new session, returns `{"token": "…"}` | `session:{token}`, 24 h |
//! | `GET /me` (`Authorization: Bearer TOKEN`) | the session's user | |
//! | `POST /logout` (same header) | ends the session | |
//! | `GET /cached/{name}` | slow computation cached for 300 s; concurrent misses run it once (`X-Cache: HIT`, `MISS` or `COALESCED`) | `cache:{name}` |
//! | `POST /jobs/{id}` | starts job `id` unless it is running (`set_if_absent` lock; released with `compare_and_delete`) | `job:{id}`, `job-done:{id}` |
//! | `GET /jobs/{id}` | the job's status | |
//! | `GET /stats` | the store's counters; the key count in process only (see below) | |
//!
//! # The budget: every request is metered, before its handler runs
//!
//! Every request, on every route (unknown routes and wrong methods included), is counted in
//! its client's fixed window (`--rate-limit N` requests per [`WINDOW`], key `rate:{client}`, one
//! `incr_with_ttl`) by the front middleware, before any handler runs. A request over the limit
//! is answered `429` with `Retry-After` there: its handler never runs, so a client over its
//! limit reads nothing and creates nothing. `GET /` only reports the count.
//!
//! Routes that create keys (`POST /login`, a `GET /cached/{name}` that misses, a
//! `POST /jobs/{id}` that starts a job) are also counted in a stricter window of their own,
//! `--create-limit N` per [`WINDOW`] (default 10, key `new:{client}`), checked before the key is
//! created. So one client creates at most `2 + 2 × create-limit` keys per window (its two
//! counters, and two keys per job), whatever it sends: with `--max-keys` well above that, its
//! own flood of logins cannot fill the store and evict its own window (which would hand it a
//! fresh budget), and a client at its limit cannot evict other clients' sessions at all. What is
//! left is a flood from many clients: the store stays bounded (`--max-keys`), the keys that end
//! soonest (the 60 s windows and counters) go first, so sessions made before the flood outlive
//! it; a flood large enough to push out every window also resets those windows (a store
//! holding fewer keys than the clients of one window cannot remember them all).
//!
//! # Who the client is
//!
//! The client is the peer address, unless the peer is listed with `--trusted-proxy`: then
//! `X-Forwarded-For` is walked from the right (every proxy appends the address it got the
//! request from), skipping the trusted proxies; the first entry that is not one is the client.
//! An entry may be `ip`, `ip:port` (IPv4) or `[v6]` / `[v6]:port`; an entry that does not parse
//! (`unknown`, a host name, garbage) ends the walk and the request is charged to the hop that
//! appended it (the last trusted proxy walked), never to an entry further left, which the
//! client wrote itself. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack
//! listener on `[::]` reports for an IPv4 peer) are read as the IPv4 address, in the peer, the
//! `--trusted-proxy` list and the header alike. An IPv6 client's budget is its prefix
//! (`--ipv6-prefix`, /64 by default: one end site gets a /64 and can use any of its 2⁶⁴
//! addresses), so `rate:2001:db8:1:2::/64`; the log shows the full address.
//!
//! # Limits on input
//!
//! A request body is at most [`MAX_BODY`] bytes (`413` with a JSON error), a user name at most
//! [`MAX_USER`] characters, and a cache or job name at most [`MAX_NAME`] characters of a small
//! alphabet (`400`).
//!
//! # `/stats` is constant-cost
//!
//! In process it reads the store's counters and `len()`, which walk nothing. On Redis it reports
//! `"keys": null`: counting the namespace's keys is a `SCAN` of the whole database (every other
//! application's keys too), so the service does not count them at all rather than let any client
//! start a walk; `redis-cli --scan --pattern 'http_service:*'` does it by hand.
//!
//! # Outages
//!
//! A store that cannot answer (Redis down) gives `503` with `Retry-After` ([`RETRY_UNAVAILABLE`])
//! and the body `{"error":"service unavailable"}`; the cause goes to the log only. At start, a
//! backend that cannot be reached ends the process with status 1 and a line saying what failed
//! (`cannot connect to redis://127.0.0.1:1: connection refused`; a password in the URL is not
//! printed).
//!
//! With `--data-dir DIR`, the in-process store persists to `DIR/kv.snap`: loaded at start, saved
//! every [`SAVE_INTERVAL`] when something changed, and saved at shutdown, so sessions and
//! rate-limit windows survive a restart.
//!
//! One line per request goes to stderr; Ctrl-C or SIGTERM stops accepting connections, lets the
//! requests in flight finish (for at most [`GRACE`]), then saves (with `--data-dir`) and exits.
//!
//! `tests/http_service.rs` includes this file as a module and drives [`serve`] in-process, which
//! is why everything except `main` is a function taking its inputs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::{Future, IntoFuture};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use scriptling_kv::{AsyncKv, Error, Eviction, SharedKv, Source, Store, Ttl, Value};
use scriptling_kv_redis::RedisStore;
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
/// How long a job runs.
pub(crate) const JOB_DURATION: Duration = Duration::from_millis(500);
/// How long a job's lock lasts if its runner dies without releasing it.
pub(crate) const JOB_LEASE: Duration = Duration::from_secs(60);
/// How long a finished job's result is kept.
pub(crate) const JOB_RESULT_TTL: Duration = Duration::from_secs(3600);
/// After a shutdown signal, how long requests in flight may take before the process stops anyway.
pub(crate) const GRACE: Duration = Duration::from_secs(10);
/// Random bytes in a session token (128 bits), hex-encoded to twice as many characters.
pub(crate) const TOKEN_BYTES: usize = 16;
/// How often the store is saved to `--data-dir` when something changed.
pub(crate) const SAVE_INTERVAL: Duration = Duration::from_secs(30);
/// The longest name of a cached value or a job.
pub(crate) const MAX_NAME: usize = 64;
/// The longest user name, in characters.
pub(crate) const MAX_USER: usize = 64;
/// The largest request body, in bytes (a login is a few dozen).
pub(crate) const MAX_BODY: usize = 1024;
/// `Retry-After` of a `503` (the store could not answer), in seconds.
pub(crate) const RETRY_UNAVAILABLE: u64 = 5;

const DEFAULT_ADDR: &str = "127.0.0.1:8080";
const DEFAULT_RATE_LIMIT: u64 = 100;
const DEFAULT_CREATE_LIMIT: u64 = 10;
const DEFAULT_IPV6_PREFIX: u8 = 64;
const DEFAULT_MAX_KEYS: usize = 100_000;

/// The `--help` text.
pub(crate) const USAGE: &str = "\
usage: http_service [--addr HOST:PORT] [--rate-limit N] [--create-limit N] [--max-keys N]
                    [--max-bytes N] [--eviction lru|volatile-ttl] [--trusted-proxy ADDR]...
                    [--ipv6-prefix BITS] [--data-dir DIR]
                    [--redis URL | --redis-cluster URL,URL,...]

  --addr HOST:PORT           address to listen on (default 127.0.0.1:8080; port 0 picks a free one)
  --rate-limit N             requests allowed per client per 60 s window, every route counted
                             (default 100, N >= 1)
  --create-limit N           of those, requests that create a key (a login, a cache miss, a job
                             start) per client per 60 s window (default 10, N >= 1)
  --max-keys N               keys the in-process store holds at most; beyond, the windows and
                             sessions that end soonest are evicted (default 100000, N >= 1)
  --max-bytes N              bytes the in-process store accounts at most (keys, values and a
                             fixed overhead per key); beyond, keys are evicted (default: no cap)
  --eviction POLICY          which keys go first when a cap is reached: volatile-ttl (the
                             soonest deadline; the default) or lru (the least recently used)
  --trusted-proxy ADDR       believe X-Forwarded-For from this peer IP address (repeatable;
                             default: none, the peer address is the client)
  --ipv6-prefix BITS         IPv6 clients share a budget per prefix of this length (default 64,
                             1 <= BITS <= 128)
  --data-dir DIR             keep the in-process store in DIR/kv.snap across restarts (loaded
                             at start, saved every 30 s when changed and at shutdown)
  --redis URL                keep the state on Redis (redis:// or rediss://) instead of in process
  --redis-cluster URL,...    keep the state on a Redis cluster (its nodes' URLs)
  -h, --help                 print this help
";

/// Where the service keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Backing {
    /// An in-process `Store` holding at most `max_keys` keys (and `max_bytes` bytes, if set),
    /// evicting by `eviction`, persisted in `data_dir` if set.
    Memory {
        max_keys: usize,
        max_bytes: Option<usize>,
        eviction: Eviction,
        data_dir: Option<std::path::PathBuf>,
    },
    /// Redis at this URL.
    Redis(String),
    /// A Redis cluster with these nodes.
    Cluster(Vec<String>),
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cli {
    /// Print [`USAGE`] and exit successfully.
    Help,
    /// Serve on `addr`.
    Run {
        addr: SocketAddr,
        config: Config,
        backing: Backing,
    },
}

/// The service's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// Requests per client per [`WINDOW`], every route counted.
    pub(crate) rate_limit: u64,
    /// Requests that create a key, per client per [`WINDOW`].
    pub(crate) create_limit: u64,
    /// Peers whose `X-Forwarded-For` is believed (IPv4-mapped addresses as IPv4).
    pub(crate) trusted_proxies: Vec<IpAddr>,
    /// IPv6 clients share one budget per prefix of this many bits (1 to 128).
    pub(crate) ipv6_prefix: u8,
}

impl Config {
    /// A rate limit, the default create limit and IPv6 prefix, and no trusted proxy.
    pub(crate) fn limit(rate_limit: u64) -> Config {
        Config {
            rate_limit,
            create_limit: DEFAULT_CREATE_LIMIT,
            trusted_proxies: Vec::new(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

/// Parses the arguments after the program name. `Err` holds a one-line reason.
pub(crate) fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Cli, String> {
    let mut addr = None;
    let mut config = Config::limit(DEFAULT_RATE_LIMIT);
    let mut max_keys = DEFAULT_MAX_KEYS;
    let mut max_bytes = None;
    let mut eviction = Eviction::VolatileTtl;
    let mut data_dir = None;
    // The flags that configure the in-process store, as given (refused with --redis).
    let mut memory_only: Vec<&'static str> = Vec::new();
    let mut backing = None;
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
        let positive = |name: &str, v: String| match v.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("{name} wants an integer >= 1, got {v:?}")),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "--addr" => addr = Some(parse_addr(&value("--addr")?)?),
            "--rate-limit" => config.rate_limit = positive("--rate-limit", value("--rate-limit")?)?,
            "--create-limit" => {
                config.create_limit = positive("--create-limit", value("--create-limit")?)?;
            }
            "--ipv6-prefix" => {
                let v = value("--ipv6-prefix")?;
                config.ipv6_prefix = match v.parse::<u8>() {
                    Ok(n @ 1..=128) => n,
                    _ => return Err(format!("--ipv6-prefix wants 1 to 128, got {v:?}")),
                };
            }
            "--max-keys" => {
                let n = positive("--max-keys", value("--max-keys")?)?;
                max_keys = usize::try_from(n).map_err(|_| "--max-keys is too large".to_owned())?;
                memory_only.push("--max-keys");
            }
            "--max-bytes" => {
                let n = positive("--max-bytes", value("--max-bytes")?)?;
                max_bytes =
                    Some(usize::try_from(n).map_err(|_| "--max-bytes is too large".to_owned())?);
                memory_only.push("--max-bytes");
            }
            "--eviction" => {
                let v = value("--eviction")?;
                eviction = match v.as_str() {
                    "lru" => Eviction::Lru,
                    "volatile-ttl" => Eviction::VolatileTtl,
                    _ => return Err(format!("--eviction wants lru or volatile-ttl, got {v:?}")),
                };
                memory_only.push("--eviction");
            }
            "--trusted-proxy" => {
                let v = value("--trusted-proxy")?;
                let ip = v
                    .parse::<IpAddr>()
                    .map_err(|_| format!("--trusted-proxy wants an IP address, got {v:?}"))?;
                config.trusted_proxies.push(ip.to_canonical());
            }
            "--data-dir" => {
                data_dir = Some(std::path::PathBuf::from(value("--data-dir")?));
                memory_only.push("--data-dir");
            }
            "--redis" | "--redis-cluster" if backing.is_some() => {
                return Err("give one of --redis and --redis-cluster, once".to_owned())
            }
            "--redis" => backing = Some(Backing::Redis(value("--redis")?)),
            "--redis-cluster" => {
                let nodes: Vec<String> = value("--redis-cluster")?
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect();
                if nodes.is_empty() {
                    return Err("--redis-cluster wants URL,URL,...".to_owned());
                }
                backing = Some(Backing::Cluster(nodes));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let addr = match addr {
        Some(a) => a,
        None => parse_addr(DEFAULT_ADDR)?,
    };
    let backing = match backing {
        None => Backing::Memory {
            max_keys,
            max_bytes,
            eviction,
            data_dir,
        },
        Some(_) if !memory_only.is_empty() => {
            memory_only.dedup();
            return Err(format!(
                "{} configure the in-process store: they do nothing with --redis or \
                 --redis-cluster (bound the Redis server itself, with its maxmemory and \
                 maxmemory-policy)",
                memory_only.join(", ")
            ));
        }
        Some(redis) => redis,
    };
    Ok(Cli::Run {
        addr,
        config,
        backing,
    })
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

/// The `X-Cache` header for a load's [`Source`].
fn x_cache(source: Source) -> &'static str {
    match source {
        Source::Hit => "HIT",
        Source::Loaded => "MISS",
        _ => "COALESCED",
    }
}

// ---------------------------------------------------------------------------------------------
// The service.

/// What every handler shares: the store (a cheap handle) and the configuration.
#[derive(Debug, Clone)]
struct AppState {
    kv: SharedKv,
    local: Option<Store>,
    backend: &'static str,
    config: Arc<Config>,
}

/// The client a request is attributed to, worked out once by [`front`]: its budget's name
/// (the address, or an IPv6 prefix) and the request's count in the window.
#[derive(Debug, Clone)]
struct Client {
    bucket: Arc<str>,
    count: i64,
}

/// The service's routes over `kv`.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`] does) so a
/// request is attributed to its peer address.
pub(crate) fn app(kv: impl Into<Kv>, config: Config) -> Router {
    let Kv { kv, local, backend } = kv.into();
    let mut config = config;
    for proxy in &mut config.trusted_proxies {
        *proxy = proxy.to_canonical();
    }
    let state = AppState {
        kv,
        local,
        backend,
        config: Arc::new(config),
    };
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/cached/{name}", get(cached))
        .route("/jobs/{id}", post(start_job).get(job_status))
        .route("/stats", get(stats))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
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

/// Runs the service on `listener` until a signal, on the backing the command line chose.
async fn run(listener: TcpListener, config: Config, backing: Backing) -> Result<(), String> {
    let shutdown = shutdown_signal();
    // Printed after the bind, with the real port, so `--addr 127.0.0.1:0` is usable.
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    match backing {
        Backing::Memory {
            max_keys,
            max_bytes,
            eviction,
            data_dir,
        } => {
            let mut builder = Store::builder()
                .name("http_service")
                .max_keys(max_keys)
                .eviction(eviction)
                .record_stats(true);
            if let Some(n) = max_bytes {
                builder = builder.max_bytes(n);
            }
            if let Some(dir) = &data_dir {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                builder = builder
                    .persist(dir.join("kv.snap"), SAVE_INTERVAL)
                    .on_persist_error(|e| log_line(format_args!("persistence: {e}\n")));
            }
            let store = builder.build();
            if let Some(status) = store.persistence_status() {
                let path = status.path.display();
                // A file that could not be loaded was reported through `on_persist_error`.
                match (status.loaded, &status.moved_to) {
                    (Some(n), _) => {
                        log_line(format_args!("loaded {} from {path}\n", count_keys(n)))
                    }
                    (None, Some(to)) => log_line(format_args!(
                        "moved {path} aside to {}, starting empty\n",
                        to.display()
                    )),
                    (None, None) if status.load_error.is_some() => {
                        log_line(format_args!("starting empty\n"))
                    }
                    (None, None) => {
                        log_line(format_args!("no snapshot at {path} yet, starting empty\n"))
                    }
                }
            }
            println!("listening on http://{addr}");
            serve(listener, store.clone(), config, shutdown)
                .await
                .map_err(io)?;
            // The requests in flight are done: save before exiting (the last handle's drop
            // would save too; this one says how it went).
            if let Some(saved) = store.save_now() {
                match saved {
                    Ok(n) => log_line(format_args!("saved {}\n", count_keys(n))),
                    Err(e) => return Err(format!("final save failed: {e}")),
                }
            }
            Ok(())
        }
        Backing::Redis(url) => {
            let kv = RedisStore::connect(&url, "http_service")
                .await
                .map_err(|e| cannot_connect(&url, &e))?;
            println!("listening on http://{addr} (state on Redis)");
            serve(listener, kv, config, shutdown).await.map_err(io)
        }
        Backing::Cluster(nodes) => {
            let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
            let kv = RedisStore::connect_cluster(&nodes, "http_service")
                .await
                .map_err(|e| cannot_connect(&nodes.join(","), &e))?;
            println!("listening on http://{addr} (state on a Redis cluster)");
            serve(listener, kv, config, shutdown).await.map_err(io)
        }
    }
}

/// The start-up error for a backend at `url` that could not be reached: what failed, in a
/// few words (`cannot connect to redis://127.0.0.1:1: connection refused`), with a password in
/// the URL shown as `***`.
pub(crate) fn cannot_connect(url: &str, e: &Error) -> String {
    let reason = match e {
        Error::Backend { reason, .. } => reason.to_ascii_lowercase(),
        other => other.to_string().to_ascii_lowercase(),
    };
    let what = if ["auth", "wrongpass", "password"]
        .iter()
        .any(|w| reason.contains(w))
    {
        "authentication failed".to_owned()
    } else if reason.contains("refused") {
        "connection refused".to_owned()
    } else if reason.contains("timed out") || reason.contains("timeout") {
        "timed out".to_owned()
    } else {
        // The backend's text, without its advice for a running service (what the next
        // command does is of no use to a process that is about to exit).
        reason
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let url = url
        .split(',')
        .map(redact_password)
        .collect::<Vec<_>>()
        .join(",");
    format!("cannot connect to {url}: {what}")
}

/// `redis://user:secret@host` as `redis://user:***@host`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
            if credentials.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => url.to_owned(),
    }
}

fn main() -> ExitCode {
    let (addr, config, backing) = match parse_args(std::env::args().skip(1)) {
        Ok(Cli::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Cli::Run {
            addr,
            config,
            backing,
        }) => (addr, config, backing),
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
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        run(listener, config, backing).await
    });
    match result {
        Ok(()) => {
            eprintln!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("http_service: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Middleware: client attribution, the budget, and the request log.

/// In front of every route: works out the client, counts the request in its window (a request
/// over the limit is answered `429` here, and its handler never runs), hands the client to the
/// handlers, and logs one line per request: `METHOD PATH STATUS ELAPSEDµs CLIENT`.
async fn front(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = client_of(req.headers(), peer, &app.config.trusted_proxies);
    let bucket: Arc<str> = match client {
        Some(ip) => bucket_of(ip, app.config.ipv6_prefix).into(),
        None => "unknown".into(),
    };
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let key = format!("rate:{bucket}");
    let refused = match count_request(&app.kv, &key, WINDOW).await {
        Err(e) => unavailable(&e),
        Ok(count) if over(count, app.config.rate_limit) => rate_limited(&app.kv, &key).await,
        Ok(count) => {
            req.extensions_mut().insert(Client { bucket, count });
            let response = next.run(req).await;
            return logged(&method, &path, client, start, response);
        }
    };
    // Read what is left of a refused request's body (at most `MAX_BODY` bytes; a longer one
    // closes the connection), so a keep-alive connection stays usable for the next request.
    let _ = axum::body::to_bytes(req.into_body(), MAX_BODY).await;
    logged(&method, &path, client, start, refused)
}

/// Logs `response` to a request as one line and returns it.
fn logged(
    method: &axum::http::Method,
    path: &str,
    client: Option<IpAddr>,
    start: Instant,
    response: Response,
) -> Response {
    let shown = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    log_line(format_args!(
        "{method} {path} {} {}us {shown}\n",
        response.status().as_u16(),
        start.elapsed().as_micros(),
    ));
    response
}

/// Whether `count` requests are over `limit`.
fn over(count: i64, limit: u64) -> bool {
    u64::try_from(count).unwrap_or(0) > limit
}

/// Counts a request that is about to create a key in the client's stricter window
/// (`new:{bucket}`, `--create-limit`): `Ok(None)` to go ahead, `Ok(Some(429))` when over.
async fn charge_creation(app: &AppState, client: &Client) -> Result<Option<Response>, Error> {
    let key = format!("new:{}", client.bucket);
    let count = count_request(&app.kv, &key, WINDOW).await?;
    if over(count, app.config.create_limit) {
        return Ok(Some(rate_limited(&app.kv, &key).await));
    }
    Ok(None)
}

/// `429` with `Retry-After`: the seconds left in the window at `key`.
async fn rate_limited(kv: &SharedKv, key: &str) -> Response {
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
    let retry = retry_after_secs(kv, key).await;
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry));
    response
}

/// An address as this service compares it: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is
/// the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// One `X-Forwarded-For` entry: `ip`, `ip:port` (IPv4), `[v6]` or `[v6]:port`, with spaces
/// around it; `None` for anything else (`unknown`, a host name, an obfuscated RFC 7239 name,
/// an empty entry).
pub(crate) fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    let v6 = entry.strip_prefix('[')?.strip_suffix(']')?;
    v6.parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|ip| canonical(IpAddr::V6(ip)))
}

/// The client of a request from `peer` (module docs, "Who the client is"): the peer, unless it
/// is one of the `trusted` proxies (given canonical); then `X-Forwarded-For` walked from the
/// right, skipping trusted proxies, up to the first entry that is not one. An entry that does
/// not parse stops the walk and the request is the hop's that appended it: the last trusted
/// address walked. Several `X-Forwarded-For` fields are one list, in order; a field that is not
/// visible ASCII is an entry that does not parse.
pub(crate) fn client_of(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut entries: Vec<Option<&str>> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        match value.to_str() {
            Ok(v) => entries.extend(v.split(',').map(Some)),
            Err(_) => entries.push(None),
        }
    }
    let mut hop = peer;
    for entry in entries.into_iter().rev() {
        match entry.and_then(parse_hop) {
            Some(ip) if trusted.contains(&ip) => hop = ip,
            Some(ip) => return Some(ip),
            None => return Some(hop),
        }
    }
    Some(hop)
}

/// The name of the budget `ip` counts in: an IPv4 address itself; an IPv6 address's prefix of
/// `prefix` bits, as `2001:db8:1:2::/64`.
pub(crate) fn bucket_of(ip: IpAddr, prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = prefix.clamp(1, 128);
            let mask = u128::MAX << (128 - u32::from(prefix));
            let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
            format!("{net}/{prefix}")
        }
    }
}

/// "1 key", "5 keys".
fn count_keys(n: usize) -> String {
    if n == 1 {
        "1 key".to_string()
    } else {
        format!("{n} keys")
    }
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
// The fixed-window counter, and GET /.

/// Counts one request in the client's window at `key` and returns the count so far: one
/// `incr_with_ttl`, which gives the window its TTL when (and only when) it creates the counter,
/// in the same step, so no counter ever exists without its window. Later requests never touch
/// the TTL, so the window is fixed, not sliding. A counter overwritten with something that is not
/// an integer (by hand) starts a new window instead of failing forever.
pub(crate) async fn count_request(
    kv: &SharedKv,
    key: &str,
    window: Duration,
) -> scriptling_kv::Result<i64> {
    match kv.incr_with_ttl(key, 1, window).await {
        Ok(count) => Ok(count),
        Err(Error::NotAnInteger | Error::Overflow) => {
            kv.set_with_ttl(key, 1, window).await?;
            Ok(1)
        }
        Err(e) => Err(e),
    }
}

/// Seconds until the window at `key` ends, for `Retry-After`: at least 1.
async fn retry_after_secs(kv: &SharedKv, key: &str) -> u64 {
    let secs = match kv.ttl(key).await {
        Ok(ttl @ Ttl::Expires(_)) => ttl.as_secs(),
        // Ended between the count and now, or unknown: retrying in a second is right.
        _ => 1,
    };
    u64::try_from(secs).unwrap_or(1).max(1)
}

/// `GET /`: the request's number in the client's window (counted by [`front`]).
async fn index(State(app): State<AppState>, Extension(client): Extension<Client>) -> Response {
    let (count, limit) = (client.count, app.config.rate_limit);
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
    Extension(client): Extension<Client>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, BODY_TOO_LARGE)
        }
        Err(rejection) => return error(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    let user = match body.get("user") {
        Some(serde_json::Value::String(user)) if user.chars().count() > MAX_USER => {
            return error(StatusCode::BAD_REQUEST, USER_TOO_LONG)
        }
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
// GET /cached/{name}: a read-through cache without a stampede.

/// Stands in for an upstream call.
async fn compute(name: String) -> Value {
    tokio::time::sleep(UPSTREAM_DELAY).await;
    Value::from(BTreeMap::from([
        ("name".to_owned(), Value::from(name.as_str())),
        (
            "value".to_owned(),
            Value::from(format!("expensive result for {name}")),
        ),
        ("computed_at".to_owned(), Value::Int(unix_secs())),
    ]))
}

/// Serves `cache:{name}` from the store, or computes and caches it for [`CACHE_TTL`]; concurrent
/// misses on one name run one computation (a single-flight load), the others wait for it
/// (`X-Cache: COALESCED`). A name not cached yet counts against the client's create limit
/// first (two requests racing on one new name may both be charged: harmless).
async fn cached(
    State(app): State<AppState>,
    Extension(client): Extension<Client>,
    Path(name): Path<String>,
) -> Response {
    if !valid_name(&name) {
        return error(StatusCode::BAD_REQUEST, BAD_NAME);
    }
    let key = format!("cache:{name}");
    if !tryk!(app.kv.exists(&key).await) {
        if let Some(limited) = tryk!(charge_creation(&app, &client).await) {
            return limited;
        }
    }
    // Concurrent misses in this process run `compute` once; on Redis another replica may run
    // its own, and the first value stored wins for all of them.
    let loaded = tryk!(
        app.kv
            .load_with(&key, Some(CACHE_TTL), || compute(name))
            .await
    );
    ([("x-cache", x_cache(loaded.source))], Json(loaded.value)).into_response()
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
    Extension(client): Extension<Client>,
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
