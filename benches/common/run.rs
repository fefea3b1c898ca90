//! Run mode (`BENCH_QUICK`), results output (`BENCH_OUT`) and the measurement helpers.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use scriptling_kv::Value;

/// Smoke mode (seconds, tiny sizes, one repetition): `BENCH_QUICK=1`, or a run without
/// `--bench` (what `cargo test --benches` does), so a test run never starts a full benchmark.
pub(crate) fn quick() -> bool {
    let under_test = !std::env::args().any(|a| a == "--bench");
    under_test || std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The section filter of a bench binary: the arguments that are not flags (`cargo bench` passes
/// `--bench`); a section runs if there are none or its name contains one of them.
pub(crate) fn wanted() -> impl Fn(&str) -> bool {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    move |name| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()))
}

/// `quick_value` in smoke mode ([`quick`]), else `full`: the benches' sizes, field by field.
pub(crate) fn pick<T>(quick_value: T, full: T) -> T {
    if quick() {
        quick_value
    } else {
        full
    }
}

/// Where JSON-lines results go: `$BENCH_OUT/<name>.jsonl` if `BENCH_OUT` is set.
pub(crate) struct Output {
    file: Option<std::fs::File>,
}

impl Output {
    /// Opens (truncates) `$BENCH_OUT/<name>.jsonl`, if `BENCH_OUT` is set.
    pub(crate) fn open(name: &str) -> Self {
        let file = std::env::var_os("BENCH_OUT").map(|dir| {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("create BENCH_OUT");
            std::fs::File::create(dir.join(format!("{name}.jsonl"))).expect("create results file")
        });
        Output { file }
    }

    /// Appends one record.
    pub(crate) fn record(&mut self, rec: serde_json::Value) {
        if let Some(f) = &mut self.file {
            writeln!(f, "{rec}").expect("write results");
        }
    }
}

/// The median of `xs` (sorts a copy).
pub(crate) fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `body(thread, stop)` on `threads` threads for `window`; returns (Mops/s, ops). The time
/// is taken by the workers (from the first one's start to the last one's end), not by the
/// thread that sleeps through the window: on a loaded machine that thread may be scheduled late.
pub(crate) fn window_run(
    threads: usize,
    window: Duration,
    body: &(dyn Fn(usize, &AtomicBool) -> u64 + Sync),
) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let ops = body(t, stop);
                    (ops, start, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
        let runs: Vec<(u64, Instant, Instant)> = handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .collect();
        let ops: u64 = runs.iter().map(|r| r.0).sum();
        (ops as f64 / span_secs(&runs) / 1e6, ops)
    })
}

/// Seconds from the earliest start to the latest end of `(_, start, end)` records.
pub(crate) fn span_secs<T>(runs: &[(T, Instant, Instant)]) -> f64 {
    let first = runs.iter().map(|r| r.1).min().expect("runs");
    let last = runs.iter().map(|r| r.2).max().expect("runs");
    last.duration_since(first).as_secs_f64()
}

/// Cycles `tape` through `exec` until `stop`; returns how many ops ran.
#[inline(always)]
pub(crate) fn drive<T: Copy>(tape: &[T], stop: &AtomicBool, mut exec: impl FnMut(T)) -> u64 {
    let mut n = 0u64;
    loop {
        for chunk in tape.chunks(64) {
            for &op in chunk {
                exec(op);
            }
            n += chunk.len() as u64;
            if stop.load(Ordering::Relaxed) {
                return n;
            }
        }
    }
}

/// Fills `c` with `n` keys named `g{i % 100}:{i}` (so `keys("g07:*")` matches 1%), small
/// values, every other one with `ttl`: the store of the `keys(pattern)` benchmarks.
pub(crate) fn fill_glob_keys<C: super::Contender>(c: &C, n: usize, ttl: Duration) {
    for i in 0..n {
        let k = format!("g{:02}:{i}", i % 100);
        if i % 2 == 0 {
            c.set(&k, small_value(i));
        } else {
            c.set_with_ttl(&k, small_value(i), ttl);
        }
    }
}

/// A small string value like a session id or a cached fragment.
pub(crate) fn small_value(i: usize) -> Value {
    Value::Str(format!("value-{i:08}"))
}

/// Keeps a result alive so the optimiser cannot drop the operation that made it.
#[inline]
pub(crate) fn sink<T>(x: T) -> T {
    std::hint::black_box(x)
}
