//! Fast end-to-end check of the main paths (the full suites are in the other files).
use scriptling_kv::{Error, Store, Ttl, Value};
use std::time::Duration;

#[test]
fn main_paths() {
    let s = Store::builder().background_cleanup(false).build();
    s.set("a", 1);
    assert_eq!(s.get("a"), Some(Value::Int(1)));
    assert_eq!(s.incr("a", 2), Ok(3));
    assert_eq!(s.incr("b", 7), Ok(7));
    s.set("c", "x");
    assert_eq!(s.incr("c", 1), Err(Error::NotAnInteger));
    assert!(s.delete("a"));
    assert!(!s.delete("a"));
    assert_eq!(s.get("a"), None);
    s.set_with_ttl("t", 1, Duration::from_secs(10));
    assert_eq!(s.ttl("t").as_secs(), 10);
    assert!(s.persist("t"));
    assert_eq!(s.ttl("t"), Ttl::Persistent);
    assert_eq!(s.keys("*").unwrap(), ["b", "c", "t"]);
    s.set_with_ttl("short", 1, Duration::from_millis(1));
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(s.get("short"), None);
    assert_eq!(s.purge_expired(), 1);
    assert_eq!(s.len(), 3);
    s.clear();
    assert!(s.is_empty());
}

#[test]
fn hundred_threads_increment_one_counter() {
    let s = Store::new();
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || s.incr("n", 1).unwrap())
        })
        .collect();
    let mut got: Vec<i64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=100).collect::<Vec<_>>());
    assert_eq!(s.get("n"), Some(Value::Int(100)));
}
