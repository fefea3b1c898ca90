//! The expiry engine, deterministically, on a `TestClock`: keys expire at exactly their deadline
//! across every timing-wheel boundary (sub-tick, one tick, each of the six levels, the overflow
//! list, `Duration::MAX`); stale schedule records never remove a key that was re-set, persisted,
//! extended, deleted and re-created; purge counts are exact. One test runs the real background
//! cleaner on the real clock.
//!
//! A tick is 2^20 ns; the wheel has 6 levels of 64 slots (level `l` slots span `64^l` ticks),
//! and deadlines beyond `64^6` ticks (about 2.2 years) wait in an overflow list.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scriptling_kv::{Store, TestClock, Ttl, Value};

/// Nanoseconds per wheel tick.
const TICK: u64 = 1 << 20;
/// Where deadlines (and the clock) saturate: about 292 years, `2^63 - 2` ns (`2^63 - 1` means
/// "no expiry" inside the store).
const MAX_DEADLINE: u64 = (u64::MAX >> 1) - 1;

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

fn ticks(n: u64) -> u64 {
    n * TICK
}

/// `64^level` ticks in nanoseconds: the span of one slot of `level`.
fn level_span(level: u32) -> u64 {
    ticks(64u64.pow(level))
}

#[path = "support/clocked.rs"]
mod clocked;
use clocked::clocked as store;

/// Moves `clock` forward to `t` ns (which must not be behind it).
fn advance_to(clock: &TestClock, t: u64) {
    let now = u64::try_from(clock.elapsed().as_nanos()).unwrap();
    assert!(t >= now, "advance_to({t}) from {now}");
    clock.advance(ns(t - now));
}

fn now_of(clock: &TestClock) -> u64 {
    u64::try_from(clock.elapsed().as_nanos()).unwrap()
}

/// The deadline the contract gives a TTL set at `now`: `now + ttl`, saturating.
fn deadline_of(now: u64, ttl: Duration) -> u64 {
    assert!(!ttl.is_zero());
    let sum = u128::from(now) + ttl.as_nanos();
    u64::try_from(sum.min(u128::from(MAX_DEADLINE))).unwrap()
}

/// The TTLs tried against every boundary, with a name for failure messages.
fn boundary_ttls() -> Vec<(String, Duration)> {
    let mut v: Vec<(String, Duration)> = vec![
        ("1 ns".into(), ns(1)),
        ("1 µs".into(), Duration::from_micros(1)),
        ("1 tick - 1 ns".into(), ns(TICK - 1)),
        ("1 tick".into(), ns(TICK)),
        ("1 tick + 1 ns".into(), ns(TICK + 1)),
        ("63 ticks".into(), ns(ticks(63))),
        ("64 ticks".into(), ns(ticks(64))),
        ("65 ticks".into(), ns(ticks(65))),
    ];
    for level in 2..=6 {
        let span = level_span(level);
        v.push((format!("64^{level} ticks - 1 tick"), ns(span - TICK)));
        v.push((format!("64^{level} ticks - 1 ns"), ns(span - 1)));
        v.push((format!("64^{level} ticks"), ns(span)));
        v.push((format!("64^{level} ticks + 1 ns"), ns(span + 1)));
        v.push((format!("64^{level} ticks + 1 tick"), ns(span + TICK)));
    }
    v.push((
        "3 x 64^6 ticks + 5 (overflow)".into(),
        ns(3 * level_span(6) + 5),
    ));
    v.push(("64^7 ticks (deep overflow)".into(), ns(level_span(7))));
    v.push(("Duration::MAX".into(), Duration::MAX));
    v
}

/// Clock readings a key is set at: the origin, unaligned, just before a level-3 boundary, and
/// deep into the wheel's time.
const STARTS: &[u64] = &[
    0,
    12_345,
    64 * 64 * 64 * TICK - 3,
    5 * 64 * 64 * 64 * 64 * 64 * TICK + 777,
];

/// Sets a key with `ttl` at `start` and checks it is live (and not purged) one ns before its
/// deadline and absent (and purged, exactly once) from the deadline on. With `purge_on_the_way`,
/// purges run at many earlier instants (so the record cascades down the wheel level by level);
/// without, one purge sees the whole jump.
fn check_exact_expiry(name: &str, start: u64, ttl: Duration, purge_on_the_way: bool) {
    let ctx = format!("ttl {name}, start {start}, purges on the way: {purge_on_the_way}");
    let (s, c) = store();
    c.advance(ns(start));
    s.set("bystander", 0);
    s.set_with_ttl("k", "v", ttl);
    let deadline = deadline_of(start, ttl);
    assert_eq!(s.ttl("k"), Ttl::Expires(ns(deadline - start)), "{ctx}");

    if purge_on_the_way {
        let mut points = vec![start + (deadline - start) / 2];
        for level in 0..=7 {
            let back = level_span(level);
            points.push(deadline.saturating_sub(back));
            points.push(deadline.saturating_sub(back + 1));
        }
        points.retain(|&p| p > start && p < deadline);
        points.sort_unstable();
        points.dedup();
        for p in points {
            advance_to(&c, p);
            assert_eq!(s.purge_expired(), 0, "{ctx}: purge at {p}");
            assert_eq!(s.get("k"), Some(Value::from("v")), "{ctx}: at {p}");
        }
    }

    advance_to(&c, deadline - 1);
    assert_eq!(s.get("k"), Some(Value::from("v")), "{ctx}: 1 ns before");
    assert_eq!(s.ttl("k"), Ttl::Expires(ns(1)), "{ctx}: 1 ns before");
    assert_eq!(s.purge_expired(), 0, "{ctx}: purge 1 ns before");
    assert_eq!(s.len(), 2, "{ctx}");

    advance_to(&c, deadline);
    // Absent from the deadline on, before any purge.
    assert_eq!(s.get("k"), None, "{ctx}: at the deadline");
    assert!(!s.exists("k"), "{ctx}");
    assert_eq!(s.ttl("k"), Ttl::Missing, "{ctx}");
    assert_eq!(s.keys("*").unwrap(), ["bystander"], "{ctx}");
    assert_eq!(s.len(), 2, "{ctx}: held until purged");
    assert_eq!(s.purge_expired(), 1, "{ctx}: purge at the deadline");
    assert_eq!(s.len(), 1, "{ctx}");
    assert_eq!(s.purge_expired(), 0, "{ctx}: second purge");
    assert_eq!(s.__pending_expiry_records(), 0, "{ctx}: records left");
    assert_eq!(s.get("bystander"), Some(Value::Int(0)), "{ctx}");
}

#[test]
fn expires_exactly_at_the_deadline_across_every_wheel_boundary() {
    for (name, ttl) in boundary_ttls() {
        for &start in STARTS {
            check_exact_expiry(&name, start, ttl, false);
            check_exact_expiry(&name, start, ttl, true);
        }
    }
}

#[test]
fn purge_after_the_deadline_removes_it_too() {
    for (name, ttl) in boundary_ttls() {
        let (s, c) = store();
        s.set_with_ttl("k", 1, ttl);
        let deadline = deadline_of(0, ttl);
        // Well past the deadline (saturating at the clock's end for `Duration::MAX`).
        c.advance(ns(deadline.saturating_add(deadline / 3 + TICK * 70)));
        assert_eq!(s.get("k"), None, "{name}");
        assert_eq!(s.purge_expired(), 1, "{name}");
        assert!(s.is_empty(), "{name}");
    }
}

#[test]
fn zero_ttl_is_expired_at_once_and_leaves_no_record() {
    let (s, c) = store();
    s.set_with_ttl("k", 1, Duration::ZERO);
    assert_eq!(s.ttl("k"), Ttl::Missing);
    assert_eq!(s.len(), 0, "nothing held for the cleaner");
    assert_eq!(s.__pending_expiry_records(), 0, "nothing scheduled");
    c.advance(ns(level_span(7)));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.stats().expired, 0, "not an expiry by the store");
}

// ----------------------------------------------------------------------------------------------
// Stale records: a record scheduled for an old deadline must never remove the key's new state.

#[test]
fn stale_record_key_set_again_without_ttl() {
    let (s, c) = store();
    s.set_with_ttl("k", 1, Duration::from_millis(10));
    s.set("k", 2);
    c.advance(Duration::from_millis(10));
    assert_eq!(s.purge_expired(), 0);
    c.advance(Duration::from_secs(3600));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    assert_eq!(s.ttl("k"), Ttl::Persistent);
    assert_eq!(s.len(), 1);
}

#[test]
fn stale_record_key_persisted() {
    let (s, c) = store();
    s.set_with_ttl("k", 1, Duration::from_millis(10));
    assert!(s.persist("k"));
    c.advance(Duration::from_millis(10));
    assert_eq!(s.purge_expired(), 0);
    c.advance(Duration::from_secs(86_400));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("k"), Some(Value::Int(1)));
    assert_eq!(s.len(), 1);
}

#[test]
fn stale_record_key_removed_by_expire_zero_and_set_again() {
    let (s, c) = store();
    s.set_with_ttl("k", 1, Duration::from_millis(10));
    assert!(s.expire("k", Duration::ZERO), "a live key: removed, true");
    assert_eq!(s.ttl("k"), Ttl::Missing);
    s.set("k", 2);
    c.advance(Duration::from_secs(60));
    assert_eq!(s.purge_expired(), 0, "the old record removed the new key");
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    assert_eq!(s.stats().expired, 0);
}

#[test]
fn stale_record_ttl_extended_is_rescheduled_then_removed_at_the_new_deadline() {
    for extend_with_set in [false, true] {
        let (s, c) = store();
        s.set_with_ttl("k", 1, Duration::from_millis(10));
        if extend_with_set {
            s.set_with_ttl("k", 1, Duration::from_secs(5));
        } else {
            assert!(s.expire("k", Duration::from_secs(5)));
        }
        let new_deadline = 5_000_000_000;
        // The old record comes due and re-schedules the key.
        c.advance(Duration::from_millis(10));
        assert_eq!(s.purge_expired(), 0);
        c.advance(Duration::from_millis(500));
        assert_eq!(s.purge_expired(), 0);
        assert!(s.exists("k"));
        advance_to(&c, new_deadline - 1);
        assert_eq!(s.purge_expired(), 0);
        assert_eq!(s.get("k"), Some(Value::Int(1)));
        advance_to(&c, new_deadline);
        assert_eq!(s.get("k"), None);
        assert_eq!(s.purge_expired(), 1);
        assert!(s.is_empty());
        assert_eq!(s.__pending_expiry_records(), 0);
    }
}

#[test]
fn stale_record_ttl_shortened_is_removed_at_the_earlier_deadline() {
    for shorten_with_set in [false, true] {
        let (s, c) = store();
        s.set_with_ttl("k", 1, Duration::from_secs(3600));
        if shorten_with_set {
            s.set_with_ttl("k", 2, Duration::from_millis(10));
        } else {
            assert!(s.expire("k", Duration::from_millis(10)));
        }
        advance_to(&c, 10_000_000 - 1);
        assert_eq!(s.purge_expired(), 0);
        assert!(s.exists("k"));
        advance_to(&c, 10_000_000);
        assert!(!s.exists("k"));
        assert_eq!(s.purge_expired(), 1);
        assert!(s.is_empty());
        // The record for the old, later deadline finds nothing to do.
        c.advance(Duration::from_secs(3600));
        assert_eq!(s.purge_expired(), 0);
        assert_eq!(s.__pending_expiry_records(), 0);
    }
}

#[test]
fn stale_record_deleted_and_recreated_without_ttl() {
    let (s, c) = store();
    s.set_with_ttl("k", 1, Duration::from_millis(10));
    assert!(s.delete("k"));
    s.set("k", 2);
    c.advance(Duration::from_millis(10));
    assert_eq!(s.purge_expired(), 0);
    c.advance(Duration::from_secs(3600));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    assert_eq!(s.len(), 1);
}

#[test]
fn stale_record_deleted_and_recreated_with_a_later_ttl() {
    let (s, c) = store();
    s.set_with_ttl("k", 1, Duration::from_millis(10));
    assert!(s.delete("k"));
    s.set_with_ttl("k", 2, Duration::from_secs(1));
    c.advance(Duration::from_millis(10));
    assert_eq!(
        s.purge_expired(),
        0,
        "the old record must not remove the new key"
    );
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    advance_to(&c, 1_000_000_000 - 1);
    assert_eq!(s.purge_expired(), 0);
    advance_to(&c, 1_000_000_000);
    assert_eq!(s.purge_expired(), 1);
    assert!(s.is_empty());
}

#[test]
fn stale_record_cleared_and_recreated_with_a_later_ttl() {
    let (s, c) = store();
    s.set_with_ttl("k", 1, Duration::from_millis(10));
    s.clear();
    s.set_with_ttl("k", 2, Duration::from_secs(1));
    c.advance(Duration::from_millis(10));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    c.advance(Duration::from_secs(1));
    assert_eq!(s.purge_expired(), 1);
}

#[test]
fn stale_record_expired_then_set_again_before_the_purge() {
    let (s, c) = store();
    s.set_with_ttl("k", 1, Duration::from_millis(10));
    c.advance(Duration::from_millis(20));
    assert_eq!(s.get("k"), None);
    // Revives the held (expired, unpurged) entry with a new value and TTL.
    s.set_with_ttl("k", 2, Duration::from_secs(1));
    assert_eq!(s.len(), 1);
    assert_eq!(
        s.purge_expired(),
        0,
        "the key was set again after it expired"
    );
    assert_eq!(s.get("k"), Some(Value::Int(2)));
    c.advance(Duration::from_secs(1));
    assert_eq!(s.purge_expired(), 1);
}

#[test]
fn stale_record_same_ttl_set_many_times() {
    // Clock standing still: every write has the same deadline.
    let (s, c) = store();
    for i in 0..1000 {
        s.set_with_ttl("k", i, Duration::from_millis(10));
    }
    assert_eq!(s.__pending_expiry_records(), 1);
    advance_to(&c, 10_000_000 - 1);
    assert_eq!(s.purge_expired(), 0);
    advance_to(&c, 10_000_000);
    assert_eq!(s.purge_expired(), 1);
    assert_eq!(s.purge_expired(), 0);
    assert!(s.is_empty());

    // Clock moving between writes: the last write's deadline counts, and only it.
    let (s, c) = store();
    for i in 0..1000 {
        s.set_with_ttl("k", i, Duration::from_millis(10));
        c.advance(Duration::from_micros(100));
        if i % 100 == 0 {
            assert_eq!(s.purge_expired(), 0);
        }
    }
    assert!(s.__pending_expiry_records() <= 2);
    let deadline = 999 * 100_000 + 10_000_000;
    advance_to(&c, deadline - 1);
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("k"), Some(Value::Int(999)));
    advance_to(&c, deadline);
    assert_eq!(s.purge_expired(), 1);
    assert!(s.is_empty());
}

#[test]
fn incr_on_an_expiring_key_keeps_its_ttl_and_it_is_removed_at_its_deadline() {
    let (s, c) = store();
    s.set_with_ttl("n", 5, Duration::from_millis(10));
    c.advance(Duration::from_millis(4));
    assert_eq!(s.incr("n", 1), Ok(6));
    assert_eq!(s.ttl("n"), Ttl::Expires(Duration::from_millis(6)));
    c.advance(Duration::from_millis(5));
    assert_eq!(s.incr("n", 1), Ok(7));
    assert_eq!(s.purge_expired(), 0);
    advance_to(&c, 10_000_000 - 1);
    assert_eq!(s.get("n"), Some(Value::Int(7)));
    assert_eq!(s.purge_expired(), 0);
    advance_to(&c, 10_000_000);
    assert_eq!(s.get("n"), None);
    assert_eq!(s.purge_expired(), 1);
    assert!(s.is_empty());
}

#[test]
fn incr_on_an_expired_key_creates_a_persistent_key_that_purges_never_remove() {
    // Expired but still held (not purged yet): incr revives it in place.
    let (s, c) = store();
    s.set_with_ttl("n", 5, Duration::from_millis(10));
    c.advance(Duration::from_millis(10));
    assert_eq!(s.incr("n", 2), Ok(2));
    assert_eq!(s.ttl("n"), Ttl::Persistent);
    assert_eq!(s.len(), 1);
    assert_eq!(s.purge_expired(), 0);
    c.advance(Duration::from_secs(10 * 365 * 86_400));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("n"), Some(Value::Int(2)));

    // Expired and purged: incr creates a fresh entry.
    let (s, c) = store();
    s.set_with_ttl("n", "not an int", Duration::from_millis(10));
    c.advance(Duration::from_millis(10));
    assert_eq!(s.purge_expired(), 1);
    assert_eq!(s.incr("n", 3), Ok(3));
    c.advance(Duration::from_secs(3600));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.get("n"), Some(Value::Int(3)));
}

/// `delete` + `set_with_ttl` of one key, over and over (a cache invalidated and refilled), with
/// the cleaner's purges in between: the expiry records must stay `O(keys with a TTL)`, not grow
/// with the number of cycles. (Each re-created key is a new entry; the old entry's record must
/// not outlive it until its far deadline.)
fn check_recreate_cycles_stay_bounded(remove: impl Fn(&Store)) {
    const CYCLES: usize = 20_000;
    const PURGE_EVERY: usize = 1_000;
    let (s, _c) = store();
    for cycle in 0..CYCLES {
        remove(&s);
        s.set_with_ttl(
            "k",
            i64::try_from(cycle).unwrap(),
            Duration::from_secs(3600),
        );
        if cycle % PURGE_EVERY == PURGE_EVERY - 1 {
            assert_eq!(s.purge_expired(), 0);
        }
    }
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.len(), 1);
    let pending = s.__pending_expiry_records();
    assert!(
        pending <= 2 * PURGE_EVERY + 64,
        "{pending} expiry records pending for one key after {CYCLES} re-creations"
    );
}

#[test]
fn delete_and_recreate_cycles_do_not_accumulate_expiry_records() {
    check_recreate_cycles_stay_bounded(|s| {
        s.delete("k");
    });
}

#[test]
fn clear_and_recreate_cycles_do_not_accumulate_expiry_records() {
    check_recreate_cycles_stay_bounded(Store::clear);
}

/// Records carry no tick: a record's tick is its entry's, read when it is placed, so shortening a
/// TTL again and again inside one wide wheel slot (every deadline in the same level-3 slot, a
/// purge after every step, so each new record is drained next to the old ones) must neither
/// pile records up (each step's extra record is wasted; compaction keeps one per entry, past
/// `COMPACT_MIN` = 1,024 of them) nor remove the key early or late.
#[test]
fn shortening_a_ttl_inside_one_wide_slot_piles_up_no_records_and_expires_on_time() {
    const STEPS: u64 = 5_000;
    // Level 3 spans 2^18 ticks per slot: deadlines from tick 3 * 2^18 + 200,000 down by one tick
    // per step stay in slot 3 of level 3 (the wheel's time stays 0).
    let first = 3 * (1u64 << 18) + 200_000;
    let (s, c) = store();
    for key in ["a", "b"] {
        s.set_with_ttl(key, 0, ns(ticks(first)));
    }
    for step in 1..=STEPS {
        for key in ["a", "b"] {
            assert!(s.expire(key, ns(ticks(first - step))));
        }
        assert_eq!(s.purge_expired(), 0);
        let pending = s.__pending_expiry_records();
        assert!(
            pending <= 2 * 1024 + 64,
            "{pending} records pending for 2 keys after {step} shortenings"
        );
    }
    let (compactions, _) = s.__expiry_compactions();
    assert!(compactions >= 2, "only {compactions} compactions");
    let last = ticks(first - STEPS);
    advance_to(&c, last - 1);
    assert_eq!(s.purge_expired(), 0);
    assert!(s.exists("a") && s.exists("b"));
    advance_to(&c, last);
    assert!(!s.exists("a") && !s.exists("b"));
    assert_eq!(
        s.purge_expired(),
        2,
        "both removed at their last deadline, once each"
    );
    assert!(s.is_empty());
    c.advance(ns(ticks(first)));
    assert_eq!(s.purge_expired(), 0);
    assert_eq!(s.__pending_expiry_records(), 0);
}

// ----------------------------------------------------------------------------------------------
// Volume.

#[test]
fn fifty_thousand_keys_due_in_one_tick_are_removed_by_one_purge() {
    const N: usize = 50_000;
    let (s, c) = store();
    s.set("persistent", 1);
    for i in 0..N {
        // All deadlines inside tick 10: ten ticks plus 0..N ns (N < one tick).
        s.set_with_ttl(&format!("k{i}"), i as i64, ns(ticks(10) + i as u64));
    }
    assert_eq!(s.len(), N + 1);
    advance_to(&c, ticks(10) - 1);
    assert_eq!(s.purge_expired(), 0);
    advance_to(&c, ticks(11));
    assert_eq!(s.purge_expired(), N);
    assert_eq!(s.len(), 1);
    assert_eq!(s.keys("k*").unwrap(), Vec::<String>::new());
    assert_eq!(s.__pending_expiry_records(), 0);

    // Same again with the clock landing in the middle of the tick: exactly the due half goes now,
    // the rest (same tick, later deadline) at the next purge after their deadlines.
    let (s, c) = store();
    for i in 0..N {
        s.set_with_ttl(&format!("k{i}"), 0, ns(ticks(10) + i as u64));
    }
    let half = N as u64 / 2;
    advance_to(&c, ticks(10) + half - 1);
    assert_eq!(s.purge_expired(), N / 2);
    assert_eq!(s.len(), N / 2);
    assert_eq!(s.purge_expired(), 0);
    advance_to(&c, ticks(10) + N as u64 - 1);
    assert_eq!(s.purge_expired(), N / 2);
    assert!(s.is_empty());
}

/// TTLs spread log-uniformly from 1 ns to about 4 years (every wheel level and the overflow),
/// purged as the clock advances in random steps: each purge removes exactly the keys whose
/// deadlines passed since the previous one.
#[test]
fn keys_spread_over_every_level_are_purged_progressively() {
    for seed in [1u64, 2, 3] {
        let mut rng = StdRng::seed_from_u64(seed);
        let (s, c) = store();
        c.advance(ns(rng.random_range(0..ticks(64 * 64))));
        let start = now_of(&c);
        // deadline -> keys
        let mut pending: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for i in 0..3000 {
            let ttl = ns(2f64.powf(rng.random_range(0.0..57.0)) as u64).max(ns(1));
            let key = format!("k{i}");
            s.set_with_ttl(&key, i, ttl);
            pending
                .entry(deadline_of(start, ttl))
                .or_default()
                .push(key);
        }
        s.set_with_ttl("forever", 0, Duration::MAX);
        let mut held = 3001;
        let mut steps = 0;
        while !pending.is_empty() {
            steps += 1;
            let step = 2f64.powf(rng.random_range(0.0..54.0)) as u64;
            c.advance(ns(step));
            let now = now_of(&c);
            let due: Vec<u64> = pending.range(..=now).map(|(&d, _)| d).collect();
            let mut expect = 0;
            for d in due {
                let keys = pending.remove(&d).unwrap();
                for k in &keys {
                    assert_eq!(s.get(k), None, "seed {seed}: {k} (deadline {d}) at {now}");
                }
                expect += keys.len();
            }
            assert_eq!(
                s.len(),
                held,
                "seed {seed}: nothing removed before the purge"
            );
            assert_eq!(s.purge_expired(), expect, "seed {seed}: purge at {now}");
            held -= expect;
            assert_eq!(s.len(), held, "seed {seed}");
            if let Some((&d, keys)) = pending.first_key_value() {
                assert!(
                    s.exists(&keys[0]),
                    "seed {seed}: next due {d} still live at {now}"
                );
            }
        }
        assert!(steps > 20, "seed {seed}: only {steps} steps");
        assert_eq!(s.len(), 1);
        assert!(s.exists("forever"));
    }
}

// ----------------------------------------------------------------------------------------------
// The real background cleaner, on the real clock.

#[test]
fn background_cleaner_removes_expired_keys_eventually() {
    let s = Store::builder()
        .cleanup_interval(Duration::from_millis(5))
        .build();
    for i in 0..200 {
        s.set_with_ttl(&format!("short{i}"), i, Duration::from_millis(1));
    }
    s.set("keep", 1);
    s.set_with_ttl("long", 1, Duration::from_secs(3600));
    let give_up = Instant::now() + Duration::from_secs(5);
    while s.len() > 2 && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        s.len(),
        2,
        "the cleaner did not remove the expired keys within 5 s"
    );
    assert_eq!(s.keys("*").unwrap(), ["keep", "long"]);
    // The cleaner already removed them, so there is nothing left for a manual purge.
    assert_eq!(s.purge_expired(), 0);
}
