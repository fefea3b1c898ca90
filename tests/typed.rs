//! `to_value` / `from_value`: typed values through the store. A round-trip property over
//! generated structs (every serde shape: nested structs, options, enums of each variant kind,
//! maps, sequences, tuples, bytes, the integer extremes), the shapes the docs promise, and the
//! errors: out-of-range integers, wrong shapes naming their path, too deep.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use scriptling_kv::{from_value, to_value, Error, Store, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Role {
    Guest,
    Member(u32),
    Admin { since: i64, scopes: Vec<String> },
    Pair(i8, bool),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    flag: bool,
    ratio: f64,
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Session {
    user: String,
    visits: u64,
    small: i8,
    big: i64,
    unsigned: u32,
    letter: char,
    #[serde(with = "serde_bytes")]
    avatar: Vec<u8>,
    raw: Vec<u8>,
    tags: Vec<String>,
    roles: Vec<Role>,
    inner: Inner,
    maybe: Option<Inner>,
    scores: BTreeMap<String, i32>,
    by_id: HashMap<u16, String>,
    point: (i32, String),
    unit: (),
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Guest),
        any::<u32>().prop_map(Role::Member),
        (any::<i64>(), prop::collection::vec(".{0,5}", 0..3))
            .prop_map(|(since, scopes)| Role::Admin { since, scopes }),
        (any::<i8>(), any::<bool>()).prop_map(|(a, b)| Role::Pair(a, b)),
    ]
}

fn inner() -> impl Strategy<Value = Inner> {
    (any::<bool>(), -1e9f64..1e9, prop::option::of(".{0,8}"))
        .prop_map(|(flag, ratio, note)| Inner { flag, ratio, note })
}

fn session() -> impl Strategy<Value = Session> {
    (
        (
            ".{0,12}",
            0..=i64::MAX as u64,
            any::<i8>(),
            any::<i64>(),
            any::<u32>(),
            any::<char>(),
        ),
        (
            prop::collection::vec(any::<u8>(), 0..16),
            prop::collection::vec(any::<u8>(), 0..4),
            prop::collection::vec(".{0,4}", 0..4),
            prop::collection::vec(role(), 0..4),
        ),
        (
            inner(),
            prop::option::of(inner()),
            prop::collection::btree_map(".{0,4}", any::<i32>(), 0..4),
            prop::collection::hash_map(any::<u16>(), ".{0,4}", 0..4),
            (any::<i32>(), ".{0,4}"),
        ),
    )
        .prop_map(
            |(
                (user, visits, small, big, unsigned, letter),
                (avatar, raw, tags, roles),
                (inner, maybe, scores, by_id, point),
            )| Session {
                user,
                visits,
                small,
                big,
                unsigned,
                letter,
                avatar,
                raw,
                tags,
                roles,
                inner,
                maybe,
                scores,
                by_id,
                point,
                unit: (),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any session survives `to_value`, a trip through the store, and `from_value`.
    #[test]
    fn structs_round_trip_through_the_store(s in session()) {
        let store = Store::new();
        store.set("session", to_value(&s).unwrap());
        let back: Session = from_value(store.get("session").unwrap()).unwrap();
        prop_assert_eq!(back, s);
    }
}

#[test]
fn shapes_are_those_serde_json_gives() {
    let v = to_value(&Inner {
        flag: true,
        ratio: 0.5,
        note: None,
    })
    .unwrap();
    let want = Value::from(BTreeMap::from([
        ("flag".to_string(), Value::Bool(true)),
        ("ratio".to_string(), Value::Float(0.5)),
        ("note".to_string(), Value::Null),
    ]));
    assert_eq!(v, want);
    assert_eq!(to_value(&Role::Guest).unwrap(), Value::from("Guest"));
    assert_eq!(
        to_value(&Role::Member(3)).unwrap(),
        Value::from(BTreeMap::from([("Member".to_string(), Value::Int(3))]))
    );
    assert_eq!(
        to_value(&Role::Pair(1, false)).unwrap(),
        Value::from(BTreeMap::from([(
            "Pair".to_string(),
            Value::List(vec![Value::Int(1), Value::Bool(false)])
        )]))
    );
    assert_eq!(
        to_value(&serde_bytes::ByteBuf::from(vec![1u8, 2])).unwrap(),
        Value::Bytes(vec![1, 2])
    );
    assert_eq!(
        to_value(&vec![1u8, 2]).unwrap(),
        Value::List(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(to_value(&Some(7u8)).unwrap(), Value::Int(7));
    assert_eq!(to_value(&None::<u8>).unwrap(), Value::Null);
    assert_eq!(
        to_value(&HashMap::from([(5u16, "x")])).unwrap(),
        Value::from(BTreeMap::from([("5".to_string(), Value::from("x"))]))
    );
    // A Value converts to itself.
    let deep = Value::List(vec![Value::Bytes(vec![9]), Value::Float(-0.0)]);
    assert_eq!(to_value(&deep).unwrap(), deep);
    // Bytes read back as a Vec<u8> without serde_bytes too.
    assert_eq!(
        from_value::<Vec<u8>>(Value::Bytes(vec![3, 4])).unwrap(),
        [3, 4]
    );
}

#[test]
fn integers_outside_i64_are_errors_never_wraps() {
    assert_eq!(to_value(&(i64::MAX as u64)).unwrap(), Value::Int(i64::MAX));
    for e in [
        to_value(&(i64::MAX as u64 + 1)).unwrap_err(),
        to_value(&u64::MAX).unwrap_err(),
        to_value(&u128::MAX).unwrap_err(),
        to_value(&i128::MIN).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Convert { .. }), "{e:?}");
    }
    // And back: a negative Int into an unsigned field, a big one into a small one.
    assert!(from_value::<u8>(Value::Int(-1)).is_err());
    assert!(from_value::<i8>(Value::Int(300)).is_err());
    assert_eq!(
        from_value::<u64>(Value::Int(i64::MAX)).unwrap(),
        i64::MAX as u64
    );
}

#[test]
fn a_wrong_shape_names_its_path() {
    let mut v = to_value(&Inner {
        flag: true,
        ratio: 1.0,
        note: None,
    })
    .unwrap();
    if let Value::Dict(d) = &mut v {
        d.insert("flag".into(), Value::from("yes"));
    }
    match from_value::<Inner>(v) {
        Err(Error::Convert { path, reason }) => {
            assert_eq!(path, "flag");
            assert!(reason.contains("invalid type"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Nested: a list index and a field below it.
    let v = Value::from(BTreeMap::from([(
        "roles".to_string(),
        Value::List(vec![
            Value::from("Guest"),
            Value::from(BTreeMap::from([("Member".to_string(), Value::from("x"))])),
        ]),
    )]));
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Roles {
        roles: Vec<Role>,
    }
    match from_value::<Roles>(v) {
        Err(e @ Error::Convert { .. }) => {
            let Error::Convert { path, .. } = &e else {
                unreachable!()
            };
            assert_eq!(path, "roles[1].Member", "{e}");
            assert!(e.to_string().contains("roles[1].Member"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // A missing field.
    assert!(matches!(
        from_value::<Inner>(Value::from(BTreeMap::<String, Value>::new())),
        Err(Error::Convert { .. })
    ));
    // Not a dict at all.
    assert!(from_value::<Inner>(Value::Int(1)).is_err());
}

/// A recursive type nested deeper than the limit is an error, not a stack overflow; at the
/// limit it converts.
#[test]
fn depth_is_bounded_both_ways() {
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Node {
        next: Option<Box<Node>>,
    }
    fn chain(n: usize) -> Node {
        let mut node = Node { next: None };
        for _ in 0..n {
            node = Node {
                next: Some(Box::new(node)),
            };
        }
        node
    }
    let ok = chain(100);
    let v = to_value(&ok).unwrap();
    assert_eq!(from_value::<Node>(v).unwrap(), ok);
    assert!(to_value(&chain(1_000)).is_err());
    // A deep Value read as a recursive type stops too.
    let mut deep = Value::Null;
    for _ in 0..100_000 {
        deep = Value::from(BTreeMap::from([("next".to_string(), deep)]));
    }
    assert!(from_value::<Node>(deep).is_err());
}
