//! A response cache with single flight: `/report/{name}` takes a second to compute; it is
//! cached for 30 s, and concurrent misses compute it once.
//!
//! ```text
//! cargo run -p scriptling-kv-tower --example cache
//! for i in 1 2 3; do curl -s -D- -o /dev/null http://127.0.0.1:3000/report/q3 & done; wait
//! ```
//! One answer says `X-Cache: MISS`, the others `COALESCED`; ask again: `HIT`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use scriptling_kv::{SharedKv, Store};
use scriptling_kv_tower::CacheLayer;

async fn report(Path(name): Path<String>) -> String {
    tokio::time::sleep(Duration::from_secs(1)).await; // an upstream call
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("report {name}, computed at {}\n", at.as_secs())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kv = SharedKv::new(Store::new());
    let cache = CacheLayer::new(kv)
        .ttl(Duration::from_secs(30))
        .max_body(64 * 1024) // bigger answers are served, not stored
        .max_key_len(128); // longer paths pass through uncached
    let app = Router::new().route("/report/{name}", get(report).layer(cache));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
