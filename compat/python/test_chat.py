"""chat.* (postMessage, sendMessage, update, delete, getMessage, react,
search), threads, read-only rooms and unread accounting through
rocketchat-api 3.7.1, against upstream Rocket.Chat 8.x behaviour.

Client facts used here (read from its source): ``chat_post_message(text,
room_id=None, channel=None, **kw)`` posts ``roomId`` or ``channel`` plus
``text``; ``chat_send_message(message)`` posts ``{"message": message}`` and
needs ``rid`` in it; ``chat_react(msg_id, emoji="smile", **kw)``;
``chat_search`` and ``channels_history``/``groups_history`` are
``@paginated`` generators; GET helpers send ``str(value)``, so booleans go
as ``"true"``/``"false"`` strings.
"""

import time
import uuid

import pytest

from conftest import CometServer, USER_PASS, expect_api_error, register_user, unique


def client(server, u):
    return server.login(u.username, u.password)


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


def counters(c, rid):
    s = c.subscriptions_get_one(rid)["subscription"]
    return s["unread"], s["userMentions"], s["groupMentions"], s["alert"]


def texts(messages):
    return [m["msg"] for m in messages]


def post(c, rid, text, **kw):
    msg = c.chat_post_message(text, room_id=rid, **kw)["message"]
    time.sleep(0.005)  # distinct timestamps keep history order deterministic
    return msg


# --- chat.postMessage ------------------------------------------------------------


def test_post_message_shape(alice):
    a, c = alice
    rid = c.channels_create(unique("post"))["channel"]["_id"]
    resp = c.chat_post_message("hello world", room_id=rid)
    assert resp["success"] is True
    assert isinstance(resp["ts"], int)
    assert resp["channel"] == rid
    m = resp["message"]
    assert m["rid"] == rid
    assert m["msg"] == "hello world"
    assert m["u"] == {"_id": a.id, "username": a.username, "name": a.name}
    for key in ("_id", "ts", "_updatedAt", "mentions", "channels"):
        assert key in m, key
    ch = c.channels_info(room_id=rid)["channel"]
    assert ch["msgs"] == 1
    assert ch["lastMessage"]["_id"] == m["_id"]


def test_post_message_by_name_auto_joins(alice, bob, carol):
    _, c = alice
    b, bc = bob
    k, kc = carol
    name = unique("autojoin")
    rid = c.channels_create(name)["channel"]["_id"]
    resp = bc.chat_post_message("from bob", channel=f"#{name}")
    assert resp["channel"] == f"#{name}"
    assert resp["message"]["rid"] == rid
    assert bc.subscriptions_get_one(rid)["subscription"]["rid"] == rid
    kc.chat_post_message("from carol", channel=name)
    assert kc.subscriptions_get_one(rid)["subscription"] is not None
    hist = list(c.channels_history(rid))
    assert [(m.get("t"), m["msg"]) for m in reversed(hist)] == [
        ("uj", b.username),
        (None, "from bob"),
        ("uj", k.username),
        (None, "from carol"),
    ]
    ch = c.channels_info(room_id=rid)["channel"]
    assert ch["msgs"] == 4
    assert ch["lastMessage"]["msg"] == "from carol"


def test_post_message_to_username_creates_dm(alice, bob):
    a, c = alice
    b, bc = bob
    resp = c.chat_post_message("psst", channel=f"@{b.username}")
    rid = "".join(sorted([a.id, b.id]))
    assert resp["channel"] == f"@{b.username}"
    assert resp["message"]["rid"] == rid
    assert counters(bc, rid) == (1, 0, 0, True)
    assert bc.subscriptions_get_one(rid)["subscription"]["open"] is True


def test_post_message_unknown_channel(alice):
    _, c = alice
    for kw in ({"channel": "#" + unique("nope")}, {"room_id": unique("nope")}):
        exc = expect_api_error(lambda: c.chat_post_message("x", **kw), 400)
        assert exc.response_json == {
            "success": False,
            "error": "[invalid-channel]",
            "errorType": "invalid-channel",
        }


def test_post_message_to_private_group_of_others_is_refused(alice, bob):
    _, c = alice
    _, bc = bob
    gid = c.groups_create(unique("pg"))["group"]["_id"]
    expect_api_error(lambda: bc.chat_post_message("let me in", room_id=gid), 400)
    assert bc.subscriptions_get_one(gid)["subscription"] is None
    assert list(c.groups_history(gid)) == []


class _SmallMessagesServer(CometServer):
    def env(self):
        env = super().env()
        env["OVERWRITE_SETTING_Message_MaxAllowedSize"] = "10"
        return env


@pytest.fixture(scope="module")
def small_server():
    srv = _SmallMessagesServer(name="comet-small")
    srv.start()
    try:
        yield srv
    finally:
        srv.cleanup()


def test_message_size_limit(small_server):
    u = register_user(small_server, USER_PASS)
    c = client(small_server, u)
    rid = c.channels_create(unique("size"))["channel"]["_id"]
    c.chat_post_message("0123456789", room_id=rid)
    exc = expect_api_error(lambda: c.chat_post_message("0123456789x", room_id=rid), 400)
    assert exc.response_json == {"success": False, "error": "error-message-size-exceeded"}
    expect_api_error(
        lambda: c.chat_send_message({"rid": rid, "msg": "0123456789x"}),
        400,
        error="Message size exceeds Message_MaxAllowedSize [error-message-size-exceeded]",
        error_type="error-message-size-exceeded",
    )
    assert c.channels_info(room_id=rid)["channel"]["msgs"] == 1


# --- chat.sendMessage ---------------------------------------------------------------


def test_send_message_with_client_id(alice):
    _, c = alice
    rid = c.channels_create(unique("send"))["channel"]["_id"]
    mid = "cli" + uuid.uuid4().hex[:14]
    resp = c.chat_send_message({"_id": mid, "rid": rid, "msg": "with my id"})
    assert set(resp) == {"message", "success"}
    assert resp["message"]["_id"] == mid
    assert resp["message"]["rid"] == rid
    assert c.chat_get_message(mid)["message"]["msg"] == "with my id"


def test_send_message_system_type_refused(alice):
    _, c = alice
    rid = c.channels_create(unique("sys"))["channel"]["_id"]
    exc = expect_api_error(lambda: c.chat_send_message({"rid": rid, "msg": "x", "t": "uj"}), 400)
    assert exc.response_json == {
        "success": False,
        "error": "Cannot send system messages using 'chat.sendMessage'",
    }


# --- unread accounting ------------------------------------------------------------------


def test_channel_unread_accounting(alice, bob, carol):
    _, c = alice
    b, bc = bob
    k, kc = carol
    rid = c.channels_create(unique("unread"), members=[b.username, k.username])["channel"]["_id"]
    post(c, rid, "plain message")
    assert counters(bc, rid) == (0, 0, 0, True)
    assert counters(kc, rid) == (0, 0, 0, True)
    assert counters(c, rid) == (0, 0, 0, False)
    m = post(c, rid, f"hey @{b.username}")
    assert [x["_id"] for x in m["mentions"]] == [b.id]
    assert counters(bc, rid) == (1, 1, 0, True)
    assert counters(kc, rid) == (0, 0, 0, True)
    post(c, rid, "@all standup")
    assert counters(bc, rid) == (2, 1, 1, True)
    assert counters(kc, rid) == (1, 0, 1, True)
    assert counters(c, rid) == (0, 0, 0, False)
    assert bc.subscriptions_read(rid) == {"success": True}
    assert counters(bc, rid) == (0, 0, 0, False)


def test_dm_unread_accounting(alice, bob):
    _, c = alice
    b, bc = bob
    rid = c.dm_create(b.username)["room"]["rid"]
    post(c, rid, "one")
    post(c, rid, "two")
    assert counters(bc, rid) == (2, 0, 0, True)
    bc.subscriptions_read(rid)
    assert counters(bc, rid) == (0, 0, 0, False)


def test_system_messages_in_history_not_last_message(alice, bob, carol):
    _, c = alice
    b, bc = bob
    k, _ = carol
    rid = c.channels_create(unique("sysm"))["channel"]["_id"]
    said = post(c, rid, "real message")
    bc.channels_join(rid, None)
    c.channels_invite(rid, k.id)
    bc.channels_leave(rid)
    c.channels_kick(rid, k.id)
    hist = list(c.channels_history(rid))
    assert [(m.get("t"), m["msg"]) for m in reversed(hist)] == [
        (None, "real message"),
        ("uj", b.username),
        ("au", k.username),
        ("ul", b.username),
        ("ru", k.username),
    ]
    ch = c.channels_info(room_id=rid)["channel"]
    assert ch["msgs"] == 5
    assert ch["lastMessage"]["_id"] == said["_id"]


# --- history paging / threads / read-only -------------------------------------------------


def test_history_paging(alice):
    _, c = alice
    rid = c.channels_create(unique("paging"))["channel"]["_id"]
    sent = [post(c, rid, f"m{i}") for i in range(1, 13)]
    page = c.call_api_get("channels.history", roomId=rid, count=5, offset=2)["messages"]
    assert texts(page) == ["m10", "m9", "m8", "m7", "m6"]
    latest, oldest = sent[9]["ts"], sent[5]["ts"]
    page = c.call_api_get("channels.history", roomId=rid, latest=latest, oldest=oldest)["messages"]
    assert texts(page) == ["m9", "m8", "m7"]
    page = c.call_api_get(
        "channels.history", roomId=rid, latest=latest, oldest=oldest, inclusive="true"
    )["messages"]
    assert texts(page) == ["m10", "m9", "m8", "m7", "m6"]
    # the client's generator walks all pages
    assert len(list(c.channels_history(rid, count=5))) == 12


def test_thread_replies(alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.channels_create(unique("thr"), members=[b.username])["channel"]["_id"]
    parent = post(c, rid, "parent")
    reply = bc.chat_post_message("a reply", room_id=rid, tmid=parent["_id"])["message"]
    assert reply["tmid"] == parent["_id"]
    got = c.chat_get_message(parent["_id"])["message"]
    assert got["tcount"] == 1
    # The first reply makes both the thread's author and the replier followers (upstream).
    assert sorted(got["replies"]) == sorted([a.id, b.id])
    assert "tlm" in got
    assert texts(c.channels_history(rid)) == ["parent"]
    assert texts(c.channels_history(rid, showThreadMessages="true")) == ["a reply", "parent"]
    ch = c.channels_info(room_id=rid)["channel"]
    assert ch["msgs"] == 2
    assert ch["lastMessage"]["_id"] == parent["_id"]


def test_read_only_room(alice, bob):
    _, c = alice
    b, bc = bob
    rid = c.channels_create(unique("ro"), members=[b.username], readOnly=True)["channel"]["_id"]
    c.chat_post_message("owner speaks", room_id=rid)
    exc = expect_api_error(lambda: bc.chat_post_message("me too", room_id=rid), 400)
    assert exc.response_json == {
        "success": False,
        "error": "You can't send messages because the room is readonly.",
    }


# --- update / delete / getMessage -------------------------------------------------------------


def test_update_own_and_others(alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.channels_create(unique("upd"), members=[b.username])["channel"]["_id"]
    m = post(c, rid, "tyop")
    resp = c.chat_update(rid, m["_id"], "typo")
    assert resp["message"]["msg"] == "typo"
    assert "editedAt" in resp["message"]
    assert resp["message"]["editedBy"] == {"_id": a.id, "username": a.username}
    expect_api_error(
        lambda: bc.chat_update(rid, m["_id"], "hijack"),
        400,
        error="Message editing not allowed [error-action-not-allowed]",
        error_type="error-action-not-allowed",
    )
    expect_api_error(
        lambda: c.chat_update(rid, "no-such-msg", "x"),
        400,
        error='No message found with the id of "no-such-msg".',
    )
    assert c.chat_get_message(m["_id"])["message"]["msg"] == "typo"


def test_delete_own_and_others(alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.channels_create(unique("del"), members=[b.username])["channel"]["_id"]
    m1 = post(c, rid, "keep")
    m2 = post(c, rid, "remove")
    expect_api_error(
        lambda: bc.chat_delete(rid, m1["_id"]),
        400,
        error="Not allowed [error-action-not-allowed]",
    )
    resp = c.chat_delete(rid, m2["_id"])
    assert resp["_id"] == m2["_id"]
    assert isinstance(resp["ts"], str)
    assert resp["message"] == {
        "_id": m2["_id"],
        "rid": rid,
        "u": {"_id": a.id, "username": a.username},
    }
    assert texts(c.channels_history(rid)) == ["keep"]
    exc = expect_api_error(lambda: c.chat_get_message(m2["_id"]), 400)
    assert exc.response_json == {"success": False}


def test_get_message(alice, bob):
    _, c = alice
    _, bc = bob
    rid = c.channels_create(unique("get"))["channel"]["_id"]
    m = post(c, rid, "fetch me")
    got = bc.chat_get_message(m["_id"])["message"]
    assert got["_id"] == m["_id"]
    assert got["msg"] == "fetch me"
    exc = expect_api_error(lambda: c.chat_get_message("no-such-message-id"), 400)
    assert exc.response_json == {"success": False}


# --- react / search -------------------------------------------------------------------


def test_react_toggle_and_should_react(alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.channels_create(unique("react"), members=[b.username])["channel"]["_id"]
    mid = post(c, rid, "react to me")["_id"]

    def reactions():
        return c.chat_get_message(mid)["message"].get("reactions")

    assert c.chat_react(mid) == {"success": True}
    assert reactions() == {":smile:": {"usernames": [a.username]}}
    bc.chat_react(mid, ":smile:")
    assert reactions() == {":smile:": {"usernames": [a.username, b.username]}}
    bc.chat_react(mid, "smile", shouldReact=True)
    assert reactions() == {":smile:": {"usernames": [a.username, b.username]}}
    c.chat_react(mid)
    assert reactions() == {":smile:": {"usernames": [b.username]}}
    c.chat_react(mid, shouldReact=False)
    assert reactions() == {":smile:": {"usernames": [b.username]}}
    bc.chat_react(mid, shouldReact=False)
    assert reactions() in (None, {})
    expect_api_error(
        lambda: c.chat_react("no-such-message-id"),
        400,
        error='The provided "messageId" does not match any existing message. '
        "[error-message-not-found]",
    )


def test_search(alice, bob):
    _, c = alice
    _, bc = bob
    rid = c.channels_create(unique("search"))["channel"]["_id"]
    post(c, rid, "the quick brown fox")
    post(c, rid, "a lazy dog")
    arabic = post(c, rid, "مرحبا بالعالم")
    assert texts(c.chat_search(rid, "fox")) == ["the quick brown fox"]
    assert [m["_id"] for m in c.chat_search(rid, "مرحبا")] == [arabic["_id"]]
    assert list(c.chat_search(rid, "zebra")) == []
    assert texts(bc.chat_search(rid, "dog")) == ["a lazy dog"]
    resp = c.call_api_get("chat.search", roomId=rid, searchText="fox")
    assert set(resp) == {"messages", "success"}
    gid = c.groups_create(unique("sg"))["group"]["_id"]
    post(c, gid, "hidden fox")
    exc = expect_api_error(lambda: bc.chat_search(gid, "fox"), 400)
    assert exc.response_json == {"success": False}
