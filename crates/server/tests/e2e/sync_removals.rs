//! `subscriptions.get` and `rooms.get` with `updatedSince` tell clients what to drop.

use crate::common;

use common::TestServer;
use serde_json::json;

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[tokio::test]
async fn leaving_and_deleting_show_up_in_remove() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let since = iso(chrono::Utc::now() - chrono::Duration::seconds(1));
    let created = server
        .post(
            "channels.create",
            json!({"name": "short-lived", "members": ["bob"]}),
            Some(&alice),
        )
        .await;
    let room_id = created.ok()["channel"]["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bob_sub = server
        .get("subscriptions.getOne", &[("roomId", &room_id)], Some(&bob))
        .await;
    let bob_sub_id = bob_sub.ok()["subscription"]["_id"]
        .as_str()
        .expect("sub")
        .to_owned();

    server
        .post("channels.leave", json!({"roomId": room_id}), Some(&bob))
        .await
        .ok();
    let subs = server
        .get("subscriptions.get", &[("updatedSince", &since)], Some(&bob))
        .await;
    let removed = subs.ok()["remove"].as_array().expect("remove").clone();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["_id"], json!(bob_sub_id));
    assert!(removed[0]["_deletedAt"].is_string());
    // Without updatedSince there is nothing to remove.
    let all = server.get("subscriptions.get", &[], Some(&bob)).await;
    assert_eq!(all.ok()["remove"], json!([]));

    server
        .post("channels.delete", json!({"roomId": room_id}), Some(&alice))
        .await
        .ok();
    let rooms = server
        .get("rooms.get", &[("updatedSince", &since)], Some(&alice))
        .await;
    let removed = rooms.ok()["remove"].as_array().expect("remove").clone();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["_id"], json!(room_id));
    // Bob knew the room inside the window too, so he is told to drop it; someone who never
    // was in it is not.
    let bobs = server
        .get("rooms.get", &[("updatedSince", &since)], Some(&bob))
        .await;
    assert_eq!(bobs.ok()["remove"][0]["_id"], json!(room_id));
    let carol = server.new_user("carol").await;
    let carols = server
        .get("rooms.get", &[("updatedSince", &since)], Some(&carol))
        .await;
    assert_eq!(carols.ok()["remove"], json!([]));
    server.stop().await;
}
