//! What the store reports about itself: [`Store::stats`](crate::Store::stats) (defined with the
//! operations) and, with the feature `metrics`, the same counters through the `metrics` facade.

/// The names under which `Store::publish_metrics` (feature `metrics`) exports a
/// store's counters through the [`metrics`](https://docs.rs/metrics) crate (feature
/// `metrics`), each with the label `store` (the store's [`name`](crate::StoreBuilder::name)).
/// They are stable: dashboards may rely on them.
pub const METRIC_NAMES: [&str; 7] = [
    "scriptling_kv_hits_total",
    "scriptling_kv_misses_total",
    "scriptling_kv_expired_total",
    "scriptling_kv_evicted_total",
    "scriptling_kv_listener_panics_total",
    "scriptling_kv_save_failures_total",
    "scriptling_kv_keys",
];

#[cfg(feature = "metrics")]
impl crate::Store {
    /// Publishes this store's counters and its number of keys through the
    /// [`metrics`](https://docs.rs/metrics) facade (feature `metrics`), so a Prometheus (or any
    /// other) exporter installed by the application picks them up: the counters of [`Stats`](crate::Stats) as
    /// monotonic counters (`scriptling_kv_hits_total`, ... see [`METRIC_NAMES`]) and `len()` as
    /// the gauge `scriptling_kv_keys`, each labelled `store = <name>`. The cleaner thread calls
    /// this on every tick; call it yourself for fresher numbers (it costs one [`stats`] and one
    /// `len`).
    ///
    /// [`stats`]: crate::Store::stats
    pub fn publish_metrics(&self) {
        publish(&self.inner);
    }
}

/// [`Store::publish_metrics`](crate::Store::publish_metrics) (also the cleaner's, per tick).
#[cfg(feature = "metrics")]
pub(crate) fn publish(inner: &crate::store::Inner) {
    let stats = inner.counters.sum();
    let name = inner.name.clone();
    let counters = [
        ("scriptling_kv_hits_total", stats.hits),
        ("scriptling_kv_misses_total", stats.misses),
        ("scriptling_kv_expired_total", stats.expired),
        ("scriptling_kv_evicted_total", stats.evicted),
        ("scriptling_kv_listener_panics_total", stats.listener_panics),
        ("scriptling_kv_save_failures_total", stats.save_failures),
    ];
    for (metric, value) in counters {
        metrics::counter!(metric, "store" => name.clone()).absolute(value);
    }
    metrics::gauge!("scriptling_kv_keys", "store" => name).set(inner.table.len() as f64);
}
