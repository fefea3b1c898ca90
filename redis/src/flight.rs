//! In-process single flight: at most one load per key runs at a time in one `RedisStore` (and its
//! clones); concurrent callers for the same key wait for it and share its outcome.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use scriptling_kv::Value;
use tokio::sync::watch;

/// What a finished load shares with its waiters.
#[derive(Clone)]
pub(crate) enum Outcome {
    /// The value the leader returned (its own, or the one another process stored first), and
    /// whether the leader found it stored (no load ran).
    Value(Value, bool),
    /// The leader's loader failed (its error went to the leader's caller only): waiters start
    /// over.
    Failed,
}

type Slot = watch::Receiver<Option<Outcome>>;

/// The loads in flight, by key.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, Slot>>,
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Flights").field("in_flight", &n).finish()
    }
}

/// A caller's part in the flight for a key.
pub(crate) enum Role<'a> {
    /// Run the load, then [`Leader::finish`].
    Leader(Leader<'a>),
    /// Wait for the leader's outcome (`None` in the channel until then; the channel closes
    /// without an outcome if the leader was dropped).
    Waiter(Slot),
}

/// The running load's handle. Dropping it without [`finish`](Leader::finish) (the leader's future
/// was cancelled, or its loader panicked) closes the flight: every waiter then starts over, and
/// one of them becomes the next leader.
pub(crate) struct Leader<'a> {
    flights: &'a Flights,
    key: String,
    tx: watch::Sender<Option<Outcome>>,
}

impl Flights {
    /// Joins the flight for `key`, or starts one.
    pub(crate) fn join(&self, key: &str) -> Role<'_> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rx) = map.get(key) {
            return Role::Waiter(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_owned(), rx);
        Role::Leader(Leader {
            flights: self,
            key: key.to_owned(),
            tx,
        })
    }
}

impl Leader<'_> {
    /// Ends the flight and hands `outcome` to its waiters. The flight leaves the map first, so a
    /// caller arriving now starts afresh (and finds the stored value).
    pub(crate) fn finish(self, outcome: Outcome) {
        self.remove();
        self.tx.send_replace(Some(outcome));
    }

    fn remove(&self) {
        let mut map = self
            .flights
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map
            .get(&self.key)
            .is_some_and(|rx| rx.same_channel(&self.tx.subscribe()))
        {
            map.remove(&self.key);
        }
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        // After `finish` this finds another flight or none, and leaves it alone.
        self.remove();
    }
}
