//! The public face: [`Store`], [`StoreBuilder`] and [`Ttl`].
//!
//! Every method here is a short loop over the raw modules: find the key's entry in the table
//! (`table.rs`), observe its slot with the one liveness rule (`entry.rs`), decide, and CAS
//! (`write.rs`). No method holds a lock across a decision. The locks of the crate, none of which a
//! reader takes: flurry's per-bin write locks inside the table (a writer that inserts or unlinks an
//! entry, for the length of that one bin update), the expiry engine's schedule buffers (a writer
//! that sets a TTL, for one `Vec::push`), and the expiry engine's wheel mutex (a purge or a
//! compaction, for its bookkeeping; `delete` and `clear` only `try_lock` it).

pub(crate) mod backend;
pub(crate) mod conditional;
pub(crate) mod flight;
pub(crate) mod glob;
mod persist;
pub(crate) mod shared;
pub(crate) mod stats;
pub(crate) mod weak;

use std::fmt;
use std::time::Duration;

#[cfg(not(scriptling_kv_loom))]
use crate::engine::cleaner;
use crate::engine::cleaner::Shutdown;
use crate::engine::clock::Clock;
use crate::engine::core::{Core, Settings};
use crate::engine::counters::Stats;
use crate::engine::evict::{Eviction, Listener, RemovalCause};
use crate::engine::sync::std_only;
use crate::error::Result;
use crate::store::glob::Pattern;
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
#[derive(Clone)]
pub struct StoreBuilder {
    cleanup_interval: Duration,
    background_cleanup: bool,
    initial_capacity: usize,
    record_stats: bool,
    max_keys: Option<usize>,
    /// `max_bytes` and `eviction` (`evict.rs`).
    pub(crate) max_bytes: Option<usize>,
    pub(crate) eviction: Eviction,
    listener: Option<Listener>,
    name: String,
    clock: Option<Clock>,
    /// `persist` and `on_persist_error` (`snapshot.rs`).
    pub(crate) persist: crate::snapshot::PersistOptions,
}

impl fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreBuilder")
            .field("cleanup_interval", &self.cleanup_interval)
            .field("background_cleanup", &self.background_cleanup)
            .field("initial_capacity", &self.initial_capacity)
            .field("record_stats", &self.record_stats)
            .field("max_keys", &self.max_keys)
            .field("max_bytes", &self.max_bytes)
            .field("eviction", &self.eviction)
            .field("removal_listener", &self.listener.is_some())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Default for StoreBuilder {
    fn default() -> Self {
        StoreBuilder {
            cleanup_interval: Duration::from_secs(60),
            background_cleanup: true,
            initial_capacity: 0,
            record_stats: false,
            max_keys: None,
            max_bytes: None,
            eviction: Eviction::VolatileTtl,
            listener: None,
            name: "default".to_owned(),
            clock: None,
            persist: Default::default(),
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

    /// Whether to count hits and misses ([`Store::stats`]). Default: `false`. Counting costs a
    /// relaxed add on a per-thread, cache-padded counter per read (`expired` and `evicted` are
    /// counted either way).
    pub fn record_stats(mut self, enabled: bool) -> Self {
        self.record_stats = enabled;
        self
    }

    /// Caps the store at `n` keys (at least 1): a write that creates a key beyond `n` first
    /// removes one (never the key it writes), by the [`eviction`](StoreBuilder::eviction) policy:
    /// by default expired keys and keys with a TTL before keys without one, the soonest deadline
    /// first (sampled, as Redis `volatile-ttl`); a key without a TTL goes only while no live key
    /// has one, the oldest first. Writers never wait for each other. With no write in progress
    /// the store holds at most `n` keys, whatever came before; with `T` threads writing at once,
    /// at most `n + T`. Evicted keys are counted in [`Stats::evicted`](crate::Stats) and reported
    /// to the [`removal_listener`](StoreBuilder::removal_listener). May be combined with
    /// [`max_bytes`](StoreBuilder::max_bytes). Default: no cap.
    ///
    /// ```
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::builder().max_keys(2).build();
    /// for k in ["a", "b", "c"] {
    ///     store.set(k, 1);
    /// }
    /// assert_eq!(store.len(), 2);
    /// assert!(!store.exists("a"), "the oldest key without a TTL went");
    /// assert_eq!(store.stats().evicted, 1);
    /// ```
    pub fn max_keys(mut self, n: usize) -> Self {
        self.max_keys = Some(n.max(1));
        self
    }

    /// Calls `f(key, value, cause)` once for every key the store removes on its own: expired
    /// keys removed by the cleaner or [`Store::purge_expired`] (and expired keys removed to make
    /// room), and keys evicted to respect [`max_keys`](StoreBuilder::max_keys). It runs after the
    /// removal, on the thread that removed the key (the cleaner thread, or a writer that made
    /// room), never while a lock of the store is held, so it may use the store. A key the
    /// application deletes or overwrites is not reported, even if it had expired before the
    /// cleaner reached it (that write removed it). A panic in `f` is caught and counted in
    /// [`Stats::listener_panics`](crate::Stats); the store and the cleaner thread go on.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use scriptling_kv::{RemovalCause, Store, TestClock};
    ///
    /// let clock = TestClock::new();
    /// let removed = Arc::new(Mutex::new(Vec::new()));
    /// let log = removed.clone();
    /// let store = Store::builder()
    ///     .test_clock(clock.clone())
    ///     .background_cleanup(false)
    ///     .removal_listener(move |key, _value, cause| log.lock().unwrap().push((key.to_string(), cause)))
    ///     .build();
    /// store.set_with_ttl("session:1", "bob", Duration::from_secs(60));
    /// clock.advance(Duration::from_secs(60));
    /// store.purge_expired();
    /// assert_eq!(*removed.lock().unwrap(), [("session:1".to_string(), RemovalCause::Expired)]);
    /// ```
    pub fn removal_listener(
        mut self,
        f: impl Fn(&str, &Value, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(std::sync::Arc::new(f));
        self
    }

    /// A name for the store, shown by its `Debug` and used as the `store` label of its metrics
    /// (`Store::publish_metrics`, feature `metrics`). Default: `"default"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Runs the store on a hand-advanced clock instead of the monotonic one (feature
    /// `test-util`). See [`TestClock`](crate::TestClock).
    #[cfg(any(feature = "test-util", test))]
    pub fn test_clock(mut self, clock: crate::engine::clock::TestClock) -> Self {
        self.clock = Some(clock.clock());
        self
    }

    /// Builds the store (and starts its cleaner thread, if enabled). If the operating system
    /// refuses to start the thread, the store works without it: expired keys are still absent,
    /// and [`Store::purge_expired`] still reclaims them.
    ///
    /// With [`persist`](StoreBuilder::persist), the snapshot is loaded and the directory
    /// checked here, and failures are reported (to the callback and in
    /// [`Store::persistence_status`]), never returned: [`try_build`](StoreBuilder::try_build)
    /// returns them as an `Err`.
    pub fn build(self) -> Store {
        let inner = std_only::Arc::new(Inner {
            core: Core::new(Settings {
                initial_capacity: self.initial_capacity,
                clock: self.clock.unwrap_or_else(Clock::real),
                record_stats: self.record_stats,
                max_keys: self.max_keys,
                max_bytes: self.max_bytes,
                eviction: self.eviction,
                listener: self.listener,
                count_changes: self.persist.target.is_some(),
            }),
            shutdown: std_only::Arc::new(Shutdown::default()),
            config: (self.background_cleanup, self.cleanup_interval),
            name: self.name,
            persistence: crate::snapshot::Persistence::new(&self.persist),
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
                    #[cfg(feature = "metrics")]
                    crate::store::stats::publish(inner);
                },
            );
        }
        let _last_handle = crate::snapshot::start(&inner);
        Store {
            _last_handle,
            inner,
        }
    }
}

/// What a store's handles share: the engine's state ([`Core`], reached through `Deref`) and what
/// only the public face needs (the cleaner's shutdown signal, the name, persistence).
pub(crate) struct Inner {
    pub(crate) core: Core,
    shutdown: std_only::Arc<Shutdown>,
    /// (background cleanup, interval), for `Debug`.
    config: (bool, Duration),
    /// The store's name (`StoreBuilder::name`).
    pub(crate) name: String,
    /// Periodic persistence, if built with `persist` (`snapshot`).
    pub(crate) persistence: Option<crate::snapshot::Persistence>,
}

impl crate::snapshot::Persisted for Inner {
    fn core(&self) -> &Core {
        &self.core
    }

    fn persistence(&self) -> Option<&crate::snapshot::Persistence> {
        self.persistence.as_ref()
    }
}

impl std::ops::Deref for Inner {
    type Target = Core;

    #[inline]
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.stop();
    }
}

/// A concurrent in-memory key-value store with per-key TTL.
///
/// A `Store` is a cheap handle: clones share one store (an `Arc` inside), and it is
/// `Send + Sync + 'static`, so it can be put in an application's state and used from every
/// request handler, task and thread. Reads ([`get`](Store::get), [`get_with`](Store::get_with),
/// [`exists`](Store::exists), [`ttl`](Store::ttl), [`keys`](Store::keys)) take no lock; every
/// single-key operation is linearizable (see the crate docs, "Consistency").
///
/// # Thread-local destructors
///
/// The table keeps a little per-thread state in thread-locals (flurry's collector, seize). A
/// thread-local's destructor may use a store if the thread had already used the store before
/// that thread-local was first touched: thread-locals are destroyed in the reverse order of
/// their first use, so the table's state is still there. In the other order the table's state
/// may be gone when the destructor runs, and the operation panics, which inside a thread-local
/// destructor aborts the process. (Checked by `tests/claims.rs`,
/// `a_thread_local_destructor_can_use_a_store_the_thread_used_first`.)
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
    /// With persistence: shared by the handles, its drop (before `inner`'s) runs the save at the
    /// last drop (`snapshot.rs`).
    pub(crate) _last_handle: Option<std_only::Arc<crate::snapshot::LastHandle>>,
    pub(crate) inner: std_only::Arc<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (background_cleanup, cleanup_interval) = self.inner.config;
        f.debug_struct("Store")
            .field("name", &self.inner.name)
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
        self.inner.set(key, value.into(), None);
    }

    /// Stores `value` under `key`, expiring `ttl` from now, replacing any previous value and
    /// TTL. The TTL counts from one clock reading taken during the call, before the write; huge
    /// TTLs saturate (about 292 years) instead of wrapping.
    ///
    /// A `Duration` is always a deadline: `Duration::ZERO` is expired at once, so the key is not
    /// live afterwards (whatever it held is gone, and no reader ever sees `value`; it is not an
    /// expiry by the store: no listener call, no `expired` count). No expiry is [`set`](Store::set).
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set_with_ttl("session:abc", "bob", Duration::from_secs(3600));
    /// assert_eq!(store.ttl("session:abc").as_secs(), 3600);
    /// // A TTL computed as zero never makes a key immortal.
    /// store.set_with_ttl("session:abc", "bob", Duration::ZERO);
    /// assert!(!store.exists("session:abc"));
    /// ```
    pub fn set_with_ttl(&self, key: &str, value: impl Into<Value>, ttl: Duration) {
        self.inner.set(key, value.into(), Some(ttl));
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

    /// `get` without counting a hit or a miss (for the crate's own lookups).
    pub(crate) fn peek(&self, key: &str) -> Option<Value> {
        self.inner.peek(key)
    }

    /// Counts one read in the stats (if recorded).
    #[inline]
    pub(crate) fn count_lookup(&self, hit: bool) {
        self.inner.counters.lookup(hit);
    }

    /// The store's name ([`StoreBuilder::name`]).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The store's counters: hits and misses (with
    /// [`record_stats(true)`](StoreBuilder::record_stats)), keys expired and evicted, and in a
    /// bounded store the accounted bytes. Constant cost, whatever the store holds. See [`Stats`].
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.counters.sum();
        if let Some(bound) = &self.inner.bound {
            stats.bytes_used = bound.bytes() as u64;
        }
        stats
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
    /// `None` if the key is missing or expired.
    ///
    /// `f` never blocks writers: they install new versions meanwhile, and `f` keeps seeing the
    /// one it was given. What a long `f` costs: the thread stays pinned in crossbeam-epoch (and
    /// in the table's collector) while it runs, so no memory retired anywhere in the process
    /// through crossbeam-epoch (this store's replaced values, and any other crossbeam-epoch user's
    /// garbage) is freed until it returns. Keep it short; copy out what you need.
    ///
    /// ```
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set("name", "a long string we do not want to copy");
    /// assert_eq!(store.get_with("name", |v| v.as_str().map(str::len)), Some(Some(36)));
    /// ```
    pub fn get_with<R>(&self, key: &str, f: impl FnOnce(&Value) -> R) -> Option<R> {
        self.inner.get_with(key, f)
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
        self.inner.delete(key)
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
        self.inner.incr(key, delta, None)
    }

    /// Live keys matching the glob `pattern`, sorted ascending (byte order).
    ///
    /// Redis `KEYS` syntax: `*` any run of characters (including `/` and `:`), `?` one
    /// character, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` a literal `x`. A malformed pattern
    /// (an unclosed `[`, a trailing `\`) is [`Error::InvalidPattern`]. Matching a key takes
    /// `O(pattern × key)` time whatever the pattern.
    ///
    /// Not a snapshot: a key live for the whole call is listed, a key absent for the whole call
    /// (missing, expired, or written already expired during the call) is not, and a key that
    /// changes during the call may or may not be. A key is listed only if it was live at some
    /// instant of the call: its slot is judged against a clock reading taken after the walk
    /// loaded it (one reading at the end of the walk; a key whose deadline passed before that
    /// reading is looked up and judged again).
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
        let everything = pattern.matches_everything();
        let mut out = self.inner.keys_where(pattern.literal_prefix(), |key| {
            everything || pattern.matches(key)
        });
        // The walk is not a snapshot: a key deleted and re-created while it runs can be met
        // twice (its old entry, then the new one appended further along a bin).
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Whether the key is present and not expired.
    pub fn exists(&self, key: &str) -> bool {
        self.inner.exists(key)
    }

    /// The key's time to live: [`Ttl::Missing`], [`Ttl::Persistent`], or
    /// [`Ttl::Expires`] with the time remaining.
    pub fn ttl(&self, key: &str) -> Ttl {
        match self.inner.ttl(key) {
            None => Ttl::Missing,
            Some(None) => Ttl::Persistent,
            Some(Some(left)) => Ttl::Expires(left),
        }
    }

    /// Sets a new TTL on a live key, leaving its value untouched; `false` if the key is missing
    /// or expired. The new deadline is `ttl` from now; `Duration::ZERO` expires the key at once
    /// (it is removed, and `true` is returned if it was live), as Redis `EXPIRE key 0` does;
    /// [`persist`](Store::persist) removes a TTL. This is the correct way to start a
    /// rate-limit window by hand: unlike `set(key, 1, ttl)`, it keeps concurrent increments (and
    /// [`incr_with_ttl`](Store::incr_with_ttl) does it in one step). Costs one CAS on the key's
    /// deadline, whatever the size of its value.
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
        self.inner.expire(key, ttl)
    }

    /// Returns the live value of `key` and moves its deadline to `ttl` from now, in one
    /// linearizable step: sliding expiry for a session, Redis `GETEX key PX ttl`. `None`, and
    /// nothing changed, if the key is missing or expired. `Duration::ZERO` returns the value and
    /// removes the key (as [`take`](Store::take) does). Counts a hit or a miss when stats are
    /// recorded, as [`get`](Store::get) does.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set_with_ttl("session:abc", "bob", Duration::from_secs(60));
    /// let user = store.get_and_expire("session:abc", Duration::from_secs(1800));
    /// assert_eq!(user, Some("bob".into()));
    /// assert_eq!(store.ttl("session:abc").as_secs(), 1800);
    /// assert_eq!(store.get_and_expire("session:none", Duration::from_secs(1800)), None);
    /// ```
    pub fn get_and_expire(&self, key: &str, ttl: Duration) -> Option<Value> {
        self.inner.get_and_expire(key, ttl)
    }

    /// Removes the TTL of a live key. `true` only if the key was live and had a TTL.
    pub fn persist(&self, key: &str) -> bool {
        self.inner.persist(key)
    }

    /// Removes every key. Not a snapshot: every key that existed when it began is removed, unless
    /// it is set again concurrently.
    pub fn clear(&self) {
        self.inner.clear();
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

    /// Compactions of the expiry engine so far, and how many times one was considered (each
    /// consideration takes every schedule buffer's lock), for tests of their threshold.
    #[doc(hidden)]
    pub fn __expiry_compactions(&self) -> (usize, usize) {
        self.inner.expiry.compactions()
    }

    /// Purge steps run so far, by the cleaner or `purge_expired` (for tests of the interval).
    #[doc(hidden)]
    pub fn __purges(&self) -> u64 {
        self.inner.purges.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Holds every lock of the store's own (the expiry engine's wheel and buffers) until the
    /// result is dropped: for tests that readers never wait for a lock.
    #[doc(hidden)]
    #[cfg(not(scriptling_kv_loom))]
    pub fn __hold_locks(&self) -> impl Sized + '_ {
        self.inner.expiry.hold_locks()
    }
}
