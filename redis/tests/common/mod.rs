//! Shared by the test binaries: the servers `scripts/with-redis.sh` exports, skipping (or, in
//! CI, failing) when they are missing, fresh namespaces, a multi-threaded runtime.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use scriptling_kv::Value;
use scriptling_kv_redis::RedisStore;

/// The value of `var`, or `None` after printing why the test is skipped. In CI (env `CI` set) a
/// missing server is a failure, not a skip.
pub fn env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("{var} is not set and CI is: run the tests under scripts/with-redis.sh");
            }
            eprintln!("skipped: no Redis ({var} unset); run under scripts/with-redis.sh");
            None
        }
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
