//! A save streams: the most memory it holds at once above what the store holds is a small
//! multiple of one value (the record being written, the file writer's buffer), never a copy of
//! the store. Measured with a counting global allocator (bytes live, and the high-water mark),
//! in its own test binary so that no other test allocates meanwhile; the store has no
//! background thread.
//!
//! Sizes: 1M small keys in a release build (`cargo test --release --test snapshot_memory`),
//! 200k in a debug build (the claim does not depend on the count; debug builds are slow to fill).

use scriptling_kv::{Store, Value};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{live, peak_during};

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn saving_a_big_store_holds_about_one_value_not_a_copy_of_the_store() {
    let keys = if cfg!(debug_assertions) {
        200_000
    } else {
        1_000_000
    };
    let dir = std::env::temp_dir().join(format!("skv-snapshot-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.snap");

    let before_store = live();
    let store = Store::builder().background_cleanup(false).build();
    for i in 0..keys {
        let k = format!("session:{i:08}");
        if i % 2 == 0 {
            store.set(&k, format!("value-{i:08}"));
        } else {
            store.set_with_ttl(
                &k,
                format!("value-{i:08}"),
                std::time::Duration::from_secs(3600),
            );
        }
    }
    let store_bytes = live() - before_store;

    // 1. Many small values.
    let (written, save_peak) = peak_during(|| store.save(&path).unwrap());
    assert_eq!(written, keys);
    let file = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "{keys} keys: store {:.1} MiB on the heap, file {:.1} MiB ({:.1} bytes/key); \
         peak above the store during the save: {:.1} KiB ({:.3}% of the store)",
        store_bytes as f64 / MIB,
        file as f64 / MIB,
        file as f64 / keys as f64,
        save_peak as f64 / 1024.0,
        100.0 * save_peak as f64 / store_bytes as f64
    );
    assert!(
        save_peak < 2 << 20,
        "the save held {save_peak} bytes at once (a copy of the store would be ~{store_bytes})"
    );

    // 2. A few big values: the peak is a small multiple of the biggest one.
    const BIG: usize = 4 << 20;
    for i in 0..8u8 {
        store.set(&format!("big:{i}"), Value::Bytes(vec![i; BIG]));
    }
    let (_, big_peak) = peak_during(|| store.save(&path).unwrap());
    eprintln!(
        "with 8 values of 4 MiB: peak above the store during the save {:.1} MiB",
        big_peak as f64 / MIB
    );
    assert!(
        big_peak < 2 * BIG + (2 << 20),
        "the save held {big_peak} bytes at once, more than two of its biggest values"
    );

    // 3. Loading holds the decoded records (values moved into the store, not copied): report
    //    the peak above what the loaded store itself holds.
    let before_load = live();
    let loaded = Store::builder().background_cleanup(false).build();
    let (n, load_peak) = peak_during(|| loaded.load(&path).unwrap());
    assert_eq!(n, keys + 8);
    let loaded_bytes = live() - before_load;
    eprintln!(
        "load: the loaded store holds {:.1} MiB; peak during the load {:.1} MiB ({:.1} MiB, \
         {:.0} bytes/record, above the result)",
        loaded_bytes as f64 / MIB,
        load_peak as f64 / MIB,
        load_peak.saturating_sub(loaded_bytes) as f64 / MIB,
        load_peak.saturating_sub(loaded_bytes) as f64 / (keys + 8) as f64
    );
    assert!(load_peak < 3 * loaded_bytes);
    drop(loaded);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
