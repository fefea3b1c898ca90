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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex, RwLock};
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
/// thread doing work behind the measured ones; the purge benches call `purge_expired` directly),
/// and with hit/miss counting (`record_stats`) on if `STATS`.
pub(crate) struct OursOf<const STATS: bool>(pub(crate) Store);

/// This crate, as every bench compares it (`record_stats(false)`, the default).
pub(crate) type Ours = OursOf<false>;

/// This crate built with `record_stats(true)`: not a peer, the cost of counting hits and misses.
pub(crate) type OursStats = OursOf<true>;

/// Name of [`OursStats`] in tables (the report generator knows it).
pub(crate) const OURS_STATS_NAME: &str = "scriptling-kv +record_stats";

impl<const STATS: bool> Contender for OursOf<STATS> {
    const NAME: &'static str = if STATS {
        OURS_STATS_NAME
    } else {
        "scriptling-kv"
    };
    fn build() -> Self {
        OursOf(
            Store::builder()
                .background_cleanup(false)
                .record_stats(STATS)
                .build(),
        )
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

/// `incr` on an item in place, with the store's semantics: an expired item restarts at `delta`
/// with `fresh_ttl` (`None` for `incr`, the window for `incr_with_ttl`); a live one keeps its
/// deadline.
#[inline]
fn bump_in_place_ttl(
    item: &mut Item,
    delta: i64,
    fresh_ttl: Option<Duration>,
) -> Result<i64, Error> {
    if !item.live() {
        *item = Item::new(Value::Int(delta), fresh_ttl);
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

/// `incr` producing a new item from the current one (for the copy-on-write maps); a created item
/// gets `fresh_ttl`.
#[inline]
fn bumped(current: Option<&Item>, delta: i64, fresh_ttl: Option<Duration>) -> Result<Item, Error> {
    match current.filter(|it| it.live()) {
        None => Ok(Item::new(Value::Int(delta), fresh_ttl)),
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

impl Dash {
    /// `incr`, a created key getting `fresh_ttl`: `get_mut` in place, `entry` to create.
    #[inline]
    fn incr_ttl(&self, key: &str, delta: i64, fresh_ttl: Option<Duration>) -> Result<i64, Error> {
        if let Some(mut r) = self.0.get_mut(key) {
            return bump_in_place_ttl(&mut r, delta, fresh_ttl);
        }
        match self.0.entry(key.to_owned()) {
            dashmap::Entry::Occupied(mut o) => bump_in_place_ttl(o.get_mut(), delta, fresh_ttl),
            dashmap::Entry::Vacant(v) => {
                v.insert(Item::new(Value::Int(delta), fresh_ttl));
                Ok(delta)
            }
        }
    }
}

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
        self.incr_ttl(key, delta, None)
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

impl Papaya {
    /// `incr`, a created key getting `fresh_ttl`.
    #[inline]
    fn incr_ttl(&self, key: &str, delta: i64, fresh_ttl: Option<Duration>) -> Result<i64, Error> {
        use papaya::{Compute, Operation};
        // `compute` takes the key by value: papaya's only atomic read-modify-write.
        let map = self.0.pin();
        match map.compute(key.to_owned(), |cur| {
            match bumped(cur.map(|(_, v)| v), delta, fresh_ttl) {
                Ok(item) => Operation::Insert(item),
                Err(e) => Operation::Abort(e),
            }
        }) {
            Compute::Inserted(_, v) | Compute::Updated { new: (_, v), .. } => Ok(int_of(v)),
            Compute::Aborted(e) => Err(e),
            Compute::Removed(..) => unreachable!("incr never removes"),
        }
    }
}

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
        self.incr_ttl(key, delta, None)
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

impl Scc {
    /// `incr`, a created key getting `fresh_ttl`: `update` in place, `entry` to create.
    #[inline]
    fn incr_ttl(&self, key: &str, delta: i64, fresh_ttl: Option<Duration>) -> Result<i64, Error> {
        if let Some(r) = self
            .0
            .update(key, |_, v| bump_in_place_ttl(v, delta, fresh_ttl))
        {
            return r;
        }
        match self.0.entry(key.to_owned()) {
            scc::hash_map::Entry::Occupied(mut o) => {
                bump_in_place_ttl(o.get_mut(), delta, fresh_ttl)
            }
            scc::hash_map::Entry::Vacant(v) => {
                v.insert_entry(Item::new(Value::Int(delta), fresh_ttl));
                Ok(delta)
            }
        }
    }
}

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
        self.incr_ttl(key, delta, None)
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

/// A std map under its (write) lock.
type StdMap = HashMap<String, Item, RandomState>;

/// `incr` on a std map under its lock, a created key getting `fresh_ttl`.
#[inline]
fn incr_in_map(
    map: &mut StdMap,
    key: &str,
    delta: i64,
    fresh_ttl: Option<Duration>,
) -> Result<i64, Error> {
    match map.get_mut(key) {
        Some(item) => bump_in_place_ttl(item, delta, fresh_ttl),
        None => {
            map.insert(key.to_owned(), Item::new(Value::Int(delta), fresh_ttl));
            Ok(delta)
        }
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
        incr_in_map(&mut map, key, delta, None)
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
        incr_in_map(&mut map, key, delta, None)
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

impl Moka {
    /// A cache bounded at `cap` entries (moka's `max_capacity`, each entry weighing 1), with the
    /// same per-entry expiry: the flood bench's bounded peer.
    pub(crate) fn bounded(cap: u64) -> Self {
        Moka(
            moka::sync::Cache::builder()
                .max_capacity(cap)
                .expire_after(PerEntry)
                .build_with_hasher(RandomState::new()),
        )
    }

    /// A cache bounded at `max_bytes` by a weigher that charges each entry as scriptling-kv's
    /// `max_bytes` does (its key's length, 8 for the integer the flood writes, and
    /// `ENTRY_OVERHEAD`), with the same per-entry expiry: the byte-capped flood's peer.
    pub(crate) fn weighed(max_bytes: u64) -> Self {
        Moka(
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &String, _: &MokaItem| {
                    u32::try_from(k.len() + 8 + scriptling_kv::ENTRY_OVERHEAD).unwrap_or(u32::MAX)
                })
                .expire_after(PerEntry)
                .build_with_hasher(RandomState::new()),
        )
    }

    /// moka's own entry count, as it stands (an estimate its housekeeping updates; `len` runs
    /// the housekeeping first).
    pub(crate) fn entry_count(&self) -> u64 {
        self.0.entry_count()
    }

    /// `incr`, a created key getting `fresh` (`Persistent` for `incr`).
    #[inline]
    fn incr_ttl(&self, key: &str, delta: i64, fresh: TtlSpec) -> Result<i64, Error> {
        use moka::ops::compute::{CompResult, Op};
        let r = self.0.entry_by_ref(key).and_try_compute_with(|cur| {
            let next = match cur.map(|e| e.into_value()) {
                None => MokaItem {
                    value: Value::Int(delta),
                    ttl: fresh,
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
}

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
        self.incr_ttl(key, delta, TtlSpec::Persistent)
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

// ---------------------------------------------------------------------------------------------
// The conditional writes and the single-flight load, with each peer's closest equivalent.

/// The store's newer operations (`benches/capabilities.rs`), every one with the store's
/// semantics (expired = absent) on every contender. Each peer uses its own closest idiom, named
/// in its impl; the only liberty taken is a lock-free `get` before a locking path where a careful
/// user would write one (a hit in `get_or_insert_with`).
pub(crate) trait Conditional: Contender {
    /// Stores `value` with `ttl` only if the key is not live; whether this call stored it.
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool;
    /// Replaces the value (keeping the TTL) only if the key is live and holds `expected`.
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool;
    /// Deletes the key only if it is live and holds `expected`.
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool;
    /// `incr`; a key this call creates gets `ttl`, a live key keeps its TTL.
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error>;
    /// The live value, or `init()`'s, stored with `ttl`. Whether concurrent misses share one
    /// `init` is what differs between contenders.
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value;
}

impl<const STATS: bool> Conditional for OursOf<STATS> {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        self.0.set_if_absent(key, value, Some(ttl))
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        self.0.compare_and_set(key, expected, new)
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        self.0.compare_and_delete(key, expected)
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        self.0.incr_with_ttl(key, delta, ttl)
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        // Single flight: concurrent misses wait for one `init`.
        self.0.get_or_insert_with(key, Some(ttl), init)
    }
}

/// dashmap: `entry` (shard write lock, owned key) for `set_if_absent` and loads, `get_mut` for
/// `compare_and_set`, `remove_if` for `compare_and_delete`.
impl Conditional for Dash {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        match self.0.entry(key.to_owned()) {
            dashmap::Entry::Occupied(mut o) => {
                if o.get().live() {
                    return false;
                }
                *o.get_mut() = Item::new(value, Some(ttl));
                true
            }
            dashmap::Entry::Vacant(v) => {
                v.insert(Item::new(value, Some(ttl)));
                true
            }
        }
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        match self.0.get_mut(key) {
            Some(mut r) if r.live() && r.value == *expected => {
                r.value = new;
                true
            }
            _ => false,
        }
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        self.0
            .remove_if(key, |_, v| v.live() && v.value == *expected)
            .is_some()
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        self.incr_ttl(key, delta, Some(ttl))
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        if let Some(v) = self.get(key) {
            return v;
        }
        // `entry().or_insert_with`: `init` runs holding the shard's write lock.
        match self.0.entry(key.to_owned()) {
            dashmap::Entry::Occupied(mut o) => {
                if o.get().live() {
                    return o.get().value.clone();
                }
                let v = init();
                *o.get_mut() = Item::new(v.clone(), Some(ttl));
                v
            }
            dashmap::Entry::Vacant(e) => {
                let v = init();
                e.insert(Item::new(v.clone(), Some(ttl)));
                v
            }
        }
    }
}

/// papaya: `try_insert` (then `compute` over an expired item) for `set_if_absent`, `compute` for
/// `compare_and_set` (copy-on-write: a new item), `remove_if` for `compare_and_delete`,
/// `get_or_insert_with` for loads (`init` runs outside any lock: no coalescing).
impl Conditional for Papaya {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        use papaya::{Compute, Operation};
        let map = self.0.pin();
        match map.try_insert(key.to_owned(), Item::new(value, Some(ttl))) {
            Ok(_) => true,
            Err(e) if e.current.live() => false,
            Err(e) => {
                // An expired item is there: replace it unless it was revived meanwhile.
                let item = e.not_inserted;
                matches!(
                    map.compute(key.to_owned(), |cur| match cur {
                        Some((_, it)) if it.live() => Operation::Abort(()),
                        _ => Operation::Insert(item.clone()),
                    }),
                    Compute::Inserted(..) | Compute::Updated { .. }
                )
            }
        }
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        use papaya::{Compute, Operation};
        let map = self.0.pin();
        matches!(
            map.compute(key.to_owned(), |cur| match cur {
                Some((_, it)) if it.live() && it.value == *expected => Operation::Insert(Item {
                    value: new.clone(),
                    deadline: it.deadline,
                }),
                _ => Operation::Abort(()),
            }),
            Compute::Updated { .. }
        )
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        let map = self.0.pin();
        matches!(
            map.remove_if(key, |_, v| v.live() && v.value == *expected),
            Ok(Some(_))
        )
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        self.incr_ttl(key, delta, Some(ttl))
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        use papaya::{Compute, Operation};
        let map = self.0.pin();
        if let Some(v) = map.get(key).and_then(Item::live_value) {
            return v;
        }
        let mut init = Some(init);
        let cur = map.get_or_insert_with(key.to_owned(), || {
            Item::new(init.take().expect("called once")(), Some(ttl))
        });
        if cur.live() {
            return cur.value.clone();
        }
        // An expired item was there: load and replace it unless it was revived meanwhile.
        let item = Item::new(
            init.take().expect("not called: the key was present")(),
            Some(ttl),
        );
        match map.compute(key.to_owned(), |cur| match cur {
            Some((_, it)) if it.live() => Operation::Abort(it.value.clone()),
            _ => Operation::Insert(item.clone()),
        }) {
            Compute::Inserted(_, it) | Compute::Updated { new: (_, it), .. } => it.value.clone(),
            Compute::Aborted(v) => v,
            Compute::Removed(..) => unreachable!("never removes"),
        }
    }
}

/// scc: `entry` (bucket lock, owned key) for `set_if_absent` and loads, `update` in place for
/// `compare_and_set`, `remove_if` for `compare_and_delete`.
impl Conditional for Scc {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        match self.0.entry(key.to_owned()) {
            scc::hash_map::Entry::Occupied(mut o) => {
                if o.get().live() {
                    return false;
                }
                *o.get_mut() = Item::new(value, Some(ttl));
                true
            }
            scc::hash_map::Entry::Vacant(v) => {
                v.insert_entry(Item::new(value, Some(ttl)));
                true
            }
        }
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        self.0.update(key, |_, it| {
            let hit = it.live() && it.value == *expected;
            if hit {
                it.value = new;
            }
            hit
        }) == Some(true)
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        self.0
            .remove_if(key, |v| v.live() && v.value == *expected)
            .is_some()
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        self.incr_ttl(key, delta, Some(ttl))
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        if let Some(v) = self.get(key) {
            return v;
        }
        // `init` runs holding the bucket's lock.
        match self.0.entry(key.to_owned()) {
            scc::hash_map::Entry::Occupied(mut o) => {
                if o.get().live() {
                    return o.get().value.clone();
                }
                let v = init();
                *o.get_mut() = Item::new(v.clone(), Some(ttl));
                v
            }
            scc::hash_map::Entry::Vacant(e) => {
                let v = init();
                e.insert_entry(Item::new(v.clone(), Some(ttl)));
                v
            }
        }
    }
}

/// moka: `entry().or_insert_with` for `set_if_absent`, `and_compute_with` (a per-key lock) for
/// `compare_and_set`/`compare_and_delete`/`incr_with_ttl`, `get_with` (coalesces) for loads.
impl Conditional for Moka {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        self.0
            .entry_by_ref(key)
            .or_insert_with(|| MokaItem {
                value,
                ttl: TtlSpec::After(ttl),
            })
            .is_fresh()
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        use moka::ops::compute::{CompResult, Op};
        let r = self.0.entry_by_ref(key).and_compute_with(|cur| match cur {
            Some(e) if e.value().value == *expected => Op::Put(MokaItem {
                value: new,
                ttl: TtlSpec::Keep,
            }),
            _ => Op::Nop,
        });
        matches!(r, CompResult::ReplacedWith(_))
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        use moka::ops::compute::{CompResult, Op};
        let r = self.0.entry_by_ref(key).and_compute_with(|cur| match cur {
            Some(e) if e.value().value == *expected => Op::Remove,
            _ => Op::Nop,
        });
        matches!(r, CompResult::Removed(_))
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        self.incr_ttl(key, delta, TtlSpec::After(ttl))
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        self.0
            .get_with_by_ref(key, || MokaItem {
                value: init(),
                ttl: TtlSpec::After(ttl),
            })
            .value
    }
}

/// The std maps: everything under the (write) lock; a load runs `init` holding it.
fn set_if_absent_in_map(map: &mut StdMap, key: &str, item: Item) -> bool {
    match map.get_mut(key) {
        Some(it) if it.live() => false,
        Some(it) => {
            *it = item;
            true
        }
        None => {
            map.insert(key.to_owned(), item);
            true
        }
    }
}

fn compare_and_set_in_map(map: &mut StdMap, key: &str, expected: &Value, new: Value) -> bool {
    match map.get_mut(key) {
        Some(it) if it.live() && it.value == *expected => {
            it.value = new;
            true
        }
        _ => false,
    }
}

fn compare_and_delete_in_map(map: &mut StdMap, key: &str, expected: &Value) -> Option<Item> {
    match map.get(key) {
        Some(it) if it.live() && it.value == *expected => map.remove(key),
        _ => None,
    }
}

fn load_in_map(map: &mut StdMap, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
    if let Some(v) = map.get(key).and_then(Item::live_value) {
        return v;
    }
    let v = init();
    map.insert(key.to_owned(), Item::new(v.clone(), Some(ttl)));
    v
}

impl Conditional for MutexMap {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        let item = Item::new(value, Some(ttl));
        set_if_absent_in_map(&mut self.0.lock().unwrap(), key, item)
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        compare_and_set_in_map(&mut self.0.lock().unwrap(), key, expected, new)
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        let removed = compare_and_delete_in_map(&mut self.0.lock().unwrap(), key, expected);
        removed.is_some()
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        incr_in_map(&mut self.0.lock().unwrap(), key, delta, Some(ttl))
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        load_in_map(&mut self.0.lock().unwrap(), key, ttl, init)
    }
}

impl Conditional for RwMap {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        let item = Item::new(value, Some(ttl));
        set_if_absent_in_map(&mut self.0.write().unwrap(), key, item)
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        compare_and_set_in_map(&mut self.0.write().unwrap(), key, expected, new)
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        let removed = compare_and_delete_in_map(&mut self.0.write().unwrap(), key, expected);
        removed.is_some()
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        incr_in_map(&mut self.0.write().unwrap(), key, delta, Some(ttl))
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        if let Some(v) = self.get(key) {
            return v;
        }
        load_in_map(&mut self.0.write().unwrap(), key, ttl, init)
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

/// Runs `body(thread, stop)` on `threads` threads for `window`; returns (Mops/s, ops). The time
/// is taken by the workers (from the first one's start to the last one's end), not by the
/// thread that sleeps through the window: on a loaded machine that thread may be scheduled late.
pub(crate) fn window_run(
    threads: usize,
    window: Duration,
    body: &(dyn Fn(usize, &AtomicBool) -> u64 + Sync),
) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let ops = body(t, stop);
                    (ops, start, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
        let runs: Vec<(u64, Instant, Instant)> = handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .collect();
        let ops: u64 = runs.iter().map(|r| r.0).sum();
        (ops as f64 / span_secs(&runs) / 1e6, ops)
    })
}

/// Seconds from the earliest start to the latest end of `(_, start, end)` records.
pub(crate) fn span_secs<T>(runs: &[(T, Instant, Instant)]) -> f64 {
    let first = runs.iter().map(|r| r.1).min().expect("runs");
    let last = runs.iter().map(|r| r.2).max().expect("runs");
    last.duration_since(first).as_secs_f64()
}

/// Cycles `tape` through `exec` until `stop`; returns how many ops ran.
#[inline(always)]
pub(crate) fn drive<T: Copy>(tape: &[T], stop: &AtomicBool, mut exec: impl FnMut(T)) -> u64 {
    let mut n = 0u64;
    loop {
        for chunk in tape.chunks(64) {
            for &op in chunk {
                exec(op);
            }
            n += chunk.len() as u64;
            if stop.load(Ordering::Relaxed) {
                return n;
            }
        }
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
