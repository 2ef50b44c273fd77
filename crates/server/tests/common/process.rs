//! Real `comet` and NATS processes, for tests that must kill a server outright (SIGKILL) or
//! run several. Each child is killed and reaped when its guard drops, so a failing test leaves
//! no process behind. Every wait has a timeout.

use super::ADMIN_PASS;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Longest a process may take to start serving.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A port no one listens on right now (the kernel's choice for port 0).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// What a `comet` process is started with; the same value starts it again on the same data.
#[derive(Debug, Clone)]
pub struct CometSetup {
    pub data_dir: PathBuf,
    /// `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    /// More environment, e.g. `OVERWRITE_SETTING_<id>` pairs.
    pub env: Vec<(String, String)>,
}

impl CometSetup {
    pub fn new(data_dir: PathBuf, database_url: Option<String>) -> CometSetup {
        CometSetup {
            data_dir,
            database_url,
            nats_url: None,
            env: Vec::new(),
        }
    }
}

/// One running `comet` process (the binary under test), killed when dropped.
pub struct Comet {
    child: Child,
    pub base: String,
}

impl Comet {
    /// Starts the binary with an admin (`admin` / `ADMIN_PASS`), a cheap bcrypt cost and the
    /// rate limiter off, and waits until `/api/info` answers. A start that fails because
    /// another process took the chosen port first is tried again on another port.
    pub async fn start(setup: &CometSetup) -> Comet {
        comet_service::blobs::install_crypto_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_port();
            let mut command = Command::new(env!("CARGO_BIN_EXE_comet"));
            command
                .env("PORT", port.to_string())
                .env("BIND_IP", "127.0.0.1")
                .env("COMET_DATA_DIR", &setup.data_dir)
                .env("ADMIN_PASS", ADMIN_PASS)
                .env("ADMIN_EMAIL", "admin@example.com")
                .env("COMET_BCRYPT_COST", "4")
                .env(
                    "COMET_LOG",
                    std::env::var("COMET_TEST_CHILD_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .env("OVERWRITE_SETTING_API_Enable_Rate_Limiter", "false")
                // As in `TestServer`: these processes serve load generators.
                .envs(
                    super::ABUSE_CONTROLS_OFF
                        .iter()
                        .map(|id| (format!("OVERWRITE_SETTING_{id}"), "0")),
                )
                .env_remove("DATABASE_URL")
                .env_remove("NATS_URL")
                // The child's log lines go to the test's output only when asked for.
                .stdout(if std::env::var_os("COMET_TEST_CHILD_LOG").is_some() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .stderr(Stdio::inherit());
            if let Some(url) = &setup.database_url {
                command.env("DATABASE_URL", url);
            }
            if let Some(url) = &setup.nats_url {
                command.env("NATS_URL", url);
            }
            for (name, value) in &setup.env {
                command.env(name, value);
            }
            let child = command.spawn().expect("start comet");
            let mut comet = Comet {
                child,
                base: format!("http://127.0.0.1:{port}"),
            };
            loop {
                if let Ok(reply) = http.get(format!("{}/api/info", comet.base)).send().await
                    && reply.status().is_success()
                {
                    return comet;
                }
                if let Some(status) = comet.child.try_wait().expect("child status") {
                    assert!(
                        attempts < 3,
                        "comet exited at start three times (last: {status})"
                    );
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "comet not ready in {START_TIMEOUT:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// SIGKILL, then reaps the process: no shutdown, open requests and transactions are cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Comet {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A NATS server on a free loopback port, killed when dropped.
pub struct Nats {
    child: Child,
    pub url: String,
}

impl Nats {
    /// Starts `NATS_SERVER_BIN`. Without it: `None` (the test skips) outside CI, a failure
    /// under CI.
    pub fn start() -> Option<Nats> {
        let binary = match std::env::var("NATS_SERVER_BIN") {
            Ok(binary) if !binary.is_empty() => binary,
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "NATS_SERVER_BIN is not set: run scripts/test, or export NATS_SERVER_BIN=$(scripts/nats-server.sh)"
                );
                eprintln!("skipped: NATS_SERVER_BIN is not set");
                return None;
            }
        };
        let port = free_port();
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        let nats = Nats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(nats)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
