//! Invite links and registration modes end to end: `findOrCreateInvite`, `listInvites`,
//! `removeInvite`, `validateInviteToken`, `useInviteToken` with upstream's answers and
//! refusals (expired, used up, banned, not allowed), tokens stored only as digests, the audit
//! entries, and `Accounts_RegistrationForm` (Public, Disabled, Secret URL or an invite token)
//! with the email domain lists on `users.register` and DDP `registerUser`.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, PASSWORD, Reply, TestServer, create_room};
use serde_json::{Value, json};
use sqlx::Connection;
use std::time::Duration;

async fn invite(server: &TestServer, auth: &Auth, rid: &str, days: i64, max_uses: i64) -> Reply {
    server
        .post(
            "findOrCreateInvite",
            json!({"rid": rid, "days": days, "maxUses": max_uses}),
            Some(auth),
        )
        .await
}

async fn use_token(server: &TestServer, auth: &Auth, token: &str) -> Reply {
    server
        .post("useInviteToken", json!({"token": token}), Some(auth))
        .await
}

async fn is_valid(server: &TestServer, token: &str) -> bool {
    let reply = server
        .post("validateInviteToken", json!({"token": token}), None)
        .await;
    reply.ok()["valid"].as_bool().expect("valid")
}

async fn remove(server: &TestServer, auth: Option<&Auth>, id: &str) -> Reply {
    let mut request = server
        .http
        .delete(format!("{}/api/v1/removeInvite/{id}", server.base));
    if let Some(auth) = auth {
        request = request
            .header("X-User-Id", &auth.user_id)
            .header("X-Auth-Token", &auth.token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Reply {
        status,
        body,
        headers,
    }
}

fn register_body(username: &str, email: &str) -> Value {
    json!({"username": username, "email": email, "pass": PASSWORD, "name": username})
}

/// Runs `sql` (with `$1` bound to `id`) on the server's database behind its back.
async fn edit_database(server: &TestServer, sql: &'static str, id: &str) {
    let changed = match server.database_url() {
        Some(url) => {
            let mut db = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query(sql)
                .bind(id.to_owned())
                .execute(&mut db)
                .await
                .expect("update")
                .rows_affected()
        }
        None => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(server.data_dir().join("comet.db"))
                .busy_timeout(Duration::from_secs(10));
            let mut db = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("open");
            let changed = sqlx::query(sql)
                .bind(id.to_owned())
                .execute(&mut db)
                .await
                .expect("update")
                .rows_affected();
            db.close().await.expect("close");
            changed
        }
    };
    assert_eq!(changed, 1, "{sql}");
}

async fn audit_actions(server: &TestServer, admin: &Auth) -> Vec<String> {
    let page = server
        .get("audit.log", &[("count", "100")], Some(admin))
        .await;
    page.ok()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

#[tokio::test]
async fn an_invite_is_created_reused_listed_used_and_removed() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &admin, "channels", "invited-hall", &[]).await;

    let anonymous = server
        .post(
            "findOrCreateInvite",
            json!({"rid": rid, "days": 1, "maxUses": 10}),
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["status"], json!("error"));
    invite(&server, &admin, "invalid", 1, 10)
        .await
        .refused(400, "The rid field is invalid [error-invalid-room]");
    invite(&server, &admin, &rid, 2, 10).await.refused(
        400,
        "Invite should expire in 1, 7, 15 or 30 days, or send 0 to never expire. [invalid-number-of-days]",
    );
    invite(&server, &admin, &rid, 1, 3).await.refused(
        400,
        "Invite should be valid for 1, 5, 10, 25, 50, 100 or infinite (0) uses. [invalid-number-of-uses]",
    );
    let missing = server
        .post(
            "findOrCreateInvite",
            json!({"rid": rid, "days": 1}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        missing.body["errorType"],
        json!("invalid-params"),
        "{}",
        missing.body
    );

    let created = invite(&server, &admin, &rid, 1, 10).await.ok().clone();
    let id = created["_id"].as_str().expect("_id").to_owned();
    let token = created["inviteToken"]
        .as_str()
        .expect("inviteToken")
        .to_owned();
    assert_eq!(id.len(), 16);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(token.len(), 43, "an unguessable secret");
    assert_eq!(created["rid"], json!(rid));
    assert_eq!(created["userId"], json!(admin.user_id));
    assert_eq!(created["days"], json!(1));
    assert_eq!(created["maxUses"], json!(10));
    assert_eq!(created["uses"], json!(0));
    assert!(created["expires"].is_string(), "{created}");
    assert!(created["createdAt"].is_string());
    assert!(
        created["url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/invite/{token}")),
        "{created}"
    );

    // An equal unexpired invite is the same invite, with a new token; the first still works.
    let again = invite(&server, &admin, &rid, 1, 10).await.ok().clone();
    assert_eq!(again["_id"], json!(id));
    let second_token = again["inviteToken"]
        .as_str()
        .expect("inviteToken")
        .to_owned();
    assert_ne!(second_token, token);
    assert!(is_valid(&server, &token).await);
    assert!(is_valid(&server, &second_token).await);
    let other = invite(&server, &admin, &rid, 0, 0).await.ok().clone();
    assert_ne!(other["_id"], json!(id));
    assert_eq!(other["expires"], Value::Null);

    // The list is a bare array without tokens.
    let list = server.get("listInvites", &[], Some(&admin)).await;
    assert_eq!(list.status, 200);
    let entries = list.body.as_array().expect("a bare array").clone();
    assert_eq!(entries.len(), 2);
    let listed = entries
        .iter()
        .find(|e| e["_id"] == json!(id))
        .expect("listed");
    assert!(listed.get("inviteToken").is_none(), "{listed}");
    assert!(!list.body.to_string().contains(&token));
    assert_eq!(server.get("listInvites", &[], None).await.status, 401);

    // Validation never fails, and the id is no token.
    assert!(!is_valid(&server, "invalid").await);
    assert!(!is_valid(&server, &id).await);

    // Using it joins the room, once counted.
    assert_eq!(
        server
            .post("useInviteToken", json!({"token": token}), None)
            .await
            .status,
        401
    );
    use_token(&server, &bob, "invalid")
        .await
        .refused(400, "The invite token is invalid. [error-invalid-token]");
    use_token(&server, &bob, &id)
        .await
        .refused(400, "The invite token is invalid. [error-invalid-token]");
    let missing = server.post("useInviteToken", json!({}), Some(&bob)).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["errorType"], json!("invalid-params"));
    let used = use_token(&server, &bob, &token).await.ok().clone();
    assert_eq!(
        used["room"],
        json!({"rid": rid, "name": "invited-hall", "fname": "invited-hall", "t": "c"})
    );
    let member = server
        .get("subscriptions.getOne", &[("roomId", &rid)], Some(&bob))
        .await;
    assert_eq!(member.ok()["subscription"]["rid"], json!(rid));
    use_token(&server, &bob, &second_token).await.ok();
    let list = server.get("listInvites", &[], Some(&admin)).await;
    let listed = list
        .body
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["_id"] == json!(id))
        .expect("listed")
        .clone();
    assert_eq!(
        listed["uses"],
        json!(1),
        "a member's second use is not counted"
    );

    // Removal: a bare true, then the id and every token are gone.
    assert_eq!(remove(&server, None, &id).await.status, 401);
    let refused = remove(&server, Some(&admin), "invalid").await;
    refused.refused(400, "Invalid Invitation _id [invalid-invitation-id]");
    let removed = remove(&server, Some(&admin), &id).await;
    assert_eq!((removed.status, removed.body), (200, json!(true)));
    remove(&server, Some(&admin), &id)
        .await
        .refused(400, "Invalid Invitation _id [invalid-invitation-id]");
    assert!(!is_valid(&server, &token).await);
    assert!(!is_valid(&server, &second_token).await);

    let actions = audit_actions(&server, &admin).await;
    for action in ["invite.create", "invite.reissue", "invite.remove"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn tokens_are_stored_only_as_digests() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = create_room(&server, &admin, "channels", "digest-hall", &[]).await;
    let created = invite(&server, &admin, &rid, 7, 5).await.ok().clone();
    let token = created["inviteToken"].as_str().expect("token");
    let digest = common::sha256_hex(token);
    // The digest is the row's key; the token itself matches no row.
    edit_database(
        &server,
        "UPDATE invite_tokens SET created_at = created_at WHERE id = $1",
        &digest,
    )
    .await;
    let stored = match server.database_url() {
        Some(url) => {
            let mut db = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM invite_tokens WHERE id = $1")
                .bind(token.to_owned())
                .fetch_one(&mut db)
                .await
                .expect("count")
        }
        None => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(server.data_dir().join("comet.db"));
            let mut db = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("open");
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM invite_tokens WHERE id = $1")
                .bind(token.to_owned())
                .fetch_one(&mut db)
                .await
                .expect("count")
        }
    };
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn used_up_and_expired_invites_are_refused() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let carol = server.new_user("carol").await;
    let dave = server.new_user("dave").await;
    let rid = create_room(&server, &admin, "groups", "secret-den", &[]).await;

    let once = invite(&server, &admin, &rid, 0, 1).await.ok().clone();
    let token = once["inviteToken"].as_str().expect("token").to_owned();
    let used = use_token(&server, &carol, &token).await.ok().clone();
    assert_eq!(used["room"]["t"], json!("p"));
    assert!(!is_valid(&server, &token).await);
    use_token(&server, &dave, &token)
        .await
        .refused(400, "The invite token has expired. [error-invite-expired]");
    // A used-up invite is not reused: a new one is made.
    let next = invite(&server, &admin, &rid, 0, 1).await.ok().clone();
    assert_ne!(next["_id"], once["_id"]);

    let daily = invite(&server, &admin, &rid, 1, 0).await.ok().clone();
    let daily_token = daily["inviteToken"].as_str().expect("token").to_owned();
    let daily_id = daily["_id"].as_str().expect("_id").to_owned();
    edit_database(
        &server,
        "UPDATE invites SET expires = 1000 WHERE id = $1",
        &daily_id,
    )
    .await;
    assert!(!is_valid(&server, &daily_token).await);
    let refused = use_token(&server, &dave, &daily_token).await;
    refused.refused(400, "The invite token has expired. [error-invite-expired]");
    assert_eq!(refused.body["details"]["field"], json!("expires"));
    // An expired invite is not reused either.
    let fresh = invite(&server, &admin, &rid, 1, 0).await.ok().clone();
    assert_ne!(fresh["_id"], json!(daily_id));
    use_token(
        &server,
        &dave,
        fresh["inviteToken"].as_str().expect("token"),
    )
    .await
    .ok();
}

#[tokio::test]
async fn a_banned_user_cannot_use_an_invite_until_unbanned() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let eve = server.new_user("eve").await;
    let rid = create_room(&server, &admin, "groups", "ban-den", &["eve"]).await;
    server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "userId": eve.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let created = invite(&server, &admin, &rid, 1, 10).await.ok().clone();
    let token = created["inviteToken"].as_str().expect("token").to_owned();
    let refused = use_token(&server, &eve, &token).await;
    refused.refused(400, "User is banned from this room [error-user-is-banned]");
    let listed = server.get("listInvites", &[], Some(&admin)).await;
    assert_eq!(
        listed.body[0]["uses"],
        json!(0),
        "a refused use is not counted"
    );
    server
        .post(
            "rooms.unbanUser",
            json!({"roomId": rid, "userId": eve.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let used = use_token(&server, &eve, &token).await.ok().clone();
    assert_eq!(used["room"]["rid"], json!(rid));
}

#[tokio::test]
async fn only_holders_of_create_invite_links_in_a_room_make_invites() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let frank = server.new_user("frank").await;
    let rid = create_room(&server, &admin, "channels", "open-hall", &["frank"]).await;
    invite(&server, &frank, &rid, 1, 10)
        .await
        .refused(400, "[not_authorized]");
    server
        .get("listInvites", &[], Some(&frank))
        .await
        .refused(400, "[not_authorized]");
    remove(&server, Some(&frank), "0123456789abcdef")
        .await
        .refused(400, "[not_authorized]");
    // A room owner may, through the room role.
    server
        .post(
            "channels.addOwner",
            json!({"roomId": rid, "userId": frank.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    invite(&server, &frank, &rid, 1, 10).await.ok();
    // Not for direct rooms.
    let dm = server
        .post("im.create", json!({"username": "frank"}), Some(&admin))
        .await
        .ok()["room"]["_id"]
        .as_str()
        .expect("dm id")
        .to_owned();
    invite(&server, &admin, &dm, 1, 10).await.refused(
        400,
        "Cannot create invite links for this room type [error-room-type-not-allowed]",
    );
}

#[tokio::test]
async fn registration_follows_the_registration_form_setting() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let mut ddp = Ddp::connect(&server).await;

    server
        .set_setting(&admin, "Accounts_RegistrationForm", json!("Disabled"))
        .await;
    server
        .post(
            "users.register",
            register_body("gina", "gina@example.com"),
            None,
        )
        .await
        .refused(
            400,
            "User registration is disabled [error-user-registration-disabled]",
        );
    let refused = ddp
        .call(
            "registerUser",
            json!([{"email": "gina@example.com", "pass": PASSWORD, "name": "Gina"}]),
        )
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-user-registration-disabled"),
        "{refused}"
    );

    server
        .set_setting(&admin, "Accounts_RegistrationForm", json!("Secret URL"))
        .await;
    server
        .set_setting(
            &admin,
            "Accounts_RegistrationForm_SecretURL",
            json!("open-sesame"),
        )
        .await;
    let secret_refusal =
        "User registration is only allowed via Secret URL [error-user-registration-secret]";
    server
        .post(
            "users.register",
            register_body("gina", "gina@example.com"),
            None,
        )
        .await
        .refused(400, secret_refusal);
    let mut wrong = register_body("gina", "gina@example.com");
    wrong["secret"] = json!("guess");
    server
        .post("users.register", wrong, None)
        .await
        .refused(400, secret_refusal);
    let mut right = register_body("gina", "gina@example.com");
    right["secret"] = json!("open-sesame");
    server.post("users.register", right, None).await.ok();

    let checked = ddp
        .call("checkRegistrationSecretURL", json!(["open-sesame"]))
        .await;
    assert_eq!(checked["result"], json!(true), "{checked}");
    let checked = ddp
        .call("checkRegistrationSecretURL", json!(["guess"]))
        .await;
    assert_eq!(checked["result"], json!(false), "{checked}");
    let refused = ddp
        .call(
            "registerUser",
            json!([{"email": "hank@example.com", "pass": PASSWORD, "name": "Hank"}]),
        )
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-user-registration-secret"),
        "{refused}"
    );
    let registered = ddp
        .call(
            "registerUser",
            json!([{"email": "hank@example.com", "pass": PASSWORD, "name": "Hank", "secretURL": "open-sesame"}]),
        )
        .await;
    let hank_id = registered["result"].as_str().expect("user id").to_owned();
    let hank = server
        .get("users.info", &[("userId", &hank_id)], Some(&admin))
        .await;
    assert_eq!(
        hank.ok()["user"]["username"],
        json!("hank"),
        "a username from the name"
    );

    // A valid invite token opens registration too; a used-up one does not.
    let rid = create_room(&server, &admin, "channels", "welcome", &[]).await;
    let created = invite(&server, &admin, &rid, 1, 1).await.ok().clone();
    let token = created["inviteToken"].as_str().expect("token").to_owned();
    let mut invited = register_body("ivy", "ivy@example.com");
    invited["secret"] = json!(token);
    server.post("users.register", invited, None).await.ok();
    let ivy = server.login("ivy", PASSWORD).await;
    use_token(&server, &ivy, &token).await.ok();
    let mut late = register_body("jack", "jack@example.com");
    late["secret"] = json!(token);
    server
        .post("users.register", late, None)
        .await
        .refused(400, secret_refusal);

    server
        .set_setting(&admin, "Accounts_RegistrationForm", json!("Public"))
        .await;
    server
        .post(
            "users.register",
            register_body("jack", "jack@example.com"),
            None,
        )
        .await
        .ok();
}

#[tokio::test]
async fn email_domains_are_checked_against_the_allow_and_block_lists() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .set_setting(
            &admin,
            "Accounts_AllowedDomainsList",
            json!("example.com, Corp.test"),
        )
        .await;
    server
        .post(
            "users.register",
            register_body("kim", "kim@elsewhere.org"),
            None,
        )
        .await
        .refused(
            400,
            "The email domain is not in whitelist [error-invalid-domain]",
        );
    server
        .post(
            "users.register",
            register_body("kim", "kim@corp.test"),
            None,
        )
        .await
        .ok();
    server
        .set_setting(&admin, "Accounts_AllowedDomainsList", json!(""))
        .await;
    server
        .set_setting(&admin, "Accounts_BlockedDomainsList", json!("spam.test"))
        .await;
    server
        .post(
            "users.register",
            register_body("lee", "lee@SPAM.test"),
            None,
        )
        .await
        .refused(
            400,
            "The email domain is blacklisted [error-email-domain-blacklisted]",
        );
    let mut ddp = Ddp::connect(&server).await;
    let refused = ddp
        .call(
            "registerUser",
            json!([{"email": "lee@spam.test", "pass": PASSWORD, "name": "Lee"}]),
        )
        .await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-email-domain-blacklisted"),
        "{refused}"
    );
    server
        .post(
            "users.register",
            register_body("lee", "lee@fine.test"),
            None,
        )
        .await
        .ok();
}
