"""File uploads through rocketchat-api 3.7.1, unchanged: ``rooms_media(room_id,
file, **kw)`` posts the multipart field ``file`` (a path, or a ``(name, fileobj,
type)`` tuple) and ``rooms_media_confirm(room_id, file_id, **kw)`` posts the
message fields as JSON. 3.7.1 has no ``rooms_upload`` helper any more (upstream
deprecated ``rooms.upload`` in 8.0), so the legacy route is driven through the
client's own ``call_api_post(method, files=...)``, exactly as its old helper did.
"""

import io

import requests

from conftest import expect_api_error, unique

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    + (4).to_bytes(4, "big")
    + (5).to_bytes(4, "big")
    + b"\x08\x06\x00\x00\x00rest"
)


def private_room(c, members=()):
    return c.groups_create(unique("files"), members=list(members))["group"]["_id"]


def test_rooms_upload_legacy(server, make_user, tmp_path):
    a = make_user()
    c = server.login(a.username, a.password)
    rid = private_room(c)
    path = tmp_path / "photo.png"
    path.write_bytes(PNG)
    with open(path, "rb") as f:
        resp = c.call_api_post(
            "rooms.upload/" + rid,
            msg="holiday",
            description="the beach",
            files={"file": ("photo.png", f, "image/png")},
        )
    assert resp["success"] is True
    m = resp["message"]
    assert m["msg"] == "holiday"
    assert m["file"]["name"] == "photo.png"
    assert m["file"]["type"] == "image/png"
    att = m["attachments"][0]
    assert att["type"] == "file"
    assert att["description"] == "the beach"
    assert att["image_dimensions"] == {"width": 4, "height": 5}
    assert att["title_link"] == f"/file-upload/{m['file']['_id']}/photo.png"

    # Members download with the client's own session headers.
    got = requests.get(server.url + att["title_link"], headers=c.headers, timeout=10)
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_rooms_media_and_confirm(server, make_user, tmp_path):
    a = make_user()
    b = make_user()
    c = server.login(a.username, a.password)
    rid = private_room(c)
    path = tmp_path / "notes.txt"
    path.write_text("meeting notes\n")
    resp = c.rooms_media(rid, str(path))
    assert resp["success"] is True
    file_id = resp["file"]["_id"]
    assert resp["file"]["url"] == f"/file-upload/{file_id}/notes.txt"

    confirmed = c.rooms_media_confirm(rid, file_id, msg="minutes", description="monday")
    assert confirmed["success"] is True
    m = confirmed["message"]
    assert m["msg"] == "minutes"
    assert m["files"][0]["_id"] == file_id
    assert m["attachments"][0]["format"] == "TXT"
    assert m["attachments"][0]["description"] == "monday"

    # groups_files is one of the client's paginated generators (pages of ``files``).
    listed = list(c.groups_files(room_id=rid))
    assert [f["name"] for f in listed] == ["notes.txt"]
    assert listed[0]["user"]["username"] == a.username

    # Someone outside the private room can neither upload nor download.
    outsider = server.login(b.username, b.password)
    expect_api_error(
        lambda: outsider.rooms_media(rid, ("x.txt", io.BytesIO(b"x"), "text/plain")),
        403,
        "unauthorized",
    )
    got = requests.get(
        server.url + resp["file"]["url"], headers=outsider.headers, timeout=10
    )
    assert got.status_code == 403


def test_svg_is_refused(server, make_user):
    a = make_user()
    c = server.login(a.username, a.password)
    rid = private_room(c)
    svg = io.BytesIO(b'<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    expect_api_error(
        lambda: c.rooms_media(rid, ("logo.svg", svg, "image/svg+xml")),
        400,
        "File type is not accepted. [error-invalid-file-type]",
        "error-invalid-file-type",
    )


def test_clean_history_files_only(server, admin, make_user):
    """``rooms_clean_history(..., filesOnly=True)`` prunes files and keeps messages."""
    a = make_user()
    c = server.login(a.username, a.password)
    rid = private_room(c, members=["admin"])
    resp = c.rooms_media(rid, ("old.txt", io.BytesIO(b"old news"), "text/plain"))
    file_url = resp["file"]["url"]
    sent = c.rooms_media_confirm(rid, resp["file"]["_id"], msg="an old file")
    message_id = sent["message"]["_id"]

    cleaned = admin.rooms_clean_history(
        rid, latest="2100-01-01T00:00:00.000Z", oldest="2000-01-01T00:00:00.000Z",
        filesOnly=True,
    )
    assert cleaned["success"] is True
    assert cleaned["count"] == 1

    kept = c.chat_get_message(message_id)["message"]
    assert kept["msg"] == "an old file"
    assert kept["attachments"] == [
        {"color": "#FD745E", "text": "_File removed by prune_"}
    ]
    assert "file" not in kept
    got = requests.get(server.url + file_url, headers=c.headers, timeout=10)
    assert got.status_code == 404
    assert list(c.groups_files(room_id=rid)) == []
