//! CI's run of comet-load: the short smoke mode against a debug `comet`, which must finish
//! with no error and with every kind of action done at least once. No timing is asserted.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `comet` binary next to this package's binary, built first when it is missing.
fn comet_binary() -> PathBuf {
    let load = Path::new(env!("CARGO_BIN_EXE_comet-load"));
    let comet = load.with_file_name("comet");
    if !comet.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "comet-server", "--bin", "comet"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p comet-server failed");
    }
    assert!(comet.exists(), "no comet binary at {}", comet.display());
    comet
}

#[test]
fn smoke_run_completes_without_errors_and_exercises_every_action() {
    let comet = comet_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let json_path = dir.path().join("report.json");
    let svg_path = dir.path().join("report.svg");
    let mut child = Command::new(env!("CARGO_BIN_EXE_comet-load"))
        .arg("run")
        .arg("--smoke")
        .arg("--comet")
        .arg(&comet)
        .arg("--json")
        .arg(&json_path)
        .arg("--svg")
        .arg(&svg_path)
        .spawn()
        .expect("start comet-load");
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for comet-load") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("comet-load --smoke did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "comet-load --smoke failed: {status}");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("report written"))
            .expect("report is JSON");
    assert_eq!(report["requests"]["errors"], 0, "{:#}", report["actions"]);
    let actions = report["actions"].as_array().expect("actions");
    for expected in [
        "login",
        "switch_room",
        "scroll_back",
        "mark_read",
        "post",
        "react",
        "reply_in_thread",
        "typing",
        "open_direct",
        "search",
        "upload",
        "set_status",
        "reconnect",
    ] {
        let row = actions
            .iter()
            .find(|a| a["action"] == expected)
            .unwrap_or_else(|| panic!("no {expected} in {actions:#?}"));
        assert!(row["count"].as_u64() > Some(0), "{row}");
        assert_eq!(row["errors"], 0, "{row}");
    }
    assert!(
        report["stream_events_received"].as_u64() > Some(0),
        "the users' streams delivered nothing"
    );
    assert!(report["timeline"].as_array().is_some_and(|t| !t.is_empty()));
    assert!(report["server"]["rss_mib_max"].as_f64() > Some(0.0));
    let svg = std::fs::read_to_string(&svg_path).expect("chart written");
    assert!(svg.starts_with("<svg") && svg.contains("<path"), "{svg}");
}
