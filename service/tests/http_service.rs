//! End-to-end tests of the main job (`service/src/main.rs`, binary `http_service`): the service
//! runs in-process on an ephemeral
//! loopback port, over a store on a test clock (so windows and TTLs are advanced by hand, never
//! slept on), and is driven by a real HTTP client (ureq). Every reply is checked whole: status,
//! content type, and the exact body (the texts of README's curl session among them).
//!
//! The service is included as a module so the test and the binary serve the same code. What only
//! the binary does (its request log on stderr, SIGTERM) is tested on the built binary as a child
//! process (module `process`, Unix only), which Cargo builds for this test
//! (`CARGO_BIN_EXE_http_service`).
//!
//! The tests on Redis (names with `redis`) need the servers and tools of `scripts/with-redis.sh`
//! and fail without them (`scripts/with-redis.sh cargo test -p scriptling-kv-service
//! --test http_service`); `-- --skip redis` runs the others alone.

#[allow(dead_code)] // `main` and the signal handling are the binary's, not used here.
#[path = "../src/main.rs"]
mod service;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use scriptling_kv::{Eviction, Store, TestClock, Ttl, Value};
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
    /// The service with `limit` requests per window, believing `X-Forwarded-For` from
    /// 127.0.0.1 (the tests play a proxy so as to be many clients).
    fn start(limit: u64) -> Server {
        let mut config = service::Config::limit(limit);
        config.trusted_proxies.push("127.0.0.1".parse().unwrap());
        Server::start_with(config, None)
    }

    /// The service as the binary runs it by default: no trusted proxy.
    fn start_untrusted(limit: u64) -> Server {
        Server::start_with(service::Config::limit(limit), None)
    }

    /// [`Server::start`] on a store holding at most `max_keys` keys, as `--max-keys` builds it.
    fn start_bounded(limit: u64, max_keys: usize) -> Server {
        let mut config = service::Config::limit(limit);
        config.trusted_proxies.push("127.0.0.1".parse().unwrap());
        Server::start_with(config, Some(max_keys))
    }

    fn start_with(config: service::Config, max_keys: Option<usize>) -> Server {
        let clock = TestClock::new();
        let mut builder = Store::builder()
            .test_clock(clock.clone())
            .background_cleanup(false)
            .record_stats(true);
        if let Some(n) = max_keys {
            builder = builder.max_keys(n);
        }
        let store = builder.build();
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
                service::serve(listener, served, config, async {
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

/// The content type of every JSON reply (axum's `Json`).
const JSON: &str = "application/json";
/// The content type of the plain-text reply of `GET /` (a `String` body).
const TEXT: &str = "text/plain; charset=utf-8";

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

    /// Asserts the reply is `status` with a JSON content type, and returns its body as JSON.
    fn assert_json_status(&self, status: u16) -> Json {
        assert_eq!(
            (self.status, self.header("content-type")),
            (status, Some(JSON)),
            "{self:?}"
        );
        self.json()
    }

    /// Asserts the reply is `status` with a JSON content type and exactly the body `body`.
    fn assert_json(&self, status: u16, body: &str) {
        assert_eq!(
            (self.status, self.header("content-type"), self.body.as_str()),
            (status, Some(JSON), body),
            "{self:?}"
        );
    }

    /// Asserts the reply is `status` with the JSON body `{"error":"<message>"}`, byte for byte.
    fn assert_error(&self, status: u16, message: &str) {
        self.assert_json(status, &json!({ "error": message }).to_string());
    }

    /// Asserts the reply is `status` with a JSON body `{"error":"<message>"}` whose message
    /// starts with `prefix` (for axum's rejection texts, which end with serde_json's).
    fn assert_error_starting(&self, status: u16, prefix: &str) {
        let body = self.assert_json_status(status);
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.starts_with(prefix), "{self:?}");
        assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{self:?}");
    }

    /// Asserts the reply is `status` with a plain-text content type and exactly the body `body`.
    fn assert_text(&self, status: u16, body: &str) {
        assert_eq!(
            (self.status, self.header("content-type"), self.body.as_str()),
            (status, Some(TEXT), body),
            "{self:?}"
        );
    }

    /// Asserts the reply is the `401` of an unusable token: `WWW-Authenticate: Bearer` and the
    /// JSON error `message`.
    fn assert_unauthorized(&self, message: &str) {
        self.assert_error(401, message);
        assert_eq!(self.header("www-authenticate"), Some("Bearer"), "{self:?}");
    }
}

/// The reply of `GET /` to the request that is number `n` of the window, out of `limit`.
fn hello(n: usize, limit: usize) -> String {
    format!("hello, you are request {n} of {limit} in this window\n")
}

/// The error texts of the service (README's session shows the first three).
const RATE_LIMITED: &str = "rate limit exceeded";
const BAD_SESSION: &str = service::BAD_SESSION;
const USER_NOT_A_STRING: &str = "user must be a string";
const USER_EMPTY: &str = "user must not be empty";
const NO_USER_FIELD: &str = "expected a JSON object with a \"user\" field";
const NO_BEARER: &str = service::NO_BEARER;
/// axum's rejection texts, passed on by `POST /login`.
const NOT_JSON: &str = "Failed to parse the request body as JSON: ";
const NOT_JSON_CONTENT_TYPE: &str = "Expected request with `Content-Type: application/json`";

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

/// Checks the reply to a successful `POST /login`, `{"token":"<32 lowercase hex digits>"}` byte
/// for byte, and returns the token.
fn token_of(reply: &Reply) -> String {
    let token = reply.assert_json_status(200)["token"]
        .as_str()
        .expect("token is a string")
        .to_owned();
    assert_eq!(token.len(), 2 * service::TOKEN_BYTES, "{reply:?}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{reply:?}"
    );
    reply.assert_json(200, &format!(r#"{{"token":"{token}"}}"#));
    token
}

/// Logs `user` in on the service at `base` and returns the session token.
fn login(agent: &ureq::Agent, base: &str, user: &str) -> String {
    let body = json!({ "user": user }).to_string();
    let url = format!("{base}/login");
    token_of(&post(agent, &url, Some("application/json"), &body, &[]))
}

/// Checks a reply of `GET /cached/{name}`: `200`, JSON, `X-Cache: <cache>`, and exactly the body
/// `{"computed_at":T,"name":"<name>","value":"expensive result for <name>"}`. Returns `T`.
fn assert_cached(reply: &Reply, name: &str, cache: &str) -> i64 {
    let at = reply.assert_json_status(200)["computed_at"]
        .as_i64()
        .expect("computed_at is an integer");
    assert!(at > 0, "{reply:?}");
    assert_eq!(reply.header("x-cache"), Some(cache), "{reply:?}");
    reply.assert_json(
        200,
        &format!(r#"{{"computed_at":{at},"name":"{name}","value":"expensive result for {name}"}}"#),
    );
    at
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .expect("Retry-After on a 429")
        .parse()
        .expect("Retry-After is whole seconds")
}

/// A request as the service's log line shows it: method, path, status, client.
type Logged = (&'static str, &'static str, u16, &'static str);

/// README's curl session ("The main job"), replayed against the service at `base`, which must
/// run with `--rate-limit 15` over an empty store, from 127.0.0.1 and without a proxy. Every
/// reply must be what README shows: status, content type, the headers shown, and the body byte
/// for byte (README adds a newline after JSON bodies; the service does not send one). Every
/// request counts against the one budget of 15, whatever its route. Returns the requests in the
/// order sent, as the log shows them.
fn readme_session(base: &str) -> Vec<Logged> {
    const LOCAL: &str = "127.0.0.1";
    let agent = agent();
    let url = |path: &str| format!("{base}{path}");
    get(&agent, &url("/"), &[]).assert_text(200, "hello, you are request 1 of 15 in this window\n");
    let json_ct = Some("application/json");
    let token = token_of(&post(
        &agent,
        &url("/login"),
        json_ct,
        r#"{"user": "bob"}"#,
        &[],
    ));
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    get(&agent, &url("/me"), &auth).assert_json(200, r#"{"user":"bob"}"#);
    post(&agent, &url("/logout"), None, "", &auth).assert_json(200, r#"{"ok":true}"#);
    let me = get(&agent, &url("/me"), &auth);
    me.assert_json(401, r#"{"error":"invalid or expired session"}"#);
    assert_eq!(me.header("www-authenticate"), Some("Bearer"), "{me:?}");
    post(&agent, &url("/login"), json_ct, r#"{"user": 5}"#, &[])
        .assert_json(400, r#"{"error":"user must be a string"}"#);
    let computed_at = assert_cached(&get(&agent, &url("/cached/report"), &[]), "report", "MISS");
    let hit = get(&agent, &url("/cached/report"), &[]);
    assert_eq!(assert_cached(&hit, "report", "HIT"), computed_at);
    get(&agent, &url("/cached/a%20b"), &[]).assert_json(
        400,
        r#"{"error":"name must be 1 to 64 characters of A-Z a-z 0-9 . _ -"}"#,
    );
    post(&agent, &url("/jobs/nightly"), None, "", &[])
        .assert_json(202, r#"{"job":"nightly","status":"started"}"#);
    post(&agent, &url("/jobs/nightly"), None, "", &[])
        .assert_json(409, r#"{"error":"job is already running","job":"nightly"}"#);
    get(&agent, &url("/jobs/nightly"), &[])
        .assert_json(200, r#"{"job":"nightly","status":"running"}"#);
    // The hits and misses so far: /me twice (a hit, then a miss after the logout), the cache's
    // miss and hit; the job status does not read a value while the job runs. The keys: the
    // window, the create counter (a login, a cache miss, a job), the cached value, the job lock.
    get(&agent, &url("/stats"), &[]).assert_json(
        200,
        r#"{"backend":"memory","evicted":0,"expired":0,"hits":2,"keys":4,"misses":2}"#,
    );
    get(&agent, &url("/"), &[])
        .assert_text(200, "hello, you are request 14 of 15 in this window\n");
    get(&agent, &url("/"), &[])
        .assert_text(200, "hello, you are request 15 of 15 in this window\n");
    let limited = get(&agent, &url("/"), &[]);
    limited.assert_json(429, r#"{"error":"rate limit exceeded"}"#);
    assert_eq!(limited.header("retry-after"), Some("60"), "{limited:?}");
    // Every route is limited now, and a limited request creates nothing.
    post(
        &agent,
        &url("/login"),
        json_ct,
        r#"{"user": "mallory"}"#,
        &[],
    )
    .assert_json(429, r#"{"error":"rate limit exceeded"}"#);
    get(&agent, &url("/stats"), &[]).assert_json(429, r#"{"error":"rate limit exceeded"}"#);
    // X-Forwarded-For from a peer that is not a trusted proxy is ignored: same client.
    get(&agent, &url("/"), &from("203.0.113.5"))
        .assert_json(429, r#"{"error":"rate limit exceeded"}"#);
    vec![
        ("GET", "/", 200, LOCAL),
        ("POST", "/login", 200, LOCAL),
        ("GET", "/me", 200, LOCAL),
        ("POST", "/logout", 200, LOCAL),
        ("GET", "/me", 401, LOCAL),
        ("POST", "/login", 400, LOCAL),
        ("GET", "/cached/report", 200, LOCAL),
        ("GET", "/cached/report", 200, LOCAL),
        ("GET", "/cached/a%20b", 400, LOCAL),
        ("POST", "/jobs/nightly", 202, LOCAL),
        ("POST", "/jobs/nightly", 409, LOCAL),
        ("GET", "/jobs/nightly", 200, LOCAL),
        ("GET", "/stats", 200, LOCAL),
        ("GET", "/", 200, LOCAL),
        ("GET", "/", 200, LOCAL),
        ("GET", "/", 429, LOCAL),
        ("POST", "/login", 429, LOCAL),
        ("GET", "/stats", 429, LOCAL),
        ("GET", "/", 429, LOCAL),
    ]
}

#[test]
fn readme_session_gets_the_replies_readme_shows() {
    let server = Server::start_untrusted(15);
    readme_session(&server.base);
    assert_eq!(
        server.store.keys("*").unwrap(),
        [
            "cache:report",
            "job:nightly",
            "new:127.0.0.1",
            "rate:127.0.0.1"
        ]
    );
    assert_eq!(server.store.get("new:127.0.0.1"), Some(Value::Int(3)));
}

#[test]
fn limit_triggers_at_n_plus_one_per_client_and_resets_with_the_window() {
    let server = Server::start(5);
    let agent = agent();
    let root = server.url("/");
    for i in 1..=5 {
        get(&agent, &root, &from("10.0.0.1")).assert_text(200, &hello(i, 5));
    }
    let limited = get(&agent, &root, &from("10.0.0.1"));
    limited.assert_error(429, RATE_LIMITED);
    // The clock has not moved since the window opened: the whole window remains.
    assert_eq!(retry_after(&limited), 60);

    // Another client has its own window.
    get(&agent, &root, &from("10.0.0.2")).assert_text(200, &hello(1, 5));
    get(&agent, &root, &from("10.0.0.1")).assert_error(429, RATE_LIMITED);

    // The window is fixed: 45 s in, 15 s remain, and refused requests do not extend it.
    server.clock.advance(Duration::from_secs(45));
    let limited = get(&agent, &root, &from("10.0.0.1"));
    limited.assert_error(429, RATE_LIMITED);
    assert_eq!(retry_after(&limited), 15);
    server.clock.advance(Duration::from_secs(14));
    let limited = get(&agent, &root, &from("10.0.0.1"));
    limited.assert_error(429, RATE_LIMITED);
    assert_eq!(retry_after(&limited), 1);

    // A new window opens once the old one is over.
    server.clock.advance(Duration::from_secs(1));
    get(&agent, &root, &from("10.0.0.1")).assert_text(200, &hello(1, 5));
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
                let limited = json!({ "error": RATE_LIMITED }).to_string();
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let reply = get(&agent, &root, &from("192.0.2.7"));
                    let mut seen = seen.lock().unwrap();
                    match (reply.status, reply.header("content-type")) {
                        (200, Some(TEXT)) => seen.0.push(reply.body),
                        (429, Some(JSON)) if reply.body == limited => seen.1 += 1,
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
    let expected: Vec<String> = (1..=N).map(|i| hello(i, N)).collect();
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

/// Tried as a new user would: 20 requests, each claiming another address in
/// `X-Forwarded-For`, against a limit of 3, from a peer that is not a trusted proxy: they are one
/// client (3 pass, 17 are limited) and add one key, not 20.
#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let server = Server::start_untrusted(3);
    let agent = agent();
    let root = server.url("/");
    let mut passed = 0;
    for i in 0..20 {
        let reply = get(&agent, &root, &from(&format!("198.51.100.{i}")));
        match reply.status {
            200 => passed += 1,
            429 => reply.assert_error(429, RATE_LIMITED),
            _ => panic!("{reply:?}"),
        }
    }
    assert_eq!(passed, 3);
    assert_eq!(server.store.keys("rate:*").unwrap(), ["rate:127.0.0.1"]);
}

/// From a trusted proxy, the client is the right-most address of `X-Forwarded-For` that is not a
/// trusted proxy itself (what the proxy saw); entries further left are the client's own claims.
/// An unusable header falls back to the peer.
#[test]
fn a_trusted_proxys_forwarded_for_names_the_client() {
    let server = Server::start(100);
    let agent = agent();
    let root = server.url("/");
    get(&agent, &root, &from("203.0.113.9")).assert_text(200, &hello(1, 100));
    get(&agent, &root, &from("6.6.6.6, 203.0.113.9")).assert_text(200, &hello(2, 100));
    get(&agent, &root, &from("203.0.113.9, 127.0.0.1")).assert_text(200, &hello(3, 100));
    get(&agent, &root, &from("not an address")).assert_text(200, &hello(1, 100));
    get(&agent, &root, &[]).assert_text(200, &hello(2, 100));
    assert_eq!(
        server.store.keys("rate:*").unwrap(),
        ["rate:127.0.0.1", "rate:203.0.113.9"]
    );
}

/// The client address rules (module docs of the service, "Who the client is"), on
/// `client_of` directly: every form an entry can take, the walk from the right over trusted
/// proxies, the stop at an entry that does not parse (charged to the hop that appended it), and
/// IPv4-mapped addresses as IPv4 in the peer, the proxy list and the header.
#[test]
fn client_address_rules() {
    use std::net::IpAddr;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let proxy = ip("127.0.0.1");
    let inner = ip("10.0.0.2");
    let trusted = [proxy, inner];
    let client = |peer: &str, xff: &[&str]| {
        let mut headers = axum::http::HeaderMap::new();
        for v in xff {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        service::client_of(&headers, Some(ip(peer)), &trusted)
            .unwrap()
            .to_string()
    };
    // An untrusted peer is the client whatever it claims; mapped or not.
    assert_eq!(client("198.51.100.7", &["6.6.6.6"]), "198.51.100.7");
    assert_eq!(client("::ffff:198.51.100.7", &["6.6.6.6"]), "198.51.100.7");
    // A trusted peer: the right-most entry that is not a trusted proxy.
    assert_eq!(client("127.0.0.1", &["203.0.113.5"]), "203.0.113.5");
    assert_eq!(
        client("127.0.0.1", &["6.6.6.6, 203.0.113.5"]),
        "203.0.113.5"
    );
    assert_eq!(
        client("127.0.0.1", &["6.6.6.6, 203.0.113.5:4711"]),
        "203.0.113.5"
    );
    assert_eq!(
        client("127.0.0.1", &["6.6.6.6, [2001:db8::5]:4711"]),
        "2001:db8::5"
    );
    assert_eq!(
        client("127.0.0.1", &["6.6.6.6, [2001:db8::5]"]),
        "2001:db8::5"
    );
    assert_eq!(client("127.0.0.1", &["6.6.6.6,2001:db8::5"]), "2001:db8::5");
    assert_eq!(
        client("127.0.0.1", &["203.0.113.5, 10.0.0.2"]),
        "203.0.113.5"
    );
    assert_eq!(
        client("127.0.0.1", &["6.6.6.6", "203.0.113.5"]),
        "203.0.113.5"
    );
    // The peer, a proxy in the header, and the client in the header, as IPv4-mapped IPv6.
    assert_eq!(
        client(
            "::ffff:127.0.0.1",
            &["6.6.6.6, ::ffff:203.0.113.5, ::ffff:10.0.0.2"]
        ),
        "203.0.113.5"
    );
    assert_eq!(
        client("::ffff:127.0.0.1", &["[::ffff:203.0.113.5]:80"]),
        "203.0.113.5"
    );
    // An entry that does not parse ends the walk: charged to the hop that appended it.
    for bad in [
        "unknown",
        "",
        "a.proxy",
        "203.0.113.5:",
        "[2001:db8::5",
        "_hidden",
        "1.2.3",
    ] {
        assert_eq!(
            client("127.0.0.1", &[&format!("6.6.6.6, {bad}")]),
            "127.0.0.1",
            "{bad:?}"
        );
        assert_eq!(
            client("127.0.0.1", &[&format!("6.6.6.6, {bad}, 10.0.0.2")]),
            "10.0.0.2",
            "{bad:?}"
        );
    }
    // No header, or only trusted proxies in it: the last trusted hop.
    assert_eq!(client("127.0.0.1", &[]), "127.0.0.1");
    assert_eq!(client("127.0.0.1", &["10.0.0.2"]), "10.0.0.2");
    // Buckets: IPv4 as is, IPv6 by prefix.
    assert_eq!(service::bucket_of(ip("203.0.113.5"), 64), "203.0.113.5");
    assert_eq!(
        service::bucket_of(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64),
        "2001:db8:1:2::/64"
    );
    assert_eq!(
        service::bucket_of(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 48),
        "2001:db8:1::/48"
    );
    assert_eq!(service::bucket_of(ip("::1"), 128), "::1/128");
}

/// The rules over HTTP: `X-Forwarded-For: 6.6.6.N, 203.0.113.5:4711` and `7.7.7.N, unknown`
/// give no fresh bucket per `N`; the addresses of one IPv6 /64 share one budget.
#[test]
fn client_address_forms_share_one_budget() {
    let server = Server::start(3);
    let agent = agent();
    let root = server.url("/");
    for n in 1..=3 {
        get(
            &agent,
            &root,
            &from(&format!("6.6.6.{n}, 203.0.113.5:4711")),
        )
        .assert_text(200, &hello(n, 3));
    }
    get(&agent, &root, &from("6.6.6.4, 203.0.113.5:4711")).assert_error(429, RATE_LIMITED);
    for n in 1..=3 {
        get(&agent, &root, &from(&format!("7.7.7.{n}, unknown"))).assert_text(200, &hello(n, 3));
    }
    get(&agent, &root, &from("7.7.7.4, unknown")).assert_error(429, RATE_LIMITED);
    for n in 1..=3 {
        get(&agent, &root, &from(&format!("[2001:db8:7:7::{n}]:80")))
            .assert_text(200, &hello(n, 3));
    }
    get(&agent, &root, &from("2001:db8:7:7:ffff::1")).assert_error(429, RATE_LIMITED);
    get(&agent, &root, &from("2001:db8:7:8::1")).assert_text(200, &hello(1, 3));
    assert_eq!(
        server.store.keys("rate:*").unwrap(),
        [
            "rate:127.0.0.1",
            "rate:2001:db8:7:7::/64",
            "rate:2001:db8:7:8::/64",
            "rate:203.0.113.5"
        ]
    );
}

/// Every route is metered, and a client over its limit creates nothing: the issue's attack
/// (a client at its limit sends 60 `POST /login` into a store of 50 keys) gets 60 `429`s, no
/// session, its window is not evicted (`GET /` stays `429`), and another client's session
/// made before is still there.
#[test]
fn a_client_over_its_limit_creates_nothing_on_any_route() {
    let server = Server::start_bounded(3, 50);
    let agent = agent();
    let victim = login(&agent, &server.base, "victim");
    let attacker = from("10.6.6.6");
    let root = server.url("/");
    for n in 1..=3 {
        get(&agent, &root, &attacker).assert_text(200, &hello(n, 3));
    }
    let body = r#"{"user": "mallory"}"#;
    for _ in 0..60 {
        post(
            &agent,
            &server.url("/login"),
            Some("application/json"),
            body,
            &attacker,
        )
        .assert_error(429, RATE_LIMITED);
    }
    for path in ["/me", "/cached/x", "/jobs/x", "/stats", "/nope", "/login"] {
        let reply = get(&agent, &server.url(path), &attacker);
        reply.assert_error(429, RATE_LIMITED);
        assert!(retry_after(&reply) >= 1, "{reply:?}");
    }
    post(&agent, &server.url("/jobs/x"), None, "", &attacker).assert_error(429, RATE_LIMITED);
    get(&agent, &root, &attacker).assert_error(429, RATE_LIMITED);
    assert_eq!(
        server.store.keys("*").unwrap(),
        [
            "new:127.0.0.1".to_owned(),
            "rate:10.6.6.6".to_owned(),
            "rate:127.0.0.1".to_owned(),
            format!("session:{victim}")
        ]
    );
    let bearer = format!("Bearer {victim}");
    get(&agent, &server.url("/me"), &[("Authorization", &bearer)])
        .assert_json(200, r#"{"user":"victim"}"#);
}

/// Routes that create keys have a stricter window of their own (`--create-limit`, 10 by
/// default): a client well within its request budget that sends 60 logins gets 10 sessions,
/// then `429`; its window is not evicted by its own logins (a store of 50 keys), so its count
/// goes on.
#[test]
fn key_creating_routes_have_a_stricter_limit() {
    let server = Server::start_bounded(100, 50);
    let agent = agent();
    let me = from("10.5.5.5");
    let body = r#"{"user": "mallory"}"#;
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..60 {
        let reply = post(
            &agent,
            &server.url("/login"),
            Some("application/json"),
            body,
            &me,
        );
        *statuses.entry(reply.status).or_insert(0) += 1;
    }
    assert_eq!(statuses, [(200, 10), (429, 50)].into());
    // A cache miss and a job start are creations too; a cache hit is not.
    get(&agent, &server.url("/cached/x"), &me).assert_error(429, RATE_LIMITED);
    post(&agent, &server.url("/jobs/x"), None, "", &me).assert_error(429, RATE_LIMITED);
    assert_cached(&get(&agent, &server.url("/cached/x"), &[]), "x", "MISS");
    assert_cached(&get(&agent, &server.url("/cached/x"), &me), "x", "HIT");
    get(&agent, &server.url("/"), &me).assert_text(200, &hello(64, 100));
    assert_eq!(server.store.keys("session:*").unwrap().len(), 10);
    assert_eq!(server.store.get("new:10.5.5.5"), Some(Value::Int(62)));
}

/// Every window counter the limiter creates has its TTL from the start (`incr_with_ttl`: one
/// step), and a counter overwritten with something that is not an integer starts a new window.
#[test]
fn every_window_counter_has_its_ttl_and_garbage_starts_a_new_window() {
    let server = Server::start(3);
    let agent = agent();
    let root = server.url("/");
    get(&agent, &root, &from("198.51.100.2")).assert_text(200, &hello(1, 3));
    assert_eq!(
        server.store.ttl("rate:198.51.100.2"),
        Ttl::Expires(Duration::from_secs(60))
    );
    server.clock.advance(Duration::from_secs(20));
    get(&agent, &root, &from("198.51.100.2")).assert_text(200, &hello(2, 3));
    assert_eq!(
        server.store.ttl("rate:198.51.100.2"),
        Ttl::Expires(Duration::from_secs(40)),
        "the window is fixed"
    );
    server.store.set("rate:198.51.100.3", "garbage");
    get(&agent, &root, &from("198.51.100.3")).assert_text(200, &hello(1, 3));
    assert_eq!(
        server.store.ttl("rate:198.51.100.3"),
        Ttl::Expires(Duration::from_secs(60))
    );
}

#[test]
fn session_lifecycle() {
    let server = Server::start(100);
    let agent = agent();
    let token = login(&agent, &server.base, "bob");
    assert_ne!(
        login(&agent, &server.base, "bob"),
        token,
        "tokens are random"
    );

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
    get(&agent, &server.url("/me"), &auth).assert_json(200, r#"{"user":"bob"}"#);
    post(&agent, &server.url("/logout"), None, "", &auth).assert_json(200, r#"{"ok":true}"#);
    assert!(!server.store.exists(&key));
    get(&agent, &server.url("/me"), &auth).assert_unauthorized(BAD_SESSION);
    post(&agent, &server.url("/logout"), None, "", &auth).assert_unauthorized(BAD_SESSION);

    // Sessions end with their TTL.
    let token = login(&agent, &server.base, "alice");
    let bearer = format!("bearer {token}"); // the scheme is case-insensitive
    let auth = [("Authorization", bearer.as_str())];
    get(&agent, &server.url("/me"), &auth).assert_json(200, r#"{"user":"alice"}"#);
    server.clock.advance(Duration::from_secs(86_400));
    get(&agent, &server.url("/me"), &auth).assert_unauthorized(BAD_SESSION);
}

/// The session id a reply's `Set-Cookie: sid=…` sets (`None` without one), and the whole
/// header.
fn session_cookie(reply: &Reply) -> Option<(String, String)> {
    let header = reply.header("set-cookie")?.to_owned();
    let prefix = format!("{}=", service::SESSION_COOKIE);
    let value = header.strip_prefix(&prefix)?.split(';').next()?.to_owned();
    Some((value, header))
}

/// The cookie sessions (`/session/...`, tower-sessions over `KvSessionStore`): a login sets the
/// `sid` cookie (HttpOnly, SameSite=Strict, 24 h) and stores one key, `cookie-session:{id}`,
/// whose TTL ends with the session; the cookie names the user; a logout deletes the key and
/// clears the cookie; a login over an existing session gets a new id (the old record is gone);
/// a session ends with its TTL; bad input is refused as `POST /login` refuses it; a login is a
/// creation (counted in `new:{client}`).
#[test]
fn cookie_session_lifecycle() {
    let server = Server::start_untrusted(100);
    let agent = agent();
    let json_ct = Some("application/json");
    let login_url = server.url("/session/login");
    let me_url = server.url("/session/me");
    let reply = post(&agent, &login_url, json_ct, r#"{"user": "zoe"}"#, &[]);
    reply.assert_json(200, r#"{"user":"zoe"}"#);
    let (id, header) = session_cookie(&reply).expect("a session cookie");
    assert_eq!(id.len(), 22, "{header}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=86400", "Path=/"] {
        assert!(header.contains(attribute), "{attribute} in {header}");
    }
    let key = format!("{}{id}", service::COOKIE_SESSION_PREFIX);
    assert_eq!(
        server.store.keys("cookie-session:*").unwrap(),
        std::slice::from_ref(&key)
    );
    match server.store.ttl(&key) {
        Ttl::Expires(left) => assert!(
            left <= Duration::from_secs(86_400) && left > Duration::from_secs(86_300),
            "{left:?}"
        ),
        other => panic!("the session has no TTL: {other:?}"),
    }
    assert_eq!(server.store.get("new:127.0.0.1"), Some(Value::Int(1)));
    let cookie = format!("{}={id}", service::SESSION_COOKIE);
    get(&agent, &me_url, &[("Cookie", &cookie)]).assert_json(200, r#"{"user":"zoe"}"#);
    // No cookie, an unknown id, garbage: no session.
    let unknown = format!("{}={}", service::SESSION_COOKIE, "A".repeat(22));
    let garbage = format!("{}=not-a-session-id", service::SESSION_COOKIE);
    for headers in [
        &[][..],
        &[("Cookie", unknown.as_str())],
        &[("Cookie", garbage.as_str())],
    ] {
        get(&agent, &me_url, headers).assert_error(401, service::NO_COOKIE_SESSION);
        post(&agent, &server.url("/session/logout"), None, "", headers)
            .assert_error(401, service::NO_COOKIE_SESSION);
    }
    // A login over a live session: a new id, the old record removed.
    let again = post(
        &agent,
        &login_url,
        json_ct,
        r#"{"user": "zoe"}"#,
        &[("Cookie", &cookie)],
    );
    again.assert_json(200, r#"{"user":"zoe"}"#);
    let (new_id, _) = session_cookie(&again).expect("a new session cookie");
    assert_ne!(new_id, id, "the id is cycled at login");
    assert!(!server.store.exists(&key), "the old record is gone");
    get(&agent, &me_url, &[("Cookie", &cookie)]).assert_error(401, service::NO_COOKIE_SESSION);
    // Logout: the record is deleted and the cookie cleared.
    let cookie = format!("{}={new_id}", service::SESSION_COOKIE);
    let out = post(
        &agent,
        &server.url("/session/logout"),
        None,
        "",
        &[("Cookie", &cookie)],
    );
    out.assert_json(200, r#"{"ok":true}"#);
    let (cleared, header) = session_cookie(&out).expect("a removal cookie");
    assert!(
        cleared.is_empty() && header.contains("Max-Age=0"),
        "{header}"
    );
    assert_eq!(
        server.store.keys("cookie-session:*").unwrap(),
        Vec::<String>::new()
    );
    get(&agent, &me_url, &[("Cookie", &cookie)]).assert_error(401, service::NO_COOKIE_SESSION);
    // A session ends with its TTL.
    let reply = post(&agent, &login_url, json_ct, r#"{"user": "amy"}"#, &[]);
    let (id, _) = session_cookie(&reply).expect("a session cookie");
    let cookie = format!("{}={id}", service::SESSION_COOKIE);
    get(&agent, &me_url, &[("Cookie", &cookie)]).assert_json(200, r#"{"user":"amy"}"#);
    server.clock.advance(Duration::from_secs(86_400));
    get(&agent, &me_url, &[("Cookie", &cookie)]).assert_error(401, service::NO_COOKIE_SESSION);
    // Bad input: the rules of `POST /login`, and nothing stored.
    post(&agent, &login_url, json_ct, r#"{"user": 5}"#, &[]).assert_error(400, USER_NOT_A_STRING);
    let long = json!({ "user": "é".repeat(service::MAX_USER + 1) }).to_string();
    post(&agent, &login_url, json_ct, &long, &[]).assert_error(400, service::USER_TOO_LONG);
    let huge = json!({ "user": "x".repeat(4_000) }).to_string(); // see `login_rejects_bad_input_...`
    post(&agent, &login_url, json_ct, &huge, &[]).assert_error(413, service::BODY_TOO_LARGE);
    assert_eq!(
        server.store.keys("cookie-session:*").unwrap(),
        Vec::<String>::new()
    );
}

/// Cookie logins count in the create window: with `--create-limit 2`, the third is a `429`
/// (with that window's `RateLimit-*` headers, not the request window's) and stores nothing.
#[test]
fn cookie_logins_are_creations() {
    let mut config = service::Config::limit(100);
    config.create_limit = 2;
    let server = Server::start_with(config, None);
    let agent = agent();
    let url = server.url("/session/login");
    for _ in 0..2 {
        post(
            &agent,
            &url,
            Some("application/json"),
            r#"{"user": "x"}"#,
            &[],
        )
        .assert_json(200, r#"{"user":"x"}"#);
    }
    let limited = post(
        &agent,
        &url,
        Some("application/json"),
        r#"{"user": "x"}"#,
        &[],
    );
    limited.assert_error(429, RATE_LIMITED);
    assert!(limited.header("set-cookie").is_none(), "{limited:?}");
    assert_eq!(limited.header("ratelimit-limit"), Some("2"), "{limited:?}");
    assert_eq!(
        limited.header("ratelimit-remaining"),
        Some("0"),
        "{limited:?}"
    );
    assert_eq!(retry_after(&limited), 60);
    assert_eq!(server.store.keys("cookie-session:*").unwrap().len(), 2);
}

/// Every response carries the request window's `RateLimit-*` headers, a `200` and a `429`
/// alike, and the numbers follow the window.
#[test]
fn every_response_carries_ratelimit_headers() {
    let server = Server::start(2);
    let agent = agent();
    let headers = |reply: &Reply| {
        ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]
            .map(|h| reply.header(h).map(str::to_owned))
    };
    let first = get(&agent, &server.url("/"), &from("10.3.3.3"));
    first.assert_text(200, &hello(1, 2));
    assert_eq!(
        headers(&first),
        [Some("2".into()), Some("1".into()), Some("60".into())]
    );
    server.clock.advance(Duration::from_secs(10));
    let second = get(&agent, &server.url("/nope"), &from("10.3.3.3"));
    second.assert_error(404, "not found");
    assert_eq!(
        headers(&second),
        [Some("2".into()), Some("0".into()), Some("50".into())]
    );
    let third = get(&agent, &server.url("/"), &from("10.3.3.3"));
    third.assert_error(429, RATE_LIMITED);
    assert_eq!(
        headers(&third),
        [Some("2".into()), Some("0".into()), Some("50".into())]
    );
    assert_eq!(retry_after(&third), 50);
}

#[test]
fn login_rejects_bad_input_with_a_json_400() {
    let server = Server::start(100);
    let agent = agent();
    let url = server.url("/login");
    let json_ct = Some("application/json");
    // (content type, body, the error message or, for axum's parse errors, how it starts)
    let cases: [(Option<&str>, &str, &str); 10] = [
        (json_ct, "{not json", NOT_JSON),
        (json_ct, "", NOT_JSON),
        (json_ct, "{}", NO_USER_FIELD),
        (json_ct, r#"{"name": "bob"}"#, NO_USER_FIELD),
        (json_ct, r#"{"user": 5}"#, USER_NOT_A_STRING),
        (json_ct, r#"{"user": null}"#, USER_NOT_A_STRING),
        (json_ct, r#"{"user": ""}"#, USER_EMPTY),
        (json_ct, r#"["bob"]"#, NO_USER_FIELD),
        (
            Some("text/plain"),
            r#"{"user": "bob"}"#,
            NOT_JSON_CONTENT_TYPE,
        ),
        (None, r#"{"user": "bob"}"#, NOT_JSON_CONTENT_TYPE),
    ];
    for (content_type, body, message) in cases {
        eprintln!("case: {content_type:?} {body:?}"); // shown if the test fails
        let reply = post(&agent, &url, content_type, body, &[]);
        if message == NOT_JSON {
            reply.assert_error_starting(400, message);
        } else {
            reply.assert_error(400, message);
        }
    }
    // Input limits: a user name of 65 characters, a body over 1 KiB (a 4 KB name: small enough
    // that the client's write is done before the server answers and closes; with a 100 KB body
    // the 413 is the same, but a loaded machine can let the close land mid-write, and the client
    // then sees a reset instead of the answer).
    let long = json!({ "user": "é".repeat(service::MAX_USER + 1) }).to_string();
    post(&agent, &url, json_ct, &long, &[]).assert_error(400, service::USER_TOO_LONG);
    let huge = json!({ "user": "x".repeat(4_000) }).to_string();
    post(&agent, &url, json_ct, &huge, &[]).assert_error(413, service::BODY_TOO_LARGE);
    assert_eq!(
        server.store.keys("session:*").unwrap(),
        Vec::<String>::new()
    );
    // 64 characters (128 bytes of UTF-8) is fine.
    login(&agent, &server.base, &"é".repeat(service::MAX_USER));
}

#[test]
fn me_and_logout_reject_missing_malformed_and_unknown_tokens_with_a_json_401() {
    let server = Server::start(100);
    let agent = agent();
    let token = login(&agent, &server.base, "carol");
    let unknown = format!("Bearer {}", "0".repeat(2 * service::TOKEN_BYTES));
    let upper = format!("Bearer {}", token.to_uppercase());
    let basic = format!("Basic {token}");
    let glued = format!("Bearer{token}");
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[], NO_BEARER),
        (&[("Authorization", "Bearer")], NO_BEARER),
        // A bearer token that cannot be a session's reads as an unknown one.
        (&[("Authorization", "Bearer not-a-token")], BAD_SESSION),
        (&[("Authorization", &basic)], NO_BEARER),
        (&[("Authorization", &glued)], NO_BEARER),
        (&[("Authorization", &upper)], BAD_SESSION),
        (&[("Authorization", &unknown)], BAD_SESSION),
    ];
    for (h, message) in cases {
        eprintln!("case: {h:?}"); // shown if the test fails
        get(&agent, &server.url("/me"), h).assert_unauthorized(message);
        post(&agent, &server.url("/logout"), None, "", h).assert_unauthorized(message);
    }
    // The real session survived all of that.
    assert!(server.store.exists(&format!("session:{token}")));
}

#[test]
fn cache_misses_then_hits_until_the_ttl_ends() {
    let server = Server::start(100);
    let agent = agent();
    let first = assert_cached(&get(&agent, &server.url("/cached/x"), &[]), "x", "MISS");
    let second = assert_cached(&get(&agent, &server.url("/cached/x"), &[]), "x", "HIT");
    assert_eq!(second, first, "served the cached value");
    assert_cached(&get(&agent, &server.url("/cached/y"), &[]), "y", "MISS");
    assert_eq!(
        server.store.ttl("cache:x"),
        Ttl::Expires(Duration::from_secs(300))
    );
    server.clock.advance(Duration::from_secs(300));
    assert_cached(&get(&agent, &server.url("/cached/x"), &[]), "x", "MISS");
}

/// A flood of new clients (2,000 addresses, one request each, from 4 connections at once)
/// into a service bounded at 100 keys: the store never holds more than the bound plus the
/// writers in flight, `/stats` counts the evictions, and a session made before the flood
/// survives it (rate-limit windows have a TTL and go first; the session has one too, but ends
/// later than every window).
#[test]
fn a_flood_of_new_clients_is_bounded_by_max_keys() {
    const MAX_KEYS: usize = 100;
    const CLIENTS: usize = 2_000;
    const SENDERS: usize = 4;
    let server = Arc::new(Server::start_bounded(1_000, MAX_KEYS));
    let agent = agent();
    let token = login(&agent, &server.base, "gina");
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|t| {
            let (server, peak) = (server.clone(), peak.clone());
            std::thread::spawn(move || {
                let agent = crate::agent();
                for i in (t..CLIENTS).step_by(SENDERS) {
                    let client = format!("10.9.{}.{}", i / 250, i % 250);
                    get(&agent, &server.url("/"), &from(&client))
                        .assert_text(200, &hello(1, 1_000));
                    peak.fetch_max(server.store.len(), std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    // The bound holds up to one key per writer racing the eviction (2 runtime workers).
    assert!(
        peak <= MAX_KEYS + 2,
        "peak {peak} keys over a bound of {MAX_KEYS}"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&get(&agent, &server.url("/stats"), &[]).body).unwrap();
    let (keys, evicted) = (
        stats["keys"].as_u64().unwrap(),
        stats["evicted"].as_u64().unwrap(),
    );
    assert!(keys <= MAX_KEYS as u64, "{stats}");
    // Every key made beyond the bound was evicted: the login's 3 keys (window, create counter,
    // session) + 2,000 windows in, plus the window of this `/stats` if the flood evicted the
    // first one (then it counts 1, not 2), `keys` left.
    let recreated = match server.store.get("rate:127.0.0.1") {
        Some(Value::Int(1)) => 1,
        Some(Value::Int(2)) => 0,
        other => panic!("rate:127.0.0.1 is {other:?}"),
    };
    assert_eq!(evicted, (3 + CLIENTS + recreated) as u64 - keys, "{stats}");
    let bearer = format!("Bearer {token}");
    get(&agent, &server.url("/me"), &[("Authorization", &bearer)])
        .assert_json(200, r#"{"user":"gina"}"#);
}

#[test]
fn stats_report_the_store_counters_without_walking_keys() {
    let server = Server::start(100);
    let agent = agent();
    let stats = |body: &str| get(&agent, &server.url("/stats"), &[]).assert_json(200, body);
    // `/stats` is metered like every route: its own window is the first key.
    stats(r#"{"backend":"memory","evicted":0,"expired":0,"hits":0,"keys":1,"misses":0}"#);
    get(&agent, &server.url("/"), &from("10.1.0.1")).assert_text(200, &hello(1, 100));
    let token = login(&agent, &server.base, "dave");
    let bearer = format!("Bearer {token}");
    get(&agent, &server.url("/me"), &[("Authorization", &bearer)])
        .assert_json(200, r#"{"user":"dave"}"#);
    assert_cached(&get(&agent, &server.url("/cached/a"), &[]), "a", "MISS");
    // Two windows, the create counter (a login, a cache miss), the session, the cached value.
    stats(r#"{"backend":"memory","evicted":0,"expired":0,"hits":1,"keys":5,"misses":1}"#);
    // Expired keys count once the cleaner removed them: all but the session; then this
    // request's new window.
    server.clock.advance(Duration::from_secs(300));
    assert_eq!(server.store.purge_expired(), 4);
    stats(r#"{"backend":"memory","evicted":0,"expired":4,"hits":1,"keys":2,"misses":1}"#);
}

/// `/cached/{name}` takes names of 1 to 64 characters of `[A-Za-z0-9._-]` (a 5,000-character
/// name used to be cached): anything else is a 400 and stores nothing.
#[test]
fn cache_names_are_bounded() {
    let server = Server::start(100);
    let agent = agent();
    let long = "x".repeat(5_000);
    for bad in [long.as_str(), "a%2Fb", "%C3%A9", "a%20b"] {
        get(&agent, &server.url(&format!("/cached/{bad}")), &[])
            .assert_error(400, service::BAD_NAME);
    }
    let ok = "x".repeat(service::MAX_NAME);
    assert_cached(
        &get(&agent, &server.url(&format!("/cached/{ok}")), &[]),
        &ok,
        "MISS",
    );
    assert_eq!(server.store.keys("cache:*").unwrap().len(), 1);
}

/// Concurrent misses on one name run one upstream computation: one `MISS`, the others
/// `COALESCED` (or `HIT`, if they came after the load finished), all with the same value.
#[test]
fn concurrent_cache_misses_run_one_computation() {
    let server = Arc::new(Server::start(1000));
    let replies: Vec<Reply> = (0..8)
        .map(|_| {
            let server = server.clone();
            std::thread::spawn(move || get(&agent(), &server.url("/cached/news"), &[]))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let mut sources: Vec<&str> = replies
        .iter()
        .map(|r| r.header("x-cache").unwrap())
        .collect();
    let at: Vec<i64> = replies
        .iter()
        .zip(&sources)
        .map(|(r, src)| assert_cached(r, "news", src))
        .collect();
    sources.sort_unstable();
    assert_eq!(
        sources.iter().filter(|s| **s == "MISS").count(),
        1,
        "{sources:?}"
    );
    assert!(sources
        .iter()
        .all(|s| ["MISS", "COALESCED", "HIT"].contains(s)));
    assert!(at.iter().all(|&t| t == at[0]), "one computation: {at:?}");
}

/// `POST /jobs/{id}` runs a job once however often it is posted while it runs; the lock is
/// released when it ends (the job runs for real time: `JOB_DURATION`).
#[test]
fn a_job_runs_once_while_it_runs() {
    let server = Server::start(100);
    let agent = agent();
    let url = server.url("/jobs/report-7");
    post(&agent, &url, None, "", &[]).assert_json(202, r#"{"job":"report-7","status":"started"}"#);
    for _ in 0..5 {
        post(&agent, &url, None, "", &[]).assert_json(
            409,
            r#"{"error":"job is already running","job":"report-7"}"#,
        );
    }
    get(&agent, &url, &[]).assert_json(200, r#"{"job":"report-7","status":"running"}"#);
    get(&agent, &server.url("/jobs/other"), &[]).assert_error(404, "no such job");
    // Bounded wait for the job to finish (it takes JOB_DURATION).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let reply = get(&agent, &url, &[]);
        let body = reply.assert_json_status(200);
        if body["status"] == "done" {
            assert!(
                body["result"]["finished_at"].as_i64().unwrap() > 0,
                "{reply:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job never finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !server.store.exists("job:report-7"),
        "the lock was released"
    );
    // Done: it can run again.
    post(&agent, &url, None, "", &[]).assert_json(202, r#"{"job":"report-7","status":"started"}"#);
}

#[test]
fn unknown_routes_and_methods_get_json_errors() {
    let server = Server::start(100);
    let agent = agent();
    get(&agent, &server.url("/nope"), &[]).assert_error(404, "not found");
    post(&agent, &server.url("/"), None, "", &[]).assert_error(405, "method not allowed");
    get(&agent, &server.url("/login"), &[]).assert_error(405, "method not allowed");
}

#[test]
fn shutdown_returns_despite_an_idle_keep_alive_connection() {
    let server = Server::start(100);
    let agent = agent();
    let url = server.url("/");
    // Leaves a pooled connection open.
    get(&agent, &url, &[]).assert_text(200, &hello(1, 100));
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
    use service::{parse_args, Backing, Cli, Config};
    let args = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    let run = |a: &str, limit: u64, proxies: &[&str], backing: Backing| {
        Ok(Cli::Run {
            addr: addr(a),
            config: Config {
                trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
                ..Config::limit(limit)
            },
            backing,
        })
    };
    let memory = |max_keys| Backing::Memory {
        max_keys,
        max_bytes: None,
        eviction: Eviction::VolatileTtl,
        data_dir: None,
    };
    assert_eq!(args(&[]), run("127.0.0.1:8080", 100, &[], memory(100_000)));
    assert_eq!(
        args(&[
            "--addr",
            "127.0.0.1:0",
            "--rate-limit",
            "7",
            "--max-keys",
            "10"
        ]),
        run("127.0.0.1:0", 7, &[], memory(10))
    );
    assert_eq!(
        args(&["--rate-limit=3", "--addr=[::1]:9000"]),
        run("[::1]:9000", 3, &[], memory(100_000))
    );
    assert_eq!(
        args(&["--trusted-proxy", "10.0.0.1", "--trusted-proxy=::1"]),
        run("127.0.0.1:8080", 100, &["10.0.0.1", "::1"], memory(100_000))
    );
    assert_eq!(
        args(&["--data-dir", "/var/lib/svc"]),
        run(
            "127.0.0.1:8080",
            100,
            &[],
            Backing::Memory {
                max_keys: 100_000,
                max_bytes: None,
                eviction: Eviction::VolatileTtl,
                data_dir: Some("/var/lib/svc".into())
            }
        )
    );
    assert_eq!(
        args(&[
            "--max-bytes",
            "1048576",
            "--eviction=lru",
            "--max-keys",
            "50"
        ]),
        run(
            "127.0.0.1:8080",
            100,
            &[],
            Backing::Memory {
                max_keys: 50,
                max_bytes: Some(1 << 20),
                eviction: Eviction::Lru,
                data_dir: None,
            }
        )
    );
    assert_eq!(
        args(&["--eviction", "volatile-ttl"]),
        run("127.0.0.1:8080", 100, &[], memory(100_000))
    );
    // The in-process store's flags are refused with Redis, each named, never silently ignored.
    for (flags, named) in [
        (&["--max-keys", "10"][..], "--max-keys"),
        (&["--max-bytes", "10"], "--max-bytes"),
        (&["--eviction", "lru"], "--eviction"),
        (&["--data-dir", "d"], "--data-dir"),
    ] {
        for redis in [
            &["--redis", "redis://x"][..],
            &["--redis-cluster", "redis://a:1"],
        ] {
            let all: Vec<&str> = flags.iter().chain(redis).copied().collect();
            match args(&all) {
                Err(e) => assert!(
                    e.contains(named) && e.contains("in-process store"),
                    "{all:?}: {e}"
                ),
                ok => panic!("{all:?} accepted: {ok:?}"),
            }
        }
    }
    assert_eq!(
        args(&["--redis", "redis://127.0.0.1:6400"]),
        run(
            "127.0.0.1:8080",
            100,
            &[],
            Backing::Redis("redis://127.0.0.1:6400".into())
        )
    );
    assert_eq!(
        args(&["--redis-cluster", "redis://a:1, redis://b:2"]),
        run(
            "127.0.0.1:8080",
            100,
            &[],
            Backing::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()])
        )
    );
    assert_eq!(
        args(&["--baseline-store"]),
        run("127.0.0.1:8080", 100, &[], Backing::Baseline)
    );
    assert_eq!(
        args(&[
            "--create-limit",
            "3",
            "--ipv6-prefix=48",
            "--trusted-proxy",
            "::ffff:10.0.0.1"
        ]),
        Ok(Cli::Run {
            addr: addr("127.0.0.1:8080"),
            config: Config {
                create_limit: 3,
                ipv6_prefix: 48,
                // IPv4-mapped, read as IPv4.
                trusted_proxies: vec!["10.0.0.1".parse().unwrap()],
                ..Config::limit(100)
            },
            backing: memory(100_000),
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
        &["--max-keys", "0"],
        &["--max-bytes", "0"],
        &["--max-bytes", "lots"],
        &["--eviction", "lfu"],
        &["--eviction"],
        &["--create-limit", "0"],
        &["--ipv6-prefix", "0"],
        &["--ipv6-prefix", "129"],
        &["--ipv6-prefix", "/64"],
        &["--trusted-proxy", "a.proxy"],
        &["--redis", "redis://x", "--redis", "redis://y"],
        &["--redis-cluster", " , "],
        &["--data-dir", "d", "--redis", "redis://x"],
        &["--baseline-store", "--redis", "redis://x"],
        &["--max-keys", "5", "--baseline-store"],
        &["extra"],
    ] {
        assert!(args(bad).is_err(), "{bad:?} accepted");
    }
    for flag in [
        "--create-limit",
        "--ipv6-prefix",
        "--rate-limit",
        "--max-keys",
        "--max-bytes",
        "--eviction",
        "--data-dir",
        "--trusted-proxy",
        "--redis",
        "--redis-cluster",
    ] {
        assert!(service::USAGE.contains(flag), "{flag}");
    }
}

/// Start-up errors say what failed, in a few words, and never print a password.
#[test]
fn start_up_errors_say_what_failed() {
    let backend = |reason: &str| scriptling_kv::Error::Backend {
        backend: "redis".into(),
        reason: reason.into(),
    };
    let cases = [
        (
            "redis://127.0.0.1:1",
            "connection refused (Connection refused (os error 111)): the command was not sent; \
             the next command reconnects",
            "cannot connect to redis://127.0.0.1:1: connection refused",
        ),
        (
            "redis://:secret@127.0.0.1:6380/2",
            "WRONGPASS invalid username-password pair or user is disabled.",
            "cannot connect to redis://:***@127.0.0.1:6380/2: authentication failed",
        ),
        (
            "redis://bob:secret@a:1,redis://bob:secret@b:2",
            "AuthenticationFailed: Password authentication failed",
            "cannot connect to redis://bob:***@a:1,redis://bob:***@b:2: authentication failed",
        ),
        (
            "rediss://h:1",
            "timed out after 5s; the next command reconnects",
            "cannot connect to rediss://h:1: timed out",
        ),
        (
            "redis://h:1",
            "unexpected reply; the next command reconnects",
            "cannot connect to redis://h:1: unexpected reply",
        ),
    ];
    for (url, reason, line) in cases {
        assert_eq!(service::cannot_connect(url, &backend(reason)), line);
    }
}

/// Two replicas of the service on one Redis share one rate limit and one session table: a
/// session created on one is known to the other, and requests to both count in one window.
/// Needs the servers of `scripts/with-redis.sh`: fails without them (never passes silently).
#[test]
fn two_replicas_on_one_redis_share_sessions_and_limits() {
    let Ok(url) = std::env::var("SCRIPTLING_KV_REDIS_URL") else {
        panic!(
            "no Redis: SCRIPTLING_KV_REDIS_URL is not set. Run under scripts/with-redis.sh \
             (`scripts/with-redis.sh cargo test -p scriptling-kv-service --test http_service`)"
        );
    };
    let namespace = format!("http-replicas-{}", std::process::id());
    let replica = |url: String, namespace: String| {
        let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let kv = scriptling_kv_redis::RedisStore::connect(&url, &namespace)
                    .await
                    .expect("Redis is up");
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let config = service::Config {
                    create_limit: 20,
                    ..service::Config::limit(20)
                };
                service::serve(listener, kv, config, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().expect("replica started");
        (format!("http://{addr}"), stop, thread)
    };
    let (a, stop_a, thread_a) = replica(url.clone(), namespace.clone());
    let (b, stop_b, thread_b) = replica(url, namespace);
    let agent = agent();
    // A session made on replica A is known on replica B.
    let token = login(&agent, &a, "erin");
    let bearer = format!("Bearer {token}");
    get(&agent, &format!("{b}/me"), &[("Authorization", &bearer)])
        .assert_json(200, r#"{"user":"erin"}"#);
    post(
        &agent,
        &format!("{b}/logout"),
        None,
        "",
        &[("Authorization", &bearer)],
    )
    .assert_json(200, r#"{"ok":true}"#);
    get(&agent, &format!("{a}/me"), &[("Authorization", &bearer)]).assert_unauthorized(BAD_SESSION);
    // A job started on A is running for B too.
    post(&agent, &format!("{a}/jobs/shared"), None, "", &[])
        .assert_json(202, r#"{"job":"shared","status":"started"}"#);
    post(&agent, &format!("{b}/jobs/shared"), None, "", &[])
        .assert_json(409, r#"{"error":"job is already running","job":"shared"}"#);
    // Concurrent misses on both replicas: at most one computation per replica (the others
    // wait for it), and every reply carries the value stored first.
    let replies: Vec<Reply> = (0..8)
        .map(|i| {
            let url = format!("{}/cached/feed", if i % 2 == 0 { &a } else { &b });
            std::thread::spawn(move || get(&crate::agent(), &url, &[]))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let sources: Vec<&str> = replies
        .iter()
        .map(|r| r.header("x-cache").unwrap())
        .collect();
    let at: Vec<i64> = replies
        .iter()
        .zip(&sources)
        .map(|(r, src)| assert_cached(r, "feed", src))
        .collect();
    let misses = sources.iter().filter(|s| **s == "MISS").count();
    assert!((1..=2).contains(&misses), "{sources:?}");
    assert!(
        sources
            .iter()
            .all(|s| ["MISS", "COALESCED", "HIT"].contains(s)),
        "{sources:?}"
    );
    assert!(at.iter().all(|&t| t == at[0]), "one value for all: {at:?}");
    for replica in [&a, &b] {
        let reply = get(&agent, &format!("{replica}/cached/feed"), &[]);
        assert_eq!(assert_cached(&reply, "feed", "HIT"), at[0]);
    }
    // One limit of 20 across both replicas, every request counted: 16 so far.
    get(&agent, &format!("{a}/"), &[]).assert_text(200, &hello(17, 20));
    get(&agent, &format!("{b}/"), &[]).assert_text(200, &hello(18, 20));
    get(&agent, &format!("{a}/"), &[]).assert_text(200, &hello(19, 20));
    get(&agent, &format!("{b}/"), &[]).assert_text(200, &hello(20, 20));
    get(&agent, &format!("{a}/"), &[]).assert_error(429, RATE_LIMITED);
    get(&agent, &format!("{b}/stats"), &[]).assert_error(429, RATE_LIMITED);
    drop((stop_a, stop_b));
    thread_a.join().unwrap().unwrap();
    thread_b.join().unwrap().unwrap();
}

/// The service as a process: the built binary, its stdout and stderr, and its signals.
#[cfg(unix)]
mod process {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{IpAddr, SocketAddr, TcpStream};
    use std::path::PathBuf;
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::sync::{mpsc, Arc, Condvar, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use super::{readme_session, service, Logged};

    /// How long any one wait on the child may take (a hang guard, not a timing assertion:
    /// generous for a loaded 2-core machine).
    const WAIT: Duration = Duration::from_secs(30);

    const SHUTDOWN_LINE: &str = "shutdown signal received, finishing requests in flight";
    const STOPPED_LINE: &str = "stopped";

    /// The service's binary, which Cargo builds for this integration test.
    fn service_binary() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_http_service"))
    }

    /// What the child has written to stderr so far, line by line, and whether it has closed it.
    #[derive(Default)]
    struct Stderr {
        lines: Vec<String>,
        closed: bool,
    }

    /// The service binary running as a child process on an ephemeral loopback port. Killed
    /// when dropped, if it is still running (a failing test leaves no process behind).
    struct Service {
        child: Child,
        addr: SocketAddr,
        base: String,
        stderr: Arc<(Mutex<Stderr>, Condvar)>,
    }

    impl Service {
        /// Starts the binary with `--addr 127.0.0.1:0` and `args`, and waits for the line
        /// `listening on http://127.0.0.1:PORT` on its stdout.
        fn start(args: &[&str]) -> Service {
            Service::start_on("127.0.0.1:0", args)
        }

        /// [`Service::start`] listening on `addr` (port 0); the service is reached on
        /// 127.0.0.1 at the port it reports (`[::]` is dual-stack).
        fn start_on(listen: &str, args: &[&str]) -> Service {
            let mut child = Command::new(service_binary())
                .args(["--addr", listen])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cannot start the service binary");
            let stdout = child.stdout.take().expect("piped stdout");
            let (first_line, listening) = mpsc::channel();
            thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                let _ = first_line.send(lines.next());
                // Nothing else is expected on stdout; keep the pipe drained anyway.
                for _ in lines {}
            });
            let stderr = Arc::new((Mutex::new(Stderr::default()), Condvar::new()));
            let pipe = child.stderr.take().expect("piped stderr");
            let shared = stderr.clone();
            thread::spawn(move || {
                let (state, changed) = &*shared;
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    state.lock().unwrap().lines.push(line);
                    changed.notify_all();
                }
                state.lock().unwrap().closed = true;
                changed.notify_all();
            });
            let mut service = Service {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                base: String::new(),
                stderr,
            };
            let line = match listening.recv_timeout(WAIT) {
                Ok(Some(Ok(line))) => line,
                other => panic!(
                    "no first line on stdout within {WAIT:?} ({other:?}); stderr: {:?}",
                    service.stderr_lines()
                ),
            };
            let base = line
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("first stdout line: {line:?}"));
            let addr: SocketAddr = base
                .strip_prefix("http://")
                .and_then(|a| a.split(' ').next())
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("not `listening on http://HOST:PORT`: {line:?}"));
            let asked: SocketAddr = listen.parse().expect("an IP literal");
            assert_eq!(addr.ip(), asked.ip(), "{line:?}");
            assert_ne!(
                addr.port(),
                0,
                "the real port, not the one asked for: {line:?}"
            );
            service.addr = SocketAddr::from(([127, 0, 0, 1], addr.port()));
            service.base = format!("http://{}", service.addr);
            service
        }

        fn stderr_lines(&self) -> Vec<String> {
            self.stderr.0.lock().unwrap().lines.clone()
        }

        /// Waits until the child has written `line` to stderr.
        fn wait_for_stderr_line(&self, line: &str) {
            let (state, changed) = &*self.stderr;
            let (state, timeout) = changed
                .wait_timeout_while(state.lock().unwrap(), WAIT, |s| {
                    !s.closed && !s.lines.iter().any(|l| l == line)
                })
                .unwrap();
            assert!(
                !timeout.timed_out() && state.lines.iter().any(|l| l == line),
                "no {line:?} on stderr within {WAIT:?}: {:?}",
                state.lines
            );
        }

        /// Sends SIGTERM, as a process manager would: with the shell's `kill` builtin (no
        /// `libc` dependency, and `sh` is there even where the `kill` binary (procps) is not).
        fn terminate(&self) {
            let status = Command::new("sh")
                .args(["-c", &format!("kill -TERM {}", self.child.id())])
                .status()
                .expect("cannot run sh");
            assert!(status.success(), "kill -TERM failed: {status}");
        }

        /// Waits for the child to exit, then for the end of its stderr; returns its exit status
        /// and every line it wrote to stderr.
        fn finish(mut self) -> (ExitStatus, Vec<String>) {
            let since = Instant::now();
            let status = loop {
                if let Some(status) = self.child.try_wait().expect("try_wait") {
                    break status;
                }
                assert!(
                    since.elapsed() < WAIT,
                    "the process did not exit within {WAIT:?}; stderr: {:?}",
                    self.stderr_lines()
                );
                thread::sleep(Duration::from_millis(10));
            };
            let (state, changed) = &*self.stderr;
            let (state, _) = changed
                .wait_timeout_while(state.lock().unwrap(), WAIT, |s| !s.closed)
                .unwrap();
            assert!(state.closed, "stderr still open {WAIT:?} after the exit");
            (status, state.lines.clone())
        }
    }

    impl Drop for Service {
        fn drop(&mut self) {
            if let Ok(None) = self.child.try_wait() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }

    /// A request log line, `METHOD PATH STATUS ELAPSEDus CLIENT` (e.g.
    /// `GET / 200 38us 127.0.0.1`), parsed by hand: `None` unless it has exactly that shape.
    fn parse_log_line(line: &str) -> Option<(Logged, u64)> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [method, path, status, elapsed, client] = fields[..] else {
            return None;
        };
        let method = ["GET", "POST"].into_iter().find(|&m| m == method)?;
        if !path.starts_with('/') || path.bytes().any(|b| !b.is_ascii_graphic()) {
            return None;
        }
        if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let status: u16 = status.parse().ok()?;
        let micros = elapsed.strip_suffix("us")?;
        if micros.is_empty() || !micros.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let micros: u64 = micros.parse().ok()?;
        client.parse::<IpAddr>().ok()?;
        // Leaked to give the `'static` strs of `Logged`: a few bytes per line, in a test.
        let path: &'static str = Box::leak(path.to_owned().into_boxed_str());
        let client: &'static str = Box::leak(client.to_owned().into_boxed_str());
        Some(((method, path, status, client), micros))
    }

    fn parse_or_fail(line: &str) -> (Logged, u64) {
        parse_log_line(line).unwrap_or_else(|| {
            panic!("not a request log line `METHOD PATH STATUS ELAPSEDus CLIENT`: {line:?}")
        })
    }

    #[test]
    fn log_line_parser_accepts_only_the_log_shape() {
        assert_eq!(
            parse_log_line("GET / 200 38us 127.0.0.1"),
            Some((("GET", "/", 200, "127.0.0.1"), 38))
        );
        assert_eq!(
            parse_log_line("POST /login 400 0us ::1"),
            Some((("POST", "/login", 400, "::1"), 0))
        );
        for bad in [
            "GET / 200 38 127.0.0.1",
            "GET / 200 us 127.0.0.1",
            "GET / 200 38us",
            "GET / 200 38us 127.0.0.1 extra",
            "GET  / 200 38us 127.0.0.1",
            "get / 200 38us 127.0.0.1",
            "GET x 200 38us 127.0.0.1",
            "GET / 20 38us 127.0.0.1",
            "GET / 200 38µs 127.0.0.1",
            "GET / 200 38us localhost",
            SHUTDOWN_LINE,
            STOPPED_LINE,
        ] {
            assert_eq!(parse_log_line(bad), None, "{bad:?}");
        }
    }

    /// The binary serves README's session with the replies README shows, writes one log line per
    /// request to stderr in the order they were served, and on SIGTERM says so, stops, and exits
    /// with status 0.
    #[test]
    fn binary_serves_logs_each_request_and_stops_on_sigterm() {
        let service = Service::start(&["--rate-limit", "15"]);
        let sent = readme_session(&service.base);
        service.terminate();
        let (status, stderr) = service.finish();
        assert_eq!(status.code(), Some(0), "{status}; stderr: {stderr:#?}");
        assert_eq!(
            stderr.len(),
            sent.len() + 2,
            "one line per request, then the shutdown lines: {stderr:#?}"
        );
        let (requests, end) = stderr.split_at(sent.len());
        let logged: Vec<(Logged, u64)> = requests.iter().map(|l| parse_or_fail(l)).collect();
        assert_eq!(
            logged.iter().map(|&(l, _)| l).collect::<Vec<_>>(),
            sent,
            "{stderr:#?}"
        );
        // The time taken is measured: the cache miss waited for the upstream call.
        let miss = logged
            .iter()
            .find(|((_, path, _, _), _)| *path == "/cached/report")
            .expect("the cache miss is logged");
        let upstream = service::UPSTREAM_DELAY.as_micros() as u64;
        assert!(miss.1 >= upstream, "{miss:?}: under {upstream}us");
        assert_eq!(end, [SHUTDOWN_LINE, STOPPED_LINE], "{stderr:#?}");
    }

    /// `--data-dir`: log in and count some requests, stop the service with SIGTERM, start it
    /// again on the same directory: the session and the count are still there.
    #[test]
    fn sessions_and_windows_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("skv-http-restart-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data_dir = dir.to_str().expect("UTF-8 temp path");
        let agent = super::agent();
        let first = Service::start(&["--rate-limit", "10", "--data-dir", data_dir]);
        let token = super::login(&agent, &first.base, "frank");
        // The login was request 1 of the window.
        for n in 2..=4 {
            super::get(&agent, &format!("{}/", first.base), &[])
                .assert_text(200, &super::hello(n, 10));
        }
        first.terminate();
        let (status, stderr) = first.finish();
        assert_eq!(status.code(), Some(0), "{status}; stderr: {stderr:#?}");
        assert!(
            stderr.iter().any(|l| l == "saved 3 keys"),
            "the session, the window and the create counter saved at shutdown: {stderr:#?}"
        );
        assert!(
            stderr.first().is_some_and(
                |l| l.starts_with("no snapshot at ") && l.ends_with(", starting empty")
            ),
            "the first start says there was nothing to load: {stderr:#?}"
        );
        let second = Service::start(&["--rate-limit", "10", "--data-dir", data_dir]);
        let bearer = format!("Bearer {token}");
        super::get(
            &agent,
            &format!("{}/me", second.base),
            &[("Authorization", &bearer)],
        )
        .assert_json(200, r#"{"user":"frank"}"#);
        super::get(&agent, &format!("{}/", second.base), &[])
            .assert_text(200, &super::hello(6, 10));
        second.terminate();
        let (status, stderr) = second.finish();
        assert_eq!(status.code(), Some(0), "{status}; stderr: {stderr:#?}");
        assert!(
            stderr.iter().any(|l| l.starts_with("loaded 3 keys from ")),
            "{stderr:#?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `--data-dir` over a damaged snapshot: the service says it could not load it and where it
    /// moved it, starts empty and serves, and the damaged file is kept for inspection, not
    /// overwritten.
    #[test]
    fn a_corrupt_snapshot_is_moved_aside_and_the_service_starts_empty() {
        let dir = std::env::temp_dir().join(format!("skv-http-corrupt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let garbage = b"not a snapshot, just bytes that happen to be here".to_vec();
        std::fs::write(dir.join("kv.snap"), &garbage).expect("write garbage");
        let data_dir = dir.to_str().expect("UTF-8 temp path");
        let service = Service::start(&["--rate-limit", "10", "--data-dir", data_dir]);
        super::get(&super::agent(), &format!("{}/", service.base), &[])
            .assert_text(200, &super::hello(1, 10));
        service.terminate();
        let (status, stderr) = service.finish();
        assert_eq!(status.code(), Some(0), "{status}; stderr: {stderr:#?}");
        assert!(
            stderr[0].starts_with("persistence: ") && stderr[0].contains("is not a valid snapshot"),
            "the load error first: {stderr:#?}"
        );
        let moved_line = &stderr[1];
        assert!(
            moved_line.starts_with("moved ") && moved_line.ends_with(", starting empty"),
            "{stderr:#?}"
        );
        let moved: Vec<_> = std::fs::read_dir(&dir)
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.to_string_lossy().contains("kv.snap.corrupt-"))
            .collect();
        assert_eq!(moved.len(), 1, "{moved:?}; {stderr:#?}");
        assert!(
            moved_line.contains(&*moved[0].to_string_lossy()),
            "{moved_line}"
        );
        assert_eq!(std::fs::read(&moved[0]).expect("moved file"), garbage);
        assert!(stderr.iter().any(|l| l == "saved 1 key"), "{stderr:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// SIGTERM as soon as the service has said where it listens (a supervisor stopping a
    /// service it has just started, or a script that waits for that line) stops it the same
    /// graceful way: exit status 0, the shutdown line, then `stopped`.
    ///
    /// A regression test: the handlers used to be installed only when the task awaiting the
    /// shutdown signal was first polled, after `listening on ...` was printed, and a SIGTERM in
    /// between killed the process (31 of 40 runs).
    #[test]
    fn sigterm_right_after_listening_stops_gracefully() {
        for _ in 0..20 {
            let service = Service::start(&[]);
            service.terminate();
            let (status, stderr) = service.finish();
            assert_eq!(status.code(), Some(0), "{status}; stderr: {stderr:?}");
            assert_eq!(stderr, [SHUTDOWN_LINE, STOPPED_LINE]);
        }
    }

    /// Reads from `conn` up to and including the first `\r\n\r\n` (the end of a head).
    fn read_head(conn: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match conn.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                other => panic!(
                    "connection ended or timed out ({other:?}) after {:?}",
                    String::from_utf8_lossy(&head)
                ),
            }
        }
        String::from_utf8(head).expect("an ASCII head")
    }

    /// A request in flight when SIGTERM arrives is served to the end: the service stops
    /// accepting connections, finishes the request (200 and the full body), then exits with
    /// status 0, its stderr saying so in that order.
    ///
    /// The request is held in flight deterministically, with no sleeps: it is a `POST /login`
    /// sent with `Expect: 100-continue` and no body; the server answers `100 Continue` only once
    /// the handler starts reading the body, so from then on the request is inside the service.
    /// Only after the service has reported the signal and closed its listener is the body sent.
    /// (The signal is sent once a request has reached a handler: by then the service has long
    /// installed its SIGTERM handler; see `sigterm_right_after_listening_stops_gracefully`.)
    #[test]
    fn sigterm_lets_the_request_in_flight_finish() {
        let service = Service::start(&[]);
        let addr = service.addr;
        let body = r#"{"user": "erin"}"#;
        let mut conn = TcpStream::connect(addr).expect("connect");
        conn.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            conn,
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .expect("send the head");
        assert_eq!(read_head(&mut conn), "HTTP/1.1 100 Continue\r\n\r\n");

        service.terminate();
        service.wait_for_stderr_line(SHUTDOWN_LINE);
        // New connections are refused once the listener is closed (soon after that line).
        let since = Instant::now();
        while TcpStream::connect(addr).is_ok() {
            assert!(
                since.elapsed() < WAIT,
                "still accepting connections {WAIT:?} after the shutdown signal"
            );
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            service.stderr_lines(),
            [SHUTDOWN_LINE],
            "nothing finished or stopped yet"
        );

        conn.write_all(body.as_bytes()).expect("send the body");
        let head = read_head(&mut conn);
        let mut lines = head.trim_end().split("\r\n");
        assert_eq!(lines.next(), Some("HTTP/1.1 200 OK"), "{head:?}");
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (name, value) = l.split_once(':').expect("a header line");
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("content-type"), Some(super::JSON), "{head:?}");
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("a Content-Length");
        let mut reply = vec![0u8; length];
        conn.read_exact(&mut reply).expect("the full body");
        let reply = String::from_utf8(reply).expect("a UTF-8 body");
        let token = reply
            .strip_prefix(r#"{"token":""#)
            .and_then(|r| r.strip_suffix(r#""}"#))
            .unwrap_or_else(|| panic!("not a token reply: {reply:?}"));
        assert_eq!(token.len(), 2 * service::TOKEN_BYTES, "{reply:?}");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{reply:?}"
        );

        let (status, stderr) = service.finish();
        assert_eq!(status.code(), Some(0), "{status}; stderr: {stderr:#?}");
        assert_eq!(stderr.len(), 3, "{stderr:#?}");
        assert_eq!(stderr[0], SHUTDOWN_LINE, "{stderr:#?}");
        assert_eq!(
            parse_or_fail(&stderr[1]).0,
            ("POST", "/login", 200, "127.0.0.1"),
            "{stderr:#?}"
        );
        assert_eq!(stderr[2], STOPPED_LINE, "{stderr:#?}");
    }

    /// The issue's flood, on the binary: `--rate-limit 3 --max-keys 50`, a session made first,
    /// then 200 clients (through the trusted proxy) that each use their 3 requests, get a `429`,
    /// and send 20 `POST /login` more. Every one of those logins is a `429` (a client over its
    /// limit creates nothing), the store stays within its 50 keys, and the first session is
    /// still there.
    #[test]
    fn a_flood_after_a_429_creates_nothing_and_leaves_sessions_alone() {
        const CLIENTS: usize = 200;
        const SENDERS: usize = 4;
        let service = Service::start(&[
            "--rate-limit",
            "3",
            "--max-keys",
            "50",
            "--trusted-proxy",
            "127.0.0.1",
        ]);
        let agent = super::agent();
        let victim = super::login(&agent, &service.base, "victim");
        let base = Arc::new(service.base.clone());
        let senders: Vec<_> = (0..SENDERS)
            .map(|t| {
                let base = base.clone();
                thread::spawn(move || {
                    let agent = super::agent();
                    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
                    let body = r#"{"user": "mallory"}"#;
                    for i in (t..CLIENTS).step_by(SENDERS) {
                        let client = format!("10.7.{}.{}", i / 250, i % 250);
                        let xff = [("X-Forwarded-For", client.as_str())];
                        for n in 1..=3 {
                            super::get(&agent, &format!("{base}/"), &xff)
                                .assert_text(200, &super::hello(n, 3));
                        }
                        super::get(&agent, &format!("{base}/"), &xff)
                            .assert_error(429, super::RATE_LIMITED);
                        for _ in 0..20 {
                            let url = format!("{base}/login");
                            let reply =
                                super::post(&agent, &url, Some("application/json"), body, &xff);
                            *statuses.entry(reply.status).or_default() += 1;
                        }
                    }
                    statuses
                })
            })
            .collect();
        let mut logins = std::collections::BTreeMap::<u16, usize>::new();
        for s in senders {
            for (status, n) in s.join().unwrap() {
                *logins.entry(status).or_default() += n;
            }
        }
        assert_eq!(logins, [(429, CLIENTS * 20)].into());
        let bearer = format!("Bearer {victim}");
        super::get(
            &agent,
            &format!("{}/me", service.base),
            &[("Authorization", &bearer)],
        )
        .assert_json(200, r#"{"user":"victim"}"#);
        let stats = super::get(&agent, &format!("{}/stats", service.base), &[]).json();
        assert!(stats["keys"].as_u64().unwrap() <= 50, "{stats}");
        assert!(stats["evicted"].as_u64().unwrap() >= 150, "{stats}");
        service.terminate();
        let (status, _) = service.finish();
        assert_eq!(status.code(), Some(0));
    }

    /// A dual-stack listener (`--addr [::]:0`) sees the IPv4 proxy 127.0.0.1 as
    /// `::ffff:127.0.0.1`: still the trusted proxy. `X-Forwarded-For: 6.6.6.N, 203.0.113.5:4711`
    /// is charged to 203.0.113.5 and `7.7.7.N, unknown` to the proxy: no fresh bucket per `N`.
    /// The log shows the clients as IPv4 addresses.
    #[test]
    fn forwarded_for_forms_on_a_dual_stack_listener() {
        let service = Service::start_on(
            "[::]:0",
            &["--rate-limit", "3", "--trusted-proxy", "127.0.0.1"],
        );
        let agent = super::agent();
        let root = format!("{}/", service.base);
        let mut sent: Vec<Logged> = Vec::new();
        for (form, client) in [
            ("6.6.6.{n}, 203.0.113.5:4711", "203.0.113.5"),
            ("7.7.7.{n}, unknown", "127.0.0.1"),
            ("[2001:db8:6:6::{n}]:4711", "2001:db8:6:6::"),
        ] {
            for n in 1..=4 {
                let xff = form.replace("{n}", &n.to_string());
                let reply = super::get(&agent, &root, &[("X-Forwarded-For", &xff)]);
                if n <= 3 {
                    reply.assert_text(200, &super::hello(n, 3));
                } else {
                    reply.assert_error(429, super::RATE_LIMITED);
                }
                let shown = if client.ends_with("::") {
                    format!("{client}{n}")
                } else {
                    client.to_owned()
                };
                let shown: &'static str = Box::leak(shown.into_boxed_str());
                sent.push(("GET", "/", if n <= 3 { 200 } else { 429 }, shown));
            }
        }
        // The proxy's own requests share the bucket of the `unknown` ones.
        super::get(&agent, &root, &[]).assert_error(429, super::RATE_LIMITED);
        sent.push(("GET", "/", 429, "127.0.0.1"));
        service.terminate();
        let (status, stderr) = service.finish();
        assert_eq!(status.code(), Some(0), "{stderr:#?}");
        let logged: Vec<Logged> = stderr[..sent.len()]
            .iter()
            .map(|l| parse_or_fail(l).0)
            .collect();
        assert_eq!(logged, sent, "{stderr:#?}");
    }

    // -----------------------------------------------------------------------------------------
    // On Redis: servers of this test's own (the binaries and a free port from
    // scripts/with-redis.sh). These fail, never pass, when run without it.

    /// The value of `var`, which scripts/with-redis.sh exports; a panic without it.
    fn redis_env(var: &str) -> String {
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => v,
            _ => panic!(
                "no Redis: {var} is not set. Run the Redis tests under scripts/with-redis.sh \
                 (`scripts/with-redis.sh cargo test -p scriptling-kv-service --test http_service`)"
            ),
        }
    }

    /// The tests below share one port (`SCRIPTLING_KV_REDIS_FAULT_PORT`): one at a time.
    static OWN_REDIS: Mutex<()> = Mutex::new(());

    /// A redis-server of this test's own on `SCRIPTLING_KV_REDIS_FAULT_PORT`, with the debug
    /// command enabled (`DEBUG POPULATE`); shut down when dropped.
    struct OwnRedis {
        port: u16,
        dir: PathBuf,
        server: String,
        cli: String,
    }

    impl OwnRedis {
        fn start() -> OwnRedis {
            let port: u16 = redis_env("SCRIPTLING_KV_REDIS_FAULT_PORT").parse().unwrap();
            let tmp = PathBuf::from(redis_env("SCRIPTLING_KV_REDIS_TMP"));
            let dir = tmp.join(format!("http-service-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let redis = OwnRedis {
                port,
                dir,
                server: redis_env("SCRIPTLING_KV_REDIS_SERVER"),
                cli: redis_env("SCRIPTLING_KV_REDIS_CLI"),
            };
            redis.launch();
            redis
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }

        fn pidfile(&self) -> PathBuf {
            self.dir.join("redis.pid")
        }

        fn launch(&self) {
            let status = Command::new(&self.server)
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "yes"])
                .args(["--enable-debug-command", "local"])
                .arg("--pidfile")
                .arg(self.pidfile())
                .arg("--dir")
                .arg(&self.dir)
                .arg("--logfile")
                .arg(self.dir.join("redis.log"))
                .status()
                .unwrap();
            assert!(status.success(), "redis-server did not start");
            let since = Instant::now();
            while !self.cli(&["ping"]).contains("PONG") {
                assert!(since.elapsed() < WAIT, "no PONG from port {}", self.port);
                thread::sleep(Duration::from_millis(20));
            }
        }

        fn cli(&self, args: &[&str]) -> String {
            let out = Command::new(&self.cli)
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(args)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        }

        /// `shutdown nosave`, and waits until the process is gone (it removes its pidfile).
        fn shutdown(&self) {
            self.cli(&["shutdown", "nosave"]);
            let since = Instant::now();
            while self.pidfile().exists() {
                assert!(since.elapsed() < WAIT, "redis-server did not stop");
                thread::sleep(Duration::from_millis(20));
            }
        }

        /// The calls of `command` so far (`INFO commandstats`; 0 if never called).
        fn calls(&self, command: &str) -> u64 {
            let info = self.cli(&["info", "commandstats"]);
            let prefix = format!("cmdstat_{command}:calls=");
            info.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .and_then(|rest| rest.split(',').next())
                .map_or(0, |n| n.parse().unwrap())
        }
    }

    impl Drop for OwnRedis {
        fn drop(&mut self) {
            if self.pidfile().exists() {
                self.cli(&["shutdown", "nosave"]);
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// `/stats` on Redis walks nothing: on a database holding 300,000 keys of other
    /// applications, 20 requests to `/stats` send no `SCAN` (a count of the namespace, what
    /// `/stats` used to do, sends hundreds: shown on the same server, so this check can fail),
    /// and report `"keys": null`.
    #[test]
    fn stats_on_redis_walk_nothing() {
        let _one = OWN_REDIS.lock().unwrap_or_else(|e| e.into_inner());
        let redis = OwnRedis::start();
        assert!(redis
            .cli(&["debug", "populate", "300000", "foreign"])
            .contains("OK"));
        let service = Service::start(&["--rate-limit", "1000", "--redis", &redis.url()]);
        let agent = super::agent();
        let url = format!("{}/stats", service.base);
        let scans = redis.calls("scan");
        for _ in 0..20 {
            super::get(&agent, &url, &[]).assert_json(200, r#"{"backend":"redis","keys":null}"#);
        }
        assert_eq!(redis.calls("scan"), scans, "/stats sent SCAN");
        // What a count costs: `len()` on the same server walks the database.
        let counted = tokio::runtime::Runtime::new().unwrap().block_on(async {
            let kv = scriptling_kv_redis::RedisStore::connect(&redis.url(), "http_service")
                .await
                .unwrap();
            scriptling_kv::AsyncKv::len(&kv).await.unwrap()
        });
        assert_eq!(counted, 1, "the window of /stats");
        assert!(
            redis.calls("scan") >= scans + 100,
            "a count scans the database"
        );
        service.terminate();
        let (status, _) = service.finish();
        assert_eq!(status.code(), Some(0));
    }

    /// Redis stopped mid-run: every route answers `503` with `Retry-After` and the generic body
    /// `{"error":"service unavailable"}`, the cause only in the log; Redis back, the service
    /// serves again by itself. Started with Redis down, or with a wrong password, the service
    /// exits with status 1 and one line that says what failed.
    #[test]
    fn redis_outages_give_a_generic_503_and_start_up_errors_say_what_failed() {
        let _one = OWN_REDIS.lock().unwrap_or_else(|e| e.into_inner());
        let redis = OwnRedis::start();
        let service = Service::start(&["--rate-limit", "1000", "--redis", &redis.url()]);
        let agent = super::agent();
        let root = format!("{}/", service.base);
        super::get(&agent, &root, &[]).assert_text(200, &super::hello(1, 1000));
        redis.shutdown();
        for path in ["/", "/stats", "/me", "/cached/x"] {
            let reply = super::get(&agent, &format!("{}{path}", service.base), &[]);
            reply.assert_error(503, "service unavailable");
            assert_eq!(reply.header("retry-after"), Some("5"), "{reply:?}");
        }
        super::post(
            &agent,
            &format!("{}/login", service.base),
            Some("application/json"),
            r#"{"user": "bob"}"#,
            &[],
        )
        .assert_error(503, "service unavailable");
        redis.launch();
        let since = Instant::now();
        loop {
            let reply = super::get(&agent, &root, &[]);
            if reply.status == 200 {
                break;
            }
            reply.assert_error(503, "service unavailable");
            assert!(since.elapsed() < WAIT, "no reconnection within {WAIT:?}");
            thread::sleep(Duration::from_millis(50));
        }
        service.terminate();
        let (status, stderr) = service.finish();
        assert_eq!(status.code(), Some(0), "{stderr:#?}");
        let causes = stderr
            .iter()
            .filter(|l| l.starts_with("store unavailable: "))
            .count();
        assert!(causes >= 5, "the causes are logged: {stderr:#?}");

        // Start-up: nothing listening.
        redis.shutdown();
        let out = Command::new(service_binary())
            .args(["--addr", "127.0.0.1:0", "--redis", &redis.url()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "http_service: cannot connect to {}: connection refused\n",
                redis.url()
            )
        );
        // Start-up: a wrong password (the password server of scripts/with-redis.sh).
        let auth = redis_env("SCRIPTLING_KV_REDIS_AUTH_ADDR");
        let url = format!("redis://:wrong-password@{auth}");
        let out = Command::new(service_binary())
            .args(["--addr", "127.0.0.1:0", "--redis", &url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("http_service: cannot connect to redis://:***@{auth}: authentication failed\n")
        );
    }

    /// `--max-bytes` bounds the store's accounted bytes on the binary: 300 logins (a session each,
    /// 64-character names, one client each through a trusted proxy) into `--max-bytes 40000`
    /// leave at most the keys that fit (each session costs its key, its value and the fixed
    /// overhead, over 300 bytes), with `--eviction lru`; the store's own flags are refused, by
    /// name, with `--redis`, and the process exits with the usage error (2) before connecting.
    #[test]
    fn max_bytes_and_eviction_flags_bound_the_binary_and_are_refused_with_redis() {
        let service = Service::start(&[
            "--max-bytes",
            "40000",
            "--eviction",
            "lru",
            "--trusted-proxy",
            "127.0.0.1",
        ]);
        let agent = super::agent();
        let name = "n".repeat(64);
        let body = format!(r#"{{"user": "{name}"}}"#);
        for i in 0..300 {
            let client = format!("10.9.{}.{}", i / 250, i % 250);
            let url = format!("{}/login", service.base);
            let reply = super::post(
                &agent,
                &url,
                Some("application/json"),
                &body,
                &[("X-Forwarded-For", client.as_str())],
            );
            assert_eq!(reply.status, 200, "login {i}");
        }
        let stats = super::get(&agent, &format!("{}/stats", service.base), &[]).json();
        let keys = stats["keys"].as_u64().unwrap();
        // 300 sessions and 600 rate/create windows were written; at most 40000 / 300 fit.
        assert!(keys <= 40_000 / 300, "{stats}");
        assert!(
            stats["evicted"].as_u64().unwrap() >= 900 - 40_000 / 300,
            "{stats}"
        );
        service.terminate();
        let (status, _) = service.finish();
        assert_eq!(status.code(), Some(0));

        let out = Command::new(service_binary())
            .args([
                "--addr",
                "127.0.0.1:0",
                "--max-bytes",
                "100",
                "--redis",
                "redis://127.0.0.1:1",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--max-bytes configure the in-process store"),
            "{stderr}"
        );
    }
}
