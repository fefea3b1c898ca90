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
//! // A correct fixed-window rate limiter: `expire` keeps concurrent increments.
//! let hits = store.incr("rate:10.0.0.1", 1).unwrap();
//! if hits == 1 {
//!     store.expire("rate:10.0.0.1", Duration::from_secs(60));
//! }
//! assert!(matches!(store.ttl("rate:10.0.0.1"), Ttl::Expires(_)));
//! assert_eq!(store.keys("rate:*").unwrap(), ["rate:10.0.0.1"]);
//! ```
//!
//! # Design
//!
//! A [`flurry`](https://docs.rs/flurry) concurrent hash map (hasher `ahash`) holds one entry per
//! key. An entry's value and expiry are one immutable version, swapped by a compare-and-swap and
//! reclaimed through `crossbeam-epoch`; `incr` is a CAS retry loop. A hierarchical timing wheel
//! tells the cleaner which keys may have expired, so a cleanup costs what expired, not what is
//! stored. The modules `entry`, `table`, `expiry` and `wheel` open with the state machine, the
//! races, and the reclamation argument.
//!
//! # Consistency
//!
//! - Every single-key operation is linearizable: it takes effect at one instant between its call
//!   and its return. `incr` never loses an update. No reader ever sees a value with another
//!   write's TTL.
//! - An expired key is absent for every operation from the instant it expires, whether or not the
//!   cleaner has removed it yet. The cleaner never removes a key whose TTL was extended or
//!   removed, or that was set again, after it expired. (Each operation reads the clock once, after
//!   loading the key's state, and judges expiry at that reading.)
//! - [`Store::keys`] and [`Store::clear`] are not snapshots: `keys` returns every matching key
//!   that was live for the whole call and none that was absent for the whole call; `clear` removes
//!   every key that existed when it began, unless it is set again concurrently.
//! - Readers never block: `get`, `get_with`, `exists`, `ttl` and `keys` take no lock.
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
#![doc(test(attr(deny(warnings))))]

mod cleaner;
mod clock;
mod entry;
mod error;
mod expiry;
mod glob;
mod key;
mod store;
mod sync;
mod table;
mod value;
mod wheel;
mod write;

#[cfg(any(feature = "test-util", test))]
pub use clock::TestClock;
pub use error::{Error, Result};
pub use store::{Store, StoreBuilder, Ttl};
pub use value::{Value, ValueOutOfRange};

/// Size and alignment of the store's slot allocation, for the tracking allocator of the loom
/// reclamation models (`loom-tests/tests/reclamation.rs`), which must recognise slot blocks.
#[cfg(scriptling_kv_loom)]
#[doc(hidden)]
pub const __SLOT_LAYOUT: (usize, usize) = (
    std::mem::size_of::<entry::Slot>(),
    std::mem::align_of::<entry::Slot>(),
);

/// How many spare slot allocations the calling thread holds (for the miri test that checks
/// retired slots are reused; see `entry.rs`, "Recycling slot allocations").
#[cfg(not(scriptling_kv_loom))]
#[doc(hidden)]
pub fn __spare_slots_held() -> usize {
    entry::spares_held()
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
