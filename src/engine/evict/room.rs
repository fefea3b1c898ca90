//! What every write reports to the bound (`write` calls these after its CASes): charges, the
//! queues, and making room before a write that needs it (module docs of `evict`).

use crate::engine::core::Core;
use crate::engine::entry::{Entry, Slot};
use crate::engine::evict::{charge, notify, value_size, Bound, RemovalCause, Removed};
use crate::engine::sync::{Arc, Ordering};
use crate::engine::table::Pin;
use crate::value::Value;

/// The bounds' bookkeeping in the write engine (`engine::write` calls these after its CASes).
impl Core {
    /// The size of `value` toward the byte charge, computed only in a bounded store (0 otherwise).
    #[inline]
    pub(crate) fn size_for_bound(&self, value: &Value) -> usize {
        if self.bound.is_some() {
            value_size(value)
        } else {
            0
        }
    }

    /// After this thread replaced `old` by a slot whose value has size `size`: the charge, a use
    /// (`Lru`), and room if a bound is now exceeded.
    pub(crate) fn after_replace(&self, entry: &Arc<Entry>, old: &Slot, size: usize, pin: &Pin<'_>) {
        if let Some(bound) = &self.bound {
            bound.charge(size, value_size(&old.value()));
            self.make_room(bound, entry, pin);
        }
    }

    /// After this thread inserted `entry`, whose value has size `size`.
    pub(crate) fn after_create(&self, entry: &Arc<Entry>, size: usize, pin: &Pin<'_>) {
        if let Some(bound) = &self.bound {
            bound.charge(charge(entry.key.as_str().len(), size), 0);
            bound.created(entry);
            self.make_room(bound, entry, pin);
        }
    }

    /// After this thread killed `entry`'s slot `old` (any cause).
    pub(crate) fn after_kill(&self, entry: &Entry, old: &Slot) {
        if let Some(bound) = &self.bound {
            bound.charge(
                0,
                charge(entry.key.as_str().len(), value_size(&old.value())),
            );
        }
    }

    /// A read of `entry` (`Lru` only).
    #[inline]
    pub(crate) fn used(&self, entry: &Entry) {
        if let Some(bound) = &self.bound {
            bound.used(entry);
        }
    }

    /// While a bound is exceeded, removes one key (never `own`) and reports it; the last
    /// evictor to leave checks again (module docs, "The last evictor out").
    fn make_room(&self, bound: &Bound, own: &Arc<Entry>, pin: &Pin<'_>) {
        if !bound.over(&self.table) {
            return;
        }
        bound.evicting.fetch_add(1, Ordering::SeqCst);
        loop {
            let entered = bound.entered.fetch_add(1, Ordering::SeqCst) + 1;
            let alone = bound.evicting.load(Ordering::SeqCst) == 1;
            while bound.over(&self.table) {
                match bound.evict_one(&self.table, &self.clock, pin, Some(own)) {
                    Some(removed) => self.report(removed),
                    None => break,
                }
            }
            let last = bound.evicting.fetch_sub(1, Ordering::SeqCst) == 1;
            if !last || mutant::no_last_check() || !bound.over(&self.table) {
                return;
            }
            if alone && bound.entered.load(Ordering::SeqCst) == entered {
                return; // alone all along: only this writer's own key is left to take
            }
            bound.evicting.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Counts a key the store removed to make room and tells the removal listener.
    pub(crate) fn report(&self, removed: Removed<'_>) {
        self.after_kill(&removed.entry, removed.slot);
        self.expiry.note_killed(&removed.entry, &self.table);
        let counter = match removed.cause {
            RemovalCause::Expired => &self.counters.expired,
            RemovalCause::Evicted => &self.counters.evicted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.changed();
        notify(
            self.listener.as_ref(),
            &self.counters.listener_panics,
            removed.entry.key.as_str(),
            &removed.slot.value(),
            removed.cause,
        );
    }

    /// The accounted bytes: the bound's counter, or (in an unbounded store) a walk of the table.
    pub(crate) fn bytes_used(&self) -> usize {
        if let Some(bound) = &self.bound {
            return bound.bytes();
        }
        let table = &self.table;
        let mut epoch = table.epoch();
        let mut total = 0usize;
        let mut visited = 0usize;
        table.for_each(|key, entry| {
            visited += 1;
            if visited % crate::engine::expiry::BATCH == 0 {
                epoch.repin();
            }
            if let Some(slot) = entry.load(&epoch).slot() {
                total = total.saturating_add(charge(key.as_str().len(), value_size(&slot.value())));
            }
        });
        total
    }
}

/// The mutation hook of `loom-tests/mutants` for making room (see `entry`, `mod mutant`).
mod mutant {
    /// Mutant `no_last_check`: a writer that leaves making room last does not check the bounds
    /// again.
    #[inline]
    pub(super) fn no_last_check() -> bool {
        cfg!(scriptling_kv_mutant = "no_last_check")
    }
}
