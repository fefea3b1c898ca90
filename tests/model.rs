//! Differential test: random operation sequences applied to a `Store` on a `TestClock` and to a
//! plain sequential model of the contract (the crate docs and each method's docs), compared after
//! every step.
//!
//! The operations come from the crate's own generators (feature `proptest`:
//! `scriptling_kv::strategy::op`, replayed with `Op::apply`), so the strategies users get are
//! exercised by every test run; this file adds clock moves that depend on the model's state.
//! Every `Store` operation a sequential model can check is covered: the plain ones, the
//! conditional writes (`set_if_absent`, `swap`, `take`, `compare_and_set`,
//! `compare_and_delete`, `incr_with_ttl`, `update`, `compute` with each kind of `Compute`), the
//! single-flight loads (`get_or_insert_with`, `try_get_or_insert_with`, `load_with`,
//! `try_load_with`: single-threaded, a miss loads and stores with the TTL, a hit returns the live
//! value, a failing `try_` stores nothing), and `stats` (the store records them: hits and misses
//! are exact on one thread, `get`, `get_or`, `get_with` and the loads count one per call and
//! nothing else counts; `expired` counts the keys `purge_expired` removed).
//!
//! The model is written here from the contract, not from the crate (and independently of the
//! model in `fuzz/fuzz_targets/ops.rs`, on purpose: two models written apart from the contract
//! do not share a misreading of it, so their similar lines are not to be merged): a `BTreeMap` from key to
//! `(value, deadline)` plus its own clock in nanoseconds, and its own glob matcher. It also tracks
//! which expired keys the store still *holds* (they count in `len` until a purge removes them, or
//! a `delete`, `clear` or write replaces them), so `len` and the count `purge_expired` returns are
//! checked exactly, not just bounded.
//!
//! Clock moves: the generators' advances (sub-tick to days), plus moves to and around tick
//! (2^20 ns), wheel-slot and wheel-level boundaries, and to and around the deadlines of the keys
//! the model holds.
//!
//! The same sequences also run on a store capped at 3 keys (`max_keys`): the model mirrors the
//! removals the store reports to its removal listener after checking each is allowed (the bound
//! after every step, the cause, no key without a TTL evicted while a key with one is held), and
//! everything else is compared as for the unbounded store, `stats().evicted` included.
//!
//! `PROPTEST_CASES` overrides the number of cases (default 512).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use scriptling_kv::ops::{self, Decide, InitFailed, Op, OpResult};
use scriptling_kv::{
    strategy, Compute, Error, Loaded, RemovalCause, Source, Store, TestClock, Ttl, Value,
};

/// Nanoseconds per wheel tick.
const TICK: u64 = 1 << 20;
/// Deadlines (and the clock) saturate here, about 292 years (`2^63 - 1` itself means "no
/// expiry" inside the store).
const MAX_DEADLINE: u128 = (u64::MAX >> 1) as u128 - 1;

/// Clock jumps to a boundary or a deadline stay below this, so that they never approach the
/// clock's saturation point.
const MAX_JUMP: u64 = 1 << 57;

/// One step: an operation from the crate's generator, or a clock move that depends on the state.
#[derive(Debug, Clone)]
enum Step {
    Op(Op),
    /// Move the clock to the next multiple of `64^level` ticks, plus `offset` ns.
    AdvanceToBoundary {
        level: u32,
        offset: i8,
    },
    /// Move the clock to the deadline of `ops::key(key)` plus `offset` ns (if it has one ahead,
    /// not too far).
    AdvanceToDeadline {
        key: usize,
        offset: i8,
    },
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => strategy::op(ops::KEYS.len()).prop_map(Step::Op),
        1 => (0u32..=5, -1i8..=1)
            .prop_map(|(level, offset)| Step::AdvanceToBoundary { level, offset }),
        2 => (0..3usize, -1i8..=1).prop_map(|(key, offset)| Step::AdvanceToDeadline { key, offset }),
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
    /// Reads that found a live value, and reads that did not.
    hits: u64,
    misses: u64,
    /// Keys removed by `purge_expired` (or, in a bounded store, expired keys removed to make
    /// room).
    expired: u64,
    /// Live keys removed to respect `max_keys`.
    evicted: u64,
}

impl Model {
    /// The deadline of a nonzero TTL.
    fn deadline(&self, ttl: Duration) -> Option<u128> {
        assert!(
            !ttl.is_zero(),
            "a zero TTL has no deadline: it is expired at once"
        );
        Some((self.now + ttl.as_nanos()).min(MAX_DEADLINE))
    }

    /// A write of `value` with `ttl` (`None`: no expiry). A zero TTL is expired at once: the value
    /// is never stored, and whatever the store holds for the key (live or expired) is removed, as
    /// `delete` removes it (no expiry counted).
    fn put(&mut self, key: &str, value: Value, ttl: Option<Duration>) {
        match ttl {
            None => self.set(key, value, None),
            Some(ttl) if ttl.is_zero() => {
                self.held.remove(key);
            }
            Some(ttl) => {
                let deadline = self.deadline(ttl);
                self.set(key, value, deadline);
            }
        }
    }

    /// `expire(key, ttl)` on a live key holding `value`: a new deadline, or removed if `ttl` is
    /// zero.
    fn expire_live(&mut self, key: &str, value: Value, ttl: Duration) {
        self.put(key, value, Some(ttl));
    }

    fn is_live(&self, deadline: Option<u128>) -> bool {
        deadline.is_none_or(|d| d > self.now)
    }

    fn live(&self, key: &str) -> Option<(Value, Option<u128>)> {
        self.held
            .get(key)
            .filter(|(_, d)| self.is_live(*d))
            .cloned()
    }

    /// A counted read (`get`, `get_or`, `get_with`, the first look of a load).
    fn read(&mut self, key: &str) -> Option<Value> {
        let found = self.live(key).map(|(v, _)| v);
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// Applies removals the bounded store made to respect its cap during one operation (already
    /// applied to the model), after checking each is allowed.
    fn mirror_evictions(
        &mut self,
        removed: &[(String, RemovalCause)],
        own: Option<&str>,
        at: &str,
    ) -> Result<(), TestCaseError> {
        for (key, cause) in removed {
            prop_assert!(
                own != Some(key.as_str()),
                "{}: the write evicted its own key {:?}",
                at,
                key
            );
            let Some((_, deadline)) = self.held.get(key).cloned() else {
                return Err(TestCaseError::fail(format!(
                    "{at}: the store removed {key:?}, which it does not hold"
                )));
            };
            let live = self.is_live(deadline);
            let want = if live {
                RemovalCause::Evicted
            } else {
                RemovalCause::Expired
            };
            prop_assert_eq!(*cause, want, "{}: the cause of removing {:?}", at, key);
            if deadline.is_none() {
                let with_ttl: Vec<&String> = self
                    .held
                    .iter()
                    .filter(|(k, (_, d))| d.is_some() && own != Some(k.as_str()))
                    .map(|(k, _)| k)
                    .collect();
                prop_assert!(
                    with_ttl.is_empty(),
                    "{}: evicted {:?}, which has no TTL, while {:?} have one",
                    at,
                    key,
                    with_ttl
                );
            }
            self.held.remove(key);
            if live {
                self.evicted += 1;
            } else {
                self.expired += 1;
            }
        }
        Ok(())
    }

    fn remaining(&self, deadline: Option<u128>) -> Option<Duration> {
        deadline.map(|d| Duration::from_nanos(u64::try_from(d - self.now).expect("fits u64")))
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

    fn incr(&mut self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, Error> {
        match self.live(key) {
            None => {
                self.put(key, Value::Int(delta), ttl);
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
            Some((_, d)) => Ttl::Expires(self.remaining(d).unwrap()),
        }
    }

    fn purge(&mut self) -> usize {
        let before = self.held.len();
        let now = self.now;
        self.held.retain(|_, (_, d)| d.is_none_or(|d| d > now));
        let removed = before - self.held.len();
        self.expired += removed as u64;
        removed
    }

    /// A single-flight load: a hit returns the live value; a miss runs `init` (`None`: it
    /// fails, nothing is stored) and stores its value with `ttl`.
    fn load(
        &mut self,
        key: &str,
        ttl: Option<Duration>,
        init: Option<&Value>,
    ) -> Result<Loaded, InitFailed> {
        if let Some(value) = self.read(key) {
            return Ok(Loaded {
                value,
                source: Source::Hit,
            });
        }
        let value = init.cloned().ok_or(InitFailed)?;
        self.put(key, value.clone(), ttl);
        Ok(Loaded {
            value,
            source: Source::Loaded,
        })
    }

    /// `compute`: what its closure sees, and the write the decision asks for.
    fn compute(&mut self, key: &str, decide: &Decide) -> Option<(Value, Option<Duration>)> {
        let live = self.live(key);
        let seen = live.clone().map(|(v, d)| (v, self.remaining(d)));
        match decide.decide(seen.as_ref().map(|(v, ttl)| (v, *ttl))) {
            Compute::Keep => {}
            // Keeps the TTL of a live key; a key that was not live gets none.
            Compute::Put(v) => {
                let deadline = live.and_then(|(_, d)| d);
                self.set(key, v, deadline);
            }
            Compute::PutWithTtl(v, ttl) => self.put(key, v, ttl),
            Compute::Expire(ttl) => {
                if let Some((v, _)) = live {
                    self.expire_live(key, v, ttl);
                }
            }
            Compute::Persist => {
                if let Some((v, _)) = live {
                    self.set(key, v, None);
                }
            }
            // As `delete`: an expired key the store still holds is removed too.
            Compute::Delete => {
                self.held.remove(key);
            }
            other => panic!("a decision the model does not know: {other:?}"),
        }
        seen
    }

    /// What the contract says `op` returns, with its effect on the model.
    fn apply(&mut self, op: &Op) -> OpResult {
        use OpResult as R;
        match op {
            Op::Set { key, value } => {
                self.set(key, value.clone(), None);
                R::Unit
            }
            Op::SetWithTtl { key, value, ttl } => {
                self.put(key, value.clone(), Some(*ttl));
                R::Unit
            }
            Op::Get { key } | Op::GetWith { key } => R::Found(self.read(key)),
            Op::GetOr { key, default } => R::Value(self.read(key).unwrap_or(default.clone())),
            Op::Delete { key } => {
                let live = self.live(key).is_some();
                self.held.remove(key);
                R::Bool(live)
            }
            Op::Incr { key, delta } => R::Int(self.incr(key, *delta, None)),
            Op::IncrWithTtl { key, delta, ttl } => R::Int(self.incr(key, *delta, Some(*ttl))),
            Op::Keys { pattern } => R::Keys(match self.keys(pattern) {
                Some(keys) => Ok(keys),
                // The reason is the store's wording; the run compares the echoed pattern.
                None => Err(Error::InvalidPattern {
                    pattern: pattern.clone(),
                    reason: String::new(),
                }),
            }),
            Op::Exists { key } => R::Bool(self.live(key).is_some()),
            Op::Ttl { key } => R::Ttl(self.ttl(key)),
            Op::Expire { key, ttl } => R::Bool(match self.live(key) {
                None => false,
                Some((v, _)) => {
                    self.expire_live(key, v, *ttl);
                    true
                }
            }),
            // A counted read, and on a live key the `expire` above.
            Op::GetAndExpire { key, ttl } => R::Found(self.read(key).inspect(|v| {
                self.expire_live(key, v.clone(), *ttl);
            })),
            Op::Persist { key } => R::Bool(match self.live(key) {
                Some((v, Some(_))) => {
                    self.set(key, v, None);
                    true
                }
                _ => false,
            }),
            Op::Clear => {
                self.held.clear();
                R::Unit
            }
            Op::Len => R::Count(self.held.len()),
            Op::IsEmpty => R::Bool(self.held.is_empty()),
            Op::PurgeExpired => R::Count(self.purge()),
            Op::SetIfAbsent { key, value, ttl } => R::Bool(match self.live(key) {
                Some(_) => false,
                None => {
                    self.put(key, value.clone(), *ttl);
                    true
                }
            }),
            Op::Swap { key, value, ttl } => {
                let old = self.live(key).map(|(v, _)| v);
                self.put(key, value.clone(), *ttl);
                R::Found(old)
            }
            Op::Take { key } => R::Found(self.live(key).map(|(v, _)| {
                self.held.remove(key);
                v
            })),
            // `Value`'s `==`, as the store compares: a NaN never matches.
            Op::CompareAndSet { key, expected, new } => R::Bool(match self.live(key) {
                Some((v, deadline)) if v == *expected => {
                    self.set(key, new.clone(), deadline);
                    true
                }
                _ => false,
            }),
            Op::CompareAndDelete { key, expected } => R::Bool(match self.live(key) {
                Some((v, _)) if v == *expected => {
                    self.held.remove(key);
                    true
                }
                _ => false,
            }),
            Op::Update { key, update } => R::Found(self.live(key).map(|(v, deadline)| {
                let new = update.apply(&v);
                self.set(key, new.clone(), deadline);
                new
            })),
            Op::Compute { key, decide } => R::Computed(self.compute(key, decide)),
            Op::GetOrInsertWith { key, ttl, value } => {
                R::Value(self.load(key, *ttl, Some(value)).unwrap().value)
            }
            Op::TryGetOrInsertWith { key, ttl, value } => {
                R::Tried(self.load(key, *ttl, value.as_ref()).map(|l| l.value))
            }
            Op::LoadWith { key, ttl, value } => {
                R::Loaded(self.load(key, *ttl, Some(value)).unwrap())
            }
            Op::TryLoadWith { key, ttl, value } => {
                R::TryLoaded(self.load(key, *ttl, value.as_ref()))
            }
            // Checked field by field by `run` (`Stats` cannot be built outside the crate).
            Op::Stats => R::Unit,
            Op::Advance(by) => {
                self.advance(by.as_nanos());
                R::Unit
            }
            other => panic!("an operation the model does not know: {other:?}"),
        }
    }

    /// How far to move the clock for a boundary or deadline step (0 if it does not apply).
    fn jump(&self, step: &Step) -> u128 {
        let target = match *step {
            Step::AdvanceToBoundary { level, offset } => {
                let unit = u128::from(TICK) * 64u128.pow(level);
                (self.now / unit + 1) * unit + u128::try_from(i128::from(offset) + 1).unwrap() - 1
            }
            Step::AdvanceToDeadline { key, offset } => match self.held.get(&ops::key(key)) {
                Some((_, Some(d))) => d + u128::try_from(i128::from(offset) + 1).unwrap() - 1,
                _ => return 0,
            },
            Step::Op(_) => unreachable!("not a clock move"),
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

/// Compares the store's stats with the model's counts.
fn check_stats(store: &Store, model: &Model, at: &str) -> Result<(), TestCaseError> {
    let stats = store.stats();
    prop_assert_eq!(
        (stats.hits, stats.misses, stats.expired, stats.evicted),
        (model.hits, model.misses, model.expired, model.evicted),
        "{}: stats (hits, misses, expired, evicted)",
        at
    );
    Ok(())
}

/// What the removal listener of the store under test heard: key and cause, in order.
type Heard = Arc<Mutex<Vec<(String, RemovalCause)>>>;

/// Runs `steps` on a store and on the model, comparing after every step. With `max_keys`, the
/// store is bounded: the model has no eviction policy of its own, so it mirrors the removals the
/// store reports to its listener, after checking that each is allowed: the bound holds after
/// every step, an expired key removed to make room is reported `Expired`, the key the operation
/// writes is never its victim, and a key without a TTL is evicted only when no key with a TTL is
/// held other than that key (the contract's exact part of the order;
/// among keys with a TTL the choice is a sample). Everything else (every result, `len`, the
/// stats) is then compared exactly as for an unbounded store.
fn run(steps: &[Step], max_keys: Option<usize>) -> Result<(), TestCaseError> {
    let clock = TestClock::new();
    let heard: Heard = Arc::default();
    let mut builder = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .record_stats(true);
    if let Some(n) = max_keys {
        let heard = heard.clone();
        builder = builder.max_keys(n).removal_listener(
            move |key: &str, _: &Value, cause: RemovalCause| {
                heard.lock().unwrap().push((key.to_owned(), cause));
            },
        );
    }
    let store = builder.build();
    let mut model = Model::default();

    for (i, step) in steps.iter().enumerate() {
        let at = format!("step {i}: {step:?} at t={} ns", model.now);
        let op = match step {
            Step::Op(op) => op,
            Step::AdvanceToBoundary { .. } | Step::AdvanceToDeadline { .. } => {
                let by = model.jump(step);
                let by_ns = u64::try_from(by).expect("jumps are bounded");
                clock.advance(Duration::from_nanos(by_ns));
                model.advance(by);
                prop_assert_eq!(clock.elapsed().as_nanos(), model.now, "{}", at);
                continue;
            }
        };
        let want = model.apply(op);
        let got = op.apply(&store, &clock);
        match (op, &got, &want) {
            // A malformed pattern: the error echoes it (the reason is the store's wording).
            (
                Op::Keys { pattern },
                OpResult::Keys(Err(Error::InvalidPattern {
                    pattern: echoed, ..
                })),
                OpResult::Keys(Err(_)),
            ) => prop_assert_eq!(echoed, pattern, "{}", at),
            (Op::Stats, OpResult::Stats(_), _) => check_stats(&store, &model, &at)?,
            (Op::Ttl { .. }, OpResult::Ttl(ttl), OpResult::Ttl(model_ttl)) => {
                prop_assert_eq!(ttl, model_ttl, "{}", at);
                prop_assert_eq!(ttl.as_secs(), secs_rounded_up(*model_ttl), "{}", at);
            }
            _ => prop_assert_eq!(&got, &want, "{}", at),
        }
        let removed = std::mem::take(&mut *heard.lock().unwrap());
        if let Op::PurgeExpired = op {
            prop_assert!(
                removed.iter().all(|(_, c)| *c == RemovalCause::Expired),
                "{}: a purge reports expirations only: {:?}",
                at,
                removed
            );
            if let (Some(_), OpResult::Count(n)) = (max_keys, &got) {
                prop_assert_eq!(removed.len(), *n, "{}: one call per key purged", at);
            }
        } else {
            model.mirror_evictions(&removed, op.key(), &at)?;
        }
        if let Some(n) = max_keys {
            prop_assert!(
                store.len() <= n,
                "{}: {} keys over the bound {}",
                at,
                store.len(),
                n
            );
        }
        if let Op::PurgeExpired = op {
            prop_assert_eq!(
                store.len(),
                model.held.len(),
                "{}: len right after a purge",
                at
            );
            prop_assert_eq!(model.expired_held(), 0, "{}", at);
        }
        if let Op::Advance(_) = op {
            prop_assert_eq!(clock.elapsed().as_nanos(), model.now, "{}", at);
        }
        // Held entries (live or expired but not yet purged) are exactly the model's, and the
        // counters are exact.
        prop_assert_eq!(store.len(), model.held.len(), "{}: len", at);
        check_stats(&store, &model, &at)?;
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
    prop_assert_eq!(store.stats().expired, model.expired + expired as u64);
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
    fn store_matches_the_sequential_model(steps in prop::collection::vec(step_strategy(), 1..60)) {
        run(&steps, None)?;
    }

    /// The same sequences on a store capped at 1, 2 or 3 keys (of the 9 the operations use, so
    /// most sequences evict; `tests/bounded_model.rs` has the larger caps and the byte caps).
    #[test]
    fn bounded_store_matches_the_model_and_respects_the_cap(
        cap in prop_oneof![Just(1usize), Just(2), Just(3)],
        steps in prop::collection::vec(step_strategy(), 1..60)
    ) {
        run(&steps, Some(cap))?;
    }
}

/// What a generated operation met and did, for [`generated_sequences_reach_every_outcome`]:
/// `kind:state:outcome`, the state being the key's in the model before the operation (`live`,
/// `expired` but still held, `missing`; `-` for operations on no key).
fn outcome(model: &Model, op: &Op, got: &OpResult) -> String {
    let kind = format!("{op:?}");
    let kind = kind.split([' ', '(', '{']).next().unwrap().to_owned();
    let state = match op.key() {
        None => "-",
        Some(key) if model.live(key).is_some() => "live",
        Some(key) if model.held.contains_key(key) => "expired",
        Some(_) => "missing",
    };
    let result = match (op, got) {
        (Op::Compute { key, decide }, _) => {
            let seen = model.live(key).map(|(v, d)| (v, model.remaining(d)));
            let decision = format!("{:?}", decide.decide(seen.as_ref().map(|(v, t)| (v, *t))));
            decision.split(['(', ' ']).next().unwrap().to_owned()
        }
        (_, OpResult::Bool(b)) => b.to_string(),
        (_, OpResult::Found(v)) => if v.is_some() { "some" } else { "none" }.to_owned(),
        (_, OpResult::Int(Ok(_))) => "ok".to_owned(),
        (_, OpResult::Int(Err(e))) => format!("{e:?}"),
        (_, OpResult::Keys(r)) => if r.is_ok() { "ok" } else { "err" }.to_owned(),
        (_, OpResult::Count(n)) => if *n > 0 { "some" } else { "0" }.to_owned(),
        (_, OpResult::Loaded(l)) => format!("{:?}", l.source),
        (_, OpResult::TryLoaded(r)) => r
            .as_ref()
            .map_or("err".into(), |l| format!("{:?}", l.source)),
        (_, OpResult::Tried(r)) => if r.is_ok() { "ok" } else { "err" }.to_owned(),
        (_, OpResult::Ttl(Ttl::Expires(_))) => "expires".to_owned(),
        (_, OpResult::Ttl(t)) => format!("{t:?}"),
        _ => "-".to_owned(),
    };
    format!("{kind}:{state}:{result}")
}

/// The generators (the crate's `strategy::op`, as this file draws them) reach the cases the
/// model distinguishes: keys collide and expire, conditional writes both succeed and fail, every
/// kind of `Compute` is decided on live and on absent keys, loads hit, load and fail.
#[test]
fn generated_sequences_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let sequences = prop::collection::vec(step_strategy(), 1..60);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..600 {
        let steps = sequences.new_tree(&mut runner).unwrap().current();
        let clock = TestClock::new();
        let store = Store::builder()
            .test_clock(clock.clone())
            .background_cleanup(false)
            .build();
        let mut model = Model::default();
        for step in &steps {
            let Step::Op(op) = step else {
                let by = model.jump(step);
                clock.advance(Duration::from_nanos(u64::try_from(by).unwrap()));
                model.advance(by);
                continue;
            };
            let got = op.apply(&store, &clock);
            seen.insert(outcome(&model, op, &got));
            model.apply(op);
        }
    }
    let want = [
        "GetAndExpire:live:some",
        "GetAndExpire:missing:none",
        "GetAndExpire:expired:none",
        "SetIfAbsent:missing:true",
        "SetIfAbsent:expired:true",
        "SetIfAbsent:live:false",
        "Swap:live:some",
        "Swap:expired:none",
        "Take:live:some",
        "Take:expired:none",
        "CompareAndSet:live:true",
        "CompareAndSet:live:false",
        "CompareAndDelete:live:true",
        "CompareAndDelete:live:false",
        "Incr:live:ok",
        "Incr:live:Overflow",
        "Incr:live:NotAnInteger",
        "IncrWithTtl:missing:ok",
        "IncrWithTtl:expired:ok",
        "IncrWithTtl:live:ok",
        "Update:live:some",
        "Update:expired:none",
        "Compute:live:Keep",
        "Compute:live:Put",
        "Compute:expired:Put",
        "Compute:live:PutWithTtl",
        "Compute:live:Expire",
        "Compute:expired:Expire",
        "Compute:live:Delete",
        "Compute:expired:Delete",
        "GetOrInsertWith:live:-",
        "GetOrInsertWith:missing:-",
        "LoadWith:live:Hit",
        "LoadWith:expired:Loaded",
        "TryLoadWith:missing:err",
        "TryLoadWith:live:Hit",
        "TryGetOrInsertWith:missing:err",
        "TryGetOrInsertWith:missing:ok",
        "Get:expired:none",
        "Get:live:some",
        "Expire:live:true",
        "Persist:live:true",
        "Delete:expired:false",
        "PurgeExpired:-:some",
        "Keys:-:err",
        "Keys:-:ok",
        "Ttl:live:expires",
        "Ttl:live:Persistent",
    ];
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|w| !seen.contains(*w))
        .collect();
    assert!(
        missing.is_empty(),
        "never reached: {missing:?}\nreached: {seen:#?}"
    );
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
