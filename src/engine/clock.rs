//! Time, as the store sees it: nanoseconds on a monotonic clock since the store was built.
//!
//! A deadline is a count of nanoseconds since the store's origin ([`Clock`]), in 63 bits (the
//! entry's deadline word keeps a seal bit beside it, `engine::entry`). [`NEVER`] (`2^63 - 1`) means "no
//! expiry". A key is expired at time `now` when `deadline <= now`: a TTL of `d` set at `t` is live
//! during `[t, t + d)` and gone from `t + d` on. Deadlines, and the clock itself, saturate at
//! `NEVER - 1` (about 292 years), so a huge TTL never wraps into the past.
//!
//! # Precision
//!
//! Nanoseconds, read from the clock at the instant of each decision that needs it: a key with a
//! TTL expires at its deadline exactly, for every operation (`engine::entry`, "The liveness rule").
//! Only operations on keys that have a deadline read the clock; a key without one never does.
//!
//! The real clock is [`std::time::Instant`], which is monotonic; wall-clock jumps do not move
//! deadlines. The test clock is a shared counter that tests advance by hand (feature `test-util`).

use std::time::{Duration, Instant};

#[cfg(any(feature = "test-util", test))]
use crate::engine::sync::{Arc, AtomicU64, Ordering};

/// The deadline of a key without a TTL.
pub(crate) const NEVER: u64 = u64::MAX >> 1;

/// Where the store reads the time from.
#[derive(Debug, Clone)]
pub(crate) enum Clock {
    /// A monotonic clock; the store's origin is the instant it was built.
    Real(Instant),
    /// A hand-advanced clock shared with a [`TestClock`].
    #[cfg(any(feature = "test-util", test))]
    Test(Arc<AtomicU64>),
}

impl Clock {
    /// A real clock whose origin is now.
    pub(crate) fn real() -> Self {
        Clock::Real(Instant::now())
    }

    /// Nanoseconds since the origin.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            // 2^63 ns is 292 years of uptime; saturate rather than wrap all the same.
            Clock::Real(origin) => {
                u64::try_from(origin.elapsed().as_nanos()).map_or(NEVER - 1, |n| n.min(NEVER - 1))
            }
            #[cfg(any(feature = "test-util", test))]
            Clock::Test(t) => t.load(Ordering::SeqCst),
        }
    }

    /// The deadline of a nonzero TTL of `ttl` starting at `now`, saturating below [`NEVER`].
    /// (A zero TTL is "expired at once" and never becomes a deadline: the write engine turns
    /// it into a removal, `engine::write`, [`Deadline::Gone`](crate::engine::write::Deadline::Gone).)
    #[inline]
    pub(crate) fn deadline_after(now: u64, ttl: Duration) -> u64 {
        let ttl = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
        // At least 1 ns so that a live key always has a deadline strictly after `now`.
        now.saturating_add(ttl.max(1)).min(NEVER - 1)
    }
}

/// A clock that only moves when a test advances it, for deterministic TTL tests.
///
/// Build a store on it with [`StoreBuilder::test_clock`](crate::StoreBuilder::test_clock); every
/// clone of a `TestClock` shares one time. It starts at zero and never goes backwards.
///
/// ```
/// use std::time::Duration;
/// use scriptling_kv::{Store, TestClock, Ttl};
///
/// let clock = TestClock::new();
/// let store = Store::builder().test_clock(clock.clone()).background_cleanup(false).build();
/// store.set_with_ttl("session", "bob", Duration::from_secs(10));
/// clock.advance(Duration::from_secs(9));
/// assert_eq!(store.ttl("session"), Ttl::Expires(Duration::from_secs(1)));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(store.get("session"), None);
/// assert_eq!(store.purge_expired(), 1);
/// ```
#[cfg(any(feature = "test-util", test))]
#[derive(Debug, Clone, Default)]
pub struct TestClock {
    nanos: Arc<AtomicU64>,
}

#[cfg(any(feature = "test-util", test))]
impl TestClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (saturating at about 292 years).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let mut cur = self.nanos.load(Ordering::SeqCst);
        loop {
            let next = cur.saturating_add(by).min(NEVER - 1);
            match self
                .nanos
                .compare_exchange(cur, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Time elapsed since the clock was made (the sum of every `advance`).
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }

    pub(crate) fn clock(&self) -> Clock {
        Clock::Test(self.nanos.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_ttl_is_never_and_huge_ttls_saturate() {
        assert_eq!(Clock::deadline_after(5, Duration::MAX), NEVER - 1);
        assert_eq!(
            Clock::deadline_after(NEVER - 3, Duration::from_secs(1)),
            NEVER - 1
        );
        assert_eq!(Clock::deadline_after(5, Duration::from_nanos(1)), 6);
        assert_eq!(
            Clock::deadline_after(5, Duration::from_secs(2)),
            2_000_000_005
        );
    }

    #[test]
    fn test_clock_moves_only_when_advanced() {
        let t = TestClock::new();
        let c = t.clock();
        assert_eq!(c.now(), 0);
        t.advance(Duration::from_millis(3));
        assert_eq!(c.now(), 3_000_000);
        t.advance(Duration::MAX);
        assert_eq!(c.now(), NEVER - 1);
        assert_eq!(t.elapsed(), Duration::from_nanos(NEVER - 1));
    }

    #[test]
    fn real_clock_is_monotonic() {
        let c = Clock::real();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
    }
}
