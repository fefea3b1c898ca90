//! Multi-thread throughput of the store against its peers (custom harness).
//!
//! For every workload, every thread count and every repetition, each contender runs the same
//! pre-generated operation tapes (one per thread, cycled) for a fixed window; the score is total
//! operations over the window in Mops/s. Repetitions interleave the contenders (rotating who goes
//! first) so that drift on a shared machine hits all of them; the table reports medians. Every
//! workload also runs on a second instance of the store built with `record_stats(true)` (the row
//! `scriptling-kv +record_stats`, right after ours in the rotation): the cost of counting hits
//! and misses, which the report gives as with / without per workload.
//!
//! ```text
//! cargo bench --bench throughput                     # full: ~300 ms windows, 5 repetitions
//! BENCH_QUICK=1 cargo bench --bench throughput       # CI smoke: seconds
//! BENCH_OUT=dir cargo bench --bench throughput       # also write dir/throughput.jsonl
//! BENCH_PROFILE=1 cargo bench --bench throughput     # single-thread get/set/incr loops (callgrind)
//! ```

// Without the `[[bench]] harness = false` entry in Cargo.toml, cargo builds this file as a
// libtest bench (cfg(test)): keep that build warning-free; it then runs nothing.
#![cfg_attr(test, allow(dead_code, unused_imports, unused_macros))]

#[macro_use]
mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use scriptling_kv::Value;
use serde_json::json;

use common::{
    drive, median, pick, quick, sink, small_value, span_secs, window_run, Contender, Output,
};

/// TTL used by every TTL write in these workloads (long enough that nothing expires mid-run).
const TTL: Duration = Duration::from_secs(600);
/// Operations per thread tape (cycled).
const TAPE: usize = 1 << 16;
/// Distinct value payloads (cloned on every write).
const VALUES: usize = 1024;

/// One pre-generated operation: what to do, on which key index.
#[derive(Clone, Copy, Debug)]
enum Op {
    Get(u32),
    Set(u32),
    SetTtl(u32),
    Delete(u32),
    Incr(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    ReadHeavy,
    Mixed,
    HotIncr,
    SpreadUniform,
    SpreadZipf,
    Churn,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ReadHeavy => "read-heavy",
            Kind::Mixed => "mixed",
            Kind::HotIncr => "incr-hot",
            Kind::SpreadUniform => "incr-spread-uniform",
            Kind::SpreadZipf => "incr-spread-zipf",
            Kind::Churn => "session-churn",
        }
    }

    fn describe(self, sizes: &Sizes) -> String {
        match self {
            Kind::ReadHeavy => format!(
                "98% get, 1% set, 1% set_with_ttl, uniform over {} keys (half with a TTL)",
                sizes.keys
            ),
            Kind::Mixed => format!(
                "50% get, 40% set_with_ttl, 10% delete, uniform over {} keys",
                sizes.keys
            ),
            Kind::HotIncr => "every thread `incr`s one key".to_string(),
            Kind::SpreadUniform => format!("`incr`, uniform over {} keys", sizes.counters),
            Kind::SpreadZipf => format!("`incr`, zipfian (s = 1.0) over {} keys", sizes.counters),
            Kind::Churn => format!(
                "each thread: `set_with_ttl` of {} new keys, each followed by a `get` of the key \
                 written 16 before (a fresh store per run; an op = one call)",
                sizes.churn
            ),
        }
    }

    fn counters(self) -> bool {
        matches!(self, Kind::HotIncr | Kind::SpreadUniform | Kind::SpreadZipf)
    }
}

struct Sizes {
    keys: usize,
    counters: usize,
    churn: usize,
    window: Duration,
    reps: usize,
    threads: Vec<usize>,
}

impl Sizes {
    /// Smoke sizes under `BENCH_QUICK`, else the full ones.
    fn get() -> Self {
        Sizes {
            keys: pick(10_000, 100_000),
            counters: pick(1_000, 10_000),
            churn: pick(5_000, 100_000),
            window: pick(Duration::from_millis(20), Duration::from_millis(300)),
            reps: pick(1, 5),
            threads: pick(vec![1, 2], vec![1, 2, 4]),
        }
    }
}

/// The keys a workload addresses by index.
fn key_names(kind: Kind, sizes: &Sizes) -> Vec<String> {
    match kind {
        Kind::ReadHeavy | Kind::Mixed => (0..sizes.keys).map(|i| format!("key:{i}")).collect(),
        Kind::HotIncr => vec!["hits".to_string()],
        Kind::SpreadUniform | Kind::SpreadZipf => {
            (0..sizes.counters).map(|i| format!("rate:{i}")).collect()
        }
        Kind::Churn => Vec::new(),
    }
}

/// Thread `t`'s tape.
fn tape(kind: Kind, n_keys: usize, t: usize) -> Vec<Op> {
    let mut rng = SmallRng::seed_from_u64(0x5eed ^ (t as u64).wrapping_mul(0x9e37_79b9));
    let n = u32::try_from(n_keys).expect("key count fits u32");
    let zipf = Zipf::new(n_keys as f64, 1.0).expect("valid zipf");
    (0..TAPE)
        .map(|_| {
            let k = rng.random_range(0..n.max(1));
            match kind {
                Kind::ReadHeavy => match rng.random_range(0..100u32) {
                    0 => Op::Set(k),
                    1 => Op::SetTtl(k),
                    _ => Op::Get(k),
                },
                Kind::Mixed => match rng.random_range(0..10u32) {
                    0..=4 => Op::Get(k),
                    5..=8 => Op::SetTtl(k),
                    _ => Op::Delete(k),
                },
                Kind::HotIncr => Op::Incr(0),
                Kind::SpreadUniform => Op::Incr(k),
                Kind::SpreadZipf => Op::Incr(zipf.sample(&mut rng) as u32 - 1),
                Kind::Churn => unreachable!("churn runs on fresh keys"),
            }
        })
        .collect()
}

/// A contender (or the `AtomicI64` limit) ready to run workloads.
trait Runner {
    fn name(&self) -> &'static str;
    /// One windowed run over `tapes` (one per thread); returns (Mops/s, ops).
    fn run(&self, tapes: &[Vec<Op>], window: Duration) -> (f64, u64);
    /// One fixed-count churn run on a fresh instance; returns Mops/s.
    fn churn(&self, keys: &[Vec<String>]) -> f64;
    /// The current value of counter `idx` (for the lost-update check).
    fn counter(&self, idx: usize) -> i64;
}

struct Of<C> {
    c: C,
    keys: Arc<Vec<String>>,
    vals: Arc<Vec<Value>>,
}

impl<C: Contender> Of<C> {
    fn new(kind: Kind, keys: Arc<Vec<String>>, vals: Arc<Vec<Value>>) -> Self {
        let c = C::build();
        match kind {
            Kind::ReadHeavy | Kind::Mixed => {
                for (i, k) in keys.iter().enumerate() {
                    if i % 2 == 0 {
                        c.set(k, vals[i % VALUES].clone());
                    } else {
                        c.set_with_ttl(k, vals[i % VALUES].clone(), TTL);
                    }
                }
            }
            Kind::HotIncr | Kind::SpreadUniform | Kind::SpreadZipf => {
                for k in keys.iter() {
                    c.incr(k, 0).expect("fresh counter");
                }
            }
            Kind::Churn => {}
        }
        Of { c, keys, vals }
    }
}

impl<C: Contender> Runner for Of<C> {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn run(&self, tapes: &[Vec<Op>], window: Duration) -> (f64, u64) {
        let (c, keys, vals) = (&self.c, &*self.keys, &*self.vals);
        window_run(tapes.len(), window, &|t, stop| {
            drive(&tapes[t], stop, |op| match op {
                Op::Get(k) => {
                    sink(c.get(&keys[k as usize]));
                }
                Op::Set(k) => c.set(&keys[k as usize], vals[k as usize % VALUES].clone()),
                Op::SetTtl(k) => {
                    c.set_with_ttl(&keys[k as usize], vals[k as usize % VALUES].clone(), TTL)
                }
                Op::Delete(k) => {
                    sink(c.delete(&keys[k as usize]));
                }
                Op::Incr(k) => {
                    sink(c.incr(&keys[k as usize], 1).expect("counter"));
                }
            })
        })
    }

    fn churn(&self, keys: &[Vec<String>]) -> f64 {
        let fresh = C::build();
        let vals = &*self.vals;
        let barrier = Barrier::new(keys.len());
        let secs = std::thread::scope(|s| {
            let handles: Vec<_> = keys
                .iter()
                .map(|mine| {
                    let (fresh, barrier) = (&fresh, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let start = Instant::now();
                        for (i, k) in mine.iter().enumerate() {
                            fresh.set_with_ttl(k, vals[i % VALUES].clone(), TTL);
                            sink(fresh.get(&mine[i.saturating_sub(16)]));
                        }
                        ((), start, Instant::now())
                    })
                })
                .collect();
            let runs: Vec<((), Instant, Instant)> = handles
                .into_iter()
                .map(|h| h.join().expect("churn thread"))
                .collect();
            span_secs(&runs)
        });
        let ops: usize = keys.iter().map(|k| 2 * k.len()).sum();
        assert_eq!(fresh.len(), ops / 2, "{}: churn lost keys", C::NAME);
        drop(fresh);
        ops as f64 / secs / 1e6
    }

    fn counter(&self, idx: usize) -> i64 {
        match self.c.get(&self.keys[idx]) {
            Some(Value::Int(n)) => n,
            other => panic!("{}: counter holds {other:?}", C::NAME),
        }
    }
}

/// The physical limit for counters: a bare `AtomicI64` per key, incremented by a CAS loop with a
/// checked add (the same overflow semantics as `incr`), addressed by index (no hashing).
struct Atomics {
    cells: Vec<AtomicI64>,
}

impl Runner for Atomics {
    fn name(&self) -> &'static str {
        "AtomicI64 (limit)"
    }

    fn run(&self, tapes: &[Vec<Op>], window: Duration) -> (f64, u64) {
        let cells = &self.cells;
        window_run(tapes.len(), window, &|t, stop| {
            drive(&tapes[t], stop, |op| {
                let Op::Incr(k) = op else {
                    unreachable!("counters only")
                };
                let cell = &cells[k as usize];
                let mut cur = cell.load(Ordering::Relaxed);
                loop {
                    let next = cur.checked_add(1).expect("no overflow in the bench");
                    match cell.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
                    {
                        Ok(_) => break,
                        Err(actual) => cur = actual,
                    }
                }
                sink(cur);
            })
        })
    }

    fn churn(&self, _: &[Vec<String>]) -> f64 {
        unreachable!("counters only")
    }

    fn counter(&self, idx: usize) -> i64 {
        self.cells[idx].load(Ordering::SeqCst)
    }
}

fn runners(kind: Kind, keys: &Arc<Vec<String>>, vals: &Arc<Vec<Value>>) -> Vec<Box<dyn Runner>> {
    let mut out: Vec<Box<dyn Runner>> = Vec::new();
    for_each_contender!(C => out.push(Box::new(Of::<C>::new(kind, keys.clone(), vals.clone()))));
    // Right after ours (so that the rotation mostly runs the two back to back): the same store
    // with `record_stats(true)`, for the cost of counting hits and misses.
    out.insert(
        1,
        Box::new(Of::<common::OursStats>::new(
            kind,
            keys.clone(),
            vals.clone(),
        )),
    );
    if kind.counters() {
        out.push(Box::new(Atomics {
            cells: keys.iter().map(|_| AtomicI64::new(0)).collect(),
        }));
    }
    out
}

fn main() {
    if std::env::var_os("BENCH_PROFILE").is_some() {
        profile();
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument selects workloads by name.
    let want = common::wanted();
    let sizes = Sizes::get();
    let mut out = Output::open("throughput");
    let vals: Arc<Vec<Value>> = Arc::new((0..VALUES).map(small_value).collect());
    println!(
        "throughput: window {:?}, {} repetition(s), threads {:?}{}",
        sizes.window,
        sizes.reps,
        sizes.threads,
        if quick() { " (BENCH_QUICK)" } else { "" }
    );
    let kinds = [
        Kind::ReadHeavy,
        Kind::Mixed,
        Kind::HotIncr,
        Kind::SpreadUniform,
        Kind::SpreadZipf,
        Kind::Churn,
    ];
    for kind in kinds {
        if !want(kind.name()) {
            continue;
        }
        let keys = Arc::new(key_names(kind, &sizes));
        let runners = runners(kind, &keys, &vals);
        out.record(json!({
            "kind": "workload", "workload": kind.name(), "describe": kind.describe(&sizes),
        }));
        println!("\n== {} ({})", kind.name(), kind.describe(&sizes));
        // results[runner][threads index] = Mops per repetition
        let mut results = vec![vec![Vec::new(); sizes.threads.len()]; runners.len()];
        // Counter sanity: what the shared counter must hold after all runs (hot key only).
        let mut hot_expected = vec![0u64; runners.len()];
        for (ti, &threads) in sizes.threads.iter().enumerate() {
            let tapes: Vec<Vec<Op>> = if kind == Kind::Churn {
                Vec::new()
            } else {
                (0..threads).map(|t| tape(kind, keys.len(), t)).collect()
            };
            let churn_keys: Vec<Vec<String>> = if kind == Kind::Churn {
                (0..threads)
                    .map(|t| {
                        (0..sizes.churn)
                            .map(|i| format!("session:{t}:{i:08}"))
                            .collect()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            for rep in 0..sizes.reps {
                for j in 0..runners.len() {
                    let r = (j + rep) % runners.len();
                    let runner = &runners[r];
                    let mops = if kind == Kind::Churn {
                        runner.churn(&churn_keys)
                    } else {
                        let (mops, ops) = runner.run(&tapes, sizes.window);
                        if kind == Kind::HotIncr {
                            hot_expected[r] += ops;
                            let held = runner.counter(0);
                            assert_eq!(
                                u64::try_from(held).ok(),
                                Some(hot_expected[r]),
                                "{}: hot counter lost updates",
                                runner.name()
                            );
                        }
                        mops
                    };
                    results[r][ti].push(mops);
                }
            }
        }
        let ours = |ti: usize| median(&results[0][ti]);
        print!("{:<28}", "contender");
        for t in &sizes.threads {
            print!(" {:>9} {:>7}", format!("{t}T Mops"), "ours/x");
        }
        println!();
        for (r, runner) in runners.iter().enumerate() {
            print!("{:<28}", runner.name());
            for (ti, &threads) in sizes.threads.iter().enumerate() {
                let m = median(&results[r][ti]);
                print!(" {:>9.2} {:>7.2}", m, ours(ti) / m);
                out.record(json!({
                    "kind": "throughput", "workload": kind.name(), "threads": threads,
                    "contender": runner.name(), "mops": results[r][ti], "median": m,
                    "limit": runner.name().starts_with("AtomicI64"),
                }));
            }
            println!();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Profiling mode: single-thread loops on the store alone, one function per operation so that
// callgrind can toggle collection on each (`--toggle-collect=*profile_*`).

#[inline(never)]
fn profile_get(store: &scriptling_kv::Store, keys: &[String], n: usize) {
    for i in 0..n {
        sink(store.get(&keys[(i * 7919) % keys.len()]));
    }
}

#[inline(never)]
fn profile_set(store: &scriptling_kv::Store, keys: &[String], vals: &[Value], n: usize) {
    for i in 0..n {
        let k = (i * 7919) % keys.len();
        store.set_with_ttl(&keys[k], vals[i % VALUES].clone(), TTL);
    }
}

#[inline(never)]
fn profile_expire(store: &scriptling_kv::Store, keys: &[String], n: usize) {
    for i in 0..n {
        sink(store.expire(&keys[(i * 7919) % keys.len()], TTL));
    }
}

#[inline(never)]
fn profile_incr(store: &scriptling_kv::Store, keys: &[String], n: usize) {
    for i in 0..n {
        sink(
            store
                .incr(&keys[(i * 7919) % keys.len()], 1)
                .expect("counter"),
        );
    }
}

/// flurry+TTL's `get` loop (the same keys and order as [`profile_get`]).
#[inline(never)]
fn profile_flurry_get(map: &common::Flurry, keys: &[String], n: usize) {
    for i in 0..n {
        sink(map.get(&keys[(i * 7919) % keys.len()]));
    }
}

/// flurry+TTL's `set_with_ttl` loop (as [`profile_set`]).
#[inline(never)]
fn profile_flurry_set(map: &common::Flurry, keys: &[String], vals: &[Value], n: usize) {
    for i in 0..n {
        let k = (i * 7919) % keys.len();
        map.set_with_ttl(&keys[k], vals[i % VALUES].clone(), TTL);
    }
}

/// flurry+TTL's `incr` loop (as [`profile_incr`]).
#[inline(never)]
fn profile_flurry_incr(map: &common::Flurry, keys: &[String], n: usize) {
    for i in 0..n {
        sink(
            map.incr(&keys[(i * 7919) % keys.len()], 1)
                .expect("counter"),
        );
    }
}

/// `BENCH_PROFILE=flurry-get|flurry-set|flurry-incr`: the loops of [`profile`] on flurry+TTL,
/// the store's table with a deadline beside each value (same keys, values and order).
fn profile_flurry(which: &str, n: usize) {
    let map = common::Flurry::build();
    let keys: Vec<String> = (0..10_000).map(|i| format!("key:{i}")).collect();
    let vals: Vec<Value> = (0..VALUES).map(small_value).collect();
    for (i, k) in keys.iter().enumerate() {
        if i % 2 == 0 {
            map.set(k, vals[i % VALUES].clone());
        } else {
            map.set_with_ttl(k, vals[i % VALUES].clone(), TTL);
        }
    }
    let counters: Vec<String> = (0..1_000).map(|i| format!("rate:{i}")).collect();
    for k in &counters {
        map.incr(k, 0).expect("fresh counter");
    }
    let start = Instant::now();
    match which {
        "flurry-get" => profile_flurry_get(&map, &keys, n),
        "flurry-set" => profile_flurry_set(&map, &keys, &vals, n),
        "flurry-incr" => profile_flurry_incr(&map, &counters, n),
        other => panic!("unknown profile {other}"),
    }
    println!("profile {which}: {n} ops in {:?}", start.elapsed());
}

#[inline(never)]
fn profile_purge(store: &scriptling_kv::Store) -> usize {
    store.purge_expired()
}

#[inline(never)]
fn profile_keys(store: &scriptling_kv::Store, calls: usize) -> usize {
    (0..calls)
        .map(|_| sink(store.keys("g07:*").expect("valid pattern")).len())
        .sum()
}

/// `BENCH_PROFILE=get|set|incr|expire` runs that loop (`get-stats`: the `get` loop on a store built
/// with `record_stats(true)`) `BENCH_PROFILE_OPS` times (default 200,000) on a
/// store of 10k keys (half with a TTL) and 1k counters; `purge` purges `BENCH_PROFILE_OPS`
/// expired keys (written with a 1 ms TTL, never purged before); `keys` calls `keys("g07:*")`
/// over a store of 100k keys (1% match) `BENCH_PROFILE_OPS / 100,000` times;
/// `flurry-get|flurry-set|flurry-incr` run the get/set/incr loops on flurry+TTL instead
/// ([`profile_flurry`]); anything else runs get, set and incr.
fn profile() {
    let which = std::env::var("BENCH_PROFILE").unwrap_or_default();
    let n: usize = std::env::var("BENCH_PROFILE_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    if which.starts_with("flurry-") {
        profile_flurry(&which, n);
        return;
    }
    let store = scriptling_kv::Store::builder()
        .background_cleanup(false)
        .record_stats(which == "get-stats")
        .build();
    if which == "purge" {
        for i in 0..n {
            store.set_with_ttl(
                &format!("gone:{i}"),
                small_value(i),
                Duration::from_millis(1),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        let removed = profile_purge(&store);
        assert_eq!(removed, n, "purge count");
        println!("profile purge: {n} expired keys in {:?}", start.elapsed());
        return;
    }
    if which == "keys" {
        const STORED: usize = 100_000;
        let store = common::Ours::from_store(store);
        common::fill_glob_keys(&store, STORED, TTL);
        let store = store.0;
        let calls = (n / STORED).max(1);
        let start = Instant::now();
        let found = profile_keys(&store, calls);
        assert_eq!(found, calls * STORED / 100, "keys count");
        println!(
            "profile keys: {calls} calls over {STORED} keys in {:?}",
            start.elapsed()
        );
        return;
    }
    let keys: Vec<String> = (0..10_000).map(|i| format!("key:{i}")).collect();
    let vals: Vec<Value> = (0..VALUES).map(small_value).collect();
    for (i, k) in keys.iter().enumerate() {
        if i % 2 == 0 {
            store.set(k, vals[i % VALUES].clone());
        } else {
            store.set_with_ttl(k, vals[i % VALUES].clone(), TTL);
        }
    }
    let counters: Vec<String> = (0..1_000).map(|i| format!("rate:{i}")).collect();
    for k in &counters {
        store.incr(k, 0).expect("fresh counter");
    }
    let all = !matches!(
        which.as_str(),
        "get" | "get-stats" | "set" | "incr" | "expire"
    );
    let start = Instant::now();
    if all || which == "get" || which == "get-stats" {
        profile_get(&store, &keys, n);
    }
    if all || which == "set" {
        profile_set(&store, &keys, &vals, n);
    }
    if all || which == "incr" {
        profile_incr(&store, &counters, n);
    }
    if all || which == "expire" {
        profile_expire(&store, &keys, n);
    }
    println!("profile {which}: {n} ops per loop in {:?}", start.elapsed());
}
