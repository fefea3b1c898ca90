//! Periodic persistence (module docs of `snapshot`, "Periodic persistence"): the options a
//! builder collects, the status a store reports, the saver thread, and the save at the last
//! handle's drop.

use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::engine::core::Core;
use crate::engine::sync::std_only::{Arc, Condvar, Mutex, Weak};
use crate::error::{Error, Result};
use crate::snapshot::file::*;
use crate::snapshot::format::*;

/// A persistence error callback.
pub(crate) type ErrorCallback = Arc<dyn Fn(&Error) + Send + Sync>;

/// The builder's persistence options.
#[derive(Clone, Default)]
pub(crate) struct PersistOptions {
    /// The snapshot file and the save interval.
    pub(crate) target: Option<(PathBuf, Duration)>,
    pub(crate) on_error: Option<ErrorCallback>,
}

impl fmt::Debug for PersistOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersistOptions")
            .field("target", &self.target)
            .field("on_error", &self.on_error.as_ref().map(|_| "Fn(&Error)"))
            .finish()
    }
}

/// What [`Store::persistence_status`](crate::Store::persistence_status) reports: the snapshot file, what happened to it at
/// `build()`, and how the saves are going.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct PersistenceStatus {
    /// The snapshot file.
    pub path: PathBuf,
    /// How often changes are saved.
    pub interval: Duration,
    /// Keys set from the file at `build()`; `None` if there was no file or it could not be
    /// loaded.
    pub loaded: Option<usize>,
    /// Why the file found at `build()` could not be loaded, if it could not.
    pub load_error: Option<Error>,
    /// Where that file was moved (a corrupt file is moved aside to
    /// `<path>.corrupt-<unix seconds>`).
    pub moved_to: Option<PathBuf>,
    /// Whether saves are on: `false` when a file found at `build()` could not be loaded and was
    /// left in place (it could not be read, or not be moved aside), so that no save overwrites
    /// it. Fix the file (or move it away) and restart.
    pub saving: bool,
    /// When the last successful save finished (wall clock).
    pub last_save: Option<SystemTime>,
    /// Keys written by the last successful save.
    pub last_saved_keys: usize,
    /// Successful saves so far.
    pub saves: u64,
    /// Failed saves so far.
    pub failures: u64,
    /// The most recent failed save: when, and why. Before any save, the check at `build()`
    /// that saves can create their temporary file beside the path, if it failed (a missing or
    /// unwritable directory), or a failure to start the periodic saver thread.
    pub last_error: Option<(SystemTime, Error)>,
    /// Whether the most recent save attempt failed (or, before any save, the check at
    /// `build()` did: every save would fail the same way until the directory is fixed).
    pub failing: bool,
}

/// The state of a store's persistence (in `Inner`, for stores built with `persist`).
pub(crate) struct Persistence {
    pub(crate) path: PathBuf,
    pub(crate) interval: Duration,
    pub(crate) on_error: Option<ErrorCallback>,
    /// Held for the whole of each persistence save: one at a time.
    pub(crate) saving: Mutex<()>,
    /// Held only to read or update the status.
    pub(crate) status: Mutex<Status>,
    /// Stops the periodic saver.
    pub(crate) stop: Arc<Stop>,
}

/// What `persistence_status` reports, plus the change count the last save started at.
#[derive(Debug, Clone, Default)]
pub(crate) struct Status {
    pub(crate) loaded: Option<usize>,
    pub(crate) load_error: Option<Error>,
    pub(crate) moved_to: Option<PathBuf>,
    pub(crate) suspended: bool,
    pub(crate) last_save: Option<SystemTime>,
    pub(crate) last_saved_keys: usize,
    pub(crate) saves: u64,
    pub(crate) failures: u64,
    pub(crate) last_error: Option<(SystemTime, Error)>,
    pub(crate) failing: bool,
    /// Why a save could not create its temporary file at build, if it could not
    /// (`StoreBuilder::try_build` fails with it).
    pub(crate) unwritable: Option<Error>,
    /// `Changes::sum` when the last successful save (or the load at build) started.
    pub(crate) saved_at: u64,
}

/// Why a persistence save runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The periodic saver's tick: only if something changed, and not once stopped.
    Periodic,
    /// The last handle was dropped: only if something changed.
    LastDrop,
    /// `save_now`: always.
    Now,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Persistence {
    /// The error that makes this persistence unusable, if any: a directory saves cannot write
    /// in, or a file found at build that could not be loaded (saving is then suspended).
    pub(crate) fn unusable(&self) -> Option<Error> {
        let status = lock(&self.status);
        if let Some(err) = &status.unwritable {
            return Some(err.clone());
        }
        if status.suspended {
            return status.load_error.clone();
        }
        None
    }

    /// [`Store::save_now`](crate::Store::save_now): a save now, whether or not anything changed.
    pub(crate) fn save_now(&self, core: &Core) -> Option<Result<usize>> {
        self.save(core, Trigger::Now)
    }

    /// The persistence of a store built with `options` (`None` without `persist`).
    pub(crate) fn new(options: &PersistOptions) -> Option<Self> {
        let (path, interval) = options.target.clone()?;
        Some(Persistence {
            path,
            interval,
            on_error: options.on_error.clone(),
            saving: Mutex::new(()),
            status: Mutex::new(Status::default()),
            stop: Arc::new(Stop::default()),
        })
    }

    /// Passes `err` to the callback, if any, catching a panic in it.
    fn report(&self, core: &Core, err: &Error) {
        if let Some(f) = &self.on_error {
            let call = std::panic::AssertUnwindSafe(|| f(err));
            if std::panic::catch_unwind(call).is_err() {
                core.counters
                    .listener_panics
                    .fetch_add(1, crate::engine::sync::Ordering::Relaxed);
            }
        }
    }

    /// Loads the file at `build()` and checks that saves can write beside it (module docs,
    /// "Periodic persistence").
    fn load_at_build(&self, core: &Core) {
        remove_abandoned_temps(&self.path);
        if let Err(err) = check_writable(&self.path) {
            {
                let mut status = lock(&self.status);
                status.last_error = Some((SystemTime::now(), err.clone()));
                status.failing = true;
                status.unwritable = Some(err.clone());
            }
            self.report(core, &err);
        }
        // No file (its directory may be missing too: reported above).
        let found = !matches!(
            fs::symlink_metadata(&self.path),
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
        );
        let outcome = found.then(|| load_from(core, &self.path));
        let mut status = lock(&self.status);
        // What the load set is the baseline: nothing to save yet.
        status.saved_at = core.changes();
        let err = match outcome {
            None => return,
            Some(Ok(n)) => {
                status.loaded = Some(n);
                return;
            }
            Some(Err(err)) => err,
        };
        if matches!(err, Error::Corrupt { .. }) {
            match move_aside(&self.path) {
                Some(to) => status.moved_to = Some(to),
                None => status.suspended = true,
            }
        } else {
            status.suspended = true;
        }
        status.load_error = Some(err.clone());
        drop(status);
        self.report(core, &err);
    }

    /// Runs one persistence save for `trigger`; `None` if none was due (nothing changed, or the
    /// saver was stopped). A failure is counted, recorded, and reported to the callback once
    /// the save lock is released (so the callback may call `save_now`).
    fn save(&self, core: &Core, trigger: Trigger) -> Option<Result<usize>> {
        // Set once, at build. Not a failed save (nothing is tried): not counted or reported.
        if lock(&self.status).suspended {
            return (trigger == Trigger::Now).then(|| {
                Err(Error::Io {
                    path: display(&self.path),
                    op: "save".to_owned(),
                    reason: "saving is suspended: the file found at build could not be loaded \
                             and was left in place (see Store::persistence_status)"
                        .to_owned(),
                    kind: io::ErrorKind::Other,
                })
            });
        }
        let result = self.save_locked(core, trigger)?;
        if let Err(e) = &result {
            core.counters
                .save_failures
                .fetch_add(1, crate::engine::sync::Ordering::Relaxed);
            self.report(core, e);
        }
        Some(result)
    }

    fn save_locked(&self, core: &Core, trigger: Trigger) -> Option<Result<usize>> {
        let _one_at_a_time = lock(&self.saving);
        if trigger == Trigger::Periodic && self.stop.is_stopped() {
            return None;
        }
        let saved_at = lock(&self.status).saved_at;
        // Read before the walk: every write counted here is seen by it (module docs).
        let changes = core.changes();
        if trigger != Trigger::Now && changes == saved_at {
            return None;
        }
        let result = save_to(core, &self.path);
        let now = SystemTime::now();
        let mut status = lock(&self.status);
        match &result {
            Ok(n) => {
                status.saved_at = changes;
                status.last_save = Some(now);
                status.last_saved_keys = *n;
                status.saves += 1;
                status.failing = false;
            }
            Err(e) => {
                status.failures += 1;
                status.last_error = Some((now, e.clone()));
                status.failing = true;
            }
        }
        Some(result)
    }

    pub(crate) fn status(&self) -> PersistenceStatus {
        let s = lock(&self.status).clone();
        PersistenceStatus {
            path: self.path.clone(),
            interval: self.interval,
            loaded: s.loaded,
            load_error: s.load_error,
            moved_to: s.moved_to,
            saving: !s.suspended,
            last_save: s.last_save,
            last_saved_keys: s.last_saved_keys,
            saves: s.saves,
            failures: s.failures,
            last_error: s.last_error,
            failing: s.failing,
        }
    }
}

/// The periodic saver's stop signal.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    pub(crate) stopped: Mutex<bool>,
    pub(crate) wake: Condvar,
}

impl Stop {
    fn stop(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
    }

    fn is_stopped(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Sleeps up to `interval`; `false` once stopped.
    fn sleep(&self, interval: Duration) -> bool {
        let stopped = lock(&self.stopped);
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

/// Held by every `Store` handle of a store with persistence (one `Arc` shared by the clones):
/// dropped with the last handle, it runs the final save, while that handle still holds the
/// store (the field is declared before `Store::inner`, so it is dropped first).
pub(crate) struct LastHandle {
    pub(crate) store: Weak<dyn Persisted>,
}

/// What the saver thread and the last handle need of a store: its engine and its persistence
/// (implemented by the store's shared state, which this module does not name).
pub(crate) trait Persisted: Send + Sync + 'static {
    /// The store's engine.
    fn core(&self) -> &Core;
    /// The store's persistence, if it has any.
    fn persistence(&self) -> Option<&Persistence>;
}

impl Drop for LastHandle {
    fn drop(&mut self) {
        let Some(store) = self.store.upgrade() else {
            return;
        };
        if let Some(p) = store.persistence() {
            p.stop.stop();
            // Waits for a periodic save in progress, then saves what changed since.
            let _ = p.save(store.core(), Trigger::LastDrop);
        }
    }
}

/// Starts the persistence of a store just built (if it has any): loads the file, starts the
/// periodic saver, and returns the token its handles share.
pub(crate) fn start<S: Persisted>(store: &Arc<S>) -> Option<Arc<LastHandle>> {
    let p = store.persistence()?;
    p.load_at_build(store.core());
    let weak: Weak<dyn Persisted> = Arc::downgrade(store) as Weak<dyn Persisted>;
    let saver = weak.clone();
    let stop = p.stop.clone();
    let interval = p.interval;
    let spawned = std::thread::Builder::new()
        .name("scriptling-kv-persist".into())
        .spawn(move || {
            while stop.sleep(interval) {
                let Some(store) = saver.upgrade() else {
                    return;
                };
                if let Some(p) = store.persistence() {
                    let _ = p.save(store.core(), Trigger::Periodic);
                }
            }
        });
    if let Err(e) = spawned {
        // No periodic saves; `save_now` and the save at the last drop still work.
        let err = io_error(&p.path, "start the periodic saver thread for", &e);
        {
            let mut status = lock(&p.status);
            status.last_error = Some((SystemTime::now(), err.clone()));
        }
        p.report(store.core(), &err);
    }
    Some(Arc::new(LastHandle { store: weak }))
}
