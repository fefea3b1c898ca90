//! A hierarchical timing wheel: which records come due when.
//!
//! # Records carry no tick
//!
//! A record is only its item (for the expiry engine, an `Arc<Entry>`: 8 bytes). Where the wheel
//! stores it says when it is due: a level-0 slot holds one tick, so its records are handed out
//! with that tick; a slot of a higher level spans a range of ticks, and when it is emptied each
//! record is asked for its tick ([`Record::due_tick`]) and placed again at that tick. A record
//! whose tick is no longer in its slot's range (or that has none) is *stale* and dropped: the
//! expiry engine's records are hints about an entry's `scheduled` tick, and every change of that
//! tick to a value outside the range comes with a record of its own (`engine::expiry`, "Records
//! carry no tick"). The overflow heap keeps each record's tick beside it (it orders by it), and
//! a record leaves the heap only if its tick is still the one it was stored with.
//!
//! This is a plain single-owner data structure (no atomics, no `unsafe`): the expiry engine
//! (`engine::expiry`) keeps it behind a mutex that only the cleaner or a `purge_expired` caller takes,
//! so writers never touch it and readers never wait for it.
//!
//! # Layout
//!
//! Time is counted in *ticks* (the expiry engine uses 2^20 ns, about 1.05 ms). The wheel has
//! [`LEVELS`] levels of [`SLOTS`] = 64 slots. A slot of level `l` spans `64^l` ticks, so level
//! `l` as a whole spans `64^(l+1)` ticks: level 0 has one slot per tick for the next 64 ticks,
//! level 1 one slot per 64 ticks for the next 4096, ..., level 5 about 2.2 years at 1 ms per tick.
//! Records further out wait in an overflow heap ordered by tick; an advance looks only at its
//! earliest record, and moves records into the wheel only once they fit in it, so a record parked
//! far out (a TTL of `Duration::MAX`) costs nothing per advance.
//!
//! `elapsed` is the wheel's notion of now: every record with `tick < elapsed` has been handed
//! out. A record with tick `t >= elapsed` is stored at the level of the most significant 6-bit
//! group in which `t` and `elapsed` differ (level 0 if they are equal), in slot
//! `(t >> 6l) & 63`. Above that group `t` and `elapsed` agree, so within its level the record's
//! slot is at or after the slot `elapsed` is in: no record is ever "behind" the wheel.
//!
//! # Advancing
//!
//! `advance(through)` hands out every record with `tick <= through`. It repeatedly finds the
//! occupied slot with the earliest start (per level: one mask and one `trailing_zeros` over a
//! 64-bit occupancy word) and, while that start is `<= through`, empties it: a level-0 slot's
//! records are due (every record in it has exactly that tick); a higher slot's records are
//! re-inserted relative to the slot's start (they cascade to lower levels). Then `elapsed`
//! becomes `through + 1`. Empty slots are skipped by the occupancy words, so an advance costs
//! `O(levels × slots visited + records moved)`: proportional to what came due (plus at most
//! `LEVELS - 1` cascades per record over its life), not to what the wheel holds. Records
//! whose slot starts after `through` are not touched.
//!
//! The `elapsed` jump keeps the invariant: for any stored record, `elapsed <= start of its
//! slot <= t`, and a number between two numbers that share a bit prefix shares it too, so `t`
//! and the new `elapsed` still agree above the record's level.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What the wheel asks of a record when it moves it between levels: the tick it is due at now,
/// or `None` if it is due at no tick any more (stale: dropped).
pub(crate) trait Record {
    fn due_tick(&self) -> Option<u64>;
}

/// Number of levels.
pub(crate) const LEVELS: usize = 6;
/// Slots per level.
pub(crate) const SLOTS: usize = 64;
const BITS: u32 = 6;

#[derive(Debug)]
struct Level<T> {
    /// Bit `s` set iff `slots[s]` is non-empty.
    occupied: u64,
    slots: Vec<Vec<T>>,
}

impl<T> Level<T> {
    fn new() -> Self {
        Level {
            occupied: 0,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
        }
    }
}

/// A hierarchical timing wheel of records `T`, each with an absolute tick.
#[derive(Debug)]
pub(crate) struct Wheel<T> {
    /// Every record with a tick below this has been handed out.
    elapsed: u64,
    levels: Vec<Level<T>>,
    /// Records too far in the future for the top level, earliest first.
    overflow: BinaryHeap<Far<T>>,
    len: usize,
    /// Records moved out of the overflow heap (tests of its cost).
    #[cfg_attr(not(test), allow(dead_code))]
    overflow_moves: usize,
    /// Stale records dropped when their slot was emptied (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    stale: usize,
}

/// An overflow record, ordered by tick, earliest first (the heap is a max-heap).
#[derive(Debug)]
struct Far<T>(u64, T);

impl<T> PartialEq for Far<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T> Eq for Far<T> {}

impl<T> PartialOrd for Far<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Far<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0)
    }
}

impl<T: Record> Wheel<T> {
    /// An empty wheel whose time is `elapsed`.
    pub(crate) fn new(elapsed: u64) -> Self {
        Wheel {
            elapsed,
            levels: (0..LEVELS).map(|_| Level::new()).collect(),
            overflow: BinaryHeap::new(),
            len: 0,
            overflow_moves: 0,
            stale: 0,
        }
    }

    /// Records stored.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The wheel's time: every record with a smaller tick has been handed out.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Stores `item` to come due at `tick`. A tick already passed (`< elapsed`) is due now: the
    /// item is handed back as `Err`.
    pub(crate) fn insert(&mut self, tick: u64, item: T) -> Result<(), T> {
        if tick < self.elapsed {
            return Err(item);
        }
        let diff = tick ^ self.elapsed;
        let level = if diff == 0 {
            0
        } else {
            ((63 - diff.leading_zeros()) / BITS) as usize
        };
        if level >= LEVELS {
            self.overflow.push(Far(tick, item));
        } else {
            let slot = ((tick >> (BITS as usize * level)) & (SLOTS as u64 - 1)) as usize;
            let lvl = &mut self.levels[level];
            lvl.slots[slot].push(item);
            lvl.occupied |= 1 << slot;
        }
        self.len += 1;
        Ok(())
    }

    /// The ticks a slot of `level` spans: `(first, last)`. For a slot at or after the one
    /// `elapsed` is in (every occupied slot is).
    fn span(&self, level: usize, slot: usize) -> (u64, u64) {
        let shift = BITS as usize * level;
        let span = BITS as usize * (level + 1);
        let base = if span >= 64 {
            0
        } else {
            self.elapsed & !((1u64 << span) - 1)
        };
        let start = base + ((slot as u64) << shift);
        (start, start + ((1u64 << shift) - 1))
    }

    /// Keeps only the records for which `keep(first, last, item)` is true, where `first..=last`
    /// are the ticks the record's place in the wheel stands for (one tick at level 0 and in the
    /// overflow heap). `O(records)`.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(u64, u64, &T) -> bool) {
        for l in 0..LEVELS {
            for s in 0..SLOTS {
                if self.levels[l].slots[s].is_empty() {
                    continue;
                }
                let (first, last) = self.span(l, s);
                let lvl = &mut self.levels[l];
                let slot = &mut lvl.slots[s];
                let before = slot.len();
                slot.retain(|item| keep(first, last, item));
                self.len -= before - slot.len();
                if slot.is_empty() {
                    lvl.occupied &= !(1u64 << s);
                    // Give the memory back: a compaction follows a pile-up.
                    *slot = Vec::new();
                }
            }
        }
        let before = self.overflow.len();
        self.overflow
            .retain(|Far(tick, item)| keep(*tick, *tick, item));
        self.len -= before - self.overflow.len();
    }

    /// The earliest occupied slot: `(start tick, level, slot)`.
    fn earliest(&self) -> Option<(u64, usize, usize)> {
        let mut best: Option<(u64, usize, usize)> = None;
        for (l, lvl) in self.levels.iter().enumerate() {
            if lvl.occupied == 0 {
                continue;
            }
            let shift = BITS as usize * l;
            let cur = (self.elapsed >> shift) & (SLOTS as u64 - 1);
            debug_assert_eq!(
                lvl.occupied & ((1u64 << cur) - 1),
                0,
                "a record behind the wheel at level {l}"
            );
            let ahead = lvl.occupied & (u64::MAX << cur);
            if ahead == 0 {
                continue;
            }
            let slot = ahead.trailing_zeros() as usize;
            let (start, _) = self.span(l, slot);
            if best.is_none_or(|(b, _, _)| start < b) {
                best = Some((start, l, slot));
            }
        }
        best
    }

    /// Hands out (appends to `out`, with its tick) every record due at a tick `<= through`, in no
    /// particular order, and moves the wheel's time to `through + 1`; drops the stale records it
    /// meets on the way (module docs). Does nothing to time if `through` is already behind it.
    pub(crate) fn advance(&mut self, through: u64, out: &mut Vec<(u64, T)>) {
        while let Some((start, level, slot)) = self.earliest() {
            if start > through {
                break;
            }
            let lvl = &mut self.levels[level];
            lvl.occupied &= !(1u64 << slot);
            let records = std::mem::take(&mut lvl.slots[slot]);
            self.len -= records.len();
            self.elapsed = self.elapsed.max(start);
            if level == 0 {
                out.extend(records.into_iter().map(|item| (start, item)));
            } else {
                // Re-inserted at its tick now, each lands at a lower level (the slot's start is
                // the wheel's time now, and the tick is in the slot's range).
                let (_, last) = self.span(level, slot);
                for item in records {
                    match item.due_tick() {
                        Some(tick)
                            if (start..=last).contains(&tick) && !mutant::cascade_drops_all() =>
                        {
                            if let Err(item) = self.insert(tick, item) {
                                out.push((tick, item));
                            }
                        }
                        _ => self.stale += 1,
                    }
                }
            }
        }
        self.elapsed = self.elapsed.max(through.saturating_add(1));
        // Overflow records that are now due, or that the wheel can now hold (their tick agrees
        // with the wheel's time above the top level), leave the heap, earliest first; the rest
        // are not touched, so they cost nothing per advance.
        while let Some(Far(tick, _)) = self.overflow.peek() {
            let fits = (tick ^ self.elapsed) >> (BITS as usize * LEVELS) == 0;
            if *tick > through && !fits {
                break;
            }
            let Far(tick, item) = self.overflow.pop().expect("peeked");
            self.len -= 1;
            self.overflow_moves += 1;
            if item.due_tick() != Some(tick) {
                self.stale += 1;
                continue;
            }
            if let Err(item) = self.insert(tick, item) {
                out.push((tick, item));
            }
        }
    }

    /// Records moved out of the overflow heap so far (tests of its cost).
    #[cfg(test)]
    pub(crate) fn overflow_moves(&self) -> usize {
        self.overflow_moves
    }

    /// Stale records dropped so far (tests).
    #[cfg(test)]
    pub(crate) fn stale(&self) -> usize {
        self.stale
    }
}

/// The mutation hook of `scripts/mutants-native.sh` in the wheel (see `engine::entry`, `mod
/// mutant`).
mod mutant {
    /// Mutant `cascade_drops_all`: every record of a slot that spans many ticks is taken for
    /// stale when the slot is emptied.
    #[inline]
    pub(super) fn cascade_drops_all() -> bool {
        cfg!(scriptling_kv_mutant = "cascade_drops_all")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;

    /// A test record: an id, and the tick it is due at (changeable, as an entry's is).
    #[derive(Debug, PartialEq, Eq)]
    struct Rec {
        id: u64,
        tick: Cell<Option<u64>>,
    }

    impl Record for Rec {
        fn due_tick(&self) -> Option<u64> {
            self.tick.get()
        }
    }

    fn rec(tick: u64, id: u64) -> Rec {
        Rec {
            id,
            tick: Cell::new(Some(tick)),
        }
    }

    /// Inserts a record due at `tick`.
    fn put(w: &mut Wheel<Rec>, tick: u64, id: u64) -> Result<(), u64> {
        w.insert(tick, rec(tick, id)).map_err(|r| r.id)
    }

    fn drain(w: &mut Wheel<Rec>, through: u64) -> Vec<u64> {
        let mut out = Vec::new();
        w.advance(through, &mut out);
        assert!(
            out.iter().all(|(t, r)| r.due_tick() == Some(*t)),
            "handed out at its tick"
        );
        let mut items: Vec<u64> = out.into_iter().map(|(_, r)| r.id).collect();
        items.sort_unstable();
        items
    }

    #[test]
    fn records_come_due_at_their_tick_across_every_level_boundary() {
        let span = |l: u32| 64u64.pow(l);
        let mut ticks = vec![0, 1, 63, 64, 65, 4095, 4096, 4097];
        for l in 1..=7 {
            ticks.extend([span(l) - 1, span(l), span(l) + 1]);
        }
        ticks.push(u64::MAX >> 20);
        let mut w = Wheel::new(0);
        for &t in &ticks {
            put(&mut w, t, t).unwrap();
        }
        assert_eq!(w.len(), ticks.len());
        let mut sorted = ticks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let mut seen = Vec::new();
        for &t in &sorted {
            if t > 0 {
                assert_eq!(
                    drain(&mut w, t - 1),
                    Vec::<u64>::new(),
                    "nothing early at {t}"
                );
            }
            let due = drain(&mut w, t);
            assert!(due.iter().all(|&d| d == t), "{due:?} at {t}");
            seen.extend(due);
        }
        seen.sort_unstable();
        let mut expect = ticks;
        expect.sort_unstable();
        assert_eq!(seen, expect);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn retain_drops_records_everywhere_and_keeps_the_rest_due() {
        let far = 64u64.pow(6) * 2;
        let mut w = Wheel::new(0);
        for t in [1, 70, 5000, 300_000, far] {
            put(&mut w, t, t).unwrap();
            put(&mut w, t, t + 1).unwrap();
        }
        w.retain(|first, last, r| {
            let tick = r.due_tick().unwrap();
            assert!(first <= tick && tick <= last, "{tick} in {first}..={last}");
            r.id % 2 == 0 || r.id == 1
        });
        assert_eq!(w.len(), 6);
        assert_eq!(drain(&mut w, far), vec![1, 2, 70, 5000, 300_000, far]);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn a_passed_tick_is_due_at_once() {
        let mut w = Wheel::new(0);
        assert!(drain(&mut w, 100).is_empty());
        assert_eq!(w.elapsed(), 101);
        assert_eq!(put(&mut w, 100, 7), Err(7));
        assert_eq!(put(&mut w, 101, 8), Ok(()));
        assert_eq!(drain(&mut w, 101), vec![8]);
    }

    #[test]
    fn overflow_records_are_not_lost_by_a_big_jump() {
        let far = 64u64.pow(6) * 3 + 5;
        let mut w = Wheel::new(0);
        put(&mut w, far, far).unwrap();
        put(&mut w, far + 1, far + 1).unwrap();
        assert!(drain(&mut w, far - 1).is_empty());
        assert_eq!(drain(&mut w, far + 10), vec![far, far + 1]);
    }

    #[test]
    fn far_records_cost_nothing_per_advance_until_the_wheel_can_hold_them() {
        let span = 64u64.pow(6);
        let mut w = Wheel::new(0);
        // A thousand records parked far out (a TTL of `Duration::MAX` is ~2^38 ticks).
        for i in 0..1000u64 {
            put(&mut w, (1 << 38) + i, i).unwrap();
        }
        put(&mut w, 3 * span + 7, 5000).unwrap();
        for through in (0..10_000u64).map(|i| i * 97) {
            assert!(drain(&mut w, through).is_empty());
        }
        assert_eq!(w.overflow_moves(), 0, "advances must not touch far records");
        // Once the wheel's time comes within a top-level span, that record moves in, alone.
        assert!(drain(&mut w, 3 * span - 2).is_empty());
        assert_eq!(w.overflow_moves(), 0);
        assert!(drain(&mut w, 3 * span - 1).is_empty());
        assert_eq!(w.overflow_moves(), 1);
        assert_eq!(drain(&mut w, 3 * span + 7), vec![5000]);
        assert_eq!(w.len(), 1000);
        assert_eq!(drain(&mut w, (1 << 38) + 999).len(), 1000);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn a_record_moved_within_its_slot_comes_due_at_its_new_tick() {
        // Level 2 slot 1 spans ticks 4096..=8191.
        let mut w = Wheel::new(0);
        w.insert(8000, rec(8000, 1)).unwrap();
        w.insert(8000, rec(8000, 2)).unwrap();
        w.retain(|first, last, _| {
            assert_eq!((first, last), (4096, 8191));
            true
        });
        // Both move earlier, still inside the range; then only one of them is due there.
        let moved = |w: &mut Wheel<Rec>, id: u64, to: Option<u64>| {
            w.retain(|_, _, r| {
                if r.id == id {
                    r.tick.set(to);
                }
                true
            })
        };
        moved(&mut w, 1, Some(5000));
        moved(&mut w, 2, Some(4500));
        assert!(drain(&mut w, 4499).is_empty());
        assert_eq!(drain(&mut w, 4500), vec![2]);
        assert!(drain(&mut w, 4999).is_empty());
        assert_eq!(drain(&mut w, 5000), vec![1]);
        assert_eq!((w.len(), w.stale()), (0, 0));
    }

    #[test]
    fn stale_records_are_dropped_when_their_slot_is_emptied() {
        let far = 64u64.pow(6) * 2 + 3;
        let mut w = Wheel::new(0);
        w.insert(8000, rec(8000, 1)).unwrap(); // level 2: range 4096..=8191
        w.insert(8000, rec(8000, 2)).unwrap();
        w.insert(8000, rec(8000, 3)).unwrap();
        w.insert(far, rec(far, 4)).unwrap(); // overflow
        w.insert(far, rec(far, 5)).unwrap();
        w.retain(|_, _, r| {
            match r.id {
                1 => r.tick.set(Some(4095)), // moved before the range: another record covers it
                2 => r.tick.set(Some(9000)), // moved after it
                3 => r.tick.set(None),       // due at no tick any more
                4 => r.tick.set(Some(far - 1)),
                _ => {}
            }
            true
        });
        assert!(drain(&mut w, 10_000).is_empty());
        assert_eq!(w.stale(), 3);
        assert_eq!(drain(&mut w, far), vec![5]);
        assert_eq!((w.len(), w.stale()), (0, 4));
    }

    proptest! {
        #[test]
        fn hands_out_exactly_the_due_records(
            start in 0u64..1 << 40,
            ops in prop::collection::vec((0u64..1 << 26, any::<bool>()), 1..200),
        ) {
            let mut w = Wheel::new(start);
            let mut now = start;
            let mut pending: Vec<u64> = Vec::new();
            for (i, (delta, is_insert)) in ops.into_iter().enumerate() {
                if is_insert {
                    let t = now + delta;
                    let id = (t << 8) | (i as u64 & 0xff);
                    prop_assert!(put(&mut w, t, id).is_ok());
                    pending.push(id);
                } else {
                    let through = now + (delta >> (delta % 20));
                    let mut out = Vec::new();
                    w.advance(through, &mut out);
                    prop_assert!(out.iter().all(|(t, r)| *t == r.id >> 8));
                    let mut got: Vec<u64> = out.into_iter().map(|(_, r)| r.id).collect();
                    got.sort_unstable();
                    let mut want: Vec<u64> =
                        pending.iter().copied().filter(|id| id >> 8 <= through).collect();
                    want.sort_unstable();
                    pending.retain(|id| id >> 8 > through);
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(w.len(), pending.len());
                    now = through + 1;
                }
            }
        }
    }
}
