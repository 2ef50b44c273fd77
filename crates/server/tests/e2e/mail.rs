//! Mail through a real SMTP server on loopback (`SMTP_SERVER_BIN`, aiosmtpd): verification on
//! sign-up, password reset by mailed link, and the durable queue riding out a mail server
//! that is down. Each test follows the link in the mail it received.

use crate::common;

use common::smtp::{ReceivedMail, SmtpSink};
use common::{Auth, PASSWORD, Reply, TestServer};
use serde_json::{Value, json};
use sqlx::Connection;
use std::time::{Duration, Instant};

/// Longest a queued mail may take to reach the sink while the mail server is up.
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// A server whose mail goes to `sink`, retrying failed deliveries after a second.
async fn server_mailing(sink: &SmtpSink, settings: &[(&str, &str)]) -> TestServer {
    let mut overrides = sink.settings();
    overrides.extend(
        settings
            .iter()
            .map(|(id, value)| ((*id).to_owned(), (*value).to_owned())),
    );
    TestServer::start_with(move |config| {
        config.setting_overrides.extend(overrides);
        config.mail_retry_seconds = 1;
    })
    .await
}

fn method_message(method: &str, params: Value) -> Value {
    json!({
        "message": json!({"msg": "method", "id": "1", "method": method, "params": params}).to_string()
    })
}

/// Calls a DDP method anonymously over `method.callAnon`; its DDP answer.
async fn call_anon(server: &TestServer, method: &str, params: Value) -> Value {
    let reply = server
        .post(
            &format!("method.callAnon/{method}"),
            method_message(method, params),
            None,
        )
        .await;
    let body = reply.ok();
    serde_json::from_str(body["message"].as_str().expect("message")).expect("message json")
}

async fn register(server: &TestServer, username: &str, name: &str) -> Reply {
    server
        .post(
            "users.register",
            json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "pass": PASSWORD,
                "name": name,
            }),
            None,
        )
        .await
}

async fn try_login(server: &TestServer, username: &str, password: &str) -> Reply {
    server
        .post(
            "login",
            json!({"user": username, "password": password}),
            None,
        )
        .await
}

fn auth_of(result: &Value) -> Auth {
    Auth {
        user_id: result["id"].as_str().expect("id").to_owned(),
        token: result["token"].as_str().expect("token").to_owned(),
    }
}

/// Moves every email token's expiry into the past, as an hour passing would.
async fn expire_email_tokens(server: &TestServer) {
    let update = "UPDATE email_tokens SET expires_at = 0";
    match server.database_url() {
        Some(url) => {
            let mut db = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query(update).execute(&mut db).await.expect("update");
        }
        None => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(server.data_dir().join("comet.db"))
                .busy_timeout(Duration::from_secs(10));
            let mut db = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("open");
            sqlx::query(update).execute(&mut db).await.expect("update");
            db.close().await.expect("close");
        }
    }
}

fn assert_verify_mail(mail: &ReceivedMail, to: &str) {
    assert_eq!(mail.to, to);
    assert_eq!(mail.from, "comet@example.com");
    assert_eq!(mail.subject, "[Comet] Verify your email address");
    assert!(mail.text.contains("/verify-email/"), "{}", mail.text);
    assert!(mail.html.contains("/verify-email/"), "{}", mail.html);
}

#[tokio::test]
async fn sign_up_mails_a_link_that_verifies_the_email() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let server = server_mailing(&sink, &[("Accounts_EmailVerification", "true")]).await;

    register(&server, "vera", r#"Vera & "Co""#).await.ok();
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_verify_mail(&mail, "vera@example.com");
    // The name is in the mail, escaped in its HTML part.
    assert!(mail.text.contains(r#"Hello Vera & "Co","#), "{}", mail.text);
    assert!(
        mail.html.contains("Hello Vera &amp; &quot;Co&quot;,"),
        "{}",
        mail.html
    );

    // Unverified: password logins are refused.
    try_login(&server, "vera", PASSWORD)
        .await
        .refused(401, "unauthorized");

    // The link verifies the address and logs in, as Meteor's verifyEmail does.
    let token = mail.link_token("verify-email");
    let answer = call_anon(&server, "verifyEmail", json!([token])).await;
    let result = &answer["result"];
    assert_eq!(result["type"], json!("password"), "{answer}");
    let auth = auth_of(result);
    let me = server.get("me", &[], Some(&auth)).await;
    assert_eq!(me.ok()["emails"][0]["verified"], json!(true));
    server.login("vera", PASSWORD).await;

    // Once only.
    let again = call_anon(&server, "verifyEmail", json!([token])).await;
    assert_eq!(
        again["error"]["reason"],
        json!("Verify email link expired"),
        "{again}"
    );

    // users.sendConfirmationEmail mails a new link; an address nobody has is a bare failure.
    server
        .post(
            "users.sendConfirmationEmail",
            json!({"email": "vera@example.com"}),
            None,
        )
        .await
        .ok();
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_verify_mail(&mail, "vera@example.com");
    assert_ne!(mail.link_token("verify-email"), token);
    let unknown = server
        .post(
            "users.sendConfirmationEmail",
            json!({"email": "nobody@example.com"}),
            None,
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(unknown.body, json!({"success": false}));
    server
        .post("users.sendConfirmationEmail", json!({}), None)
        .await
        .refused(400, "must have required property 'email' [invalid-params]");
    sink.expect_no_mail(Duration::from_millis(500)).await;
    server.stop().await;
}

#[tokio::test]
async fn forgot_password_mails_a_single_use_link_that_resets_it() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let server = server_mailing(&sink, &[]).await;
    register(&server, "rhea", "Rhea").await.ok();
    let old_session = server.login("rhea", PASSWORD).await;
    // Without verification asked for, sign-up sends nothing.
    sink.expect_no_mail(Duration::from_millis(300)).await;

    // Success whatever the address, mail only for an account's.
    server
        .post(
            "users.forgotPassword",
            json!({"email": "nobody@example.com"}),
            None,
        )
        .await
        .ok();
    server
        .post(
            "users.forgotPassword",
            json!({"email": "RHEA@example.com"}),
            None,
        )
        .await
        .ok();
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_eq!(mail.to, "rhea@example.com");
    assert_eq!(mail.subject, "[Comet] Reset your password");
    let token = mail.link_token("reset-password");
    assert_eq!(token.len(), 43, "{}", mail.text);
    sink.expect_no_mail(Duration::from_millis(300)).await;

    // A password the policy refuses leaves the link usable.
    let weak = call_anon(&server, "resetPassword", json!([token, " "])).await;
    assert_eq!(
        weak["error"]["error"],
        json!("error-password-policy-not-met"),
        "{weak}"
    );

    let new_password = "N3w-Reset-Pass!";
    let answer = call_anon(&server, "resetPassword", json!([token, new_password])).await;
    let auth = auth_of(&answer["result"]);
    server.get("me", &[], Some(&auth)).await.ok();
    // Every earlier session ends; the old password no longer works, the new one does.
    assert_eq!(server.get("me", &[], Some(&old_session)).await.status, 401);
    try_login(&server, "rhea", PASSWORD)
        .await
        .refused(401, "unauthorized");
    server.login("rhea", new_password).await;

    // Single use.
    let again = call_anon(&server, "resetPassword", json!([token, "An0ther-Pass!"])).await;
    assert_eq!(again["error"]["reason"], json!("Token expired"), "{again}");
    assert_eq!(again["error"]["error"], json!(403), "{again}");

    // A link used after its hour is refused.
    server
        .post(
            "users.forgotPassword",
            json!({"email": "rhea@example.com"}),
            None,
        )
        .await
        .ok();
    let late = sink
        .next_mail(MAIL_TIMEOUT)
        .await
        .link_token("reset-password");
    expire_email_tokens(&server).await;
    let expired = call_anon(&server, "resetPassword", json!([late, "An0ther-Pass!"])).await;
    assert_eq!(
        expired["error"]["reason"],
        json!("Token expired"),
        "{expired}"
    );
    server.login("rhea", new_password).await;

    // Off: upstream's failure.
    let admin = server.admin().await;
    server
        .post(
            "settings/Accounts_PasswordReset",
            json!({"value": false}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "users.forgotPassword",
            json!({"email": "rhea@example.com"}),
            None,
        )
        .await
        .refused(400, "Password reset is not enabled");
    server.stop().await;
}

#[tokio::test]
async fn mail_waits_for_a_mail_server_that_is_down() {
    let Some(mut sink) = SmtpSink::stopped() else {
        return;
    };
    let server = server_mailing(&sink, &[]).await;
    register(&server, "dora", "Dora").await.ok();

    // The mail server is down: the request still answers at once, and the server serves.
    let started = Instant::now();
    server
        .post(
            "users.forgotPassword",
            json!({"email": "dora@example.com"}),
            None,
        )
        .await
        .ok();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "forgotPassword waited for the mail server: {:?}",
        started.elapsed()
    );
    // A few failed attempts (after 1 s, then 2 s) pass while it is down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.login("dora", PASSWORD).await;

    // Up again: the queued mail arrives and its link works.
    sink.resume();
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_eq!(mail.to, "dora@example.com");
    let token = mail.link_token("reset-password");
    let answer = call_anon(&server, "resetPassword", json!([token, "D0ra-New-Pass!"])).await;
    assert!(answer["result"]["token"].is_string(), "{answer}");
    sink.expect_no_mail(Duration::from_millis(500)).await;
    server.stop().await;
}

#[tokio::test]
async fn mail_is_written_in_arabic_for_arabic_speakers() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let server = server_mailing(&sink, &[("Language", "ar")]).await;
    register(&server, "salma", "سلمى").await.ok();
    server
        .post(
            "users.forgotPassword",
            json!({"email": "salma@example.com"}),
            None,
        )
        .await
        .ok();
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_eq!(mail.subject, "[Comet] إعادة تعيين كلمة المرور");
    assert!(mail.text.contains("مرحبًا سلمى،"), "{}", mail.text);
    assert!(mail.html.contains("dir=\"rtl\""), "{}", mail.html);
    assert_eq!(mail.link_token("reset-password").len(), 43);
    server.stop().await;
}

#[tokio::test]
async fn the_smtp_password_is_for_admins_only() {
    let server = TestServer::start_with(|config| {
        config
            .setting_overrides
            .push(("SMTP_Password".to_owned(), "s3cret-smtp".to_owned()));
    })
    .await;
    let user = server.new_user("nosy").await;
    let reply = server.get("settings/SMTP_Password", &[], Some(&user)).await;
    assert!(
        !reply.body.to_string().contains("s3cret-smtp"),
        "{}",
        reply.body
    );
    let listed = server.get("settings", &[("count", "0")], Some(&user)).await;
    assert!(!listed.body.to_string().contains("s3cret-smtp"));
    let public = server.get("settings.public", &[("count", "0")], None).await;
    assert!(!public.body.to_string().contains("s3cret-smtp"));
    server.stop().await;
}

#[tokio::test]
async fn invitations_are_mailed_to_well_formed_addresses() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let server = server_mailing(&sink, &[]).await;
    let admin = server.admin().await;
    let reply = server
        .post(
            "sendInvitationEmail",
            json!({"emails": ["guest@example.com", "not-an-address"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        reply.ok(),
        &json!({"success": true, "emails": ["guest@example.com"]})
    );
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_eq!(mail.to, "guest@example.com");
    assert_eq!(mail.subject, "You have been invited to Comet");
    assert!(mail.text.contains("/register"), "{}", mail.text);
    assert!(mail.html.contains("/register\""), "{}", mail.html);
    sink.expect_no_mail(Duration::from_millis(300)).await;

    // Upstream's refusals: a thrown error's message as a bare failure.
    server
        .post(
            "sendInvitationEmail",
            json!({"emails": ["nope", ""]}),
            Some(&admin),
        )
        .await
        .refused(400, "No valid email addresses [error-email-send-failed]");
    server
        .post("sendInvitationEmail", json!({}), Some(&admin))
        .await
        .refused(400, "must have required property 'emails' [invalid-params]");
    server
        .post(
            "sendInvitationEmail",
            json!({"emails": "guest@example.com"}),
            Some(&admin),
        )
        .await
        .refused(400, "must be array [invalid-params]");
    let user = server.new_user("plain").await;
    server
        .post(
            "sendInvitationEmail",
            json!({"emails": ["guest@example.com"]}),
            Some(&user),
        )
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    server
        .post(
            "sendInvitationEmail",
            json!({"emails": ["guest@example.com"]}),
            None,
        )
        .await
        .refused(401, "You must be logged in to do this.");
    sink.expect_no_mail(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn a_changed_email_is_verified_again_by_mail() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let server = server_mailing(&sink, &[("Accounts_EmailVerification", "true")]).await;
    let admin = server.admin().await;
    let created = server
        .post(
            "users.create",
            json!({"username": "mover", "email": "mover@example.com", "password": PASSWORD,
                   "name": "Mover", "verified": true}),
            Some(&admin),
        )
        .await;
    let mover_id = created.ok()["user"]["_id"].as_str().expect("id").to_owned();
    let mover = server.login("mover", PASSWORD).await;
    sink.expect_no_mail(Duration::from_millis(300)).await;

    let digest = common::sha256_hex(PASSWORD);
    let reply = server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"email": "moved@example.com", "currentPassword": digest}}),
            Some(&mover),
        )
        .await;
    assert_eq!(reply.ok()["user"]["emails"][0]["verified"], json!(false));
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_verify_mail(&mail, "moved@example.com");
    let answer = call_anon(
        &server,
        "verifyEmail",
        json!([mail.link_token("verify-email")]),
    )
    .await;
    assert_eq!(answer["result"]["type"], json!("password"), "{answer}");
    let me = server.get("me", &[], Some(&mover)).await;
    assert_eq!(me.ok()["emails"][0]["address"], json!("moved@example.com"));
    assert_eq!(me.ok()["emails"][0]["verified"], json!(true));

    // An administrator's change mails the new address too, unless it is marked verified.
    server
        .post(
            "users.update",
            json!({"userId": mover_id, "data": {"email": "third@example.com"}}),
            Some(&admin),
        )
        .await
        .ok();
    assert_verify_mail(&sink.next_mail(MAIL_TIMEOUT).await, "third@example.com");
    server
        .post(
            "users.update",
            json!({"userId": mover_id, "data": {"email": "fourth@example.com", "verified": true}}),
            Some(&admin),
        )
        .await
        .ok();
    sink.expect_no_mail(Duration::from_millis(500)).await;

    // Without verification asked for, a change mails nothing.
    server
        .post(
            "settings/Accounts_EmailVerification",
            json!({"value": false}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "users.update",
            json!({"userId": mover_id, "data": {"email": "fifth@example.com"}}),
            Some(&admin),
        )
        .await
        .ok();
    sink.expect_no_mail(Duration::from_millis(500)).await;
    server.stop().await;
}

/// The six digits of a mailed login code ("123-456" in the mail).
fn mailed_code(mail: &ReceivedMail) -> String {
    let start = mail
        .text
        .find("Your code: ")
        .unwrap_or_else(|| panic!("no code in {:?}", mail.text))
        + "Your code: ".len();
    mail.text[start..start + 7].to_owned()
}

#[tokio::test]
async fn codes_by_email_are_a_second_factor() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    // A second factor given once is not remembered, so each sensitive call asks again.
    let server = server_mailing(
        &sink,
        &[("Accounts_TwoFactorAuthentication_RememberFor", "0")],
    )
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
    let other_session = server.login("cody", PASSWORD).await;
    server
        .post("users.2fa.enableEmail", json!({}), Some(&cody))
        .await
        .ok();
    // Other sessions end; `me` shows the factor.
    assert_eq!(
        server.get("me", &[], Some(&other_session)).await.status,
        401
    );
    let me = server.get("me", &[], Some(&cody)).await;
    assert_eq!(me.ok()["services"]["email2fa"], json!({"enabled": true}));

    // A login without a code mails one and says so.
    let required = try_login(&server, "cody", PASSWORD).await;
    assert_eq!(required.status, 401, "{}", required.body);
    assert_eq!(required.body["error"], json!("totp-required"));
    let details = &required.body["details"];
    assert_eq!(details["method"], json!("email"), "{details}");
    assert_eq!(details["emailOrUsername"], json!("cody"));
    assert_eq!(details["codeGenerated"], json!(true));
    assert_eq!(details["availableMethods"], json!(["email"]));
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_eq!(mail.to, "cody@example.com");
    assert_eq!(mail.subject, "[Comet] Your login code");
    let code = mailed_code(&mail);
    // A code is waiting: asking again mails nothing new.
    let again = try_login(&server, "cody", PASSWORD).await;
    assert_eq!(again.body["details"]["codeGenerated"], json!(false));
    assert!(
        again.body["details"]["codeExpires"].is_string(),
        "{}",
        again.body
    );
    sink.expect_no_mail(Duration::from_millis(300)).await;

    let wrong = server
        .post(
            "login",
            json!({"user": "cody", "password": PASSWORD, "code": "000-000"}),
            None,
        )
        .await;
    assert_eq!(wrong.body["error"], json!("totp-invalid"), "{}", wrong.body);
    let logged_in = server
        .post(
            "login",
            json!({"user": "cody", "password": PASSWORD, "code": code}),
            None,
        )
        .await;
    logged_in.ok();
    // Single use.
    let reused = server
        .post(
            "login",
            json!({"user": "cody", "password": PASSWORD, "code": code}),
            None,
        )
        .await;
    assert_eq!(
        reused.body["error"],
        json!("totp-invalid"),
        "{}",
        reused.body
    );
    let _ = sink.next_mail(MAIL_TIMEOUT).await;

    // sendEmailCode answers alike for accounts that exist and those that do not.
    let unknown = server
        .post(
            "users.2fa.sendEmailCode",
            json!({"emailOrUsername": "nobody"}),
            None,
        )
        .await;
    assert_eq!(unknown.ok(), &json!({"success": true}));
    sink.expect_no_mail(Duration::from_millis(300)).await;
    server
        .post(
            "users.2fa.sendEmailCode",
            json!({"emailOrUsername": "cody@example.com"}),
            None,
        )
        .await
        .ok();
    let code = mailed_code(&sink.next_mail(MAIL_TIMEOUT).await);
    server
        .post("users.2fa.sendEmailCode", json!({}), None)
        .await
        .refused(
            400,
            "emailOrUsername is required [error-parameter-required]",
        );

    // Sensitive calls take it through X-2fa-Code / X-2fa-Method.
    let required = server
        .post("users.2fa.disableEmail", json!({}), Some(&cody))
        .await;
    let body = required.refused(400, "TOTP Required [totp-required]");
    assert_eq!(body["details"]["method"], json!("email"), "{body}");
    assert_eq!(body["details"]["codeGenerated"], json!(false), "{body}");
    server
        .post_with_headers(
            "users.2fa.disableEmail",
            json!({}),
            Some(&cody),
            &[("X-2fa-Code", &code), ("X-2fa-Method", "email")],
        )
        .await
        .ok();
    let me = server.get("me", &[], Some(&cody)).await;
    assert!(me.ok()["services"].get("email2fa").is_none(), "{}", me.body);
    server.login("cody", PASSWORD).await;

    // Off by setting: codes by email are not asked.
    server
        .post("users.2fa.enableEmail", json!({}), Some(&cody))
        .await
        .ok();
    let admin_code = common::sha256_hex(common::ADMIN_PASS);
    server
        .post_with_headers(
            "settings/Accounts_TwoFactorAuthentication_By_Email_Enabled",
            json!({"value": false}),
            Some(&admin),
            &[("X-2fa-Code", &admin_code), ("X-2fa-Method", "password")],
        )
        .await
        .ok();
    server.login("cody", PASSWORD).await;
    server.stop().await;
}

#[tokio::test]
async fn expired_email_codes_are_refused() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let server = server_mailing(
        &sink,
        &[(
            "Accounts_TwoFactorAuthentication_By_Email_Code_Expiration",
            "1",
        )],
    )
    .await;
    let admin = server.admin().await;
    server
        .post(
            "users.create",
            json!({"username": "lapse", "email": "lapse@example.com", "password": PASSWORD,
                   "name": "Lapse", "verified": true}),
            Some(&admin),
        )
        .await
        .ok();
    let lapse = server.login("lapse", PASSWORD).await;
    server
        .post("users.2fa.enableEmail", json!({}), Some(&lapse))
        .await
        .ok();
    try_login(&server, "lapse", PASSWORD).await;
    let code = mailed_code(&sink.next_mail(MAIL_TIMEOUT).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server
        .post(
            "settings/Accounts_TwoFactorAuthentication_By_Email_Code_Expiration",
            json!({"value": 3600}),
            Some(&admin),
        )
        .await
        .ok();
    let late = server
        .post(
            "login",
            json!({"user": "lapse", "password": PASSWORD, "code": code}),
            None,
        )
        .await;
    assert_eq!(late.body["error"], json!("totp-invalid"), "{}", late.body);
    // The expired code was forgotten and a new one mailed.
    assert_eq!(late.body["details"]["codeGenerated"], json!(true));
    let fresh = mailed_code(&sink.next_mail(MAIL_TIMEOUT).await);
    server
        .post(
            "login",
            json!({"user": "lapse", "password": PASSWORD, "code": fresh}),
            None,
        )
        .await
        .ok();
    server.stop().await;
}

/// Creates a verified account and logs it in over REST only (so it stays offline).
async fn verified_user(server: &TestServer, admin: &Auth, username: &str, name: &str) -> Auth {
    server
        .post(
            "users.create",
            json!({"username": username, "email": format!("{username}@example.com"),
                   "password": PASSWORD, "name": name, "verified": true}),
            Some(admin),
        )
        .await
        .ok();
    server.login(username, PASSWORD).await
}

async fn say(server: &TestServer, auth: &Auth, room_id: &str, text: &str) {
    server
        .post(
            "chat.postMessage",
            json!({"roomId": room_id, "text": text}),
            Some(auth),
        )
        .await
        .ok();
}

#[tokio::test]
async fn people_who_are_away_are_mailed_mentions_and_direct_messages() {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let server = server_mailing(&sink, &[]).await;
    let admin = server.admin().await;
    let alice = verified_user(&server, &admin, "alice", "Alice").await;
    let bob = verified_user(&server, &admin, "bob", "Bob").await;
    let created = server
        .post(
            "channels.create",
            json!({"name": "mailroom", "members": ["bob"]}),
            Some(&alice),
        )
        .await;
    let room_id = created.ok()["channel"]["_id"]
        .as_str()
        .expect("rid")
        .to_owned();

    say(
        &server,
        &alice,
        &room_id,
        "@bob look <img src=x onerror=alert(1)>",
    )
    .await;
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_eq!(mail.to, "bob@example.com");
    assert_eq!(mail.subject, "[Comet] Alice mentioned you in #mailroom");
    assert!(mail.text.contains("@bob look <img"), "{}", mail.text);
    assert!(!mail.html.contains("<img"), "{}", mail.html);
    assert!(mail.html.contains("&lt;img src=x"), "{}", mail.html);
    assert!(mail.text.contains("/channel/mailroom"), "{}", mail.text);

    // No mention, no mail; nor for one's own messages.
    say(&server, &alice, &room_id, "nothing for bob").await;
    say(&server, &bob, &room_id, "@bob talking to myself").await;
    sink.expect_no_mail(Duration::from_millis(700)).await;

    // A direct message.
    let dm = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let dm_id = dm.ok()["room"]["_id"].as_str().expect("rid").to_owned();
    say(&server, &alice, &dm_id, "are you there?").await;
    let mail = sink.next_mail(MAIL_TIMEOUT).await;
    assert_eq!(mail.subject, "[Comet] Direct message from Alice");
    assert!(mail.text.contains("are you there?"), "{}", mail.text);

    // The room's choice wins over the preference.
    server
        .post(
            "rooms.saveNotification",
            json!({"roomId": room_id, "notifications": {"emailNotifications": "nothing"}}),
            Some(&bob),
        )
        .await
        .ok();
    say(&server, &alice, &room_id, "@bob again").await;
    sink.expect_no_mail(Duration::from_millis(700)).await;

    // The preference: nothing.
    server
        .post(
            "users.setPreferences",
            json!({"data": {"emailNotificationMode": "nothing"}}),
            Some(&bob),
        )
        .await
        .ok();
    say(&server, &alice, &dm_id, "still there?").await;
    sink.expect_no_mail(Duration::from_millis(700)).await;
    server
        .post(
            "users.setPreferences",
            json!({"data": {"emailNotificationMode": "mentions"}}),
            Some(&bob),
        )
        .await
        .ok();

    // Off for the whole server.
    server
        .post(
            "settings/Accounts_AllowEmailNotifications",
            json!({"value": false}),
            Some(&admin),
        )
        .await
        .ok();
    say(&server, &alice, &dm_id, "anyone?").await;
    sink.expect_no_mail(Duration::from_millis(700)).await;
    server
        .post(
            "settings/Accounts_AllowEmailNotifications",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();

    // Someone online is not mailed.
    let mut ddp = common::ddp::Ddp::connect(&server).await;
    ddp.login("bob").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    say(&server, &alice, &dm_id, "you are online").await;
    sink.expect_no_mail(Duration::from_millis(700)).await;
    drop(ddp);
    server.stop().await;
}
