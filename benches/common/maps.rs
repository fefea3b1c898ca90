//! The concurrent map peers (dashmap, papaya, scc): the store's semantics on a map of
//! [`Item`]s (value + optional deadline, checked on read), each through its own idioms.

use std::time::{Duration, Instant};

use ahash::RandomState;
use scriptling_kv::{Error, Value};

use super::{prefix_of, Conditional, Contender};

// Map-based peers: value + optional deadline, checked on read.

/// What the map-based peers store per key.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) value: Value,
    pub(crate) deadline: Option<Instant>,
}

impl Item {
    #[inline]
    pub(crate) fn new(value: Value, ttl: Option<Duration>) -> Self {
        Item {
            value,
            deadline: ttl.map(|d| Instant::now() + d),
        }
    }

    /// Live now? Reads the clock only if there is a deadline (as the store does).
    #[inline]
    pub(crate) fn live(&self) -> bool {
        self.deadline.is_none_or(|d| Instant::now() < d)
    }

    #[inline]
    pub(crate) fn live_value(&self) -> Option<Value> {
        self.live().then(|| self.value.clone())
    }
}

/// `incr` on an item in place, with the store's semantics: an expired item restarts at `delta`
/// with `fresh_ttl` (`None` for `incr`, the window for `incr_with_ttl`); a live one keeps its
/// deadline.
#[inline]
pub(crate) fn bump_in_place_ttl(
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
pub(crate) fn bumped(
    current: Option<&Item>,
    delta: i64,
    fresh_ttl: Option<Duration>,
) -> Result<Item, Error> {
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

pub(crate) fn int_of(item: &Item) -> i64 {
    match item.value {
        Value::Int(n) => n,
        _ => unreachable!("incr stores integers"),
    }
}

/// Sorted live keys with `prefix` from an iterator over the map.
pub(crate) fn collect_keys<'a>(
    prefix: &str,
    it: impl Iterator<Item = (&'a str, &'a Item)>,
) -> Vec<String> {
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

/// The [`Contender`] impl of a map peer with papaya's and flurry's shape of API (`pin()` gives
/// a guarded handle with `get`, `insert`, `remove`, `iter`, `retain`; `incr` is the type's own
/// `incr_ttl`): `$ty` is a one-field tuple struct around the map.
macro_rules! pinned_map_contender {
    ($ty:ty, $name:expr, $build:expr) => {
        impl Contender for $ty {
            const NAME: &'static str = $name;
            fn build() -> Self {
                $build
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
    };
}
pub(crate) use pinned_map_contender;

pinned_map_contender!(
    Papaya,
    "papaya",
    Papaya(papaya::HashMap::with_hasher(RandomState::new()))
);

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
