"""settings/:_id (GET and POST), permissions.listAll and roles.list."""

import pytest

from conftest import NO_PERMISSION_8X, NOT_LOGGED_IN, expect_api_error


# --- GET/POST /api/v1/settings/:_id ----------------------------------------


def test_settings_get(admin):
    resp = admin.settings_get("Site_Name")
    assert resp == {"_id": "Site_Name", "value": "Comet", "success": True}


def test_settings_get_site_url_from_root_url(server, admin):
    resp = admin.settings_get("Site_Url")
    assert resp["_id"] == "Site_Url"
    assert resp["value"].rstrip("/") == server.url


def test_settings_get_boolean_default(admin):
    assert admin.settings_get("Accounts_AllowDeleteOwnAccount")["value"] is False


@pytest.mark.parametrize(
    "setting_id, default, new_value",
    [
        ("Site_Name", "Comet", "Comet Compat Test"),
        ("Accounts_AllowDeleteOwnAccount", False, True),
        ("Message_MaxAllowedSize", 5000, 4321),
    ],
)
def test_settings_update(admin, setting_id, default, new_value):
    assert admin.settings_get(setting_id)["value"] == default
    try:
        resp = admin.settings_update(setting_id, new_value)
        assert resp == {"success": True}
        assert admin.settings_get(setting_id)["value"] == new_value
    finally:
        admin.settings_update(setting_id, default)
    assert admin.settings_get(setting_id)["value"] == default


def test_settings_get_unknown(admin):
    exc = expect_api_error(lambda: admin.settings_get("No_Such_Setting_Compat"), 400)
    # API.v1.failure() with no message: the body is just {"success": false}
    assert exc.response_json == {"success": False}


def test_settings_update_unknown(admin):
    exc = expect_api_error(lambda: admin.settings_update("No_Such_Setting_Compat", "x"), 400)
    assert exc.response_json == {"success": False}


def test_settings_by_non_admin_is_forbidden(admin, user_client):
    expect_api_error(lambda: user_client.settings_get("Site_Name"), 403, error=NO_PERMISSION_8X)
    expect_api_error(
        lambda: user_client.settings_update("Site_Name", "Hijacked"), 403, error=NO_PERMISSION_8X
    )
    assert admin.settings_get("Site_Name")["value"] == "Comet"


def test_settings_without_login(server):
    expect_api_error(lambda: server.anon().settings_get("Site_Name"), 401, error=NOT_LOGGED_IN)
    expect_api_error(
        lambda: server.anon().settings_update("Site_Name", "x"), 401, error=NOT_LOGGED_IN
    )


# --- GET /api/v1/permissions.listAll ----------------------------------------


def _permissions(client):
    resp = client.permissions_list_all()
    assert resp["success"] is True
    assert resp["remove"] == []
    perms = {p["_id"]: p for p in resp["update"]}
    assert len(perms) == len(resp["update"])  # ids are unique
    return perms


def test_permissions_list_all(admin):
    perms = _permissions(admin)
    for p in perms.values():
        assert isinstance(p["roles"], list)
        assert "_updatedAt" in p
    for admin_only in (
        "create-user",
        "delete-user",
        "edit-other-user-info",
        "edit-other-user-active-status",
        "view-full-other-user-info",
        "user-generate-access-token",
        "edit-privileged-setting",
        "view-privileged-setting",
    ):
        assert perms[admin_only]["roles"] == ["admin"], admin_only
    assert {"admin", "user"} <= set(perms["create-personal-access-tokens"]["roles"])
    assert {"admin", "user", "bot", "guest"} <= set(perms["view-d-room"]["roles"])
    assert {"admin", "bot", "app"} <= set(perms["api-bypass-rate-limit"]["roles"])
    assert "user" not in perms["api-bypass-rate-limit"]["roles"]


def test_permissions_list_all_as_regular_user(admin, user_client):
    assert _permissions(user_client).keys() == _permissions(admin).keys()


def test_permissions_list_all_without_login(server):
    expect_api_error(server.anon().permissions_list_all, 401, error=NOT_LOGGED_IN)


# --- GET /api/v1/roles.list --------------------------------------------------


def _roles(client):
    resp = client.roles_list()
    assert resp["success"] is True
    return {r["_id"]: r for r in resp["roles"]}


def test_roles_list(admin):
    roles = _roles(admin)
    global_roles = {"admin", "user", "bot", "app", "guest", "anonymous", "livechat-agent", "livechat-manager"}
    room_roles = {"owner", "moderator", "leader"}
    assert global_roles | room_roles <= set(roles)
    for rid in global_roles:
        assert roles[rid]["scope"] == "Users", rid
    for rid in room_roles:
        assert roles[rid]["scope"] == "Subscriptions", rid
    for rid in global_roles | room_roles:
        assert roles[rid]["name"] == rid
        assert roles[rid]["protected"] is True, rid


def test_roles_list_as_regular_user(user_client):
    assert {"admin", "user", "owner"} <= set(_roles(user_client))


def test_roles_list_without_login(server):
    expect_api_error(server.anon().roles_list, 401, error=NOT_LOGGED_IN)


# --- service.configurations, roles.sync, roles.getUsersInPublicRoles, permissions.addRole ----


def test_service_configurations_without_login(server, admin):
    # No OAuth or other login service is configured: the list is empty, for anyone.
    assert server.anon().service_configurations() == {"configurations": [], "success": True}
    assert admin.service_configurations() == {"configurations": [], "success": True}


def test_roles_sync(admin):
    synced = admin.roles_sync("2000-01-01T00:00:00.000Z")["roles"]
    assert {"admin", "user", "owner"} <= {r["_id"] for r in synced["update"]}
    assert synced["remove"] == []


def test_roles_get_users_in_public_roles(admin, user_client):
    users = user_client.roles_get_users_in_public_roles()["users"]
    entry = next(u for u in users if u["username"] == "admin")
    assert entry["roles"] == ["admin"]
    assert set(entry) == {"_id", "username", "roles"}


def _permission_roles(client, permission_id):
    listed = client.permissions_list_all()["update"]
    return next(p["roles"] for p in listed if p["_id"] == permission_id)


def test_permissions_add_and_remove_role(admin, user_client):
    body = {"permissionId": "add-oauth-service", "role": "moderator"}
    expect_api_error(
        lambda: user_client.call_api_post("permissions.addRole", **body), 403, error=NO_PERMISSION_8X
    )
    try:
        assert admin.call_api_post("permissions.addRole", **body) == {"success": True}
        assert "moderator" in _permission_roles(admin, "add-oauth-service")
    finally:
        assert admin.call_api_post("permissions.removeRole", **body) == {"success": True}
    assert "moderator" not in _permission_roles(admin, "add-oauth-service")
