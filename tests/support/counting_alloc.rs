//! A counting global allocator for the memory tests: bytes live and their high-water mark, for
//! the whole process and for the calling thread. A test binary includes it with
//! `#[path = "support/counting_alloc.rs"] mod counting_alloc;` (it installs itself as the
//! binary's `#[global_allocator]`).
//!
//! The process-wide counters ([`peak_during`], [`live`]) need a binary in which nothing else
//! allocates meanwhile (one test, no background threads). The per-thread ones
//! ([`thread_peak_during`]) count only what the calling thread allocates and frees, so tests of
//! one binary may run in parallel: use them for work that runs on the calling thread.
//! [`thread_allocations`] counts the calling thread's allocation calls (`alloc`, `alloc_zeroed`,
//! `realloc`), for claims that a path does not allocate.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Signed: a block allocated on one thread may be freed on another.
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
    static THREAD_PEAK: Cell<isize> = const { Cell::new(0) };
    static THREAD_CALLS: Cell<usize> = const { Cell::new(0) };
}

fn added(n: usize) {
    let _ = THREAD_CALLS.try_with(|calls| calls.set(calls.get() + 1));
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
    // `try_with`: nothing is counted for a thread whose locals are gone (it is exiting).
    let _ = THREAD_LIVE.try_with(|live| {
        let now = live.get() + n as isize;
        live.set(now);
        let _ = THREAD_PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn removed(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
    let _ = THREAD_LIVE.try_with(|live| live.set(live.get() - n as isize));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees carry over; the counters are plain atomics and const-initialised thread locals
// without destructors (accessing them never allocates), and never affect the allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's (valid, non-zero-size) layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        removed(layout.size());
        // SAFETY: `ptr` was allocated by `System` (through us) with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller guarantees `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            removed(layout.size());
            added(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes live in the whole process now.
pub(crate) fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Runs `f`; returns its result and the most bytes live in the whole process above the
/// starting point while it ran.
pub(crate) fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

/// Runs `f`; returns its result and the most bytes the calling thread held at once above the
/// starting point while it ran (allocated by it and not yet freed).
pub(crate) fn thread_peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = THREAD_LIVE.with(Cell::get);
    THREAD_PEAK.with(|peak| peak.set(start));
    let out = f();
    let peak = THREAD_PEAK.with(Cell::get);
    (out, usize::try_from(peak - start).unwrap_or(0))
}

/// Allocation calls the calling thread has made so far (`alloc`, `alloc_zeroed`, `realloc`).
pub(crate) fn thread_allocations() -> usize {
    THREAD_CALLS.with(Cell::get)
}
