//! `redis_value`: arbitrary bytes decoded as a value stored on Redis by `scriptling-kv-redis`
//! (anyone who can write into the namespace can make the store decode any bytes).
//!
//! Checked:
//! - nothing panics, whatever the bytes (truncated, huge counts, deep nesting, foreign text);
//! - the decode holds at most `320 * len + 1 KiB` bytes at once for `len` bytes of input (the
//!   bound the redis crate documents, "Encoding"; measured by the counting allocator of the
//!   tests, `tests/support/counting_alloc.rs`, on this thread), so an amplification is a
//!   finding;
//! - the encoding is canonical: bytes that decode re-encode to exactly themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;

/// The documented bound: bytes per byte of the value (C), plus K.
const PER_BYTE: usize = 320;
const FIXED: usize = 1 << 10;

fuzz_target!(|data: &[u8]| {
    let (decoded, peak) =
        counting_alloc::thread_peak_during(|| scriptling_kv_redis::__decode_value(data));
    assert!(
        peak <= PER_BYTE * data.len() + FIXED,
        "decoding {} bytes held {peak} bytes at once ({:?})",
        data.len(),
        decoded.as_ref().map(|_| "ok")
    );
    if let Ok(value) = decoded {
        assert_eq!(
            scriptling_kv_redis::__encode_value(&value),
            data,
            "not canonical: {value:?}"
        );
        value.dispose();
    }
});
