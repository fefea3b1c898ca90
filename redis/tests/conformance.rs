//! One conformance suite, written once against `AsyncKv`, run on the in-process `Store`, on a
//! standalone Redis and on a 3-master Redis Cluster (`scripts/with-redis.sh` starts them; without
//! them the Redis runs fail, saying so).
//!
//! Every suite function gets two handles on the same empty data: `kv`, and `other` (for `Store`
//! a clone; for Redis a second, separately connected store with the same namespace, as a second
//! process would have). Each Redis test uses a fresh namespace and clears it at the end.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::same;
use scriptling_kv::{AsyncKv, Error, LoadError, Pattern, SharedKv, Source, Ttl, Value};

/// Generates, for each suite function, one test per backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod store {
            $(
                #[test]
                fn $name() {
                    super::common::run(async {
                        let kv = scriptling_kv::Store::new();
                        super::$name(&kv, &kv.clone()).await;
                    });
                }
            )*
        }
        mod redis {
            $(
                #[test]
                fn $name() {
                    let Some(url) = super::common::redis_url() else { return };
                    super::common::run(async {
                        let ns = super::common::unique_namespace(stringify!($name));
                        let kv = super::common::connect(&url, &ns).await;
                        let other = super::common::connect(&url, &ns).await;
                        super::$name(&kv, &other).await;
                        scriptling_kv::AsyncKv::clear(&kv).await.unwrap();
                    });
                }
            )*
        }
        mod cluster {
            $(
                #[test]
                fn $name() {
                    let Some(nodes) = super::common::cluster_nodes() else { return };
                    super::common::run(async {
                        let ns = super::common::unique_namespace(stringify!($name));
                        let kv = super::common::connect_cluster(&nodes, &ns).await;
                        let other = super::common::connect_cluster(&nodes, &ns).await;
                        super::$name(&kv, &other).await;
                        scriptling_kv::AsyncKv::clear(&kv).await.unwrap();
                    });
                }
            )*
        }
    };
}

conformance!(
    every_value_kind_round_trips,
    deep_values_round_trip,
    set_get_delete_exists,
    incr_counts_and_refuses,
    incr_with_ttl_sets_the_ttl_only_on_creation,
    ttls_are_milliseconds_rounded_up,
    expire_and_persist,
    expired_keys_are_gone_everywhere,
    keys_follow_the_glob_rules,
    invalid_patterns_are_errors,
    len_is_empty_and_clear,
    set_if_absent_swap_take,
    compare_and_set_uses_value_equality,
    compare_and_delete_uses_value_equality,
    update_keeps_the_ttl,
    race_set_if_absent_has_one_winner,
    race_take_has_one_winner,
    race_compare_and_set_has_one_winner,
    race_incr_loses_nothing,
    race_incr_with_ttl_loses_nothing,
    race_update_loses_nothing,
    a_zero_ttl_is_expired_at_once,
    get_and_expire_slides_the_deadline,
    loads_hit_load_and_coalesce,
    a_failed_load_goes_to_its_caller_only,
    a_cancelled_load_hands_over,
    shared_kv_forwards_every_operation,
);

/// The TTL rule: a zero `Duration` is expired at once, for every method that takes one; each
/// returns what it would for any other TTL, and nobody sees the value.
async fn a_zero_ttl_is_expired_at_once<K: AsyncKv>(kv: &K, other: &K) {
    const ZERO: Duration = Duration::ZERO;
    let min = Duration::from_secs(60);
    kv.set_with_ttl("a", 1, ZERO).await.unwrap();
    assert!(!other.exists("a").await.unwrap());
    kv.set("a", 1).await.unwrap();
    kv.set_with_ttl("a", 2, ZERO).await.unwrap();
    assert_eq!(
        other.get("a").await.unwrap(),
        None,
        "the old value is gone too"
    );
    assert!(kv.set_if_absent("lock", "me", Some(ZERO)).await.unwrap());
    assert!(
        !other.exists("lock").await.unwrap(),
        "a zero TTL made a lock immortal"
    );
    kv.set_with_ttl("held", "x", min).await.unwrap();
    assert!(!kv.set_if_absent("held", "me", Some(ZERO)).await.unwrap());
    assert_eq!(other.get("held").await.unwrap(), Some("x".into()));
    assert_eq!(
        kv.swap("held", "y", Some(ZERO)).await.unwrap(),
        Some("x".into())
    );
    assert!(!other.exists("held").await.unwrap());
    assert_eq!(kv.swap("held", "y", Some(ZERO)).await.unwrap(), None);
    assert_eq!(kv.incr_with_ttl("c", 4, ZERO).await, Ok(4));
    assert!(!other.exists("c").await.unwrap());
    kv.set("p", 1).await.unwrap();
    assert!(kv.expire("p", ZERO).await.unwrap());
    assert!(!other.exists("p").await.unwrap());
    let l = kv.load_with("l", Some(ZERO), || async { 5 }).await.unwrap();
    assert_eq!((l.value, l.source), (Value::Int(5), Source::Loaded));
    assert!(
        !other.exists("l").await.unwrap(),
        "a zero-TTL load stores nothing"
    );
    assert!(kv.is_empty().await.unwrap());
}

async fn get_and_expire_slides_the_deadline<K: AsyncKv>(kv: &K, other: &K) {
    assert_eq!(
        kv.get_and_expire("s", Duration::from_secs(60))
            .await
            .unwrap(),
        None
    );
    assert!(!other.exists("s").await.unwrap(), "nothing created");
    kv.set_with_ttl("s", "bob", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        kv.get_and_expire("s", Duration::from_secs(1800))
            .await
            .unwrap(),
        Some("bob".into())
    );
    assert_eq!(other.ttl("s").await.unwrap().as_secs(), 1800);
    kv.set("p", 1).await.unwrap();
    assert_eq!(
        kv.get_and_expire("p", Duration::from_secs(60))
            .await
            .unwrap(),
        Some(Value::Int(1))
    );
    assert_eq!(other.ttl("p").await.unwrap().as_secs(), 60);
    assert_eq!(
        kv.get_and_expire("s", Duration::ZERO).await.unwrap(),
        Some("bob".into())
    );
    assert!(!other.exists("s").await.unwrap(), "ZERO takes the key");
}

/// A hit does not call `init`; a miss loads and stores with the TTL (`None`: no expiry);
/// concurrent misses run one `init`, the others coalesce.
async fn loads_hit_load_and_coalesce<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    let l = kv
        .load_with("page", Some(Duration::from_secs(60)), || async {
            "rendered"
        })
        .await
        .unwrap();
    assert_eq!((l.value, l.source), ("rendered".into(), Source::Loaded));
    assert_eq!(other.ttl("page").await.unwrap().as_secs(), 60);
    let hit = other
        .load_with("page", None, || async {
            panic!("init called on a hit");
            #[allow(unreachable_code)]
            Value::Null
        })
        .await
        .unwrap();
    assert_eq!((hit.value, hit.source), ("rendered".into(), Source::Hit));
    let l = kv.load_with("forever", None, || async { 1 }).await.unwrap();
    assert_eq!(l.source, Source::Loaded);
    assert_eq!(other.ttl("forever").await.unwrap(), Ttl::Persistent);
    // 20 concurrent misses on one handle: one init.
    let inits = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (kv, inits) = (kv.clone(), inits.clone());
            tokio::spawn(async move {
                kv.load_with("hot", Some(Duration::from_secs(60)), || async move {
                    inits.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    "v"
                })
                .await
                .unwrap()
            })
        })
        .collect();
    let mut loaded = 0;
    for t in tasks {
        let l = t.await.unwrap();
        assert_eq!(l.value, Value::from("v"));
        loaded += usize::from(l.source == Source::Loaded);
    }
    assert_eq!(inits.load(Ordering::SeqCst), 1, "one init for 20 callers");
    assert_eq!(loaded, 1);
}

/// The loader's error goes to its own caller (`LoadError::Init`), never to a waiter; the
/// waiters retry, and nothing is stored.
async fn a_failed_load_goes_to_its_caller_only<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    let inits = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (kv, inits) = (kv.clone(), inits.clone());
            tokio::spawn(async move {
                kv.try_load_with("k", Some(Duration::from_secs(60)), || async move {
                    inits.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err::<Value, _>(i)
                })
                .await
            })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Err(LoadError::Init(e)) => assert_eq!(e, i, "another caller's error"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        inits.load(Ordering::SeqCst),
        8,
        "each failed caller ran its own init"
    );
    assert!(
        !other.exists("k").await.unwrap(),
        "a failed load stored something"
    );
}

/// A loader whose future is dropped stores nothing; a waiter loads instead.
async fn a_cancelled_load_hands_over<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    let leader = {
        let kv = kv.clone();
        tokio::spawn(async move {
            kv.load_with("k", None, || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiter = {
        let kv = kv.clone();
        tokio::spawn(async move { kv.load_with("k", None, || async { "second" }).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    let l = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter took over")
        .unwrap()
        .unwrap();
    assert_eq!(l.value, Value::from("second"));
    assert_eq!(other.get("k").await.unwrap(), Some(Value::from("second")));
}

/// `SharedKv` over the backend: every operation forwards (a sample of each kind).
async fn shared_kv_forwards_every_operation<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    let shared = SharedKv::new(kv.clone());
    assert!(format!("{shared:?}").contains("SharedKv"));
    let shared2 = shared.clone();
    shared.set("a", 1).await.unwrap();
    assert_eq!(other.get("a").await.unwrap(), Some(Value::Int(1)));
    assert_eq!(shared2.incr("a", 2).await, Ok(3));
    shared
        .set_with_ttl("t", "v", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(shared.ttl("t").await.unwrap().as_secs(), 60);
    assert_eq!(shared.get_or("none", 7).await.unwrap(), Value::Int(7));
    assert!(shared.exists("t").await.unwrap());
    assert_eq!(shared.keys("*").await.unwrap(), ["a", "t"]);
    assert!(shared.expire("t", Duration::from_secs(30)).await.unwrap());
    assert!(shared.persist("t").await.unwrap());
    assert_eq!(
        shared
            .get_and_expire("t", Duration::from_secs(9))
            .await
            .unwrap(),
        Some("v".into())
    );
    assert!(shared
        .set_if_absent("l", "me", Some(Duration::from_secs(9)))
        .await
        .unwrap());
    assert_eq!(
        shared.swap("l", "you", None).await.unwrap(),
        Some("me".into())
    );
    assert!(shared
        .compare_and_set("l", &"you".into(), "us")
        .await
        .unwrap());
    assert!(shared.compare_and_delete("l", &"us".into()).await.unwrap());
    assert_eq!(
        shared.incr_with_ttl("c", 1, Duration::from_secs(9)).await,
        Ok(1)
    );
    assert_eq!(
        shared
            .update("c", |v| Value::Int(v.as_int().unwrap() * 10))
            .await
            .unwrap(),
        Some(Value::Int(10))
    );
    assert_eq!(shared.take("c").await.unwrap(), Some(Value::Int(10)));
    assert!(shared.delete("a").await.unwrap());
    assert_eq!(shared.len().await.unwrap(), 1);
    let l = shared
        .load_with("page", None, || async { "p" })
        .await
        .unwrap();
    assert_eq!(l.source, Source::Loaded);
    match shared
        .try_load_with("bad", None, || async {
            Err::<Value, _>("down".to_string())
        })
        .await
    {
        Err(LoadError::Init(e)) => assert_eq!(e, "down"),
        r => panic!("{r:?}"),
    }
    assert!(!other.exists("bad").await.unwrap());
    shared.clear().await.unwrap();
    assert!(shared.is_empty().await.unwrap());
}

fn dict(entries: &[(&str, Value)]) -> Value {
    Value::Dict(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Every kind of value, with the edge cases of each.
fn samples() -> Vec<(&'static str, Value)> {
    vec![
        ("null", Value::Null),
        ("false", Value::Bool(false)),
        ("true", Value::Bool(true)),
        ("int0", Value::Int(0)),
        ("int-1", Value::Int(-1)),
        ("intmin", Value::Int(i64::MIN)),
        ("intmax", Value::Int(i64::MAX)),
        ("int2^53+1", Value::Int((1 << 53) + 1)),
        ("f0", Value::Float(0.0)),
        ("f-0", Value::Float(-0.0)),
        ("fnan", Value::Float(f64::NAN)),
        (
            "fnan-payload",
            Value::Float(f64::from_bits(0x7ff0_0000_0000_0001)),
        ),
        (
            "fnan-negative",
            Value::Float(f64::from_bits(0xfff8_dead_beef_0042)),
        ),
        ("finf", Value::Float(f64::NEG_INFINITY)),
        ("fsub", Value::Float(f64::from_bits(1))),
        ("f1.5", Value::Float(1.5)),
        ("s-empty", Value::Str(String::new())),
        ("s-5", Value::Str("5".into())),
        ("s--5", Value::Str("-5".into())),
        ("s-unicode", Value::Str("héllo \u{1F600} \0 end".into())),
        ("b-empty", Value::Bytes(Vec::new())),
        ("b-5", Value::Bytes(b"5".to_vec())),
        ("b-binary", Value::Bytes(vec![0xff, 0xfe, 0x00, 0x80, 0xc3])),
        ("l-empty", Value::List(Vec::new())),
        ("d-empty", Value::Dict(BTreeMap::new())),
        (
            "nested",
            Value::List(vec![
                Value::Int(i64::MIN),
                Value::Float(-0.0),
                Value::Float(f64::NAN),
                Value::Bytes(vec![0xff]),
                Value::Null,
                dict(&[
                    ("", Value::Bool(true)),
                    (
                        "k",
                        Value::List(vec![Value::Str("v".into()), Value::Int(7)]),
                    ),
                    ("é", dict(&[("x", Value::Bytes(Vec::new()))])),
                ]),
                Value::List(vec![Value::List(vec![Value::List(Vec::new())])]),
            ]),
        ),
    ]
}

async fn every_value_kind_round_trips<K: AsyncKv>(kv: &K, other: &K) {
    for (key, value) in samples() {
        kv.set(key, value.clone()).await.unwrap();
        let back = other.get(key).await.unwrap().expect(key);
        assert!(same(&back, &value), "{key}: {back:?} != {value:?}");
        let back = kv.get_or(key, "default").await.unwrap();
        assert!(same(&back, &value), "{key}");
        // Through every write path: set_with_ttl, swap, set_if_absent.
        kv.delete(key).await.unwrap();
        assert!(kv.set_if_absent(key, value.clone(), None).await.unwrap());
        let old = kv
            .swap(key, value.clone(), Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert!(same(&old.expect(key), &value), "{key}");
        assert!(same(&kv.take(key).await.unwrap().expect(key), &value));
        kv.set_with_ttl(key, value.clone(), Duration::from_secs(60))
            .await
            .unwrap();
        assert!(same(&kv.get(key).await.unwrap().expect(key), &value));
    }
    assert_eq!(
        kv.get_or("missing", "default").await.unwrap(),
        Value::from("default")
    );
    // Null is a value, not an absence.
    kv.set("n", Value::Null).await.unwrap();
    assert_eq!(kv.get("n").await.unwrap(), Some(Value::Null));
    assert!(kv.exists("n").await.unwrap());
}

async fn deep_values_round_trip<K: AsyncKv>(kv: &K, _other: &K) {
    let mut v = Value::Str("bottom".into());
    for i in 0..5_000 {
        v = if i % 2 == 0 {
            Value::List(vec![v, Value::Int(i)])
        } else {
            Value::Dict(BTreeMap::from([("k".to_owned(), v)]))
        };
    }
    kv.set("deep", v.clone()).await.unwrap();
    let back = kv.get("deep").await.unwrap().unwrap();
    assert!(back == v, "a 5,000-level value came back different");
    back.dispose();
    v.dispose();
}

async fn set_get_delete_exists<K: AsyncKv>(kv: &K, other: &K) {
    assert_eq!(kv.get("k").await.unwrap(), None);
    assert!(!kv.exists("k").await.unwrap());
    kv.set_with_ttl("k", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(other.ttl("k").await.unwrap().as_secs(), 60);
    // set replaces the value and the TTL.
    kv.set("k", 2).await.unwrap();
    assert_eq!(other.get("k").await.unwrap(), Some(Value::Int(2)));
    assert_eq!(other.ttl("k").await.unwrap(), Ttl::Persistent);
    // set_with_ttl(ZERO) is expired at once: the key is gone.
    kv.set_with_ttl("k", 3, Duration::from_secs(60))
        .await
        .unwrap();
    kv.set_with_ttl("k", 4, Duration::ZERO).await.unwrap();
    assert_eq!(other.ttl("k").await.unwrap(), Ttl::Missing);
    assert!(!other.exists("k").await.unwrap());
    kv.set("k", 5).await.unwrap();
    assert!(kv.delete("k").await.unwrap());
    assert!(!kv.delete("k").await.unwrap());
    assert!(!other.exists("k").await.unwrap());
    // Keys are arbitrary strings.
    for key in ["", " ", "a:b:c", "*", "[x]", "\\", "é\u{1F600}", "{tag}k"] {
        kv.set(key, key).await.unwrap();
        assert_eq!(
            other.get(key).await.unwrap(),
            Some(Value::from(key)),
            "{key:?}"
        );
    }
}

async fn incr_counts_and_refuses<K: AsyncKv>(kv: &K, other: &K) {
    assert_eq!(kv.incr("c", 5).await, Ok(5));
    assert_eq!(other.ttl("c").await.unwrap(), Ttl::Persistent);
    assert_eq!(kv.incr("c", -7).await, Ok(-2));
    assert_eq!(other.get("c").await.unwrap(), Some(Value::Int(-2)));
    // An Int stored by set counts too, and keeps its TTL.
    kv.set_with_ttl("t", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(kv.incr("t", 1).await, Ok(11));
    assert_eq!(other.ttl("t").await.unwrap().as_secs(), 60);
    // Not integers: nothing that merely looks like one.
    for (key, v) in [
        ("s5", Value::Str("5".into())),
        ("b5", Value::Bytes(b"5".to_vec())),
        ("f5", Value::Float(5.0)),
        ("l5", Value::List(vec![Value::Int(5)])),
        ("null", Value::Null),
        ("true", Value::Bool(true)),
    ] {
        kv.set(key, v.clone()).await.unwrap();
        assert_eq!(kv.incr(key, 1).await, Err(Error::NotAnInteger), "{key}");
        assert!(
            same(&other.get(key).await.unwrap().unwrap(), &v),
            "{key} changed"
        );
    }
    // Overflow both ways, store unchanged.
    kv.set("max", i64::MAX).await.unwrap();
    assert_eq!(kv.incr("max", 1).await, Err(Error::Overflow));
    assert_eq!(other.get("max").await.unwrap(), Some(Value::Int(i64::MAX)));
    kv.set("min", i64::MIN).await.unwrap();
    assert_eq!(kv.incr("min", -1).await, Err(Error::Overflow));
    assert_eq!(other.get("min").await.unwrap(), Some(Value::Int(i64::MIN)));
    assert_eq!(kv.incr("min", i64::MAX).await, Ok(-1));
    assert_eq!(kv.incr("fresh-min", i64::MIN).await, Ok(i64::MIN));
    assert_eq!(kv.incr("fresh-min", 0).await, Ok(i64::MIN));
    // Exact beyond 2^53.
    kv.set("big", (1i64 << 53) + 1).await.unwrap();
    assert_eq!(kv.incr("big", 2).await, Ok((1 << 53) + 3));
}

async fn incr_with_ttl_sets_the_ttl_only_on_creation<K: AsyncKv>(kv: &K, other: &K) {
    let window = Duration::from_secs(60);
    assert_eq!(kv.incr_with_ttl("r", 1, window).await, Ok(1));
    assert_eq!(other.ttl("r").await.unwrap().as_secs(), 60);
    assert_eq!(
        kv.incr_with_ttl("r", 1, Duration::from_secs(5)).await,
        Ok(2)
    );
    assert_eq!(
        other.ttl("r").await.unwrap().as_secs(),
        60,
        "a live key keeps its TTL"
    );
    // A live persistent counter stays persistent.
    kv.set("p", 7).await.unwrap();
    assert_eq!(kv.incr_with_ttl("p", 1, window).await, Ok(8));
    assert_eq!(other.ttl("p").await.unwrap(), Ttl::Persistent);
    // ZERO: a key it would create is expired at once (nothing stored, `delta` returned); a live
    // key counts as usual.
    assert_eq!(kv.incr_with_ttl("z", 3, Duration::ZERO).await, Ok(3));
    assert_eq!(other.ttl("z").await.unwrap(), Ttl::Missing);
    assert_eq!(kv.incr_with_ttl("p", 1, Duration::ZERO).await, Ok(9));
    assert_eq!(other.ttl("p").await.unwrap(), Ttl::Persistent);
    // Refusals leave everything unchanged (no TTL added either).
    kv.set("s", "5").await.unwrap();
    assert_eq!(
        kv.incr_with_ttl("s", 1, window).await,
        Err(Error::NotAnInteger)
    );
    assert_eq!(other.get("s").await.unwrap(), Some(Value::from("5")));
    assert_eq!(other.ttl("s").await.unwrap(), Ttl::Persistent);
    kv.set("max", i64::MAX - 1).await.unwrap();
    assert_eq!(kv.incr_with_ttl("max", 1, window).await, Ok(i64::MAX));
    assert_eq!(
        kv.incr_with_ttl("max", 1, window).await,
        Err(Error::Overflow)
    );
    assert_eq!(other.get("max").await.unwrap(), Some(Value::Int(i64::MAX)));
    assert_eq!(other.ttl("max").await.unwrap(), Ttl::Persistent);
    // Exact at the extremes (no float on the way).
    assert_eq!(kv.incr_with_ttl("x", i64::MAX, window).await, Ok(i64::MAX));
    assert_eq!(kv.incr_with_ttl("y", i64::MIN, window).await, Ok(i64::MIN));
    assert_eq!(
        kv.incr_with_ttl("y", (1 << 53) + 1, window).await,
        Ok(i64::MIN + (1 << 53) + 1)
    );
}

async fn ttls_are_milliseconds_rounded_up<K: AsyncKv>(kv: &K, other: &K) {
    kv.set_with_ttl("s10", 1, Duration::from_secs(10))
        .await
        .unwrap();
    match other.ttl("s10").await.unwrap() {
        Ttl::Expires(d) => assert!(d <= Duration::from_secs(10) && d > Duration::from_secs(9)),
        t => panic!("{t:?}"),
    }
    assert_eq!(other.ttl("s10").await.unwrap().as_secs(), 10);
    kv.set_with_ttl("ms1500", 1, Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(
        other.ttl("ms1500").await.unwrap().as_secs(),
        2,
        "rounded up"
    );
    // 1 ns is at most 1 ms: gone or about to be.
    kv.set_with_ttl("ns", 1, Duration::from_nanos(1))
        .await
        .unwrap();
    match other.ttl("ns").await.unwrap() {
        Ttl::Missing => {}
        Ttl::Expires(d) => {
            assert!(d <= Duration::from_millis(1), "{d:?}");
            assert_ne!(d, Duration::ZERO, "a live key never reports a zero TTL");
        }
        Ttl::Persistent => panic!("a 1 ns TTL became persistent"),
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(other.get("ns").await.unwrap(), None);
    // Huge TTLs saturate instead of failing or wrapping.
    kv.set_with_ttl("huge", 1, Duration::MAX).await.unwrap();
    let century = Duration::from_secs(100 * 365 * 24 * 3600);
    match other.ttl("huge").await.unwrap() {
        Ttl::Expires(d) => assert!(d > century, "{d:?}"),
        t => panic!("{t:?}"),
    }
    assert!(kv.expire("s10", Duration::MAX).await.unwrap());
    assert!(matches!(other.ttl("s10").await.unwrap(), Ttl::Expires(d) if d > century));
    assert!(kv
        .set_if_absent("huge2", 1, Some(Duration::MAX))
        .await
        .unwrap());
    assert_eq!(kv.incr_with_ttl("huge3", 1, Duration::MAX).await, Ok(1));
    assert!(matches!(other.ttl("huge3").await.unwrap(), Ttl::Expires(d) if d > century));
}

async fn expire_and_persist<K: AsyncKv>(kv: &K, other: &K) {
    assert!(!kv.expire("missing", Duration::from_secs(5)).await.unwrap());
    assert!(!kv.expire("missing", Duration::ZERO).await.unwrap());
    assert!(!kv.persist("missing").await.unwrap());
    assert!(
        !other.exists("missing").await.unwrap(),
        "expire must not create keys"
    );
    kv.set("k", "v").await.unwrap();
    assert!(
        !kv.persist("k").await.unwrap(),
        "persist: false without a TTL"
    );
    assert!(kv.expire("k", Duration::from_secs(60)).await.unwrap());
    assert_eq!(other.ttl("k").await.unwrap().as_secs(), 60);
    assert_eq!(
        other.get("k").await.unwrap(),
        Some(Value::from("v")),
        "value untouched"
    );
    assert!(kv.expire("k", Duration::from_secs(30)).await.unwrap());
    assert!(kv.persist("k").await.unwrap());
    assert_eq!(other.ttl("k").await.unwrap(), Ttl::Persistent);
    assert!(
        kv.expire("k", Duration::ZERO).await.unwrap(),
        "expire(ZERO) on a live key: true"
    );
    assert_eq!(
        other.ttl("k").await.unwrap(),
        Ttl::Missing,
        "expire(ZERO) deletes, as EXPIRE k 0"
    );
    assert!(!kv.expire("k", Duration::ZERO).await.unwrap());
    kv.set("k", "v").await.unwrap();
    // A sub-millisecond expire is at least 1 ms, and then the key is gone.
    assert!(kv.expire("k", Duration::from_nanos(10)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!other.exists("k").await.unwrap());
}

async fn expired_keys_are_gone_everywhere<K: AsyncKv>(kv: &K, other: &K) {
    for k in ["a", "b", "c", "d", "e", "f"] {
        kv.set_with_ttl(k, 1, Duration::from_millis(30))
            .await
            .unwrap();
    }
    kv.set("live", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(other.get("a").await.unwrap(), None);
    assert!(!other.exists("a").await.unwrap());
    assert_eq!(other.ttl("a").await.unwrap(), Ttl::Missing);
    assert_eq!(other.keys("*").await.unwrap(), ["live"]);
    assert!(!kv.delete("b").await.unwrap());
    assert_eq!(kv.take("c").await.unwrap(), None);
    assert_eq!(kv.swap("d", 2, None).await.unwrap(), None);
    assert!(kv.set_if_absent("e", 2, None).await.unwrap());
    assert_eq!(kv.incr("f", 3).await, Ok(3));
    assert_eq!(
        other.ttl("f").await.unwrap(),
        Ttl::Persistent,
        "recreated without TTL"
    );
    assert!(!kv.compare_and_set("a", &Value::Int(1), 2).await.unwrap());
    assert!(!kv.expire("a", Duration::from_secs(1)).await.unwrap());
    assert_eq!(kv.update("a", |v| v.clone()).await.unwrap(), None);
}

async fn keys_follow_the_glob_rules<K: AsyncKv>(kv: &K, other: &K) {
    let keys = [
        "user:1",
        "user:2",
        "user:10",
        "user:é",
        "session:x",
        "a*b",
        "a[1]",
        "a?",
        "a\\b",
        "",
        "ab",
        "b",
        "x y",
        "🙂",
        "{tag}:k",
        "user:",
    ];
    for k in keys {
        kv.set(k, true).await.unwrap();
    }
    let patterns = [
        "*",
        "user:*",
        "user:?",
        "user:??",
        "user:[0-9]",
        "user:[^0-9]",
        "[ab]*",
        "[^a]*",
        "a\\*b",
        "a[[]1]",
        "a\\?",
        "a?",
        "a\\\\b",
        "",
        "*b",
        "*:*",
        "?",
        "🙂",
        "[🙂]",
        "{tag}*",
        "user:\\1",
        "nothing*",
        "a*",
        "[a-b]?",
    ];
    for p in patterns {
        let compiled = Pattern::compile(p).unwrap();
        let mut expected: Vec<String> = keys
            .iter()
            .filter(|k| compiled.matches(k))
            .map(|k| (*k).to_owned())
            .collect();
        expected.sort();
        assert_eq!(other.keys(p).await.unwrap(), expected, "pattern {p:?}");
    }
    let all = kv.keys("*").await.unwrap();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "sorted by bytes");
    assert_eq!(all.len(), keys.len());
}

async fn invalid_patterns_are_errors<K: AsyncKv>(kv: &K, _other: &K) {
    for p in ["[", "a[b", "[^", "\\", "a\\", "[]", "[a\\"] {
        let expected = Pattern::compile(p).unwrap_err();
        assert!(matches!(expected, Error::InvalidPattern { .. }));
        assert_eq!(
            kv.keys(p).await,
            Err(expected.clone()),
            "empty store, {p:?}"
        );
        kv.set("k", 1).await.unwrap();
        assert_eq!(kv.keys(p).await, Err(expected), "{p:?}");
    }
}

async fn len_is_empty_and_clear<K: AsyncKv>(kv: &K, other: &K) {
    assert_eq!(kv.len().await, Ok(0));
    assert_eq!(kv.is_empty().await, Ok(true));
    for i in 0..2_500 {
        kv.set(&format!("k{i}"), i).await.unwrap();
    }
    assert_eq!(other.len().await, Ok(2_500));
    assert_eq!(other.is_empty().await, Ok(false));
    assert_eq!(other.keys("k1*").await.unwrap().len(), 1 + 10 + 100 + 1000);
    other.clear().await.unwrap();
    assert_eq!(kv.len().await, Ok(0));
    assert_eq!(kv.is_empty().await, Ok(true));
    assert_eq!(kv.keys("*").await.unwrap(), Vec::<String>::new());
    assert_eq!(kv.get("k7").await.unwrap(), None);
    other.clear().await.unwrap(); // clearing an empty store is fine
}

async fn set_if_absent_swap_take<K: AsyncKv>(kv: &K, other: &K) {
    let ttl = Duration::from_secs(30);
    assert!(kv.set_if_absent("lock", "w1", Some(ttl)).await.unwrap());
    assert!(!other.set_if_absent("lock", "w2", Some(ttl)).await.unwrap());
    assert_eq!(kv.get("lock").await.unwrap(), Some(Value::from("w1")));
    assert_eq!(kv.ttl("lock").await.unwrap().as_secs(), 30);
    assert!(kv.set_if_absent("nottl", 1, None).await.unwrap());
    assert_eq!(kv.ttl("nottl").await.unwrap(), Ttl::Persistent);

    assert_eq!(kv.swap("s", 1, None).await.unwrap(), None);
    assert_eq!(
        other.swap("s", 2, Some(ttl)).await.unwrap(),
        Some(Value::Int(1))
    );
    assert_eq!(kv.ttl("s").await.unwrap().as_secs(), 30);
    // swap with None removes the old TTL (it replaces value and TTL, like set).
    assert_eq!(kv.swap("s", 3, None).await.unwrap(), Some(Value::Int(2)));
    assert_eq!(kv.ttl("s").await.unwrap(), Ttl::Persistent);
    assert_eq!(kv.get("s").await.unwrap(), Some(Value::Int(3)));

    kv.set("token", "user-7").await.unwrap();
    assert_eq!(
        other.take("token").await.unwrap(),
        Some(Value::from("user-7"))
    );
    assert_eq!(kv.take("token").await.unwrap(), None);
    assert!(!kv.exists("token").await.unwrap());
}

/// Pairs (stored, expected) and whether `Value`'s `==` holds, so whether a compare-and-X acts.
fn equality_cases() -> Vec<(Value, Value, bool)> {
    let nan = Value::Float(f64::NAN);
    vec![
        (Value::from("pending"), Value::from("pending"), true),
        (Value::from("pending"), Value::from("running"), false),
        (Value::Int(1), Value::Float(1.0), false),
        (Value::Str("5".into()), Value::Int(5), false),
        (Value::Bytes(b"ab".to_vec()), Value::from("ab"), false),
        (Value::Int(5), Value::Int(5), true),
        (Value::Null, Value::Null, true),
        // Floats as f64: 0.0 == -0.0, NaN == nothing.
        (Value::Float(0.0), Value::Float(-0.0), true),
        (Value::Float(-0.0), Value::Float(0.0), true),
        (Value::Float(-0.0), Value::Float(-0.0), true),
        (Value::Float(1.5), Value::Float(1.5), true),
        (nan.clone(), nan.clone(), false),
        (Value::Float(0.0), nan.clone(), false),
        (
            Value::List(vec![
                Value::Float(0.0),
                Value::from("x"),
                Value::Float(-0.0),
            ]),
            Value::List(vec![
                Value::Float(-0.0),
                Value::from("x"),
                Value::Float(0.0),
            ]),
            true,
        ),
        (
            dict(&[
                ("a", Value::Float(-0.0)),
                ("b", Value::List(vec![Value::Float(0.0)])),
            ]),
            dict(&[
                ("a", Value::Float(0.0)),
                ("b", Value::List(vec![Value::Float(-0.0)])),
            ]),
            true,
        ),
        (
            Value::List(vec![Value::Float(0.0), Value::Float(1.0)]),
            Value::List(vec![Value::Float(-0.0), Value::Float(2.0)]),
            false,
        ),
        (
            Value::List(vec![Value::Int(1), nan.clone()]),
            Value::List(vec![Value::Int(1), nan]),
            false,
        ),
        (
            Value::List(vec![Value::Int(1)]),
            Value::List(vec![Value::Int(1), Value::Null]),
            false,
        ),
    ]
}

async fn compare_and_set_uses_value_equality<K: AsyncKv>(kv: &K, other: &K) {
    for (i, (stored, expected, equal)) in equality_cases().into_iter().enumerate() {
        let key = format!("cas{i}");
        kv.set_with_ttl(&key, stored.clone(), Duration::from_secs(60))
            .await
            .unwrap();
        let acted = other.compare_and_set(&key, &expected, "new").await.unwrap();
        assert_eq!(acted, equal, "case {i}: {stored:?} vs {expected:?}");
        let now = kv.get(&key).await.unwrap().unwrap();
        if equal {
            assert_eq!(now, Value::from("new"));
            assert_eq!(kv.ttl(&key).await.unwrap().as_secs(), 60, "TTL kept");
        } else {
            assert!(same(&now, &stored), "case {i}: changed");
        }
    }
    assert!(!kv
        .compare_and_set("missing", &Value::Null, 1)
        .await
        .unwrap());
    assert!(!kv.exists("missing").await.unwrap());
    kv.set("state", "pending").await.unwrap();
    assert!(kv
        .compare_and_set("state", &"pending".into(), "running")
        .await
        .unwrap());
    assert!(!other
        .compare_and_set("state", &"pending".into(), "running")
        .await
        .unwrap());
    assert_eq!(kv.ttl("state").await.unwrap(), Ttl::Persistent);
}

async fn compare_and_delete_uses_value_equality<K: AsyncKv>(kv: &K, other: &K) {
    for (i, (stored, expected, equal)) in equality_cases().into_iter().enumerate() {
        let key = format!("cad{i}");
        kv.set(&key, stored.clone()).await.unwrap();
        let acted = other.compare_and_delete(&key, &expected).await.unwrap();
        assert_eq!(acted, equal, "case {i}: {stored:?} vs {expected:?}");
        assert_eq!(kv.exists(&key).await.unwrap(), !equal, "case {i}");
    }
    assert!(!kv
        .compare_and_delete("missing", &Value::Null)
        .await
        .unwrap());
}

async fn update_keeps_the_ttl<K: AsyncKv>(kv: &K, other: &K) {
    let calls = AtomicUsize::new(0);
    let r = kv
        .update("missing", |v| {
            calls.fetch_add(1, Ordering::Relaxed);
            v.clone()
        })
        .await
        .unwrap();
    assert_eq!(r, None);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "f is not called for a missing key"
    );
    assert!(!kv.exists("missing").await.unwrap());

    kv.set_with_ttl("tags", vec!["a"], Duration::from_secs(60))
        .await
        .unwrap();
    let tags = kv
        .update("tags", |v| {
            let mut list = v.as_list().unwrap_or_default().to_vec();
            list.push("b".into());
            Value::List(list)
        })
        .await
        .unwrap();
    assert_eq!(tags, Some(Value::from(vec!["a", "b"])));
    assert_eq!(
        other.get("tags").await.unwrap(),
        Some(Value::from(vec!["a", "b"]))
    );
    assert_eq!(other.ttl("tags").await.unwrap().as_secs(), 60);
    // Changing the type is fine; so is an unchanged result.
    assert_eq!(
        kv.update("tags", |_| Value::Int(1)).await.unwrap(),
        Some(Value::Int(1))
    );
    assert_eq!(
        kv.update("tags", |v| v.clone()).await.unwrap(),
        Some(Value::Int(1))
    );
    assert_eq!(
        other.incr("tags", 1).await,
        Ok(2),
        "an Int written by update counts"
    );
    assert_eq!(other.ttl("tags").await.unwrap().as_secs(), 60);
}

// ----- races between two handles (two connections on Redis) -----

async fn race_set_if_absent_has_one_winner<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    for round in 0..100 {
        let key = format!("lock{round}");
        let mut tasks = Vec::new();
        for t in 0..4 {
            let h = if t % 2 == 0 {
                kv.clone()
            } else {
                other.clone()
            };
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                h.set_if_absent(&key, t, Some(Duration::from_secs(60)))
                    .await
                    .unwrap()
            }));
        }
        let mut winners = Vec::new();
        for (t, task) in tasks.into_iter().enumerate() {
            if task.await.unwrap() {
                winners.push(t as i64);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(kv.get(&key).await.unwrap(), Some(Value::Int(winners[0])));
    }
}

async fn race_take_has_one_winner<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    for round in 0..100 {
        let key = format!("token{round}");
        kv.set(&key, round).await.unwrap();
        let (a, b) = (kv.clone(), other.clone());
        let (ka, kb) = (key.clone(), key.clone());
        let ta = tokio::spawn(async move { a.take(&ka).await.unwrap() });
        let tb = tokio::spawn(async move { b.take(&kb).await.unwrap() });
        let got: Vec<Value> = [ta.await.unwrap(), tb.await.unwrap()]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(got, [Value::Int(round)], "round {round}");
    }
}

async fn race_compare_and_set_has_one_winner<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    kv.set("v", 0).await.unwrap();
    for round in 0..50i64 {
        let mut tasks = Vec::new();
        for t in 0..4 {
            let h = if t % 2 == 0 {
                kv.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                h.compare_and_set("v", &Value::Int(round), round + 1)
                    .await
                    .unwrap()
            }));
        }
        let mut wins = 0;
        for task in tasks {
            wins += usize::from(task.await.unwrap());
        }
        assert_eq!(wins, 1, "round {round}");
    }
    assert_eq!(kv.get("v").await.unwrap(), Some(Value::Int(50)));
}

async fn race_incr_loses_nothing<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    let mut tasks = Vec::new();
    for t in 0..32 {
        let h = if t % 2 == 0 {
            kv.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                h.incr("hits", 1).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(kv.get("hits").await.unwrap(), Some(Value::Int(32 * 50)));
}

async fn race_incr_with_ttl_loses_nothing<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for t in 0..16 {
        let h = if t % 2 == 0 {
            kv.clone()
        } else {
            other.clone()
        };
        let seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let n = h
                    .incr_with_ttl("window", 1, Duration::from_secs(60))
                    .await
                    .unwrap();
                seen.lock().unwrap().push(n);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=16 * 20).collect::<Vec<i64>>(),
        "every count seen exactly once"
    );
    assert_eq!(kv.ttl("window").await.unwrap().as_secs(), 60);
}

async fn race_update_loses_nothing<K: AsyncKv + Clone + 'static>(kv: &K, other: &K) {
    kv.set("n", dict(&[("count", Value::Int(0))]))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let h = if t % 2 == 0 {
            kv.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                h.update("n", |v| {
                    let n = v.as_dict().unwrap()["count"].as_int().unwrap();
                    dict(&[("count", Value::Int(n + 1))])
                })
                .await
                .unwrap()
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        kv.get("n").await.unwrap(),
        Some(dict(&[("count", Value::Int(8 * 20))]))
    );
}
