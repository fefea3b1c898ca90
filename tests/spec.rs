//! The contract, row by row, as the crate documents it (the crate docs' "Consistency" and
//! "Departures from the original", and each `Store` method's docs; README's "Semantics in
//! brief"): every method and its stated semantics, the departures from the original
//! `scriptling.kv` (one named test each), and the original library's own documented cases
//! (`seed_*`).
//!
//! TTL behaviour runs on a [`TestClock`] (time advanced by hand, no sleeping), except
//! `real_clock_short_ttl_expires`, which uses the monotonic clock with a few-ms TTL.

use std::collections::{BTreeMap, HashMap};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use scriptling_kv::{Error, Result, Store, StoreBuilder, Ttl, Value};

#[path = "support/clocked.rs"]
mod clocked;
use clocked::clocked;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn list(items: &[i64]) -> Value {
    Value::List(items.iter().map(|&i| Value::Int(i)).collect())
}

fn dict(pairs: &[(&str, Value)]) -> Value {
    Value::Dict(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Construction: new, builder, Default, global, Clone, Debug, auto traits
// ---------------------------------------------------------------------------------------------

#[test]
fn new_store_is_empty_and_usable() {
    let s = Store::new();
    assert!(s.is_empty());
    assert_eq!(s.len(), 0);
    assert_eq!(s.keys("*").unwrap(), Vec::<String>::new());
    s.set("k", 1);
    assert_eq!(s.get("k"), Some(Value::Int(1)));
    assert_eq!(s.len(), 1);
}

#[test]
fn builder_options_build_working_stores() {
    let configured = Store::builder()
        .cleanup_interval(Duration::from_millis(250))
        .initial_capacity(10_000)
        .background_cleanup(true)
        .build();
    let manual = Store::builder().background_cleanup(false).build();
    let zero_interval = Store::builder()
        .cleanup_interval(Duration::ZERO)
        .initial_capacity(0)
        .build();
    for (i, s) in [&configured, &manual, &zero_interval]
        .into_iter()
        .enumerate()
    {
        s.set("k", i as i64);
        assert_eq!(s.incr("k", 10), Ok(i as i64 + 10));
        assert_eq!(s.keys("*").unwrap(), ["k"]);
    }
    // Three builders, three independent stores.
    assert_eq!(configured.get("k"), Some(Value::Int(10)));
    assert_eq!(manual.get("k"), Some(Value::Int(11)));
    // The builder is a plain value: it can be stored, cloned and used later.
    let b: StoreBuilder = Store::builder().background_cleanup(false);
    let (s1, s2) = (b.clone().build(), b.build());
    s1.set("only-in-s1", true);
    assert!(!s2.exists("only-in-s1"));
}

#[test]
fn default_is_a_fresh_independent_store() {
    let a = Store::default();
    let b = Store::default();
    assert!(a.is_empty());
    a.set("k", "a");
    assert_eq!(b.get("k"), None);
    assert_eq!(a.get("k"), Some(Value::from("a")));
}

#[test]
fn global_is_one_store_for_the_process() {
    let g1: &'static Store = Store::global();
    let g2 = Store::global();
    assert!(std::ptr::eq(g1, g2));
    g1.set("spec:global:k", 41);
    assert_eq!(g2.incr("spec:global:k", 1), Ok(42));
    let from_thread = thread::spawn(|| Store::global().get("spec:global:k"))
        .join()
        .unwrap();
    assert_eq!(from_thread, Some(Value::Int(42)));
    // A new store is not the global one.
    assert_eq!(Store::new().get("spec:global:k"), None);
    assert!(Store::global().delete("spec:global:k"));
}

#[test]
fn clone_is_a_handle_sharing_one_store() {
    let (a, clock) = clocked();
    let b = a.clone();
    a.set("x", 1);
    assert_eq!(b.get("x"), Some(Value::Int(1)));
    assert_eq!(b.incr("x", 1), Ok(2));
    assert_eq!(a.get("x"), Some(Value::Int(2)));
    b.set_with_ttl("t", 0, secs(5));
    assert_eq!(a.ttl("t"), Ttl::Expires(secs(5)));
    assert!(a.delete("t"));
    assert!(!b.exists("t"));
    // A clone moved to another thread still shares it; dropping it leaves the store intact.
    let c = a.clone();
    thread::spawn(move || c.set("from-thread", "hi"))
        .join()
        .unwrap();
    assert_eq!(b.get("from-thread"), Some(Value::from("hi")));
    drop(b);
    assert_eq!(a.len(), 2);
    clock.advance(secs(1));
    // Clearing through a temporary clone clears the shared store.
    a.clone().clear();
    assert!(a.is_empty());
}

#[test]
fn debug_prints_something_useful() {
    let (s, _clock) = clocked();
    s.set("a", 1);
    s.set("b", 2);
    let text = format!("{s:?}");
    assert!(text.contains("Store"), "{text}");
    assert!(text.contains('2'), "the entry count should show: {text}");
    let text = format!("{:?}", Store::builder().initial_capacity(7));
    assert!(text.contains("StoreBuilder"), "{text}");
}

fn assert_send_sync<T: Send + Sync + 'static>() {}
fn assert_clone_debug_default<T: Clone + std::fmt::Debug + Default>() {}
fn assert_error<T: std::error::Error + Clone + PartialEq + Eq + Send + Sync + 'static>() {}
fn assert_ttl_derives<T: std::fmt::Debug + Clone + Copy + PartialEq + Eq>() {}
fn assert_value_derives<T: std::fmt::Debug + Clone + PartialEq + Send + Sync>() {}

#[test]
fn auto_traits_are_pinned_at_compile_time() {
    assert_send_sync::<Store>();
    assert_send_sync::<StoreBuilder>();
    assert_send_sync::<Value>();
    assert_send_sync::<Error>();
    assert_send_sync::<Ttl>();
    assert_clone_debug_default::<Store>();
    assert_error::<Error>();
    assert_ttl_derives::<Ttl>();
    assert_value_derives::<Value>();
    // `Result` is the crate's alias.
    let r: Result<i64> = Err(Error::Overflow);
    let _: std::result::Result<i64, Error> = r;
    // A `&'static Store` is what `global` gives; a `Store` moves into threads.
    let s = Store::new();
    let h = thread::spawn(move || s.incr("n", 1));
    assert_eq!(h.join().unwrap(), Ok(1));
}

/// `StoreBuilder` is `#[must_use]`: a bare `Store::builder()` or builder-method statement is a
/// warning. Pinned by compiling two snippets against this build of the library with `rustc`:
/// the control (`let _ = ...`) must compile, the bare statement must fail under
/// `deny(unused_must_use)`.
#[test]
fn store_builder_is_must_use() {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let mut rlibs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&deps)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libscriptling_kv-") && n.ends_with(".rlib"))
        })
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    rlibs.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    assert!(
        !rlibs.is_empty(),
        "no libscriptling_kv-*.rlib next to {exe:?}"
    );

    let dir = std::env::temp_dir().join(format!("scriptling-kv-must-use-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("#![deny(unused_must_use)]\nfn main() {{\n{body}\n}}\n"),
        )
        .unwrap();
        path
    };
    let control = write(
        "control.rs",
        "let _ = scriptling_kv::Store::builder(); let _ = scriptling_kv::Store::builder().initial_capacity(1);",
    );
    let bare = write("bare.rs", "scriptling_kv::Store::builder();");
    let bare_chain = write(
        "bare_chain.rs",
        "scriptling_kv::Store::builder().background_cleanup(false);",
    );
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let compile = |rlib: &Path, src: &Path| {
        Command::new(&rustc)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "bin",
                "--emit=metadata",
            ])
            .arg("-L")
            .arg(format!("dependency={}", deps.display()))
            .arg("--extern")
            .arg(format!("scriptling_kv={}", rlib.display()))
            .arg("--out-dir")
            .arg(&dir)
            .arg(src)
            .output()
            .unwrap()
    };
    let mut tried = Vec::new();
    let mut checked = false;
    for (_, rlib) in &rlibs {
        let out = compile(rlib, &control);
        if !out.status.success() {
            tried.push(String::from_utf8_lossy(&out.stderr).into_owned());
            continue;
        }
        for src in [&bare, &bare_chain] {
            let out = compile(rlib, src);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && stderr.contains("unused_must_use"),
                "{src:?} compiled without an unused_must_use error against {rlib:?}:\n{stderr}"
            );
        }
        checked = true;
        break;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        checked,
        "the control snippet did not compile against any rlib:\n{}",
        tried.join("\n---\n")
    );
}

// ---------------------------------------------------------------------------------------------
// set / set_with_ttl
// ---------------------------------------------------------------------------------------------

#[test]
fn set_stores_and_replaces_the_value() {
    let (s, _clock) = clocked();
    s.set("k", 1);
    assert_eq!(s.get("k"), Some(Value::Int(1)));
    s.set("k", "two");
    assert_eq!(s.get("k"), Some(Value::from("two")));
    s.set("k", vec![3, 4]);
    assert_eq!(s.get("k"), Some(list(&[3, 4])));
    assert_eq!(s.len(), 1);
    assert_eq!(s.ttl("k"), Ttl::Persistent);
}

#[test]
fn set_replaces_the_ttl_too() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 1, secs(10));
    s.set("k", 2);
    assert_eq!(s.ttl("k"), Ttl::Persistent);
    clock.advance(secs(3600));
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    assert_eq!(s.purge_expired(), 0);
    assert!(s.exists("k"));
}

#[test]
fn set_with_ttl_replaces_value_and_ttl() {
    let (s, clock) = clocked();
    s.set("k", "persistent");
    s.set_with_ttl("k", "short", secs(5));
    assert_eq!(s.get("k"), Some(Value::from("short")));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(5)));
    // A later set_with_ttl replaces the TTL (longer or shorter), counted from its own call.
    clock.advance(secs(2));
    s.set_with_ttl("k", "long", secs(100));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(100)));
    s.set_with_ttl("k", "shorter", secs(1));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(1)));
    clock.advance(secs(1));
    assert_eq!(s.get("k"), None);
}

#[test]
fn set_with_ttl_expires_exactly_at_the_deadline() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 1, secs(10));
    clock.advance(secs(10) - Duration::from_nanos(1));
    assert_eq!(s.get("k"), Some(Value::Int(1)));
    assert_eq!(s.ttl("k"), Ttl::Expires(Duration::from_nanos(1)));
    clock.advance(Duration::from_nanos(1));
    // A live key never reports 0, so at the deadline it is gone.
    assert_eq!(s.get("k"), None);
    assert_eq!(s.ttl("k"), Ttl::Missing);
    assert!(!s.exists("k"));
}

#[test]
fn set_with_ttl_zero_is_expired_at_once() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", "never seen", Duration::ZERO);
    assert_eq!(s.ttl("k"), Ttl::Missing);
    assert_eq!(s.ttl("k").as_secs(), -2);
    assert_eq!(s.get("k"), None);
    // It also removes what the key held, TTL or not.
    s.set_with_ttl("j", 1, secs(100));
    s.set_with_ttl("j", 2, Duration::ZERO);
    s.set("p", 1);
    s.set_with_ttl("p", 2, Duration::ZERO);
    assert!(!s.exists("j") && !s.exists("p"));
    clock.advance(secs(5));
    assert_eq!(s.purge_expired(), 0, "nothing was left for the cleaner");
    assert!(s.is_empty());
}

#[test]
fn set_accepts_every_into_value_type() {
    let (s, _clock) = clocked();
    s.set("bool", true);
    s.set("i8", -8i8);
    s.set("i16", -16i16);
    s.set("i32", -32i32);
    s.set("i64", -64i64);
    s.set("u8", 8u8);
    s.set("u16", 16u16);
    s.set("u32", u32::MAX);
    s.set("f32", 1.5f32);
    s.set("f64", 2.25f64);
    s.set("str", "s");
    s.set("string", String::from("S"));
    s.set("vec", vec!["a", "b"]);
    s.set("btree", BTreeMap::from([("k".to_string(), 1)]));
    s.set("hash", HashMap::from([("k".to_string(), "v")]));
    s.set("some", Some(5));
    s.set("none", None::<i64>);
    s.set("u64", Value::try_from(7u64).unwrap());
    s.set("usize", Value::try_from(9usize).unwrap());
    s.set("bytes", Value::Bytes(vec![0, 255]));
    assert!(Value::try_from(u64::MAX).is_err());
    assert!(Value::try_from(i64::MAX as u64 + 1).is_err());

    assert_eq!(s.get("bool").unwrap().as_bool(), Some(true));
    assert_eq!(s.get("i8"), Some(Value::Int(-8)));
    assert_eq!(s.get("i16"), Some(Value::Int(-16)));
    assert_eq!(s.get("i32"), Some(Value::Int(-32)));
    assert_eq!(s.get("i64").unwrap().as_int(), Some(-64));
    assert_eq!(s.get("u8"), Some(Value::Int(8)));
    assert_eq!(s.get("u16"), Some(Value::Int(16)));
    assert_eq!(s.get("u32"), Some(Value::Int(i64::from(u32::MAX))));
    assert_eq!(s.get("f32").unwrap().as_float(), Some(1.5));
    assert_eq!(s.get("f64"), Some(Value::Float(2.25)));
    assert_eq!(s.get("str").unwrap().as_str(), Some("s"));
    assert_eq!(s.get("string"), Some(Value::Str("S".into())));
    assert_eq!(
        s.get("vec"),
        Some(Value::List(vec![Value::from("a"), Value::from("b")]))
    );
    assert_eq!(s.get("btree"), Some(dict(&[("k", Value::Int(1))])));
    assert_eq!(s.get("hash"), Some(dict(&[("k", Value::from("v"))])));
    assert_eq!(s.get("some"), Some(Value::Int(5)));
    assert_eq!(s.get("none"), Some(Value::Null));
    assert_eq!(s.get("u64"), Some(Value::Int(7)));
    assert_eq!(s.get("usize"), Some(Value::Int(9)));
    assert_eq!(s.get("bytes"), Some(Value::Bytes(vec![0, 255])));
    // Accessors are strict about the variant.
    assert_eq!(Value::Int(1).as_float(), None);
    assert_eq!(Value::Float(1.0).as_int(), None);
    assert_eq!(Value::from("1").as_int(), None);
    assert_eq!(Value::Null.as_bool(), None);
    assert_eq!(s.len(), 20);
}

// ---------------------------------------------------------------------------------------------
// get / get_or / get_with
// ---------------------------------------------------------------------------------------------

#[test]
fn get_missing_is_none() {
    let (s, _clock) = clocked();
    assert_eq!(s.get("nope"), None);
    s.set("other", 1);
    assert_eq!(s.get("nope"), None);
}

#[test]
fn get_of_a_stored_null_is_some_null() {
    let (s, _clock) = clocked();
    s.set("n", Value::Null);
    assert_eq!(s.get("n"), Some(Value::Null));
    assert!(s.exists("n"));
    assert_eq!(s.get_or("n", 5), Value::Null);
    assert_eq!(s.get_with("n", Value::is_null), Some(true));
}

#[test]
fn get_of_an_expired_key_is_none_before_any_purge() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", "v", secs(2));
    assert_eq!(s.get("k"), Some(Value::from("v")));
    clock.advance(secs(2));
    assert_eq!(s.get("k"), None);
    assert_eq!(s.purge_expired(), 1);
    assert_eq!(s.get("k"), None);
}

#[test]
fn get_returns_an_owned_deep_copy() {
    let (s, _clock) = clocked();
    let nested = dict(&[("inner", list(&[1, 2])), ("name", Value::from("bob"))]);
    s.set("d", nested.clone());
    let mut copy = s.get("d").unwrap();
    match &mut copy {
        Value::Dict(m) => {
            m.insert("added".into(), Value::Int(9));
            match m.get_mut("inner") {
                Some(Value::List(items)) => items.push(Value::Int(3)),
                other => panic!("unexpected {other:?}"),
            }
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(s.get("d"), Some(nested));
}

#[test]
fn get_or_returns_the_value_or_the_default() {
    let (s, clock) = clocked();
    assert_eq!(s.get_or("counter", 0), Value::Int(0));
    assert_eq!(s.get_or("missing", "dflt"), Value::from("dflt"));
    assert_eq!(s.get_or("missing", Value::Null), Value::Null);
    s.set("counter", 7);
    assert_eq!(s.get_or("counter", 0), Value::Int(7));
    s.set_with_ttl("session", "alive", secs(1));
    assert_eq!(s.get_or("session", "dead"), Value::from("alive"));
    clock.advance(secs(1));
    assert_eq!(
        s.get_or("session", BTreeMap::<String, Value>::new()),
        Value::Dict(BTreeMap::new())
    );
    // The default is not stored.
    assert!(!s.exists("missing"));
}

#[test]
fn get_with_reads_in_place() {
    let (s, _clock) = clocked();
    s.set("name", "a long string we do not want to copy");
    assert_eq!(
        s.get_with("name", |v| v.as_str().map(str::len)),
        Some(Some(36))
    );
    // Zero-copy: two reads of the same version see the same buffer.
    let p1 = s.get_with("name", |v| v.as_str().unwrap().as_ptr() as usize);
    let p2 = s.get_with("name", |v| v.as_str().unwrap().as_ptr() as usize);
    assert!(p1.is_some());
    assert_eq!(p1, p2);
    // ...while `get` hands out a copy in another buffer.
    let copy = s.get("name").unwrap();
    assert_ne!(Some(copy.as_str().unwrap().as_ptr() as usize), p1);
}

#[test]
fn get_with_is_none_and_does_not_call_f_when_missing_or_expired() {
    let (s, clock) = clocked();
    let mut called = false;
    assert_eq!(
        s.get_with("missing", |_| {
            called = true;
        }),
        None
    );
    assert!(!called);
    s.set_with_ttl("t", 1, secs(1));
    assert_eq!(s.get_with("t", |v| v.as_int()), Some(Some(1)));
    clock.advance(secs(1));
    assert_eq!(
        s.get_with("t", |_| {
            called = true;
        }),
        None
    );
    assert!(!called);
}

/// `get_with`'s closure must not block writers: a writer on another thread finishes while the
/// closure is still running on the same key, and the closure keeps seeing the version it got.
/// The store can also be used re-entrantly from inside the closure.
#[test]
fn get_with_does_not_block_writers() {
    let s = Store::builder().background_cleanup(false).build();
    s.set("k", "old");
    let seen = s.get_with("k", |v| {
        let (tx, rx) = mpsc::channel();
        let w = s.clone();
        thread::spawn(move || {
            w.set("k", "new");
            w.set_with_ttl("k", "newer", secs(60));
            let _ = w.incr("other", 1);
            let _ = w.delete("other");
            tx.send(()).unwrap();
        });
        // A deadlock detector, not a timing assertion: the writer needs microseconds.
        rx.recv_timeout(Duration::from_secs(30))
            .expect("a writer was blocked by a running get_with closure");
        // Same thread, same key, inside the closure.
        s.set("k", "from-inside");
        assert_eq!(s.get("k"), Some(Value::from("from-inside")));
        assert!(s.delete("k"));
        v.clone()
    });
    assert_eq!(seen, Some(Value::from("old")));
    assert_eq!(s.get("k"), None);
}

// ---------------------------------------------------------------------------------------------
// delete
// ---------------------------------------------------------------------------------------------

#[test]
fn delete_is_true_only_for_a_live_key() {
    let (s, clock) = clocked();
    assert!(!s.delete("missing"));
    s.set("k", 1);
    assert!(s.delete("k"));
    assert!(!s.delete("k"));
    assert_eq!(s.get("k"), None);
    assert!(s.is_empty());
    // A key holding Null is live.
    s.set("n", Value::Null);
    assert!(s.delete("n"));
    // A key with a TTL that has not passed is live.
    s.set_with_ttl("t", 1, secs(5));
    clock.advance(secs(4));
    assert!(s.delete("t"));
    assert!(!s.exists("t"));
}

#[test]
fn delete_of_an_expired_but_unpurged_key_is_false() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 1, secs(1));
    clock.advance(secs(1));
    assert!(!s.delete("k"));
    assert!(!s.exists("k"));
    assert!(!s.delete("k"));
    // Nothing for the purge to count afterwards, and the key can be created again.
    assert_eq!(s.purge_expired(), 0);
    assert!(s.is_empty());
    s.set("k", 2);
    assert!(s.delete("k"));
}

// ---------------------------------------------------------------------------------------------
// incr
// ---------------------------------------------------------------------------------------------

#[test]
fn incr_on_a_missing_key_creates_it_with_delta_and_no_ttl() {
    let (s, _clock) = clocked();
    assert_eq!(s.incr("a", 1), Ok(1));
    assert_eq!(s.incr("b", -5), Ok(-5));
    assert_eq!(s.incr("c", 0), Ok(0));
    assert_eq!(s.get("a"), Some(Value::Int(1)));
    assert_eq!(s.get("b"), Some(Value::Int(-5)));
    assert_eq!(s.get("c"), Some(Value::Int(0)));
    for k in ["a", "b", "c"] {
        assert_eq!(s.ttl(k), Ttl::Persistent);
    }
}

#[test]
fn incr_on_an_expired_key_restarts_it_with_no_ttl() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 50, secs(10));
    clock.advance(secs(10));
    assert_eq!(s.incr("k", 3), Ok(3));
    assert_eq!(s.ttl("k"), Ttl::Persistent);
    clock.advance(secs(100));
    assert_eq!(s.get("k"), Some(Value::Int(3)));
    // An expired non-integer is absent too: incr creates, no NotAnInteger.
    s.set_with_ttl("s", "text", secs(1));
    clock.advance(secs(1));
    assert_eq!(s.incr("s", 1), Ok(1));
    assert_eq!(s.purge_expired(), 0);
}

#[test]
fn incr_on_an_int_adds_and_keeps_the_ttl() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 5, secs(10));
    clock.advance(secs(4));
    assert_eq!(s.incr("k", 1), Ok(6));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(6)));
    assert_eq!(s.incr("k", -10), Ok(-4));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(6)));
    assert_eq!(s.get("k"), Some(Value::Int(-4)));
    // The kept TTL still ends it at the original deadline.
    clock.advance(secs(6));
    assert_eq!(s.get("k"), None);
    // A persistent Int stays persistent.
    s.set("p", 1);
    assert_eq!(s.incr("p", 1), Ok(2));
    assert_eq!(s.ttl("p"), Ttl::Persistent);
}

#[test]
fn incr_on_a_non_int_is_not_an_integer_and_changes_nothing() {
    let (s, clock) = clocked();
    let others = [
        Value::Null,
        Value::Bool(true),
        Value::Float(1.0),
        Value::from("1"),
        Value::Bytes(vec![1]),
        list(&[1]),
        dict(&[("n", Value::Int(1))]),
    ];
    for (i, v) in others.iter().enumerate() {
        let with_ttl = format!("ttl{i}");
        let without = format!("plain{i}");
        s.set_with_ttl(&with_ttl, v.clone(), secs(10));
        s.set(&without, v.clone());
    }
    clock.advance(secs(3));
    for (i, v) in others.iter().enumerate() {
        let with_ttl = format!("ttl{i}");
        let without = format!("plain{i}");
        for delta in [1, 0, -1, i64::MAX, i64::MIN] {
            assert_eq!(s.incr(&with_ttl, delta), Err(Error::NotAnInteger), "{v:?}");
            assert_eq!(s.incr(&without, delta), Err(Error::NotAnInteger), "{v:?}");
        }
        assert_eq!(s.get(&with_ttl).as_ref(), Some(v));
        assert_eq!(s.ttl(&with_ttl), Ttl::Expires(secs(7)));
        assert_eq!(s.get(&without).as_ref(), Some(v));
        assert_eq!(s.ttl(&without), Ttl::Persistent);
    }
    assert_eq!(s.len(), 2 * others.len());
}

#[test]
fn incr_overflow_is_an_error_and_changes_nothing() {
    let (s, clock) = clocked();
    s.set_with_ttl("max", i64::MAX, secs(10));
    s.set("min", i64::MIN);
    clock.advance(secs(1));
    assert_eq!(s.incr("max", 1), Err(Error::Overflow));
    assert_eq!(s.incr("max", i64::MAX), Err(Error::Overflow));
    assert_eq!(s.get("max"), Some(Value::Int(i64::MAX)));
    assert_eq!(s.ttl("max"), Ttl::Expires(secs(9)));
    assert_eq!(s.incr("min", -1), Err(Error::Overflow));
    assert_eq!(s.incr("min", i64::MIN), Err(Error::Overflow));
    assert_eq!(s.get("min"), Some(Value::Int(i64::MIN)));
    assert_eq!(s.ttl("min"), Ttl::Persistent);
    // Right up to the limits is fine.
    s.set("near", i64::MAX - 1);
    assert_eq!(s.incr("near", 1), Ok(i64::MAX));
    s.set("near", i64::MIN + 1);
    assert_eq!(s.incr("near", -1), Ok(i64::MIN));
    assert_eq!(s.incr("near", i64::MAX), Ok(-1));
}

// ---------------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------------

#[test]
fn keys_are_sorted_in_byte_order() {
    let (s, _clock) = clocked();
    for k in [
        "b",
        "a",
        "B",
        "é",
        "aa",
        "a:b",
        "",
        "Z",
        "~",
        "\u{10FFFF}",
        "a/b",
    ] {
        s.set(k, 1);
    }
    let got = s.keys("*").unwrap();
    let mut want: Vec<String> = got.clone();
    want.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
    assert_eq!(got, want);
    assert_eq!(
        got,
        [
            "",
            "B",
            "Z",
            "a",
            "a/b",
            "a:b",
            "aa",
            "b",
            "~",
            "é",
            "\u{10FFFF}"
        ]
    );
}

#[test]
fn keys_exclude_expired_keys_before_any_purge() {
    let (s, clock) = clocked();
    s.set("p", 1);
    s.set_with_ttl("t1", 1, secs(1));
    s.set_with_ttl("t5", 1, secs(5));
    assert_eq!(s.keys("*").unwrap(), ["p", "t1", "t5"]);
    clock.advance(secs(1));
    assert_eq!(s.keys("*").unwrap(), ["p", "t5"]);
    assert_eq!(s.keys("t*").unwrap(), ["t5"]);
    clock.advance(secs(4));
    assert_eq!(s.keys("*").unwrap(), ["p"]);
    assert_eq!(s.keys("t?").unwrap(), Vec::<String>::new());
}

#[test]
fn keys_invalid_pattern_is_an_error_echoing_the_pattern() {
    let (s, _clock) = clocked();
    s.set("abc", 1);
    for pattern in ["[abc", "user:[", "abc\\", "[a\\"] {
        match s.keys(pattern) {
            Err(Error::InvalidPattern { pattern: p, reason }) => {
                assert_eq!(p, pattern);
                assert!(!reason.is_empty());
                let text = Error::InvalidPattern {
                    pattern: p.clone(),
                    reason: reason.clone(),
                }
                .to_string();
                assert_eq!(text, format!("invalid pattern '{pattern}': {reason}"));
            }
            other => panic!("{pattern:?}: expected InvalidPattern, got {other:?}"),
        }
    }
}

#[test]
fn keys_glob_syntax_is_redis_style() {
    let (s, _clock) = clocked();
    for k in [
        "",
        "a",
        "b",
        "c",
        "d",
        "z",
        "é",
        "ab",
        "user:1",
        "user:2",
        "user:10",
        "user/x/y",
        "*",
        "?",
        "a*b",
        "!a",
        "[a]",
        "\\",
        "cache:x:data",
        "cache:x:y:data",
    ] {
        s.set(k, 1);
    }
    let k = |p: &str| s.keys(p).unwrap();
    assert_eq!(k(""), [""]);
    assert_eq!(k("*").len(), 20);
    assert_eq!(k("user:*"), ["user:1", "user:10", "user:2"]);
    assert_eq!(k("user:?"), ["user:1", "user:2"]);
    assert_eq!(k("user*"), ["user/x/y", "user:1", "user:10", "user:2"]);
    assert_eq!(k("cache:*:data"), ["cache:x:data", "cache:x:y:data"]);
    assert_eq!(k("?"), ["*", "?", "\\", "a", "b", "c", "d", "z", "é"]);
    assert_eq!(k("[abc]"), ["a", "b", "c"]);
    assert_eq!(k("[^abc]"), ["*", "?", "\\", "d", "z", "é"]);
    assert_eq!(k("[a-c]"), ["a", "b", "c"]);
    assert_eq!(k("[c-a]"), ["a", "b", "c"]);
    assert_eq!(k("[a-cz]"), ["a", "b", "c", "z"]);
    assert_eq!(k("\\*"), ["*"]);
    assert_eq!(k("\\?"), ["?"]);
    assert_eq!(k("\\\\"), ["\\"]);
    assert_eq!(k("a\\*b"), ["a*b"]);
    assert_eq!(k("[\\*]"), ["*"]);
    assert_eq!(k("!*"), ["!a"]);
    assert_eq!(k("\\[a\\]"), ["[a]"]);
    assert_eq!(k("[[]a]"), ["[a]"]);
    assert_eq!(k("a*"), ["a", "a*b", "ab"]);
    assert_eq!(k("*b"), ["a*b", "ab", "b"]);
    assert_eq!(k("nothing*"), Vec::<String>::new());
    // Whole-key match, not substring.
    assert_eq!(k("ser"), Vec::<String>::new());
    assert_eq!(k("a"), ["a"]);
    // `]` alone is not malformed.
    assert_eq!(k("]"), Vec::<String>::new());
    assert_eq!(k("a]"), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// exists / ttl
// ---------------------------------------------------------------------------------------------

#[test]
fn exists_means_present_and_unexpired() {
    let (s, clock) = clocked();
    assert!(!s.exists("k"));
    s.set("k", false);
    assert!(s.exists("k"));
    s.set_with_ttl("t", 0, secs(2));
    assert!(s.exists("t"));
    clock.advance(secs(2));
    assert!(!s.exists("t"));
    assert!(s.exists("k"));
    s.delete("k");
    assert!(!s.exists("k"));
}

#[test]
fn ttl_reports_missing_persistent_and_expires() {
    let (s, clock) = clocked();
    assert_eq!(s.ttl("missing"), Ttl::Missing);
    assert_eq!(s.ttl("missing").as_secs(), -2);
    s.set("p", 1);
    assert_eq!(s.ttl("p"), Ttl::Persistent);
    assert_eq!(s.ttl("p").as_secs(), -1);
    s.set_with_ttl("t", 1, secs(10));
    assert_eq!(s.ttl("t"), Ttl::Expires(secs(10)));
    assert_eq!(s.ttl("t").as_secs(), 10);
    clock.advance(Duration::from_millis(9500));
    assert_eq!(s.ttl("t"), Ttl::Expires(Duration::from_millis(500)));
    assert_eq!(s.ttl("t").as_secs(), 1);
    clock.advance(Duration::from_millis(500) - Duration::from_nanos(1));
    assert_eq!(s.ttl("t").as_secs(), 1);
    clock.advance(Duration::from_nanos(1));
    assert_eq!(s.ttl("t"), Ttl::Missing);
    assert_eq!(s.ttl("t").as_secs(), -2);
}

#[test]
fn ttl_as_secs_rounds_up_and_a_live_key_never_reports_zero() {
    assert_eq!(Ttl::Missing.as_secs(), -2);
    assert_eq!(Ttl::Persistent.as_secs(), -1);
    assert_eq!(Ttl::Expires(Duration::from_nanos(1)).as_secs(), 1);
    assert_eq!(Ttl::Expires(Duration::from_millis(999)).as_secs(), 1);
    assert_eq!(Ttl::Expires(secs(1)).as_secs(), 1);
    assert_eq!(Ttl::Expires(secs(1) + Duration::from_nanos(1)).as_secs(), 2);
    assert_eq!(Ttl::Expires(secs(10)).as_secs(), 10);
    assert_eq!(Ttl::Expires(secs(3600)).as_secs(), 3600);
    // Through the store, at many points of a 3 s TTL: always ceil(remaining), never 0.
    let (s, clock) = clocked();
    s.set_with_ttl("k", 1, secs(3));
    let step = Duration::from_millis(250);
    let mut elapsed = Duration::ZERO;
    while elapsed < secs(3) {
        let remaining = secs(3) - elapsed;
        let want = remaining.as_secs() as i64 + i64::from(remaining.subsec_nanos() > 0);
        let reported = s.ttl("k").as_secs();
        assert_eq!(reported, want, "at {elapsed:?}");
        assert!(reported >= 1, "a live key never reports 0 (at {elapsed:?})");
        clock.advance(step);
        elapsed += step;
    }
    assert_eq!(s.ttl("k").as_secs(), -2);
}

#[test]
fn ttl_derives() {
    let t = Ttl::Expires(secs(3));
    let copy = t; // Copy: `t` is still usable below.
    assert_eq!(t, copy);
    assert_ne!(Ttl::Missing, Ttl::Persistent);
    assert_ne!(Ttl::Expires(secs(1)), Ttl::Expires(secs(2)));
    assert_eq!(format!("{:?}", Ttl::Missing), "Missing");
    assert_eq!(format!("{:?}", Ttl::Persistent), "Persistent");
    assert!(format!("{t:?}").starts_with("Expires("), "{t:?}");
}

// ---------------------------------------------------------------------------------------------
// expire / persist
// ---------------------------------------------------------------------------------------------

#[test]
fn expire_sets_a_new_ttl_on_a_live_key_leaving_the_value() {
    let (s, clock) = clocked();
    s.set("k", list(&[1, 2]));
    assert!(s.expire("k", secs(10)));
    assert_eq!(s.get("k"), Some(list(&[1, 2])));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(10)));
    // Shorten, then extend: the latest call wins, counted from its own time.
    clock.advance(secs(2));
    assert!(s.expire("k", secs(1)));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(1)));
    assert!(s.expire("k", secs(30)));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(30)));
    clock.advance(secs(29));
    assert_eq!(s.get("k"), Some(list(&[1, 2])));
    clock.advance(secs(1));
    assert_eq!(s.get("k"), None);
}

#[test]
fn expire_on_a_missing_or_expired_key_is_false_and_creates_nothing() {
    let (s, clock) = clocked();
    assert!(!s.expire("missing", secs(10)));
    assert!(!s.exists("missing"));
    assert_eq!(s.ttl("missing"), Ttl::Missing);
    assert!(s.is_empty());
    s.set_with_ttl("t", 1, secs(1));
    clock.advance(secs(1));
    assert!(!s.expire("t", secs(100)));
    assert!(!s.expire("t", Duration::ZERO));
    assert_eq!(s.get("t"), None);
    assert_eq!(s.ttl("t"), Ttl::Missing);
}

#[test]
fn expire_with_zero_removes_the_key() {
    let (s, _clock) = clocked();
    s.set_with_ttl("k", "v", secs(5));
    assert!(s.expire("k", Duration::ZERO), "a live key: true");
    assert_eq!(s.ttl("k"), Ttl::Missing);
    assert_eq!(s.get("k"), None);
    s.set("p", "v");
    assert!(
        s.expire("p", Duration::ZERO),
        "a persistent key is removed too"
    );
    assert!(!s.exists("p"));
    assert!(!s.expire("p", Duration::ZERO), "a missing key: false");
    assert_eq!(s.stats().expired, 0);
}

#[test]
fn persist_is_true_only_for_a_live_key_with_a_ttl() {
    let (s, clock) = clocked();
    assert!(!s.persist("missing"));
    assert!(!s.exists("missing"));
    s.set("p", 1);
    assert!(!s.persist("p"));
    assert_eq!(s.ttl("p"), Ttl::Persistent);
    s.set_with_ttl("t", "v", secs(5));
    clock.advance(secs(1));
    assert!(s.persist("t"));
    assert_eq!(s.ttl("t"), Ttl::Persistent);
    assert_eq!(s.get("t"), Some(Value::from("v")));
    assert!(!s.persist("t"));
    clock.advance(secs(100));
    assert_eq!(s.get("t"), Some(Value::from("v")));
    s.set_with_ttl("e", 1, secs(1));
    clock.advance(secs(1));
    assert!(!s.persist("e"));
    assert!(!s.exists("e"));
}

// ---------------------------------------------------------------------------------------------
// clear / len / is_empty / purge_expired
// ---------------------------------------------------------------------------------------------

#[test]
fn clear_removes_every_key() {
    let (s, clock) = clocked();
    for i in 0..100 {
        s.set(&format!("p{i}"), i);
        s.set_with_ttl(&format!("t{i}"), i, secs(10));
    }
    s.set_with_ttl("expired", 1, secs(1));
    clock.advance(secs(1));
    s.clear();
    assert!(s.is_empty());
    assert_eq!(s.len(), 0);
    assert_eq!(s.keys("*").unwrap(), Vec::<String>::new());
    assert!(!s.exists("p5"));
    assert_eq!(s.ttl("t5"), Ttl::Missing);
    // The store is usable afterwards, and old TTL records do not remove new keys.
    s.set("t5", "new");
    clock.advance(secs(20));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("t5"), Some(Value::from("new")));
    s.clear();
    s.clear();
    assert!(s.is_empty());
}

#[test]
fn len_and_is_empty_count_entries_until_purged() {
    let (s, clock) = clocked();
    assert!(s.is_empty());
    s.set("a", 1);
    s.set("b", 2);
    s.set("a", 3);
    assert_eq!(s.len(), 2);
    assert!(!s.is_empty());
    s.set_with_ttl("t", 1, secs(1));
    assert_eq!(s.len(), 3);
    clock.advance(secs(1));
    // May still count "t" (expired, not purged), but never more than what was stored.
    assert!((2..=3).contains(&s.len()), "{}", s.len());
    s.purge_expired();
    assert_eq!(s.len(), 2);
    s.delete("a");
    s.delete("b");
    assert!(s.is_empty());
}

#[test]
fn purge_expired_removes_expired_entries_and_returns_the_count() {
    let (s, clock) = clocked();
    for i in 0..5 {
        s.set_with_ttl(&format!("short{i}"), i, secs(1));
    }
    for i in 0..3 {
        s.set_with_ttl(&format!("long{i}"), i, secs(100));
        s.set(&format!("p{i}"), i);
    }
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.len(), 11);
    clock.advance(secs(1));
    assert_eq!(s.purge_expired(), 5);
    assert_eq!(s.len(), 6);
    assert_eq!(s.purge_expired(), 0);
    clock.advance(secs(99));
    assert_eq!(s.purge_expired(), 3);
    assert_eq!(s.keys("*").unwrap(), ["p0", "p1", "p2"]);
}

#[test]
fn purge_never_removes_a_key_extended_persisted_or_set_again() {
    let (s, clock) = clocked();
    s.set_with_ttl("extended", 1, secs(1));
    s.set_with_ttl("persisted", 2, secs(1));
    s.set_with_ttl("reset", 3, secs(1));
    s.set_with_ttl("reset_ttl", 4, secs(1));
    s.set_with_ttl("deleted", 5, secs(1));
    s.set_with_ttl("recreated_by_incr", 6, secs(1));
    s.set_with_ttl("plain", 7, secs(1));
    assert!(s.expire("extended", secs(10)));
    assert!(s.persist("persisted"));
    assert!(s.delete("deleted"));
    clock.advance(secs(2));
    // Set again after it expired.
    s.set("reset", 30);
    s.set_with_ttl("reset_ttl", 40, secs(10));
    assert_eq!(s.incr("recreated_by_incr", 1), Ok(1));
    assert_eq!(s.purge_expired(), 1); // only "plain"
    assert_eq!(
        s.keys("*").unwrap(),
        [
            "extended",
            "persisted",
            "recreated_by_incr",
            "reset",
            "reset_ttl"
        ]
    );
    assert_eq!(s.get("reset"), Some(Value::Int(30)));
    assert_eq!(s.get("reset_ttl"), Some(Value::Int(40)));
    clock.advance(secs(10));
    assert_eq!(s.purge_expired(), 2); // "extended" and "reset_ttl"
    assert_eq!(
        s.keys("*").unwrap(),
        ["persisted", "recreated_by_incr", "reset"]
    );
}

#[test]
fn background_cleaner_purges_expired_keys() {
    let s = Store::builder()
        .cleanup_interval(Duration::from_millis(1))
        .build();
    for i in 0..10 {
        s.set_with_ttl(&format!("t{i}"), i, Duration::from_millis(1));
    }
    s.set("keep", 1);
    // Liveness poll: the cleaner runs every millisecond; give it up to 5 s.
    let mut waited = Duration::ZERO;
    while s.len() > 1 && waited < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(2));
        waited += Duration::from_millis(2);
    }
    assert_eq!(s.len(), 1, "the cleaner did not purge within 5 s");
    assert_eq!(s.keys("*").unwrap(), ["keep"]);
}

#[test]
fn real_clock_short_ttl_expires() {
    let s = Store::builder().background_cleanup(false).build();
    s.set_with_ttl("short", "v", Duration::from_millis(3));
    s.set_with_ttl("long", "v", Duration::from_secs(600));
    thread::sleep(Duration::from_millis(20));
    assert_eq!(s.get("short"), None);
    assert_eq!(s.ttl("short"), Ttl::Missing);
    assert_eq!(s.get("long"), Some(Value::from("v")));
    assert!(matches!(s.ttl("long"), Ttl::Expires(d) if d > Duration::from_secs(500)));
    assert_eq!(s.purge_expired(), 1);
    assert_eq!(s.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Error
// ---------------------------------------------------------------------------------------------

#[test]
fn error_display_texts_are_the_specified_ones() {
    assert_eq!(Error::NotAnInteger.to_string(), "value is not an integer");
    assert_eq!(
        Error::Overflow.to_string(),
        "increment or decrement would overflow"
    );
    let (s, _clock) = clocked();
    let e = s.keys("[abc").unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("invalid pattern '[abc': "), "{text}");
    assert!(text.len() > "invalid pattern '[abc': ".len(), "{text}");
    // std::error::Error, Clone, Eq.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e.clone());
    assert_eq!(boxed.to_string(), text);
    assert_eq!(e.clone(), e);
    assert_ne!(Error::Overflow, Error::NotAnInteger);
    assert!(!format!("{e:?}").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Departures from the original, one test each
// ---------------------------------------------------------------------------------------------

#[test]
fn departure_incr_overflow_is_an_error() {
    let (s, _clock) = clocked();
    s.set("c", i64::MAX);
    // The original wraps to i64::MIN; here it is an error and the counter is untouched.
    assert_eq!(s.incr("c", 1), Err(Error::Overflow));
    assert_eq!(s.get("c"), Some(Value::Int(i64::MAX)));
    s.set("c", i64::MIN);
    assert_eq!(s.incr("c", -1), Err(Error::Overflow));
    assert_eq!(s.get("c"), Some(Value::Int(i64::MIN)));
}

#[test]
fn departure_keys_is_redis_glob_not_path_glob() {
    let (s, _clock) = clocked();
    for k in ["user/1/name", "user:1:name", "user", "cache:a/b:data"] {
        s.set(k, 1);
    }
    // Path globbing stops `*` at `/`; Redis glob does not.
    assert_eq!(
        s.keys("user*").unwrap(),
        ["user", "user/1/name", "user:1:name"]
    );
    assert_eq!(s.keys("user/*").unwrap(), ["user/1/name"]);
    assert_eq!(s.keys("*name").unwrap(), ["user/1/name", "user:1:name"]);
    assert_eq!(s.keys("cache:*:data").unwrap(), ["cache:a/b:data"]);
}

#[test]
fn departure_keys_bad_pattern_is_an_error_not_an_empty_match() {
    let (s, _clock) = clocked();
    s.set("[", 1);
    s.set("a", 1);
    assert!(matches!(
        s.keys("["),
        Err(Error::InvalidPattern { pattern, .. }) if pattern == "["
    ));
    assert!(matches!(
        s.keys("a\\"),
        Err(Error::InvalidPattern { pattern, .. }) if pattern == "a\\"
    ));
}

#[test]
fn departure_keys_are_sorted() {
    let (s, _clock) = clocked();
    let mut expected: Vec<String> = (0..500)
        .map(|i| format!("k{:03}", (i * 37) % 500))
        .collect();
    for k in &expected {
        s.set(k, 1);
    }
    expected.sort();
    for _ in 0..3 {
        assert_eq!(s.keys("k*").unwrap(), expected);
    }
}

#[test]
fn departure_delete_returns_whether_it_removed() {
    let (s, clock) = clocked();
    s.set("k", 1);
    assert!(s.delete("k"));
    assert!(!s.delete("k"));
    assert!(!s.delete("never"));
    s.set_with_ttl("e", 1, secs(1));
    clock.advance(secs(1));
    assert!(!s.delete("e"));
}

#[test]
fn departure_ttl_rounds_up() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 1, secs(10));
    // The original reports 9 right after a 10 s TTL (time has passed and it rounds down).
    clock.advance(Duration::from_nanos(1));
    assert_eq!(s.ttl("k").as_secs(), 10);
    clock.advance(secs(9));
    assert_eq!(s.ttl("k").as_secs(), 1);
}

/// The original's readers raced with `incr`. Here a reader never sees a lost or torn counter:
/// each reader's successive observations never go backwards, every observation is an `Int`, and
/// the final value is exact.
#[test]
fn departure_readers_do_not_race_with_incr() {
    let s = Store::builder().background_cleanup(false).build();
    s.set("c", 0);
    let writers = 4;
    let per = 2_000;
    let start = Arc::new(Barrier::new(writers + 2));
    thread::scope(|scope| {
        for _ in 0..writers {
            let (s, start) = (&s, start.clone());
            scope.spawn(move || {
                start.wait();
                for _ in 0..per {
                    s.incr("c", 1).unwrap();
                }
            });
        }
        for _ in 0..2 {
            let (s, start) = (&s, start.clone());
            scope.spawn(move || {
                start.wait();
                let mut last = 0;
                for _ in 0..per {
                    let now = match s.get("c") {
                        Some(Value::Int(n)) => n,
                        other => panic!("reader saw {other:?}"),
                    };
                    assert!(now >= last, "counter went back from {last} to {now}");
                    let via = s.get_with("c", Value::as_int).flatten().unwrap();
                    assert!(via >= now, "get_with saw {via} after get saw {now}");
                    last = via;
                }
            });
        }
    });
    assert_eq!(s.get("c"), Some(Value::Int((writers * per) as i64)));
}

/// The original's rate-limit recipe (`incr`, then `set(key, 1, ttl=60)` when the count is 1)
/// loses increments that land between the two calls. With `expire` the count is kept.
#[test]
fn departure_rate_limit_recipe_with_expire_keeps_increments() {
    // The interleaving that breaks the original recipe, played deterministically.
    let (s, clock) = clocked();
    let first = s.incr("rate:ip", 1).unwrap(); // request A
    assert_eq!(s.incr("rate:ip", 1), Ok(2)); // request B, before A starts the window
    assert_eq!(first, 1);
    assert!(s.expire("rate:ip", secs(60))); // A starts the window
    assert_eq!(s.get("rate:ip"), Some(Value::Int(2)));
    assert_eq!(s.ttl("rate:ip"), Ttl::Expires(secs(60)));
    // (The original's `set` would have reset it to 1:)
    let (orig, _c) = clocked();
    orig.incr("rate:ip", 1).unwrap();
    orig.incr("rate:ip", 1).unwrap();
    orig.set_with_ttl("rate:ip", 1, secs(60));
    assert_eq!(orig.get("rate:ip"), Some(Value::Int(1)));
    // Later increments in the window keep the window's TTL; the window ends on time.
    clock.advance(secs(30));
    assert_eq!(s.incr("rate:ip", 1), Ok(3));
    assert_eq!(s.ttl("rate:ip"), Ttl::Expires(secs(30)));
    clock.advance(secs(30));
    assert_eq!(s.incr("rate:ip", 1), Ok(1)); // a new window
    assert_eq!(s.ttl("rate:ip"), Ttl::Persistent);

    // And under real concurrency: every request is counted, and the window has a TTL.
    let s = Store::builder().background_cleanup(false).build();
    let threads = 8;
    let per = 250;
    let firsts = std::sync::atomic::AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per {
                    let n = s.incr("rate:10.0.0.1", 1).unwrap();
                    if n == 1 {
                        firsts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert!(s.expire("rate:10.0.0.1", secs(60)));
                    }
                }
            });
        }
    });
    assert_eq!(firsts.into_inner(), 1);
    assert_eq!(
        s.get("rate:10.0.0.1"),
        Some(Value::Int((threads * per) as i64))
    );
    assert!(matches!(s.ttl("rate:10.0.0.1"), Ttl::Expires(_)));
}

/// The original scans the whole map under a write lock. Here the expiry engine tracks only keys
/// with a TTL (one record per such key however often it is refreshed), and a purge removes
/// exactly what expired, leaving a large persistent population alone.
#[test]
fn departure_cleanup_work_follows_expired_keys() {
    let (s, clock) = clocked();
    for i in 0..5_000 {
        s.set(&format!("persistent:{i}"), i);
    }
    assert_eq!(s.__pending_expiry_records(), 0);
    for i in 0..10 {
        s.set_with_ttl(&format!("ttl:{i}"), i, secs(60));
    }
    assert_eq!(s.__pending_expiry_records(), 10);
    // Refreshing a TTL later and later (a session touched on every request) adds no records.
    for round in 1..=50 {
        clock.advance(Duration::from_millis(10));
        for i in 0..10 {
            assert!(s.expire(&format!("ttl:{i}"), secs(60 + round)));
        }
    }
    assert!(s.__pending_expiry_records() <= 10);
    clock.advance(secs(200));
    assert_eq!(s.purge_expired(), 10);
    assert_eq!(s.__pending_expiry_records(), 0);
    assert_eq!(s.len(), 5_000);
}

// ---------------------------------------------------------------------------------------------
// The original library's own documented cases (seed/scriptling-kv.txt)
// ---------------------------------------------------------------------------------------------

#[test]
fn seed_set_and_get() {
    let (s, _clock) = clocked();
    s.set("api_key", "secret123");
    assert_eq!(s.get("api_key"), Some(Value::from("secret123")));
    let session = dict(&[
        ("user", Value::from("bob")),
        ("login_time", Value::Int(123456)),
    ]);
    s.set_with_ttl("session:abc", session.clone(), secs(3600));
    assert_eq!(s.get("session:abc"), Some(session));
    s.set("recent_items", vec!["item1", "item2", "item3"]);
    assert_eq!(
        s.get("recent_items"),
        Some(Value::List(vec![
            Value::from("item1"),
            Value::from("item2"),
            Value::from("item3")
        ]))
    );
    let config = dict(&[("debug", Value::Bool(true)), ("port", Value::Int(8080))]);
    s.set("config", config.clone());
    assert_eq!(s.get("config"), Some(config));
    // Every documented value type: string, int, float, bool, list, dict.
    s.set("f", 3.5);
    s.set("b", false);
    assert_eq!(s.get("f"), Some(Value::Float(3.5)));
    assert_eq!(s.get("b"), Some(Value::Bool(false)));
}

#[test]
fn seed_get_defaults() {
    let (s, clock) = clocked();
    assert_eq!(s.get("api_key"), None); // default=None
    assert_eq!(s.get_or("counter", 0), Value::Int(0));
    s.set_with_ttl("session:old", "x", secs(1));
    clock.advance(secs(2));
    // "Expired keys return default"
    assert_eq!(
        s.get_or("session:old", BTreeMap::<String, Value>::new()),
        Value::Dict(BTreeMap::new())
    );
}

#[test]
fn seed_delete() {
    let (s, _clock) = clocked();
    s.set("session:abc", "x");
    s.delete("session:abc");
    assert_eq!(s.get("session:abc"), None);
    // Deleting a missing key is fine.
    assert!(!s.delete("temp_data"));
}

#[test]
fn seed_exists() {
    let (s, clock) = clocked();
    let config = if s.exists("config") {
        s.get("config").unwrap()
    } else {
        Value::from("default")
    };
    assert_eq!(config, Value::from("default"));
    s.set("config", "loaded");
    assert!(s.exists("config"));
    s.set_with_ttl("t", 1, secs(1));
    clock.advance(secs(1));
    assert!(!s.exists("t"));
}

#[test]
fn seed_incr() {
    let (s, _clock) = clocked();
    s.set("page_views", 0);
    assert_eq!(s.incr("page_views", 1), Ok(1));
    assert_eq!(s.incr("page_views", 5), Ok(6));
    assert_eq!(s.incr("new_counter", 1), Ok(1));
    assert_eq!(s.get("page_views"), Some(Value::Int(6)));
}

#[test]
fn seed_ttl() {
    let (s, _clock) = clocked();
    s.set_with_ttl("session", "data", secs(3600));
    s.set("config", 1);
    // The docs say "e.g. 3599" because the original rounds down; here it is exactly 3600.
    assert_eq!(s.ttl("session").as_secs(), 3600);
    assert_eq!(s.ttl("config").as_secs(), -1);
    assert_eq!(s.ttl("unknown").as_secs(), -2);
    s.set_with_ttl("ten", 1, secs(10));
    assert_eq!(s.ttl("ten").as_secs(), 10);
}

#[test]
fn seed_keys() {
    let (s, _clock) = clocked();
    for k in [
        "user:1",
        "user:2",
        "session:a",
        "session:b",
        "session:c",
        "cache:users:data",
        "cache:posts:data",
        "cache:posts:meta",
    ] {
        s.set(k, 1);
    }
    assert_eq!(s.keys("*").unwrap().len(), 8);
    assert_eq!(s.keys("user:*").unwrap().len(), 2);
    assert_eq!(s.keys("session:*").unwrap().len(), 3);
    assert_eq!(
        s.keys("cache:*:data").unwrap(),
        ["cache:posts:data", "cache:users:data"]
    );
}

#[test]
fn seed_clear() {
    let (s, _clock) = clocked();
    s.set("a", 1);
    s.set_with_ttl("b", 2, secs(10));
    s.clear();
    assert_eq!(s.keys("*").unwrap().len(), 0);
    assert_eq!(s.get("a"), None);
    assert_eq!(s.get("b"), None);
}

#[test]
fn seed_list_and_dict_values() {
    let (s, _clock) = clocked();
    s.set(
        "l",
        vec![Value::Int(1), Value::from("two"), Value::Float(3.0)],
    );
    s.set(
        "d",
        dict(&[
            ("nested", list(&[1, 2])),
            ("map", dict(&[("x", Value::Null)])),
        ]),
    );
    assert_eq!(
        s.get("l"),
        Some(Value::List(vec![
            Value::Int(1),
            Value::from("two"),
            Value::Float(3.0)
        ]))
    );
    let d = s.get("d").unwrap();
    let m = d.as_dict().unwrap();
    assert_eq!(m["nested"], list(&[1, 2]));
    assert_eq!(m["map"].as_dict().unwrap()["x"], Value::Null);
}

#[test]
fn seed_expiry_after_the_ttl() {
    let (s, clock) = clocked();
    s.set_with_ttl("session:abc", "bob", secs(86400));
    clock.advance(secs(86399));
    assert_eq!(s.get("session:abc"), Some(Value::from("bob")));
    clock.advance(secs(1));
    assert_eq!(s.get("session:abc"), None);
    assert!(!s.exists("session:abc"));
    assert_eq!(s.ttl("session:abc").as_secs(), -2);
    // "Expired entries are cleaned up automatically": here on the owner's call.
    assert_eq!(s.purge_expired(), 1);
}

#[test]
fn seed_incr_restarts_after_expiry() {
    let (s, clock) = clocked();
    // The documented rate limiter, made correct with `expire`.
    for _ in 0..5 {
        let n = s.incr("rate:1.2.3.4", 1).unwrap();
        if n == 1 {
            s.expire("rate:1.2.3.4", secs(60));
        }
    }
    assert_eq!(s.get("rate:1.2.3.4"), Some(Value::Int(5)));
    clock.advance(secs(60));
    assert_eq!(s.incr("rate:1.2.3.4", 1), Ok(1));
}

#[test]
fn seed_deep_copy_isolation() {
    let (s, _clock) = clocked();
    let original_list = list(&[1, 2, 3]);
    let original_dict = dict(&[("a", list(&[1])), ("b", Value::from("x"))]);
    // Changing what was passed in (a clone) after `set` does not change the stored value.
    let mut passed = original_list.clone();
    s.set("list", passed.clone());
    if let Value::List(items) = &mut passed {
        items.clear();
    }
    assert_eq!(s.get("list"), Some(original_list.clone()));
    s.set("dict", original_dict.clone());

    let mut got_list = s.get("list").unwrap();
    if let Value::List(items) = &mut got_list {
        items.push(Value::Int(4));
        items[0] = Value::from("changed");
    }
    let mut got_dict = s.get("dict").unwrap();
    if let Value::Dict(m) = &mut got_dict {
        m.remove("b");
        if let Some(Value::List(inner)) = m.get_mut("a") {
            inner.push(Value::Int(2));
        }
    }
    assert_ne!(got_list, original_list);
    assert_ne!(got_dict, original_dict);
    assert_eq!(s.get("list"), Some(original_list));
    assert_eq!(s.get("dict"), Some(original_dict));
}

#[test]
fn seed_hundred_threads_increment_one_counter() {
    let s = Store::new();
    let start = Arc::new(Barrier::new(100));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let (s, start) = (s.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                s.incr("counter", 1).unwrap()
            })
        })
        .collect();
    let mut got: Vec<i64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=100).collect::<Vec<_>>());
    assert_eq!(s.get("counter"), Some(Value::Int(100)));
}

#[test]
fn seed_session_and_cache_recipes() {
    let (s, clock) = clocked();
    // Session management.
    let token = "0123abcd";
    s.set_with_ttl(
        &format!("session:{token}"),
        dict(&[("user_id", Value::Int(42)), ("created", Value::Float(1.5))]),
        secs(86400),
    );
    let got = s.get(&format!("session:{token}")).unwrap();
    assert_eq!(got.as_dict().unwrap()["user_id"], Value::Int(42));
    assert!(s.delete(&format!("session:{token}")));
    assert_eq!(s.get(&format!("session:{token}")), None);
    // Response caching with a 300 s TTL.
    let mut fetches = 0;
    let mut cached = |s: &Store| -> Value {
        if let Some(v) = s.get("api:users") {
            return v;
        }
        fetches += 1;
        let data = list(&[fetches]);
        s.set_with_ttl("api:users", data.clone(), secs(300));
        data
    };
    assert_eq!(cached(&s), list(&[1]));
    clock.advance(secs(299));
    assert_eq!(cached(&s), list(&[1]));
    clock.advance(secs(1));
    assert_eq!(cached(&s), list(&[2]));
}
