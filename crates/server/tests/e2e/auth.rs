//! Login, logout, me, and the envelope of refusals.

use crate::common;

use common::{ADMIN_PASS, PASSWORD, TestServer, sha256_hex};
use serde_json::json;

#[tokio::test]
async fn info_is_public_and_admin_sees_details() {
    let server = TestServer::start().await;
    let anonymous = server.get_raw("/api/info", None).await;
    let body = anonymous.ok();
    assert_eq!(body["version"], json!("8.4"));
    assert!(body.get("info").is_none());
    assert_eq!(
        anonymous.headers["content-type"], "application/json",
        "exact content type, no charset"
    );
    let admin = server.admin().await;
    let full = server.get_raw("/api/info", Some(&admin)).await;
    let info = &full.ok()["info"];
    assert_eq!(info["version"], json!("8.4.0"));
    assert!(info["build"].is_object());
    assert!(info["marketplaceApiVersion"].is_string());
    // The commit this binary was built from (mobile apps read it), as the repository says.
    let commit = &info["commit"];
    for field in ["hash", "date", "author", "subject", "tag", "branch"] {
        assert!(commit[field].is_string(), "commit.{field}: {commit}");
    }
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    if let Some(head) = head {
        assert_eq!(commit["hash"], json!(head));
    }
    server.stop().await;
}

#[tokio::test]
async fn login_in_every_form() {
    let server = TestServer::start().await;
    server.new_user("alice").await;
    let forms = [
        json!({"user": "alice", "password": PASSWORD}),
        json!({"username": "alice", "password": PASSWORD}),
        json!({"user": "alice@example.com", "password": PASSWORD}),
        json!({"email": "ALICE@example.com", "password": PASSWORD}),
        json!({"user": "alice", "password": {"hashed": sha256_hex(PASSWORD)}}),
        json!({"user": {"username": "alice"}, "password": {"digest": sha256_hex(PASSWORD), "algorithm": "sha-256"}}),
        json!({"user": {"email": "alice@example.com"}, "password": PASSWORD}),
    ];
    let mut tokens = Vec::new();
    for form in forms {
        let reply = server.post("login", form.clone(), None).await;
        let body = reply.ok();
        assert_eq!(body["status"], json!("success"), "{form}");
        assert_eq!(body["data"]["me"]["username"], json!("alice"));
        tokens.push(
            body["data"]["authToken"]
                .as_str()
                .expect("token")
                .to_owned(),
        );
    }
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 7, "every login issues its own token");

    let resumed = server
        .post("login", json!({"resume": tokens[0]}), None)
        .await;
    assert_eq!(resumed.ok()["data"]["authToken"], json!(tokens[0]));
    server.stop().await;
}

#[tokio::test]
async fn failed_logins_are_401_unauthorized() {
    let server = TestServer::start().await;
    server.new_user("bob").await;
    for form in [
        json!({"user": "bob", "password": "wrong"}),
        json!({"user": "nobody", "password": PASSWORD}),
        json!({"resume": "not-a-token"}),
        json!({"user": "bob", "password": {"digest": "zz", "algorithm": "md5"}}),
        json!({}),
    ] {
        server
            .post("login", form, None)
            .await
            .refused(401, "unauthorized");
    }
    server.stop().await;
}

#[tokio::test]
async fn repeated_failures_block_the_account_for_a_while() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides.push((
            "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User".into(),
            "3".into(),
        ));
    })
    .await;
    server.new_user("carol").await;
    for _ in 0..3 {
        server
            .post("login", json!({"user": "carol", "password": "nope"}), None)
            .await
            .refused(401, "unauthorized");
    }
    // Even the right password is refused while blocked.
    server
        .post(
            "login",
            json!({"user": "carol", "password": PASSWORD}),
            None,
        )
        .await
        .refused(401, "unauthorized");
    // The DDP-facing reason says why (method bridge shows Meteor errors).
    let bridged = server
        .post(
            "method.callAnon/login",
            json!({"message": json!({"msg": "method", "id": "1", "method": "login", "params": [{"user": {"username": "carol"}, "password": PASSWORD}]}).to_string()}),
            None,
        )
        .await;
    assert_eq!(bridged.status, 200, "{}", bridged.body);
    let message: serde_json::Value =
        serde_json::from_str(bridged.body["message"].as_str().expect("message")).expect("json");
    assert_eq!(
        message["error"]["error"],
        json!("error-login-blocked-for-user")
    );
    server.stop().await;
}

#[tokio::test]
async fn me_and_logout() {
    let server = TestServer::start().await;
    let auth = server.new_user("dave").await;
    let me = server.get("me", &[], Some(&auth)).await;
    let body = me.ok();
    assert_eq!(body["_id"], json!(auth.user_id));
    assert_eq!(body["username"], json!("dave"));
    assert_eq!(body["services"]["password"]["exists"], json!(true));
    assert!(
        body.get("email").is_none(),
        "unverified email is not `email`"
    );
    assert_eq!(
        body["settings"]["preferences"]["sidebarViewMode"],
        json!("medium")
    );
    assert!(
        body["avatarUrl"]
            .as_str()
            .expect("avatarUrl")
            .ends_with("/avatar/dave")
    );

    let other_session = server.login("dave", PASSWORD).await;
    let out = server.post("logout", json!({}), Some(&auth)).await;
    assert_eq!(
        out.ok()["data"]["message"],
        json!("You've been logged out!")
    );
    server
        .get("me", &[], Some(&auth))
        .await
        .refused(401, "You must be logged in to do this.");
    server.get("me", &[], Some(&other_session)).await.ok();
    server.stop().await;
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401() {
    let server = TestServer::start().await;
    let auth = server.admin().await;
    let anonymous = server.get("me", &[], None).await;
    // Rocket.Chat 8 answers in both shapes: `{success, error}` and the older `{status, message}`.
    let body = anonymous.refused(401, "You must be logged in to do this.");
    assert_eq!(body["status"], json!("error"), "{body}");
    assert_eq!(
        body["message"],
        json!("You must be logged in to do this."),
        "{body}"
    );
    let forged = common::Auth {
        user_id: auth.user_id.clone(),
        token: "forged".into(),
    };
    server
        .get("me", &[], Some(&forged))
        .await
        .refused(401, "You must be logged in to do this.");
    let wrong_user = common::Auth {
        user_id: "someone-else".into(),
        token: auth.token.clone(),
    };
    server
        .get("me", &[], Some(&wrong_user))
        .await
        .refused(401, "You must be logged in to do this.");
    let _ = ADMIN_PASS;
    server.stop().await;
}

#[tokio::test]
async fn initial_user_is_created_once_with_its_own_id() {
    let document = json!({
        "_id": "bot-initial-1",
        "username": "deploybot",
        "name": "Deploy Bot",
        "emails": [{"address": "deploy@example.com", "verified": true}],
        "roles": ["user", "bot"],
        "type": "bot",
        "password": PASSWORD,
    });
    let server = TestServer::start_with(|c| c.initial_user = Some(document.to_string())).await;
    let admin = server.admin().await;
    let info = server
        .get("users.info", &[("userId", "bot-initial-1")], Some(&admin))
        .await;
    let user = &info.ok()["user"];
    assert_eq!(user["username"], json!("deploybot"));
    assert_eq!(user["name"], json!("Deploy Bot"));
    assert_eq!(user["type"], json!("bot"));
    assert_eq!(user["roles"], json!(["user", "bot"]));
    assert_eq!(user["emails"][0]["verified"], json!(true));
    let bot = server.login("deploybot", PASSWORD).await;
    assert_eq!(bot.user_id, "bot-initial-1");
    // It joined the default rooms, as a registered user does.
    let joined = server.get("channels.list.joined", &[], Some(&bot)).await;
    assert!(
        joined.ok()["channels"]
            .as_array()
            .is_some_and(|rooms| rooms.iter().any(|r| r["name"] == "general")),
        "{}",
        joined.body
    );
    server.stop().await;

    // A document without `_id`, or not JSON at all, is ignored: the server still starts.
    for bad in [r#"{"username":"x"}"#, "{not json"] {
        let server = TestServer::start_with(|c| c.initial_user = Some(bad.to_owned())).await;
        let admin = server.admin().await;
        let users = server.get("users.list", &[], Some(&admin)).await;
        assert!(
            !users.ok()["users"]
                .as_array()
                .is_some_and(|list| list.iter().any(|u| u["username"] == "x")),
        );
        server.stop().await;
    }
}
