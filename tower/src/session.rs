//! [`KvSessionStore`]: tower-sessions' `SessionStore` on any [`AsyncKv`] backend.
//!
//! # The encoding (a file format: other programs may read these keys)
//!
//! One key per session, `{prefix}{id}` (`prefix` is `session:` unless
//! [`KvSessionStore::with_prefix`] says otherwise; `id` is the session id as tower-sessions
//! prints it, 22 characters of base64url), holding a [`Value::Str`]: the session's `Record`
//! serialized by serde_json (`{"id":…,"data":{…},"expiry_date":…}`). A string and not a
//! [`Value`] tree, because the record's data is JSON and JSON has numbers a [`Value`] has not
//! (integers above `i64::MAX`); serde_json's own text round-trips every one of them exactly,
//! floats included. The key's TTL ends at the record's `expiry_date`: a session leaves nothing
//! behind (there is no index, no persistent key).
//!
//! # Guarantees
//!
//! - `create` is one `set_if_absent`: a new session never overwrites another. A colliding id
//!   (two ids of 128 random bits: in practice, a bug or an attack) is replaced by a fresh one,
//!   up to [`CREATE_ATTEMPTS`] times.
//! - `save` replaces the record and its TTL in one write (`set_with_ttl`); an `expiry_date`
//!   already past removes the session instead (a TTL of zero would do the same: in this crate
//!   a zero TTL means expired at once, never "no expiry").
//! - `load` returns `None` for a missing or expired session (the backend's TTL, checked again
//!   against the record's `expiry_date`), and an error for a value that is not a record.
//! - Sessions saved through one handle load through any other that shares the backend and
//!   prefix: two replicas of a service on one Redis namespace share their sessions.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use scriptling_kv::{AsyncKv, Value};
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{Error as StoreError, Result as StoreResult};
use tower_sessions_core::SessionStore;

use crate::clock::{Clock, SharedClock};

/// How many ids `create` tries before it gives up (each collision draws a new random id).
pub const CREATE_ATTEMPTS: usize = 8;

/// The default key prefix of a session.
pub const DEFAULT_SESSION_PREFIX: &str = "session:";

/// A tower-sessions store on an [`AsyncKv`] backend: [`scriptling_kv::Store`] in process,
/// `scriptling_kv_redis::RedisStore` shared by replicas, or a [`scriptling_kv::SharedKv`] over
/// either. See the [module docs](self) for the encoding and the guarantees.
///
/// ```
/// use scriptling_kv::{SharedKv, Store};
/// use scriptling_kv_tower::KvSessionStore;
///
/// let sessions = KvSessionStore::new(SharedKv::new(Store::new())).with_prefix("web:session:");
/// # let _ = sessions;
/// ```
#[derive(Clone)]
pub struct KvSessionStore<K> {
    kv: K,
    prefix: Arc<str>,
    clock: SharedClock,
}

impl<K: fmt::Debug> fmt::Debug for KvSessionStore<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvSessionStore")
            .field("kv", &self.kv)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<K> KvSessionStore<K>
where
    K: AsyncKv + Clone + fmt::Debug + 'static,
{
    /// Sessions on `kv`, under the prefix [`DEFAULT_SESSION_PREFIX`], with TTLs computed from
    /// the system clock.
    pub fn new(kv: K) -> KvSessionStore<K> {
        KvSessionStore {
            kv,
            prefix: DEFAULT_SESSION_PREFIX.into(),
            clock: SharedClock::system(),
        }
    }

    /// Keys are `{prefix}{id}`.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> KvSessionStore<K> {
        self.prefix = prefix.into();
        self
    }

    /// The clock a record's TTL is computed from (`expiry_date` minus its reading). Tests pair
    /// it with the store's test clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> KvSessionStore<K> {
        self.clock = SharedClock(Arc::new(clock));
        self
    }

    /// The backend key of the session `id`.
    pub fn key(&self, id: &Id) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The time left until `expiry`, `None` if it has passed (or is now).
    fn ttl_until(&self, expiry: OffsetDateTime) -> Option<Duration> {
        let now = OffsetDateTime::from(self.clock.now());
        let left = expiry - now;
        if left.is_positive() {
            Duration::try_from(left).ok()
        } else {
            None
        }
    }
}

fn encode(record: &Record) -> StoreResult<String> {
    serde_json::to_string(record).map_err(|e| StoreError::Encode(e.to_string()))
}

fn backend(e: scriptling_kv::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[async_trait::async_trait]
impl<K> SessionStore for KvSessionStore<K>
where
    K: AsyncKv + Clone + fmt::Debug + 'static,
{
    async fn create(&self, record: &mut Record) -> StoreResult<()> {
        for _ in 0..CREATE_ATTEMPTS {
            // A record born expired is never stored (and so cannot collide).
            let Some(ttl) = self.ttl_until(record.expiry_date) else {
                return Ok(());
            };
            let key = self.key(&record.id);
            let stored = self
                .kv
                .set_if_absent(&key, encode(record)?, Some(ttl))
                .await
                .map_err(backend)?;
            if stored {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(StoreError::Backend(format!(
            "no free session id after {CREATE_ATTEMPTS} attempts"
        )))
    }

    async fn save(&self, record: &Record) -> StoreResult<()> {
        let key = self.key(&record.id);
        match self.ttl_until(record.expiry_date) {
            Some(ttl) => self
                .kv
                .set_with_ttl(&key, encode(record)?, ttl)
                .await
                .map_err(backend),
            None => self.kv.delete(&key).await.map(drop).map_err(backend),
        }
    }

    async fn load(&self, id: &Id) -> StoreResult<Option<Record>> {
        let value = self.kv.get(&self.key(id)).await.map_err(backend)?;
        let text = match value {
            None => return Ok(None),
            Some(Value::Str(text)) => text,
            Some(_) => {
                return Err(StoreError::Decode(format!(
                    "{} does not hold a session record",
                    self.key(id)
                )))
            }
        };
        let record: Record =
            serde_json::from_str(&text).map_err(|e| StoreError::Decode(e.to_string()))?;
        if record.id != *id {
            return Err(StoreError::Decode(format!(
                "{} holds the record of another session",
                self.key(id)
            )));
        }
        // The backend's TTL ends the session; this is the same rule read from the record, for
        // a backend whose clock runs behind ours.
        Ok(self.ttl_until(record.expiry_date).map(|_| record))
    }

    async fn delete(&self, id: &Id) -> StoreResult<()> {
        self.kv
            .delete(&self.key(id))
            .await
            .map(drop)
            .map_err(backend)
    }
}
