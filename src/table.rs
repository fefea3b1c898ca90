//! The table: key -> `Arc<Entry>`, the only module that names the concurrent hash map.
//!
//! The real table is a `flurry::HashMap<Arc<str>, Arc<Entry>, ahash::RandomState>`. Under
//! `--cfg scriptling_kv_loom` it is replaced by a small map built from loom primitives with the
//! same interface, because loom cannot see flurry's (or seize's) atomics: a model that went
//! through flurry would explore one schedule of the table and prove nothing.
//!
//! The interface is the minimum the entry protocol (`entry.rs`) needs:
//!
//! - [`Table::get`]: the entry for a key, if any (it may be dead or expired; callers check);
//! - [`Table::insert_if_absent`]: publish a new entry unless the key has one; racing creators
//!   agree on exactly one winner, the losers get the winner's entry;
//! - [`Table::remove_if_same`]: unlink a *dead* entry, only if the key still maps to that very
//!   entry (pointer identity), so nobody can remove a newer entry of the same key;
//! - [`Table::for_each`]: visit every entry (weakly consistent: sees every entry present for the
//!   whole walk, maybe some added or removed during it).
//!
//! Entries are unlinked only after they are dead (`entry.rs`), and a dead entry is never
//! revived, so "the table maps key k to a live entry E" never changes except by E dying.
//!
//! [`Pin`] holds both guards a reader needs: the table's (flurry's seize guard, which keeps table
//! nodes and entries alive) and crossbeam-epoch's (which keeps slots alive).

use crossbeam_epoch::Guard as EpochGuard;

use crate::entry::Entry;
use crate::sync::Arc;

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

    type Map = flurry::HashMap<crate::sync::std_only::Arc<str>, Arc<Entry>, ahash::RandomState>;

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
            Table {
                map: Map::with_capacity_and_hasher(capacity, ahash::RandomState::new()),
            }
        }

        #[inline]
        pub(crate) fn pin(&self) -> Pin<'_> {
            Pin {
                table: self.map.guard(),
                epoch: crossbeam_epoch::pin(),
            }
        }

        #[inline]
        pub(crate) fn get<'g>(&'g self, key: &str, pin: &'g Pin<'_>) -> Option<EntryRef<'g>> {
            self.map.get(key, &pin.table).map(EntryRef)
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
                &*entry.key,
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

        pub(crate) fn for_each(&self, pin: &Pin<'_>, mut f: impl FnMut(&Arc<Entry>)) {
            for entry in self.map.values(&pin.table) {
                f(entry);
            }
        }

        pub(crate) fn len(&self) -> usize {
            self.map.len()
        }
    }
}

#[cfg(scriptling_kv_loom)]
mod model {
    use super::*;
    use crate::sync::{lock, Mutex};
    use std::marker::PhantomData;

    /// A loom-visible stand-in: a mutex-protected list of entries. Only the table is simplified;
    /// the entry protocol on top of it is the real one.
    #[derive(Debug)]
    pub(crate) struct Table {
        entries: Mutex<Vec<Arc<Entry>>>,
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
                epoch: crossbeam_epoch::pin(),
                _table: PhantomData,
            }
        }

        pub(crate) fn get<'g>(&'g self, key: &str, _pin: &'g Pin<'_>) -> Option<EntryRef<'g>> {
            let entries = lock(&self.entries);
            entries
                .iter()
                .find(|e| &*e.key == key)
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

        pub(crate) fn for_each(&self, _pin: &Pin<'_>, mut f: impl FnMut(&Arc<Entry>)) {
            let snapshot: Vec<Arc<Entry>> = lock(&self.entries).clone();
            for e in &snapshot {
                f(e);
            }
        }

        pub(crate) fn len(&self) -> usize {
            lock(&self.entries).len()
        }
    }
}
