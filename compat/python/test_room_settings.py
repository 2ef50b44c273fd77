"""Room settings and administration through rocketchat-api 3.7.1: channels.* /
groups.* / dm.* setters, archive, delete, room roles, counters, addAll,
rooms.adminRooms, directory and spotlight, against upstream Rocket.Chat 8.x.

Client facts used here (read from its source):

* setters are ``channels_<name>(room_id, value)`` and post ``roomId`` plus the
  value under its upstream key (``channels_set_type(room_id, a_type)`` sends
  ``type``; ``channels_set_read_only`` sends ``bool(read_only)``);
* ``channels_add_owner(room_id, user_id=None, username=None)``, the other role
  helpers take ``(room_id, user_id)``;
* ``directory(query)`` turns a dict into JSON text (``str(d)`` with ``'``
  replaced by ``"``) and sends it as the ``query`` parameter;
* ``call_api_get`` does not URL-encode values, so a ``#`` in ``spotlight``'s
  query would start the URL fragment: the suite sends ``%23`` instead;
* ``rooms_admin_rooms`` is ``@paginated("rooms")`` and ``directory`` is
  ``@paginated("result")``; ``.__wrapped__`` is the single-page method.
"""

import pytest
from rocketchat_API.rocketchat import RocketChat

from conftest import expect_api_error, unique

CHANNEL_NOT_FOUND = (
    'The required "roomId" or "roomName" param provided does not match any channel '
    "[error-room-not-found]"
)
GROUP_NOT_FOUND = (
    'The required "roomId" or "roomName" param provided does not match any group '
    "[error-room-not-found]"
)
EDITING_NOT_ALLOWED = "Editing room is not allowed [error-action-not-allowed]"
NOT_ALLOWED = "Not allowed [error-not-allowed]"

admin_rooms_page = RocketChat.rooms_admin_rooms.__wrapped__
directory_page = RocketChat.directory.__wrapped__


def client(server, u):
    return server.login(u.username, u.password)


def sub_of(c, rid):
    return c.subscriptions_get_one(rid)["subscription"]


def system_messages(c, rid, family="channels"):
    history = getattr(c, f"{family}_history")
    return [(m["t"], m["msg"]) for m in reversed(list(history(rid))) if "t" in m]


def last_notice(c, rid, kind, family="channels"):
    history = getattr(c, f"{family}_history")
    for m in history(rid):
        if m.get("t") == kind:
            return m
    raise AssertionError(f"no {kind} message in {rid}")


@pytest.fixture
def alice(server, make_user):
    u = make_user()
    return u, client(server, u)


@pytest.fixture
def bob(server, make_user):
    u = make_user()
    return u, client(server, u)


@pytest.fixture
def carol(server, make_user):
    u = make_user()
    return u, client(server, u)


# --- rename and texts -------------------------------------------------------


def test_rename_and_refusals(alice, bob):
    a, c = alice
    b, bc = bob
    old, new = unique("old"), unique("new")
    rid = c.channels_create(old, members=[b.username])["channel"]["_id"]
    resp = c.channels_rename(rid, new)
    assert resp["channel"]["_id"] == rid
    assert resp["channel"]["name"] == new
    assert resp["channel"]["fname"] == new
    notice = last_notice(c, rid, "r")
    assert notice["msg"] == new
    assert notice["u"]["_id"] == a.id
    assert c.channels_info(channel=new)["channel"]["_id"] == rid
    expect_api_error(lambda: c.channels_info(channel=old), 400, error=CHANNEL_NOT_FOUND)

    expect_api_error(
        lambda: c.channels_rename(rid, new),
        400,
        error="The channel name is the same as what it would be renamed to.",
    )
    exc = expect_api_error(lambda: bc.channels_rename(rid, unique("bobs")), 400)
    assert exc.response_json == {
        "success": False,
        "error": EDITING_NOT_ALLOWED,
        "errorType": "error-action-not-allowed",
        "details": {"method": "saveRoomSettings", "action": "Editing_room"},
    }
    taken = unique("taken")
    c.channels_create(taken)
    expect_api_error(
        lambda: c.channels_rename(rid, taken),
        400,
        error=f"A channel with name '{taken}' exists [error-duplicate-channel-name]",
        error_type="error-duplicate-channel-name",
    )


def test_set_texts_and_same_value_refusals(alice):
    _, c = alice
    rid = c.channels_create(unique("texts"))["channel"]["_id"]
    assert c.channels_set_topic(rid, "the topic") == {"topic": "the topic", "success": True}
    assert c.channels_set_description(rid, "the description") == {
        "description": "the description",
        "success": True,
    }
    assert c.channels_set_announcement(rid, "hear ye") == {
        "announcement": "hear ye",
        "success": True,
    }
    ch = c.channels_info(room_id=rid)["channel"]
    assert (ch["topic"], ch["description"], ch["announcement"]) == (
        "the topic",
        "the description",
        "hear ye",
    )
    assert system_messages(c, rid) == [
        ("room_changed_topic", "the topic"),
        ("room_changed_description", "the description"),
        ("room_changed_announcement", "hear ye"),
    ]
    expect_api_error(
        lambda: c.channels_set_topic(rid, "the topic"),
        400,
        error="The channel topic is the same as what it would be changed to.",
    )
    expect_api_error(
        lambda: c.channels_set_description(rid, "the description"),
        400,
        error="The channel description is the same as what it would be changed to.",
    )
    # The client has no channels_set_purpose: use its generic POST.
    assert c.call_api_post("channels.setPurpose", roomId=rid, purpose="p") == {
        "purpose": "p",
        "success": True,
    }
    expect_api_error(
        lambda: c.call_api_post("channels.setPurpose", roomId=rid, purpose="p"),
        400,
        error="The channel purpose (description) is the same as what it would be changed to.",
    )
    # Announcements have no same-value check.
    c.channels_set_announcement(rid, "hear ye")


def test_group_setters_have_no_same_value_check(alice, bob):
    _, c = alice
    _, bc = bob
    gid = c.groups_create(unique("gtexts"))["group"]["_id"]
    for _ in range(2):
        assert c.groups_set_topic(gid, "same") == {"topic": "same", "success": True}
        assert c.groups_set_description(gid, "d") == {"description": "d", "success": True}
    assert c.groups_info(room_id=gid)["group"]["topic"] == "same"
    expect_api_error(lambda: bc.groups_set_topic(gid, "mine"), 400, error=GROUP_NOT_FOUND)
    expect_api_error(lambda: c.channels_set_topic(gid, "x"), 400, error=CHANNEL_NOT_FOUND)


def test_plain_member_cannot_edit(alice, bob):
    _, c = alice
    b, bc = bob
    rid = c.channels_create(unique("guard"), members=[b.username])["channel"]["_id"]
    for call in (
        lambda: bc.channels_set_topic(rid, "x"),
        lambda: bc.channels_set_description(rid, "x"),
        lambda: bc.channels_set_announcement(rid, "x"),
        lambda: bc.channels_set_type(rid, "p"),
        lambda: bc.channels_set_join_code(rid, "x"),
    ):
        expect_api_error(call, 400, error=EDITING_NOT_ALLOWED, error_type="error-action-not-allowed")
    c.channels_add_moderator(rid, b.id)
    bc.channels_set_topic(rid, "by a moderator")
    assert c.channels_info(room_id=rid)["channel"]["topic"] == "by a moderator"


# --- read-only, type, join code, default, custom fields, encrypted ------------


def test_set_read_only(alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.channels_create(unique("ro"), members=[b.username])["channel"]["_id"]
    assert c.channels_set_read_only(rid, True)["channel"]["ro"] is True
    notice = last_notice(c, rid, "room-set-read-only")
    assert notice["msg"] == a.username
    expect_api_error(
        lambda: c.channels_set_read_only(rid, True),
        400,
        error="The channel read only setting is the same as what it would be changed to.",
    )
    expect_api_error(
        lambda: bc.chat_post_message("can I?", room_id=rid),
        400,
        error="You can't send messages because the room is readonly.",
    )
    assert c.channels_set_read_only(rid, False)["channel"]["ro"] is False
    assert last_notice(c, rid, "room-removed-read-only")["msg"] == a.username
    bc.chat_post_message("now I can", room_id=rid)
    gid = c.groups_create(unique("gro"))["group"]["_id"]
    assert c.groups_set_read_only(gid, True)["group"]["ro"] is True
    expect_api_error(
        lambda: c.groups_set_read_only(gid, True),
        400,
        error="The private group read only setting is the same as what it would be changed to.",
    )


def test_set_type_turns_channel_into_group(alice, bob, carol):
    _, c = alice
    b, bc = bob
    _, kc = carol
    name = unique("shifty")
    rid = c.channels_create(name, members=[b.username])["channel"]["_id"]
    expect_api_error(
        lambda: c.channels_set_type(rid, "c"),
        400,
        error="The channel type is the same as what it would be changed to.",
    )
    resp = c.channels_set_type(rid, "p")
    assert resp["channel"]["t"] == "p"
    expect_api_error(lambda: c.channels_info(room_id=rid), 400, error=CHANNEL_NOT_FOUND)
    assert c.groups_info(room_id=rid)["group"]["name"] == name
    assert bc.groups_info(room_id=rid)["group"]["_id"] == rid
    expect_api_error(lambda: kc.groups_info(room_id=rid), 400, error=GROUP_NOT_FOUND)
    assert last_notice(c, rid, "room_changed_privacy", "groups")["msg"] == "private"
    expect_api_error(
        lambda: c.groups_set_type(rid, "p"),
        400,
        error="The private group type is the same as what it would be changed to.",
    )
    assert c.groups_set_type(rid, "c")["group"]["t"] == "c"
    assert kc.channels_info(room_id=rid)["channel"]["t"] == "c"


def test_join_code_gates_join(server, alice, bob, carol):
    _, c = alice
    b, bc = bob
    _, kc = carol
    rid = c.channels_create(unique("locked"))["channel"]["_id"]
    ch = c.channels_set_join_code(rid, "open-sesame")["channel"]
    assert ch["joinCodeRequired"] is True
    assert "joinCode" not in ch
    for code in (None, "guess"):
        exc = expect_api_error(lambda: bc.channels_join(rid, code), 400)
        assert (exc.error_type or "").startswith("error-code-"), exc.response_json
    assert sub_of(bc, rid) is None
    bc.channels_join(rid, "open-sesame")
    assert sub_of(bc, rid)["rid"] == rid
    # Admins have join-without-join-code.
    admin = server.admin()
    admin.channels_join(rid, None)
    assert sub_of(admin, rid)["rid"] == rid
    assert sub_of(kc, rid) is None


def test_join_code_refusal_strings(alice, bob):
    _, c = alice
    _, bc = bob
    rid = c.channels_create(unique("locked2"))["channel"]["_id"]
    c.channels_set_join_code(rid, "open-sesame")
    expect_api_error(
        lambda: bc.channels_join(rid, None), 400, error="Code required [error-code-required]"
    )
    expect_api_error(
        lambda: bc.channels_join(rid, "guess"), 400, error="Invalid code [error-code-invalid]"
    )


def test_set_default_needs_room_administration(admin, alice):
    _, c = alice
    rid = c.channels_create(unique("deflt"))["channel"]["_id"]
    expect_api_error(
        lambda: c.channels_set_default(rid, True),
        400,
        error="Viewing room administration is not allowed [error-action-not-allowed]",
    )
    assert admin.channels_set_default(rid, True)["channel"]["default"] is True
    exc = expect_api_error(lambda: admin.channels_set_default(rid, True), 400)
    assert exc.response_json == {
        "success": False,
        "error": "The channel default setting is the same as what it would be changed to.",
        "errorType": "error-channels-setdefault-missing-default-param",
    }
    # Leave the session's shared server without an extra default room.
    admin.channels_set_default(rid, False)


def test_custom_fields_and_encrypted(alice):
    _, c = alice
    rid = c.channels_create(unique("custom"))["channel"]["_id"]
    resp = c.channels_set_custom_fields(rid, {"team": "blue"})
    assert resp["channel"]["customFields"] == {"team": "blue"}
    gid = c.groups_create(unique("sealed"))["group"]["_id"]
    assert c.groups_set_encrypted(gid, True)["group"]["encrypted"] is True


def test_dm_set_topic_and_counters(server, alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.dm_create(b.username)["room"]["rid"]
    c.chat_post_message("one", room_id=rid)
    c.chat_post_message("two", room_id=rid)
    counters = bc.dm_counters(rid)
    assert counters["joined"] is True
    assert counters["unreads"] == 2
    assert counters["msgs"] == 2
    assert counters["members"] == 2
    # DM participants lack edit-room; admins have it.
    expect_api_error(lambda: c.dm_set_topic(rid, "ours"), 400, error=EDITING_NOT_ALLOWED)
    admin = server.admin()
    admin_dm = admin.dm_create(a.username)["room"]["rid"]
    assert admin.dm_set_topic(admin_dm, "admin topic") == {"topic": "admin topic", "success": True}
    assert system_messages(c, admin_dm, "dm") == [("room_changed_topic", "admin topic")]


# --- archive / delete ---------------------------------------------------------


def test_archive_and_unarchive(admin, alice, bob):
    a, c = alice
    b, bc = bob
    name = unique("attic")
    rid = c.channels_create(name, members=[b.username])["channel"]["_id"]
    expect_api_error(
        lambda: bc.channels_archive(rid), 400, error="Not authorized [error-not-authorized]"
    )
    assert c.channels_archive(rid) == {"success": True}
    assert c.channels_info(room_id=rid)["channel"]["archived"] is True
    assert last_notice(c, rid, "room-archived")["msg"] == a.username
    expect_api_error(lambda: bc.chat_post_message("hello?", room_id=rid), 400)
    expect_api_error(
        lambda: c.channels_archive(rid),
        400,
        error=f"The channel, {name}, is archived [error-room-archived]",
    )
    # unarchive-room is admin-only by default.
    expect_api_error(
        lambda: c.channels_unarchive(rid), 400, error="Not authorized [error-not-authorized]"
    )
    assert admin.channels_unarchive(rid) == {"success": True}
    expect_api_error(
        lambda: admin.channels_unarchive(rid),
        400,
        error=f"The channel, {name}, is not archived",
    )
    bc.chat_post_message("back again", room_id=rid)


def test_delete_removes_room_and_messages(alice, bob):
    _, c = alice
    b, bc = bob
    name = unique("doomed")
    rid = c.channels_create(name, members=[b.username])["channel"]["_id"]
    mid = c.chat_post_message("last words", room_id=rid)["message"]["_id"]
    expect_api_error(lambda: bc.channels_delete(room_id=rid), 400, error=NOT_ALLOWED)
    assert c.channels_delete(room_id=rid) == {"success": True}
    expect_api_error(lambda: c.channels_info(room_id=rid), 400, error=CHANNEL_NOT_FOUND)
    expect_api_error(lambda: c.chat_get_message(mid), 400)
    assert sub_of(bc, rid) is None
    gname = unique("gdoomed")
    gid = c.groups_create(gname)["group"]["_id"]
    assert c.groups_delete(group=gname) == {"success": True}
    expect_api_error(lambda: c.groups_info(room_id=gid), 400, error=GROUP_NOT_FOUND)


# --- roles --------------------------------------------------------------------


def test_room_roles(alice, bob, carol):
    a, c = alice
    b, bc = bob
    k, kc = carol
    rid = c.channels_create(unique("ranks"), members=[b.username, k.username])["channel"]["_id"]
    assert c.channels_add_owner(rid, user_id=b.id) == {"success": True}
    notice = last_notice(c, rid, "subscription-role-added")
    assert (notice["msg"], notice["role"]) == (b.username, "owner")
    expect_api_error(
        lambda: c.channels_add_owner(rid, user_id=b.id),
        400,
        error="User is already an owner [error-user-already-owner]",
    )
    expect_api_error(lambda: kc.channels_add_owner(rid, user_id=k.id), 400, error=NOT_ALLOWED)
    c.channels_add_moderator(rid, k.id)
    c.channels_add_leader(rid, k.id)
    assert last_notice(c, rid, "subscription-role-added")["role"] == "leader"
    assert bc.channels_moderators(room_id=rid)["moderators"] == [
        {"_id": k.id, "username": k.username, "name": k.name}
    ]
    roles = {r["u"]["username"]: sorted(r["roles"]) for r in bc.channels_roles(room_id=rid)["roles"]}
    assert roles == {
        a.username: ["owner"],
        b.username: ["owner"],
        k.username: ["leader", "moderator"],
    }
    c.channels_remove_leader(rid, k.id)
    c.channels_remove_moderator(rid, k.id)
    assert bc.channels_moderators(room_id=rid)["moderators"] == []
    bc.channels_remove_owner(rid, a.id)
    expect_api_error(
        lambda: bc.channels_remove_owner(rid, b.id),
        400,
        error="This is the last owner. Please set a new owner before removing this one. "
        "[error-remove-last-owner]",
        error_type="error-remove-last-owner",
    )
    gid = c.groups_create(unique("granks"), members=[b.username])["group"]["_id"]
    c.groups_add_moderator(gid, b.id)
    assert [m["username"] for m in c.groups_moderators(room_id=gid)["moderators"]] == [b.username]


# --- counters / addAll / adminRooms -------------------------------------------


def test_channel_counters(admin, alice, bob, carol):
    _, c = alice
    b, bc = bob
    _, kc = carol
    rid = c.channels_create(unique("counted"), members=[b.username])["channel"]["_id"]
    c.chat_post_message("hello", room_id=rid)
    c.chat_post_message(f"hey @{b.username}", room_id=rid)
    counters = bc.channels_counters(room_id=rid)
    assert counters["joined"] is True
    assert counters["members"] == 2
    assert counters["msgs"] == 2
    assert counters["userMentions"] == 1
    assert kc.channels_counters(room_id=rid) == {
        "joined": False,
        "members": None,
        "unreads": None,
        "unreadsFrom": None,
        "msgs": None,
        "latest": None,
        "userMentions": None,
        "success": True,
    }
    expect_api_error(
        lambda: kc.channels_counters(room_id=rid, userId=b.id), 403, error="unauthorized"
    )
    assert admin.channels_counters(room_id=rid, userId=b.id)["joined"] is True


def test_add_all(admin, alice, bob):
    _, c = alice
    b, bc = bob
    rid = c.channels_create(unique("everyone"))["channel"]["_id"]
    expect_api_error(lambda: c.channels_add_all(rid), 400, error=NOT_ALLOWED)
    resp = admin.channels_add_all(rid)
    assert resp["channel"]["_id"] == rid
    assert sub_of(bc, rid)["rid"] == rid
    assert ("au", b.username) in system_messages(c, rid)
    # Clean up: the room would otherwise count every later user's members.
    admin.channels_delete(room_id=rid)


def test_admin_rooms(admin, alice):
    _, c = alice
    prefix = unique("adm")
    rid = c.channels_create(f"{prefix}-pub")["channel"]["_id"]
    gid = c.groups_create(f"{prefix}-priv")["group"]["_id"]
    # Upstream's route declares no permission: its lookup refuses with a bare
    # 400 `error-not-authorized` (tests/end-to-end/api/rooms.ts, /rooms.adminRooms).
    expect_api_error(lambda: list(c.rooms_admin_rooms()), 400, error="error-not-authorized")
    names = sorted(r["name"] for r in admin.rooms_admin_rooms(filter=prefix))
    assert names == [f"{prefix}-priv", f"{prefix}-pub"]
    only_private = [r["_id"] for r in admin.rooms_admin_rooms(filter=prefix, types=["p"])]
    assert only_private == [gid]
    page = admin_rooms_page(admin, filter=prefix, count=1, offset=1)
    assert (page["count"], page["offset"], page["total"]) == (1, 1, 2)
    assert rid in [r["_id"] for r in admin.rooms_admin_rooms(filter=prefix)]


# --- directory / spotlight ----------------------------------------------------


def test_directory_users_and_channels(server, alice, make_user):
    _, c = alice
    users = sorted(make_user().username for _ in range(3))
    # The three share the `compat-` prefix with every other user: filter by
    # each one's unique part instead.
    for username in users:
        resp = directory_page(c, {"type": "users", "text": username}, offset=0, count=50)
        assert [u["username"] for u in resp["result"]] == [username]
        assert resp["total"] == 1
        assert [u["username"] for u in c.directory({"type": "users", "text": username})] == [
            username
        ]
    prefix = unique("dirchan")
    for n in ("1", "2", "3"):
        c.channels_create(f"{prefix}-{n}")
    c.groups_create(f"{prefix}-secret")
    found = c.directory({"type": "channels", "text": prefix})
    assert sorted(r["name"] for r in found) == [f"{prefix}-{n}" for n in "123"]
    resp = directory_page(c, {"type": "channels", "text": prefix}, count=2, offset=1)
    assert (resp["count"], resp["offset"], resp["total"]) == (2, 1, 3)
    assert [r["name"] for r in resp["result"]] == [f"{prefix}-2", f"{prefix}-3"]


def test_spotlight_prefixes(alice, bob):
    a, c = alice
    b, bc = bob
    room = unique("spot")
    c.channels_create(room)
    secret = unique("spotsecret")
    c.groups_create(secret)
    resp = c.spotlight("@" + b.username)
    assert [u["username"] for u in resp["users"]] == [b.username]
    assert resp["rooms"] == []
    resp = c.spotlight("%23" + room)
    assert resp["users"] == []
    assert [r["name"] for r in resp["rooms"]] == [room]
    assert [r["name"] for r in c.spotlight("%23" + secret)["rooms"]] == [secret]
    assert bc.spotlight("%23" + secret)["rooms"] == []


def test_channel_counters_count_unreads_since_last_seen(alice, bob):
    _, c = alice
    b, bc = bob
    rid = c.channels_create(unique("unreads"), members=[b.username])["channel"]["_id"]
    for text in ("one", "two", "three"):
        c.chat_post_message(text, room_id=rid)
    assert bc.channels_counters(room_id=rid)["unreads"] == 3


def test_setters_on_archived_channel_are_refused(alice):
    _, c = alice
    name = unique("frozen")
    rid = c.channels_create(name)["channel"]["_id"]
    c.channels_archive(rid)
    expect_api_error(
        lambda: c.channels_set_topic(rid, "still?"),
        400,
        error=f"The channel, {name}, is archived [error-room-archived]",
    )
