//! The background cleaner thread.
//!
//! One per store (unless disabled), named `scriptling-kv-cleaner`. It holds only a `Weak`
//! reference to the store, so it never keeps the store alive; every `interval` it upgrades the
//! reference, runs one purge step, and lets go. When the last `Store` handle is dropped, the
//! store's `Drop` raises the shutdown flag and notifies the condition variable the thread sleeps
//! on, so the thread ends at once instead of sleeping out its interval. If the thread itself holds
//! the last reference at that moment (mid-purge), the store is dropped on the thread, the flag is
//! raised there, and the loop sees it before sleeping again.

use std::time::Duration;

use crate::engine::sync::std_only::{Condvar, Mutex, Weak};

/// The shutdown signal shared by a store and its cleaner.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Shutdown {
    /// Raises the flag and wakes the cleaner.
    pub(crate) fn stop(&self) {
        *self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Sleeps up to `interval`; returns `false` if the store is gone.
    #[cfg_attr(scriptling_kv_loom, allow(dead_code))]
    fn sleep(&self, interval: Duration) -> bool {
        let stopped = self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *stopped {
            return false;
        }
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, interval, |stopped| !*stopped)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !*stopped
    }
}

/// Starts the cleaner for `store`. `purge` is called with a strong reference every interval.
#[cfg_attr(scriptling_kv_loom, allow(dead_code))]
pub(crate) fn spawn<S: Send + Sync + 'static>(
    store: Weak<S>,
    shutdown: std::sync::Arc<Shutdown>,
    interval: Duration,
    purge: fn(&S),
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("scriptling-kv-cleaner".into())
        .spawn(move || {
            while shutdown.sleep(interval) {
                match store.upgrade() {
                    Some(store) => purge(&store),
                    None => return,
                }
            }
        })
        .map(drop)
}
