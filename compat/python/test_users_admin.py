"""Admin user management: users.create, users.update, users.setActiveStatus,
users.delete, and the refusals a non-admin gets."""

import pytest
from rocketchat_API.APIExceptions.RocketExceptions import RocketAuthenticationException
from rocketchat_API.rocketchat import RocketChat

from conftest import (
    HTTP_TIMEOUT,
    NO_PERMISSION_8X,
    NOT_LOGGED_IN,
    USER_PASS,
    expect_api_error,
    unique,
)

NEW_PASS = "N3w!Compat-Secret#8"


def _create(admin, **extra):
    username = unique("created")
    email = f"{username}@example.com"
    resp = admin.users_create(
        email=email, name=f"Created {username}", password=USER_PASS, username=username, **extra
    )
    return username, email, resp


def _cannot_log_in(server, username, password):
    with pytest.raises(RocketAuthenticationException):
        RocketChat(username, password, server_url=server.url, timeout=HTTP_TIMEOUT)


# --- users.create ------------------------------------------------------------


def test_users_create(server, admin):
    username, email, resp = _create(admin)
    assert resp["success"] is True
    u = resp["user"]
    assert u["username"] == username
    assert u["name"] == f"Created {username}"
    assert u["emails"][0]["address"] == email
    assert u["active"] is True
    assert u["roles"] == ["user"]
    assert "services" not in u
    # the new account works with the password given
    client = server.login(username, USER_PASS)
    assert client.me()["_id"] == u["_id"]


def test_users_create_inactive(server, admin):
    username, _, resp = _create(admin, active=False)
    assert resp["user"]["active"] is False
    _cannot_log_in(server, username, USER_PASS)


def test_users_create_duplicate_username(admin, user):
    expect_api_error(
        lambda: admin.users_create(
            email=f"dup-{user.username}@example.com",
            name="Dup",
            password=USER_PASS,
            username=user.username,
        ),
        400,
        error=f"{user.username} is already in use :( [error-field-unavailable]",
        error_type="error-field-unavailable",
    )


def test_users_create_duplicate_email(admin, user):
    name = unique("created")
    expect_api_error(
        lambda: admin.users_create(email=user.email, name="Dup", password=USER_PASS, username=name),
        400,
        error=f"{user.email} is already in use :( [error-field-unavailable]",
        error_type="error-field-unavailable",
    )


def test_users_create_invalid_username(admin):
    name = unique("created")
    expect_api_error(
        lambda: admin.users_create(
            email=f"{name}@example.com", name="Bad", password=USER_PASS, username="bad name"
        ),
        400,
        error="bad name is not a valid username [error-input-is-not-a-valid-field]",
        error_type="error-input-is-not-a-valid-field",
    )


def test_users_create_by_non_admin_is_refused(user_client):
    name = unique("created")
    expect_api_error(
        lambda: user_client.users_create(
            email=f"{name}@example.com", name="Nope", password=USER_PASS, username=name
        ),
        400,
        error="Adding user is not allowed [error-action-not-allowed]",
        error_type="error-action-not-allowed",
    )


def test_users_create_without_login(server):
    name = unique("created")
    expect_api_error(
        lambda: server.anon().users_create(
            email=f"{name}@example.com", name="Nope", password=USER_PASS, username=name
        ),
        401,
        error=NOT_LOGGED_IN,
    )


# --- users.update ------------------------------------------------------------


def test_users_update_name_email_username(admin, user):
    new_username = unique("renamed")
    new_email = f"{new_username}@example.com"
    resp = admin.users_update(user.id, name="Renamed User", email=new_email, username=new_username)
    assert resp["success"] is True
    u = resp["user"]
    assert u["_id"] == user.id
    assert u["name"] == "Renamed User"
    assert u["username"] == new_username
    assert u["emails"][0]["address"] == new_email

    info = admin.users_info(user_id=user.id)["user"]
    assert info["name"] == "Renamed User"
    assert info["username"] == new_username
    assert info["emails"][0]["address"] == new_email


def test_users_update_password(server, admin, user):
    resp = admin.users_update(user.id, password=NEW_PASS)
    assert resp["success"] is True
    assert server.login(user.username, NEW_PASS).me()["_id"] == user.id
    _cannot_log_in(server, user.username, user.password)


def test_users_update_other_user_by_non_admin_is_refused(user_client, make_user):
    other = make_user()
    expect_api_error(
        lambda: user_client.users_update(other.id, name="Hacked"),
        400,
        error="Editing user is not allowed [error-action-not-allowed]",
        error_type="error-action-not-allowed",
    )


# --- users.setActiveStatus -------------------------------------------------


def test_users_set_active_status(server, admin, user):
    session = server.login(user.username, user.password)

    resp = admin.users_set_active_status(user.id, False)
    assert resp["success"] is True
    assert resp["user"] == {"_id": user.id, "active": False}

    # deactivated: no new login, and existing login tokens were removed
    _cannot_log_in(server, user.username, user.password)
    expect_api_error(session.me, 401, error=NOT_LOGGED_IN)
    assert admin.users_info(user_id=user.id)["user"]["active"] is False

    resp = admin.users_set_active_status(user.id, True)
    assert resp["user"] == {"_id": user.id, "active": True}
    assert server.login(user.username, user.password).me()["_id"] == user.id


def test_users_set_active_status_by_non_admin_is_forbidden(user_client, make_user):
    other = make_user()
    expect_api_error(
        lambda: user_client.users_set_active_status(other.id, False),
        403,
        error=NO_PERMISSION_8X,
    )


# --- users.delete ----------------------------------------------------------


def test_users_delete(server, admin, user):
    resp = admin.users_delete(user.id)
    assert resp["success"] is True
    expect_api_error(lambda: admin.users_info(user_id=user.id), 400, error="User not found.")
    _cannot_log_in(server, user.username, user.password)


def test_users_delete_unknown_user(admin):
    expect_api_error(
        lambda: admin.users_delete("no-such-user-id"),
        400,
        error='The required "userId" or "username" param provided does not match any users [error-invalid-user]',
        error_type="error-invalid-user",
    )


def test_users_delete_by_non_admin_is_forbidden(admin, user_client, make_user):
    other = make_user()
    expect_api_error(lambda: user_client.users_delete(other.id), 403, error=NO_PERMISSION_8X)
    # still there
    assert admin.users_info(user_id=other.id)["user"]["_id"] == other.id
