"""POST /api/v1/users.register through rocketchat-api's users_register
(which sends email, name, username and `pass`)."""

from conftest import USER_PASS, expect_api_error, unique


def test_register_returns_user(server):
    username = unique()
    email = f"{username}@example.com"
    resp = server.anon().users_register(
        email=email, name="Reg Test", password=USER_PASS, username=username
    )
    assert resp["success"] is True
    u = resp["user"]
    assert isinstance(u["_id"], str) and u["_id"]
    assert u["username"] == username
    assert u["name"] == "Reg Test"
    assert u["active"] is True
    # anonymous caller: users.* field limiting applies
    assert "services" not in u
    assert "emails" not in u
    assert "roles" not in u


def test_registered_user_can_log_in(server, user):
    client = server.login(user.username, user.password)
    me = client.me()
    assert me["_id"] == user.id
    assert me["roles"] == ["user"]
    assert me["active"] is True


def test_register_duplicate_username(server, user):
    exc = expect_api_error(
        lambda: server.anon().users_register(
            email=f"other-{user.username}@example.com",
            name="Dup",
            password=USER_PASS,
            username=user.username,
        ),
        400,
        error="Username is already in use",
    )
    assert exc.error_type is None


def test_register_duplicate_username_is_case_insensitive(server, user):
    expect_api_error(
        lambda: server.anon().users_register(
            email=f"upper-{user.username}@example.com",
            name="Dup",
            password=USER_PASS,
            username=user.username.upper(),
        ),
        400,
        error="Username is already in use",
    )


def test_register_invalid_username(server):
    name = unique()
    expect_api_error(
        lambda: server.anon().users_register(
            email=f"{name}@example.com", name="Bad", password=USER_PASS, username="bad name!"
        ),
        400,
        error="The username provided is not valid",
    )


def test_register_while_logged_in_makes_a_new_account(server, user_client):
    # Sign-up needs no login, so the caller's credentials are not read: a new account is made.
    name = unique()
    resp = user_client.users_register(
        email=f"{name}@example.com", name="Again", password=USER_PASS, username=name
    )
    assert resp["success"] is True
    assert resp["user"]["username"] == name


def test_register_then_visible_to_admin_with_email(admin, user):
    info = admin.users_info(user_id=user.id)["user"]
    assert info["username"] == user.username
    assert info["emails"][0]["address"] == user.email
    assert info["emails"][0]["verified"] is False
    assert info["roles"] == ["user"]
