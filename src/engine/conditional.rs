//! The named conditional writes as raw steps on [`Core`] (`Store::set_if_absent`, `swap`, `take`,
//! `compare_and_set`, `compare_and_delete`, `incr_with_ttl`, `update`): each one step of the write
//! protocol (`write`), deciding on the key as observed and committing with one CAS that expects
//! exactly that. A value moved into a write that lost its CAS comes back through `back` and is
//! used by the next attempt.
//!
//! The mutation hook of `loom-tests/mutants` for them is `mod mutant` below (`two_steps`).

use std::time::Duration;

use crate::engine::core::Core;
use crate::engine::write::{Deadline, Write};
use crate::error::Result;
use crate::value::Value;

impl Core {
    /// Stores `value` with `ttl` only if the key is not live; `true` if this call stored it.
    pub(crate) fn set_if_absent(&self, key: &str, value: Value, ttl: Option<Duration>) -> bool {
        if mutant::two_steps() {
            return mutant::set_if_absent(self, key, value, ttl);
        }
        let mut value = Some(value);
        self.write(key, |cur, now, back| {
            if let Some(v) = back.take() {
                value = Some(v);
            }
            match (cur, value.take()) {
                (None, Some(v)) => (Write::Put(v, now.ttl_or_never(ttl)), true),
                (_, v) => {
                    value = v;
                    (Write::None, false)
                }
            }
        })
    }

    /// Stores `value` with `ttl`; the value it replaced, if that was live.
    pub(crate) fn swap(&self, key: &str, value: Value, ttl: Option<Duration>) -> Option<Value> {
        let mut value = Some(value);
        self.write(key, |cur, now, back| {
            let v = back
                .take()
                .or_else(|| value.take())
                .expect("kept between attempts");
            let old = cur.map(|view| view.value().into_owned());
            (Write::Put(v, now.ttl_or_never(ttl)), old)
        })
    }

    /// Removes a live key and returns its value.
    pub(crate) fn take(&self, key: &str) -> Option<Value> {
        if mutant::two_steps() {
            return mutant::take(self, key);
        }
        self.write(key, |cur, _, _| match cur {
            Some(view) => (Write::Delete, Some(view.value().into_owned())),
            None => (Write::None, None),
        })
    }

    /// Replaces the value of a live key whose value `== expected`, keeping its TTL.
    pub(crate) fn compare_and_set(&self, key: &str, expected: &Value, new: Value) -> bool {
        let mut new = Some(new);
        self.write(key, |cur, _, back| {
            if let Some(v) = back.take() {
                new = Some(v);
            }
            match cur {
                Some(view) if *view.value() == *expected => (
                    Write::Put(new.take().expect("kept between attempts"), Deadline::Keep),
                    true,
                ),
                _ => (Write::None, false),
            }
        })
    }

    /// Deletes a live key whose value `== expected`.
    pub(crate) fn compare_and_delete(&self, key: &str, expected: &Value) -> bool {
        if mutant::two_steps() {
            return mutant::compare_and_delete(self, key, expected);
        }
        self.write(key, |cur, _, _| match cur {
            Some(view) if *view.value() == *expected => (Write::Delete, true),
            _ => (Write::None, false),
        })
    }

    /// `incr`, and a key this call creates gets `ttl`.
    pub(crate) fn incr_with_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64> {
        if mutant::two_steps() {
            return mutant::incr_with_ttl(self, key, delta, ttl);
        }
        self.incr(key, delta, Some(ttl))
    }

    /// Replaces the value of a live key by `f(current)`, keeping its TTL; the new value.
    pub(crate) fn update(&self, key: &str, mut f: impl FnMut(&Value) -> Value) -> Option<Value> {
        self.write(key, |cur, _, _| match cur {
            Some(view) => {
                let new = f(&view.value());
                (Write::Put(new.clone(), Deadline::Keep), Some(new))
            }
            None => (Write::None, None),
        })
    }
}

/// The mutation hook of `loom-tests/mutants` for the conditional writes (see `engine::entry`, `mod
/// mutant`). Mutant `two_steps`: each conditional write is done the way a user without them
/// would, as a read followed by a separate write, which is not atomic.
mod mutant {
    use std::time::Duration;

    use crate::engine::core::Core;
    use crate::error::Result;
    use crate::value::Value;

    #[inline]
    pub(super) fn two_steps() -> bool {
        cfg!(scriptling_kv_mutant = "two_steps")
    }

    pub(super) fn set_if_absent(
        core: &Core,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
    ) -> bool {
        if core.exists(key) {
            return false;
        }
        core.set(key, value, ttl);
        true
    }

    pub(super) fn take(core: &Core, key: &str) -> Option<Value> {
        let value = core.peek(key)?;
        core.delete(key);
        Some(value)
    }

    pub(super) fn compare_and_delete(core: &Core, key: &str, expected: &Value) -> bool {
        core.peek(key).as_ref() == Some(expected) && core.delete(key)
    }

    /// The rate-limit recipe without `incr_with_ttl`: `incr`, then `expire` if it created the key.
    pub(super) fn incr_with_ttl(core: &Core, key: &str, delta: i64, ttl: Duration) -> Result<i64> {
        let n = core.incr(key, delta, None)?;
        if n == delta {
            core.expire(key, ttl);
        }
        Ok(n)
    }
}
