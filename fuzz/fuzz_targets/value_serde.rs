//! `value_serde`: `Value`'s serde impls through serde_json.
//!
//! - Structured: an arbitrary `Value` (the crate's own generator, `Arbitrary` for `Value` with
//!   the feature `arbitrary`: at most 4 levels deep, any float bit pattern) serialises, and reads
//!   back as the documented mapping says, through JSON text and through `serde_json::Value`:
//!   identical (floats bit for bit), except that a non-finite float (NaN, ±inf) reads back as
//!   `Null`, since serde_json writes it as `null` (documented), and `Bytes`, which JSON renders as
//!   an array of numbers, reads back as a `List` of `Int`s.
//! - Raw JSON bytes: either both our `Value` and `serde_json::Value` reject them, or ours
//!   rejects exactly because of an integer outside `i64` (documented), or ours accepts them and
//!   equals an independent conversion of `serde_json::Value` (integers stay `Int`, numbers with a
//!   fraction or exponent are `Float`), and its re-serialisation parses back to an equal value.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scriptling_kv::fuzzing::identical;
use scriptling_kv::Value;

#[derive(Arbitrary, Debug)]
enum Input {
    Structured(Value),
    Json(Vec<u8>),
}

/// What a value reads back as after a trip through JSON: `Bytes` becomes a list of ints, a
/// non-finite float `null`.
fn through_json(v: &Value) -> Value {
    match v {
        Value::Float(x) if !x.is_finite() => Value::Null,
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
    assert!(
        identical(&back, &want),
        "text round trip of {v:?} via {text:?}: {back:?}"
    );

    let tree = serde_json::to_value(v).expect("every Value converts to serde_json::Value");
    let back: Value = serde_json::from_value(tree.clone())
        .unwrap_or_else(|e| panic!("{v:?} became {tree:?}, which does not read back: {e}"));
    assert!(
        identical(&back, &want),
        "serde_json::Value round trip of {v:?}: {back:?}"
    );
    let shape = convert(&tree).expect("no integer outside i64");
    assert!(
        identical(&shape, &want),
        "natural JSON shape of {v:?}: {shape:?}"
    );
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
    Input::Structured(v) => structured(&v),
    Input::Json(bytes) => raw(&bytes),
});
