//! `glob`: the crate's glob matcher, through the public API (`store.keys(pattern)` over a store
//! holding the fuzzed keys), against a reference matcher written here.
//!
//! The reference works on the raw pattern text (no compile step, no token list): a memoised
//! recursion over (pattern position, key position), with bracket classes parsed where they are
//! met. It also decides validity on its own, with the rules of the crate docs (`Store::keys`) and the edge-case
//! decisions documented at the top of `src/glob.rs`:
//!
//! - `*` any run (including none), `?` one char, `\x` literal `x` (inside classes too);
//! - a class is `[`, an optional `^` (negation), then members up to the first `]` that is not
//!   the first member: `[]]` is the class of `]`, `[^]]` everything but `]`;
//! - a member is a char or `\x`; `lo-hi` is a range when the `-` is followed by something other
//!   than the closing `]` (so `[a-]` holds `a` and `-`, `[a-c-e]` is `a..=c`, `-`, `e`); ranges
//!   are ordered (`[z-a]` is `[a-z]`); `!` is never a negation;
//! - errors: a `[` with no closing `]` (reason `unclosed '[' at byte N`, N the `[`'s byte offset)
//!   and a lone `\` at the end, also inside an unclosed class (reason `trailing '\'`); the first
//!   problem met scanning left to right is the one reported.
//!
//! Inputs are bounded (pattern <= 24 chars, <= 8 keys of <= 24 chars) so the reference stays
//! cheap; most come from a small alphabet rich in metacharacters so that matches are common.
#![no_main]

use std::collections::{BTreeSet, HashMap};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scriptling_kv::{Error, Store};

const MAX_PATTERN: usize = 24;
const MAX_KEY: usize = 24;
const MAX_KEYS: usize = 8;

const ALPHABET: [char; 20] = [
    'a',
    'b',
    'c',
    'z',
    '-',
    '^',
    ']',
    '[',
    '\\',
    '*',
    '?',
    '!',
    'é',
    '/',
    ':',
    '0',
    'A',
    '\u{7f}',
    '\u{10FFFF}',
    'a',
];

#[derive(Arbitrary, Debug)]
enum Input {
    /// Pattern and keys over [`ALPHABET`].
    Alphabet {
        pattern: Vec<u8>,
        keys: Vec<Vec<u8>>,
    },
    /// Any strings at all.
    Raw { pattern: String, keys: Vec<String> },
}

fn from_alphabet(bytes: &[u8], max: usize) -> String {
    bytes
        .iter()
        .take(max)
        .map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()])
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Why the reference rejects a pattern.
#[derive(Debug, PartialEq, Eq)]
enum Bad {
    /// The byte offset of the `[` that is never closed.
    Unclosed(usize),
    TrailingBackslash,
}

impl Bad {
    fn reason(&self) -> String {
        match self {
            Bad::Unclosed(at) => format!("unclosed '[' at byte {at}"),
            Bad::TrailingBackslash => "trailing '\\'".to_string(),
        }
    }
}

/// A parsed class: whether negated, its inclusive ranges, and the index just past its `]`.
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
    end: usize,
}

impl Class {
    fn accepts(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// The reference: the pattern as (byte offset, char) pairs.
struct Reference {
    p: Vec<(usize, char)>,
}

impl Reference {
    fn new(pattern: &str) -> Self {
        Reference {
            p: pattern.char_indices().collect(),
        }
    }

    fn ch(&self, i: usize) -> Option<char> {
        self.p.get(i).map(|&(_, c)| c)
    }

    /// One class member endpoint at `i`: the char and the index after it.
    fn endpoint(&self, i: usize) -> Result<(char, usize), Bad> {
        match self.ch(i) {
            Some('\\') => match self.ch(i + 1) {
                Some(c) => Ok((c, i + 2)),
                None => Err(Bad::TrailingBackslash),
            },
            Some(c) => Ok((c, i + 1)),
            None => unreachable!("callers check there is a char at {i}"),
        }
    }

    /// Parses the class whose `[` is at index `open`.
    fn class(&self, open: usize) -> Result<Class, Bad> {
        let mut i = open + 1;
        let negated = self.ch(i) == Some('^');
        if negated {
            i += 1;
        }
        let first = i;
        let mut ranges = Vec::new();
        loop {
            match self.ch(i) {
                None => return Err(Bad::Unclosed(self.p[open].0)),
                Some(']') if i != first => {
                    return Ok(Class {
                        negated,
                        ranges,
                        end: i + 1,
                    })
                }
                Some(_) => {}
            }
            let (lo, next) = self.endpoint(i)?;
            let is_range =
                self.ch(next) == Some('-') && matches!(self.ch(next + 1), Some(c) if c != ']');
            if is_range {
                let (hi, after) = self.endpoint(next + 1)?;
                ranges.push(if lo <= hi { (lo, hi) } else { (hi, lo) });
                i = after;
            } else {
                ranges.push((lo, lo));
                i = next;
            }
        }
    }

    /// Whether the pattern is well formed.
    fn validate(&self) -> Result<(), Bad> {
        let mut i = 0;
        while let Some(c) = self.ch(i) {
            i = match c {
                '\\' if self.ch(i + 1).is_none() => return Err(Bad::TrailingBackslash),
                '\\' => i + 2,
                '[' => self.class(i)?.end,
                _ => i + 1,
            };
        }
        Ok(())
    }

    /// Whether the (valid) pattern matches all of `key`.
    fn matches(&self, key: &str) -> bool {
        let key: Vec<char> = key.chars().collect();
        let mut memo = HashMap::new();
        self.m(0, &key, 0, &mut memo)
    }

    fn m(
        &self,
        pi: usize,
        key: &[char],
        ki: usize,
        memo: &mut HashMap<(usize, usize), bool>,
    ) -> bool {
        if let Some(&r) = memo.get(&(pi, ki)) {
            return r;
        }
        let next = key.get(ki).copied();
        let r = match self.ch(pi) {
            None => next.is_none(),
            Some('*') => {
                self.m(pi + 1, key, ki, memo) || (next.is_some() && self.m(pi, key, ki + 1, memo))
            }
            Some('?') => next.is_some() && self.m(pi + 1, key, ki + 1, memo),
            Some('\\') => {
                let lit = self.ch(pi + 1).expect("validated");
                next == Some(lit) && self.m(pi + 2, key, ki + 1, memo)
            }
            Some('[') => {
                let class = self.class(pi).expect("validated");
                next.is_some_and(|c| class.accepts(c)) && self.m(class.end, key, ki + 1, memo)
            }
            Some(lit) => next == Some(lit) && self.m(pi + 1, key, ki + 1, memo),
        };
        memo.insert((pi, ki), r);
        r
    }
}

fn check(pattern: &str, keys: &[String]) {
    let mut keys: BTreeSet<String> = keys.iter().take(MAX_KEYS).cloned().collect();
    // Keys near the pattern, so that matches are common: the pattern itself, and its text
    // without metacharacters.
    keys.insert(pattern.to_string());
    keys.insert(
        pattern
            .chars()
            .filter(|c| !"*?[]\\^".contains(*c))
            .collect(),
    );
    // One store for the whole run (building one costs far more than a check); `clear` empties
    // it, so no key leaks from one input into the next.
    thread_local! {
        static STORE: Store = Store::builder().background_cleanup(false).build();
    }
    let store = STORE.with(Store::clone);
    store.clear();
    assert!(store.is_empty(), "clear left {} keys", store.len());
    for k in &keys {
        store.set(k, true);
    }
    let reference = Reference::new(pattern);
    let got = store.keys(pattern);
    match (reference.validate(), got) {
        (Ok(()), Ok(got)) => {
            // BTreeSet<String> iterates in byte order, as `keys` must return.
            let want: Vec<String> = keys
                .iter()
                .filter(|k| reference.matches(k))
                .cloned()
                .collect();
            assert_eq!(got, want, "pattern {pattern:?} over keys {keys:?}");
        }
        (Err(bad), Err(err)) => {
            let Error::InvalidPattern {
                pattern: echoed,
                reason,
                ..
            } = &err
            else {
                panic!("pattern {pattern:?}: wrong error {err:?}");
            };
            assert_eq!(echoed, pattern, "the error must echo the pattern");
            assert_eq!(*reason, bad.reason(), "pattern {pattern:?}");
            assert_eq!(
                err.to_string(),
                format!("invalid pattern '{pattern}': {}", bad.reason())
            );
        }
        (want, got) => panic!("pattern {pattern:?}: reference {want:?}, store {got:?}"),
    }
}

fuzz_target!(|input: Input| {
    let (pattern, keys) = match input {
        Input::Alphabet { pattern, keys } => (
            from_alphabet(&pattern, MAX_PATTERN),
            keys.iter()
                .map(|k| from_alphabet(k, MAX_KEY))
                .collect::<Vec<_>>(),
        ),
        Input::Raw { pattern, keys } => (
            truncate(&pattern, MAX_PATTERN),
            keys.iter().map(|k| truncate(k, MAX_KEY)).collect(),
        ),
    };
    check(&pattern, &keys);
});
