"""Avatars through rocketchat-api 3.7.1, unchanged: ``users_set_avatar(path)``
posts the multipart field ``image`` (an ``http(s)://`` argument is sent as
``avatarUrl`` instead), ``users_reset_avatar(user_id=|username=)`` and
``users_get_avatar(user_id=|username=)``, which follows the 307 to
``/avatar/<username>`` and returns the image as text.
"""

import struct
import zlib

import requests

from conftest import expect_api_error


def png(width, height):
    """A real RGB PNG (the server decodes avatars to resize them)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x % 256, y % 256, 90))
        for y in range(height)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png(300, 200)


def test_set_get_and_reset_avatar(server, user, user_client, tmp_path):
    path = tmp_path / "me.png"
    path.write_bytes(PNG)
    resp = user_client.users_set_avatar(str(path))
    assert resp["success"] is True, resp

    etag = user_client.me()["avatarETag"]
    assert etag
    got = requests.get(f"{server.url}/avatar/{user.username}", timeout=10)
    assert got.status_code == 200
    # Resized to a 200-pixel square (Accounts_AvatarSize), as upstream.
    assert got.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", got.content[16:24]) == (200, 200)
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["ETag"] == f'"{etag}"'
    cached = requests.get(
        f"{server.url}/avatar/{user.username}",
        headers={"If-None-Match": f'"{etag}"'},
        timeout=10,
    )
    assert cached.status_code == 304

    resp = user_client.users_reset_avatar(username=user.username)
    assert resp["success"] is True, resp
    assert "avatarETag" not in user_client.me()
    # Back to upstream's SVG initials, which the client returns as text.
    svg = user_client.users_get_avatar(username=user.username)
    assert svg.startswith("<svg"), svg
    assert user.username[0].upper() in svg


def test_refusals(server, admin, user, user_client, tmp_path):
    text = tmp_path / "notes.png"
    text.write_bytes(b"just some text")
    expect_api_error(
        lambda: user_client.users_set_avatar(str(text)),
        400,
        error_type="error-invalid-file-type",
    )
    # The server refuses to fetch from its own network unless configured to.
    expect_api_error(
        lambda: user_client.users_set_avatar(f"{server.url}/avatar/{user.username}"),
        400,
        error_type="error-avatar-invalid-url",
    )
    # Someone else's avatar needs edit-other-user-avatar.
    admin_id = admin.me()["_id"]
    expect_api_error(
        lambda: user_client.users_reset_avatar(user_id=admin_id),
        400,
        error="Reset avatar is not allowed [error-not-allowed]",
    )
    assert admin.users_reset_avatar(user_id=user_client.me()["_id"])["success"] is True
