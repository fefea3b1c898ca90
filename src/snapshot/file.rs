//! Snapshot files on disk: a save writes a locked temporary file beside the target, syncs it and
//! renames it over the target (so a reader or a crash sees the old file or the new one, never a
//! mix); a load reads and validates the whole file, then applies its records. Leftover temporary
//! files of crashed saves are recognised and removed.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crossbeam_epoch::Guard;

use crate::engine::clock::Clock;
use crate::engine::core::Core;
use crate::engine::entry::{deadline_of, Entry, Observed};
use crate::engine::expiry::BATCH;
use crate::error::{Error, Result};
use crate::snapshot::decode::*;
use crate::snapshot::format::*;

/// A buffered writer that keeps the CRC of everything written through it.
pub(crate) struct Out {
    pub(crate) file: BufWriter<File>,
    pub(crate) crc: Crc32c,
}

impl Out {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.file.write_all(bytes)
    }
}

/// Where a save's temporary file goes, and its name.
pub(crate) fn temp_path(path: &Path, attempt: u64) -> Option<PathBuf> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name()?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".tmp-{}-{}-{attempt}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    Some(path.with_file_name(tmp))
}

/// The directory `path` is in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A save's temporary file, locked (module docs, "Temporary files").
pub(crate) struct Temp {
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    /// A second handle on the same open file, holding its exclusive lock until the save is
    /// over: after the rename, or after the file is removed on an error (`None` where the
    /// platform cannot lock files).
    pub(crate) lock: Option<File>,
}

/// Creates a fresh temporary file beside `path` (a name nobody holds: `O_EXCL`) and locks it.
pub(crate) fn create_temp(path: &Path) -> Result<Temp> {
    let mut attempt = 0;
    loop {
        let Some(tmp) = temp_path(path, attempt) else {
            return Err(Error::Io {
                path: display(path),
                op: "save to".to_owned(),
                reason: "the path has no file name".to_owned(),
                kind: io::ErrorKind::InvalidInput,
            });
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&tmp) {
            Ok(file) => {
                let lock = match lock_new_temp(&tmp, &file) {
                    Ok(Locked::Held(lock)) => Some(lock),
                    Ok(Locked::Unsupported) => None,
                    // Not the file of that name any more (someone removed it): another name.
                    Ok(Locked::Lost) if attempt < 100 => {
                        attempt += 1;
                        continue;
                    }
                    Ok(Locked::Lost) => {
                        let gone = io::Error::other("the temporary files kept disappearing");
                        return Err(io_error(path, "create a temporary file beside", &gone));
                    }
                    Err(e) => {
                        let _ = fs::remove_file(&tmp);
                        return Err(io_error(path, "lock the temporary file for", &e));
                    }
                };
                return Ok(Temp {
                    path: tmp,
                    file,
                    lock,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(io_error(path, "create a temporary file beside", &e)),
        }
    }
}

/// The outcome of locking a temporary file just created.
pub(crate) enum Locked {
    /// The handle that holds the lock.
    Held(File),
    /// The platform cannot lock files (the save goes on without a lock).
    Unsupported,
    /// The name no longer names the file (someone removed it).
    Lost,
}

/// Takes the exclusive lock of the temporary file `file` just created at `tmp`. Waits only for
/// another store's cleanup, which may hold the lock for the instant it takes to see that the
/// file does not start with the magic number yet (and so leaves it alone).
pub(crate) fn lock_new_temp(tmp: &Path, file: &File) -> io::Result<Locked> {
    let lock = file.try_clone()?;
    match lock.lock() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(Locked::Unsupported),
        Err(e) => return Err(e),
    }
    Ok(if is_named(&lock, tmp)? {
        Locked::Held(lock)
    } else {
        Locked::Lost
    })
}

/// Whether `path` names the file `file` is open on (Unix: the same device and inode; elsewhere
/// assumed).
pub(crate) fn is_named(file: &File, path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let open = file.metadata()?;
        match fs::symlink_metadata(path) {
            Ok(named) => Ok(named.dev() == open.dev() && named.ino() == open.ino()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        Ok(true)
    }
}

/// `Store::save` on the store's core state (also the persistence saves).
pub(crate) fn save_to(core: &Core, path: &Path) -> Result<usize> {
    let Temp {
        path: tmp,
        file,
        lock,
    } = create_temp(path)?;
    let result = write_and_replace(core, path, &tmp, file);
    if result.is_err() {
        // Best effort: the error already says what went wrong. Removed while still locked, so
        // that nothing but this save's own file can be removed under this name.
        let _ = fs::remove_file(&tmp);
    }
    // Unlocked only now: renamed over `path`, or removed.
    drop(lock);
    result
}

pub(crate) fn write_and_replace(core: &Core, path: &Path, tmp: &Path, file: File) -> Result<usize> {
    let mut out = Out {
        file: BufWriter::with_capacity(IO_BUFFER, file),
        crc: Crc32c::new(),
    };
    let count = write_snapshot(core, &mut out)
        .map_err(|e| io_error(path, "write the temporary file for", &e))?;
    let file = out
        .file
        .into_inner()
        .map_err(|e| io_error(path, "write the temporary file for", e.error()))?;
    file.sync_all()
        .map_err(|e| io_error(path, "fsync the temporary file for", &e))?;
    drop(file);
    fs::rename(tmp, path).map_err(|e| io_error(path, "rename the temporary file over", &e))?;
    #[cfg(unix)]
    File::open(parent_dir(path))
        .and_then(|dir| dir.sync_all())
        .map_err(|e| io_error(path, "fsync the directory of", &e))?;
    usize::try_from(count).map_err(|_| Error::Io {
        path: display(path),
        op: "save".to_owned(),
        reason: "more records than usize holds".to_owned(),
        kind: io::ErrorKind::Other,
    })
}

/// Streams the header, every live key and the trailer to `out`; returns the record count.
pub(crate) fn write_snapshot(core: &Core, out: &mut Out) -> io::Result<u64> {
    let base = TimeBase::now(&core.clock);
    let mut header = Vec::with_capacity(20);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&base.wall.to_le_bytes());
    out.put(&header)?;
    // Into the file at once: a temporary file that starts with the magic number is one a save
    // made, which is one of the things cleanup checks before it removes it.
    out.file.flush()?;

    let table = &core.table;
    let mut epoch = table.epoch();
    let mut visited = 0usize;
    let mut count = 0u64;
    let mut failed: Option<io::Error> = None;
    let mut record: Vec<u8> = Vec::with_capacity(256);
    table.for_each(|key, entry| {
        if failed.is_some() {
            return; // `for_each` cannot stop early; the rest of the walk is cheap
        }
        visited += 1;
        if visited % BATCH == 0 {
            // Let crossbeam-epoch advance: nothing loaded before this point is kept.
            epoch.repin();
        }
        if !copy_out(
            entry,
            &epoch,
            &core.clock,
            key.as_bytes(),
            base,
            &mut record,
        ) {
            return;
        }
        let written = if record.len() >= UNPINNED_WRITE {
            // The record is a copy; nothing loaded under the pin is used while it is written.
            epoch.repin_after(|| out.put(&record))
        } else {
            out.put(&record)
        };
        match written {
            Ok(()) => count += 1,
            Err(e) => failed = Some(e),
        }
        if record.capacity() > SHRINK_ABOVE {
            record = Vec::with_capacity(IO_BUFFER);
        }
    });
    drop(epoch);
    if let Some(e) = failed {
        return Err(e);
    }
    let mut trailer = [0u8; 9];
    trailer[0] = END;
    trailer[1..].copy_from_slice(&count.to_le_bytes());
    out.put(&trailer)?;
    let checksum = out.crc.finish();
    out.file.write_all(&checksum.to_le_bytes())?;
    Ok(count)
}

/// Encodes the record of `entry` (key `key`) into `record` if the key is live, judged with the
/// one liveness rule; `false` if it is not (dead, or expired at a reading taken after its slot
/// was loaded).
pub(crate) fn copy_out(
    entry: &Entry,
    guard: &Guard,
    clock: &Clock,
    key: &[u8],
    base: TimeBase,
    record: &mut Vec<u8>,
) -> bool {
    loop {
        let Observed::Live { slot, word, .. } = entry.observe(guard, clock) else {
            return false;
        };
        let deadline = deadline_of(word);
        record.clear();
        record.push(RECORD);
        put_bytes(record, key);
        record.extend_from_slice(&base.file_deadline(deadline).to_le_bytes());
        match slot.value() {
            // An ordinary value never changes once published: it and the deadline loaded with
            // it are the key's state at the instant of that load.
            Cow::Borrowed(value) => {
                encode_value(value, record);
                return true;
            }
            // A counter: its cell was read after the deadline word. Keep the pair only if the
            // deadline did not move in place meanwhile (module docs).
            Cow::Owned(value) => {
                encode_value(&value, record);
                if slot.deadline() == deadline {
                    return true;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading

/// `Store::load` on the store's core state.
pub(crate) fn load_from(core: &Core, path: &Path) -> Result<usize> {
    let records = read_snapshot(path)?;
    Ok(apply(core, records))
}

/// Sets every decoded record whose deadline has not passed; returns how many.
pub(crate) fn apply(core: &Core, mut records: Records) -> usize {
    core.table.reserve(records.0.len());
    let base = TimeBase::now(&core.clock);
    let mut set = 0;
    for Record {
        key,
        deadline,
        value,
    } in records.0.drain(..)
    {
        match base.store_deadline(deadline) {
            Some(deadline) => {
                core.put(&key, value, deadline);
                set += 1;
            }
            None => value.dispose(),
        }
    }
    set
}

/// Removes the temporary files that saves to `path` left behind when their process died
/// mid-save; returns how many. A file is removed only if all of these hold (module docs,
/// "Temporary files"):
///
/// - its name is exactly one a save gives (`.<name>.tmp-<n>-<n>-<n>`, decimal numbers);
/// - it is a regular file (not a link), and it starts with the snapshot magic number, which a
///   save writes first, while holding the lock;
/// - its lock can be taken: a save holds an exclusive lock on its temporary file from the
///   instant it creates it until it is renamed or removed, and the operating system releases
///   it only when that save's process is gone, in whatever PID namespace it ran;
/// - with the lock held, the name still names the file that was locked.
///
/// It is removed while locked. Anything else is left alone, and where the platform cannot lock
/// files nothing is removed.
pub(crate) fn remove_abandoned_temps(path: &Path) -> usize {
    let Some(name) = path.file_name() else {
        return 0;
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let ours = file.strip_prefix(&prefix).is_some_and(|rest| {
            let parts: Vec<&str> = rest.split('-').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        });
        if ours && remove_if_abandoned(&entry.path()) {
            removed += 1;
        }
    }
    removed
}

/// Removes the temporary file `tmp` if it is a save's (it starts with the magic number) and
/// nobody holds its lock (see [`remove_abandoned_temps`]); whether it did.
pub(crate) fn remove_if_abandoned(tmp: &Path) -> bool {
    if !fs::symlink_metadata(tmp).is_ok_and(|m| m.file_type().is_file()) {
        return false;
    }
    // Read and write: some network file systems grant an exclusive lock only on a handle open
    // for writing. Nothing is written.
    let Ok(mut file) = OpenOptions::new().read(true).write(true).open(tmp) else {
        return false;
    };
    if file.try_lock().is_err() {
        return false; // a live save holds it (or the platform cannot tell)
    }
    let mut magic = [0u8; 8];
    let abandoned = file.read_exact(&mut magic).is_ok()
        && magic == MAGIC
        && is_named(&file, tmp).unwrap_or(false);
    // Removed before `file`, and with it the lock, is dropped.
    abandoned && fs::remove_file(tmp).is_ok()
}

/// Whether a save to `path` could create its temporary file: creates one (locked, as a save
/// does) and removes it.
pub(crate) fn check_writable(path: &Path) -> Result<()> {
    let Temp {
        path: tmp, lock, ..
    } = create_temp(path)?;
    let removed = fs::remove_file(&tmp);
    drop(lock);
    removed.map_err(|e| io_error(path, "remove a test file beside", &e))
}

/// Moves a snapshot that could not be loaded to `<path>.corrupt-<unix seconds>` (with `-<n>`
/// appended if that exists); the new path, or `None` if it could not be moved.
pub(crate) fn move_aside(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let secs = unix_nanos(SystemTime::now()) / 1_000_000_000;
    for n in 0..1000u32 {
        let suffix = if n == 0 {
            format!("{name}.corrupt-{secs}")
        } else {
            format!("{name}.corrupt-{secs}-{n}")
        };
        let to = path.with_file_name(suffix);
        if fs::symlink_metadata(&to).is_ok() {
            continue;
        }
        return fs::rename(path, &to).ok().map(|()| to);
    }
    None
}
