//! Models of "no reader ever sees a value with another write's TTL": every write's value is
//! named after the TTL it was written with, so a value paired with a foreign TTL shows up as a
//! history no sequential order explains.
#![cfg(scriptling_kv_loom)]

mod common;
use std::time::Duration;

use common::{check, s, scenario, Op::*};

/// `set` racing `set_with_ttl`: the key ends with one write's value *and* that write's TTL.
/// Mutant `split_ttl` (a put installs the value first and the deadline in a second step) fails it.
#[test]
fn set_racing_set_with_ttl_never_mixes_value_and_ttl() {
    check(
        "set_racing_set_with_ttl_never_mixes_value_and_ttl",
        4,
        scenario(
            &[SetTtl("k", s("ttl=10"), 10)],
            &[
                &[Set("k", s("persistent"))],
                &[SetTtl("k", s("ttl=20"), 20)],
            ],
            &[Get("k"), Ttl("k")],
        ),
    );
}

/// A reader racing `set`: `get` then `ttl` on another thread must see states some sequential
/// order explains (after `get` returned the new value, `ttl` must not report the old TTL).
/// Mutant `split_ttl` fails it.
#[test]
fn reader_never_sees_a_value_with_another_writes_ttl() {
    check(
        "reader_never_sees_a_value_with_another_writes_ttl",
        3,
        scenario(
            &[SetTtl("k", s("ttl=10"), 10)],
            &[&[Set("k", s("persistent"))], &[Get("k"), Ttl("k")]],
            &[Get("k"), Ttl("k")],
        ),
    );
}

/// `expire` and `persist` racing `set`/`set_with_ttl`: `expire`/`persist` keep the value they
/// saw and change only its TTL; they must never give a TTL to a value written after they read,
/// nor lose that write. Mutant `incr_cas_as_store` (a write's CAS becomes load-compare-store)
/// fails it.
#[test]
fn expire_persist_racing_set_keep_value_and_ttl_paired() {
    check(
        "expire_persist_racing_set_keep_value_and_ttl_paired",
        3,
        scenario(
            &[SetTtl("k", s("ttl=10"), 10)],
            &[
                &[Expire("k", 30), Persist("k")],
                &[Set("k", s("persistent")), SetTtl("k", s("ttl=20"), 20)],
            ],
            &[Get("k"), Ttl("k")],
        ),
    );
}

/// A reader racing zero-TTL writes (`swap` and `set_if_absent` with `Some(Duration::ZERO)`): it
/// sees the old value or nothing, never a zero-TTL value; each write returns what it would for any
/// TTL; afterwards the key is absent and nothing is held. Mutant `zero_is_persistent` (a zero TTL
/// meaning "no expiry", as it once did) fails it.
#[test]
fn a_zero_ttl_value_is_never_observed() {
    common::model("a_zero_ttl_value_is_never_observed", 3, || {
        let (store, _clock) = common::new_store();
        store.set("k", "old");
        let reader = {
            let store = store.clone();
            loom::thread::spawn(move || store.get("k"))
        };
        let swapped = store.swap("k", "zero", Some(Duration::ZERO));
        let stored = store.set_if_absent("k", "zero", Some(Duration::ZERO));
        let seen = reader.join().unwrap();
        let after = store.get("k");
        if !matches!(&seen, None | Some(v) if *v == s("old"))
            || swapped != Some(s("old"))
            || !stored
            || after.is_some()
            || store.len() != 0
        {
            return Err(format!(
                "a zero TTL value was observed or kept: reader saw {seen:?}, swap returned \
                 {swapped:?}, set_if_absent {stored}, afterwards {after:?}, len {}",
                store.len()
            ));
        }
        Ok(())
    });
}
