//! The background cleaner thread (`scriptling-kv-cleaner`, which Linux shows truncated to 15
//! bytes as `scriptling-kv-c`): one per store with background cleanup, none without, and it ends
//! promptly once the last handle is dropped, even with a long cleanup interval.
//!
//! A single test in its own binary, so no other test's stores start or stop cleaners while it
//! counts threads. Linux only: it reads `/proc/self/task/*/comm`.
#![cfg(target_os = "linux")]

use std::time::Duration;

use scriptling_kv::Store;

const COMM: &str = "scriptling-kv-c";

/// Threads of this process named like the cleaner.
fn cleaner_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == COMM)
        .count()
}

/// Polls for up to 5 s until the count is `want`; returns the last count seen.
fn wait_for(want: usize) -> usize {
    let mut n = cleaner_threads();
    for _ in 0..1000 {
        if n == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        n = cleaner_threads();
    }
    n
}

/// Gives a thread that should *not* start or stop time to do so, then counts.
fn settle() -> usize {
    std::thread::sleep(Duration::from_millis(50));
    cleaner_threads()
}

#[test]
fn one_cleaner_per_store_ending_when_the_last_handle_drops() {
    let before = cleaner_threads();

    // No background cleanup: no thread.
    let manual = Store::builder().background_cleanup(false).build();
    manual.set("k", 1);
    assert_eq!(
        settle(),
        before,
        "background_cleanup(false) started a thread"
    );

    // Default store (60 s interval) and one with a 1 h interval: one thread each.
    let a = Store::new();
    assert_eq!(
        wait_for(before + 1),
        before + 1,
        "Store::new() started no cleaner"
    );
    let b = Store::builder()
        .cleanup_interval(Duration::from_secs(3600))
        .build();
    assert_eq!(wait_for(before + 2), before + 2);

    // Clones share the store and its one thread; dropping one of two handles keeps it.
    let b2 = b.clone();
    assert_eq!(settle(), before + 2, "a clone started a thread");
    drop(b);
    assert_eq!(
        settle(),
        before + 2,
        "the cleaner ended while a handle was alive"
    );
    b2.set("still", "here");
    assert_eq!(b2.get("still").unwrap().as_str(), Some("here"));

    // The last handle, dropped on another thread: its cleaner ends promptly although it would
    // otherwise sleep for an hour.
    std::thread::spawn(move || drop(b2)).join().unwrap();
    assert_eq!(
        wait_for(before + 1),
        before + 1,
        "the 1 h cleaner outlived its store"
    );

    // A store whose cleaner is busy (1 ms interval, keys expiring all the time) when dropped.
    let busy = Store::builder()
        .cleanup_interval(Duration::from_millis(1))
        .build();
    assert_eq!(wait_for(before + 2), before + 2);
    for i in 0..2_000 {
        busy.set_with_ttl(&format!("k{i}"), i, Duration::from_nanos(1 + i as u64));
    }
    drop(busy);
    assert_eq!(
        wait_for(before + 1),
        before + 1,
        "a busy cleaner outlived its store"
    );

    drop(a);
    assert_eq!(
        wait_for(before),
        before,
        "the default store's cleaner outlived it"
    );
    drop(manual);
    assert_eq!(settle(), before);
}
