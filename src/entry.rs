//! The entry cell: one key's value and deadline, changed together by one atomic pointer swap.
//!
//! # Representation
//!
//! The table maps each key to an `Arc<Entry>`. An [`Entry`] owns one pointer, `slot`, to an
//! immutable [`Slot`] `{ value, deadline }` allocated on the heap. A write never changes a
//! published slot: it allocates a new one and installs it with a compare-and-swap on `slot`.
//! Because value and deadline live in the same allocation and are published by one CAS, no
//! reader can see one write's value with another write's deadline, and no reader can see a
//! half-made update. The one exception, `incr` adding to a small integer in place, and the seal
//! that keeps it safe, are described under "Counters" below.
//!
//! # States
//!
//! ```text
//!            set / incr / expire / persist (CAS S -> S')
//!               +------+
//!               v      |
//!  insert --> LIVE(S) -+---- kill (CAS S -> null) ----> DEAD ---- unlink from table ---> gone
//!               |                                        ^
//!               +-- deadline passes: EXPIRED(S) ---------+  (delete, clear, the cleaner)
//! ```
//!
//! - `LIVE(S)`: `slot` points to `S` and `S.deadline > now`. Every operation sees `S`.
//! - `EXPIRED(S)`: `slot` points to `S` and `S.deadline <= now`. A derived state (nothing is
//!   written when time passes): every operation treats the key as absent. A writer may revive the
//!   entry by a CAS `S -> S'` (that is a write to an absent key, which is allowed in place).
//! - `DEAD`: `slot` is null. The tombstone: installed by `delete`, `clear`, or the cleaner, by a
//!   CAS (or swap) from the slot they inspected. **Permanent**: nothing ever stores a non-null
//!   pointer into a dead entry. The killer then unlinks the entry from the table, but any thread
//!   that finds a dead entry first unlinks it itself (only if the table still maps the key to that
//!   very entry) and retries: nobody waits for the killer.
//!
//! # Why the tombstone
//!
//! `incr`, `expire` and the other read-modify-writes find the entry in the table and then CAS its
//! slot. Without the tombstone, `delete` could unlink the entry between those two steps and the
//! CAS would land in an entry no longer reachable: an `incr` would return `Ok(n)` and `n` would
//! vanish. Because `delete` first kills the entry (CAS to null) and only then unlinks it, a CAS
//! by anyone else either happens before the kill (and `delete` linearizes after it, removing its
//! result) or fails on the null pointer, and the writer goes back to the table.
//!
//! # Races and why they are benign
//!
//! - Two writers CAS the same `S`: one wins; the loser reloads and decides again (its decision may
//!   depend on the new value, as `incr`'s does).
//! - A reader loads `S` while a writer replaces it: the reader linearizes before the write; it
//!   keeps using `S` safely because `S` is retired through crossbeam-epoch, not freed (below).
//! - Two threads unlink the same dead entry: the table removes the key only if it still maps to
//!   that entry ([`crate::table::Table::remove_if_same`]), so the second is a no-op and neither
//!   can remove a newer entry for the same key.
//! - The expiry scheduler's `scheduled` word is only a hint for when to look at the entry; its
//!   protocol is described in `expiry.rs`.
//!
//! # Counters: integers updated in place
//!
//! A slot built from a `Value::Int` that fits in 63 bits is a *counter*: its integer lives in
//! `Slot::cell` as `(n << 1) | SEALED`, and `incr` adds to it with one CAS on the cell, without
//! allocating a new slot. That breaks "a published slot never changes", so one rule restores
//! everything the immutable design gave: **whoever replaces or kills a slot seals it first**
//! (`fetch_or(SEALED)`; idempotent, so several racing writers may all seal), and a sealed cell
//! never changes again. The in-place CAS expects the bit clear, so:
//!
//! - an in-place add succeeds only while nobody has started to replace or kill the slot, so the
//!   slot is still the entry's current one at the instant of the add (its linearization point),
//!   and an add can never land in a slot that was replaced, nor in an entry that was deleted;
//! - a writer that derives its new slot from the old value (`incr`'s slow path, `expire`,
//!   `persist`) seals *before* reading it, so the value it copies is final: no add is lost between
//!   its read and its CAS on the entry, and no reader sees a value with another write's TTL
//!   (the deadline is still immutable; only the integer moves);
//! - a writer that seals and then decides not to write (`Overflow`) leaves a sealed slot in
//!   place: its value is right, and the next `incr` takes the slow path and replaces it with a
//!   fresh counter.
//!
//! Readers load the cell (Acquire) after loading the slot: if the slot is replaced meanwhile they
//! read its final, sealed value, which was the key's value just before the replacement.
//!
//! # Memory reclamation
//!
//! A replaced or killed slot is retired through crossbeam-epoch deferral ([`retire`]) on the guard
//! that loaded it. The argument, at every retirement:
//!
//! 1. no thread that pins later can reach the slot: it was reachable only through this entry's
//!    `slot` field (each slot is installed exactly once, into exactly one entry), and the
//!    successful CAS or swap removed it from there;
//! 2. every thread that loaded it did so while pinned, and `&'g Slot` references cannot outlive
//!    the guard `'g` they were loaded under, so crossbeam-epoch frees the slot only after they
//!    all unpinned.
//!
//! The `Entry` itself is freed by the table's collector (flurry uses seize), possibly later and
//! on another thread, or by whoever drops the last `Arc<Entry>`. A crossbeam-epoch reader may
//! still be pinned on the entry's current slot then, so `Drop for Entry` retires the slot through
//! crossbeam-epoch too instead of freeing it.
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

use crate::clock::NEVER;
use crate::key::Key;
use crate::sync::{AtomicU64, Ordering};
use crate::value::Value;

/// One version of a key: its value and its deadline (see `clock.rs`).
///
/// Immutable once published, with one exception: a *counter* slot (an `Int` that fits in 63
/// bits) keeps its integer in `cell`, which `incr` updates in place by CAS until the slot is
/// *sealed*; see "Counters" in the module docs.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The stored value (for a counter: the initial integer, superseded by `cell`).
    value: Value,
    /// Nanoseconds since the store's origin at which the key expires; [`NEVER`] for none.
    pub(crate) deadline: u64,
    /// Whether `cell` holds the value (fixed at construction).
    counter: bool,
    /// For a counter: `(n << 1) | SEALED`, the integer shifted left by one, and the seal bit.
    cell: AtomicU64,
}

/// The seal bit of a counter cell: set by anyone about to replace or kill the slot, after which
/// the cell never changes again.
const SEALED: u64 = 1;

/// Whether `n` can live in a counter cell (63 bits, two's complement).
#[inline]
fn fits_cell(n: i64) -> bool {
    (-(1i64 << 62)..(1i64 << 62)).contains(&n)
}

impl Slot {
    /// A slot holding `value` until `deadline` (a counter if it is a small enough `Int`).
    pub(crate) fn new(value: Value, deadline: u64) -> Self {
        let (counter, cell) = match value {
            Value::Int(n) if fits_cell(n) => (true, (n as u64) << 1),
            _ => (false, 0),
        };
        Slot {
            value,
            deadline,
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
        if let Some(mut spare) = spares::take() {
            *spare = slot;
            return Owned::from(spare);
        }
        Owned::new(slot)
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

    /// Seals a counter (idempotent; nothing for other slots): from now on its value is fixed,
    /// so a decision made on it, and a replacement or kill of it, cannot lose an in-place add.
    #[inline]
    pub(crate) fn seal(&self) {
        #[cfg(not(scriptling_kv_mutant = "no_seal"))]
        if self.counter {
            self.cell.fetch_or(SEALED, Ordering::SeqCst);
        }
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
            // MUTANT (loom-tests/mutants): load + store instead of one CAS on the counter.
            #[cfg(scriptling_kv_mutant = "incr_cas_as_store")]
            {
                self.cell.store((sum as u64) << 1, Ordering::Release);
                return Some(sum);
            }
            #[cfg(not(scriptling_kv_mutant = "incr_cas_as_store"))]
            match self.cell.compare_exchange_weak(
                word,
                (sum as u64) << 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(sum),
                Err(actual) => word = actual,
            }
        }
    }

    /// Whether the slot is live at time `now`.
    #[inline]
    pub(crate) fn is_live_at(&self, now: u64) -> bool {
        // MUTANT (loom-tests/mutants): a key is still live at its deadline.
        #[cfg(scriptling_kv_mutant = "expiry_inclusive")]
        return self.deadline >= now;
        self.deadline > now
    }

    /// Whether the slot has a TTL.
    #[inline]
    pub(crate) fn has_deadline(&self) -> bool {
        self.deadline != NEVER
    }
}

/// The most spare slot allocations a thread keeps: what one crossbeam-epoch collection (every
/// 128 pins, a few bags of 64) hands back, measured to keep `Slot::boxed` off malloc (14 KiB).
const SPARES_MAX: usize = 256;

/// Retires `old`: once no pinned thread can hold it, drops its value and keeps its allocation as
/// a spare (module docs, "Memory reclamation" and "Recycling slot allocations").
///
/// # Safety
///
/// The caller's successful CAS or swap has just removed `old` (non-null) from the only entry
/// that held it, `old` was loaded under `guard`, and nobody else retires it.
#[inline]
unsafe fn retire(guard: &Guard, old: Shared<'_, Slot>) {
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
    use crate::value::Value;
    use std::cell::RefCell;

    thread_local! {
        // The boxes are the point: each is a slot allocation kept for reuse.
        #[allow(clippy::vec_box)]
        static SPARES: RefCell<Vec<Box<Slot>>> = const { RefCell::new(Vec::new()) };
    }

    /// A spare allocation (its contents are a dead slot holding `Null`), if this thread has one.
    #[inline]
    pub(super) fn take() -> Option<Box<Slot>> {
        SPARES
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
            .ok()
            .flatten()
    }

    /// Drops the slot's value now and keeps the allocation if there is room (else frees it).
    pub(super) fn give(mut slot: Box<Slot>) {
        // The value goes now, when it would have been freed without recycling.
        slot.value = Value::Null;
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

    /// How many spares this thread holds (tests).
    #[cfg(test)]
    pub(super) fn len() -> usize {
        SPARES.with(|s| s.borrow().len())
    }
}

/// A slot pointer as loaded from an entry: null means the entry is dead.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Current<'g>(Shared<'g, Slot>);

impl<'g> Current<'g> {
    /// The slot, or `None` if the entry is dead.
    #[inline]
    pub(crate) fn slot(self) -> Option<&'g Slot> {
        // SAFETY: the pointer was loaded from `Entry::slot` under the guard `'g`, and a slot is
        // only ever freed or recycled through crossbeam-epoch deferral (`retire`) after it was
        // unlinked from the entry, so it stays allocated and unchanged (but for a counter's
        // atomic cell) until that guard is dropped (module docs, "Memory reclamation").
        // A published slot is only ever changed through its atomic `cell` (a counter's
        // integer), so a shared reference is sound. A null pointer yields `None`.
        unsafe { self.0.as_ref() }
    }
}

/// A key's cell in the table. See the module docs for the state machine.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The key (the table holds a copy; immutable, so not part of any model).
    pub(crate) key: Key,
    /// The current version; null once the entry is dead (permanent).
    slot: Atomic<Slot>,
    /// Tick of the earliest expiry record pending for this entry, or [`Entry::UNSCHEDULED`].
    /// Owned by the protocol in `expiry.rs`.
    pub(crate) scheduled: AtomicU64,
}

impl Entry {
    /// `scheduled` value meaning no expiry record is pending.
    pub(crate) const UNSCHEDULED: u64 = u64::MAX;

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

    /// Loads the current slot with `SeqCst`, for the expiry visitor's store-load protocol
    /// (`expiry.rs`).
    #[inline]
    pub(crate) fn load_seqcst<'g>(&self, guard: &'g Guard) -> Current<'g> {
        Current(self.slot.load(Ordering::SeqCst, guard))
    }

    /// Replaces `current` (which must be a live-or-expired slot loaded from this entry under
    /// `guard`) with `new`. On failure, somebody else changed the slot first (or killed the
    /// entry), and `new` is handed back for reuse.
    ///
    /// `SeqCst`: the Release half publishes `new`; the total order is needed by the expiry
    /// scheduler (a writer's slot CAS followed by its load of `scheduled`).
    pub(crate) fn replace(
        &self,
        current: Current<'_>,
        new: Owned<Slot>,
        guard: &Guard,
    ) -> Result<(), Owned<Slot>> {
        debug_assert!(!current.0.is_null(), "a dead entry is never revived");
        if let Some(slot) = current.slot() {
            slot.seal();
        }
        #[cfg(scriptling_kv_mutant = "incr_cas_as_store")]
        {
            // MUTANT (loom-tests/mutants): load-compare-store instead of one CAS (the replaced
            // slot is leaked rather than retired, so this mutant frees nothing twice).
            if self.slot.load(Ordering::Acquire, guard) != current.0 {
                return Err(new);
            }
            self.slot.store(new, Ordering::SeqCst);
            return Ok(());
        }
        match self
            .slot
            .compare_exchange(current.0, new, Ordering::SeqCst, Ordering::Acquire, guard)
        {
            Ok(_) => {
                // MUTANT (loom-tests/mutants): free the replaced slot at once / never retire it.
                #[cfg(scriptling_kv_mutant = "free_now")]
                return {
                    // SAFETY: none, on purpose: this mutant frees a slot that pinned readers may
                    // still hold, to show the reclamation model and miri catch it.
                    drop(unsafe { current.0.into_owned() });
                    Ok(())
                };
                #[cfg(scriptling_kv_mutant = "leak_replaced")]
                return Ok(());
                #[cfg(scriptling_kv_mutant = "revive_dead")]
                if current.0.is_null() {
                    return Ok(()); // (mutant `revive_dead` wrote into a dead entry)
                }
                // SAFETY: reclamation argument of the module docs: the CAS unlinked `current`
                // from the only place it was reachable, and readers hold it only under guards.
                unsafe { retire(guard, current.0) };
                Ok(())
            }
            Err(e) => Err(e.new),
        }
    }

    /// Kills the entry if its slot is still `current`: installs the tombstone. Returns whether
    /// this call killed it.
    pub(crate) fn kill(&self, current: Current<'_>, guard: &Guard) -> bool {
        debug_assert!(!current.0.is_null());
        if let Some(slot) = current.slot() {
            slot.seal();
        }
        match self.slot.compare_exchange(
            current.0,
            Shared::null(),
            Ordering::SeqCst,
            Ordering::Acquire,
            guard,
        ) {
            Ok(_) => {
                // SAFETY: as in `replace`: the CAS made `current` unreachable.
                unsafe { retire(guard, current.0) };
                true
            }
            Err(_) => false,
        }
    }

    /// Kills the entry whatever its slot holds (used by `clear`). Returns whether the entry was
    /// live or expired (not already dead) before.
    pub(crate) fn kill_any(&self, guard: &Guard) -> bool {
        // MUTANT (loom-tests/mutants): load then store instead of one swap, so two killers can
        // both retire the same slot.
        #[cfg(scriptling_kv_mutant = "double_retire")]
        let old = {
            let old = self.slot.load(Ordering::Acquire, guard);
            self.slot.store(Shared::null(), Ordering::SeqCst);
            old
        };
        #[cfg(scriptling_kv_mutant = "double_retire")]
        {
            if old.is_null() {
                return false;
            }
            // SAFETY: (mutant only) deliberately wrong: two killers can both retire `old`.
            unsafe { guard.defer_destroy(old) };
            return true;
        }
        // A kill must seal the slot it removes (a counter could otherwise take an add after it
        // was unlinked), so this is a CAS loop of `kill`, not one swap.
        #[cfg(not(scriptling_kv_mutant = "double_retire"))]
        loop {
            let current = self.load(guard);
            if current.slot().is_none() {
                return false;
            }
            if self.kill(current, guard) {
                return true;
            }
        }
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
        let guard = crossbeam_epoch::pin();
        let old = self.slot.swap(Shared::null(), Ordering::AcqRel, &guard);
        if !old.is_null() {
            // SAFETY: the entry is being dropped, so nobody can reach `old` through it from now
            // on; but a reader that found this entry before the table retired it may still be
            // pinned (in crossbeam-epoch) on `old`, so we defer rather than free (module docs,
            // last paragraph).
            unsafe { retire(&guard, old) };
        }
    }
}

#[cfg(all(test, not(scriptling_kv_loom)))]
mod tests {
    use super::*;

    fn entry(v: i64, deadline: u64) -> Entry {
        Entry::new(
            Key::new("k"),
            Owned::new(Slot::new(Value::Int(v), deadline)),
        )
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
            e.replace(cur, Slot::boxed(Value::from(format!("v{i}")), NEVER), &g)
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
        e.replace(cur, fresh, &g).unwrap();
        let now = e.load(&g).slot().unwrap();
        assert_eq!(*now.value(), Value::from("reused"));
        assert_eq!(now.deadline, 7);
    }

    #[test]
    fn replace_succeeds_on_current_and_fails_on_stale() {
        let e = entry(1, NEVER);
        let g = crossbeam_epoch::pin();
        let s1 = e.load(&g);
        assert_eq!(*s1.slot().unwrap().value(), Value::Int(1));
        e.replace(s1, Owned::new(Slot::new(Value::Int(2), NEVER)), &g)
            .unwrap();
        let back = e
            .replace(s1, Owned::new(Slot::new(Value::Int(3), NEVER)), &g)
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
        e.replace(s1, Owned::new(Slot::new(Value::Int(2), 20)), &g)
            .unwrap();
        assert!(!e.kill(s1, &g), "a stale slot must not kill the entry");
        let s2 = e.load(&g);
        assert!(e.kill(s2, &g));
        assert!(e.load(&g).slot().is_none());
        assert!(!e.kill_any(&g));
    }

    #[test]
    fn liveness_is_deadline_strictly_after_now() {
        let s = Slot::new(Value::Null, 10);
        assert!(s.is_live_at(9));
        assert!(!s.is_live_at(10));
        assert!(s.has_deadline());
        assert!(!Slot::new(Value::Null, NEVER).has_deadline());
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
        s.seal();
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
    }

    #[test]
    fn replace_and_kill_seal_the_slot_they_remove() {
        let e = entry(1, NEVER);
        let g = crossbeam_epoch::pin();
        let s1 = e.load(&g);
        e.replace(s1, Owned::new(Slot::new(Value::Int(9), NEVER)), &g)
            .unwrap();
        assert_eq!(s1.slot().unwrap().add_in_place(1), None);
        let s2 = e.load(&g);
        assert!(e.kill(s2, &g));
        assert_eq!(s2.slot().unwrap().add_in_place(1), None);
    }
}
