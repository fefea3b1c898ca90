//! [`AsyncKv`]: the store's operations as a trait, so that code written once runs on the
//! in-process [`Store`] or on a shared backend (the `scriptling-kv-redis` package implements it
//! on Redis, for services that run more than one process).

use std::fmt;
use std::future::{ready, Future};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::store::flight::Loaded;
use crate::store::{Store, Ttl};
use crate::value::Value;

/// The key-value operations every backend offers, as futures: the same names, arguments and
/// results as on [`Store`], each wrapped in [`Result`] (a shared backend can fail:
/// [`Error::Backend`](crate::Error::Backend)).
///
/// [`Store`] implements it with futures that never fail, and that are ready at once except for
/// the single-flight loads, which wait for another caller's load of the same key without
/// blocking a thread (`get_with`, `compute`, `purge_expired`, `stats`, `save` and `load` belong
/// to the in-process store and are not part of the trait). Write a handler against `AsyncKv` and
/// it runs unchanged on either; [`SharedKv`](crate::SharedKv) picks one at run time:
///
/// ```
/// use std::time::Duration;
/// use scriptling_kv::{AsyncKv, Result, Store};
///
/// /// A fixed-window rate limiter, on any backend.
/// async fn allow(kv: &impl AsyncKv, client: &str, limit: i64) -> Result<bool> {
///     let key = format!("rate:{client}");
///     Ok(kv.incr_with_ttl(&key, 1, Duration::from_secs(60)).await? <= limit)
/// }
///
/// // Any executor runs it; here tokio's.
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let store = Store::new();
/// rt.block_on(async {
///     assert!(allow(&store, "10.0.0.1", 2).await?);
///     assert!(allow(&store, "10.0.0.1", 2).await?);
///     assert!(!allow(&store, "10.0.0.1", 2).await?);
///     Ok::<(), scriptling_kv::Error>(())
/// })?;
/// # Ok::<(), scriptling_kv::Error>(())
/// ```
pub trait AsyncKv: Send + Sync {
    /// [`Store::set`].
    fn set(&self, key: &str, value: impl Into<Value>) -> impl Future<Output = Result<()>> + Send;
    /// [`Store::set_with_ttl`].
    fn set_with_ttl(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
    ) -> impl Future<Output = Result<()>> + Send;
    /// [`Store::get`].
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send;
    /// [`Store::get_or`].
    fn get_or(
        &self,
        key: &str,
        default: impl Into<Value>,
    ) -> impl Future<Output = Result<Value>> + Send;
    /// [`Store::delete`].
    fn delete(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::incr`]. A backend never retries a failed `incr` on its own: it may have been
    /// applied.
    fn incr(&self, key: &str, delta: i64) -> impl Future<Output = Result<i64>> + Send;
    /// [`Store::keys`].
    fn keys(&self, pattern: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// [`Store::exists`].
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::ttl`].
    fn ttl(&self, key: &str) -> impl Future<Output = Result<Ttl>> + Send;
    /// [`Store::expire`].
    fn expire(&self, key: &str, ttl: Duration) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::persist`].
    fn persist(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::clear`].
    fn clear(&self) -> impl Future<Output = Result<()>> + Send;
    /// [`Store::len`].
    fn len(&self) -> impl Future<Output = Result<usize>> + Send;
    /// [`Store::is_empty`].
    fn is_empty(&self) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::get_and_expire`]: sliding expiry in one step (one `GETEX` on Redis).
    fn get_and_expire(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Value>>> + Send;
    /// [`Store::set_if_absent`].
    fn set_if_absent(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::swap`].
    fn swap(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<Option<Value>>> + Send;
    /// [`Store::take`].
    fn take(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send;
    /// [`Store::compare_and_set`].
    fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: impl Into<Value>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::compare_and_delete`].
    fn compare_and_delete(
        &self,
        key: &str,
        expected: &Value,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::incr_with_ttl`]. Never retried on its own, as `incr`.
    fn incr_with_ttl(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// [`Store::update`]. `f` may run more than once (on a shared backend, once per attempt
    /// that lost a race), so it must not have side effects.
    fn update(
        &self,
        key: &str,
        f: impl FnMut(&Value) -> Value + Send,
    ) -> impl Future<Output = Result<Option<Value>>> + Send;
    /// A single-flight load: the live value of `key` ([`Source::Hit`](crate::Source::Hit); `init` is not even
    /// called), or the value `init`'s future yields, stored with `ttl` (`None`: no expiry;
    /// `Some(Duration::ZERO)`: expired at once, so it is returned but never stored). Concurrent
    /// calls for the same key run one `init` ([`Source::Loaded`](crate::Source::Loaded)); the others wait for it and
    /// return its value ([`Source::Coalesced`](crate::Source::Coalesced)). A loader whose future is dropped (cancelled) or
    /// panics stores nothing, and one of its waiters loads instead. The same semantics on every
    /// backend; on a shared backend, calls coalesce within one process, and across processes the
    /// first value stored wins (every process returns it).
    fn load_with<F, Fut, V>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: F,
    ) -> impl Future<Output = Result<Loaded>> + Send
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = V> + Send,
        V: Into<Value>;
    /// [`load_with`](AsyncKv::load_with) with a loader that can fail. An `Err(e)` from `init`
    /// stores nothing and goes to this caller only, as [`LoadError::Init`]; the callers waiting
    /// on it retry, and one of them loads next. A failure of the backend is
    /// [`LoadError::Backend`].
    ///
    /// A loader that only fails needs its value type named: `|| async { Err::<i64, _>(e) }`.
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
        E: Send;
}

/// Why [`AsyncKv::try_load_with`] returned no value: the backend failed, or the loader did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError<E> {
    /// The backend could not do its part (never from [`Store`]).
    Backend(Error),
    /// The loader's own error, handed to the caller that ran it (and to no waiter).
    Init(E),
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Backend(e) => write!(f, "{e}"),
            LoadError::Init(e) => write!(f, "the loader failed: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for LoadError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Backend(e) => Some(e),
            LoadError::Init(e) => Some(e),
        }
    }
}

impl From<LoadError<Error>> for Error {
    /// A loader whose error type is the crate's [`Error`]: both cases as one error.
    fn from(e: LoadError<Error>) -> Error {
        match e {
            LoadError::Backend(e) | LoadError::Init(e) => e,
        }
    }
}

/// The in-process store: every future is ready at once and never fails.
// The trait's signatures spelled out (`+ Send` on every future), as the trait declares them.
#[allow(clippy::manual_async_fn)]
impl AsyncKv for Store {
    fn set(&self, key: &str, value: impl Into<Value>) -> impl Future<Output = Result<()>> + Send {
        Store::set(self, key, value);
        ready(Ok(()))
    }

    fn set_with_ttl(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        Store::set_with_ttl(self, key, value, ttl);
        ready(Ok(()))
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(Store::get(self, key)))
    }

    fn get_or(
        &self,
        key: &str,
        default: impl Into<Value>,
    ) -> impl Future<Output = Result<Value>> + Send {
        ready(Ok(Store::get_or(self, key, default)))
    }

    fn delete(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::delete(self, key)))
    }

    fn incr(&self, key: &str, delta: i64) -> impl Future<Output = Result<i64>> + Send {
        ready(Store::incr(self, key, delta))
    }

    fn keys(&self, pattern: &str) -> impl Future<Output = Result<Vec<String>>> + Send {
        ready(Store::keys(self, pattern))
    }

    fn exists(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::exists(self, key)))
    }

    fn ttl(&self, key: &str) -> impl Future<Output = Result<Ttl>> + Send {
        ready(Ok(Store::ttl(self, key)))
    }

    fn expire(&self, key: &str, ttl: Duration) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::expire(self, key, ttl)))
    }

    fn persist(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::persist(self, key)))
    }

    fn clear(&self) -> impl Future<Output = Result<()>> + Send {
        Store::clear(self);
        ready(Ok(()))
    }

    fn len(&self) -> impl Future<Output = Result<usize>> + Send {
        ready(Ok(Store::len(self)))
    }

    fn is_empty(&self) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::is_empty(self)))
    }

    fn get_and_expire(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(Store::get_and_expire(self, key, ttl)))
    }

    fn set_if_absent(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::set_if_absent(self, key, value, ttl)))
    }

    fn swap(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(Store::swap(self, key, value, ttl)))
    }

    fn take(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(Store::take(self, key)))
    }

    fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: impl Into<Value>,
    ) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::compare_and_set(self, key, expected, new)))
    }

    fn compare_and_delete(
        &self,
        key: &str,
        expected: &Value,
    ) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::compare_and_delete(self, key, expected)))
    }

    fn incr_with_ttl(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<i64>> + Send {
        ready(Store::incr_with_ttl(self, key, delta, ttl))
    }

    fn update(
        &self,
        key: &str,
        f: impl FnMut(&Value) -> Value + Send,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(Store::update(self, key, f)))
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
        async move { Ok(Store::load_with_async(self, key, ttl, async move { init().await }).await) }
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
        async move {
            Store::try_load_with_async(self, key, ttl, async move { init().await })
                .await
                .map_err(LoadError::Init)
        }
    }
}
