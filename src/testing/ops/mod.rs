//! Store operations as data (feature `proptest`, or `arbitrary` with `test-util`): an [`Op`]
//! names one call of a [`Store`] method with its arguments, [`Op::apply`] makes the call, and
//! [`OpResult`] is what it returned. Generated sequences of them (`strategy::ops` with the
//! feature `proptest`; `Vec<Op>` through `arbitrary::Arbitrary` with the feature `arbitrary`, for
//! cargo-fuzz) can be replayed on a store and on a model of yours
//! (or on your own implementation of the same contract), and the results compared step by step.
//!
//! Every `Store` operation whose result a sequential model can predict is here, closures
//! included: `update` and `compute` take one of a few fixed, pure functions ([`Update`],
//! [`Decide`]) that a model can apply too, and the loads (`get_or_insert_with` and its forms)
//! carry the value their `init` returns (or, for the `try_` forms, `None`: `init` fails).
//! Time moves only by [`Op::Advance`], on the [`TestClock`] the store runs on.
//!
//! # What the generators draw
//!
//! The same distribution in both generators:
//!
//! - keys from a small pool ([`key`]: [`KEYS`], then `key:9`, `key:10`, …), three operations in
//!   four on one of the first three, so that operations meet each other's writes; the pool has a
//!   non-ASCII key, the empty key, keys with glob metacharacters and one longer than the 30
//!   bytes the store keeps inline;
//! - `keys` patterns from [`PATTERNS`] (malformed ones included);
//! - values: mostly small integers and a few short strings (so `incr`, `compare_and_set` and
//!   friends find what they look for), integers next to `i64::MIN`/`i64::MAX`, and any value
//!   (nesting at most 2 deep, 3 elements per container, any float including NaN);
//! - TTLs from below one tick of the expiry wheel (2^20 ns, about 1 ms) through milliseconds,
//!   seconds and minutes, on and around the wheel's level boundaries, and now and then hours to
//!   centuries, `Duration::MAX` (saturating) and `Duration::ZERO` (expired at once); where the
//!   method takes an `Option<Duration>`, `None` (no expiry) one time in sixteen; clock advances
//!   likewise (up to three days), so keys expire during a sequence.
//!
//! # Comparing results
//!
//! `OpResult`'s `==` is identity: a float is equal to a float with the same bits, so a NaN read
//! back equals the NaN that was stored (and `-0.0` differs from `0.0`), which is what a model
//! predicts. ([`identical`] is that comparison for `Value`s.) A model of `compare_and_set` and
//! `compare_and_delete` must still compare with `Value`'s own `==`, as the store does: a NaN
//! never matches.
//!
//! # Example
//!
//! Operations written by hand (the module `strategy` has a proptest that replays generated
//! ones):
//!
//! ```
//! use std::time::Duration;
//! use scriptling_kv::ops::{Decide, Op, OpResult, Update};
//! use scriptling_kv::{Store, TestClock, Ttl, Value};
//!
//! let clock = TestClock::new();
//! let store = Store::builder().test_clock(clock.clone()).background_cleanup(false).build();
//! let key = || "k".to_string();
//! let ttl = Duration::from_secs(2);
//! let script = [
//!     (Op::SetIfAbsent { key: key(), value: 1.into(), ttl: Some(ttl) }, OpResult::Bool(true)),
//!     (Op::Update { key: key(), update: Update::AddInt(41) }, OpResult::Found(Some(42.into()))),
//!     (Op::Advance(Duration::from_secs(1)), OpResult::Unit),
//!     (
//!         Op::Compute { key: key(), decide: Decide::Extend { below: ttl, to: 3 * ttl } },
//!         OpResult::Computed(Some((42.into(), Some(Duration::from_secs(1))))),
//!     ),
//!     (Op::Ttl { key: key() }, OpResult::Ttl(Ttl::Expires(3 * ttl))),
//!     (Op::Take { key: key() }, OpResult::Found(Some(Value::Int(42)))),
//!     (Op::Get { key: key() }, OpResult::Found(None)),
//! ];
//! for (op, want) in script {
//!     assert_eq!(op.apply(&store, &clock), want, "{op:?}");
//! }
//! ```

use std::time::Duration;

use crate::engine::clock::TestClock;
use crate::engine::counters::Stats;
use crate::error::Result;
use crate::store::conditional::Compute;
use crate::store::flight::Loaded;
use crate::store::{Store, Ttl};
use crate::value::Value;

pub use crate::testing::identical::identical;

/// The named keys of the generators' pool, in order: [`key`]`(i)` is `KEYS[i]` for `i` below
/// `KEYS.len()`. The first three are the hot keys.
pub const KEYS: [&str; 9] = [
    "a",
    "ab",
    "user:1",
    "user:22",
    "*star",
    "[br]",
    "é",
    "",
    "user:333:a-key-longer-than-thirty-bytes",
];

/// The `keys` patterns the generators draw from: wildcards, classes, negations, a reversed
/// range, escapes, and malformed ones (an unclosed `[`, a trailing `\`), which the store
/// rejects with [`Error::InvalidPattern`](crate::Error::InvalidPattern).
pub const PATTERNS: [&str; 28] = [
    "*",
    "a*",
    "?",
    "??",
    "user:?",
    "user:*",
    "*:*",
    "\\*star",
    "*star",
    "[ab]*",
    "[^a]*",
    "\\[br\\]",
    "[[]br]",
    "[z-a]*",
    "user:[0-9]",
    "user:[0-9]*",
    "*\\]",
    "[*]*",
    "é",
    "?b",
    "a\\b",
    "!*",
    "[",
    "user:[",
    "abc\\",
    "[a-",
    "[\\",
    "a[b\\]",
];

/// The `i`th key of the generators' pool: [`KEYS`]`[i]`, then `key:{i}`.
pub fn key(i: usize) -> String {
    match KEYS.get(i) {
        Some(k) => (*k).to_owned(),
        None => format!("key:{i}"),
    }
}

/// A pure function for [`Op::Update`]: what [`Store::update`] replaces the live value with.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// A `List` gets this element pushed at its end; any other value `v` becomes `[v, this]`.
    Append(Value),
    /// An `Int` `n` becomes `-n` (wrapping: `i64::MIN` stays); any other value is kept.
    NegateInt,
    /// An `Int` `n` becomes `n + this` (wrapping); any other value is kept.
    AddInt(i64),
    /// The value becomes this one.
    Replace(Value),
}

impl Update {
    /// The new value for `current`.
    pub fn apply(&self, current: &Value) -> Value {
        match (self, current) {
            (Update::Append(x), Value::List(items)) => {
                let mut items = items.clone();
                items.push(x.clone());
                Value::List(items)
            }
            (Update::Append(x), v) => Value::List(vec![v.clone(), x.clone()]),
            (Update::NegateInt, Value::Int(n)) => Value::Int(n.wrapping_neg()),
            (Update::AddInt(d), Value::Int(n)) => Value::Int(n.wrapping_add(*d)),
            (Update::NegateInt | Update::AddInt(_), v) => v.clone(),
            (Update::Replace(x), _) => x.clone(),
        }
    }
}

/// A pure decision for [`Op::Compute`]: what [`Store::compute`]'s closure returns, from the key
/// as it sees it (the live value and its remaining TTL, `None` for no TTL; or `None` if the key
/// is not live). The closure's own result is what it saw ([`OpResult::Computed`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Decide {
    /// [`Compute::Keep`].
    Keep,
    /// [`Compute::Put`] of this value.
    Put(Value),
    /// [`Compute::PutWithTtl`] of this value and TTL (`None`: no expiry).
    PutWithTtl(Value, Option<Duration>),
    /// [`Compute::Expire`] with this TTL.
    Expire(Duration),
    /// [`Compute::Delete`].
    Delete,
    /// A live `Int` `n`: `Put(n + 1)` (wrapping); a live value of another type: `Keep`; a key
    /// that is not live: `PutWithTtl(1, ttl)`.
    IncrOrInit {
        /// The TTL of a key this creates.
        ttl: Duration,
    },
    /// A live key whose remaining TTL is below `below`: `Expire(to)`; otherwise `Keep` (a key
    /// without a TTL is kept as it is).
    Extend {
        /// Extend only keys with less than this left.
        below: Duration,
        /// The new TTL.
        to: Duration,
    },
}

impl Decide {
    /// What to do with the key, given what `compute`'s closure sees of it.
    pub fn decide(&self, current: Option<(&Value, Option<Duration>)>) -> Compute {
        match (self, current) {
            (Decide::Keep, _) => Compute::Keep,
            (Decide::Put(v), _) => Compute::Put(v.clone()),
            (Decide::PutWithTtl(v, ttl), _) => Compute::PutWithTtl(v.clone(), *ttl),
            (Decide::Expire(ttl), _) => Compute::Expire(*ttl),
            (Decide::Delete, _) => Compute::Delete,
            (Decide::IncrOrInit { .. }, Some((Value::Int(n), _))) => {
                Compute::Put(Value::Int(n.wrapping_add(1)))
            }
            (Decide::IncrOrInit { .. }, Some(_)) => Compute::Keep,
            (Decide::IncrOrInit { ttl }, None) => Compute::PutWithTtl(Value::Int(1), Some(*ttl)),
            (Decide::Extend { below, to }, Some((_, Some(left)))) if left < *below => {
                Compute::Expire(*to)
            }
            (Decide::Extend { .. }, _) => Compute::Keep,
        }
    }
}

/// The error the `init` of [`Op::TryGetOrInsertWith`] and [`Op::TryLoadWith`] returns when the
/// op carries no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitFailed;

/// One call of a [`Store`] method (or a clock advance), with its arguments: [`Op::apply`] makes
/// it. Each variant says which method it calls and which [`OpResult`] that gives.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// [`Store::set`]: [`OpResult::Unit`].
    Set {
        /// The key.
        key: String,
        /// The value.
        value: Value,
    },
    /// [`Store::set_with_ttl`]: [`OpResult::Unit`].
    SetWithTtl {
        /// The key.
        key: String,
        /// The value.
        value: Value,
        /// The TTL (`ZERO`: expired at once).
        ttl: Duration,
    },
    /// [`Store::get`]: [`OpResult::Found`].
    Get {
        /// The key.
        key: String,
    },
    /// [`Store::get_or`]: [`OpResult::Value`].
    GetOr {
        /// The key.
        key: String,
        /// What to return if it is not live.
        default: Value,
    },
    /// [`Store::get_with`] with `Value::clone`: [`OpResult::Found`].
    GetWith {
        /// The key.
        key: String,
    },
    /// [`Store::delete`]: [`OpResult::Bool`].
    Delete {
        /// The key.
        key: String,
    },
    /// [`Store::incr`]: [`OpResult::Int`].
    Incr {
        /// The key.
        key: String,
        /// What to add.
        delta: i64,
    },
    /// [`Store::incr_with_ttl`]: [`OpResult::Int`].
    IncrWithTtl {
        /// The key.
        key: String,
        /// What to add.
        delta: i64,
        /// The TTL of a key this creates.
        ttl: Duration,
    },
    /// [`Store::keys`]: [`OpResult::Keys`].
    Keys {
        /// The glob pattern.
        pattern: String,
    },
    /// [`Store::exists`]: [`OpResult::Bool`].
    Exists {
        /// The key.
        key: String,
    },
    /// [`Store::ttl`]: [`OpResult::Ttl`].
    Ttl {
        /// The key.
        key: String,
    },
    /// [`Store::expire`]: [`OpResult::Bool`].
    Expire {
        /// The key.
        key: String,
        /// The new TTL (`ZERO`: expired at once).
        ttl: Duration,
    },
    /// [`Store::get_and_expire`]: [`OpResult::Found`].
    GetAndExpire {
        /// The key.
        key: String,
        /// The new TTL (`ZERO`: expired at once).
        ttl: Duration,
    },
    /// [`Store::persist`]: [`OpResult::Bool`].
    Persist {
        /// The key.
        key: String,
    },
    /// [`Store::clear`]: [`OpResult::Unit`].
    Clear,
    /// [`Store::len`]: [`OpResult::Count`].
    Len,
    /// [`Store::is_empty`]: [`OpResult::Bool`].
    IsEmpty,
    /// [`Store::purge_expired`]: [`OpResult::Count`].
    PurgeExpired,
    /// [`Store::set_if_absent`]: [`OpResult::Bool`].
    SetIfAbsent {
        /// The key.
        key: String,
        /// The value.
        value: Value,
        /// The TTL (`None`: none; `Some(ZERO)`: expired at once).
        ttl: Option<Duration>,
    },
    /// [`Store::swap`]: [`OpResult::Found`] (the live value it replaced).
    Swap {
        /// The key.
        key: String,
        /// The value.
        value: Value,
        /// The TTL (`None`: none; `Some(ZERO)`: expired at once).
        ttl: Option<Duration>,
    },
    /// [`Store::take`]: [`OpResult::Found`].
    Take {
        /// The key.
        key: String,
    },
    /// [`Store::compare_and_set`]: [`OpResult::Bool`].
    CompareAndSet {
        /// The key.
        key: String,
        /// The value it must hold (`Value`'s `==`).
        expected: Value,
        /// Its replacement.
        new: Value,
    },
    /// [`Store::compare_and_delete`]: [`OpResult::Bool`].
    CompareAndDelete {
        /// The key.
        key: String,
        /// The value it must hold (`Value`'s `==`).
        expected: Value,
    },
    /// [`Store::update`] with [`Update::apply`]: [`OpResult::Found`] (the new value).
    Update {
        /// The key.
        key: String,
        /// The function.
        update: Update,
    },
    /// [`Store::compute`] with [`Decide::decide`]: [`OpResult::Computed`].
    Compute {
        /// The key.
        key: String,
        /// The decision.
        decide: Decide,
    },
    /// [`Store::get_or_insert_with`], whose `init` returns `value`: [`OpResult::Value`].
    GetOrInsertWith {
        /// The key.
        key: String,
        /// The TTL of a loaded value (`None`: none; `Some(ZERO)`: expired at once).
        ttl: Option<Duration>,
        /// What `init` returns.
        value: Value,
    },
    /// [`Store::try_get_or_insert_with`], whose `init` returns `value`, or [`InitFailed`] if it
    /// is `None`: [`OpResult::Tried`].
    TryGetOrInsertWith {
        /// The key.
        key: String,
        /// The TTL of a loaded value (`None`: none; `Some(ZERO)`: expired at once).
        ttl: Option<Duration>,
        /// What `init` returns (`None`: it fails).
        value: Option<Value>,
    },
    /// [`Store::load_with`], whose `init` returns `value`: [`OpResult::Loaded`].
    LoadWith {
        /// The key.
        key: String,
        /// The TTL of a loaded value (`None`: none; `Some(ZERO)`: expired at once).
        ttl: Option<Duration>,
        /// What `init` returns.
        value: Value,
    },
    /// [`Store::try_load_with`], whose `init` returns `value`, or [`InitFailed`] if it is
    /// `None`: [`OpResult::TryLoaded`].
    TryLoadWith {
        /// The key.
        key: String,
        /// The TTL of a loaded value (`None`: none; `Some(ZERO)`: expired at once).
        ttl: Option<Duration>,
        /// What `init` returns (`None`: it fails).
        value: Option<Value>,
    },
    /// [`Store::stats`]: [`OpResult::Stats`].
    Stats,
    /// [`TestClock::advance`] by this much: [`OpResult::Unit`].
    Advance(Duration),
}

/// What an [`Op`] returned. `==` compares values by identity (see the
/// [module docs](crate::testing::ops#comparing-results)).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum OpResult {
    /// A method that returns nothing.
    Unit,
    /// A `bool`.
    Bool(bool),
    /// An `Option<Value>`.
    Found(Option<Value>),
    /// A `Value`.
    Value(Value),
    /// `incr`'s result.
    Int(Result<i64>),
    /// `keys`'s result.
    Keys(Result<Vec<String>>),
    /// `ttl`'s result.
    Ttl(Ttl),
    /// `len`'s or `purge_expired`'s count.
    Count(usize),
    /// What `compute`'s closure saw (on its last run): the live value and its remaining TTL
    /// (`None`: no TTL), or `None` if the key was not live.
    Computed(Option<(Value, Option<Duration>)>),
    /// `load_with`'s result.
    Loaded(Loaded),
    /// `try_get_or_insert_with`'s result.
    Tried(std::result::Result<Value, InitFailed>),
    /// `try_load_with`'s result.
    TryLoaded(std::result::Result<Loaded, InitFailed>),
    /// `stats`'s result.
    Stats(Stats),
}

impl PartialEq for OpResult {
    fn eq(&self, other: &Self) -> bool {
        use OpResult as R;
        let same = |a: &Option<Value>, b: &Option<Value>| match (a, b) {
            (Some(a), Some(b)) => identical(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        let loaded = |a: &Loaded, b: &Loaded| a.source == b.source && identical(&a.value, &b.value);
        match (self, other) {
            (R::Unit, R::Unit) => true,
            (R::Bool(a), R::Bool(b)) => a == b,
            (R::Found(a), R::Found(b)) => same(a, b),
            (R::Value(a), R::Value(b)) => identical(a, b),
            (R::Int(a), R::Int(b)) => a == b,
            (R::Keys(a), R::Keys(b)) => a == b,
            (R::Ttl(a), R::Ttl(b)) => a == b,
            (R::Count(a), R::Count(b)) => a == b,
            (R::Computed(a), R::Computed(b)) => match (a, b) {
                (Some((va, ta)), Some((vb, tb))) => ta == tb && identical(va, vb),
                (a, b) => a.is_none() && b.is_none(),
            },
            (R::Loaded(a), R::Loaded(b)) => loaded(a, b),
            (R::Tried(a), R::Tried(b)) => match (a, b) {
                (Ok(a), Ok(b)) => identical(a, b),
                (a, b) => a.is_err() && b.is_err(),
            },
            (R::TryLoaded(a), R::TryLoaded(b)) => match (a, b) {
                (Ok(a), Ok(b)) => loaded(a, b),
                (a, b) => a.is_err() && b.is_err(),
            },
            (R::Stats(a), R::Stats(b)) => a == b,
            _ => false,
        }
    }
}

impl Op {
    /// The key this operation is on; `None` for `Keys`, `Clear`, `Len`, `IsEmpty`,
    /// `PurgeExpired`, `Stats` and `Advance`.
    pub fn key(&self) -> Option<&str> {
        match self {
            Op::Set { key, .. }
            | Op::SetWithTtl { key, .. }
            | Op::Get { key }
            | Op::GetOr { key, .. }
            | Op::GetWith { key }
            | Op::Delete { key }
            | Op::Incr { key, .. }
            | Op::IncrWithTtl { key, .. }
            | Op::Exists { key }
            | Op::Ttl { key }
            | Op::Expire { key, .. }
            | Op::GetAndExpire { key, .. }
            | Op::Persist { key }
            | Op::SetIfAbsent { key, .. }
            | Op::Swap { key, .. }
            | Op::Take { key }
            | Op::CompareAndSet { key, .. }
            | Op::CompareAndDelete { key, .. }
            | Op::Update { key, .. }
            | Op::Compute { key, .. }
            | Op::GetOrInsertWith { key, .. }
            | Op::TryGetOrInsertWith { key, .. }
            | Op::LoadWith { key, .. }
            | Op::TryLoadWith { key, .. } => Some(key),
            Op::Keys { .. }
            | Op::Clear
            | Op::Len
            | Op::IsEmpty
            | Op::PurgeExpired
            | Op::Stats
            | Op::Advance(_) => None,
        }
    }

    /// Makes the call on `store`; [`Op::Advance`] advances `clock` (which should be the clock
    /// the store runs on: [`StoreBuilder::test_clock`](crate::StoreBuilder::test_clock)).
    pub fn apply(&self, store: &Store, clock: &TestClock) -> OpResult {
        use OpResult as R;
        match self {
            Op::Set { key, value } => {
                store.set(key, value.clone());
                R::Unit
            }
            Op::SetWithTtl { key, value, ttl } => {
                store.set_with_ttl(key, value.clone(), *ttl);
                R::Unit
            }
            Op::Get { key } => R::Found(store.get(key)),
            Op::GetOr { key, default } => R::Value(store.get_or(key, default.clone())),
            Op::GetWith { key } => R::Found(store.get_with(key, Value::clone)),
            Op::Delete { key } => R::Bool(store.delete(key)),
            Op::Incr { key, delta } => R::Int(store.incr(key, *delta)),
            Op::IncrWithTtl { key, delta, ttl } => R::Int(store.incr_with_ttl(key, *delta, *ttl)),
            Op::Keys { pattern } => R::Keys(store.keys(pattern)),
            Op::Exists { key } => R::Bool(store.exists(key)),
            Op::Ttl { key } => R::Ttl(store.ttl(key)),
            Op::Expire { key, ttl } => R::Bool(store.expire(key, *ttl)),
            Op::GetAndExpire { key, ttl } => R::Found(store.get_and_expire(key, *ttl)),
            Op::Persist { key } => R::Bool(store.persist(key)),
            Op::Clear => {
                store.clear();
                R::Unit
            }
            Op::Len => R::Count(store.len()),
            Op::IsEmpty => R::Bool(store.is_empty()),
            Op::PurgeExpired => R::Count(store.purge_expired()),
            Op::SetIfAbsent { key, value, ttl } => {
                R::Bool(store.set_if_absent(key, value.clone(), *ttl))
            }
            Op::Swap { key, value, ttl } => R::Found(store.swap(key, value.clone(), *ttl)),
            Op::Take { key } => R::Found(store.take(key)),
            Op::CompareAndSet { key, expected, new } => {
                R::Bool(store.compare_and_set(key, expected, new.clone()))
            }
            Op::CompareAndDelete { key, expected } => {
                R::Bool(store.compare_and_delete(key, expected))
            }
            Op::Update { key, update } => R::Found(store.update(key, |v| update.apply(v))),
            Op::Compute { key, decide } => R::Computed(store.compute(key, |cur| {
                let seen = cur.map(|c| (c.value().clone(), c.ttl()));
                let op = decide.decide(seen.as_ref().map(|(v, ttl)| (v, *ttl)));
                (op, seen)
            })),
            Op::GetOrInsertWith { key, ttl, value } => {
                R::Value(store.get_or_insert_with(key, *ttl, || value.clone()))
            }
            Op::TryGetOrInsertWith { key, ttl, value } => {
                R::Tried(
                    store.try_get_or_insert_with(key, *ttl, || value.clone().ok_or(InitFailed)),
                )
            }
            Op::LoadWith { key, ttl, value } => {
                R::Loaded(store.load_with(key, *ttl, || value.clone()))
            }
            Op::TryLoadWith { key, ttl, value } => {
                R::TryLoaded(store.try_load_with(key, *ttl, || value.clone().ok_or(InitFailed)))
            }
            Op::Stats => R::Stats(store.stats()),
            Op::Advance(by) => {
                clock.advance(*by);
                R::Unit
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The distributions both generators share: each draws a small class number and raw bits, and
// these pure functions make the argument (so proptest shrinks toward class 0 and raw 0).

/// Nanoseconds per tick of the expiry wheel.
const TICK: u64 = 1 << 20;
const SEC: u64 = 1_000_000_000;

/// Wheel-relevant tick counts: one tick, each level's first slot.
const BOUNDARY_TICKS: [u64; 5] = [1, 64, 64 * 64, 64 * 64 * 64, 64 * 64 * 64 * 64];

/// Classes of [`ttl_from`].
pub(crate) const TTL_CLASSES: u8 = 16;
/// Classes of [`advance_from`].
pub(crate) const ADVANCE_CLASSES: u8 = 8;

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

/// A tick boundary of the wheel, give or take a nanosecond.
fn boundary(raw: u64) -> Duration {
    let ticks = BOUNDARY_TICKS[(raw % BOUNDARY_TICKS.len() as u64) as usize];
    let offset = (raw >> 8) % 3; // -1, 0, +1 ns
    ns((ticks * TICK + offset).saturating_sub(1).max(1))
}

/// A TTL: `ZERO` (2 in 16), sub-tick (3), up to a second (3), a second to ten minutes (4), a
/// wheel boundary (2), an hour to about three centuries (1), `Duration::MAX` (1).
pub(crate) fn ttl_from(class: u8, raw: u64) -> Duration {
    match class % TTL_CLASSES {
        0 | 1 => Duration::ZERO,
        2..=4 => ns(1 + raw % TICK),
        5..=7 => ns(1 + raw % SEC),
        8..=11 => ns(SEC + raw % (600 * SEC)),
        12 | 13 => boundary(raw),
        14 => ns(3_600 * SEC + raw % (10_000_000_000 * SEC)),
        _ => Duration::MAX,
    }
}

/// An optional TTL: `None` (no expiry) for class 0, otherwise [`ttl_from`] (so `Some(ZERO)`
/// one time in sixteen).
pub(crate) fn ttl_opt_from(class: u8, raw: u64) -> Option<Duration> {
    (class % TTL_CLASSES != 0).then(|| ttl_from(class, raw))
}

/// A clock advance: sub-tick (3 in 8), up to a second (2), a second to ten minutes (1), a wheel
/// boundary (1), up to three days (1).
pub(crate) fn advance_from(class: u8, raw: u64) -> Duration {
    match class % ADVANCE_CLASSES {
        0..=2 => ns(raw % TICK),
        3 | 4 => ns(raw % SEC),
        5 => ns(SEC + raw % (600 * SEC)),
        6 => boundary(raw),
        _ => ns(raw % (3 * 86_400 * SEC)),
    }
}

/// Integers next to the ends of `i64`.
pub(crate) const EXTREME_INTS: [i64; 4] = [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX];

/// The short strings operation values draw from.
pub(crate) const STRINGS: [&str; 3] = ["x", "y", "s"];

/// The key of an operation, from a raw draw: three in four times one of the first three
/// (hot) keys of a pool of `keys`.
pub(crate) fn key_from(keys: usize, hot: bool, raw: usize) -> String {
    let keys = keys.max(1);
    if hot {
        key(raw % keys.min(3))
    } else {
        key(raw % keys)
    }
}

#[cfg(feature = "arbitrary")]
mod arbitrary;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_is_bitwise_on_floats_and_structural_elsewhere() {
        let nan = Value::Float(f64::NAN);
        assert!(identical(&nan, &nan.clone()));
        assert!(nan != nan.clone());
        assert!(!identical(&Value::Float(0.0), &Value::Float(-0.0)));
        let d =
            |k: &str, v: Value| Value::from(std::collections::BTreeMap::from([(k.to_owned(), v)]));
        assert!(identical(&d("k", nan.clone()), &d("k", nan.clone())));
        assert!(!identical(&d("k", Value::Null), &d("j", Value::Null)));
        assert!(!identical(
            &Value::List(vec![Value::Int(1)]),
            &Value::List(vec![Value::Int(1), Value::Int(2)])
        ));
        assert!(!identical(&Value::Int(1), &Value::Float(1.0)));
        assert_eq!(
            OpResult::Found(Some(nan.clone())),
            OpResult::Found(Some(nan))
        );
        assert_ne!(OpResult::Found(None), OpResult::Value(Value::Null));
    }

    #[test]
    fn updates_and_decisions_are_what_they_say() {
        let list = Value::from(vec![1]);
        assert_eq!(
            Update::Append(2.into()).apply(&list),
            Value::from(vec![1, 2])
        );
        assert_eq!(
            Update::Append(2.into()).apply(&"s".into()),
            Value::from(vec![Value::from("s"), 2.into()])
        );
        assert_eq!(Update::NegateInt.apply(&i64::MIN.into()), i64::MIN.into());
        assert_eq!(Update::AddInt(3).apply(&"s".into()), "s".into());
        let ttl = Duration::from_secs(1);
        assert_eq!(
            Decide::IncrOrInit { ttl }.decide(None),
            Compute::PutWithTtl(1.into(), Some(ttl))
        );
        assert_eq!(
            Decide::IncrOrInit { ttl }.decide(Some((&i64::MAX.into(), None))),
            Compute::Put(i64::MIN.into())
        );
        let extend = Decide::Extend {
            below: ttl,
            to: 2 * ttl,
        };
        assert_eq!(
            extend.decide(Some((&Value::Null, Some(ttl / 2)))),
            Compute::Expire(2 * ttl)
        );
        assert_eq!(
            extend.decide(Some((&Value::Null, Some(ttl)))),
            Compute::Keep
        );
        assert_eq!(extend.decide(Some((&Value::Null, None))), Compute::Keep);
    }

    #[test]
    fn ttls_and_advances_span_sub_tick_to_minutes_and_beyond() {
        let ttls: Vec<Duration> = (0..TTL_CLASSES)
            .flat_map(|c| [0u64, 1, 12_345_678_901, u64::MAX].map(|raw| ttl_from(c, raw)))
            .collect();
        assert!(ttls.contains(&Duration::ZERO) && ttls.contains(&Duration::MAX));
        assert!(ttls
            .iter()
            .any(|t| !t.is_zero() && t.as_nanos() < u128::from(TICK)));
        assert!(ttls.iter().any(|t| t.as_secs() >= 60 && t.as_secs() < 600));
        for c in 0..ADVANCE_CLASSES {
            for raw in [0, 1, u64::MAX] {
                assert!(advance_from(c, raw) <= Duration::from_secs(3 * 86_400));
            }
        }
        let boundaries: Vec<Duration> = (0..4096).map(boundary).collect();
        for ticks in BOUNDARY_TICKS {
            for n in [ticks * TICK - 1, ticks * TICK, ticks * TICK + 1] {
                assert!(boundaries.contains(&ns(n)), "{n}");
            }
        }
        assert_eq!(key(0), "a");
        assert_eq!(key(KEYS.len()), "key:9");
    }
}
