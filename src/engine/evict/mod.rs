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

use crate::engine::sync::{AtomicU64, Ordering};
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

mod bound;
mod room;

pub(crate) use bound::{Bound, Removed};
