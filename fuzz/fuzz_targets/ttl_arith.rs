//! `ttl_arith`: arbitrary `Duration`s (from 1 ns to `Duration::MAX`) through `set_with_ttl`,
//! `expire`, `incr`, `ttl`, `Ttl::as_secs` and clock advances, on one key.
//!
//! Checked, with the model's arithmetic done in `u128` so it cannot overflow:
//! - nothing panics, however large the durations or the clock;
//! - the clock moves by what was advanced, saturating at `2^63 - 2` ns, about 292 years (clock.rs docs);
//! - a TTL `d` set at `now` gives the deadline `min(now + d, 2^63 - 2)` (deadlines saturate
//!   at about 292 years, as documented); a zero TTL is expired at once: the key is gone (removed,
//!   not left for the purge); the key is live while `deadline > now`;
//! - `ttl` reports exactly `deadline - now`, never more than the TTL last set, never zero;
//!   `get`/`exists` agree with it; `incr` keeps the TTL;
//! - `Ttl::as_secs` rounds up (`ceil(ns / 1e9)`, saturating at `i64::MAX`), on the store's
//!   answers and on arbitrary `Ttl::Expires` values.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scriptling_kv::{Store, TestClock, Ttl, Value};

/// Where deadlines and the test clock saturate.
const SATURATED: u128 = (u64::MAX >> 1) as u128 - 1;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Dur {
    /// Any `Duration` at all.
    Any(u64, u32),
    /// Small, around the tick length (2^20 ns) and second boundaries.
    Small(u32),
    /// `2^k ± 1` ns.
    Pow2(u8, i8),
    Max,
}

impl Dur {
    fn duration(self) -> Duration {
        match self {
            Dur::Any(s, n) => Duration::new(s, n % 1_000_000_000),
            Dur::Small(n) => Duration::from_nanos(u64::from(n)),
            Dur::Pow2(k, off) => {
                let base = 1u64 << (k % 64);
                Duration::from_nanos(base.saturating_add_signed(i64::from(off.signum())))
            }
            Dur::Max => Duration::MAX,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Step {
    Set(Dur),
    Expire(Dur),
    Persist,
    Incr(i8),
    Advance(Dur),
    AsSecs(Dur),
}

fn ceil_secs(d: Duration) -> i64 {
    i64::try_from(d.as_nanos().div_ceil(1_000_000_000)).unwrap_or(i64::MAX)
}

/// The one key's state in the model: held value and deadline (`None`: no TTL).
#[derive(Debug)]
struct Model {
    now: u128,
    key: Option<(i64, Option<u128>)>,
    /// The TTL most recently set on the key (set or expire), for the "never more" check.
    last_ttl: Option<Duration>,
}

impl Model {
    /// The key holding `v` with a TTL of `ttl` from now: a zero TTL removes it.
    fn with_ttl(&self, v: i64, ttl: Duration) -> Option<(i64, Option<u128>)> {
        (!ttl.is_zero()).then(|| (v, Some((self.now + ttl.as_nanos()).min(SATURATED))))
    }

    fn live(&self) -> Option<(i64, Option<u128>)> {
        self.key.filter(|(_, d)| d.is_none_or(|d| d > self.now))
    }
}

fuzz_target!(|steps: Vec<Step>| {
    let clock = TestClock::new();
    let store = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build();
    let mut model = Model {
        now: 0,
        key: None,
        last_ttl: None,
    };
    for step in steps.iter().take(64) {
        match *step {
            Step::Set(d) => {
                let d = d.duration();
                store.set_with_ttl("k", 1, d);
                model.key = model.with_ttl(1, d);
                model.last_ttl = Some(d);
            }
            Step::Expire(d) => {
                let d = d.duration();
                let was_live = model.live();
                assert_eq!(
                    store.expire("k", d),
                    was_live.is_some(),
                    "expire({d:?}) in {model:?}"
                );
                if let Some((v, _)) = was_live {
                    model.key = model.with_ttl(v, d);
                    model.last_ttl = Some(d);
                }
            }
            Step::Persist => {
                let want = matches!(model.live(), Some((_, Some(_))));
                assert_eq!(store.persist("k"), want, "persist in {model:?}");
                if let (true, Some((v, _))) = (want, model.key) {
                    model.key = Some((v, None));
                }
            }
            Step::Incr(delta) => {
                let delta = i64::from(delta);
                let want = match model.live() {
                    Some((v, d)) => (v + delta, d),
                    None => {
                        model.last_ttl = None;
                        (delta, None)
                    }
                };
                assert_eq!(store.incr("k", delta), Ok(want.0), "incr in {model:?}");
                model.key = Some(want);
            }
            Step::Advance(d) => {
                let d = d.duration();
                clock.advance(d);
                model.now = (model.now + d.as_nanos()).min(SATURATED);
            }
            Step::AsSecs(d) => {
                let d = d.duration();
                assert_eq!(Ttl::Expires(d).as_secs(), ceil_secs(d), "as_secs of {d:?}");
            }
        }

        assert_eq!(clock.elapsed().as_nanos(), model.now, "clock");
        let ttl = store.ttl("k");
        match model.live() {
            None => {
                assert_eq!(ttl, Ttl::Missing, "{model:?}");
                assert_eq!(ttl.as_secs(), -2);
                assert_eq!(store.get("k"), None);
                assert!(!store.exists("k"));
            }
            Some((v, None)) => {
                assert_eq!(ttl, Ttl::Persistent, "{model:?}");
                assert_eq!(ttl.as_secs(), -1);
                assert_eq!(store.get("k"), Some(Value::Int(v)));
            }
            Some((v, Some(deadline))) => {
                let remaining = Duration::from_nanos(
                    u64::try_from(deadline - model.now).expect("deadlines fit in u64"),
                );
                assert_eq!(ttl, Ttl::Expires(remaining), "{model:?}");
                assert!(!remaining.is_zero(), "a live key never has zero TTL");
                if let Some(set) = model.last_ttl {
                    assert!(
                        remaining <= set,
                        "ttl {remaining:?} exceeds the TTL set, {set:?}"
                    );
                }
                assert_eq!(ttl.as_secs(), ceil_secs(remaining));
                assert!(ttl.as_secs() >= 1);
                assert_eq!(store.get("k"), Some(Value::Int(v)));
                assert!(store.exists("k"));
            }
        }
    }
    // Purging at the end removes the key exactly when it has expired.
    let expired = model.key.is_some() && model.live().is_none();
    assert_eq!(
        store.purge_expired(),
        usize::from(expired),
        "final purge in {model:?}"
    );
});
