//! The outcome of a run: per-action table, the pass criteria, the server's CPU and memory, as
//! JSON, as a table on stdout, and as an SVG chart of users and latency over time.

use crate::run::{Mode, RunArgs};
use crate::stats::{Recorder, Tally};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::Duration;

/// Mattermost's load-test pass criteria.
pub const AVERAGE_MS_LIMIT: f64 = 100.0;
pub const P99_MS_LIMIT: f64 = 2_000.0;
pub const ERROR_RATE_LIMIT: f64 = 0.000_25;
pub const CPU_PCT_LIMIT: f64 = 85.0;
pub const MEMORY_PCT_LIMIT: f64 = 85.0;

/// One point of the timeline: the requests since the previous one and the server then.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at_seconds: f64,
    pub users: usize,
    pub requests: u64,
    pub errors: u64,
    pub average_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_pct: Option<f64>,
    pub rss_mib: Option<f64>,
    pub memory_pct: Option<f64>,
}

fn optional(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

impl Sample {
    pub fn line(&self) -> String {
        format!(
            "{:6.0} s  users {:6}  req {:7}  err {:4}  avg {:7.1} ms  p50 {:7.1} ms  p99 {:8.1} ms  cpu {:>5} %  rss {:>7} MiB",
            self.at_seconds,
            self.users,
            self.requests,
            self.errors,
            self.average_ms,
            self.p50_ms,
            self.p99_ms,
            optional(self.cpu_pct, 0),
            optional(self.rss_mib, 0),
        )
    }

    fn to_json(&self) -> Value {
        json!({
            "t": self.at_seconds, "users": self.users, "requests": self.requests,
            "errors": self.errors, "average_ms": self.average_ms, "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms, "cpu_pct": self.cpu_pct, "rss_mib": self.rss_mib,
            "memory_pct": self.memory_pct,
        })
    }
}

/// The criteria measured over some stretch of the run.
#[derive(Debug, Clone)]
pub struct Criteria {
    pub average_ms: f64,
    pub p99_ms: f64,
    pub error_rate: f64,
    /// The server's CPU over the stretch: the mean of its samples, each itself the average
    /// over `--sample-seconds` (unknown without the server's pid). Utilisation is a rate over
    /// an interval, as Mattermost's monitor reads it (Prometheus rates over a minute); a
    /// single five-second sample swings by half the limit at a steady load.
    pub cpu_pct: Option<f64>,
    /// The highest single CPU sample: reported, not judged.
    pub cpu_pct_peak: Option<f64>,
    /// The highest memory sample.
    pub memory_pct: Option<f64>,
}

impl Criteria {
    pub fn judge(requests: &Tally, samples: &[&Sample]) -> Criteria {
        let highest = |pick: fn(&Sample) -> Option<f64>| {
            samples
                .iter()
                .filter_map(|s| pick(s))
                .fold(None, |max: Option<f64>, v| {
                    Some(max.map_or(v, |m| m.max(v)))
                })
        };
        let cpu: Vec<f64> = samples.iter().filter_map(|s| s.cpu_pct).collect();
        Criteria {
            average_ms: requests.average_ms(),
            p99_ms: requests.percentile_ms(0.99),
            error_rate: requests.error_rate(),
            cpu_pct: (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
            cpu_pct_peak: highest(|s| s.cpu_pct),
            memory_pct: highest(|s| s.memory_pct),
        }
    }

    /// The names of the criteria not met.
    pub fn failing(&self) -> Vec<&'static str> {
        let mut failing = Vec::new();
        if self.average_ms >= AVERAGE_MS_LIMIT {
            failing.push("average");
        }
        if self.p99_ms >= P99_MS_LIMIT {
            failing.push("p99");
        }
        if self.error_rate >= ERROR_RATE_LIMIT {
            failing.push("errors");
        }
        if self.cpu_pct.is_some_and(|c| c >= CPU_PCT_LIMIT) {
            failing.push("cpu");
        }
        if self.memory_pct.is_some_and(|m| m >= MEMORY_PCT_LIMIT) {
            failing.push("memory");
        }
        failing
    }

    pub fn pass(&self) -> bool {
        self.failing().is_empty()
    }

    fn to_json(&self) -> Value {
        json!({
            "average_ms": self.average_ms, "average_ms_limit": AVERAGE_MS_LIMIT,
            "p99_ms": self.p99_ms, "p99_ms_limit": P99_MS_LIMIT,
            "error_rate": self.error_rate, "error_rate_limit": ERROR_RATE_LIMIT,
            "cpu_pct": self.cpu_pct, "cpu_pct_peak": self.cpu_pct_peak,
            "cpu_pct_limit": CPU_PCT_LIMIT,
            "memory_pct_max": self.memory_pct, "memory_pct_limit": MEMORY_PCT_LIMIT,
            "failing": self.failing(), "pass": self.pass(),
        })
    }
}

pub struct ActionRow {
    pub name: &'static str,
    pub tally: Tally,
}

pub struct Report {
    pub mode: Mode,
    pub wall: Duration,
    /// The second of the run from which the criteria were judged.
    pub judged_from: u64,
    pub actions: Vec<ActionRow>,
    pub requests: Tally,
    pub criteria: Criteria,
    pub samples: Vec<Sample>,
    pub events: u64,
    /// Unbounded: users held over the last minutes (lowest and average of the samples).
    pub held: Option<(usize, f64)>,
    pub json: Value,
}

impl Report {
    pub fn build(
        args: &RunArgs,
        recorder: &Recorder,
        samples: Vec<Sample>,
        wall: Duration,
        judged_from: u64,
        events: u64,
        max_users: usize,
    ) -> Report {
        let actions: Vec<ActionRow> = recorder
            .actions()
            .into_iter()
            .map(|(name, tally)| ActionRow { name, tally })
            .collect();
        let requests = recorder.requests();
        let judged: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.at_seconds >= judged_from as f64)
            .collect();
        let criteria = Criteria::judge(&recorder.window(judged_from, wall.as_secs() + 1), &judged);
        let held = (args.mode == Mode::Unbounded).then(|| {
            let from = wall.as_secs_f64() - args.report_minutes * 60.0;
            let last: Vec<usize> = samples
                .iter()
                .filter(|s| s.at_seconds >= from)
                .map(|s| s.users)
                .collect();
            let lowest = last.iter().copied().min().unwrap_or(0);
            let average = last.iter().sum::<usize>() as f64 / last.len().max(1) as f64;
            (lowest, average)
        });
        let seconds = wall.as_secs_f64().max(1e-3);
        let row = |name: &str, t: &Tally| {
            json!({
                "action": name, "count": t.count, "per_second": t.count as f64 / seconds,
                "average_ms": t.average_ms(), "p50_ms": t.percentile_ms(0.5),
                "p99_ms": t.percentile_ms(0.99), "max_ms": t.max_us as f64 / 1000.0,
                "errors": t.errors, "error_kinds": t.error_kinds,
            })
        };
        let cpu: Vec<f64> = samples.iter().filter_map(|s| s.cpu_pct).collect();
        let rss: Vec<f64> = samples.iter().filter_map(|s| s.rss_mib).collect();
        let json = json!({
            "date": comet_core::now().to_rfc3339(),
            "machine": {
                "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
                "memory_kib": comet_bench::process::total_memory_kib(),
            },
            "mode": format!("{:?}", args.mode).to_lowercase(),
            "settings": {
                "users": args.users, "max_users": max_users, "ramp_per_second": args.ramp,
                "duration_seconds": args.duration, "think_ms": args.think_ms,
                "timeout_ms": args.timeout_ms, "seed_users": args.seed.seed_users,
                "seed_rooms": args.seed.seed_rooms, "seed_messages": args.seed.seed_messages,
                "rooms_per_user": args.seed.rooms_per_user, "bcrypt_cost": args.bcrypt_cost,
            },
            "wall_seconds": wall.as_secs_f64(),
            "actions": actions.iter().map(|a| row(a.name, &a.tally)).collect::<Vec<_>>(),
            "requests": row("all requests", &requests),
            "stream_events_received": events,
            "server": {
                "cpu_pct_average": (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
                "cpu_pct_max": cpu.iter().copied().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
                "rss_mib_max": rss.iter().copied().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
                "rss_mib_end": rss.last(),
            },
            "criteria": criteria.to_json(),
            "criteria_from_second": judged_from,
            "users_held": held.map(|(lowest, average)| json!({
                "over_last_minutes": args.report_minutes, "lowest": lowest, "average": average,
            })),
            "timeline": samples.iter().map(Sample::to_json).collect::<Vec<_>>(),
        });
        Report {
            mode: args.mode,
            wall,
            judged_from,
            actions,
            requests,
            criteria,
            samples,
            events,
            held,
            json,
        }
    }

    /// The readable table.
    pub fn table(&self) -> String {
        let seconds = self.wall.as_secs_f64().max(1e-3);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<16} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "action", "count", "per s", "avg ms", "p50 ms", "p99 ms", "max ms", "errors"
        );
        let mut line = |name: &str, t: &Tally| {
            let _ = writeln!(
                out,
                "{:<16} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7}",
                name,
                t.count,
                t.count as f64 / seconds,
                t.average_ms(),
                t.percentile_ms(0.5),
                t.percentile_ms(0.99),
                t.max_us as f64 / 1000.0,
                t.errors
            );
        };
        for row in &self.actions {
            line(row.name, &row.tally);
        }
        line("all requests", &self.requests);
        for row in &self.actions {
            for (kind, n) in &row.tally.error_kinds {
                let _ = writeln!(out, "  error in {}: {kind} × {n}", row.name);
            }
        }
        let c = &self.criteria;
        let verdict = |ok: bool| if ok { "ok" } else { "FAIL" };
        let _ = writeln!(
            out,
            "criteria (from second {}): average {:.1} ms (< {AVERAGE_MS_LIMIT}) {}, p99 {:.1} ms (< {P99_MS_LIMIT}) {}, \
             errors {:.4} % (< {:.3} %) {}, server CPU {} % (< {CPU_PCT_LIMIT}) {} (highest sample {} %), memory max {} % (< {MEMORY_PCT_LIMIT}) {}",
            self.judged_from,
            c.average_ms,
            verdict(c.average_ms < AVERAGE_MS_LIMIT),
            c.p99_ms,
            verdict(c.p99_ms < P99_MS_LIMIT),
            c.error_rate * 100.0,
            ERROR_RATE_LIMIT * 100.0,
            verdict(c.error_rate < ERROR_RATE_LIMIT),
            optional(c.cpu_pct, 0),
            verdict(c.cpu_pct.is_none_or(|v| v < CPU_PCT_LIMIT)),
            optional(c.cpu_pct_peak, 0),
            optional(c.memory_pct, 1),
            verdict(c.memory_pct.is_none_or(|v| v < MEMORY_PCT_LIMIT)),
        );
        let _ = writeln!(out, "stream events received: {}", self.events);
        if let Some((lowest, average)) = self.held {
            let _ = writeln!(
                out,
                "users held over the last minutes: lowest {lowest}, average {average:.0}"
            );
        }
        if self.mode == Mode::Bounded {
            let _ = writeln!(
                out,
                "bounded run: {}",
                if c.pass() { "PASS" } else { "FAIL" }
            );
        }
        out
    }

    /// Users (left axis) and p50/p99 latency (right axis) over time, hand-written SVG.
    pub fn svg(&self) -> String {
        const WIDTH: f64 = 900.0;
        const HEIGHT: f64 = 420.0;
        const LEFT: f64 = 70.0;
        const RIGHT: f64 = 70.0;
        const TOP: f64 = 40.0;
        const BOTTOM: f64 = 50.0;
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let t_max = self
            .samples
            .iter()
            .map(|s| s.at_seconds)
            .fold(1.0, f64::max);
        let users_max = self
            .samples
            .iter()
            .map(|s| s.users)
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let ms_max = self
            .samples
            .iter()
            .map(|s| s.p99_ms)
            .fold(1.0, f64::max)
            .max(P99_MS_LIMIT.min(10.0));
        let x = |t: f64| LEFT + t / t_max * plot_w;
        let y_users = |u: f64| TOP + plot_h - u / users_max * plot_h;
        let y_ms = |ms: f64| TOP + plot_h - ms / ms_max * plot_h;
        let path = |points: Vec<(f64, f64)>| {
            points
                .iter()
                .enumerate()
                .map(|(i, (px, py))| format!("{}{px:.1},{py:.1}", if i == 0 { "M" } else { " L" }))
                .collect::<String>()
        };
        let users = path(
            self.samples
                .iter()
                .map(|s| (x(s.at_seconds), y_users(s.users as f64)))
                .collect(),
        );
        let p50 = path(
            self.samples
                .iter()
                .map(|s| (x(s.at_seconds), y_ms(s.p50_ms)))
                .collect(),
        );
        let p99 = path(
            self.samples
                .iter()
                .map(|s| (x(s.at_seconds), y_ms(s.p99_ms)))
                .collect(),
        );
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="22" font-size="14">comet-load, {} mode: users and request latency over time</text>"#,
            format!("{:?}", self.mode).to_lowercase()
        );
        for k in 0..=4 {
            let f = f64::from(k) / 4.0;
            let gy = TOP + plot_h - f * plot_h;
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/>"##,
                LEFT + plot_w
            );
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1f5fbf">{:.0}</text>"##,
                LEFT - 6.0,
                gy + 4.0,
                f * users_max
            );
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" fill="#b03020">{:.0} ms</text>"##,
                LEFT + plot_w + 6.0,
                gy + 4.0,
                f * ms_max
            );
            let gx = LEFT + f * plot_w;
            let _ = writeln!(
                svg,
                r#"<text x="{gx:.1}" y="{:.1}" text-anchor="middle">{:.0} s</text>"#,
                TOP + plot_h + 18.0,
                f * t_max
            );
        }
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<path d="{users}" fill="none" stroke="#1f5fbf" stroke-width="2"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<path d="{p50}" fill="none" stroke="#e08020" stroke-width="1.5"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<path d="{p99}" fill="none" stroke="#b03020" stroke-width="1.5" stroke-dasharray="5,3"/>"##
        );
        let legend_y = HEIGHT - 12.0;
        let _ = writeln!(
            svg,
            r##"<text x="{LEFT}" y="{legend_y}"><tspan fill="#1f5fbf">— users (left)</tspan>   <tspan fill="#e08020">— p50</tspan>   <tspan fill="#b03020">- - p99 (right, per {:.0} s)</tspan></text>"##,
            self.samples
                .windows(2)
                .next()
                .map_or(1.0, |w| w[1].at_seconds - w[0].at_seconds)
        );
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(cpu_pct: f64) -> Sample {
        Sample {
            at_seconds: 0.0,
            users: 1,
            requests: 1,
            errors: 0,
            average_ms: 1.0,
            p50_ms: 1.0,
            p99_ms: 1.0,
            cpu_pct: Some(cpu_pct),
            rss_mib: Some(30.0),
            memory_pct: Some(0.5),
        }
    }

    fn fast_requests() -> Tally {
        let mut requests = Tally::default();
        requests.record(Duration::from_millis(2), None);
        requests
    }

    #[test]
    fn cpu_is_judged_by_its_mean_over_the_stretch_and_its_peak_reported() {
        let samples = [sample(50.0), sample(95.0), sample(50.0)];
        let criteria = Criteria::judge(&fast_requests(), &samples.iter().collect::<Vec<_>>());
        assert_eq!(criteria.cpu_pct, Some(65.0));
        assert_eq!(criteria.cpu_pct_peak, Some(95.0));
        assert!(criteria.pass(), "{:?}", criteria.failing());
    }

    #[test]
    fn a_stretch_whose_mean_cpu_reaches_the_limit_fails() {
        let samples = [sample(80.0), sample(90.0)];
        let criteria = Criteria::judge(&fast_requests(), &samples.iter().collect::<Vec<_>>());
        assert_eq!(criteria.failing(), vec!["cpu"]);
    }
}
