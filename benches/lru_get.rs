//! What the issue-20 features cost the store's own calls (the A/B against the binary before
//! them is `scripts/ab.sh`), each configuration run in turn in every round (alternating, so
//! drift on a shared machine hits them alike); the report is the median and the spread over the
//! rounds, in ns per call per thread, and the ratio of medians to the first configuration:
//!
//! - **get**: `Eviction::Lru` against the default policy (`VolatileTtl`) and an unbounded
//!   store, 2 threads reading, (a) read-heavy over 10,000 keys, (b) one hot key read by both
//!   threads (goal: Lru at most 10% slower than VolatileTtl). Every `get` must hit.
//! - **write**: the byte counter (`max_bytes` / `bytes_used`) on writes: `set_with_ttl`
//!   overwrites over 10,000 keys on 2 threads, on an unbounded store, a `max_keys` store and a
//!   `max_bytes` store (caps far above what is written: no eviction, only the accounting; the
//!   key count is asserted).
//! - **shared**: `SharedKv` (a boxed future per call) against the backend's `AsyncKv` directly
//!   (`Store` as `AsyncKv`), one thread, `get` and `set` polled to completion in place (the
//!   in-process futures are ready at once; no executor in the measurement).
//!
//! `cargo bench --bench lru_get` (ROUNDS and OPS in the environment override the defaults;
//! `BENCH_QUICK=1` is a smoke run: one round of 10,000 calls; `BENCH_OUT=dir` also writes
//! dir/lru_get.jsonl, which the report renders).

use std::future::Future;
use std::hint::black_box;
use std::io::Write as _;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use scriptling_kv::{AsyncKv, Eviction, SharedKv, Store, Value};

const KEYS: usize = 10_000;
const THREADS: usize = 2;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// How a store of the comparison is bounded.
#[derive(Clone, Copy)]
enum Bound {
    None,
    Keys(Eviction),
    Bytes,
}

fn store(bound: Bound) -> Store {
    let b = Store::builder().background_cleanup(false);
    let b = match bound {
        Bound::None => b,
        Bound::Keys(p) => b.max_keys(2 * KEYS).eviction(p),
        // Far above what 10,000 small keys charge: the counter is kept, nothing is evicted.
        Bound::Bytes => b.max_bytes(1 << 40),
    };
    let s = b.build();
    for i in 0..KEYS {
        s.set(&format!("key:{i}"), i as i64);
    }
    s
}

/// Nanoseconds per call per thread: `ops` calls of `op` (reading or writing) on each of
/// `THREADS` threads.
fn run(store: &Store, hot: bool, write: bool, ops: usize) -> f64 {
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("key:{i}")).collect());
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, keys, barrier) = (store.clone(), keys.clone(), barrier.clone());
            std::thread::spawn(move || {
                let val = Value::Str(format!("value-{t:08}"));
                barrier.wait();
                let start = Instant::now();
                let mut x = t * 7919;
                let mut hits = 0;
                for _ in 0..ops {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let k = if hot {
                        &keys[0]
                    } else {
                        &keys[(x >> 33) % KEYS]
                    };
                    if write {
                        store.set_with_ttl(k, val.clone(), Duration::from_secs(600));
                        hits += 1;
                    } else {
                        hits += usize::from(black_box(store.get(k)).is_some());
                    }
                }
                let ns = start.elapsed().as_nanos() as f64 / ops as f64;
                assert_eq!(hits, ops, "a get missed a key that was never removed");
                ns
            })
        })
        .collect();
    barrier.wait();
    let per: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(store.len(), KEYS, "nothing is evicted or lost");
    per.iter().sum::<f64>() / per.len() as f64
}

/// Polls `f` to completion in place (the in-process backend's futures are ready at once).
#[inline]
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Nanoseconds per call, one thread: `ops` calls alternating `get` and `set` through `kv`.
fn run_async(kv: &impl AsyncKv, keys: &[String], ops: usize) -> f64 {
    let start = Instant::now();
    for i in 0..ops {
        let k = &keys[(i * 7919) % KEYS];
        if i % 2 == 0 {
            assert!(black_box(ready(kv.get(k)).expect("in process")).is_some());
        } else {
            ready(kv.set(k, i as i64)).expect("in process");
        }
    }
    start.elapsed().as_nanos() as f64 / ops as f64
}

/// Median and spread of one configuration's samples.
fn summary(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Prints (and records) one comparison: `names[i]`'s samples in `samples[i]`, ratios to the
/// first.
fn report(
    out: &mut Option<std::fs::File>,
    section: &str,
    case: &str,
    names: &[&str],
    samples: &mut [Vec<f64>],
) {
    let rounds = samples[0].len();
    println!("{section}, {case}: median [min, max] ns/op over {rounds} rounds");
    // Per-round ratios to the first configuration (run next to each other in every round).
    let ratios: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| s.iter().zip(&samples[0]).map(|(x, b)| x / b).collect())
        .collect();
    let mut base = None;
    for (i, name) in names.iter().enumerate() {
        let raw = samples[i].clone();
        let (median, lo, hi) = summary(&mut samples[i]);
        let (rm, rlo, rhi) = summary(&mut ratios[i].clone());
        let base = *base.get_or_insert(median);
        println!(
            "  {name:<14} {median:7.1} [{lo:.1}, {hi:.1}]  x{:.2} (per-round x{rm:.2} [{rlo:.2}, {rhi:.2}])",
            median / base
        );
        if let Some(f) = out {
            writeln!(
                f,
                "{}",
                serde_json::json!({
                    "kind": "feature-cost", "section": section, "case": case, "config": name,
                    "base": names[0], "ns": raw, "median": median, "ratio_of_medians":
                    median / base, "ratio_median": rm, "ratio_min": rlo, "ratio_max": rhi,
                })
            )
            .expect("write results");
        }
    }
}

fn main() {
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
        || !std::env::args().any(|a| a == "--bench");
    let rounds = env("ROUNDS", if quick { 1 } else { 9 });
    let ops = env("OPS", if quick { 10_000 } else { 1_000_000 });
    let mut out = std::env::var_os("BENCH_OUT").map(|dir| {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create BENCH_OUT");
        std::fs::File::create(dir.join("lru_get.jsonl")).expect("create results file")
    });

    // get: Lru vs VolatileTtl vs unbounded.
    let configs = [
        ("unbounded", Bound::None),
        ("VolatileTtl", Bound::Keys(Eviction::VolatileTtl)),
        ("Lru", Bound::Keys(Eviction::Lru)),
    ];
    let stores: Vec<Store> = configs.iter().map(|(_, b)| store(*b)).collect();
    let names: Vec<&str> = configs.iter().map(|c| c.0).collect();
    for hot in [false, true] {
        let mut samples = vec![Vec::new(); configs.len()];
        for _ in 0..rounds {
            for (i, s) in stores.iter().enumerate() {
                samples[i].push(run(s, hot, false, ops));
            }
        }
        let case = if hot {
            "hot key, 2 threads"
        } else {
            "read-heavy, 10k keys, 2 threads"
        };
        report(&mut out, "get", case, &names, &mut samples);
    }
    drop(stores);

    // write: the byte counter.
    let configs = [
        ("unbounded", Bound::None),
        ("max_keys", Bound::Keys(Eviction::VolatileTtl)),
        ("max_bytes", Bound::Bytes),
    ];
    let stores: Vec<Store> = configs.iter().map(|(_, b)| store(*b)).collect();
    let names: Vec<&str> = configs.iter().map(|c| c.0).collect();
    let mut samples = vec![Vec::new(); configs.len()];
    for _ in 0..rounds {
        for (i, s) in stores.iter().enumerate() {
            samples[i].push(run(s, false, true, ops / 2));
        }
    }
    let charged = stores[2].bytes_used();
    assert!(charged > 0, "the max_bytes store keeps its counter");
    report(
        &mut out,
        "write",
        "set_with_ttl overwrites, 10k keys, 2 threads",
        &names,
        &mut samples,
    );
    drop(stores);

    // shared: SharedKv vs the backend's AsyncKv directly.
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key:{i}")).collect();
    let direct = store(Bound::None);
    let shared = SharedKv::new(store(Bound::None));
    let mut samples = vec![Vec::new(); 2];
    for _ in 0..rounds {
        samples[0].push(run_async(&direct, &keys, ops));
        samples[1].push(run_async(&shared, &keys, ops));
    }
    report(
        &mut out,
        "shared",
        "get + set alternating, 10k keys, 1 thread",
        &["Store as AsyncKv", "SharedKv"],
        &mut samples,
    );
}
