//! users.*: register, info, list, create, update, delete, setActiveStatus, getPresence,
//! setStatus.

use crate::common;

use common::{ADMIN_PASS, Auth, PASSWORD, Reply, TestServer, sha256_hex};
use serde_json::{Value, json};

fn register_body(username: &str) -> Value {
    json!({
        "username": username,
        "email": format!("{username}@example.com"),
        "pass": PASSWORD,
        "name": format!("User {username}"),
    })
}

fn create_body(username: &str) -> Value {
    json!({
        "username": username,
        "email": format!("{username}@example.com"),
        "password": PASSWORD,
        "name": format!("User {username}"),
    })
}

/// `POST /api/v1/<path>` with an `application/x-www-form-urlencoded` body.
async fn post_form(
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
    auth: Option<&Auth>,
) -> Reply {
    let mut builder = server
        .http
        .post(format!("{}/api/v1/{path}", server.base))
        .form(form);
    if let Some(a) = auth {
        builder = builder
            .header("X-User-Id", &a.user_id)
            .header("X-Auth-Token", &a.token);
    }
    let response = builder.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

/// A user as an admin sees it in `users.info`.
async fn info_as(server: &TestServer, auth: &Auth, username: &str) -> Value {
    server
        .get("users.info", &[("username", username)], Some(auth))
        .await
        .ok()["user"]
        .clone()
}

/// `users.update` with the password second factor.
async fn update_with_2fa(server: &TestServer, auth: &Auth, body: Value, password: &str) -> Reply {
    let code = sha256_hex(password);
    server
        .post_with_headers(
            "users.update",
            body,
            Some(auth),
            &[("X-2fa-Code", &code), ("X-2fa-Method", "password")],
        )
        .await
}

// ---------------------------------------------------------------------------------------------
// users.register

#[tokio::test]
async fn register_creates_an_active_user_who_can_log_in() {
    let server = TestServer::start().await;
    let reply = server
        .post("users.register", register_body("alice"), None)
        .await;
    let user = &reply.ok()["user"];
    assert_eq!(user["username"], json!("alice"));
    assert_eq!(user["name"], json!("User alice"));
    assert_eq!(user["active"], json!(true));
    assert_eq!(user["type"], json!("user"));
    assert!(user["_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        user.get("emails").is_none() && user.get("roles").is_none(),
        "an anonymous caller sees the limited projection: {user}"
    );
    assert!(user.get("services").is_none());

    let auth = server.login("alice", PASSWORD).await;
    assert_eq!(auth.user_id, user["_id"].as_str().expect("id"));
    let admin = server.admin().await;
    let full = info_as(&server, &admin, "alice").await;
    assert_eq!(full["roles"], json!(["user"]));
    assert_eq!(
        full["emails"],
        json!([{"address": "alice@example.com", "verified": false}])
    );
    server.stop().await;
}

#[tokio::test]
async fn register_refuses_a_taken_username_in_any_case() {
    let server = TestServer::start().await;
    server
        .post("users.register", register_body("alice"), None)
        .await
        .ok();
    let mut again = register_body("ALICE");
    again["email"] = json!("other@example.com");
    let body = server
        .post("users.register", again, None)
        .await
        .refused(400, "Username is already in use")
        .clone();
    assert!(body.get("errorType").is_none(), "{body}");
    // The bootstrap admin's name and the system's blocked names are taken too.
    let mut blocked = register_body("administrator");
    blocked["email"] = json!("administrator@example.com");
    server
        .post("users.register", blocked, None)
        .await
        .refused(400, "Username is already in use");
    server.stop().await;
}

#[tokio::test]
async fn register_refuses_an_invalid_username() {
    let server = TestServer::start().await;
    for bad in ["bad name", "bad/name", "élan", ""] {
        let mut body = register_body("x");
        body["username"] = json!(bad);
        server
            .post("users.register", body, None)
            .await
            .refused(400, "The username provided is not valid");
    }
    server.stop().await;
}

#[tokio::test]
async fn register_validates_required_params() {
    let server = TestServer::start().await;
    let mut body = register_body("alice");
    body.as_object_mut().expect("object").remove("pass");
    let reply = server.post("users.register", body, None).await;
    let refused = reply.refused(400, "must have required property 'pass' [invalid-params]");
    assert_eq!(refused["errorType"], json!("invalid-params"));

    let mut body = register_body("alice");
    body.as_object_mut().expect("object").remove("username");
    server.post("users.register", body, None).await.refused(
        400,
        "must have required property 'username' [invalid-params]",
    );
    server.stop().await;
}

#[tokio::test]
async fn register_refuses_a_taken_email() {
    let server = TestServer::start().await;
    server
        .post("users.register", register_body("alice"), None)
        .await
        .ok();
    let mut body = register_body("alicia");
    body["email"] = json!("alice@example.com");
    let reply = server.post("users.register", body, None).await;
    let refused = reply.refused(400, "Email already exists. [403]");
    assert_eq!(
        refused["errorType"],
        json!(403),
        "numeric Meteor code stays a number"
    );
    server.stop().await;
}

#[tokio::test]
async fn register_refuses_an_invalid_email() {
    let server = TestServer::start().await;
    let mut body = register_body("alice");
    body["email"] = json!("not-an-email");
    let reply = server.post("users.register", body, None).await;
    let refused = reply.refused(400, "Invalid email not-an-email [error-invalid-email]");
    assert_eq!(refused["errorType"], json!("error-invalid-email"));
    server.stop().await;
}

#[tokio::test]
async fn register_refused_when_registration_is_disabled() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides
            .push(("Accounts_RegistrationForm".into(), "Disabled".into()));
    })
    .await;
    let reply = server
        .post("users.register", register_body("alice"), None)
        .await;
    let refused = reply.refused(
        400,
        "User registration is disabled [error-user-registration-disabled]",
    );
    assert_eq!(
        refused["errorType"],
        json!("error-user-registration-disabled")
    );
    assert_eq!(refused["details"]["method"], json!("registerUser"));
    // Admins still add users.
    let admin = server.admin().await;
    server
        .post("users.create", create_body("bob"), Some(&admin))
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn register_in_secret_url_mode_needs_the_secret() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides
            .push(("Accounts_RegistrationForm".into(), "Secret URL".into()));
    })
    .await;
    let admin = server.admin().await;
    let secret = server
        .get(
            "settings/Accounts_RegistrationForm_SecretURL",
            &[],
            Some(&admin),
        )
        .await
        .ok()["value"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(!secret.is_empty(), "a random secret is generated");

    let expected =
        "User registration is only allowed via Secret URL [error-user-registration-secret]";
    server
        .post("users.register", register_body("alice"), None)
        .await
        .refused(400, expected);
    let mut wrong = register_body("alice");
    wrong["secret"] = json!("not-the-secret");
    server
        .post("users.register", wrong, None)
        .await
        .refused(400, expected);
    let mut right = register_body("alice");
    right["secret"] = json!(secret);
    server.post("users.register", right, None).await.ok();
    server.login("alice", PASSWORD).await;
    server.stop().await;
}

#[tokio::test]
async fn manually_approved_users_start_inactive() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides
            .push(("Accounts_ManuallyApproveNewUsers".into(), "true".into()));
    })
    .await;
    let reply = server
        .post("users.register", register_body("alice"), None)
        .await;
    let user = reply.ok()["user"].clone();
    assert_eq!(user["active"], json!(false));
    server
        .post(
            "login",
            json!({"user": "alice", "password": PASSWORD}),
            None,
        )
        .await
        .refused(401, "unauthorized");

    let admin = server.admin().await;
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": user["_id"], "activeStatus": true}),
            Some(&admin),
        )
        .await
        .ok();
    server.login("alice", PASSWORD).await;
    server.stop().await;
}

#[tokio::test]
async fn first_user_on_a_server_without_admin_becomes_admin() {
    let server = TestServer::start_with(|c| c.admin_pass = None).await;
    server
        .post(
            "login",
            json!({"user": "admin", "password": ADMIN_PASS}),
            None,
        )
        .await
        .refused(401, "unauthorized");
    let first = server.new_user("founder").await;
    let me = server.get("me", &[], Some(&first)).await;
    let roles = me.ok()["roles"].as_array().expect("roles").clone();
    assert!(roles.contains(&json!("admin")), "{roles:?}");
    assert!(roles.contains(&json!("user")), "{roles:?}");

    server.new_user("second").await;
    let second = info_as(&server, &first, "second").await;
    assert_eq!(second["roles"], json!(["user"]));
    server.stop().await;
}

#[tokio::test]
async fn register_ignores_the_credentials_a_request_carries() {
    // Sign-up needs no login, so a logged-in user's headers on the request change nothing:
    // a new, separate account is made.
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post("users.register", register_body("alice2"), Some(&alice))
        .await;
    let user = reply.ok()["user"].clone();
    assert_eq!(user["username"], "alice2");
    let second = server.login("alice2", PASSWORD).await;
    let me = server.get("me", &[], Some(&second)).await;
    assert_eq!(me.ok()["username"], "alice2");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.info

#[tokio::test]
async fn info_shows_everything_to_self_and_admin() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;

    for (caller, query) in [
        (&alice, ("userId", alice.user_id.as_str())),
        (&alice, ("username", "alice")),
        (&admin, ("userId", alice.user_id.as_str())),
    ] {
        let reply = server.get("users.info", &[query], Some(caller)).await;
        let user = &reply.ok()["user"];
        assert_eq!(user["_id"], json!(alice.user_id));
        assert_eq!(user["username"], json!("alice"));
        assert_eq!(user["canViewAllInfo"], json!(true));
        assert_eq!(
            user["emails"],
            json!([{"address": "alice@example.com", "verified": false}])
        );
        assert_eq!(user["roles"], json!(["user"]));
        assert!(user.get("createdAt").is_some(), "{user}");
        assert!(user.get("services").is_none() || caller.user_id == alice.user_id);
    }
    server.stop().await;
}

#[tokio::test]
async fn info_of_others_is_limited() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let reply = server
        .get("users.info", &[("userId", &alice.user_id)], Some(&bob))
        .await;
    let user = &reply.ok()["user"];
    assert_eq!(user["username"], json!("alice"));
    assert_eq!(user["name"], json!("User alice"));
    assert_eq!(user["canViewAllInfo"], json!(false));
    for hidden in [
        "emails",
        "roles",
        "createdAt",
        "lastLogin",
        "statusConnection",
        "services",
        "requirePasswordChange",
        "_updatedAt",
    ] {
        assert!(user.get(hidden).is_none(), "{hidden} leaked: {user}");
    }
    server.stop().await;
}

#[tokio::test]
async fn info_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server
        .get("users.info", &[("username", "nobody")], Some(&alice))
        .await
        .refused(400, "User not found.");
    server
        .get("users.info", &[("userId", "no-such-id")], Some(&alice))
        .await
        .refused(400, "User not found.");
    server
        .get("users.info", &[], Some(&alice))
        .await
        .refused(400, "Invalid search query.");
    server
        .get("users.info", &[("username", "alice")], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.list

#[tokio::test]
async fn list_paginates_and_sorts() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        server
            .post("users.create", create_body(name), Some(&admin))
            .await
            .ok();
    }
    // admin, rocket.cat and the five.
    let all = server.get("users.list", &[], Some(&admin)).await;
    let body = all.ok();
    assert_eq!(body["total"], json!(7));
    assert_eq!(body["count"], json!(7));
    assert_eq!(body["offset"], json!(0));
    let names: Vec<&str> = body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("username"))
        .collect();
    assert_eq!(
        names,
        ["admin", "rocket.cat", "u1", "u2", "u3", "u4", "u5"],
        "default sort is by username"
    );

    let page = server
        .get(
            "users.list",
            &[("count", "2"), ("offset", "3")],
            Some(&admin),
        )
        .await;
    let body = page.ok();
    assert_eq!(body["count"], json!(2));
    assert_eq!(body["offset"], json!(3));
    assert_eq!(body["total"], json!(7));
    assert_eq!(body["users"][0]["username"], json!("u2"));
    assert_eq!(body["users"][1]["username"], json!("u3"));

    let sorted = server
        .get(
            "users.list",
            &[("sort", r#"{"username":-1}"#), ("count", "3")],
            Some(&admin),
        )
        .await;
    let body = sorted.ok();
    let names: Vec<&str> = body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("username"))
        .collect();
    assert_eq!(names, ["u5", "u4", "u3"]);
    assert_eq!(body["total"], json!(7));
    server.stop().await;
}

#[tokio::test]
async fn list_refuses_an_invalid_sort() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for sort in ["{bad", r#"{"password":1}"#, r#"{"username":2}"#, "[1]"] {
        let reply = server
            .get("users.list", &[("sort", sort)], Some(&admin))
            .await;
        assert_eq!(reply.status, 400, "{sort}: {}", reply.body);
        assert_eq!(reply.body["success"], json!(false));
        assert_eq!(
            reply.body["errorType"],
            json!("error-invalid-sort"),
            "{sort}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn list_shows_limited_fields_to_non_admins() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;
    let as_user = server.get("users.list", &[], Some(&alice)).await;
    let users = as_user.ok()["users"].as_array().expect("users").clone();
    assert_eq!(users.len(), 3);
    for user in users.iter().filter(|u| u["username"] != json!("alice")) {
        assert!(user.get("username").is_some());
        for hidden in ["emails", "roles", "createdAt", "services", "lastLogin"] {
            assert!(user.get(hidden).is_none(), "{hidden} leaked: {user}");
        }
    }
    let as_admin = server.get("users.list", &[], Some(&admin)).await;
    let users = as_admin.ok()["users"].as_array().expect("users").clone();
    let alice_doc = users
        .iter()
        .find(|u| u["username"] == json!("alice"))
        .expect("alice listed");
    assert_eq!(alice_doc["roles"], json!(["user"]));
    assert!(alice_doc.get("emails").is_some());
    assert!(alice_doc.get("services").is_none());
    server
        .get("users.list", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

/// Upstream's deprecated `query` and `fields` of `users.list`: a whitelisted filter over the
/// listed fields, and a projection that adds fields to the defaults but never hidden ones.
#[tokio::test]
async fn list_honours_query_and_fields() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    for name in ["u1", "u2", "u3"] {
        server
            .post("users.create", create_body(name), Some(&admin))
            .await
            .ok();
    }
    let alice = server.new_user("alice").await;
    let names = |body: &Value| -> Vec<String> {
        body["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| u["username"].as_str().expect("username").to_owned())
            .collect()
    };
    let query = r#"{"$or":[{"username":{"$regex":"^U[12]$","$options":"i"}},{"name":"User u3"}]}"#;
    let reply = server
        .get("users.list", &[("query", query)], Some(&admin))
        .await;
    let body = reply.ok();
    assert_eq!(names(body), ["u1", "u2", "u3"]);
    assert_eq!(body["total"], json!(3));
    let reply = server
        .get(
            "users.list",
            &[
                ("query", r#"{"name":{"$regex":"^User u[12]"}}"#),
                ("count", "1"),
                ("offset", "1"),
            ],
            Some(&admin),
        )
        .await;
    let body = reply.ok();
    assert_eq!(names(body), ["u2"]);
    assert_eq!(body["total"], json!(2));

    // Projection: the defaults, plus what is asked for, with `_id` and `nameInsensitive`.
    let reply = server
        .get(
            "users.list",
            &[("fields", r#"{"createdAt":1,"services":1}"#)],
            Some(&admin),
        )
        .await;
    let users = reply.ok()["users"].as_array().expect("users").clone();
    let u1 = users
        .iter()
        .find(|u| u["username"] == json!("u1"))
        .expect("u1");
    assert!(u1.get("createdAt").is_some(), "{u1}");
    assert!(u1.get("services").is_none(), "{u1}");
    assert!(u1.get("emails").is_some(), "{u1}");
    assert_eq!(u1["nameInsensitive"], json!("user u1"));
    let reply = server.get("users.list", &[], Some(&admin)).await;
    let users = reply.ok()["users"].as_array().expect("users").clone();
    let u1 = users
        .iter()
        .find(|u| u["username"] == json!("u1"))
        .expect("u1");
    assert!(u1.get("createdAt").is_none(), "not a default field: {u1}");
    // A normal user can neither select nor query hidden fields: the condition is dropped.
    let reply = server
        .get(
            "users.list",
            &[
                ("fields", r#"{"createdAt":1}"#),
                ("query", r#"{"emails.address":"nobody@example.com"}"#),
            ],
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], json!(6), "{body}");
    for user in body["users"].as_array().expect("users") {
        assert!(user.get("createdAt").is_none(), "{user}");
        assert!(user.get("emails").is_none(), "{user}");
    }

    for (query, error) in [
        (
            r#"{"bio":"x"}"#,
            "Invalid attribute: bio [error-invalid-query]",
        ),
        (
            r#"{"$where":"1"}"#,
            "Invalid operation: $where [error-invalid-query]",
        ),
        (
            r#"{"name":{"$ne":"x"}}"#,
            "Invalid operation: $ne [error-invalid-query]",
        ),
        (
            "{bad",
            "Invalid query parameter provided: \"{bad\" [error-invalid-query]",
        ),
    ] {
        let reply = server
            .get("users.list", &[("query", query)], Some(&admin))
            .await;
        reply.refused(400, error);
        assert_eq!(
            reply.body["errorType"],
            json!("error-invalid-query"),
            "{query}"
        );
    }
    let reply = server
        .get(
            "users.list",
            &[("fields", r#"{"username":2}"#)],
            Some(&admin),
        )
        .await;
    reply.refused(
        400,
        "Invalid fields parameter provided: \"{\"username\":2}\" [error-invalid-fields]",
    );
    assert_eq!(reply.body["errorType"], json!("error-invalid-fields"));
    server.stop().await;
}

/// Upstream's `users.list` projection depends on the caller only (`view-full-other-user-info`),
/// so a normal user's own entry is limited like everybody else's.
#[tokio::test]
async fn list_limits_the_callers_own_entry_too() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server.get("users.list", &[], Some(&alice)).await;
    let users = reply.ok()["users"].as_array().expect("users").clone();
    let own = users
        .iter()
        .find(|u| u["username"] == json!("alice"))
        .expect("alice listed");
    for hidden in [
        "emails",
        "roles",
        "createdAt",
        "lastLogin",
        "statusConnection",
    ] {
        assert!(own.get(hidden).is_none(), "{hidden} shown: {own}");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.create

#[tokio::test]
async fn create_adds_a_user() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let mut body = create_body("bob");
    body["verified"] = json!(true);
    body["roles"] = json!(["user", "bot"]);
    body["nickname"] = json!("bobby");
    let reply = server.post("users.create", body, Some(&admin)).await;
    let user = &reply.ok()["user"];
    assert_eq!(user["username"], json!("bob"));
    assert_eq!(user["name"], json!("User bob"));
    assert_eq!(user["active"], json!(true));
    assert_eq!(user["nickname"], json!("bobby"));
    assert_eq!(user["roles"], json!(["user", "bot"]));
    assert_eq!(
        user["emails"],
        json!([{"address": "bob@example.com", "verified": true}])
    );
    assert!(user.get("services").is_none());
    server.login("bob", PASSWORD).await;

    let mut inactive = create_body("carl");
    inactive["active"] = json!(false);
    let reply = server.post("users.create", inactive, Some(&admin)).await;
    assert_eq!(reply.ok()["user"]["active"], json!(false));
    server
        .post("login", json!({"user": "carl", "password": PASSWORD}), None)
        .await
        .refused(401, "unauthorized");
    server.stop().await;
}

#[tokio::test]
async fn create_refusals() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;

    let reply = server
        .post("users.create", create_body("bob"), Some(&alice))
        .await;
    let refused = reply.refused(400, "Adding user is not allowed [error-action-not-allowed]");
    assert_eq!(refused["errorType"], json!("error-action-not-allowed"));
    assert_eq!(refused["details"]["action"], json!("Adding_user"));

    server
        .post("users.create", create_body("bob"), Some(&admin))
        .await
        .ok();

    let mut same_name = create_body("bob");
    same_name["email"] = json!("bob2@example.com");
    let reply = server.post("users.create", same_name, Some(&admin)).await;
    let refused = reply.refused(400, "bob is already in use :( [error-field-unavailable]");
    assert_eq!(refused["errorType"], json!("error-field-unavailable"));

    let mut same_email = create_body("bob2");
    same_email["email"] = json!("bob@example.com");
    server
        .post("users.create", same_email, Some(&admin))
        .await
        .refused(
            400,
            "bob@example.com is already in use :( [error-field-unavailable]",
        );

    let reply = server
        .post("users.create", create_body("bad name"), Some(&admin))
        .await;
    let refused = reply.refused(
        400,
        "bad name is not a valid username [error-input-is-not-a-valid-field]",
    );
    assert_eq!(
        refused["errorType"],
        json!("error-input-is-not-a-valid-field")
    );

    let reply = server
        .post("users.create", create_body("administrator"), Some(&admin))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["errorType"], json!("error-blocked-username"));
    assert_eq!(
        reply.body["error"],
        json!("administrator is blocked and can't be used! [error-blocked-username]")
    );

    let mut no_password = create_body("dora");
    no_password
        .as_object_mut()
        .expect("object")
        .remove("password");
    let reply = server.post("users.create", no_password, Some(&admin)).await;
    let refused = reply.refused(
        400,
        "must have required property 'password' [invalid-params]",
    );
    assert_eq!(refused["errorType"], json!("invalid-params"));

    let mut bad_email = create_body("dora");
    bad_email["email"] = json!("dora-at-example");
    let reply = server.post("users.create", bad_email, Some(&admin)).await;
    assert_eq!(reply.body["errorType"], json!("error-invalid-email"));

    let mut bad_role = create_body("dora");
    bad_role["roles"] = json!(["no-such-role"]);
    server
        .post("users.create", bad_role, Some(&admin))
        .await
        .refused(
            400,
            "The field Roles consist invalid role id [error-action-not-allowed]",
        );

    server
        .post("users.create", create_body("dora"), None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn create_accepts_a_form_encoded_body() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let reply = post_form(
        &server,
        "users.create",
        &[
            ("username", "formuser"),
            ("email", "formuser@example.com"),
            ("password", PASSWORD),
            ("name", "Form User"),
            ("verified", "true"),
        ],
        Some(&admin),
    )
    .await;
    let user = &reply.ok()["user"];
    assert_eq!(user["username"], json!("formuser"));
    assert_eq!(user["name"], json!("Form User"));
    assert_eq!(user["emails"][0]["verified"], json!(true));
    server.login("formuser", PASSWORD).await;

    let reply = post_form(
        &server,
        "users.create",
        &[
            ("username", "formuser2"),
            ("email", "formuser2@example.com"),
            ("password", PASSWORD),
            ("name", "Form User 2"),
            ("active", "false"),
        ],
        Some(&admin),
    )
    .await;
    assert_eq!(reply.ok()["user"]["active"], json!(false));

    let reply = post_form(
        &server,
        "users.create",
        &[("username", "formuser3"), ("name", "x")],
        Some(&admin),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorType"], json!("invalid-params"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.update

#[tokio::test]
async fn update_own_name() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post(
            "users.update",
            json!({"userId": alice.user_id, "data": {"name": "Alice Liddell", "nickname": "al"}}),
            Some(&alice),
        )
        .await;
    let user = &reply.ok()["user"];
    assert_eq!(user["name"], json!("Alice Liddell"));
    assert_eq!(user["nickname"], json!("al"));
    let me = server.get("me", &[], Some(&alice)).await;
    assert_eq!(me.ok()["name"], json!("Alice Liddell"));

    // Upstream's limits: a nickname of 120 characters, a bio of 260.
    for (field, limit, refusal) in [
        (
            "nickname",
            120,
            "Nickname size exceeds 120 characters [error-nickname-size-exceeded]",
        ),
        (
            "bio",
            260,
            "Bio size exceeds 260 characters [error-bio-size-exceeded]",
        ),
    ] {
        let longest = "é".repeat(limit);
        server
            .post(
                "users.update",
                json!({"userId": alice.user_id, "data": {field: longest}}),
                Some(&alice),
            )
            .await
            .ok();
        server
            .post(
                "users.update",
                json!({"userId": alice.user_id, "data": {field: format!("{longest}x")}}),
                Some(&alice),
            )
            .await
            .refused(400, refusal);
    }
    let user = server
        .get("users.info", &[("userId", &alice.user_id)], Some(&alice))
        .await;
    assert_eq!(user.ok()["user"]["bio"], json!("é".repeat(260)));
    server.stop().await;
}

#[tokio::test]
async fn update_of_another_user_needs_permission() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post(
            "users.update",
            json!({"userId": bob.user_id, "data": {"name": "Hacked"}}),
            Some(&alice),
        )
        .await;
    let refused = reply.refused(
        400,
        "Editing user is not allowed [error-action-not-allowed]",
    );
    assert_eq!(refused["errorType"], json!("error-action-not-allowed"));

    let admin = server.admin().await;
    let reply = server
        .post(
            "users.update",
            json!({"userId": bob.user_id, "data": {"name": "Robert"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["user"]["name"], json!("Robert"));

    server
        .post("users.update", json!({"userId": bob.user_id}), Some(&admin))
        .await
        .refused(400, "must have required property 'data' [invalid-params]");
    server
        .post(
            "users.update",
            json!({"userId": "no-such-user", "data": {"name": "x"}}),
            Some(&admin),
        )
        .await
        .refused(400, "User not found");
    server.stop().await;
}

#[tokio::test]
async fn password_change_by_admin_ends_the_targets_sessions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let bob2 = server.login("bob", PASSWORD).await;
    let new_password = "N3w-Passw0rd!";
    server
        .post(
            "users.update",
            json!({"userId": bob.user_id, "data": {"password": new_password}}),
            Some(&admin),
        )
        .await
        .ok();
    for session in [&bob, &bob2] {
        server
            .get("me", &[], Some(session))
            .await
            .refused(401, "You must be logged in to do this.");
    }
    server.get("me", &[], Some(&admin)).await.ok();
    server
        .post("login", json!({"user": "bob", "password": PASSWORD}), None)
        .await
        .refused(401, "unauthorized");
    server.login("bob", new_password).await;
    server.stop().await;
}

#[tokio::test]
async fn own_password_change_keeps_only_the_current_session() {
    let server = TestServer::start().await;
    let bob = server.new_user("bob").await;
    let other = server.login("bob", PASSWORD).await;
    server
        .post(
            "users.update",
            json!({"userId": bob.user_id, "data": {"password": "An0ther-Pass!"}}),
            Some(&bob),
        )
        .await
        .ok();
    server.get("me", &[], Some(&bob)).await.ok();
    server
        .get("me", &[], Some(&other))
        .await
        .refused(401, "You must be logged in to do this.");
    server.login("bob", "An0ther-Pass!").await;
    server.stop().await;
}

#[tokio::test]
async fn update_asks_for_the_second_factor() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides.push((
            "Accounts_TwoFactorAuthentication_RememberFor".into(),
            "0".into(),
        ));
    })
    .await;
    let alice = server.new_user("alice").await;
    let change = json!({"userId": alice.user_id, "data": {"name": "Alice Two"}});

    let reply = server
        .post("users.update", change.clone(), Some(&alice))
        .await;
    let refused = reply.refused(400, "TOTP Required [totp-required]");
    assert_eq!(refused["errorType"], json!("totp-required"));
    assert_eq!(refused["details"]["method"], json!("password"));
    assert_eq!(refused["details"]["codeGenerated"], json!(false));

    let reply = update_with_2fa(&server, &alice, change.clone(), "wrong password").await;
    let refused = reply.refused(400, "TOTP Invalid [totp-invalid]");
    assert_eq!(refused["errorType"], json!("totp-invalid"));
    assert_eq!(refused["details"]["method"], json!("password"));

    server
        .post_with_headers(
            "users.update",
            change.clone(),
            Some(&alice),
            &[("X-2fa-Code", "123456"), ("X-2fa-Method", "password")],
        )
        .await
        .refused(400, "TOTP Invalid [totp-invalid]");

    let reply = update_with_2fa(&server, &alice, change.clone(), PASSWORD).await;
    assert_eq!(reply.ok()["user"]["name"], json!("Alice Two"));

    // The code may be sent in upper case hex too.
    let upper = sha256_hex(PASSWORD).to_uppercase();
    server
        .post_with_headers(
            "users.update",
            change.clone(),
            Some(&alice),
            &[("X-2fa-Code", &upper), ("X-2fa-Method", "password")],
        )
        .await
        .ok();

    // With RememberFor = 0 nothing is remembered: the next call is challenged again.
    server
        .post("users.update", change, Some(&alice))
        .await
        .refused(400, "TOTP Required [totp-required]");
    server.stop().await;
}

#[tokio::test]
async fn second_factor_is_remembered_on_the_token() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides.push((
            "Accounts_TwoFactorAuthentication_RememberFor".into(),
            "2".into(),
        ));
    })
    .await;
    let alice = server.new_user("alice").await;
    let other_session = server.login("alice", PASSWORD).await;
    let change = json!({"userId": alice.user_id, "data": {"bio": "hello"}});
    // Younger than RememberFor: not asked.
    server
        .post("users.update", change.clone(), Some(&alice))
        .await
        .ok();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    server
        .post("users.update", change.clone(), Some(&alice))
        .await
        .refused(400, "TOTP Required [totp-required]");
    update_with_2fa(&server, &alice, change.clone(), PASSWORD)
        .await
        .ok();
    // Remembered on this token (same client) ...
    server
        .post("users.update", change.clone(), Some(&alice))
        .await
        .ok();
    // ... but not on another session.
    server
        .post("users.update", change, Some(&other_session))
        .await
        .refused(400, "TOTP Required [totp-required]");
    server.stop().await;
}

#[tokio::test]
async fn second_factor_can_be_turned_off() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides.push((
            "Accounts_TwoFactorAuthentication_RememberFor".into(),
            "0".into(),
        ));
    })
    .await;
    let admin = server.admin().await;
    let change = json!({"userId": admin.user_id, "data": {"name": "Boss"}});
    server
        .post("users.update", change.clone(), Some(&admin))
        .await
        .refused(400, "TOTP Required [totp-required]");
    // Changing a setting asks for it too.
    server
        .post(
            "settings/Accounts_TwoFactorAuthentication_Enabled",
            json!({"value": false}),
            Some(&admin),
        )
        .await
        .refused(400, "TOTP Required [totp-required]");
    server
        .post_with_headers(
            "settings/Accounts_TwoFactorAuthentication_Enabled",
            json!({"value": false}),
            Some(&admin),
            &[
                ("X-2fa-Code", &sha256_hex(ADMIN_PASS)),
                ("X-2fa-Method", "password"),
            ],
        )
        .await
        .ok();
    server.post("users.update", change, Some(&admin)).await.ok();
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.delete

#[tokio::test]
async fn delete_needs_delete_user() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post("users.delete", json!({"userId": bob.user_id}), Some(&alice))
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );
    server.get("me", &[], Some(&bob)).await.ok();
    server.stop().await;
}

#[tokio::test]
async fn delete_removes_the_user_and_their_sessions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post("users.delete", json!({"userId": bob.user_id}), Some(&admin))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"success": true}));
    server
        .get("me", &[], Some(&bob))
        .await
        .refused(401, "You must be logged in to do this.");
    server
        .get("users.info", &[("username", "bob")], Some(&admin))
        .await
        .refused(400, "User not found.");
    server
        .post("login", json!({"user": "bob", "password": PASSWORD}), None)
        .await
        .refused(401, "unauthorized");
    // The name is free again.
    server.new_user("bob").await;

    // By username too.
    server.new_user("carl").await;
    server
        .post("users.delete", json!({"username": "carl"}), Some(&admin))
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn delete_refusals() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let reply = server
        .post(
            "users.delete",
            json!({"userId": "no-such-user"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorType"], json!("error-invalid-user"));
    server
        .post("users.delete", json!({}), Some(&admin))
        .await
        .refused(
            400,
            "The required \"userId\" or \"username\" param was not provided [error-user-param-not-provided]",
        );

    let reply = server
        .post(
            "users.delete",
            json!({"userId": admin.user_id}),
            Some(&admin),
        )
        .await;
    let refused = reply.refused(
        400,
        "Leaving the app without admins is not allowed [error-action-not-allowed]",
    );
    assert_eq!(refused["details"]["action"], json!("Remove_last_admin"));
    server.get("me", &[], Some(&admin)).await.ok();
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.setActiveStatus

#[tokio::test]
async fn set_active_status_needs_permission() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post(
            "users.setActiveStatus",
            json!({"userId": bob.user_id, "activeStatus": false}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );
    server.get("me", &[], Some(&bob)).await.ok();
    server.stop().await;
}

#[tokio::test]
async fn deactivation_ends_sessions_and_blocks_login() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post(
            "users.setActiveStatus",
            json!({"userId": bob.user_id, "activeStatus": false}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"user": {"_id": bob.user_id, "active": false}, "success": true})
    );
    server
        .get("me", &[], Some(&bob))
        .await
        .refused(401, "You must be logged in to do this.");
    server
        .post("login", json!({"user": "bob", "password": PASSWORD}), None)
        .await
        .refused(401, "unauthorized");

    let reply = server
        .post(
            "users.setActiveStatus",
            json!({"userId": bob.user_id, "activeStatus": true}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["user"]["active"], json!(true));
    let again = server.login("bob", PASSWORD).await;
    server.get("me", &[], Some(&again)).await.ok();
    server.stop().await;
}

#[tokio::test]
async fn last_active_admin_cannot_be_deactivated() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let reply = server
        .post(
            "users.setActiveStatus",
            json!({"userId": admin.user_id, "activeStatus": false}),
            Some(&admin),
        )
        .await;
    let refused = reply.refused(
        400,
        "Leaving the app without an active admin is not allowed [error-action-not-allowed]",
    );
    assert_eq!(refused["details"]["action"], json!("Remove_last_admin"));
    server.get("me", &[], Some(&admin)).await.ok();

    // With a second admin it is allowed.
    let mut second = create_body("admin2");
    second["roles"] = json!(["admin"]);
    server.post("users.create", second, Some(&admin)).await.ok();
    let admin2 = server.login("admin2", PASSWORD).await;
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": admin.user_id, "activeStatus": false}),
            Some(&admin2),
        )
        .await
        .ok();
    // Now admin2 is the last active admin.
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": admin2.user_id, "activeStatus": false}),
            Some(&admin2),
        )
        .await
        .refused(
            400,
            "Leaving the app without an active admin is not allowed [error-action-not-allowed]",
        );
    server.stop().await;
}

#[tokio::test]
async fn set_active_status_validates_params() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let reply = server
        .post(
            "users.setActiveStatus",
            json!({"activeStatus": false}),
            Some(&admin),
        )
        .await;
    let refused = reply.refused(400, "must have required property 'userId' [invalid-params]");
    assert_eq!(refused["errorType"], json!("invalid-params"));
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": bob.user_id}),
            Some(&admin),
        )
        .await
        .refused(
            400,
            "must have required property 'activeStatus' [invalid-params]",
        );
    let reply = server
        .post(
            "users.setActiveStatus",
            json!({"userId": bob.user_id, "activeStatus": "maybe"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorType"], json!("invalid-params"));
    assert!(
        reply.body["error"]
            .as_str()
            .is_some_and(|e| e.ends_with("must be boolean [invalid-params]")),
        "{}",
        reply.body
    );
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": "no-such-user", "activeStatus": false}),
            Some(&admin),
        )
        .await
        .refused(400, "User not found");
    server.get("me", &[], Some(&bob)).await.ok();
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.getPresence / users.setStatus

#[tokio::test]
async fn presence_of_self_and_others() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;

    let own = server.get("users.getPresence", &[], Some(&alice)).await;
    let body = own.ok();
    assert_eq!(body["presence"], json!("offline"));
    assert_eq!(body["connectionStatus"], json!("offline"));
    assert!(body["lastLogin"].is_string(), "{body}");

    let own_by_id = server
        .get(
            "users.getPresence",
            &[("userId", &alice.user_id)],
            Some(&alice),
        )
        .await;
    assert!(own_by_id.ok().get("connectionStatus").is_some());

    let other = server
        .get(
            "users.getPresence",
            &[("userId", &admin.user_id)],
            Some(&alice),
        )
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(
        other.body,
        json!({"presence": "offline", "success": true}),
        "others' presence only"
    );
    let by_name = server
        .get(
            "users.getPresence",
            &[("username", "rocket.cat")],
            Some(&alice),
        )
        .await;
    assert_eq!(by_name.ok()["presence"], json!("online"));

    let unknown = server
        .get("users.getPresence", &[("username", "nobody")], Some(&alice))
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["errorType"], json!("error-invalid-user"));
    server.stop().await;
}

#[tokio::test]
async fn set_status_of_self() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post(
            "users.setStatus",
            json!({"status": "away", "message": "brb"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"success": true}));
    let me = server.get("me", &[], Some(&alice)).await;
    let body = me.ok();
    assert_eq!(body["statusText"], json!("brb"));
    assert_eq!(body["statusDefault"], json!("away"));

    // A message alone is enough.
    server
        .post("users.setStatus", json!({"message": "lunch"}), Some(&alice))
        .await
        .ok();
    let info = server
        .get("users.info", &[("username", "alice")], Some(&alice))
        .await;
    assert_eq!(info.ok()["user"]["statusText"], json!("lunch"));

    for status in ["online", "busy", "offline"] {
        server
            .post("users.setStatus", json!({"status": status}), Some(&alice))
            .await
            .ok();
    }
    server.stop().await;
}

#[tokio::test]
async fn set_status_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;
    let reply = server
        .post(
            "users.setStatus",
            json!({"status": "sleeping", "message": "zz"}),
            Some(&alice),
        )
        .await;
    let refused = reply.refused(
        400,
        "Valid status types include online, away, offline, and busy. [error-invalid-status]",
    );
    assert_eq!(refused["errorType"], json!("error-invalid-status"));

    let reply = server
        .post(
            "users.setStatus",
            json!({"status": "busy", "userId": admin.user_id}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "unauthorized"})
    );

    // An admin may set another's status.
    server
        .post(
            "users.setStatus",
            json!({"status": "busy", "message": "set by admin", "userId": alice.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let me = server.get("me", &[], Some(&alice)).await;
    assert_eq!(me.ok()["statusText"], json!("set by admin"));

    // Neither a status nor a message (nor one of them as text): the shape check fails, with
    // Meteor's text and no errorType, before anything else is looked at.
    const SHAPE: &str = "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation";
    for body in [
        json!({}),
        json!({"status": 5}),
        json!({"message": ["x"]}),
        json!({"status": null, "message": null}),
    ] {
        let reply = server.post("users.setStatus", body, Some(&alice)).await;
        assert_eq!(
            reply.body,
            json!({"success": false, "error": SHAPE}),
            "{}",
            reply.status
        );
        assert_eq!(reply.status, 400);
    }
    // A message alone, or a status alone, fits.
    server
        .post(
            "users.setStatus",
            json!({"message": "only text"}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post("users.setStatus", json!({"status": "away"}), Some(&alice))
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn invisible_status_can_be_disabled() {
    let server = TestServer::start_with(|c| {
        c.setting_overrides
            .push(("Accounts_AllowInvisibleStatusOption".into(), "false".into()));
    })
    .await;
    let alice = server.new_user("alice").await;
    server
        .post(
            "users.setStatus",
            json!({"status": "offline"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "Invisible status is disabled [error-status-not-allowed]",
        );
    server
        .post("users.setStatus", json!({"status": "away"}), Some(&alice))
        .await
        .ok();
    server.stop().await;
}

/// `users.getStatus`, which bots poll: the caller's own status with its connection status,
/// another user's without.
#[tokio::test]
async fn get_status_of_self_and_others() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;

    let own = server.get("users.getStatus", &[], Some(&alice)).await;
    assert_eq!(
        own.ok(),
        &json!({"_id": alice.user_id, "status": "offline", "connectionStatus": "offline",
                "success": true})
    );
    let other = server
        .get(
            "users.getStatus",
            &[("userId", &admin.user_id)],
            Some(&alice),
        )
        .await;
    assert_eq!(
        other.ok(),
        &json!({"_id": admin.user_id, "status": "offline", "success": true})
    );
    let cat = server
        .get(
            "users.getStatus",
            &[("username", "rocket.cat")],
            Some(&alice),
        )
        .await;
    assert_eq!(cat.ok()["_id"], json!("rocket.cat"));
    server
        .get("users.getStatus", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

/// `users.info?includeUserRooms=true`: one's own rooms, or anyone's for holders of
/// `view-other-user-channels`; others get the user without them.
#[tokio::test]
async fn users_info_includes_rooms_when_allowed() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let admin = server.admin().await;
    server
        .post(
            "groups.create",
            json!({"name": "alices-group"}),
            Some(&alice),
        )
        .await
        .ok();
    let own = server
        .get(
            "users.info",
            &[("userId", &alice.user_id), ("includeUserRooms", "true")],
            Some(&alice),
        )
        .await;
    let rooms = own.ok()["user"]["rooms"].as_array().expect("rooms").clone();
    let names: Vec<&str> = rooms.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        ["general", "alices-group"],
        "channels first, then groups"
    );
    assert_eq!(rooms[1]["t"], json!("p"));
    assert_eq!(rooms[1]["roles"], json!(["owner"]));
    assert!(rooms[1]["rid"].is_string() && rooms[1]["unread"].is_i64());

    let by_admin = server
        .get(
            "users.info",
            &[("userId", &alice.user_id), ("includeUserRooms", "true")],
            Some(&admin),
        )
        .await;
    assert_eq!(
        by_admin.ok()["user"]["rooms"].as_array().map(Vec::len),
        Some(2)
    );
    let by_bob = server
        .get(
            "users.info",
            &[("userId", &alice.user_id), ("includeUserRooms", "true")],
            Some(&bob),
        )
        .await;
    assert!(by_bob.ok()["user"].get("rooms").is_none());
    server.stop().await;
}

/// `pw.getPolicy`: what clients show before a password is typed, as upstream lists it.
#[tokio::test]
async fn password_policy_is_listed() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;
    let off = server.get("pw.getPolicy", &[], Some(&alice)).await;
    assert_eq!(
        off.ok(),
        &json!({"enabled": false, "policy": [], "success": true})
    );
    for (id, value) in [
        ("Accounts_Password_Policy_Enabled", json!(true)),
        ("Accounts_Password_Policy_MinLength", json!(12)),
        ("Accounts_Password_Policy_MaxLength", json!(-1)),
        (
            "Accounts_Password_Policy_ForbidRepeatingCharacters",
            json!(true),
        ),
        (
            "Accounts_Password_Policy_ForbidRepeatingCharactersCount",
            json!(3),
        ),
        ("Accounts_Password_Policy_AtLeastOneLowercase", json!(true)),
        ("Accounts_Password_Policy_AtLeastOneUppercase", json!(false)),
        ("Accounts_Password_Policy_AtLeastOneNumber", json!(true)),
        (
            "Accounts_Password_Policy_AtLeastOneSpecialCharacter",
            json!(false),
        ),
    ] {
        server
            .post(
                &format!("settings/{id}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await
            .ok();
    }
    let on = server.get("pw.getPolicy", &[], Some(&alice)).await;
    assert_eq!(
        on.ok(),
        &json!({"enabled": true, "success": true, "policy": [
            ["get-password-policy-minLength", {"minLength": 12}],
            ["get-password-policy-forbidRepeatingCharacters"],
            ["get-password-policy-forbidRepeatingCharactersCount", {"forbidRepeatingCharactersCount": 3}],
            ["get-password-policy-mustContainAtLeastOneLowercase"],
            ["get-password-policy-mustContainAtLeastOneNumber"],
        ]})
    );
    server
        .get("pw.getPolicy", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.updateOwnBasicInfo

#[tokio::test]
async fn update_own_basic_info_changes_name_username_and_password() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let other_session = server.login("alice", PASSWORD).await;
    let reply = server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {
                "name": "Alice Liddell",
                "username": "alice.l",
                "nickname": "  Al ",
                "bio": "Down the rabbit hole",
                "statusText": "reading",
                "currentPassword": sha256_hex(PASSWORD),
                "newPassword": "N3w-Pass-Word!",
            }}),
            Some(&alice),
        )
        .await;
    let user = &reply.ok()["user"];
    assert_eq!(user["username"], json!("alice.l"));
    assert_eq!(user["name"], json!("Alice Liddell"));
    assert_eq!(user["nickname"], json!("Al"));
    assert_eq!(user["bio"], json!("Down the rabbit hole"));
    assert_eq!(user["statusText"], json!("reading"));
    assert_eq!(user["_id"], json!(alice.user_id));
    // The new password logs in; the caller's session stays, the others end.
    server.login("alice.l", "N3w-Pass-Word!").await;
    server.get("me", &[], Some(&alice)).await.ok();
    server
        .get("me", &[], Some(&other_session))
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn update_own_basic_info_asks_the_password_for_email_and_password() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    for data in [
        json!({"email": "alice2@example.com"}),
        json!({"newPassword": "An0ther-Pass!"}),
    ] {
        let reply = server
            .post(
                "users.updateOwnBasicInfo",
                json!({ "data": data }),
                Some(&alice),
            )
            .await;
        let body = reply.refused(400, "TOTP Required [totp-required]");
        assert_eq!(body["errorType"], json!("totp-required"), "{body}");
        assert_eq!(body["details"]["method"], json!("password"), "{body}");
    }
    let wrong = server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"email": "alice2@example.com", "currentPassword": sha256_hex("nope")}}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        wrong.refused(400, "TOTP Invalid [totp-invalid]")["errorType"],
        json!("totp-invalid")
    );
    // The new address is kept unverified.
    let reply = server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"email": "alice2@example.com", "currentPassword": sha256_hex(PASSWORD)}}),
            Some(&alice),
        )
        .await;
    let user = &reply.ok()["user"];
    assert_eq!(user["emails"][0]["address"], json!("alice2@example.com"));
    assert_eq!(user["emails"][0]["verified"], json!(false));
    // The same password again is refused.
    let same = server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"newPassword": PASSWORD, "currentPassword": sha256_hex(PASSWORD)}}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        same.refused(
            400,
            "Entered password same as current password [error-password-same-as-current]"
        )["errorType"],
        json!("error-password-same-as-current")
    );
    server.stop().await;
}

#[tokio::test]
async fn update_own_basic_info_follows_the_settings_and_identity_rules() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for name in ["admin", "administrator", "system", "user"] {
        server
            .post(
                "users.updateOwnBasicInfo",
                json!({"data": {"username": name}}),
                Some(&alice),
            )
            .await
            .refused(
                400,
                "Could not save user identity [error-could-not-save-identity]",
            );
    }
    server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"name": "   "}}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "Could not save user identity [error-could-not-save-identity]",
        );
    for (setting, data, error) in [
        (
            "Accounts_AllowUsernameChange",
            json!({"username": "alice.b"}),
            "Edit username is not allowed [error-action-not-allowed]",
        ),
        (
            "Accounts_AllowRealNameChange",
            json!({"name": "Other"}),
            "Edit user real name is not allowed [error-action-not-allowed]",
        ),
        (
            "Accounts_AllowUserStatusMessageChange",
            json!({"statusText": "busy"}),
            "Edit user status is not allowed [error-action-not-allowed]",
        ),
    ] {
        server
            .post(
                &format!("settings/{setting}"),
                json!({"value": false}),
                Some(&admin),
            )
            .await
            .ok();
        server
            .post(
                "users.updateOwnBasicInfo",
                json!({ "data": data }),
                Some(&alice),
            )
            .await
            .refused(400, error);
    }
    server
        .post(
            "settings/Accounts_AllowUserProfileChange",
            json!({"value": false}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"nickname": "x"}}),
            Some(&alice),
        )
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    let missing = server
        .post("users.updateOwnBasicInfo", json!({}), Some(&alice))
        .await;
    assert_eq!(
        missing.refused(400, "must have required property 'data' [invalid-params]")["errorType"],
        json!("invalid-params")
    );
    server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"active": false}}),
            Some(&alice),
        )
        .await
        .refused(400, "must NOT have additional properties [invalid-params]");
    server.stop().await;
}

#[tokio::test]
async fn users_info_finds_a_user_by_email() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let admin = server.admin().await;
    let reply = server
        .get(
            "users.info",
            &[("email", "ALICE@example.com")],
            Some(&admin),
        )
        .await;
    let user = &reply.ok()["user"];
    assert_eq!(user["_id"], json!(alice.user_id));
    assert_eq!(user["username"], json!("alice"));
    let own = server
        .get("users.info", &[("email", "bob@example.com")], Some(&bob))
        .await;
    assert_eq!(own.ok()["user"]["_id"], json!(bob.user_id));
    server
        .get("users.info", &[("email", "nobody@example.com")], Some(&bob))
        .await
        .refused(400, "User not found.");
    // Without view-full-other-user-info another user's address finds nobody: whose address
    // it is stays private.
    server
        .get("users.info", &[("email", "alice@example.com")], Some(&bob))
        .await
        .refused(400, "User not found.");
    server.stop().await;
}

// users.listByStatus

fn usernames(body: &Value) -> Vec<String> {
    body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_owned())
        .collect()
}

#[tokio::test]
async fn list_by_status_filters_by_activity_login_type_roles_and_search() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    // Created by an administrator: never logged in.
    server
        .post("users.create", create_body("carol"), Some(&admin))
        .await
        .ok();
    let bob = info_as(&server, &admin, "bob").await;
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": bob["_id"], "activeStatus": false}),
            Some(&admin),
        )
        .await
        .ok();
    let list = |query: Vec<(&'static str, &'static str)>| {
        let server = &server;
        let admin = &admin;
        async move {
            let reply = server.get("users.listByStatus", &query, Some(admin)).await;
            reply.ok().clone()
        }
    };

    let all = list(vec![]).await;
    assert_eq!(
        usernames(&all),
        ["admin", "alice", "bob", "carol", "rocket.cat"]
    );
    assert_eq!(all["total"], json!(5));
    assert_eq!(all["count"], json!(5));
    assert_eq!(all["offset"], json!(0));
    let row = &all["users"][1];
    assert_eq!(row["username"], json!("alice"));
    assert_eq!(row["type"], json!("user"));
    assert_eq!(row["active"], json!(true));
    assert_eq!(row["roles"], json!(["user"]));
    assert_eq!(row["emails"][0]["address"], json!("alice@example.com"));
    assert!(row["lastLogin"].is_string(), "{row}");
    assert!(row.get("password").is_none() && row.get("services").is_none());

    let active = list(vec![("status", "active"), ("hasLoggedIn", "true")]).await;
    assert_eq!(usernames(&active), ["admin", "alice"]);
    let deactivated = list(vec![("status", "deactivated")]).await;
    assert_eq!(usernames(&deactivated), ["bob"]);
    let pending = list(vec![("hasLoggedIn", "false"), ("type", "user")]).await;
    assert_eq!(usernames(&pending), ["carol"]);
    let bots = list(vec![("type", "bot")]).await;
    assert_eq!(usernames(&bots), ["rocket.cat"]);
    let admins = list(vec![("roles[]", "admin")]).await;
    assert_eq!(usernames(&admins), ["admin"]);
    let everyone = list(vec![("roles[]", "admin"), ("roles[]", "all")]).await;
    assert_eq!(everyone["total"], json!(5));
    let search = list(vec![("searchTerm", "CAROL@example")]).await;
    assert_eq!(usernames(&search), ["carol"]);
    let paged = list(vec![
        ("count", "2"),
        ("offset", "1"),
        ("sort", r#"{"username":-1}"#),
    ])
    .await;
    assert_eq!(usernames(&paged), ["carol", "bob"]);
    assert_eq!(paged["total"], json!(5));
    // Only an approval could hold a user back, and Comet has none to wait for.
    let awaiting = list(vec![("inactiveReason[]", "pending_approval")]).await;
    assert_eq!(awaiting["total"], json!(0));

    // A user sees no addresses, and cannot find anyone by one.
    let as_alice = server
        .get(
            "users.listByStatus",
            &[("searchTerm", "carol@example")],
            Some(&alice),
        )
        .await;
    assert_eq!(as_alice.ok()["total"], json!(0));
    let as_alice = server
        .get(
            "users.listByStatus",
            &[("searchTerm", "carol")],
            Some(&alice),
        )
        .await;
    let rows = as_alice.ok()["users"].clone();
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert!(rows[0].get("emails").is_none(), "{rows}");
    server.stop().await;
}

#[tokio::test]
async fn list_by_status_checks_permission_then_parameters() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for (query, error) in [
        (
            vec![("status", "pending")],
            "must be equal to one of the allowed values [invalid-params]",
        ),
        (
            vec![("color", "red")],
            "must NOT have additional properties [invalid-params]",
        ),
        (
            vec![("inactiveReason[]", "bored")],
            "must be equal to one of the allowed values [invalid-params]",
        ),
    ] {
        let reply = server.get("users.listByStatus", &query, Some(&admin)).await;
        reply.refused(400, error);
        assert_eq!(reply.body["errorType"], json!("invalid-params"));
    }

    server
        .post(
            "settings/API_Apply_permission_view-outside-room_on_users-list",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "view-outside-room", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .get("users.listByStatus", &[], Some(&alice))
        .await
        .refused(403, "unauthorized");
    server
        .get("users.listByStatus", &[], Some(&admin))
        .await
        .ok();

    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "view-d-room", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    // The missing permission is reported before an invalid parameter.
    server
        .get("users.listByStatus", &[("status", "pending")], Some(&alice))
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    server.stop().await;
}

/// Upstream's `preferences.data` of its users.ts end-to-end test.
fn upstream_preferences() -> Value {
    json!({
        "newRoomNotification": "door", "newMessageNotification": "chime",
        "muteFocusedConversations": true, "clockMode": 1, "useEmojis": true,
        "convertAsciiEmoji": true, "saveMobileBandwidth": true, "collapseMediaByDefault": false,
        "autoImageLoad": true, "emailNotificationMode": "mentions", "unreadAlert": true,
        "notificationsSoundVolume": 100, "desktopNotifications": "default",
        "pushNotifications": "default", "enableAutoAway": true, "highlights": [],
        "desktopNotificationRequireInteraction": false, "hideUsernames": false,
        "hideRoles": false, "displayAvatars": true, "hideFlexTab": false,
        "sendOnEnter": "normal", "idleTimeLimit": 3600, "notifyCalendarEvents": false,
        "enableMobileRinging": false,
    })
}

#[tokio::test]
async fn preferences_are_saved_and_read_back_as_upstream() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let prefs = upstream_preferences();

    // Another user's preferences without `edit-other-user-info`: refused before any look-up.
    server
        .post(
            "users.setPreferences",
            json!({"userId": "no-such-id", "data": prefs}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "Editing user is not allowed [error-action-not-allowed]",
        );
    server
        .post(
            "users.setPreferences",
            json!({"userId": "no-such-id", "data": prefs}),
            Some(&admin),
        )
        .await
        .refused(
            400,
            "The optional \"userId\" param provided does not match any users [error-invalid-user]",
        );
    let other = server
        .post(
            "users.setPreferences",
            json!({"userId": alice.user_id, "data": prefs}),
            Some(&admin),
        )
        .await;
    assert_eq!(other.ok()["user"]["_id"], json!(alice.user_id));

    let mut with_language = prefs.clone();
    with_language["language"] = json!("en");
    let saved = server
        .post(
            "users.setPreferences",
            json!({"userId": admin.user_id, "data": with_language}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        saved.ok()["user"]["settings"]["preferences"],
        with_language,
        "the saved keys and the language, no defaults"
    );
    let read = server.get("users.getPreferences", &[], Some(&admin)).await;
    assert_eq!(read.ok()["preferences"], with_language);

    // A wrong type is refused as upstream's schema refuses it.
    let wrong = server
        .post(
            "users.setPreferences",
            json!({"data": {"useEmojis": "yes"}}),
            Some(&alice),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["errorType"], json!("invalid-params"));

    // `me` lists exactly upstream's CE default preference keys, the saved ones over them.
    let me = server.get("me", &[], Some(&alice)).await;
    let keys: std::collections::BTreeSet<&str> = me.ok()["settings"]["preferences"]
        .as_object()
        .expect("preferences")
        .keys()
        .map(String::as_str)
        .collect();
    let upstream: std::collections::BTreeSet<&str> = [
        "alsoSendThreadToChannel",
        "newRoomNotification",
        "newMessageNotification",
        "showThreadsInMainChannel",
        "useEmojis",
        "convertAsciiEmoji",
        "saveMobileBandwidth",
        "collapseMediaByDefault",
        "autoImageLoad",
        "emailNotificationMode",
        "unreadAlert",
        "masterVolume",
        "notificationsSoundVolume",
        "voipRingerVolume",
        "omnichannelTranscriptEmail",
        "desktopNotifications",
        "pushNotifications",
        "enableAutoAway",
        "desktopNotificationRequireInteraction",
        "hideUsernames",
        "hideRoles",
        "displayAvatars",
        "hideFlexTab",
        "sendOnEnter",
        "idleTimeLimit",
        "sidebarShowFavorites",
        "sidebarShowUnread",
        "themeAppearence",
        "sidebarSortby",
        "sidebarViewMode",
        "sidebarDisplayAvatar",
        "sidebarGroupByType",
        "sidebarSectionsOrder",
        "muteFocusedConversations",
        "notifyCalendarEvents",
        "enableMobileRinging",
        "featuresPreview",
        // Saved by the admin above for alice (not defaults upstream has settings for).
        "clockMode",
        "highlights",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, upstream);
    server.stop().await;
}

/// Creates a channel owned by `owner` with `members`, and answers its id.
async fn channel_of(server: &TestServer, owner: &Auth, name: &str, members: &[&str]) -> String {
    let created = server
        .post(
            "channels.create",
            json!({"name": name, "members": members}),
            Some(owner),
        )
        .await;
    created.ok()["channel"]["_id"]
        .as_str()
        .expect("channel id")
        .to_owned()
}

async fn owners_of(server: &TestServer, admin: &Auth, room_id: &str) -> Vec<String> {
    let roles = server
        .get("channels.roles", &[("roomId", room_id)], Some(admin))
        .await;
    roles.ok()["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter(|r| {
            r["roles"]
                .as_array()
                .is_some_and(|l| l.contains(&json!("owner")))
        })
        .map(|r| r["u"]["_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn deleting_the_last_owner_needs_confirmation_and_hands_ownership_over() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let shared = channel_of(&server, &alice, "shared", &["admin"]).await;
    let lonely = channel_of(&server, &alice, "lonely", &[]).await;

    let refused = server
        .post(
            "users.delete",
            json!({"userId": alice.user_id}),
            Some(&admin),
        )
        .await;
    refused.refused(400, "[user-last-owner]");
    assert_eq!(refused.body["errorType"], json!("user-last-owner"));
    assert_eq!(
        refused.body["details"],
        json!({"shouldBeRemoved": ["lonely"], "shouldChangeOwner": ["shared"]})
    );

    server
        .post(
            "users.delete",
            json!({"userId": alice.user_id, "confirmRelinquish": true}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(
        owners_of(&server, &admin, &shared).await,
        vec![admin.user_id.clone()]
    );
    let gone = server
        .get(
            "channels.info",
            &[("roomId", lonely.as_str())],
            Some(&admin),
        )
        .await;
    assert_eq!(gone.status, 400, "{}", gone.body);
    server.stop().await;
}

#[tokio::test]
async fn deactivating_the_last_owner_needs_confirmation_and_hands_ownership_over() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let room = channel_of(&server, &alice, "owned", &["admin"]).await;

    server
        .post(
            "users.setActiveStatus",
            json!({"userId": alice.user_id, "activeStatus": false}),
            Some(&admin),
        )
        .await
        .refused(400, "[user-last-owner]");
    server
        .post(
            "users.setActiveStatus",
            json!({"userId": alice.user_id, "activeStatus": false, "confirmRelinquish": true}),
            Some(&admin),
        )
        .await
        .ok();
    let mut owners = owners_of(&server, &admin, &room).await;
    owners.sort();
    let mut want = vec![admin.user_id.clone(), alice.user_id.clone()];
    want.sort();
    assert_eq!(
        owners, want,
        "the deactivated owner keeps the role; admin gets it too"
    );
    server.stop().await;
}

#[tokio::test]
async fn password_policy_lists_every_failing_rule() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for (id, value) in [
        ("Accounts_Password_Policy_Enabled", json!(true)),
        ("Accounts_Password_Policy_MinLength", json!(7)),
        ("Accounts_Password_Policy_MaxLength", json!(5)),
        (
            "Accounts_Password_Policy_ForbidRepeatingCharacters",
            json!(true),
        ),
        (
            "Accounts_Password_Policy_ForbidRepeatingCharactersCount",
            json!(3),
        ),
        ("Accounts_Password_Policy_AtLeastOneLowercase", json!(true)),
        ("Accounts_Password_Policy_AtLeastOneUppercase", json!(true)),
        ("Accounts_Password_Policy_AtLeastOneNumber", json!(true)),
        (
            "Accounts_Password_Policy_AtLeastOneSpecialCharacter",
            json!(true),
        ),
    ] {
        server
            .post(
                &format!("settings/{id}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await
            .ok();
    }
    let reason = |code: &str, message: &str| json!({"error": code, "message": message});
    let max = reason(
        "error-password-policy-not-met-maxLength",
        "The password does not meet the maximum length password policy.",
    );
    let repeating = reason(
        "error-password-policy-not-met-repeatingCharacters",
        "The password contains repeating characters which is against the password policy.",
    );
    let upper = reason(
        "error-password-policy-not-met-oneUppercase",
        "The password does not contain at least one uppercase character which is against the password policy.",
    );
    let special = reason(
        "error-password-policy-not-met-oneSpecial",
        "The password does not contain at least one special character which is against the password policy.",
    );
    let text = "The password provided does not meet the server's password policy. [error-password-policy-not-met]";

    let own = server
        .post(
            "users.updateOwnBasicInfo",
            json!({"data": {"currentPassword": sha256_hex(PASSWORD), "newPassword": "abc1aaaa"}}),
            Some(&alice),
        )
        .await;
    own.refused(400, text);
    assert_eq!(
        own.body["errorType"],
        json!("error-password-policy-not-met")
    );
    assert_eq!(own.body["details"], json!([max, repeating, upper, special]));

    let mut body = create_body("bob");
    body["password"] = json!("abc1aaaa");
    let created = server.post("users.create", body, Some(&admin)).await;
    created.refused(400, text);
    assert_eq!(
        created.body["details"],
        json!([max, repeating, upper, special])
    );
    let mut body = register_body("carol");
    body["pass"] = json!("Abc@12345678");
    let registered = server.post("users.register", body, None).await;
    registered.refused(400, text);
    assert_eq!(registered.body["details"], json!([max]));
    server.stop().await;
}

#[tokio::test]
async fn custom_fields_follow_the_accounts_custom_fields_setting() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .post(
            "settings/Accounts_CustomFields",
            json!({"value": r#"{"customFieldText": {"type": "text", "required": true, "minLength": 2, "maxLength": 10}}"#}),
            Some(&admin),
        )
        .await
        .ok();
    for (value, error) in [
        (
            "",
            "Field customFieldText is required [error-user-registration-custom-field]",
        ),
        (
            "0",
            "Min length of field customFieldText 2 [error-user-registration-custom-field]",
        ),
        (
            "0123456789-0",
            "Max length of field customFieldText 10 [error-user-registration-custom-field]",
        ),
    ] {
        let mut body = create_body("bob");
        body["customFields"] = json!({"customFieldText": value});
        let refused = server.post("users.create", body, Some(&admin)).await;
        refused.refused(400, error);
        assert_eq!(
            refused.body["errorType"],
            json!("error-user-registration-custom-field")
        );
        let mut body = register_body("carol");
        body["customFields"] = json!({"customFieldText": value});
        server
            .post("users.register", body, None)
            .await
            .refused(400, error);
    }
    let mut body = create_body("bob");
    body["customFields"] = json!({"customFieldText": "fine"});
    server.post("users.create", body, Some(&admin)).await.ok();
    let update = server
        .post(
            "users.update",
            json!({"userId": alice.user_id, "data": {"customFields": {"customFieldText": "0"}}}),
            Some(&admin),
        )
        .await;
    update.refused(
        400,
        "Min length of field customFieldText 2 [error-user-registration-custom-field]",
    );
    server.stop().await;
}

#[tokio::test]
async fn update_validates_params_and_reserved_usernames_as_upstream() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .post(
            "users.update",
            json!({"userId": "", "data": {}}),
            Some(&admin),
        )
        .await
        .refused(
            400,
            "must NOT have fewer than 1 characters [invalid-params]",
        );
    server
        .post(
            "users.update",
            json!({"userId": alice.user_id, "data": {"joinDefaultChannels": true}}),
            Some(&admin),
        )
        .await
        .refused(400, "must NOT have additional properties [invalid-params]");
    for reserved in ["admin", "administrator", "system", "user"] {
        server
            .post(
                "users.update",
                json!({"userId": alice.user_id, "data": {"username": reserved}}),
                Some(&admin),
            )
            .await
            .refused(
                400,
                "Could not save user identity [error-could-not-save-identity]",
            );
    }
    server.stop().await;
}

#[tokio::test]
async fn other_logins_end_and_this_one_stays() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let other = server.login("alice", PASSWORD).await;
    let third = server.login("alice", PASSWORD).await;
    let mut live = common::ddp::Ddp::connect(&server).await;
    live.send(
        json!({"msg": "method", "id": "l", "method": "login", "params": [{"resume": other.token}]}),
    )
    .await;
    live.until(|m| m["id"] == json!("l")).await;

    server
        .post("users.removeOtherTokens", json!({}), Some(&alice))
        .await
        .ok();
    assert_eq!(server.get("me", &[], Some(&other)).await.status, 401);
    assert_eq!(server.get("me", &[], Some(&third)).await.status, 401);
    server.get("me", &[], Some(&alice)).await.ok();
    live.until(|m| {
        m["msg"] == json!("closed")
            || m["fields"]["eventName"]
                .as_str()
                .is_some_and(|e| e.ends_with("/force_logout"))
    })
    .await;

    let fourth = server.login("alice", PASSWORD).await;
    let reply = server
        .post("users.logoutOtherClients", json!({}), Some(&alice))
        .await;
    assert_eq!(reply.ok()["token"], json!(alice.token));
    assert!(
        reply.body["tokenExpires"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(server.get("me", &[], Some(&fourth)).await.status, 401);

    let bob = server.new_user("bob").await;
    server
        .post("users.logout", json!({"userId": alice.user_id}), Some(&bob))
        .await
        .refused(403, "unauthorized");
    let out = server.post("users.logout", json!({}), Some(&alice)).await;
    assert_eq!(
        out.ok()["message"],
        json!(format!("User {} has been logged out!", alice.user_id))
    );
    assert_eq!(server.get("me", &[], Some(&alice)).await.status, 401);
    server.stop().await;
}

#[tokio::test]
async fn username_availability_and_suggestion() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let check = |name: &'static str| {
        let server = &server;
        let alice = &alice;
        async move {
            server
                .get(
                    "users.checkUsernameAvailability",
                    &[("username", name)],
                    Some(alice),
                )
                .await
        }
    };
    assert_eq!(check("bob").await.ok()["result"], json!(false));
    assert_eq!(check("alice").await.ok()["result"], json!(true));
    assert_eq!(check("carol").await.ok()["result"], json!(true));
    let missing = server
        .get("users.checkUsernameAvailability", &[], Some(&alice))
        .await;
    assert_eq!(missing.status, 400);
    let suggestion = server
        .get("users.getUsernameSuggestion", &[], Some(&alice))
        .await;
    let name = suggestion.ok()["result"]
        .as_str()
        .expect("a suggestion")
        .to_owned();
    assert!(!name.is_empty());
    assert_eq!(check_free(&server, &alice, &name).await, json!(true));
    server.stop().await;
}

async fn check_free(server: &TestServer, auth: &Auth, name: &str) -> Value {
    server
        .get(
            "users.checkUsernameAvailability",
            &[("username", name)],
            Some(auth),
        )
        .await
        .ok()["result"]
        .clone()
}

#[tokio::test]
async fn delete_own_account_follows_the_setting_and_the_password() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .post("users.deleteOwnAccount", json!({}), Some(&alice))
        .await
        .refused(400, "Body parameter \"password\" is required.");
    server
        .post(
            "users.deleteOwnAccount",
            json!({"password": sha256_hex(PASSWORD)}),
            Some(&alice),
        )
        .await
        .refused(400, "Not allowed [error-not-allowed]");
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
            json!({"password": sha256_hex("wrong")}),
            Some(&alice),
        )
        .await
        .refused(400, "Invalid password [error-invalid-password]");
    server
        .post(
            "users.deleteOwnAccount",
            json!({"password": sha256_hex(PASSWORD)}),
            Some(&alice),
        )
        .await
        .ok();
    let gone = server
        .get("users.info", &[("username", "alice")], Some(&admin))
        .await;
    assert_eq!(gone.status, 400);
    server.stop().await;
}

#[tokio::test]
async fn info_of_oneself_shows_the_login_token_hashes() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let me = server
        .get(
            "users.info",
            &[("userId", alice.user_id.as_str())],
            Some(&alice),
        )
        .await;
    let services = &me.ok()["user"]["services"];
    assert_eq!(services["password"], json!(true));
    let hashes: Vec<&str> = services["resume"]["loginTokens"]
        .as_array()
        .expect("loginTokens")
        .iter()
        .filter_map(|t| t["hashedToken"].as_str())
        .collect();
    let own = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(alice.token.as_bytes()))
    };
    assert!(hashes.contains(&own.as_str()), "{hashes:?}");
    assert!(services.get("bcrypt").is_none());
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// users.presence / users.autocomplete / users.deactivateIdle / users.requestDataDownload

async fn set_permission(server: &TestServer, admin: &Auth, id: &str, roles: &[&str]) {
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": id, "roles": roles}]}),
            Some(admin),
        )
        .await
        .ok();
}

fn names_in(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_owned())
        .collect()
}

#[tokio::test]
async fn presence_lists_who_is_not_offline_or_who_changed_lately() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let mut live = common::ddp::Ddp::connect(&server).await;
    live.login("alice").await;

    server
        .get("users.presence", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");

    // Everyone not offline: the bot and alice, each with upstream's projection.
    let reply = server.get("users.presence", &[], Some(&bob)).await;
    let body = reply.ok();
    assert_eq!(body["full"], json!(true));
    let mut online = names_in(&body["users"]);
    online.sort();
    assert_eq!(online, vec!["alice", "rocket.cat"]);
    let entry = body["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["username"] == "alice"))
        .expect("alice");
    let mut keys: Vec<&str> = entry
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["_id", "name", "status", "username", "utcOffset"]);
    assert_eq!(entry["_id"], json!(alice.user_id));
    assert_eq!(entry["status"], json!("online"));
    // The bot is created with a picture of its own, so it has an ETag as upstream's has.
    let bot = body["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["username"] == "rocket.cat"))
        .expect("rocket.cat");
    let mut keys: Vec<&str> = bot
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "_id",
            "avatarETag",
            "name",
            "status",
            "username",
            "utcOffset"
        ]
    );

    // A recent `from`: only the others who changed since then, whatever their presence.
    let before = (chrono::Utc::now() - chrono::Duration::seconds(2))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    server
        .post(
            "users.setStatus",
            json!({"status": "online", "message": "at my desk"}),
            Some(&admin),
        )
        .await
        .ok();
    let reply = server
        .get("users.presence", &[("from", &before)], Some(&bob))
        .await;
    let body = reply.ok();
    assert_eq!(body["full"], json!(false));
    assert!(
        names_in(&body["users"]).contains(&"admin".to_owned()),
        "{body}"
    );
    let admin_entry = body["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["username"] == "admin"))
        .expect("admin");
    assert_eq!(admin_entry["statusText"], json!("at my desk"));
    // ... never the caller.
    let reply = server
        .get("users.presence", &[("from", &before)], Some(&admin))
        .await;
    assert!(!names_in(&reply.ok()["users"]).contains(&"admin".to_owned()));
    // Nothing changed after a moment still to come.
    let reply = server
        .get(
            "users.presence",
            &[("from", "2999-01-01T00:00:00.000Z")],
            Some(&bob),
        )
        .await;
    assert_eq!(reply.ok()["users"], json!([]));
    assert_eq!(reply.ok()["full"], json!(false));
    // Longer ago than ten minutes: the full list again.
    let reply = server
        .get(
            "users.presence",
            &[("from", "2001-01-01T00:00:00.000Z")],
            Some(&bob),
        )
        .await;
    assert_eq!(reply.ok()["full"], json!(true));

    // Given users: those of them who are not offline.
    let ids = format!("{},{}", alice.user_id, bob.user_id);
    let reply = server
        .get("users.presence", &[("ids", &ids)], Some(&bob))
        .await;
    let body = reply.ok();
    assert_eq!(names_in(&body["users"]), vec!["alice"]);
    assert_eq!(body["full"], json!(false));

    server
        .get("users.presence", &[("other", "x")], Some(&bob))
        .await
        .refused(400, "must NOT have additional properties [invalid-params]");

    // With presence broadcasting off, everyone counts as offline.
    server
        .set_setting(&admin, "Presence_broadcast_disabled", json!(true))
        .await;
    let reply = server.get("users.presence", &[], Some(&bob)).await;
    assert_eq!(reply.ok()["users"], json!([]));
    assert_eq!(reply.ok()["full"], json!(true));
    server.stop().await;
}

#[tokio::test]
async fn autocomplete_finds_contacts_first_and_respects_what_the_caller_may_see() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    for name in ["carol", "dave", "erin"] {
        server.new_user(name).await;
    }
    // Alice shares only her own room with carol, and a direct conversation with dave.
    server
        .post("channels.leave", json!({"roomId": "GENERAL"}), Some(&alice))
        .await
        .ok();
    server
        .post(
            "channels.create",
            json!({"name": "alices-room", "members": ["carol"]}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post("im.create", json!({"username": "dave"}), Some(&alice))
        .await
        .ok();
    let find = |selector: Value| {
        let server = &server;
        let alice = alice.clone();
        async move {
            server
                .get(
                    "users.autocomplete",
                    &[("selector", &selector.to_string())],
                    Some(&alice),
                )
                .await
        }
    };

    // Without view-outside-room: only people sharing a room, direct contacts first.
    set_permission(&server, &admin, "view-outside-room", &[]).await;
    let reply = find(json!({})).await;
    let items = reply.ok()["items"].clone();
    assert_eq!(names_in(&items), vec!["dave", "carol"]);
    let carol = &items[1];
    let mut keys: Vec<&str> = carol
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["_id", "name", "status", "username"]);
    let reply = find(json!({"term": "ERI"})).await;
    assert_eq!(reply.ok()["items"], json!([]));
    let reply = find(json!({"term": "car"})).await;
    assert_eq!(names_in(&reply.ok()["items"]), vec!["carol"]);
    let reply = find(json!({"exceptions": ["dave"]})).await;
    assert_eq!(names_in(&reply.ok()["items"]), vec!["carol"]);

    // With it: anyone active, contacts still first.
    set_permission(&server, &admin, "view-outside-room", &["admin", "user"]).await;
    let reply = find(json!({"term": "e"})).await;
    let found = names_in(&reply.ok()["items"]);
    assert_eq!(found.first().map(String::as_str), Some("dave"), "{found:?}");
    assert!(found.contains(&"erin".to_owned()), "{found:?}");
    assert!(found.contains(&"alice".to_owned()), "{found:?}");

    // Conditions narrow the people found, with $and / $or and equalities only.
    let reply =
        find(json!({"conditions": {"$and": [{"active": false}, {"status": "online"}]}})).await;
    assert_eq!(reply.ok()["items"], json!([]));
    let reply =
        find(json!({"conditions": {"$or": [{"username": "erin"}, {"username": "bot"}]}})).await;
    assert_eq!(names_in(&reply.ok()["items"]), vec!["erin"]);
    let reply = find(json!({"conditions": {"$nor": [{"username": {"$exists": false}}]}})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body, json!({"success": false}));
    let reply = find(json!({"conditions": {"username": {"$regex": "."}}})).await;
    assert_eq!(reply.body, json!({"success": false}));

    server
        .get("users.autocomplete", &[], Some(&alice))
        .await
        .refused(
            400,
            "must have required property 'selector' [invalid-params]",
        );
    server.stop().await;
}

#[tokio::test]
async fn deactivate_idle_turns_off_long_absent_holders_of_a_role() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .post("users.create", create_body("guesty"), Some(&admin))
        .await
        .ok();
    server
        .post("users.create", create_body("plain"), Some(&admin))
        .await
        .ok();
    server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "guest", "username": "guesty"}),
            Some(&admin),
        )
        .await
        .ok();

    server
        .post("users.deactivateIdle", json!({"daysIdle": 0}), Some(&alice))
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    server
        .post("users.deactivateIdle", json!({}), Some(&admin))
        .await
        .refused(
            400,
            "must have required property 'daysIdle' [invalid-params]",
        );
    server
        .post(
            "users.deactivateIdle",
            json!({"daysIdle": "1"}),
            Some(&admin),
        )
        .await
        .refused(400, "must be number [invalid-params]");

    // Nobody has been away that long.
    let reply = server
        .post(
            "users.deactivateIdle",
            json!({"daysIdle": 999_999}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["count"], json!(0));
    // The guest never logged in since being created: deactivated once, and only them.
    let reply = server
        .post(
            "users.deactivateIdle",
            json!({"daysIdle": 0, "role": "guest"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["count"], json!(1));
    let reply = server
        .post(
            "users.deactivateIdle",
            json!({"daysIdle": 0, "role": "guest"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["count"], json!(0));
    assert_eq!(
        info_as(&server, &admin, "guesty").await["active"],
        json!(false)
    );
    assert_eq!(
        info_as(&server, &admin, "plain").await["active"],
        json!(true)
    );
    server
        .post(
            "login",
            json!({"user": "guesty", "password": PASSWORD}),
            None,
        )
        .await
        .refused(401, "unauthorized");
    server.stop().await;
}

/// Asks for the caller's export until it is built; its operation.
async fn completed_export(server: &TestServer, auth: &common::Auth, full: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let reply = server
            .get(
                "users.requestDataDownload",
                &[("fullExport", full)],
                Some(auth),
            )
            .await;
        let operation = reply.ok()["exportOperation"].clone();
        if operation["status"] == json!("completed") {
            return operation;
        }
        assert_eq!(operation["status"], json!("pending"), "{operation}");
        assert!(
            std::time::Instant::now() < deadline,
            "export never completed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The bytes of a download.
async fn download(server: &TestServer, path: &str, auth: Option<&common::Auth>) -> (u16, Vec<u8>) {
    let mut request = server.http.get(format!("{}{path}", server.base));
    if let Some(auth) = auth {
        request = request
            .header("X-User-Id", &auth.user_id)
            .header("X-Auth-Token", &auth.token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn data_download_exports_the_callers_data_for_them_alone() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let room = server
        .post(
            "channels.create",
            json!({"name": "export-room", "members": ["bob"]}),
            Some(&alice),
        )
        .await
        .ok()["channel"]["_id"]
        .as_str()
        .expect("room id")
        .to_owned();
    common::say(&server, &alice, &room, "alice says hi").await;
    common::say(&server, &bob, &room, "bob answers").await;
    let (status, _) = common::post_form(
        &server,
        &format!("rooms.upload/{room}"),
        &[(
            "file",
            Some(("notes.txt", "text/plain")),
            b"alice-file-content",
        )],
        &alice,
    )
    .await;
    assert_eq!(status, 200);

    let reply = server
        .get("users.requestDataDownload", &[], Some(&alice))
        .await;
    let body = reply.ok();
    assert_eq!(body["requested"], json!(true));
    let operation = body["exportOperation"].clone();
    assert_eq!(operation["fullExport"], json!(false));
    assert_eq!(operation["userId"], json!(alice.user_id));
    // As upstream: recorded, then built off the request path.
    assert_eq!(operation["status"], json!("pending"));
    let operation = completed_export(&server, &alice, "false").await;
    assert_eq!(operation["_id"], body["exportOperation"]["_id"]);
    let path = operation["generatedFile"]
        .as_str()
        .expect("path")
        .to_owned();
    assert!(path.ends_with(".zip"), "{path}");

    // A zip of the caller's own messages only, in every room of theirs, with their profile
    // and the files they uploaded.
    let (status, archive) = download(&server, &path, Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(
        archive.starts_with(b"PK\x03\x04"),
        "{}",
        String::from_utf8_lossy(&archive[..archive.len().min(300)])
    );
    let text = String::from_utf8_lossy(&archive).into_owned();
    assert!(text.contains("profile.json"), "{text}");
    assert!(text.contains(&format!("rooms/{room}.json")), "{text}");
    assert!(text.contains("\"username\": \"alice\""), "{text}");
    assert!(text.contains("alice says hi"), "{text}");
    assert!(!text.contains("bob answers"), "{text}");
    assert!(text.contains("files/"), "{text}");
    assert!(text.contains("alice-file-content"), "{text}");
    // Nobody else may fetch it.
    assert_eq!(server.get_raw(&path, Some(&bob)).await.status, 403);
    assert_eq!(server.get_raw(&path, Some(&admin)).await.status, 403);
    assert_eq!(server.get_raw(&path, None).await.status, 403);

    // Asked again the same day: the same export, not a new one.
    let again = server
        .get(
            "users.requestDataDownload",
            &[("fullExport", "false")],
            Some(&alice),
        )
        .await;
    assert_eq!(again.ok()["requested"], json!(false));
    assert_eq!(again.ok()["exportOperation"]["_id"], operation["_id"]);
    assert_eq!(again.ok()["exportOperation"]["status"], json!("completed"));

    // A full export holds everyone's messages in the caller's rooms.
    let full = server
        .get(
            "users.requestDataDownload",
            &[("fullExport", "true")],
            Some(&alice),
        )
        .await;
    let body = full.ok();
    assert_eq!(body["requested"], json!(true));
    assert_eq!(body["exportOperation"]["fullExport"], json!(true));
    assert_ne!(body["exportOperation"]["_id"], operation["_id"]);
    let full = completed_export(&server, &alice, "true").await;
    let path = full["generatedFile"].as_str().expect("path").to_owned();
    let (_, archive) = download(&server, &path, Some(&alice)).await;
    let text = String::from_utf8_lossy(&archive).into_owned();
    assert!(text.contains("bob answers"), "{text}");
    let path = path.as_str();

    // Turned off: no export, and earlier ones can no longer be fetched.
    server
        .set_setting(&admin, "UserData_EnableDownload", json!(false))
        .await;
    server
        .get("users.requestDataDownload", &[], Some(&bob))
        .await
        .refused(
            400,
            "Data download is not enabled on this server [error-not-allowed]",
        );
    assert_eq!(server.get_raw(path, Some(&alice)).await.status, 403);
    server.stop().await;
}
