//! The hand-written `Serialize` and `Deserialize` impls of [`Value`] (feature `serde`): the
//! natural JSON shape, integers kept as integers, and a depth limit of [`SERDE_DEPTH`] levels
//! in both directions (type docs, "Serde").

use super::Value;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// How many levels of nesting `Serialize` and `Deserialize` accept within one `Value` (type
/// docs, "Deep nesting").
pub(super) const SERDE_DEPTH: usize = 128;

/// The error message of a value nested deeper than [`SERDE_DEPTH`].
struct TooDeep;

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value nested more than {SERDE_DEPTH} levels deep")
    }
}

/// The depth inside one more level than `depth`, or `None` past [`SERDE_DEPTH`].
fn enter(depth: usize) -> Option<usize> {
    (depth < SERDE_DEPTH).then_some(depth + 1)
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SerializeAt(self, 0).serialize(s)
    }
}

/// A value to serialize inside `depth` lists/dicts.
struct SerializeAt<'a>(&'a Value, usize);

impl Serialize for SerializeAt<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let SerializeAt(value, depth) = *self;
        match value {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) => s.serialize_f64(*x),
            Value::Str(v) => s.serialize_str(v),
            Value::Bytes(b) => s.serialize_bytes(b),
            // What `collect_seq`/`collect_map` would do, with the depth passed down.
            Value::List(l) => {
                let depth = enter(depth).ok_or_else(|| ser::Error::custom(TooDeep))?;
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for item in l {
                    seq.serialize_element(&SerializeAt(item, depth))?;
                }
                seq.end()
            }
            Value::Dict(d) => {
                let depth = enter(depth).ok_or_else(|| ser::Error::custom(TooDeep))?;
                let mut map = s.serialize_map(Some(d.len()))?;
                for (k, v) in d {
                    map.serialize_entry(k, &SerializeAt(v, depth))?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor { depth: 0 })
    }
}

/// Visits (and as a seed, deserializes) a value inside `depth` levels of sequences, maps,
/// options or newtypes.
#[derive(Debug, Clone, Copy)]
struct ValueVisitor {
    depth: usize,
}

impl ValueVisitor {
    /// The visitor one level further down, or the depth error.
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        enter(self.depth)
            .map(|depth| ValueVisitor { depth })
            .ok_or_else(|| E::custom(TooDeep))
    }
}

impl<'de> DeserializeSeed<'de> for ValueVisitor {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn out_of_range<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format_args!("integer out of range for Value::Int: {v}"))
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a bool, an i64 integer, a float, a string, bytes, a sequence or a map")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Value::try_from(v).map_err(E::custom)
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| out_of_range(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| out_of_range(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    // Options and newtypes count as a level too: a format could nest them without end.
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self.enter()?)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self.enter()?)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        // Cap the preallocation: the hint comes from untrusted input.
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(inner)? {
            list.push(item);
        }
        Ok(Value::List(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut dict = BTreeMap::new();
        while let Some((k, v)) = map.next_entry_seed(PhantomData::<String>, inner)? {
            dict.insert(k, v);
        }
        Ok(Value::Dict(dict))
    }
}

#[cfg(test)]
mod tests {
    use super::Value;
    use crate::value::tests::{
        check_against_derived, deep_dict, deep_list, deep_mixed, dict, ints, on_small_stack,
        samples, DEEP,
    };
    use proptest::prelude::*;
    use serde::de::value::{BytesDeserializer, Error as DeError, I128Deserializer};
    use serde::de::{value::U128Deserializer, IntoDeserializer};
    use serde::Deserialize;

    fn from_json(s: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str(s)
    }

    fn round_trip(v: &Value) -> Value {
        from_json(&serde_json::to_string(v).unwrap()).unwrap()
    }

    #[test]
    fn every_variant_but_bytes_round_trips() {
        let extremes = [
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Float(3.0),
        ];
        for v in samples()
            .into_iter()
            .filter(|v| v.as_bytes().is_none())
            .chain(extremes)
        {
            assert_eq!(round_trip(&v), v);
        }
    }

    #[test]
    fn json_shapes_and_bytes_asymmetry() {
        let v = dict([
            ("b", Value::Bool(true)),
            ("f", Value::Float(3.0)),
            ("i", Value::Int(3)),
            ("l", Value::List(vec![Value::Null, Value::from("s")])),
        ]);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"{"b":true,"f":3.0,"i":3,"l":[null,"s"]}"#);
        assert_eq!(
            serde_json::to_string(&Value::Float(f64::NAN)).unwrap(),
            "null"
        );
        // Bytes serialize as a JSON array, which reads back as a List.
        let json = serde_json::to_string(&Value::Bytes(vec![0, 255])).unwrap();
        assert_eq!(json, "[0,255]");
        assert_eq!(from_json(&json).unwrap(), ints(&[0, 255]));
    }

    #[test]
    fn json_numbers() {
        assert_eq!(from_json("3").unwrap(), Value::Int(3));
        assert_eq!(from_json("-3").unwrap(), Value::Int(-3));
        assert_eq!(from_json("3.5").unwrap(), Value::Float(3.5));
        assert_eq!(from_json("3.0").unwrap(), Value::Float(3.0));
        assert_eq!(from_json("1e2").unwrap(), Value::Float(100.0));
        assert_eq!(
            from_json("9223372036854775807").unwrap(),
            Value::Int(i64::MAX)
        );
        assert_eq!(
            from_json("-9223372036854775808").unwrap(),
            Value::Int(i64::MIN)
        );
        let err = from_json("18446744073709551615").unwrap_err().to_string();
        assert!(err.contains("integer out of range for Value::Int"), "{err}");
        assert!(from_json("[9223372036854775808]").is_err());
    }

    #[test]
    fn json_nested_objects() {
        let v = from_json(r#"{"a": {"b": [1, {"c": null}], "d": "e"}, "z": false}"#).unwrap();
        let b = Value::List(vec![Value::Int(1), dict([("c", Value::Null)])]);
        let a = dict([("b", b), ("d", Value::from("e"))]);
        let expected = dict([("a", a), ("z", Value::Bool(false))]);
        assert_eq!(v, expected);
        assert_eq!(round_trip(&expected), expected);
        // Duplicate keys: the last one wins.
        assert_eq!(
            from_json(r#"{"k":1,"k":2}"#).unwrap(),
            dict([("k", Value::Int(2))])
        );
    }

    #[test]
    fn visitor_bytes_unit_and_wide_ints() {
        let bytes = BytesDeserializer::<DeError>::new(b"\x00\x01");
        assert_eq!(Value::deserialize(bytes).unwrap(), Value::Bytes(vec![0, 1]));
        let unit: serde::de::value::UnitDeserializer<DeError> = ().into_deserializer();
        assert_eq!(Value::deserialize(unit).unwrap(), Value::Null);
        let i = |v: i128| Value::deserialize(I128Deserializer::<DeError>::new(v));
        let u = |v: u128| Value::deserialize(U128Deserializer::<DeError>::new(v));
        assert_eq!(i(i128::from(i64::MIN)).unwrap(), Value::Int(i64::MIN));
        assert!(i(i128::from(i64::MIN) - 1).is_err());
        assert_eq!(u(7).unwrap(), Value::Int(7));
        let err = u(u128::MAX).unwrap_err().to_string();
        assert!(err.contains("integer out of range for Value::Int"), "{err}");
    }

    /// Finite floats that serde_json itself round-trips. Its default
    /// (non-`float_roundtrip`) parser is best-effort and ends 1 ULP off
    /// for ~30% of uniformly drawn bit patterns (mostly 17-digit ones):
    /// serde_json's business, not `Value`'s, so those are filtered out.
    fn json_float() -> impl Strategy<Value = f64> {
        use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
        let json = |x: &f64| serde_json::to_string(x).unwrap();
        let any_finite = POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO;
        prop_oneof![any_finite, -1e9..1e9f64]
            .prop_filter("not round-tripped by serde_json", move |x| {
                serde_json::from_str::<f64>(&json(x)).unwrap() == *x
            })
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            json_float().prop_map(Value::Float),
            any::<String>().prop_map(Value::Str),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                prop::collection::btree_map(any::<String>(), inner, 0..8).prop_map(Value::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn json_round_trip(v in arb_value()) {
            prop_assert_eq!(round_trip(&v), v);
        }

        #[test]
        fn clone_eq_and_debug_match_derived(a in arb_value(), b in arb_value()) {
            check_against_derived(&a, &b);
            check_against_derived(&a, &a.clone());
        }
    }

    use super::SERDE_DEPTH;

    const TOO_DEEP: &str = "Value nested more than 128 levels deep";

    #[test]
    fn serialize_stops_at_the_depth_limit() {
        assert_eq!(SERDE_DEPTH, 128, "the docs name 128");
        on_small_stack(|| {
            let at_limit = deep_list(SERDE_DEPTH, Value::Int(0));
            let json = serde_json::to_string(&at_limit).unwrap();
            assert_eq!(json, format!("{}0{}", "[".repeat(128), "]".repeat(128)));
            let d = serde_json::to_string(&deep_dict(SERDE_DEPTH, Value::Null)).unwrap();
            assert_eq!(
                d,
                format!("{}null{}", r#"{"k":"#.repeat(128), "}".repeat(128))
            );
            for v in [
                deep_list(SERDE_DEPTH + 1, Value::Int(0)),
                deep_dict(SERDE_DEPTH + 1, Value::Null),
                deep_list(1_000, Value::Int(0)),
                deep_mixed(1_000, Value::Int(0)),
                deep_mixed(DEEP, Value::Int(0)),
            ] {
                let err = serde_json::to_string(&v).unwrap_err().to_string();
                assert!(err.contains(TOO_DEEP), "{err}");
                let err = serde_json::to_value(&v).unwrap_err().to_string();
                assert!(err.contains(TOO_DEEP), "{err}");
                v.dispose();
            }
        });
    }

    #[test]
    fn json_reading_deep_input_fails_cleanly() {
        on_small_stack(|| {
            let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
            // serde_json's own limit (127 nested arrays) stops it first.
            assert_eq!(
                from_json(&deep(127)).unwrap(),
                deep_list(126, Value::List(vec![]))
            );
            assert!(from_json(&deep(128)).is_err());
            assert!(from_json(&deep(10_000)).is_err());
            let objects = format!("{}1{}", r#"{"k":"#.repeat(10_000), "}".repeat(10_000));
            assert!(from_json(&objects).is_err());
            // serde_json::Value has no limit: ours applies, and 128 levels round-trip
            // (`deep_mixed(127, _)` is 128 deep: its innermost dict holds an empty list).
            let at_limit = deep_mixed(SERDE_DEPTH - 1, Value::Int(0));
            let tree = serde_json::to_value(&at_limit).unwrap();
            assert_eq!(
                serde_json::from_value::<Value>(tree.clone()).unwrap(),
                at_limit
            );
            let over = serde_json::Value::Array(vec![tree]);
            let err = serde_json::from_value::<Value>(over)
                .unwrap_err()
                .to_string();
            assert!(err.contains(TOO_DEEP), "{err}");
        });
    }

    /// What [`Nested`] nests.
    #[derive(Debug, Clone, Copy)]
    enum Level {
        Seq,
        Map,
        Some,
        Newtype,
    }

    /// A deserializer of `levels` nested one-element sequences, maps, options or
    /// newtypes around the integer 0: any depth, with no recursion limit of its own.
    #[derive(Debug, Clone, Copy)]
    struct Nested {
        level: Level,
        levels: usize,
    }

    impl<'de> serde::Deserializer<'de> for Nested {
        type Error = DeError;

        fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let inner = Nested {
                levels: self.levels.wrapping_sub(1),
                ..self
            };
            match (self.levels, self.level) {
                (0, _) => v.visit_i64(0),
                (_, Level::Seq) => v.visit_seq(One(Some(inner))),
                (_, Level::Map) => v.visit_map(One(Some(inner))),
                (_, Level::Some) => v.visit_some(inner),
                (_, Level::Newtype) => v.visit_newtype_struct(inner),
            }
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }

    /// One element (or one `"k"` entry) holding the inner [`Nested`].
    struct One(Option<Nested>);

    impl<'de> serde::de::SeqAccess<'de> for One {
        type Error = DeError;

        fn next_element_seed<T: serde::de::DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, DeError> {
            self.0.take().map(|d| seed.deserialize(d)).transpose()
        }
    }

    impl<'de> serde::de::MapAccess<'de> for One {
        type Error = DeError;

        fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, DeError> {
            match self.0 {
                Some(_) => seed.deserialize("k".into_deserializer()).map(Some),
                None => Ok(None),
            }
        }

        fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, DeError> {
            seed.deserialize(self.0.take().expect("a key first"))
        }
    }

    #[test]
    fn deserialize_stops_at_the_depth_limit_in_any_format() {
        on_small_stack(|| {
            for level in [Level::Seq, Level::Map, Level::Some, Level::Newtype] {
                let read = |levels| Value::deserialize(Nested { level, levels });
                let want = match level {
                    Level::Seq => deep_list(SERDE_DEPTH, Value::Int(0)),
                    Level::Map => deep_dict(SERDE_DEPTH, Value::Int(0)),
                    Level::Some | Level::Newtype => Value::Int(0),
                };
                assert_eq!(read(SERDE_DEPTH).unwrap(), want, "{level:?}");
                for levels in [SERDE_DEPTH + 1, 10_000, 10_000_000] {
                    let err = read(levels).unwrap_err().to_string();
                    assert_eq!(err, TOO_DEEP, "{level:?} {levels}");
                }
            }
        });
    }
}
