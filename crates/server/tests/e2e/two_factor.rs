//! The TOTP second factor: enrolment (`2fa:enable`, `2fa:validateTempToken`), backup codes,
//! `2fa:disable` and `2fa:regenerateCodes`, login answering `totp-required` over REST and DDP,
//! and sensitive calls asking for the code through `X-2fa-Code` / `X-2fa-Method`. Codes are
//! computed here from the secret the server hands out.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, PASSWORD, Reply, TestServer, sha256_hex};
use serde_json::{Value, json};

/// A server where a second factor given once is not remembered, so each call asks again.
async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.setting_overrides.push((
            "Accounts_TwoFactorAuthentication_RememberFor".into(),
            "0".into(),
        ));
    })
    .await
}

/// The TOTP code of `secret` now.
fn code_now(secret: &str) -> String {
    comet_core::totp::code_at(secret, chrono::Utc::now().timestamp()).expect("base32 secret")
}

/// A six-digit code that is none of the codes the server accepts now.
fn wrong_code(secret: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let accepted: Vec<String> = (-2..=2)
        .filter_map(|step| comet_core::totp::code_at(secret, now + step * 30))
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", n * 7919 % 1_000_000))
        .find(|c| !accepted.contains(c))
        .expect("a wrong code")
}

/// Calls a method through REST `method.call` and returns its DDP answer (`result` or `error`).
async fn call(server: &TestServer, auth: &Auth, method: &str, params: Value) -> Value {
    let reply = server
        .post(
            &format!("method.call/{method}"),
            json!({"message": json!({"msg": "method", "id": "1", "method": method,
                "params": params}).to_string()}),
            Some(auth),
        )
        .await;
    serde_json::from_str(reply.ok()["message"].as_str().expect("message")).expect("json")
}

/// Creates `username` (verified email, password `PASSWORD`) through the admin and logs in.
async fn verified_user(server: &TestServer, username: &str) -> Auth {
    let admin = server.admin().await;
    server
        .post(
            "users.create",
            json!({"username": username, "email": format!("{username}@example.com"),
                   "password": PASSWORD, "name": username, "verified": true}),
            Some(&admin),
        )
        .await
        .ok();
    server.login(username, PASSWORD).await
}

/// Enrols `auth` in TOTP: the secret and the backup codes.
async fn enrol(server: &TestServer, auth: &Auth) -> (String, Vec<String>) {
    let enabled = call(server, auth, "2fa:enable", json!([])).await;
    let secret = enabled["result"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let validated = call(
        server,
        auth,
        "2fa:validateTempToken",
        json!([code_now(&secret)]),
    )
    .await;
    let codes = validated["result"]["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (secret, codes)
}

async fn login_with(server: &TestServer, body: Value) -> Reply {
    server.post("login", body, None).await
}

fn totp_details() -> Value {
    json!({"method": "totp", "codeGenerated": false, "availableMethods": ["totp"]})
}

#[tokio::test]
async fn enrolment_confirms_with_a_code_and_ends_other_sessions() {
    let server = server().await;
    let tom = verified_user(&server, "tom").await;
    let other_session = server.login("tom", PASSWORD).await;

    let enabled = call(&server, &tom, "2fa:enable", json!([])).await;
    let secret = enabled["result"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(secret.len(), 32, "{enabled}");
    let url = enabled["result"]["url"].as_str().expect("url");
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains(&format!("secret={secret}")), "{url}");
    assert!(url.contains("tom"), "{url}");
    // Not enabled until confirmed: login needs no code yet.
    server.login("tom", PASSWORD).await;

    let wrong = call(
        &server,
        &tom,
        "2fa:validateTempToken",
        json!([wrong_code(&secret)]),
    )
    .await;
    assert_eq!(wrong["error"]["error"], json!("invalid-totp"), "{wrong}");

    let validated = call(
        &server,
        &tom,
        "2fa:validateTempToken",
        json!([code_now(&secret)]),
    )
    .await;
    let codes = validated["result"]["codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 12, "{validated}");
    assert!(
        codes
            .iter()
            .all(|c| c.as_str().is_some_and(|c| c.len() == 8))
    );

    // The caller's session stays, the others end.
    let me = server.get("me", &[], Some(&tom)).await;
    assert_eq!(me.ok()["services"]["totp"], json!({"enabled": true}));
    assert!(me.body["services"]["totp"].get("secret").is_none());
    server
        .get("me", &[], Some(&other_session))
        .await
        .refused(401, "You must be logged in to do this.");
    assert_eq!(
        call(&server, &tom, "2fa:checkCodesRemaining", json!([])).await["result"],
        json!({"remaining": 12})
    );
    server.stop().await;
}

#[tokio::test]
async fn enrolment_needs_a_verified_email_and_a_login() {
    let server = server().await;
    let unverified = server.new_user("una").await;
    let refused = call(&server, &unverified, "2fa:enable", json!([])).await;
    assert_eq!(
        refused["error"]["error"],
        json!("error-invalid-user"),
        "{refused}"
    );
    assert_eq!(
        refused["error"]["reason"],
        json!("You need to verify your emails before setting up 2FA")
    );

    let mut ddp = Ddp::connect(&server).await;
    let anonymous = ddp.call("2fa:enable", json!([])).await;
    assert_eq!(
        anonymous["error"]["error"],
        json!("not-authorized"),
        "{anonymous}"
    );
    server.stop().await;
}

#[tokio::test]
async fn rest_login_asks_for_the_code_and_takes_it() {
    let server = server().await;
    let tom = verified_user(&server, "tom").await;
    let (secret, backup) = enrol(&server, &tom).await;

    let required = login_with(&server, json!({"user": "tom", "password": PASSWORD})).await;
    assert_eq!(required.status, 401, "{}", required.body);
    assert_eq!(
        required.body,
        json!({"success": false, "status": "error", "error": "totp-required",
               "message": "TOTP Required", "details": totp_details()})
    );
    let invalid = login_with(
        &server,
        json!({"user": "tom", "password": PASSWORD, "code": wrong_code(&secret)}),
    )
    .await;
    assert_eq!(invalid.status, 401, "{}", invalid.body);
    assert_eq!(
        invalid.body,
        json!({"success": false, "status": "error", "error": "totp-invalid",
               "message": "TOTP Invalid", "details": totp_details()})
    );
    // A wrong password is still just unauthorized, whatever the code.
    login_with(
        &server,
        json!({"user": "tom", "password": "wrong", "code": code_now(&secret)}),
    )
    .await
    .refused(401, "unauthorized");

    let logged_in = login_with(
        &server,
        json!({"user": "tom", "password": PASSWORD, "code": code_now(&secret)}),
    )
    .await;
    assert_eq!(
        logged_in.ok()["data"]["me"]["services"]["totp"]["enabled"],
        json!(true)
    );
    // The X-2fa-Code header too.
    let code = code_now(&secret);
    server
        .post_with_headers(
            "login",
            json!({"user": "tom", "password": PASSWORD}),
            None,
            &[("X-2fa-Code", &code), ("X-2fa-Method", "totp")],
        )
        .await
        .ok();

    // A backup code works once.
    let backup_login = json!({"user": "tom", "password": PASSWORD, "code": backup[0]});
    login_with(&server, backup_login.clone()).await.ok();
    let reused = login_with(&server, backup_login).await;
    assert_eq!(
        reused.body["error"],
        json!("totp-invalid"),
        "{}",
        reused.body
    );
    assert_eq!(
        call(&server, &tom, "2fa:checkCodesRemaining", json!([])).await["result"],
        json!({"remaining": 11})
    );
    server.stop().await;
}

#[tokio::test]
async fn ddp_login_answers_totp_required_and_takes_the_totp_form() {
    let server = server().await;
    let tom = verified_user(&server, "tom").await;
    let (secret, _) = enrol(&server, &tom).await;
    let password_login = json!({"user": {"username": "tom"},
        "password": {"digest": sha256_hex(PASSWORD), "algorithm": "sha-256"}});

    let mut ddp = Ddp::connect(&server).await;
    let required = ddp.call("login", json!([password_login])).await;
    assert_eq!(
        required["error"]["error"],
        json!("totp-required"),
        "{required}"
    );
    assert_eq!(required["error"]["reason"], json!("TOTP Required"));
    assert_eq!(required["error"]["details"], totp_details());

    let invalid = ddp
        .call(
            "login",
            json!([{"totp": {"login": password_login, "code": wrong_code(&secret)}}]),
        )
        .await;
    assert_eq!(
        invalid["error"]["error"],
        json!("totp-invalid"),
        "{invalid}"
    );

    let accepted = ddp
        .call(
            "login",
            json!([{"totp": {"login": password_login, "code": code_now(&secret)}}]),
        )
        .await;
    assert_eq!(accepted["result"]["id"], json!(tom.user_id), "{accepted}");
    server.stop().await;
}

#[tokio::test]
async fn sensitive_calls_ask_for_the_totp_code_and_tokens_may_bypass_it() {
    let server = server().await;
    let tom = verified_user(&server, "tom").await;
    let (secret, _) = enrol(&server, &tom).await;
    let body = json!({"tokenName": "deploy", "bypassTwoFactor": true});

    let required = server
        .post(
            "users.generatePersonalAccessToken",
            body.clone(),
            Some(&tom),
        )
        .await;
    let refused = required.refused(400, "TOTP Required [totp-required]");
    assert_eq!(refused["errorType"], json!("totp-required"));
    assert_eq!(refused["details"], totp_details());
    // With TOTP enabled the password is no longer a second factor.
    let digest = sha256_hex(PASSWORD);
    server
        .post_with_headers(
            "users.generatePersonalAccessToken",
            body.clone(),
            Some(&tom),
            &[("X-2fa-Code", &digest), ("X-2fa-Method", "password")],
        )
        .await
        .refused(400, "TOTP Invalid [totp-invalid]");
    let code = code_now(&secret);
    let generated = server
        .post_with_headers(
            "users.generatePersonalAccessToken",
            body,
            Some(&tom),
            &[("X-2fa-Code", &code), ("X-2fa-Method", "totp")],
        )
        .await;
    let token = Auth {
        user_id: tom.user_id.clone(),
        token: generated.ok()["token"].as_str().expect("token").to_owned(),
    };
    // A token made with bypassTwoFactor is not asked.
    server
        .post(
            "users.update",
            json!({"userId": tom.user_id, "data": {"bio": "automated"}}),
            Some(&token),
        )
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn regenerating_and_disabling_need_a_code() {
    let server = server().await;
    let tom = verified_user(&server, "tom").await;
    let (secret, old_backup) = enrol(&server, &tom).await;

    let wrong = call(
        &server,
        &tom,
        "2fa:regenerateCodes",
        json!([wrong_code(&secret)]),
    )
    .await;
    assert!(wrong.get("error").is_none(), "{wrong}");
    assert_eq!(
        wrong.get("result").cloned().unwrap_or(Value::Null),
        Value::Null
    );
    let regenerated = call(
        &server,
        &tom,
        "2fa:regenerateCodes",
        json!([code_now(&secret)]),
    )
    .await;
    let new_backup: Vec<String> = regenerated["result"]["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(new_backup.len(), 12);
    // The old backup codes are gone.
    let old = login_with(
        &server,
        json!({"user": "tom", "password": PASSWORD, "code": old_backup[0]}),
    )
    .await;
    assert_eq!(old.body["error"], json!("totp-invalid"), "{}", old.body);

    let refused = call(&server, &tom, "2fa:disable", json!([wrong_code(&secret)])).await;
    assert_eq!(refused["result"], json!(false), "{refused}");
    // A backup code disables too.
    let disabled = call(&server, &tom, "2fa:disable", json!([new_backup[0]])).await;
    assert_eq!(disabled["result"], json!(true), "{disabled}");
    server.login("tom", PASSWORD).await;
    let me = server.get("me", &[], Some(&tom)).await;
    assert!(me.ok()["services"].get("totp").is_none(), "{}", me.body);
    let gone = call(&server, &tom, "2fa:checkCodesRemaining", json!([])).await;
    assert_eq!(gone["error"]["error"], json!("invalid-totp"), "{gone}");
    server.stop().await;
}

#[tokio::test]
async fn settings_turn_totp_off() {
    let server = server().await;
    let tom = verified_user(&server, "tom").await;
    enrol(&server, &tom).await;
    let admin = server.admin().await;
    let set = |id: &'static str, value: bool| {
        let admin = admin.clone();
        let server = &server;
        async move {
            server
                .post_with_headers(
                    &format!("settings/{id}"),
                    json!({"value": value}),
                    Some(&admin),
                    &[
                        ("X-2fa-Code", &sha256_hex(common::ADMIN_PASS)),
                        ("X-2fa-Method", "password"),
                    ],
                )
                .await
                .ok();
        }
    };
    set("Accounts_TwoFactorAuthentication_By_TOTP_Enabled", false).await;
    server.login("tom", PASSWORD).await;
    set("Accounts_TwoFactorAuthentication_By_TOTP_Enabled", true).await;
    let required = login_with(&server, json!({"user": "tom", "password": PASSWORD})).await;
    assert_eq!(required.body["error"], json!("totp-required"));
    set("Accounts_TwoFactorAuthentication_Enabled", false).await;
    server.login("tom", PASSWORD).await;
    server.stop().await;
}

#[tokio::test]
async fn the_secret_is_sealed_at_rest_under_the_key_file() {
    let server = server().await;
    let tom = verified_user(&server, "tom").await;
    let (secret, codes) = enrol(&server, &tom).await;

    let key_file = server.data_dir().join("secret.key");
    let key = std::fs::read_to_string(&key_file).expect("secret.key");
    assert_eq!(key.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (stored_secret, stored_codes): (String, String) = match server.database_url() {
        Some(url) => {
            use sqlx::Connection;
            let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
            let row = sqlx::query_as("SELECT secret, backup_codes FROM user_totp WHERE id = $1")
                .bind(&tom.user_id)
                .fetch_one(&mut connection)
                .await
                .expect("row");
            let _ = connection.close().await;
            row
        }
        None => {
            let path = server.data_dir().join("comet.db");
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("connect");
            let row = sqlx::query_as("SELECT secret, backup_codes FROM user_totp WHERE id = $1")
                .bind(&tom.user_id)
                .fetch_one(&pool)
                .await
                .expect("row");
            pool.close().await;
            row
        }
    };
    assert!(!stored_secret.contains(&secret), "{stored_secret}");
    assert!(stored_secret.starts_with("v1:"), "{stored_secret}");
    assert!(!stored_codes.contains(&codes[0]));
    assert!(stored_codes.contains(&sha256_hex(&codes[0])));
    server.stop().await;
}
