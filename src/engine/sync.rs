//! The one door to synchronization primitives.
//!
//! Every other module takes its atomics, `Arc`, `Mutex` and thread primitives from here, never from
//! `std::sync` directly. Under `--cfg scriptling_kv_loom` they come from [loom], so the loom models
//! in `loom-tests/` see every atomic access the store's concurrency core makes (crossbeam-epoch
//! itself switches to loom under `--cfg crossbeam_loom` with its `loom` feature).
//!
//! [loom]: https://docs.rs/loom

#[cfg(scriptling_kv_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};

#[cfg(not(scriptling_kv_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};

/// The identity of the current thread (a loom thread's own under loom, where every model thread
/// runs on one OS thread).
#[cfg(scriptling_kv_loom)]
pub(crate) use loom::thread::ThreadId;
#[cfg(not(scriptling_kv_loom))]
pub(crate) use std::thread::ThreadId;

/// The current thread's [`ThreadId`].
pub(crate) fn thread_id() -> ThreadId {
    #[cfg(scriptling_kv_loom)]
    {
        loom::thread::current().id()
    }
    #[cfg(not(scriptling_kv_loom))]
    {
        std::thread::current().id()
    }
}

/// A small number for the calling thread, assigned round-robin at its first call and fixed for
/// its life: per-thread buffers and counter stripes are picked as `thread_number() % N`, so two
/// threads rarely share one. 0 under loom (the models use one buffer: fewer interleavings, the
/// same protocol) and for a thread whose thread-locals are already gone (it is exiting).
#[inline]
pub(crate) fn thread_number() -> usize {
    #[cfg(not(scriptling_kv_loom))]
    {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        thread_local! {
            static NUMBER: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        NUMBER.try_with(|n| *n).unwrap_or(0)
    }
    #[cfg(scriptling_kv_loom)]
    {
        0
    }
}

/// Locks `m`, ignoring poisoning.
///
/// Nothing this crate does while holding one of its mutexes can leave the protected data in a
/// state that breaks an invariant (the critical sections move records between vectors), so a
/// panic elsewhere must not turn every later call into a panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(scriptling_kv_loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(scriptling_kv_loom))]
    {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Locks `m` if nobody holds it (ignoring poisoning, as [`lock`]).
pub(crate) fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    #[cfg(scriptling_kv_loom)]
    {
        m.try_lock().ok()
    }
    #[cfg(not(scriptling_kv_loom))]
    {
        match m.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// Primitives that stay `std` even under loom: the `Store` handle's reference count and the
/// background cleaner thread. Neither is part of a consistency claim (the models drive the
/// purge step by hand), and loom has no `Weak` or timed condvar waits.
pub(crate) mod std_only {
    pub(crate) use std::sync::{Arc, Condvar, Mutex, Weak};
}
