//! The rate-limit layer and its `Limiter`: exact counts under concurrent requests (in process,
//! and across two replicas sharing one Redis), GCRA against a schedule computed by hand on a
//! test clock, the `RateLimit-*` headers on every response, and who the client is (trusted
//! proxies, spoofed `X-Forwarded-For`). The Redis tests fail without `scripts/with-redis.sh`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use scriptling_kv::{AsyncKv, SharedKv, Ttl, Value};
use scriptling_kv_tower::{ClientAddr, Decision, Limiter, RateLimitLayer};
use tower::ServiceExt;

/// A router whose one route answers `200` with the request's count in its window, and
/// `/fail` that answers `500`, behind `layer`; `calls` counts the handler runs.
fn app<K: AsyncKv + Clone + 'static>(layer: RateLimitLayer<K>, calls: Arc<AtomicUsize>) -> Router {
    let counted = calls.clone();
    Router::new()
        .route(
            "/",
            get(move |Extension(d): Extension<Decision>| {
                counted.fetch_add(1, Ordering::SeqCst);
                async move { format!("{} {}", d.client, d.used) }
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .layer(layer)
}

/// What a reply says: status, `RateLimit-Limit`, `-Remaining`, `-Reset`, `Retry-After`.
type Seen = (
    u16,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn send(app: &Router, req: axum::http::Request<axum::body::Body>) -> Seen {
    let reply = app.clone().oneshot(req).await.unwrap();
    let h = |name: &str| {
        reply
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (
        reply.status().as_u16(),
        h("ratelimit-limit"),
        h("ratelimit-remaining"),
        h("ratelimit-reset"),
        h("retry-after"),
    )
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// `m` requests of one client at once, from 8 tasks, against a limit of `n`: exactly `n` are
/// served, the handler runs exactly `n` times, and the counter holds `m`. `apps` are the
/// replicas the requests are spread over.
async fn exact_counts(apps: Vec<Router>, calls: Arc<AtomicUsize>, n: usize, m: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (apps, next) = (apps.clone(), next.clone());
            tokio::spawn(async move {
                let (mut ok, mut limited) = (0, 0);
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= m {
                        return (ok, limited);
                    }
                    let app = &apps[i % apps.len()];
                    match send(app, common::request("GET", "/", "192.0.2.7:5000", &[]))
                        .await
                        .0
                    {
                        200 => ok += 1,
                        429 => limited += 1,
                        other => panic!("status {other}"),
                    }
                }
            })
        })
        .collect();
    let (mut ok, mut limited) = (0, 0);
    for t in tasks {
        let (o, l) = t.await.unwrap();
        ok += o;
        limited += l;
    }
    assert_eq!((ok, limited), (n, m - n));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        n,
        "a refused request never reaches the handler"
    );
}

#[test]
fn concurrent_requests_get_exactly_n_in_process() {
    let (store, _clock, _) = common::store_and_clock();
    let calls = Arc::new(AtomicUsize::new(0));
    let limiter = Limiter::fixed_window(store.clone(), 25, Duration::from_secs(60));
    let router = app(RateLimitLayer::new(limiter), calls.clone());
    common::run(exact_counts(vec![router], calls, 25, 100));
    assert_eq!(store.get("rate:192.0.2.7"), Some(Value::Int(100)));
    assert_eq!(
        store.ttl("rate:192.0.2.7"),
        Ttl::Expires(Duration::from_secs(60))
    );
}

/// Two replicas, each with its own connection to one Redis namespace, share one budget: of
/// 100 requests spread over both, exactly 25 pass.
#[test]
fn concurrent_requests_get_exactly_n_across_two_replicas_on_redis() {
    common::run(async {
        let ns = common::unique_namespace("limit");
        let calls = Arc::new(AtomicUsize::new(0));
        let mut apps = Vec::new();
        for _ in 0..2 {
            let kv = common::redis(&ns).await;
            let limiter = Limiter::fixed_window(kv, 25, Duration::from_secs(60));
            apps.push(app(RateLimitLayer::new(limiter), calls.clone()));
        }
        exact_counts(apps, calls, 25, 100).await;
        let kv = common::redis(&ns).await;
        assert_eq!(
            kv.get("rate:192.0.2.7").await.unwrap(),
            Some(Value::Int(100))
        );
        assert!(matches!(
            kv.ttl("rate:192.0.2.7").await.unwrap(),
            Ttl::Expires(_)
        ));
    });
}

/// GCRA, 2 requests per second on average (T = 500 ms) and bursts of 3 (τ = 1 s), against the
/// schedule worked out by hand: allowed at `now` iff `max(TAT, now) - now <= τ`, then
/// `TAT = max(TAT, now) + T`.
#[test]
fn gcra_follows_the_hand_computed_schedule() {
    let (store, clock, now) = common::store_and_clock();
    let limiter = Limiter::gcra(store.clone(), 2, Duration::from_secs(1), 3).clock(now);
    let ms = Duration::from_millis;
    // (advance before, allowed, remaining, reset, retry_after)
    #[rustfmt::skip]
    let schedule: [(Duration, bool, u64, Duration, Option<Duration>); 12] = [
        (ms(0),    true,  2, ms(500),  None),          // TAT 0.5 s
        (ms(0),    true,  1, ms(1000), None),          // TAT 1.0 s
        (ms(0),    true,  0, ms(1500), None),          // TAT 1.5 s: the burst is spent
        (ms(0),    false, 0, ms(1500), Some(ms(500))), // 1.5 - 0 > 1: wait until 0.5 s
        (ms(499),  false, 0, ms(1001), Some(ms(1))),   // at 0.499 s: 1 ms short
        (ms(1),    true,  0, ms(1500), None),          // at 0.5 s: TAT 2.0 s
        (ms(0),    false, 0, ms(1500), Some(ms(500))), // spacing: the next at 1.0 s
        (ms(500),  true,  0, ms(1500), None),          // at 1.0 s: TAT 2.5 s
        (ms(2000), true,  2, ms(500),  None),          // at 3.0 s, idle: TAT 3.5 s, burst back
        (ms(0),    true,  1, ms(1000), None),          // TAT 4.0 s
        (ms(250),  true,  0, ms(1250), None),          // at 3.25 s: TAT 4.5 s, 1.25 s > τ ahead
        (ms(0),    false, 0, ms(1250), Some(ms(250))), // so none left: wait until 3.5 s
    ];
    common::run(async {
        for (i, (advance, allowed, remaining, reset, retry)) in schedule.into_iter().enumerate() {
            clock.advance(advance);
            let d = limiter.check("10.0.0.1").await.unwrap();
            assert_eq!(
                (d.allowed, d.remaining, d.reset, d.retry_after, d.limit),
                (allowed, remaining, reset, retry, 3),
                "step {i} at {:?}",
                clock.elapsed()
            );
            // The state always expires, T × burst after the last request.
            assert_eq!(
                store.ttl("rate:10.0.0.1"),
                Ttl::Expires(ms(1500)),
                "step {i}"
            );
        }
        // Idle past T × burst: the state is gone, and the client has its whole burst.
        clock.advance(ms(1500));
        assert!(!store.exists("rate:10.0.0.1"));
        let d = limiter.check("10.0.0.1").await.unwrap();
        assert_eq!((d.allowed, d.remaining), (true, 2));
    });
}

/// GCRA through the layer: the same limits as headers, `429` with `Retry-After` rounded up.
#[test]
fn gcra_through_the_layer_sets_headers_and_retry_after() {
    let (store, clock, now) = common::store_and_clock();
    let limiter = Limiter::gcra(store, 2, Duration::from_secs(1), 3).clock(now);
    let calls = Arc::new(AtomicUsize::new(0));
    let router = app(RateLimitLayer::new(limiter), calls.clone());
    common::run(async {
        let req = || common::request("GET", "/", "10.0.0.9:1", &[]);
        assert_eq!(
            send(&router, req()).await,
            (200, s("3"), s("2"), s("1"), None)
        );
        assert_eq!(
            send(&router, req()).await,
            (200, s("3"), s("1"), s("1"), None)
        );
        assert_eq!(
            send(&router, req()).await,
            (200, s("3"), s("0"), s("2"), None)
        );
        assert_eq!(
            send(&router, req()).await,
            (429, s("3"), s("0"), s("2"), s("1"))
        );
        clock.advance(Duration::from_millis(500));
        assert_eq!(
            send(&router, req()).await,
            (200, s("3"), s("0"), s("2"), None)
        );
    });
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

/// Every response carries the headers: a `200`, an inner `500`, a `429` (which also has
/// `Retry-After` and the JSON body), with the numbers of the fixed window on a test clock.
#[test]
fn every_response_carries_the_ratelimit_headers() {
    let (store, clock, _) = common::store_and_clock();
    let limiter = Limiter::fixed_window(store, 2, Duration::from_secs(60));
    let router = app(RateLimitLayer::new(limiter), Arc::new(AtomicUsize::new(0)));
    common::run(async {
        let req = |path: &str| common::request("GET", path, "10.1.1.1:1", &[]);
        assert_eq!(
            send(&router, req("/")).await,
            (200, s("2"), s("1"), s("60"), None)
        );
        clock.advance(Duration::from_millis(20_500));
        assert_eq!(
            send(&router, req("/fail")).await,
            (500, s("2"), s("0"), s("40"), None)
        );
        let limited = router.clone().oneshot(req("/")).await.unwrap();
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()["content-type"], "application/json");
        assert_eq!(limited.headers()["retry-after"], "40");
        assert_eq!(limited.headers()["ratelimit-remaining"], "0");
        let body = axum::body::to_bytes(limited.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"error":"rate limit exceeded"}"#);
        // The window ends: a new one.
        clock.advance(Duration::from_secs(40));
        assert_eq!(
            send(&router, req("/")).await,
            (200, s("2"), s("1"), s("60"), None)
        );
    });
}

/// Who the client is: the peer, unless it is a trusted proxy; then `X-Forwarded-For` from the
/// right. A spoofed header from an untrusted peer is ignored (its requests share the peer's
/// budget); a request without a peer address is `unknown`; IPv6 clients share their /64.
#[test]
fn clients_are_peers_or_what_a_trusted_proxy_says() {
    let (store, _clock, _) = common::store_and_clock();
    let limiter = Limiter::fixed_window(SharedKv::new(store.clone()), 100, Duration::from_secs(60));
    let layer = RateLimitLayer::new(limiter)
        .clients(ClientAddr::new().trusted_proxies(["10.0.0.1".parse().unwrap()]));
    let calls = Arc::new(AtomicUsize::new(0));
    let router = app(layer, calls);
    common::run(async {
        let body = |req: axum::http::Request<axum::body::Body>| {
            let router = router.clone();
            async move {
                let reply = router.oneshot(req).await.unwrap();
                let bytes = axum::body::to_bytes(reply.into_body(), 1024).await.unwrap();
                String::from_utf8(bytes.to_vec()).unwrap()
            }
        };
        let xff = |v: &'static str| [("X-Forwarded-For", v)];
        // Spoofed from an untrusted peer: the peer.
        for n in 1..=3 {
            let spoof = format!("203.0.113.{n}");
            let req = common::request("GET", "/", "198.51.100.1:1", &[("X-Forwarded-For", &spoof)]);
            assert_eq!(body(req).await, format!("198.51.100.1 {n}"));
        }
        // From the trusted proxy: the right-most untrusted entry.
        let req = common::request("GET", "/", "10.0.0.1:1", &xff("6.6.6.6, 203.0.113.9:4711"));
        assert_eq!(body(req).await, "203.0.113.9 1");
        let req = common::request(
            "GET",
            "/",
            "[::ffff:10.0.0.1]:1",
            &xff("7.7.7.7, 203.0.113.9"),
        );
        assert_eq!(body(req).await, "203.0.113.9 2");
        // An unparsable hop: charged to the proxy that appended it.
        let req = common::request("GET", "/", "10.0.0.1:1", &xff("203.0.113.9, unknown"));
        assert_eq!(body(req).await, "10.0.0.1 1");
        // IPv6 clients by /64.
        let req = common::request("GET", "/", "[2001:db8:1:2::7]:1", &[]);
        assert_eq!(body(req).await, "2001:db8:1:2::/64 1");
        let req = common::request("GET", "/", "[2001:db8:1:2:ffff::1]:1", &[]);
        assert_eq!(body(req).await, "2001:db8:1:2::/64 2");
        // No peer address at all.
        let req = axum::http::Request::get("/")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(body(req).await, "unknown 1");
    });
    assert_eq!(
        store.keys("rate:*").unwrap(),
        [
            "rate:10.0.0.1",
            "rate:198.51.100.1",
            "rate:2001:db8:1:2::/64",
            "rate:203.0.113.9",
            "rate:unknown"
        ]
    );
}

/// A counter overwritten with something that is not an integer starts a new window; one that
/// lost its TTL gets it back (so it can never limit a client forever).
#[test]
fn a_damaged_window_repairs_itself() {
    let (store, _clock, _) = common::store_and_clock();
    let limiter = Limiter::fixed_window(store.clone(), 3, Duration::from_secs(60));
    common::run(async {
        store.set("rate:a", "garbage");
        let d = limiter.check("a").await.unwrap();
        assert_eq!((d.allowed, d.used), (true, 1));
        assert_eq!(store.ttl("rate:a"), Ttl::Expires(Duration::from_secs(60)));
        store.set("rate:b", 7); // persistent, over the limit
        let d = limiter.check("b").await.unwrap();
        assert_eq!(
            (d.allowed, d.used, d.reset),
            (false, 8, Duration::from_secs(60))
        );
        assert_eq!(store.ttl("rate:b"), Ttl::Expires(Duration::from_secs(60)));
    });
}
