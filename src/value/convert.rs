//! The conversions into [`Value`]: `From` for `bool`, the integers up to 32 bits and `i64`, the
//! floats, strings, `Vec`s and slices (element-wise), maps, `Option`s and `()`, and `TryFrom`
//! for `u64` and `usize`, which fails with [`ValueOutOfRange`] above `i64::MAX`.

use std::collections::{BTreeMap, HashMap};

use super::{Value, ValueOutOfRange};

macro_rules! impl_from {
    ($($t:ty => $variant:ident via $conv:path),* $(,)?) => {$(
        #[doc = concat!("Converts a `", stringify!($t), "` into [`Value::", stringify!($variant), "`].")]
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant($conv(v))
            }
        }
    )*};
}

impl_from!(
    bool => Bool via std::convert::identity,
    i8 => Int via i64::from,
    i16 => Int via i64::from,
    i32 => Int via i64::from,
    i64 => Int via std::convert::identity,
    u8 => Int via i64::from,
    u16 => Int via i64::from,
    u32 => Int via i64::from,
    f32 => Float via f64::from,
    f64 => Float via std::convert::identity,
    &str => Str via String::from,
    &String => Str via String::clone,
    String => Str via std::convert::identity,
);

/// Converts `()` into [`Value::Null`].
impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::Null
    }
}

/// Converts a `Vec` element-wise into [`Value::List`]; a `Vec<u8>` therefore
/// becomes a list of `Int`s (use [`Value::Bytes`] for raw bytes).
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

/// Clones a slice element-wise into [`Value::List`] (`&[u8]` too gives
/// `Int`s).
impl<T: Clone + Into<Value>> From<&[T]> for Value {
    fn from(v: &[T]) -> Self {
        Value::List(v.iter().cloned().map(Into::into).collect())
    }
}

/// Converts a `BTreeMap` into [`Value::Dict`], converting each value.
impl<V: Into<Value>> From<BTreeMap<String, V>> for Value {
    fn from(m: BTreeMap<String, V>) -> Self {
        Value::Dict(m.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

/// Converts a `HashMap` (any hasher) into [`Value::Dict`], converting each
/// value.
impl<V: Into<Value>, S> From<HashMap<String, V, S>> for Value {
    fn from(m: HashMap<String, V, S>) -> Self {
        Value::Dict(m.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

/// Converts `Some(x)` like `x` and `None` into [`Value::Null`].
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Converts a `u64` into [`Value::Int`], failing above `i64::MAX`.
impl TryFrom<u64> for Value {
    type Error = ValueOutOfRange;

    fn try_from(v: u64) -> Result<Self, ValueOutOfRange> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| ValueOutOfRange(v))
    }
}

/// Converts a `usize` into [`Value::Int`], failing above `i64::MAX` (on a
/// hypothetical platform with `usize` wider than 64 bits, a value beyond
/// `u64::MAX` is reported as `ValueOutOfRange(u64::MAX)`).
impl TryFrom<usize> for Value {
    type Error = ValueOutOfRange;

    fn try_from(v: usize) -> Result<Self, ValueOutOfRange> {
        u64::try_from(v).map_or(Err(ValueOutOfRange(u64::MAX)), Value::try_from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::tests::{dict, ints};
    use std::collections::hash_map::DefaultHasher;
    use std::hash::BuildHasherDefault;

    #[test]
    fn from_scalars_and_strings() {
        let owned = String::from("hé");
        let cases = [
            (Value::from(true), Value::Bool(true)),
            (Value::from(i8::MIN), Value::Int(-128)),
            (Value::from(i16::MIN), Value::Int(-32768)),
            (Value::from(i32::MIN), Value::Int(-2_147_483_648)),
            (Value::from(i64::MIN), Value::Int(i64::MIN)),
            (Value::from(u8::MAX), Value::Int(255)),
            (Value::from(u16::MAX), Value::Int(65535)),
            (Value::from(u32::MAX), Value::Int(4_294_967_295)),
            (Value::from(1.5f32), Value::Float(1.5)),
            (Value::from(0.1f32), Value::Float(f64::from(0.1f32))),
            (Value::from(-0.25f64), Value::Float(-0.25)),
            (Value::from("hé"), Value::Str("hé".into())),
            (Value::from(&owned), Value::Str("hé".into())),
            (Value::from(owned.clone()), Value::Str("hé".into())),
            (Value::from(()), Value::Null),
            (Value::default(), Value::Null),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn from_vecs_slices_and_options() {
        assert_eq!(Value::from(vec![1, 2]), ints(&[1, 2]));
        let nested = Value::from(vec![vec![1], vec![], vec![2, 3]]);
        assert_eq!(
            nested,
            Value::List(vec![ints(&[1]), ints(&[]), ints(&[2, 3])])
        );
        // Vec<u8> and &[u8] are lists of ints, never Bytes.
        assert_eq!(Value::from(b"ab".to_vec()), ints(&[97, 98]));
        assert_eq!(Value::from(&[7u8][..]), ints(&[7]));
        assert_eq!(
            Value::from(vec![Value::Null]),
            Value::List(vec![Value::Null])
        );
        let words = ["a", "b"];
        let strs = Value::List(vec![Value::from("a"), Value::from("b")]);
        assert_eq!(Value::from(&words[..]), strs);
        assert_eq!(Value::from(Some(3)), Value::Int(3));
        assert_eq!(Value::from(None::<i32>), Value::Null);
        assert_eq!(Value::from(Some(None::<bool>)), Value::Null);
        assert_eq!(
            Value::from(vec![Some(1), None]),
            Value::List(vec![Value::Int(1), Value::Null])
        );
    }

    #[test]
    fn from_maps() {
        let want = dict([("a", Value::Int(1)), ("b", Value::Int(2))]);
        let b = BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 2)]);
        assert_eq!(Value::from(b), want);
        let h: HashMap<String, i32> = HashMap::from([("a".into(), 1), ("b".into(), 2)]);
        assert_eq!(Value::from(h), want);
        let mut custom: HashMap<_, _, BuildHasherDefault<DefaultHasher>> = HashMap::default();
        custom.insert("x".to_string(), Some("y"));
        custom.insert("n".to_string(), None);
        assert_eq!(
            Value::from(custom),
            dict([("n", Value::Null), ("x", Value::from("y"))])
        );
        let nested = BTreeMap::from([("l".to_string(), vec![1.5])]);
        assert_eq!(
            Value::from(nested),
            dict([("l", Value::List(vec![Value::Float(1.5)]))])
        );
    }

    #[test]
    fn try_from_boundaries_and_error() {
        assert_eq!(Value::try_from(0u64), Ok(Value::Int(0)));
        assert_eq!(Value::try_from(i64::MAX as u64), Ok(Value::Int(i64::MAX)));
        let over = i64::MAX as u64 + 1;
        assert_eq!(Value::try_from(over), Err(ValueOutOfRange(over)));
        assert_eq!(Value::try_from(u64::MAX), Err(ValueOutOfRange(u64::MAX)));
        assert_eq!(Value::try_from(5usize), Ok(Value::Int(5)));
        assert_eq!(Value::try_from(usize::MAX).is_ok(), usize::BITS < 64);
        let e: Box<dyn std::error::Error> = Box::new(ValueOutOfRange(u64::MAX));
        let msg = "integer out of range for Value::Int: 18446744073709551615 > i64::MAX";
        assert_eq!(e.to_string(), format!("{msg} (9223372036854775807)"));
    }
}
