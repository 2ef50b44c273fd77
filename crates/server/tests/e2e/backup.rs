//! `comet backup` and `comet restore` with the real binary: a backup taken while the server
//! runs and keeps writing, restored into a new data directory where a server answers with the
//! same messages and serves the same files; refusals leave things as they were.

use crate::common;

use common::{Auth, TestServer, say};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

/// Runs the real `comet` binary with a data directory and arguments.
async fn comet(data_dir: &Path, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_comet"));
    command
        .args(args)
        .env("COMET_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env("COMET_LOG", "warn");
    tokio::task::spawn_blocking(move || command.output().expect("run comet"))
        .await
        .expect("comet thread")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn upload(server: &TestServer, auth: &Auth, rid: &str, name: &str, content: &[u8]) -> Value {
    let (status, body) = common::post_form(
        server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some((name, "text/plain")), content)],
        auth,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn backup_while_running_then_restore_into_a_new_data_directory() {
    if std::env::var(common::BACKEND_VAR).is_ok_and(|b| b == "postgres") {
        eprintln!("note: backup of SQLite skipped on PostgreSQL (pg_dump backs that up)");
        return;
    }
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = server
        .post("channels.create", json!({"name": "archive"}), Some(&admin))
        .await
        .ok()["channel"]["_id"]
        .as_str()
        .expect("rid")
        .to_owned();
    say(&server, &admin, &rid, "before the backup").await;
    let sent = upload(&server, &admin, &rid, "notes.txt", b"kept in the backup").await;
    let file_url = format!(
        "/file-upload/{}/notes.txt",
        sent["message"]["file"]["_id"].as_str().expect("file id")
    );

    let backups = tempfile::tempdir().expect("dir");
    let target = backups.path().join("first");
    let target_arg = target.to_str().expect("utf-8 path");
    let output = comet(server.data_dir(), &["backup", "--to", target_arg]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    assert!(report.contains("files: 1 copied (18 bytes)"), "{report}");
    assert!(target.join("comet.db").is_file());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(target.join("backup.json")).expect("manifest"))
            .expect("manifest json");
    assert_eq!(manifest["files"], json!(1));

    // Written after the backup: not in it.
    say(&server, &admin, &rid, "after the backup").await;

    // A second backup into a non-empty directory is refused.
    let output = comet(server.data_dir(), &["backup", "--to", target_arg]).await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("is not empty"),
        "{}",
        text(&output.stderr)
    );
    server.stop().await;

    // Restore into a new data directory and serve from it.
    let restored = tempfile::tempdir().expect("dir");
    let output = comet(restored.path(), &["restore", "--from", target_arg]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("files: 1 restored"));
    // Restoring over an existing database is refused.
    let output = comet(restored.path(), &["restore", "--from", target_arg]).await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("exists"),
        "{}",
        text(&output.stderr)
    );

    let path = restored.path().to_path_buf();
    let server = TestServer::start_with(move |config| config.data_dir = path).await;
    let admin = server.admin().await;
    let history = server
        .get("channels.history", &[("roomId", &rid)], Some(&admin))
        .await;
    let texts: Vec<&str> = history.ok()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["msg"].as_str())
        .collect();
    assert!(texts.contains(&"before the backup"), "{texts:?}");
    assert!(!texts.contains(&"after the backup"), "{texts:?}");
    let file = server
        .http
        .get(format!("{}{file_url}", server.base))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .send()
        .await
        .expect("download");
    assert_eq!(file.status().as_u16(), 200);
    assert_eq!(
        file.bytes().await.expect("bytes").as_ref(),
        b"kept in the backup"
    );
    server.stop().await;
}
