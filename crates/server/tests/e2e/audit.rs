//! The audit log end to end: privileged actions over REST and DDP leave entries (actor,
//! target, client address, before/after with secrets redacted); `audit.log` filters and pages
//! them for `view-audit-log` only; `audit.export` streams them as JSON lines; and the real
//! binary's `comet audit verify` passes, then names the entry a direct database edit broke.

use crate::common;

use common::{Auth, PASSWORD, TestServer, say};
use serde_json::{Value, json};
use sqlx::Connection;
use std::process::Output;
use std::time::Duration;

/// Runs the real `comet audit verify` against the test server's database.
async fn audit_verify(server: &TestServer) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_comet"));
    command
        .args(["audit", "verify"])
        .env("COMET_DATA_DIR", server.data_dir())
        .env("COMET_LOG", "warn");
    match server.database_url() {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    let run = tokio::task::spawn_blocking(move || command.output().expect("run comet"));
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("comet audit verify within 60 s")
        .expect("comet thread")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Changes one stored entry behind the server's back, past the append-only trigger, as
/// someone with access to the database could.
async fn tamper(server: &TestServer, seq: i64) {
    match server.database_url() {
        Some(url) => {
            let mut db = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query("DROP TRIGGER audit_log_append_only ON audit_log")
                .execute(&mut db)
                .await
                .expect("drop trigger");
            let changed =
                sqlx::query("UPDATE audit_log SET target_name = 'someone-else' WHERE seq = $1")
                    .bind(seq)
                    .execute(&mut db)
                    .await
                    .expect("update");
            assert_eq!(changed.rows_affected(), 1);
        }
        None => {
            let path = server.data_dir().join("comet.db");
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(Duration::from_secs(10));
            let mut db = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("open");
            sqlx::query("DROP TRIGGER audit_log_append_only")
                .execute(&mut db)
                .await
                .expect("drop trigger");
            let changed =
                sqlx::query("UPDATE audit_log SET target_name = 'someone-else' WHERE seq = $1")
                    .bind(seq)
                    .execute(&mut db)
                    .await
                    .expect("update");
            assert_eq!(changed.rows_affected(), 1);
            db.close().await.expect("close");
        }
    }
}

async fn log(server: &TestServer, auth: &Auth, query: &[(&str, &str)]) -> Value {
    server
        .get("audit.log", query, Some(auth))
        .await
        .ok()
        .clone()
}

fn actions(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

/// The newest entry of `action`.
async fn newest(server: &TestServer, admin: &Auth, action: &str) -> Value {
    let page = log(server, admin, &[("action", action), ("count", "1")]).await;
    page["entries"][0].clone()
}

#[tokio::test]
async fn privileged_actions_are_audited_listed_exported_and_verified() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let login = newest(&server, &admin, "user.login").await;
    assert_eq!(login["actor"]["username"], json!("admin"));
    assert_eq!(login["clientAddress"], json!("127.0.0.1"));

    // Users: created, edited (password reset by the admin), deactivated.
    let created = server
        .post(
            "users.create",
            json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD,
                   "name": "Bob"}),
            Some(&admin),
        )
        .await;
    let bob_id = created.ok()["user"]["_id"].as_str().expect("id").to_owned();
    server
        .post(
            "users.update",
            json!({"userId": bob_id, "data": {"name": "Robert", "password": "N3w-Pass-word!"}}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": bob_id, "activeStatus": false}),
            Some(&admin),
        )
        .await
        .ok();
    // A setting, and a secret one whose values never reach the log.
    server
        .post(
            "settings/Site_Name",
            json!({"value": "Audited"}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "settings/SMTP_Password",
            json!({"value": "hunter2"}),
            Some(&admin),
        )
        .await
        .ok();
    // A room, a member muted, kicked, someone else's message deleted, the room archived.
    let carol = server.new_user("carol").await;
    let rid = server
        .post(
            "channels.create",
            json!({"name": "audited", "members": ["carol"]}),
            Some(&admin),
        )
        .await
        .ok()["channel"]["_id"]
        .as_str()
        .expect("rid")
        .to_owned();
    let said = say(&server, &carol, &rid, "remove me").await;
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": said["_id"]}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "rooms.muteUser",
            json!({"roomId": rid, "username": "carol"}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "channels.kick",
            json!({"roomId": rid, "username": "carol"}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post("channels.archive", json!({"roomId": rid}), Some(&admin))
        .await
        .ok();
    // A permission change, and a personal access token.
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "view-audit-log", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&carol),
        )
        .await
        .ok();

    // Every action is there, newest first, each with its actor and the client's address.
    let all = log(&server, &admin, &[("count", "100")]).await;
    let listed = actions(&all);
    for action in [
        "user.login",
        "user.create",
        "user.update.password_reset",
        "user.deactivate",
        "setting.update",
        "room.create",
        "message.delete",
        "room.mute",
        "room.kick",
        "room.archive",
        "permission.update",
        "token.create",
    ] {
        assert!(listed.iter().any(|a| a == action), "{action} in {listed:?}");
    }
    let seqs: Vec<u64> = all["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    assert_eq!(all["total"], json!(seqs.len()));
    for entry in all["entries"].as_array().expect("entries") {
        assert_eq!(entry["clientAddress"], json!("127.0.0.1"), "{entry}");
        assert_eq!(entry["hash"].as_str().map(str::len), Some(64), "{entry}");
    }

    // Before and after, secrets redacted.
    let reset = newest(&server, &admin, "user.update.password_reset").await;
    assert_eq!(
        reset["target"],
        json!({"kind": "user", "_id": bob_id, "name": "bob"})
    );
    assert_eq!(reset["before"]["name"], json!("Bob"));
    assert_eq!(reset["after"]["name"], json!("Robert"));
    assert_eq!(reset["after"]["password"], json!("[redacted]"));
    let secret = log(
        &server,
        &admin,
        &[("action", "setting.update"), ("target", "SMTP_Password")],
    )
    .await;
    assert_eq!(secret["total"], json!(1));
    assert_eq!(
        secret["entries"][0]["after"],
        json!({"value": "[redacted]"})
    );
    assert!(!secret.to_string().contains("hunter2"), "{secret}");
    let site = log(&server, &admin, &[("target", "Site_Name")]).await;
    assert_eq!(site["entries"][0]["before"], json!({"value": "Comet"}));
    assert_eq!(site["entries"][0]["after"], json!({"value": "Audited"}));
    let deleted = newest(&server, &admin, "message.delete").await;
    assert_eq!(deleted["before"]["msg"], json!("remove me"));
    assert_eq!(deleted["before"]["u"]["username"], json!("carol"));

    // Filters: actor, action family, target, time; pagination.
    let by_carol = log(&server, &admin, &[("actor", "carol")]).await;
    assert_eq!(actions(&by_carol), ["token.create"]);
    let by_id = log(&server, &admin, &[("actor", &carol.user_id)]).await;
    assert_eq!(by_id["total"], json!(1));
    let rooms = log(&server, &admin, &[("action", "room.")]).await;
    let mut room_actions = actions(&rooms);
    room_actions.sort();
    assert_eq!(
        room_actions,
        ["room.archive", "room.create", "room.kick", "room.mute"]
    );
    let about_bob = log(&server, &admin, &[("target", "bob")]).await;
    assert_eq!(about_bob["total"], json!(3));
    let page = log(
        &server,
        &admin,
        &[("target", "bob"), ("count", "1"), ("offset", "1")],
    )
    .await;
    assert_eq!(actions(&page), ["user.update.password_reset"]);
    assert_eq!(
        (page["count"].clone(), page["offset"].clone()),
        (json!(1), json!(1))
    );
    let future = log(&server, &admin, &[("since", "2999-01-01T00:00:00Z")]).await;
    assert_eq!(future["total"], json!(0));
    let past = log(&server, &admin, &[("until", "2000-01-01")]).await;
    assert_eq!(past["total"], json!(0));
    server
        .get("audit.log", &[("since", "not a date")], Some(&admin))
        .await
        .refused(
            400,
            "The \"since\" query parameter must be a valid date. [invalid-params]",
        );

    // Only `view-audit-log` reads it.
    let refused = server.get("audit.log", &[], Some(&carol)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["success"], json!(false));
    let refused = server.get("audit.export", &[], Some(&carol)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(server.get("audit.log", &[], None).await.status, 401);

    // The export: every entry, oldest first, one JSON object a line.
    let response = server
        .http
        .get(format!("{}/api/v1/audit.export", server.base))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("application/x-ndjson")
    );
    let body = response.text().await.expect("body");
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let total = log(&server, &admin, &[("count", "1")]).await["total"].clone();
    assert_eq!(json!(lines.len()), total);
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64())
    );
    assert!(
        lines.windows(2).all(|w| w[1]["prevHash"] == w[0]["hash"]),
        "each line links to the one before"
    );
    let filtered = server
        .http
        .get(format!(
            "{}/api/v1/audit.export?action=room.kick",
            server.base
        ))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("body");
    assert_eq!(filtered.lines().count(), 1, "{filtered}");

    // The chain verifies; an edited entry breaks it at that entry, and the command fails.
    let output = audit_verify(&server).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    assert!(
        report.contains(&format!("audit log OK: {} entries verified", total)),
        "{report}"
    );
    let kicked = newest(&server, &admin, "room.kick").await;
    let seq = kicked["seq"].as_i64().expect("seq");
    tamper(&server, seq).await;
    let output = audit_verify(&server).await;
    assert!(!output.status.success(), "{}", text(&output.stdout));
    let complaint = text(&output.stderr);
    assert!(
        complaint.contains(&format!("audit log broken at entry {seq}:")),
        "{complaint}"
    );
    server.stop().await;
}

#[tokio::test]
async fn ddp_methods_are_audited_with_the_connection_address() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let mut ddp = common::ddp::Ddp::connect(&server).await;
    ddp.login_with(common::ADMIN_USERNAME, common::ADMIN_PASS)
        .await;
    let ddp_login = newest(&server, &admin, "user.login").await;
    assert_eq!(ddp_login["clientAddress"], json!("127.0.0.1"));
    let reply = ddp
        .call("setUserActiveStatus", json!([bob.user_id, false]))
        .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let entry = newest(&server, &admin, "user.deactivate").await;
    assert_eq!(entry["target"]["name"], json!("bob"));
    assert_eq!(entry["actor"]["username"], json!("admin"));
    assert_eq!(entry["clientAddress"], json!("127.0.0.1"));
    server.stop().await;
}

#[tokio::test]
async fn moderation_and_abuse_actions_are_audited() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let room = server
        .post(
            "channels.create",
            json!({"name": "watched", "members": ["bob", "carol"]}),
            Some(&admin),
        )
        .await;
    let rid = room.ok()["channel"]["_id"].as_str().expect("id").to_owned();

    // A ban and its lifting name the user, with the room.
    for (path, action) in [
        ("rooms.banUser", "room.ban"),
        ("rooms.unbanUser", "room.unban"),
    ] {
        server
            .post(
                path,
                json!({"roomId": rid, "username": "bob"}),
                Some(&admin),
            )
            .await
            .ok();
        let entry = newest(&server, &admin, action).await;
        assert_eq!(entry["target"]["_id"], json!(bob.user_id), "{entry}");
        assert_eq!(entry["actor"]["username"], json!("admin"), "{entry}");
        assert_eq!(entry["after"]["room"]["_id"], json!(rid), "{entry}");
    }

    // Handling a report: closing it, and deleting the reported message (someone else's).
    let message = say(&server, &carol, &rid, "buy cheap watches").await;
    let message_id = message["_id"].as_str().expect("id").to_owned();
    server
        .post(
            "chat.reportMessage",
            json!({"messageId": message_id, "description": "spam"}),
            Some(&bob),
        )
        .await
        .ok();
    server
        .post(
            "moderation.user.deleteReportedMessages",
            json!({"userId": carol.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let deleted = newest(&server, &admin, "message.delete").await;
    assert_eq!(deleted["target"]["_id"], json!(message_id), "{deleted}");
    let closed = newest(&server, &admin, "moderation.reports.close").await;
    assert_eq!(closed["target"]["_id"], json!(carol.user_id), "{closed}");
    assert_eq!(
        closed["after"]["action"],
        json!("DELETE Messages"),
        "{closed}"
    );

    // The file blocklist, and an upload it refused.
    let digest = common::sha256_hex("known bad file contents");
    server
        .post(
            "files.blocklist.add",
            json!({"sha256": digest, "reason": "malware"}),
            Some(&admin),
        )
        .await
        .ok();
    let listed = newest(&server, &admin, "file.blocklist.add").await;
    assert_eq!(listed["target"]["_id"], json!(digest), "{listed}");
    assert_eq!(listed["after"]["reason"], json!("malware"), "{listed}");
    let (status, body) = common::post_form(
        &server,
        &format!("rooms.upload/{rid}"),
        &[(
            "file",
            Some(("bad.txt", "text/plain")),
            b"known bad file contents",
        )],
        &bob,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let refused = newest(&server, &admin, "file.upload.blocked").await;
    assert_eq!(refused["actor"]["username"], json!("bob"), "{refused}");
    assert_eq!(refused["target"]["_id"], json!(digest), "{refused}");
    server
        .post(
            "files.blocklist.remove",
            json!({"sha256": digest}),
            Some(&admin),
        )
        .await
        .ok();
    let unlisted = newest(&server, &admin, "file.blocklist.remove").await;
    assert_eq!(unlisted["target"]["_id"], json!(digest), "{unlisted}");

    // Approving a new account, and purging one.
    server
        .post(
            "users.approve",
            json!({"userId": bob.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let approved = newest(&server, &admin, "user.approve").await;
    assert_eq!(approved["target"]["_id"], json!(bob.user_id), "{approved}");
    server
        .post(
            "users.purge",
            json!({"userId": carol.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let purged = newest(&server, &admin, "user.purge").await;
    assert_eq!(purged["target"]["_id"], json!(carol.user_id), "{purged}");

    let verified = audit_verify(&server).await;
    assert!(verified.status.success(), "{}", text(&verified.stderr));
}

/// Changing one's own name, username, address or password, and deleting one's own account,
/// leave entries by the user themselves; the password is never written down.
#[tokio::test]
async fn own_profile_changes_and_account_deletion_are_audited() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"username": "alicia", "newPassword": "An0ther-Secret!",
                            "currentPassword": common::sha256_hex(PASSWORD)}}),
            Some(&alice),
        )
        .await
        .ok();
    let entry = newest(&server, &admin, "user.update.own").await;
    assert_eq!(entry["actor"]["username"], json!("alice"), "{entry}");
    assert_eq!(entry["before"]["username"], json!("alice"), "{entry}");
    assert_eq!(entry["after"]["username"], json!("alicia"), "{entry}");
    assert!(entry["after"].get("password").is_some(), "{entry}");
    assert!(!entry.to_string().contains("An0ther-Secret!"), "{entry}");
    // A request that changes nothing leaves no entry.
    server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"username": "alicia"}}),
            Some(&alice),
        )
        .await
        .ok();
    let page = log(&server, &admin, &[("action", "user.update.own")]).await;
    assert_eq!(actions(&page).len(), 1, "{page}");

    server
        .post(
            "settings/Accounts_AllowDeleteOwnAccount",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "users.deleteOwnAccount",
            json!({"password": common::sha256_hex("An0ther-Secret!")}),
            Some(&alice),
        )
        .await
        .ok();
    let entry = newest(&server, &admin, "user.delete.own").await;
    assert_eq!(entry["target"]["name"], json!("alicia"), "{entry}");
    assert_eq!(entry["before"]["username"], json!("alicia"), "{entry}");
    server.stop().await;
}
