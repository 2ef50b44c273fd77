//! More Meteor methods that upstream clients call, over a real WebSocket and through REST
//! `method.call`: room roles, archiving, erasing and cleaning rooms, removing members,
//! discussions, search, history, threads, and the user account methods. Each runs the same
//! service operation as its REST twin.

use crate::common;

use common::ddp::Ddp;
use common::{ADMIN_PASS, Auth, PASSWORD, TestServer, say, sha256_hex};
use serde_json::{Value, json};

async fn create_room(server: &TestServer, auth: &Auth, family: &str, name: &str) -> String {
    let key = if family == "groups" {
        "group"
    } else {
        "channel"
    };
    server
        .post(
            &format!("{family}.create"),
            json!({"name": name, "members": ["bob"]}),
            Some(auth),
        )
        .await
        .ok()[key]["_id"]
        .as_str()
        .expect("room _id")
        .to_owned()
}

/// The Meteor error of a method result, as `(error, reason)`.
fn error_of(reply: &Value) -> (String, String) {
    let error = &reply["error"];
    assert!(error.is_object(), "expected an error: {reply}");
    (
        error["error"]
            .as_str()
            .map_or_else(|| error["error"].to_string(), str::to_owned),
        error["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

fn refused(reply: &Value, error: &str, reason: &str) {
    assert_eq!(
        error_of(reply),
        (error.to_owned(), reason.to_owned()),
        "{reply}"
    );
}

async fn ddp_as(server: &TestServer, username: &str) -> Ddp {
    let mut ddp = Ddp::connect(server).await;
    if username == "admin" {
        ddp.login_with("admin", ADMIN_PASS).await;
    } else {
        ddp.login(username).await;
    }
    ddp
}

/// A method called through REST `method.call`, answered as DDP would.
async fn rest_call(server: &TestServer, auth: &Auth, method: &str, params: Value) -> Value {
    let reply = server
        .post(
            &format!("method.call/{method}"),
            json!({"message": json!({"msg": "method", "id": "7", "method": method,
                "params": params}).to_string()}),
            Some(auth),
        )
        .await;
    serde_json::from_str(reply.ok()["message"].as_str().expect("message")).expect("json")
}

async fn room_roles(server: &TestServer, auth: &Auth, rid: &str) -> Value {
    server
        .get("channels.roles", &[("roomId", rid)], Some(auth))
        .await
        .ok()["roles"]
        .clone()
}

fn roles_of(roles: &Value, username: &str) -> Vec<String> {
    roles
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["u"]["username"] == json!(username))
        .map(|r| {
            r["roles"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn set_setting(server: &TestServer, id: &str, value: Value) {
    let admin = server.admin().await;
    server.set_setting(&admin, id, value).await;
}

// ---------------------------------------------------------------------------------------------
// Room roles, archiving, erasing, removing members

#[tokio::test]
async fn room_role_methods_give_and_take_roles() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "roles").await;
    let mut ddp = ddp_as(&server, "alice").await;

    for method in ["addRoomOwner", "addRoomModerator", "addRoomLeader"] {
        let reply = ddp.call(method, json!([rid, bob.user_id])).await;
        assert_eq!(reply["result"], json!(true), "{method}: {reply}");
    }
    let roles = room_roles(&server, &alice, &rid).await;
    let mut bobs = roles_of(&roles, "bob");
    bobs.sort();
    assert_eq!(bobs, ["leader", "moderator", "owner"]);
    let reply = ddp.call("addRoomOwner", json!([rid, bob.user_id])).await;
    refused(
        &reply,
        "error-user-already-owner",
        "User is already an owner",
    );

    // Through REST method.call.
    for method in ["removeRoomModerator", "removeRoomLeader", "removeRoomOwner"] {
        let reply = rest_call(&server, &alice, method, json!([rid, bob.user_id])).await;
        assert_eq!(reply["result"], json!(true), "{method}: {reply}");
    }
    assert!(roles_of(&room_roles(&server, &alice, &rid).await, "bob").is_empty());

    // Refusals: a member without the permission, an unknown room, an unknown user, the last
    // owner, a parameter of the wrong type, and no login.
    let mut bob_ddp = ddp_as(&server, "bob").await;
    let reply = bob_ddp
        .call("addRoomModerator", json!([rid, bob.user_id]))
        .await;
    refused(&reply, "error-not-allowed", "Not allowed");
    assert_eq!(
        reply["error"]["details"],
        json!({"method": "addRoomModerator"})
    );
    let reply = ddp
        .call("addRoomOwner", json!(["no-such-room", bob.user_id]))
        .await;
    refused(&reply, "error-invalid-room", "Invalid room");
    let reply = ddp
        .call("addRoomLeader", json!([rid, "no-such-user"]))
        .await;
    refused(&reply, "error-invalid-user", "Invalid user");
    let reply = ddp
        .call("removeRoomOwner", json!([rid, alice.user_id]))
        .await;
    assert_eq!(error_of(&reply).0, "error-remove-last-owner");
    let reply = ddp.call("addRoomOwner", json!([rid, 5])).await;
    refused(&reply, "error-invalid-params", "Match failed");
    let mut anonymous = Ddp::connect(&server).await;
    let reply = anonymous
        .call("addRoomOwner", json!([rid, bob.user_id]))
        .await;
    refused(&reply, "error-invalid-user", "Invalid user");
    server.stop().await;
}

#[tokio::test]
async fn archive_erase_and_remove_methods_act_on_rooms() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "archivable").await;
    let gid = create_room(&server, &alice, "groups", "removable").await;
    let mut alice_ddp = ddp_as(&server, "alice").await;
    let mut bob_ddp = ddp_as(&server, "bob").await;

    // archiveRoom / unarchiveRoom
    let reply = bob_ddp.call("archiveRoom", json!([rid])).await;
    refused(&reply, "error-not-authorized", "Not authorized");
    let reply = alice_ddp.call("archiveRoom", json!([rid])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    let info = server
        .get("rooms.info", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(info.ok()["room"]["archived"], json!(true));
    // Unarchiving is the administrators' (upstream's default roles).
    let reply = rest_call(&server, &alice, "unarchiveRoom", json!([rid])).await;
    refused(&reply, "error-not-authorized", "Not authorized");
    let admin = server.admin().await;
    let reply = rest_call(&server, &admin, "unarchiveRoom", json!([rid])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    let info = server
        .get("rooms.info", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_ne!(info.ok()["room"]["archived"], json!(true));
    let reply = alice_ddp.call("archiveRoom", json!(["no-such-room"])).await;
    refused(&reply, "error-invalid-room", "Invalid room");

    // removeUserFromRoom
    let reply = bob_ddp
        .call(
            "removeUserFromRoom",
            json!([{"rid": gid, "username": "alice"}]),
        )
        .await;
    refused(&reply, "error-not-allowed", "Not allowed");
    let reply = alice_ddp
        .call(
            "removeUserFromRoom",
            json!([{"rid": gid, "username": "carol"}]),
        )
        .await;
    refused(&reply, "error-user-not-in-room", "User is not in this room");
    let reply = alice_ddp
        .call(
            "removeUserFromRoom",
            json!([{"rid": gid, "username": "bob"}]),
        )
        .await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let members = server
        .get("groups.members", &[("roomId", &gid)], Some(&alice))
        .await;
    let names: Vec<&str> = members.ok()["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["username"].as_str())
        .collect();
    assert_eq!(names, ["alice"]);
    let reply = alice_ddp
        .call("removeUserFromRoom", json!([{"rid": gid}]))
        .await;
    refused(&reply, "error-invalid-params", "Match failed");

    // eraseRoom
    let reply = bob_ddp.call("eraseRoom", json!([rid])).await;
    refused(&reply, "error-not-allowed", "Not allowed");
    let reply = alice_ddp.call("eraseRoom", json!([rid])).await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let reply = alice_ddp.call("eraseRoom", json!([rid])).await;
    refused(&reply, "error-invalid-room", "Invalid room");
    server.stop().await;
}

#[tokio::test]
async fn clean_history_and_add_all_need_their_permissions() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "cleanable").await;
    say(&server, &alice, &rid, "one").await;
    say(&server, &alice, &rid, "two").await;
    let range = json!({"roomId": rid, "latest": {"$date": 4_102_444_800_000_i64},
        "oldest": {"$date": 0}});

    let mut alice_ddp = ddp_as(&server, "alice").await;
    let reply = alice_ddp.call("cleanRoomHistory", json!([range])).await;
    refused(&reply, "error-not-allowed", "Not allowed");
    let reply = alice_ddp
        .call("cleanRoomHistory", json!([{"roomId": rid}]))
        .await;
    refused(&reply, "error-invalid-params", "Match failed");
    let reply = alice_ddp.call("addAllUserToRoom", json!([rid])).await;
    assert_eq!(
        error_of(&reply),
        ("403".to_owned(), "Access to Method Forbidden".to_owned())
    );

    let mut admin = ddp_as(&server, "admin").await;
    let reply = admin.call("cleanRoomHistory", json!([range])).await;
    assert_eq!(reply["result"], json!(2), "{reply}");
    let reply = admin
        .call("addAllUserToRoom", json!(["no-such-room"]))
        .await;
    refused(&reply, "error-invalid-room", "Invalid room");
    let admin_rest = server.admin().await;
    let reply = rest_call(&server, &admin_rest, "addAllUserToRoom", json!([rid, true])).await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let members = server
        .get("channels.members", &[("roomId", &rid)], Some(&alice))
        .await;
    let names: Vec<&str> = members.ok()["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["username"].as_str())
        .collect();
    assert!(names.contains(&"carol"), "{names:?}");
    server.stop().await;
}

#[tokio::test]
async fn discussion_ignore_and_room_lookup_methods() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "parent").await;
    let gid = create_room(&server, &alice, "groups", "secret-group").await;
    let mut alice_ddp = ddp_as(&server, "alice").await;
    let mut carol_ddp = ddp_as(&server, "carol").await;

    // createDiscussion
    let reply = alice_ddp
        .call(
            "createDiscussion",
            json!([{"prid": rid, "t_name": "side talk", "users": ["bob"], "reply": "first"}]),
        )
        .await;
    let discussion = &reply["result"];
    assert_eq!(discussion["prid"], json!(rid), "{reply}");
    assert_eq!(discussion["fname"], json!("side talk"));
    assert_eq!(discussion["rid"], discussion["_id"]);
    let reply = alice_ddp
        .call(
            "createDiscussion",
            json!([{"prid": "no-such-room", "t_name": "x"}]),
        )
        .await;
    refused(&reply, "error-invalid-room", "Invalid room");

    // ignoreUser
    let reply = alice_ddp
        .call("ignoreUser", json!([{"rid": rid, "userId": bob.user_id}]))
        .await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let subscription = common::subscription(&server, &alice, &rid).await;
    assert_eq!(subscription["ignored"], json!([bob.user_id]));
    let reply = carol_ddp
        .call("ignoreUser", json!([{"rid": rid, "userId": bob.user_id}]))
        .await;
    refused(&reply, "error-invalid-subscription", "Invalid subscription");

    // roomNameExists
    let reply = carol_ddp.call("roomNameExists", json!(["parent"])).await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let reply = rest_call(&server, &alice, "roomNameExists", json!(["nothing-here"])).await;
    assert_eq!(reply["result"], json!(false), "{reply}");
    let mut anonymous = Ddp::connect(&server).await;
    let reply = anonymous.call("roomNameExists", json!(["parent"])).await;
    refused(&reply, "error-invalid-user", "Invalid user");
    assert_eq!(reply["error"]["details"], json!({"method": "roomExists"}));

    // getRoomById
    let reply = alice_ddp.call("getRoomById", json!([gid])).await;
    assert_eq!(reply["result"]["_id"], json!(gid), "{reply}");
    assert_eq!(reply["result"]["t"], json!("p"));
    let reply = carol_ddp.call("getRoomById", json!([gid])).await;
    refused(&reply, "error-not-allowed", "Not allowed");
    assert_eq!(reply["error"]["details"], json!({"method": "getRoomById"}));
    let reply = carol_ddp.call("getRoomById", json!(["no-such-room"])).await;
    refused(&reply, "error-not-allowed", "Not allowed");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Search, history, threads

#[tokio::test]
async fn message_search_and_channel_history() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("carol").await;
    let gid = create_room(&server, &alice, "groups", "searchable").await;
    say(&server, &alice, &gid, "hello there").await;
    say(&server, &alice, &gid, "something else").await;
    say(&server, &alice, &gid, "hello again").await;
    let mut alice_ddp = ddp_as(&server, "alice").await;
    let mut carol_ddp = ddp_as(&server, "carol").await;

    let reply = alice_ddp.call("messageSearch", json!(["hello", gid])).await;
    let docs = reply["result"]["message"]["docs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(docs.len(), 2, "{reply}");
    let reply = alice_ddp
        .call("messageSearch", json!(["hello", gid, 1]))
        .await;
    assert_eq!(
        reply["result"]["message"]["docs"].as_array().map(Vec::len),
        Some(1)
    );
    let reply = alice_ddp.call("messageSearch", json!(["hello"])).await;
    assert_eq!(reply["result"], json!({"message": {"docs": []}}), "{reply}");
    let reply = carol_ddp.call("messageSearch", json!(["hello", gid])).await;
    assert_eq!(reply["result"], json!(false), "{reply}");
    let reply = carol_ddp.call("messageSearch", json!([5])).await;
    refused(&reply, "error-invalid-params", "Match failed");

    let reply = alice_ddp
        .call("getChannelHistory", json!([{"rid": gid, "count": 2}]))
        .await;
    let texts: Vec<&str> = reply["result"]["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["msg"].as_str())
        .collect();
    assert_eq!(texts, ["hello again", "something else"], "{reply}");
    let reply = rest_call(
        &server,
        &alice,
        "getChannelHistory",
        json!([{"rid": gid, "count": 1, "offset": 2, "unreads": true}]),
    )
    .await;
    assert_eq!(reply["result"]["messages"][0]["msg"], json!("hello there"));
    assert_eq!(reply["result"]["unreadNotLoaded"], json!(0), "{reply}");
    let reply = carol_ddp
        .call("getChannelHistory", json!([{"rid": gid}]))
        .await;
    assert_eq!(reply["result"], json!(false), "{reply}");
    let reply = carol_ddp.call("getChannelHistory", json!([{}])).await;
    refused(&reply, "error-invalid-params", "Match failed");
    server.stop().await;
}

#[tokio::test]
async fn thread_methods_follow_and_list() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    server.new_user("carol").await;
    let gid = create_room(&server, &alice, "groups", "threaded").await;
    let root = say(&server, &alice, &gid, "root").await;
    let root_id = root["_id"].as_str().expect("root id").to_owned();
    for text in ["reply one", "reply two"] {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        server
            .post(
                "chat.sendMessage",
                json!({"message": {"rid": gid, "msg": text, "tmid": root_id}}),
                Some(&alice),
            )
            .await
            .ok();
    }
    let mut bob_ddp = ddp_as(&server, "bob").await;
    let mut carol_ddp = ddp_as(&server, "carol").await;

    // followMessage / unfollowMessage
    let reply = bob_ddp
        .call("followMessage", json!([{"mid": root_id}]))
        .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let message = server
        .get("chat.getMessage", &[("msgId", &root_id)], Some(&alice))
        .await;
    let replies = message.ok()["message"]["replies"].clone();
    assert!(
        replies
            .as_array()
            .is_some_and(|r| r.contains(&json!(bob.user_id))),
        "{replies}"
    );
    let reply = rest_call(&server, &bob, "unfollowMessage", json!([{"mid": root_id}])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    let message = server
        .get("chat.getMessage", &[("msgId", &root_id)], Some(&alice))
        .await;
    assert!(
        !message.ok()["message"]["replies"]
            .as_array()
            .is_some_and(|r| r.contains(&json!(bob.user_id)))
    );
    let reply = bob_ddp
        .call("followMessage", json!([{"mid": "no-such-message"}]))
        .await;
    refused(&reply, "error-invalid-message", "Invalid message");
    let reply = carol_ddp
        .call("followMessage", json!([{"mid": root_id}]))
        .await;
    refused(&reply, "error-not-allowed", "not-allowed");

    // getThreadMessages: the first message, then the replies newest first.
    let reply = bob_ddp
        .call("getThreadMessages", json!([{"tmid": root_id}]))
        .await;
    let texts: Vec<&str> = reply["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["msg"].as_str())
        .collect();
    assert_eq!(texts, ["root", "reply two", "reply one"], "{reply}");
    let reply = bob_ddp
        .call("getThreadMessages", json!([{"tmid": root_id, "limit": 1}]))
        .await;
    assert_eq!(reply["result"].as_array().map(Vec::len), Some(2), "{reply}");
    let reply = bob_ddp
        .call("getThreadMessages", json!([{"tmid": "no-such-message"}]))
        .await;
    assert_eq!(reply["result"], json!([]), "{reply}");
    let reply = bob_ddp
        .call(
            "getThreadMessages",
            json!([{"tmid": root_id, "limit": 101}]),
        )
        .await;
    refused(&reply, "error-not-allowed", "max limit: 100");
    let reply = carol_ddp
        .call("getThreadMessages", json!([{"tmid": root_id}]))
        .await;
    refused(&reply, "error-not-allowed", "Not allowed");

    // getThreadsList
    let reply = bob_ddp.call("getThreadsList", json!([{"rid": gid}])).await;
    let threads = reply["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(threads.len(), 1, "{reply}");
    assert_eq!(threads[0]["_id"], json!(root_id));
    assert_eq!(threads[0]["tcount"], json!(2));
    let reply = carol_ddp
        .call("getThreadsList", json!([{"rid": gid}]))
        .await;
    refused(&reply, "error-not-allowed", "Not Allowed");
    let mut anonymous = Ddp::connect(&server).await;
    let reply = anonymous
        .call("getThreadsList", json!([{"rid": gid}]))
        .await;
    refused(&reply, "error-not-allowed", "Threads Disabled");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Accounts

#[tokio::test]
async fn username_and_preference_methods() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let mut ddp = ddp_as(&server, "alice").await;

    let reply = ddp
        .call("checkUsernameAvailability", json!(["a-free-name"]))
        .await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let reply = ddp.call("checkUsernameAvailability", json!(["bob"])).await;
    assert_eq!(reply["result"], json!(false), "{reply}");
    let reply = ddp.call("checkUsernameAvailability", json!([])).await;
    refused(&reply, "error-invalid-params", "Match failed");
    let reply = ddp.call("getUsernameSuggestion", json!([])).await;
    let suggestion = reply["result"].as_str().unwrap_or_default();
    assert!(!suggestion.is_empty() && suggestion != "alice", "{reply}");
    let mut anonymous = Ddp::connect(&server).await;
    let reply = anonymous.call("getUsernameSuggestion", json!([])).await;
    refused(&reply, "error-invalid-user", "Invalid user");

    let reply = ddp
        .call(
            "saveUserPreferences",
            json!([{"hideRoles": true, "notAPreference": 1}]),
        )
        .await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let preferences = server.get("users.getPreferences", &[], Some(&alice)).await;
    assert_eq!(preferences.ok()["preferences"]["hideRoles"], json!(true));
    assert!(
        preferences.ok()["preferences"]
            .get("notAPreference")
            .is_none()
    );
    let reply = rest_call(
        &server,
        &alice,
        "saveUserPreferences",
        json!([{"hideRoles": "yes"}]),
    )
    .await;
    refused(&reply, "error-invalid-params", "Match failed");
    server.stop().await;
}

#[tokio::test]
async fn account_deletion_methods() {
    let server = TestServer::start().await;
    server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    server.new_user("carol").await;
    let mut alice_ddp = ddp_as(&server, "alice").await;

    // deleteUser
    let reply = alice_ddp.call("deleteUser", json!([bob.user_id])).await;
    refused(&reply, "error-not-allowed", "Not allowed");
    let mut admin = ddp_as(&server, "admin").await;
    let reply = admin.call("deleteUser", json!(["no-such-user"])).await;
    refused(&reply, "error-invalid-user", "Invalid user to delete");
    let reply = admin.call("deleteUser", json!([bob.user_id])).await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let admin_rest = server.admin().await;
    let info = server
        .get("users.info", &[("userId", &bob.user_id)], Some(&admin_rest))
        .await;
    assert_eq!(info.status, 400, "{}", info.body);

    // deleteUserOwnAccount: off by default, then a wrong and a right password.
    let digest = sha256_hex(PASSWORD);
    let reply = alice_ddp
        .call("deleteUserOwnAccount", json!([digest]))
        .await;
    refused(&reply, "error-not-allowed", "Not allowed");
    set_setting(&server, "Accounts_AllowDeleteOwnAccount", json!(true)).await;
    let reply = alice_ddp
        .call("deleteUserOwnAccount", json!([sha256_hex("wrong")]))
        .await;
    refused(&reply, "error-invalid-password", "Invalid password");
    let reply = alice_ddp.call("deleteUserOwnAccount", json!([])).await;
    refused(&reply, "error-invalid-params", "Match failed");
    let carol = server.login("carol", PASSWORD).await;
    let reply = rest_call(&server, &carol, "deleteUserOwnAccount", json!([digest])).await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let login = server
        .post(
            "login",
            json!({"user": "carol", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(login.status, 401, "{}", login.body);
    server.stop().await;
}

#[tokio::test]
async fn role_methods_grant_and_revoke_global_roles() {
    let server = TestServer::start().await;
    server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let mut alice_ddp = ddp_as(&server, "alice").await;
    let mut admin = ddp_as(&server, "admin").await;
    let admin_rest = server.admin().await;
    let roles_of_bob = |info: &Value| -> Vec<String> {
        info["user"]["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect()
    };

    let reply = alice_ddp
        .call("authorization:addUserToRole", json!(["bot", "bob"]))
        .await;
    refused(
        &reply,
        "error-action-not-allowed",
        "Accessing permissions is not allowed",
    );
    let reply = admin
        .call(
            "authorization:addUserToRole",
            json!(["no-such-role", "bob"]),
        )
        .await;
    refused(&reply, "error-invalid-role", "Invalid Role");
    let reply = admin
        .call("authorization:addUserToRole", json!(["bot", "nobody"]))
        .await;
    refused(&reply, "error-user-not-found", "User not found");
    let reply = admin
        .call("authorization:addUserToRole", json!(["bot"]))
        .await;
    refused(&reply, "error-invalid-arguments", "Invalid arguments");
    let reply = admin
        .call("authorization:addUserToRole", json!(["bot", "bob"]))
        .await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let info = server
        .get("users.info", &[("userId", &bob.user_id)], Some(&admin_rest))
        .await;
    assert!(roles_of_bob(info.ok()).contains(&"bot".to_owned()));

    let reply = alice_ddp
        .call("authorization:removeUserFromRole", json!(["bot", "bob"]))
        .await;
    refused(
        &reply,
        "error-action-not-allowed",
        "Access permissions is not allowed",
    );
    let reply = rest_call(
        &server,
        &admin_rest,
        "authorization:removeUserFromRole",
        json!(["bot", "bob"]),
    )
    .await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let info = server
        .get("users.info", &[("userId", &bob.user_id)], Some(&admin_rest))
        .await;
    assert!(!roles_of_bob(info.ok()).contains(&"bot".to_owned()));
    let reply = admin
        .call(
            "authorization:removeUserFromRole",
            json!(["admin", "admin"]),
        )
        .await;
    refused(
        &reply,
        "error-action-not-allowed",
        "Leaving the app without admins is not allowed",
    );

    // setAdminStatus
    let reply = alice_ddp
        .call("setAdminStatus", json!([bob.user_id, true]))
        .await;
    refused(&reply, "error-not-allowed", "Not allowed");
    let reply = admin
        .call("setAdminStatus", json!([bob.user_id, true]))
        .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let info = server
        .get("users.info", &[("userId", &bob.user_id)], Some(&admin_rest))
        .await;
    assert!(roles_of_bob(info.ok()).contains(&"admin".to_owned()));
    let reply = admin.call("setAdminStatus", json!([5])).await;
    refused(&reply, "error-invalid-params", "Match failed");
    server.stop().await;
}

#[tokio::test]
async fn create_token_and_unread_methods() {
    let server = TestServer::start_with(|c| c.create_tokens_for_users = true).await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "unreadable").await;
    let mut bob_ddp = ddp_as(&server, "bob").await;

    // createToken: one's own, or another's with the permission.
    let reply = bob_ddp.call("createToken", json!([bob.user_id])).await;
    let token = reply["result"]["authToken"].as_str().unwrap_or_default();
    assert_eq!(reply["result"]["userId"], json!(bob.user_id), "{reply}");
    let me = server
        .get(
            "me",
            &[],
            Some(&Auth {
                user_id: bob.user_id.clone(),
                token: token.to_owned(),
            }),
        )
        .await;
    assert_eq!(me.ok()["username"], json!("bob"));
    let reply = bob_ddp.call("createToken", json!([alice.user_id])).await;
    refused(&reply, "error-not-authorized", "Not authorized");

    // unreadMessages: by room, or from someone else's message.
    let message = say(&server, &alice, &rid, "news").await;
    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob))
        .await
        .ok();
    let reply = bob_ddp.call("unreadMessages", json!([null, rid])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    let subscription = common::subscription(&server, &bob, &rid).await;
    assert_eq!(subscription["alert"], json!(true), "{subscription}");
    server
        .post("subscriptions.read", json!({"rid": rid}), Some(&bob))
        .await
        .ok();
    let reply = rest_call(
        &server,
        &bob,
        "unreadMessages",
        json!([{"_id": message["_id"]}]),
    )
    .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let mut alice_ddp = ddp_as(&server, "alice").await;
    let reply = alice_ddp
        .call("unreadMessages", json!([{"_id": message["_id"]}]))
        .await;
    refused(&reply, "error-action-not-allowed", "Not allowed");
    let reply = alice_ddp.call("unreadMessages", json!([])).await;
    refused(&reply, "error-action-not-allowed", "Not allowed");
    server.stop().await;
}

#[tokio::test]
async fn get_room_join_code_answers_holders_of_the_permission() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "coded").await;
    server
        .post(
            "channels.setJoinCode",
            json!({"roomId": rid, "joinCode": "s3cret"}),
            Some(&alice),
        )
        .await
        .ok();
    let mut alice_ddp = ddp_as(&server, "alice").await;
    let reply = alice_ddp.call("getRoomJoinCode", json!([rid])).await;
    refused(&reply, "error-not-authorized", "Not authorized");
    let mut admin = ddp_as(&server, "admin").await;
    let reply = admin.call("getRoomJoinCode", json!([rid])).await;
    assert_eq!(reply["result"], json!("s3cret"), "{reply}");
    let reply = admin.call("getRoomJoinCode", json!(["no-such-room"])).await;
    assert_eq!(reply["result"], Value::Null, "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn permission_role_and_command_preview_methods() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "commands").await;
    let mut alice_ddp = ddp_as(&server, "alice").await;
    let mut admin = ddp_as(&server, "admin").await;
    let roles_of = |permission: &str, all: &Value| -> Vec<String> {
        all["update"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["_id"] == json!(permission))
            .and_then(|p| p["roles"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect()
    };
    let admin_rest = server.admin().await;

    let reply = alice_ddp
        .call(
            "authorization:addPermissionToRole",
            json!(["view-join-code", "user"]),
        )
        .await;
    refused(
        &reply,
        "error-action-not-allowed",
        "Adding permission is not allowed",
    );
    let reply = admin
        .call(
            "authorization:addPermissionToRole",
            json!(["no-such-permission", "user"]),
        )
        .await;
    refused(
        &reply,
        "error-invalid-permission",
        "Permission does not exist",
    );
    let reply = admin
        .call(
            "authorization:addPermissionToRole",
            json!(["view-join-code", "user"]),
        )
        .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let all = server
        .get("permissions.listAll", &[], Some(&admin_rest))
        .await;
    assert!(roles_of("view-join-code", all.ok()).contains(&"user".to_owned()));
    let reply = rest_call(
        &server,
        &admin_rest,
        "authorization:removeRoleFromPermission",
        json!(["view-join-code", "user"]),
    )
    .await;
    assert!(reply.get("error").is_none(), "{reply}");
    let all = server
        .get("permissions.listAll", &[], Some(&admin_rest))
        .await;
    assert_eq!(roles_of("view-join-code", all.ok()), ["admin"]);
    let reply = alice_ddp
        .call(
            "authorization:removeRoleFromPermission",
            json!(["view-join-code", "admin"]),
        )
        .await;
    refused(
        &reply,
        "error-action-not-allowed",
        "Removing permission is not allowed",
    );

    // Slash command previews: no built-in command has any.
    let command = json!({"cmd": "topic", "params": "", "msg": {"rid": rid}});
    let reply = alice_ddp
        .call("getSlashCommandPreviews", json!([command]))
        .await;
    refused(
        &reply,
        "error-invalid-command",
        "Command Does Not Provide Previews",
    );
    let reply = alice_ddp
        .call(
            "executeSlashCommandPreview",
            json!([{"cmd": "no-such-command"}, {"id": "1"}]),
        )
        .await;
    refused(&reply, "error-invalid-command", "Invalid Command Provided");
    server.stop().await;
}

#[tokio::test]
async fn join_default_channels_brings_the_caller_back() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server
        .post("channels.leave", json!({"roomId": "GENERAL"}), Some(&alice))
        .await
        .ok();
    assert!(!in_general(&server, &alice).await);
    let mut ddp = ddp_as(&server, "alice").await;
    let reply = ddp.call("joinDefaultChannels", json!([false])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    assert!(in_general(&server, &alice).await);
    // Again: nothing more to join.
    let reply = rest_call(&server, &alice, "joinDefaultChannels", json!([])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    let reply = ddp.call("joinDefaultChannels", json!(["yes"])).await;
    refused(&reply, "error-invalid-params", "Match failed");
    let mut anonymous = Ddp::connect(&server).await;
    let reply = anonymous.call("joinDefaultChannels", json!([])).await;
    refused(&reply, "error-invalid-user", "Invalid user");
    server.stop().await;
}

async fn in_general(server: &TestServer, auth: &Auth) -> bool {
    server
        .get("subscriptions.getOne", &[("roomId", "GENERAL")], Some(auth))
        .await
        .ok()["subscription"]
        .is_object()
}

#[tokio::test]
async fn delete_role_removes_unused_custom_roles() {
    let server = TestServer::start().await;
    server.new_user("alice").await;
    let admin_rest = server.admin().await;
    let created = server
        .post(
            "roles.create",
            json!({"name": "Reviewer", "scope": "Users"}),
            Some(&admin_rest),
        )
        .await;
    let role_id = created.ok()["role"]["_id"]
        .as_str()
        .expect("role id")
        .to_owned();
    let mut alice = ddp_as(&server, "alice").await;
    let reply = alice
        .call("authorization:deleteRole", json!([role_id]))
        .await;
    refused(
        &reply,
        "error-action-not-allowed",
        "Accessing permissions is not allowed",
    );
    let mut admin = ddp_as(&server, "admin").await;
    let reply = admin
        .call("authorization:deleteRole", json!(["admin"]))
        .await;
    refused(
        &reply,
        "error-delete-protected-role",
        "Cannot delete a protected role",
    );
    let reply = admin
        .call("authorization:deleteRole", json!(["no-such-role"]))
        .await;
    refused(&reply, "error-invalid-role", "Invalid role");
    let reply = rest_call(
        &server,
        &admin_rest,
        "authorization:deleteRole",
        json!(["Reviewer"]),
    )
    .await;
    assert_eq!(reply["result"]["deletedCount"], json!(1), "{reply}");
    let roles = server.get("roles.list", &[], Some(&admin_rest)).await;
    assert!(
        !roles.ok()["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["_id"] == json!(role_id)),
        "{}",
        roles.body
    );
    server.stop().await;
}
