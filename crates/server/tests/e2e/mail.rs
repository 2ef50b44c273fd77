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
