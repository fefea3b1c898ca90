//! A Redis (and Valkey) backend for [`scriptling_kv`]: see the README-style docs below.
#![doc(test(attr(deny(warnings))))]

mod codec;
mod conn;
mod flight;
mod scripts;
mod store;

pub use store::{RedisStore, RedisStoreBuilder, MAX_TTL_MS};
