//! How a [`Value`] prints: `Display`, a compact JSON-like rendering written iteratively (an
//! explicit stack, so any depth), and `Debug`, the derived format cut off below
//! [`DEBUG_DEPTH`] containers.

use std::collections::{btree_map, BTreeMap};
use std::fmt::{self, Write as _};
use std::slice;

use super::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::tests::{
        deep_dict, deep_list, deep_mixed, derived, dict, ints, on_small_stack, DEEP,
    };

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
}
