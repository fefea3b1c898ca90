//! A rate limit per client: 5 requests per 10 s (fixed window) on `/`, and a smooth one (GCRA:
//! 1 request per second on average, bursts of 3) on `/smooth`.
//!
//! ```text
//! cargo run -p scriptling-kv-tower --example rate_limit
//! for i in $(seq 7); do curl -si http://127.0.0.1:3000/ | grep -iE '^(HTTP|ratelimit|retry)'; done
//! ```
//! The sixth request is a `429` with `Retry-After`; every answer has `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use scriptling_kv::{SharedKv, Store};
use scriptling_kv_tower::{ClientAddr, Decision, Limiter, RateLimitLayer};

async fn hello(Extension(decision): Extension<Decision>) -> String {
    let (client, used, limit) = (decision.client, decision.used, decision.limit);
    format!("hello {client}: request {used} of {limit} in this window\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kv = SharedKv::new(Store::new());
    // Behind a proxy on 10.0.0.1, believe its X-Forwarded-For (and nobody else's).
    let clients = ClientAddr::new().trusted_proxies(["10.0.0.1".parse()?]);
    let window = Limiter::fixed_window(kv.clone(), 5, Duration::from_secs(10));
    let smooth = Limiter::gcra(kv, 1, Duration::from_secs(1), 3).prefix("gcra:");
    let app = Router::new()
        .route(
            "/",
            get(hello).layer(RateLimitLayer::new(window).clients(clients.clone())),
        )
        .route(
            "/smooth",
            get(|| async { "smooth\n" }).layer(RateLimitLayer::new(smooth).clients(clients)),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    // The peer address is what the limiter meters: serve with connect info.
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).await?;
    Ok(())
}
