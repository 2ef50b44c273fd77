//! Process-wide metrics, rendered in Prometheus' text exposition format at `/metrics`.
//!
//! A handful of fixed counters and gauges (atomics, free to update on hot paths) and one
//! labelled histogram family for HTTP request latency. No dependency: the format is small and
//! stable, and a registry crate would cost more than it saves here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub const fn new() -> Self {
        Gauge(AtomicI64::new(0))
    }

    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations at or under each bound (not cumulative; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }
}

/// Realtime (DDP) connections open now.
pub static REALTIME_CONNECTIONS: Gauge = Gauge::new();
/// Frames queued to realtime connections.
pub static REALTIME_FRAMES: Counter = Counter::new();
/// Realtime connections closed because they could not keep up (close 1013).
pub static REALTIME_SLOW_CONSUMERS: Counter = Counter::new();
/// Messages posted (by users and bots, not system messages).
pub static MESSAGES_POSTED: Counter = Counter::new();
/// Events published on the bus.
pub static EVENTS_PUBLISHED: Counter = Counter::new();
/// REST requests refused (503) because as many as allowed were already in progress.
pub static HTTP_REQUESTS_SHED: Counter = Counter::new();
/// Audit entries of committed actions that could not be appended (the action answered an
/// error instead of success).
pub static AUDIT_APPEND_FAILURES: Counter = Counter::new();
/// Mail messages the mail server accepted.
pub static MAIL_DELIVERED: Counter = Counter::new();
/// Failed delivery attempts that will be retried.
pub static MAIL_RETRIED: Counter = Counter::new();
/// Mail messages given up on (refused for good, or undelivered for too long).
pub static MAIL_ABANDONED: Counter = Counter::new();

/// `(method, route, status)` → latency histogram.
static HTTP_REQUESTS: Mutex<BTreeMap<(String, String, u16), Histogram>> =
    Mutex::new(BTreeMap::new());

/// Records one HTTP request. `route` is the matched route pattern (never the raw path, so
/// that ids do not multiply the series).
pub fn observe_http(method: &str, route: &str, status: u16, elapsed: Duration) {
    let mut requests = match HTTP_REQUESTS.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    requests
        .entry((method.to_owned(), route.to_owned(), status))
        .or_default()
        .observe(elapsed.as_secs_f64());
}

/// One extra sample supplied at render time (database pools, bus counters).
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: &'static str,
    pub help: &'static str,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Everything, in Prometheus text format.
pub fn render(extra: &[Sample]) -> String {
    let mut out = String::new();
    let fixed: [(&str, &str, &str, f64); 10] = [
        (
            "comet_realtime_connections",
            "Realtime (DDP) connections open now.",
            "gauge",
            REALTIME_CONNECTIONS.get() as f64,
        ),
        (
            "comet_realtime_frames_total",
            "Frames queued to realtime connections.",
            "counter",
            REALTIME_FRAMES.get() as f64,
        ),
        (
            "comet_realtime_slow_consumer_disconnects_total",
            "Realtime connections closed because their queue was full (fan-out queue drops).",
            "counter",
            REALTIME_SLOW_CONSUMERS.get() as f64,
        ),
        (
            "comet_messages_posted_total",
            "Messages posted by users and bots.",
            "counter",
            MESSAGES_POSTED.get() as f64,
        ),
        (
            "comet_events_published_total",
            "Events published on the event bus.",
            "counter",
            EVENTS_PUBLISHED.get() as f64,
        ),
        (
            "comet_mail_delivered_total",
            "Mail messages the mail server accepted.",
            "counter",
            MAIL_DELIVERED.get() as f64,
        ),
        (
            "comet_mail_retried_total",
            "Mail delivery attempts that failed and will be retried.",
            "counter",
            MAIL_RETRIED.get() as f64,
        ),
        (
            "comet_mail_abandoned_total",
            "Mail messages given up on: refused for good, or not delivered within three days.",
            "counter",
            MAIL_ABANDONED.get() as f64,
        ),
        (
            "comet_http_requests_shed_total",
            "REST requests refused with 503 because the server had as many in progress as allowed.",
            "counter",
            HTTP_REQUESTS_SHED.get() as f64,
        ),
        (
            "comet_audit_append_failures_total",
            "Audit entries of committed actions that could not be appended.",
            "counter",
            AUDIT_APPEND_FAILURES.get() as f64,
        ),
    ];
    for (name, help, kind, value) in fixed {
        header(&mut out, name, help, kind);
        let _ = writeln!(out, "{name} {value}");
    }
    if let Some(bytes) = resident_memory_bytes() {
        header(
            &mut out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "gauge",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {bytes}");
    }

    let mut seen = std::collections::BTreeSet::new();
    for sample in extra {
        if seen.insert(sample.name) {
            header(&mut out, sample.name, sample.help, sample.kind);
        }
        let labels = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect::<Vec<_>>()
            .join(",");
        if labels.is_empty() {
            let _ = writeln!(out, "{} {}", sample.name, sample.value);
        } else {
            let _ = writeln!(out, "{}{{{labels}}} {}", sample.name, sample.value);
        }
    }

    let name = "comet_http_request_duration_seconds";
    header(
        &mut out,
        name,
        "HTTP request latency by method, route and status.",
        "histogram",
    );
    let requests = match HTTP_REQUESTS.lock() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for ((method, route, status), histogram) in &requests {
        let labels = format!(
            "method=\"{}\",route=\"{}\",status=\"{status}\"",
            escape(method),
            escape(route)
        );
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels},le=\"+Inf\"}} {}",
            histogram.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", histogram.sum_seconds);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", histogram.count);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        observe_http("GET", "/api/v1/me", 200, Duration::from_millis(3));
        observe_http("GET", "/api/v1/me", 200, Duration::from_millis(30));
        MESSAGES_POSTED.inc();
        let text = render(&[Sample {
            name: "comet_db_pool_connections",
            help: "Database connections.",
            kind: "gauge",
            labels: vec![("pool", "reader".into()), ("state", "idle".into())],
            value: 3.0,
        }]);
        assert!(text.contains("# TYPE comet_http_request_duration_seconds histogram"));
        assert!(text.contains(
            "comet_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/me\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "comet_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/me\",status=\"200\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("comet_db_pool_connections{pool=\"reader\",state=\"idle\"} 3"));
        assert!(text.contains("# TYPE comet_messages_posted_total counter"));
    }
}
