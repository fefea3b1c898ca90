//! The TTL rule: a `Duration` is always a deadline, `Duration::ZERO` is expired at once, and "no
//! expiry" is `None`, `set` or `persist`. Every method that takes a TTL, on `Store` and through
//! `AsyncKv`/`SharedKv`: what it returns (what it would for any other TTL), that the key is not
//! live afterwards, that no reader ever sees the value (concurrently either), and that it is not
//! an expiry by the store (no listener call, no `expired` count).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use scriptling_kv::{AsyncKv, Compute, SharedKv, Source, Store, TestClock, Ttl, Value};

const ZERO: Duration = Duration::ZERO;
const MIN: Duration = Duration::from_secs(60);

/// A store on a test clock whose listener counts every call.
fn store() -> (Store, Arc<AtomicUsize>) {
    let heard = Arc::new(AtomicUsize::new(0));
    let h = heard.clone();
    let store = Store::builder()
        .test_clock(TestClock::new())
        .background_cleanup(false)
        .record_stats(true)
        .removal_listener(move |_, _, _| {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    (store, heard)
}

/// Nothing for the store to remove on its own, and nothing it removed.
fn assert_not_an_expiry(store: &Store, heard: &AtomicUsize) {
    assert_eq!(
        store.purge_expired(),
        0,
        "a zero-TTL value left for the cleaner"
    );
    assert_eq!(store.stats().expired, 0);
    assert_eq!(heard.load(Ordering::SeqCst), 0, "the listener heard of it");
}

#[test]
fn set_with_ttl_zero_stores_nothing_and_removes_what_was_there() {
    let (s, heard) = store();
    s.set_with_ttl("k", 1, ZERO);
    assert_eq!(s.get("k"), None);
    assert_eq!(s.ttl("k"), Ttl::Missing);
    assert!(s.is_empty());
    s.set_with_ttl("k", 1, MIN);
    s.set_with_ttl("k", 2, ZERO);
    assert!(!s.exists("k"));
    assert_eq!(s.len(), 0);
    s.set("p", 1);
    s.set_with_ttl("p", 2, ZERO);
    assert!(
        !s.exists("p"),
        "a persistent key is not made immortal by a zero TTL"
    );
    assert_not_an_expiry(&s, &heard);
}

#[test]
fn expire_zero_removes_a_live_key_and_says_so() {
    let (s, heard) = store();
    assert!(!s.expire("missing", ZERO));
    s.set("k", 1);
    assert!(s.expire("k", ZERO), "true: the key was live");
    assert_eq!(s.ttl("k"), Ttl::Missing);
    assert!(!s.expire("k", ZERO));
    s.set_with_ttl("t", 1, MIN);
    assert!(s.expire("t", ZERO));
    assert!(s.is_empty());
    assert_not_an_expiry(&s, &heard);
}

#[test]
fn get_and_expire_slides_the_deadline_and_zero_takes_the_key() {
    let clock = TestClock::new();
    let s = Store::builder()
        .test_clock(clock.clone())
        .record_stats(true)
        .build();
    assert_eq!(s.get_and_expire("k", MIN), None);
    s.set_with_ttl("k", "v", Duration::from_secs(10));
    clock.advance(Duration::from_secs(9));
    assert_eq!(s.get_and_expire("k", MIN), Some("v".into()));
    assert_eq!(s.ttl("k"), Ttl::Expires(MIN));
    clock.advance(Duration::from_secs(59));
    assert!(s.exists("k"), "the slid deadline holds");
    s.set("p", 1);
    assert_eq!(s.get_and_expire("p", MIN), Some(1.into()));
    assert_eq!(
        s.ttl("p"),
        Ttl::Expires(MIN),
        "a persistent key gets a deadline"
    );
    assert_eq!(s.get_and_expire("k", ZERO), Some("v".into()));
    assert_eq!(s.ttl("k"), Ttl::Missing);
    // One hit or miss per call.
    let st = s.stats();
    assert_eq!((st.hits, st.misses), (3, 1));
    assert_eq!(st.expired, 0);
    // A missing key is left missing (no deadline on nothing).
    assert_eq!(s.get_and_expire("none", ZERO), None);
    assert!(!s.exists("none"));
}

#[test]
fn conditional_writes_with_a_zero_ttl_return_as_for_any_ttl() {
    let (s, heard) = store();
    // set_if_absent on a key that is not live: true, and nobody sees the value.
    assert!(s.set_if_absent("lock", "me", Some(ZERO)));
    assert!(!s.exists("lock"), "a zero TTL made the lock immortal");
    assert!(s.set_if_absent("lock", "me", Some(ZERO)), "still not live");
    // On a live key: false, and the key is untouched.
    s.set_with_ttl("held", "other", MIN);
    assert!(!s.set_if_absent("held", "me", Some(ZERO)));
    assert_eq!(s.get("held"), Some("other".into()));
    assert_eq!(s.ttl("held"), Ttl::Expires(MIN));
    // None: no expiry.
    assert!(s.set_if_absent("forever", 1, None));
    assert_eq!(s.ttl("forever"), Ttl::Persistent);
    // swap: the old value back, the key gone.
    assert_eq!(s.swap("held", "new", Some(ZERO)), Some("other".into()));
    assert!(!s.exists("held"));
    assert_eq!(s.swap("held", "new", Some(ZERO)), None);
    assert_eq!(s.swap("s", 1, None), None);
    assert_eq!(s.ttl("s"), Ttl::Persistent);
    // incr_with_ttl: a key it creates is expired at once, a live one counts.
    assert_eq!(s.incr_with_ttl("c", 5, ZERO), Ok(5));
    assert!(!s.exists("c"));
    s.set_with_ttl("c", 1, MIN);
    assert_eq!(s.incr_with_ttl("c", 5, ZERO), Ok(6));
    assert_eq!(s.ttl("c"), Ttl::Expires(MIN));
    // compute: PutWithTtl(ZERO) removes, Expire(ZERO) removes a live key.
    s.compute("c", |_| {
        (Compute::PutWithTtl(Value::Int(9), Some(ZERO)), ())
    });
    assert!(!s.exists("c"));
    s.set("c", 1);
    s.compute("c", |_| (Compute::Expire(ZERO), ()));
    assert!(!s.exists("c"));
    s.compute("c", |_| (Compute::PutWithTtl(Value::Int(9), None), ()));
    assert_eq!(s.ttl("c"), Ttl::Persistent);
    assert_not_an_expiry(&s, &heard);
}

#[test]
fn a_load_with_a_zero_ttl_returns_its_value_and_stores_nothing() {
    let (s, heard) = store();
    let v = s.get_or_insert_with("cache", Some(ZERO), || "computed");
    assert_eq!(v, "computed".into());
    assert!(!s.exists("cache"));
    let l = s.load_with("cache", Some(ZERO), || 2);
    assert_eq!((l.value, l.source), (2.into(), Source::Loaded));
    assert!(!s.exists("cache"));
    let r: Result<Value, &str> = s.try_get_or_insert_with("cache", Some(ZERO), || Ok(3));
    assert_eq!(r, Ok(3.into()));
    assert!(!s.exists("cache"));
    assert_eq!(
        s.get_or_insert_with("cache", None, || 4),
        4.into(),
        "None: stored with no expiry"
    );
    assert_eq!(s.ttl("cache"), Ttl::Persistent);
    assert_not_an_expiry(&s, &heard);
}

/// Readers racing zero-TTL writes of a marker value never see it, whichever method wrote it.
#[test]
fn no_concurrent_reader_ever_sees_a_zero_ttl_value() {
    let s = Store::new();
    let marker = Value::from("expired-at-once");
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (s, stop, seen, reads, marker) = (
                s.clone(),
                stop.clone(),
                seen.clone(),
                reads.clone(),
                marker.clone(),
            );
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for k in ["a", "b"] {
                        if s.get(k).as_ref() == Some(&marker) {
                            seen.fetch_add(1, Ordering::Relaxed);
                        }
                        if s.get_with(k, |v| *v == marker) == Some(true) {
                            seen.fetch_add(1, Ordering::Relaxed);
                        }
                        if s.keys("*")
                            .unwrap()
                            .iter()
                            .any(|key| s.get(key).as_ref() == Some(&marker))
                        {
                            seen.fetch_add(1, Ordering::Relaxed);
                        }
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for i in 0..20_000 {
        let k = if i % 2 == 0 { "a" } else { "b" };
        s.set(k, i);
        match i % 5 {
            0 => s.set_with_ttl(k, marker.clone(), ZERO),
            1 => {
                s.swap(k, marker.clone(), Some(ZERO));
            }
            2 => {
                s.delete(k);
                s.set_if_absent(k, marker.clone(), Some(ZERO));
            }
            3 => {
                s.delete(k);
                s.get_or_insert_with(k, Some(ZERO), || marker.clone());
            }
            _ => {
                s.compute(k, |_| (Compute::PutWithTtl(marker.clone(), Some(ZERO)), ()));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0, "the readers never ran");
    assert_eq!(
        seen.load(Ordering::Relaxed),
        0,
        "a reader saw a zero-TTL value"
    );
    assert!(s.is_empty(), "every zero-TTL write left the key absent");
}

/// The same rules through `AsyncKv`, on `SharedKv` over a `Store` (the Redis conformance suite
/// runs them on Redis).
#[test]
fn the_rule_holds_through_async_kv_and_shared_kv() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let kv = SharedKv::new(Store::new());
    rt.block_on(async {
        kv.set("k", 1).await.unwrap();
        kv.set_with_ttl("k", 2, ZERO).await.unwrap();
        assert!(!kv.exists("k").await.unwrap());
        assert!(kv.set_if_absent("k", 1, Some(ZERO)).await.unwrap());
        assert!(!kv.exists("k").await.unwrap());
        kv.set("k", 1).await.unwrap();
        assert!(kv.expire("k", ZERO).await.unwrap());
        assert_eq!(kv.ttl("k").await.unwrap(), Ttl::Missing);
        kv.set("k", 1).await.unwrap();
        assert_eq!(kv.swap("k", 2, Some(ZERO)).await.unwrap(), Some(1.into()));
        assert!(kv.is_empty().await.unwrap());
        assert_eq!(kv.incr_with_ttl("c", 3, ZERO).await.unwrap(), 3);
        assert!(!kv.exists("c").await.unwrap());
        kv.set("g", "v").await.unwrap();
        assert_eq!(kv.get_and_expire("g", MIN).await.unwrap(), Some("v".into()));
        assert_eq!(kv.ttl("g").await.unwrap().as_secs(), 60);
        assert_eq!(
            kv.get_and_expire("g", ZERO).await.unwrap(),
            Some("v".into())
        );
        assert!(!kv.exists("g").await.unwrap());
        let l = kv.load_with("l", Some(ZERO), || async { 5 }).await.unwrap();
        assert_eq!((l.value, l.source), (5.into(), Source::Loaded));
        assert!(!kv.exists("l").await.unwrap());
    });
}

/// Zero-TTL writes racing other writers on the same keys: every write method retries correctly
/// when it loses a race (a zero-TTL `swap` whose delete lost its compare-and-swap decides again
/// with its value), nothing panics, and when the racing stops the last writes decide the state.
#[test]
fn zero_ttl_writes_racing_other_writers() {
    let s = Store::new();
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (s, stop, rounds) = (s.clone(), stop.clone(), rounds.clone());
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) || i < 2_000 {
                    let k = if i % 8 == 0 { "b" } else { "a" };
                    match (i + t) % 6 {
                        0 => {
                            s.swap(k, i as i64, Some(ZERO));
                        }
                        1 => {
                            s.set_if_absent(k, i as i64, Some(ZERO));
                        }
                        2 => s.set(k, i as i64),
                        3 => {
                            let _ = s.incr_with_ttl(k, 1, ZERO);
                        }
                        4 => {
                            s.compute(k, |_| (Compute::PutWithTtl(Value::Null, Some(ZERO)), ()));
                        }
                        _ => {
                            s.get_and_expire(k, ZERO);
                        }
                    }
                    i += 1;
                }
                rounds.fetch_add(i as usize, Ordering::Relaxed);
            })
        })
        .collect();
    thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("a writer panicked");
    }
    assert!(rounds.load(Ordering::Relaxed) >= 8_000);
    for k in ["a", "b"] {
        s.swap(k, 1, Some(ZERO));
        assert!(!s.exists(k));
    }
    assert_eq!(s.len(), 0);
}
