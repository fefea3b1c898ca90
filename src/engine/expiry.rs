//! The expiry engine: schedule records, the timing wheel, and the purge step.
//!
//! # What it guarantees
//!
//! Expiry itself needs no engine: a key is absent from the instant its deadline passes because
//! every operation judges it with the one liveness rule (`engine::entry`). The engine only decides
//! *when to look* at a key so that its memory is reclaimed, and a purge costs what expired, not
//! what is stored.
//!
//! # Records
//!
//! A record is an `Arc<Entry>` (8 bytes): "look at this entry at its scheduled tick" (a tick is
//! 2^20 ns, about 1.05 ms). Records are hints. The visitor re-reads the entry's real slot and deadline before
//! doing anything: it kills the entry only by a CAS from the exact expired slot it inspected,
//! after sealing that slot's deadline word and checking the deadline did not move, so a key that
//! was set again, persisted, re-expired later (in place or by a new slot), or deleted and
//! re-created (a different entry) is never removed by an old record; a key whose deadline moved
//! later is re-scheduled, not removed.
//!
//! # At most one active record per entry
//!
//! `Entry::scheduled` holds the tick of the entry's *active* record, the earliest one pending
//! (`UNSCHEDULED` if none), in its low 44 bits; its upper bits belong to `engine::evict` (queue flags,
//! changed by `fetch_or`/`fetch_and` only, and the `Lru` access stamp, changed by a CAS that keeps
//! the other bits), and every CAS here carries them over unchanged and
//! retries if they changed under it, so "CAS `scheduled`" below means its tick. A writer that
//! publishes a deadline with tick `t` then *claims*: if `scheduled <= t` an earlier (or equal)
//! record will visit the entry before `t` and the visit re-schedules it, so nothing is added;
//! otherwise it CASes `scheduled` down to `t` and pushes one record. So refreshing a session's TTL
//! on every request (later and later deadlines) adds no records at all. A record whose tick is not
//! its entry's `scheduled` is *superseded*: the active record covers the entry. Shortening a TTL
//! supersedes the previous record; superseded records are counted with the dead ones below and
//! dropped by compaction, so shortening a TTL over and over cannot pile records up either: memory
//! is `O(keys with a TTL)`, not `O(TTL updates)`.
//!
//! The visitor of record `(t, e)` first CASes `e.scheduled` from `t` to `UNSCHEDULED` (if it
//! fails the record was superseded and another record covers the entry), *then* reads the slot;
//! if the slot is live with a future deadline it claims that deadline like a writer would.
//! No deadline is left uncovered: the writer does (1) slot CAS or in-place deadline CAS, (2) load
//! `scheduled`; the visitor does (a) CAS `scheduled`, (b) load the slot pointer and its deadline
//! word, all `SeqCst`. In the single total order either (2) comes after (a), and the writer sees
//! `UNSCHEDULED` and pushes a record itself, or (2) comes before (a), so (1) is before (b) and
//! the visitor sees the writer's deadline and re-schedules.
//!
//! # Records carry no tick
//!
//! A record's tick is its entry's `scheduled` tick, read when the record is placed: when a purge
//! drains the buffers into the wheel, and when the wheel moves a record from a slot spanning
//! many ticks to a finer one (`engine::wheel`, "Records carry no tick"). A record whose entry's
//! tick is then `UNSCHEDULED`, or outside the ticks of the slot it sits in, is *stale* and
//! dropped. That is safe because of one fact about the protocol above: `scheduled` takes a new
//! tick `s` only by a claim, and every claim that sets it pushes a record of its own (the visitor
//! only sets `UNSCHEDULED`). So a record is the one that covers its entry only while the entry's
//! tick is still the one it was placed at, and then that tick is in its slot's range; a record
//! met with any other tick has been replaced by the record of the claim that set that tick (or
//! the entry has been visited and needs none), and dropping it loses nothing. Conversely keeping
//! a stale record is harmless, as before: its visit re-reads the slot. Two records of one entry
//! can end up placed at the same tick (a superseded one drained after the claim that superseded
//! it, or two in one wide slot); both visit, the second finds the work done. They are counted as
//! wasted like every superseded record, and a compaction keeps at most one record per entry.
//! Records already due when drained skip the wheel (handed to the purge with their tick).
//!
//! # Nobody waits for the engine
//!
//! Writers push records into one of [`SHARDS`] cache-padded buffers chosen per thread, so two
//! threads setting TTLs take different locks (each held for one `Vec::push`). The wheel is behind
//! its own mutex, held only for short steps: draining the buffers into the wheel and taking out
//! what came due (a purge), or a compaction. The visits themselves (the CASes that kill expired
//! entries, the table unlinks) run with no lock held. Readers take no lock at all.
//!
//! # Dead and superseded records
//!
//! `delete` and `clear` do not touch the engine: the record of a killed entry stays until its
//! tick, holding the dead entry (about 100 bytes with its key). A key deleted and re-created with
//! a TTL over and over would pile up one such record per cycle, so kills of entries with a pending
//! record are counted, as are records superseded by a shorter TTL, and once they are at least
//! half of all records (and at least [`COMPACT_MIN`]) the engine is compacted: every record of a
//! dead entry, every stale record, and every record but one of an entry with several, is
//! dropped. Whoever notices first does it if the
//! engine is free (`try_lock`, never waiting); otherwise the next purge does. Each compaction costs
//! `O(records)` and removes at least half of them, and the next one is due only when the counted
//! records reach half of what is left (buffered records included), so compaction is amortized
//! `O(1)` per counted record and wasted records never exceed about half the records plus
//! [`COMPACT_MIN`].
//!
//! # The purge step
//!
//! `purge` (the cleaner thread's tick, or `Store::purge_expired`): under the engine mutex, take
//! each shard's buffer (a pointer swap under the shard lock), insert the records into the wheel,
//! read the clock, advance the wheel to the current tick, and take out what came due; then, with
//! no lock held, visit those records in batches of [`BATCH`], re-pinning between batches so
//! reclamation is never held up by a long purge. A record visited in the current tick whose key
//! has not expired yet (deadline later in the same tick) is re-scheduled through the buffers and
//! comes due again at the next purge.

use std::collections::HashSet;

use crossbeam_epoch::Guard;
use crossbeam_utils::CachePadded;

use crate::engine::clock::{Clock, NEVER};
use crate::engine::entry::{Entry, Slot};
use crate::engine::sync::{lock, try_lock, Arc, AtomicUsize, Mutex, Ordering};
use crate::engine::table::{Pin, Table};
use crate::engine::wheel::{Record, Wheel};

/// log2 of the tick length in nanoseconds.
pub(crate) const TICK_SHIFT: u32 = 20;
/// Number of schedule buffers. One under loom: the models use one shard anyway (every thread
/// pushes to shard 0), and every shard is a mutex the purge takes, so more would only multiply
/// the interleavings loom explores without exercising anything new.
#[cfg(not(scriptling_kv_loom))]
pub(crate) const SHARDS: usize = 16;
#[cfg(scriptling_kv_loom)]
pub(crate) const SHARDS: usize = 1;
/// Records visited per pin.
pub(crate) const BATCH: usize = 1024;

/// A schedule buffer: records pushed by writers, drained into the wheel by a purge.
type Buffer = CachePadded<Mutex<Vec<Arc<Entry>>>>;

/// A record the purge visits: the entry and the tick it came due at.
type Due = (u64, Arc<Entry>);

/// A record's tick is its entry's `scheduled` tick, when it has one (module docs, "Records carry
/// no tick").
impl Record for Arc<Entry> {
    #[inline]
    fn due_tick(&self) -> Option<u64> {
        let tick = self.scheduled_tick();
        (tick != Entry::UNSCHEDULED).then_some(tick)
    }
}

/// The tick a deadline falls in.
#[inline]
pub(crate) fn tick_of(deadline: u64) -> u64 {
    deadline >> TICK_SHIFT
}

/// Schedule buffers plus the wheel. One per store.
#[derive(Debug)]
pub(crate) struct Expiry {
    shards: Box<[Buffer]>,
    wheel: Mutex<Wheel<Arc<Entry>>>,
    /// Records known to be wasted: entries killed (by `delete`/`clear`) while a record for them
    /// was pending, and records superseded by a shorter TTL. An estimate that only times the next
    /// compaction (see "Dead and superseded records" in the module docs).
    wasted: CachePadded<AtomicUsize>,
    /// Compact when `wasted` exceeds this (recomputed after each check).
    compact_at: AtomicUsize,
    /// Compactions run so far, and how many times one was considered (tests of the threshold).
    compactions: AtomicUsize,
    checks: AtomicUsize,
}

/// The least number of wasted records worth a compaction.
const COMPACT_MIN: usize = 1024;

/// What a claim did.
#[derive(PartialEq, Eq)]
enum Claim {
    /// An earlier or equal record covers the entry: nothing to push.
    Covered,
    /// The caller must push a record at the tick (no record was pending).
    Push,
    /// The caller must push a record at the tick, and the previous active record is superseded.
    PushSuperseding,
}

/// Claims the right (and duty) to push a record at `tick` for `entry`; see the module docs.
///
/// `Entry::scheduled` also carries the eviction-queue flags in its top bits: the CAS keeps them,
/// and fails (then retries) if they changed meanwhile.
fn claim(entry: &Entry, tick: u64) -> Claim {
    debug_assert!(tick < Entry::UNSCHEDULED);
    let mut word = entry.scheduled.load(Ordering::SeqCst);
    loop {
        let cur = word & Entry::TICK;
        if cur <= tick {
            return Claim::Covered;
        }
        match entry.scheduled.compare_exchange(
            word,
            (word & !Entry::TICK) | tick,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) if cur == Entry::UNSCHEDULED => return Claim::Push,
            Ok(_) => return Claim::PushSuperseding,
            Err(actual) => word = actual,
        }
    }
}

/// The visitor's step (a) of the module docs: `entry.scheduled`'s tick goes from `tick` to
/// `UNSCHEDULED` if it still is `tick`; the flag bits are kept (a CAS that failed only because
/// they changed is retried).
fn release_record(entry: &Entry, tick: u64) {
    let mut word = entry.scheduled.load(Ordering::SeqCst);
    while word & Entry::TICK == tick {
        match entry.scheduled.compare_exchange(
            word,
            (word & !Entry::TICK) | Entry::UNSCHEDULED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) => return,
            Err(actual) => word = actual,
        }
    }
}

/// This thread's schedule buffer.
#[inline]
fn shard_index() -> usize {
    crate::engine::sync::thread_number() % SHARDS
}

/// A key the purge removed: its entry and the slot it killed (readable while the purge's pin
/// lives).
pub(crate) type Removed<'a> = (&'a Entry, &'a Slot);

impl Expiry {
    pub(crate) fn new(now: u64) -> Self {
        Expiry {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Vec::new())))
                .collect(),
            wheel: Mutex::new(Wheel::new(tick_of(now))),
            wasted: CachePadded::new(AtomicUsize::new(0)),
            compact_at: AtomicUsize::new(COMPACT_MIN),
            compactions: AtomicUsize::new(0),
            checks: AtomicUsize::new(0),
        }
    }

    /// Called after `delete` or `clear` killed `entry`: if a record for it is pending, that record
    /// is now dead weight until its tick.
    #[inline]
    pub(crate) fn note_killed(&self, entry: &Entry, table: &Table) {
        if entry.scheduled.load(Ordering::Relaxed) & Entry::TICK != Entry::UNSCHEDULED {
            self.note_wasted(table);
        }
    }

    /// Counts one wasted record, and compacts if they dominate and the wheel is free.
    fn note_wasted(&self, table: &Table) {
        let wasted = self.wasted.fetch_add(1, Ordering::Relaxed) + 1;
        if wasted > self.compact_at.load(Ordering::Relaxed) {
            // If the wheel is busy, its holder or the next purge checks again.
            if let Some(mut wheel) = try_lock(&self.wheel) {
                self.maybe_compact(&mut wheel, table);
            }
        }
    }

    /// Takes every shard's buffer into the wheel, each record at its entry's tick now; records
    /// already due go to `due`, stale ones are dropped.
    fn drain(&self, wheel: &mut Wheel<Arc<Entry>>, due: &mut Vec<Due>) {
        for shard in self.shards.iter() {
            let batch = std::mem::take(&mut *lock(shard));
            for entry in batch {
                let Some(tick) = entry.due_tick() else {
                    continue;
                };
                if let Err(entry) = wheel.insert(tick, entry) {
                    due.push((tick, entry));
                }
            }
        }
    }

    /// Drops every record of a dead entry and every superseded record if the wasted ones are at
    /// least half of all records; in any case sets the next threshold to half the records left
    /// (buffered ones included). Each compaction costs `O(records)` and removes at least half of
    /// them, so its cost is amortized over the wasted records that made it due.
    fn maybe_compact(&self, wheel: &mut Wheel<Arc<Entry>>, table: &Table) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let buffered: usize = self.shards.iter().map(|s| lock(s).len()).sum();
        let total = wheel.len() + buffered;
        let wasted = self.wasted.load(Ordering::Relaxed);
        let left = if wasted >= COMPACT_MIN && wasted * 2 >= total {
            let guard = table.epoch();
            let mut due = Vec::new();
            self.drain(wheel, &mut due);
            // A record is needed only while its entry lives, where its entry's tick is, and once
            // per entry.
            let mut kept: HashSet<*const Entry> = HashSet::new();
            let mut needed = |first: u64, last: u64, entry: &Arc<Entry>| {
                entry.load(&guard).slot().is_some()
                    && entry.due_tick().is_some_and(|t| first <= t && t <= last)
                    && (kept.insert(Arc::as_ptr(entry)) || mutant::keep_duplicates())
            };
            due.retain(|(tick, entry)| needed(*tick, *tick, entry));
            wheel.retain(&mut needed);
            // Records that came due while draining stay due: put them back for the next purge.
            lock(&self.shards[0]).extend(due.into_iter().map(|(_, entry)| entry));
            // Records counted while this pass ran may be left uncounted or counted twice; the
            // count only times the next compaction.
            self.wasted.store(0, Ordering::Relaxed);
            self.compactions.fetch_add(1, Ordering::Relaxed);
            wheel.len() + lock(&self.shards[0]).len()
        } else {
            total
        };
        self.compact_at
            .store((left / 2).max(COMPACT_MIN), Ordering::Relaxed);
    }

    /// Called by a writer right after it published `deadline` into `entry` (a new slot, or the
    /// deadline word of the current one).
    #[inline]
    pub(crate) fn schedule(&self, entry: &Arc<Entry>, deadline: u64, table: &Table) {
        if deadline == NEVER {
            return;
        }
        let tick = tick_of(deadline);
        let claimed = claim(entry, tick);
        if claimed != Claim::Covered {
            lock(&self.shards[shard_index()]).push(entry.clone());
            if claimed == Claim::PushSuperseding {
                self.note_wasted(table);
            }
        }
    }

    /// Records waiting anywhere (buffers, wheel): for tests and memory checks.
    pub(crate) fn pending(&self) -> usize {
        let buffered: usize = self.shards.iter().map(|s| lock(s).len()).sum();
        buffered + lock(&self.wheel).len()
    }

    /// (compactions run, compactions considered) so far (tests).
    pub(crate) fn compactions(&self) -> (usize, usize) {
        (
            self.compactions.load(Ordering::Relaxed),
            self.checks.load(Ordering::Relaxed),
        )
    }

    /// Takes every lock of the engine and holds them until the result is dropped (tests that
    /// readers never wait for them).
    #[cfg(not(scriptling_kv_loom))]
    pub(crate) fn hold_locks(&self) -> impl Sized + '_ {
        let wheel = lock(&self.wheel);
        let shards: Vec<_> = self.shards.iter().map(|s| lock(s)).collect();
        (wheel, shards)
    }

    /// One purge step; returns how many keys it removed. `removed` is called for each, after the
    /// removal, with no lock of the store held.
    pub(crate) fn purge(
        &self,
        table: &Table,
        clock: &Clock,
        removed: &mut dyn FnMut(Removed<'_>),
    ) -> usize {
        let (due, now) = {
            let mut wheel = lock(&self.wheel);
            let mut due = Vec::new();
            self.drain(&mut wheel, &mut due);
            // Read the time after draining: every deadline published before a record we drained
            // was computed from an earlier reading, so nothing due is judged against a stale
            // clock.
            let now = clock.now();
            wheel.advance(tick_of(now), &mut due);
            if self.wasted.load(Ordering::Relaxed) > self.compact_at.load(Ordering::Relaxed) {
                self.maybe_compact(&mut wheel, table);
            }
            (due, now)
        };
        let mut count = 0;
        for batch in due.chunks(BATCH) {
            let pin = table.pin();
            for (tick, entry) in batch {
                if let Some(slot) = self.visit(*tick, entry, now, table, &pin) {
                    count += 1;
                    removed((entry, slot));
                }
            }
            // Hand this batch's retired slots to the collector now, so the purging thread frees
            // its own garbage instead of leaving it for readers' pins to collect.
            pin.epoch.flush();
        }
        count
    }

    /// Looks at `entry` for its record at `tick`: removes it if expired at `now`, re-schedules it
    /// if its deadline moved later. Returns the slot it killed, if it removed the key.
    fn visit<'g>(
        &self,
        tick: u64,
        entry: &Arc<Entry>,
        now: u64,
        table: &Table,
        pin: &'g Pin<'_>,
    ) -> Option<&'g Slot> {
        // If this is the active record, the entry is ours to re-schedule; if not, another record
        // covers it and this one is stale. Either way the slot check below is what decides.
        let early_release = !mutant::release_after_load();
        let release = || {
            release_record(entry, tick);
        };
        if early_release {
            release();
        }
        let guard: &'g Guard = &pin.epoch;
        loop {
            let (cur, deadline) = entry.load_for_visit(guard)?;
            if !early_release {
                release();
            }
            let slot = cur.slot()?;
            if deadline == NEVER {
                return None;
            }
            if deadline > now && !mutant::skip_recheck() {
                self.schedule(entry, deadline, table);
                return None;
            }
            // Expired at `now` (a reading taken after the record came due, and the clock only
            // moves forward). Seal the deadline so it cannot move any more, check it is the one
            // judged, then kill from the exact slot inspected.
            if slot.seal_deadline() != deadline && !mutant::skip_recheck() {
                continue;
            }
            if entry.kill(cur, true, guard) {
                table.remove_if_same(entry, pin);
                return Some(slot);
            }
            // The slot changed under us: look again.
        }
    }
}

/// The mutation hooks of `loom-tests/mutants` in the visitor (see `engine::entry`, `mod mutant`).
mod mutant {
    /// Mutant `reset_after_load`: the visitor releases the entry's schedule claim after reading
    /// its slot instead of before.
    #[inline]
    pub(super) fn release_after_load() -> bool {
        cfg!(scriptling_kv_mutant = "reset_after_load")
    }

    /// Mutant `skip_recheck`: the visitor kills whatever slot is there, without checking that
    /// its deadline has passed (or did not move).
    #[inline]
    pub(super) fn skip_recheck() -> bool {
        cfg!(scriptling_kv_mutant = "skip_recheck")
    }

    /// Mutant `compact_keeps_duplicates`: a compaction keeps every record of an entry whose tick
    /// is in its slot, not one per entry (native mutant).
    #[inline]
    pub(super) fn keep_duplicates() -> bool {
        cfg!(scriptling_kv_mutant = "compact_keeps_duplicates")
    }
}
