//! Where the layers read the time: the wall clock by default, a hand-advanced one in tests.
//!
//! The rate limiter's smooth policy (GCRA) and the session store's TTLs are computed from a
//! [`Clock`] reading. Every other deadline is the store's own (a key's TTL), so a test that
//! drives a store built with `StoreBuilder::test_clock` and a [`Clock`] made from the same
//! `TestClock` (a closure: `move || start + clock.elapsed()`) sees one time everywhere.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// A source of wall-clock time. Implemented by [`SystemClock`] and by every
/// `Fn() -> SystemTime + Send + Sync + 'static` closure.
///
/// Replicas sharing one Redis compare readings of their own clocks (a GCRA state written by
/// one is read by another), so their clocks must agree to well under the limiter's emission
/// interval (NTP does).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's wall clock ([`SystemTime::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// A shared clock with a `Debug` that does not need the clock's own.
#[derive(Clone)]
pub(crate) struct SharedClock(pub(crate) Arc<dyn Clock>);

impl SharedClock {
    pub(crate) fn system() -> SharedClock {
        SharedClock(Arc::new(SystemClock))
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.0.now()
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}
