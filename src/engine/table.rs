//! The table: key -> `Arc<Entry>`, the only module that names the concurrent hash map.
//!
//! The real table is a `flurry::HashMap<Key, Arc<Entry>, ahash::RandomState>` (short keys inline in
//! flurry's node, see `engine::key`), searched by the key's bytes. Under
//! `--cfg scriptling_kv_loom` it is replaced by a small map built from loom primitives with the
//! same interface, because loom cannot see flurry's (or seize's) atomics: a model that went
//! through flurry would explore one schedule of the table and prove nothing.
//!
//! The interface is the minimum the entry protocol (`engine::entry`) needs:
//!
//! - [`Table::get`]: the entry for a key, if any (it may be dead or expired; callers check);
//! - [`Table::insert_if_absent`]: publish a new entry unless the key has one; racing creators
//!   agree on exactly one winner, the losers get the winner's entry;
//! - [`Table::remove_if_same`]: unlink a *dead* entry, only if the key still maps to that very
//!   entry (pointer identity), so nobody can remove a newer entry of the same key;
//! - [`Table::for_each`]: visit every key and entry (weakly consistent: sees every entry present
//!   for the whole walk, maybe some added or removed during it). The key comes from the table's
//!   node, so a walk can filter keys without touching the entries.
//!
//! Entries are unlinked only after they are dead (`engine::entry`), and a dead entry is never
//! revived, so "the table maps key k to a live entry E" never changes except by E dying.
//!
//! [`Pin`] holds both guards a reader needs: the table's (flurry's seize guard, which keeps table
//! nodes and entries alive) and crossbeam-epoch's (which keeps slots alive). The table is also
//! the door to crossbeam-epoch ([`Table::pin`], [`Table::epoch`]): outside loom it pins the global
//! collector. Under loom it pins a collector of its own (one per execution, a loom lazy static)
//! through a per-thread handle (a loom thread-local), both wrapped so that they are leaked
//! instead of dropped while the thread is panicking. crossbeam-epoch's own default collector and
//! handle are dropped when loom tears an execution down, and after a failing model that happens
//! outside any execution, where touching a loom atomic panics again and aborts the test binary:
//! with the wrapper, a failing model (ours or a user's) fails as an ordinary panic.
//!
//! The table gets its own seize collector with epoch tracking off. seize 0.3's epochs only
//! protect memory against a thread that stalls *while holding a guard*: with them on, every
//! pointer flurry loads pays a thread-local lookup and a read of the shared epoch (~50
//! instructions per lookup, measured by callgrind). Our guards live for one operation, except
//! across a `keys` or `clear` walk or a `get_with` closure; a thread inside one of those holds
//! back the reclamation of nodes retired meanwhile until it returns. crossbeam-epoch, which
//! guards the slots, already behaves that way (a pinned thread holds back every later epoch), so
//! this adds no new way to hold memory. Reclamation stays safe either way: seize frees a batch
//! only once every thread that was active when it was retired has left.

use crossbeam_epoch::Guard as EpochGuard;

use crate::engine::entry::Entry;
use crate::engine::key::Key;
use crate::engine::sync::Arc;

#[cfg(not(scriptling_kv_loom))]
pub(crate) use real::{EntryRef, Pin, Table};

#[cfg(scriptling_kv_loom)]
pub(crate) use model::{EntryRef, Pin, Table};

/// The result of [`Table::insert_if_absent`] when the key already had an entry: the current
/// entry, and the one that was not inserted (handed back).
pub(crate) type Occupied<'g> = (EntryRef<'g>, Arc<Entry>);

#[cfg(not(scriptling_kv_loom))]
mod real {
    use super::*;

    type Map = flurry::HashMap<Key, Arc<Entry>, ahash::RandomState>;

    /// The flurry-backed table.
    pub(crate) struct Table {
        map: Map,
    }

    impl std::fmt::Debug for Table {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Table")
                .field("len", &self.map.len())
                .finish()
        }
    }

    /// Both guards of one operation.
    pub(crate) struct Pin<'t> {
        table: flurry::Guard<'t>,
        /// The crossbeam-epoch guard slots are loaded under.
        pub(crate) epoch: EpochGuard,
    }

    /// An entry found in the table, valid while the [`Pin`] it was found under lives.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct EntryRef<'g>(&'g Arc<Entry>);

    impl std::ops::Deref for EntryRef<'_> {
        type Target = Arc<Entry>;
        #[inline]
        fn deref(&self) -> &Arc<Entry> {
            self.0
        }
    }

    impl Table {
        pub(crate) fn with_capacity(capacity: usize) -> Self {
            // The collector is set before the map allocates anything (a table linked to one
            // collector must not be retired through another), then the map is presized.
            let map = Map::with_hasher(ahash::RandomState::new())
                .with_collector(seize::Collector::new().epoch_frequency(None));
            if capacity > 0 {
                map.reserve(capacity, &map.guard());
            }
            Table { map }
        }

        #[inline]
        pub(crate) fn pin(&self) -> Pin<'_> {
            Pin {
                table: self.map.guard(),
                epoch: crossbeam_epoch::pin(),
            }
        }

        /// A crossbeam-epoch guard alone (for walks, which hold the table's guard themselves).
        #[inline]
        pub(crate) fn epoch(&self) -> EpochGuard {
            crossbeam_epoch::pin()
        }

        #[inline]
        pub(crate) fn get<'g>(&'g self, key: &str, pin: &'g Pin<'_>) -> Option<EntryRef<'g>> {
            self.map.get(key.as_bytes(), &pin.table).map(EntryRef)
        }

        pub(crate) fn insert_if_absent<'g>(
            &'g self,
            entry: Arc<Entry>,
            pin: &'g Pin<'_>,
        ) -> Result<EntryRef<'g>, Occupied<'g>> {
            self.map
                .try_insert(entry.key.clone(), entry, &pin.table)
                .map(EntryRef)
                .map_err(|e| (EntryRef(e.current), e.not_inserted))
        }

        pub(crate) fn remove_if_same(&self, entry: &Arc<Entry>, pin: &Pin<'_>) {
            // flurry's conditional write runs the closure under the bin lock: returning `None`
            // removes the mapping; returning a clone of the current `Arc` keeps the mapping as it
            // is (flurry swaps in the equal value, which only costs an allocation on this rare
            // path: another thread already unlinked our entry and a new one was inserted).
            self.map.compute_if_present(
                entry.key.as_bytes(),
                |_, current| {
                    if Arc::ptr_eq(current, entry) {
                        None
                    } else {
                        Some(current.clone())
                    }
                },
                &pin.table,
            );
        }

        /// Visits every key and entry, under a table guard of its own held for the whole walk
        /// (callers pin crossbeam-epoch themselves, in batches).
        pub(crate) fn for_each(&self, mut f: impl FnMut(&Key, &Arc<Entry>)) {
            let guard = self.map.guard();
            for (key, entry) in self.map.iter(&guard) {
                f(key, entry);
            }
        }

        pub(crate) fn len(&self) -> usize {
            self.map.len()
        }

        /// Grows the table now to hold `additional` more keys (a snapshot load knows how many
        /// it will insert: one resize instead of a dozen).
        pub(crate) fn reserve(&self, additional: usize) {
            self.map.reserve(additional, &self.map.guard());
        }
    }
}

#[cfg(scriptling_kv_loom)]
mod model {
    use super::*;
    use crate::engine::sync::{lock, Mutex};
    use std::marker::PhantomData;

    /// A loom-visible stand-in: a mutex-protected list of entries. Only the table is simplified;
    /// the entry protocol on top of it is the real one.
    #[derive(Debug)]
    pub(crate) struct Table {
        entries: Mutex<Vec<Arc<Entry>>>,
    }

    /// A value dropped normally, except while its thread is panicking, when it is leaked: loom
    /// may then be tearing the execution down, and dropping a crossbeam-epoch collector or
    /// handle would touch loom atomics outside of it (module docs).
    struct LeakOnPanic<T>(Option<T>);

    impl<T> Drop for LeakOnPanic<T> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                std::mem::forget(self.0.take());
            }
        }
    }

    loom::lazy_static! {
        static ref COLLECTOR: LeakOnPanic<crossbeam_epoch::Collector> =
            LeakOnPanic(Some(crossbeam_epoch::Collector::new()));
    }

    loom::thread_local! {
        static HANDLE: LeakOnPanic<crossbeam_epoch::LocalHandle> =
            LeakOnPanic(COLLECTOR.0.as_ref().map(crossbeam_epoch::Collector::register));
    }

    /// Both guards of one operation (the stand-in table needs none of its own).
    #[derive(Debug)]
    pub(crate) struct Pin<'t> {
        pub(crate) epoch: EpochGuard,
        _table: PhantomData<&'t Table>,
    }

    /// An entry found in the table: an owned handle in the stand-in.
    pub(crate) type EntryRef<'g> = ArcRef<'g>;

    /// An `Arc<Entry>` that dereferences like the real table's `&Arc<Entry>`.
    #[derive(Debug, Clone)]
    pub(crate) struct ArcRef<'g>(Arc<Entry>, PhantomData<&'g ()>);

    impl std::ops::Deref for ArcRef<'_> {
        type Target = Arc<Entry>;
        fn deref(&self) -> &Arc<Entry> {
            &self.0
        }
    }

    impl Table {
        pub(crate) fn with_capacity(capacity: usize) -> Self {
            Table {
                entries: Mutex::new(Vec::with_capacity(capacity.min(16))),
            }
        }

        pub(crate) fn pin(&self) -> Pin<'_> {
            Pin {
                epoch: self.epoch(),
                _table: PhantomData,
            }
        }

        /// A guard of the loom collector (module docs).
        pub(crate) fn epoch(&self) -> EpochGuard {
            HANDLE.with(|h| h.0.as_ref().expect("set at creation").pin())
        }

        pub(crate) fn get<'g>(&'g self, key: &str, _pin: &'g Pin<'_>) -> Option<EntryRef<'g>> {
            let entries = lock(&self.entries);
            entries
                .iter()
                .find(|e| e.key.as_bytes() == key.as_bytes())
                .map(|e| ArcRef(e.clone(), PhantomData))
        }

        pub(crate) fn insert_if_absent<'g>(
            &'g self,
            entry: Arc<Entry>,
            _pin: &'g Pin<'_>,
        ) -> Result<EntryRef<'g>, Occupied<'g>> {
            let mut entries = lock(&self.entries);
            if let Some(current) = entries.iter().find(|e| e.key == entry.key) {
                return Err((ArcRef(current.clone(), PhantomData), entry));
            }
            entries.push(entry.clone());
            Ok(ArcRef(entry, PhantomData))
        }

        pub(crate) fn remove_if_same(&self, entry: &Arc<Entry>, _pin: &Pin<'_>) {
            let mut entries = lock(&self.entries);
            entries.retain(|e| !Arc::ptr_eq(e, entry));
        }

        pub(crate) fn for_each(&self, mut f: impl FnMut(&Key, &Arc<Entry>)) {
            let snapshot: Vec<Arc<Entry>> = lock(&self.entries).clone();
            for e in &snapshot {
                f(&e.key, e);
            }
        }

        pub(crate) fn len(&self) -> usize {
            lock(&self.entries).len()
        }

        pub(crate) fn reserve(&self, _additional: usize) {}
    }
}
