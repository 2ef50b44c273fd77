//! permissions.listAll / permissions.update and roles.*.

use crate::common;

use common::{PASSWORD, TestServer};
use serde_json::{Value, json};

fn find<'a>(items: &'a Value, id: &str) -> &'a Value {
    items
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["_id"] == json!(id))
        .unwrap_or_else(|| panic!("{id} missing"))
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
// permissions.listAll

#[tokio::test]
async fn list_all_permissions() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server.get("permissions.listAll", &[], Some(&alice)).await;
    let body = reply.ok();
    assert_eq!(body["remove"], json!([]));
    let update = &body["update"];
    assert!(update.as_array().expect("update").len() > 50);
    for (id, roles) in [
        ("create-user", json!(["admin"])),
        ("delete-user", json!(["admin"])),
        ("access-permissions", json!(["admin"])),
        (
            "view-d-room",
            json!(["admin", "user", "bot", "app", "guest"]),
        ),
        ("create-personal-access-tokens", json!(["admin", "user"])),
        ("api-bypass-rate-limit", json!(["admin", "bot", "app"])),
    ] {
        let permission = find(update, id);
        assert_eq!(permission["roles"], roles, "{id}");
        assert!(
            permission["_updatedAt"]
                .as_str()
                .is_some_and(|s| s.ends_with('Z')),
            "{permission}"
        );
    }
    server
        .get("permissions.listAll", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn list_all_permissions_updated_since() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let all = server.get("permissions.listAll", &[], Some(&admin)).await;
    let newest = all.ok()["update"]
        .as_array()
        .expect("update")
        .iter()
        .map(|p| p["_updatedAt"].as_str().expect("_updatedAt").to_owned())
        .max()
        .expect("some permission");
    // The listed time has milliseconds; pad to the end of that millisecond.
    let since = newest.replace('Z', "999999Z");

    let none = server
        .get(
            "permissions.listAll",
            &[("updatedSince", since.as_str())],
            Some(&admin),
        )
        .await;
    assert_eq!(none.ok()["update"], json!([]));

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "create-user", "roles": ["admin", "user"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    let changed = server
        .get(
            "permissions.listAll",
            &[("updatedSince", since.as_str())],
            Some(&admin),
        )
        .await;
    let body = changed.ok();
    let update = body["update"].as_array().expect("update");
    assert_eq!(update.len(), 1, "{body}");
    assert_eq!(update[0]["_id"], json!("create-user"));
    assert_eq!(update[0]["roles"], json!(["admin", "user"]));
    assert_eq!(body["remove"], json!([]));

    let past = server
        .get(
            "permissions.listAll",
            &[("updatedSince", "2000-01-01T00:00:00.000Z")],
            Some(&admin),
        )
        .await;
    assert_eq!(
        past.ok()["update"].as_array().expect("update").len(),
        all.body["update"].as_array().expect("update").len()
    );

    let reply = server
        .get(
            "permissions.listAll",
            &[("updatedSince", "yesterday")],
            Some(&admin),
        )
        .await;
    let refused = reply.refused(
        400,
        "The \"updatedSince\" query parameter must be a valid date. [error-roomId-param-invalid]",
    );
    assert_eq!(refused["errorType"], json!("error-roomId-param-invalid"));
    server.stop().await;
}

/// Upstream validates `updatedSince` with `Date.parse`, which takes more than RFC 3339
/// (a bare date, a date-time without zone).
#[tokio::test]
async fn list_all_permissions_accepts_a_bare_date() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let all = server.get("permissions.listAll", &[], Some(&admin)).await;
    let total = all.ok()["update"].as_array().expect("update").len();
    for since in ["2000-01-01", "2000-01-01T00:00:00"] {
        let reply = server
            .get(
                "permissions.listAll",
                &[("updatedSince", since)],
                Some(&admin),
            )
            .await;
        assert_eq!(
            reply.ok()["update"].as_array().expect("update").len(),
            total,
            "{since}"
        );
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// permissions.update

#[tokio::test]
async fn granting_create_user_lets_a_user_create_users() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .post("users.create", create_body("bob"), Some(&alice))
        .await
        .refused(400, "Adding user is not allowed [error-action-not-allowed]");

    let reply = server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "create-user", "roles": ["admin", "user"]}]}),
            Some(&admin),
        )
        .await;
    let body = reply.ok();
    assert_eq!(
        find(&body["permissions"], "create-user")["roles"],
        json!(["admin", "user"])
    );
    assert!(
        body["permissions"].as_array().expect("permissions").len() > 50,
        "all permissions are returned"
    );
    server
        .post("users.create", create_body("bob"), Some(&alice))
        .await
        .ok();

    // And taking it away again.
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "create-user", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post("users.create", create_body("carl"), Some(&alice))
        .await
        .refused(400, "Adding user is not allowed [error-action-not-allowed]");
    server.stop().await;
}

#[tokio::test]
async fn permissions_update_refusals() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;

    let reply = server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "no-such-permission", "roles": ["admin"]}]}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "Invalid permission", "errorType": "error-invalid-permission"})
    );

    let reply = server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "create-user", "roles": ["admin", "no-such-role"]}]}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "Invalid role", "errorType": "error-invalid-role"})
    );

    // Nothing was applied by the refused calls (validation before writing).
    let reply = server
        .post(
            "permissions.update",
            json!({"permissions": [
                {"_id": "delete-user", "roles": ["admin", "user"]},
                {"_id": "no-such-permission", "roles": ["admin"]}
            ]}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.body["errorType"], json!("error-invalid-permission"));
    let all = server.get("permissions.listAll", &[], Some(&admin)).await;
    assert_eq!(
        find(&all.ok()["update"], "delete-user")["roles"],
        json!(["admin"])
    );
    assert_eq!(
        find(&all.body["update"], "create-user")["roles"],
        json!(["admin"])
    );

    let reply = server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "create-user", "roles": ["admin", "user"]}]}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );

    for body in [
        json!({}),
        json!({"permissions": "create-user"}),
        json!({"permissions": [{"_id": "create-user"}]}),
        json!({"permissions": [{"roles": ["admin"]}]}),
    ] {
        let reply = server
            .post("permissions.update", body.clone(), Some(&admin))
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.body["errorType"], json!("invalid-params"), "{body}");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// roles.list / roles.create

#[tokio::test]
async fn roles_list_has_the_protected_defaults() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let reply = server.get("roles.list", &[], Some(&alice)).await;
    let roles = &reply.ok()["roles"];
    for (id, scope, description) in [
        ("admin", "Users", "Admin"),
        ("moderator", "Subscriptions", "Moderator"),
        ("leader", "Subscriptions", "Leader"),
        ("owner", "Subscriptions", "Owner"),
        ("user", "Users", ""),
        ("bot", "Users", ""),
        ("app", "Users", ""),
        ("guest", "Users", ""),
        ("anonymous", "Users", ""),
        ("livechat-agent", "Users", "Livechat Agent"),
        ("livechat-manager", "Users", "Livechat Manager"),
    ] {
        let role = find(roles, id);
        assert_eq!(
            role,
            &json!({
                "_id": id,
                "name": id,
                "scope": scope,
                "description": description,
                "protected": true,
                "mandatory2fa": false,
            }),
            "{id}"
        );
    }
    server
        .get("roles.list", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    server.stop().await;
}

#[tokio::test]
async fn roles_create() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let reply = server
        .post(
            "roles.create",
            json!({"name": "support", "description": "Support staff"}),
            Some(&admin),
        )
        .await;
    let role = reply.ok()["role"].clone();
    assert_eq!(role["name"], json!("support"));
    assert_eq!(role["scope"], json!("Users"));
    assert_eq!(role["description"], json!("Support staff"));
    assert_eq!(role["protected"], json!(false));
    assert_eq!(role["mandatory2fa"], json!(false));
    let role_id = role["_id"].as_str().expect("_id").to_owned();

    let listed = server.get("roles.list", &[], Some(&alice)).await;
    assert_eq!(
        find(&listed.ok()["roles"], &role_id)["name"],
        json!("support")
    );

    let reply = server
        .post("roles.create", json!({"name": "support"}), Some(&admin))
        .await;
    let refused = reply.refused(
        400,
        "Role name already exists [error-duplicate-role-names-not-allowed]",
    );
    assert_eq!(
        refused["errorType"],
        json!("error-duplicate-role-names-not-allowed")
    );
    server
        .post("roles.create", json!({"name": "admin"}), Some(&admin))
        .await
        .refused(
            400,
            "Role name already exists [error-duplicate-role-names-not-allowed]",
        );

    let reply = server
        .post(
            "roles.create",
            json!({"name": "room-helper", "scope": "Subscriptions"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["role"]["scope"], json!("Subscriptions"));
    server
        .post(
            "roles.create",
            json!({"name": "weird", "scope": "Rooms"}),
            Some(&admin),
        )
        .await
        .refused(400, "Invalid scope [error-invalid-scope]");
    server
        .post("roles.create", json!({}), Some(&admin))
        .await
        .refused(400, "must have required property 'name' [invalid-params]");

    let reply = server
        .post("roles.create", json!({"name": "mine"}), Some(&alice))
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );

    // A new role may be granted a permission and given to a user.
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": "create-user", "roles": ["admin", role_id]}]}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "roles.addUserToRole",
            json!({"roleId": role_id, "username": "alice"}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post("users.create", create_body("bob"), Some(&alice))
        .await
        .ok();
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// roles.addUserToRole / roles.removeUserFromRole

#[tokio::test]
async fn add_user_to_role() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;

    let reply = server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "livechat-agent", "username": "alice"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["role"]["_id"], json!("livechat-agent"));
    let info = server
        .get("users.info", &[("username", "alice")], Some(&admin))
        .await;
    assert_eq!(
        info.ok()["user"]["roles"],
        json!(["user", "livechat-agent"])
    );

    let reply = server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "livechat-agent", "userId": alice.user_id}),
            Some(&admin),
        )
        .await;
    let refused = reply.refused(400, "User already in role [error-user-already-in-role]");
    assert_eq!(refused["errorType"], json!("error-user-already-in-role"));

    let reply = server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "no-such-role", "username": "alice"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "error-role-not-found", "errorType": "Role not found"}),
        "upstream's swapped fields"
    );

    server
        .post(
            "roles.addUserToRole",
            json!({"username": "alice"}),
            Some(&admin),
        )
        .await
        .refused(400, "error-invalid-role-properties");

    let reply = server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "bot", "username": "nobody"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorType"], json!("error-invalid-user"));

    // Non-admins may not.
    let reply = server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "admin", "username": "alice"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    assert_eq!(reply.body["errorType"], json!("error-action-not-allowed"));
    let me = server.get("me", &[], Some(&alice)).await;
    assert!(
        !me.ok()["roles"]
            .as_array()
            .expect("roles")
            .contains(&json!("admin"))
    );

    // Making alice an admin gives her admin powers.
    server
        .post(
            "roles.addUserToRole",
            json!({"roleName": "admin", "username": "alice"}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post("users.create", create_body("bob"), Some(&alice))
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn remove_user_from_role() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "bot", "username": "alice"}),
            Some(&admin),
        )
        .await
        .ok();
    let reply = server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": "bot", "username": "alice"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["role"]["_id"], json!("bot"));
    let info = server
        .get("users.info", &[("username", "alice")], Some(&admin))
        .await;
    assert_eq!(info.ok()["user"]["roles"], json!(["user"]));

    server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": "bot", "username": "alice"}),
            Some(&admin),
        )
        .await
        .refused(400, "User is not in this role [error-user-not-in-role]");
    server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": "bot", "username": "nobody"}),
            Some(&admin),
        )
        .await
        .refused(
            400,
            "There is no user with this username [error-invalid-user]",
        );
    server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": "no-such-role", "username": "alice"}),
            Some(&admin),
        )
        .await
        .refused(400, "This role does not exist [error-invalid-roleId]");

    let reply = server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": "admin", "username": "admin"}),
            Some(&admin),
        )
        .await;
    let refused = reply.refused(
        400,
        "You need to have at least one admin [error-admin-required]",
    );
    assert_eq!(refused["errorType"], json!("error-admin-required"));
    server.get("users.list", &[], Some(&admin)).await.ok();

    let reply = server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": "user", "username": "admin"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );

    // With a second admin, one admin may step down.
    server
        .post(
            "roles.addUserToRole",
            json!({"roleId": "admin", "username": "alice"}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": "admin", "username": "admin"}),
            Some(&alice),
        )
        .await
        .ok();
    let reply = server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": "admin", "username": "alice"}),
            Some(&alice),
        )
        .await;
    reply.refused(
        400,
        "You need to have at least one admin [error-admin-required]",
    );
    // The former admin lost admin powers.
    let reply = server
        .post("users.delete", json!({"username": "alice"}), Some(&admin))
        .await;
    assert_eq!(reply.status, 403);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// roles.getUsersInRole

#[tokio::test]
async fn get_users_in_role() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("carl").await;

    let reply = server
        .get("roles.getUsersInRole", &[("role", "admin")], Some(&admin))
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], json!(1));
    let users = body["users"].as_array().expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["_id"], json!(admin.user_id));
    assert_eq!(users[0]["username"], json!("admin"));
    assert_eq!(
        users[0]["emails"],
        json!([{"address": "admin@example.com", "verified": false}])
    );
    assert!(users[0].get("createdAt").is_some());
    assert!(users[0].get("roles").is_none());
    assert!(users[0].get("services").is_none());

    let reply = server
        .get(
            "roles.getUsersInRole",
            &[("role", "user"), ("count", "2"), ("offset", "1")],
            Some(&admin),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["total"], json!(3));
    let names: Vec<&str> = body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("username"))
        .collect();
    assert_eq!(names, ["bob", "carl"], "sorted by username");

    server
        .get("roles.getUsersInRole", &[], Some(&admin))
        .await
        .refused(
            400,
            "Query param \"role\" is required [error-param-not-provided]",
        );
    server
        .get(
            "roles.getUsersInRole",
            &[("role", "no-such-role")],
            Some(&admin),
        )
        .await
        .refused(400, "[error-invalid-roleId]");
    let reply = server
        .get("roles.getUsersInRole", &[("role", "admin")], Some(&alice))
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );
    server.stop().await;
}

#[tokio::test]
async fn roles_update_and_delete() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let role = server
        .post("roles.create", json!({"name": "reviewer"}), Some(&admin))
        .await
        .ok()["role"]
        .clone();
    let role_id = role["_id"].as_str().expect("role id").to_owned();

    let updated = server
        .post(
            "roles.update",
            json!({"roleId": role_id, "name": "auditor", "description": "Reads logs"}),
            Some(&admin),
        )
        .await;
    let updated = &updated.ok()["role"];
    assert_eq!(updated["_id"], json!(role_id));
    assert_eq!(updated["name"], json!("auditor"));
    assert_eq!(updated["description"], json!("Reads logs"));
    server
        .post(
            "roles.update",
            json!({"roleId": "admin", "name": "boss"}),
            Some(&admin),
        )
        .await
        .refused(400, "Role is protected [error-role-protected]");

    // Who may not manage permissions is refused before anything is looked up.
    server
        .post("roles.delete", json!({"roleId": role_id}), Some(&alice))
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    server
        .post("roles.delete", json!({"roleId": "admin"}), Some(&admin))
        .await
        .refused(400, "Cannot delete a protected role [error-role-protected]");
    server
        .post("roles.delete", json!({"roleId": "nope"}), Some(&admin))
        .await
        .refused(400, "This role does not exist [error-invalid-roleId]");
    server
        .post(
            "roles.addUserToRole",
            json!({"roleId": role_id, "username": "alice"}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post("roles.delete", json!({"roleId": "auditor"}), Some(&admin))
        .await
        .refused(
            400,
            "Cannot delete role because it's in use [error-role-in-use]",
        );
    server
        .post(
            "roles.removeUserFromRole",
            json!({"roleId": role_id, "username": "alice"}),
            Some(&admin),
        )
        .await
        .ok();
    let deleted = server
        .post("roles.delete", json!({"roleId": role_id}), Some(&admin))
        .await;
    assert_eq!(deleted.ok(), &json!({"success": true}));
    let roles = server.get("roles.list", &[], Some(&admin)).await;
    let ids: Vec<&str> = roles.ok()["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["_id"].as_str())
        .collect();
    assert!(!ids.contains(&role_id.as_str()), "{ids:?}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// permissions.addRole / permissions.removeRole

fn roles_of(list: &Value, permission: &str) -> Vec<String> {
    find(&list["update"], permission)["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r.as_str().expect("role").to_owned())
        .collect()
}

#[tokio::test]
async fn permission_roles_are_added_and_removed_one_at_a_time() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let grant = json!({"permissionId": "add-oauth-service", "role": "moderator"});

    server
        .post("permissions.addRole", grant.clone(), None)
        .await
        .refused(401, "You must be logged in to do this.");
    server
        .post("permissions.addRole", grant.clone(), Some(&alice))
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    let unknown = server
        .post(
            "permissions.addRole",
            json!({"permissionId": "this-permission-does-not-exist", "role": "moderator"}),
            Some(&admin),
        )
        .await;
    assert_eq!(unknown.body["errorType"], json!("error-invalid-permission"));
    unknown.refused(400, "Invalid permission");
    server
        .post(
            "permissions.addRole",
            json!({"permissionId": "add-oauth-service", "role": "this-role-does-not-exist"}),
            Some(&admin),
        )
        .await
        .refused(400, "Invalid role");

    server
        .post("permissions.addRole", grant.clone(), Some(&admin))
        .await
        .ok();
    // Granting twice keeps one entry.
    server
        .post("permissions.addRole", grant.clone(), Some(&admin))
        .await
        .ok();
    let list = server.get("permissions.listAll", &[], Some(&admin)).await;
    assert_eq!(
        roles_of(list.ok(), "add-oauth-service"),
        vec!["admin".to_owned(), "moderator".to_owned()]
    );

    server
        .post("permissions.removeRole", grant.clone(), None)
        .await
        .refused(401, "You must be logged in to do this.");
    server
        .post("permissions.removeRole", grant.clone(), Some(&alice))
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    server
        .post("permissions.removeRole", grant.clone(), Some(&admin))
        .await
        .ok();
    let list = server.get("permissions.listAll", &[], Some(&admin)).await;
    assert_eq!(
        roles_of(list.ok(), "add-oauth-service"),
        vec!["admin".to_owned()]
    );
    server.stop().await;
}

#[tokio::test]
async fn permissions_update_refuses_a_permissions_string() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let reply = server
        .post(
            "permissions.update",
            json!({"permissions": ""}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.body["errorType"], json!("invalid-params"));
    reply.refused(400, "must be array [invalid-params]");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// roles.getUsersInPublicRoles / roles.sync

#[tokio::test]
async fn users_in_public_roles_list_holders_of_described_global_roles() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    server
        .get("roles.getUsersInPublicRoles", &[], None)
        .await
        .refused(401, "You must be logged in to do this.");
    let reply = server
        .get("roles.getUsersInPublicRoles", &[], Some(&alice))
        .await;
    let users = reply.ok()["users"].as_array().expect("users").clone();
    let admin_entry = users
        .iter()
        .find(|u| u["username"] == json!("admin"))
        .expect("the admin holds a public role");
    // Only the public roles are listed: `user` has no description.
    assert_eq!(admin_entry["roles"], json!(["admin"]));
    assert!(users.iter().all(|u| u["username"] != json!("alice")));
    drop(admin);
    server.stop().await;
}

#[tokio::test]
async fn roles_sync_lists_roles_changed_since() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let empty = server.get("roles.sync", &[], Some(&admin)).await;
    assert_eq!(empty.ok()["roles"], json!({"update": [], "remove": []}));
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    server
        .post("roles.create", json!({"name": "synced-role"}), Some(&admin))
        .await
        .ok();
    let changed = server
        .get("roles.sync", &[("updatedSince", &since)], Some(&admin))
        .await;
    let update = changed.ok()["roles"]["update"]
        .as_array()
        .expect("update")
        .clone();
    assert_eq!(update.len(), 1, "{update:?}");
    assert_eq!(update[0]["name"], json!("synced-role"));
    server.stop().await;
}
