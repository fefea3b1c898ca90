//! The bounds: `StoreBuilder::max_keys(n)` and `max_bytes(n)`, the eviction policies, and the
//! removal listener's calls.
//!
//! # What it guarantees
//!
//! - **A bound.** Every write that creates a key, or replaces a value by a larger one, checks the
//!   store afterwards and, while it holds more than `max_keys` keys or more than `max_bytes`
//!   accounted bytes, removes one key itself before it returns (never the key it wrote: a write
//!   that reports success has stored its value). So at any instant the store holds at most `n`
//!   keys plus one for each write between its insert and its last eviction: with `T` threads
//!   writing, at most `n + T`; with no write in progress, at most `n`, whatever came before.
//!   Bytes: with no write in progress, `bytes_used() <= max(n, c)` where `c` is the charge of the
//!   largest single entry (an entry larger than `n` on its own stays until the next write that
//!   needs room evicts it). Writers never wait for one another (the victim queues are lock-free,
//!   the removals CASes).
//! - **Dead entries never stop an eviction.** An entry that died (deleted, purged, evicted) or
//!   moved to the other queue is dropped or moved when an evictor pops it, and popping it does
//!   not count against any sampling limit: each queue entry is popped once per push, so an
//!   eviction costs `O(dead entries met + SAMPLES)`, amortized `O(1)` per write, and it gives up
//!   only when the queues hold no live entry but the writer's own (`tests/regressions.rs`, loom
//!   model `bounded::an_eviction_meeting_dead_queue_entries_still_makes_room`).
//! - **An order.** [`Eviction::VolatileTtl`] (the default): expired keys and keys with a TTL go
//!   before keys without one, and among keys with a TTL the soonest deadline goes first,
//!   approximately (like Redis `volatile-ttl`, the evictor samples [`SAMPLES`] keys with a TTL
//!   and removes the one with the soonest deadline, an expired one if it sampled one). A key
//!   without a TTL is removed only if no live key has a TTL, exactly, apart from the writer's own
//!   key (which is never its own victim) and keys another evictor holds at that instant (below);
//!   among keys without a TTL the oldest goes first (FIFO), so a store of persistent keys is a
//!   FIFO cache of `n` keys. [`Eviction::Lru`]: approximately the least recently used key, over
//!   all keys (Redis `allkeys-lru`): the evictor samples [`SAMPLES`] keys and removes the one
//!   used longest ago (an expired one first). Every read and every write of a key is a use.
//! - **Exactly the slot inspected.** A victim is removed by a CAS from the exact slot whose
//!   deadline was judged (the deadline word sealed and checked first, as the cleaner does), so an
//!   eviction racing a write to the same key never removes the newer value, and an eviction
//!   racing a delete of its victim reports nothing and looks for another victim (loom models
//!   `bounded::eviction_racing_a_write_never_removes_the_newer_value`,
//!   `bounded::eviction_racing_a_delete_of_its_victim_reports_nothing_and_keeps_the_bound`).
//!
//! # The victim queues
//!
//! Two lock-free FIFO queues of entries (`crossbeam-queue`'s `SegQueue`; under loom a mutex-
//! protected `VecDeque` stand-in). With `VolatileTtl`, one holds entries with a TTL and one
//! entries without; with `Lru` only the second is used, for every entry. Whenever a deadline is
//! published for an entry (created, set, expired, persisted), the entry is pushed on the queue
//! for its kind unless it is already in it (a flag per queue in the entry, set by the pusher,
//! cleared by the popper). An entry may sit in the wrong queue for a while (a TTL added or
//! removed in place): the popper checks the entry's current slot and moves it over; a persistent
//! entry that turns out to have a TTL sends the evictor back to the TTL queue, which is what
//! makes the order exact. An entry that died is dropped when popped. Queues hold dead entries
//! until they are popped, so a pusher that finds a queue more than twice the table's length
//! (plus [`COMPACT_MARGIN`]) first pops every entry once, dropping the dead ones and moving the
//! misplaced ones: amortized `O(1)` per push, and the queues stay `O(keys)`.
//!
//! **The writer's own key.** An evictor that pops the key its own write created pushes it back at
//! once (so that a racing evictor, whose victim it may be, can find it) and takes a second pop of
//! it as the sign that the queue holds nothing else it may take. (Holding it aside instead let two
//! racing writers each hide their key from the other, and both give up over the cap: found by
//! the loom model `bounded::an_eviction_meeting_dead_queue_entries_still_makes_room`.)
//!
//! **The last evictor out.** Racing evictors can each give up while the other holds what it
//! could have taken (the TTL keys in its sample, its own key popped for a moment), each relying
//! on the other. So giving up is only final for a writer that is not the last one making room:
//! writers count themselves in `evicting` while they make room, and one that leaves as the last
//! (its decrement takes `evicting` to 0) checks the bounds again and, if the store is still over,
//! makes room once more. Every other evictor has left by then, so every key but those of writers
//! still to come is back in a queue; it stops when a round ran alone (no other writer making
//! room when it began, and none beginning a round since: `entered` unchanged), because then
//! nothing but its own key is left to take. A writer that comes later does the same when it
//! leaves. So with no write in progress the bounds hold. Only the writer that leaves last goes
//! round again, and only if another writer overlapped its round, so this ends.
//!
//! **Held entries.** An evictor pops up to [`SAMPLES`] live entries with a TTL before it picks
//! one, and pushes the others back: while it holds them they are in no queue. So that a second
//! evictor does not take the empty TTL queue to mean "no key has a TTL", an evictor counts the
//! TTL entries it holds in `held` (incremented before the pop, decremented after the entry is
//! pushed back or removed); an evictor that finds the TTL queue empty while `held` is not zero
//! removes nothing this round rather than evict a key without a TTL (the other evictor is making
//! room, and the last evictor out checks the bounds again). Racing evictors may also remove more
//! than the excess (each saw the store over its bounds before the other's removal): at most one
//! key more per racing writer, never below the bound's meaning (a cap is an upper bound).
//!
//! # Bytes
//!
//! A key's charge is [`ENTRY_OVERHEAD`] plus its key's length plus its value's size
//! ([`value_size`]). The store keeps the sum of the charges of the entries it holds in one
//! counter: the thread whose CAS installs a slot adds (the value size, and for a new entry the
//! key and the overhead), the thread whose CAS replaces or kills it subtracts, each exactly once
//! because exactly one CAS succeeds per transition. The two may run in either order, so the
//! counter is signed and read as `max(0, sum)`; with no write in progress it is exact. Every
//! bounded store keeps it (`max_keys` alone too, so `bytes_used` is one load there), at the cost
//! of one walk of each value written and one add to a shared counter per write; an unbounded
//! store keeps nothing and `bytes_used` walks the table.
//!
//! # The access clock (`Lru`)
//!
//! A key's last use is an 18-bit stamp in bits 44..62 of `Entry::scheduled` (beside the expiry
//! tick and the queue flags; see there). The stamps come from a store-wide logical clock that a
//! write creating a key advances by two (stamping its key with the value in between, so a read
//! after the create is newer than the create); every other use stamps the entry with the clock's
//! current value, and writes the word only if the stamp changes. So a hot key read by every
//! thread costs each read one load of the clock and one of the entry's word, and a write to that
//! word only once per key created in the store. The age compared is `clock - stamp` modulo
//! 2^18, so a key not used for 2^17 creates may look young again: the order is approximate, as
//! Redis' 24-bit clock is. The default policy reads no clock and writes no stamp.
//!
//! # The removal listener
//!
//! Called once for every key the store removes on its own (the purge or cleaner: `Expired`; the
//! bounds: `Evicted`, or `Expired` for an expired key removed to make room), after the removal
//! (the kill CAS succeeded, so exactly once per key: two removers cannot both succeed), on the
//! thread that removed it, with no lock of the store held. A key the user deletes or overwrites is
//! not reported, even if it had expired before (the write or delete removed it, not the store). A
//! panicking listener is caught (`catch_unwind`) and counted in `Stats::listener_panics`; the
//! store, and the cleaner thread, go on.
//!
//! **Re-entrancy.** A listener may use the store (through a `WeakStore`), and a write it makes
//! may need room and remove a key, which calls a listener again. Such a call, made on a thread
//! that is already running a listener, is not made there: it is queued (key and value copied)
//! on the thread, and the outermost call delivers the queue, in order, after its own listener
//! returns. So listeners never nest more than one deep on the stack, whatever they write.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crossbeam_epoch::Guard;
use crossbeam_utils::CachePadded;

use crate::engine::clock::{Clock, NEVER};
use crate::engine::entry::{Entry, Slot};
use crate::engine::sync::{Arc, AtomicU64, AtomicUsize, Ordering};
use crate::engine::table::{Pin, Table};
use crate::value::Value;

/// How many live keys an eviction samples before it picks its victim.
pub(crate) const SAMPLES: usize = 5;

/// The slack of the queue compaction: a queue is compacted when it holds more than twice the
/// table's length plus this many entries.
pub(crate) const COMPACT_MARGIN: usize = 1024;

/// The fixed part of every key's charge toward
/// [`max_bytes`](crate::StoreBuilder::max_bytes), in bytes: what the store allocates per key in a
/// bounded store besides the key's and the value's own bytes (the table node, the `Arc<Entry>`,
/// the value's slot, the eviction queue's slot, the key's share of the table's bucket array).
///
/// Measured by `tests/bytes_overhead.rs` with a counting allocator: 261 to 276 bytes per key
/// between 3,000 and 90,000 keys (the bucket array doubles, so its share per key swings), for
/// keys of up to 30 bytes (held inline) with scalar values; the test fails if a measurement
/// drifts more than 10 % from this constant. Not charged: a key longer than 30 bytes is copied
/// once more into an allocation of its own; a key with a TTL also has an expiry record in the
/// timing wheel (until it is purged); the allocator's own rounding; values' heap capacity beyond
/// their length.
pub const ENTRY_OVERHEAD: usize = 264;

/// Which keys a bounded store removes first to make room
/// ([`StoreBuilder::eviction`](crate::StoreBuilder::eviction)).
///
/// ```
/// use scriptling_kv::{Eviction, Store};
///
/// assert_eq!(Eviction::default(), Eviction::VolatileTtl);
/// let store = Store::builder().max_keys(2).eviction(Eviction::Lru).build();
/// store.set("a", 1);
/// store.set("b", 2);
/// store.get("a"); // a use: now "b" is the least recently used
/// store.set("c", 3);
/// assert!(store.exists("a") && !store.exists("b") && store.exists("c"));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eviction {
    /// Expired keys first, then keys with a TTL, the soonest deadline first (sampled, as Redis
    /// `volatile-ttl`), then, only while no live key has a TTL, keys without one, the oldest
    /// first. Reads cost nothing extra. The default.
    #[default]
    VolatileTtl,
    /// Expired keys first, then approximately the least recently used key (sampled, as Redis
    /// `allkeys-lru`). Every read (`get`, `get_with`, `exists`, `ttl`, the loads) and every write
    /// of a key counts as a use.
    Lru,
}

/// Why the store removed a key on its own (the removal listener's third argument).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalCause {
    /// Its TTL had passed (removed by the cleaner, `purge_expired`, or to make room).
    Expired,
    /// Removed to respect `max_keys` or `max_bytes`.
    Evicted,
}

/// The removal listener.
pub(crate) type Listener = std::sync::Arc<dyn Fn(&str, &Value, RemovalCause) + Send + Sync>;

/// A listener call queued by a listener's own write (module docs, "Re-entrancy").
type Pending = (
    Listener,
    std::sync::Arc<AtomicU64>,
    String,
    Value,
    RemovalCause,
);

#[cfg(not(scriptling_kv_loom))]
std::thread_local! {
    /// `Some` while this thread runs a listener: the calls its writes caused, to deliver after.
    static NESTED: RefCell<Option<VecDeque<Pending>>> = const { RefCell::new(None) };
}
#[cfg(scriptling_kv_loom)]
loom::thread_local! {
    static NESTED: RefCell<Option<VecDeque<Pending>>> = RefCell::new(None);
}

/// Calls `listener` for a removed key, catching a panic (counted in `panics`); queued if this
/// thread is already running a listener (module docs, "Re-entrancy").
pub(crate) fn notify(
    listener: Option<&Listener>,
    panics: &std::sync::Arc<AtomicU64>,
    key: &str,
    value: &Value,
    cause: RemovalCause,
) {
    let Some(f) = listener else { return };
    // `Ok(true)`: queued for the outer call; `Ok(false)`: this is the outermost call.
    let nested = NESTED.try_with(|n| {
        let mut n = n.borrow_mut();
        match &mut *n {
            Some(queue) => {
                let item = (
                    f.clone(),
                    panics.clone(),
                    key.to_owned(),
                    value.clone(),
                    cause,
                );
                queue.push_back(item);
                true
            }
            None => {
                *n = Some(VecDeque::new());
                false
            }
        }
    });
    match nested {
        Ok(true) => return,
        Ok(false) => call(f, panics, key, value, cause),
        Err(_) => {
            // Thread-locals being destroyed: no queue (and nothing was queued).
            call(f, panics, key, value, cause);
            return;
        }
    }
    while let Some((f, panics, key, value, cause)) = NESTED
        .try_with(|n| n.borrow_mut().as_mut().and_then(VecDeque::pop_front))
        .ok()
        .flatten()
    {
        call(&f, &panics, &key, &value, cause);
    }
    let _ = NESTED.try_with(|n| *n.borrow_mut() = None);
}

fn call(f: &Listener, panics: &AtomicU64, key: &str, value: &Value, cause: RemovalCause) {
    if catch_unwind(AssertUnwindSafe(|| f(key, value, cause))).is_err() {
        panics.fetch_add(1, Ordering::Relaxed);
    }
}

/// The size of a value toward its key's charge: `Str`/`Bytes` their length, each `List` item
/// and `Dict` entry its own size (plus its `Dict` key's length), scalars (`Null`, `Bool`, `Int`,
/// `Float`) 8. Iterative, so any depth is fine; saturating.
pub(crate) fn value_size(v: &Value) -> usize {
    match v {
        Value::Str(s) => return s.len(),
        Value::Bytes(b) => return b.len(),
        Value::List(_) | Value::Dict(_) => {}
        _ => return 8,
    }
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Str(s) => total = total.saturating_add(s.len()),
            Value::Bytes(b) => total = total.saturating_add(b.len()),
            Value::List(items) => stack.extend(items),
            Value::Dict(map) => {
                for (k, v) in map {
                    total = total.saturating_add(k.len());
                    stack.push(v);
                }
            }
            _ => total = total.saturating_add(8),
        }
    }
    total
}

/// The charge of a key of `key_len` bytes whose value has size `size` ([`value_size`]).
#[inline]
pub(crate) fn charge(key_len: usize, size: usize) -> usize {
    ENTRY_OVERHEAD.saturating_add(key_len).saturating_add(size)
}

/// Queue-membership flags, kept in the top bits of `Entry::scheduled` (see there).
pub(crate) const IN_TTL: u64 = 1 << 62;
pub(crate) const IN_PERSISTENT: u64 = 1 << 63;

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
    evicting: AtomicUsize,
    entered: AtomicU64,
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
                let e = self.other.pop()?;
                e.clear_queued(IN_PERSISTENT);
                match e.load(guard).slot().map(Slot::deadline) {
                    None => {
                        if mutant::dead_stops_eviction() {
                            return None;
                        }
                    }
                    Some(_) if is(&e, own) => {
                        self.renote(&e, table, guard);
                        if std::mem::replace(&mut own_seen_other, true) {
                            return None;
                        }
                    }
                    Some(NEVER) => {
                        if let Some(r) = self.remove(&e, NEVER, table, clock, pin) {
                            return Some(r);
                        }
                        self.renote(&e, table, guard);
                        if !self.over(table) {
                            return None;
                        }
                    }
                    Some(d) => {
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
                let Some(e) = self.other.pop() else { break };
                e.clear_queued(IN_PERSISTENT);
                match e.load(guard).slot().map(Slot::deadline) {
                    None => {
                        if mutant::dead_stops_eviction() {
                            return None;
                        }
                    }
                    Some(_) if is(&e, own) => {
                        self.renote(&e, table, guard);
                        if std::mem::replace(&mut own_seen, true) {
                            break;
                        }
                    }
                    Some(d) => sample.push((e, d)),
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

/// The bounds' bookkeeping in the write engine (`write.rs` calls these after its CASes).
impl crate::engine::core::Core {
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

    /// Mutant `no_last_check`: a writer that leaves making room last does not check the bounds
    /// again.
    #[inline]
    pub(super) fn no_last_check() -> bool {
        cfg!(scriptling_kv_mutant = "no_last_check")
    }

    /// Mutant `ignore_held`: an evictor that finds the TTL queue empty evicts a key without a
    /// TTL even while another evictor holds keys with one.
    #[inline]
    pub(super) fn ignore_held() -> bool {
        cfg!(scriptling_kv_mutant = "ignore_held")
    }
}

impl crate::StoreBuilder {
    /// Caps the store's accounted size at `n` bytes ([`Store::bytes_used`](crate::Store::bytes_used)):
    /// a write that creates a key or stores a larger value first removes keys (never the key it
    /// writes) by the [`eviction`](crate::StoreBuilder::eviction) policy while the store is over
    /// `n`. A key's charge is [`ENTRY_OVERHEAD`] plus its key's length in bytes plus its value's
    /// size: `Str` and `Bytes` their length, each `List` item and `Dict` entry its own size plus
    /// its `Dict` key's length, `Null`, `Bool`, `Int` and `Float` 8 (an empty container 0).
    ///
    /// With no write in progress, `bytes_used() <= max(n, c)`, where `c` is the charge of the
    /// largest single entry: so at most `n` plus the largest entry's charge. A value whose charge
    /// alone is over `n` is stored (the write reports success and the value is readable) and
    /// stays until the next write that needs room, which evicts it like any other key. With `T`
    /// threads writing at once, the bound is exceeded by at most the charges they are writing.
    /// Evictions are counted in [`Stats::evicted`](crate::Stats) and reported to the removal
    /// listener. May be combined with [`max_keys`](crate::StoreBuilder::max_keys). A bounded
    /// store keeps the sum in one counter that every write updates (computing the value's size
    /// costs a walk of the value). Default: no cap.
    ///
    /// ```
    /// use scriptling_kv::{Store, ENTRY_OVERHEAD};
    ///
    /// let store = Store::builder().max_bytes(3 * (ENTRY_OVERHEAD + 1 + 100)).build();
    /// for k in ["a", "b", "c", "d"] {
    ///     store.set(k, "x".repeat(100));
    /// }
    /// assert_eq!(store.len(), 3);
    /// assert!(!store.exists("a"), "the oldest key without a TTL went");
    /// assert_eq!(store.bytes_used(), 3 * (ENTRY_OVERHEAD + 1 + 100));
    /// ```
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = Some(n);
        self
    }

    /// Which keys a store bounded by [`max_keys`](crate::StoreBuilder::max_keys) or
    /// [`max_bytes`](crate::StoreBuilder::max_bytes) removes first: see [`Eviction`]. Default:
    /// [`Eviction::VolatileTtl`]. Without a bound it changes nothing (and costs nothing).
    pub fn eviction(mut self, policy: Eviction) -> Self {
        self.eviction = policy;
        self
    }
}

impl crate::Store {
    /// The store's accounted size in bytes: the sum of the charges of every key it holds
    /// (expired keys not yet removed included, as in [`len`](crate::Store::len)); see
    /// [`StoreBuilder::max_bytes`](crate::StoreBuilder::max_bytes) for the charge. In a store built
    /// with `max_keys` or `max_bytes` it is kept as the store changes and costs one load; in an
    /// unbounded store it is computed by a walk of the table, `O(keys + value sizes)`. Not a
    /// snapshot while writes are in progress.
    ///
    /// ```
    /// use scriptling_kv::{Store, ENTRY_OVERHEAD};
    ///
    /// let store = Store::new();
    /// store.set("k", "hello");
    /// store.set("n", 1);
    /// assert_eq!(store.bytes_used(), (ENTRY_OVERHEAD + 1 + 5) + (ENTRY_OVERHEAD + 1 + 8));
    /// ```
    pub fn bytes_used(&self) -> usize {
        self.inner.bytes_used()
    }
}
