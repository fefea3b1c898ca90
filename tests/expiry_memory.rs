//! Expiry memory is `O(keys with a TTL)`, not `O(TTL updates)`: refreshing one key's TTL
//! millions of times (the session-store pattern) leaves a constant number of schedule records and
//! does not grow the process; refreshing many keys leaves about one record per key.
//!
//! Its own test binary with a single test, so that the process RSS it measures is its own.

use std::time::{Duration, Instant};

use scriptling_kv::{Store, TestClock};

/// Refreshes of the single key.
const REFRESHES: u64 = 3_000_000;
/// Records the single refreshed key may hold at once: its active record (README: "keeps at most
/// one expiry record"). Checked after every refresh.
const ONE_KEY_RECORD_BOUND: usize = 1;
/// RSS growth allowed over the 3M refreshes. 3M records would take at least 48 MB.
const RSS_GROWTH_BOUND: u64 = 16 << 20;

/// Resident set size of this process, from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

#[path = "support/clocked.rs"]
mod clocked;
use clocked::clocked as store;

/// The fixed TTL of the "equal TTLs" phases: short, so that on a moving clock the key's record
/// comes due at the periodic purges and is re-scheduled.
const FIXED_TTL: Duration = Duration::from_millis(100);

/// Refresh number `i` of `key`, alternating `expire` and `set_with_ttl`, in one of three shapes
/// of `REFRESHES / 3` refreshes each:
///
/// 0. the same TTL, clock standing still: every refresh has the same deadline;
/// 1. a TTL that grows with every refresh, clock standing still: later and later deadlines;
/// 2. the same TTL on a clock moving 1 µs per refresh (the session store): later and later
///    deadlines, and the key's record comes due at purges and is re-scheduled.
fn refresh(s: &Store, c: &TestClock, key: &str, i: u64) {
    let phase = i / (REFRESHES / 3);
    let ttl = match phase {
        1 => FIXED_TTL + Duration::from_nanos(i),
        _ => FIXED_TTL,
    };
    if phase >= 2 {
        c.advance(Duration::from_micros(1));
    }
    if i % 2 == 0 {
        assert!(s.expire(key, ttl), "refresh {i}: key vanished");
    } else {
        s.set_with_ttl(key, i64::try_from(i).unwrap(), ttl);
    }
}

#[test]
fn expiry_records_stay_bounded_by_keys_with_a_ttl() {
    // --- One key refreshed 3 million times. ---
    let (s, c) = store();
    s.set_with_ttl("session", 0, FIXED_TTL);
    // Warm up allocator and epoch state so the baseline is not the empty process.
    for i in 0..20_000 {
        refresh(&s, &c, "session", i);
    }
    let rss_before = rss_bytes();
    let t0 = Instant::now();
    let mut max_pending = 0;
    for i in 0..REFRESHES {
        refresh(&s, &c, "session", i);
        if i % 50_000 == 0 {
            assert_eq!(s.purge_expired(), 0, "refresh {i}: the live key was purged");
        }
        {
            let pending = s.__pending_expiry_records();
            max_pending = max_pending.max(pending);
            assert!(
                pending <= ONE_KEY_RECORD_BOUND,
                "refresh {i}: {pending} records pending for one key"
            );
        }
    }
    let rss_after = rss_bytes();
    let took = t0.elapsed();
    let growth = rss_after.saturating_sub(rss_before);
    eprintln!(
        "one key, {REFRESHES} refreshes in {took:?}: max {max_pending} records pending, \
         RSS {} -> {} KiB (+{} KiB)",
        rss_before >> 10,
        rss_after >> 10,
        growth >> 10
    );
    assert!(
        growth < RSS_GROWTH_BOUND,
        "RSS grew by {growth} bytes over {REFRESHES} refreshes of one key"
    );
    assert_eq!(s.len(), 1);
    // And the key still expires at its last deadline: the bounded records still cover it.
    c.advance(FIXED_TTL);
    assert_eq!(s.purge_expired(), 1);
    assert_eq!(s.__pending_expiry_records(), 0);
    drop(s);

    // --- 100k keys refreshed 30 times each. ---
    const KEYS: usize = 100_000;
    const ROUNDS: u64 = 30;
    const SLACK: usize = 64;
    let (s, c) = store();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("session:{i}")).collect();
    for k in &keys {
        s.set_with_ttl(k, 0, Duration::from_millis(50));
    }
    let mut max_pending = 0;
    let t0 = Instant::now();
    for round in 0..ROUNDS {
        for k in &keys {
            if round % 2 == 0 {
                assert!(s.expire(k, Duration::from_millis(50)));
            } else {
                s.set_with_ttl(k, i64::try_from(round).unwrap(), Duration::from_millis(50));
            }
        }
        // 10 ms per round: from round 5 on, every key's first record comes due at each purge
        // and is re-scheduled to the key's current deadline.
        c.advance(Duration::from_millis(10));
        assert_eq!(s.purge_expired(), 0, "round {round}");
        let pending = s.__pending_expiry_records();
        max_pending = max_pending.max(pending);
        assert!(
            pending <= KEYS + SLACK,
            "round {round}: {pending} records pending for {KEYS} keys"
        );
    }
    eprintln!(
        "{KEYS} keys x {ROUNDS} refreshes in {:?}: max {max_pending} records pending",
        t0.elapsed()
    );
    assert_eq!(s.len(), KEYS);
    c.advance(Duration::from_millis(50));
    assert_eq!(s.purge_expired(), KEYS);
    assert!(s.is_empty());
    assert_eq!(s.__pending_expiry_records(), 0);
}
