"""The public view (F30, F31): /services/public/ on a real hub from our configuration.

One hub for the module (our jupyterhub_config.py, node proxy); as root the public view
runs, kernels included, as the system user `ts-public` from the members' environment.
A teacher administrator makes a space public and publishes pages through the API; the
anonymous reader sees only those, rendered by Voila from the published copies, never the
drafts, the Teachers' Room, another space, a pupil's surname or a cell's source.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import requests
from browser import CHROMIUM, launch_chromium
from hubproc import ROOT, isolated_hub

MAX_KERNELS = 2
TAG = secrets.token_hex(3)
MARKER = f"SOURCE-MARKER-{TAG}"  # in a teacher's code cell: its source must never show
SURNAME = f"Quennell{TAG}"  # a pupil's surname: never shown to the public
KERNEL_ID_RE = re.compile(r'"kernelId": "([0-9a-f-]{36})"')

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def hub():
    settings = {"public_max_kernels": MAX_KERNELS, "public_pool_size": 1}
    with isolated_hub("twinspace-public-", settings=settings, missing=pytest.skip,
                      env={"TWINSPACE_PUBLIC_RECHECK_SECONDS": "1"}) as real:
        wait_for_public_view(real)
        yield real


def wait_for_public_view(hub, timeout: float = 120) -> None:
    """Until Voila answers (a page that reloads itself answers while it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = requests.get(public_url(hub), timeout=10)
            if r.status_code == 200 and "Public spaces" in r.text:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"no public view after {timeout}s\n{hub.log[-3000:]}"
        time.sleep(0.25)


def public_url(hub, path: str = "") -> str:
    return f"{hub.url}services/public/{path}"


class Api:
    """The TwinSpace API with one token (or none: the anonymous public)."""

    def __init__(self, hub, token: str | None):
        self.base = hub.api_base
        self.headers = {"Authorization": f"token {token}"} if token else {}

    def call(self, method: str, path: str, expect: int | None = None, **kwargs):
        r = requests.request(method, self.base + path, headers=self.headers, timeout=60,
                             **kwargs)
        if expect is not None:
            assert r.status_code == expect, (method, path, r.status_code, r.text[:300])
        return r

    def ok(self, method: str, path: str, **kwargs):
        r = self.call(method, path, **kwargs)
        assert r.status_code < 300, (method, path, r.status_code, r.text[:300])
        return r.json() if r.content else None


@pytest.fixture(scope="module")
def world(hub):
    """A public space with a published page (web content, a pupil's blog post and a
    teacher's own cell), a draft, a published Teachers' Room page, and a private space."""
    admin = Api(hub, hub.tokens["twinspace-admin"])
    name = f"pubta{TAG}"
    admin.ok("POST", "users", json={"name": name, "kind": "teacher",
                                    "display_name": "Pia Publisher", "password": "pw-" + TAG * 3})
    hub.create_user(name)
    ta = Api(hub, hub.token_for(name))
    slug, other = f"open-{TAG}", f"closed-{TAG}"
    ta.ok("POST", "spaces", json={"slug": slug, "title": f"Open space {TAG}",
                                  "description": f"Read about us {TAG}"})
    ta.ok("POST", "spaces", json={"slug": other, "title": f"Private space {TAG}"})

    def page(space, section, title):
        return ta.ok("POST", f"spaces/{space}/pages", json={"section": section, "title": title})

    shown = page(slug, "activities", f"Shown page {TAG}")
    content = ta.ok("POST", f"pages/{shown['id']}/apps", json={"kind": "web_content"})
    ta.ok("PUT", f"apps/{content['id']}/content",
          json={"html": f"<p>Public web content {TAG}</p>"})
    blog = ta.ok("POST", f"pages/{shown['id']}/apps", json={"kind": "blog", "title": "Our blog"})
    [pupil] = ta.ok("POST", f"spaces/{slug}/pupils",
                    json={"names": [f"Zoe {SURNAME}"]})["items"]
    hub.create_user(pupil["name"])
    Api(hub, hub.token_for(pupil["name"])).ok(
        "POST", f"apps/{blog['id']}/posts", json={"title": f"Pupil post {TAG}", "body": "Hello"})
    # A teacher's own cell (F24), as saved from JupyterLab into the shared volume.
    volume_nb = hub.data_dir / "spaces" / slug / "activities" / f"{shown['slug']}.ipynb"
    nb = nbformat.read(volume_nb, as_version=4)
    service_db = hub.data_dir / "service" / "twinspace.sqlite"
    nb.cells.append(nbformat.v4.new_code_cell(
        f"# {MARKER}\nprint('Teacher cell ' + 'ran')\n"
        "def probe(path):\n"
        "    try:\n        open(path, 'rb').read(1)\n        return 'readable'\n"
        "    except OSError as e:\n        return type(e).__name__\n"
        f"print('service data:', probe({str(service_db)!r}))"
    ))
    nbformat.write(nb, volume_nb)

    draft = page(slug, "activities", f"Draft page {TAG}")
    draft_app = ta.ok("POST", f"pages/{draft['id']}/apps", json={"kind": "web_content"})
    ta.ok("PUT", f"apps/{draft_app['id']}/content", json={"html": f"<p>Draft text {TAG}</p>"})
    room = page(slug, "teachers_room", f"Staff room page {TAG}")
    elsewhere = page(other, "activities", f"Other space page {TAG}")
    for published in (shown, room, elsewhere):
        ta.ok("PATCH", f"pages/{published['id']}", json={"published": True})
    ta.ok("PATCH", f"spaces/{slug}", json={"public": True})
    pages = {p["title"]: p for p in ta.ok("GET", f"spaces/{slug}/pages")["items"]}
    return {
        "ta": ta, "slug": slug, "other": other, "shown": shown, "draft": draft, "room": room,
        "elsewhere": elsewhere, "home": pages["Home"], "pupil": pupil,
        "secrets": [f"Draft page {TAG}", f"Draft text {TAG}", f"Staff room page {TAG}",
                    f"Other space page {TAG}", f"Private space {TAG}", SURNAME, MARKER,
                    "Traceback", "show_requested_page", "root:x:0:0"],
    }


def raw_get(hub, path: str) -> tuple[int, dict, str]:
    """GET exactly this path (no client-side clean-up of `..` or %-escapes), following
    redirects (the proxy sends paths that climb out of /services/public/ to the hub)."""
    target = f"/services/public/{path}"
    for _hop in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=120)
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            status = response.status
            headers = {k.lower(): v for k, v in response.getheaders()}
            body = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        location = urlsplit(headers.get("location", ""))
        if status not in (301, 302, 303, 307, 308) or not location.path:
            headers["x-final-path"] = target
            return status, headers, body
        target = location.path + (f"?{location.query}" if location.query else "")
    raise AssertionError(f"too many redirects from {path}")


def release(hub, page_html: str, headers: dict) -> None:
    """Leave a rendered page as a browser does: its kernel is shut down."""
    found = KERNEL_ID_RE.search(page_html)
    assert found, page_html[-2000:]
    xsrf = re.search(r"_xsrf=([^;]+)", headers.get("set-cookie", ""))
    assert xsrf, headers
    # Only for the public view: the hub and members' servers keep their own.
    assert "Path=/services/public/" in headers["set-cookie"], headers["set-cookie"]
    r = requests.post(public_url(hub, f"voila/api/shutdown/{found[1]}"), timeout=60,
                      cookies={"_xsrf": xsrf[1]}, headers={"X-XSRFToken": xsrf[1]})
    assert r.status_code == 204, r.text


def published_copy(hub, world, page) -> Path:
    return hub.data_dir / "public" / world["slug"] / page["section"] / f"{page['slug']}.ipynb"


def test_published_copies_follow_publication(hub, world):
    """Copies outside the shared volume, only of what the public may read."""
    assert published_copy(hub, world, world["shown"]).is_file()
    assert published_copy(hub, world, world["home"]).is_file()
    assert not published_copy(hub, world, world["draft"]).exists()
    assert not published_copy(hub, world, world["room"]).exists()
    assert not (hub.data_dir / "public" / world["other"]).exists()
    copy = nbformat.read(published_copy(hub, world, world["shown"]), as_version=4)
    assert any(MARKER in cell.source for cell in copy.cells)  # the teacher's cell came along
    assert not any(cell.get("metadata", {}).get("twinspace", {}).get("role") == "tools"
                   for cell in copy.cells)
    mode = published_copy(hub, world, world["shown"]).stat().st_mode & 0o777
    assert mode == 0o644


def test_tricky_public_urls_show_nothing_private(hub, world):
    """(a) Voila's tree, contents, files, nbconvert, `..` and encoded paths, unpublished
    and other spaces' ids: no draft, no private section, no surname, no source."""
    shown, draft, room = world["shown"]["id"], world["draft"]["id"], world["room"]["id"]
    elsewhere, home = world["elsewhere"]["id"], world["home"]["id"]
    tricky = [
        "tree", "tree/", "voila/tree", "voila/tree/", "voila/tree/public.ipynb",
        "voila/render/public.ipynb", "voila/render/app.py", "render/public.ipynb",
        "api/contents", "api/contents/", "api/contents/public.ipynb", "voila/api/contents",
        "voila/api/contents/", "voila/api/contents/public.ipynb", "api/kernels", "api/sessions",
        "api/kernelspecs", "nbconvert/html/public.ipynb", "voila/nbconvert/html/public.ipynb",
        "files/public.ipynb", "voila/files/public.ipynb", "voila/files/app.py",
        "voila/files/page.py", "edit/public.ipynb", "notebooks/public.ipynb", "lab", "login",
        "public.ipynb", "app.py", "page.py", "view/public.ipynb",
        "voila/static/../../../../../../etc/passwd",
        "voila/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "voila/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "voila/templates/..%2f..%2f..%2f..%2f..%2f..%2fetc/passwd",
        "voila/templates/lab/static/..%2f..%2f..%2f..%2ftwinspace_public%2fpage.py",
        "voila/labextensions/..%2f..%2f..%2f..%2f..%2fetc/passwd",
        "%2e%2e/%2e%2e/spaces/", "..%2f..%2fservice%2ftwinspace.sqlite",
        f"%2e%2e/%2e%2e/spaces/{world['slug']}/activities/{world['draft']['slug']}.ipynb",
        f"{world['slug']}/activities/{world['draft']['slug']}.ipynb",
        f"{world['slug']}/teachers_room/", f"{world['slug']}/pupils_corner/",
        f"voila/files/{world['slug']}/activities/{world['shown']['slug']}.ipynb",
        "view", "view?page=", "view?page=abc", "view?page=-1", "view?page=99999999",
        f"view?page={draft}", f"view?page={room}", f"view?page={elsewhere}",
        f"view?page={shown}%2f..", f"view?page={shown}&template=../../../etc",
        f"view?page={shown}&theme=../../x", f"view/..%2f..%2fview?page={draft}",
        f"view?page=../{draft}", f"view?page={draft}%00",
    ]
    for path in tricky:
        status, headers, body = raw_get(hub, path)
        # Refused, or sent out of the public view to the hub (its login or 404 page).
        left = not headers["x-final-path"].startswith("/services/public/")
        assert status in (400, 403, 404, 405) or left, (path, status, body[:300])
        for secret in world["secrets"]:
            assert secret not in body, (path, secret, body[:500])

    # What the public may read is there (the check above found something to refuse).
    status, _headers, index = raw_get(hub, "")
    assert status == 200, index
    assert f"Open space {TAG}" in index and f"Shown page {TAG}" in index
    assert f"Read about us {TAG}" in index
    for secret in world["secrets"]:
        assert secret not in index, secret
    for page_id in (shown, home):
        status, headers, body = raw_get(hub, f"view?page={page_id}")
        assert status == 200, body[-2000:]
        for secret in world["secrets"]:
            assert secret not in body, (page_id, secret)
        release(hub, body, headers)


def test_public_token_gets_nothing_more_than_the_anonymous_public(hub, world):
    """(d) The public view's own token: published content only, no profiles, no mail,
    no chat, no private section, no pupil's name."""
    token = Api(hub, hub.tokens["public"])
    anonymous = Api(hub, None)
    slug, other, pupil = world["slug"], world["other"], world["pupil"]["name"]
    refused = [
        "me/profile", "mail/inbox", "mail/unread", "users", f"users/{pupil}",
        f"spaces/{other}", f"spaces/{other}/pages", f"pages/{world['elsewhere']['id']}",
        f"pages/{world['draft']['id']}", f"pages/{world['room']['id']}",
        f"spaces/{slug}/pages?section=teachers_room", f"spaces/{slug}/pages?section=pupils_corner",
        f"spaces/{slug}/pages?section=chat", f"spaces/{slug}/members",
        f"spaces/{slug}/members/{pupil}", f"spaces/{slug}/members/{pupil}/profile",
        f"spaces/{slug}/rooms", f"spaces/{slug}/cooperation-report", "me/export",
    ]
    for path in refused:
        r = token.call("GET", path)
        assert r.status_code in (401, 403, 404), (path, r.status_code, r.text[:300])
        assert r.status_code == anonymous.call("GET", path).status_code, path
    shown = token.ok("GET", f"pages/{world['shown']['id']}")
    assert shown["role"] == "public"
    assert not any(allowed for action, allowed in shown["may"].items() if action != "view")
    blog = next(app for app in shown["apps"] if app["kind"] == "blog")
    posts = token.ok("GET", f"apps/{blog['id']}/posts")["items"]
    assert [p["title"] for p in posts] == [f"Pupil post {TAG}"]
    assert posts[0]["author"]["name"] is None
    for path in ("me", "spaces", f"spaces/{slug}", f"spaces/{slug}/pages",
                 f"apps/{blog['id']}/posts", f"spaces/{slug}/activity"):
        mine, theirs = token.ok("GET", path), anonymous.ok("GET", path)
        assert mine == theirs, path
        for secret in world["secrets"] + [pupil]:
            assert secret not in str(mine), (path, secret)
    # Writing anything is refused, as for anyone not logged in.
    token.call("POST", f"apps/{blog['id']}/posts", expect=401,
               json={"title": "x", "body": "y"})
    token.call("PATCH", f"pages/{world['draft']['id']}", expect=401, json={"published": True})


def test_over_the_cap_readers_are_told_to_come_back(hub, world):
    """(c) Kernels serving readers are capped: the next reader gets 503 + Retry-After."""
    page_url = f"view?page={world['shown']['id']}"
    held = []
    for _ in range(MAX_KERNELS):
        status, headers, body = raw_get(hub, page_url)
        assert status == 200, body[-2000:]
        held.append((body, headers))
    status, headers, body = raw_get(hub, page_url)
    assert status == 503, body[:500]
    assert int(headers["retry-after"]) > 0
    assert "try again in a moment" in body
    for body, headers in held:
        release(hub, body, headers)
    # Readers who left free their kernels: the page is served again.
    deadline = time.monotonic() + 120
    while True:
        status, headers, body = raw_get(hub, page_url)
        if status == 200:
            release(hub, body, headers)
            break
        assert status == 503 and time.monotonic() < deadline, (status, body[:300])
        time.sleep(0.5)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed")
def test_reader_sees_a_published_page_and_loses_it_when_unpublished(hub, world):
    """(b) In Chromium: the list, the page with its apps and the teacher's cell; then the
    teacher unpublishes it and the open page empties itself."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.goto(public_url(hub), wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name=f"Open space {TAG}")).to_be_visible()
            # The space's Home page: its public apps, never the members list or the mail.
            page.get_by_role("link", name="Home").click()
            expect(page.get_by_text(f"Read about us {TAG}")).to_be_visible(timeout=120_000)
            expect(page.get_by_text("Project journal")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("TwinSpace members")).to_have_count(0)
            expect(page.get_by_text("Mailbox")).to_have_count(0)
            page.get_by_role("link", name=f"Shown page {TAG}").click()
            expect(page.get_by_text(f"Public web content {TAG}")).to_be_visible(timeout=120_000)
            expect(page.get_by_text(f"Pupil post {TAG}")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Teacher cell ran")).to_be_visible()
            if ROOT:  # the public kernel is ts-public: the service's data is closed to it
                expect(page.get_by_text("service data: PermissionError")).to_be_visible()
            for secret in world["secrets"]:  # nor in what the widgets drew
                assert secret not in page.content(), secret

            world["ta"].ok("PATCH", f"pages/{world['shown']['id']}", json={"published": False})
            assert not published_copy(hub, world, world["shown"]).exists()
            expect(page.get_by_text("This page is no longer public.")).to_be_visible(
                timeout=60_000)
            expect(page.get_by_text(f"Public web content {TAG}")).to_have_count(0)
            status, _headers, index = raw_get(hub, "")
            assert status == 200 and f"Shown page {TAG}" not in index
            assert raw_get(hub, f"view?page={world['shown']['id']}")[0] == 404
        finally:
            browser.close()
            world["ta"].ok("PATCH", f"pages/{world['shown']['id']}", json={"published": True})


def test_a_private_space_takes_its_copies_with_it(hub, world):
    """Made private, a space's copies go at once and its pages answer 404."""
    ta = world["ta"]
    ta.ok("PATCH", f"pages/{world['shown']['id']}", json={"published": True})
    assert published_copy(hub, world, world["shown"]).is_file()
    ta.ok("PATCH", f"spaces/{world['slug']}", json={"public": False})
    try:
        assert not (hub.data_dir / "public" / world["slug"]).exists()
        assert raw_get(hub, f"view?page={world['home']['id']}")[0] == 404
        assert f"Open space {TAG}" not in raw_get(hub, "")[2]
    finally:
        ta.ok("PATCH", f"spaces/{world['slug']}", json={"public": True})
    assert published_copy(hub, world, world["home"]).is_file()


def test_administrator_makes_the_space_public_from_manage_pages(hub, world):
    """The member view's Manage pages: a teacher administrator's "Make this space
    private/public" toggle; a plain teacher gets no toggle and the service refuses anyway."""
    from twinspace_kernel.apps import ManagePages
    from twinspace_kernel.client import TwinSpaceClient

    slug = world["slug"]
    ta_token = world["ta"].headers["Authorization"].split()[1]
    manage = ManagePages(slug, "activities", client=TwinSpaceClient(hub.api_base, ta_token))
    assert manage.public_box.layout.display == ""
    assert manage.space_public is True
    assert manage.public_button.description == "Make this space private"
    manage.public_button.click()
    try:
        assert "now private" in manage.banner.value
        assert manage.public_button.description == "Make this space public"
        assert not (hub.data_dir / "public" / slug).exists()
        manage.public_button.click()
        assert "now public" in manage.banner.value
        assert published_copy(hub, world, world["home"]).is_file()
    finally:
        world["ta"].ok("PATCH", f"spaces/{slug}", json={"public": True})

    name = f"pubt{TAG}"
    admin = Api(hub, hub.tokens["twinspace-admin"])
    admin.ok("POST", "users", json={"name": name, "kind": "teacher", "password": "pw-" + TAG * 3})
    admin.ok("PUT", f"spaces/{slug}/members/{name}", json={"role": "teacher"})
    hub.create_user(name)
    teacher = ManagePages(slug, "activities",
                          client=TwinSpaceClient(hub.api_base, hub.token_for(name)))
    assert teacher.public_box.layout.display == "none"
    teacher.public_button.click()  # reachable from the teacher's own kernel all the same
    assert "may not publish" in teacher.banner.value
    assert Api(hub, None).ok("GET", f"spaces/{slug}")["public"] is True


def test_port_answers_while_voila_loads_then_is_handed_over():
    """The hub waits for each service to answer: the public view's port answers at once
    (a page that reloads itself), then is freed for Voila without leaving anyone hanging."""
    import socket

    from hubharness import free_port
    from twinspace_public.starting import Starting

    port = free_port()
    placeholder = Starting(port, "127.0.0.1")
    r = requests.get(f"http://127.0.0.1:{port}/services/public/view?page=1", timeout=10)
    assert r.status_code == 200  # under 500: JupyterHub counts the service as up
    assert 'http-equiv="refresh"' in r.text and "starting" in r.text
    assert r.headers["Cache-Control"] == "no-store"
    kept = requests.Session()  # a keep-alive connection open when the handover comes
    assert kept.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
    placeholder.stop()
    with socket.socket() as sock:  # the port is free for Voila at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    with pytest.raises(requests.ConnectionError):
        kept.get(f"http://127.0.0.1:{port}/", timeout=10)
