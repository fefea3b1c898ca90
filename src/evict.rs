//! The key cap: `StoreBuilder::max_keys(n)`, and the removal listener's calls.
//!
//! # What it guarantees
//!
//! - **A bound.** Every write that creates a key checks the table's length afterwards and, while
//!   it exceeds `n`, removes one key itself before it returns. So at any instant the store holds
//!   at most `n` keys plus one for each write that is between its insert and its eviction: with
//!   `T` threads writing, at most `n + T`. Writers never wait for one another (the victim queues
//!   below are lock-free, the removals CASes), and a flood of unique keys from any number of
//!   threads keeps `len()` and the memory bounded (`tests/bounded.rs`).
//! - **An order.** Expired keys and keys with a TTL go before keys without one, and among keys
//!   with a TTL the soonest deadline goes first, approximately: like Redis (`volatile-ttl`), the
//!   evictor samples [`SAMPLES`] keys with a TTL and removes the one with the soonest deadline (an
//!   expired one if it sampled one). A key without a TTL is removed only if no key has a TTL
//!   (exactly: every key with a TTL is in the TTL queue, see below); among those, the oldest goes
//!   first (FIFO by creation). When every key is persistent the store therefore behaves as a FIFO
//!   cache of `n` keys: a new key always gets in, the oldest goes.
//! - **Exactly the slot inspected.** A victim is removed by a CAS from the exact slot whose
//!   deadline was judged (the deadline word sealed and checked first, as the cleaner does), so an
//!   eviction racing a write to the same key never removes the newer value (loom model
//!   `bounded::eviction_racing_a_write_never_removes_the_newer_value`).
//!
//! # The victim queues
//!
//! Two lock-free FIFO queues of entries (`crossbeam-queue`'s `SegQueue`; under loom a mutex-
//! protected `VecDeque` stand-in): one for entries with a TTL, one for entries without. Whenever a
//! deadline is published for an entry (created, set, expired, persisted), the entry is pushed on
//! the queue for its kind unless it is already in it (a flag per queue in the entry, set by the
//! pusher, cleared by the popper). An entry may sit in the wrong queue for a while (a TTL removed
//! in place): the popper checks the entry's current slot and moves it over. An entry that died
//! (deleted, expired and purged) is dropped when popped. Queues hold entries that died until they
//! are popped, so a pusher that finds a queue more than twice the table's length (plus a
//! margin) pops and drops dead entries first: amortized `O(1)` per push, and the queues stay
//! `O(keys)`. All of this happens only in a store built with `max_keys`.
//!
//! # The removal listener
//!
//! Called once for every key the store removes on its own (the purge or cleaner: `Expired`; the
//! cap: `Evicted`, or `Expired` for an expired key removed to make room), after the removal (the
//! kill CAS succeeded, so exactly once per key: two removers cannot both succeed), on the thread
//! that removed it, with no lock of the store held. A key the user deletes or overwrites is not
//! reported, even if it had expired before (the write or delete removed it, not the store). A
//! panicking listener is caught (`catch_unwind`) and counted in `Stats::listener_panics`; the
//! store, and the cleaner thread, go on.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crossbeam_epoch::Guard;

use crate::clock::{Clock, NEVER};
use crate::entry::{Entry, Slot};
use crate::sync::{Arc, Ordering};
use crate::table::{Pin, Table};
use crate::value::Value;

/// How many keys with a TTL an eviction samples.
pub(crate) const SAMPLES: usize = 5;

/// Why the store removed a key on its own (the removal listener's third argument).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalCause {
    /// Its TTL had passed (removed by the cleaner, `purge_expired`, or to make room).
    Expired,
    /// Removed to respect `max_keys`.
    Evicted,
}

/// The removal listener.
pub(crate) type Listener = std::sync::Arc<dyn Fn(&str, &Value, RemovalCause) + Send + Sync>;

/// Calls `listener` for a removed key, catching a panic (counted in `panics`).
pub(crate) fn notify(
    listener: Option<&Listener>,
    panics: &crate::sync::AtomicU64,
    key: &str,
    value: &Value,
    cause: RemovalCause,
) {
    if let Some(f) = listener {
        if catch_unwind(AssertUnwindSafe(|| f(key, value, cause))).is_err() {
            panics.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Queue-membership flags, kept in the top bits of `Entry::scheduled` (see there).
pub(crate) const IN_TTL: u64 = 1 << 62;
pub(crate) const IN_PERSISTENT: u64 = 1 << 63;

#[cfg(not(scriptling_kv_loom))]
type Queue = crossbeam_queue::SegQueue<Arc<Entry>>;

/// The loom stand-in for `SegQueue` (loom cannot see `crossbeam-queue`'s atomics).
#[cfg(scriptling_kv_loom)]
#[derive(Debug, Default)]
struct Queue(crate::sync::Mutex<std::collections::VecDeque<Arc<Entry>>>);

#[cfg(scriptling_kv_loom)]
impl Queue {
    fn new() -> Self {
        Queue(crate::sync::Mutex::new(std::collections::VecDeque::new()))
    }
    fn push(&self, e: Arc<Entry>) {
        crate::sync::lock(&self.0).push_back(e);
    }
    fn pop(&self) -> Option<Arc<Entry>> {
        crate::sync::lock(&self.0).pop_front()
    }
    fn len(&self) -> usize {
        crate::sync::lock(&self.0).len()
    }
}

/// A removal the caller reports (to the counters and the listener) once it holds no lock.
pub(crate) struct Removed<'g> {
    pub(crate) entry: Arc<Entry>,
    pub(crate) slot: &'g Slot,
    pub(crate) cause: RemovalCause,
}

/// The cap of a store built with `max_keys`.
#[derive(Debug)]
pub(crate) struct Bound {
    max: usize,
    ttl: Queue,
    persistent: Queue,
}

impl Bound {
    pub(crate) fn new(max: usize) -> Self {
        Bound {
            max,
            ttl: Queue::new(),
            persistent: Queue::new(),
        }
    }

    /// After a deadline was published for `entry`: makes sure it is in the queue of its kind.
    pub(crate) fn note(&self, entry: &Arc<Entry>, deadline: u64, table: &Table, guard: &Guard) {
        let (flag, queue) = if deadline == NEVER {
            (IN_PERSISTENT, &self.persistent)
        } else {
            (IN_TTL, &self.ttl)
        };
        if entry.set_queued(flag) {
            if queue.len() > 2 * table.len() + 1024 {
                self.drop_dead(queue, flag, guard);
            }
            queue.push(entry.clone());
        }
    }

    /// Pops every entry of `queue` once, dropping the dead ones and pushing the others back.
    fn drop_dead(&self, queue: &Queue, flag: u64, guard: &Guard) {
        for _ in 0..queue.len() {
            let Some(e) = queue.pop() else { break };
            if e.load(guard).slot().is_some() {
                queue.push(e);
            } else {
                e.clear_queued(flag);
            }
        }
    }

    /// Whether the store is over its cap.
    #[inline]
    pub(crate) fn over(&self, table: &Table) -> bool {
        table.len() > self.max
    }

    /// Removes one key to make room (module docs): `None` if it found no key to remove.
    pub(crate) fn evict_one<'g>(
        &self,
        table: &Table,
        clock: &Clock,
        pin: &'g Pin<'_>,
    ) -> Option<Removed<'g>> {
        let guard = &pin.epoch;
        // Keys with a TTL: sample, then remove the soonest deadline (retrying if it changed).
        for _ in 0..4 {
            let mut sample: Vec<(Arc<Entry>, u64)> = Vec::with_capacity(SAMPLES);
            let mut pops = 0;
            while sample.len() < SAMPLES && pops < 4 * SAMPLES {
                pops += 1;
                let Some(e) = self.ttl.pop() else { break };
                e.clear_queued(IN_TTL);
                let Some(slot) = e.load(guard).slot() else {
                    continue; // dead: dropped from the queue
                };
                let d = slot.deadline();
                if d == NEVER {
                    self.note(&e, NEVER, table, guard); // moved to the other queue
                } else {
                    sample.push((e, d));
                }
            }
            if sample.is_empty() {
                break;
            }
            sample.sort_by_key(|&(_, d)| d);
            let mut removed = None;
            for (e, d) in sample {
                if removed.is_none() {
                    removed = self.remove(&e, d, table, clock, pin);
                    if removed.is_some() {
                        continue;
                    }
                }
                // Not removed: back in the queue (with its current kind).
                let d = e.load(guard).slot().map(Slot::deadline);
                if let Some(d) = d {
                    self.note(&e, d, table, guard);
                }
            }
            if removed.is_some() {
                return removed;
            }
        }
        // No key with a TTL: the oldest key without one.
        let mut pops = 0;
        while pops < 64 {
            pops += 1;
            let e = self.persistent.pop()?;
            e.clear_queued(IN_PERSISTENT);
            let Some(slot) = e.load(guard).slot() else {
                continue;
            };
            let d = slot.deadline();
            if let Some(r) = self.remove(&e, d, table, clock, pin) {
                return Some(r);
            }
            let d = e.load(guard).slot().map(Slot::deadline);
            if let Some(d) = d {
                self.note(&e, d, table, guard);
            }
        }
        None
    }

    /// Removes `entry` if its current slot still has deadline `deadline`: seals the deadline
    /// word, checks it, kills the exact slot inspected, unlinks the entry.
    fn remove<'g>(
        &self,
        entry: &Arc<Entry>,
        deadline: u64,
        table: &Table,
        clock: &Clock,
        pin: &'g Pin<'_>,
    ) -> Option<Removed<'g>> {
        let guard = &pin.epoch;
        let cur = entry.load(guard);
        let slot = cur.slot()?;
        if mutant::seal_and_check() && slot.seal_deadline() != deadline {
            return None; // moved in place meanwhile: judge it again later
        }
        let killed = if mutant::kill_any() {
            entry.kill_any(guard)
        } else {
            entry.kill(cur, true, guard)
        };
        if !killed {
            return None; // rewritten meanwhile: the newer value stays
        }
        table.remove_if_same(entry, pin);
        let cause = if deadline != NEVER && deadline <= clock.now() {
            RemovalCause::Expired
        } else {
            RemovalCause::Evicted
        };
        Some(Removed {
            entry: entry.clone(),
            slot,
            cause,
        })
    }
}

/// The mutation hooks of `loom-tests/mutants` for eviction (see `entry.rs`, `mod mutant`).
mod mutant {
    /// Mutant `evict_any_slot`: the victim is killed whatever slot it holds now, not only the
    /// one inspected.
    #[inline]
    pub(super) fn kill_any() -> bool {
        cfg!(scriptling_kv_mutant = "evict_any_slot")
    }

    /// Whether the victim's deadline word is sealed and checked before the kill (off with the
    /// same mutant).
    #[inline]
    pub(super) fn seal_and_check() -> bool {
        !cfg!(scriptling_kv_mutant = "evict_any_slot")
    }
}
