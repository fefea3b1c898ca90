//! A user's code built on `scriptling-kv`, as the crate docs' "Checking your own code with loom"
//! describes it: a fixed-window rate limiter and a lock, each written right (with the store's
//! conditional writes) and written the way one might without them (the broken versions). The
//! tests in `tests/` check them with loom: the right ones pass, the broken ones fail.
//!
//! Run (what `loom-tests/run` does):
//!
//! ```text
//! RUSTFLAGS="--cfg scriptling_kv_loom --cfg crossbeam_loom" \
//!     cargo test --release -p scriptling-kv-loom-example
//! ```

use std::time::Duration;

use scriptling_kv::{Store, Value};

/// Requests allowed per client per window.
pub const LIMIT: i64 = 1;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Counts a request of `client` and says whether it is allowed: one `incr_with_ttl`, so the
/// window's counter is created with its TTL in the same step.
pub fn allow(store: &Store, client: &str) -> bool {
    let n = store
        .incr_with_ttl(&format!("rate:{client}"), 1, WINDOW)
        .unwrap_or(i64::MAX);
    n <= LIMIT
}

/// The same without `incr_with_ttl`: `incr`, then `expire` when this request created the
/// counter. Broken: between the two steps the counter exists without a TTL, and if the window
/// ends in between... (and a reader sees a counter that never expires). The model shows it.
pub fn allow_broken(store: &Store, client: &str) -> bool {
    let key = format!("rate:{client}");
    let n = store.incr(&key, 1).unwrap_or(i64::MAX);
    if n == 1 {
        store.expire(&key, WINDOW);
    }
    n <= LIMIT
}

/// Takes the lock `name` for `owner`: `set_if_absent`, one step. `true` if this call took it.
pub fn lock(store: &Store, name: &str, owner: &str) -> bool {
    store.set_if_absent(
        &format!("lock:{name}"),
        owner,
        Some(Duration::from_secs(30)),
    )
}

/// Releases the lock only if `owner` still holds it: `compare_and_delete`, one step.
pub fn unlock(store: &Store, name: &str, owner: &str) -> bool {
    store.compare_and_delete(&format!("lock:{name}"), &Value::from(owner))
}

/// The same lock without `set_if_absent`: `exists`, then `set`. Broken: two callers can both
/// see it free and both take it.
pub fn lock_broken(store: &Store, name: &str, owner: &str) -> bool {
    let key = format!("lock:{name}");
    if store.exists(&key) {
        return false;
    }
    store.set_with_ttl(&key, owner, Duration::from_secs(30));
    true
}
