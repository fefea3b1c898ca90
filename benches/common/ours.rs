//! The store under test, as a [`Contender`] and a [`Conditional`].

use std::time::Duration;

use scriptling_kv::{Error, Store, Value};

use super::{Conditional, Contender};

/// This crate, with defaults except the background cleaner (off, so that no contender has a
/// thread doing work behind the measured ones; the purge benches call `purge_expired` directly),
/// and with hit/miss counting (`record_stats`) on if `STATS`.
pub(crate) struct OursOf<const STATS: bool>(pub(crate) Store);

/// This crate, as every bench compares it (`record_stats(false)`, the default).
pub(crate) type Ours = OursOf<false>;

/// This crate built with `record_stats(true)`: not a peer, the cost of counting hits and misses.
pub(crate) type OursStats = OursOf<true>;

impl<const STATS: bool> OursOf<STATS> {
    /// `store` as a contender (for helpers written against [`Contender`]).
    pub(crate) fn from_store(store: Store) -> Self {
        OursOf(store)
    }
}

/// Name of [`OursStats`] in tables (the report generator knows it).
pub(crate) const OURS_STATS_NAME: &str = "scriptling-kv +record_stats";

impl<const STATS: bool> Contender for OursOf<STATS> {
    const NAME: &'static str = if STATS {
        OURS_STATS_NAME
    } else {
        "scriptling-kv"
    };
    fn build() -> Self {
        OursOf(
            Store::builder()
                .background_cleanup(false)
                .record_stats(STATS)
                .build(),
        )
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.get(key)
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        self.0.set(key, value)
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        self.0.set_with_ttl(key, value, ttl)
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        self.0.delete(key)
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        self.0.incr(key, delta)
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        self.0.keys(pattern).expect("valid pattern")
    }
    fn purge(&self) -> usize {
        self.0.purge_expired()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<const STATS: bool> Conditional for OursOf<STATS> {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        self.0.set_if_absent(key, value, Some(ttl))
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        self.0.compare_and_set(key, expected, new)
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        self.0.compare_and_delete(key, expected)
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        self.0.incr_with_ttl(key, delta, ttl)
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        // Single flight: concurrent misses wait for one `init`.
        self.0.get_or_insert_with(key, Some(ttl), init)
    }
}
