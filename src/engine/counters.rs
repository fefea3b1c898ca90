//! The store's counters: hits, misses, keys expired, keys evicted ([`Stats`]).
//!
//! Hits and misses are counted only when the store is built with
//! [`record_stats(true)`](crate::StoreBuilder::record_stats): in striped, cache-padded counters
//! (one stripe per thread, chosen once per thread), so two threads that read never write the same
//! cache line, and recording costs a relaxed add on a line the thread already owns. `expired` and
//! `evicted` are always counted, by the purge and the eviction, on one counter each (they run a
//! batch at a time). [`Store::stats`](crate::Store::stats) sums the stripes: the sum is not a
//! snapshot (counts that land while it sums may or may not be in it), and each counter only
//! grows.

use crossbeam_utils::CachePadded;

use crate::engine::sync::{AtomicU64, Ordering};

/// Counters of a store, as [`Store::stats`](crate::Store::stats) reports them.
///
/// ```
/// use scriptling_kv::Store;
///
/// let store = Store::builder().record_stats(true).build();
/// store.set("k", 1);
/// store.get("k");
/// store.get("missing");
/// let stats = store.stats();
/// assert_eq!((stats.hits, stats.misses), (1, 1));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Reads (`get`, `get_or`, `get_with`, the single-flight loads) that found a live value. Only
    /// counted with `record_stats(true)`.
    pub hits: u64,
    /// Reads that found no live value (a single-flight load that loaded, or waited for another
    /// call's load, is a miss). Only counted with `record_stats(true)`.
    pub misses: u64,
    /// Keys removed by the cleaner or `purge_expired` because their TTL passed.
    pub expired: u64,
    /// Keys removed to respect `max_keys` or `max_bytes`.
    pub evicted: u64,
    /// Removal-listener calls that panicked (caught; the store and the cleaner go on).
    pub listener_panics: u64,
    /// Snapshot saves that failed (periodic persistence; see `StoreBuilder::persist`).
    pub save_failures: u64,
    /// The store's accounted size in bytes, as [`Store::bytes_used`](crate::Store::bytes_used)
    /// reports it (a gauge, not a counter: it goes down as keys go), in a store built with
    /// `max_keys` or `max_bytes`, which keeps it as it changes. 0 in an unbounded store, which
    /// keeps no such counter (so that `stats()` stays constant-cost): call
    /// [`Store::bytes_used`](crate::Store::bytes_used) there, which walks the table.
    pub bytes_used: u64,
}

/// Stripes of the hit and miss counters.
#[cfg(not(scriptling_kv_loom))]
const STRIPES: usize = 16;
#[cfg(scriptling_kv_loom)]
const STRIPES: usize = 1;

/// One stripe: a hit and a miss counter on their own cache line.
#[derive(Debug)]
struct Stripe {
    hits: AtomicU64,
    misses: AtomicU64,
}

fn counter() -> CachePadded<AtomicU64> {
    CachePadded::new(AtomicU64::new(0))
}

/// The counters of one store.
#[derive(Debug)]
pub(crate) struct Counters {
    record: bool,
    stripes: Box<[CachePadded<Stripe>]>,
    pub(crate) expired: CachePadded<AtomicU64>,
    pub(crate) evicted: CachePadded<AtomicU64>,
    /// Shared with listener calls queued for later (`engine::evict`, "Re-entrancy").
    pub(crate) listener_panics: std::sync::Arc<AtomicU64>,
    pub(crate) save_failures: AtomicU64,
}

/// This thread's stripe.
#[inline]
fn stripe_index() -> usize {
    crate::engine::sync::thread_number() % STRIPES
}

impl Counters {
    pub(crate) fn new(record: bool) -> Self {
        Counters {
            record,
            stripes: (0..STRIPES)
                .map(|_| {
                    CachePadded::new(Stripe {
                        hits: AtomicU64::new(0),
                        misses: AtomicU64::new(0),
                    })
                })
                .collect(),
            expired: counter(),
            evicted: counter(),
            listener_panics: std::sync::Arc::new(AtomicU64::new(0)),
            save_failures: AtomicU64::new(0),
        }
    }

    /// Counts one read that found (`hit`) or did not find a live value, if stats are recorded.
    #[inline]
    pub(crate) fn lookup(&self, hit: bool) {
        if self.record {
            let stripe = &self.stripes[stripe_index()];
            let counter = if hit { &stripe.hits } else { &stripe.misses };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters summed.
    pub(crate) fn sum(&self) -> Stats {
        let (hits, misses) = self.stripes.iter().fold((0, 0), |(h, m), s| {
            (
                h + s.hits.load(Ordering::Relaxed),
                m + s.misses.load(Ordering::Relaxed),
            )
        });
        Stats {
            hits,
            misses,
            expired: self.expired.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            listener_panics: self.listener_panics.load(Ordering::Relaxed),
            save_failures: self.save_failures.load(Ordering::Relaxed),
            bytes_used: 0,
        }
    }
}

/// Writes committed, for periodic persistence (a save skips when nothing changed since the last
/// one): striped like the hit counters, each thread adding to its own cache-padded stripe.
/// Plain std atomics: persistence does not run under loom.
#[derive(Debug)]
pub(crate) struct Changes {
    stripes: Box<[CachePadded<std::sync::atomic::AtomicU64>]>,
}

impl Changes {
    pub(crate) fn new() -> Self {
        Changes {
            stripes: (0..STRIPES)
                .map(|_| CachePadded::new(std::sync::atomic::AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Counts one committed write.
    #[inline]
    pub(crate) fn bump(&self) {
        // Release: a save that reads this add (Acquire, in `sum`) sees the write before it.
        self.stripes[stripe_index()].fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Writes committed so far (wrapping).
    pub(crate) fn sum(&self) -> u64 {
        self.stripes.iter().fold(0u64, |sum, s| {
            sum.wrapping_add(s.load(std::sync::atomic::Ordering::Acquire))
        })
    }
}
