//! The in-flight table of the single-flight loads (`Store::get_or_insert_with` and its forms; the
//! guarantees are in the store's `flight` module): `key -> Arc<Flight>` in [`SHARDS`]
//! mutex-protected maps. A flight is a state (`Loading` with the async waiters' wakers, `Done`
//! with the value, or `Abandoned`) behind a mutex, and a condition variable for blocking
//! waiters. A [`Loader`] is the obligation of the caller that registered a flight: it ends the
//! flight with a value ([`Loader::finish`]) or, dropped first (an error, a panic, a dropped
//! future), marks it abandoned so a waiter loads instead. The only waiting in the crate.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::engine::sync::{lock, Arc, Condvar, Mutex};
use crate::value::Value;

/// Number of shards of the in-flight table (one under loom: fewer interleavings, same protocol).
#[cfg(not(scriptling_kv_loom))]
const SHARDS: usize = 16;
#[cfg(scriptling_kv_loom)]
const SHARDS: usize = 1;

/// The state of one load in flight.
enum State {
    /// `init` is running; async waiters to wake when it ends.
    Loading(Vec<Waker>),
    /// The loader finished with this value.
    Done(Value),
    /// The loader left without a value: waiters try again.
    Abandoned,
}

/// One load in flight.
pub(crate) struct Flight {
    state: Mutex<State>,
    /// Blocking waiters sleep here.
    changed: Condvar,
    /// The thread of a blocking loader (`None` for an async one): a blocking wait for this
    /// flight on that thread can only be the loader's own `init` waiting for itself.
    thread: Option<crate::engine::sync::ThreadId>,
}

impl Flight {
    fn new(thread: Option<crate::engine::sync::ThreadId>) -> Self {
        Flight {
            state: Mutex::new(State::Loading(Vec::new())),
            changed: Condvar::new(),
            thread,
        }
    }

    /// Reports a blocking wait by the loader's own thread (module docs, "Re-entrancy"): it
    /// would never end.
    pub(crate) fn check_not_own(&self, key: &str) {
        if self.thread.is_some() && self.thread == Some(crate::engine::sync::thread_id()) {
            panic!(
                "scriptling-kv: the loader of key {key:?} waits for its own load: a single-flight \
                 load of a key was called from inside the init of a load of the same key, on the \
                 same thread (it would wait for itself forever)"
            );
        }
    }

    /// Ends the flight with `state` and wakes every waiter.
    fn end(&self, state: State) {
        let wakers = {
            let mut current = lock(&self.state);
            match std::mem::replace(&mut *current, state) {
                State::Loading(wakers) => wakers,
                _ => Vec::new(),
            }
        };
        self.changed.notify_all();
        for w in wakers {
            w.wake();
        }
    }

    /// Blocks until the flight ends: `Some(value)` if it loaded one, `None` if abandoned.
    pub(crate) fn wait(&self) -> Option<Value> {
        let mut state = lock(&self.state);
        loop {
            match &*state {
                State::Loading(_) => {
                    state = wait(&self.changed, state);
                }
                State::Done(v) => return Some(v.clone()),
                State::Abandoned => return None,
            }
        }
    }

    /// The async form of [`wait`](Self::wait): registers `cx`'s waker while loading.
    pub(crate) fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<Option<Value>> {
        let mut state = lock(&self.state);
        match &mut *state {
            State::Loading(wakers) => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Done(v) => Poll::Ready(Some(v.clone())),
            State::Abandoned => Poll::Ready(None),
        }
    }
}

/// `Condvar::wait`, ignoring poisoning (as [`lock`] does).
fn wait<'a, T>(
    cv: &Condvar,
    guard: crate::engine::sync::MutexGuard<'a, T>,
) -> crate::engine::sync::MutexGuard<'a, T> {
    #[cfg(scriptling_kv_loom)]
    {
        cv.wait(guard).unwrap()
    }
    #[cfg(not(scriptling_kv_loom))]
    {
        cv.wait(guard)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One shard of the in-flight table: key -> its load in flight.
type Shard = Mutex<HashMap<String, Arc<Flight>>>;

/// The in-flight table of a store.
pub(crate) struct Flights {
    shards: Box<[Shard]>,
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights").finish_non_exhaustive()
    }
}

impl Flights {
    pub(crate) fn new() -> Self {
        Flights {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key: &str) -> &Shard {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        &self.shards[(h as usize) % SHARDS]
    }

    /// Enters the flight for `key`: `Ok(loader)` if this caller registered it (it must load), or
    /// `Err(flight)` to wait on another caller's load.
    pub(crate) fn enter<'a>(
        &'a self,
        key: &'a str,
        blocking: bool,
    ) -> Result<Loader<'a>, Arc<Flight>> {
        let (flight, leader) = if mutant::no_flight() {
            (Arc::new(Flight::new(None)), true)
        } else {
            self.join(key, blocking)
        };
        if !leader {
            return Err(flight);
        }
        Ok(Loader {
            flights: self,
            key,
            flight,
            done: false,
        })
    }

    /// The load in flight for `key`, if any (for the mutant `reads_wait`).
    pub(crate) fn in_flight(&self, key: &str) -> Option<Arc<Flight>> {
        lock(self.shard(key)).get(key).cloned()
    }

    /// Joins the flight for `key`, or starts one: `(flight, true)` if this caller is its loader.
    fn join(&self, key: &str, blocking: bool) -> (Arc<Flight>, bool) {
        let mut map = lock(self.shard(key));
        if let Some(f) = map.get(key) {
            return (f.clone(), false);
        }
        let f = Arc::new(Flight::new(blocking.then(crate::engine::sync::thread_id)));
        map.insert(key.to_owned(), f.clone());
        (f, true)
    }

    /// Removes `flight` from the table (only if it is still the one registered for `key`).
    fn remove(&self, key: &str, flight: &Arc<Flight>) {
        let mut map = lock(self.shard(key));
        if map.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            map.remove(key);
        }
    }
}

/// The loader's obligation: ends its flight with a value, or (if dropped first: an error, a
/// panic, a dropped future) abandons it so a waiter can load instead.
pub(crate) struct Loader<'a> {
    flights: &'a Flights,
    key: &'a str,
    flight: Arc<Flight>,
    done: bool,
}

impl Loader<'_> {
    pub(crate) fn finish(mut self, value: &Value) {
        self.done = true;
        self.flights.remove(self.key, &self.flight);
        self.flight.end(State::Done(value.clone()));
    }
}

impl Drop for Loader<'_> {
    fn drop(&mut self) {
        if !self.done && !mutant::abandon_silently() {
            self.flights.remove(self.key, &self.flight);
            self.flight.end(State::Abandoned);
        }
    }
}

/// Waits (asynchronously) for a flight to end.
pub(crate) struct Wait<'a> {
    pub(crate) flight: &'a Arc<Flight>,
}

impl Future for Wait<'_> {
    type Output = Option<Value>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Value>> {
        self.flight.poll_wait(cx)
    }
}

/// The mutation hooks of `loom-tests/mutants` for the loads (see `entry`, `mod mutant`).
mod mutant {
    /// Mutant `no_flight`: every caller that misses runs its own `init` (no in-flight table).
    #[inline]
    pub(super) fn no_flight() -> bool {
        cfg!(scriptling_kv_mutant = "no_flight")
    }

    /// Mutant `abandon_silently`: a loader that leaves without a value does not end its flight,
    /// so its waiters are never told.
    #[inline]
    pub(super) fn abandon_silently() -> bool {
        cfg!(scriptling_kv_mutant = "abandon_silently")
    }
}
