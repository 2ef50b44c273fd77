//! `channels.online` / `groups.online` and `chat.syncThreadsList`.

use crate::common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn online_lists_members_who_are_not_offline() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    // Without a live connection everyone is offline, as upstream computes presence.
    let reply = server
        .get("channels.online", &[("_id", "GENERAL")], Some(&alice))
        .await;
    assert_eq!(reply.ok()["online"], json!([]));
    let legacy = server
        .get(
            "channels.online",
            &[("query", r#"{"_id":"GENERAL"}"#)],
            Some(&bob),
        )
        .await;
    assert_eq!(legacy.ok()["online"], json!([]));
    server
        .get("channels.online", &[], Some(&alice))
        .await
        .refused(400, "Invalid query");
    let group = server
        .post("groups.create", json!({"name": "g1"}), Some(&alice))
        .await;
    let group_id = group.ok()["group"]["_id"].as_str().expect("id").to_owned();
    server
        .get("groups.online", &[("_id", &group_id)], Some(&alice))
        .await
        .ok();
    let hidden = server
        .get("groups.online", &[("_id", &group_id)], Some(&bob))
        .await;
    // An outsider is refused, as upstream's route does, rather than told it is missing.
    assert_eq!(hidden.status, 400);
    assert_eq!(hidden.body["errorType"], json!("error-not-allowed"));
    server.stop().await;
}

#[tokio::test]
async fn sync_threads_list_returns_roots_changed_since() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let root = server
        .post(
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": "root"}),
            Some(&alice),
        )
        .await;
    let root_id = root.ok()["message"]["_id"].as_str().expect("id").to_owned();
    server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": "GENERAL", "msg": "reply", "tmid": root_id}}),
            Some(&alice),
        )
        .await
        .ok();
    let since = before.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let reply = server
        .get(
            "chat.syncThreadsList",
            &[("rid", "GENERAL"), ("updatedSince", &since)],
            Some(&alice),
        )
        .await;
    let update = reply.ok()["threads"]["update"]
        .as_array()
        .expect("update")
        .clone();
    assert_eq!(update.len(), 1);
    assert_eq!(update[0]["_id"], json!(root_id));
    assert_eq!(update[0]["tcount"], json!(1));
    server
        .get(
            "chat.syncThreadsList",
            &[("rid", "GENERAL"), ("updatedSince", "nope")],
            Some(&alice),
        )
        .await
        // Upstream's schema: `updatedSince` is an ISO date-time.
        .refused(400, "must match format \"iso-date-time\" [invalid-params]");
    server.stop().await;
}
