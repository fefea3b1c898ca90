//! Shared by the bench binaries: the [`Contender`] trait with one impl per store under test, the
//! run-mode switches (`BENCH_QUICK`, `BENCH_OUT`), and small measurement helpers.
//!
//! Every contender is given *our* semantics: a [`Value`] plus an optional deadline, an expired
//! key is absent for every operation, `incr` is atomic (missing or expired key: created holding
//! `delta` with no TTL; an integer keeps its TTL; anything else is an error). The map-based
//! contenders store `Item { value, deadline: Option<Instant> }` and check the deadline on read
//! (reading the clock only when there is a deadline, as the store does); their purge is the
//! "walk the whole map" kind (`retain`), because that is all a plain map offers. moka brings its
//! own per-entry expiry (`Expiry`) and its own timer wheel (`run_pending_tasks`).
//!
//! `keys(pattern)`: the store gets a real glob; the peers only implement the `prefix*` patterns
//! the benches use (a `starts_with` filter), which is the cheapest a glob can be for them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use ahash::RandomState;
use scriptling_kv::{Error, Store, Value};

/// The operations every workload runs, with the store's semantics.
pub(crate) trait Contender: Send + Sync + 'static {
    /// Name in tables and plots.
    const NAME: &'static str;
    /// An empty instance with default settings (no pre-sizing).
    fn build() -> Self;
    /// The value, if live.
    fn get(&self, key: &str) -> Option<Value>;
    /// Stores with no expiry.
    fn set(&self, key: &str, value: Value);
    /// Stores with a TTL.
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration);
    /// Removes; whether a live key was removed.
    fn delete(&self, key: &str) -> bool;
    /// Atomic add with the store's semantics.
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error>;
    /// Live keys matching `pattern` (peers: `prefix*` only), sorted.
    fn keys(&self, pattern: &str) -> Vec<String>;
    /// Removes expired entries; returns how many.
    fn purge(&self) -> usize;
    /// Entries held (may count expired ones).
    fn len(&self) -> usize;
}

/// The prefix of a `prefix*` pattern (the only kind the peers implement).
fn prefix_of(pattern: &str) -> &str {
    let prefix = pattern
        .strip_suffix('*')
        .expect("peer keys(): only `prefix*` patterns are implemented");
    assert!(
        !prefix.contains(['*', '?', '[', '\\']),
        "peer keys(): only `prefix*` patterns are implemented"
    );
    prefix
}

// ---------------------------------------------------------------------------------------------
// scriptling-kv

/// This crate, with defaults except the background cleaner (off, so that no contender has a
/// thread doing work behind the measured ones; the purge benches call `purge_expired` directly).
pub(crate) struct Ours(pub(crate) Store);

impl Contender for Ours {
    const NAME: &'static str = "scriptling-kv";
    fn build() -> Self {
        Ours(Store::builder().background_cleanup(false).build())
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.get(key)
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        self.0.set(key, value)
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        self.0.set_with_ttl(key, value, ttl)
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        self.0.delete(key)
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        self.0.incr(key, delta)
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        self.0.keys(pattern).expect("valid pattern")
    }
    fn purge(&self) -> usize {
        self.0.purge_expired()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Map-based peers: value + optional deadline, checked on read.

/// What the map-based peers store per key.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    value: Value,
    deadline: Option<Instant>,
}

impl Item {
    #[inline]
    fn new(value: Value, ttl: Option<Duration>) -> Self {
        Item {
            value,
            deadline: ttl.map(|d| Instant::now() + d),
        }
    }

    /// Live now? Reads the clock only if there is a deadline (as the store does).
    #[inline]
    fn live(&self) -> bool {
        self.deadline.is_none_or(|d| Instant::now() < d)
    }

    #[inline]
    fn live_value(&self) -> Option<Value> {
        self.live().then(|| self.value.clone())
    }
}

/// `incr` on an item in place, with the store's semantics (expired: restart at `delta`, no TTL).
#[inline]
fn bump_in_place(item: &mut Item, delta: i64) -> Result<i64, Error> {
    if !item.live() {
        *item = Item::new(Value::Int(delta), None);
        return Ok(delta);
    }
    match &mut item.value {
        Value::Int(n) => {
            *n = n.checked_add(delta).ok_or(Error::Overflow)?;
            Ok(*n)
        }
        _ => Err(Error::NotAnInteger),
    }
}

/// `incr` producing a new item from the current one (for the copy-on-write maps).
#[inline]
fn bumped(current: Option<&Item>, delta: i64) -> Result<Item, Error> {
    match current.filter(|it| it.live()) {
        None => Ok(Item::new(Value::Int(delta), None)),
        Some(Item {
            value: Value::Int(n),
            deadline,
        }) => Ok(Item {
            value: Value::Int(n.checked_add(delta).ok_or(Error::Overflow)?),
            deadline: *deadline,
        }),
        Some(_) => Err(Error::NotAnInteger),
    }
}

fn int_of(item: &Item) -> i64 {
    match item.value {
        Value::Int(n) => n,
        _ => unreachable!("incr stores integers"),
    }
}

/// Sorted live keys with `prefix` from an iterator over the map.
fn collect_keys<'a>(prefix: &str, it: impl Iterator<Item = (&'a str, &'a Item)>) -> Vec<String> {
    let mut out: Vec<String> = it
        .filter(|(k, v)| k.starts_with(prefix) && v.live())
        .map(|(k, _)| k.to_owned())
        .collect();
    out.sort_unstable();
    out
}

/// `dashmap::DashMap` (sharded `RwLock`s).
pub(crate) struct Dash(dashmap::DashMap<String, Item, RandomState>);

impl Contender for Dash {
    const NAME: &'static str = "dashmap";
    fn build() -> Self {
        Dash(dashmap::DashMap::with_hasher(RandomState::new()))
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.get(key).and_then(|r| r.live_value())
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        self.0.insert(key.to_owned(), Item::new(value, None));
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        self.0.insert(key.to_owned(), Item::new(value, Some(ttl)));
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        self.0.remove(key).is_some_and(|(_, it)| it.live())
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        if let Some(mut r) = self.0.get_mut(key) {
            return bump_in_place(&mut r, delta);
        }
        match self.0.entry(key.to_owned()) {
            dashmap::Entry::Occupied(mut o) => bump_in_place(o.get_mut(), delta),
            dashmap::Entry::Vacant(v) => {
                v.insert(Item::new(Value::Int(delta), None));
                Ok(delta)
            }
        }
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        let prefix = prefix_of(pattern);
        let mut out: Vec<String> = self
            .0
            .iter()
            .filter(|r| r.key().starts_with(prefix) && r.value().live())
            .map(|r| r.key().clone())
            .collect();
        out.sort_unstable();
        out
    }
    fn purge(&self) -> usize {
        let before = self.0.len();
        self.0.retain(|_, v| v.live());
        before - self.0.len()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// `papaya::HashMap` (lock-free reads, copy-on-write values).
pub(crate) struct Papaya(papaya::HashMap<String, Item, RandomState>);

impl Contender for Papaya {
    const NAME: &'static str = "papaya";
    fn build() -> Self {
        Papaya(papaya::HashMap::with_hasher(RandomState::new()))
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.pin().get(key).and_then(Item::live_value)
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        self.0.pin().insert(key.to_owned(), Item::new(value, None));
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        self.0
            .pin()
            .insert(key.to_owned(), Item::new(value, Some(ttl)));
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        self.0.pin().remove(key).is_some_and(Item::live)
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        use papaya::{Compute, Operation};
        // `compute` takes the key by value: papaya's only atomic read-modify-write.
        let map = self.0.pin();
        match map.compute(key.to_owned(), |cur| {
            match bumped(cur.map(|(_, v)| v), delta) {
                Ok(item) => Operation::Insert(item),
                Err(e) => Operation::Abort(e),
            }
        }) {
            Compute::Inserted(_, v) | Compute::Updated { new: (_, v), .. } => Ok(int_of(v)),
            Compute::Aborted(e) => Err(e),
            Compute::Removed(..) => unreachable!("incr never removes"),
        }
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        let map = self.0.pin();
        collect_keys(prefix_of(pattern), map.iter().map(|(k, v)| (k.as_str(), v)))
    }
    fn purge(&self) -> usize {
        let map = self.0.pin();
        let before = map.len();
        map.retain(|_, v| v.live());
        before - map.len()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// `scc::HashMap` (bucket locks, lock-free reads through `read`).
pub(crate) struct Scc(scc::HashMap<String, Item, RandomState>);

impl Contender for Scc {
    const NAME: &'static str = "scc";
    fn build() -> Self {
        Scc(scc::HashMap::with_hasher(RandomState::new()))
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.read(key, |_, v| v.live_value()).flatten()
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        self.0.upsert(key.to_owned(), Item::new(value, None));
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        self.0.upsert(key.to_owned(), Item::new(value, Some(ttl)));
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        self.0.remove(key).is_some_and(|(_, it)| it.live())
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        if let Some(r) = self.0.update(key, |_, v| bump_in_place(v, delta)) {
            return r;
        }
        match self.0.entry(key.to_owned()) {
            scc::hash_map::Entry::Occupied(mut o) => bump_in_place(o.get_mut(), delta),
            scc::hash_map::Entry::Vacant(v) => {
                v.insert_entry(Item::new(Value::Int(delta), None));
                Ok(delta)
            }
        }
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        let prefix = prefix_of(pattern);
        let mut out = Vec::new();
        self.0.scan(|k, v| {
            if k.starts_with(prefix) && v.live() {
                out.push(k.clone());
            }
        });
        out.sort_unstable();
        out
    }
    fn purge(&self) -> usize {
        let mut removed = 0;
        self.0.retain(|_, v| {
            let keep = v.live();
            removed += usize::from(!keep);
            keep
        });
        removed
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// `Mutex<HashMap>` (std), with the whole-map walk as its purge.
pub(crate) struct MutexMap(Mutex<HashMap<String, Item, RandomState>>);

impl Contender for MutexMap {
    const NAME: &'static str = "Mutex<HashMap>";
    fn build() -> Self {
        MutexMap(Mutex::new(HashMap::with_hasher(RandomState::new())))
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.lock().unwrap().get(key).and_then(Item::live_value)
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        let item = Item::new(value, None);
        let key = key.to_owned();
        self.0.lock().unwrap().insert(key, item);
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        let item = Item::new(value, Some(ttl));
        let key = key.to_owned();
        self.0.lock().unwrap().insert(key, item);
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        let old = self.0.lock().unwrap().remove(key);
        old.is_some_and(|it| it.live())
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        let mut map = self.0.lock().unwrap();
        match map.get_mut(key) {
            Some(item) => bump_in_place(item, delta),
            None => {
                map.insert(key.to_owned(), Item::new(Value::Int(delta), None));
                Ok(delta)
            }
        }
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        let map = self.0.lock().unwrap();
        collect_keys(prefix_of(pattern), map.iter().map(|(k, v)| (k.as_str(), v)))
    }
    fn purge(&self) -> usize {
        let mut map = self.0.lock().unwrap();
        let before = map.len();
        map.retain(|_, v| v.live());
        before - map.len()
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// `RwLock<HashMap>` (std), with the whole-map walk as its purge.
pub(crate) struct RwMap(RwLock<HashMap<String, Item, RandomState>>);

impl Contender for RwMap {
    const NAME: &'static str = "RwLock<HashMap>";
    fn build() -> Self {
        RwMap(RwLock::new(HashMap::with_hasher(RandomState::new())))
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.read().unwrap().get(key).and_then(Item::live_value)
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        let item = Item::new(value, None);
        let key = key.to_owned();
        self.0.write().unwrap().insert(key, item);
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        let item = Item::new(value, Some(ttl));
        let key = key.to_owned();
        self.0.write().unwrap().insert(key, item);
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        let old = self.0.write().unwrap().remove(key);
        old.is_some_and(|it| it.live())
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        let mut map = self.0.write().unwrap();
        match map.get_mut(key) {
            Some(item) => bump_in_place(item, delta),
            None => {
                map.insert(key.to_owned(), Item::new(Value::Int(delta), None));
                Ok(delta)
            }
        }
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        let map = self.0.read().unwrap();
        collect_keys(prefix_of(pattern), map.iter().map(|(k, v)| (k.as_str(), v)))
    }
    fn purge(&self) -> usize {
        let mut map = self.0.write().unwrap();
        let before = map.len();
        map.retain(|_, v| v.live());
        before - map.len()
    }
    fn len(&self) -> usize {
        self.0.read().unwrap().len()
    }
}

// ---------------------------------------------------------------------------------------------
// moka: its own per-entry expiry.

/// What a write asks moka's expiry policy to do with the entry's TTL.
#[derive(Clone, Copy, Debug)]
enum TtlSpec {
    /// No expiry.
    Persistent,
    /// Expire after this long.
    After(Duration),
    /// Keep whatever the entry had (`incr` on a live integer).
    Keep,
}

/// moka's value: the payload plus what the write wanted for the TTL.
#[derive(Clone, Debug)]
pub(crate) struct MokaItem {
    value: Value,
    ttl: TtlSpec,
}

/// Per-entry expiry: each write states its TTL.
struct PerEntry;

impl moka::Expiry<String, MokaItem> for PerEntry {
    fn expire_after_create(&self, _: &String, v: &MokaItem, _: Instant) -> Option<Duration> {
        match v.ttl {
            TtlSpec::After(d) => Some(d),
            TtlSpec::Persistent | TtlSpec::Keep => None,
        }
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &MokaItem,
        _: Instant,
        current: Option<Duration>,
    ) -> Option<Duration> {
        match v.ttl {
            TtlSpec::After(d) => Some(d),
            TtlSpec::Persistent => None,
            TtlSpec::Keep => current,
        }
    }
}

/// `moka::sync::Cache` (unbounded) with a per-entry `Expiry`.
pub(crate) struct Moka(moka::sync::Cache<String, MokaItem, RandomState>);

impl Contender for Moka {
    const NAME: &'static str = "moka";
    fn build() -> Self {
        Moka(
            moka::sync::Cache::builder()
                .expire_after(PerEntry)
                .build_with_hasher(RandomState::new()),
        )
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.get(key).map(|it| it.value)
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        self.0.insert(
            key.to_owned(),
            MokaItem {
                value,
                ttl: TtlSpec::Persistent,
            },
        );
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        self.0.insert(
            key.to_owned(),
            MokaItem {
                value,
                ttl: TtlSpec::After(ttl),
            },
        );
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        self.0.remove(key).is_some()
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        use moka::ops::compute::{CompResult, Op};
        let r = self.0.entry_by_ref(key).and_try_compute_with(|cur| {
            let next = match cur.map(|e| e.into_value()) {
                None => MokaItem {
                    value: Value::Int(delta),
                    ttl: TtlSpec::Persistent,
                },
                Some(MokaItem {
                    value: Value::Int(n),
                    ..
                }) => MokaItem {
                    value: Value::Int(n.checked_add(delta).ok_or(Error::Overflow)?),
                    ttl: TtlSpec::Keep,
                },
                Some(_) => return Err(Error::NotAnInteger),
            };
            Ok(Op::Put(next))
        })?;
        match r {
            CompResult::Inserted(e) | CompResult::ReplacedWith(e) => match e.value().value {
                Value::Int(n) => Ok(n),
                _ => unreachable!("incr stores integers"),
            },
            _ => unreachable!("incr always puts"),
        }
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        let prefix = prefix_of(pattern);
        let mut out: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| String::clone(&k))
            .collect();
        out.sort_unstable();
        out
    }
    fn purge(&self) -> usize {
        // One `run_pending_tasks` does a bounded amount of work (batches, a 100 ms budget):
        // repeat until it makes no more progress. moka's count is its own estimate.
        let before = self.0.entry_count();
        let mut last = u64::MAX;
        loop {
            self.0.run_pending_tasks();
            let now = self.0.entry_count();
            if now == last {
                break;
            }
            last = now;
        }
        usize::try_from(before.saturating_sub(last)).unwrap_or(usize::MAX)
    }
    fn len(&self) -> usize {
        self.0.run_pending_tasks();
        usize::try_from(self.0.entry_count()).unwrap_or(usize::MAX)
    }
}

/// Calls `$body` once per contender type, with `$c` bound to the type.
macro_rules! for_each_contender {
    ($c:ident => $body:expr) => {{
        {
            type $c = crate::common::Ours;
            $body;
        }
        {
            type $c = crate::common::Dash;
            $body;
        }
        {
            type $c = crate::common::Papaya;
            $body;
        }
        {
            type $c = crate::common::Scc;
            $body;
        }
        {
            type $c = crate::common::Moka;
            $body;
        }
        {
            type $c = crate::common::MutexMap;
            $body;
        }
        {
            type $c = crate::common::RwMap;
            $body;
        }
    }};
}

// ---------------------------------------------------------------------------------------------
// Run mode and output.

/// Smoke mode (seconds, tiny sizes, one repetition): `BENCH_QUICK=1`, or a run without
/// `--bench` (what `cargo test --benches` does), so a test run never starts a full benchmark.
pub(crate) fn quick() -> bool {
    let under_test = !std::env::args().any(|a| a == "--bench");
    under_test || std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Where JSON-lines results go: `$BENCH_OUT/<name>.jsonl` if `BENCH_OUT` is set.
pub(crate) struct Output {
    file: Option<std::fs::File>,
}

impl Output {
    /// Opens (truncates) `$BENCH_OUT/<name>.jsonl`, if `BENCH_OUT` is set.
    pub(crate) fn open(name: &str) -> Self {
        let file = std::env::var_os("BENCH_OUT").map(|dir| {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("create BENCH_OUT");
            std::fs::File::create(dir.join(format!("{name}.jsonl"))).expect("create results file")
        });
        Output { file }
    }

    /// Appends one record.
    pub(crate) fn record(&mut self, rec: serde_json::Value) {
        if let Some(f) = &mut self.file {
            writeln!(f, "{rec}").expect("write results");
        }
    }
}

/// The median of `xs` (sorts a copy).
pub(crate) fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A small string value like a session id or a cached fragment.
pub(crate) fn small_value(i: usize) -> Value {
    Value::Str(format!("value-{i:08}"))
}

/// Keeps a result alive so the optimiser cannot drop the operation that made it.
#[inline]
pub(crate) fn sink<T>(x: T) -> T {
    std::hint::black_box(x)
}
