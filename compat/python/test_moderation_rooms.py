"""Room moderation through the unchanged rocketchat-api client: its own channel and chat
methods where it has them, its generic `call_api_post`/`call_api_get` for the ban and mute
endpoints (3.7.1 has no helpers for them): rooms.banUser, rooms.unbanUser,
rooms.bannedUsers, rooms.muteUser, rooms.unmuteUser."""

from conftest import expect_api_error, unique


def _members(client, room_id):
    return {m["username"] for m in client.channels_members(room_id=room_id)}


def test_ban_keeps_a_member_out_until_unbanned(server, make_user):
    owner, target, member = make_user(), make_user(), make_user()
    oc = server.login(owner.username, owner.password)
    tc = server.login(target.username, target.password)
    mc = server.login(member.username, member.password)
    rid = oc.channels_create(unique("bans"), members=[target.username, member.username])[
        "channel"
    ]["_id"]

    expect_api_error(
        lambda: mc.call_api_post("rooms.banUser", roomId=rid, userId=target.id),
        400,
        error="Not allowed",
    )
    assert oc.call_api_post("rooms.banUser", roomId=rid, userId=target.id) == {"success": True}
    assert target.username not in _members(oc, rid)
    expect_api_error(
        lambda: oc.call_api_post("rooms.banUser", roomId=rid, username=target.username),
        400,
        error="User is already banned from this room",
    )
    expect_api_error(lambda: tc.channels_join(rid, ""), 400, error_type="error-not-allowed")
    expect_api_error(
        lambda: oc.channels_invite(rid, target.id), 400, error_type="error-user-is-banned"
    )
    banned = mc.call_api_get("rooms.bannedUsers", roomId=rid)
    assert banned["total"] == 1 and banned["offset"] == 0 and banned["count"] == 1
    assert banned["bannedUsers"] == [
        {"_id": target.id, "username": target.username, "name": target.name}
    ]

    assert oc.call_api_post("rooms.unbanUser", roomId=rid, username=target.username) == {
        "success": True
    }
    expect_api_error(
        lambda: oc.call_api_post("rooms.unbanUser", roomId=rid, username=target.username),
        400,
        error="error-user-not-banned",
    )
    assert target.username not in _members(oc, rid)
    tc.channels_join(rid, "")
    assert target.username in _members(oc, rid)


def test_mute_refuses_posts_until_unmuted(server, make_user):
    owner, target = make_user(), make_user()
    oc = server.login(owner.username, owner.password)
    tc = server.login(target.username, target.password)
    rid = oc.channels_create(unique("mutes"), members=[target.username])["channel"]["_id"]
    assert oc.call_api_post("rooms.muteUser", roomId=rid, username=target.username) == {
        "success": True
    }
    expect_api_error(
        lambda: tc.chat_post_message("hello?", room_id=rid), 400, error="You_have_been_muted"
    )
    oc.call_api_post("rooms.unmuteUser", roomId=rid, userId=target.id)
    assert tc.chat_post_message("thanks", room_id=rid)["message"]["msg"] == "thanks"
