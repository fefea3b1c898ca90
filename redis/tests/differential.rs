//! Differential test: the same pseudo-random sequence of operations on the in-process `Store`
//! and on Redis (standalone, then cluster), every result compared. TTLs are 0 or an hour, so
//! nothing expires during the run and the two can be compared step by step.

mod common;

use std::time::Duration;

use common::{same, unique_namespace};
use scriptling_kv::{AsyncKv, Error, Store, Ttl, Value};

/// What one operation returned, in a comparable form.
#[derive(Debug)]
enum Out {
    Unit,
    Bool(bool),
    Int(i64),
    Value(Option<Value>),
    Keys(Vec<String>),
    Len(usize),
    Ttl(Ttl),
    Err(Error),
}

fn agree(a: &Out, b: &Out) -> bool {
    match (a, b) {
        (Out::Unit, Out::Unit) => true,
        (Out::Bool(x), Out::Bool(y)) => x == y,
        (Out::Int(x), Out::Int(y)) => x == y,
        (Out::Value(x), Out::Value(y)) => match (x, y) {
            (Some(x), Some(y)) => same(x, y),
            (None, None) => true,
            _ => false,
        },
        (Out::Keys(x), Out::Keys(y)) => x == y,
        (Out::Len(x), Out::Len(y)) => x == y,
        (Out::Ttl(Ttl::Expires(x)), Out::Ttl(Ttl::Expires(y))) => {
            x.abs_diff(*y) < Duration::from_secs(5)
        }
        (Out::Ttl(x), Out::Ttl(y)) => x == y,
        (Out::Err(x), Out::Err(y)) => x == y,
        _ => false,
    }
}

fn values() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Bool(true),
        Value::Int(0),
        Value::Int(5),
        Value::Int(i64::MAX),
        Value::Int(i64::MIN),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(f64::NAN),
        Value::Float(2.5),
        Value::Str("5".into()),
        Value::Str(String::new()),
        Value::Bytes(vec![0xff, 0]),
        Value::List(vec![Value::Float(-0.0), Value::Int(1)]),
        Value::List(vec![Value::Float(0.0), Value::Int(1)]),
        Value::Dict([("a".to_owned(), Value::Int(1))].into_iter().collect()),
    ]
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize].clone()
    }
}

const KEYS: [&str; 6] = ["a", "b", "c", "ab", "x:1", "*"];
const PATTERNS: [&str; 6] = ["*", "a*", "?", "[ab]", "x:*", "\\*"];
const DELTAS: [i64; 5] = [1, -1, 7, i64::MAX, i64::MIN];

/// Runs operation number `op` (with arguments drawn from `rng`) on `kv`.
async fn step<K: AsyncKv>(kv: &K, op: u64, rng: &mut Rng) -> (String, Out) {
    let key = rng.pick(&KEYS);
    let value = rng.pick(&values());
    let ttl = if rng.next() & 1 == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs(3600)
    };
    let delta = rng.pick(&DELTAS);
    let desc = format!("op {op} key {key:?} value {value:?} ttl {ttl:?} delta {delta}");
    let out = match op {
        0 => kv.set(key, value).await.map(|()| Out::Unit),
        1 => kv.set_with_ttl(key, value, ttl).await.map(|()| Out::Unit),
        2 => kv.get(key).await.map(Out::Value),
        3 => kv.get_or(key, value).await.map(|v| Out::Value(Some(v))),
        4 => kv.delete(key).await.map(Out::Bool),
        5 => kv.incr(key, delta).await.map(Out::Int),
        6 => kv.incr_with_ttl(key, delta, ttl).await.map(Out::Int),
        7 => kv.exists(key).await.map(Out::Bool),
        8 => kv.ttl(key).await.map(Out::Ttl),
        9 => kv.expire(key, ttl).await.map(Out::Bool),
        10 => kv.persist(key).await.map(Out::Bool),
        11 => kv.set_if_absent(key, value, Some(ttl)).await.map(Out::Bool),
        12 => kv.swap(key, value, Some(ttl)).await.map(Out::Value),
        13 => kv.take(key).await.map(Out::Value),
        14 => kv
            .compare_and_set(key, &value, Value::Int(1))
            .await
            .map(Out::Bool),
        15 => kv.compare_and_delete(key, &value).await.map(Out::Bool),
        16 => kv
            .update(key, |v| match v {
                Value::Int(n) => Value::Int(n.wrapping_add(1)),
                other => Value::List(vec![other.clone()]),
            })
            .await
            .map(Out::Value),
        17 => kv.keys(rng.pick(&PATTERNS)).await.map(Out::Keys),
        18 => kv.len().await.map(Out::Len),
        19 => kv.get_and_expire(key, ttl).await.map(Out::Value),
        20 => kv.set_if_absent(key, value, None).await.map(Out::Bool),
        _ => kv.is_empty().await.map(Out::Bool),
    };
    (desc, out.unwrap_or_else(Out::Err))
}

async fn differential<K: AsyncKv>(kv: &K, seed: u64, steps: usize) {
    let store = Store::new();
    let mut ops = Rng(seed);
    for i in 0..steps {
        let op = ops.next() % 22;
        let args = ops.next() | 1;
        let (desc, expected) = step(&store, op, &mut Rng(args)).await;
        let (_, got) = step(kv, op, &mut Rng(args)).await;
        assert!(
            agree(&expected, &got),
            "step {i}, {desc}: Store gave {expected:?}, Redis {got:?}"
        );
    }
}

#[test]
fn redis_agrees_with_store() {
    let Some(url) = common::redis_url() else {
        return;
    };
    common::run(async {
        for seed in [1, 2, 3] {
            let kv = common::connect(&url, &unique_namespace("diff")).await;
            differential(&kv, 0x5eed_0000 + seed, 1500).await;
            kv.clear().await.unwrap();
        }
    });
}

#[test]
fn cluster_agrees_with_store() {
    let Some(nodes) = common::cluster_nodes() else {
        return;
    };
    common::run(async {
        for seed in [4, 5] {
            let kv = common::connect_cluster(&nodes, &unique_namespace("diff")).await;
            differential(&kv, 0x5eed_0000 + seed, 1500).await;
            kv.clear().await.unwrap();
        }
    });
}
