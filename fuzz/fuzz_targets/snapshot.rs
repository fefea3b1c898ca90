//! `snapshot`: arbitrary bytes loaded as a snapshot file (`Store::load`).
//!
//! The first input byte picks a mode: odd = the rest is the file as is; even = the rest with its
//! last four bytes replaced by the CRC-32C of the others (computed here, bit by bit,
//! independently of the crate), so that inputs which decode also pass the checksum and reach the
//! checks behind it (record count, trailing bytes) and the apply phase. The seed corpus holds
//! snapshots written by `Store::save` (the named files, `<what>-<mode>`; regenerate with
//! `SKV_WRITE_FUZZ_CORPUS=fuzz/corpus/snapshot cargo test --test snapshot -- --ignored
//! write_fuzz_corpus`) and the coverage-minimized inputs of a 19-minute run (hash-named).
//!
//! Checked:
//! - nothing panics, whatever the bytes (truncated, corrupted, foreign, huge lengths, deep
//!   nesting);
//! - the load holds at most `320 * len + 128 KiB` bytes at once for a file of `len` bytes (the
//!   bound the crate documents, "Loading"; measured by the counting allocator of the tests,
//!   `tests/support/counting_alloc.rs`, on this thread), so an amplification is a finding;
//! - an error is `Error::Corrupt` with an offset inside the file, and the store is exactly as it
//!   was: it holds its sentinel key, with its value, and nothing else (never a partial
//!   snapshot);
//! - a success set at most as many keys as it says, left every other key alone, and the result
//!   is a store whose own snapshot loads back (into a store at the same test time) to the same
//!   keys, values (floats by bits) and TTLs, so a load applies exactly what a save writes.
#![no_main]

use std::path::PathBuf;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use scriptling_kv::ops::identical;
use scriptling_kv::{Error, Store, TestClock, Ttl, Value};

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;

const SENTINEL: &str = "fuzz-sentinel";

/// The documented bound on what a load holds: bytes per byte of the file (C), plus K.
const PER_BYTE: usize = 320;
const FIXED: usize = 128 << 10;

/// The test time of every store here: files' deadlines before it are expired.
const NOW: Duration = Duration::from_secs(1_000);

fn crc32c(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn store() -> Store {
    let clock = TestClock::new();
    clock.advance(NOW);
    Store::builder()
        .test_clock(clock)
        .background_cleanup(false)
        .build()
}

fn dump(s: &Store) -> Vec<(String, Value, Ttl)> {
    s.keys("*")
        .unwrap()
        .into_iter()
        .map(|k| {
            let v = s
                .get(&k)
                .expect("listed key readable (the test clock does not move)");
            let t = s.ttl(&k);
            (k, v, t)
        })
        .collect()
}

/// A scratch file of this process: on tmpfs (`/dev/shm`) where there is one, so the `fsync`s of
/// a save cost nothing and the fuzzer runs at CPU speed.
fn scratch(name: &str) -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("skv-fuzz-snapshot-{}-{name}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let mut bytes = body.to_vec();
    if mode % 2 == 0 && bytes.len() >= 4 {
        let n = bytes.len() - 4;
        let crc = crc32c(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }
    let path = scratch("in.snap");
    std::fs::write(&path, &bytes).unwrap();
    let s = store();
    s.set(SENTINEL, "untouched");
    let (loaded, peak) = counting_alloc::thread_peak_during(|| s.load(&path));
    assert!(
        peak <= PER_BYTE * bytes.len() + FIXED,
        "loading {} bytes held {peak} bytes at once ({loaded:?})",
        bytes.len()
    );
    match loaded {
        Err(Error::Corrupt { offset, reason, .. }) => {
            assert!(
                offset <= bytes.len() as u64,
                "offset {offset} past the end: {reason}"
            );
            assert!(!reason.is_empty());
            assert_eq!(s.keys("*").unwrap(), [SENTINEL], "a partial load: {reason}");
            assert_eq!(s.get(SENTINEL), Some(Value::from("untouched")));
            assert_eq!(s.ttl(SENTINEL), Ttl::Persistent);
        }
        Err(other) => panic!("a readable file gave {other:?}"),
        Ok(set) => {
            let keys = s.keys("*").unwrap();
            assert!(
                keys.len() <= set + 1,
                "{} keys after setting {set}",
                keys.len()
            );
            // Re-save and load the result: the same contents.
            let again = scratch("again.snap");
            let saved = s.save(&again).unwrap();
            assert_eq!(saved, keys.len());
            let t = store();
            assert_eq!(t.load(&again).unwrap(), saved);
            let (a, b) = (dump(&s), dump(&t));
            assert_eq!(a.len(), b.len());
            for ((ka, va, ta), (kb, vb, tb)) in a.iter().zip(&b) {
                assert_eq!(ka, kb);
                assert!(identical(va, vb), "{ka}: {va:?} != {vb:?}");
                assert_eq!(ta, tb, "{ka}");
            }
            for (_, v, _) in a.into_iter().chain(b) {
                v.dispose();
            }
        }
    }
});
