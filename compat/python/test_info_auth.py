"""Server info, login (username / email / bad credentials), me, logout and
unauthenticated access, through rocketchat-api 3.7.1."""

import re

import pytest
from rocketchat_API.APIExceptions.RocketExceptions import RocketAuthenticationException
from rocketchat_API.rocketchat import RocketChat

from conftest import (
    ADMIN_NAME,
    ADMIN_PASS,
    ADMIN_USERNAME,
    HTTP_TIMEOUT,
    NOT_LOGGED_IN,
    expect_api_error,
)


# --- GET /api/info -----------------------------------------------------------


def test_info_anonymous(server):
    info = server.anon().info()
    assert info["success"] is True
    # Anonymous callers get major.minor only (patch stripped), no `info` block.
    assert re.fullmatch(r"\d+\.\d+", info["version"]), info
    assert int(info["version"].split(".")[0]) >= 8, info
    assert "info" not in info
    assert set(info["minimumClientVersions"]) >= {"desktop", "mobile"}


def test_info_shows_full_version_to_admin(admin, user_client):
    # /api/info reads the caller leniently (getLoggedInUser): a caller with
    # view-statistics gets the full semver and the `info` block (upstream's
    # miscellaneous.ts checks both variants); others get major.minor only.
    info = admin.info()
    assert info["success"] is True
    assert re.fullmatch(r"\d+\.\d+\.\d+", info["version"]), info
    assert info["info"]["version"] == info["version"]
    plain = user_client.info()
    assert re.fullmatch(r"\d+\.\d+", plain["version"]), plain
    assert "info" not in plain


# --- POST /api/v1/login ----------------------------------------------------


def test_login_with_username_via_constructor(server, user):
    client = server.login(user.username, user.password)
    assert client.headers["X-User-Id"] == user.id
    assert client.headers["X-Auth-Token"]
    assert client.me()["_id"] == user.id


def test_login_response_shape(server, user):
    client = server.anon()
    resp = client.login(user.username, user.password)
    assert resp["status"] == "success"
    assert resp["success"] is True
    data = resp["data"]
    assert data["userId"] == user.id
    assert isinstance(data["authToken"], str) and data["authToken"]
    me = data["me"]
    assert me["_id"] == user.id
    assert me["username"] == user.username
    assert me["name"] == user.name
    assert me["emails"][0]["address"] == user.email
    assert me["emails"][0]["verified"] is False
    # `email` is only filled from a *verified* address.
    assert "email" not in me
    assert me["services"]["password"]["exists"] is True
    assert "bcrypt" not in me["services"]["password"]
    assert me["avatarUrl"].endswith(f"/avatar/{user.username}")
    # login() stored the credentials on the client
    assert client.headers["X-User-Id"] == user.id
    assert client.headers["X-Auth-Token"] == data["authToken"]


def test_login_with_email_via_constructor(server, user):
    # rocketchat_API sends {"user": <email>, "password": ...} for addresses.
    client = server.login(user.email, user.password)
    assert client.headers["X-User-Id"] == user.id
    assert client.me()["username"] == user.username


def test_each_login_issues_a_new_token(server, user):
    a = server.login(user.username, user.password)
    b = server.login(user.username, user.password)
    assert a.headers["X-Auth-Token"] != b.headers["X-Auth-Token"]
    assert a.me()["_id"] == b.me()["_id"] == user.id


def test_login_bad_password_raises_authentication_exception(server, user):
    with pytest.raises(RocketAuthenticationException):
        RocketChat(user.username, user.password + "x", server_url=server.url, timeout=HTTP_TIMEOUT)


def test_login_bad_password_by_email_raises_authentication_exception(server, user):
    with pytest.raises(RocketAuthenticationException):
        RocketChat(user.email, "Wr0ng!Password-xyz", server_url=server.url, timeout=HTTP_TIMEOUT)


def test_login_unknown_user_raises_authentication_exception(server):
    with pytest.raises(RocketAuthenticationException):
        RocketChat("no-such-user-x1", "Wh4tever!Pass-word", server_url=server.url, timeout=HTTP_TIMEOUT)


def test_admin_login(server):
    client = server.login(ADMIN_USERNAME, ADMIN_PASS)
    me = client.me()
    assert me["username"] == ADMIN_USERNAME
    assert me["name"] == ADMIN_NAME
    assert "admin" in me["roles"]


# --- GET /api/v1/me ----------------------------------------------------------


def test_me(user_client, user):
    me = user_client.me()
    assert me["success"] is True
    assert me["_id"] == user.id
    assert me["username"] == user.username
    assert me["name"] == user.name
    assert me["active"] is True
    assert me["roles"] == ["user"]
    assert me["emails"][0]["address"] == user.email
    assert "email" not in me  # not verified
    assert me["services"]["password"]["exists"] is True
    assert "resume" not in me["services"]
    assert isinstance(me["settings"]["preferences"], dict)
    assert me["avatarUrl"].endswith(f"/avatar/{user.username}")


# --- unauthenticated access ------------------------------------------------


def test_me_without_login_is_401(server):
    exc = expect_api_error(server.anon().me, 401, error=NOT_LOGGED_IN)
    # 8.x still adds the older shape (ApiClass drops it only from 9.0 on)
    assert exc.response_json["status"] == "error"
    assert exc.response_json["message"] == NOT_LOGGED_IN


def test_bogus_token_is_401(server, user):
    client = server.with_token(user.id, "not-a-real-token-0000000000000000000000000")
    expect_api_error(client.me, 401, error=NOT_LOGGED_IN)


def test_users_list_without_login_is_401(server):
    expect_api_error(lambda: list(server.anon().users_list()), 401, error=NOT_LOGGED_IN)


def test_users_info_without_login_is_401(server, user):
    expect_api_error(lambda: server.anon().users_info(user_id=user.id), 401, error=NOT_LOGGED_IN)


def test_logout_without_login_is_401(server):
    expect_api_error(server.anon().logout, 401, error=NOT_LOGGED_IN)


# --- POST /api/v1/logout -----------------------------------------------------


def test_logout_invalidates_only_the_current_token(server, user):
    first = server.login(user.username, user.password)
    second = server.login(user.username, user.password)
    resp = first.logout()
    assert resp["status"] == "success"
    assert resp["data"]["message"] == "You've been logged out!"
    expect_api_error(first.me, 401, error=NOT_LOGGED_IN)
    # the other session of the same user is untouched
    assert second.me()["_id"] == user.id


def test_admin_logout(server):
    client = server.admin()
    assert client.logout()["status"] == "success"
    expect_api_error(client.me, 401, error=NOT_LOGGED_IN)
