//! Snapshots (`Store::save`, `Store::load`) and periodic persistence (`StoreBuilder::persist`):
//! exact round trips of every kind of value, TTLs across a save and a load with time passing in
//! between, rejection of every corrupted, truncated and foreign file with nothing applied, I/O
//! errors naming the path, saves racing readers and writers, and the persistence triggers
//! (load at build, save on change, save at the last drop) and how failures show.
//!
//! The crash test (a saving child process killed with SIGKILL) is in `snapshot_crash.rs`, the
//! streaming-memory test (a counting allocator) in `snapshot_memory.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use scriptling_kv::ops::identical;
use scriptling_kv::{Error, Store, TestClock, Ttl, Value};

// ---------------------------------------------------------------------------------------------
// Helpers

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "skv-snapshot-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names of the files in the directory, sorted.
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[path = "support/clocked.rs"]
mod clocked;
use clocked::clocked;

/// A test-clock store whose clock reads `at`.
fn clocked_at(at: Duration) -> (Store, TestClock) {
    let (store, clock) = clocked();
    clock.advance(at);
    (store, clock)
}

/// Every live key with its value and TTL, sorted by key.
fn dump(store: &Store) -> Vec<(String, Value, Ttl)> {
    store
        .keys("*")
        .unwrap()
        .into_iter()
        .filter_map(|k| {
            let v = store.get(&k)?;
            let t = store.ttl(&k);
            Some((k, v, t))
        })
        .collect()
}

fn assert_same_contents(a: &Store, b: &Store) {
    let (da, db) = (dump(a), dump(b));
    assert_eq!(da.len(), db.len(), "key counts differ");
    for ((ka, va, ta), (kb, vb, tb)) in da.iter().zip(&db) {
        assert_eq!(ka, kb);
        assert!(identical(va, vb), "{ka}: {va:?} != {vb:?}");
        assert_eq!(ta, tb, "{ka}: TTL");
    }
}

/// CRC-32C, bit at a time (an implementation independent of the crate's, for crafted files).
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

fn uvarint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

fn str_bytes(s: &[u8]) -> Vec<u8> {
    let mut out = uvarint(s.len() as u64);
    out.extend_from_slice(s);
    out
}

/// One record: marker, key, deadline, value bytes.
fn record(key: &[u8], deadline: u64, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x01];
    out.extend(str_bytes(key));
    out.extend(deadline.to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// A complete file (version 1) around `records` (raw bytes) with trailer count `count` and a
/// correct checksum.
fn file_with(records: &[u8], count: u64) -> Vec<u8> {
    let mut f = b"SKVSNAP\0".to_vec();
    f.extend(1u32.to_le_bytes());
    f.extend(0u64.to_le_bytes());
    f.extend_from_slice(records);
    f.push(0x00);
    f.extend(count.to_le_bytes());
    let crc = crc32c(&f);
    f.extend(crc.to_le_bytes());
    f
}

const NONE: u64 = u64::MAX;

/// A store with only the sentinel key, for "nothing was applied" checks.
fn sentinel_store() -> Store {
    let (s, _) = clocked();
    s.set("sentinel", "untouched");
    s
}

fn assert_only_sentinel(s: &Store, context: &str) {
    assert_eq!(s.keys("*").unwrap(), ["sentinel"], "{context}");
    assert_eq!(
        s.get("sentinel"),
        Some(Value::from("untouched")),
        "{context}"
    );
    assert_eq!(s.ttl("sentinel"), Ttl::Persistent, "{context}");
}

/// Loads `bytes` (written to `path`) into a sentinel store: must be `Error::Corrupt`, and apply
/// nothing. Returns (offset, reason).
fn expect_corrupt(bytes: &[u8], path: &Path, context: &str) -> (u64, String) {
    std::fs::write(path, bytes).unwrap();
    let s = sentinel_store();
    let err = s.load(path).expect_err(context);
    assert_only_sentinel(&s, context);
    match err {
        Error::Corrupt {
            path: p,
            offset,
            reason,
        } => {
            assert_eq!(p, path.display().to_string(), "{context}");
            assert!(offset <= bytes.len() as u64, "{context}: offset {offset}");
            (offset, reason)
        }
        other => panic!("{context}: expected Error::Corrupt, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

/// Every kind of value and its edges, under short, long (inline limit 30 bytes) and empty keys.
fn every_kind() -> Vec<(String, Value)> {
    let nan_payload = f64::from_bits(0x7ff8_0000_dead_beef);
    let neg_nan = f64::from_bits(0xfff0_0000_0000_0001); // a signalling NaN, sign bit set
    let mut dict = BTreeMap::new();
    dict.insert(String::new(), Value::Null);
    dict.insert("é".to_string(), Value::Float(-0.0));
    dict.insert(
        "nested".to_string(),
        Value::from(vec![
            Value::Dict(BTreeMap::new()),
            Value::List(vec![]),
            Value::Bytes(vec![]),
        ]),
    );
    let kinds: Vec<Value> = vec![
        Value::Null,
        Value::Bool(false),
        Value::Bool(true),
        Value::Int(0),
        Value::Int(-1),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::Int((1 << 62) - 1), // the largest in-place counter
        Value::Int(1 << 62),       // the smallest that is not
        Value::Int(-(1 << 62) - 1),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(nan_payload),
        Value::Float(neg_nan),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Float(f64::MIN_POSITIVE / 4.0), // subnormal
        Value::Float(f64::MAX),
        Value::Str(String::new()),
        Value::from("héllo, wörld ✓ \u{10FFFF}"),
        Value::Bytes(vec![]),
        Value::Bytes(vec![0xff, 0xfe, 0x00, 0x80, b'a']), // not UTF-8
        Value::List(vec![]),
        Value::Dict(BTreeMap::new()),
        Value::from(vec![Value::Int(1), Value::from("two"), Value::Null]),
        Value::Dict(dict),
    ];
    let keys = [
        String::new(),
        "k".to_string(),
        "x".repeat(30),
        "y".repeat(31),
        format!("session:{}", "z".repeat(200)),
        "ключ:🔑".to_string(),
    ];
    let mut out = Vec::new();
    for (i, v) in kinds.into_iter().enumerate() {
        out.push((format!("{}#{i}", keys[i % keys.len()]), v));
    }
    for k in keys {
        out.push((k, Value::from("plain")));
    }
    out
}

#[test]
fn every_value_kind_and_key_round_trips_exactly() {
    let dir = TempDir::new("kinds");
    let path = dir.path("s.snap");
    let (a, _) = clocked();
    let all = every_kind();
    for (k, v) in &all {
        a.set(k, v.clone());
    }
    // In-place counters (incr's fast path) are saved as the integer they hold now.
    assert_eq!(a.incr("counter", 41), Ok(41));
    assert_eq!(a.incr("counter", 1), Ok(42));
    assert_eq!(a.save(&path).unwrap(), all.len() + 1);

    let (b, _) = clocked();
    assert_eq!(b.load(&path).unwrap(), all.len() + 1);
    for (k, v) in &all {
        let got = b.get(k).unwrap_or_else(|| panic!("{k:?} missing"));
        assert!(identical(&got, v), "{k:?}: {got:?} != {v:?}");
        assert_eq!(b.ttl(k), Ttl::Persistent);
    }
    assert_eq!(b.get("counter"), Some(Value::Int(42)));
    assert_same_contents(&a, &b);
    // Saving the loaded store gives the same bytes (the test clock reads the same: same header).
    let again = dir.path("again.snap");
    b.save(&again).unwrap();
    assert_eq!(dump(&b).len(), all.len() + 1);
    let (c, _) = clocked();
    c.load(&again).unwrap();
    assert_same_contents(&b, &c);
    assert_eq!(c.incr("counter", 1), Ok(43), "still an integer");
}

#[test]
fn an_empty_store_round_trips() {
    let dir = TempDir::new("empty");
    let path = dir.path("s.snap");
    let (a, _) = clocked();
    assert_eq!(a.save(&path).unwrap(), 0);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        20 + 1 + 8 + 4,
        "header + end marker + count + checksum"
    );
    let b = sentinel_store();
    assert_eq!(b.load(&path).unwrap(), 0);
    assert_only_sentinel(&b, "an empty snapshot sets nothing");
}

/// `[[[...[leaf]...]]]`, `{"k": {"k": ...}}` and both mixed, 100,000 levels deep, saved and
/// loaded on a thread with a 2 MiB stack: the encoder and decoder use no recursion.
#[test]
fn values_nested_100_000_deep_save_and_load_on_a_2_mib_stack() {
    const DEPTH: usize = 100_000;
    thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let dir = TempDir::new("deep");
            let path = dir.path("s.snap");
            let list = (0..DEPTH).fold(Value::Int(7), |v, _| Value::List(vec![v]));
            let dict = (0..DEPTH).fold(Value::from("leaf"), |v, _| {
                Value::Dict(BTreeMap::from([("k".to_string(), v)]))
            });
            let mixed = (0..DEPTH).fold(Value::Null, |v, i| {
                if i % 2 == 0 {
                    Value::Dict(BTreeMap::from([
                        ("a".to_string(), Value::Int(1)),
                        ("b".to_string(), v),
                    ]))
                } else {
                    Value::List(vec![Value::Bool(true), v, Value::from("end")])
                }
            });
            let (a, _) = clocked();
            a.set("list", list.clone());
            a.set("dict", dict.clone());
            a.set("mixed", mixed.clone());
            assert_eq!(a.save(&path).unwrap(), 3);
            let (b, _) = clocked();
            assert_eq!(b.load(&path).unwrap(), 3);
            for (k, want) in [("list", list), ("dict", dict), ("mixed", mixed)] {
                let got = b.get(k).unwrap();
                assert!(got == want, "{k} differs after the round trip");
                got.dispose();
                want.dispose();
            }
            // A deep value in a file that turns out corrupt is dropped without recursion too.
            let mut bytes = std::fs::read(&path).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            std::fs::write(&path, &bytes).unwrap();
            let c = sentinel_store();
            assert!(matches!(c.load(&path), Err(Error::Corrupt { .. })));
            assert_only_sentinel(&c, "deep corrupt");
        })
        .unwrap()
        .join()
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// TTLs across a save and a load

#[test]
fn ttls_count_the_time_between_the_save_and_the_load() {
    let dir = TempDir::new("ttl");
    let path = dir.path("s.snap");
    let t1 = Duration::from_secs(1_000);
    let (a, clock_a) = clocked_at(t1);
    a.set_with_ttl("short", 1, Duration::from_secs(10));
    a.set_with_ttl("long", 2, Duration::from_secs(100));
    a.set_with_ttl("exact", 3, Duration::from_secs(50));
    a.set_with_ttl("nanos", 4, Duration::from_nanos(50_000_000_001));
    a.set("forever", 5);
    a.incr("counter", 6).unwrap();
    assert!(a.expire("counter", Duration::from_secs(70)));
    a.set_with_ttl("gone", 7, Duration::from_secs(5));
    clock_a.advance(Duration::from_secs(5)); // `gone` expires at the save's instant: not saved
    assert_eq!(a.save(&path).unwrap(), 6);

    // Loaded 45 s of test time after the save (50 s after the writes).
    let (b, _) = clocked_at(t1 + Duration::from_secs(50));
    assert_eq!(b.load(&path).unwrap(), 4, "short and exact have run out");
    assert_eq!(b.get("short"), None);
    assert_eq!(b.get("exact"), None, "due exactly at the load: expired");
    assert_eq!(b.ttl("long"), Ttl::Expires(Duration::from_secs(50)));
    assert_eq!(b.ttl("nanos"), Ttl::Expires(Duration::from_nanos(1)));
    assert_eq!(b.ttl("counter"), Ttl::Expires(Duration::from_secs(20)));
    assert_eq!(b.get("counter"), Some(Value::Int(6)));
    assert_eq!(b.ttl("forever"), Ttl::Persistent);
    assert_eq!(b.get("gone"), None);

    // Loaded at the save's instant: every TTL exactly as it was.
    let (c, _) = clocked_at(t1 + Duration::from_secs(5));
    assert_eq!(c.load(&path).unwrap(), 6);
    assert_same_contents(&a, &c);
    assert_eq!(c.ttl("short"), Ttl::Expires(Duration::from_secs(5)));

    // And the loaded TTLs keep running on the new store's clock.
    let (d, clock_d) = clocked_at(t1 + Duration::from_secs(50));
    d.load(&path).unwrap();
    clock_d.advance(Duration::from_secs(49));
    assert_eq!(d.ttl("long"), Ttl::Expires(Duration::from_secs(1)));
    clock_d.advance(Duration::from_secs(1));
    assert_eq!(d.get("long"), None);
    assert_eq!(d.get("forever"), Some(Value::Int(5)));
}

/// On the real clock a TTL is stored as a wall-clock instant: what it has left after a load is
/// what it had at the save minus the time between the two.
#[test]
fn real_clock_ttls_are_wall_clock_instants() {
    let dir = TempDir::new("wall");
    let path = dir.path("s.snap");
    let a = Store::builder().background_cleanup(false).build();
    a.set_with_ttl("k", 1, Duration::from_secs(3600));
    a.set("p", 2);
    a.save(&path).unwrap();
    thread::sleep(Duration::from_millis(300));
    let b = Store::builder().background_cleanup(false).build();
    assert_eq!(b.load(&path).unwrap(), 2);
    let Ttl::Expires(left) = b.ttl("k") else {
        panic!("k lost its TTL");
    };
    assert!(left <= Duration::from_millis(3_600_000 - 300), "{left:?}");
    assert!(left > Duration::from_secs(3500), "{left:?}");
    assert_eq!(b.ttl("p"), Ttl::Persistent);
    // The header's creation time is now, in Unix nanoseconds.
    let bytes = std::fs::read(&path).unwrap();
    let created = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(created <= now && now - created < 60_000_000_000);
    // A test-clock store maps its clock to 1970: a real-clock snapshot's keys have long to go
    // there, and a test-clock snapshot's TTLs are long past on the real clock.
    let (t, _) = clocked();
    t.set_with_ttl("k", 1, Duration::from_secs(3600));
    t.set("p", 2);
    t.save(&path).unwrap();
    let c = Store::builder().background_cleanup(false).build();
    assert_eq!(c.load(&path).unwrap(), 1);
    assert_eq!(c.keys("*").unwrap(), ["p"]);
}

#[test]
fn load_merges_into_the_store_and_overwrites_the_keys_it_holds() {
    let dir = TempDir::new("merge");
    let path = dir.path("s.snap");
    let (a, _) = clocked();
    a.set_with_ttl("k", "new", Duration::from_secs(9));
    a.set("other", 1);
    a.save(&path).unwrap();
    let (b, _) = clocked();
    b.set("sentinel", "untouched");
    b.set("k", "old");
    assert_eq!(b.load(&path).unwrap(), 2);
    assert_eq!(b.get("k"), Some(Value::from("new")));
    assert_eq!(b.ttl("k"), Ttl::Expires(Duration::from_secs(9)));
    assert_eq!(b.get("sentinel"), Some(Value::from("untouched")));
    assert_eq!(b.keys("*").unwrap(), ["k", "other", "sentinel"]);
}

#[test]
fn a_key_written_twice_keeps_the_later_record() {
    // What a save can produce when a key is deleted and re-created during its walk.
    let dir = TempDir::new("dup");
    let path = dir.path("s.snap");
    let mut recs = record(b"k", NONE, &[0x03, 1, 0, 0, 0, 0, 0, 0, 0]);
    recs.extend(record(b"k", NONE, &[0x03, 2, 0, 0, 0, 0, 0, 0, 0]));
    std::fs::write(&path, file_with(&recs, 2)).unwrap();
    let (s, _) = clocked();
    assert_eq!(s.load(&path).unwrap(), 2);
    assert_eq!(s.get("k"), Some(Value::Int(2)));
}

// ---------------------------------------------------------------------------------------------
// Corruption and foreign files

/// A small snapshot with a bit of everything: keys with and without TTLs, nested values.
fn small_snapshot(path: &Path) -> Vec<u8> {
    let (a, _) = clocked_at(Duration::from_secs(10));
    a.set("a", 1);
    a.set_with_ttl("session:x", "bob", Duration::from_secs(3600));
    a.set(
        "doc",
        Value::from(BTreeMap::from([
            ("f".to_string(), Value::Float(-0.0)),
            (
                "l".to_string(),
                Value::from(vec![Value::Null, Value::Bool(true)]),
            ),
        ])),
    );
    a.set("raw", Value::Bytes(vec![0xff, 0x00]));
    assert_eq!(a.save(path).unwrap(), 4);
    std::fs::read(path).unwrap()
}

#[test]
fn every_single_byte_change_and_every_truncation_is_rejected_and_sets_nothing() {
    let dir = TempDir::new("flips");
    let good_path = dir.path("good.snap");
    let good = small_snapshot(&good_path);
    let path = dir.path("bad.snap");
    // The intact file loads (into a store at the save's instant, so every key is live).
    let (s, _) = clocked_at(Duration::from_secs(10));
    assert_eq!(s.load(&good_path).unwrap(), 4);
    let mut loads = 0;
    for i in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            expect_corrupt(&bad, &path, &format!("byte {i} ^ {mask:#04x}"));
            loads += 1;
        }
    }
    for len in 0..good.len() {
        let (_, reason) = expect_corrupt(&good[..len], &path, &format!("truncated to {len}"));
        if len > 8 {
            assert!(
                reason.contains("truncated") || reason.contains("more than"),
                "truncated to {len}: {reason}"
            );
        }
        loads += 1;
    }
    let mut longer = good.clone();
    longer.push(0);
    let (offset, reason) = expect_corrupt(&longer, &path, "one byte appended");
    assert_eq!(offset, good.len() as u64);
    assert!(reason.contains("after the checksum"), "{reason}");
    eprintln!(
        "{} corrupted variants of a {}-byte snapshot rejected",
        loads + 1,
        good.len()
    );
}

#[test]
fn foreign_files_are_corrupt_with_a_clear_reason() {
    let dir = TempDir::new("foreign");
    let path = dir.path("f.snap");

    let (off, why) = expect_corrupt(b"", &path, "empty");
    assert_eq!(off, 0);
    assert!(why.contains("empty file"), "{why}");

    let (off, why) = expect_corrupt(br#"{"sessions": {"abc": "bob"}}"#, &path, "json");
    assert_eq!(off, 0);
    assert!(why.contains("not a scriptling-kv snapshot"), "{why}");

    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let (_, why) = expect_corrupt(&random, &path, "random bytes");
    assert!(why.contains("not a scriptling-kv snapshot"), "{why}");

    let (_, why) = expect_corrupt(b"SKVSN", &path, "a prefix of the magic");
    assert!(why.contains("not a scriptling-kv snapshot"), "{why}");

    // A future version: rejected by its number, whatever follows.
    let mut future = file_with(&[], 0);
    future[8..12].copy_from_slice(&2u32.to_le_bytes());
    let (off, why) = expect_corrupt(&future, &path, "version 2");
    assert_eq!(off, 8);
    assert!(why.contains("format version 2 is not supported"), "{why}");
    assert!(why.contains("version 1"), "{why}");
}

/// Files with a correct checksum that are still invalid: each is rejected by the decoder's own
/// checks, with the offset of the problem.
#[test]
fn well_checksummed_but_invalid_files_are_rejected_where_the_problem_is() {
    let dir = TempDir::new("invalid");
    let path = dir.path("i.snap");
    let int1 = [0x03, 1, 0, 0, 0, 0, 0, 0, 0];
    let header = 20u64;

    let good = record(b"k", NONE, &int1);
    std::fs::write(&path, file_with(&good, 1)).unwrap();
    assert_eq!(
        sentinel_store().load(&path).unwrap(),
        1,
        "the control loads"
    );

    let cases: Vec<(&str, Vec<u8>, u64, u64, &str)> = vec![
        // (what, records, count, offset, reason contains)
        (
            "count too high",
            good.clone(),
            2,
            header + good.len() as u64 + 1,
            "counts 2 records",
        ),
        (
            "count too low",
            good.clone(),
            0,
            header + good.len() as u64 + 1,
            "counts 0 records",
        ),
        (
            "unknown marker",
            vec![0x02],
            0,
            header,
            "unknown record marker 0x02",
        ),
        (
            "unknown value tag",
            record(b"k", NONE, &[0x09]),
            1,
            header + 1 + 2 + 8,
            "unknown value tag 0x09",
        ),
        (
            "key not UTF-8",
            record(&[0xc3, 0x28], NONE, &[0x00]),
            1,
            header + 1,
            "a key is not valid UTF-8",
        ),
        (
            "string value not UTF-8",
            record(b"k", NONE, &[0x05, 1, 0xff]),
            1,
            header + 1 + 2 + 8 + 1,
            "a string is not valid UTF-8",
        ),
        (
            "dict keys out of order",
            record(b"k", NONE, &[0x08, 2, 1, b'b', 0x00, 1, b'a', 0x00]),
            1,
            header + 1 + 2 + 8 + 2 + 3,
            "strictly ascending",
        ),
        (
            "dict key repeated",
            record(b"k", NONE, &[0x08, 2, 1, b'a', 0x00, 1, b'a', 0x00]),
            1,
            header + 1 + 2 + 8 + 2 + 3,
            "strictly ascending",
        ),
        (
            "non-minimal varint",
            record(b"k", NONE, &[0x05, 0x80, 0x00]),
            1,
            header + 1 + 2 + 8 + 1,
            "not minimal",
        ),
        (
            "key length far past the end (no huge allocation)",
            {
                let mut r = vec![0x01];
                r.extend(uvarint(1 << 40));
                r
            },
            0,
            header + 1,
            "more than the",
        ),
        (
            "list length far past the end (no huge allocation)",
            {
                let mut v = vec![0x07];
                v.extend(uvarint(u64::MAX));
                record(b"k", NONE, &v)
            },
            1,
            header + 1 + 2 + 8 + 1,
            "more than the",
        ),
    ];
    for (what, recs, count, offset, reason) in cases {
        let (off, why) = expect_corrupt(&file_with(&recs, count), &path, what);
        assert!(why.contains(reason), "{what}: {why}");
        assert_eq!(off, offset, "{what}: offset ({why})");
    }
}

#[test]
fn io_errors_name_the_path_the_step_and_the_os_error() {
    let dir = TempDir::new("io");
    let s = sentinel_store();

    let missing = dir.path("missing.snap");
    match s.load(&missing) {
        Err(Error::Io {
            path,
            op,
            reason,
            kind,
        }) => {
            assert_eq!(path, missing.display().to_string());
            assert_eq!(op, "open");
            assert_eq!(kind, std::io::ErrorKind::NotFound);
            assert!(reason.contains("No such file"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    // A directory where the file should be: opening works on Linux, reading does not.
    let a_dir = dir.path("a-directory");
    std::fs::create_dir(&a_dir).unwrap();
    assert!(matches!(s.load(&a_dir), Err(Error::Io { .. })));

    // Saving into a directory that does not exist, and under a regular file.
    let nowhere = dir.path("no-such-dir").join("s.snap");
    match s.save(&nowhere) {
        Err(Error::Io {
            path,
            op,
            reason,
            kind,
        }) => {
            assert_eq!(kind, std::io::ErrorKind::NotFound);
            assert_eq!(path, nowhere.display().to_string());
            assert!(op.contains("temporary file"), "{op}");
            assert!(reason.contains("No such file"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let file = dir.path("plain-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(s.save(file.join("s.snap")), Err(Error::Io { .. })));

    // The target is a directory: the rename fails, and the temporary file is removed.
    match s.save(&a_dir) {
        Err(Error::Io { path, op, .. }) => {
            assert_eq!(path, a_dir.display().to_string());
            assert!(op.contains("rename"), "{op}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        dir.listing(),
        ["a-directory", "plain-file"],
        "no temp file left"
    );

    // A directory we may not write to (only meaningful when not running as root, which ignores
    // permissions).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path("read-only");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let probe = ro.join("probe");
        if std::fs::write(&probe, b"").is_err() {
            match s.save(ro.join("s.snap")) {
                Err(Error::Io { path, reason, .. }) => {
                    assert!(path.ends_with("read-only/s.snap"), "{path}");
                    assert!(reason.contains("ermission denied"), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        } else {
            let _ = std::fs::remove_file(&probe); // root: permissions are not enforced
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_only_sentinel(&s, "failed saves and loads change nothing");
    assert!(matches!(s.save(""), Err(Error::Io { .. })), "no file name");
}

#[test]
fn a_save_replaces_the_file_and_leaves_nothing_else_behind() {
    let dir = TempDir::new("replace");
    let path = dir.path("s.snap");
    let (a, _) = clocked();
    a.set("v", 1);
    a.save(&path).unwrap();
    a.set("v", 2);
    a.set("w", 3);
    assert_eq!(a.save(&path).unwrap(), 2);
    assert_eq!(dir.listing(), ["s.snap"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "snapshots are private to their owner");
    }
    let (b, _) = clocked();
    b.load(&path).unwrap();
    assert_eq!(b.get("v"), Some(Value::Int(2)));
    // A relative path (a bare file name) saves in the current directory's terms too.
    let cwd_rel = PathBuf::from(format!("skv-snapshot-relative-{}.snap", std::process::id()));
    b.save(&cwd_rel).unwrap();
    let (c, _) = clocked();
    assert_eq!(c.load(&cwd_rel).unwrap(), 2);
    std::fs::remove_file(&cwd_rel).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Saves racing readers and writers

/// Readers and writers keep going at full speed while saves of a big store run: the worker's
/// progress is checked with a bounded wait while each save is in flight, and no single
/// operation takes long.
#[test]
fn readers_and_writers_are_never_blocked_by_a_save() {
    let n = if cfg!(debug_assertions) {
        100_000
    } else {
        500_000
    };
    let dir = TempDir::new("race");
    let path = dir.path("s.snap");
    let store = Store::builder().background_cleanup(false).build();
    for i in 0..n {
        store.set(&format!("key:{i}"), format!("value-{i:08}"));
    }
    let stop = AtomicBool::new(false);
    let (progress, ticks) = mpsc::channel::<Duration>();
    thread::scope(|s| {
        let worker = s.spawn(|| {
            let mut i = 0usize;
            let mut worst = Duration::ZERO;
            let mut batch_start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let k = format!("key:{}", (i * 7919) % n);
                let t0 = Instant::now();
                match i % 4 {
                    0 => store.set(&k, i as i64),
                    1 => {
                        let _ = store.incr("hits", 1);
                    }
                    _ => {
                        let _ = store.get(&k);
                    }
                }
                worst = worst.max(t0.elapsed());
                i += 1;
                if i % 1000 == 0 {
                    let _ = progress.send(batch_start.elapsed());
                    batch_start = Instant::now();
                }
            }
            (i, worst)
        });
        let saves = 3;
        let mut during = 0usize;
        for _ in 0..saves {
            let saving = s.spawn(|| store.save(&path));
            let started = Instant::now();
            while !saving.is_finished() {
                ticks
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the worker made no progress for 10 s during a save");
                during += 1;
            }
            let written = saving.join().unwrap().unwrap();
            assert!(written >= n, "{written} < {n}");
            eprintln!("save of {written} keys: {:?}", started.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
        let (ops, worst) = worker.join().unwrap();
        eprintln!("worker: {ops} ops, {during} x 1000 during the saves, worst op {worst:?}");
        assert!(during > 0, "no operation completed during any save");
        assert!(
            worst < Duration::from_secs(2),
            "an operation took {worst:?}"
        );
    });
}

/// What a save racing writers holds: every key untouched during the save is in it with its
/// value, no key deleted (or expired) before the save is, and every key being rewritten
/// holds one of the values it was given, with the TTL written with that value.
#[test]
fn a_save_racing_writers_is_consistent_per_key() {
    let dir = TempDir::new("consistent");
    let path = dir.path("s.snap");
    let (store, clock) = clocked_at(Duration::from_secs(100));
    let stable = 20_000;
    for i in 0..stable {
        store.set(&format!("stable:{i}"), i as i64);
    }
    for i in 0..1000 {
        store.set(&format!("gone:{i}"), i as i64);
        store.set_with_ttl(&format!("expired:{i}"), i as i64, Duration::from_secs(1));
    }
    for i in 0..1000 {
        assert!(store.delete(&format!("gone:{i}")));
    }
    clock.advance(Duration::from_secs(1));
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let mut round = 0i64;
            while !stop.load(Ordering::Relaxed) {
                for i in 0..100 {
                    let k = format!("churn:{i}");
                    // The value says which TTL it was written with: value v <-> TTL v seconds.
                    let v = 1 + (round + i) % 50;
                    match round % 3 {
                        0 => store.set_with_ttl(&k, v, Duration::from_secs(v as u64)),
                        1 => {
                            store.delete(&k);
                            store.set_with_ttl(&k, v, Duration::from_secs(v as u64));
                        }
                        _ => {
                            let _ = store.incr(&format!("count:{i}"), 1);
                        }
                    }
                }
                round += 1;
            }
        });
        for _ in 0..3 {
            store.save(&path).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    let (b, _) = clocked_at(Duration::from_secs(101));
    b.load(&path).unwrap();
    for i in 0..stable {
        assert_eq!(b.get(&format!("stable:{i}")), Some(Value::Int(i as i64)));
    }
    assert!(b.keys("gone:*").unwrap().is_empty());
    assert!(b.keys("expired:*").unwrap().is_empty());
    for k in b.keys("churn:*").unwrap() {
        let Some(Value::Int(v)) = b.get(&k) else {
            panic!("{k}: not an int");
        };
        assert_eq!(
            b.ttl(&k),
            Ttl::Expires(Duration::from_secs(v as u64)),
            "{k}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Periodic persistence

/// Polls `f` every 5 ms for up to 10 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// The live keys of the snapshot at `path` (loaded into a fresh store).
fn keys_in(path: &Path) -> Vec<String> {
    let s = Store::builder().background_cleanup(false).build();
    s.load(path).unwrap();
    s.keys("*").unwrap()
}

#[test]
fn persistence_is_off_unless_asked_for() {
    let s = Store::new();
    assert_eq!(s.persistence_status(), None);
    assert_eq!(s.save_now(), None);
}

#[test]
fn persist_loads_the_file_at_build() {
    let dir = TempDir::new("p-load");
    let path = dir.path("s.snap");
    let a = Store::new();
    a.set("session:1", "alice");
    a.set_with_ttl("session:2", "bob", Duration::from_secs(600));
    a.save(&path).unwrap();

    let b = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .build();
    assert_eq!(b.get("session:1"), Some(Value::from("alice")));
    assert!(matches!(b.ttl("session:2"), Ttl::Expires(_)));
    let st = b.persistence_status().unwrap();
    assert_eq!(st.path, path);
    assert_eq!(st.interval, Duration::from_secs(3600));
    assert_eq!(st.loaded, Some(2));
    assert_eq!((st.load_error, st.moved_to, st.saving), (None, None, true));
    assert_eq!((st.saves, st.failures, st.last_save), (0, 0, None));
    // Nothing changed since the load: dropping it writes nothing.
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    drop(b);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );

    // No file yet: the store starts empty, and says it loaded nothing.
    let fresh = dir.path("fresh.snap");
    let c = Store::builder()
        .persist(&fresh, Duration::from_secs(3600))
        .build();
    assert!(c.is_empty());
    let st = c.persistence_status().unwrap();
    assert_eq!((st.loaded, st.load_error, st.saving), (None, None, true));
    drop(c);
    assert!(!fresh.exists(), "nothing changed, nothing saved");
}

#[test]
fn persist_saves_every_interval_only_when_something_changed() {
    let dir = TempDir::new("p-periodic");
    let path = dir.path("s.snap");
    let store = Store::builder()
        .persist(&path, Duration::from_millis(20))
        .background_cleanup(false)
        .build();
    let saves = || store.persistence_status().unwrap().saves;
    thread::sleep(Duration::from_millis(100));
    assert_eq!(saves(), 0, "nothing changed: no save");
    assert!(!path.exists());

    store.set("a", 1);
    eventually("a save after set", || saves() >= 1);
    assert_eq!(keys_in(&path), ["a"]);
    let st = store.persistence_status().unwrap();
    assert!(st.last_save.is_some() && !st.failing);
    assert_eq!(st.last_saved_keys, 1);

    // Idle: no more saves.
    let n = saves();
    thread::sleep(Duration::from_millis(150));
    assert_eq!(saves(), n, "saved although nothing changed");

    // Each kind of write counts as a change, including the in-place ones.
    let expect = |what: &str, change: &dyn Fn()| {
        let n = saves();
        change();
        eventually(what, || saves() > n);
    };
    expect("in-place incr", &|| {
        assert_eq!(store.incr("a", 1), Ok(2));
    });
    let s2 = Store::builder().background_cleanup(false).build();
    s2.load(&path).unwrap();
    assert_eq!(s2.get("a"), Some(Value::Int(2)));
    expect("in-place expire", &|| {
        assert!(store.expire("a", Duration::from_secs(600)));
    });
    expect("persist", &|| assert!(store.persist("a")));
    expect("compare_and_set", &|| {
        assert!(store.compare_and_set("a", &Value::Int(2), "x"));
    });
    expect("delete", &|| assert!(store.delete("a")));
    expect("set", &|| store.set("b", 1));
    expect("clear", &|| store.clear());
    assert!(keys_in(&path).is_empty());
    assert_eq!(store.persistence_status().unwrap().failures, 0);
}

#[test]
fn persist_saves_when_the_last_handle_is_dropped() {
    let dir = TempDir::new("p-drop");
    let path = dir.path("s.snap");
    let store = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .build();
    store.set("k", 1);
    let clone = store.clone();
    drop(store);
    assert!(!path.exists(), "another handle is alive: no save yet");
    thread::spawn(move || {
        clone.set("from-thread", 2);
        drop(clone);
    })
    .join()
    .unwrap();
    // Saved by the time the last `drop` returned.
    assert_eq!(keys_in(&path), ["from-thread", "k"]);
}

/// The save at the last drop waits for a periodic save in progress and then saves what
/// changed after it began: with a 1 ms interval and a writer busy until just before the drop, a
/// periodic save is almost always running when the handle is dropped, and the last write must
/// still be in the file.
#[test]
fn the_save_at_the_last_drop_comes_after_a_periodic_save_in_progress() {
    let dir = TempDir::new("p-drop-race");
    let path = dir.path("s.snap");
    for round in 0..3 {
        let store = Store::builder()
            .persist(&path, Duration::from_millis(1))
            .background_cleanup(false)
            .build();
        for i in 0..20_000 {
            store.set(&format!("k{i}"), i as i64);
        }
        let stop = AtomicBool::new(false);
        thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    store.set(&format!("noise{}", i % 100), i);
                    i += 1;
                }
            });
            eventually("a periodic save", || {
                store.persistence_status().unwrap().saves > 0
            });
            stop.store(true, Ordering::Relaxed);
        });
        store.set("last", round);
        drop(store);
        let s = Store::builder().background_cleanup(false).build();
        s.load(&path).unwrap();
        assert_eq!(s.get("last"), Some(Value::Int(round)), "round {round}");
        assert_eq!(s.keys("k*").unwrap().len(), 20_000);
    }
}

#[test]
fn a_failing_save_is_counted_recorded_and_reported() {
    let dir = TempDir::new("p-fail");
    let path = dir.path("no-such-dir").join("s.snap");
    let seen: Arc<Mutex<Vec<Error>>> = Arc::default();
    let store = Store::builder()
        .persist(&path, Duration::from_millis(10))
        .on_persist_error({
            let seen = seen.clone();
            move |e| seen.lock().unwrap().push(e.clone())
        })
        .build();
    store.set("k", 1);
    eventually("a failed periodic save", || {
        store.persistence_status().unwrap().failures >= 1
    });
    let st = store.persistence_status().unwrap();
    assert!(st.failing);
    assert_eq!((st.saves, st.last_save), (0, None));
    let (_, err) = st.last_error.unwrap();
    assert!(
        matches!(&err, Error::Io { path: p, .. } if *p == path.display().to_string()),
        "{err:?}"
    );
    assert!(store.stats().save_failures >= 1);
    assert!(!seen.lock().unwrap().is_empty());
    assert_eq!(seen.lock().unwrap()[0], err);
    assert!(matches!(store.save_now(), Some(Err(Error::Io { .. }))));

    // The directory appears: the next save works, and the status says so.
    std::fs::create_dir(path.parent().unwrap()).unwrap();
    assert_eq!(store.save_now(), Some(Ok(1)));
    let st = store.persistence_status().unwrap();
    assert!(!st.failing && st.saves >= 1 && st.last_save.is_some());
    assert!(st.last_error.is_some(), "the last failure stays on record");

    // A save at the last drop that fails reaches the callback (nothing else outlives it).
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_dir(path.parent().unwrap()).unwrap();
    store.set("k", 2);
    let n = seen.lock().unwrap().len();
    let stopped_periodic = store.persistence_status().unwrap();
    drop(stopped_periodic);
    drop(store);
    assert!(
        seen.lock().unwrap().len() > n,
        "the final failure was reported"
    );
}

#[test]
fn a_panicking_error_callback_is_caught() {
    let dir = TempDir::new("p-panic");
    let path = dir.path("missing-dir").join("s.snap");
    // The directory is there at build (which would report its absence), gone for the save.
    std::fs::create_dir(path.parent().unwrap()).unwrap();
    let store = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .on_persist_error(|_| panic!("callback panics"))
        .build();
    std::fs::remove_dir(path.parent().unwrap()).unwrap();
    store.set("k", 1);
    assert!(matches!(store.save_now(), Some(Err(_))));
    assert_eq!(store.stats().listener_panics, 1);
    assert_eq!(store.get("k"), Some(Value::Int(1)));
}

/// The callback runs with no lock of the store held: it may save again (here through a handle
/// it is lent for the test, and which is taken back to break the cycle).
#[test]
fn the_error_callback_may_use_the_store() {
    let dir = TempDir::new("p-reentrant");
    let path = dir.path("missing-dir").join("s.snap");
    let lent: Arc<Mutex<Option<Store>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    // The directory is there at build (which would report its absence), gone for the saves.
    std::fs::create_dir(path.parent().unwrap()).unwrap();
    let store = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .on_persist_error({
            let lent = lent.clone();
            let calls = calls.clone();
            move |_| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    let s = lent.lock().unwrap().clone().unwrap();
                    assert!(s.persistence_status().unwrap().failing);
                    assert!(
                        matches!(s.save_now(), Some(Err(_))),
                        "a second save, inside"
                    );
                }
            }
        })
        .build();
    std::fs::remove_dir(path.parent().unwrap()).unwrap();
    *lent.lock().unwrap() = Some(store.clone());
    store.set("k", 1);
    let (done, finished) = mpsc::channel();
    let s2 = store.clone();
    thread::spawn(move || done.send(s2.save_now()).unwrap());
    let result = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("save_now deadlocked in its callback");
    assert!(matches!(result, Some(Err(_))));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(store.stats().save_failures, 2);
    *lent.lock().unwrap() = None;
}

#[test]
fn a_corrupt_file_at_build_is_moved_aside_and_the_store_starts_empty() {
    let dir = TempDir::new("p-corrupt");
    let path = dir.path("s.snap");
    let garbage = b"SKVSNAP\0\x01\x00\x00\x00 but then garbage";
    std::fs::write(&path, garbage).unwrap();
    let seen: Arc<Mutex<Vec<Error>>> = Arc::default();
    let store = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .on_persist_error({
            let seen = seen.clone();
            move |e| seen.lock().unwrap().push(e.clone())
        })
        .build();
    assert!(store.is_empty());
    let st = store.persistence_status().unwrap();
    assert!(
        matches!(st.load_error, Some(Error::Corrupt { .. })),
        "{st:?}"
    );
    assert_eq!(st.loaded, None);
    assert!(st.saving);
    let aside = st.moved_to.clone().expect("moved aside");
    assert!(aside
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("s.snap.corrupt-"));
    assert_eq!(std::fs::read(&aside).unwrap(), garbage, "kept as it was");
    assert!(!path.exists());
    assert_eq!(seen.lock().unwrap().as_slice(), [st.load_error.unwrap()]);

    store.set("k", 1);
    assert_eq!(store.save_now(), Some(Ok(1)));
    assert_eq!(keys_in(&path), ["k"]);

    // Another corrupt file in the same second does not overwrite the first one moved aside.
    drop(store);
    std::fs::write(&path, b"junk").unwrap();
    let again = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .build();
    let second = again.persistence_status().unwrap().moved_to.unwrap();
    assert_ne!(second, aside);
    assert_eq!(std::fs::read(&aside).unwrap(), garbage);
    assert_eq!(std::fs::read(&second).unwrap(), b"junk");
}

#[test]
fn an_unreadable_file_at_build_is_left_alone_and_saving_is_suspended() {
    let dir = TempDir::new("p-unreadable");
    let path = dir.path("s.snap");
    std::fs::create_dir(&path).unwrap(); // exists, cannot be read as a file
    std::fs::write(path.join("inside"), b"precious").unwrap();
    let store = Store::builder()
        .persist(&path, Duration::from_millis(5))
        .build();
    let st = store.persistence_status().unwrap();
    assert!(matches!(st.load_error, Some(Error::Io { .. })), "{st:?}");
    assert!(!st.saving);
    assert_eq!(st.moved_to, None);
    store.set("k", 1);
    thread::sleep(Duration::from_millis(50));
    match store.save_now() {
        Some(Err(Error::Io { reason, .. })) => assert!(reason.contains("suspended"), "{reason}"),
        other => panic!("{other:?}"),
    }
    drop(store);
    assert!(path.is_dir());
    assert_eq!(std::fs::read(path.join("inside")).unwrap(), b"precious");
    assert_eq!(dir.listing(), ["s.snap"]);
}

#[test]
fn the_persist_thread_ends_with_the_store() {
    fn persist_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .filter(|c| c.trim_end() == "scriptling-kv-p")
                    .count()
            })
            .unwrap_or(0)
    }
    if !Path::new("/proc/self/task").exists() {
        return;
    }
    let dir = TempDir::new("p-thread");
    let store = Store::builder()
        .persist(dir.path("s.snap"), Duration::from_secs(3600))
        .build();
    // A new thread names itself once it runs.
    eventually("the persist thread to start", || persist_threads() >= 1);
    let before = persist_threads();
    drop(store);
    // Other tests in this binary may start or stop theirs meanwhile: look for ours to go.
    eventually("the persist thread to end", || persist_threads() < before);
}

// ---------------------------------------------------------------------------------------------
// The fuzz target's seed corpus

/// Writes the seed corpus of the `snapshot` fuzz target (snapshots made by `save`, each behind
/// a mode byte) into `$SKV_WRITE_FUZZ_CORPUS`; does nothing without it.
#[test]
#[ignore = "writes fuzz/corpus/snapshot when SKV_WRITE_FUZZ_CORPUS is set"]
fn write_fuzz_corpus() {
    let Ok(out) = std::env::var("SKV_WRITE_FUZZ_CORPUS") else {
        return;
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).unwrap();
    let dir = TempDir::new("corpus");
    let path = dir.path("s.snap");
    // Saved at test time 990 s; the fuzz target loads at 1000 s.
    let store = || clocked_at(Duration::from_secs(990)).0;
    let mut seeds: Vec<(&str, Store)> = Vec::new();
    seeds.push(("empty", store()));
    let scalars = store();
    for (i, v) in [
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(-7),
        Value::Float(-0.0),
        Value::Float(f64::from_bits(0x7ff8_0000_0000_0001)),
        Value::from("héllo"),
        Value::Bytes(vec![0xff, 0]),
    ]
    .into_iter()
    .enumerate()
    {
        scalars.set(&format!("k{i}"), v);
    }
    seeds.push(("scalars", scalars));
    let nested = store();
    nested.set(
        "doc",
        Value::from(BTreeMap::from([
            (
                "a".to_string(),
                Value::from(vec![Value::Int(1), Value::List(vec![])]),
            ),
            ("b".to_string(), Value::Dict(BTreeMap::new())),
            ("c".to_string(), Value::from(vec![Value::from("x")])),
        ])),
    );
    seeds.push(("nested", nested));
    let ttls = store();
    ttls.set_with_ttl("expires-before-the-load", 1, Duration::from_secs(5));
    ttls.set_with_ttl("expires-after-the-load", 2, Duration::from_secs(100));
    ttls.set("persistent", 3);
    ttls.incr("counter", 4).unwrap();
    seeds.push(("ttls", ttls));
    let deep = store();
    deep.set(
        "deep",
        (0..200).fold(Value::Int(1), |v, i| {
            if i % 2 == 0 {
                Value::List(vec![v])
            } else {
                Value::Dict(BTreeMap::from([("k".to_string(), v)]))
            }
        }),
    );
    seeds.push(("deep", deep));
    let long = store();
    long.set(&"k".repeat(40), "long key");
    long.set("", "empty key");
    seeds.push(("keys", long));
    for (name, s) in seeds {
        s.save(&path).unwrap();
        let file = std::fs::read(&path).unwrap();
        for mode in [0u8, 1] {
            let mut seed = vec![mode];
            seed.extend_from_slice(&file);
            std::fs::write(out.join(format!("{name}-{mode}")), seed).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Temporary files and the directory checked at build

/// Cleanup at build removes a temporary file only if its name is a save's, it starts with the
/// magic number, and nobody holds its lock (the saver is gone), never by process id: a live
/// saver's file (locked; here under a pid no process has, as a saver in another PID namespace
/// would look) and a user's file of a matching name are left alone.
#[test]
fn cleanup_removes_only_abandoned_temporary_files_of_a_save() {
    let dir = TempDir::new("cleanup");
    let path = dir.path("s.snap");
    let temp = |name: &str, contents: &[u8]| {
        let p = dir.path(name);
        std::fs::write(&p, contents).unwrap();
        p
    };
    let magic = b"SKVSNAP\0\x01\x00\x00\x00 and a partial snapshot";
    temp(".s.snap.tmp-4000000001-0-0", magic); // abandoned: removed
    temp(".s.snap.tmp-1-22-333", magic); // abandoned (pid 1 lives, or not): removed
    let live = temp(".s.snap.tmp-4000000002-0-0", magic);
    let holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&live)
        .unwrap();
    holder.lock().unwrap(); // a saver alive elsewhere
    temp(".s.snap.tmp-4000000003-0-0", b"a user's notes"); // not a save's: kept
    temp(".s.snap.tmp-4000000004-0-0", b""); // empty: nothing proves it is a save's
    temp(".s.snap.tmp-4000000005-0-0x", magic); // not exactly a save's name
    temp(".s.snap.tmp-4000000006-0", magic); // not exactly a save's name
    temp(".other.snap.tmp-4000000007-0-0", magic); // another target's
    std::fs::create_dir(dir.path(".s.snap.tmp-4000000008-0-0")).unwrap();
    #[cfg(unix)]
    {
        let target = temp("elsewhere", magic);
        std::os::unix::fs::symlink(&target, dir.path(".s.snap.tmp-4000000009-0-0")).unwrap();
    }

    let store = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .try_build()
        .unwrap();
    let mut kept = vec![
        ".other.snap.tmp-4000000007-0-0",
        ".s.snap.tmp-4000000002-0-0",
        ".s.snap.tmp-4000000003-0-0",
        ".s.snap.tmp-4000000004-0-0",
        ".s.snap.tmp-4000000005-0-0x",
        ".s.snap.tmp-4000000006-0",
        ".s.snap.tmp-4000000008-0-0",
    ];
    if cfg!(unix) {
        kept.extend([".s.snap.tmp-4000000009-0-0", "elsewhere"]);
    }
    kept.sort_unstable();
    assert_eq!(dir.listing(), kept);
    drop(store);

    // The saver dies (its lock is released): the next build removes its file.
    drop(holder);
    let store = Store::builder()
        .persist(&path, Duration::from_secs(3600))
        .build();
    assert!(!live.exists(), "an abandoned file was kept");
    assert!(dir.path(".s.snap.tmp-4000000003-0-0").exists());
    drop(store);
}

/// A save and a cleanup running side by side never get in each other's way: every save
/// succeeds (its temporary file is never removed under it) and the result loads.
#[test]
fn saves_and_cleanups_racing_never_remove_a_live_temporary_file() {
    let dir = TempDir::new("cleanup-race");
    let path = dir.path("s.snap");
    // Big enough that a save takes a while (its temporary file is there for a cleanup to see).
    const KEYS: usize = 5_000;
    let store = Store::new();
    for i in 0..KEYS {
        store.set(&format!("k{i}"), Value::Bytes(vec![i as u8; 16]));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let cleaner = {
        let (stop, path) = (stop.clone(), path.clone());
        thread::spawn(move || {
            let mut builds = 0;
            while !stop.load(Ordering::Relaxed) || builds < 20 {
                if !path.exists() {
                    continue; // the first save is not done yet
                }
                // Each build cleans up beside `path`; saving is never left suspended.
                let s = Store::builder()
                    .persist(&path, Duration::from_secs(3600))
                    .background_cleanup(false)
                    .build();
                let st = s.persistence_status().unwrap();
                assert!(st.saving && st.last_error.is_none(), "{st:?}");
                drop(s); // nothing changed since its load: no save at the drop
                builds += 1;
            }
            builds
        })
    };
    for _ in 0..40 {
        assert_eq!(store.save(&path).unwrap(), KEYS);
    }
    stop.store(true, Ordering::Relaxed);
    let builds = cleaner.join().unwrap();
    assert!(builds >= 20);
    assert_eq!(Store::new().load(&path).unwrap(), KEYS);
}

#[test]
fn try_build_fails_when_saves_cannot_write_beside_the_path_and_names_it() {
    let dir = TempDir::new("try-build");
    let missing = dir.path("no-such-dir").join("s.snap");
    let file_as_dir = {
        std::fs::write(dir.path("a-file"), b"").unwrap();
        dir.path("a-file").join("s.snap")
    };
    for path in [&missing, &file_as_dir] {
        let seen: Arc<Mutex<Vec<Error>>> = Arc::default();
        let built = Store::builder()
            .persist(path, Duration::from_secs(3600))
            .on_persist_error({
                let seen = seen.clone();
                move |e| seen.lock().unwrap().push(e.clone())
            })
            .try_build();
        let err = built.expect_err("built into a directory nothing can be written to");
        assert!(
            matches!(&err, Error::Io { path: p, .. } if *p == path.display().to_string()),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(
            *seen.lock().unwrap(),
            std::slice::from_ref(&err),
            "reported to the callback"
        );

        // `build` cannot fail: it reports the same error at once, and goes on.
        let store = Store::builder()
            .persist(path, Duration::from_secs(3600))
            .build();
        let st = store.persistence_status().unwrap();
        assert!(st.failing, "{st:?}");
        assert_eq!(st.last_error.map(|(_, e)| e), Some(err.clone()));
        assert_eq!((st.failures, store.stats().save_failures), (0, 0));
        store.set("k", 1);
        assert_eq!(store.get("k"), Some(Value::Int(1)));
    }

    // A snapshot path that cannot be read (a directory): saving would be suspended.
    let unreadable = dir.path("a-dir.snap");
    std::fs::create_dir(&unreadable).unwrap();
    let err = Store::builder()
        .persist(&unreadable, Duration::from_secs(3600))
        .try_build()
        .expect_err("an unreadable snapshot");
    assert!(matches!(&err, Error::Io { .. }), "{err:?}");

    // A writable directory: built, with the file loaded.
    let good = dir.path("s.snap");
    let store = Store::new();
    store.set("k", 7);
    store.save(&good).unwrap();
    let store = Store::builder()
        .persist(&good, Duration::from_secs(3600))
        .try_build()
        .unwrap();
    assert_eq!(store.get("k"), Some(Value::Int(7)));
    let st = store.persistence_status().unwrap();
    assert!(!st.failing && st.last_error.is_none() && st.loaded == Some(1));
    // The check left nothing behind.
    assert_eq!(dir.listing(), ["a-dir.snap", "a-file", "s.snap"]);
}
