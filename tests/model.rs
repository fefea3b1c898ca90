//! Differential test: random operation sequences applied to a `Store` on a `TestClock` and to a
//! plain sequential model of the contract (the crate docs), compared after every step.
//!
//! The model is written here from the contract, not from the crate: a `BTreeMap` from key to
//! `(value, deadline)` plus its own clock in nanoseconds, and its own glob matcher. It also tracks
//! which expired keys the store still *holds* (they count in `len` until a purge removes them, or
//! a `delete`, `clear` or write replaces them), so `len` and the count `purge_expired` returns are
//! checked exactly, not just bounded.
//!
//! Clock moves are biased to land on and around tick (2^20 ns), wheel-slot and wheel-level
//! boundaries, and on and around the deadlines of the keys the model holds.
//!
//! `PROPTEST_CASES` overrides the number of cases (default 512).

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use scriptling_kv::{Error, Store, TestClock, Ttl, Value};

/// Nanoseconds per wheel tick.
const TICK: u64 = 1 << 20;
/// Deadlines (and the clock) saturate here, about 292 years (`2^63 - 1` itself means "no
/// expiry" inside the store).
const MAX_DEADLINE: u128 = (u64::MAX >> 1) as u128 - 1;

/// The keys every operation draws from: a few with glob metacharacters, a non-ASCII one, and one
/// longer than the 30 bytes the store keeps inline (so both key representations are compared).
const KEYS: &[&str] = &[
    "a",
    "ab",
    "user:1",
    "user:22",
    "*star",
    "[br]",
    "é",
    "user:333:a-key-longer-than-thirty-bytes",
];

/// Patterns for `keys`: wildcards, classes, negations, a reversed range, escapes, and malformed
/// ones (unclosed `[`, trailing `\`). None depends on the corners the contract leaves open.
const PATTERNS: &[&str] = &[
    "*",
    "a*",
    "?",
    "??",
    "user:?",
    "user:*",
    "*:*",
    "\\*star",
    "*star",
    "[ab]*",
    "[^a]*",
    "\\[br\\]",
    "[[]br]",
    "[z-a]*",
    "user:[0-9]",
    "user:[0-9]*",
    "*\\]",
    "[*]*",
    "é",
    "?b",
    "a\\b",
    "!*",
    "[",
    "user:[",
    "abc\\",
    "[a-",
    "[\\",
    "a[b\\]",
];

/// Wheel-relevant tick counts: one tick, each level's first slot, and the overflow.
const BOUNDARY_TICKS: &[u64] = &[
    1,
    2,
    63,
    64,
    65,
    64 * 64 - 1,
    64 * 64,
    64 * 64 + 1,
    64 * 64 * 64,
    64 * 64 * 64 * 64,
    64 * 64 * 64 * 64 * 64,
    64 * 64 * 64 * 64 * 64 * 64,
    64 * 64 * 64 * 64 * 64 * 64 + 1,
];

/// Clock jumps stay below this so that 60 of them never approach the clock's saturation point.
const MAX_JUMP: u64 = 1 << 57;

#[derive(Debug, Clone)]
enum Op {
    Set(usize, Value),
    SetWithTtl(usize, Value, Duration),
    Get(usize),
    GetOr(usize, Value),
    GetWith(usize),
    Delete(usize),
    Incr(usize, i64),
    Keys(usize),
    Exists(usize),
    Ttl(usize),
    Expire(usize, Duration),
    Persist(usize),
    Clear,
    Len,
    Purge,
    /// Move the clock forward by this much.
    Advance(Duration),
    /// Move the clock to the next multiple of `64^level` ticks, plus `offset` ns.
    AdvanceToBoundary {
        level: u32,
        offset: i8,
    },
    /// Move the clock to the key's deadline plus `offset` ns (if it has one ahead, not too far).
    AdvanceToDeadline {
        key: usize,
        offset: i8,
    },
}

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

fn boundary_duration(max_ticks: u64) -> impl Strategy<Value = Duration> {
    let ticks: Vec<u64> = BOUNDARY_TICKS
        .iter()
        .copied()
        .filter(|&t| t <= max_ticks)
        .collect();
    (prop::sample::select(ticks), -1i64..=1)
        .prop_map(|(t, off)| ns((t * TICK).saturating_add_signed(off)))
}

fn ttl_strategy() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1 => Just(Duration::ZERO),
        1 => Just(Duration::MAX),
        2 => (1u64..2_000).prop_map(ns),
        3 => (1u64..200 * TICK).prop_map(ns),
        3 => boundary_duration(u64::MAX),
        2 => (1u64..=5 * 3_600_000_000_000).prop_map(ns),
    ]
}

fn advance_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..2_000).prop_map(|n| Op::Advance(ns(n))),
        4 => (0u64..=3 * TICK).prop_map(|n| Op::Advance(ns(n))),
        3 => boundary_duration(64 * 64 * 64).prop_map(Op::Advance),
        1 => boundary_duration(64 * 64 * 64 * 64 * 64).prop_map(Op::Advance),
        1 => (0u64..=3 * 86_400_000_000_000).prop_map(|n| Op::Advance(ns(n))),
        1 => prop::sample::select(vec![64u64.pow(6), 64u64.pow(6) + 1])
            .prop_map(|t| Op::Advance(ns(t * TICK))),
        3 => (0u32..=5, -1i8..=1)
            .prop_map(|(level, offset)| Op::AdvanceToBoundary { level, offset }),
        6 => (0..3usize, -1i8..=1).prop_map(|(key, offset)| Op::AdvanceToDeadline { key, offset }),
    ]
}

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => (-5i64..5).prop_map(Value::Int),
        2 => prop::sample::select(vec![i64::MAX, i64::MAX - 1, i64::MIN, i64::MIN + 1])
            .prop_map(Value::Int),
        1 => (-1e3f64..1e3).prop_map(Value::Float),
        1 => "[a-z]{0,3}".prop_map(Value::Str),
        1 => prop::collection::vec(any::<u8>(), 0..3).prop_map(Value::Bytes),
        1 => prop::collection::vec((-3i64..3).prop_map(Value::Int), 0..3).prop_map(Value::List),
        1 => prop::collection::btree_map("[a-c]", (-3i64..3).prop_map(Value::Int), 0..3)
            .prop_map(Value::Dict),
    ]
}

fn delta_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -3i64..=3,
        1 => prop::sample::select(vec![i64::MAX, i64::MAX - 1, i64::MIN, i64::MIN + 1]),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    // Most operations hit three hot keys, so that they meet each other's writes.
    let key = || prop_oneof![3 => 0..3usize, 1 => 0..KEYS.len()];
    prop_oneof![
        4 => (key(), value_strategy()).prop_map(|(k, v)| Op::Set(k, v)),
        10 => (key(), value_strategy(), ttl_strategy()).prop_map(|(k, v, t)| Op::SetWithTtl(k, v, t)),
        3 => key().prop_map(Op::Get),
        1 => (key(), value_strategy()).prop_map(|(k, v)| Op::GetOr(k, v)),
        1 => key().prop_map(Op::GetWith),
        2 => key().prop_map(Op::Delete),
        5 => (key(), delta_strategy()).prop_map(|(k, d)| Op::Incr(k, d)),
        2 => (0..PATTERNS.len()).prop_map(Op::Keys),
        2 => key().prop_map(Op::Exists),
        3 => key().prop_map(Op::Ttl),
        4 => (key(), ttl_strategy()).prop_map(|(k, t)| Op::Expire(k, t)),
        2 => key().prop_map(Op::Persist),
        1 => Just(Op::Clear),
        1 => Just(Op::Len),
        5 => Just(Op::Purge),
        10 => advance_strategy(),
    ]
}

// ---------------------------------------------------------------------------------------------
// The model's glob matcher (the contract's "Glob patterns" section).

#[derive(Debug)]
enum Tok {
    Lit(char),
    One,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Parses a pattern; `None` if malformed (a `[` without its `]`, a trailing lone `\`).
fn glob_compile(pattern: &str) -> Option<Vec<Tok>> {
    let cs: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    // One possibly escaped character at `i`, advancing `i`; `None` if the input ends.
    let take = |i: &mut usize| -> Option<char> {
        let c = *cs.get(*i)?;
        if c == '\\' {
            let e = *cs.get(*i + 1)?;
            *i += 2;
            Some(e)
        } else {
            *i += 1;
            Some(c)
        }
    };
    while i < cs.len() {
        match cs[i] {
            '*' => {
                toks.push(Tok::Star);
                i += 1;
            }
            '?' => {
                toks.push(Tok::One);
                i += 1;
            }
            '[' => {
                i += 1;
                let negated = cs.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    match cs.get(i) {
                        None => return None,
                        Some(']') => {
                            i += 1;
                            break;
                        }
                        Some(_) => {}
                    }
                    let lo = take(&mut i)?;
                    if cs.get(i) == Some(&'-') && cs.get(i + 1).is_some_and(|&c| c != ']') {
                        i += 1;
                        let hi = take(&mut i)?;
                        ranges.push((lo.min(hi), lo.max(hi)));
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                toks.push(Tok::Class { negated, ranges });
            }
            _ => toks.push(Tok::Lit(take(&mut i)?)),
        }
    }
    Some(toks)
}

fn glob_match(toks: &[Tok], key: &[char]) -> bool {
    match toks.split_first() {
        None => key.is_empty(),
        Some((Tok::Star, rest)) => (0..=key.len()).any(|skip| glob_match(rest, &key[skip..])),
        Some((tok, rest)) => {
            let Some((&c, key_rest)) = key.split_first() else {
                return false;
            };
            let ok = match tok {
                Tok::Lit(l) => *l == c,
                Tok::One => true,
                Tok::Class { negated, ranges } => {
                    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                }
                Tok::Star => unreachable!(),
            };
            ok && glob_match(rest, key_rest)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The model.

#[derive(Debug, Default)]
struct Model {
    /// Nanoseconds since the start, as the store's clock.
    now: u128,
    /// Every key the store holds, expired or not: value and deadline (`None`: no expiry).
    held: BTreeMap<String, (Value, Option<u128>)>,
}

impl Model {
    fn deadline(&self, ttl: Duration) -> Option<u128> {
        if ttl.is_zero() {
            None
        } else {
            Some((self.now + ttl.as_nanos()).min(MAX_DEADLINE))
        }
    }

    fn is_live(&self, deadline: Option<u128>) -> bool {
        deadline.is_none_or(|d| d > self.now)
    }

    fn live(&self, key: &str) -> Option<&(Value, Option<u128>)> {
        self.held.get(key).filter(|(_, d)| self.is_live(*d))
    }

    fn expired_held(&self) -> usize {
        self.held
            .values()
            .filter(|(_, d)| !self.is_live(*d))
            .count()
    }

    fn advance(&mut self, by: u128) {
        self.now = (self.now + by).min(MAX_DEADLINE);
    }

    fn set(&mut self, key: &str, value: Value, deadline: Option<u128>) {
        self.held.insert(key.to_owned(), (value, deadline));
    }

    fn delete(&mut self, key: &str) -> bool {
        let live = self.live(key).is_some();
        self.held.remove(key);
        live
    }

    fn incr(&mut self, key: &str, delta: i64) -> Result<i64, Error> {
        match self.live(key).cloned() {
            None => {
                self.set(key, Value::Int(delta), None);
                Ok(delta)
            }
            Some((Value::Int(n), deadline)) => {
                let sum = n.checked_add(delta).ok_or(Error::Overflow)?;
                self.set(key, Value::Int(sum), deadline);
                Ok(sum)
            }
            Some(_) => Err(Error::NotAnInteger),
        }
    }

    fn keys(&self, pattern: &str) -> Option<Vec<String>> {
        let toks = glob_compile(pattern)?;
        // BTreeMap iteration is already in byte order.
        Some(
            self.held
                .iter()
                .filter(|(k, (_, d))| {
                    self.is_live(*d) && glob_match(&toks, &k.chars().collect::<Vec<_>>())
                })
                .map(|(k, _)| k.clone())
                .collect(),
        )
    }

    fn ttl(&self, key: &str) -> Ttl {
        match self.live(key) {
            None => Ttl::Missing,
            Some((_, None)) => Ttl::Persistent,
            Some((_, Some(d))) => Ttl::Expires(Duration::from_nanos(
                u64::try_from(d - self.now).expect("deadlines fit in u64"),
            )),
        }
    }

    fn expire(&mut self, key: &str, ttl: Duration) -> bool {
        let deadline = self.deadline(ttl);
        match self.live(key).cloned() {
            None => false,
            Some((v, _)) => {
                self.set(key, v, deadline);
                true
            }
        }
    }

    fn persist(&mut self, key: &str) -> bool {
        match self.live(key).cloned() {
            Some((v, Some(_))) => {
                self.set(key, v, None);
                true
            }
            _ => false,
        }
    }

    fn purge(&mut self) -> usize {
        let before = self.held.len();
        let now = self.now;
        self.held.retain(|_, (_, d)| d.is_none_or(|d| d > now));
        before - self.held.len()
    }

    /// How far to move the clock for a boundary or deadline op (0 if it does not apply).
    fn jump(&self, op: &Op) -> u128 {
        let target = match *op {
            Op::Advance(d) => return d.as_nanos(),
            Op::AdvanceToBoundary { level, offset } => {
                let unit = u128::from(TICK) * 64u128.pow(level);
                (self.now / unit + 1) * unit + u128::try_from(i128::from(offset) + 1).unwrap() - 1
            }
            Op::AdvanceToDeadline { key, offset } => match self.held.get(KEYS[key]) {
                Some((_, Some(d))) => d + u128::try_from(i128::from(offset) + 1).unwrap() - 1,
                _ => return 0,
            },
            _ => unreachable!("not a clock op"),
        };
        if target <= self.now || target - self.now > u128::from(MAX_JUMP) {
            0
        } else {
            target - self.now
        }
    }
}

/// The `Ttl::as_secs` the contract asks for, computed from the model's `Ttl`.
fn secs_rounded_up(ttl: Ttl) -> i64 {
    match ttl {
        Ttl::Missing => -2,
        Ttl::Persistent => -1,
        Ttl::Expires(d) => i64::try_from(d.as_nanos().div_ceil(1_000_000_000)).unwrap(),
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let clock = TestClock::new();
    let store = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build();
    let mut model = Model::default();

    for (step, op) in ops.iter().enumerate() {
        let at = format!("step {step}: {op:?} at t={} ns", model.now);
        match op {
            Op::Set(k, v) => {
                store.set(KEYS[*k], v.clone());
                model.set(KEYS[*k], v.clone(), None);
            }
            Op::SetWithTtl(k, v, ttl) => {
                store.set_with_ttl(KEYS[*k], v.clone(), *ttl);
                let deadline = model.deadline(*ttl);
                model.set(KEYS[*k], v.clone(), deadline);
            }
            Op::Get(k) => {
                let want = model.live(KEYS[*k]).map(|(v, _)| v.clone());
                prop_assert_eq!(store.get(KEYS[*k]), want, "{}", at);
            }
            Op::GetOr(k, default) => {
                let want = model
                    .live(KEYS[*k])
                    .map_or_else(|| default.clone(), |(v, _)| v.clone());
                prop_assert_eq!(store.get_or(KEYS[*k], default.clone()), want, "{}", at);
            }
            Op::GetWith(k) => {
                let want = model.live(KEYS[*k]).map(|(v, _)| format!("{v:?}"));
                prop_assert_eq!(
                    store.get_with(KEYS[*k], |v| format!("{v:?}")),
                    want,
                    "{}",
                    at
                );
            }
            Op::Delete(k) => {
                let want = model.delete(KEYS[*k]);
                prop_assert_eq!(store.delete(KEYS[*k]), want, "{}", at);
            }
            Op::Incr(k, delta) => {
                let want = model.incr(KEYS[*k], *delta);
                prop_assert_eq!(store.incr(KEYS[*k], *delta), want, "{}", at);
            }
            Op::Keys(p) => {
                let pattern = PATTERNS[*p];
                match (store.keys(pattern), model.keys(pattern)) {
                    (Ok(got), Some(want)) => prop_assert_eq!(got, want, "{}", at),
                    (
                        Err(Error::InvalidPattern {
                            pattern: echoed, ..
                        }),
                        None,
                    ) => {
                        prop_assert_eq!(echoed, pattern, "{}", at);
                    }
                    (got, want) => {
                        return Err(TestCaseError::fail(format!(
                            "{at}: keys({pattern:?}) = {got:?}, model says {want:?}"
                        )))
                    }
                }
            }
            Op::Exists(k) => {
                prop_assert_eq!(
                    store.exists(KEYS[*k]),
                    model.live(KEYS[*k]).is_some(),
                    "{}",
                    at
                );
            }
            Op::Ttl(k) => {
                let want = model.ttl(KEYS[*k]);
                let got = store.ttl(KEYS[*k]);
                prop_assert_eq!(got, want, "{}", at);
                prop_assert_eq!(got.as_secs(), secs_rounded_up(want), "{}", at);
            }
            Op::Expire(k, ttl) => {
                let want = model.expire(KEYS[*k], *ttl);
                prop_assert_eq!(store.expire(KEYS[*k], *ttl), want, "{}", at);
            }
            Op::Persist(k) => {
                let want = model.persist(KEYS[*k]);
                prop_assert_eq!(store.persist(KEYS[*k]), want, "{}", at);
            }
            Op::Clear => {
                store.clear();
                model.held.clear();
            }
            Op::Len => {
                prop_assert_eq!(store.len(), model.held.len(), "{}", at);
                prop_assert_eq!(store.is_empty(), model.held.is_empty(), "{}", at);
            }
            Op::Purge => {
                let want = model.purge();
                prop_assert_eq!(store.purge_expired(), want, "{}: purge count", at);
                let live = model.held.len();
                prop_assert_eq!(store.len(), live, "{}: len right after a purge", at);
            }
            Op::Advance(_) | Op::AdvanceToBoundary { .. } | Op::AdvanceToDeadline { .. } => {
                let by = model.jump(op);
                let by_ns = u64::try_from(by).expect("jumps are bounded");
                clock.advance(ns(by_ns));
                model.advance(by);
                prop_assert_eq!(clock.elapsed().as_nanos(), model.now, "{}", at);
            }
        }
        // Held entries (live or expired but not yet purged) are exactly the model's.
        prop_assert_eq!(store.len(), model.held.len(), "{}: len", at);
    }
    // Finally, everything still held is accounted for: live keys listed, expired ones purged.
    let all = model.keys("*").expect("valid pattern");
    prop_assert_eq!(store.keys("*").unwrap(), all);
    let expired = model.expired_held();
    prop_assert_eq!(store.purge_expired(), expired, "final purge");
    prop_assert_eq!(
        store.len(),
        model.held.len() - expired,
        "len after the final purge"
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Failures are printed, minimized, by proptest; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn store_matches_the_sequential_model(ops in prop::collection::vec(op_strategy(), 1..60)) {
        run(&ops)?;
    }
}

/// The model's own glob matcher, checked on the contract's examples, so that a disagreement in
/// the differential test points at the store.
#[test]
fn model_glob_follows_the_contract() {
    let m =
        |p: &str, k: &str| glob_match(&glob_compile(p).unwrap(), &k.chars().collect::<Vec<_>>());
    assert!(m("*", ""));
    assert!(m("*", "a/b:c"));
    assert!(m("?", "é"));
    assert!(!m("?", "ab"));
    assert!(m("[abc]", "b"));
    assert!(!m("[^abc]", "b"));
    assert!(m("[^abc]", "d"));
    assert!(m("[a-z]", "q"));
    assert!(m("[z-a]", "q"));
    assert!(!m("[z-a]", "Q"));
    assert!(m("\\*", "*"));
    assert!(!m("\\*", "a"));
    assert!(m("[\\]]", "]"));
    assert!(m("!a", "!a"));
    assert!(m("a*a*b", "aaab"));
    assert!(!m("a*a*b", "aaa"));
    assert!(m("user:[0-9]*", "user:22"));
    assert!(glob_compile("[").is_none());
    assert!(glob_compile("a\\").is_none());
    assert!(glob_compile("[a\\").is_none());
    assert!(glob_compile("[a-").is_none());
    assert!(glob_compile("a]").is_some());
}
