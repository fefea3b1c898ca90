//! Model of the key cap: an eviction racing a write to the evicted key never removes the newer
//! value (the victim is killed only from the exact slot inspected, as the cleaner does).
#![cfg(scriptling_kv_loom)]

mod common;

use std::sync::{Arc, Mutex};

use scriptling_kv::{Store, TestClock, Value};

/// `max_keys(1)`: creating `b` evicts `a` (the only other key) while another thread overwrites
/// `a`. If `a` is gone at the end, the removal that took it must have removed (and reported) its
/// last value, 3: an eviction decided on `a = 1` must not remove the `3` written after the look.
/// Mutant `evict_any_slot` (the victim is killed whatever slot it holds now) fails it.
#[test]
fn eviction_racing_a_write_never_removes_the_newer_value() {
    common::model(
        "eviction_racing_a_write_never_removes_the_newer_value",
        3,
        || {
            let reports: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
            let log = reports.clone();
            let store = Store::builder()
                .test_clock(TestClock::new())
                .background_cleanup(false)
                .max_keys(1)
                .removal_listener(move |k, v, _| log.lock().unwrap().push((k.into(), v.clone())))
                .build();
            store.set("a", 1);
            let writer = {
                let store = store.clone();
                loom::thread::spawn(move || store.set("a", 3))
            };
            store.set("b", 2);
            writer.join().unwrap();
            let last_a = reports
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find(|(k, _)| k == "a")
                .map(|(_, v)| v.clone());
            if store.get("a").is_none() && last_a != Some(Value::Int(3)) {
                return Err(format!(
                    "a is gone but the last removal of a reported {last_a:?}: {:?}",
                    reports.lock().unwrap()
                ));
            }
            if store.len() > 1 + 1 {
                return Err(format!("{} keys held with max_keys(1)", store.len()));
            }
            Ok(())
        },
    );
}

/// Reports of a store's removal listener: (key, value, cause).
type Reports = Arc<Mutex<Vec<(String, Value, scriptling_kv::RemovalCause)>>>;

/// A store on a loom test clock, without the cleaner, capped at `n` keys, logging removals.
fn logged(n: usize) -> (Store, Reports) {
    let reports: Reports = Arc::default();
    let log = reports.clone();
    let store = Store::builder()
        .test_clock(TestClock::new())
        .background_cleanup(false)
        .max_keys(n)
        .removal_listener(move |k, v, c| log.lock().unwrap().push((k.into(), v.clone(), c)))
        .build();
    (store, reports)
}

/// `max_keys(1)`: creating `b` must evict `a` while another thread deletes `a`. Whoever removed
/// `a`, it was removed once: if the `delete` reports it removed `a`, the store must not also
/// report (or count) an eviction of it; if not, the eviction did. Either way the bound holds once
/// both are done, and `b` (the writer's own key) is there. Mutant `evict_deleted_victim` (a
/// victim whose kill failed is reported anyway) fails it.
#[test]
fn eviction_racing_a_delete_of_its_victim_reports_nothing_and_keeps_the_bound() {
    common::model(
        "eviction_racing_a_delete_of_its_victim_reports_nothing_and_keeps_the_bound",
        3,
        || {
            let (store, reports) = logged(1);
            store.set("a", 1);
            let deleter = {
                let store = store.clone();
                loom::thread::spawn(move || store.delete("a"))
            };
            store.set("b", 2);
            let deleted = deleter.join().unwrap();
            let reports = reports.lock().unwrap().clone();
            let a_reported = reports.iter().filter(|(k, _, _)| k == "a").count();
            if usize::from(deleted) + a_reported != 1 {
                return Err(format!(
                    "a removed {} times: delete returned {deleted}, reports {reports:?}",
                    usize::from(deleted) + a_reported
                ));
            }
            if store.stats().evicted != reports.len() as u64 {
                return Err(format!(
                    "evicted = {} but {} reports",
                    store.stats().evicted,
                    reports.len()
                ));
            }
            if store.len() > 1 || store.get("b") != Some(Value::Int(2)) {
                return Err(format!(
                    "len {} with max_keys(1), b = {:?}",
                    store.len(),
                    store.get("b")
                ));
            }
            Ok(())
        },
    );
}

/// `max_keys(1)`, with two dead entries at the head of the TTL queue (two keys with a TTL,
/// deleted) and one live persistent key: two threads each create a key. Every eviction meets a
/// dead entry first; it must drop it and go on, so that once both writes are done the store
/// holds one key. Mutant `dead_stops_eviction` (an eviction that pops a dead entry gives up, as
/// before issue #20) fails it.
#[test]
fn an_eviction_meeting_dead_queue_entries_still_makes_room() {
    common::model(
        "an_eviction_meeting_dead_queue_entries_still_makes_room",
        2,
        || {
            let (store, reports) = logged(1);
            for k in ["d1", "d2"] {
                store.set_with_ttl(k, 0, std::time::Duration::from_secs(10));
                store.delete(k);
            }
            store.set("p", 1);
            let writer = {
                let store = store.clone();
                loom::thread::spawn(move || store.set("q", 2))
            };
            store.set("b", 3);
            writer.join().unwrap();
            // Two racing evictors may both remove a key for the same excess (each saw the store
            // over its cap): the bound is an upper bound, so 0 keys is allowed, 2 is not.
            let reports = reports.lock().unwrap().clone();
            if store.len() > 1 {
                return Err(format!(
                    "{} keys held with max_keys(1) and no write in progress; reports {reports:?}",
                    store.len(),
                ));
            }
            if store.stats().evicted != reports.len() as u64 || reports.len() + store.len() != 3 {
                return Err(format!(
                    "evicted = {}, reports {reports:?}, {} keys left of 3",
                    store.stats().evicted,
                    store.len()
                ));
            }
            Ok(())
        },
    );
}

/// `max_keys(2)` holding `t` (with a TTL) and `p` (without): two threads each create a key
/// without a TTL, so two keys must go, `t` first: `p` may be evicted only once `t` is gone, even
/// while the other evictor holds `t` out of the TTL queue in its sample. The listener looks when
/// `p` is reported. Mutant `ignore_held` (an evictor that finds the TTL queue empty takes a key
/// without a TTL even while another holds keys with one) fails it.
#[test]
fn a_persistent_key_is_not_evicted_while_another_evictor_holds_a_ttl_key() {
    common::model(
        "a_persistent_key_is_not_evicted_while_another_evictor_holds_a_ttl_key",
        2,
        || {
            let me: Arc<Mutex<Option<scriptling_kv::WeakStore>>> = Arc::default();
            let bad: Arc<Mutex<Vec<String>>> = Arc::default();
            let store = {
                let me = me.clone();
                let bad = bad.clone();
                Store::builder()
                    .test_clock(TestClock::new())
                    .background_cleanup(false)
                    .max_keys(2)
                    .removal_listener(move |k, _, _| {
                        let store = me.lock().unwrap().as_ref().and_then(|w| w.upgrade());
                        if let Some(store) = store {
                            if k != "t" && store.exists("t") {
                                bad.lock().unwrap().push(k.to_owned());
                            }
                        }
                    })
                    .build()
            };
            *me.lock().unwrap() = Some(store.downgrade());
            store.set_with_ttl("t", 0, std::time::Duration::from_secs(10));
            store.set("p", 1);
            let writer = {
                let store = store.clone();
                loom::thread::spawn(move || store.set("x", 2))
            };
            store.set("y", 3);
            writer.join().unwrap();
            let bad = bad.lock().unwrap().clone();
            if !bad.is_empty() {
                return Err(format!("{bad:?} evicted (no TTL) while t (TTL) was live"));
            }
            if store.len() > 2 || store.exists("t") {
                return Err(format!(
                    "len {}, t there: {}",
                    store.len(),
                    store.exists("t")
                ));
            }
            Ok(())
        },
    );
}
