//! Keys as the table and the entries hold them: short keys inline, long keys shared on the heap.
//!
//! A lookup compares the probe with the key stored in flurry's node. A key in its own heap
//! allocation (an `Arc<str>`) costs that comparison a dependent cache miss, and costs every new
//! key one more allocation. Most keys of a shared-state store are short (`rate:10.0.0.1`,
//! `user:42`, `cache:/home`), so [`Key`] keeps up to [`INLINE`] bytes inside itself (in the
//! flurry node and in the entry: a copy of 32 bytes, no reference count) and falls back to a
//! shared `Arc<[u8]>` for longer ones.
//!
//! The table is searched with the probe's bytes (`&[u8]`, through `Borrow<[u8]>`), so `Hash`,
//! `Eq` and `Ord` here are exactly those of the key's bytes, whichever way it is stored: a key
//! hashes and compares the same inline or on the heap, and the same as the `&[u8]` probe. The
//! bytes always come from a `&str`, so they are valid UTF-8; [`Key::as_str`] re-checks that
//! (safe code, only on the `keys` walk) rather than assume it.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use crate::engine::sync::std_only::Arc;

/// The longest key stored inline (so that [`Key`] is 32 bytes).
pub(crate) const INLINE: usize = 30;

/// A key: its bytes inline when it is at most [`INLINE`] bytes long, else shared.
#[derive(Clone)]
pub(crate) enum Key {
    /// The first `len` bytes of `bytes` are the key.
    Inline {
        /// Length of the key in bytes (at most [`INLINE`]).
        len: u8,
        /// The key's bytes, zero-padded.
        bytes: [u8; INLINE],
    },
    /// A key longer than [`INLINE`] bytes.
    Heap(Arc<[u8]>),
}

impl Key {
    /// The key for `key`.
    pub(crate) fn new(key: &str) -> Key {
        let src = key.as_bytes();
        if src.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..src.len()].copy_from_slice(src);
            Key::Inline {
                // Cannot truncate: at most INLINE (30).
                len: src.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(Arc::from(src))
        }
    }

    /// The key's bytes.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(b) => b,
        }
    }

    /// The key as a string. The bytes were copied from a `&str`, so this never fails; it is
    /// checked anyway (on the `keys` walk only) to keep this module free of `unsafe`.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("key bytes are copied from a &str")
    }
}

impl Borrow<[u8]> for Key {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Exactly `<[u8] as Hash>::hash`, as `Borrow<[u8]>` requires.
        self.as_bytes().hash(state)
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(all(test, not(scriptling_kv_loom)))]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn keys() -> Vec<String> {
        let mut v: Vec<String> = ["", "a", "rate:10.0.0.1", "é", "🦀 crab"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for n in [INLINE - 1, INLINE, INLINE + 1, 100] {
            v.push("k".repeat(n));
            // A multi-byte character straddling the inline limit.
            v.push(format!("{}é", "x".repeat(n.saturating_sub(1))));
        }
        v
    }

    #[test]
    fn inline_up_to_the_limit_heap_beyond() {
        assert_eq!(std::mem::size_of::<Key>(), 32);
        for k in keys() {
            let key = Key::new(&k);
            assert_eq!(key.as_bytes(), k.as_bytes());
            assert_eq!(key.as_str(), k);
            assert_eq!(
                matches!(key, Key::Inline { .. }),
                k.len() <= INLINE,
                "{k:?}"
            );
        }
    }

    #[test]
    fn hash_eq_and_order_are_those_of_the_bytes() {
        let state = ahash::RandomState::new();
        let all = keys();
        for a in &all {
            let ka = Key::new(a);
            // As flurry hashes: the stored key on insert, the probe's bytes on lookup.
            assert_eq!(
                BuildHasher::hash_one(&state, &ka),
                BuildHasher::hash_one(&state, a.as_bytes()),
                "{a:?}"
            );
            for b in &all {
                let kb = Key::new(b);
                assert_eq!(ka == kb, a == b);
                assert_eq!(ka.cmp(&kb), a.as_bytes().cmp(b.as_bytes()));
            }
        }
    }

    #[test]
    fn zero_padding_does_not_make_keys_equal() {
        // "a" and "a\0" differ although both are zero-padded to the same bytes.
        assert_ne!(Key::new("a"), Key::new("a\0"));
    }
}
