//! [`AsyncKv`]: the store's operations as a trait, so that code written once runs on the
//! in-process [`Store`] or on a shared backend (the `scriptling-kv-redis` package implements it
//! on Redis, for services that run more than one process).

use std::future::{ready, Future};
use std::time::Duration;

use crate::error::Result;
use crate::store::{Store, Ttl};
use crate::value::Value;

/// The key-value operations every backend offers, as futures: the same names, arguments and
/// results as on [`Store`], each wrapped in [`Result`] (a shared backend can fail:
/// [`Error::Backend`](crate::Error::Backend)).
///
/// [`Store`] implements it with futures that are ready at once and never fail: its operations
/// never wait (the single-flight loads, which do, are not part of this trait; nor are
/// `get_with`, `purge_expired`, `stats`, `save` and `load`, which belong to the in-process
/// store). Write a handler against `AsyncKv` and it runs unchanged on either:
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
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     // Store's futures are ready at once: one poll completes them.
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     match f.as_mut().poll(&mut cx) {
/// #         std::task::Poll::Ready(v) => v,
/// #         std::task::Poll::Pending => unreachable!(),
/// #     }
/// # }
/// let store = Store::new();
/// assert!(block_on(allow(&store, "10.0.0.1", 2))?);
/// assert!(block_on(allow(&store, "10.0.0.1", 2))?);
/// assert!(!block_on(allow(&store, "10.0.0.1", 2))?);
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
    /// [`Store::set_if_absent`].
    fn set_if_absent(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// [`Store::swap`].
    fn swap(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
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
}

/// The in-process store: every future is ready at once and never fails.
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

    fn set_if_absent(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(Store::set_if_absent(self, key, value, ttl)))
    }

    fn swap(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
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
}
