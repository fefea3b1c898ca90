//! Shared by the test binaries: the servers `scripts/with-redis.sh` exports (a test fails when
//! they are missing), fresh namespaces, a multi-threaded runtime.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use scriptling_kv::{AsyncKv, Value};
use scriptling_kv_redis::RedisStore;

/// The value of `var`, which `scripts/with-redis.sh` exports. A test that finds no server fails
/// (it is never reported as passed): run the Redis tests under `scripts/with-redis.sh`.
pub fn env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => panic!(
            "no Redis server: {var} is not set. Run the Redis tests under scripts/with-redis.sh \
             (for example `scripts/with-redis.sh cargo test -p scriptling-kv-redis`), which \
             starts the servers and sets it"
        ),
    }
}

pub fn redis_url() -> Option<String> {
    env("SCRIPTLING_KV_REDIS_URL")
}

pub fn cluster_nodes() -> Option<Vec<String>> {
    env("SCRIPTLING_KV_REDIS_CLUSTER").map(|s| s.split(',').map(str::to_owned).collect())
}

/// A namespace no other test (of this run or an earlier one) uses.
pub fn unique_namespace(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t-{tag}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `f` on a fresh multi-threaded runtime (4 workers).
pub fn run<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub async fn connect(url: &str, ns: &str) -> RedisStore {
    RedisStore::connect(url, ns)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

pub async fn connect_cluster(nodes: &[String], ns: &str) -> RedisStore {
    let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
    RedisStore::connect_cluster(&nodes, ns)
        .await
        .unwrap_or_else(|e| panic!("connect_cluster {nodes:?}: {e}"))
}

/// Identity, floats by their bits (`==` says NaN != NaN and 0.0 == -0.0).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => a == b,
    }
}

/// `get_or_insert_with` on any backend: the value of a single-flight load.
pub async fn get_or_insert<K, F, Fut>(
    kv: &K,
    key: &str,
    ttl: Option<Duration>,
    init: F,
) -> scriptling_kv::Result<Value>
where
    K: AsyncKv,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Value> + Send,
{
    kv.load_with(key, ttl, init).await.map(|l| l.value)
}
