//! Heap bytes per entry at 1M entries (small string values, each with a TTL), for every
//! contender, measured with a counting global allocator. Its own binary, so the counting
//! allocator never slows the throughput runs.
//!
//! ```text
//! cargo bench --bench memory                  # 1M entries per contender
//! BENCH_QUICK=1 cargo bench --bench memory    # CI smoke: 10k entries
//! BENCH_OUT=dir cargo bench --bench memory    # also write dir/memory.jsonl
//! ```
//!
//! "Live" is what is still allocated after the inserts and one purge call (which, for the store,
//! moves pending expiry records into the timing wheel, and, for moka, runs its housekeeping);
//! "peak" is the most allocated at any point while inserting (table growth). "Payload" is the
//! heap the keys and values need by themselves (the key's bytes plus the value string's bytes),
//! the same for every contender.

// Without the `[[bench]] harness = false` entry in Cargo.toml, cargo builds this file as a
// libtest bench (cfg(test)): keep that build warning-free; it then runs nothing.
#![cfg_attr(test, allow(dead_code, unused_imports, unused_macros))]

#[macro_use]
mod common;

use std::fmt::Write as _;
use std::time::Duration;

use scriptling_kv::Value;
use serde_json::json;

use common::{quick, Contender, Output};

// The tests' counting allocator (installs itself as this binary's `#[global_allocator]`): its
// process-wide counters (`live`, `peak_during`) are what this bench needs: one contender at a
// time on the main thread, nothing else allocating meanwhile. Its per-thread counters cost a
// thread-local update per allocation; they are not used here and touch no shared memory.
#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;

fn measure<C: Contender>(n: usize, out: &mut Output) {
    let mut key = String::with_capacity(32);
    // Let deferred frees from the previous contender run (epoch-based reclamation is lazy).
    std::thread::sleep(Duration::from_millis(50));
    let base = counting_alloc::live();
    let ((c, payload), peak) = counting_alloc::peak_during(|| {
        let c = C::build();
        let mut payload = 0usize;
        for i in 0..n {
            key.clear();
            write!(key, "key:{i:07}").expect("write to String");
            let value = format!("v{i:07}");
            payload += key.len() + value.len();
            c.set_with_ttl(&key, Value::Str(value), Duration::from_secs(3600));
        }
        (c, payload)
    });
    assert_eq!(c.purge(), 0, "{}: nothing has expired", C::NAME);
    assert_eq!(c.len(), n, "{}: entry count", C::NAME);
    let live = counting_alloc::live().saturating_sub(base);
    let per = live as f64 / n as f64;
    let peak_per = peak as f64 / n as f64;
    let pay = payload as f64 / n as f64;
    println!(
        "{:<18} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
        C::NAME,
        per,
        per - pay,
        peak_per,
        pay
    );
    out.record(json!({
        "kind": "memory", "contender": C::NAME, "entries": n, "live_bytes": live,
        "peak_bytes": peak, "payload_bytes": payload, "bytes_per_entry": per,
        "overhead_per_entry": per - pay, "peak_per_entry": peak_per, "payload_per_entry": pay,
    }));
    drop(c);
}

fn main() {
    let n = if quick() { 10_000 } else { 1_000_000 };
    let mut out = Output::open("memory");
    println!("\n== memory: {n} entries, key `key:NNNNNNN`, value Str(`vNNNNNNN`), TTL 1 h");
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>10}",
        "contender", "B/entry", "overhead", "peak B/e", "payload"
    );
    for_each_contender!(C => measure::<C>(n, &mut out));
}
