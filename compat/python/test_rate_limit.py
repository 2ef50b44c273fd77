"""REST rate limiter, on a second Comet server started WITH the limiter on.

Rocket.Chat limits users.register per route + client IP to
Rate_Limiter_Limit_RegisterUser (default 1) calls per
API_Enable_Rate_Limiter_Limit_Time_Default (60000 ms). The 2nd call within a
minute gets HTTP 429 with
  {"success": false, "error": "Error, too many requests. Please slow down.
   You must wait N seconds before trying this endpoint again.
   [error-too-many-requests]"}
which rocketchat-api raises as RocketApiException(status_code=429).
"""

import re

import pytest

from conftest import USER_PASS, CometServer, expect_api_error, unique

TOO_MANY = re.compile(
    r"Error, too many requests\. Please slow down\. You must wait (\d+) seconds "
    r"before trying this endpoint again\. \[error-too-many-requests\]"
)


@pytest.fixture(scope="module")
def limited_server():
    srv = CometServer(rate_limiter=True, name="comet-ratelimit")
    srv.start()
    try:
        yield srv
    finally:
        srv.cleanup()


def _register(client):
    name = unique("rl")
    return client.users_register(
        email=f"{name}@example.com", name="Rate Limited", password=USER_PASS, username=name
    )


def test_register_is_limited_to_one_call_per_minute(limited_server):
    client = limited_server.anon()
    seen = []
    client.session.hooks["response"].append(lambda r, *a, **k: seen.append(r))

    first = _register(client)
    assert first["success"] is True
    assert seen[-1].status_code == 200
    assert seen[-1].headers.get("X-RateLimit-Limit") == "1"
    assert seen[-1].headers.get("X-RateLimit-Remaining") == "0"

    exc = expect_api_error(lambda: _register(client), 429)
    m = TOO_MANY.fullmatch(exc.error)
    assert m, exc.error
    assert 0 < int(m.group(1)) <= 60
    assert exc.error_type is None

    # still limited: nothing was registered by the refused call
    expect_api_error(lambda: _register(client), 429)


def test_login_is_not_limited_by_register_limit(limited_server):
    # The limit is per route: logging in (10 calls/min default) still works.
    admin = limited_server.admin()
    assert admin.me()["username"] == "admin"
