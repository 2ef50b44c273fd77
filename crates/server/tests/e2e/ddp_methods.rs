//! Meteor methods that upstream clients call, over a real WebSocket and through REST
//! `method.call`: saveRoomSettings and the lookups, history and administration methods.

use crate::common;

use common::ddp::Ddp;
use common::{ADMIN_PASS, Auth, TestServer, say};
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

// ---------------------------------------------------------------------------------------------
// getRoomByTypeAndName

#[tokio::test]
async fn get_room_by_type_and_name_finds_readable_rooms() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "lookup").await;
    let gid = create_room(&server, &alice, "groups", "hidden-group").await;

    let mut ddp = ddp_as(&server, "alice").await;
    let reply = ddp
        .call("getRoomByTypeAndName", json!(["c", "lookup"]))
        .await;
    assert_eq!(reply["result"]["_id"], json!(rid), "{reply}");
    assert_eq!(reply["result"]["name"], json!("lookup"));
    assert_eq!(reply["result"]["t"], json!("c"));
    let reply = ddp.call("getRoomByTypeAndName", json!(["p", gid])).await;
    assert_eq!(reply["result"]["name"], json!("hidden-group"), "{reply}");
    for params in [json!(["p", "lookup"]), json!(["c", "nothing-here"])] {
        let reply = ddp.call("getRoomByTypeAndName", params).await;
        assert_eq!(
            error_of(&reply),
            ("error-invalid-room".to_owned(), "Invalid room".to_owned())
        );
        assert_eq!(
            reply["error"]["details"],
            json!({"method": "getRoomByTypeAndName"})
        );
    }
    let reply = ddp.call("getRoomByTypeAndName", json!(["c"])).await;
    assert_eq!(error_of(&reply).0, "error-invalid-params");

    let mut carol = ddp_as(&server, "carol").await;
    let reply = carol
        .call("getRoomByTypeAndName", json!(["p", "hidden-group"]))
        .await;
    assert_eq!(
        error_of(&reply),
        ("error-no-permission".to_owned(), "No permission".to_owned())
    );
    let mut anonymous = Ddp::connect(&server).await;
    let reply = anonymous
        .call("getRoomByTypeAndName", json!(["c", "lookup"]))
        .await;
    assert_eq!(error_of(&reply).0, "error-invalid-user");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// getMessages, loadNextMessages, loadSurroundingMessages

fn ids_of(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn message_loading_methods() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "history").await;
    let gid = create_room(&server, &alice, "groups", "secret").await;
    let mut sent = Vec::new();
    for n in 1..=5 {
        sent.push(say(&server, &alice, &rid, &format!("m{n}")).await);
    }
    let secret = say(&server, &alice, &gid, "secret").await;
    let id = |n: usize| sent[n - 1]["_id"].as_str().unwrap_or_default().to_owned();

    let mut ddp = ddp_as(&server, "alice").await;
    let reply = ddp
        .call("getMessages", json!([[id(1), id(3), "no-such-message"]]))
        .await;
    let mut got = ids_of(&reply["result"]);
    got.sort();
    let mut want = vec![id(1), id(3)];
    want.sort();
    assert_eq!(got, want, "{reply}");
    assert!(reply["result"][0]["ts"]["$date"].is_i64(), "{reply}");
    let reply = ddp.call("getMessages", json!([["x", 5]])).await;
    assert_eq!(
        error_of(&reply),
        ("error-invalid-params".to_owned(), "Match failed".to_owned())
    );

    let reply = ddp
        .call("loadNextMessages", json!([rid, sent[1]["ts"], 2]))
        .await;
    assert_eq!(
        ids_of(&reply["result"]["messages"]),
        vec![id(3), id(4)],
        "{reply}"
    );
    let reply = ddp.call("loadNextMessages", json!([rid])).await;
    let all = ids_of(&reply["result"]["messages"]);
    let tail: Vec<String> = all.iter().rev().take(5).rev().cloned().collect();
    assert_eq!(
        tail,
        (1..=5).map(id).collect::<Vec<_>>(),
        "oldest first: {reply}"
    );
    let reply = ddp.call("loadNextMessages", json!([5])).await;
    assert_eq!(error_of(&reply).0, "error-invalid-params");

    let reply = ddp
        .call(
            "loadSurroundingMessages",
            json!([{"_id": id(3), "rid": rid}, 3]),
        )
        .await;
    assert_eq!(
        ids_of(&reply["result"]["messages"]),
        vec![id(2), id(3), id(4)],
        "{reply}"
    );
    assert_eq!(reply["result"]["moreBefore"], json!(true));
    assert_eq!(reply["result"]["moreAfter"], json!(true));
    let reply = ddp
        .call(
            "loadSurroundingMessages",
            json!([{"_id": id(5), "rid": rid}, 5]),
        )
        .await;
    assert_eq!(
        ids_of(&reply["result"]["messages"]),
        vec![id(3), id(4), id(5)],
        "{reply}"
    );
    assert_eq!(reply["result"]["moreAfter"], json!(false));
    let reply = ddp
        .call(
            "loadSurroundingMessages",
            json!([{"_id": "no-such-message"}]),
        )
        .await;
    assert_eq!(reply["result"], json!(false), "{reply}");

    // Carol reads neither the private group nor its messages.
    let mut carol = ddp_as(&server, "carol").await;
    let secret_id = secret["_id"].as_str().unwrap_or_default();
    let reply = carol.call("getMessages", json!([[id(1), secret_id]])).await;
    assert_eq!(
        error_of(&reply),
        ("error-not-allowed".to_owned(), "Not allowed".to_owned())
    );
    let reply = carol.call("loadNextMessages", json!([gid])).await;
    assert_eq!(
        reply["error"]["details"],
        json!({"method": "loadNextMessages"})
    );
    assert_eq!(error_of(&reply).0, "error-not-allowed");
    let reply = carol
        .call("loadSurroundingMessages", json!([{"_id": secret_id}]))
        .await;
    assert_eq!(reply["result"], json!(false), "{reply}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// setUserActiveStatus, private-settings/get

#[tokio::test]
async fn set_user_active_status_needs_the_permission() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let mut ddp = ddp_as(&server, "alice").await;
    let reply = ddp
        .call("setUserActiveStatus", json!([bob.user_id, false]))
        .await;
    assert_eq!(
        error_of(&reply),
        ("error-not-allowed".to_owned(), "Not allowed".to_owned())
    );
    let reply = ddp.call("setUserActiveStatus", json!([bob.user_id])).await;
    assert_eq!(error_of(&reply).0, "error-invalid-params");

    let mut admin = ddp_as(&server, "admin").await;
    let reply = admin
        .call("setUserActiveStatus", json!([bob.user_id, false, false]))
        .await;
    assert_eq!(reply["result"], json!(true), "{reply}");
    let info = server
        .get("users.info", &[("userId", &bob.user_id)], Some(&alice))
        .await;
    assert_eq!(info.ok()["user"]["active"], json!(false));
    // An unknown user is no error.
    let reply = admin
        .call("setUserActiveStatus", json!(["no-such-user", true]))
        .await;
    assert_eq!(reply["result"], json!(true), "{reply}");

    // Through REST method.call.
    let admin_rest = server.admin().await;
    let reply = server
        .post(
            "method.call/setUserActiveStatus",
            json!({"message": json!({"msg": "method", "id": "1", "method": "setUserActiveStatus",
                "params": [bob.user_id, true]}).to_string()}),
            Some(&admin_rest),
        )
        .await;
    let message: Value =
        serde_json::from_str(reply.ok()["message"].as_str().expect("message")).expect("json");
    assert_eq!(message["result"], json!(true));
    let info = server
        .get("users.info", &[("userId", &bob.user_id)], Some(&alice))
        .await;
    assert_eq!(info.ok()["user"]["active"], json!(true));
    server.stop().await;
}

#[tokio::test]
async fn private_settings_get_answers_administrators_only() {
    let server = TestServer::start().await;
    server.new_user("alice").await;
    let mut alice = ddp_as(&server, "alice").await;
    let reply = alice.call("private-settings/get", json!([])).await;
    assert_eq!(reply["result"], json!([]), "{reply}");

    let mut admin = ddp_as(&server, "admin").await;
    let reply = admin.call("private-settings/get", json!([])).await;
    let settings = reply["result"].as_array().cloned().unwrap_or_default();
    let site_url = settings
        .iter()
        .find(|s| s["_id"] == json!("Site_Url"))
        .unwrap_or_else(|| panic!("Site_Url in {reply}"));
    assert_eq!(site_url["type"], json!("string"));
    assert!(site_url["_updatedAt"]["$date"].is_i64(), "{site_url}");
    // Upstream's labelling fields: the admin page groups, orders and labels by them.
    assert_eq!(site_url["group"], json!("General"));
    assert_eq!(site_url["i18nLabel"], json!("Site_Url"));
    assert_eq!(site_url["i18nDescription"], json!("Site_Url_Description"));
    let sorter = |id: &str| {
        settings
            .iter()
            .find(|s| s["_id"] == json!(id))
            .and_then(|s| s["sorter"].as_u64())
            .unwrap_or_else(|| panic!("{id} has a sorter in {reply}"))
    };
    assert!(
        sorter("Site_Url") < sorter("Site_Name"),
        "declaration order"
    );
    let smtp_password = settings
        .iter()
        .find(|s| s["_id"] == json!("SMTP_Password"))
        .unwrap_or_else(|| panic!("SMTP_Password in {reply}"));
    assert_eq!(smtp_password["type"], json!("password"));
    assert_eq!(smtp_password["secret"], json!(true));
    assert_eq!(smtp_password["section"], json!("SMTP"));
    assert!(site_url.get("secret").is_none(), "{site_url}");
    assert!(
        settings.iter().any(|s| s["public"] == json!(false)),
        "private settings included"
    );
    let reply = admin
        .call(
            "private-settings/get",
            json!([{"$date": 4_102_444_800_000_i64}]),
        )
        .await;
    assert_eq!(
        reply["result"],
        json!({"update": [], "remove": []}),
        "{reply}"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// userSetUtcOffset

#[tokio::test]
async fn user_set_utc_offset_stores_the_offset_that_user_cards_show() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let mut ddp = ddp_as(&server, "alice").await;
    async fn offset_seen_by(server: &TestServer, viewer: &Auth) -> Value {
        server
            .get("users.info", &[("username", "alice")], Some(viewer))
            .await
            .ok()["user"]["utcOffset"]
            .clone()
    }
    assert_eq!(offset_seen_by(&server, &bob).await, json!(0));

    let reply = ddp.call("userSetUtcOffset", json!([5.5])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    assert_eq!(offset_seen_by(&server, &bob).await, json!(5.5));
    let reply = ddp.call("userSetUtcOffset", json!([-3])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    assert_eq!(offset_seen_by(&server, &bob).await, json!(-3));

    // The same offset again (every login sends it) leaves the user document untouched.
    let before = server.get("me", &[], Some(&alice)).await.ok()["_updatedAt"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let reply = ddp.call("userSetUtcOffset", json!([-3])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    assert_eq!(
        server.get("me", &[], Some(&alice)).await.ok()["_updatedAt"],
        before
    );

    // Not a number, or beyond the world's time zones: the pattern check fails, nothing changes.
    for bad in [
        json!(["+2"]),
        json!([14.5]),
        json!([-15]),
        json!([]),
        json!([null]),
    ] {
        let reply = ddp.call("userSetUtcOffset", bad.clone()).await;
        assert_eq!(
            error_of(&reply),
            ("error-invalid-params".to_owned(), "Match failed".to_owned()),
            "{bad}"
        );
    }
    assert_eq!(offset_seen_by(&server, &bob).await, json!(-3));
    for edge in [14.0, -14.0] {
        let reply = ddp.call("userSetUtcOffset", json!([edge])).await;
        assert!(reply.get("error").is_none(), "{reply}");
    }
    assert_eq!(offset_seen_by(&server, &bob).await, json!(-14));

    // A connection without a user gets no error and changes nobody, as upstream's.
    let mut anonymous = Ddp::connect(&server).await;
    let reply = anonymous.call("userSetUtcOffset", json!([2])).await;
    assert!(reply.get("error").is_none(), "{reply}");
    assert_eq!(offset_seen_by(&server, &bob).await, json!(-14));
}
