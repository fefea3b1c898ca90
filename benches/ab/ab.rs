//! The A/B binary of `scripts/ab.sh`: the default store's read-heavy, mixed and hot-key `incr`
//! throughput (the cases of `benches/throughput.rs`, same mixes and sizes), built once against
//! the tree before the issue-20 features (`Eviction::Lru`, `max_bytes`, `WeakStore`) and once
//! against this tree. It uses only the API both trees have (`Store::builder`,
//! `background_cleanup`, `get`, `set`, `set_with_ttl`, `delete`, `incr`) and only `std`, so the
//! one source builds on both; `scripts/ab.sh` runs the two binaries alternately.
//!
//! `ab LABEL [REP]`: prints one JSON line per case, `{"side": LABEL, "rep": REP, "case": ...,
//! "threads": 2, "mops": ...}`. Environment: `AB_WINDOW_MS` (default 300), `AB_THREADS`
//! (default 2), `AB_KEYS` (default 100000). Not a cargo bench target (it lives in a folder
//! without a `main.rs`); `scripts/ab.sh` builds it as the binary of a generated package.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use scriptling_kv::{Store, Value};

const TAPE: usize = 1 << 16;
const TTL: Duration = Duration::from_secs(600);

#[derive(Clone, Copy)]
enum Op {
    Get(u32),
    Set(u32),
    SetTtl(u32),
    Delete(u32),
    Incr,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A 64-bit LCG (the tapes need a fixed, cheap sequence, not quality).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as u32
    }
    fn pct(&mut self) -> u32 {
        self.next(100)
    }
}

/// Thread `t`'s tape for `case` over `keys` keys.
fn tape(case: &str, keys: usize, t: usize) -> Vec<Op> {
    let mut r = Lcg(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1) * 0x1000_0001);
    (0..TAPE)
        .map(|_| {
            let p = r.pct();
            let k = r.next(keys);
            match case {
                "read-heavy" => match p {
                    0 => Op::Set(k),
                    1 => Op::SetTtl(k),
                    _ => Op::Get(k),
                },
                "mixed" => match p {
                    0..=49 => Op::Get(k),
                    50..=89 => Op::SetTtl(k),
                    _ => Op::Delete(k),
                },
                "incr-hot" => Op::Incr,
                other => panic!("unknown case {other}"),
            }
        })
        .collect()
}

/// One window of `threads` threads cycling their tapes; Mops/s (all threads' operations over
/// the span from the first start to the last end).
fn run(store: &Store, keys: &[String], vals: &[Value], tapes: &[Vec<Op>], window: Duration) -> f64 {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(tapes.len() + 1);
    let runs: Vec<(u64, Instant, Instant)> = std::thread::scope(|s| {
        let hs: Vec<_> = tapes
            .iter()
            .map(|tape| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let mut n = 0u64;
                    'outer: loop {
                        for chunk in tape.chunks(64) {
                            for (i, &op) in chunk.iter().enumerate() {
                                match op {
                                    Op::Get(k) => {
                                        black_box(store.get(&keys[k as usize]));
                                    }
                                    Op::Set(k) => {
                                        store.set(&keys[k as usize], vals[i].clone());
                                    }
                                    Op::SetTtl(k) => {
                                        store.set_with_ttl(&keys[k as usize], vals[i].clone(), TTL);
                                    }
                                    Op::Delete(k) => {
                                        black_box(store.delete(&keys[k as usize]));
                                    }
                                    Op::Incr => {
                                        black_box(store.incr("hot", 1).expect("counter"));
                                    }
                                }
                            }
                            n += chunk.len() as u64;
                            if stop.load(Ordering::Relaxed) {
                                break 'outer;
                            }
                        }
                    }
                    (n, start, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let ops: u64 = runs.iter().map(|r| r.0).sum();
    let first = runs.iter().map(|r| r.1).min().expect("runs");
    let last = runs.iter().map(|r| r.2).max().expect("runs");
    if tapes[0].iter().all(|op| matches!(op, Op::Incr)) {
        let held = store.get("hot");
        assert_eq!(held, Some(Value::Int(ops as i64)), "lost increments");
    }
    ops as f64 / last.duration_since(first).as_secs_f64() / 1e6
}

fn main() {
    let mut args = std::env::args().skip(1);
    let side = args.next().expect("usage: ab LABEL [REP]");
    let rep: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let window = Duration::from_millis(env("AB_WINDOW_MS", 300));
    let threads = env("AB_THREADS", 2) as usize;
    let n_keys = env("AB_KEYS", 100_000) as usize;
    let keys: Vec<String> = (0..n_keys).map(|i| format!("key:{i}")).collect();
    let vals: Vec<Value> = (0..64)
        .map(|i| Value::Str(format!("value-{i:08}")))
        .collect();
    for case in ["read-heavy", "mixed", "incr-hot"] {
        let store = Store::builder().background_cleanup(false).build();
        if case != "incr-hot" {
            // Every key present, half with a TTL (as in benches/throughput.rs).
            for (i, k) in keys.iter().enumerate() {
                if i % 2 == 0 {
                    store.set(k, vals[i % vals.len()].clone());
                } else {
                    store.set_with_ttl(k, vals[i % vals.len()].clone(), TTL);
                }
            }
        }
        let tapes: Vec<Vec<Op>> = (0..threads).map(|t| tape(case, n_keys, t)).collect();
        let mops = run(&store, &keys, &vals, &tapes, window);
        println!(
            "{{\"kind\": \"ab\", \"side\": \"{side}\", \"rep\": {rep}, \"case\": \"{case}\", \
             \"threads\": {threads}, \"mops\": {mops:.4}}}"
        );
    }
}
