//! The bound itself: the eviction queues (entries in write order, one queue per kind of key),
//! the counters of keys and bytes, and the choice of a victim under each policy (module docs of
//! `evict`, "Algorithm").

use crossbeam_epoch::Guard;
use crossbeam_utils::CachePadded;

use crate::engine::clock::{Clock, NEVER};
use crate::engine::entry::{Entry, Slot};
use crate::engine::evict::{
    Eviction, RemovalCause, COMPACT_MARGIN, IN_PERSISTENT, IN_TTL, SAMPLES,
};
use crate::engine::sync::{Arc, AtomicU64, AtomicUsize, Ordering};
use crate::engine::table::{Pin, Table};

#[cfg(not(scriptling_kv_loom))]
type Queue = crossbeam_queue::SegQueue<Arc<Entry>>;

/// The loom stand-in for `SegQueue` (loom cannot see `crossbeam-queue`'s atomics).
#[cfg(scriptling_kv_loom)]
#[derive(Debug, Default)]
struct Queue(crate::engine::sync::Mutex<std::collections::VecDeque<Arc<Entry>>>);

#[cfg(scriptling_kv_loom)]
impl Queue {
    fn new() -> Self {
        Queue(crate::engine::sync::Mutex::new(
            std::collections::VecDeque::new(),
        ))
    }
    fn push(&self, e: Arc<Entry>) {
        crate::engine::sync::lock(&self.0).push_back(e);
    }
    fn pop(&self) -> Option<Arc<Entry>> {
        crate::engine::sync::lock(&self.0).pop_front()
    }
    fn len(&self) -> usize {
        crate::engine::sync::lock(&self.0).len()
    }
}

/// A removal the caller reports (to the counters and the listener) once it holds no lock.
pub(crate) struct Removed<'g> {
    pub(crate) entry: Arc<Entry>,
    pub(crate) slot: &'g Slot,
    pub(crate) cause: RemovalCause,
}

/// The bounds of a store built with `max_keys` or `max_bytes`.
#[derive(Debug)]
pub(crate) struct Bound {
    /// Most keys (`usize::MAX`: no key cap).
    max_keys: usize,
    /// Most accounted bytes (`usize::MAX`: no byte cap).
    max_bytes: usize,
    pub(crate) policy: Eviction,
    /// The sum of the charges held, as a wrapping two's-complement `i64` (module docs, "Bytes").
    bytes: CachePadded<AtomicU64>,
    /// `VolatileTtl`: the entries with a TTL.
    ttl: Queue,
    /// `VolatileTtl`: the entries without a TTL; `Lru`: every entry.
    other: Queue,
    /// TTL entries evictors hold out of `ttl` (module docs, "Held entries").
    held: AtomicUsize,
    /// The `Lru` access clock (module docs, "The access clock").
    clock: CachePadded<AtomicU64>,
    /// Writers making room now, and rounds of making room begun so far (module docs, "The last
    /// evictor out").
    pub(super) evicting: AtomicUsize,
    pub(super) entered: AtomicU64,
}

/// What [`Bound::pop_other`] found.
enum Popped {
    /// A live key and its deadline.
    Key(Arc<Entry>, u64),
    /// Nothing to take from this pop (a dead entry dropped, the writer's own key put back).
    Skipped,
    /// Stop looking: the queue is empty, or holds nothing this evictor can take.
    Stop,
    /// Give the eviction up (only the mutant `dead_stops_eviction`, on a dead entry).
    GiveUp,
}

/// Whether `entry` is `own` (the writer's key, never its own victim).
#[inline]
fn is(entry: &Arc<Entry>, own: Option<&Arc<Entry>>) -> bool {
    own.is_some_and(|o| Arc::ptr_eq(entry, o))
}

impl Bound {
    pub(crate) fn new(max_keys: Option<usize>, max_bytes: Option<usize>, policy: Eviction) -> Self {
        Bound {
            max_keys: max_keys.unwrap_or(usize::MAX),
            max_bytes: max_bytes.unwrap_or(usize::MAX),
            policy,
            bytes: CachePadded::new(AtomicU64::new(0)),
            ttl: Queue::new(),
            other: Queue::new(),
            held: AtomicUsize::new(0),
            clock: CachePadded::new(AtomicU64::new(0)),
            evicting: AtomicUsize::new(0),
            entered: AtomicU64::new(0),
        }
    }

    /// The accounted bytes (module docs, "Bytes").
    pub(crate) fn bytes(&self) -> usize {
        let sum = self.bytes.load(Ordering::SeqCst) as i64;
        usize::try_from(sum).unwrap_or(0)
    }

    /// Adds `add` and subtracts `sub` from the accounted bytes.
    #[inline]
    pub(crate) fn charge(&self, add: usize, sub: usize) {
        let delta = (add as u64).wrapping_sub(sub as u64);
        if delta != 0 {
            self.bytes.fetch_add(delta, Ordering::SeqCst);
        }
    }

    /// A use of `entry` under `Lru` (module docs, "The access clock"); nothing otherwise.
    #[inline]
    pub(crate) fn used(&self, entry: &Entry) {
        if self.policy == Eviction::Lru {
            entry.touch(self.clock.load(Ordering::Relaxed));
        }
    }

    /// A key created under `Lru`: advances the access clock (module docs).
    #[inline]
    pub(crate) fn created(&self, entry: &Entry) {
        if self.policy == Eviction::Lru {
            let c = self.clock.fetch_add(2, Ordering::Relaxed).wrapping_add(2);
            entry.touch(c.wrapping_sub(1));
        }
    }

    /// The queue (and its flag) for an entry whose current deadline is `deadline`.
    fn queue_for(&self, deadline: u64) -> (u64, &Queue) {
        if deadline == NEVER || self.policy == Eviction::Lru {
            (IN_PERSISTENT, &self.other)
        } else {
            (IN_TTL, &self.ttl)
        }
    }

    /// After a deadline was published for `entry`: makes sure it is in the queue of its kind.
    pub(crate) fn note(&self, entry: &Arc<Entry>, deadline: u64, table: &Table, guard: &Guard) {
        let (flag, queue) = self.queue_for(deadline);
        if entry.set_queued(flag) {
            if queue.len() > 2 * table.len() + COMPACT_MARGIN {
                self.compact(queue, flag, guard);
            }
            queue.push(entry.clone());
        }
    }

    /// Puts `entry` back after an evictor popped it: in the queue of its current kind, or
    /// nowhere if it died.
    fn renote(&self, entry: &Arc<Entry>, table: &Table, guard: &Guard) {
        if let Some(d) = entry.load(guard).slot().map(Slot::deadline) {
            self.note(entry, d, table, guard);
        }
    }

    /// Pops every entry of `queue` once, dropping the dead ones, moving the misplaced ones, and
    /// pushing the others back.
    fn compact(&self, queue: &Queue, flag: u64, guard: &Guard) {
        for _ in 0..queue.len() {
            let Some(e) = queue.pop() else { break };
            match e.load(guard).slot().map(Slot::deadline) {
                Some(d) if self.queue_for(d).0 == flag => queue.push(e),
                Some(d) => {
                    e.clear_queued(flag);
                    let (other_flag, other) = self.queue_for(d);
                    if e.set_queued(other_flag) {
                        other.push(e);
                    }
                }
                None => e.clear_queued(flag),
            }
        }
    }

    /// Whether the store is over a bound.
    #[inline]
    pub(crate) fn over(&self, table: &Table) -> bool {
        table.len() > self.max_keys || self.bytes() > self.max_bytes
    }

    /// Removes one key to make room (module docs), never `own`: `None` if the store is no
    /// longer over its bounds, or it found no key to remove.
    pub(crate) fn evict_one<'g>(
        &self,
        table: &Table,
        clock: &Clock,
        pin: &'g Pin<'_>,
        own: Option<&Arc<Entry>>,
    ) -> Option<Removed<'g>> {
        match self.policy {
            Eviction::Lru => self.evict_lru(table, clock, pin, own),
            _ => self.evict_volatile(table, clock, pin, own),
        }
    }

    /// Pops the queue of keys without a TTL (both policies walk it the same way): a dead entry
    /// is dropped, the writer's own key goes back at once (met a second time, `Stop`: the queue
    /// holds nothing else this evictor can take), anything else is handed out with its deadline.
    fn pop_other(
        &self,
        table: &Table,
        guard: &Guard,
        own: Option<&Arc<Entry>>,
        own_seen: &mut bool,
    ) -> Popped {
        let Some(e) = self.other.pop() else {
            return Popped::Stop;
        };
        e.clear_queued(IN_PERSISTENT);
        match e.load(guard).slot().map(Slot::deadline) {
            None if mutant::dead_stops_eviction() => Popped::GiveUp,
            None => Popped::Skipped,
            Some(_) if is(&e, own) => {
                self.renote(&e, table, guard);
                if std::mem::replace(own_seen, true) {
                    Popped::Stop
                } else {
                    Popped::Skipped
                }
            }
            Some(d) => Popped::Key(e, d),
        }
    }

    /// `VolatileTtl` (module docs, "An order").
    fn evict_volatile<'g>(
        &self,
        table: &Table,
        clock: &Clock,
        pin: &'g Pin<'_>,
        own: Option<&Arc<Entry>>,
    ) -> Option<Removed<'g>> {
        let guard = &pin.epoch;
        let mut own_seen_other = false;
        'retry: loop {
            let mut own_seen_ttl = false;
            // Keys with a TTL: sample, then remove the soonest deadline.
            let mut sample: Vec<(Arc<Entry>, u64)> = Vec::with_capacity(SAMPLES);
            while sample.len() < SAMPLES {
                self.held.fetch_add(1, Ordering::SeqCst);
                let Some(e) = self.ttl.pop() else {
                    self.held.fetch_sub(1, Ordering::SeqCst);
                    break;
                };
                e.clear_queued(IN_TTL);
                match e.load(guard).slot().map(Slot::deadline) {
                    None => {
                        // Dead: dropped from the queue (not counted against the sample).
                        if mutant::dead_stops_eviction() {
                            self.held.fetch_sub(1, Ordering::SeqCst);
                            return None;
                        }
                    }
                    Some(NEVER) => self.note(&e, NEVER, table, guard), // moved over
                    Some(_) if is(&e, own) => {
                        // Back at once (module docs, "The writer's own key"); met twice: the
                        // queue holds nothing else this evictor can take.
                        self.renote(&e, table, guard);
                        if std::mem::replace(&mut own_seen_ttl, true) {
                            self.held.fetch_sub(1, Ordering::SeqCst);
                            break;
                        }
                    }
                    Some(d) => {
                        sample.push((e, d));
                        continue; // still held
                    }
                }
                self.held.fetch_sub(1, Ordering::SeqCst);
            }
            if !sample.is_empty() {
                sample.sort_by_key(|&(_, d)| d);
                let removed = self.remove_first(sample, table, clock, pin, true);
                if removed.is_some() {
                    return removed;
                }
                // Every sampled key changed meanwhile: look again, if room is still needed.
                if !self.over(table) {
                    return None;
                }
                continue 'retry;
            }
            // No key with a TTL in the queue. Another evictor may hold some: it makes room.
            if self.held.load(Ordering::SeqCst) > 0 && !mutant::ignore_held() {
                return None;
            }
            // The oldest key without a TTL.
            loop {
                let (e, d) = match self.pop_other(table, guard, own, &mut own_seen_other) {
                    Popped::Key(e, d) => (e, d),
                    Popped::Skipped => continue,
                    Popped::Stop | Popped::GiveUp => return None,
                };
                match d {
                    NEVER => {
                        if let Some(r) = self.remove(&e, NEVER, table, clock, pin) {
                            return Some(r);
                        }
                        self.renote(&e, table, guard);
                        if !self.over(table) {
                            return None;
                        }
                    }
                    d => {
                        // It has a TTL now: a key with a TTL goes first.
                        self.note(&e, d, table, guard);
                        continue 'retry;
                    }
                }
            }
        }
    }

    /// `Lru` (module docs, "An order").
    fn evict_lru<'g>(
        &self,
        table: &Table,
        clock: &Clock,
        pin: &'g Pin<'_>,
        own: Option<&Arc<Entry>>,
    ) -> Option<Removed<'g>> {
        let guard = &pin.epoch;
        let mut own_seen = false;
        loop {
            let mut sample: Vec<(Arc<Entry>, u64)> = Vec::with_capacity(SAMPLES);
            while sample.len() < SAMPLES {
                match self.pop_other(table, guard, own, &mut own_seen) {
                    Popped::Key(e, d) => sample.push((e, d)),
                    Popped::Skipped => {}
                    // Empty, or only the writer's own key left: evict from what was sampled.
                    Popped::Stop => break,
                    Popped::GiveUp => return None,
                }
            }
            if sample.is_empty() {
                return None;
            }
            let now = if sample.iter().any(|&(_, d)| d != NEVER) {
                clock.now()
            } else {
                0
            };
            let tick = self.clock.load(Ordering::Relaxed);
            // Expired first, then the oldest use; ties go to the one popped first (stable sort).
            sample.sort_by_key(|(e, d)| (*d > now, std::cmp::Reverse(e.age(tick))));
            let removed = self.remove_first(sample, table, clock, pin, false);
            if removed.is_some() || !self.over(table) {
                return removed;
            }
        }
    }

    /// Removes the first of `sample` it can, and puts the others back (every one of them was
    /// counted in `held` if `held`).
    fn remove_first<'g>(
        &self,
        sample: Vec<(Arc<Entry>, u64)>,
        table: &Table,
        clock: &Clock,
        pin: &'g Pin<'_>,
        held: bool,
    ) -> Option<Removed<'g>> {
        let mut removed = None;
        for (e, d) in sample {
            if removed.is_none() {
                removed = self.remove(&e, d, table, clock, pin);
            }
            if removed.as_ref().is_none_or(|r| !Arc::ptr_eq(&r.entry, &e)) {
                self.renote(&e, table, &pin.epoch);
            }
            if held {
                self.held.fetch_sub(1, Ordering::SeqCst);
            }
        }
        removed
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
            entry.kill_any(guard).is_some()
        } else {
            entry.kill(cur, true, guard)
        };
        if !killed && !mutant::ignore_failed_kill() {
            return None; // rewritten or deleted meanwhile: the newer state stays
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

/// The mutation hooks of `loom-tests/mutants` for eviction (see `engine::entry`, `mod mutant`).
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

    /// Mutant `evict_deleted_victim`: a victim whose kill failed (deleted or rewritten
    /// meanwhile) is unlinked and reported as if this eviction had removed it.
    #[inline]
    pub(super) fn ignore_failed_kill() -> bool {
        cfg!(scriptling_kv_mutant = "evict_deleted_victim")
    }

    /// Mutant `dead_stops_eviction`: an eviction that pops a dead queue entry gives up, as the
    /// bounded pops of issue #20 did.
    #[inline]
    pub(super) fn dead_stops_eviction() -> bool {
        cfg!(scriptling_kv_mutant = "dead_stops_eviction")
    }

    /// Mutant `ignore_held`: an evictor that finds the TTL queue empty evicts a key without a
    /// TTL even while another evictor holds keys with one.
    #[inline]
    pub(super) fn ignore_held() -> bool {
        cfg!(scriptling_kv_mutant = "ignore_held")
    }
}
