//! The conformance suite of `KvSessionStore`, run on the in-process `Store` (on a test clock:
//! expiry is checked at the exact instant), on the standalone Redis server and on the cluster
//! of `scripts/with-redis.sh` (the Redis runs fail without it). Plus: a session saved through
//! one replica's store loads through another's.

mod common;

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use scriptling_kv::{AsyncKv, TestClock, Ttl, Value};
use scriptling_kv_tower::KvSessionStore;
use serde_json::json;
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::SessionStore;

const PREFIX: &str = "sess:";

/// A record expiring `ttl` after `now`, whose data has every kind of JSON value, the ones a
/// `Value` cannot hold among them (an integer above `i64::MAX`, floats of every shape).
fn record(now: SystemTime, ttl: Duration, tag: &str) -> Record {
    let data: HashMap<String, serde_json::Value> = [
        ("tag", json!(tag)),
        ("big", json!(u64::MAX)),
        ("above_i64", json!(i64::MAX as u64 + 1)),
        ("min", json!(i64::MIN)),
        ("floats", json!([0.1, -0.0, 1e300, 5e-324, f64::MAX, 1.0])),
        ("null", serde_json::Value::Null),
        ("bool", json!(true)),
        ("text", json!("é\u{0}\"\\ \u{1F600}")),
        ("nested", json!({"a": [1, {"b": []}, {}], "c": {"d": null}})),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Record {
        id: Id::default(),
        data,
        expiry_date: OffsetDateTime::from(now + ttl),
    }
}

/// Every key under the prefix has a TTL (no persistent key, no index), at most `max`.
async fn assert_all_keys_expire<K: AsyncKv>(kv: &K, max: Duration) {
    let keys = kv.keys(&format!("{PREFIX}*")).await.unwrap();
    for key in &keys {
        match kv.ttl(key).await.unwrap() {
            Ttl::Expires(left) => assert!(left <= max, "{key}: {left:?} > {max:?}"),
            other => panic!("{key} has no TTL: {other:?}"),
        }
    }
}

/// The suite, on `kv` with `sessions` over it; `now` reads the clock the sessions compute
/// TTLs from.
async fn conformance<K>(kv: K, sessions: KvSessionStore<K>, now: impl Fn() -> SystemTime)
where
    K: AsyncKv + Clone + Debug + 'static,
{
    let hour = Duration::from_secs(3600);
    // Missing: None.
    assert_eq!(sessions.load(&Id::default()).await.unwrap(), None);

    // create, then load: the same record, exactly.
    let mut first = record(now(), hour, "first");
    let asked = first.id;
    sessions.create(&mut first).await.unwrap();
    assert_eq!(first.id, asked, "no collision: the id is kept");
    let loaded = sessions.load(&first.id).await.unwrap().expect("created");
    assert_eq!(loaded, first);
    assert_eq!(loaded.data["big"].as_u64(), Some(u64::MAX));
    assert_eq!(loaded.data["above_i64"].as_u64(), Some(i64::MAX as u64 + 1));
    let floats: Vec<u64> = loaded.data["floats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_f64().unwrap().to_bits())
        .collect();
    let expected: Vec<u64> = [0.1, -0.0, 1e300, 5e-324, f64::MAX, 1.0f64]
        .iter()
        .map(|f| f.to_bits())
        .collect();
    assert_eq!(floats, expected, "floats keep their bits");
    // The key is `{prefix}{id}`, a string, with a TTL of the hour (rounded up to seconds).
    let key = sessions.key(&first.id);
    assert_eq!(key, format!("{PREFIX}{}", first.id));
    assert!(matches!(kv.get(&key).await.unwrap(), Some(Value::Str(_))));
    assert_eq!(kv.ttl(&key).await.unwrap().as_secs(), 3600);

    // A colliding id never overwrites: the new session gets another id.
    let mut intruder = record(now(), hour, "intruder");
    intruder.id = first.id;
    sessions.create(&mut intruder).await.unwrap();
    assert_ne!(intruder.id, first.id, "a colliding id is replaced");
    assert_eq!(
        sessions.load(&first.id).await.unwrap().as_ref(),
        Some(&first)
    );
    assert_eq!(
        sessions.load(&intruder.id).await.unwrap().as_ref(),
        Some(&intruder)
    );

    // save replaces the record and its TTL.
    let mut changed = first.clone();
    changed.data.insert("tag".into(), json!("changed"));
    changed.expiry_date = OffsetDateTime::from(now() + 2 * hour);
    sessions.save(&changed).await.unwrap();
    assert_eq!(
        sessions.load(&first.id).await.unwrap().as_ref(),
        Some(&changed)
    );
    assert_eq!(kv.ttl(&key).await.unwrap().as_secs(), 7200);
    // save of a session never created stores it (an upsert), with its TTL.
    let fresh = record(now(), hour, "saved");
    sessions.save(&fresh).await.unwrap();
    assert_eq!(
        sessions.load(&fresh.id).await.unwrap().as_ref(),
        Some(&fresh)
    );

    assert_all_keys_expire(&kv, 2 * hour).await;

    // save with an expiry_date already past removes the session.
    let mut past = changed.clone();
    past.expiry_date = OffsetDateTime::from(now() - Duration::from_secs(1));
    sessions.save(&past).await.unwrap();
    assert_eq!(sessions.load(&first.id).await.unwrap(), None);
    assert!(!kv.exists(&key).await.unwrap());
    // create of a record born expired stores nothing.
    let mut born_dead = record(now() - hour, Duration::from_secs(1), "dead");
    sessions.create(&mut born_dead).await.unwrap();
    assert_eq!(sessions.load(&born_dead.id).await.unwrap(), None);
    assert!(!kv.exists(&sessions.key(&born_dead.id)).await.unwrap());

    // delete.
    sessions.delete(&intruder.id).await.unwrap();
    assert_eq!(sessions.load(&intruder.id).await.unwrap(), None);
    sessions.delete(&intruder.id).await.unwrap(); // deleting again is fine

    // Something else under a session's key is an error, not a panic and not a session.
    let foreign = Id::default();
    kv.set_with_ttl(&sessions.key(&foreign), 5, hour)
        .await
        .unwrap();
    assert!(sessions.load(&foreign).await.is_err());
    kv.set_with_ttl(&sessions.key(&foreign), "{not json", hour)
        .await
        .unwrap();
    assert!(sessions.load(&foreign).await.is_err());
    // A record stored under another id's key is refused too.
    let other = record(now(), hour, "other");
    let text = serde_json::to_string(&other).unwrap();
    kv.set_with_ttl(&sessions.key(&foreign), text, hour)
        .await
        .unwrap();
    assert!(sessions.load(&foreign).await.is_err());

    assert_all_keys_expire(&kv, 2 * hour).await;
}

#[test]
fn conformance_in_process() {
    let (store, _clock, now) = common::store_and_clock();
    let sessions = KvSessionStore::new(store.clone())
        .with_prefix(PREFIX)
        .with_clock(now.clone());
    common::run(conformance(store, sessions, now));
}

#[test]
fn conformance_on_redis() {
    common::run(async {
        let kv = common::redis(&common::unique_namespace("sessions")).await;
        let sessions = KvSessionStore::new(kv.clone()).with_prefix(PREFIX);
        conformance(kv, sessions, SystemTime::now).await;
    });
}

#[test]
fn conformance_on_the_redis_cluster() {
    common::run(async {
        let kv = common::cluster(&common::unique_namespace("sessions")).await;
        let sessions = KvSessionStore::new(kv.clone()).with_prefix(PREFIX);
        conformance(kv, sessions, SystemTime::now).await;
    });
}

/// A session ends at its `expiry_date`, to the instant: alive a microsecond before, gone at it
/// (the store's test clock and the sessions' clock are one).
#[test]
fn a_session_expires_at_its_expiry_date() {
    let (store, clock, now): (_, TestClock, _) = common::store_and_clock();
    let sessions = KvSessionStore::new(store.clone())
        .with_prefix(PREFIX)
        .with_clock(now.clone());
    common::run(async {
        let mut rec = record(now(), Duration::from_secs(10), "short");
        sessions.create(&mut rec).await.unwrap();
        clock.advance(Duration::from_secs(10) - Duration::from_micros(1));
        assert_eq!(sessions.load(&rec.id).await.unwrap().as_ref(), Some(&rec));
        clock.advance(Duration::from_micros(1));
        assert_eq!(sessions.load(&rec.id).await.unwrap(), None);
        assert!(!store.exists(&sessions.key(&rec.id)));
        // save moves the end: a record saved with a later date lives until then.
        let mut rec = record(now(), Duration::from_secs(10), "saved");
        sessions.create(&mut rec).await.unwrap();
        rec.expiry_date = OffsetDateTime::from(now() + Duration::from_secs(30));
        sessions.save(&rec).await.unwrap();
        clock.advance(Duration::from_secs(29));
        assert!(sessions.load(&rec.id).await.unwrap().is_some());
        clock.advance(Duration::from_secs(1));
        assert_eq!(sessions.load(&rec.id).await.unwrap(), None);
        // Both records are expired entries now, which the cleaner removes.
        assert_eq!(store.purge_expired(), 2, "expired, not left behind");
        assert!(store.keys("*").unwrap().is_empty());
    });
}

/// Two replicas, each with its own connection to one Redis namespace: a session created on
/// one loads on the other, a save on the other is seen by the first, and a delete anywhere
/// ends it everywhere. Also on Redis, a session ends at its expiry date (a short one, waited
/// for with a bound).
#[test]
fn a_session_saved_on_one_replica_loads_on_another_on_redis() {
    common::run(async {
        let ns = common::unique_namespace("replicas");
        let (a, b) = (common::redis(&ns).await, common::redis(&ns).await);
        let (one, two) = (
            KvSessionStore::new(a).with_prefix(PREFIX),
            KvSessionStore::new(b).with_prefix(PREFIX),
        );
        let mut rec = record(SystemTime::now(), Duration::from_secs(600), "shared");
        one.create(&mut rec).await.unwrap();
        assert_eq!(two.load(&rec.id).await.unwrap().as_ref(), Some(&rec));
        rec.data.insert("tag".into(), json!("saved on two"));
        two.save(&rec).await.unwrap();
        assert_eq!(one.load(&rec.id).await.unwrap().as_ref(), Some(&rec));
        // A collision across replicas: the second create keeps its hands off.
        let mut clash = record(SystemTime::now(), Duration::from_secs(600), "clash");
        clash.id = rec.id;
        two.create(&mut clash).await.unwrap();
        assert_ne!(clash.id, rec.id);
        assert_eq!(one.load(&rec.id).await.unwrap().as_ref(), Some(&rec));
        one.delete(&rec.id).await.unwrap();
        assert_eq!(two.load(&rec.id).await.unwrap(), None);

        let mut short = record(SystemTime::now(), Duration::from_millis(300), "short");
        one.create(&mut short).await.unwrap();
        let since = std::time::Instant::now();
        while two.load(&short.id).await.unwrap().is_some() {
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "the session outlived its expiry date"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}
