//! DDP over WebSocket: handshake, login, methods, and live streams fed by REST actions.

use crate::common;

use common::ddp::{Ddp, WAIT};
use common::{TestServer, say, sha256_hex};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn handshake_ping_and_protocol_errors() {
    let server = TestServer::start().await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.send(json!({"msg": "ping", "id": "p1"})).await;
    let pong = ddp.until(|m| m["msg"] == "pong").await;
    assert_eq!(pong["id"], json!("p1"));
    let unknown = ddp.call("noSuchMethod", json!([])).await;
    assert_eq!(unknown["error"]["error"], json!(404));
    assert_eq!(
        unknown["error"]["message"],
        json!("Method 'noSuchMethod' not found [404]")
    );
    let anonymous = ddp.sub("stream-room-messages", "GENERAL").await;
    assert_eq!(anonymous["msg"], json!("nosub"));

    // A first message other than connect is a protocol error: the socket closes.
    let url = format!("{}/websocket", server.base.replace("http://", "ws://"));
    let (mut raw, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    raw.send(Message::Text(json!({"msg": "ping"}).to_string().into()))
        .await
        .expect("send");
    let closed = tokio::time::timeout(WAIT, raw.next())
        .await
        .expect("answer in time");
    assert!(
        matches!(closed, Some(Ok(Message::Close(_))) | None),
        "{closed:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn login_with_password_digest_and_resume() {
    let server = TestServer::start().await;
    server.new_user("alice").await;
    let mut ddp = Ddp::connect(&server).await;
    let login = ddp.login("alice").await;
    assert_eq!(login["type"], json!("password"));
    assert!(login["tokenExpires"]["$date"].is_i64());
    let token = login["token"].as_str().expect("token").to_owned();

    let mut again = Ddp::connect(&server).await;
    let resumed = again.call("login", json!([{"resume": token}])).await;
    assert_eq!(resumed["result"]["type"], json!("resume"));
    assert_eq!(resumed["result"]["id"], login["id"]);
    let wrong = again
        .call(
            "login",
            json!([{"user": {"username": "alice"}, "password": "nope"}]),
        )
        .await;
    assert_eq!(wrong["error"]["error"], json!(403));
    assert_eq!(wrong["error"]["reason"], json!("Incorrect password"));
    server.stop().await;
}

#[tokio::test]
async fn messages_posted_over_rest_arrive_live() {
    let server = TestServer::start().await;
    let bob = server.new_user("bob").await;
    server.new_user("alice").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("alice").await;
    assert_eq!(
        ddp.sub("stream-room-messages", "GENERAL").await["msg"],
        json!("ready")
    );

    let posted = server
        .post(
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": "hello @alice"}),
            Some(&bob),
        )
        .await;
    let id = posted.ok()["message"]["_id"].clone();
    let frame = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["args"][0]["_id"] == id)
        .await;
    assert_eq!(frame["collection"], json!("stream-room-messages"));
    assert_eq!(frame["fields"]["eventName"], json!("GENERAL"));
    let message = &frame["fields"]["args"][0];
    assert_eq!(message["msg"], json!("hello @alice"));
    assert!(message["ts"]["$date"].is_i64(), "EJSON dates: {message}");

    // Edits arrive on the same stream with the same id.
    server
        .post(
            "chat.update",
            json!({"roomId": "GENERAL", "msgId": id, "text": "edited"}),
            Some(&bob),
        )
        .await
        .ok();
    let edited = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["args"][0]["_id"] == id)
        .await;
    assert_eq!(edited["fields"]["args"][0]["msg"], json!("edited"));
    server.stop().await;
}

#[tokio::test]
async fn a_thread_reply_streams_the_updated_root() {
    let server = TestServer::start().await;
    let bob = server.new_user("bob").await;
    server.new_user("alice").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("alice").await;
    assert_eq!(
        ddp.sub("stream-room-messages", "GENERAL").await["msg"],
        json!("ready")
    );
    let root = say(&server, &bob, "GENERAL", "root").await;
    let root_id = root["_id"].clone();
    ddp.until(|m| m["msg"] == "changed" && m["fields"]["args"][0]["_id"] == root_id)
        .await;

    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": "GENERAL", "msg": "reply", "tmid": root_id}}),
            Some(&bob),
        )
        .await;
    let reply_id = reply.ok()["message"]["_id"].clone();
    let streamed = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["args"][0]["_id"] == reply_id)
        .await;
    assert_eq!(streamed["fields"]["args"][0]["tmid"], root_id);
    // Then the root, with its new count, as upstream streams it.
    let updated = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["args"][0]["_id"] == root_id)
        .await;
    let root = &updated["fields"]["args"][0];
    assert_eq!(root["tcount"], json!(1));
    assert!(root["tlm"]["$date"].is_i64(), "{root}");
    server.stop().await;
}

#[tokio::test]
async fn send_message_method_typing_and_private_rooms() {
    let server = TestServer::start().await;
    let alice_rest = server.new_user("alice").await;
    server.new_user("bob").await;
    let group = server
        .post(
            "groups.create",
            json!({"name": "team", "members": ["bob"]}),
            Some(&alice_rest),
        )
        .await;
    let group_id = group.ok()["group"]["_id"].as_str().expect("id").to_owned();

    let mut bob = Ddp::connect(&server).await;
    bob.login("bob").await;
    assert_eq!(
        bob.sub("stream-room-messages", &group_id).await["msg"],
        json!("ready")
    );
    assert_eq!(
        bob.sub("stream-notify-room", &format!("{group_id}/user-activity"))
            .await["msg"],
        json!("ready")
    );

    let mut alice = Ddp::connect(&server).await;
    alice.login("alice").await;
    let typing = alice
        .call(
            "stream-notify-room",
            json!([
                format!("{group_id}/user-activity"),
                "alice",
                ["user-typing"],
                {}
            ]),
        )
        .await;
    assert!(typing.get("error").is_none(), "{typing}");
    let activity = bob.until(|m| m["collection"] == "stream-notify-room").await;
    assert_eq!(
        activity["fields"]["args"],
        json!(["alice", ["user-typing"], {}])
    );

    let sent = alice
        .call(
            "sendMessage",
            json!([{"_id": "clientChosenId0001", "rid": group_id, "msg": "over ddp"}]),
        )
        .await;
    assert_eq!(sent["result"]["_id"], json!("clientChosenId0001"));
    let frame = bob
        .until(|m| m["collection"] == "stream-room-messages")
        .await;
    assert_eq!(frame["fields"]["args"][0]["msg"], json!("over ddp"));

    // Outsiders cannot listen to a private group.
    server.new_user("carol").await;
    let mut carol = Ddp::connect(&server).await;
    carol.login("carol").await;
    let refused = carol.sub("stream-room-messages", &group_id).await;
    assert_eq!(refused["msg"], json!("nosub"));
    assert_eq!(refused["error"]["error"], json!("not-allowed"));

    // A member who is kicked stops receiving the room at once.
    server
        .post(
            "groups.kick",
            json!({"roomId": group_id, "username": "bob"}),
            Some(&alice_rest),
        )
        .await
        .ok();
    server
        .post(
            "chat.postMessage",
            json!({"roomId": group_id, "text": "after the kick"}),
            Some(&alice_rest),
        )
        .await
        .ok();
    alice
        .call(
            "sendMessage",
            json!([{"rid": group_id, "msg": "sync point"}]),
        )
        .await;
    let quiet = tokio::time::timeout(Duration::from_millis(500), async {
        bob.until(|m| m["collection"] == "stream-room-messages")
            .await
    })
    .await;
    assert!(quiet.is_err(), "bob got {quiet:?}");
    server.stop().await;
}

#[tokio::test]
async fn sidebar_streams_follow_messages_and_reads() {
    let server = TestServer::start().await;
    let bob = server.new_user("bob").await;
    let alice_rest = server.new_user("alice").await;
    let mut alice = Ddp::connect(&server).await;
    let uid = alice.login("alice").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let rooms = alice
        .sub("stream-notify-user", &format!("{uid}/rooms-changed"))
        .await;
    assert_eq!(rooms["msg"], json!("ready"));
    let subs = alice
        .sub(
            "stream-notify-user",
            &format!("{uid}/subscriptions-changed"),
        )
        .await;
    assert_eq!(subs["msg"], json!("ready"));
    // Another user's stream is not hers to read.
    let other = alice
        .sub(
            "stream-notify-user",
            &format!("{}/rooms-changed", bob.user_id),
        )
        .await;
    assert_eq!(other["msg"], json!("nosub"));

    server
        .post(
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": "news"}),
            Some(&bob),
        )
        .await
        .ok();
    let changed = alice
        .until(|m| m["fields"]["eventName"] == json!(format!("{uid}/rooms-changed")))
        .await;
    let args = &changed["fields"]["args"];
    assert_eq!(args[0], json!("updated"));
    assert_eq!(args[1]["_id"], json!("GENERAL"));
    assert_eq!(args[1]["lastMessage"]["msg"], json!("news"));
    // Her sidebar entry changes too: the room is now marked.
    let marked = alice
        .until(|m| {
            m["fields"]["eventName"] == json!(format!("{uid}/subscriptions-changed"))
                && m["fields"]["args"][1]["alert"] == json!(true)
        })
        .await;
    assert_eq!(marked["fields"]["args"][1]["rid"], json!("GENERAL"));

    server
        .post(
            "subscriptions.read",
            json!({"rid": "GENERAL"}),
            Some(&alice_rest),
        )
        .await
        .ok();
    let read = alice
        .until(|m| m["fields"]["eventName"] == json!(format!("{uid}/subscriptions-changed")))
        .await;
    assert_eq!(read["fields"]["args"][0], json!("updated"));
    assert_eq!(read["fields"]["args"][1]["rid"], json!("GENERAL"));
    assert_eq!(read["fields"]["args"][1]["unread"], json!(0));

    // Joining a new room: the subscription arrives, and from then on its changes do too.
    let created = server
        .post("channels.create", json!({"name": "later"}), Some(&bob))
        .await;
    let room_id = created.ok()["channel"]["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    server
        .post(
            "channels.invite",
            json!({"roomId": room_id, "username": "alice"}),
            Some(&bob),
        )
        .await
        .ok();
    let inserted = alice
        .until(|m| m["fields"]["args"][0] == json!("inserted"))
        .await;
    assert_eq!(inserted["fields"]["args"][1]["rid"], json!(room_id));
    server
        .post(
            "chat.postMessage",
            json!({"roomId": room_id, "text": "welcome"}),
            Some(&bob),
        )
        .await
        .ok();
    let later = alice
        .until(|m| {
            m["fields"]["eventName"] == json!(format!("{uid}/rooms-changed"))
                && m["fields"]["args"][1]["_id"] == json!(room_id)
        })
        .await;
    assert_eq!(
        later["fields"]["args"][1]["lastMessage"]["msg"],
        json!("welcome")
    );
    server.stop().await;
}

#[tokio::test]
async fn presence_follows_connections() {
    let server = TestServer::start().await;
    let bob = server.new_user("bob").await;
    server.new_user("alice").await;
    let mut watcher = Ddp::connect(&server).await;
    watcher.login("bob").await;
    assert_eq!(
        watcher.sub("stream-notify-logged", "user-status").await["msg"],
        json!("ready")
    );

    let presence = |reply: common::Reply| reply.ok()["presence"].clone();
    assert_eq!(
        presence(
            server
                .get("users.getPresence", &[("username", "alice")], Some(&bob))
                .await
        ),
        json!("offline")
    );

    let mut alice = Ddp::connect(&server).await;
    let uid = alice.login("alice").await["id"].clone();
    let online = watcher
        .until(|m| m["collection"] == "stream-notify-logged" && m["fields"]["args"][0][0] == uid)
        .await;
    assert_eq!(online["fields"]["args"][0][2], json!(1), "1 = online");
    assert_eq!(
        presence(
            server
                .get("users.getPresence", &[("username", "alice")], Some(&bob))
                .await
        ),
        json!("online")
    );

    alice.call("UserPresence:away", json!([])).await;
    let away = watcher
        .until(|m| m["collection"] == "stream-notify-logged" && m["fields"]["args"][0][0] == uid)
        .await;
    assert_eq!(away["fields"]["args"][0][2], json!(2), "2 = away");

    // A second connection keeps her present when the first closes.
    let mut second = Ddp::connect(&server).await;
    second.login("alice").await;
    drop(alice);
    second.call("UserPresence:online", json!([])).await;
    let back = watcher
        .until(|m| m["collection"] == "stream-notify-logged" && m["fields"]["args"][0][0] == uid)
        .await;
    assert_eq!(back["fields"]["args"][0][2], json!(1));
    drop(second);
    let offline = watcher
        .until(|m| {
            m["collection"] == "stream-notify-logged"
                && m["fields"]["args"][0][0] == uid
                && m["fields"]["args"][0][2] == json!(0)
        })
        .await;
    assert_eq!(offline["fields"]["args"][0][1], json!("alice"));
    assert_eq!(
        presence(
            server
                .get("users.getPresence", &[("username", "alice")], Some(&bob))
                .await
        ),
        json!("offline")
    );
    server.stop().await;
}

#[tokio::test]
async fn more_methods_and_settings_events() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.new_user("bob").await;
    let mut ddp = Ddp::connect(&server).await;
    let login = ddp
        .call(
            "login",
            json!([{"user": {"username": common::ADMIN_USERNAME}, "password": {"digest": sha256_hex(common::ADMIN_PASS), "algorithm": "sha-256"}}]),
        )
        .await;
    assert!(login.get("error").is_none(), "{login}");
    assert_eq!(
        ddp.sub("stream-notify-all", "public-settings-changed")
            .await["msg"],
        json!("ready")
    );

    let created = ddp
        .call("createChannel", json!(["ddp-room", ["bob"], false]))
        .await;
    let room_id = created["result"]["rid"].as_str().expect("rid").to_owned();
    let roles = ddp.call("getRoomRoles", json!([room_id])).await;
    assert_eq!(roles["result"][0]["roles"], json!(["owner"]));
    let users = ddp
        .call(
            "getUsersOfRoom",
            json!([room_id, true, {"limit": 10, "skip": 0}]),
        )
        .await;
    assert_eq!(users["result"]["total"], json!(2));
    let found = ddp
        .call(
            "spotlight",
            json!(["bo", [], {"users": true, "rooms": true}]),
        )
        .await;
    assert_eq!(found["result"]["users"][0]["username"], json!("bob"));
    let user_roles = ddp.call("getUserRoles", json!([])).await;
    assert!(
        user_roles["result"]
            .as_array()
            .expect("list")
            .iter()
            .any(|u| u["roles"] == json!(["admin"]))
    );

    let before = chrono::Utc::now().timestamp_millis() - 1000;
    ddp.call("sendMessage", json!([{"rid": room_id, "msg": "one"}]))
        .await;
    let missed = ddp
        .call("loadMissedMessages", json!([room_id, {"$date": before}]))
        .await;
    assert_eq!(missed["result"][0]["msg"], json!("one"));
    let history = ddp
        .call("loadHistory", json!([room_id, null, 10, null, true]))
        .await;
    assert_eq!(history["result"]["messages"][0]["msg"], json!("one"));

    server
        .post(
            "settings/Site_Name",
            json!({"value": "Renamed"}),
            Some(&admin),
        )
        .await
        .ok();
    let setting = ddp.until(|m| m["collection"] == "stream-notify-all").await;
    assert_eq!(
        setting["fields"]["eventName"],
        json!("public-settings-changed")
    );
    assert_eq!(
        setting["fields"]["args"],
        json!(["updated", {"_id": "Site_Name", "value": "Renamed"}])
    );
    server.stop().await;
}

#[tokio::test]
async fn methods_are_rate_limited_per_connection() {
    let server = TestServer::start().await;
    server.new_user("alice").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("alice").await;
    for _ in 0..10 {
        let ok = ddp.call("public-settings/get", json!([])).await;
        assert!(ok.get("error").is_none(), "{ok}");
    }
    let limited = ddp.call("public-settings/get", json!([])).await;
    assert_eq!(limited["error"]["error"], json!("too-many-requests"));
    let reason = limited["error"]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("Error, too many requests. Please slow down. You must wait "),
        "{reason}"
    );
    // Other methods have their own allowance.
    let other = ddp.call("permissions/get", json!([])).await;
    assert!(other.get("error").is_none(), "{other}");
    server.stop().await;
}

#[tokio::test]
async fn my_messages_and_watched_presence() {
    let server = TestServer::start().await;
    let bob = server.new_user("bob").await;
    server.new_user("alice").await;
    let mut alice = Ddp::connect(&server).await;
    alice.login("alice").await;
    assert_eq!(
        alice.sub("stream-room-messages", "__my_messages__").await["msg"],
        json!("ready")
    );
    server
        .post(
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": "for everyone"}),
            Some(&bob),
        )
        .await
        .ok();
    let mine = alice
        .until(|m| m["fields"]["eventName"] == json!("__my_messages__"))
        .await;
    assert_eq!(mine["fields"]["args"][0]["msg"], json!("for everyone"));
    assert_eq!(
        mine["fields"]["args"][1],
        json!({"roomParticipant": true, "roomType": "c", "roomName": "general"})
    );

    // Watching bob's presence: his connecting and leaving arrive under his id.
    alice.next_id += 1;
    let sub_id = alice.next_id.to_string();
    alice
        .send(json!({"msg": "sub", "id": sub_id, "name": "stream-user-presence", "params": ["", {"added": [bob.user_id]}]}))
        .await;
    alice.until(|m| m["msg"] == "ready").await;
    let mut bob_ddp = Ddp::connect(&server).await;
    bob_ddp.login("bob").await;
    let online = alice
        .until(|m| m["collection"] == "stream-user-presence")
        .await;
    assert_eq!(online["id"], json!(bob.user_id));
    assert_eq!(online["fields"]["args"], json!(["bob", 1, ""]));
    server.stop().await;
}

#[tokio::test]
async fn desktop_notifications_for_direct_messages_and_mentions() {
    let server = TestServer::start().await;
    let bob = server.new_user("bob").await;
    server.new_user("alice").await;
    let mut alice = Ddp::connect(&server).await;
    let uid = alice.login("alice").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let name = format!("{uid}/notification");
    assert_eq!(
        alice.sub("stream-notify-user", &name).await["msg"],
        json!("ready")
    );

    server
        .post(
            "chat.postMessage",
            json!({"channel": "@alice", "text": "psst"}),
            Some(&bob),
        )
        .await
        .ok();
    let direct = alice
        .until(|m| m["fields"]["eventName"] == json!(name))
        .await;
    let notification = &direct["fields"]["args"][0];
    assert_eq!(notification["title"], json!("User bob"));
    assert_eq!(notification["text"], json!("psst"));
    assert_eq!(notification["payload"]["type"], json!("d"));
    assert_eq!(notification["payload"]["sender"]["username"], json!("bob"));

    // In a channel, a mention notifies with the room as title.
    server
        .post(
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": "hey @alice"}),
            Some(&bob),
        )
        .await
        .ok();
    let mention = alice
        .until(|m| m["fields"]["eventName"] == json!(name))
        .await;
    assert_eq!(
        mention["fields"]["args"][0]["text"],
        json!("bob: hey @alice")
    );
    assert_eq!(mention["fields"]["args"][0]["title"], json!("#general"));

    // Someone who wants nothing gets nothing, even when mentioned.
    let alice_rest = server.login("alice", common::PASSWORD).await;
    let saved = server
        .post(
            "users.setPreferences",
            json!({"data": {"desktopNotifications": "nothing"}}),
            Some(&alice_rest),
        )
        .await;
    assert_eq!(
        saved.ok()["user"]["settings"]["preferences"]["desktopNotifications"],
        json!("nothing")
    );
    server
        .post(
            "chat.postMessage",
            json!({"channel": "@alice", "text": "still there?"}),
            Some(&bob),
        )
        .await
        .ok();
    let quiet = tokio::time::timeout(Duration::from_millis(500), async {
        alice
            .until(|m| m["fields"]["eventName"] == json!(name))
            .await
    })
    .await;
    assert!(quiet.is_err(), "notified despite 'nothing': {quiet:?}");
    let unknown = server
        .post(
            "users.setPreferences",
            json!({"data": {"noSuchPreference": 1}}),
            Some(&alice_rest),
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["errorType"], json!("invalid-params"));
    server.stop().await;
}

#[tokio::test]
async fn deactivation_ends_live_sessions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice_rest = server.new_user("alice").await;
    let mut alice = Ddp::connect(&server).await;
    alice.login("alice").await;
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": alice_rest.user_id, "activeStatus": false}),
            Some(&admin),
        )
        .await
        .ok();
    let notice = alice
        .until(|m| {
            m["fields"]["eventName"] == json!(format!("{}/force_logout", alice_rest.user_id))
        })
        .await;
    assert_eq!(notice["fields"]["args"], json!([]));
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match alice.socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(closed, Some(4001));
    server.stop().await;
}

#[tokio::test]
async fn user_role_and_bulk_delete_events() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    server.new_user("alice").await;
    let mut alice = Ddp::connect(&server).await;
    alice.login("alice").await;
    for event in ["Users:NameChanged", "roles-change", "Users:Deleted"] {
        assert_eq!(
            alice.sub("stream-notify-logged", event).await["msg"],
            json!("ready")
        );
    }
    assert_eq!(
        alice
            .sub("stream-notify-room", "GENERAL/deleteMessageBulk")
            .await["msg"],
        json!("ready")
    );

    server
        .post(
            "users.update",
            json!({"userId": bob.user_id, "data": {"name": "Robert"}}),
            Some(&admin),
        )
        .await
        .ok();
    let renamed = alice
        .until(|m| m["fields"]["eventName"] == json!("Users:NameChanged"))
        .await;
    assert_eq!(
        renamed["fields"]["args"],
        json!([{"_id": bob.user_id, "name": "Robert", "username": "bob"}])
    );

    server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "bot", "username": "bob"}),
            Some(&admin),
        )
        .await
        .ok();
    let role = alice
        .until(|m| m["fields"]["eventName"] == json!("roles-change"))
        .await;
    assert_eq!(role["fields"]["args"][0]["type"], json!("added"));
    assert_eq!(role["fields"]["args"][0]["_id"], json!("bot"));
    assert_eq!(role["fields"]["args"][0]["u"]["username"], json!("bob"));

    let oldest = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let latest = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    server
        .post(
            "rooms.cleanHistory",
            json!({"roomId": "GENERAL", "oldest": oldest, "latest": latest}),
            Some(&admin),
        )
        .await
        .ok();
    let bulk = alice
        .until(|m| m["fields"]["eventName"] == json!("GENERAL/deleteMessageBulk"))
        .await;
    assert_eq!(bulk["fields"]["args"][0]["rid"], json!("GENERAL"));
    assert!(bulk["fields"]["args"][0]["ts"]["$gt"]["$date"].is_i64());

    // Bob writes in GENERAL; deleting him (Message_ErasureType Delete) removes it with a
    // bulk deletion over everything he wrote, then says he is gone.
    common::say(&server, &bob, "GENERAL", "soon gone").await;
    server
        .post("users.delete", json!({"userId": bob.user_id}), Some(&admin))
        .await
        .ok();
    let erased = alice
        .until(|m| {
            m["fields"]["eventName"] == json!("GENERAL/deleteMessageBulk")
                && m["fields"]["args"][0]["users"] == json!([bob.user_id])
        })
        .await;
    let range = &erased["fields"]["args"][0]["ts"];
    assert_eq!(range["$gt"]["$date"], json!(0), "{erased}");
    assert!(range["$lt"]["$date"].is_i64(), "{erased}");
    let deleted = alice
        .until(|m| m["fields"]["eventName"] == json!("Users:Deleted"))
        .await;
    assert_eq!(
        deleted["fields"]["args"][0],
        json!({"userId": bob.user_id, "messageErasureType": "Delete"})
    );
    server.stop().await;
}

#[tokio::test]
async fn user_data_and_roles_streams() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice_rest = server.new_user("alice").await;
    let mut alice = Ddp::connect(&server).await;
    let uid = alice.login("alice").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let user_data = format!("{uid}/userData");
    assert_eq!(
        alice.sub("stream-notify-user", &user_data).await["msg"],
        json!("ready")
    );
    assert_eq!(
        alice.sub("stream-roles", "roles").await["msg"],
        json!("ready")
    );

    server
        .post(
            "users.setStatus",
            json!({"status": "busy", "message": "in a meeting"}),
            Some(&alice_rest),
        )
        .await
        .ok();
    let data = alice
        .until(|m| m["fields"]["eventName"] == json!(user_data))
        .await;
    let change = &data["fields"]["args"][0];
    assert_eq!(change["type"], json!("updated"));
    assert_eq!(change["id"], json!(uid));
    assert_eq!(change["diff"]["statusText"], json!("in a meeting"));
    assert_eq!(change["diff"]["statusDefault"], json!("busy"));
    // Her live connection makes the chosen status the visible one.
    assert_eq!(change["diff"]["status"], json!("busy"));

    server
        .post(
            "roles.create",
            json!({"name": "reviewer", "description": "Reviews things"}),
            Some(&admin),
        )
        .await
        .ok();
    let role = alice.until(|m| m["collection"] == "stream-roles").await;
    assert_eq!(role["fields"]["eventName"], json!("roles"));
    assert_eq!(role["fields"]["args"][0]["name"], json!("reviewer"));
    assert_eq!(role["fields"]["args"][0]["type"], json!("changed"));
    server.stop().await;
}

#[tokio::test]
async fn read_receipts_announce_messages_read_by_everyone() {
    let server = TestServer::start_with(|config| {
        config
            .setting_overrides
            .push(("Message_Read_Receipt_Enabled".to_owned(), "true".to_owned()));
    })
    .await;
    let alice = server.new_user("alice").await;
    let bob_rest = server.new_user("bob").await;
    let created = server
        .post(
            "groups.create",
            json!({"name": "receipts", "members": ["bob"]}),
            Some(&alice),
        )
        .await;
    let rid = created.ok()["group"]["_id"]
        .as_str()
        .expect("rid")
        .to_owned();
    let mut bob = Ddp::connect(&server).await;
    bob.login("bob").await;
    let topic = format!("{rid}/messagesRead");
    assert_eq!(bob.sub("stream-notify-room", &topic).await["msg"], "ready");
    // Not a member: refused.
    let mut carol = Ddp::connect(&server).await;
    server.new_user("carol").await;
    carol.login("carol").await;
    assert_eq!(
        carol.sub("stream-notify-room", &topic).await["msg"],
        "nosub"
    );

    let posted = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "did everyone see this?"}),
            Some(&alice),
        )
        .await;
    let message = posted.ok()["message"].clone();
    assert_eq!(message["unread"], json!(true));
    let mid = message["_id"].as_str().expect("id").to_owned();

    // Alice has read it; Bob has not, so nothing is announced and the message stays unread.
    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&alice))
        .await
        .ok();
    let still = server
        .get("chat.getMessage", &[("msgId", &mid)], Some(&alice))
        .await;
    assert_eq!(still.ok()["message"]["unread"], json!(true));

    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob_rest))
        .await
        .ok();
    let read = bob
        .until(|m| m["fields"]["eventName"] == json!(topic))
        .await;
    assert_eq!(read["collection"], json!("stream-notify-room"));
    assert!(
        read["fields"]["args"][0]["until"]["$date"].is_i64(),
        "{read}"
    );
    let now_read = server
        .get("chat.getMessage", &[("msgId", &mid)], Some(&alice))
        .await;
    assert!(now_read.ok()["message"].get("unread").is_none());
    server.stop().await;
}

#[tokio::test]
async fn idle_connections_turn_away_and_activity_brings_them_back() {
    let server = TestServer::start().await;
    let bob = server.new_user("bob").await;
    let alice_rest = server.new_user("alice").await;
    server
        .post(
            "users.setPreferences",
            json!({"userId": alice_rest.user_id, "data": {"idleTimeLimit": 1}}),
            Some(&alice_rest),
        )
        .await
        .ok();
    let mut watcher = Ddp::connect(&server).await;
    watcher.login("bob").await;
    assert_eq!(
        watcher.sub("stream-notify-logged", "user-status").await["msg"],
        json!("ready")
    );
    let status_of = |uid: Value| {
        move |m: &Value| {
            m["collection"] == "stream-notify-logged" && m["fields"]["args"][0][0] == uid
        }
    };

    let mut alice = Ddp::connect(&server).await;
    let uid = alice.login("alice").await["id"].clone();
    let online = watcher.until(status_of(uid.clone())).await;
    assert_eq!(online["fields"]["args"][0][2], json!(1), "1 = online");
    // Heartbeats alone do not count as activity.
    alice.send(json!({"msg": "ping"})).await;
    let idle = watcher.until(status_of(uid.clone())).await;
    assert_eq!(
        idle["fields"]["args"][0][2],
        json!(2),
        "2 = away after the idle limit"
    );
    let presence = server
        .get("users.getPresence", &[("username", "alice")], Some(&bob))
        .await;
    assert_eq!(presence.ok()["presence"], json!("away"));

    alice.call("public-settings/get", json!([])).await;
    let back = watcher.until(status_of(uid.clone())).await;
    assert_eq!(
        back["fields"]["args"][0][2],
        json!(1),
        "activity: online again"
    );

    // With auto-away off, a connection stays online however quiet it is.
    server
        .post(
            "users.setPreferences",
            json!({"userId": alice_rest.user_id, "data": {"enableAutoAway": false}}),
            Some(&alice_rest),
        )
        .await
        .ok();
    drop(alice);
    let offline = watcher.until(status_of(uid.clone())).await;
    assert_eq!(offline["fields"]["args"][0][2], json!(0));
    let mut again = Ddp::connect(&server).await;
    again.login("alice").await;
    let online = watcher.until(status_of(uid.clone())).await;
    assert_eq!(online["fields"]["args"][0][2], json!(1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let presence = server
        .get("users.getPresence", &[("username", "alice")], Some(&bob))
        .await;
    assert_eq!(presence.ok()["presence"], json!("online"));
    server.stop().await;
}

#[tokio::test]
async fn mentioning_someone_outside_the_room_tells_only_the_sender() {
    let server = TestServer::start().await;
    let alice_rest = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("carol").await;
    let created = server
        .post(
            "channels.create",
            json!({"name": "lobby", "members": ["carol"]}),
            Some(&alice_rest),
        )
        .await;
    let rid = created.ok()["channel"]["_id"]
        .as_str()
        .expect("rid")
        .to_owned();
    let mut alice = Ddp::connect(&server).await;
    let uid = alice.login("alice").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let topic = format!("{uid}/message");
    assert_eq!(
        alice.sub("stream-notify-user", &topic).await["msg"],
        "ready"
    );
    let mut carol = Ddp::connect(&server).await;
    carol.login("carol").await;
    assert_eq!(
        carol.sub("stream-notify-user", &topic).await["msg"],
        "nosub",
        "another user's ephemeral messages are not hers"
    );

    server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "@carol and @bob, look"}),
            Some(&alice_rest),
        )
        .await
        .ok();
    let notice = alice
        .until(|m| m["fields"]["eventName"] == json!(topic))
        .await;
    let message = &notice["fields"]["args"][0];
    assert_eq!(message["rid"], json!(rid));
    assert_eq!(message["private"], json!(true));
    assert_eq!(message["u"]["username"], json!("rocket.cat"));
    assert_eq!(message["mentions"][0]["username"], json!("bob"));
    assert_eq!(message["mentions"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        message["blocks"][0]["text"]["text"],
        json!("You mentioned *bob*, but they're not in this room.")
    );
    assert!(message["ts"]["$date"].is_i64());
    server.stop().await;
}

/// A live connection acts with the user's roles as they are now: once an admin takes
/// `admin` away, the open WebSocket can no longer delete other people's messages.
#[tokio::test]
async fn role_changes_apply_to_open_connections_at_once() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    server.new_user("alice").await;
    server
        .post(
            "roles.addUserToRole",
            json!({"roleName": "admin", "username": "alice"}),
            Some(&admin),
        )
        .await
        .ok();
    let mut alice = Ddp::connect(&server).await;
    alice.login("alice").await;
    let first = say(&server, &bob, "GENERAL", "first").await;
    let deleted = alice
        .call("deleteMessage", json!([{"_id": first["_id"]}]))
        .await;
    assert!(
        deleted.get("error").is_none(),
        "an admin deletes: {deleted}"
    );

    server
        .post(
            "roles.removeUserFromRole",
            json!({"roleName": "admin", "username": "alice"}),
            Some(&admin),
        )
        .await
        .ok();
    let second = say(&server, &bob, "GENERAL", "second").await;
    let refused = alice
        .call("deleteMessage", json!([{"_id": second["_id"]}]))
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-action-not-allowed"),
        "{refused}"
    );
    let still_there = server
        .get(
            "chat.getMessage",
            &[("msgId", second["_id"].as_str().expect("id"))],
            Some(&bob),
        )
        .await;
    assert_eq!(still_there.ok()["message"]["msg"], json!("second"));

    // A renamed user's connection posts under the new name.
    server
        .post(
            "users.update",
            json!({"userId": alice_id(&server, &admin).await, "data": {"username": "alicia"}}),
            Some(&admin),
        )
        .await
        .ok();
    let sent = alice
        .call(
            "sendMessage",
            json!([{"_id": "renamedMsg0000001", "rid": "GENERAL", "msg": "new name"}]),
        )
        .await;
    assert_eq!(sent["result"]["u"]["username"], json!("alicia"), "{sent}");
    server.stop().await;
}

async fn alice_id(server: &TestServer, admin: &common::Auth) -> String {
    server
        .get("users.info", &[("username", "alice")], Some(admin))
        .await
        .ok()["user"]["_id"]
        .as_str()
        .expect("_id")
        .to_owned()
}

/// Logging a token out over REST ends the WebSocket that logged in with it: its next action
/// closes the connection instead of reading private history.
#[tokio::test]
async fn a_token_logged_out_over_rest_ends_its_connection() {
    let server = TestServer::start().await;
    let alice_rest = server.new_user("alice").await;
    let mut alice = Ddp::connect(&server).await;
    let login = alice.login("alice").await;
    let token = login["token"].as_str().expect("token").to_owned();
    let ddp_auth = common::Auth {
        user_id: alice_rest.user_id.clone(),
        token,
    };
    server.post("logout", json!({}), Some(&ddp_auth)).await.ok();
    alice
        .send(json!({"msg": "method", "method": "loadHistory", "id": "h1",
                     "params": ["GENERAL", null, 10, null]}))
        .await;
    let answer = tokio::time::timeout(WAIT, async {
        loop {
            match alice.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("json");
                    if frame["msg"] == "result" {
                        return Some(frame);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| json!({"closed": u16::from(f.code)}));
                }
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("answer in time");
    assert_eq!(answer, Some(json!({"closed": 4001})));
    // The REST token of another login keeps working.
    server.get("me", &[], Some(&alice_rest)).await.ok();
    server.stop().await;
}

/// Bots built on Rocket.Chat's SDK (asteroid) and hubot's adapter subscribe with
/// `useCollection: true` and drop every later frame of a collection they never saw `added`.
#[tokio::test]
async fn collection_subscriptions_see_the_stream_document_added_first() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("alice").await;
    let is_added_or_ready = |m: &Value| m["msg"] == "added" || m["msg"] == "ready";

    ddp.send(
        json!({"msg": "sub", "id": "c1", "name": "stream-room-messages",
                    "params": ["GENERAL", {"useCollection": true, "args": []}]}),
    )
    .await;
    let first = ddp.until(is_added_or_ready).await;
    assert_eq!(
        first,
        json!({"msg": "added", "collection": "stream-room-messages", "id": "id",
               "fields": {"eventName": "GENERAL"}})
    );
    let ready = ddp.until(is_added_or_ready).await;
    assert_eq!(ready, json!({"msg": "ready", "subs": ["c1"]}));

    // A second subscription to the same stream shares the one document.
    ddp.send(
        json!({"msg": "sub", "id": "c2", "name": "stream-room-messages",
                    "params": ["__my_messages__", true]}),
    )
    .await;
    let second = ddp.until(is_added_or_ready).await;
    assert_eq!(second, json!({"msg": "ready", "subs": ["c2"]}));

    say(&server, &alice, "GENERAL", "to the bot").await;
    let changed = ddp
        .until(|m| m["msg"] == "changed" && m["collection"] == "stream-room-messages")
        .await;
    assert_eq!(changed["id"], json!("id"));
    assert_eq!(changed["fields"]["args"][0]["msg"], json!("to the bot"));

    let is_removed_or_nosub = |m: &Value| m["msg"] == "removed" || m["msg"] == "nosub";
    ddp.send(json!({"msg": "unsub", "id": "c1"})).await;
    let stopped = ddp.until(is_removed_or_nosub).await;
    assert_eq!(stopped, json!({"msg": "nosub", "id": "c1"}));
    ddp.send(json!({"msg": "unsub", "id": "c2"})).await;
    let removed = ddp.until(is_removed_or_nosub).await;
    assert_eq!(
        removed,
        json!({"msg": "removed", "collection": "stream-room-messages", "id": "id"})
    );

    // Without collection compatibility nothing but `ready` comes.
    let plain = ddp.sub("stream-room-messages", "GENERAL").await;
    assert_eq!(plain["msg"], json!("ready"));
    server.stop().await;
}

#[tokio::test]
async fn meteor_publications_without_documents_answer_ready() {
    let server = TestServer::start().await;
    let mut ddp = Ddp::connect(&server).await;
    for name in [
        "meteor.loginServiceConfiguration",
        "meteor_autoupdate_clientVersions",
    ] {
        ddp.send(json!({"msg": "sub", "id": name, "name": name, "params": []}))
            .await;
        let answer = ddp
            .until(|m| m["msg"] == "ready" || m["msg"] == "nosub")
            .await;
        assert_eq!(answer, json!({"msg": "ready", "subs": [name]}));
    }
    server.stop().await;
}

/// `loadHistory(rid, end, limit, ls)` tells how many unread messages are older than the page
/// and which is the first of them, as upstream's `loadMessageHistory`.
#[tokio::test]
async fn load_history_reports_unread_messages_beyond_the_page() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("alice").await;
    let before = say(&server, &alice, "GENERAL", "seen").await;
    let last_seen = before["ts"]
        .as_str()
        .and_then(|ts| chrono::DateTime::parse_from_rfc3339(ts).ok())
        .expect("ts")
        .timestamp_millis();
    for text in ["u1", "u2", "u3", "u4", "u5"] {
        say(&server, &alice, "GENERAL", text).await;
    }

    let page = ddp
        .call(
            "loadHistory",
            json!(["GENERAL", null, 2, {"$date": last_seen}, true]),
        )
        .await;
    let result = &page["result"];
    let texts: Vec<&str> = result["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["msg"].as_str())
        .collect();
    assert_eq!(texts, ["u5", "u4"]);
    assert_eq!(result["unreadNotLoaded"], json!(3));
    assert_eq!(result["firstUnread"]["msg"], json!("u1"));

    // Without a last-seen time there is nothing to count.
    let page = ddp
        .call("loadHistory", json!(["GENERAL", null, 2, null, true]))
        .await;
    assert_eq!(page["result"]["unreadNotLoaded"], json!(0));
    assert!(page["result"].get("firstUnread").is_none(), "{page}");
    server.stop().await;
}

/// Meteor's DDP client asks `/sockjs/info` before choosing a transport.
#[tokio::test]
async fn sockjs_info_answers_as_meteor() {
    let server = TestServer::start().await;
    let reply = reqwest::Client::new()
        .get(format!("{}/sockjs/info?cb=abc123", server.base))
        .timeout(WAIT)
        .send()
        .await
        .expect("sockjs info");
    assert_eq!(reply.status().as_u16(), 200);
    assert_eq!(
        reply.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    let info: Value = reply.json().await.expect("json");
    assert_eq!(info["websocket"], json!(true));
    assert_eq!(info["origins"], json!(["*:*"]));
    assert_eq!(info["cookie_needed"], json!(false));
    assert!(info["entropy"].is_u64(), "{info}");
    server.stop().await;
}

/// Methods Rocket.Chat's clients call that map onto what Comet already does.
#[tokio::test]
async fn room_lookup_star_pin_and_emoji_methods() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("alice").await;

    let by_name = ddp.call("getRoomIdByNameOrId", json!(["general"])).await;
    assert_eq!(by_name["result"], json!("GENERAL"), "{by_name}");
    let by_id = ddp.call("getRoomIdByNameOrId", json!(["GENERAL"])).await;
    assert_eq!(by_id["result"], json!("GENERAL"));
    let name = ddp.call("getRoomNameById", json!(["GENERAL"])).await;
    assert_eq!(name["result"], json!("general"));
    let group = server
        .post("groups.create", json!({"name": "bobs-secret"}), Some(&bob))
        .await;
    let gid = group.ok()["group"]["_id"].as_str().expect("gid").to_owned();
    for (method, key) in [
        ("getRoomIdByNameOrId", "nowhere"),
        ("getRoomIdByNameOrId", "bobs-secret"),
        ("getRoomNameById", gid.as_str()),
    ] {
        let refused = ddp.call(method, json!([key])).await;
        assert_eq!(
            refused["error"]["error"],
            json!("error-not-allowed"),
            "{method} {key}"
        );
        assert_eq!(refused["error"]["details"]["method"], json!(method));
    }

    let posted = say(&server, &alice, "GENERAL", "star me").await;
    let mid = posted["_id"].as_str().expect("id").to_owned();
    let starred = ddp
        .call(
            "starMessage",
            json!([{"_id": mid, "rid": "GENERAL", "starred": true}]),
        )
        .await;
    assert_eq!(starred["result"], json!(true), "{starred}");
    let single = ddp.call("getSingleMessage", json!([mid])).await;
    assert_eq!(single["result"]["starred"], json!([{"_id": alice.user_id}]));
    let elsewhere = ddp
        .call(
            "starMessage",
            json!([{"_id": mid, "rid": gid, "starred": true}]),
        )
        .await;
    assert_eq!(elsewhere["result"], json!(false), "{elsewhere}");

    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "pin-message", "roles": ["admin", "owner", "moderator", "user"]}]}),
            Some(&server.admin().await),
        )
        .await
        .ok();
    let pinned = ddp.call("pinMessage", json!([{"_id": mid}])).await;
    assert_eq!(pinned["result"]["t"], json!("message_pinned"), "{pinned}");
    let unpinned = ddp.call("unpinMessage", json!([{"_id": mid}])).await;
    assert_eq!(unpinned["result"], json!(true), "{unpinned}");

    let emoji = ddp.call("listEmojiCustom", json!([])).await;
    assert_eq!(emoji["result"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn presence_connections_count_live_connections_for_managers_only() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let count = |auth| {
        let server = &server;
        async move {
            server
                .get("presence.getConnections", &[], Some(auth))
                .await
                .ok()
                .clone()
        }
    };
    let before = count(&admin).await;
    assert_eq!(before["current"], json!(0));
    assert_eq!(before["max"], json!(200));
    let mut first = Ddp::connect(&server).await;
    first.login("bob").await;
    let mut second = Ddp::connect(&server).await;
    second.login("bob").await;
    assert_eq!(count(&admin).await["current"], json!(2));

    let refused =
        "User does not have the permissions required for this action [error-unauthorized]";
    server
        .get("presence.getConnections", &[], Some(&bob))
        .await
        .refused(403, refused);
    server
        .post("presence.enableBroadcast", json!({}), Some(&bob))
        .await
        .refused(403, refused);

    server
        .post(
            "settings/Presence_broadcast_disabled",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post_with_headers(
            "presence.enableBroadcast",
            json!({}),
            Some(&admin),
            &[
                ("x-2fa-code", &sha256_hex(common::ADMIN_PASS)),
                ("x-2fa-method", "password"),
            ],
        )
        .await
        .ok();
    let setting = server
        .get("settings/Presence_broadcast_disabled", &[], Some(&admin))
        .await;
    assert_eq!(setting.ok()["value"], json!(false));
    server.stop().await;
}

#[tokio::test]
async fn instances_lists_this_instance_for_statistics_viewers() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let mut live = Ddp::connect(&server).await;
    live.login("bob").await;
    let reply = server.get("instances.get", &[], Some(&admin)).await;
    let instances = reply.ok()["instances"]
        .as_array()
        .expect("instances")
        .clone();
    assert_eq!(instances.len(), 1, "{instances:?}");
    let here = &instances[0];
    assert_eq!(here["currentStatus"]["connected"], json!(true));
    assert_eq!(here["currentStatus"]["local"], json!(true));
    assert!(here["currentStatus"]["lastHeartbeatTime"].is_i64());
    assert_eq!(here["broadcastAuth"], json!(true));
    let record = &here["instanceRecord"];
    assert!(record["_id"].is_string());
    // The name clients of a single-process deployment look for.
    assert_eq!(record["name"], json!("rocket.chat"));
    assert!(record["pid"].is_u64());
    let extra = &record["extraInformation"];
    assert!(extra["os"]["cpus"].is_u64());
    assert_eq!(extra["conns"], json!(1));
    assert!(extra["nodeVersion"].is_string(), "{extra}");
    // Where this instance listens, as upstream's record gives it.
    let port = server.base.rsplit(':').next().expect("port").to_owned();
    assert_eq!(extra["port"], json!(port));
    assert!(extra["host"].is_string(), "{extra}");
    assert_eq!(
        here["address"],
        json!(format!("{}:{port}", extra["host"].as_str().unwrap_or("")))
    );
    server.get("instances.get", &[], Some(&bob)).await.refused(
        403,
        "User does not have the permissions required for this action [error-unauthorized]",
    );
    server.stop().await;
}

/// `loadMissedMessages` on a room the caller cannot read answers `false`, as upstream's
/// method does, rather than an error (clients call it on every reconnect, for every room).
#[tokio::test]
async fn missed_messages_of_an_unreadable_room_are_false() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let group = server
        .post("groups.create", json!({"name": "hidden"}), Some(&alice))
        .await
        .ok()["group"]["_id"]
        .as_str()
        .expect("group id")
        .to_owned();
    say(&server, &alice, &group, "secret").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("bob").await;
    let since = chrono::Utc::now().timestamp_millis() - 60_000;
    for room in [group.as_str(), "no-such-room"] {
        let missed = ddp
            .call("loadMissedMessages", json!([room, {"$date": since}]))
            .await;
        assert_eq!(missed["result"], json!(false), "{room}: {missed}");
    }
    server.stop().await;
}

/// A client that stops reading while its room is busy is never left with a silent gap: it
/// receives a contiguous run of the room's messages and then the close 1013, which tells it to
/// reconnect and catch up, even though its queue is full when the close is decided.
#[tokio::test]
async fn a_client_that_cannot_keep_up_is_closed_without_a_gap() {
    const MESSAGES: usize = 1_600;
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    // Bob's socket takes little before TCP makes the server wait for him.
    let address = server.base.trim_start_matches("http://").to_owned();
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let stream = tcp
        .connect(address.parse().expect("address"))
        .await
        .expect("connect");
    let (socket, _) = tokio_tungstenite::client_async(
        format!("ws://{address}/websocket"),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("handshake");
    let mut bob = Ddp { socket, next_id: 0 };
    bob.send(json!({"msg": "connect", "version": "1", "support": ["1"]}))
        .await;
    bob.until(|m| m["msg"] == "connected").await;
    bob.login("bob").await;
    bob.sub("stream-room-messages", "GENERAL").await;

    // Bob reads nothing while the room gets far more than his queue and buffers hold.
    let text = "x".repeat(4_000);
    let mut senders = tokio::task::JoinSet::new();
    let per_task = MESSAGES / 5;
    for task in 0..5 {
        let http = server.http.clone();
        let url = format!("{}/api/v1/chat.postMessage", server.base);
        let (user, token) = (alice.user_id.clone(), alice.token.clone());
        let text = text.clone();
        senders.spawn(async move {
            for n in 0..per_task {
                let reply = http
                    .post(&url)
                    .header("X-User-Id", &user)
                    .header("X-Auth-Token", &token)
                    .json(&json!({"roomId": "GENERAL", "text": format!("{task}-{n} {text}")}))
                    .send()
                    .await
                    .expect("post");
                assert!(reply.status().is_success());
            }
        });
    }
    tokio::time::timeout(Duration::from_secs(180), async {
        let mut heartbeat = tokio::time::interval(Duration::from_secs(3));
        loop {
            tokio::select! {
                done = senders.join_next() => match done {
                    Some(done) => done.expect("sender"),
                    None => break,
                },
                // Bob still writes, so the server does not end him for silence meanwhile
                // (once he is closed, the writes fail; that is expected).
                _ = heartbeat.tick() => {
                    let ping = Message::Text(json!({"msg": "ping"}).to_string().into());
                    let _ = bob.socket.send(ping).await;
                }
            }
        }
    })
    .await
    .expect("messages posted in time");

    // Now Bob reads: per sender, his messages must be an unbroken prefix, then the close.
    let mut next_of = [0usize; 5];
    let close = loop {
        let frame = tokio::time::timeout(WAIT, bob.socket.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(text.as_str()).expect("json");
                let Some(msg) = value["fields"]["args"][0]["msg"].as_str() else {
                    continue;
                };
                let label = msg.split(' ').next().unwrap_or_default();
                let (task, n) = label.split_once('-').expect("label");
                let (task, n): (usize, usize) =
                    (task.parse().expect("task"), n.parse().expect("n"));
                assert_eq!(n, next_of[task], "message {label} came after a gap");
                next_of[task] += 1;
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("connection ended without a close frame: {other:?}"),
        }
    };
    let delivered: usize = next_of.iter().sum();
    assert!(delivered < MESSAGES, "the client was never too slow");
    assert_eq!(close, Some(1013));
    server.stop().await;
}

/// A client frame larger than the limit is answered with the close code for it (1009), not a
/// dropped connection.
#[tokio::test]
async fn an_oversized_frame_is_closed_with_1009() {
    let server = TestServer::start().await;
    let mut ddp = Ddp::connect(&server).await;
    let huge = json!({"msg": "method", "id": "1", "method": "sendMessage",
                      "params": [{"rid": "GENERAL", "msg": "y".repeat(comet_realtime::MAX_FRAME_BYTES + 1)}]});
    // The server may stop reading before the whole frame is written.
    let _ = ddp
        .socket
        .send(Message::Text(huge.to_string().into()))
        .await;
    let close = tokio::time::timeout(WAIT, async {
        loop {
            match ddp.socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("connection ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(close, Some(1009));
    server.stop().await;
}

/// Waits, doing nothing but answering pings, for the server to close the connection; the
/// close code.
async fn closed_by_server(ddp: &mut Ddp) -> Option<u16> {
    tokio::time::timeout(WAIT, async {
        loop {
            match ddp.socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("json");
                    if value["msg"] == "ping" {
                        ddp.send(json!({"msg": "pong"})).await;
                    }
                }
                Some(Ok(_)) => continue,
                other => panic!("connection ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("closed in time")
}

/// Removing a token closes the live connections that logged in with it at once, without
/// waiting for them to act, as Meteor does: logging the token out, changing one's password
/// (every other session of the account), removing or regenerating a personal access token.
/// Connections on other tokens stay.
#[tokio::test]
async fn removing_a_token_closes_its_live_connections() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let ddp_on = |token: &str| {
        let params = json!([{"resume": token}]);
        let server = &server;
        async move {
            let mut ddp = Ddp::connect(server).await;
            let reply = ddp.call("login", params).await;
            assert!(reply.get("error").is_none(), "{reply}");
            ddp
        }
    };

    // Logout of one token.
    let second = server.login("alice", common::PASSWORD).await;
    let mut on_second = ddp_on(&second.token).await;
    let mut on_first = ddp_on(&alice.token).await;
    server.post("logout", json!({}), Some(&second)).await.ok();
    assert_eq!(closed_by_server(&mut on_second).await, Some(4001));

    // A personal access token, removed and regenerated.
    for (name, change) in [
        ("removed", "users.removePersonalAccessToken"),
        ("regenerated", "users.regeneratePersonalAccessToken"),
    ] {
        let pat = server
            .post(
                "users.generatePersonalAccessToken",
                json!({"tokenName": name}),
                Some(&alice),
            )
            .await
            .ok()["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let mut on_pat = ddp_on(&pat).await;
        server
            .post(change, json!({"tokenName": name}), Some(&alice))
            .await
            .ok();
        assert_eq!(closed_by_server(&mut on_pat).await, Some(4001), "{name}");
    }

    // A new password ends every other session of the account, but not the caller's.
    let third = server.login("alice", common::PASSWORD).await;
    let mut on_third = ddp_on(&third.token).await;
    server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"currentPassword": sha256_hex(common::PASSWORD),
                            "newPassword": "An0ther-Pass-Word!"}}),
            Some(&alice),
        )
        .await
        .ok();
    assert_eq!(closed_by_server(&mut on_third).await, Some(4001));
    // The connection on the caller's own token still answers.
    let me = on_first.call("getUserRoles", json!([])).await;
    assert!(me.get("error").is_none(), "{me}");
    server.stop().await;
}
