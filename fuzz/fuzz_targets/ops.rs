//! `ops`: random operation sequences, with time steps, applied to a real [`Store`] on a
//! [`TestClock`] and to a sequential model written here from SPEC.md (a `BTreeMap` of held keys
//! with deadlines and its own clock; it never calls the crate). Every result is compared, and
//! after every step the whole observable state (each key's `get` and `ttl`, `len`) too.
//!
//! The model's notion of "held": a key is held from the write that creates it until `delete`,
//! `clear` or a purge removes it. An expired key stays held (and counted by `len`) until then,
//! and a write to it revives it in place. So `purge_expired` must return exactly the number of
//! held keys whose deadline has passed, and afterwards `len` is the number of live keys.
//!
//! Time: durations are `mantissa << shift` nanoseconds, spread from 1 ns to about 2^58 ns (so
//! TTLs land on every level of the timing wheel, tick boundaries included, and in its overflow
//! list). The model clock stops advancing at 2^62 ns so nothing reaches the store's documented
//! 292-year saturation point (the `ttl_arith` target covers that).
#![no_main]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scriptling_kv::{Error, Store, TestClock, Ttl, Value};

/// The key space: small, so operations collide; includes the empty key, a non-ASCII one, and
/// one longer than the 30 bytes the store keeps inline (both key representations are compared).
const KEYS: [&str; 7] = [
    "",
    "a",
    "b",
    "ab",
    "k:1",
    "é",
    "k:2:a-key-longer-than-thirty-bytes",
];

type Matcher = fn(&str) -> bool;

/// `keys` patterns and what each means, decided here without the crate's matcher.
const PATTERNS: [(&str, Matcher); 8] = [
    ("*", |_| true),
    ("", |k| k.is_empty()),
    ("a*", |k| k.starts_with('a')),
    ("*b", |k| k.ends_with('b')),
    ("?", |k| k.chars().count() == 1),
    ("[ak]*", |k| k.starts_with('a') || k.starts_with('k')),
    ("\\é", |k| k == "é"),
    ("k:[0-9]", |k| k == "k:1"),
];

/// The model clock does not go past this (see the module docs).
const MODEL_TIME_LIMIT: u128 = 1 << 62;

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Key(u8);

impl Key {
    fn name(self) -> &'static str {
        KEYS[usize::from(self.0) % KEYS.len()]
    }
}

/// `mantissa << (shift % 43)` nanoseconds.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Dur {
    mantissa: u16,
    shift: u8,
}

impl Dur {
    fn nanos(self) -> u64 {
        u64::from(self.mantissa) << (self.shift % 43)
    }

    fn duration(self) -> Duration {
        Duration::from_nanos(self.nanos())
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Val {
    Null,
    Bool(bool),
    SmallInt(i8),
    Int(i64),
    Float(i16),
    Str(u8),
    Bytes(Vec<u8>),
    List(Vec<i8>),
}

impl Val {
    fn value(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::SmallInt(i) => Value::Int(i64::from(*i)),
            Val::Int(i) => Value::Int(*i),
            Val::Float(f) => Value::Float(f64::from(*f) / 4.0),
            Val::Str(s) => Value::Str(format!("s{s}")),
            Val::Bytes(b) => Value::Bytes(b.iter().copied().take(8).collect()),
            Val::List(l) => Value::List(
                l.iter()
                    .take(4)
                    .map(|&i| Value::Int(i64::from(i)))
                    .collect(),
            ),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Delta {
    Small(i8),
    Big(i64),
    Max,
    Min,
}

impl Delta {
    fn get(self) -> i64 {
        match self {
            Delta::Small(d) => i64::from(d),
            Delta::Big(d) => d,
            Delta::Max => i64::MAX,
            Delta::Min => i64::MIN,
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Set(Key, Val),
    SetTtl(Key, Val, Dur),
    Get(Key),
    GetOr(Key, i8),
    GetWith(Key),
    Delete(Key),
    Incr(Key, Delta),
    Keys(u8),
    Exists(Key),
    Ttl(Key),
    Expire(Key, Dur),
    Persist(Key),
    Clear,
    Purge,
    Advance(Dur),
}

/// A held key in the model: its value and deadline (nanoseconds since the origin), if any.
type Held = (Value, Option<u128>);

/// The sequential model of the documented contract.
#[derive(Debug, Default)]
struct Model {
    now: u128,
    held: BTreeMap<&'static str, Held>,
}

impl Model {
    fn live(&self, key: &str) -> Option<&Held> {
        self.held
            .get(key)
            .filter(|(_, deadline)| deadline.is_none_or(|d| d > self.now))
    }

    fn deadline(&self, ttl: Dur) -> Option<u128> {
        match ttl.nanos() {
            0 => None,
            n => Some(self.now + u128::from(n)),
        }
    }

    fn ttl(&self, key: &str) -> Ttl {
        match self.live(key) {
            None => Ttl::Missing,
            Some((_, None)) => Ttl::Persistent,
            Some((_, Some(d))) => Ttl::Expires(Duration::from_nanos(
                u64::try_from(d - self.now).expect("model TTLs fit in u64"),
            )),
        }
    }

    fn get(&self, key: &str) -> Option<Value> {
        self.live(key).map(|(v, _)| v.clone())
    }

    fn set(&mut self, key: &'static str, value: Value, deadline: Option<u128>) {
        self.held.insert(key, (value, deadline));
    }

    fn delete(&mut self, key: &str) -> bool {
        let was_live = self.live(key).is_some();
        self.held.remove(key);
        was_live
    }

    fn incr(&mut self, key: &'static str, delta: i64) -> Result<i64, Error> {
        match self.live(key).cloned() {
            None => {
                self.set(key, Value::Int(delta), None);
                Ok(delta)
            }
            Some((Value::Int(n), deadline)) => {
                let sum = n.checked_add(delta).ok_or(Error::Overflow)?;
                self.set(key, Value::Int(sum), deadline);
                Ok(sum)
            }
            Some(_) => Err(Error::NotAnInteger),
        }
    }

    fn expire(&mut self, key: &'static str, ttl: Dur) -> bool {
        let deadline = self.deadline(ttl);
        match self.live(key).cloned() {
            None => false,
            Some((v, _)) => {
                self.set(key, v, deadline);
                true
            }
        }
    }

    fn persist(&mut self, key: &'static str) -> bool {
        match self.live(key).cloned() {
            Some((v, Some(_))) => {
                self.set(key, v, None);
                true
            }
            _ => false,
        }
    }

    fn keys(&self, matches: Matcher) -> Vec<String> {
        // BTreeMap<&str, _> iterates in byte order, as `keys` must return.
        self.held
            .keys()
            .filter(|k| matches(k) && self.live(k).is_some())
            .map(|k| k.to_string())
            .collect()
    }

    fn purge(&mut self) -> usize {
        let before = self.held.len();
        let now = self.now;
        self.held
            .retain(|_, (_, deadline)| deadline.is_none_or(|d| d > now));
        before - self.held.len()
    }
}

/// Rounds a remaining time up to whole seconds, as SPEC's `Ttl::as_secs` says.
fn ceil_secs(ttl: Ttl) -> i64 {
    match ttl {
        Ttl::Missing => -2,
        Ttl::Persistent => -1,
        Ttl::Expires(d) => {
            let secs = d.as_nanos().div_ceil(1_000_000_000);
            i64::try_from(secs).unwrap_or(i64::MAX)
        }
    }
}

fn same_value(a: &Option<Value>, b: &Option<Value>) -> bool {
    // Model values never hold NaN, so `==` is the right equality.
    a == b
}

fn run(ops: &[Op]) {
    let clock = TestClock::new();
    let store = Store::builder()
        .test_clock(clock.clone())
        .background_cleanup(false)
        .build();
    let mut model = Model::default();
    let mut trace = String::new();

    for (step, op) in ops.iter().enumerate() {
        let _ = writeln!(trace, "{step}: {op:?}");
        let fail = |what: &str, trace: &str| -> ! {
            panic!("divergence at step {step} ({what})\nops so far:\n{trace}");
        };
        match op {
            Op::Set(k, v) => {
                store.set(k.name(), v.value());
                model.set(k.name(), v.value(), None);
            }
            Op::SetTtl(k, v, ttl) => {
                store.set_with_ttl(k.name(), v.value(), ttl.duration());
                model.set(k.name(), v.value(), model.deadline(*ttl));
            }
            Op::Get(k) => {
                let (got, want) = (store.get(k.name()), model.get(k.name()));
                if !same_value(&got, &want) {
                    fail(&format!("get: store {got:?}, model {want:?}"), &trace);
                }
            }
            Op::GetOr(k, d) => {
                let got = store.get_or(k.name(), *d);
                let want = model.get(k.name()).unwrap_or(Value::Int(i64::from(*d)));
                if got != want {
                    fail(&format!("get_or: store {got:?}, model {want:?}"), &trace);
                }
            }
            Op::GetWith(k) => {
                let got = store.get_with(k.name(), |v| v.clone());
                let want = model.get(k.name());
                if !same_value(&got, &want) {
                    fail(&format!("get_with: store {got:?}, model {want:?}"), &trace);
                }
            }
            Op::Delete(k) => {
                let (got, want) = (store.delete(k.name()), model.delete(k.name()));
                if got != want {
                    fail(&format!("delete: store {got}, model {want}"), &trace);
                }
            }
            Op::Incr(k, d) => {
                let got = store.incr(k.name(), d.get());
                let want = model.incr(k.name(), d.get());
                if got != want {
                    fail(&format!("incr: store {got:?}, model {want:?}"), &trace);
                }
            }
            Op::Keys(p) => {
                let (pattern, matches) = PATTERNS[usize::from(*p) % PATTERNS.len()];
                let got = store.keys(pattern);
                let want = model.keys(matches);
                if got.as_ref() != Ok(&want) {
                    fail(
                        &format!("keys({pattern:?}): store {got:?}, model {want:?}"),
                        &trace,
                    );
                }
            }
            Op::Exists(k) => {
                let (got, want) = (store.exists(k.name()), model.live(k.name()).is_some());
                if got != want {
                    fail(&format!("exists: store {got}, model {want}"), &trace);
                }
            }
            Op::Ttl(k) => {
                let (got, want) = (store.ttl(k.name()), model.ttl(k.name()));
                if got != want || got.as_secs() != ceil_secs(want) {
                    fail(&format!("ttl: store {got:?}, model {want:?}"), &trace);
                }
            }
            Op::Expire(k, ttl) => {
                let got = store.expire(k.name(), ttl.duration());
                let want = model.expire(k.name(), *ttl);
                if got != want {
                    fail(&format!("expire: store {got}, model {want}"), &trace);
                }
            }
            Op::Persist(k) => {
                let (got, want) = (store.persist(k.name()), model.persist(k.name()));
                if got != want {
                    fail(&format!("persist: store {got}, model {want}"), &trace);
                }
            }
            Op::Clear => {
                store.clear();
                model.held.clear();
            }
            Op::Purge => {
                let (got, want) = (store.purge_expired(), model.purge());
                if got != want {
                    fail(&format!("purge_expired: store {got}, model {want}"), &trace);
                }
                let live = KEYS.iter().filter(|k| model.live(k).is_some()).count();
                if store.len() != live {
                    fail(
                        &format!("len after purge: store {}, live {live}", store.len()),
                        &trace,
                    );
                }
            }
            Op::Advance(d) => {
                let next = model.now + u128::from(d.nanos());
                if next <= MODEL_TIME_LIMIT {
                    clock.advance(d.duration());
                    model.now = next;
                }
            }
        }

        // The whole observable state, after every step.
        if clock.elapsed().as_nanos() != model.now {
            fail(
                &format!("clock: {:?} vs model {}", clock.elapsed(), model.now),
                &trace,
            );
        }
        if store.len() != model.held.len() || store.is_empty() != model.held.is_empty() {
            fail(
                &format!("len: store {}, model {}", store.len(), model.held.len()),
                &trace,
            );
        }
        for key in KEYS {
            let (got, want) = (store.get(key), model.get(key));
            if !same_value(&got, &want) {
                fail(
                    &format!("state of {key:?}: store {got:?}, model {want:?}"),
                    &trace,
                );
            }
            let (got, want) = (store.ttl(key), model.ttl(key));
            if got != want {
                fail(
                    &format!("ttl of {key:?}: store {got:?}, model {want:?}"),
                    &trace,
                );
            }
        }
    }

    // At the end every expired key must be purgeable, and nothing else.
    let (got, want) = (store.purge_expired(), model.purge());
    if got != want || store.len() != model.held.len() {
        panic!(
            "final purge: store removed {got} (len {}), model {want} (len {})\nops:\n{trace}",
            store.len(),
            model.held.len()
        );
    }
}

fuzz_target!(|ops: Vec<Op>| {
    run(&ops);
});
