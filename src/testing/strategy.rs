//! proptest strategies (feature `proptest`, which also enables `test-util`): [`value`] for
//! `Value`s, and [`ops()`] for sequences of store operations ([`Op`]) to replay on a
//! [`Store`](crate::Store) and on a model of yours, comparing every result.
//!
//! - [`value`]: every variant; `List`s and `Dict`s nested at most [`MAX_DEPTH`] deep with at
//!   most [`MAX_LEN`] elements each; any `i64` (biased toward small ones and the ends of the
//!   range); any `f64` bit pattern, NaN, infinities, `-0.0` and subnormals included; any
//!   `String` (proptest's `any::<String>()`); bytes up to 16 long. [`value_with`] takes other
//!   bounds.
//! - [`ops()`]: operations on a pool of `keys` keys, drawn as the [`ops` module](crate::testing::ops) says
//!   (small values that collide, TTLs from sub-tick to minutes and beyond, clock advances).
//!
//! Shrinking works as usual: a failing sequence shrinks to fewer, simpler operations.
//!
//! # Example
//!
//! A differential test of your own implementation of the store's contract against the store,
//! both on test clocks (here a second `Store` stands in for yours); every result must agree:
//!
//! ```
//! use proptest::test_runner::{Config, TestRunner};
//! use scriptling_kv::{strategy, Store, TestClock};
//!
//! fn store_on(clock: &TestClock) -> Store {
//!     Store::builder()
//!         .test_clock(clock.clone())
//!         .background_cleanup(false)
//!         .record_stats(true)
//!         .build()
//! }
//!
//! let mut runner = TestRunner::new(Config::with_cases(32));
//! runner
//!     .run(&strategy::ops(4, 1..60), |ops| {
//!         let (reference_clock, mine_clock) = (TestClock::new(), TestClock::new());
//!         let (reference, mine) = (store_on(&reference_clock), store_on(&mine_clock));
//!         for (step, op) in ops.iter().enumerate() {
//!             let want = op.apply(&reference, &reference_clock);
//!             let got = op.apply(&mine, &mine_clock); // your implementation here
//!             proptest::prop_assert_eq!(got, want, "step {}: {:?}", step, op);
//!         }
//!         Ok(())
//!     })
//!     .unwrap();
//! ```
//!
//! Values alone, for a round trip through your own code:
//!
//! ```
//! use proptest::prelude::*;
//! use proptest::test_runner::TestRunner;
//! use scriptling_kv::{ops::identical, strategy, Store};
//!
//! let store = Store::new();
//! TestRunner::default()
//!     .run(&strategy::value(), |v| {
//!         store.set("k", v.clone());
//!         prop_assert!(identical(&store.get("k").unwrap(), &v));
//!         Ok(())
//!     })
//!     .unwrap();
//! ```

use std::ops::Range;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use crate::testing::ops::{self, Decide, Op, Update};
use crate::value::Value;

/// How many `List`s/`Dict`s deep a value from [`value`] nests, at most: 4 (as `Value::arbitrary`
/// with the feature `arbitrary`).
pub const MAX_DEPTH: usize = 4;

/// How many elements a `List` or entries a `Dict` from [`value`] holds, at most: 8.
pub const MAX_LEN: usize = 8;

/// Values with the default bounds: at most [`MAX_DEPTH`] containers deep, at most [`MAX_LEN`]
/// elements per container (see the module docs for the distribution).
pub fn value() -> impl Strategy<Value = Value> {
    value_with(MAX_DEPTH, MAX_LEN)
}

/// Values nested at most `max_depth` containers deep (0: scalars only), with at most `max_len`
/// elements in each `List` and entries in each `Dict`.
pub fn value_with(max_depth: usize, max_len: usize) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => int().prop_map(Value::Int),
        2 => float().prop_map(Value::Float),
        2 => any::<String>().prop_map(Value::Str),
        1 => vec(any::<u8>(), 0..=16).prop_map(Value::Bytes),
    ];
    let depth = u32::try_from(max_depth).unwrap_or(u32::MAX);
    // The typical size (proptest's "desired size", in elements); the bounds above are hard.
    let size = u32::try_from(max_len.saturating_mul(8).clamp(1, 64)).unwrap_or(64);
    let branch = u32::try_from(max_len).unwrap_or(u32::MAX).max(1);
    leaf.prop_recursive(depth, size, branch, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..=max_len).prop_map(Value::List),
            btree_map(any::<String>(), inner, 0..=max_len).prop_map(Value::Dict),
        ]
    })
}

/// Any `i64`, often a small one or one next to the ends of the range.
fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => -3i64..=3,
        1 => prop::sample::select(ops::EXTREME_INTS.to_vec()),
        3 => any::<i64>(),
    ]
}

/// Any `f64` bit pattern, often a corner case.
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            1.0,
        ]),
        1 => -1e6f64..1e6,
        2 => any::<u64>().prop_map(f64::from_bits),
    ]
}

/// A TTL, as the [`ops` module](crate::testing::ops) says: from `Duration::ZERO` (expired at once) and
/// below a tick through seconds and minutes, wheel boundaries, hours to centuries,
/// `Duration::MAX`.
pub fn ttl() -> impl Strategy<Value = std::time::Duration> {
    (0..ops::TTL_CLASSES, any::<u64>()).prop_map(|(class, raw)| ops::ttl_from(class, raw))
}

/// An optional TTL: `None` (no expiry) one time in sixteen, otherwise a [`ttl`].
pub fn ttl_opt() -> impl Strategy<Value = Option<std::time::Duration>> {
    (0..ops::TTL_CLASSES, any::<u64>()).prop_map(|(class, raw)| ops::ttl_opt_from(class, raw))
}

/// A clock advance: mostly below a tick or a second, sometimes minutes, a wheel boundary, or up
/// to three days.
pub fn advance() -> impl Strategy<Value = std::time::Duration> {
    (0..ops::ADVANCE_CLASSES, any::<u64>()).prop_map(|(class, raw)| ops::advance_from(class, raw))
}

/// An operation's value: small ints, a few short strings, extreme ints, any value (at most 2
/// deep and 3 wide).
fn op_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (-3i64..=3).prop_map(Value::Int),
        1 => prop::sample::select(ops::STRINGS.to_vec()).prop_map(Value::from),
        1 => prop::sample::select(ops::EXTREME_INTS.to_vec()).prop_map(Value::Int),
        2 => value_with(2, 3),
    ]
}

fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => -3i64..=3,
        1 => prop::sample::select(ops::EXTREME_INTS.to_vec()),
        1 => any::<i64>(),
    ]
}

fn update() -> impl Strategy<Value = Update> {
    prop_oneof![
        op_value().prop_map(Update::Append),
        Just(Update::NegateInt),
        delta().prop_map(Update::AddInt),
        op_value().prop_map(Update::Replace),
    ]
}

fn decide() -> impl Strategy<Value = Decide> {
    prop_oneof![
        Just(Decide::Keep),
        op_value().prop_map(Decide::Put),
        (op_value(), ttl_opt()).prop_map(|(v, t)| Decide::PutWithTtl(v, t)),
        ttl().prop_map(Decide::Expire),
        Just(Decide::Delete),
        ttl().prop_map(|ttl| Decide::IncrOrInit { ttl }),
        (ttl(), ttl()).prop_map(|(below, to)| Decide::Extend { below, to }),
    ]
}

/// One operation on the keys [`ops::key`]`(0..keys)`, three in four on the first three of them:
/// every [`Op`] variant, writes and clock advances the most frequent.
///
/// # Panics
///
/// If `keys` is 0.
pub fn op(keys: usize) -> impl Strategy<Value = Op> {
    assert!(keys > 0, "strategy::op needs at least one key");
    let key = move || {
        (any::<bool>(), any::<bool>(), any::<usize>())
            .prop_map(move |(a, b, raw)| ops::key_from(keys, a || b, raw))
    };
    let maybe = || prop_oneof![2 => op_value().prop_map(Some), 1 => Just(None)];
    prop_oneof![
        3 => (key(), op_value()).prop_map(|(key, value)| Op::Set { key, value }),
        6 => (key(), op_value(), ttl())
            .prop_map(|(key, value, ttl)| Op::SetWithTtl { key, value, ttl }),
        3 => key().prop_map(|key| Op::Get { key }),
        1 => (key(), op_value()).prop_map(|(key, default)| Op::GetOr { key, default }),
        1 => key().prop_map(|key| Op::GetWith { key }),
        2 => key().prop_map(|key| Op::Delete { key }),
        4 => (key(), delta()).prop_map(|(key, delta)| Op::Incr { key, delta }),
        2 => (key(), delta(), ttl())
            .prop_map(|(key, delta, ttl)| Op::IncrWithTtl { key, delta, ttl }),
        2 => prop::sample::select(ops::PATTERNS.to_vec())
            .prop_map(|p| Op::Keys { pattern: p.to_owned() }),
        1 => key().prop_map(|key| Op::Exists { key }),
        3 => key().prop_map(|key| Op::Ttl { key }),
        3 => (key(), ttl()).prop_map(|(key, ttl)| Op::Expire { key, ttl }),
        1 => key().prop_map(|key| Op::Persist { key }),
        1 => Just(Op::Clear),
        1 => Just(Op::Len),
        1 => Just(Op::IsEmpty),
        3 => Just(Op::PurgeExpired),
        3 => (key(), op_value(), ttl_opt())
            .prop_map(|(key, value, ttl)| Op::SetIfAbsent { key, value, ttl }),
        2 => (key(), op_value(), ttl_opt())
            .prop_map(|(key, value, ttl)| Op::Swap { key, value, ttl }),
        2 => key().prop_map(|key| Op::Take { key }),
        3 => (key(), op_value(), op_value())
            .prop_map(|(key, expected, new)| Op::CompareAndSet { key, expected, new }),
        2 => (key(), op_value())
            .prop_map(|(key, expected)| Op::CompareAndDelete { key, expected }),
        2 => (key(), update()).prop_map(|(key, update)| Op::Update { key, update }),
        3 => (key(), decide()).prop_map(|(key, decide)| Op::Compute { key, decide }),
        1 => (key(), ttl_opt(), op_value())
            .prop_map(|(key, ttl, value)| Op::GetOrInsertWith { key, ttl, value }),
        1 => (key(), ttl_opt(), maybe())
            .prop_map(|(key, ttl, value)| Op::TryGetOrInsertWith { key, ttl, value }),
        1 => (key(), ttl_opt(), op_value())
            .prop_map(|(key, ttl, value)| Op::LoadWith { key, ttl, value }),
        1 => (key(), ttl_opt(), maybe())
            .prop_map(|(key, ttl, value)| Op::TryLoadWith { key, ttl, value }),
        1 => Just(Op::Stats),
        2 => (key(), ttl()).prop_map(|(key, ttl)| Op::GetAndExpire { key, ttl }),
        8 => advance().prop_map(Op::Advance),
    ]
}

/// Sequences of [`op`]`(keys)`s, of a length in `len`.
///
/// # Panics
///
/// If `keys` is 0.
pub fn ops(keys: usize, len: Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    vec(op(keys), len)
}
