//! flurry+TTL: the table the store is built on (`flurry` 0.5.2, unpatched, ahash as the store
//! uses it), holding `(Value, Option<Instant>)` items and given the store's semantics the way the
//! other map peers are (and configured as the store's table is: ahash, its own seize collector
//! with epoch tracking off): the deadline checked on read, `incr` through `compute_if_present` (and
//! `try_insert` for a missing key, going round again if another thread created it first),
//! conditional writes through the same two primitives, purge by `retain`. It is the peer that
//! isolates what the store adds on top of its table (entries, slots, the wheel, the liveness
//! rule, stats, the bounds): `ours / flurry+TTL` in the report.
//!
//! flurry's values are immutable once inserted (each is its own allocation, swapped under the
//! bin's lock by `compute_if_present`), so every read-modify-write builds a new item; and
//! `compute_if_present` cannot abort, so a compare that fails writes the current item back (a
//! clone), which is what a flurry user pays for a failed conditional write.

use std::time::Duration;

use ahash::RandomState;
use scriptling_kv::{Error, Value};

use super::maps::{bumped, collect_keys, int_of, pinned_map_contender, Item};
use super::{prefix_of, Conditional, Contender};

/// An empty flurry map configured as the store's table is (`src/table.rs`): ahash, and a seize
/// collector of its own with epoch tracking off (set before the map allocates anything).
pub(crate) fn flurry_map<V: Send + Sync + 'static>() -> flurry::HashMap<String, V, RandomState> {
    flurry::HashMap::with_hasher(RandomState::new())
        .with_collector(seize::Collector::new().epoch_frequency(None))
}

/// Name in tables (the report generator knows it: the `ours / flurry+TTL` column).
pub(crate) const FLURRY_NAME: &str = "flurry+TTL";

/// `flurry::HashMap<String, Item, ahash::RandomState>` (bin locks for writes, lock-free reads).
pub(crate) struct Flurry(pub(crate) flurry::HashMap<String, Item, RandomState>);

impl Flurry {
    /// `incr`, a created key getting `fresh_ttl`: `compute_if_present` (a new item under the
    /// bin's lock), else `try_insert`; a lost creation race goes round again.
    #[inline]
    fn incr_ttl(&self, key: &str, delta: i64, fresh_ttl: Option<Duration>) -> Result<i64, Error> {
        let map = self.0.pin();
        loop {
            let mut out = None;
            map.compute_if_present(key, |_, cur| match bumped(Some(cur), delta, fresh_ttl) {
                Ok(item) => {
                    out = Some(Ok(int_of(&item)));
                    Some(item)
                }
                Err(e) => {
                    out = Some(Err(e));
                    Some(cur.clone())
                }
            });
            if let Some(r) = out {
                return r;
            }
            let item = Item::new(Value::Int(delta), fresh_ttl);
            if map.try_insert(key.to_owned(), item).is_ok() {
                return Ok(delta);
            }
        }
    }

    /// Replaces an expired item with `item` (under the bin's lock) unless it was revived
    /// meanwhile: `Some(true)` replaced, `Some(false)` live, `None` the key is gone.
    #[inline]
    fn replace_expired(&self, key: &str, item: &Item) -> Option<bool> {
        let mut stored = false;
        self.0.pin().compute_if_present(key, |_, cur| {
            if cur.live() {
                Some(cur.clone())
            } else {
                stored = true;
                Some(item.clone())
            }
        })?;
        Some(stored)
    }
}

pinned_map_contender!(Flurry, FLURRY_NAME, Flurry(flurry_map()));

/// flurry: `try_insert` (then `compute_if_present` over an expired item) for `set_if_absent`,
/// `compute_if_present` for `compare_and_set` (a new item) and `compare_and_delete` (returning
/// `None` removes), `try_insert` for loads (`init` runs outside any lock: no coalescing).
impl Conditional for Flurry {
    #[inline]
    fn set_if_absent(&self, key: &str, value: Value, ttl: Duration) -> bool {
        let map = self.0.pin();
        let mut item = Item::new(value, Some(ttl));
        loop {
            match map.try_insert(key.to_owned(), item) {
                Ok(_) => return true,
                Err(e) if e.current.live() => return false,
                Err(e) => {
                    item = e.not_inserted;
                    if let Some(stored) = self.replace_expired(key, &item) {
                        return stored;
                    }
                    // Removed meanwhile: try the insert again.
                }
            }
        }
    }
    #[inline]
    fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        let mut hit = false;
        self.0.pin().compute_if_present(key, |_, it| {
            if it.live() && it.value == *expected {
                hit = true;
                Some(Item {
                    value: new,
                    deadline: it.deadline,
                })
            } else {
                Some(it.clone())
            }
        });
        hit
    }
    #[inline]
    fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        let mut hit = false;
        self.0.pin().compute_if_present(key, |_, it| {
            if it.live() && it.value == *expected {
                hit = true;
                None
            } else {
                Some(it.clone())
            }
        });
        hit
    }
    #[inline]
    fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Error> {
        self.incr_ttl(key, delta, Some(ttl))
    }
    fn get_or_insert_with(&self, key: &str, ttl: Duration, init: impl FnOnce() -> Value) -> Value {
        let map = self.0.pin();
        if let Some(v) = map.get(key).and_then(Item::live_value) {
            return v;
        }
        let item = Item::new(init(), Some(ttl));
        loop {
            match map.try_insert(key.to_owned(), item.clone()) {
                Ok(it) => return it.value.clone(),
                Err(e) if e.current.live() => return e.current.value.clone(),
                Err(_) => match self.replace_expired(key, &item) {
                    Some(true) => return item.value,
                    Some(false) => {
                        if let Some(v) = map.get(key).and_then(Item::live_value) {
                            return v;
                        }
                    }
                    None => {}
                },
            }
        }
    }
}
