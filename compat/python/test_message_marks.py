"""Pins, stars, mentions, threads, sync, deleted messages, discussions,
ignoring users, favourites, unread marks and rooms.cleanHistory through
rocketchat-api 3.7.1, against upstream Rocket.Chat 8.x.

Client facts used here (read from its source):

* ``chat_get_pinned_messages``, ``chat_get_starred_messages``,
  ``chat_get_mentioned_messages``, ``chat_get_thread_messages``,
  ``chat_get_deleted_messages``, ``chat_get_discussions`` are
  ``@paginated("messages")``, ``chat_get_threads_list`` is
  ``@paginated("threads")`` and ``channels_get_all_user_mentions_by_channel``
  is ``@paginated("mentions")``: generators over the items (first page fetched
  eagerly); ``.__wrapped__`` is the single-page method;
* GET helpers put ``str(value)`` into the query string unencoded, so booleans
  are passed as the strings ``"true"``/``"false"`` (``chat_ignore_user``'s
  default ``ignore=True`` would send ``True``, which upstream's ``/true|1/``
  test reads as false);
* ``rooms_clean_history(room_id, latest, oldest, **kwargs)``,
  ``rooms_favorite(room_id=None, room_name=None, favorite=True)``,
  ``subscriptions_unread(room_id)``, ``chat_follow_message(mid)``;
* the client has no ``rooms.getDiscussions`` helper: ``call_api_get`` reaches it.
"""

import time

import pytest
from rocketchat_API.rocketchat import RocketChat

from conftest import expect_api_error, unique

MESSAGE_NOT_FOUND = (
    'The provided "messageId" does not match any existing message. [error-message-not-found]'
)

thread_messages_page = RocketChat.chat_get_thread_messages.__wrapped__
deleted_messages_page = RocketChat.chat_get_deleted_messages.__wrapped__
mentions_page = RocketChat.channels_get_all_user_mentions_by_channel.__wrapped__


def client(server, u):
    return server.login(u.username, u.password)


def post(c, rid, text, **kwargs):
    time.sleep(0.005)  # distinct timestamps keep orderings deterministic
    return c.chat_post_message(text, room_id=rid, **kwargs)["message"]


def sub_of(c, rid):
    return c.subscriptions_get_one(rid)["subscription"]


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


# --- pins / stars / mentions ---------------------------------------------------


def test_pin_and_unpin(alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.channels_create(unique("pins"), members=[b.username])["channel"]["_id"]
    mid = post(bc, rid, "pin me")["_id"]
    notice = c.chat_pin_message(mid)["message"]
    assert notice["t"] == "message_pinned"
    assert notice["u"]["_id"] == a.id
    assert notice["attachments"][0]["text"] == "pin me"
    assert notice["attachments"][0]["author_name"] == b.username
    msg = c.chat_get_message(mid)["message"]
    assert msg["pinned"] is True
    assert msg["pinnedBy"] == {"_id": a.id, "username": a.username}
    assert [m["_id"] for m in bc.chat_get_pinned_messages(rid)] == [mid]
    # A plain member has no pin-message.
    exc = expect_api_error(lambda: bc.chat_pin_message(mid), 400)
    assert exc.error_type == "not-authorized", exc.response_json
    assert c.chat_unpin_message(mid) == {"success": True}
    assert list(bc.chat_get_pinned_messages(rid)) == []
    expect_api_error(lambda: c.chat_pin_message("no-such-message"), 400, error=MESSAGE_NOT_FOUND)


def test_star_and_unstar(alice, bob, carol):
    _, c = alice
    b, bc = bob
    _, kc = carol
    rid = c.channels_create(unique("stars"), members=[b.username])["channel"]["_id"]
    mid = post(c, rid, "star me")["_id"]
    post(c, rid, "not me")
    assert bc.chat_star_message(mid) == {"success": True}
    assert bc.chat_get_message(mid)["message"]["starred"] == [{"_id": b.id}]
    assert [m["_id"] for m in bc.chat_get_starred_messages(rid)] == [mid]
    assert list(c.chat_get_starred_messages(rid)) == []
    expect_api_error(lambda: kc.chat_star_message(mid), 400)
    assert bc.chat_unstar_message(mid) == {"success": True}
    assert list(bc.chat_get_starred_messages(rid)) == []


def test_mentions(alice, bob):
    _, c = alice
    b, bc = bob
    rid = c.channels_create(unique("mentions"), members=[b.username])["channel"]["_id"]
    first = post(c, rid, f"hey @{b.username}")["_id"]
    post(c, rid, "nobody")
    second = post(c, rid, f"@{b.username} again")["_id"]
    assert [m["_id"] for m in bc.chat_get_mentioned_messages(rid)] == [second, first]
    assert list(c.chat_get_mentioned_messages(rid)) == []
    assert [m["_id"] for m in bc.channels_get_all_user_mentions_by_channel(rid)] == [
        second,
        first,
    ]
    resp = mentions_page(bc, rid, offset=1, count=1)
    assert [m["_id"] for m in resp["mentions"]] == [first]
    assert (resp["count"], resp["offset"], resp["total"]) == (1, 1, 2)


# --- threads ------------------------------------------------------------------


def test_threads(alice, bob, carol):
    a, c = alice
    b, bc = bob
    k, kc = carol
    rid = c.channels_create(unique("threads"), members=[b.username, k.username])["channel"]["_id"]
    pid = post(c, rid, "a thread about cats")["_id"]
    oid = post(c, rid, "a thread about dogs")["_id"]
    r1 = post(bc, rid, "reply one", tmid=pid)
    assert r1["tmid"] == pid
    post(c, rid, "dog reply", tmid=oid)
    post(c, rid, "reply two", tmid=pid)

    assert [m["msg"] for m in kc.chat_get_thread_messages(pid)] == ["reply one", "reply two"]
    page = thread_messages_page(kc, pid, offset=1, count=1)
    assert [m["msg"] for m in page["messages"]] == ["reply two"]
    assert (page["count"], page["offset"], page["total"]) == (1, 1, 2)

    threads = list(kc.chat_get_threads_list(rid))
    assert [t["_id"] for t in threads] == [pid, oid]
    assert threads[0]["tcount"] == 2
    assert [t["_id"] for t in kc.chat_get_threads_list(rid, text="CATS")] == [pid]
    assert list(kc.chat_get_threads_list(rid, type="following")) == []
    assert [t["_id"] for t in bc.chat_get_threads_list(rid, type="following")] == [pid]

    assert kc.chat_follow_message(pid) == {"success": True}
    assert k.id in c.chat_get_message(pid)["message"]["replies"]
    assert [t["_id"] for t in kc.chat_get_threads_list(rid, type="following")] == [pid]
    assert bc.chat_unfollow_message(pid) == {"success": True}
    assert sorted(c.chat_get_message(pid)["message"]["replies"]) == sorted([a.id, k.id])

    expect_api_error(
        lambda: list(c.chat_get_thread_messages("no-such-message")),
        400,
        error="Invalid Message [error-invalid-message]",
    )


def test_thread_of_a_private_group_is_hidden(alice, carol):
    _, c = alice
    _, kc = carol
    gid = c.groups_create(unique("gthreads"))["group"]["_id"]
    pid = post(c, gid, "secret thread")["_id"]
    post(c, gid, "secret reply", tmid=pid)
    expect_api_error(
        lambda: list(kc.chat_get_thread_messages(pid)), 400, error="Not Allowed [error-not-allowed]"
    )
    expect_api_error(
        lambda: list(kc.chat_get_threads_list(gid)), 400, error="Not Allowed [error-not-allowed]"
    )


# --- sync / deleted -------------------------------------------------------------


def test_sync_messages_and_deleted_messages(alice, carol):
    _, c = alice
    _, kc = carol
    rid = c.channels_create(unique("sync"))["channel"]["_id"]
    cutoff = post(c, rid, "before")
    kept = post(c, rid, "kept")["_id"]
    gone = post(c, rid, "gone")["_id"]
    time.sleep(0.005)
    c.chat_delete(rid, gone)

    result = c.chat_sync_messages(rid, cutoff["ts"])["result"]
    updated = [m["_id"] for m in result["updated"]]
    assert kept in updated
    assert cutoff["_id"] not in updated
    assert gone not in updated
    assert [d["_id"] for d in result["deleted"]] == [gone]
    assert isinstance(result["deleted"][0]["_deletedAt"], str)

    deleted = list(c.chat_get_deleted_messages(rid, cutoff["ts"]))
    assert deleted == [{"_id": gone}]
    page = deleted_messages_page(c, rid, cutoff["ts"], offset=0, count=10)
    assert (page["count"], page["offset"], page["total"]) == (1, 0, 1)

    expect_api_error(
        lambda: c.chat_sync_messages(rid, "not a date"),
        400,
        error='The "lastUpdate" query parameter must be a valid date [error-lastUpdate-param-invalid]',
    )
    gid = c.groups_create(unique("gsync"))["group"]["_id"]
    exc = expect_api_error(lambda: kc.chat_sync_messages(gid, cutoff["ts"]), 400)
    # Upstream's getMessageHistory refuses a room the caller cannot read with a Meteor error.
    assert exc.response_json == {
        "success": False,
        "error": "Not allowed [error-not-allowed]",
        "errorType": "error-not-allowed",
        "details": {"method": "messages/get"},
    }


# --- discussions ------------------------------------------------------------------


def test_create_and_list_discussions(alice, bob):
    a, c = alice
    b, bc = bob
    rid = c.channels_create(unique("parent"), members=[b.username])["channel"]["_id"]
    source = post(bc, rid, "let's discuss")["_id"]
    d = c.rooms_create_discussion(
        rid, "Side Talk", pmid=source, reply="first words", users=[b.username]
    )["discussion"]
    drid = d["_id"]
    assert d["prid"] == rid
    assert d["fname"] == "Side Talk"
    assert d["t"] == "c"
    notice = next(m for m in c.channels_history(rid) if m.get("t") == "discussion-created")
    assert notice["drid"] == drid
    assert notice["msg"] == "Side Talk"
    # The discussion quotes the source message (which itself is not marked upstream).
    quotes = [m["attachments"][0]["text"] for m in c.channels_history(drid) if m.get("attachments")]
    assert "let's discuss" in quotes
    assert sub_of(bc, drid)["rid"] == drid
    assert "first words" in [m["msg"] for m in c.channels_history(drid)]
    listed = bc.call_api_get("rooms.getDiscussions", roomId=rid)
    assert [x["_id"] for x in listed["discussions"]] == [drid]
    assert listed["total"] == 1
    assert [m["drid"] for m in bc.chat_get_discussions(rid)] == [drid]
    expect_api_error(
        lambda: c.call_api_post("rooms.createDiscussion", t_name="x"),
        400,
        error='Body parameter "prid" is required.',
    )
    expect_api_error(
        lambda: c.call_api_post("rooms.createDiscussion", prid=rid),
        400,
        error='Body parameter "t_name" is required.',
    )


# --- ignore / receipts / favorite / unread ----------------------------------------


def test_ignore_user(alice, bob, carol):
    a, c = alice
    b, bc = bob
    _, kc = carol
    rid = c.channels_create(unique("quiet"), members=[b.username])["channel"]["_id"]
    assert bc.chat_ignore_user(rid, a.id, ignore="true") == {"success": True}
    assert sub_of(bc, rid)["ignored"] == [a.id]
    assert bc.chat_ignore_user(rid, a.id, ignore="false") == {"success": True}
    assert sub_of(bc, rid).get("ignored", []) == []
    exc = expect_api_error(lambda: kc.chat_ignore_user(rid, a.id, ignore="true"), 400)
    assert exc.error_type == "error-invalid-subscription"


def test_message_read_receipts(alice):
    _, c = alice
    rid = c.channels_create(unique("receipts"))["channel"]["_id"]
    mid = post(c, rid, "read me")["_id"]
    assert isinstance(c.chat_get_message_read_receipts(mid)["receipts"], list)


def test_favorite(alice, bob):
    _, c = alice
    _, bc = bob
    name = unique("faves")
    rid = c.channels_create(name)["channel"]["_id"]
    assert c.rooms_favorite(room_id=rid, favorite=True) == {"success": True}
    assert sub_of(c, rid)["f"] is True
    assert c.rooms_favorite(room_name=name, favorite=False) == {"success": True}
    assert sub_of(c, rid).get("f", False) is False
    exc = expect_api_error(lambda: bc.rooms_favorite(room_id=rid, favorite=True), 400)
    assert exc.error_type == "error-invalid-subscription"


def test_subscriptions_unread(alice, bob):
    _, c = alice
    b, bc = bob
    rid = c.channels_create(unique("unread"), members=[b.username])["channel"]["_id"]
    post(c, rid, "one")
    post(c, rid, "two")
    bc.subscriptions_read(rid)
    assert sub_of(bc, rid)["alert"] is False
    assert bc.subscriptions_unread(rid) == {"success": True}
    assert sub_of(bc, rid)["alert"] is True


# --- cleanHistory -------------------------------------------------------------------


def test_clean_history(admin, alice):
    _, c = alice
    rid = c.channels_create(unique("janitor"), members=["admin"])["channel"]["_id"]
    m1 = post(c, rid, "one")
    m2 = post(c, rid, "two")
    post(c, rid, "three")
    expect_api_error(
        lambda: c.rooms_clean_history(rid, m2["ts"], m1["ts"], inclusive=True),
        400,
        error="Not allowed [error-not-allowed]",
    )
    resp = admin.rooms_clean_history(rid, m2["ts"], m1["ts"], inclusive=True)
    assert resp == {"_id": rid, "count": 2, "success": True}
    left = [m["msg"] for m in c.channels_history(rid) if "t" not in m]
    assert left == ["three"]
