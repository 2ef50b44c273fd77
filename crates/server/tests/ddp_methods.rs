//! Meteor methods that upstream clients call, over a real WebSocket and through REST
//! `method.call`: saveRoomSettings and the lookups, history and administration methods.

mod common;

use common::ddp::Ddp;
use common::{ADMIN_PASS, Auth, TestServer};
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

async fn room_info(server: &TestServer, auth: &Auth, rid: &str) -> Value {
    server
        .get("rooms.info", &[("roomId", rid)], Some(auth))
        .await
        .ok()["room"]
        .clone()
}

/// The Meteor error of a method result, as `(error, reason)`.
fn error_of(reply: &Value) -> (String, String) {
    let error = &reply["error"];
    assert!(error.is_object(), "expected an error: {reply}");
    (
        error["error"].as_str().unwrap_or_default().to_owned(),
        error["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A user's DDP connection, logged in.
async fn ddp_as(server: &TestServer, username: &str) -> Ddp {
    let mut ddp = Ddp::connect(server).await;
    if username == "admin" {
        ddp.login_with("admin", ADMIN_PASS).await;
    } else {
        ddp.login(username).await;
    }
    ddp
}

// ---------------------------------------------------------------------------------------------
// saveRoomSettings

#[tokio::test]
async fn save_room_settings_saves_one_or_several_settings() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "settings").await;
    let mut ddp = ddp_as(&server, "alice").await;

    let reply = ddp
        .call("saveRoomSettings", json!([rid, "roomTopic", "the topic"]))
        .await;
    assert_eq!(
        reply["result"],
        json!({"result": true, "rid": rid}),
        "{reply}"
    );
    let reply = ddp
        .call(
            "saveRoomSettings",
            json!([rid, {
                "roomDescription": "the description",
                "readOnly": true,
                "reactWhenReadOnly": true,
                "systemMessages": ["uj", "ul"],
                "roomCustomFields": {"team": "blue"},
                "joinCode": "secret",
            }]),
        )
        .await;
    assert_eq!(
        reply["result"],
        json!({"result": true, "rid": rid}),
        "{reply}"
    );
    let room = room_info(&server, &alice, &rid).await;
    assert_eq!(room["topic"], json!("the topic"));
    assert_eq!(room["description"], json!("the description"));
    assert_eq!(room["ro"], json!(true));
    assert_eq!(room["reactWhenReadOnly"], json!(true));
    assert_eq!(room["sysMes"], json!(["uj", "ul"]));
    assert_eq!(room["customFields"], json!({"team": "blue"}));
    assert_eq!(room["joinCodeRequired"], json!(true));

    let history = server
        .get("channels.history", &[("roomId", &rid)], Some(&alice))
        .await;
    let kinds: Vec<&str> = history.ok()["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["t"].as_str())
        .collect();
    for kind in [
        "room_changed_topic",
        "room_changed_description",
        "room-set-read-only",
        "room-allowed-reacting",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }

    // The same value again changes nothing and says nothing.
    let before = kinds.len();
    let reply = ddp
        .call("saveRoomSettings", json!([rid, "roomTopic", "the topic"]))
        .await;
    assert_eq!(reply["result"]["result"], json!(true), "{reply}");
    let history = server
        .get("channels.history", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(
        history.ok()["messages"].as_array().map(Vec::len),
        Some(before)
    );
    server.stop().await;
}

#[tokio::test]
async fn save_room_settings_refuses_as_upstream() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "refusals").await;

    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!([5, "roomTopic", "x"]),
            "error-invalid-room",
            "Invalid room",
        ),
        (
            json!([rid, "nope", "x"]),
            "error-invalid-settings",
            "Invalid settings provided",
        ),
        (
            json!([rid, {"roomTopic": "x", "nope": 1}]),
            "error-invalid-settings",
            "Invalid settings provided",
        ),
        (
            json!(["nosuchroom", "roomTopic", "x"]),
            "error-invalid-room",
            "Invalid room",
        ),
        (
            json!([rid, "default", true]),
            "error-action-not-allowed",
            "Viewing room administration is not allowed",
        ),
        (
            json!([rid, "featured", true]),
            "error-action-not-allowed",
            "Viewing room administration is not allowed",
        ),
        (
            json!([rid, "encrypted", true]),
            "error-action-not-allowed",
            "Only groups or direct channels can enable encryption",
        ),
        (
            json!([rid, "retentionEnabled", true]),
            "error-action-not-allowed",
            "Editing room retention policy is not allowed",
        ),
        (
            json!([rid, "sidepanel", {"items": ["channels"]}]),
            "error-action-not-allowed",
            "Invalid room",
        ),
        (
            json!([rid, "roomType", "x"]),
            "error-invalid-room-type",
            "error-invalid-room-type",
        ),
        (
            json!([rid, "systemMessages", ["nope"]]),
            "invalid-room",
            "Invalid option",
        ),
        (
            json!([rid, "roomCustomFields", "x"]),
            "invalid-roomCustomFields-type",
            "Invalid roomCustomFields type",
        ),
        (
            json!([rid, "roomName", "not valid!"]),
            "error-invalid-room-name",
            "not valid! is not a valid room name.",
        ),
    ];
    for (params, error, reason) in cases {
        // A fresh connection per call: DDP limits each method per connection.
        let mut ddp = ddp_as(&server, "alice").await;
        let reply = ddp.call("saveRoomSettings", params.clone()).await;
        assert_eq!(
            error_of(&reply),
            (error.to_owned(), reason.to_owned()),
            "{params}: {reply}"
        );
    }
    // Every validator runs before anything is saved.
    let mut ddp = ddp_as(&server, "alice").await;
    let reply = ddp
        .call(
            "saveRoomSettings",
            json!([rid, {"roomTopic": "not saved", "default": true}]),
        )
        .await;
    assert_eq!(error_of(&reply).0, "error-action-not-allowed");
    assert!(
        room_info(&server, &alice, &rid)
            .await
            .get("topic")
            .is_none()
    );

    // A member without edit-room.
    let mut bob = ddp_as(&server, "bob").await;
    let reply = bob
        .call("saveRoomSettings", json!([rid, "roomTopic", "bob's"]))
        .await;
    assert_eq!(
        reply["error"],
        json!({
            "isClientSafe": true,
            "error": "error-action-not-allowed",
            "reason": "Editing room is not allowed",
            "message": "Editing room is not allowed [error-action-not-allowed]",
            "errorType": "Meteor.Error",
            "details": {"method": "saveRoomSettings", "action": "Editing_room"},
        })
    );

    // Anonymous callers.
    let mut anonymous = Ddp::connect(&server).await;
    let reply = anonymous
        .call("saveRoomSettings", json!([rid, "roomTopic", "x"]))
        .await;
    assert_eq!(error_of(&reply).0, "error-invalid-user");
    server.stop().await;
}

#[tokio::test]
async fn save_room_settings_lets_admins_edit_rooms_they_are_not_in() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let gid = create_room(&server, &alice, "groups", "private-one").await;
    let mut admin = ddp_as(&server, "admin").await;
    let reply = admin
        .call(
            "saveRoomSettings",
            json!([gid, {"roomAnnouncement": "from the admin", "featured": true, "default": true}]),
        )
        .await;
    assert_eq!(reply["result"]["rid"], json!(gid), "{reply}");
    let room = room_info(&server, &alice, &gid).await;
    assert_eq!(room["announcement"], json!("from the admin"));
    assert_eq!(room["featured"], json!(true));
    assert_eq!(room["default"], json!(true));

    // The same operation answers REST's rooms.saveRoomSettings.
    let admin_rest = server.admin().await;
    let reply = server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": gid, "roomType": "c"}),
            Some(&admin_rest),
        )
        .await;
    assert_eq!(reply.ok()["rid"], json!(gid));
    assert_eq!(room_info(&server, &alice, &gid).await["t"], json!("c"));
    let reply = server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": gid, "nope": true}),
            Some(&admin_rest),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["errorType"], json!("error-invalid-settings"));
    server.stop().await;
}

#[tokio::test]
async fn save_room_settings_through_method_call() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "bridged").await;
    let reply = server
        .post(
            "method.call/saveRoomSettings",
            json!({"message": json!({"msg": "method", "id": "1", "method": "saveRoomSettings",
                "params": [rid, "roomTopic", "over REST"]}).to_string()}),
            Some(&alice),
        )
        .await;
    let message: Value =
        serde_json::from_str(reply.ok()["message"].as_str().expect("message")).expect("json");
    assert_eq!(message["result"], json!({"result": true, "rid": rid}));
    assert_eq!(
        room_info(&server, &alice, &rid).await["topic"],
        json!("over REST")
    );
    server.stop().await;
}
