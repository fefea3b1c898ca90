//! The value's slot: an immutable (value, deadline word) pair an entry points at, replaced by a
//! CAS; a counter cell `incr` changes in place; the retirement of replaced slots through
//! crossbeam-epoch and the per-thread recycling of their allocations (module docs of `entry`,
//! "Slots", "Counters", "Recycling slot allocations").

use crossbeam_epoch::{Guard, Owned, Shared};

use crate::engine::clock::NEVER;
use crate::engine::sync::{AtomicU64, Ordering};
use crate::value::Value;

/// The seal bit of a deadline word or a counter cell: set by anyone about to replace or kill the
/// slot (or, for the deadline word, by whoever marks it expired), after which the word never
/// changes again.
pub(super) const SEALED: u64 = 1;

/// A deadline word holding `deadline`, unsealed.
#[inline]
pub(super) const fn word_of(deadline: u64) -> u64 {
    deadline << 1
}

/// The deadline a deadline word holds.
#[inline]
pub(crate) const fn deadline_of(word: u64) -> u64 {
    word >> 1
}

/// One version of a key: its value, its deadline (see `engine::clock`), and for a small integer its
/// counter cell. The value is immutable once published; the deadline word and the counter cell
/// change in place until sealed (module docs).
#[derive(Debug)]
pub(crate) struct Slot {
    /// The stored value (for a counter: the initial integer, superseded by `cell`).
    pub(super) value: Value,
    /// `(deadline << 1) | SEALED`: nanoseconds since the store's origin at which the key expires
    /// ([`NEVER`] for none), and the seal.
    pub(super) word: AtomicU64,
    /// Whether `cell` holds the value (fixed at construction).
    pub(super) counter: bool,
    /// For a counter: `(n << 1) | SEALED`, the integer shifted left by one, and the seal bit.
    pub(super) cell: AtomicU64,
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
pub(super) fn fits_cell(n: i64) -> bool {
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
    pub(super) fn seal(&self, deadline_sealed: bool) {
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
pub(super) const SPARES_MAX: usize = 256;

/// Retires `old`: once no pinned thread can hold it, drops its value and keeps its allocation as
/// a spare (module docs, "Memory reclamation" and "Recycling slot allocations").
///
/// # Safety
///
/// The caller's successful CAS or swap has just removed `old` (non-null, tag ignored) from the
/// only entry that held it, `old` was loaded under `guard`, and nobody else retires it.
#[inline]
pub(super) unsafe fn retire(guard: &Guard, old: Shared<'_, Slot>) {
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
pub(super) mod spares {
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

/// The mutation hooks of `loom-tests/mutants` for slots (the others are in `entry::mutant`).
mod mutant {
    use super::SEALED;
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

    /// Whether a retired slot's allocation is reused. Mutant `no_recycle`: never (a spare taken
    /// is freed instead).
    #[cfg(not(scriptling_kv_loom))]
    #[inline]
    pub(super) fn recycle() -> bool {
        !cfg!(scriptling_kv_mutant = "no_recycle")
    }
}
