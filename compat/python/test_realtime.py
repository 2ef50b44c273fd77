"""Realtime API (DDP over ``ws://host/websocket``) through the unchanged PyPI
asyncio client ``rocketchat-async`` 4.3.0, with the REST side driven by
rocketchat-api 3.7.1, against upstream Rocket.Chat 8.x behaviour.

Client facts used here (read from its source, rocketchat_async/*.py):

* ``RocketChat(verbose=False)``; ``start(address, username, password)`` opens
  the socket, sends ``connect`` (without waiting for ``connected``) and the
  method ``login`` with ``{"user": {"username": u}, "password": {"digest":
  sha256hex, "algorithm": "sha-256"}}``; an error answer raises
  ``RuntimeError(error["reason"])``; ``user_id`` = ``result["id"]``.
* ``resume(address, username, token)`` (the second argument is a *username*,
  only stored for typing events) logs in with ``{"resume": token}`` and
  reads ``result["id"]`` without checking for an error, so a refused resume
  surfaces as ``KeyError('result')``.
* ``get_channels()`` = method ``rooms/get`` with ``[]`` -> ``[(_id, t)]``;
  ``get_channels_raw()`` returns the room objects.
* ``send_message(text, rid, thread_id=None)`` = ``sendMessage`` with a
  client-generated 12-hex-char ``_id``; it waits for the result but discards
  it (errors are not raised).
* ``send_reaction(mid, emoji)`` = ``setReaction [emoji, mid]``; it does NOT
  wait for the result.
* ``send_typing_event(rid, thread_id=None)`` = method ``stream-notify-room``
  ``["<rid>/user-activity", username, ["user-typing"], {tmid?}]``; waits for
  the result and discards it. The client has no API to *subscribe* to
  ``stream-notify-room``, so receiving typing events is not tested here; the
  result frame is checked through the client's ``verbose`` frame log.
* ``subscribe_to_channel_messages[_raw](rid, cb)`` = ``sub
  stream-room-messages [rid, {"useCollection": false, "args": []}]``;
  ``subscribe_to_channel_changes[_raw](cb)`` = ``sub stream-notify-user
  ["<uid>/rooms-changed", false]``. Subscribing does not wait for
  ``ready``; callbacks are keyed by *collection* (stream) name and called
  synchronously for every ``changed`` frame of that stream. ``unsubscribe``
  sends ``unsub`` without waiting.
* ``run_forever()`` awaits the dispatcher task. There is no ``stop()``: a
  client is shut down by cancelling its connection task
  (``_ws_connection_task``, which leaves ``websockets.connect``'s context and
  closes the socket) and its dispatcher task (``dispatch_task``).

The server handles one connection's frames in order, so a round-trip method
call made after ``sub``/``unsub`` proves the server has applied it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import time
from datetime import datetime
from typing import Any, Callable, Optional

import pytest
from rocketchat_async import RocketChat as AsyncRocketChat

from conftest import CometServer, User, unique

WAIT = 10.0  # seconds, every single wait on the server
TEST_BUDGET = 75.0  # whole async body; below pytest-timeout's 90 s


def ws_url(server: CometServer) -> str:
    return f"ws://127.0.0.1:{server.port}/websocket"


def run(coro) -> Any:
    async def bounded():
        return await asyncio.wait_for(coro, TEST_BUDGET)

    return asyncio.run(bounded())


async def wait(aw, what: str = "server answer") -> Any:
    try:
        return await asyncio.wait_for(aw, WAIT)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out after {WAIT}s waiting for {what}") from None


async def rest(fn: Callable, *args, **kwargs) -> Any:
    """A blocking rocketchat_API call, off the event loop."""
    return await wait(asyncio.to_thread(fn, *args, **kwargs), f"REST {fn.__name__}")


async def shutdown(rc: AsyncRocketChat, *extra: Optional[asyncio.Task]) -> None:
    tasks = [
        t
        for t in (
            *extra,
            getattr(rc, "dispatch_task", None),
            getattr(rc, "_ws_connection_task", None),
        )
        if t is not None
    ]
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=WAIT)
    for t in tasks:
        if t.done() and not t.cancelled():
            t.exception()  # retrieved: no "never retrieved" warning


@contextlib.asynccontextmanager
async def connected(
    server: CometServer,
    user: User,
    *,
    token: Optional[str] = None,
    username: Optional[str] = None,
    verbose: bool = False,
):
    """A logged-in rocketchat-async client (password login, or resume when a
    token is given), watched by ``run_forever`` and shut down afterwards."""
    rc = AsyncRocketChat(verbose=verbose)
    watch: Optional[asyncio.Task] = None
    try:
        if token is None:
            await wait(rc.start(ws_url(server), user.username, user.password), "login")
        else:
            await wait(rc.resume(ws_url(server), username or user.username, token), "resume")
        watch = asyncio.create_task(rc.run_forever())
        yield rc
        await asyncio.sleep(0)
        if watch.done():
            err = None if watch.cancelled() else watch.exception()
            raise AssertionError(f"the DDP session ended during the test: {err!r}")
    finally:
        await shutdown(rc, watch)


class Frames:
    """Collects the frames a ``verbose=True`` client prints
    (``Incoming: {...}`` / ``Outgoing: {...}``)."""

    def __init__(self) -> None:
        self.buf = io.StringIO()
        self._redirect = contextlib.redirect_stdout(self.buf)

    def __enter__(self) -> "Frames":
        self._redirect.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._redirect.__exit__(*exc)

    def incoming(self) -> list:
        out = []
        for line in self.buf.getvalue().splitlines():
            if line.startswith("Incoming: "):
                try:
                    out.append(json.loads(line[len("Incoming: "):]))
                except ValueError:
                    pass
        return out

    def result_for(self, method_id: str) -> Optional[dict]:
        for f in self.incoming():
            if f.get("msg") == "result" and f.get("id") == method_id:
                return f
        return None

    def outgoing_ids(self, method: str) -> list:
        """Ids of the outgoing method calls of that name (printed as dict reprs)."""
        text = self.buf.getvalue()
        return re.findall(
            r"Outgoing: \{'msg': 'method', 'method': '" + re.escape(method) + r"', 'id': '(\d+)'",
            text,
        )


async def next_matching(queue: asyncio.Queue, pred: Callable[[Any], bool], what: str) -> Any:
    """The first queued event satisfying ``pred`` within WAIT seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    seen = []
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {what} within {WAIT}s; other events: {seen!r}")
        try:
            item = await asyncio.wait_for(queue.get(), remaining)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {what} within {WAIT}s; other events: {seen!r}") from None
        if pred(item):
            return item
        seen.append(item)


async def nothing_matching(queue: asyncio.Queue, pred: Callable[[Any], bool], quiet: float = 1.5) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + quiet
    while (remaining := deadline - loop.time()) > 0:
        try:
            item = await asyncio.wait_for(queue.get(), remaining)
        except asyncio.TimeoutError:
            return
        assert not pred(item), f"unexpected event: {item!r}"


async def poll(fn: Callable[[], Any], ok: Callable[[Any], bool], what: str) -> Any:
    """Repeat a REST read until ``ok`` holds (within WAIT seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    last = None
    while loop.time() < deadline:
        last = await rest(fn)
        if ok(last):
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not seen over REST within {WAIT}s; last: {last!r}")


def rest_token(server: CometServer, u: User):
    """A REST login of ``u``: (client, userId, authToken)."""
    c = server.login(u.username, u.password)
    return c, c.headers["X-User-Id"], c.headers["X-Auth-Token"]


def message_queue():
    """A queue and a ``subscribe_to_channel_messages`` callback feeding it."""
    q: asyncio.Queue = asyncio.Queue()

    def cb(channel_id, sender_id, msg_id, thread_id, msg, qualifier, unread, repeated):
        q.put_nowait(
            dict(
                rid=channel_id,
                sender=sender_id,
                mid=msg_id,
                tmid=thread_id,
                msg=msg,
                t=qualifier,
                unread=unread,
                repeated=repeated,
            )
        )

    return q, cb


@pytest.fixture
def alice(server, make_user):
    u = make_user()
    return u, server.login(u.username, u.password)


@pytest.fixture
def bob(server, make_user):
    u = make_user()
    return u, server.login(u.username, u.password)


def shared_channel(owner_client, member: User) -> str:
    """A public channel created by ``owner_client`` with ``member`` invited."""
    rid = owner_client.channels_create(unique("rt"))["channel"]["_id"]
    owner_client.channels_invite(rid, member.id)
    return rid


# --- login -----------------------------------------------------------------------


def test_password_login_with_sha256_digest(server, alice):
    a, _ = alice

    async def body():
        async with connected(server, a) as rc:
            assert rc.user_id == a.id
            assert rc.username == a.username
            # The session is authenticated: a login-only method answers.
            assert isinstance(await wait(rc.get_channels()), list)

    run(body())


def test_password_login_rejects_wrong_password_and_unknown_user(server, alice):
    a, _ = alice

    async def attempt(username, password):
        rc = AsyncRocketChat()
        try:
            with pytest.raises(RuntimeError) as info:
                await wait(rc.start(ws_url(server), username, password), "login error")
            assert isinstance(str(info.value), str) and str(info.value), info.value
            assert rc.user_id is None
        finally:
            await shutdown(rc)

    async def body():
        await attempt(a.username, a.password + "x")
        await attempt(unique("nobody"), a.password)

    run(body())


def test_resume_with_rest_login_token(server, alice):
    a, _ = alice
    _, uid, token = rest_token(server, a)
    assert uid == a.id

    async def body():
        async with connected(server, a, token=token) as rc:
            assert rc.user_id == a.id
            assert isinstance(await wait(rc.get_channels()), list)

    run(body())


def test_resume_with_logged_out_token_is_refused(server, alice):
    a, _ = alice
    c, _, token = rest_token(server, a)
    c.logout()

    async def body():
        rc = AsyncRocketChat(verbose=True)
        try:
            with Frames() as frames:
                # The client reads result["id"] without checking for an error.
                with pytest.raises(KeyError):
                    await wait(rc.resume(ws_url(server), a.username, token), "resume error")
            assert rc.user_id is None
            errors = [
                f["error"]
                for f in frames.incoming()
                if f.get("msg") == "result" and "error" in f
            ]
            assert len(errors) == 1, frames.incoming()
            # Meteor's resume handler: Meteor.Error(403, "You've been logged out by
            # the server. Please log in again.")
            assert errors[0].get("error") == 403, errors[0]
        finally:
            await shutdown(rc)

    run(body())


# --- rooms/get -------------------------------------------------------------------


def test_rooms_get_lists_the_users_rooms(server, alice, bob):
    a, ac = alice
    b, bc = bob
    cid = ac.channels_create(unique("rt-c"))["channel"]["_id"]
    gid = ac.groups_create(unique("rt-p"))["group"]["_id"]
    did = ac.dm_create(b.username)["room"]["_id"]
    foreign = bc.channels_create(unique("rt-other"))["channel"]["_id"]

    async def body():
        async with connected(server, a) as rc:
            pairs = await wait(rc.get_channels(), "rooms/get")
            assert (cid, "c") in pairs, pairs
            assert (gid, "p") in pairs, pairs
            assert (did, "d") in pairs, pairs
            assert all(rid != foreign for rid, _ in pairs), pairs
            raw = {r["_id"]: r for r in await wait(rc.get_channels_raw(), "rooms/get")}
            assert raw[cid]["t"] == "c"
            assert raw[cid]["name"] == ac.channels_info(room_id=cid)["channel"]["name"]
            assert raw[gid]["t"] == "p"
            assert set(raw[did]["usernames"]) == {a.username, b.username}

    run(body())


# --- stream-room-messages ------------------------------------------------------------


def test_subscriber_receives_message_posted_over_rest(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)

    async def body():
        async with connected(server, a) as rc:
            q, cb = message_queue()
            sub_id = await wait(rc.subscribe_to_channel_messages(rid, cb))
            assert isinstance(sub_id, str) and sub_id
            await wait(rc.get_channels())  # round trip: the sub is in place
            text = f"over rest {unique()}"
            sent = (await rest(bc.chat_post_message, text, room_id=rid))["message"]
            ev = await next_matching(q, lambda e: e["mid"] == sent["_id"], "pushed message")
            assert ev["rid"] == rid
            assert ev["sender"] == b.id
            assert ev["msg"] == text
            assert ev["tmid"] is None
            assert ev["t"] is None
            assert ev["repeated"] is False

    run(body())


def test_subscriber_receives_raw_message_object(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)

    async def body():
        async with connected(server, a) as rc:
            q: asyncio.Queue = asyncio.Queue()
            await wait(rc.subscribe_to_channel_messages_raw(rid, q.put_nowait))
            await wait(rc.get_channels())
            text = f"raw {unique()}"
            sent = (await rest(bc.chat_post_message, text, room_id=rid))["message"]
            m = await next_matching(q, lambda e: e.get("_id") == sent["_id"], "raw message")
            assert m["rid"] == rid
            assert m["msg"] == text
            assert m["u"]["_id"] == b.id
            assert m["u"]["username"] == b.username
            # DDP carries EJSON dates.
            assert isinstance(m["ts"], dict) and isinstance(m["ts"].get("$date"), int), m["ts"]
            assert isinstance(m["_updatedAt"], dict) and "$date" in m["_updatedAt"], m
            rest_ts = datetime.fromisoformat(sent["ts"].replace("Z", "+00:00"))
            assert m["ts"]["$date"] == round(rest_ts.timestamp() * 1000), (m["ts"], sent["ts"])

    run(body())


def test_subscriber_receives_thread_reply_and_edit(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)
    parent = bc.chat_post_message("thread parent", room_id=rid)["message"]["_id"]

    async def body():
        async with connected(server, a) as rc:
            q, cb = message_queue()
            await wait(rc.subscribe_to_channel_messages(rid, cb))
            await wait(rc.get_channels())
            reply = (await rest(bc.chat_post_message, "in thread", room_id=rid, tmid=parent))[
                "message"
            ]
            ev = await next_matching(q, lambda e: e["mid"] == reply["_id"], "thread reply")
            assert ev["tmid"] == parent
            assert ev["msg"] == "in thread"
            await rest(bc.chat_update, rid, reply["_id"], "in thread (edited)")
            ev = await next_matching(
                q,
                lambda e: e["mid"] == reply["_id"] and e["msg"] == "in thread (edited)",
                "edited message",
            )
            assert ev["sender"] == b.id

    run(body())


def test_unsubscribe_stops_delivery(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)

    async def body():
        async with connected(server, a) as rc:
            q, cb = message_queue()
            sub_id = await wait(rc.subscribe_to_channel_messages(rid, cb))
            await wait(rc.get_channels())
            first = (await rest(bc.chat_post_message, "before unsub", room_id=rid))["message"]
            await next_matching(q, lambda e: e["mid"] == first["_id"], "message before unsub")
            await wait(rc.unsubscribe(sub_id))
            await wait(rc.get_channels())  # round trip: the unsub is applied
            second = (await rest(bc.chat_post_message, "after unsub", room_id=rid))["message"]
            # The client keeps its callback; only the server can stop the events.
            await nothing_matching(q, lambda e: e["mid"] == second["_id"])

    run(body())


def test_no_messages_from_a_private_group_the_user_is_not_in(server, alice, bob):
    a, _ = alice
    b, bc = bob
    gid = bc.groups_create(unique("rt-secret"))["group"]["_id"]

    async def body():
        async with connected(server, a) as rc:
            q, cb = message_queue()
            await wait(rc.subscribe_to_channel_messages(gid, cb))
            await wait(rc.get_channels())
            secret = (await rest(bc.chat_post_message, "secret", room_id=gid))["message"]
            await nothing_matching(q, lambda e: e["mid"] == secret["_id"] or e["rid"] == gid)

    run(body())


# --- sendMessage -----------------------------------------------------------------


def test_send_message_is_visible_over_rest_and_to_other_clients(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)

    async def body():
        async with connected(server, a) as arc, connected(server, b) as brc:
            q, cb = message_queue()
            await wait(brc.subscribe_to_channel_messages(rid, cb))
            await wait(brc.get_channels())
            text = f"from ddp {unique()}"
            await wait(arc.send_message(text, rid), "sendMessage")
            hist = await rest(lambda: list(bc.channels_history(rid)))
            mine = [m for m in hist if m.get("msg") == text]
            assert len(mine) == 1, hist
            m = mine[0]
            assert m["rid"] == rid
            assert m["u"]["_id"] == a.id
            assert m["u"]["username"] == a.username
            # Upstream keeps the client-chosen _id (12 hex chars from this client).
            assert re.fullmatch(r"[0-9a-f]{12}", m["_id"]), m["_id"]
            ev = await next_matching(q, lambda e: e["mid"] == m["_id"], "message from the other client")
            assert ev["sender"] == a.id
            assert ev["msg"] == text

    run(body())


def test_send_message_in_thread(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)
    parent = bc.chat_post_message("parent", room_id=rid)["message"]["_id"]

    async def body():
        async with connected(server, a) as arc, connected(server, b) as brc:
            q, cb = message_queue()
            await wait(brc.subscribe_to_channel_messages(rid, cb))
            await wait(brc.get_channels())
            await wait(arc.send_message("reply over ddp", rid, thread_id=parent), "sendMessage")
            ev = await next_matching(
                q, lambda e: e["msg"] == "reply over ddp", "thread reply from the other client"
            )
            assert ev["tmid"] == parent
            assert ev["sender"] == a.id
            got = (await rest(bc.chat_get_message, ev["mid"]))["message"]
            assert got["tmid"] == parent
            assert got["rid"] == rid

    run(body())


# --- setReaction -----------------------------------------------------------------


def test_send_reaction_is_visible_over_rest_and_toggles(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)
    mid = bc.chat_post_message("react to me", room_id=rid)["message"]["_id"]

    def reactions():
        return bc.chat_get_message(mid)["message"].get("reactions")

    async def body():
        async with connected(server, a) as rc:
            await wait(rc.send_reaction(mid, ":grin:"), "setReaction")
            got = await poll(reactions, lambda r: bool(r) and ":grin:" in r, "reaction :grin:")
            assert got[":grin:"]["usernames"] == [a.username], got
            assert list(got) == [":grin:"], got
            # setReaction without shouldReact toggles: the same call removes it.
            await wait(rc.send_reaction(mid, ":grin:"), "setReaction")
            await poll(reactions, lambda r: not r, "removed reaction")

    run(body())


def test_reaction_pushes_updated_message_to_subscribers(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)
    mid = bc.chat_post_message("watch my reactions", room_id=rid)["message"]["_id"]

    async def body():
        async with connected(server, a) as arc, connected(server, b) as brc:
            q, cb = message_queue()
            await wait(brc.subscribe_to_channel_messages(rid, cb))
            await wait(brc.get_channels())
            await wait(arc.send_reaction(mid, ":joy:"), "setReaction")
            # Upstream setReaction -> notifyOnMessageChange -> stream-room-messages
            # re-emits the message, now carrying `reactions` (repeated=True here).
            ev = await next_matching(
                q, lambda e: e["mid"] == mid and e["repeated"], "message update with the reaction"
            )
            assert ev["msg"] == "watch my reactions"

    run(body())


# --- stream-notify-room user-activity --------------------------------------------


def test_send_typing_event_succeeds(server, alice, bob):
    """The client cannot subscribe to ``stream-notify-room``, so only the
    method's result is checked (via the client's verbose frame log)."""
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)
    parent = bc.chat_post_message("parent", room_id=rid)["message"]["_id"]

    async def body():
        async with connected(server, a, verbose=True) as rc:
            with Frames() as frames:
                await wait(rc.send_typing_event(rid), "stream-notify-room")
                await wait(rc.send_typing_event(rid, thread_id=parent), "stream-notify-room")
            ids = frames.outgoing_ids("stream-notify-room")
            assert len(ids) == 2, frames.buf.getvalue()
            for mid in ids:
                res = frames.result_for(mid)
                assert res is not None, frames.buf.getvalue()
                assert "error" not in res, res

    run(body())


# --- stream-notify-user rooms-changed --------------------------------------------


def test_subscribe_to_channel_changes(server, alice, bob):
    """Upstream (notifications.module.ts, ``_afterPublish`` of
    ``<uid>/rooms-changed``) makes the session listen to every room the user
    is subscribed to, and to rooms the user is added to later (on the
    subscription's ``inserted``), emitting ``[clientAction, IRoom]`` whenever
    such a room changes, e.g. when a new message updates ``lastMessage``.
    (The ``inserted`` room event itself races the subscription upstream, so
    for a room joined later only its next change is required.)"""
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)

    async def body():
        async with connected(server, a) as rc:
            q: asyncio.Queue = asyncio.Queue()
            await wait(rc.subscribe_to_channel_changes(lambda cid, t: q.put_nowait((cid, t))))
            await wait(rc.get_channels())
            await rest(bc.chat_post_message, "changes the room", room_id=rid)
            await next_matching(q, lambda e: e == (rid, "c"), "rooms-changed for the room")
            # A room the user is invited to after subscribing.
            later = (await rest(bc.channels_create, unique("rt-later")))["channel"]["_id"]
            await rest(bc.channels_invite, later, a.id)
            await rest(bc.chat_post_message, "changes the later room", room_id=later)
            await next_matching(q, lambda e: e == (later, "c"), "rooms-changed for the later room")

    run(body())


def test_channel_changes_for_room_created_with_user_as_member(server, alice, bob):
    a, ac = alice
    b, bc = bob

    async def body():
        async with connected(server, a) as rc:
            q: asyncio.Queue = asyncio.Queue()
            await wait(rc.subscribe_to_channel_changes(lambda cid, t: q.put_nowait((cid, t))))
            await wait(rc.get_channels())
            new = (await rest(bc.channels_create, unique("rt-new"), members=[a.username]))[
                "channel"
            ]["_id"]
            assert (new, "c") in await wait(rc.get_channels())  # alice is a member
            await rest(bc.chat_post_message, "changes the new room", room_id=new)
            await next_matching(q, lambda e: e == (new, "c"), "rooms-changed for the new room")

    run(body())


def test_channel_changes_raw_payload(server, alice, bob):
    a, ac = alice
    b, bc = bob
    rid = shared_channel(ac, b)

    async def body():
        async with connected(server, a) as rc:
            q: asyncio.Queue = asyncio.Queue()
            await wait(rc.subscribe_to_channel_changes_raw(q.put_nowait))
            await wait(rc.get_channels())
            sent = (await rest(bc.chat_post_message, "last one", room_id=rid))["message"]
            action, room = await next_matching(
                q,
                lambda e: e[1].get("_id") == rid
                and (e[1].get("lastMessage") or {}).get("_id") == sent["_id"],
                "rooms-changed carrying the new lastMessage",
            )
            assert action == "updated"
            assert room["t"] == "c"
            assert room["lastMessage"]["msg"] == "last one"

    run(body())
