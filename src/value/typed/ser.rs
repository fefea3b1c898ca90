//! The serializer side of the typed bridge: [`to_value`], the [`Value`] serializer with its
//! compound builder, and the serializer of map keys.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{self, Serialize};

use super::{too_deep, ConvertError, Step, MAX_DEPTH};
use crate::error::Result;
use crate::value::Value;

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

impl ser::Error for ConvertError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ConvertError::new(msg)
    }
}

type Ser = std::result::Result<Value, ConvertError>;

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
