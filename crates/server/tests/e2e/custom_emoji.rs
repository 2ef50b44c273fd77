//! Custom emoji end to end: `emoji-custom.create`/`update`/`delete`/`list`/`all` with
//! upstream's answers and refusals, the `/emoji-custom/` file route and its caching headers,
//! `updateEmojiCustom`/`deleteEmojiCustom` on `stream-notify-logged`, DDP `listEmojiCustom`,
//! and reactions with a custom emoji.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, Part, TestServer};
use serde_json::{Value, json};

fn png() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
        .expect("png")
}

fn gif() -> Vec<u8> {
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()
}

async fn form(server: &TestServer, path: &str, parts: &[Part<'_>], auth: &Auth) -> (u16, Value) {
    common::post_form(server, path, parts, auth).await
}

async fn create(server: &TestServer, auth: &Auth, name: &str, aliases: &str) -> (u16, Value) {
    let image = png();
    form(
        server,
        "emoji-custom.create",
        &[
            ("emoji", Some(("e.png", "image/png")), &image),
            ("name", None, name.as_bytes()),
            ("aliases", None, aliases.as_bytes()),
        ],
        auth,
    )
    .await
}

async fn find(server: &TestServer, auth: &Auth, name: &str) -> Value {
    let reply = server.get("emoji-custom.list", &[], Some(auth)).await;
    reply.ok()["emojis"]["update"]
        .as_array()
        .expect("update")
        .iter()
        .find(|e| e["name"] == json!(name))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn emoji_are_created_listed_updated_and_deleted_as_upstream() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let user = server.new_user("emojiuser").await;

    let (status, body) = create(&server, &admin, "Party Parrot", "parrot, :bird:").await;
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    let emoji = find(&server, &admin, "party_parrot").await;
    assert_eq!(emoji["aliases"], json!(["parrot", "bird"]), "{emoji}");
    assert_eq!(emoji["extension"], json!("png"));
    assert!(emoji["etag"].is_string() && emoji["_updatedAt"].is_string());
    let id = emoji["_id"].as_str().expect("id").to_owned();

    // Names and aliases are unique across every emoji.
    for (name, aliases) in [("parrot", ""), ("other", "party_parrot"), ("other", "bird")] {
        let (status, body) = create(&server, &admin, name, aliases).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["errorType"],
            json!("Custom_Emoji_Error_Name_Or_Alias_Already_In_Use"),
            "{body}"
        );
    }
    let (status, body) = create(&server, &admin, "bad<name", "").await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("error-input-is-not-a-valid-field"))
    );
    assert_eq!(
        body["error"],
        json!("bad<name is not a valid name [error-input-is-not-a-valid-field]")
    );
    let (status, body) = create(&server, &admin, "fine", "a|b").await;
    assert_eq!(
        body["error"],
        json!("a|b is not a valid alias set [error-input-is-not-a-valid-field]")
    );
    assert_eq!(status, 400);
    let (status, body) = create(&server, &admin, "  ", "").await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("error-the-field-is-required"))
    );
    // Only holders of manage-emoji; only images.
    let (status, body) = create(&server, &user, "mine", "").await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("not_authorized")),
        "{body}"
    );
    let text = b"just text".to_vec();
    let (status, body) = form(
        &server,
        "emoji-custom.create",
        &[
            ("emoji", Some(("e.png", "image/png")), &text),
            ("name", None, b"textual"),
        ],
        &admin,
    )
    .await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("emoji-is-not-image")),
        "{body}"
    );
    let image = png();
    let (status, body) = form(
        &server,
        "emoji-custom.create",
        &[
            ("emojiwrong", Some(("e.png", "image/png")), &image),
            ("name", None, b"x"),
        ],
        &admin,
    )
    .await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("invalid-field")),
        "{body}"
    );

    // emoji-custom.all pages and filters by name.
    create(&server, &admin, "zebra", "").await;
    let all = server
        .get("emoji-custom.all", &[("count", "1")], Some(&admin))
        .await;
    let all = all.ok();
    assert_eq!(
        (
            all["count"].clone(),
            all["total"].clone(),
            all["offset"].clone()
        ),
        (json!(1), json!(2), json!(0))
    );
    let named = server
        .get("emoji-custom.all", &[("name", "zeb")], Some(&user))
        .await;
    assert_eq!(named.ok()["emojis"][0]["name"], json!("zebra"));

    // Update: refusals first, in upstream's order.
    let (status, body) = form(
        &server,
        "emoji-custom.update",
        &[("name", None, b"x")],
        &admin,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errorType"],
        json!("The required \"_id\" query param is missing.")
    );
    let (status, body) = form(
        &server,
        "emoji-custom.update",
        &[("_id", None, b"nope"), ("name", None, b"x")],
        &admin,
    )
    .await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("Emoji not found."))
    );
    let (status, body) = form(
        &server,
        "emoji-custom.update",
        &[("_id", None, id.as_bytes()), ("name", None, b"zebra")],
        &admin,
    )
    .await;
    assert_eq!(
        (status, &body["errorType"]),
        (
            400,
            &json!("Custom_Emoji_Error_Name_Or_Alias_Already_In_Use")
        )
    );
    // A rename without a file keeps the image; a new file changes the etag and extension.
    let before = find(&server, &admin, "party_parrot").await;
    let (status, body) = form(
        &server,
        "emoji-custom.update",
        &[
            ("_id", None, id.as_bytes()),
            ("name", None, b"parrot"),
            ("aliases", None, b""),
        ],
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let renamed = find(&server, &admin, "parrot").await;
    assert_eq!(
        (renamed["aliases"].clone(), renamed["etag"].clone()),
        (json!([]), before["etag"].clone())
    );
    let image = gif();
    let (status, body) = form(
        &server,
        "emoji-custom.update",
        &[
            ("_id", None, id.as_bytes()),
            ("name", None, b"parrot"),
            ("emoji", Some(("p.gif", "image/gif")), &image),
        ],
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let updated = find(&server, &admin, "parrot").await;
    assert_eq!(updated["extension"], json!("gif"));
    assert_ne!(updated["etag"], before["etag"]);

    // updatedSince: changes and deletions since then.
    let since = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let reply = server
        .get(
            "emoji-custom.list",
            &[("updatedSince", &since)],
            Some(&user),
        )
        .await;
    assert_eq!(reply.ok()["emojis"], json!({"update": [], "remove": []}));
    let bad = server
        .get(
            "emoji-custom.list",
            &[("updatedSince", "invalid-date")],
            Some(&user),
        )
        .await;
    assert_eq!(
        (bad.status, &bad.body["errorType"]),
        (400, &json!("error-roomId-param-invalid"))
    );

    // Delete: refusals, then the emoji goes and clients learn of it.
    server
        .post("emoji-custom.delete", json!({}), Some(&admin))
        .await
        .refused(400, "The \"emojiId\" params is required!");
    let reply = server
        .post(
            "emoji-custom.delete",
            json!({"emojiId": "nope"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        reply.body["errorType"],
        json!("Custom_Emoji_Error_Invalid_Emoji")
    );
    let reply = server
        .post("emoji-custom.delete", json!({"emojiId": id}), Some(&user))
        .await;
    assert_eq!(
        (reply.status, &reply.body["errorType"]),
        (400, &json!("not_authorized"))
    );
    server
        .post("emoji-custom.delete", json!({"emojiId": id}), Some(&admin))
        .await
        .ok();
    let reply = server
        .get(
            "emoji-custom.list",
            &[("updatedSince", &since)],
            Some(&user),
        )
        .await;
    let remove = &reply.ok()["emojis"]["remove"];
    assert_eq!(remove[0]["_id"], json!(id), "{remove}");
    assert_eq!(find(&server, &admin, "parrot").await, Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn emoji_files_are_served_with_upstream_headers() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    create(&server, &admin, "shiny", "").await;
    let url = |path: &str| format!("{}{path}", server.base);

    let root = server
        .http
        .get(url("/emoji-custom/"))
        .send()
        .await
        .expect("root");
    assert_eq!(root.status().as_u16(), 403);
    assert_eq!(root.text().await.expect("text"), "Forbidden");

    let missing = server
        .http
        .get(url("/emoji-custom/invalid"))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status().as_u16(), 200);
    let headers = missing.headers();
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert_eq!(headers["last-modified"], "Thu, 01 Jan 2015 00:00:00 GMT");
    assert_eq!(headers["cache-control"], "public, max-age=0");
    assert_eq!(headers["expires"], "-1");
    assert_eq!(headers["content-disposition"], "inline");
    let not_modified = server
        .http
        .get(url("/emoji-custom/invalid"))
        .header("If-Modified-Since", "Thu, 01 Jan 2015 00:00:00 GMT")
        .send()
        .await
        .expect("conditional");
    assert_eq!(not_modified.status().as_u16(), 304);

    // No login needed, as upstream.
    let found = server
        .http
        .get(url("/emoji-custom/shiny.png"))
        .send()
        .await
        .expect("found");
    assert_eq!(found.status().as_u16(), 200);
    let headers = found.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["cache-control"], "public, max-age=31536000");
    assert_eq!(headers["content-disposition"], "inline");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(found.bytes().await.expect("bytes").to_vec(), png());
    let last_modified = headers["last-modified"].to_str().expect("date").to_owned();
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    let again = server
        .http
        .get(url("/emoji-custom/shiny.png"))
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .expect("since");
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(again.headers()["last-modified"], last_modified.as_str());
    assert!(again.headers().get("content-type").is_none());
    let by_etag = server
        .http
        .get(url("/emoji-custom/shiny.png"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("etag");
    assert_eq!(by_etag.status().as_u16(), 304);
    let stale = server
        .http
        .get(url("/emoji-custom/shiny.png?etag=1234"))
        .header("If-None-Match", "\"invalid-etag\"")
        .send()
        .await
        .expect("stale");
    assert_eq!(stale.status().as_u16(), 200);
    // The wrong extension is the fallback picture, never another file.
    let wrong = server
        .http
        .get(url("/emoji-custom/shiny.gif"))
        .send()
        .await
        .expect("wrong");
    assert_eq!(wrong.headers()["content-type"], "image/svg+xml");
    server.stop().await;
}

#[tokio::test]
async fn emoji_changes_reach_logged_in_sessions_and_ddp_lists_them() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.new_user("watcher").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("watcher").await;
    for event in ["updateEmojiCustom", "deleteEmojiCustom"] {
        let ready = ddp.sub("stream-notify-logged", event).await;
        assert_eq!(ready["msg"], json!("ready"), "{ready}");
    }
    create(&server, &admin, "wave", "hello").await;
    let changed = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["eventName"] == "updateEmojiCustom")
        .await;
    let data = &changed["fields"]["args"][0]["emojiData"];
    assert_eq!(
        (data["name"].clone(), data["aliases"].clone()),
        (json!("wave"), json!(["hello"])),
        "{changed}"
    );
    assert_eq!(changed["collection"], json!("stream-notify-logged"));
    let id = data["_id"].as_str().expect("id").to_owned();

    let listed = ddp.call("listEmojiCustom", json!([])).await;
    assert_eq!(listed["result"][0]["name"], json!("wave"), "{listed}");
    assert!(
        listed["result"][0]["_updatedAt"]["$date"].is_i64(),
        "{listed}"
    );
    let filtered = ddp
        .call("listEmojiCustom", json!([{"name": "other"}]))
        .await;
    assert_eq!(filtered["result"], json!([]));

    // A reaction with a custom emoji.
    let general = server
        .get("channels.info", &[("roomName", "general")], Some(&admin))
        .await;
    let rid = general.ok()["channel"]["_id"]
        .as_str()
        .expect("rid")
        .to_owned();
    let message = common::say(&server, &admin, &rid, "hi :wave:").await;
    let mid = message["_id"].as_str().expect("mid").to_owned();
    server
        .post(
            "chat.react",
            json!({"messageId": mid, "emoji": ":wave:"}),
            Some(&admin),
        )
        .await
        .ok();
    let got = server
        .get("chat.getMessage", &[("msgId", &mid)], Some(&admin))
        .await;
    assert!(
        got.ok()["message"]["reactions"][":wave:"].is_object(),
        "{}",
        got.body
    );

    let refused = ddp.call("deleteEmojiCustom", json!([id])).await;
    assert_eq!(
        refused["error"]["error"],
        json!("not_authorized"),
        "{refused}"
    );
    server
        .post("emoji-custom.delete", json!({"emojiId": id}), Some(&admin))
        .await
        .ok();
    let deleted = ddp
        .until(|m| m["msg"] == "changed" && m["fields"]["eventName"] == "deleteEmojiCustom")
        .await;
    assert_eq!(deleted["fields"]["args"][0]["emojiData"]["_id"], json!(id));
    server.stop().await;
}

/// Upstream reads the update form with busboy, which takes a URL-encoded body as well:
/// clients (rocketchat-api's `custom_emoji_update` without a new image) send one.
#[tokio::test]
async fn an_emoji_is_updated_from_a_url_encoded_form() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (status, body) = create(&server, &admin, "wave", "").await;
    assert_eq!(status, 200, "{body}");
    let id = find(&server, &admin, "wave").await["_id"]
        .as_str()
        .expect("id")
        .to_owned();

    let response = server
        .http
        .post(format!("{}/api/v1/emoji-custom.update", server.base))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("_id={id}&name=hello_wave&aliases=hi%2C+yo"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("json");
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    let renamed = find(&server, &admin, "hello_wave").await;
    assert_eq!(renamed["_id"], json!(id));
    assert_eq!(renamed["aliases"], json!(["hi", "yo"]));
    assert_eq!(find(&server, &admin, "wave").await, Value::Null);
}
