"""Endpoints added in the compatibility pass, driven by the unchanged rocketchat-api client
(through its generic `call_api_get`, which sends its own auth headers and raises its own
errors): users.getStatus, rooms.isMember, pw.getPolicy, im.list.everyone."""

from conftest import NO_PERMISSION_8X, expect_api_error


def test_users_get_status(server, make_user, admin):
    u = make_user()
    c = server.login(u.username, u.password)
    own = c.call_api_get("users.getStatus")
    assert own["_id"] == u.id and own["status"] == "offline"
    assert "connectionStatus" in own
    other = c.call_api_get("users.getStatus", username="rocket.cat")
    assert other == {"_id": "rocket.cat", "status": other["status"], "success": True}


def test_rooms_is_member(server, make_user):
    a, b, outsider = make_user(), make_user(), make_user()
    ac = server.login(a.username, a.password)
    gid = ac.groups_create(f"ismember-{a.username}", members=[b.username])["group"]["_id"]
    assert ac.call_api_get("rooms.isMember", roomId=gid, username=b.username)["isMember"] is True
    assert ac.call_api_get("rooms.isMember", roomId=gid, userId=outsider.id)["isMember"] is False
    expect_api_error(
        lambda: ac.call_api_get("rooms.isMember", roomId=gid, username="no-such-user-here"),
        400,
        error="error-user-not-found",
    )
    oc = server.login(outsider.username, outsider.password)
    expect_api_error(
        lambda: oc.call_api_get("rooms.isMember", roomId=gid, username=b.username),
        403,
        error="unauthorized",
    )


def test_password_policy_and_every_dm(server, make_user, admin):
    u = make_user()
    c = server.login(u.username, u.password)
    policy = c.call_api_get("pw.getPolicy")
    assert isinstance(policy["enabled"], bool) and isinstance(policy["policy"], list)
    expect_api_error(lambda: c.call_api_get("im.list.everyone"), 403, error=NO_PERMISSION_8X)
    assert isinstance(admin.call_api_get("im.list.everyone")["ims"], list)
