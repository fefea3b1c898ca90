//! The public face: [`Store`], [`StoreBuilder`], [`Ttl`], and every method a user calls, over the
//! engine (`crate::engine`). Each file holds one kind of method; none holds a lock across a
//! decision. The locks of the crate, none of which a reader takes: flurry's per-bin write locks
//! inside the table (a writer that inserts or unlinks an entry, for the length of that one bin
//! update), the expiry records' schedule buffers (a writer that sets a TTL, for one `Vec::push`),
//! the wheel's mutex (a purge or a compaction, for its bookkeeping; `delete` and `clear` only
//! `try_lock` it), and the in-flight table of the loads (a load that missed).
//!
//! What it may use: the engine, `crate::value`, `crate::error`, `crate::snapshot`. The files, in
//! the order `Store`'s documentation lists their methods:
//!
//! | file | its job |
//! |---|---|
//! | `handle` | [`Store`] and what its clones share; [`Ttl`] |
//! | `builder` | construction: `new`, `builder`, `global`, [`StoreBuilder`] |
//! | `seed` | the original library's operations: `set`, `get`, `incr`, `keys`, ... |
//! | `conditional` | conditional writes and `compute` |
//! | `flight` | single-flight loads |
//! | `persist` | snapshots and periodic persistence |
//! | `stats` | metrics export |
//! | `weak` | [`WeakStore`](crate::WeakStore) |
//! | `backend`, `shared` | [`AsyncKv`](crate::AsyncKv) for `Store`, and [`SharedKv`](crate::SharedKv) |
//! | `glob` | the `keys` pattern matcher |

mod handle;

mod builder;
mod seed;

pub(crate) mod conditional;
pub(crate) mod flight;
mod persist;
pub(crate) mod stats;
pub(crate) mod weak;

pub(crate) mod backend;
pub(crate) mod glob;
pub(crate) mod shared;

pub use builder::StoreBuilder;
pub(crate) use handle::Inner;
pub use handle::{Store, Ttl};
