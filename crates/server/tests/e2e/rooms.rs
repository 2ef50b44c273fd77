//! channels.*, groups.*, im.*/dm.*, rooms.* and subscriptions.*: room life cycle, membership,
//! visibility and the refusals of each family, against upstream Rocket.Chat 8.x.

use crate::common;

use common::{Auth, TestServer, assert_exact, id_of, say, subscription};
use serde_json::{Value, json};

const CHANNEL_NOT_FOUND: &str = "The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]";
const GROUP_NOT_FOUND: &str = "The required \"roomId\" or \"roomName\" param provided does not match any group [error-room-not-found]";

/// `channels.create` (or `groups.create`) that must succeed; returns the room.
async fn create_room(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    name: &str,
    members: &[&str],
) -> Value {
    let key = if family == "groups" {
        "group"
    } else {
        "channel"
    };
    server
        .post(
            &format!("{family}.create"),
            json!({"name": name, "members": members}),
            Some(auth),
        )
        .await
        .ok()[key]
        .clone()
}

/// The whole history of a room, newest first.
async fn history(server: &TestServer, auth: &Auth, family: &str, rid: &str) -> Vec<Value> {
    server
        .get(
            &format!("{family}.history"),
            &[("roomId", rid), ("count", "100")],
            Some(auth),
        )
        .await
        .ok()["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

/// Replaces the roles of a permission (as admin).
async fn set_permission(server: &TestServer, admin: &Auth, permission: &str, roles: &[&str]) {
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": permission, "roles": roles}]}),
            Some(admin),
        )
        .await
        .ok();
}

fn usernames(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v["username"].as_str().expect("username").to_owned())
        .collect()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The system messages (type, text) of a history, oldest first.
fn system_messages(messages: &[Value]) -> Vec<(String, String)> {
    messages
        .iter()
        .rev()
        .filter_map(|m| {
            m["t"]
                .as_str()
                .map(|t| (t.to_owned(), m["msg"].as_str().unwrap_or("").to_owned()))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// GENERAL

#[tokio::test]
async fn new_users_join_general_with_a_join_message_and_the_unread_quirk() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let info = server
        .get("channels.info", &[("roomName", "general")], Some(&alice))
        .await;
    let general = &info.ok()["channel"];
    assert_eq!(general["_id"], json!("GENERAL"));
    assert_eq!(general["name"], json!("general"));
    assert_eq!(general["t"], json!("c"));
    assert_eq!(general["default"], json!(true));

    let sub = subscription(&server, &alice, "GENERAL").await;
    assert_eq!(sub["rid"], json!("GENERAL"));
    assert_eq!(sub["t"], json!("c"));
    assert_eq!(sub["name"], json!("general"));
    assert_eq!(sub["open"], json!(true));
    assert_eq!(sub["alert"], json!(true));
    assert_eq!(sub["unread"], json!(1));
    assert_eq!(sub["userMentions"], json!(1));
    assert_eq!(sub["groupMentions"], json!(0));
    assert_eq!(sub["u"]["_id"], json!(alice.user_id));

    let messages = history(&server, &alice, "channels", "GENERAL").await;
    let joins = system_messages(&messages);
    assert!(
        joins.contains(&("uj".to_owned(), "alice".to_owned())),
        "{joins:?}"
    );
    let uj = messages
        .iter()
        .find(|m| m["t"] == json!("uj") && m["msg"] == json!("alice"))
        .expect("uj message");
    assert_eq!(uj["u"]["_id"], json!(alice.user_id));
    assert_eq!(uj["u"]["username"], json!("alice"));
    assert_eq!(uj["rid"], json!("GENERAL"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// channels.create / groups.create

#[tokio::test]
async fn channels_create_returns_the_upstream_room_shape() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post("channels.create", json!({"name": "my-chan"}), Some(&alice))
        .await;
    let body = reply.ok();
    let room = &body["channel"];
    let rid = id_of(room);
    assert_eq!(rid.len(), 17, "Random.id() length: {rid}");
    assert_eq!(room["name"], json!("my-chan"));
    assert_eq!(room["fname"], json!("my-chan"));
    assert_eq!(room["t"], json!("c"));
    assert_eq!(room["msgs"], json!(0));
    assert_eq!(room["usersCount"], json!(1));
    assert_eq!(
        room["u"],
        json!({"_id": alice.user_id, "username": "alice", "name": "User alice"})
    );
    assert_eq!(room["ro"], json!(false));
    // Upstream's new rooms say they are not default rooms and hide no system messages.
    assert_eq!(room["default"], json!(false));
    assert_eq!(room["sysMes"], json!(true));
    assert!(
        room["ts"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{room}"
    );
    assert!(room["_updatedAt"].as_str().is_some(), "{room}");
    for absent in [
        "lastMessage",
        "lm",
        "joinCode",
        "members",
        "customFields",
        "topic",
        "broadcast",
        "encrypted",
    ] {
        assert!(room.get(absent).is_none(), "{absent} in {room}");
    }

    // The creator is the owner, with a read, open subscription.
    let sub = subscription(&server, &alice, &rid).await;
    assert_eq!(sub["roles"], json!(["owner"]));
    assert_eq!(sub["open"], json!(true));
    assert_eq!(sub["alert"], json!(false));
    assert_eq!(sub["unread"], json!(0));
    assert_eq!(sub["userMentions"], json!(0));
    assert_eq!(sub["groupMentions"], json!(0));
    assert_eq!(sub["name"], json!("my-chan"));
    assert_eq!(sub["fname"], json!("my-chan"));
    assert_eq!(sub["t"], json!("c"));

    // Creating a room writes no system message.
    assert!(history(&server, &alice, "channels", &rid).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn channels_create_with_members_and_read_only() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post(
            "channels.create",
            json!({"name": "announcements", "members": ["bob"], "readOnly": true}),
            Some(&alice),
        )
        .await;
    let room = reply.ok()["channel"].clone();
    assert_eq!(room["usersCount"], json!(2));
    assert_eq!(room["ro"], json!(true));
    assert_eq!(room["msgs"], json!(0));
    let rid = id_of(&room);
    // Initial members get a plain open subscription: no unread, no roles.
    let sub = subscription(&server, &bob, &rid).await;
    assert_eq!(sub["open"], json!(true));
    assert_eq!(sub["unread"], json!(0));
    assert_eq!(sub["userMentions"], json!(0));
    assert!(sub.get("roles").is_none(), "{sub}");
    // And no join or added-user message: createRoom adds members silently.
    assert!(history(&server, &alice, "channels", &rid).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn channels_create_skips_unknown_members() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let reply = server
        .post(
            "channels.create",
            json!({"name": "skip-unknown", "members": ["bob", "nobody-here"]}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["channel"]["usersCount"], json!(2));
    server.stop().await;
}

#[tokio::test]
async fn channels_create_refusals() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;

    assert_exact(
        &server
            .post("channels.create", json!({}), Some(&alice))
            .await,
        400,
        json!({"success": false, "error": "Param \"name\" is required"}),
    );
    server
        .post(
            "channels.create",
            json!({"name": "dup", "members": "bob"}),
            Some(&alice),
        )
        .await
        .refused(400, "Param \"members\" must be an array if provided");

    create_room(&server, &alice, "channels", "dup", &[]).await;
    let reply = server
        .post("channels.create", json!({"name": "dup"}), Some(&alice))
        .await;
    let body = reply.refused(
        400,
        "A channel with name 'dup' exists [error-duplicate-channel-name]",
    );
    assert_eq!(body["errorType"], json!("error-duplicate-channel-name"));
    // Names are unique across channels and groups.
    server
        .post("groups.create", json!({"name": "dup"}), Some(&alice))
        .await
        .refused(
            400,
            "A channel with name 'dup' exists [error-duplicate-channel-name]",
        );
    server
        .post("channels.create", json!({"name": "general"}), Some(&alice))
        .await
        .refused(
            400,
            "A channel with name 'general' exists [error-duplicate-channel-name]",
        );

    let reply = server
        .post("channels.create", json!({"name": "!nope"}), Some(&alice))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["errorType"], json!("error-invalid-room-name"));

    // Without login.
    let reply = server
        .post("channels.create", json!({"name": "anon"}), None)
        .await;
    reply.refused(401, "You must be logged in to do this.");

    // A role without create-c: 403 "unauthorized" (8.x: `API.v1.forbidden()`), nothing created.
    set_permission(&server, &admin, "create-c", &["admin"]).await;
    assert_exact(
        &server
            .post("channels.create", json!({"name": "denied"}), Some(&alice))
            .await,
        403,
        json!({"success": false, "error": "unauthorized"}),
    );
    server
        .get("channels.info", &[("roomName", "denied")], Some(&admin))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    // Admins still can.
    create_room(&server, &admin, "channels", "allowed", &[]).await;
    server.stop().await;
}

#[tokio::test]
async fn channels_create_invalid_name_text() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server
        .post("channels.create", json!({"name": "!nope"}), Some(&alice))
        .await
        .refused(
            400,
            "!nope is not a valid room name. [error-invalid-room-name]",
        );
    server.stop().await;
}

#[tokio::test]
async fn groups_create_returns_a_private_group() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let reply = server
        .post(
            "groups.create",
            json!({"name": "secret", "members": ["bob"]}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert!(body.get("channel").is_none(), "{body}");
    let group = &body["group"];
    assert_eq!(group["t"], json!("p"));
    assert_eq!(group["name"], json!("secret"));
    assert_eq!(group["fname"], json!("secret"));
    assert_eq!(group["usersCount"], json!(2));
    assert_eq!(group["msgs"], json!(0));
    assert_eq!(group["ro"], json!(false));
    assert_eq!(group["u"]["username"], json!("alice"));
    let sub = subscription(&server, &alice, &id_of(group)).await;
    assert_eq!(sub["t"], json!("p"));
    assert_eq!(sub["roles"], json!(["owner"]));

    assert_exact(
        &server.post("groups.create", json!({}), Some(&alice)).await,
        400,
        json!({"success": false, "error": "Body param \"name\" is required"}),
    );
    server
        .post(
            "groups.create",
            json!({"name": "x", "members": "bob"}),
            Some(&alice),
        )
        .await
        .refused(400, "Body param \"members\" must be an array if provided");
    server
        .post("groups.create", json!({"name": "secret"}), Some(&alice))
        .await
        .refused(
            400,
            "A channel with name 'secret' exists [error-duplicate-channel-name]",
        );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// info and visibility

#[tokio::test]
async fn channels_info_by_id_and_name_and_not_found() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "public-room", &[]).await;
    let rid = id_of(&room);
    // Non-members can see public channels.
    for query in [("roomId", rid.as_str()), ("roomName", "public-room")] {
        let reply = server.get("channels.info", &[query], Some(&bob)).await;
        let channel = &reply.ok()["channel"];
        assert_eq!(channel["_id"], json!(rid));
        assert_eq!(channel["name"], json!("public-room"));
        assert_eq!(channel["usersCount"], json!(1));
    }
    let reply = server
        .get("channels.info", &[("roomId", "no-such-room")], Some(&bob))
        .await;
    assert_eq!(
        reply.refused(400, CHANNEL_NOT_FOUND)["errorType"],
        json!("error-room-not-found")
    );
    server
        .get("channels.info", &[("roomName", "no-such-room")], Some(&bob))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    // A private group is not a channel, even for its owner.
    let group = create_room(&server, &alice, "groups", "private-room", &[]).await;
    server
        .get("channels.info", &[("roomId", &id_of(&group))], Some(&alice))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    // Neither key.
    let reply = server.get("channels.info", &[], Some(&alice)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    server.stop().await;
}

#[tokio::test]
async fn private_groups_are_invisible_to_non_members() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let group = create_room(&server, &alice, "groups", "hidden", &[]).await;
    let gid = id_of(&group);
    say(&server, &alice, &gid, "top secret").await;

    let reply = server
        .get("groups.info", &[("roomId", &gid)], Some(&alice))
        .await;
    let info = &reply.ok()["group"];
    assert_eq!(info["_id"], json!(gid));
    assert_eq!(info["lastMessage"]["msg"], json!("top secret"));
    server
        .get("groups.info", &[("roomName", "hidden")], Some(&alice))
        .await
        .ok();

    for (path, query) in [
        ("groups.info", vec![("roomId", gid.as_str())]),
        ("groups.info", vec![("roomName", "hidden")]),
        ("groups.history", vec![("roomId", gid.as_str())]),
        ("groups.messages", vec![("roomId", gid.as_str())]),
        ("groups.members", vec![("roomId", gid.as_str())]),
    ] {
        server
            .get(path, &query, Some(&bob))
            .await
            .refused(400, GROUP_NOT_FOUND);
    }
    // Not in bob's lists either.
    let reply = server.get("groups.list", &[], Some(&bob)).await;
    assert_eq!(reply.ok()["groups"], json!([]));
    let reply = server.get("channels.list", &[], Some(&bob)).await;
    assert!(!names(&reply.ok()["channels"]).contains(&"hidden".to_owned()));
    let reply = server.get("rooms.get", &[], Some(&bob)).await;
    assert!(
        !reply.ok()["update"]
            .as_array()
            .expect("update")
            .iter()
            .any(|r| r["_id"] == json!(gid))
    );
    // groups.* does not serve channels.
    server
        .get("groups.info", &[("roomId", "GENERAL")], Some(&bob))
        .await
        .refused(400, GROUP_NOT_FOUND);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// lists

#[tokio::test]
async fn channels_list_and_list_joined() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    for name in ["c-one", "c-two", "c-three"] {
        create_room(&server, &alice, "channels", name, &[]).await;
    }
    create_room(&server, &alice, "groups", "g-one", &[]).await;

    let reply = server.get("channels.list", &[], Some(&bob)).await;
    let body = reply.ok();
    assert_eq!(
        names(&body["channels"]),
        vec!["c-one", "c-three", "c-two", "general"],
        "sorted by name, public channels only"
    );
    assert_eq!(body["count"], json!(4));
    assert_eq!(body["offset"], json!(0));
    assert_eq!(body["total"], json!(4));

    let reply = server
        .get(
            "channels.list",
            &[("count", "2"), ("offset", "1")],
            Some(&bob),
        )
        .await;
    let body = reply.ok();
    assert_eq!(names(&body["channels"]), vec!["c-three", "c-two"]);
    assert_eq!(body["count"], json!(2));
    assert_eq!(body["offset"], json!(1));
    assert_eq!(body["total"], json!(4));

    let reply = server.get("channels.list.joined", &[], Some(&bob)).await;
    let body = reply.ok();
    assert_eq!(names(&body["channels"]), vec!["general"]);
    assert_eq!(body["total"], json!(1));
    let reply = server.get("channels.list.joined", &[], Some(&alice)).await;
    assert_eq!(
        names(&reply.ok()["channels"]),
        vec!["c-one", "c-three", "c-two", "general"]
    );
    server.stop().await;
}

#[tokio::test]
async fn channels_list_needs_view_c_room_or_view_joined_room() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    set_permission(&server, &admin, "view-c-room", &["admin"]).await;
    set_permission(&server, &admin, "view-joined-room", &["admin"]).await;
    assert_exact(
        &server.get("channels.list", &[], Some(&alice)).await,
        403,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"}),
    );
    server.stop().await;
}

#[tokio::test]
async fn groups_list_and_list_all() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    create_room(&server, &alice, "groups", "g-b", &["bob"]).await;
    create_room(&server, &alice, "groups", "g-a", &[]).await;
    create_room(&server, &alice, "channels", "c-a", &[]).await;

    let reply = server.get("groups.list", &[], Some(&alice)).await;
    let body = reply.ok();
    assert_eq!(names(&body["groups"]), vec!["g-a", "g-b"]);
    assert_eq!(body["count"], json!(2));
    assert_eq!(body["offset"], json!(0));
    assert_eq!(body["total"], json!(2));
    let reply = server.get("groups.list", &[], Some(&bob)).await;
    assert_eq!(names(&reply.ok()["groups"]), vec!["g-b"]);

    assert_exact(
        &server.get("groups.listAll", &[], Some(&bob)).await,
        403,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"}),
    );
    let reply = server.get("groups.listAll", &[], Some(&admin)).await;
    let body = reply.ok();
    assert_eq!(names(&body["groups"]), vec!["g-a", "g-b"]);
    assert_eq!(body["total"], json!(2));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// join / leave

#[tokio::test]
async fn channels_join_adds_a_member() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "joinable", &[]).await;
    let rid = id_of(&room);
    assert!(subscription(&server, &bob, &rid).await.is_null());

    let reply = server
        .post(
            "channels.join",
            json!({"roomId": rid, "joinCode": null}),
            Some(&bob),
        )
        .await;
    let channel = &reply.ok()["channel"];
    assert_eq!(channel["_id"], json!(rid));
    assert_eq!(channel["usersCount"], json!(2));
    assert_eq!(channel["msgs"], json!(1), "the join message counts");
    assert!(channel.get("lastMessage").is_none(), "{channel}");

    // Upstream quirk: a fresh joiner starts with one unread and one mention.
    let sub = subscription(&server, &bob, &rid).await;
    assert_eq!(sub["open"], json!(true));
    assert_eq!(sub["alert"], json!(true));
    assert_eq!(sub["unread"], json!(1));
    assert_eq!(sub["userMentions"], json!(1));
    assert_eq!(sub["groupMentions"], json!(0));
    assert!(sub.get("roles").is_none(), "{sub}");

    let messages = history(&server, &bob, "channels", &rid).await;
    assert_eq!(
        system_messages(&messages),
        vec![("uj".to_owned(), "bob".to_owned())]
    );
    assert_eq!(messages[0]["u"]["_id"], json!(bob.user_id));

    // Joining again is a silent success: no second message, same count.
    let reply = server
        .post("channels.join", json!({"roomName": "joinable"}), Some(&bob))
        .await;
    let channel = &reply.ok()["channel"];
    assert_eq!(channel["usersCount"], json!(2));
    assert_eq!(channel["msgs"], json!(1));
    assert_eq!(history(&server, &bob, "channels", &rid).await.len(), 1);

    // Refusals.
    server
        .post("channels.join", json!({"roomId": "nope"}), Some(&bob))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    let group = create_room(&server, &alice, "groups", "closed-group", &[]).await;
    server
        .post(
            "channels.join",
            json!({"roomId": id_of(&group)}),
            Some(&bob),
        )
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    assert!(subscription(&server, &bob, &id_of(&group)).await.is_null());
    server.stop().await;
}

#[tokio::test]
async fn channels_leave_and_its_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let room = create_room(&server, &alice, "channels", "leavable", &["bob"]).await;
    let rid = id_of(&room);

    let reply = server
        .post("channels.leave", json!({"roomId": rid}), Some(&bob))
        .await;
    let channel = &reply.ok()["channel"];
    assert_eq!(channel["_id"], json!(rid));
    assert_eq!(channel["usersCount"], json!(1));
    assert_eq!(channel["msgs"], json!(1));
    assert!(subscription(&server, &bob, &rid).await.is_null());
    let messages = history(&server, &alice, "channels", &rid).await;
    assert_eq!(
        system_messages(&messages),
        vec![("ul".to_owned(), "bob".to_owned())]
    );
    assert_eq!(messages[0]["u"]["username"], json!("bob"));

    server
        .post("channels.leave", json!({"roomId": rid}), Some(&carol))
        .await
        .refused(400, "You are not in this room [error-user-not-in-room]");
    server
        .post("channels.leave", json!({"roomId": "nope"}), Some(&carol))
        .await
        .refused(400, CHANNEL_NOT_FOUND);

    // The last owner may not leave while others remain.
    server
        .post("channels.join", json!({"roomId": rid}), Some(&carol))
        .await
        .ok();
    let reply = server
        .post(
            "channels.leave",
            json!({"roomName": "leavable"}),
            Some(&alice),
        )
        .await;
    let body = reply.refused(
        400,
        "You are the last owner. Please set new owner before leaving the room. [error-you-are-last-owner]",
    );
    assert_eq!(body["errorType"], json!("error-you-are-last-owner"));
    assert!(!subscription(&server, &alice, &rid).await.is_null());
    server.stop().await;
}

#[tokio::test]
async fn groups_leave_returns_an_empty_success() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let group = create_room(&server, &alice, "groups", "g-leave", &["bob"]).await;
    let gid = id_of(&group);
    let reply = server
        .post("groups.leave", json!({"roomId": gid}), Some(&bob))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert!(subscription(&server, &bob, &gid).await.is_null());
    // Once out, the group is invisible.
    server
        .post("groups.leave", json!({"roomId": gid}), Some(&bob))
        .await
        .refused(400, GROUP_NOT_FOUND);
    let messages = history(&server, &alice, "groups", &gid).await;
    assert_eq!(
        system_messages(&messages),
        vec![("ul".to_owned(), "bob".to_owned())]
    );
    server.stop().await;
}

#[tokio::test]
async fn rooms_leave_works_for_any_room_type() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "r-leave", &["bob"]).await;
    let group = create_room(&server, &alice, "groups", "r-leave-g", &["bob"]).await;
    for rid in [id_of(&room), id_of(&group)] {
        let reply = server
            .post("rooms.leave", json!({"roomId": rid}), Some(&bob))
            .await;
        assert_exact(&reply, 200, json!({"success": true}));
        assert!(subscription(&server, &bob, &rid).await.is_null());
    }
    server
        .post("rooms.leave", json!({"roomId": id_of(&room)}), Some(&bob))
        .await
        .refused(400, "You are not in this room [error-user-not-in-room]");
    let reply = server.post("rooms.leave", json!({}), Some(&bob)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));

    // A direct conversation cannot be left, as upstream's leaveRoom.
    let dm = server
        .post("im.create", json!({"username": "alice"}), Some(&bob))
        .await;
    let dm_id = dm.ok()["room"]["_id"].as_str().expect("rid").to_owned();
    server
        .post("rooms.leave", json!({"roomId": dm_id}), Some(&bob))
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    assert!(!subscription(&server, &bob, &dm_id).await.is_null());

    // Nor does the last owner leave, even alone in the room.
    let lonely = create_room(&server, &alice, "channels", "r-lonely", &[]).await;
    server
        .post("rooms.leave", json!({"roomId": id_of(&lonely)}), Some(&alice))
        .await
        .refused(
            400,
            "You are the last owner. Please set new owner before leaving the room. [error-you-are-last-owner]",
        );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// invite / kick

#[tokio::test]
async fn channels_invite_adds_users_with_an_added_message() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let dave = server.new_user("dave").await;
    let room = create_room(&server, &alice, "channels", "inviting", &[]).await;
    let rid = id_of(&room);

    let reply = server
        .post(
            "channels.invite",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await;
    let channel = &reply.ok()["channel"];
    assert_eq!(channel["_id"], json!(rid));
    assert_eq!(channel["usersCount"], json!(2));
    assert_eq!(channel["msgs"], json!(1));

    let sub = subscription(&server, &bob, &rid).await;
    assert_eq!(sub["unread"], json!(1));
    assert_eq!(sub["userMentions"], json!(1));
    assert_eq!(sub["alert"], json!(true));
    assert_eq!(sub["open"], json!(true));

    let messages = history(&server, &alice, "channels", &rid).await;
    assert_eq!(
        system_messages(&messages),
        vec![("au".to_owned(), "bob".to_owned())]
    );
    assert_eq!(
        messages[0]["u"]["_id"],
        json!(alice.user_id),
        "actor is the inviter"
    );

    // By username too.
    server
        .post(
            "channels.invite",
            json!({"roomName": "inviting", "username": "carol"}),
            Some(&alice),
        )
        .await
        .ok();
    assert!(!subscription(&server, &carol, &rid).await.is_null());

    // A plain member may not add others (add-user-to-joined-room is for owners/moderators).
    server
        .post(
            "channels.invite",
            json!({"roomId": rid, "userId": dave.user_id}),
            Some(&bob),
        )
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    assert!(subscription(&server, &dave, &rid).await.is_null());

    // No user at all.
    assert_exact(
        &server
            .post("channels.invite", json!({"roomId": rid}), Some(&alice))
            .await,
        400,
        json!({"success": false, "error": "invalid-user-invite-list", "errorType": "Cannot invite if no users are provided"}),
    );
    server
        .post(
            "channels.invite",
            json!({"roomId": "nope", "userId": dave.user_id}),
            Some(&alice),
        )
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn groups_invite_lets_the_invitee_see_the_group() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let group = create_room(&server, &alice, "groups", "g-invite", &[]).await;
    let gid = id_of(&group);
    server
        .get("groups.info", &[("roomId", &gid)], Some(&bob))
        .await
        .refused(400, GROUP_NOT_FOUND);
    let reply = server
        .post(
            "groups.invite",
            json!({"roomId": gid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["group"]["_id"], json!(gid));
    assert_eq!(body["group"]["usersCount"], json!(2));
    server
        .get("groups.info", &[("roomId", &gid)], Some(&bob))
        .await
        .ok();
    let sub = subscription(&server, &bob, &gid).await;
    assert_eq!(sub["t"], json!("p"));
    assert_eq!(sub["unread"], json!(1));
    assert_eq!(sub["userMentions"], json!(1));
    assert_eq!(
        system_messages(&history(&server, &bob, "groups", &gid).await),
        vec![("au".to_owned(), "bob".to_owned())]
    );

    server
        .post("groups.invite", json!({"roomId": gid}), Some(&alice))
        .await
        .refused(
            400,
            "Cannot invite if no valid users are provided [error-empty-invite-list]",
        );
    server.stop().await;
}

#[tokio::test]
async fn channels_kick_removes_a_member() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let room = create_room(&server, &alice, "channels", "kicking", &["bob", "carol"]).await;
    let rid = id_of(&room);

    // A plain member lacks remove-user.
    server
        .post(
            "channels.kick",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&bob),
        )
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    assert!(!subscription(&server, &carol, &rid).await.is_null());

    let reply = server
        .post(
            "channels.kick",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await;
    let channel = &reply.ok()["channel"];
    assert_eq!(channel["_id"], json!(rid));
    assert_eq!(channel["usersCount"], json!(2));
    assert_eq!(channel["msgs"], json!(1));
    assert!(subscription(&server, &bob, &rid).await.is_null());
    let messages = history(&server, &alice, "channels", &rid).await;
    assert_eq!(
        system_messages(&messages),
        vec![("ru".to_owned(), "bob".to_owned())]
    );
    assert_eq!(
        messages[0]["u"]["_id"],
        json!(alice.user_id),
        "actor is the remover"
    );

    // Someone not in the room.
    let reply = server
        .post(
            "channels.kick",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await;
    let body = reply.refused(400, "User is not in this room [error-user-not-in-room]");
    assert_eq!(body["errorType"], json!("error-user-not-in-room"));
    server
        .post(
            "channels.kick",
            json!({"roomId": "nope", "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn groups_kick_returns_an_empty_success() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let group = create_room(&server, &alice, "groups", "g-kick", &["bob", "carol"]).await;
    let gid = id_of(&group);
    server
        .post(
            "groups.kick",
            json!({"roomId": gid, "userId": carol.user_id}),
            Some(&bob),
        )
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    let reply = server
        .post(
            "groups.kick",
            json!({"roomId": gid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert!(subscription(&server, &bob, &gid).await.is_null());
    server
        .get("groups.info", &[("roomId", &gid)], Some(&bob))
        .await
        .refused(400, GROUP_NOT_FOUND);
    assert_eq!(
        system_messages(&history(&server, &alice, "groups", &gid).await),
        vec![("ru".to_owned(), "bob".to_owned())]
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// members / messages / history

#[tokio::test]
async fn channels_and_groups_members() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let room = create_room(&server, &alice, "channels", "members-c", &["bob"]).await;
    let rid = id_of(&room);

    let reply = server
        .get("channels.members", &[("roomId", &rid)], Some(&carol))
        .await;
    let body = reply.ok();
    assert_eq!(usernames(&body["members"]), vec!["alice", "bob"]);
    assert_eq!(body["count"], json!(2));
    assert_eq!(body["offset"], json!(0));
    assert_eq!(body["total"], json!(2));
    let first = &body["members"][0];
    assert_eq!(first["_id"], json!(alice.user_id));
    assert_eq!(first["name"], json!("User alice"));
    assert!(first["status"].is_string(), "{first}");
    assert!(first.get("emails").is_none() && first.get("services").is_none());

    let reply = server
        .get(
            "channels.members",
            &[("roomName", "members-c"), ("count", "1"), ("offset", "1")],
            Some(&carol),
        )
        .await;
    let body = reply.ok();
    assert_eq!(usernames(&body["members"]), vec!["bob"]);
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["offset"], json!(1));
    assert_eq!(body["total"], json!(2));

    server
        .get("channels.members", &[("roomId", "nope")], Some(&carol))
        .await
        .refused(400, CHANNEL_NOT_FOUND);

    let group = create_room(&server, &alice, "groups", "members-g", &["bob"]).await;
    let gid = id_of(&group);
    let reply = server
        .get("groups.members", &[("roomId", &gid)], Some(&alice))
        .await;
    assert_eq!(usernames(&reply.ok()["members"]), vec!["alice", "bob"]);
    assert_eq!(reply.body["total"], json!(2));
    server
        .get("groups.members", &[("roomId", &gid)], Some(&carol))
        .await
        .refused(400, GROUP_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn channels_and_groups_messages_are_paged_newest_first() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "msgs-c", &[]).await;
    let rid = id_of(&room);
    for text in ["one", "two", "three"] {
        say(&server, &alice, &rid, text).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let reply = server
        .get("channels.messages", &[("roomId", &rid)], Some(&bob))
        .await;
    let body = reply.ok();
    let texts: Vec<&str> = body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["msg"].as_str().expect("msg"))
        .collect();
    assert_eq!(texts, vec!["three", "two", "one"]);
    assert_eq!(body["count"], json!(3));
    assert_eq!(body["offset"], json!(0));
    assert_eq!(body["total"], json!(3));

    let reply = server
        .get(
            "channels.messages",
            &[("roomId", &rid), ("count", "1"), ("offset", "1")],
            Some(&bob),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["messages"][0]["msg"], json!("two"));
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["total"], json!(3));

    // `sort` as upstream's parseJsonQuery: oldest first on request; unknown fields refused.
    let reply = server
        .get(
            "channels.messages",
            &[("roomId", &rid), ("sort", r#"{"ts": 1}"#)],
            Some(&bob),
        )
        .await;
    let oldest_first: Vec<&str> = reply.ok()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["msg"].as_str())
        .collect();
    assert_eq!(oldest_first, vec!["one", "two", "three"]);
    let refused = server
        .get(
            "channels.messages",
            &[("roomId", &rid), ("sort", r#"{"nope": 1}"#)],
            Some(&bob),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["errorType"], json!("error-invalid-sort"));

    // `mentionIds` and `starredIds` keep messages concerning any of the listed users.
    let carol = server.new_user("carol").await;
    for who in ["bob", "carol"] {
        server
            .post(
                "channels.invite",
                json!({"roomId": rid, "username": who}),
                Some(&alice),
            )
            .await
            .ok();
    }
    say(&server, &alice, &rid, "hi @bob").await;
    say(&server, &alice, &rid, "hi @carol").await;
    say(&server, &alice, &rid, "hi nobody").await;
    let ids_list = json!([bob.user_id, carol.user_id]).to_string();
    for list in [
        ids_list.clone(),
        format!("{},{}", bob.user_id, carol.user_id),
    ] {
        let reply = server
            .get(
                "channels.messages",
                &[("roomId", &rid), ("mentionIds", &list)],
                Some(&bob),
            )
            .await;
        let texts: Vec<&str> = reply.ok()["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter_map(|m| m["msg"].as_str())
            .collect();
        assert_eq!(texts, vec!["hi @carol", "hi @bob"], "{list}");
    }

    let group = create_room(&server, &alice, "groups", "msgs-g", &[]).await;
    let gid = id_of(&group);
    say(&server, &alice, &gid, "in group").await;
    let reply = server
        .get("groups.messages", &[("roomId", &gid)], Some(&alice))
        .await;
    assert_eq!(reply.ok()["messages"][0]["msg"], json!("in group"));
    assert_eq!(reply.body["total"], json!(1));
    server.stop().await;
}

#[tokio::test]
async fn channels_history_has_only_messages() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let room = create_room(&server, &alice, "channels", "hist", &[]).await;
    let rid = id_of(&room);
    say(&server, &alice, &rid, "hello").await;
    let reply = server
        .get("channels.history", &[("roomId", &rid)], Some(&alice))
        .await;
    let body = reply.ok().clone();
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 2, "only messages and success: {body}");
    assert_eq!(body["messages"][0]["msg"], json!("hello"));
    server
        .get("channels.history", &[("roomId", "nope")], Some(&alice))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    server
        .get("channels.history", &[("roomName", "hist")], Some(&alice))
        .await
        .ok();
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// open / close

#[tokio::test]
async fn channels_open_and_close() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "oc", &[]).await;
    let rid = id_of(&room);

    assert_exact(
        &server
            .post("channels.close", json!({"roomId": rid}), Some(&alice))
            .await,
        200,
        json!({"success": true}),
    );
    assert_eq!(
        subscription(&server, &alice, &rid).await["open"],
        json!(false)
    );
    server
        .post("channels.close", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(400, "The channel, oc, is already closed to the sender");
    assert_exact(
        &server
            .post("channels.open", json!({"roomName": "oc"}), Some(&alice))
            .await,
        200,
        json!({"success": true}),
    );
    assert_eq!(
        subscription(&server, &alice, &rid).await["open"],
        json!(true)
    );
    server
        .post("channels.open", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(400, "The channel, oc, is already open to the sender");

    let reply = server
        .post("channels.open", json!({"roomId": rid}), Some(&bob))
        .await;
    let body = reply.refused(400, "The user/callee is not in the channel \"oc\".");
    assert!(body.get("errorType").is_none(), "{body}");
    server
        .post("channels.open", json!({"roomId": "nope"}), Some(&bob))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn channels_close_by_a_non_member_uses_the_upstream_text() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "oc2", &[]).await;
    server
        .post(
            "channels.close",
            json!({"roomId": id_of(&room)}),
            Some(&bob),
        )
        .await
        .refused(400, "The user/callee is not in the channel \"oc2.");
    server.stop().await;
}

#[tokio::test]
async fn groups_open_and_close() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let group = create_room(&server, &alice, "groups", "g-oc", &[]).await;
    let gid = id_of(&group);
    server
        .post("groups.close", json!({"roomId": gid}), Some(&alice))
        .await
        .ok();
    server
        .post("groups.close", json!({"roomId": gid}), Some(&alice))
        .await
        .refused(
            400,
            "The private group, g-oc, is already closed to the sender",
        );
    server
        .post("groups.open", json!({"roomId": gid}), Some(&alice))
        .await
        .ok();
    assert_eq!(
        subscription(&server, &alice, &gid).await["open"],
        json!(true)
    );
    server
        .post("groups.close", json!({"roomId": gid}), Some(&bob))
        .await
        .refused(400, GROUP_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn groups_open_when_open_uses_the_upstream_text() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let group = create_room(&server, &alice, "groups", "g-open", &[]).await;
    server
        .post(
            "groups.open",
            json!({"roomId": id_of(&group)}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The private group, g-open, is already open for the sender",
        );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// im.* / dm.*

#[tokio::test]
async fn im_create_returns_exactly_the_upstream_room() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let body = reply.ok().clone();
    let mut ids = [alice.user_id.clone(), bob.user_id.clone()];
    ids.sort();
    let rid = ids.concat();
    let room = &body["room"];
    assert_eq!(room["t"], json!("d"));
    assert_eq!(room["rid"], json!(rid));
    assert_eq!(room["_id"], json!(rid));
    let mut names: Vec<String> = room["usernames"]
        .as_array()
        .expect("usernames")
        .iter()
        .map(|v| v.as_str().expect("username").to_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["alice", "bob"]);
    let mut keys: Vec<&str> = room
        .as_object()
        .expect("room")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["_id", "rid", "t", "usernames"]);
    assert_eq!(body.as_object().expect("body").len(), 2, "{body}");

    // The creator's side is open; the other side stays hidden until a message arrives.
    let mine = subscription(&server, &alice, &rid).await;
    assert_eq!(mine["t"], json!("d"));
    assert_eq!(mine["name"], json!("bob"));
    assert_eq!(mine["open"], json!(true));
    assert_eq!(mine["unread"], json!(0));
    let theirs = subscription(&server, &bob, &rid).await;
    assert_eq!(theirs["name"], json!("alice"));
    assert_eq!(theirs["open"], json!(false));
    // Clients title the conversation with `fname`: the other user's display name.
    assert_eq!(mine["fname"], json!("User bob"));
    assert_eq!(theirs["fname"], json!("User alice"));

    // Creating it again (from either side, and through dm.*) gives the same room.
    for (auth, other) in [(&alice, "bob"), (&bob, "alice")] {
        let reply = server
            .post("dm.create", json!({"username": other}), Some(auth))
            .await;
        assert_eq!(reply.ok()["room"]["rid"], json!(rid));
    }
    let reply = server.get("im.list", &[], Some(&alice)).await;
    assert_eq!(reply.ok()["ims"].as_array().expect("ims").len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn im_create_sorts_usernames_by_name() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("zed").await;
    for other in ["bob", "zed"] {
        let reply = server
            .post("im.create", json!({"username": other}), Some(&alice))
            .await;
        assert_eq!(reply.ok()["room"]["usernames"], json!(["alice", other]));
    }
    let reply = server
        .post(
            "im.create",
            json!({"username": "alice"}),
            Some(&server.login("zed", common::PASSWORD).await),
        )
        .await;
    assert_eq!(reply.ok()["room"]["usernames"], json!(["alice", "zed"]));
    server.stop().await;
}

#[tokio::test]
async fn im_create_with_self_and_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post("im.create", json!({"username": "alice"}), Some(&alice))
        .await;
    let room = &reply.ok()["room"];
    assert_eq!(
        room["rid"],
        json!(format!("{}{}", alice.user_id, alice.user_id))
    );
    assert_eq!(room["usernames"], json!(["alice"]));

    let reply = server.post("im.create", json!({}), Some(&alice)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    let reply = server
        .post("im.create", json!({"username": "bob"}), None)
        .await;
    reply.refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn im_list_history_messages_members() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let reply = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let rid = reply.ok()["room"]["rid"].as_str().expect("rid").to_owned();
    say(&server, &alice, &rid, "hi bob").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    say(&server, &bob, &rid, "hi alice").await;

    for prefix in ["im", "dm"] {
        let reply = server.get(&format!("{prefix}.list"), &[], Some(&bob)).await;
        let body = reply.ok();
        assert_eq!(body["count"], json!(1));
        assert_eq!(body["offset"], json!(0));
        assert_eq!(body["total"], json!(1));
        let im = &body["ims"][0];
        assert_eq!(im["_id"], json!(rid));
        assert_eq!(im["t"], json!("d"));
        assert_eq!(im["msgs"], json!(2));
        assert_eq!(im["usersCount"], json!(2));
        assert_eq!(im["lastMessage"]["msg"], json!("hi alice"));

        let reply = server
            .get(
                &format!("{prefix}.history"),
                &[("roomId", &rid)],
                Some(&bob),
            )
            .await;
        let texts: Vec<&str> = reply.ok()["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["msg"].as_str().expect("msg"))
            .collect();
        assert_eq!(texts, vec!["hi alice", "hi bob"]);

        let reply = server
            .get(
                &format!("{prefix}.messages"),
                &[("roomId", &rid)],
                Some(&alice),
            )
            .await;
        let body = reply.ok();
        assert_eq!(body["total"], json!(2));
        assert_eq!(body["messages"][0]["msg"], json!("hi alice"));

        let reply = server
            .get(
                &format!("{prefix}.members"),
                &[("roomId", &rid)],
                Some(&alice),
            )
            .await;
        let body = reply.ok();
        let mut members = usernames(&body["members"]);
        members.sort();
        assert_eq!(members, vec!["alice", "bob"]);
        assert_eq!(body["total"], json!(2));
    }
    // im.messages by username.
    let reply = server
        .get("im.messages", &[("username", "bob")], Some(&alice))
        .await;
    assert_eq!(reply.ok()["total"], json!(2));

    // Outsiders (upstream's `API.v1.forbidden()`) and bad parameters.
    let reply = server
        .get("im.history", &[("roomId", &rid)], Some(&carol))
        .await;
    assert_exact(
        &reply,
        403,
        json!({"success": false, "error": "unauthorized"}),
    );
    server.get("im.history", &[], Some(&alice)).await.refused(
        400,
        "Query param \"roomId\" is required [error-room-param-not-provided]",
    );
    server.get("im.members", &[], Some(&alice)).await.refused(
        400,
        "Query param \"roomId\" or \"username\" is required [error-room-param-not-provided]",
    );
    server.stop().await;
}

#[tokio::test]
async fn im_open_and_close() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let rid = reply.ok()["room"]["rid"].as_str().expect("rid").to_owned();
    assert_exact(
        &server
            .post("im.close", json!({"roomId": rid}), Some(&alice))
            .await,
        200,
        json!({"success": true}),
    );
    assert_eq!(
        subscription(&server, &alice, &rid).await["open"],
        json!(false)
    );
    server
        .post("im.close", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(
            400,
            "The direct message room, is already closed to the sender",
        );
    assert_exact(
        &server
            .post("dm.open", json!({"roomId": rid}), Some(&alice))
            .await,
        200,
        json!({"success": true}),
    );
    assert_eq!(
        subscription(&server, &alice, &rid).await["open"],
        json!(true)
    );
    // Bob's hidden side opens on request too.
    server
        .post("im.open", json!({"roomId": rid}), Some(&bob))
        .await
        .ok();
    assert_eq!(subscription(&server, &bob, &rid).await["open"], json!(true));
    // Opening what is open is a success for direct messages, as upstream.
    assert_exact(
        &server
            .post("im.open", json!({"roomId": rid}), Some(&bob))
            .await,
        200,
        json!({"success": true}),
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// rooms.get / rooms.info

#[tokio::test]
async fn rooms_get_lists_subscribed_rooms_with_last_message() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "rg-c", &[]).await;
    let rid = id_of(&room);
    let group = create_room(&server, &alice, "groups", "rg-g", &[]).await;
    let sent = say(&server, &alice, &rid, "latest words").await;

    let reply = server.get("rooms.get", &[], Some(&alice)).await;
    let body = reply.ok();
    assert_eq!(body["remove"], json!([]));
    let update = body["update"].as_array().expect("update");
    let mut ids: Vec<&str> = update
        .iter()
        .map(|r| r["_id"].as_str().expect("_id"))
        .collect();
    ids.sort_unstable();
    let mut expected = vec!["GENERAL", rid.as_str(), group["_id"].as_str().expect("id")];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    let chan = update
        .iter()
        .find(|r| r["_id"] == json!(rid))
        .expect("channel");
    assert_eq!(chan["lastMessage"]["_id"], sent["_id"]);
    assert_eq!(chan["lastMessage"]["msg"], json!("latest words"));
    assert_eq!(chan["msgs"], json!(1));
    assert!(chan["lm"].is_string(), "{chan}");

    // updatedSince: only rooms changed after that time.
    let reply = server
        .get(
            "rooms.get",
            &[("updatedSince", "2999-01-01T00:00:00.000Z")],
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["update"], json!([]));
    let reply = server
        .get("rooms.get", &[("updatedSince", "not a date")], Some(&alice))
        .await;
    reply.refused(
        400,
        "The \"updatedSince\" query parameter must be a valid date. [error-updatedSince-param-invalid]",
    );
    server.stop().await;
}

#[tokio::test]
async fn rooms_info_and_its_refusal() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "ri-c", &[]).await;
    let rid = id_of(&room);
    let reply = server
        .get("rooms.info", &[("roomId", &rid)], Some(&bob))
        .await;
    let info = &reply.ok()["room"];
    assert_eq!(info["_id"], json!(rid));
    assert_eq!(info["t"], json!("c"));
    assert_eq!(info["name"], json!("ri-c"));
    let reply = server
        .get("rooms.info", &[("roomName", "ri-c")], Some(&bob))
        .await;
    assert_eq!(reply.ok()["room"]["_id"], json!(rid));

    let group = create_room(&server, &alice, "groups", "ri-g", &[]).await;
    let reply = server
        .get("rooms.info", &[("roomId", &id_of(&group))], Some(&alice))
        .await;
    assert_eq!(reply.ok()["room"]["t"], json!("p"));
    assert_exact(
        &server
            .get("rooms.info", &[("roomId", &id_of(&group))], Some(&bob))
            .await,
        400,
        json!({"success": false, "error": "not-allowed", "errorType": "Not Allowed"}),
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// subscriptions.*

#[tokio::test]
async fn subscriptions_get_get_one_and_read() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let room = create_room(&server, &alice, "channels", "subs", &[]).await;
    let rid = id_of(&room);

    let reply = server.get("subscriptions.get", &[], Some(&alice)).await;
    let body = reply.ok();
    assert_eq!(body["remove"], json!([]));
    let mut rids: Vec<&str> = body["update"]
        .as_array()
        .expect("update")
        .iter()
        .map(|s| s["rid"].as_str().expect("rid"))
        .collect();
    rids.sort_unstable();
    let mut expected = vec!["GENERAL", rid.as_str()];
    expected.sort_unstable();
    assert_eq!(rids, expected);
    let reply = server
        .get(
            "subscriptions.get",
            &[("updatedSince", "2999-01-01T00:00:00.000Z")],
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["update"], json!([]));

    let sub = subscription(&server, &alice, &rid).await;
    for key in [
        "_id",
        "rid",
        "u",
        "name",
        "t",
        "ts",
        "open",
        "alert",
        "unread",
        "userMentions",
        "groupMentions",
        "_updatedAt",
    ] {
        assert!(sub.get(key).is_some(), "{key} missing in {sub}");
    }
    assert_eq!(sub["u"]["username"], json!("alice"));

    // Not subscribed: a null subscription, still a success.
    assert_exact(
        &server
            .get("subscriptions.getOne", &[("roomId", "nope")], Some(&alice))
            .await,
        200,
        json!({"subscription": null, "success": true}),
    );

    // GENERAL starts unread (join quirk); read clears it.
    let general = subscription(&server, &alice, "GENERAL").await;
    assert_eq!(general["unread"], json!(1));
    assert_exact(
        &server
            .post(
                "subscriptions.read",
                json!({"rid": "GENERAL"}),
                Some(&alice),
            )
            .await,
        200,
        json!({"success": true}),
    );
    let general = subscription(&server, &alice, "GENERAL").await;
    assert_eq!(general["unread"], json!(0));
    assert_eq!(general["userMentions"], json!(0));
    assert_eq!(general["groupMentions"], json!(0));
    assert_eq!(general["alert"], json!(false));
    assert_eq!(general["open"], json!(true));
    assert!(general["ls"].is_string(), "{general}");

    // roomId is accepted as well.
    server
        .post("subscriptions.read", json!({"roomId": rid}), Some(&alice))
        .await
        .ok();
    assert_exact(
        &server
            .post("subscriptions.read", json!({"rid": "nope"}), Some(&alice))
            .await,
        400,
        json!({"success": false, "error": "error-invalid-subscription"}),
    );
    server.stop().await;
}

/// `rooms.isMember`, in upstream's order of checks: parameters, room, user, caller's access.
#[tokio::test]
async fn rooms_is_member() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let gid = id_of(&create_room(&server, &alice, "groups", "members-only", &["bob"]).await);

    let asked = |who: (&'static str, String)| vec![("roomId", gid.clone()), (who.0, who.1)];
    for (query, expected) in [
        (asked(("userId", bob.user_id.clone())), true),
        (asked(("username", "bob".to_owned())), true),
        (asked(("username", "carol".to_owned())), false),
    ] {
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = server.get("rooms.isMember", &query, Some(&alice)).await;
        assert_eq!(
            reply.ok(),
            &json!({"isMember": expected, "success": true}),
            "{query:?}"
        );
    }
    let missing_user = server
        .get(
            "rooms.isMember",
            &[("roomId", &gid), ("username", "nobody-here")],
            Some(&alice),
        )
        .await;
    assert_exact(
        &missing_user,
        400,
        json!({"success": false, "error": "error-user-not-found"}),
    );
    let neither = server
        .get("rooms.isMember", &[("roomId", &gid)], Some(&alice))
        .await;
    assert_eq!(neither.status, 400, "{}", neither.body);
    assert_eq!(neither.body["errorType"], json!("invalid-params"));
    let no_room = server
        .get(
            "rooms.isMember",
            &[("roomId", "no-such-room"), ("username", "bob")],
            Some(&alice),
        )
        .await;
    assert_eq!(no_room.status, 400, "{}", no_room.body);
    assert_eq!(no_room.body["errorType"], json!("error-room-not-found"));
    // Someone who may not see the private group is refused.
    server
        .get(
            "rooms.isMember",
            &[("roomId", &gid), ("username", "bob")],
            Some(&carol),
        )
        .await
        .refused(403, "unauthorized");
    server.stop().await;
}

/// `im.list.everyone`: every direct conversation, for room administrators only.
#[tokio::test]
async fn im_list_everyone_is_for_room_administrators() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("carol").await;
    let admin = server.admin().await;
    server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await
        .ok();
    let everyone = server.get("im.list.everyone", &[], Some(&admin)).await;
    let body = everyone.ok();
    assert_eq!(body["total"], json!(1), "{body}");
    assert_eq!(body["ims"][0]["t"], json!("d"));
    assert_eq!(body["count"], json!(1));
    server
        .get("dm.list.everyone", &[], Some(&alice))
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    server.stop().await;
}

/// Each entry of `im.list.everyone` carries what upstream's tests check of it, `ro` and
/// `sysMes` included, with the conversation's last message.
#[tokio::test]
async fn im_list_everyone_entries_carry_upstream_fields() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let admin = server.admin().await;
    let created = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let rid = created.ok()["room"]["_id"]
        .as_str()
        .expect("room id")
        .to_owned();
    server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "hello bob"}),
            Some(&alice),
        )
        .await
        .ok();
    let reply = server.get("im.list.everyone", &[], Some(&admin)).await;
    let im = &reply.ok()["ims"][0];
    for key in [
        "_id",
        "t",
        "msgs",
        "usernames",
        "ro",
        "sysMes",
        "_updatedAt",
        "ts",
        "lastMessage",
    ] {
        assert!(im.get(key).is_some(), "{key} missing from {im}");
    }
    assert_eq!(im["ro"], json!(false));
    assert_eq!(im["sysMes"], json!(true));
    assert_eq!(im["lastMessage"]["msg"], json!("hello bob"));
    server.stop().await;
}

#[tokio::test]
async fn rooms_join_joins_a_channel_and_answers_the_room() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = id_of(&create_room(&server, &alice, "channels", "joinable", &[]).await);
    let reply = server
        .post("rooms.join", json!({"roomId": rid}), Some(&bob))
        .await;
    let room = &reply.ok()["room"];
    assert_eq!(room["_id"], json!(rid));
    assert_eq!(room["t"], json!("c"));
    let member = server
        .get(
            "rooms.isMember",
            &[("roomId", rid.as_str()), ("username", "bob")],
            Some(&alice),
        )
        .await;
    assert_eq!(member.ok()["isMember"], json!(true));
    server
        .post("rooms.join", json!({}), Some(&bob))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");
    server.stop().await;
}

#[tokio::test]
async fn im_messages_others_lets_administrators_read_direct_conversations() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let dm = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let rid = id_of(&dm.ok()["room"]);
    say(&server, &alice, &rid, "between us").await;

    // The permission comes first, then the setting, then the room.
    server
        .get("im.messages.others", &[("roomId", &rid)], Some(&alice))
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    server
        .get("im.messages.others", &[("roomId", &rid)], Some(&admin))
        .await
        .refused(400, "This endpoint is disabled [error-endpoint-disabled]");
    server
        .post(
            "settings/API_Enable_Direct_Message_History_EndPoint",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .get("im.messages.others", &[], Some(&admin))
        .await
        .refused(
            400,
            "The parameter \"roomId\" is required [error-roomid-param-not-provided]",
        );
    let general = server
        .get("channels.info", &[("roomName", "general")], Some(&admin))
        .await;
    let general_id = id_of(&general.ok()["channel"]);
    server
        .get(
            "dm.messages.others",
            &[("roomId", &general_id)],
            Some(&admin),
        )
        .await
        .refused(
            400,
            &format!(
                "No direct message room found by the id of: {general_id} [error-room-not-found]"
            ),
        );
    let reply = server
        .get("im.messages.others", &[("roomId", &rid)], Some(&admin))
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], json!(1), "{body}");
    assert_eq!(body["messages"][0]["msg"], json!("between us"), "{body}");
    assert_eq!(body["offset"], json!(0));
    server.stop().await;
}

#[tokio::test]
async fn channels_messages_needs_view_c_room_and_im_messages_refuses_outsiders() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let channel = create_room(&server, &alice, "channels", "readable", &[]).await;
    let rid = id_of(&channel);
    set_permission(&server, &admin, "view-c-room", &[]).await;
    let refused = server
        .get("channels.messages", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_exact(
        &refused,
        403,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"}),
    );
    set_permission(
        &server,
        &admin,
        "view-c-room",
        &["admin", "user", "bot", "app", "anonymous"],
    )
    .await;

    let dm = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await
        .ok()["room"]
        .clone();
    let dm_id = id_of(&dm);
    let outsider = server
        .get("im.messages", &[("roomId", &dm_id)], Some(&carol))
        .await;
    assert_exact(
        &outsider,
        403,
        json!({"success": false, "error": "unauthorized"}),
    );
    let member = server
        .get("im.messages", &[("roomId", &dm_id)], Some(&bob))
        .await;
    member.ok();
    server.stop().await;
}

#[tokio::test]
async fn rooms_hide_open_name_exists_and_delete() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let carol = server.new_user("carol").await;
    let group = create_room(&server, &alice, "groups", "hideaway", &[]).await;
    let rid = id_of(&group);

    server
        .post("rooms.hide", json!({"roomId": rid}), Some(&alice))
        .await
        .ok();
    assert_eq!(
        subscription(&server, &alice, &rid).await["open"],
        json!(false)
    );
    assert_exact(
        &server
            .post("rooms.hide", json!({"roomId": rid}), Some(&alice))
            .await,
        400,
        json!({"success": false, "error": "error-room-already-hidden"}),
    );
    assert_exact(
        &server
            .post("rooms.hide", json!({"roomId": rid}), Some(&carol))
            .await,
        401,
        json!({"success": false, "error": "unauthorized"}),
    );
    server
        .post("rooms.hide", json!({}), Some(&alice))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");
    let anonymous = server
        .post("rooms.hide", json!({"roomId": rid}), None)
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["status"], json!("error"));

    server
        .post("rooms.open", json!({"roomId": rid}), Some(&alice))
        .await
        .ok();
    assert_eq!(
        subscription(&server, &alice, &rid).await["open"],
        json!(true)
    );
    server
        .post("rooms.open", json!({}), Some(&alice))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");

    let exists = |name: &'static str| {
        let server = &server;
        let alice = &alice;
        async move {
            server
                .get("rooms.nameExists", &[("roomName", name)], Some(alice))
                .await
                .ok()["exists"]
                .clone()
        }
    };
    assert_eq!(exists("hideaway").await, json!(true));
    assert_eq!(exists("nowhere").await, json!(false));
    server
        .get("rooms.nameExists", &[("roomId", "foo")], Some(&alice))
        .await
        .refused(
            400,
            "must have required property 'roomName' [invalid-params]",
        );

    assert_exact(
        &server.post("rooms.delete", json!({}), Some(&admin)).await,
        400,
        json!({"success": false, "error": "The 'roomId' param is required"}),
    );
    let missing = server
        .post(
            "rooms.delete",
            json!({"roomId": "nosuchroom"}),
            Some(&admin),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["errorType"], json!("error-invalid-room"));
    let refused = server
        .post("rooms.delete", json!({"roomId": rid}), Some(&carol))
        .await;
    assert_eq!(refused.body["errorType"], json!("error-not-allowed"));
    // An administrator need not be a member.
    server
        .post("rooms.delete", json!({"roomId": rid}), Some(&admin))
        .await
        .ok();
    assert_eq!(exists("hideaway").await, json!(false));
    server.stop().await;
}

#[tokio::test]
async fn channels_anonymousread_follows_accounts_allow_anonymous_read() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let channel = create_room(&server, &alice, "channels", "lobby", &[]).await;
    let rid = id_of(&channel);
    say(&server, &alice, &rid, "hello").await;
    say(&server, &alice, &rid, "world").await;

    assert_exact(
        &server
            .get("channels.anonymousread", &[("roomId", &rid)], None)
            .await,
        400,
        json!({"success": false, "error": "Enable \"Allow Anonymous Read\" [error-not-allowed]", "errorType": "error-not-allowed",
               "details": {"method": "channels.anonymousread"}}),
    );
    server
        .post(
            "settings/Accounts_AllowAnonymousRead",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    let reply = server
        .get(
            "channels.anonymousread",
            &[("roomName", "lobby"), ("count", "1"), ("offset", "0")],
            None,
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["messages"][0]["msg"], json!("world"));
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["total"], json!(2));
    server
        .get("channels.anonymousread", &[("roomId", "nosuch")], None)
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn rooms_autocomplete_lists_own_rooms_and_admin_rooms() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    create_room(&server, &alice, "channels", "apple-one", &[]).await;
    create_room(&server, &alice, "groups", "apple-two", &[]).await;
    create_room(&server, &admin, "channels", "apple-three", &[]).await;

    server
        .get("rooms.autocomplete.channelAndPrivate", &[], Some(&alice))
        .await
        .refused(400, "The 'selector' param is required");
    let body = server
        .get(
            "rooms.autocomplete.channelAndPrivate",
            &[("selector", r#"{"name":"APPLE"}"#)],
            Some(&alice),
        )
        .await
        .ok()
        .clone();
    assert_eq!(names(&body["items"]), vec!["apple-one", "apple-two"]);
    assert_eq!(body["items"][1]["t"], json!("p"));
    let body = server
        .get(
            "rooms.autocomplete.channelAndPrivate.withPagination",
            &[
                ("selector", r#"{"name":"apple"}"#),
                ("offset", "1"),
                ("count", "5"),
            ],
            Some(&alice),
        )
        .await
        .ok()
        .clone();
    assert_eq!(names(&body["items"]), vec!["apple-two"]);
    assert_eq!(body["total"], json!(2));

    let body = server
        .get(
            "rooms.autocomplete.adminRooms",
            &[("selector", r#"{"name":"apple-t"}"#)],
            Some(&admin),
        )
        .await
        .ok()
        .clone();
    assert_eq!(names(&body["items"]), vec!["apple-three", "apple-two"]);
    assert_exact(
        &server
            .get(
                "rooms.autocomplete.adminRooms",
                &[("selector", "{}")],
                Some(&alice),
            )
            .await,
        400,
        json!({"success": false, "error": "error-not-authorized"}),
    );
    server.stop().await;
}

#[tokio::test]
async fn subscriptions_unread_needs_a_message() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let channel = create_room(&server, &alice, "channels", "quiet", &[]).await;
    let rid = id_of(&channel);
    assert_exact(
        &server
            .post("subscriptions.unread", json!({"roomId": rid}), Some(&alice))
            .await,
        400,
        json!({"success": false, "error": "There are no messages to mark unread [error-no-message-for-unread]",
               "errorType": "error-no-message-for-unread",
               "details": {"method": "unreadMessages", "action": "Unread_messages"}}),
    );
    say(&server, &alice, &rid, "now there is one").await;
    server
        .post("subscriptions.unread", json!({"roomId": rid}), Some(&alice))
        .await
        .ok();
    server.stop().await;
}

// rooms.membersOrderedByRole

#[tokio::test]
async fn members_ordered_by_role_lists_owners_leaders_moderators_then_others() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    server.new_user("carol").await;
    server.new_user("dave").await;
    let room = create_room(
        &server,
        &admin,
        "channels",
        "ordered",
        &["alice", "bob", "carol", "dave"],
    )
    .await;
    let rid = id_of(&room);
    for (route, user) in [
        ("channels.addModerator", &alice),
        ("channels.addLeader", &bob),
    ] {
        server
            .post(
                route,
                json!({"roomId": rid, "userId": user.user_id}),
                Some(&admin),
            )
            .await
            .ok();
    }
    let reply = server
        .get(
            "rooms.membersOrderedByRole",
            &[("roomId", &rid)],
            Some(&bob),
        )
        .await;
    let body = reply.ok();
    assert_eq!(
        usernames(&body["members"]),
        ["admin", "bob", "alice", "carol", "dave"]
    );
    assert_eq!(body["total"], json!(5));
    assert_eq!(body["count"], json!(5));
    assert_eq!(body["offset"], json!(0));
    let owner = &body["members"][0];
    assert_eq!(owner["roles"], json!(["owner"]));
    assert_eq!(owner["subscription"]["roles"], json!(["owner"]));
    assert!(owner["subscription"]["_id"].is_string());
    assert!(owner["subscription"]["ts"].is_string());
    assert!(owner["subscription"].get("unread").is_none());
    assert!(owner.get("emails").is_none() && owner.get("services").is_none());
    assert_eq!(body["members"][1]["roles"], json!(["leader"]));
    assert_eq!(body["members"][2]["roles"], json!(["moderator"]));
    assert_eq!(body["members"][3]["roles"], json!([]));

    // Paging, the reversed role order, a search and the presence filter.
    let page = server
        .get(
            "rooms.membersOrderedByRole",
            &[("roomName", "ordered"), ("count", "2"), ("offset", "1")],
            Some(&bob),
        )
        .await;
    assert_eq!(usernames(&page.ok()["members"]), ["bob", "alice"]);
    assert_eq!(page.ok()["total"], json!(5));
    let reversed = server
        .get(
            "rooms.membersOrderedByRole",
            &[
                ("roomId", &rid),
                ("sort", r#"{"rolePriority":-1,"username":-1}"#),
            ],
            Some(&bob),
        )
        .await;
    assert_eq!(
        usernames(&reversed.ok()["members"]),
        ["dave", "carol", "alice", "bob", "admin"]
    );
    let search = server
        .get(
            "rooms.membersOrderedByRole",
            &[("roomId", &rid), ("filter", "CAR")],
            Some(&bob),
        )
        .await;
    assert_eq!(usernames(&search.ok()["members"]), ["carol"]);
    let away = server
        .get(
            "rooms.membersOrderedByRole",
            &[("roomId", &rid), ("status[]", "away")],
            Some(&bob),
        )
        .await;
    assert_eq!(away.ok()["total"], json!(0));
    server.stop().await;
}

#[tokio::test]
async fn members_ordered_by_role_refusals_in_upstream_order() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let secret = create_room(&server, &admin, "groups", "secret", &[]).await;
    let secret_id = id_of(&secret);
    let direct = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let direct_id = id_of(&direct.ok()["room"]);
    let broadcast = server
        .post(
            "channels.create",
            json!({"name": "news", "members": ["alice"], "extraData": {"broadcast": true}}),
            Some(&admin),
        )
        .await;
    let broadcast_id = id_of(&broadcast.ok()["channel"]);

    let list = |auth: &Auth, query: Vec<(&'static str, String)>| {
        let server = &server;
        let auth = auth.clone();
        async move {
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            server
                .get("rooms.membersOrderedByRole", &query, Some(&auth))
                .await
        }
    };
    let reply = list(&alice, vec![]).await;
    reply.refused(
        400,
        "must have required property 'roomId'\n must have required property 'roomName'\n must match exactly one schema in oneOf [invalid-params]",
    );
    list(
        &alice,
        vec![("roomId", "x".into()), ("roomName", "y".into())],
    )
    .await
    .refused(
        400,
        "must match exactly one schema in oneOf [invalid-params]",
    );
    list(&alice, vec![("roomId", "nowhere".into())]).await.refused(
        400,
        "The required \"roomId\" or \"roomName\" param provided does not match any room [error-room-not-found]",
    );
    list(&alice, vec![("roomId", secret_id.clone())])
        .await
        .refused(
            404,
            "The required \"roomId\" or \"roomName\" param provided does not match any room",
        );
    list(&alice, vec![("roomId", direct_id)])
        .await
        .refused(400, "error-room-type-not-supported");
    list(&alice, vec![("roomId", broadcast_id.clone())])
        .await
        .refused(403, "unauthorized");
    let as_owner = list(&admin, vec![("roomId", broadcast_id)]).await;
    assert_eq!(usernames(&as_owner.ok()["members"]), ["admin", "alice"]);
    server.stop().await;
}

// channels.getIntegrations, groups.getIntegrations

#[tokio::test]
async fn get_integrations_lists_none_with_upstream_checks() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let channel = create_room(&server, &admin, "channels", "hooks", &[]).await;
    let group = create_room(&server, &admin, "groups", "secret-hooks", &[]).await;
    for (family, room) in [("channels", &channel), ("groups", &group)] {
        let reply = server
            .get(
                &format!("{family}.getIntegrations"),
                &[("roomId", &id_of(room)), ("offset", "3")],
                Some(&admin),
            )
            .await;
        assert_exact(
            &reply,
            200,
            json!({"integrations": [], "count": 0, "offset": 3, "total": 0, "success": true}),
        );
    }
    // The permission is checked first.
    let refused =
        "User does not have the permissions required for this action [error-unauthorized]";
    for family in ["channels", "groups"] {
        server
            .get(
                &format!("{family}.getIntegrations"),
                &[("roomId", "nowhere")],
                Some(&alice),
            )
            .await
            .refused(403, refused);
    }
    // Any one of the four integration permissions will do.
    set_permission(
        &server,
        &admin,
        "manage-own-incoming-integrations",
        &["admin", "user"],
    )
    .await;
    server
        .get(
            "channels.getIntegrations",
            &[("roomName", "hooks")],
            Some(&alice),
        )
        .await
        .ok();
    server
        .get(
            "groups.getIntegrations",
            &[("roomId", &id_of(&group))],
            Some(&alice),
        )
        .await
        .refused(400, GROUP_NOT_FOUND);
    server
        .get(
            "channels.getIntegrations",
            &[("roomId", "nowhere")],
            Some(&alice),
        )
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    // A channel the caller may not read is forbidden rather than unknown.
    set_permission(&server, &admin, "view-c-room", &["admin"]).await;
    server
        .get(
            "channels.getIntegrations",
            &[("roomId", &id_of(&channel))],
            Some(&alice),
        )
        .await
        .refused(403, "unauthorized");
    server.stop().await;
}

// The deprecated `query` parameter of *.messages

#[tokio::test]
async fn messages_apply_the_deprecated_query_selector() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = create_room(&server, &alice, "channels", "selected", &["bob"]).await;
    let rid = id_of(&room);
    let plain = say(&server, &alice, &rid, "plain").await;
    let mention = say(&server, &alice, &rid, "hello @bob").await;
    let by_bob = say(&server, &bob, &rid, "from bob").await;
    server
        .post(
            "chat.pinMessage",
            json!({"messageId": id_of(&plain)}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post(
            "chat.starMessage",
            json!({"messageId": id_of(&by_bob)}),
            Some(&alice),
        )
        .await
        .ok();
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "in thread", "tmid": id_of(&mention)}}),
            Some(&bob),
        )
        .await;
    reply.ok();

    let texts = |selector: String| {
        let server = &server;
        let bob = &bob;
        let rid = rid.clone();
        async move {
            let reply = server
                .get(
                    "channels.messages",
                    &[("roomId", rid.as_str()), ("query", selector.as_str())],
                    Some(bob),
                )
                .await;
            reply.ok()["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .filter(|m| m["t"].is_null())
                .map(|m| m["msg"].as_str().expect("msg").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(texts(r#"{"pinned": true}"#.to_owned()).await, ["plain"]);
    let mentioning = format!(r#"{{"mentions._id": {{"$in": ["{}"]}}}}"#, bob.user_id);
    assert_eq!(texts(mentioning).await, ["hello @bob"]);
    let starred = format!(r#"{{"starred._id": "{}"}}"#, alice.user_id);
    assert_eq!(texts(starred).await, ["from bob"]);
    let authored = format!(r#"{{"u._id": "{}", "rid": "x"}}"#, bob.user_id);
    assert_eq!(texts(authored).await, ["in thread", "from bob"]);
    let thread = format!(r#"{{"tmid": "{}"}}"#, id_of(&mention));
    assert_eq!(texts(thread).await, ["in thread"]);

    for selector in [r#"{"pinned": true"#, r#"{"t": {"$exists": false}}"#, "[1]"] {
        server
            .get(
                "channels.messages",
                &[("roomId", "nowhere"), ("query", selector)],
                Some(&bob),
            )
            .await
            .refused(
                400,
                &format!("Invalid query parameter provided: \"{selector}\" [error-invalid-query]"),
            );
    }
    server.stop().await;
}

async fn allow_special_room_names(server: &TestServer, admin: &Auth, allowed: bool) {
    server
        .post(
            "settings/UI_Allow_room_names_with_special_chars",
            json!({"value": allowed}),
            Some(admin),
        )
        .await
        .ok();
}

/// With `UI_Allow_room_names_with_special_chars`, a room named in any script keeps what was
/// typed as `fname` and gets its slug as `name` (upstream's `getValidRoomName`); without it
/// the name must pass `UTF8_Channel_Names_Validation` as before.
#[tokio::test]
async fn special_character_room_names_become_slugs_with_the_display_name_kept() {
    let server = TestServer::start().await;
    let admin = server.admin().await;

    let refused = server
        .post("channels.create", json!({"name": "тест"}), Some(&admin))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["errorType"], json!("error-invalid-room-name"));

    allow_special_room_names(&server, &admin, true).await;
    let channel = create_room(&server, &admin, "channels", "тест", &[]).await;
    assert_eq!(channel["name"], json!("test"));
    assert_eq!(channel["fname"], json!("тест"));
    let group = create_room(&server, &admin, "groups", "测试", &[]).await;
    assert_eq!(group["name"], json!("ce4-shi4"));
    assert_eq!(group["fname"], json!("测试"));
    let arabic = create_room(&server, &admin, "channels", "اختبار", &[]).await;
    assert_eq!(arabic["name"], json!("akhtbar"));
    assert_eq!(arabic["fname"], json!("اختبار"));

    // The subscription shows both, like the room.
    let sub = subscription(&server, &admin, &id_of(&channel)).await;
    assert_eq!(sub["name"], json!("test"));
    assert_eq!(sub["fname"], json!("тест"));

    // The same display name again is a duplicate; another one with a taken slug gets the
    // first free suffix.
    let duplicate = server
        .post("channels.create", json!({"name": "тест"}), Some(&admin))
        .await;
    assert_eq!(duplicate.status, 400, "{}", duplicate.body);
    assert_eq!(
        duplicate.body["error"],
        json!("A channel with name 'test' exists [error-duplicate-channel-name]")
    );
    let second = create_room(&server, &admin, "channels", "тест!", &[]).await;
    assert_eq!(second["name"], json!("test-1"));
    assert_eq!(second["fname"], json!("тест!"));

    // A rename makes a slug of the new display name too, and announces what was typed.
    let rid = id_of(&channel);
    let renamed = server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "Ελληνικά"}),
            Some(&admin),
        )
        .await;
    assert_eq!(renamed.ok()["channel"]["name"], json!("Ellinika"));
    assert_eq!(renamed.ok()["channel"]["fname"], json!("Ελληνικά"));
    let notice = &history(&server, &admin, "channels", &rid).await[0];
    assert_eq!(notice["t"], json!("r"));
    assert_eq!(notice["msg"], json!("Ελληνικά"));
    let sub = subscription(&server, &admin, &rid).await;
    assert_eq!(sub["name"], json!("Ellinika"));
    assert_eq!(sub["fname"], json!("Ελληνικά"));

    // Turned off again, names are validated as typed.
    allow_special_room_names(&server, &admin, false).await;
    let refused = server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "Ρόδος"}),
            Some(&admin),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["errorType"], json!("error-invalid-room-name"));
    server.stop().await;
}

/// Rooms are found by their display name: `rooms.adminRooms`, `spotlight`, `directory` and
/// the autocompletes match `fname` as well as `name`, in any case.
#[tokio::test]
async fn rooms_are_searched_by_display_name() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    allow_special_room_names(&server, &admin, true).await;
    let channel = create_room(&server, &admin, "channels", "Ελληνικά-chan", &[]).await;
    let group = create_room(&server, &admin, "groups", "тест-группа", &[]).await;
    assert_eq!(channel["name"], json!("Ellinika-chan"));

    let reply = server
        .get("rooms.adminRooms", &[("filter", "ελληνικά")], Some(&admin))
        .await;
    let rooms = &reply.ok()["rooms"];
    assert_eq!(rooms.as_array().map(Vec::len), Some(1), "{rooms}");
    assert_eq!(rooms[0]["fname"], json!("Ελληνικά-chan"));

    let reply = server
        .get("spotlight", &[("query", "#Ελληνικά-chan")], Some(&admin))
        .await;
    assert_eq!(reply.ok()["rooms"][0]["_id"], channel["_id"]);

    let reply = server
        .get(
            "directory",
            &[("type", "channels"), ("text", "ληνικ")],
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["result"][0]["_id"], channel["_id"]);

    let reply = server
        .get(
            "rooms.autocomplete.channelAndPrivate",
            &[("selector", r#"{"name":"ТЕСТ"}"#)],
            Some(&admin),
        )
        .await;
    let items = &reply.ok()["items"];
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["fname"], json!("тест-группа"));

    let reply = server
        .get(
            "rooms.autocomplete.adminRooms",
            &[("selector", r#"{"name":"тест"}"#)],
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["items"][0]["_id"], group["_id"]);
    server.stop().await;
}
