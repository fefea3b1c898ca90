//! The key cap (`max_keys`), the removal listener and the statistics, as their docs state them:
//! the bound holds under floods from many threads (with the stated slack), the eviction order
//! (expired and TTL keys before persistent ones; FIFO among persistent ones), the listener is
//! called exactly once per key the store removes on its own, and hits/misses are exact.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use scriptling_kv::{RemovalCause, Stats, Store, TestClock, Value};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

type Log = Arc<Mutex<Vec<(String, Value, RemovalCause)>>>;

fn logged(builder: scriptling_kv::StoreBuilder) -> (Store, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let store = builder
        .removal_listener(move |k, v, c| l.lock().unwrap().push((k.to_string(), v.clone(), c)))
        .build();
    (store, log)
}

#[test]
fn the_cap_evicts_ttl_keys_before_persistent_ones_and_reports_them() {
    let clock = TestClock::new();
    let (s, log) = logged(
        Store::builder()
            .test_clock(clock.clone())
            .background_cleanup(false)
            .max_keys(4),
    );
    s.set("p1", 1);
    s.set("p2", 2);
    s.set_with_ttl("t1", 3, secs(10));
    s.set_with_ttl("t2", 4, secs(20));
    assert_eq!(s.len(), 4);
    s.set("p3", 5); // over the cap: a key with a TTL goes, the soonest deadline (t1)
    assert_eq!(s.len(), 4);
    assert!(!s.exists("t1"));
    s.set("p4", 6); // then t2
    assert!(!s.exists("t2"));
    // No key with a TTL left: the oldest persistent key goes.
    s.set("p5", 7);
    assert!(!s.exists("p1"));
    assert!(s.exists("p2") && s.exists("p3") && s.exists("p4") && s.exists("p5"));
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            ("t1".to_string(), Value::Int(3), RemovalCause::Evicted),
            ("t2".to_string(), Value::Int(4), RemovalCause::Evicted),
            ("p1".to_string(), Value::Int(1), RemovalCause::Evicted),
        ]
    );
    let stats = s.stats();
    assert_eq!((stats.evicted, stats.expired), (3, 0));
}

#[test]
fn an_expired_key_goes_first_and_counts_as_expired() {
    let clock = TestClock::new();
    let (s, log) = logged(
        Store::builder()
            .test_clock(clock.clone())
            .background_cleanup(false)
            .max_keys(3),
    );
    s.set_with_ttl("late", 1, secs(100));
    s.set_with_ttl("soon", 2, secs(1));
    s.set("p", 3);
    clock.advance(secs(1)); // `soon` expired, not purged
    s.set("new", 4);
    assert!(s.exists("late") && s.exists("p") && s.exists("new"));
    assert_eq!(
        *log.lock().unwrap(),
        [("soon".to_string(), Value::Int(2), RemovalCause::Expired)]
    );
    assert_eq!(s.stats().expired, 1);
    assert_eq!(s.stats().evicted, 0);
}

#[test]
fn a_key_that_gains_or_loses_its_ttl_is_ordered_by_its_current_kind() {
    let (s, _log) = logged(Store::builder().background_cleanup(false).max_keys(3));
    s.set("a", 1); // persistent...
    s.set_with_ttl("b", 2, secs(100));
    s.set("c", 3);
    assert!(s.expire("a", secs(500))); // ...now with a TTL
    assert!(s.persist("b")); // and b without
    s.set("d", 4); // the only key with a TTL is a
    assert!(!s.exists("a"));
    assert!(s.exists("b") && s.exists("c") && s.exists("d"));
}

/// One million unique keys (a client rotating addresses) into `max_keys(10_000)`, from 2 and
/// from 8 threads. Measured: the largest `len()` any writer saw (the bound is `n + threads`),
/// and the process's resident memory. Persistent keys written first survive while TTL keys
/// keep arriving.
#[test]
fn a_flood_of_unique_keys_keeps_the_store_bounded() {
    const CAP: usize = 10_000;
    const KEYS: usize = 1_000_000;
    let rss = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    for threads in [2usize, 8] {
        let s = Store::builder().max_keys(CAP).build();
        for i in 0..100 {
            s.set(&format!("config:{i}"), i);
        }
        let rss_before = rss();
        let max_len = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (s, max_len, barrier) = (s.clone(), max_len.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    for i in (t..KEYS).step_by(threads) {
                        s.incr_with_ttl(&format!("rate:2001:db8::{i:x}"), 1, secs(60))
                            .unwrap();
                        if i % 64 == 0 {
                            max_len.fetch_max(s.len(), Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let max_len = max_len.load(Ordering::Relaxed);
        let grown = rss().saturating_sub(rss_before);
        eprintln!(
            "{KEYS} unique keys from {threads} threads into max_keys({CAP}): max len {max_len}, \
             final len {}, evicted {}, RSS +{} MiB",
            s.len(),
            s.stats().evicted,
            grown >> 20
        );
        assert!(max_len <= CAP + threads, "len reached {max_len}");
        assert!(s.len() <= CAP);
        assert_eq!(s.stats().evicted as usize, KEYS + 100 - s.len());
        for i in 0..100 {
            assert_eq!(s.get(&format!("config:{i}")), Some(Value::Int(i)));
        }
        // 1M keys unbounded would take ~300 MB.
        assert!(grown < 64 << 20, "RSS grew by {} MiB", grown >> 20);
    }
}

/// The listener is called exactly once for every key the store removes on its own, while a
/// purge races deletes and re-sets of the same keys (a deleted or re-set key is not reported:
/// the application removed or replaced it).
#[test]
fn the_listener_is_called_exactly_once_per_removal_under_races() {
    const KEYS: usize = 2_000;
    for round in 0..5 {
        let clock = TestClock::new();
        let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let c = calls.clone();
        let s = Store::builder()
            .test_clock(clock.clone())
            .background_cleanup(false)
            .removal_listener(move |k, _, cause| {
                assert_eq!(cause, RemovalCause::Expired);
                *c.lock().unwrap().entry(k.to_string()).or_insert(0) += 1;
            })
            .build();
        for i in 0..KEYS {
            s.set_with_ttl(&format!("k{i}"), i as i64, secs(1));
        }
        clock.advance(secs(1));
        let barrier = Arc::new(Barrier::new(3));
        let purger = {
            let (s, barrier) = (s.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                let mut removed = 0;
                for _ in 0..4 {
                    removed += s.purge_expired();
                }
                removed
            })
        };
        let deleter = {
            let (s, barrier) = (s.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                (0..KEYS)
                    .step_by(3)
                    .filter(|i| s.delete(&format!("k{i}")))
                    .count()
            })
        };
        barrier.wait();
        for i in (1..KEYS).step_by(3) {
            s.set(&format!("k{i}"), "again"); // re-set: live again, never reported
        }
        let purged = purger.join().unwrap() + s.purge_expired();
        let deleted = deleter.join().unwrap();
        let calls = calls.lock().unwrap();
        assert!(
            calls.values().all(|&n| n == 1),
            "round {round}: a key reported twice"
        );
        assert_eq!(calls.len(), purged, "one call per purged key");
        assert_eq!(s.stats().expired as usize, purged);
        assert_eq!(deleted, 0, "expired keys are absent: delete returns false");
        let mut resets = 0;
        for i in 0..KEYS {
            let k = format!("k{i}");
            match i % 3 {
                // Deleted (absent already) or purged: gone, reported at most once.
                0 => assert_eq!(s.get(&k), None),
                // Re-set: live again (reported once if the purge got it first, never after).
                1 => {
                    assert_eq!(s.get(&k), Some(Value::from("again")));
                    resets += 1;
                }
                // Untouched: purged and reported exactly once.
                _ => assert_eq!(calls.get(&k), Some(&1), "round {round}: {k} not reported"),
            }
        }
        assert_eq!(s.len(), resets, "only the re-set keys are left");
    }
}

/// A panicking listener is caught and counted; the cleaner thread keeps purging.
#[test]
fn a_panicking_listener_is_caught_and_counted() {
    // The listener's deliberate panics are expected: keep them out of the output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"listener failed") {
            default_hook(info);
        }
    }));
    let s = Store::builder()
        .cleanup_interval(Duration::from_millis(1))
        .removal_listener(|k, _, _| {
            if k.starts_with("bad") {
                panic!("listener failed");
            }
        })
        .build();
    for i in 0..10 {
        s.set_with_ttl(&format!("bad{i}"), 1, Duration::from_millis(1));
    }
    let t = std::time::Instant::now();
    while s.stats().listener_panics < 10 {
        assert!(
            t.elapsed() < secs(10),
            "the cleaner stopped: {:?}",
            s.stats()
        );
        thread::sleep(Duration::from_millis(2));
    }
    // The cleaner thread survived: it purges later keys too.
    s.set_with_ttl("good", 1, Duration::from_millis(1));
    while s.exists("good") || !s.is_empty() {
        assert!(
            t.elapsed() < secs(10),
            "the cleaner stopped after the panics"
        );
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(s.stats().expired, 11);
}

#[test]
fn stats_count_hits_and_misses_exactly_when_recorded() {
    let s = Store::builder()
        .record_stats(true)
        .background_cleanup(false)
        .build();
    s.set("k", 1);
    s.get("k"); // hit
    s.get("nope"); // miss
    s.get_or("nope", 0); // miss
    s.get_with("k", |_| ()); // hit
    s.exists("k"); // not counted
    s.ttl("k"); // not counted
    s.keys("*").unwrap(); // not counted
    s.incr("n", 1).unwrap(); // not counted
    s.get_or_insert_with("k", Some(secs(1)), || 0); // hit
    s.get_or_insert_with("new", Some(secs(1)), || 0); // miss (loaded)
    let st = s.stats();
    assert_eq!((st.hits, st.misses), (3, 3), "{st:?}");
    // Not recorded: zero.
    let quiet = Store::new();
    quiet.get("k");
    assert_eq!(quiet.stats(), Stats::default());
}

/// Feature `metrics`: `publish_metrics` exports every counter under its stable name, labelled
/// with the store's name, to whatever recorder the application installed.
#[cfg(feature = "metrics")]
#[test]
fn metrics_are_published_under_stable_names() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let s = Store::builder()
            .name("sessions")
            .record_stats(true)
            .background_cleanup(false)
            .max_keys(1)
            .build();
        s.set("a", 1);
        s.get("a");
        s.get("b");
        s.set("b", 2); // evicts a
        s.publish_metrics();
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let value = |name: &str| {
        snapshot
            .iter()
            .find(|(key, ..)| {
                key.key().name() == name
                    && key
                        .key()
                        .labels()
                        .any(|l| l.key() == "store" && l.value() == "sessions")
            })
            .map(|(.., v)| match v {
                DebugValue::Counter(c) => *c as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(_) => f64::NAN,
            })
    };
    for name in scriptling_kv::METRIC_NAMES {
        assert!(value(name).is_some(), "{name} was not published");
    }
    assert_eq!(value("scriptling_kv_hits_total"), Some(1.0));
    assert_eq!(value("scriptling_kv_misses_total"), Some(1.0));
    assert_eq!(value("scriptling_kv_evicted_total"), Some(1.0));
    assert_eq!(value("scriptling_kv_keys"), Some(1.0));
}
