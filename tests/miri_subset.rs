//! The store's unsafe core under a small enough workload for miri (`scripts/miri.sh`): slot
//! CAS and retirement (`entry.rs`), `Entry` drop deferring its slot through crossbeam-epoch, the
//! table's unlink path (`table.rs`), and the timing wheel and purge (`expiry.rs`, `wheel.rs`).
//! Miri checks every access for undefined behaviour (use after free, data races, aliasing);
//! the assertions check the results, so each test can fail under plain `cargo test` too, where
//! the same bodies run with more iterations.
//!
//! Every store here runs without the background cleaner (`background_cleanup(false)`): a
//! detached cleaner thread still running when the test ends would be reported by miri, and the
//! purge step it runs is driven by hand instead.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use scriptling_kv::{Error, Store, TestClock, Ttl, Value};

/// Iterations: about a hundred operations per test under miri (which is ~1000x slower), more
/// under `cargo test`.
const fn scaled(miri: usize, native: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

fn store_on(clock: &TestClock) -> Store {
    Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build()
}

/// Lets crossbeam-epoch run everything retired so far (on this thread and by threads that have
/// exited), so that miri's leak check at exit sees only what was really lost: each `flush`
/// moves this thread's deferred frees to the global queue and tries to advance the epoch, and
/// with no other thread pinned, a few rounds make every queued bag old enough to free.
fn quiesce() {
    for _ in 0..16 {
        crossbeam_epoch::pin().flush();
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Values that own heap memory in every shape, so a double free or use after free of a slot is
/// a real one.
fn heavy(i: i64) -> Value {
    let mut dict = BTreeMap::new();
    dict.insert(format!("k{i}"), Value::Bytes(vec![i as u8; 3]));
    dict.insert("list".to_string(), Value::from(vec![i, i + 1]));
    Value::Dict(dict)
}

#[test]
fn every_method_in_one_thread() {
    let clock = TestClock::new();
    let s = store_on(&clock);
    assert!(s.is_empty());

    s.set("a", 1);
    s.set("s", "text");
    s.set("h", heavy(1));
    s.set_with_ttl("t", vec![1, 2, 3], secs(10));
    assert_eq!(s.len(), 4);
    assert_eq!(s.get("a"), Some(Value::Int(1)));
    assert_eq!(s.get("h"), Some(heavy(1)));
    assert_eq!(s.get_or("missing", 5), Value::Int(5));
    assert_eq!(s.get_with("s", |v| v.as_str().map(str::len)), Some(Some(4)));
    assert_eq!(s.get_with("missing", |_| ()), None);
    assert!(s.exists("t"));
    assert_eq!(s.ttl("t"), Ttl::Expires(secs(10)));
    assert_eq!(s.ttl("a"), Ttl::Persistent);
    assert_eq!(s.ttl("missing"), Ttl::Missing);

    // incr: create, add, keep TTL, wrong type, overflow.
    assert_eq!(s.incr("n", 2), Ok(2));
    assert_eq!(s.incr("n", -5), Ok(-3));
    assert!(s.expire("n", secs(30)));
    assert_eq!(s.incr("n", 1), Ok(-2));
    assert_eq!(s.ttl("n"), Ttl::Expires(secs(30)));
    assert_eq!(s.incr("s", 1), Err(Error::NotAnInteger));
    s.set("max", i64::MAX);
    assert_eq!(s.incr("max", 1), Err(Error::Overflow));
    assert_eq!(s.get("max"), Some(Value::Int(i64::MAX)));

    // Replacing a heavy value retires the old slot.
    s.set("h", heavy(2));
    s.set_with_ttl("h", heavy(3), secs(5));
    assert_eq!(s.get("h"), Some(heavy(3)));

    assert_eq!(
        s.keys("*").unwrap(),
        ["a", "h", "max", "n", "s", "t"].map(String::from)
    );
    assert_eq!(s.keys("[a-h]").unwrap(), ["a", "h"].map(String::from));
    assert!(matches!(s.keys("["), Err(Error::InvalidPattern { .. })));

    // expire / persist.
    assert!(s.persist("t"));
    assert!(!s.persist("t"));
    assert!(s.expire("t", secs(2)));
    assert!(!s.expire("missing", secs(2)));
    assert!(s.expire("a", secs(600)));
    assert!(s.persist("a"));
    assert_eq!(s.ttl("a"), Ttl::Persistent);

    // Time passes: "t" (2 s) and "h" (5 s) expire; "n" (30 s) does not.
    clock.advance(secs(3));
    assert_eq!(s.get("t"), None);
    assert_eq!(s.ttl("h").as_secs(), 2);
    clock.advance(secs(2));
    assert_eq!(s.get("h"), None);
    assert!(!s.exists("h"));
    assert_eq!(s.len(), 6, "expired keys are held until purged");
    assert_eq!(s.purge_expired(), 2);
    assert_eq!(s.len(), 4);
    assert_eq!(s.purge_expired(), 0);

    // A key revived after it expired is not purged by its old record.
    s.set_with_ttl("r", 1, secs(1));
    clock.advance(secs(1));
    assert_eq!(s.get("r"), None);
    s.set("r", 2);
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("r"), Some(Value::Int(2)));

    // delete: live, missing, expired-but-held.
    assert!(s.delete("a"));
    assert!(!s.delete("a"));
    s.set_with_ttl("e", 1, secs(1));
    clock.advance(secs(2));
    assert!(!s.delete("e"), "an expired key is not live");
    assert_eq!(s.purge_expired(), 0, "delete unlinked it");

    let clone = s.clone();
    clone.set("via-clone", true);
    assert_eq!(s.get("via-clone"), Some(Value::Bool(true)));
    assert!(format!("{s:?}").contains("Store"));

    s.clear();
    assert!(s.is_empty());
    assert_eq!(s.keys("*").unwrap(), Vec::<String>::new());
    s.set("after-clear", heavy(4));
    assert_eq!(s.len(), 1);
    // Dropping the last handles drops the table with a live entry in it (its slot is retired
    // through crossbeam-epoch by `Drop for Entry`).
    drop(clone);
    drop(s);
    quiesce();
}

/// Three threads race incr / set / delete / expire / persist / purge on two keys while the
/// clock moves. `b` only ever gets increments (and TTL changes that keep its value), so no
/// increment may be lost; `a` is fought over and must end holding something one of the writes
/// put there.
#[test]
fn three_threads_on_two_keys() {
    const THREADS: usize = 3;
    let rounds = scaled(12, 400);
    let clock = TestClock::new();
    let s = store_on(&clock);
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (s, clock, start) = (s.clone(), clock.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut b_incrs = 0i64;
                for i in 0..rounds {
                    match (i + t) % 6 {
                        0 => s.set("a", heavy(i as i64)),
                        1 => {
                            let _ = s.incr("a", 1);
                        }
                        2 => {
                            s.delete("a");
                        }
                        3 => {
                            s.set_with_ttl("a", "short", Duration::from_millis(2));
                            s.expire("b", secs(3600));
                        }
                        4 => {
                            clock.advance(Duration::from_millis(1));
                            s.purge_expired();
                            s.persist("b");
                        }
                        _ => {
                            let _ = s.get("a");
                            let _ = s.get_with("a", |v| v.type_name().len());
                            let _ = s.ttl("a");
                        }
                    }
                    assert!(s.incr("b", 1).is_ok());
                    b_incrs += 1;
                }
                b_incrs
            })
        })
        .collect();
    let total: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(s.get("b"), Some(Value::Int(total)), "lost an increment");
    match s.get("a") {
        None | Some(Value::Int(_)) | Some(Value::Dict(_)) => {}
        Some(Value::Str(ref v)) => assert_eq!(v, "short"),
        Some(other) => panic!("a holds {other:?}, which nobody wrote"),
    }
    clock.advance(secs(1));
    s.purge_expired();
    assert!(s.len() <= 2);
    drop(s);
    quiesce();
}

/// A reader inside `get_with` keeps seeing its value while another thread replaces it, deletes
/// it, clears the store, purges, and re-creates the key: the old slot (and the entry that held
/// it) must stay allocated until the reader is done.
#[test]
fn reader_outlives_replace_delete_clear_and_purge() {
    let rounds = scaled(3, 50);
    let clock = TestClock::new();
    let s = store_on(&clock);
    for round in 0..rounds {
        s.set_with_ttl("k", heavy(round as i64), Duration::from_millis(5));
        let inside = Arc::new(Barrier::new(2));
        let done = Arc::new(Barrier::new(2));
        let writer = {
            let (s, clock, inside, done) = (s.clone(), clock.clone(), inside.clone(), done.clone());
            thread::spawn(move || {
                inside.wait();
                s.set("k", "replaced");
                assert!(s.delete("k"));
                s.set_with_ttl("k", heavy(-1), Duration::from_millis(1));
                clock.advance(Duration::from_millis(10));
                assert_eq!(s.purge_expired(), 1);
                s.set("k", 7);
                s.clear();
                // Drive crossbeam-epoch as far as it can go while the reader sits in its closure:
                // many pins and flushes, and writes whose retired slots are recycled. A reader
                // that had let go of its guard would now be reading freed or reused memory (miri:
                // undefined behaviour; natively: the value it returns changes).
                for i in 0..scaled(64, 2048) {
                    s.set("churn", heavy(i as i64));
                    crossbeam_epoch::pin().flush();
                }
                done.wait();
            })
        };
        let seen = s
            .get_with("k", |v| {
                inside.wait();
                done.wait();
                // Every writer step has happened; `v` must still be the value we were given.
                v.clone()
            })
            .expect("the key was live when the read began");
        assert_eq!(seen, heavy(round as i64));
        writer.join().unwrap();
        assert_eq!(s.get("k"), None);
    }
    drop(s);
    quiesce();
}

/// The last handle dropped on another thread while the table still holds entries with and
/// without TTLs, some expired, some with records pending in the wheel.
#[test]
fn store_dropped_on_another_thread_with_pending_records() {
    let clock = TestClock::new();
    let s = store_on(&clock);
    let keys = scaled(20, 500);
    for i in 0..keys {
        if i % 3 == 0 {
            s.set(&format!("k{i}"), heavy(i as i64));
        } else {
            s.set_with_ttl(&format!("k{i}"), heavy(i as i64), secs(i as u64));
        }
    }
    clock.advance(secs(keys as u64 / 2));
    assert!(s.__pending_expiry_records() > 0);
    let reader = s.clone();
    let value = reader.get("k0");
    thread::spawn(move || drop(s)).join().unwrap();
    assert_eq!(value, Some(heavy(0)));
    assert_eq!(reader.len(), keys);
    drop(reader);
    quiesce();
}

/// TTLs on every level of the timing wheel (a tick is about 1 ms; a level-l slot spans 64^l
/// ticks) and past its top level; shortened, extended, persisted and re-set TTLs. Each purge
/// removes exactly the keys whose deadline has passed, and nothing that was revived.
#[test]
fn purge_across_wheel_levels() {
    let clock = TestClock::new();
    let s = store_on(&clock);
    let ttls: Vec<Duration> = [
        1u64,            // level 0
        100,             // level 1
        5_000,           // level 2
        300_000,         // level 3
        20_000_000,      // level 4
        1_000_000_000,   // level 5
        200_000_000_000, // past the top level (overflow list)
    ]
    .iter()
    .map(|&ms| Duration::from_millis(ms))
    .collect();
    // key -> deadline (time since the clock's origin), for the keys that have one.
    let mut deadlines: BTreeMap<String, Duration> = BTreeMap::new();
    for (i, &ttl) in ttls.iter().enumerate() {
        s.set_with_ttl(&format!("k{i}"), heavy(i as i64), ttl);
        deadlines.insert(format!("k{i}"), ttl);
        s.set_with_ttl(&format!("persisted{i}"), i as i64, ttl);
        s.set_with_ttl(&format!("extended{i}"), i as i64, ttl);
        s.set_with_ttl(&format!("shortened{i}"), i as i64, ttl * 2);
    }
    for (i, &ttl) in ttls.iter().enumerate() {
        assert!(s.persist(&format!("persisted{i}")));
        assert!(s.expire(&format!("extended{i}"), ttl * 3));
        deadlines.insert(format!("extended{i}"), ttl * 3);
        assert!(s.expire(&format!("shortened{i}"), ttl));
        deadlines.insert(format!("shortened{i}"), ttl);
    }
    let mut now = Duration::ZERO;
    let mut step = |to: Duration, what: &str| {
        clock.advance(to - now);
        let due = deadlines.values().filter(|&&d| d > now && d <= to).count();
        now = to;
        assert_eq!(s.purge_expired(), due, "{what}");
        for (key, &d) in &deadlines {
            assert_eq!(s.exists(key), d > now, "{key} {what}");
        }
    };
    for (i, &ttl) in ttls.iter().enumerate() {
        // Just before the deadline k{i} stays; at it, it goes (with whatever else is due).
        step(
            ttl - Duration::from_nanos(1),
            &format!("1 ns before level {i}"),
        );
        step(ttl, &format!("at level {i}"));
    }
    step(*ttls.last().unwrap() * 3, "at the end");
    assert_eq!(s.len(), ttls.len(), "only the persisted keys remain");
    assert_eq!(s.ttl("persisted0"), Ttl::Persistent);
    drop(s);
    quiesce();
}

/// Concurrent deletes, re-creations and purges of one key: the unlink path
/// (`remove_if_same`) races with inserts of a new entry for the same key. Each thread's own
/// key family checks nothing is lost or resurrected.
#[test]
fn unlink_races_with_recreate() {
    const THREADS: usize = 2;
    let rounds = scaled(15, 500);
    let clock = TestClock::new();
    let s = store_on(&clock);
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (s, clock, start) = (s.clone(), clock.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mine = format!("own{t}");
                for i in 0..rounds {
                    // The shared key: created, expired, purged, deleted by both threads.
                    s.set_with_ttl("shared", i as i64, Duration::from_nanos(1 + (i % 3) as u64));
                    if i % 2 == t {
                        clock.advance(Duration::from_nanos(2));
                        s.purge_expired();
                    } else {
                        s.delete("shared");
                    }
                    // The thread's own key: only this thread touches it.
                    assert_eq!(s.incr(&mine, 1), Ok(1));
                    assert!(s.delete(&mine));
                    assert_eq!(s.get(&mine), None);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    clock.advance(secs(1));
    s.purge_expired();
    s.delete("shared");
    assert!(s.is_empty(), "left behind: {:?}", s.keys("*"));
    drop(s);
    quiesce();
}

/// Slot allocations are recycled (`entry.rs`, "Recycling slot allocations"): a retired slot's
/// allocation goes back to a per-thread stack of spares once crossbeam-epoch's grace period is
/// over, and a later write reuses it. Here one thread rewrites a key while another reads it, and
/// both flush often, so allocations are recycled and reused while the other thread is pinned.
/// A reused allocation that someone could still read would be a data race or a use after free
/// under miri, and a torn value (not `heavy(i)` for any `i`) natively.
#[test]
fn recycled_slots_are_reused_under_readers() {
    let clock = TestClock::new();
    let store = store_on(&clock);
    let n = scaled(40, 5000) as i64;
    // Other tests' threads collect crossbeam-epoch's global garbage too (and then keep the
    // spares), so the writer goes on past `n` writes until it has reused some itself.
    let cap = scaled(400, 200_000) as i64;
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    store.set("k", heavy(0));
    let reader = {
        let (store, writing) = (store.clone(), writing.clone());
        thread::spawn(move || {
            let mut last = 0;
            let mut reads = 0;
            while writing.load(std::sync::atomic::Ordering::SeqCst) || reads < n {
                let v = store.get("k").expect("the key is never deleted");
                let i = match &v {
                    Value::Dict(d) => match d.get("list") {
                        Some(Value::List(l)) => l[0].as_int().expect("an integer"),
                        other => panic!("torn value: {other:?}"),
                    },
                    other => panic!("torn value: {other:?}"),
                };
                assert_eq!(v, heavy(i), "torn value");
                assert!(i >= last, "went back in time: {i} after {last}");
                last = i;
                reads += 1;
                crossbeam_epoch::pin().flush();
            }
        })
    };
    // Recycling must really happen while the reader runs, or this test checks nothing about it.
    let (_, reused_before) = scriptling_kv::__spare_slots();
    let mut i = 0;
    while i < n || (scriptling_kv::__spare_slots().1 == reused_before && i < cap) {
        i += 1;
        store.set("k", heavy(i));
        if i % 4 == 0 {
            crossbeam_epoch::pin().flush();
        }
    }
    let (_, reused_after) = scriptling_kv::__spare_slots();
    writing.store(false, std::sync::atomic::Ordering::SeqCst);
    reader.join().unwrap();
    assert!(
        reused_after > reused_before,
        "no write reused a retired slot allocation in {i} writes"
    );
    assert_eq!(store.get("k"), Some(heavy(i)));
    drop(store);
    quiesce();
}

/// The bounds (issue #20): two threads write, delete and read in stores capped by keys and bytes,
/// under both policies, while the removal listener reads every removed value (a slot the
/// eviction killed and retired, read under the evictor's guard) and writes into the store
/// itself through a `WeakStore` (a nested listener call, queued and delivered afterwards). The
/// eviction queues hold `Arc<Entry>`s of entries the table unlinked; every one must be freed
/// once, after its last queue lets go of it.
#[test]
fn bounded_stores_evict_under_threads() {
    use scriptling_kv::{Eviction, WeakStore};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;

    const THREADS: usize = 2;
    let rounds = scaled(10, 400);
    for policy in [Eviction::VolatileTtl, Eviction::Lru] {
        let clock = TestClock::new();
        let me: Arc<OnceLock<WeakStore>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let s = Store::builder()
            .test_clock(clock.clone())
            .background_cleanup(false)
            .max_keys(3)
            .max_bytes(4 * (scriptling_kv::ENTRY_OVERHEAD + 64))
            .eviction(policy)
            .removal_listener({
                let (me, seen) = (me.clone(), seen.clone());
                move |key, value, _| {
                    seen.fetch_add(key.len() + value.type_name().len(), Ordering::Relaxed);
                    if let Some(s) = me.get().and_then(WeakStore::upgrade) {
                        s.set("listener", key);
                    }
                }
            })
            .build();
        me.set(s.downgrade()).unwrap();
        for k in ["p0", "p1", "p2", "p3"] {
            s.set(k, heavy(1)); // the fourth evicts one (and the listener's write another)
        }
        let start = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (s, clock, start) = (s.clone(), clock.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    for i in 0..rounds {
                        let k = format!("k{}", (i * 7 + t * 3) % 6);
                        match (i + t) % 5 {
                            0 => s.set(&k, heavy(i as i64)),
                            1 => s.set_with_ttl(&k, "x".repeat(i % 50), secs(1 + i as u64 % 3)),
                            2 => {
                                s.delete(&k);
                            }
                            3 => {
                                clock.advance(Duration::from_millis(700));
                                s.purge_expired();
                            }
                            _ => {
                                let _ = s.get_with(&k, |v| v.type_name().len());
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(s.len() <= 3, "{} keys over max_keys(3)", s.len());
        assert!(s.stats().evicted > 0, "{policy:?}: nothing was evicted");
        assert!(seen.load(Ordering::Relaxed) > 0);
        drop(s);
    }
    quiesce();
}
