//! The engine's shared state, [`Core`]: the table, the expiry records, the clock, the in-flight
//! loads, the counters, the bound and the removal listener of one store. The operations on it
//! are `impl Core` blocks in the files above this one: `write` (the write protocol), `evict::room`
//! (what a write reports to the bound), `access` (the raw single-key operations, reads and the
//! walks). This file only defines the state, so that none of them is imported by it.

use crate::engine::clock::Clock;
use crate::engine::counters::{Changes, Counters};
use crate::engine::evict::{Bound, Eviction, Listener};
use crate::engine::expiry::Expiry;
use crate::engine::flight::Flights;
use crate::engine::table::Table;

/// One store's engine state. The store's handles share it (inside the store's `Inner`).
pub(crate) struct Core {
    /// Every key's entry.
    pub(crate) table: Table,
    /// Which entries may have expired, by deadline (`expiry`).
    pub(crate) expiry: Expiry,
    /// The store's time.
    pub(crate) clock: Clock,
    /// Purge steps run (tests).
    pub(crate) purges: std::sync::atomic::AtomicU64,
    /// Single-flight loads in flight (`flight`).
    pub(crate) flights: Flights,
    /// Statistics (`counters`).
    pub(crate) counters: Counters,
    /// The key or byte cap, if any (`evict`).
    pub(crate) bound: Option<Bound>,
    /// The removal listener, if any (`evict`).
    pub(crate) listener: Option<Listener>,
    /// Writes committed, if the store has periodic persistence (`snapshot`).
    pub(crate) changes: Option<Changes>,
}

/// What [`Core::new`] needs: the builder's settings that concern the engine.
pub(crate) struct Settings {
    pub(crate) initial_capacity: usize,
    pub(crate) clock: Clock,
    pub(crate) record_stats: bool,
    pub(crate) max_keys: Option<usize>,
    pub(crate) max_bytes: Option<usize>,
    pub(crate) eviction: Eviction,
    pub(crate) listener: Option<Listener>,
    /// Whether to count committed writes (periodic persistence).
    pub(crate) count_changes: bool,
}

impl Core {
    pub(crate) fn new(s: Settings) -> Core {
        Core {
            table: Table::with_capacity(s.initial_capacity),
            expiry: Expiry::new(s.clock.now()),
            clock: s.clock,
            purges: std::sync::atomic::AtomicU64::new(0),
            flights: Flights::new(),
            counters: Counters::new(s.record_stats),
            bound: (s.max_keys.is_some() || s.max_bytes.is_some())
                .then(|| Bound::new(s.max_keys, s.max_bytes, s.eviction)),
            listener: s.listener,
            changes: s.count_changes.then(Changes::new),
        }
    }
}
