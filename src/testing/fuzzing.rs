//! Generators for fuzzing (feature `arbitrary`): [`arbitrary::Arbitrary`] for [`Value`], so a
//! cargo-fuzz target (or any `#[derive(Arbitrary)]` type of yours) can take `Value`s as input,
//! as it can take `serde_json::Value`s or `uuid::Uuid`s.
//!
//! # What `Value::arbitrary` generates
//!
//! Every variant, with bounded nesting and size:
//!
//! - `Null`; any `Bool`;
//! - `Int`: any `i64` (now and then a small one, or one next to `i64::MIN`/`i64::MAX`, which the
//!   arithmetic of `incr` and your code care about);
//! - `Float`: any `f64` bit pattern, **NaN, both infinities, `-0.0` and subnormals included**
//!   (now and then taken from a list of such corner cases, so a fuzzer meets them early). Mind
//!   that `NaN != NaN` under `Value`'s `PartialEq`, and that JSON has no non-finite numbers;
//! - `Str`: any `String` (`String::arbitrary`), `Bytes`: any `Vec<u8>`; their length is bounded
//!   only by the input;
//! - `List` and `Dict` (any `String` keys): at most [`MAX_LEN`] elements each, nested at most
//!   [`MAX_DEPTH`] containers deep (a container at the deepest level holds only scalars).
//!
//! So a value holds at most `MAX_LEN + MAX_LEN² + … + MAX_LEN^MAX_DEPTH` containers and
//! scalars, and how long its strings are is up to the input. [`value`] takes other bounds.
//!
//! Since NaN can occur, compare values read back with [`identical`] (floats bit for bit), not
//! with `==`.
//!
//! With the feature `test-util` as well, the operations of the module `ops` implement
//! `Arbitrary` too, so a fuzz target can take a `Vec<ops::Op>` and replay it on a store
//! (`Op::apply`) and on a model of yours.
//!
//! # Examples
//!
//! A cargo-fuzz target (`fuzz/fuzz_targets/my_service.rs`, with `scriptling-kv = { version = "…",
//! features = ["arbitrary"] }` among the fuzz crate's dependencies) that feeds arbitrary values
//! to your code:
//!
//! ```ignore
//! #![no_main]
//!
//! use libfuzzer_sys::fuzz_target;
//! use scriptling_kv::Value;
//!
//! fuzz_target!(|input: (String, Value)| {
//!     let (key, value) = input;
//!     // Your code under test: it must not panic, and what it stores must read back.
//!     let service = my_service::Service::new();
//!     service.put(&key, value.clone());
//!     // `==` on `Value` follows `f64` (NaN != NaN): compare bit for bit.
//!     assert!(scriptling_kv::fuzzing::identical(&service.fetch(&key).unwrap(), &value));
//! });
//! ```
//!
//! The impl on its own, with bounds of your choosing through [`value`]:
//!
//! ```
//! use arbitrary::{Arbitrary, Unstructured};
//! use scriptling_kv::{fuzzing, Value};
//!
//! let bytes: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
//! let mut u = Unstructured::new(&bytes);
//! while let Ok(v) = Value::arbitrary(&mut u) {
//!     assert!(depth(&v) <= fuzzing::MAX_DEPTH);
//!     if u.is_empty() {
//!         break;
//!     }
//! }
//! // Flat values only: no containers at all.
//! let mut u = Unstructured::new(&bytes);
//! let flat = fuzzing::value(&mut u, 0, 0).unwrap();
//! assert!(!matches!(flat, Value::List(_) | Value::Dict(_)));
//!
//! /// How many containers deep `v` is.
//! fn depth(v: &Value) -> usize {
//!     match v {
//!         Value::List(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
//!         Value::Dict(map) => 1 + map.values().map(depth).max().unwrap_or(0),
//!         _ => 0,
//!     }
//! }
//! ```

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::value::Value;

pub use crate::testing::identical::identical;

/// How many `List`s/`Dict`s deep a value from `Value::arbitrary` nests, at most: 4 (a scalar
/// inside four containers is the deepest it goes).
pub const MAX_DEPTH: usize = 4;

/// How many elements a `List` or entries a `Dict` from `Value::arbitrary` holds, at most: 8.
pub const MAX_LEN: usize = 8;

/// Floats a fuzzer should meet early: the non-finite ones, both zeros, the extremes.
const SPECIAL_FLOATS: [f64; 14] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -0.0,
    f64::MIN_POSITIVE,
    -f64::MIN_POSITIVE,
    5e-324, // the smallest subnormal
    f64::MAX,
    f64::MIN,
    f64::EPSILON,
    1.0,
    -1.5,
    0.1,
];

/// Integers next to the ends of `i64` (and zero).
const SPECIAL_INTS: [i64; 5] = [i64::MIN, i64::MIN + 1, 0, i64::MAX - 1, i64::MAX];

/// An arbitrary `Value` nested at most `max_depth` containers deep, with at most `max_len`
/// elements in each `List` and entries in each `Dict` (`Value::arbitrary` is
/// `value(u, MAX_DEPTH, MAX_LEN)`). With `max_depth == 0` the value is a scalar.
///
/// Like every `Arbitrary` impl it never fails for lack of input: once `u` runs out, every choice
/// takes its first option (`Null`, empty containers).
pub fn value(u: &mut Unstructured<'_>, max_depth: usize, max_len: usize) -> Result<Value> {
    let kinds = if max_depth == 0 { 6 } else { 8 };
    Ok(match u.choose_index(kinds)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Int(int(u)?),
        3 => Value::Float(float(u)?),
        4 => Value::Str(u.arbitrary()?),
        5 => Value::Bytes(u.arbitrary()?),
        6 => {
            let n = u.int_in_range(0..=max_len)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(value(u, max_depth - 1, max_len)?);
            }
            Value::List(items)
        }
        _ => {
            let n = u.int_in_range(0..=max_len)?;
            let mut map = BTreeMap::new();
            for _ in 0..n {
                let key: String = u.arbitrary()?;
                map.insert(key, value(u, max_depth - 1, max_len)?);
            }
            Value::Dict(map)
        }
    })
}

/// Any `i64`; one time in eight a small one, one in eight one of [`SPECIAL_INTS`].
fn int(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => i64::from(u.int_in_range(-3i8..=3)?),
        1 => *u.choose(&SPECIAL_INTS)?,
        _ => u.arbitrary()?,
    })
}

/// Any `f64` bit pattern; one time in four one of [`SPECIAL_FLOATS`].
fn float(u: &mut Unstructured<'_>) -> Result<f64> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => *u.choose(&SPECIAL_FLOATS)?,
        _ => f64::from_bits(u.arbitrary()?),
    })
}

/// Arbitrary values nested at most [`MAX_DEPTH`] deep with at most [`MAX_LEN`] elements per
/// container: see the [module docs](crate::testing::fuzzing) for the distribution.
impl<'a> Arbitrary<'a> for Value {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        value(u, MAX_DEPTH, MAX_LEN)
    }

    /// At least the byte that picks the variant; no upper bound (strings and bytes take what
    /// the input has).
    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(v: &Value) -> usize {
        match v {
            Value::List(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Dict(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    fn widest(v: &Value) -> usize {
        match v {
            Value::List(items) => items.iter().map(widest).max().unwrap_or(0).max(items.len()),
            Value::Dict(map) => map.values().map(widest).max().unwrap_or(0).max(map.len()),
            _ => 0,
        }
    }

    /// Pseudo-random bytes (xorshift), so the test sees many shapes.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn bounded_and_every_variant_and_float_corner_is_reached() {
        let mut kinds = [false; 8];
        let (mut nan, mut inf, mut neg_zero, mut max_depth, mut max_len) =
            (false, false, false, 0, 0);
        for seed in 0..400 {
            let data = bytes(seed, 2048);
            let mut u = Unstructured::new(&data);
            while !u.is_empty() {
                let v = Value::arbitrary(&mut u).unwrap();
                assert!(depth(&v) <= MAX_DEPTH, "{v:?}");
                assert!(widest(&v) <= MAX_LEN, "{v:?}");
                max_depth = max_depth.max(depth(&v));
                max_len = max_len.max(widest(&v));
                let mut stack = vec![&v];
                while let Some(v) = stack.pop() {
                    let kind = match v {
                        Value::Null => 0,
                        Value::Bool(_) => 1,
                        Value::Int(_) => 2,
                        Value::Float(x) => {
                            nan |= x.is_nan();
                            inf |= x.is_infinite();
                            neg_zero |= *x == 0.0 && x.is_sign_negative();
                            3
                        }
                        Value::Str(_) => 4,
                        Value::Bytes(_) => 5,
                        Value::List(items) => {
                            stack.extend(items);
                            6
                        }
                        Value::Dict(map) => {
                            stack.extend(map.values());
                            7
                        }
                    };
                    kinds[kind] = true;
                }
            }
        }
        assert_eq!(kinds, [true; 8]);
        assert!(nan && inf && neg_zero);
        assert_eq!((max_depth, max_len), (MAX_DEPTH, MAX_LEN));
    }

    #[test]
    fn empty_input_gives_null_and_custom_bounds_hold() {
        assert_eq!(
            Value::arbitrary(&mut Unstructured::new(&[])).unwrap(),
            Value::Null
        );
        for seed in 0..200 {
            let data = bytes(seed, 512);
            let mut u = Unstructured::new(&data);
            let v = value(&mut u, 1, 2).unwrap();
            assert!(depth(&v) <= 1 && widest(&v) <= 2, "{v:?}");
            let v = value(&mut u, 0, 5).unwrap();
            assert_eq!(depth(&v), 0, "{v:?}");
        }
    }
}
