//! The write engine: every operation that changes a key goes through [`Inner::write`] (or, for a
//! blind store of a new value, [`Inner::put`]).
//!
//! # One step
//!
//! `write(key, decide)` loops:
//!
//! 1. find the key's entry in the table; [`Entry::observe`] it (the one liveness rule, which also
//!    marks a slot it sees expired, `engine::entry`);
//! 2. call `decide` with what it saw (a [`View`] of the live key, or `None`) and a lazy clock
//!    reading ([`Now`]; for a key with a deadline, the very reading its liveness was judged at);
//! 3. commit what `decide` asked for ([`Write`]) with one CAS that expects exactly what was
//!    observed:
//!    - [`Write::Expire`] on a live key: the slot's deadline word, in place (value untouched);
//!      if the word was sealed meanwhile (a replacement or a marker is under way, or a writer
//!      sealed it and did not write), the slot is replaced by a copy with the new deadline;
//!    - [`Write::Put`]: a new slot, by a CAS on the entry's slot pointer from the observed one
//!      (untagged if the key was judged live, so a mark in between makes it fail); for a missing
//!      key, a new entry through `insert_if_absent` (racing creators agree on one);
//!    - [`Write::Delete`]: the tombstone, by the same pointer CAS;
//!    - [`Write::None`] changes nothing.
//!
//!    If the CAS fails (somebody else wrote, or the key was seen expired), the whole step runs
//!    again from the table: `decide` may run more than once and must not have side effects.
//!
//! So each write is one linearizable step: it takes effect at its successful CAS, and the state it
//! decided on is the state at that instant, or (when time passed between the judgment and the
//! CAS) the state at the judgment, which nobody has contradicted: no operation can have returned
//! "expired" for the observed slot, because that would have marked it first.
//!
//! # Reading the value
//!
//! A counter's value lives in an atomic cell that `incr` changes in place. A decision that reads
//! the value ([`View::value`]) seals the cell first, so the value it read is final and no add is
//! lost between the read and the CAS. A decision that does not read the value (`expire`,
//! `persist`, `set_if_absent` on a live key) leaves counters in place.
//!
//! # Keeping the deadline
//!
//! A write that keeps the key's TTL ([`Deadline::Keep`]) copies the deadline into its new slot.
//! Before the pointer CAS it seals the old slot's deadline word and checks that the deadline is
//! the one it observed: an in-place `expire` that landed in between makes it start over instead
//! of being overwritten with the old deadline.

use std::cell::Cell;

use crossbeam_epoch::Owned;

use crate::engine::clock::{Clock, NEVER};
use crate::engine::core::Core;
use crate::engine::entry::{deadline_of, Current, Entry, Observed, Slot};
use crate::engine::key::Key;
use crate::engine::sync::Arc;
use crate::engine::table::Pin;
use crate::value::Value;

/// One clock reading, taken on first use and then reused, so that one attempt of a write judges
/// liveness and computes a new deadline at the same instant (and a write on a key without a TTL
/// that sets none never reads the clock).
pub(crate) struct Now<'c> {
    clock: &'c Clock,
    reading: Cell<Option<u64>>,
}

impl<'c> Now<'c> {
    pub(crate) fn new(clock: &'c Clock, reading: Option<u64>) -> Self {
        Now {
            clock,
            reading: Cell::new(reading),
        }
    }

    /// The reading (taken now if this attempt has none yet).
    pub(crate) fn get(&self) -> u64 {
        match self.reading.get() {
            Some(t) => t,
            None => {
                let t = self.clock.now();
                self.reading.set(Some(t));
                t
            }
        }
    }

    /// The deadline of a TTL argument starting at this reading: a zero TTL is expired at once
    /// ([`Deadline::Gone`]); any other is a deadline after the reading.
    pub(crate) fn ttl(&self, ttl: std::time::Duration) -> Deadline {
        if ttl.is_zero() {
            if mutant::zero_is_persistent() {
                // MUTANT `zero_is_persistent`: a zero TTL means no expiry, as it once did.
                return Deadline::At(NEVER);
            }
            Deadline::Gone
        } else {
            Deadline::At(Clock::deadline_after(self.get(), ttl))
        }
    }

    /// [`Now::ttl`] for an optional TTL: `None` is no expiry (and reads no clock).
    pub(crate) fn ttl_or_never(&self, ttl: Option<std::time::Duration>) -> Deadline {
        match ttl {
            None => Deadline::At(NEVER),
            Some(ttl) => self.ttl(ttl),
        }
    }
}

/// What a write decision sees of a live key.
pub(crate) struct View<'a> {
    slot: &'a Slot,
    deadline: u64,
}

impl View<'_> {
    /// The key's value. For a counter this seals its cell first, so the value is final for the
    /// rest of the attempt (module docs, "Reading the value").
    pub(crate) fn value(&self) -> std::borrow::Cow<'_, Value> {
        self.slot.seal_value();
        self.slot.value()
    }

    /// The key's deadline as observed ([`NEVER`] for none).
    pub(crate) fn deadline(&self) -> u64 {
        self.deadline
    }
}

/// The deadline a [`Write::Put`] or [`Write::Expire`] installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// The key's current deadline (none if the key is not live).
    Keep,
    /// This one.
    At(u64),
    /// Expired at once (a zero TTL argument): the value is never installed, so no reader ever
    /// sees it. A `Put` with it is a `Delete` (a user's removal, not an expiry: no listener call,
    /// no `expired` count); an `Expire` with it deletes a live key and changes nothing on a key
    /// that is not live ([`Write::settle`]).
    Gone,
}

/// What a write decided (module docs).
pub(crate) enum Write {
    /// Change nothing.
    None,
    /// Store this value with this deadline.
    Put(Value, Deadline),
    /// Change only the deadline (a live key only; nothing on a missing one).
    Expire(Deadline),
    /// Remove the key (a no-op on a missing key; an expired one is removed).
    Delete,
}

impl Write {
    /// The write a decision comes to once a zero TTL is resolved ([`Deadline::Gone`]): a `Put`
    /// that is expired at once removes whatever the table holds for the key (a live key, or an
    /// expired entry not yet purged), as a `Delete` does; an `Expire` that is, removes a live key
    /// and leaves a key that is not live alone, as any `Expire` does. The value of a settled
    /// `Put` goes to `back`, so that an attempt whose delete fails can decide again with it.
    fn settle(self, live: bool, back: &mut Option<Value>) -> Write {
        match self {
            Write::Put(value, Deadline::Gone) => {
                *back = Some(value);
                Write::Delete
            }
            Write::Expire(Deadline::Gone) if live => Write::Delete,
            Write::Expire(Deadline::Gone) => Write::None,
            write => write,
        }
    }
}

/// An allocation for a new slot: a spare handed back by a failed attempt, or a new one.
fn slot_for(spare: &mut Option<Owned<Slot>>, value: Value, deadline: u64) -> Owned<Slot> {
    match spare.take() {
        Some(mut slot) => {
            Slot::reset(&mut slot, value, deadline);
            slot
        }
        None => Slot::boxed(value, deadline),
    }
}

impl Core {
    /// Runs one write step on `key` (module docs). `decide` gets the live key's [`View`] (or
    /// `None`), the attempt's [`Now`], and the value of its previous `Put` if that attempt failed
    /// (so it can be reused rather than rebuilt); it returns the write and the result.
    pub(crate) fn write<R>(
        &self,
        key: &str,
        mut decide: impl FnMut(Option<&View<'_>>, &Now<'_>, &mut Option<Value>) -> (Write, R),
    ) -> R {
        let table = &self.table;
        let pin = table.pin();
        let mut spare: Option<Owned<Slot>> = None;
        let mut back: Option<Value> = None;
        loop {
            let Some(entry) = table.get(key, &pin) else {
                let now = Now::new(&self.clock, None);
                let (write, result) = decide(None, &now, &mut back);
                let Write::Put(value, deadline) = write.settle(false, &mut back) else {
                    return result;
                };
                let deadline = match deadline {
                    Deadline::At(d) => d,
                    Deadline::Keep | Deadline::Gone => NEVER,
                };
                let size = self.size_for_bound(&value);
                let fresh = Arc::new(Entry::new(
                    Key::new(key),
                    slot_for(&mut spare, value, deadline),
                ));
                match table.insert_if_absent(fresh, &pin) {
                    Ok(entry) => {
                        self.created(&entry, deadline, size, &pin);
                        return result;
                    }
                    Err((_, rejected)) => {
                        if mutant::lost_create() {
                            return result;
                        }
                        // Lost the race to create the key: decide again on the winner's entry.
                        if let Some(mut slot) =
                            Arc::try_unwrap(rejected).ok().and_then(Entry::into_slot)
                        {
                            back = Some(Slot::take_value(&mut slot));
                            spare = Some(slot);
                        }
                        continue;
                    }
                }
            };
            let observed = entry.observe(&pin.epoch, &self.clock);
            let (cur, slot, word, reading) = match observed {
                Observed::Dead => {
                    if mutant::revive_dead() {
                        // MUTANT `revive_dead`: a dead entry is written into as if absent.
                        let now = Now::new(&self.clock, None);
                        if let (Write::Put(v, _), r) = decide(None, &now, &mut back) {
                            entry.revive(Slot::boxed(v, NEVER), &pin.epoch);
                            return r;
                        }
                    }
                    table.remove_if_same(&entry, &pin);
                    continue;
                }
                Observed::Expired(cur) => {
                    let now = Now::new(&self.clock, None);
                    let (write, result) = decide(None, &now, &mut back);
                    match write.settle(false, &mut back) {
                        Write::None | Write::Expire(_) => return result,
                        Write::Delete => {
                            if self.delete_entry(&entry, cur, &pin) {
                                return result;
                            }
                        }
                        Write::Put(value, deadline) => {
                            let deadline = match deadline {
                                Deadline::At(d) => d,
                                Deadline::Keep | Deadline::Gone => NEVER,
                            };
                            // The old slot's deadline is irrelevant (the key is absent); `replace`
                            // seals it so no in-place change lands after this replacement.
                            let size = self.size_for_bound(&value);
                            let new = slot_for(&mut spare, value, deadline);
                            match entry.replace(cur, new, false, &pin.epoch) {
                                Ok(()) => {
                                    self.published(&entry, deadline, &pin);
                                    if let Some(old) = cur.slot() {
                                        self.after_replace(&entry, old, size, &pin);
                                    }
                                    return result;
                                }
                                Err(mut new) => {
                                    back = Some(Slot::take_value(&mut new));
                                    spare = Some(new);
                                }
                            }
                        }
                    }
                    continue;
                }
                Observed::Live {
                    cur,
                    slot,
                    word,
                    now,
                } => (cur, slot, word, now),
            };
            let view = View {
                slot,
                deadline: deadline_of(word),
            };
            let now = Now::new(&self.clock, reading);
            let (write, result) = decide(Some(&view), &now, &mut back);
            let resolve = |d: Deadline| match d {
                Deadline::Keep => view.deadline,
                Deadline::At(d) => d,
                Deadline::Gone => unreachable!("settled into a Delete"),
            };
            match write.settle(true, &mut back) {
                Write::None => return result,
                Write::Expire(deadline) => {
                    let deadline = resolve(deadline);
                    if slot.set_deadline(word, deadline) {
                        self.published(&entry, deadline, &pin);
                        return result;
                    }
                    if !slot.is_sealed() {
                        // The word changed under us (another in-place change): start over.
                        continue;
                    }
                    // Sealed: the slot cannot change in place any more, so replace it by a copy
                    // with the new deadline (the pointer CAS below still expects it unmarked).
                    let value = view.value().into_owned();
                    if slot.seal_deadline() != view.deadline {
                        continue;
                    }
                    let new = slot_for(&mut spare, value, deadline);
                    match entry.replace(cur, new, true, &pin.epoch) {
                        Ok(()) => {
                            self.published(&entry, deadline, &pin);
                            return result;
                        }
                        Err(new) => spare = Some(new),
                    }
                }
                Write::Put(value, deadline) => {
                    let keep = deadline == Deadline::Keep && mutant::check_deadline();
                    let deadline = resolve(deadline);
                    if keep && slot.seal_deadline() != view.deadline {
                        back = Some(value);
                        continue;
                    }
                    let size = self.size_for_bound(&value);
                    let new = slot_for(&mut spare, value, deadline);
                    match entry.replace(cur, new, keep, &pin.epoch) {
                        Ok(()) => {
                            self.published(&entry, deadline, &pin);
                            self.after_replace(&entry, slot, size, &pin);
                            return result;
                        }
                        Err(mut new) => {
                            back = Some(Slot::take_value(&mut new));
                            spare = Some(new);
                        }
                    }
                }
                Write::Delete => {
                    if self.delete_entry(&entry, cur, &pin) {
                        return result;
                    }
                }
            }
        }
    }

    /// Stores `value` until `deadline` under `key`, whatever was there: a blind write, with no
    /// judgment of the old state, so it never reads the clock. Linearizes at its CAS.
    pub(crate) fn put(&self, key: &str, value: Value, deadline: u64) {
        let table = &self.table;
        let pin = table.pin();
        let size = self.size_for_bound(&value);
        let mut slot = Slot::boxed(value, deadline);
        loop {
            let Some(entry) = table.get(key, &pin) else {
                match table.insert_if_absent(Arc::new(Entry::new(Key::new(key), slot)), &pin) {
                    Ok(entry) => {
                        self.created(&entry, deadline, size, &pin);
                        return;
                    }
                    Err((_, rejected)) => {
                        slot = Arc::try_unwrap(rejected)
                            .ok()
                            .and_then(Entry::into_slot)
                            .expect("a rejected entry was never shared");
                        continue;
                    }
                }
            };
            let cur = entry.load(&pin.epoch);
            let Some(old) = cur.slot() else {
                table.remove_if_same(&entry, &pin);
                continue;
            };
            match entry.replace(cur, slot, false, &pin.epoch) {
                Ok(()) => {
                    self.published(&entry, deadline, &pin);
                    self.after_replace(&entry, old, size, &pin);
                    return;
                }
                Err(back) => slot = back,
            }
        }
    }

    /// Kills `entry` from `cur` and unlinks it; `false` if the slot changed first (the caller
    /// observes again).
    fn delete_entry(&self, entry: &Arc<Entry>, cur: Current<'_>, pin: &Pin<'_>) -> bool {
        if mutant::no_tombstone() {
            // MUTANT `no_tombstone`: unlink without killing first.
            self.table.remove_if_same(entry, pin);
            return true;
        }
        if entry.kill(cur, false, &pin.epoch) {
            if let Some(old) = cur.slot() {
                self.after_kill(entry, old);
            }
            self.killed(entry, pin);
            return true;
        }
        false
    }

    /// Bookkeeping after this thread published `deadline` for `entry` (a new slot, or the
    /// deadline word of the current one): the expiry schedule, the eviction queues, and a use
    /// (`Lru`).
    #[inline]
    pub(crate) fn published(&self, entry: &Arc<Entry>, deadline: u64, pin: &Pin<'_>) {
        self.expiry.schedule(entry, deadline, &self.table);
        self.changed();
        if let Some(bound) = &self.bound {
            bound.note(entry, deadline, &self.table, &pin.epoch);
            bound.used(entry);
        }
    }

    /// Bookkeeping after this thread inserted a new entry whose value has size `size`: schedule
    /// it, then respect the bounds (`engine::evict`): while the store is over one, remove one key.
    fn created(&self, entry: &Arc<Entry>, deadline: u64, size: usize, pin: &Pin<'_>) {
        self.published(entry, deadline, pin);
        self.after_create(entry, size, pin);
    }

    /// Bookkeeping after this thread killed `entry` on a user's request (`delete` and friends).
    pub(crate) fn killed(&self, entry: &Arc<Entry>, pin: &Pin<'_>) {
        self.table.remove_if_same(entry, pin);
        self.expiry.note_killed(entry, &self.table);
        self.changed();
    }
}

/// The mutation hooks of `loom-tests/mutants` in the write engine (see `engine::entry`, `mod mutant`).
mod mutant {
    /// Mutant `lost_create`: the loser of `insert_if_absent` returns as if it had created the key.
    #[inline]
    pub(super) fn lost_create() -> bool {
        cfg!(scriptling_kv_mutant = "lost_create")
    }

    /// Mutant `revive_dead`: a dead entry is written into instead of being unlinked.
    #[inline]
    pub(super) fn revive_dead() -> bool {
        cfg!(scriptling_kv_mutant = "revive_dead")
    }

    /// Mutant `zero_is_persistent`: a zero TTL argument stores the value with no expiry.
    #[inline]
    pub(super) fn zero_is_persistent() -> bool {
        cfg!(scriptling_kv_mutant = "zero_is_persistent")
    }

    /// Mutant `no_tombstone`: `delete` unlinks the entry without killing it first.
    #[inline]
    pub(super) fn no_tombstone() -> bool {
        cfg!(scriptling_kv_mutant = "no_tombstone")
    }

    /// Whether a write that replaces a live slot checks its deadline did not move in place.
    /// Mutant `no_deadline_check`: it does not (an in-place `expire` can be overwritten with the
    /// old deadline by an `incr` that keeps the TTL).
    #[inline]
    pub(super) fn check_deadline() -> bool {
        !cfg!(scriptling_kv_mutant = "no_deadline_check")
    }
}
