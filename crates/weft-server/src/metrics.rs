//! A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
//!
//! Counters and histogram buckets are plain atomics, so recording never blocks; labelled families
//! take a read lock to find their series and a write lock only the first time a label set is seen.
//! Label sets are bounded by construction: HTTP routes are the router's templates (`/api/v1/topics/{topic}`),
//! never raw paths, and unmatched paths share the route label `unmatched`.

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

    fn render(&self, out: &mut String, name: &str, labels: &str) {
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
type Labels = Vec<(&'static str, String)>;

/// Series of one metric, one per label set.
#[derive(Debug)]
struct Family<T> {
    series: RwLock<BTreeMap<Labels, Arc<T>>>,
}

impl<T: Default> Family<T> {
    fn new() -> Self {
        Family { series: RwLock::new(BTreeMap::new()) }
    }

    fn get(&self, labels: Labels) -> Arc<T> {
        if let Some(series) = self.series.read().unwrap_or_else(|e| e.into_inner()).get(&labels) {
            return series.clone();
        }
        self.series.write().unwrap_or_else(|e| e.into_inner()).entry(labels).or_default().clone()
    }

    fn each(&self, mut f: impl FnMut(&str, &T)) {
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

/// Everything the server counts.
#[derive(Debug)]
pub struct Metrics {
    pub produced_records: Counter,
    /// Bytes of keys, values and headers appended.
    pub produced_bytes: Counter,
    /// Records served by reads and live tails.
    pub consumed_records: Counter,
    /// Time of one append call to the log (one batch, until durable).
    pub append_latency: Histogram,
    /// Time of one read call to the log.
    pub read_latency: Histogram,
    http_requests: Family<Counter>,
    http_latency: Family<Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            produced_records: Counter::default(),
            produced_bytes: Counter::default(),
            consumed_records: Counter::default(),
            append_latency: Histogram::default(),
            read_latency: Histogram::default(),
            http_requests: Family::new(),
            http_latency: Family::new(),
        }
    }
}

impl Metrics {
    /// Counts one answered HTTP request; `route` is the matched route template.
    pub fn record_http(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let route_labels = vec![("method", method.to_string()), ("route", route.to_string())];
        self.http_latency.get(route_labels.clone()).observe(elapsed);
        let mut labels = route_labels;
        labels.push(("status", status.to_string()));
        self.http_requests.get(labels).add(1);
    }

    /// The whole registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let counters = [
            ("weft_produced_records_total", "Records appended through the API.", &self.produced_records),
            (
                "weft_produced_bytes_total",
                "Bytes of keys, values and headers appended through the API.",
                &self.produced_bytes,
            ),
            ("weft_consumed_records_total", "Records served by reads and live tails.", &self.consumed_records),
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
            histogram.render(&mut out, name, "");
        }
        let name = "weft_http_requests_total";
        let _ =
            writeln!(out, "# HELP {name} HTTP requests answered, by method, route and status.\n# TYPE {name} counter");
        self.http_requests.each(|labels, counter| {
            let _ = writeln!(out, "{name}{{{labels}}} {}", counter.get());
        });
        let name = "weft_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to answer an HTTP request, by method and route.\n# TYPE {name} histogram"
        );
        self.http_latency.each(|labels, histogram| histogram.render(&mut out, name, labels));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.append_latency.observe(Duration::from_micros(50));
        metrics.append_latency.observe(Duration::from_millis(3));
        metrics.append_latency.observe(Duration::from_secs(60));
        let text = metrics.render();
        assert!(text.contains("weft_append_duration_seconds_bucket{le=\"0.0001\"} 1\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_bucket{le=\"0.005\"} 2\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_bucket{le=\"10\"} 2\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_count 3\n"), "{text}");
        assert!(text.contains("weft_append_duration_seconds_sum 60.00305"), "{text}");
    }

    #[test]
    fn http_requests_are_labelled_by_route_and_status() {
        let metrics = Metrics::default();
        metrics.record_http("GET", "/api/v1/topics/{topic}", 200, Duration::from_millis(1));
        metrics.record_http("GET", "/api/v1/topics/{topic}", 200, Duration::from_millis(1));
        metrics.record_http("GET", "/api/v1/topics/{topic}", 404, Duration::from_millis(1));
        metrics.record_http("GET", "a\"b", 200, Duration::from_millis(1));
        let text = metrics.render();
        assert!(
            text.contains(
                "weft_http_requests_total{method=\"GET\",route=\"/api/v1/topics/{topic}\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("status=\"404\"} 1\n"), "{text}");
        assert!(text.contains("route=\"a\\\"b\""), "{text}");
        assert!(text
            .contains("weft_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/topics/{topic}\"} 3\n"));
    }

    #[test]
    fn counters_render_with_type_lines() {
        let metrics = Metrics::default();
        metrics.produced_records.add(5);
        let text = metrics.render();
        assert!(text.contains("# TYPE weft_produced_records_total counter\nweft_produced_records_total 5\n"));
    }
}
