//! The entry cell: one key's value and deadline, and the one rule that says whether it is live.
//!
//! # Representation
//!
//! The table maps each key to an `Arc<Entry>`. An [`Entry`] owns one pointer, `slot`, to a
//! [`Slot`] `{ value, deadline word, counter cell }` on the heap. The value never changes once the
//! slot is published; two words of the slot may change in place, each by a CAS:
//!
//! - the **deadline word** (`word`): `(deadline << 1) | SEALED`. `expire` and `persist` move the
//!   deadline in place, so sliding a session's expiry costs one CAS and never copies the value;
//! - the **counter cell** (`cell`, only in a slot built from a small `Value::Int`):
//!   `(n << 1) | SEALED`. `incr` adds to it in place.
//!
//! A write of a new value allocates a new slot and installs it with a CAS on the entry's `slot`
//! pointer. Because value and deadline live in one slot, no reader can see one write's value with
//! another write's deadline.
//!
//! # The seal: whoever replaces or kills a slot seals it first
//!
//! A word changed in place must not change after a writer has read it to build the slot that
//! replaces this one (or after a killer decided to remove it), or that change would be lost. So
//! **whoever replaces or kills a slot first sets the `SEALED` bit** of its deadline word and, for a
//! counter, of its cell (`fetch_or`: idempotent, several racing writers may all seal), and a sealed
//! word never changes again. An in-place CAS expects the bit clear, so it succeeds only while
//! nobody has started to replace or kill the slot: the slot is still the entry's current one at
//! the instant of the CAS, its linearization point. A writer that seals a slot and then decides
//! not to write (an `incr` that would overflow, a `compare_and_set` that does not match) leaves a
//! sealed slot in place: its contents are right, and the next in-place change finds it sealed and
//! replaces the slot instead (a copy), which gives a fresh, unsealed one.
//!
//! # The liveness rule, and "seen expired" as an atomic step
//!
//! [`Entry::observe`] is the only place that decides whether a key is live. It loads the slot
//! pointer, then the slot's deadline word, and only then reads the clock, once: the key is live iff
//! its deadline is after that reading (`deadline > now`; a key with a TTL of `d` set at `t` is live
//! during `[t, t + d)`).
//!
//! Time passes without anybody writing, so a decision taken at one clock reading can be stale by
//! the time a writer's CAS lands. A writer (say `expire`) may judge a key live at 9 s and CAS its
//! new deadline at 11 s, when the old deadline, 10 s, has passed. That is fine (the `expire` is
//! placed at 9 s) **unless somebody saw the key absent in between**: a `get` at 10.5 s that
//! returned `None`, followed by the `expire` bringing the key back, has no linearization. So
//! seeing a key expired is made an atomic, visible step: before any operation acts on "expired"
//! (returns `None`, lists nothing, creates a fresh key), `observe` **marks** the slot:
//!
//! 1. it seals the deadline word, and checks that the deadline it judged is still the word's (an
//!    in-place `expire` may have moved it meanwhile: then it judges again);
//! 2. it tags the entry's slot pointer with [`Entry::EXPIRED`] (a CAS from the untagged pointer).
//!
//! Every writer that acts on "live" commits with a CAS that expects what it observed *unmarked*:
//! the unsealed deadline word for an in-place change, the untagged pointer for a replacement or a
//! kill. So exactly one of two things happens: the writer's CAS lands before the mark (nobody has
//! seen the key absent yet: the writer is placed before the deadline, and the marker, which has
//! not returned, sees the writer's new state when it retries), or the mark lands first (the
//! writer's CAS fails, it observes again, and finds the key absent). A writer that acts on
//! "expired" does not need the mark: its own CAS on the pointer is its commit (it seals the
//! deadline word first and checks it, so an in-place extension in between is not overwritten).
//!
//! A marked slot is absent for good (the deadline has passed and the clock does not go back): the
//! next write to the key replaces it by a CAS from the tagged pointer, and the cleaner kills it.
//! Marking costs one `fetch_or` and one CAS, once per expired slot that is read before the cleaner
//! removes it; afterwards readers see the tag and answer without reading the clock.
//!
//! An in-place counter add does not look at the mark: it judged the key live, and a slot whose
//! deadline passed after that keeps its deadline, so placing the add just before the deadline is
//! consistent with everything anybody saw (a `delete` or an `incr` that keeps the deadline is
//! placed the same way).
//!
//! # States
//!
//! ```text
//!            set / incr / expire / persist (CAS S -> S', or S's words in place)
//!               +------+
//!               v      |
//!  insert --> LIVE(S) -+---- kill (CAS S -> null) ---------------> DEAD --- unlink ---> gone
//!               |                                                   ^
//!               +-- deadline passes: EXPIRED(S) -- mark: S|EXPIRED --+ (delete, clear, cleaner)
//!                        |                               |
//!                        +------ a write: CAS S -> S' ----+--> LIVE(S')
//! ```
//!
//! - `LIVE(S)`: `slot` points to `S` (untagged) and `S`'s deadline is after now.
//! - `EXPIRED(S)`: the deadline has passed. A derived state (nothing is written when time
//!   passes) until somebody observes it and marks it (`S|EXPIRED`). Absent for every operation.
//!   A write to the absent key may revive the entry by a CAS `S -> S'` (tagged or not).
//! - `DEAD`: `slot` is null. The tombstone: installed by `delete`, `clear`, the cleaner or an
//!   eviction, by a CAS (from the slot they inspected). **Permanent**: nothing ever stores a
//!   non-null pointer into a dead entry. The killer then unlinks the entry from the table, but any
//!   thread that finds a dead entry first unlinks it itself (only if the table still maps the key
//!   to that very entry) and retries: nobody waits for the killer.
//!
//! # Why the tombstone
//!
//! `incr`, `expire` and the other read-modify-writes find the entry in the table and then CAS its
//! slot. Without the tombstone, `delete` could unlink the entry between those two steps and the
//! CAS would land in an entry no longer reachable: an `incr` would return `Ok(n)` and `n` would
//! vanish. Because `delete` first kills the entry (CAS to null) and only then unlinks it, a CAS by
//! anyone else either happens before the kill (and `delete` linearizes after it, removing its
//! result) or fails on the null pointer, and the writer goes back to the table. Killing seals the
//! slot first, so no in-place change lands in it after the kill either.
//!
//! # Races and why they are benign
//!
//! - Two writers CAS the same `S`: one wins; the loser observes again and decides again (its
//!   decision may depend on the new value, as `incr`'s does).
//! - A reader loads `S` while a writer replaces it: the reader linearizes before the write; it
//!   keeps using `S` safely because `S` is retired through crossbeam-epoch, not freed (below).
//! - A reader reads `S`'s deadline word while `expire` changes it in place: the word is one atomic,
//!   so the reader sees the old deadline (and linearizes before) or the new one (after). The value
//!   it reads with it does not change.
//! - Two threads mark the same expired slot: the second finds the tag already there.
//! - Two threads unlink the same dead entry: the table removes the key only if it still maps to
//!   that entry ([`crate::engine::table::Table::remove_if_same`]), so the second is a no-op and neither
//!   can remove a newer entry for the same key.
//! - The expiry scheduler's `scheduled` word is only a hint for when to look at the entry; its
//!   protocol is described in `expiry.rs`.
//!
//! # Memory reclamation
//!
//! A replaced or killed slot is retired through crossbeam-epoch deferral ([`retire`]) on the guard
//! that loaded it. The argument, at every retirement:
//!
//! 1. no thread that pins later can reach the slot: it was reachable only through this entry's
//!    `slot` field (each slot is installed exactly once, into exactly one entry), and the
//!    successful CAS or swap removed it from there (a mark only changes the pointer's tag, never
//!    which slot it points to);
//! 2. every thread that loaded it did so while pinned, and `&'g Slot` references cannot outlive
//!    the guard `'g` they were loaded under, so crossbeam-epoch frees the slot only after they
//!    all unpinned.
//!
//! The `Entry` itself is freed by the table's collector (flurry uses seize), possibly later and
//! on another thread, or by whoever drops the last `Arc<Entry>` (an expiry record). An entry
//! unlinked from the table is dead (its slot null), so dropping it frees no slot; an entry that
//! still holds a slot is dropped only with the store itself (the table holds every entry that
//! has one), when no thread can be reading: `Drop for Entry` frees that slot at once.
//!
//! # Recycling slot allocations
//!
//! Retiring is done by [`retire`]: when crossbeam-epoch runs the deferred function (the moment it
//! would otherwise free the slot: no thread can hold a reference any more), the slot's value is
//! dropped and its allocation is pushed on a small per-thread stack of spares (at most
//! [`SPARES_MAX`]); [`Slot::boxed`] pops one before it allocates. So the allocation is reused
//! exactly when it would have been freed, never earlier, and the argument above is unchanged.
//! What it saves: crossbeam-epoch frees retired slots in bags of 64, often on another thread, so
//! the allocator's per-thread cache never serves the next write and every write took malloc's
//! and free's slow paths. The stack is thread-local (no atomics). Any thread that runs a
//! crossbeam-epoch collection can receive spares, so a thread that only reads may hold up to
//! [`SPARES_MAX`] of them (~14 KiB) until it exits, when they are freed; a deferred function that
//! runs while thread-locals are being destroyed just frees the slot. Under
//! `--cfg scriptling_kv_loom` retiring is a plain `defer_destroy`, so the loom reclamation models
//! (which track frees) check the deferral itself; the spare stack has no concurrency of its own.

use crossbeam_epoch::{Atomic, Guard, Owned, Shared};

use crate::engine::clock::{Clock, NEVER};
use crate::engine::key::Key;
use crate::engine::sync::{AtomicU64, Ordering};
use crate::value::Value;

/// The seal bit of a deadline word or a counter cell: set by anyone about to replace or kill the
/// slot (or, for the deadline word, by whoever marks it expired), after which the word never
/// changes again.
const SEALED: u64 = 1;

/// A deadline word holding `deadline`, unsealed.
#[inline]
const fn word_of(deadline: u64) -> u64 {
    deadline << 1
}

/// The deadline a deadline word holds.
#[inline]
pub(crate) const fn deadline_of(word: u64) -> u64 {
    word >> 1
}

/// One version of a key: its value, its deadline (see `clock.rs`), and for a small integer its
/// counter cell. The value is immutable once published; the deadline word and the counter cell
/// change in place until sealed (module docs).
#[derive(Debug)]
pub(crate) struct Slot {
    /// The stored value (for a counter: the initial integer, superseded by `cell`).
    value: Value,
    /// `(deadline << 1) | SEALED`: nanoseconds since the store's origin at which the key expires
    /// ([`NEVER`] for none), and the seal.
    word: AtomicU64,
    /// Whether `cell` holds the value (fixed at construction).
    counter: bool,
    /// For a counter: `(n << 1) | SEALED`, the integer shifted left by one, and the seal bit.
    cell: AtomicU64,
}

/// A slot's value is dropped without deep recursion ([`Value::dispose`]), wherever the slot is
/// freed or recycled: crossbeam-epoch may drop a retired value on any thread, and a value nested
/// tens of thousands of levels deep would overflow its stack with the ordinary drop glue.
impl Drop for Slot {
    fn drop(&mut self) {
        std::mem::take(&mut self.value).dispose();
    }
}

/// Whether `n` can live in a counter cell (63 bits, two's complement).
#[inline]
fn fits_cell(n: i64) -> bool {
    (-(1i64 << 62)..(1i64 << 62)).contains(&n)
}

impl Slot {
    /// A slot holding `value` until `deadline` (a counter if it is a small enough `Int`).
    pub(crate) fn new(value: Value, deadline: u64) -> Self {
        debug_assert!(deadline <= NEVER);
        let (counter, cell) = match value {
            Value::Int(n) if fits_cell(n) => (true, (n as u64) << 1),
            _ => (false, 0),
        };
        Slot {
            value,
            word: AtomicU64::new(word_of(deadline)),
            counter,
            cell: AtomicU64::new(cell),
        }
    }

    /// A slot allocation holding `value` until `deadline`: one of this thread's spares if it has
    /// one (module docs, "Recycling slot allocations"), else a new one.
    #[inline]
    pub(crate) fn boxed(value: Value, deadline: u64) -> Owned<Slot> {
        let slot = Slot::new(value, deadline);
        #[cfg(not(scriptling_kv_loom))]
        if let Some(mut spare) = mutant::recycle().then(spares::take).flatten() {
            *spare = slot;
            return Owned::from(spare);
        }
        Owned::new(slot)
    }

    /// Re-initialises an unpublished slot (one handed back by a failed CAS) for another attempt.
    pub(crate) fn reset(slot: &mut Owned<Slot>, value: Value, deadline: u64) {
        **slot = Slot::new(value, deadline);
    }

    /// Takes the value out of an unpublished slot (one handed back by a failed CAS), leaving
    /// `Null` in it; the allocation can then be [`reset`](Self::reset) for another attempt.
    pub(crate) fn take_value(slot: &mut Owned<Slot>) -> Value {
        let value = std::mem::take(&mut slot.value);
        if slot.counter {
            Value::Int((slot.cell.load(Ordering::Relaxed) as i64) >> 1)
        } else {
            value
        }
    }

    /// Whether the deadline word is sealed now (the slot is being replaced, killed or marked, or
    /// was sealed by a writer that then did not write).
    #[inline]
    pub(crate) fn is_sealed(&self) -> bool {
        self.word.load(Ordering::Acquire) & SEALED != 0
    }

    /// The value: borrowed in place, or for a counter the integer its cell holds now.
    #[inline]
    pub(crate) fn value(&self) -> std::borrow::Cow<'_, Value> {
        if self.counter {
            let n = (self.cell.load(Ordering::Acquire) as i64) >> 1;
            std::borrow::Cow::Owned(Value::Int(n))
        } else {
            std::borrow::Cow::Borrowed(&self.value)
        }
    }

    /// The deadline as of now (it may move in place until the slot is sealed).
    #[inline]
    pub(crate) fn deadline(&self) -> u64 {
        deadline_of(self.word.load(Ordering::Acquire))
    }

    /// Seals the counter cell (idempotent; nothing for other slots): from now on its value is
    /// fixed, so a decision made on it cannot lose an in-place add.
    #[inline]
    pub(crate) fn seal_value(&self) {
        if self.counter {
            mutant::seal(&self.cell);
        }
    }

    /// Seals the deadline word and returns the deadline it holds (final from now on).
    #[inline]
    pub(crate) fn seal_deadline(&self) -> u64 {
        deadline_of(mutant::seal(&self.word))
    }

    /// Seals both words, as whoever replaces or kills the slot must (module docs); the deadline
    /// word only if the caller has not sealed it already.
    #[inline]
    fn seal(&self, deadline_sealed: bool) {
        self.seal_value();
        if !deadline_sealed {
            self.seal_deadline();
        }
    }

    /// Moves the deadline in place from the one in `observed` (an unsealed word this slot held)
    /// to `deadline`. Fails if the word changed or was sealed since: the caller observes again.
    #[inline]
    pub(crate) fn set_deadline(&self, observed: u64, deadline: u64) -> bool {
        debug_assert!(deadline <= NEVER);
        observed & SEALED == 0
            && self
                .word
                .compare_exchange(
                    observed,
                    word_of(deadline),
                    // SeqCst: the expiry scheduler's protocol (expiry.rs) orders this write
                    // before the writer's load of `Entry::scheduled`.
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Adds `delta` in place, if this is an unsealed counter and the sum fits its cell. `None`
    /// means "take the slow path" (replace the slot), never an error: overflow is decided there.
    #[inline]
    pub(crate) fn add_in_place(&self, delta: i64) -> Option<i64> {
        if !self.counter {
            return None;
        }
        let mut word = self.cell.load(Ordering::Acquire);
        loop {
            if word & SEALED != 0 {
                return None;
            }
            let sum = ((word as i64) >> 1).checked_add(delta)?;
            if !fits_cell(sum) {
                return None;
            }
            match mutant::cas(&self.cell, word, (sum as u64) << 1) {
                Ok(_) => return Some(sum),
                Err(actual) => word = actual,
            }
        }
    }
}

/// The most spare slot allocations a thread keeps: what one crossbeam-epoch collection (every
/// 128 pins, a few bags of 64) hands back, measured to keep `Slot::boxed` off malloc (14 KiB).
#[cfg(not(scriptling_kv_loom))]
const SPARES_MAX: usize = 256;

/// Retires `old`: once no pinned thread can hold it, drops its value and keeps its allocation as
/// a spare (module docs, "Memory reclamation" and "Recycling slot allocations").
///
/// # Safety
///
/// The caller's successful CAS or swap has just removed `old` (non-null, tag ignored) from the
/// only entry that held it, `old` was loaded under `guard`, and nobody else retires it.
#[inline]
unsafe fn retire(guard: &Guard, old: Shared<'_, Slot>) {
    let old = old.with_tag(0);
    #[cfg(scriptling_kv_loom)]
    // SAFETY: the caller's contract is `defer_destroy`'s: unreachable for threads that pin later,
    // retired once.
    unsafe {
        guard.defer_destroy(old)
    };
    #[cfg(not(scriptling_kv_loom))]
    {
        // A plain address, so the closure is one word and crossbeam stores it inline.
        let addr = old.as_raw() as usize;
        let recycle = move || {
            // SAFETY: this runs only once the grace period is over (below), and `old` was retired
            // once (caller's contract), so this is the only pointer to the allocation: we own
            // it, exactly as `defer_destroy` would.
            let slot = unsafe { Owned::from_raw(addr as *mut Slot) };
            spares::give(slot.into_box());
        };
        // SAFETY: crossbeam-epoch runs `recycle` only after every thread pinned when it was
        // deferred has unpinned, i.e. when `defer_destroy` would free `old`. The closure borrows
        // nothing (it holds only the address), and whichever thread runs it may take the slot:
        // `Slot` is `Send`.
        unsafe { guard.defer_unchecked(recycle) };
    }
}

/// This thread's spare slot allocations (module docs, "Recycling slot allocations").
#[cfg(not(scriptling_kv_loom))]
mod spares {
    use super::{Slot, SPARES_MAX};
    use std::cell::RefCell;

    thread_local! {
        // The boxes are the point: each is a slot allocation kept for reuse.
        #[allow(clippy::vec_box)]
        static SPARES: RefCell<Vec<Box<Slot>>> = const { RefCell::new(Vec::new()) };
        /// Spares this thread has reused (tests).
        static REUSED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// A spare allocation (its contents are a dead slot holding `Null`), if this thread has one.
    #[inline]
    pub(super) fn take() -> Option<Box<Slot>> {
        let spare = SPARES
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
            .ok()
            .flatten();
        if spare.is_some() {
            let _ = REUSED.try_with(|r| r.set(r.get() + 1));
        }
        spare
    }

    /// How many spares this thread has reused so far (tests).
    pub(crate) fn reused() -> u64 {
        REUSED.try_with(|r| r.get()).unwrap_or(0)
    }

    /// Drops the slot's value now and keeps the allocation if there is room (else frees it).
    pub(super) fn give(mut slot: Box<Slot>) {
        // The value goes now, when it would have been freed without recycling.
        std::mem::take(&mut slot.value).dispose();
        // If the stack is full, borrowed, or already destroyed (thread exit), `slot` is freed
        // here or when the closure is dropped uncalled.
        let _ = SPARES.try_with(move |s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.len() < SPARES_MAX {
                    s.push(slot);
                }
            }
        });
    }

    /// How many spares this thread holds (tests, and the doc-hidden hook of the miri test).
    pub(crate) fn len() -> usize {
        SPARES.try_with(|s| s.borrow().len()).unwrap_or(0)
    }
}

/// How many spare slot allocations the calling thread holds, and how many it has reused (tests).
#[cfg(not(scriptling_kv_loom))]
pub(crate) fn spares_held() -> (usize, u64) {
    (spares::len(), spares::reused())
}

/// A slot pointer as loaded from an entry: null means the entry is dead; the tag
/// [`Entry::EXPIRED`] means the slot was seen expired (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Current<'g>(Shared<'g, Slot>);

impl<'g> Current<'g> {
    /// The slot, or `None` if the entry is dead.
    #[inline]
    pub(crate) fn slot(self) -> Option<&'g Slot> {
        // SAFETY: the pointer was loaded from `Entry::slot` under the guard `'g`, and a slot is
        // only ever freed or recycled through crossbeam-epoch deferral (`retire`) after it was
        // unlinked from the entry, so it stays allocated until that guard is dropped (module
        // docs, "Memory reclamation"). A published slot is only ever changed through its atomic
        // words, so a shared reference is sound. `as_ref` ignores the tag; null yields `None`.
        unsafe { self.0.as_ref() }
    }

    /// Whether the slot was marked expired.
    #[inline]
    pub(crate) fn is_marked(self) -> bool {
        self.0.tag() == Entry::EXPIRED
    }
}

/// What [`Entry::observe`] found: the one answer to "is this key live?".
#[derive(Clone, Copy, Debug)]
pub(crate) enum Observed<'g> {
    /// The entry is dead (a tombstone): absent, and the caller should unlink it.
    Dead,
    /// Absent: expired, and the slot is marked, so anybody may act on this at once. A writer
    /// that writes anyway replaces this (tagged) pointer.
    Expired(Current<'g>),
    /// Live: `slot` is current (as `cur`), its deadline word was `word` (so the deadline is
    /// `deadline_of(word)`), judged at clock reading `now` (`None`: no deadline, no reading).
    Live {
        /// The pointer as loaded (untagged).
        cur: Current<'g>,
        /// The slot it points to.
        slot: &'g Slot,
        /// The deadline word as loaded (its deadline is after `now`).
        word: u64,
        /// The clock reading liveness was judged at, if the key has a deadline.
        now: Option<u64>,
    },
}

#[cfg(test)]
impl Observed<'_> {
    /// Whether the key is live.
    pub(crate) fn is_live(&self) -> bool {
        matches!(self, Observed::Live { .. })
    }
}

/// The decision `observe` hands back for one loaded slot (internal).
enum Judged {
    Live(u64, Option<u64>),
    Expired(u64),
}

/// The liveness rule itself: the deadline word `word`, loaded before `clock` is read (lazily,
/// only if there is a deadline), is live iff its deadline is after the reading.
#[inline]
fn judge(word: u64, clock: &Clock) -> Judged {
    let deadline = deadline_of(word);
    if deadline == NEVER {
        return Judged::Live(word, None);
    }
    let now = clock.now();
    if mutant::live(deadline, now) {
        Judged::Live(word, Some(now))
    } else {
        Judged::Expired(deadline)
    }
}

/// A key's cell in the table. See the module docs for the state machine.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The key (the table holds a copy; immutable, so not part of any model).
    pub(crate) key: Key,
    /// The current version; null once the entry is dead (permanent); tagged
    /// [`Entry::EXPIRED`] once seen expired.
    slot: Atomic<Slot>,
    /// Three things in one word, so that an `Arc<Entry>` with an inline key stays within 64
    /// bytes:
    /// - bits 0..44 ([`Entry::TICK`]): the tick of the earliest expiry record pending for this
    ///   entry, or [`Entry::UNSCHEDULED`]; owned by the protocol in `expiry.rs`, which changes
    ///   these bits only by CASes that carry the other bits over unchanged;
    /// - bits 44..62 ([`Entry::STAMP`]): the entry's last use under `Eviction::Lru` (`evict.rs`,
    ///   "The access clock"), changed only by a CAS that carries the other bits over ([`touch`]);
    /// - bits 62 and 63: which eviction queues hold the entry (`evict.rs`, only in a bounded
    ///   store), changed only by `fetch_or`/`fetch_and` of those bits, which leave the others
    ///   unchanged.
    ///
    /// Ticks are deadlines in nanoseconds shifted right by 20, and deadlines are below 2^63, so
    /// ticks stay below 2^43: the tick bits never reach the stamp. A change of one field makes a
    /// concurrent CAS of another fail and retry (it re-reads the word), and no CAS loses another
    /// field's change, so the protocols run on the word as if it were three words, and every
    /// access is `SeqCst` as before (a stamp CAS that fails is not retried: a use is a hint).
    ///
    /// [`touch`]: Entry::touch
    pub(crate) scheduled: AtomicU64,
}

impl Entry {
    /// The tick bits of [`Entry::scheduled`].
    pub(crate) const TICK: u64 = (1 << 44) - 1;

    /// The access-stamp bits of [`Entry::scheduled`] (`Eviction::Lru`).
    pub(crate) const STAMP: u64 = ((1 << 18) - 1) << 44;

    /// Tick bits meaning no expiry record is pending (greater than every real tick).
    pub(crate) const UNSCHEDULED: u64 = Self::TICK;

    /// The tick of the pending record (or [`Entry::UNSCHEDULED`]).
    #[inline]
    pub(crate) fn scheduled_tick(&self) -> u64 {
        self.scheduled.load(Ordering::SeqCst) & Self::TICK
    }

    /// Sets eviction-queue flag `flag` (a bit at 62 or above); returns whether it was clear.
    #[inline]
    pub(crate) fn set_queued(&self, flag: u64) -> bool {
        debug_assert_eq!(flag & Self::TICK, 0);
        self.scheduled.fetch_or(flag, Ordering::SeqCst) & flag == 0
    }

    /// Clears eviction-queue flag `flag`.
    #[inline]
    pub(crate) fn clear_queued(&self, flag: u64) {
        debug_assert_eq!(flag & Self::TICK, 0);
        self.scheduled.fetch_and(!flag, Ordering::SeqCst);
    }

    /// Stamps the entry as used at access-clock reading `now` (its low 18 bits), writing the word
    /// only if the stamp changes; a CAS that fails is not retried (a racing change of the word
    /// means a racing use, or a change of another field: the stamp is a hint).
    #[inline]
    pub(crate) fn touch(&self, now: u64) {
        let stamp = (now << 44) & Self::STAMP;
        let word = self.scheduled.load(Ordering::SeqCst);
        if word & Self::STAMP != stamp {
            let _ = self.scheduled.compare_exchange(
                word,
                (word & !Self::STAMP) | stamp,
                Ordering::SeqCst,
                Ordering::Relaxed,
            );
        }
    }

    /// Uses of the access clock since the entry's last use, at reading `now` (modulo 2^18).
    #[inline]
    pub(crate) fn age(&self, now: u64) -> u64 {
        let stamp = (self.scheduled.load(Ordering::SeqCst) & Self::STAMP) >> 44;
        now.wrapping_sub(stamp) & (Self::STAMP >> 44)
    }

    /// Tag of a slot pointer whose slot was seen expired (module docs).
    pub(crate) const EXPIRED: usize = 1;

    /// A live entry holding `slot`.
    pub(crate) fn new(key: Key, slot: Owned<Slot>) -> Self {
        Entry {
            key,
            slot: Atomic::from(slot),
            scheduled: AtomicU64::new(Self::UNSCHEDULED),
        }
    }

    /// Loads the current slot (Acquire: pairs with the Release of the CAS that published it, so
    /// the slot's contents are visible).
    #[inline]
    pub(crate) fn load<'g>(&self, guard: &'g Guard) -> Current<'g> {
        Current(self.slot.load(Ordering::Acquire, guard))
    }

    /// Is the key live? The one liveness rule of the crate (module docs): loads the slot and its
    /// deadline word, reads the clock after them (only if there is a deadline), and marks the slot
    /// before answering "expired", so no writer that judged it live earlier can land afterwards.
    pub(crate) fn observe<'g>(&self, guard: &'g Guard, clock: &Clock) -> Observed<'g> {
        loop {
            let cur = self.load(guard);
            let Some(slot) = cur.slot() else {
                return Observed::Dead;
            };
            if cur.is_marked() {
                return Observed::Expired(cur);
            }
            match judge(slot.word.load(Ordering::Acquire), clock) {
                Judged::Live(word, now) => {
                    return Observed::Live {
                        cur,
                        slot,
                        word,
                        now,
                    }
                }
                Judged::Expired(deadline) => {
                    if let Some(marked) = self.mark(cur, slot, deadline, guard) {
                        return Observed::Expired(marked);
                    }
                }
            }
        }
    }

    /// Marks `cur` (whose deadline `deadline` has passed) expired: seals its deadline word, checks
    /// that the deadline did not move, and tags the pointer. `None` if the slot changed meanwhile
    /// (the caller observes again).
    fn mark<'g>(
        &self,
        cur: Current<'g>,
        slot: &Slot,
        deadline: u64,
        guard: &'g Guard,
    ) -> Option<Current<'g>> {
        if !mutant::mark_expired() {
            return Some(cur);
        }
        if slot.seal_deadline() != deadline {
            // An in-place `expire`/`persist` landed after our load: judge the new deadline.
            return None;
        }
        let marked = cur.0.with_tag(Self::EXPIRED);
        match self
            .slot
            .compare_exchange(cur.0, marked, Ordering::AcqRel, Ordering::Acquire, guard)
        {
            Ok(_) => Some(Current(marked)),
            Err(e) if e.current == marked => Some(Current(marked)),
            Err(_) => None,
        }
    }

    /// The entry's slot and deadline as the expiry visitor reads them: `SeqCst`, for the
    /// store-load protocol of `expiry.rs`. `None` if the entry is dead.
    #[inline]
    pub(crate) fn load_for_visit<'g>(&self, guard: &'g Guard) -> Option<(Current<'g>, u64)> {
        let cur = Current(self.slot.load(Ordering::SeqCst, guard));
        let slot = cur.slot()?;
        Some((cur, deadline_of(slot.word.load(Ordering::SeqCst))))
    }

    /// Replaces `cur` (a live-or-expired slot loaded from this entry under `guard`) with `new`,
    /// sealing `cur` first. The CAS expects `cur` exactly, tag included: a writer that judged the
    /// key live passes the untagged pointer and fails if the slot was marked meanwhile. On failure
    /// `new` is handed back for reuse.
    ///
    /// `SeqCst`: the Release half publishes `new`; the total order is needed by the expiry
    /// scheduler (a writer's slot CAS followed by its load of `scheduled`).
    ///
    /// `deadline_sealed`: the caller already sealed `cur`'s deadline word (to check it).
    pub(crate) fn replace(
        &self,
        cur: Current<'_>,
        new: Owned<Slot>,
        deadline_sealed: bool,
        guard: &Guard,
    ) -> Result<(), Owned<Slot>> {
        let Some(old) = cur.slot() else {
            debug_assert!(false, "a dead entry is never revived");
            return Err(new);
        };
        old.seal(deadline_sealed);
        match mutant::replace(&self.slot, cur.0, new, guard) {
            Ok(()) => {
                if mutant::free_now() {
                    // SAFETY: none, on purpose (mutant `free_now`): frees a slot that pinned
                    // readers may still hold, to show the reclamation model and miri catch it.
                    drop(unsafe { cur.0.with_tag(0).into_owned() });
                } else if mutant::retire_replaced() {
                    // SAFETY: reclamation argument of the module docs: the CAS unlinked `cur`
                    // from the only place it was reachable, and readers hold it only under guards.
                    unsafe { retire(guard, cur.0) };
                }
                Ok(())
            }
            Err(new) => Err(new),
        }
    }

    /// Kills the entry if its slot is still `cur` (tag included): seals the slot and installs the
    /// tombstone. Returns whether this call killed it. `deadline_sealed` as for `replace`.
    pub(crate) fn kill(&self, cur: Current<'_>, deadline_sealed: bool, guard: &Guard) -> bool {
        let Some(old) = cur.slot() else {
            return false;
        };
        old.seal(deadline_sealed);
        match self.slot.compare_exchange(
            cur.0,
            Shared::null(),
            Ordering::SeqCst,
            Ordering::Acquire,
            guard,
        ) {
            Ok(_) => {
                // SAFETY: as in `replace`: the CAS made `cur` unreachable.
                unsafe { retire(guard, cur.0) };
                true
            }
            Err(_) => false,
        }
    }

    /// Kills the entry whatever its slot holds (used by `clear`). Returns the slot it killed
    /// (retired, readable while `guard` is held), `None` if the entry was already dead.
    pub(crate) fn kill_any<'g>(&self, guard: &'g Guard) -> Option<&'g Slot> {
        if mutant::kill_by_store() {
            // MUTANT `double_retire`: load then store instead of a CAS loop, so two killers can
            // both retire the same slot.
            let old = self.slot.load(Ordering::Acquire, guard);
            self.slot.store(Shared::null(), Ordering::SeqCst);
            if old.is_null() {
                return None;
            }
            // SAFETY: none (mutant only): deliberately wrong, two killers can both retire `old`.
            unsafe { guard.defer_destroy(old.with_tag(0)) };
            return Current(old).slot();
        }
        // A kill must seal the slot it removes (a counter could otherwise take an add after it
        // was unlinked), so this is a CAS loop of `kill`, not one swap.
        loop {
            let cur = self.load(guard);
            cur.slot()?;
            if self.kill(cur, false, guard) {
                return cur.slot();
            }
        }
    }

    /// Stores `new` into the entry whatever it holds, even a tombstone. Breaks the state machine:
    /// used only by the mutant `revive_dead` of `loom-tests/mutants` (the replaced slot, if any,
    /// is leaked rather than retired, so the mutant frees nothing twice).
    pub(crate) fn revive(&self, new: Owned<Slot>, _guard: &Guard) {
        self.slot.store(new, Ordering::SeqCst);
    }

    /// Takes the slot back out of an entry that was never shared (a rejected insert).
    pub(crate) fn into_slot(mut self) -> Option<Owned<Slot>> {
        // `&mut self` proves no other thread can see this entry, so no guard is needed.
        let slot = std::mem::replace(&mut self.slot, Atomic::null());
        // SAFETY: we own the entry exclusively (it was never published), so the slot pointer,
        // if non-null, is uniquely owned by this `Atomic` and nobody else can free or read it.
        unsafe { slot.try_into_owned() }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // An entry is dropped with a slot in it only when the store itself is dropped: every
        // entry with a slot is live or expired, and the table holds it until it is killed (the
        // slot is then null). The store is dropped only once no handle is left, so no thread can
        // be reading the slot: it is freed at once, without pinning (which a drop during thread
        // teardown, or under loom after a failed model, could not do).
        let slot = std::mem::replace(&mut self.slot, Atomic::null());
        // SAFETY: as argued above, nobody else can reach the slot any more, and `&mut self`
        // proves this is the only reference to the entry.
        drop(unsafe { slot.try_into_owned() });
    }
}

/// The mutation hooks of `loom-tests/mutants`: one small named function per protection the loom
/// models must be seen to rely on. Without `--cfg scriptling_kv_mutant="NAME"` each is the
/// correct code (and inlines to it); with it, the named protection is broken.
mod mutant {
    use super::{Atomic, Guard, Owned, Shared, Slot, SEALED};
    use crate::engine::sync::{AtomicU64, Ordering};

    /// Seals `word` and returns what it held. Mutant `no_seal`: does nothing.
    #[inline]
    pub(super) fn seal(word: &AtomicU64) -> u64 {
        if cfg!(scriptling_kv_mutant = "no_seal") {
            return word.load(Ordering::SeqCst);
        }
        word.fetch_or(SEALED, Ordering::SeqCst)
    }

    /// An in-place CAS of a counter cell. Mutant `incr_cas_as_store`: load, compare, store.
    #[inline]
    pub(super) fn cas(cell: &AtomicU64, old: u64, new: u64) -> Result<u64, u64> {
        if cfg!(scriptling_kv_mutant = "incr_cas_as_store") {
            let now = cell.load(Ordering::Acquire);
            if now != old {
                return Err(now);
            }
            cell.store(new, Ordering::Release);
            return Ok(old);
        }
        cell.compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire)
    }

    /// The liveness comparison. Mutant `expiry_inclusive`: still live at the deadline.
    #[inline]
    pub(super) fn live(deadline: u64, now: u64) -> bool {
        if cfg!(scriptling_kv_mutant = "expiry_inclusive") {
            return deadline >= now;
        }
        deadline > now
    }

    /// Whether an observation of "expired" marks the slot. Mutant `no_mark`: it does not (the
    /// review's revival hole: `expire`/`persist` judged live earlier can bring the key back).
    #[inline]
    pub(super) fn mark_expired() -> bool {
        !cfg!(scriptling_kv_mutant = "no_mark")
    }

    /// The slot pointer CAS of a replacement. Mutant `incr_cas_as_store`: load, compare, store
    /// (the replaced slot is then leaked rather than retired, so it frees nothing twice).
    #[inline]
    pub(super) fn replace(
        slot: &Atomic<Slot>,
        cur: Shared<'_, Slot>,
        new: Owned<Slot>,
        guard: &Guard,
    ) -> Result<(), Owned<Slot>> {
        if cfg!(scriptling_kv_mutant = "incr_cas_as_store") {
            if slot.load(Ordering::Acquire, guard) != cur {
                return Err(new);
            }
            slot.store(new, Ordering::SeqCst);
            return Ok(());
        }
        slot.compare_exchange(cur, new, Ordering::SeqCst, Ordering::Acquire, guard)
            .map(drop)
            .map_err(|e| e.new)
    }

    /// Mutant `free_now`: a replaced slot is freed at once instead of retired.
    #[inline]
    pub(super) fn free_now() -> bool {
        cfg!(scriptling_kv_mutant = "free_now")
    }

    /// Whether a replaced slot is retired. Mutant `leak_replaced`: never.
    #[inline]
    pub(super) fn retire_replaced() -> bool {
        !cfg!(any(
            scriptling_kv_mutant = "leak_replaced",
            scriptling_kv_mutant = "incr_cas_as_store"
        ))
    }

    /// Whether a retired slot's allocation is reused. Mutant `no_recycle`: never (a spare taken
    /// is freed instead).
    #[cfg(not(scriptling_kv_loom))]
    #[inline]
    pub(super) fn recycle() -> bool {
        !cfg!(scriptling_kv_mutant = "no_recycle")
    }

    /// Whether `kill_any` is a load and a store. Mutant `double_retire`.
    #[inline]
    pub(super) fn kill_by_store() -> bool {
        cfg!(scriptling_kv_mutant = "double_retire")
    }
}

#[cfg(all(test, not(scriptling_kv_loom)))]
mod tests {
    use super::*;
    use crate::engine::clock::TestClock;
    use std::time::Duration;

    fn entry(v: i64, deadline: u64) -> Entry {
        Entry::new(
            Key::new("k"),
            Owned::new(Slot::new(Value::Int(v), deadline)),
        )
    }

    /// The `Arc<Entry>` allocation (two counts + the entry) stays within 64 bytes with an inline
    /// key: a one-byte field once added here cost 8 bytes per key (298 -> 306 B/entry in the
    /// memory bench), until it moved into the top bits of `scheduled`.
    #[test]
    fn an_entry_with_its_arc_counts_fits_in_64_bytes() {
        assert!(
            2 * std::mem::size_of::<usize>() + std::mem::size_of::<Entry>() <= 64,
            "Entry is {} bytes",
            std::mem::size_of::<Entry>()
        );
    }

    #[test]
    fn queue_flags_and_the_scheduled_tick_share_a_word_without_disturbing_each_other() {
        let e = entry(0, NEVER);
        assert_eq!(e.scheduled_tick(), Entry::UNSCHEDULED);
        assert!(e.set_queued(crate::engine::evict::IN_TTL));
        assert!(!e.set_queued(crate::engine::evict::IN_TTL));
        assert_eq!(e.scheduled_tick(), Entry::UNSCHEDULED);
        e.scheduled.store(
            (e.scheduled.load(Ordering::SeqCst) & !Entry::TICK) | 12345,
            Ordering::SeqCst,
        );
        assert!(e.set_queued(crate::engine::evict::IN_PERSISTENT));
        assert_eq!(e.scheduled_tick(), 12345);
        e.clear_queued(crate::engine::evict::IN_TTL);
        assert_eq!(e.scheduled_tick(), 12345);
        assert!(e.set_queued(crate::engine::evict::IN_TTL));
        assert!(!e.set_queued(crate::engine::evict::IN_PERSISTENT));
    }

    #[test]
    fn the_access_stamp_shares_the_word_with_tick_and_flags_and_wraps() {
        let e = entry(0, NEVER);
        assert!(e.set_queued(crate::engine::evict::IN_TTL));
        e.scheduled.store(
            (e.scheduled.load(Ordering::SeqCst) & !Entry::TICK) | 12345,
            Ordering::SeqCst,
        );
        e.touch(5);
        assert_eq!(e.age(7), 2);
        assert_eq!(e.scheduled_tick(), 12345);
        assert!(
            !e.set_queued(crate::engine::evict::IN_TTL),
            "the flag survived the stamp"
        );
        // The stamp is the clock's low 18 bits; ages are taken modulo 2^18.
        e.touch((1 << 18) - 1);
        assert_eq!(e.age(1 << 18), 1);
        assert_eq!(e.age((1 << 18) + 1), 2);
        // The largest real tick (deadlines are below 2^63) stays below the stamp bits.
        assert_eq!(
            (NEVER >> crate::engine::expiry::TICK_SHIFT) & !Entry::TICK,
            0
        );
        const { assert!(Entry::UNSCHEDULED > NEVER >> crate::engine::expiry::TICK_SHIFT) };
        assert_eq!(e.scheduled_tick(), 12345);
    }

    fn clock_at(nanos: u64) -> (TestClock, Clock) {
        let t = TestClock::new();
        t.advance(Duration::from_nanos(nanos));
        let c = t.clock();
        (t, c)
    }

    #[test]
    fn retired_slots_are_reused_once_the_grace_period_is_over() {
        let e = entry(0, NEVER);
        let mut i = 0;
        // Other tests' threads share crossbeam's global queue and may run some of our deferred
        // functions (into their own spares), so keep retiring until this thread gets some.
        while spares::len() == 0 {
            i += 1;
            assert!(i < 100_000, "no retired slot came back as a spare");
            let g = crossbeam_epoch::pin();
            let cur = e.load(&g);
            e.replace(
                cur,
                Slot::boxed(Value::from(format!("v{i}")), NEVER),
                false,
                &g,
            )
            .unwrap();
            g.flush();
        }
        assert!(spares::len() <= SPARES_MAX);
        let before = spares::len();
        let g = crossbeam_epoch::pin();
        let cur = e.load(&g);
        let fresh = Slot::boxed(Value::from("reused"), 7);
        assert_eq!(
            spares::len(),
            before - 1,
            "a spare is taken before allocating"
        );
        e.replace(cur, fresh, false, &g).unwrap();
        let now = e.load(&g).slot().unwrap();
        assert_eq!(*now.value(), Value::from("reused"));
        assert_eq!(now.deadline(), 7);
    }

    #[test]
    fn replace_succeeds_on_current_and_fails_on_stale() {
        let e = entry(1, NEVER);
        let g = crossbeam_epoch::pin();
        let s1 = e.load(&g);
        assert_eq!(*s1.slot().unwrap().value(), Value::Int(1));
        e.replace(s1, Owned::new(Slot::new(Value::Int(2), NEVER)), false, &g)
            .unwrap();
        let back = e
            .replace(s1, Owned::new(Slot::new(Value::Int(3), NEVER)), false, &g)
            .unwrap_err();
        assert_eq!(*back.value(), Value::Int(3));
        assert_eq!(*e.load(&g).slot().unwrap().value(), Value::Int(2));
        // The old slot is still readable under the guard that loaded it (sealed at 1).
        assert_eq!(*s1.slot().unwrap().value(), Value::Int(1));
    }

    #[test]
    fn kill_is_permanent_and_only_from_the_inspected_slot() {
        let e = entry(1, 10);
        let g = crossbeam_epoch::pin();
        let s1 = e.load(&g);
        e.replace(s1, Owned::new(Slot::new(Value::Int(2), 20)), false, &g)
            .unwrap();
        assert!(
            !e.kill(s1, false, &g),
            "a stale slot must not kill the entry"
        );
        let s2 = e.load(&g);
        assert!(e.kill(s2, false, &g));
        assert!(e.load(&g).slot().is_none());
        assert!(e.kill_any(&g).is_none());
    }

    #[test]
    fn liveness_is_deadline_strictly_after_the_reading() {
        let e = entry(1, 10);
        let g = crossbeam_epoch::pin();
        let (_t, c9) = clock_at(9);
        assert!(matches!(
            e.observe(&g, &c9),
            Observed::Live { now: Some(9), .. }
        ));
        let (_t, c10) = clock_at(10);
        assert!(matches!(e.observe(&g, &c10), Observed::Expired(..)));
        let p = entry(1, NEVER);
        assert!(matches!(
            p.observe(&g, &c10),
            Observed::Live { now: None, .. }
        ));
    }

    #[test]
    fn seeing_a_slot_expired_marks_it_so_a_writer_that_judged_it_live_fails() {
        let e = entry(1, 10);
        let g = crossbeam_epoch::pin();
        let (t, clock) = clock_at(9);
        // A writer judges the key live at 9...
        let Observed::Live {
            cur, slot, word, ..
        } = e.observe(&g, &clock)
        else {
            panic!("live at 9");
        };
        // ...time passes and a reader sees it expired...
        t.advance(Duration::from_nanos(2));
        assert!(matches!(e.observe(&g, &clock), Observed::Expired(..)));
        // ...so neither an in-place change nor a replacement from what the writer saw lands.
        assert!(!slot.set_deadline(word, 100));
        assert!(e
            .replace(cur, Owned::new(Slot::new(Value::Int(2), 100)), false, &g)
            .is_err());
        assert!(!e.kill(cur, false, &g));
        // A write to the absent key replaces the marked slot.
        let Observed::Expired(marked) = e.observe(&g, &clock) else {
            panic!("still expired");
        };
        assert!(marked.is_marked());
        e.replace(
            marked,
            Owned::new(Slot::new(Value::Int(3), NEVER)),
            false,
            &g,
        )
        .unwrap();
        assert!(e.observe(&g, &clock).is_live());
    }

    #[test]
    fn an_in_place_extension_before_the_mark_wins_and_the_marker_judges_again() {
        let e = entry(1, 10);
        let g = crossbeam_epoch::pin();
        let (_t, c11) = clock_at(11);
        let cur = e.load(&g);
        let slot = cur.slot().unwrap();
        let stale_word = slot.word.load(Ordering::Acquire);
        // The extension lands between a marker's load and its seal.
        assert!(slot.set_deadline(stale_word, 50));
        assert!(e.mark(cur, slot, deadline_of(stale_word), &g).is_none());
        // The slot stays unmarked and live (sealed, so the next in-place change must copy).
        assert!(!e.load(&g).is_marked());
        assert!(matches!(e.observe(&g, &c11), Observed::Live { .. }));
        assert!(!slot.set_deadline(slot.word.load(Ordering::Acquire), 60));
    }

    #[test]
    fn into_slot_returns_the_unpublished_slot() {
        let e = entry(7, NEVER);
        assert_eq!(*e.into_slot().unwrap().value(), Value::Int(7));
    }

    #[test]
    fn counters_add_in_place_until_sealed_and_big_ints_are_not_counters() {
        let s = Slot::new(Value::Int(5), NEVER);
        assert_eq!(s.add_in_place(2), Some(7));
        assert_eq!(s.add_in_place(-10), Some(-3));
        assert_eq!(*s.value(), Value::Int(-3));
        assert_eq!(
            s.add_in_place((1 << 62) + 5),
            None,
            "leaves the cell's range"
        );
        s.seal_value();
        assert_eq!(s.add_in_place(1), None, "sealed");
        assert_eq!(*s.value(), Value::Int(-3), "sealed value is kept");
        let big = Slot::new(Value::Int(i64::MAX), NEVER);
        assert_eq!(big.add_in_place(-1), None);
        assert_eq!(*big.value(), Value::Int(i64::MAX));
        let low = Slot::new(Value::Int(-(1 << 62)), NEVER);
        assert_eq!(*low.value(), Value::Int(-(1 << 62)));
        assert_eq!(low.add_in_place(1), Some(-(1 << 62) + 1));
        let text = Slot::new(Value::from("x"), NEVER);
        assert_eq!(text.add_in_place(1), None);
        assert_eq!(
            Slot::take_value(&mut Owned::new(low)),
            Value::Int(-(1 << 62) + 1)
        );
    }

    #[test]
    fn replace_and_kill_seal_both_words_of_the_slot_they_remove() {
        let e = entry(1, 40);
        let g = crossbeam_epoch::pin();
        let s1 = e.load(&g);
        let w1 = s1.slot().unwrap().word.load(Ordering::Acquire);
        e.replace(s1, Owned::new(Slot::new(Value::Int(9), 40)), false, &g)
            .unwrap();
        assert_eq!(s1.slot().unwrap().add_in_place(1), None);
        assert!(!s1.slot().unwrap().set_deadline(w1, 80));
        let s2 = e.load(&g);
        let w2 = s2.slot().unwrap().word.load(Ordering::Acquire);
        assert!(e.kill(s2, false, &g));
        assert_eq!(s2.slot().unwrap().add_in_place(1), None);
        assert!(!s2.slot().unwrap().set_deadline(w2, 80));
    }
}
