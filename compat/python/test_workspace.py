"""The workspace through rocketchat-api 3.7.1, unchanged: ``statistics(refresh=)``
and ``statistics_list(offset=, count=)`` (``GET statistics``, ``statistics.list``),
``assets_set_asset(asset_name, path)`` (multipart, the file in ``asset`` with
``assetName``) and ``assets_unset_asset(asset_name)``; the file is served at
``/assets/<name>.<ext>`` and ``Assets_<name>`` says where.
"""

import struct
import zlib

import requests

from conftest import expect_api_error, register_user


def png(width, height):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x14\x5a\xc8" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def asset_setting(server, name):
    got = requests.get(f"{server.url}/api/v1/settings.public", params={"_id": f"Assets_{name}"}, timeout=10)
    assert got.status_code == 200
    return next(s["value"] for s in got.json()["settings"] if s["_id"] == f"Assets_{name}")


def test_statistics_and_refresh(server, admin):
    first = admin.statistics()
    assert first["success"] is True, first
    for field in ("totalUsers", "totalRooms", "totalMessages", "uploadsTotal", "uploadsTotalSize"):
        assert isinstance(first[field], int), (field, first)
    assert first["database"]["size"] >= 0

    register_user(server)
    # The newest snapshot stays as it was until a refresh takes a new one.
    assert admin.statistics()["totalUsers"] == first["totalUsers"]
    fresh = admin.statistics(refresh="true")
    assert fresh["totalUsers"] == first["totalUsers"] + 1
    assert fresh["_id"] != first["_id"]


def test_statistics_list_pages_snapshots(admin):
    for _ in range(3):
        admin.statistics(refresh="true")
    # The client's @paginated helper walks the pages (offset, count) and yields each snapshot.
    snapshots = list(admin.statistics_list(count=2))
    assert len(snapshots) >= 3
    assert len({s["_id"] for s in snapshots}) == len(snapshots)
    assert all("totalUsers" in s for s in snapshots)
    newest_first = [s["createdAt"] for s in snapshots]
    assert newest_first == sorted(newest_first, reverse=True)
    assert len(list(admin.statistics_list(count=1, max_count=2))) == 2


def test_statistics_need_view_statistics(user_client):
    expect_api_error(user_client.statistics, 400, error="error-not-allowed")
    expect_api_error(lambda: list(user_client.statistics_list()), 400, error="error-not-allowed")


def test_set_and_unset_an_asset(server, admin, user_client, tmp_path):
    path = tmp_path / "logo.png"
    image = png(40, 20)
    path.write_bytes(image)

    resp = admin.assets_set_asset("logo", str(path))
    assert resp["success"] is True, resp
    assert asset_setting(server, "logo")["url"] == "assets/logo.png"
    served = requests.get(f"{server.url}/assets/logo.png", timeout=10)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.content == image

    # Only holders of manage-assets may change them.
    expect_api_error(lambda: user_client.assets_set_asset("logo", str(path)), 403)
    expect_api_error(lambda: user_client.assets_unset_asset("logo"), 403)

    resp = admin.assets_unset_asset("logo")
    assert resp["success"] is True, resp
    assert "url" not in asset_setting(server, "logo")
    assert requests.get(f"{server.url}/assets/logo.png", timeout=10).status_code == 404


def test_an_asset_of_the_wrong_size_is_refused(admin, tmp_path):
    path = tmp_path / "icon.png"
    path.write_bytes(png(20, 20))
    expect_api_error(
        lambda: admin.assets_set_asset("favicon_32", str(path)),
        400,
        error="Invalid file width [error-invalid-file-width]",
        error_type="error-invalid-file-width",
    )
