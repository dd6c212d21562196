"""End to end, as a browser would: founder logs in, makes pupils; a pupil's kernel calls the API.

A real hub from our jupyterhub_config.py (node proxy, real single-user servers). As root
the hub isolates members: each pupil's server runs as its own system user with one Unix
group per space and role, from the members' environment (/opt/twinspace/user, built here
when out of date). Not root: development mode, and the isolation checks are skipped.
"""

from __future__ import annotations

import asyncio
import grp
import json
import os
import pwd
import secrets
import subprocess
import time
import uuid

import pytest
import requests
from hubharness import ACCESS_SCOPE
from hubproc import ROOT, USER_ENV, TwinSpaceHub, browser_login, isolated_hub
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClosedError, websocket_connect
from twinspace_hub.spawner import (
    SpawnException,
    TwinSpaceSpawner,
    system_username,
    unix_group,
    unix_groups_for,
    websocket_limit_bytes,
    write_server_config,
)

UPLOAD_LIMIT_MB = 12.0  # > 10 MiB, Tornado's default websocket message limit
SPAWN_TIMEOUT = 180
needs_root = pytest.mark.skipif(not ROOT, reason="system users need root")

pytestmark = [
    pytest.mark.hub,
    pytest.mark.timeout(900),
]


# --- names (no hub) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hub_name", "expected"),
    [("anna", "ts-anna"), ("p-1_x", "ts-p-1_x"), ("a" * 29, "ts-" + "a" * 29)],
)
def test_plain_names_map_to_ts_name(hub_name, expected):
    assert system_username(hub_name) == expected


@pytest.mark.parametrize("hub_name", ["ana.l", "Ana.L", "a" * 30, "x" * 63, "léa zoé", "a.b"])
def test_other_names_are_valid_short_and_hashed(hub_name):
    name = system_username(hub_name)
    assert len(name) <= 32
    assert name.startswith("ts-")
    assert all(ch in "abcdefghijklmnopqrstuvwxyz0123456789-_" for ch in name)
    assert name == system_username(hub_name)  # deterministic
    assert name != "ts-" + hub_name


def test_names_that_clean_alike_stay_apart():
    names = ["a.b", "a-b", "a_b", "A.b", "a" * 40, "a" * 41, "a" * 30 + ".x", "a" * 30 + "-x"]
    assert len({system_username(n) for n in names}) == len(names)


def test_unix_groups_per_space_and_role():
    groups = unix_groups_for(
        ["space:twin:pupil", "space:twin:teacher_admin", "space:other:pupil_admin",
         "not-a-space", "space:odd:emperor"]
    )
    assert groups == ["ts-other-pa", "ts-twin-p", "ts-twin-ta"]
    long_slug = "a-very-long-space-name-for-a-school-project"
    assert len(unix_group(long_slug, "teacher_admin")) <= 32
    assert unix_group(long_slug, "pupil") != unix_group(long_slug + "x", "pupil")
    assert unix_group(long_slug, "pupil") != unix_group(long_slug, "pupil_admin")


def test_server_config_raises_the_websocket_limit(tmp_path):
    path = write_server_config(tmp_path / "cfg", 20)
    settings = json.loads(path.read_text())["ServerApp"]["tornado_settings"]
    assert settings["websocket_max_message_size"] == int(20 * 1.5 * 2**20) + 2**20
    assert websocket_limit_bytes(20) > 20 * 2**20 * 4 / 3  # room for base64
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.parent.stat().st_mode & 0o777 == 0o755


@needs_root
def test_missing_members_env_says_how_to_build_it(tmp_path):
    spawner = TwinSpaceSpawner(isolate_users=True, user_env_prefix=str(tmp_path / "none"))
    with pytest.raises(SpawnException) as caught:
        asyncio.run(spawner._prepare_system_user())
    assert caught.value.message == (
        f"The members' Python environment is missing at {tmp_path / 'none'}: run "
        "`twinspace user-env` (or make user-env) as root."
    )


# --- the real hub ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ts_hub():
    with isolated_hub("twinspace-spawn-", settings={"upload_limit_mb": UPLOAD_LIMIT_MB},
                      missing=pytest.skip) as hub:
        yield hub


def hub_xsrf(session: requests.Session) -> str:
    return cookie(session, "_xsrf", "/hub/")


def cookie(session: requests.Session, name: str, path: str) -> str:
    for c in session.cookies:
        if c.name == name and c.path == path:
            return c.value
    known = [(c.name, c.path) for c in session.cookies]
    raise AssertionError(f"no {name} cookie for {path}: {known}")


class Browser:
    """A logged-in requests.Session used the way the hub's pages use it."""

    def __init__(self, hub: TwinSpaceHub, name: str, password: str):
        self.hub = hub
        self.name = name
        self.session = browser_login(hub, name, password)
        r = self.session.login_response
        assert r.status_code == 302, (r.status_code, r.text[:500])

    def hub_api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-XSRFToken": hub_xsrf(self.session), "Sec-Fetch-Mode": "cors"}
        return self.session.request(
            method, f"{self.hub.api_url}{path}", headers=headers, timeout=60, **kwargs
        )

    def new_token(self) -> str:
        r = self.hub_api(
            "POST", f"users/{self.name}/tokens", json={"scopes": [ACCESS_SCOPE], "note": "page"}
        )
        assert r.status_code == 201, r.text
        return r.json()["token"]

    # --- the member's own server ---

    def start_server(self) -> None:
        r = self.hub_api("POST", f"users/{self.name}/server")
        assert r.status_code in (201, 202), r.text
        self.wait_server(ready=True)
        # Open the server as a browser does: the OAuth round trip sets its cookies.
        page = self.session.get(f"{self.hub.url}user/{self.name}/lab", timeout=60)
        assert page.status_code == 200, page.text[:500]

    def stop_server(self) -> None:
        r = self.hub_api("DELETE", f"users/{self.name}/server")
        assert r.status_code in (202, 204), r.text
        self.wait_server(ready=False)

    def wait_server(self, ready: bool) -> None:
        started = time.monotonic()
        while True:
            r = self.session.get(f"{self.hub.api_url}users/{self.name}", timeout=30)
            assert r.status_code == 200, r.text
            server = r.json().get("servers", {}).get("")
            waited = time.monotonic() - started
            if ready and server and server.get("ready"):
                return
            if not ready and not server:
                return
            # The server model is there from the POST on: gone means the spawn failed.
            failed = ready and not server and waited > 5
            if failed or waited > SPAWN_TIMEOUT:
                raise AssertionError(
                    f"{self.name}'s server: ready={ready} not reached ({server})\n"
                    + self.hub.log[-6000:]
                )
            time.sleep(0.5)

    def server_url(self, path: str) -> str:
        return f"{self.hub.url}user/{self.name}/{path}"

    def start_kernel(self) -> str:
        xsrf = cookie(self.session, "_xsrf", f"/user/{self.name}/")
        r = self.session.post(
            self.server_url("api/kernels"),
            json={"name": "python3"},
            headers={"X-XSRFToken": xsrf, "Sec-Fetch-Mode": "cors"},
            timeout=60,
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def run(self, kernel_id: str, code: str, timeout: float = 120) -> str:
        """Execute `code` over the kernel's websocket; the printed output (raises on error)."""
        return asyncio.run(self._run(kernel_id, code, timeout))

    async def _run(self, kernel_id: str, code: str, timeout: float) -> str:
        base = f"/user/{self.name}/"
        cookies = "; ".join(
            f"{c.name}={c.value}" for c in self.session.cookies if base.startswith(c.path)
        )
        url = self.server_url(f"api/kernels/{kernel_id}/channels").replace("http", "ws", 1)
        request = HTTPRequest(
            f"{url}?session_id={uuid.uuid4().hex}",
            headers={"Cookie": cookies, "Sec-Fetch-Mode": "websocket"},
            request_timeout=60,
        )
        msg_id = uuid.uuid4().hex
        request_message = json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.name,
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {},
            "metadata": {},
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
            "channel": "shell",
            "buffers": [],
        })
        for attempt in range(3):
            ws = await websocket_connect(request, max_message_size=256 * 2**20)
            try:
                ws.write_message(request_message)
                break
            except WebSocketClosedError:
                # The server closes a new connection whose kernel did not answer its first
                # kernel_info in time (a loaded machine): nothing was sent, connect again.
                if attempt == 2:
                    raise
        out: list[str] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                assert left > 0, f"no answer from the kernel in {timeout}s; output so far {out}"
                raw = await asyncio.wait_for(ws.read_message(), left)
                assert raw is not None, f"websocket closed ({ws.close_code} {ws.close_reason})"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    raise AssertionError("\n".join(content["traceback"]))
                elif kind == "status" and content["execution_state"] == "idle":
                    return "".join(out)
        finally:
            ws.close()


@pytest.fixture(scope="module")
def founder(ts_hub):
    """(a) A founder teacher with a password, logged in through the form, makes a space."""
    hub = ts_hub
    name = f"founder{secrets.token_hex(3)}"
    password = "correct horse battery"
    admin = {"Authorization": f"token {hub.tokens['twinspace-admin']}"}
    r = requests.post(f"{hub.api_base}users", headers=admin, timeout=30, json={
        "name": name, "kind": "teacher", "display_name": "Fiona Founder", "password": password,
        "school": "Lycée A", "country": "FR",
    })
    assert r.status_code == 201, r.text
    browser = Browser(hub, name, password)
    token = browser.new_token()  # what a page of ours gets for calling the API
    slug = f"spawn-{secrets.token_hex(3)}"
    r = requests.post(f"{hub.api_base}spaces", headers={"Authorization": f"token {token}"},
                      json={"slug": slug, "title": "Spawn test"}, timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "teacher_admin"
    return {"name": name, "browser": browser, "token": token, "slug": slug}


def make_pupils(hub, founder, names: list[str]) -> list[dict]:
    r = requests.post(
        f"{hub.api_base}spaces/{founder['slug']}/pupils",
        headers={"Authorization": f"token {founder['token']}"},
        json={"names": names},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return r.json()["items"]


IDENTITY_CODE = """
import json, os, sys
from twinspace_kernel.client import TwinSpaceClient
me = TwinSpaceClient().get("me")
try:
    open({db!r}, "rb").read(1)
    db = "readable"
except OSError as e:
    db = type(e).__name__
from twinspace_kernel.i18n import current_language
print(json.dumps({{"uid": os.getuid(), "groups": os.getgroups(), "me": me, "db": db,
                  "home": os.environ["HOME"], "cwd": os.getcwd(), "python": sys.executable,
                  "language": current_language()}}))
"""


def identity(browser: Browser, kernel_id: str, hub) -> dict:
    db = str(hub.data_dir / "service" / "twinspace.sqlite")
    return json.loads(browser.run(kernel_id, IDENTITY_CODE.format(db=db)).strip())


def role_in(me: dict, slug: str) -> str | None:
    return next((s["role"] for s in me.get("spaces", []) if s["slug"] == slug), None)


def test_pupil_kernel_calls_the_service_as_the_pupil(ts_hub, founder):
    """(b, c) A pupil logs in with the generated password; their kernel is them, and only them."""
    hub = ts_hub
    [pupil] = make_pupils(hub, founder, ["Ana Lopez"])
    assert 5 <= len(pupil["password"]) <= 8
    browser = Browser(hub, pupil["name"], pupil["password"])
    # The pupil's language reaches the apps in their kernel.
    r = requests.patch(f"{hub.api_base}me", json={"locale": "fr"}, timeout=30,
                       headers={"Authorization": f"token {browser.new_token()}"})
    assert r.status_code == 200, r.text
    browser.start_server()
    kernel = browser.start_kernel()

    seen = identity(browser, kernel, hub)
    assert seen["language"] == "fr"
    assert seen["me"]["name"] == pupil["name"]
    assert seen["me"]["kind"] == "user"
    assert seen["me"]["user"]["kind"] == "pupil"
    assert role_in(seen["me"], founder["slug"]) == "pupil"

    # A message larger than Tornado's 10 MiB default (an upload widget's file) gets through.
    big = 11 * 2**20
    assert browser.run(kernel, f"x = '{'a' * big}'\nprint(len(x))").strip() == str(big)

    if not ROOT:
        pytest.skip("not root: development mode, members are not isolated")
    account = pwd.getpwnam(system_username(pupil["name"]))
    assert seen["uid"] == account.pw_uid != 0
    assert seen["home"] == account.pw_dir == f"/home/{account.pw_name}"
    assert os.stat(account.pw_dir).st_mode & 0o777 == 0o700
    assert seen["python"].startswith(USER_ENV + "/")
    pupil_group = grp.getgrnam(unix_group(founder["slug"], "pupil"))
    assert pupil_group.gr_gid in seen["groups"]
    assert seen["db"] == "PermissionError"
    # No password login for the system account: the hub is the only way in.
    shadow = subprocess.run(["getent", "shadow", account.pw_name], capture_output=True, text=True)
    assert shadow.stdout.split(":")[1].startswith(("!", "*"))


@needs_root
def test_role_change_moves_the_system_user_to_the_new_group(ts_hub, founder):
    """(d) Made pupil administrator, the pupil's restarted server has that group instead."""
    hub = ts_hub
    [pupil] = make_pupils(hub, founder, ["Ben Ng"])
    browser = Browser(hub, pupil["name"], pupil["password"])
    browser.start_server()
    slug = founder["slug"]
    sysname = system_username(pupil["name"])
    old, new = unix_group(slug, "pupil"), unix_group(slug, "pupil_admin")
    assert sysname in grp.getgrnam(old).gr_mem

    admin = {"Authorization": f"token {hub.tokens['twinspace-admin']}"}
    r = requests.put(f"{hub.api_base}spaces/{slug}/members/{pupil['name']}", headers=admin,
                     json={"role": "pupil_admin"}, timeout=30)
    assert r.status_code == 200, r.text
    browser.stop_server()
    browser.start_server()

    seen = identity(browser, browser.start_kernel(), hub)
    assert role_in(seen["me"], slug) == "pupil_admin"
    assert grp.getgrnam(new).gr_gid in seen["groups"]
    assert grp.getgrnam(old).gr_gid not in seen["groups"]
    assert sysname in grp.getgrnam(new).gr_mem
    assert sysname not in grp.getgrnam(old).gr_mem


@pytest.fixture(scope="module")
def dev_hub():
    """A hub in development mode (isolate_users off), even when it runs as root."""
    with isolated_hub("twinspace-dev-", settings={"isolate_users": False},
                      missing=pytest.skip) as hub:
        yield hub


def test_development_mode_runs_everyone_as_the_hub_user_and_says_so(dev_hub):
    hub = dev_hub
    admin = {"Authorization": f"token {hub.tokens['twinspace-admin']}"}
    r = requests.post(f"{hub.api_base}users", headers=admin, timeout=30, json={
        "name": "devteacher", "kind": "teacher", "password": "development only",
    })
    assert r.status_code == 201, r.text
    browser = Browser(hub, "devteacher", "development only")
    browser.start_server()  # as root too: --allow-root is added
    seen = identity(browser, browser.start_kernel(), hub)
    assert seen["me"]["name"] == "devteacher"
    assert seen["uid"] == os.geteuid()
    folder = str((hub.data_dir / "dev-homes" / "devteacher").resolve())
    assert seen["home"] == seen["cwd"] == folder
    assert "members are NOT isolated: development mode" in hub.log
