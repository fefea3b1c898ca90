//! [`Value`], the dynamically typed unit of storage, with its conversions,
//! accessors, a JSON-like [`Display`](fmt::Display) rendering and (with the
//! `serde` feature) hand-written `Serialize`/`Deserialize` impls.

#[cfg(feature = "serde")]
pub(crate) mod typed;

use std::cell::Cell;
use std::collections::{btree_map, BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::slice;

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

/// A compact, single-line, JSON-like rendering meant for logs: `null`,
/// `true`, `42`, floats as Rust's `{:?}` (always visibly a float: `1.0`,
/// `1e300`, `NaN`, `inf`, `-inf`), strings quoted with JSON escapes, bytes as
/// `b"..."` with `\xNN` escapes, `[a, b]` and `{"k": v}`.
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// use scriptling_kv::Value;
///
/// let v = Value::from(BTreeMap::from([
///     ("f".to_string(), Value::from(1.0)),
///     ("s".to_string(), Value::from("a\"b\n")),
/// ]));
/// assert_eq!(v.to_string(), r#"{"f": 1.0, "s": "a\"b\n"}"#);
/// ```
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::List(_) | Value::Dict(_) => display_nested(self, f),
            scalar => display_scalar(scalar, f),
        }
    }
}

/// Writes a value that is not a `List` or `Dict` (one that is writes nothing).
fn display_scalar(v: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        Value::Null => f.write_str("null"),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Int(i) => write!(f, "{i}"),
        Value::Float(x) => write!(f, "{x:?}"),
        Value::Str(s) => write_quoted(f, s),
        Value::Bytes(b) => {
            f.write_str("b\"")?;
            for &byte in b {
                match byte {
                    b'"' => f.write_str("\\\"")?,
                    b'\\' => f.write_str("\\\\")?,
                    b'\n' => f.write_str("\\n")?,
                    b'\r' => f.write_str("\\r")?,
                    b'\t' => f.write_str("\\t")?,
                    0x20..=0x7e => f.write_char(char::from(byte))?,
                    _ => write!(f, "\\x{byte:02x}")?,
                }
            }
            f.write_char('"')
        }
        Value::List(_) | Value::Dict(_) => Ok(()),
    }
}

/// `Display` of a `List` or `Dict`, iteratively: one explicit stack entry per open container,
/// so any depth prints without growing the call stack.
fn display_nested(root: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// An open container: the elements still to write and whether one was written already.
    enum Open<'a> {
        List(slice::Iter<'a, Value>, bool),
        Dict(btree_map::Iter<'a, String, Value>, bool),
    }
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut next = Some(root);
    loop {
        match next.take() {
            Some(Value::List(items)) => {
                f.write_char('[')?;
                stack.push(Open::List(items.iter(), false));
            }
            Some(Value::Dict(map)) => {
                f.write_char('{')?;
                stack.push(Open::Dict(map.iter(), false));
            }
            Some(scalar) => display_scalar(scalar, f)?,
            None => {}
        }
        let Some(open) = stack.last_mut() else {
            return Ok(());
        };
        let (more, started) = match open {
            Open::List(items, started) => (items.next().map(|v| (None, v)), started),
            Open::Dict(entries, started) => (entries.next().map(|(k, v)| (Some(k), v)), started),
        };
        match more {
            Some((key, v)) => {
                if *started {
                    f.write_str(", ")?;
                }
                *started = true;
                if let Some(key) = key {
                    write_quoted(f, key)?;
                    f.write_str(": ")?;
                }
                next = Some(v);
            }
            None => {
                let close = match stack.pop() {
                    Some(Open::List(..)) => ']',
                    _ => '}',
                };
                f.write_char(close)?;
            }
        }
    }
}

/// Writes `s` as a double-quoted string with JSON escapes.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// How many `List`/`Dict` levels `Debug` prints; a non-empty container nested deeper (inside
/// this many containers) is printed as `List(…)` or `Dict(…)`. See the type docs, "Deep
/// nesting".
const DEBUG_DEPTH: usize = 256;

/// How many container levels `Clone`, `dispose` and `PartialEq` handle by plain recursion (as the
/// derived impls do, and as fast) before they go on with an explicit stack on the heap. Small
/// enough for any thread's stack, also unoptimized; deep enough for ordinary documents never to
/// leave the fast path.
const RECURSION_LIMIT: u32 = 64;

std::thread_local! {
    /// How many `List`/`Dict` clones are in progress on this thread's stack, each inside the
    /// previous one: what keeps `Clone` (whose recursion goes through `Vec`'s and `BTreeMap`'s
    /// own impls, which cannot pass a depth along) within [`RECURSION_LIMIT`].
    static RECURSION: Cell<u32> = const { Cell::new(0) };
}

/// Proof of one more level of recursion on this thread; leaving restores the count.
struct Level(u32);

impl Level {
    /// One more level, or `None` if this thread is at [`RECURSION_LIMIT`] (or its thread-local
    /// storage is gone): then the caller continues with an explicit stack.
    #[inline]
    fn enter() -> Option<Level> {
        RECURSION
            .try_with(|depth| {
                let outer = depth.get();
                (outer < RECURSION_LIMIT).then(|| {
                    depth.set(outer + 1);
                    Level(outer)
                })
            })
            .ok()
            .flatten()
    }
}

impl Drop for Level {
    #[inline]
    fn drop(&mut self) {
        let _ = RECURSION.try_with(|depth| depth.set(self.0));
    }
}

impl Value {
    /// Whether this is a `List` or `Dict` with at least one element: the values that the deep
    /// `Clone` and `dispose` below walk with an explicit stack past [`RECURSION_LIMIT`].
    #[inline]
    fn has_children(&self) -> bool {
        match self {
            Value::List(items) => !items.is_empty(),
            Value::Dict(map) => !map.is_empty(),
            _ => false,
        }
    }
}

/// A deep copy, exactly as derived. Scalars are a plain match; containers recurse like the
/// derived impl for the first 64 levels and are copied with an explicit stack below
/// that, so any depth is fine.
impl Clone for Value {
    #[inline]
    fn clone(&self) -> Self {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Float(x) => Value::Float(*x),
            Value::Str(s) => Value::Str(s.clone()),
            Value::Bytes(b) => Value::Bytes(b.clone()),
            // (`clone_nested` relies on empty containers never reaching it.)
            Value::List(items) if items.is_empty() => Value::List(Vec::new()),
            Value::Dict(map) if map.is_empty() => Value::Dict(BTreeMap::new()),
            Value::List(items) => match Level::enter() {
                Some(_level) => Value::List(items.clone()),
                None => clone_nested(self),
            },
            Value::Dict(map) => match Level::enter() {
                Some(_level) => Value::Dict(map.clone()),
                None => clone_nested(self),
            },
        }
    }
}

/// A container being copied by [`clone_nested`]: the source elements still to copy and the
/// copies made so far.
enum CloneFrame<'a> {
    List(slice::Iter<'a, Value>, Vec<Value>),
    Dict(btree_map::Iter<'a, String, Value>, Vec<(String, Value)>),
}

impl<'a> CloneFrame<'a> {
    /// The frame copying `v`, if it is a container with elements.
    fn of(v: &'a Value) -> Option<Self> {
        match v {
            Value::List(items) if !items.is_empty() => Some(CloneFrame::List(
                items.iter(),
                Vec::with_capacity(items.len()),
            )),
            Value::Dict(map) if !map.is_empty() => {
                Some(CloneFrame::Dict(map.iter(), Vec::with_capacity(map.len())))
            }
            _ => None,
        }
    }
}

/// `Clone` of a container past [`RECURSION_LIMIT`], with an explicit stack of open containers.
/// A child container with elements gets a `Null` placeholder in its parent's copy, replaced by
/// the child's copy when that is complete; every other child (a scalar or an empty container)
/// is cloned directly, without recursion.
#[inline(never)]
fn clone_nested(root: &Value) -> Value {
    let Some(first) = CloneFrame::of(root) else {
        return root.clone();
    };
    let mut stack = vec![first];
    loop {
        let Some(top) = stack.last_mut() else {
            // Unreachable: the loop returns when it pops the root's frame.
            return Value::Null;
        };
        let child = match top {
            CloneFrame::List(src, out) => src.next().map(|v| match CloneFrame::of(v) {
                Some(frame) => {
                    out.push(Value::Null);
                    Some(frame)
                }
                None => {
                    out.push(v.clone());
                    None
                }
            }),
            CloneFrame::Dict(src, out) => src.next().map(|(k, v)| match CloneFrame::of(v) {
                Some(frame) => {
                    out.push((k.clone(), Value::Null));
                    Some(frame)
                }
                None => {
                    out.push((k.clone(), v.clone()));
                    None
                }
            }),
        };
        match child {
            // A child container with elements: copy it before going on with this one.
            Some(Some(frame)) => stack.push(frame),
            // A child copied directly.
            Some(None) => {}
            // This container is complete: it replaces its placeholder in the parent.
            None => {
                let done = match stack.pop() {
                    Some(CloneFrame::List(_, out)) => Value::List(out),
                    // Keys come in order and unique, so this is a plain bulk build.
                    Some(CloneFrame::Dict(_, out)) => Value::Dict(out.into_iter().collect()),
                    None => Value::Null,
                };
                match stack.last_mut() {
                    None => return done,
                    Some(CloneFrame::List(_, out)) => {
                        if let Some(slot) = out.last_mut() {
                            *slot = done;
                        }
                    }
                    Some(CloneFrame::Dict(_, out)) => {
                        if let Some((_, slot)) = out.last_mut() {
                            *slot = done;
                        }
                    }
                }
            }
        }
    }
}

impl Value {
    /// Drops this value without deep recursion: like the drop glue (and as fast) through the
    /// first 64 levels of nesting, then with an explicit stack on the heap, so a value nested
    /// any depth can be dropped on any thread. `Value` has no `Drop` impl of its own (that would
    /// forbid moving its fields out in a `match`), so an ordinary drop of a value nested tens of
    /// thousands of levels deep recurses as deep and can overflow a thread's stack; the store
    /// drops every value it held this way, and so can you:
    ///
    /// ```
    /// use scriptling_kv::Value;
    ///
    /// let mut deep = Value::Null;
    /// for _ in 0..100_000 {
    ///     deep = Value::List(vec![deep]);
    /// }
    /// deep.dispose();
    /// ```
    pub fn dispose(self) {
        drop_within(self, RECURSION_LIMIT);
    }
}

/// [`Value::dispose`]: recursion with a budget of `levels`, then [`drop_nested`].
pub(crate) fn drop_within(mut v: Value, levels: u32) {
    if levels == 0 {
        drop_nested(&mut v);
        return;
    }
    match &mut v {
        Value::List(items) => {
            for child in std::mem::take(items) {
                if child.has_children() {
                    drop_within(child, levels - 1);
                }
            }
        }
        Value::Dict(map) => {
            for child in std::mem::take(map).into_values() {
                if child.has_children() {
                    drop_within(child, levels - 1);
                }
            }
        }
        _ => {}
    }
}

/// Dropping past [`RECURSION_LIMIT`]: empties `root` of its nested containers, then of theirs and
/// so on, with an explicit stack: each container is detached from its parent (replaced by
/// `Null`) before the parent is dropped, so every drop that actually runs is of a value with no
/// nested containers.
#[inline(never)]
fn drop_nested(root: &mut Value) {
    let mut stack = Vec::new();
    detach_children(root, &mut stack);
    while let Some(mut v) = stack.pop() {
        detach_children(&mut v, &mut stack);
        // `v` drops here: it holds no container with elements any more.
    }
}

/// Moves the non-empty `List`/`Dict` elements of `v` onto `stack`, leaving `Null` in their place.
fn detach_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::List(items) => stack.extend(
            items
                .iter_mut()
                .filter(|c| c.has_children())
                .map(std::mem::take),
        ),
        Value::Dict(map) => stack.extend(
            map.values_mut()
                .filter(|c| c.has_children())
                .map(std::mem::take),
        ),
        _ => {}
    }
}

/// What comparing two values without looking inside their elements tells.
enum Shallow<'a> {
    /// Decided.
    Done(bool),
    /// Two `List`s or two `Dict`s of the same length: equal iff their elements are.
    Elements(ElementPairs<'a>),
}

/// The element pairs of two same-length `List`s or `Dict`s, still to compare.
enum ElementPairs<'a> {
    List(slice::Iter<'a, Value>, slice::Iter<'a, Value>),
    Dict(
        btree_map::Iter<'a, String, Value>,
        btree_map::Iter<'a, String, Value>,
    ),
}

/// Compares `a` and `b` as the derived `PartialEq` would, except that it stops at the elements
/// of two same-length containers.
#[inline]
fn shallow_eq<'a>(a: &'a Value, b: &'a Value) -> Shallow<'a> {
    use Value::*;
    match (a, b) {
        (Null, Null) => Shallow::Done(true),
        (Bool(x), Bool(y)) => Shallow::Done(x == y),
        (Int(x), Int(y)) => Shallow::Done(x == y),
        (Float(x), Float(y)) => Shallow::Done(x == y),
        (Str(x), Str(y)) => Shallow::Done(x == y),
        (Bytes(x), Bytes(y)) => Shallow::Done(x == y),
        (List(x), List(y)) if x.len() == y.len() => {
            Shallow::Elements(ElementPairs::List(x.iter(), y.iter()))
        }
        (Dict(x), Dict(y)) if x.len() == y.len() => {
            Shallow::Elements(ElementPairs::Dict(x.iter(), y.iter()))
        }
        // Different variants or lengths. Listed in full so that a new variant must be handled.
        (Null | Bool(_) | Int(_) | Float(_) | Str(_) | Bytes(_) | List(_) | Dict(_), _) => {
            Shallow::Done(false)
        }
    }
}

/// Structural equality, as derived: floats compare as `f64`, variants never equal across
/// types, `Dict`s compare keys and values in key order. Recursive for 64
/// levels, iterative below, so any depth is fine; nothing is allocated above that depth.
impl PartialEq for Value {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match shallow_eq(self, other) {
            Shallow::Done(equal) => equal,
            Shallow::Elements(pairs) => elements_eq_within(pairs, RECURSION_LIMIT),
        }
    }
}

/// Whether all element pairs are equal, recursing at most `levels` deeper, then continuing
/// with [`elements_eq`].
fn elements_eq_within(pairs: ElementPairs<'_>, levels: u32) -> bool {
    let Some(levels) = levels.checked_sub(1) else {
        return elements_eq(pairs);
    };
    let eq = |a, b| match shallow_eq(a, b) {
        Shallow::Done(equal) => equal,
        Shallow::Elements(inner) => elements_eq_within(inner, levels),
    };
    match pairs {
        ElementPairs::List(a, b) => a.zip(b).all(|(x, y)| eq(x, y)),
        ElementPairs::Dict(a, b) => a.zip(b).all(|((ka, x), (kb, y))| ka == kb && eq(x, y)),
    }
}

/// Whether all element pairs are equal, depth first in order, with an explicit stack of the
/// enclosing containers' remaining pairs (past [`RECURSION_LIMIT`]).
#[inline(never)]
fn elements_eq(pairs: ElementPairs<'_>) -> bool {
    let mut stack = Vec::new();
    let mut current = pairs;
    loop {
        let next = match &mut current {
            ElementPairs::List(a, b) => a.next().zip(b.next()),
            ElementPairs::Dict(a, b) => match a.next().zip(b.next()) {
                Some(((ka, _), (kb, _))) if ka != kb => return false,
                pair => pair.map(|((_, va), (_, vb))| (va, vb)),
            },
        };
        match next {
            Some((a, b)) => match shallow_eq(a, b) {
                Shallow::Done(true) => {}
                Shallow::Done(false) => return false,
                Shallow::Elements(inner) => stack.push(std::mem::replace(&mut current, inner)),
            },
            None => match stack.pop() {
                Some(outer) => current = outer,
                None => return true,
            },
        }
    }
}

/// The derived format (`Int(3)`, `List([Str("a")])`, `Dict({"k": Null})`, and with `{:#?}` the
/// same pretty-printed), except that a non-empty `List` or `Dict` nested inside 256 containers
/// is printed as `List(…)` or `Dict(…)`, which bounds the recursion (type docs, "Deep
/// nesting").
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_at(self, 0, f)
    }
}

/// A value to `Debug`-format inside `depth` containers.
struct DebugAt<'a>(&'a Value, usize);

impl fmt::Debug for DebugAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_at(self.0, self.1, f)
    }
}

/// The elements of a `List` inside `depth` containers (counting the list).
struct DebugList<'a>(&'a [Value], usize);

impl fmt::Debug for DebugList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|v| DebugAt(v, self.1)))
            .finish()
    }
}

/// The entries of a `Dict` inside `depth` containers (counting the dict).
struct DebugDict<'a>(&'a BTreeMap<String, Value>, usize);

impl fmt::Debug for DebugDict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, DebugAt(v, self.1))))
            .finish()
    }
}

/// `Debug` of `v` inside `depth` containers.
fn debug_at(v: &Value, depth: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        Value::Null => f.write_str("Null"),
        Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
        Value::Int(i) => f.debug_tuple("Int").field(i).finish(),
        Value::Float(x) => f.debug_tuple("Float").field(x).finish(),
        Value::Str(s) => f.debug_tuple("Str").field(s).finish(),
        Value::Bytes(b) => f.debug_tuple("Bytes").field(b).finish(),
        Value::List(items) if depth >= DEBUG_DEPTH && !items.is_empty() => f.write_str("List(…)"),
        Value::Dict(map) if depth >= DEBUG_DEPTH && !map.is_empty() => f.write_str("Dict(…)"),
        Value::List(items) => f
            .debug_tuple("List")
            .field(&DebugList(items, depth + 1))
            .finish(),
        Value::Dict(map) => f
            .debug_tuple("Dict")
            .field(&DebugDict(map, depth + 1))
            .finish(),
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::Value;
    use serde::de::{
        self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
    };
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
            f.write_str(
                "null, a bool, an i64 integer, a float, a string, bytes, a sequence or a map",
            )
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;
    use std::hash::BuildHasherDefault;

    fn dict<const N: usize>(entries: [(&str, Value); N]) -> Value {
        Value::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    fn ints(v: &[i64]) -> Value {
        Value::List(v.iter().copied().map(Value::Int).collect())
    }

    /// One sample of every variant, in declaration order.
    fn samples() -> Vec<Value> {
        let (list, d) = (ints(&[1]), dict([("k", Value::Null)]));
        vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-3),
            Value::Float(2.5),
        ]
        .into_iter()
        .chain([Value::from("s"), Value::Bytes(vec![1, 2]), list, d])
        .collect()
    }

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

    #[test]
    fn accessors_and_type_names() {
        let names = [
            "null", "bool", "int", "float", "str", "bytes", "list", "dict",
        ];
        for (v, name) in samples().iter().zip(names) {
            assert_eq!(v.type_name(), name);
            assert_eq!(v.is_null(), name == "null", "{v:?}");
            assert_eq!(v.as_bool().is_some(), name == "bool", "{v:?}");
            assert_eq!(v.as_int().is_some(), name == "int", "{v:?}");
            assert_eq!(v.as_float().is_some(), name == "float", "{v:?}");
            assert_eq!(v.as_str().is_some(), name == "str", "{v:?}");
            assert_eq!(v.as_bytes().is_some(), name == "bytes", "{v:?}");
            assert_eq!(v.as_list().is_some(), name == "list", "{v:?}");
            assert_eq!(v.as_dict().is_some(), name == "dict", "{v:?}");
        }
        let s = samples();
        assert_eq!(
            (s[1].as_bool(), s[2].as_int(), s[3].as_float()),
            (Some(true), Some(-3), Some(2.5))
        );
        assert_eq!(s[4].as_str(), Some("s"));
        assert_eq!(s[5].as_bytes(), Some(&[1u8, 2][..]));
        assert_eq!(s[6].as_list(), Some(&[Value::Int(1)][..]));
        assert_eq!(s[7].as_dict().and_then(|d| d.get("k")), Some(&Value::Null));
        // Strict: no cross-type conversions.
        assert_eq!(Value::Int(2).as_float(), None);
        assert_eq!(Value::Float(2.0).as_int(), None);
        assert_eq!(Value::Int(1).as_bool(), None);
        assert_eq!(Value::from(vec![1u8]).as_bytes(), None);
    }

    #[test]
    fn equality() {
        let nan = Value::Float(f64::NAN);
        assert_ne!(nan, nan.clone());
        assert_ne!(Value::List(vec![nan.clone()]), Value::List(vec![nan]));
        assert_eq!(Value::Float(0.0), Value::Float(-0.0));
        assert_ne!(Value::Int(1), Value::Float(1.0));
        assert_ne!(Value::Bytes(vec![1]), Value::from(vec![1u8]));
        assert_ne!(Value::Str(String::new()), Value::Null);
        let a = dict([("l", ints(&[1, 2])), ("n", Value::Null)]);
        assert_eq!(a, dict([("n", Value::Null), ("l", ints(&[1, 2]))]));
        assert_ne!(a, dict([("l", ints(&[2, 1])), ("n", Value::Null)]));
    }

    #[test]
    fn clone_is_deep() {
        let original = dict([("inner", dict([("x", Value::Int(1))]))]);
        let mut copy = original.clone();
        if let Value::Dict(outer) = &mut copy {
            if let Some(Value::Dict(inner)) = outer.get_mut("inner") {
                inner.insert("x".into(), Value::Int(2));
            }
        }
        assert_eq!(original, dict([("inner", dict([("x", Value::Int(1))]))]));
        assert_eq!(copy, dict([("inner", dict([("x", Value::Int(2))]))]));
    }

    #[test]
    fn display() {
        let cases = [
            (Value::Null, "null"),
            (Value::Bool(false), "false"),
            (Value::Int(-42), "-42"),
            (Value::Float(1.0), "1.0"),
            (Value::Float(-0.5), "-0.5"),
            (Value::Float(1e300), "1e300"),
            (Value::Float(f64::NAN), "NaN"),
            (Value::Float(f64::INFINITY), "inf"),
            (Value::Float(f64::NEG_INFINITY), "-inf"),
            (
                Value::from("a\"b\\c\n\t\r\u{1}é"),
                r#""a\"b\\c\n\t\r\u0001é""#,
            ),
            (
                Value::Bytes(b"a\"\\\n\x00\xff ".to_vec()),
                r#"b"a\"\\\n\x00\xff ""#,
            ),
            (Value::Bytes(vec![]), r#"b"""#),
            (Value::List(vec![]), "[]"),
            (
                Value::List(vec![Value::Int(1), Value::from("x")]),
                r#"[1, "x"]"#,
            ),
            (Value::Dict(BTreeMap::new()), "{}"),
            (
                dict([("b", ints(&[1])), ("a\n", Value::Null)]),
                r#"{"a\n": null, "b": [1]}"#,
            ),
        ];
        for (v, expected) in cases {
            assert_eq!(v.to_string(), expected, "{v:?}");
        }
    }

    /// How deep the deep-value tests nest.
    const DEEP: usize = 100_000;

    /// Runs `f` on a thread with 2 MiB of stack (what `std::thread::spawn` gives by default),
    /// set explicitly so that `RUST_MIN_STACK` cannot hide a recursive implementation.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// `[[...[leaf]...]]`, `depth` lists.
    fn deep_list(depth: usize, leaf: Value) -> Value {
        (0..depth).fold(leaf, |v, _| Value::List(vec![v]))
    }

    /// `{"k": {"k": ... leaf}}`, `depth` dicts.
    fn deep_dict(depth: usize, leaf: Value) -> Value {
        (0..depth).fold(leaf, |v, _| dict([("k", v)]))
    }

    /// Lists and dicts alternating, with scalar and empty-container siblings, `depth` levels.
    fn deep_mixed(depth: usize, leaf: Value) -> Value {
        (0..depth).fold(leaf, |v, i| {
            if i % 2 == 0 {
                dict([
                    ("a", Value::List(vec![])),
                    ("b", v),
                    ("c", Value::Float(0.5)),
                ])
            } else {
                Value::List(vec![Value::from("s"), v, Value::Dict(BTreeMap::new())])
            }
        })
    }

    /// `Value` with derived impls: the reference the hand-written ones must match.
    #[derive(Debug, Clone, PartialEq)]
    enum Derived {
        Null,
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
        Bytes(Vec<u8>),
        List(Vec<Derived>),
        Dict(BTreeMap<String, Derived>),
    }

    /// `v` as a [`Derived`] (recursive: for shallow values only).
    fn derived(v: &Value) -> Derived {
        match v {
            Value::Null => Derived::Null,
            Value::Bool(b) => Derived::Bool(*b),
            Value::Int(i) => Derived::Int(*i),
            Value::Float(x) => Derived::Float(*x),
            Value::Str(s) => Derived::Str(s.clone()),
            Value::Bytes(b) => Derived::Bytes(b.clone()),
            Value::List(l) => Derived::List(l.iter().map(derived).collect()),
            Value::Dict(d) => {
                Derived::Dict(d.iter().map(|(k, v)| (k.clone(), derived(v))).collect())
            }
        }
    }

    /// Checks `Clone`, `PartialEq` and `Debug` of `a` (and against `b`) against the derived ones.
    fn check_against_derived(a: &Value, b: &Value) {
        let (da, db) = (derived(a), derived(b));
        // Through `Debug`, which (unlike `==`) shows a NaN equal to itself.
        assert_eq!(
            format!("{:?}", derived(&a.clone())),
            format!("{da:?}"),
            "clone"
        );
        assert_eq!(*a == a.clone(), da == da.clone(), "{a:?} == its clone");
        assert_eq!(a == b, da == db, "{a:?} == {b:?}");
        assert_eq!(a != b, da != db, "{a:?} != {b:?}");
        let debug = format!("{a:?}");
        assert_eq!(debug, format!("{da:?}"));
        // Pretty-printing is quadratic in the depth (indentation) and slow unoptimized.
        if debug.len() < 2_000 {
            assert_eq!(format!("{a:#?}"), format!("{da:#?}"));
            assert_eq!(format!("{a:x?}"), format!("{da:x?}"));
        }
    }

    #[test]
    fn impls_match_derived_ones() {
        let nan = Value::Float(f64::NAN);
        let mut values = samples();
        values.extend([
            nan.clone(),
            Value::Float(-0.0),
            Value::Float(0.0),
            Value::List(vec![nan.clone(), Value::Int(1)]),
            Value::List(vec![Value::Int(1), Value::List(vec![])]),
            Value::List(vec![Value::Int(1), Value::List(vec![Value::Int(2)])]),
            Value::List(vec![Value::Int(1), Value::List(vec![Value::Int(3)])]),
            dict([("k", Value::Null), ("l", ints(&[1, 2]))]),
            dict([("k", Value::Null), ("m", ints(&[1, 2]))]),
            dict([("k", Value::Null), ("l", ints(&[1, 2, 3]))]),
            dict([("k", Value::Int(0)), ("l", ints(&[1, 2]))]),
            dict([("k", dict([("x", nan)]))]),
            deep_mixed(9, Value::Int(1)),
            deep_mixed(9, Value::Int(2)),
            deep_mixed(8, Value::Int(1)),
            deep_list(5, Value::Bytes(vec![0, 255])),
            deep_dict(5, Value::Str("é\n".into())),
            deep_dict(5, Value::Str("é\t".into())),
        ]);
        for a in &values {
            for b in &values {
                check_against_derived(a, b);
            }
        }
    }

    #[test]
    fn impls_match_derived_ones_around_the_recursion_limit() {
        let limit = RECURSION_LIMIT as usize;
        let depth = || RECURSION.with(Cell::get);
        for n in [limit - 1, limit, limit + 1, 2 * limit + 1] {
            let shapes = [
                deep_list(n, Value::Int(1)),
                deep_dict(n, Value::Int(1)),
                deep_mixed(n, Value::Int(1)),
                deep_mixed(n, Value::Int(2)),
                deep_mixed(n + 1, Value::Int(1)),
                deep_mixed(n, Value::Float(f64::NAN)),
                // A side branch crossing the limit at every level.
                (0..n).fold(Value::Int(1), |v, i| {
                    Value::List(vec![
                        v,
                        ints(&[i as i64]),
                        deep_mixed(limit + 3, Value::Null),
                    ])
                }),
            ];
            // Each against itself and the next (the three `deep_mixed` differ only at the bottom).
            for (i, a) in shapes[..6].iter().enumerate() {
                check_against_derived(a, a);
                check_against_derived(a, &shapes[(i + 1) % 6]);
            }
            let wide = &shapes[6];
            let copy = wide.clone();
            assert!(copy == *wide);
            assert_eq!(format!("{copy}"), format!("{wide}"));
            drop(copy);
            assert_eq!(depth(), 0, "the recursion count is back to 0");
            drop(shapes);
            assert_eq!(depth(), 0);
        }
    }

    #[test]
    fn clone_keeps_structure_and_capacity() {
        let v = deep_mixed(20, Value::Bytes(vec![1, 2, 3]));
        let c = v.clone();
        assert_eq!(derived(&c), derived(&v));
        let mut inner = &c;
        while let Some(next) = match inner {
            Value::List(l) => {
                assert_eq!(l.capacity(), l.len());
                l.get(1)
            }
            Value::Dict(d) => d.get("b"),
            _ => None,
        } {
            inner = next;
        }
        assert_eq!(*inner, Value::Bytes(vec![1, 2, 3]));
    }

    #[test]
    fn deep_values_clone_compare_format_and_drop_on_a_small_stack() {
        type Build = fn(usize, Value) -> Value;
        for (name, build) in [
            ("list", deep_list as Build),
            ("dict", deep_dict),
            ("mixed", deep_mixed),
        ] {
            on_small_stack(move || {
                // `Value` has no `Drop` impl: deep values are dropped with `dispose`.
                let eq = |a: &Value, b: Value| {
                    let same = *a == b;
                    b.dispose();
                    same
                };
                let v = build(DEEP, Value::Int(1));
                let c = v.clone();
                assert!(c == v, "{name}");
                assert!(eq(&v, build(DEEP, Value::Int(1))), "{name}");
                assert!(!eq(&v, build(DEEP, Value::Int(2))), "{name}");
                assert!(!eq(&v, build(DEEP, Value::Float(1.0))), "{name}");
                assert!(!eq(&v, build(DEEP + 1, Value::Int(1))), "{name}");
                assert!(!eq(&v, build(DEEP - 1, Value::Int(1))), "{name}");
                // NaN at the bottom: not equal to itself, as derived.
                let nan = build(DEEP, Value::Float(f64::NAN));
                assert!(!eq(&nan, nan.clone()), "{name}");
                let debug = format!("{v:?}");
                let pretty = format!("{v:#?}");
                assert!(debug.contains("(…)") && pretty.contains("(…)"), "{name}");
                assert!(debug.len() < 100_000 && pretty.len() < 10_000_000, "{name}");
                let display = v.to_string();
                assert!(display.len() > 2 * DEEP, "{name}");
                let head = if v.as_list().is_some() {
                    "List(["
                } else {
                    "Dict({"
                };
                assert!(debug.starts_with(head), "{name}: {}", &debug[..20]);
                for deep in [v, c, nan] {
                    deep.dispose();
                }
            });
        }
    }

    #[test]
    fn display_is_complete_at_any_depth() {
        let shown = |v: Value| {
            let text = v.to_string();
            v.dispose();
            text
        };
        let text = on_small_stack(move || shown(deep_list(DEEP, Value::Int(0))));
        assert!(text == format!("{}0{}", "[".repeat(DEEP), "]".repeat(DEEP)));
        let text = on_small_stack(move || shown(deep_dict(DEEP, Value::Null)));
        assert!(text == format!("{}null{}", r#"{"k": "#.repeat(DEEP), "}".repeat(DEEP)));
        let mixed = deep_mixed(3, Value::Bool(true));
        let want = r#"{"a": [], "b": ["s", {"a": [], "b": true, "c": 0.5}, {}], "c": 0.5}"#;
        assert_eq!(mixed.to_string(), want);
    }

    #[test]
    fn debug_cuts_off_at_its_depth() {
        // 256 nested lists print in full; the 257th prints as `List(…)`.
        let full = deep_list(DEBUG_DEPTH, Value::Int(0));
        let want = format!(
            "{}Int(0){}",
            "List([".repeat(DEBUG_DEPTH),
            "])".repeat(DEBUG_DEPTH)
        );
        assert_eq!(format!("{full:?}"), want);
        assert_eq!(format!("{full:?}"), format!("{:?}", derived(&full)));
        // Empty containers print in full at any depth: they do not nest any further.
        let empty = deep_list(DEBUG_DEPTH, Value::Dict(BTreeMap::new()));
        assert_eq!(format!("{empty:?}"), format!("{:?}", derived(&empty)));
        let cut = deep_list(DEBUG_DEPTH + 1, Value::Int(0));
        let want = format!(
            "{}List(…){}",
            "List([".repeat(DEBUG_DEPTH),
            "])".repeat(DEBUG_DEPTH)
        );
        assert_eq!(format!("{cut:?}"), want);
        let cut = deep_dict(DEBUG_DEPTH + 5, Value::Int(0));
        let want = format!(
            "{}Dict(…){}",
            r#"Dict({"k": "#.repeat(DEBUG_DEPTH),
            "})".repeat(DEBUG_DEPTH)
        );
        assert_eq!(format!("{cut:?}"), want);
        // The deepest printing, pretty or not, fits a small stack (unoptimized builds too).
        let (flat, pretty) = on_small_stack(|| {
            let v = deep_mixed(DEEP, Value::Int(0));
            let shown = (format!("{v:?}"), format!("{v:#?}"));
            v.dispose();
            shown
        });
        assert!(flat.ends_with("])") && pretty.ends_with(")"));
        assert_eq!(flat.matches('…').count(), 1);
        assert_eq!(pretty.matches('…').count(), 1);
    }

    #[test]
    fn dispose_of_wide_and_deep_values() {
        on_small_stack(|| {
            // Many deep branches side by side, and deep values in the middle of flat ones.
            let wide = Value::List((0..64).map(|i| deep_mixed(2_000, Value::Int(i))).collect());
            let copy = wide.clone();
            assert!(copy == wide);
            wide.dispose();
            let mut flat: Vec<Value> = (0..100).map(Value::Int).collect();
            flat[50] = deep_list(DEEP, Value::Null);
            Value::List(flat).dispose();
            copy.dispose();
            // Shallow values and scalars too.
            deep_mixed(3, Value::Int(0)).dispose();
            Value::Int(1).dispose();
        });
    }

    #[test]
    fn the_store_disposes_of_the_deep_values_it_held() {
        on_small_stack(|| {
            let store = crate::Store::builder().background_cleanup(false).build();
            let deep = deep_list(DEEP, Value::Int(1));
            store.set("k", deep.clone());
            store.set("k", 1); // the deep value is retired, dropped later by crossbeam-epoch
            store.set("j", deep.clone());
            assert!(store.delete("j"));
            store.set("m", deep);
            for _ in 0..256 {
                crossbeam_epoch::pin().flush();
            }
            drop(store); // with a deep value in it
        });
    }

    #[cfg(feature = "serde")]
    mod serde_tests {
        use super::*;
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

        use crate::value::serde_impl::SERDE_DEPTH;

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

            fn deserialize_any<V: serde::de::Visitor<'de>>(
                self,
                v: V,
            ) -> Result<V::Value, DeError> {
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
}
