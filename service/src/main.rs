//! The HTTP main job of scriptling-kv: one store shared by a per-client rate limiter, login
//! sessions (bearer tokens and cookies), a response cache and a job lock, the jobs the store is
//! built for. The limiter, the cache and the cookie sessions are the layers of
//! `scriptling-kv-tower`; the handlers are written once, against
//! [`AsyncKv`](scriptling_kv::AsyncKv), and run on the
//! in-process [`Store`] by default or on Redis (`--redis URL`, `--redis-cluster URL,URL,...`)
//! when several replicas must share their state.
//!
//! ```text
//! cargo run --release -p scriptling-kv-service -- [--addr HOST:PORT] [--rate-limit N]
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
//! | `POST /session/login` `{"user": "NAME"}` | new cookie session (`Set-Cookie: sid=…`), returns `{"user": "NAME"}` | `cookie-session:{id}`, 24 h |
//! | `GET /session/me` (the `sid` cookie) | the cookie session's user | |
//! | `POST /session/logout` (the `sid` cookie) | ends the cookie session (and clears the cookie) | |
//! | `GET /cached/{name}` | slow computation cached for 300 s; concurrent misses run it once (`X-Cache: HIT`, `MISS` or `COALESCED`) | `cache:{name}` |
//! | `POST /jobs/{id}` | starts job `id` unless it is running (`set_if_absent` lock; released with `compare_and_delete`) | `job:{id}`, `job-done:{id}` |
//! | `GET /jobs/{id}` | the job's status | |
//! | `GET /stats` | the store's counters; the key count in process only (see below) | |
//!
//! # The budget: every request is metered, before its handler runs
//!
//! Every request, on every route (unknown routes and wrong methods included), is counted in
//! its client's fixed window (`--rate-limit N` requests per [`WINDOW`], key `rate:{client}`, one
//! `incr_with_ttl`) by the rate-limit layer, before any handler runs. A request over the limit
//! is answered `429` with `Retry-After` there: its handler never runs, so a client over its
//! limit reads nothing and creates nothing. `GET /` only reports the count. Every response
//! carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds).
//!
//! Routes that create keys (the two logins, a `GET /cached/{name}` that misses, a
//! `POST /jobs/{id}` that starts a job) are also counted in a stricter window of their own,
//! `--create-limit N` per [`WINDOW`] (default 10, key `new:{client}`), checked before the key is
//! created (a `429` of this window carries its own `RateLimit-*` headers). So one client
//! creates at most `2 + 2 × create-limit` keys per window (its two counters, and two keys per
//! job), whatever it sends: with `--max-keys` well above that, its own flood of logins cannot
//! fill the store and evict its own window (which would hand it a fresh budget), and a client at
//! its limit cannot evict other clients' sessions at all. What is left is a flood from many
//! clients: the store stays bounded (`--max-keys`), the keys that end soonest (the 60 s windows
//! and counters) go first, so sessions made before the flood outlive it; a flood large enough
//! to push out every window also resets those windows (a store holding fewer keys than the
//! clients of one window cannot remember them all).
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
//! # Sessions: bearer tokens and cookies
//!
//! `POST /login` makes a random 128-bit token and stores `session:{token}` (the user and when);
//! the client sends it back as `Authorization: Bearer TOKEN`. `POST /session/login` does the
//! same through tower-sessions (`SessionManagerLayer` over `KvSessionStore`, only on the
//! `/session/` routes): the session id travels in the cookie `sid` (`HttpOnly`,
//! `SameSite=Strict`, `Max-Age` 24 h; not `Secure`, since the service speaks plain HTTP: put it
//! behind a TLS proxy), the record in `cookie-session:{id}`, which expires with the session. A
//! login through a cookie that already names a session gets a new id (no session fixation).
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
//! is why everything except `main` is a function taking its inputs; it also runs the built
//! binary.

mod app;
mod baseline;
mod config;

use std::future::Future;
use std::process::ExitCode;

use scriptling_kv::{Error, Store};
use scriptling_kv_redis::RedisStore;
use tokio::net::TcpListener;

pub(crate) use app::serve;
use app::{count_keys, log_line};
#[allow(unused_imports)]
pub(crate) use config::*;
// What `tests/http_service.rs` names through this module.
#[allow(unused_imports)]
pub(crate) use app::{
    app, bucket_of, client_of, Kv, BAD_NAME, BAD_SESSION, BODY_TOO_LARGE, COOKIE_SESSION_PREFIX,
    NO_BEARER, NO_COOKIE_SESSION, SESSION_COOKIE, USER_TOO_LONG,
};

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
        Backing::Baseline => {
            println!("listening on http://{addr} (state in a RwLock<HashMap>: the baseline)");
            let kv = baseline::BaselineStore::new();
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
