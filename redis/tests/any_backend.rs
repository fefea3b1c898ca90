//! The newcomer's program (`examples/any_backend.rs` of the core crate: typed sessions with
//! sliding expiry, a rate limiter, a stampede-free cache and a lock, written once against
//! `SharedKv`) runs unchanged in process, on a standalone Redis and on a cluster.

mod common;

#[path = "../../examples/any_backend.rs"]
#[allow(dead_code, unreachable_pub)]
mod any_backend;

use scriptling_kv::{AsyncKv, SharedKv, Store};

#[test]
fn the_tour_passes_in_process() {
    common::run(async {
        let kv = SharedKv::new(Store::new());
        any_backend::tour(&kv).await.unwrap();
    });
}

#[test]
fn the_tour_passes_on_redis() {
    let Some(url) = common::redis_url() else {
        return;
    };
    common::run(async {
        let store = common::connect(&url, &common::unique_namespace("tour")).await;
        let kv = SharedKv::new(store);
        any_backend::tour(&kv).await.unwrap();
        kv.clear().await.unwrap();
    });
}

#[test]
fn the_tour_passes_on_a_cluster() {
    let Some(nodes) = common::cluster_nodes() else {
        return;
    };
    common::run(async {
        let store = common::connect_cluster(&nodes, &common::unique_namespace("tour")).await;
        let kv = SharedKv::new(store);
        any_backend::tour(&kv).await.unwrap();
        kv.clear().await.unwrap();
    });
}
