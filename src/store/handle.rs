//! The handle and what its clones share: [`Store`] (an `Arc` of [`Inner`]), `Inner` (the engine's
//! [`Core`] plus what only the public face needs), and [`Ttl`], what `Store::ttl` reports. The
//! methods are in the files beside this one, by kind: `builder` (construction), `seed` (the
//! operations of the original library), `conditional`, `flight` (loads), `persist`, `stats`,
//! `weak`.

use std::fmt;
use std::time::Duration;

use crate::engine::cleaner::Shutdown;
use crate::engine::core::Core;
use crate::engine::sync::std_only;
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

/// What a store's handles share: the engine's state ([`Core`], reached through `Deref`) and what
/// only the public face needs (the cleaner's shutdown signal, the name, persistence).
pub(crate) struct Inner {
    pub(crate) core: Core,
    pub(crate) shutdown: std_only::Arc<Shutdown>,
    /// (background cleanup, interval), for `Debug`.
    pub(crate) config: (bool, Duration),
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
    /// last drop (`snapshot`).
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
