//! Room settings and administration: channels.*/groups.*/im.* setters, archive, delete, room
//! roles, counters, addAll, rooms.saveRoomSettings, rooms.adminRooms, directory and spotlight,
//! against upstream Rocket.Chat 8.x.

use crate::common;

use common::{Auth, Reply, TestServer, assert_exact, create_room, say, subscription};
use serde_json::{Value, json};

const CHANNEL_NOT_FOUND: &str = "The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]";
const GROUP_NOT_FOUND: &str = "The required \"roomId\" or \"roomName\" param provided does not match any group [error-room-not-found]";
const EDITING_NOT_ALLOWED: &str = "Editing room is not allowed [error-action-not-allowed]";
const NOT_ALLOWED: &str = "Not allowed [error-not-allowed]";

async fn info(server: &TestServer, auth: &Auth, family: &str, rid: &str) -> Value {
    let key = if family == "groups" {
        "group"
    } else {
        "channel"
    };
    server
        .get(&format!("{family}.info"), &[("roomId", rid)], Some(auth))
        .await
        .ok()[key]
        .clone()
}

async fn history(server: &TestServer, auth: &Auth, family: &str, rid: &str) -> Vec<Value> {
    server
        .get(
            &format!("{family}.history"),
            &[("roomId", rid), ("count", "100")],
            Some(auth),
        )
        .await
        .ok()["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

/// The system messages (type, text) of a room, oldest first.
async fn system_messages(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    rid: &str,
) -> Vec<(String, String)> {
    history(server, auth, family, rid)
        .await
        .iter()
        .rev()
        .filter_map(|m| {
            m["t"]
                .as_str()
                .map(|t| (t.to_owned(), m["msg"].as_str().unwrap_or("").to_owned()))
        })
        .collect()
}

/// The newest system message of a type.
async fn last_system_message(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    rid: &str,
    kind: &str,
) -> Value {
    history(server, auth, family, rid)
        .await
        .into_iter()
        .find(|m| m["t"] == json!(kind))
        .unwrap_or_else(|| panic!("no {kind} message in {rid}"))
}

fn error_type(reply: &Reply) -> &str {
    reply.body["errorType"].as_str().unwrap_or_default()
}

fn strings(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// rename

#[tokio::test]
async fn rename_changes_name_and_fname_and_posts_r() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "old-name", &[]).await;
    let reply = server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "new-name"}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["channel"]["_id"], json!(rid));
    assert_eq!(body["channel"]["name"], json!("new-name"));
    assert_eq!(body["channel"]["fname"], json!("new-name"));
    let r = last_system_message(&server, &alice, "channels", &rid, "r").await;
    assert_eq!(r["msg"], json!("new-name"));
    assert_eq!(r["u"]["_id"], json!(alice.user_id));

    let reply = server
        .get("channels.info", &[("roomName", "new-name")], Some(&alice))
        .await;
    assert_eq!(reply.ok()["channel"]["_id"], json!(rid));
    server
        .get("channels.info", &[("roomName", "old-name")], Some(&alice))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    // The subscription follows the room's name.
    assert_eq!(
        subscription(&server, &alice, &rid).await["name"],
        json!("new-name")
    );
    server.stop().await;
}

#[tokio::test]
async fn rename_refusals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "renamed", &["bob"]).await;
    create_room(&server, &alice, "channels", "taken", &[]).await;

    server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "renamed"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The channel name is the same as what it would be renamed to.",
        );
    server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": ""}),
            Some(&alice),
        )
        .await
        .refused(400, "The bodyParam \"name\" is required");
    let reply = server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "taken"}),
            Some(&alice),
        )
        .await;
    reply.refused(
        400,
        "A channel with name 'taken' exists [error-duplicate-channel-name]",
    );
    assert_eq!(error_type(&reply), "error-duplicate-channel-name");
    let reply = server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "not valid!"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(error_type(&reply), "error-invalid-room-name");

    // A plain member may not edit the room.
    let reply = server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "bobs-room"}),
            Some(&bob),
        )
        .await;
    assert_exact(
        &reply,
        400,
        json!({
            "success": false,
            "error": EDITING_NOT_ALLOWED,
            "errorType": "error-action-not-allowed",
            "details": {"method": "saveRoomSettings", "action": "Editing_room"},
        }),
    );
    // Nor may someone outside of it.
    let carol = server.new_user("carol").await;
    server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "carols-room"}),
            Some(&carol),
        )
        .await
        .refused(400, EDITING_NOT_ALLOWED);
    assert_eq!(
        info(&server, &alice, "channels", &rid).await["name"],
        json!("renamed")
    );
    server.stop().await;
}

#[tokio::test]
#[ignore = "upstream channels.rename re-reads the room by the ORIGINAL roomName, so renaming by \
            roomName answers error-room-not-found after renaming; Comet answers success"]
async fn rename_by_room_name_answers_not_found_like_upstream() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "by-name", &[]).await;
    server
        .post(
            "channels.rename",
            json!({"roomName": "by-name", "name": "by-name-2"}),
            Some(&alice),
        )
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    assert_eq!(
        info(&server, &alice, "channels", &rid).await["name"],
        json!("by-name-2")
    );
    server.stop().await;
}

#[tokio::test]
async fn groups_rename_answers_the_group() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let gid = create_room(&server, &alice, "groups", "secret", &[]).await;
    let reply = server
        .post(
            "groups.rename",
            json!({"roomId": gid, "name": "secret-2"}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["group"]["_id"], json!(gid));
    assert_eq!(body["group"]["name"], json!("secret-2"));
    assert_eq!(body["group"]["t"], json!("p"));
    assert!(
        system_messages(&server, &alice, "groups", &gid)
            .await
            .contains(&("r".to_owned(), "secret-2".to_owned()))
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// topic, description, purpose, announcement

#[tokio::test]
async fn set_topic_description_purpose_and_announcement() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "texts", &[]).await;

    let reply = server
        .post(
            "channels.setTopic",
            json!({"roomId": rid, "topic": "the topic"}),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"topic": "the topic", "success": true}));
    let reply = server
        .post(
            "channels.setDescription",
            json!({"roomId": rid, "description": "the description"}),
            Some(&alice),
        )
        .await;
    assert_exact(
        &reply,
        200,
        json!({"description": "the description", "success": true}),
    );
    let reply = server
        .post(
            "channels.setAnnouncement",
            json!({"roomId": rid, "announcement": "hear ye"}),
            Some(&alice),
        )
        .await;
    assert_exact(
        &reply,
        200,
        json!({"announcement": "hear ye", "success": true}),
    );

    let room = info(&server, &alice, "channels", &rid).await;
    assert_eq!(room["topic"], json!("the topic"));
    assert_eq!(room["description"], json!("the description"));
    assert_eq!(room["announcement"], json!("hear ye"));

    let reply = server
        .post(
            "channels.setPurpose",
            json!({"roomId": rid, "purpose": "the purpose"}),
            Some(&alice),
        )
        .await;
    assert_exact(
        &reply,
        200,
        json!({"purpose": "the purpose", "success": true}),
    );
    // Purpose is the description.
    assert_eq!(
        info(&server, &alice, "channels", &rid).await["description"],
        json!("the purpose")
    );

    let notes = system_messages(&server, &alice, "channels", &rid).await;
    assert_eq!(
        notes,
        vec![
            ("room_changed_topic".to_owned(), "the topic".to_owned()),
            (
                "room_changed_description".to_owned(),
                "the description".to_owned()
            ),
            ("room_changed_announcement".to_owned(), "hear ye".to_owned()),
            (
                "room_changed_description".to_owned(),
                "the purpose".to_owned()
            ),
        ]
    );
    let topic = last_system_message(&server, &alice, "channels", &rid, "room_changed_topic").await;
    assert_eq!(topic["u"]["username"], json!("alice"));
    // Every system message counts in msgs but none is the last message.
    let room = info(&server, &alice, "channels", &rid).await;
    assert_eq!(room["msgs"], json!(4));
    assert!(room.get("lastMessage").is_none(), "{room}");
    server.stop().await;
}

#[tokio::test]
async fn channel_setters_refuse_the_same_value() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "same", &[]).await;
    for (path, key, value) in [
        ("channels.setTopic", "topic", "t"),
        ("channels.setDescription", "description", "d"),
    ] {
        server
            .post(path, json!({"roomId": rid, key: value}), Some(&alice))
            .await
            .ok();
    }
    server
        .post(
            "channels.setTopic",
            json!({"roomId": rid, "topic": "t"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The channel topic is the same as what it would be changed to.",
        );
    server
        .post(
            "channels.setDescription",
            json!({"roomId": rid, "description": "d"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The channel description is the same as what it would be changed to.",
        );
    server
        .post(
            "channels.setPurpose",
            json!({"roomId": rid, "purpose": "d"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The channel purpose (description) is the same as what it would be changed to.",
        );
    // An empty topic on a room without one is "the same".
    let other = create_room(&server, &alice, "channels", "no-topic", &[]).await;
    server
        .post(
            "channels.setTopic",
            json!({"roomId": other, "topic": ""}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The channel topic is the same as what it would be changed to.",
        );
    // Announcements have no same-value check.
    for _ in 0..2 {
        server
            .post(
                "channels.setAnnouncement",
                json!({"roomId": rid, "announcement": "a"}),
                Some(&alice),
            )
            .await
            .ok();
    }
    server
        .post(
            "channels.setAnnouncement",
            json!({"roomId": rid}),
            Some(&alice),
        )
        .await
        .refused(400, "The bodyParam \"announcement\" is required");
    // Missing topic is a validation error.
    let reply = server
        .post("channels.setTopic", json!({"roomId": rid}), Some(&alice))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["success"], json!(false));
    server.stop().await;
}

#[tokio::test]
async fn group_setters_have_no_same_value_check() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let gid = create_room(&server, &alice, "groups", "grp-texts", &[]).await;
    for _ in 0..2 {
        let reply = server
            .post(
                "groups.setTopic",
                json!({"roomId": gid, "topic": "same"}),
                Some(&alice),
            )
            .await;
        assert_exact(&reply, 200, json!({"topic": "same", "success": true}));
        let reply = server
            .post(
                "groups.setDescription",
                json!({"roomId": gid, "description": "desc"}),
                Some(&alice),
            )
            .await;
        assert_exact(&reply, 200, json!({"description": "desc", "success": true}));
    }
    let reply = server
        .post(
            "groups.setPurpose",
            json!({"roomId": gid, "purpose": "purp"}),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"purpose": "purp", "success": true}));
    let reply = server
        .post(
            "groups.setAnnouncement",
            json!({"roomId": gid, "announcement": "ann"}),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"announcement": "ann", "success": true}));
    let group = info(&server, &alice, "groups", &gid).await;
    assert_eq!(group["topic"], json!("same"));
    assert_eq!(group["description"], json!("purp"));
    assert_eq!(group["announcement"], json!("ann"));
    // An outsider cannot even see the group.
    let bob = server.new_user("bob").await;
    server
        .post(
            "groups.setTopic",
            json!({"roomId": gid, "topic": "mine"}),
            Some(&bob),
        )
        .await
        .refused(400, GROUP_NOT_FOUND);
    // A group id is no channel.
    server
        .post(
            "channels.setTopic",
            json!({"roomId": gid, "topic": "x"}),
            Some(&alice),
        )
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn setters_need_edit_room() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "guarded", &["bob"]).await;
    for (path, body) in [
        ("channels.setTopic", json!({"roomId": rid, "topic": "x"})),
        (
            "channels.setDescription",
            json!({"roomId": rid, "description": "x"}),
        ),
        (
            "channels.setAnnouncement",
            json!({"roomId": rid, "announcement": "x"}),
        ),
        ("channels.setType", json!({"roomId": rid, "type": "p"})),
        (
            "channels.setJoinCode",
            json!({"roomId": rid, "joinCode": "x"}),
        ),
        (
            "channels.setCustomFields",
            json!({"roomId": rid, "customFields": {"a": 1}}),
        ),
    ] {
        let reply = server.post(path, body, Some(&bob)).await;
        reply.refused(400, EDITING_NOT_ALLOWED);
        assert_eq!(error_type(&reply), "error-action-not-allowed", "{path}");
    }
    // A room moderator may edit.
    server
        .post(
            "channels.addModerator",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post(
            "channels.setTopic",
            json!({"roomId": rid, "topic": "by a moderator"}),
            Some(&bob),
        )
        .await
        .ok();
    // And the admin may edit any room.
    let admin = server.admin().await;
    server
        .post(
            "channels.setTopic",
            json!({"roomId": rid, "topic": "by the admin"}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(
        info(&server, &alice, "channels", &rid).await["topic"],
        json!("by the admin")
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// read-only, type, join code, default, custom fields, encrypted

#[tokio::test]
async fn set_read_only_posts_a_notice_and_blocks_members() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "ro", &["bob"]).await;
    let reply = server
        .post(
            "channels.setReadOnly",
            json!({"roomId": rid, "readOnly": true}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["channel"]["_id"], json!(rid));
    assert_eq!(body["channel"]["ro"], json!(true));
    let note = last_system_message(&server, &alice, "channels", &rid, "room-set-read-only").await;
    assert_eq!(note["msg"], json!("alice"));
    assert_eq!(note["u"]["_id"], json!(alice.user_id));

    server
        .post(
            "channels.setReadOnly",
            json!({"roomId": rid, "readOnly": true}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The channel read only setting is the same as what it would be changed to.",
        );
    server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "can I?"}),
            Some(&bob),
        )
        .await
        .refused(400, "You can't send messages because the room is readonly.");

    let reply = server
        .post(
            "channels.setReadOnly",
            json!({"roomId": rid, "readOnly": false}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["channel"]["ro"], json!(false));
    let note =
        last_system_message(&server, &alice, "channels", &rid, "room-removed-read-only").await;
    assert_eq!(note["msg"], json!("alice"));
    say(&server, &bob, &rid, "now I can").await;

    // groups: own wording, same refusal.
    let gid = create_room(&server, &alice, "groups", "ro-group", &[]).await;
    let reply = server
        .post(
            "groups.setReadOnly",
            json!({"roomId": gid, "readOnly": true}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["group"]["ro"], json!(true));
    server
        .post(
            "groups.setReadOnly",
            json!({"roomId": gid, "readOnly": true}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The private group read only setting is the same as what it would be changed to.",
        );
    server
        .post("groups.setReadOnly", json!({"roomId": gid}), Some(&alice))
        .await
        .refused(400, "The bodyParam \"readOnly\" is required");
    server.stop().await;
}

#[tokio::test]
async fn set_type_turns_a_channel_into_a_group_and_back() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "shifty", &["bob"]).await;

    server
        .post("channels.setType", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(400, "The bodyParam \"type\" is required");
    server
        .post(
            "channels.setType",
            json!({"roomId": rid, "type": "c"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The channel type is the same as what it would be changed to.",
        );

    let reply = server
        .post(
            "channels.setType",
            json!({"roomId": rid, "type": "p"}),
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["channel"]["_id"], json!(rid));
    assert_eq!(body["channel"]["t"], json!("p"));

    server
        .get("channels.info", &[("roomId", &rid)], Some(&alice))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    let group = info(&server, &alice, "groups", &rid).await;
    assert_eq!(group["t"], json!("p"));
    assert_eq!(group["name"], json!("shifty"));
    // Members keep access, outsiders lose it; subscriptions follow the type.
    assert_eq!(info(&server, &bob, "groups", &rid).await["_id"], json!(rid));
    server
        .get("groups.info", &[("roomId", &rid)], Some(&carol))
        .await
        .refused(400, GROUP_NOT_FOUND);
    assert_eq!(subscription(&server, &bob, &rid).await["t"], json!("p"));

    let note = last_system_message(&server, &alice, "groups", &rid, "room_changed_privacy").await;
    assert_eq!(note["msg"], json!("private"));
    assert_eq!(note["u"]["_id"], json!(alice.user_id));

    server
        .post(
            "groups.setType",
            json!({"roomId": rid, "type": "p"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The private group type is the same as what it would be changed to.",
        );
    let reply = server
        .post(
            "groups.setType",
            json!({"roomId": rid, "type": "c"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["group"]["t"], json!("c"));
    assert_eq!(
        info(&server, &carol, "channels", &rid).await["t"],
        json!("c")
    );
    let note = last_system_message(&server, &alice, "channels", &rid, "room_changed_privacy").await;
    assert_eq!(note["msg"], json!("public"));
    server.stop().await;
}

#[tokio::test]
async fn join_code_gates_channels_join() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "locked", &[]).await;

    server
        .post(
            "channels.setJoinCode",
            json!({"roomId": rid, "joinCode": ""}),
            Some(&alice),
        )
        .await
        .refused(400, "The bodyParam \"joinCode\" is required");
    let reply = server
        .post(
            "channels.setJoinCode",
            json!({"roomId": rid, "joinCode": "open-sesame"}),
            Some(&alice),
        )
        .await;
    let room = &reply.ok()["channel"];
    assert_eq!(room["_id"], json!(rid));
    assert_eq!(room["joinCodeRequired"], json!(true));
    assert!(room.get("joinCode").is_none(), "joinCode is hidden: {room}");
    let shown = info(&server, &bob, "channels", &rid).await;
    assert_eq!(shown["joinCodeRequired"], json!(true));
    assert!(shown.get("joinCode").is_none(), "{shown}");

    // Without or with a wrong code: refused, not joined.
    for body in [
        json!({"roomId": rid}),
        json!({"roomId": rid, "joinCode": "guess"}),
    ] {
        let reply = server.post("channels.join", body, Some(&bob)).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["success"], json!(false));
        assert!(
            error_type(&reply).starts_with("error-code-"),
            "{}",
            reply.body
        );
    }
    assert_eq!(subscription(&server, &bob, &rid).await, Value::Null);

    // The right code joins.
    let reply = server
        .post(
            "channels.join",
            json!({"roomId": rid, "joinCode": "open-sesame"}),
            Some(&bob),
        )
        .await;
    assert_eq!(reply.ok()["channel"]["usersCount"], json!(2));
    assert_eq!(subscription(&server, &bob, &rid).await["rid"], json!(rid));

    // join-without-join-code (admin) lets the admin in without it.
    let admin = server.admin().await;
    server
        .post("channels.join", json!({"roomId": rid}), Some(&admin))
        .await
        .ok();
    assert_eq!(subscription(&server, &admin, &rid).await["rid"], json!(rid));
    assert_eq!(subscription(&server, &carol, &rid).await, Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn join_code_refusals_use_the_upstream_strings() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "locked-2", &[]).await;
    server
        .post(
            "channels.setJoinCode",
            json!({"roomId": rid, "joinCode": "open-sesame"}),
            Some(&alice),
        )
        .await
        .ok();
    let reply = server
        .post("channels.join", json!({"roomId": rid}), Some(&bob))
        .await;
    reply.refused(400, "Code required [error-code-required]");
    assert_eq!(error_type(&reply), "error-code-required");
    let reply = server
        .post(
            "channels.join",
            json!({"roomId": rid, "joinCode": "guess"}),
            Some(&bob),
        )
        .await;
    reply.refused(400, "Invalid code [error-code-invalid]");
    assert_eq!(error_type(&reply), "error-code-invalid");
    server.stop().await;
}

#[tokio::test]
async fn set_default_needs_room_administration() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;
    let rid = create_room(&server, &alice, "channels", "defaulted", &[]).await;

    let reply = server
        .post(
            "channels.setDefault",
            json!({"roomId": rid, "default": true}),
            Some(&alice),
        )
        .await;
    reply.refused(
        400,
        "Viewing room administration is not allowed [error-action-not-allowed]",
    );

    let reply = server
        .post("channels.setDefault", json!({"roomId": rid}), Some(&admin))
        .await;
    assert_exact(
        &reply,
        400,
        json!({
            "success": false,
            "error": "The bodyParam \"default\" is required",
            "errorType": "error-channels-setdefault-is-same",
        }),
    );
    let reply = server
        .post(
            "channels.setDefault",
            json!({"roomId": rid, "default": true}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["channel"]["default"], json!(true));
    assert_eq!(
        info(&server, &alice, "channels", &rid).await["default"],
        json!(true)
    );
    let reply = server
        .post(
            "channels.setDefault",
            json!({"roomId": rid, "default": true}),
            Some(&admin),
        )
        .await;
    assert_exact(
        &reply,
        400,
        json!({
            "success": false,
            "error": "The channel default setting is the same as what it would be changed to.",
            "errorType": "error-channels-setdefault-missing-default-param",
        }),
    );
    // New users now join it.
    let dave = server.new_user("dave").await;
    assert_eq!(subscription(&server, &dave, &rid).await["rid"], json!(rid));
    server.stop().await;
}

#[tokio::test]
async fn set_custom_fields_and_encrypted() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "custom", &[]).await;
    let reply = server
        .post(
            "channels.setCustomFields",
            json!({"roomId": rid, "customFields": {"team": "blue", "n": 3}}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        reply.ok()["channel"]["customFields"],
        json!({"team": "blue", "n": 3})
    );
    assert_eq!(
        info(&server, &alice, "channels", &rid).await["customFields"],
        json!({"team": "blue", "n": 3})
    );
    server
        .post(
            "channels.setCustomFields",
            json!({"roomId": rid, "customFields": "nope"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The bodyParam \"customFields\" is required with a type like object.",
        );

    let gid = create_room(&server, &alice, "groups", "sealed", &[]).await;
    let reply = server
        .post(
            "groups.setCustomFields",
            json!({"roomId": gid, "customFields": {"k": "v"}}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.ok()["group"]["customFields"], json!({"k": "v"}));
    let reply = server
        .post(
            "groups.setEncrypted",
            json!({"roomId": gid, "encrypted": true}),
            Some(&alice),
        )
        .await;
    let group = &reply.ok()["group"];
    assert_eq!(group["_id"], json!(gid));
    assert_eq!(group["encrypted"], json!(true));
    server
        .post("groups.setEncrypted", json!({"roomId": gid}), Some(&alice))
        .await
        .refused(400, "The bodyParam \"encrypted\" is required");
    let reply = server
        .post(
            "groups.setEncrypted",
            json!({"roomId": gid, "encrypted": false}),
            Some(&alice),
        )
        .await;
    assert!(
        reply.ok()["group"]
            .get("encrypted")
            .is_none_or(|e| e == &json!(false))
    );
    server.stop().await;
}

#[tokio::test]
async fn im_set_topic_and_counters() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let admin = server.admin().await;
    let reply = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let rid = reply.ok()["room"]["rid"].as_str().expect("rid").to_owned();
    for text in ["one", "two"] {
        say(&server, &alice, &rid, text).await;
    }
    let reply = server
        .get("im.counters", &[("roomId", &rid)], Some(&bob))
        .await;
    let c = reply.ok();
    assert_eq!(c["joined"], json!(true));
    assert_eq!(c["unreads"], json!(2));
    assert_eq!(c["msgs"], json!(2));
    assert_eq!(c["members"], json!(2));
    assert_eq!(c["userMentions"], json!(0));
    assert!(c["latest"].is_string(), "{c}");
    server.get("im.counters", &[], Some(&bob)).await.refused(
        400,
        "Query param \"roomId\" or \"username\" is required [error-room-param-not-provided]",
    );

    // A DM participant has no edit-room; the admin does.
    server
        .post(
            "im.setTopic",
            json!({"roomId": rid, "topic": "ours"}),
            Some(&alice),
        )
        .await
        .refused(400, EDITING_NOT_ALLOWED);
    let reply = server
        .post("im.create", json!({"username": "alice"}), Some(&admin))
        .await;
    let admin_dm = reply.ok()["room"]["rid"].as_str().expect("rid").to_owned();
    let reply = server
        .post(
            "im.setTopic",
            json!({"roomId": admin_dm, "topic": "admin topic"}),
            Some(&admin),
        )
        .await;
    assert_exact(
        &reply,
        200,
        json!({"topic": "admin topic", "success": true}),
    );
    let notes = system_messages(&server, &alice, "im", &admin_dm).await;
    assert_eq!(
        notes,
        vec![("room_changed_topic".to_owned(), "admin topic".to_owned())]
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// archive / unarchive

#[tokio::test]
async fn archive_and_unarchive_a_channel() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "attic", &["bob"]).await;

    // A plain member may not archive.
    let reply = server
        .post("channels.archive", json!({"roomId": rid}), Some(&bob))
        .await;
    reply.refused(400, "Not authorized [error-not-authorized]");

    let reply = server
        .post("channels.archive", json!({"roomId": rid}), Some(&alice))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    let room = info(&server, &alice, "channels", &rid).await;
    assert_eq!(room["archived"], json!(true));
    let note = last_system_message(&server, &alice, "channels", &rid, "room-archived").await;
    assert_eq!(note["msg"], json!("alice"));
    assert_eq!(note["u"]["_id"], json!(alice.user_id));

    // Archived rooms refuse posting.
    for who in [&alice, &bob] {
        let reply = server
            .post(
                "chat.postMessage",
                json!({"roomId": rid, "text": "hello?"}),
                Some(who),
            )
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["success"], json!(false));
    }
    server
        .post("channels.archive", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(400, "The channel, attic, is archived [error-room-archived]");

    // unarchive-room is an admin permission: the owner may archive but not unarchive.
    server
        .post("channels.unarchive", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(400, "Not authorized [error-not-authorized]");
    let admin = server.admin().await;
    let reply = server
        .post("channels.unarchive", json!({"roomId": rid}), Some(&admin))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert!(
        info(&server, &alice, "channels", &rid)
            .await
            .get("archived")
            .is_none_or(|a| a == &json!(false))
    );
    let note = last_system_message(&server, &alice, "channels", &rid, "room-unarchived").await;
    assert_eq!(note["msg"], json!("admin"));
    server
        .post("channels.unarchive", json!({"roomId": rid}), Some(&admin))
        .await
        .refused(400, "The channel, attic, is not archived");
    say(&server, &bob, &rid, "back again").await;
    server.stop().await;
}

#[tokio::test]
async fn setters_on_an_archived_channel_are_refused() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = create_room(&server, &alice, "channels", "frozen", &[]).await;
    server
        .post("channels.archive", json!({"roomId": rid}), Some(&alice))
        .await
        .ok();
    server
        .post(
            "channels.setTopic",
            json!({"roomId": rid, "topic": "still?"}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "The channel, frozen, is archived [error-room-archived]",
        );
    server.stop().await;
}

#[tokio::test]
async fn archive_and_unarchive_a_group() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let gid = create_room(&server, &alice, "groups", "g-attic", &["admin"]).await;
    let reply = server
        .post("groups.archive", json!({"roomId": gid}), Some(&alice))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    let reply = server
        .post(
            "chat.postMessage",
            json!({"roomId": gid, "text": "hello?"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    server
        .post("groups.unarchive", json!({"roomId": gid}), Some(&alice))
        .await
        .refused(400, "Not authorized [error-not-authorized]");
    // The admin, a member of the group, unarchives it.
    let admin = server.admin().await;
    let reply = server
        .post("groups.unarchive", json!({"roomId": gid}), Some(&admin))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    say(&server, &alice, &gid, "back").await;
    let notes: Vec<(String, String)> = system_messages(&server, &alice, "groups", &gid)
        .await
        .into_iter()
        .filter(|(t, _)| t.contains("archived"))
        .collect();
    assert_eq!(
        notes,
        vec![
            ("room-archived".to_owned(), "alice".to_owned()),
            ("room-unarchived".to_owned(), "admin".to_owned()),
        ]
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// delete

#[tokio::test]
async fn delete_removes_the_room_and_its_messages() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "doomed", &["bob"]).await;
    let message = say(&server, &alice, &rid, "last words").await;
    let mid = message["_id"].as_str().expect("_id").to_owned();

    server
        .post("channels.delete", json!({"roomId": rid}), Some(&bob))
        .await
        .refused(400, NOT_ALLOWED);

    let reply = server
        .post("channels.delete", json!({"roomId": rid}), Some(&alice))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    server
        .get("channels.info", &[("roomId", &rid)], Some(&alice))
        .await
        .refused(400, CHANNEL_NOT_FOUND);
    let reply = server
        .get("chat.getMessage", &[("msgId", &mid)], Some(&alice))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(subscription(&server, &bob, &rid).await, Value::Null);
    assert_eq!(subscription(&server, &alice, &rid).await, Value::Null);
    // The name is free again.
    create_room(&server, &alice, "channels", "doomed", &[]).await;

    // groups.delete by name.
    let gid = create_room(&server, &alice, "groups", "g-doomed", &[]).await;
    let reply = server
        .post(
            "groups.delete",
            json!({"roomName": "g-doomed"}),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    server
        .get("groups.info", &[("roomId", &gid)], Some(&alice))
        .await
        .refused(400, GROUP_NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn im_delete_needs_delete_d() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let admin = server.admin().await;
    let reply = server
        .post("im.create", json!({"username": "bob"}), Some(&alice))
        .await;
    let rid = reply.ok()["room"]["rid"].as_str().expect("rid").to_owned();
    say(&server, &alice, &rid, "hi").await;
    server
        .post("im.delete", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(400, NOT_ALLOWED);
    let reply = server
        .post("im.create", json!({"username": "alice"}), Some(&admin))
        .await;
    let admin_dm = reply.ok()["room"]["rid"].as_str().expect("rid").to_owned();
    let reply = server
        .post("im.delete", json!({"roomId": admin_dm}), Some(&admin))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert_eq!(subscription(&server, &alice, &admin_dm).await, Value::Null);
    assert!(subscription(&server, &alice, &rid).await.is_object());
    // view-room-administration lets the admin reach a conversation it is not in, and delete-d
    // lets it erase it, as upstream's im.delete.
    let reply = server
        .post("im.delete", json!({"roomId": rid}), Some(&admin))
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    assert_eq!(subscription(&server, &alice, &rid).await, Value::Null);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// room roles

#[tokio::test]
async fn owners_moderators_and_leaders() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "ranks", &["bob", "carol"]).await;

    let reply = server
        .post(
            "channels.addOwner",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"success": true}));
    let note =
        last_system_message(&server, &alice, "channels", &rid, "subscription-role-added").await;
    assert_eq!(note["msg"], json!("bob"));
    assert_eq!(note["role"], json!("owner"));
    assert_eq!(note["u"]["_id"], json!(alice.user_id));
    assert_eq!(
        subscription(&server, &bob, &rid).await["roles"],
        json!(["owner"])
    );
    server
        .post(
            "channels.addOwner",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await
        .refused(400, "User is already an owner [error-user-already-owner]");

    // A plain member may not hand out roles.
    let reply = server
        .post(
            "channels.addOwner",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&carol),
        )
        .await;
    reply.refused(400, NOT_ALLOWED);
    assert_eq!(error_type(&reply), "error-not-allowed");

    server
        .post(
            "channels.addModerator",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post(
            "channels.addModerator",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "User is already a moderator [error-user-already-moderator]",
        );
    server
        .post(
            "channels.addLeader",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    let note =
        last_system_message(&server, &alice, "channels", &rid, "subscription-role-added").await;
    assert_eq!(note["role"], json!("leader"));
    assert_eq!(note["msg"], json!("carol"));

    let reply = server
        .get("channels.moderators", &[("roomId", &rid)], Some(&bob))
        .await;
    let moderators = &reply.ok()["moderators"];
    assert_eq!(
        moderators,
        &json!([{"_id": carol.user_id, "username": "carol", "name": "User carol"}])
    );

    let reply = server
        .get("channels.roles", &[("roomId", &rid)], Some(&bob))
        .await;
    let roles = reply.ok()["roles"].as_array().expect("roles").clone();
    assert_eq!(roles.len(), 3, "{roles:?}");
    for entry in &roles {
        assert_eq!(entry["rid"], json!(rid));
        assert!(entry["_id"].is_string());
        assert!(entry["u"]["_id"].is_string());
    }
    let of = |name: &str| -> Value {
        roles
            .iter()
            .find(|r| r["u"]["username"] == json!(name))
            .map(|r| r["roles"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(of("alice"), json!(["owner"]));
    assert_eq!(of("bob"), json!(["owner"]));
    let mut carol_roles: Vec<String> = serde_json::from_value(of("carol")).expect("carol roles");
    carol_roles.sort();
    assert_eq!(carol_roles, vec!["leader", "moderator"]);

    // Taking roles away.
    server
        .post(
            "channels.removeLeader",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post(
            "channels.removeModerator",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    let note = last_system_message(
        &server,
        &alice,
        "channels",
        &rid,
        "subscription-role-removed",
    )
    .await;
    assert_eq!(note["role"], json!("moderator"));
    assert_eq!(note["msg"], json!("carol"));
    server
        .post(
            "channels.removeModerator",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .refused(400, "User is not a moderator [error-user-not-moderator]");
    let reply = server
        .get("channels.moderators", &[("roomId", &rid)], Some(&bob))
        .await;
    assert_eq!(reply.ok()["moderators"], json!([]));

    // Owners: one may go, the last one may not.
    server
        .post(
            "channels.removeOwner",
            json!({"roomId": rid, "userId": alice.user_id}),
            Some(&bob),
        )
        .await
        .ok();
    let reply = server
        .post(
            "channels.removeOwner",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&bob),
        )
        .await;
    reply.refused(
        400,
        "This is the last owner. Please set a new owner before removing this one. [error-remove-last-owner]",
    );
    assert_eq!(error_type(&reply), "error-remove-last-owner");
    server
        .post(
            "channels.removeOwner",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&bob),
        )
        .await
        .refused(400, "User is not an owner [error-user-not-owner]");
    server.stop().await;
}

#[tokio::test]
async fn role_refusals_for_outsiders_and_unknown_users() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let dave = server.new_user("dave").await;
    let rid = create_room(&server, &alice, "channels", "club", &[]).await;
    let reply = server
        .post(
            "channels.addModerator",
            json!({"roomId": rid, "userId": dave.user_id}),
            Some(&alice),
        )
        .await;
    reply.refused(400, "User is not in this room [error-user-not-in-room]");
    let reply = server
        .post(
            "channels.addOwner",
            json!({"roomId": rid, "userId": "no-such-user"}),
            Some(&alice),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(error_type(&reply), "error-invalid-user");
    // username works as well as userId.
    server
        .post(
            "channels.invite",
            json!({"roomId": rid, "userId": dave.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post(
            "channels.addOwner",
            json!({"roomId": rid, "username": "dave"}),
            Some(&alice),
        )
        .await
        .ok();
    assert_eq!(
        subscription(&server, &dave, &rid).await["roles"],
        json!(["owner"])
    );
    server.stop().await;
}

#[tokio::test]
async fn group_roles_work_like_channel_roles() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let gid = create_room(&server, &alice, "groups", "g-ranks", &["bob"]).await;
    for path in ["groups.addOwner", "groups.addModerator", "groups.addLeader"] {
        let reply = server
            .post(
                path,
                json!({"roomId": gid, "userId": bob.user_id}),
                Some(&alice),
            )
            .await;
        assert_exact(&reply, 200, json!({"success": true}));
    }
    let reply = server
        .get("groups.moderators", &[("roomId", &gid)], Some(&alice))
        .await;
    assert_eq!(strings(&reply.ok()["moderators"], "username"), vec!["bob"]);
    let reply = server
        .get("groups.roles", &[("roomId", &gid)], Some(&alice))
        .await;
    let roles = reply.ok()["roles"].as_array().expect("roles").clone();
    let bob_roles = roles
        .iter()
        .find(|r| r["u"]["_id"] == json!(bob.user_id))
        .expect("bob has roles");
    let mut got: Vec<String> = serde_json::from_value(bob_roles["roles"].clone()).expect("roles");
    got.sort();
    assert_eq!(got, vec!["leader", "moderator", "owner"]);
    for path in [
        "groups.removeLeader",
        "groups.removeModerator",
        "groups.removeOwner",
    ] {
        server
            .post(
                path,
                json!({"roomId": gid, "userId": bob.user_id}),
                Some(&alice),
            )
            .await
            .ok();
    }
    server
        .post(
            "groups.removeOwner",
            json!({"roomId": gid, "userId": alice.user_id}),
            Some(&alice),
        )
        .await
        .refused(
            400,
            "This is the last owner. Please set a new owner before removing this one. [error-remove-last-owner]",
        );
    // An outsider cannot see the group's roles.
    let carol = server.new_user("carol").await;
    server
        .get("groups.roles", &[("roomId", &gid)], Some(&carol))
        .await
        .refused(400, GROUP_NOT_FOUND);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// counters

#[tokio::test]
async fn channel_counters_for_members_outsiders_and_admins() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let admin = server.admin().await;
    let rid = create_room(&server, &alice, "channels", "counted", &["bob"]).await;
    say(&server, &alice, &rid, "hello").await;
    say(&server, &alice, &rid, "hey @bob").await;

    let reply = server
        .get("channels.counters", &[("roomId", &rid)], Some(&bob))
        .await;
    let c = reply.ok();
    assert_eq!(c["joined"], json!(true));
    assert_eq!(c["members"], json!(2));
    assert_eq!(c["msgs"], json!(2));
    assert_eq!(c["userMentions"], json!(1));
    assert!(c["latest"].is_string(), "{c}");
    assert!(c["unreadsFrom"].is_string(), "{c}");
    assert!(c["unreads"].is_number(), "{c}");

    // By name too.
    let reply = server
        .get("channels.counters", &[("roomName", "counted")], Some(&bob))
        .await;
    assert_eq!(reply.ok()["msgs"], json!(2));

    // Not a member: only joined:false.
    let reply = server
        .get("channels.counters", &[("roomId", &rid)], Some(&carol))
        .await;
    assert_exact(
        &reply,
        200,
        json!({
            "joined": false,
            "members": null,
            "unreads": null,
            "unreadsFrom": null,
            "msgs": null,
            "latest": null,
            "userMentions": null,
            "success": true,
        }),
    );
    // Someone else's counters need view-room-administration (8.x: 403 "unauthorized").
    server
        .get(
            "channels.counters",
            &[("roomId", &rid), ("userId", &bob.user_id)],
            Some(&carol),
        )
        .await
        .refused(403, "unauthorized");
    let reply = server
        .get(
            "channels.counters",
            &[("roomId", &rid), ("userId", &bob.user_id)],
            Some(&admin),
        )
        .await;
    let c = reply.ok();
    assert_eq!(c["joined"], json!(true));
    assert_eq!(c["userMentions"], json!(1));

    // groups.counters
    let gid = create_room(&server, &alice, "groups", "g-counted", &["bob"]).await;
    say(&server, &alice, &gid, "in the group").await;
    let reply = server
        .get("groups.counters", &[("roomId", &gid)], Some(&bob))
        .await;
    let c = reply.ok();
    assert_eq!(c["joined"], json!(true));
    assert_eq!(c["members"], json!(2));
    assert_eq!(c["msgs"], json!(1));
    server.stop().await;
}

#[tokio::test]
async fn channel_counters_count_unread_messages_since_last_seen() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "unread-count", &["bob"]).await;
    for text in ["one", "two", "three"] {
        say(&server, &alice, &rid, text).await;
    }
    let reply = server
        .get("channels.counters", &[("roomId", &rid)], Some(&bob))
        .await;
    assert_eq!(reply.ok()["unreads"], json!(3));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// addAll

#[tokio::test]
async fn add_all_subscribes_every_user() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let admin = server.admin().await;
    let rid = create_room(&server, &alice, "channels", "everyone", &[]).await;

    server
        .post("channels.addAll", json!({"roomId": rid}), Some(&alice))
        .await
        .refused(400, NOT_ALLOWED);
    let reply = server
        .post("channels.addAll", json!({"roomId": rid}), Some(&admin))
        .await;
    let room = &reply.ok()["channel"];
    assert_eq!(room["_id"], json!(rid));
    assert!(
        room["usersCount"].as_i64().is_some_and(|n| n >= 4),
        "{room}"
    );
    for who in [&bob, &carol, &admin] {
        assert_eq!(subscription(&server, who, &rid).await["rid"], json!(rid));
    }
    let notes = system_messages(&server, &alice, "channels", &rid).await;
    for name in ["bob", "carol", "admin"] {
        assert!(
            notes.contains(&("au".to_owned(), name.to_owned())),
            "{notes:?}"
        );
    }

    let gid = create_room(&server, &admin, "groups", "g-everyone", &[]).await;
    let reply = server
        .post("groups.addAll", json!({"roomId": gid}), Some(&admin))
        .await;
    assert_eq!(reply.ok()["group"]["_id"], json!(gid));
    assert_eq!(subscription(&server, &bob, &gid).await["rid"], json!(gid));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// rooms.saveRoomSettings, rooms.adminRooms

#[tokio::test]
async fn save_room_settings_changes_several_at_once() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "settings", &["bob"]).await;
    let reply = server
        .post(
            "rooms.saveRoomSettings",
            json!({
                "rid": rid,
                "roomName": "settings-2",
                "roomTopic": "new topic",
                "roomDescription": "new description",
                "roomAnnouncement": "new announcement",
                "readOnly": true,
            }),
            Some(&alice),
        )
        .await;
    assert_exact(&reply, 200, json!({"rid": rid, "success": true}));
    let room = info(&server, &alice, "channels", &rid).await;
    assert_eq!(room["name"], json!("settings-2"));
    assert_eq!(room["topic"], json!("new topic"));
    assert_eq!(room["description"], json!("new description"));
    assert_eq!(room["announcement"], json!("new announcement"));
    assert_eq!(room["ro"], json!(true));
    let kinds: Vec<String> = system_messages(&server, &alice, "channels", &rid)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    for kind in [
        "r",
        "room_changed_topic",
        "room_changed_description",
        "room_changed_announcement",
        "room-set-read-only",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }

    let reply = server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "roomTopic": "bob's topic"}),
            Some(&bob),
        )
        .await;
    reply.refused(400, EDITING_NOT_ALLOWED);
    assert_eq!(
        info(&server, &alice, "channels", &rid).await["topic"],
        json!("new topic")
    );
    server.stop().await;
}

#[tokio::test]
async fn admin_rooms_lists_every_room_for_admins() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;
    let rid = create_room(&server, &alice, "channels", "adm-public", &[]).await;
    let gid = create_room(&server, &alice, "groups", "adm-private", &[]).await;

    // Upstream's route has no declared permission; its lookup answers a bare failure.
    let reply = server.get("rooms.adminRooms", &[], Some(&alice)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"success": false, "error": "error-not-authorized"})
    );

    let reply = server
        .get("rooms.adminRooms", &[("count", "100")], Some(&admin))
        .await;
    let body = reply.ok();
    let ids: Vec<String> = strings(&body["rooms"], "_id");
    assert!(ids.contains(&rid), "{ids:?}");
    assert!(ids.contains(&gid), "{ids:?}");
    assert!(ids.contains(&"GENERAL".to_owned()), "{ids:?}");
    assert_eq!(body["offset"], json!(0));
    assert_eq!(body["count"], json!(ids.len()));
    assert_eq!(body["total"], json!(ids.len()));

    let reply = server
        .get("rooms.adminRooms", &[("filter", "adm-")], Some(&admin))
        .await;
    let mut names = strings(&reply.ok()["rooms"], "name");
    names.sort();
    assert_eq!(names, vec!["adm-private", "adm-public"]);

    let reply = server
        .get(
            "rooms.adminRooms",
            &[("filter", "adm-"), ("types[]", "p")],
            Some(&admin),
        )
        .await;
    assert_eq!(strings(&reply.ok()["rooms"], "name"), vec!["adm-private"]);

    let reply = server
        .get(
            "rooms.adminRooms",
            &[("filter", "adm-"), ("count", "1"), ("offset", "1")],
            Some(&admin),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["offset"], json!(1));
    assert_eq!(body["total"], json!(2));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// directory, spotlight

#[tokio::test]
async fn directory_takes_one_sort_key_only() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    // Two keys are refused before anything else, even the type.
    for kind in ["channels", "nonsense"] {
        server
            .get(
                "directory",
                &[("type", kind), ("sort", "{\"name\":1,\"test\":1}")],
                Some(&alice),
            )
            .await
            .refused(400, "This method support only one \"sort\" parameter");
    }
    server
        .get(
            "directory",
            &[("type", "channels"), ("sort", "{\"name\":-1}")],
            Some(&alice),
        )
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn directory_lists_users_and_channels() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    for name in ["dirusr-a", "dirusr-b", "dirusr-c"] {
        server.new_user(name).await;
    }
    for name in ["dirchan-1", "dirchan-2", "dirchan-3"] {
        create_room(&server, &alice, "channels", name, &[]).await;
    }
    let hidden = create_room(&server, &alice, "groups", "dirchan-secret", &[]).await;

    let reply = server
        .get(
            "directory",
            &[("type", "users"), ("text", "dirusr")],
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    let mut found = strings(&body["result"], "username");
    found.sort();
    assert_eq!(found, vec!["dirusr-a", "dirusr-b", "dirusr-c"]);
    assert_eq!(body["total"], json!(3));
    assert_eq!(body["count"], json!(3));
    assert_eq!(body["offset"], json!(0));
    let first = &body["result"][0];
    assert!(first["_id"].is_string(), "{first}");
    assert!(first["name"].is_string(), "{first}");
    assert!(first.get("services").is_none(), "{first}");

    let reply = server
        .get(
            "directory",
            &[
                ("type", "users"),
                ("text", "dirusr"),
                ("count", "2"),
                ("offset", "1"),
                ("sort", "{\"username\":1}"),
            ],
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(
        strings(&body["result"], "username"),
        vec!["dirusr-b", "dirusr-c"]
    );
    assert_eq!(body["count"], json!(2));
    assert_eq!(body["offset"], json!(1));
    assert_eq!(body["total"], json!(3));

    let reply = server
        .get(
            "directory",
            &[("type", "channels"), ("text", "dirchan")],
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    let mut names = strings(&body["result"], "name");
    names.sort();
    assert_eq!(names, vec!["dirchan-1", "dirchan-2", "dirchan-3"]);
    assert_eq!(body["total"], json!(3));
    assert!(!strings(&body["result"], "_id").contains(&hidden));

    let reply = server
        .get(
            "directory",
            &[
                ("type", "channels"),
                ("text", "dirchan"),
                ("sort", "{\"name\":-1}"),
                ("count", "1"),
            ],
            Some(&alice),
        )
        .await;
    let body = reply.ok();
    assert_eq!(strings(&body["result"], "name"), vec!["dirchan-3"]);
    assert_eq!(body["total"], json!(3));

    // The legacy JSON `query` form.
    let reply = server
        .get(
            "directory",
            &[("query", "{\"type\":\"users\",\"text\":\"dirusr-b\"}")],
            Some(&alice),
        )
        .await;
    assert_eq!(strings(&reply.ok()["result"], "username"), vec!["dirusr-b"]);
    server.stop().await;
}

#[tokio::test]
async fn spotlight_finds_users_and_rooms_by_prefix() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("spotbob").await;
    create_room(&server, &alice, "channels", "spotroom", &[]).await;
    let secret = create_room(&server, &alice, "groups", "spotsecret", &[]).await;

    let reply = server
        .get("spotlight", &[("query", "@spot")], Some(&alice))
        .await;
    let body = reply.ok();
    assert_eq!(strings(&body["users"], "username"), vec!["spotbob"]);
    assert_eq!(body["rooms"], json!([]));
    let user = &body["users"][0];
    assert_eq!(user["_id"], json!(bob.user_id));
    assert_eq!(user["name"], json!("User spotbob"));
    assert!(user["status"].is_string(), "{user}");

    let reply = server
        .get("spotlight", &[("query", "#spot")], Some(&alice))
        .await;
    let body = reply.ok();
    assert_eq!(body["users"], json!([]));
    let mut names = strings(&body["rooms"], "name");
    names.sort();
    assert_eq!(names, vec!["spotroom", "spotsecret"]);
    let room = body["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["name"] == json!("spotroom"))
        .expect("spotroom")
        .clone();
    assert_eq!(room["t"], json!("c"));

    // Bob is not in the private group: he does not find it.
    let reply = server
        .get("spotlight", &[("query", "#spot")], Some(&bob))
        .await;
    let body = reply.ok();
    assert_eq!(strings(&body["rooms"], "name"), vec!["spotroom"]);
    assert!(!strings(&body["rooms"], "_id").contains(&secret));

    // Without a prefix: both kinds.
    let reply = server
        .get("spotlight", &[("query", "spot")], Some(&alice))
        .await;
    let body = reply.ok();
    assert_eq!(strings(&body["users"], "username"), vec!["spotbob"]);
    assert!(strings(&body["rooms"], "name").contains(&"spotroom".to_owned()));
    server.stop().await;
}
