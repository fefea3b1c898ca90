//! moka as a contender: its own per-entry expiry (`Expiry`) and timer wheel.

use std::time::{Duration, Instant};

use ahash::RandomState;
use scriptling_kv::{Error, Value};

use super::{prefix_of, Conditional, Contender};

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
