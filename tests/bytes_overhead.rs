//! `ENTRY_OVERHEAD`, the fixed part of a key's charge toward `max_bytes`, is what the store
//! really allocates per key beyond the key's and the value's own bytes: measured here with a
//! counting global allocator (live bytes = allocated - freed), on a bounded store, for keys
//! short enough to be held inline (at most 30 bytes) and small scalar values (which live inside
//! the value's slot).
//!
//! The table grows by doubling, so the per-key share of its bucket array swings with the key
//! count (between about 11 and 21 bytes); the measurements at several counts must each be within
//! 10 % of the constant. Its own test binary, so no other test's allocations are counted.

use scriptling_kv::{Store, ENTRY_OVERHEAD};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// Bytes allocated per key beyond its charge's own bytes, over `n` keys of 12 bytes holding ints.
fn overhead_per_key(n: usize) -> f64 {
    let store = Store::builder()
        .background_cleanup(false)
        .max_bytes(usize::MAX)
        .build();
    // Warm up this thread's per-thread state (epoch handles, collectors) outside the count.
    store.set("warm-up", 0);
    store.delete("warm-up");
    let before = counting_alloc::live() as isize;
    for i in 0..n {
        store.set(&format!("key:{i:08}"), i as i64);
    }
    let after = counting_alloc::live() as isize;
    assert_eq!(store.len(), n);
    let own = 12 + 8; // key bytes + an Int's size
    assert_eq!(store.bytes_used(), n * (ENTRY_OVERHEAD + own));
    let per_key = (after - before) as f64 / n as f64 - own as f64;
    drop(store);
    per_key
}

#[test]
fn entry_overhead_matches_what_the_store_allocates_per_key() {
    let mut seen = Vec::new();
    for n in [3_000, 12_000, 20_000, 50_000, 90_000] {
        seen.push((n, overhead_per_key(n)));
    }
    println!("ENTRY_OVERHEAD = {ENTRY_OVERHEAD}; measured (keys, bytes per key): {seen:?}");
    for &(n, per_key) in &seen {
        let off = (per_key - ENTRY_OVERHEAD as f64).abs() / ENTRY_OVERHEAD as f64;
        assert!(
            off <= 0.10,
            "{n} keys: {per_key:.1} bytes per key beyond key and value, ENTRY_OVERHEAD is \
             {ENTRY_OVERHEAD} ({:.0} % off): {seen:?}",
            off * 100.0
        );
    }
}
