//! Redis-style glob patterns, as used to select keys.
//!
//! # Syntax
//!
//! A pattern matches a key as a whole (like Redis `KEYS`, not a substring search), character
//! by character, where a character is one Unicode scalar value (one `char`). Comparison is
//! exact: case-sensitive, no normalisation.
//!
//! | pattern | matches |
//! |---|---|
//! | `*` | any run of characters, including none; `/`, `:` and every other character too |
//! | `?` | exactly one character (so `?` matches `é`, which is two bytes) |
//! | `[abc]` | one character that is `a`, `b` or `c` |
//! | `[^abc]` | one character that is none of them |
//! | `[a-z]` | one character from `a` to `z` inclusive, by scalar value; `[z-a]` is `[a-z]` |
//! | `\x` | the character `x` itself, whatever it is, inside or outside brackets |
//! | anything else | itself; `!`, `]`, `-` and `^` outside brackets are ordinary |
//!
//! # Edge cases
//!
//! - The empty pattern matches only the empty key.
//! - A `]` right after `[` or `[^` is a member, not the end (as in POSIX): `[]]` matches `]`,
//!   `[^]]` matches any one character but `]`, and `[]` or `[^]` alone are unclosed (errors).
//! - `!` is ordinary: `[!a]` is the class of `!` and `a`, not a negation.
//! - `^` negates only right after `[`; elsewhere in a class it is a member: `[a^]`.
//! - `-` is a member where it cannot make a range: first (`[-a]`, `[^-a]`), last (`[a-]`), or
//!   right after a range (`[a-c-e]` is `a`..=`c`, `-` and `e`). An escaped `\-` is always a
//!   member, never the range operator. Either end of a range may be escaped: `[\]-a]`.
//! - `[\]]` matches `]`, `[\\]` matches `\`, `\*` matches `*`.
//! - Errors ([`Error::InvalidPattern`], echoing the pattern): a `[` without its closing `]`
//!   (reason `unclosed '[' at byte N`), and a pattern ending in a lone `\`, also inside an
//!   unclosed class (reason `trailing '\'`). Nothing else is an error: `]`, `a]`, `[a-]` are
//!   fine.
//! - Runs of consecutive `*` mean the same as one `*` and are collapsed at compile time.
//!
//! # Algorithm, and why matching is O(pattern × key)
//!
//! [`Pattern::compile`] turns the pattern into tokens: a literal character, `?`, a class, or
//! `*` (runs collapsed). Every token but `*` consumes exactly one character. The leading
//! literal tokens form [`Pattern::literal_prefix`], and, when there is a `*`, the literal
//! tokens after the last `*` form a literal suffix; [`Pattern::matches`] checks both with
//! `strip_prefix`/`strip_suffix` (linear time) and runs the token matcher on what lies between.
//!
//! The token matcher is the greedy two-pointer star algorithm: walk the tokens and the key
//! together; on a `*`, remember (token after the star, key position) and let the star take
//! nothing; on a mismatch, go back to the remembered star, let it take one more character,
//! and retry from there. Only the last star is remembered; there is no recursion and no stack.
//!
//! *Why forgetting earlier stars is right.* Write the pattern as `A*B`, where `*` is the last
//! star met so far. The matcher reaches that star with `A` matched against the shortest
//! possible prefix `u` of the key (by induction: each earlier star was grown one character at a
//! time, so the first success is the shortest). If some other split `key = u'v` with `A`
//! matching `u'` and `*B` matching `v` exists, then `|u| <= |u'|`, so `key = u·x·v` for some
//! `x`, and `*B` also matches `x·v` (the star absorbs `x`). So the key matches iff `*B` matches
//! what follows `u`, which the matcher decides by growing only that star.
//!
//! *Why it is O(p × k)* for `p` tokens and a key of `k` characters. Split the run into phases,
//! a phase ending whenever the remembered star changes (a new star is met, or a retry grows
//! the star by one character). Within a phase every step but the last consumes one token and
//! one key character, so a phase has at most `min(p, k) + 2` steps. A new star is always later
//! in the pattern than the current one, so there are at most `p` of those; each retry moves
//! the star's restart position one character further into the key, and that position never
//! moves back, so there are at most `k` retries. In all at most `(p + k + 1)(min(p, k) + 2)`
//! steps, which is O((p + 1)(k + 1)), whatever the pattern: `a*a*a*a*a*a*a*a*a*b` against 100
//! `a`s, or `*?` repeated 50 000 times, cost no more than their length product, and most runs
//! are far cheaper (a trailing `*` ends the match at once, and keys shorter than the pattern's
//! minimum length are rejected before matching). Compiling is linear in the pattern.

use crate::error::Error;

/// One compiled pattern element; all but [`Token::Star`] consume exactly one character.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// This character.
    Literal(char),
    /// `?`: any one character.
    Any,
    /// `[...]`: one character in (or, if `negated`, not in) one of the inclusive ranges.
    Class {
        /// Set by a leading `^`.
        negated: bool,
        /// Inclusive ranges with `lo <= hi`; a single member is `(c, c)`.
        ranges: Box<[(char, char)]>,
    },
    /// `*`: any run of characters, including none.
    Star,
}

impl Token {
    /// Whether this one-character token accepts `c` (`Star` never gets here).
    fn accepts(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::Any => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
            Token::Star => false,
        }
    }
}

/// A compiled glob pattern with the rules of [`Store::keys`](crate::Store::keys) (Redis `KEYS`
/// syntax: `*`, `?`, `[abc]`, `[^a-z]`, `\x`), for code that lists keys itself and must select
/// exactly what `Store::keys` would, such as a backend that filters the keys a server returns
/// (`scriptling-kv-redis`). Matching a key takes `O(pattern × key)` time whatever the pattern.
///
/// ```
/// use scriptling_kv::Pattern;
///
/// let p = Pattern::compile("user:[0-9]*")?;
/// assert!(p.matches("user:42"));
/// assert!(!p.matches("user:x"));
/// assert_eq!(p.literal_prefix(), "user:");
/// assert!(Pattern::compile("user:[").is_err()); // unclosed '[': Error::InvalidPattern
/// # Ok::<(), scriptling_kv::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Every matching key starts with this.
    prefix: String,
    /// Every matching key ends with this (only set when the pattern has a `*`).
    suffix: String,
    /// The tokens between the prefix and the suffix.
    middle: Vec<Token>,
    /// Lower bound on the byte length of a matching key.
    min_len: usize,
}

/// Builds the error for `pattern`.
fn invalid(pattern: &str, reason: String) -> Error {
    Error::InvalidPattern {
        pattern: pattern.to_owned(),
        reason,
    }
}

/// The reason given for a pattern ending in a lone `\`.
const TRAILING_BACKSLASH: &str = "trailing '\\'";

impl Pattern {
    /// Compiles `pattern`, or fails with [`Error::InvalidPattern`] (echoing `pattern`) for an
    /// unclosed `[` or a trailing lone `\`.
    pub fn compile(pattern: &str) -> Result<Pattern, Error> {
        let mut tokens: Vec<Token> = Vec::new();
        let mut it = pattern.char_indices();
        while let Some((at, c)) = it.next() {
            let token = match c {
                '*' => {
                    if tokens.last() == Some(&Token::Star) {
                        continue;
                    }
                    Token::Star
                }
                '?' => Token::Any,
                '\\' => match it.next() {
                    Some((_, e)) => Token::Literal(e),
                    None => return Err(invalid(pattern, TRAILING_BACKSLASH.to_owned())),
                },
                '[' => parse_class(pattern, at, &mut it)?,
                other => Token::Literal(other),
            };
            tokens.push(token);
        }
        Ok(Pattern::from_tokens(tokens))
    }

    /// Splits the tokens into literal prefix, middle and literal suffix.
    fn from_tokens(tokens: Vec<Token>) -> Pattern {
        let literal = |t: &Token| match t {
            Token::Literal(c) => Some(*c),
            _ => None,
        };
        let prefix: String = tokens.iter().map_while(literal).collect();
        let prefix_n = prefix.chars().count();
        let mut suffix = String::new();
        let mut suffix_n = 0;
        if tokens.contains(&Token::Star) {
            let mut rev: Vec<char> = tokens.iter().rev().map_while(literal).collect();
            rev.reverse();
            suffix_n = rev.len();
            suffix = rev.into_iter().collect();
        }
        // A star exists whenever `suffix_n > 0`, and it lies between prefix and suffix.
        let end = tokens.len().saturating_sub(suffix_n).max(prefix_n);
        let middle: Vec<Token> = tokens.into_iter().take(end).skip(prefix_n).collect();
        let singles = middle.iter().filter(|t| **t != Token::Star).count();
        let min_len = prefix.len() + suffix.len() + singles;
        Pattern {
            prefix,
            suffix,
            middle,
            min_len,
        }
    }

    /// Whether the whole `key` matches.
    pub fn matches(&self, key: &str) -> bool {
        if key.len() < self.min_len {
            return false;
        }
        let Some(rest) = key.strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        let Some(mid) = rest.strip_suffix(self.suffix.as_str()) else {
            return false;
        };
        match_tokens(&self.middle, mid)
    }

    /// The literal prefix every matching key must start with ("user:" for "user:*", "" for
    /// "*x"), so callers can skip keys cheaply. For a pattern without wildcards it is the
    /// whole (unescaped) key.
    pub fn literal_prefix(&self) -> &str {
        &self.prefix
    }

    /// True when the pattern matches every key (e.g. "*", "**").
    pub(crate) fn matches_everything(&self) -> bool {
        self.prefix.is_empty() && self.suffix.is_empty() && self.middle == [Token::Star]
    }
}

/// Parses a class; `open` is the byte offset of its `[`, and `it` is just past it.
fn parse_class(
    pattern: &str,
    open: usize,
    it: &mut std::str::CharIndices<'_>,
) -> Result<Token, Error> {
    let unclosed = || invalid(pattern, format!("unclosed '[' at byte {open}"));
    // Reads one member character starting with `c`, resolving an escape.
    fn member(pattern: &str, c: char, it: &mut std::str::CharIndices<'_>) -> Result<char, Error> {
        if c == '\\' {
            match it.next() {
                Some((_, e)) => Ok(e),
                None => Err(invalid(pattern, TRAILING_BACKSLASH.to_owned())),
            }
        } else {
            Ok(c)
        }
    }
    let mut negated = false;
    if it.clone().next().map(|(_, c)| c) == Some('^') {
        it.next();
        negated = true;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some((_, c)) = it.next() else {
            return Err(unclosed());
        };
        if c == ']' && !first {
            break;
        }
        first = false;
        let lo = member(pattern, c, it)?;
        // `lo-hi` is a range unless the `-` is the last member (followed by `]` or nothing).
        let mut ahead = it.clone();
        let hi = match (ahead.next(), ahead.next()) {
            (Some((_, '-')), Some((_, h))) if h != ']' => {
                *it = ahead;
                member(pattern, h, it)?
            }
            _ => lo,
        };
        ranges.push((lo.min(hi), lo.max(hi)));
    }
    Ok(Token::Class {
        negated,
        ranges: ranges.into_boxed_slice(),
    })
}

/// The greedy two-pointer matcher (see the module docs): whether `tokens` match all of `key`.
fn match_tokens(tokens: &[Token], key: &str) -> bool {
    let mut t = 0; // next token
    let mut k = 0; // byte offset of the next key character (always a char boundary)
                   // The last star seen: (token after it, key offset where its match currently ends).
    let mut star: Option<(usize, usize)> = None;
    loop {
        match tokens.get(t) {
            Some(Token::Star) => {
                if t + 1 == tokens.len() {
                    return true; // a trailing star takes the rest of the key
                }
                t += 1;
                star = Some((t, k));
                continue;
            }
            Some(token) => {
                if let Some(c) = key.get(k..).and_then(|s| s.chars().next()) {
                    if token.accepts(c) {
                        t += 1;
                        k += c.len_utf8();
                        continue;
                    }
                }
            }
            None if k >= key.len() => return true,
            None => {}
        }
        // Mismatch: let the last star take one more character, or fail.
        let Some((st, sk)) = star else {
            return false;
        };
        let Some(c) = key.get(sk..).and_then(|s| s.chars().next()) else {
            return false;
        };
        let grown = sk + c.len_utf8();
        star = Some((st, grown));
        t = st;
        k = grown;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(pattern: &str, key: &str) -> bool {
        Pattern::compile(pattern)
            .unwrap_or_else(|e| panic!("{pattern:?}: {e}"))
            .matches(key)
    }

    #[test]
    fn table() {
        // (pattern, keys that match, keys that do not)
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("", &[""], &["a"]),
            ("abc", &["abc"], &["abcd", "xabc", "ab"]),
            ("é", &["é"], &["e", "éé"]),
            ("*", &["", "a/b:c"], &[]),
            ("**", &["anything"], &[]),
            ("a*", &["a", "a/b:c"], &["ba"]),
            ("*a", &["b/a"], &["ab"]),
            (
                "user:*:name",
                &["user:1/2:x:name", "user::name"],
                &["user:name"],
            ),
            ("a*b*c", &["a/b:c"], &["acb"]),
            ("a***b", &["ab"], &[]),
            ("*ab*ab*", &["xabyab"], &["xaby"]),
            ("*aa", &["aaa"], &[]),
            ("a*aa", &[], &["aa"]),
            ("?", &["é", "日", "😀"], &["", "ab"]),
            ("??", &["éé"], &[]),
            ("a?c", &["a/c"], &[]),
            ("*?", &["é"], &[""]),
            ("?*?", &[], &["a"]),
            ("[abc]", &["b"], &["d", "", "ab"]),
            ("[é日]", &["日", "é"], &["e"]),
            ("[^abc]", &["d", "é"], &["a", ""]),
            ("[a^]", &["^"], &["b"]),
            ("[a-c]", &["b"], &["d"]),
            ("[z-a]", &["m"], &["A"]),
            ("[c-a]", &["c"], &[]),
            ("[^a-c]", &["z"], &["b"]),
            ("[a-cx-z]", &["y"], &["m"]),
            ("[a-]", &["-", "a"], &["b"]),
            ("[-a]", &["-"], &[]),
            ("[^-a]", &["b"], &["-"]),
            ("[a-c-e]", &["-", "e"], &["d"]),
            ("[α-ω]", &["λ"], &["a"]),
            ("[]]", &["]"], &[]),
            ("[]a]", &["a"], &["b"]),
            ("[^]]", &["a"], &["]"]),
            ("]", &["]"], &[]),
            ("a]", &["a]"], &[]),
            ("\\*", &["*"], &["a"]),
            ("\\?", &["?"], &["a"]),
            ("\\[a]", &["[a]"], &[]),
            ("\\\\", &["\\"], &[]),
            ("\\a", &["a"], &[]),
            ("a\\*b", &["a*b"], &["axb"]),
            ("[\\]]", &["]"], &["\\"]),
            ("[\\\\]", &["\\"], &[]),
            ("[\\^a]", &["^"], &[]),
            ("[\\-a]", &["-"], &[]),
            ("[a\\-c]", &["-"], &["b"]),
            ("[\\]-a]", &["_", "]", "a"], &["b", "\\"]), // ']' (0x5D) ..= 'a' (0x61)
            ("[a-\\]]", &["^"], &["b"]),
            ("!", &["!"], &[]),
            ("[!a]", &["!", "a"], &["b"]),
            ("h?llo", &["hello", "hallo", "hxllo"], &["hllo"]),
            ("h*llo", &["hllo", "heeeello"], &["hello!"]),
            ("h[ae]llo", &["hello", "hallo"], &["hillo"]),
            ("h[^e]llo", &["hallo", "hbllo"], &["hello"]),
            ("h[a-b]llo", &["hallo", "hbllo"], &["hcllo"]),
            ("H*", &[], &["hello"]),
        ];
        for &(pattern, yes, no) in cases {
            for key in yes {
                assert!(m(pattern, key), "{pattern:?} should match {key:?}");
            }
            for key in no {
                assert!(!m(pattern, key), "{pattern:?} should not match {key:?}");
            }
        }
    }

    #[test]
    fn malformed_patterns_are_errors() {
        let cases: &[(&str, &str)] = &[
            ("[", "unclosed '[' at byte 0"),
            ("[abc", "unclosed '[' at byte 0"),
            ("ab[c", "unclosed '[' at byte 2"),
            ("é[a", "unclosed '[' at byte 2"),
            ("[^", "unclosed '[' at byte 0"),
            ("[]", "unclosed '[' at byte 0"),
            ("[^]", "unclosed '[' at byte 0"),
            ("[a-", "unclosed '[' at byte 0"),
            ("[a]b[", "unclosed '[' at byte 4"),
            ("abc\\", TRAILING_BACKSLASH),
            ("\\", TRAILING_BACKSLASH),
            ("[a\\", TRAILING_BACKSLASH),
            ("[a-\\", TRAILING_BACKSLASH),
        ];
        for &(pattern, reason) in cases {
            let err = Pattern::compile(pattern).expect_err(pattern);
            assert_eq!(
                err,
                Error::InvalidPattern {
                    pattern: pattern.to_owned(),
                    reason: reason.to_owned()
                }
            );
        }
        // An escaped backslash at the end is fine.
        assert!(m("abc\\\\", "abc\\"));
    }

    #[test]
    fn pathological_patterns_finish() {
        let many_a = "a".repeat(100);
        assert!(!m("a*a*a*a*a*a*a*a*a*b", &many_a));
        assert!(m("a*a*a*a*a*a*a*a*a*", &many_a));
        assert!(m("a*a*a*a*a*a*a*a*a*a", &many_a));

        let star_q = "*?".repeat(50_000);
        let p = Pattern::compile(&star_q).unwrap();
        assert!(p.matches(&"x".repeat(60_000)));
        assert!(p.matches(&"é".repeat(50_000)));
        assert!(!p.matches(&"x".repeat(49_999)));
        let mut nearly = "*?".repeat(50_000);
        nearly.push('b');
        let p = Pattern::compile(&nearly).unwrap();
        assert!(!p.matches(&"a".repeat(100_000)));
        assert!(p.matches(&("a".repeat(99_999) + "b")));

        let stars = "*".repeat(100_000);
        let p = Pattern::compile(&format!("{stars}a{stars}b")).unwrap();
        assert!(!p.matches(&"a".repeat(100_000)));
    }

    #[test]
    fn literal_prefix_and_matches_everything() {
        let cases: &[(&str, &str, bool)] = &[
            ("", "", false),
            ("*", "", true),
            ("**", "", true),
            ("***", "", true),
            ("user:*", "user:", false),
            ("*x", "", false),
            ("?x", "", false),
            ("[u]ser", "", false),
            ("abc", "abc", false),
            ("a\\*b*", "a*b", false),
            ("é?", "é", false),
            ("ab*cd", "ab", false),
            ("*?", "", false),
            ("?*", "", false),
            ("[^a]*", "", false),
            ("\\*", "*", false),
        ];
        for &(pattern, prefix, everything) in cases {
            let p = Pattern::compile(pattern).unwrap();
            assert_eq!(p.literal_prefix(), prefix, "{pattern:?}");
            assert_eq!(p.matches_everything(), everything, "{pattern:?}");
        }
    }

    type OneChar = Option<fn(char) -> bool>;

    /// Small-alphabet pattern pieces: text, and what one key character it accepts (`None`
    /// for `*`), written down directly rather than parsed.
    const PIECES: [(&str, OneChar); 7] = [
        ("a", Some(|c| c == 'a')),
        ("b", Some(|c| c == 'b')),
        ("*", None),
        ("?", Some(|_| true)),
        ("[ab]", Some(|c| c == 'a' || c == 'b')),
        ("[^a]", Some(|c| c != 'a')),
        ("\\*", Some(|c| c == '*')),
    ];

    /// Naive recursive backtracking matcher over pieces (exponential, fine on short inputs).
    fn naive_pieces(p: &[usize], k: &[char]) -> bool {
        let Some((&i, rest)) = p.split_first() else {
            return k.is_empty();
        };
        match PIECES[i].1 {
            None => (0..=k.len()).any(|n| naive_pieces(rest, &k[n..])),
            Some(one) => {
                matches!(k.split_first(), Some((&c, kr)) if one(c) && naive_pieces(rest, kr))
            }
        }
    }

    /// Naive recursive reference on the pattern text itself: `None` if malformed.
    fn naive_text(p: &[char], k: &[char]) -> Option<bool> {
        let Some((&c, rest)) = p.split_first() else {
            return Some(k.is_empty());
        };
        if c == '*' {
            let mut any = false;
            for n in 0..=k.len() {
                any |= naive_text(rest, &k[n..])?; // validates the rest too
            }
            return Some(any);
        }
        let (accepts, rest): (Box<dyn Fn(char) -> bool>, &[char]) = match c {
            '?' => (Box::new(|_| true), rest),
            '\\' => {
                let (&e, rest) = rest.split_first()?;
                (Box::new(move |x| x == e), rest)
            }
            '[' => {
                let neg = rest.first() == Some(&'^');
                let mut i = usize::from(neg);
                let mut members: Vec<(char, char)> = Vec::new();
                loop {
                    let mut lo = *rest.get(i)?;
                    i += 1;
                    if lo == ']' && i > usize::from(neg) + 1 {
                        break;
                    }
                    if lo == '\\' {
                        lo = *rest.get(i)?;
                        i += 1;
                    }
                    let mut hi = lo;
                    if rest.get(i) == Some(&'-') && rest.get(i + 1).is_some_and(|h| *h != ']') {
                        hi = rest[i + 1];
                        i += 2;
                        if hi == '\\' {
                            hi = *rest.get(i)?;
                            i += 1;
                        }
                    }
                    members.push((lo, hi));
                }
                let accepts = move |x: char| {
                    let inside =
                        |&(a, b): &(char, char)| (a..=b).contains(&x) || (b..=a).contains(&x);
                    members.iter().any(inside) != neg
                };
                (Box::new(accepts), &rest[i..])
            }
            _ => (Box::new(move |x| x == c), rest),
        };
        let tail = naive_text(rest, k.get(1..).unwrap_or(&[]))?;
        Some(tail && k.first().is_some_and(|&x| accepts(x)))
    }

    /// Escapes every character, so the pattern matches exactly `s`.
    fn escape(s: &str) -> String {
        s.chars().flat_map(|c| ['\\', c]).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_naive_piece_matcher(
            pieces in prop::collection::vec(0..PIECES.len(), 0..10),
            key in "[ab*]{0,10}",
        ) {
            let text: String = pieces.iter().map(|&i| PIECES[i].0).collect();
            let chars: Vec<char> = key.chars().collect();
            let expected = naive_pieces(&pieces, &chars);
            let p = Pattern::compile(&text).unwrap();
            prop_assert_eq!(p.matches(&key), expected, "pattern {:?} key {:?}", text, key);
            if expected {
                prop_assert!(key.starts_with(p.literal_prefix()));
            }
            if p.matches_everything() {
                prop_assert!(expected);
            }
        }

        #[test]
        fn agrees_with_naive_text_matcher(
            pattern in "[ab\\-\\]\\[^!*?\\\\é]{0,9}",
            key in "[ab\\-\\]\\[^!*?\\\\é]{0,7}",
        ) {
            let pc: Vec<char> = pattern.chars().collect();
            let kc: Vec<char> = key.chars().collect();
            let expected = naive_text(&pc, &kc);
            match Pattern::compile(&pattern) {
                Ok(p) => prop_assert_eq!(Some(p.matches(&key)), expected, "{:?} {:?}", pattern, key),
                Err(e) => {
                    prop_assert_eq!(expected, None, "{:?} rejected: {}", pattern, e);
                    let echoed = matches!(e, Error::InvalidPattern { pattern: ref q, .. } if *q == pattern);
                    prop_assert!(echoed);
                }
            }
        }

        #[test]
        fn escaped_string_matches_only_itself(s in "\\PC{0,12}", other in "\\PC{0,12}") {
            let p = Pattern::compile(&escape(&s)).unwrap();
            prop_assert!(p.matches(&s));
            prop_assert_eq!(p.literal_prefix(), s.as_str());
            prop_assert_eq!(p.matches(&other), other == s);
        }

        #[test]
        fn arbitrary_input_never_panics(pattern in any::<String>(), key in any::<String>()) {
            if let Ok(p) = Pattern::compile(&pattern) {
                let _ = p.matches(&key);
                let _ = p.matches(&pattern);
                prop_assert!(key.starts_with(p.literal_prefix()) || !p.matches(&key));
            }
        }

        #[test]
        fn star_wrapped_pattern_finds_substrings(s in "[a-cé]{0,6}", key in "[a-cé]{0,10}") {
            let p = Pattern::compile(&format!("*{}*", escape(&s))).unwrap();
            prop_assert_eq!(p.matches(&key), key.contains(s.as_str()));
        }
    }
}
