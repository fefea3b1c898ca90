//! Evictions and expiry racing on the same entries, in a process of its own: the churn leaves
//! retired slots for crossbeam-epoch to free, which would count against the RSS bound of the
//! flood test in `tests/bounded.rs` if the two ran side by side.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use scriptling_kv::{RemovalCause, Store, TestClock, Value};

type Log = Arc<Mutex<Vec<(String, Value, RemovalCause)>>>;

/// Evictions and expiry racing on the same entries (the eviction queues' flags and the expiry
/// engine's record tick share one word per entry, `Entry::scheduled`): writers churning TTLs on
/// a capped store, evicting as they create keys, while a purger advances the clock and visits
/// records. After every deadline has passed, one purge must leave the store empty (no key kept
/// without a pending record, none kept in no queue), and every removal must be reported and
/// counted exactly once. An end-to-end check: a stranded key needs a long interleaving this
/// stress may not hit; the word's bit discipline has its own unit test in `entry.rs`.
#[test]
fn evictions_and_expiry_racing_on_one_entry_lose_no_record_and_no_key() {
    let clock = TestClock::new();
    let log: Log = Arc::default();
    let l = log.clone();
    let s = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .max_keys(200)
        .removal_listener(move |k, v, c| l.lock().unwrap().push((k.to_string(), v.clone(), c)))
        .build();
    let purged_during = AtomicUsize::new(0);
    let writers_done = AtomicUsize::new(0);
    let start = Barrier::new(4);
    thread::scope(|scope| {
        for t in 0..3u64 {
            let (s, start, writers_done) = (&s, &start, &writers_done);
            scope.spawn(move || {
                start.wait();
                let mut x = 0x9e37_79b9_7f4a_7c15 ^ (t + 1);
                for _ in 0..60_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("k{}", x % 1000);
                    let ttl = Duration::from_millis(1 + (x >> 20) % 8);
                    match x % 3 {
                        0 => s.set_with_ttl(&key, 1, ttl),
                        1 => {
                            s.expire(&key, ttl);
                        }
                        _ => {
                            let _ = s.incr_with_ttl(&key, 1, ttl);
                        }
                    }
                }
                writers_done.fetch_add(1, Ordering::SeqCst);
            });
        }
        let (s, clock, start, purged_during) = (&s, &clock, &start, &purged_during);
        let writers_done = &writers_done;
        // The purger runs for as long as the writers do, so the two overlap on any scheduler.
        scope.spawn(move || {
            start.wait();
            while writers_done.load(Ordering::SeqCst) < 3 {
                clock.advance(Duration::from_micros(200));
                purged_during.fetch_add(s.purge_expired(), Ordering::Relaxed);
                thread::yield_now();
            }
        });
    });
    clock.advance(Duration::from_secs(1));
    s.purge_expired();
    assert_eq!(
        s.len(),
        0,
        "keys left after every deadline passed and a purge"
    );
    let st = s.stats();
    assert!(st.evicted > 0, "no eviction raced the writers: {st:?}");
    assert!(
        purged_during.load(Ordering::Relaxed) > 0,
        "no purge removed a key while the writers ran"
    );
    let log = log.lock().unwrap();
    assert_eq!(
        log.len() as u64,
        st.evicted + st.expired,
        "every removal reported once and counted once"
    );
}
