"""Custom emoji, user statuses and sounds through rocketchat-api 3.7.1, unchanged:
``custom_emoji_create/update/delete`` (multipart, the file in ``emoji``),
``custom_emoji_list`` (``emoji-custom.list``, ``{emojis: {update, remove}}``),
``custom_emoji_all`` (paginated), ``custom_user_status_create/update/delete/list``,
``custom_sounds_list`` and ``custom_sounds_get_one``. Sounds are created over DDP in
current Rocket.Chat (no REST create), so the REST helpers read an empty workspace here.
"""

import requests

from conftest import expect_api_error, unique
from test_workspace import png


def emoji_file(tmp_path, name="party"):
    path = tmp_path / f"{name}.png"
    path.write_bytes(png(16, 16))
    return path


def test_custom_emoji_lifecycle(server, admin, user_client, tmp_path):
    name = unique("emo").replace(".", "_").replace("-", "_")
    path = emoji_file(tmp_path)

    created = admin.custom_emoji_create(name, str(path), aliases=f"{name}_alias")
    assert created["success"] is True, created

    listed = admin.custom_emoji_list()
    assert listed["success"] is True, listed
    emoji = next(e for e in listed["emojis"]["update"] if e["name"] == name)
    assert emoji["aliases"] == [f"{name}_alias"]
    assert emoji["extension"] == "png"
    served = requests.get(f"{server.url}/emoji-custom/{name}.png", timeout=10)
    assert served.status_code == 200
    assert served.content == path.read_bytes()

    # The paginated helper walks `emoji-custom.all` and finds it; members can read the list.
    assert name in {e["name"] for e in user_client.custom_emoji_all(count=1)}

    renamed = f"{name}_new"
    updated = admin.custom_emoji_update(emoji["_id"], renamed, aliases="")
    assert updated["success"] is True, updated
    names = {e["name"] for e in admin.custom_emoji_list()["emojis"]["update"]}
    assert renamed in names and name not in names

    # Only holders of manage-emoji may change emoji (upstream's method refuses: 400).
    expect_api_error(lambda: user_client.custom_emoji_delete(emoji["_id"]), 400, error="[not_authorized]")
    deleted = admin.custom_emoji_delete(emoji["_id"])
    assert deleted["success"] is True, deleted
    assert renamed not in {e["name"] for e in admin.custom_emoji_list()["emojis"]["update"]}


def test_a_custom_emoji_name_in_use_is_refused(admin, tmp_path):
    name = unique("dup").replace(".", "_").replace("-", "_")
    path = emoji_file(tmp_path)
    assert admin.custom_emoji_create(name, str(path))["success"] is True
    expect_api_error(lambda: admin.custom_emoji_create(name, str(path)), 400)


def test_custom_user_status_lifecycle(admin, user_client):
    name = unique("status")
    created = admin.custom_user_status_create(name, "busy")
    assert created["success"] is True, created
    status = created["customUserStatus"]
    assert status["name"] == name and status["statusType"] == "busy"

    # The client's @paginated helper walks the pages and yields each status.
    assert name in {s["name"] for s in user_client.custom_user_status_list(count=1)}

    updated = admin.custom_user_status_update(status["_id"], f"{name}-away", "away")
    assert updated["success"] is True, updated
    assert updated["customUserStatus"]["statusType"] == "away"

    expect_api_error(
        lambda: user_client.custom_user_status_create(unique("x"), "away"), 400, error="[not_authorized]"
    )
    deleted = admin.custom_user_status_delete(status["_id"])
    assert deleted["success"] is True, deleted
    assert status["_id"] not in {s["_id"] for s in admin.custom_user_status_list()}


def test_custom_sounds_read_helpers(admin):
    assert isinstance(list(admin.custom_sounds_list()), list)
    expect_api_error(lambda: admin.custom_sounds_get_one("no-such-sound"), 404, error="Custom Sound not found.")
