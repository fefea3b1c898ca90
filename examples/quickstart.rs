//! A tour of the store: every operation once, printing what it did.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use scriptling_kv::{Store, Value};

fn main() {
    let store = Store::new();

    store.set("api_key", "secret123");
    println!("set api_key            -> get = {:?}", store.get("api_key"));

    let mut session = BTreeMap::new();
    session.insert("user".to_string(), Value::from("bob"));
    session.insert("login_time".to_string(), Value::from(123_456));
    store.set_with_ttl("session:abc", session, Duration::from_secs(3600));
    println!(
        "set session:abc (1 h)  -> ttl = {} s, value = {}",
        store.ttl("session:abc").as_secs(),
        store.get_or("session:abc", Value::Null)
    );

    store.set("page_views", 0);
    println!(
        "incr page_views        -> {:?}",
        store.incr("page_views", 1)
    );
    println!(
        "incr page_views by 5   -> {:?}",
        store.incr("page_views", 5)
    );
    println!(
        "incr new_counter       -> {:?}",
        store.incr("new_counter", 1)
    );
    println!("incr api_key           -> {:?}", store.incr("api_key", 1));

    // A fixed-window rate limiter that never loses concurrent increments.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut allowed = 0;
                for _ in 0..50 {
                    let n = store.incr("rate:10.0.0.1", 1).unwrap_or(i64::MAX);
                    if n == 1 {
                        store.expire("rate:10.0.0.1", Duration::from_secs(60));
                    }
                    if n <= 100 {
                        allowed += 1;
                    }
                }
                allowed
            })
        })
        .collect();
    let allowed: i32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    println!(
        "8 threads x 50 requests, limit 100 -> {allowed} allowed, counter = {:?}, window ttl = {} s",
        store.get("rate:10.0.0.1"),
        store.ttl("rate:10.0.0.1").as_secs()
    );

    println!("keys *                 -> {:?}", store.keys("*"));
    println!("keys session:*         -> {:?}", store.keys("session:*"));
    println!("keys [ (malformed)     -> {:?}", store.keys("["));
    println!("exists config          -> {}", store.exists("config"));
    println!(
        "ttl api_key / missing  -> {} / {}",
        store.ttl("api_key").as_secs(),
        store.ttl("missing").as_secs()
    );

    store.set_with_ttl("flash", "gone soon", Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(30));
    println!(
        "after its 20 ms TTL    -> get flash = {:?}, purge_expired removed {}",
        store.get("flash"),
        store.purge_expired()
    );

    println!("delete api_key         -> {}", store.delete("api_key"));
    println!("len before clear       -> {}", store.len());
    store.clear();
    println!("len after clear        -> {}", store.len());
}
