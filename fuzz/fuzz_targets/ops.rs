//! `ops`: random operation sequences, with time steps, applied to a real [`Store`] on a
//! [`TestClock`] and to a sequential model written here from the contract (a `BTreeMap` of held
//! keys with deadlines, its own clock, its own glob matcher and hit/miss/expired counters; it
//! never calls the crate). Every result is compared, and after every step the whole observable
//! state (each key's `get` and `ttl`, `len`, `stats`) too.
//! (This model is independent of the one in `tests/model.rs` on purpose: two models written
//! apart from the contract do not share a misreading of it; their similar lines stay apart.)
//!
//! The operations are the crate's own generated ones (`scriptling_kv::ops::Op`, `Arbitrary`
//! with the features `arbitrary` and `test-util`), replayed with `Op::apply`, so the generator
//! users get is fuzzed along: every `Store` operation a sequential model can check, conditional
//! writes (`set_if_absent`, `swap`, `take`, `compare_and_set`, `compare_and_delete`,
//! `incr_with_ttl`, `update`, `compute`) and single-flight loads included, on a small pool of
//! keys (the empty key, a non-ASCII one, glob metacharacters, one longer than the 30 bytes the
//! store keeps inline), with TTLs and clock advances from below a tick of the expiry wheel to
//! minutes, and now and then to centuries (`Duration::MAX` saturates).
//!
//! The model's notion of "held": a key is held from the write that creates it until `delete`,
//! `take`, `compare_and_delete`, a `compute` that deletes, `clear` or a purge removes it. An
//! expired key stays held (and counted by `len`) until then, and a write to it revives it in
//! place. So `purge_expired` must return exactly the number of held keys whose deadline has
//! passed, and afterwards `len` is the number of live keys.
//!
//! Bounds (issue #20): every input runs twice, on an unbounded store and on a bounded one whose
//! caps the input's length picks from [`BOUNDS`] (`max_keys` 1, 2, 3, 64 and 1,000, byte caps
//! from below one entry to a megabyte, alone and combined, both eviction policies). The model has
//! no policy of its own: it mirrors the removals the store reports to its listener after checking
//! each (the key was held, the cause is right, the writer's own key is never the victim, and under
//! `VolatileTtl` a key without a TTL goes only while no other held key has one); after every step
//! `len() <= max_keys`, `bytes_used()` is exactly the sum of the documented charges, and at most
//! `max_bytes` unless a single key is held.
//!
//! Time: the model clock stops advancing at 2^62 ns so nothing reaches the store's documented
//! 292-year saturation point through the clock (the `ttl_arith` target covers that); deadlines
//! saturate at `2^63 - 2` ns as documented.
#![no_main]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use scriptling_kv::ops::{identical, InitFailed, Op, OpResult, KEYS};
use std::sync::{Arc, Mutex};

use scriptling_kv::{
    Compute, Error, Eviction, Loaded, RemovalCause, Source, Store, TestClock, Ttl, Value,
    ENTRY_OVERHEAD,
};

/// The bounded runs' caps: (max_keys, max_bytes, policy).
const BOUNDS: [(Option<usize>, Option<usize>, Eviction); 10] = [
    (Some(1), None, Eviction::VolatileTtl),
    (Some(2), None, Eviction::VolatileTtl),
    (Some(3), None, Eviction::VolatileTtl),
    (Some(64), None, Eviction::VolatileTtl),
    (Some(1_000), None, Eviction::Lru),
    (Some(2), None, Eviction::Lru),
    (None, Some(0), Eviction::VolatileTtl),
    (None, Some(ENTRY_OVERHEAD + 10), Eviction::Lru),
    (
        Some(3),
        Some(3 * (ENTRY_OVERHEAD + 100)),
        Eviction::VolatileTtl,
    ),
    (None, Some(1_000_000), Eviction::VolatileTtl),
];

/// A value's size toward its key's charge, as `StoreBuilder::max_bytes` documents it.
fn size(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::List(items) => items.iter().map(size).sum(),
        Value::Dict(map) => map.iter().map(|(k, v)| k.len() + size(v)).sum(),
        _ => 8,
    }
}

/// The model clock does not go past this (see the module docs).
const MODEL_TIME_LIMIT: u128 = 1 << 62;
/// Deadlines saturate here (`2^63 - 1` means "no expiry" inside the store).
const MAX_DEADLINE: u128 = (u64::MAX >> 1) as u128 - 1;

// ---------------------------------------------------------------------------------------------
// Glob patterns, from the contract: `*` any run, `?` one character, `[abc]`, `[^abc]`, `[a-z]`
// (either order), `\x` a literal `x`; an unclosed `[` or a trailing lone `\` is malformed.

enum Tok {
    Lit(char),
    One,
    Star,
    Class(bool, Vec<(char, char)>),
}

fn compile(pattern: &str) -> Option<Vec<Tok>> {
    let cs: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let escaped = |i: &mut usize| -> Option<char> {
        let c = *cs.get(*i)?;
        *i += 1;
        if c == '\\' {
            let e = *cs.get(*i)?;
            *i += 1;
            Some(e)
        } else {
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
                i += usize::from(negated);
                let mut ranges = Vec::new();
                while cs.get(i)? != &']' {
                    let lo = escaped(&mut i)?;
                    if cs.get(i) == Some(&'-') && cs.get(i + 1).is_some_and(|&c| c != ']') {
                        i += 1;
                        let hi = escaped(&mut i)?;
                        ranges.push((lo.min(hi), lo.max(hi)));
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                i += 1;
                toks.push(Tok::Class(negated, ranges));
            }
            _ => toks.push(Tok::Lit(escaped(&mut i)?)),
        }
    }
    Some(toks)
}

fn matches(toks: &[Tok], key: &[char]) -> bool {
    match toks.split_first() {
        None => key.is_empty(),
        Some((Tok::Star, rest)) => (0..=key.len()).any(|skip| matches(rest, &key[skip..])),
        Some((tok, rest)) => {
            let Some((&c, key_rest)) = key.split_first() else {
                return false;
            };
            let ok = match tok {
                Tok::Lit(l) => *l == c,
                Tok::One => true,
                Tok::Class(negated, ranges) => {
                    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                }
                Tok::Star => unreachable!(),
            };
            ok && matches(rest, key_rest)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The model.

/// A held key: its value and deadline (nanoseconds since the origin), if any.
type Held = (Value, Option<u128>);

#[derive(Debug, Default)]
struct Model {
    now: u128,
    held: BTreeMap<String, Held>,
    hits: u64,
    misses: u64,
    expired: u64,
    evicted: u64,
}

impl Model {
    fn live(&self, key: &str) -> Option<Held> {
        self.held
            .get(key)
            .filter(|(_, deadline)| deadline.is_none_or(|d| d > self.now))
            .cloned()
    }

    /// Stores `value` with an optional TTL: `None` never expires; a zero TTL is expired at
    /// once, so nothing is stored and the key's old entry (live or not) is gone.
    fn store(&mut self, key: &str, value: Value, ttl: Option<Duration>) {
        match ttl {
            Some(t) if t.is_zero() => {
                self.held.remove(key);
            }
            Some(t) => {
                let deadline = (self.now + t.as_nanos()).min(MAX_DEADLINE);
                self.put(key, value, Some(deadline));
            }
            None => self.put(key, value, None),
        }
    }

    fn left(&self, deadline: Option<u128>) -> Option<Duration> {
        deadline.map(|d| Duration::from_nanos(u64::try_from(d - self.now).unwrap()))
    }

    fn ttl(&self, key: &str) -> Ttl {
        match self.live(key) {
            None => Ttl::Missing,
            Some((_, None)) => Ttl::Persistent,
            Some((_, d)) => Ttl::Expires(self.left(d).unwrap()),
        }
    }

    fn get(&self, key: &str) -> Option<Value> {
        self.live(key).map(|(v, _)| v)
    }

    /// A read that counts a hit or a miss.
    fn read(&mut self, key: &str) -> Option<Value> {
        let v = self.get(key);
        *if v.is_some() {
            &mut self.hits
        } else {
            &mut self.misses
        } += 1;
        v
    }

    fn put(&mut self, key: &str, value: Value, deadline: Option<u128>) {
        self.held.insert(key.to_owned(), (value, deadline));
    }

    fn incr(&mut self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, Error> {
        match self.live(key) {
            None => {
                self.store(key, Value::Int(delta), ttl);
                Ok(delta)
            }
            Some((Value::Int(n), deadline)) => {
                let sum = n.checked_add(delta).ok_or(Error::Overflow)?;
                self.put(key, Value::Int(sum), deadline);
                Ok(sum)
            }
            Some(_) => Err(Error::NotAnInteger),
        }
    }

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
        self.store(key, value.clone(), ttl);
        Ok(Loaded {
            value,
            source: Source::Loaded,
        })
    }

    fn purge(&mut self) -> usize {
        let before = self.held.len();
        let now = self.now;
        self.held
            .retain(|_, (_, deadline)| deadline.is_none_or(|d| d > now));
        let removed = before - self.held.len();
        self.expired += removed as u64;
        removed
    }

    /// What `op` returns by the contract, applied to the model. `None` for what `run` checks
    /// itself (`keys` with a malformed pattern, `stats`).
    fn apply(&mut self, op: &Op) -> Option<OpResult> {
        use OpResult as R;
        Some(match op {
            Op::Set { key, value } => {
                self.put(key, value.clone(), None);
                R::Unit
            }
            Op::SetWithTtl { key, value, ttl } => {
                self.store(key, value.clone(), Some(*ttl));
                R::Unit
            }
            Op::Get { key } | Op::GetWith { key } => R::Found(self.read(key)),
            Op::GetOr { key, default } => R::Value(self.read(key).unwrap_or(default.clone())),
            Op::Delete { key } => {
                let was_live = self.live(key).is_some();
                self.held.remove(key);
                R::Bool(was_live)
            }
            Op::Incr { key, delta } => R::Int(self.incr(key, *delta, None)),
            Op::IncrWithTtl { key, delta, ttl } => R::Int(self.incr(key, *delta, Some(*ttl))),
            Op::Keys { pattern } => {
                let toks = compile(pattern)?;
                R::Keys(Ok(self
                    .held
                    .keys()
                    .filter(|k| {
                        self.live(k).is_some() && matches(&toks, &k.chars().collect::<Vec<_>>())
                    })
                    .cloned()
                    .collect()))
            }
            Op::Exists { key } => R::Bool(self.live(key).is_some()),
            Op::Ttl { key } => R::Ttl(self.ttl(key)),
            Op::Expire { key, ttl } => R::Bool(match self.live(key) {
                Some((v, _)) => {
                    self.store(key, v, Some(*ttl));
                    true
                }
                None => false,
            }),
            Op::GetAndExpire { key, ttl } => {
                let found = self.read(key);
                if let Some(v) = &found {
                    self.store(key, v.clone(), Some(*ttl));
                }
                R::Found(found)
            }
            Op::Persist { key } => R::Bool(match self.live(key) {
                Some((v, Some(_))) => {
                    self.put(key, v, None);
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
                    self.store(key, value.clone(), *ttl);
                    true
                }
            }),
            Op::Swap { key, value, ttl } => {
                let old = self.get(key);
                self.store(key, value.clone(), *ttl);
                R::Found(old)
            }
            Op::Take { key } => {
                let v = self.get(key);
                if v.is_some() {
                    self.held.remove(key);
                }
                R::Found(v)
            }
            Op::CompareAndSet { key, expected, new } => R::Bool(match self.live(key) {
                Some((v, deadline)) if v == *expected => {
                    self.put(key, new.clone(), deadline);
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
            Op::Update { key, update } => R::Found(match self.live(key) {
                Some((v, deadline)) => {
                    let new = update.apply(&v);
                    self.put(key, new.clone(), deadline);
                    Some(new)
                }
                None => None,
            }),
            Op::Compute { key, decide } => {
                let live = self.live(key);
                let seen = live.clone().map(|(v, d)| (v, self.left(d)));
                match decide.decide(seen.as_ref().map(|(v, t)| (v, *t))) {
                    Compute::Keep => {}
                    Compute::Put(v) => {
                        let deadline = live.and_then(|(_, d)| d);
                        self.put(key, v, deadline);
                    }
                    Compute::PutWithTtl(v, ttl) => self.store(key, v, ttl),
                    Compute::Expire(ttl) => {
                        if let Some((v, _)) = live {
                            self.store(key, v, Some(ttl));
                        }
                    }
                    Compute::Persist => {
                        if let Some((v, _)) = live {
                            self.put(key, v, None);
                        }
                    }
                    Compute::Delete => {
                        self.held.remove(key);
                    }
                    other => panic!("unknown decision {other:?}"),
                }
                R::Computed(seen)
            }
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
            Op::Stats => return None,
            Op::Advance(by) => {
                // Applied by `run` (it may skip it, see MODEL_TIME_LIMIT).
                let _ = by;
                R::Unit
            }
            other => panic!("unknown operation {other:?}"),
        })
    }
}

/// Rounds a remaining time up to whole seconds, as `Ttl::as_secs` says.
fn ceil_secs(ttl: Ttl) -> i64 {
    match ttl {
        Ttl::Missing => -2,
        Ttl::Persistent => -1,
        Ttl::Expires(d) => i64::try_from(d.as_nanos().div_ceil(1_000_000_000)).unwrap_or(i64::MAX),
    }
}

fn same(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => identical(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

fn run(ops: &[Op], bounds: Option<(Option<usize>, Option<usize>, Eviction)>) {
    let clock = TestClock::new();
    let heard: Arc<Mutex<Vec<(String, RemovalCause)>>> = Arc::default();
    let mut builder = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .record_stats(true);
    let (max_keys, max_bytes, policy) = bounds.unwrap_or((None, None, Eviction::VolatileTtl));
    if bounds.is_some() {
        let heard = heard.clone();
        builder = builder
            .eviction(policy)
            .removal_listener(move |k: &str, _: &Value, c| {
                heard.lock().unwrap().push((k.to_owned(), c))
            });
        if let Some(n) = max_keys {
            builder = builder.max_keys(n);
        }
        if let Some(n) = max_bytes {
            builder = builder.max_bytes(n);
        }
    }
    let store = builder.build();
    let mut model = Model::default();
    let mut trace = String::new();

    for (step, op) in ops.iter().enumerate() {
        let _ = writeln!(trace, "{step}: {op:?}");
        let fail = |what: &str, trace: &str| -> ! {
            panic!("divergence at step {step} ({what})\nops so far:\n{trace}");
        };
        if let Op::Advance(by) = op {
            let next = model.now + by.as_nanos();
            if next <= MODEL_TIME_LIMIT {
                op.apply(&store, &clock);
                model.now = next;
            }
        } else {
            let want = model.apply(op);
            let got = op.apply(&store, &clock);
            match (op, &got, want) {
                (Op::Stats, _, _) => {} // checked below, after every step
                (
                    Op::Keys { pattern },
                    OpResult::Keys(Err(Error::InvalidPattern { pattern: p, .. })),
                    None,
                ) if p == pattern => {}
                (Op::Ttl { .. }, OpResult::Ttl(t), Some(OpResult::Ttl(want)))
                    if *t == want && t.as_secs() == ceil_secs(want) => {}
                (Op::Ttl { .. }, ..) => fail(&format!("ttl: store {got:?}"), &trace),
                (_, got, Some(want)) if *got == want => {}
                (_, got, want) => fail(&format!("store {got:?}, model {want:?}"), &trace),
            }
            if matches!(op, Op::PurgeExpired) {
                let live = model
                    .held
                    .keys()
                    .filter(|k| model.live(k).is_some())
                    .count();
                if store.len() != live {
                    fail(
                        &format!("len after purge: store {}, live {live}", store.len()),
                        &trace,
                    );
                }
            }
        }

        // What the bounded store removed on its own during the step, checked, then mirrored.
        let removed = std::mem::take(&mut *heard.lock().unwrap());
        if !matches!(op, Op::PurgeExpired) {
            let own = op.key();
            for (key, cause) in removed {
                if own == Some(key.as_str()) {
                    fail(&format!("the write evicted its own key {key:?}"), &trace);
                }
                let Some((_, deadline)) = model.held.get(&key).cloned() else {
                    fail(&format!("removed {key:?}, which it did not hold"), &trace);
                };
                let live = deadline.is_none_or(|d| d > model.now);
                let want = if live {
                    RemovalCause::Evicted
                } else {
                    RemovalCause::Expired
                };
                if cause != want {
                    fail(&format!("removed {key:?} as {cause:?}"), &trace);
                }
                if deadline.is_none() && policy == Eviction::VolatileTtl {
                    let ttl = model
                        .held
                        .iter()
                        .find(|(k, (_, d))| d.is_some() && own != Some(k.as_str()));
                    if let Some((k, _)) = ttl {
                        fail(
                            &format!("evicted {key:?} (no TTL) while {k:?} has one"),
                            &trace,
                        );
                    }
                }
                model.held.remove(&key);
                if live {
                    model.evicted += 1;
                } else {
                    model.expired += 1;
                }
            }
        }
        if bounds.is_some() {
            let bytes: usize = model
                .held
                .iter()
                .map(|(k, (v, _))| ENTRY_OVERHEAD + k.len() + size(v))
                .sum();
            if store.bytes_used() != bytes {
                fail(
                    &format!("bytes_used: store {}, model {bytes}", store.bytes_used()),
                    &trace,
                );
            }
            if max_keys.is_some_and(|n| store.len() > n) {
                fail(&format!("{} keys over {max_keys:?}", store.len()), &trace);
            }
            if max_bytes.is_some_and(|n| bytes > n && store.len() != 1) {
                fail(&format!("{bytes} bytes over {max_bytes:?}"), &trace);
            }
        }

        // The whole observable state, after every step (with reads that do not count).
        if clock.elapsed().as_nanos() != model.now {
            fail(
                &format!("clock: {:?} vs model {}", clock.elapsed(), model.now),
                &trace,
            );
        }
        if store.len() != model.held.len() || store.is_empty() != model.held.is_empty() {
            fail(
                &format!("len: store {}, model {}", store.len(), model.held.len()),
                &trace,
            );
        }
        let stats = store.stats();
        let (got, want) = (
            (stats.hits, stats.misses, stats.expired, stats.evicted),
            (model.hits, model.misses, model.expired, model.evicted),
        );
        if got != want {
            fail(
                &format!("stats (hits, misses, expired, evicted): store {got:?}, model {want:?}"),
                &trace,
            );
        }
        for key in KEYS {
            let got = store.get_with(key, Value::clone);
            let want = model.get(key);
            if !same(&got, &want) {
                fail(
                    &format!("state of {key:?}: store {got:?}, model {want:?}"),
                    &trace,
                );
            }
            let (got, want) = (store.ttl(key), model.ttl(key));
            if got != want {
                fail(
                    &format!("ttl of {key:?}: store {got:?}, model {want:?}"),
                    &trace,
                );
            }
        }
        // `get_with` counted: so does the model.
        for key in KEYS {
            model.read(key);
        }
    }

    // At the end every expired key must be purgeable, and nothing else.
    let (got, want) = (store.purge_expired(), model.purge());
    if got != want || store.len() != model.held.len() || store.stats().expired != model.expired {
        panic!(
            "final purge: store removed {got} (len {}), model {want} (len {})\nops:\n{trace}",
            store.len(),
            model.held.len()
        );
    }
}

fuzz_target!(|ops: Vec<Op>| {
    run(&ops, None);
    run(&ops, Some(BOUNDS[ops.len() % BOUNDS.len()]));
});
