//! The persistence methods of the public face: [`Store::save`], [`Store::load`],
//! [`Store::save_now`], [`Store::persistence_status`], and the builder's
//! [`persist`](StoreBuilder::persist), [`on_persist_error`](StoreBuilder::on_persist_error) and
//! [`try_build`](StoreBuilder::try_build). The format, the files and the saver are in `snapshot`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::snapshot::{load_from, save_to, Persistence, PersistenceStatus};
use crate::store::{Store, StoreBuilder};

impl Store {
    /// Writes every live key, with its value and TTL, to the snapshot file `path`, replacing it
    /// atomically; returns how many keys were written.
    ///
    /// The file is written to a temporary file in the same directory, `fsync`ed, renamed over
    /// `path` and the directory `fsync`ed: whatever happens (a crash, a power loss, an error),
    /// `path` holds the old snapshot or the new one, whole. The save streams: memory use is
    /// about one value at a time, not a copy of the store, and readers and writers are never
    /// blocked by it. It is not a point-in-time copy: every key live for the whole save is in
    /// it, none absent for the whole save is, and a key that changes meanwhile may or may not be
    /// (each with a value and TTL it had at one instant). TTLs are stored as wall-clock
    /// instants, so time spent while the process is down counts. See the crate docs,
    /// "Snapshots", for the guarantees and the file format.
    ///
    /// Errors: [`Error::Io`] naming `path`, the step that failed and the operating system's
    /// error (the target is then untouched and the temporary file removed).
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::{Store, Value};
    ///
    /// let dir = std::env::temp_dir().join(format!("skv-doc-save-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("store.snap");
    ///
    /// let store = Store::new();
    /// store.set("config", vec![Value::from("debug"), Value::from(true)]);
    /// store.set_with_ttl("session:abc", "bob", Duration::from_secs(3600));
    /// assert_eq!(store.save(&path).unwrap(), 2);
    ///
    /// let restarted = Store::new();
    /// assert_eq!(restarted.load(&path).unwrap(), 2);
    /// assert_eq!(restarted.get("session:abc"), Some(Value::from("bob")));
    /// assert!(restarted.ttl("session:abc").as_secs() <= 3600);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<usize> {
        save_to(&self.inner, path.as_ref())
    }
}

impl Store {
    /// Loads the snapshot file `path` (written by [`save`](Store::save)): validates the whole
    /// file first, then sets every key whose TTL has not run out, with the time it has left (and
    /// keys without a TTL without one); returns how many keys were set. Keys not in the file
    /// are left alone; keys in it are overwritten.
    ///
    /// Nothing is set unless the whole file is valid: a truncated, corrupted or foreign file, or
    /// one of a format version this build cannot read, is [`Error::Corrupt`] with the byte
    /// offset where the problem was found and what it is, and the store is unchanged. A missing
    /// or unreadable file is [`Error::Io`] naming `path` and the operating system's error.
    ///
    /// The decoded records are held in memory between the two phases (the values are then moved
    /// into the store, not copied). See the crate docs, "Snapshots".
    ///
    /// ```
    /// use scriptling_kv::{Error, Store};
    ///
    /// let dir = std::env::temp_dir().join(format!("skv-doc-load-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("store.snap");
    ///
    /// let store = Store::new();
    /// assert!(matches!(store.load(&path), Err(Error::Io { .. }))); // no such file yet
    /// std::fs::write(&path, b"{\"not\": \"a snapshot\"}").unwrap();
    /// match store.load(&path) {
    ///     Err(Error::Corrupt { offset, reason, .. }) => {
    ///         assert_eq!(offset, 0);
    ///         assert!(reason.contains("not a scriptling-kv snapshot"));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(store.is_empty());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn load(&self, path: impl AsRef<Path>) -> Result<usize> {
        load_from(&self.inner, path.as_ref())
    }
}

impl StoreBuilder {
    /// Persists the store to the snapshot file `path`: loads it at `build()` if it exists,
    /// saves it every `interval` if anything changed since the last save (on a thread of its
    /// own, `scriptling-kv-persist`), and saves it when the last handle is dropped (before that
    /// `drop` returns), again only if anything changed. Default: no persistence. A zero
    /// interval is raised to 1 ms.
    ///
    /// At `build()`, temporary files left beside `path` by saves whose process is provably
    /// gone are deleted (a save holds a lock on its file; see the crate docs, "Snapshots",
    /// "Temporary files"), and a temporary file is created and removed beside `path` to check
    /// that saves can write there: a missing or unwritable directory is reported as below
    /// (`build` cannot fail; [`try_build`](StoreBuilder::try_build) fails with an
    /// [`Error::Io`] naming `path`). A corrupt file found at `build()` is moved aside to
    /// `<path>.corrupt-<unix seconds>` and the store starts empty; a file that exists but cannot
    /// be read is left in place and saving is suspended, so that it is not overwritten. Failures (at build or of a save) go
    /// to [`on_persist_error`](StoreBuilder::on_persist_error), to
    /// [`Store::persistence_status`], and (saves) to
    /// [`Stats::save_failures`](crate::Stats::save_failures). See the crate docs,
    /// "Snapshots".
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::{Store, Value};
    ///
    /// let dir = std::env::temp_dir().join(format!("skv-doc-persist-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("sessions.snap");
    ///
    /// let store = Store::builder().persist(&path, Duration::from_secs(30)).build();
    /// store.set_with_ttl("session:abc", "bob", Duration::from_secs(3600));
    /// drop(store); // the last handle: saved before `drop` returns
    ///
    /// // After a restart:
    /// let store = Store::builder().persist(&path, Duration::from_secs(30)).build();
    /// assert_eq!(store.get("session:abc"), Some(Value::from("bob")));
    /// assert_eq!(store.persistence_status().unwrap().loaded, Some(1));
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn persist(mut self, path: impl Into<PathBuf>, interval: Duration) -> Self {
        self.persist.target = Some((path.into(), interval.max(Duration::from_millis(1))));
        self
    }

    /// Called with every persistence failure: a snapshot file that could not be loaded at
    /// `build()`, and every failed save (periodic, [`save_now`](Store::save_now), or the save
    /// at the last drop, which nothing else can report). Called on the thread that hit the
    /// failure, with no lock of the store held (it may call `save_now` or
    /// `persistence_status`); a panic in it is caught (and counted in
    /// [`Stats::listener_panics`](crate::Stats::listener_panics)). Default: none. The callback
    /// must not own a handle of the store itself: the store owns the callback, so that cycle
    /// would keep the store alive forever (and it would never run its save at the last drop).
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let store = Store::builder()
    ///     .persist("/nonexistent-dir/store.snap", Duration::from_secs(30))
    ///     .on_persist_error(|e| eprintln!("persistence: {e}"))
    ///     .build();
    /// store.set("k", 1);
    /// assert!(store.save_now().unwrap().is_err()); // and the callback saw it
    /// assert_eq!(store.stats().save_failures, 1);
    /// ```
    pub fn on_persist_error(mut self, f: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.persist.on_error = Some(std::sync::Arc::new(f));
        self
    }

    /// Builds the store as [`build`](StoreBuilder::build) does, but fails if its persistence
    /// cannot work: a store built with [`persist`](StoreBuilder::persist) whose directory a
    /// save cannot write into (missing, not a directory, no permission, read-only) is
    /// [`Error::Io`] naming the snapshot path, the step and the operating system's error; one
    /// whose snapshot file was found at build but could not be read, and was left in place
    /// (saving would be suspended), is that file's error ([`Error::Io`], or
    /// [`Error::Corrupt`] if it could not even be moved aside). A corrupt file that was moved
    /// aside is not a failure: the store starts empty, as with `build`, and
    /// [`Store::persistence_status`] says where the file went. The check creates and removes
    /// a temporary file beside the path, as a save does.
    ///
    /// `build` does the same checks but cannot fail: it reports these errors to
    /// [`on_persist_error`](StoreBuilder::on_persist_error) and in
    /// [`Store::persistence_status`] (an unwritable directory as `last_error`, with `failing`
    /// set), and goes on; every save then fails the same way until the directory can be
    /// written. `try_build` reports them to the callback too. Without `persist`, `try_build`
    /// is `Ok(build())`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::{Error, Store};
    ///
    /// let built = Store::builder()
    ///     .persist("/nonexistent-dir/store.snap", Duration::from_secs(30))
    ///     .try_build();
    /// match built {
    ///     Err(Error::Io { path, .. }) => assert_eq!(path, "/nonexistent-dir/store.snap"),
    ///     other => panic!("{other:?}"),
    /// }
    ///
    /// let dir = std::env::temp_dir().join(format!("skv-doc-try-build-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let store = Store::builder()
    ///     .persist(dir.join("store.snap"), Duration::from_secs(30))
    ///     .try_build()
    ///     .unwrap();
    /// store.set("k", 1);
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn try_build(self) -> Result<Store> {
        let store = self.build();
        match store
            .inner
            .persistence
            .as_ref()
            .and_then(Persistence::unusable)
        {
            Some(err) => Err(err),
            None => Ok(store),
        }
    }
}

impl Store {
    /// Saves the store to its persistence file now, whether or not anything changed, and
    /// returns the result; `None` if the store was built without
    /// [`persist`](StoreBuilder::persist). Waits for a periodic save in progress first. A
    /// failure is also counted, recorded and reported as for periodic saves. Useful at a
    /// graceful shutdown, to see the final save's result (the save at the last drop can only
    /// report it to the callback).
    ///
    /// ```
    /// use std::time::Duration;
    /// use scriptling_kv::Store;
    ///
    /// let dir = std::env::temp_dir().join(format!("skv-doc-save-now-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let store = Store::builder().persist(dir.join("s.snap"), Duration::from_secs(60)).build();
    /// store.set("k", 1);
    /// assert_eq!(store.save_now().unwrap(), Ok(1));
    /// assert_eq!(Store::new().save_now(), None);
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn save_now(&self) -> Option<Result<usize>> {
        let p = self.inner.persistence.as_ref()?;
        p.save_now(&self.inner)
    }

    /// The persistence file and how saving it is going (see [`PersistenceStatus`]); `None` if
    /// the store was built without [`persist`](StoreBuilder::persist). Never waits for a save
    /// in progress.
    pub fn persistence_status(&self) -> Option<PersistenceStatus> {
        self.inner.persistence.as_ref().map(Persistence::status)
    }
}
