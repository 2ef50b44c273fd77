//! What a posted message may carry, against upstream Rocket.Chat 8.x's `validateMessage` and
//! the chat endpoints' parameter checks: impersonation needs `message-impersonate`, link fields
//! are never `javascript:`, attachment fields have their types and sizes, custom fields follow
//! the operator's schema.

use crate::common;

use common::{Auth, TestServer, id_of, say};
use serde_json::{Value, json};

async fn channel(server: &TestServer, auth: &Auth, name: &str) -> String {
    let reply = server
        .post("channels.create", json!({"name": name}), Some(auth))
        .await;
    id_of(&reply.ok()["channel"])
}

#[tokio::test]
async fn posting_as_someone_else_needs_message_impersonate() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = channel(&server, &admin, "impersonation").await;
    for body in [
        json!({"message": {"rid": rid, "msg": "hi", "alias": "Gruggy"}}),
        json!({"message": {"rid": rid, "msg": "hi", "avatar": "http://site.com/logo.png"}}),
    ] {
        server
            .post("chat.sendMessage", body, Some(&admin))
            .await
            .refused(400, "Not enough permission");
    }
    server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "hi", "alias": "Gruggy"}),
            Some(&admin),
        )
        .await
        .refused(400, "Not enough permission");

    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "message-impersonate", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    let sent = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "hi", "alias": "Gruggy", "avatar": "/avatar/x"}),
            Some(&admin),
        )
        .await;
    let message = &sent.ok()["message"];
    assert_eq!(message["alias"], json!("Gruggy"));
    assert_eq!(message["avatar"], json!("/avatar/x"));
    // Even with the permission, a script is no picture.
    server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "hi", "avatar": "javascript:alert(1)"}),
            Some(&admin),
        )
        .await
        .refused(400, "Invalid href value provided");
    server.stop().await;
}

#[tokio::test]
async fn attachments_never_carry_scripts_and_keep_their_types() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = channel(&server, &admin, "attachments").await;
    let post = |attachments: Value| {
        let body = json!({"roomId": rid, "text": "look", "attachments": attachments});
        let server = &server;
        let admin = &admin;
        async move { server.post("chat.postMessage", body, Some(admin)).await }
    };
    for field in [
        "message_link",
        "author_link",
        "title_link",
        "thumb_url",
        "author_icon",
        "image_url",
        "audio_url",
        "video_url",
    ] {
        post(json!([{ field: "javascript:alert(\"xss\")" }]))
            .await
            .refused(400, "Invalid href value provided");
    }
    post(json!([{"actions": [{"type": "button", "text": "x", "url": "JAVASCRIPT:alert(1)"}]}]))
        .await
        .refused(400, "Invalid href value provided");
    post(json!([{"actions": [{"image_url": "javascript:alert(1)"}]}]))
        .await
        .refused(400, "Invalid href value provided");
    post(json!([{"message_link": 12}])).await.refused(
        400,
        "Match error: Expected string, got number in field message_link",
    );
    let wrong = post(json!([{"title_link_download": "https://youtube.com"}])).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let wrong = post(json!([{"fields": ""}])).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let wrong = post(json!([{"fields": [{"short": true, "title": 12, "value": false}]}])).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);

    let fine = post(json!([{
        "color": "#ff0000",
        "text": "Yay",
        "title": "Attachment",
        "title_link": "https://youtube.com",
        "actions": [{"type": "button", "text": "Open", "url": "https://rocket.chat"}],
        "fields": [{"short": true, "title": "Test", "value": "Testing"}],
    }]))
    .await;
    assert_eq!(
        fine.ok()["message"]["attachments"][0]["title"],
        json!("Attachment")
    );

    // Message_MaxAllowedSize limits attachment texts as it limits the text.
    server
        .set_setting(&admin, "Message_MaxAllowedSize", json!(10))
        .await;
    post(json!([{"text": "a text longer than ten characters"}]))
        .await
        .refused(400, "error-message-size-exceeded");
    post(json!([{"text": "short"}, {"text": "the second one is far too long"}]))
        .await
        .refused(400, "error-message-size-exceeded");
    server.stop().await;
}

#[tokio::test]
async fn custom_fields_only_when_enabled_and_as_the_schema_says() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = channel(&server, &admin, "custom-fields").await;
    let send = |fields: Value| {
        let body = json!({"message": {"rid": rid, "msg": "with fields", "customFields": fields}});
        let server = &server;
        let admin = &admin;
        async move { server.post("chat.sendMessage", body, Some(admin)).await }
    };
    send(json!({"priority": "low"}))
        .await
        .refused(400, "Custom fields not enabled");
    server
        .set_setting(&admin, "Message_CustomFields_Enabled", json!(true))
        .await;
    send(json!({})).await.refused(400, "Invalid custom fields");
    send(json!({"field1": "value1"}))
        .await
        .refused(400, "Invalid custom fields");
    send(json!({"priority": "urgent"}))
        .await
        .refused(400, "Invalid custom fields");
    let sent = send(json!({"priority": "low"})).await;
    let message = sent.ok()["message"].clone();
    assert_eq!(message["customFields"], json!({"priority": "low"}));
    let stored = server
        .get(
            "chat.getMessage",
            &[("msgId", &id_of(&message))],
            Some(&admin),
        )
        .await;
    assert_eq!(
        stored.ok()["message"]["customFields"],
        json!({"priority": "low"})
    );
    server.stop().await;
}

#[tokio::test]
async fn chat_parameters_are_refused_as_upstream_schemas_refuse_them() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = channel(&server, &admin, "chat-params").await;
    let root = say(&server, &admin, &rid, "a thread").await;
    server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "tmid": id_of(&root), "msg": "reply"}}),
            Some(&admin),
        )
        .await
        .ok();

    server
        .post(
            "chat.sendMessage",
            json!({"message": {"msg": "no room"}}),
            Some(&admin),
        )
        .await
        .refused(400, "The 'rid' property on the message object is missing.");
    let bad_type = server
        .get(
            "chat.getThreadsList",
            &[("rid", &rid), ("type", "invalid-type")],
            Some(&admin),
        )
        .await;
    assert_eq!(bad_type.status, 400);
    assert_eq!(bad_type.body["errorType"], json!("invalid-params"));
    let all = server
        .get(
            "chat.getThreadsList",
            &[("rid", &rid), ("type", "all")],
            Some(&admin),
        )
        .await;
    assert_eq!(all.ok()["threads"].as_array().map(Vec::len), Some(1));
    // The author has read their own thread: nothing unread.
    let unread = server
        .get(
            "chat.getThreadsList",
            &[("rid", &rid), ("type", "unread")],
            Some(&admin),
        )
        .await;
    assert_eq!(unread.ok()["threads"], json!([]));

    for path in ["chat.syncThreadsList"] {
        server
            .get(path, &[("rid", &rid)], Some(&admin))
            .await
            .refused(
                400,
                "must have required property 'updatedSince' [invalid-params]",
            );
        server
            .get(
                path,
                &[("rid", &rid), ("updatedSince", "invalid-date")],
                Some(&admin),
            )
            .await
            .refused(400, "must match format \"iso-date-time\" [invalid-params]");
    }
    server
        .get(
            "chat.syncThreadMessages",
            &[("tmid", &id_of(&root))],
            Some(&admin),
        )
        .await
        .refused(
            400,
            "must have required property 'updatedSince' [invalid-params]",
        );
    let synced = server
        .get(
            "chat.syncThreadMessages",
            &[
                ("tmid", &id_of(&root)),
                ("updatedSince", "2020-01-01T00:00:00.000Z"),
            ],
            Some(&admin),
        )
        .await;
    assert_eq!(
        synced.ok()["messages"]["update"].as_array().map(Vec::len),
        Some(1)
    );
    server
        .get("chat.syncMessages", &[], Some(&admin))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");
    for path in ["chat.getStarredMessages", "chat.getMentionedMessages"] {
        server
            .get(path, &[("roomId", "invalid-room")], Some(&admin))
            .await
            .refused(400, "error-not-allowed");
    }
    server
        .get(
            "chat.getDiscussions",
            &[("roomId", "invalid-room")],
            Some(&admin),
        )
        .await
        .refused(400, "error-not-allowed");
    server.stop().await;
}

#[tokio::test]
async fn edits_change_custom_fields_under_the_same_rules() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = channel(&server, &admin, "edited-fields").await;
    let message = say(&server, &admin, &rid, "Sample message").await;
    let msg_id = id_of(&message);
    let update = |text: &str, fields: Option<Value>| {
        let mut body = json!({"roomId": rid, "msgId": msg_id, "text": text});
        if let Some(fields) = fields {
            body["customFields"] = fields;
        }
        let server = &server;
        let admin = &admin;
        async move { server.post("chat.update", body, Some(admin)).await }
    };
    update("Sample message", Some(json!({"priority": "low"})))
        .await
        .refused(400, "Custom fields not enabled");
    server
        .set_setting(&admin, "Message_CustomFields_Enabled", json!(true))
        .await;
    update("Updated", Some(json!({})))
        .await
        .refused(400, "Invalid custom fields");
    update("Updated", Some(json!({"field1": "value1"})))
        .await
        .refused(400, "Invalid custom fields");
    let reply = update("Updated", Some(json!("low"))).await;
    assert_eq!(
        (reply.status, reply.body["errorType"].clone()),
        (400, json!("invalid-params"))
    );
    // Refused edits change nothing.
    let stored = server
        .get("chat.getMessage", &[("msgId", &msg_id)], Some(&admin))
        .await;
    assert_eq!(stored.ok()["message"]["msg"], json!("Sample message"));
    assert!(stored.body["message"].get("customFields").is_none());

    let edited = update("Updated", Some(json!({"priority": "low"}))).await;
    assert_eq!(edited.ok()["message"]["msg"], json!("Updated"));
    assert_eq!(
        edited.body["message"]["customFields"],
        json!({"priority": "low"})
    );
    // The fields alone may change, the text staying as it was.
    let edited = update("Updated", Some(json!({"priority": "high"}))).await;
    assert_eq!(edited.ok()["message"]["msg"], json!("Updated"));
    assert_eq!(
        edited.body["message"]["customFields"],
        json!({"priority": "high"})
    );
    // An edit without them keeps them.
    let edited = update("Updated again", None).await;
    assert_eq!(
        edited.ok()["message"]["customFields"],
        json!({"priority": "high"})
    );
    server.stop().await;
}
