//! Big-store costs (custom harness): `keys(pattern)` over 100k and 1M keys, the cost of purging
//! 10k expired keys from a small store versus a store that also holds 1M live keys, and the
//! worst stall a reader on another thread sees while a purge of 1M expired keys runs.
//!
//! ```text
//! cargo bench --bench purge                  # full
//! BENCH_QUICK=1 cargo bench --bench purge    # CI smoke: sizes / 100, one repetition
//! BENCH_OUT=dir cargo bench --bench purge    # also write dir/purge.jsonl
//! ```
//!
//! Every contender runs in turn (one big store in memory at a time). The map-based peers purge
//! by walking the whole map (`retain`); moka advances its own timer wheel
//! (`run_pending_tasks`); the store drains its schedule buffers and advances its timing wheel.

// Without the `[[bench]] harness = false` entry in Cargo.toml, cargo builds this file as a
// libtest bench (cfg(test)): keep that build warning-free; it then runs nothing.
#![cfg_attr(test, allow(dead_code, unused_imports, unused_macros))]

#[macro_use]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::json;

use common::{fill_glob_keys, median, pick, quick, sink, small_value, wanted, Contender, Output};

const LONG: Duration = Duration::from_secs(3600);

struct Sizes {
    /// Store sizes for `keys`.
    keys: Vec<usize>,
    /// Live keys in the big purge scenario and expired keys in the stall test.
    big: usize,
    /// Expired keys purged in the purge-cost scenario.
    expired: usize,
    reps: usize,
}

impl Sizes {
    /// Smoke sizes under `BENCH_QUICK`, else the full ones.
    fn get() -> Self {
        Sizes {
            keys: pick(vec![1_000, 10_000], vec![100_000, 1_000_000]),
            big: pick(10_000, 1_000_000),
            expired: pick(100, 10_000),
            reps: pick(1, 3),
        }
    }
}

/// TTL of the keys the purge-cost scenario removes: longer than the writes plus one walk of a
/// 1M-entry map, so nothing is due before the measured purge.
const SHORT: Duration = Duration::from_secs(1);

/// Extra wait after keys are due: moka's timer wheel turns its finest buckets about once a
/// second, so it gets 1.2 s more (the others remove what expired whenever asked).
fn expiry_slack<C: Contender>() -> Duration {
    if C::NAME == "moka" {
        Duration::from_millis(1200)
    } else {
        Duration::ZERO
    }
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments select sections by name.
    let want = wanted();
    let sizes = Sizes::get();
    let mut out = Output::open("purge");
    if want("keys") {
        println!("\n== keys(\"g07:*\") (1% of keys match; half the keys have a TTL)");
        println!(
            "{:<18} {:>9} {:>12} {:>8}",
            "contender", "keys", "ms/call", "matched"
        );
        for &n in &sizes.keys {
            for_each_contender!(C => keys_bench::<C>(n, &mut out));
        }
    }
    if want("purge") {
        println!(
            "\n== purge: remove {} expired keys, alone vs beside {} live keys (TTL 1 h)",
            sizes.expired, sizes.big
        );
        println!(
            "{:<18} {:>12} {:>12} {:>8}",
            "contender", "alone ms", "beside ms", "ratio"
        );
        for_each_contender!(C => purge_bench::<C>(&sizes, &mut out));
    }
    if want("stall") {
        println!(
            "\n== stall: get/set latency on another thread while {} expired keys are purged",
            sizes.big
        );
        println!(
            "{:<18} {:>10} {:>12} {:>10} {:>10} {:>12}",
            "contender", "purge ms", "max stall us", "p99.9 us", "ops", "idle max us"
        );
        for_each_contender!(C => stall_bench::<C>(&sizes, &mut out));
    }
}

/// `keys("g07:*")` over `n` keys named `g{i % 100}:{i}`: 1% match.
fn keys_bench<C: Contender>(n: usize, out: &mut Output) {
    let c = C::build();
    fill_glob_keys(&c, n, LONG);
    let calls = if quick() {
        3
    } else if n >= 1_000_000 {
        5
    } else {
        15
    };
    let mut ms = Vec::new();
    let mut matched = 0;
    for _ in 0..calls {
        let start = Instant::now();
        let found = sink(c.keys("g07:*"));
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(
            found.len(),
            n / 100 + usize::from(n % 100 > 7),
            "{}: keys count",
            C::NAME
        );
        assert!(
            found.windows(2).all(|w| w[0] < w[1]),
            "{}: keys not sorted",
            C::NAME
        );
        matched = found.len();
    }
    let m = median(&ms);
    println!("{:<18} {:>9} {:>12.3} {:>8}", C::NAME, n, m, matched);
    out.record(json!({
        "kind": "keys", "contender": C::NAME, "keys": n, "ms": ms, "median": m, "matched": matched,
    }));
    drop(c);
}

/// One purge-cost scenario: `live` long-lived keys plus `sizes.expired` keys that expire; returns
/// the purge times (ms) per repetition.
fn purge_times<C: Contender>(live: usize, sizes: &Sizes) -> Vec<f64> {
    let c = C::build();
    for i in 0..live {
        c.set_with_ttl(&format!("live:{i}"), small_value(i), LONG);
    }
    let mut ms = Vec::new();
    for rep in 0..sizes.reps {
        // On a loaded machine the unmeasured walk below can run past the keys' deadline and
        // remove some of them itself: then the repetition is run again on fresh keys (up to
        // three tries; the count checked is always the exact one: every key removed once).
        for attempt in 0.. {
            let names: Vec<String> = (0..sizes.expired)
                .map(|i| format!("tmp:{rep}:{attempt}:{i}"))
                .collect();
            for (i, k) in names.iter().enumerate() {
                c.set_with_ttl(k, small_value(i), SHORT);
            }
            let written = Instant::now();
            // Let every contender absorb what was written (the store moves its schedule records
            // into the wheel; moka runs its housekeeping) before anything is due. (For the map
            // peers this is one more walk, not measured.)
            let absorbed = c.purge();
            // Wait until the last of them is due.
            let due = written + SHORT + Duration::from_millis(20);
            std::thread::sleep(due.saturating_duration_since(Instant::now()) + expiry_slack::<C>());
            let start = Instant::now();
            let removed = c.purge();
            let elapsed = start.elapsed().as_secs_f64() * 1e3;
            assert_eq!(c.get(&names[0]), None);
            if C::NAME == "moka" {
                ms.push(elapsed);
                break;
            }
            assert_eq!(
                absorbed + removed,
                sizes.expired,
                "{}: purge count",
                C::NAME
            );
            if absorbed == 0 || attempt == 2 {
                if absorbed > 0 {
                    println!(
                        "  ({}: {absorbed} keys were due before the timed purge)",
                        C::NAME
                    );
                }
                ms.push(elapsed);
                break;
            }
        }
    }
    assert_eq!(c.len(), live, "{}: live keys lost", C::NAME);
    ms
}

fn purge_bench<C: Contender>(sizes: &Sizes, out: &mut Output) {
    let alone = purge_times::<C>(0, sizes);
    let beside = purge_times::<C>(sizes.big, sizes);
    let (a, b) = (median(&alone), median(&beside));
    println!("{:<18} {:>12.3} {:>12.3} {:>8.1}", C::NAME, a, b, b / a);
    out.record(json!({
        "kind": "purge", "contender": C::NAME, "expired": sizes.expired, "live": sizes.big,
        "alone_ms": alone, "beside_ms": beside, "alone": a, "beside": b, "ratio": b / a,
    }));
}

/// Latencies (ns) of a reader doing 90% get / 10% set on `readers_keys` until `stop`.
fn read_loop<C: Contender>(c: &C, keys: &[String], stop: &AtomicBool) -> Vec<u32> {
    let mut lat = Vec::with_capacity(1 << 22);
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let k = &keys[(i * 7919) % keys.len()];
        let t0 = Instant::now();
        if i % 10 == 0 {
            c.set(k, small_value(i));
        } else {
            sink(c.get(k));
        }
        let ns = t0.elapsed().as_nanos();
        lat.push(u32::try_from(ns).unwrap_or(u32::MAX));
        i += 1;
    }
    lat
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[idx])
}

/// Readers' latency while a purge of `sizes.big` expired keys runs (and, as a baseline, for a
/// short idle window before it).
fn stall_bench<C: Contender>(sizes: &Sizes, out: &mut Output) {
    let readers_keys: Vec<String> = (0..10_000).map(|i| format!("hot:{i}")).collect();
    let (mut purge_ms, mut max_us, mut p999_us, mut ops, mut idle_max_us) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..sizes.reps {
        let c = C::build();
        for (i, k) in readers_keys.iter().enumerate() {
            c.set(k, small_value(i));
        }
        for i in 0..sizes.big {
            c.set_with_ttl(
                &format!("dead:{i}"),
                small_value(i),
                Duration::from_millis(1),
            );
        }
        std::thread::sleep(Duration::from_millis(10) + expiry_slack::<C>());
        // Idle baseline: the same reader with no purge running (the machine's noise floor).
        let stop = AtomicBool::new(false);
        let idle = std::thread::scope(|s| {
            let h = s.spawn(|| read_loop(&c, &readers_keys, &stop));
            std::thread::sleep(Duration::from_millis(50));
            stop.store(true, Ordering::Relaxed);
            h.join().expect("reader")
        });
        idle_max_us.push(f64::from(idle.iter().copied().max().unwrap_or(0)) / 1e3);
        let stop = AtomicBool::new(false);
        let barrier = Barrier::new(2);
        let (lat, took, removed) = std::thread::scope(|s| {
            let h = s.spawn(|| {
                barrier.wait();
                read_loop(&c, &readers_keys, &stop)
            });
            barrier.wait();
            std::thread::sleep(Duration::from_millis(2));
            let start = Instant::now();
            let removed = c.purge();
            let took = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            (h.join().expect("reader"), took, removed)
        });
        if C::NAME != "moka" {
            assert_eq!(removed, sizes.big, "{}: purge count", C::NAME);
        }
        let mut sorted = lat;
        sorted.sort_unstable();
        purge_ms.push(took.as_secs_f64() * 1e3);
        max_us.push(f64::from(*sorted.last().unwrap_or(&0)) / 1e3);
        p999_us.push(percentile(&sorted, 0.999) / 1e3);
        ops.push(sorted.len() as f64);
        drop(c);
    }
    let (pm, mx, p9, n, im) = (
        median(&purge_ms),
        median(&max_us),
        median(&p999_us),
        median(&ops),
        median(&idle_max_us),
    );
    println!(
        "{:<18} {:>10.1} {:>12.1} {:>10.2} {:>10.0} {:>12.1}",
        C::NAME,
        pm,
        mx,
        p9,
        n,
        im
    );
    out.record(json!({
        "kind": "stall", "contender": C::NAME, "expired": sizes.big,
        "purge_ms": purge_ms, "max_us": max_us, "p999_us": p999_us, "ops": ops,
        "idle_max_us": idle_max_us,
        "purge_median": pm, "max_median": mx, "p999_median": p9, "ops_median": n,
        "idle_max_median": im,
    }));
}
