//! Room documents and room endpoints as upstream's own API tests see them: the fields every
//! channel and group carries, a discussion's parent, read-only unmuting, listing and member
//! filters, renames, online members, kicks, message paging parameters, discussion and history
//! errors, and per-room notification preferences.

use crate::common;

use common::{Auth, TestServer, id_of, subscription};
use serde_json::{Value, json};

async fn create(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    name: &str,
    members: &[&str],
) -> Value {
    let key = if family == "groups" {
        "group"
    } else {
        "channel"
    };
    server
        .post(
            &format!("{family}.create"),
            json!({"name": name, "members": members}),
            Some(auth),
        )
        .await
        .ok()[key]
        .clone()
}

async fn set_permission(server: &TestServer, admin: &Auth, permission: &str, roles: &[&str]) {
    server
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": permission, "roles": roles}]}),
            Some(admin),
        )
        .await
        .ok();
}

async fn room_info(server: &TestServer, auth: &Auth, rid: &str) -> Value {
    server
        .get("rooms.info", &[("roomId", rid)], Some(auth))
        .await
        .ok()
        .clone()
}

#[tokio::test]
async fn new_rooms_carry_default_and_system_message_fields() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let channel = create(&server, &admin, "channels", "fields-channel", &[]).await;
    let group = create(&server, &admin, "groups", "fields-group", &[]).await;
    for room in [&channel, &group] {
        let info = room_info(&server, &admin, &id_of(room)).await;
        let mut keys: Vec<&str> = info["room"]
            .as_object()
            .expect("room")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "_id",
                "_updatedAt",
                "default",
                "fname",
                "msgs",
                "name",
                "ro",
                "sysMes",
                "t",
                "ts",
                "u",
                "usersCount"
            ]
        );
        assert_eq!(info["room"]["default"], json!(false));
        assert_eq!(info["room"]["sysMes"], json!(true));
    }
    // Unsetting the default flag shows it as false rather than leaving it out.
    let rid = id_of(&channel);
    server
        .post(
            "channels.setDefault",
            json!({"roomId": rid, "default": true}),
            Some(&admin),
        )
        .await
        .ok();
    let reply = server
        .post(
            "channels.setDefault",
            json!({"roomId": rid, "default": false}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.ok()["channel"]["default"], json!(false));
    server.stop().await;
}

#[tokio::test]
async fn room_favorite_default_and_discussion_parent() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let channel = create(&server, &admin, "channels", "parent-room", &[]).await;
    let rid = id_of(&channel);

    let save = |favorite: bool, default_value: bool| {
        server.post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "favorite": {"favorite": favorite, "defaultValue": default_value}}),
            Some(&admin),
        )
    };
    save(true, true).await.ok();
    assert_eq!(
        room_info(&server, &admin, &rid).await["room"]["favorite"],
        json!(true)
    );
    save(true, false).await.ok();
    assert!(
        room_info(&server, &admin, &rid).await["room"]
            .get("favorite")
            .is_none()
    );

    // A discussion's room info names the room it came from.
    let discussion = server
        .post(
            "rooms.createDiscussion",
            json!({"prid": rid, "t_name": "a discussion"}),
            Some(&admin),
        )
        .await
        .ok()["discussion"]
        .clone();
    let did = id_of(&discussion);
    let info = room_info(&server, &admin, &did).await;
    assert_eq!(info["parent"]["_id"], json!(rid));
    assert_eq!(info["parent"]["name"], json!("parent-room"));
    assert_eq!(info["parent"]["t"], json!("c"));
    assert!(
        room_info(&server, &admin, &rid)
            .await
            .get("parent")
            .is_none()
    );

    // Renaming a discussion sets its display name, spaces and all.
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": did, "roomName": "renamed with spaces"}),
            Some(&admin),
        )
        .await
        .ok();
    let info = room_info(&server, &admin, &did).await;
    assert_eq!(info["room"]["fname"], json!("renamed with spaces"));
    assert_eq!(info["room"]["name"], discussion["name"]);
    server.stop().await;
}

#[tokio::test]
async fn unmuting_in_a_read_only_room_lets_the_member_post() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let bob = server.new_user("bob").await;
    let channel = create(&server, &admin, "channels", "quiet-room", &["bob"]).await;
    let rid = id_of(&channel);
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "readOnly": true}),
            Some(&admin),
        )
        .await
        .ok();
    let post = |text: &'static str| {
        server.post(
            "chat.sendMessage",
            json!({"message": {"rid": rid, "msg": text}}),
            Some(&bob),
        )
    };
    assert_eq!(post("before").await.status, 400);

    server
        .post(
            "rooms.unmuteUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&admin),
        )
        .await
        .ok();
    let info = server
        .get("channels.info", &[("roomId", &rid)], Some(&admin))
        .await;
    assert_eq!(info.ok()["channel"]["unmuted"], json!(["bob"]));
    post("after").await.ok();

    // Muting again takes the permission back.
    server
        .post(
            "rooms.muteUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&admin),
        )
        .await
        .ok();
    let info = server
        .get("channels.info", &[("roomId", &rid)], Some(&admin))
        .await;
    assert!(info.ok()["channel"].get("unmuted").is_none());
    assert_eq!(post("again").await.status, 400);
    server.stop().await;
}

#[tokio::test]
async fn channel_list_by_id_and_member_filter() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let carol = server.new_user("carol").await;
    let _ = carol;
    let channel = create(&server, &admin, "channels", "listed-one", &["carol"]).await;
    create(&server, &admin, "channels", "listed-two", &[]).await;
    let rid = id_of(&channel);

    let listed = server
        .get("channels.list", &[("_id", &rid)], Some(&admin))
        .await;
    let body = listed.ok();
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["total"], json!(1));
    assert_eq!(body["channels"][0]["_id"], json!(rid));

    let members = server
        .get(
            "channels.members",
            &[("roomId", &rid), ("filter", "caro")],
            Some(&admin),
        )
        .await;
    let body = members.ok();
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["total"], json!(1));
    assert_eq!(body["members"][0]["username"], json!("carol"));
    server.stop().await;
}

#[tokio::test]
async fn renaming_to_a_name_the_server_keeps_is_refused() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = id_of(&create(&server, &admin, "channels", "to-rename", &[]).await);
    for name in ["admin", "administrator", "system", "user"] {
        server
            .post(
                "channels.rename",
                json!({"roomId": rid, "name": name}),
                Some(&admin),
            )
            .await
            .refused(
                400,
                &format!("{name} is already in use :( [error-field-unavailable]"),
            );
    }
    server
        .post(
            "channels.rename",
            json!({"roomId": rid, "name": "renamed-fine"}),
            Some(&admin),
        )
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn online_lists_members_whose_status_is_set_online() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let dave = server.new_user("dave").await;
    let outsider = server.new_user("outsider").await;
    // No live connection: the status a REST client chooses is the one others see.
    server
        .post("users.setStatus", json!({"status": "online"}), Some(&dave))
        .await
        .ok();
    let channel = id_of(&create(&server, &admin, "channels", "online-channel", &["dave"]).await);
    let group = id_of(&create(&server, &admin, "groups", "online-group", &["dave"]).await);

    let expected = json!({"_id": dave.user_id, "username": "dave"});
    for (route, rid, caller) in [
        ("channels.online", &channel, &dave),
        ("channels.online", &channel, &outsider),
        ("groups.online", &group, &dave),
    ] {
        let reply = server.get(route, &[("_id", rid)], Some(caller)).await;
        let online = reply.ok()["online"].as_array().expect("online").clone();
        assert!(online.contains(&expected), "{route}: {online:?}");
    }
    let reply = server
        .get("groups.online", &[("_id", &group)], Some(&outsider))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorType"], json!("error-not-allowed"));
    server.stop().await;
}

#[tokio::test]
async fn kicking_from_a_group_with_the_any_group_permission() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let owner = server.new_user("owner").await;
    server.new_user("member").await;
    let group = create(&server, &owner, "groups", "kick-group", &["member"]).await;
    let rid = id_of(&group);
    let owner_id = owner.user_id.clone();

    // Not in the group and without the permission: the group is not found for the admin.
    let reply = server
        .post(
            "groups.kick",
            json!({"roomId": rid, "userId": owner_id}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.body["errorType"], json!("error-room-not-found"));

    set_permission(&server, &admin, "kick-user-from-any-p-room", &["admin"]).await;
    let reply = server
        .post(
            "groups.kick",
            json!({"roomId": rid, "userId": owner_id}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["errorType"], json!("error-you-are-last-owner"));
    server
        .post(
            "groups.kick",
            json!({"roomId": rid, "username": "member"}),
            Some(&admin),
        )
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn group_messages_refuses_both_room_parameters() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let first = id_of(&create(&server, &admin, "groups", "first-group", &[]).await);
    create(&server, &admin, "groups", "second-group", &[]).await;
    let reply = server
        .get(
            "groups.messages",
            &[("roomId", &first), ("roomName", "second-group")],
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorType"], json!("invalid-params"));
    server
        .get("groups.messages", &[("roomId", &first)], Some(&admin))
        .await
        .ok();
    server.stop().await;
}

#[tokio::test]
async fn discussion_and_history_errors_in_upstream_words() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let eve = server.new_user("eve").await;
    server
        .get("rooms.getDiscussions", &[], Some(&admin))
        .await
        .refused(
            400,
            "The parameter \"roomId\" or \"roomName\" is required [error-roomid-param-not-provided]",
        );
    let rid = id_of(&create(&server, &admin, "channels", "discuss-here", &[]).await);
    server
        .post(
            "rooms.createDiscussion",
            json!({"prid": rid, "t_name": "talk", "users": "not-a-list"}),
            Some(&admin),
        )
        .await
        .refused(400, "Body parameter \"users\" must be an array.");

    server
        .get(
            "rooms.isMember",
            &[("roomId", "no-such-room"), ("userId", &admin.user_id)],
            Some(&admin),
        )
        .await
        .refused(
            400,
            "The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]",
        );

    // A cleaner who cannot read the group is told so, not that it does not exist.
    let group = id_of(&create(&server, &admin, "groups", "private-history", &[]).await);
    set_permission(&server, &admin, "clean-channel-history", &["admin", "user"]).await;
    let reply = server
        .post(
            "rooms.cleanHistory",
            json!({
                "roomId": group,
                "latest": "2100-01-01T00:00:00.000Z",
                "oldest": "2000-01-01T00:00:00.000Z",
            }),
            Some(&eve),
        )
        .await;
    reply.refused(
        400,
        "User does not have access to the room [error-not-allowed]",
    );
    assert_eq!(reply.body["errorType"], json!("error-not-allowed"));
    server.stop().await;
}

#[tokio::test]
async fn notification_preferences_are_saved_on_the_subscription() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = id_of(&create(&server, &admin, "channels", "noisy-room", &[]).await);
    server
        .post(
            "rooms.saveNotification",
            json!({
                "roomId": rid,
                "notifications": {
                    "disableNotifications": "0",
                    "emailNotifications": "nothing",
                    "audioNotificationValue": "beep",
                    "desktopNotifications": "nothing",
                    "mobilePushNotifications": "mentions",
                    "hideUnreadStatus": "1",
                },
            }),
            Some(&admin),
        )
        .await
        .ok();
    let sub = subscription(&server, &admin, &rid).await;
    assert_eq!(sub["disableNotifications"], json!(false));
    assert_eq!(sub["emailNotifications"], json!("nothing"));
    assert_eq!(sub["emailPrefOrigin"], json!("subscription"));
    assert_eq!(sub["audioNotificationValue"], json!("beep"));
    assert_eq!(sub["desktopNotifications"], json!("nothing"));
    assert_eq!(sub["mobilePushNotifications"], json!("mentions"));
    assert_eq!(sub["hideUnreadStatus"], json!(true));

    // Back to the account's choice; the method through REST's method.call.
    let reply = server
        .post(
            "method.call/saveNotificationSettings",
            json!({"message": json!({
                "msg": "method",
                "id": "1",
                "method": "saveNotificationSettings",
                "params": [rid, "desktopNotifications", "default"],
            }).to_string()}),
            Some(&admin),
        )
        .await;
    let answer: Value =
        serde_json::from_str(reply.ok()["message"].as_str().expect("message")).expect("json");
    assert_eq!(answer["result"], json!(true), "{answer}");
    let sub = subscription(&server, &admin, &rid).await;
    assert!(sub.get("desktopNotifications").is_none());
    assert!(sub.get("desktopPrefOrigin").is_none());

    // Unknown fields, bad values and rooms one is not in are refused.
    for (body, error) in [
        (
            json!({"roomId": rid, "notifications": {"loudness": "11"}}),
            "Invalid settings field [error-invalid-settings]",
        ),
        (
            json!({"roomId": rid, "notifications": {"emailNotifications": "often"}}),
            "Invalid notification settings value [error-invalid-notification-settings-value]",
        ),
        (
            json!({"roomId": "GENERAL-NOT", "notifications": {"unreadAlert": "all"}}),
            "Invalid subscription [error-invalid-subscription]",
        ),
        (
            json!({"roomId": rid}),
            "The 'notifications' param is required",
        ),
        (
            json!({"notifications": {"unreadAlert": "all"}}),
            "The 'roomId' param is required",
        ),
    ] {
        server
            .post("rooms.saveNotification", body, Some(&admin))
            .await
            .refused(400, error);
    }
    server.stop().await;
}
