//! Single-flight loads: [`Store::get_or_insert_with`] and its forms. The only waiting in the crate.
//!
//! # What it guarantees
//!
//! - A live value is returned without calling `init` (a hit).
//! - Among concurrent calls for a key that is not live, exactly one runs its `init` (the
//!   *loader*); the others (the *waiters*) wait for it and return the value it produced, without
//!   running theirs.
//! - A loader whose `init` returns `Err`, panics, or (async) is dropped before it completes stores
//!   nothing; its waiters wake up and try again, and the first of them to do so becomes the next
//!   loader. The error goes to the loader's caller only; a panic propagates to it.
//! - Nothing else waits: `get`, `exists`, `ttl`, `keys` and every write ignore loads in flight
//!   (until a load completes, the key is simply not live for them).
//!
//! # A write racing a load
//!
//! The loader stores its value only if the key is still not live when `init` completes (one step
//! of the write engine, like `set_if_absent`). If another caller wrote the key meanwhile, that
//! newer write wins: nothing is stored, and the loader and its waiters all return the value that
//! is live in the store then (reported as [`Source::Loaded`] for the loader, which did run
//! `init`). A `delete` during a load does not stop it: the loaded value is stored afterwards.
//!
//! # Re-entrancy
//!
//! An `init` may use the store, and may load other keys. A blocking load of the *same* key from
//! inside its own `init`, on the loader's thread, would wait for itself for ever; it is reported
//! instead, by a panic with a message that says so (as `RefCell` reports a double borrow): a
//! flight records the thread of a blocking loader, and a blocking waiter on that thread panics
//! before it waits. The panic unwinds through the outer `init`, which abandons its flight as any
//! panicking loader does. (An async loader is not tied to a thread; a task that awaits its own
//! load is not detected.)
//!
//! # How
//!
//! An in-flight table, `key -> Arc<Flight>`, in [`SHARDS`] mutex-protected maps; only the load
//! methods touch it, and only on a miss. A caller that misses locks its shard: if a flight is
//! there it waits on it, otherwise it registers one and becomes the loader. The loader looks at
//! the key once more (a previous loader may have stored it between the miss and the
//! registration), runs `init` without any lock held, stores the result, publishes it in the
//! flight, removes the flight from the table and wakes everybody. Waiting is a condition variable
//! for the blocking forms and a list of wakers for the async forms (no executor is assumed: any
//! runtime that polls futures works, and a waiting task blocks no thread). A loader that leaves
//! without a result (error, panic, dropped future) is seen by a guard's `Drop`, which removes the
//! flight, marks it abandoned and wakes the waiters.

use std::future::Future;
use std::time::Duration;

use crate::engine::flight::{Flight, Loader, Wait};
use crate::engine::sync::Arc;
use crate::engine::write::Write;
use crate::store::Store;
use crate::value::Value;

/// Where the value a load returned came from.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The key was live: no `init` ran.
    Hit,
    /// This call ran its `init` (and stored the value, unless a concurrent write won: see
    /// [`Store::get_or_insert_with`]).
    Loaded,
    /// Another call's `init` was running: this call waited for it and returns its value.
    Coalesced,
}

/// The result of a load with its [`Source`]: see [`Store::load_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The value.
    pub value: Value,
    /// Where it came from.
    pub source: Source,
}

impl Loaded {
    fn new(value: Value, source: Source) -> Loaded {
        Loaded { value, source }
    }
}

/// What a caller is, after a miss.
enum Role<'a> {
    /// It loads (the key was still not live when it became the loader).
    Load(Loader<'a>),
    /// Somebody stored the key meanwhile: this value, a hit after all (reported as coalesced).
    Found(Loaded),
    /// Another caller is loading: wait on this flight.
    Wait(Arc<Flight>),
}

impl Store {
    /// The first look of a load: counted as one hit or one miss.
    fn hit(&self, key: &str) -> Option<Loaded> {
        let value = self.peek(key);
        self.count_lookup(value.is_some());
        Some(Loaded::new(value?, Source::Hit))
    }

    /// After a miss: join the key's flight or start one.
    fn role<'a>(&'a self, key: &'a str, blocking: bool) -> Role<'a> {
        let loader = match self.inner.flights.enter(key, blocking) {
            Ok(loader) => loader,
            Err(flight) => return Role::Wait(flight),
        };
        // A previous loader may have stored the key between our miss and our registration.
        match self.peek(key) {
            Some(value) => {
                loader.finish(&value);
                Role::Found(Loaded::new(value, Source::Coalesced))
            }
            None => Role::Load(loader),
        }
    }

    /// The loader's end: stores `value` if the key is still not live, ends the flight with what
    /// is live then (the loaded value, or a concurrent write's), and reports it as loaded.
    fn finish(&self, loader: Loader<'_>, key: &str, value: Value, ttl: Option<Duration>) -> Loaded {
        let value = self.store_loaded(key, value, ttl);
        loader.finish(&value);
        Loaded::new(value, Source::Loaded)
    }

    /// Stores a loaded value if the key is still not live; returns what is live after that (the
    /// loaded value, or a concurrent write's).
    fn store_loaded(&self, key: &str, value: Value, ttl: Option<Duration>) -> Value {
        let mut value = Some(value);
        self.inner.write(key, |cur, now, back| {
            if let Some(v) = back.take() {
                value = Some(v);
            }
            match cur {
                Some(view) => (Write::None, view.value().into_owned()),
                None => {
                    let v = value.take().expect("kept between attempts");
                    let returned = v.clone();
                    (Write::Put(v, now.ttl_or_never(ttl)), returned)
                }
            }
        })
    }

    /// The live value of `key`, or the value `init` loads and this call stores with `ttl`
    /// (`None`: no expiry; `Some(Duration::ZERO)`: expired at once, so the loaded value is
    /// returned to this call and its waiters but never stored). Concurrent calls for a key that is not live run **one**
    /// `init` among them; the others wait for it and return its value (the only waiting in the
    /// crate: plain reads and writes never wait for a load). A loader that panics stores
    /// nothing, its panic propagates to its caller, and one of its waiters loads instead.
    ///
    /// A write to the key while `init` runs wins: the loaded value is then not stored, and this
    /// call (and its waiters) return the written value. [`load_with`](Store::load_with) also
    /// tells whether the value was a hit, loaded, or coalesced with another call's load.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// let v = store.get_or_insert_with("cache:report", Some(Duration::from_secs(300)), || "expensive");
    /// assert_eq!(v, "expensive".into());
    /// // A hit: init is not called again.
    /// let v = store.get_or_insert_with("cache:report", Some(Duration::from_secs(300)), || -> &str {
    ///     unreachable!()
    /// });
    /// assert_eq!(v, "expensive".into());
    /// ```
    pub fn get_or_insert_with<V: Into<Value>>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: impl FnOnce() -> V,
    ) -> Value {
        self.load_with(key, ttl, init).value
    }

    /// [`get_or_insert_with`](Store::get_or_insert_with) with a fallible `init`: an `Err` is
    /// returned to this caller only, nothing is stored, and one of the waiters loads instead.
    ///
    /// A loader that only fails names its value type (`Err::<i64, _>`), which nothing else
    /// tells the compiler:
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::new();
    /// let r = store.try_get_or_insert_with("k", Some(Duration::from_secs(60)), || Err::<i64, _>("down"));
    /// assert_eq!(r, Err("down"));
    /// assert!(!store.exists("k"));
    /// ```
    pub fn try_get_or_insert_with<V: Into<Value>, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: impl FnOnce() -> std::result::Result<V, E>,
    ) -> std::result::Result<Value, E> {
        self.try_load_with(key, ttl, init).map(|l| l.value)
    }

    /// [`get_or_insert_with`](Store::get_or_insert_with), also telling where the value came
    /// from ([`Source`]): a hit, this call's load, or another call's load it waited for (an
    /// `X-Cache: HIT`/`MISS` header, a hit-ratio metric).
    ///
    /// ```
    /// use scriptling_kv::{Source, Store};
    ///
    /// let store = Store::new();
    /// assert_eq!(store.load_with("k", None, || 1).source, Source::Loaded);
    /// assert_eq!(store.load_with("k", None, || 2).source, Source::Hit);
    /// ```
    pub fn load_with<V: Into<Value>>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: impl FnOnce() -> V,
    ) -> Loaded {
        match self.try_load_with(key, ttl, || Ok::<V, std::convert::Infallible>(init())) {
            Ok(loaded) => loaded,
            Err(never) => match never {},
        }
    }

    /// [`try_get_or_insert_with`](Store::try_get_or_insert_with), also telling where the value
    /// came from ([`Source`]).
    pub fn try_load_with<V: Into<Value>, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: impl FnOnce() -> std::result::Result<V, E>,
    ) -> std::result::Result<Loaded, E> {
        // The async form (`try_load_with_async`) is this loop with `.await` where this one
        // blocks: a condition variable and a waker cannot share one body.
        if let Some(hit) = self.hit(key) {
            return Ok(hit);
        }
        let mut init = Some(init);
        loop {
            match self.role(key, true) {
                Role::Found(loaded) => return Ok(loaded),
                Role::Wait(flight) => {
                    flight.check_not_own(key);
                    if let Some(value) = flight.wait() {
                        return Ok(Loaded::new(value, Source::Coalesced));
                    }
                    // The loader gave up: try again (maybe as the next loader).
                }
                Role::Load(loader) => {
                    let init = init.take().expect("a caller loads at most once");
                    return Ok(self.finish(loader, key, init()?.into(), ttl));
                }
            }
        }
    }

    /// The async form of [`get_or_insert_with`](Store::get_or_insert_with): a waiting task
    /// blocks no thread, and no particular runtime is needed. The future is `Send` when `init`
    /// is. If the loader's future is dropped before `init` completes (cancelled), it stores
    /// nothing and one of its waiters loads instead.
    pub async fn get_or_insert_with_async<V: Into<Value>>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: impl Future<Output = V>,
    ) -> Value {
        self.load_with_async(key, ttl, init).await.value
    }

    /// The async form of [`try_get_or_insert_with`](Store::try_get_or_insert_with).
    pub async fn try_get_or_insert_with_async<V: Into<Value>, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: impl Future<Output = std::result::Result<V, E>>,
    ) -> std::result::Result<Value, E> {
        self.try_load_with_async(key, ttl, init)
            .await
            .map(|l| l.value)
    }

    /// The async form of [`load_with`](Store::load_with).
    pub async fn load_with_async<V: Into<Value>>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: impl Future<Output = V>,
    ) -> Loaded {
        let init = async { Ok::<V, std::convert::Infallible>(init.await) };
        match self.try_load_with_async(key, ttl, init).await {
            Ok(loaded) => loaded,
            Err(never) => match never {},
        }
    }

    /// The async form of [`try_load_with`](Store::try_load_with).
    pub async fn try_load_with_async<V: Into<Value>, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        init: impl Future<Output = std::result::Result<V, E>>,
    ) -> std::result::Result<Loaded, E> {
        if let Some(hit) = self.hit(key) {
            return Ok(hit);
        }
        let mut init = Some(init);
        loop {
            match self.role(key, false) {
                Role::Found(loaded) => return Ok(loaded),
                Role::Wait(flight) => {
                    if let Some(value) = (Wait { flight: &flight }).await {
                        return Ok(Loaded::new(value, Source::Coalesced));
                    }
                }
                Role::Load(loader) => {
                    let init = init.take().expect("a caller loads at most once");
                    // If this future is dropped while `init` runs, `loader` is dropped with it and
                    // abandons the flight.
                    let value = init.await?.into();
                    return Ok(self.finish(loader, key, value, ttl));
                }
            }
        }
    }
}
