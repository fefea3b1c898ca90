//! A tour of the store: every kind of operation once, printing what it did.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use scriptling_kv::{from_value, to_value, Compute, Store, Value};
use serde::{Deserialize, Serialize};

/// A session, stored as a `Value::Dict` of its fields.
#[derive(Debug, Serialize, Deserialize)]
struct Session {
    user: String,
    visits: u32,
}

fn main() -> scriptling_kv::Result<()> {
    let store = Store::builder().record_stats(true).build();
    let hour = Duration::from_secs(3600);

    // The seed's operations.
    store.set("api_key", "secret123");
    println!(
        "set api_key             -> get = {:?}",
        store.get("api_key")
    );
    let mut profile = BTreeMap::new();
    profile.insert("user".to_string(), Value::from("bob"));
    profile.insert("login_time".to_string(), Value::from(123_456));
    store.set_with_ttl("profile:bob", profile, hour);
    println!(
        "set profile:bob (1 h)   -> ttl = {} s, value = {}",
        store.ttl("profile:bob").as_secs(),
        store.get_or("profile:bob", Value::Null)
    );
    println!(
        "incr page_views         -> {:?}",
        store.incr("page_views", 1)
    );
    println!(
        "incr page_views by 5    -> {:?}",
        store.incr("page_views", 5)
    );
    println!("incr api_key            -> {:?}", store.incr("api_key", 1));
    println!("keys *                  -> {:?}", store.keys("*")?);
    println!("exists api_key          -> {}", store.exists("api_key"));
    println!(
        "expire api_key 60 s     -> {}",
        store.expire("api_key", Duration::from_secs(60))
    );
    println!("persist api_key         -> {}", store.persist("api_key"));
    println!("delete api_key          -> {}", store.delete("api_key"));
    // A zero TTL is expired at once: never "no expiry".
    store.set_with_ttl("gone", 1, Duration::ZERO);
    println!(
        "set gone with TTL 0     -> exists = {}",
        store.exists("gone")
    );

    // A fixed-window rate limiter in one call: the window starts with the first request.
    let window = Duration::from_secs(60);
    let counts: Vec<i64> = (0..3)
        .map(|_| store.incr_with_ttl("rate:10.0.0.1", 1, window))
        .collect::<Result<_, _>>()?;
    println!(
        "incr_with_ttl x3        -> {counts:?}, ttl = {} s",
        store.ttl("rate:10.0.0.1").as_secs()
    );

    // A lock: take it, and release it only if it is still yours.
    let lease = Some(Duration::from_secs(30));
    println!(
        "set_if_absent lock (me) -> {}",
        store.set_if_absent("lock:job", "me", lease)
    );
    println!(
        "set_if_absent lock (you)-> {}",
        store.set_if_absent("lock:job", "you", lease)
    );
    let you = Value::from("you");
    println!(
        "compare_and_delete you  -> {}",
        store.compare_and_delete("lock:job", &you)
    );
    let me = Value::from("me");
    println!(
        "compare_and_delete me   -> {}",
        store.compare_and_delete("lock:job", &me)
    );

    // The other conditional writes.
    println!(
        "swap state              -> {:?}",
        store.swap("state", "new", None)
    );
    println!(
        "compare_and_set state   -> {}",
        store.compare_and_set("state", &"new".into(), "running")
    );
    println!(
        "update state            -> {:?}",
        store.update("state", |v| format!("{}!", v.as_str().unwrap_or("")).into())
    );
    let extended = store.compute("state", |cur| match cur {
        Some(_) => (Compute::Expire(hour), true),
        None => (Compute::Keep, false),
    });
    println!(
        "compute (give it 1 h)   -> {extended}, ttl = {} s",
        store.ttl("state").as_secs()
    );
    println!("take state              -> {:?}", store.take("state"));

    // Typed sessions with sliding expiry: one step reads the session and moves its deadline.
    let session = Session {
        user: "bob".into(),
        visits: 1,
    };
    store.set_with_ttl(
        "session:abc",
        to_value(&session)?,
        Duration::from_secs(1800),
    );
    if let Some(v) = store.get_and_expire("session:abc", Duration::from_secs(1800)) {
        let s: Session = from_value(v)?;
        println!("get_and_expire session  -> {s:?}");
    }

    // A cache-aside load: concurrent misses would run the loader once.
    let first = store.load_with("cache:report", Some(Duration::from_secs(300)), || {
        "expensive"
    });
    let again = store.load_with("cache:report", Some(Duration::from_secs(300)), || {
        "not called"
    });
    println!(
        "load_with twice         -> {:?} then {:?}",
        first.source, again.source
    );

    // Numbers, and a snapshot that survives a restart.
    println!("stats                   -> {:?}", store.stats());
    let path = std::env::temp_dir().join(format!(
        "scriptling-kv-quickstart-{}.snap",
        std::process::id()
    ));
    let saved = store.save(&path)?;
    let restored = Store::new();
    let loaded = restored.load(&path)?;
    println!("save, load              -> {saved} keys saved, {loaded} loaded");
    let _ = std::fs::remove_file(&path);

    store.clear();
    println!("clear                   -> len = {}", store.len());
    Ok(())
}
