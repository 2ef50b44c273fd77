//! rooms.export: upstream's parameter checks and errors, and a file export built in the
//! background and delivered to the requester by rocket.cat in their direct room.

use crate::common;

use common::{Auth, TestServer, id_of, post_form, say};
use serde_json::{Value, json};
use std::time::Duration;

async fn channel(server: &TestServer, auth: &Auth, name: &str) -> String {
    let reply = server
        .post("channels.create", json!({"name": name}), Some(auth))
        .await;
    id_of(&reply.ok()["channel"])
}

/// The messages of the caller's direct room with rocket.cat, once it has any.
async fn from_rocket_cat(server: &TestServer, auth: &Auth) -> Vec<Value> {
    for _ in 0..100 {
        let subscriptions = server.get("subscriptions.get", &[], Some(auth)).await;
        let direct = subscriptions.ok()["update"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|s| s["t"] == json!("d") && s["name"] == json!("rocket.cat"))
            })
            .and_then(|s| s["rid"].as_str())
            .map(str::to_owned);
        if let Some(rid) = direct {
            let history = server
                .get("im.history", &[("roomId", &rid)], Some(auth))
                .await;
            let messages = history.ok()["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !messages.is_empty() {
                return messages;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("rocket.cat never wrote");
}

#[tokio::test]
async fn export_requests_are_checked_as_upstream_checks_them() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let rid = channel(&server, &admin, "exported").await;
    let export = |body: Value, auth: &Auth| {
        let server = &server;
        let auth = auth.clone();
        async move { server.post("rooms.export", body, Some(&auth)).await }
    };
    let invalid = |reply: common::Reply, mentions: &str| {
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(
            reply.body["errorType"],
            json!("invalid-params"),
            "{}",
            reply.body
        );
        let error = reply.body["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(mentions), "{error}");
    };
    invalid(
        export(
            json!({"type": "file", "format": "html", "dateFrom": "2024-03-15"}),
            &admin,
        )
        .await,
        "must have required property 'rid'",
    );
    invalid(
        export(json!({"rid": rid, "format": "html"}), &admin).await,
        "must have required property 'type'",
    );
    invalid(
        export(
            json!({"rid": rid, "type": "file", "dateFrom": "test-date", "dateTo": "test-date",
                      "format": "html"}),
            &admin,
        )
        .await,
        "must match format \"date\"",
    );
    invalid(
        export(json!({"rid": rid, "type": "file"}), &admin).await,
        "must have required property 'format'",
    );
    invalid(
        export(json!({"rid": rid, "type": "file", "format": "pdf"}), &admin).await,
        "must be equal to one of the allowed values",
    );
    invalid(
        export(json!({"rid": rid, "type": "fax", "format": "html"}), &admin).await,
        "must match exactly one schema in oneOf",
    );
    let reply = export(
        json!({"rid": rid, "type": "file", "format": "html",
               "dateFrom": "2024-03-22", "dateTo": "2024-03-15"}),
        &admin,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body),
        (
            400,
            json!({"success": false, "error": "From date cannot be after To date [error-invalid-dates]",
                   "errorType": "error-invalid-dates"})
        )
    );
    let reply = export(
        json!({"rid": "no-such-room", "type": "file", "format": "html"}),
        &admin,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body["errorType"].clone()),
        (400, json!("error-invalid-room"))
    );
    // Exporting needs `mail-messages` (admins only by default).
    export(json!({"rid": rid, "type": "file", "format": "html"}), &bob)
        .await
        .refused(400, "Mailing is not allowed [error-action-not-allowed]");
    // Comet sends no email: the email form is refused once its recipients are checked.
    export(
        json!({"rid": rid, "type": "email", "messages": ["x"]}),
        &admin,
    )
    .await
    .refused(400, "[error-invalid-recipient]");
    let reply = export(
        json!({"rid": rid, "type": "email", "toUsers": ["bob"], "messages": ["x"]}),
        &admin,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body["errorType"].clone()),
        (400, json!("error-email-send-failed"))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_file_export_reaches_the_requester_from_rocket_cat() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = channel(&server, &admin, "archive-me").await;
    say(&server, &admin, &rid, "hello <export>").await;
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("notes.txt", "text/plain")), b"some notes")],
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let file_id = body["message"]["file"]["_id"]
        .as_str()
        .expect("file id")
        .to_owned();

    let reply = server
        .post(
            "rooms.export",
            json!({"rid": rid, "type": "file", "format": "json"}),
            Some(&admin),
        )
        .await;
    assert_eq!((reply.status, reply.body), (200, json!({"success": true})));

    let messages = from_rocket_cat(&server, &admin).await;
    let delivered = &messages[0];
    assert_eq!(delivered["u"]["username"], json!("rocket.cat"));
    let file = &delivered["file"];
    assert_eq!(file["type"], json!("application/zip"));
    let name = file["name"].as_str().expect("name");
    assert!(name.ends_with("-data.zip"), "{name}");
    let url = delivered["attachments"][0]["title_link"]
        .as_str()
        .expect("link")
        .to_owned();
    let zip = server
        .http
        .get(format!("{}{url}", server.base))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .send()
        .await
        .expect("download");
    assert_eq!(zip.status().as_u16(), 200);
    let bytes = zip.bytes().await.expect("bytes");
    let text = String::from_utf8_lossy(&bytes);
    assert!(bytes.starts_with(b"PK\x03\x04"));
    // The room's file (named after the room for JSON), a line per message, and the assets.
    assert!(text.contains("archive-me.json"), "{text}");
    assert!(text.contains(r#""msg":"hello <export>""#), "{text}");
    assert!(
        text.contains(&format!("assets/{file_id}-notes.txt")),
        "{text}"
    );
    assert!(text.contains("some notes"), "{text}");
    server.stop().await;
}
