//! Checked concurrent histories of the real (flurry-backed) store.
//!
//! Several threads run random single-key operations on a few hot keys: reads, writes, `incr`, TTL
//! changes and the conditional writes (`set_if_absent`, `swap`, `take`, `compare_and_set`,
//! `compare_and_delete`, `incr_with_ttl`, and `update` with one pure function: +10 on ints,
//! `"x"` → `"y"`). Each operation is
//! recorded with its invocation and response stamps, taken from one shared `SeqCst` counter
//! just before the call and just after it returns, so "A's response stamp < B's invocation
//! stamp" means A really returned before B was called. Each key's history is then checked for
//! linearizability against a sequential model of the documented contract with a Wing–Gong search
//! ([`check`]): find an order of the operations that respects real time (an operation can come
//! next only if it was invoked before every other remaining operation responded) in which every
//! result is what the model gives. Linearizability is local (Herlihy & Wing), and every
//! operation here touches one key, so checking key by key is exact. The search memoises
//! (set of linearized operations, model state), which keeps it polynomial in practice.
//!
//! Time: the store runs on a [`TestClock`] that a dedicated thread advances *during* each round,
//! in steps of 0.1 to 0.4 s while the keys' TTLs are 0.5 to 3 s, so keys expire while operations
//! on them are in flight. Every advance is an event of every key's history, and the model judges
//! expiry at each operation's linearization point against the clock then. `set_with_ttl`'s TTL
//! counts from a clock reading taken during the call, so its deadline may start from any clock
//! value between the call and its linearization point (the advances are sequential, so those
//! values are known); so may the TTL that `set_if_absent`, `swap` and `incr_with_ttl` give a
//! value they store (each reads the clock during its write step, before the CAS that
//! linearizes it). After the threads join, each key is read back (`get`, then `ttl`) as the
//! last events of its history, so the state the round ended in is checked too; the next round
//! starts from it. Threads also call `purge_expired` during rounds (not part of any key's
//! history: it must not change what any operation observes), racing the cleaner's unlink of
//! expired keys with writers reviving them.
//!
//! Round types: the full mix ([`any_op`]) on three keys; `expire` racing expiry
//! ([`expiry_op`]); the conditional writes with `set`, `delete`, `incr`, reads and short TTLs on
//! two keys ([`conditional_op`]).
//!
//! The checker is shown to reject: unit tests on hand-made histories (for each conditional
//! write, one history it must reject and one it must accept), and deliberately broken stores (a
//! non-atomic `incr`, a `get` that returns a stale read, an `expire` that revives an expired key,
//! a non-atomic `set_if_absent`) whose recorded histories must be found non-linearizable.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use scriptling_kv::{Error, Store, TestClock, Ttl, Value};

// ---------------------------------------------------------------------------------------------
// Operations, results and the sequential model.

/// A value as the model sees it: the tests only store small ints and one-letter strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum V {
    Int(i64),
    Str(char),
}

impl V {
    fn value(&self) -> Value {
        match self {
            V::Int(n) => Value::Int(*n),
            V::Str(c) => Value::from(c.to_string()),
        }
    }

    fn from_value(v: Value) -> V {
        if let Value::Int(n) = v {
            return V::Int(n);
        }
        let mut chars = v.as_str().unwrap_or_default().chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => V::Str(c),
            _ => panic!("the store returned {v:?}, which no test wrote"),
        }
    }

    /// The pure function of `Op::Update`: an int gains 10, `"x"` becomes `"y"`, any other
    /// string stays.
    fn updated(&self) -> V {
        match self {
            V::Int(n) => V::Int(n + 10),
            V::Str('x') => V::Str('y'),
            V::Str(c) => V::Str(*c),
        }
    }
}

/// A single-key operation (or a clock advance, which is in every key's history); durations in
/// nanoseconds.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Advance(u64),
    Set(V),
    SetTtl(V, u64),
    Get,
    Incr(i64),
    Delete,
    Expire(u64),
    Persist,
    Ttl,
    Exists,
    SetIfAbsent(V, u64),
    Swap(V, u64),
    Take,
    CompareAndSet(V, V),
    CompareAndDelete(V),
    IncrWithTtl(i64, u64),
    /// `update` with [`V::updated`].
    Update,
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq)]
enum Ret {
    Unit,
    Val(Option<V>),
    Int(Result<i64, Error>),
    Bool(bool),
    Ttl(Ttl),
}

/// The TTL argument of `set_if_absent` and `swap` that stands for `None` (no expiry); every
/// other value is a `Duration` in nanoseconds, 0 being expired at once.
const NO_TTL: u64 = u64::MAX;

/// `NO_TTL` as `None`, anything else as `Some(nanoseconds)`.
fn ttl_opt(ttl: u64) -> Option<Duration> {
    (ttl != NO_TTL).then(|| Duration::from_nanos(ttl))
}

/// The model's state of one key: value and deadline (nanoseconds on the test clock), or absent.
type State = Option<(V, Option<u64>)>;

/// Applies `op` at time `now` to `state`, a TTL it sets counting from `base` (see
/// [`successors`]; `now` for the operations whose TTL counts from their linearization point): the
/// new state and the result.
fn apply(state: &State, op: &Op, now: u64, base: u64) -> (State, Ret) {
    let live = state
        .clone()
        .filter(|(_, deadline)| deadline.is_none_or(|d| d > now));
    // A TTL of 0 is expired at once: the value is never stored, and the key is absent after.
    // [`NO_TTL`] (the `None` of the `Option<Duration>` arguments) is no expiry.
    let put = |v: &V, ttl: u64, from: u64| match ttl {
        NO_TTL => Some((v.clone(), None)),
        0 => None,
        ttl => Some((v.clone(), Some(from + ttl))),
    };
    match op {
        Op::Set(v) => (Some((v.clone(), None)), Ret::Unit),
        Op::SetTtl(v, ttl) => (put(v, *ttl, base), Ret::Unit),
        Op::Get => (state.clone(), Ret::Val(live.map(|(v, _)| v))),
        Op::Incr(delta) => match live {
            None => (Some((V::Int(*delta), None)), Ret::Int(Ok(*delta))),
            Some((V::Int(n), d)) => match n.checked_add(*delta) {
                Some(sum) => (Some((V::Int(sum), d)), Ret::Int(Ok(sum))),
                None => (state.clone(), Ret::Int(Err(Error::Overflow))),
            },
            Some(_) => (state.clone(), Ret::Int(Err(Error::NotAnInteger))),
        },
        Op::Delete => (None, Ret::Bool(live.is_some())),
        Op::Expire(ttl) => match live {
            None => (state.clone(), Ret::Bool(false)),
            Some((v, _)) => (put(&v, *ttl, now), Ret::Bool(true)),
        },
        Op::Persist => match live {
            Some((v, Some(_))) => (Some((v, None)), Ret::Bool(true)),
            _ => (state.clone(), Ret::Bool(false)),
        },
        Op::Ttl => {
            let ttl = match live {
                None => Ttl::Missing,
                Some((_, None)) => Ttl::Persistent,
                Some((_, Some(d))) => Ttl::Expires(Duration::from_nanos(d - now)),
            };
            (state.clone(), Ret::Ttl(ttl))
        }
        Op::Exists => (state.clone(), Ret::Bool(live.is_some())),
        Op::Advance(_) => (state.clone(), Ret::Unit),
        Op::SetIfAbsent(v, ttl) => match live {
            Some(_) => (state.clone(), Ret::Bool(false)),
            None => (put(v, *ttl, base), Ret::Bool(true)),
        },
        Op::Swap(v, ttl) => (put(v, *ttl, base), Ret::Val(live.map(|(old, _)| old))),
        Op::Take => match live {
            Some((v, _)) => (None, Ret::Val(Some(v))),
            None => (state.clone(), Ret::Val(None)),
        },
        Op::CompareAndSet(expected, new) => match live {
            Some((v, d)) if v == *expected => (Some((new.clone(), d)), Ret::Bool(true)),
            _ => (state.clone(), Ret::Bool(false)),
        },
        Op::CompareAndDelete(expected) => match live {
            Some((v, _)) if v == *expected => (None, Ret::Bool(true)),
            _ => (state.clone(), Ret::Bool(false)),
        },
        Op::IncrWithTtl(delta, ttl) => match live {
            None => (put(&V::Int(*delta), *ttl, base), Ret::Int(Ok(*delta))),
            Some(_) => apply(state, &Op::Incr(*delta), now, base),
        },
        Op::Update => match live {
            Some((v, d)) => {
                let new = v.updated();
                (Some((new.clone(), d)), Ret::Val(Some(new)))
            }
            None => (state.clone(), Ret::Val(None)),
        },
    }
}

/// The states `op` may lead to with its result, at clock `clocks[at]`, for an operation called
/// when the clock was at least `clocks[lowest]`. A TTL that a write gives a value it stores
/// (`set_with_ttl`, and `set_if_absent`, `swap` and `incr_with_ttl` creating the key) counts
/// from a clock reading taken during the call, before the write's linearization point: from any
/// clock value in between. Every other operation is deterministic.
fn successors(
    state: &State,
    op: &Op,
    clocks: &[u64],
    lowest: usize,
    at: usize,
) -> Vec<(State, Ret)> {
    let now = clocks[at];
    match op {
        Op::SetTtl(_, ttl)
        | Op::SetIfAbsent(_, ttl)
        | Op::Swap(_, ttl)
        | Op::IncrWithTtl(_, ttl)
            if *ttl > 0 =>
        {
            let mut bases: Vec<u64> = clocks[lowest.min(at)..=at].to_vec();
            bases.dedup();
            let mut out: Vec<(State, Ret)> = bases
                .into_iter()
                .map(|base| apply(state, op, now, base))
                .collect();
            out.dedup();
            out
        }
        _ => vec![apply(state, op, now, now)],
    }
}

// ---------------------------------------------------------------------------------------------
// The checker.

/// One completed operation in a key's history.
#[derive(Debug, Clone)]
struct Event {
    op: Op,
    ret: Ret,
    /// Stamp taken just before the call.
    inv: u64,
    /// Stamp taken just after it returned.
    resp: u64,
    thread: usize,
}

/// The checker's verdict.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Linearizable,
    NotLinearizable,
    /// The search visited more than its budget of (set, state) nodes.
    GaveUp,
}

/// Wing–Gong search with memoisation: is there a total order of `history` that respects real
/// time and in which each result is the model's, starting from `initial` at time `start`? The
/// history's `Advance` events move the model's clock (they are sequential: one thread makes them).
fn check(history: &[Event], initial: &State, start: u64, budget: usize) -> Verdict {
    let mut events: Vec<&Event> = history.iter().collect();
    events.sort_by_key(|e| e.inv);
    let advances: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| matches!(e.op, Op::Advance(_)))
        .collect();
    let mut clocks = vec![start];
    for a in &advances {
        let Op::Advance(by) = a.op else {
            unreachable!()
        };
        clocks.push(clocks.last().unwrap() + by);
    }
    // For each event, how many advances had returned before it was called: the clock was at
    // least `clocks[that]` at its call.
    let lowest = events
        .iter()
        .map(|e| advances.iter().filter(|a| a.resp < e.inv).count())
        .collect();
    let words = events.len().div_ceil(64);
    let mut search = Search {
        events,
        clocks,
        lowest,
        seen: HashSet::new(),
        budget,
    };
    let mut done = vec![0u64; words];
    match search.dfs(&mut done, initial.clone(), 0, 0) {
        Some(true) => Verdict::Linearizable,
        Some(false) => Verdict::NotLinearizable,
        None => Verdict::GaveUp,
    }
}

struct Search<'h> {
    /// Sorted by invocation stamp.
    events: Vec<&'h Event>,
    /// The clock's values: at the start, then after each advance.
    clocks: Vec<u64>,
    /// Per event: the advances that returned before it was called.
    lowest: Vec<usize>,
    /// (linearized set, state, advances applied) already explored (all of them dead ends).
    seen: HashSet<(Vec<u64>, State, usize)>,
    budget: usize,
}

impl Search<'_> {
    /// `done` is the set of linearized events (bitset); `count` its size; `at` the advances
    /// applied so far. `None`: out of budget.
    fn dfs(&mut self, done: &mut Vec<u64>, state: State, at: usize, count: usize) -> Option<bool> {
        if count == self.events.len() {
            return Some(true);
        }
        if !self.seen.insert((done.clone(), state.clone(), at)) {
            return Some(false);
        }
        if self.seen.len() > self.budget {
            return None;
        }
        let is_done = |done: &[u64], i: usize| done[i / 64] & (1 << (i % 64)) != 0;
        // An event can be linearized next iff it was invoked before every pending event's
        // response.
        let min_resp = (0..self.events.len())
            .filter(|&i| !is_done(done, i))
            .map(|i| self.events[i].resp)
            .min()
            .expect("some event is pending");
        for i in 0..self.events.len() {
            let e = self.events[i];
            if e.inv > min_resp {
                break; // sorted by invocation: no later event can be next either
            }
            if is_done(done, i) {
                continue;
            }
            let next_at = at + usize::from(matches!(e.op, Op::Advance(_)));
            for (next, ret) in successors(&state, &e.op, &self.clocks, self.lowest[i], at) {
                if ret != e.ret {
                    continue;
                }
                done[i / 64] |= 1 << (i % 64);
                let found = self.dfs(done, next, next_at, count + 1);
                done[i / 64] &= !(1 << (i % 64));
                match found {
                    Some(false) => {}
                    other => return other,
                }
            }
        }
        Some(false)
    }
}

/// A readable dump of a history, for failure messages.
fn describe(history: &[Event], initial: &State) -> String {
    let mut events: Vec<&Event> = history.iter().collect();
    events.sort_by_key(|e| e.inv);
    let mut out = format!("initial state {initial:?}\n");
    for e in events {
        out += &format!(
            "  [{:>6} .. {:>6}] t{} {:?} -> {:?}\n",
            e.inv, e.resp, e.thread, e.op, e.ret
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Stores under test: the real one and two broken wrappers.

/// The operations the recorder drives.
trait Kv: Sync {
    fn store(&self) -> &Store;

    fn get(&self, key: &str) -> Option<Value> {
        self.store().get(key)
    }

    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        self.store().incr(key, delta)
    }

    fn expire(&self, key: &str, ttl: Duration) -> bool {
        self.store().expire(key, ttl)
    }

    fn set_if_absent(&self, key: &str, value: Value, ttl: Option<Duration>) -> bool {
        self.store().set_if_absent(key, value, ttl)
    }
}

/// The real store.
struct Real(Store);

impl Kv for Real {
    fn store(&self) -> &Store {
        &self.0
    }
}

/// Broken: `incr` as a plain read then write, with a yield in between (loses updates).
struct NonAtomicIncr(Store);

impl Kv for NonAtomicIncr {
    fn store(&self) -> &Store {
        &self.0
    }

    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        let current = match self.0.get(key) {
            None => 0,
            Some(Value::Int(n)) => n,
            Some(_) => return Err(Error::NotAnInteger),
        };
        thread::yield_now();
        let sum = current + delta;
        self.0.set(key, sum);
        Ok(sum)
    }
}

/// Broken in the way the review found `expire` broken: it judges the key live, and writes the new
/// TTL a moment later without checking that the key did not expire in between (here through the
/// public API, `get` then `set_with_ttl`, with a yield to widen the window). Run on rounds where
/// nothing else writes, so the only way to fail is bringing back a key somebody saw expired.
struct RevivingExpire(Store);

impl Kv for RevivingExpire {
    fn store(&self) -> &Store {
        &self.0
    }

    fn expire(&self, key: &str, ttl: Duration) -> bool {
        let Some(value) = self.0.get(key) else {
            return false;
        };
        thread::yield_now();
        self.0.set_with_ttl(key, value, ttl);
        true
    }
}

/// Broken: every other `get` of a key returns what the previous `get` of it read (a stale
/// cache shared by all threads).
struct StaleGet {
    store: Store,
    cache: Mutex<HashMap<String, Option<Value>>>,
}

impl Kv for StaleGet {
    fn store(&self) -> &Store {
        &self.store
    }

    fn get(&self, key: &str) -> Option<Value> {
        let cached = self.cache.lock().unwrap().remove(key);
        if let Some(stale) = cached {
            return stale;
        }
        let fresh = self.store.get(key);
        self.cache
            .lock()
            .unwrap()
            .insert(key.to_string(), fresh.clone());
        thread::yield_now();
        fresh
    }
}

/// Broken: `set_if_absent` as a check then a write, with a yield in between (two callers can
/// both see the key absent and both "win").
struct NonAtomicSetIfAbsent(Store);

impl Kv for NonAtomicSetIfAbsent {
    fn store(&self) -> &Store {
        &self.0
    }

    fn set_if_absent(&self, key: &str, value: Value, ttl: Option<Duration>) -> bool {
        if self.0.exists(key) {
            return false;
        }
        thread::yield_now();
        match ttl {
            Some(ttl) => self.0.set_with_ttl(key, value, ttl),
            None => self.0.set(key, value),
        }
        true
    }
}

fn exec(kv: &impl Kv, key: &str, op: &Op) -> Ret {
    let s = kv.store();
    let ns = Duration::from_nanos;
    match op {
        Op::Set(v) => {
            s.set(key, v.value());
            Ret::Unit
        }
        Op::SetTtl(v, ttl) => {
            s.set_with_ttl(key, v.value(), Duration::from_nanos(*ttl));
            Ret::Unit
        }
        Op::Get => Ret::Val(kv.get(key).map(V::from_value)),
        Op::Incr(d) => Ret::Int(kv.incr(key, *d)),
        Op::Delete => Ret::Bool(s.delete(key)),
        Op::Expire(ttl) => Ret::Bool(kv.expire(key, Duration::from_nanos(*ttl))),
        Op::Persist => Ret::Bool(s.persist(key)),
        Op::Ttl => Ret::Ttl(s.ttl(key)),
        Op::Exists => Ret::Bool(s.exists(key)),
        Op::SetIfAbsent(v, ttl) => Ret::Bool(kv.set_if_absent(key, v.value(), ttl_opt(*ttl))),
        Op::Swap(v, ttl) => Ret::Val(s.swap(key, v.value(), ttl_opt(*ttl)).map(V::from_value)),
        Op::Take => Ret::Val(s.take(key).map(V::from_value)),
        Op::CompareAndSet(expected, new) => {
            Ret::Bool(s.compare_and_set(key, &expected.value(), new.value()))
        }
        Op::CompareAndDelete(expected) => Ret::Bool(s.compare_and_delete(key, &expected.value())),
        Op::IncrWithTtl(d, ttl) => Ret::Int(s.incr_with_ttl(key, *d, ns(*ttl))),
        Op::Update => Ret::Val(
            s.update(key, |v| V::from_value(v.clone()).updated().value())
                .map(V::from_value),
        ),
        Op::Advance(_) => unreachable!("advances are made by the round's clock thread"),
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads and the recorder.

/// A small deterministic generator (xorshift64*), so rounds are reproducible in what they
/// ask, if not in how the threads interleave.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % n
    }
}

const SEC: u64 = 1_000_000_000;

/// A value for a write: mostly a small int, now and then a one-letter string.
fn any_v(rng: &mut Rng) -> V {
    match rng.below(16) {
        0 => V::Str('s'),
        1 => V::Str('x'),
        _ => V::Int(rng.below(5) as i64),
    }
}

/// The full mix of single-key operations, the conditional writes included. TTLs are whole and
/// half seconds, so the clock steps between rounds expire some keys and not others.
fn any_op(rng: &mut Rng) -> Op {
    let ttl = |rng: &mut Rng| (1 + rng.below(6)) * SEC / 2;
    match rng.below(100) {
        0..=6 => Op::Set(any_v(rng)),
        // A TTL of 0 now and then: expired at once.
        7..=14 => Op::SetTtl(any_v(rng), if rng.below(8) == 0 { 0 } else { ttl(rng) }),
        15..=28 => Op::Get,
        29..=40 => Op::Incr(rng.below(3) as i64 + 1),
        41..=45 => Op::Delete,
        46..=51 => Op::Expire(if rng.below(4) == 0 { 0 } else { ttl(rng) }),
        52..=54 => Op::Persist,
        55..=62 => Op::Ttl,
        63..=67 => Op::Exists,
        68..=73 => Op::SetIfAbsent(any_v(rng), if rng.below(6) == 0 { 0 } else { ttl(rng) }),
        74..=77 => Op::Swap(
            any_v(rng),
            match rng.below(6) {
                0 | 1 => NO_TTL,
                2 => 0,
                _ => ttl(rng),
            },
        ),
        78..=81 => Op::Take,
        82..=87 => Op::CompareAndSet(any_v(rng), any_v(rng)),
        88..=90 => Op::CompareAndDelete(any_v(rng)),
        91..=95 => Op::IncrWithTtl(rng.below(3) as i64 + 1, ttl(rng)),
        _ => Op::Update,
    }
}

/// The conditional writes mixed with `set`, `delete`, `incr` and reads, on keys whose TTLs (0.2
/// to 0.8 s) are a few of the round's clock advances (0.1 to 0.4 s) long, so writes race
/// expiry as well as each other.
fn conditional_op(rng: &mut Rng) -> Op {
    let ttl = |rng: &mut Rng| (2 + rng.below(7)) * SEC / 10;
    match rng.below(20) {
        0 => Op::Set(any_v(rng)),
        1 => Op::Delete,
        2 => Op::Incr(1),
        3 | 4 => Op::SetIfAbsent(any_v(rng), ttl(rng)),
        5 => Op::Swap(any_v(rng), ttl(rng)),
        6 => Op::Take,
        7 | 8 => Op::CompareAndSet(any_v(rng), any_v(rng)),
        9 => Op::CompareAndDelete(any_v(rng)),
        10 | 11 => Op::IncrWithTtl(1, ttl(rng)),
        12 => Op::Update,
        13 | 14 => Op::Get,
        15 => Op::Ttl,
        16 => Op::Exists,
        17 => Op::SetTtl(any_v(rng), ttl(rng)),
        18 => Op::Expire(ttl(rng)),
        _ => Op::Persist,
    }
}

/// Only what the broken wrappers break: set, get, incr.
/// Reads and `expire`s only (the clock advances meanwhile): the keys' TTLs are 0.1 to 0.4 s.
fn expiry_op(rng: &mut Rng) -> Op {
    match rng.below(10) {
        0..=3 => Op::Expire((1 + rng.below(4)) * SEC / 10),
        4..=6 => Op::Exists,
        7 | 8 => Op::Get,
        _ => Op::Ttl,
    }
}

fn counter_op(rng: &mut Rng) -> Op {
    match rng.below(10) {
        0 => Op::Set(V::Int(rng.below(3) as i64)),
        1..=3 => Op::Get,
        _ => Op::Incr(1),
    }
}

struct Round {
    threads: usize,
    ops_per_thread: usize,
    keys: &'static [&'static str],
    purge: bool,
    /// Whether a clock thread advances the clock during the round (at most [`MAX_ADVANCES`]).
    advance: bool,
    op: fn(&mut Rng) -> Op,
}

/// Clock advances per round: every advance is in every key's history.
const MAX_ADVANCES: usize = 8;

/// Runs one round on `kv`, whose keys start in `initial` with the clock at `now`, and checks
/// every key's history (ending with its read-back). Returns per-key verdicts, counts, the failure
/// dump if any, and the state each key ended in (from its checked read-back).
fn run_round(
    kv: &impl Kv,
    round: &Round,
    seed: u64,
    initial: &[State],
    clock: &TestClock,
    budget: usize,
) -> RoundResult {
    let store = kv.store();
    let start_now = clock.elapsed().as_nanos() as u64;
    let stamps = AtomicU64::new(0);
    let start = SpinStart::default();
    // Thread 0 also advances the clock now and then (at most MAX_ADVANCES times), between its
    // own operations, so the advances are sequential and race the other threads' operations.
    let logs: Vec<Vec<(Option<usize>, Event)>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..round.threads)
            .map(|t| {
                let (stamps, start) = (&stamps, &start);
                scope.spawn(move || {
                    let mut rng = Rng::new(seed * 31 + t as u64);
                    let mut log = Vec::with_capacity(round.ops_per_thread);
                    let mut advances = 0;
                    start.wait(round.threads);
                    for _ in 0..round.ops_per_thread {
                        if t == 0
                            && round.advance
                            && advances < MAX_ADVANCES
                            && rng.below(round.ops_per_thread as u64 / MAX_ADVANCES as u64) == 0
                        {
                            advances += 1;
                            let by = (1 + rng.below(4)) * SEC / 10;
                            let inv = stamps.fetch_add(1, Ordering::SeqCst);
                            clock.advance(Duration::from_nanos(by));
                            let resp = stamps.fetch_add(1, Ordering::SeqCst);
                            let op = Op::Advance(by);
                            log.push((
                                None,
                                Event {
                                    op,
                                    ret: Ret::Unit,
                                    inv,
                                    resp,
                                    thread: t,
                                },
                            ));
                        }
                        let key = rng.below(round.keys.len() as u64) as usize;
                        let op = (round.op)(&mut rng);
                        if round.purge && rng.below(16) == 0 {
                            store.purge_expired();
                        }

                        let inv = stamps.fetch_add(1, Ordering::SeqCst);
                        let ret = exec(kv, round.keys[key], &op);
                        let resp = stamps.fetch_add(1, Ordering::SeqCst);
                        log.push((
                            Some(key),
                            Event {
                                op,
                                ret,
                                inv,
                                resp,
                                thread: t,
                            },
                        ));
                    }
                    log
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut advances = Vec::new();
    let mut by_key = Vec::new();
    for (key, event) in logs.into_iter().flatten() {
        match key {
            None => advances.push(event),
            Some(k) => by_key.push((k, event)),
        }
    }
    let mut per_key: Vec<Vec<Event>> = vec![advances.clone(); round.keys.len()];
    for (key, event) in by_key {
        per_key[key].push(event);
    }
    // Read each key back as the last events of its history, so the state the round ended in is
    // checked, and becomes the next round's initial state.
    let end_now = clock.elapsed().as_nanos() as u64;
    let mut result = RoundResult::default();
    for (key, history) in per_key.iter_mut().enumerate() {
        let name = round.keys[key];
        let mut read = |op: Op| {
            let inv = stamps.fetch_add(1, Ordering::SeqCst);
            let ret = exec(kv, name, &op);
            let resp = stamps.fetch_add(1, Ordering::SeqCst);
            history.push(Event {
                op,
                ret: ret.clone(),
                inv,
                resp,
                thread: 0,
            });
            ret
        };
        let value = read(Op::Get);
        let ttl = read(Op::Ttl);
        result.finals.push(match (value, ttl) {
            (Ret::Val(None), _) => None,
            (Ret::Val(Some(v)), Ret::Ttl(Ttl::Expires(d))) => {
                Some((v, Some(end_now + d.as_nanos() as u64)))
            }
            (Ret::Val(Some(v)), _) => Some((v, None)),
            other => panic!("read-back returned {other:?}"),
        });
    }
    for (key, history) in per_key.iter().enumerate() {
        let verdict = check(history, &initial[key], start_now, budget);
        result.events += history.len();
        result.advances = advances.len();
        result.overlapping += overlapping(history);
        result.crossing += crossing(history);
        if verdict != Verdict::Linearizable && result.failure.is_none() {
            result.failure = Some(format!(
                "key {:?}: {verdict:?}\n{}",
                round.keys[key],
                describe(history, &initial[key])
            ));
        }
        result.verdicts.push(verdict);
    }
    result
}

/// A start line the threads spin at (yielding now and then), so that they are all running when
/// the round begins; a blocking barrier wakes them one by one, and on a busy machine the first
/// can finish its round before the last is scheduled.
#[derive(Default)]
struct SpinStart(AtomicU64);

impl SpinStart {
    fn wait(&self, threads: usize) {
        self.0.fetch_add(1, Ordering::SeqCst);
        let mut spins = 0u32;
        while self.0.load(Ordering::SeqCst) < threads as u64 {
            spins += 1;
            if spins % 64 == 0 {
                thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

#[derive(Default)]
struct RoundResult {
    verdicts: Vec<Verdict>,
    events: usize,
    /// Clock advances made during the round.
    advances: usize,
    overlapping: usize,
    /// Operations that overlapped a clock advance.
    crossing: usize,
    failure: Option<String>,
    /// Each key's state after the round, from its checked read-back.
    finals: Vec<State>,
}

/// How many operations overlap in time with another event of the same history (a measure of
/// how much the round actually tested concurrency; a clock advance counts as the other event).
fn overlapping(history: &[Event]) -> usize {
    history
        .iter()
        .filter(|a| !matches!(a.op, Op::Advance(_)))
        .filter(|a| {
            history
                .iter()
                .any(|b| !std::ptr::eq(*a, b) && b.inv < a.resp && a.inv < b.resp)
        })
        .count()
}

/// How many operations overlap in time with a clock advance (time passed while they ran).
fn crossing(history: &[Event]) -> usize {
    let advances: Vec<&Event> = history
        .iter()
        .filter(|e| matches!(e.op, Op::Advance(_)))
        .collect();
    history
        .iter()
        .filter(|a| !matches!(a.op, Op::Advance(_)))
        .filter(|a| advances.iter().any(|b| b.inv < a.resp && a.inv < b.resp))
        .count()
}

fn test_store(clock: &TestClock) -> Store {
    Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build()
}

// ---------------------------------------------------------------------------------------------
// The tests.

const BUDGET: usize = 200_000;

/// The real store: every key's history of every round is linearizable.
///
/// How much the threads overlap depends on the machine (on a loaded one they run one after
/// another more often), so after [`MIN_ROUNDS`] the test keeps going until it has seen
/// [`WANT_OVERLAPPING`] operations that overlapped another on the same key, up to
/// [`MAX_ROUNDS`]; it fails if even then fewer than [`NEED_OVERLAPPING`] did.
#[test]
fn real_store_histories_are_linearizable() {
    const MIN_ROUNDS: u64 = 24;
    const MAX_ROUNDS: u64 = 1000;
    const WANT_OVERLAPPING: usize = 2_000;
    const NEED_OVERLAPPING: usize = 200;
    const WANT_CROSSING: usize = 150;
    const NEED_CROSSING: usize = 30;
    let round = Round {
        threads: 4,
        ops_per_thread: 150,
        keys: &["a", "b", "c"],
        purge: true,
        advance: true,
        op: any_op,
    };
    let clock = TestClock::new();
    let kv = Real(test_store(&clock));
    let mut state: Vec<State> = vec![None; round.keys.len()];
    let (mut rounds, mut events, mut overlapping, mut crossing) = (0, 0, 0, 0);
    while rounds < MIN_ROUNDS
        || ((overlapping < WANT_OVERLAPPING || crossing < WANT_CROSSING) && rounds < MAX_ROUNDS)
    {
        let now = clock.elapsed().as_nanos() as u64;
        let result = run_round(&kv, &round, rounds, &state, &clock, BUDGET);
        if let Some(failure) = result.failure {
            panic!("round {rounds} (clock at {now} ns): {failure}");
        }
        // Each key's history: the workers' operations on it, every advance, two read-backs.
        assert_eq!(
            result.events,
            round.threads * round.ops_per_thread + round.keys.len() * (result.advances + 2)
        );
        events += result.events;
        overlapping += result.overlapping;
        crossing += result.crossing;
        state = result.finals;
        rounds += 1;
        // Expire some more keys (TTLs are 0.5 to 3 s) between rounds, and leave them held for
        // the next round's purges and writers to race with.
        clock.advance(Duration::from_millis(250 * (rounds % 3)));
    }
    eprintln!(
        "checked {events} events in {rounds} rounds; {overlapping} operations overlapped another \
         event on the same key, {crossing} overlapped a clock advance"
    );
    assert!(
        overlapping >= NEED_OVERLAPPING,
        "too little concurrency to test anything: {overlapping} of {events} overlapped"
    );
    assert!(
        crossing >= NEED_CROSSING,
        "too few operations raced the clock: {crossing} of {events}"
    );
}

/// Runs rounds on a broken store until the checker rejects one; asserts that happens.
fn assert_caught(kv: &impl Kv, clock: &TestClock, what: &str) {
    let round = Round {
        threads: 4,
        ops_per_thread: 60,
        keys: &["x", "y"],
        purge: false,
        advance: false,
        op: counter_op,
    };
    assert_caught_in(kv, clock, what, &round, 40, |_, _| None);
}

/// Runs up to `max_rounds` rounds of `round` on a broken store until the checker rejects one;
/// `reset(key, now)`, if it returns a state, is stored into the key before each round.
fn assert_caught_in(
    kv: &impl Kv,
    clock: &TestClock,
    what: &str,
    round: &Round,
    max_rounds: u64,
    reset: impl Fn(&str, u64) -> State,
) {
    let mut state: Vec<State> = vec![None; round.keys.len()];
    for r in 0..max_rounds {
        let now = clock.elapsed().as_nanos() as u64;
        for (i, key) in round.keys.iter().enumerate() {
            if let Some((v, deadline)) = reset(key, now) {
                match deadline {
                    Some(d) => {
                        kv.store()
                            .set_with_ttl(key, v.value(), Duration::from_nanos(d - now))
                    }
                    None => kv.store().set(key, v.value()),
                }
                state[i] = Some((v, deadline));
            }
        }
        let result = run_round(kv, round, 1000 + r, &state, clock, BUDGET);
        if result.verdicts.contains(&Verdict::NotLinearizable) {
            eprintln!("{what}: caught in round {r}");
            return;
        }
        state = result.finals;
    }
    panic!("{what}: the checker found no violation in {max_rounds} rounds");
}

/// The checker, with the clock advancing during rounds, catches the review's revival hole: an
/// `expire` that judged the key live and lands after a read saw it expired.
#[test]
fn checker_rejects_an_expire_that_revives_an_expired_key() {
    let clock = TestClock::new();
    let round = Round {
        threads: 4,
        ops_per_thread: 80,
        keys: &["x", "y"],
        purge: true,
        advance: true,
        op: expiry_op,
    };
    let kv = RevivingExpire(test_store(&clock));
    assert_caught_in(&kv, &clock, "reviving expire", &round, 200, expiring_soon);
}

/// Before each round of [`expiry_op`]s: every key holds 1 for 0.2 s.
fn expiring_soon(_key: &str, now: u64) -> State {
    Some((V::Int(1), Some(now + 2 * SEC / 10)))
}

/// The same rounds on the real store: nothing is rejected (so the rejection above is the
/// wrapper's revival, not an artefact of the rounds).
#[test]
fn real_store_expiry_rounds_are_linearizable() {
    let clock = TestClock::new();
    let round = Round {
        threads: 4,
        ops_per_thread: 80,
        keys: &["x", "y"],
        purge: true,
        advance: true,
        op: expiry_op,
    };
    let kv = Real(test_store(&clock));
    let mut crossing = 0;
    // Until enough operations raced an advance (on a loaded machine threads overlap less).
    for r in 0..1000 {
        if r >= 100 && crossing >= 60 {
            break;
        }
        let now = clock.elapsed().as_nanos() as u64;
        let mut state = Vec::new();
        for key in round.keys {
            let initial = expiring_soon(key, now);
            kv.0.set_with_ttl(key, 1, Duration::from_nanos(2 * SEC / 10));
            state.push(initial);
        }
        let result = run_round(&kv, &round, 5000 + r, &state, &clock, BUDGET);
        if let Some(failure) = result.failure {
            panic!("round {r}: {failure}");
        }
        crossing += result.crossing;
    }
    eprintln!("expiry rounds: {crossing} operations overlapped a clock advance");
    assert!(
        crossing >= 20,
        "too few operations raced the clock: {crossing}"
    );
}

/// Rounds of the conditional writes ([`conditional_op`]) with `set`, `delete`, `incr`, reads and
/// clock advances on two hot keys: every key's history is linearizable.
#[test]
fn real_store_conditional_rounds_are_linearizable() {
    const MIN_ROUNDS: u64 = 10;
    // Until enough operations overlapped and raced an advance: on a loaded machine threads
    // overlap less (12 crossings in 60 rounds at load 9), and a round costs ~10 ms.
    const MAX_ROUNDS: u64 = 1000;
    let round = Round {
        threads: 4,
        ops_per_thread: 100,
        keys: &["x", "y"],
        purge: true,
        advance: true,
        op: conditional_op,
    };
    let clock = TestClock::new();
    let kv = Real(test_store(&clock));
    let mut state: Vec<State> = vec![None; round.keys.len()];
    let (mut rounds, mut events, mut overlapping, mut crossing) = (0, 0, 0, 0);
    while rounds < MIN_ROUNDS || ((overlapping < 1_000 || crossing < 40) && rounds < MAX_ROUNDS) {
        let now = clock.elapsed().as_nanos() as u64;
        let result = run_round(&kv, &round, 7000 + rounds, &state, &clock, BUDGET);
        if let Some(failure) = result.failure {
            panic!("round {rounds} (clock at {now} ns): {failure}");
        }
        events += result.events;
        overlapping += result.overlapping;
        crossing += result.crossing;
        state = result.finals;
        rounds += 1;
        clock.advance(Duration::from_millis(150 * (rounds % 3)));
    }
    eprintln!(
        "conditional rounds: {events} events in {rounds} rounds; {overlapping} operations \
         overlapped another event on the same key, {crossing} overlapped a clock advance"
    );
    assert!(
        overlapping >= 100,
        "too little concurrency: {overlapping} of {events}"
    );
    assert!(
        crossing >= 15,
        "too few operations raced the clock: {crossing}"
    );
}

/// Claims and releases only: `set_if_absent` against `take`, `delete` and reads.
fn claim_op(rng: &mut Rng) -> Op {
    match rng.below(10) {
        0..=4 => Op::SetIfAbsent(V::Int(rng.below(4) as i64), NO_TTL),
        5 | 6 => Op::Take,
        7 => Op::Delete,
        _ => Op::Get,
    }
}

#[test]
fn checker_rejects_a_non_atomic_set_if_absent() {
    let clock = TestClock::new();
    let round = Round {
        threads: 4,
        ops_per_thread: 60,
        keys: &["x", "y"],
        purge: false,
        advance: false,
        op: claim_op,
    };
    let kv = NonAtomicSetIfAbsent(test_store(&clock));
    assert_caught_in(
        &kv,
        &clock,
        "non-atomic set_if_absent",
        &round,
        60,
        |_, _| None,
    );
}

#[test]
fn checker_rejects_a_non_atomic_incr() {
    let clock = TestClock::new();
    assert_caught(
        &NonAtomicIncr(test_store(&clock)),
        &clock,
        "non-atomic incr",
    );
}

#[test]
fn checker_rejects_stale_reads() {
    let clock = TestClock::new();
    let kv = StaleGet {
        store: test_store(&clock),
        cache: Mutex::new(HashMap::new()),
    };
    assert_caught(&kv, &clock, "stale get");
}

fn ev(thread: usize, inv: u64, resp: u64, op: Op, ret: Ret) -> Event {
    Event {
        op,
        ret,
        inv,
        resp,
        thread,
    }
}

#[test]
fn checker_on_hand_made_histories() {
    use Op::{Exists, Expire, Get, Incr, Set, SetTtl};
    let verdict = |h: &[Event], init: State| check(h, &init, 0, BUDGET);
    let expires = |secs| Ret::Ttl(Ttl::Expires(Duration::from_secs(secs)));
    // Two overlapping increments may return 1 and 2 in either order...
    let ok = [
        ev(0, 0, 3, Incr(1), Ret::Int(Ok(2))),
        ev(1, 1, 2, Incr(1), Ret::Int(Ok(1))),
    ];
    assert_eq!(verdict(&ok, None), Verdict::Linearizable);
    // ...but never both 1 (a lost update).
    let lost = [
        ev(0, 0, 3, Incr(1), Ret::Int(Ok(1))),
        ev(1, 1, 2, Incr(1), Ret::Int(Ok(1))),
    ];
    assert_eq!(verdict(&lost, None), Verdict::NotLinearizable);
    // A read overlapping a write may see either value...
    let racy_read = [
        ev(0, 0, 3, Set(V::Int(7)), Ret::Unit),
        ev(1, 1, 2, Get, Ret::Val(Some(V::Int(1)))),
        ev(1, 4, 5, Get, Ret::Val(Some(V::Int(7)))),
    ];
    assert_eq!(
        verdict(&racy_read, Some((V::Int(1), None))),
        Verdict::Linearizable
    );
    // ...but after the write returned, the old value is stale.
    let stale = [
        ev(0, 0, 1, Set(V::Int(7)), Ret::Unit),
        ev(1, 2, 3, Get, Ret::Val(Some(V::Int(1)))),
    ];
    assert_eq!(
        verdict(&stale, Some((V::Int(1), None))),
        Verdict::NotLinearizable
    );
    // Nor may a read see a value before its write was called.
    let from_the_future = [
        ev(1, 0, 1, Get, Ret::Val(Some(V::Int(7)))),
        ev(0, 2, 3, Set(V::Int(7)), Ret::Unit),
    ];
    assert_eq!(verdict(&from_the_future, None), Verdict::NotLinearizable);
    // TTL results follow the frozen clock: set with 2 s at t = 5 s reports 2 s, and expire
    // keeps the value.
    let ttl = [
        ev(0, 0, 1, SetTtl(V::Int(3), 2 * SEC), Ret::Unit),
        ev(0, 2, 3, Op::Ttl, expires(2)),
        ev(1, 4, 7, Expire(SEC), Ret::Bool(true)),
        ev(0, 5, 6, Get, Ret::Val(Some(V::Int(3)))),
        ev(0, 8, 9, Op::Ttl, expires(1)),
    ];
    assert_eq!(check(&ttl, &None, 5 * SEC, BUDGET), Verdict::Linearizable);
    let wrong_ttl = [
        ev(0, 0, 1, SetTtl(V::Int(3), 2 * SEC), Ret::Unit),
        ev(0, 2, 3, Op::Ttl, expires(3)),
    ];
    assert_eq!(
        check(&wrong_ttl, &None, 5 * SEC, BUDGET),
        Verdict::NotLinearizable
    );
    // A key that expired before the round is absent for everyone.
    let expired = [ev(0, 0, 1, Exists, Ret::Bool(true))];
    assert_eq!(
        check(&expired, &Some((V::Int(1), Some(SEC))), SEC, BUDGET),
        Verdict::NotLinearizable
    );
}

/// The conditional writes: for each, a history the checker must accept and one it must reject.
#[test]
fn checker_on_hand_made_histories_of_conditional_writes() {
    use Op::{
        Advance, CompareAndDelete, CompareAndSet, Get, IncrWithTtl, Set, SetIfAbsent, Swap, Take,
        Update,
    };
    let verdict = |h: &[Event], init: State| check(h, &init, 0, BUDGET);
    let one: State = Some((V::Int(1), None));
    let val = |n| Ret::Val(Some(V::Int(n)));
    let ttl = |nanos| Ret::Ttl(Ttl::Expires(Duration::from_nanos(nanos)));

    // set_if_absent: of two overlapping claims of a missing key one wins...
    let claims = [
        ev(0, 0, 3, SetIfAbsent(V::Int(1), NO_TTL), Ret::Bool(true)),
        ev(1, 1, 2, SetIfAbsent(V::Int(2), NO_TTL), Ret::Bool(false)),
        ev(0, 4, 5, Get, val(1)),
    ];
    assert_eq!(verdict(&claims, None), Verdict::Linearizable);
    // ...never both.
    let both = [
        ev(0, 0, 3, SetIfAbsent(V::Int(1), NO_TTL), Ret::Bool(true)),
        ev(1, 1, 2, SetIfAbsent(V::Int(2), NO_TTL), Ret::Bool(true)),
    ];
    assert_eq!(verdict(&both, None), Verdict::NotLinearizable);
    // A zero TTL is expired at once: the claim succeeds, and nobody ever sees its value.
    let zero = |seen| {
        [
            ev(0, 0, 3, SetIfAbsent(V::Int(1), 0), Ret::Bool(true)),
            ev(1, 1, 2, Get, Ret::Val(seen)),
            ev(0, 4, 5, SetIfAbsent(V::Int(2), 0), Ret::Bool(true)),
        ]
    };
    assert_eq!(verdict(&zero(None), None), Verdict::Linearizable);
    assert_eq!(
        verdict(&zero(Some(V::Int(1))), None),
        Verdict::NotLinearizable
    );
    // Its TTL counts from a clock reading during the call: before or after an advance that
    // overlaps it, so 1 s or 0.5 s are left after the advance, but not 0.25 s.
    let window = |left| {
        [
            ev(1, 0, 3, SetIfAbsent(V::Int(1), SEC), Ret::Bool(true)),
            ev(0, 1, 2, Advance(SEC / 2), Ret::Unit),
            ev(1, 4, 5, Op::Ttl, ttl(left)),
        ]
    };
    assert_eq!(verdict(&window(SEC), None), Verdict::Linearizable);
    assert_eq!(verdict(&window(SEC / 2), None), Verdict::Linearizable);
    assert_eq!(verdict(&window(SEC / 4), None), Verdict::NotLinearizable);

    // take: one token, one taker.
    let takes = [
        ev(0, 0, 3, Take, val(1)),
        ev(1, 1, 2, Take, Ret::Val(None)),
        ev(0, 4, 5, Get, Ret::Val(None)),
    ];
    assert_eq!(verdict(&takes, one.clone()), Verdict::Linearizable);
    let taken_twice = [ev(0, 0, 1, Take, val(1)), ev(1, 2, 3, Take, val(1))];
    assert_eq!(verdict(&taken_twice, one.clone()), Verdict::NotLinearizable);

    // compare_and_delete may delete the value it saw while a newer write overlaps it...
    let cad = [
        ev(0, 0, 3, Set(V::Int(2)), Ret::Unit),
        ev(1, 1, 2, CompareAndDelete(V::Int(1)), Ret::Bool(true)),
        ev(0, 4, 5, Get, val(2)),
    ];
    assert_eq!(verdict(&cad, one.clone()), Verdict::Linearizable);
    // ...but never a newer value.
    let cad_newer = [
        ev(0, 0, 1, Set(V::Int(2)), Ret::Unit),
        ev(1, 2, 3, CompareAndDelete(V::Int(1)), Ret::Bool(true)),
    ];
    assert_eq!(verdict(&cad_newer, one.clone()), Verdict::NotLinearizable);

    // compare_and_set: of two overlapping 1 -> _ one succeeds...
    let cas = [
        ev(
            0,
            0,
            3,
            CompareAndSet(V::Int(1), V::Int(2)),
            Ret::Bool(true),
        ),
        ev(
            1,
            1,
            2,
            CompareAndSet(V::Int(1), V::Int(3)),
            Ret::Bool(false),
        ),
        ev(0, 4, 5, Get, val(2)),
    ];
    assert_eq!(verdict(&cas, one.clone()), Verdict::Linearizable);
    // ...never both.
    let cas_both = [
        ev(
            0,
            0,
            3,
            CompareAndSet(V::Int(1), V::Int(2)),
            Ret::Bool(true),
        ),
        ev(
            1,
            1,
            2,
            CompareAndSet(V::Int(1), V::Int(2)),
            Ret::Bool(true),
        ),
    ];
    assert_eq!(verdict(&cas_both, one.clone()), Verdict::NotLinearizable);

    // swap returns what it replaced, in some order of overlapping swaps...
    let swaps = [
        ev(0, 0, 3, Swap(V::Int(2), NO_TTL), val(3)),
        ev(1, 1, 2, Swap(V::Int(3), NO_TTL), val(1)),
        ev(0, 4, 5, Get, val(2)),
    ];
    assert_eq!(verdict(&swaps, one.clone()), Verdict::Linearizable);
    // ...never a value already replaced.
    let stale_swap = [
        ev(0, 0, 1, Set(V::Int(2)), Ret::Unit),
        ev(1, 2, 3, Swap(V::Int(3), NO_TTL), val(1)),
    ];
    assert_eq!(verdict(&stale_swap, one.clone()), Verdict::NotLinearizable);

    // update (+10): overlapping updates both apply...
    let updates = [ev(0, 0, 3, Update, val(21)), ev(1, 1, 2, Update, val(11))];
    assert_eq!(verdict(&updates, one.clone()), Verdict::Linearizable);
    // ...none is lost.
    let lost = [ev(0, 0, 3, Update, val(11)), ev(1, 1, 2, Update, val(11))];
    assert_eq!(verdict(&lost, one.clone()), Verdict::NotLinearizable);

    // incr_with_ttl: the key it creates gets the TTL, a live key keeps its own...
    let counted = [
        ev(0, 0, 1, IncrWithTtl(1, 2 * SEC), Ret::Int(Ok(1))),
        ev(0, 2, 3, Op::Ttl, ttl(2 * SEC)),
        ev(0, 4, 5, IncrWithTtl(1, 5 * SEC), Ret::Int(Ok(2))),
        ev(0, 6, 7, Op::Ttl, ttl(2 * SEC)),
    ];
    assert_eq!(verdict(&counted, None), Verdict::Linearizable);
    // ...so a live key without a TTL gets none.
    let given_a_ttl = [
        ev(0, 0, 1, IncrWithTtl(1, 2 * SEC), Ret::Int(Ok(2))),
        ev(0, 2, 3, Op::Ttl, ttl(2 * SEC)),
    ];
    assert_eq!(verdict(&given_a_ttl, one), Verdict::NotLinearizable);
}
