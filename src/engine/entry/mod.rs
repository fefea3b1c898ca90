//! The entry cell: one key's value and deadline, and the one rule that says whether it is live.
//!
//! # Representation
//!
//! The table maps each key to an `Arc<Entry>`. An [`Entry`] owns one pointer, `slot`, to a
//! [`Slot`] `{ value, deadline word, counter cell }` on the heap. The value never changes once the
//! slot is published; two words of the slot may change in place, each by a CAS:
//!
//! - the **deadline word** (`word`): `(deadline << 1) | SEALED`. `expire` and `persist` move the
//!   deadline in place, so sliding a session's expiry costs one CAS and never copies the value;
//! - the **counter cell** (`cell`, only in a slot built from a small `Value::Int`):
//!   `(n << 1) | SEALED`. `incr` adds to it in place.
//!
//! A write of a new value allocates a new slot and installs it with a CAS on the entry's `slot`
//! pointer. Because value and deadline live in one slot, no reader can see one write's value with
//! another write's deadline.
//!
//! # The seal: whoever replaces or kills a slot seals it first
//!
//! A word changed in place must not change after a writer has read it to build the slot that
//! replaces this one (or after a killer decided to remove it), or that change would be lost. So
//! **whoever replaces or kills a slot first sets the `SEALED` bit** of its deadline word and, for a
//! counter, of its cell (`fetch_or`: idempotent, several racing writers may all seal), and a sealed
//! word never changes again. An in-place CAS expects the bit clear, so it succeeds only while
//! nobody has started to replace or kill the slot: the slot is still the entry's current one at
//! the instant of the CAS, its linearization point. A writer that seals a slot and then decides
//! not to write (an `incr` that would overflow, a `compare_and_set` that does not match) leaves a
//! sealed slot in place: its contents are right, and the next in-place change finds it sealed and
//! replaces the slot instead (a copy), which gives a fresh, unsealed one.
//!
//! # The liveness rule, and "seen expired" as an atomic step
//!
//! [`Entry::observe`] is the only place that decides whether a key is live. It loads the slot
//! pointer, then the slot's deadline word, and only then reads the clock, once: the key is live iff
//! its deadline is after that reading (`deadline > now`; a key with a TTL of `d` set at `t` is live
//! during `[t, t + d)`).
//!
//! Time passes without anybody writing, so a decision taken at one clock reading can be stale by
//! the time a writer's CAS lands. A writer (say `expire`) may judge a key live at 9 s and CAS its
//! new deadline at 11 s, when the old deadline, 10 s, has passed. That is fine (the `expire` is
//! placed at 9 s) **unless somebody saw the key absent in between**: a `get` at 10.5 s that
//! returned `None`, followed by the `expire` bringing the key back, has no linearization. So
//! seeing a key expired is made an atomic, visible step: before any operation acts on "expired"
//! (returns `None`, lists nothing, creates a fresh key), `observe` **marks** the slot:
//!
//! 1. it seals the deadline word, and checks that the deadline it judged is still the word's (an
//!    in-place `expire` may have moved it meanwhile: then it judges again);
//! 2. it tags the entry's slot pointer with [`Entry::EXPIRED`] (a CAS from the untagged pointer).
//!
//! Every writer that acts on "live" commits with a CAS that expects what it observed *unmarked*:
//! the unsealed deadline word for an in-place change, the untagged pointer for a replacement or a
//! kill. So exactly one of two things happens: the writer's CAS lands before the mark (nobody has
//! seen the key absent yet: the writer is placed before the deadline, and the marker, which has
//! not returned, sees the writer's new state when it retries), or the mark lands first (the
//! writer's CAS fails, it observes again, and finds the key absent). A writer that acts on
//! "expired" does not need the mark: its own CAS on the pointer is its commit (it seals the
//! deadline word first and checks it, so an in-place extension in between is not overwritten).
//!
//! A marked slot is absent for good (the deadline has passed and the clock does not go back): the
//! next write to the key replaces it by a CAS from the tagged pointer, and the cleaner kills it.
//! Marking costs one `fetch_or` and one CAS, once per expired slot that is read before the cleaner
//! removes it; afterwards readers see the tag and answer without reading the clock.
//!
//! An in-place counter add does not look at the mark: it judged the key live, and a slot whose
//! deadline passed after that keeps its deadline, so placing the add just before the deadline is
//! consistent with everything anybody saw (a `delete` or an `incr` that keeps the deadline is
//! placed the same way).
//!
//! # States
//!
//! ```text
//!            set / incr / expire / persist (CAS S -> S', or S's words in place)
//!               +------+
//!               v      |
//!  insert --> LIVE(S) -+---- kill (CAS S -> null) ---------------> DEAD --- unlink ---> gone
//!               |                                                   ^
//!               +-- deadline passes: EXPIRED(S) -- mark: S|EXPIRED --+ (delete, clear, cleaner)
//!                        |                               |
//!                        +------ a write: CAS S -> S' ----+--> LIVE(S')
//! ```
//!
//! - `LIVE(S)`: `slot` points to `S` (untagged) and `S`'s deadline is after now.
//! - `EXPIRED(S)`: the deadline has passed. A derived state (nothing is written when time
//!   passes) until somebody observes it and marks it (`S|EXPIRED`). Absent for every operation.
//!   A write to the absent key may revive the entry by a CAS `S -> S'` (tagged or not).
//! - `DEAD`: `slot` is null. The tombstone: installed by `delete`, `clear`, the cleaner or an
//!   eviction, by a CAS (from the slot they inspected). **Permanent**: nothing ever stores a
//!   non-null pointer into a dead entry. The killer then unlinks the entry from the table, but any
//!   thread that finds a dead entry first unlinks it itself (only if the table still maps the key
//!   to that very entry) and retries: nobody waits for the killer.
//!
//! # Why the tombstone
//!
//! `incr`, `expire` and the other read-modify-writes find the entry in the table and then CAS its
//! slot. Without the tombstone, `delete` could unlink the entry between those two steps and the
//! CAS would land in an entry no longer reachable: an `incr` would return `Ok(n)` and `n` would
//! vanish. Because `delete` first kills the entry (CAS to null) and only then unlinks it, a CAS by
//! anyone else either happens before the kill (and `delete` linearizes after it, removing its
//! result) or fails on the null pointer, and the writer goes back to the table. Killing seals the
//! slot first, so no in-place change lands in it after the kill either.
//!
//! # Races and why they are benign
//!
//! - Two writers CAS the same `S`: one wins; the loser observes again and decides again (its
//!   decision may depend on the new value, as `incr`'s does).
//! - A reader loads `S` while a writer replaces it: the reader linearizes before the write; it
//!   keeps using `S` safely because `S` is retired through crossbeam-epoch, not freed (below).
//! - A reader reads `S`'s deadline word while `expire` changes it in place: the word is one atomic,
//!   so the reader sees the old deadline (and linearizes before) or the new one (after). The value
//!   it reads with it does not change.
//! - Two threads mark the same expired slot: the second finds the tag already there.
//! - Two threads unlink the same dead entry: the table removes the key only if it still maps to
//!   that entry ([`crate::engine::table::Table::remove_if_same`]), so the second is a no-op and neither
//!   can remove a newer entry for the same key.
//! - The expiry scheduler's `scheduled` word is only a hint for when to look at the entry; its
//!   protocol is described in `engine::expiry`.
//!
//! # Memory reclamation
//!
//! A replaced or killed slot is retired through crossbeam-epoch deferral ([`retire`]) on the guard
//! that loaded it. The argument, at every retirement:
//!
//! 1. no thread that pins later can reach the slot: it was reachable only through this entry's
//!    `slot` field (each slot is installed exactly once, into exactly one entry), and the
//!    successful CAS or swap removed it from there (a mark only changes the pointer's tag, never
//!    which slot it points to);
//! 2. every thread that loaded it did so while pinned, and `&'g Slot` references cannot outlive
//!    the guard `'g` they were loaded under, so crossbeam-epoch frees the slot only after they
//!    all unpinned.
//!
//! The `Entry` itself is freed by the table's collector (flurry uses seize), possibly later and
//! on another thread, or by whoever drops the last `Arc<Entry>` (an expiry record). An entry
//! unlinked from the table is dead (its slot null), so dropping it frees no slot; an entry that
//! still holds a slot is dropped only with the store itself (the table holds every entry that
//! has one), when no thread can be reading: `Drop for Entry` frees that slot at once.
//!
//! # Recycling slot allocations
//!
//! Retiring is done by [`retire`]: when crossbeam-epoch runs the deferred function (the moment it
//! would otherwise free the slot: no thread can hold a reference any more), the slot's value is
//! dropped and its allocation is pushed on a small per-thread stack of spares (at most
//! [`SPARES_MAX`]); [`Slot::boxed`] pops one before it allocates. So the allocation is reused
//! exactly when it would have been freed, never earlier, and the argument above is unchanged.
//! What it saves: crossbeam-epoch frees retired slots in bags of 64, often on another thread, so
//! the allocator's per-thread cache never serves the next write and every write took malloc's
//! and free's slow paths. The stack is thread-local (no atomics). Any thread that runs a
//! crossbeam-epoch collection can receive spares, so a thread that only reads may hold up to
//! [`SPARES_MAX`] of them (~14 KiB) until it exits, when they are freed; a deferred function that
//! runs while thread-locals are being destroyed just frees the slot. Under
//! `--cfg scriptling_kv_loom` retiring is a plain `defer_destroy`, so the loom reclamation models
//! (which track frees) check the deferral itself; the spare stack has no concurrency of its own.

use crossbeam_epoch::{Atomic, Guard, Owned, Shared};

use crate::engine::clock::{Clock, NEVER};
use crate::engine::key::Key;
use crate::engine::sync::{AtomicU64, Ordering};

mod mutant;
mod slot;
#[cfg(all(test, not(scriptling_kv_loom)))]
mod tests;

use slot::retire;
#[cfg(not(scriptling_kv_loom))]
pub(crate) use slot::spares_held;
pub(crate) use slot::{deadline_of, Slot};

/// A slot pointer as loaded from an entry: null means the entry is dead; the tag
/// [`Entry::EXPIRED`] means the slot was seen expired (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Current<'g>(Shared<'g, Slot>);

impl<'g> Current<'g> {
    /// The slot, or `None` if the entry is dead.
    #[inline]
    pub(crate) fn slot(self) -> Option<&'g Slot> {
        // SAFETY: the pointer was loaded from `Entry::slot` under the guard `'g`, and a slot is
        // only ever freed or recycled through crossbeam-epoch deferral (`retire`) after it was
        // unlinked from the entry, so it stays allocated until that guard is dropped (module
        // docs, "Memory reclamation"). A published slot is only ever changed through its atomic
        // words, so a shared reference is sound. `as_ref` ignores the tag; null yields `None`.
        unsafe { self.0.as_ref() }
    }

    /// Whether the slot was marked expired.
    #[inline]
    pub(crate) fn is_marked(self) -> bool {
        self.0.tag() == Entry::EXPIRED
    }
}

/// What [`Entry::observe`] found: the one answer to "is this key live?".
#[derive(Clone, Copy, Debug)]
pub(crate) enum Observed<'g> {
    /// The entry is dead (a tombstone): absent, and the caller should unlink it.
    Dead,
    /// Absent: expired, and the slot is marked, so anybody may act on this at once. A writer
    /// that writes anyway replaces this (tagged) pointer.
    Expired(Current<'g>),
    /// Live: `slot` is current (as `cur`), its deadline word was `word` (so the deadline is
    /// `deadline_of(word)`), judged at clock reading `now` (`None`: no deadline, no reading).
    Live {
        /// The pointer as loaded (untagged).
        cur: Current<'g>,
        /// The slot it points to.
        slot: &'g Slot,
        /// The deadline word as loaded (its deadline is after `now`).
        word: u64,
        /// The clock reading liveness was judged at, if the key has a deadline.
        now: Option<u64>,
    },
}

#[cfg(test)]
impl Observed<'_> {
    /// Whether the key is live.
    pub(crate) fn is_live(&self) -> bool {
        matches!(self, Observed::Live { .. })
    }
}

/// The decision `observe` hands back for one loaded slot (internal).
enum Judged {
    Live(u64, Option<u64>),
    Expired(u64),
}

/// The liveness rule itself: the deadline word `word`, loaded before `clock` is read (lazily,
/// only if there is a deadline), is live iff its deadline is after the reading.
#[inline]
fn judge(word: u64, clock: &Clock) -> Judged {
    let deadline = deadline_of(word);
    if deadline == NEVER {
        return Judged::Live(word, None);
    }
    let now = clock.now();
    if mutant::live(deadline, now) {
        Judged::Live(word, Some(now))
    } else {
        Judged::Expired(deadline)
    }
}

/// A key's cell in the table. See the module docs for the state machine.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The key (the table holds a copy; immutable, so not part of any model).
    pub(crate) key: Key,
    /// The current version; null once the entry is dead (permanent); tagged
    /// [`Entry::EXPIRED`] once seen expired.
    slot: Atomic<Slot>,
    /// Three things in one word, so that an `Arc<Entry>` with an inline key stays within 64
    /// bytes:
    /// - bits 0..44 ([`Entry::TICK`]): the tick of the earliest expiry record pending for this
    ///   entry, or [`Entry::UNSCHEDULED`]; owned by the protocol in `engine::expiry`, which changes
    ///   these bits only by CASes that carry the other bits over unchanged;
    /// - bits 44..62 ([`Entry::STAMP`]): the entry's last use under `Eviction::Lru` (`engine::evict`,
    ///   "The access clock"), changed only by a CAS that carries the other bits over ([`touch`]);
    /// - bits 62 and 63: which eviction queues hold the entry (`engine::evict`, only in a bounded
    ///   store), changed only by `fetch_or`/`fetch_and` of those bits, which leave the others
    ///   unchanged.
    ///
    /// Ticks are deadlines in nanoseconds shifted right by 20, and deadlines are below 2^63, so
    /// ticks stay below 2^43: the tick bits never reach the stamp. A change of one field makes a
    /// concurrent CAS of another fail and retry (it re-reads the word), and no CAS loses another
    /// field's change, so the protocols run on the word as if it were three words, and every
    /// access is `SeqCst` as before (a stamp CAS that fails is not retried: a use is a hint).
    ///
    /// [`touch`]: Entry::touch
    pub(crate) scheduled: AtomicU64,
}

impl Entry {
    /// The tick bits of [`Entry::scheduled`].
    pub(crate) const TICK: u64 = (1 << 44) - 1;

    /// The access-stamp bits of [`Entry::scheduled`] (`Eviction::Lru`).
    pub(crate) const STAMP: u64 = ((1 << 18) - 1) << 44;

    /// Tick bits meaning no expiry record is pending (greater than every real tick).
    pub(crate) const UNSCHEDULED: u64 = Self::TICK;

    /// The tick of the pending record (or [`Entry::UNSCHEDULED`]).
    #[inline]
    pub(crate) fn scheduled_tick(&self) -> u64 {
        self.scheduled.load(Ordering::SeqCst) & Self::TICK
    }

    /// Sets eviction-queue flag `flag` (a bit at 62 or above); returns whether it was clear.
    #[inline]
    pub(crate) fn set_queued(&self, flag: u64) -> bool {
        debug_assert_eq!(flag & Self::TICK, 0);
        self.scheduled.fetch_or(flag, Ordering::SeqCst) & flag == 0
    }

    /// Clears eviction-queue flag `flag`.
    #[inline]
    pub(crate) fn clear_queued(&self, flag: u64) {
        debug_assert_eq!(flag & Self::TICK, 0);
        self.scheduled.fetch_and(!flag, Ordering::SeqCst);
    }

    /// Stamps the entry as used at access-clock reading `now` (its low 18 bits), writing the word
    /// only if the stamp changes; a CAS that fails is not retried (a racing change of the word
    /// means a racing use, or a change of another field: the stamp is a hint).
    #[inline]
    pub(crate) fn touch(&self, now: u64) {
        let stamp = (now << 44) & Self::STAMP;
        let word = self.scheduled.load(Ordering::SeqCst);
        if word & Self::STAMP != stamp {
            let _ = self.scheduled.compare_exchange(
                word,
                (word & !Self::STAMP) | stamp,
                Ordering::SeqCst,
                Ordering::Relaxed,
            );
        }
    }

    /// Uses of the access clock since the entry's last use, at reading `now` (modulo 2^18).
    #[inline]
    pub(crate) fn age(&self, now: u64) -> u64 {
        let stamp = (self.scheduled.load(Ordering::SeqCst) & Self::STAMP) >> 44;
        now.wrapping_sub(stamp) & (Self::STAMP >> 44)
    }

    /// Tag of a slot pointer whose slot was seen expired (module docs).
    pub(crate) const EXPIRED: usize = 1;

    /// A live entry holding `slot`.
    pub(crate) fn new(key: Key, slot: Owned<Slot>) -> Self {
        Entry {
            key,
            slot: Atomic::from(slot),
            scheduled: AtomicU64::new(Self::UNSCHEDULED),
        }
    }

    /// Loads the current slot (Acquire: pairs with the Release of the CAS that published it, so
    /// the slot's contents are visible).
    #[inline]
    pub(crate) fn load<'g>(&self, guard: &'g Guard) -> Current<'g> {
        Current(self.slot.load(Ordering::Acquire, guard))
    }

    /// Is the key live? The one liveness rule of the crate (module docs): loads the slot and its
    /// deadline word, reads the clock after them (only if there is a deadline), and marks the slot
    /// before answering "expired", so no writer that judged it live earlier can land afterwards.
    pub(crate) fn observe<'g>(&self, guard: &'g Guard, clock: &Clock) -> Observed<'g> {
        loop {
            let cur = self.load(guard);
            let Some(slot) = cur.slot() else {
                return Observed::Dead;
            };
            if cur.is_marked() {
                return Observed::Expired(cur);
            }
            match judge(slot.word.load(Ordering::Acquire), clock) {
                Judged::Live(word, now) => {
                    return Observed::Live {
                        cur,
                        slot,
                        word,
                        now,
                    }
                }
                Judged::Expired(deadline) => {
                    if let Some(marked) = self.mark(cur, slot, deadline, guard) {
                        return Observed::Expired(marked);
                    }
                }
            }
        }
    }

    /// Marks `cur` (whose deadline `deadline` has passed) expired: seals its deadline word, checks
    /// that the deadline did not move, and tags the pointer. `None` if the slot changed meanwhile
    /// (the caller observes again).
    fn mark<'g>(
        &self,
        cur: Current<'g>,
        slot: &Slot,
        deadline: u64,
        guard: &'g Guard,
    ) -> Option<Current<'g>> {
        if !mutant::mark_expired() {
            return Some(cur);
        }
        if slot.seal_deadline() != deadline {
            // An in-place `expire`/`persist` landed after our load: judge the new deadline.
            return None;
        }
        let marked = cur.0.with_tag(Self::EXPIRED);
        match self
            .slot
            .compare_exchange(cur.0, marked, Ordering::AcqRel, Ordering::Acquire, guard)
        {
            Ok(_) => Some(Current(marked)),
            Err(e) if e.current == marked => Some(Current(marked)),
            Err(_) => None,
        }
    }

    /// The entry's slot and deadline as the expiry visitor reads them: `SeqCst`, for the
    /// store-load protocol of `engine::expiry`. `None` if the entry is dead.
    #[inline]
    pub(crate) fn load_for_visit<'g>(&self, guard: &'g Guard) -> Option<(Current<'g>, u64)> {
        let cur = Current(self.slot.load(Ordering::SeqCst, guard));
        let slot = cur.slot()?;
        Some((cur, deadline_of(slot.word.load(Ordering::SeqCst))))
    }

    /// Replaces `cur` (a live-or-expired slot loaded from this entry under `guard`) with `new`,
    /// sealing `cur` first. The CAS expects `cur` exactly, tag included: a writer that judged the
    /// key live passes the untagged pointer and fails if the slot was marked meanwhile. On failure
    /// `new` is handed back for reuse.
    ///
    /// `SeqCst`: the Release half publishes `new`; the total order is needed by the expiry
    /// scheduler (a writer's slot CAS followed by its load of `scheduled`).
    ///
    /// `deadline_sealed`: the caller already sealed `cur`'s deadline word (to check it).
    pub(crate) fn replace(
        &self,
        cur: Current<'_>,
        new: Owned<Slot>,
        deadline_sealed: bool,
        guard: &Guard,
    ) -> Result<(), Owned<Slot>> {
        let Some(old) = cur.slot() else {
            debug_assert!(false, "a dead entry is never revived");
            return Err(new);
        };
        old.seal(deadline_sealed);
        match mutant::replace(&self.slot, cur.0, new, guard) {
            Ok(()) => {
                if mutant::free_now() {
                    // SAFETY: none, on purpose (mutant `free_now`): frees a slot that pinned
                    // readers may still hold, to show the reclamation model and miri catch it.
                    drop(unsafe { cur.0.with_tag(0).into_owned() });
                } else if mutant::retire_replaced() {
                    // SAFETY: reclamation argument of the module docs: the CAS unlinked `cur`
                    // from the only place it was reachable, and readers hold it only under guards.
                    unsafe { retire(guard, cur.0) };
                }
                Ok(())
            }
            Err(new) => Err(new),
        }
    }

    /// Kills the entry if its slot is still `cur` (tag included): seals the slot and installs the
    /// tombstone. Returns whether this call killed it. `deadline_sealed` as for `replace`.
    pub(crate) fn kill(&self, cur: Current<'_>, deadline_sealed: bool, guard: &Guard) -> bool {
        let Some(old) = cur.slot() else {
            return false;
        };
        old.seal(deadline_sealed);
        match self.slot.compare_exchange(
            cur.0,
            Shared::null(),
            Ordering::SeqCst,
            Ordering::Acquire,
            guard,
        ) {
            Ok(_) => {
                // SAFETY: as in `replace`: the CAS made `cur` unreachable.
                unsafe { retire(guard, cur.0) };
                true
            }
            Err(_) => false,
        }
    }

    /// Kills the entry whatever its slot holds (used by `clear`). Returns the slot it killed
    /// (retired, readable while `guard` is held), `None` if the entry was already dead.
    pub(crate) fn kill_any<'g>(&self, guard: &'g Guard) -> Option<&'g Slot> {
        if mutant::kill_by_store() {
            // MUTANT `double_retire`: load then store instead of a CAS loop, so two killers can
            // both retire the same slot.
            let old = self.slot.load(Ordering::Acquire, guard);
            self.slot.store(Shared::null(), Ordering::SeqCst);
            if old.is_null() {
                return None;
            }
            // SAFETY: none (mutant only): deliberately wrong, two killers can both retire `old`.
            unsafe { guard.defer_destroy(old.with_tag(0)) };
            return Current(old).slot();
        }
        // A kill must seal the slot it removes (a counter could otherwise take an add after it
        // was unlinked), so this is a CAS loop of `kill`, not one swap.
        loop {
            let cur = self.load(guard);
            cur.slot()?;
            if self.kill(cur, false, guard) {
                return cur.slot();
            }
        }
    }

    /// Stores `new` into the entry whatever it holds, even a tombstone. Breaks the state machine:
    /// used only by the mutant `revive_dead` of `loom-tests/mutants` (the replaced slot, if any,
    /// is leaked rather than retired, so the mutant frees nothing twice).
    pub(crate) fn revive(&self, new: Owned<Slot>, _guard: &Guard) {
        self.slot.store(new, Ordering::SeqCst);
    }

    /// Takes the slot back out of an entry that was never shared (a rejected insert).
    pub(crate) fn into_slot(mut self) -> Option<Owned<Slot>> {
        // `&mut self` proves no other thread can see this entry, so no guard is needed.
        let slot = std::mem::replace(&mut self.slot, Atomic::null());
        // SAFETY: we own the entry exclusively (it was never published), so the slot pointer,
        // if non-null, is uniquely owned by this `Atomic` and nobody else can free or read it.
        unsafe { slot.try_into_owned() }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // An entry is dropped with a slot in it only when the store itself is dropped: every
        // entry with a slot is live or expired, and the table holds it until it is killed (the
        // slot is then null). The store is dropped only once no handle is left, so no thread can
        // be reading the slot: it is freed at once, without pinning (which a drop during thread
        // teardown, or under loom after a failed model, could not do).
        let slot = std::mem::replace(&mut self.slot, Atomic::null());
        // SAFETY: as argued above, nobody else can reach the slot any more, and `&mut self`
        // proves this is the only reference to the entry.
        drop(unsafe { slot.try_into_owned() });
    }
}
