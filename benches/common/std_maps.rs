//! `Mutex<HashMap>` and `RwLock<HashMap>` (std): the whole map under one lock, with the
//! whole-map walk as their purge. One generic contender ([`Locked`]) over the two locks: they
//! differ only in how a reader takes the lock.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use ahash::RandomState;
use scriptling_kv::{Error, Value};

use super::maps::{bump_in_place_ttl, collect_keys, Item};
use super::{prefix_of, Conditional, Contender};

/// A std map under its (write) lock.
pub(crate) type StdMap = HashMap<String, Item, RandomState>;

/// A lock around a [`StdMap`]: how readers and writers take it.
pub(crate) trait MapLock: Send + Sync + 'static {
    /// Name in tables and plots.
    const NAME: &'static str;
    /// Whether a load (`get_or_insert_with`) first tries a read under the shared lock (worth
    /// it only where readers do not exclude each other).
    const READ_FIRST: bool;
    /// The lock around `map`.
    fn wrap(map: StdMap) -> Self;
    /// The map for reading (`Mutex`: the lock; `RwLock`: the read lock).
    fn read(&self) -> impl Deref<Target = StdMap> + '_;
    /// The map for writing.
    fn write(&self) -> impl DerefMut<Target = StdMap> + '_;
}

impl MapLock for Mutex<StdMap> {
    const NAME: &'static str = "Mutex<HashMap>";
    const READ_FIRST: bool = false;
    fn wrap(map: StdMap) -> Self {
        Mutex::new(map)
    }
    #[inline]
    fn read(&self) -> impl Deref<Target = StdMap> + '_ {
        self.lock().unwrap()
    }
    #[inline]
    fn write(&self) -> impl DerefMut<Target = StdMap> + '_ {
        self.lock().unwrap()
    }
}

impl MapLock for RwLock<StdMap> {
    const NAME: &'static str = "RwLock<HashMap>";
    const READ_FIRST: bool = true;
    fn wrap(map: StdMap) -> Self {
        RwLock::new(map)
    }
    #[inline]
    fn read(&self) -> impl Deref<Target = StdMap> + '_ {
        self.read().unwrap()
    }
    #[inline]
    fn write(&self) -> impl DerefMut<Target = StdMap> + '_ {
        self.write().unwrap()
    }
}

/// A std map under the lock `L`.
pub(crate) struct Locked<L>(L);

/// `Mutex<HashMap>` (std).
pub(crate) type MutexMap = Locked<Mutex<StdMap>>;

/// `RwLock<HashMap>` (std).
pub(crate) type RwMap = Locked<RwLock<StdMap>>;

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

impl<L: MapLock> Contender for Locked<L> {
    const NAME: &'static str = L::NAME;
    fn build() -> Self {
        Locked(L::wrap(HashMap::with_hasher(RandomState::new())))
    }
    #[inline]
    fn get(&self, key: &str) -> Option<Value> {
        self.0.read().get(key).and_then(Item::live_value)
    }
    #[inline]
    fn set(&self, key: &str, value: Value) {
        let item = Item::new(value, None);
        let key = key.to_owned();
        self.0.write().insert(key, item);
    }
    #[inline]
    fn set_with_ttl(&self, key: &str, value: Value, ttl: Duration) {
        let item = Item::new(value, Some(ttl));
        let key = key.to_owned();
        self.0.write().insert(key, item);
    }
    #[inline]
    fn delete(&self, key: &str) -> bool {
        let old = self.0.write().remove(key);
        old.is_some_and(|it| it.live())
    }
    #[inline]
    fn incr(&self, key: &str, delta: i64) -> Result<i64, Error> {
        incr_in_map(&mut self.0.write(), key, delta, None)
    }
    fn keys(&self, pattern: &str) -> Vec<String> {
        let map = self.0.read();
        collect_keys(prefix_of(pattern), map.iter().map(|(k, v)| (k.as_str(), v)))
    }
    fn purge(&self) -> usize {
        let mut map = self.0.write();
        let before = map.len();
        map.retain(|_, v| v.live());
        before - map.len()
    }
    fn len(&self) -> usize {
        self.0.read().len()
    }
}

/// The std maps: everything under the (write) lock; a load runs `init` holding it (the
/// `RwLock` tries a read under the read lock first).
impl<L: MapLock> Conditional for Locked<L> {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        let item = Item::new(value, Some(ttl));
        let mut map = self.0.write();
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
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        match self.0.write().get_mut(key) {
            Some(it) if it.live() && it.value == *expected => {
                it.value = new;
                true
            }
            _ => false,
        }
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        let removed = {
            let mut map = self.0.write();
            match map.get(key) {
                Some(it) if it.live() && it.value == *expected => map.remove(key),
                _ => None,
            }
        };
        removed.is_some()
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        incr_in_map(&mut self.0.write(), key, delta, Some(ttl))
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        if L::READ_FIRST {
            if let Some(v) = self.get(key) {
                return v;
            }
        }
        let mut map = self.0.write();
        if let Some(v) = map.get(key).and_then(Item::live_value) {
            return v;
        }
        let v = init();
        map.insert(key.to_owned(), Item::new(v.clone(), Some(ttl)));
        v
    }
}
