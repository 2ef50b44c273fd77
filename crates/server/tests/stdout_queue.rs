//! `stdout.queue`: administrators read the server's recent log lines, with credentials
//! redacted from method traces.

mod common;

use common::TestServer;
use serde_json::{Value, json};
use std::sync::OnceLock;

/// Sends this process's log events to the recent-lines ring, as the binary does.
fn keep_recent_lines() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(comet_server::logging::RecentLines)
            .init();
    });
}

fn lines(queue: &Value) -> Vec<String> {
    queue
        .as_array()
        .expect("queue")
        .iter()
        .map(|line| line["string"].as_str().expect("string").to_owned())
        .collect()
}

#[tokio::test]
async fn log_viewers_read_recent_lines_without_credentials() {
    keep_recent_lines();
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;

    let reply = server.get("stdout.queue", &[], Some(&admin)).await;
    let queue = reply.ok()["queue"].clone();
    let first = &queue[0];
    for key in ["id", "string", "ts"] {
        assert!(first[key].is_string(), "{first}");
    }
    assert!(!lines(&queue).is_empty());

    // With method tracing on, a traced call's headers are logged with every secret
    // redacted.
    server
        .post(
            "settings/Log_Trace_Methods",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    let cookie = format!("rc_uid={}; rc_token={}", admin.user_id, admin.token);
    let call = json!({"msg": "method", "id": "1", "method": "getRoomRoles", "params": ["GENERAL"]});
    server
        .post_with_headers(
            "method.call/getRoomRoles",
            json!({"message": call.to_string()}),
            Some(&admin),
            &[("Cookie", &cookie)],
        )
        .await
        .ok();
    let reply = server.get("stdout.queue", &[], Some(&admin)).await;
    let logged = lines(&reply.ok()["queue"]);
    let trace = logged
        .iter()
        .find(|line| line.contains("method called") && line.contains("getRoomRoles"))
        .unwrap_or_else(|| panic!("no trace in {logged:?}"));
    assert!(trace.contains("'x-auth-token': '[redacted]'"), "{trace}");
    assert!(trace.contains("rc_token=[redacted]"), "{trace}");
    assert!(
        logged.iter().all(|line| !line.contains(&admin.token)),
        "a token was logged"
    );

    // Reading the log takes view-logs.
    server.get("stdout.queue", &[], Some(&alice)).await.refused(
        403,
        "User does not have the permissions required for this action [error-unauthorized]",
    );
    server.stop().await;
}
