//! The raw single-key operations and the walks, on [`Core`]: what each public method of `Store`
//! does, without its argument conversions and reporting types. Every one is a short loop: find
//! the key's entry in the table (`table`), observe its slot with the one liveness rule (`entry`),
//! decide, and CAS (`write`). None holds a lock across a decision; a reader takes no lock at all.
//!
//! The mutation hooks of `loom-tests/mutants` for these operations are here, one named function
//! per site in `mod mutant` below (each is the correct code unless its mutant is compiled in):
//! the public face never sees them.

use std::time::Duration;

use crate::engine::clock::{Clock, NEVER};
use crate::engine::core::Core;
use crate::engine::entry::{deadline_of, Observed, Slot};
use crate::engine::evict::{notify, RemovalCause};
use crate::engine::expiry::BATCH;
use crate::engine::table::Pin;
use crate::engine::write::{Deadline, Write};
use crate::error::{Error, Result};
use crate::value::Value;

impl Core {
    /// Counts one committed write for periodic persistence (nothing without it). Called by
    /// every path that changes what a snapshot would hold.
    #[inline]
    pub(crate) fn changed(&self) {
        if let Some(changes) = &self.changes {
            changes.bump();
        }
    }

    /// Purge steps run so far (tests of the cleaner's interval).
    pub(crate) fn purges_run(&self) -> u64 {
        self.purges.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes committed so far (0 without periodic persistence).
    pub(crate) fn changes(&self) -> u64 {
        self.changes.as_ref().map_or(0, |c| c.sum())
    }

    /// Removes the expired entries whose records came due (a purge step: the cleaner's tick, or
    /// `Store::purge_expired`). Returns how many it removed.
    pub(crate) fn purge(&self) -> usize {
        self.purges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let listener = self.listener.as_ref();
        let panics = &self.counters.listener_panics;
        let removed = self
            .expiry
            .purge(&self.table, &self.clock, &mut |(entry, slot)| {
                self.after_kill(entry, slot);
                notify(
                    listener,
                    panics,
                    entry.key.as_str(),
                    &slot.value(),
                    RemovalCause::Expired,
                );
            });
        self.counters
            .expired
            .fetch_add(removed as u64, crate::engine::sync::Ordering::Relaxed);
        removed
    }

    /// The key's live slot under `pin`: the slot, its deadline, and the clock reading liveness
    /// was judged at (`None` if the key has no deadline).
    #[inline]
    pub(crate) fn read<'g>(
        &self,
        key: &str,
        pin: &'g Pin<'_>,
    ) -> Option<(&'g Slot, u64, Option<u64>)> {
        let entry = self.table.get(key, pin)?;
        match entry.observe(&pin.epoch, &self.clock) {
            Observed::Live {
                slot, word, now, ..
            } => {
                self.used(&entry);
                Some((slot, deadline_of(word), now))
            }
            Observed::Dead | Observed::Expired(..) => None,
        }
    }

    /// Calls `f` on the live value in place (counted as a hit or a miss).
    #[inline]
    pub(crate) fn get_with<R>(&self, key: &str, f: impl FnOnce(&Value) -> R) -> Option<R> {
        mutant::reads_wait(self, key);
        let pin = self.table.pin();
        let found = self.read(key, &pin);
        self.counters.lookup(found.is_some());
        let (slot, _, _) = found?;
        if mutant::early_unpin() {
            let slot: *const Slot = slot;
            return Some(mutant::read_after_unpin(pin, slot, f));
        }
        Some(f(&slot.value()))
    }

    /// The live value, not counted as a hit or a miss (the crate's own lookups).
    pub(crate) fn peek(&self, key: &str) -> Option<Value> {
        let pin = self.table.pin();
        let (slot, _, _) = self.read(key, &pin)?;
        Some(slot.value().into_owned())
    }

    /// Whether the key is live.
    pub(crate) fn exists(&self, key: &str) -> bool {
        let pin = self.table.pin();
        self.read(key, &pin).is_some()
    }

    /// `None`: not live; `Some(None)`: live without a deadline; `Some(Some(d))`: live with `d`
    /// left.
    pub(crate) fn ttl(&self, key: &str) -> Option<Option<Duration>> {
        let pin = self.table.pin();
        let (_, deadline, now) = self.read(key, &pin)?;
        if deadline == NEVER {
            return Some(None);
        }
        let now = now.expect("a deadline is judged at a reading");
        let deadline = mutant::ttl_deadline(self, key, &pin, deadline);
        Some(Some(Duration::from_nanos(deadline.saturating_sub(now))))
    }

    /// A blind store with no deadline (`None`) or a TTL from now; a zero TTL removes the key.
    pub(crate) fn set(&self, key: &str, value: Value, ttl: Option<Duration>) {
        let deadline = match ttl {
            None => NEVER,
            // Expired at once: never installed; what was there is removed.
            Some(ttl) if ttl.is_zero() => return self.write(key, |_, _, _| (Write::Delete, ())),
            Some(ttl) => Clock::deadline_after(self.clock.now(), ttl),
        };
        if mutant::split_ttl() {
            return mutant::put_in_two_writes(self, key, value, deadline);
        }
        self.put(key, value, deadline);
    }

    /// Removes the key; `true` if it was live.
    pub(crate) fn delete(&self, key: &str) -> bool {
        self.write(key, |cur, _, _| (Write::Delete, cur.is_some()))
    }

    /// `incr`, giving a key this call creates a TTL of `ttl` (`None`: none; a zero TTL: the key
    /// it creates is expired at once, so nothing is stored and `delta` is returned), counted from
    /// the reading at which the key was found not live.
    pub(crate) fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64> {
        // Fast path: a live counter takes the add in place, one CAS and no allocation
        // (`entry`, "Counters"). Anything else (missing, expired, sealed, not a counter, a sum
        // outside the cell, overflow) goes through the write protocol.
        {
            let pin = self.table.pin();
            if let Some(n) = self
                .read(key, &pin)
                .and_then(|(slot, _, _)| slot.add_in_place(delta))
            {
                self.changed();
                return Ok(n);
            }
        }
        self.write(key, |cur, now, _| match cur {
            None => (
                Write::Put(Value::Int(delta), now.ttl_or_never(ttl)),
                Ok(delta),
            ),
            Some(view) => match *view.value() {
                Value::Int(n) => match n.checked_add(delta) {
                    Some(sum) => (Write::Put(Value::Int(sum), Deadline::Keep), Ok(sum)),
                    None => (Write::None, Err(Error::Overflow)),
                },
                _ => (Write::None, Err(Error::NotAnInteger)),
            },
        })
    }

    /// A new deadline `ttl` from now on a live key (zero: removes it); `false` if not live.
    pub(crate) fn expire(&self, key: &str, ttl: Duration) -> bool {
        self.write(key, |cur, now, _| match cur {
            None => (Write::None, false),
            // The same reading the key was judged live at.
            Some(_) => (Write::Expire(now.ttl(ttl)), true),
        })
    }

    /// The live value, and its deadline moved to `ttl` from now (counted as a hit or a miss).
    pub(crate) fn get_and_expire(&self, key: &str, ttl: Duration) -> Option<Value> {
        let found = self.write(key, |cur, now, _| match cur {
            None => (Write::None, None),
            Some(view) => (Write::Expire(now.ttl(ttl)), Some(view.value().into_owned())),
        });
        self.counters.lookup(found.is_some());
        found
    }

    /// Removes the deadline of a live key; `true` only if it had one.
    pub(crate) fn persist(&self, key: &str) -> bool {
        self.write(key, |cur, _, _| match cur {
            Some(view) if view.deadline() != NEVER => (Write::Expire(Deadline::At(NEVER)), true),
            _ => (Write::None, false),
        })
    }

    /// The live keys that start with `prefix` and pass `matches`, unsorted (a key may appear
    /// twice: see `Store::keys`). Each key is judged against a clock reading taken after the walk
    /// loaded it.
    pub(crate) fn keys_where(&self, prefix: &str, matches: impl Fn(&str) -> bool) -> Vec<String> {
        let table = &self.table;
        // (key, deadline as loaded); judged after the walk against a later clock reading.
        let mut seen: Vec<(String, u64)> = Vec::new();
        let early = mutant::keys_early_reading().then(|| self.clock.now());
        let mut epoch = table.epoch();
        let mut visited = 0usize;
        table.for_each(|key, entry| {
            visited += 1;
            if visited % BATCH == 0 {
                // Let crossbeam-epoch advance: nothing loaded before this point is kept.
                epoch.repin();
            }
            // Filter on the table's own copy of the key (inline in its node for short keys), so
            // keys that don't match cost no visit to their entry.
            if !key.as_bytes().starts_with(prefix.as_bytes()) {
                return;
            }
            let key = key.as_str();
            if !matches(key) {
                return;
            }
            let cur = entry.load(&epoch);
            let Some(slot) = cur.slot() else {
                return;
            };
            if cur.is_marked() {
                return; // seen expired: absent at this instant
            }
            seen.push((key.to_owned(), slot.deadline()));
        });
        drop(epoch);
        let now = match early {
            Some(reading) => reading,
            None if seen.iter().any(|&(_, d)| d != NEVER) => self.clock.now(),
            None => 0,
        };
        let mut out = Vec::with_capacity(seen.len());
        for (key, deadline) in seen {
            if deadline == NEVER || deadline > now {
                // Live when it was loaded: the reading was taken after the load.
                out.push(key);
            } else if self.exists(&key) {
                // Its deadline passed during the walk (or it was already expired): judge its
                // current state now, with the one liveness rule.
                out.push(key);
            }
        }
        out
    }

    /// Removes every key that existed when it began, unless it is set again concurrently.
    pub(crate) fn clear(&self) {
        let table = &self.table;
        let mut pin = table.pin();
        let mut visited = 0usize;
        table.for_each(|_, entry| {
            visited += 1;
            if visited % BATCH == 0 {
                pin = table.pin();
            }
            let (killed, dead) = mutant::clear_kill(entry, &pin.epoch);
            if let Some(old) = killed {
                self.after_kill(entry, old);
                self.expiry.note_killed(entry, table);
                self.changed();
            }
            if dead {
                table.remove_if_same(entry, &pin);
            }
        });
    }
}

/// The mutation hooks of `loom-tests/mutants` in the raw operations (see `entry`, `mod mutant`):
/// each is the correct code unless its mutant is compiled in.
mod mutant {
    use crossbeam_epoch::Guard;

    use crate::engine::core::Core;
    use crate::engine::entry::{Entry, Slot};
    use crate::engine::table::Pin;
    use crate::engine::write::{Deadline, Write};
    use crate::value::Value;

    /// Mutant `reads_wait`: a read of a key waits for its load in flight, if any.
    #[inline]
    pub(super) fn reads_wait(core: &Core, key: &str) {
        if cfg!(scriptling_kv_mutant = "reads_wait") {
            if let Some(flight) = core.flights.in_flight(key) {
                flight.wait();
            }
        }
    }

    /// Mutant `split_ttl`: `set`/`set_with_ttl` install the value, then the deadline, in two
    /// writes.
    #[inline]
    pub(super) fn split_ttl() -> bool {
        cfg!(scriptling_kv_mutant = "split_ttl")
    }

    /// The mutant `split_ttl`'s store: installs the value (keeping the old deadline), then the
    /// deadline, in two writes.
    pub(super) fn put_in_two_writes(core: &Core, key: &str, value: Value, deadline: u64) {
        core.write(key, |_, _, _| {
            (Write::Put(value.clone(), Deadline::Keep), ())
        });
        core.write(key, |cur, _, _| match cur {
            Some(_) => (Write::Expire(Deadline::At(deadline)), ()),
            None => (Write::None, ()),
        });
    }

    /// Mutant `keys_early_reading`: `keys` judges its walk against a reading taken before it.
    #[inline]
    pub(super) fn keys_early_reading() -> bool {
        cfg!(scriptling_kv_mutant = "keys_early_reading")
    }

    /// `ttl`'s deadline: the one liveness was judged on. Mutant `ttl_double_load`: a second load
    /// of the key's slot.
    #[inline]
    pub(super) fn ttl_deadline(core: &Core, key: &str, pin: &Pin<'_>, judged: u64) -> u64 {
        if !cfg!(scriptling_kv_mutant = "ttl_double_load") {
            return judged;
        }
        core.table
            .get(key, pin)
            .and_then(|e| e.load(&pin.epoch).slot().map(|s| s.deadline()))
            .unwrap_or(judged)
    }

    /// Mutant `early_unpin`: `get_with` lets go of its guards before calling `f` on the value.
    #[inline]
    pub(super) fn early_unpin() -> bool {
        cfg!(scriptling_kv_mutant = "early_unpin")
    }

    /// The mutant `early_unpin`'s read: `slot` is used after the guard it was loaded under is
    /// dropped, so a concurrent replacement may free (or recycle) it meanwhile.
    pub(super) fn read_after_unpin<R>(
        pin: Pin<'_>,
        slot: *const Slot,
        f: impl FnOnce(&Value) -> R,
    ) -> R {
        drop(pin);
        // SAFETY: none, on purpose: this mutant reads a slot without the guard that kept it
        // alive, to show the miri test and the recycling test catch it.
        f(&unsafe { &*slot }.value())
    }

    /// `clear`'s kill of one entry, whatever its slot holds (a CAS loop): (the live or expired
    /// slot this call killed, if any, whether the entry is dead now). Mutant `clear_cas_once`:
    /// one CAS from the slot it loaded, giving up if that slot changed meanwhile.
    #[inline]
    pub(super) fn clear_kill<'g>(entry: &Entry, guard: &'g Guard) -> (Option<&'g Slot>, bool) {
        if !cfg!(scriptling_kv_mutant = "clear_cas_once") {
            return (entry.kill_any(guard), true);
        }
        let cur = entry.load(guard);
        if cur.slot().is_none() {
            return (None, true);
        }
        let killed = entry.kill(cur, false, guard);
        (cur.slot().filter(|_| killed), killed)
    }
}
