//! The engine: raw, unsafe, concurrent.
//!
//! Everything below the public face that touches an atomic, a tagged pointer or an `unsafe` block
//! lives here, one concern per file. The layers above (`store`, `snapshot`) call into it; the one
//! atomic they name is not the store's state (a process-wide sequence number in the names of
//! snapshot temporary files).
//!
//! | file | its job |
//! |---|---|
//! | `sync` | the one door to atomics, locks and `Arc`: std, or loom's under `--cfg scriptling_kv_loom` |
//! | `clock` | monotonic nanoseconds (or a hand-advanced test clock) and the expiry rule on them |
//! | `key` | the table's key type (a shared string) |
//! | `entry/` | the entry cell: its slot pointer, the packed schedule word, the one liveness rule; `slot` (a value and its deadline word, counter cells, recycling), `mutant` (its test hooks) |
//! | `table` | the glue to `flurry` (or the loom-visible stand-in): find, insert, unlink-if-same |
//! | `write` | the write protocol: one CAS per write, retried; TTL arguments turned into deadlines |
//! | `evict/` | the bounds (`max_keys`, `max_bytes`) and the removal listener; `bound` (the queues and the choice of a victim), `room` (what every write reports to the bound) |
//! | `expiry` | expiry records (8 bytes: an `Arc<Entry>`): per-thread buffers, the wheel behind a mutex, purges and compaction |
//! | `wheel` | a hierarchical timing wheel (plain data, no atomics) |
//! | `cleaner` | the background thread that runs purges |
//! | `counters` | hits, misses, expirations, evictions, writes committed (striped atomics) |
//! | `flight` | the in-flight table of the single-flight loads (the only waiting in the crate) |
//! | `core` | the engine's shared state, `Core` (this file names only the state) |
//! | `access` | the raw operations on `Core` that every public method calls, and their test hooks |
//! | `conditional` | the named conditional writes as raw steps on `Core` (`set_if_absent`, `take`, ...) |
//!
//! What it may use: `crate::value` (the values it stores) and `crate::error`. Nothing in here
//! names `crate::store`, `crate::snapshot` or `crate::testing` (checked by
//! `scripts/module-cycles.py` in CI).

pub(crate) mod access;
pub(crate) mod cleaner;
pub(crate) mod clock;
pub(crate) mod conditional;
pub(crate) mod core;
pub(crate) mod counters;
pub(crate) mod entry;
pub(crate) mod evict;
pub(crate) mod expiry;
pub(crate) mod flight;
pub(crate) mod key;
pub(crate) mod sync;
pub(crate) mod table;
pub(crate) mod wheel;
pub(crate) mod write;
