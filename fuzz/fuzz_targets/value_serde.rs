//! `value_serde`: `Value`'s serde impls through serde_json.
//!
//! - Structured: an arbitrary `Value` (built by a helper here: `Value` has no `Arbitrary` impl
//!   and gets none) serialises, and reads back equal, through JSON text and through
//!   `serde_json::Value`. Floats are finite (serde_json writes non-finite ones as `null`, as
//!   documented). `Bytes` is included with its documented mapping: JSON renders it as an array of
//!   numbers, which reads back as a `List` of `Int`s.
//! - Raw JSON bytes: either both our `Value` and `serde_json::Value` reject them, or ours
//!   rejects exactly because of an integer outside `i64` (documented), or ours accepts them and
//!   equals an independent conversion of `serde_json::Value` (integers stay `Int`, numbers with a
//!   fraction or exponent are `Float`), and its re-serialisation parses back to an equal value.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use scriptling_kv::Value;

const MAX_DEPTH: u32 = 5;

/// An arbitrary `Value` without NaN or infinities, at most [`MAX_DEPTH`] deep.
fn arb_value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let kinds = if depth >= MAX_DEPTH { 6 } else { 8 };
    Ok(match u.int_in_range(0..=kinds - 1)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Int(u.arbitrary()?),
        3 => {
            let x: f64 = u.arbitrary()?;
            Value::Float(if x.is_finite() { x } else { 0.5 })
        }
        4 => Value::Str(u.arbitrary()?),
        5 => Value::Bytes(u.arbitrary()?),
        6 => {
            let n = u.int_in_range(0..=4)?;
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                list.push(arb_value(u, depth + 1)?);
            }
            Value::List(list)
        }
        _ => {
            let n = u.int_in_range(0..=4)?;
            let mut dict = BTreeMap::new();
            for _ in 0..n {
                dict.insert(u.arbitrary::<String>()?, arb_value(u, depth + 1)?);
            }
            Value::Dict(dict)
        }
    })
}

/// The wrapper the fuzzer builds.
#[derive(Debug)]
struct ArbValue(Value);

impl<'a> Arbitrary<'a> for ArbValue {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        arb_value(u, 0).map(ArbValue)
    }
}

#[derive(Arbitrary, Debug)]
enum Input {
    Structured(ArbValue),
    Json(Vec<u8>),
}

/// What a value reads back as after a trip through JSON: `Bytes` becomes a list of ints.
fn through_json(v: &Value) -> Value {
    match v {
        Value::Bytes(b) => Value::List(b.iter().map(|&x| Value::Int(i64::from(x))).collect()),
        Value::List(l) => Value::List(l.iter().map(through_json).collect()),
        Value::Dict(d) => Value::Dict(
            d.iter()
                .map(|(k, v)| (k.clone(), through_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An independent reading of JSON into `Value`; `None` if it holds an integer outside `i64`.
fn convert(j: &serde_json::Value) -> Option<Value> {
    Some(match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if n.is_u64() {
                return None;
            } else {
                Value::Float(
                    n.as_f64()
                        .expect("a JSON number that is not an integer is an f64"),
                )
            }
        }
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(convert).collect::<Option<_>>()?),
        serde_json::Value::Object(o) => Value::Dict(
            o.iter()
                .map(|(k, v)| Some((k.clone(), convert(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

fn structured(v: &Value) {
    let want = through_json(v);
    let text = serde_json::to_string(v).expect("every Value serialises to JSON");
    let back: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{v:?} wrote {text:?}, which does not read back: {e}"));
    assert_eq!(back, want, "text round trip of {v:?} via {text:?}");

    let tree = serde_json::to_value(v).expect("every Value converts to serde_json::Value");
    let back: Value = serde_json::from_value(tree.clone())
        .unwrap_or_else(|e| panic!("{v:?} became {tree:?}, which does not read back: {e}"));
    assert_eq!(back, want, "serde_json::Value round trip of {v:?}");
    assert_eq!(convert(&tree), Some(want), "natural JSON shape of {v:?}");
}

fn raw(bytes: &[u8]) {
    let ours = serde_json::from_slice::<Value>(bytes);
    let theirs = serde_json::from_slice::<serde_json::Value>(bytes);
    match (ours, theirs) {
        (Ok(v), Ok(j)) => {
            assert_eq!(Some(v.clone()), convert(&j), "reading {bytes:?}");
            let text = serde_json::to_string(&v).expect("a parsed Value serialises");
            let again: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{v:?} wrote {text:?}, which does not read back: {e}"));
            assert_eq!(again, v, "re-serialisation of {v:?} via {text:?}");
        }
        (Ok(v), Err(e)) => {
            panic!("Value accepted {bytes:?} as {v:?}, serde_json::Value refused: {e}")
        }
        (Err(e), Ok(j)) => assert_eq!(
            convert(&j),
            None,
            "Value refused {bytes:?} ({e}) but it holds no integer outside i64"
        ),
        (Err(_), Err(_)) => {}
    }
}

fuzz_target!(|input: Input| match input {
    Input::Structured(ArbValue(v)) => structured(&v),
    Input::Json(bytes) => raw(&bytes),
});
