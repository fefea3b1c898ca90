//! [`RedisStore`] and [`RedisStoreBuilder`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_routing::Slot;
use redis::{cmd, Cmd, ErrorKind, RedisError, ServerErrorKind, Value as Reply};
use scriptling_kv::{AsyncKv, Error, LoadError, Loaded, Pattern, Result, Source, Ttl, Value};

use crate::codec;
use crate::conn::{masters_of, Conn, NodeAddr, Resend};
use crate::flight::{Flights, Outcome, Role};
use crate::scripts::{Lua, Scripts};

/// The `backend` name in [`Error::Backend`].
const BACKEND: &str = "redis";

/// The longest TTL sent to Redis, in milliseconds (2^62 ms, about 146 million years): Redis
/// refuses an expiry time that overflows `i64` milliseconds once the current time is added, so
/// longer TTLs are saturated to this.
pub const MAX_TTL_MS: u64 = 1 << 62;

/// Keys per `SCAN` call (its `COUNT` hint).
const SCAN_COUNT: usize = 1000;

/// Default connection timeout.
const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// Default response timeout.
const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

fn backend(reason: impl Into<String>) -> Error {
    Error::Backend {
        backend: BACKEND.to_owned(),
        reason: reason.into(),
    }
}

/// Whether `e` says the server wants (other) credentials.
fn is_auth_error(e: &RedisError) -> bool {
    let msg = e.to_string();
    e.kind() == ErrorKind::AuthenticationFailed
        || [
            "WRONGPASS",
            "NOAUTH",
            "invalid password",
            "invalid username-password",
        ]
        .iter()
        .any(|s| msg.contains(s))
}

/// Maps a redis-rs error to [`Error::Backend`], saying what kind of failure it was.
fn map_err(e: &RedisError) -> Error {
    let msg = e.to_string();
    if is_auth_error(e) {
        return backend(format!("authentication failed: {msg}"));
    }
    if e.is_connection_refusal() {
        return backend(format!(
            "connection refused ({msg}): the command was not sent; the next command reconnects"
        ));
    }
    if e.is_timeout() {
        return backend(format!(
            "timed out waiting for the server ({msg}): the command may or may not have been \
             applied"
        ));
    }
    if e.is_connection_dropped() {
        return backend(format!(
            "connection lost ({msg}): the command may or may not have been applied; the next \
             command reconnects"
        ));
    }
    if e.is_io_error() {
        return backend(format!(
            "connection error ({msg}): if the command was sent, it may or may not have been \
             applied"
        ));
    }
    match e.kind() {
        ErrorKind::Server(
            ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        ) => backend(format!("{msg} (the command was not applied)")),
        _ => backend(msg),
    }
}

/// A TTL argument as the server takes it: no expiry, a `PX` in milliseconds, or expired at once
/// (a zero `Duration`, which is never sent: Redis rejects `PX 0`, and the write becomes a removal
/// or nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RTtl {
    Never,
    Ms(u64),
    Gone,
}

impl RTtl {
    /// `None` is no expiry; `Some(d)` a deadline `d` from now (zero: expired at once).
    pub(crate) fn of(ttl: Option<Duration>) -> RTtl {
        match ttl {
            None => RTtl::Never,
            Some(d) => match ttl_ms(d) {
                None => RTtl::Gone,
                Some(ms) => RTtl::Ms(ms),
            },
        }
    }
}

/// TTL in whole milliseconds, rounded up (1 ns is 1 ms), saturated at [`MAX_TTL_MS`]; `None` for
/// `Duration::ZERO` (expired at once: no `PX` can say it).
pub(crate) fn ttl_ms(ttl: Duration) -> Option<u64> {
    if ttl.is_zero() {
        return None;
    }
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    Some(u64::try_from(ms).unwrap_or(MAX_TTL_MS).min(MAX_TTL_MS))
}

/// Appends `bytes` to a Redis glob pattern as literal text (`*?[]\` escaped).
fn push_escaped(pattern: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            pattern.push(b'\\');
        }
        pattern.push(b);
    }
}

/// Builds a [`RedisStore`] with non-default timeouts.
///
/// ```no_run
/// # async fn demo() -> scriptling_kv::Result<()> {
/// use std::time::Duration;
/// use scriptling_kv::AsyncKv;
/// use scriptling_kv_redis::RedisStore;
///
/// let kv = RedisStore::builder()
///     .connection_timeout(Duration::from_millis(500))
///     .response_timeout(Duration::from_secs(1))
///     .connect("redis://127.0.0.1:6379/0", "myapp")
///     .await?;
/// // Every failure to reach the server is now an Error::Backend within 1.5 s.
/// kv.set("k", 1).await?;
/// # Ok(()) }
/// # let _ = demo;
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct RedisStoreBuilder {
    connection_timeout: Duration,
    response_timeout: Duration,
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        RedisStoreBuilder {
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
        }
    }
}

impl RedisStoreBuilder {
    /// How long one attempt to open a connection may take (TCP, TLS, `AUTH`, `SELECT`).
    /// Default: 2 s. Raised to 1 ms if zero.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long to wait for the reply to one command. Default: 2 s. Raised to 1 ms if zero.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The bound on one round trip: waiting for a (re)connection, then for the reply.
    fn round_trip_cap(&self) -> Duration {
        self.connection_timeout + self.response_timeout
    }

    /// Connects to one server (Redis 7.0 or newer, or Valkey): `redis://[[user]:password@]host
    /// [:port][/db]`, or `rediss://...` for TLS (feature `tls`, on by default). Keys are stored
    /// under `namespace` (see the crate docs, "Keys").
    pub async fn connect(self, url: &str, namespace: &str) -> Result<RedisStore> {
        let prefix = namespace_prefix(namespace)?;
        #[cfg(feature = "tls")]
        install_crypto_provider();
        let client =
            redis::Client::open(url).map_err(|e| backend(format!("invalid Redis URL: {e}")))?;
        // Reconnection: one retry after 50-500 ms, so a command waiting for a new connection
        // fails within the round-trip cap when the server is down, and the next one tries again.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let cap = self.round_trip_cap();
        let manager = tokio::time::timeout(cap, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| backend(format!("could not connect within {cap:?}")))?
            .map_err(|e| map_err(&e))?;
        let store = RedisStore::new(Conn::Single(manager), namespace, prefix, self);
        store.check_version().await?;
        Ok(store)
    }

    /// Connects to a Redis Cluster (7.0 or newer) through any of its nodes (`redis://host:port`
    /// URLs, all with the same credentials). Keys are stored under `namespace`.
    pub async fn connect_cluster(self, nodes: &[&str], namespace: &str) -> Result<RedisStore> {
        let prefix = namespace_prefix(namespace)?;
        #[cfg(feature = "tls")]
        install_crypto_provider();
        let cap = self.round_trip_cap();
        let build = |retries: u32| {
            ClusterClientBuilder::new(nodes.iter().copied())
                .connection_timeout(self.connection_timeout)
                .response_timeout(self.response_timeout)
                .retries(retries)
                .build()
                .map_err(|e| backend(format!("invalid cluster configuration: {e}")))
        };
        let retrying_client = build(3)?;
        let once_client = build(0)?;
        let connect = |client: redis::cluster::ClusterClient| async move {
            tokio::time::timeout(cap, client.get_async_connection())
                .await
                .map_err(|_| backend(format!("could not connect to the cluster within {cap:?}")))?
                .map_err(|e| map_err(&e))
        };
        let retrying = connect(retrying_client).await?;
        let once = connect(once_client).await?;
        let store = RedisStore::new(Conn::Cluster { retrying, once }, namespace, prefix, self);
        store.check_version().await?;
        Ok(store)
    }
}

/// rustls needs a process-wide crypto provider; install ring's unless one is installed already
/// (an application that wants another, such as aws-lc-rs with post-quantum key exchange,
/// installs it before connecting, and this leaves it alone).
#[cfg(feature = "tls")]
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // rustls 0.23.48 deprecates ring's provider because ring has no post-quantum key
        // exchange. We keep ring on purpose (it builds without cmake or a C++ toolchain) and
        // say so in the crate docs ("TLS"); the allow keeps the newest rustls from warning in
        // every build that depends on us. Another thread may win the race: either is fine.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let _ = provider.install_default();
    }
}

/// `namespace:`, after checking the namespace is valid.
fn namespace_prefix(namespace: &str) -> Result<Vec<u8>> {
    if namespace.is_empty() || namespace.contains(':') {
        return Err(backend(format!(
            "invalid namespace {namespace:?}: it must be non-empty and contain no ':' (the \
             separator, which keeps every namespace's keys apart)"
        )));
    }
    let mut prefix = namespace.as_bytes().to_vec();
    prefix.push(b':');
    Ok(prefix)
}

/// A key-value store on Redis (or Valkey), standalone or cluster: the operations of
/// [`scriptling_kv::Store`] through [`AsyncKv`], shared by every process that connects to the
/// same server with the same namespace. See the crate docs for the encoding, the mapping to
/// Redis commands, and the failure behaviour.
///
/// Cheap to clone (clones share the connections and the single-flight table); `Send + Sync`.
/// Needs a Tokio runtime with its time driver (`enable_all`).
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    namespace: String,
    /// `namespace:`, the prefix of every Redis key of this store.
    prefix: Vec<u8>,
    /// The bound on one round trip (connection timeout + response timeout).
    cap: Duration,
    config: RedisStoreBuilder,
    scripts: Scripts,
    flights: Flights,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("mode", &self.inner.conn)
            .field("namespace", &self.inner.namespace)
            .field("connection_timeout", &self.inner.config.connection_timeout)
            .field("response_timeout", &self.inner.config.response_timeout)
            .field("flights", &self.inner.flights)
            .finish()
    }
}

/// A decoded `SCAN` page: the next cursor and the keys.
type Page = (u64, Vec<Vec<u8>>);

impl RedisStore {
    /// A builder, for non-default timeouts.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
    }

    /// Connects to one server with the default timeouts; see [`RedisStoreBuilder::connect`].
    ///
    /// ```no_run
    /// # async fn demo() -> scriptling_kv::Result<()> {
    /// use scriptling_kv::AsyncKv;
    /// use scriptling_kv_redis::RedisStore;
    ///
    /// let kv = RedisStore::connect("redis://:secret@127.0.0.1:6379/0", "myapp").await?;
    /// kv.set("greeting", "hello").await?; // the Redis key "myapp:greeting"
    /// # Ok(()) }
    /// # let _ = demo;
    /// ```
    pub async fn connect(url: &str, namespace: &str) -> Result<RedisStore> {
        RedisStore::builder().connect(url, namespace).await
    }

    /// Connects to a cluster with the default timeouts; see
    /// [`RedisStoreBuilder::connect_cluster`].
    pub async fn connect_cluster(nodes: &[&str], namespace: &str) -> Result<RedisStore> {
        RedisStore::builder()
            .connect_cluster(nodes, namespace)
            .await
    }

    fn new(conn: Conn, namespace: &str, prefix: Vec<u8>, config: RedisStoreBuilder) -> Self {
        RedisStore {
            inner: Arc::new(Inner {
                conn,
                namespace: namespace.to_owned(),
                prefix,
                cap: config.round_trip_cap(),
                config,
                scripts: Scripts::new(),
                flights: Flights::default(),
            }),
        }
    }

    /// The namespace this store's keys live under.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// Whether this store is connected to a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner.conn, Conn::Cluster { .. })
    }

    /// The Redis key of `key`.
    fn rkey(&self, key: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.inner.prefix.len() + key.len());
        k.extend_from_slice(&self.inner.prefix);
        k.extend_from_slice(key.as_bytes());
        k
    }

    /// One round trip, bounded by the cap; the server's error replies mapped.
    async fn query(&self, cmd: &Cmd, resend: Resend) -> Result<Reply> {
        self.send(cmd, resend).await?.map_err(|e| map_err(&e))
    }

    /// One round trip, bounded by the cap; the server's error replies as they are.
    async fn send(&self, cmd: &Cmd, resend: Resend) -> Result<redis::RedisResult<Reply>> {
        self.within(self.inner.conn.query(cmd, resend)).await
    }

    /// `f`, or [`Error::Backend`] if it takes longer than the cap.
    async fn within<T>(&self, f: impl Future<Output = T>) -> Result<T> {
        let cap = self.inner.cap;
        tokio::time::timeout(cap, f).await.map_err(|_| {
            backend(format!(
                "no reply within {cap:?} (connection timeout + response timeout; the command \
                 may or may not have been applied)"
            ))
        })
    }

    /// Runs a script on `key` (`EVALSHA`, and `EVAL` if the server does not have it yet:
    /// `NOSCRIPT` means nothing ran). Sent once. The server's error replies as they are.
    async fn eval(
        &self,
        lua: &Lua,
        key: &[u8],
        args: &[&[u8]],
    ) -> Result<redis::RedisResult<Reply>> {
        let build = |name: &str, body: &str| {
            let mut c = cmd(name);
            c.arg(body).arg(1).arg(key);
            for a in args {
                c.arg(*a);
            }
            c
        };
        match self
            .send(&build("EVALSHA", &lua.sha), Resend::Never)
            .await?
        {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.send(&build("EVAL", lua.src), Resend::Never).await
            }
            other => Ok(other),
        }
    }

    /// [`eval`](Self::eval) with the errors mapped.
    async fn eval_mapped(&self, lua: &Lua, key: &[u8], args: &[&[u8]]) -> Result<Reply> {
        self.eval(lua, key, args).await?.map_err(|e| map_err(&e))
    }

    /// Checks the server is Redis 7.0+ (or Valkey, which reports a compatible `redis_version`):
    /// the store uses `SET ... NX GET` (7.0), `GETDEL` (6.2) and `KEEPTTL` (6.0).
    async fn check_version(&self) -> Result<()> {
        let mut c = cmd("INFO");
        c.arg("server");
        let reply = match self.within(self.inner.conn.query_any(&c)).await? {
            Ok(r) => r,
            // Some managed services refuse INFO (NOPERM, unknown command): then the commands
            // will tell. A server that wants a password says so now, not at the first command.
            Err(e)
                if matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::Extension)
                    && !is_auth_error(&e) =>
            {
                return Ok(())
            }
            Err(e) => return Err(map_err(&e)),
        };
        let text = match &reply {
            Reply::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::VerbatimString { text, .. } => text.clone(),
            _ => return Ok(()),
        };
        let version = text
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .map(str::trim);
        if let Some(v) = version {
            let major: u32 = v
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major < 7 {
                return Err(backend(format!(
                    "Redis {v} is too old: scriptling-kv-redis needs 7.0 or newer"
                )));
            }
        }
        Ok(())
    }

    /// Decodes a `GET`-like reply for `key`.
    fn decode(&self, key: &str, reply: Reply) -> Result<Option<Value>> {
        match reply {
            Reply::Nil => Ok(None),
            Reply::BulkString(b) => codec::decode(&b).map(Some).map_err(|e| {
                backend(format!(
                    "key {:?} holds bytes that are not a scriptling-kv value: {e}",
                    String::from_utf8_lossy(&self.rkey(key))
                ))
            }),
            other => Err(unexpected(&other)),
        }
    }

    async fn get_value(&self, key: &str) -> Result<Option<Value>> {
        let mut c = cmd("GET");
        c.arg(self.rkey(key));
        let reply = self.query(&c, Resend::Read).await?;
        self.decode(key, reply)
    }

    /// `SET key bytes [PX ms]` plus `extra` options (the caller handles [`RTtl::Gone`], which
    /// sends no `PX`).
    fn set_cmd(&self, key: &str, bytes: &[u8], ttl: RTtl, extra: &[&str]) -> Cmd {
        let mut c = cmd("SET");
        c.arg(self.rkey(key)).arg(bytes);
        if let RTtl::Ms(ms) = ttl {
            c.arg("PX").arg(ms);
        }
        for e in extra {
            c.arg(*e);
        }
        c
    }

    async fn set_value(&self, key: &str, value: Value, ttl: RTtl) -> Result<()> {
        if ttl == RTtl::Gone {
            // Expired at once: what was there is removed, and the value is never stored.
            value.dispose();
            return self.bool_cmd("UNLINK", key, Resend::Never).await.map(drop);
        }
        let c = self.set_cmd(key, &codec::encode(&value), ttl, &[]);
        value.dispose();
        self.query(&c, Resend::Never).await.map(drop)
    }

    async fn int_cmd(&self, c: &Cmd, resend: Resend) -> Result<i64> {
        as_int(&self.query(c, resend).await?)
    }

    /// A one-key command answering 0 or 1.
    async fn bool_cmd(&self, name: &str, key: &str, resend: Resend) -> Result<bool> {
        let mut c = cmd(name);
        c.arg(self.rkey(key));
        Ok(self.int_cmd(&c, resend).await? == 1)
    }

    async fn incr_value(&self, key: &str, delta: i64) -> Result<i64> {
        let mut c = cmd("INCRBY");
        c.arg(self.rkey(key)).arg(delta);
        as_int(
            &self
                .send(&c, Resend::Never)
                .await?
                .map_err(|e| incr_error(&e))?,
        )
    }

    async fn incr_with_ttl_value(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64> {
        // `gone`: a key this call creates is expired at once (the script stores nothing).
        let ttl = ttl_ms(ttl).map_or_else(|| "gone".to_owned(), |ms| ms.to_string());
        let reply = self
            .eval(
                &self.inner.scripts.incr_with_ttl,
                &self.rkey(key),
                &[delta.to_string().as_bytes(), ttl.as_bytes()],
            )
            .await?
            .map_err(|e| incr_error(&e))?;
        match reply {
            Reply::BulkString(b) => codec::parse_decimal(&b).ok_or_else(|| unexpected_bytes(&b)),
            other => Err(unexpected(&other)),
        }
    }

    async fn set_if_absent_value(&self, key: &str, value: Value, ttl: RTtl) -> Result<bool> {
        if ttl == RTtl::Gone {
            // Stored and expired at once: `true` exactly when the key is not live (one read).
            value.dispose();
            return Ok(!self.bool_cmd("EXISTS", key, Resend::Read).await?);
        }
        let c = self.set_cmd(key, &codec::encode(&value), ttl, &["NX"]);
        value.dispose();
        match self.query(&c, Resend::Never).await? {
            Reply::Nil => Ok(false),
            r => as_ok(&r).map(|()| true),
        }
    }

    async fn swap_value(&self, key: &str, value: Value, ttl: RTtl) -> Result<Option<Value>> {
        if ttl == RTtl::Gone {
            // The new value is expired at once: the old one is returned and the key is gone.
            value.dispose();
            return self.take_value(key).await;
        }
        let c = self.set_cmd(key, &codec::encode(&value), ttl, &["GET"]);
        value.dispose();
        let reply = self.query(&c, Resend::Never).await?;
        self.decode(key, reply)
    }

    async fn take_value(&self, key: &str) -> Result<Option<Value>> {
        let mut c = cmd("GETDEL");
        c.arg(self.rkey(key));
        let reply = self.query(&c, Resend::Never).await?;
        self.decode(key, reply)
    }

    async fn compare_and_write(
        &self,
        key: &str,
        expected: &Value,
        new: Option<Value>,
    ) -> Result<bool> {
        let exp = codec::encode_full(expected);
        if exp.has_nan {
            // `Value`'s `==` holds for nothing that contains a NaN (as `f64`'s): the comparison
            // fails whatever the key holds, so there is nothing to ask the server.
            if let Some(v) = new {
                v.dispose();
            }
            return Ok(false);
        }
        // Lua positions are 1-based.
        let signs: Vec<String> = exp
            .zero_signs
            .iter()
            .map(|&i| (i + 1).to_string())
            .collect();
        let new_bytes = new.map(|v| {
            let b = codec::encode(&v);
            v.dispose();
            b
        });
        let mut args: Vec<&[u8]> = vec![&exp.bytes];
        let lua = match &new_bytes {
            Some(b) => {
                args.push(b);
                &self.inner.scripts.compare_and_set
            }
            None => &self.inner.scripts.compare_and_delete,
        };
        args.extend(signs.iter().map(|s| s.as_bytes()));
        let reply = self.eval_mapped(lua, &self.rkey(key), &args).await?;
        Ok(as_int(&reply)? == 1)
    }

    async fn update_value(
        &self,
        key: &str,
        mut f: impl FnMut(&Value) -> Value + Send,
    ) -> Result<Option<Value>> {
        let rkey = self.rkey(key);
        loop {
            let mut c = cmd("GET");
            c.arg(&rkey);
            let old = match self.query(&c, Resend::Read).await? {
                Reply::Nil => return Ok(None),
                Reply::BulkString(b) => b,
                other => return Err(unexpected(&other)),
            };
            let current = self
                .decode(key, Reply::BulkString(old.clone()))?
                .expect("a value");
            let new = f(&current);
            current.dispose();
            let new_bytes = codec::encode(&new);
            if new_bytes == old {
                // Writing the same bytes would change nothing: the update took effect when the
                // value was read.
                return Ok(Some(new));
            }
            let reply = self
                .eval_mapped(
                    &self.inner.scripts.update_if_unchanged,
                    &rkey,
                    &[&old, &new_bytes],
                )
                .await?;
            if as_int(&reply)? == 1 {
                return Ok(Some(new));
            }
            // Somebody wrote in between: `f` runs again on what is there now.
            new.dispose();
        }
    }

    async fn expire_value(&self, key: &str, ttl: Duration) -> Result<bool> {
        let Some(ms) = ttl_ms(ttl) else {
            // Expired at once, as `EXPIRE key 0`: removed; `true` if it was live.
            return self.bool_cmd("UNLINK", key, Resend::Never).await;
        };
        let mut c = cmd("PEXPIRE");
        c.arg(self.rkey(key)).arg(ms);
        Ok(as_int(&self.query(&c, Resend::Never).await?)? == 1)
    }

    async fn get_and_expire_value(&self, key: &str, ttl: Duration) -> Result<Option<Value>> {
        let Some(ms) = ttl_ms(ttl) else {
            return self.take_value(key).await;
        };
        let mut c = cmd("GETEX");
        c.arg(self.rkey(key)).arg("PX").arg(ms);
        let reply = self.query(&c, Resend::Never).await?;
        self.decode(key, reply)
    }

    async fn ttl_value(&self, key: &str) -> Result<Ttl> {
        let mut c = cmd("PTTL");
        c.arg(self.rkey(key));
        match self.int_cmd(&c, Resend::Read).await? {
            -2 => Ok(Ttl::Missing),
            -1 => Ok(Ttl::Persistent),
            // PTTL says 0 for a key with less than a millisecond left: still live, and a live
            // key never reports a zero TTL.
            ms if ms >= 0 => Ok(Ttl::Expires(Duration::from_millis(ms.max(1) as u64))),
            other => Err(backend(format!("unexpected PTTL reply {other}"))),
        }
    }

    // ----- scanning the namespace -----

    /// The nodes holding keys: the server, or every master of the cluster.
    async fn nodes(&self) -> Result<Vec<Option<NodeAddr>>> {
        match &self.inner.conn {
            Conn::Single(_) => Ok(vec![None]),
            Conn::Cluster { .. } => {
                let mut c = cmd("CLUSTER");
                c.arg("SLOTS");
                let reply = self
                    .within(self.inner.conn.query_any(&c))
                    .await?
                    .map_err(|e| map_err(&e))?;
                let masters = masters_of(&reply).ok_or_else(|| unexpected(&reply))?;
                Ok(masters.into_iter().map(Some).collect())
            }
        }
    }

    /// `SCAN cursor MATCH <escaped namespace:literal>* COUNT n` on one node.
    async fn scan_page(&self, node: &Option<NodeAddr>, cursor: u64, literal: &str) -> Result<Page> {
        let mut pattern = Vec::new();
        push_escaped(&mut pattern, &self.inner.prefix);
        push_escaped(&mut pattern, literal.as_bytes());
        pattern.push(b'*');
        let mut c = cmd("SCAN");
        c.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        let reply = match node {
            None => self.query(&c, Resend::Read).await?,
            Some(n) => self
                .within(self.inner.conn.query_node(&c, n))
                .await?
                .map_err(|e| map_err(&e))?,
        };
        let Reply::Array(parts) = reply else {
            return Err(unexpected(&reply));
        };
        let [cursor, Reply::Array(keys)] =
            <[Reply; 2]>::try_from(parts).map_err(|_| backend("unexpected SCAN reply"))?
        else {
            return Err(backend("unexpected SCAN reply"));
        };
        let cursor = match cursor {
            Reply::BulkString(b) => std::str::from_utf8(&b).ok().and_then(|s| s.parse().ok()),
            Reply::Int(n) => u64::try_from(n).ok(),
            _ => None,
        }
        .ok_or_else(|| backend("unexpected SCAN cursor"))?;
        let keys = keys
            .into_iter()
            .filter_map(|k| match k {
                Reply::BulkString(b) => Some(b),
                _ => None,
            })
            .collect();
        Ok((cursor, keys))
    }

    /// Calls `f` on every page of Redis keys of the namespace starting with `literal`, over every
    /// node; `f` returns `false` to stop.
    async fn scan<F, Fut>(&self, literal: &str, mut f: F) -> Result<()>
    where
        F: FnMut(Vec<Vec<u8>>) -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        for node in self.nodes().await? {
            let mut cursor = 0;
            loop {
                let (next, keys) = self.scan_page(&node, cursor, literal).await?;
                if !keys.is_empty() && !f(keys).await? {
                    return Ok(());
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }

    async fn keys_matching(&self, pattern: &str) -> Result<Vec<String>> {
        let pattern = Pattern::compile(pattern)?;
        let prefix = &self.inner.prefix;
        let mut out = Vec::new();
        self.scan(pattern.literal_prefix(), |keys| {
            for k in keys {
                let Some(rest) = k.strip_prefix(prefix.as_slice()) else {
                    continue;
                };
                // Keys that are not UTF-8 were not written through this crate: skipped.
                if let Ok(key) = std::str::from_utf8(rest) {
                    if pattern.matches(key) {
                        out.push(key.to_owned());
                    }
                }
            }
            std::future::ready(Ok(true))
        })
        .await?;
        // SCAN may return a key more than once.
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    async fn count(&self) -> Result<usize> {
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        self.scan("", |keys| {
            seen.extend(keys);
            std::future::ready(Ok(true))
        })
        .await?;
        Ok(seen.len())
    }

    async fn empty(&self) -> Result<bool> {
        let mut empty = true;
        self.scan("", |_| {
            empty = false;
            std::future::ready(Ok(false))
        })
        .await?;
        Ok(empty)
    }

    async fn clear_all(&self) -> Result<()> {
        self.scan("", |keys| self.unlink(keys)).await
    }

    /// `UNLINK` a page of keys: one command on a server; on a cluster one per hash slot (a
    /// multi-key command must stay within a slot), sent concurrently.
    async fn unlink(&self, keys: Vec<Vec<u8>>) -> Result<bool> {
        let groups: Vec<Vec<Vec<u8>>> = match &self.inner.conn {
            Conn::Single(_) => vec![keys],
            Conn::Cluster { .. } => {
                let mut by_slot: HashMap<Slot, Vec<Vec<u8>>> = HashMap::new();
                for k in keys {
                    by_slot.entry(Slot::for_key(&k)).or_default().push(k);
                }
                by_slot.into_values().collect()
            }
        };
        let sends = groups.into_iter().map(|group| async move {
            let mut c = cmd("UNLINK");
            for k in &group {
                c.arg(k);
            }
            self.query(&c, Resend::Never).await
        });
        for r in futures_util::future::join_all(sends).await {
            r?;
        }
        Ok(true)
    }

    // ----- single-flight loads -----

    /// The loads of [`AsyncKv::load_with`] and [`AsyncKv::try_load_with`]: concurrent calls for
    /// the same key on this store (and its clones) run **one** `init`, and the others wait for
    /// it ([`Source::Coalesced`]).
    ///
    /// The loaded value is stored with `SET key value NX [PX ttl] GET`: if another process stored
    /// a value meanwhile, that one wins and is returned (to every caller of this flight), and the
    /// loaded one is dropped. Across processes each process may run one load at a time for a key
    /// (coalescing is per process), and they all end up returning the first value stored. A
    /// loader's error goes to its own caller only: its waiters start over, and one of them loads
    /// next; so does a load whose future is dropped (cancelled) or whose `init` panics.
    async fn load<F, Fut, V, E>(
        &self,
        key: &str,
        ttl: RTtl,
        init: F,
    ) -> std::result::Result<Loaded, LoadError<E>>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = std::result::Result<V, E>> + Send,
        V: Into<Value>,
        E: Send,
    {
        let mut init = Some(init);
        loop {
            match self.inner.flights.join(key) {
                Role::Waiter(mut rx) => {
                    let shared = match rx.wait_for(Option::is_some).await {
                        Ok(outcome) => outcome.clone(),
                        // The leader was dropped without an outcome: start over.
                        Err(_) => continue,
                    };
                    match shared {
                        Some(Outcome::Value(value, hit)) => {
                            let source = if hit { Source::Hit } else { Source::Coalesced };
                            return Ok(Loaded { value, source });
                        }
                        // The leader failed (its error is its own): start over.
                        Some(Outcome::Failed) | None => continue,
                    }
                }
                Role::Leader(leader) => {
                    let init = init.take().expect("a caller leads at most once");
                    let result = self.lead(key, ttl, init).await;
                    leader.finish(match &result {
                        Ok(l) => Outcome::Value(l.value.clone(), l.source == Source::Hit),
                        Err(_) => Outcome::Failed,
                    });
                    return result;
                }
            }
        }
    }

    async fn lead<F, Fut, V, E>(
        &self,
        key: &str,
        ttl: RTtl,
        init: F,
    ) -> std::result::Result<Loaded, LoadError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<V, E>>,
        V: Into<Value>,
    {
        if let Some(value) = self.get_value(key).await.map_err(LoadError::Backend)? {
            let source = Source::Hit;
            return Ok(Loaded { value, source });
        }
        let value: Value = init().await.map_err(LoadError::Init)?.into();
        let source = Source::Loaded;
        if ttl == RTtl::Gone {
            // Expired at once: returned to this flight, never stored.
            return Ok(Loaded { value, source });
        }
        let c = self.set_cmd(key, &codec::encode(&value), ttl, &["NX", "GET"]);
        let reply = self
            .query(&c, Resend::Never)
            .await
            .map_err(LoadError::Backend)?;
        let value = match self.decode(key, reply).map_err(LoadError::Backend)? {
            None => value,
            Some(winner) => {
                value.dispose();
                winner
            }
        };
        Ok(Loaded { value, source })
    }
}

fn unexpected(reply: &Reply) -> Error {
    backend(format!("unexpected reply {reply:?}"))
}

fn unexpected_bytes(b: &[u8]) -> Error {
    backend(format!("unexpected reply {:?}", String::from_utf8_lossy(b)))
}

fn as_int(reply: &Reply) -> Result<i64> {
    match reply {
        Reply::Int(n) => Ok(*n),
        other => Err(unexpected(other)),
    }
}

fn as_ok(reply: &Reply) -> Result<()> {
    match reply {
        Reply::Okay => Ok(()),
        Reply::SimpleString(s) if s == "OK" => Ok(()),
        other => Err(unexpected(other)),
    }
}

/// `INCRBY`'s refusals as the core crate's errors (the store is unchanged in both cases): "ERR
/// value is not an integer or out of range", "ERR increment or decrement would overflow".
fn incr_error(e: &RedisError) -> Error {
    if e.kind() == ErrorKind::Server(ServerErrorKind::ResponseError) {
        let detail = e.detail().unwrap_or_default();
        if detail.starts_with("value is not an integer") {
            return Error::NotAnInteger;
        }
        if detail.starts_with("increment or decrement would overflow") {
            return Error::Overflow;
        }
    }
    map_err(e)
}

// The trait's signatures spelled out (`+ Send` on every future), as the trait declares them.
#[allow(clippy::manual_async_fn)]
impl AsyncKv for RedisStore {
    fn set(&self, key: &str, value: impl Into<Value>) -> impl Future<Output = Result<()>> + Send {
        self.set_value(key, value.into(), RTtl::Never)
    }

    fn set_with_ttl(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        self.set_value(key, value.into(), RTtl::of(Some(ttl)))
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        self.get_value(key)
    }

    fn get_or(
        &self,
        key: &str,
        default: impl Into<Value>,
    ) -> impl Future<Output = Result<Value>> + Send {
        let default = default.into();
        async move {
            Ok(match self.get_value(key).await? {
                Some(v) => {
                    default.dispose();
                    v
                }
                None => default,
            })
        }
    }

    fn delete(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        self.bool_cmd("DEL", key, Resend::Never)
    }

    fn incr(&self, key: &str, delta: i64) -> impl Future<Output = Result<i64>> + Send {
        self.incr_value(key, delta)
    }

    fn keys(&self, pattern: &str) -> impl Future<Output = Result<Vec<String>>> + Send {
        self.keys_matching(pattern)
    }

    fn exists(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        self.bool_cmd("EXISTS", key, Resend::Read)
    }

    fn ttl(&self, key: &str) -> impl Future<Output = Result<Ttl>> + Send {
        self.ttl_value(key)
    }

    fn expire(&self, key: &str, ttl: Duration) -> impl Future<Output = Result<bool>> + Send {
        self.expire_value(key, ttl)
    }

    fn persist(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        self.bool_cmd("PERSIST", key, Resend::Never)
    }

    fn clear(&self) -> impl Future<Output = Result<()>> + Send {
        self.clear_all()
    }

    fn len(&self) -> impl Future<Output = Result<usize>> + Send {
        self.count()
    }

    fn is_empty(&self) -> impl Future<Output = Result<bool>> + Send {
        self.empty()
    }

    fn get_and_expire(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        self.get_and_expire_value(key, ttl)
    }

    fn set_if_absent(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.set_if_absent_value(key, value.into(), RTtl::of(ttl))
    }

    fn swap(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        self.swap_value(key, value.into(), RTtl::of(ttl))
    }

    fn take(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        self.take_value(key)
    }

    fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: impl Into<Value>,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.compare_and_write(key, expected, Some(new.into()))
    }

    fn compare_and_delete(
        &self,
        key: &str,
        expected: &Value,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.compare_and_write(key, expected, None)
    }

    fn incr_with_ttl(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<i64>> + Send {
        self.incr_with_ttl_value(key, delta, ttl)
    }

    fn update(
        &self,
        key: &str,
        f: impl FnMut(&Value) -> Value + Send,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        self.update_value(key, f)
    }

    fn load_with<F, Fut, V>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: F,
    ) -> impl Future<Output = Result<Loaded>> + Send
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = V> + Send,
        V: Into<Value>,
    {
        async move {
            let init = || async { Ok::<V, std::convert::Infallible>(init().await) };
            match self.load(key, RTtl::of(ttl), init).await {
                Ok(loaded) => Ok(loaded),
                Err(LoadError::Backend(e)) => Err(e),
                Err(LoadError::Init(never)) => match never {},
            }
        }
    }

    fn try_load_with<F, Fut, V, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: F,
    ) -> impl Future<Output = std::result::Result<Loaded, LoadError<E>>> + Send
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = std::result::Result<V, E>> + Send,
        V: Into<Value>,
        E: Send,
    {
        self.load(key, RTtl::of(ttl), init)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_milliseconds_and_saturate() {
        assert_eq!(ttl_ms(Duration::ZERO), None);
        assert_eq!(ttl_ms(Duration::from_nanos(1)), Some(1));
        assert_eq!(ttl_ms(Duration::from_millis(1)), Some(1));
        assert_eq!(ttl_ms(Duration::from_nanos(1_000_001)), Some(2));
        assert_eq!(ttl_ms(Duration::from_secs(60)), Some(60_000));
        assert_eq!(ttl_ms(Duration::MAX), Some(MAX_TTL_MS));
        assert_eq!(
            ttl_ms(Duration::from_millis(MAX_TTL_MS + 1)),
            Some(MAX_TTL_MS)
        );
    }

    #[test]
    fn scan_patterns_escape_glob_metacharacters() {
        let mut p = Vec::new();
        push_escaped(&mut p, b"a*b[c]?d\\e:");
        assert_eq!(p, b"a\\*b\\[c\\]\\?d\\\\e:");
    }

    #[test]
    fn namespaces_are_checked() {
        assert_eq!(namespace_prefix("app").unwrap(), b"app:");
        assert_eq!(namespace_prefix("a*b[").unwrap(), b"a*b[:");
        assert!(namespace_prefix("").is_err());
        assert!(namespace_prefix("a:b").is_err());
    }
}
