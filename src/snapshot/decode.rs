//! Reading a snapshot file: the whole file is validated (structure, lengths, CRC) and decoded
//! into records before anything is applied, with memory bounded by the file's size (module docs of
//! `snapshot`, "Memory while loading"), and values decoded without recursion.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};
use crate::snapshot::format::*;
use crate::value::Value;

/// One decoded record.
pub(crate) struct Record {
    pub(crate) key: String,
    /// As in the file: wall-clock Unix nanoseconds, or [`NO_DEADLINE`].
    pub(crate) deadline: u64,
    pub(crate) value: Value,
}

/// Decoded records. Their values are disposed of without deep recursion if they are dropped
/// here (a load that fails, or is interrupted).
pub(crate) struct Records(pub(crate) Vec<Record>);

impl Drop for Records {
    fn drop(&mut self) {
        for r in self.0.drain(..) {
            r.value.dispose();
        }
    }
}

/// The snapshot being decoded: a buffered reader that counts the offset, checks every length
/// against what is left of the file for it, and keeps the CRC of what it consumed.
pub(crate) struct Input<'p> {
    pub(crate) reader: BufReader<File>,
    pub(crate) path: &'p Path,
    /// Offset of the next byte.
    pub(crate) pos: u64,
    /// The file's length when it was opened.
    pub(crate) len: u64,
    /// Bytes of the rest of the file already spoken for: the smallest encoding of every element
    /// the open containers still expect and have not started (1 byte per list element, 2 per
    /// dict entry). A new length must fit in what is left after them ([`Input::room`]), so the
    /// capacity reserved for all the open containers together never exceeds the file's size
    /// (module docs, "Loading").
    pub(crate) promised: u64,
    pub(crate) crc: Crc32c,
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
pub(crate) fn read_snapshot(path: &Path) -> Result<Records> {
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
pub(crate) enum Frame {
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
pub(crate) const LIST_ITEM_MIN: u64 = 1;
/// The smallest encoding of a dict entry (an empty key's length byte and a tag byte).
pub(crate) const DICT_ITEM_MIN: u64 = 2;

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
pub(crate) struct Frames(Vec<Frame>);

impl Drop for Frames {
    fn drop(&mut self) {
        while let Some(frame) = self.0.pop() {
            frame.dispose();
        }
    }
}

/// Decodes one value, with an explicit stack of open containers (any depth, no recursion).
pub(crate) fn decode_value(input: &mut Input<'_>) -> Result<Value> {
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
