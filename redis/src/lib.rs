//! A Redis (and Valkey) backend for [`scriptling_kv`]: the [`AsyncKv`] operations on a server
//! that many processes share, with the semantics of the in-process [`Store`].
//!
//! Code written against [`AsyncKv`] runs unchanged on either: going from one process to many is
//! a one-line change, `Store::new()` → `RedisStore::connect(url, namespace).await?`.
//!
//! ```no_run
//! use std::time::Duration;
//! use scriptling_kv::{AsyncKv, Result};
//! use scriptling_kv_redis::RedisStore;
//!
//! /// A fixed-window rate limiter, on any backend.
//! async fn allow(kv: &impl AsyncKv, client: &str, limit: i64) -> Result<bool> {
//!     let key = format!("rate:{client}");
//!     Ok(kv.incr_with_ttl(&key, 1, Duration::from_secs(60)).await? <= limit)
//! }
//!
//! # async fn demo() -> Result<()> {
//! // let kv = scriptling_kv::Store::new();                               // one process
//! let kv = RedisStore::connect("redis://127.0.0.1:6379/0", "myapp").await?; // many processes
//! assert!(allow(&kv, "10.0.0.1", 100).await?);
//! // A cluster: any of its nodes.
//! let nodes = ["redis://10.0.0.5:7000", "redis://10.0.0.6:7000"];
//! let cluster = RedisStore::connect_cluster(&nodes, "myapp").await?;
//! assert!(allow(&cluster, "10.0.0.1", 100).await?);
//! # Ok(()) }
//! # let _ = demo;
//! ```
//!
//! Needs Redis 7.0 or newer (or Valkey), checked at connect time, and a Tokio runtime with its
//! time driver (`enable_all`).
//!
//! # Connecting
//!
//! - [`RedisStore::connect`]`(url, namespace)`: `redis://[[user]:password@]host[:port][/db]`,
//!   or `rediss://...` for TLS, as redis-rs reads them. A wrong or missing password is an
//!   [`Error::Backend`] whose reason starts with `authentication failed`, at connect time.
//! - [`RedisStore::connect_cluster`]`(nodes, namespace)`: any nodes of a Redis Cluster (the rest
//!   are discovered), all with the same credentials.
//! - [`RedisStore::builder`] sets the timeouts first: `connection_timeout` (one attempt to open a
//!   connection: TCP, TLS, `AUTH`, `SELECT`; default 2 s) and `response_timeout` (the reply to
//!   one command; default 2 s). Every round trip is also capped at their sum, whatever happens
//!   underneath.
//! - TLS (feature `tls`, on by default): rustls with the `ring` provider (installed as the
//!   process default unless one is installed already), verifying the server against the system
//!   root certificates (`rustls-native-certs`, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`).
//!   ring has no post-quantum key exchange (rustls 0.23.48 deprecates its provider for that);
//!   an application that wants it installs another provider (aws-lc-rs) before connecting.
//!
//! # Keys
//!
//! The key `k` of a store with namespace `ns` is the Redis key `ns:k` (the bytes of `ns`, a `:`,
//! the bytes of `k`). A namespace is non-empty and holds no `:`, so the first `:` of a Redis key
//! ends its namespace and no namespace's keys can be mistaken for another's (those of `app2` do
//! not start with `app:`). Any other character is fine, glob metacharacters included (they are
//! escaped in `SCAN` patterns). On a cluster each key lands on the slot of its own name; a namespace or key
//! containing a hash tag (`{...}`) pins keys to one slot, hence one node, as Redis always does.
//!
//! # Encoding (format 1)
//!
//! Other programs read and write these keys, so the encoding is specified like a file format. A
//! value is one Redis string:
//!
//! | first byte | value | rest of the string |
//! |---|---|---|
//! | `-`, `0`–`9` | `Int` | the whole string is the canonical decimal integer (`-42`, `0`): optional `-`, no `+`, no leading zeros, no `-0`, within `i64` — what `INCRBY` accepts and writes |
//! | `0x80` | `Null` | nothing |
//! | `0x81` / `0x82` | `Bool(false)` / `Bool(true)` | nothing |
//! | `0x84` | `Float` | 8 bytes: the IEEE-754 bits, big-endian (every NaN payload and `-0.0` kept) |
//! | `0x85` | `Str` | the UTF-8 bytes, to the end |
//! | `0x86` | `Bytes` | the bytes, to the end (any bytes, empty too) |
//! | `0x87` | `List` | count (varint), then that many **nested** values |
//! | `0x88` | `Dict` | count (varint), then that many entries: key length (varint), key (UTF-8), nested value; keys strictly ascending by bytes |
//!
//! Inside a list or dict ("nested"), values use the same tags with two differences: an `Int` is
//! `0x83` followed by its zigzag varint (`(n << 1) ^ (n >> 63)`), and a `Str` or `Bytes` has its
//! length (varint) after the tag. A varint is unsigned LEB128 (7 bits per byte, least
//! significant group first, high bit set on every byte but the last), at most 10 bytes, in its
//! shortest form. Examples: `Int(-42)` is `-42`; `Str("5")` is `85 35`; `Float(-0.0)` is `84 80
//! 00 00 00 00 00 00 00`; `List[Int(-2), Str("ab")]` is `87 02 83 03 85 02 61 62`; `Dict{"k":
//! Int(150)}` is `88 01 01 6b 83 ac 02`.
//!
//! Properties the store relies on, and readers may too:
//!
//! - **Only an `Int` reads as an integer.** Every other value starts with a byte `>= 0x80`, which
//!   no decimal integer does: `Str("5")` is `85 35`, and `incr` on it is
//!   [`Error::NotAnInteger`], exactly as on `Store`. An `Int` is a plain Redis integer: `INCRBY`
//!   from any client works on it and keeps its TTL.
//! - **Canonical.** Each value has exactly one encoding (floats taken by their bits), and a
//!   reader accepts only that one (shortest varints, sorted unique dict keys, valid UTF-8, no
//!   trailing bytes), so two values are identical iff their bytes are equal.
//! - **Versioned by tag.** Format 1 uses the tags above; a later format adds new tags (`0x89`
//!   and up), which this version refuses rather than misreads.
//! - A string that is not a value of this format (written by another program: `hello`, `007`,
//!   the empty string) is an [`Error::Backend`] saying so, never a guess; a key holding another
//!   Redis type (a hash, a list) is the server's `WRONGTYPE`, as an [`Error::Backend`]. Decoding
//!   and encoding are iterative: values nested 100,000 levels deep are fine.
//! - **Decoding is bounded by the value's size.** Anyone who can write into the namespace can
//!   make the store decode any bytes, so decoding a value of `L` bytes never holds more than
//!   `320 * L + 1 KiB` at once (`C = 320`, `K = 1 KiB`), whatever it declares. A count is
//!   checked against the room left for it (the rest of the value, less the smallest encoding of
//!   every element the enclosing containers still expect: 1 byte per list element, 2 per dict
//!   entry) before anything is reserved, and a list reserves exactly that count; so the open
//!   containers together never reserve more element slots than the value has bytes (the older
//!   check against the value's end alone let a 40 KB value reserve 6.3 GiB). The costliest
//!   decoded value is a dict of one entry (a 632-byte B-tree leaf for 3 bytes); the decoder's
//!   stack adds 64 bytes (twice that while it grows) per open container. Measured worst: 241
//!   bytes per byte (dicts of one entry nested 5,000 deep); crafted invalid values at most 32
//!   (`tests/decode_memory.rs` of the core crate, counting allocator).
//!
//! # TTLs
//!
//! Sent in milliseconds, rounded **up** (1 ns is 1 ms: a TTL never becomes "no expiry" or
//! "expire now" by rounding). A `Duration` is always a deadline, as on `Store`: `Duration::ZERO`
//! is expired at once and is never sent as `PX 0` (which Redis refuses): `set_with_ttl(k, v,
//! ZERO)` and a `swap` with `Some(ZERO)` remove the key (`UNLINK`, `GETDEL`), `expire(k, ZERO)`
//! removes a live key (`UNLINK`, as `EXPIRE k 0` does), `set_if_absent` with `Some(ZERO)` only
//! asks `EXISTS` (it returns `true` when the key is not live, and stores nothing), a load with
//! `Some(ZERO)` returns its value and stores nothing. No expiry is `None`. TTLs above
//! [`MAX_TTL_MS`] (2^62 ms, about 146 million years) are sent as that, since Redis refuses an
//! expiry time that overflows. [`AsyncKv::ttl`] maps `PTTL`: -2 is [`Ttl::Missing`], -1
//! [`Ttl::Persistent`], `n` ms [`Ttl::Expires`] (and 0, a key with less than a millisecond left,
//! reports 1 ms: a live key never reports zero). Expiry is the server's: an expired key is absent
//! for every command from the instant it expires, as on `Store`.
//!
//! # Operations
//!
//! Every operation is one command or one Lua script on one key, so one atomic step on the
//! server (Redis runs commands and scripts one at a time). `update` is the one that takes more
//! than one round trip, and it commits with a compare-and-swap script.
//!
//! | operation | Redis |
//! |---|---|
//! | `set`, `set_with_ttl` | `SET k v [PX ms]` |
//! | `get`, `get_or` | `GET k` |
//! | `delete` | `DEL k` |
//! | `exists` | `EXISTS k` |
//! | `incr` | `INCRBY k d` ("not an integer" → [`Error::NotAnInteger`], "would overflow" → [`Error::Overflow`]; nothing written) |
//! | `incr_with_ttl` | script: `EXISTS`, `INCRBY`, `PEXPIRE` only if the key did not exist, reply read back with `GET` (exact beyond 2^53); with `ZERO`, a key that did not exist is not created (the delta is returned) |
//! | `ttl` | `PTTL k` |
//! | `expire` | `PEXPIRE k ms`; with `ZERO`, `UNLINK k` (true iff the key was live) |
//! | `get_and_expire` | `GETEX k PX ms`; with `ZERO`, `GETDEL k` |
//! | `persist` | `PERSIST k` (true iff live with a TTL) |
//! | `set_if_absent` | `SET k v NX [PX ms]` |
//! | `swap` | `SET k v [PX ms] GET` |
//! | `take` | `GETDEL k` |
//! | `compare_and_set` | script: compare, then `SET k new KEEPTTL` |
//! | `compare_and_delete` | script: compare, then `DEL k` |
//! | `update(f)` | `GET k`, `f` run locally, then a script that writes (`SET k new KEEPTTL`) only if the bytes are still the ones read; on conflict `f` runs again on the new value |
//! | `keys`, `len`, `is_empty`, `clear` | `SCAN` of the namespace on every node, below |
//!
//! Scripts are sent with `EVALSHA`, and `EVAL` after a `NOSCRIPT` reply (which means nothing ran).
//!
//! **Comparisons.** `compare_and_set`/`compare_and_delete` act iff the stored value `==`
//! `expected` with `Value`'s `PartialEq`, exactly as on `Store`: floats compare as `f64`, so `0.0
//! == -0.0` and a NaN equals nothing (itself included). The script compares bytes, which is
//! equality for everything but floats: an `expected` holding a NaN anywhere fails without asking
//! the server (it cannot equal anything), and at the sign byte of each zero float in `expected`
//! the script accepts either `0x00` or `0x80`. With the canonical encoding that is exactly
//! `Value`'s `==` (the conformance suite checks it on every backend, `Store` included).
//!
//! # `keys`, `clear`, `len` in a namespace
//!
//! They see only the store's namespace and never use `KEYS`, `FLUSHDB` or `DBSIZE`: they `SCAN`
//! with `MATCH <namespace:><literal prefix of the pattern>*` (glob metacharacters escaped) and
//! `COUNT 1000`, and `keys` filters with this crate's own matcher ([`scriptling_kv::Pattern`],
//! the rules of `Store::keys`, malformed patterns [`Error::InvalidPattern`]), then sorts and
//! deduplicates (`SCAN` may return a key twice). `clear` removes each page of keys with `UNLINK`
//! (freed in the background); `len` counts distinct keys (memory proportional to the namespace);
//! `is_empty` stops at the first key. Each costs a walk of the whole database (`SCAN` iterates
//! every key and filters), so they are for maintenance and small databases, not request paths.
//! Keys in the namespace that are not UTF-8 (written by other programs) are skipped by `keys`
//! and counted and removed by `len` and `clear`.
//!
//! On a cluster a namespace's keys are spread over every slot, so the walk runs on **every
//! master** (listed with `CLUSTER SLOTS`), one after the other, and `clear` groups each page's
//! keys by hash slot (one `UNLINK` per slot, sent concurrently). Like `Store::keys`, none of these
//! is a snapshot, and `SCAN`'s guarantees are the limit: a key present for the whole walk is
//! seen, a key added or removed during it may or may not be, and a resharding or failover during
//! the walk may miss keys or show them twice (deduplicated by `keys` and `len`).
//!
//! # Consistency
//!
//! On one Redis server every single-key operation is linearizable: each is one command or script,
//! applied atomically in the server's order, and a write is acknowledged only once applied. On a
//! cluster each key lives on one master, so the same holds per key while the cluster is stable.
//! Redis replication is asynchronous: after a failover, writes the old master acknowledged but
//! had not replicated are lost, so an acknowledged write can disappear (and a lock taken with
//! `set_if_absent` can be taken twice). This store does not use `WAIT`; a deployment that cannot
//! accept that needs a different store.
//!
//! # Errors and failures
//!
//! Every failure to talk to the server is [`Error::Backend`] (`backend: "redis"`, and a reason
//! saying what happened), returned within a bounded time, never a hang or a panic:
//!
//! - No reply within `response_timeout`: "timed out ... the command may or may not have been
//!   applied". Every round trip is also capped at `connection_timeout + response_timeout`.
//! - Connection refused ("the command was not sent") or lost ("may or may not have been
//!   applied"). Reconnection is automatic: on a server, redis-rs's `ConnectionManager` starts a
//!   new connection in the background and the next commands use it (one connection attempt plus
//!   one retry after 50–500 ms, each bounded by `connection_timeout`, so with the server down a
//!   command fails in about that long, and the first command after it is back succeeds); on a
//!   cluster, redis-rs reconnects to the node and refreshes the slot map.
//! - **No blind retries.** A write whose outcome is unknown (timeout, lost connection) is never
//!   sent again by this crate or by redis-rs: the `ConnectionManager` never re-sends a command,
//!   and on a cluster writes go through a connection built with zero retries (reads — `GET`,
//!   `EXISTS`, `PTTL`, `SCAN` — use one with redis-rs's retries). The error then says the write
//!   may or may not have been applied: an `incr` that timed out may have counted, once. Only
//!   `MOVED` and `ASK` redirects are followed for writes (`ASK` with `ASKING` on the target
//!   node), because a server sends them for a command it did not execute; `TRYAGAIN`,
//!   `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`, `READONLY` (a write that reached a replica) are
//!   returned as errors saying the command was not applied.
//! - `update` is the one operation that loops: it retries its compare-and-swap when another
//!   writer got in between (a conflict, not a failure), calling `f` again, without bound, like
//!   `Store::update` under contention.
//!
//! # Single-flight loads
//!
//! [`AsyncKv::load_with`](scriptling_kv::AsyncKv::load_with) and
//! [`AsyncKv::try_load_with`](scriptling_kv::AsyncKv::try_load_with) read a key and, if it is
//! missing, load it: concurrent calls for the same key on one `RedisStore` (and its clones) run
//! one load, and the others wait for its value ([`scriptling_kv::Source::Coalesced`]). The loaded
//! value is stored with `SET k v NX [PX ms] GET`, so a value another process stored meanwhile
//! wins, and is what every caller of this flight gets. Across processes nothing is coalesced:
//! each process may run one load per key at the same time, the first to store wins, and every
//! process returns that first value (the others' loads are discarded). A loader's error goes to
//! its own caller only ([`scriptling_kv::LoadError::Init`]); its waiters start over, and one of
//! them loads next, as they do when the loader is cancelled (its future dropped) or panics. The
//! same semantics as on `Store` (the conformance suite runs them on both:
//! `loads_hit_load_and_coalesce`, `a_failed_load_goes_to_its_caller_only`,
//! `a_cancelled_load_hands_over`; `tests/redis.rs`, `across_processes_the_first_stored_value_wins`).
//!
//! # Testing against real servers
//!
//! `scripts/with-redis.sh COMMAND` (in the repository) starts a standalone server, one with a
//! password, one with TLS and a 3-master cluster on free loopback ports, exports their URLs,
//! runs the command, and stops them:
//!
//! ```sh
//! scripts/with-redis.sh cargo test -p scriptling-kv-redis
//! scripts/with-redis.sh cargo bench -p scriptling-kv-redis --bench ops
//! ```
//!
//! Without it the Redis tests fail, saying so: a test that finds no server never passes.
//!
//! [`AsyncKv`]: scriptling_kv::AsyncKv
//! [`AsyncKv::ttl`]: scriptling_kv::AsyncKv::ttl
//! [`Store`]: scriptling_kv::Store
//! [`Error::Backend`]: scriptling_kv::Error::Backend
//! [`Error::NotAnInteger`]: scriptling_kv::Error::NotAnInteger
//! [`Error::Overflow`]: scriptling_kv::Error::Overflow
//! [`Error::InvalidPattern`]: scriptling_kv::Error::InvalidPattern
//! [`Ttl::Missing`]: scriptling_kv::Ttl::Missing
//! [`Ttl::Persistent`]: scriptling_kv::Ttl::Persistent
//! [`Ttl::Expires`]: scriptling_kv::Ttl::Expires
#![doc(test(attr(deny(warnings))))]

mod codec;
mod conn;
mod flight;
mod scripts;
mod store;

pub use store::{RedisStore, RedisStoreBuilder, MAX_TTL_MS};

/// Decodes the bytes of a stored value ("Encoding (format 1)" above), with the reason as text
/// if they are not one: for the tests of the decoder's memory bound (`tests/decode_memory.rs`
/// of the core crate, which has a counting allocator) and fuzzing. Not part of the API.
#[doc(hidden)]
pub fn __decode_value(bytes: &[u8]) -> Result<scriptling_kv::Value, String> {
    codec::decode(bytes).map_err(|e| e.to_string())
}

/// Encodes a value as it is stored ("Encoding (format 1)" above): the counterpart of
/// [`__decode_value`], for the same tests. Not part of the API.
#[doc(hidden)]
pub fn __encode_value(value: &scriptling_kv::Value) -> Vec<u8> {
    codec::encode(value)
}
