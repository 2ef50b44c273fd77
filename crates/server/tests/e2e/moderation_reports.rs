//! Reports and the moderation console (`chat.reportMessage`, `moderation.*`) against upstream
//! Rocket.Chat 8.x: `apps/meteor/tests/end-to-end/api/moderation.ts` and `chat.ts`'s
//! `chat.reportMessage`, replayed, and the shapes, groupings, filters, permissions and
//! effects they rely on.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, TestServer, id_of, say};
use serde_json::{Value, json};

const FORBIDDEN: &str =
    "User does not have the permissions required for this action [error-unauthorized]";

/// Reports carry millisecond timestamps, and two made within one millisecond list in no
/// defined order (upstream sorts by `ts` alone). The listings' order assertions need each
/// report strictly newer than the one before, so every report waits out its millisecond.
async fn after_this_millisecond() {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
}

async fn report(server: &TestServer, auth: &Auth, message_id: &str, description: &str) {
    server
        .post(
            "chat.reportMessage",
            json!({"messageId": message_id, "description": description}),
            Some(auth),
        )
        .await
        .ok();
    after_this_millisecond().await;
}

async fn report_user(server: &TestServer, auth: &Auth, user_id: &str, description: &str) {
    server
        .post(
            "moderation.reportUser",
            json!({"userId": user_id, "description": description}),
            Some(auth),
        )
        .await
        .ok();
    after_this_millisecond().await;
}

async fn by_users(server: &TestServer, admin: &Auth, query: &[(&str, &str)]) -> Value {
    server
        .get("moderation.reportsByUsers", query, Some(admin))
        .await
        .ok()
        .clone()
}

async fn create_channel(server: &TestServer, auth: &Auth, name: &str, members: &[&str]) -> String {
    id_of(
        &server
            .post(
                "channels.create",
                json!({"name": name, "members": members}),
                Some(auth),
            )
            .await
            .ok()["channel"],
    )
}

#[tokio::test]
async fn reporting_a_message_checks_its_input_and_the_reporters_access() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let message = say(&server, &alice, "GENERAL", "hello").await;
    let message_id = id_of(&message);

    // Upstream's chat.ts: with a description 200, without one 400.
    report(&server, &bob, &message_id, "test").await;
    let missing = server
        .post(
            "chat.reportMessage",
            json!({"messageId": message_id}),
            Some(&bob),
        )
        .await;
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert_eq!(missing.body["errorType"], "invalid-params");
    server
        .post(
            "chat.reportMessage",
            json!({"messageId": message_id, "description": ""}),
            Some(&bob),
        )
        .await
        .refused(400, "The required \"description\" param is missing.");
    server
        .post(
            "chat.reportMessage",
            json!({"messageId": "", "description": "x"}),
            Some(&bob),
        )
        .await
        .refused(400, "The required \"messageId\" param is missing.");
    server
        .post(
            "chat.reportMessage",
            json!({"messageId": message_id, "description": "   "}),
            Some(&bob),
        )
        .await
        .refused(400, "error-invalid-description");
    server
        .post(
            "chat.reportMessage",
            json!({"messageId": "nope", "description": "x"}),
            Some(&bob),
        )
        .await
        .refused(400, "error-invalid-message_id");

    // A message of a room the reporter may not read is refused as if it did not exist.
    let group = id_of(
        &server
            .post("groups.create", json!({"name": "secret"}), Some(&alice))
            .await
            .ok()["group"],
    );
    let hidden = say(&server, &alice, &group, "private words").await;
    server
        .post(
            "chat.reportMessage",
            json!({"messageId": id_of(&hidden), "description": "x"}),
            Some(&bob),
        )
        .await
        .refused(400, "error-invalid-message_id");
    let unauthenticated = server
        .post(
            "chat.reportMessage",
            json!({"messageId": message_id, "description": "x"}),
            None,
        )
        .await;
    assert_eq!(unauthenticated.status, 401);

    // The report keeps a copy of the message and who reported it.
    let admin = server.admin().await;
    let reports = server
        .get(
            "moderation.reports",
            &[("msgId", &message_id)],
            Some(&admin),
        )
        .await;
    let reports = reports.ok();
    assert_eq!(reports["total"], 1);
    let listed = &reports["reports"][0];
    assert_eq!(listed["description"], "test");
    assert_eq!(listed["reportedBy"]["username"], "bob");
    assert_eq!(listed["room"]["_id"], "GENERAL");
    assert_eq!(listed["room"]["t"], "c");
    let info = server
        .get(
            "moderation.reportInfo",
            &[("reportId", listed["_id"].as_str().expect("id"))],
            Some(&admin),
        )
        .await;
    let report = &info.ok()["report"];
    assert_eq!(report["message"]["_id"], json!(message_id));
    assert_eq!(report["message"]["msg"], "hello");
    assert_eq!(report["message"]["u"]["username"], "alice");
    assert!(report.get("_hidden").is_none(), "{report}");
    server.stop().await;
}

#[tokio::test]
async fn the_console_needs_its_permissions_before_anything_else() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let message_id = id_of(&say(&server, &alice, "GENERAL", "hi").await);
    // A member may report; the console is for view-moderation-console and
    // manage-moderation-actions (admins), and the check comes before validation.
    report(&server, &alice, &message_id, "mine").await;
    for (path, query) in [
        ("moderation.reportsByUsers", vec![("latest", "not a date")]),
        ("moderation.userReports", vec![]),
        ("moderation.user.reportedMessages", vec![("userId", "")]),
        ("moderation.user.reportsByUserId", vec![]),
        ("moderation.reports", vec![("msgId", "")]),
        ("moderation.reportInfo", vec![]),
    ] {
        server
            .get(path, &query, Some(&alice))
            .await
            .refused(403, FORBIDDEN);
    }
    for path in [
        "moderation.user.deleteReportedMessages",
        "moderation.dismissReports",
        "moderation.dismissUserReports",
    ] {
        server
            .post(path, json!({}), Some(&alice))
            .await
            .refused(403, FORBIDDEN);
    }
    let unauthenticated = server.get("moderation.reportsByUsers", &[], None).await;
    assert_eq!(unauthenticated.status, 401);

    // Granting the permissions opens the console.
    let admin = server.admin().await;
    for permission in ["view-moderation-console", "manage-moderation-actions"] {
        server
            .post(
                "permissions.update",
                json!({"permissions": [{"_id": permission, "roles": ["admin", "user"]}]}),
                Some(&admin),
            )
            .await
            .ok();
    }
    assert_eq!(by_users(&server, &alice, &[]).await["total"], 1);
    server
        .post(
            "moderation.dismissReports",
            json!({"msgId": message_id}),
            Some(&alice),
        )
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn reported_messages_are_grouped_by_author_with_filters_sorts_and_pages() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let lounge = create_channel(&server, &alice, "lounge", &["bob", "carol"]).await;

    // Upstream's moderation.ts: the listing answers with or without its parameters.
    for query in [
        vec![],
        vec![("count", "5"), ("offset", "0")],
        vec![("oldest", "2024-05-01T12:00:00.000Z")],
        vec![("latest", "2099-05-01T12:00:00.000Z")],
    ] {
        let empty = by_users(&server, &admin, &query).await;
        assert_eq!(
            empty,
            json!({"reports": [], "count": 0, "offset": 0, "total": 0, "success": true})
        );
    }

    let spam1 = id_of(&say(&server, &alice, "GENERAL", "buy cheap things").await);
    let spam2 = id_of(&say(&server, &alice, &lounge, "buy more things").await);
    let rude = id_of(&say(&server, &carol, "GENERAL", "you are all rude").await);
    report(&server, &bob, &spam1, "spam").await;
    report(&server, &carol, &spam1, "spam again").await;
    report(&server, &bob, &spam2, "spam").await;
    report(&server, &bob, &rude, "insulting").await;

    let all = by_users(&server, &admin, &[]).await;
    assert_eq!(
        (all["count"].clone(), all["total"].clone()),
        (json!(2), json!(2))
    );
    // Newest report first: carol's message was reported last.
    let carol_group = &all["reports"][0];
    assert_eq!(carol_group["userId"], json!(carol.user_id));
    assert_eq!(carol_group["username"], "carol");
    assert_eq!(carol_group["name"], "User carol");
    assert_eq!(carol_group["message"], "you are all rude");
    assert_eq!(carol_group["msgId"], json!(rude));
    assert_eq!(carol_group["count"], 1);
    assert_eq!(carol_group["isUserDeleted"], false);
    assert!(carol_group["ts"].as_str().expect("ts").ends_with('Z'));
    let alice_group = &all["reports"][1];
    assert_eq!(alice_group["count"], 3);
    assert_eq!(alice_group["msgId"], json!(spam2));
    let mut room_ids: Vec<&str> = alice_group["roomIds"]
        .as_array()
        .expect("roomIds")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    room_ids.sort_unstable();
    let mut expected = vec!["GENERAL", lounge.as_str()];
    expected.sort_unstable();
    assert_eq!(room_ids, expected);
    let lounge_room = alice_group["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["_id"] == json!(lounge))
        .expect("lounge");
    assert_eq!(lounge_room["name"], "lounge");
    assert_eq!(lounge_room["t"], "c");

    // Pages, sorts, the free-text selector and the date range.
    let second = by_users(&server, &admin, &[("count", "1"), ("offset", "1")]).await;
    assert_eq!(second["reports"][0]["username"], "alice");
    assert_eq!(
        (
            second["count"].clone(),
            second["total"].clone(),
            second["offset"].clone()
        ),
        (json!(1), json!(2), json!(1))
    );
    let by_count = by_users(&server, &admin, &[("sort", r#"{"count":-1}"#)]).await;
    assert_eq!(by_count["reports"][0]["username"], "alice");
    let by_name = by_users(
        &server,
        &admin,
        &[("sort", r#"{"reports.message.u.username":1}"#)],
    )
    .await;
    assert_eq!(by_name["reports"][0]["username"], "alice");
    let bad_sort = server
        .get(
            "moderation.reportsByUsers",
            &[("sort", r#"{"password":1}"#)],
            Some(&admin),
        )
        .await;
    assert_eq!(bad_sort.status, 400);
    for (selector, total) in [
        ("RUDE", 1),
        ("cheap", 1),
        ("spam again", 1),
        ("ALICE", 1),
        ("nothing like it", 0),
    ] {
        let found = by_users(&server, &admin, &[("selector", selector)]).await;
        assert_eq!(found["total"], total, "{selector}");
    }
    let cheap = by_users(&server, &admin, &[("selector", "cheap")]).await;
    assert_eq!(
        cheap["reports"][0]["count"], 2,
        "only the matching reports count"
    );
    let future = by_users(&server, &admin, &[("oldest", "2099-01-01T00:00:00.000Z")]).await;
    assert_eq!(future["total"], 0);
    let past = by_users(&server, &admin, &[("latest", "2001-01-01T00:00:00.000Z")]).await;
    assert_eq!(past["total"], 0);
    let invalid_date = server
        .get(
            "moderation.reportsByUsers",
            &[("oldest", "yesterday")],
            Some(&admin),
        )
        .await;
    assert_eq!(invalid_date.status, 400);
    assert_eq!(invalid_date.body["errorType"], "error-invalid-params");

    // An author's reported messages: each message once, the count of reports read.
    let messages = server
        .get(
            "moderation.user.reportedMessages",
            &[("userId", &alice.user_id)],
            Some(&admin),
        )
        .await;
    let messages = messages.ok();
    assert_eq!(
        messages["user"],
        json!({"_id": alice.user_id, "username": "alice", "name": "User alice"})
    );
    assert_eq!(
        (messages["count"].clone(), messages["total"].clone()),
        (json!(3), json!(3))
    );
    let listed: Vec<&Value> = messages["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["message"]["_id"], json!(spam2));
    assert_eq!(listed[0]["room"]["_id"], json!(lounge));
    let narrowed = server
        .get(
            "moderation.user.reportedMessages",
            &[("userId", &alice.user_id), ("selector", "MORE")],
            Some(&admin),
        )
        .await;
    assert_eq!(narrowed.ok()["total"], 1);
    let nobody = server
        .get(
            "moderation.user.reportedMessages",
            &[("userId", "nobody")],
            Some(&admin),
        )
        .await;
    assert_eq!(nobody.ok()["user"], Value::Null);
    let no_user = server
        .get(
            "moderation.user.reportedMessages",
            &[("userId", "")],
            Some(&admin),
        )
        .await;
    assert_eq!(no_user.status, 400);
    assert_eq!(no_user.body["errorType"], "error-invalid-params");

    // A message's reports.
    let of_spam1 = server
        .get("moderation.reports", &[("msgId", &spam1)], Some(&admin))
        .await;
    let of_spam1 = of_spam1.ok();
    assert_eq!(of_spam1["total"], 2);
    let reporters: Vec<&str> = of_spam1["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .filter_map(|r| r["reportedBy"]["username"].as_str())
        .collect();
    assert_eq!(reporters, ["carol", "bob"]);
    let no_message = server
        .get("moderation.reports", &[("msgId", "")], Some(&admin))
        .await;
    assert_eq!(no_message.status, 400);
    assert!(no_message.body["error"].is_string());

    // A deleted author is flagged.
    server
        .post(
            "users.delete",
            json!({"userId": carol.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let after = by_users(&server, &admin, &[("selector", "rude")]).await;
    assert_eq!(after["reports"][0]["isUserDeleted"], true);
    server.stop().await;
}

#[tokio::test]
async fn report_info_and_its_refusals() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let message_id = id_of(&say(&server, &alice, "GENERAL", "messageId").await);
    report(&server, &admin, &message_id, "sample report").await;
    let reports = server
        .get(
            "moderation.reports",
            &[("msgId", &message_id)],
            Some(&admin),
        )
        .await;
    let report_id = reports.ok()["reports"][0]["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let info = server
        .get(
            "moderation.reportInfo",
            &[("reportId", &report_id)],
            Some(&admin),
        )
        .await;
    assert_eq!(info.ok()["report"]["_id"], json!(report_id));
    let empty = server
        .get("moderation.reportInfo", &[("reportId", "")], Some(&admin))
        .await;
    assert_eq!(empty.status, 400);
    assert!(empty.body["error"].is_string());
    for unknown in ["invalid", "123456789012345678901234"] {
        server
            .get(
                "moderation.reportInfo",
                &[("reportId", unknown)],
                Some(&admin),
            )
            .await
            .refused(400, "error-report-not-found");
    }
    server.stop().await;
}

#[tokio::test]
async fn user_reports_are_grouped_listed_and_dismissed() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let mallory = server.new_user("mallory").await;
    let eve = server.new_user("eve").await;

    // Upstream's moderation.ts: reportUser, and its refusals.
    report_user(&server, &alice, &mallory.user_id, "sample report").await;
    report_user(&server, &bob, &mallory.user_id, "again").await;
    report_user(&server, &alice, &eve.user_id, "odd").await;
    let no_description = server
        .post(
            "moderation.reportUser",
            json!({"userId": mallory.user_id}),
            Some(&alice),
        )
        .await;
    assert_eq!(no_description.status, 400);
    assert_eq!(no_description.body["errorType"], "invalid-params");
    server
        .post(
            "moderation.reportUser",
            json!({"userId": "nobody", "description": "x"}),
            Some(&alice),
        )
        .await
        .refused(400, "Invalid user id provided.");

    let listing = server
        .get("moderation.userReports", &[], Some(&admin))
        .await;
    let listing = listing.ok();
    assert_eq!(listing["total"], 2);
    assert_eq!(listing["reports"][0]["reportedUser"]["username"], "eve");
    let mallory_group = &listing["reports"][1];
    assert_eq!(mallory_group["count"], 2);
    assert_eq!(mallory_group["reportedUser"]["_id"], json!(mallory.user_id));
    assert_eq!(
        mallory_group["reportedUser"]["emails"],
        json!([{"address": "mallory@example.com", "verified": false}])
    );
    assert_eq!(
        mallory_group.as_object().expect("group").len(),
        3,
        "{mallory_group}"
    );
    let found = server
        .get(
            "moderation.userReports",
            &[("selector", "MALL")],
            Some(&admin),
        )
        .await;
    assert_eq!(found.ok()["total"], 1);
    for query in [
        vec![("count", "5"), ("offset", "0")],
        vec![("oldest", "2099-01-01")],
    ] {
        server
            .get("moderation.userReports", &query, Some(&admin))
            .await
            .ok();
    }
    // Message reports are not user reports, and the other way round.
    assert_eq!(by_users(&server, &admin, &[]).await["total"], 0);

    let by_id = server
        .get(
            "moderation.user.reportsByUserId",
            &[
                ("userId", &mallory.user_id),
                ("count", "5"),
                ("offset", "0"),
            ],
            Some(&admin),
        )
        .await;
    let by_id = by_id.ok();
    assert_eq!(by_id["reports"].as_array().expect("reports").len(), 2);
    assert_eq!(by_id["reports"][0]["description"], "again");
    assert_eq!(by_id["reports"][0]["reportedBy"]["username"], "bob");
    assert_eq!(by_id["user"]["username"], "mallory");
    assert_eq!(by_id["user"]["emails"][0]["address"], "mallory@example.com");
    let empty = server
        .get(
            "moderation.user.reportsByUserId",
            &[("userId", ""), ("count", "5"), ("offset", "0")],
            Some(&admin),
        )
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(empty.body["errorType"], "error-invalid-params");

    // dismissUserReports hides them, with upstream's moderationInfo.
    let report_id = by_id["reports"][0]["_id"].as_str().expect("id").to_owned();
    server
        .post(
            "moderation.dismissUserReports",
            json!({"userId": mallory.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let after = server
        .get(
            "moderation.user.reportsByUserId",
            &[("userId", &mallory.user_id)],
            Some(&admin),
        )
        .await;
    assert_eq!(after.ok()["reports"], json!([]));
    let info = server
        .get(
            "moderation.reportInfo",
            &[("reportId", &report_id)],
            Some(&admin),
        )
        .await;
    let report = &info.ok()["report"];
    assert_eq!(report["_hidden"], true);
    assert_eq!(
        report["moderationInfo"]["moderatedBy"],
        json!(admin.user_id)
    );
    assert_eq!(report["moderationInfo"]["reason"], "No reason provided");
    assert_eq!(report["moderationInfo"]["action"], "None");
    assert!(report["moderationInfo"]["hiddenAt"].is_string());
    let listing = server
        .get("moderation.userReports", &[], Some(&admin))
        .await;
    assert_eq!(listing.ok()["total"], 1);

    let empty_user = server
        .post(
            "moderation.dismissUserReports",
            json!({"userId": ""}),
            Some(&admin),
        )
        .await;
    empty_user.refused(400, "error-user-id-param-not-provided");
    server
        .post(
            "moderation.dismissUserReports",
            json!({"userId": eve.user_id, "reason": "fine", "action": "Reset avatar"}),
            Some(&admin),
        )
        .await
        .ok();
    let listing = server
        .get("moderation.userReports", &[], Some(&admin))
        .await;
    assert_eq!(listing.ok()["total"], 0);
    server.stop().await;
}

#[tokio::test]
async fn dismissing_message_reports_by_author_or_by_message() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let first = id_of(&say(&server, &alice, "GENERAL", "Sample message 0").await);
    let second = id_of(&say(&server, &alice, "GENERAL", "Sample message 1").await);
    let other = id_of(&say(&server, &bob, "GENERAL", "Sample message 2").await);
    report(&server, &bob, &first, "sample report").await;
    report(&server, &bob, &second, "sample report").await;
    report(&server, &alice, &other, "sample report").await;

    // Exactly one of userId and msgId.
    for body in [json!({"userId": "", "msgId": ""}), json!({})] {
        let refused = server
            .post("moderation.dismissReports", body, Some(&admin))
            .await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused.body["error"].is_string());
    }
    server
        .post(
            "moderation.dismissReports",
            json!({"msgId": "nope"}),
            Some(&admin),
        )
        .await
        .refused(400, "no-reports-found");

    // By message: only that message's reports, with the reason and action given.
    server
        .post(
            "moderation.dismissReports",
            json!({"msgId": first, "reason": "harmless", "action": "Dismissed"}),
            Some(&admin),
        )
        .await
        .ok();
    let reports = server
        .get("moderation.reports", &[("msgId", &first)], Some(&admin))
        .await;
    assert_eq!(reports.ok()["total"], 0);
    let alice_group = by_users(&server, &admin, &[("selector", "alice")]).await;
    assert_eq!(alice_group["reports"][0]["count"], 1);
    server
        .post(
            "moderation.dismissReports",
            json!({"msgId": first}),
            Some(&admin),
        )
        .await
        .refused(400, "no-reports-found");

    // By author: the rest of alice's.
    server
        .post(
            "moderation.dismissReports",
            json!({"userId": alice.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let left = by_users(&server, &admin, &[]).await;
    assert_eq!(left["total"], 1);
    assert_eq!(left["reports"][0]["username"], "bob");
    server
        .post(
            "moderation.dismissReports",
            json!({"userId": alice.user_id}),
            Some(&admin),
        )
        .await
        .refused(400, "no-reports-found");
    server.stop().await;
}

#[tokio::test]
async fn deleting_reported_messages_deletes_them_as_chat_delete_does_and_closes_the_reports() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let first = id_of(&say(&server, &alice, "GENERAL", "spam one").await);
    let second = id_of(&say(&server, &alice, "GENERAL", "spam two").await);
    let kept = id_of(&say(&server, &alice, "GENERAL", "not reported").await);
    report(&server, &bob, &first, "spam").await;
    report(&server, &admin, &first, "spam").await;
    report(&server, &bob, &second, "spam").await;
    let report_id = server
        .get("moderation.reports", &[("msgId", &second)], Some(&admin))
        .await
        .ok()["reports"][0]["_id"]
        .as_str()
        .expect("id")
        .to_owned();

    let mut watcher = Ddp::connect(&server).await;
    watcher.login("bob").await;
    let ready = watcher
        .sub("stream-notify-room", "GENERAL/deleteMessage")
        .await;
    assert_eq!(ready["msg"], "ready", "{ready}");

    let missing = server
        .post(
            "moderation.user.deleteReportedMessages",
            json!({"userId": ""}),
            Some(&admin),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert!(missing.body["error"].is_string());
    server
        .post(
            "moderation.user.deleteReportedMessages",
            json!({"userId": alice.user_id, "reason": "  "}),
            Some(&admin),
        )
        .await
        .ok();

    // Clients are told, as for chat.delete.
    let mut deleted = Vec::new();
    for _ in 0..2 {
        let event = watcher
            .until(|m| m["msg"] == "changed" && m["fields"]["eventName"] == "GENERAL/deleteMessage")
            .await;
        deleted.push(
            event["fields"]["args"][0]["_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    deleted.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(deleted, expected);
    for gone in [&first, &second] {
        let reply = server
            .get("chat.getMessage", &[("msgId", gone)], Some(&admin))
            .await;
        assert_eq!(reply.status, 400, "{gone}: {}", reply.body);
    }
    server
        .get("chat.getMessage", &[("msgId", &kept)], Some(&admin))
        .await
        .ok();

    // The reports are closed as upstream records it.
    let info = server
        .get(
            "moderation.reportInfo",
            &[("reportId", &report_id)],
            Some(&admin),
        )
        .await;
    let report = &info.ok()["report"];
    assert_eq!(report["_hidden"], true);
    assert_eq!(report["moderationInfo"]["action"], "DELETE Messages");
    assert_eq!(report["moderationInfo"]["reason"], "No reason provided");
    assert_eq!(
        report["message"]["msg"], "spam two",
        "the copy outlives the message"
    );
    assert_eq!(by_users(&server, &admin, &[]).await["total"], 0);
    server
        .post(
            "moderation.user.deleteReportedMessages",
            json!({"userId": alice.user_id}),
            Some(&admin),
        )
        .await
        .refused(400, "No reported messages found for this user.");
    server.stop().await;
}
