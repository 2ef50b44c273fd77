"""channels.*, groups.*, dm.* (im.*), rooms.* and subscriptions.* through
rocketchat-api 3.7.1, against upstream Rocket.Chat 8.x behaviour.

Client facts used here (read from its source):

* ``channels_list``, ``channels_list_joined``, ``channels_history``,
  ``channels_members``, ``groups_list``, ``groups_list_all``,
  ``groups_history``, ``groups_members``, ``dm_list``, ``dm_history``,
  ``dm_members``, ``dm_messages`` are ``@paginated`` generators over the
  items (the first page is fetched eagerly, so errors raise at call time);
  ``RocketChat.<name>.__wrapped__`` is the undecorated page method;
* ``channels_join(room_id, join_code)`` always sends ``joinCode`` (None is
  sent as JSON null);
* GET helpers put ``str(value)`` into the query string, so booleans must be
  passed as the strings ``"true"``/``"false"``;
* the client has no ``im_*`` helpers; ``dm_*`` call the ``dm.*`` aliases and
  ``call_api_get``/``call_api_post`` reach ``im.*``.
"""

import pytest
from rocketchat_API.rocketchat import RocketChat

from conftest import FORBIDDEN_8X, NO_PERMISSION_8X, NOT_LOGGED_IN, expect_api_error, unique

CHANNEL_NOT_FOUND = (
    'The required "roomId" or "roomName" param provided does not match any channel '
    "[error-room-not-found]"
)
NOT_ALLOWED = "Not allowed [error-not-allowed]"
GROUP_NOT_FOUND = (
    'The required "roomId" or "roomName" param provided does not match any group '
    "[error-room-not-found]"
)

channels_list_page = RocketChat.channels_list.__wrapped__
channels_history_page = RocketChat.channels_history.__wrapped__
groups_list_page = RocketChat.groups_list.__wrapped__
dm_list_page = RocketChat.dm_list.__wrapped__


def client(server, u):
    return server.login(u.username, u.password)


def room_name(prefix="room"):
    return unique(prefix)


def sub_of(c, rid):
    return c.subscriptions_get_one(rid)["subscription"]


def system_messages(c, rid, family="channels"):
    history = getattr(c, f"{family}_history")
    return [(m["t"], m["msg"]) for m in reversed(list(history(rid))) if "t" in m]


@pytest.fixture
def alice(server, make_user):
    u = make_user()
    return u, client(server, u)


@pytest.fixture
def bob(server, make_user):
    u = make_user()
    return u, client(server, u)


# --- GENERAL ----------------------------------------------------------------


def test_new_user_joins_general(alice):
    u, c = alice
    general = c.channels_info(channel="general")["channel"]
    assert general["_id"] == "GENERAL"
    assert general["t"] == "c"
    assert general["default"] is True
    sub = sub_of(c, "GENERAL")
    assert sub["open"] is True
    assert sub["alert"] is True
    assert sub["unread"] == 1
    assert sub["userMentions"] == 1
    assert ("uj", u.username) in system_messages(c, "GENERAL")


# --- channels.create ---------------------------------------------------------


def test_channels_create_shape(alice):
    u, c = alice
    name = room_name("chan")
    resp = c.channels_create(name)
    assert resp["success"] is True
    ch = resp["channel"]
    for key in ("_id", "name", "fname", "t", "msgs", "usersCount", "u", "ts", "ro", "_updatedAt"):
        assert key in ch, key
    assert len(ch["_id"]) == 17
    assert ch["name"] == name
    assert ch["fname"] == name
    assert ch["t"] == "c"
    assert ch["msgs"] == 0
    assert ch["usersCount"] == 1
    assert ch["ro"] is False
    assert ch["u"] == {"_id": u.id, "username": u.username, "name": u.name}
    # A new room says it is not a default room, as upstream's room documents do.
    assert ch["default"] is False
    for absent in ("lastMessage", "joinCode", "customFields"):
        assert absent not in ch, absent
    sub = sub_of(c, ch["_id"])
    assert sub["roles"] == ["owner"]
    assert sub["unread"] == 0
    assert sub["alert"] is False


def test_channels_create_with_members_and_read_only(alice, bob):
    _, c = alice
    b, bc = bob
    ch = c.channels_create(room_name("ro"), members=[b.username], readOnly=True)["channel"]
    assert ch["ro"] is True
    assert ch["usersCount"] == 2
    sub = sub_of(bc, ch["_id"])
    assert sub["open"] is True
    assert sub["unread"] == 0
    assert "roles" not in sub


def test_channels_create_duplicate_and_invalid(alice):
    _, c = alice
    name = room_name("dup")
    c.channels_create(name)
    exc = expect_api_error(
        lambda: c.channels_create(name),
        400,
        error=f"A channel with name '{name}' exists [error-duplicate-channel-name]",
    )
    assert exc.error_type == "error-duplicate-channel-name"
    expect_api_error(
        lambda: c.groups_create(name),
        400,
        error=f"A channel with name '{name}' exists [error-duplicate-channel-name]",
    )
    expect_api_error(
        lambda: c.channels_create("!" + name), 400, error_type="error-invalid-room-name"
    )
    exc = expect_api_error(lambda: c.channels_create(""), 400)
    assert exc.response_json == {"success": False, "error": 'Param "name" is required'}


def test_channels_create_without_create_c_is_forbidden(server, admin, alice):
    _, c = alice
    before = {p["_id"]: p for p in admin.permissions_list_all()["update"]}["create-c"]["roles"]
    try:
        admin.permissions_update([{"_id": "create-c", "roles": ["admin"]}])
        exc = expect_api_error(
            lambda: c.channels_create(room_name("denied")), 403, error=FORBIDDEN_8X
        )
        assert exc.response_json == {"success": False, "error": FORBIDDEN_8X}
    finally:
        admin.permissions_update([{"_id": "create-c", "roles": before}])
    c.channels_create(room_name("allowed-again"))


def test_channels_create_needs_login(server):
    expect_api_error(lambda: server.anon().channels_create(room_name()), 401, error=NOT_LOGGED_IN)


# --- info / visibility ---------------------------------------------------------


def test_channels_info_by_id_and_name(alice, bob):
    _, c = alice
    _, bc = bob
    name = room_name("info")
    rid = c.channels_create(name)["channel"]["_id"]
    assert bc.channels_info(room_id=rid)["channel"]["name"] == name
    assert bc.channels_info(channel=name)["channel"]["_id"] == rid
    exc = expect_api_error(
        lambda: bc.channels_info(room_id="no-such-room-id"), 400, error=CHANNEL_NOT_FOUND
    )
    assert exc.error_type == "error-room-not-found"
    gid = c.groups_create(room_name("g"))["group"]["_id"]
    expect_api_error(lambda: c.channels_info(room_id=gid), 400, error=CHANNEL_NOT_FOUND)


def test_private_group_invisible_to_non_members(alice, bob):
    _, c = alice
    _, bc = bob
    name = room_name("secret")
    resp = c.groups_create(name)
    group = resp["group"]
    assert "channel" not in resp
    assert group["t"] == "p"
    gid = group["_id"]
    assert c.groups_info(room_id=gid)["group"]["name"] == name
    expect_api_error(lambda: bc.groups_info(room_id=gid), 400, error=GROUP_NOT_FOUND)
    expect_api_error(lambda: bc.groups_info(room_name=name), 400, error=GROUP_NOT_FOUND)
    expect_api_error(lambda: bc.groups_history(gid), 400, error=GROUP_NOT_FOUND)
    expect_api_error(lambda: bc.groups_members(room_id=gid), 400, error=GROUP_NOT_FOUND)
    assert name not in [g["name"] for g in bc.groups_list()]
    assert name not in [ch["name"] for ch in bc.channels_list()]
    assert gid not in [r["_id"] for r in bc.rooms_get()["update"]]
    exc = expect_api_error(lambda: bc.rooms_info(room_id=gid), 400)
    assert exc.response_json == {
        "success": False,
        "error": "not-allowed",
        "errorType": "Not Allowed",
    }


def test_groups_create_missing_name(alice):
    _, c = alice
    exc = expect_api_error(lambda: c.groups_create(""), 400)
    assert exc.response_json == {"success": False, "error": 'Body param "name" is required'}


# --- lists ------------------------------------------------------------------------


def test_channels_list_and_joined(alice, bob):
    _, c = alice
    _, bc = bob
    name = room_name("listed")
    c.channels_create(name)
    assert name in [ch["name"] for ch in bc.channels_list()]
    joined = [ch["name"] for ch in bc.channels_list_joined()]
    assert name not in joined
    assert "general" in joined
    assert name in [ch["name"] for ch in c.channels_list_joined()]
    page = channels_list_page(bc, count=1, offset=0)
    assert set(page) >= {"channels", "count", "offset", "total", "success"}
    assert page["count"] == 1
    assert page["offset"] == 0
    assert page["total"] >= 2
    names = [ch["name"] for ch in channels_list_page(bc, count=100, offset=0)["channels"]]
    assert names == sorted(names)


def test_groups_list_and_list_all(admin, alice, bob):
    _, c = alice
    _, bc = bob
    name = room_name("glist")
    c.groups_create(name)
    assert name in [g["name"] for g in c.groups_list()]
    page = groups_list_page(bc, count=50, offset=0)
    assert name not in [g["name"] for g in page["groups"]]
    assert {"groups", "count", "offset", "total"} <= set(page)
    expect_api_error(lambda: bc.groups_list_all(), 403, error=NO_PERMISSION_8X)
    assert name in [g["name"] for g in admin.groups_list_all()]


# --- join / leave / invite / kick ---------------------------------------------------


def test_channels_join_and_leave(alice, bob):
    _, c = alice
    b, bc = bob
    name = room_name("join")
    rid = c.channels_create(name)["channel"]["_id"]
    ch = bc.channels_join(rid, None)["channel"]
    assert ch["_id"] == rid
    assert ch["usersCount"] == 2
    assert ch["msgs"] == 1
    sub = sub_of(bc, rid)
    assert (sub["unread"], sub["userMentions"], sub["alert"]) == (1, 1, True)
    # already a member: silent success
    assert bc.channels_join(rid, None)["channel"]["msgs"] == 1

    ch = bc.channels_leave(rid)["channel"]
    assert ch["usersCount"] == 1
    assert bc.subscriptions_get_one(rid)["subscription"] is None
    assert system_messages(c, rid) == [("uj", b.username), ("ul", b.username)]
    expect_api_error(
        lambda: bc.channels_leave(rid),
        400,
        error="You are not in this room [error-user-not-in-room]",
    )
    expect_api_error(
        lambda: bc.channels_join("no-such-room-id", None), 400, error=CHANNEL_NOT_FOUND
    )


def test_last_owner_cannot_leave(alice, bob):
    _, c = alice
    b, _ = bob
    rid = c.channels_create(room_name("owner"), members=[b.username])["channel"]["_id"]
    exc = expect_api_error(
        lambda: c.channels_leave(rid),
        400,
        error="You are the last owner. Please set new owner before leaving the room. "
        "[error-you-are-last-owner]",
    )
    assert exc.error_type == "error-you-are-last-owner"


def test_channels_invite_and_kick(alice, bob, make_user, server):
    a, c = alice
    b, bc = bob
    d = make_user()
    rid = c.channels_create(room_name("ik"))["channel"]["_id"]
    ch = c.channels_invite(rid, b.id)["channel"]
    assert ch["usersCount"] == 2
    sub = sub_of(bc, rid)
    assert (sub["unread"], sub["userMentions"]) == (1, 1)
    # a plain member may neither invite nor kick
    expect_api_error(lambda: bc.channels_invite(rid, d.id), 400, error=NOT_ALLOWED)
    expect_api_error(lambda: bc.channels_kick(rid, a.id), 400, error=NOT_ALLOWED)
    ch = c.channels_kick(rid, b.id)["channel"]
    assert ch["usersCount"] == 1
    assert bc.subscriptions_get_one(rid)["subscription"] is None
    expect_api_error(
        lambda: c.channels_kick(rid, b.id),
        400,
        error="User is not in this room [error-user-not-in-room]",
    )
    history = list(c.channels_history(rid))
    assert [(m["t"], m["msg"], m["u"]["_id"]) for m in reversed(history)] == [
        ("au", b.username, a.id),
        ("ru", b.username, a.id),
    ]
    assert c.channels_info(room_id=rid)["channel"]["msgs"] == 2


def test_groups_invite_kick_leave(alice, bob, make_user):
    _, c = alice
    b, bc = bob
    d = make_user()
    gid = c.groups_create(room_name("gik"))["group"]["_id"]
    assert c.groups_invite(gid, b.id)["group"]["usersCount"] == 2
    assert bc.groups_info(room_id=gid)["group"]["_id"] == gid
    assert sorted(m["username"] for m in c.groups_members(room_id=gid)) == sorted(
        [b.username, c.me()["username"]]
    )
    expect_api_error(lambda: bc.groups_kick(gid, d.id), 400, error=NOT_ALLOWED)
    assert c.groups_kick(gid, b.id) == {"success": True}
    expect_api_error(lambda: bc.groups_info(room_id=gid), 400, error=GROUP_NOT_FOUND)
    c.groups_invite(gid, b.id)
    assert bc.groups_leave(gid) == {"success": True}
    expect_api_error(lambda: bc.groups_info(room_id=gid), 400, error=GROUP_NOT_FOUND)


# --- members / history / messages ---------------------------------------------------


def test_channels_members(alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.channels_create(room_name("mem"), members=[b.username])["channel"]["_id"]
    members = list(bc.channels_members(room_id=rid))
    assert sorted(m["username"] for m in members) == sorted([a.username, b.username])
    for m in members:
        assert {"_id", "username", "name", "status"} <= set(m)
        assert "emails" not in m and "services" not in m
    expect_api_error(
        lambda: bc.channels_members(room_id="no-such-room-id"), 400, error=CHANNEL_NOT_FOUND
    )


def test_channels_history_shape(alice):
    _, c = alice
    rid = c.channels_create(room_name("hist"))["channel"]["_id"]
    c.chat_post_message("hello", room_id=rid)
    page = channels_history_page(c, rid, count=20, offset=0)
    assert set(page) == {"messages", "success"}
    assert page["messages"][0]["msg"] == "hello"
    expect_api_error(lambda: c.channels_history("no-such-room-id"), 400, error=CHANNEL_NOT_FOUND)


def test_channels_messages(alice, bob):
    _, c = alice
    _, bc = bob
    rid = c.channels_create(room_name("msgs"))["channel"]["_id"]
    for text in ("one", "two", "three"):
        c.chat_post_message(text, room_id=rid)
    page = bc.call_api_get("channels.messages", roomId=rid)
    assert {"messages", "count", "offset", "total"} <= set(page)
    assert page["total"] == 3
    assert [m["msg"] for m in page["messages"]] == ["three", "two", "one"]


# --- open / close -----------------------------------------------------------------


def test_channels_open_close(alice, bob):
    _, c = alice
    _, bc = bob
    name = room_name("oc")
    rid = c.channels_create(name)["channel"]["_id"]
    assert c.channels_close(rid) == {"success": True}
    assert sub_of(c, rid)["open"] is False
    expect_api_error(
        lambda: c.channels_close(rid),
        400,
        error=f"The channel, {name}, is already closed to the sender",
    )
    assert c.channels_open(rid) == {"success": True}
    expect_api_error(
        lambda: c.channels_open(rid),
        400,
        error=f"The channel, {name}, is already open to the sender",
    )
    expect_api_error(
        lambda: bc.channels_open(rid), 400, error=f'The user/callee is not in the channel "{name}".'
    )


def test_groups_open_close(alice):
    _, c = alice
    name = room_name("goc")
    gid = c.groups_create(name)["group"]["_id"]
    assert c.groups_close(gid) == {"success": True}
    expect_api_error(
        lambda: c.groups_close(gid),
        400,
        error=f"The private group, {name}, is already closed to the sender",
    )
    assert c.groups_open(gid) == {"success": True}


# --- dm / im ---------------------------------------------------------------------


def test_dm_create_shape(alice, bob):
    a, c = alice
    b, bc = bob
    resp = c.dm_create(b.username)
    rid = "".join(sorted([a.id, b.id]))
    assert set(resp) == {"room", "success"}
    room = resp["room"]
    assert set(room) == {"t", "rid", "usernames", "_id"}
    assert room["t"] == "d"
    assert room["rid"] == rid
    assert room["_id"] == rid
    assert sorted(room["usernames"]) == sorted([a.username, b.username])
    assert sub_of(c, rid)["open"] is True
    assert sub_of(bc, rid)["open"] is False
    # again, through im.create, from the other side
    assert bc.call_api_post("im.create", username=a.username)["room"]["rid"] == rid


def test_dm_list_history_members_messages(alice, bob, make_user, server):
    a, c = alice
    b, bc = bob
    outsider = client(server, make_user())
    rid = c.dm_create(b.username)["room"]["rid"]
    c.chat_post_message("hi there", room_id=rid)
    ims = list(bc.dm_list())
    assert [im["_id"] for im in ims] == [rid]
    assert ims[0]["lastMessage"]["msg"] == "hi there"
    page = dm_list_page(bc, count=50, offset=0)
    assert {"ims", "count", "offset", "total"} <= set(page)
    assert [m["msg"] for m in bc.dm_history(rid)] == ["hi there"]
    assert [m["msg"] for m in bc.call_api_get("im.history", roomId=rid)["messages"]] == ["hi there"]
    assert sorted(m["username"] for m in bc.dm_members(rid)) == sorted([a.username, b.username])
    assert [m["msg"] for m in bc.dm_messages(room_id=rid)] == ["hi there"]
    # Upstream's im.* routes answer a caller outside the conversation with 403 'unauthorized'.
    exc = expect_api_error(lambda: outsider.dm_history(rid), 403, error="unauthorized")
    assert "messages" not in exc.response_json
    expect_api_error(
        lambda: c.call_api_get("im.history"),
        400,
        error='Query param "roomId" is required [error-room-param-not-provided]',
    )


def test_dm_open_close(alice, bob):
    _, c = alice
    b, _ = bob
    rid = c.dm_create(b.username)["room"]["rid"]
    assert c.dm_close(rid) == {"success": True}
    expect_api_error(
        lambda: c.dm_close(rid),
        400,
        error="The direct message room, is already closed to the sender",
    )
    assert c.call_api_post("im.open", roomId=rid) == {"success": True}
    assert sub_of(c, rid)["open"] is True


# --- rooms.* / subscriptions.* ------------------------------------------------------


def test_rooms_get_info_leave(alice, bob):
    _, c = alice
    b, bc = bob
    name = room_name("rooms")
    rid = c.channels_create(name, members=[b.username])["channel"]["_id"]
    sent = c.chat_post_message("last words", room_id=rid)["message"]
    rooms = {r["_id"]: r for r in c.rooms_get()["update"]}
    assert rid in rooms and "GENERAL" in rooms
    assert rooms[rid]["lastMessage"]["_id"] == sent["_id"]
    assert c.rooms_get()["remove"] == []
    assert c.rooms_info(room_id=rid)["room"]["name"] == name
    assert c.rooms_info(room_name=name)["room"]["_id"] == rid
    assert bc.rooms_leave(rid) == {"success": True}
    assert bc.subscriptions_get_one(rid)["subscription"] is None
    expect_api_error(
        lambda: bc.rooms_leave(rid), 400, error="You are not in this room [error-user-not-in-room]"
    )


def test_subscriptions_get_get_one_read(alice):
    _, c = alice
    rid = c.channels_create(room_name("subs"))["channel"]["_id"]
    resp = c.subscriptions_get()
    assert resp["remove"] == []
    assert {s["rid"] for s in resp["update"]} == {"GENERAL", rid}
    assert c.subscriptions_get(updatedSince="2999-01-01T00:00:00.000Z")["update"] == []
    assert c.subscriptions_get_one("no-such-room-id") == {"subscription": None, "success": True}
    assert sub_of(c, "GENERAL")["unread"] == 1
    assert c.subscriptions_read("GENERAL") == {"success": True}
    sub = sub_of(c, "GENERAL")
    counts = (sub["unread"], sub["userMentions"], sub["groupMentions"], sub["alert"])
    assert counts == (0, 0, 0, False)
    exc = expect_api_error(lambda: c.subscriptions_read("no-such-room-id"), 400)
    assert exc.response_json == {"success": False, "error": "error-invalid-subscription"}


# --- known differences from upstream (see the Rust suite's ignored tests) ----------------


def test_channels_create_skips_unknown_members(alice, bob):
    _, c = alice
    b, _ = bob
    ch = c.channels_create(room_name("skip"), members=[b.username, unique("nobody")])["channel"]
    assert ch["usersCount"] == 2


def test_channels_close_by_non_member_text(alice, bob):
    _, c = alice
    _, bc = bob
    name = room_name("oc2")
    rid = c.channels_create(name)["channel"]["_id"]
    expect_api_error(
        lambda: bc.channels_close(rid), 400, error=f'The user/callee is not in the channel "{name}.'
    )


def test_groups_open_when_open_text(alice):
    _, c = alice
    name = room_name("gopen")
    gid = c.groups_create(name)["group"]["_id"]
    expect_api_error(
        lambda: c.groups_open(gid),
        400,
        error=f"The private group, {name}, is already open for the sender",
    )


def test_channels_create_invalid_name_text(alice):
    _, c = alice
    expect_api_error(
        lambda: c.channels_create("!nope"),
        400,
        error="!nope is not a valid room name. [error-invalid-room-name]",
    )
