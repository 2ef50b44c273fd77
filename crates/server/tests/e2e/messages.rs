//! chat.* (postMessage, sendMessage, update, delete, getMessage, react, search), history
//! paging, threads, read-only rooms, system messages and unread accounting, against upstream
//! Rocket.Chat 8.x.

use crate::common;

use common::{Auth, TestServer, assert_exact, id_of, say, subscription};
use serde_json::{Value, json};
use std::time::Duration;

/// `channels.create` / `groups.create` that must succeed; returns the room id.
async fn create_room(server: &TestServer, auth: &Auth, family: &str, body: Value) -> String {
    let key = if family == "groups" {
        "group"
    } else {
        "channel"
    };
    server
        .post(&format!("{family}.create"), body, Some(auth))
        .await
        .ok()[key]["_id"]
        .as_str()
        .expect("room _id")
        .to_owned()
}

async fn channel(server: &TestServer, auth: &Auth, name: &str, members: &[&str]) -> String {
    create_room(
        server,
        auth,
        "channels",
        json!({"name": name, "members": members}),
    )
    .await
}

/// (unread, userMentions, groupMentions, alert) of the caller's subscription.
async fn counters(server: &TestServer, auth: &Auth, rid: &str) -> (i64, i64, i64, bool) {
    let s = subscription(server, auth, rid).await;
    (
        s["unread"].as_i64().expect("unread"),
        s["userMentions"].as_i64().expect("userMentions"),
        s["groupMentions"].as_i64().expect("groupMentions"),
        s["alert"].as_bool().expect("alert"),
    )
}

async fn history_with(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    rid: &str,
    extra: &[(&str, &str)],
) -> Vec<Value> {
    let mut query = vec![("roomId", rid)];
    query.extend_from_slice(extra);
    server
        .get(&format!("{family}.history"), &query, Some(auth))
        .await
        .ok()["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["msg"].as_str().expect("msg").to_owned())
        .collect()
}

async fn channel_info(server: &TestServer, auth: &Auth, rid: &str) -> Value {
    server
        .get("channels.info", &[("roomId", rid)], Some(auth))
        .await
        .ok()["channel"]
        .clone()
}

async fn fetch(server: &TestServer, auth: &Auth, mid: &str) -> Value {
    server
        .get("chat.getMessage", &[("msgId", mid)], Some(auth))
        .await
        .ok()["message"]
        .clone()
}

fn dm_id(a: &Auth, b: &Auth) -> String {
    let mut ids = [a.user_id.clone(), b.user_id.clone()];
    ids.sort();
    ids.concat()
}

// ---------------------------------------------------------------------------------------------
// chat.postMessage

#[tokio::test]
async fn post_message_by_room_id_returns_the_upstream_shape() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "post-c", &[]).await;
    let reply = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "  hello world  "}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert!(body["ts"].is_i64(), "ts is epoch millis: {body}");
    assert_eq!(body["channel"], json!(rid));
    let message = &body["message"];
    assert!(
        message["_id"].as_str().is_some_and(|s| s.len() == 17),
        "{message}"
    );
    assert_eq!(message["rid"], json!(rid));
    assert_eq!(message["msg"], json!("hello world"), "text is trimmed");
    assert!(message["ts"].is_string());
    assert!(message["_updatedAt"].is_string());
    assert_eq!(
        message["u"],
        json!({"_id": alice.user_id, "username": "alice", "name": "User alice"})
    );
    assert_eq!(message["mentions"], json!([]));
    assert_eq!(message["channels"], json!([]));
    assert!(message.get("t").is_none(), "{message}");
    assert!(message.get("editedAt").is_none(), "{message}");

    let info = channel_info(&server, &alice, &rid).await;
    assert_eq!(info["msgs"], json!(1));
    assert_eq!(info["lastMessage"]["_id"], message["_id"]);
    assert!(info["lm"].is_string(), "{info}");
    server.stop().await;
}

#[tokio::test]
async fn post_message_by_hash_name_or_bare_name_joins_the_channel() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = channel(&server, &alice, "auto-join", &[]).await;

    let reply = server
        .post(
            "chat.postMessage",
            json!({"channel": "#auto-join", "text": "from bob"}),
            Some(&bob),
        )
        .await;
    let body = reply.ok();
    assert_eq!(
        body["channel"],
        json!("#auto-join"),
        "echoes the given channel"
    );
    assert_eq!(body["message"]["rid"], json!(rid));
    let sub = subscription(&server, &bob, &rid).await;
    assert_eq!(sub["rid"], json!(rid), "bob joined: {sub}");

    let reply = server
        .post(
            "chat.postMessage",
            json!({"channel": "auto-join", "text": "from carol"}),
            Some(&carol),
        )
        .await;
    assert_eq!(reply.ok()["channel"], json!("auto-join"));
    assert!(!subscription(&server, &carol, &rid).await.is_null());

    let history = history_with(&server, &alice, "channels", &rid, &[]).await;
    let kinds: Vec<(Option<&str>, &str)> = history
        .iter()
        .rev()
        .map(|m| (m["t"].as_str(), m["msg"].as_str().expect("msg")))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Some("uj"), "bob"),
            (None, "from bob"),
            (Some("uj"), "carol"),
            (None, "from carol"),
        ]
    );
    let info = channel_info(&server, &alice, &rid).await;
    assert_eq!(info["usersCount"], json!(3));
    assert_eq!(info["msgs"], json!(4));
    assert_eq!(info["lastMessage"]["msg"], json!("from carol"));
    server.stop().await;
}

#[tokio::test]
async fn post_message_to_at_username_opens_a_direct_room() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post(
            "chat.postMessage",
            json!({"channel": "@bob", "text": "psst"}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["channel"], json!("@bob"));
    let rid = dm_id(&alice, &bob);
    assert_eq!(body["message"]["rid"], json!(rid));
    // The recipient's hidden side is opened by the message, and every DM message is unread.
    let sub = subscription(&server, &bob, &rid).await;
    assert_eq!(sub["open"], json!(true));
    assert_eq!(sub["alert"], json!(true));
    assert_eq!(sub["unread"], json!(1));
    assert_eq!(sub["userMentions"], json!(0));
    server.stop().await;
}

#[tokio::test]
async fn post_message_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    assert_exact(
        &server
            .post(
                "chat.postMessage",
                json!({"channel": "#no-such-room", "text": "x"}),
                Some(&alice),
            )
            .await,
        400,
        json!({"success": false, "error": "[invalid-channel]", "errorType": "invalid-channel"}),
    );
    assert_exact(
        &server
            .post(
                "chat.postMessage",
                json!({"roomId": "no-such-room", "text": "x"}),
                Some(&alice),
            )
            .await,
        400,
        json!({"success": false, "error": "[invalid-channel]", "errorType": "invalid-channel"}),
    );
    let reply = server
        .post("chat.postMessage", json!({"text": "x"}), Some(&alice))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    let reply = server
        .post(
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": "x"}),
            None,
        )
        .await;
    reply.refused(401, "You must be logged in to do this.");

    // Private groups are not joined on the fly.
    let gid = create_room(&server, &alice, "groups", json!({"name": "post-g"})).await;
    let reply = server
        .post(
            "chat.postMessage",
            json!({"roomId": gid, "text": "let me in"}),
            Some(&bob),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    assert!(subscription(&server, &bob, &gid).await.is_null());
    let reply = server
        .get("groups.messages", &[("roomId", &gid)], Some(&alice))
        .await;
    assert_eq!(reply.ok()["total"], json!(0));
    server.stop().await;
}

#[tokio::test]
async fn message_size_limit() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides
            .push(("Message_MaxAllowedSize".into(), "10".into()));
    })
    .await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "sized", &[]).await;
    say(&server, &alice, &rid, "0123456789").await;
    assert_exact(
        &server
            .post(
                "chat.postMessage",
                json!({"roomId": rid, "text": "0123456789x"}),
                Some(&alice),
            )
            .await,
        400,
        json!({"success": false, "error": "error-message-size-exceeded"}),
    );
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "0123456789x"}}),
            Some(&alice),
        )
        .await;
    let body = reply.refused(
        400,
        "Message size exceeds Message_MaxAllowedSize [error-message-size-exceeded]",
    );
    assert_eq!(body["errorType"], json!("error-message-size-exceeded"));
    assert_eq!(channel_info(&server, &alice, &rid).await["msgs"], json!(1));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// chat.sendMessage

#[tokio::test]
async fn send_message_with_a_client_id() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "send-c", &[]).await;
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"_id": "client-chosen-id-1", "rid": rid, "msg": "with my id"}}),
            Some(&alice),
        )
        .await;
    let body = reply.ok().clone();
    assert_eq!(body.as_object().expect("body").len(), 2, "{body}");
    let message = &body["message"];
    assert_eq!(message["_id"], json!("client-chosen-id-1"));
    assert_eq!(message["rid"], json!(rid));
    assert_eq!(message["msg"], json!("with my id"));
    assert_eq!(message["u"]["_id"], json!(alice.user_id));
    let reply = server
        .get(
            "chat.getMessage",
            &[("msgId", "client-chosen-id-1")],
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["message"]["msg"], json!("with my id"));

    // Without an id the server makes one.
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "no id"}}),
            Some(&alice),
        )
        .await;
    assert!(
        reply.ok()["message"]["_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    server.stop().await;
}

#[tokio::test]
async fn send_message_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = channel(&server, &alice, "send-r", &[]).await;
    assert_exact(
        &server
            .post(
                "chat.sendMessage",
                json!({"message": {"rid": rid, "msg": "sys", "t": "uj"}}),
                Some(&alice),
            )
            .await,
        400,
        json!({"success": false, "error": "Cannot send system messages using 'chat.sendMessage'"}),
    );
    let reply = server
        .post("chat.sendMessage", json!({}), Some(&alice))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "x", "tshow": true}}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));

    // A private group the caller is not in.
    let gid = create_room(&server, &alice, "groups", json!({"name": "send-g"})).await;
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": gid, "msg": "intruder"}}),
            Some(&bob),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    let reply = server
        .get("groups.messages", &[("roomId", &gid)], Some(&alice))
        .await;
    assert_eq!(reply.ok()["total"], json!(0));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// unread accounting (notifyUsersOnMessage)

#[tokio::test]
async fn channel_unread_counts_follow_mentions_only() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = channel(&server, &alice, "unreads", &["bob", "carol"]).await;
    assert_eq!(counters(&server, &bob, &rid).await, (0, 0, 0, false));

    // A plain message alerts the others but is not counted as unread.
    say(&server, &alice, &rid, "just chatting").await;
    assert_eq!(counters(&server, &bob, &rid).await, (0, 0, 0, true));
    assert_eq!(counters(&server, &carol, &rid).await, (0, 0, 0, true));
    assert_eq!(
        counters(&server, &alice, &rid).await,
        (0, 0, 0, false),
        "the sender's own subscription is untouched"
    );

    // A user mention counts for that user only.
    let message = say(&server, &alice, &rid, "hey @bob look").await;
    assert_eq!(
        message["mentions"],
        json!([{"_id": bob.user_id, "username": "bob", "name": "User bob", "type": "user"}])
    );
    assert_eq!(counters(&server, &bob, &rid).await, (1, 1, 0, true));
    assert_eq!(counters(&server, &carol, &rid).await, (0, 0, 0, true));

    // @all counts for everyone but the sender, as a group mention.
    let message = say(&server, &alice, &rid, "@all meeting now").await;
    assert_eq!(
        message["mentions"],
        json!([{"_id": "all", "username": "all"}])
    );
    assert_eq!(counters(&server, &bob, &rid).await, (2, 1, 1, true));
    assert_eq!(counters(&server, &carol, &rid).await, (1, 0, 1, true));
    assert_eq!(counters(&server, &alice, &rid).await, (0, 0, 0, false));

    // Mentioning yourself counts nothing.
    say(&server, &carol, &rid, "note to @carol").await;
    assert_eq!(counters(&server, &carol, &rid).await, (1, 0, 1, true));

    // subscriptions.read clears everything.
    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob))
        .await
        .ok();
    assert_eq!(counters(&server, &bob, &rid).await, (0, 0, 0, false));
    assert_eq!(counters(&server, &carol, &rid).await, (1, 0, 1, true));
    server.stop().await;
}

#[tokio::test]
async fn direct_messages_count_every_message_as_unread() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await
        .ok()["room"]["rid"]
        .as_str()
        .expect("rid")
        .to_owned();
    say(&server, &alice, &rid, "one").await;
    say(&server, &alice, &rid, "two").await;
    assert_eq!(counters(&server, &bob, &rid).await, (2, 0, 0, true));
    say(&server, &alice, &rid, "three for @bob").await;
    assert_eq!(counters(&server, &bob, &rid).await, (3, 1, 0, true));
    assert_eq!(counters(&server, &alice, &rid).await, (0, 0, 0, false));
    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob))
        .await
        .ok();
    assert_eq!(counters(&server, &bob, &rid).await, (0, 0, 0, false));
    // The DM shows up with its last message.
    let reply = server.get("im.list", &[], Some(&bob)).await;
    assert_eq!(
        reply.ok()["ims"][0]["lastMessage"]["msg"],
        json!("three for @bob")
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// system messages

#[tokio::test]
async fn system_messages_count_in_msgs_but_are_never_the_last_message() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = channel(&server, &alice, "sysmsgs", &[]).await;
    let said = say(&server, &alice, &rid, "the only real message").await;

    server
        .post("channels.join", json!({"roomId": rid}), Some(&bob))
        .await
        .ok();
    server
        .post(
            "channels.invite",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post("channels.leave", json!({"roomId": rid}), Some(&bob))
        .await
        .ok();
    server
        .post(
            "channels.kick",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .ok();

    let history = history_with(&server, &alice, "channels", &rid, &[]).await;
    let kinds: Vec<(Option<&str>, &str)> = history
        .iter()
        .rev()
        .map(|m| (m["t"].as_str(), m["msg"].as_str().expect("msg")))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (None, "the only real message"),
            (Some("uj"), "bob"),
            (Some("au"), "carol"),
            (Some("ul"), "bob"),
            (Some("ru"), "carol"),
        ]
    );
    for m in history.iter().filter(|m| m["t"].is_string()) {
        assert_eq!(m["groupable"], json!(false), "{m}");
        assert_eq!(m["rid"], json!(rid));
    }

    let info = channel_info(&server, &alice, &rid).await;
    assert_eq!(info["msgs"], json!(5));
    assert_eq!(info["usersCount"], json!(1));
    assert_eq!(info["lastMessage"]["_id"], said["_id"]);
    // System messages do not touch the members' unread counters.
    assert_eq!(counters(&server, &alice, &rid).await, (0, 0, 0, false));

    // A room with only system messages has no last message.
    let quiet = channel(&server, &alice, "quiet", &[]).await;
    server
        .post("channels.join", json!({"roomId": quiet}), Some(&bob))
        .await
        .ok();
    let info = channel_info(&server, &alice, &quiet).await;
    assert_eq!(info["msgs"], json!(1));
    assert!(info.get("lastMessage").is_none(), "{info}");
    assert!(info.get("lm").is_none(), "{info}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// history paging

#[tokio::test]
async fn history_paging_with_count_offset_latest_oldest() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "paging", &[]).await;
    let mut sent = Vec::new();
    for i in 1..=25 {
        sent.push(say(&server, &alice, &rid, &format!("m{i}")).await);
    }
    // Default page: the 20 newest, newest first.
    let page = history_with(&server, &alice, "channels", &rid, &[]).await;
    assert_eq!(page.len(), 20);
    assert_eq!(page[0]["msg"], json!("m25"));
    assert_eq!(page[19]["msg"], json!("m6"));

    let page = history_with(
        &server,
        &alice,
        "channels",
        &rid,
        &[("count", "5"), ("offset", "5")],
    )
    .await;
    assert_eq!(texts(&page), vec!["m20", "m19", "m18", "m17", "m16"]);

    // latest / oldest are exclusive unless inclusive=true.
    let ts = |i: usize| sent[i - 1]["ts"].as_str().expect("ts").to_owned();
    let latest = ts(10);
    let oldest = ts(6);
    let page = history_with(
        &server,
        &alice,
        "channels",
        &rid,
        &[("latest", &latest), ("oldest", &oldest)],
    )
    .await;
    assert_eq!(texts(&page), vec!["m9", "m8", "m7"]);
    let page = history_with(
        &server,
        &alice,
        "channels",
        &rid,
        &[
            ("latest", &latest),
            ("oldest", &oldest),
            ("inclusive", "true"),
        ],
    )
    .await;
    assert_eq!(texts(&page), vec!["m10", "m9", "m8", "m7", "m6"]);
    let page = history_with(
        &server,
        &alice,
        "channels",
        &rid,
        &[("latest", &latest), ("count", "2")],
    )
    .await;
    assert_eq!(texts(&page), vec!["m9", "m8"]);
    let page = history_with(&server, &alice, "channels", &rid, &[("oldest", &ts(23))]).await;
    assert_eq!(texts(&page), vec!["m25", "m24"]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// threads

#[tokio::test]
async fn thread_replies_update_the_parent_and_hide_from_channel_history() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = channel(&server, &alice, "threads", &["bob"]).await;
    let parent = say(&server, &alice, &rid, "parent").await;
    let pid = id_of(&parent);

    let reply = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "first reply", "tmid": pid}),
            Some(&bob),
        )
        .await;
    let reply_msg = reply.ok()["message"].clone();
    assert_eq!(reply_msg["tmid"], json!(pid));
    assert!(reply_msg.get("tshow").is_none(), "{reply_msg}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "second reply", "tmid": pid}}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["message"]["tmid"], json!(pid));

    let reply = server
        .get("chat.getMessage", &[("msgId", &pid)], Some(&alice))
        .await;
    let parent = reply.ok()["message"].clone();
    assert_eq!(parent["tcount"], json!(2));
    assert!(parent["tlm"].is_string(), "{parent}");
    let mut replies: Vec<String> = parent["replies"]
        .as_array()
        .expect("replies")
        .iter()
        .map(|v| v.as_str().expect("uid").to_owned())
        .collect();
    replies.sort();
    let mut expected = vec![alice.user_id.clone(), bob.user_id.clone()];
    expected.sort();
    assert_eq!(replies, expected);

    // channels.history hides thread replies unless asked.
    let page = history_with(&server, &alice, "channels", &rid, &[]).await;
    assert_eq!(texts(&page), vec!["parent"]);
    let page = history_with(
        &server,
        &alice,
        "channels",
        &rid,
        &[("showThreadMessages", "true")],
    )
    .await;
    assert_eq!(texts(&page), vec!["second reply", "first reply", "parent"]);

    // Replies count in msgs but do not become the last message.
    let info = channel_info(&server, &alice, &rid).await;
    assert_eq!(info["msgs"], json!(3));
    assert_eq!(info["lastMessage"]["_id"], json!(pid));

    // groups.history shows them by default.
    let gid = create_room(&server, &alice, "groups", json!({"name": "g-threads"})).await;
    let gparent = say(&server, &alice, &gid, "g parent").await;
    server
        .post(
            "chat.postMessage",
            json!({"roomId": gid, "text": "g reply", "tmid": id_of(&gparent)}),
            Some(&alice),
        )
        .await
        .ok();
    let page = history_with(&server, &alice, "groups", &gid, &[]).await;
    assert_eq!(texts(&page), vec!["g reply", "g parent"]);
    let page = history_with(
        &server,
        &alice,
        "groups",
        &gid,
        &[("showThreadMessages", "false")],
    )
    .await;
    assert_eq!(texts(&page), vec!["g parent"]);
    server.stop().await;
}

#[tokio::test]
async fn thread_reply_shown_in_channel_with_tshow() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "tshow", &[]).await;
    let parent = say(&server, &alice, &rid, "parent").await;
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "also in channel", "tmid": id_of(&parent), "tshow": true}}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["message"]["tshow"], json!(true));
    let page = history_with(&server, &alice, "channels", &rid, &[]).await;
    assert_eq!(texts(&page), vec!["also in channel", "parent"]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// read-only rooms

#[tokio::test]
async fn read_only_room_refuses_non_owners() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(
        &server,
        &alice,
        "channels",
        json!({"name": "ro-room", "members": ["bob"], "readOnly": true}),
    )
    .await;
    assert_eq!(channel_info(&server, &bob, &rid).await["ro"], json!(true));
    // The owner may post (post-readonly).
    say(&server, &alice, &rid, "announcement").await;
    let reply = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "me too"}),
            Some(&bob),
        )
        .await;
    assert_exact(
        &reply,
        400,
        json!({"success": false, "error": "You can't send messages because the room is readonly."}),
    );
    let reply = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": "me too"}}),
            Some(&bob),
        )
        .await;
    reply.refused(400, "You can't send messages because the room is readonly.");
    let page = history_with(&server, &alice, "channels", &rid, &[]).await;
    assert_eq!(texts(&page), vec!["announcement"]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// chat.update

#[tokio::test]
async fn update_own_message() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "edits", &[]).await;
    let message = say(&server, &alice, &rid, "tyop").await;
    let mid = id_of(&message);
    let reply = server
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": "typo"}),
            Some(&alice),
        )
        .await;
    let updated = reply.ok()["message"].clone();
    assert_eq!(updated["_id"], json!(mid));
    assert_eq!(updated["msg"], json!("typo"));
    assert!(updated["editedAt"].is_string(), "{updated}");
    assert_eq!(
        updated["editedBy"],
        json!({"_id": alice.user_id, "username": "alice"})
    );
    assert_eq!(updated["ts"], message["ts"], "ts is unchanged");

    let reply = server
        .get("chat.getMessage", &[("msgId", &mid)], Some(&alice))
        .await;
    let stored = &reply.ok()["message"];
    assert_eq!(stored["msg"], json!("typo"));
    assert_eq!(stored["editedBy"]["username"], json!("alice"));
    // The last message follows the edit.
    let info = channel_info(&server, &alice, &rid).await;
    assert_eq!(info["lastMessage"]["msg"], json!("typo"));
    assert_eq!(info["msgs"], json!(1));
    server.stop().await;
}

#[tokio::test]
async fn update_refusals() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = channel(&server, &alice, "edit-r", &["bob"]).await;
    let other = channel(&server, &alice, "edit-other", &[]).await;
    let mid = id_of(&say(&server, &alice, &rid, "alice's words").await);

    let reply = server
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": "bob was here"}),
            Some(&bob),
        )
        .await;
    let body = reply.refused(
        400,
        "Message editing not allowed [error-action-not-allowed]",
    );
    assert_eq!(body["errorType"], json!("error-action-not-allowed"));

    server
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": "no-such-message", "text": "x"}),
            Some(&alice),
        )
        .await
        .refused(400, "No message found with the id of \"no-such-message\".");
    server
        .post(
            "chat.update",
            json!({"roomId": other, "msgId": mid, "text": "x"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The room id provided does not match where the message is from.",
        );
    let reply = server
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);

    // Admins hold edit-message.
    let reply = server
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": mid, "text": "moderated"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        reply.ok()["message"]["editedBy"]["username"],
        json!("admin")
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// chat.delete

#[tokio::test]
async fn delete_own_message() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "deletes", &[]).await;
    let first = say(&server, &alice, &rid, "keep").await;
    let mid = id_of(&say(&server, &alice, &rid, "oops").await);
    let reply = server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": mid}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["_id"], json!(mid));
    assert!(
        body["ts"]
            .as_str()
            .is_some_and(|s| s.parse::<i64>().is_ok()),
        "ts is Date.now() as a string: {body}"
    );
    assert_eq!(
        body["message"],
        json!({"_id": mid, "rid": rid, "u": {"_id": alice.user_id, "username": "alice"}})
    );

    assert_exact(
        &server
            .get("chat.getMessage", &[("msgId", &mid)], Some(&alice))
            .await,
        400,
        json!({"success": false}),
    );
    let page = history_with(&server, &alice, "channels", &rid, &[]).await;
    assert_eq!(texts(&page), vec!["keep"]);
    let info = channel_info(&server, &alice, &rid).await;
    assert_ne!(
        info.get("lastMessage").map(|m| m["_id"].clone()),
        Some(json!(mid)),
        "a deleted message is not the last message: {info}"
    );
    let _ = first;

    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": mid}),
            Some(&alice),
        )
        .await
        .refused(400, &format!("No message found with the id of \"{mid}\"."));
    server.stop().await;
}

#[tokio::test]
async fn delete_someone_elses_message() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = channel(&server, &alice, "del-r", &["bob"]).await;
    let other = channel(&server, &alice, "del-other", &[]).await;
    let mid = id_of(&say(&server, &alice, &rid, "alice's").await);

    let reply = server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": mid}),
            Some(&bob),
        )
        .await;
    let body = reply.refused(400, "Not allowed [error-action-not-allowed]");
    assert_eq!(body["errorType"], json!("error-action-not-allowed"));
    server
        .get("chat.getMessage", &[("msgId", &mid)], Some(&bob))
        .await
        .ok();

    server
        .post(
            "chat.delete",
            json!({"roomId": other, "msgId": mid}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The room id provided does not match where the message is from.",
        );

    // Admins hold delete-message.
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": mid}),
            Some(&admin),
        )
        .await
        .ok();
    assert_exact(
        &server
            .get("chat.getMessage", &[("msgId", &mid)], Some(&alice))
            .await,
        400,
        json!({"success": false}),
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// chat.getMessage

#[tokio::test]
async fn get_message_and_its_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = channel(&server, &alice, "getmsg", &[]).await;
    let sent = say(&server, &alice, &rid, "fetch me").await;
    let mid = id_of(&sent);
    // Public channel: readable by non-members too.
    let reply = server
        .get("chat.getMessage", &[("msgId", &mid)], Some(&bob))
        .await;
    let message = &reply.ok()["message"];
    assert_eq!(message["_id"], json!(mid));
    assert_eq!(message["msg"], json!("fetch me"));
    assert_eq!(message["rid"], json!(rid));
    assert_eq!(message["u"]["username"], json!("alice"));

    assert_exact(
        &server
            .get(
                "chat.getMessage",
                &[("msgId", "no-such-message")],
                Some(&alice),
            )
            .await,
        400,
        json!({"success": false}),
    );
    server
        .get("chat.getMessage", &[], Some(&alice))
        .await
        .refused(400, "The \"msgId\" query parameter must be provided.");

    let gid = create_room(&server, &alice, "groups", json!({"name": "getmsg-g"})).await;
    let secret = id_of(&say(&server, &alice, &gid, "secret").await);
    let reply = server
        .get("chat.getMessage", &[("msgId", &secret)], Some(&bob))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    assert!(reply.body.get("message").is_none());
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// chat.react

#[tokio::test]
async fn react_toggles_and_should_react() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = channel(&server, &alice, "reactions", &["bob"]).await;
    let mid = id_of(&say(&server, &alice, &rid, "react to me").await);

    assert_exact(
        &server
            .post(
                "chat.react",
                json!({"messageId": mid, "emoji": "smile"}),
                Some(&alice),
            )
            .await,
        200,
        json!({"success": true}),
    );
    assert_eq!(
        fetch(&server, &alice, &mid).await["reactions"],
        json!({":smile:": {"usernames": ["alice"]}})
    );
    server
        .post(
            "chat.react",
            json!({"messageId": mid, "emoji": ":smile:"}),
            Some(&bob),
        )
        .await
        .ok();
    assert_eq!(
        fetch(&server, &alice, &mid).await["reactions"],
        json!({":smile:": {"usernames": ["alice", "bob"]}})
    );
    // shouldReact=true when already reacted keeps it.
    server
        .post(
            "chat.react",
            json!({"messageId": mid, "emoji": "smile", "shouldReact": true}),
            Some(&bob),
        )
        .await
        .ok();
    assert_eq!(
        fetch(&server, &alice, &mid).await["reactions"],
        json!({":smile:": {"usernames": ["alice", "bob"]}})
    );
    // Toggling again removes it.
    server
        .post(
            "chat.react",
            json!({"messageId": mid, "emoji": "smile"}),
            Some(&alice),
        )
        .await
        .ok();
    assert_eq!(
        fetch(&server, &alice, &mid).await["reactions"],
        json!({":smile:": {"usernames": ["bob"]}})
    );
    // shouldReact=false when not reacted changes nothing.
    server
        .post(
            "chat.react",
            json!({"messageId": mid, "emoji": "smile", "shouldReact": false}),
            Some(&alice),
        )
        .await
        .ok();
    assert_eq!(
        fetch(&server, &alice, &mid).await["reactions"],
        json!({":smile:": {"usernames": ["bob"]}})
    );
    // The `reaction` alias, and a second emoji.
    server
        .post(
            "chat.react",
            json!({"messageId": mid, "reaction": ":thumbsup:"}),
            Some(&alice),
        )
        .await
        .ok();
    assert_eq!(
        fetch(&server, &alice, &mid).await["reactions"],
        json!({":smile:": {"usernames": ["bob"]}, ":thumbsup:": {"usernames": ["alice"]}})
    );
    // Removing the last reactions removes the keys.
    for (who, emoji) in [(&bob, "smile"), (&alice, "thumbsup")] {
        server
            .post(
                "chat.react",
                json!({"messageId": mid, "emoji": emoji, "shouldReact": false}),
                Some(who),
            )
            .await
            .ok();
    }
    let message = fetch(&server, &alice, &mid).await;
    assert!(
        message.get("reactions").is_none_or(|r| r == &json!({})),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn react_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "react-r", &[]).await;
    let mid = id_of(&say(&server, &alice, &rid, "x").await);
    let reply = server
        .post(
            "chat.react",
            json!({"messageId": "no-such-message", "emoji": "smile"}),
            Some(&alice),
        )
        .await;
    let body = reply.refused(
        400,
        "The provided \"messageId\" does not match any existing message. [error-message-not-found]",
    );
    assert_eq!(body["errorType"], json!("error-message-not-found"));
    server
        .post("chat.react", json!({"messageId": mid}), Some(&alice))
        .await
        .refused(
            400,
            "The required \"emoji\" param is missing. [error-emoji-param-not-provided]",
        );
    server.stop().await;
}

#[tokio::test]
#[ignore = "upstream setReaction refuses emoji that are neither standard nor custom ('Invalid emoji provided. [error-not-allowed]'); the server accepts any word"]
async fn react_with_an_unknown_emoji_is_refused() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel(&server, &alice, "react-u", &[]).await;
    let mid = id_of(&say(&server, &alice, &rid, "x").await);
    server
        .post(
            "chat.react",
            json!({"messageId": mid, "emoji": ":definitely_not_an_emoji_xyz:"}),
            Some(&alice),
        )
        .await
        .refused(400, "Invalid emoji provided. [error-not-allowed]");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// chat.search

#[tokio::test]
async fn search_finds_words_in_one_room() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = channel(&server, &alice, "searching", &[]).await;
    let elsewhere = channel(&server, &alice, "elsewhere", &[]).await;
    say(&server, &alice, &rid, "the quick brown fox").await;
    say(&server, &alice, &rid, "a lazy dog").await;
    let arabic = say(&server, &alice, &rid, "مرحبا بالعالم").await;
    say(&server, &alice, &elsewhere, "another fox").await;

    let search = |room: String, text: &'static str, who: &'static str| {
        let server = &server;
        let auth = if who == "alice" { &alice } else { &bob };
        async move {
            server
                .get(
                    "chat.search",
                    &[("roomId", &room), ("searchText", text)],
                    Some(auth),
                )
                .await
        }
    };

    let reply = search(rid.clone(), "fox", "alice").await;
    let body = reply.ok();
    assert_eq!(
        texts(body["messages"].as_array().expect("messages")),
        vec!["the quick brown fox"]
    );
    assert!(body.get("total").is_none(), "only messages: {body}");
    let reply = search(rid.clone(), "مرحبا", "alice").await;
    let found = reply.ok()["messages"].as_array().expect("messages").clone();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["_id"], arabic["_id"]);
    let reply = search(rid.clone(), "zebra", "alice").await;
    assert_eq!(reply.ok()["messages"], json!([]));
    // Non-members may search public channels.
    let reply = search(rid.clone(), "dog", "bob").await;
    assert_eq!(
        texts(reply.ok()["messages"].as_array().expect("messages")),
        vec!["a lazy dog"]
    );

    server
        .get("chat.search", &[("searchText", "fox")], Some(&alice))
        .await
        .refused(
            400,
            "The required \"roomId\" query param is missing. [error-roomId-param-not-provided]",
        );
    server
        .get("chat.search", &[("roomId", &rid)], Some(&alice))
        .await
        .refused(
            400,
            "The required \"searchText\" query param is missing. [error-searchText-param-not-provided]",
        );
    // A private group the caller is not in: a bare failure.
    let gid = create_room(&server, &alice, "groups", json!({"name": "search-g"})).await;
    say(&server, &alice, &gid, "hidden fox").await;
    assert_exact(
        &search(gid.clone(), "fox", "bob").await,
        400,
        json!({"success": false}),
    );
    let reply = search(gid, "fox", "alice").await;
    assert_eq!(
        texts(reply.ok()["messages"].as_array().expect("messages")),
        vec!["hidden fox"]
    );
    server.stop().await;
}

/// The message pipeline's first filter: with `Message_AllowBadWordsFilter` on, listed words
/// are masked in messages from REST and DDP alike, edits are not a way around it, and
/// whitelisted words stay.
#[tokio::test]
async fn the_bad_words_filter_masks_listed_words_on_every_path() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let unfiltered = say(&server, &ann, "GENERAL", "badword before").await;
    assert_eq!(unfiltered["msg"], json!("badword before"));
    for (id, value) in [
        ("Message_BadWordsFilterList", json!("badword, darn")),
        ("Message_BadWordsWhitelist", json!("darn")),
        ("Message_AllowBadWordsFilter", json!(true)),
    ] {
        server
            .post(
                &format!("settings/{id}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await
            .ok();
    }
    let posted = say(&server, &ann, "GENERAL", "a BadWord, badwords and darn").await;
    assert_eq!(posted["msg"], json!("a *******, badwords and darn"));

    let mut ddp = common::ddp::Ddp::connect(&server).await;
    ddp.login("ann").await;
    let sent = ddp
        .call(
            "sendMessage",
            json!([{"_id": "badWordsDdp000001", "rid": "GENERAL", "msg": "badword!"}]),
        )
        .await;
    assert_eq!(sent["result"]["msg"], json!("*******!"), "{sent}");
    let stored = server
        .get(
            "chat.getMessage",
            &[("msgId", "badWordsDdp000001")],
            Some(&ann),
        )
        .await;
    assert_eq!(stored.ok()["message"]["msg"], json!("*******!"));

    let edited = server
        .post(
            "chat.update",
            json!({"roomId": "GENERAL", "msgId": id_of(&unfiltered), "text": "now badword"}),
            Some(&ann),
        )
        .await;
    assert_eq!(edited.ok()["message"]["msg"], json!("now *******"));
    server.stop().await;
}

/// Attachments' `message_link`s, in order.
fn quote_links(message: &Value) -> Vec<Value> {
    message["attachments"]
        .as_array()
        .map(|items| items.iter().map(|a| a["message_link"].clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn links_to_messages_become_quotes_that_follow_edits() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    server
        .post(
            "settings/Site_Url",
            json!({"value": "http://chat.example"}),
            Some(&admin),
        )
        .await
        .ok();
    let rid = channel(&server, &admin, "quoting", &["bob"]).await;
    let first = id_of(&say(&server, &admin, &rid, "first words").await);
    let second = id_of(&say(&server, &admin, &rid, "second words").await);
    let link = |id: &str| format!("http://chat.example/channel/quoting?msg={id}");

    // A message sent with a link quotes what it links to, after its own attachments.
    let sent = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": format!("see {}", link(&first)),
                   "attachments": [{"title": "mine", "message_link": "https://example.org"}]}}),
            Some(&admin),
        )
        .await;
    let message = sent.ok()["message"].clone();
    assert_eq!(
        quote_links(&message),
        [json!("https://example.org"), json!(link(&first))]
    );
    let quote = &message["attachments"][1];
    assert_eq!(quote["text"], json!("first words"));
    assert_eq!(quote["author_name"], json!("admin"));
    assert_eq!(quote["author_icon"], json!("/avatar/admin"));
    assert_eq!(quote["attachments"], json!([]));
    assert!(quote["ts"].is_string());
    // The quoted link is not fetched for a preview.
    assert_eq!(message["urls"][0]["ignoreParse"], json!(true));

    // Editing drops the old quotes (even the one the client sent) and quotes the new links.
    let msg_id = id_of(&message);
    let edit = |text: String| {
        let server = &server;
        let admin = &admin;
        let body = json!({"roomId": rid, "msgId": msg_id, "text": text});
        async move { server.post("chat.update", body, Some(admin)).await }
    };
    let edited = edit(format!("now {}", link(&second))).await;
    assert_eq!(quote_links(&edited.ok()["message"]), [json!(link(&second))]);
    let edited = edit(format!("{} and {}", link(&first), link(&second))).await;
    assert_eq!(
        quote_links(&edited.ok()["message"]),
        [json!(link(&first)), json!(link(&second))]
    );
    let edited = edit("no links any more".to_owned()).await;
    assert_eq!(edited.ok()["message"]["attachments"], json!([]));

    // A message in a room the writer cannot read is not quoted.
    let secret_room =
        create_room(&server, &admin, "groups", json!({"name": "secret-quotes"})).await;
    let secret = id_of(&say(&server, &admin, &secret_room, "hidden").await);
    let sent = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": format!("peek {}", link(&secret))}),
            Some(&bob),
        )
        .await;
    assert!(sent.ok()["message"].get("attachments").is_none());
    server.stop().await;
}
