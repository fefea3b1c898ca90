//! A downstream service's state, written once against `SharedKv`: typed sessions with sliding
//! expiry, a rate limiter, a stampede-free cache and a lock. The same code runs in process or on
//! Redis, chosen at run time:
//!
//! ```text
//! cargo run --example any_backend                          # in process
//! cargo run --example any_backend -- redis://127.0.0.1:6379 # on Redis (namespace "any-backend")
//! ```
//!
//! `redis/tests/any_backend.rs` runs [`tour`] on both backends.

use std::time::Duration;

use scriptling_kv::{from_value, to_value, AsyncKv, SharedKv, Source, Store};
use serde::{Deserialize, Serialize};

/// What a session holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Who logged in.
    pub user: String,
    /// What they may do.
    pub roles: Vec<String>,
}

const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// Starts a session.
pub async fn login(kv: &SharedKv, token: &str, session: &Session) -> scriptling_kv::Result<()> {
    kv.set_with_ttl(
        &format!("session:{token}"),
        to_value(session)?,
        SESSION_IDLE,
    )
    .await
}

/// The session of `token`, if it is live; each use keeps it alive for another idle period
/// (one `GETEX` on Redis).
pub async fn session(kv: &SharedKv, token: &str) -> scriptling_kv::Result<Option<Session>> {
    match kv
        .get_and_expire(&format!("session:{token}"), SESSION_IDLE)
        .await?
    {
        Some(v) => Ok(Some(from_value(v)?)),
        None => Ok(None),
    }
}

/// A fixed window of `limit` requests a minute per client, in one atomic step.
pub async fn allow(kv: &SharedKv, client: &str, limit: i64) -> scriptling_kv::Result<bool> {
    let n = kv
        .incr_with_ttl(&format!("rate:{client}"), 1, Duration::from_secs(60))
        .await?;
    Ok(n <= limit)
}

/// A report, computed at most once however many ask for it at the same time.
pub async fn report(kv: &SharedKv, name: &str) -> scriptling_kv::Result<(String, Source)> {
    let loaded = kv
        .load_with(
            &format!("cache:{name}"),
            Some(Duration::from_secs(300)),
            || async move { format!("report {name}") },
        )
        .await?;
    let text = from_value(loaded.value)?;
    Ok((text, loaded.source))
}

/// Runs `job` unless another worker holds its lock (a lease, released only by its holder).
pub async fn run_once(kv: &SharedKv, job: &str, worker: &str) -> scriptling_kv::Result<bool> {
    let lock = format!("lock:{job}");
    if !kv
        .set_if_absent(&lock, worker, Some(Duration::from_secs(60)))
        .await?
    {
        return Ok(false);
    }
    // ... the job runs here ...
    kv.compare_and_delete(&lock, &worker.into()).await?;
    Ok(true)
}

/// Everything above once, checking what each step returns.
pub async fn tour(kv: &SharedKv) -> scriptling_kv::Result<()> {
    let bob = Session {
        user: "bob".into(),
        roles: vec!["admin".into()],
    };
    login(kv, "t1", &bob).await?;
    assert_eq!(session(kv, "t1").await?, Some(bob));
    assert_eq!(session(kv, "nope").await?, None);
    assert!(allow(kv, "10.0.0.1", 2).await?);
    assert!(allow(kv, "10.0.0.1", 2).await?);
    assert!(!allow(kv, "10.0.0.1", 2).await?);
    let (text, source) = report(kv, "daily").await?;
    assert_eq!((text.as_str(), source), ("report daily", Source::Loaded));
    assert_eq!(report(kv, "daily").await?.1, Source::Hit);
    assert!(run_once(kv, "nightly", "worker-1").await?);
    kv.set_if_absent("lock:busy", "worker-2", Some(Duration::from_secs(60)))
        .await?;
    assert!(!run_once(kv, "busy", "worker-1").await?);
    Ok(())
}

#[allow(dead_code)] // when included by the Redis test
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let kv = match std::env::args().nth(1) {
            Some(url) => {
                SharedKv::new(scriptling_kv_redis::RedisStore::connect(&url, "any-backend").await?)
            }
            None => SharedKv::new(Store::new()),
        };
        tour(&kv).await?;
        println!("the tour passed on {kv:?}");
        kv.clear().await?;
        Ok(())
    })
}
