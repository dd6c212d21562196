"""Wiki API (F20): every endpoint for every role, edit conflicts, concurrency, history."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from utils import ROLES, Caller, unique

# A wiki on an (unpublished) Project Activities page.
VIEW = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
        "visitor": 200, "outsider": 403, "public": 401}
CREATE = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
          "visitor": 403, "outsider": 403, "public": 401}
SAVE = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
        "visitor": 403, "outsider": 403, "public": 401}
REVERT = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 201,
          "visitor": 403, "outsider": 403, "public": 401}
# The page is created by the pupil: its creator and the Activities moderators may delete it.
DELETE = {"teacher_admin": 204, "teacher": 204, "pupil_admin": 403, "pupil": 204,
          "visitor": 403, "outsider": 403, "public": 401}

TEXT1 = "# Recipes\n\nline one\nline two\nline three\n"
TEXT2 = "# Recipes\n\nline one\nline 2\nline three\nline four\n"


@pytest.fixture(scope="module")
def shared(site):
    """One space for the read-only matrix tests: a wiki page with two revisions."""
    world = site.space()
    app = world.new_app("wiki")
    wiki = world.as_("teacher").ok("POST", f"apps/{app}/wiki",
                                   json={"title": "Recipes", "text": TEXT1})
    world.as_("pupil").ok("PUT", f"wiki/{wiki['id']}",
                          json={"text": TEXT2, "base_revision": 1, "summary": "fix"})
    return SimpleNamespace(world=world, app=app, wiki=wiki["id"])


def new_wiki(shared, who="teacher_admin", text=TEXT1):
    return shared.world.as_(who).ok(
        "POST", f"apps/{shared.app}/wiki", json={"title": unique("Page "), "text": text}
    )


def refused(r):
    assert r.json()["message"], r.text


@pytest.mark.parametrize("role", ROLES)
def test_list_pages(shared, role):
    r = shared.world.as_(role).get(f"apps/{shared.app}/wiki", expect=VIEW[role])
    if r.status_code != 200:
        return refused(r)
    items = {item["id"]: item for item in r.json()["items"]}
    item = items[shared.wiki]
    assert item["title"] == "Recipes"
    assert item["revision"] == 2
    assert item["author"]["name"] == shared.world.as_("pupil").name
    assert item["updated_at"]
    assert r.json()["next"] is None


@pytest.mark.parametrize("role", ROLES)
def test_create_page(shared, role):
    title = unique("New page ")
    r = shared.world.as_(role).post(f"apps/{shared.app}/wiki",
                                    json={"title": title, "text": "Hello *world*"},
                                    expect=CREATE[role])
    if r.status_code != 201:
        return refused(r)
    body = r.json()
    assert body["title"] == title
    assert body["revision"] == 1
    assert body["text"] == "Hello *world*"
    assert "<em>world</em>" in body["html"]
    assert body["author"]["name"] == shared.world.as_(role).name


@pytest.mark.parametrize("role", ROLES)
def test_get_page(shared, role):
    r = shared.world.as_(role).get(f"wiki/{shared.wiki}", expect=VIEW[role])
    if r.status_code != 200:
        return refused(r)
    body = r.json()
    assert set(body) >= {"id", "title", "revision", "text", "html", "author", "updated_at"}
    assert body["revision"] == 2
    assert body["text"] == TEXT2
    assert "<h1>Recipes</h1>" in body["html"]


@pytest.mark.parametrize("role", ROLES)
def test_save(shared, role):
    wiki = new_wiki(shared)
    r = shared.world.as_(role).put(f"wiki/{wiki['id']}",
                                   json={"text": "changed", "base_revision": 1},
                                   expect=SAVE[role])
    after = shared.world.as_("teacher_admin").ok("GET", f"wiki/{wiki['id']}")
    if r.status_code != 200:
        refused(r)
        assert after["revision"] == 1 and after["text"] == TEXT1
        return
    assert r.json()["revision"] == 2
    assert after["text"] == "changed"


@pytest.mark.parametrize("role", ROLES)
def test_revisions(shared, role):
    r = shared.world.as_(role).get(f"wiki/{shared.wiki}/revisions", expect=VIEW[role])
    if r.status_code != 200:
        return refused(r)
    items = r.json()["items"]
    assert [i["number"] for i in items] == [2, 1]
    assert items[0]["summary"] == "fix"
    assert items[0]["author"]["name"] == shared.world.as_("pupil").name
    assert items[1]["author"]["name"] == shared.world.as_("teacher").name


@pytest.mark.parametrize("role", ROLES)
def test_revision(shared, role):
    r = shared.world.as_(role).get(f"wiki/{shared.wiki}/revisions/1", expect=VIEW[role])
    if r.status_code != 200:
        return refused(r)
    assert r.json()["number"] == 1
    assert r.json()["text"] == TEXT1


@pytest.mark.parametrize("role", ROLES)
def test_diff(shared, role):
    r = shared.world.as_(role).get(f"wiki/{shared.wiki}/diff?from=1&to=2", expect=VIEW[role])
    if r.status_code != 200:
        return refused(r)
    body = r.json()
    assert "-line two" in body["unified"] and "+line 2" in body["unified"]
    assert "+line four" in body["unified"]


@pytest.mark.parametrize("role", ROLES)
def test_revert(shared, role):
    wiki = new_wiki(shared)
    shared.world.as_("teacher").ok("PUT", f"wiki/{wiki['id']}",
                                   json={"text": TEXT2, "base_revision": 1})
    r = shared.world.as_(role).post(f"wiki/{wiki['id']}/revert",
                                    json={"revision": 1, "base_revision": 2},
                                    expect=REVERT[role])
    if r.status_code != 201:
        return refused(r)
    assert r.json()["revision"] == 3
    assert r.json()["text"] == TEXT1


@pytest.mark.parametrize("role", ROLES)
def test_delete(shared, role):
    wiki = new_wiki(shared, who="pupil")
    r = shared.world.as_(role).delete(f"wiki/{wiki['id']}", expect=DELETE[role])
    still = shared.world.as_("teacher_admin").get(f"wiki/{wiki['id']}")
    if r.status_code != 204:
        refused(r)
        assert still.status_code == 200
        return
    assert still.status_code == 404
    shared.world.as_("teacher_admin").get(f"wiki/{wiki['id']}/revisions", expect=404)


def test_conflict_never_loses_text(world):
    app = world.new_app("wiki")
    a, b = world.as_("teacher"), world.as_("pupil")
    wiki = a.ok("POST", f"apps/{app}/wiki", json={"title": "Plan", "text": "start\n"})
    path = f"wiki/{wiki['id']}"
    # Both read revision 1.
    assert a.ok("GET", path)["revision"] == 1
    assert b.ok("GET", path)["revision"] == 1
    # A saves first.
    saved = a.ok("PUT", path, json={"text": "start\nA's line\n", "base_revision": 1})
    assert saved["revision"] == 2
    # B saves on the stale base: refused, with both texts.
    r = b.put(path, json={"text": "start\nB's line\n", "base_revision": 1}, expect=409)
    body = r.json()
    assert body["error"] == "conflict"
    assert "revision 2" in body["message"] and "not saved" in body["message"]
    assert body["current"]["revision"] == 2
    assert body["current"]["text"] == "start\nA's line\n"
    assert body["current"]["author"]["name"] == a.name
    assert body["current"]["updated_at"]
    assert body["yours"] == {"base_revision": 1, "text": "start\nB's line\n"}
    # A's text is what is stored.
    stored = b.ok("GET", path)
    assert stored["revision"] == 2 and stored["text"] == "start\nA's line\n"
    # B merges and saves on revision 2.
    merged = b.ok("PUT", path, json={"text": "start\nA's line\nB's line\n", "base_revision": 2})
    assert merged["revision"] == 3
    assert merged["author"]["name"] == b.name
    history = b.ok("GET", f"{path}/revisions")["items"]
    assert [h["number"] for h in history] == [3, 2, 1]


def test_concurrent_saves_exactly_one_wins(world, site):
    app = world.new_app("wiki")
    wiki = world.as_("teacher_admin").ok("POST", f"apps/{app}/wiki",
                                         json={"title": "Race", "text": "v1"})
    path = f"wiki/{wiki['id']}"
    members = [world.as_(r) for r in ("teacher_admin", "teacher", "pupil_admin", "pupil")]
    # One session per thread: requests sessions are not shared across threads.
    callers = [Caller(site.api_base, c.token, c.name) for c in members for _ in range(3)][:10]
    barrier = threading.Barrier(len(callers))

    def save(i):
        barrier.wait()
        return callers[i].put(path, json={"text": f"text from writer {i}", "base_revision": 1})

    with ThreadPoolExecutor(len(callers)) as pool:
        results = list(pool.map(save, range(len(callers))))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [409] * 9, statuses
    winner = next(i for i, r in enumerate(results) if r.status_code == 200)
    for i, r in enumerate(results):
        if r.status_code == 409:
            assert r.json()["yours"]["text"] == f"text from writer {i}"
            assert r.json()["current"]["revision"] == 2
    stored = world.as_("teacher").ok("GET", path)
    assert stored["revision"] == 2
    assert stored["text"] == f"text from writer {winner}"
    assert len(world.as_("teacher").ok("GET", f"{path}/revisions")["items"]) == 2


def test_history_paging_diff_and_revert(world):
    app = world.new_app("wiki")
    ta = world.as_("teacher_admin")
    wiki = ta.ok("POST", f"apps/{app}/wiki", json={"title": "History", "text": TEXT1})
    path = f"wiki/{wiki['id']}"
    ta.ok("PUT", path, json={"text": TEXT2, "base_revision": 1, "summary": "second"})
    ta.ok("PUT", path, json={"text": TEXT2 + "end\n", "base_revision": 2})
    # Identical text: 200, no new revision.
    same = ta.ok("PUT", path, json={"text": TEXT2 + "end\n", "base_revision": 3})
    assert same["revision"] == 3
    # Keyset paging on the revision number, newest first.
    page1 = ta.ok("GET", f"{path}/revisions?limit=2")
    assert [i["number"] for i in page1["items"]] == [3, 2]
    assert page1["next"] == 2
    page2 = ta.ok("GET", f"{path}/revisions?limit=2&before={page1['next']}")
    assert [i["number"] for i in page2["items"]] == [1]
    assert page2["next"] is None
    # Diff hunks for the widget.
    diff = ta.ok("GET", f"{path}/diff?from=1&to=2")
    assert diff["from"]["number"] == 1 and diff["to"]["number"] == 2
    assert diff["unified"].startswith("--- revision 1\n+++ revision 2")
    ops = [(h["op"], h["a"], h["b"]) for h in diff["hunks"]]
    assert ("equal", ["# Recipes", "", "line one"], ["# Recipes", "", "line one"]) in ops
    assert ("replace", ["line two"], ["line 2"]) in ops
    assert ("insert", [], ["line four"]) in ops
    # Default diff: the newest change.
    latest = ta.ok("GET", f"{path}/diff")
    assert (latest["from"]["number"], latest["to"]["number"]) == (2, 3)
    assert latest["hunks"][-1] == {"op": "insert", "a": [], "b": ["end"]}
    deleted = ta.ok("GET", f"{path}/diff?from=3&to=1")
    assert {"op": "delete", "a": ["line four", "end"], "b": []} in deleted["hunks"]
    # Revert: a NEW revision holding revision 1's text.
    reverted = ta.ok("POST", f"{path}/revert", json={"revision": 1, "base_revision": 3})
    assert reverted["revision"] == 4 and reverted["text"] == TEXT1
    newest = ta.ok("GET", f"{path}/revisions")["items"][0]
    assert newest["number"] == 4 and newest["reverted_from"] == 1
    assert "revision 1" in newest["summary"]
    old = ta.ok("GET", f"{path}/revisions/2")
    assert old["text"] == TEXT2
    # Revert on a stale base is a conflict like any save.
    r = ta.post(f"{path}/revert", json={"revision": 2, "base_revision": 3}, expect=409)
    assert r.json()["current"]["revision"] == 4
    assert r.json()["yours"]["text"] == TEXT2
    assert ta.ok("GET", path)["text"] == TEXT1


def test_bad_input_and_missing(world):
    app = world.new_app("wiki")
    ta = world.as_("teacher_admin")
    wiki = ta.ok("POST", f"apps/{app}/wiki", json={"title": "Dup", "text": "x"})
    path = f"wiki/{wiki['id']}"
    ta.post(f"apps/{app}/wiki", json={"title": "Dup", "text": "y"}, expect=409)
    ta.post(f"apps/{app}/wiki", json={"title": "No text"}, expect=400)
    ta.post(f"apps/{app}/wiki", json={"title": "", "text": "y"}, expect=400)
    ta.post(f"apps/{app}/wiki", json={"title": "T", "text": 5}, expect=400)
    ta.put(path, json={"text": "y"}, expect=400)
    ta.put(path, json={"text": "y", "base_revision": "1"}, expect=400)
    ta.put(path, data="not json", expect=400)
    ta.get(f"{path}/revisions/9", expect=404)
    ta.get(f"{path}/revisions/abc", expect=404)
    ta.get(f"{path}/diff?from=1&to=9", expect=400)
    ta.get(f"{path}/diff?from=x", expect=400)
    ta.post(f"{path}/revert", json={"revision": 7, "base_revision": 1}, expect=404)
    ta.get("wiki/999999", expect=404)
    ta.put("wiki/999999", json={"text": "y", "base_revision": 1}, expect=404)
    blog = world.new_app("blog")
    ta.get(f"apps/{blog}/wiki", expect=404)
    ta.get("apps/999999/wiki", expect=404)
    # Unsafe Markdown is rendered sanitized; the source is kept as typed.
    saved = ta.ok("PUT", path, json={"text": "  <script>alert(1)</script> hi", "base_revision": 1})
    assert saved["text"] == "  <script>alert(1)</script> hi"
    assert "<script" not in saved["html"]


def test_published_page_public_reads_only(world):
    ta = world.as_("teacher_admin")
    page = world.add_page("activities", "Public wiki")
    app = world.add_app(page, "wiki")
    wiki = world.as_("pupil").ok("POST", f"apps/{app}/wiki", json={"title": "Ours", "text": "x"})
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    ta.ok("PATCH", f"pages/{page}", json={"published": True})
    public = world.as_("public")
    listed = public.ok("GET", f"apps/{app}/wiki")["items"]
    # F31: the public never sees a pupil's name.
    assert listed[0]["author"]["name"] is None
    body = public.ok("GET", f"wiki/{wiki['id']}")
    assert body["author"] == {"name": None, "display_name": "A pupil", "kind": "pupil"}
    public.ok("GET", f"wiki/{wiki['id']}/revisions")
    public.ok("GET", f"wiki/{wiki['id']}/diff?from=1&to=1")
    public.put(f"wiki/{wiki['id']}", json={"text": "y", "base_revision": 1}, expect=401)
    public.post(f"apps/{app}/wiki", json={"title": "P", "text": "y"}, expect=401)
    public.delete(f"wiki/{wiki['id']}", expect=401)


TEACHERS_ROOM_EDIT = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 403, "pupil": 403,
                      "visitor": 403, "outsider": 403, "public": 401}


def test_teachers_room_wiki(world):
    app = world.new_app("wiki", "teachers_room")
    wiki = world.as_("teacher").ok("POST", f"apps/{app}/wiki", json={"title": "T", "text": "x"})
    base = 1
    for role in ROLES:
        r = world.as_(role).put(f"wiki/{wiki['id']}",
                                json={"text": f"by {role}", "base_revision": base},
                                expect=TEACHERS_ROOM_EDIT[role])
        if r.status_code == 200:
            base += 1
        world.as_(role).get(f"wiki/{wiki['id']}", expect=TEACHERS_ROOM_EDIT[role])


def test_changes_are_in_latest_activities(world):
    app = world.new_app("wiki")
    pupil = world.as_("pupil")
    wiki = pupil.ok("POST", f"apps/{app}/wiki", json={"title": "Journal", "text": "a"})
    pupil.ok("PUT", f"wiki/{wiki['id']}", json={"text": "b", "base_revision": 1})
    pupil.ok("POST", f"wiki/{wiki['id']}/revert", json={"revision": 1, "base_revision": 2})
    feed = world.as_("teacher").ok("GET", f"spaces/{world.slug}/activity")["items"]
    verbs = [(i["verb"], i["object_id"]) for i in feed if i["verb"].startswith("wiki.")]
    assert verbs == [("wiki.edit", wiki["id"]), ("wiki.edit", wiki["id"]),
                     ("wiki.create", wiki["id"])]
    assert "revision 3" in feed[0]["summary"]
