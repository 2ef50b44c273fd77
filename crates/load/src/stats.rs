//! Latencies and errors, per action and per second of the run.
//!
//! Latencies go into log-scale buckets (4 % apart), so that a run of hours keeps a few
//! kilobytes per second of history whatever the request rate, and any window of seconds can be
//! merged back into percentiles.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bucket `i` holds latencies up to `GROWTH^(i+1)` µs; the last one everything longer.
const GROWTH: f64 = 1.04;
const BUCKETS: usize = 480;

#[derive(Clone, Default)]
pub struct Tally {
    pub count: u64,
    pub errors: u64,
    pub sum_us: u64,
    pub max_us: u64,
    buckets: Vec<u64>,
    pub error_kinds: BTreeMap<String, u64>,
}

fn bucket_of(micros: u64) -> usize {
    if micros <= 1 {
        return 0;
    }
    let index = ((micros as f64).ln() / GROWTH.ln()) as usize;
    index.min(BUCKETS - 1)
}

impl Tally {
    pub fn record(&mut self, latency: Duration, error: Option<&str>) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS];
        }
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(micros);
        self.max_us = self.max_us.max(micros);
        self.buckets[bucket_of(micros)] += 1;
        if let Some(kind) = error {
            self.errors += 1;
            *self.error_kinds.entry(kind.to_owned()).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        if other.count == 0 {
            return;
        }
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS];
        }
        self.count += other.count;
        self.errors += other.errors;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.max_us = self.max_us.max(other.max_us);
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        for (kind, n) in &other.error_kinds {
            *self.error_kinds.entry(kind.clone()).or_default() += n;
        }
    }

    pub fn average_ms(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.sum_us as f64 / self.count as f64 / 1000.0
    }

    /// The latency (ms) under which a fraction `p` of the samples fall, to the bucket's
    /// precision (never above the largest sample).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((self.count as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let upper = GROWTH.powi(i32::try_from(index).unwrap_or(i32::MAX) + 1);
                return upper.min(self.max_us as f64) / 1000.0;
            }
        }
        self.max_us as f64 / 1000.0
    }

    pub fn error_rate(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.errors as f64 / self.count as f64
    }
}

struct Inner {
    actions: BTreeMap<&'static str, Tally>,
    requests: Tally,
    /// Requests by the second of the run they finished in.
    seconds: Vec<Tally>,
}

/// Everything measured in a run; shared by every simulated user.
pub struct Recorder {
    started: Instant,
    inner: Mutex<Inner>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            started: Instant::now(),
            inner: Mutex::new(Inner {
                actions: BTreeMap::new(),
                requests: Tally::default(),
                seconds: Vec::new(),
            }),
        }
    }

    /// One request (REST call or DDP method) and how it ended.
    pub fn request(&self, latency: Duration, error: Option<&str>) {
        let second = usize::try_from(self.started.elapsed().as_secs()).unwrap_or(usize::MAX);
        if let Ok(mut inner) = self.inner.lock() {
            inner.requests.record(latency, error);
            if inner.seconds.len() <= second {
                inner.seconds.resize(second + 1, Tally::default());
            }
            inner.seconds[second].record(latency, error);
        }
    }

    /// One user action (a few requests) and how it ended.
    pub fn action(&self, name: &'static str, latency: Duration, error: Option<&str>) {
        if let Ok(mut inner) = self.inner.lock() {
            inner
                .actions
                .entry(name)
                .or_default()
                .record(latency, error);
        }
    }

    /// Requests that finished in the seconds `[from, to)` of the run.
    pub fn window(&self, from: u64, to: u64) -> Tally {
        let mut merged = Tally::default();
        if let Ok(inner) = self.inner.lock() {
            let from = usize::try_from(from).unwrap_or(usize::MAX);
            let to = usize::try_from(to)
                .unwrap_or(usize::MAX)
                .min(inner.seconds.len());
            for tally in inner.seconds.get(from..to).unwrap_or_default() {
                merged.merge(tally);
            }
        }
        merged
    }

    pub fn actions(&self) -> BTreeMap<&'static str, Tally> {
        self.inner
            .lock()
            .map(|inner| inner.actions.clone())
            .unwrap_or_default()
    }

    pub fn requests(&self) -> Tally {
        self.inner
            .lock()
            .map(|inner| inner.requests.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_a_bucket_of_the_truth() {
        let mut tally = Tally::default();
        for ms in 1..=1000u64 {
            tally.record(Duration::from_millis(ms), None);
        }
        let p50 = tally.percentile_ms(0.5);
        let p99 = tally.percentile_ms(0.99);
        assert!((480.0..=530.0).contains(&p50), "p50 {p50}");
        assert!((950.0..=1000.0).contains(&p99), "p99 {p99}");
        assert_eq!(tally.percentile_ms(1.0), 1000.0);
        assert!((tally.average_ms() - 500.5).abs() < 0.01);
    }

    #[test]
    fn errors_are_counted_by_kind() {
        let mut tally = Tally::default();
        tally.record(Duration::from_millis(1), Some("timeout"));
        tally.record(Duration::from_millis(1), Some("timeout"));
        tally.record(Duration::from_millis(1), None);
        assert_eq!(tally.errors, 2);
        assert_eq!(tally.error_kinds.get("timeout"), Some(&2));
    }
}
