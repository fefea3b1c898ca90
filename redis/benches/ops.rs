//! Raw operations through `AsyncKv`: the in-process `Store` against a local Redis.
//!
//! ```sh
//! scripts/with-redis.sh cargo bench -p scriptling-kv-redis --bench ops
//! BENCH_SECS=1 BENCH_RUNS=1 scripts/with-redis.sh cargo bench -p scriptling-kv-redis --bench ops   # quick
//! ```
//!
//! For each backend, operation (`get`, `set`, `incr`, `set_if_absent`) and concurrency (1 task,
//! 32 tasks) it runs the operation in a loop for `BENCH_SECS` (default 2) after a 0.3 s warm-up,
//! timing every call, and prints ops/s and the p50/p99 latency; with `BENCH_RUNS` (default 3)
//! runs it prints the median of each figure over the runs. The runtime is Tokio's multi-threaded
//! one with 2 workers. Without `SCRIPTLING_KV_REDIS_URL` only `Store` is measured.
//!
//! - `get`: 1,000 keys holding a 16-byte string, read at random (a hit each time);
//! - `set`: the same keys, written at random;
//! - `incr`: one counter per task;
//! - `set_if_absent`: a fresh key each call (so each call writes), 60 s TTL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scriptling_kv::{AsyncKv, Store, Value};
use scriptling_kv_redis::RedisStore;

const KEYS: u64 = 1000;

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    Set,
    Incr,
    SetIfAbsent,
}

impl Op {
    const ALL: [Op; 4] = [Op::Get, Op::Set, Op::Incr, Op::SetIfAbsent];

    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Incr => "incr",
            Op::SetIfAbsent => "set_if_absent",
        }
    }
}

struct Sample {
    ops_per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// xorshift, per task.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn run_op<K: AsyncKv>(kv: &K, op: Op, task: usize, rng: &mut u64, fresh: &AtomicU64) {
    match op {
        Op::Get => {
            let k = format!("k{}", next(rng) % KEYS);
            assert!(kv.get(&k).await.unwrap().is_some());
        }
        Op::Set => {
            let k = format!("k{}", next(rng) % KEYS);
            kv.set(&k, "value-0123456789").await.unwrap();
        }
        Op::Incr => {
            kv.incr(&format!("c{task}"), 1).await.unwrap();
        }
        Op::SetIfAbsent => {
            let k = format!("f{}", fresh.fetch_add(1, Ordering::Relaxed));
            assert!(kv
                .set_if_absent(&k, "value-0123456789", Some(Duration::from_secs(60)))
                .await
                .unwrap());
        }
    }
}

async fn measure<K: AsyncKv + Clone + 'static>(
    kv: &K,
    op: Op,
    tasks: usize,
    secs: f64,
    fresh: &Arc<AtomicU64>,
) -> Sample {
    let warmup = Duration::from_millis(300);
    let length = Duration::from_secs_f64(secs);
    let start = Instant::now() + warmup;
    let end = start + length;
    let mut handles = Vec::new();
    for task in 0..tasks {
        let kv = kv.clone();
        let fresh = fresh.clone();
        handles.push(tokio::spawn(async move {
            let mut rng =
                0x9e37_79b9_7f4a_7c15 ^ (task as u64 + 1).wrapping_mul(0xff51_afd7_ed55_8ccd);
            let mut lat = Vec::with_capacity(1 << 16);
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                run_op(&kv, op, task, &mut rng, &fresh).await;
                if t >= start {
                    lat.push(t.elapsed());
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Sample {
        ops_per_sec: all.len() as f64 / length.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn micros(d: f64) -> String {
    if d < 10_000.0 {
        format!("{:.2} µs", d / 1000.0)
    } else {
        format!("{:.0} µs", d / 1000.0)
    }
}

async fn bench<K: AsyncKv + Clone + 'static>(name: &str, kv: K, secs: f64, runs: usize) {
    for i in 0..KEYS {
        kv.set(&format!("k{i}"), Value::from("value-0123456789"))
            .await
            .unwrap();
    }
    let fresh = Arc::new(AtomicU64::new(0));
    for tasks in [1, 32] {
        for op in Op::ALL {
            let mut ops = Vec::new();
            let mut p50 = Vec::new();
            let mut p99 = Vec::new();
            let mut each = Vec::new();
            for _ in 0..runs {
                let s = measure(&kv, op, tasks, secs, &fresh).await;
                each.push(format!("{:.0}", s.ops_per_sec));
                ops.push(s.ops_per_sec);
                p50.push(s.p50.as_nanos() as f64);
                p99.push(s.p99.as_nanos() as f64);
            }
            println!(
                "| {name} | {} | {tasks} | {:.0} | {} | {} | {} |",
                op.name(),
                median(ops),
                micros(median(p50)),
                micros(median(p99)),
                each.join(", ")
            );
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this as a smoke test.
    let quick = !std::env::args().any(|a| a == "--bench");
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let secs = if quick { 0.05 } else { env("BENCH_SECS", 2.0) };
    let runs = if quick {
        1
    } else {
        env("BENCH_RUNS", 3.0) as usize
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("{runs} run(s) of {secs} s per row; medians over the runs");
        println!();
        println!("| backend | op | tasks | ops/s | p50 | p99 | ops/s of each run |");
        println!("|---|---|---:|---:|---:|---:|---|");
        bench("Store", Store::new(), secs, runs).await;
        match std::env::var("SCRIPTLING_KV_REDIS_URL") {
            Ok(url) => {
                let ns = format!("bench-{}", std::process::id());
                let kv = RedisStore::connect(&url, &ns).await.unwrap();
                bench("Redis", kv.clone(), secs, runs).await;
                kv.clear().await.unwrap();
            }
            Err(_) => println!("\n(no SCRIPTLING_KV_REDIS_URL: Redis not measured; run under scripts/with-redis.sh)"),
        }
    });
}
