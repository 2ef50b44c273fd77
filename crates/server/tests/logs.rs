//! What operators read: a failed DDP method or subscription and a request no route matched
//! each leave a log line naming what was asked for.

mod common;

use common::TestServer;
use common::ddp::{Ddp, WAIT};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything the server logs in this test process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits (with a timeout) for a line holding every one of `parts`.
    async fn line_with(&self, parts: &[&str]) -> String {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(line) = self
                    .text()
                    .lines()
                    .find(|line| parts.iter().all(|p| line.contains(p)))
                {
                    return line.to_owned();
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no log line with {parts:?} in:\n{}", self.text()))
    }
}

fn capture() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}

#[tokio::test]
async fn failures_are_logged_with_what_was_asked_for() {
    let logs = capture();
    let server = TestServer::start().await;
    let mut ddp = Ddp::connect(&server).await;

    let failed = ddp.call("noSuchMethod", json!([])).await;
    assert!(failed.get("error").is_some(), "{failed}");
    logs.line_with(&["method failed", "noSuchMethod"]).await;

    let refused = ddp.sub("stream-no-such-thing", "x").await;
    assert_eq!(refused["msg"], json!("nosub"));
    logs.line_with(&["subscription refused", "stream-no-such-thing"])
        .await;

    let reply = reqwest::Client::new()
        .get(format!("{}/api/v1/no.such.route", server.base))
        .timeout(WAIT)
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status().as_u16(), 404);
    logs.line_with(&["request", "/api/v1/no.such.route"]).await;
    server.stop().await;
}
