//! Unit tests of the entry cell and its slots.

use super::*;
use crate::engine::clock::TestClock;
use crate::engine::entry::slot::{spares, SPARES_MAX};
use crate::value::Value;
use std::time::Duration;

fn entry(v: i64, deadline: u64) -> Entry {
    Entry::new(
        Key::new("k"),
        Owned::new(Slot::new(Value::Int(v), deadline)),
    )
}

/// The `Arc<Entry>` allocation (two counts + the entry) stays within 64 bytes with an inline
/// key: a one-byte field once added here cost 8 bytes per key (298 -> 306 B/entry in the
/// memory bench), until it moved into the top bits of `scheduled`.
#[test]
fn an_entry_with_its_arc_counts_fits_in_64_bytes() {
    assert!(
        2 * std::mem::size_of::<usize>() + std::mem::size_of::<Entry>() <= 64,
        "Entry is {} bytes",
        std::mem::size_of::<Entry>()
    );
}

#[test]
fn queue_flags_and_the_scheduled_tick_share_a_word_without_disturbing_each_other() {
    let e = entry(0, NEVER);
    assert_eq!(e.scheduled_tick(), Entry::UNSCHEDULED);
    assert!(e.set_queued(crate::engine::evict::IN_TTL));
    assert!(!e.set_queued(crate::engine::evict::IN_TTL));
    assert_eq!(e.scheduled_tick(), Entry::UNSCHEDULED);
    e.scheduled.store(
        (e.scheduled.load(Ordering::SeqCst) & !Entry::TICK) | 12345,
        Ordering::SeqCst,
    );
    assert!(e.set_queued(crate::engine::evict::IN_PERSISTENT));
    assert_eq!(e.scheduled_tick(), 12345);
    e.clear_queued(crate::engine::evict::IN_TTL);
    assert_eq!(e.scheduled_tick(), 12345);
    assert!(e.set_queued(crate::engine::evict::IN_TTL));
    assert!(!e.set_queued(crate::engine::evict::IN_PERSISTENT));
}

#[test]
fn the_access_stamp_shares_the_word_with_tick_and_flags_and_wraps() {
    let e = entry(0, NEVER);
    assert!(e.set_queued(crate::engine::evict::IN_TTL));
    e.scheduled.store(
        (e.scheduled.load(Ordering::SeqCst) & !Entry::TICK) | 12345,
        Ordering::SeqCst,
    );
    e.touch(5);
    assert_eq!(e.age(7), 2);
    assert_eq!(e.scheduled_tick(), 12345);
    assert!(
        !e.set_queued(crate::engine::evict::IN_TTL),
        "the flag survived the stamp"
    );
    // The stamp is the clock's low 18 bits; ages are taken modulo 2^18.
    e.touch((1 << 18) - 1);
    assert_eq!(e.age(1 << 18), 1);
    assert_eq!(e.age((1 << 18) + 1), 2);
    // The largest real tick (deadlines are below 2^63) stays below the stamp bits.
    assert_eq!(
        (NEVER >> crate::engine::expiry::TICK_SHIFT) & !Entry::TICK,
        0
    );
    const { assert!(Entry::UNSCHEDULED > NEVER >> crate::engine::expiry::TICK_SHIFT) };
    assert_eq!(e.scheduled_tick(), 12345);
}

fn clock_at(nanos: u64) -> (TestClock, Clock) {
    let t = TestClock::new();
    t.advance(Duration::from_nanos(nanos));
    let c = t.clock();
    (t, c)
}

#[test]
fn retired_slots_are_reused_once_the_grace_period_is_over() {
    let e = entry(0, NEVER);
    let mut i = 0;
    // Other tests' threads share crossbeam's global queue and may run some of our deferred
    // functions (into their own spares), so keep retiring until this thread gets some.
    while spares::len() == 0 {
        i += 1;
        assert!(i < 100_000, "no retired slot came back as a spare");
        let g = crossbeam_epoch::pin();
        let cur = e.load(&g);
        e.replace(
            cur,
            Slot::boxed(Value::from(format!("v{i}")), NEVER),
            false,
            &g,
        )
        .unwrap();
        g.flush();
    }
    assert!(spares::len() <= SPARES_MAX);
    let before = spares::len();
    let g = crossbeam_epoch::pin();
    let cur = e.load(&g);
    let fresh = Slot::boxed(Value::from("reused"), 7);
    assert_eq!(
        spares::len(),
        before - 1,
        "a spare is taken before allocating"
    );
    e.replace(cur, fresh, false, &g).unwrap();
    let now = e.load(&g).slot().unwrap();
    assert_eq!(*now.value(), Value::from("reused"));
    assert_eq!(now.deadline(), 7);
}

#[test]
fn replace_succeeds_on_current_and_fails_on_stale() {
    let e = entry(1, NEVER);
    let g = crossbeam_epoch::pin();
    let s1 = e.load(&g);
    assert_eq!(*s1.slot().unwrap().value(), Value::Int(1));
    e.replace(s1, Owned::new(Slot::new(Value::Int(2), NEVER)), false, &g)
        .unwrap();
    let back = e
        .replace(s1, Owned::new(Slot::new(Value::Int(3), NEVER)), false, &g)
        .unwrap_err();
    assert_eq!(*back.value(), Value::Int(3));
    assert_eq!(*e.load(&g).slot().unwrap().value(), Value::Int(2));
    // The old slot is still readable under the guard that loaded it (sealed at 1).
    assert_eq!(*s1.slot().unwrap().value(), Value::Int(1));
}

#[test]
fn kill_is_permanent_and_only_from_the_inspected_slot() {
    let e = entry(1, 10);
    let g = crossbeam_epoch::pin();
    let s1 = e.load(&g);
    e.replace(s1, Owned::new(Slot::new(Value::Int(2), 20)), false, &g)
        .unwrap();
    assert!(
        !e.kill(s1, false, &g),
        "a stale slot must not kill the entry"
    );
    let s2 = e.load(&g);
    assert!(e.kill(s2, false, &g));
    assert!(e.load(&g).slot().is_none());
    assert!(e.kill_any(&g).is_none());
}

#[test]
fn liveness_is_deadline_strictly_after_the_reading() {
    let e = entry(1, 10);
    let g = crossbeam_epoch::pin();
    let (_t, c9) = clock_at(9);
    assert!(matches!(
        e.observe(&g, &c9),
        Observed::Live { now: Some(9), .. }
    ));
    let (_t, c10) = clock_at(10);
    assert!(matches!(e.observe(&g, &c10), Observed::Expired(..)));
    let p = entry(1, NEVER);
    assert!(matches!(
        p.observe(&g, &c10),
        Observed::Live { now: None, .. }
    ));
}

#[test]
fn seeing_a_slot_expired_marks_it_so_a_writer_that_judged_it_live_fails() {
    let e = entry(1, 10);
    let g = crossbeam_epoch::pin();
    let (t, clock) = clock_at(9);
    // A writer judges the key live at 9...
    let Observed::Live {
        cur, slot, word, ..
    } = e.observe(&g, &clock)
    else {
        panic!("live at 9");
    };
    // ...time passes and a reader sees it expired...
    t.advance(Duration::from_nanos(2));
    assert!(matches!(e.observe(&g, &clock), Observed::Expired(..)));
    // ...so neither an in-place change nor a replacement from what the writer saw lands.
    assert!(!slot.set_deadline(word, 100));
    assert!(e
        .replace(cur, Owned::new(Slot::new(Value::Int(2), 100)), false, &g)
        .is_err());
    assert!(!e.kill(cur, false, &g));
    // A write to the absent key replaces the marked slot.
    let Observed::Expired(marked) = e.observe(&g, &clock) else {
        panic!("still expired");
    };
    assert!(marked.is_marked());
    e.replace(
        marked,
        Owned::new(Slot::new(Value::Int(3), NEVER)),
        false,
        &g,
    )
    .unwrap();
    assert!(e.observe(&g, &clock).is_live());
}

#[test]
fn an_in_place_extension_before_the_mark_wins_and_the_marker_judges_again() {
    let e = entry(1, 10);
    let g = crossbeam_epoch::pin();
    let (_t, c11) = clock_at(11);
    let cur = e.load(&g);
    let slot = cur.slot().unwrap();
    let stale_word = slot.word.load(Ordering::Acquire);
    // The extension lands between a marker's load and its seal.
    assert!(slot.set_deadline(stale_word, 50));
    assert!(e.mark(cur, slot, deadline_of(stale_word), &g).is_none());
    // The slot stays unmarked and live (sealed, so the next in-place change must copy).
    assert!(!e.load(&g).is_marked());
    assert!(matches!(e.observe(&g, &c11), Observed::Live { .. }));
    assert!(!slot.set_deadline(slot.word.load(Ordering::Acquire), 60));
}

#[test]
fn into_slot_returns_the_unpublished_slot() {
    let e = entry(7, NEVER);
    assert_eq!(*e.into_slot().unwrap().value(), Value::Int(7));
}

#[test]
fn counters_add_in_place_until_sealed_and_big_ints_are_not_counters() {
    let s = Slot::new(Value::Int(5), NEVER);
    assert_eq!(s.add_in_place(2), Some(7));
    assert_eq!(s.add_in_place(-10), Some(-3));
    assert_eq!(*s.value(), Value::Int(-3));
    assert_eq!(
        s.add_in_place((1 << 62) + 5),
        None,
        "leaves the cell's range"
    );
    s.seal_value();
    assert_eq!(s.add_in_place(1), None, "sealed");
    assert_eq!(*s.value(), Value::Int(-3), "sealed value is kept");
    let big = Slot::new(Value::Int(i64::MAX), NEVER);
    assert_eq!(big.add_in_place(-1), None);
    assert_eq!(*big.value(), Value::Int(i64::MAX));
    let low = Slot::new(Value::Int(-(1 << 62)), NEVER);
    assert_eq!(*low.value(), Value::Int(-(1 << 62)));
    assert_eq!(low.add_in_place(1), Some(-(1 << 62) + 1));
    let text = Slot::new(Value::from("x"), NEVER);
    assert_eq!(text.add_in_place(1), None);
    assert_eq!(
        Slot::take_value(&mut Owned::new(low)),
        Value::Int(-(1 << 62) + 1)
    );
}

#[test]
fn replace_and_kill_seal_both_words_of_the_slot_they_remove() {
    let e = entry(1, 40);
    let g = crossbeam_epoch::pin();
    let s1 = e.load(&g);
    let w1 = s1.slot().unwrap().word.load(Ordering::Acquire);
    e.replace(s1, Owned::new(Slot::new(Value::Int(9), 40)), false, &g)
        .unwrap();
    assert_eq!(s1.slot().unwrap().add_in_place(1), None);
    assert!(!s1.slot().unwrap().set_deadline(w1, 80));
    let s2 = e.load(&g);
    let w2 = s2.slot().unwrap().word.load(Ordering::Acquire);
    assert!(e.kill(s2, false, &g));
    assert_eq!(s2.slot().unwrap().add_in_place(1), None);
    assert!(!s2.slot().unwrap().set_deadline(w2, 80));
}
