//! Room moderation end to end: bans (`rooms.banUser`, `rooms.unbanUser`, `rooms.bannedUsers`,
//! `/ban`, `/unban`), mutes on REST and DDP, read-only rooms with unmuted members, and a
//! moderator deleting someone's message with and without `Message_ShowDeletedStatus`.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, TestServer, create_room, id_of, say};
use serde_json::{Value, json};
use std::time::Duration;

async fn member_usernames(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    rid: &str,
) -> Vec<String> {
    let body = server
        .get(&format!("{family}.members"), &[("roomId", rid)], Some(auth))
        .await
        .ok()
        .clone();
    body["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["username"].as_str().map(str::to_owned))
        .collect()
}

/// The newest message of a room whose type is `kind`.
async fn last_of_kind(server: &TestServer, auth: &Auth, rid: &str, kind: &str) -> Value {
    let body = server
        .get(
            "channels.messages",
            &[("roomId", rid), ("count", "50")],
            Some(auth),
        )
        .await;
    let body = if body.status == 200 {
        body.body
    } else {
        server
            .get(
                "groups.messages",
                &[("roomId", rid), ("count", "50")],
                Some(auth),
            )
            .await
            .ok()
            .clone()
    };
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["t"] == json!(kind))
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} message in {body}"))
}

/// A plain failure: 400 with this text and no `errorType`, as upstream's thrown `Error`.
fn assert_plain_failure(reply: &common::Reply, error: &str) {
    reply.refused(400, error);
    assert!(reply.body.get("errorType").is_none(), "{}", reply.body);
}

#[tokio::test]
async fn a_banned_member_is_removed_and_kept_out_until_unbanned() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    server.new_user("dave").await;
    let rid = create_room(&server, &alice, "channels", "hall", &["bob", "carol"]).await;

    // Who may not, and what is checked first.
    let by_member = server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&carol),
        )
        .await;
    assert_plain_failure(&by_member, "Not allowed");
    let nobody = server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "username": "ghost"}),
            Some(&alice),
        )
        .await;
    assert_eq!(nobody.status, 400, "{}", nobody.body);
    assert_eq!(nobody.body["errorType"], json!("error-invalid-user"));
    let both = server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "username": "bob", "userId": bob.user_id}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        both.body["errorType"],
        json!("invalid-params"),
        "{}",
        both.body
    );
    let outsider = server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "username": "dave"}),
            Some(&alice),
        )
        .await;
    assert_plain_failure(&outsider, "User is not in this room");
    let last_owner = server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "username": "alice"}),
            Some(&admin),
        )
        .await;
    assert_plain_failure(
        &last_owner,
        "You are the last owner. Please set new owner before banning the user.",
    );

    // The ban: bob is no member, with a `user-banned` message by alice.
    let banned = server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await;
    assert_eq!(banned.body, json!({"success": true}));
    let notice = last_of_kind(&server, &alice, &rid, "user-banned").await;
    assert_eq!(notice["msg"], json!("bob"));
    assert_eq!(notice["u"]["username"], json!("alice"));
    assert!(
        !member_usernames(&server, &alice, "channels", &rid)
            .await
            .contains(&"bob".to_owned())
    );
    let again = server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await;
    assert_plain_failure(&again, "User is already banned from this room");

    // Bob may not read, post, join or be added.
    let history = server
        .get("channels.history", &[("roomId", &rid)], Some(&bob))
        .await;
    assert_eq!(history.status, 400, "{}", history.body);
    let post = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "let me in"}),
            Some(&bob),
        )
        .await;
    assert_eq!(post.status, 400, "{}", post.body);
    let join = server
        .post("channels.join", json!({"roomId": rid}), Some(&bob))
        .await;
    assert_eq!(join.status, 400, "{}", join.body);
    assert_eq!(join.body["errorType"], json!("error-not-allowed"));
    let rooms_join = server
        .post("rooms.join", json!({"roomId": rid}), Some(&bob))
        .await;
    assert_eq!(
        rooms_join.body["errorType"],
        json!("error-not-allowed"),
        "{}",
        rooms_join.body
    );
    let invite = server
        .post(
            "channels.invite",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await;
    assert_eq!(invite.status, 400, "{}", invite.body);
    assert_eq!(invite.body["errorType"], json!("error-user-is-banned"));
    let mut bob_ddp = Ddp::connect(&server).await;
    bob_ddp.login("bob").await;
    let joined = bob_ddp.call("joinRoom", json!([rid])).await;
    assert_eq!(
        joined["error"]["error"],
        json!("error-not-allowed"),
        "{joined}"
    );
    let sent = bob_ddp
        .call("sendMessage", json!([{"rid": rid, "msg": "over ddp"}]))
        .await;
    assert!(sent.get("error").is_some(), "{sent}");

    // Any reader of the room sees who is banned.
    let listed = server
        .get("rooms.bannedUsers", &[("roomId", &rid)], Some(&carol))
        .await;
    assert_eq!(
        listed.body,
        json!({
            "bannedUsers": [{"_id": bob.user_id, "username": "bob", "name": "User bob"}],
            "count": 1,
            "offset": 0,
            "total": 1,
            "success": true,
        })
    );
    let missing = server.get("rooms.bannedUsers", &[], Some(&carol)).await;
    assert_eq!(
        missing.body["errorType"],
        json!("invalid-params"),
        "{}",
        missing.body
    );

    // Unbanning: only with ban-user; bob is not a member again, but may join.
    let unban_by_member = server
        .post(
            "rooms.unbanUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&carol),
        )
        .await;
    assert_plain_failure(&unban_by_member, "Not allowed");
    let unbanned = server
        .post(
            "rooms.unbanUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await;
    assert_eq!(unbanned.body, json!({"success": true}));
    let notice = last_of_kind(&server, &alice, &rid, "user-unbanned").await;
    assert_eq!(notice["msg"], json!("bob"));
    assert_eq!(notice["u"]["username"], json!("alice"));
    let not_banned = server
        .post(
            "rooms.unbanUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await;
    assert_plain_failure(&not_banned, "error-user-not-banned");
    assert!(
        !member_usernames(&server, &alice, "channels", &rid)
            .await
            .contains(&"bob".to_owned())
    );
    let listed = server
        .get("rooms.bannedUsers", &[("roomId", &rid)], Some(&carol))
        .await;
    assert_eq!(listed.ok()["total"], json!(0));
    server
        .post("channels.join", json!({"roomId": rid}), Some(&bob))
        .await
        .ok();
    assert!(
        member_usernames(&server, &alice, "channels", &rid)
            .await
            .contains(&"bob".to_owned())
    );

    // Direct rooms have no bans.
    let dm = server
        .post("im.create", json!({"username": "carol"}), Some(&alice))
        .await
        .ok()["room"]["_id"]
        .as_str()
        .expect("dm id")
        .to_owned();
    let in_dm = server
        .post(
            "rooms.banUser",
            json!({"roomId": dm, "username": "carol"}),
            Some(&alice),
        )
        .await;
    assert_plain_failure(&in_dm, "Not allowed");
    server.stop().await;
}

#[tokio::test]
async fn a_private_group_ban_keeps_the_user_from_being_added_again() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "groups", "backroom", &["bob"]).await;
    server
        .post(
            "rooms.banUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await
        .ok();
    assert_eq!(
        member_usernames(&server, &alice, "groups", &rid).await,
        ["alice"]
    );
    let added = server
        .post(
            "groups.invite",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        added.body["errorType"],
        json!("error-user-is-banned"),
        "{}",
        added.body
    );
    // Outsiders may not see the list.
    let outsider = server
        .get("rooms.bannedUsers", &[("roomId", &rid)], Some(&carol))
        .await;
    assert_eq!(outsider.status, 401, "{}", outsider.body);
    let banned = server
        .get("rooms.bannedUsers", &[("roomId", &rid)], Some(&bob))
        .await;
    assert_eq!(banned.status, 401, "{}", banned.body);
    server
        .post(
            "rooms.unbanUser",
            json!({"roomId": rid, "userId": bob.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    server
        .post(
            "groups.invite",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await
        .ok();
    assert!(
        member_usernames(&server, &alice, "groups", &rid)
            .await
            .contains(&"bob".to_owned())
    );
    server.stop().await;
}

#[tokio::test]
async fn a_banned_users_sockets_stop_receiving_the_room_at_once() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "lobby", &["bob"]).await;

    let mut bob = Ddp::connect(&server).await;
    let bob_id = bob.login("bob").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        bob.sub("stream-room-messages", &rid).await["msg"],
        json!("ready")
    );
    assert_eq!(
        bob.sub(
            "stream-notify-user",
            &format!("{bob_id}/subscriptions-changed")
        )
        .await["msg"],
        json!("ready")
    );
    say(&server, &alice, &rid, "before the ban").await;
    let seen = bob
        .until(|m| m["collection"] == "stream-room-messages")
        .await;
    assert_eq!(seen["fields"]["args"][0]["msg"], json!("before the ban"));

    // The slash command bans as the route does.
    server
        .post(
            "commands.run",
            json!({"command": "ban", "params": "@bob", "roomId": rid}),
            Some(&alice),
        )
        .await
        .ok();
    let removed = bob
        .until(|m| {
            m["collection"] == "stream-notify-user"
                && m["fields"]["eventName"] == json!(format!("{bob_id}/subscriptions-changed"))
                && m["fields"]["args"][0] == json!("removed")
        })
        .await;
    assert_eq!(removed["fields"]["args"][1]["rid"], json!(rid));

    say(&server, &alice, &rid, "after the ban").await;
    let quiet = tokio::time::timeout(Duration::from_millis(500), async {
        bob.until(|m| m["collection"] == "stream-room-messages")
            .await
    })
    .await;
    assert!(quiet.is_err(), "bob got {quiet:?}");
    // Nor may he listen again, as a public reader could.
    let again = bob.sub("stream-room-messages", &rid).await;
    assert_eq!(again["msg"], json!("nosub"), "{again}");

    let listed = server
        .get("rooms.bannedUsers", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(listed.ok()["bannedUsers"][0]["username"], json!("bob"));
    server
        .post(
            "commands.run",
            json!({"command": "unban", "params": "bob", "roomId": rid}),
            Some(&alice),
        )
        .await
        .ok();
    let listed = server
        .get("rooms.bannedUsers", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(listed.ok()["total"], json!(0));
    assert_eq!(
        bob.sub("stream-room-messages", &rid).await["msg"],
        json!("ready")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_muted_member_is_refused_on_rest_and_ddp_alike() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let rid = create_room(&server, &alice, "channels", "quiet", &["bob"]).await;
    let mut alice_ddp = Ddp::connect(&server).await;
    alice_ddp.login("alice").await;
    let muted = alice_ddp
        .call("muteUserInRoom", json!([{"rid": rid, "username": "bob"}]))
        .await;
    assert!(muted.get("error").is_none(), "{muted}");
    let notice = last_of_kind(&server, &alice, &rid, "user-muted").await;
    assert_eq!(notice["msg"], json!("bob"));

    let rest = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": "hello?"}),
            Some(&bob),
        )
        .await;
    rest.refused(400, "You_have_been_muted");
    let mut bob_ddp = Ddp::connect(&server).await;
    bob_ddp.login("bob").await;
    let ddp = bob_ddp
        .call("sendMessage", json!([{"rid": rid, "msg": "hello?"}]))
        .await;
    assert!(ddp.get("error").is_some(), "{ddp}");
    assert!(
        ddp["error"].to_string().contains("You_have_been_muted"),
        "{ddp}"
    );

    server
        .post(
            "rooms.unmuteUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await
        .ok();
    let notice = last_of_kind(&server, &alice, &rid, "user-unmuted").await;
    assert_eq!(notice["msg"], json!("bob"));
    let sent = bob_ddp
        .call("sendMessage", json!([{"rid": rid, "msg": "thanks"}]))
        .await;
    assert!(sent.get("error").is_none(), "{sent}");
    say(&server, &bob, &rid, "and on rest").await;
    server.stop().await;
}

#[tokio::test]
async fn a_read_only_room_lets_only_unmuted_members_post() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "news", &["bob", "carol"]).await;
    server
        .post(
            "channels.setReadOnly",
            json!({"roomId": rid, "readOnly": true}),
            Some(&alice),
        )
        .await
        .ok();
    for who in [&bob, &carol] {
        server
            .post(
                "chat.postMessage",
                json!({"roomId": rid, "text": "hi"}),
                Some(who),
            )
            .await
            .refused(400, "You can't send messages because the room is readonly.");
    }
    // The owner posts (post-readonly); unmuting bob puts him on the room's `unmuted` list.
    say(&server, &alice, &rid, "announcement").await;
    server
        .post(
            "rooms.unmuteUser",
            json!({"roomId": rid, "username": "bob"}),
            Some(&alice),
        )
        .await
        .ok();
    let info = server
        .get("channels.info", &[("roomId", &rid)], Some(&alice))
        .await;
    assert_eq!(info.ok()["channel"]["unmuted"], json!(["bob"]));
    say(&server, &bob, &rid, "unmuted, I may speak").await;
    let mut carol_ddp = Ddp::connect(&server).await;
    carol_ddp.login("carol").await;
    let refused = carol_ddp
        .call("sendMessage", json!([{"rid": rid, "msg": "me too?"}]))
        .await;
    assert!(refused.get("error").is_some(), "{refused}");
    server.stop().await;
}

#[tokio::test]
async fn a_moderator_deletes_anyones_message_and_the_deleted_status_shows_it() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let bob = server.new_user("bob").await;
    let carol = server.new_user("carol").await;
    let rid = create_room(&server, &alice, "channels", "modded", &["bob", "carol"]).await;
    server
        .post(
            "channels.addModerator",
            json!({"roomId": rid, "userId": carol.user_id}),
            Some(&alice),
        )
        .await
        .ok();
    let by_bob = say(&server, &bob, &rid, "rude words").await;
    let by_alice = say(&server, &alice, &rid, "the owner speaks").await;

    // A plain member may not delete someone else's message.
    let refused = server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": id_of(&by_alice)}),
            Some(&bob),
        )
        .await;
    assert_eq!(
        refused.body["errorType"],
        json!("error-action-not-allowed"),
        "{}",
        refused.body
    );

    // With the deleted status shown, the message stays as an empty `rm` message, and readers
    // see it change.
    server
        .post(
            "settings/Message_ShowDeletedStatus",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    let mut bob_ddp = Ddp::connect(&server).await;
    bob_ddp.login("bob").await;
    assert_eq!(
        bob_ddp.sub("stream-room-messages", &rid).await["msg"],
        json!("ready")
    );
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": id_of(&by_bob)}),
            Some(&carol),
        )
        .await
        .ok();
    let changed = bob_ddp
        .until(|m| m["collection"] == "stream-room-messages")
        .await;
    let shown = &changed["fields"]["args"][0];
    assert_eq!(shown["_id"], by_bob["_id"]);
    assert_eq!(shown["t"], json!("rm"));
    assert_eq!(shown["msg"], json!(""));
    let kept = server
        .get(
            "chat.getMessage",
            &[("msgId", by_bob["_id"].as_str().expect("id"))],
            Some(&alice),
        )
        .await;
    assert_eq!(kept.ok()["message"]["t"], json!("rm"));

    // Without it, the message goes.
    server
        .post(
            "settings/Message_ShowDeletedStatus",
            json!({"value": false}),
            Some(&admin),
        )
        .await
        .ok();
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": id_of(&by_alice)}),
            Some(&carol),
        )
        .await
        .ok();
    let gone = server
        .get(
            "chat.getMessage",
            &[("msgId", by_alice["_id"].as_str().expect("id"))],
            Some(&alice),
        )
        .await;
    assert_eq!(gone.status, 400, "{}", gone.body);
    server.stop().await;
}
