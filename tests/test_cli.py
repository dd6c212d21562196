"""The `twinspace` command, run in-process (as nbgrader's tests do) against a real TwinSpace hub.

`twinspace demo` runs as a real subprocess in its own test: it starts its own hub.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from hubharness import REPO_ROOT, free_port, proxy_available
from hubproc import TwinSpaceHub, browser_login
from twinspace_hub.cli import main
from utils import unique

from twinspace_kernel.client import TwinSpaceClient

pytestmark = [
    pytest.mark.hub,
    pytest.mark.skipif(not proxy_available(), reason="configurable-http-proxy not installed"),
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    data = tmp_path_factory.mktemp("cli-hub")
    hub = TwinSpaceHub(data, settings={"isolate_users": False},
                       extra_config="c.JupyterHub.spawner_class = 'simple'")
    hub.start()
    hub.wait_for_service()
    yield hub
    hub.stop()


@pytest.fixture
def tw(hub, capsys):
    """tw(*args) -> (exit status, stdout, stderr) of `twinspace ARGS` on the test hub."""
    api = f"http://127.0.0.1:{hub.service_port}/services/twinspace/api/v1/"

    def run(*args: str):
        code = main([*args, "--data-dir", str(hub.data_dir), "--api-url", api])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


def admin_client(hub) -> TwinSpaceClient:
    return TwinSpaceClient(hub.api_base, hub.tokens["twinspace-admin"])


def as_member(hub, name: str) -> TwinSpaceClient:
    hub.create_user(name)
    return TwinSpaceClient(hub.api_base, hub.token_for(name))


def add_teacher(tw, name: str | None = None, **extra: str) -> str:
    name = name or unique("tea")
    args = ["teacher", "add", name, "--name", f"Teacher {name}", "--school", "École Est",
            "--country", "FR"]
    for key, value in extra.items():
        args += [f"--{key}", value]
    code, out, err = tw(*args)
    assert code == 0, err
    return name


def add_space(tw, founder: str) -> str:
    slug = unique("cli")
    code, out, err = tw("space", "create", slug, "--title", f"Space {slug}",
                        "--founder", founder, "--description", "About rivers")
    assert code == 0, err
    return slug


def test_help_and_no_subcommand(tw):
    code, out, _ = tw("--help")
    assert code == 0 and "pupils" in out and "demo" in out
    code, out, _ = tw("pupils", "add", "--help")
    assert code == 0 and "--teacher" in out and "twinspace pupils add water" in out
    code, out, err = tw("space")
    assert code == 1 and "create" in out and "Which one?" in err


def test_teacher_add_prints_a_working_password_link(hub, tw):
    name = unique("tea")
    code, out, err = tw("teacher", "add", name, "--name", "Marie Dupont", "--school",
                        "Collège Jean Moulin", "--country", "FR", "--email",
                        f"{name}@example.org")
    assert code == 0, err
    assert f"Created teacher {name} (Marie Dupont, Collège Jean Moulin, FR)" in out
    link = re.search(r"(\S+/hub/twinspace/password\?token=(\S+))", out)
    assert link and link.group(1).startswith(hub.url.rstrip("/"))
    # The link is the real one: the service knows whose it is.
    info = TwinSpaceClient(hub.api_base, "").get(f"password-links/{link.group(2)}")
    assert info["name"] == name
    # Same username again: the service's message, exit 1.
    code, out, err = tw("teacher", "add", name, "--name", "X", "--school", "S",
                        "--country", "FR")
    assert code == 1 and err.strip() == f"error: The username {name} is taken."
    code, _, err = tw("teacher", "add", unique("tea"), "--name", "X")
    assert code == 1 and "Missing --school, --country" in err


def test_space_create_and_list(hub, tw):
    founder = add_teacher(tw)
    slug = unique("cli")
    code, out, err = tw("space", "create", slug, "--title", "Water around us",
                        "--founder", founder)
    assert code == 0, err
    assert f"{founder} is its teacher administrator" in out
    assert as_member(hub, founder).get(f"spaces/{slug}")["role"] == "teacher_admin"
    code, out, err = tw("space", "list")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(slug))
    assert "Water around us" in row and "open" in row and re.search(r"\b1\b", row)
    # Bad input: each a clear message and exit 1.
    code, _, err = tw("space", "create", slug, "--title", "Again", "--founder", founder)
    assert code == 1 and err.strip() == f"error: A space called {slug} already exists."
    code, _, err = tw("space", "create", unique("cli"), "--title", "T", "--founder",
                      "nobody-at-all")
    assert code == 1 and err.strip() == "error: No such member: nobody-at-all."
    code, _, err = tw("space", "create", unique("cli"), "--founder", founder)
    assert code == 1 and "Missing --title" in err
    code, _, err = tw("space", "create", "--title", "T", "--founder", founder)
    assert code == 1 and "Expected SLUG" in err


def test_pupils_add_names_with_csv_and_sheet(hub, tw, tmp_path):
    founder = add_teacher(tw)
    partner = add_teacher(tw)
    slug = add_space(tw, founder)
    admin_client(hub).put(f"spaces/{slug}/members/{partner}", {"role": "teacher"})
    as_member(hub, partner).patch("me", {"locale": "fr"})  # the sheet follows the teacher
    csv_path, sheet_path = tmp_path / "class.csv", tmp_path / "slips.html"
    code, out, err = tw("pupils", "add", slug, "--teacher", partner, "--names",
                        "Ana Lopez, Zoé Martin,<b>Bold</b> Kid", "--csv", str(csv_path),
                        "--sheet", str(sheet_path))
    assert code == 0, err
    assert "3/3 pupils" in err and "[" + "#" * 30 + "]" in err
    rows = list(csv.reader(csv_path.open(encoding="utf-8")))
    assert rows[0] == ["name", "username", "password"]
    assert [r[0] for r in rows[1:]] == ["Ana Lopez", "Zoé Martin", "<b>Bold</b> Kid"]
    assert oct(csv_path.stat().st_mode & 0o777) == "0o600"
    for display, username, password in rows[1:]:
        assert re.search(rf"^{re.escape(display)}\s+{re.escape(username)}\s+{password}$", out,
                         re.M)
    sheet = sheet_path.read_text()
    assert sheet.count('class="slip"') == 3 and f"Space {slug}" in sheet
    assert hub.url.rstrip("/") in sheet and "&lt;b&gt;Bold&lt;/b&gt; Kid" in sheet
    assert '<html lang="fr">' in sheet and "Mot de passe" in sheet
    # Created by the partner teacher: they see them as their own.
    listed = as_member(hub, partner).get(f"spaces/{slug}/pupils")["items"]
    assert {p["name"]: p["created_by"]["name"] for p in listed} == {
        r[1]: partner for r in rows[1:]}
    # The printed password opens the account through the hub's login form.
    session = browser_login(hub, rows[1][1], rows[1][2])
    assert session.login_response.status_code == 302
    assert "/hub/login" not in session.login_response.headers["Location"]


def test_pupils_add_count_in_batches(hub, tw):
    founder = add_teacher(tw)
    slug = add_space(tw, founder)
    code, out, err = tw("pupils", "add", slug, "--teacher", founder, "--count", "30")
    assert code == 0, err
    assert "25/30 pupils" in err and "30/30 pupils" in err
    assert "Created 30 pupil(s)" in out
    listed = as_member(hub, founder).get(f"spaces/{slug}/pupils", limit=100)["items"]
    assert len(listed) == 30


def test_pupils_add_bad_input(hub, tw):
    founder = add_teacher(tw)
    slug = add_space(tw, founder)
    code, _, err = tw("pupils", "add", slug, "--teacher", founder, "--names", "A,B",
                      "--count", "2")
    assert code == 1 and "either --names" in err
    code, _, err = tw("pupils", "add", slug, "--teacher", founder)
    assert code == 1 and "either --names" in err
    code, _, err = tw("pupils", "add", slug, "--names", "A")
    assert code == 1 and "Missing --teacher" in err
    code, _, err = tw("pupils", "add", "no-such-space", "--teacher", founder, "--count", "1")
    assert code == 1 and err.strip() == "error: No such space: no-such-space."
    outsider = add_teacher(tw)
    code, _, err = tw("pupils", "add", slug, "--teacher", outsider, "--count", "1")
    assert code == 1 and f"{outsider} may not create pupils in {slug}" in err
    code, _, err = tw("pupils", "add", slug, "--teacher", founder, "--count", "many")
    assert code == 1
    assert as_member(hub, founder).get(f"spaces/{slug}/pupils")["items"] == []


def test_pupils_reset(hub, tw):
    founder = add_teacher(tw)
    slug = add_space(tw, founder)
    code, out, err = tw("pupils", "add", slug, "--teacher", founder, "--names", "Gil Hart")
    assert code == 0, err
    username = re.search(r"^Gil Hart\s+(\S+)\s+\S+$", out, re.M).group(1)
    code, out, err = tw("pupils", "reset", slug, username, "--password", "tiger7")
    assert code == 0 and out.strip() == f"New password of {username}: tiger7"
    assert browser_login(hub, username, "tiger7").login_response.status_code == 302
    code, out, _ = tw("pupils", "reset", slug, username)
    assert code == 0 and re.fullmatch(rf"New password of {username}: \w{{8}}", out.strip())
    for bad in ("abc", "abcdefghi"):
        code, _, err = tw("pupils", "reset", slug, username, "--password", bad)
        assert code == 1 and "5 to 8 characters" in err
    code, _, err = tw("pupils", "reset", slug, founder)
    assert code == 1 and f"{founder} is not a pupil of this space." in err


def test_no_hub_or_no_data(tw, tmp_path, capsys):
    code = main(["space", "list", "--data-dir", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 1 and "No hub data at" in err and "Traceback" not in err


def test_without_data_dir_the_demo_data_here_is_used(hub, tw, tmp_path, capsys, monkeypatch):
    slug = add_space(tw, add_teacher(tw))
    # Where `make demo` ran: its data in ./demo-data, nothing in ./twinspace-data.
    (tmp_path / "demo-data").symlink_to(hub.data_dir, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TWINSPACE_DATA_DIR", raising=False)
    api = f"http://127.0.0.1:{hub.service_port}/services/twinspace/api/v1/"
    code = main(["space", "list", "--api-url", api])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert slug in out
    assert f"Using the demo's hub data in {tmp_path / 'demo-data'}" in err


def test_without_data_dir_and_no_demo_the_error_says_what_to_type(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TWINSPACE_DATA_DIR", raising=False)
    code = main(["space", "list"])
    _, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert f"No hub data at {tmp_path / 'twinspace-data'}" in err
    assert "`twinspace space list --data-dir DIR`" in err
    assert "`TWINSPACE_DATA_DIR=DIR twinspace space list`" in err


def test_hub_not_running(hub, capsys):
    url = f"http://127.0.0.1:{free_port()}/services/twinspace/api/v1/"
    code = main(["space", "list", "--data-dir", str(hub.data_dir), "--api-url", url])
    _, err = capsys.readouterr()
    assert code == 1 and "not answering" in err and "is the hub running?" in err


# --- twinspace demo -------------------------------------------------------------------------


def test_demo_starts_seeds_once_and_stops_cleanly(tmp_path, capsys):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "TWINSPACE_"))},
        "TWINSPACE_ISOLATE": "0",
        "TWINSPACE_HUB_PORT": str(free_port()),
        "TWINSPACE_PROXY_API_PORT": str(free_port()),
        "TWINSPACE_SERVICE_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    data = tmp_path / "demo-data"
    twinspace = Path(sys.executable).parent / "twinspace"
    command = [str(twinspace), "demo", "--port", str(port), "--data-dir", str(data)]
    out_path = tmp_path / "demo.out"

    def run_demo() -> tuple[subprocess.Popen, str]:
        with open(out_path, "w") as out:
            proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            text = out_path.read_text()
            if "Press Ctrl-C to stop." in text:
                return proc, text
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # the demo stops its hub
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        log = (data / "hub.log").read_text() if (data / "hub.log").exists() else ""
        pytest.fail(f"demo did not start:\n{out_path.read_text()}\n{log[-4000:]}")

    def stop(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        assert "Traceback" not in out_path.read_text()

    proc, text = run_demo()
    try:
        assert "logins" in text and f"http://localhost:{port}/" in text
        logins = (data / "demo-logins.txt").read_text()
        assert oct((data / "demo-logins.txt").stat().st_mode & 0o777) == "0o600"
        pupils = re.findall(r"^    (\S+)\s+(\S+)\s+.*\((.+)\)$", logins, re.M)
        assert len(pupils) == 12
        assert {school for *_, school in pupils} == {"Collège Jean Moulin", "Gimnazjum nr 3"}

        hub = SimpleNamespace(url=f"http://127.0.0.1:{port}/")
        session = browser_login(hub, "mdupont", "twinspace-demo")
        assert session.login_response.status_code == 302
        # As a browser: a token from the hub's token page API, then the TwinSpace API.
        r = session.post(f"{hub.url}hub/api/users/mdupont/tokens",
                         headers={"X-XSRFToken": session.cookies.get("_xsrf")},
                         json={"note": "test", "expires_in": 300}, timeout=30)
        assert r.status_code == 201, r.text
        founder = TwinSpaceClient(f"{hub.url}services/twinspace/api/v1/", r.json()["token"])
        space = founder.get("spaces/water-around-us")
        assert space["role"] == "teacher_admin" and space["member_count"] == 15
        pages = founder.get("spaces/water-around-us/pages", section="activities")["items"]
        assert [p["title"] for p in pages] == [
            "Access and motivation", "Online socialisation", "Information exchange",
            "Knowledge construction", "Development"]
        kinds = [[a["kind"] for a in founder.get(f"pages/{p['id']}")["apps"]] for p in pages]
        assert kinds == [["web_content", "forum"], ["blog"], ["forum"], ["wiki"], ["blog"]]
        # The public view has the space and its first page; the Teachers' Room a page.
        assert space["public"] is True
        assert [p["published"] for p in pages] == [True, False, False, False, False]
        listed = founder.get("spaces/water-around-us/pages", section="teachers_room")["items"]
        assert [p["title"] for p in listed] == ["Planning the project"]
        listed = founder.get("spaces/water-around-us/pupils")["items"]
        assert sorted(p["name"] for p in listed) == sorted(name for name, *_ in pupils)
        members = {m["name"]: m["role"] for m in
                   founder.get("spaces/water-around-us/members")["items"]}
        assert members["akowalska"] == "teacher" and members["visitor"] == "visitor"
        # A pupil's printed password works, and their server starts.
        name, password, _ = pupils[0]
        pupil = browser_login(hub, name, password)
        assert pupil.login_response.status_code == 302
        r = pupil.post(f"{hub.url}hub/api/users/{name}/server",
                       headers={"X-XSRFToken": pupil.cookies.get("_xsrf")}, timeout=60)
        assert r.status_code in (201, 202), r.text
        server_pid = wait_for_server_pid(pupil, hub.url, name, env["TWINSPACE_HUB_PORT"])
        # `twinspace space list` typed where the demo runs finds it: its data and its API
        # (on other ports than the default here), no option needed.
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(tmp_path)
            for key in ("TWINSPACE_DATA_DIR", "TWINSPACE_SERVICE_PORT"):
                patch.delenv(key, raising=False)
            code = main(["space", "list"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "water-around-us" in out and "Using the demo's hub data" in err
    finally:
        stop(proc)
    assert not (data / "demo-running.json").exists()  # a stopped demo is not found
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/hub/login", timeout=5)
    # Stopping the demo stops the members' servers too (a plain hub restart keeps them).
    assert not Path(f"/proc/{server_pid}").exists()

    # Second start: same data, no second seeding, same logins.
    proc, text = run_demo()
    try:
        assert "Creating the demo space" not in text
        assert (data / "demo-logins.txt").read_text() == logins
    finally:
        stop(proc)


def wait_for_server_pid(session: requests.Session, hub_url: str, name: str,
                        hub_port: str) -> int:
    """The pid of `name`'s running server, once the hub says it is ready.

    Matched by user AND hub: another demo on this machine has the same pupils' names.
    """
    marks = (f"JUPYTERHUB_USER={name}\0".encode(),
             f"JUPYTERHUB_API_URL=http://127.0.0.1:{hub_port}/".encode())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        user = session.get(f"{hub_url}hub/api/users/{name}", timeout=30).json()
        server = user.get("servers", {}).get("")
        if server and server.get("ready"):
            pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                    and all(mark in _environ(p) for mark in marks)]
            assert pids, "the server is ready but no process carries its user name"
            return pids[0]
        time.sleep(0.5)
    raise AssertionError(f"{name}'s server did not become ready")


def _environ(proc: Path) -> bytes:
    try:
        return (proc / "environ").read_bytes()
    except OSError:
        return b""


def test_console_scripts_are_installed():
    bindir = Path(sys.executable).parent
    for script in ("twinspace", "jupyter-twinspace"):
        result = subprocess.run([str(bindir / script), "--help"], capture_output=True,
                                text=True, cwd=REPO_ROOT, timeout=60)
        assert result.returncode == 0 and "user-env" in result.stdout


# --- space export / import ---------------------------------------------------------------


def test_space_export_and_import_round_trip(hub, tw, tmp_path):
    """`twinspace space export` then `import --as`: progress bars, the same pages, content and
    page notebooks (a teacher's own cells), and clear errors for what cannot work."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell

    founder = add_teacher(tw)
    slug = add_space(tw, founder)
    teacher = as_member(hub, founder)
    page = teacher.post(f"spaces/{slug}/pages", {"section": "activities", "title": "Rivers"})
    blog = teacher.post(f"pages/{page['id']}/apps", {"kind": "blog", "title": "Diary"})
    teacher.post(f"pages/{page['id']}/apps", {"kind": "wiki", "title": "Words"})
    teacher.post(f"apps/{blog['id']}/posts", {"title": "Hello", "body": "From the river"})
    spaces = Path(hub.data_dir) / "spaces"
    nb = nbformat.read(spaces / slug / "activities" / f"{page['slug']}.ipynb", as_version=4)
    nb.cells.insert(1, new_markdown_cell("Read the river's story first."))
    nb.cells.append(new_code_cell("print('measure the water')"))
    teacher.request("PUT", f"volume/{slug}/activities/Rivers.ipynb",
                    data=nbformat.writes(nb).encode())

    archive = tmp_path / "rivers.zip"
    code, out, err = tw("space", "export", slug, str(archive))
    assert code == 0, err
    size = archive.stat().st_size
    # The bar starts empty and ends full, in bytes of the archive.
    assert f"[{'.' * 30}] 0 B / " in err
    assert re.search(r"\[#{30}\] [\d.]+ [kM]?B / [\d.]+ [kM]?B", err), err
    assert f"Exported {slug} to {archive}" in out
    assert not list(tmp_path.glob(".*.part"))
    code, out, err = tw("space", "export", slug, str(archive))
    assert code == 1 and "exists already" in err and "--overwrite" in err
    code, out, err = tw("space", "export", slug, str(archive), "--overwrite")
    assert code == 0, err
    code, out, err = tw("space", "export", "no-such-space-here", str(tmp_path / "x.zip"))
    assert code == 1 and "no-such-space-here" in err and not (tmp_path / "x.zip").exists()

    new = unique("cli")
    code, out, err = tw("space", "import", str(archive), "--as", new)
    assert code == 0, err
    assert re.search(r"\[#{30}\] [\d.]+ [kM]?B / [\d.]+ [kM]?B", err), err
    assert f"as {new} (Space {slug}); {founder} is its teacher administrator" in out
    assert "1 posts" in out
    assert size > 0

    # The same pages and content, and the page notebook with the teacher's cells.
    def pages_of(space):
        found = teacher.get(f"spaces/{space}/pages")["items"]
        return sorted((p["section"], p["slug"], p["title"],
                       tuple((a["kind"], a["title"]) for a in teacher.get(
                           f"pages/{p['id']}")["apps"])) for p in found)

    assert pages_of(new) == pages_of(slug)
    rivers = next(p for p in teacher.get(f"spaces/{new}/pages")["items"]
                  if p["title"] == "Rivers")
    apps = teacher.get(f"pages/{rivers['id']}")["apps"]
    posts = teacher.get(f"apps/{apps[0]['id']}/posts")["items"]
    assert [(p["title"], p["body"]) for p in posts] == [("Hello", "From the river")]

    def cells(space, page_slug):
        book = nbformat.read(spaces / space / "activities" / f"{page_slug}.ipynb", as_version=4)
        return [("app", c.metadata["twinspace"]["kind"]) if "app_id" in c.metadata.get(
            "twinspace", {}) else (c.cell_type, c.source.splitlines()[0]) for c in book.cells]

    assert cells(new, rivers["slug"]) == cells(slug, page["slug"])
    assert ("markdown", "Read the river's story first.") in cells(new, rivers["slug"])
    imported = nbformat.read(spaces / new / "activities" / f"{rivers['slug']}.ipynb",
                             as_version=4)
    shown = [c.source for c in imported.cells if "app_id" in c.metadata.get("twinspace", {})]
    assert [f"show({a['id']})" in s for a, s in zip(apps, shown, strict=True)] == [True, True]

    # The slug is taken; the file is missing; the file is not an archive of ours.
    code, out, err = tw("space", "import", str(archive), "--as", new)
    assert code == 1 and f"A space called {new} already exists" in err and "--as SLUG" in err
    code, out, err = tw("space", "import", str(tmp_path / "missing.zip"))
    assert code == 1 and "There is no file" in err
    not_ours = tmp_path / "notes.zip"
    not_ours.write_bytes(b"just some text")
    code, out, err = tw("space", "import", str(not_ours))
    assert code == 1 and "is not a TwinSpace space export (not a ZIP archive)" in err
    # An archive whose notebook is damaged: refused by the service, nothing created.
    import zipfile

    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, b"{broken" if item.filename.endswith(f"{page['slug']}.ipynb")
                         else data)
    other = unique("cli")
    code, out, err = tw("space", "import", str(damaged), "--as", other)
    assert code == 1 and "is not a notebook Jupyter can read" in err
    assert other not in {s["slug"] for s in admin_client(hub).get("spaces", all=1)["items"]}
