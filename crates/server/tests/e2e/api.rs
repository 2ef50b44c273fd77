//! The method bridge, unknown routes, the rate limiter and request body handling.

use crate::common;

use common::{Auth, PASSWORD, Reply, TestServer};
use serde_json::{Value, json};

/// `POST /api/v1/<path>` with a raw body and content type.
async fn post_raw(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    auth: Option<&Auth>,
) -> Result<Reply, reqwest::Error> {
    let mut builder = server
        .http
        .post(format!("{}/api/v1/{path}", server.base))
        .header("content-type", content_type)
        .body(body);
    if let Some(a) = auth {
        builder = builder
            .header("X-User-Id", &a.user_id)
            .header("X-Auth-Token", &a.token);
    }
    let response = builder.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await?;
    Ok(Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    })
}

fn method_message(method: &str, params: Value) -> Value {
    json!({
        "message": json!({"msg": "method", "id": "7", "method": method, "params": params}).to_string()
    })
}

/// The DDP message inside a method bridge answer.
fn inner(reply: &Reply) -> Value {
    serde_json::from_str(reply.body["message"].as_str().expect("message")).expect("message json")
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} header missing"))
        .to_str()
        .expect("ascii header")
}

fn create_body(username: &str) -> Value {
    json!({
        "username": username,
        "email": format!("{username}@example.com"),
        "password": PASSWORD,
        "name": format!("User {username}"),
    })
}

// ---------------------------------------------------------------------------------------------
// method.call / method.callAnon

#[tokio::test]
async fn method_call_permissions_get() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post(
            "method.call/permissions%2Fget",
            method_message("permissions/get", json!([])),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(true));
    let message = inner(&reply);
    assert_eq!(message["msg"], json!("result"));
    assert_eq!(message["id"], json!("7"));
    let permissions = &message["result"];
    let create_user = permissions
        .as_array()
        .expect("result array")
        .iter()
        .find(|p| p["_id"] == json!("create-user"))
        .expect("create-user");
    assert_eq!(create_user["roles"], json!(["admin"]));
    assert!(
        create_user["_updatedAt"]["$date"].is_i64(),
        "EJSON date: {create_user}"
    );

    // The URL segment is ignored: the message names the method.
    let reply = server
        .post(
            "method.call/whatever",
            method_message("permissions/get", json!([])),
            Some(&alice),
        )
        .await;
    assert!(inner(&reply)["result"].is_array());

    server
        .post(
            "method.call/permissions%2Fget",
            method_message("permissions/get", json!([])),
            None,
        )
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn method_call_unknown_method() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post(
            "method.call/nope",
            method_message("nope", json!([])),
            Some(&alice),
        )
        .await;
    // The call went through: upstream answers 200 with the method's error inside `message`.
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(true));
    let message = inner(&reply);
    assert_eq!(message["msg"], json!("result"));
    assert_eq!(message["id"], json!("7"));
    let error = &message["error"];
    assert_eq!(error["error"], json!(404), "numeric Meteor code");
    assert_eq!(error["reason"], json!("Method 'nope' not found"));
    assert_eq!(error["message"], json!("Method 'nope' not found [404]"));
    assert_eq!(error["errorType"], json!("Meteor.Error"));
    assert_eq!(error["isClientSafe"], json!(true));
    assert!(message.get("result").is_none());

    let reply = server
        .post("method.call/nope", json!({}), Some(&alice))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["success"], json!(false));
    // A message that is not a DDP method call is refused before any method runs.
    for message in [
        json!("not json"),
        json!(json!({"msg": "method", "method": "nope", "id": "7"}).to_string()),
        json!(json!({"msg": "method", "params": [], "id": "7"}).to_string()),
        json!(json!({"msg": "method", "method": "nope", "params": [], "id": 7}).to_string()),
    ] {
        let reply = server
            .post(
                "method.call/nope",
                json!({"message": message}),
                Some(&alice),
            )
            .await;
        reply.refused(400, "Invalid method call");
    }
    server.stop().await;
}

#[tokio::test]
async fn method_call_anon_public_settings() {
    let server = TestServer::start().await;
    let reply = server
        .post(
            "method.callAnon/public-settings%2Fget",
            method_message("public-settings/get", json!([])),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(true));
    let message = inner(&reply);
    let settings = message["result"].as_array().expect("result array");
    assert!(
        settings.iter().any(
            |s| s["_id"] == json!("Accounts_RegistrationForm") && s["value"] == json!("Public")
        )
    );
    assert!(
        !settings
            .iter()
            .any(|s| s["_id"] == json!("API_Default_Count")),
        "private settings are not listed"
    );

    // A method needing a user, called anonymously.
    let reply = server
        .post(
            "method.callAnon/permissions%2Fget",
            method_message("permissions/get", json!([])),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(inner(&reply)["error"]["error"], json!("error-invalid-user"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Routing and bodies

#[tokio::test]
async fn unknown_routes_are_404() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for reply in [
        server.get("no.such.route", &[], None).await,
        server.get("no.such.route", &[], Some(&admin)).await,
        server.post("no.such.route", json!({}), Some(&admin)).await,
        server.get_raw("/api/v2/me", Some(&admin)).await,
    ] {
        assert_eq!(reply.status, 404);
        assert_eq!(
            reply.body,
            json!({"success": false, "error": "Resource not found"})
        );
    }
    server.stop().await;
}

/// Clients that keep connections alive (Python's `requests`, bot SDKs) write a request's head
/// and its body separately. An answer given before the body arrived (unknown route, refused
/// credentials) must still leave the connection usable for the next request: a client that
/// reuses it must not see it dropped.
#[tokio::test]
async fn early_answers_keep_the_connection_usable() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
    let server = TestServer::start().await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let body = br#"{"rid":"GENERAL","msg":"hello"}"#;
    let requests = [
        ("/api/v1/no.such.route", "404 Not Found"),
        ("/api/v1/chat.sendMessage", "401 Unauthorized"),
        ("/api/v1/no.such.route", "404 Not Found"),
    ];
    for (path, want) in requests {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("send head");
        stream.flush().await.expect("flush");
        // The body follows a moment later, as it does from a client that writes it separately.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // The server may already have answered; the write itself must still be accepted.
        stream.write_all(body).await.expect("send body");
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        let complete = loop {
            let read = tokio::time::timeout(WAIT, stream.read(&mut chunk))
                .await
                .expect("answer in time")
                .expect("read");
            assert!(read > 0, "connection closed after {path}; got {answer:?}");
            answer.extend_from_slice(&chunk[..read]);
            let text = String::from_utf8_lossy(&answer);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .expect("content-length");
                if answer.len() >= end + 4 + length {
                    break text.into_owned();
                }
            }
        };
        assert!(
            complete.starts_with(&format!("HTTP/1.1 {want}")),
            "{path}: {complete}"
        );
        assert!(
            !complete.to_ascii_lowercase().contains("connection: close"),
            "{path} closed the connection: {complete}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn responses_are_not_cached() {
    let server = TestServer::start().await;
    let reply = server.get("settings.public", &[], None).await;
    reply.ok();
    assert_eq!(header(&reply, "cache-control"), "no-store");
    assert_eq!(header(&reply, "pragma"), "no-cache");
    assert_eq!(header(&reply, "content-type"), "application/json");
    let refused = server.get("me", &[], None).await;
    assert_eq!(header(&refused, "cache-control"), "no-store");
    server.stop().await;
}

#[tokio::test]
async fn malformed_json_is_treated_as_an_empty_body() {
    let server = TestServer::start().await;
    let reply = post_raw(
        &server,
        "users.register",
        "application/json",
        b"{\"username\": \"alice\", ".to_vec(),
        None,
    )
    .await
    .expect("response");
    let refused = reply.refused(
        400,
        "must have required property 'username' [invalid-params]",
    );
    assert_eq!(refused["errorType"], json!("invalid-params"));

    // A JSON value that is not an object is empty too.
    let reply = post_raw(
        &server,
        "users.register",
        "application/json",
        b"[1,2]".to_vec(),
        None,
    )
    .await
    .expect("response");
    reply.refused(
        400,
        "must have required property 'username' [invalid-params]",
    );

    // An empty body is an empty object.
    let reply = post_raw(
        &server,
        "users.register",
        "application/json",
        Vec::new(),
        None,
    )
    .await
    .expect("response");
    reply.refused(
        400,
        "must have required property 'username' [invalid-params]",
    );
    // The server still works.
    server.new_user("alice").await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let padding = "x".repeat(9 * 1024 * 1024);
    let body = json!({"status": "away", "message": "big", "padding": padding}).to_string();
    match post_raw(
        &server,
        "users.setStatus",
        "application/json",
        body.into_bytes(),
        Some(&admin),
    )
    .await
    {
        Ok(reply) => {
            assert!(
                (400..500).contains(&reply.status),
                "refused with a 4xx, got {}: {}",
                reply.status,
                reply.body
            );
            assert_eq!(reply.body["success"], json!(false));
        }
        // The server may close the connection before the client finished sending.
        Err(e) => assert!(!e.is_timeout(), "no answer: {e}"),
    }
    server.get("me", &[], Some(&admin)).await.ok();
    server.get_raw("/api/info", None).await.ok();
    let me = server.get("me", &[], Some(&admin)).await;
    assert_ne!(me.ok()["statusText"], json!("big"), "not applied");
    server.stop().await;
}

#[tokio::test]
async fn bodies_up_to_eight_mib_are_accepted() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let padding = "x".repeat(3 * 1024 * 1024);
    let body = json!({"status": "away", "message": "medium", "padding": padding}).to_string();
    let reply = post_raw(
        &server,
        "users.setStatus",
        "application/json",
        body.into_bytes(),
        Some(&admin),
    )
    .await
    .expect("response");
    reply.ok();
    let me = server.get("me", &[], Some(&admin)).await;
    assert_eq!(me.ok()["statusText"], json!("medium"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Rate limiter

#[tokio::test]
async fn register_is_limited_to_one_per_minute() {
    let server = TestServer::start_with(|c| c.setting_overrides.clear()).await;
    let first = server
        .post(
            "users.register",
            json!({"username": "alice", "email": "alice@example.com", "pass": PASSWORD, "name": "Alice"}),
            None,
        )
        .await;
    first.ok();
    assert_eq!(header(&first, "x-ratelimit-limit"), "1");
    assert_eq!(header(&first, "x-ratelimit-remaining"), "0");
    let reset: i64 = header(&first, "x-ratelimit-reset").parse().expect("ms");
    assert!(reset > 1_600_000_000_000, "epoch milliseconds: {reset}");

    let second = server
        .post(
            "users.register",
            json!({"username": "bob", "email": "bob@example.com", "pass": PASSWORD, "name": "Bob"}),
            None,
        )
        .await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert_eq!(second.body["success"], json!(false));
    assert!(second.body.get("errorType").is_none(), "{}", second.body);
    let error = second.body["error"].as_str().expect("error");
    let seconds: u64 = error
        .strip_prefix("Error, too many requests. Please slow down. You must wait ")
        .and_then(|rest| {
            rest.strip_suffix(
                " seconds before trying this endpoint again. [error-too-many-requests]",
            )
        })
        .expect("upstream's text")
        .parse()
        .expect("a number of seconds");
    assert!((1..=60).contains(&seconds), "{seconds}");
    assert_eq!(header(&second, "x-ratelimit-limit"), "1");
    assert_eq!(header(&second, "x-ratelimit-remaining"), "0");

    // The refused registration did not happen.
    server
        .post("login", json!({"user": "bob", "password": PASSWORD}), None)
        .await
        .refused(401, "unauthorized");
    server.stop().await;
}

#[tokio::test]
async fn default_limit_and_the_admin_bypass() {
    let server = TestServer::start_with(|c| c.setting_overrides.clear()).await;
    let admin = server.admin().await;
    for _ in 0..12 {
        let reply = server.get("me", &[], Some(&admin)).await;
        reply.ok();
        assert!(
            reply.headers.get("x-ratelimit-limit").is_none(),
            "exempt callers are not counted"
        );
    }
    // Created by the (exempt) admin so that users.register's own limit does not interfere.
    server
        .post("users.create", create_body("alice"), Some(&admin))
        .await
        .ok();
    let alice = server.login("alice", PASSWORD).await;
    for i in 1..=10u32 {
        let reply = server.get("me", &[], Some(&alice)).await;
        reply.ok();
        assert_eq!(header(&reply, "x-ratelimit-limit"), "10");
        assert_eq!(
            header(&reply, "x-ratelimit-remaining"),
            (10 - i).to_string()
        );
    }
    let refused = server.get("me", &[], Some(&alice)).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    let error = refused.body["error"].as_str().expect("error");
    assert!(
        error.starts_with("Error, too many requests. Please slow down. You must wait ")
            && error
                .ends_with(" seconds before trying this endpoint again. [error-too-many-requests]"),
        "{error}"
    );
    assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
    // Other routes have their own windows; the admin is still unaffected.
    server
        .get("users.info", &[("username", "alice")], Some(&alice))
        .await
        .ok();
    server.get("me", &[], Some(&admin)).await.ok();
    server.stop().await;
}

#[tokio::test]
async fn method_bridge_is_not_rate_limited_per_route() {
    let server = TestServer::start_with(|c| c.setting_overrides.clear()).await;
    for _ in 0..12 {
        let reply = server
            .post(
                "method.callAnon/public-settings%2Fget",
                method_message("public-settings/get", json!([])),
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    server.stop().await;
}

// shield.svg

/// `GET /api/v1/shield.svg?<query>` without credentials: status, content type, body text.
async fn shield(server: &TestServer, query: &[(&str, &str)]) -> (u16, String, String) {
    let response = server
        .http
        .get(format!("{}/api/v1/shield.svg", server.base))
        .query(query)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

#[tokio::test]
async fn shield_draws_badges_with_escaped_text() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (status, content_type, svg) = shield(
        &server,
        &[
            ("type", "online"),
            ("icon", "true"),
            ("channel", "general"),
            ("name", "Rocket.Chat"),
        ],
    )
    .await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "image/svg+xml;charset=utf-8")
    );
    assert!(svg.starts_with("<svg "), "{svg}");
    // rocket.cat is online, as upstream's bot is.
    assert!(svg.contains(">1 Online</text>"), "{svg}");
    assert!(svg.contains(">Rocket.Chat</text>"), "{svg}");

    let (status, _, svg) = shield(
        &server,
        &[
            ("type", "channel"),
            ("channel", "<b>&\"x"),
            ("name", "a'<i>"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(svg.contains(">#&lt;b&gt;&amp;&quot;x</text>"), "{svg}");
    assert!(svg.contains(">a&#39;&lt;i&gt;</text>"), "{svg}");
    assert!(!svg.contains("<b>") && !svg.contains("<i>"), "{svg}");

    let (_, _, svg) = shield(&server, &[("channel", ""), ("name", "")]).await;
    assert!(svg.contains(">JOIN CHAT</text>"), "{svg}");

    // A user's presence is shown to logged-in callers only.
    let (status, _, body) = shield(
        &server,
        &[
            ("type", "user"),
            ("username", "admin"),
            ("channel", ""),
            ("name", ""),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let reply = server
        .get(
            "shield.svg",
            &[
                ("type", "user"),
                ("username", "admin"),
                ("channel", ""),
                ("name", ""),
            ],
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn shield_refusals_in_upstream_order() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (status, _, body) = shield(&server, &[("name", "x")]).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["errorType"], json!("invalid-params"));

    let (status, _, body) = shield(
        &server,
        &[("icon", "false"), ("channel", "general"), ("name", " ")],
    )
    .await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        body["error"],
        json!("Name cannot be empty when icon is hidden")
    );

    let set = |id: &'static str, value: Value| {
        let server = &server;
        let admin = &admin;
        async move {
            server
                .post(
                    &format!("settings/{id}"),
                    json!({"value": value}),
                    Some(admin),
                )
                .await
                .ok();
        }
    };
    set("API_Shield_Types", json!("channel, user")).await;
    let (status, _, body) = shield(
        &server,
        &[("type", "online"), ("channel", "general"), ("name", "x")],
    )
    .await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        body["error"],
        json!("This shield type is disabled [error-shield-disabled]")
    );
    let (status, _, _) = shield(
        &server,
        &[("type", "channel"), ("channel", "general"), ("name", "x")],
    )
    .await;
    assert_eq!(status, 200);

    set("API_Enable_Shields", json!(false)).await;
    let (status, content_type, body) = shield(
        &server,
        &[
            ("type", "online"),
            ("icon", "true"),
            ("channel", "general"),
            ("name", "Rocket.Chat"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["errorType"], json!("error-endpoint-disabled"));
    assert_eq!(
        body["error"],
        json!("This endpoint is disabled [error-endpoint-disabled]")
    );
    server.stop().await;
}

/// At capacity, a request is refused at once with 503 and `Retry-After` instead of waiting in
/// an unbounded queue; once a slot frees up, requests are served again.
#[tokio::test]
async fn requests_beyond_capacity_are_refused_at_once_and_served_again_after() {
    use tokio::io::AsyncWriteExt as _;
    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
    let server = TestServer::start_with(|config| config.max_requests_in_flight = 1).await;
    let admin = server.admin().await;
    let address = server.base.trim_start_matches("http://").to_owned();
    // An upload whose body is still coming holds the only slot.
    let mut upload = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/rooms.upload/GENERAL HTTP/1.1\r\nHost: {address}\r\nX-User-Id: {}\r\n\
         X-Auth-Token: {}\r\nContent-Type: multipart/form-data; boundary=cut\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        admin.user_id, admin.token
    );
    upload.write_all(head.as_bytes()).await.expect("send head");
    let opening = "--cut\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
                   Content-Type: text/plain\r\n\r\nsome text";
    upload
        .write_all(format!("{:x}\r\n{opening}\r\n", opening.len()).as_bytes())
        .await
        .expect("send the first chunk");
    upload.flush().await.expect("flush");

    let deadline = tokio::time::Instant::now() + WAIT;
    let refused = loop {
        let reply = server
            .http
            .get(format!("{}/api/info", server.base))
            .send()
            .await
            .expect("request");
        if reply.status() == 503 {
            break reply;
        }
        assert_eq!(reply.status(), 200, "before the upload takes the slot");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the upload never held the slot"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = refused.json().await.expect("json body");
    assert_eq!(
        body,
        json!({"success": false, "error": "The server is busy, try again shortly [error-server-busy]",
               "errorType": "error-server-busy"})
    );

    // The upload finishes; the slot is free again.
    let closing = "\r\n--cut--\r\n";
    upload
        .write_all(format!("{:x}\r\n{closing}\r\n0\r\n\r\n", closing.len()).as_bytes())
        .await
        .expect("send the rest");
    upload.flush().await.expect("flush");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = server
            .http
            .get(format!("{}/api/info", server.base))
            .send()
            .await
            .expect("request")
            .status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was never given back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(upload);
    server.stop().await;
}
