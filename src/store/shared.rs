//! [`SharedKv`]: a backend chosen at run time.
//!
//! [`AsyncKv`] has generic methods and returns `impl Future`, so it cannot be a trait object.
//! `SharedKv` erases the backend behind a private object-safe twin of the trait ([`DynKv`]),
//! implemented for every `AsyncKv`: arguments are converted before the call (`impl Into<Value>`
//! into a [`Value`]), futures are boxed, and a loader is boxed with its error kept aside in the
//! caller's frame, so no `'static` or `Any` bound is asked of it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::store::backend::{AsyncKv, LoadError};
use crate::store::flight::Loaded;
use crate::store::Ttl;
use crate::value::Value;

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A loader with its error taken out (kept by the caller; `Err(())` says it failed).
type Init<'a> = Box<dyn FnOnce() -> BoxFut<'a, std::result::Result<Value, ()>> + Send + 'a>;

/// The object-safe twin of [`AsyncKv`].
trait DynKv: Send + Sync {
    fn set<'a>(&'a self, key: &'a str, value: Value) -> BoxFut<'a, Result<()>>;
    fn set_with_ttl<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Duration,
    ) -> BoxFut<'a, Result<()>>;
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Value>>>;
    fn get_or<'a>(&'a self, key: &'a str, default: Value) -> BoxFut<'a, Result<Value>>;
    fn delete<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<bool>>;
    fn incr<'a>(&'a self, key: &'a str, delta: i64) -> BoxFut<'a, Result<i64>>;
    fn keys<'a>(&'a self, pattern: &'a str) -> BoxFut<'a, Result<Vec<String>>>;
    fn exists<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<bool>>;
    fn ttl<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Ttl>>;
    fn expire<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFut<'a, Result<bool>>;
    fn persist<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<bool>>;
    fn get_and_expire<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFut<'a, Result<Option<Value>>>;
    fn clear(&self) -> BoxFut<'_, Result<()>>;
    fn len(&self) -> BoxFut<'_, Result<usize>>;
    fn is_empty(&self) -> BoxFut<'_, Result<bool>>;
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> BoxFut<'a, Result<bool>>;
    fn swap<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> BoxFut<'a, Result<Option<Value>>>;
    fn take<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Value>>>;
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: &'a Value,
        new: Value,
    ) -> BoxFut<'a, Result<bool>>;
    fn compare_and_delete<'a>(
        &'a self,
        key: &'a str,
        expected: &'a Value,
    ) -> BoxFut<'a, Result<bool>>;
    fn incr_with_ttl<'a>(
        &'a self,
        key: &'a str,
        delta: i64,
        ttl: Duration,
    ) -> BoxFut<'a, Result<i64>>;
    fn update<'a>(
        &'a self,
        key: &'a str,
        f: &'a mut (dyn FnMut(&Value) -> Value + Send),
    ) -> BoxFut<'a, Result<Option<Value>>>;
    fn try_load_with<'a>(
        &'a self,
        key: &'a str,
        ttl: Option<Duration>,
        init: Init<'a>,
    ) -> BoxFut<'a, std::result::Result<Loaded, LoadError<()>>>;
}

impl<K: AsyncKv> DynKv for K {
    fn set<'a>(&'a self, key: &'a str, value: Value) -> BoxFut<'a, Result<()>> {
        Box::pin(AsyncKv::set(self, key, value))
    }
    fn set_with_ttl<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Duration,
    ) -> BoxFut<'a, Result<()>> {
        Box::pin(AsyncKv::set_with_ttl(self, key, value, ttl))
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Value>>> {
        Box::pin(AsyncKv::get(self, key))
    }
    fn get_or<'a>(&'a self, key: &'a str, default: Value) -> BoxFut<'a, Result<Value>> {
        Box::pin(AsyncKv::get_or(self, key, default))
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<bool>> {
        Box::pin(AsyncKv::delete(self, key))
    }
    fn incr<'a>(&'a self, key: &'a str, delta: i64) -> BoxFut<'a, Result<i64>> {
        Box::pin(AsyncKv::incr(self, key, delta))
    }
    fn keys<'a>(&'a self, pattern: &'a str) -> BoxFut<'a, Result<Vec<String>>> {
        Box::pin(AsyncKv::keys(self, pattern))
    }
    fn exists<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<bool>> {
        Box::pin(AsyncKv::exists(self, key))
    }
    fn ttl<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Ttl>> {
        Box::pin(AsyncKv::ttl(self, key))
    }
    fn expire<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFut<'a, Result<bool>> {
        Box::pin(AsyncKv::expire(self, key, ttl))
    }
    fn persist<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<bool>> {
        Box::pin(AsyncKv::persist(self, key))
    }
    fn get_and_expire<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFut<'a, Result<Option<Value>>> {
        Box::pin(AsyncKv::get_and_expire(self, key, ttl))
    }
    fn clear(&self) -> BoxFut<'_, Result<()>> {
        Box::pin(AsyncKv::clear(self))
    }
    fn len(&self) -> BoxFut<'_, Result<usize>> {
        Box::pin(AsyncKv::len(self))
    }
    fn is_empty(&self) -> BoxFut<'_, Result<bool>> {
        Box::pin(AsyncKv::is_empty(self))
    }
    fn set_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> BoxFut<'a, Result<bool>> {
        Box::pin(AsyncKv::set_if_absent(self, key, value, ttl))
    }
    fn swap<'a>(
        &'a self,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> BoxFut<'a, Result<Option<Value>>> {
        Box::pin(AsyncKv::swap(self, key, value, ttl))
    }
    fn take<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Value>>> {
        Box::pin(AsyncKv::take(self, key))
    }
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: &'a Value,
        new: Value,
    ) -> BoxFut<'a, Result<bool>> {
        Box::pin(AsyncKv::compare_and_set(self, key, expected, new))
    }
    fn compare_and_delete<'a>(
        &'a self,
        key: &'a str,
        expected: &'a Value,
    ) -> BoxFut<'a, Result<bool>> {
        Box::pin(AsyncKv::compare_and_delete(self, key, expected))
    }
    fn incr_with_ttl<'a>(
        &'a self,
        key: &'a str,
        delta: i64,
        ttl: Duration,
    ) -> BoxFut<'a, Result<i64>> {
        Box::pin(AsyncKv::incr_with_ttl(self, key, delta, ttl))
    }
    fn update<'a>(
        &'a self,
        key: &'a str,
        f: &'a mut (dyn FnMut(&Value) -> Value + Send),
    ) -> BoxFut<'a, Result<Option<Value>>> {
        Box::pin(AsyncKv::update(self, key, f))
    }
    fn try_load_with<'a>(
        &'a self,
        key: &'a str,
        ttl: Option<Duration>,
        init: Init<'a>,
    ) -> BoxFut<'a, std::result::Result<Loaded, LoadError<()>>> {
        Box::pin(AsyncKv::try_load_with(self, key, ttl, init))
    }
}

/// A backend chosen at run time: any [`AsyncKv`] behind one type, itself an `AsyncKv` that
/// forwards every call to the backend it holds. A cheap handle (`Clone` shares the backend).
///
/// `AsyncKv` cannot be a trait object (its methods are generic), so a service that picks its
/// backend from a flag holds a `SharedKv` instead of writing generics everywhere. Each call costs
/// one boxed future more than calling the backend directly.
///
/// ```
/// use std::time::Duration;
/// use scriptling_kv::{AsyncKv, SharedKv, Store};
///
/// // `--redis URL` would give `SharedKv::new(RedisStore::connect(url, "app").await?)`.
/// let kv = SharedKv::new(Store::new());
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     kv.set_with_ttl("session:abc", "bob", Duration::from_secs(60)).await?;
///     assert_eq!(kv.get("session:abc").await?, Some("bob".into()));
///     Ok::<(), scriptling_kv::Error>(())
/// })?;
/// # Ok::<(), scriptling_kv::Error>(())
/// ```
#[derive(Clone)]
pub struct SharedKv {
    backend: Arc<dyn DynKv>,
    name: &'static str,
}

impl SharedKv {
    /// Holds `backend` (a [`Store`](crate::Store), a `RedisStore`, or any other [`AsyncKv`]).
    pub fn new(backend: impl AsyncKv + 'static) -> SharedKv {
        SharedKv {
            name: std::any::type_name_of_val(&backend),
            backend: Arc::new(backend),
        }
    }
}

impl fmt::Debug for SharedKv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKv")
            .field("backend", &self.name)
            .finish()
    }
}

// The trait's signatures spelled out (`+ Send` on every future), as the trait declares them.
#[allow(clippy::manual_async_fn)]
impl AsyncKv for SharedKv {
    fn set(&self, key: &str, value: impl Into<Value>) -> impl Future<Output = Result<()>> + Send {
        let value = value.into();
        async move { self.backend.set(key, value).await }
    }

    fn set_with_ttl(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        let value = value.into();
        async move { self.backend.set_with_ttl(key, value, ttl).await }
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        async move { self.backend.get(key).await }
    }

    fn get_or(
        &self,
        key: &str,
        default: impl Into<Value>,
    ) -> impl Future<Output = Result<Value>> + Send {
        let default = default.into();
        async move { self.backend.get_or(key, default).await }
    }

    fn delete(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        async move { self.backend.delete(key).await }
    }

    fn incr(&self, key: &str, delta: i64) -> impl Future<Output = Result<i64>> + Send {
        async move { self.backend.incr(key, delta).await }
    }

    fn keys(&self, pattern: &str) -> impl Future<Output = Result<Vec<String>>> + Send {
        async move { self.backend.keys(pattern).await }
    }

    fn exists(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        async move { self.backend.exists(key).await }
    }

    fn ttl(&self, key: &str) -> impl Future<Output = Result<Ttl>> + Send {
        async move { self.backend.ttl(key).await }
    }

    fn expire(&self, key: &str, ttl: Duration) -> impl Future<Output = Result<bool>> + Send {
        async move { self.backend.expire(key, ttl).await }
    }

    fn persist(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        async move { self.backend.persist(key).await }
    }

    fn clear(&self) -> impl Future<Output = Result<()>> + Send {
        async move { self.backend.clear().await }
    }

    fn len(&self) -> impl Future<Output = Result<usize>> + Send {
        async move { self.backend.len().await }
    }

    fn is_empty(&self) -> impl Future<Output = Result<bool>> + Send {
        async move { self.backend.is_empty().await }
    }

    fn get_and_expire(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        async move { self.backend.get_and_expire(key, ttl).await }
    }

    fn set_if_absent(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        let value = value.into();
        async move { self.backend.set_if_absent(key, value, ttl).await }
    }

    fn swap(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        let value = value.into();
        async move { self.backend.swap(key, value, ttl).await }
    }

    fn take(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        async move { self.backend.take(key).await }
    }

    fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: impl Into<Value>,
    ) -> impl Future<Output = Result<bool>> + Send {
        let new = new.into();
        async move { self.backend.compare_and_set(key, expected, new).await }
    }

    fn compare_and_delete(
        &self,
        key: &str,
        expected: &Value,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move { self.backend.compare_and_delete(key, expected).await }
    }

    fn incr_with_ttl(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<i64>> + Send {
        async move { self.backend.incr_with_ttl(key, delta, ttl).await }
    }

    fn update(
        &self,
        key: &str,
        mut f: impl FnMut(&Value) -> Value + Send,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        async move { self.backend.update(key, &mut f).await }
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
            let init: Init<'_> = Box::new(move || Box::pin(async move { Ok(init().await.into()) }));
            match self.backend.try_load_with(key, ttl, init).await {
                Ok(loaded) => Ok(loaded),
                Err(LoadError::Backend(e)) => Err(e),
                // The boxed loader above never fails.
                Err(LoadError::Init(())) => Err(Error::Backend {
                    backend: "shared".into(),
                    reason: "a loader that cannot fail reported a failure".into(),
                }),
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
        async move {
            // The loader's error stays here; the backend only learns that it failed.
            let mut failed: Option<E> = None;
            let result = {
                let failed = &mut failed;
                let init: Init<'_> = Box::new(move || {
                    Box::pin(async move {
                        match init().await {
                            Ok(v) => Ok(v.into()),
                            Err(e) => {
                                *failed = Some(e);
                                Err(())
                            }
                        }
                    })
                });
                self.backend.try_load_with(key, ttl, init).await
            };
            match result {
                Ok(loaded) => Ok(loaded),
                Err(LoadError::Backend(e)) => Err(LoadError::Backend(e)),
                Err(LoadError::Init(())) => match failed {
                    Some(e) => Err(LoadError::Init(e)),
                    None => Err(LoadError::Backend(Error::Backend {
                        backend: "shared".into(),
                        reason: "the backend reported a loader failure that did not happen".into(),
                    })),
                },
            }
        }
    }
}
