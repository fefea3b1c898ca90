//! The mutation hooks of `loom-tests/mutants`: one small named function per protection the loom
//! models must be seen to rely on. Without `--cfg scriptling_kv_mutant="NAME"` each is the
//! correct code (and inlines to it); with it, the named protection is broken.

use crossbeam_epoch::{Atomic, Guard, Owned, Shared};

use crate::engine::entry::slot::Slot;
use crate::engine::sync::Ordering;

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

/// Whether `kill_any` is a load and a store. Mutant `double_retire`.
#[inline]
pub(super) fn kill_by_store() -> bool {
    cfg!(scriptling_kv_mutant = "double_retire")
}
