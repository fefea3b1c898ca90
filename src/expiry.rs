//! The expiry engine: schedule records, the timing wheel, and the purge step.
//!
//! # What it guarantees
//!
//! Expiry itself needs no engine: a key is absent from the instant its deadline passes because
//! every operation compares the deadline with the clock (`entry.rs`). The engine only decides
//! *when to look* at a key so that its memory is reclaimed, and a purge costs what expired, not
//! what is stored.
//!
//! # Records
//!
//! A record is `(tick, Arc<Entry>)`: "look at this entry at this tick" (a tick is 2^20 ns, about
//! 1.05 ms). Records are hints. The visitor re-reads the entry's real slot before doing anything:
//! it kills the entry only by a CAS from the exact expired slot it inspected, so a key that was
//! set again, persisted, re-expired later, or deleted and re-created (a different entry) is never
//! removed by an old record; a key whose deadline moved later is re-scheduled, not removed.
//!
//! # At most one pending record per entry
//!
//! `Entry::scheduled` holds the tick of the earliest record pending for the entry
//! (`UNSCHEDULED` if none). A writer that publishes a slot with deadline tick `t` then *claims*:
//! if `scheduled <= t` an earlier (or equal) record will visit the entry before `t` and the visit
//! re-schedules it, so nothing is added; otherwise it CASes `scheduled` down to `t` and pushes one
//! record. So refreshing a session's TTL on every request (later and later deadlines) adds no
//! records at all: memory is `O(keys with a TTL)`, not `O(TTL updates)`. (Shortening a TTL
//! repeatedly adds one record per distinct earlier tick; stale ones are dropped when visited.)
//!
//! The visitor of record `(t, e)` first CASes `e.scheduled` from `t` to `UNSCHEDULED` (if it
//! fails the record was superseded and another record covers the entry), *then* reads the slot;
//! if the slot is live with a future deadline it claims that deadline like a writer would.
//! No deadline is left uncovered: the writer does (1) slot CAS, (2) load `scheduled`; the visitor
//! does (a) CAS `scheduled`, (b) load slot, all `SeqCst`. In the single total order either (2)
//! comes after (a), and the writer sees `UNSCHEDULED` and pushes a record itself, or (2) comes
//! before (a), so (1) is before (b) and the visitor sees the writer's deadline and re-schedules.
//!
//! # Writers do not serialize
//!
//! Writers push records into one of [`SHARDS`] cache-padded buffers chosen per thread, so two
//! threads setting TTLs take different locks (each held for one `Vec::push`). Only the purge step
//! touches the wheel, under its own mutex that writers never take.
//!
//! # Dead records
//!
//! `delete` and `clear` do not touch the engine: the record of a killed entry stays until its
//! tick, holding the dead entry (about 100 bytes with its key). A key deleted and re-created
//! with a TTL over and over would pile up one such record per cycle, so kills of entries with a
//! pending record are counted, and once they are at least half of all records (and at least
//! [`COMPACT_MIN`]) the engine is compacted: every record of a dead entry is dropped. The killer
//! does it if the engine is free (`try_lock`, never waiting), otherwise the purge holding it does
//! it before visiting. Each compaction costs `O(records)` and removes at least half of them, so it
//! is amortized `O(1)` per kill, and dead records never exceed about half the records plus
//! `COMPACT_MIN`: memory stays `O(keys with a TTL)`.
//!
//! # The purge step
//!
//! `purge` (the cleaner thread's tick, or `Store::purge_expired`): take each shard's buffer (a
//! pointer swap under the shard lock), insert the records into the wheel, advance the wheel to the
//! current tick, and visit what came due in batches of [`BATCH`], re-pinning between batches so
//! reclamation is never held up by a long purge. Readers never wait for any of it: they take no
//! lock, and the visitor's only writes are CASes on the entries it kills plus a per-bin unlink in
//! the table. Records visited in the current tick whose key has not expired yet (deadline later
//! in the same tick) wait in `early` for the next purge.

use crossbeam_epoch::Guard;
use crossbeam_utils::CachePadded;

use crate::clock::{Clock, NEVER};
use crate::entry::Entry;
use crate::sync::{lock, try_lock, Arc, AtomicUsize, Mutex, Ordering};
use crate::table::{Pin, Table};
use crate::wheel::Wheel;

/// log2 of the tick length in nanoseconds.
pub(crate) const TICK_SHIFT: u32 = 20;
/// Number of schedule buffers.
pub(crate) const SHARDS: usize = 16;
/// Records visited per pin.
pub(crate) const BATCH: usize = 1024;

type Record = (u64, Arc<Entry>);

/// The tick a deadline falls in.
#[inline]
pub(crate) fn tick_of(deadline: u64) -> u64 {
    deadline >> TICK_SHIFT
}

#[derive(Debug)]
struct Engine {
    wheel: Wheel<Arc<Entry>>,
    /// Visited records whose tick has passed but whose deadline has not (same tick as now).
    early: Vec<Record>,
}

/// Schedule buffers plus the wheel. One per store.
#[derive(Debug)]
pub(crate) struct Expiry {
    shards: Box<[CachePadded<Mutex<Vec<Record>>>]>,
    engine: Mutex<Engine>,
    /// Entries killed (by `delete`/`clear`) while a record for them was pending: an estimate of
    /// the dead records in the engine (see "Dead records" in the module docs).
    dead: CachePadded<AtomicUsize>,
    /// Compact when `dead` exceeds this (recomputed after each check).
    compact_at: AtomicUsize,
}

/// The least number of dead records worth a compaction.
const COMPACT_MIN: usize = 1024;

/// Claims the right (and duty) to push a record at `tick` for `entry`; see the module docs.
fn claim(entry: &Entry, tick: u64) -> bool {
    let mut cur = entry.scheduled.load(Ordering::SeqCst);
    loop {
        if cur <= tick {
            return false;
        }
        match entry
            .scheduled
            .compare_exchange(cur, tick, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => return true,
            Err(actual) => cur = actual,
        }
    }
}

fn shard_index() -> usize {
    #[cfg(not(scriptling_kv_loom))]
    {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        thread_local! {
            static SHARD: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % SHARDS;
        }
        SHARD.with(|s| *s)
    }
    #[cfg(scriptling_kv_loom)]
    {
        0
    }
}

impl Expiry {
    pub(crate) fn new(now: u64) -> Self {
        Expiry {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Vec::new())))
                .collect(),
            engine: Mutex::new(Engine {
                wheel: Wheel::new(tick_of(now)),
                early: Vec::new(),
            }),
            dead: CachePadded::new(AtomicUsize::new(0)),
            compact_at: AtomicUsize::new(COMPACT_MIN),
        }
    }

    /// Called after `delete` or `clear` killed `entry`: if a record for it is pending, that record
    /// is now dead weight until its tick; count it, and compact once dead records dominate.
    #[inline]
    pub(crate) fn note_killed(&self, entry: &Entry) {
        if entry.scheduled.load(Ordering::Relaxed) == Entry::UNSCHEDULED {
            return;
        }
        let dead = self.dead.fetch_add(1, Ordering::Relaxed) + 1;
        if dead > self.compact_at.load(Ordering::Relaxed) {
            // Whoever holds the engine (a purge) checks again when it finishes.
            if let Some(mut engine) = try_lock(&self.engine) {
                self.maybe_compact(&mut engine);
            }
        }
    }

    /// Drops every record of a dead entry if they are at least half of all records; in any case
    /// sets the next threshold to half the records left. Each compaction costs `O(records)` and
    /// removes at least half of them, so its cost is amortized over the kills that made it due.
    fn maybe_compact(&self, engine: &mut Engine) {
        let buffered: usize = self.shards.iter().map(|s| lock(s).len()).sum();
        let total = engine.wheel.len() + engine.early.len() + buffered;
        let dead = self.dead.load(Ordering::Relaxed);
        if dead >= COMPACT_MIN && dead * 2 >= total {
            let guard = crossbeam_epoch::pin();
            let alive = |entry: &Arc<Entry>| entry.load(&guard).slot().is_some();
            for shard in self.shards.iter() {
                let batch = std::mem::take(&mut *lock(shard));
                for (tick, entry) in batch.into_iter().filter(|(_, e)| alive(e)) {
                    if let Err(entry) = engine.wheel.insert(tick, entry) {
                        engine.early.push((tick, entry));
                    }
                }
            }
            engine.wheel.retain(alive);
            engine.early.retain(|(_, e)| alive(e));
            // Kills that raced with this pass may be left uncounted or counted twice; the count
            // is an estimate that only times the next compaction.
            self.dead.store(0, Ordering::Relaxed);
        }
        let left = engine.wheel.len() + engine.early.len();
        self.compact_at
            .store((left / 2).max(COMPACT_MIN), Ordering::Relaxed);
    }

    /// Called by a writer right after it published a slot with `deadline` into `entry`.
    #[inline]
    pub(crate) fn schedule(&self, entry: &Arc<Entry>, deadline: u64) {
        if deadline == NEVER {
            return;
        }
        let tick = tick_of(deadline);
        if claim(entry, tick) {
            lock(&self.shards[shard_index()]).push((tick, entry.clone()));
        }
    }

    /// Records waiting anywhere (buffers, wheel, early list): for tests and memory checks.
    pub(crate) fn pending(&self) -> usize {
        let buffered: usize = self.shards.iter().map(|s| lock(s).len()).sum();
        let engine = lock(&self.engine);
        buffered + engine.wheel.len() + engine.early.len()
    }

    /// One purge step; returns how many keys it removed.
    pub(crate) fn purge(&self, table: &Table, clock: &Clock) -> usize {
        let mut engine = lock(&self.engine);
        let engine = &mut *engine;
        let mut due: Vec<Record> = std::mem::take(&mut engine.early);
        for shard in self.shards.iter() {
            let batch = std::mem::take(&mut *lock(shard));
            for (tick, entry) in batch {
                if let Err(entry) = engine.wheel.insert(tick, entry) {
                    due.push((tick, entry));
                }
            }
        }
        // Read the time after draining: every deadline published before a record we drained was
        // computed from an earlier reading, so nothing due is judged against a stale clock.
        let now = clock.now();
        engine.wheel.advance(tick_of(now), &mut due);

        let mut removed = 0;
        if self.dead.load(Ordering::Relaxed) > self.compact_at.load(Ordering::Relaxed) {
            self.maybe_compact(engine);
        }
        for batch in due.chunks(BATCH) {
            let pin = table.pin();
            for (tick, entry) in batch {
                if visit(*tick, entry, now, table, &pin, engine) {
                    removed += 1;
                }
            }
            // Hand this batch's retired slots to the collector now, so the purging thread frees
            // its own garbage instead of leaving it for readers' pins to collect.
            pin.epoch.flush();
        }
        removed
    }
}

/// Looks at `entry` for its record at `tick`: removes it if expired at `now`, re-schedules it if
/// its deadline moved later. Returns whether it removed the key.
fn visit(
    tick: u64,
    entry: &Arc<Entry>,
    now: u64,
    table: &Table,
    pin: &Pin<'_>,
    engine: &mut Engine,
) -> bool {
    // If this is the active record, the entry is ours to re-schedule; if not, another record
    // covers it and this one is stale. Either way the slot check below is what decides.
    // (MUTANT `reset_after_load`, loom-tests/mutants: this release happens after the slot load.)
    #[cfg(not(scriptling_kv_mutant = "reset_after_load"))]
    let _ = entry.scheduled.compare_exchange(
        tick,
        Entry::UNSCHEDULED,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    let guard: &Guard = &pin.epoch;
    loop {
        let current = entry.load_seqcst(guard);
        #[cfg(scriptling_kv_mutant = "reset_after_load")]
        let _ = entry.scheduled.compare_exchange(
            tick,
            Entry::UNSCHEDULED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        let Some(slot) = current.slot() else {
            // Dead: whoever killed it unlinks it.
            return false;
        };
        // MUTANT (loom-tests/mutants): kills whatever slot is there, without checking its deadline.
        #[cfg(scriptling_kv_mutant = "skip_recheck")]
        {
            if entry.kill(current, guard) {
                table.remove_if_same(entry, pin);
                return true;
            }
            continue;
        }
        if !slot.has_deadline() {
            return false;
        }
        if !slot.is_live_at(now) {
            if entry.kill(current, guard) {
                table.remove_if_same(entry, pin);
                return true;
            }
            // The slot changed under us: look again.
            continue;
        }
        let t = tick_of(slot.deadline);
        if claim(entry, t) {
            if let Err(e) = engine.wheel.insert(t, entry.clone()) {
                engine.early.push((t, e));
            }
        }
        return false;
    }
}
