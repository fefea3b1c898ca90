//! The snapshot format's pieces: the constants of the layout (module docs of `snapshot`,
//! "Format"), CRC-32C, the encoding of a value, the mapping between the store's clock and the
//! file's wall-clock deadlines, and the errors that name a file.

use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::engine::clock::{Clock, NEVER};
use crate::error::Error;
use crate::value::Value;

/// The first eight bytes of every snapshot.
pub(crate) const MAGIC: [u8; 8] = *b"SKVSNAP\0";
/// The format version this build writes and reads.
pub(crate) const VERSION: u32 = 1;
/// A record follows.
pub(crate) const RECORD: u8 = 0x01;
/// The trailer follows.
pub(crate) const END: u8 = 0x00;
/// The deadline of a key without a TTL.
pub(crate) const NO_DEADLINE: u64 = u64::MAX;

pub(crate) const TAG_NULL: u8 = 0x00;
pub(crate) const TAG_FALSE: u8 = 0x01;
pub(crate) const TAG_TRUE: u8 = 0x02;
pub(crate) const TAG_INT: u8 = 0x03;
pub(crate) const TAG_FLOAT: u8 = 0x04;
pub(crate) const TAG_STR: u8 = 0x05;
pub(crate) const TAG_BYTES: u8 = 0x06;
pub(crate) const TAG_LIST: u8 = 0x07;
pub(crate) const TAG_DICT: u8 = 0x08;

/// Size of the file writer's and reader's buffers.
pub(crate) const IO_BUFFER: usize = 64 << 10;
/// Records at least this large are written with the thread unpinned.
pub(crate) const UNPINNED_WRITE: usize = 256 << 10;
/// The record buffer is shrunk back to [`IO_BUFFER`] after a record larger than this.
pub(crate) const SHRINK_ABOVE: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// CRC-32C

/// CRC-32C (Castagnoli; reflected polynomial `0x82F63B78`), slice-by-8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc32c(u32);

/// The reflected Castagnoli polynomial.
pub(crate) const CRC_POLY: u32 = 0x82F6_3B78;

/// `TABLES[0]` is the byte-at-a-time table; `TABLES[k][b]` is the CRC of byte `b` followed by
/// `k` zero bytes, for slice-by-8.
pub(crate) static CRC_TABLES: [[u32; 256]; 8] = crc_tables();

pub(crate) const fn crc_tables() -> [[u32; 256]; 8] {
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

pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A length-prefixed byte string (`str` and `Bytes`).
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_uvarint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends the encoding of `root` to `out`, with an explicit stack of open containers (any
/// depth, no recursion).
pub(crate) fn encode_value(root: &Value, out: &mut Vec<u8>) {
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
pub(crate) struct TimeBase {
    pub(crate) mono: u64,
    pub(crate) wall: u64,
}

impl TimeBase {
    pub(crate) fn now(clock: &Clock) -> Self {
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
    pub(crate) fn file_deadline(self, deadline: u64) -> u64 {
        if deadline == NEVER {
            return NO_DEADLINE;
        }
        self.wall
            .saturating_add(deadline.saturating_sub(self.mono))
            .min(NO_DEADLINE - 1)
    }

    /// A file deadline as a deadline on the store's clock; `None` if it has passed.
    pub(crate) fn store_deadline(self, deadline: u64) -> Option<u64> {
        if deadline == NO_DEADLINE {
            return Some(NEVER);
        }
        let left = deadline.checked_sub(self.wall).filter(|&d| d > 0)?;
        Some(self.mono.saturating_add(left).min(NEVER - 1))
    }
}

/// Nanoseconds since the Unix epoch (0 before it, saturating far after it).
pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1))
}

// ---------------------------------------------------------------------------------------------
// Errors

pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

pub(crate) fn io_error(path: &Path, op: &str, err: &io::Error) -> Error {
    Error::Io {
        path: display(path),
        op: op.to_owned(),
        reason: err.to_string(),
        kind: err.kind(),
    }
}

pub(crate) fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: display(path),
        offset,
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Saving
