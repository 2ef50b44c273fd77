//! Subscriptions and direct conversations: unread threads and how reading clears them, the
//! names of direct conversations as their members rename themselves, the owner's preferences
//! on their subscriptions, and the im.* answers for conversations that are missing.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, TestServer, assert_exact, id_of, subscription};
use serde_json::{Value, json};
use std::time::Duration;

async fn channel_with(server: &TestServer, owner: &Auth, name: &str, members: &[&str]) -> String {
    id_of(
        &server
            .post(
                "channels.create",
                json!({"name": name, "members": members}),
                Some(owner),
            )
            .await
            .ok()["channel"],
    )
}

async fn post(
    server: &TestServer,
    auth: &Auth,
    rid: &str,
    text: &str,
    tmid: Option<&str>,
) -> Value {
    tokio::time::sleep(Duration::from_millis(3)).await;
    let mut body = json!({"roomId": rid, "text": text});
    if let Some(tmid) = tmid {
        body["tmid"] = json!(tmid);
    }
    server.post("chat.postMessage", body, Some(auth)).await.ok()["message"].clone()
}

async fn direct_room(server: &TestServer, auth: &Auth, body: Value) -> String {
    id_of(&server.post("im.create", body, Some(auth)).await.ok()["room"])
}

#[tokio::test]
async fn thread_replies_stay_unread_until_the_thread_is_read() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = channel_with(&server, &alice, "threads", &["bob", "carol"]).await;
    let root = id_of(&post(&server, &alice, &rid, "a question", None).await);
    for who in [&alice, &bob, &carol] {
        server
            .post("subscriptions.read", json!({"rid": rid}), Some(who))
            .await
            .ok();
    }

    // Alice listens to her subscriptions; Bob's reply makes her (the root's author) follow
    // the thread, and it arrives among her unread threads.
    let mut live = Ddp::connect(&server).await;
    live.login("alice").await;
    let stream = format!("{}/subscriptions-changed", alice.user_id);
    live.sub("stream-notify-user", &stream).await;
    post(&server, &bob, &rid, "an answer for @carol", Some(&root)).await;
    let pushed = live
        .until(|m| {
            m["fields"]["eventName"] == json!(stream)
                && m["fields"]["args"][1]["tunread"].is_array()
        })
        .await;
    assert_eq!(pushed["fields"]["args"][1]["tunread"], json!([root]));

    let mine = subscription(&server, &alice, &rid).await;
    assert_eq!(mine["tunread"], json!([root]));
    assert!(mine.get("tunreadUser").is_none(), "{mine}");
    assert_eq!(mine["alert"], json!(true));
    // Carol is mentioned: the thread is unread for her and marked as mentioning her.
    let carols = subscription(&server, &carol, &rid).await;
    assert_eq!(carols["tunread"], json!([root]));
    assert_eq!(carols["tunreadUser"], json!([root]));
    // The author has nothing unread.
    assert!(
        subscription(&server, &bob, &rid)
            .await
            .get("tunread")
            .is_none()
    );

    // Reading the room without its threads keeps them unread, and the room marked.
    server
        .post(
            "subscriptions.read",
            json!({"rid": rid, "readThreads": false}),
            Some(&alice),
        )
        .await
        .ok();
    let mine = subscription(&server, &alice, &rid).await;
    assert_eq!(mine["tunread"], json!([root]));
    assert_eq!(
        (mine["alert"].clone(), mine["unread"].clone()),
        (json!(true), json!(0))
    );
    // With them, they are all read.
    server
        .post(
            "subscriptions.read",
            json!({"roomId": rid, "readThreads": true}),
            Some(&alice),
        )
        .await
        .ok();
    let mine = subscription(&server, &alice, &rid).await;
    assert!(mine.get("tunread").is_none(), "{mine}");
    assert_eq!(mine["alert"], json!(false));

    // An @all reply: Alice follows, so the thread is unread again, as a group mention.
    post(&server, &bob, &rid, "@all see this", Some(&root)).await;
    let mine = subscription(&server, &alice, &rid).await;
    assert_eq!(mine["tunread"], json!([root]));
    assert_eq!(mine["tunreadGroup"], json!([root]));

    // DDP `readThreads`: the thread leaves her unread threads; it was the last one, so the
    // room stops alerting.
    let read = live.call("readThreads", json!([root])).await;
    assert!(read.get("error").is_none(), "{read}");
    let mine = subscription(&server, &alice, &rid).await;
    assert!(
        mine.get("tunread").is_none() && mine.get("tunreadGroup").is_none(),
        "{mine}"
    );
    assert_eq!(mine["alert"], json!(false));

    // DDP `getThreadMessages`: the root, then the replies newest first; reading them is
    // reading the thread.
    let mut carol_live = Ddp::connect(&server).await;
    carol_live.login("carol").await;
    let page = carol_live
        .call("getThreadMessages", json!([{"tmid": root}]))
        .await;
    let texts: Vec<&str> = page["result"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["msg"].as_str().expect("msg"))
        .collect();
    assert_eq!(
        texts,
        ["a question", "@all see this", "an answer for @carol"]
    );
    let carols = subscription(&server, &carol, &rid).await;
    assert!(
        carols.get("tunread").is_none() && carols.get("tunreadUser").is_none(),
        "{carols}"
    );
}

#[tokio::test]
async fn subscriptions_read_takes_one_room_parameter() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = channel_with(&server, &alice, "reading", &[]).await;
    // `rid` or `roomId`, never both.
    let reply = server
        .post(
            "subscriptions.read",
            json!({"rid": rid, "roomId": "GENERAL"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["errorType"], json!("invalid-params"));
    server
        .post("subscriptions.read", json!({"roomId": rid}), Some(&alice))
        .await
        .ok();
    server
        .post(
            "subscriptions.read",
            json!({"rid": "nowhere"}),
            Some(&alice),
        )
        .await
        .refused(400, "error-invalid-subscription");
}

#[tokio::test]
async fn direct_conversations_are_named_after_the_other_members() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let amy = server.new_user("amy").await;
    let ben = server.new_user("ben").await;
    let cid = server.new_user("cid").await;
    // Display names in the opposite order of the usernames: the names sort by display name.
    for (auth, name) in [(&amy, "Zoe Amy"), (&ben, "Yan Ben"), (&cid, "Xia Cid")] {
        server
            .post(
                "users.update",
                json!({"userId": auth.user_id, "data": {"name": name}}),
                Some(&admin),
            )
            .await
            .ok();
    }
    let group = direct_room(&server, &amy, json!({"usernames": "ben,cid"})).await;
    let named = |s: &Value| (s["name"].clone(), s["fname"].clone());
    assert_eq!(
        named(&subscription(&server, &amy, &group).await),
        (json!("cid, ben"), json!("Xia Cid, Yan Ben"))
    );
    assert_eq!(
        named(&subscription(&server, &ben, &group).await),
        (json!("cid, amy"), json!("Xia Cid, Zoe Amy"))
    );
    let pair = direct_room(&server, &amy, json!({"username": "ben"})).await;
    assert_eq!(
        named(&subscription(&server, &amy, &pair).await),
        (json!("ben"), json!("Yan Ben"))
    );

    // Renames reach every conversation: a group's usernames are joined with "," then.
    server
        .post(
            "users.update",
            json!({"userId": ben.user_id, "data": {"username": "benji"}}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(
        named(&subscription(&server, &amy, &group).await),
        (json!("cid,benji"), json!("Xia Cid, Yan Ben"))
    );
    assert_eq!(
        named(&subscription(&server, &amy, &pair).await),
        (json!("benji"), json!("Yan Ben"))
    );
    server
        .post(
            "users.update",
            json!({"userId": ben.user_id, "data": {"name": "Abe Ben"}}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(
        named(&subscription(&server, &amy, &group).await),
        (json!("benji,cid"), json!("Abe Ben, Xia Cid"))
    );
    assert_eq!(
        named(&subscription(&server, &amy, &pair).await),
        (json!("benji"), json!("Abe Ben"))
    );
    // Ben's own entries do not name him.
    assert_eq!(
        named(&subscription(&server, &ben, &pair).await),
        (json!("amy"), json!("Zoe Amy"))
    );
    let room = server
        .get("rooms.info", &[("roomId", &pair)], Some(&amy))
        .await;
    let mut usernames: Vec<String> =
        serde_json::from_value(room.ok()["room"]["usernames"].clone()).expect("usernames");
    usernames.sort();
    assert_eq!(usernames, ["amy", "benji"]);
}

#[tokio::test]
async fn subscriptions_carry_the_owners_email_preference() {
    let server = TestServer::start().await;
    let amy = server.new_user("amy").await;
    server.new_user("ben").await;
    let mut live = Ddp::connect(&server).await;
    live.login("amy").await;
    let saved = live
        .call(
            "saveUserPreferences",
            json!([{"emailNotificationMode": "nothing"}]),
        )
        .await;
    assert_eq!(saved["result"], json!(true), "{saved}");
    let rid = direct_room(&server, &amy, json!({"usernames": "amy,ben"})).await;
    let mine = subscription(&server, &amy, &rid).await;
    assert_eq!(mine["emailNotifications"], json!("nothing"));
    let listed = server.get("subscriptions.get", &[], Some(&amy)).await;
    let entry = listed.ok()["update"]
        .as_array()
        .expect("update")
        .iter()
        .find(|s| s["rid"] == json!(rid))
        .cloned()
        .expect("the conversation");
    assert_eq!(entry["emailNotifications"], json!("nothing"));
}

#[tokio::test]
async fn direct_message_routes_for_missing_conversations_and_member_filters() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let amy = server.new_user("amy").await;
    server.new_user("ben").await;

    // A conversation that does not exist: the routes that look it up first say
    // `invalid-channel`, those that check access to the id first are 403.
    let reply = server
        .get("im.files", &[("roomId", "nowhere")], Some(&amy))
        .await;
    assert_exact(
        &reply,
        400,
        json!({"success": false, "error": "[invalid-channel]", "errorType": "invalid-channel"}),
    );
    let rid = direct_room(&server, &admin, json!({"username": "amy"})).await;
    server
        .post("im.delete", json!({"roomId": rid}), Some(&admin))
        .await
        .ok();
    let reply = server
        .post("im.open", json!({"roomId": rid}), Some(&amy))
        .await;
    assert_exact(
        &reply,
        403,
        json!({"success": false, "error": "unauthorized"}),
    );

    // Members by presence: only Amy is connected.
    let rid = direct_room(&server, &amy, json!({"username": "ben"})).await;
    let mut live = Ddp::connect(&server).await;
    live.login("amy").await;
    let mut online = Value::Null;
    for _ in 0..50 {
        online = server
            .get(
                "im.members",
                &[("roomId", rid.as_str()), ("status[]", "online")],
                Some(&amy),
            )
            .await
            .ok()
            .clone();
        if online["total"] == json!(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (online["count"].clone(), online["total"].clone()),
        (json!(1), json!(1)),
        "{online}"
    );
    assert_eq!(online["members"][0]["username"], json!("amy"));
    let all = server
        .get("im.members", &[("roomId", rid.as_str())], Some(&amy))
        .await;
    assert_eq!(all.ok()["total"], json!(2));

    // Messages sorted by their author's username.
    let ben = server.login("ben", common::PASSWORD).await;
    post(&server, &amy, &rid, "from amy", None).await;
    post(&server, &ben, &rid, "from ben", None).await;
    post(&server, &amy, &rid, "amy again", None).await;
    let page = server
        .get(
            "im.messages",
            &[("roomId", rid.as_str()), ("sort", r#"{"u.username":-1}"#)],
            Some(&amy),
        )
        .await;
    let authors: Vec<&str> = page.ok()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["u"]["username"].as_str().expect("username"))
        .collect();
    assert_eq!(authors, ["ben", "amy", "amy"]);
}

/// Deleting a thread reply takes its thread out of the room's unread threads, with the
/// deleted-message placeholder kept or not.
#[tokio::test]
async fn a_deleted_reply_leaves_no_unread_thread() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = channel_with(&server, &alice, "deleted-replies", &["bob"]).await;
    for keep_placeholder in [false, true] {
        server
            .post(
                "settings/Message_ShowDeletedStatus",
                json!({"value": keep_placeholder}),
                Some(&admin),
            )
            .await
            .ok();
        let root = id_of(&post(&server, &alice, &rid, "a question", None).await);
        server
            .post("subscriptions.read", json!({"rid": rid}), Some(&alice))
            .await
            .ok();
        let reply = id_of(&post(&server, &bob, &rid, "an answer", Some(&root)).await);
        assert_eq!(
            subscription(&server, &alice, &rid).await["tunread"],
            json!([root])
        );
        server
            .post(
                "chat.delete",
                json!({"roomId": rid, "msgId": reply}),
                Some(&bob),
            )
            .await
            .ok();
        let mine = subscription(&server, &alice, &rid).await;
        assert!(mine.get("tunread").is_none(), "{keep_placeholder}: {mine}");
    }
    server.stop().await;
}
