//! Shared by the bench binaries: the [`Contender`] trait with one impl per store under test
//! (ours in `ours.rs`; the concurrent map peers dashmap, papaya, scc in `maps.rs`; flurry+TTL,
//! the store's own table with a deadline beside each value, in `flurry_ttl.rs`; moka in `moka_cache.rs`;
//! the std maps under a lock in `std_maps.rs`), the [`Conditional`] trait (the conditional
//! writes and the single-flight load), the run-mode switches (`BENCH_QUICK`, `BENCH_OUT`) and
//! the small measurement helpers (`run.rs`).
//!
//! Every contender is given *our* semantics: a [`Value`] plus an optional deadline, an expired
//! key is absent for every operation, `incr` is atomic (missing or expired key: created holding
//! `delta` with no TTL; an integer keeps its TTL; anything else is an error). The map-based
//! contenders store `Item { value, deadline: Option<Instant> }` and check the deadline on read
//! (reading the clock only when there is a deadline, as the store does); their purge is the
//! "walk the whole map" kind (`retain`), because that is all a plain map offers. moka brings its
//! own per-entry expiry (`Expiry`) and its own timer wheel (`run_pending_tasks`).
//!
//! `keys(pattern)`: the store gets a real glob; the peers only implement the `prefix*` patterns
//! the benches use (a `starts_with` filter), which is the cheapest a glob can be for them.
#![allow(dead_code, unused_imports)]

use std::time::Duration;

use scriptling_kv::{Error, Value};

mod flurry_ttl;
mod maps;
mod moka_cache;
mod ours;
mod run;
mod std_maps;

pub(crate) use self::flurry_ttl::{flurry_map, Flurry, FLURRY_NAME};
pub(crate) use self::maps::{Dash, Item, Papaya, Scc};
pub(crate) use self::moka_cache::{Moka, MokaItem};
pub(crate) use self::ours::{Ours, OursOf, OursStats, OURS_STATS_NAME};
pub(crate) use self::run::*;
pub(crate) use self::std_maps::{MutexMap, RwMap};

/// The operations every workload runs, with the store's semantics.
pub(crate) trait Contender: Send + Sync + 'static {
    /// Name in tables and plots.
    const NAME: &'static str;
    /// An empty instance with default settings (no pre-sizing).
    fn build() -> Self;
    /// The value, if live.
    fn get(&self, key: &str) -> Option<Value>;
    /// Stores with no expiry.
    fn set(&self, key: &str, value: Value);
    /// Stores with a TTL.
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration);
    /// Removes; whether a live key was removed.
    fn delete(&self, key: &str) -> bool;
    /// Atomic add with the store's semantics.
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error>;
    /// Live keys matching `pattern` (peers: `prefix*` only), sorted.
    fn keys(&self, pattern: &str) -> Vec<String>;
    /// Removes expired entries; returns how many.
    fn purge(&self) -> usize;
    /// Entries held (may count expired ones).
    fn len(&self) -> usize;
}

/// The prefix of a `prefix*` pattern (the only kind the peers implement).
pub(crate) fn prefix_of(pattern: &str) -> &str {
    let prefix = pattern
        .strip_suffix('*')
        .expect("peer keys(): only `prefix*` patterns are implemented");
    assert!(
        !prefix.contains(['*', '?', '[', '\\']),
        "peer keys(): only `prefix*` patterns are implemented"
    );
    prefix
}

// ---------------------------------------------------------------------------------------------
// The conditional writes and the single-flight load, with each peer's closest equivalent.

/// The store's newer operations (`benches/capabilities.rs`), every one with the store's
/// semantics (expired = absent) on every contender. Each peer uses its own closest idiom, named
/// in its impl; the only liberty taken is a lock-free `get` before a locking path where a careful
/// user would write one (a hit in `get_or_insert_with`).
pub(crate) trait Conditional: Contender {
    /// Stores `value` with `ttl` only if the key is not live; whether this call stored it.
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool;
    /// Replaces the value (keeping the TTL) only if the key is live and holds `expected`.
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool;
    /// Deletes the key only if it is live and holds `expected`.
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool;
    /// `incr`; a key this call creates gets `ttl`, a live key keeps its TTL.
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error>;
    /// The live value, or `init()`'s, stored with `ttl`. Whether concurrent misses share one
    /// `init` is what differs between contenders.
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value;
}

/// Calls `$body` once per contender type, with `$c` bound to the type.
macro_rules! for_each_contender {
    ($c:ident => $body:expr) => {{
        {
            type $c = crate::common::Ours;
            $body;
        }
        {
            type $c = crate::common::Dash;
            $body;
        }
        {
            type $c = crate::common::Flurry;
            $body;
        }
        {
            type $c = crate::common::Papaya;
            $body;
        }
        {
            type $c = crate::common::Scc;
            $body;
        }
        {
            type $c = crate::common::Moka;
            $body;
        }
        {
            type $c = crate::common::MutexMap;
            $body;
        }
        {
            type $c = crate::common::RwMap;
            $body;
        }
    }};
}
