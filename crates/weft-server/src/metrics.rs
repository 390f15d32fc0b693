//! The server's metrics: HTTP requests by route and status, and the mesh's data counters
//! ([`weft_mesh::metrics::DataMetrics`]), rendered together in the Prometheus text format.
//!
//! Label sets are bounded by construction: HTTP routes are the router's templates
//! (`/api/v1/topics/{topic}`), never raw paths, and unmatched paths share the route label `unmatched`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use weft_mesh::metrics::{Counter, DataMetrics, Family, Histogram};

/// Everything the server counts.
#[derive(Debug)]
pub struct Metrics {
    /// The write and read paths' counters (shared with the mesh, which records them).
    pub data: Arc<DataMetrics>,
    http_requests: Family<Counter>,
    http_latency: Family<Histogram>,
}

impl Metrics {
    pub fn new(data: Arc<DataMetrics>) -> Self {
        Metrics { data, http_requests: Family::new(), http_latency: Family::new() }
    }

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
        self.data.render(&mut out);
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
    fn http_requests_are_labelled_by_route_and_status() {
        let metrics = Metrics::new(Arc::default());
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
        assert!(text.contains("weft_produced_records_total 0\n"), "the data counters render too");
    }
}
