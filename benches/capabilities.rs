//! The store's newer capabilities against each peer's closest equivalent (custom harness):
//!
//! - **conditional writes** (`set_if_absent`, `compare_and_set`, `compare_and_delete`,
//!   `incr_with_ttl`) at 1 and 2 threads, every contender through the `Conditional` trait of
//!   `benches/common/mod.rs` (the store's semantics: a value plus an optional deadline, expired =
//!   absent);
//! - **stampede**: N threads miss one key at once and load it through `get_or_insert_with`
//!   (`init` sleeps or spins ~1 ms and counts its calls): how many `init` calls, and how long until
//!   all N have the value; and the same with async tasks on tokio;
//! - **sliding sessions**: read one field of a ~1 KB / ~10 KB `Value::Dict` and push its TTL
//!   back, each peer in its natural way (moka: an `Expiry` whose reads refresh the TTL);
//! - **flood** of unique keys into a store bounded at 10,000 keys (ours `max_keys`, moka
//!   `max_capacity`): throughput, the largest size observed, peak RSS growth;
//! - **`record_stats(true)`**: a paired A/B of the same read loop on a store with and without
//!   hit/miss counting (the throughput bench also runs every workload on both).
//!
//! ```text
//! cargo bench --bench capabilities                    # full (~5 minutes on 2 cores)
//! BENCH_QUICK=1 cargo bench --bench capabilities      # CI smoke: seconds
//! BENCH_OUT=dir cargo bench --bench capabilities      # also write dir/capabilities.jsonl
//! cargo bench --bench capabilities -- stampede flood  # only the sections named
//! ```
//!
//! Every section asserts its own counts: one winner per key in a `set_if_absent` race, no
//! lost update in `compare_and_set`/`incr_with_ttl`, every lock released by its holder, exactly
//! one `init` per stampede for the store (and for the peers that hold a lock while `init` runs),
//! every session live, the store's key count within `max_keys + threads` throughout the flood
//! and `evicted + len = keys written`, hits + misses = reads with `record_stats(true)`.

// Without the `[[bench]] harness = false` entry in Cargo.toml, cargo builds this file as a
// libtest bench (cfg(test)): keep that build warning-free; it then runs nothing.
#![cfg_attr(test, allow(dead_code, unused_imports, unused_macros))]

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::time::{Duration, Instant};

use ahash::RandomState;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use scriptling_kv::{Compute, Store, Value};
use serde_json::json;

use common::{
    drive, median, pick, quick, sink, small_value, span_secs, wanted, window_run, Conditional,
    Contender, Flurry, Item, Moka, Ours, OursStats, Output, FLURRY_NAME,
};

/// TTL of locks, versions, sessions: long enough that nothing expires during a run.
const TTL: Duration = Duration::from_secs(1800);
/// Operations per thread tape (cycled).
const TAPE: usize = 1 << 16;

struct Sizes {
    /// Keys of the windowed conditional workloads (locks, versions, counters).
    keys: usize,
    /// Fresh keys per `set_if_absent` race.
    race_keys: usize,
    window: Duration,
    reps: usize,
    threads: Vec<usize>,
    stampede: Vec<usize>,
    stampede_reps: usize,
    sessions: usize,
    flood: usize,
    flood_reps: usize,
    cap: usize,
    ab_pairs: usize,
    ab_window: Duration,
}

impl Sizes {
    /// Smoke sizes under `BENCH_QUICK`, else the full ones.
    fn get() -> Self {
        Sizes {
            keys: pick(10_000, 10_000),
            race_keys: pick(5_000, 100_000),
            window: pick(Duration::from_millis(20), Duration::from_millis(300)),
            reps: pick(1, 5),
            threads: pick(vec![1, 2], vec![1, 2]),
            stampede: pick(vec![2, 8, 32], vec![2, 8, 32]),
            stampede_reps: pick(2, 25),
            sessions: pick(1_000, 10_000),
            flood: pick(30_000, 1_000_000),
            flood_reps: pick(1, 3),
            cap: pick(10_000, 10_000),
            ab_pairs: pick(2, 61),
            ab_window: pick(Duration::from_millis(10), Duration::from_millis(50)),
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments select sections by name.
    let want = wanted();
    let sizes = Sizes::get();
    let mut out = Output::open("capabilities");
    println!(
        "capabilities: window {:?}, {} repetition(s), threads {:?}{}",
        sizes.window,
        sizes.reps,
        sizes.threads,
        if quick() { " (BENCH_QUICK)" } else { "" }
    );
    // First, while the process's heap is still small: its RSS is measured.
    if want("flood") {
        flood_section::<Ours, Moka>(
            &sizes,
            &mut out,
            "flood",
            "keys (ours `max_keys`, moka `max_capacity`; the only peer with a bound)",
        );
        flood_section::<OursBytes, MokaBytes>(
            &sizes,
            &mut out,
            "flood-bytes",
            "keys' worth of bytes (ours `max_bytes`, moka `max_capacity` with a weigher charging \
             each entry as ours does: key + 8 + ENTRY_OVERHEAD)",
        );
    }
    if want("conditional") {
        conditional_section(&sizes, &mut out);
    }
    if want("stampede") {
        stampede_section(&sizes, &mut out);
    }
    if want("session") {
        session_section(&sizes, &mut out);
    }
    if want("stats") {
        stats_section(&sizes, &mut out);
    }
}

/// Prints a throughput table (median Mops/s and ours / x per thread count) and records it in the
/// throughput format the report generator reads (`group` tells the sections apart).
fn report_throughput(
    out: &mut Output,
    group: &str,
    workload: &str,
    names: &[&'static str],
    threads: &[usize],
    results: &[Vec<Vec<f64>>],
) {
    let ours = |ti: usize| median(&results[0][ti]);
    print!("{:<34}", "contender");
    for t in threads {
        print!(" {:>9} {:>7}", format!("{t}T Mops"), "ours/x");
    }
    println!();
    for (r, name) in names.iter().enumerate() {
        print!("{name:<34}");
        for (ti, &t) in threads.iter().enumerate() {
            let m = median(&results[r][ti]);
            print!(" {:>9.3} {:>7.2}", m, ours(ti) / m);
            out.record(json!({
                "kind": "throughput", "group": group, "workload": workload, "threads": t,
                "contender": name, "mops": results[r][ti], "median": m, "limit": false,
            }));
        }
        println!();
    }
}

// ---------------------------------------------------------------------------------------------
// Conditional writes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    /// All threads claim the same fresh keys with `set_if_absent` (fixed count, fresh instance).
    Race,
    /// `set_if_absent` a lock, and `compare_and_delete` it if this thread got it.
    LockCycle,
    /// Optimistic update: `get` the version, `compare_and_set` it to version + 1.
    CasVersion,
    /// Fixed-window rate limiter: `incr_with_ttl`, zipfian keys.
    IncrTtl,
}

impl Cond {
    fn name(self) -> &'static str {
        match self {
            Cond::Race => "set-if-absent-race",
            Cond::LockCycle => "lock-cycle",
            Cond::CasVersion => "cas-version",
            Cond::IncrTtl => "incr-with-ttl-zipf",
        }
    }

    fn describe(self, sizes: &Sizes) -> String {
        match self {
            Cond::Race => format!(
                "every thread calls `set_if_absent(key, its token, ttl)` on the same {} fresh \
                 keys in the same order (a fresh instance per run; an op = one call; exactly one \
                 winner per key is asserted). Peers: dashmap `entry`, papaya `try_insert`, scc \
                 `entry`, flurry+TTL `try_insert`, moka `entry().or_insert_with`, std maps under \
                 the lock",
                sizes.race_keys
            ),
            Cond::LockCycle => format!(
                "uniform over {} lock keys: `set_if_absent(lock, my token, ttl)`, and if this \
                 thread got the lock, `compare_and_delete(lock, my token)` (asserted to succeed); \
                 an op = one attempt. Peers' `compare_and_delete`: dashmap/scc `remove_if`, papaya \
                 `remove_if`, flurry+TTL `compute_if_present` returning `None`, moka \
                 `and_compute_with`, std maps under the lock",
                sizes.keys
            ),
            Cond::CasVersion => format!(
                "uniform over {} keys holding a version: `get`, then `compare_and_set(key, \
                 version, version + 1)`; an op = the pair; the sum of versions must equal the \
                 successful swaps. Peers' `compare_and_set`: dashmap `get_mut`, papaya `compute`, \
                 scc `update`, flurry+TTL `compute_if_present`, moka `and_compute_with`, std maps \
                 under the lock",
                sizes.keys
            ),
            Cond::IncrTtl => format!(
                "`incr_with_ttl(key, 1, 30 min)`, zipfian (s = 1.0) over {} keys created by the \
                 first run (no lost increment is asserted). Peers: their `incr` giving a created \
                 key its deadline (flurry+TTL: `compute_if_present`, else `try_insert`)",
                sizes.keys
            ),
        }
    }
}

/// A contender ready to run the conditional workloads.
trait CondRunner {
    fn name(&self) -> &'static str;
    /// One windowed run; returns (Mops/s, ops, successes).
    fn run(&self, kind: Cond, tapes: &[Vec<u32>], window: Duration) -> (f64, u64, u64);
    /// One race on a fresh instance; returns Mops/s.
    fn race(&self, keys: &[String], threads: usize) -> f64;
    /// The sum of the integers held by the keys (missing keys count 0).
    fn sum(&self) -> i64;
    /// Entries held.
    fn len(&self) -> usize;
}

struct CondOf<C> {
    c: C,
    keys: Arc<Vec<String>>,
    tokens: Vec<Value>,
}

impl<C: Conditional> CondOf<C> {
    fn new(kind: Cond, keys: Arc<Vec<String>>) -> Self {
        let c = C::build();
        if kind == Cond::CasVersion {
            for k in keys.iter() {
                c.set_with_ttl(k, Value::Int(0), TTL);
            }
        }
        let tokens = (0..64)
            .map(|t| Value::Str(format!("owner-{t:02}")))
            .collect();
        CondOf { c, keys, tokens }
    }
}

impl<C: Conditional> CondRunner for CondOf<C> {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn run(&self, kind: Cond, tapes: &[Vec<u32>], window: Duration) -> (f64, u64, u64) {
        let (c, keys, tokens) = (&self.c, &*self.keys, &self.tokens);
        let wins = AtomicU64::new(0);
        let (mops, ops) = window_run(tapes.len(), window, &|t, stop| {
            let mut won = 0u64;
            let n = match kind {
                Cond::LockCycle => {
                    let token = &tokens[t];
                    drive(&tapes[t], stop, |k| {
                        let key = &keys[k as usize];
                        if c.set_if_absent(key, token.clone(), TTL) {
                            won += 1;
                            assert!(
                                c.compare_and_delete(key, token),
                                "{}: the holder could not release its lock",
                                C::NAME
                            );
                        }
                    })
                }
                Cond::CasVersion => drive(&tapes[t], stop, |k| {
                    let key = &keys[k as usize];
                    let cur = c.get(key).expect("versions never expire");
                    let n = cur.as_int().expect("a version");
                    if c.compare_and_set(key, &cur, Value::Int(n + 1)) {
                        won += 1;
                    }
                }),
                Cond::IncrTtl => drive(&tapes[t], stop, |k| {
                    sink(c.incr_with_ttl(&keys[k as usize], 1, TTL).expect("counter"));
                }),
                Cond::Race => unreachable!("fixed-count"),
            };
            wins.fetch_add(won, Ordering::Relaxed);
            n
        });
        (mops, ops, wins.into_inner())
    }

    fn race(&self, keys: &[String], threads: usize) -> f64 {
        let fresh = C::build();
        let tokens = &self.tokens;
        let barrier = Barrier::new(threads);
        let runs: Vec<(usize, Instant, Instant)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (fresh, barrier) = (&fresh, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let start = Instant::now();
                        let wins = keys
                            .iter()
                            .filter(|k| fresh.set_if_absent(k, tokens[t].clone(), TTL))
                            .count();
                        (wins, start, Instant::now())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("racer"))
                .collect()
        });
        let (secs, wins) = (span_secs(&runs), runs.iter().map(|r| r.0).sum::<usize>());
        assert_eq!(wins, keys.len(), "{}: one winner per key", C::NAME);
        assert_eq!(fresh.len(), keys.len(), "{}: race entry count", C::NAME);
        for k in keys.iter().step_by(97) {
            let v = fresh.get(k).expect("claimed key");
            assert!(tokens[..threads].contains(&v), "{}: foreign token", C::NAME);
        }
        (threads * keys.len()) as f64 / secs / 1e6
    }

    fn sum(&self) -> i64 {
        self.keys
            .iter()
            .map(|k| self.c.get(k).map_or(0, |v| v.as_int().expect("integer")))
            .sum()
    }

    fn len(&self) -> usize {
        self.c.len()
    }
}

fn cond_runners(kind: Cond, keys: &Arc<Vec<String>>) -> Vec<Box<dyn CondRunner>> {
    let mut out: Vec<Box<dyn CondRunner>> = Vec::new();
    for_each_contender!(C => out.push(Box::new(CondOf::<C>::new(kind, keys.clone()))));
    out
}

/// Thread `t`'s tape of key indices.
fn index_tape(n_keys: usize, t: usize, zipf: bool) -> Vec<u32> {
    let mut rng = SmallRng::seed_from_u64(0xc0de ^ (t as u64).wrapping_mul(0x9e37_79b9));
    let n = u32::try_from(n_keys).expect("key count fits u32");
    let z = Zipf::new(n_keys as f64, 1.0).expect("valid zipf");
    (0..TAPE)
        .map(|_| {
            if zipf {
                z.sample(&mut rng) as u32 - 1
            } else {
                rng.random_range(0..n)
            }
        })
        .collect()
}

fn conditional_section(sizes: &Sizes, out: &mut Output) {
    for kind in [Cond::Race, Cond::LockCycle, Cond::CasVersion, Cond::IncrTtl] {
        let keys: Arc<Vec<String>> = Arc::new(match kind {
            Cond::Race => (0..sizes.race_keys)
                .map(|i| format!("idem:{i:08}"))
                .collect(),
            Cond::LockCycle => (0..sizes.keys).map(|i| format!("lock:{i}")).collect(),
            Cond::CasVersion => (0..sizes.keys).map(|i| format!("doc:{i}")).collect(),
            Cond::IncrTtl => (0..sizes.keys).map(|i| format!("rate:{i}")).collect(),
        });
        let runners = cond_runners(kind, &keys);
        out.record(json!({
            "kind": "workload", "group": "conditional", "workload": kind.name(),
            "describe": kind.describe(sizes),
        }));
        println!("\n== {} ({})", kind.name(), kind.describe(sizes));
        let mut results = vec![vec![Vec::new(); sizes.threads.len()]; runners.len()];
        // What `sum()` must return: successful swaps (cas-version), increments (incr-with-ttl).
        let mut expected_sum = vec![0i64; runners.len()];
        for (ti, &threads) in sizes.threads.iter().enumerate() {
            let tapes: Vec<Vec<u32>> = (0..threads)
                .map(|t| index_tape(keys.len(), t, kind == Cond::IncrTtl))
                .collect();
            for rep in 0..sizes.reps {
                for j in 0..runners.len() {
                    let r = (j + rep) % runners.len();
                    let runner = &runners[r];
                    let mops = if kind == Cond::Race {
                        runner.race(&keys, threads)
                    } else {
                        let (mops, ops, wins) = runner.run(kind, &tapes, sizes.window);
                        match kind {
                            Cond::LockCycle => {
                                assert!(wins > 0, "{}: no lock taken", runner.name());
                                assert_eq!(runner.len(), 0, "{}: locks left", runner.name());
                            }
                            Cond::CasVersion | Cond::IncrTtl => {
                                expected_sum[r] += i64::try_from(if kind == Cond::CasVersion {
                                    wins
                                } else {
                                    ops
                                })
                                .expect("fits");
                                assert_eq!(
                                    runner.sum(),
                                    expected_sum[r],
                                    "{}: lost updates",
                                    runner.name()
                                );
                            }
                            Cond::Race => unreachable!(),
                        }
                        mops
                    };
                    results[r][ti].push(mops);
                }
            }
        }
        let names: Vec<&'static str> = runners.iter().map(|r| r.name()).collect();
        report_throughput(
            out,
            "conditional",
            kind.name(),
            &names,
            &sizes.threads,
            &results,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Stampede

/// What `init` does for ~1 ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InitKind {
    /// `thread::sleep(1 ms)`: an I/O-bound load (a backend call); costs no CPU here.
    Sleep,
    /// Spins 1 ms on the CPU: a CPU-bound computation.
    Spin,
}

const INIT_TIME: Duration = Duration::from_millis(1);

fn do_init(kind: InitKind) {
    match kind {
        InitKind::Sleep => std::thread::sleep(INIT_TIME),
        InitKind::Spin => {
            let start = Instant::now();
            while start.elapsed() < INIT_TIME {
                std::hint::spin_loop();
            }
        }
    }
}

/// One stampede of `n` threads on `key`: (init calls, ms from the first start to the last
/// return). Every thread must get the same value.
fn stampede_once<C: Conditional>(c: &C, key: &str, n: usize, kind: InitKind) -> (usize, f64) {
    let calls = AtomicUsize::new(0);
    let barrier = Barrier::new(n);
    let got: Vec<(Instant, Instant, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (calls, barrier) = (&calls, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let t0 = Instant::now();
                    let v = c.get_or_insert_with(key, TTL, || {
                        let i = calls.fetch_add(1, Ordering::SeqCst);
                        do_init(kind);
                        Value::Str(format!("loaded by call {i}"))
                    });
                    (t0, Instant::now(), v)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("stampede thread"))
            .collect()
    });
    let first = got.iter().map(|g| g.0).min().expect("threads");
    let last = got.iter().map(|g| g.1).max().expect("threads");
    assert!(
        got.iter().all(|g| g.2 == got[0].2),
        "{}: the stampede's callers got different values",
        C::NAME
    );
    (
        calls.into_inner(),
        last.duration_since(first).as_secs_f64() * 1e3,
    )
}

/// Whether a contender is bound to run exactly one `init` per stampede (the store by its single
/// flight; the peers that run `init` holding a lock, by that lock).
fn exactly_one_init(name: &str) -> bool {
    name.starts_with("scriptling-kv")
        || matches!(
            name,
            "dashmap" | "scc" | "Mutex<HashMap>" | "RwLock<HashMap>"
        )
}

trait StampedeRunner {
    fn name(&self) -> &'static str;
    fn once(&self, key: &str, n: usize, kind: InitKind) -> (usize, f64);
}

struct StampedeOf<C>(C);

impl<C: Conditional> StampedeRunner for StampedeOf<C> {
    fn name(&self) -> &'static str {
        C::NAME
    }
    fn once(&self, key: &str, n: usize, kind: InitKind) -> (usize, f64) {
        stampede_once(&self.0, key, n, kind)
    }
}

fn stampede_section(sizes: &Sizes, out: &mut Output) {
    let mut runners: Vec<Box<dyn StampedeRunner>> = Vec::new();
    for_each_contender!(C => runners.push(Box::new(StampedeOf(C::build()))));
    for kind in [InitKind::Sleep, InitKind::Spin] {
        let init = match kind {
            InitKind::Sleep => "sleep",
            InitKind::Spin => "spin",
        };
        println!(
            "\n== stampede: N threads miss one key at once; init = {init} 1 ms \
             (median of {} stampedes)",
            sizes.stampede_reps
        );
        println!(
            "{:<18} {:>4} {:>12} {:>10} {:>14} {:>10}",
            "contender", "N", "inits median", "inits max", "ms to all (med)", "x / ours"
        );
        for &n in &sizes.stampede {
            // [runner] = (inits, ms) per repetition
            let mut res = vec![(Vec::new(), Vec::new()); runners.len()];
            for rep in 0..sizes.stampede_reps {
                for j in 0..runners.len() {
                    let r = (j + rep) % runners.len();
                    let key = format!("stampede:{init}:{n}:{rep}");
                    let (inits, ms) = runners[r].once(&key, n, kind);
                    if exactly_one_init(runners[r].name()) {
                        assert_eq!(inits, 1, "{}: inits per stampede", runners[r].name());
                    }
                    res[r].0.push(inits as f64);
                    res[r].1.push(ms);
                }
            }
            let ours_ms = median(&res[0].1);
            for (r, runner) in runners.iter().enumerate() {
                let (inits, ms) = &res[r];
                let (mi, mx, mm) = (
                    median(inits),
                    inits.iter().copied().fold(0.0, f64::max),
                    median(ms),
                );
                println!(
                    "{:<18} {:>4} {:>12.1} {:>10.0} {:>14.2} {:>10.2}",
                    runner.name(),
                    n,
                    mi,
                    mx,
                    mm,
                    mm / ours_ms
                );
                out.record(json!({
                    "kind": "stampede", "init": init, "contender": runner.name(), "threads": n,
                    "inits": inits, "ms": ms, "inits_median": mi, "inits_max": mx,
                    "ms_median": mm,
                }));
            }
        }
    }
    stampede_async(sizes, out);
}

/// The async stampede: N tokio tasks (2 worker threads) miss one key at once; `init` is
/// `tokio::time::sleep(1 ms)`. Ours: `get_or_insert_with_async`. The peer is the hand-rolled
/// pattern (moka's `future` cache does not build offline here): a `DashMap` of
/// `Arc<tokio::sync::OnceCell>`, one cell per key, `get_or_init` (coalesces).
fn stampede_async(sizes: &Sizes, out: &mut Output) {
    use tokio::sync::OnceCell;
    type Cells = dashmap::DashMap<String, Arc<OnceCell<Value>>, RandomState>;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let store = Arc::new(Store::builder().background_cleanup(false).build());
    let cells: Arc<Cells> = Arc::new(dashmap::DashMap::with_hasher(RandomState::new()));
    const NAMES: [&str; 2] = ["scriptling-kv", "dashmap + tokio OnceCell"];
    println!(
        "\n== stampede (async): N tokio tasks on 2 worker threads miss one key at once; init = \
         tokio::time::sleep(1 ms) (median of {} stampedes)",
        sizes.stampede_reps
    );
    println!(
        "{:<26} {:>4} {:>12} {:>10} {:>14} {:>10}",
        "contender", "N", "inits median", "inits max", "ms to all (med)", "x / ours"
    );
    for &n in &sizes.stampede {
        let mut res = vec![(Vec::new(), Vec::new()); NAMES.len()];
        for rep in 0..sizes.stampede_reps {
            for j in 0..NAMES.len() {
                let which = (j + rep) % NAMES.len();
                let key = format!("async:{n}:{rep}");
                let calls = Arc::new(AtomicUsize::new(0));
                let barrier = Arc::new(tokio::sync::Barrier::new(n));
                let got: Vec<(Instant, Instant, Value)> = rt.block_on(async {
                    let tasks: Vec<_> = (0..n)
                        .map(|_| {
                            let (store, cells, calls, barrier, key) = (
                                store.clone(),
                                cells.clone(),
                                calls.clone(),
                                barrier.clone(),
                                key.clone(),
                            );
                            tokio::spawn(async move {
                                barrier.wait().await;
                                let t0 = Instant::now();
                                let init = async {
                                    let i = calls.fetch_add(1, Ordering::SeqCst);
                                    tokio::time::sleep(INIT_TIME).await;
                                    Value::Str(format!("loaded by call {i}"))
                                };
                                let v = if which == 0 {
                                    store.get_or_insert_with_async(&key, Some(TTL), init).await
                                } else {
                                    let cell = cells.entry(key.clone()).or_default().clone();
                                    cell.get_or_init(|| init).await.clone()
                                };
                                (t0, Instant::now(), v)
                            })
                        })
                        .collect();
                    let mut got = Vec::with_capacity(n);
                    for t in tasks {
                        got.push(t.await.expect("task"));
                    }
                    got
                });
                let first = got.iter().map(|g| g.0).min().expect("tasks");
                let last = got.iter().map(|g| g.1).max().expect("tasks");
                assert!(got.iter().all(|g| g.2 == got[0].2), "different values");
                let inits = calls.load(Ordering::SeqCst);
                assert_eq!(inits, 1, "{}: inits per async stampede", NAMES[which]);
                res[which].0.push(inits as f64);
                res[which]
                    .1
                    .push(last.duration_since(first).as_secs_f64() * 1e3);
            }
        }
        let ours_ms = median(&res[0].1);
        for (which, name) in NAMES.iter().enumerate() {
            let (inits, ms) = &res[which];
            let (mi, mx, mm) = (
                median(inits),
                inits.iter().copied().fold(0.0, f64::max),
                median(ms),
            );
            println!(
                "{:<26} {:>4} {:>12.1} {:>10.0} {:>14.2} {:>10.2}",
                name,
                n,
                mi,
                mx,
                mm,
                mm / ours_ms
            );
            out.record(json!({
                "kind": "stampede", "init": "async-sleep", "contender": name, "threads": n,
                "inits": inits, "ms": ms, "inits_median": mi, "inits_max": mx, "ms_median": mm,
            }));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sliding sessions

/// A session store: a value per session id and a TTL that every read pushes back.
trait Session: Send + Sync + 'static {
    const NAME: &'static str;
    fn build() -> Self;
    fn insert(&self, key: &str, value: Value, ttl: Duration);
    /// If the session is live: the length of its string field `field`, and its deadline pushed
    /// to now + `ttl`; `None` if it is missing or expired.
    fn touch(&self, key: &str, field: &str, ttl: Duration) -> Option<usize>;
    fn len(&self) -> usize;
}

/// The length of the string field `field` of a dict value.
#[inline]
fn field_len(v: &Value, field: &str) -> usize {
    v.as_dict()
        .and_then(|d| d.get(field))
        .and_then(Value::as_str)
        .map_or(0, str::len)
}

/// Ours as the issue describes it: `get_with` reading the field in place, then `expire`.
struct OursSession(Store);

impl Session for OursSession {
    const NAME: &'static str = "scriptling-kv";
    fn build() -> Self {
        OursSession(Store::builder().background_cleanup(false).build())
    }
    fn insert(&self, key: &str, value: Value, ttl: Duration) {
        self.0.set_with_ttl(key, value, ttl);
    }
    #[inline]
    fn touch(&self, key: &str, field: &str, ttl: Duration) -> Option<usize> {
        let n = self.0.get_with(key, |v| field_len(v, field))?;
        self.0.expire(key, ttl);
        Some(n)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Ours in one step: `compute` reading the field and returning `Compute::Expire`.
struct OursComputeSession(Store);

impl Session for OursComputeSession {
    const NAME: &'static str = "scriptling-kv (compute)";
    fn build() -> Self {
        OursComputeSession(Store::builder().background_cleanup(false).build())
    }
    fn insert(&self, key: &str, value: Value, ttl: Duration) {
        self.0.set_with_ttl(key, value, ttl);
    }
    #[inline]
    fn touch(&self, key: &str, field: &str, ttl: Duration) -> Option<usize> {
        self.0.compute(key, |cur| match cur {
            Some(cur) => (Compute::Expire(ttl), Some(field_len(cur.value(), field))),
            None => (Compute::Keep, None),
        })
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// moka's value for sessions: moka clones the value on every `get`, so a large value is held in
/// an `Arc` (what moka's documentation advises); `ttl` is the sliding TTL.
#[derive(Clone)]
struct MokaSessionItem {
    value: Arc<Value>,
    ttl: Duration,
}

/// Sliding expiry: every create, update and read sets the TTL to the session's.
struct Sliding;

impl moka::Expiry<String, MokaSessionItem> for Sliding {
    fn expire_after_create(&self, _: &String, v: &MokaSessionItem, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &MokaSessionItem,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
    fn expire_after_read(
        &self,
        _: &String,
        v: &MokaSessionItem,
        _: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// moka with `expire_after_read`: one `get` reads and refreshes.
struct MokaSession(moka::sync::Cache<String, MokaSessionItem, RandomState>);

impl Session for MokaSession {
    const NAME: &'static str = "moka (expire_after_read)";
    fn build() -> Self {
        MokaSession(
            moka::sync::Cache::builder()
                .expire_after(Sliding)
                .build_with_hasher(RandomState::new()),
        )
    }
    fn insert(&self, key: &str, value: Value, ttl: Duration) {
        self.0.insert(
            key.to_owned(),
            MokaSessionItem {
                value: Arc::new(value),
                ttl,
            },
        );
    }
    #[inline]
    fn touch(&self, key: &str, field: &str, _ttl: Duration) -> Option<usize> {
        self.0.get(key).map(|s| field_len(&s.value, field))
    }
    fn len(&self) -> usize {
        self.0.run_pending_tasks();
        usize::try_from(self.0.entry_count()).expect("fits")
    }
}

/// A session for the maps that refresh without a write lock: the deadline is an atomic
/// (nanoseconds since the map's `base`, 0 = none).
struct AtomicItem {
    value: Value,
    deadline: AtomicU64,
}

/// Nanoseconds since `base` (at least 1, so that 0 can mean "no deadline").
#[inline]
fn nanos_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos())
        .expect("fits")
        .max(1)
}

impl AtomicItem {
    fn new(value: Value, ttl: Duration, base: Instant) -> Self {
        AtomicItem {
            value,
            deadline: AtomicU64::new(nanos_since(base) + ttl.as_nanos() as u64),
        }
    }

    /// Reads and refreshes: `None` if expired (then left as is).
    #[inline]
    fn touch(&self, field: &str, ttl: Duration, base: Instant) -> Option<usize> {
        let now = nanos_since(base);
        let d = self.deadline.load(Ordering::Relaxed);
        if d != 0 && now >= d {
            return None;
        }
        self.deadline
            .fetch_max(now + ttl.as_nanos() as u64, Ordering::Relaxed);
        Some(field_len(&self.value, field))
    }
}

/// The item of the maps that refresh under a write lock: value + deadline, as in `common`.
struct LockedItem {
    value: Value,
    deadline: Instant,
}

impl LockedItem {
    #[inline]
    fn touch(&mut self, field: &str, ttl: Duration) -> Option<usize> {
        let now = Instant::now();
        if now >= self.deadline {
            return None;
        }
        self.deadline = now + ttl;
        Some(field_len(&self.value, field))
    }
}

/// dashmap: `get_mut` (the shard's write lock) and the deadline updated in place.
struct DashSession(dashmap::DashMap<String, LockedItem, RandomState>);

impl Session for DashSession {
    const NAME: &'static str = "dashmap (get_mut)";
    fn build() -> Self {
        DashSession(dashmap::DashMap::with_hasher(RandomState::new()))
    }
    fn insert(&self, key: &str, value: Value, ttl: Duration) {
        let deadline = Instant::now() + ttl;
        self.0
            .insert(key.to_owned(), LockedItem { value, deadline });
    }
    #[inline]
    fn touch(&self, key: &str, field: &str, ttl: Duration) -> Option<usize> {
        self.0.get_mut(key)?.touch(field, ttl)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A concurrent map whose reads take no lock, holding [`AtomicItem`]s: the sessions of papaya,
/// scc and flurry (their values are immutable once inserted, or read under a shared lock: a
/// copy-on-write `compute` would copy the whole session on every touch).
trait AtomicMap: Send + Sync + 'static {
    const NAME: &'static str;
    fn build() -> Self;
    fn insert(&self, key: String, item: AtomicItem);
    /// `f` on the item of `key`, if present.
    fn read<R>(&self, key: &str, f: impl FnOnce(&AtomicItem) -> R) -> Option<R>;
    fn len(&self) -> usize;
}

impl AtomicMap for papaya::HashMap<String, AtomicItem, RandomState> {
    const NAME: &'static str = "papaya (atomic deadline)";
    fn build() -> Self {
        papaya::HashMap::with_hasher(RandomState::new())
    }
    fn insert(&self, key: String, item: AtomicItem) {
        self.pin().insert(key, item);
    }
    #[inline]
    fn read<R>(&self, key: &str, f: impl FnOnce(&AtomicItem) -> R) -> Option<R> {
        self.pin().get(key).map(f)
    }
    fn len(&self) -> usize {
        self.len()
    }
}

impl AtomicMap for scc::HashMap<String, AtomicItem, RandomState> {
    const NAME: &'static str = "scc (atomic deadline)";
    fn build() -> Self {
        scc::HashMap::with_hasher(RandomState::new())
    }
    fn insert(&self, key: String, item: AtomicItem) {
        self.upsert(key, item);
    }
    #[inline]
    fn read<R>(&self, key: &str, f: impl FnOnce(&AtomicItem) -> R) -> Option<R> {
        scc::HashMap::read(self, key, |_, it| f(it))
    }
    fn len(&self) -> usize {
        self.len()
    }
}

impl AtomicMap for flurry::HashMap<String, AtomicItem, RandomState> {
    // flurry+TTL as the sessions define the map peers: an atomic deadline beside the value.
    const NAME: &'static str = FLURRY_NAME;
    fn build() -> Self {
        common::flurry_map()
    }
    fn insert(&self, key: String, item: AtomicItem) {
        self.pin().insert(key, item);
    }
    #[inline]
    fn read<R>(&self, key: &str, f: impl FnOnce(&AtomicItem) -> R) -> Option<R> {
        self.pin().get(key).map(f)
    }
    fn len(&self) -> usize {
        self.len()
    }
}

/// Sessions in an [`AtomicMap`]: a lock-free read and an atomic deadline.
struct AtomicSession<M>(M, Instant);

impl<M: AtomicMap> Session for AtomicSession<M> {
    const NAME: &'static str = M::NAME;
    fn build() -> Self {
        AtomicSession(M::build(), Instant::now())
    }
    fn insert(&self, key: &str, value: Value, ttl: Duration) {
        self.0
            .insert(key.to_owned(), AtomicItem::new(value, ttl, self.1));
    }
    #[inline]
    fn touch(&self, key: &str, field: &str, ttl: Duration) -> Option<usize> {
        self.0
            .read(key, |it| it.touch(field, ttl, self.1))
            .flatten()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

type PapayaSession = AtomicSession<papaya::HashMap<String, AtomicItem, RandomState>>;
type SccSession = AtomicSession<scc::HashMap<String, AtomicItem, RandomState>>;
type FlurryAtomicSession = AtomicSession<flurry::HashMap<String, AtomicItem, RandomState>>;

/// flurry+TTL with the item of the other tables (`common::Flurry`: an immutable `(Value,
/// deadline)` per key), not a peer of its own: the field read and the deadline pushed back by
/// `compute_if_present`, which builds a new item (the value cloned) under the bin's lock. What
/// the sliding session costs on that design; the row `flurry+TTL` (an atomic deadline beside
/// the value, as papaya's and scc's sessions) is the one the report compares with.
struct FlurrySession(Flurry);

impl Session for FlurrySession {
    const NAME: &'static str = "flurry+TTL (compute_if_present)";
    fn build() -> Self {
        FlurrySession(Flurry::build())
    }
    fn insert(&self, key: &str, value: Value, ttl: Duration) {
        self.0.set_with_ttl(key, value, ttl);
    }
    #[inline]
    fn touch(&self, key: &str, field: &str, ttl: Duration) -> Option<usize> {
        let mut n = None;
        self.0 .0.pin().compute_if_present(key, |_, it| {
            if it.live() {
                n = Some(field_len(&it.value, field));
                Some(Item {
                    value: it.value.clone(),
                    deadline: Some(Instant::now() + ttl),
                })
            } else {
                Some(it.clone())
            }
        });
        n
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// `Mutex<HashMap>`: `get_mut` under the lock.
struct MutexSession(Mutex<std::collections::HashMap<String, LockedItem, RandomState>>);

impl Session for MutexSession {
    const NAME: &'static str = "Mutex<HashMap>";
    fn build() -> Self {
        MutexSession(Mutex::new(std::collections::HashMap::with_hasher(
            RandomState::new(),
        )))
    }
    fn insert(&self, key: &str, value: Value, ttl: Duration) {
        let deadline = Instant::now() + ttl;
        self.0
            .lock()
            .unwrap()
            .insert(key.to_owned(), LockedItem { value, deadline });
    }
    #[inline]
    fn touch(&self, key: &str, field: &str, ttl: Duration) -> Option<usize> {
        self.0.lock().unwrap().get_mut(key)?.touch(field, ttl)
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// `RwLock<HashMap>`: the read lock and an atomic deadline.
struct RwSession(
    RwLock<std::collections::HashMap<String, AtomicItem, RandomState>>,
    Instant,
);

impl Session for RwSession {
    const NAME: &'static str = "RwLock<HashMap> (atomic deadline)";
    fn build() -> Self {
        RwSession(
            RwLock::new(std::collections::HashMap::with_hasher(RandomState::new())),
            Instant::now(),
        )
    }
    fn insert(&self, key: &str, value: Value, ttl: Duration) {
        let item = AtomicItem::new(value, ttl, self.1);
        self.0.write().unwrap().insert(key.to_owned(), item);
    }
    #[inline]
    fn touch(&self, key: &str, field: &str, ttl: Duration) -> Option<usize> {
        self.0.read().unwrap().get(key)?.touch(field, ttl, self.1)
    }
    fn len(&self) -> usize {
        self.0.read().unwrap().len()
    }
}

trait SessionRunner {
    fn name(&self) -> &'static str;
    /// One windowed run; returns (Mops/s, ops). Every touch must find its session.
    fn run(&self, tapes: &[Vec<u32>], window: Duration) -> (f64, u64);
    fn len(&self) -> usize;
}

struct SessionOf<S> {
    s: S,
    keys: Arc<Vec<String>>,
}

impl<S: Session> SessionRunner for SessionOf<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }
    fn run(&self, tapes: &[Vec<u32>], window: Duration) -> (f64, u64) {
        let (s, keys) = (&self.s, &*self.keys);
        let missed = AtomicU64::new(0);
        let r = window_run(tapes.len(), window, &|t, stop| {
            let mut miss = 0u64;
            let n = drive(&tapes[t], stop, |k| {
                match s.touch(&keys[k as usize], "user", TTL) {
                    Some(n) => {
                        sink(n);
                    }
                    None => miss += 1,
                }
            });
            missed.fetch_add(miss, Ordering::Relaxed);
            n
        });
        assert_eq!(missed.into_inner(), 0, "{}: sessions lost", S::NAME);
        r
    }
    fn len(&self) -> usize {
        self.s.len()
    }
}

/// Session `i`'s value: a dict of 20 string fields (`user` plus 19 of `field_len` bytes).
fn session_value(i: usize, field_bytes: usize) -> Value {
    let mut d = BTreeMap::new();
    d.insert("user".to_string(), Value::Str(format!("user-{i:08}")));
    for f in 1..20 {
        let s: String =
            std::iter::repeat_n(char::from(b'a' + (f % 26) as u8), field_bytes).collect();
        d.insert(format!("field{f:02}"), Value::Str(s));
    }
    Value::Dict(d)
}

fn session_runner<S: Session>(keys: &Arc<Vec<String>>, field_bytes: usize) -> SessionOf<S> {
    let s = S::build();
    for (i, k) in keys.iter().enumerate() {
        s.insert(k, session_value(i, field_bytes), TTL);
    }
    SessionOf {
        s,
        keys: keys.clone(),
    }
}

fn session_section(sizes: &Sizes, out: &mut Output) {
    let keys: Arc<Vec<String>> = Arc::new(
        (0..sizes.sessions)
            .map(|i| format!("session:{i:016x}"))
            .collect(),
    );
    // ~1 KB and ~10 KB of string payload per session (19 fields of 50 / 520 bytes + `user`).
    for (label, field_bytes) in [("1k", 50), ("10k", 520)] {
        let workload = format!("session-sliding-{label}");
        let describe = format!(
            "{} sessions, each a `Value::Dict` of 20 string fields (~{} bytes of strings); an op \
             = read the `user` field in place and push the session's TTL (30 min) back; uniform \
             over the sessions. Ours: `get_with` + `expire` (and, as a variant, one `compute` \
             returning `Compute::Expire`); moka: one `get` with an `Expiry` whose \
             `expire_after_read` resets the TTL (the value in an `Arc`: moka clones values on \
             `get`); dashmap / `Mutex<HashMap>`: the deadline updated in place under the write \
             lock (`get_mut`); papaya / scc / `RwLock<HashMap>` / flurry+TTL: a lock-free or read-locked \
             read and an `AtomicU64` deadline; `flurry+TTL (compute_if_present)`: the immutable \
             item of the other tables, a new one (the value cloned) built with the new deadline",
            sizes.sessions,
            19 * field_bytes + 13
        );
        let mut runners: Vec<Box<dyn SessionRunner>> = vec![
            Box::new(session_runner::<OursSession>(&keys, field_bytes)),
            Box::new(session_runner::<OursComputeSession>(&keys, field_bytes)),
            Box::new(session_runner::<DashSession>(&keys, field_bytes)),
            Box::new(session_runner::<PapayaSession>(&keys, field_bytes)),
            Box::new(session_runner::<SccSession>(&keys, field_bytes)),
            Box::new(session_runner::<FlurrySession>(&keys, field_bytes)),
            Box::new(session_runner::<FlurryAtomicSession>(&keys, field_bytes)),
            Box::new(session_runner::<MokaSession>(&keys, field_bytes)),
            Box::new(session_runner::<MutexSession>(&keys, field_bytes)),
            Box::new(session_runner::<RwSession>(&keys, field_bytes)),
        ];
        out.record(json!({
            "kind": "workload", "group": "session", "workload": workload, "describe": describe,
        }));
        println!("\n== {workload} ({describe})");
        let mut results = vec![vec![Vec::new(); sizes.threads.len()]; runners.len()];
        for (ti, &threads) in sizes.threads.iter().enumerate() {
            let tapes: Vec<Vec<u32>> = (0..threads)
                .map(|t| index_tape(keys.len(), t, false))
                .collect();
            for rep in 0..sizes.reps {
                for j in 0..runners.len() {
                    let r = (j + rep) % runners.len();
                    let (mops, _) = runners[r].run(&tapes, sizes.window);
                    results[r][ti].push(mops);
                }
            }
        }
        for r in &runners {
            assert_eq!(r.len(), keys.len(), "{}: session count", r.name());
        }
        let names: Vec<&'static str> = runners.iter().map(|r| r.name()).collect();
        report_throughput(out, "session", &workload, &names, &sizes.threads, &results);
        // Free the sessions before the next size is built.
        runners.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Flood into a bounded store

/// A store bounded at `cap` keys.
trait Bounded: Send + Sync {
    const NAME: &'static str;
    /// Whether the bound holds at every instant (`len <= cap + writers`), asserted throughout.
    const HARD: bool;
    fn with_cap(cap: usize) -> Self;
    fn write(&self, key: &str);
    /// The size as the store reports it now (cheap).
    fn len_now(&self) -> usize;
    /// The size after any pending maintenance.
    fn settle(&self) -> usize;
    /// Keys evicted to respect the bound, if the store counts them.
    fn evicted(&self) -> Option<u64>;
}

impl Bounded for Ours {
    const NAME: &'static str = "scriptling-kv (max_keys)";
    const HARD: bool = true;
    fn with_cap(cap: usize) -> Self {
        common::OursOf(
            Store::builder()
                .background_cleanup(false)
                .max_keys(cap)
                .build(),
        )
    }
    #[inline]
    fn write(&self, key: &str) {
        sink(self.incr_with_ttl(key, 1, TTL).expect("fresh counter"));
    }
    #[inline]
    fn len_now(&self) -> usize {
        self.0.len()
    }
    fn settle(&self) -> usize {
        self.0.len()
    }
    fn evicted(&self) -> Option<u64> {
        Some(self.0.stats().evicted)
    }
}

impl Bounded for Moka {
    const NAME: &'static str = "moka (max_capacity)";
    const HARD: bool = false;
    fn with_cap(cap: usize) -> Self {
        Moka::bounded(cap as u64)
    }
    #[inline]
    fn write(&self, key: &str) {
        sink(self.incr_with_ttl(key, 1, TTL).expect("fresh counter"));
    }
    #[inline]
    fn len_now(&self) -> usize {
        usize::try_from(self.entry_count()).expect("fits")
    }
    fn settle(&self) -> usize {
        self.len()
    }
    fn evicted(&self) -> Option<u64> {
        None
    }
}

/// The flood's keys (`flood:T:NNNNNNNN`, 16 bytes) cost this many bytes each under `max_bytes`
/// (an integer value: 8).
const FLOOD_KEY_BYTES: usize = 16 + 8 + scriptling_kv::ENTRY_OVERHEAD;

/// Ours bounded by `max_bytes` at `cap` keys' worth of bytes.
struct OursBytes(Ours);

/// moka bounded by a weigher at `cap` keys' worth of bytes.
struct MokaBytes(Moka);

impl Bounded for OursBytes {
    const NAME: &'static str = "scriptling-kv (max_bytes)";
    const HARD: bool = true;
    fn with_cap(cap: usize) -> Self {
        OursBytes(common::OursOf(
            Store::builder()
                .background_cleanup(false)
                .max_bytes(cap * FLOOD_KEY_BYTES)
                .build(),
        ))
    }
    #[inline]
    fn write(&self, key: &str) {
        self.0.write(key);
    }
    #[inline]
    fn len_now(&self) -> usize {
        self.0.len_now()
    }
    fn settle(&self) -> usize {
        let (held, bytes) = (self.0 .0.len(), self.0 .0.bytes_used());
        // The accounting is exact: every held key is charged exactly its size.
        assert_eq!(bytes, cap_bytes(held), "{bytes} bytes for {held} keys");
        held
    }
    fn evicted(&self) -> Option<u64> {
        self.0.evicted()
    }
}

/// The accounted bytes of `keys` flood keys.
fn cap_bytes(keys: usize) -> usize {
    keys * FLOOD_KEY_BYTES
}

impl Bounded for MokaBytes {
    const NAME: &'static str = "moka (weigher)";
    const HARD: bool = false;
    fn with_cap(cap: usize) -> Self {
        MokaBytes(Moka::weighed((cap * FLOOD_KEY_BYTES) as u64))
    }
    #[inline]
    fn write(&self, key: &str) {
        self.0.write(key);
    }
    #[inline]
    fn len_now(&self) -> usize {
        self.0.len_now()
    }
    fn settle(&self) -> usize {
        self.0.settle()
    }
    fn evicted(&self) -> Option<u64> {
        None
    }
}

/// `(VmRSS, VmHWM)` of this process in bytes (Linux), after resetting the peak if `reset`.
fn rss(reset: bool) -> Option<(u64, u64)> {
    if reset {
        std::fs::write("/proc/self/clear_refs", "5").ok()?;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Gives the allocator's free memory back to the system, so that an RSS baseline is the live
/// heap (glibc only).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's `malloc_trim` takes any pad value and only releases free memory.
        unsafe {
            malloc_trim(0);
        }
    }
}

struct FloodRun {
    mops: f64,
    max_len: usize,
    final_len: usize,
    rss_growth: Option<u64>,
}

/// Writes `total` unique keys from `threads` threads into a fresh `B` bounded at `cap`.
fn flood_once<B: Bounded>(total: usize, threads: usize, cap: usize) -> FloodRun {
    std::thread::sleep(Duration::from_millis(20));
    trim_heap();
    let base = rss(true).map(|(rss, _)| rss);
    let b = B::with_cap(cap);
    let max_len = AtomicUsize::new(0);
    let barrier = Barrier::new(threads);
    let per = total / threads;
    let secs = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (b, max_len, barrier) = (&b, &max_len, &barrier);
                s.spawn(move || {
                    let mut key = String::with_capacity(32);
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..per {
                        key.clear();
                        write!(key, "flood:{t}:{i:08}").expect("write to String");
                        b.write(&key);
                        if i % 64 == 63 {
                            let len = b.len_now();
                            max_len.fetch_max(len, Ordering::Relaxed);
                            if B::HARD {
                                assert!(
                                    len <= cap + threads,
                                    "{}: {len} keys with max {cap} and {threads} writers",
                                    B::NAME
                                );
                            }
                        }
                    }
                    ((), start, Instant::now())
                })
            })
            .collect();
        let runs: Vec<((), Instant, Instant)> = handles
            .into_iter()
            .map(|h| h.join().expect("flood writer"))
            .collect();
        span_secs(&runs)
    });
    let peak = rss(false).map(|(_, hwm)| hwm);
    let after_writes = b.len_now();
    max_len.fetch_max(after_writes, Ordering::Relaxed);
    let final_len = b.settle();
    if B::HARD {
        assert!(after_writes <= cap + threads, "{}: final size", B::NAME);
        assert!(final_len <= cap, "{}: settled size {final_len}", B::NAME);
    }
    if let Some(evicted) = b.evicted() {
        assert_eq!(
            evicted + final_len as u64,
            (per * threads) as u64,
            "{}: evicted + held = written",
            B::NAME
        );
    }
    drop(b);
    FloodRun {
        mops: (per * threads) as f64 / secs / 1e6,
        max_len: max_len.into_inner(),
        final_len,
        rss_growth: base.zip(peak).map(|(b, p)| p.saturating_sub(b)),
    }
}

/// The flood of `A` against `B` (recorded as `kind`), each bounded at `sizes.cap` `bound`.
fn flood_section<A: Bounded, B: Bounded>(sizes: &Sizes, out: &mut Output, kind: &str, bound: &str) {
    let describe = format!(
        "{} unique keys written with `incr_with_ttl(key, 1, 30 min)` into a store bounded at {} \
         {bound}, split over the threads; the size is sampled every 64 writes per thread; peak \
         RSS growth = the process's peak resident set during the run minus its resident set \
         before (heap trimmed first). Median of {}",
        sizes.flood, sizes.cap, sizes.flood_reps
    );
    println!("\n== {kind} ({describe})");
    println!(
        "{:<26} {:>3} {:>9} {:>9} {:>9} {:>12}",
        "contender", "T", "Mops/s", "max len", "final len", "peak RSS MB"
    );
    out.record(json!({"kind": format!("{kind}-workload"), "describe": describe}));
    for &threads in &sizes.threads {
        let mut runs: [Vec<FloodRun>; 2] = [Vec::new(), Vec::new()];
        for rep in 0..sizes.flood_reps {
            for j in 0..2 {
                let which = (j + rep) % 2;
                let r = if which == 0 {
                    flood_once::<A>(sizes.flood, threads, sizes.cap)
                } else {
                    flood_once::<B>(sizes.flood, threads, sizes.cap)
                };
                runs[which].push(r);
            }
        }
        for (which, name) in [A::NAME, B::NAME].iter().enumerate() {
            let rs = &runs[which];
            let mops: Vec<f64> = rs.iter().map(|r| r.mops).collect();
            let max_len = rs.iter().map(|r| r.max_len).max().unwrap_or(0);
            let final_len = rs.iter().map(|r| r.final_len).max().unwrap_or(0);
            let rss_mb: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.rss_growth)
                .map(|b| b as f64 / 1048576.0)
                .collect();
            println!(
                "{:<26} {:>3} {:>9.3} {:>9} {:>9} {:>12.1}",
                name,
                threads,
                median(&mops),
                max_len,
                final_len,
                median(&rss_mb)
            );
            out.record(json!({
                "kind": kind, "contender": name, "threads": threads, "keys": sizes.flood,
                "cap": sizes.cap, "mops": mops, "median": median(&mops), "max_len": max_len,
                "final_len": final_len, "rss_mb": rss_mb,
                "rss_mb_median": if rss_mb.is_empty() { None } else { Some(median(&rss_mb)) },
            }));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// record_stats(true): paired A/B

/// The same read loop on a store with and without `record_stats(true)`, in alternating short
/// windows (the order flips every pair); the ratio of each pair, then the median. 20,000 key
/// names of which 10,000 are stored (a `get` hits half the time, counting hits and misses),
/// small enough to stay in cache, so that the counting is as large a share of a read as it gets.
fn stats_section(sizes: &Sizes, out: &mut Output) {
    let names: Vec<String> = (0..20_000).map(|i| format!("key:{i}")).collect();
    let plain = Ours::build();
    let counted = OursStats::build();
    for (i, k) in names.iter().enumerate().step_by(2) {
        plain.set(k, small_value(i));
        counted.set(k, small_value(i));
    }
    let describe = format!(
        "`get` uniform over {} key names, half of them stored (hits and misses), on one store \
         with `record_stats(true)` and one without, in {} alternating pairs of {:?} windows \
         (the order flips every pair); ratio = with / without per pair",
        names.len(),
        sizes.ab_pairs,
        sizes.ab_window
    );
    println!("\n== record_stats A/B ({describe})");
    println!(
        "{:>3} {:>14} {:>14} {:>12} {:>16}",
        "T", "without Mops", "with Mops", "with/without", "min..max ratio"
    );
    out.record(json!({"kind": "stats-ab-workload", "describe": describe}));
    let mut reads = 0u64;
    for &threads in &sizes.threads {
        let tapes: Vec<Vec<u32>> = (0..threads)
            .map(|t| index_tape(names.len(), t, false))
            .collect();
        let run = |c: &(dyn Fn(&str) -> Option<Value> + Sync)| {
            window_run(threads, sizes.ab_window, &|t, stop| {
                drive(&tapes[t], stop, |k| {
                    sink(c(&names[k as usize]));
                })
            })
        };
        let (mut without, mut with, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for pair in 0..sizes.ab_pairs {
            let (a, b) = if pair % 2 == 0 {
                let a = run(&|k| plain.get(k));
                let b = run(&|k| counted.get(k));
                (a, b)
            } else {
                let b = run(&|k| counted.get(k));
                let a = run(&|k| plain.get(k));
                (a, b)
            };
            reads += b.1;
            without.push(a.0);
            with.push(b.0);
            ratios.push(b.0 / a.0);
        }
        let m = median(&ratios);
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        println!(
            "{:>3} {:>14.2} {:>14.2} {:>12.3} {:>16}",
            threads,
            median(&without),
            median(&with),
            m,
            format!("{lo:.2}..{hi:.2}")
        );
        out.record(json!({
            "kind": "stats-ab", "threads": threads, "without": without, "with": with,
            "ratios": ratios, "median": m,
        }));
    }
    let s = counted.0.stats();
    assert_eq!(
        s.hits + s.misses,
        reads,
        "record_stats: hits + misses = reads"
    );
    let p = plain.0.stats();
    assert_eq!(p.hits + p.misses, 0, "record_stats(false) counts nothing");
}
