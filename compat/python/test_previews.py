"""Link previews (``API_Embed``) through rocketchat-api 3.7.1, unchanged:
``chat_get_url_preview(room_id, url)`` GETs ``chat.getURLPreview`` with
``roomId`` and ``url``; a posted message's ``urls`` get the page's metadata
after the post, read back with ``chat_get_message(msg_id)``.

The pages come from a local HTTP server, so this suite runs its own Comet
with ``COMET_LINK_PREVIEW_ALLOW_PRIVATE`` (private addresses are refused
otherwise) and lets the admin clear ``API_EmbedIgnoredHosts`` and add the
page server's port to ``API_EmbedSafePorts``.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import CometServer, expect_api_error, register_user

PAGE = b"""<!doctype html><html><head>
<title>Compat page</title>
<meta property="og:title" content="Compat &amp; OG">
<meta name="description" content="About the page">
</head><body></body></html>"""


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        if self.path == "/page":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args):
        pass


class _PreviewServer(CometServer):
    def env(self):
        env = super().env()
        env["COMET_LINK_PREVIEW_ALLOW_PRIVATE"] = "true"
        return env


@pytest.fixture(scope="module")
def pages():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def preview_server(pages):
    srv = _PreviewServer(name="comet-previews")
    srv.start()
    try:
        admin = srv.admin()
        port = pages.rsplit(":", 1)[1]
        assert admin.settings_update("API_EmbedIgnoredHosts", "")["success"]
        assert admin.settings_update("API_EmbedSafePorts", f"80, 443, {port}")["success"]
        yield srv
    finally:
        srv.cleanup()


def test_get_url_preview(preview_server, pages):
    u = register_user(preview_server)
    c = preview_server.login(u.username, u.password)
    resp = c.chat_get_url_preview("GENERAL", f"{pages}/page")
    assert resp["success"] is True
    preview = resp["urlPreview"]
    assert preview["url"] == f"{pages}/page"
    assert preview["ignoreParse"] is True
    assert preview["meta"] == {
        "pageTitle": "Compat page",
        "ogTitle": "Compat & OG",
        "description": "About the page",
    }
    assert preview["headers"] == {
        "contentType": "text/html; charset=utf-8",
        "contentLength": str(len(PAGE)),
    }
    missing = c.chat_get_url_preview("GENERAL", f"{pages}/missing")
    assert missing["urlPreview"] == {"url": f"{pages}/missing", "meta": {}, "ignoreParse": True}
    expect_api_error(
        lambda: c.chat_get_url_preview("no-such-room", f"{pages}/page"),
        400,
        error="Not allowed [error-not-allowed]",
        error_type="error-not-allowed",
    )


def test_posted_message_gets_its_preview(preview_server, pages):
    u = register_user(preview_server)
    c = preview_server.login(u.username, u.password)
    sent = c.chat_post_message(f"see {pages}/page", room_id="GENERAL")["message"]
    assert sent["urls"] == [{"url": f"{pages}/page", "meta": {}}]
    deadline = time.time() + 10
    while True:
        message = c.chat_get_message(msg_id=sent["_id"])["message"]
        if message["urls"][0]["meta"]:
            break
        assert time.time() < deadline, message
        time.sleep(0.05)
    assert message["urls"][0]["meta"]["ogTitle"] == "Compat & OG"
    assert message["urls"][0]["headers"]["contentType"] == "text/html; charset=utf-8"
