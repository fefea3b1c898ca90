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
