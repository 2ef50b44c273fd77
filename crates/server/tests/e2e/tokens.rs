//! users.createToken and personal access tokens.

use crate::common;

use common::{Auth, PASSWORD, TestServer, sha256_hex};
use serde_json::{Value, json};

fn token_auth(user_id: &str, token: &Value) -> Auth {
    Auth {
        user_id: user_id.to_owned(),
        token: token.as_str().expect("token").to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// users.createToken

#[tokio::test]
async fn create_token_is_disabled_by_default() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for (caller, body) in [
        (&admin, json!({"userId": alice.user_id})),
        (&admin, json!({})),
        (&alice, json!({"userId": alice.user_id})),
    ] {
        let reply = server.post("users.createToken", body, Some(caller)).await;
        let refused = reply.refused(400, "Not authorized [error-not-authorized]");
        assert_eq!(refused["errorType"], json!("error-not-authorized"));
    }
    server
        .post("users.createToken", json!({"userId": alice.user_id}), None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn create_token_when_enabled() {
    let server = TestServer::start_with(|c| c.create_tokens_for_users = true).await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;

    // An admin (user-generate-access-token) for another user, by id or username.
    for body in [
        json!({"userId": alice.user_id}),
        json!({"username": "alice"}),
    ] {
        let reply = server.post("users.createToken", body, Some(&admin)).await;
        let data = &reply.ok()["data"];
        assert_eq!(data["userId"], json!(alice.user_id));
        let minted = token_auth(&alice.user_id, &data["authToken"]);
        assert_ne!(minted.token, alice.token);
        let me = server.get("me", &[], Some(&minted)).await;
        assert_eq!(me.ok()["username"], json!("alice"));
    }

    // A normal user for somebody else: refused.
    server
        .post(
            "users.createToken",
            json!({"userId": bob.user_id}),
            Some(&alice),
        )
        .await
        .refused(400, "Not authorized [error-not-authorized]");
    // For oneself: allowed.
    let reply = server
        .post(
            "users.createToken",
            json!({"userId": alice.user_id}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["data"]["userId"], json!(alice.user_id));
    // Unknown target.
    let reply = server
        .post(
            "users.createToken",
            json!({"userId": "no-such-user"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorType"], json!("error-invalid-user"));
    server.stop().await;
}

#[tokio::test]
async fn create_token_with_a_secret() {
    let server = TestServer::start_with(|c| {
        c.create_tokens_for_users = true;
        c.create_tokens_secret = Some("s3cret-for-tokens".into());
    })
    .await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for body in [
        json!({"userId": alice.user_id}),
        json!({"userId": alice.user_id, "secret": "wrong"}),
        json!({"userId": alice.user_id, "secret": ""}),
        json!({"userId": alice.user_id, "secret": "s3cret-for-tokens-and-more"}),
    ] {
        server
            .post("users.createToken", body, Some(&admin))
            .await
            .refused(400, "Not authorized [error-not-authorized]");
    }
    let reply = server
        .post(
            "users.createToken",
            json!({"userId": alice.user_id, "secret": "s3cret-for-tokens"}),
            Some(&admin),
        )
        .await;
    let data = &reply.ok()["data"];
    let minted = token_auth(&alice.user_id, &data["authToken"]);
    server.get("me", &[], Some(&minted)).await.ok();

    // The secret does not replace the permission to mint for others.
    let bob = server.new_user("bob").await;
    server
        .post(
            "users.createToken",
            json!({"userId": bob.user_id, "secret": "s3cret-for-tokens"}),
            Some(&alice),
        )
        .await
        .refused(400, "Not authorized [error-not-authorized]");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Personal access tokens

#[tokio::test]
async fn personal_access_token_lifecycle() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;

    let reply = server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&alice),
        )
        .await;
    let token = reply.ok()["token"].as_str().expect("token").to_owned();
    assert!(token.len() >= 40, "a long random secret: {token}");
    let pat = Auth {
        user_id: alice.user_id.clone(),
        token: token.clone(),
    };
    let me = server.get("me", &[], Some(&pat)).await;
    assert_eq!(me.ok()["username"], json!("alice"));

    let list = server
        .get("users.getPersonalAccessTokens", &[], Some(&alice))
        .await;
    let tokens = list.ok()["tokens"].as_array().expect("tokens").clone();
    assert_eq!(tokens.len(), 1, "login tokens are not listed");
    assert_eq!(tokens[0]["name"], json!("ci"));
    assert_eq!(tokens[0]["lastTokenPart"], json!(&token[token.len() - 6..]));
    assert_eq!(tokens[0]["bypassTwoFactor"], json!(false));
    assert!(
        tokens[0]["createdAt"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    assert!(tokens[0].get("hashedToken").is_none());

    // Regenerate: new secret, old one dead.
    let reply = server
        .post(
            "users.regeneratePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&alice),
        )
        .await;
    let regenerated = reply.ok()["token"].as_str().expect("token").to_owned();
    assert_ne!(regenerated, token);
    server
        .get("me", &[], Some(&pat))
        .await
        .refused(401, "You must be logged in to do this.");
    let pat2 = Auth {
        user_id: alice.user_id.clone(),
        token: regenerated,
    };
    server.get("me", &[], Some(&pat2)).await.ok();
    let list = server
        .get("users.getPersonalAccessTokens", &[], Some(&alice))
        .await;
    assert_eq!(list.ok()["tokens"].as_array().expect("tokens").len(), 1);

    // Remove: gone, and its token stops working; the login session is untouched.
    let reply = server
        .post(
            "users.removePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"success": true}));
    server
        .get("me", &[], Some(&pat2))
        .await
        .refused(401, "You must be logged in to do this.");
    server.get("me", &[], Some(&alice)).await.ok();
    let list = server
        .get("users.getPersonalAccessTokens", &[], Some(&alice))
        .await;
    assert_eq!(list.ok()["tokens"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn personal_access_token_names_are_unique_per_user() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&alice),
        )
        .await
        .ok();
    let reply = server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&alice),
        )
        .await;
    let refused = reply.refused(
        400,
        "A token with this name already exists [error-token-already-exists]",
    );
    assert_eq!(refused["errorType"], json!("error-token-already-exists"));
    // Another user may use the same name.
    server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&bob),
        )
        .await
        .ok();
    server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "deploy"}),
            Some(&alice),
        )
        .await
        .ok();
    let list = server
        .get("users.getPersonalAccessTokens", &[], Some(&alice))
        .await;
    let mut names: Vec<String> = list.ok()["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ci", "deploy"]);
    // Bob sees only his own.
    let list = server
        .get("users.getPersonalAccessTokens", &[], Some(&bob))
        .await;
    assert_eq!(list.ok()["tokens"].as_array().expect("tokens").len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn personal_access_token_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    for route in [
        "users.generatePersonalAccessToken",
        "users.regeneratePersonalAccessToken",
        "users.removePersonalAccessToken",
    ] {
        for body in [
            json!({}),
            json!({"tokenName": ""}),
            json!({"tokenName": "  "}),
        ] {
            let reply = server.post(route, body, Some(&alice)).await;
            let refused = reply.refused(400, "The 'tokenName' param is required");
            assert!(refused.get("errorType").is_none(), "{route}: {refused}");
        }
    }
    for route in [
        "users.regeneratePersonalAccessToken",
        "users.removePersonalAccessToken",
    ] {
        let reply = server
            .post(route, json!({"tokenName": "nope"}), Some(&alice))
            .await;
        let refused = reply.refused(400, "Token does not exist [error-token-does-not-exists]");
        assert_eq!(refused["errorType"], json!("error-token-does-not-exists"));
    }
    // Another user's token cannot be removed by name.
    let bob = server.new_user("bob").await;
    server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "bobs"}),
            Some(&bob),
        )
        .await
        .ok();
    server
        .post(
            "users.removePersonalAccessToken",
            json!({"tokenName": "bobs"}),
            Some(&alice),
        )
        .await
        .refused(400, "Token does not exist [error-token-does-not-exists]");
    server
        .get("users.getPersonalAccessTokens", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn bypass_two_factor_is_kept_on_regenerate_and_honoured() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides.push((
            "Accounts_TwoFactorAuthentication_RememberFor".into(),
            "0".into(),
        ));
    })
    .await;
    let alice = server.new_user("alice").await;
    let code = sha256_hex(PASSWORD);
    let second_factor = [("X-2fa-Code", code.as_str()), ("X-2fa-Method", "password")];

    // Generating is itself a second-factor route.
    server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "bot", "bypassTwoFactor": true}),
            Some(&alice),
        )
        .await
        .refused(400, "TOTP Required [totp-required]");
    let reply = server
        .post_with_headers(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "bot", "bypassTwoFactor": true}),
            Some(&alice),
            &second_factor,
        )
        .await;
    let bypassing = token_auth(&alice.user_id, &reply.ok()["token"]);
    let reply = server
        .post_with_headers(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "plain"}),
            Some(&alice),
            &second_factor,
        )
        .await;
    let plain = token_auth(&alice.user_id, &reply.ok()["token"]);

    let change = json!({"userId": alice.user_id, "data": {"bio": "automated"}});
    server
        .post("users.update", change.clone(), Some(&bypassing))
        .await
        .ok();
    server
        .post("users.update", change.clone(), Some(&plain))
        .await
        .refused(400, "TOTP Required [totp-required]");

    let reply = server
        .post_with_headers(
            "users.regeneratePersonalAccessToken",
            json!({"tokenName": "bot"}),
            Some(&alice),
            &second_factor,
        )
        .await;
    let regenerated = token_auth(&alice.user_id, &reply.ok()["token"]);
    let list = server
        .get("users.getPersonalAccessTokens", &[], Some(&alice))
        .await;
    let tokens = list.ok()["tokens"].as_array().expect("tokens").clone();
    let bot = tokens
        .iter()
        .find(|t| t["name"] == json!("bot"))
        .expect("bot token");
    assert_eq!(bot["bypassTwoFactor"], json!(true));
    let plain_entry = tokens
        .iter()
        .find(|t| t["name"] == json!("plain"))
        .expect("plain token");
    assert_eq!(plain_entry["bypassTwoFactor"], json!(false));
    server
        .post("users.update", change, Some(&regenerated))
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn personal_access_tokens_need_the_permission() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "before"}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "create-personal-access-tokens", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await
        .ok();

    let reply = server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&alice),
        )
        .await;
    let refused = reply.refused(400, "Not Authorized [not-authorized]");
    assert_eq!(refused["errorType"], json!("not-authorized"));
    assert_eq!(
        refused["details"]["method"],
        json!("personalAccessTokens:generateToken")
    );
    for route in [
        "users.regeneratePersonalAccessToken",
        "users.removePersonalAccessToken",
    ] {
        server
            .post(route, json!({"tokenName": "before"}), Some(&alice))
            .await
            .refused(400, "Not Authorized [not-authorized]");
    }
    let reply = server
        .get("users.getPersonalAccessTokens", &[], Some(&alice))
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );

    // The admin still can.
    server
        .post(
            "users.generatePersonalAccessToken",
            json!({"tokenName": "ci"}),
            Some(&admin),
        )
        .await
        .ok();
    server.stop().await;
}
