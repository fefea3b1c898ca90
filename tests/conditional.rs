//! The conditional writes and single-flight loads, row by row as their docs state them:
//! `set_if_absent`, `swap`, `take`, `compare_and_set`, `compare_and_delete`, `incr_with_ttl`,
//! `update`, `compute`, and `get_or_insert_with` with its `try_`, `_async` and `load_with` forms.
//! Expiry counts as absence everywhere (a [`TestClock`] moves time by hand).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use scriptling_kv::{Compute, Error, Source, Store, Ttl, Value};

#[path = "support/clocked.rs"]
mod clocked;
use clocked::clocked;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn set_if_absent_stores_only_when_the_key_is_not_live() {
    let (s, clock) = clocked();
    assert!(s.set_if_absent("k", 1, Some(secs(10))));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(10)));
    assert!(!s.set_if_absent("k", 2, Some(secs(99))));
    assert_eq!(s.get("k"), Some(Value::Int(1)), "the live value is kept");
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(10)), "and its TTL");
    // An expired key is absent: set_if_absent takes it.
    clock.advance(secs(10));
    assert!(s.set_if_absent("k", 3, None));
    assert_eq!(s.get("k"), Some(Value::Int(3)));
    assert_eq!(s.ttl("k"), Ttl::Persistent, "ZERO means no expiry");
    // A live key without a TTL is live.
    assert!(!s.set_if_absent("k", 4, Some(secs(1))));
    // After a delete it is absent again.
    assert!(s.delete("k"));
    assert!(s.set_if_absent("k", 5, Some(secs(1))));
}

#[test]
fn set_if_absent_racing_threads_have_exactly_one_winner() {
    for round in 0..50 {
        let s = Store::new();
        let barrier = Arc::new(Barrier::new(8));
        let winners: Vec<bool> = (0..8)
            .map(|t| {
                let (s, barrier) = (s.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    s.set_if_absent("lock", t, Some(secs(60)))
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let won: Vec<usize> = (0..8).filter(|&t| winners[t]).collect();
        assert_eq!(won.len(), 1, "round {round}: winners {won:?}");
        assert_eq!(s.get("lock"), Some(Value::Int(won[0] as i64)));
    }
}

#[test]
fn swap_stores_like_set_with_ttl_and_returns_the_live_value_it_replaced() {
    let (s, clock) = clocked();
    assert_eq!(s.swap("k", "a", Some(secs(5))), None);
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(5)));
    assert_eq!(s.swap("k", "b", None), Some(Value::from("a")));
    assert_eq!(s.ttl("k"), Ttl::Persistent, "the TTL is the new one");
    assert_eq!(s.swap("k", "c", Some(secs(1))), Some(Value::from("b")));
    clock.advance(secs(1));
    assert_eq!(
        s.swap("k", "d", Some(secs(1))),
        None,
        "an expired value is not returned"
    );
    assert_eq!(s.get("k"), Some(Value::from("d")));
    // A counter's current value, including in-place increments.
    s.set("n", 1);
    s.incr("n", 41).unwrap();
    assert_eq!(s.swap("n", 0, None), Some(Value::Int(42)));
}

#[test]
fn take_removes_a_live_key_and_returns_its_value() {
    let (s, clock) = clocked();
    assert_eq!(s.take("k"), None);
    s.set_with_ttl("k", vec![1, 2], secs(2));
    assert_eq!(s.take("k"), Some(Value::from(vec![1, 2])));
    assert_eq!(s.get("k"), None);
    assert_eq!(s.take("k"), None);
    s.set_with_ttl("k", 1, secs(2));
    clock.advance(secs(2));
    assert_eq!(s.take("k"), None, "expired");
    // Racing takers: exactly one gets the token.
    for _ in 0..50 {
        let s = Store::new();
        s.set("token", "t");
        let barrier = Arc::new(Barrier::new(4));
        let got: usize = (0..4)
            .map(|_| {
                let (s, barrier) = (s.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    s.take("token").is_some()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum();
        assert_eq!(got, 1);
    }
}

#[test]
fn compare_and_set_replaces_only_an_equal_live_value_and_keeps_the_ttl() {
    let (s, clock) = clocked();
    assert!(!s.compare_and_set("k", &Value::Null, 1), "missing");
    s.set_with_ttl("k", "pending", secs(10));
    assert!(!s.compare_and_set("k", &"running".into(), "done"));
    assert!(s.compare_and_set("k", &"pending".into(), "running"));
    assert_eq!(s.get("k"), Some(Value::from("running")));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(10)), "TTL kept");
    // Value's PartialEq: Int(1) is not Float(1.0); NaN never matches.
    s.set("n", 1);
    assert!(!s.compare_and_set("n", &Value::Float(1.0), 2));
    s.set("f", f64::NAN);
    assert!(!s.compare_and_set("f", &Value::Float(f64::NAN), 2));
    s.set("z", 0.0);
    assert!(s.compare_and_set("z", &Value::Float(-0.0), "zero"));
    // Expired: no match.
    s.set_with_ttl("e", 1, secs(1));
    clock.advance(secs(1));
    assert!(!s.compare_and_set("e", &Value::Int(1), 2));
    assert_eq!(s.get("e"), None);
    // A counter after in-place increments compares by its current value.
    s.set("c", 1);
    s.incr("c", 1).unwrap();
    assert!(!s.compare_and_set("c", &Value::Int(1), 0));
    assert!(s.compare_and_set("c", &Value::Int(2), 0));
    assert_eq!(s.incr("c", 5), Ok(5));
}

#[test]
fn compare_and_delete_releases_only_your_own_lock() {
    let (s, clock) = clocked();
    assert!(s.set_if_absent("lock", "me", Some(secs(10))));
    assert!(!s.compare_and_delete("lock", &"you".into()));
    assert!(s.exists("lock"));
    assert!(s.compare_and_delete("lock", &"me".into()));
    assert!(!s.exists("lock"));
    assert!(!s.compare_and_delete("lock", &"me".into()), "already gone");
    // Expired, then taken by someone else: my release must not delete theirs.
    assert!(s.set_if_absent("lock", "me", Some(secs(1))));
    clock.advance(secs(1));
    assert!(s.set_if_absent("lock", "you", Some(secs(10))));
    assert!(!s.compare_and_delete("lock", &"me".into()));
    assert_eq!(s.get("lock"), Some(Value::from("you")));
}

#[test]
fn incr_with_ttl_gives_a_key_it_creates_the_ttl_and_keeps_a_live_keys() {
    let (s, clock) = clocked();
    assert_eq!(s.incr_with_ttl("rate", 1, secs(60)), Ok(1));
    assert_eq!(s.ttl("rate"), Ttl::Expires(secs(60)));
    clock.advance(secs(10));
    assert_eq!(s.incr_with_ttl("rate", 1, secs(60)), Ok(2));
    assert_eq!(
        s.ttl("rate"),
        Ttl::Expires(secs(50)),
        "a live key keeps its TTL"
    );
    clock.advance(secs(50));
    assert_eq!(s.incr_with_ttl("rate", 1, secs(60)), Ok(1), "new window");
    assert_eq!(s.ttl("rate"), Ttl::Expires(secs(60)));
    // A live key without a TTL keeps having none.
    s.set("n", 5);
    assert_eq!(s.incr_with_ttl("n", 1, secs(60)), Ok(6));
    assert_eq!(s.ttl("n"), Ttl::Persistent);
    // ZERO: a key it would create is expired at once (nothing stored, `delta` returned); a live
    // key still counts and keeps its TTL.
    assert_eq!(s.incr_with_ttl("z", 3, Duration::ZERO), Ok(3));
    assert_eq!(s.ttl("z"), Ttl::Missing);
    assert_eq!(s.incr_with_ttl("n", 1, Duration::ZERO), Ok(7));
    assert_eq!(s.ttl("n"), Ttl::Persistent);
    // Errors as `incr`, store unchanged.
    s.set_with_ttl("s", "text", secs(5));
    assert_eq!(s.incr_with_ttl("s", 1, secs(60)), Err(Error::NotAnInteger));
    assert_eq!(s.ttl("s"), Ttl::Expires(secs(5)));
    s.set("max", i64::MAX);
    assert_eq!(s.incr_with_ttl("max", 1, secs(60)), Err(Error::Overflow));
    assert_eq!(s.get("max"), Some(Value::Int(i64::MAX)));
    assert_eq!(s.ttl("max"), Ttl::Persistent);
}

#[test]
fn incr_with_ttl_from_many_threads_counts_every_request_in_one_window() {
    let s = Store::new();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            thread::spawn(move || {
                for _ in 0..1000 {
                    s.incr_with_ttl("rate", 1, secs(60)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.get("rate"), Some(Value::Int(8000)));
    assert!(matches!(s.ttl("rate"), Ttl::Expires(d) if d <= secs(60) && d > secs(50)));
}

#[test]
fn update_replaces_a_live_value_keeping_its_ttl() {
    let (s, clock) = clocked();
    let mut calls = 0;
    assert_eq!(
        s.update("k", |v| {
            calls += 1;
            v.clone()
        }),
        None
    );
    assert_eq!(calls, 0, "f is not called on a missing key");
    s.set_with_ttl("k", 1, secs(10));
    assert_eq!(
        s.update("k", |v| Value::Int(v.as_int().unwrap() * 10)),
        Some(Value::Int(10))
    );
    assert_eq!(s.get("k"), Some(Value::Int(10)));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(10)));
    clock.advance(secs(10));
    assert_eq!(s.update("k", |_| Value::Null), None, "expired");
    // Concurrent updates never lose one (f may run more than once).
    let s = Store::new();
    s.set("list", Vec::<Value>::new());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            thread::spawn(move || {
                for i in 0..200 {
                    s.update("list", |v| {
                        let mut l = v.as_list().unwrap().to_vec();
                        l.push(Value::Int(t * 1000 + i));
                        Value::List(l)
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.get("list").unwrap().as_list().unwrap().len(), 800);
}

#[test]
fn compute_can_keep_put_expire_or_delete() {
    let (s, clock) = clocked();
    // Missing: f sees None.
    let seen = s.compute("k", |cur| (Compute::Keep, cur.is_none()));
    assert!(seen);
    assert!(!s.exists("k"));
    s.compute("k", |_| {
        (Compute::PutWithTtl(Value::Int(1), Some(secs(30))), ())
    });
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(30)));
    // Put keeps the TTL; the closure sees the value and the TTL.
    clock.advance(secs(10));
    let ttl = s.compute("k", |cur| {
        let cur = cur.unwrap();
        (
            Compute::Put(Value::Int(2)),
            (cur.value().clone(), cur.ttl()),
        )
    });
    assert_eq!(ttl, (Value::Int(1), Some(secs(20))));
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(20)));
    // Expire: the TTL only, from now; Persist removes it; Expire(ZERO) removes the key.
    s.compute("k", |_| (Compute::Expire(secs(5)), ()));
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(5)));
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    s.compute("k", |_| (Compute::Persist, ()));
    assert_eq!(s.ttl("k"), Ttl::Persistent);
    s.compute("k", |_| (Compute::Expire(Duration::ZERO), ()));
    assert_eq!(s.ttl("k"), Ttl::Missing);
    s.compute("k", |_| (Compute::PutWithTtl(Value::Int(2), None), ()));
    assert_eq!(s.ttl("k"), Ttl::Persistent);
    // Expire on a missing key does nothing.
    s.compute("missing", |_| (Compute::Expire(secs(5)), ()));
    assert!(!s.exists("missing"));
    // Delete.
    s.compute("k", |_| (Compute::Delete, ()));
    assert!(!s.exists("k"));
    assert!(s.is_empty());
    // Put on a missing key: no TTL.
    s.compute("p", |_| (Compute::Put(Value::Int(7)), ()));
    assert_eq!(s.ttl("p"), Ttl::Persistent);
}

#[test]
fn compute_extends_a_lock_only_if_it_still_holds_my_token() {
    let (s, clock) = clocked();
    let extend = |s: &Store, token: &str| {
        s.compute("lock", |cur| match cur {
            Some(cur) if cur.value().as_str() == Some(token) => (Compute::Expire(secs(30)), true),
            _ => (Compute::Keep, false),
        })
    };
    assert!(s.set_if_absent("lock", "a", Some(secs(10))));
    clock.advance(secs(9));
    assert!(extend(&s, "a"));
    assert_eq!(s.ttl("lock"), Ttl::Expires(secs(30)));
    assert!(!extend(&s, "b"));
    clock.advance(secs(30));
    assert!(!extend(&s, "a"), "expired: not mine any more");
}

#[test]
fn get_or_insert_with_loads_once_then_hits() {
    let (s, clock) = clocked();
    let calls = AtomicUsize::new(0);
    let load = || {
        calls.fetch_add(1, Ordering::SeqCst);
        "v"
    };
    assert_eq!(
        s.get_or_insert_with("k", Some(secs(5)), load),
        Value::from("v")
    );
    assert_eq!(s.ttl("k"), Ttl::Expires(secs(5)));
    assert_eq!(
        s.get_or_insert_with("k", Some(secs(5)), load),
        Value::from("v")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    clock.advance(secs(5));
    assert_eq!(
        s.get_or_insert_with("k", Some(secs(5)), load),
        Value::from("v")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "expired: loaded again");
    // The sources.
    assert_eq!(s.load_with("k", Some(secs(5)), || 0).source, Source::Hit);
    assert_eq!(
        s.load_with("new", Some(secs(5)), || 0).source,
        Source::Loaded
    );
}

#[test]
fn a_failed_load_stores_nothing_and_returns_the_error_to_its_caller_only() {
    let s = Store::new();
    let r: Result<Value, String> = s.try_get_or_insert_with("k", Some(secs(5)), || {
        Err::<i64, _>("upstream down".to_string())
    });
    assert_eq!(r, Err("upstream down".to_string()));
    assert!(!s.exists("k"));
    let r: Result<Value, String> = s.try_get_or_insert_with("k", Some(secs(5)), || Ok(1));
    assert_eq!(r, Ok(Value::Int(1)));
    // A panicking loader propagates its panic and stores nothing; the next call loads.
    let s2 = s.clone();
    let panicked = thread::spawn(move || {
        s2.get_or_insert_with("p", Some(secs(5)), || -> Value {
            panic!("loader panicked")
        })
    })
    .join();
    assert!(panicked.is_err());
    assert!(!s.exists("p"));
    assert_eq!(
        s.get_or_insert_with("p", Some(secs(5)), || 2),
        Value::Int(2)
    );
}

#[test]
fn concurrent_misses_run_one_init_and_all_get_its_value() {
    for round in 0..20 {
        let s = Store::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(16));
        let results: Vec<(Value, Source)> = (0..16)
            .map(|t| {
                let (s, calls, barrier) = (s.clone(), calls.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let loaded = s.load_with("k", Some(secs(60)), || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        // Slow enough that the others arrive while it runs.
                        thread::sleep(Duration::from_millis(20));
                        format!("from {t}")
                    });
                    (loaded.value, loaded.source)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "round {round}");
        let first = &results[0].0;
        assert!(results.iter().all(|(v, _)| v == first), "one value for all");
        assert_eq!(
            results
                .iter()
                .filter(|(_, src)| *src == Source::Loaded)
                .count(),
            1
        );
        assert_eq!(s.get("k"), Some(first.clone()));
    }
}

#[test]
fn a_failing_loader_hands_over_to_a_waiter() {
    let s = Store::new();
    let barrier = Arc::new(Barrier::new(2));
    let started = Arc::new(Barrier::new(2));
    let loader = {
        let (s, barrier, started) = (s.clone(), barrier.clone(), started.clone());
        thread::spawn(move || {
            s.try_get_or_insert_with("k", Some(secs(5)), || {
                started.wait();
                barrier.wait(); // the waiter is waiting now (or about to)
                thread::sleep(Duration::from_millis(20));
                Err::<Value, _>("failed")
            })
        })
    };
    started.wait();
    let waiter = {
        let s = s.clone();
        thread::spawn(move || s.load_with("k", Some(secs(5)), || "second"))
    };
    barrier.wait();
    assert_eq!(loader.join().unwrap(), Err("failed"));
    let got = waiter.join().unwrap();
    assert_eq!(got.value, Value::from("second"));
    assert_eq!(got.source, Source::Loaded, "the waiter became the loader");
    assert_eq!(s.get("k"), Some(Value::from("second")));
}

#[test]
fn a_write_during_a_load_wins() {
    let s = Store::new();
    let s2 = s.clone();
    let loaded = s.load_with("k", Some(secs(5)), move || {
        s2.set("k", "written meanwhile");
        "loaded"
    });
    assert_eq!(loaded.value, Value::from("written meanwhile"));
    assert_eq!(loaded.source, Source::Loaded);
    assert_eq!(s.get("k"), Some(Value::from("written meanwhile")));
    assert_eq!(
        s.ttl("k"),
        Ttl::Persistent,
        "the write's TTL, not the load's"
    );
}

#[test]
fn readers_and_writers_never_wait_for_a_load() {
    let s = Store::new();
    let in_init = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let loader = {
        let (s, in_init, release) = (s.clone(), in_init.clone(), release.clone());
        thread::spawn(move || {
            s.get_or_insert_with("k", Some(secs(5)), || {
                in_init.wait();
                release.wait();
                "loaded"
            })
        })
    };
    in_init.wait();
    // The load is in flight: plain operations answer at once.
    assert_eq!(s.get("k"), None);
    assert!(!s.exists("k"));
    assert_eq!(s.ttl("k"), Ttl::Missing);
    assert_eq!(s.keys("*").unwrap(), Vec::<String>::new());
    s.set("other", 1);
    assert_eq!(s.incr("other", 1), Ok(2));
    release.wait();
    assert_eq!(loader.join().unwrap(), Value::from("loaded"));
}

#[test]
fn async_loads_coalesce_without_an_executor_of_ours() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = Store::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (s, calls) = (s.clone(), calls.clone());
                tokio::spawn(async move {
                    s.load_with_async("k", Some(secs(60)), async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        "async"
                    })
                    .await
                })
            })
            .collect();
        let mut loaded = 0;
        for t in tasks {
            let l = t.await.unwrap();
            assert_eq!(l.value, Value::from("async"));
            loaded += usize::from(l.source == Source::Loaded);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(loaded, 1);
        // A cancelled loader hands over: drop its future mid-init.
        let s2 = s.clone();
        let cancelled = tokio::spawn(async move {
            s2.get_or_insert_with_async("c", Some(secs(60)), async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move {
                s.try_get_or_insert_with_async("c", Some(secs(60)), async { Ok::<_, ()>("after") })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancelled.abort();
        let got = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the waiter was handed over within 10 s")
            .unwrap();
        assert_eq!(got, Ok(Value::from("after")));
    });
}

/// The async forms' futures are `Send` when `init` is (so they can be spawned).
#[test]
fn async_load_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let s = Store::new();
    let f = s.get_or_insert_with_async("k", Some(secs(1)), async { 1 });
    assert_send(&f);
    let f = s.try_load_with_async("k", Some(secs(1)), async { Ok::<_, String>(1) });
    assert_send(&f);
}
