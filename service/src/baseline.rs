//! The original library's design as a backend, for one comparison only (`--baseline-store`, used
//! by `scripts/load.sh`): one `RwLock<HashMap>` of `(value, deadline)`, a key judged expired on
//! read, and a cleanup that walks the whole map under the write lock every 60 s. It implements
//! [`AsyncKv`] with the same semantics as `Store`, so the service's routes run on it unchanged
//! and the load test measures what the crate's store buys a service, and nothing else. Its
//! loads do not coalesce (the original had no single flight): concurrent misses each run
//! `init`, the first value stored wins.

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use scriptling_kv::{AsyncKv, Error, LoadError, Loaded, Pattern, Result, Source, Ttl, Value};

/// One held key: its value and its deadline (`None`: no expiry).
type Held = (Value, Option<Instant>);

/// A `RwLock<HashMap>` store with per-key TTL: the design of the original library.
#[derive(Debug, Clone, Default)]
pub(crate) struct BaselineStore {
    map: Arc<RwLock<HashMap<String, Held>>>,
}

fn live(held: &Held, now: Instant) -> bool {
    held.1.is_none_or(|deadline| now < deadline)
}

fn deadline(ttl: Duration) -> Option<Instant> {
    Some(Instant::now().checked_add(ttl).unwrap_or_else(far_future))
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

impl BaselineStore {
    /// A store, and its cleaner thread (a whole-map walk under the write lock every 60 s, as
    /// the original does; it ends with the last handle).
    pub(crate) fn new() -> BaselineStore {
        let store = BaselineStore::default();
        let weak = Arc::downgrade(&store.map);
        let _ = std::thread::Builder::new()
            .name("baseline-cleaner".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(60));
                let Some(map) = weak.upgrade() else { return };
                let now = Instant::now();
                write(&map).retain(|_, held| live(held, now));
            });
        store
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Held>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Held>> {
        write(&self.map)
    }

    /// The live value of `key`, through `f`.
    fn with<R>(&self, key: &str, f: impl FnOnce(&Held) -> R) -> Option<R> {
        let map = self.read();
        map.get(key)
            .filter(|held| live(held, Instant::now()))
            .map(f)
    }

    /// Runs `f` on the live entry of `key` (`None` if missing or expired) under the write lock.
    fn modify<R>(&self, key: &str, f: impl FnOnce(&mut Option<Held>) -> R) -> R {
        let mut map = self.write();
        let mut slot = map.remove(key).filter(|held| live(held, Instant::now()));
        let out = f(&mut slot);
        if let Some(held) = slot {
            map.insert(key.to_owned(), held);
        }
        out
    }

    fn put(&self, key: &str, value: Value, ttl: Option<Duration>) {
        match ttl {
            Some(ttl) if ttl.is_zero() => {
                self.write().remove(key);
            }
            _ => {
                self.write()
                    .insert(key.to_owned(), (value, ttl.and_then(deadline)));
            }
        }
    }

    fn incr_now(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64> {
        self.modify(key, |slot| match slot {
            None => {
                if ttl != Some(Duration::ZERO) {
                    *slot = Some((Value::Int(delta), ttl.and_then(deadline)));
                }
                Ok(delta)
            }
            Some((Value::Int(n), _)) => {
                let sum = n.checked_add(delta).ok_or(Error::Overflow)?;
                *n = sum;
                Ok(sum)
            }
            Some(_) => Err(Error::NotAnInteger),
        })
    }

    fn load_now(&self, key: &str, value: Value, ttl: Option<Duration>) -> Loaded {
        // The first value stored wins: a concurrent load or write that got there first is kept.
        let stored = self.modify(key, |slot| match slot {
            Some((current, _)) => current.clone(),
            None => {
                if ttl != Some(Duration::ZERO) {
                    *slot = Some((value.clone(), ttl.and_then(deadline)));
                }
                value
            }
        });
        Loaded {
            value: stored,
            source: Source::Loaded,
        }
    }
}

fn write(map: &RwLock<HashMap<String, Held>>) -> RwLockWriteGuard<'_, HashMap<String, Held>> {
    map.write().unwrap_or_else(|e| e.into_inner())
}

impl AsyncKv for BaselineStore {
    fn set(&self, key: &str, value: impl Into<Value>) -> impl Future<Output = Result<()>> + Send {
        self.put(key, value.into(), None);
        ready(Ok(()))
    }

    fn set_with_ttl(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Duration,
    ) -> impl Future<Output = Result<()>> + Send {
        self.put(key, value.into(), Some(ttl));
        ready(Ok(()))
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(self.with(key, |held| held.0.clone())))
    }

    fn get_or(
        &self,
        key: &str,
        default: impl Into<Value>,
    ) -> impl Future<Output = Result<Value>> + Send {
        let found = self.with(key, |held| held.0.clone());
        ready(Ok(found.unwrap_or_else(|| default.into())))
    }

    fn delete(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(self.modify(key, |slot| slot.take().is_some())))
    }

    fn incr(&self, key: &str, delta: i64) -> impl Future<Output = Result<i64>> + Send {
        ready(self.incr_now(key, delta, None))
    }

    fn keys(&self, pattern: &str) -> impl Future<Output = Result<Vec<String>>> + Send {
        let result = Pattern::compile(pattern).map(|pattern| {
            let now = Instant::now();
            let mut keys: Vec<String> = self
                .read()
                .iter()
                .filter(|(key, held)| live(held, now) && pattern.matches(key))
                .map(|(key, _)| key.clone())
                .collect();
            keys.sort_unstable();
            keys
        });
        ready(result)
    }

    fn exists(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(self.with(key, |_| ()).is_some()))
    }

    fn ttl(&self, key: &str) -> impl Future<Output = Result<Ttl>> + Send {
        let ttl = self.with(key, |held| match held.1 {
            None => Ttl::Persistent,
            Some(deadline) => Ttl::Expires(deadline.saturating_duration_since(Instant::now())),
        });
        ready(Ok(ttl.unwrap_or(Ttl::Missing)))
    }

    fn expire(&self, key: &str, ttl: Duration) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(self.modify(key, |slot| match slot {
            None => false,
            Some(_) if ttl.is_zero() => {
                *slot = None;
                true
            }
            Some(held) => {
                held.1 = deadline(ttl);
                true
            }
        })))
    }

    fn persist(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(self.modify(key, |slot| match slot {
            Some(held) if held.1.is_some() => {
                held.1 = None;
                true
            }
            _ => false,
        })))
    }

    fn clear(&self) -> impl Future<Output = Result<()>> + Send {
        self.write().clear();
        ready(Ok(()))
    }

    fn len(&self) -> impl Future<Output = Result<usize>> + Send {
        ready(Ok(self.read().len()))
    }

    fn is_empty(&self) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(self.read().is_empty()))
    }

    fn get_and_expire(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(self.modify(key, |slot| {
            let value = slot.as_ref().map(|held| held.0.clone());
            if ttl.is_zero() {
                *slot = None;
            } else if let Some(held) = slot {
                held.1 = deadline(ttl);
            }
            value
        })))
    }

    fn set_if_absent(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        let value = value.into();
        ready(Ok(self.modify(key, |slot| {
            if slot.is_some() {
                return false;
            }
            if ttl != Some(Duration::ZERO) {
                *slot = Some((value, ttl.and_then(deadline)));
            }
            true
        })))
    }

    fn swap(
        &self,
        key: &str,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        let value = value.into();
        ready(Ok(self.modify(key, |slot| {
            let old = slot.take().map(|held| held.0);
            if ttl != Some(Duration::ZERO) {
                *slot = Some((value, ttl.and_then(deadline)));
            }
            old
        })))
    }

    fn take(&self, key: &str) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(self.modify(key, |slot| slot.take().map(|held| held.0))))
    }

    fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: impl Into<Value>,
    ) -> impl Future<Output = Result<bool>> + Send {
        let new = new.into();
        ready(Ok(self.modify(key, |slot| match slot {
            Some(held) if &held.0 == expected => {
                held.0 = new;
                true
            }
            _ => false,
        })))
    }

    fn compare_and_delete(
        &self,
        key: &str,
        expected: &Value,
    ) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(self.modify(key, |slot| match slot {
            Some(held) if &held.0 == expected => {
                *slot = None;
                true
            }
            _ => false,
        })))
    }

    fn incr_with_ttl(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<i64>> + Send {
        ready(self.incr_now(key, delta, Some(ttl)))
    }

    fn update(
        &self,
        key: &str,
        mut f: impl FnMut(&Value) -> Value + Send,
    ) -> impl Future<Output = Result<Option<Value>>> + Send {
        ready(Ok(self.modify(key, |slot| {
            slot.as_mut().map(|held| {
                held.0 = f(&held.0);
                held.0.clone()
            })
        })))
    }

    async fn load_with<F, Fut, V>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: F,
    ) -> Result<Loaded>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = V> + Send,
        V: Into<Value>,
    {
        if let Some(value) = self.with(key, |held| held.0.clone()) {
            return Ok(Loaded {
                value,
                source: Source::Hit,
            });
        }
        let value = init().await.into();
        Ok(self.load_now(key, value, ttl))
    }

    async fn try_load_with<F, Fut, V, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: F,
    ) -> std::result::Result<Loaded, LoadError<E>>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = std::result::Result<V, E>> + Send,
        V: Into<Value>,
        E: Send,
    {
        if let Some(value) = self.with(key, |held| held.0.clone()) {
            return Ok(Loaded {
                value,
                source: Source::Hit,
            });
        }
        let value = init().await.map_err(LoadError::Init)?.into();
        Ok(self.load_now(key, value, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// The operations the service's routes use behave as `Store`'s do.
    #[test]
    fn the_baseline_follows_the_store_contract_on_the_routes_operations() {
        let kv = BaselineStore::default();
        run(async {
            let ttl = Duration::from_secs(60);
            assert_eq!(kv.incr_with_ttl("rate", 1, ttl).await, Ok(1));
            assert_eq!(kv.incr_with_ttl("rate", 1, ttl).await, Ok(2));
            assert!(matches!(kv.ttl("rate").await, Ok(Ttl::Expires(d)) if d <= ttl && d > ttl / 2));
            assert_eq!(kv.incr_with_ttl("zero", 1, Duration::ZERO).await, Ok(1));
            assert!(!kv.exists("zero").await.unwrap());
            assert!(kv.set_if_absent("lock", "a", Some(ttl)).await.unwrap());
            assert!(!kv.set_if_absent("lock", "b", Some(ttl)).await.unwrap());
            assert!(kv
                .compare_and_delete("lock", &Value::from("a"))
                .await
                .unwrap());
            assert!(!kv.exists("lock").await.unwrap());
            kv.set_with_ttl("s", "bob", Duration::from_millis(20))
                .await
                .unwrap();
            assert_eq!(kv.get("s").await, Ok(Some(Value::from("bob"))));
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(kv.get("s").await, Ok(None));
            let loaded = kv.load_with("c", Some(ttl), || async { 7 }).await.unwrap();
            assert_eq!(
                (loaded.value, loaded.source),
                (Value::Int(7), Source::Loaded)
            );
            let hit = kv.load_with("c", Some(ttl), || async { 8 }).await.unwrap();
            assert_eq!((hit.value, hit.source), (Value::Int(7), Source::Hit));
            kv.set("n", "x").await.unwrap();
            assert_eq!(kv.incr("n", 1).await, Err(Error::NotAnInteger));
            assert_eq!(kv.keys("*").await.unwrap(), ["c", "n", "rate"]);
            assert_eq!(
                kv.get_and_expire("n", Duration::ZERO).await,
                Ok(Some(Value::from("x")))
            );
            assert!(!kv.exists("n").await.unwrap());
        });
    }
}
