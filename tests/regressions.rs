//! Regression tests of the two consistency holes a review found (both fixed; both tests fail on
//! the code before the fix, commit 00e460c):
//!
//! 1. `expire` / `persist` could bring back a key that a reader had already seen expired: they
//!    judged the key live at one clock reading and installed the new deadline later, and time
//!    could pass in between (widened here by a large value, which the old `expire` copied).
//! 2. `keys` could list a key that was absent for the whole call: it judged every slot against
//!    one clock reading taken early in the walk, so a `set_with_ttl` that landed already expired
//!    was listed (widened here by a slow `Into<Value>`, which the old `set_with_ttl` ran between
//!    its clock reading and its write).
//!
//! The loom models `time::expire_racing_expiry_never_revives_the_key`,
//! `time::persist_racing_expiry_never_revives_the_key` and
//! `time::keys_never_lists_a_key_written_already_expired` check the same claims exhaustively on
//! small histories; these tests drive the real store with real threads.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use scriptling_kv::{Store, TestClock, Value};

#[path = "support/clocked.rs"]
mod clocked;
use clocked::clocked as store;

/// A value big enough that copying it takes a while (the old `expire` copied it).
fn big() -> Value {
    Value::from("x".repeat(8 << 20))
}

/// Runs `write` (an `expire` or `persist` of a key 1 s before its deadline) on another thread
/// while this one moves the clock past the deadline and checks the key; a `true` from `write`
/// after a read saw the key gone is the hole.
fn never_revives(what: &str, write: fn(&Store) -> bool) {
    let mut revived = Vec::new();
    for trial in 0..40 {
        let (s, clock) = store();
        s.set_with_ttl("k", big(), Duration::from_secs(10));
        clock.advance(Duration::from_secs(9));
        let started = Arc::new(AtomicBool::new(false));
        let writer = {
            let (s, started) = (s.clone(), started.clone());
            thread::spawn(move || {
                started.store(true, Ordering::SeqCst);
                write(&s)
            })
        };
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        // Give the writer time to judge the key live, then let the deadline pass.
        let t = Instant::now();
        while t.elapsed() < Duration::from_micros(300 + 50 * (trial % 10)) {
            std::hint::spin_loop();
        }
        clock.advance(Duration::from_secs(2));
        let seen_after_deadline = s.exists("k");
        let wrote = writer.join().unwrap();
        let now = s.exists("k");
        // Linearizable outcomes: the write landed before the deadline passed (the reader saw the
        // key, and it stays), or it found the key expired (it returned false and the key is
        // gone).
        if wrote && !seen_after_deadline {
            revived.push((trial, now));
        }
        assert_eq!(
            now, wrote,
            "{what}: the key's fate must follow the write's result"
        );
    }
    assert!(
        revived.is_empty(),
        "{what} returned true after a read had seen the key expired (trial, key back): \
         {revived:?}"
    );
}

#[test]
fn expire_never_revives_a_key_a_reader_saw_expired() {
    never_revives("expire", |s| s.expire("k", Duration::from_secs(60)));
}

#[test]
fn persist_never_revives_a_key_a_reader_saw_expired() {
    never_revives("persist", |s| s.persist("k"));
}

/// A value whose conversion stops half-way: it reports that it started, then waits until told to
/// go on (`0` waiting, `1` converting, `2` go on).
struct Gate(Arc<AtomicU8>);

impl From<Gate> for Value {
    fn from(gate: Gate) -> Value {
        gate.0.store(1, Ordering::SeqCst);
        let t = Instant::now();
        while gate.0.load(Ordering::SeqCst) != 2 && t.elapsed() < Duration::from_secs(5) {
            thread::yield_now();
        }
        Value::Int(7)
    }
}

#[test]
fn keys_never_lists_a_key_written_already_expired() {
    const FILLER: usize = 200_000;
    let mut listed = Vec::new();
    for trial in 0..8 {
        let (s, clock) = store();
        // Fillers with a TTL, so a walk that reads the clock on its first TTL slot reads it at
        // once.
        for i in 0..FILLER {
            s.set_with_ttl(&format!("f{i}"), 0, Duration::from_secs(3600));
        }
        let key = format!("late{trial}");
        let gate = Arc::new(AtomicU8::new(0));
        let walking = Arc::new(AtomicBool::new(false));
        let walker = {
            let (s, walking) = (s.clone(), walking.clone());
            thread::spawn(move || {
                walking.store(true, Ordering::SeqCst);
                s.keys("*").unwrap()
            })
        };
        while !walking.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        thread::sleep(Duration::from_millis(2));
        let writer = {
            let (s, key, gate) = (s.clone(), key.clone(), gate.clone());
            thread::spawn(move || s.set_with_ttl(&key, Gate(gate), Duration::from_millis(10)))
        };
        // The writer is converting its value: move the clock past any deadline it computed.
        while gate.load(Ordering::SeqCst) != 1 {
            thread::yield_now();
        }
        clock.advance(Duration::from_millis(20));
        gate.store(2, Ordering::SeqCst);
        writer.join().unwrap();
        let keys = walker.join().unwrap();
        // The clock has not moved since the write, and nothing else wrote the key: if it is not
        // live now it never was (its TTL was counted from before the advance: the old
        // `set_with_ttl` read the clock before converting its value), and must not be listed.
        if keys.contains(&key) && !s.exists(&key) {
            listed.push(trial);
        }
    }
    assert!(
        listed.is_empty(),
        "keys listed a key that was never live, in trials {listed:?}"
    );
}

// Issue #20: `max_keys` broke with one thread. Dead entries (deleted, or moved to the other kind)
// stayed in the eviction queues, and an eviction gave up after a fixed number of pops (20 of the
// TTL queue, 64 of the persistent one), so the write returned over the cap, or took a persistent
// key while keys with a TTL lived. These fail on the commit before the fix (57212c7).

/// A store on a hand-driven clock, without the cleaner, capped at `n` keys.
fn capped(n: usize) -> Store {
    Store::builder()
        .test_clock(TestClock::new())
        .background_cleanup(false)
        .max_keys(n)
        .build()
}

/// 950 keys written and deleted (half with a TTL), then one writer fills a `max_keys(100)` store:
/// it held 110 keys with `evicted = 0` before the fix.
#[test]
fn dead_queue_entries_never_stop_an_eviction() {
    let s = capped(100);
    for i in 0..950 {
        let k = format!("old:{i}");
        if i % 2 == 0 {
            s.set_with_ttl(&k, i, Duration::from_secs(60));
        } else {
            s.set(&k, i);
        }
        assert!(s.delete(&k));
    }
    for i in 0..110 {
        s.set(&format!("new:{i}"), i);
        assert!(s.len() <= 100, "{} keys after new:{i}", s.len());
    }
    assert_eq!(s.len(), 100);
    assert_eq!(s.stats().evicted, 10);
    assert!(!s.exists("new:0") && s.exists("new:10") && s.exists("new:109"));
}

/// An all-TTL store after 60 deletes crept over its cap by one key per 20 dead entries
/// (99, 100, 101, 102, 103, 100).
#[test]
fn an_all_ttl_store_never_creeps_over_its_cap_after_deletes() {
    let s = capped(100);
    let ttl = |i: u64| Duration::from_secs(1000 + i);
    for i in 0..100 {
        s.set_with_ttl(&format!("s:{i}"), 1, ttl(i));
    }
    for i in 0..60 {
        assert!(s.delete(&format!("s:{i}")));
    }
    let mut lens = Vec::new();
    for i in 100..200 {
        s.set_with_ttl(&format!("s:{i}"), 1, ttl(i));
        lens.push(s.len());
    }
    assert!(lens.iter().all(|&n| n <= 100), "{lens:?}");
    assert_eq!(s.stats().evicted, 40);
}

/// 25 deleted TTL keys at the head of the TTL queue, 5 live sessions and 95 persistent keys: one
/// more `set` evicted `config:0` while the sessions lived, against the documented order.
#[test]
fn a_persistent_key_is_never_evicted_while_a_key_with_a_ttl_lives() {
    let s = capped(100);
    for i in 0..25 {
        s.set_with_ttl(&format!("gone:{i}"), 1, Duration::from_secs(10));
        s.delete(&format!("gone:{i}"));
    }
    for i in 0..5 {
        s.set_with_ttl(&format!("session:{i}"), 1, Duration::from_secs(3600));
    }
    for i in 0..95 {
        s.set(&format!("config:{i}"), i);
    }
    s.set("config:new", 1);
    assert_eq!(s.len(), 100);
    assert!(
        s.exists("config:0"),
        "a persistent key went while sessions lived"
    );
    let sessions = (0..5).filter(|i| s.exists(&format!("session:{i}"))).count();
    assert_eq!(sessions, 4, "one session made room");
}

/// (An extra check, which passed before the fix too.) Keys moved between the queues (`persist`,
/// `expire`) never stop an eviction nor break the order: every key gets a TTL in place after it
/// was written persistent, and the other way.
#[test]
fn keys_moved_between_the_queues_are_ordered_by_their_current_kind() {
    let s = capped(10);
    for i in 0..10 {
        s.set(&format!("p:{i}"), i);
    }
    // All ten now have a TTL, set in place: they sit in the persistent queue.
    for i in 0..10 {
        assert!(s.expire(&format!("p:{i}"), Duration::from_secs(100 + i)));
    }
    s.set("config", 1);
    assert_eq!(s.len(), 10);
    assert!(s.exists("config"));
    assert!(!s.exists("p:0"), "the soonest deadline of the sample went");
    // Now the other way: TTL keys made persistent in place sit in the TTL queue.
    for i in 1..10 {
        assert!(s.persist(&format!("p:{i}")));
    }
    s.set_with_ttl("session", 1, Duration::from_secs(5));
    s.set("config:2", 1);
    assert_eq!(s.len(), 10);
    assert!(!s.exists("session"), "the only key with a TTL goes first");
}
