//! Snapshot costs (custom harness): `Store::save` and `Store::load` at 100k and 1M keys (keys/s,
//! MB/s of file, bytes of file per key), the worst stall a reader/writer on another thread sees
//! while a save of 1M keys runs (with a control: the same reader while the other core is busy
//! with work that does not touch the store), and what the change tracking of periodic
//! persistence adds to a write.
//!
//! ```text
//! cargo bench --bench snapshot                  # full
//! BENCH_QUICK=1 cargo bench --bench snapshot    # CI smoke: 1k and 10k keys, one repetition
//! BENCH_OUT=dir cargo bench --bench snapshot    # also write dir/snapshot.jsonl
//! ```
//!
//! The files go to a temporary directory (`std::env::temp_dir()`, so usually `/tmp`): the save
//! times include the `fsync` of the file and of the directory on that filesystem. The keys are
//! `session:{i:08}` with a 14-byte string value each (`value-{i:08}`), half of them with a TTL.

// Without the `[[bench]] harness = false` entry in Cargo.toml, cargo builds this file as a
// libtest bench (cfg(test)): keep that build warning-free; it then runs nothing.
#![cfg_attr(test, allow(dead_code, unused_imports, unused_macros))]

#[allow(unused_macros)]
mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use scriptling_kv::Store;
use serde_json::json;

use common::{median, pick, quick, sink, small_value, wanted, Output};

const LONG: Duration = Duration::from_secs(3600);

struct Sizes {
    /// Store sizes for save and load.
    sizes: Vec<usize>,
    /// Keys in the store saved during the stall test.
    stall: usize,
    reps: usize,
    /// Writes per change-tracking measurement.
    writes: usize,
}

impl Sizes {
    /// Smoke sizes under `BENCH_QUICK`, else the full ones.
    fn get() -> Self {
        Sizes {
            sizes: pick(vec![1_000, 10_000], vec![100_000, 1_000_000]),
            stall: pick(10_000, 1_000_000),
            reps: pick(1, 3),
            writes: pick(100_000, 2_000_000),
        }
    }
}

/// A directory for the bench's files, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("skv-bench-snapshot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn filled(n: usize) -> Store {
    let store = Store::builder()
        .background_cleanup(false)
        .initial_capacity(n)
        .build();
    for i in 0..n {
        let k = format!("session:{i:08}");
        if i % 2 == 0 {
            store.set(&k, small_value(i));
        } else {
            store.set_with_ttl(&k, small_value(i), LONG);
        }
    }
    store
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments select sections by name.
    let want = wanted();
    let sizes = Sizes::get();
    let scratch = Scratch::new();
    let mut out = Output::open("snapshot");
    println!("(files in {}, fsync included)", scratch.0.display());
    if want("save") || want("load") {
        println!("\n== save and load (14-byte string values, half the keys with a TTL)");
        println!(
            "{:>9} {:>9} {:>12} {:>9} {:>9} {:>12} {:>9} {:>11}",
            "keys",
            "save ms",
            "save keys/s",
            "save MB/s",
            "load ms",
            "load keys/s",
            "load MB/s",
            "bytes/key"
        );
        for &n in &sizes.sizes {
            save_load_bench(n, &sizes, &scratch, &mut out);
        }
    }
    if want("stall") {
        println!(
            "\n== stall: get/set latency on another thread while {} keys are saved",
            sizes.stall
        );
        println!(
            "{:>9} {:>12} {:>10} {:>10} {:>12} {:>12}",
            "save ms", "max stall us", "p99.9 us", "ops", "idle max us", "busy max us"
        );
        stall_bench(&sizes, &scratch, &mut out);
    }
    if want("tracking") {
        println!("\n== change tracking: a write on a store with persistence vs without (1 thread)");
        println!(
            "{:<22} {:>12} {:>12} {:>9}",
            "operation", "plain ns/op", "tracked ns/op", "overhead"
        );
        tracking_bench(&sizes, &scratch, &mut out);
    }
}

fn save_load_bench(n: usize, sizes: &Sizes, scratch: &Scratch, out: &mut Output) {
    let path = scratch.path("bench.snap");
    let store = filled(n);
    let mut save_ms = Vec::new();
    for _ in 0..sizes.reps {
        let start = Instant::now();
        let written = store.save(&path).expect("save");
        save_ms.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(written, n, "save count");
    }
    drop(store);
    let bytes = std::fs::metadata(&path).expect("the snapshot").len();
    let mut load_ms = Vec::new();
    for _ in 0..sizes.reps {
        let fresh = Store::builder().background_cleanup(false).build();
        let start = Instant::now();
        let loaded = fresh.load(&path).expect("load");
        load_ms.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(loaded, n, "load count");
        assert_eq!(fresh.len(), n);
        drop(fresh);
    }
    let (s, l) = (median(&save_ms), median(&load_ms));
    let mb = bytes as f64 / 1e6;
    let per_key = bytes as f64 / n as f64;
    println!(
        "{:>9} {:>9.1} {:>12.0} {:>9.1} {:>9.1} {:>12.0} {:>9.1} {:>11.1}",
        n,
        s,
        n as f64 / (s / 1e3),
        mb / (s / 1e3),
        l,
        n as f64 / (l / 1e3),
        mb / (l / 1e3),
        per_key
    );
    out.record(json!({
        "kind": "save_load", "keys": n, "file_bytes": bytes, "bytes_per_key": per_key,
        "save_ms": save_ms, "load_ms": load_ms, "save_median": s, "load_median": l,
        "save_keys_per_s": n as f64 / (s / 1e3), "load_keys_per_s": n as f64 / (l / 1e3),
        "save_mb_per_s": mb / (s / 1e3), "load_mb_per_s": mb / (l / 1e3),
    }));
}

/// Latencies (ns) of 90% get / 10% set on `keys` until `stop`.
fn read_loop(store: &Store, keys: &[String], stop: &AtomicBool) -> Vec<u32> {
    let mut lat = Vec::with_capacity(1 << 22);
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let k = &keys[(i * 7919) % keys.len()];
        let t0 = Instant::now();
        if i % 10 == 0 {
            store.set(k, small_value(i));
        } else {
            sink(store.get(k));
        }
        lat.push(u32::try_from(t0.elapsed().as_nanos()).unwrap_or(u32::MAX));
        i += 1;
    }
    lat
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    f64::from(sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

fn stall_bench(sizes: &Sizes, scratch: &Scratch, out: &mut Output) {
    let path = scratch.path("stall.snap");
    let store = filled(sizes.stall);
    let hot: Vec<String> = (0..10_000).map(|i| format!("session:{i:08}")).collect();
    let (mut save_ms, mut max_us, mut p999_us, mut ops, mut idle_max_us, mut busy_max_us) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..sizes.reps {
        let stop = AtomicBool::new(false);
        let idle = std::thread::scope(|s| {
            let h = s.spawn(|| read_loop(&store, &hot, &stop));
            std::thread::sleep(Duration::from_millis(50));
            stop.store(true, Ordering::Relaxed);
            h.join().expect("reader")
        });
        idle_max_us.push(f64::from(idle.iter().copied().max().unwrap_or(0)) / 1e3);
        let stop = AtomicBool::new(false);
        let barrier = Barrier::new(2);
        let (lat, took) = std::thread::scope(|s| {
            let h = s.spawn(|| {
                barrier.wait();
                read_loop(&store, &hot, &stop)
            });
            barrier.wait();
            std::thread::sleep(Duration::from_millis(2));
            let start = Instant::now();
            let written = store.save(&path).expect("save");
            let took = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            assert!(written >= sizes.stall);
            (h.join().expect("reader"), took)
        });
        // Control: the same reader for as long as the save took, while this thread keeps the
        // other core busy with work that does not touch the store (the machine's noise floor
        // over a window that long, with both cores busy).
        let stop = AtomicBool::new(false);
        let busy = std::thread::scope(|s| {
            let h = s.spawn(|| read_loop(&store, &hot, &stop));
            let until = Instant::now() + took;
            let mut x = 0u64;
            while Instant::now() < until {
                for _ in 0..1000 {
                    x = sink(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                }
            }
            stop.store(true, Ordering::Relaxed);
            h.join().expect("reader")
        });
        busy_max_us.push(f64::from(busy.iter().copied().max().unwrap_or(0)) / 1e3);
        let mut sorted = lat;
        sorted.sort_unstable();
        save_ms.push(took.as_secs_f64() * 1e3);
        max_us.push(f64::from(*sorted.last().unwrap_or(&0)) / 1e3);
        p999_us.push(percentile(&sorted, 0.999) / 1e3);
        ops.push(sorted.len() as f64);
    }
    let (sm, mx, p9, n, im, bm) = (
        median(&save_ms),
        median(&max_us),
        median(&p999_us),
        median(&ops),
        median(&idle_max_us),
        median(&busy_max_us),
    );
    println!("{sm:>9.1} {mx:>12.1} {p9:>10.2} {n:>10.0} {im:>12.1} {bm:>12.1}");
    out.record(json!({
        "kind": "stall", "keys": sizes.stall, "save_ms": save_ms, "max_us": max_us,
        "p999_us": p999_us, "ops": ops, "idle_max_us": idle_max_us, "busy_max_us": busy_max_us,
        "save_median": sm, "max_median": mx, "p999_median": p9, "ops_median": n,
        "idle_max_median": im, "busy_max_median": bm,
    }));
}

/// ns per operation of `op` over `n` iterations.
fn ns_per_op(n: usize, mut op: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        op(i);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// A write of the change-tracking bench: the store and the iteration.
type WriteOp<'a> = dyn Fn(&Store, usize) + 'a;

fn tracking_bench(sizes: &Sizes, scratch: &Scratch, out: &mut Output) {
    let keys: Vec<String> = (0..10_000).map(|i| format!("session:{i:08}")).collect();
    let counters: Vec<String> = (0..1_000).map(|i| format!("counter:{i}")).collect();
    let plain = Store::builder().background_cleanup(false).build();
    let tracked = Store::builder()
        .background_cleanup(false)
        .persist(scratch.path("tracked.snap"), Duration::from_secs(3600))
        .build();
    let ops: [(&str, &WriteOp<'_>); 3] = [
        ("set", &|s: &Store, i: usize| {
            s.set(&keys[i % keys.len()], small_value(i));
        }),
        ("set_with_ttl", &|s: &Store, i: usize| {
            s.set_with_ttl(&keys[i % keys.len()], small_value(i), LONG);
        }),
        ("incr (in place)", &|s: &Store, i: usize| {
            sink(s.incr(&counters[i % counters.len()], 1).expect("a counter"));
        }),
    ];
    for (name, op) in ops {
        // Warm both stores (every key present), then interleave the measurements.
        for i in 0..keys.len() {
            op(&plain, i);
            op(&tracked, i);
        }
        // Many short rounds, alternating, and the fastest of each side: noise on a shared
        // machine only ever adds time, and alternating exposes both sides to the same drift.
        let rounds = 40;
        let per_round = (sizes.writes / rounds).max(1000);
        let (mut p, mut t) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..rounds {
            p = p.min(ns_per_op(per_round, |i| op(&plain, i)));
            t = t.min(ns_per_op(per_round, |i| op(&tracked, i)));
        }
        let overhead = 100.0 * (t - p) / p;
        println!("{name:<22} {p:>12.1} {t:>12.1} {overhead:>8.1}%");
        out.record(json!({
            "kind": "tracking", "op": name, "plain_ns": p, "tracked_ns": t,
            "overhead_pct": overhead,
        }));
    }
    drop(tracked); // saved at the last drop
}
