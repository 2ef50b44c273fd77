"""teams.* through rocketchat-api 3.7.1, against upstream Rocket.Chat 8.x behaviour.

Client facts used here (read from its source):

* ``teams_list_all``, ``teams_members``, ``teams_list_rooms`` and
  ``teams_list_rooms_of_user`` are ``@paginated`` generators over the items;
* ``teams_members`` always sends ``name=""`` and ``username=""``, and
  ``teams_list_rooms`` always sends ``type=""`` and ``filter=""``: empty filters
  upstream ignores;
* ``teams_create(name, team_type, **kwargs)`` posts ``type``; extra keyword
  arguments (``members``, ``sidepanel``) go into the body as they are;
* the client has no ``teams.leave``, ``teams.update`` or ``teams.listChildren``
  helper; those are reached through ``call_api_post`` / ``call_api_get``.
"""

import pytest

from conftest import FORBIDDEN_8X, NO_PERMISSION_8X, expect_api_error, unique


def client(server, u):
    return server.login(u.username, u.password)


@pytest.fixture
def bea(server, make_user):
    return make_user()


def test_team_lifecycle(server, admin, bea):
    name = unique("team")
    team = admin.teams_create(name, 0, members=[bea.username])["team"]
    assert team["name"] == name
    assert team["type"] == 0
    team_id = team["_id"]

    info = admin.teams_info(team_id=team_id)["teamInfo"]
    assert info["_id"] == team_id
    assert admin.teams_info(team_name=name)["teamInfo"]["roomId"] == team["roomId"]
    expect_api_error(lambda: admin.teams_info(team_name=unique("none")), 400, "Team not found")

    members = list(admin.teams_members(team_id=team_id))
    usernames = sorted(m["user"]["username"] for m in members)
    assert usernames == sorted(["admin", bea.username])
    owner = next(m for m in members if m["user"]["username"] == "admin")
    assert owner["roles"] == ["owner"]
    assert set(owner["createdBy"]) >= {"_id", "username"}
    assert set(owner["user"]) >= {"_id", "username", "name", "status"}

    assert any(t["_id"] == team_id for t in admin.teams_list_all())
    expect_api_error(lambda: list(client(server, bea).teams_list_all()), 403, NO_PERMISSION_8X)

    matches = admin.teams_autocomplete(name[:8])["teams"]
    assert any(t["teamId"] == team_id for t in matches)

    admin.teams_delete(team_id=team_id)
    expect_api_error(lambda: admin.teams_info(team_id=team_id), 400, "Team not found")


def test_members_join_change_roles_and_leave(server, admin, bea, make_user):
    cid = make_user()
    name = unique("team")
    team_id = admin.teams_create(name, 1)["team"]["_id"]
    expect_api_error(
        lambda: admin.teams_create(name, 0), 400, "team-name-already-exists"
    )

    admin.teams_add_members(
        team_name=name,
        members=[{"userId": bea.id, "roles": ["member"]}, {"userId": cid.id, "roles": ["member"]}],
    )
    members = list(admin.teams_members(team_id=team_id))
    assert len(members) == 3
    assert next(m for m in members if m["user"]["_id"] == bea.id)["roles"] == ["member"]
    assert [m["user"]["username"] for m in admin.teams_members(team_id=team_id, username=bea.username)] == [
        bea.username
    ]

    admin.teams_update_member(team_id=team_id, member={"userId": bea.id, "roles": ["member", "owner"]})
    roles = next(m for m in admin.teams_members(team_id=team_id) if m["user"]["_id"] == bea.id)["roles"]
    assert roles == ["member", "owner"]

    # Team permissions cid lacks: 403 "unauthorized".
    cid_client = client(server, cid)
    expect_api_error(
        lambda: cid_client.teams_remove_member(team_id=team_id, user_id=bea.id), 403, FORBIDDEN_8X
    )
    expect_api_error(
        lambda: cid_client.teams_update_member(team_id=team_id, member={"userId": cid.id, "roles": ["owner"]}),
        403,
        FORBIDDEN_8X,
    )

    admin.teams_remove_member(team_id=team_id, user_id=cid.id)
    assert len(list(admin.teams_members(team_id=team_id))) == 2
    expect_api_error(
        lambda: admin.teams_remove_member(team_id=team_id, user_id=bea.id, rooms=[]),
        400,
        error_type="invalid-params",
    )

    # The last owner stays; with another owner, the admin may leave.
    bea_client = client(server, bea)
    admin.teams_update_member(team_id=team_id, member={"userId": bea.id, "roles": ["member"]})
    expect_api_error(
        lambda: admin.call_api_post("teams.leave", teamId=team_id),
        400,
        "last-owner-can-not-be-removed",
    )
    admin.teams_update_member(team_id=team_id, member={"userId": bea.id, "roles": ["owner"]})
    admin.call_api_post("teams.leave", teamId=team_id)
    assert [m["user"]["_id"] for m in bea_client.teams_members(team_id=team_id)] == [bea.id]
    bea_client.teams_delete(team_id=team_id)


def test_rooms_join_and_leave_a_team(server, admin, bea):
    name = unique("team")
    team = admin.teams_create(name, 0, members=[bea.username])["team"]
    team_id = team["_id"]
    channel = admin.channels_create(unique("chan"))["channel"]
    group = admin.groups_create(unique("grp"))["group"]

    added = admin.teams_add_rooms(team_id=team_id, rooms=[channel["_id"], group["_id"]])["rooms"]
    assert sorted(r["_id"] for r in added) == sorted([channel["_id"], group["_id"]])
    assert all(r["teamId"] == team_id for r in added)
    assert all("teamDefault" not in r for r in added)
    expect_api_error(
        lambda: admin.teams_add_rooms(team_id=team_id, rooms=[channel["_id"]]),
        400,
        "room-already-on-team",
    )

    # Bea sees the public room and not the group she is not in.
    bea_client = client(server, bea)
    assert [r["_id"] for r in bea_client.teams_list_rooms(team_id=team_id)] == [channel["_id"]]
    assert len(list(admin.teams_list_rooms(team_id=team_id))) == 2

    # Auto-join: the team's members join the room.
    room = admin.teams_update_room(channel["_id"], True)["room"]
    assert room["teamDefault"] is True
    assert room["teamId"] == team_id
    assert room["usersCount"] == 2
    expect_api_error(lambda: bea_client.teams_update_room(channel["_id"], False), 403, FORBIDDEN_8X)

    mine = list(bea_client.teams_list_rooms_of_user(team_id=team_id, user_id=bea.id))
    assert [r["_id"] for r in mine] == [channel["_id"]]
    assert mine[0]["isLastOwner"] is False
    expect_api_error(
        lambda: list(bea_client.teams_list_rooms_of_user(team_id=team_id, user_id=server_admin_id(admin))),
        403,
        FORBIDDEN_8X,
    )

    children = admin.call_api_get("teams.listChildren", teamId=team_id)
    assert children["total"] == 3
    assert {r["_id"] for r in children["data"]} == {team["roomId"], channel["_id"], group["_id"]}

    expect_api_error(
        lambda: bea_client.teams_remove_room(team_id=team_id, room_id=channel["_id"]), 403, FORBIDDEN_8X
    )
    removed = admin.teams_remove_room(team_id=team_id, room_id=channel["_id"])["room"]
    assert "teamId" not in removed
    assert "teamDefault" not in removed
    assert [r["_id"] for r in admin.teams_list_rooms(team_id=team_id)] == [group["_id"]]

    # Deleting the team erases the rooms asked for and frees the others.
    admin.teams_delete(team_id=team_id, roomsToRemove=[group["_id"]])
    expect_api_error(lambda: admin.groups_info(room_id=group["_id"]), 400)
    assert "teamId" not in admin.channels_info(room_id=channel["_id"])["channel"]


def server_admin_id(admin_client):
    return admin_client.me()["_id"]


def test_side_panel_and_refusals(server, admin, bea):
    name = unique("team")
    team = admin.teams_create(name, 0, sidepanel={"items": ["channels", "discussions"]})["team"]
    channel = admin.channels_info(room_id=team["roomId"])["channel"]
    assert channel["teamMain"] is True
    assert sorted(channel["sidepanel"]["items"]) == ["channels", "discussions"]
    expect_api_error(
        lambda: admin.teams_create(unique("team"), 0, sidepanel={"items": ["other"]}),
        400,
        "error-invalid-sidepanel",
    )
    expect_api_error(lambda: admin.teams_create("invalid*team*name", 0), 400, "error-team-creation")

    # A private team is not for outsiders.
    private = admin.teams_create(unique("team"), 1)["team"]
    expect_api_error(lambda: client(server, bea).teams_info(team_id=private["_id"]), 403, FORBIDDEN_8X)
    expect_api_error(
        lambda: list(client(server, bea).teams_list_rooms(team_id=private["_id"])),
        400,
        "user-not-on-private-team",
    )
