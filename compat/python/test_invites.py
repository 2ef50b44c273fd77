"""Invite links through rocketchat-api's invite helpers: find_or_create_invite,
list_invites (a bare array), validate_invite_token, use_invite_token and remove_invite
(a bare ``true``), with upstream's refusals."""

from conftest import expect_api_error, unique


def test_invite_round_trip(server, admin, make_user):
    name = unique("invite")
    rid = admin.groups_create(name)["group"]["_id"]

    created = admin.find_or_create_invite(rid, 7, 5)
    assert created["success"] is True
    assert created["rid"] == rid
    assert (created["days"], created["maxUses"], created["uses"]) == (7, 5, 0)
    token = created["inviteToken"]
    assert created["url"].endswith(f"/invite/{token}")

    again = admin.find_or_create_invite(rid, 7, 5)
    assert again["_id"] == created["_id"]

    listed = admin.list_invites()
    assert isinstance(listed, list)
    entry = next(i for i in listed if i["_id"] == created["_id"])
    assert "inviteToken" not in entry

    anon = server.anon()
    assert anon.validate_invite_token(token) == {"valid": True, "success": True}
    assert anon.validate_invite_token(created["_id"])["valid"] is False

    guest = make_user()
    client = server.login(guest.username, guest.password)
    used = client.use_invite_token(token)
    assert used["success"] is True
    assert used["room"]["rid"] == rid
    assert used["room"]["t"] == "p"
    assert used["room"]["name"] == name

    assert admin.remove_invite(created["_id"]) is True
    assert anon.validate_invite_token(token)["valid"] is False
    expect_api_error(
        lambda: admin.remove_invite(created["_id"]),
        400,
        error="Invalid Invitation _id [invalid-invitation-id]",
        error_type="invalid-invitation-id",
    )


def test_invite_refusals(server, admin, make_user):
    rid = admin.channels_create(unique("invite"))["channel"]["_id"]
    expect_api_error(
        lambda: admin.find_or_create_invite("not-a-room", 1, 10),
        400,
        error_type="error-invalid-room",
    )
    expect_api_error(
        lambda: admin.find_or_create_invite(rid, 3, 10),
        400,
        error_type="invalid-number-of-days",
    )
    guest = make_user()
    client = server.login(guest.username, guest.password)
    expect_api_error(
        lambda: client.find_or_create_invite(rid, 1, 10),
        400,
        error="[not_authorized]",
        error_type="not_authorized",
    )
    expect_api_error(
        lambda: client.use_invite_token("invalid"),
        400,
        error="The invite token is invalid. [error-invalid-token]",
        error_type="error-invalid-token",
    )
    once = admin.find_or_create_invite(rid, 0, 1)
    client.use_invite_token(once["inviteToken"])
    other = make_user()
    expect_api_error(
        lambda: server.login(other.username, other.password).use_invite_token(
            once["inviteToken"]
        ),
        400,
        error="The invite token has expired. [error-invite-expired]",
        error_type="error-invite-expired",
    )
