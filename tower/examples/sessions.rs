//! Cookie sessions on scriptling-kv: a visit counter per browser.
//!
//! ```text
//! cargo run -p scriptling-kv-tower --example sessions            # in process
//! cargo run -p scriptling-kv-tower --example sessions redis://127.0.0.1:6379
//! curl -c jar -b jar http://127.0.0.1:3000/     # "visit 1", "visit 2", ...
//! ```
//! With a Redis URL, start two of them (`PORT=3001` for the second): a session made on one is
//! counted on the other.

use axum::routing::get;
use axum::Router;
use scriptling_kv::{SharedKv, Store};
use scriptling_kv_redis::RedisStore;
use scriptling_kv_tower::KvSessionStore;
use time::Duration;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

async fn visit(session: Session) -> String {
    let n: u64 = session.get("visits").await.ok().flatten().unwrap_or(0) + 1;
    match session.insert("visits", n).await {
        Ok(()) => format!("visit {n}\n"),
        Err(e) => format!("the session store failed: {e}\n"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kv = match std::env::args().nth(1) {
        Some(url) => SharedKv::new(RedisStore::connect(&url, "sessions-example").await?),
        None => SharedKv::new(Store::new()),
    };
    let sessions = SessionManagerLayer::new(KvSessionStore::new(kv))
        .with_secure(false) // plain HTTP on loopback
        .with_expiry(Expiry::OnInactivity(Duration::minutes(30)));
    let app = Router::new().route("/", get(visit)).layer(sessions);
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
