"""users.info (by user id and by username) and users.list with count/offset
pagination, through rocketchat-api 3.7.1."""

import pytest
from rocketchat_API.APIExceptions.RocketExceptions import RocketMissingParamException
from rocketchat_API.rocketchat import RocketChat

from conftest import ADMIN_USERNAME, expect_api_error

# users_list is wrapped by rocketchat_API's @paginated decorator (a generator
# over all pages); functools.wraps keeps the undecorated method, which returns
# the raw page dict (users, count, offset, total).
users_list_page = RocketChat.users_list.__wrapped__


# --- users.info ------------------------------------------------------------


def test_users_info_self_by_id(user_client, user):
    resp = user_client.users_info(user_id=user.id)
    assert resp["success"] is True
    u = resp["user"]
    assert u["_id"] == user.id
    assert u["username"] == user.username
    assert u["name"] == user.name
    assert u["active"] is True
    # looking at yourself shows the full view
    assert u["canViewAllInfo"] is True
    assert u["emails"][0]["address"] == user.email
    assert u["roles"] == ["user"]


def test_users_info_self_by_username(user_client, user):
    u = user_client.users_info(username=user.username)["user"]
    assert u["_id"] == user.id
    assert u["canViewAllInfo"] is True


def test_users_info_other_user_is_limited_for_non_admin(server, user_client, make_user):
    other = make_user()
    u = user_client.users_info(user_id=other.id)["user"]
    assert u["_id"] == other.id
    assert u["username"] == other.username
    assert u["name"] == other.name
    assert u["active"] is True
    assert u["canViewAllInfo"] is False
    for hidden in ("emails", "roles", "services", "createdAt", "lastLogin"):
        assert hidden not in u, hidden


def test_users_info_other_by_username_for_non_admin(user_client, make_user):
    other = make_user()
    u = user_client.users_info(username=other.username)["user"]
    assert u["_id"] == other.id
    assert u["canViewAllInfo"] is False


def test_users_info_admin_sees_full_info(admin, user):
    u = admin.users_info(user_id=user.id)["user"]
    assert u["_id"] == user.id
    assert u["canViewAllInfo"] is True
    assert u["emails"][0]["address"] == user.email
    assert u["roles"] == ["user"]
    assert "createdAt" in u


def test_users_info_admin_by_username(admin, user):
    u = admin.users_info(username=user.username)["user"]
    assert u["_id"] == user.id


def test_users_info_builtin_users(admin):
    bot = admin.users_info(username="rocket.cat")["user"]
    assert bot["_id"] == "rocket.cat"
    assert bot["type"] == "bot"
    assert "bot" in bot["roles"]
    me = admin.users_info(username=ADMIN_USERNAME)["user"]
    assert "admin" in me["roles"]


def test_users_info_unknown_user(user_client):
    expect_api_error(
        lambda: user_client.users_info(user_id="no-such-user-id"), 400, error="User not found."
    )
    expect_api_error(
        lambda: user_client.users_info(username="no-such-username-x9"), 400, error="User not found."
    )


def test_users_info_without_lookup_is_refused_client_side(user_client):
    with pytest.raises(RocketMissingParamException):
        user_client.users_info()


# --- users.list ------------------------------------------------------------


def _usernames(page):
    return [u["username"] for u in page["users"]]


def test_users_list_pages(admin, make_user):
    for _ in range(3):
        make_user()
    first = users_list_page(admin, offset=0, count=2)
    assert first["success"] is True
    assert first["count"] == 2 == len(first["users"])
    assert first["offset"] == 0
    total = first["total"]
    assert total >= 5  # admin, rocket.cat and the three users above

    second = users_list_page(admin, offset=2, count=2)
    assert second["offset"] == 2
    assert second["count"] == len(second["users"]) == 2
    assert second["total"] == total

    # default sort is {username: 1}; pages do not overlap
    names = _usernames(first) + _usernames(second)
    assert names == sorted(names)
    assert len(set(names)) == 4

    last = users_list_page(admin, offset=total - 1, count=2)
    assert last["count"] == 1 == len(last["users"])
    beyond = users_list_page(admin, offset=total, count=2)
    assert beyond["users"] == [] and beyond["count"] == 0
    assert beyond["total"] == total


def test_users_list_generator_walks_all_pages(admin, user):
    total = users_list_page(admin, offset=0, count=1)["total"]
    everyone = list(admin.users_list(count=2))
    assert len(everyone) == total
    names = [u["username"] for u in everyone]
    assert len(set(names)) == total
    assert names == sorted(names)
    assert user.username in names
    assert {"rocket.cat", ADMIN_USERNAME} <= set(names)


def test_users_list_max_count(admin):
    few = list(admin.users_list(count=2, max_count=3))
    assert len(few) == 3


def test_users_list_as_regular_user(user_client, user):
    page = users_list_page(user_client, offset=0, count=10)
    assert page["success"] is True
    assert page["count"] == len(page["users"]) <= 10
    everyone = list(user_client.users_list(count=50))
    assert user.id in [u["_id"] for u in everyone]
    for u in everyone:
        assert "services" not in u


def test_users_list_query_and_fields(admin, make_user):
    """The deprecated `query` and `fields` JSON parameters, as upstream's users.list."""
    import json

    target = make_user()
    make_user()
    page = users_list_page(
        admin,
        offset=0,
        count=10,
        query=json.dumps({"username": target.username}),
        fields=json.dumps({"createdAt": 1}),
    )
    assert page["total"] == 1
    assert [u["username"] for u in page["users"]] == [target.username]
    assert "createdAt" in page["users"][0]
    expect_api_error(
        lambda: users_list_page(admin, query=json.dumps({"bio": "x"})),
        400,
        error="Invalid attribute: bio [error-invalid-query]",
    )
