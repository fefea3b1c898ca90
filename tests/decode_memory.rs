//! Decoders bounded by their input: decoding a snapshot file (`Store::load`) or a stored Redis
//! value never holds more than a constant times the input's size plus a constant, whatever the
//! bytes say. Checked with a counting allocator (per thread, so the tests may run in parallel)
//! over crafted inputs: container headers declaring the largest count each rule would accept
//! at every nesting level (the bytes left in the file, the old per-container cap of 1,024
//! elements, half the room the decoder leaves), deep nesting, many records, and every
//! truncation point of valid encodings of nested values.
//!
//! The constants are the ones the docs state (`src/snapshot.rs`, "Memory while loading";
//! `redis/src/lib.rs`, "Encoding"): C bytes per byte of input, plus K.

use std::path::{Path, PathBuf};

use scriptling_kv::{Error, Store, Value};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::thread_peak_during;

/// Snapshot decoding: at most this many bytes held per byte of the file (C)...
const SNAPSHOT_PER_BYTE: usize = 320;
/// ... plus this much (K: the reader's 64 KiB buffer, the path, the error).
const SNAPSHOT_FIXED: usize = 128 << 10;
/// Redis value decoding: at most this many bytes held per byte of the value (C)...
const REDIS_PER_BYTE: usize = 320;
/// ... plus this much (K: the error text).
const REDIS_FIXED: usize = 1 << 10;

// ---------------------------------------------------------------------------------------------
// Crafted inputs

/// The container tags of a format (both formats encode a list as tag, count, elements and a
/// dict as tag, count, then per entry a key as length and bytes, and a value).
#[derive(Debug, Clone, Copy)]
struct Tags {
    list: u8,
    dict: u8,
}

const SNAPSHOT_TAGS: Tags = Tags {
    list: 0x07,
    dict: 0x08,
};
const REDIS_TAGS: Tags = Tags {
    list: 0x87,
    dict: 0x88,
};

/// What each container header declares.
#[derive(Debug, Clone, Copy)]
enum Count {
    /// Every byte left in the input (what a check against the input's end alone accepts).
    BytesLeft,
    /// A fixed count at every level.
    Fixed(u64),
    /// The room the decoder leaves for the container (the input's end less the smallest
    /// encoding of what the enclosing containers still expect): the largest count it accepts.
    Room,
    /// Half of that room, so that it nests on.
    HalfRoom,
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Lists,
    Dicts,
    Alternating,
}

fn uvarint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// `prefix` followed by nested container headers up to `total` bytes (where the input ends,
/// truncated: every container still expects elements).
fn nested_headers(prefix: &[u8], total: usize, tags: Tags, count: Count, shape: Shape) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let mut promised = 0u64;
    let mut level = 0;
    while out.len() < total {
        let dict = match shape {
            Shape::Lists => false,
            Shape::Dicts => true,
            Shape::Alternating => level % 2 == 1,
        };
        let min = if dict { 2 } else { 1 };
        // Room after the tag and a count of up to 3 bytes.
        let room = (total as u64).saturating_sub(out.len() as u64 + 4 + promised);
        let n = match count {
            Count::BytesLeft => bytes_left_count(total - out.len(), dict),
            Count::Room => {
                let left = (total - out.len()).saturating_sub(promised as usize);
                bytes_left_count(left, dict)
            }
            Count::Fixed(n) => n,
            Count::HalfRoom => (room / 2 / min).max(1),
        };
        out.push(if dict { tags.dict } else { tags.list });
        out.extend(uvarint(n));
        if dict {
            out.push(0); // the first entry's key: ""
        }
        promised += (n - 1) * min;
        level += 1;
    }
    out.truncate(total);
    out
}

/// The count a container header declares if it claims every byte left after it (`left` bytes
/// left before its tag): the largest count a check against the input's end alone accepts.
fn bytes_left_count(left: usize, dict: bool) -> u64 {
    let min = if dict { 2 } else { 1 };
    for count_len in 1..=10 {
        let n = (left.saturating_sub(1 + count_len) / min) as u64;
        if uvarint(n).len() == count_len {
            return n.max(1);
        }
    }
    1
}

/// A deterministic pseudo-random nested value (lists, dicts, strings, bytes, numbers).
fn mixed_value(seed: &mut u64, depth: u32) -> Value {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let r = next();
    let kinds = if depth >= 5 { 6 } else { 8 };
    match r % kinds {
        0 => Value::Null,
        1 => Value::Bool(r & 64 == 0),
        2 => Value::Int(next() as i64 >> (r % 60)),
        3 => Value::Float(f64::from_bits(next())),
        4 => Value::Str("é-x".repeat((r % 5) as usize)),
        5 => Value::Bytes(vec![r as u8; (r % 7) as usize]),
        6 => Value::List(
            (0..next() % 6)
                .map(|_| mixed_value(seed, depth + 1))
                .collect(),
        ),
        _ => Value::Dict(
            (0..next() % 6)
                .map(|i| (format!("k{i}"), mixed_value(seed, depth + 1)))
                .collect(),
        ),
    }
}

/// A value `levels` deep, alternating lists and dicts, with a string at the bottom.
fn deep_value(levels: usize) -> Value {
    let mut v = Value::from("bottom");
    for i in 0..levels {
        v = if i % 2 == 0 {
            Value::List(vec![Value::Null, v])
        } else {
            Value::Dict([("a".to_owned(), Value::Int(1)), ("b".to_owned(), v)].into())
        };
    }
    v
}

/// The values that hold the most per byte of their encoding once decoded: dicts of one entry
/// (4 bytes: tag, count, empty key, `Null`; one B-tree leaf each), side by side in a list, or
/// nested in each other (3 bytes per level).
fn costliest_values() -> [(&'static str, Value); 2] {
    let one = || Value::Dict([(String::new(), Value::Null)].into());
    let mut nested = Value::Null;
    for _ in 0..5_000 {
        nested = Value::Dict([(String::new(), nested)].into());
    }
    [
        (
            "5,000 dicts of one entry in a list",
            Value::List(vec![one(); 5_000]),
        ),
        ("dicts of one entry nested 5,000 deep", nested),
    ]
}

// ---------------------------------------------------------------------------------------------
// Snapshots

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("skv-decode-memory-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The header and the start of one record (key `k`, no deadline): a value follows.
fn record_prefix() -> Vec<u8> {
    let mut f = b"SKVSNAP\0".to_vec();
    f.extend(1u32.to_le_bytes());
    f.extend(0u64.to_le_bytes());
    f.extend([0x01, 1, b'k']);
    f.extend(u64::MAX.to_le_bytes());
    f
}

fn empty_store() -> Store {
    Store::builder().background_cleanup(false).build()
}

/// Loads `bytes` as a snapshot file; returns the result and the most bytes held at once.
fn load_peak(path: &Path, bytes: &[u8]) -> (Result<usize, Error>, usize) {
    std::fs::write(path, bytes).unwrap();
    let store = empty_store();
    thread_peak_during(|| store.load(path))
}

fn snapshot_bound(len: usize) -> usize {
    SNAPSHOT_PER_BYTE * len + SNAPSHOT_FIXED
}

/// Loads `bytes`, expecting `Error::Corrupt`, and checks the bound; returns the peak.
fn corrupt_within_bound(path: &Path, bytes: &[u8], what: &str) -> usize {
    let (result, peak) = load_peak(path, bytes);
    assert!(
        matches!(result, Err(Error::Corrupt { .. })),
        "{what}: {result:?}"
    );
    assert!(
        peak <= snapshot_bound(bytes.len()),
        "{what}: decoding {} bytes held {peak} bytes at once, more than {SNAPSHOT_PER_BYTE} per \
         byte + {SNAPSHOT_FIXED}",
        bytes.len()
    );
    peak
}

#[test]
fn snapshot_headers_declaring_the_most_at_every_level_stay_within_the_bound() {
    let dir = TempDir::new("headers");
    let path = dir.0.join("s.snap");
    let prefix = record_prefix();
    let mut sizes = vec![4 << 10, 64 << 10];
    // The example: 294 KiB of nested list headers once reserved 3 GiB.
    sizes.push(294 << 10);
    for total in sizes {
        for count in [
            Count::BytesLeft,
            Count::Fixed(1024),
            Count::Room,
            Count::HalfRoom,
        ] {
            for shape in [Shape::Lists, Shape::Dicts, Shape::Alternating] {
                if total > 64 << 10 && !matches!((count, shape), (Count::BytesLeft, Shape::Lists)) {
                    continue;
                }
                let bytes = nested_headers(&prefix, total, SNAPSHOT_TAGS, count, shape);
                let what = format!("{total} bytes, {count:?}, {shape:?}");
                let peak = corrupt_within_bound(&path, &bytes, &what);
                eprintln!(
                    "snapshot {what}: peak {peak} bytes ({:.1} per byte of the file)",
                    peak as f64 / total as f64
                );
            }
        }
    }
}

#[test]
fn snapshot_every_truncation_of_a_nested_value_stays_within_the_bound() {
    let dir = TempDir::new("truncations");
    let path = dir.0.join("s.snap");
    let store = empty_store();
    let mut seed = 0x2545_f491_4f6c_dd1d;
    for i in 0..4 {
        store.set(&format!("mixed:{i}"), mixed_value(&mut seed, 0));
    }
    store.set("deep", deep_value(200));
    store.save(&path).unwrap();
    let file = std::fs::read(&path).unwrap();
    assert!(file.len() > 1_000, "{} bytes", file.len());
    let cut_path = dir.0.join("cut.snap");
    let mut worst = 0f64;
    for cut in 0..file.len() {
        let peak = corrupt_within_bound(&cut_path, &file[..cut], &format!("cut at {cut}"));
        worst = worst.max(peak as f64 / file.len() as f64);
    }
    let (result, peak) = load_peak(&cut_path, &file);
    assert_eq!(result, Ok(5));
    eprintln!(
        "snapshot of {} bytes: every truncation within the bound (worst {worst:.1} per byte of \
         the whole file); the whole file loads with a peak of {peak} bytes",
        file.len()
    );
}

#[test]
fn snapshot_deep_nesting_and_many_records_stay_within_the_bound() {
    let dir = TempDir::new("deep");
    let path = dir.0.join("s.snap");
    let store = empty_store();
    store.set("deep", deep_value(20_000));
    store.save(&path).unwrap();
    let file = std::fs::read(&path).unwrap();
    let cut_path = dir.0.join("cut.snap");
    for i in 1..=64 {
        let cut = file.len() * i / 64 - 1;
        corrupt_within_bound(&cut_path, &file[..cut], &format!("deep, cut at {cut}"));
    }
    let (result, peak) = load_peak(&cut_path, &file);
    assert_eq!(result, Ok(1));
    eprintln!(
        "deep value ({} bytes): whole file peak {peak} ({:.1} per byte)",
        file.len(),
        peak as f64 / file.len() as f64
    );
    assert!(peak <= snapshot_bound(file.len()));

    for (what, value) in costliest_values() {
        let store = empty_store();
        store.set("v", value);
        store.save(&path).unwrap();
        drop(store);
        let file = std::fs::read(&path).unwrap();
        let (result, peak) = load_peak(&cut_path, &file);
        assert_eq!(result, Ok(1));
        eprintln!(
            "{what} ({} bytes): peak {peak} ({:.1} per byte)",
            file.len(),
            peak as f64 / file.len() as f64
        );
        assert!(peak <= snapshot_bound(file.len()), "{what}: {peak}");
    }

    // Many small records, cut short of the trailer: the decoded records are held.
    let store = empty_store();
    for i in 0..20_000 {
        store.set(&format!("{i}"), Value::Null);
    }
    store.save(&path).unwrap();
    let file = std::fs::read(&path).unwrap();
    let peak = corrupt_within_bound(&cut_path, &file[..file.len() - 1], "many records");
    eprintln!(
        "20,000 records ({} bytes) cut before the last byte: peak {peak} ({:.1} per byte)",
        file.len(),
        peak as f64 / file.len() as f64
    );
}

// ---------------------------------------------------------------------------------------------
// Redis values

fn redis_peak(bytes: &[u8]) -> (Result<Value, String>, usize) {
    thread_peak_during(|| scriptling_kv_redis::__decode_value(bytes))
}

/// Decodes `bytes`, expecting an error, and checks the bound; returns the peak.
fn redis_refused_within_bound(bytes: &[u8], what: &str) -> usize {
    let (result, peak) = redis_peak(bytes);
    assert!(result.is_err(), "{what}: decoded as {result:?}");
    assert!(
        peak <= REDIS_PER_BYTE * bytes.len() + REDIS_FIXED,
        "{what}: decoding {} bytes held {peak} bytes at once, more than {REDIS_PER_BYTE} per \
         byte + {REDIS_FIXED}",
        bytes.len()
    );
    peak
}

#[test]
fn redis_headers_declaring_the_most_at_every_level_stay_within_the_bound() {
    // The example: a 40 KB value once reserved 6 GiB.
    for total in [1 << 10, 40_000] {
        for count in [
            Count::BytesLeft,
            Count::Fixed(1024),
            Count::Room,
            Count::HalfRoom,
        ] {
            for shape in [Shape::Lists, Shape::Dicts, Shape::Alternating] {
                let bytes = nested_headers(&[], total, REDIS_TAGS, count, shape);
                let what = format!("{total} bytes, {count:?}, {shape:?}");
                let peak = redis_refused_within_bound(&bytes, &what);
                eprintln!(
                    "redis {what}: peak {peak} bytes ({:.1} per byte of the value)",
                    peak as f64 / total as f64
                );
            }
        }
    }
}

#[test]
fn redis_every_truncation_of_a_nested_value_stays_within_the_bound() {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let value = Value::List(
        (0..6)
            .map(|_| mixed_value(&mut seed, 0))
            .chain([deep_value(100)])
            .collect(),
    );
    let bytes = scriptling_kv_redis::__encode_value(&value);
    assert!(bytes.len() > 500, "{} bytes", bytes.len());
    for cut in 1..bytes.len() {
        redis_refused_within_bound(&bytes[..cut], &format!("cut at {cut}"));
    }
    let (result, peak) = redis_peak(&bytes);
    let back = result.unwrap();
    assert_eq!(scriptling_kv_redis::__encode_value(&back), bytes);
    assert!(peak <= REDIS_PER_BYTE * bytes.len() + REDIS_FIXED);

    back.dispose();
    value.dispose();
    for (what, value) in costliest_values() {
        let bytes = scriptling_kv_redis::__encode_value(&value);
        value.dispose();
        let (result, peak) = redis_peak(&bytes);
        result.unwrap().dispose();
        eprintln!(
            "redis {what} ({} bytes): peak {peak} ({:.1} per byte)",
            bytes.len(),
            peak as f64 / bytes.len() as f64
        );
        assert!(
            peak <= REDIS_PER_BYTE * bytes.len() + REDIS_FIXED,
            "{what}: {peak}"
        );
    }
    let deep_v = deep_value(20_000);
    let deep = scriptling_kv_redis::__encode_value(&deep_v);
    deep_v.dispose(); // no recursion
    for i in 1..=64 {
        let cut = deep.len() * i / 64 - 1;
        redis_refused_within_bound(&deep[..cut], &format!("deep, cut at {cut}"));
    }
    let (result, peak) = redis_peak(&deep);
    result.unwrap().dispose();
    eprintln!(
        "redis deep value ({} bytes): peak {peak} ({:.1} per byte)",
        deep.len(),
        peak as f64 / deep.len() as f64
    );
    assert!(peak <= REDIS_PER_BYTE * deep.len() + REDIS_FIXED);
}
