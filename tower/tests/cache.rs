//! The response-cache layer: single flight (50 concurrent misses run the inner service once),
//! what is never cached (errors, other methods, big bodies, long keys, `Set-Cookie`), the TTL,
//! and what a cached answer keeps. In process on a test clock, and the single flight on Redis
//! too (which fails without `scripts/with-redis.sh`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use scriptling_kv::{AsyncKv, Ttl};
use scriptling_kv_tower::CacheLayer;
use tokio::sync::Notify;
use tower::ServiceExt;

/// A reply read whole: status, `X-Cache`, body.
async fn send(app: &Router, req: Request<Body>) -> (u16, Option<String>, String) {
    let reply = app.clone().oneshot(req).await.unwrap();
    let status = reply.status().as_u16();
    let x_cache = reply
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(reply.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, x_cache, String::from_utf8(body.to_vec()).unwrap())
}

fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// Routes whose handlers count their runs in `calls`: `/n/{x}` answers `value {call}` (200),
/// `/error` 500, `/missing` 404, `/big` a body of `len` bytes, `/cookie` a 200 with
/// `Set-Cookie`, `/headers` a 200 with a content type and a header not kept.
fn routes(calls: Arc<AtomicUsize>, big: usize) -> Router {
    let count = move || calls.fetch_add(1, Ordering::SeqCst) + 1;
    let c = count.clone();
    let value = move || {
        let n = c();
        async move { format!("value {n}") }
    };
    let c = count.clone();
    let error = move || {
        c();
        async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }
    };
    let c = count.clone();
    let missing = move || {
        c();
        async { (StatusCode::NOT_FOUND, "no") }
    };
    let c = count.clone();
    let big_body = move || {
        c();
        async move { "x".repeat(big) }
    };
    let c = count.clone();
    let streamed = move || {
        c();
        async move {
            let chunks = vec![
                Ok::<_, std::io::Error>("y".repeat(big / 2)),
                Ok("y".repeat(big - big / 2)),
            ];
            Body::from_stream(futures_util::stream::iter(chunks))
        }
    };
    let c = count.clone();
    let cookie = move || {
        c();
        async { ([(header::SET_COOKIE, "a=b")], "mine").into_response() }
    };
    let c = count;
    let headers = move || {
        let n = c();
        async move {
            (
                [("content-type", "application/x-test"), ("x-secret", "s3")],
                format!("with headers {n}"),
            )
        }
    };
    Router::new()
        .route("/n/{x}", get(value).post(|| async { "posted" }))
        .route("/error", get(error))
        .route("/missing", get(missing))
        .route("/big", get(big_body))
        .route("/streamed", get(streamed))
        .route("/cookie", get(cookie))
        .route("/headers", get(headers))
}

/// 50 concurrent requests for one uncached path: the handler runs once (it holds until the
/// test has seen it start and let the others pile up), one `MISS`, the rest `COALESCED`, all
/// with the one value.
async fn fifty_concurrent_misses_run_once<K: AsyncKv + Clone + 'static>(kv: K) {
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let (c, g) = (calls.clone(), gate.clone());
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let (c, g) = (c.clone(), g.clone());
                async move {
                    let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                    g.notified().await;
                    format!("slow {n}")
                }
            }),
        )
        .layer(CacheLayer::new(kv));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { send(&app, get_req("/slow")).await })
        })
        .collect();
    // Bounded waits for the loader to start and the others to queue behind it.
    for _ in 0..500 {
        if calls.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    gate.notify_waiters();
    gate.notify_one();
    let mut sources = Vec::new();
    for t in tasks {
        let (status, source, body) = t.await.unwrap();
        assert_eq!((status, body.as_str()), (200, "slow 1"));
        sources.push(source.expect("X-Cache on every reply"));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one inner call for 50 misses"
    );
    let count = |s: &str| sources.iter().filter(|x| *x == s).count();
    assert_eq!(count("MISS"), 1, "{sources:?}");
    assert_eq!(
        count("MISS") + count("COALESCED") + count("HIT"),
        50,
        "{sources:?}"
    );
    assert!(count("COALESCED") >= 1, "{sources:?}");
}

#[test]
fn fifty_concurrent_misses_run_the_inner_service_once() {
    let (store, _clock, _) = common::store_and_clock();
    common::run(fifty_concurrent_misses_run_once(store));
}

#[test]
fn fifty_concurrent_misses_run_the_inner_service_once_on_redis() {
    common::run(async {
        let kv = common::redis(&common::unique_namespace("cache")).await;
        fifty_concurrent_misses_run_once(kv).await;
    });
}

/// MISS, then HIT until the TTL ends (on the test clock), then MISS again; the key is the
/// prefix and the path with its query, and it has the layer's TTL.
#[test]
fn hits_until_the_ttl_ends() {
    let (store, clock, _) = common::store_and_clock();
    let calls = Arc::new(AtomicUsize::new(0));
    let app =
        routes(calls.clone(), 0).layer(CacheLayer::new(store.clone()).ttl(Duration::from_secs(30)));
    common::run(async {
        let hit = |n: &str, source: &str| (200, Some(source.to_owned()), format!("value {n}"));
        assert_eq!(send(&app, get_req("/n/a?q=1")).await, hit("1", "MISS"));
        assert_eq!(send(&app, get_req("/n/a?q=1")).await, hit("1", "HIT"));
        // Another query is another key.
        assert_eq!(send(&app, get_req("/n/a?q=2")).await, hit("2", "MISS"));
        assert_eq!(
            store.ttl("cache:/n/a?q=1"),
            Ttl::Expires(Duration::from_secs(30))
        );
        clock.advance(Duration::from_secs(29));
        assert_eq!(send(&app, get_req("/n/a?q=1")).await, hit("1", "HIT"));
        clock.advance(Duration::from_secs(1));
        assert_eq!(send(&app, get_req("/n/a?q=1")).await, hit("3", "MISS"));
    });
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// Errors, other statuses, other methods, `Set-Cookie` answers: served every time, never
/// stored.
#[test]
fn errors_other_methods_and_cookies_are_never_cached() {
    let (store, _clock, _) = common::store_and_clock();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = routes(calls.clone(), 0).layer(CacheLayer::new(store.clone()));
    common::run(async {
        for _ in 0..2 {
            assert_eq!(
                send(&app, get_req("/error")).await,
                (500, Some("MISS".into()), "boom".into())
            );
            assert_eq!(
                send(&app, get_req("/missing")).await,
                (404, Some("MISS".into()), "no".into())
            );
            assert_eq!(
                send(&app, get_req("/cookie")).await,
                (200, Some("MISS".into()), "mine".into())
            );
            let post = Request::post("/n/a").body(Body::empty()).unwrap();
            assert_eq!(send(&app, post).await, (200, None, "posted".into()));
        }
    });
    assert_eq!(calls.load(Ordering::SeqCst), 6, "every GET ran the handler");
    assert!(store.keys("*").unwrap().is_empty(), "{:?}", store.keys("*"));
}

/// A body over the size limit is served whole (with and without a `Content-Length`), every
/// time, and not stored; one at the limit is.
#[test]
fn bodies_over_the_limit_are_served_but_not_cached() {
    for (len, path, cached) in [
        (17, "/big", false),
        (17, "/streamed", false),
        (16, "/big", true),
        (16, "/streamed", true),
    ] {
        let (store, _clock, _) = common::store_and_clock();
        let calls = Arc::new(AtomicUsize::new(0));
        let app = routes(calls.clone(), len).layer(CacheLayer::new(store.clone()).max_body(16));
        common::run(async {
            for _ in 0..2 {
                let (status, _, body) = send(&app, get_req(path)).await;
                assert_eq!(status, 200);
                assert_eq!(body.len(), len, "{path}: served whole");
            }
        });
        let stored = store.exists(&format!("cache:{path}"));
        assert_eq!(stored, cached, "{path} {len}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            if cached { 1 } else { 2 },
            "{path} {len}"
        );
    }
}

/// A key over the length limit (prefix included) passes through: no `X-Cache`, nothing
/// stored, the handler runs every time.
#[test]
fn keys_over_the_length_limit_pass_through() {
    let (store, _clock, _) = common::store_and_clock();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = routes(calls.clone(), 0).layer(CacheLayer::new(store.clone()).max_key_len(16));
    common::run(async {
        // "cache:/n/abcdefghij" is 19 bytes.
        let long = "/n/abcdefghij";
        assert_eq!(
            send(&app, get_req(long)).await,
            (200, None, "value 1".into())
        );
        assert_eq!(
            send(&app, get_req(long)).await,
            (200, None, "value 2".into())
        );
        // "cache:/n/abcdefg" is 16: cached.
        assert_eq!(
            send(&app, get_req("/n/abcdefg")).await.1.as_deref(),
            Some("MISS")
        );
        assert_eq!(
            send(&app, get_req("/n/abcdefg")).await.1.as_deref(),
            Some("HIT")
        );
    });
    assert_eq!(store.keys("*").unwrap(), ["cache:/n/abcdefg"]);
}

/// A hit is the stored answer: status, the kept headers (the content type), not the others,
/// the body; a value under a cache key that the layer did not write is dropped and the
/// request served by the handler.
#[test]
fn a_hit_keeps_the_headers_worth_keeping() {
    let (store, _clock, _) = common::store_and_clock();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = routes(calls.clone(), 0).layer(CacheLayer::new(store.clone()));
    common::run(async {
        let _ = send(&app, get_req("/headers")).await;
        let hit = app.clone().oneshot(get_req("/headers")).await.unwrap();
        assert_eq!(hit.headers()["x-cache"], "HIT");
        assert_eq!(hit.headers()["content-type"], "application/x-test");
        assert!(hit.headers().get("x-secret").is_none());
        let body = axum::body::to_bytes(hit.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"with headers 1");
        store.set("cache:/n/z", "not a response");
        assert_eq!(
            send(&app, get_req("/n/z")).await,
            (200, None, "value 2".into())
        );
        assert!(!store.exists("cache:/n/z"), "the foreign value was dropped");
    });
}
