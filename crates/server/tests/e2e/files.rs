//! File uploads: rooms.upload, rooms.media + rooms.mediaConfirm, downloads from
//! /file-upload/:id/:name with each form of authentication, room file listings, limits and
//! type lists, and deleting a file with its message.

use crate::common;

use common::{Auth, TestServer, post_form, say};
use serde_json::{Value, json};

/// A PNG header claiming 2×3 pixels (enough for sniffing and dimensions).
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(&2u32.to_be_bytes());
    bytes.extend_from_slice(&3u32.to_be_bytes());
    bytes.extend_from_slice(b"\x08\x06\0\0\0rest-of-image");
    bytes
}

async fn group(server: &TestServer, owner: &Auth, name: &str, members: &[&str]) -> String {
    server
        .post(
            "groups.create",
            json!({"name": name, "members": members}),
            Some(owner),
        )
        .await
        .ok()["group"]["_id"]
        .as_str()
        .expect("group id")
        .to_owned()
}

/// Files in the uploads directory (temporary files included).
fn stored_files(server: &TestServer) -> Vec<String> {
    let mut names = Vec::new();
    for dir in ["uploads", "uploads/tmp"] {
        if let Ok(entries) = std::fs::read_dir(server.data_dir().join(dir)) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // Avatars (the bot's, from the start) are not message uploads.
                if entry.file_type().is_ok_and(|t| t.is_file()) && !name.starts_with("avatar-") {
                    names.push(name);
                }
            }
        }
    }
    names
}

async fn download(
    server: &TestServer,
    path: &str,
    setup: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> reqwest::Response {
    setup(server.http.get(format!("{}{path}", server.base)))
        .send()
        .await
        .expect("download")
}

#[tokio::test]
async fn upload_then_download_with_every_authentication_and_refuse_outsiders() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = group(&server, &alice, "secret", &["bob"]).await;

    let image = png();
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[
            ("msg", None, b"look at this"),
            ("description", None, b"a tiny picture"),
            ("file", Some(("pic ü.png", "image/png")), &image),
        ],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let message = &body["message"];
    assert_eq!(message["msg"], json!("look at this"));
    assert_eq!(message["rid"], json!(rid));
    let file_id = message["file"]["_id"].as_str().expect("file id").to_owned();
    assert_eq!(message["files"][0], message["file"]);
    assert_eq!(
        message["file"],
        json!({"_id": file_id, "name": "pic ü.png", "type": "image/png", "size": image.len(),
               "format": "png", "typeGroup": "image"})
    );
    let url = format!("/file-upload/{file_id}/pic%20%C3%BC.png");
    assert_eq!(
        message["attachments"][0],
        json!({
            "title": "pic ü.png",
            "type": "file",
            "description": "a tiny picture",
            "title_link": url,
            "title_link_download": true,
            "image_url": url,
            "image_type": "image/png",
            "image_size": image.len(),
            "image_dimensions": {"width": 2, "height": 3},
            "fileId": file_id,
        })
    );
    assert_eq!(message["groupable"], json!(false));

    // Headers, cookies and query parameters all authenticate a member.
    let by_header = download(&server, &url, |r| {
        r.header("X-User-Id", &bob.user_id)
            .header("X-Auth-Token", &bob.token)
    })
    .await;
    assert_eq!(by_header.status().as_u16(), 200);
    let headers = by_header.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .expect("csp")
            .starts_with("sandbox")
    );
    assert_eq!(
        headers["content-disposition"],
        "inline; filename=\"pic _.png\"; filename*=UTF-8''pic%20%C3%BC.png"
    );
    assert_eq!(
        by_header.bytes().await.expect("bytes").as_ref(),
        image.as_slice()
    );
    let by_cookie = download(&server, &url, |r| {
        r.header(
            "Cookie",
            format!("rc_uid={}; rc_token={}", bob.user_id, bob.token),
        )
    })
    .await;
    assert_eq!(by_cookie.status().as_u16(), 200);
    let by_query = download(&server, &url, |r| {
        r.query(&[("rc_uid", &bob.user_id), ("rc_token", &bob.token)])
    })
    .await;
    assert_eq!(by_query.status().as_u16(), 200);

    // Outsiders and anonymous callers are refused.
    let outsider = download(&server, &url, |r| {
        r.header("X-User-Id", &carol.user_id)
            .header("X-Auth-Token", &carol.token)
    })
    .await;
    assert_eq!(outsider.status().as_u16(), 403);
    assert_eq!(
        outsider.json::<Value>().await.expect("json"),
        json!({"success": false, "error": "unauthorized"})
    );
    let anonymous = download(&server, &url, |r| r).await;
    assert_eq!(anonymous.status().as_u16(), 403);
    let missing = download(&server, "/file-upload/nosuchfile/x.png", |r| {
        r.header("X-User-Id", &bob.user_id)
            .header("X-Auth-Token", &bob.token)
    })
    .await;
    assert_eq!(missing.status().as_u16(), 404);

    // Ranges and revalidation.
    let etag = headers["etag"].clone();
    let partial = download(&server, &url, |r| {
        r.header("X-User-Id", &bob.user_id)
            .header("X-Auth-Token", &bob.token)
            .header("Range", "bytes=1-3")
    })
    .await;
    assert_eq!(partial.status().as_u16(), 206);
    assert_eq!(
        partial.headers()["content-range"],
        format!("bytes 1-3/{}", image.len()).as_str()
    );
    assert_eq!(partial.bytes().await.expect("bytes").as_ref(), &image[1..4]);
    let unsatisfiable = download(&server, &url, |r| {
        r.header("X-User-Id", &bob.user_id)
            .header("X-Auth-Token", &bob.token)
            .header("Range", "bytes=9999-")
    })
    .await;
    assert_eq!(unsatisfiable.status().as_u16(), 416);
    let cached = download(&server, &url, |r| {
        r.header("X-User-Id", &bob.user_id)
            .header("X-Auth-Token", &bob.token)
            .header("If-None-Match", etag)
    })
    .await;
    assert_eq!(cached.status().as_u16(), 304);

    // A non-member cannot upload either.
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("a.png", "image/png")), &image)],
        &carol,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body, json!({"success": false, "error": "unauthorized"}));
    server.stop().await;
}

#[tokio::test]
async fn media_then_confirm_and_room_listings() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "docs", &[]).await;

    let (status, body) = post_form(
        &server,
        &format!("rooms.media/{rid}"),
        &[("file", Some(("notes.txt", "text/plain")), b"some notes\n")],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let file_id = body["file"]["_id"].as_str().expect("id").to_owned();
    assert_eq!(
        body,
        json!({"file": {"_id": file_id, "url": format!("/file-upload/{file_id}/notes.txt")},
               "success": true})
    );

    // Unconfirmed files are listed unless only confirmed ones are asked for.
    let listed = server
        .get("groups.files", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(listed.ok()["total"], json!(1));
    let confirmed = server
        .get(
            "groups.files",
            &[("roomId", &rid), ("onlyConfirmed", "true")],
            Some(&alice),
        )
        .await;
    assert_eq!(confirmed.ok()["total"], json!(0));

    let reply = server
        .post(
            &format!("rooms.mediaConfirm/{rid}/{file_id}"),
            json!({"msg": "minutes", "description": "monday"}),
            Some(&alice),
        )
        .await;
    let message = &reply.ok()["message"];
    assert_eq!(message["msg"], json!("minutes"));
    assert_eq!(
        message["attachments"][0],
        json!({
            "title": "notes.txt",
            "type": "file",
            "description": "monday",
            "title_link": format!("/file-upload/{file_id}/notes.txt"),
            "title_link_download": true,
            "format": "TXT",
            "size": 11,
            "fileId": file_id,
        })
    );
    let again = server
        .post(
            &format!("rooms.mediaConfirm/{rid}/{file_id}"),
            json!({"msg": "twice"}),
            Some(&alice),
        )
        .await;
    again.refused(400, "[invalid-file]");

    let listed = server
        .get(
            "groups.files",
            &[("roomId", &rid), ("onlyConfirmed", "true")],
            Some(&alice),
        )
        .await;
    let body = listed.ok();
    assert_eq!(
        (body["total"].clone(), body["count"].clone()),
        (json!(1), json!(1))
    );
    let file = &body["files"][0];
    assert_eq!(file["_id"], json!(file_id));
    assert_eq!(file["name"], json!("notes.txt"));
    assert_eq!(file["type"], json!("text/plain"));
    assert_eq!(file["description"], json!("monday"));
    assert_eq!(file["complete"], json!(true));
    assert_eq!(file["user"]["username"], json!("alice"));
    let by_type = server
        .get(
            "groups.files",
            &[("roomId", &rid), ("typeGroup", "image")],
            Some(&alice),
        )
        .await;
    assert_eq!(by_type.ok()["total"], json!(0));

    // channels.files and im.files answer for their own room types.
    let channel = server
        .post(
            "channels.create",
            json!({"name": "open-files"}),
            Some(&alice),
        )
        .await;
    let cid = channel.ok()["channel"]["_id"]
        .as_str()
        .expect("cid")
        .to_owned();
    let listed = server
        .get("channels.files", &[("roomId", &cid)], Some(&alice))
        .await;
    assert_eq!(listed.ok()["files"], json!([]));
    server.new_user("bob").await;
    let im = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let dm = im.ok()["room"]["_id"].as_str().expect("dm id").to_owned();
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{dm}"),
        &[("file", Some(("hi.txt", "text/plain")), b"hi")],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let listed = server
        .get("im.files", &[("roomId", &dm)], Some(&alice))
        .await;
    assert_eq!(listed.ok()["total"], json!(1));
    server.stop().await;
}

#[tokio::test]
async fn limits_and_type_lists_leave_nothing_behind() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = group(&server, &admin, "limits", &[]).await;

    // The default deny list refuses SVG, whatever the client claims.
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("cat.png", "image/png")), svg)],
        &admin,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        json!({"success": false, "error": "File type is not accepted. [error-invalid-file-type]",
               "errorType": "error-invalid-file-type"})
    );

    // HTML is stored as what it is and only ever downloaded, in a sandbox.
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[(
            "file",
            Some(("page.png", "image/png")),
            b"<!DOCTYPE html><script>x</script>",
        )],
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["file"]["type"], json!("text/html"));
    let url = body["message"]["attachments"][0]["title_link"]
        .as_str()
        .expect("url")
        .to_owned();
    let served = download(&server, &url, |r| {
        r.header("X-User-Id", &admin.user_id)
            .header("X-Auth-Token", &admin.token)
    })
    .await;
    assert_eq!(served.headers()["content-type"], "text/html");
    assert!(
        served.headers()["content-disposition"]
            .to_str()
            .expect("disposition")
            .starts_with("attachment;")
    );
    let stored_before = stored_files(&server);

    // An allow list keeps out everything else.
    server
        .post(
            "settings/FileUpload_MediaTypeWhiteList",
            json!({"value": "image/*"}),
            Some(&admin),
        )
        .await
        .ok();
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("a.txt", "text/plain")), b"text")],
        &admin,
    )
    .await;
    assert_eq!(
        (status, body["errorType"].clone()),
        (400, json!("error-invalid-file-type"))
    );

    server
        .post(
            "settings/FileUpload_MaxFileSize",
            json!({"value": 10}),
            Some(&admin),
        )
        .await
        .ok();
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("big.png", "image/png")), &png())],
        &admin,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        json!({"success": false, "error": "File exceeds allowed size of 10 B. [error-file-too-large]",
               "errorType": "error-file-too-large"})
    );
    // Refused uploads keep nothing: no blob, no temporary file, no record.
    assert_eq!(stored_files(&server), stored_before);
    let listed = server
        .get("groups.files", &[("roomId", &rid)], Some(&admin))
        .await;
    assert_eq!(listed.ok()["total"], json!(1));

    // A form without a file.
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("msg", None, b"no file")],
        &admin,
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("No file uploaded"))
    );
    server.stop().await;
}

#[tokio::test]
async fn deleting_the_message_deletes_the_file() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "ephemeral", &[]).await;
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("pic.png", "image/png")), &png())],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let message_id = body["message"]["_id"].as_str().expect("id").to_owned();
    let file_id = body["message"]["file"]["_id"]
        .as_str()
        .expect("file")
        .to_owned();
    assert_eq!(stored_files(&server), vec![file_id.clone()]);

    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": message_id}),
            Some(&alice),
        )
        .await
        .ok();
    assert!(stored_files(&server).is_empty());
    let gone = download(&server, &format!("/file-upload/{file_id}/pic.png"), |r| {
        r.header("X-User-Id", &alice.user_id)
            .header("X-Auth-Token", &alice.token)
    })
    .await;
    assert_eq!(gone.status().as_u16(), 404);
    let listed = server
        .get("groups.files", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(listed.ok()["total"], json!(0));

    // Deleting the room deletes its files.
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("again.png", "image/png")), &png())],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_files(&server).len(), 1);
    server
        .post("groups.delete", json!({"roomId": rid}), Some(&alice))
        .await
        .ok();
    assert!(stored_files(&server).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn uploads_per_user_are_rate_limited_and_refusals_keep_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "busy", &["admin"]).await;
    server
        .post(
            "settings/FileUpload_Rate_Limit_Per_Minute",
            json!({"value": 2}),
            Some(&admin),
        )
        .await
        .ok();

    for name in ["one.txt", "two.txt"] {
        let (status, body) = post_form(
            &server,
            &format!("rooms.media/{rid}"),
            &[("file", Some((name, "text/plain")), b"hello")],
            &alice,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("three.txt", "text/plain")), b"hello")],
        &alice,
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Error, too many requests.")),
        "{body}"
    );
    assert_eq!(stored_files(&server).len(), 2, "the refused file was kept");

    // The limit is per user, and users who may bypass rate limits (admins) are not counted.
    for name in ["a.txt", "b.txt", "c.txt"] {
        let (status, body) = post_form(
            &server,
            &format!("rooms.upload/{rid}"),
            &[("file", Some((name, "text/plain")), b"hello")],
            &admin,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    // 0 turns the limit off.
    server
        .post(
            "settings/FileUpload_Rate_Limit_Per_Minute",
            json!({"value": 0}),
            Some(&admin),
        )
        .await
        .ok();
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("four.txt", "text/plain")), b"hello")],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn clean_history_removes_files_or_only_files() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "pruned", &["admin"]).await;
    let mut messages = Vec::new();
    for name in ["a.png", "b.png", "c.png"] {
        let (status, body) = post_form(
            &server,
            &format!("rooms.upload/{rid}"),
            &[("file", Some((name, "image/png")), &png())],
            &alice,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        messages.push(body["message"].clone());
    }
    let text_only = common::say(&server, &alice, &rid, "no file here").await;
    assert_eq!(stored_files(&server).len(), 3);
    let ts = |m: &Value| m["ts"].as_str().expect("ts").to_owned();

    // filesOnly: the first file goes, its message stays with upstream's note.
    let reply = server
        .post(
            "rooms.cleanHistory",
            json!({"roomId": rid, "oldest": ts(&messages[0]), "latest": ts(&messages[0]),
                   "inclusive": true, "filesOnly": true}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["count"], json!(1));
    assert_eq!(stored_files(&server).len(), 2);
    let first = server
        .get(
            "chat.getMessage",
            &[("msgId", messages[0]["_id"].as_str().expect("id"))],
            Some(&alice),
        )
        .await;
    let first = &first.ok()["message"];
    assert_eq!(
        first["attachments"],
        json!([{"color": "#FD745E", "text": "_File removed by prune_"}])
    );
    assert!(first.get("file").is_none(), "{first}");
    let listed = server
        .get("groups.files", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(listed.ok()["total"], json!(2));

    // A whole-range clean deletes the remaining files with their messages; the pinned one
    // stays when pinned messages are excluded.
    server
        .post(
            "chat.pinMessage",
            json!({"messageId": messages[2]["_id"]}),
            Some(&alice),
        )
        .await
        .ok();
    let reply = server
        .post(
            "rooms.cleanHistory",
            json!({"roomId": rid, "oldest": ts(&messages[0]), "latest": ts(&text_only),
                   "inclusive": true, "excludePinned": true}),
            Some(&admin),
        )
        .await;
    assert!(reply.ok()["count"].as_u64().expect("count") >= 3);
    let c_id = messages[2]["file"]["_id"].as_str().expect("file id");
    assert_eq!(stored_files(&server), vec![c_id.to_owned()]);
    let listed = server
        .get("groups.files", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(listed.ok()["total"], json!(1));
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_user_erases_or_keeps_messages_and_files_per_message_erasure_type() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let mut users = Vec::new();
    for name in ["dora", "ed", "flo"] {
        users.push(server.new_user(name).await);
    }
    let rid = group(&server, &admin, "erasure", &["dora", "ed", "flo"]).await;
    let mut file_ids = Vec::new();
    for user in &users {
        common::say(&server, user, &rid, "words to remember").await;
        let (status, body) = post_form(
            &server,
            &format!("rooms.upload/{rid}"),
            &[("file", Some(("pic.png", "image/png")), &png())],
            user,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        file_ids.push(
            body["message"]["file"]["_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let authors = |history: &Value| -> Vec<String> {
        history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m.get("t").is_none())
            .map(|m| {
                format!(
                    "{}|{}",
                    m["u"]["username"].as_str().unwrap_or_default(),
                    m["alias"].as_str().unwrap_or_default()
                )
            })
            .collect()
    };
    let delete = |username: &'static str| {
        let server = &server;
        let admin = &admin;
        async move {
            server
                .post("users.delete", json!({"username": username}), Some(admin))
                .await
                .ok();
        }
    };

    // Delete (upstream's default): messages and files go.
    delete("dora").await;
    let history = server
        .get("groups.history", &[("roomId", &rid)], Some(&admin))
        .await;
    assert!(
        !authors(history.ok()).iter().any(|a| a.starts_with("dora|")),
        "{:?}",
        authors(history.ok())
    );
    assert!(!stored_files(&server).contains(&file_ids[0]));

    // Unlink: messages stay, attributed to rocket.cat as "Removed User"; files stay.
    server
        .post(
            "settings/Message_ErasureType",
            json!({"value": "Unlink"}),
            Some(&admin),
        )
        .await
        .ok();
    delete("ed").await;
    let history = server
        .get("groups.history", &[("roomId", &rid)], Some(&admin))
        .await;
    let listed = authors(history.ok());
    assert_eq!(
        listed
            .iter()
            .filter(|a| *a == "rocket.cat|Removed User")
            .count(),
        2,
        "{listed:?}"
    );
    assert!(!listed.iter().any(|a| a.starts_with("ed|")));
    assert!(stored_files(&server).contains(&file_ids[1]));

    // Keep: nothing changes.
    server
        .post(
            "settings/Message_ErasureType",
            json!({"value": "Keep"}),
            Some(&admin),
        )
        .await
        .ok();
    delete("flo").await;
    let history = server
        .get("groups.history", &[("roomId", &rid)], Some(&admin))
        .await;
    let listed = authors(history.ok());
    assert_eq!(
        listed.iter().filter(|a| *a == "flo|").count(),
        2,
        "{listed:?}"
    );
    assert!(stored_files(&server).contains(&file_ids[2]));
    server.stop().await;
}

#[tokio::test]
async fn send_file_message_over_ddp_confirms_a_media_upload() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let rid = group(&server, &alice, "ddp-files", &[]).await;
    let (status, body) = post_form(
        &server,
        &format!("rooms.media/{rid}"),
        &[("file", Some(("plan.txt", "text/plain")), b"the plan")],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let file_id = body["file"]["_id"].as_str().expect("id").to_owned();

    // Someone outside the room gets upstream's `false`, and the file stays unconfirmed.
    let mut bob = common::ddp::Ddp::connect(&server).await;
    bob.login("bob").await;
    let reply = bob
        .call(
            "sendFileMessage",
            json!([rid, null, {"_id": file_id}, {"msg": "mine now"}]),
        )
        .await;
    assert_eq!(reply["result"], json!(false), "{reply}");

    let mut ddp = common::ddp::Ddp::connect(&server).await;
    ddp.login("alice").await;
    let reply = ddp
        .call(
            "sendFileMessage",
            json!([rid, "Uploads", {"_id": file_id, "description": "draft"}, {"msg": "see the plan"}]),
        )
        .await;
    let message = &reply["result"];
    assert_eq!(message["msg"], json!("see the plan"), "{reply}");
    assert_eq!(message["file"]["_id"], json!(file_id));
    assert_eq!(message["attachments"][0]["description"], json!("draft"));
    assert_eq!(message["attachments"][0]["title"], json!("plan.txt"));

    // Once confirmed, it cannot be sent again; bad parameters are refused.
    let again = ddp
        .call("sendFileMessage", json!([rid, null, {"_id": file_id}]))
        .await;
    assert!(again.get("error").is_some(), "{again}");
    let bad = ddp.call("sendFileMessage", json!([rid, null, "x"])).await;
    assert_eq!(
        bad["error"]["error"],
        json!("error-invalid-params"),
        "{bad}"
    );
    server.stop().await;
}

/// Sets a setting as admin.
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

#[tokio::test]
async fn protected_files_follow_the_restrict_settings() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let carol = server.new_user("carol").await;
    let rid = server
        .post(
            "channels.create",
            json!({"name": "open-room"}),
            Some(&alice),
        )
        .await
        .ok()["channel"]["_id"]
        .as_str()
        .expect("channel id")
        .to_owned();
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("pic.png", "image/png")), &png())],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let file_id = body["message"]["file"]["_id"].as_str().expect("file id");
    let url = format!("/file-upload/{file_id}/pic.png");
    let as_carol = || {
        download(&server, &url, |r| {
            r.header("X-User-Id", &carol.user_id)
                .header("X-Auth-Token", &carol.token)
        })
    };

    // By default only members download, even from a public channel the outsider can read.
    assert_eq!(as_carol().await.status().as_u16(), 403);
    // Anyone who can read the room.
    set(
        &server,
        &admin,
        "FileUpload_Restrict_to_room_members",
        json!(false),
    )
    .await;
    set(
        &server,
        &admin,
        "FileUpload_Restrict_to_users_who_can_access_room",
        json!(true),
    )
    .await;
    assert_eq!(as_carol().await.status().as_u16(), 200);
    // Both: no one (upstream's fall-through).
    set(
        &server,
        &admin,
        "FileUpload_Restrict_to_room_members",
        json!(true),
    )
    .await;
    assert_eq!(as_carol().await.status().as_u16(), 403);
    // Neither: any signed-in user, but still not an anonymous one.
    set(
        &server,
        &admin,
        "FileUpload_Restrict_to_room_members",
        json!(false),
    )
    .await;
    set(
        &server,
        &admin,
        "FileUpload_Restrict_to_users_who_can_access_room",
        json!(false),
    )
    .await;
    assert_eq!(as_carol().await.status().as_u16(), 200);
    assert_eq!(download(&server, &url, |r| r).await.status().as_u16(), 403);
    server.stop().await;
}

#[tokio::test]
async fn show_deleted_status_keeps_a_removed_placeholder() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let rid = server
        .post(
            "channels.create",
            json!({"name": "deletions"}),
            Some(&alice),
        )
        .await
        .ok()["channel"]["_id"]
        .as_str()
        .expect("channel id")
        .to_owned();
    set(&server, &admin, "Message_ShowDeletedStatus", json!(true)).await;
    let message = say(&server, &alice, &rid, "soon gone").await;
    let mid = message["_id"].as_str().expect("message id");
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": mid}),
            Some(&alice),
        )
        .await
        .ok();
    let reply = server
        .get("chat.getMessage", &[("msgId", mid)], Some(&alice))
        .await;
    let kept = &reply.ok()["message"];
    assert_eq!(kept["t"], json!("rm"));
    assert_eq!(kept["msg"], json!(""));
    assert_eq!(kept["editedBy"]["_id"], json!(alice.user_id));
    server.stop().await;
}

#[tokio::test]
async fn upload_forms_take_exactly_one_part_named_file() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "forms", &[]).await;
    let image = png();
    let stored_before = stored_files(&server);
    for endpoint in ["rooms.upload", "rooms.media"] {
        let path = format!("{endpoint}/{rid}");
        // A file under another name is refused by name.
        let (status, body) = post_form(
            &server,
            &path,
            &[("picture", Some(("pic.png", "image/png")), &image)],
            &alice,
        )
        .await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"success": false, "error": "[invalid-field]", "errorType": "invalid-field"})
            ),
            "{endpoint}"
        );
        // A part without a file name is no file at all.
        let (status, body) = post_form(
            &server,
            &path,
            &[("file", Some(("", "application/octet-stream")), b"")],
            &alice,
        )
        .await;
        assert_eq!(
            (status, body),
            (400, json!({"success": false, "error": "No file uploaded"})),
            "{endpoint}"
        );
        // Two files: the second is refused, and the first is not kept.
        let (status, body) = post_form(
            &server,
            &path,
            &[
                ("file", Some(("one.png", "image/png")), &image),
                ("file", Some(("two.png", "image/png")), &image),
            ],
            &alice,
        )
        .await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"success": false, "error": "Just 1 file is allowed"})
            ),
            "{endpoint}"
        );
    }
    assert_eq!(stored_files(&server), stored_before);
    server.stop().await;
}

#[tokio::test]
async fn files_of_no_known_type_keep_an_opaque_claim_and_show_their_extension() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "generic", &[]).await;
    for (name, claimed, content, format) in [
        (
            "diagram.drawio",
            "application/octet-stream",
            &b"<mxfile></mxfile>"[..],
            "DRAWIO",
        ),
        ("lst-test.lst", "text/plain", &b"hello lst\n"[..], "LST"),
    ] {
        let (status, body) = post_form(
            &server,
            &format!("rooms.upload/{rid}"),
            &[("file", Some((name, claimed)), content)],
            &alice,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let message = &body["message"];
        assert_eq!(message["files"][0]["name"], json!(name));
        assert_eq!(message["files"][0]["type"], json!(claimed));
        assert_eq!(message["attachments"][0]["format"], json!(format));
        assert_eq!(message["attachments"][0]["title"], json!(name));
        assert_eq!(message["attachments"][0]["type"], json!("file"));
    }
    server.stop().await;
}

#[tokio::test]
async fn file_messages_take_custom_fields_checked_like_any_message() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = group(&server, &admin, "fields", &[]).await;
    let stored_before = stored_files(&server);
    let upload = |fields: &'static str| {
        let server = &server;
        let admin = &admin;
        let rid = &rid;
        async move {
            post_form(
                server,
                &format!("rooms.upload/{rid}"),
                &[
                    ("customFields", None, fields.as_bytes()),
                    ("file", Some(("pic.png", "image/png")), &png()),
                ],
                admin,
            )
            .await
        }
    };
    let refused = |reply: (u16, Value), error: &str| {
        assert_eq!(
            reply,
            (400, json!({"success": false, "error": error})),
            "{error}"
        );
    };
    refused(
        upload(r#"{"field1": "value1"}"#).await,
        "Custom fields not enabled",
    );
    server
        .post(
            "settings/Message_CustomFields_Enabled",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    refused(upload("{}").await, "Invalid custom fields");
    refused(
        upload(r#"{"field1": "value1"}"#).await,
        "Invalid custom fields",
    );
    refused(upload("not json").await, "Invalid custom fields");
    // Refused file messages leave no file behind.
    assert_eq!(stored_files(&server), stored_before);
    let (status, body) = upload(r#"{"priority": "low"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["customFields"], json!({"priority": "low"}));

    // `rooms.mediaConfirm` takes them as JSON text too.
    let (status, body) = post_form(
        &server,
        &format!("rooms.media/{rid}"),
        &[("file", Some(("pic.png", "image/png")), &png())],
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let file_id = body["file"]["_id"].as_str().expect("file id").to_owned();
    let confirmed = server
        .post(
            &format!("rooms.mediaConfirm/{rid}/{file_id}"),
            json!({"customFields": "{\"priority\": \"high\"}"}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        confirmed.ok()["message"]["customFields"],
        json!({"priority": "high"})
    );
    server.stop().await;
}

#[tokio::test]
async fn legacy_ufs_urls_serve_files_under_the_same_rules() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let carol = server.new_user("carol").await;
    let admin = server.admin().await;
    let rid = group(&server, &alice, "legacy", &[]).await;
    let (status, body) = post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[("file", Some(("pic.png", "image/png")), &png())],
        &alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let file_id = body["message"]["file"]["_id"]
        .as_str()
        .expect("file id")
        .to_owned();
    let status_of = |path: String, auth: Option<Auth>| {
        let server = &server;
        async move {
            let response = download(server, &path, |r| match &auth {
                Some(a) => r
                    .header("X-User-Id", &a.user_id)
                    .header("X-Auth-Token", &a.token),
                None => r,
            })
            .await;
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (response.status().as_u16(), kind)
        }
    };
    for store in ["GridFS:Uploads", "FileSystem:Uploads", "AmazonS3:Uploads"] {
        let path = format!("/ufs/{store}/{file_id}/pic.png");
        assert_eq!(
            status_of(path.clone(), Some(alice.clone())).await,
            (200, "image/png".to_owned())
        );
        assert_eq!(status_of(path.clone(), Some(carol.clone())).await.0, 403);
        assert_eq!(status_of(path, None).await.0, 403);
    }
    // Cookies authenticate there too, as on /file-upload.
    let by_cookie = download(
        &server,
        &format!("/ufs/GridFS:Uploads/{file_id}/pic.png"),
        |r| {
            r.header(
                "Cookie",
                format!("rc_uid={}; rc_token={}", alice.user_id, alice.token),
            )
        },
    )
    .await;
    assert_eq!(by_cookie.status().as_u16(), 200);
    // Only upload stores name uploads.
    assert_eq!(
        status_of(
            format!("/ufs/GridFS:Avatars/{file_id}/pic.png"),
            Some(alice.clone())
        )
        .await
        .0,
        404
    );
    server
        .post(
            "settings/FileUpload_ProtectFiles",
            json!({"value": false}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(
        status_of(format!("/ufs/GridFS:Uploads/{file_id}/pic.png"), None).await,
        (200, "image/png".to_owned())
    );
    server.stop().await;
}
