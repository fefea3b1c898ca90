//! The deserializer side of the typed bridge: [`from_value`], the deserializer of an owned
//! [`Value`] with its sequence, map and enum accessors (which dispose of what they leave
//! unconsumed without recursion), and the deserializer of map keys.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::{too_deep, ConvertError, Step, MAX_DEPTH};
use crate::error::Result;
use crate::value::Value;

/// Converts a [`Value`] into any `DeserializeOwned` type; a value of the wrong shape is an
/// [`Error::Convert`](crate::Error::Convert) naming the field.
///
/// ```
/// use serde::Deserialize;
/// use scriptling_kv::{from_value, Error, Value};
///
/// #[derive(Deserialize, Debug)]
/// struct Session { user: String }
///
/// let v = Value::from(std::collections::BTreeMap::from([("user".to_string(), Value::from("bob"))]));
/// assert_eq!(from_value::<Session>(v)?.user, "bob");
///
/// let v = Value::from(std::collections::BTreeMap::from([("user".to_string(), Value::Int(7))]));
/// let err = from_value::<Session>(v).unwrap_err();
/// assert!(matches!(&err, Error::Convert { path, .. } if path == "user"), "{err}");
/// # Ok::<(), scriptling_kv::Error>(())
/// ```
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T> {
    T::deserialize(ValueDeserializer {
        value: Some(value),
        depth: 0,
    })
    .map_err(ConvertError::into_error)
}

impl de::Error for ConvertError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConvertError::new(msg)
    }
}

/// Deserializes from an owned [`Value`] (`None` once taken), `depth` lists/dicts deep.
struct ValueDeserializer {
    value: Option<Value>,
    depth: usize,
}

type De<T> = std::result::Result<T, ConvertError>;

// What a conversion did not consume (the rest of a value when an error stops it, a value deeper
// than the limit) is disposed of without recursion (`Value::dispose`), so a deep value never
// overflows the stack on the way out.

impl Drop for ValueDeserializer {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            v.dispose();
        }
    }
}

impl Drop for Items {
    fn drop(&mut self) {
        self.items.by_ref().for_each(Value::dispose);
    }
}

impl Drop for Entries {
    fn drop(&mut self) {
        self.entries.by_ref().for_each(|(_, v)| v.dispose());
        if let Some((_, v)) = self.pending.take() {
            v.dispose();
        }
    }
}

impl Drop for Variant {
    fn drop(&mut self) {
        if let Some(v) = self.content.take() {
            v.dispose();
        }
    }
}

impl Drop for Content {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            v.dispose();
        }
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(n) => de::Unexpected::Signed(*n),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::Str(s) => de::Unexpected::Str(s),
        Value::Bytes(b) => de::Unexpected::Bytes(b),
        Value::List(_) => de::Unexpected::Seq,
        Value::Dict(_) => de::Unexpected::Map,
    }
}

impl ValueDeserializer {
    fn take(&mut self) -> De<Value> {
        self.value
            .take()
            .ok_or_else(|| ConvertError::new("a value read twice"))
    }

    fn inner(&self) -> De<usize> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        Ok(self.depth + 1)
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = ConvertError;

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> De<V::Value> {
        match self.take()? {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(n) => visitor.visit_i64(n),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::List(items) => {
                let Ok(depth) = self.inner() else {
                    Value::List(items).dispose();
                    return Err(too_deep());
                };
                visitor.visit_seq(Items {
                    items: items.into_iter(),
                    index: 0,
                    depth,
                })
            }
            Value::Dict(map) => {
                let Ok(depth) = self.inner() else {
                    Value::Dict(map).dispose();
                    return Err(too_deep());
                };
                visitor.visit_map(Entries {
                    entries: map.into_iter(),
                    pending: None,
                    depth,
                })
            }
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> De<V::Value> {
        match self.value.take() {
            // Bytes into a sequence of `u8` (a `Vec<u8>` without `serde_bytes`).
            Some(Value::Bytes(bytes)) => {
                let depth = self.inner()?;
                let items: Vec<Value> = bytes.into_iter().map(|b| Value::Int(b.into())).collect();
                visitor.visit_seq(Items {
                    items: items.into_iter(),
                    index: 0,
                    depth,
                })
            }
            value => {
                self.value = value;
                self.deserialize_any(visitor)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(mut self, visitor: V) -> De<V::Value> {
        match self.value {
            Some(Value::Null) => {
                self.take()?;
                visitor.visit_none()
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> De<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        mut self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> De<V::Value> {
        let depth = self.inner()?;
        match self.take()? {
            Value::Str(variant) => visitor.visit_enum(Variant {
                name: variant,
                content: None,
                depth,
            }),
            Value::Dict(map) if map.len() == 1 => {
                let (name, content) = map.into_iter().next().expect("one entry");
                visitor.visit_enum(Variant {
                    name,
                    content: Some(content),
                    depth,
                })
            }
            other => {
                let e = de::Error::invalid_type(
                    unexpected(&other),
                    &"a variant name or a dict of one entry",
                );
                other.dispose();
                Err(e)
            }
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct map struct identifier ignored_any
    }
}

/// A list's items as a serde sequence.
struct Items {
    items: std::vec::IntoIter<Value>,
    index: usize,
    depth: usize,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = ConvertError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> De<Option<T::Value>> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer {
            value: Some(value),
            depth: self.depth,
        })
        .map(Some)
        .map_err(|e| e.at(Step::Index(index)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A dict's entries as a serde map.
struct Entries {
    entries: std::collections::btree_map::IntoIter<String, Value>,
    pending: Option<(String, Value)>,
    depth: usize,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = ConvertError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> De<Option<K::Value>> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let k = seed
            .deserialize(MapKey(&key))
            .map_err(|e| e.at(Step::Field(key.clone())))?;
        self.pending = Some((key, value));
        Ok(Some(k))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> De<V::Value> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| ConvertError::new("a map value asked for before its key"))?;
        seed.deserialize(ValueDeserializer {
            value: Some(value),
            depth: self.depth,
        })
        .map_err(|e| e.at(Step::Field(key)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum: its variant's name and content (none for a unit variant).
struct Variant {
    name: String,
    content: Option<Value>,
    depth: usize,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = ConvertError;
    type Variant = Content;

    fn variant_seed<V: DeserializeSeed<'de>>(mut self, seed: V) -> De<(V::Value, Content)> {
        let v = seed.deserialize(self.name.as_str().into_deserializer())?;
        Ok((
            v,
            Content {
                name: std::mem::take(&mut self.name),
                value: self.content.take(),
                depth: self.depth,
            },
        ))
    }
}

/// A variant's content.
struct Content {
    name: String,
    value: Option<Value>,
    depth: usize,
}

impl Content {
    fn deserializer(mut self) -> De<(String, ValueDeserializer)> {
        match self.value.take() {
            Some(value) => Ok((
                std::mem::take(&mut self.name),
                ValueDeserializer {
                    value: Some(value),
                    depth: self.depth,
                },
            )),
            None => Err(ConvertError::new(format!(
                "variant {} has content, but the value is only its name",
                self.name
            ))),
        }
    }
}

impl<'de> VariantAccess<'de> for Content {
    type Error = ConvertError;

    fn unit_variant(mut self) -> De<()> {
        match self.value.take() {
            None | Some(Value::Null) => Ok(()),
            Some(other) => {
                let e = de::Error::invalid_type(unexpected(&other), &"a unit variant");
                other.dispose();
                Err(e)
            }
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> De<T::Value> {
        let (name, d) = self.deserializer()?;
        seed.deserialize(d).map_err(|e| e.at(Step::Field(name)))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> De<V::Value> {
        let (name, d) = self.deserializer()?;
        de::Deserializer::deserialize_seq(d, visitor).map_err(|e| e.at(Step::Field(name)))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> De<V::Value> {
        let (name, d) = self.deserializer()?;
        de::Deserializer::deserialize_map(d, visitor).map_err(|e| e.at(Step::Field(name)))
    }
}

/// A dict key, deserialized as serde_json deserializes an object key: as the string, or parsed
/// into the integer, bool or char the target type asks for (so a `HashMap<u16, _>` written by
/// [`to_value`](super::to_value), whose keys became decimal strings, reads back).
struct MapKey<'a>(&'a str);

macro_rules! parse_key {
    ($($method:ident => $visit:ident: $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> De<V::Value> {
            match self.0.parse::<$t>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(de::Error::invalid_value(de::Unexpected::Str(self.0), &visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for MapKey<'_> {
    type Error = ConvertError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> De<V::Value> {
        visitor.visit_str(self.0)
    }

    parse_key! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_char => visit_char: char,
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> De<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> De<V::Value> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        f32 f64 str string bytes byte_buf option unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}
