//! The store most tests start from: on a hand-advanced `TestClock`, with no cleaner thread (the
//! test runs the purges it wants). A test binary includes it with
//! `#[path = "support/clocked.rs"] mod clocked;`.

use scriptling_kv::{Store, TestClock};

/// A store on a fresh test clock, without background cleanup, and the clock.
pub(crate) fn clocked() -> (Store, TestClock) {
    let clock = TestClock::new();
    let store = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build();
    (store, clock)
}
