"""Harness for the Python compatibility suite.

Starts a real Comet server (the `comet` binary) and hands out clients of the
unchanged PyPI package `rocketchat-api` (module ``rocketchat_API``).

Expected behaviour is that of a real Rocket.Chat 8.x server; every assertion
in the test modules is written against that, never against what Comet happens
to do.

Facts about rocketchat-api 3.7.1 the tests rely on (read from its source):

* every REST helper returns the parsed JSON ``dict`` on a 2xx answer and
  raises ``RocketApiException(status_code, text, json)`` when the answer is
  >399 and its JSON body has ``"success": false`` (``.status_code``,
  ``.error`` = body["error"] or "Unknown error", ``.error_type`` =
  body["errorType"] or None, ``.response_json``);
  other non-2xx answers raise ``RocketBadStatusCodeException``;
* ``login()`` (also run by the constructor when user+password are given)
  posts ``{"username": u, "password": p}`` or, when ``u`` looks like an email,
  ``{"user": u, "password": p}``; HTTP 401 raises
  ``RocketAuthenticationException``, anything else that is not
  ``200 + status == "success"`` raises ``RocketConnectionException``;
* ``call_api_post`` renames a top level ``password`` key to ``pass`` for every
  method except ``users.create`` (that is how ``users_register`` sends
  ``pass``);
* the client has no personal-access-token helpers; the suite reaches those
  endpoints through the client's own generic ``call_api_get`` /
  ``call_api_post`` and its public ``headers`` dict (for ``X-2fa-*``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest
import requests
from rocketchat_API.APIExceptions.RocketExceptions import RocketApiException
from rocketchat_API.rocketchat import RocketChat

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
COMET_BIN = os.environ.get("COMET_BIN", str(REPO_ROOT / "target" / "debug" / "comet"))

# Passwords satisfy Rocket.Chat's strictest default password policy
# (>= 14 chars, upper, lower, digit, symbol, no 3 repeated characters).
ADMIN_USERNAME = "admin"
# Comet's own abuse-control settings, turned off for the suite (0 = no limit).
ABUSE_CONTROLS_OFF = (
    "Comet_Abuse_New_Account_Age_Hours",
    "Comet_Abuse_Messages_Per_User_Limit",
    "Comet_Abuse_Room_Creation_Per_Day",
)
ADMIN_PASS = "Adm1n!Compat-Pw#42"
ADMIN_EMAIL = "admin@example.com"
ADMIN_NAME = "Administrator"
USER_PASS = "Us3r!Compat-Pw#17"
# Rocket.Chat >= 8.0 only issues users.createToken tokens when the request's
# `secret` equals the server's CREATE_TOKENS_FOR_USERS_SECRET env var.
CREATE_TOKENS_SECRET = "compat-create-tokens-secret-5f1d"

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10  # seconds, passed to every client

# Exact strings of a Rocket.Chat 8.x server (ApiClass.ts; its breaking changes wait for 9.0):
# a route's declared `permissionsRequired` missing, and a handler's own `API.v1.forbidden()`.
NOT_LOGGED_IN = "You must be logged in to do this."
NO_PERMISSION_8X = "User does not have the permissions required for this action [error-unauthorized]"
FORBIDDEN_8X = "unauthorized"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unique(prefix: str = "compat") -> str:
    """A fresh username: lower case, matches [0-9a-zA-Z-_.]+ and the client's
    email regex when used as the local part of an address."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CometServer:
    """One `comet` process with its own data dir and port."""

    def __init__(self, rate_limiter: bool = False, name: str = "comet") -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.rate_limiter = rate_limiter
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{name}-compat-")
        self.data_dir = Path(self._tmp.name) / "data"
        self.data_dir.mkdir()
        self.log_path = Path(self._tmp.name) / "server.log"
        self._log = None
        self.proc: Optional[subprocess.Popen] = None

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            PORT=str(self.port),
            COMET_DATA_DIR=str(self.data_dir),
            ROOT_URL=self.url,
            ADMIN_USERNAME=ADMIN_USERNAME,
            ADMIN_PASS=ADMIN_PASS,
            ADMIN_EMAIL=ADMIN_EMAIL,
            ADMIN_NAME=ADMIN_NAME,
            CREATE_TOKENS_FOR_USERS="true",
            CREATE_TOKENS_FOR_USERS_SECRET=CREATE_TOKENS_SECRET,
        )
        # The test users register seconds before they upload and post links, at machine
        # speed: Comet's abuse controls for new accounts and floods are tested on their own
        # (crates/server/tests/e2e/abuse.rs).
        for setting in ABUSE_CONTROLS_OFF:
            env[f"OVERWRITE_SETTING_{setting}"] = "0"
        if not self.rate_limiter:
            env["OVERWRITE_SETTING_API_Enable_Rate_Limiter"] = "false"
        else:
            env.pop("OVERWRITE_SETTING_API_Enable_Rate_Limiter", None)
        return env

    def start(self) -> "CometServer":
        if not os.access(COMET_BIN, os.X_OK):
            pytest.exit(f"comet binary not found or not executable: {COMET_BIN}", returncode=3)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [COMET_BIN],
            env=self.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "<no log>"
        return "\n".join(lines[-n:])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"comet exited with {self.proc.returncode} before it was ready\n{self.log_tail()}"
                )
            try:
                r = requests.get(f"{self.url}/api/info", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:  # not listening yet
                last = repr(e)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"comet not ready after {READY_TIMEOUT}s (last: {last})\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        self.stop()
        self._tmp.cleanup()

    # --- client helpers -------------------------------------------------

    def anon(self) -> RocketChat:
        """A client without credentials."""
        return RocketChat(server_url=self.url, timeout=HTTP_TIMEOUT)

    def login(self, user: str, password: str) -> RocketChat:
        """Log in through the client's constructor (user + password)."""
        return RocketChat(user, password, server_url=self.url, timeout=HTTP_TIMEOUT)

    def with_token(self, user_id: str, auth_token: str) -> RocketChat:
        """A client using an existing token (constructor user_id + auth_token)."""
        return RocketChat(
            user_id=user_id, auth_token=auth_token, server_url=self.url, timeout=HTTP_TIMEOUT
        )

    def admin(self) -> RocketChat:
        return self.login(ADMIN_USERNAME, ADMIN_PASS)


@dataclasses.dataclass
class User:
    id: str
    username: str
    email: str
    name: str
    password: str
    register_response: dict


def register_user(server: CometServer, password: str = USER_PASS) -> User:
    """Register a fresh user anonymously through users.register."""
    username = unique()
    email = f"{username}@example.com"
    name = f"Compat {username}"
    resp = server.anon().users_register(
        email=email, name=name, password=password, username=username
    )
    assert resp["success"] is True, resp
    return User(
        id=resp["user"]["_id"],
        username=username,
        email=email,
        name=name,
        password=password,
        register_response=resp,
    )


def expect_api_error(
    fn: Callable[[], object],
    status: int,
    error: Optional[str] = None,
    error_type: Optional[str] = None,
) -> RocketApiException:
    """Run ``fn`` and require the client to raise RocketApiException with the
    given HTTP status (and, when given, exact ``error`` / ``errorType``)."""
    with pytest.raises(RocketApiException) as info:
        fn()
    exc = info.value
    assert exc.status_code == status, (exc.status_code, exc.response)
    assert exc.response_json.get("success") is False, exc.response
    if error is not None:
        assert exc.error == error, exc.response
    if error_type is not None:
        assert exc.error_type == error_type, exc.response
    return exc


def two_factor_password_headers(password: str) -> dict:
    """Headers a client sends to satisfy Rocket.Chat's 2FA check with the
    password method (no TOTP/email 2FA configured for the user)."""
    return {"X-2fa-Code": sha256_hex(password), "X-2fa-Method": "password"}


# --- fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session")
def server() -> Iterator[CometServer]:
    srv = CometServer(rate_limiter=False, name="comet")
    srv.start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
def admin(server: CometServer) -> RocketChat:
    """A freshly logged-in admin client (its own login token)."""
    return server.admin()


@pytest.fixture
def make_user(server: CometServer) -> Callable[..., User]:
    """Factory: register a new user with a unique username."""

    def _make(password: str = USER_PASS) -> User:
        return register_user(server, password)

    return _make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user()


@pytest.fixture
def user_client(server: CometServer, user: User) -> RocketChat:
    """The registered ``user`` fixture, logged in by username."""
    return server.login(user.username, user.password)
