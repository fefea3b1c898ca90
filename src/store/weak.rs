//! [`WeakStore`]: a handle that does not keep the store alive.
//!
//! A store ends (its last-drop save runs, its cleaner and saver threads stop) when the last
//! [`Store`] handle is dropped. Anything the store owns (a removal listener, a persistence error
//! callback) that held a `Store` would keep it alive for ever; it holds a `WeakStore` instead and
//! upgrades it for the length of one use.
//!
//! `upgrade` succeeds while some `Store` handle exists. It upgrades the persistence token first
//! (the `Arc` whose last drop runs the final save), then the store itself, so once the final save
//! has begun no new handle appears. The cleaner thread holds the store (not the token) for the
//! length of one purge: an `upgrade` made during that purge, after the last handle was dropped,
//! may succeed in a store without persistence; the store then ends when that handle is dropped,
//! possibly on the cleaner thread (which `engine::cleaner` allows for).

use std::fmt;

use crate::engine::sync::std_only::Weak;
use crate::store::{Inner, Store};

/// A handle to a [`Store`] that does not keep it alive: [`Store::downgrade`], then
/// [`upgrade`](WeakStore::upgrade) for each use. What a removal listener that uses its own store
/// holds.
///
/// ```
/// use std::sync::{Arc, OnceLock};
/// use scriptling_kv::{Store, Value, WeakStore};
///
/// let me: Arc<OnceLock<WeakStore>> = Arc::default();
/// let store = Store::builder()
///     .max_keys(2)
///     .removal_listener({
///         let me = me.clone();
///         move |key, _, _| {
///             // The listener writes into its own store through a weak handle.
///             if let Some(store) = me.get().and_then(WeakStore::upgrade) {
///                 store.set("last_evicted", key);
///             }
///         }
///     })
///     .build();
/// me.set(store.downgrade()).unwrap();
/// store.set("a", 1);
/// store.set("b", 2);
/// store.set("c", 3); // evicts "a"; the listener's new key then evicts "b"
/// assert_eq!(store.get("last_evicted"), Some(Value::from("b")));
/// assert_eq!(store.len(), 2);
///
/// let weak = store.downgrade();
/// drop(store);
/// assert!(weak.upgrade().is_none(), "the store ended with its last handle");
/// ```
#[derive(Clone)]
pub struct WeakStore {
    last_handle: Option<Weak<crate::snapshot::LastHandle>>,
    inner: Weak<Inner>,
}

impl fmt::Debug for WeakStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakStore")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish_non_exhaustive()
    }
}

impl WeakStore {
    /// A `Store` handle, or `None` if the store has ended (its last handle was dropped).
    pub fn upgrade(&self) -> Option<Store> {
        let last_handle = match &self.last_handle {
            Some(w) => Some(w.upgrade()?),
            None => None,
        };
        let inner = self.inner.upgrade()?;
        Some(Store {
            _last_handle: last_handle,
            inner,
        })
    }
}

impl Store {
    /// A [`WeakStore`] for this store: it does not keep the store alive (see there).
    pub fn downgrade(&self) -> WeakStore {
        WeakStore {
            last_handle: self
                ._last_handle
                .as_ref()
                .map(crate::engine::sync::std_only::Arc::downgrade),
            inner: crate::engine::sync::std_only::Arc::downgrade(&self.inner),
        }
    }
}
