//! Construction: [`Store::new`], [`Store::builder`], [`Store::global`] and the [`StoreBuilder`]
//! with its documented defaults. `build` assembles the engine's state, starts the cleaner thread
//! and the persistence (if asked for), and hands out the first handle.

use std::fmt;
use std::time::Duration;

#[cfg(not(scriptling_kv_loom))]
use crate::engine::cleaner;
use crate::engine::cleaner::Shutdown;
use crate::engine::clock::Clock;
use crate::engine::core::{Core, Settings};
use crate::engine::evict::{Eviction, Listener, RemovalCause};
use crate::engine::sync::std_only;
use crate::store::handle::{Inner, Store};
use crate::value::Value;

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
    /// `max_bytes` and `eviction` (`engine::evict`).
    pub(crate) max_bytes: Option<usize>,
    pub(crate) eviction: Eviction,
    listener: Option<Listener>,
    name: String,
    clock: Option<Clock>,
    /// `persist` and `on_persist_error` (`snapshot`).
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
    /// Caps the store's accounted size at `n` bytes ([`Store::bytes_used`](crate::Store::bytes_used)):
    /// a write that creates a key or stores a larger value first removes keys (never the key it
    /// writes) by the [`eviction`](crate::StoreBuilder::eviction) policy while the store is over
    /// `n`. A key's charge is [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD) plus its key's length in bytes plus its value's
    /// size: `Str` and `Bytes` their length, each `List` item and `Dict` entry its own size plus
    /// its `Dict` key's length, `Null`, `Bool`, `Int` and `Float` 8 (an empty container 0).
    ///
    /// With no write in progress, `bytes_used() <= max(n, c)`, where `c` is the charge of the
    /// largest single entry: so at most `n` plus the largest entry's charge. A value whose charge
    /// alone is over `n` is stored (the write reports success and the value is readable) and
    /// stays until the next write that needs room, which evicts it like any other key. With `T`
    /// threads writing at once, the bound is exceeded by at most the charges they are writing.
    /// Evictions are counted in [`Stats::evicted`](crate::Stats) and reported to the removal
    /// listener. May be combined with [`max_keys`](crate::StoreBuilder::max_keys). A bounded
    /// store keeps the sum in one counter that every write updates (computing the value's size
    /// costs a walk of the value). Default: no cap.
    ///
    /// ```
    /// use scriptling_kv::{Store, ENTRY_OVERHEAD};
    ///
    /// let store = Store::builder().max_bytes(3 * (ENTRY_OVERHEAD + 1 + 100)).build();
    /// for k in ["a", "b", "c", "d"] {
    ///     store.set(k, "x".repeat(100));
    /// }
    /// assert_eq!(store.len(), 3);
    /// assert!(!store.exists("a"), "the oldest key without a TTL went");
    /// assert_eq!(store.bytes_used(), 3 * (ENTRY_OVERHEAD + 1 + 100));
    /// ```
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = Some(n);
        self
    }

    /// Which keys a store bounded by [`max_keys`](crate::StoreBuilder::max_keys) or
    /// [`max_bytes`](crate::StoreBuilder::max_bytes) removes first: see [`Eviction`]. Default:
    /// [`Eviction::VolatileTtl`]. Without a bound it changes nothing (and costs nothing).
    pub fn eviction(mut self, policy: Eviction) -> Self {
        self.eviction = policy;
        self
    }

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
