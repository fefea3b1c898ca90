//! Claims of the docs that need a test of their own: readers never block, `keys` leaves out keys
//! that expired before it judged them, the builder's options take effect, and the expiry engine's
//! bookkeeping stays bounded (compaction threshold, shortened TTLs).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use scriptling_kv::{Store, Ttl, Value};

#[path = "support/clocked.rs"]
mod clocked;
use clocked::clocked;

/// "Readers never block": with every lock the store has held by another thread (the expiry
/// engine's wheel and its 16 schedule buffers), `get`, `get_with`, `exists`, `ttl` and `keys`
/// all complete, on live keys, persistent keys, missing keys and expired keys (which a reader
/// marks, with a CAS, and does not wait for the cleaner). A reader that took any of those locks
/// would wait forever; the wait here is bounded, so that is a failure, not a hang.
#[test]
fn readers_finish_while_every_lock_of_the_store_is_held() {
    let (s, clock) = clocked();
    for i in 0..1000 {
        s.set_with_ttl(
            &format!("ttl:{i}"),
            i,
            Duration::from_secs(10 + (i % 3) as u64),
        );
        s.set(&format!("plain:{i}"), i);
    }
    s.set_with_ttl("soon", "x", Duration::from_secs(1));
    let held = s.__hold_locks();
    clock.advance(Duration::from_secs(10)); // `soon` and a third of the ttl keys expire
    let (done, finished) = mpsc::channel();
    let reader = {
        let s = s.clone();
        thread::spawn(move || {
            let mut answers = Vec::new();
            for round in 0..3 {
                answers.push(s.get("plain:7") == Some(Value::Int(7)));
                answers.push(s.get("soon").is_none());
                answers.push(s.get_with("ttl:1", |v| v.as_int()) == Some(Some(1)));
                answers.push(!s.exists("ttl:0")); // expired at 10 s
                answers.push(s.exists("ttl:2"));
                answers.push(s.ttl("ttl:2") == Ttl::Expires(Duration::from_secs(2)));
                answers.push(s.ttl("missing") == Ttl::Missing);
                let keys = s.keys("ttl:*").unwrap();
                answers.push(keys.len() == 666);
                answers.push(s.keys("plain:*").unwrap().len() == 1000);
                done.send(round).unwrap();
            }
            answers
        })
    };
    for round in 0..3 {
        match finished.recv_timeout(Duration::from_secs(20)) {
            Ok(r) => assert_eq!(r, round),
            Err(_) => panic!("a reader waited for a lock of the store (round {round})"),
        }
    }
    let answers = reader.join().unwrap();
    drop(held);
    assert!(answers.iter().all(|&ok| ok), "{answers:?}");
    // Writers that need a lock were not tested above; with the locks free, everything works.
    assert_eq!(s.purge_expired(), 335);
}

/// `keys` judges each key against a clock reading taken after its walk: a key whose deadline
/// passed during the call, before that reading, is left out, and a key live throughout is
/// listed. The clock is moved from another thread while the walk runs (checked: the walk was
/// still running after the advance; otherwise the round is retried).
#[test]
fn keys_leaves_out_keys_that_expired_during_the_call() {
    const KEYS: usize = 100_000;
    for attempt in 0.. {
        assert!(attempt < 10, "the walk never outlasted the clock advance");
        let (s, clock) = clocked();
        for i in 0..KEYS {
            let ttl = if i % 2 == 0 { 5 } else { 10 };
            s.set_with_ttl(&format!("k{i:06}"), 1, Duration::from_secs(ttl));
        }
        let advanced = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let walker = {
            let (s, advanced, started) = (s.clone(), advanced.clone(), started.clone());
            thread::spawn(move || {
                started.store(true, Ordering::SeqCst);
                let keys = s.keys("k*").unwrap();
                (keys, advanced.load(Ordering::SeqCst))
            })
        };
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        clock.advance(Duration::from_secs(7)); // the even keys expire
        advanced.store(true, Ordering::SeqCst);
        let (keys, advanced_before_return) = walker.join().unwrap();
        if !advanced_before_return {
            continue;
        }
        assert_eq!(
            keys.len(),
            KEYS / 2,
            "only the keys live at the end are listed"
        );
        assert!(keys
            .iter()
            .all(|k| k[1..].parse::<usize>().unwrap() % 2 == 1));
        return;
    }
}

/// `cleanup_interval(Duration::ZERO)` is raised to 1 ms: the cleaner runs often (expired keys go
/// within milliseconds) but does not spin (at most about one purge per millisecond).
#[test]
fn a_zero_cleanup_interval_is_raised_to_one_millisecond() {
    let s = Store::builder().cleanup_interval(Duration::ZERO).build();
    for i in 0..100 {
        s.set_with_ttl(&format!("k{i}"), i, Duration::from_millis(5));
    }
    let t = Instant::now();
    while !s.is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the cleaner did not run"
        );
        thread::sleep(Duration::from_millis(1));
    }
    let before = s.__purges();
    let t = Instant::now();
    thread::sleep(Duration::from_millis(200));
    let purges = s.__purges() - before;
    let elapsed_ms = t.elapsed().as_millis() as u64;
    assert!(purges >= 1, "no purge in {elapsed_ms} ms");
    assert!(
        purges <= elapsed_ms + 20,
        "{purges} purges in {elapsed_ms} ms: the interval was not raised to 1 ms"
    );
    // And the default is 60 s: no purge at all within a few hundred milliseconds.
    let d = Store::new();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(d.__purges(), 0);
}

/// Compaction of dead expiry records is amortized: deleting most of 200k keys with a TTL while
/// their records still sit in the schedule buffers (no purge has run) considers a compaction a
/// handful of times (each look takes every buffer's lock), not once per delete, and compacts
/// when the dead records are half of them.
#[test]
fn compaction_is_considered_a_logarithmic_number_of_times() {
    const KEYS: usize = 200_000;
    let (s, _clock) = clocked();
    for i in 0..KEYS {
        s.set_with_ttl(&format!("k{i}"), 1, Duration::from_secs(60));
    }
    assert_eq!(s.__pending_expiry_records(), KEYS);
    for i in 0..KEYS * 3 / 4 {
        assert!(s.delete(&format!("k{i}")));
    }
    let (compactions, checks) = s.__expiry_compactions();
    eprintln!(
        "{} deletes: {checks} compaction checks, {compactions} compactions",
        KEYS * 3 / 4
    );
    assert!((1..=3).contains(&compactions), "{compactions} compactions");
    assert!(
        checks <= 8,
        "{checks} compaction checks for {} deletes",
        KEYS * 3 / 4
    );
    // Dead records are at most about half of what is left, plus the minimum batch.
    let pending = s.__pending_expiry_records();
    assert!(
        pending <= 2 * (KEYS / 4) + 2 * 1024,
        "{pending} records for {} keys",
        KEYS / 4
    );
}

/// Shortening a key's TTL over and over adds a record per earlier tick, and the superseded ones
/// are compacted away: records stay bounded, and the key still expires at its last deadline.
#[test]
fn shortening_a_ttl_over_and_over_keeps_records_bounded() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 1, Duration::from_secs(3600));
    let mut max = 0;
    for i in 1..100_000u64 {
        // One tick (~1 ms) shorter each time.
        assert!(s.expire(
            "k",
            Duration::from_secs(3600) - Duration::from_millis(i / 30)
        ));
        max = max.max(s.__pending_expiry_records());
    }
    eprintln!("max records pending for one key shortened 100k times: {max}");
    assert!(max <= 2 * 1024 + 2, "{max} records for one key");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(s.purge_expired(), 1);
    assert_eq!(s.__pending_expiry_records(), 0);
}

/// `initial_capacity` presizes the table: filling a presized store allocates markedly less than
/// filling one that grows (flurry copies nodes when it resizes). Counted by the allocation calls
/// this thread makes, with a counting global allocator.
#[test]
fn initial_capacity_saves_the_resizes() {
    const KEYS: usize = 50_000;
    let fill = |s: &Store| {
        let keys: Vec<String> = (0..KEYS).map(|i| format!("k{i}")).collect();
        let before = allocations();
        for k in &keys {
            s.set(k, 1);
        }
        allocations() - before
    };
    let grown = fill(&Store::builder().background_cleanup(false).build());
    let presized = fill(
        &Store::builder()
            .background_cleanup(false)
            .initial_capacity(KEYS)
            .build(),
    );
    eprintln!("allocations for {KEYS} inserts: {grown} growing, {presized} presized");
    // A presized store allocates exactly four blocks per new key (flurry's node and value
    // box, the entry, the slot); a growing one more, for the node copies of every resize.
    assert!(
        presized <= 4 * KEYS,
        "{presized} allocations for {KEYS} keys"
    );
    assert!(
        presized + KEYS / 10 < grown,
        "presizing saved too little: {presized} vs {grown} allocations"
    );
}

/// The documented rule for thread-local destructors: a thread-local first touched after the
/// thread used the store is destroyed before the table's per-thread state, so its destructor may
/// use the store.
#[test]
fn a_thread_local_destructor_can_use_a_store_the_thread_used_first() {
    struct WritesOnExit(std::cell::RefCell<Option<Store>>);
    impl Drop for WritesOnExit {
        fn drop(&mut self) {
            if let Some(s) = self.0.borrow_mut().take() {
                s.set("written-on-exit", 1);
                assert_eq!(s.get("written-on-exit"), Some(Value::Int(1)));
            }
        }
    }
    thread_local! {
        static ON_EXIT: WritesOnExit = const { WritesOnExit(std::cell::RefCell::new(None)) };
    }
    let store = Store::new();
    let s = store.clone();
    thread::spawn(move || {
        s.set("first", 1); // the thread uses the store first...
        ON_EXIT.with(|w| *w.0.borrow_mut() = Some(s)); // ...then touches the thread-local
    })
    .join()
    .unwrap();
    assert_eq!(store.get("written-on-exit"), Some(Value::Int(1)));
}

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// Allocation calls made by this thread so far (other tests run in parallel).
fn allocations() -> usize {
    counting_alloc::thread_allocations()
}
