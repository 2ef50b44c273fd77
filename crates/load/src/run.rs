//! A run: the server (started here, or one already running), the users, the sampler of the
//! server's CPU and memory, and in unbounded mode the controller that adds and removes users.

use crate::report::{Criteria, Report, Sample};
use crate::seed::{self, SeedSize};
use crate::stats::Recorder;
use crate::user::{self, World};
use comet_bench::process::{
    CometProcess, allowed_cpus_of, cpu_seconds_of, rss_kib_of, total_memory_kib,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// A fixed number of users; latency per action.
    Bounded,
    /// Users added a few per second while every criterion holds, removed when one fails.
    Unbounded,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[arg(long, value_enum, default_value_t = Mode::Bounded)]
    pub mode: Mode,
    /// Bounded: the users; unbounded: the users to start with.
    #[arg(long, default_value_t = 1_000)]
    pub users: usize,
    /// Unbounded: never more users than this (default: the seeded users).
    #[arg(long)]
    pub max_users: Option<usize>,
    /// Users added per second (the ramp in both modes).
    #[arg(long, default_value_t = 20.0)]
    pub ramp: f64,
    /// Seconds of the run once every user of a bounded run is in (unbounded: the whole run).
    #[arg(long, default_value_t = 300)]
    pub duration: u64,
    /// Mean think time between two actions of a user, in milliseconds (exponential).
    #[arg(long, default_value_t = 5_000)]
    pub think_ms: u64,
    /// Longest wait for any answer before it counts as a timeout, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Loopback source addresses (127.0.0.1 …) the client sockets spread over.
    #[arg(long, default_value_t = 4)]
    pub source_addresses: u8,
    /// Seconds between two samples of the server (and points of the chart).
    #[arg(long, default_value_t = 5)]
    pub sample_seconds: u64,
    /// Unbounded: the criteria are judged over this many last seconds.
    #[arg(long, default_value_t = 30)]
    pub window_seconds: u64,
    /// Unbounded: the users held are reported over this many last minutes.
    #[arg(long, default_value_t = 2.0)]
    pub report_minutes: f64,
    /// A server already running (e.g. `http://127.0.0.1:3000`), seeded with `comet-load seed`;
    /// without it comet-load seeds a fresh data directory and starts `--comet` itself.
    #[arg(long)]
    pub url: Option<String>,
    /// The process id of the server at `--url`, for its CPU and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The comet binary started when there is no `--url`.
    #[arg(long, default_value = "target/release/comet")]
    pub comet: String,
    /// The CPUs of the started server (`taskset -c <list>`), e.g. `1`.
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// The data directory of the started server (default: a temporary one).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// bcrypt cost of the seeded passwords (10: upstream's; each login pays it).
    #[arg(long, default_value_t = 10)]
    pub bcrypt_cost: u32,
    #[command(flatten)]
    pub seed: SeedSize,
    /// The report as JSON.
    #[arg(long, default_value = "comet-load.json")]
    pub json: PathBuf,
    /// The chart of users and latency over time.
    #[arg(long, default_value = "comet-load.svg")]
    pub svg: PathBuf,
    /// CI's short run: 20 users, 10 s, a small data set, short think times, cheap bcrypt.
    #[arg(long)]
    pub smoke: bool,
}

impl RunArgs {
    pub fn apply_smoke(&mut self) {
        if !self.smoke {
            return;
        }
        self.mode = Mode::Bounded;
        self.users = 20;
        self.ramp = 100.0;
        self.duration = 10;
        self.think_ms = 150;
        self.sample_seconds = 1;
        self.bcrypt_cost = 4;
        self.seed = SeedSize {
            seed_users: 100,
            seed_rooms: 20,
            seed_messages: 5_000,
            rooms_per_user: 4,
        };
    }
}

/// The open-file limit of this process (soft, hard), from /proc.
fn open_file_limit() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(|n| n.parse::<u64>().unwrap_or(u64::MAX));
    Some((numbers.next()?, numbers.next()?))
}

/// Each user holds one WebSocket; the REST pools and the rest need a few hundred more.
fn check_open_files(users: usize) -> Result<(), String> {
    let needed = users as u64 + 512;
    match open_file_limit() {
        Some((soft, hard)) if soft < needed => Err(format!(
            "{users} users need about {needed} open files (one WebSocket each, plus the REST \
             pools), but this process may open {soft} (hard limit {hard}): raise it with \
             `ulimit -n {needed}` (at most the hard limit), or spread the users over several \
             comet-load processes"
        )),
        _ => Ok(()),
    }
}

/// About 28,000 ephemeral ports per (source, destination) pair; a margin on top.
fn sources_needed(users: usize) -> u8 {
    u8::try_from(users / 20_000 + 1).unwrap_or(u8::MAX)
}

struct Server {
    _process: Option<CometProcess>,
    _dir: Option<tempfile::TempDir>,
    base: String,
    pid: Option<u32>,
}

async fn start_server(args: &RunArgs) -> Result<Server, String> {
    if let Some(url) = &args.url {
        return Ok(Server {
            _process: None,
            _dir: None,
            base: url.trim_end_matches('/').to_owned(),
            pid: args.server_pid,
        });
    }
    let (dir, path) = match &args.data_dir {
        Some(path) => (None, path.clone()),
        None => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let path = dir.path().to_path_buf();
            (Some(dir), path)
        }
    };
    if !path.join("comet.db").exists() {
        prepare(&args.comet, &path, &args.seed, args.bcrypt_cost).await?;
    }
    let process = CometProcess::start_pinned(
        &args.comet,
        args.bcrypt_cost,
        &path,
        &[],
        args.server_cpus.as_deref(),
    )
    .await?;
    Ok(Server {
        base: process.base.clone(),
        pid: Some(process.pid()),
        _process: Some(process),
        _dir: dir,
    })
}

/// A fresh data directory: the server starts once (schema, settings, admin), stops, and the
/// data set goes in through the bulk import.
pub async fn prepare(
    comet: &str,
    data_dir: &std::path::Path,
    size: &SeedSize,
    bcrypt_cost: u32,
) -> Result<(), String> {
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    drop(CometProcess::start(comet, bcrypt_cost, data_dir).await?);
    seed::seed(data_dir, size, bcrypt_cost).await
}

/// What the sampler measured of the server between two samples.
struct ServerGauge {
    pid: Option<u32>,
    cpus: f64,
    memory_kib: f64,
    last_cpu: Option<f64>,
    last_at: Instant,
}

impl ServerGauge {
    fn new(pid: Option<u32>) -> ServerGauge {
        let cpus = pid
            .and_then(allowed_cpus_of)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        ServerGauge {
            pid,
            cpus: cpus as f64,
            memory_kib: total_memory_kib().unwrap_or(0) as f64,
            last_cpu: pid.and_then(cpu_seconds_of),
            last_at: Instant::now(),
        }
    }

    /// CPU (percent of the CPUs it may use) since the last reading, RSS (MiB) and memory
    /// (percent of the machine's).
    fn read(&mut self) -> (Option<f64>, Option<f64>, Option<f64>) {
        let Some(pid) = self.pid else {
            return (None, None, None);
        };
        let now = Instant::now();
        let cpu = cpu_seconds_of(pid);
        let cpu_pct = match (cpu, self.last_cpu) {
            (Some(now_cpu), Some(before)) => Some(
                (now_cpu - before)
                    / now.duration_since(self.last_at).as_secs_f64().max(1e-3)
                    / self.cpus
                    * 100.0,
            ),
            _ => None,
        };
        self.last_cpu = cpu;
        self.last_at = now;
        let rss = rss_kib_of(pid).map(|kib| kib as f64);
        let memory_pct = rss
            .filter(|_| self.memory_kib > 0.0)
            .map(|kib| kib / self.memory_kib * 100.0);
        (cpu_pct, rss.map(|kib| kib / 1024.0), memory_pct)
    }
}

struct Crowd {
    world: Arc<World>,
    users: Vec<(CancellationToken, tokio::task::JoinHandle<()>)>,
    leaving: Vec<tokio::task::JoinHandle<()>>,
}

impl Crowd {
    fn add(&mut self) {
        let index = self.users.len();
        let stop = CancellationToken::new();
        let task = tokio::spawn(user::run(self.world.clone(), index, stop.clone()));
        self.users.push((stop, task));
    }

    fn remove(&mut self) {
        if let Some((stop, task)) = self.users.pop() {
            stop.cancel();
            self.leaving.push(task);
        }
    }

    async fn stop_all(mut self, timeout: Duration) {
        for (stop, task) in self.users.drain(..) {
            stop.cancel();
            self.leaving.push(task);
        }
        let all = futures_util::future::join_all(self.leaving);
        let _ = tokio::time::timeout(timeout, all).await;
    }
}

pub async fn run(mut args: RunArgs) -> Result<Report, String> {
    args.apply_smoke();
    let max_users = match args.mode {
        Mode::Bounded => args.users,
        Mode::Unbounded => args.max_users.unwrap_or(args.seed.seed_users),
    }
    .min(args.seed.seed_users);
    check_open_files(max_users)?;
    let sources = args.source_addresses.max(sources_needed(max_users));
    let server = start_server(&args).await?;
    let address: SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("--url must be http://<ip>:<port>: {e}"))?;
    let mut http = Vec::with_capacity(usize::from(sources));
    for source in 0..usize::from(sources) {
        http.push(
            reqwest::Client::builder()
                .local_address(comet_bench::net::source_address(source, sources))
                .pool_max_idle_per_host(1_024)
                .timeout(Duration::from_millis(args.timeout_ms))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    let world = Arc::new(World {
        ws_url: format!("ws://{address}/websocket"),
        base: server.base.clone(),
        server: address,
        sources,
        http,
        recorder: Recorder::new(),
        events: Arc::new(AtomicU64::new(0)),
        seed: args.seed,
        think_mean: Duration::from_millis(args.think_ms),
        timeout: Duration::from_millis(args.timeout_ms),
    });
    println!(
        "comet-load: {:?} mode, {} users{}, think {} ms, server {} (pid {})",
        args.mode,
        args.users,
        match args.mode {
            Mode::Bounded => String::new(),
            Mode::Unbounded => format!(" to start, at most {max_users}"),
        },
        args.think_ms,
        server.base,
        server.pid.map_or("unknown".into(), |p| p.to_string())
    );

    let mut crowd = Crowd {
        world: world.clone(),
        users: Vec::new(),
        leaving: Vec::new(),
    };
    let mut gauge = ServerGauge::new(server.pid);
    let mut samples: Vec<Sample> = Vec::new();
    let started = Instant::now();
    let sample_every = Duration::from_secs(args.sample_seconds.max(1));
    let tick_every = Duration::from_millis(100);
    let mut next_sample = sample_every;
    let mut last_sample_second = 0u64;
    let mut added = 0.0f64;
    let initial = args.users.min(max_users);
    let mut ramp_done_at: Option<Instant> = None;
    // Unbounded: the controller judges every `sample_seconds` over the window, but not over
    // seconds from before its last change, so that one bad stretch removes users only once.
    let mut controller_from = 0u64;
    let mut target = initial;
    let mut tick = tokio::time::interval(tick_every);
    loop {
        tick.tick().await;
        let elapsed = started.elapsed();
        // Users join at the ramp rate until the target.
        added += args.ramp * tick_every.as_secs_f64();
        while crowd.users.len() < target && added >= 1.0 {
            crowd.add();
            added -= 1.0;
        }
        if crowd.users.len() >= target {
            added = added.min(1.0);
        }
        while crowd.users.len() > target {
            crowd.remove();
        }
        if ramp_done_at.is_none() && crowd.users.len() >= initial {
            ramp_done_at = Some(Instant::now());
        }
        if elapsed >= next_sample {
            next_sample += sample_every;
            let second = elapsed.as_secs();
            let window = world.recorder.window(last_sample_second, second);
            last_sample_second = second;
            let (cpu_pct, rss_mib, memory_pct) = gauge.read();
            samples.push(Sample {
                at_seconds: elapsed.as_secs_f64(),
                users: crowd.users.len(),
                requests: window.count,
                errors: window.errors,
                average_ms: window.average_ms(),
                p50_ms: window.percentile_ms(0.5),
                p99_ms: window.percentile_ms(0.99),
                cpu_pct,
                rss_mib,
                memory_pct,
            });
            if args.mode == Mode::Unbounded {
                let from = second
                    .saturating_sub(args.window_seconds)
                    .max(controller_from);
                if second.saturating_sub(from) >= args.sample_seconds {
                    let recent = world.recorder.window(from, second);
                    let since = samples
                        .iter()
                        .filter(|s| s.at_seconds >= from as f64)
                        .collect::<Vec<_>>();
                    let criteria = Criteria::judge(&recent, &since);
                    let step = (args.ramp * args.sample_seconds as f64).ceil().max(1.0) as usize;
                    if criteria.pass() {
                        if crowd.users.len() >= target {
                            target = (target + step).min(max_users);
                        }
                    } else {
                        target = target.saturating_sub(step);
                        controller_from = second;
                        println!(
                            "{:6.0} s  {} fails: down to {} users",
                            elapsed.as_secs_f64(),
                            criteria.failing().join(", "),
                            target
                        );
                    }
                }
            }
            if let Some(last) = samples.last() {
                println!("{}", last.line());
            }
        }
        let done = match args.mode {
            Mode::Bounded => {
                ramp_done_at.is_some_and(|at| at.elapsed() >= Duration::from_secs(args.duration))
            }
            Mode::Unbounded => elapsed >= Duration::from_secs(args.duration),
        };
        if done {
            break;
        }
    }
    let wall = started.elapsed();
    crowd
        .stop_all(Duration::from_millis(args.timeout_ms) + Duration::from_secs(5))
        .await;
    // A bounded run is judged once every user is in (the ramp's logins are in the table);
    // an unbounded one over the whole run.
    let judged_from = match (args.mode, ramp_done_at) {
        (Mode::Bounded, Some(at)) => at.duration_since(started).as_secs(),
        _ => 0,
    };
    let report = Report::build(
        &args,
        &world.recorder,
        samples,
        wall,
        judged_from,
        world.events.load(Ordering::Relaxed),
        max_users,
    );
    drop(server);
    Ok(report)
}
