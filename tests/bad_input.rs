//! Hostile and extreme input: odd keys, malformed and pathological patterns, extreme TTLs and
//! deltas, deep and huge values. Every call returns normally; nothing panics.

use std::collections::BTreeMap;
use std::time::Duration;

use scriptling_kv::{Error, Store, Ttl, Value};

#[path = "support/clocked.rs"]
mod clocked;
use clocked::clocked;

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Runs every single-key operation on `key`, checking the results of a fresh key's life.
fn full_life(s: &Store, key: &str) {
    assert!(!s.exists(key));
    assert_eq!(s.get(key), None);
    assert_eq!(s.ttl(key), Ttl::Missing);
    assert!(!s.expire(key, Duration::from_secs(1)));
    assert!(!s.persist(key));
    assert!(!s.delete(key));
    s.set(key, "v");
    assert_eq!(s.get(key), Some(Value::from("v")));
    assert_eq!(s.get_or(key, 0), Value::from("v"));
    assert_eq!(s.get_with(key, |v| v.as_str().map(str::len)), Some(Some(1)));
    assert_eq!(s.incr(key, 1), Err(Error::NotAnInteger));
    assert!(s.expire(key, Duration::from_secs(10)));
    assert_eq!(s.ttl(key), Ttl::Expires(Duration::from_secs(10)));
    assert!(s.persist(key));
    assert!(s.delete(key));
    assert_eq!(s.incr(key, 5), Ok(5));
    assert_eq!(s.incr(key, -6), Ok(-1));
    s.set_with_ttl(key, Value::Null, Duration::from_secs(3));
    assert_eq!(s.get(key), Some(Value::Null));
    assert!(s.exists(key));
}

#[test]
fn empty_key_is_an_ordinary_key() {
    let (s, _clock) = clocked();
    full_life(&s, "");
    s.set("a", 1);
    assert_eq!(s.keys("").unwrap(), [""]);
    assert_eq!(s.keys("*").unwrap(), ["", "a"]);
    assert_eq!(s.keys("?").unwrap(), ["a"]);
    assert!(s.delete(""));
    assert_eq!(s.keys("").unwrap(), Vec::<String>::new());
}

#[test]
fn one_mebibyte_key() {
    let (s, _clock) = clocked();
    let key = "k".repeat(1 << 20);
    full_life(&s, &key);
    let almost = "k".repeat((1 << 20) - 1);
    s.set(&almost, 2);
    assert_ne!(s.get(&key), s.get(&almost));
    assert_eq!(s.keys("*").unwrap().len(), 2);
    assert_eq!(s.keys("k*").unwrap().len(), 2);
    // The key itself as a (literal) pattern matches only itself.
    assert_eq!(s.keys(&key).unwrap(), std::slice::from_ref(&key));
    let with_q = format!("{}?", "k".repeat((1 << 20) - 1));
    assert_eq!(s.keys(&with_q).unwrap(), std::slice::from_ref(&key));
    assert!(s.delete(&key));
    assert!(!s.exists(&key));
    assert!(s.exists(&almost));
}

#[test]
fn keys_around_the_inline_length_are_distinct_and_exact() {
    // The store keeps keys of up to 30 bytes inline and longer ones on the heap (an internal
    // detail): keys on both sides of that limit, and keys equal to each other's padded form,
    // must behave as ordinary distinct keys.
    let (s, _clock) = clocked();
    let mut keys: Vec<String> = Vec::new();
    for n in 28..=33 {
        keys.push("k".repeat(n));
        keys.push(format!("{}\0", "k".repeat(n - 1))); // same length, NUL last
        keys.push(format!("{}é", "k".repeat(n - 2))); // a 2-byte char ending at byte n
    }
    for k in &keys {
        full_life(&s, k);
    }
    for (i, k) in keys.iter().enumerate() {
        s.set(k, i as i64);
    }
    assert_eq!(s.len(), keys.len());
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(s.get(k), Some(Value::Int(i as i64)), "{k:?}");
    }
    let mut listed = s.keys("k*").unwrap();
    let mut expected = keys.clone();
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected);
    assert_eq!(s.keys(&"k".repeat(30)).unwrap(), ["k".repeat(30)]);
    assert_eq!(s.keys(&format!("{}?", "k".repeat(30))).unwrap().len(), 3);
    for k in &keys {
        assert!(s.delete(k), "{k:?}");
    }
    assert!(s.is_empty());
}

#[test]
fn non_ascii_and_nul_keys_are_distinct_and_exact() {
    let (s, _clock) = clocked();
    let keys = [
        "ключ",
        "🔑",
        "é",        // precomposed
        "e\u{301}", // e + combining accent: a different key (no normalisation)
        "a\0b",
        "a",
        "\0",
        "\u{FEFF}",
        "日本語:キー",
    ];
    for k in keys {
        full_life(&s, k);
    }
    for (i, k) in keys.iter().enumerate() {
        s.set(k, i as i64);
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(s.get(k), Some(Value::Int(i as i64)), "{k:?}");
    }
    assert_eq!(s.len(), keys.len());
    assert_eq!(s.get("ab"), None);
    assert_eq!(s.get("a\0"), None);
    // `?` is one character (a Unicode scalar value), whatever its UTF-8 length.
    assert_eq!(s.keys("?").unwrap(), ["\0", "a", "é", "\u{FEFF}", "🔑"]);
    assert_eq!(s.keys("??").unwrap(), ["e\u{301}"]);
    assert_eq!(s.keys("a?b").unwrap(), ["a\0b"]);
    assert_eq!(s.keys("a\0*").unwrap(), ["a\0b"]);
    assert_eq!(s.keys("*:*").unwrap(), ["日本語:キー"]);
    assert_eq!(s.keys("[а-я]*").unwrap(), ["ключ"]); // Cyrillic range
    assert_eq!(s.keys("[^a]").unwrap(), ["\0", "é", "\u{FEFF}", "🔑"]);
    let all = s.keys("*").unwrap();
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(all, sorted);
}

#[test]
fn glob_metacharacters_in_keys_are_literal() {
    let (s, _clock) = clocked();
    let keys = [
        "*", "?", "[abc]", "a\\b", "[", "]", "\\", "^", "!x", "a*", "[^a]", "{a,b}",
    ];
    for k in keys {
        full_life(&s, k);
    }
    for (i, k) in keys.iter().enumerate() {
        s.set(k, i as i64);
    }
    s.set("a", 100);
    s.set("b", 101);
    s.set("abc", 102);
    // Single-key operations never interpret the key as a pattern.
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(s.get(k), Some(Value::Int(i as i64)), "{k:?}");
    }
    assert!(s.delete("*"));
    assert!(s.exists("a") && s.exists("b") && s.exists("abc") && s.exists("a*"));
    assert!(s.delete("?"));
    assert!(s.exists("a"));
    assert_eq!(s.incr("[abc]", 1), Ok(3));
    assert_eq!(s.get("abc"), Some(Value::Int(102)));
    // With escapes, patterns select them literally.
    assert_eq!(s.keys("\\[abc\\]").unwrap(), ["[abc]"]);
    assert_eq!(s.keys("\\[").unwrap(), ["["]);
    assert_eq!(s.keys("\\\\").unwrap(), ["\\"]);
    assert_eq!(s.keys("a\\\\b").unwrap(), ["a\\b"]);
    assert_eq!(s.keys("a\\*").unwrap(), ["a*"]);
    assert_eq!(s.keys("]").unwrap(), ["]"]);
    assert_eq!(s.keys("^").unwrap(), ["^"]);
    assert_eq!(s.keys("!*").unwrap(), ["!x"]);
    assert_eq!(s.keys("{a,b}").unwrap(), ["{a,b}"]);
    assert_eq!(s.keys("\\[^a\\]").unwrap(), ["[^a]"]);
}

#[test]
fn malformed_patterns_are_invalid_pattern_errors() {
    let (s, _clock) = clocked();
    for k in ["[", "[abc", "abc\\", "[^", "abc", "a"] {
        s.set(k, 1);
    }
    for pattern in [
        "[", "[abc", "abc\\", "[^", "\\", "*[", "a[b-", "[a\\", "x[^\\",
    ] {
        match s.keys(pattern) {
            Err(Error::InvalidPattern {
                pattern: echoed,
                reason,
            }) => {
                assert_eq!(echoed, pattern);
                assert!(!reason.is_empty());
            }
            other => panic!("{pattern:?}: expected InvalidPattern, got {other:?}"),
        }
    }
    // Well-formed neighbours are fine.
    assert_eq!(s.keys("\\[").unwrap(), ["["]);
    assert_eq!(s.keys("abc\\\\").unwrap(), ["abc\\"]);
    assert_eq!(s.keys("[[]").unwrap(), ["["]);
    assert_eq!(s.keys("[a]").unwrap(), ["a"]);
}

#[test]
fn pathological_patterns_give_the_right_answer() {
    let (s, _clock) = clocked();
    let a100 = "a".repeat(100);
    let a100b = format!("{a100}b");
    s.set(&a100, 1);
    s.set(&a100b, 2);
    assert_eq!(
        s.keys("a*a*a*a*a*a*a*a*a*b").unwrap(),
        std::slice::from_ref(&a100b)
    );
    assert_eq!(s.keys("a*a*a*a*a*a*a*a*a*c").unwrap(), Vec::<String>::new());
    assert_eq!(
        s.keys("*a*a*a*a*a*a*a*a*a*a").unwrap(),
        std::slice::from_ref(&a100)
    );

    let star_q = "*?".repeat(50_000);
    let (s, _clock) = clocked();
    let long = "x".repeat(100_000);
    let exact = "y".repeat(50_000);
    let short = "z".repeat(49_999);
    s.set(&long, 1);
    s.set(&exact, 2);
    s.set(&short, 3);
    // `*?` × 50 000 means "at least 50 000 characters".
    assert_eq!(s.keys(&star_q).unwrap(), [long.clone(), exact.clone()]);
    let star_q_b = format!("{star_q}b");
    assert_eq!(s.keys(&star_q_b).unwrap(), Vec::<String>::new());
    let q_star = "?*".repeat(50_000);
    assert_eq!(s.keys(&q_star).unwrap(), [long, exact]);
}

#[test]
fn duration_max_ttl_saturates_and_never_wraps() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 1, Duration::MAX);
    assert!(s.exists("k"));
    let remaining = match s.ttl("k") {
        Ttl::Expires(d) => d,
        other => panic!("{other:?}"),
    };
    assert!(remaining > 290 * YEAR, "{remaining:?}");
    assert!(s.ttl("k").as_secs() > 0);
    clock.advance(100 * YEAR);
    assert_eq!(s.get("k"), Some(Value::Int(1)));
    assert!(matches!(s.ttl("k"), Ttl::Expires(d) if d > 190 * YEAR && d < remaining));
    assert_eq!(s.purge_expired(), 0);
    assert!(s.exists("k"));

    // On the real clock too.
    let real = Store::builder().background_cleanup(false).build();
    real.set_with_ttl("k", 1, Duration::MAX);
    assert!(real.exists("k"));
    assert!(matches!(real.ttl("k"), Ttl::Expires(d) if d > 290 * YEAR));
    assert_eq!(real.purge_expired(), 0);
    // And `Ttl::as_secs` itself does not overflow on the largest duration.
    assert!(Ttl::Expires(Duration::MAX).as_secs() > 0);
}

#[test]
fn one_nanosecond_ttl() {
    let (s, clock) = clocked();
    s.set_with_ttl("k", 1, Duration::from_nanos(1));
    assert!(s.exists("k"));
    assert_eq!(s.ttl("k"), Ttl::Expires(Duration::from_nanos(1)));
    assert_eq!(s.ttl("k").as_secs(), 1);
    clock.advance(Duration::from_nanos(1));
    assert!(!s.exists("k"));
    assert_eq!(s.ttl("k"), Ttl::Missing);
    assert_eq!(s.purge_expired(), 1);
    // `expire` with 1 ns as well.
    s.set("j", 2);
    assert!(s.expire("j", Duration::from_nanos(1)));
    clock.advance(Duration::from_nanos(1));
    assert_eq!(s.get("j"), None);
    // Real clock: gone soon after.
    let real = Store::builder().background_cleanup(false).build();
    real.set_with_ttl("k", 1, Duration::from_nanos(1));
    std::thread::sleep(Duration::from_millis(1));
    assert_eq!(real.get("k"), None);
    assert_eq!(real.purge_expired(), 1);
}

#[test]
fn expire_with_duration_max() {
    let (s, clock) = clocked();
    s.set("k", "v");
    clock.advance(YEAR);
    assert!(s.expire("k", Duration::MAX));
    assert!(matches!(s.ttl("k"), Ttl::Expires(d) if d > 290 * YEAR));
    clock.advance(100 * YEAR);
    assert_eq!(s.get("k"), Some(Value::from("v")));
    assert!(s.persist("k"));
    assert_eq!(s.ttl("k"), Ttl::Persistent);
    // A huge TTL on a key is still replaced by a short one.
    assert!(s.expire("k", Duration::MAX));
    assert!(s.expire("k", Duration::from_secs(1)));
    assert_eq!(s.ttl("k"), Ttl::Expires(Duration::from_secs(1)));
}

#[test]
fn incr_with_extreme_deltas() {
    let (s, _clock) = clocked();
    assert_eq!(s.incr("min", i64::MIN), Ok(i64::MIN));
    assert_eq!(s.incr("min", -1), Err(Error::Overflow));
    assert_eq!(s.incr("min", i64::MIN), Err(Error::Overflow));
    assert_eq!(s.incr("min", i64::MAX), Ok(-1));
    assert_eq!(s.incr("min", i64::MAX), Ok(i64::MAX - 1));
    assert_eq!(s.incr("min", i64::MAX), Err(Error::Overflow));
    assert_eq!(s.incr("min", 1), Ok(i64::MAX));
    assert_eq!(s.incr("min", 1), Err(Error::Overflow));
    assert_eq!(s.get("min"), Some(Value::Int(i64::MAX)));
    assert_eq!(s.incr("min", i64::MIN), Ok(-1));

    assert_eq!(s.incr("max", i64::MAX), Ok(i64::MAX));
    assert_eq!(s.incr("max", i64::MAX), Err(Error::Overflow));
    assert_eq!(s.incr("max", i64::MIN), Ok(-1));
    assert_eq!(s.incr("max", 0), Ok(-1));
    assert_eq!(s.get("max"), Some(Value::Int(-1)));
}

/// A list nested `depth` levels around `leaf`, built without recursion.
fn nested_list(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |inner, _| Value::List(vec![inner]))
}

fn nested_dict(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |inner, _| {
        Value::Dict(BTreeMap::from([("k".to_string(), inner)]))
    })
}

/// The nesting depth and the leaf, found without recursion.
fn depth_and_leaf(mut v: &Value) -> (usize, &Value) {
    let mut depth = 0;
    loop {
        match v {
            Value::List(items) if items.len() == 1 => v = &items[0],
            Value::Dict(m) if m.len() == 1 => v = &m["k"],
            _ => return (depth, v),
        }
        depth += 1;
    }
}

#[test]
fn deeply_nested_values_round_trip() {
    let (s, _clock) = clocked();
    s.set("list", nested_list(1000, Value::from("bottom")));
    s.set("dict", nested_dict(1000, Value::Int(7)));
    let got = s.get("list").unwrap();
    assert_eq!(depth_and_leaf(&got), (1000, &Value::from("bottom")));
    assert_eq!(got, nested_list(1000, Value::from("bottom")));
    assert_ne!(got, nested_list(1000, Value::from("other")));
    let got = s.get("dict").unwrap();
    assert_eq!(depth_and_leaf(&got), (1000, &Value::Int(7)));
    assert_eq!(s.get_with("dict", |v| depth_and_leaf(v).0), Some(1000));
    assert_eq!(s.incr("list", 1), Err(Error::NotAnInteger));
    // Replacing and deleting drop the old deep values.
    s.set("list", nested_list(1000, Value::Null));
    assert!(s.delete("dict"));
    s.clear();
    assert!(s.is_empty());
}

#[test]
fn huge_values_round_trip() {
    let (s, clock) = clocked();
    let mut big = vec![0u8; 10 << 20];
    for (i, chunk) in big.chunks_mut(4096).enumerate() {
        chunk[0] = (i % 251) as u8;
        chunk[4095] = 0xff;
    }
    s.set_with_ttl("bytes", Value::Bytes(big.clone()), Duration::from_secs(5));
    s.set("str", "x".repeat(10 << 20));
    let got = s.get("bytes").unwrap();
    assert_eq!(got.as_bytes().map(<[u8]>::len), Some(10 << 20));
    assert!(got.as_bytes() == Some(&big[..]));
    assert_eq!(
        s.get_with("bytes", |v| v.as_bytes().map(|b| b[(10 << 20) - 1])),
        Some(Some(big[(10 << 20) - 1]))
    );
    assert_eq!(
        s.get_with("str", |v| v.as_str().map(str::len)),
        Some(Some(10 << 20))
    );
    assert_eq!(s.incr("bytes", 1), Err(Error::NotAnInteger));
    assert_eq!(s.ttl("bytes"), Ttl::Expires(Duration::from_secs(5)));
    // A list of many small values.
    s.set("many", Value::List((0..100_000).map(Value::Int).collect()));
    assert_eq!(
        s.get_with("many", |v| v.as_list().map(<[Value]>::len)),
        Some(Some(100_000))
    );
    clock.advance(Duration::from_secs(5));
    assert_eq!(s.get("bytes"), None);
    assert_eq!(s.purge_expired(), 1);
}

#[test]
fn odd_floats_are_stored_as_given() {
    let (s, _clock) = clocked();
    s.set("nan", f64::NAN);
    s.set("inf", f64::INFINITY);
    s.set("neg0", -0.0f64);
    assert!(s.get("nan").unwrap().as_float().unwrap().is_nan());
    assert_eq!(s.get("inf"), Some(Value::Float(f64::INFINITY)));
    assert!(s
        .get("neg0")
        .unwrap()
        .as_float()
        .unwrap()
        .is_sign_negative());
    assert_eq!(s.incr("nan", 1), Err(Error::NotAnInteger));
}
