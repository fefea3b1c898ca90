//! Models of the single-flight loads: one `init` among concurrent loaders, a loader that fails
//! hands over to a waiter, and a plain read never waits for a load.
#![cfg(scriptling_kv_loom)]

mod common;

use std::time::Duration;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use scriptling_kv::Value;

/// Two callers miss the same key at once: exactly one runs its `init`, and both return its
/// value. Mutant `no_flight` (every caller that misses loads) fails it.
#[test]
fn two_loaders_run_one_init() {
    common::model("two_loaders_run_one_init", 3, || {
        let (store, _clock) = common::new_store();
        let inits = Arc::new(AtomicUsize::new(0));
        let other = {
            let (store, inits) = (store.clone(), inits.clone());
            loom::thread::spawn(move || {
                store.get_or_insert_with("k", Some(Duration::from_secs(10)), || {
                    inits.fetch_add(1, Ordering::SeqCst);
                    "b"
                })
            })
        };
        let mine = store.get_or_insert_with("k", Some(Duration::from_secs(10)), || {
            inits.fetch_add(1, Ordering::SeqCst);
            "a"
        });
        let theirs = other.join().unwrap();
        let n = inits.load(Ordering::SeqCst);
        if n != 1 || mine != theirs || store.get("k") != Some(mine.clone()) {
            return Err(format!(
                "{n} inits ran; returned {mine:?} and {theirs:?}; stored {:?}",
                store.get("k")
            ));
        }
        Ok(())
    });
}

/// The loader's `init` fails while another caller waits: the waiter loads instead (loom would
/// report a deadlock if it waited forever), and the failure stores nothing. Mutant
/// `abandon_silently` (a failing loader does not wake its waiters) fails it with a deadlock.
#[test]
fn a_failing_loader_hands_over_to_its_waiter() {
    common::model("a_failing_loader_hands_over_to_its_waiter", 3, || {
        let (store, _clock) = common::new_store();
        let other = {
            let store = store.clone();
            loom::thread::spawn(move || {
                store.try_get_or_insert_with("k", Some(Duration::from_secs(10)), || {
                    Err::<Value, _>("upstream down")
                })
            })
        };
        let mine = store.get_or_insert_with("k", Some(Duration::from_secs(10)), || "mine");
        let theirs = other.join().unwrap();
        // Either the failure came first (then this caller loaded, or waited and took over), or
        // this caller's load came first (then the other one hit it).
        let ok = mine == Value::from("mine")
            && matches!(&theirs, Err("upstream down") | Ok(Value::Str(_)))
            && store.get("k") == Some(Value::from("mine"));
        if !ok {
            return Err(format!(
                "mine {mine:?}, theirs {theirs:?}, stored {:?}",
                store.get("k")
            ));
        }
        Ok(())
    });
}

/// While a load is in flight (its `init` waits until the reader has finished), `get`, `exists`
/// and `ttl` answer without waiting for it. Mutant `reads_wait` (a read waits for its key's
/// load) fails it: the reader waits for the loader, which spins until the reader is done (loom
/// reports the livelock as "exceeded maximum number of branches").
#[test]
fn a_reader_never_waits_for_a_load() {
    common::model("a_reader_never_waits_for_a_load", 3, || {
        let (store, _clock) = common::new_store();
        let read_done = Arc::new(AtomicBool::new(false));
        let loader = {
            let (store, read_done) = (store.clone(), read_done.clone());
            loom::thread::spawn(move || {
                store.get_or_insert_with("k", Some(Duration::from_secs(10)), || {
                    while !read_done.load(Ordering::SeqCst) {
                        loom::thread::yield_now();
                    }
                    "loaded"
                })
            })
        };
        let seen = (store.get("k"), store.exists("k"));
        read_done.store(true, Ordering::SeqCst);
        let loaded = loader.join().unwrap();
        let ok = matches!(seen, (None, false) | (Some(_), true)) && loaded == Value::from("loaded");
        if !ok {
            return Err(format!("reader saw {seen:?}, loader returned {loaded:?}"));
        }
        Ok(())
    });
}
