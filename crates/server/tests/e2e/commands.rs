//! Slash commands (`commands.*`, DDP `slashCommand`) and muting (`rooms.muteUser`,
//! `muteUserInRoom`), against upstream Rocket.Chat 8.x: the refusals in upstream's order and
//! words, what each built-in command does, and the ephemeral answers only the caller sees.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, TestServer, id_of, say};
use serde_json::{Value, json};

async fn create(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    name: &str,
    members: &[&str],
) -> String {
    let key = if family == "groups" {
        "group"
    } else {
        "channel"
    };
    let reply = server
        .post(
            &format!("{family}.create"),
            json!({"name": name, "members": members}),
            Some(auth),
        )
        .await;
    id_of(&reply.ok()[key])
}

async fn run(server: &TestServer, auth: &Auth, body: Value) -> common::Reply {
    server.post("commands.run", body, Some(auth)).await
}

async fn members(server: &TestServer, auth: &Auth, rid: &str) -> Vec<String> {
    let reply = server
        .get("channels.members", &[("roomId", rid)], Some(auth))
        .await;
    reply.ok()["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["username"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn last_message(server: &TestServer, auth: &Auth, family: &str, rid: &str) -> Value {
    let reply = server
        .get(
            &format!("{family}.history"),
            &[("roomId", rid), ("count", "1")],
            Some(auth),
        )
        .await;
    reply.ok()["messages"][0].clone()
}

#[tokio::test]
async fn commands_list_and_get_describe_the_built_in_commands() {
    let server = TestServer::start().await;
    let admin = server.admin().await;

    let all = server.get("commands.list", &[], Some(&admin)).await;
    let body = all.ok();
    assert_eq!(body["appsLoaded"], json!(true));
    assert_eq!(body["offset"], json!(0));
    let commands = body["commands"].as_array().expect("commands");
    assert_eq!(body["total"], json!(commands.len()));
    assert_eq!(body["count"], json!(commands.len()));
    let names: Vec<&str> = commands
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    for expected in [
        "archive",
        "unarchive",
        "create",
        "help",
        "hide",
        "invite",
        "invite-all-to",
        "invite-all-from",
        "join",
        "kick",
        "leave",
        "part",
        "me",
        "msg",
        "mute",
        "unmute",
        "status",
        "topic",
        "gimme",
        "lennyface",
        "shrug",
        "tableflip",
        "unflip",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let shrug = commands
        .iter()
        .find(|c| c["command"] == "shrug")
        .expect("shrug");
    assert_eq!(shrug["clientOnly"], json!(true));
    assert_eq!(shrug["params"], json!("your_message_optional"));
    let create_command = commands
        .iter()
        .find(|c| c["command"] == "create")
        .expect("create");
    assert_eq!(
        create_command["permission"],
        json!(["create-c", "create-p"])
    );

    let page = server
        .get(
            "commands.list",
            &[("count", "5"), ("offset", "2")],
            Some(&admin),
        )
        .await;
    let page = page.ok();
    assert_eq!(page["count"], json!(5));
    assert_eq!(page["offset"], json!(2));
    assert_eq!(page["total"], json!(commands.len()));
    assert_eq!(page["commands"][0], commands[2]);

    let only = server
        .get(
            "commands.list",
            &[("query", r#"{"command":"topic"}"#)],
            Some(&admin),
        )
        .await;
    assert_eq!(only.ok()["commands"].as_array().map(Vec::len), Some(1));
    let sorted = server
        .get(
            "commands.list",
            &[("sort", r#"{"command":-1}"#)],
            Some(&admin),
        )
        .await;
    assert_eq!(sorted.ok()["commands"][0]["command"], json!("unmute"));

    let help = server
        .get("commands.get", &[("command", "HELP")], Some(&admin))
        .await;
    let help = &help.ok()["command"];
    assert_eq!(help["command"], json!("help"));
    assert_eq!(
        help["description"],
        json!("Show_the_keyboard_shortcut_list")
    );
    assert_eq!(help["clientOnly"], json!(false));
    assert_eq!(help["providesPreview"], json!(false));

    server
        .get("commands.get", &[], Some(&admin))
        .await
        .refused(400, "The query param \"command\" must be provided.");
    server
        .get(
            "commands.get",
            &[("command", "invalid-command")],
            Some(&admin),
        )
        .await
        .refused(
            400,
            "There is no command in the system by the name of: invalid-command",
        );
    let anonymous = server.get("commands.list", &[], None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["status"], json!("error"));
}

#[tokio::test]
async fn commands_run_checks_fields_command_room_and_thread_in_order() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = create(&server, &admin, "channels", "cmd-order", &[]).await;
    let other = create(&server, &admin, "channels", "cmd-other", &[]).await;
    let root = say(&server, &admin, &rid, "thread root").await;
    let elsewhere = say(&server, &admin, &other, "another root").await;

    run(&server, &admin, json!({}))
        .await
        .refused(400, "You must provide a command to run.");
    run(&server, &admin, json!({"command": "help", "params": true}))
        .await
        .refused(
            400,
            "The parameters for the command must be a single string.",
        );
    run(
        &server,
        &admin,
        json!({"command": "help", "params": "params"}),
    )
    .await
    .refused(
        400,
        "The room's id where to execute this command must be provided and be a string.",
    );
    run(
        &server,
        &admin,
        json!({"command": "help", "roomId": rid, "tmid": true}),
    )
    .await
    .refused(400, "The tmid parameter when provided must be a string.");
    run(
        &server,
        &admin,
        json!({"command": "invalid-command", "params": "x", "roomId": rid}),
    )
    .await
    .refused(400, "The command provided does not exist (or is disabled).");
    run(
        &server,
        &admin,
        json!({"command": "tableflip", "params": "x", "roomId": rid, "tmid": "invalid-thread"}),
    )
    .await
    .refused(400, "Invalid thread.");
    run(
        &server,
        &admin,
        json!({"command": "tableflip", "params": "x", "roomId": rid, "tmid": id_of(&elsewhere)}),
    )
    .await
    .refused(400, "Invalid thread.");

    let flipped = run(
        &server,
        &admin,
        json!({"command": "TableFlip", "params": "params", "roomId": rid, "tmid": id_of(&root)}),
    )
    .await;
    assert_eq!(flipped.ok(), &json!({"success": true}));
    let thread = server
        .get(
            "chat.getThreadMessages",
            &[("tmid", &id_of(&root))],
            Some(&admin),
        )
        .await;
    let replies = thread.ok()["messages"]
        .as_array()
        .expect("messages")
        .clone();
    assert!(
        replies.iter().any(|m| m["msg"] == "params (╯°□°）╯︵ ┻━┻"),
        "{replies:?}"
    );

    // A room the caller may not read: 403, before anything runs.
    let bob = server.new_user("bob").await;
    let secret = create(&server, &admin, "groups", "cmd-secret", &[]).await;
    run(
        &server,
        &bob,
        json!({"command": "me", "params": "hi", "roomId": secret}),
    )
    .await
    .refused(403, "unauthorized");
    let anonymous = server
        .post(
            "commands.run",
            json!({"command": "archive", "roomId": rid}),
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["status"], json!("error"));
}

#[tokio::test]
async fn archive_and_unarchive_need_their_permissions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let rid = create(&server, &admin, "channels", "cmd-archive", &["bob"]).await;

    for command in ["archive", "unarchive"] {
        let refused = run(&server, &bob, json!({"command": command, "roomId": rid})).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert_eq!(refused.body["errorType"], json!("error-not-authorized"));
    }
    run(
        &server,
        &admin,
        json!({"command": "archive", "roomId": rid}),
    )
    .await
    .ok();
    let info = server
        .get("channels.info", &[("roomId", &rid)], Some(&admin))
        .await;
    assert_eq!(info.ok()["channel"]["archived"], json!(true));
    // By name, from another room.
    let lobby = create(&server, &admin, "channels", "cmd-lobby", &[]).await;
    run(
        &server,
        &admin,
        json!({"command": "unarchive", "params": "#cmd-archive", "roomId": lobby}),
    )
    .await
    .ok();
    let info = server
        .get("channels.info", &[("roomId", &rid)], Some(&admin))
        .await;
    assert_ne!(info.ok()["channel"]["archived"], json!(true));
}

#[tokio::test]
async fn invite_all_from_adds_only_from_rooms_the_caller_may_read() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let user1 = server.new_user("user1").await;
    let user2 = server.new_user("user2").await;
    let group = create(&server, &user1, "groups", "cmd-group1", &[]).await;
    let channel = create(&server, &user2, "channels", "cmd-channel2", &[]).await;
    let admins_group = create(&server, &admin, "groups", "cmd-group3", &[]).await;

    run(
        &server,
        &user2,
        json!({"roomId": channel, "command": "invite-all-from", "params": "#cmd-group1"}),
    )
    .await
    .ok();
    assert!(
        !members(&server, &user2, &channel)
            .await
            .contains(&"user1".to_owned())
    );

    run(
        &server,
        &user1,
        json!({"roomId": admins_group, "command": "invite-all-from", "params": "#cmd-group1"}),
    )
    .await
    .refused(403, "unauthorized");

    server
        .post(
            "groups.invite",
            json!({"roomId": group, "userId": user2.user_id}),
            Some(&user1),
        )
        .await
        .ok();
    run(
        &server,
        &user2,
        json!({"roomId": channel, "command": "invite-all-from", "params": "#cmd-group1"}),
    )
    .await
    .ok();
    assert!(
        members(&server, &user2, &channel)
            .await
            .contains(&"user1".to_owned())
    );

    // invite-all-to a room that does not exist yet creates it with the members.
    run(
        &server,
        &user2,
        json!({"roomId": channel, "command": "invite-all-to", "params": "#cmd-fresh"}),
    )
    .await
    .ok();
    let fresh = server
        .get("channels.info", &[("roomName", "cmd-fresh")], Some(&user2))
        .await;
    let fresh_id = id_of(&fresh.ok()["channel"]);
    let fresh_members = members(&server, &user2, &fresh_id).await;
    assert!(
        fresh_members.contains(&"user1".to_owned()),
        "{fresh_members:?}"
    );
    assert!(
        fresh_members.contains(&"user2".to_owned()),
        "{fresh_members:?}"
    );
}

#[tokio::test]
async fn built_in_commands_act_as_their_endpoints() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let rid = create(&server, &admin, "channels", "cmd-acts", &["bob"]).await;
    server
        .post(
            "channels.invite",
            json!({"roomId": rid, "username": "bob"}),
            Some(&admin),
        )
        .await
        .ok();

    run(
        &server,
        &admin,
        json!({"command": "me", "params": "waves", "roomId": rid}),
    )
    .await
    .ok();
    assert_eq!(
        last_message(&server, &admin, "channels", &rid).await["msg"],
        json!("_waves_")
    );

    run(
        &server,
        &admin,
        json!({"command": "topic", "params": "Release day", "roomId": rid}),
    )
    .await
    .ok();
    let info = server
        .get("channels.info", &[("roomId", &rid)], Some(&admin))
        .await;
    assert_eq!(info.ok()["channel"]["topic"], json!("Release day"));
    // Without edit-room the topic stays.
    run(
        &server,
        &bob,
        json!({"command": "topic", "params": "Mine now", "roomId": rid}),
    )
    .await
    .ok();
    let info = server
        .get("channels.info", &[("roomId", &rid)], Some(&admin))
        .await;
    assert_eq!(info.ok()["channel"]["topic"], json!("Release day"));

    run(
        &server,
        &admin,
        json!({"command": "msg", "params": "@bob psst, over here", "roomId": rid}),
    )
    .await
    .ok();
    let dm = server.get("im.list", &[], Some(&bob)).await;
    let dm_id = id_of(&dm.ok()["ims"][0]);
    assert_eq!(
        last_message(&server, &bob, "im", &dm_id).await["msg"],
        json!("psst, over here")
    );

    // Leaving or kicking in a direct room fails with an error, as upstream.
    let left = run(&server, &bob, json!({"command": "leave", "roomId": dm_id})).await;
    assert_eq!(left.status, 400, "{}", left.body);
    assert!(left.body["error"].is_string());
    let kicked = run(
        &server,
        &bob,
        json!({"command": "kick", "params": "admin", "roomId": dm_id}),
    )
    .await;
    assert_eq!(kicked.status, 400, "{}", kicked.body);

    let open = create(&server, &admin, "channels", "cmd-open", &[]).await;
    run(
        &server,
        &bob,
        json!({"command": "join", "params": "#cmd-open", "roomId": rid}),
    )
    .await
    .ok();
    assert!(
        members(&server, &admin, &open)
            .await
            .contains(&"bob".to_owned())
    );
    let again = run(
        &server,
        &bob,
        json!({"command": "join", "params": "cmd-open", "roomId": rid}),
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["errorType"], json!("error-user-already-in-room"));

    run(
        &server,
        &admin,
        json!({"command": "kick", "params": "@bob", "roomId": open}),
    )
    .await
    .ok();
    assert!(
        !members(&server, &admin, &open)
            .await
            .contains(&"bob".to_owned())
    );
    run(&server, &bob, json!({"command": "part", "roomId": rid}))
        .await
        .ok();
    assert!(
        !members(&server, &admin, &rid)
            .await
            .contains(&"bob".to_owned())
    );

    run(
        &server,
        &admin,
        json!({"command": "create", "params": "#cmd-made --private", "roomId": rid}),
    )
    .await
    .ok();
    let made = server
        .get("groups.info", &[("roomName", "cmd-made")], Some(&admin))
        .await;
    assert_eq!(made.ok()["group"]["t"], json!("p"));

    run(
        &server,
        &admin,
        json!({"command": "status", "params": "On a boat", "roomId": rid}),
    )
    .await
    .ok();
    let me = server.get("me", &[], Some(&admin)).await;
    assert_eq!(me.body["statusText"], json!("On a boat"));

    run(&server, &admin, json!({"command": "hide", "roomId": rid}))
        .await
        .ok();
    let sub = common::subscription(&server, &admin, &rid).await;
    assert_eq!(sub["open"], json!(false));
}

#[tokio::test]
async fn ephemeral_answers_reach_only_the_caller() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let rid = create(&server, &admin, "channels", "cmd-tell", &["bob"]).await;
    server
        .post(
            "channels.invite",
            json!({"roomId": rid, "username": "bob"}),
            Some(&admin),
        )
        .await
        .ok();
    let mut ddp = Ddp::connect(&server).await;
    let uid = ddp.login_with("admin", common::ADMIN_PASS).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let topic = format!("{uid}/message");
    assert_eq!(ddp.sub("stream-notify-user", &topic).await["msg"], "ready");

    let mut told = Vec::new();
    for (command, params) in [
        ("invite", "@ghost"),
        ("invite", "bob"),
        ("join", "#nowhere"),
        ("kick", "@ghost"),
        ("help", ""),
    ] {
        run(
            &server,
            &admin,
            json!({"command": command, "params": params, "roomId": rid}),
        )
        .await
        .ok();
        let frame = ddp
            .until(|m| m["fields"]["eventName"] == json!(topic))
            .await;
        let message = frame["fields"]["args"][0].clone();
        assert_eq!(message["rid"], json!(rid));
        assert_eq!(message["private"], json!(true));
        assert_eq!(message["u"]["username"], json!("rocket.cat"));
        told.push(message["msg"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(told[0], "No user exists by the name of `@ghost`.");
    assert_eq!(told[1], "`@bob` is already in here.");
    assert_eq!(told[2], "The channel `#nowhere` does not exist.");
    assert_eq!(told[3], "The username `ghost` doesn't exist.");
    assert!(
        told[4].starts_with(
            "\n`Command (or Ctrl) + p OR Command (or Ctrl) + k` - Open Channel / User search"
        ),
        "{}",
        told[4]
    );
    // None of it was posted to the room.
    let history = server
        .get("channels.history", &[("roomId", &rid)], Some(&bob))
        .await;
    let texts: Vec<Value> = history.ok()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["msg"].clone())
        .collect();
    assert!(
        !texts
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t.contains("ghost"))),
        "{texts:?}"
    );

    // The DDP method runs the same commands.
    let reply = ddp
        .call(
            "slashCommand",
            json!([{"cmd": "me", "params": "over DDP", "msg": {"rid": rid}}]),
        )
        .await;
    assert!(reply.get("error").is_none(), "{reply}");
    assert_eq!(
        last_message(&server, &admin, "channels", &rid).await["msg"],
        json!("_over DDP_")
    );
    let unknown = ddp
        .call(
            "slashCommand",
            json!([{"cmd": "nope", "params": "", "msg": {"rid": rid}}]),
        )
        .await;
    assert_eq!(unknown["error"]["error"], json!("error-invalid-command"));
    assert_eq!(
        unknown["error"]["reason"],
        json!("Invalid Command Provided")
    );
}

#[tokio::test]
async fn muted_members_cannot_post_until_unmuted() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create(&server, &admin, "channels", "cmd-mute", &[]).await;
    for who in ["bob", "carol"] {
        server
            .post(
                "channels.invite",
                json!({"roomId": rid, "username": who}),
                Some(&admin),
            )
            .await
            .ok();
    }

    let invalid = server
        .post("rooms.muteUser", json!({"roomId": rid}), Some(&admin))
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.body["errorType"], json!("invalid-params"));
    server
        .post("rooms.muteUser", json!({"roomId": rid, "username": "nobody"}), Some(&admin))
        .await
        .refused(
            400,
            "The required \"userId\" or \"username\" param provided does not match any users [error-invalid-user]",
        );
    let refused = server
        .post(
            "rooms.muteUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&carol),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["errorType"], json!("error-not-allowed"));

    server
        .post(
            "rooms.muteUser",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&admin),
        )
        .await
        .ok();
    let info = server
        .get("channels.info", &[("roomId", &rid)], Some(&admin))
        .await;
    assert_eq!(info.ok()["channel"]["muted"], json!(["bob"]));
    assert_eq!(
        last_message(&server, &admin, "channels", &rid).await["t"],
        json!("user-muted")
    );
    let posted = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "hello?"}),
            Some(&bob),
        )
        .await;
    assert_eq!(posted.status, 400, "{}", posted.body);

    run(
        &server,
        &admin,
        json!({"command": "unmute", "params": "@bob", "roomId": rid}),
    )
    .await
    .ok();
    say(&server, &bob, &rid, "I'm back").await;

    let mut ddp = Ddp::connect(&server).await;
    ddp.login("carol").await;
    let denied = ddp
        .call("muteUserInRoom", json!([{"rid": rid, "username": "bob"}]))
        .await;
    assert_eq!(denied["error"]["error"], json!("error-not-allowed"));
    let dm = server
        .post("im.create", json!({"username": "carol"}), Some(&admin))
        .await;
    let dm_id = id_of(&dm.ok()["room"]);
    let mut admin_ddp = Ddp::connect(&server).await;
    admin_ddp.login_with("admin", common::ADMIN_PASS).await;
    let in_dm = admin_ddp
        .call(
            "muteUserInRoom",
            json!([{"rid": dm_id, "username": "carol"}]),
        )
        .await;
    assert_eq!(in_dm["error"]["error"], json!("error-invalid-room-type"));
    let not_member = admin_ddp
        .call(
            "muteUserInRoom",
            json!([{"rid": rid, "username": "admin2"}]),
        )
        .await;
    assert_eq!(
        not_member["error"]["error"],
        json!("error-user-not-in-room")
    );
    let muted = admin_ddp
        .call("muteUserInRoom", json!([{"rid": rid, "username": "carol"}]))
        .await;
    assert_eq!(muted["result"], json!(true));
}
