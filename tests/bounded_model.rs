//! The bounds against a sequential model, with caps that cross every internal constant of
//! `evict.rs` (issue #20): `max_keys` of 1, 2, 3, 64 and 1,000, byte caps from below one entry to
//! a megabyte with values of 0 to 100 KB, both policies, and sequences long enough to pass the
//! sampling size (5), the old pop limits (20 and 64) and the queue compaction threshold (twice the
//! table plus 1,024 queue entries), with deletes, `expire` and `persist` moving keys between the
//! queues and a hand-driven clock expiring them.
//!
//! The model holds every key the store holds (live or expired) with its value's size and
//! deadline; the store's removal listener tells it what the store removed during each step, and
//! each removal is checked before it is applied: the store held the key, the cause is right
//! (`Expired` if its deadline had passed), the writer's own key is never the victim, and under
//! `VolatileTtl` a key without a TTL is evicted only while no other held key has one. After every
//! step: `len()` and `bytes_used()` equal the model's (the charge is exact), `len() <= max_keys`,
//! and `bytes_used() <= max_bytes` unless the store holds just one key (a value larger than the
//! cap on its own), and the statistics match.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use scriptling_kv::{Eviction, RemovalCause, Store, TestClock, Value, ENTRY_OVERHEAD};

#[derive(Clone, Debug)]
enum Op {
    Set(usize, usize),
    SetTtl(usize, usize, u64),
    Delete(usize),
    Expire(usize, u64),
    Persist(usize),
    Get(usize),
    Advance(u64),
    Purge,
}

const SIZES: [usize; 7] = [0, 1, 10, 100, 1_000, 10_000, 100_000];

fn op(keys: usize, max_size: usize) -> impl Strategy<Value = Op> {
    let sizes: Vec<usize> = SIZES.iter().copied().filter(|&s| s <= max_size).collect();
    let size = proptest::sample::select(sizes);
    let k = 0..keys;
    prop_oneof![
        6 => (k.clone(), size.clone()).prop_map(|(k, s)| Op::Set(k, s)),
        6 => (k.clone(), size, 1..20u64).prop_map(|(k, s, t)| Op::SetTtl(k, s, t)),
        4 => k.clone().prop_map(Op::Delete),
        2 => (k.clone(), 1..20u64).prop_map(|(k, t)| Op::Expire(k, t)),
        2 => k.clone().prop_map(Op::Persist),
        2 => k.prop_map(Op::Get),
        1 => (1..5u64).prop_map(Op::Advance),
        1 => Just(Op::Purge),
    ]
}

/// Writes and deletes in equal measure over `keys` keys: the table stays small while dead
/// entries pile up in the eviction queues (past the compaction threshold).
fn churn(keys: usize) -> impl Strategy<Value = Op> {
    let k = 0..keys;
    prop_oneof![
        3 => k.clone().prop_map(|k| Op::Set(k, 1)),
        3 => (k.clone(), 1..20u64).prop_map(|(k, t)| Op::SetTtl(k, 1, t)),
        5 => k.clone().prop_map(Op::Delete),
        1 => (k.clone(), 1..20u64).prop_map(|(k, t)| Op::Expire(k, t)),
        1 => k.prop_map(Op::Persist),
    ]
}

fn key(i: usize) -> String {
    format!("k{i}")
}

fn charge(key: &str, size: usize) -> usize {
    ENTRY_OVERHEAD + key.len() + size
}

#[derive(Default)]
struct Model {
    now: u64,
    /// key -> (value size, deadline in seconds).
    held: BTreeMap<String, (usize, Option<u64>)>,
    expired: u64,
    evicted: u64,
}

impl Model {
    fn live(&self, k: &str) -> Option<(usize, Option<u64>)> {
        self.held
            .get(k)
            .copied()
            .filter(|(_, d)| d.is_none_or(|d| d > self.now))
    }

    fn bytes(&self) -> usize {
        self.held.iter().map(|(k, (s, _))| charge(k, *s)).sum()
    }
}

type Heard = Arc<Mutex<Vec<(String, RemovalCause)>>>;

#[derive(Clone, Copy, Debug)]
struct Caps {
    keys: Option<usize>,
    bytes: Option<usize>,
    policy: Eviction,
}

fn run(caps: Caps, ops: &[Op]) -> Result<(), TestCaseError> {
    let clock = TestClock::new();
    let heard: Heard = Arc::default();
    let mut b = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .eviction(caps.policy)
        .removal_listener({
            let heard = heard.clone();
            move |k: &str, _: &Value, c| heard.lock().unwrap().push((k.to_owned(), c))
        });
    if let Some(n) = caps.keys {
        b = b.max_keys(n);
    }
    if let Some(n) = caps.bytes {
        b = b.max_bytes(n);
    }
    let store = b.build();
    let mut m = Model::default();
    for (i, op) in ops.iter().enumerate() {
        let at = format!("step {i}: {op:?} at {} s", m.now);
        let mut own = None;
        match *op {
            Op::Set(k, size) | Op::SetTtl(k, size, _) => {
                let k = key(k);
                let deadline = match *op {
                    Op::SetTtl(_, _, t) => {
                        store.set_with_ttl(&k, "v".repeat(size), Duration::from_secs(t));
                        Some(m.now + t)
                    }
                    _ => {
                        store.set(&k, "v".repeat(size));
                        None
                    }
                };
                m.held.insert(k.clone(), (size, deadline));
                own = Some(k);
            }
            Op::Delete(k) => {
                let k = key(k);
                let want = m.live(&k).is_some();
                prop_assert_eq!(store.delete(&k), want, "{}", at);
                m.held.remove(&k);
            }
            Op::Expire(k, t) => {
                let k = key(k);
                let want = m.live(&k).is_some();
                prop_assert_eq!(store.expire(&k, Duration::from_secs(t)), want, "{}", at);
                if want {
                    m.held.get_mut(&k).unwrap().1 = Some(m.now + t);
                }
            }
            Op::Persist(k) => {
                let k = key(k);
                let want = m.live(&k).is_some_and(|(_, d)| d.is_some());
                prop_assert_eq!(store.persist(&k), want, "{}", at);
                if want {
                    m.held.get_mut(&k).unwrap().1 = None;
                }
            }
            Op::Get(k) => {
                let k = key(k);
                let got = store.get(&k).map(|v| v.as_str().map(str::len));
                prop_assert_eq!(got, m.live(&k).map(|(s, _)| Some(s)), "{}", at);
            }
            Op::Advance(s) => {
                clock.advance(Duration::from_secs(s));
                m.now += s;
            }
            Op::Purge => {
                let expired: Vec<String> = m
                    .held
                    .iter()
                    .filter(|(_, (_, d))| d.is_some_and(|d| d <= m.now))
                    .map(|(k, _)| k.clone())
                    .collect();
                prop_assert_eq!(store.purge_expired(), expired.len(), "{}", at);
                for k in expired {
                    m.held.remove(&k);
                    m.expired += 1;
                }
                heard.lock().unwrap().clear();
            }
        }
        // Mirror (and check) what the store removed on its own during the step.
        let removed = std::mem::take(&mut *heard.lock().unwrap());
        for (k, cause) in removed {
            prop_assert!(
                own.as_deref() != Some(k.as_str()),
                "{}: evicted its own key {}",
                at,
                k
            );
            let Some((_, deadline)) = m.held.get(&k).copied() else {
                return Err(TestCaseError::fail(format!("{at}: removed {k}, not held")));
            };
            let live = deadline.is_none_or(|d| d > m.now);
            let want = if live {
                RemovalCause::Evicted
            } else {
                RemovalCause::Expired
            };
            prop_assert_eq!(cause, want, "{}: cause of removing {}", at, k);
            if deadline.is_none() && caps.policy == Eviction::VolatileTtl {
                let with_ttl: Vec<&String> = m
                    .held
                    .iter()
                    .filter(|(h, (_, d))| d.is_some() && own.as_deref() != Some(h.as_str()))
                    .map(|(h, _)| h)
                    .collect();
                prop_assert!(
                    with_ttl.is_empty(),
                    "{}: evicted {} (no TTL) while {:?} have one",
                    at,
                    k,
                    with_ttl
                );
            }
            m.held.remove(&k);
            if live {
                m.evicted += 1;
            } else {
                m.expired += 1;
            }
        }
        prop_assert_eq!(store.len(), m.held.len(), "{}: len", at);
        prop_assert_eq!(store.bytes_used(), m.bytes(), "{}: bytes_used", at);
        if let Some(n) = caps.keys {
            prop_assert!(
                store.len() <= n,
                "{}: {} keys over max_keys {}",
                at,
                store.len(),
                n
            );
        }
        if let Some(n) = caps.bytes {
            prop_assert!(
                store.bytes_used() <= n || store.len() == 1,
                "{}: {} bytes in {} keys over max_bytes {}",
                at,
                store.bytes_used(),
                store.len(),
                n
            );
        }
        let stats = store.stats();
        prop_assert_eq!(
            (stats.expired, stats.evicted),
            (m.expired, m.evicted),
            "{}",
            at
        );
        prop_assert_eq!(stats.bytes_used, m.bytes() as u64, "{}", at);
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn policy() -> impl Strategy<Value = Eviction> {
    prop_oneof![Just(Eviction::VolatileTtl), Just(Eviction::Lru)]
}

proptest! {
    #![proptest_config(config(64))]

    /// Small key caps, few keys, shortish sequences (shrink well).
    #[test]
    fn small_key_caps_hold_and_keep_the_order(
        cap in prop_oneof![Just(1usize), Just(2), Just(3)],
        policy in policy(),
        ops in prop::collection::vec(op(8, 100), 1..300),
    ) {
        run(Caps { keys: Some(cap), bytes: None, policy }, &ops)?;
    }

    /// Byte caps from below one entry to a megabyte, values of 0 to 100 KB, with and without a
    /// key cap.
    #[test]
    fn byte_caps_hold_and_bytes_used_is_exact(
        bytes in prop_oneof![
            Just(0usize),
            Just(ENTRY_OVERHEAD + 10),
            Just(4 * (ENTRY_OVERHEAD + 1_000)),
            Just(100_000),
            Just(1_000_000),
        ],
        keys in prop_oneof![Just(None), Just(Some(3usize)), Just(Some(64))],
        policy in policy(),
        ops in prop::collection::vec(op(40, 100_000), 1..300),
    ) {
        run(Caps { keys, bytes: Some(bytes), policy }, &ops)?;
    }
}

proptest! {
    #![proptest_config(config(8))]

    /// Caps of 64 and 1,000 keys over sequences of thousands of steps: a churn of writes and
    /// deletes that leaves thousands of dead queue entries (past the compaction threshold), then
    /// writes over 1,500 keys, past the sample size and the old pop limits.
    #[test]
    fn large_key_caps_hold_over_long_sequences(
        cap in prop_oneof![Just(64usize), Just(1_000)],
        policy in policy(),
        churned in prop::collection::vec(churn(10), 8_000..9_000),
        ops in prop::collection::vec(op(1_500, 10), 2_000..4_000),
    ) {
        let all: Vec<Op> = churned.into_iter().chain(ops).collect();
        run(Caps { keys: Some(cap), bytes: None, policy }, &all)?;
    }
}
