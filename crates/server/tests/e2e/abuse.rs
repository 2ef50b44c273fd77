//! Abuse controls, each at its default and turned off by its setting: the REST and DDP rate
//! limits, the per-user message limit, room creation per day, the limits on new accounts
//! (links, uploads, rooms joined, direct messages to strangers) and their approval, the
//! bad-words filter, the file blocklist and `users.purge`.

use crate::common;

use common::ddp::Ddp;
use common::{ABUSE_CONTROLS_OFF, Auth, TestServer, id_of, post_form, sha256_hex};
use serde_json::{Value, json};
use std::time::Duration;

/// A server with the abuse controls at their defaults, plus `settings`.
async fn server_with(settings: &[(&str, &str)]) -> TestServer {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(id, value)| ((*id).to_owned(), (*value).to_owned()))
        .collect();
    TestServer::start_with(move |c| {
        c.setting_overrides
            .retain(|(id, _)| !ABUSE_CONTROLS_OFF.contains(&id.as_str()));
        c.setting_overrides.extend(settings);
    })
    .await
}

async fn set(server: &TestServer, admin: &Auth, id: &str, value: Value) {
    server
        .post(
            &format!("settings/{id}"),
            json!({"value": value}),
            Some(admin),
        )
        .await
        .ok();
}

async fn post(server: &TestServer, auth: &Auth, rid: &str, text: &str) -> common::Reply {
    server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": text}),
            Some(auth),
        )
        .await
}

fn assert_meteor_refusal(reply: &common::Reply, error_type: &str) {
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false), "{}", reply.body);
    assert_eq!(reply.body["errorType"], json!(error_type), "{}", reply.body);
}

#[tokio::test]
async fn rest_rate_limit_refuses_recovers_and_turns_off() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides
            .retain(|(id, _)| id != "API_Enable_Rate_Limiter");
        c.setting_overrides.extend([
            (
                "API_Enable_Rate_Limiter_Limit_Calls_Default".to_owned(),
                "3".to_owned(),
            ),
            (
                "API_Enable_Rate_Limiter_Limit_Time_Default".to_owned(),
                "1500".to_owned(),
            ),
        ]);
    })
    .await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for _ in 0..3 {
        server.get("me", &[], Some(&alice)).await.ok();
    }
    let refused = server.get("me", &[], Some(&alice)).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    let error = refused.body["error"].as_str().expect("error");
    assert!(error.ends_with("[error-too-many-requests]"), "{error}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    server.get("me", &[], Some(&alice)).await.ok();

    // Admins bypass the limiter, so they can turn it off.
    set(&server, &admin, "API_Enable_Rate_Limiter", json!(false)).await;
    for _ in 0..6 {
        server.get("me", &[], Some(&alice)).await.ok();
    }
    server.stop().await;
}

#[tokio::test]
async fn ddp_limits_follow_the_settings_and_recover() {
    let server = server_with(&[
        ("DDP_Rate_Limit_Connection_By_Method_Requests_Allowed", "3"),
        ("DDP_Rate_Limit_Connection_By_Method_Interval_Time", "1500"),
    ])
    .await;
    let admin = server.admin().await;
    server.new_user("alice").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("alice").await;
    for _ in 0..3 {
        let ok = ddp.call("public-settings/get", json!([])).await;
        assert!(ok.get("error").is_none(), "{ok}");
    }
    let limited = ddp.call("public-settings/get", json!([])).await;
    assert_eq!(
        limited["error"]["error"],
        json!("too-many-requests"),
        "{limited}"
    );
    let reason = limited["error"]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("Error, too many requests. Please slow down. You must wait ")
            && reason.ends_with(" seconds before trying again."),
        "{reason}"
    );
    let reset = limited["error"]["details"]["timeToReset"]
        .as_u64()
        .expect("timeToReset");
    assert!((1..=1500).contains(&reset), "{reset}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let recovered = ddp.call("public-settings/get", json!([])).await;
    assert!(recovered.get("error").is_none(), "{recovered}");

    // Off: as many calls as one likes.
    set(
        &server,
        &admin,
        "DDP_Rate_Limit_Connection_By_Method_Enabled",
        json!(false),
    )
    .await;
    for _ in 0..8 {
        let ok = ddp.call("public-settings/get", json!([])).await;
        assert!(ok.get("error").is_none(), "{ok}");
    }

    // The per-user limit spans the user's connections.
    set(
        &server,
        &admin,
        "DDP_Rate_Limit_User_Requests_Allowed",
        json!(4),
    )
    .await;
    let mut first = Ddp::connect(&server).await;
    first.login("alice").await;
    let mut second = Ddp::connect(&server).await;
    second.login("alice").await;
    let mut refused = None;
    for n in 0..12 {
        let ddp = if n % 2 == 0 { &mut first } else { &mut second };
        let reply = ddp.call("permissions/get", json!([])).await;
        if reply.get("error").is_some() {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("the user limit refuses a call");
    assert_eq!(refused["error"]["error"], json!("too-many-requests"));
    server.stop().await;
}

#[tokio::test]
async fn messages_per_user_are_limited_on_rest_and_ddp() {
    let server = server_with(&[
        ("Comet_Abuse_Messages_Per_User_Limit", "3"),
        ("Comet_Abuse_Messages_Per_User_Interval_Time", "60000"),
        ("Comet_Abuse_New_Account_Age_Hours", "0"),
    ])
    .await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for n in 0..3 {
        post(&server, &alice, "GENERAL", &format!("hello {n}"))
            .await
            .ok();
    }
    let refused = post(&server, &alice, "GENERAL", "one too many").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("alice").await;
    let over_ddp = ddp
        .call(
            "sendMessage",
            json!([{"rid": "GENERAL", "msg": "and here"}]),
        )
        .await;
    assert_eq!(
        over_ddp["error"]["error"],
        json!("too-many-requests"),
        "{over_ddp}"
    );
    // Users with `send-many-messages` (admins, bots) are not limited.
    for n in 0..5 {
        post(&server, &admin, "GENERAL", &format!("admin {n}"))
            .await
            .ok();
    }
    set(
        &server,
        &admin,
        "Comet_Abuse_Messages_Per_User_Limit",
        json!(0),
    )
    .await;
    post(&server, &alice, "GENERAL", "free again").await.ok();
    server.stop().await;
}

#[tokio::test]
async fn room_creation_is_capped_per_day() {
    let server = server_with(&[
        ("Comet_Abuse_Room_Creation_Per_Day", "2"),
        ("Comet_Abuse_New_Account_Age_Hours", "0"),
    ])
    .await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for name in ["first", "second"] {
        server
            .post("channels.create", json!({"name": name}), Some(&alice))
            .await
            .ok();
    }
    let refused = server
        .post("channels.create", json!({"name": "third"}), Some(&alice))
        .await;
    assert_meteor_refusal(&refused, "error-room-creation-limit");
    let refused = server
        .post("groups.create", json!({"name": "hidden"}), Some(&alice))
        .await;
    assert_meteor_refusal(&refused, "error-room-creation-limit");
    set(
        &server,
        &admin,
        "Comet_Abuse_Room_Creation_Per_Day",
        json!(0),
    )
    .await;
    server
        .post("channels.create", json!({"name": "third"}), Some(&alice))
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn new_accounts_are_limited_until_approved() {
    let server = server_with(&[
        ("Comet_Abuse_New_Account_Max_Rooms", "2"),
        ("Comet_Abuse_New_Account_Direct_Messages_Per_Hour", "1"),
    ])
    .await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    server.new_user("carol").await;
    for name in ["open", "more"] {
        server
            .post("channels.create", json!({"name": name}), Some(&admin))
            .await
            .ok();
    }

    // No links.
    let link = post(&server, &alice, "GENERAL", "see https://spam.example/buy").await;
    assert_meteor_refusal(&link, "error-new-account-links");
    post(&server, &alice, "GENERAL", "plain words are fine")
        .await
        .ok();
    // No files.
    let (status, body) = post_form(
        &server,
        "rooms.upload/GENERAL",
        &[("file", Some(("note.txt", "text/plain")), b"hello")],
        &alice,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errorType"],
        json!("error-new-account-uploads"),
        "{body}"
    );
    // At most two rooms: GENERAL and one more.
    server
        .post("channels.join", json!({"roomName": "open"}), Some(&alice))
        .await
        .ok();
    let third = server
        .post("channels.join", json!({"roomName": "more"}), Some(&alice))
        .await;
    assert_meteor_refusal(&third, "error-new-account-room-limit");
    // One new direct conversation an hour; an existing one stays open.
    server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await
        .ok();
    let stranger = server
        .post("im.create", json!({"username": "carol"}), Some(&alice))
        .await;
    assert_meteor_refusal(&stranger, "error-direct-message-limit");
    server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await
        .ok();

    // Only admins approve.
    server
        .post(
            "users.approve",
            json!({"userId": alice.user_id}),
            Some(&bob),
        )
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    let approved = server
        .post(
            "users.approve",
            json!({"userId": alice.user_id}),
            Some(&admin),
        )
        .await;
    assert_eq!(approved.ok()["user"]["approved"], json!(true));
    post(&server, &alice, "GENERAL", "see https://example.com/fine")
        .await
        .ok();
    server
        .post("channels.join", json!({"roomName": "more"}), Some(&alice))
        .await
        .ok();
    server
        .post("im.create", json!({"username": "carol"}), Some(&alice))
        .await
        .ok();
    let (status, body) = post_form(
        &server,
        "rooms.upload/GENERAL",
        &[("file", Some(("note.txt", "text/plain")), b"hello")],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // An account age of 0 turns the limits off for everyone.
    let dave = server.new_user("dave").await;
    assert_meteor_refusal(
        &post(&server, &dave, "GENERAL", "http://x.example").await,
        "error-new-account-links",
    );
    set(
        &server,
        &admin,
        "Comet_Abuse_New_Account_Age_Hours",
        json!(0),
    )
    .await;
    post(&server, &dave, "GENERAL", "http://x.example")
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn bad_words_are_masked_with_the_current_lists() {
    let server = server_with(&[
        ("Message_AllowBadWordsFilter", "true"),
        ("Message_BadWordsFilterList", "darn,heck"),
        ("Comet_Abuse_New_Account_Age_Hours", "0"),
    ])
    .await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let masked = post(&server, &alice, "GENERAL", "Darn it, heck! darned").await;
    assert_eq!(
        masked.ok()["message"]["msg"],
        json!("**** it, ****! darned")
    );
    set(&server, &admin, "Message_BadWordsWhitelist", json!("heck")).await;
    let masked = post(&server, &alice, "GENERAL", "darn heck").await;
    assert_eq!(masked.ok()["message"]["msg"], json!("**** heck"));
    set(&server, &admin, "Message_AllowBadWordsFilter", json!(false)).await;
    let clean = post(&server, &alice, "GENERAL", "darn heck").await;
    assert_eq!(clean.ok()["message"]["msg"], json!("darn heck"));
    server.stop().await;
}

#[tokio::test]
async fn blocklisted_files_are_refused() {
    let server = server_with(&[("Comet_Abuse_New_Account_Age_Hours", "0")]).await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bad: &[u8] = b"known bad file contents";
    let digest = sha256_hex("known bad file contents");
    server
        .post(
            "files.blocklist.add",
            json!({"sha256": digest}),
            Some(&alice),
        )
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    let invalid = server
        .post(
            "files.blocklist.add",
            json!({"sha256": "abc"}),
            Some(&admin),
        )
        .await;
    assert_meteor_refusal(&invalid, "error-invalid-hash");
    let added = server
        .post(
            "files.blocklist.add",
            json!({"sha256": digest.to_uppercase(), "reason": "malware"}),
            Some(&admin),
        )
        .await;
    assert_eq!(added.ok()["added"], json!(true));
    let listed = server.get("files.blocklist.list", &[], Some(&admin)).await;
    assert_eq!(listed.ok()["total"], json!(1));
    assert_eq!(listed.ok()["hashes"][0]["sha256"], json!(digest));
    assert_eq!(listed.ok()["hashes"][0]["reason"], json!("malware"));

    let (status, body) = post_form(
        &server,
        "rooms.upload/GENERAL",
        &[("file", Some(("bad.txt", "text/plain")), bad)],
        &alice,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], json!("error-file-blocked"), "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("blocked")),
        "{body}"
    );
    let files = server
        .get("channels.files", &[("roomId", "GENERAL")], Some(&admin))
        .await;
    assert_eq!(files.ok()["total"], json!(0), "nothing kept");
    let (status, body) = post_form(
        &server,
        "rooms.upload/GENERAL",
        &[("file", Some(("good.txt", "text/plain")), b"harmless")],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let removed = server
        .post(
            "files.blocklist.remove",
            json!({"sha256": digest}),
            Some(&admin),
        )
        .await;
    assert_eq!(removed.ok()["removed"], json!(true));
    let (status, body) = post_form(
        &server,
        "rooms.upload/GENERAL",
        &[("file", Some(("bad.txt", "text/plain")), bad)],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn purge_deactivates_and_deletes_everything_a_user_sent() {
    let server = server_with(&[("Comet_Abuse_New_Account_Age_Hours", "0")]).await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let spammer = server.new_user("spammer").await;
    let room = server
        .post(
            "channels.create",
            json!({"name": "lobby", "members": ["alice"]}),
            Some(&spammer),
        )
        .await;
    let rid = id_of(&room.ok()["channel"]);
    post(&server, &spammer, "GENERAL", "spam one").await.ok();
    post(&server, &spammer, &rid, "spam two").await.ok();
    post(&server, &alice, "GENERAL", "a real message")
        .await
        .ok();
    let (status, body) = post_form(
        &server,
        "rooms.upload/GENERAL",
        &[("file", Some(("spam.txt", "text/plain")), b"spam")],
        &spammer,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let mut watcher = Ddp::connect(&server).await;
    watcher.login("alice").await;
    assert_eq!(
        watcher
            .sub("stream-notify-room", "GENERAL/deleteMessageBulk")
            .await["msg"],
        json!("ready")
    );

    server
        .post(
            "users.purge",
            json!({"userId": spammer.user_id}),
            Some(&alice),
        )
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    // The last owner of a room: as on deactivation, the admin must agree to hand it over.
    let refused = server
        .post(
            "users.purge",
            json!({"userId": spammer.user_id}),
            Some(&admin),
        )
        .await;
    assert_meteor_refusal(&refused, "user-last-owner");
    let purged = server
        .post(
            "users.purge",
            json!({"userId": spammer.user_id, "confirmRelinquish": true}),
            Some(&admin),
        )
        .await;
    let purged = purged.ok().clone();
    assert_eq!(purged["user"]["active"], json!(false));
    assert_eq!(purged["files"], json!(1));
    assert!(purged["rooms"].as_u64().is_some_and(|n| n >= 2), "{purged}");

    let bulk = watcher
        .until(|m| m["fields"]["eventName"] == json!("GENERAL/deleteMessageBulk"))
        .await;
    assert_eq!(
        bulk["fields"]["args"][0]["users"],
        json!([spammer.user_id]),
        "{bulk}"
    );

    // Logged out, and nothing of theirs is left.
    assert_eq!(server.get("me", &[], Some(&spammer)).await.status, 401);
    for room_id in ["GENERAL", rid.as_str()] {
        let history = server
            .get("channels.history", &[("roomId", room_id)], Some(&admin))
            .await;
        let messages = history.ok()["messages"]
            .as_array()
            .expect("messages")
            .clone();
        assert!(
            messages
                .iter()
                .all(|m| m["u"]["_id"] != json!(spammer.user_id) || m.get("t").is_some()),
            "{messages:?}"
        );
        if room_id == "GENERAL" {
            assert!(messages.iter().any(|m| m["msg"] == json!("a real message")));
        }
    }
    let files = server
        .get("channels.files", &[("roomId", "GENERAL")], Some(&admin))
        .await;
    assert_eq!(files.ok()["total"], json!(0));
    server.stop().await;
}
