//! Issue #20, the new parts of the bounds: `max_bytes` and `bytes_used`, `Eviction::Lru`,
//! `WeakStore` (a store whose listener uses it still ends), and the re-entrancy rules (a listener
//! that writes into a full store, a loader that waits on its own load).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use scriptling_kv::{Eviction, RemovalCause, Store, TestClock, Value, WeakStore, ENTRY_OVERHEAD};

/// "No TTL" for the loads and conditional writes, whichever type their TTL argument has
/// (`Duration::ZERO` or `None`).
fn no_ttl<T: Default>() -> T {
    T::default()
}

fn charge(key: &str, size: usize) -> usize {
    ENTRY_OVERHEAD + key.len() + size
}

/// 150 logins with a 2 MB user name grew the HTTP job by 300 MiB: `max_keys` bounds keys, not
/// bytes. With `max_bytes(8 MiB)` the store holds what fits, never more than the bound plus one
/// entry.
#[test]
fn max_bytes_bounds_the_bytes_of_big_values() {
    const MAX: usize = 8 << 20;
    let store = Store::builder()
        .background_cleanup(false)
        .max_keys(10_000)
        .max_bytes(MAX)
        .build();
    let name = "u".repeat(2 << 20);
    let mut largest = 0;
    for i in 0..150 {
        let key = format!("session:{i}");
        store.set_with_ttl(&key, name.as_str(), Duration::from_secs(3600));
        largest = largest.max(charge(&key, name.len()));
        assert!(
            store.bytes_used() <= MAX,
            "{} bytes after {} logins",
            store.bytes_used(),
            i + 1
        );
    }
    assert_eq!(store.len(), MAX / charge("session:100", name.len()));
    assert_eq!(store.stats().evicted, 150 - store.len() as u64);
    assert_eq!(store.stats().bytes_used, store.bytes_used() as u64);
    assert!(largest > 0);
}

/// The charge is exactly what the docs state, for every kind of value, and it follows every
/// write: a bounded store's counter equals an unbounded store's walk after the same operations.
#[test]
fn bytes_used_is_the_documented_charge_and_follows_every_write() {
    let clock = TestClock::new();
    let bounded = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .max_bytes(usize::MAX)
        .build();
    let walked = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build();
    let mut dict = std::collections::BTreeMap::new();
    dict.insert("ab".to_string(), Value::from("xyz"));
    dict.insert(
        "c".to_string(),
        Value::List(vec![Value::Int(1), Value::Null]),
    );
    let cases: Vec<(&str, Value, usize)> = vec![
        ("n", Value::Null, 8),
        ("b", Value::Bool(true), 8),
        ("i", Value::Int(-5), 8),
        ("f", Value::Float(0.5), 8),
        ("s", Value::from("hello"), 5),
        ("y", Value::Bytes(vec![0; 7]), 7),
        (
            "l",
            Value::List(vec![Value::from("ab"), Value::Int(3)]),
            2 + 8,
        ),
        ("e", Value::List(vec![]), 0),
        ("d", Value::Dict(dict), (2 + 3) + (1 + 8 + 8)),
    ];
    let mut want = 0;
    for (k, v, size) in &cases {
        for s in [&bounded, &walked] {
            s.set(k, v.clone());
        }
        want += charge(k, *size);
        assert_eq!(bounded.bytes_used(), want, "after {k}");
        assert_eq!(walked.bytes_used(), want, "after {k} (walk)");
    }
    let ops: [&dyn Fn(&Store); 9] = [
        &|s| s.set("s", "a much longer string than before"),
        &|s| {
            let _ = s.incr("i", 1_000_000);
        },
        &|s| {
            let _ = s.delete("l");
        },
        &|s| s.set_with_ttl("t", "ttl", Duration::from_secs(5)),
        &|s| {
            let _ = s.expire("s", Duration::from_secs(1));
        },
        &|s| {
            let _ = s.set_if_absent("new", vec![1, 2, 3], no_ttl());
        },
        &|s| {
            let _ = s.swap("y", "z", no_ttl());
        },
        &|s| {
            let _ = s.get_or_insert_with("loaded", no_ttl(), || "v");
        },
        &|s| {
            let _ = s.take("d");
        },
    ];
    for (i, op) in ops.iter().enumerate() {
        op(&bounded);
        op(&walked);
        assert_eq!(bounded.bytes_used(), walked.bytes_used(), "after op {i}");
    }
    clock.advance(Duration::from_secs(10));
    assert_eq!(bounded.purge_expired(), 2);
    walked.purge_expired();
    assert_eq!(bounded.bytes_used(), walked.bytes_used(), "after the purge");
    bounded.clear();
    assert_eq!(bounded.bytes_used(), 0);
}

/// A single value larger than `max_bytes` is stored (the write reports success and the value is
/// readable); the next write that needs room evicts it.
#[test]
fn a_value_larger_than_max_bytes_is_stored_then_evicted_by_the_next_write() {
    let store = Store::builder()
        .background_cleanup(false)
        .max_bytes(10_000)
        .build();
    store.set("small", 1);
    store.set("huge", "x".repeat(50_000));
    assert_eq!(
        store.get("huge").map(|v| v.as_str().map(str::len)),
        Some(Some(50_000))
    );
    assert!(!store.exists("small"), "room was made for it");
    assert_eq!(store.bytes_used(), charge("huge", 50_000));
    store.set("next", 2);
    assert!(!store.exists("huge"));
    assert_eq!(store.bytes_used(), charge("next", 8));
    assert_eq!(store.stats().evicted, 2);
}

/// `Lru`: a key used all the time survives a flood of keys used once (with the default policy,
/// FIFO among keys without a TTL, it goes); a key never used again goes first.
#[test]
fn under_lru_a_hot_key_survives_a_flood_of_keys_used_once() {
    for (policy, survives) in [(Eviction::Lru, true), (Eviction::VolatileTtl, false)] {
        for cap in [1, 2, 3, 64, 1000] {
            if cap == 1 && policy == Eviction::Lru {
                continue; // the new key is never its own victim: the hot key must go
            }
            let store = Store::builder()
                .background_cleanup(false)
                .max_keys(cap)
                .eviction(policy)
                .build();
            store.set("hot", 0);
            for i in 0..5 * cap + 100 {
                store.set(&format!("flood:{i}"), i as i64);
                assert!(
                    store.get("hot").is_some() || !survives,
                    "{policy:?} cap {cap}: {i}"
                );
                assert!(store.len() <= cap);
            }
            assert_eq!(store.exists("hot"), survives, "{policy:?} cap {cap}");
        }
    }
}

/// `Lru` counts writes as uses too, and an expired key goes before any live one.
#[test]
fn under_lru_writes_count_as_uses_and_expired_keys_go_first() {
    let clock = TestClock::new();
    let store = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .max_keys(3)
        .eviction(Eviction::Lru)
        .build();
    store.set("a", 1);
    store.set("b", 1);
    store.set_with_ttl("c", 1, Duration::from_secs(1));
    store.set("a", 2); // a use of a: b is now the least recently used
    store.set("d", 1);
    assert!(store.exists("a") && !store.exists("b"));
    clock.advance(Duration::from_secs(2)); // c expires
    store.get("a");
    store.get("d");
    store.set("e", 1);
    assert_eq!(store.stats().expired, 1, "the expired key went first");
    assert!(store.exists("a") && store.exists("d") && store.exists("e"));
}

/// A removal listener that uses its store holds a `WeakStore`: the store still ends when the
/// application drops its last handle (its last-drop save runs, and the weak handle no longer
/// upgrades). With a strong `Store` in the listener it never ended.
#[test]
fn a_listener_holding_a_weak_store_lets_the_store_end() {
    let dir = std::env::temp_dir().join(format!("scriptling-kv-weak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.snap");
    let _ = std::fs::remove_file(&path);
    let me: Arc<OnceLock<WeakStore>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let store = Store::builder()
        .max_keys(2)
        .persist(&path, Duration::from_secs(3600))
        .removal_listener({
            let me = me.clone();
            let calls = calls.clone();
            move |key, _, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                if let Some(store) = me.get().and_then(WeakStore::upgrade) {
                    store.set("last_evicted", key);
                }
            }
        })
        .build();
    me.set(store.downgrade()).unwrap();
    assert!(format!("{:?}", store.downgrade()).contains("WeakStore"));
    for k in ["a", "b", "c"] {
        store.set(k, 1);
    }
    assert!(calls.load(Ordering::SeqCst) >= 1);
    let weak = store.downgrade();
    drop(store);
    assert!(weak.upgrade().is_none(), "the store did not end");
    assert!(path.exists(), "the last-drop save did not run");
    let reloaded = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .build();
    assert_eq!(reloaded.len(), 2);
    drop(reloaded);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A listener that writes a new key into a full store for every removal makes the store remove
/// another key, whose call is made after the first returns, on the same thread: listeners never
/// nest, so the stack stays flat whatever they do. Here each call writes a new key until 500
/// calls were made; the depth of nested listener calls stays 1.
#[test]
fn a_listener_writing_into_a_full_store_never_recurses() {
    let me: Arc<OnceLock<WeakStore>> = Arc::default();
    let depth = Arc::new(AtomicUsize::new(0));
    let deepest = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let order: Arc<Mutex<Vec<String>>> = Arc::default();
    let store = Store::builder()
        .background_cleanup(false)
        .max_keys(10)
        .removal_listener({
            let (me, depth, deepest, calls, order) = (
                me.clone(),
                depth.clone(),
                deepest.clone(),
                calls.clone(),
                order.clone(),
            );
            move |key, _, cause| {
                assert_eq!(cause, RemovalCause::Evicted);
                let d = depth.fetch_add(1, Ordering::SeqCst) + 1;
                deepest.fetch_max(d, Ordering::SeqCst);
                order.lock().unwrap().push(key.to_owned());
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 500 {
                    if let Some(store) = me.get().and_then(WeakStore::upgrade) {
                        store.set(&format!("from-listener:{n}"), 1);
                    }
                }
                depth.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .build();
    me.set(store.downgrade()).unwrap();
    for i in 0..11 {
        store.set(&format!("k:{i}"), i);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 501);
    assert_eq!(deepest.load(Ordering::SeqCst), 1, "listener calls nested");
    assert_eq!(store.len(), 10);
    assert_eq!(store.stats().evicted, 501);
    assert_eq!(order.lock().unwrap()[0], "k:0");
}

/// A loader that waits on its own load of the same key, on the same thread, is reported by a
/// panic that says so (as `RefCell` reports a double borrow), never a silent deadlock; its flight
/// is abandoned, so the key can be loaded afterwards.
#[test]
fn a_loader_waiting_on_its_own_load_panics_with_a_clear_message() {
    let store = Store::new();
    let inner = store.clone();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.get_or_insert_with("k", no_ttl(), || {
            inner.get_or_insert_with("k", no_ttl(), || 1)
        })
    }));
    let err = caught.expect_err("the nested load must not return");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("waits for its own load"), "{msg}");
    // Another key inside a load is fine, and the abandoned key loads again.
    let v = store.get_or_insert_with("k", no_ttl(), || {
        inner.get_or_insert_with("other", no_ttl(), || 2)
    });
    assert_eq!(v, Value::Int(2));
}

/// `WeakStore` is `Clone + Send + Sync + Debug` (a compile-time check), and `Eviction` is `Copy`
/// with `VolatileTtl` as its default.
#[test]
fn weak_store_and_eviction_have_the_documented_traits() {
    fn weak_handle<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    fn policy<T: Copy + Eq + std::fmt::Debug + Default + Send + Sync>() {}
    weak_handle::<WeakStore>();
    policy::<Eviction>();
    assert_eq!(Eviction::default(), Eviction::VolatileTtl);
    let weak = Store::new().downgrade();
    assert!(
        weak.clone().upgrade().is_none(),
        "a dropped store does not come back"
    );
}

/// Four threads write, overwrite (larger and smaller) and delete values of up to 10 KB in a store
/// capped at 200 KB (and at 300 keys), under both policies. Once they are done: the bytes and
/// keys are within the caps (no write in progress), and `bytes_used()` is exactly the sum of the
/// charges of the keys held: every install and every removal was accounted once, whatever raced.
#[test]
fn racing_writers_keep_the_byte_counter_exact_and_the_bounds() {
    const MAX: usize = 200_000;
    for policy in [Eviction::VolatileTtl, Eviction::Lru] {
        let store = Store::builder()
            .background_cleanup(false)
            .max_bytes(MAX)
            .max_keys(300)
            .eviction(policy)
            .build();
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    for _ in 0..10_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let key = format!("k{}", x % 500);
                        match x % 7 {
                            0 => {
                                store.delete(&key);
                            }
                            1 => {
                                store.get(&key);
                            }
                            _ => store.set(&key, "v".repeat((x >> 20) as usize % 10_000)),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let held: usize = store
            .keys("*")
            .unwrap()
            .iter()
            .map(|k| charge(k, store.get(k).unwrap().as_str().unwrap().len()))
            .sum();
        assert_eq!(store.bytes_used(), held, "{policy:?}");
        assert!(
            store.bytes_used() <= MAX,
            "{policy:?}: {} bytes",
            store.bytes_used()
        );
        assert!(store.len() <= 300, "{policy:?}: {} keys", store.len());
        assert!(
            store.stats().evicted > 0,
            "{policy:?}: the caps were never reached"
        );
    }
}

/// `stats()` stays constant-cost in an unbounded store: it reports no byte figure there (the
/// store keeps no counter), while `bytes_used()` computes one by a walk; a bounded store reports
/// the same figure both ways.
#[test]
fn stats_report_bytes_only_where_a_counter_is_kept() {
    let unbounded = Store::new();
    unbounded.set("k", "hello");
    assert_eq!(unbounded.stats().bytes_used, 0);
    assert_eq!(
        unbounded.bytes_used(),
        scriptling_kv::ENTRY_OVERHEAD + 1 + 5
    );
    let bounded = Store::builder().max_keys(10).build();
    bounded.set("k", "hello");
    assert_eq!(bounded.stats().bytes_used, bounded.bytes_used() as u64);
    assert_eq!(bounded.bytes_used(), scriptling_kv::ENTRY_OVERHEAD + 1 + 5);
}
