//! The operations of the original `scriptling.kv` library, and their companions: `set`,
//! `set_with_ttl`, `get`, `get_or`, `get_with`, `delete`, `incr`, `keys`, `exists`, `ttl`,
//! `expire`, `get_and_expire`, `persist`, `clear`, `len`, `purge_expired`, `stats`,
//! `bytes_used`. Each is one call into the engine (`engine::access`) plus the conversion of its
//! arguments and result.

use std::time::Duration;

use crate::engine::counters::Stats;
use crate::error::Result;
use crate::store::glob::Pattern;
use crate::store::handle::{Store, Ttl};
use crate::value::Value;

impl Store {
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
    /// [`Error::NotAnInteger`](crate::Error::NotAnInteger); a result outside `i64` is [`Error::Overflow`](crate::Error::Overflow); in both cases
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
    /// (an unclosed `[`, a trailing `\`) is [`Error::InvalidPattern`](crate::Error::InvalidPattern). Matching a key takes
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

    /// The store's counters: hits and misses (with
    /// [`record_stats(true)`](crate::StoreBuilder::record_stats)), keys expired and evicted, and in a
    /// bounded store the accounted bytes. Constant cost, whatever the store holds. See [`Stats`].
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.counters.sum();
        if let Some(bound) = &self.inner.bound {
            stats.bytes_used = bound.bytes() as u64;
        }
        stats
    }

    /// The store's name ([`StoreBuilder::name`](crate::StoreBuilder::name)).
    pub fn name(&self) -> &str {
        &self.inner.name
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
        self.inner.purges_run()
    }

    /// Holds every lock of the store's own (the expiry engine's wheel and buffers) until the
    /// result is dropped: for tests that readers never wait for a lock.
    #[doc(hidden)]
    #[cfg(not(scriptling_kv_loom))]
    pub fn __hold_locks(&self) -> impl Sized + '_ {
        self.inner.expiry.hold_locks()
    }

    /// The store's accounted size in bytes: the sum of the charges of every key it holds
    /// (expired keys not yet removed included, as in [`len`](crate::Store::len)); see
    /// [`StoreBuilder::max_bytes`](crate::StoreBuilder::max_bytes) for the charge. In a store built
    /// with `max_keys` or `max_bytes` it is kept as the store changes and costs one load; in an
    /// unbounded store it is computed by a walk of the table, `O(keys + value sizes)`. Not a
    /// snapshot while writes are in progress.
    ///
    /// ```
    /// use scriptling_kv::{Store, ENTRY_OVERHEAD};
    ///
    /// let store = Store::new();
    /// store.set("k", "hello");
    /// store.set("n", 1);
    /// assert_eq!(store.bytes_used(), (ENTRY_OVERHEAD + 1 + 5) + (ENTRY_OVERHEAD + 1 + 8));
    /// ```
    pub fn bytes_used(&self) -> usize {
        self.inner.bytes_used()
    }
}
