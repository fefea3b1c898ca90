//! Typed values: [`to_value`] and [`from_value`], a serde bridge between your types and [`Value`]
//! (feature `serde`), shaped as `serde_json::to_value`/`from_value` shape JSON.
//!
//! - A struct is a `Dict` of its fields, a sequence or tuple a `List`, a map a `Dict` (keys must
//!   be strings, or integers, chars or bools, which become their decimal or text form, as
//!   serde_json does), a unit or `None` is `Null`, `Some(x)` is `x`.
//! - Integers are `Int`: a `u64`/`u128`/`i128` outside `i64` is an error, never a wrap.
//! - Bytes (`serde_bytes`, or a `Serializer::serialize_bytes` impl) are `Bytes`; a `Bytes` value
//!   deserializes into anything that takes bytes or a sequence of `u8`.
//! - Enums as serde_json shapes them: a unit variant is the `Str` of its name, any other variant
//!   a one-entry `Dict` from its name to its content.
//! - A value of the wrong shape is an [`Error::Convert`] whose `path` names where
//!   (`user.roles[2]`), never a panic. Both directions stop at 128 nested lists/dicts with
//!   an error rather than exhausting the stack.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::ser::{self, Serialize};

use crate::error::{Error, Result};
use crate::value::Value;

/// How many lists/dicts deep [`to_value`] and [`from_value`] go before they return an error.
pub(crate) const MAX_DEPTH: usize = 128;

/// Converts any `Serialize` value into a [`Value`]: a struct becomes a `Dict` of its fields (see
/// the module docs for every shape).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use scriptling_kv::{from_value, to_value, Store};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Session { user: String, visits: u32, admin: bool }
///
/// let store = Store::new();
/// let s = Session { user: "bob".into(), visits: 3, admin: false };
/// store.set("session:abc", to_value(&s)?);
/// let back: Session = from_value(store.get("session:abc").unwrap())?;
/// assert_eq!(back, s);
/// # Ok::<(), scriptling_kv::Error>(())
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    value
        .serialize(ValueSerializer { depth: 0 })
        .map_err(ConvertError::into_error)
}

/// Converts a [`Value`] into any `DeserializeOwned` type; a value of the wrong shape is an
/// [`Error::Convert`] naming the field.
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

/// The conversion error while it travels up: the message and the path, innermost first.
#[derive(Debug)]
struct ConvertError {
    reason: String,
    path: Vec<Step>,
}

#[derive(Debug)]
enum Step {
    Field(String),
    Index(usize),
}

impl ConvertError {
    fn new(reason: impl fmt::Display) -> ConvertError {
        ConvertError {
            reason: reason.to_string(),
            path: Vec::new(),
        }
    }

    fn at(mut self, step: Step) -> ConvertError {
        self.path.push(step);
        self
    }

    fn into_error(self) -> Error {
        let mut path = String::new();
        for step in self.path.iter().rev() {
            match step {
                Step::Field(name) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                }
                Step::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        Error::Convert {
            path,
            reason: self.reason,
        }
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ConvertError {}

impl ser::Error for ConvertError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConvertError::new(msg)
    }
}

impl de::Error for ConvertError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConvertError::new(msg)
    }
}

type Ser = std::result::Result<Value, ConvertError>;

fn too_deep() -> ConvertError {
    ConvertError::new(format!("nested more than {MAX_DEPTH} levels deep"))
}

fn int_of<T: TryInto<i64> + fmt::Display + Copy>(n: T) -> Ser {
    n.try_into()
        .map(Value::Int)
        .map_err(|_| ConvertError::new(format!("integer {n} is outside the range of i64")))
}

/// Serializes into a [`Value`], `depth` lists/dicts deep.
struct ValueSerializer {
    depth: usize,
}

impl ValueSerializer {
    fn inner(&self) -> std::result::Result<ValueSerializer, ConvertError> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        Ok(ValueSerializer {
            depth: self.depth + 1,
        })
    }
}

/// A list or dict being built (and, for a variant, its name).
struct Compound {
    ser: ValueSerializer,
    items: Vec<Value>,
    map: BTreeMap<String, Value>,
    key: Option<String>,
    variant: Option<&'static str>,
}

impl Compound {
    fn new(ser: ValueSerializer, variant: Option<&'static str>) -> Compound {
        Compound {
            ser,
            items: Vec::new(),
            map: BTreeMap::new(),
            key: None,
            variant,
        }
    }

    fn wrap(variant: Option<&'static str>, value: Value) -> Value {
        match variant {
            None => value,
            Some(name) => Value::Dict(BTreeMap::from([(name.to_owned(), value)])),
        }
    }

    fn push(&mut self, value: &(impl Serialize + ?Sized)) -> std::result::Result<(), ConvertError> {
        let i = self.items.len();
        let v = value
            .serialize(self.ser.inner()?)
            .map_err(|e| e.at(Step::Index(i)))?;
        self.items.push(v);
        Ok(())
    }

    fn field(
        &mut self,
        key: &str,
        value: &(impl Serialize + ?Sized),
    ) -> std::result::Result<(), ConvertError> {
        let v = value
            .serialize(self.ser.inner()?)
            .map_err(|e| e.at(Step::Field(key.to_owned())))?;
        self.map.insert(key.to_owned(), v);
        Ok(())
    }

    fn list(self) -> Ser {
        Ok(Compound::wrap(self.variant, Value::List(self.items)))
    }

    fn dict(self) -> Ser {
        Ok(Compound::wrap(self.variant, Value::Dict(self.map)))
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ConvertError;
    type SerializeSeq = Compound;
    type SerializeTuple = Compound;
    type SerializeTupleStruct = Compound;
    type SerializeTupleVariant = Compound;
    type SerializeMap = Compound;
    type SerializeStruct = Compound;
    type SerializeStructVariant = Compound;

    fn serialize_bool(self, v: bool) -> Ser {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Ser {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Ser {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Ser {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Ser {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Ser {
        int_of(v)
    }
    fn serialize_u8(self, v: u8) -> Ser {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Ser {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Ser {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Ser {
        int_of(v)
    }
    fn serialize_u128(self, v: u128) -> Ser {
        int_of(v)
    }
    fn serialize_f32(self, v: f32) -> Ser {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Ser {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Ser {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Ser {
        Ok(Value::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Ser {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Ser {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Ser {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Ser {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Ser {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> Ser {
        Ok(Value::Str(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Ser {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        value: &T,
    ) -> Ser {
        let v = value
            .serialize(self.inner()?)
            .map_err(|e| e.at(Step::Field(variant.to_owned())))?;
        Ok(Compound::wrap(Some(variant), v))
    }
    fn serialize_seq(self, _len: Option<usize>) -> std::result::Result<Compound, ConvertError> {
        Ok(Compound::new(self, None))
    }
    fn serialize_tuple(self, _len: usize) -> std::result::Result<Compound, ConvertError> {
        Ok(Compound::new(self, None))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> std::result::Result<Compound, ConvertError> {
        Ok(Compound::new(self, None))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> std::result::Result<Compound, ConvertError> {
        let ser = self.inner()?;
        Ok(Compound::new(ser, Some(variant)))
    }
    fn serialize_map(self, _len: Option<usize>) -> std::result::Result<Compound, ConvertError> {
        Ok(Compound::new(self, None))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> std::result::Result<Compound, ConvertError> {
        Ok(Compound::new(self, None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> std::result::Result<Compound, ConvertError> {
        let ser = self.inner()?;
        Ok(Compound::new(ser, Some(variant)))
    }
}

// The list-shaped compounds (sequences, tuples, tuple structs, tuple variants) push items; the
// struct-shaped ones (structs, struct variants) add named fields.
macro_rules! list_compound {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound {
            type Ok = Value;
            type Error = ConvertError;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> std::result::Result<(), ConvertError> {
                self.push(v)
            }
            fn end(self) -> Ser {
                self.list()
            }
        }
    )*};
}

macro_rules! struct_compound {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound {
            type Ok = Value;
            type Error = ConvertError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> std::result::Result<(), ConvertError> {
                self.field(key, v)
            }
            fn end(self) -> Ser {
                self.dict()
            }
        }
    )*};
}

list_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);
struct_compound!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound {
    type Ok = Value;
    type Error = ConvertError;
    fn serialize_key<T: Serialize + ?Sized>(
        &mut self,
        key: &T,
    ) -> std::result::Result<(), ConvertError> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(
        &mut self,
        v: &T,
    ) -> std::result::Result<(), ConvertError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ConvertError::new("a map value without its key"))?;
        self.field(&key, v)
    }
    fn end(self) -> Ser {
        self.dict()
    }
}

/// A map key: strings, and what serde_json also turns into one (integers, chars, bools).
struct KeySerializer;

type KeySer = std::result::Result<String, ConvertError>;

fn not_a_key(what: &str) -> ConvertError {
    ConvertError::new(format!("a map key must be a string, not {what}"))
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = ConvertError;
    type SerializeSeq = ser::Impossible<String, ConvertError>;
    type SerializeTuple = ser::Impossible<String, ConvertError>;
    type SerializeTupleStruct = ser::Impossible<String, ConvertError>;
    type SerializeTupleVariant = ser::Impossible<String, ConvertError>;
    type SerializeMap = ser::Impossible<String, ConvertError>;
    type SerializeStruct = ser::Impossible<String, ConvertError>;
    type SerializeStructVariant = ser::Impossible<String, ConvertError>;

    fn serialize_bool(self, v: bool) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> KeySer {
        Err(not_a_key("a float"))
    }
    fn serialize_f64(self, _v: f64) -> KeySer {
        Err(not_a_key("a float"))
    }
    fn serialize_char(self, v: char) -> KeySer {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> KeySer {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> KeySer {
        Err(not_a_key("bytes"))
    }
    fn serialize_none(self) -> KeySer {
        Err(not_a_key("None"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> KeySer {
        value.serialize(self)
    }
    fn serialize_unit(self) -> KeySer {
        Err(not_a_key("()"))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> KeySer {
        Err(not_a_key("a unit struct"))
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> KeySer {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> KeySer {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _value: &T,
    ) -> KeySer {
        Err(not_a_key("an enum variant with content"))
    }
    fn serialize_seq(
        self,
        _len: Option<usize>,
    ) -> std::result::Result<Self::SerializeSeq, ConvertError> {
        Err(not_a_key("a sequence"))
    }
    fn serialize_tuple(
        self,
        _len: usize,
    ) -> std::result::Result<Self::SerializeTuple, ConvertError> {
        Err(not_a_key("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, ConvertError> {
        Err(not_a_key("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, ConvertError> {
        Err(not_a_key("an enum variant with content"))
    }
    fn serialize_map(
        self,
        _len: Option<usize>,
    ) -> std::result::Result<Self::SerializeMap, ConvertError> {
        Err(not_a_key("a map"))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> std::result::Result<Self::SerializeStruct, ConvertError> {
        Err(not_a_key("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, ConvertError> {
        Err(not_a_key("an enum variant with content"))
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
/// [`to_value`], whose keys became decimal strings, reads back).
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
