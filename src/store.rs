//! The public face: [`Store`], [`StoreBuilder`] and [`Ttl`].
//!
//! Every method here is a short loop over the raw modules: find the key's entry in the table
//! (`table.rs`), load its slot (`entry.rs`), decide, and CAS. No method holds a lock across a
//! decision; the only locks are flurry's per-bin write locks inside the table and the expiry
//! engine's schedule buffers (`expiry.rs`).

use std::fmt;
use std::time::Duration;

use crossbeam_epoch::Owned;

#[cfg(not(scriptling_kv_loom))]
use crate::cleaner;
use crate::cleaner::Shutdown;
use crate::clock::{Clock, NEVER};
use crate::entry::{Entry, Slot};
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::glob::Pattern;
use crate::key::Key;
use crate::sync::std_only;
use crate::sync::Arc;
use crate::table::{Pin, Table};
use crate::value::Value;

/// Time to live of a key, as reported by [`Store::ttl`].
///
/// ```
/// use std::time::Duration;
/// use scriptling_kv::{Store, Ttl};
///
/// let store = Store::new();
/// store.set_with_ttl("session", "bob", Duration::from_secs(10));
/// store.set("config", "on");
/// assert_eq!(store.ttl("session").as_secs(), 10);
/// assert_eq!(store.ttl("config"), Ttl::Persistent);
/// assert_eq!(store.ttl("nope"), Ttl::Missing);
/// assert_eq!((Ttl::Persistent.as_secs(), Ttl::Missing.as_secs()), (-1, -2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist (or has expired).
    Missing,
    /// The key exists and has no expiry.
    Persistent,
    /// The key exists and expires after this much more time (never zero for a live key).
    Expires(Duration),
}

impl Ttl {
    /// The original library's encoding: `-2` missing, `-1` persistent, otherwise the whole
    /// seconds remaining, **rounded up** (so a live key never reports 0, and right after a 10 s
    /// TTL is set it reports 10). Saturates at `i64::MAX`.
    pub fn as_secs(&self) -> i64 {
        match self {
            Ttl::Missing => -2,
            Ttl::Persistent => -1,
            Ttl::Expires(d) => {
                let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
                i64::try_from(secs).unwrap_or(i64::MAX)
            }
        }
    }
}

/// Builds a [`Store`]; see each method for its default.
///
/// ```
/// use std::time::Duration;
/// use scriptling_kv::Store;
///
/// let store = Store::builder()
///     .cleanup_interval(Duration::from_secs(5))
///     .initial_capacity(10_000)
///     .build();
/// store.set("k", 1);
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct StoreBuilder {
    cleanup_interval: Duration,
    background_cleanup: bool,
    initial_capacity: usize,
    clock: Option<Clock>,
}

impl Default for StoreBuilder {
    fn default() -> Self {
        StoreBuilder {
            cleanup_interval: Duration::from_secs(60),
            background_cleanup: true,
            initial_capacity: 0,
            clock: None,
        }
    }
}

impl StoreBuilder {
    /// How often the background cleaner removes expired keys. Default: 60 s, as the original.
    /// A zero interval is raised to 1 ms. Expired keys are absent whether or not they were
    /// removed; this only bounds how long their memory lingers.
    pub fn cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Whether to run a background cleaner thread (named `scriptling-kv-cleaner`, one per store,
    /// ending as soon as the last handle is dropped). Default: `true`. With `false` there is no
    /// thread and the owner calls [`Store::purge_expired`] when it likes.
    pub fn background_cleanup(mut self, enabled: bool) -> Self {
        self.background_cleanup = enabled;
        self
    }

    /// Room for this many keys before the table first grows. Default: 0 (grow on demand).
    pub fn initial_capacity(mut self, capacity: usize) -> Self {
        self.initial_capacity = capacity;
        self
    }

    /// Runs the store on a hand-advanced clock instead of the monotonic one (feature
    /// `test-util`). See [`TestClock`](crate::TestClock).
    #[cfg(any(feature = "test-util", test))]
    pub fn test_clock(mut self, clock: crate::clock::TestClock) -> Self {
        self.clock = Some(clock.clock());
        self
    }

    /// Builds the store (and starts its cleaner thread, if enabled). If the operating system
    /// refuses to start the thread, the store works without it: expired keys are still absent,
    /// and [`Store::purge_expired`] still reclaims them.
    pub fn build(self) -> Store {
        let clock = self.clock.unwrap_or_else(Clock::real);
        let inner = std_only::Arc::new(Inner {
            table: Table::with_capacity(self.initial_capacity),
            expiry: Expiry::new(clock.now()),
            clock,
            shutdown: std_only::Arc::new(Shutdown::default()),
            config: (self.background_cleanup, self.cleanup_interval),
        });
        #[cfg(not(scriptling_kv_loom))]
        if self.background_cleanup {
            // Failing to spawn is not fatal (see above); there is nothing better to do with the
            // error in a constructor that the contract says cannot fail.
            let _ = cleaner::spawn(
                std_only::Arc::downgrade(&inner),
                inner.shutdown.clone(),
                self.cleanup_interval,
                |inner: &Inner| {
                    inner.purge();
                },
            );
        }
        Store { inner }
    }
}

struct Inner {
    table: Table,
    expiry: Expiry,
    clock: Clock,
    shutdown: std_only::Arc<Shutdown>,
    /// (background cleanup, interval), for `Debug`.
    config: (bool, Duration),
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.stop();
    }
}

impl Inner {
    fn purge(&self) -> usize {
        self.expiry.purge(&self.table, &self.clock)
    }
}

/// One clock reading, taken on first use and then reused, so that one attempt of an update
/// judges liveness and computes a new deadline at the same instant (and a `set` on a key without
/// a TTL never reads the clock).
struct Now<'c> {
    clock: &'c Clock,
    reading: std::cell::Cell<Option<u64>>,
}

impl<'c> Now<'c> {
    /// A reading taken on first use, or `reading` if the caller already has one.
    fn new(clock: &'c Clock, reading: Option<u64>) -> Self {
        Now {
            clock,
            reading: std::cell::Cell::new(reading),
        }
    }

    fn get(&self) -> u64 {
        match self.reading.get() {
            Some(t) => t,
            None => {
                let t = self.clock.now();
                self.reading.set(Some(t));
                t
            }
        }
    }
}

/// What an update decision sees of a live key: its (final) value and its deadline.
#[derive(Clone, Copy)]
struct View<'a> {
    value: &'a Value,
    deadline: u64,
}

/// What an update closure decided, given the key's live slot (or `None` if absent).
enum Step<R> {
    /// Return this without writing.
    Done(R),
    /// Install this slot, then return this.
    Write(Owned<Slot>, R),
}

/// A concurrent in-memory key-value store with per-key TTL.
///
/// A `Store` is a cheap handle: clones share one store (an `Arc` inside), and it is
/// `Send + Sync + 'static`, so it can be put in an application's state and used from every
/// request handler, task and thread. Reads ([`get`](Store::get), [`get_with`](Store::get_with),
/// [`exists`](Store::exists), [`ttl`](Store::ttl), [`keys`](Store::keys)) take no lock; every
/// single-key operation is linearizable (see the crate docs, "Consistency").
///
/// ```
/// use std::time::Duration;
/// use scriptling_kv::{Store, Value};
///
/// let store = Store::new();
/// store.set("user:1", "alice");
/// store.set_with_ttl("session:abc", vec!["cart", "prefs"], Duration::from_secs(3600));
/// assert_eq!(store.get("user:1"), Some(Value::from("alice")));
/// assert_eq!(store.incr("page_views", 1), Ok(1));
/// assert_eq!(store.incr("page_views", 5), Ok(6));
/// assert_eq!(store.keys("user:*").unwrap(), vec!["user:1".to_string()]);
/// assert!(store.delete("user:1"));
/// ```
#[derive(Clone)]
pub struct Store {
    inner: std_only::Arc<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (background_cleanup, cleanup_interval) = self.inner.config;
        f.debug_struct("Store")
            .field("len", &self.len())
            .field("background_cleanup", &background_cleanup)
            .field("cleanup_interval", &cleanup_interval)
            .finish()
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// A store with the default settings: same as `Store::builder().build()`.
    pub fn new() -> Store {
        Store::builder().build()
    }

    /// A builder for a store with non-default settings.
    pub fn builder() -> StoreBuilder {
        StoreBuilder::default()
    }

    /// The process-wide store, created on first use (scriptling's shared default store).
    ///
    /// ```
    /// use scriptling_kv::Store;
    ///
    /// Store::global().set("greeting", "hi");
    /// assert_eq!(Store::global().get_or("greeting", ""), "hi".into());
    /// ```
    #[cfg(not(scriptling_kv_loom))]
    pub fn global() -> &'static Store {
        static GLOBAL: std::sync::OnceLock<Store> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(Store::new)
    }

    #[inline]
    fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    /// Whether `slot` is live now. Reads the clock only if the slot has a deadline.
    #[inline]
    fn live<'s>(&self, slot: &'s Slot) -> Option<&'s Slot> {
        (!slot.has_deadline() || slot.is_live_at(self.now())).then_some(slot)
    }

    /// The key's entry and live slot under `pin`, if any.
    #[inline]
    fn read<'g>(&'g self, key: &str, pin: &'g Pin<'_>) -> Option<&'g Slot> {
        let entry = self.inner.table.get(key, pin)?;
        let slot = entry.load(&pin.epoch).slot()?;
        self.live(slot)
    }

    /// The update loop every write goes through.
    ///
    /// `decide` sees the key's live slot (`None` if missing, expired or dead), the time the
    /// decision is made at (read at most once per attempt, after the slot was loaded, and only if
    /// needed: liveness and any new deadline are judged on the same reading), plus a spare
    /// allocation handed back by a failed CAS, and either finishes or asks for a slot to be installed. Installing into an
    /// existing entry is a CAS from the slot `decide` saw (so the decision is atomic with the
    /// write); a missing or dead key gets a new entry through `insert_if_absent` (racing
    /// creators agree on one). A dead entry is unlinked by whoever finds it.
    fn update<R>(
        &self,
        key: &str,
        decide: impl FnMut(Option<View<'_>>, &Now<'_>, &mut Option<Owned<Slot>>) -> Step<R>,
    ) -> R {
        self.update_at(key, None, decide)
    }

    /// [`update`](Self::update), with the clock reading the caller already took (if any) used
    /// for every attempt's decision instead of a new one: `set_with_ttl` judges nothing on the old
    /// slot, so the reading its deadline came from serves, and it reads the clock once.
    fn update_at<R>(
        &self,
        key: &str,
        reading: Option<u64>,
        mut decide: impl FnMut(Option<View<'_>>, &Now<'_>, &mut Option<Owned<Slot>>) -> Step<R>,
    ) -> R {
        let table = &self.inner.table;
        let pin = table.pin();
        let mut spare: Option<Owned<Slot>> = None;
        loop {
            let Some(entry) = table.get(key, &pin) else {
                let (slot, result) =
                    match decide(None, &Now::new(&self.inner.clock, reading), &mut spare) {
                        Step::Done(r) => return r,
                        Step::Write(slot, r) => (slot, r),
                    };
                let deadline = slot.deadline;
                let fresh = Arc::new(Entry::new(Key::new(key), slot));
                match table.insert_if_absent(fresh, &pin) {
                    Ok(entry) => {
                        self.inner.expiry.schedule(&entry, deadline);
                        return result;
                    }
                    Err((_, rejected)) => {
                        // MUTANT (loom-tests/mutants): the loser returns as if it had created it.
                        #[cfg(scriptling_kv_mutant = "lost_create")]
                        return result;
                        // Lost the race to create the key: decide again on the winner's entry.
                        spare = Arc::try_unwrap(rejected).ok().and_then(Entry::into_slot);
                        continue;
                    }
                }
            };
            loop {
                let current = entry.load(&pin.epoch);
                let Some(slot) = current.slot() else {
                    // MUTANT (loom-tests/mutants): a dead entry is treated as absent and written
                    // into (revived) instead of being unlinked and replaced by a new entry.
                    #[cfg(scriptling_kv_mutant = "revive_dead")]
                    {
                        let (new, r) =
                            match decide(None, &Now::new(&self.inner.clock, reading), &mut spare) {
                                Step::Done(r) => return r,
                                Step::Write(new, r) => (new, r),
                            };
                        match entry.replace(current, new, &pin.epoch) {
                            Ok(()) => return r,
                            Err(back) => spare = Some(back),
                        }
                        continue;
                    }
                    table.remove_if_same(&entry, &pin);
                    break;
                };
                // The clock is read after the load (and only if needed), so liveness is judged
                // on the slot the CAS below compares against.
                let now = Now::new(&self.inner.clock, reading);
                let live = !slot.has_deadline() || slot.is_live_at(now.get());
                // Seal a counter before deciding on its value, so the value decided on is final
                // (entry.rs, "Counters").
                slot.seal();
                let value = slot.value();
                let view = live.then_some(View {
                    value: &value,
                    deadline: slot.deadline,
                });
                let (new, result) = match decide(view, &now, &mut spare) {
                    Step::Done(r) => return r,
                    Step::Write(new, r) => (new, r),
                };
                let deadline = new.deadline;
                match entry.replace(current, new, &pin.epoch) {
                    Ok(()) => {
                        self.inner.expiry.schedule(&entry, deadline);
                        return result;
                    }
                    Err(back) => spare = Some(back),
                }
            }
        }
    }

    /// A slot holding `value` until `deadline`, reusing `spare` if there is one.
    fn make_slot(spare: &mut Option<Owned<Slot>>, value: Value, deadline: u64) -> Owned<Slot> {
        match spare.take() {
            Some(mut slot) => {
                *slot = Slot::new(value, deadline);
                slot
            }
            None => Slot::boxed(value, deadline),
        }
    }

    /// Stores `value` under `key` until `deadline`, replacing the old value and deadline.
    /// `reading` is the clock reading `deadline` was computed from, if any.
    fn put(&self, key: &str, value: Value, deadline: u64, reading: Option<u64>) {
        // MUTANT (loom-tests/mutants): installs the value (keeping the old deadline), then the
        // deadline, in two writes.
        #[cfg(scriptling_kv_mutant = "split_ttl")]
        {
            self.update(key, |cur, _, _| {
                let old = cur.map_or(NEVER, |s| s.deadline);
                Step::Write(Owned::new(Slot::new(value.clone(), old)), ())
            });
            self.update(key, |cur, _, _| match cur {
                Some(s) => Step::Write(Owned::new(Slot::new(s.value.clone(), deadline)), ()),
                None => Step::Done(()),
            });
            return;
        }
        let mut value = Some(value);
        self.update_at(key, reading, |_, _, spare| {
            // The first attempt moves `value` into a slot; a retry gets that slot back as `spare`.
            let slot = match (spare.take(), value.take()) {
                (Some(slot), _) => slot,
                (None, Some(value)) => Slot::boxed(value, deadline),
                (None, None) => unreachable!("a failed CAS always hands its slot back"),
            };
            Step::Write(slot, ())
        });
    }

    /// Stores `value` under `key` with no expiry, replacing any previous value **and** TTL.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::{Store, Ttl};
    ///
    /// let store = Store::new();
    /// store.set_with_ttl("k", 1, Duration::from_secs(60));
    /// store.set("k", 2);
    /// assert_eq!(store.ttl("k"), Ttl::Persistent);
    /// ```
    pub fn set(&self, key: &str, value: impl Into<Value>) {
        self.put(key, value.into(), NEVER, None);
    }

    /// Stores `value` under `key`, expiring after `ttl`; `Duration::ZERO` means no expiry (as
    /// `ttl=0` in the original). Replaces any previous value and TTL. Huge TTLs saturate (about
    /// 584 years) instead of wrapping.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set_with_ttl("session:abc", "bob", Duration::from_secs(3600));
    /// assert_eq!(store.ttl("session:abc").as_secs(), 3600);
    /// ```
    pub fn set_with_ttl(&self, key: &str, value: impl Into<Value>, ttl: Duration) {
        // The deadline counts from the time of the call; `update` writes without deciding.
        let now = self.now();
        self.put(
            key,
            value.into(),
            Clock::deadline_after(now, ttl),
            Some(now),
        );
    }

    /// An owned deep copy of the value, or `None` if the key is missing or expired. A stored
    /// [`Value::Null`] is `Some(Value::Null)`. What it returns is the caller's to change.
    ///
    /// ```
    /// use scriptling_kv::{Store, Value};
    ///
    /// let store = Store::new();
    /// store.set("list", vec![1, 2]);
    /// let mut copy = store.get("list").unwrap();
    /// if let Value::List(items) = &mut copy { items.push(Value::Int(3)); }
    /// assert_eq!(store.get("list"), Some(Value::from(vec![1, 2])));
    /// ```
    pub fn get(&self, key: &str) -> Option<Value> {
        self.get_with(key, Value::clone)
    }

    /// The value, or `default` if the key is missing or expired.
    ///
    /// ```
    /// use scriptling_kv::{Store, Value};
    ///
    /// let store = Store::new();
    /// assert_eq!(store.get_or("counter", 0), Value::Int(0));
    /// ```
    pub fn get_or(&self, key: &str, default: impl Into<Value>) -> Value {
        self.get(key).unwrap_or_else(|| default.into())
    }

    /// Zero-copy read: calls `f` on the stored value in place and returns what it returns, or
    /// `None` if the key is missing or expired. `f` never blocks writers (they install new
    /// versions meanwhile; `f` keeps seeing the one it was given), but a long `f` delays the
    /// reclamation of replaced values, so keep it short.
    ///
    /// ```
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set("name", "a long string we do not want to copy");
    /// assert_eq!(store.get_with("name", |v| v.as_str().map(str::len)), Some(Some(36)));
    /// ```
    pub fn get_with<R>(&self, key: &str, f: impl FnOnce(&Value) -> R) -> Option<R> {
        let pin = self.inner.table.pin();
        self.read(key, &pin).map(|slot| f(&slot.value()))
    }

    /// Removes the key. Returns `true` if a live (unexpired) key was removed.
    ///
    /// ```
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set("k", 1);
    /// assert!(store.delete("k"));
    /// assert!(!store.delete("k"));
    /// ```
    pub fn delete(&self, key: &str) -> bool {
        let table = &self.inner.table;
        let pin = table.pin();
        let Some(entry) = table.get(key, &pin) else {
            return false;
        };
        loop {
            let current = entry.load(&pin.epoch);
            let Some(slot) = current.slot() else {
                // Already dead: the key is absent; make sure it is unlinked.
                table.remove_if_same(&entry, &pin);
                return false;
            };
            // Judge liveness before the kill: the kill is the linearization point, and the slot
            // it removes is the one judged (the CAS fails if it changed).
            let was_live = self.live(slot).is_some();
            // MUTANT (loom-tests/mutants): unlinks the entry without killing it first.
            #[cfg(scriptling_kv_mutant = "no_tombstone")]
            {
                table.remove_if_same(&entry, &pin);
                return was_live;
            }
            if entry.kill(current, &pin.epoch) {
                table.remove_if_same(&entry, &pin);
                self.inner.expiry.note_killed(&entry);
                return was_live;
            }
        }
    }

    /// Atomically adds `delta` to an integer and returns the new value.
    ///
    /// A missing or expired key is created holding `delta`, with no TTL. A live
    /// [`Value::Int`] gets a checked add and **keeps its TTL**. Any other value is
    /// [`Error::NotAnInteger`]; a result outside `i64` is [`Error::Overflow`]; in both cases
    /// the store is unchanged. Concurrent `incr`s never lose an update.
    ///
    /// ```
    /// use scriptling_kv::{Error, Store};
    ///
    /// let store = Store::new();
    /// assert_eq!(store.incr("hits", 1), Ok(1));
    /// assert_eq!(store.incr("hits", -3), Ok(-2));
    /// store.set("max", i64::MAX);
    /// assert_eq!(store.incr("max", 1), Err(Error::Overflow));
    /// ```
    pub fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        // Fast path: a live counter takes the add in place, one CAS and no allocation
        // (entry.rs, "Counters"). Anything else (missing, expired, sealed, not a counter, a sum
        // outside the cell, overflow) goes through the general update loop.
        {
            let pin = self.inner.table.pin();
            if let Some(n) = self
                .read(key, &pin)
                .and_then(|slot| slot.add_in_place(delta))
            {
                return Ok(n);
            }
        }
        self.update(key, |current, _, spare| match current {
            None => Step::Write(Self::make_slot(spare, Value::Int(delta), NEVER), Ok(delta)),
            Some(slot) => match *slot.value {
                Value::Int(n) => match n.checked_add(delta) {
                    Some(sum) => Step::Write(
                        Self::make_slot(spare, Value::Int(sum), slot.deadline),
                        Ok(sum),
                    ),
                    None => Step::Done(Err(Error::Overflow)),
                },
                _ => Step::Done(Err(Error::NotAnInteger)),
            },
        })
    }

    /// Live keys matching the glob `pattern`, sorted ascending (byte order).
    ///
    /// Redis `KEYS` syntax: `*` any run of characters (including `/` and `:`), `?` one
    /// character, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` a literal `x`. A malformed pattern
    /// (an unclosed `[`, a trailing `\`) is [`Error::InvalidPattern`]. Matching a key takes
    /// `O(pattern × key)` time whatever the pattern. Not a snapshot: a key live for the whole call
    /// is listed, a key absent for the whole call is not.
    ///
    /// ```
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// for k in ["user:2", "user:1", "session:x"] { store.set(k, true); }
    /// assert_eq!(store.keys("user:*").unwrap(), ["user:1", "user:2"]);
    /// assert!(store.keys("user:[").is_err());
    /// ```
    pub fn keys(&self, pattern: &str) -> Result<Vec<String>> {
        let pattern = Pattern::compile(pattern)?;
        let prefix = pattern.literal_prefix();
        let everything = pattern.matches_everything();
        let table = &self.inner.table;
        let pin = table.pin();
        let mut now = None;
        let mut out = Vec::new();
        table.for_each(&pin, |key, entry| {
            // Filter on the table's own copy of the key (inline in its node for short keys), so
            // keys that don't match cost no visit to their entry.
            if !key.as_bytes().starts_with(prefix.as_bytes()) {
                return;
            }
            let key = key.as_str();
            if !(everything || pattern.matches(key)) {
                return;
            }
            let Some(slot) = entry.load(&pin.epoch).slot() else {
                return;
            };
            if slot.has_deadline() && !slot.is_live_at(*now.get_or_insert_with(|| self.now())) {
                return;
            }
            out.push(key.to_owned());
        });
        // The walk is not a snapshot: a key deleted and re-created while it runs can be met
        // twice (its old entry, then the new one appended further along a bin).
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Whether the key is present and not expired.
    pub fn exists(&self, key: &str) -> bool {
        let pin = self.inner.table.pin();
        self.read(key, &pin).is_some()
    }

    /// The key's time to live: [`Ttl::Missing`], [`Ttl::Persistent`], or
    /// [`Ttl::Expires`] with the time remaining.
    pub fn ttl(&self, key: &str) -> Ttl {
        let pin = self.inner.table.pin();
        let Some(entry) = self.inner.table.get(key, &pin) else {
            return Ttl::Missing;
        };
        let Some(slot) = entry.load(&pin.epoch).slot() else {
            return Ttl::Missing;
        };
        if !slot.has_deadline() {
            return Ttl::Persistent;
        }
        // MUTANT (loom-tests/mutants): reads the deadline from a second load of the slot.
        #[cfg(scriptling_kv_mutant = "ttl_double_load")]
        let Some(slot) = entry.load(&pin.epoch).slot() else {
            return Ttl::Missing;
        };
        let now = self.now();
        if slot.is_live_at(now) {
            Ttl::Expires(Duration::from_nanos(slot.deadline - now))
        } else {
            Ttl::Missing
        }
    }

    /// Sets a new TTL on a live key, leaving its value untouched; `false` if the key is missing
    /// or expired. `Duration::ZERO` removes the TTL. This is the correct way to start a
    /// rate-limit window: unlike `set(key, 1, ttl)`, it keeps concurrent increments.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// if store.incr("rate:1.2.3.4", 1) == Ok(1) {
    ///     store.expire("rate:1.2.3.4", Duration::from_secs(60));
    /// }
    /// assert_eq!(store.ttl("rate:1.2.3.4").as_secs(), 60);
    /// ```
    pub fn expire(&self, key: &str, ttl: Duration) -> bool {
        self.update(key, |current, now, spare| match current {
            None => Step::Done(false),
            Some(slot) => Step::Write(
                Self::make_slot(
                    spare,
                    slot.value.clone(),
                    // The same reading the slot was judged live at.
                    Clock::deadline_after(now.get(), ttl),
                ),
                true,
            ),
        })
    }

    /// Removes the TTL of a live key. `true` only if the key was live and had a TTL.
    pub fn persist(&self, key: &str) -> bool {
        self.update(key, |current, _, spare| match current {
            Some(slot) if slot.deadline != NEVER => {
                Step::Write(Self::make_slot(spare, slot.value.clone(), NEVER), true)
            }
            _ => Step::Done(false),
        })
    }

    /// Removes every key. Not a snapshot: every key that existed when it began is removed, unless
    /// it is set again concurrently.
    pub fn clear(&self) {
        let table = &self.inner.table;
        let pin = table.pin();
        table.for_each(&pin, |_, entry| {
            // MUTANT (loom-tests/mutants): kills by a CAS from the slot it loaded and gives up if
            // that slot changed meanwhile, instead of an unconditional swap.
            #[cfg(scriptling_kv_mutant = "clear_cas_once")]
            {
                let current = entry.load(&pin.epoch);
                if current.slot().is_some() && !entry.kill(current, &pin.epoch) {
                    return;
                }
                table.remove_if_same(entry, &pin);
                return;
            }
            if entry.kill_any(&pin.epoch) {
                self.inner.expiry.note_killed(entry);
            }
            table.remove_if_same(entry, &pin);
        });
    }

    /// Entries held now. May count expired entries the cleaner has not removed yet.
    pub fn len(&self) -> usize {
        self.inner.table.len()
    }

    /// Whether [`len`](Store::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes expired entries now (what the background cleaner does each tick), on the calling
    /// thread, and returns how many it removed. Costs what expired, not what is stored.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::builder().background_cleanup(false).build();
    /// store.set_with_ttl("k", 1, Duration::from_millis(1));
    /// std::thread::sleep(Duration::from_millis(5));
    /// assert_eq!(store.purge_expired(), 1);
    /// assert!(store.is_empty());
    /// ```
    pub fn purge_expired(&self) -> usize {
        self.inner.purge()
    }

    /// Expiry records pending in the engine (for tests of its memory bound).
    #[doc(hidden)]
    pub fn __pending_expiry_records(&self) -> usize {
        self.inner.expiry.pending()
    }
}
