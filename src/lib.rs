//! A concurrent in-memory key-value store with per-key TTL, for sharing state between the
//! request handlers, tasks and threads of one process: sessions, rate-limit counters, response
//! caches, feature flags. It is the Rust implementation of the `scriptling.kv` library: the same
//! operations and semantics, with the original's rough edges fixed.
//!
//! ```
//! use std::time::Duration;
//! use scriptling_kv::{Store, Ttl, Value};
//!
//! let store = Store::new(); // or Store::global(), one store for the whole process
//! store.set("config", vec![Value::from("debug"), Value::from(true)]);
//! store.set_with_ttl("session:abc", "bob", Duration::from_secs(3600));
//! assert_eq!(store.get("session:abc"), Some(Value::from("bob")));
//!
//! // A fixed-window rate limiter in one step: the first request of a window creates the
//! // counter with the window's TTL, later ones only count (no counter ever lacks its TTL).
//! let hits = store.incr_with_ttl("rate:10.0.0.1", 1, Duration::from_secs(60)).unwrap();
//! assert_eq!(hits, 1);
//! assert!(matches!(store.ttl("rate:10.0.0.1"), Ttl::Expires(_)));
//! assert_eq!(store.keys("rate:*").unwrap(), ["rate:10.0.0.1"]);
//!
//! // A TTL is always a deadline: zero is expired at once, never "no expiry".
//! store.set_with_ttl("lock:x", "me", Duration::ZERO);
//! assert!(!store.exists("lock:x"));
//! ```
//!
//! # TTL arguments
//!
//! A parameter `ttl: Duration` is a deadline `ttl` after the call's clock reading;
//! `Duration::ZERO` is a deadline of now: the value is expired at once and never observed by
//! anyone, so a TTL computed as `deadline - now` that comes out as zero cannot make a lock or a
//! session immortal. A method that can also store without expiry takes `ttl: Option<Duration>`
//! (`None`: no expiry). Otherwise no expiry is [`Store::set`], [`Store::persist`], or a
//! [`Compute`] answer that says so. A write with a zero TTL returns what it would for any other
//! TTL (`set_if_absent` on a missing key: `true`); it removes what the key held, and is not an
//! expiry by the store (no listener call, no `expired` count). (`tests/zero_ttl.rs`, every
//! method on `Store` and through [`SharedKv`], with readers racing the writes; the Redis
//! conformance suite, `a_zero_ttl_is_expired_at_once`; the proptest model and the fuzz target
//! `ops` draw zero TTLs.)
//!
//! # One API on every backend
//!
//! [`AsyncKv`] is the store's operations as futures, implemented by [`Store`] and by
//! `scriptling_kv_redis::RedisStore`, single-flight loads ([`AsyncKv::load_with`]) included;
//! [`SharedKv`] holds either behind one type, chosen at run time. [`to_value`] and
//! [`from_value`] (feature `serde`) store your own types as [`Value`]s.
//!
//! # Design
//!
//! A [`flurry`](https://docs.rs/flurry) concurrent hash map (hasher `ahash`) holds one entry per
//! key. An entry points to a slot holding the key's value, its deadline and (for a small
//! integer) a counter cell; a new value is a new slot swapped in by a compare-and-swap and the old
//! one reclaimed through `crossbeam-epoch`, while `expire`/`persist` move the deadline in place
//! and `incr` adds to the counter in place, each by a CAS. A hierarchical timing wheel tells the
//! cleaner which keys may have expired, so a cleanup costs what expired, not what is stored. The
//! modules `entry`, `write`, `table`, `expiry` and `wheel` open with the state machine, the races,
//! and the reclamation argument.
//!
//! # Consistency
//!
//! Each claim names what checks it (`docs/verification.md` has the commands, the mutants that show
//! each check can fail, and what each can and cannot show).
//!
//! - Every single-key operation is linearizable: it takes effect at one instant between its call
//!   and its return. `incr` never loses an update. No reader ever sees a value with another
//!   write's TTL. (loom models in `loom-tests/`, with a linearizability checker; checked histories
//!   of the real store with the clock moving during rounds, `tests/linearizability.rs`; a
//!   sequential model, `tests/model.rs` and the fuzz target `ops`.)
//! - An expired key is absent for every operation from the instant it expires, whether or not the
//!   cleaner has removed it yet. The cleaner never removes a key whose TTL was extended or
//!   removed, or that was set again, after it expired. (loom: `readers`, `time`, `cleaner`;
//!   `tests/regressions.rs`; `tests/expiry.rs`.)
//!
//!   How: whether a key is live is decided in one place (`Entry::observe` in `engine::entry`): the
//!   key's slot and deadline are loaded, the clock is read after them, once, and the key is live
//!   iff its deadline is after that reading. An operation that sees a key expired marks its slot
//!   before acting on it, so a write that judged the key live at an earlier reading (an `expire`
//!   a moment before the deadline) fails its compare-and-swap and judges again, instead of
//!   bringing back a key somebody already saw gone. `set_with_ttl`'s TTL counts from one clock
//!   reading taken during the call, before its write.
//! - [`Store::keys`] and [`Store::clear`] are not snapshots: `keys` returns every matching key
//!   that was live for the whole call and none that was absent for the whole call (it judges each
//!   key against a clock reading taken after the walk loaded it); `clear` removes every key that
//!   existed when it began, unless it is set again concurrently. (loom: `time`, `clear`;
//!   `tests/concurrency.rs`; `tests/regressions.rs`.)
//! - Readers never block: `get`, `get_with`, `exists`, `ttl` and `keys` take no lock and never
//!   wait, whatever other threads hold (`tests/claims.rs`,
//!   `readers_finish_while_every_lock_of_the_store_is_held`). Only the single-flight loads
//!   ([`Store::get_or_insert_with`] and its forms) wait, and only for another caller's load of the
//!   same key (loom: `flight::a_reader_never_waits_for_a_load`).
//! - The conditional writes ([`Store::set_if_absent`], [`Store::swap`], [`Store::take`],
//!   [`Store::compare_and_set`], [`Store::compare_and_delete`], [`Store::incr_with_ttl`],
//!   [`Store::update`], and the general [`Store::compute`]) are each one linearizable step, also
//!   against the key expiring while they run (loom: `conditional`; `tests/conditional.rs`).
//!
//! # Bounded and observable
//!
//! [`StoreBuilder::max_keys`] and [`StoreBuilder::max_bytes`] cap the store (with no write in
//! progress, at most `n` keys and `n` bytes plus one entry; at most `n + writers` keys at any
//! instant), evicting by the [`Eviction`] policy: expired and TTL keys before persistent ones,
//! the soonest deadline first (the default), or approximately the least recently used
//! ([`Eviction::Lru`]). [`StoreBuilder::removal_listener`] is told once of every key the store
//! removes on its own (a listener that uses the store holds a [`WeakStore`], so the store still
//! ends), and [`Store::stats`] counts hits, misses, expirations and evictions and reports
//! [`Store::bytes_used`] (feature `metrics` exports the counters).
//! [`StoreBuilder::max_keys`], [`StoreBuilder::max_bytes`] and [`Stats`] state the guarantees.
//!
//! # Checking your own code with loom
//!
//! The store is built for people who model-check their own code. Build your crate's tests with
//!
//! ```text
//! RUSTFLAGS="--cfg scriptling_kv_loom --cfg crossbeam_loom" cargo test --release
//! ```
//!
//! (`loom = "0.7"` as your dev-dependency under `[target.'cfg(scriptling_kv_loom)'.dev-dependencies]`,
//! `scriptling-kv` with feature `test-util`, and `LOOM_MAX_PREEMPTIONS=2` or a preemption bound in
//! your `loom::model::Builder` to keep runs short), and every atomic of the store's concurrency core
//! becomes a loom atomic, so your `loom::model` explores the interleavings *inside* the store too.
//!
//! - **What is modelled:** the entry state machine (slots, seals, marks, tombstones, in-place
//!   counters and deadlines), the write engine and every conditional write, the single-flight
//!   loads, the expiry engine (schedule records, the wheel, the purge step), the eviction queues,
//!   and crossbeam-epoch's reclamation (its `loom` feature, enabled by `--cfg crossbeam_loom`).
//! - **What is not:** the real flurry table is replaced by a small mutex-protected stand-in with
//!   the same interface (loom cannot see flurry's or seize's atomics); there is no cleaner thread
//!   (call [`Store::purge_expired`] where the cleaner would run); the clock is whatever your model
//!   makes it: build the store on a `TestClock` (feature `test-util`) and advance it in the model.
//! - **A failing model fails as an ordinary panic:** `#[should_panic]` works and `cargo test`
//!   reports the test (the store keeps crossbeam-epoch's loom state out of loom's teardown).
//!
//! A worked example, kept as a test that CI runs: `loom-tests/user-example/` is a small crate that
//! depends on this one as yours would, with a rate limiter on [`Store::incr_with_ttl`] and a lock
//! on [`Store::set_if_absent`] + [`Store::compare_and_delete`] that pass their models, and the
//! versions one might write without them (`incr` then `expire`; `exists` then `set`) that fail:
//!
//! ```ignore
//! #[test]
//! fn lock_has_at_most_one_holder() {
//!     loom::model(|| {
//!         let store = Store::builder().test_clock(TestClock::new()).build();
//!         let other = {
//!             let store = store.clone();
//!             loom::thread::spawn(move || store.set_if_absent("lock", "b", Duration::from_secs(30)))
//!         };
//!         let a = store.set_if_absent("lock", "a", Duration::from_secs(30));
//!         let b = other.join().unwrap();
//!         assert!(!(a && b), "two holders of the lock");
//!     });
//! }
//! ```
//!
//! # Snapshots
//!
//! [`Store::save`] writes every live key, its value and its TTL to a file; [`Store::load`] reads
//! one back, so sessions, rate-limit windows and caches survive a restart.
//! [`StoreBuilder::persist`] does it for you: load at `build()`, save every interval when
//! something changed, and save when the last handle is dropped.
//!
//! ```
//! use std::time::Duration;
//! use scriptling_kv::{Store, Value};
//!
//! let dir = std::env::temp_dir().join(format!("skv-doc-crate-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("kv.snap");
//!
//! let store = Store::new();
//! store.set_with_ttl("session:abc", "bob", Duration::from_secs(3600));
//! store.incr("rate:10.0.0.1", 1).unwrap();
//! store.save(&path).unwrap();
//!
//! let after_restart = Store::new();
//! assert_eq!(after_restart.load(&path).unwrap(), 2);
//! assert_eq!(after_restart.get("rate:10.0.0.1"), Some(Value::Int(1)));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! Guarantees (the module `snapshot` has the full argument; the tests named check them):
//!
//! - **Atomic.** A save writes a temporary file in the same directory, `fsync`s it, renames it
//!   over the target and `fsync`s the directory: after a crash at any instant the path holds the
//!   old snapshot or the new one, whole (`tests/snapshot_crash.rs` SIGKILLs a saving process at
//!   random instants and always finds one whole generation).
//! - **All or nothing on load.** The whole file is validated (magic, version, every length and
//!   record, the count, a CRC-32C) before any key is set. Otherwise [`Error::Corrupt`] with the
//!   byte offset and the reason, and the store is unchanged; a missing or unreadable file is
//!   [`Error::Io`] naming the path (`tests/snapshot.rs`: every single-byte change and every
//!   truncation of a snapshot; the fuzz target `snapshot`).
//! - **Bounded by the file.** Loading a file of `L` bytes holds at most `320 * L + 128 KiB` at
//!   once, whatever its lengths declare: a count is checked against the room its enclosing
//!   containers leave before anything is reserved for it (`tests/decode_memory.rs`, counting
//!   allocator; the fuzz target `snapshot` asserts it for every input).
//! - **Leftovers judged by locks.** A save holds a lock on its temporary file; [`persist`]'s
//!   cleanup at `build()` removes only temporary files of a save whose lock is free (the saver
//!   is gone) and that start with the snapshot's magic number, never by process id.
//!   [`StoreBuilder::try_build`] fails with [`Error::Io`] naming the path when saves cannot
//!   write into its directory.
//! - **Exact.** Every [`Value`] round-trips: integers stay integers, floats keep their bits
//!   (NaN payloads, `-0.0`), bytes stay bytes, any nesting depth (no recursion either way).
//! - **TTLs count the downtime.** Deadlines are stored as wall-clock instants; a load skips keys
//!   whose instant has passed and gives the others what they have left.
//! - **Streaming, never blocking.** A save holds about one value at a time (64 KiB above the
//!   store for 1M keys, `tests/snapshot_memory.rs`) and takes no lock: readers and writers go on.
//!   Like `keys` it is not a point-in-time copy: every key live for the whole save is in it,
//!   none absent for the whole save is, and each key written was live, with that value and TTL,
//!   at an instant of the save.
//!
//! [`persist`]: StoreBuilder::persist
//!
//! The format (version 1, little-endian; `uvarint` = LEB128, `str` = `uvarint` length + UTF-8):
//!
//! ```text
//! "SKVSNAP\0"  u32 version = 1  u64 created (Unix ns)
//! { 0x01  key: str  deadline: u64 (Unix ns, u64::MAX = no TTL)  value }*
//! 0x00  u64 record count  u32 CRC-32C of every byte before it
//! value = 0x00 null | 0x01 false | 0x02 true | 0x03 i64 | 0x04 f64 bits (u64)
//!       | 0x05 str | 0x06 uvarint len + bytes | 0x07 uvarint n + n values
//!       | 0x08 uvarint n + n (key: str, value), keys strictly ascending
//! ```
//!
//! # Departures from the original, on purpose
//!
//! | original `scriptling.kv` | here |
//! |---|---|
//! | `incr` wraps on overflow | [`Error::Overflow`], store unchanged |
//! | `keys` uses path globbing, bad patterns match nothing, random order | Redis glob, [`Error::InvalidPattern`], sorted |
//! | `delete` returns nothing | `bool`: whether a live key was removed |
//! | `ttl` rounds down | [`Ttl::as_secs`] rounds up: a live key never reports 0 |
//! | readers race with `incr` | linearizable, checked by loom models |
//! | `set(key, 1, ttl=60)` after `incr` loses concurrent increments | [`Store::expire`] keeps the value |
//! | cleanup scans the whole map under a write lock | timing wheel: work ∝ expired keys, readers never blocked |
//!
//! # Features
//!
//! - `serde` (default): `Serialize`/`Deserialize` for [`Value`].
//! - `test-util`: `TestClock` and `StoreBuilder::test_clock`, time that tests advance by hand.
//! - `metrics`: `Store::publish_metrics`, the counters through the `metrics` crate.
//! - `arbitrary`: generators for fuzzing. `arbitrary::Arbitrary` for [`Value`] (at most 4
//!   levels of nesting and 8 elements per container; any `i64`, any `f64` bit pattern including
//!   NaN, infinities and `-0.0`, any string, any bytes), so a cargo-fuzz target can take `Value`s;
//!   the module `fuzzing` has the bounds, a configurable generator and a fuzz target skeleton.
//!   With `test-util` as well, the store operations of the module `ops` are `Arbitrary` too.
//! - `proptest` (enables `test-util`): the module `strategy`, proptest strategies for `Value`s
//!   (`value`, `value_with`) and for sequences of store operations (`ops`: an `ops::Op` per
//!   call of a `Store` method, a clock advance among them), which `Op::apply` replays on a store
//!   on a `TestClock`, so that you can compare every result with a model of yours, or with your
//!   own implementation of the same contract.
#![doc(test(attr(deny(warnings))))]

mod engine;
mod error;
mod snapshot;
mod store;
#[cfg(any(feature = "arbitrary", feature = "proptest"))]
mod testing;
mod value;

#[cfg(any(feature = "test-util", test))]
pub use engine::clock::TestClock;
pub use engine::counters::Stats;
pub use engine::evict::{Eviction, RemovalCause, ENTRY_OVERHEAD};
pub use error::{Error, Result};
pub use snapshot::PersistenceStatus;
pub use store::backend::{AsyncKv, LoadError};
pub use store::conditional::{Compute, Current};
pub use store::flight::{Loaded, Source};
pub use store::glob::Pattern;
pub use store::shared::SharedKv;
pub use store::stats::METRIC_NAMES;
pub use store::weak::WeakStore;
pub use store::{Store, StoreBuilder, Ttl};
#[cfg(feature = "arbitrary")]
pub use testing::fuzzing;
#[cfg(any(
    feature = "proptest",
    all(feature = "arbitrary", feature = "test-util")
))]
pub use testing::ops;
#[cfg(feature = "proptest")]
pub use testing::strategy;
#[cfg(feature = "serde")]
pub use value::typed::{from_value, to_value};
pub use value::{Value, ValueOutOfRange};

/// Size and alignment of the store's slot allocation, for the tracking allocator of the loom
/// reclamation models (`loom-tests/tests/reclamation.rs`), which must recognise slot blocks.
#[cfg(scriptling_kv_loom)]
#[doc(hidden)]
pub const __SLOT_LAYOUT: (usize, usize) = (
    std::mem::size_of::<engine::entry::Slot>(),
    std::mem::align_of::<engine::entry::Slot>(),
);

/// How many spare slot allocations the calling thread holds, and how many it has reused so far
/// (for the tests that check retired slots are reused; see `engine::entry`, "Recycling slot
/// allocations").
#[cfg(not(scriptling_kv_loom))]
#[doc(hidden)]
pub fn __spare_slots() -> (usize, u64) {
    engine::entry::spares_held()
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The examples of `docs/service.md`, compiled and run as doctests.
#[doc = include_str!("../docs/service.md")]
#[cfg(doctest)]
pub struct DocsServiceDoctests;

/// The examples of `docs/operations.md`, compiled and run as doctests.
#[doc = include_str!("../docs/operations.md")]
#[cfg(doctest)]
pub struct DocsOperationsDoctests;

/// The examples of `docs/redis.md`, compiled and run as doctests.
#[doc = include_str!("../docs/redis.md")]
#[cfg(doctest)]
pub struct DocsRedisDoctests;

/// The examples of `docs/performance.md`, compiled and run as doctests.
#[doc = include_str!("../docs/performance.md")]
#[cfg(doctest)]
pub struct DocsPerformanceDoctests;

/// The examples of `docs/verification.md`, compiled and run as doctests.
#[doc = include_str!("../docs/verification.md")]
#[cfg(doctest)]
pub struct DocsVerificationDoctests;
