//! Prometheus metrics, kept in-process and rendered as text at `/metrics`.
//!
//! A small registry of labelled counters and latency histograms is all threelo needs, so it is
//! written here rather than pulled in as a dependency. Label values are always from a small fixed
//! set (route patterns, outcomes, status codes), never from user input.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use actix_web::{HttpResponse, get, web};

/// Every metric: its name, type and help text, in the order `/metrics` lists them.
const METRICS: &[(&str, &str, &str)] = &[
    ("threelo_http_requests_total", "counter", "HTTP requests answered, by route pattern, method and status."),
    ("threelo_http_request_duration_seconds", "histogram", "Time to answer HTTP requests, by route pattern."),
    ("threelo_sign_ins_total", "counter", "Completed sign-in callbacks, by outcome."),
    (
        "threelo_token_refreshes_total",
        "counter",
        "Token refreshes, by outcome (refreshed, already_refreshed, grant_ended, unknown, failed).",
    ),
    ("threelo_refresh_lease_waits_total", "counter", "Times a refresh waited for another instance holding the lease."),
    ("threelo_upstream_requests_total", "counter", "Calls to Atlassian, by product and status."),
    ("threelo_upstream_rate_limited_total", "counter", "429 answers from Atlassian, by product."),
    ("threelo_redis_errors_total", "counter", "Requests that failed because Redis did not answer."),
];

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

type Key = (&'static str, String);

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Key, u64>,
    histograms: BTreeMap<Key, Histogram>,
}

/// The process's metrics. Shared by every worker through `web::Data`.
#[derive(Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// `{a="x",b="y"}` with values escaped as Prometheus requires.
fn label_text(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")))
        .collect();
    format!("{{{}}}", parts.join(","))
}

impl Metrics {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // Each update is a single map operation: a poisoned lock still holds consistent data.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one to a counter.
    pub fn inc(&self, name: &'static str, labels: &[(&str, &str)]) {
        *self.registry().counters.entry((name, label_text(labels))).or_default() += 1;
    }

    /// Records one observation (seconds) in a histogram.
    pub fn observe(&self, name: &'static str, labels: &[(&str, &str)], seconds: f64) {
        let mut registry = self.registry();
        let histogram = registry.histograms.entry((name, label_text(labels))).or_default();
        for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The value of a counter (for tests and the benchmark).
    pub fn counter(&self, name: &'static str, labels: &[(&str, &str)]) -> u64 {
        self.registry().counters.get(&(name, label_text(labels))).copied().unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let registry = self.registry();
        let mut out = String::new();
        for (name, kind, help) in METRICS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((metric, labels), value) in registry.counters.range((*name, String::new())..) {
                if metric != name {
                    break;
                }
                let _ = writeln!(out, "{name}{labels} {value}");
            }
            for ((metric, labels), histogram) in registry.histograms.range((*name, String::new())..) {
                if metric != name {
                    break;
                }
                // `le` joins the other labels: {route="/",le="0.1"}.
                let with = |extra: &str| match labels.strip_suffix('}') {
                    Some(open) => format!("{open},{extra}}}"),
                    None => format!("{{{extra}}}"),
                };
                for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                    let _ = writeln!(out, "{name}_bucket{} {count}", with(&format!("le=\"{bound}\"")));
                }
                let _ = writeln!(out, "{name}_bucket{} {}", with("le=\"+Inf\""), histogram.count);
                let _ = writeln!(out, "{name}_sum{labels} {}", histogram.sum);
                let _ = writeln!(out, "{name}_count{labels} {}", histogram.count);
            }
        }
        out
    }
}

/// `GET /metrics`.
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_as_prometheus_text() {
        let registry = Metrics::default();
        registry.inc("threelo_sign_ins_total", &[("outcome", "success")]);
        registry.inc("threelo_sign_ins_total", &[("outcome", "success")]);
        registry.observe("threelo_http_request_duration_seconds", &[("route", "/")], 0.02);
        let text = registry.render();
        assert!(text.contains("threelo_sign_ins_total{outcome=\"success\"} 2\n"), "{text}");
        assert!(text.contains("threelo_http_request_duration_seconds_bucket{route=\"/\",le=\"0.01\"} 0\n"), "{text}");
        assert!(text.contains("threelo_http_request_duration_seconds_bucket{route=\"/\",le=\"0.025\"} 1\n"), "{text}");
        assert!(text.contains("threelo_http_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE threelo_redis_errors_total counter"));
        assert_eq!(registry.counter("threelo_sign_ins_total", &[("outcome", "success")]), 2);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_text(&[("a", "x\"y\\z\n")]), "{a=\"x\\\"y\\\\z\\n\"}");
    }
}
