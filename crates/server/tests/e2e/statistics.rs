//! `statistics` and `statistics.list` (upstream's tests/end-to-end/api/statistics.ts).

use crate::common;

use common::{TestServer, create_room, say};
use serde_json::{Value, json};

async fn set_view_statistics(server: &TestServer, admin: &common::Auth, roles: &[&str]) {
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "view-statistics", "roles": roles}]}),
            Some(admin),
        )
        .await
        .ok();
}

async fn general_msgs(server: &TestServer, auth: &common::Auth) -> u64 {
    server
        .get("channels.info", &[("roomName", "general")], Some(auth))
        .await
        .ok()["channel"]["msgs"]
        .as_u64()
        .expect("msgs")
}

fn count(stats: &Value, name: &str) -> u64 {
    stats[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} is not a count: {stats}"))
}

#[tokio::test]
async fn statistics_needs_view_statistics() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;

    server
        .get("statistics", &[], Some(&alice))
        .await
        .refused(400, "error-not-allowed");
    server
        .get("statistics.list", &[], Some(&alice))
        .await
        .refused(400, "error-not-allowed");

    set_view_statistics(&server, &admin, &[]).await;
    server
        .get("statistics", &[], Some(&admin))
        .await
        .refused(400, "error-not-allowed");
    server
        .get("statistics.list", &[], Some(&admin))
        .await
        .refused(400, "error-not-allowed");

    set_view_statistics(&server, &admin, &["admin"]).await;
    server.get("statistics", &[], Some(&admin)).await.ok();
    server
        .get("statistics", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn statistics_count_the_workspace() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let before = server
        .get("statistics", &[("refresh", "true")], Some(&admin))
        .await
        .ok()
        .clone();
    let general_before = general_msgs(&server, &admin).await;
    let carol = server.new_user("carol").await;

    let channel = create_room(&server, &alice, "channels", "stats-c", &[]).await;
    let group = create_room(&server, &alice, "groups", "stats-p", &[]).await;
    let root = say(&server, &alice, &channel, "one").await;
    say(&server, &alice, &channel, "two").await;
    say(&server, &alice, &group, "three").await;
    server
        .post(
            "chat.postMessage",
            json!({"roomId": channel, "text": "reply", "tmid": common::id_of(&root)}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post("im.create", json!({"username": "admin"}), Some(&alice))
        .await
        .ok();
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": bob.user_id, "activeStatus": false}),
            Some(&admin),
        )
        .await
        .ok();

    // Without refresh, the recent snapshot is answered as it was.
    let cached = server.get("statistics", &[], Some(&admin)).await;
    assert_eq!(cached.ok()["_id"], before["_id"]);

    let after = server
        .get("statistics", &[("refresh", "true")], Some(&admin))
        .await
        .ok()
        .clone();
    assert_ne!(after["_id"], before["_id"]);
    let grew = |name: &str| count(&after, name) - count(&before, name);
    assert_eq!(grew("totalUsers"), 1, "{after}");
    assert_eq!(grew("nonActiveUsers"), 1);
    // carol came, bob went.
    assert_eq!(count(&after, "activeUsers"), count(&before, "activeUsers"));
    let _ = carol;
    assert_eq!(grew("totalChannels"), 1);
    assert_eq!(grew("totalPrivateGroups"), 1);
    assert_eq!(grew("totalDirect"), 1);
    assert_eq!(grew("totalRooms"), 3);
    // Each room's own message counter, system messages included.
    let msgs = |family: &'static str, rid: String| {
        let server = &server;
        let alice = &alice;
        async move {
            let key = if family == "groups" {
                "group"
            } else {
                "channel"
            };
            let reply = server
                .get(&format!("{family}.info"), &[("roomId", &rid)], Some(alice))
                .await;
            reply.ok()[key]["msgs"].as_u64().expect("msgs")
        }
    };
    // Joining #general (carol) posts there too.
    let general_grew = general_msgs(&server, &admin).await - general_before;
    assert_eq!(
        grew("totalChannelMessages"),
        msgs("channels", channel.clone()).await + general_grew
    );
    assert_eq!(
        grew("totalPrivateGroupMessages"),
        msgs("groups", group.clone()).await
    );
    assert_eq!(grew("totalThreads"), 1);
    assert_eq!(
        count(&after, "totalMessages"),
        count(&after, "totalChannelMessages")
            + count(&after, "totalPrivateGroupMessages")
            + count(&after, "totalDirectMessages")
    );
    assert_eq!(
        count(&after, "offlineUsers"),
        count(&after, "totalUsers")
            - count(&after, "onlineUsers")
            - count(&after, "awayUsers")
            - count(&after, "busyUsers")
    );
    for name in ["uploadsTotal", "uploadsTotalSize", "totalDiscussions"] {
        count(&after, name);
    }
    assert_eq!(after["version"], json!("8.4.0"));
    assert!(after["installedAt"].is_string(), "{after}");
    assert!(after["createdAt"].is_string());
    assert!(after["process"]["pid"].as_u64().is_some());
    assert!(after["process"]["uptime"].as_f64().is_some());
    assert_ne!(after["process"]["uptime"], before["process"]["uptime"]);
    assert!(
        after["os"]["cpus"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(
        after["database"]["size"].as_u64().is_some_and(|n| n > 0),
        "{after}"
    );
    server.stop().await;
}

#[tokio::test]
async fn statistics_list_pages_snapshots_newest_first() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let reply = server
            .get("statistics", &[("refresh", "true")], Some(&admin))
            .await;
        ids.push(reply.ok()["_id"].clone());
    }
    let list = server.get("statistics.list", &[], Some(&admin)).await;
    let list = list.ok();
    assert_eq!(list["total"], json!(3));
    assert_eq!(list["count"], json!(3));
    assert_eq!(list["offset"], json!(0));
    let listed: Vec<Value> = list["statistics"]
        .as_array()
        .expect("statistics")
        .iter()
        .map(|s| s["_id"].clone())
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);

    let page = server
        .get(
            "statistics.list",
            &[
                ("count", "1"),
                ("offset", "1"),
                ("fields", r#"{"totalUsers":1}"#),
            ],
            Some(&admin),
        )
        .await;
    let page = page.ok();
    assert_eq!(page["total"], json!(3));
    assert_eq!(page["count"], json!(1));
    let only = &page["statistics"][0];
    assert_eq!(only["_id"], ids[1]);
    assert!(only["totalUsers"].is_u64());
    assert!(only.get("os").is_none(), "{only}");

    server
        .get("statistics.list", &[("fields", "{oops")], Some(&admin))
        .await
        .refused(
            400,
            "Invalid fields parameter provided: \"{oops\" [error-invalid-fields]",
        );
    server.stop().await;
}
