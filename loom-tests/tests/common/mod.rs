//! Shared harness of the loom models: run a small concurrent history against a real `Store` under
//! loom, then check that the history is **linearizable** against a sequential specification of
//! the store written from the crate's documented contract (`Spec` below).
//!
//! # How a model is checked
//!
//! A [`Scenario`] is three phases: `setup` (sequential, before any thread is spawned), `threads`
//! (each list runs on its own thread; the first list runs on the model's main thread, the others
//! on spawned loom threads, all concurrently), and `finish` (sequential, after every join). Every
//! operation is recorded as an [`Event`] with its result and an interval `[start, end]` taken from
//! a shared loom `AtomicU64` bumped with `SeqCst` `fetch_add` just before the call and just after
//! the return. Those read-modify-writes form one release sequence, so "`a` ended before `b`
//! started" (`a.end < b.start`) means the end of `a` *happens before* the start of `b`: exactly
//! the real-time order linearizability is defined over. (The order in which loom happens to run
//! the threads is not enough: without a happens-before edge a thread may legally read an older
//! value of the clock or of a slot, and the store does not promise otherwise. The counter adds
//! synchronization only between operations, never inside one.) The checker then searches for a sequential order of all
//! events that respects real time (an event that ended before another started comes first) and in
//! which the specification returns exactly the observed results. If none exists, the model fails
//! with the whole history.
//!
//! Two operations are not single-key and are specified per key, as the crate docs state them:
//!
//! - `clear` is "not a snapshot": it is checked as one independent "remove this key" step per
//!   key, each placed anywhere inside the call's interval;
//! - `purge_expired` run concurrently with other operations may remove any subset of the keys
//!   that are expired at the instant it looks at each of them, and never a live one; the count it
//!   returns must match. A purge in the `setup`/`finish` phases ([`Op::PurgeAll`]) runs alone and
//!   must remove exactly the expired keys: that is the "never misses an expired key forever"
//!   check.
//!
//! - `keys` is "not a snapshot" either: it is checked as one step per key placed anywhere inside
//!   the call: a key it listed must be live at that step, a key it did not list absent. So a
//!   listed key was live at some instant of the call and an unlisted one absent at some instant:
//!   exactly "every key live for the whole call, none absent for the whole call".
//!
//! Time: the store runs on a `TestClock` (a loom atomic under the cfg); [`Op::Advance`] is an
//! event like any other, and the specification's clock moves at its linearization point. Every
//! judgment of expiry happens at a linearization point, against the specification's clock then.
//! `set_with_ttl`'s TTL counts from a clock reading taken during the call, before its write, so
//! the specification lets its deadline start from any value the clock held between the call and
//! the linearization point (the clock values in between are known: the checker tracks the
//! clock's history, and the call's lower bound is the sum of the advances that returned before
//! it began).
//!
//! A failing model panics with the history, as an ordinary test failure: loom stops at the first
//! failing execution, and the test binary goes on with its other models.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scriptling_kv::{Error, Store, TestClock, Ttl, Value};

/// One second of the test clock, in nanoseconds.
pub const SEC: u64 = 1_000_000_000;
const NEVER: u64 = u64::MAX;

/// An operation of a scenario (keys are static names, TTLs and clock steps whole seconds).
#[derive(Clone, Debug)]
pub enum Op {
    /// `set(key, value)`.
    Set(&'static str, Value),
    /// `set_with_ttl(key, value, secs)`.
    SetTtl(&'static str, Value, u64),
    /// `get(key)`.
    Get(&'static str),
    /// `exists(key)`.
    Exists(&'static str),
    /// `ttl(key)`.
    Ttl(&'static str),
    /// `incr(key, delta)`.
    Incr(&'static str, i64),
    /// `delete(key)`.
    Delete(&'static str),
    /// `expire(key, secs)`.
    Expire(&'static str, u64),
    /// `persist(key)`.
    Persist(&'static str),
    /// `clear()`.
    Clear,
    /// `purge_expired()` racing other operations: may skip expired keys, never removes a live one.
    Purge,
    /// `purge_expired()` with nothing running concurrently: removes exactly the expired keys.
    PurgeAll,
    /// `TestClock::advance(secs)`.
    Advance(u64),
    /// `len()`: entries held (expired but unpurged entries count).
    Len,
    /// `keys(pattern)`.
    Keys(&'static str),
    /// `set_if_absent(key, value, secs)`.
    SetIfAbsent(&'static str, Value, u64),
    /// `swap(key, value, secs)`.
    Swap(&'static str, Value, u64),
    /// `take(key)`.
    Take(&'static str),
    /// `compare_and_set(key, expected, new)`.
    CompareAndSet(&'static str, Value, Value),
    /// `compare_and_delete(key, expected)`.
    CompareAndDelete(&'static str, Value),
    /// `incr_with_ttl(key, delta, secs)`.
    IncrWithTtl(&'static str, i64, u64),
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq)]
pub enum Ret {
    /// `()`.
    Unit,
    /// A `bool`.
    Bool(bool),
    /// `incr`'s result.
    Incr(Result<i64, Error>),
    /// `get`'s result.
    Value(Option<Value>),
    /// `ttl`'s result.
    Ttl(Ttl),
    /// A count (`len`, `purge_expired`).
    Count(usize),
    /// `keys`'s result.
    Keys(Vec<String>),
}

/// One recorded operation.
#[derive(Clone, Debug)]
pub struct Event {
    /// 0 for setup/finish and the main model thread's list, else the spawned thread's number.
    pub thread: usize,
    /// Stamp taken just before the call.
    pub start: u64,
    /// Stamp taken just after the return.
    pub end: u64,
    /// The operation.
    pub op: Op,
    /// Its result.
    pub ret: Ret,
}

/// A model: sequential setup, concurrent thread lists, sequential finish.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Run before the threads start.
    pub setup: Vec<Op>,
    /// `threads[0]` runs on the model's main thread, the others on spawned threads.
    pub threads: Vec<Vec<Op>>,
    /// Run after every thread joined.
    pub finish: Vec<Op>,
}

/// The real-time stamp counter of one execution (see the module docs).
pub type Stamps = loom::sync::Arc<loom::sync::atomic::AtomicU64>;

fn stamp(stamps: &Stamps) -> u64 {
    stamps.fetch_add(1, Ordering::SeqCst)
}

/// Runs `op` on the real store and records it.
pub fn run_op(store: &Store, clock: &TestClock, stamps: &Stamps, thread: usize, op: &Op) -> Event {
    let start = stamp(stamps);
    let ret = match op {
        Op::Set(k, v) => {
            store.set(k, v.clone());
            Ret::Unit
        }
        Op::SetTtl(k, v, s) => {
            store.set_with_ttl(k, v.clone(), secs(*s));
            Ret::Unit
        }
        Op::Get(k) => Ret::Value(store.get(k)),
        Op::Exists(k) => Ret::Bool(store.exists(k)),
        Op::Ttl(k) => Ret::Ttl(store.ttl(k)),
        Op::Incr(k, d) => Ret::Incr(store.incr(k, *d)),
        Op::Delete(k) => Ret::Bool(store.delete(k)),
        Op::Expire(k, s) => Ret::Bool(store.expire(k, secs(*s))),
        Op::Persist(k) => Ret::Bool(store.persist(k)),
        Op::Clear => {
            store.clear();
            Ret::Unit
        }
        Op::Purge | Op::PurgeAll => Ret::Count(store.purge_expired()),
        Op::Advance(s) => {
            clock.advance(Duration::from_secs(*s));
            Ret::Unit
        }
        Op::Len => Ret::Count(store.len()),
        Op::Keys(p) => Ret::Keys(store.keys(p).expect("models use valid patterns")),
        Op::SetIfAbsent(k, v, s) => Ret::Bool(store.set_if_absent(k, v.clone(), ttl_arg(*s))),
        Op::Swap(k, v, s) => Ret::Value(store.swap(k, v.clone(), ttl_arg(*s))),
        Op::Take(k) => Ret::Value(store.take(k)),
        Op::CompareAndSet(k, e, v) => Ret::Bool(store.compare_and_set(k, e, v.clone())),
        Op::CompareAndDelete(k, e) => Ret::Bool(store.compare_and_delete(k, e)),
        Op::IncrWithTtl(k, d, s) => Ret::Incr(store.incr_with_ttl(k, *d, secs(*s))),
    };
    let end = stamp(stamps);
    Event {
        thread,
        start,
        end,
        op: op.clone(),
        ret,
    }
}

fn secs(s: u64) -> Duration {
    assert_ne!(
        s, 0,
        "scenarios use nonzero TTLs (zero TTLs have their own model, ttl.rs)"
    );
    Duration::from_secs(s)
}

/// A scenario's TTL as an `Option<Duration>` argument: 0 is no expiry (`None`).
fn ttl_arg(s: u64) -> Option<Duration> {
    (s != 0).then(|| Duration::from_secs(s))
}

/// The store every model runs on: test clock, no cleaner thread.
pub fn new_store() -> (Store, TestClock) {
    let clock = TestClock::new();
    let store = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build();
    (store, clock)
}

/// A loom builder with this model's default preemption bound, unless `LOOM_MAX_PREEMPTIONS` is
/// set in the environment (which wins).
pub fn builder(default_preemptions: usize) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(default_preemptions);
    }
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        b.max_branches = 10_000;
    }
    b
}

/// Runs one execution of `scenario` on a fresh store and returns its history. Must be called
/// inside a loom model.
pub fn execute(scenario: &Scenario) -> Vec<Event> {
    let (store, clock) = new_store();
    let stamps = Stamps::default();
    let mut events: Vec<Event> = scenario
        .setup
        .iter()
        .map(|op| run_op(&store, &clock, &stamps, 0, op))
        .collect();
    let handles: Vec<_> = scenario.threads[1..]
        .iter()
        .enumerate()
        .map(|(i, ops)| {
            let (store, clock, stamps, ops) =
                (store.clone(), clock.clone(), stamps.clone(), ops.clone());
            loom::thread::spawn(move || {
                ops.iter()
                    .map(|op| run_op(&store, &clock, &stamps, i + 1, op))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for op in &scenario.threads[0] {
        events.push(run_op(&store, &clock, &stamps, 0, op));
    }
    for h in handles {
        events.extend(h.join().expect("model thread panicked"));
    }
    for op in &scenario.finish {
        events.push(run_op(&store, &clock, &stamps, 0, op));
    }
    events
}

/// Checks `scenario` under loom: every execution's history must be linearizable.
pub fn check(name: &'static str, default_preemptions: usize, scenario: Scenario) {
    model(name, default_preemptions, move || {
        let events = execute(&scenario);
        linearizable(&events).map_err(|report| format!("history is not linearizable\n{report}"))
    });
}

/// Runs `body` as a loom model: an `Err(reason)` from any execution fails the model at once with
/// a panic `"{name}: {reason}"`, which reaches the test harness as an ordinary test failure (the
/// store keeps crossbeam-epoch's state inside itself under loom, so nothing of it is torn down
/// outside the execution; see `src/table.rs`).
pub fn model<F>(name: &'static str, default_preemptions: usize, body: F)
where
    F: Fn() -> Result<(), String> + Send + Sync + 'static,
{
    let executions = std::sync::Arc::new(AtomicU64::new(0));
    let counter = executions.clone();
    builder(default_preemptions).check(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if let Err(reason) = body() {
            panic!("{name}: {reason}\n(in execution {n})");
        }
    });
    report_executions(name, executions.load(Ordering::SeqCst));
}

/// Prints how many executions a model explored (shown with `--nocapture`).
pub fn report_executions(name: &str, n: u64) {
    println!("model {name}: {n} executions explored");
}

// ---------------------------------------------------------------------------------------------
// The sequential specification (the crate docs: `Store` and "Consistency").

/// The store as its docs describe it: time, and the entries held (live or expired-but-unpurged).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Spec {
    now: u64,
    /// Every value the clock has held, in order (starts at 0).
    clocks: Vec<u64>,
    map: BTreeMap<&'static str, (Value, u64)>,
}

impl Spec {
    fn live(&self, k: &str) -> Option<&(Value, u64)> {
        self.map.get(k).filter(|(_, d)| *d > self.now)
    }

    fn deadline(&self, secs: u64) -> u64 {
        self.deadline_from(self.now, secs)
    }

    fn deadline_from(&self, base: u64, secs: u64) -> u64 {
        if secs == 0 {
            NEVER
        } else {
            base + secs * SEC
        }
    }

    /// The states `op` may lead to (with its result): one for every operation but
    /// `set_with_ttl`, whose TTL may count from any clock value since `lowest` (module docs).
    fn successors(&self, op: &Op, lowest: u64) -> Vec<(Spec, Ret)> {
        match op {
            Op::Swap(k, v, s) => {
                // As `set_with_ttl` (its TTL counts from a reading during the call), returning the
                // live value it replaced.
                let old = self.live(k).map(|(v, _)| v.clone());
                self.successors(&Op::SetTtl(k, v.clone(), *s), lowest)
                    .into_iter()
                    .map(|(next, _)| (next, Ret::Value(old.clone())))
                    .collect()
            }
            Op::SetTtl(k, v, s) => {
                let mut bases: Vec<u64> = self
                    .clocks
                    .iter()
                    .copied()
                    .chain([self.now])
                    .filter(|&c| c >= lowest)
                    .collect();
                bases.dedup();
                bases
                    .into_iter()
                    .map(|base| {
                        let mut next = self.clone();
                        let d = next.deadline_from(base, *s);
                        next.map.insert(k, (v.clone(), d));
                        (next, Ret::Unit)
                    })
                    .collect()
            }
            _ => {
                let mut next = self.clone();
                let ret = next.apply(op);
                vec![(next, ret)]
            }
        }
    }

    fn expired_keys(&self) -> Vec<&'static str> {
        self.map
            .iter()
            .filter(|(_, (_, d))| *d <= self.now)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Applies a deterministic single-key operation; returns its result.
    fn apply(&mut self, op: &Op) -> Ret {
        match op {
            Op::Set(k, v) => {
                self.map.insert(k, (v.clone(), NEVER));
                Ret::Unit
            }
            Op::SetTtl(k, v, s) => {
                let d = self.deadline(*s);
                self.map.insert(k, (v.clone(), d));
                Ret::Unit
            }
            Op::Get(k) => Ret::Value(self.live(k).map(|(v, _)| v.clone())),
            Op::Exists(k) => Ret::Bool(self.live(k).is_some()),
            Op::Ttl(k) => Ret::Ttl(match self.live(k) {
                None => Ttl::Missing,
                Some((_, NEVER)) => Ttl::Persistent,
                Some((_, d)) => Ttl::Expires(Duration::from_nanos(d - self.now)),
            }),
            Op::Incr(k, delta) => match self.live(k).cloned() {
                None => {
                    self.map.insert(k, (Value::Int(*delta), NEVER));
                    Ret::Incr(Ok(*delta))
                }
                Some((Value::Int(n), d)) => match n.checked_add(*delta) {
                    Some(sum) => {
                        self.map.insert(k, (Value::Int(sum), d));
                        Ret::Incr(Ok(sum))
                    }
                    None => Ret::Incr(Err(Error::Overflow)),
                },
                Some(_) => Ret::Incr(Err(Error::NotAnInteger)),
            },
            Op::Delete(k) => {
                let was_live = self.live(k).is_some();
                self.map.remove(k);
                Ret::Bool(was_live)
            }
            Op::Expire(k, s) => match self.live(k).cloned() {
                None => Ret::Bool(false),
                Some((v, _)) => {
                    let d = self.deadline(*s);
                    self.map.insert(k, (v, d));
                    Ret::Bool(true)
                }
            },
            Op::Persist(k) => match self.live(k).cloned() {
                Some((v, d)) if d != NEVER => {
                    self.map.insert(k, (v, NEVER));
                    Ret::Bool(true)
                }
                _ => Ret::Bool(false),
            },
            Op::SetIfAbsent(k, v, s) => {
                if self.live(k).is_some() {
                    Ret::Bool(false)
                } else {
                    let d = self.deadline(*s);
                    self.map.insert(k, (v.clone(), d));
                    Ret::Bool(true)
                }
            }
            Op::Take(k) => {
                let old = self.live(k).map(|(v, _)| v.clone());
                if old.is_some() {
                    self.map.remove(k);
                }
                Ret::Value(old)
            }
            Op::CompareAndSet(k, e, v) => match self.live(k).cloned() {
                Some((cur, d)) if cur == *e => {
                    self.map.insert(k, (v.clone(), d));
                    Ret::Bool(true)
                }
                _ => Ret::Bool(false),
            },
            Op::CompareAndDelete(k, e) => match self.live(k) {
                Some((cur, _)) if cur == e => {
                    self.map.remove(k);
                    Ret::Bool(true)
                }
                _ => Ret::Bool(false),
            },
            Op::IncrWithTtl(k, delta, s) => match self.live(k).cloned() {
                None => {
                    let d = self.deadline(*s);
                    self.map.insert(k, (Value::Int(*delta), d));
                    Ret::Incr(Ok(*delta))
                }
                Some((Value::Int(n), d)) => match n.checked_add(*delta) {
                    Some(sum) => {
                        self.map.insert(k, (Value::Int(sum), d));
                        Ret::Incr(Ok(sum))
                    }
                    None => Ret::Incr(Err(Error::Overflow)),
                },
                Some(_) => Ret::Incr(Err(Error::NotAnInteger)),
            },
            Op::PurgeAll => {
                let expired = self.expired_keys();
                for k in &expired {
                    self.map.remove(k);
                }
                Ret::Count(expired.len())
            }
            Op::Advance(s) => {
                self.now += s * SEC;
                self.clocks.push(self.now);
                Ret::Unit
            }
            Op::Len => Ret::Count(self.map.len()),
            Op::Clear | Op::Purge | Op::Keys(_) => unreachable!("per-key operations are expanded"),
            Op::Swap(..) => unreachable!("swap is in `successors`"),
        }
    }
}

fn op_key(op: &Op) -> Option<&'static str> {
    match op {
        Op::Set(k, _)
        | Op::SetTtl(k, _, _)
        | Op::Get(k)
        | Op::Exists(k)
        | Op::Ttl(k)
        | Op::Incr(k, _)
        | Op::Delete(k)
        | Op::Expire(k, _)
        | Op::Persist(k)
        | Op::SetIfAbsent(k, _, _)
        | Op::Swap(k, _, _)
        | Op::Take(k)
        | Op::CompareAndSet(k, _, _)
        | Op::CompareAndDelete(k, _)
        | Op::IncrWithTtl(k, _, _) => Some(k),
        _ => None,
    }
}

/// A step of the search: a whole event, or one key's part of a `clear`/`purge`.
#[derive(Clone, Copy, Debug)]
struct Item {
    event: usize,
    key: Option<&'static str>,
}

struct Search<'a> {
    events: &'a [Event],
    items: Vec<Item>,
    /// For each item, the items that must come before it (real-time order).
    preds: Vec<u128>,
    /// Items of each event.
    of_event: Vec<u128>,
    /// For each event, the least clock value at its call.
    lowest: Vec<u64>,
    seen: HashSet<(u128, String, Vec<usize>)>,
}

/// Whether `events` is linearizable against [`Spec`]; on failure, a printable report.
pub fn linearizable(events: &[Event]) -> Result<(), String> {
    let keys: BTreeSet<&'static str> = events.iter().filter_map(|e| op_key(&e.op)).collect();
    for e in events {
        if let Ret::Keys(listed) = &e.ret {
            let sorted = listed.windows(2).all(|w| w[0] < w[1]);
            let known = listed.iter().all(|l| keys.contains(l.as_str()));
            if !sorted || !known {
                return Err(format!(
                    "keys returned {listed:?}: not sorted without duplicates, or a key nobody wrote"
                ));
            }
        }
    }
    let mut items = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match e.op {
            Op::Clear | Op::Purge | Op::Keys(_) => {
                for k in &keys {
                    items.push(Item {
                        event: i,
                        key: Some(k),
                    });
                }
            }
            _ => items.push(Item {
                event: i,
                key: None,
            }),
        }
    }
    assert!(items.len() <= 128, "history too long for the checker");
    let mut of_event = vec![0u128; events.len()];
    for (n, it) in items.iter().enumerate() {
        of_event[it.event] |= 1 << n;
    }
    let preds = items
        .iter()
        .map(|it| {
            let me = &events[it.event];
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| e.end < me.start)
                .fold(0u128, |m, (j, _)| m | of_event[j])
        })
        .collect();
    // The clock at each event's call is at least the sum of the advances that returned before.
    let lowest = events
        .iter()
        .map(|me| {
            events
                .iter()
                .filter(|e| e.end < me.start)
                .map(|e| match e.op {
                    Op::Advance(s) => s * SEC,
                    _ => 0,
                })
                .sum()
        })
        .collect();
    let mut s = Search {
        events,
        items,
        preds,
        of_event,
        lowest,
        seen: HashSet::new(),
    };
    let purged = vec![0usize; events.len()];
    let start = Spec {
        clocks: vec![0],
        ..Spec::default()
    };
    if s.dfs(0, &start, &purged) {
        return Ok(());
    }
    let mut report = String::from("events (thread [start,end] op -> result):\n");
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.start);
    for e in sorted {
        let _ = writeln!(
            report,
            "  t{} [{},{}] {:?} -> {:?}",
            e.thread, e.start, e.end, e.op, e.ret
        );
    }
    Err(report)
}

impl Search<'_> {
    fn dfs(&mut self, done: u128, spec: &Spec, purged: &[usize]) -> bool {
        let all = if self.items.len() == 128 {
            u128::MAX
        } else {
            (1u128 << self.items.len()) - 1
        };
        if done == all {
            return true;
        }
        if !self
            .seen
            .insert((done, format!("{spec:?}"), purged.to_vec()))
        {
            return false;
        }
        for n in 0..self.items.len() {
            if done & (1 << n) != 0 || self.preds[n] & !done != 0 {
                continue;
            }
            let item = self.items[n];
            let event = &self.events[item.event];
            let done2 = done | (1 << n);
            let finished = done2 & self.of_event[item.event] == self.of_event[item.event];
            match (&event.op, item.key) {
                (Op::Clear, Some(k)) => {
                    let mut next = spec.clone();
                    next.map.remove(k);
                    if self.dfs(done2, &next, purged) {
                        return true;
                    }
                }
                (Op::Purge, Some(k)) => {
                    let Ret::Count(want) = event.ret else {
                        return false;
                    };
                    let expired = spec.map.get(k).is_some_and(|(_, d)| *d <= spec.now);
                    // Either this purge left the key alone, or (if it is expired now) removed it.
                    for remove in [false, true] {
                        if remove && !expired {
                            continue;
                        }
                        let mut counts = purged.to_vec();
                        counts[item.event] += usize::from(remove);
                        if counts[item.event] > want || (finished && counts[item.event] != want) {
                            continue;
                        }
                        let mut next = spec.clone();
                        if remove {
                            next.map.remove(k);
                        }
                        if self.dfs(done2, &next, &counts) {
                            return true;
                        }
                    }
                }
                (Op::Keys(_), Some(k)) => {
                    let Ret::Keys(listed) = &event.ret else {
                        return false;
                    };
                    let listed = listed.iter().any(|l| l == k);
                    if listed == spec.live(k).is_some() && self.dfs(done2, spec, purged) {
                        return true;
                    }
                }
                (op, _) => {
                    for (next, ret) in spec.successors(op, self.lowest[item.event]) {
                        if ret == event.ret && self.dfs(done2, &next, purged) {
                            return true;
                        }
                    }
                }
            }
        }
        false
    }
}

/// Builds a scenario from slices.
pub fn scenario(setup: &[Op], threads: &[&[Op]], finish: &[Op]) -> Scenario {
    Scenario {
        setup: setup.to_vec(),
        threads: threads.iter().map(|t| t.to_vec()).collect(),
        finish: finish.to_vec(),
    }
}

/// `Value::Str`.
pub fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

/// `Value::Int`.
pub fn int(n: i64) -> Value {
    Value::Int(n)
}
