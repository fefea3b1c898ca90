//! Conditional writes: one linearizable read-modify-write step on one key.
//!
//! Every method here is one step of the write engine (`engine::write`): it observes the key with the
//! one liveness rule, decides, and commits with one CAS that expects exactly what it observed, so
//! the decision and the write are atomic, and time passing between them cannot bring back a key
//! that somebody saw expire (`engine::entry`, "The liveness rule"). [`Store::compute`] is the general
//! primitive; the named methods are built on the same step in `engine::conditional` (and, where
//! they need less, skip work it would do: `set_if_absent` on a live key never reads its value, so
//! a live counter is left able to take in-place increments).

use std::borrow::Cow;
use std::time::Duration;

use crate::engine::clock::NEVER;
use crate::engine::write::{Deadline, Write};
use crate::error::Result;
use crate::store::Store;
use crate::value::Value;

/// What [`Store::compute`] does to the key (the first element of what its closure returns).
///
/// A TTL is a deadline, as everywhere in the crate: `Duration::ZERO` is expired at once (the
/// answer removes a live key and stores nothing on a missing one). No expiry is
/// `PutWithTtl(value, None)` or [`Compute::Persist`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Compute {
    /// Leave the key as it is.
    Keep,
    /// Store this value and keep the key's TTL (a key that was not live gets none).
    Put(Value),
    /// Store this value with this TTL (`None`: no expiry; `Some(Duration::ZERO)`: expired at
    /// once, so nothing is stored and a live key is removed).
    PutWithTtl(Value, Option<Duration>),
    /// Change only the TTL of the live key, leaving its value untouched (in place, whatever its
    /// size); nothing if the key is not live. `Duration::ZERO` removes the key.
    Expire(Duration),
    /// Remove the TTL of the live key, leaving its value untouched; nothing if the key is not
    /// live.
    Persist,
    /// Remove the key (nothing if it is not live).
    Delete,
}

/// The live key as [`Store::compute`]'s closure sees it: its value and its time to live.
#[derive(Debug)]
pub struct Current<'a> {
    value: Cow<'a, Value>,
    ttl: Option<Duration>,
}

impl Current<'_> {
    /// The key's value (borrowed in place; a counter's integer is read once, final for this
    /// attempt).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The key's time to live as of this attempt; `None` if it has no TTL.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }
}

impl Store {
    /// The general read-modify-write: one linearizable step on `key`. `f` sees the live key (or
    /// `None` if it is missing or expired) and returns what to do with it ([`Compute`]) and what
    /// to return. The decision is atomic with the write: if the key changed between the look and
    /// the write, or expired in between, `f` runs again on what is there now, so **`f` may run
    /// more than once** and must not have side effects; only the last run's decision is applied
    /// and only its result is returned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::{Compute, Store, Value};
    ///
    /// let store = Store::new();
    /// let token = Value::from("owner-42");
    /// store.set_if_absent("lock:job", token.clone(), Some(Duration::from_secs(30)));
    /// // Extend my lock, but only if it still holds my token.
    /// let extended = store.compute("lock:job", |cur| match cur {
    ///     Some(cur) if *cur.value() == token => (Compute::Expire(Duration::from_secs(60)), true),
    ///     _ => (Compute::Keep, false),
    /// });
    /// assert!(extended);
    /// assert_eq!(store.ttl("lock:job").as_secs(), 60);
    /// ```
    pub fn compute<R>(
        &self,
        key: &str,
        mut f: impl FnMut(Option<Current<'_>>) -> (Compute, R),
    ) -> R {
        self.inner.write(key, |cur, now, _| {
            let current = cur.map(|view| Current {
                value: view.value(),
                ttl: (view.deadline() != NEVER)
                    .then(|| Duration::from_nanos(view.deadline().saturating_sub(now.get()))),
            });
            let (op, result) = f(current);
            let write = match op {
                Compute::Keep => Write::None,
                Compute::Put(value) => Write::Put(value, Deadline::Keep),
                Compute::PutWithTtl(value, ttl) => Write::Put(value, now.ttl_or_never(ttl)),
                Compute::Expire(ttl) => Write::Expire(now.ttl(ttl)),
                Compute::Persist => Write::Expire(Deadline::At(NEVER)),
                Compute::Delete => Write::Delete,
            };
            (write, result)
        })
    }

    /// Stores `value` with `ttl` only if the key is not live (missing or expired); `true` if this
    /// call stored it. Redis `SET key value NX PX ttl`: take a lock, claim an idempotency key.
    /// `None` stores it with no expiry; `Some(Duration::ZERO)` is expired at once: on a key that
    /// is not live it returns `true` and nobody ever sees the value.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// let lease = Some(Duration::from_secs(30));
    /// assert!(store.set_if_absent("lock:job", "worker-1", lease));
    /// assert!(!store.set_if_absent("lock:job", "worker-2", lease));
    /// assert_eq!(store.get("lock:job"), Some("worker-1".into()));
    /// ```
    pub fn set_if_absent(&self, key: &str, value: impl Into<Value>, ttl: Option<Duration>) -> bool {
        self.inner.set_if_absent(key, value.into(), ttl)
    }

    /// Stores `value` with `ttl` (`None`: no expiry; `Some(Duration::ZERO)`: expired at once, so
    /// the key is gone afterwards) and returns the value it replaced, if that was live. Redis
    /// `SET key value PX ttl GET`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// assert_eq!(store.swap("k", 1, None), None);
    /// assert_eq!(store.swap("k", 2, Some(Duration::from_secs(60))), Some(1.into()));
    /// assert_eq!(store.ttl("k").as_secs(), 60);
    /// ```
    pub fn swap(&self, key: &str, value: impl Into<Value>, ttl: Option<Duration>) -> Option<Value> {
        self.inner.swap(key, value.into(), ttl)
    }

    /// Removes a live key and returns its value. Redis `GETDEL`: consume a one-time token.
    ///
    /// ```
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set("token:abc", "user-7");
    /// assert_eq!(store.take("token:abc"), Some("user-7".into()));
    /// assert_eq!(store.take("token:abc"), None);
    /// ```
    pub fn take(&self, key: &str) -> Option<Value> {
        self.inner.take(key)
    }

    /// Replaces the value only if the key is live and its value `== expected` (`Value`'s
    /// `PartialEq`: floats as `f64`, so a `NaN` never matches); the TTL is kept. `true` if it
    /// replaced it.
    ///
    /// ```
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set("state", "pending");
    /// assert!(store.compare_and_set("state", &"pending".into(), "running"));
    /// assert!(!store.compare_and_set("state", &"pending".into(), "running"));
    /// ```
    pub fn compare_and_set(&self, key: &str, expected: &Value, new: impl Into<Value>) -> bool {
        self.inner.compare_and_set(key, expected, new.into())
    }

    /// Deletes the key only if it is live and its value `== expected`: release a lock only if it
    /// is still yours. `true` if it deleted it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// store.set_if_absent("lock", "me", Some(Duration::from_secs(10)));
    /// assert!(!store.compare_and_delete("lock", &"someone else".into()));
    /// assert!(store.compare_and_delete("lock", &"me".into()));
    /// ```
    pub fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        self.inner.compare_and_delete(key, expected)
    }

    /// [`incr`](Store::incr), and a key this call creates (it was missing or expired) gets
    /// `ttl`; a live key keeps its TTL or its lack of one (`Duration::ZERO`: a key this call
    /// would create is expired at once, so nothing is stored and `delta` is returned). A fixed-window rate limit in one call:
    /// the first request of a window creates the counter with the window's length, later ones
    /// only count, and there is no moment at which the counter exists without its TTL.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// let window = Duration::from_secs(60);
    /// assert_eq!(store.incr_with_ttl("rate:1.2.3.4", 1, window), Ok(1));
    /// assert_eq!(store.incr_with_ttl("rate:1.2.3.4", 1, window), Ok(2));
    /// assert_eq!(store.ttl("rate:1.2.3.4").as_secs(), 60);
    /// ```
    pub fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64> {
        self.inner.incr_with_ttl(key, delta, ttl)
    }

    /// If the key is live, replaces its value by `f(current)` atomically, keeping its TTL, and
    /// returns the new value; if not, returns `None` without calling `f`. `f` may run more than
    /// once under contention (only the last run's result is stored), so it must not have side
    /// effects.
    ///
    /// ```
    /// use scriptling_kv::{Store, Value};
    ///
    /// let store = Store::new();
    /// store.set("tags", vec!["a"]);
    /// let tags = store.update("tags", |v| {
    ///     let mut list = v.as_list().unwrap_or_default().to_vec();
    ///     list.push("b".into());
    ///     Value::List(list)
    /// });
    /// assert_eq!(tags, Some(Value::from(vec!["a", "b"])));
    /// assert_eq!(store.update("missing", |v| v.clone()), None);
    /// ```
    pub fn update(&self, key: &str, f: impl FnMut(&Value) -> Value) -> Option<Value> {
        self.inner.update(key, f)
    }
}
