//! Model of `clear`'s claim: it removes every key that existed when it began, unless the key is
//! written again concurrently (`clear` is not a snapshot: the checker places its removal of each
//! key independently inside the call).
#![cfg(scriptling_kv_loom)]

mod common;
use common::{check, int, scenario, Op::*};

/// `clear` racing an `incr` of one existing key and the creation of another: `a` must be gone
/// unless the `incr` that recreated it came after `clear` removed it (then it returned `1`), `b`
/// (untouched) must be gone, and `c` is present exactly when its `set` came after `clear` passed
/// it. Mutant `clear_cas_once` (clear kills an entry by a CAS from the slot it loaded and gives
/// up if that fails, instead of an unconditional swap) fails it.
#[test]
fn clear_racing_writes_removes_every_key_not_written_again() {
    check(
        "clear_racing_writes_removes_every_key_not_written_again",
        4,
        scenario(
            &[Set("a", int(5)), Set("b", int(1))],
            &[&[Clear], &[Incr("a", 1), Set("c", int(3))]],
            &[Get("a"), Get("b"), Get("c"), Len],
        ),
    );
}
