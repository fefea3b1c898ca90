//! What `Eviction::Lru` costs a `get`, against the default policy (`VolatileTtl`) and an
//! unbounded store: 2 threads reading, (a) read-heavy over 10,000 keys, (b) one hot key read by
//! both threads. Each round runs every configuration once, in turn (alternating, so drift on a
//! shared machine hits them alike); the report is the median and the spread over the rounds, in
//! ns per `get` per thread, and the ratio of medians to the unbounded store.
//!
//! `cargo bench --bench lru_get` (ROUNDS and OPS in the environment override the defaults;
//! `BENCH_QUICK=1` is a smoke run: one round of 10,000 gets). Not part of `bench-report.sh`: its
//! numbers are in VERIFICATION.md's bounds section, not in BENCHMARKS.md. Every `get` must hit.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use scriptling_kv::{Eviction, Store};

const KEYS: usize = 10_000;
const THREADS: usize = 2;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn store(policy: Option<Eviction>) -> Store {
    let mut b = Store::builder().background_cleanup(false);
    if let Some(p) = policy {
        b = b.max_keys(2 * KEYS).eviction(p);
    }
    let s = b.build();
    for i in 0..KEYS {
        s.set(&format!("key:{i}"), i as i64);
    }
    s
}

/// Nanoseconds per `get` per thread, `ops` gets on each of `THREADS` threads.
fn run(store: &Store, hot: bool, ops: usize) -> f64 {
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("key:{i}")).collect());
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, keys, barrier) = (store.clone(), keys.clone(), barrier.clone());
            std::thread::spawn(move || {
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
                    hits += usize::from(black_box(store.get(k)).is_some());
                }
                let ns = start.elapsed().as_nanos() as f64 / ops as f64;
                assert_eq!(hits, ops, "a get missed a key that was never removed");
                ns
            })
        })
        .collect();
    barrier.wait();
    let per: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    per.iter().sum::<f64>() / per.len() as f64
}

fn main() {
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let rounds = env("ROUNDS", if quick { 1 } else { 9 });
    let ops = env("OPS", if quick { 10_000 } else { 1_000_000 });
    let configs: [(&str, Option<Eviction>); 3] = [
        ("unbounded", None),
        ("VolatileTtl", Some(Eviction::VolatileTtl)),
        ("Lru", Some(Eviction::Lru)),
    ];
    let stores: Vec<Store> = configs.iter().map(|(_, p)| store(*p)).collect();
    for hot in [false, true] {
        let mut samples = vec![Vec::new(); configs.len()];
        for _ in 0..rounds {
            for (i, s) in stores.iter().enumerate() {
                samples[i].push(run(s, hot, ops));
            }
        }
        let what = if hot {
            "hot key"
        } else {
            "read-heavy, 10k keys"
        };
        println!("get, {THREADS} threads, {what}: median [min, max] ns/op over {rounds} rounds");
        let mut base = None;
        for (i, (name, _)) in configs.iter().enumerate() {
            let v = &mut samples[i];
            v.sort_by(f64::total_cmp);
            let median = v[v.len() / 2];
            let base = *base.get_or_insert(median);
            println!(
                "  {name:<12} {median:7.1} [{:.1}, {:.1}]  x{:.2}",
                v[0],
                v[v.len() - 1],
                median / base
            );
        }
    }
}
