//! The session cache (`comet_service::session_cache`): a token answered from the cache stops
//! working the moment it is revoked, whichever way it is revoked, and a change to the user
//! applies to their next request.

use crate::common;

use common::{Auth, PASSWORD, TestServer};
use serde_json::json;

const NOT_LOGGED_IN: &str = "You must be logged in to do this.";

/// Uses `auth` twice, so that the second request (at least) is answered from the cache.
async fn in_use(server: &TestServer, auth: &Auth) {
    for _ in 0..2 {
        server.get("me", &[], Some(auth)).await.ok();
    }
}

async fn refused(server: &TestServer, auth: &Auth) {
    server
        .get("me", &[], Some(auth))
        .await
        .refused(401, NOT_LOGGED_IN);
}

#[tokio::test]
async fn logout_ends_a_cached_session_at_once() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let other = server.login("alice", PASSWORD).await;
    in_use(&server, &alice).await;
    in_use(&server, &other).await;
    server.post("logout", json!({}), Some(&alice)).await.ok();
    refused(&server, &alice).await;
    // Only that token ended.
    server.get("me", &[], Some(&other)).await.ok();
    server.stop().await;
}

#[tokio::test]
async fn removing_other_tokens_or_logging_a_user_out_ends_cached_sessions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let second = server.login("alice", PASSWORD).await;
    in_use(&server, &alice).await;
    in_use(&server, &second).await;
    server
        .post("users.removeOtherTokens", json!({}), Some(&alice))
        .await
        .ok();
    refused(&server, &second).await;
    in_use(&server, &alice).await;

    let third = server.login("alice", PASSWORD).await;
    in_use(&server, &third).await;
    server
        .post("users.logoutOtherClients", json!({}), Some(&alice))
        .await
        .ok();
    refused(&server, &third).await;
    in_use(&server, &alice).await;

    server
        .post(
            "users.logout",
            json!({"userId": alice.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    refused(&server, &alice).await;
    server.stop().await;
}

#[tokio::test]
async fn removing_or_regenerating_a_personal_access_token_ends_its_cached_session() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let mint = |name: &'static str| {
        let (server, alice) = (&server, &alice);
        async move {
            let reply = server
                .post(
                    "users.generatePersonalAccessToken",
                    json!({"tokenName": name}),
                    Some(alice),
                )
                .await;
            Auth {
                user_id: alice.user_id.clone(),
                token: reply.ok()["token"].as_str().expect("token").to_owned(),
            }
        }
    };
    let ci = mint("ci").await;
    in_use(&server, &ci).await;
    server
        .post(
            "users.removePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&alice),
        )
        .await
        .ok();
    refused(&server, &ci).await;

    let deploy = mint("deploy").await;
    in_use(&server, &deploy).await;
    server
        .post(
            "users.regeneratePersonalAccessToken",
            json!({"tokenName": "deploy"}),
            Some(&alice),
        )
        .await
        .ok();
    refused(&server, &deploy).await;
    server.stop().await;
}

#[tokio::test]
async fn deactivation_deletion_and_an_admin_password_reset_end_cached_sessions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;

    let alice = server.new_user("alice").await;
    in_use(&server, &alice).await;
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": alice.user_id, "activeStatus": false}),
            Some(&admin),
        )
        .await
        .ok();
    refused(&server, &alice).await;

    // A personal access token survives a deactivation in the store, but not its effect.
    let bob = server.new_user("bob").await;
    let reply = server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&bob),
        )
        .await;
    let bob_pat = Auth {
        user_id: bob.user_id.clone(),
        token: reply.ok()["token"].as_str().expect("token").to_owned(),
    };
    in_use(&server, &bob_pat).await;
    server
        .post(
            "users.update",
            json!({"userId": bob.user_id, "data": {"active": false}}),
            Some(&admin),
        )
        .await
        .ok();
    refused(&server, &bob_pat).await;

    let carol = server.new_user("carol").await;
    in_use(&server, &carol).await;
    server
        .post(
            "users.update",
            json!({"userId": carol.user_id, "data": {"password": "a-new-password-1"}}),
            Some(&admin),
        )
        .await
        .ok();
    refused(&server, &carol).await;

    let dave = server.new_user("dave").await;
    in_use(&server, &dave).await;
    server
        .post(
            "users.delete",
            json!({"userId": dave.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    refused(&server, &dave).await;
    server.stop().await;
}

#[tokio::test]
async fn a_role_or_permission_taken_away_applies_to_the_next_request() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let role = json!({"roleName": "admin", "username": "alice"});
    server
        .post("roles.addUserToRole", role.clone(), Some(&admin))
        .await
        .ok();
    server.get("statistics", &[], Some(&alice)).await.ok();
    server.get("statistics", &[], Some(&alice)).await.ok();
    server
        .post("roles.removeUserFromRole", role, Some(&admin))
        .await
        .ok();
    let denied = server.get("statistics", &[], Some(&alice)).await;
    assert_eq!(denied.status, 400, "{}", denied.body);
    assert_eq!(denied.body["success"], json!(false), "{}", denied.body);

    // The cached session keeps the user's roles, not their permissions: a permission taken
    // from a role they hold applies at once too.
    in_use(&server, &alice).await;
    server.get("users.list", &[], Some(&alice)).await.ok();
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "view-d-room", "roles": ["admin", "bot"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    let denied = server.get("users.list", &[], Some(&alice)).await;
    assert_ne!(denied.status, 200, "{}", denied.body);
    server.stop().await;
}

#[tokio::test]
async fn a_profile_change_shows_in_the_next_request() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    in_use(&server, &alice).await;
    server
        .post(
            "users.update",
            json!({"userId": alice.user_id, "data": {"name": "Alice Renamed"}}),
            Some(&admin),
        )
        .await
        .ok();
    let me = server.get("me", &[], Some(&alice)).await;
    assert_eq!(me.ok()["name"], json!("Alice Renamed"));
    server
        .post(
            "users.setPreferences",
            json!({"data": {"sidebarViewMode": "condensed"}}),
            Some(&alice),
        )
        .await
        .ok();
    let me = server.get("me", &[], Some(&alice)).await;
    assert_eq!(
        me.ok()["settings"]["preferences"]["sidebarViewMode"],
        json!("condensed")
    );
    server.stop().await;
}

#[tokio::test]
async fn what_me_shows_beyond_the_user_follows_changes() {
    let server = TestServer::start_with(|config| {
        config
            .setting_overrides
            .push(("Accounts_AvatarResize".to_owned(), "false".to_owned()));
    })
    .await;
    let admin = server.admin().await;
    server
        .post(
            "users.create",
            json!({"username": "cody", "email": "cody@example.com", "password": PASSWORD,
                   "name": "Cody", "verified": true}),
            Some(&admin),
        )
        .await
        .ok();
    let cody = server.login("cody", PASSWORD).await;
    for _ in 0..2 {
        let me = server.get("me", &[], Some(&cody)).await;
        assert!(me.ok()["services"].get("email2fa").is_none(), "{}", me.body);
        assert!(me.body.get("avatarETag").is_none(), "{}", me.body);
    }
    server
        .post("users.2fa.enableEmail", json!({}), Some(&cody))
        .await
        .ok();
    let me = server.get("me", &[], Some(&cody)).await;
    assert_eq!(me.ok()["services"]["email2fa"], json!({"enabled": true}));

    let gif = b"GIF89a\x01\0\x01\0\x80\0\0rest".to_vec();
    let (status, body) = common::post_form(
        &server,
        "users.setAvatar",
        &[("image", Some(("me.gif", "image/gif")), &gif)],
        &cody,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let me = server.get("me", &[], Some(&cody)).await;
    assert!(
        me.ok()["avatarETag"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{}",
        me.body
    );
    server.stop().await;
}
