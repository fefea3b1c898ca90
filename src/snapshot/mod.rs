//! Snapshots: the store's live keys, values and TTLs in a file that survives a restart
//! ([`Store::save`], [`Store::load`]), and periodic persistence on top of them
//! ([`StoreBuilder::persist`]).
//!
//! # What a snapshot guarantees
//!
//! - **Whole or nothing, on both sides.** [`Store::save`] replaces the target file atomically: a
//!   reader of the path, and the path after a crash or a power loss at any instant, sees the
//!   previous file or the new one, complete, never a mix or a prefix. [`Store::load`] validates
//!   the entire file (magic, version, every length, every record, the record count and the
//!   checksum) before it sets a single key: a truncated, corrupted or foreign file is
//!   [`Error::Corrupt`] (with the byte offset and the reason) and the store is left exactly as
//!   it was.
//! - **Exact values.** Every [`Value`] reads back identical: `Int` stays `Int` (all of `i64`),
//!   `Float` keeps its bits (NaN payloads, `-0.0`, infinities), `Bytes` stay bytes (empty,
//!   non-UTF-8), `Str` stays a string, `List`s and `Dict`s nest to any depth (encoding and
//!   decoding use an explicit stack on the heap, never recursion, so a value 100,000 levels deep
//!   saves and loads on a 2 MiB thread).
//! - **TTLs count the downtime.** A deadline is written as a wall-clock instant (Unix
//!   nanoseconds), converted from the store's monotonic clock with one pair of readings taken
//!   when the save starts (`wall = deadline - now_monotonic + now_wall`). `load` skips a key whose
//!   instant has passed and gives every other key its remaining time (`instant - now_wall`), so a
//!   session with 10 minutes left that sat 4 minutes in a file comes back with 6. Keys without a
//!   TTL stay without one. The mapping trusts the system clock: if it is stepped while the
//!   process is down, every remaining TTL moves by the step.
//! - **Not a point-in-time copy; consistent per key, like [`Store::keys`].** A save walks the
//!   table while readers and writers go on. Every key that is live for the whole save is in the
//!   file, no key that is absent for the whole save is, and a key that changes during the save
//!   may or may not be (with its value and TTL from before or after the change). Each key is
//!   judged with the one liveness rule (`Entry::observe`, `entry.rs`): its slot and deadline
//!   are loaded, the clock is read after them, and the key is written only if its deadline is
//!   after that reading, so every key written was live at an instant of the save, with the
//!   value and deadline it had at that instant. (A small integer is a counter whose value lives
//!   in a cell `incr` changes in place: its value is read after its deadline, and is written only
//!   if the deadline is still the same afterwards; otherwise the key is judged again.)
//!   `keys` judges its whole walk against one reading at the end, which needs the walk's
//!   results in memory; a save streams, so it reads the clock once per key that has a TTL
//!   (never for keys without one), as every single-key read does.
//!
//!   One corner: a key deleted and re-created while the walk runs can be met twice (its old
//!   entry, then the new one further along), so a snapshot may hold a key twice. The later
//!   record is the later state, and `load` applies records in file order, so the newer one wins.
//!   Both count in `save`'s and `load`'s results.
//!
//! # A crash at any instant
//!
//! `save` writes to a temporary file in the target's directory, named
//! `.<target name>.tmp-<pid>-<sequence>-<attempt>` and created with `O_EXCL` (a name nobody else
//! holds), mode 0600 on Unix (snapshots hold sessions and tokens). It streams the records through a buffered
//! writer, `fsync`s the file, renames it over the target, and `fsync`s the directory. So:
//!
//! - killed (or the machine lost) before the rename: the target is untouched (the old snapshot,
//!   or no file); a stray temporary file may be left next to it, which nothing reads and which
//!   is safe to delete (a store built with `persist` deletes those whose saver is provably
//!   gone: "Temporary files" below);
//! - killed after the rename: the new file is in place, complete (its contents were on disk
//!   before the rename was issued);
//! - power lost between the rename and the directory's `fsync`: after reboot the directory holds
//!   the old entry or the new one, each naming a complete file;
//! - any error (a full disk, a read-only directory): the temporary file is removed, the target
//!   is untouched, and `save` returns [`Error::Io`] naming the target path, the step and the
//!   operating system's error.
//!
//! `tests/snapshot_crash.rs` kills a saving child process with `SIGKILL` at random instants, dozens
//! of times, and checks that the file is always exactly one generation the child wrote.
//!
//! # Temporary files
//!
//! A save holds an exclusive lock on its temporary file (`File::lock`: `flock` on Unix,
//! `LockFileEx` on Windows) from the instant it creates it until the file is renamed over the
//! target or removed after an error, and writes the snapshot's magic number into it first. The
//! operating system releases the lock when the saving process dies, however it dies, and a
//! lock is seen by every process using the file system, whatever PID namespace it runs in
//! (containers sharing a volume). So at `build()`, a store with
//! [`persist`](StoreBuilder::persist) removes a file beside its path only if its name is
//! exactly a save's (`.<name>.tmp-<n>-<n>-<n>`), it is a regular file that starts with the
//! magic number, and it can take the file's lock (then, holding it, it checks that the name
//! still names that file, and removes it before unlocking). A live save's file is locked; a
//! user's file of that name that is not a snapshot does not start with the magic number;
//! neither is touched (a snapshot a user copies to a save's temporary name, and does not keep
//! open, is indistinguishable from a leftover, and is removed). Never
//! judged by a process id (an older rule removed files whose pid `/proc` did not list, which
//! under PID namespaces removed live savers' files). Two leftovers are kept: an empty file
//! of a save killed between creating it and writing its first bytes (0 bytes), and, where the
//! platform cannot lock files, every leftover. A save waits for the lock of the file it just
//! created only while a cleanup looks at it (the cleanup sees no magic number yet and leaves
//! it), so neither removes what the other uses.
//!
//! # A save racing writers and readers
//!
//! A save takes no lock of the store: it walks the table with `Table::for_each` (flurry's
//! iterator, under the table's guard for the walk) and reads each slot under a crossbeam-epoch
//! pin, re-pinned every [`BATCH`] keys as `keys` does, so retired values are reclaimed while a
//! long save runs. Readers and writers never wait for it; a writer replaces a slot the save is
//! reading as usual (the save keeps reading the old version, which stays alive until it
//! unpins). What a save holds back: table nodes retired during the walk (flurry's guard is held
//! for the whole walk, as for `keys` and `clear`), and, while it copies one value out, the
//! reclamation of values retired meanwhile anywhere in the process (as a `get_with` closure does).
//! A record of 256 KiB or more is written to the file with the thread unpinned.
//!
//! **Memory while saving** is one encoded value (the record being written, in a reused buffer,
//! shrunk back after a value of more than 1 MiB), the writer's 64 KiB buffer, and for a nested
//! value its encoding stack (a few words per open container): never a copy of the store.
//! Measured (`tests/snapshot_memory.rs`, counting allocator): 64 KiB above the store while
//! saving 1M keys (a 291 MiB store), and 4.1 MiB with 4 MiB values in it.
//!
//! **Time**: about 1.3–1.9 s per million small keys on the 2-core benchmark machine
//! (`benches/snapshot.rs`), almost all of it the walk itself (flurry's iterator and the visit of
//! each entry: cache misses); the `fsync`s add little. A reader/writer on the other core saw
//! no worse stall during a save than while that core ran work unrelated to the store.
//!
//! # Caveats
//!
//! - The rename replaces whatever the target path names: a symbolic link there is replaced by
//!   the file, not followed.
//! - Two saves to one path (two stores, or two processes) each leave a whole file; the last
//!   rename wins.
//! - A save needs room for a second copy of the file beside the first until the rename.
//!
//! # Loading
//!
//! `load` runs in two phases: it decodes the whole file into memory (one `(key, deadline, value)`
//! per record) while validating it, checks the trailer, and only then grows the table once for
//! all the records and applies them with blind writes (`set` with the remaining TTL). The values
//! are moved into the store, not copied, so what a load holds above what the loaded store holds
//! anyway is the records' bookkeeping: 64 bytes and a key each (measured: 67 bytes per record at
//! 1M keys, `tests/snapshot_memory.rs`). `load` merges: keys not in the snapshot are left
//! alone, keys in it are overwritten. It is not atomic for concurrent readers: they may see
//! some of the snapshot's keys set and others not yet.
//!
//! **Memory while loading is bounded by the file's size**, whatever its bytes say: decoding a
//! file of `L` bytes never holds more than `320 * L + 128 KiB` at once (`C = 320` bytes per
//! byte of the file, `K = 128 KiB`, most of it the reader's 64 KiB buffer), valid or not, and a
//! file that fails to decode is refused before anything is applied. The rule: every length is
//! checked against the *room left for it* before anything is allocated for it, which is the
//! rest of the file less the smallest encoding of every element the enclosing containers still
//! expect (1 byte per list element, 2 per dict entry; the decoder keeps their sum as it opens
//! and fills containers). A list or dict then reserves room for exactly its count, which those
//! bytes back and no other container counts on, so all the open containers together never
//! reserve more element slots than the file has bytes (an older rule checked each count against
//! the end of the file alone, and a 294 KiB file of nested list headers reserved 2.3 GiB). What
//! makes up `C`: a decoded dict of one entry is a B-tree leaf of 632 bytes for 3 bytes of the
//! file (211 per byte, the costliest value); a list element's slot is 32 bytes for at least 1;
//! an open container's frame is 64 bytes (twice that while the stack grows) for at least 2; a
//! record's bookkeeping 64 bytes for at least 11. Measured worst (`tests/decode_memory.rs`,
//! counting allocator, over crafted headers declaring the most at every level, deep nesting,
//! every truncation of nested values): 245 bytes per byte, for dicts of one entry nested 5,000
//! deep, a valid file; crafted invalid files hold at most 33 per byte.
//!
//! # The format, version 1
//!
//! All integers are little-endian. `uvarint` is an unsigned LEB128 varint (7 bits per byte, low
//! groups first, high bit set on every byte but the last; at most 10 bytes; the shortest
//! encoding only). A `str` is `uvarint length` + that many bytes of UTF-8.
//!
//! ```text
//! offset  size  field
//! 0       8     magic            "SKVSNAP\0" (53 4B 56 53 4E 41 50 00)
//! 8       4     version          u32 = 1
//! 12      8     created          u64: wall-clock time the save started, Unix nanoseconds
//! 20      ...   records          each: 0x01, key: str, deadline: u64, value
//! ...     1     end marker       0x00
//!         8     count            u64: number of records
//!         4     checksum         u32: CRC-32C (Castagnoli) of every byte before it
//! ```
//!
//! `deadline` is the instant the key expires in Unix nanoseconds, or `u64::MAX` for a key
//! without a TTL. A `value` is a tag byte and its payload:
//!
//! ```text
//! 0x00 Null
//! 0x01 Bool false          0x02 Bool true
//! 0x03 Int                 i64 (8 bytes)
//! 0x04 Float               u64 (8 bytes): the f64's bits
//! 0x05 Str                 str
//! 0x06 Bytes               uvarint length, then the bytes
//! 0x07 List                uvarint n, then n values
//! 0x08 Dict                uvarint n, then n times (key: str, value); keys strictly ascending
//!                          in byte order (no duplicates)
//! ```
//!
//! The file ends right after the checksum. A reader must reject: a wrong magic, another version,
//! an unknown record marker or value tag, a length that runs past the end of the file (or a
//! count that does: a list's `n` needs `n` bytes at least, a dict's `2n`, and these must fit in
//! what the enclosing containers' other elements leave, at their smallest; a valid file always
//! passes, and a reader that checks it reserves no more than the file can back), invalid
//! UTF-8, dict keys out of order, a count that is not the number of records, a checksum
//! mismatch, and bytes after the checksum. The CRC-32C here is the common one (iSCSI, ext4,
//! `crc32c` in most libraries): reflected polynomial `0x82F63B78`, initial value and final XOR
//! `0xFFFFFFFF`; `crc32c(b"123456789") == 0xE3069283`. A later format gets a new version number.
//!
//! # Periodic persistence
//!
//! [`StoreBuilder::persist(path, interval)`](StoreBuilder::persist) makes the store:
//!
//! - load `path` at `build()` if it exists. A corrupt file is moved aside to
//!   `<path>.corrupt-<unix seconds>` (kept, never overwritten) and the store starts empty; a file
//!   that exists but cannot be read (permissions, an I/O error, a directory) is left where it is
//!   and saving is suspended for this store, so that nothing overwrites it. Either way the error
//!   goes to the [`on_persist_error`](StoreBuilder::on_persist_error) callback and into
//!   [`Store::persistence_status`];
//! - save every `interval` on a thread of its own (`scriptling-kv-persist`, which holds only a
//!   weak reference, like the cleaner), **if anything changed** since the last successful save;
//! - save when the last `Store` handle is dropped (on the dropping thread, before `drop`
//!   returns, after any periodic save in progress finishes), if anything changed.
//!
//! "Changed" is a count of writes, kept only by stores with persistence: every committed write
//! (a new value, a TTL change, a delete, an in-place `incr`, a `clear`'s removal) adds one to a
//! per-thread stripe of 16 cache-padded counters (a `Release` add on a line the thread owns; no
//! shared line is written). A save reads the sum (`Acquire`) before it walks: a write counted in
//! that sum happened before the walk, which therefore sees it; a write not counted makes the
//! next sum differ, and the next tick saves again. A store without persistence pays one
//! predictable branch per write. Expired keys removed by the cleaner do not count (they are
//! absent from a snapshot either way). Measured: 11–12 more instructions per write (callgrind:
//! an in-place `incr` 514 → 525, a `set` 781 → 793); in time (`benches/snapshot.rs`,
//! "tracking", on a busy 2-core machine) the locked add costs an in-place `incr` (60–95 ns)
//! about 4–11 ns, and `set`/`set_with_ttl` nothing measurable above the noise. A load-only
//! "dirty" flag would cost less, but
//! it is only sound if every commit is a `SeqCst` operation, and flurry's inserts and the
//! in-place counter CAS are `AcqRel`; the counter's Release/Acquire pairing needs nothing of
//! them.
//!
//! A failed save is counted in [`Stats::save_failures`](crate::Stats::save_failures), recorded
//! in [`Store::persistence_status`] (with the time of the last success) and passed to the
//! callback. [`Store::save_now`] saves at once and returns the result.
//!
//! # The test clock
//!
//! A store on a [`TestClock`](crate::TestClock) maps its clock to wall time as
//! `UNIX_EPOCH + elapsed`: a snapshot saved when the test clock reads `T1` holds deadlines as
//! `T1 + remaining`, and a store whose test clock reads `T2` loads them with `T1 + remaining -
//! T2` left. So a test controls the time that passes between a save and a load exactly. (A
//! real-clock store loading such a file sees every deadline in 1970, long passed.)

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_epoch::Guard;
use crossbeam_utils::CachePadded;

use crate::engine::clock::{Clock, NEVER};
use crate::engine::entry::{deadline_of, Entry, Observed};
use crate::engine::expiry::BATCH;
use crate::engine::sync::std_only::{Arc, Condvar, Mutex, Weak};
use crate::error::{Error, Result};
use crate::store::{Inner, Store, StoreBuilder};
use crate::value::Value;

/// The first eight bytes of every snapshot.
const MAGIC: [u8; 8] = *b"SKVSNAP\0";
/// The format version this build writes and reads.
const VERSION: u32 = 1;
/// A record follows.
const RECORD: u8 = 0x01;
/// The trailer follows.
const END: u8 = 0x00;
/// The deadline of a key without a TTL.
const NO_DEADLINE: u64 = u64::MAX;

const TAG_NULL: u8 = 0x00;
const TAG_FALSE: u8 = 0x01;
const TAG_TRUE: u8 = 0x02;
const TAG_INT: u8 = 0x03;
const TAG_FLOAT: u8 = 0x04;
const TAG_STR: u8 = 0x05;
const TAG_BYTES: u8 = 0x06;
const TAG_LIST: u8 = 0x07;
const TAG_DICT: u8 = 0x08;

/// Size of the file writer's and reader's buffers.
const IO_BUFFER: usize = 64 << 10;
/// Records at least this large are written with the thread unpinned.
const UNPINNED_WRITE: usize = 256 << 10;
/// The record buffer is shrunk back to [`IO_BUFFER`] after a record larger than this.
const SHRINK_ABOVE: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// CRC-32C

/// CRC-32C (Castagnoli; reflected polynomial `0x82F63B78`), slice-by-8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc32c(u32);

/// The reflected Castagnoli polynomial.
const CRC_POLY: u32 = 0x82F6_3B78;

/// `TABLES[0]` is the byte-at-a-time table; `TABLES[k][b]` is the CRC of byte `b` followed by
/// `k` zero bytes, for slice-by-8.
static CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC_POLY
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut j = 1;
        while j < 8 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            j += 1;
        }
        i += 1;
    }
    t
}

impl Crc32c {
    pub(crate) fn new() -> Self {
        Crc32c(!0)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let t = &CRC_TABLES;
        let mut c = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for ch in &mut chunks {
            let lo = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) ^ c;
            let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
            c = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xff) as usize]
                ^ t[2][((hi >> 8) & 0xff) as usize]
                ^ t[1][((hi >> 16) & 0xff) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &b in chunks.remainder() {
            c = t[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    pub(crate) fn finish(self) -> u32 {
        !self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding

fn put_uvarint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A length-prefixed byte string (`str` and `Bytes`).
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_uvarint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends the encoding of `root` to `out`, with an explicit stack of open containers (any
/// depth, no recursion).
fn encode_value(root: &Value, out: &mut Vec<u8>) {
    enum Open<'a> {
        List(std::slice::Iter<'a, Value>),
        Dict(std::collections::btree_map::Iter<'a, String, Value>),
    }
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut next = Some(root);
    loop {
        if let Some(v) = next.take() {
            match v {
                Value::Null => out.push(TAG_NULL),
                Value::Bool(false) => out.push(TAG_FALSE),
                Value::Bool(true) => out.push(TAG_TRUE),
                Value::Int(n) => {
                    out.push(TAG_INT);
                    out.extend_from_slice(&n.to_le_bytes());
                }
                Value::Float(x) => {
                    out.push(TAG_FLOAT);
                    out.extend_from_slice(&x.to_bits().to_le_bytes());
                }
                Value::Str(s) => {
                    out.push(TAG_STR);
                    put_bytes(out, s.as_bytes());
                }
                Value::Bytes(b) => {
                    out.push(TAG_BYTES);
                    put_bytes(out, b);
                }
                Value::List(items) => {
                    out.push(TAG_LIST);
                    put_uvarint(out, items.len() as u64);
                    if !items.is_empty() {
                        stack.push(Open::List(items.iter()));
                    }
                }
                Value::Dict(map) => {
                    out.push(TAG_DICT);
                    put_uvarint(out, map.len() as u64);
                    if !map.is_empty() {
                        stack.push(Open::Dict(map.iter()));
                    }
                }
            }
        }
        // The next value to encode: the next element of the innermost open container.
        match stack.last_mut() {
            None => return,
            Some(Open::List(items)) => match items.next() {
                Some(v) => next = Some(v),
                None => {
                    stack.pop();
                }
            },
            Some(Open::Dict(entries)) => match entries.next() {
                Some((k, v)) => {
                    put_bytes(out, k.as_bytes());
                    next = Some(v);
                }
                None => {
                    stack.pop();
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Time

/// One pair of readings: the store's clock and the wall clock (Unix nanoseconds), taken
/// together. On a test clock the wall clock is `UNIX_EPOCH + elapsed` (module docs).
#[derive(Debug, Clone, Copy)]
struct TimeBase {
    mono: u64,
    wall: u64,
}

impl TimeBase {
    fn now(clock: &Clock) -> Self {
        let mono = clock.now();
        match clock {
            Clock::Real(_) => TimeBase {
                mono,
                wall: unix_nanos(SystemTime::now()),
            },
            #[cfg(any(feature = "test-util", test))]
            Clock::Test(_) => TimeBase { mono, wall: mono },
        }
    }

    /// A deadline on the store's clock as a file deadline (wall clock, or [`NO_DEADLINE`]).
    fn file_deadline(self, deadline: u64) -> u64 {
        if deadline == NEVER {
            return NO_DEADLINE;
        }
        self.wall
            .saturating_add(deadline.saturating_sub(self.mono))
            .min(NO_DEADLINE - 1)
    }

    /// A file deadline as a deadline on the store's clock; `None` if it has passed.
    fn store_deadline(self, deadline: u64) -> Option<u64> {
        if deadline == NO_DEADLINE {
            return Some(NEVER);
        }
        let left = deadline.checked_sub(self.wall).filter(|&d| d > 0)?;
        Some(self.mono.saturating_add(left).min(NEVER - 1))
    }
}

/// Nanoseconds since the Unix epoch (0 before it, saturating far after it).
fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1))
}

// ---------------------------------------------------------------------------------------------
// Errors

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn io_error(path: &Path, op: &str, err: &io::Error) -> Error {
    Error::Io {
        path: display(path),
        op: op.to_owned(),
        reason: err.to_string(),
        kind: err.kind(),
    }
}

fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: display(path),
        offset,
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Saving

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

/// A buffered writer that keeps the CRC of everything written through it.
struct Out {
    file: BufWriter<File>,
    crc: Crc32c,
}

impl Out {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.file.write_all(bytes)
    }
}

/// Where a save's temporary file goes, and its name.
fn temp_path(path: &Path, attempt: u64) -> Option<PathBuf> {
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
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A save's temporary file, locked (module docs, "Temporary files").
struct Temp {
    path: PathBuf,
    file: File,
    /// A second handle on the same open file, holding its exclusive lock until the save is
    /// over: after the rename, or after the file is removed on an error (`None` where the
    /// platform cannot lock files).
    lock: Option<File>,
}

/// Creates a fresh temporary file beside `path` (a name nobody holds: `O_EXCL`) and locks it.
fn create_temp(path: &Path) -> Result<Temp> {
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
enum Locked {
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
fn lock_new_temp(tmp: &Path, file: &File) -> io::Result<Locked> {
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
fn is_named(file: &File, path: &Path) -> io::Result<bool> {
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

/// `Store::save` on the store's inner state (also the persistence saves).
pub(crate) fn save_to(inner: &Inner, path: &Path) -> Result<usize> {
    let Temp {
        path: tmp,
        file,
        lock,
    } = create_temp(path)?;
    let result = write_and_replace(inner, path, &tmp, file);
    if result.is_err() {
        // Best effort: the error already says what went wrong. Removed while still locked, so
        // that nothing but this save's own file can be removed under this name.
        let _ = fs::remove_file(&tmp);
    }
    // Unlocked only now: renamed over `path`, or removed.
    drop(lock);
    result
}

fn write_and_replace(inner: &Inner, path: &Path, tmp: &Path, file: File) -> Result<usize> {
    let mut out = Out {
        file: BufWriter::with_capacity(IO_BUFFER, file),
        crc: Crc32c::new(),
    };
    let count = write_snapshot(inner, &mut out)
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
fn write_snapshot(inner: &Inner, out: &mut Out) -> io::Result<u64> {
    let base = TimeBase::now(&inner.clock);
    let mut header = Vec::with_capacity(20);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&base.wall.to_le_bytes());
    out.put(&header)?;
    // Into the file at once: a temporary file that starts with the magic number is one a save
    // made, which is one of the things cleanup checks before it removes it.
    out.file.flush()?;

    let table = &inner.table;
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
            &inner.clock,
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
fn copy_out(
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

/// `Store::load` on the store's inner state.
pub(crate) fn load_from(inner: &Inner, path: &Path) -> Result<usize> {
    let records = read_snapshot(path)?;
    Ok(apply(inner, records))
}

/// One decoded record.
struct Record {
    key: String,
    /// As in the file: wall-clock Unix nanoseconds, or [`NO_DEADLINE`].
    deadline: u64,
    value: Value,
}

/// Decoded records. Their values are disposed of without deep recursion if they are dropped
/// here (a load that fails, or is interrupted).
struct Records(Vec<Record>);

impl Drop for Records {
    fn drop(&mut self) {
        for r in self.0.drain(..) {
            r.value.dispose();
        }
    }
}

/// Sets every decoded record whose deadline has not passed; returns how many.
fn apply(inner: &Inner, mut records: Records) -> usize {
    inner.table.reserve(records.0.len());
    let base = TimeBase::now(&inner.clock);
    let mut set = 0;
    for Record {
        key,
        deadline,
        value,
    } in records.0.drain(..)
    {
        match base.store_deadline(deadline) {
            Some(deadline) => {
                inner.put(&key, value, deadline);
                set += 1;
            }
            None => value.dispose(),
        }
    }
    set
}

/// The snapshot being decoded: a buffered reader that counts the offset, checks every length
/// against what is left of the file for it, and keeps the CRC of what it consumed.
struct Input<'p> {
    reader: BufReader<File>,
    path: &'p Path,
    /// Offset of the next byte.
    pos: u64,
    /// The file's length when it was opened.
    len: u64,
    /// Bytes of the rest of the file already spoken for: the smallest encoding of every element
    /// the open containers still expect and have not started (1 byte per list element, 2 per
    /// dict entry). A new length must fit in what is left after them ([`Input::room`]), so the
    /// capacity reserved for all the open containers together never exceeds the file's size
    /// (module docs, "Loading").
    promised: u64,
    crc: Crc32c,
}

impl Input<'_> {
    fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// The bytes left in the file for the item being decoded: what the open containers' other
    /// elements need at least is not available to it.
    fn room(&self) -> u64 {
        self.left().saturating_sub(self.promised)
    }

    /// The open containers expect `n` more elements of at least `min_bytes` each.
    fn promise(&mut self, n: usize, min_bytes: u64) {
        self.promised += n as u64 * min_bytes;
    }

    /// One promised element (of at least `min_bytes`) starts: its bytes are its own now.
    fn redeem(&mut self, min_bytes: u64) {
        self.promised = self.promised.saturating_sub(min_bytes);
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> Error {
        corrupt(self.path, offset, reason)
    }

    /// Fails unless `n` more bytes are in the file.
    fn need(&self, n: u64, what: &str) -> Result<()> {
        if n > self.left() {
            return Err(self.corrupt(
                self.pos,
                format!(
                    "truncated: {what} needs {n} byte(s) but the file ends at byte {}",
                    self.len
                ),
            ));
        }
        Ok(())
    }

    fn read_error(&self, e: &io::Error) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.corrupt(
                self.pos,
                "truncated: the file ended early (was it cut while being read?)",
            )
        } else {
            io_error(self.path, "read", e)
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        self.need(N as u64, what)?;
        let mut a = [0u8; N];
        self.reader
            .read_exact(&mut a)
            .map_err(|e| self.read_error(&e))?;
        self.crc.update(&a);
        self.pos += N as u64;
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn uvarint(&mut self, what: &str) -> Result<u64> {
        let at = self.pos;
        let mut n = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.u8(what)?;
            if shift == 63 && b > 1 {
                return Err(self.corrupt(at, format!("{what}: varint overflows 64 bits")));
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 {
                    return Err(self.corrupt(at, format!("{what}: varint is not minimal")));
                }
                return Ok(n);
            }
            shift += 7;
        }
    }

    /// A count or length of items taking at least `min_bytes` each: fails unless they fit in
    /// the room left for them ([`Input::room`]: the rest of the file, less what the enclosing
    /// containers' remaining elements need).
    fn length(&mut self, what: &str, min_bytes: u64) -> Result<usize> {
        let at = self.pos;
        let n = self.uvarint(what)?;
        let room = self.room();
        if n.saturating_mul(min_bytes) > room {
            let reason = if self.promised == 0 {
                format!("{what} is {n}, more than the {room} byte(s) left in the file hold")
            } else {
                format!(
                    "{what} is {n}, more than the {room} byte(s) left for it hold (the file has \
                     {} left, {} of them needed by the enclosing containers' other elements)",
                    self.left(),
                    self.promised
                )
            };
            return Err(self.corrupt(at, reason));
        }
        usize::try_from(n).map_err(|_| self.corrupt(at, format!("{what} is {n}: too large")))
    }

    fn bytes(&mut self, what: &str) -> Result<Vec<u8>> {
        let n = self.length(what, 1)?;
        let mut v = vec![0u8; n];
        self.reader
            .read_exact(&mut v)
            .map_err(|e| self.read_error(&e))?;
        self.crc.update(&v);
        self.pos += n as u64;
        Ok(v)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let at = self.pos;
        let bytes = self.bytes(what)?;
        String::from_utf8(bytes).map_err(|e| {
            self.corrupt(
                at,
                format!(
                    "{what} is not valid UTF-8 (after {} valid bytes)",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }
}

/// Opens, decodes and validates the whole snapshot at `path`. Holds at most `320 * len + 128
/// KiB` at once for a file of `len` bytes, whatever it declares (module docs, "Loading").
fn read_snapshot(path: &Path) -> Result<Records> {
    let file = File::open(path).map_err(|e| io_error(path, "open", &e))?;
    let len = file
        .metadata()
        .map_err(|e| io_error(path, "read the metadata of", &e))?
        .len();
    let mut input = Input {
        reader: BufReader::with_capacity(IO_BUFFER, file),
        path,
        pos: 0,
        len,
        promised: 0,
        crc: Crc32c::new(),
    };
    if len == 0 {
        return Err(input.corrupt(0, "empty file: not a scriptling-kv snapshot"));
    }
    if len < MAGIC.len() as u64 || input.array::<8>("the magic number")? != MAGIC {
        return Err(input.corrupt(
            0,
            "not a scriptling-kv snapshot (the file does not start with \"SKVSNAP\\0\")",
        ));
    }
    let version = u32::from_le_bytes(input.array("the format version")?);
    if version != VERSION {
        return Err(input.corrupt(
            8,
            format!(
                "format version {version} is not supported (this build reads version {VERSION})"
            ),
        ));
    }
    let _created = input.u64("the creation time")?;

    let mut records = Records(Vec::new());
    loop {
        let at = input.pos;
        match input.u8("a record marker")? {
            RECORD => {
                let key = input.string("a key")?;
                let deadline = input.u64("a deadline")?;
                let value = decode_value(&mut input)?;
                records.0.push(Record {
                    key,
                    deadline,
                    value,
                });
            }
            END => break,
            other => {
                return Err(input.corrupt(
                    at,
                    format!("unknown record marker 0x{other:02x} (expected 0x01 or 0x00)"),
                ))
            }
        }
    }
    let count_at = input.pos;
    let count = input.u64("the record count")?;
    let computed = input.crc.finish();
    let checksum_at = input.pos;
    let stored = u32::from_le_bytes(input.array("the checksum")?);
    if stored != computed {
        return Err(input.corrupt(
            checksum_at,
            format!(
                "checksum mismatch: the file says {stored:08x}, its contents give {computed:08x}"
            ),
        ));
    }
    if count != records.0.len() as u64 {
        return Err(input.corrupt(
            count_at,
            format!(
                "the trailer counts {count} records but the file holds {}",
                records.0.len()
            ),
        ));
    }
    let mut extra = [0u8; 1];
    let trailing = input.left() > 0
        || input
            .reader
            .read(&mut extra)
            .map_err(|e| input.read_error(&e))?
            > 0;
    if trailing {
        return Err(input.corrupt(
            input.pos,
            format!(
                "{} unexpected byte(s) after the checksum",
                input.left().max(1)
            ),
        ));
    }
    Ok(records)
}

/// A container being decoded.
enum Frame {
    List {
        left: usize,
        items: Vec<Value>,
    },
    Dict {
        left: usize,
        items: Vec<(String, Value)>,
        /// The key of the value being decoded.
        key: String,
    },
}

/// The smallest encoding of a list element (a tag byte: `Null`, `Bool`).
const LIST_ITEM_MIN: u64 = 1;
/// The smallest encoding of a dict entry (an empty key's length byte and a tag byte).
const DICT_ITEM_MIN: u64 = 2;

impl Frame {
    /// Adds `value`, the element being decoded; `true` if the container is complete. For a dict
    /// with elements left, reads the next key (which must come after the previous one).
    fn add(&mut self, value: Value, input: &mut Input<'_>) -> Result<bool> {
        match self {
            Frame::List { left, items } => {
                items.push(value);
                *left -= 1;
                if *left == 0 {
                    return Ok(true);
                }
                input.redeem(LIST_ITEM_MIN);
                Ok(false)
            }
            Frame::Dict { left, items, key } => {
                items.push((std::mem::take(key), value));
                *left -= 1;
                if *left == 0 {
                    return Ok(true);
                }
                input.redeem(DICT_ITEM_MIN);
                let at = input.pos;
                let next = input.string("a dict key")?;
                if items.last().is_some_and(|(prev, _)| next <= *prev) {
                    return Err(input.corrupt(
                        at,
                        "dict keys are not in strictly ascending order (a duplicate or out of order)",
                    ));
                }
                *key = next;
                Ok(false)
            }
        }
    }

    fn into_value(self) -> Value {
        match self {
            Frame::List { items, .. } => Value::List(items),
            // Keys are strictly ascending: a bulk build.
            Frame::Dict { items, .. } => Value::Dict(items.into_iter().collect()),
        }
    }

    fn dispose(self) {
        match self {
            Frame::List { items, .. } => items.into_iter().for_each(Value::dispose),
            Frame::Dict { items, .. } => items.into_iter().for_each(|(_, v)| v.dispose()),
        }
    }
}

/// The open containers of a value being decoded; disposed of without deep recursion if
/// decoding fails.
struct Frames(Vec<Frame>);

impl Drop for Frames {
    fn drop(&mut self) {
        while let Some(frame) = self.0.pop() {
            frame.dispose();
        }
    }
}

/// Decodes one value, with an explicit stack of open containers (any depth, no recursion).
fn decode_value(input: &mut Input<'_>) -> Result<Value> {
    let mut stack = Frames(Vec::new());
    loop {
        let at = input.pos;
        let mut value = match input.u8("a value tag")? {
            TAG_NULL => Value::Null,
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_INT => Value::Int(i64::from_le_bytes(input.array("an integer")?)),
            TAG_FLOAT => Value::Float(f64::from_bits(input.u64("a float")?)),
            TAG_STR => Value::Str(input.string("a string")?),
            TAG_BYTES => Value::Bytes(input.bytes("a byte string")?),
            // A container's count fits in the room left for it, and its elements are promised
            // their smallest encoding out of the rest of the file (the first starts at once):
            // the capacity reserved here is backed by bytes that no other container counts on.
            TAG_LIST => {
                let n = input.length("a list's length", LIST_ITEM_MIN)?;
                if n == 0 {
                    Value::List(Vec::new())
                } else {
                    input.promise(n - 1, LIST_ITEM_MIN);
                    stack.0.push(Frame::List {
                        left: n,
                        items: Vec::with_capacity(n),
                    });
                    continue;
                }
            }
            TAG_DICT => {
                let n = input.length("a dict's length", DICT_ITEM_MIN)?;
                if n == 0 {
                    Value::Dict(Default::default())
                } else {
                    input.promise(n - 1, DICT_ITEM_MIN);
                    let key = input.string("a dict key")?;
                    stack.0.push(Frame::Dict {
                        left: n,
                        items: Vec::with_capacity(n),
                        key,
                    });
                    continue;
                }
            }
            other => {
                return Err(input.corrupt(at, format!("unknown value tag 0x{other:02x}")));
            }
        };
        // `value` is complete: add it to its container, closing every container it completes.
        loop {
            let Some(top) = stack.0.last_mut() else {
                return Ok(value);
            };
            if !top.add(value, input)? {
                break;
            }
            value = match stack.0.pop() {
                Some(frame) => frame.into_value(),
                None => Value::Null, // unreachable: `top` was on the stack
            };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Periodic persistence

/// A persistence error callback.
type ErrorCallback = Arc<dyn Fn(&Error) + Send + Sync>;

/// The builder's persistence options.
#[derive(Clone, Default)]
pub(crate) struct PersistOptions {
    /// The snapshot file and the save interval.
    target: Option<(PathBuf, Duration)>,
    on_error: Option<ErrorCallback>,
}

impl fmt::Debug for PersistOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersistOptions")
            .field("target", &self.target)
            .field("on_error", &self.on_error.as_ref().map(|_| "Fn(&Error)"))
            .finish()
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
        self.persist.on_error = Some(Arc::new(f));
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
        if let Some(p) = &store.inner.persistence {
            let status = lock(&p.status);
            if let Some(err) = &status.unwritable {
                return Err(err.clone());
            }
            if status.suspended {
                if let Some(err) = &status.load_error {
                    return Err(err.clone());
                }
            }
        }
        Ok(store)
    }
}

/// What [`Store::persistence_status`] reports: the snapshot file, what happened to it at
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
    path: PathBuf,
    interval: Duration,
    on_error: Option<ErrorCallback>,
    /// Writes committed (module docs, "Periodic persistence").
    changes: Changes,
    /// Held for the whole of each persistence save: one at a time.
    saving: Mutex<()>,
    /// Held only to read or update the status.
    status: Mutex<Status>,
    /// Stops the periodic saver.
    stop: Arc<Stop>,
}

/// What `persistence_status` reports, plus the change count the last save started at.
#[derive(Debug, Clone, Default)]
struct Status {
    loaded: Option<usize>,
    load_error: Option<Error>,
    moved_to: Option<PathBuf>,
    suspended: bool,
    last_save: Option<SystemTime>,
    last_saved_keys: usize,
    saves: u64,
    failures: u64,
    last_error: Option<(SystemTime, Error)>,
    failing: bool,
    /// Why a save could not create its temporary file at build, if it could not
    /// (`StoreBuilder::try_build` fails with it).
    unwritable: Option<Error>,
    /// `Changes::sum` when the last successful save (or the load at build) started.
    saved_at: u64,
}

/// Why a persistence save runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The periodic saver's tick: only if something changed, and not once stopped.
    Periodic,
    /// The last handle was dropped: only if something changed.
    LastDrop,
    /// `save_now`: always.
    Now,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Persistence {
    /// The persistence of a store built with `options` (`None` without `persist`).
    pub(crate) fn new(options: &PersistOptions) -> Option<Self> {
        let (path, interval) = options.target.clone()?;
        Some(Persistence {
            path,
            interval,
            on_error: options.on_error.clone(),
            changes: Changes::new(),
            saving: Mutex::new(()),
            status: Mutex::new(Status::default()),
            stop: Arc::new(Stop::default()),
        })
    }

    /// Passes `err` to the callback, if any, catching a panic in it.
    fn report(&self, inner: &Inner, err: &Error) {
        if let Some(f) = &self.on_error {
            let call = std::panic::AssertUnwindSafe(|| f(err));
            if std::panic::catch_unwind(call).is_err() {
                inner
                    .counters
                    .listener_panics
                    .fetch_add(1, crate::engine::sync::Ordering::Relaxed);
            }
        }
    }

    /// Loads the file at `build()` and checks that saves can write beside it (module docs,
    /// "Periodic persistence").
    fn load_at_build(&self, inner: &Inner) {
        remove_abandoned_temps(&self.path);
        if let Err(err) = check_writable(&self.path) {
            {
                let mut status = lock(&self.status);
                status.last_error = Some((SystemTime::now(), err.clone()));
                status.failing = true;
                status.unwritable = Some(err.clone());
            }
            self.report(inner, &err);
        }
        // No file (its directory may be missing too: reported above).
        let found = !matches!(
            fs::symlink_metadata(&self.path),
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
        );
        let outcome = found.then(|| load_from(inner, &self.path));
        let mut status = lock(&self.status);
        // What the load set is the baseline: nothing to save yet.
        status.saved_at = self.changes.sum();
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
        self.report(inner, &err);
    }

    /// Runs one persistence save for `trigger`; `None` if none was due (nothing changed, or the
    /// saver was stopped). A failure is counted, recorded, and reported to the callback once
    /// the save lock is released (so the callback may call `save_now`).
    fn save(&self, inner: &Inner, trigger: Trigger) -> Option<Result<usize>> {
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
        let result = self.save_locked(inner, trigger)?;
        if let Err(e) = &result {
            inner
                .counters
                .save_failures
                .fetch_add(1, crate::engine::sync::Ordering::Relaxed);
            self.report(inner, e);
        }
        Some(result)
    }

    fn save_locked(&self, inner: &Inner, trigger: Trigger) -> Option<Result<usize>> {
        let _one_at_a_time = lock(&self.saving);
        if trigger == Trigger::Periodic && self.stop.is_stopped() {
            return None;
        }
        let saved_at = lock(&self.status).saved_at;
        // Read before the walk: every write counted here is seen by it (module docs).
        let changes = self.changes.sum();
        if trigger != Trigger::Now && changes == saved_at {
            return None;
        }
        let result = save_to(inner, &self.path);
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

    fn status(&self) -> PersistenceStatus {
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
fn remove_abandoned_temps(path: &Path) -> usize {
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
fn remove_if_abandoned(tmp: &Path) -> bool {
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
fn check_writable(path: &Path) -> Result<()> {
    let Temp {
        path: tmp, lock, ..
    } = create_temp(path)?;
    let removed = fs::remove_file(&tmp);
    drop(lock);
    removed.map_err(|e| io_error(path, "remove a test file beside", &e))
}

/// Moves a snapshot that could not be loaded to `<path>.corrupt-<unix seconds>` (with `-<n>`
/// appended if that exists); the new path, or `None` if it could not be moved.
fn move_aside(path: &Path) -> Option<PathBuf> {
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

impl Inner {
    /// Counts one committed write for periodic persistence (nothing without it). Called by
    /// every path that changes what a snapshot would hold.
    #[inline]
    pub(crate) fn changed(&self) {
        if let Some(p) = &self.persistence {
            p.changes.bump();
        }
    }
}

/// Striped write counters: each thread adds to its own cache-padded stripe.
struct Changes {
    stripes: Box<[CachePadded<AtomicU64>]>,
}

const STRIPES: usize = 16;

impl Changes {
    fn new() -> Self {
        Changes {
            stripes: (0..STRIPES)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    #[inline]
    fn bump(&self) {
        // Release: a save that reads this add (Acquire, in `sum`) sees the write before it.
        self.stripes[stripe()].fetch_add(1, Ordering::Release);
    }

    fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .fold(0u64, |sum, s| sum.wrapping_add(s.load(Ordering::Acquire)))
    }
}

/// This thread's stripe, assigned round-robin on first use.
#[inline]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
                s.set(i);
            }
            i
        })
        .unwrap_or(0)
}

/// The periodic saver's stop signal.
#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
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
    store: Weak<Inner>,
}

impl Drop for LastHandle {
    fn drop(&mut self) {
        let Some(inner) = self.store.upgrade() else {
            return;
        };
        if let Some(p) = &inner.persistence {
            p.stop.stop();
            // Waits for a periodic save in progress, then saves what changed since.
            let _ = p.save(&inner, Trigger::LastDrop);
        }
    }
}

/// Starts the persistence of a store just built (if it has any): loads the file, starts the
/// periodic saver, and returns the token its handles share.
pub(crate) fn start(inner: &Arc<Inner>) -> Option<Arc<LastHandle>> {
    let p = inner.persistence.as_ref()?;
    p.load_at_build(inner);
    let store = Arc::downgrade(inner);
    let stop = p.stop.clone();
    let interval = p.interval;
    let spawned = std::thread::Builder::new()
        .name("scriptling-kv-persist".into())
        .spawn(move || {
            while stop.sleep(interval) {
                let Some(inner) = store.upgrade() else {
                    return;
                };
                if let Some(p) = &inner.persistence {
                    let _ = p.save(&inner, Trigger::Periodic);
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
        p.report(inner, &err);
    }
    Some(Arc::new(LastHandle {
        store: Arc::downgrade(inner),
    }))
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
        p.save(&self.inner, Trigger::Now)
    }

    /// The persistence file and how saving it is going (see [`PersistenceStatus`]); `None` if
    /// the store was built without [`persist`](StoreBuilder::persist). Never waits for a save
    /// in progress.
    pub fn persistence_status(&self) -> Option<PersistenceStatus> {
        self.inner.persistence.as_ref().map(Persistence::status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc(bytes: &[u8]) -> u32 {
        let mut c = Crc32c::new();
        c.update(bytes);
        c.finish()
    }

    /// Bit-at-a-time reference.
    fn crc_reference(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ CRC_POLY
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn crc32c_test_vectors() {
        // The check value of the CRC catalogue, and RFC 3720 (iSCSI) appendix B.4.
        assert_eq!(crc(b"123456789"), 0xE306_9283);
        assert_eq!(crc(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc(&[0xffu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc(&ascending), 0x46DD_794E);
        let descending: Vec<u8> = (0..32).rev().collect();
        assert_eq!(crc(&descending), 0x113F_DB5C);
        assert_eq!(crc(b""), 0);
    }

    #[test]
    fn crc32c_slice_by_8_matches_the_reference_in_any_split() {
        let data: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 100, 1000] {
            let want = crc_reference(&data[..len]);
            assert_eq!(crc(&data[..len]), want, "len {len}");
            for split in [0, 1, 3, 8, len / 2] {
                let split = split.min(len);
                let mut c = Crc32c::new();
                c.update(&data[..split]);
                c.update(&data[split..len]);
                assert_eq!(c.finish(), want, "len {len} split {split}");
            }
        }
    }

    #[test]
    fn uvarints_are_leb128() {
        let cases: [(u64, &[u8]); 6] = [
            (0, &[0]),
            (1, &[1]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (n, want) in cases {
            let mut out = Vec::new();
            put_uvarint(&mut out, n);
            assert_eq!(out, want, "{n}");
        }
    }

    #[test]
    fn the_encoding_of_each_kind_is_the_documented_one() {
        let enc = |v: &Value| {
            let mut out = Vec::new();
            encode_value(v, &mut out);
            out
        };
        assert_eq!(enc(&Value::Null), [0x00]);
        assert_eq!(enc(&Value::Bool(false)), [0x01]);
        assert_eq!(enc(&Value::Bool(true)), [0x02]);
        assert_eq!(
            enc(&Value::Int(-2)),
            [0x03, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            enc(&Value::Float(1.0)),
            [0x04, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]
        );
        assert_eq!(enc(&Value::from("hé")), [0x05, 3, b'h', 0xc3, 0xa9]);
        assert_eq!(enc(&Value::Bytes(vec![0xff])), [0x06, 1, 0xff]);
        assert_eq!(
            enc(&Value::from(vec![Value::Null, Value::from(vec![true])])),
            [0x07, 2, 0x00, 0x07, 1, 0x02]
        );
        let dict = Value::from(std::collections::BTreeMap::from([
            ("b".to_string(), Value::Null),
            ("a".to_string(), Value::Bool(true)),
        ]));
        assert_eq!(enc(&dict), [0x08, 2, 1, b'a', 0x02, 1, b'b', 0x00]);
    }

    #[test]
    fn a_save_holds_the_lock_of_its_temporary_file_until_it_is_renamed_or_removed() {
        let dir = std::env::temp_dir().join(format!("skv-unit-temp-lock-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.snap");
        let Temp {
            path: tmp,
            mut file,
            lock,
        } = create_temp(&path).unwrap();
        assert!(lock.is_some(), "this platform locks files");
        file.write_all(&MAGIC).unwrap();
        file.flush().unwrap();
        // Another handle (another process would be the same) cannot take the lock, and
        // cleanup leaves the file alone, magic number and all.
        let other = File::open(&tmp).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        assert_eq!(remove_abandoned_temps(&path), 0);
        assert!(tmp.exists());
        // The save is gone: its file is abandoned, and removed.
        drop((file, lock, other));
        assert_eq!(remove_abandoned_temps(&path), 1);
        assert!(!tmp.exists());
        // The directory check leaves nothing behind; a missing directory fails naming the path.
        check_writable(&path).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        let missing = dir.join("missing").join("s.snap");
        match check_writable(&missing) {
            Err(Error::Io { path, .. }) => assert_eq!(path, missing.display().to_string()),
            other => panic!("{other:?}"),
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_deadlines_map_through_one_pair_of_readings() {
        let base = TimeBase {
            mono: 1_000,
            wall: 5_000_000,
        };
        assert_eq!(base.file_deadline(NEVER), NO_DEADLINE);
        assert_eq!(base.file_deadline(1_500), 5_000_500);
        assert_eq!(
            base.file_deadline(NEVER - 1),
            5_000_000 + (NEVER - 1 - 1_000)
        );
        let late = TimeBase {
            mono: 0,
            wall: u64::MAX - 10,
        };
        assert_eq!(
            late.file_deadline(NEVER - 1),
            NO_DEADLINE - 1,
            "saturates below 'none'"
        );
        let later = TimeBase {
            mono: 10,
            wall: 5_000_400,
        };
        assert_eq!(later.store_deadline(5_000_500), Some(110));
        assert_eq!(
            later.store_deadline(5_000_400),
            None,
            "due exactly now: expired"
        );
        assert_eq!(later.store_deadline(3), None);
        assert_eq!(later.store_deadline(NO_DEADLINE), Some(NEVER));
        assert_eq!(later.store_deadline(NO_DEADLINE - 1), Some(NEVER - 1));
    }
}
