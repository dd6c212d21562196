"""The shared volume end to end: every role and anonymous × every section × every operation.

A real hub from our jupyterhub_config.py, isolating members as system users (root only),
one member per role in one space, a page in every section and members' files where the
rights allow them. Each member's own server answers the JupyterLab contents API for
`TwinSpace/…` (list, read, write, rename, delete), and each member's kernel tries `open()`
on the volume's files: the expected result of every call is computed from rights.py.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from hubproc import ROOT, TwinSpaceHub, isolated_hub
from test_hub_spawn import Browser, cookie
from utils import wait_until

from twinspace_kernel import rights
from twinspace_kernel.unix import ROLE_ABBREVIATIONS
from twinspace_kernel.volume import ROOT_FOLDER, SECTION_FOLDERS

PASSWORD = "volume matrix pw"
SPACE_TITLE = "Volume matrix"
UPLOAD_LIMIT_MB = 1.0
pytestmark = [
    pytest.mark.hub,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(not ROOT, reason="system users and ACLs need root"),
]


def uploader_other_than(role: str, section: str) -> str | None:
    """A role, not `role`, that may upload in `section` (the author of others' files)."""
    return next((r for r in rights.MEMBER_ROLES
                 if r != role and rights.allowed(r, "upload", section)), None)


def space_slug(tag: str) -> str:
    return f"vm-{tag}"


def member_names(tag: str) -> dict[str, str]:
    return {role: f"vm{ROLE_ABBREVIATIONS[role]}{tag}" for role in rights.MEMBER_ROLES}


class Setup:
    """The hub, the space, one logged-in member (Browser) per role, and their tokens."""

    def __init__(self, hub: TwinSpaceHub, tag: str):
        self.hub = hub
        self.admin = {"Authorization": f"token {hub.tokens['twinspace-admin']}"}
        self.slug, self.names = space_slug(tag), member_names(tag)
        kinds = {"teacher_admin": "teacher", "teacher": "teacher", "pupil_admin": "pupil",
                 "pupil": "pupil", "visitor": "visitor"}
        for role, name in self.names.items():
            self.service("POST", "users", json={
                "name": name, "kind": kinds[role], "display_name": f"{role} {tag}",
                "password": PASSWORD})
        self.service("POST", "spaces", json={"slug": self.slug, "title": SPACE_TITLE,
                                             "founder": self.names["teacher_admin"]})
        for role, name in self.names.items():
            if role != "teacher_admin":
                self.service("PUT", f"spaces/{self.slug}/members/{name}", json={"role": role})
        with ThreadPoolExecutor(len(self.names)) as pool:
            browsers = pool.map(lambda n: Browser(hub, n, PASSWORD), self.names.values())
            self.browsers = dict(zip(self.names, browsers, strict=True))
        self.tokens = {role: b.new_token() for role, b in self.browsers.items()}

    def service(self, method, path, *, role=None, expect=(200, 201, 204), **kwargs):
        headers = self.admin if role is None else {"Authorization": f"token {self.tokens[role]}"}
        r = requests.request(method, f"{self.hub.api_base}{path}", headers=headers,
                             timeout=60, **kwargs)
        assert r.status_code in expect, (method, path, r.status_code, r.text)
        return r

    def as_manager(self, section: str) -> str:
        return next(r for r in rights.MEMBER_ROLES if rights.allowed(r, "manage_pages", section))


@pytest.fixture(scope="module")
def setup():
    with isolated_hub("twinspace-volume-", settings={"upload_limit_mb": UPLOAD_LIMIT_MB},
                      missing=pytest.skip) as hub:
        world = Setup(hub, secrets.token_hex(3))
        # A page in every section that has none yet (Home and Chat come with the space).
        for section in ("activities", "teachers_room", "pupils_corner"):
            world.service("POST", f"spaces/{world.slug}/pages",
                          role=world.as_manager(section),
                          json={"section": section, "title": f"{section} page"})
        # Files by others for each role to try to rename and delete.
        for section in rights.SECTIONS:
            for role in rights.MEMBER_ROLES:
                author = uploader_other_than(role, section)
                if author is None:
                    continue
                for verb in ("ren", "del"):
                    world.service("PUT", f"volume/{world.slug}/{section}/{verb}-{role}.txt",
                                  role=author, data=f"by {author}".encode())
        with ThreadPoolExecutor(len(world.browsers)) as pool:
            list(pool.map(Browser.start_server, world.browsers.values()))
        yield world


def contents_url(browser: Browser, *parts: str) -> str:
    path = "/".join(quote(p, safe="") for p in (ROOT_FOLDER, SPACE_TITLE, *parts))
    return browser.server_url(f"api/contents/{path}")


def contents(browser: Browser, method: str, *parts: str, **kwargs) -> requests.Response:
    headers = {"X-XSRFToken": cookie(browser.session, "_xsrf", f"/user/{browser.name}/"),
               "Sec-Fetch-Mode": "cors"}
    return browser.session.request(method, contents_url(browser, *parts), headers=headers,
                                   timeout=120, **kwargs)


def page_name(section: str) -> str:
    return {"home": "Home.ipynb", "chat": "Chat.ipynb"}.get(section, f"{section} page.ipynb")


def check_role_in_section(world: Setup, role: str, section: str) -> list[str]:
    """Every contents-API operation of `role` in `section`; the list of mismatches."""
    browser = world.browsers[role]
    folder = SECTION_FOLDERS[section]
    may = {action: rights.allowed(role, action, section) for action in rights.ACTIONS}
    view = may["view"]
    hidden = 404  # what one may not view is not there at all
    wrong = []

    def expect(what, r, status):
        if r.status_code != status:
            wrong.append(f"{role} {section} {what}: {r.status_code} != {status} {r.text[:200]}")
        elif status == 403 and not r.json().get("message"):
            wrong.append(f"{role} {section} {what}: 403 without a message")
        return r

    listing = expect("list", contents(browser, "GET", folder), 200 if view else hidden)
    if view:
        names = {item["name"] for item in listing.json()["content"]}
        if page_name(section) not in names:
            wrong.append(f"{role} {section} list: no {page_name(section)} in {sorted(names)}")
    page = expect("read page", contents(browser, "GET", folder, page_name(section)),
                  200 if view else hidden)
    if view:
        model = page.json()
        if model["writable"] != may["manage_pages"]:
            wrong.append(f"{role} {section} page writable={model['writable']}")
        body = {"type": "notebook", "format": "json", "content": model["content"]}
        expect("write page", contents(browser, "PUT", folder, page_name(section), json=body),
               200 if may["manage_pages"] else 403)
        renamed = f"{ROOT_FOLDER}/{SPACE_TITLE}/{folder}/x.ipynb"
        expect("rename page", contents(browser, "PATCH", folder, page_name(section),
                                       json={"path": renamed}), 403)
        expect("delete page", contents(browser, "DELETE", folder, page_name(section)), 403)
    else:
        expect("write page", contents(browser, "PUT", folder, page_name(section),
                                      json={"type": "file", "format": "text", "content": "x"}),
               hidden)

    # A new file of one's own.
    mine = f"mine-{role}.txt"
    new = {"type": "file", "format": "text", "content": f"from {role}"}
    created = may["upload"]
    expect("write new file", contents(browser, "PUT", folder, mine, json=new),
           201 if created else 403 if view else hidden)
    if created:
        target = f"{ROOT_FOLDER}/{SPACE_TITLE}/{folder}/mine2-{role}.txt"
        expect("rename own file", contents(browser, "PATCH", folder, mine,
                                           json={"path": target}), 200)
        expect("delete own file", contents(browser, "DELETE", folder, f"mine2-{role}.txt"), 204)

    # Someone else's files.
    if uploader_other_than(role, section) is not None:
        moderate = rights.may_edit(role, section, is_author=False)
        target = f"{ROOT_FOLDER}/{SPACE_TITLE}/{folder}/renamed-{role}.txt"
        expect("rename other's file", contents(browser, "PATCH", folder, f"ren-{role}.txt",
                                               json={"path": target}),
               200 if moderate else 403 if view else hidden)
        expect("delete other's file", contents(browser, "DELETE", folder, f"del-{role}.txt"),
               204 if moderate else 403 if view else hidden)
        if view and not moderate and may["upload"]:
            expect("overwrite other's file",
                   contents(browser, "PUT", folder, f"del-{role}.txt", json=new), 403)
    return wrong


def test_contents_api_matrix(setup):
    world = setup
    jobs = [(role, section) for role in rights.MEMBER_ROLES for section in rights.SECTIONS]
    with ThreadPoolExecutor(8) as pool:
        results = pool.map(lambda job: check_role_in_section(world, *job), jobs)
        wrong = [line for result in results for line in result]
    assert wrong == []


def test_listing_shows_only_viewable_sections(setup):
    world = setup
    for role, browser in world.browsers.items():
        r = contents(browser, "GET")
        assert r.status_code == 200, r.text
        folders = [item["name"] for item in r.json()["content"]]
        assert folders == [SECTION_FOLDERS[s] for s in rights.SECTIONS
                           if rights.allowed(role, "view", s)], role
        home = browser.session.get(browser.server_url("api/contents/"), timeout=60).json()
        assert ROOT_FOLDER in [item["name"] for item in home["content"]]


def test_anonymous_reaches_no_contents(setup):
    world = setup
    anonymous = requests.Session()
    for browser in world.browsers.values():
        for section in rights.SECTIONS:
            url = contents_url(browser, SECTION_FOLDERS[section], page_name(section))
            r = anonymous.get(url, timeout=60, allow_redirects=False)
            assert r.status_code in (302, 403), (url, r.status_code)
            assert "nbformat" not in r.text
            r = anonymous.put(url, json={"type": "file", "format": "text", "content": "x"},
                              timeout=60, allow_redirects=False)
            assert r.status_code in (302, 403), (url, r.status_code)


def test_folders_cannot_be_made_moved_or_deleted(setup):
    world = setup
    browser = world.browsers["teacher_admin"]
    r = contents(browser, "PUT", "Home", "new folder", json={"type": "directory"})
    assert r.status_code == 403 and "Folders cannot be made" in r.json()["message"]
    r = contents(browser, "DELETE", "Home")
    assert r.status_code == 403 and "cannot be renamed" in r.json()["message"]
    r = contents(browser, "PATCH", "Home", "Home.ipynb",
                 json={"path": "moved.ipynb"})
    assert r.status_code == 403 and "moved" in r.json()["message"]


OPEN_CODE = """
import json, os
results = {{}}
for path in {paths!r}:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        results[path] = "read"
    except OSError as e:
        results[path] = type(e).__name__
    try:
        open(path, "ab").close()
        results[path] += "+write"
    except OSError:
        pass
print(json.dumps(results))
"""


def test_kernel_open_follows_the_rights(setup):
    world = setup
    spaces = world.hub.data_dir / "spaces" / world.slug
    files = {section: sorted(p for p in (spaces / section).rglob("*") if p.is_file())
             for section in rights.SECTIONS}
    assert all(files.values()), files
    private = [world.hub.data_dir / "hub" / "jupyterhub.sqlite",
               world.hub.data_dir / "service" / "twinspace.sqlite"]
    homes = {role: Path(f"/home/ts-{name}/.bashrc") for role, name in world.names.items()}

    def check(role):
        browser = world.browsers[role]
        paths = [str(p) for section in rights.SECTIONS for p in files[section]]
        paths += [str(p) for p in private]
        paths += [str(p) for other, p in homes.items() if other != role]
        out = json.loads(browser.run(browser.start_kernel(), OPEN_CODE.format(paths=paths)))
        expected = {}
        for section in rights.SECTIONS:
            for p in files[section]:
                expected[str(p)] = ("read" if rights.allowed(role, "view", section)
                                    else "PermissionError")
        for p in [*private, *[p for other, p in homes.items() if other != role]]:
            expected[str(p)] = "PermissionError"
        return {p: (out[p], want) for p, want in expected.items() if out[p] != want}

    with ThreadPoolExecutor(len(world.browsers)) as pool:
        mismatches = dict(zip(world.browsers, pool.map(check, world.browsers), strict=True))
    assert mismatches == dict.fromkeys(world.browsers, {})


def test_a_role_change_applies_within_seconds(setup):
    """Made pupil administrator, a pupil's running server lets them save Pupils' Corner pages."""
    world = setup
    browser = world.browsers["pupil"]
    folder, name = SECTION_FOLDERS["pupils_corner"], page_name("pupils_corner")
    model = contents(browser, "GET", folder, name).json()
    body = {"type": "notebook", "format": "json", "content": model["content"]}
    assert contents(browser, "PUT", folder, name, json=body).status_code == 403
    world.service("PUT", f"spaces/{world.slug}/members/{world.names['pupil']}",
                  json={"role": "pupil_admin"})
    try:
        wait_until(lambda: contents(browser, "PUT", folder, name, json=body).status_code == 200,
                   timeout=30, interval=0.5)
    finally:
        world.service("PUT", f"spaces/{world.slug}/members/{world.names['pupil']}",
                      json={"role": "pupil"})


def test_a_pupil_works_in_the_pupils_corner(setup):
    """New notebook, copy from home, chunked and binary uploads, checkpoints kept at home."""
    import base64

    world = setup
    browser = world.browsers["pupil"]
    folder = SECTION_FOLDERS["pupils_corner"]
    corner = f"{ROOT_FOLDER}/{SPACE_TITLE}/{folder}"
    files = world.hub.data_dir / "spaces" / world.slug / "pupils_corner" / "files"
    xsrf = {"X-XSRFToken": cookie(browser.session, "_xsrf", f"/user/{browser.name}/"),
            "Sec-Fetch-Mode": "cors"}

    def api(method, path, **kwargs):
        url = browser.server_url("api/contents/" + quote(path))
        return browser.session.request(method, url, headers=xsrf, timeout=120, **kwargs)

    r = api("POST", corner, json={"type": "notebook"})
    assert r.status_code == 201, r.text
    assert r.json()["path"] == f"{corner}/Untitled.ipynb"
    assert (files / "Untitled.ipynb").is_file()

    r = api("PUT", "my notes.txt", json={"type": "file", "format": "text", "content": "home"})
    assert r.status_code == 201, r.text
    r = api("POST", corner, json={"copy_from": "my notes.txt"})
    assert r.status_code == 201, r.text
    assert (files / r.json()["name"]).read_text() == "home"

    blob = bytes(range(256)) * 64
    half = len(blob) // 2
    for chunk, part in ((1, blob[:half]), (-1, blob[half:])):
        r = api("PUT", f"{corner}/photo.bin", json={
            "type": "file", "format": "base64", "chunk": chunk,
            "content": base64.b64encode(part).decode()})
        assert r.status_code in (200, 201), r.text
    assert (files / "photo.bin").read_bytes() == blob
    r = api("GET", f"{corner}/photo.bin")
    assert base64.b64decode(r.json()["content"]) == blob

    notebook = f"{corner}/Untitled.ipynb"
    r = api("POST", f"{notebook}/checkpoints")
    assert r.status_code == 201, r.text
    checkpoint = r.json()["id"]
    model = api("GET", notebook).json()
    model["content"]["cells"].append({"cell_type": "markdown", "metadata": {},
                                      "source": "changed", "id": "changed1"})
    r = api("PUT", notebook, json={"type": "notebook", "format": "json",
                                   "content": model["content"]})
    assert r.status_code == 200, r.text
    assert "changed" in (files / "Untitled.ipynb").read_text()
    assert [c["id"] for c in api("GET", f"{notebook}/checkpoints").json()] == [checkpoint]
    r = api("POST", f"{notebook}/checkpoints/{checkpoint}")
    assert r.status_code == 204, r.text
    assert "changed" not in (files / "Untitled.ipynb").read_text()
    # Checkpoints stay in the member's home: nothing hidden or checkpoint-like in the volume.
    volume = world.hub.data_dir / "spaces" / world.slug
    assert [p for p in volume.rglob("*")
            if p.name.startswith(".") or "checkpoint" in p.name.lower()] == []
    home = Path(f"/home/ts-{browser.name}/.twinspace-checkpoints")
    assert home.is_dir() and list(home.iterdir())


def test_files_over_the_upload_limit_are_refused_whole(setup):
    import base64

    browser = setup.browsers["pupil_admin"]
    folder = SECTION_FOLDERS["pupils_corner"]
    files = setup.hub.data_dir / "spaces" / setup.slug / "pupils_corner" / "files"
    piece = base64.b64encode(b"x" * 400_000).decode()
    whole = base64.b64encode(b"x" * 1_200_000).decode()
    r = contents(browser, "PUT", folder, "big.txt",
                 json={"type": "file", "format": "base64", "content": whole})
    assert r.status_code == 413, r.text
    assert "the limit is 1 MB" in r.json()["message"]
    answers = [
        contents(browser, "PUT", folder, "big-chunked.txt", json={
            "type": "file", "format": "base64", "chunk": chunk, "content": piece})
        for chunk in (1, 2, 3, -1)
    ]
    assert [r.status_code for r in answers][2:] == [413, 413], answers[0].text
    assert {r.status_code for r in answers[:2]} <= {200, 201}
    assert "largest TwinSpace accepts" in answers[-1].json()["message"]
    assert not (files / "big.txt").exists() and not (files / "big-chunked.txt").exists()


@pytest.mark.parametrize(
    "path",
    [
        "TwinSpace/..%2F..%2Fetc%2Fpasswd",
        f"TwinSpace/{quote(SPACE_TITLE)}/Home/..%2F..%2F..%2Fhub%2Fjupyterhub.sqlite",
        f"TwinSpace/{quote(SPACE_TITLE)}/Home/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        f"TwinSpace/{quote(SPACE_TITLE)}/Home/home.ipynb",  # the file's name on disk
        f"TwinSpace/{quote(SPACE_TITLE)}/teachers_room",
        f"TwinSpace/{quote(SPACE_TITLE)}/Teachers%27%20Room/x/y",
        f"twinspace/{quote(SPACE_TITLE)}/Teachers%27%20Room",
        f"TWINSPACE/{quote(SPACE_TITLE)}/Home/Home.ipynb",
        f"TwinSpace/{quote(SPACE_TITLE)}/Teachers%27%20Room/teachers_room%20page.ipynb",
    ],
)
def test_tricky_paths_reach_nothing(setup, path):
    browser = setup.browsers["pupil"]
    for method in ("GET", "DELETE"):
        r = browser.session.request(
            method, browser.server_url(f"api/contents/{path}"), timeout=60,
            headers={"X-XSRFToken": cookie(browser.session, "_xsrf", f"/user/{browser.name}/"),
                     "Sec-Fetch-Mode": "cors"})
        assert r.status_code in (400, 403, 404), (method, path, r.status_code, r.text[:300])
        assert "nbformat" not in r.text and "root:" not in r.text


def test_closing_the_space_shuts_all_but_its_administrators_out(setup):
    """The volume's ACLs follow the space's state (closed: teacher administrators only)."""
    world = setup
    home = world.hub.data_dir / "spaces" / world.slug / "home" / "home.ipynb"
    code = OPEN_CODE.format(paths=[str(home)])
    pupil, founder = world.browsers["pupil"], world.browsers["teacher_admin"]
    pupil_kernel, founder_kernel = pupil.start_kernel(), founder.start_kernel()
    world.service("PATCH", f"spaces/{world.slug}", role="teacher_admin",
                  json={"state": "closed"})
    try:
        assert json.loads(pupil.run(pupil_kernel, code)) == {str(home): "PermissionError"}
        assert json.loads(founder.run(founder_kernel, code)) == {str(home): "read"}
        # The listing follows within seconds (the server reuses it briefly).
        wait_until(lambda: contents(pupil, "GET", "Home").status_code == 404, timeout=30,
                   interval=0.5)
    finally:
        world.service("PATCH", f"spaces/{world.slug}", role="teacher_admin",
                      json={"state": "open"})
    assert json.loads(pupil.run(pupil_kernel, code)) == {str(home): "read"}


def test_a_demoted_member_loses_the_files_at_once(setup):
    """A teacher made visitor: their running server stops; restarted, the kernel is shut out."""
    world = setup
    browser = world.browsers["teacher"]
    spaces = world.hub.data_dir / "spaces" / world.slug
    secret = next((spaces / "teachers_room").glob("*.ipynb"))
    home = spaces / "home" / "home.ipynb"
    code = OPEN_CODE.format(paths=[str(secret), str(home)])
    before = json.loads(browser.run(browser.start_kernel(), code))
    assert before == {str(secret): "read", str(home): "read"}

    world.service("PATCH", f"spaces/{world.slug}/members/{world.names['teacher']}",
                  role="teacher_admin", json={"role": "visitor"})
    browser.wait_server(ready=False)  # stopped by the service, not by us
    browser.start_server()
    after = json.loads(browser.run(browser.start_kernel(), code))
    assert after == {str(secret): "PermissionError", str(home): "read"}
    r = contents(browser, "GET", SECTION_FOLDERS["teachers_room"])
    assert r.status_code == 404


def test_a_promoted_member_reads_new_sections_at_once(setup):
    """The demoted teacher made teacher again: the Teachers' Room opens in JupyterLab without
    a restart (read through the service); the running kernel keeps the visitor's groups
    until the server restarts."""
    world = setup
    browser = world.browsers["teacher"]
    folder, name = SECTION_FOLDERS["teachers_room"], page_name("teachers_room")
    secret = next((world.hub.data_dir / "spaces" / world.slug / "teachers_room").glob("*.ipynb"))
    kernel = browser.start_kernel()
    assert contents(browser, "GET", folder, name).status_code == 404
    world.service("PATCH", f"spaces/{world.slug}/members/{world.names['teacher']}",
                  role="teacher_admin", json={"role": "teacher"})
    wait_until(lambda: contents(browser, "GET", folder, name).status_code == 200, timeout=30,
               interval=0.5)
    model = contents(browser, "GET", folder, name).json()
    assert model["type"] == "notebook" and model["content"]["cells"]
    assert model["writable"] is True
    code = OPEN_CODE.format(paths=[str(secret)])
    assert json.loads(browser.run(kernel, code)) == {str(secret): "PermissionError"}
