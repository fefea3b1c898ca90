//! The value encoding, format 1 (documented as a file format in the crate docs, "Encoding").
//!
//! Two properties the rest of the crate relies on:
//!
//! - **Canonical**: [`encode`] is a bijection between values (floats taken by their bits) and the
//!   byte strings [`decode`] accepts. Every accepted byte string re-encodes to itself (minimal
//!   varints, dict keys strictly ascending, no trailing bytes, valid UTF-8), so two stored values
//!   are identical iff their bytes are equal, and a Lua script can compare values by comparing
//!   strings.
//! - **Integers are Redis integers**: a top-level `Int` is its canonical decimal text, exactly what
//!   `INCRBY` reads and writes; every other value starts with a tag byte `>= 0x80`, which never
//!   starts a decimal integer, so `INCRBY` refuses it ("not an integer").
//!
//! Both directions are iterative (an explicit stack on the heap), so a value nested 100,000
//! levels deep encodes and decodes on any thread's stack, like the core crate's `Value`.
//!
//! # Memory
//!
//! [`decode`] of `L` bytes holds at most `320 * L + 1 KiB` at once, whatever the bytes declare
//! (the crate docs, "Encoding", say why; `tests/decode_memory.rs` of the core crate measures
//! it): a container's count must fit in the bytes left after the smallest encoding of what the
//! enclosing containers still expect ([`Reader::count`]), and only then is room reserved for it.

use std::collections::BTreeMap;
use std::fmt;

use scriptling_kv::Value;

/// `Null`.
pub(crate) const TAG_NULL: u8 = 0x80;
/// `Bool(false)`.
pub(crate) const TAG_FALSE: u8 = 0x81;
/// `Bool(true)`.
pub(crate) const TAG_TRUE: u8 = 0x82;
/// `Int` inside a list or dict: zigzag varint. (A top-level `Int` is decimal text instead.)
pub(crate) const TAG_INT: u8 = 0x83;
/// `Float`: 8 bytes, the IEEE-754 bits big-endian.
pub(crate) const TAG_FLOAT: u8 = 0x84;
/// `Str`: UTF-8 bytes (top level: to the end; nested: varint length first).
pub(crate) const TAG_STR: u8 = 0x85;
/// `Bytes`: raw bytes (top level: to the end; nested: varint length first).
pub(crate) const TAG_BYTES: u8 = 0x86;
/// `List`: varint count, then that many nested values.
pub(crate) const TAG_LIST: u8 = 0x87;
/// `Dict`: varint count, then that many (varint key length, UTF-8 key, nested value), keys
/// strictly ascending by bytes.
pub(crate) const TAG_DICT: u8 = 0x88;

/// Why a byte string is not a value of this encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// Byte offset of the problem.
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.reason, self.offset)
    }
}

fn err(offset: usize, reason: impl Into<String>) -> DecodeError {
    DecodeError {
        offset,
        reason: reason.into(),
    }
}

/// The encoded value, with what a comparison under `Value`'s `==` needs to know about it.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// The bytes.
    pub(crate) bytes: Vec<u8>,
    /// Offsets of the first (sign) byte of every float zero's 8-byte payload (`0.0` or `-0.0`):
    /// `Value`'s `==` accepts either sign there.
    pub(crate) zero_signs: Vec<usize>,
    /// Whether the value holds a NaN anywhere (then it is `==` to nothing, itself included).
    pub(crate) has_nan: bool,
}

/// Encodes `value` (see the module docs).
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    encode_full(value).bytes
}

/// Encodes `value`, noting float zeros and NaNs (for `compare_and_set`/`compare_and_delete`).
pub(crate) fn encode_full(value: &Value) -> Encoded {
    let mut out = Encoded {
        bytes: Vec::new(),
        zero_signs: Vec::new(),
        has_nan: false,
    };
    match value {
        Value::Int(n) => out.bytes.extend_from_slice(n.to_string().as_bytes()),
        Value::Str(s) => {
            out.bytes.push(TAG_STR);
            out.bytes.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            out.bytes.push(TAG_BYTES);
            out.bytes.extend_from_slice(b);
        }
        other => encode_nested(other, &mut out),
    }
    out
}

/// Appends the nested form of `value` (and of everything inside it), iteratively.
fn encode_nested(value: &Value, out: &mut Encoded) {
    // Work items: a value to write, or a dict key to write before its value.
    enum Item<'a> {
        Value(&'a Value),
        Key(&'a str),
    }
    let mut stack = vec![Item::Value(value)];
    while let Some(item) = stack.pop() {
        let value = match item {
            Item::Key(k) => {
                put_varint(&mut out.bytes, k.len() as u64);
                out.bytes.extend_from_slice(k.as_bytes());
                continue;
            }
            Item::Value(v) => v,
        };
        let bytes = &mut out.bytes;
        match value {
            Value::Null => bytes.push(TAG_NULL),
            Value::Bool(false) => bytes.push(TAG_FALSE),
            Value::Bool(true) => bytes.push(TAG_TRUE),
            Value::Int(n) => {
                bytes.push(TAG_INT);
                put_varint(bytes, zigzag(*n));
            }
            Value::Float(x) => {
                bytes.push(TAG_FLOAT);
                if *x == 0.0 {
                    out.zero_signs.push(bytes.len());
                }
                if x.is_nan() {
                    out.has_nan = true;
                }
                bytes.extend_from_slice(&x.to_bits().to_be_bytes());
            }
            Value::Str(s) => {
                bytes.push(TAG_STR);
                put_varint(bytes, s.len() as u64);
                bytes.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                bytes.push(TAG_BYTES);
                put_varint(bytes, b.len() as u64);
                bytes.extend_from_slice(b);
            }
            Value::List(items) => {
                bytes.push(TAG_LIST);
                put_varint(bytes, items.len() as u64);
                stack.extend(items.iter().rev().map(Item::Value));
            }
            Value::Dict(map) => {
                bytes.push(TAG_DICT);
                put_varint(bytes, map.len() as u64);
                for (k, v) in map.iter().rev() {
                    stack.push(Item::Value(v));
                    stack.push(Item::Key(k));
                }
            }
            // `Value` is non_exhaustive: a variant added to the core crate must get a tag here
            // (and a new format version) before it can be stored.
            other => unreachable!("no encoding for a {} value", other.type_name()),
        }
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Unsigned LEB128: 7 bits per byte, low groups first, high bit set on all but the last byte.
fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Whether `bytes` is a canonical decimal `i64` (what Redis `INCRBY` accepts and writes): an
/// optional `-`, no leading zeros, no `-0`, no `+`, no spaces, within `i64`.
pub(crate) fn parse_decimal(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let canonical = match digits {
        [] => false,
        [b'0'] => digits.len() == bytes.len(), // "0" but not "-0"
        [first, ..] => (b'1'..=b'9').contains(first) && digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Decodes a stored value, accepting only canonical encodings (see the module docs). Holds at
/// most `320 * bytes.len() + 1 KiB` at once, whatever the bytes declare (module docs, "Memory").
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    let Some(&tag) = bytes.first() else {
        return Err(err(0, "empty value"));
    };
    if tag < 0x80 {
        return parse_decimal(bytes)
            .map(Value::Int)
            .ok_or_else(|| err(0, "untagged bytes that are not a canonical decimal integer"));
    }
    let rest = &bytes[1..];
    match tag {
        TAG_STR => match std::str::from_utf8(rest) {
            Ok(s) => Ok(Value::Str(s.to_owned())),
            Err(e) => Err(err(1 + e.valid_up_to(), "string is not valid UTF-8")),
        },
        TAG_BYTES => Ok(Value::Bytes(rest.to_vec())),
        TAG_INT => Err(err(0, "an integer at top level must be decimal text")),
        _ => {
            let mut r = Reader {
                bytes,
                pos: 0,
                promised: 0,
            };
            let value = decode_nested(&mut r)?;
            if r.pos != bytes.len() {
                value.dispose();
                return Err(err(r.pos, "trailing bytes after the value"));
            }
            Ok(value)
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Bytes of the rest of the input already spoken for: the smallest encoding of every
    /// element the open containers still expect and have not started ([`LIST_ITEM_MIN`] per
    /// list element, [`DICT_ITEM_MIN`] per dict entry). A container's count must fit in what is
    /// left after them, so the capacity reserved for all the open containers together never
    /// exceeds the input's length (module docs, "Memory").
    promised: u64,
}

/// The smallest encoding of a nested list element (a tag byte: `Null`, `Bool`).
const LIST_ITEM_MIN: u64 = 1;
/// The smallest encoding of a dict entry (an empty key's length byte and a tag byte).
const DICT_ITEM_MIN: u64 = 2;

impl<'a> Reader<'a> {
    /// A container's count of elements taking at least `min_bytes` each, read at `at`: fails
    /// unless they fit in what is left of the input after the enclosing containers' other
    /// elements; then promises them their bytes (all but the first, which starts at once).
    fn count(&mut self, at: usize, min_bytes: u64) -> Result<u64, DecodeError> {
        let n = self.varint()?;
        let left = (self.bytes.len() - self.pos) as u64;
        let room = left.saturating_sub(self.promised);
        if n.saturating_mul(min_bytes) > room {
            return Err(err(
                at,
                format!(
                    "count {n} needs more than the {room} byte(s) left for it ({left} left, \
                     {} of them needed by the enclosing containers' other elements)",
                    self.promised
                ),
            ));
        }
        if n > 0 {
            self.promised += (n - 1) * min_bytes;
        }
        Ok(n)
    }

    /// One promised element (of at least `min_bytes`) starts: its bytes are its own now.
    fn redeem(&mut self, min_bytes: u64) {
        self.promised = self.promised.saturating_sub(min_bytes);
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| err(self.pos, "truncated value"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], DecodeError> {
        let left = self.bytes.len() - self.pos;
        if n > left as u64 {
            return Err(err(self.pos, format!("length {n} runs past the end")));
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut n: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            let group = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(err(start, "varint overflows 64 bits"));
            }
            n |= group << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(err(start, "varint not in its shortest form"));
                }
                return Ok(n);
            }
        }
        Err(err(start, "varint longer than 10 bytes"))
    }

    fn text(&mut self) -> Result<String, DecodeError> {
        let len = self.varint()?;
        let at = self.pos;
        let raw = self.take(len)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|e| err(at + e.valid_up_to(), "string is not valid UTF-8"))
    }
}

/// A container being filled.
enum Frame {
    List(Vec<Value>, u64),
    Dict(BTreeMap<String, Value>, u64, Option<String>),
}

fn decode_nested(r: &mut Reader<'_>) -> Result<Value, DecodeError> {
    let mut stack: Vec<Frame> = Vec::new();
    let result = decode_nested_into(r, &mut stack);
    // On error, dispose of what was built so far without recursing.
    for frame in stack {
        match frame {
            Frame::List(items, _) => Value::List(items).dispose(),
            Frame::Dict(map, _, _) => Value::Dict(map).dispose(),
        }
    }
    result
}

fn decode_nested_into(r: &mut Reader<'_>, stack: &mut Vec<Frame>) -> Result<Value, DecodeError> {
    loop {
        // If the innermost container is a dict, its next entry's key comes first.
        if let Some(Frame::Dict(map, _, pending)) = stack.last_mut() {
            let at = r.pos;
            let key = r.text()?;
            if let Some((last, _)) = map.last_key_value() {
                if key.as_bytes() <= last.as_bytes() {
                    return Err(err(at, "dict keys not strictly ascending"));
                }
            }
            *pending = Some(key);
        }
        let at = r.pos;
        let mut value = match r.byte()? {
            TAG_NULL => Value::Null,
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_INT => Value::Int(unzigzag(r.varint()?)),
            TAG_FLOAT => {
                let raw = r.take(8)?;
                let mut bits = [0u8; 8];
                bits.copy_from_slice(raw);
                Value::Float(f64::from_bits(u64::from_be_bytes(bits)))
            }
            TAG_STR => Value::Str(r.text()?),
            TAG_BYTES => {
                let len = r.varint()?;
                Value::Bytes(r.take(len)?.to_vec())
            }
            TAG_LIST => {
                let n = r.count(at, LIST_ITEM_MIN)?;
                if n > 0 {
                    // `n` elements fit in bytes no other container counts on (`Reader::count`).
                    stack.push(Frame::List(Vec::with_capacity(n as usize), n));
                    continue;
                }
                Value::List(Vec::new())
            }
            TAG_DICT => {
                let n = r.count(at, DICT_ITEM_MIN)?;
                if n > 0 {
                    stack.push(Frame::Dict(BTreeMap::new(), n, None));
                    continue;
                }
                Value::Dict(BTreeMap::new())
            }
            tag if tag < 0x80 => {
                return Err(err(
                    at,
                    format!("untagged byte 0x{tag:02x} inside a container"),
                ))
            }
            tag => {
                return Err(err(
                    at,
                    format!("unknown tag 0x{tag:02x} (a newer format version?)"),
                ))
            }
        };
        // Put the value in its container; close every container that is now full.
        loop {
            match stack.last_mut() {
                None => return Ok(value),
                Some(Frame::List(items, n)) => {
                    items.push(value);
                    if items.len() as u64 != *n {
                        r.redeem(LIST_ITEM_MIN);
                        break;
                    }
                }
                Some(Frame::Dict(map, n, pending)) => {
                    let key = pending.take().expect("the key is read before its value");
                    map.insert(key, value);
                    if map.len() as u64 != *n {
                        r.redeem(DICT_ITEM_MIN);
                        break;
                    }
                }
            }
            value = match stack.pop().expect("just matched") {
                Frame::List(items, _) => Value::List(items),
                Frame::Dict(map, _, _) => Value::Dict(map),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &Value, b: &Value) -> bool {
        // Bitwise identity: equal encodings (the codec is canonical).
        encode(a) == encode(b)
    }

    fn samples() -> Vec<Value> {
        let mut dict = BTreeMap::new();
        dict.insert("".to_owned(), Value::Null);
        dict.insert("a".to_owned(), Value::Int(-1));
        dict.insert("é".to_owned(), Value::List(vec![Value::Float(-0.0)]));
        vec![
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(0),
            Value::Int(-1),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Float(0.0),
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::Float(f64::from_bits(0x7ff8_0000_dead_beef)),
            Value::Float(f64::INFINITY),
            Value::Float(f64::MIN_POSITIVE),
            Value::Str(String::new()),
            Value::Str("5".into()),
            Value::Str("héllo\0".into()),
            Value::Bytes(Vec::new()),
            Value::Bytes(vec![0xff, 0x00, 0x80]),
            Value::Bytes(b"42".to_vec()),
            Value::List(Vec::new()),
            Value::List(vec![
                Value::Int(i64::MIN),
                Value::Int(i64::MAX),
                Value::Int(300),
                Value::Str("x".into()),
                Value::Bytes(vec![]),
                Value::List(vec![Value::Null]),
            ]),
            Value::Dict(BTreeMap::new()),
            Value::Dict(dict),
        ]
    }

    #[test]
    fn every_sample_round_trips_exactly_and_is_canonical() {
        for v in samples() {
            let bytes = encode(&v);
            let back = decode(&bytes).unwrap_or_else(|e| panic!("{v:?}: {e}"));
            assert!(same(&v, &back), "{v:?} came back as {back:?}");
            assert_eq!(encode(&back), bytes);
            // Nested, each sample also round-trips.
            let nested = Value::List(vec![v.clone(), v.clone()]);
            let back = decode(&encode(&nested)).unwrap();
            assert!(same(&nested, &back));
        }
    }

    #[test]
    fn only_ints_read_as_integers() {
        for v in samples() {
            let bytes = encode(&v);
            let is_int = matches!(v, Value::Int(_));
            assert_eq!(parse_decimal(&bytes).is_some(), is_int, "{v:?}");
            if !is_int {
                assert!(bytes[0] >= 0x80, "{v:?}");
            }
        }
        assert_eq!(encode(&Value::Int(-42)), b"-42");
        assert_eq!(encode(&Value::Str("5".into())), b"\x855");
    }

    #[test]
    fn layout_is_the_documented_one() {
        assert_eq!(encode(&Value::Null), [0x80]);
        assert_eq!(encode(&Value::Bool(true)), [0x82]);
        assert_eq!(
            encode(&Value::Float(-0.0)),
            [0x84, 0x80, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(encode(&Value::Bytes(vec![1, 2])), [0x86, 1, 2]);
        let list = Value::List(vec![
            Value::Int(-2),
            Value::Str("ab".into()),
            Value::Bytes(vec![9]),
        ]);
        assert_eq!(
            encode(&list),
            [0x87, 3, 0x83, 3, 0x85, 2, b'a', b'b', 0x86, 1, 9]
        );
        let mut map = BTreeMap::new();
        map.insert("k".to_owned(), Value::Int(150));
        assert_eq!(
            encode(&Value::Dict(map)),
            [0x88, 1, 1, b'k', 0x83, 0xac, 0x02]
        );
    }

    #[test]
    fn decimal_rules_are_redis_string2ll() {
        for ok in [
            "0",
            "-1",
            "7",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert!(parse_decimal(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "",
            "-",
            "-0",
            "007",
            "+1",
            " 1",
            "1 ",
            "9223372036854775808",
            "-9223372036854775809",
            "1.0",
            "0x1",
        ] {
            assert!(parse_decimal(bad.as_bytes()).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn non_canonical_and_foreign_bytes_are_refused() {
        let bad: &[&[u8]] = &[
            b"",
            b"hello",
            b"-0",
            b"01",
            &[0x83, 0x02],                            // top-level binary int
            &[0x80, 0x00],                            // trailing byte
            &[0x87, 0x81, 0x00],                      // non-minimal varint count
            &[0x87, 0x02, 0x80],                      // truncated list
            &[0x87, 0x01, b'1'],                      // untagged element
            &[0x89],                                  // unknown tag
            &[0x85, 0xff],                            // invalid UTF-8
            &[0x84, 0, 0],                            // short float
            &[0x88, 2, 1, b'b', 0x80, 1, b'a', 0x80], // keys out of order
            &[0x88, 2, 1, b'a', 0x80, 1, b'a', 0x80], // duplicate key
            &[0x87, 0x01, 0x86, 0x05, 1],             // bytes length past the end
            &[
                0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ], // huge count
            &[
                0x87, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
            ], // > u64
        ];
        for b in bad {
            assert!(decode(b).is_err(), "{b:?} decoded as {:?}", decode(b));
        }
    }

    #[test]
    fn deep_nesting_is_iterative() {
        let mut v = Value::Int(1);
        for i in 0..200_000 {
            v = if i % 2 == 0 {
                Value::List(vec![v])
            } else {
                let mut m = BTreeMap::new();
                m.insert("k".to_owned(), v);
                Value::Dict(m)
            };
        }
        let bytes = encode(&v);
        let back = decode(&bytes).unwrap();
        assert_eq!(encode(&back), bytes);
        back.dispose();
        v.dispose();
        // A truncated deep value fails cleanly (and frees what it built).
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn zero_signs_and_nans_are_found() {
        let v = Value::List(vec![
            Value::Float(0.0),
            Value::Float(1.0),
            Value::Float(-0.0),
        ]);
        let e = encode_full(&v);
        assert_eq!(e.zero_signs, vec![3, 21]);
        assert!(e.zero_signs.iter().all(|&i| e.bytes[i] & 0x7f == 0));
        assert!(!e.has_nan);
        assert_eq!(encode_full(&Value::Float(0.0)).zero_signs, vec![1]);
        assert!(encode_full(&Value::List(vec![Value::Float(f64::NAN)])).has_nan);
    }

    #[test]
    fn pseudo_random_values_round_trip() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let v = random_value(&mut next, 0);
            let bytes = encode(&v);
            let back = decode(&bytes).unwrap();
            assert_eq!(encode(&back), bytes);
            // Every strict prefix of a nested value is refused (no value is a prefix of another).
            if bytes[0] >= TAG_LIST {
                for cut in 1..bytes.len() {
                    assert!(decode(&bytes[..cut]).is_err());
                }
            }
        }
    }

    fn random_value(next: &mut impl FnMut() -> u64, depth: u32) -> Value {
        let r = next();
        match r % if depth > 3 { 7 } else { 9 } {
            0 => Value::Null,
            1 => Value::Bool(r & 16 == 0),
            2 => Value::Int(next() as i64 >> (next() % 64)),
            3 => Value::Float(f64::from_bits(next())),
            4 => Value::Str(
                ["", "a", "é", "\u{10ffff}", "5", "-3"][(next() % 6) as usize]
                    .repeat((r % 3) as usize),
            ),
            5 => Value::Bytes((0..(r % 5)).map(|_| next() as u8).collect()),
            6 => Value::Int((r % 3) as i64 - 1),
            7 => Value::List(
                (0..(next() % 4))
                    .map(|_| random_value(next, depth + 1))
                    .collect(),
            ),
            _ => Value::Dict(
                (0..(next() % 4))
                    .map(|_| (format!("{}", next() % 5), random_value(next, depth + 1)))
                    .collect(),
            ),
        }
    }
}
