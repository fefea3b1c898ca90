//! End-to-end tests of `examples/http_service.rs`: the service runs in-process on an ephemeral
//! loopback port, over a store on a test clock (so windows and TTLs are advanced by hand, never
//! slept on), and is driven by a real HTTP client (ureq).
//!
//! The example is included as a module so the test and the binary serve the same code.

#[allow(dead_code)] // `main` and the signal handling are the binary's, not used here.
#[path = "../examples/http_service.rs"]
mod service;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use scriptling_kv::{Store, TestClock, Ttl, Value};
use serde_json::{json, Value as Json};
use ureq::http::HeaderMap;

/// The service on its own runtime thread, over its own store.
struct Server {
    base: String,
    store: Store,
    clock: TestClock,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start(limit: u64) -> Server {
        let clock = TestClock::new();
        let store = Store::builder()
            .test_clock(clock.clone())
            .background_cleanup(false)
            .build();
        let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = store.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx
                    .send(listener.local_addr()?)
                    .expect("test is waiting");
                // Dropping the sender stops the server too.
                service::serve(listener, served, limit, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().expect("the server thread failed to bind");
        Server {
            base: format!("http://{addr}"),
            store,
            clock,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signals shutdown and returns what `serve` returned, failing if it has not returned within
    /// `limit` (a hang guard, not a timing assertion).
    fn shutdown(mut self, limit: Duration) -> std::io::Result<()> {
        drop(self.stop.take());
        let thread = self.thread.take().expect("not shut down yet");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(thread.join()));
        rx.recv_timeout(limit)
            .expect("serve() did not return after the shutdown signal")
            .expect("server thread panicked")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One reply, read whole.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Json {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    /// Asserts the reply is `status` with a JSON body `{"error": "<non-empty>"}`.
    fn assert_json_error(&self, status: u16) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "{self:?}"
        );
        let body = self.json();
        let message = body["error"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{self:?}");
        assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{self:?}");
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn read(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = result.expect("transport error");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.body_mut().read_to_string().expect("readable body"),
    }
}

/// `GET path`, with the given headers.
fn get(agent: &ureq::Agent, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = agent.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    read(request.call())
}

/// `POST path` with a body (and a content type, if given) and the given headers.
fn post(
    agent: &ureq::Agent,
    url: &str,
    content_type: Option<&str>,
    body: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = agent.post(url);
    if let Some(ct) = content_type {
        request = request.content_type(ct);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    read(request.send(body))
}

fn from(client: &str) -> [(&'static str, &str); 1] {
    [("X-Forwarded-For", client)]
}

fn login(agent: &ureq::Agent, server: &Server, user: &str) -> String {
    let body = json!({ "user": user }).to_string();
    let reply = post(
        agent,
        &server.url("/login"),
        Some("application/json"),
        &body,
        &[],
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["token"]
        .as_str()
        .expect("token is a string")
        .to_owned()
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .expect("Retry-After on a 429")
        .parse()
        .expect("Retry-After is whole seconds")
}

#[test]
fn limit_triggers_at_n_plus_one_per_client_and_resets_with_the_window() {
    let server = Server::start(5);
    let agent = agent();
    let root = server.url("/");
    for i in 1..=5 {
        let reply = get(&agent, &root, &from("10.0.0.1"));
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            reply.body,
            format!("hello, you are request {i} of 5 in this window\n")
        );
    }
    let limited = get(&agent, &root, &from("10.0.0.1"));
    limited.assert_json_error(429);
    assert_eq!(limited.json(), json!({ "error": "rate limit exceeded" }));
    // The clock has not moved since the window opened: the whole window remains.
    assert_eq!(retry_after(&limited), 60);

    // Another client has its own window.
    let other = get(&agent, &root, &from("10.0.0.2"));
    assert_eq!(other.status, 200, "{other:?}");
    assert_eq!(other.body, "hello, you are request 1 of 5 in this window\n");
    assert_eq!(get(&agent, &root, &from("10.0.0.1")).status, 429);

    // The window is fixed: 45 s in, 15 s remain, and refused requests do not extend it.
    server.clock.advance(Duration::from_secs(45));
    let limited = get(&agent, &root, &from("10.0.0.1"));
    limited.assert_json_error(429);
    assert_eq!(retry_after(&limited), 15);
    server.clock.advance(Duration::from_secs(14));
    let limited = get(&agent, &root, &from("10.0.0.1"));
    assert_eq!(retry_after(&limited), 1);
    assert!((1..=60).contains(&retry_after(&limited)));

    // A new window opens once the old one is over.
    server.clock.advance(Duration::from_secs(1));
    let reply = get(&agent, &root, &from("10.0.0.1"));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "hello, you are request 1 of 5 in this window\n");
    assert_eq!(
        server.store.ttl("rate:10.0.0.1"),
        Ttl::Expires(Duration::from_secs(60))
    );
}

#[test]
fn concurrent_requests_from_one_client_get_exactly_n_successes() {
    const N: usize = 25;
    const THREADS: usize = 8;
    let server = Arc::new(Server::start(N as u64));
    let remaining = Arc::new(AtomicUsize::new(4 * N));
    let seen = Arc::new(Mutex::new((Vec::new(), 0usize, Vec::new())));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (server, remaining, seen) = (server.clone(), remaining.clone(), seen.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let root = server.url("/");
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let reply = get(&agent, &root, &from("192.0.2.7"));
                    let mut seen = seen.lock().unwrap();
                    match reply.status {
                        200 => seen.0.push(reply.body),
                        429 => seen.1 += 1,
                        _ => seen.2.push(reply),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread panicked");
    }
    let (successes, limited, others) = &mut *seen.lock().unwrap();
    assert!(others.is_empty(), "unexpected replies: {others:?}");
    assert_eq!(successes.len(), N);
    assert_eq!(*limited, 3 * N);
    // Each success was told a different position in the window: 1..=N, no repeats.
    successes.sort_by_key(|body| {
        body.split_whitespace()
            .nth(4)
            .and_then(|n| n.parse::<usize>().ok())
            .expect("a count in the body")
    });
    let expected: Vec<String> = (1..=N)
        .map(|i| format!("hello, you are request {i} of {N} in this window\n"))
        .collect();
    assert_eq!(*successes, expected);
    // Every request was counted, and the window has exactly one TTL, the full window.
    assert_eq!(
        server.store.get("rate:192.0.2.7"),
        Some(Value::Int(4 * N as i64))
    );
    assert_eq!(
        server.store.ttl("rate:192.0.2.7"),
        Ttl::Expires(Duration::from_secs(60))
    );
}

#[test]
fn client_is_first_forwarded_address_else_the_peer() {
    let server = Server::start(100);
    let agent = agent();
    let root = server.url("/");
    assert_eq!(
        get(&agent, &root, &from(" 203.0.113.9 , 10.0.0.1")).status,
        200
    );
    assert_eq!(get(&agent, &root, &[]).status, 200);
    // An unusable first entry falls back to the peer address.
    assert_eq!(get(&agent, &root, &from(" , 10.0.0.1")).status, 200);
    assert_eq!(
        server.store.keys("rate:*").unwrap(),
        ["rate:127.0.0.1", "rate:203.0.113.9"]
    );
    assert_eq!(server.store.get("rate:127.0.0.1"), Some(Value::Int(2)));
}

#[test]
fn counter_without_ttl_is_repaired_so_no_client_is_locked_out_forever() {
    let server = Server::start(3);
    let agent = agent();
    let root = server.url("/");
    // A counter past the limit whose `expire` was lost.
    server.store.set("rate:198.51.100.1", 1000);
    let limited = get(&agent, &root, &from("198.51.100.1"));
    limited.assert_json_error(429);
    assert_eq!(retry_after(&limited), 60);
    assert_eq!(
        server.store.ttl("rate:198.51.100.1"),
        Ttl::Expires(Duration::from_secs(60))
    );
    server.clock.advance(Duration::from_secs(60));
    assert_eq!(get(&agent, &root, &from("198.51.100.1")).status, 200);

    // One under the limit: served, and given a window too.
    server.store.set("rate:198.51.100.2", 1);
    let reply = get(&agent, &root, &from("198.51.100.2"));
    assert_eq!(reply.body, "hello, you are request 2 of 3 in this window\n");
    assert_eq!(
        server.store.ttl("rate:198.51.100.2"),
        Ttl::Expires(Duration::from_secs(60))
    );

    // A counter clobbered with a non-integer starts a new window instead of failing forever.
    server.store.set("rate:198.51.100.3", "garbage");
    let reply = get(&agent, &root, &from("198.51.100.3"));
    assert_eq!(reply.body, "hello, you are request 1 of 3 in this window\n");
}

#[test]
fn session_lifecycle() {
    let server = Server::start(100);
    let agent = agent();
    let token = login(&agent, &server, "bob");
    assert_eq!(token.len(), 2 * service::TOKEN_BYTES);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_ne!(login(&agent, &server, "bob"), token, "tokens are random");

    let key = format!("session:{token}");
    assert_eq!(
        server.store.ttl(&key),
        Ttl::Expires(Duration::from_secs(86_400))
    );
    let session = server.store.get(&key).expect("session stored");
    let session = session.as_dict().expect("session is a dict");
    assert_eq!(session["user"], Value::from("bob"));
    assert!(session["created_at"].as_int().is_some_and(|t| t > 0));

    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let me = get(&agent, &server.url("/me"), &auth);
    assert_eq!((me.status, me.json()), (200, json!({ "user": "bob" })));
    let out = post(&agent, &server.url("/logout"), None, "", &auth);
    assert_eq!((out.status, out.json()), (200, json!({ "ok": true })));
    assert!(!server.store.exists(&key));
    let me = get(&agent, &server.url("/me"), &auth);
    me.assert_json_error(401);
    assert_eq!(me.header("www-authenticate"), Some("Bearer"));
    post(&agent, &server.url("/logout"), None, "", &auth).assert_json_error(401);

    // Sessions end with their TTL.
    let token = login(&agent, &server, "alice");
    let bearer = format!("bearer {token}"); // the scheme is case-insensitive
    let auth = [("Authorization", bearer.as_str())];
    assert_eq!(get(&agent, &server.url("/me"), &auth).status, 200);
    server.clock.advance(Duration::from_secs(86_400));
    get(&agent, &server.url("/me"), &auth).assert_json_error(401);
}

#[test]
fn login_rejects_bad_input_with_a_json_400() {
    let server = Server::start(100);
    let agent = agent();
    let url = server.url("/login");
    let json_ct = Some("application/json");
    let cases: [(Option<&str>, &str); 9] = [
        (json_ct, "{not json"),
        (json_ct, ""),
        (json_ct, "{}"),
        (json_ct, r#"{"name": "bob"}"#),
        (json_ct, r#"{"user": 5}"#),
        (json_ct, r#"{"user": null}"#),
        (json_ct, r#"{"user": ""}"#),
        (json_ct, r#"["bob"]"#),
        (Some("text/plain"), r#"{"user": "bob"}"#),
    ];
    for (content_type, body) in cases {
        let reply = post(&agent, &url, content_type, body, &[]);
        assert_eq!(reply.status, 400, "{content_type:?} {body:?}: {reply:?}");
        reply.assert_json_error(400);
    }
    // No content type at all.
    post(&agent, &url, None, r#"{"user": "bob"}"#, &[]).assert_json_error(400);
    assert_eq!(
        server.store.keys("session:*").unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn me_and_logout_reject_missing_malformed_and_unknown_tokens_with_a_json_401() {
    let server = Server::start(100);
    let agent = agent();
    let token = login(&agent, &server, "carol");
    let unknown = format!("Bearer {}", "0".repeat(2 * service::TOKEN_BYTES));
    let upper = format!("Bearer {}", token.to_uppercase());
    let basic = format!("Basic {token}");
    let glued = format!("Bearer{token}");
    let headers: [&[(&str, &str)]; 7] = [
        &[],
        &[("Authorization", "Bearer")],
        &[("Authorization", "Bearer not-a-token")],
        &[("Authorization", &basic)],
        &[("Authorization", &glued)],
        &[("Authorization", &upper)],
        &[("Authorization", &unknown)],
    ];
    for h in headers {
        let me = get(&agent, &server.url("/me"), h);
        me.assert_json_error(401);
        assert_eq!(me.header("www-authenticate"), Some("Bearer"), "{h:?}");
        post(&agent, &server.url("/logout"), None, "", h).assert_json_error(401);
    }
    // The real session survived all of that.
    assert!(server.store.exists(&format!("session:{token}")));
}

#[test]
fn cache_misses_then_hits_until_the_ttl_ends() {
    let server = Server::start(100);
    let agent = agent();
    let first = get(&agent, &server.url("/cached/x"), &[]);
    assert_eq!((first.status, first.header("x-cache")), (200, Some("MISS")));
    assert_eq!(first.json()["value"], "expensive result for x");
    let second = get(&agent, &server.url("/cached/x"), &[]);
    assert_eq!(second.header("x-cache"), Some("HIT"));
    assert_eq!(second.json(), first.json(), "served the cached value");
    assert_eq!(
        get(&agent, &server.url("/cached/y"), &[]).header("x-cache"),
        Some("MISS")
    );
    assert_eq!(
        server.store.ttl("cache:x"),
        Ttl::Expires(Duration::from_secs(300))
    );
    server.clock.advance(Duration::from_secs(300));
    assert_eq!(
        get(&agent, &server.url("/cached/x"), &[]).header("x-cache"),
        Some("MISS")
    );
}

#[test]
fn stats_count_live_keys_by_prefix() {
    let server = Server::start(100);
    let agent = agent();
    let stats = || get(&agent, &server.url("/stats"), &[]).json();
    assert_eq!(
        stats(),
        json!({ "keys": 0, "rate": 0, "session": 0, "cache": 0 })
    );
    get(&agent, &server.url("/"), &from("10.1.0.1"));
    get(&agent, &server.url("/"), &from("10.1.0.2"));
    get(&agent, &server.url("/"), &from("10.1.0.2"));
    let token = login(&agent, &server, "dave");
    get(&agent, &server.url("/cached/a"), &[]);
    server.store.set("other", 1);
    assert_eq!(
        stats(),
        json!({ "keys": 5, "rate": 2, "session": 1, "cache": 1 })
    );
    let bearer = format!("Bearer {token}");
    post(
        &agent,
        &server.url("/logout"),
        None,
        "",
        &[("Authorization", &bearer)],
    );
    // Expired keys are not counted, whether or not they have been purged.
    server.clock.advance(Duration::from_secs(60));
    assert_eq!(
        stats(),
        json!({ "keys": 2, "rate": 0, "session": 0, "cache": 1 })
    );
}

#[test]
fn unknown_routes_and_methods_get_json_errors() {
    let server = Server::start(100);
    let agent = agent();
    get(&agent, &server.url("/nope"), &[]).assert_json_error(404);
    post(&agent, &server.url("/"), None, "", &[]).assert_json_error(405);
    get(&agent, &server.url("/login"), &[]).assert_json_error(405);
}

#[test]
fn shutdown_returns_despite_an_idle_keep_alive_connection() {
    let server = Server::start(100);
    let agent = agent();
    let url = server.url("/");
    assert_eq!(get(&agent, &url, &[]).status, 200); // leaves a pooled connection open
    server
        .shutdown(service::GRACE / 2)
        .expect("serve() returned an error");
    assert!(
        agent.get(&url).call().is_err(),
        "still serving after shutdown"
    );
}

#[test]
fn command_line() {
    use service::{parse_args, Cli};
    let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert_eq!(
        args(&[]),
        Ok(Cli::Run {
            addr: addr("127.0.0.1:8080"),
            rate_limit: 100
        })
    );
    assert_eq!(
        args(&["--addr", "127.0.0.1:0", "--rate-limit", "7"]),
        Ok(Cli::Run {
            addr: addr("127.0.0.1:0"),
            rate_limit: 7
        })
    );
    assert_eq!(
        args(&["--rate-limit=3", "--addr=[::1]:9000"]),
        Ok(Cli::Run {
            addr: addr("[::1]:9000"),
            rate_limit: 3
        })
    );
    assert_eq!(args(&["--rate-limit", "1", "--help"]), Ok(Cli::Help));
    assert_eq!(args(&["-h"]), Ok(Cli::Help));
    for bad in [
        &["--bogus"][..],
        &["--addr"],
        &["--addr", "nonsense"],
        &["--rate-limit"],
        &["--rate-limit", "0"],
        &["--rate-limit", "-1"],
        &["--rate-limit", "many"],
        &["extra"],
    ] {
        assert!(args(bad).is_err(), "{bad:?} accepted");
    }
    assert!(service::USAGE.contains("--rate-limit"));
}
