//! Single-flight loads under stress: 64 threads and 64 tokio tasks load 100 keys (with a short
//! TTL, so keys expire and are loaded again and again), with loaders that fail, panic and (the
//! tasks) are cancelled mid-load. Checked:
//!
//! - every successful call returns a value that some `init` produced for that key;
//! - two `init`s of one key never run at the same time (so `init` runs once per load, and every
//!   successful `init` is the load of exactly one value: it is returned as `Loaded` once);
//! - nothing hangs: every thread and task must finish within a deadline, checked with bounded
//!   waits (a hang fails the test instead of blocking it).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use scriptling_kv::{Source, Store, Value};

const KEYS: usize = 100;
const THREADS: usize = 64;
const TASKS: usize = 64;
const CALLS: usize = 150;
const TTL: Duration = Duration::from_millis(3);

/// What every `init` shares: the values produced per key, how many inits of each key are
/// running now (must never exceed one), and counts.
struct Shared {
    store: Store,
    produced: Vec<Mutex<HashSet<i64>>>,
    running: Vec<AtomicUsize>,
    overlaps: AtomicUsize,
    next: AtomicU64,
    ok_inits: AtomicUsize,
    loaded_results: AtomicUsize,
    failures: AtomicUsize,
    panics: AtomicUsize,
    cancellations: AtomicUsize,
    coalesced: AtomicUsize,
}

impl Shared {
    /// Enters `key`'s init; records an overlap if another init of the key is running.
    fn enter(&self, key: usize) {
        if self.running[key].fetch_add(1, Ordering::SeqCst) != 0 {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn leave(&self, key: usize) {
        self.running[key].fetch_sub(1, Ordering::SeqCst);
    }

    /// A fresh value for `key`, recorded as produced.
    fn produce(&self, key: usize) -> i64 {
        let v = self.next.fetch_add(1, Ordering::SeqCst) as i64;
        self.produced[key].lock().unwrap().insert(v);
        self.ok_inits.fetch_add(1, Ordering::SeqCst);
        v
    }

    /// Checks a returned value.
    fn check(&self, key: usize, value: &Value, source: Source) {
        let v = value.as_int().expect("values are ints");
        assert!(
            self.produced[key].lock().unwrap().contains(&v),
            "key {key}: {v} was produced by no init of this key"
        );
        match source {
            Source::Loaded => {
                self.loaded_results.fetch_add(1, Ordering::SeqCst);
            }
            Source::Coalesced => {
                self.coalesced.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}

/// Leaves the key's init on drop (also on a panic or a dropped future).
struct Running<'a>(&'a Shared, usize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.leave(self.1);
    }
}

fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move |n| {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % n
    }
}

#[test]
fn loads_under_failures_panics_and_cancellations() {
    let shared = Arc::new(Shared {
        store: Store::builder()
            .cleanup_interval(Duration::from_millis(2))
            .build(),
        produced: (0..KEYS).map(|_| Mutex::new(HashSet::new())).collect(),
        running: (0..KEYS).map(|_| AtomicUsize::new(0)).collect(),
        overlaps: AtomicUsize::new(0),
        next: AtomicU64::new(0),
        ok_inits: AtomicUsize::new(0),
        loaded_results: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        panics: AtomicUsize::new(0),
        cancellations: AtomicUsize::new(0),
        coalesced: AtomicUsize::new(0),
    });
    // The loaders' deliberate panics are expected: keep them out of the output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"loader panicked") {
            default_hook(info);
        }
    }));
    let (done_tx, done_rx) = mpsc::channel::<&'static str>();
    let started = Instant::now();

    // 64 threads, blocking loads; 1 in 8 inits fails, 1 in 32 panics.
    for t in 0..THREADS {
        let (shared, done) = (shared.clone(), done_tx.clone());
        std::thread::spawn(move || {
            let mut r = rng(t as u64 + 1);
            for _ in 0..CALLS {
                let key = r(KEYS as u64) as usize;
                let fate = r(32);
                let name = format!("k{key}");
                let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    shared.store.try_load_with(&name, Some(TTL), || {
                        shared.enter(key);
                        let _running = Running(&shared, key);
                        std::thread::sleep(Duration::from_micros(200));
                        match fate {
                            0 => panic!("loader panicked"),
                            1..=4 => Err("failed"),
                            _ => Ok(shared.produce(key)),
                        }
                    })
                }));
                match call {
                    Ok(Ok(loaded)) => shared.check(key, &loaded.value, loaded.source),
                    Ok(Err(_)) => {
                        shared.failures.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        shared.panics.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            done.send("thread").unwrap();
        });
    }

    // 64 tokio tasks, async loads; 1 in 8 fails, 1 in 8 is cancelled (a timeout drops it
    // mid-init).
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    for t in 0..TASKS {
        let (shared, done) = (shared.clone(), done_tx.clone());
        runtime.spawn(async move {
            let mut r = rng(1000 + t as u64);
            for _ in 0..CALLS {
                let key = r(KEYS as u64) as usize;
                let fate = r(8);
                let name = format!("k{key}");
                let load = shared.store.try_load_with_async(&name, Some(TTL), async {
                    shared.enter(key);
                    let _running = Running(&shared, key);
                    if fate == 0 {
                        // Cancelled by the timeout below while "waiting upstream".
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    } else {
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    }
                    if fate == 1 {
                        Err("failed")
                    } else {
                        Ok(shared.produce(key))
                    }
                });
                match tokio::time::timeout(Duration::from_millis(20), load).await {
                    Ok(Ok(loaded)) => shared.check(key, &loaded.value, loaded.source),
                    Ok(Err(_)) => {
                        shared.failures.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        shared.cancellations.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            done.send("task").unwrap();
        });
    }
    drop(done_tx);

    // Bounded wait for every thread and task.
    let deadline = Duration::from_secs(120);
    for n in 0..THREADS + TASKS {
        let left = deadline.saturating_sub(started.elapsed());
        match done_rx.recv_timeout(left) {
            Ok(_) => {}
            Err(_) => panic!(
                "only {n} of {} threads and tasks finished within {deadline:?}: a load hung",
                THREADS + TASKS
            ),
        }
    }
    let s = &shared;
    let (ok_inits, loaded) = (
        s.ok_inits.load(Ordering::SeqCst),
        s.loaded_results.load(Ordering::SeqCst),
    );
    eprintln!(
        "{} calls in {:?}: {ok_inits} successful inits, {loaded} Loaded results, {} coalesced, \
         {} failures, {} panics, {} cancellations",
        (THREADS + TASKS) * CALLS,
        started.elapsed(),
        s.coalesced.load(Ordering::SeqCst),
        s.failures.load(Ordering::SeqCst),
        s.panics.load(Ordering::SeqCst),
        s.cancellations.load(Ordering::SeqCst),
    );
    assert_eq!(
        s.overlaps.load(Ordering::SeqCst),
        0,
        "two inits of one key ran at the same time"
    );
    // Every successful init stored its value and returned it as Loaded, except those whose
    // future was cancelled after `init` produced a value but before the call returned (the
    // timeout can fire there): never more Loaded results than successful inits.
    assert!(
        loaded <= ok_inits,
        "{loaded} Loaded results from {ok_inits} successful inits"
    );
    assert!(
        ok_inits - loaded <= s.cancellations.load(Ordering::SeqCst),
        "successful inits that were not returned as Loaded: {}",
        ok_inits - loaded
    );
    assert!(
        s.coalesced.load(Ordering::SeqCst) > 0,
        "no call ever waited for a load"
    );
    assert!(s.failures.load(Ordering::SeqCst) > 0 && s.panics.load(Ordering::SeqCst) > 0);
    assert!(s.cancellations.load(Ordering::SeqCst) > 0);
    drop(runtime);
}
