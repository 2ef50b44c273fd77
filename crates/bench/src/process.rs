//! A `comet` process on a free loopback port with its own data directory, set up for load
//! (rate limits and abuse controls off), and what /proc says about a process.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the admin and of every account the benchmarks create.
pub const PASSWORD: &str = "Bench-Pass-1!";

/// A comet process on a free loopback port with its own data directory.
pub struct CometProcess {
    child: Child,
    pub base: String,
}

impl CometProcess {
    pub async fn start(
        binary: &str,
        bcrypt_cost: u32,
        dir: &std::path::Path,
    ) -> Result<Self, String> {
        Self::start_with_env(binary, bcrypt_cost, dir, &[]).await
    }

    /// Starts comet with extra environment (e.g. `DATABASE_URL`, `NATS_URL`).
    pub async fn start_with_env(
        binary: &str,
        bcrypt_cost: u32,
        dir: &std::path::Path,
        env: &[(&str, String)],
    ) -> Result<Self, String> {
        Self::start_pinned(binary, bcrypt_cost, dir, env, None).await
    }

    /// Starts comet, under `taskset -c <cpus>` when `cpus` is given (the server on its own
    /// cores, away from the load generator).
    pub async fn start_pinned(
        binary: &str,
        bcrypt_cost: u32,
        dir: &std::path::Path,
        env: &[(&str, String)],
        cpus: Option<&str>,
    ) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut command = match cpus {
            Some(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.arg("-c").arg(cpus).arg(binary);
                taskset
            }
            None => Command::new(binary),
        };
        command
            .env("PORT", port.to_string())
            .env("BIND_IP", "127.0.0.1")
            .env("COMET_DATA_DIR", dir)
            .env("ADMIN_PASS", PASSWORD)
            .env("COMET_BCRYPT_COST", bcrypt_cost.to_string())
            .env("COMET_LOG", "warn");
        for (id, value) in LOAD_SETTINGS {
            command.env(format!("OVERWRITE_SETTING_{id}"), value);
        }
        let child = command
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let process = CometProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = http.get(format!("{}/api/info", process.base)).send().await
                && r.status().is_success()
            {
                return Ok(process);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("comet did not become ready in 30 s".into())
    }

    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib_of(self.child.id())
    }

    /// The process id (with `taskset`, the same process: it execs the server).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Settings a load generator needs off (as `OVERWRITE_SETTING_<id>` values): it is a flood by
/// design, with thousands of connections, posts and rooms at machine speed.
pub const LOAD_SETTINGS: [(&str, &str); 9] = [
    ("API_Enable_Rate_Limiter", "false"),
    ("Block_Multiple_Failed_Logins_Enabled", "false"),
    ("DDP_Rate_Limit_User_Enabled", "false"),
    ("DDP_Rate_Limit_User_By_Method_Enabled", "false"),
    ("DDP_Rate_Limit_Connection_Enabled", "false"),
    ("DDP_Rate_Limit_Connection_By_Method_Enabled", "false"),
    ("Comet_Abuse_Messages_Per_User_Limit", "0"),
    ("Comet_Abuse_Room_Creation_Per_Day", "0"),
    ("Comet_Abuse_New_Account_Age_Hours", "0"),
];

/// Resident memory of a process, from /proc.
pub fn rss_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time (user + system) a process has used so far, from /proc.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every platform Comet targets.
    Some(ticks as f64 / 100.0)
}

/// How many CPUs a process may run on (its affinity, `Cpus_allowed_list` in /proc), e.g. 1
/// for a server started under `taskset -c 1`.
pub fn allowed_cpus_of(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
        .trim();
    let mut count = 0;
    for part in list.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                count += to.trim().parse::<usize>().ok()? + 1 - from.trim().parse::<usize>().ok()?
            }
            None => {
                part.trim().parse::<usize>().ok()?;
                count += 1;
            }
        }
    }
    Some(count)
}

/// The machine's memory in KiB (`MemTotal` in /proc/meminfo).
pub fn total_memory_kib() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Drop for CometProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `work` until it ends or the process is asked to stop (SIGINT, SIGTERM): then `work`
/// is dropped, and with it every `comet` it started (killed and waited for by
/// [`CometProcess`]'s drop), instead of leaving them running on their cores after the load
/// generator is gone. `Err` names the signal.
pub async fn until_stopped<F: std::future::Future>(work: F) -> Result<F::Output, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tokio::select! {
        output = work => Ok(output),
        _ = terminate.recv() => Err("stopped by SIGTERM".to_owned()),
        _ = interrupt.recv() => Err("stopped by SIGINT".to_owned()),
    }
}
