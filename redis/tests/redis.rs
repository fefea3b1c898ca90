//! What only a Redis backend has: namespaces, the stored bytes as other programs see them,
//! authentication, connection errors, and single-flight loads within and across processes.
//! Needs the servers of `scripts/with-redis.sh` (skipped without them, failing in CI).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{connect, connect_cluster, run, unique_namespace};
use redis::AsyncCommands;
use scriptling_kv::{AsyncKv, Error, LoadError, Source, Ttl, Value};
use scriptling_kv_redis::RedisStore;

fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}

#[test]
fn redis_store_is_clone_send_sync_debug() {
    assert_traits::<RedisStore>();
    assert_traits::<scriptling_kv_redis::RedisStoreBuilder>();
}

/// Namespaces whose names a careless SCAN pattern would confuse: glob metacharacters, one
/// namespace a prefix of another.
fn tricky_namespaces(base: &str) -> Vec<String> {
    [
        "", "-a*b[", "-aZZb[", "-a?b", "-axb", "-[ab]", "-a", "-a\\", "-ab", "-a]",
    ]
    .iter()
    .map(|s| format!("{base}{s}"))
    .collect()
}

async fn namespaces_are_isolated(stores: Vec<RedisStore>) {
    for (i, s) in stores.iter().enumerate() {
        for k in ["k1", "k2", "*", "[x]"] {
            s.set(k, i as i64).await.unwrap();
        }
        s.set(&format!("own{i}"), true).await.unwrap();
    }
    for (i, s) in stores.iter().enumerate() {
        let keys = s.keys("*").await.unwrap();
        assert_eq!(
            keys,
            ["*", "[x]", "k1", "k2", &format!("own{i}")],
            "{}",
            s.namespace()
        );
        assert_eq!(s.len().await, Ok(5), "{}", s.namespace());
        assert_eq!(s.get("k1").await.unwrap(), Some(Value::Int(i as i64)));
        assert_eq!(s.keys("own*").await.unwrap(), [format!("own{i}")]);
    }
    // Clearing one namespace removes nothing of the others.
    for (i, s) in stores.iter().enumerate() {
        s.clear().await.unwrap();
        assert!(s.is_empty().await.unwrap(), "{}", s.namespace());
        for (j, t) in stores.iter().enumerate().skip(i + 1) {
            assert_eq!(
                t.len().await,
                Ok(5),
                "clearing {} touched {}",
                s.namespace(),
                t.namespace()
            );
            assert_eq!(t.get("k2").await.unwrap(), Some(Value::Int(j as i64)));
        }
    }
}

#[test]
fn namespaces_are_isolated_standalone() {
    let Some(url) = common::redis_url() else {
        return;
    };
    run(async {
        let mut stores = Vec::new();
        for ns in tricky_namespaces(&unique_namespace("ns")) {
            stores.push(connect(&url, &ns).await);
        }
        namespaces_are_isolated(stores).await;
    });
}

#[test]
fn namespaces_are_isolated_cluster() {
    let Some(nodes) = common::cluster_nodes() else {
        return;
    };
    run(async {
        let mut stores = Vec::new();
        for ns in tricky_namespaces(&unique_namespace("ns")) {
            stores.push(connect_cluster(&nodes, &ns).await);
        }
        namespaces_are_isolated(stores).await;
    });
}

#[test]
fn invalid_namespaces_and_urls_are_backend_errors() {
    let Some(url) = common::redis_url() else {
        return;
    };
    run(async {
        for ns in ["", "a:b", ":"] {
            let err = RedisStore::connect(&url, ns).await.unwrap_err();
            assert!(
                matches!(&err, Error::Backend { backend, reason } if backend == "redis" && reason.contains("namespace")),
                "{err}"
            );
        }
        let err = RedisStore::connect("http://127.0.0.1:1", "ns")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Backend { .. }), "{err}");
    });
}

/// A raw redis-rs connection, to see what other programs see.
async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[test]
fn stored_bytes_are_the_documented_encoding() {
    let Some(url) = common::redis_url() else {
        return;
    };
    run(async {
        let ns = unique_namespace("enc");
        let kv = connect(&url, &ns).await;
        let mut r = raw(&url).await;
        let rk = |k: &str| format!("{ns}:{k}");

        kv.set("int", -42).await.unwrap();
        kv.set("str", "5").await.unwrap();
        kv.set("bytes", Value::Bytes(vec![0xff, 0])).await.unwrap();
        kv.set("float", -0.0).await.unwrap();
        kv.set("list", vec![Value::Int(-2), Value::from("ab")])
            .await
            .unwrap();
        let got = |k: &'static str| {
            let mut r = r.clone();
            let key = rk(k);
            async move { r.get::<_, Vec<u8>>(key).await.unwrap() }
        };
        assert_eq!(got("int").await, b"-42");
        assert_eq!(got("str").await, b"\x855");
        assert_eq!(got("bytes").await, [0x86, 0xff, 0]);
        assert_eq!(got("float").await, [0x84, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(got("list").await, [0x87, 2, 0x83, 3, 0x85, 2, b'a', b'b']);

        // Other programs count with INCRBY on our integers, which keep their TTL ...
        kv.set_with_ttl("hits", 10, Duration::from_secs(60))
            .await
            .unwrap();
        let n: i64 = r.incr(rk("hits"), 5).await.unwrap();
        assert_eq!(n, 15);
        assert_eq!(kv.get("hits").await.unwrap(), Some(Value::Int(15)));
        assert_eq!(kv.ttl("hits").await.unwrap().as_secs(), 60);
        // ... and cannot on anything else.
        let e: redis::RedisResult<i64> = r.incr(rk("str"), 1).await;
        assert!(e.is_err());

        // Bytes another program wrote that are not this encoding: a clear error, never a guess.
        let _: () = r.set(rk("foreign"), "hello").await.unwrap();
        let err = kv.get("foreign").await.unwrap_err();
        assert!(
            matches!(&err, Error::Backend { reason, .. } if reason.contains("not a scriptling-kv value")),
            "{err}"
        );
        // A non-canonical integer is not an integer for INCRBY either.
        let _: () = r.set(rk("zeros"), "007").await.unwrap();
        assert_eq!(kv.incr("zeros", 1).await, Err(Error::NotAnInteger));
        // Another Redis type under our key: the server's WRONGTYPE, as a backend error.
        let _: () = r.hset(rk("hash"), "f", "v").await.unwrap();
        let err = kv.get("hash").await.unwrap_err();
        assert!(
            matches!(&err, Error::Backend { reason, .. } if reason.contains("WRONGTYPE")),
            "{err}"
        );
        assert!(kv.keys("*").await.unwrap().contains(&"hash".to_owned()));
        // A key that is not UTF-8 in our namespace is not listed.
        let mut bad = format!("{ns}:").into_bytes();
        bad.push(0xff);
        let _: () = r.set(bad.clone(), "x").await.unwrap();
        assert!(!kv
            .keys("*")
            .await
            .unwrap()
            .iter()
            .any(|k| k.contains('\u{fffd}')));
        kv.clear().await.unwrap();
        let left: Option<String> = r.get(bad).await.unwrap();
        assert_eq!(left, None, "clear removes every key of the namespace");
    });
}

#[test]
fn ttls_are_sent_as_milliseconds_and_zero_is_expired_at_once() {
    let Some(url) = common::redis_url() else {
        return;
    };
    run(async {
        let ns = unique_namespace("ttl");
        let kv = connect(&url, &ns).await;
        let mut r = raw(&url).await;
        kv.set_with_ttl("k", 1, Duration::from_micros(1500))
            .await
            .unwrap();
        let pttl: i64 = r.pttl(format!("{ns}:k")).await.unwrap();
        assert!((0..=2).contains(&pttl), "1.5 ms rounds up to 2 ms: {pttl}");
        // A zero TTL is never sent as `PX 0` (which Redis rejects): the write removes the key.
        kv.set("z", 1).await.unwrap();
        kv.set_with_ttl("z", 2, Duration::ZERO).await.unwrap();
        let held: bool = r.exists(format!("{ns}:z")).await.unwrap();
        assert!(!held, "set_with_ttl(ZERO) left the key on the server");
        kv.set("z", 1).await.unwrap();
        assert!(kv.expire("z", Duration::ZERO).await.unwrap());
        let held: bool = r.exists(format!("{ns}:z")).await.unwrap();
        assert!(!held, "expire(ZERO) left the key on the server");
        assert_eq!(kv.ttl("z").await.unwrap(), Ttl::Missing);
        kv.clear().await.unwrap();
    });
}

#[test]
fn password_server() {
    let Some(url) = common::env("SCRIPTLING_KV_REDIS_AUTH_URL") else {
        return;
    };
    let Some(addr) = common::env("SCRIPTLING_KV_REDIS_AUTH_ADDR") else {
        return;
    };
    run(async {
        let ns = unique_namespace("auth");
        let kv = connect(&url, &ns).await;
        kv.set("k", 1).await.unwrap();
        assert_eq!(kv.get("k").await.unwrap(), Some(Value::Int(1)));
        kv.clear().await.unwrap();
        for bad in [
            format!("redis://:wrong-password@{addr}"),
            format!("redis://default:wrong-password@{addr}"),
            format!("redis://{addr}"),
        ] {
            let started = Instant::now();
            let err = RedisStore::connect(&bad, &ns).await.unwrap_err();
            let took = started.elapsed();
            eprintln!("{bad}: {err} ({took:?})");
            match &err {
                Error::Backend { backend, reason } => {
                    assert_eq!(backend, "redis");
                    assert!(reason.contains("authentication"), "{reason}");
                    assert!(
                        !reason.contains("wrong-password"),
                        "the password is not echoed"
                    );
                }
                other => panic!("{other:?}"),
            }
            assert!(took < Duration::from_secs(5), "{took:?}");
        }
    });
}

#[test]
fn nothing_listening_is_a_prompt_backend_error() {
    let Some(_) = common::redis_url() else { return };
    run(async {
        // A port nobody listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = Instant::now();
        let err = RedisStore::builder()
            .connection_timeout(Duration::from_millis(500))
            .connect(&format!("redis://127.0.0.1:{port}"), "ns")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Backend { .. }), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let err = RedisStore::builder()
            .connection_timeout(Duration::from_millis(500))
            .connect_cluster(&[&format!("redis://127.0.0.1:{port}")], "ns")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Backend { .. }), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
    });
}

// ----- single-flight loads -----

#[test]
fn concurrent_loads_of_one_key_run_once() {
    let Some(url) = common::redis_url() else {
        return;
    };
    run(async {
        let kv = connect(&url, &unique_namespace("sf")).await;
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let kv = kv.clone();
            let loads = loads.clone();
            tasks.push(tokio::spawn(async move {
                kv.load_with("page", Some(Duration::from_secs(60)), || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Value::from("rendered")
                })
                .await
                .unwrap()
            }));
        }
        let mut sources = Vec::new();
        for t in tasks {
            let loaded = t.await.unwrap();
            assert_eq!(loaded.value, Value::from("rendered"));
            sources.push(loaded.source);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        // One caller ran the load; the others waited for it, or (a task spawned after it
        // stored) found the value stored.
        let ran = sources.iter().filter(|&&s| s == Source::Loaded).count();
        assert_eq!(ran, 1, "{sources:?}");
        assert!(
            sources
                .iter()
                .all(|&s| matches!(s, Source::Loaded | Source::Coalesced | Source::Hit)),
            "{sources:?}"
        );
        assert_eq!(kv.ttl("page").await.unwrap().as_secs(), 60);
        // Now cached: no load.
        let v = common::get_or_insert(&kv, "page", Some(Duration::from_secs(60)), || async {
            panic!("loaded a cached key")
        })
        .await
        .unwrap();
        assert_eq!(v, Value::from("rendered"));
        let again = kv
            .load_with("page", Some(Duration::from_secs(60)), || async {
                panic!("loaded a cached key");
                #[allow(unreachable_code)]
                Value::Null
            })
            .await
            .unwrap();
        assert_eq!(again.source, Source::Hit);
        kv.clear().await.unwrap();
    });
}

#[test]
fn across_processes_the_first_stored_value_wins() {
    let Some(url) = common::redis_url() else {
        return;
    };
    run(async {
        // Two stores stand for two processes: each coalesces its own callers and runs one load;
        // both loads start before either stores, and everybody returns the first value stored.
        let ns = unique_namespace("sf2");
        let p1 = connect(&url, &ns).await;
        let p2 = connect(&url, &ns).await;
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let kv = if i % 2 == 0 { p1.clone() } else { p2.clone() };
            let who = if i % 2 == 0 { "p1" } else { "p2" };
            let delay = if i % 2 == 0 { 50 } else { 250 };
            let loads = loads.clone();
            tasks.push(tokio::spawn(async move {
                kv.load_with("k", None, || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    Value::from(who)
                })
                .await
                .unwrap()
            }));
        }
        let mut ran = 0;
        for t in tasks {
            let loaded = t.await.unwrap();
            assert_eq!(loaded.value, Value::from("p1"), "p1 stored first");
            ran += usize::from(loaded.source == Source::Loaded);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 2, "one load per process");
        assert_eq!(ran, 2, "p2's loader ran too: Loaded, with p1's value");
        assert_eq!(p2.get("k").await.unwrap(), Some(Value::from("p1")));
        assert_eq!(p2.ttl("k").await.unwrap(), Ttl::Persistent);
        p1.clear().await.unwrap();
    });
}

#[test]
fn a_failed_load_goes_to_its_caller_only_and_stores_nothing() {
    let Some(url) = common::redis_url() else {
        return;
    };
    run(async {
        let kv = connect(&url, &unique_namespace("sf3")).await;
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let kv = kv.clone();
            let loads = loads.clone();
            tasks.push(tokio::spawn(async move {
                kv.try_load_with("k", Some(Duration::from_secs(5)), || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err::<Value, _>(format!("database down ({i})"))
                })
                .await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                // Each caller gets its own loader's error, never another's.
                Err(LoadError::Init(e)) => assert_eq!(e, format!("database down ({i})")),
                other => panic!("{other:?}"),
            }
        }
        // A waiter whose loader failed retries and loads itself: one load per caller.
        assert_eq!(loads.load(Ordering::SeqCst), 10);
        assert!(!kv.exists("k").await.unwrap());
        // The next call loads again, and succeeds.
        let l = kv
            .try_load_with("k", Some(Duration::from_secs(5)), || async {
                Ok::<_, String>(Value::Int(1))
            })
            .await
            .unwrap();
        assert_eq!((l.value, l.source), (Value::Int(1), Source::Loaded));
        kv.clear().await.unwrap();
    });
}

#[test]
fn a_cancelled_load_is_taken_over_by_a_waiter() {
    let Some(url) = common::redis_url() else {
        return;
    };
    run(async {
        let kv = connect(&url, &unique_namespace("sf4")).await;
        let loads = Arc::new(AtomicUsize::new(0));
        let leader = {
            let kv = kv.clone();
            let loads = loads.clone();
            tokio::spawn(async move {
                common::get_or_insert(&kv, "k", None, || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Value::from("never")
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let waiter = {
            let kv = kv.clone();
            let loads = loads.clone();
            tokio::spawn(async move {
                common::get_or_insert(&kv, "k", None, || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Value::from("second")
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(loads.load(Ordering::SeqCst), 1, "the second caller waits");
        leader.abort();
        let v = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter took over")
            .unwrap()
            .unwrap();
        assert_eq!(v, Value::from("second"));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        kv.clear().await.unwrap();
    });
}

#[test]
fn single_flight_on_a_cluster() {
    let Some(nodes) = common::cluster_nodes() else {
        return;
    };
    run(async {
        let kv = connect_cluster(&nodes, &unique_namespace("sf5")).await;
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..30 {
            let kv = kv.clone();
            let loads = loads.clone();
            tasks.push(tokio::spawn(async move {
                let key = format!("k{}", i % 3);
                common::get_or_insert(&kv, &key, Some(Duration::from_secs(60)), || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Value::from(format!("v{}", i % 3))
                })
                .await
                .unwrap()
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Value::from(format!("v{}", i % 3)));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 3, "one load per key");
        kv.clear().await.unwrap();
    });
}
