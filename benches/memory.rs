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

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scriptling_kv::Value;
use serde_json::json;

use common::{quick, Contender, Output};

/// Counts bytes currently allocated and the high-water mark.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn added(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees carry over; the counters are plain atomics that never affect the allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's (valid, non-zero-size) layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` (through us) with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller guarantees `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            added(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn measure<C: Contender>(n: usize, out: &mut Output) {
    let mut key = String::with_capacity(32);
    // Let deferred frees from the previous contender run (epoch-based reclamation is lazy).
    std::thread::sleep(Duration::from_millis(50));
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let c = C::build();
    let mut payload = 0usize;
    for i in 0..n {
        key.clear();
        write!(key, "key:{i:07}").expect("write to String");
        let value = format!("v{i:07}");
        payload += key.len() + value.len();
        c.set_with_ttl(&key, Value::Str(value), Duration::from_secs(3600));
    }
    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(c.purge(), 0, "{}: nothing has expired", C::NAME);
    assert_eq!(c.len(), n, "{}: entry count", C::NAME);
    let live = CURRENT.load(Ordering::Relaxed).saturating_sub(base);
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
