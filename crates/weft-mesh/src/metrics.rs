//! A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4), and the
//! counters of the data paths ([`DataMetrics`]).
//!
//! Counters and histogram buckets are plain atomics, so recording never blocks; labelled families
//! take a read lock to find their series and a write lock only the first time a label set is seen.
//! Callers keep label sets bounded (the server labels HTTP requests by route template, never by raw
//! path).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the latency buckets, in seconds (100 µs to 10 s).
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A latency histogram with the fixed [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one counts those above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let index = LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Appends the histogram's series (`labels` rendered as `name="value",...`, or empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().map(|b| b.to_string()).chain(["+Inf".to_string()]).enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{}le=\"{bound}\"}} {cumulative}", comma(labels));
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count());
    }
}

fn comma(labels: &str) -> &'static str {
    if labels.is_empty() {
        ""
    } else {
        ","
    }
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

/// Label names and values of one series.
pub type Labels = Vec<(&'static str, String)>;

/// Series of one metric, one per label set.
#[derive(Debug)]
pub struct Family<T> {
    series: RwLock<BTreeMap<Labels, Arc<T>>>,
}

impl<T: Default> Default for Family<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Default> Family<T> {
    pub fn new() -> Self {
        Family { series: RwLock::new(BTreeMap::new()) }
    }

    /// The series of `labels`, made on first use.
    pub fn get(&self, labels: Labels) -> Arc<T> {
        if let Some(series) = self.series.read().unwrap_or_else(|e| e.into_inner()).get(&labels) {
            return series.clone();
        }
        self.series.write().unwrap_or_else(|e| e.into_inner()).entry(labels).or_default().clone()
    }

    /// Calls `f` with each series and its rendered labels.
    pub fn each(&self, mut f: impl FnMut(&str, &T)) {
        for (labels, series) in self.series.read().unwrap_or_else(|e| e.into_inner()).iter() {
            let rendered: Vec<String> =
                labels.iter().map(|(name, value)| format!("{name}=\"{}\"", escape_label(value))).collect();
            f(&rendered.join(","), series);
        }
    }
}

/// Prometheus text format: label values escape backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// What the write and read paths count, whoever writes or reads.
#[derive(Debug, Default)]
pub struct DataMetrics {
    /// Records appended to user topics through the write path.
    pub produced_records: Counter,
    /// Bytes of keys, values and headers appended.
    pub produced_bytes: Counter,
    /// Records served by the read path (reads, samples, tails, exports, profiles).
    pub consumed_records: Counter,
    /// Time of one append to the log (one batch, until durable).
    pub append_latency: Histogram,
    /// Time of one read from the log.
    pub read_latency: Histogram,
    /// Per data product, what became of the records written to its topic (see [`ProductCounts`]).
    pub product_records: Family<ProductCounts>,
}

/// What became of the records written to one product's topic through the write path. Always
/// `received = accepted + dead_lettered` (a write that fails on I/O counts nothing); `rejected` counts
/// the records of requests refused whole under the `reject` policy.
#[derive(Debug, Default)]
pub struct ProductCounts {
    pub received: Counter,
    pub accepted: Counter,
    pub dead_lettered: Counter,
    pub rejected: Counter,
}

impl DataMetrics {
    /// The counts of one product.
    pub fn product(&self, product: &str) -> Arc<ProductCounts> {
        self.product_records.get(vec![("product", product.to_string())])
    }

    /// Appends every series in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let counters = [
            ("weft_produced_records_total", "Records appended through the write path.", &self.produced_records),
            (
                "weft_produced_bytes_total",
                "Bytes of keys, values and headers appended through the write path.",
                &self.produced_bytes,
            ),
            ("weft_consumed_records_total", "Records served by the read path.", &self.consumed_records),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", counter.get());
        }
        let histograms = [
            ("weft_append_duration_seconds", "Time to append one batch until it is durable.", &self.append_latency),
            ("weft_read_duration_seconds", "Time of one read from the log.", &self.read_latency),
        ];
        for (name, help, histogram) in histograms {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            histogram.render(out, name, "");
        }
        let name = "weft_product_records_total";
        let _ = writeln!(
            out,
            "# HELP {name} Records written to a data product's topic, by outcome: received = accepted + \
             dead_lettered; rejected counts records of requests refused whole.\n# TYPE {name} counter"
        );
        self.product_records.each(|labels, counts| {
            for (outcome, counter) in [
                ("received", &counts.received),
                ("accepted", &counts.accepted),
                ("dead_lettered", &counts.dead_lettered),
                ("rejected", &counts.rejected),
            ] {
                let _ = writeln!(out, "{name}{{{labels},outcome=\"{outcome}\"}} {}", counter.get());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = DataMetrics::default();
        metrics.append_latency.observe(Duration::from_micros(50));
        metrics.append_latency.observe(Duration::from_millis(3));
        metrics.append_latency.observe(Duration::from_secs(60));
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(text.contains("weft_append_duration_seconds_bucket{le=\"0.0001\"} 1\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_bucket{le=\"0.005\"} 2\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_bucket{le=\"10\"} 2\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_count 3\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_sum 60.00305"), "{text}");
    }

    #[test]
    fn counters_render_with_type_lines() {
        let metrics = DataMetrics::default();
        metrics.produced_records.add(5);
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(text.contains("# TYPE weft_produced_records_total counter\nweft_produced_records_total 5\n"));
    }

    #[test]
    fn families_escape_label_values() {
        let family: Family<Counter> = Family::new();
        family.get(vec![("route", "a\"b".to_string())]).add(2);
        let mut seen = Vec::new();
        family.each(|labels, counter| seen.push((labels.to_string(), counter.get())));
        assert_eq!(seen, [("route=\"a\\\"b\"".to_string(), 2)]);
    }
}
