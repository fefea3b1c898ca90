//! Values nested 100,000 deep (List in List, Dict in Dict, and both mixed) through the public
//! API: clone, compare, format, drop, and store, read, overwrite and delete them in a `Store`,
//! including overwrites from several threads so that crossbeam-epoch drops retired deep values
//! later, possibly on another thread.
//!
//! Every check runs on a thread with 2 MiB of stack (what `std::thread::spawn` gives by
//! default), set explicitly so a `RUST_MIN_STACK` in the environment cannot hide a recursive
//! implementation: with the derived (recursive) `Clone`, `PartialEq`, `Debug`, or a store that
//! drops the values it held with the ordinary drop glue, these tests die of a stack overflow.
//! `Value` has no `Drop` impl (so its fields can be moved out in a `match`): the values the tests
//! own are dropped with [`Value::dispose`], as the type's docs ask for deep values.

use std::collections::BTreeMap;
use std::thread;

use scriptling_kv::{Store, Value};

/// How deep the values are.
const DEPTH: usize = 100_000;

/// The default stack size of a thread made by `std::thread::spawn`.
const SPAWN_STACK: usize = 2 << 20;

/// Runs `f` on a fresh thread with [`SPAWN_STACK`] bytes of stack and propagates its panic.
fn on_spawned_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::Builder::new()
        .stack_size(SPAWN_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// `[[[...[leaf]...]]]` with `depth` lists.
fn deep_list(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |v, _| Value::List(vec![v]))
}

/// `{"k": {"k": ... {"k": leaf}}}` with `depth` dicts.
fn deep_dict(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |v, _| {
        Value::Dict(BTreeMap::from([("k".to_string(), v)]))
    })
}

/// Lists and dicts alternating, each with flat siblings around the nested child:
/// `[1, {"a": "x", "b": [1, {... leaf ...}, "end"], "c": null}, "end"]`.
fn deep_mixed(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |v, i| {
        if i % 2 == 0 {
            Value::Dict(BTreeMap::from([
                ("a".to_string(), Value::from("x")),
                ("b".to_string(), v),
                ("c".to_string(), Value::Null),
            ]))
        } else {
            Value::List(vec![Value::Int(1), v, Value::from("end")])
        }
    })
}

type Builder = fn(usize, Value) -> Value;

const SHAPES: [(&str, Builder); 3] = [
    ("list", deep_list),
    ("dict", deep_dict),
    ("mixed", deep_mixed),
];

/// Whether `a == b`, disposing of `b`.
fn eq(a: &Value, b: Value) -> bool {
    let same = *a == b;
    assert_eq!(same, !(*a != b), "== and != agree");
    b.dispose();
    same
}

/// Clone, equality (equal, and unequal only at the bottom), `Debug`, `Display`, drop.
fn clone_compare_format_drop(build: Builder) {
    let v = build(DEPTH, Value::Int(7));
    let copy = v.clone();
    assert!(eq(&v, copy), "a clone is equal");
    assert!(
        eq(&v, build(DEPTH, Value::Int(7))),
        "an identical rebuild is equal"
    );
    // Unequal only at the very bottom: another int, another type, another length.
    assert!(!eq(&v, build(DEPTH, Value::Int(8))));
    assert!(!eq(&v, build(DEPTH, Value::Float(7.0))));
    assert!(!eq(&v, build(DEPTH, Value::List(vec![Value::Int(7)]))));
    assert!(!eq(&v, build(DEPTH - 1, Value::Int(7))));

    // Debug stops at a depth and prints `…` below it; Display prints everything.
    let debug = format!("{v:?}");
    assert!(debug.contains('…'), "Debug elides the deep part");
    assert!(
        debug.len() < 100_000,
        "Debug output is bounded: {}",
        debug.len()
    );
    let pretty = format!("{v:#?}");
    assert!(pretty.contains('…'));
    let display = v.to_string();
    assert!(display.len() > 2 * DEPTH, "Display prints every level");
    match &v {
        Value::List(_) => {
            assert!(debug.starts_with("List(["), "{}", &debug[..40]);
            assert!(display.starts_with('['), "{}", &display[..40]);
        }
        Value::Dict(_) => {
            assert!(debug.starts_with("Dict({"), "{}", &debug[..40]);
            assert!(display.starts_with('{'), "{}", &display[..40]);
        }
        _ => unreachable!(),
    }
    v.dispose();
}

#[test]
fn deep_list_clone_compare_format_drop() {
    on_spawned_thread(|| clone_compare_format_drop(deep_list));
}

#[test]
fn deep_dict_clone_compare_format_drop() {
    on_spawned_thread(|| clone_compare_format_drop(deep_dict));
}

#[test]
fn deep_mixed_clone_compare_format_drop() {
    on_spawned_thread(|| clone_compare_format_drop(deep_mixed));
}

#[test]
fn deep_list_display_is_exact() {
    let text = on_spawned_thread(|| {
        let v = deep_list(DEPTH, Value::Int(0));
        let text = v.to_string();
        v.dispose();
        text
    });
    let want = format!("{}0{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    assert!(text == want, "Display of a deep list");
    let text = on_spawned_thread(|| deep_dict(3, Value::from("s")).to_string());
    assert_eq!(text, r#"{"k": {"k": {"k": "s"}}}"#);
}

/// Set, get back, compare, overwrite (the old value is retired and dropped later through
/// crossbeam-epoch), delete.
#[test]
fn deep_values_in_the_store() {
    on_spawned_thread(|| {
        let store = Store::new();
        for (name, build) in SHAPES {
            let v = build(DEPTH, Value::Int(1));
            store.set("k", v.clone());
            let got = store.get("k").expect("just set");
            assert!(eq(&v, got), "{name}: read back equal");
            assert!(store.get_with("k", |stored| *stored == v).unwrap());
            // Overwrite: the deep value is retired.
            store.set("k", build(DEPTH, Value::Int(2)));
            let want = build(DEPTH, Value::Int(2));
            assert!(eq(&want, store.get("k").unwrap()));
            want.dispose();
            assert!(store.delete("k"), "{name}: deleted");
            assert!(store.get("k").is_none());
            store.set("k", v);
            crossbeam_epoch::pin().flush();
        }
        // The store itself goes with a deep value in it.
        drop(store);
    });
}

/// Four threads overwrite the same keys with deep values many times, so crossbeam-epoch runs
/// the deferred drops of retired deep values on whichever thread collects them; every thread
/// has a 2 MiB stack. The writers never drop a deep value directly (sets and deletes retire
/// the old one, reads compare in place), so with a recursive drop this test dies on a
/// `writer-N` thread inside a crossbeam-epoch deferred function.
#[test]
fn deep_values_overwritten_from_four_threads() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 16;
    let store = std::sync::Arc::new(Store::new());
    // Built once; each set stores a fresh deep copy.
    let list = std::sync::Arc::new(deep_list(DEPTH, Value::Int(0)));
    let mixed = std::sync::Arc::new(deep_mixed(DEPTH / 4, Value::Int(0)));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, list, mixed) = (store.clone(), list.clone(), mixed.clone());
            thread::Builder::new()
                .name(format!("writer-{t}"))
                .stack_size(SPAWN_STACK)
                .spawn(move || {
                    for round in 0..ROUNDS {
                        let key = ["a", "b"][round % 2];
                        let v = if (round + t) % 3 == 0 { &mixed } else { &list };
                        store.set(key, (**v).clone());
                        // Small writes in between: each pins, which is what drives collection.
                        for i in 0..200 {
                            store.set("small", i);
                        }
                        // Compared in place: this thread drops no deep value itself, so a
                        // deep drop on it can only be crossbeam-epoch running a deferred one.
                        if round % 4 == 0 {
                            let same = store.get_with(key, |v| *v == *list || *v == *mixed);
                            assert_ne!(same, Some(false));
                        } else {
                            let shape = store.get_with(key, |v| v.as_list().map(<[Value]>::len));
                            assert!(matches!(shape, None | Some(Some(1 | 3))), "{shape:?}");
                        }
                        if round % 8 == 7 {
                            store.delete(key);
                            crossbeam_epoch::pin().flush();
                        }
                    }
                    for _ in 0..4 {
                        crossbeam_epoch::pin().flush();
                    }
                })
                .unwrap()
        })
        .collect();
    for h in handles {
        h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
    // Dropping the store and the originals also happens on a 2 MiB thread.
    on_spawned_thread(move || {
        drop(store);
        std::sync::Arc::try_unwrap(list).unwrap().dispose();
        std::sync::Arc::try_unwrap(mixed).unwrap().dispose();
        for _ in 0..4 {
            crossbeam_epoch::pin().flush();
        }
    });
}
