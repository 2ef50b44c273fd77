//! Marks on messages and rooms: pins, stars, mentions, threads, sync and deleted messages,
//! discussions, ignoring users, read receipts, favourites, unread marks and cleaning history,
//! against upstream Rocket.Chat 8.x.

use crate::common;

use common::{Auth, Reply, TestServer, assert_exact, create_room, id_of, say, subscription};
use serde_json::{Value, json};
use std::time::Duration;

const MESSAGE_NOT_FOUND: &str =
    "The provided \"messageId\" does not match any existing message. [error-message-not-found]";

async fn reply_in_thread(
    server: &TestServer,
    auth: &Auth,
    rid: &str,
    tmid: &str,
    text: &str,
) -> Value {
    tokio::time::sleep(Duration::from_millis(3)).await;
    server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": text, "tmid": tmid}),
            Some(auth),
        )
        .await
        .ok()["message"]
        .clone()
}

fn ts_of(message: &Value) -> String {
    message["ts"].as_str().expect("ts").to_owned()
}

async fn fetch(server: &TestServer, auth: &Auth, mid: &str) -> Value {
    server
        .get("chat.getMessage", &[("msgId", mid)], Some(auth))
        .await
        .ok()["message"]
        .clone()
}

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

fn texts(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|m| m["msg"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|m| m["_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn error_type(reply: &Reply) -> &str {
    reply.body["errorType"].as_str().unwrap_or_default()
}

/// A listing page: asserts `count`/`offset`/`total` and returns the items.
fn page(reply: &Reply, key: &str, offset: u64, total: u64) -> Value {
    let body = reply.ok();
    let items = body[key].clone();
    let len = items.as_array().expect("items").len();
    assert_eq!(body["count"], json!(len), "{body}");
    assert_eq!(body["offset"], json!(offset), "{body}");
    assert_eq!(body["total"], json!(total), "{body}");
    items
}

// ---------------------------------------------------------------------------------------------
// pins

#[tokio::test]
async fn pin_posts_a_quote_and_lists_pinned_messages() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "pins", &["bob"]).await;
    let original = say(&server, &bob, &rid, "pin me").await;
    let mid = id_of(&original);

    let reply = server
        .post("chat.pinMessage", json!({"messageId": mid}), Some(&alice))
        .await;
    let notice = reply.ok()["message"].clone();
    assert_eq!(notice["t"], json!("message_pinned"));
    assert_eq!(notice["rid"], json!(rid));
    assert_eq!(notice["u"]["_id"], json!(alice.user_id));
    let quote = &notice["attachments"][0];
    assert_eq!(quote["text"], json!("pin me"), "{notice}");
    assert_eq!(quote["author_name"], json!("bob"), "{notice}");
    assert!(quote["ts"].is_string(), "{notice}");

    let pinned = fetch(&server, &alice, &mid).await;
    assert_eq!(pinned["pinned"], json!(true));
    assert!(pinned["pinnedAt"].is_string(), "{pinned}");
    assert_eq!(
        pinned["pinnedBy"],
        json!({"_id": alice.user_id, "username": "alice"})
    );
    // The notice is in the room's history.
    let seen = history(&server, &alice, "channels", &rid).await;
    assert!(
        seen.iter()
            .any(|m| m["t"] == json!("message_pinned") && m["_id"] == notice["_id"]),
        "{seen:?}"
    );

    let reply = server
        .get("chat.getPinnedMessages", &[("roomId", &rid)], Some(&bob))
        .await;
    let items = page(&reply, "messages", 0, 1);
    assert_eq!(ids(&items), vec![mid.clone()]);

    let reply = server
        .post("chat.unPinMessage", json!({"messageId": mid}), Some(&alice))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert_eq!(fetch(&server, &alice, &mid).await["pinned"], json!(false));
    let reply = server
        .get("chat.getPinnedMessages", &[("roomId", &rid)], Some(&bob))
        .await;
    assert_eq!(page(&reply, "messages", 0, 0), json!([]));
    server.stop().await;
}

#[tokio::test]
async fn pin_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "pin-refusals", &["bob"]).await;
    let mid = id_of(&say(&server, &alice, &rid, "mine").await);

    server
        .post(
            "chat.pinMessage",
            json!({"messageId": "nope-nope-nope"}),
            Some(&alice),
        )
        .await
        .refused(400, MESSAGE_NOT_FOUND);
    // pin-message belongs to owners, moderators and admins.
    let reply = server
        .post("chat.pinMessage", json!({"messageId": mid}), Some(&bob))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(error_type(&reply), "not-authorized", "{}", reply.body);
    assert_eq!(fetch(&server, &alice, &mid).await["pinned"], json!(false));
    // Upstream asks for a subscription before the permission: an admin who is not in the
    // channel, or anyone else outside it, is told the message was not found.
    let admin = server.admin().await;
    for (route, outsider) in [
        ("chat.pinMessage", &admin),
        ("chat.pinMessage", &carol),
        ("chat.unPinMessage", &admin),
    ] {
        let reply = server
            .post(route, json!({"messageId": mid}), Some(outsider))
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(
            error_type(&reply),
            "error-invalid-message",
            "{}",
            reply.body
        );
    }
    assert_eq!(fetch(&server, &alice, &mid).await["pinned"], json!(false));

    // A private group's pins are invisible to outsiders.
    let gid = create_room(&server, &alice, "groups", "pin-group", &[]).await;
    server
        .get("chat.getPinnedMessages", &[("roomId", &gid)], Some(&carol))
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// stars and mentions

#[tokio::test]
async fn stars_are_per_user() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "stars", &["bob"]).await;
    let mid = id_of(&say(&server, &alice, &rid, "star me").await);
    say(&server, &alice, &rid, "not me").await;

    let reply = server
        .post("chat.starMessage", json!({"messageId": mid}), Some(&bob))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert_eq!(
        fetch(&server, &bob, &mid).await["starred"],
        json!([{"_id": bob.user_id}])
    );
    let reply = server
        .get("chat.getStarredMessages", &[("roomId", &rid)], Some(&bob))
        .await;
    assert_eq!(ids(&page(&reply, "messages", 0, 1)), vec![mid.clone()]);
    let reply = server
        .get("chat.getStarredMessages", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(page(&reply, "messages", 0, 0), json!([]));

    // Someone outside the room cannot star in it.
    let reply = server
        .post("chat.starMessage", json!({"messageId": mid}), Some(&carol))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));

    let reply = server
        .post("chat.unStarMessage", json!({"messageId": mid}), Some(&bob))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    let reply = server
        .get("chat.getStarredMessages", &[("roomId", &rid)], Some(&bob))
        .await;
    assert_eq!(page(&reply, "messages", 0, 0), json!([]));
    assert!(
        fetch(&server, &bob, &mid)
            .await
            .get("starred")
            .is_none_or(|s| s == &json!([]))
    );
    server
        .post(
            "chat.starMessage",
            json!({"messageId": "nope-nope-nope"}),
            Some(&bob),
        )
        .await
        .refused(400, MESSAGE_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn mentioned_messages_and_mentions_by_channel() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "mentions", &["bob"]).await;
    let first = id_of(&say(&server, &alice, &rid, "hey @bob").await);
    say(&server, &alice, &rid, "nobody here").await;
    let second = id_of(&say(&server, &alice, &rid, "@bob again").await);

    let reply = server
        .get("chat.getMentionedMessages", &[("roomId", &rid)], Some(&bob))
        .await;
    let items = page(&reply, "messages", 0, 2);
    assert_eq!(ids(&items), vec![second.clone(), first.clone()]);
    let reply = server
        .get(
            "chat.getMentionedMessages",
            &[("roomId", &rid)],
            Some(&alice),
        )
        .await;
    assert_eq!(page(&reply, "messages", 0, 0), json!([]));

    let reply = server
        .get(
            "channels.getAllUserMentionsByChannel",
            &[("roomId", &rid)],
            Some(&bob),
        )
        .await;
    let items = page(&reply, "mentions", 0, 2);
    assert_eq!(texts(&items), vec!["@bob again", "hey @bob"]);
    let reply = server
        .get(
            "channels.getAllUserMentionsByChannel",
            &[("roomId", &rid), ("count", "1"), ("offset", "1")],
            Some(&bob),
        )
        .await;
    let items = page(&reply, "mentions", 1, 2);
    assert_eq!(texts(&items), vec!["hey @bob"]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// threads

#[tokio::test]
async fn thread_messages_threads_list_and_follow() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "threads", &["bob", "carol"]).await;
    let parent = say(&server, &alice, &rid, "a thread about cats").await;
    let pid = id_of(&parent);
    let other = say(&server, &alice, &rid, "a thread about dogs").await;
    let oid = id_of(&other);
    say(&server, &alice, &rid, "no thread").await;
    let r1 = reply_in_thread(&server, &bob, &rid, &pid, "reply one").await;
    assert_eq!(r1["tmid"], json!(pid));
    reply_in_thread(&server, &alice, &rid, &oid, "dog reply").await;
    reply_in_thread(&server, &alice, &rid, &pid, "reply two").await;

    // Replies, oldest first.
    let reply = server
        .get("chat.getThreadMessages", &[("tmid", &pid)], Some(&carol))
        .await;
    let items = page(&reply, "messages", 0, 2);
    assert_eq!(texts(&items), vec!["reply one", "reply two"]);
    for m in items.as_array().expect("array") {
        assert_eq!(m["tmid"], json!(pid));
    }
    let reply = server
        .get(
            "chat.getThreadMessages",
            &[("tmid", &pid), ("count", "1"), ("offset", "1")],
            Some(&carol),
        )
        .await;
    assert_eq!(texts(&page(&reply, "messages", 1, 2)), vec!["reply two"]);

    // Thread roots, most recent reply first.
    let reply = server
        .get("chat.getThreadsList", &[("rid", &rid)], Some(&carol))
        .await;
    let threads = page(&reply, "threads", 0, 2);
    assert_eq!(ids(&threads), vec![pid.clone(), oid.clone()]);
    assert_eq!(threads[0]["tcount"], json!(2));
    assert!(threads[0]["tlm"].is_string(), "{threads}");
    let reply = server
        .get(
            "chat.getThreadsList",
            &[("rid", &rid), ("text", "CATS")],
            Some(&carol),
        )
        .await;
    assert_eq!(ids(&page(&reply, "threads", 0, 1)), vec![pid.clone()]);

    // Following: repliers follow; carol does not until she asks.
    let reply = server
        .get(
            "chat.getThreadsList",
            &[("rid", &rid), ("type", "following")],
            Some(&carol),
        )
        .await;
    assert_eq!(page(&reply, "threads", 0, 0), json!([]));
    let reply = server
        .get(
            "chat.getThreadsList",
            &[("rid", &rid), ("type", "following")],
            Some(&bob),
        )
        .await;
    assert_eq!(ids(&page(&reply, "threads", 0, 1)), vec![pid.clone()]);

    let reply = server
        .post("chat.followMessage", json!({"mid": pid}), Some(&carol))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    let replies = fetch(&server, &carol, &pid).await["replies"].clone();
    assert!(
        replies
            .as_array()
            .expect("replies")
            .contains(&json!(carol.user_id)),
        "{replies}"
    );
    let reply = server
        .get(
            "chat.getThreadsList",
            &[("rid", &rid), ("type", "following")],
            Some(&carol),
        )
        .await;
    assert_eq!(ids(&page(&reply, "threads", 0, 1)), vec![pid.clone()]);

    let reply = server
        .post("chat.unfollowMessage", json!({"mid": pid}), Some(&bob))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    let mut replies: Vec<String> =
        serde_json::from_value(fetch(&server, &bob, &pid).await["replies"].clone())
            .expect("replies");
    replies.sort();
    let mut expected = vec![alice.user_id.clone(), carol.user_id.clone()];
    expected.sort();
    assert_eq!(replies, expected);
    server.stop().await;
}

#[tokio::test]
async fn thread_refusals_and_sync() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let carol = server.new_user("carol").await;
    let gid = create_room(&server, &alice, "groups", "g-threads", &[]).await;
    let parent = say(&server, &alice, &gid, "secret thread").await;
    let pid = id_of(&parent);
    let r1 = reply_in_thread(&server, &alice, &gid, &pid, "secret reply").await;

    server
        .get(
            "chat.getThreadMessages",
            &[("tmid", "no-such-message")],
            Some(&alice),
        )
        .await
        .refused(400, "Invalid Message [error-invalid-message]");
    server
        .get("chat.getThreadMessages", &[("tmid", &pid)], Some(&carol))
        .await
        .refused(400, "Not Allowed [error-not-allowed]");
    server
        .get("chat.getThreadsList", &[("rid", &gid)], Some(&carol))
        .await
        .refused(400, "Not Allowed [error-not-allowed]");
    let reply = server
        .post(
            "chat.followMessage",
            json!({"mid": "no-such-message"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(error_type(&reply), "error-invalid-message");
    // A message in a room the caller may not see: not allowed, as upstream.
    server
        .post("chat.followMessage", json!({"mid": pid}), Some(&carol))
        .await
        .refused(400, "not-allowed [error-not-allowed]");

    // syncThreadMessages: replies changed after a time.
    let reply = server
        .get(
            "chat.syncThreadMessages",
            &[("tmid", &pid), ("updatedSince", &ts_of(&parent))],
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(ids(&body["messages"]["update"]), vec![id_of(&r1)]);
    assert_eq!(body["messages"]["remove"], json!([]));
    let reply = server
        .get(
            "chat.syncThreadMessages",
            &[("tmid", &pid), ("updatedSince", "yesterday-ish")],
            Some(&alice),
        )
        .await;
    // Upstream's schema: `updatedSince` must be an ISO date-time.
    reply.refused(400, "must match format \"iso-date-time\" [invalid-params]");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// syncMessages, getDeletedMessages

#[tokio::test]
async fn sync_messages_returns_updated_and_deleted_since_a_date() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "sync", &[]).await;
    let cutoff = say(&server, &alice, &rid, "before").await;
    let kept = id_of(&say(&server, &alice, &rid, "kept").await);
    let gone = id_of(&say(&server, &alice, &rid, "gone").await);
    tokio::time::sleep(Duration::from_millis(3)).await;
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": gone}),
            Some(&alice),
        )
        .await
        .ok();

    let reply = server
        .get(
            "chat.syncMessages",
            &[("roomId", &rid), ("lastUpdate", &ts_of(&cutoff))],
            Some(&alice),
        )
        .await;
    let result = reply.ok()["result"].clone();
    let updated = ids(&result["updated"]);
    assert!(updated.contains(&kept), "{result}");
    assert!(!updated.contains(&id_of(&cutoff)), "{result}");
    assert!(!updated.contains(&gone), "{result}");
    let deleted = result["deleted"].as_array().expect("deleted");
    assert_eq!(deleted.len(), 1, "{result}");
    assert_eq!(deleted[0]["_id"], json!(gone));
    assert!(deleted[0]["_deletedAt"].is_string(), "{result}");

    // An edit after the cutoff shows up as updated.
    let later = ts_of(&fetch(&server, &alice, &kept).await);
    tokio::time::sleep(Duration::from_millis(3)).await;
    server
        .post(
            "chat.update",
            json!({"roomId": rid, "msgId": id_of(&cutoff), "text": "before, edited"}),
            Some(&alice),
        )
        .await
        .ok();
    let reply = server
        .get(
            "chat.syncMessages",
            &[("roomId", &rid), ("lastUpdate", &later)],
            Some(&alice),
        )
        .await;
    let result = reply.ok()["result"].clone();
    let updated = ids(&result["updated"]);
    assert!(updated.contains(&id_of(&cutoff)), "{result}");

    server
        .get("chat.syncMessages", &[("lastUpdate", &later)], Some(&alice))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");
    server
        .get("chat.syncMessages", &[("roomId", &rid)], Some(&alice))
        .await
        .refused(
            400,
            "The \"type\" or \"lastUpdate\" parameters must be provided [error-param-required]",
        );
    server
        .get(
            "chat.syncMessages",
            &[("roomId", &rid), ("lastUpdate", "not a date")],
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The \"lastUpdate\" query parameter must be a valid date [error-lastUpdate-param-invalid]",
        );
    // No access: upstream's getMessageHistory refuses before anything else.
    let carol = server.new_user("carol").await;
    let gid = create_room(&server, &alice, "groups", "sync-group", &[]).await;
    let reply = server
        .get(
            "chat.syncMessages",
            &[("roomId", &gid), ("lastUpdate", &later)],
            Some(&carol),
        )
        .await;
    assert_eq!(
        reply.refused(400, "Not allowed [error-not-allowed]")["errorType"],
        json!("error-not-allowed")
    );
    server.stop().await;
}

#[tokio::test]
async fn sync_messages_pages_updates_and_deletions_by_cursor() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "cursor", &[]).await;
    let mut said = Vec::new();
    for text in ["one", "two", "three"] {
        said.push(id_of(&say(&server, &alice, &rid, text).await));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let page = |params: Vec<(&'static str, String)>| {
        let server = &server;
        let alice = &alice;
        let rid = rid.clone();
        async move {
            let mut query: Vec<(&str, String)> = vec![("roomId", rid)];
            query.extend(params);
            let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            server.get("chat.syncMessages", &pairs, Some(alice)).await
        }
    };
    // From the beginning, two at a time, oldest change first.
    let first = page(vec![
        ("type", "UPDATED".into()),
        ("next", "0".into()),
        ("count", "2".into()),
    ])
    .await;
    let result = first.ok()["result"].clone();
    let updated = ids(&result["updated"]);
    assert_eq!(updated.len(), 2, "{result}");
    assert!(
        result["deleted"].as_array().is_some_and(Vec::is_empty),
        "{result}"
    );
    let next = result["cursor"]["next"]
        .as_str()
        .expect("next cursor")
        .to_owned();
    assert!(result["cursor"]["previous"].is_string(), "{result}");
    let rest = page(vec![
        ("type", "UPDATED".into()),
        ("next", next.clone()),
        ("count", "2".into()),
    ])
    .await;
    let result = rest.ok()["result"].clone();
    let more = ids(&result["updated"]);
    assert!(!more.is_empty() && more.len() <= 2, "{result}");
    assert!(more.iter().all(|id| !updated.contains(id)), "{result}");
    assert_eq!(result["cursor"]["next"], Value::Null, "{result}");
    assert!(more.contains(&said[2]), "{result}");
    // Backwards from the newest: newest first.
    let back = page(vec![
        ("type", "UPDATED".into()),
        ("previous", "99999999999999".into()),
        ("count", "1".into()),
    ])
    .await;
    let result = back.ok()["result"].clone();
    assert_eq!(ids(&result["updated"]), vec![said[2].clone()], "{result}");
    assert!(result["cursor"]["previous"].is_string(), "{result}");
    assert!(result["cursor"]["next"].is_string(), "{result}");

    // Deletions have their own cursor.
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": said[0]}),
            Some(&alice),
        )
        .await
        .ok();
    let gone = page(vec![("type", "DELETED".into()), ("next", "0".into())]).await;
    let result = gone.ok()["result"].clone();
    let deleted = result["deleted"].as_array().expect("deleted").clone();
    assert_eq!(deleted.len(), 1, "{result}");
    assert_eq!(deleted[0]["_id"], json!(said[0]));
    assert_eq!(result["updated"], json!([]), "{result}");
    assert_eq!(result["cursor"]["next"], Value::Null, "{result}");

    // What upstream refuses, in its order.
    page(vec![
        ("type", "UPDATED".into()),
        ("next", "0".into()),
        ("lastUpdate", "2020-01-01T00:00:00.000Z".into()),
    ])
    .await
    .refused(
        400,
        "The attributes \"next\", \"previous\" and \"lastUpdate\" cannot be used together [error-cursor-and-lastUpdate-conflict]",
    );
    page(vec![
        ("type", "UPDATED".into()),
        ("next", "0".into()),
        ("previous", "5".into()),
    ])
    .await
    .refused(
        400,
        "You cannot provide both \"next\" and \"previous\" parameters [error-cursor-conflict]",
    );
    page(vec![
        ("next", "0".into()),
        ("lastUpdate", "2020-01-01T00:00:00.000Z".into()),
    ])
    .await
    .refused(
        400,
        "The \"type\" parameter is required when using the \"next\" or \"previous\" parameters [error-type-param-required]",
    );
    page(vec![("type", "CHANGED".into()), ("next", "0".into())])
        .await
        .refused(
            400,
            "must be equal to one of the allowed values [invalid-params]",
        );
    page(vec![("type", "UPDATED".into()), ("next", "soon".into())])
        .await
        .refused(400, "Invalid Date");
    // A type without a cursor answers nothing, as upstream's route does.
    let bare = page(vec![("type", "UPDATED".into())]).await;
    assert_eq!(bare.ok()["result"], json!({"updated": [], "deleted": []}));
    server.stop().await;
}

#[tokio::test]
async fn get_deleted_messages_after_chat_delete() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "trash", &[]).await;
    let since = say(&server, &alice, &rid, "start").await;
    let a = id_of(&say(&server, &alice, &rid, "a").await);
    let b = id_of(&say(&server, &alice, &rid, "b").await);
    tokio::time::sleep(Duration::from_millis(3)).await;

    let reply = server
        .get(
            "chat.getDeletedMessages",
            &[("roomId", &rid), ("since", &ts_of(&since))],
            Some(&alice),
        )
        .await;
    assert_eq!(page(&reply, "messages", 0, 0), json!([]));

    for mid in [&a, &b] {
        server
            .post(
                "chat.delete",
                json!({"roomId": rid, "msgId": mid}),
                Some(&alice),
            )
            .await
            .ok();
    }
    let reply = server
        .get(
            "chat.getDeletedMessages",
            &[("roomId", &rid), ("since", &ts_of(&since))],
            Some(&alice),
        )
        .await;
    let items = page(&reply, "messages", 0, 2);
    let mut got = ids(&items);
    got.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(got, expected);
    // Only _id per message.
    for m in items.as_array().expect("array") {
        assert_eq!(m.as_object().map(|o| o.len()), Some(1), "{m}");
    }
    let reply = server
        .get(
            "chat.getDeletedMessages",
            &[("roomId", &rid), ("since", &ts_of(&since)), ("count", "1")],
            Some(&alice),
        )
        .await;
    assert_eq!(
        page(&reply, "messages", 0, 2).as_array().map(Vec::len),
        Some(1)
    );
    let reply = server
        .get("chat.getDeletedMessages", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// discussions

#[tokio::test]
async fn create_discussion_posts_a_notice_with_drid() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "parent", &["bob"]).await;
    let source = say(&server, &bob, &rid, "let's discuss this").await;

    let reply = server
        .post(
            "rooms.createDiscussion",
            json!({
                "prid": rid,
                "t_name": "Side Talk",
                "pmid": id_of(&source),
                "reply": "first words",
                "users": ["bob"],
            }),
            Some(&alice),
        )
        .await;
    let discussion = reply.ok()["discussion"].clone();
    let drid = id_of(&discussion);
    // Clients read the new room's id from `rid`, as upstream's createRoom answers it.
    assert_eq!(discussion["rid"], json!(drid));
    assert_eq!(discussion["prid"], json!(rid));
    assert_eq!(discussion["fname"], json!("Side Talk"));
    assert_eq!(discussion["t"], json!("c"));

    // The notice in the parent.
    let seen = history(&server, &alice, "channels", &rid).await;
    let notice = seen
        .iter()
        .find(|m| m["t"] == json!("discussion-created"))
        .expect("discussion-created notice");
    assert_eq!(notice["drid"], json!(drid));
    assert_eq!(notice["msg"], json!("Side Talk"));
    assert_eq!(notice["u"]["_id"], json!(alice.user_id));
    // The discussion quotes the message it started from (upstream does not mark the source
    // message itself).
    let inside = history(&server, &alice, "channels", &drid).await;
    assert!(
        inside
            .iter()
            .any(|m| m["attachments"][0]["text"] == json!("let's discuss this")),
        "{inside:?}"
    );
    // Members and the first reply.
    assert_eq!(subscription(&server, &bob, &drid).await["rid"], json!(drid));
    let inside = history(&server, &alice, "channels", &drid).await;
    assert!(
        inside.iter().any(|m| m["msg"] == json!("first words")),
        "{inside:?}"
    );

    // Listing from the parent: rooms.getDiscussions and chat.getDiscussions.
    let reply = server
        .get("rooms.getDiscussions", &[("roomId", &rid)], Some(&bob))
        .await;
    let items = page(&reply, "discussions", 0, 1);
    assert_eq!(ids(&items), vec![drid.clone()]);
    let reply = server
        .get("chat.getDiscussions", &[("roomId", &rid)], Some(&bob))
        .await;
    let items = page(&reply, "messages", 0, 1);
    assert_eq!(items[0]["drid"], json!(drid));
    let reply = server
        .get(
            "chat.getDiscussions",
            &[("roomId", &rid), ("text", "nothing like it")],
            Some(&bob),
        )
        .await;
    assert_eq!(page(&reply, "messages", 0, 0), json!([]));
    server.stop().await;
}

#[tokio::test]
async fn create_discussion_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "parent-2", &[]).await;
    server
        .post(
            "rooms.createDiscussion",
            json!({"t_name": "x"}),
            Some(&alice),
        )
        .await
        .refused(400, "Body parameter \"prid\" is required.");
    server
        .post("rooms.createDiscussion", json!({"prid": rid}), Some(&alice))
        .await
        .refused(400, "Body parameter \"t_name\" is required.");
    // A private group's outsider cannot open a discussion in it.
    let gid = create_room(&server, &alice, "groups", "g-parent", &[]).await;
    let reply = server
        .post(
            "rooms.createDiscussion",
            json!({"prid": gid, "t_name": "sneaky"}),
            Some(&carol),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    // A discussion of a group is private.
    let reply = server
        .post(
            "rooms.createDiscussion",
            json!({"prid": gid, "t_name": "inner"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["discussion"]["t"], json!("p"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// ignoreUser, read receipts

#[tokio::test]
async fn ignore_user_toggles_the_subscription_list() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "quiet", &["bob"]).await;

    let reply = server
        .get(
            "chat.ignoreUser",
            &[
                ("rid", &rid),
                ("userId", &alice.user_id),
                ("ignore", "true"),
            ],
            Some(&bob),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert_eq!(
        subscription(&server, &bob, &rid).await["ignored"],
        json!([alice.user_id])
    );
    let reply = server
        .get(
            "chat.ignoreUser",
            &[
                ("rid", &rid),
                ("userId", &alice.user_id),
                ("ignore", "false"),
            ],
            Some(&bob),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert!(
        subscription(&server, &bob, &rid)
            .await
            .get("ignored")
            .is_none_or(|i| i == &json!([]))
    );
    // Someone not in the room cannot ignore in it.
    let reply = server
        .get(
            "chat.ignoreUser",
            &[
                ("rid", &rid),
                ("userId", &alice.user_id),
                ("ignore", "true"),
            ],
            Some(&carol),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(error_type(&reply), "error-invalid-subscription");
    server.stop().await;
}

#[tokio::test]
async fn message_read_receipts() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "receipts", &[]).await;
    let mid = id_of(&say(&server, &alice, &rid, "read me").await);
    let reply = server
        .get(
            "chat.getMessageReadReceipts",
            &[("messageId", &mid)],
            Some(&alice),
        )
        .await;
    assert!(reply.ok()["receipts"].is_array(), "{}", reply.body);
    server
        .get("chat.getMessageReadReceipts", &[], Some(&alice))
        .await
        .refused(400, "The required 'messageId' param is missing.");
    server.stop().await;
}

#[tokio::test]
async fn read_receipts_name_the_members_who_read_the_room_since_the_message() {
    let server = TestServer::start_with(|config| {
        config
            .setting_overrides
            .push(("Message_Read_Receipt_Enabled".to_owned(), "true".to_owned()));
    })
    .await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    server.new_user("carol").await;
    let rid = create_room(
        &server,
        &alice,
        "channels",
        "receipts-on",
        &["bob", "carol"],
    )
    .await;
    let mid = id_of(&say(&server, &alice, &rid, "read me").await);
    async fn receipts_of(server: &TestServer, auth: &Auth, mid: &str) -> Value {
        server
            .get(
                "chat.getMessageReadReceipts",
                &[("messageId", mid)],
                Some(auth),
            )
            .await
            .ok()["receipts"]
            .clone()
    }
    // The author's own read does not count; nobody else has read yet.
    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&alice))
        .await
        .ok();
    assert_eq!(receipts_of(&server, &alice, &mid).await, json!([]));

    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob))
        .await
        .ok();
    let list = receipts_of(&server, &alice, &mid).await;
    let list = list.as_array().expect("receipts");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["user"]["username"], json!("bob"));
    assert_eq!(list[0]["userId"], list[0]["user"]["_id"]);
    assert_eq!(list[0]["messageId"], json!(mid));
    assert_eq!(list[0]["roomId"], json!(rid));
    assert!(list[0]["ts"].is_string());
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// rooms.favorite, subscriptions.unread

#[tokio::test]
async fn favorite_sets_f_on_the_subscription() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "faves", &[]).await;

    let reply = server
        .post(
            "rooms.favorite",
            json!({"roomId": rid, "favorite": true}),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert_eq!(subscription(&server, &alice, &rid).await["f"], json!(true));
    let reply = server
        .post(
            "rooms.favorite",
            json!({"roomName": "faves", "favorite": false}),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert!(
        subscription(&server, &alice, &rid)
            .await
            .get("f")
            .is_none_or(|f| f == &json!(false))
    );
    server
        .post("rooms.favorite", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(400, "The 'favorite' param is required");
    let reply = server
        .post(
            "rooms.favorite",
            json!({"roomId": rid, "favorite": true}),
            Some(&bob),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(error_type(&reply), "error-invalid-subscription");
    server.stop().await;
}

#[tokio::test]
async fn subscriptions_unread_sets_alert_again() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "unread-me", &["bob"]).await;
    let first = say(&server, &alice, &rid, "one").await;
    say(&server, &alice, &rid, "two").await;
    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob))
        .await
        .ok();
    let sub = subscription(&server, &bob, &rid).await;
    assert_eq!(sub["alert"], json!(false));
    assert_eq!(sub["unread"], json!(0));

    let reply = server
        .post("subscriptions.unread", json!({"roomId": rid}), Some(&bob))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert_eq!(
        subscription(&server, &bob, &rid).await["alert"],
        json!(true)
    );

    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob))
        .await
        .ok();
    let reply = server
        .post(
            "subscriptions.unread",
            json!({"firstUnreadMessage": {"_id": id_of(&first)}}),
            Some(&bob),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert_eq!(
        subscription(&server, &bob, &rid).await["alert"],
        json!(true)
    );

    let reply = server
        .post("subscriptions.unread", json!({}), Some(&bob))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    server.stop().await;
}

#[tokio::test]
async fn subscriptions_unread_from_a_message_moves_last_seen_back_to_it() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "unread-from", &["bob"]).await;
    say(&server, &alice, &rid, "zero").await;
    let first = say(&server, &alice, &rid, "one").await;
    say(&server, &alice, &rid, "two").await;
    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob))
        .await
        .ok();
    let read = subscription(&server, &bob, &rid).await;
    assert!(read["ls"].as_str().expect("ls") > ts_of(&first).as_str());

    let reply = server
        .post(
            "subscriptions.unread",
            json!({"firstUnreadMessage": {"_id": id_of(&first)}}),
            Some(&bob),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    let unread = subscription(&server, &bob, &rid).await;
    assert_eq!(unread["ls"], json!(ts_of(&first)));
    assert_eq!(unread["alert"], json!(true));

    // One's own message is refused, as upstream's `unreadMessages` does.
    let own = say(&server, &bob, &rid, "mine").await;
    let reply = server
        .post(
            "subscriptions.unread",
            json!({"firstUnreadMessage": {"_id": id_of(&own)}}),
            Some(&bob),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["errorType"], json!("error-action-not-allowed"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// rooms.cleanHistory

#[tokio::test]
async fn clean_history_deletes_a_range_for_admins() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;
    let rid = create_room(&server, &alice, "channels", "janitor", &["admin"]).await;
    let m1 = say(&server, &alice, &rid, "one").await;
    let m2 = say(&server, &alice, &rid, "two").await;
    let m3 = say(&server, &alice, &rid, "three").await;

    // clean-channel-history is admin-only by default: even the owner is refused.
    let reply = server
        .post(
            "rooms.cleanHistory",
            json!({"roomId": rid, "oldest": ts_of(&m1), "latest": ts_of(&m2), "inclusive": true}),
            Some(&alice),
        )
        .await;
    reply.refused(400, "Not allowed [error-not-allowed]");

    let reply = server
        .post(
            "rooms.cleanHistory",
            json!({"roomId": rid, "oldest": ts_of(&m1), "latest": ts_of(&m2), "inclusive": true}),
            Some(&admin),
        )
        .await;
    assert_exact(
        &reply,
        200,
        json!({"_id": rid, "count": 2, "success": true}),
    );
    let left: Vec<String> = history(&server, &alice, "channels", &rid)
        .await
        .iter()
        .filter(|m| m.get("t").is_none())
        .map(|m| m["msg"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(left, vec!["three"]);
    let reply = server
        .get("chat.getMessage", &[("msgId", &id_of(&m1))], Some(&alice))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(
        fetch(&server, &alice, &id_of(&m3)).await["msg"],
        json!("three")
    );

    // Exclusive bounds keep the edges.
    let a = say(&server, &alice, &rid, "a").await;
    say(&server, &alice, &rid, "b").await;
    let c = say(&server, &alice, &rid, "c").await;
    let reply = server
        .post(
            "rooms.cleanHistory",
            json!({"roomId": rid, "oldest": ts_of(&a), "latest": ts_of(&c)}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["count"], json!(1));
    let left: Vec<String> = history(&server, &alice, "channels", &rid)
        .await
        .iter()
        .filter(|m| m.get("t").is_none())
        .map(|m| m["msg"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(left, vec!["c", "a", "three"]);

    // Both dates are required.
    let reply = server
        .post(
            "rooms.cleanHistory",
            json!({"roomId": rid, "oldest": ts_of(&a)}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    server.stop().await;
}

/// Six members react to and star one message while its author edits it, the room's owner
/// pins and unpins it and replies arrive in its thread, all at once: every acknowledged reaction,
/// star, edit, pin and reply is in the final message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_to_one_message_are_all_kept() {
    const ROUNDS: usize = 8;
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let mut members = Vec::new();
    for i in 0..6 {
        members.push(server.new_user(&format!("racer{i}")).await);
    }
    let names: Vec<String> = (0..6).map(|i| format!("racer{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let rid = create_room(&server, &admin, "channels", "race-track", &name_refs).await;
    let author = &members[0];
    let root = say(&server, author, &rid, "original text").await;
    let mid = id_of(&root);

    let reactor = |auth: &Auth| {
        let (server, mid) = (&server, mid.clone());
        let auth = auth.clone();
        async move {
            server
                .post("chat.starMessage", json!({"messageId": mid}), Some(&auth))
                .await
                .ok();
            for round in 0..ROUNDS {
                server
                    .post(
                        "chat.react",
                        json!({"messageId": mid, "emoji": format!("r{round}"), "shouldReact": true}),
                        Some(&auth),
                    )
                    .await
                    .ok();
            }
        }
    };
    let editor = async {
        for round in 0..ROUNDS {
            server
                .post(
                    "chat.update",
                    json!({"roomId": rid, "msgId": mid, "text": format!("edit {round}")}),
                    Some(author),
                )
                .await
                .ok();
        }
    };
    let pinner = async {
        for round in 0..=ROUNDS {
            let route = if round % 2 == 0 {
                "chat.pinMessage"
            } else {
                "chat.unPinMessage"
            };
            server
                .post(route, json!({"messageId": mid}), Some(&admin))
                .await
                .ok();
        }
    };
    let replier = async {
        for round in 0..ROUNDS {
            server
                .post(
                    "chat.postMessage",
                    json!({"roomId": rid, "text": format!("reply {round}"), "tmid": mid}),
                    Some(&members[2 + round % 4]),
                )
                .await
                .ok();
        }
    };
    let reactors = futures_util::future::join_all(members.iter().map(reactor));
    tokio::join!(reactors, editor, pinner, replier);

    let message = server
        .get("chat.getMessage", &[("msgId", mid.as_str())], Some(author))
        .await
        .ok()["message"]
        .clone();
    assert_eq!(message["msg"], json!(format!("edit {}", ROUNDS - 1)));
    assert_eq!(message["pinned"], json!(true), "{message}");
    assert_eq!(message["tcount"], json!(ROUNDS), "{message}");
    for round in 0..ROUNDS {
        let mut users: Vec<String> = message["reactions"][format!(":r{round}:")]["usernames"]
            .as_array()
            .unwrap_or_else(|| panic!("reactions to :r{round}: lost: {message}"))
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect();
        users.sort();
        assert_eq!(users, names, "reactions to :r{round}:");
    }
    let mut starred: Vec<String> = message["starred"]
        .as_array()
        .expect("starred")
        .iter()
        .filter_map(|s| s["_id"].as_str().map(str::to_owned))
        .collect();
    starred.sort();
    let mut ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
    ids.sort();
    assert_eq!(starred, ids, "stars: {message}");
    let replies = message["replies"].as_array().expect("replies");
    for replier in &members[2..] {
        assert!(
            replies.contains(&json!(replier.user_id)),
            "thread participant {} lost: {message}",
            replier.user_id
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn clean_history_does_not_count_deletion_placeholders() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .post(
            "settings/Message_ShowDeletedStatus",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    let rid = create_room(&server, &admin, "channels", "placeholders", &[]).await;
    let gone = say(&server, &admin, &rid, "soon gone").await;
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": id_of(&gone)}),
            Some(&admin),
        )
        .await
        .ok();
    let reply = server
        .post(
            "rooms.cleanHistory",
            json!({"roomId": rid, "latest": "2999-01-01T00:00:00.000Z", "oldest": "2000-01-01T00:00:00.000Z"}),
            Some(&admin),
        )
        .await;
    assert_exact(
        &reply,
        200,
        json!({"_id": rid, "count": 0, "success": true}),
    );
    server.stop().await;
}
