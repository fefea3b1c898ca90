//! The unit tests that span the files of `value` (accessors, and `Clone`, `PartialEq`, `Debug`
//! and `Display` together) and the helpers every file's tests share: sample values, values
//! nested to any depth, a thread with a small stack, and [`Derived`], the derived impls that the
//! hand-written ones must match.

use super::Value;
use std::collections::BTreeMap;

pub(super) fn dict<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

pub(super) fn ints(v: &[i64]) -> Value {
    Value::List(v.iter().copied().map(Value::Int).collect())
}

/// One sample of every variant, in declaration order.
pub(super) fn samples() -> Vec<Value> {
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

/// How deep the deep-value tests nest.
pub(super) const DEEP: usize = 100_000;

/// Runs `f` on a thread with 2 MiB of stack (what `std::thread::spawn` gives by default),
/// set explicitly so that `RUST_MIN_STACK` cannot hide a recursive implementation.
pub(super) fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// `[[...[leaf]...]]`, `depth` lists.
pub(super) fn deep_list(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |v, _| Value::List(vec![v]))
}

/// `{"k": {"k": ... leaf}}`, `depth` dicts.
pub(super) fn deep_dict(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |v, _| dict([("k", v)]))
}

/// Lists and dicts alternating, with scalar and empty-container siblings, `depth` levels.
pub(super) fn deep_mixed(depth: usize, leaf: Value) -> Value {
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
pub(super) enum Derived {
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
pub(super) fn derived(v: &Value) -> Derived {
    match v {
        Value::Null => Derived::Null,
        Value::Bool(b) => Derived::Bool(*b),
        Value::Int(i) => Derived::Int(*i),
        Value::Float(x) => Derived::Float(*x),
        Value::Str(s) => Derived::Str(s.clone()),
        Value::Bytes(b) => Derived::Bytes(b.clone()),
        Value::List(l) => Derived::List(l.iter().map(derived).collect()),
        Value::Dict(d) => Derived::Dict(d.iter().map(|(k, v)| (k.clone(), derived(v))).collect()),
    }
}

/// Checks `Clone`, `PartialEq` and `Debug` of `a` (and against `b`) against the derived ones.
pub(super) fn check_against_derived(a: &Value, b: &Value) {
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
