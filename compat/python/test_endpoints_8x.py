"""Endpoints added in the compatibility pass, driven by the unchanged rocketchat-api client
(through its generic `call_api_get`, which sends its own auth headers and raises its own
errors, or through its own methods where it has one): users.getStatus, rooms.isMember,
pw.getPolicy, im.list.everyone, users.updateOwnBasicInfo, users.info by email,
chat.syncMessages cursors, dm.messages.others, roles.delete, users.listByStatus,
rooms.membersOrderedByRole, channels/groups.getIntegrations, presence.getConnections,
instances.get."""

from conftest import NO_PERMISSION_8X, expect_api_error, sha256_hex


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


def test_update_own_basic_info_and_info_by_email(server, make_user):
    u = make_user()
    c = server.login(u.username, u.password)
    new_name = f"{u.name} II"
    own = c.call_api_post("users.updateOwnBasicInfo", data={"name": new_name})
    assert own["user"]["name"] == new_name and own["user"]["_id"] == u.id
    # The email needs the current password (SHA-256), as upstream's password second factor.
    expect_api_error(
        lambda: c.call_api_post("users.updateOwnBasicInfo", data={"email": f"x{u.email}"}),
        400,
        error_type="totp-required",
    )
    moved = c.call_api_post(
        "users.updateOwnBasicInfo",
        data={"email": f"x{u.email}", "currentPassword": sha256_hex(u.password)},
    )
    assert moved["user"]["emails"][0] == {"address": f"x{u.email}", "verified": False}
    found = c.users_info(email=f"X{u.email}")
    assert found["user"]["_id"] == u.id


def test_sync_messages_cursor_and_other_dms(server, make_user, admin):
    a, b = make_user(), make_user()
    ac = server.login(a.username, a.password)
    rid = ac.dm_create(b.username)["room"]["_id"]
    for text in ("one", "two", "three"):
        ac.chat_post_message(text, room_id=rid)
    first = ac.call_api_get("chat.syncMessages", roomId=rid, type="UPDATED", next="0", count=2)
    assert len(first["result"]["updated"]) == 2 and first["result"]["cursor"]["next"]
    rest = ac.call_api_get(
        "chat.syncMessages", roomId=rid, type="UPDATED", next=first["result"]["cursor"]["next"], count=2
    )
    assert len(rest["result"]["updated"]) == 1 and rest["result"]["cursor"]["next"] is None
    expect_api_error(
        lambda: ac.call_api_get(
            "chat.syncMessages", roomId=rid, type="UPDATED", next="0", lastUpdate="2020-01-01T00:00:00Z"
        ),
        400,
        error_type="error-cursor-and-lastUpdate-conflict",
    )
    # The lastUpdate mode through the client's own method still works.
    assert isinstance(ac.chat_sync_messages(rid, "2020-01-01T00:00:00.000Z")["result"]["updated"], list)

    expect_api_error(lambda: list(ac.dm_messages_others(rid)), 403, error=NO_PERMISSION_8X)
    expect_api_error(
        lambda: list(admin.dm_messages_others(rid)), 400, error_type="error-endpoint-disabled"
    )
    admin.settings_update("API_Enable_Direct_Message_History_EndPoint", True)
    try:
        # The client pages through the listing itself, yielding each message.
        others = list(admin.dm_messages_others(rid))
        assert [m["msg"] for m in others] == ["three", "two", "one"]
    finally:
        admin.settings_update("API_Enable_Direct_Message_History_EndPoint", False)


def test_roles_delete(server, make_user, admin):
    u = make_user()
    role = admin.roles_create(f"compat-role-{u.username}")["role"]
    admin.roles_add_user_to_role(role["_id"], u.username)
    expect_api_error(lambda: admin.roles_delete(role["_id"]), 400, error_type="error-role-in-use")
    expect_api_error(lambda: admin.roles_delete("admin"), 400, error_type="error-role-protected")
    c = server.login(u.username, u.password)
    expect_api_error(lambda: c.roles_delete(role["_id"]), 403, error=NO_PERMISSION_8X)
    admin.call_api_post("roles.removeUserFromRole", roleId=role["_id"], username=u.username)
    assert admin.roles_delete(role["_id"])["success"] is True
    assert role["_id"] not in [r["_id"] for r in admin.roles_list()["roles"]]


def test_users_list_by_status(server, make_user, admin):
    active, gone = make_user(), make_user()
    server.login(active.username, active.password)
    admin.users_set_active_status(gone.id, active_status=False)
    listed = admin.call_api_get("users.listByStatus", status="active", searchTerm=active.username)
    assert [u["username"] for u in listed["users"]] == [active.username]
    assert listed["total"] == 1 and listed["count"] == 1 and listed["offset"] == 0
    assert listed["users"][0]["active"] is True and "lastLogin" in listed["users"][0]
    off = admin.call_api_get("users.listByStatus", status="deactivated", searchTerm=gone.username)
    assert [u["username"] for u in off["users"]] == [gone.username]
    admins = admin.call_api_get("users.listByStatus", roles=["admin"], count=1)
    assert admins["count"] == 1 and "admin" in admins["users"][0]["roles"]
    expect_api_error(
        lambda: admin.call_api_get("users.listByStatus", status="pending"),
        400,
        error_type="invalid-params",
    )


def test_rooms_members_ordered_by_role(server, make_user):
    owner, member = make_user(), make_user()
    oc = server.login(owner.username, owner.password)
    mc = server.login(member.username, member.password)
    rid = oc.channels_create(f"byrole-{owner.username}", members=[member.username])["channel"]["_id"]
    listed = mc.call_api_get("rooms.membersOrderedByRole", roomId=rid)
    assert [m["username"] for m in listed["members"]] == [owner.username, member.username]
    assert listed["members"][0]["roles"] == ["owner"]
    assert listed["total"] == 2
    dm = mc.dm_create(owner.username)["room"]["_id"]
    expect_api_error(
        lambda: mc.call_api_get("rooms.membersOrderedByRole", roomId=dm),
        400,
        error="error-room-type-not-supported",
    )


def test_get_integrations(server, make_user, admin):
    u = make_user()
    uc = server.login(u.username, u.password)
    rid = admin.channels_create(f"hooks-{u.username}")["channel"]["_id"]
    gid = admin.groups_create(f"ghooks-{u.username}")["group"]["_id"]
    # The client's own methods page through `integrations` by offset, count and total.
    assert list(admin.channels_get_integrations(rid)) == []
    assert list(admin.groups_get_integrations(gid)) == []
    raw = admin.call_api_get("channels.getIntegrations", roomId=rid)
    assert (raw["count"], raw["offset"], raw["total"]) == (0, 0, 0)
    expect_api_error(lambda: list(uc.channels_get_integrations(rid)), 403, error=NO_PERMISSION_8X)
    expect_api_error(lambda: list(uc.groups_get_integrations(gid)), 403, error=NO_PERMISSION_8X)


def test_presence_connections_and_instances(server, make_user, admin):
    counted = admin.call_api_get("presence.getConnections")
    assert isinstance(counted["current"], int) and counted["max"] == 200
    instances = admin.call_api_get("instances.get")["instances"]
    assert len(instances) == 1
    assert instances[0]["currentStatus"]["local"] is True
    assert "_id" in instances[0]["instanceRecord"] and "pid" in instances[0]["instanceRecord"]
    u = make_user()
    uc = server.login(u.username, u.password)
    expect_api_error(lambda: uc.call_api_get("presence.getConnections"), 403, error=NO_PERMISSION_8X)
    expect_api_error(lambda: uc.call_api_get("instances.get"), 403, error=NO_PERMISSION_8X)
