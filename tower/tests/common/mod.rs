//! Shared by the test binaries: the Redis servers `scripts/with-redis.sh` exports (a test that
//! finds none fails, saying how to run it), fresh namespaces, a clock pair (a store's test clock
//! and the same time as a [`Clock`](scriptling_kv_tower::Clock)), and requests as axum sees
//! them (with a peer address).
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::Request;
use scriptling_kv::{Store, TestClock};
use scriptling_kv_redis::RedisStore;

/// The value of `var`, which `scripts/with-redis.sh` exports; a panic (a failed test, never a
/// pass) without it.
pub fn env(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "no Redis server: {var} is not set. Run the Redis tests under scripts/with-redis.sh \
             (`scripts/with-redis.sh cargo test -p scriptling-kv-tower`), which starts the \
             servers and sets it"
        ),
    }
}

/// A namespace no other test (of this run or an earlier one) uses.
pub fn unique_namespace(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t-tower-{tag}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A handle on the standalone server of `scripts/with-redis.sh`, in `namespace`.
pub async fn redis(namespace: &str) -> RedisStore {
    let url = env("SCRIPTLING_KV_REDIS_URL");
    RedisStore::connect(&url, namespace)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// A handle on the cluster of `scripts/with-redis.sh`, in `namespace`.
pub async fn cluster(namespace: &str) -> RedisStore {
    let nodes = env("SCRIPTLING_KV_REDIS_CLUSTER");
    let nodes: Vec<&str> = nodes.split(',').collect();
    RedisStore::connect_cluster(&nodes, namespace)
        .await
        .unwrap_or_else(|e| panic!("connect_cluster {nodes:?}: {e}"))
}

/// Where the tests' wall clock starts (any fixed instant well after the epoch).
pub fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A store on a test clock, without a cleaner thread, and the same time as a `Clock`:
/// advancing the `TestClock` moves both.
pub fn store_and_clock() -> (
    Store,
    TestClock,
    impl Fn() -> SystemTime + Send + Sync + Clone + 'static,
) {
    let clock = TestClock::new();
    let store = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build();
    let reading = clock.clone();
    (store, clock, move || epoch() + reading.elapsed())
}

/// A request from `peer` (as `into_make_service_with_connect_info` hands it to the router).
pub fn request(method: &str, uri: &str, peer: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut req = builder.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

/// A multi-threaded runtime (4 workers) running `f`.
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
