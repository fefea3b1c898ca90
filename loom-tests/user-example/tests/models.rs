//! The user's loom models. Built without the loom cfgs they compile to nothing.
#![cfg(scriptling_kv_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use scriptling_kv::{Store, TestClock, Ttl};
use scriptling_kv_loom_example::{allow, allow_broken, lock, lock_broken, unlock, LIMIT, WINDOW};

/// A store for a model: the test clock, no cleaner thread (under loom there is none anyway;
/// call `purge_expired` to run the cleaner's step).
fn store() -> (Store, TestClock) {
    let clock = TestClock::new();
    let store = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build();
    (store, clock)
}

fn bounded() -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(2);
    b
}

/// Two requests of one client race: never more than `LIMIT` allowed in the window, and the
/// window's counter is never seen without its TTL (a counter without one never expires: its
/// client would be limited forever).
fn rate_limiter(allow: fn(&Store, &str) -> bool) {
    bounded().check(move || {
        let (store, clock) = store();
        let allowed = Arc::new(AtomicUsize::new(0));
        let other = {
            let (store, allowed) = (store.clone(), allowed.clone());
            loom::thread::spawn(move || {
                if allow(&store, "c") {
                    allowed.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        if allow(&store, "c") {
            allowed.fetch_add(1, Ordering::SeqCst);
        }
        assert_ne!(
            store.ttl("rate:c"),
            Ttl::Persistent,
            "a window counter without a TTL"
        );
        other.join().unwrap();
        let n = allowed.load(Ordering::SeqCst);
        assert!(n <= LIMIT as usize, "{n} requests allowed in one window");
        // The window ends.
        clock.advance(WINDOW);
        store.purge_expired();
        assert!(
            !store.exists("rate:c"),
            "the window's counter never expires"
        );
    });
}

#[test]
fn rate_limiter_allows_at_most_the_limit_per_window() {
    rate_limiter(allow);
}

/// The broken limiter fails the same model: between one request's `incr` and its `expire`, the
/// counter has no TTL (and would keep none if the request died there).
#[test]
#[should_panic(expected = "a window counter without a TTL")]
fn broken_rate_limiter_fails_the_model() {
    rate_limiter(allow_broken);
}

/// Two owners race for the lock: never two holders; the holder's release frees it, and the
/// other's release does not.
fn lock_model(lock: fn(&Store, &str, &str) -> bool) {
    bounded().check(move || {
        let (store, _clock) = store();
        let other = {
            let store = store.clone();
            loom::thread::spawn(move || lock(&store, "job", "b"))
        };
        let a = lock(&store, "job", "a");
        let b = other.join().unwrap();
        assert!(!(a && b), "two holders of the lock");
        assert!(a || b, "nobody got a free lock");
        let (holder, other) = if a { ("a", "b") } else { ("b", "a") };
        assert!(!unlock(&store, "job", other), "a release by a non-holder");
        assert!(
            unlock(&store, "job", holder),
            "the holder could not release"
        );
        assert!(!store.exists("lock:job"));
    });
}

#[test]
fn lock_has_at_most_one_holder() {
    lock_model(lock);
}

/// The broken lock (`exists`, then `set`) fails the same model: both owners hold it.
#[test]
#[should_panic(expected = "two holders of the lock")]
fn broken_lock_fails_the_model() {
    lock_model(lock_broken);
}
