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
//!   judged with the one liveness rule (`Entry::observe`, `engine::entry`): its slot and deadline
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

mod decode;
mod file;
mod format;
mod persist;

pub(crate) use file::{load_from, save_to};
pub use persist::PersistenceStatus;
pub(crate) use persist::{start, LastHandle, PersistOptions, Persisted, Persistence};

#[cfg(test)]
mod tests {
    use std::fs::{self, File};
    use std::io::Write as _;

    use super::file::*;
    use super::format::*;
    use crate::engine::clock::NEVER;
    use crate::error::Error;
    use crate::value::Value;

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
