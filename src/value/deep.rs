//! The deep operations of [`Value`], which must not recurse without bound: `Clone`,
//! `PartialEq` and [`Value::dispose`] (through `drop_within`) recurse like the derived impls for
//! the first [`RECURSION_LIMIT`] levels and go on with an explicit stack on the heap below, with
//! the thread-local recursion count that keeps `Clone` within that limit.

use std::cell::Cell;
use std::collections::{btree_map, BTreeMap};
use std::slice;

use super::Value;

/// How many container levels `Clone`, `dispose` and `PartialEq` handle by plain recursion (as the
/// derived impls do, and as fast) before they go on with an explicit stack on the heap. Small
/// enough for any thread's stack, also unoptimized; deep enough for ordinary documents never to
/// leave the fast path.
const RECURSION_LIMIT: u32 = 64;

std::thread_local! {
    /// How many `List`/`Dict` clones are in progress on this thread's stack, each inside the
    /// previous one: what keeps `Clone` (whose recursion goes through `Vec`'s and `BTreeMap`'s
    /// own impls, which cannot pass a depth along) within [`RECURSION_LIMIT`].
    static RECURSION: Cell<u32> = const { Cell::new(0) };
}

/// Proof of one more level of recursion on this thread; leaving restores the count.
struct Level(u32);

impl Level {
    /// One more level, or `None` if this thread is at [`RECURSION_LIMIT`] (or its thread-local
    /// storage is gone): then the caller continues with an explicit stack.
    #[inline]
    fn enter() -> Option<Level> {
        RECURSION
            .try_with(|depth| {
                let outer = depth.get();
                (outer < RECURSION_LIMIT).then(|| {
                    depth.set(outer + 1);
                    Level(outer)
                })
            })
            .ok()
            .flatten()
    }
}

impl Drop for Level {
    #[inline]
    fn drop(&mut self) {
        let _ = RECURSION.try_with(|depth| depth.set(self.0));
    }
}

impl Value {
    /// Whether this is a `List` or `Dict` with at least one element: the values that the deep
    /// `Clone` and `dispose` below walk with an explicit stack past [`RECURSION_LIMIT`].
    #[inline]
    fn has_children(&self) -> bool {
        match self {
            Value::List(items) => !items.is_empty(),
            Value::Dict(map) => !map.is_empty(),
            _ => false,
        }
    }
}

/// A deep copy, exactly as derived. Scalars are a plain match; containers recurse like the
/// derived impl for the first 64 levels and are copied with an explicit stack below
/// that, so any depth is fine.
impl Clone for Value {
    #[inline]
    fn clone(&self) -> Self {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Float(x) => Value::Float(*x),
            Value::Str(s) => Value::Str(s.clone()),
            Value::Bytes(b) => Value::Bytes(b.clone()),
            // (`clone_nested` relies on empty containers never reaching it.)
            Value::List(items) if items.is_empty() => Value::List(Vec::new()),
            Value::Dict(map) if map.is_empty() => Value::Dict(BTreeMap::new()),
            Value::List(items) => match Level::enter() {
                Some(_level) => Value::List(items.clone()),
                None => clone_nested(self),
            },
            Value::Dict(map) => match Level::enter() {
                Some(_level) => Value::Dict(map.clone()),
                None => clone_nested(self),
            },
        }
    }
}

/// A container being copied by [`clone_nested`]: the source elements still to copy and the
/// copies made so far.
enum CloneFrame<'a> {
    List(slice::Iter<'a, Value>, Vec<Value>),
    Dict(btree_map::Iter<'a, String, Value>, Vec<(String, Value)>),
}

impl<'a> CloneFrame<'a> {
    /// The frame copying `v`, if it is a container with elements.
    fn of(v: &'a Value) -> Option<Self> {
        match v {
            Value::List(items) if !items.is_empty() => Some(CloneFrame::List(
                items.iter(),
                Vec::with_capacity(items.len()),
            )),
            Value::Dict(map) if !map.is_empty() => {
                Some(CloneFrame::Dict(map.iter(), Vec::with_capacity(map.len())))
            }
            _ => None,
        }
    }
}

/// `Clone` of a container past [`RECURSION_LIMIT`], with an explicit stack of open containers.
/// A child container with elements gets a `Null` placeholder in its parent's copy, replaced by
/// the child's copy when that is complete; every other child (a scalar or an empty container)
/// is cloned directly, without recursion.
#[inline(never)]
fn clone_nested(root: &Value) -> Value {
    let Some(first) = CloneFrame::of(root) else {
        return root.clone();
    };
    let mut stack = vec![first];
    loop {
        let Some(top) = stack.last_mut() else {
            // Unreachable: the loop returns when it pops the root's frame.
            return Value::Null;
        };
        let child = match top {
            CloneFrame::List(src, out) => src.next().map(|v| match CloneFrame::of(v) {
                Some(frame) => {
                    out.push(Value::Null);
                    Some(frame)
                }
                None => {
                    out.push(v.clone());
                    None
                }
            }),
            CloneFrame::Dict(src, out) => src.next().map(|(k, v)| match CloneFrame::of(v) {
                Some(frame) => {
                    out.push((k.clone(), Value::Null));
                    Some(frame)
                }
                None => {
                    out.push((k.clone(), v.clone()));
                    None
                }
            }),
        };
        match child {
            // A child container with elements: copy it before going on with this one.
            Some(Some(frame)) => stack.push(frame),
            // A child copied directly.
            Some(None) => {}
            // This container is complete: it replaces its placeholder in the parent.
            None => {
                let done = match stack.pop() {
                    Some(CloneFrame::List(_, out)) => Value::List(out),
                    // Keys come in order and unique, so this is a plain bulk build.
                    Some(CloneFrame::Dict(_, out)) => Value::Dict(out.into_iter().collect()),
                    None => Value::Null,
                };
                match stack.last_mut() {
                    None => return done,
                    Some(CloneFrame::List(_, out)) => {
                        if let Some(slot) = out.last_mut() {
                            *slot = done;
                        }
                    }
                    Some(CloneFrame::Dict(_, out)) => {
                        if let Some((_, slot)) = out.last_mut() {
                            *slot = done;
                        }
                    }
                }
            }
        }
    }
}

impl Value {
    /// Drops this value without deep recursion: like the drop glue (and as fast) through the
    /// first 64 levels of nesting, then with an explicit stack on the heap, so a value nested
    /// any depth can be dropped on any thread. `Value` has no `Drop` impl of its own (that would
    /// forbid moving its fields out in a `match`), so an ordinary drop of a value nested tens of
    /// thousands of levels deep recurses as deep and can overflow a thread's stack; the store
    /// drops every value it held this way, and so can you:
    ///
    /// ```
    /// use scriptling_kv::Value;
    ///
    /// let mut deep = Value::Null;
    /// for _ in 0..100_000 {
    ///     deep = Value::List(vec![deep]);
    /// }
    /// deep.dispose();
    /// ```
    pub fn dispose(self) {
        drop_within(self, RECURSION_LIMIT);
    }
}

/// [`Value::dispose`]: recursion with a budget of `levels`, then [`drop_nested`].
pub(crate) fn drop_within(mut v: Value, levels: u32) {
    if levels == 0 {
        drop_nested(&mut v);
        return;
    }
    match &mut v {
        Value::List(items) => {
            for child in std::mem::take(items) {
                if child.has_children() {
                    drop_within(child, levels - 1);
                }
            }
        }
        Value::Dict(map) => {
            for child in std::mem::take(map).into_values() {
                if child.has_children() {
                    drop_within(child, levels - 1);
                }
            }
        }
        _ => {}
    }
}

/// Dropping past [`RECURSION_LIMIT`]: empties `root` of its nested containers, then of theirs and
/// so on, with an explicit stack: each container is detached from its parent (replaced by
/// `Null`) before the parent is dropped, so every drop that actually runs is of a value with no
/// nested containers.
#[inline(never)]
fn drop_nested(root: &mut Value) {
    let mut stack = Vec::new();
    detach_children(root, &mut stack);
    while let Some(mut v) = stack.pop() {
        detach_children(&mut v, &mut stack);
        // `v` drops here: it holds no container with elements any more.
    }
}

/// Moves the non-empty `List`/`Dict` elements of `v` onto `stack`, leaving `Null` in their place.
fn detach_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::List(items) => stack.extend(
            items
                .iter_mut()
                .filter(|c| c.has_children())
                .map(std::mem::take),
        ),
        Value::Dict(map) => stack.extend(
            map.values_mut()
                .filter(|c| c.has_children())
                .map(std::mem::take),
        ),
        _ => {}
    }
}

/// What comparing two values without looking inside their elements tells.
enum Shallow<'a> {
    /// Decided.
    Done(bool),
    /// Two `List`s or two `Dict`s of the same length: equal iff their elements are.
    Elements(ElementPairs<'a>),
}

/// The element pairs of two same-length `List`s or `Dict`s, still to compare.
enum ElementPairs<'a> {
    List(slice::Iter<'a, Value>, slice::Iter<'a, Value>),
    Dict(
        btree_map::Iter<'a, String, Value>,
        btree_map::Iter<'a, String, Value>,
    ),
}

/// Compares `a` and `b` as the derived `PartialEq` would, except that it stops at the elements
/// of two same-length containers.
#[inline]
fn shallow_eq<'a>(a: &'a Value, b: &'a Value) -> Shallow<'a> {
    use Value::*;
    match (a, b) {
        (Null, Null) => Shallow::Done(true),
        (Bool(x), Bool(y)) => Shallow::Done(x == y),
        (Int(x), Int(y)) => Shallow::Done(x == y),
        (Float(x), Float(y)) => Shallow::Done(x == y),
        (Str(x), Str(y)) => Shallow::Done(x == y),
        (Bytes(x), Bytes(y)) => Shallow::Done(x == y),
        (List(x), List(y)) if x.len() == y.len() => {
            Shallow::Elements(ElementPairs::List(x.iter(), y.iter()))
        }
        (Dict(x), Dict(y)) if x.len() == y.len() => {
            Shallow::Elements(ElementPairs::Dict(x.iter(), y.iter()))
        }
        // Different variants or lengths. Listed in full so that a new variant must be handled.
        (Null | Bool(_) | Int(_) | Float(_) | Str(_) | Bytes(_) | List(_) | Dict(_), _) => {
            Shallow::Done(false)
        }
    }
}

/// Structural equality, as derived: floats compare as `f64`, variants never equal across
/// types, `Dict`s compare keys and values in key order. Recursive for 64
/// levels, iterative below, so any depth is fine; nothing is allocated above that depth.
impl PartialEq for Value {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match shallow_eq(self, other) {
            Shallow::Done(equal) => equal,
            Shallow::Elements(pairs) => elements_eq_within(pairs, RECURSION_LIMIT),
        }
    }
}

/// Whether all element pairs are equal, recursing at most `levels` deeper, then continuing
/// with [`elements_eq`].
fn elements_eq_within(pairs: ElementPairs<'_>, levels: u32) -> bool {
    let Some(levels) = levels.checked_sub(1) else {
        return elements_eq(pairs);
    };
    let eq = |a, b| match shallow_eq(a, b) {
        Shallow::Done(equal) => equal,
        Shallow::Elements(inner) => elements_eq_within(inner, levels),
    };
    match pairs {
        ElementPairs::List(a, b) => a.zip(b).all(|(x, y)| eq(x, y)),
        ElementPairs::Dict(a, b) => a.zip(b).all(|((ka, x), (kb, y))| ka == kb && eq(x, y)),
    }
}

/// Whether all element pairs are equal, depth first in order, with an explicit stack of the
/// enclosing containers' remaining pairs (past [`RECURSION_LIMIT`]).
#[inline(never)]
fn elements_eq(pairs: ElementPairs<'_>) -> bool {
    let mut stack = Vec::new();
    let mut current = pairs;
    loop {
        let next = match &mut current {
            ElementPairs::List(a, b) => a.next().zip(b.next()),
            ElementPairs::Dict(a, b) => match a.next().zip(b.next()) {
                Some(((ka, _), (kb, _))) if ka != kb => return false,
                pair => pair.map(|((_, va), (_, vb))| (va, vb)),
            },
        };
        match next {
            Some((a, b)) => match shallow_eq(a, b) {
                Shallow::Done(true) => {}
                Shallow::Done(false) => return false,
                Shallow::Elements(inner) => stack.push(std::mem::replace(&mut current, inner)),
            },
            None => match stack.pop() {
                Some(outer) => current = outer,
                None => return true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::tests::{
        check_against_derived, deep_dict, deep_list, deep_mixed, derived, dict, ints,
        on_small_stack, DEEP,
    };

    #[test]
    fn equality() {
        let nan = Value::Float(f64::NAN);
        assert_ne!(nan, nan.clone());
        assert_ne!(Value::List(vec![nan.clone()]), Value::List(vec![nan]));
        assert_eq!(Value::Float(0.0), Value::Float(-0.0));
        assert_ne!(Value::Int(1), Value::Float(1.0));
        assert_ne!(Value::Bytes(vec![1]), Value::from(vec![1u8]));
        assert_ne!(Value::Str(String::new()), Value::Null);
        let a = dict([("l", ints(&[1, 2])), ("n", Value::Null)]);
        assert_eq!(a, dict([("n", Value::Null), ("l", ints(&[1, 2]))]));
        assert_ne!(a, dict([("l", ints(&[2, 1])), ("n", Value::Null)]));
    }

    #[test]
    fn clone_is_deep() {
        let original = dict([("inner", dict([("x", Value::Int(1))]))]);
        let mut copy = original.clone();
        if let Value::Dict(outer) = &mut copy {
            if let Some(Value::Dict(inner)) = outer.get_mut("inner") {
                inner.insert("x".into(), Value::Int(2));
            }
        }
        assert_eq!(original, dict([("inner", dict([("x", Value::Int(1))]))]));
        assert_eq!(copy, dict([("inner", dict([("x", Value::Int(2))]))]));
    }

    #[test]
    fn impls_match_derived_ones_around_the_recursion_limit() {
        let limit = RECURSION_LIMIT as usize;
        let depth = || RECURSION.with(Cell::get);
        for n in [limit - 1, limit, limit + 1, 2 * limit + 1] {
            let shapes = [
                deep_list(n, Value::Int(1)),
                deep_dict(n, Value::Int(1)),
                deep_mixed(n, Value::Int(1)),
                deep_mixed(n, Value::Int(2)),
                deep_mixed(n + 1, Value::Int(1)),
                deep_mixed(n, Value::Float(f64::NAN)),
                // A side branch crossing the limit at every level.
                (0..n).fold(Value::Int(1), |v, i| {
                    Value::List(vec![
                        v,
                        ints(&[i as i64]),
                        deep_mixed(limit + 3, Value::Null),
                    ])
                }),
            ];
            // Each against itself and the next (the three `deep_mixed` differ only at the bottom).
            for (i, a) in shapes[..6].iter().enumerate() {
                check_against_derived(a, a);
                check_against_derived(a, &shapes[(i + 1) % 6]);
            }
            let wide = &shapes[6];
            let copy = wide.clone();
            assert!(copy == *wide);
            assert_eq!(format!("{copy}"), format!("{wide}"));
            drop(copy);
            assert_eq!(depth(), 0, "the recursion count is back to 0");
            drop(shapes);
            assert_eq!(depth(), 0);
        }
    }

    #[test]
    fn clone_keeps_structure_and_capacity() {
        let v = deep_mixed(20, Value::Bytes(vec![1, 2, 3]));
        let c = v.clone();
        assert_eq!(derived(&c), derived(&v));
        let mut inner = &c;
        while let Some(next) = match inner {
            Value::List(l) => {
                assert_eq!(l.capacity(), l.len());
                l.get(1)
            }
            Value::Dict(d) => d.get("b"),
            _ => None,
        } {
            inner = next;
        }
        assert_eq!(*inner, Value::Bytes(vec![1, 2, 3]));
    }

    #[test]
    fn dispose_of_wide_and_deep_values() {
        on_small_stack(|| {
            // Many deep branches side by side, and deep values in the middle of flat ones.
            let wide = Value::List((0..64).map(|i| deep_mixed(2_000, Value::Int(i))).collect());
            let copy = wide.clone();
            assert!(copy == wide);
            wide.dispose();
            let mut flat: Vec<Value> = (0..100).map(Value::Int).collect();
            flat[50] = deep_list(DEEP, Value::Null);
            Value::List(flat).dispose();
            copy.dispose();
            // Shallow values and scalars too.
            deep_mixed(3, Value::Int(0)).dispose();
            Value::Int(1).dispose();
        });
    }

    #[test]
    fn the_store_disposes_of_the_deep_values_it_held() {
        on_small_stack(|| {
            let store = crate::Store::builder().background_cleanup(false).build();
            let deep = deep_list(DEEP, Value::Int(1));
            store.set("k", deep.clone());
            store.set("k", 1); // the deep value is retired, dropped later by crossbeam-epoch
            store.set("j", deep.clone());
            assert!(store.delete("j"));
            store.set("m", deep);
            for _ in 0..256 {
                crossbeam_epoch::pin().flush();
            }
            drop(store); // with a deep value in it
        });
    }
}
