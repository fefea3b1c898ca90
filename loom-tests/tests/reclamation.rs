//! Models of memory reclamation: every retired value is freed exactly once, and no reader ever
//! reads a value after it was freed.
//!
//! `Value` has no custom `Drop` and slots are plain heap allocations that loom does not track,
//! so this binary installs a tracking global allocator:
//!
//! - every payload is a `Value::Bytes` of exactly [`PAYLOAD`] bytes (a size nothing else in the
//!   process allocates), filled with one tag byte. The allocator keeps the set of live payload
//!   buffers: a free of a buffer that is not live is counted as a **double free** (and not
//!   passed on), and any buffer still live when an execution is over (after the store was dropped
//!   and loom tore down crossbeam-epoch's collector, which runs every deferred destructor) is a
//!   **leak**;
//! - a freed payload buffer is **poisoned** (overwritten with [`POISON`]) and quarantined (not
//!   handed back to the system allocator until much later), so a reader that reads a value after
//!   it was freed sees poison instead of its tag, and the model's assertion on the tag fails;
//! - blocks of a slot's size are quarantined too (their free is delayed, contents intact, and a
//!   second free of the same block is counted as a double free), so a reader holding a freed
//!   slot still finds the pointer to its (poisoned) payload instead of allocator metadata.
//!
//! What this does *not* show: crossbeam-epoch reclaims a retired slot only after two epoch
//! advances, which happen on a thread's first pin, every 128th pin, or an explicit flush (which
//! the store does not expose). In executions this small that never happens while the model's
//! threads run: retired slots are freed when the collector is torn down at the end of the
//! execution. So the use-after-free check shows that the store frees a slot by no path other
//! than epoch deferral (mutant `free_now` frees a replaced slot at once and is caught), not that
//! crossbeam-epoch's grace periods are right (its own loom tests cover that). The `Entry` cells
//! themselves are loom `Arc`s, so loom's own leak check covers them in every model.
#![cfg(scriptling_kv_loom)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::Duration;

use common::new_store;
use scriptling_kv::Value;

/// Size of every tracked payload buffer.
const PAYLOAD: usize = 3001;
/// What a freed payload buffer is overwritten with.
const POISON: u8 = 0xDD;
/// Size and alignment of the store's slot allocation (taken from the crate, so it cannot go stale
/// when the slot changes; `model` also checks that slot allocations were seen).
const SLOT_LAYOUT: (usize, usize) = scriptling_kv::__SLOT_LAYOUT;

const LIVE_CAP: usize = 1024;
const QUARANTINE_CAP: usize = 1024;

static LIVE: [AtomicUsize; LIVE_CAP] = [const { AtomicUsize::new(0) }; LIVE_CAP];
static LIVE_OVERFLOW: AtomicBool = AtomicBool::new(false);
static PAYLOAD_Q: [AtomicUsize; QUARANTINE_CAP] = [const { AtomicUsize::new(0) }; QUARANTINE_CAP];
static PAYLOAD_Q_NEXT: AtomicUsize = AtomicUsize::new(0);
static SLOT_Q: [AtomicUsize; QUARANTINE_CAP] = [const { AtomicUsize::new(0) }; QUARANTINE_CAP];
static SLOT_Q_NEXT: AtomicUsize = AtomicUsize::new(0);
static DOUBLE_FREES: AtomicUsize = AtomicUsize::new(0);
static SLOT_ALLOCS: AtomicUsize = AtomicUsize::new(0);

struct Tracking;

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

fn is_payload(layout: Layout) -> bool {
    layout.size() == PAYLOAD && layout.align() == 1
}

fn is_slot(layout: Layout) -> bool {
    (layout.size(), layout.align()) == SLOT_LAYOUT
}

/// Puts `ptr` in `ring`, really freeing whatever it evicts.
unsafe fn quarantine(ring: &[AtomicUsize], next: &AtomicUsize, ptr: *mut u8, layout: Layout) {
    let i = next.fetch_add(1, SeqCst) % ring.len();
    let old = ring[i].swap(ptr as usize, SeqCst);
    if old != 0 {
        // SAFETY: `old` was handed to `dealloc` with this same layout (one ring per layout) and
        // not freed since: it sat in the ring.
        unsafe { System.dealloc(old as *mut u8, layout) };
    }
}

// SAFETY: every block is allocated and finally freed by `System` with the caller's layout; the
// bookkeeping only delays frees and never hands a block out twice.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && is_payload(layout) {
            let slot = LIVE
                .iter()
                .find(|s| s.compare_exchange(0, p as usize, SeqCst, SeqCst).is_ok());
            if slot.is_none() {
                LIVE_OVERFLOW.store(true, SeqCst);
            }
        }
        if !p.is_null() && is_slot(layout) {
            SLOT_ALLOCS.fetch_add(1, SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_payload(layout) {
            let found = LIVE
                .iter()
                .any(|s| s.compare_exchange(ptr as usize, 0, SeqCst, SeqCst).is_ok());
            if !found {
                DOUBLE_FREES.fetch_add(1, SeqCst);
                return;
            }
            // SAFETY: `ptr` is a live block of `PAYLOAD` bytes being freed by its owner.
            unsafe { ptr.write_bytes(POISON, PAYLOAD) };
            // SAFETY: as above; the ring frees it later with the same layout.
            unsafe { quarantine(&PAYLOAD_Q, &PAYLOAD_Q_NEXT, ptr, layout) };
            return;
        }
        if is_slot(layout) {
            if SLOT_Q.iter().any(|s| s.load(SeqCst) == ptr as usize) {
                DOUBLE_FREES.fetch_add(1, SeqCst);
                return;
            }
            // SAFETY: the ring frees it later with the same layout.
            unsafe { quarantine(&SLOT_Q, &SLOT_Q_NEXT, ptr, layout) };
            return;
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn live_payloads() -> usize {
    LIVE.iter().filter(|s| s.load(SeqCst) != 0).count()
}

/// `Err` naming exactly one cause if the previous execution freed a payload twice (checked
/// first) or leaked one.
fn clean(when: &str) -> Result<(), String> {
    if LIVE_OVERFLOW.load(SeqCst) {
        return Err(format!("{when}: tracking table overflowed"));
    }
    let doubles = DOUBLE_FREES.load(SeqCst);
    if doubles > 0 {
        return Err(format!("{when}: {doubles} double free(s)"));
    }
    let leaked = live_payloads();
    if leaked > 0 {
        return Err(format!("{when}: {leaked} payload(s) never freed"));
    }
    Ok(())
}

/// Only one model of this binary runs at a time (the allocator's counters are global).
static SERIAL: Mutex<()> = Mutex::new(());

fn payload(tag: u8) -> Value {
    Value::Bytes(vec![tag; PAYLOAD])
}

/// The tag of an intact payload; `None` for a freed (poisoned) or torn one.
fn tag(v: &Value) -> Option<u8> {
    match v {
        Value::Bytes(b) if b.len() == PAYLOAD && b[0] != POISON && b.iter().all(|x| *x == b[0]) => {
            Some(b[0])
        }
        _ => None,
    }
}

/// Runs `f` as a loom model (through the harness's non-aborting [`common::model`]) with the
/// tracking allocator checked between executions and after the last one.
fn model(
    name: &'static str,
    preemptions: usize,
    f: impl Fn() -> Result<(), String> + Sync + Send + 'static,
) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    DOUBLE_FREES.store(0, SeqCst);
    if let Err(e) = clean("before the model") {
        panic!("{name}: {e}");
    }
    let slots_before = SLOT_ALLOCS.load(SeqCst);
    common::model(name, preemptions, move || {
        // Everything the previous execution allocated was freed by its teardown.
        clean("previous execution")?;
        f()
    });
    if let Err(e) = clean("last execution") {
        panic!("{name}: {e}");
    }
    assert!(
        SLOT_ALLOCS.load(SeqCst) > slots_before,
        "the tracking allocator saw no slot allocation: is_slot no longer recognises slots"
    );
}

/// A reader racing two writers' replacements of its value: the reader always sees an intact
/// value (one of the tags written), every replaced value is freed, none twice. Mutants
/// `free_now` (a replaced slot is freed at once instead of deferred: the reader reads poison)
/// and `leak_replaced` (a replaced slot is never retired: a leak) fail it.
#[test]
fn replaced_values_are_freed_once_and_never_read_after_free() {
    model(
        "replaced_values_are_freed_once_and_never_read_after_free",
        3,
        || {
            let (store, _clock) = new_store();
            store.set_with_ttl("k", payload(1), Duration::from_secs(10));
            let writer = {
                let store = store.clone();
                loom::thread::spawn(move || {
                    store.set_with_ttl("k", payload(2), Duration::from_secs(10));
                })
            };
            let seen = store.get_with("k", tag);
            writer.join().unwrap();
            if !matches!(seen, Some(Some(1 | 2))) {
                return Err(format!("get_with saw a freed or torn value: {seen:?}"));
            }
            let last = store.get("k").as_ref().and_then(tag);
            if last != Some(2) {
                return Err(format!("the last write was lost: {last:?}"));
            }
            Ok(())
        },
    );
}

/// `clear` racing `delete` of the same key: the killed value is retired by exactly one of them.
/// Mutant `double_retire` (clear kills by load-then-store instead of one swap, so both can
/// retire the same slot) fails it with a double free.
#[test]
fn killed_values_are_retired_by_exactly_one_killer() {
    model("killed_values_are_retired_by_exactly_one_killer", 3, || {
        let (store, _clock) = new_store();
        store.set("k", payload(1));
        let clearer = {
            let store = store.clone();
            loom::thread::spawn(move || store.clear())
        };
        let deleted = store.delete("k");
        clearer.join().unwrap();
        let (left, len) = (store.get("k"), store.len());
        if left.is_some() || len != 0 {
            return Err(format!(
                "the key survived: get {left:?}, len {len}, deleted={deleted}"
            ));
        }
        Ok(())
    });
}
