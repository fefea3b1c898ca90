//! [`Value`], the dynamically typed unit of storage, with its conversions,
//! accessors, a JSON-like [`Display`](fmt::Display) rendering and (with the
//! `serde` feature) hand-written `Serialize`/`Deserialize` impls.
//!
//! This folder is the value layer: the type and everything that is a property of a value alone.
//! It may use only `crate::error` (the errors of `typed`), nothing of `crate::engine`,
//! `crate::store`, `crate::snapshot` or `crate::testing` (unit tests excepted;
//! `scripts/module-cycles.py` checks it). Here: the type, [`ValueOutOfRange`] and the
//! accessors; `convert`: the `From`/`TryFrom` impls; `display`: `Display` and `Debug`; `deep`:
//! the non-recursive deep clone, drop and equality; `serde`: the serde impls; `typed`:
//! `to_value`/`from_value`, the serde bridge to your own types. The files beside this one
//! depend on it, never the other way round.

mod convert;
mod deep;
mod display;
#[cfg(feature = "serde")]
mod serde;
#[cfg(test)]
mod tests;
#[cfg(feature = "serde")]
pub(crate) mod typed;

use std::collections::BTreeMap;
use std::fmt;

/// A dynamically typed value: what the store keeps under a key (the Rust
/// mirror of a scriptling value).
///
/// # Building values
///
/// `From` is implemented for `bool`; `i8`, `i16`, `i32`, `i64`, `u8`, `u16`,
/// `u32` (→ [`Int`](Value::Int)); `f32`, `f64` (→ [`Float`](Value::Float));
/// `&str`, `&String`, `String`; `Vec<T>` and `&[T]` (→ [`List`](Value::List),
/// each element converted); `BTreeMap<String, V>` and `HashMap<String, V, S>`
/// (→ [`Dict`](Value::Dict)); `Option<T>` (`None` → [`Null`](Value::Null));
/// and `()` (→ `Null`). `u64` and `usize` go through `TryFrom`, which fails
/// with [`ValueOutOfRange`] above `i64::MAX`.
///
/// **Bytes are built explicitly**: because `Vec<T>` converts element-wise, a
/// `Vec<u8>` becomes a `List` of `Int`s. Write `Value::Bytes(vec)` to store
/// raw bytes.
///
/// # Equality
///
/// `PartialEq` is structural; floats compare as `f64` does (`NaN != NaN`,
/// `0.0 == -0.0`) and variants never compare equal across types
/// (`Int(1) != Float(1.0)`).
///
/// # Serde (feature `serde`, on by default)
///
/// Values map to the natural JSON shape: `Null` ↔ `null`, `Bool` ↔ boolean,
/// `Int` ↔ integer, `Float` ↔ number with a fraction or exponent, `Str` ↔
/// string, `List` ↔ array, `Dict` ↔ object. Integers stay integers: JSON `3`
/// deserializes to `Int(3)` and `3.0` to `Float(3.0)`. An integer outside the
/// `i64` range (e.g. `18446744073709551615`) is a deserialization **error**,
/// never a silent conversion to `Float`. `Bytes` serializes with
/// `serialize_bytes`, which JSON renders as an array of numbers that reads
/// back as a `List` of `Int`s (binary formats that call `visit_bytes` give
/// `Bytes` back). Non-finite floats follow the format (serde_json writes
/// `null`). For duplicate map keys the last one wins.
///
/// Both directions recurse in serde's model, so both stop at a **depth limit
/// of 128 levels** instead of overflowing the stack: serializing a value with
/// more than 128 nested `List`s/`Dict`s fails, and so does deserializing
/// input nested more than 128 levels deep (sequences and maps, and also
/// options and newtypes, which some formats can nest without end), with the
/// error "Value nested more than 128 levels deep" (via `Error::custom`). A
/// value exactly 128 levels deep serializes and deserializes. The limit
/// protects every format; some formats have a lower one of their own:
/// serde_json's reader, for one, stops at 127 nested arrays/objects, so a
/// 128-deep value written as JSON text does not read back with
/// `serde_json::from_str` (it does through `serde_json::Value`). The limit
/// counts levels within one `Value`: a `Value` inside your own serde types
/// starts again from 0.
///
/// # Deep nesting
///
/// A value can be nested arbitrarily deep (a `List` in a `List` in ... 100,000
/// levels down, `Dict`s alike, or both mixed) and still be stored, read back,
/// cloned, compared and displayed on any thread, including a spawned thread's
/// 2 MiB stack. `Display` is iterative (an explicit stack on the heap).
/// `Clone` and `PartialEq` recurse like derived impls, and as fast, through
/// the first 64 levels of nesting, and continue iteratively below that, so
/// ordinary documents never pay for deep ones; scalars are a plain match.
///
/// Dropping: the store drops every value it held (a replaced value, later,
/// through crossbeam-epoch, on whatever thread collects it; a removed or
/// expired one; the whole store) with [`Value::dispose`], which works the
/// same way. `Value` itself has no `Drop` impl, so that its fields can be
/// moved out in a `match`; Rust's drop glue for a value you own recurses
/// level by level, and a value nested tens of thousands of levels deep that
/// your code drops can overflow a 2 MiB stack. Drop such a value with
/// [`Value::dispose`].
///
/// Two things are bounded instead:
///
/// - `Debug` keeps the derived format (`List([Int(1)])`, also with `{:#?}`)
///   but prints a non-empty `List` or `Dict` nested inside **256** containers
///   as `List(…)` or `Dict(…)`.
/// - serde stops at **128** levels with an error (see "Serde" above).
///
/// # Examples
///
/// ```
/// use scriptling_kv::Value;
///
/// let v = Value::from(vec![Value::from(1), Value::from("two"), Value::Null]);
/// assert_eq!(v.type_name(), "list");
/// assert_eq!(v.as_list().unwrap()[1].as_str(), Some("two"));
/// assert_eq!(v.to_string(), r#"[1, "two", null]"#);
///
/// // Raw bytes must be wrapped explicitly...
/// let raw = Value::Bytes(b"\x00ok".to_vec());
/// assert_eq!(raw.as_bytes(), Some(&b"\x00ok"[..]));
/// assert_eq!(raw.to_string(), r#"b"\x00ok""#);
/// // ...because a Vec<u8> converts element-wise into a list of ints:
/// assert_eq!(
///     Value::from(vec![1u8, 2]),
///     Value::List(vec![Value::Int(1), Value::Int(2)])
/// );
/// ```
#[derive(Default)]
#[non_exhaustive]
pub enum Value {
    /// No value (`None` in scriptling, `null` in JSON). The [`Default`].
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float (may be NaN or infinite).
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// Raw bytes (never produced by `From<Vec<u8>>`, see the type docs).
    Bytes(Vec<u8>),
    /// An ordered list of values.
    List(Vec<Value>),
    /// A string-keyed map, iterated in key order.
    Dict(BTreeMap<String, Value>),
}

/// The error of `TryFrom<u64>`/`TryFrom<usize>` for [`Value`]: the integer
/// (carried in the field) is larger than `i64::MAX`.
///
/// # Examples
///
/// ```
/// use scriptling_kv::{Value, ValueOutOfRange};
///
/// assert_eq!(Value::try_from(7u64), Ok(Value::Int(7)));
/// assert_eq!(Value::try_from(u64::MAX), Err(ValueOutOfRange(u64::MAX)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueOutOfRange(
    /// The rejected integer.
    pub u64,
);

impl fmt::Display for ValueOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "integer out of range for Value::Int: {} > i64::MAX ({})",
            self.0,
            i64::MAX
        )
    }
}

impl std::error::Error for ValueOutOfRange {}

/// Generates the `Option`-returning accessors.
macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident: $variant:ident => $ret:ty, |$x:ident| $out:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Option<$ret> {
            match self {
                Value::$variant($x) => Some($out),
                _ => None,
            }
        }
    )*};
}

impl Value {
    accessors! {
        /// The integer of an [`Int`](Value::Int), else `None`.
        as_int: Int => i64, |i| *i;
        /// The float of a [`Float`](Value::Float), else `None`.
        ///
        /// Strict: an `Int` is **not** converted.
        ///
        /// # Examples
        ///
        /// ```
        /// use scriptling_kv::Value;
        ///
        /// assert_eq!(Value::Float(2.5).as_float(), Some(2.5));
        /// assert_eq!(Value::Int(2).as_float(), None);
        /// ```
        as_float: Float => f64, |x| *x;
        /// The boolean of a [`Bool`](Value::Bool), else `None`.
        as_bool: Bool => bool, |b| *b;
        /// The string of a [`Str`](Value::Str), else `None`.
        as_str: Str => &str, |s| s;
        /// The bytes of a [`Bytes`](Value::Bytes), else `None` (a `List` of
        /// `Int`s is not converted).
        as_bytes: Bytes => &[u8], |b| b;
        /// The elements of a [`List`](Value::List), else `None`.
        as_list: List => &[Value], |l| l;
        /// The map of a [`Dict`](Value::Dict), else `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::collections::BTreeMap;
        /// use scriptling_kv::Value;
        ///
        /// let v = Value::from(BTreeMap::from([("n".to_string(), 1)]));
        /// assert_eq!(v.as_dict().unwrap()["n"], Value::Int(1));
        /// assert_eq!(Value::Null.as_dict(), None);
        /// ```
        as_dict: Dict => &BTreeMap<String, Value>, |d| d;
    }

    /// Whether this is [`Null`](Value::Null).
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The variant's name: `"null"`, `"bool"`, `"int"`, `"float"`, `"str"`,
    /// `"bytes"`, `"list"` or `"dict"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use scriptling_kv::Value;
    ///
    /// assert_eq!(Value::from(1.5).type_name(), "float");
    /// assert_eq!(Value::from(None::<i32>).type_name(), "null");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
        }
    }
}
