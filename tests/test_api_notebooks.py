"""The service writes each page's notebook to the shared volume (F16, F17, F24, F25)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from twinspace_kernel.pages import STARTER_TEMPLATES, page_apps

STARTER_TITLES = [
    "Stage 1: Access and motivation",
    "Stage 2: Online socialisation",
    "Stage 3: Information exchange",
    "Stage 4: Knowledge construction",
    "Stage 5: Development",
]


def notebook_file(world, section: str, page_slug: str) -> Path:
    return Path(world.site.hub.data_dir) / "spaces" / world.slug / section / f"{page_slug}.ipynb"


def read(world, section, page_slug):
    return nbformat.read(notebook_file(world, section, page_slug), as_version=4)


def test_new_space_has_home_and_chat_notebooks_from_templates(world):
    home = read(world, "home", "home")
    assert home.metadata["twinspace"] == {
        "space": world.slug, "section": "home", "page_id": world.page_id("home"),
        "title": "Home", "published": False, "position": 0,
    }
    page = world.as_("teacher").ok("GET", f"pages/{world.page_id('home')}")
    assert [(a["kind"], a["title"]) for a in page["apps"]] == [
        ("members", "TwinSpace members"), ("mailbox", "Mailbox"), ("calendar", "Calendar"),
        ("blog", "Project journal"), ("activity", "Latest activities"),
    ]
    assert page_apps(home) == [(a["id"], a["kind"]) for a in page["apps"]]
    chat = read(world, "chat", "chat")
    assert [kind for _id, kind in page_apps(chat)] == ["chat"]
    assert not (notebook_file(world, "activities", "x").parent).exists()


def test_page_changes_are_written_and_deleted(world):
    ta = world.as_("teacher_admin")
    page_id = world.add_page("activities", "Our rivers")
    path = notebook_file(world, "activities", "our-rivers")
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["twinspace"]["page_id"] == page_id
    assert nb.cells[0].source == "# Our rivers"
    assert page_apps(nb) == []

    forum = world.add_app(page_id, "forum", "Questions")
    wiki = world.add_app(page_id, "wiki", "Glossary")
    assert page_apps(nbformat.read(path, as_version=4)) == [(forum, "forum"), (wiki, "wiki")]

    ta.ok("PATCH", f"pages/{page_id}", json={"title": "Our rivers and lakes"})
    ta.ok("PATCH", f"pages/{page_id}", json={"published": True})
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["twinspace"]["title"] == "Our rivers and lakes"
    assert nb.metadata["twinspace"]["published"] is True
    assert nb.cells[0].source == "# Our rivers and lakes"

    ta.ok("PATCH", f"apps/{wiki}", json={"position": -1, "title": "Words"})
    nb = nbformat.read(path, as_version=4)
    assert page_apps(nb) == [(wiki, "wiki"), (forum, "forum")]
    assert f"show({wiki})  # Words" in [c.source for c in nb.cells][1]

    other = world.add_page("activities", "Second")
    ta.ok("PUT", f"spaces/{world.slug}/pages/order",
          json={"section": "activities", "ids": [other, page_id]})
    assert nbformat.read(path, as_version=4).metadata["twinspace"]["position"] == 1

    ta.delete(f"apps/{forum}", expect=204)
    assert page_apps(nbformat.read(path, as_version=4)) == [(wiki, "wiki")]
    ta.delete(f"pages/{page_id}", expect=204)
    assert not path.exists()
    assert notebook_file(world, "activities", "second").exists()
    # No temporary files are left behind.
    assert [p.name for p in path.parent.iterdir()] == ["second.ipynb"]


def test_teacher_cell_added_by_hand_survives_add_application(world):
    page_id = world.add_page("activities", "Hand made")
    forum = world.add_app(page_id, "forum")
    path = notebook_file(world, "activities", "hand-made")
    nb = nbformat.read(path, as_version=4)
    mine = new_markdown_cell("**Read this before you post.**")
    nb.cells.insert(1, mine)
    nb.cells.append(new_markdown_cell("The end, by the teacher."))
    nbformat.write(nb, path)

    gallery = world.add_app(page_id, "gallery", "Photos")
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in nb.cells]
    assert sources[1] == "**Read this before you post.**"
    assert sources[-1] == "The end, by the teacher."
    assert [c.id for c in nb.cells if c.source == mine.source] == [mine.id]
    assert page_apps(nb) == [(forum, "forum"), (gallery, "gallery")]


def test_space_created_with_the_starter_set(site):
    founder = site.account("teacher", prefix="ta")
    from utils import unique

    slug = unique("starter")
    founder.ok("POST", "spaces", json={"slug": slug, "title": "Starter", "starter": True})
    pages = founder.ok("GET", f"spaces/{slug}/pages", params={"section": "activities"})
    assert [p["title"] for p in pages["items"]] == STARTER_TITLES
    spaces = Path(site.hub.data_dir) / "spaces" / slug
    for item in pages["items"]:
        page = founder.ok("GET", f"pages/{item['id']}")
        kinds = [a["kind"] for a in page["apps"]]
        assert kinds[0] == "web_content" and len(kinds) >= 2, kinds
        welcome = founder.ok("GET", f"apps/{page['apps'][0]['id']}/content")
        assert "<h3>" in welcome["html"]
        nb = nbformat.read(spaces / "activities" / f"{item['slug']}.ipynb", as_version=4)
        assert page_apps(nb) == [(a["id"], a["kind"]) for a in page["apps"]]
        assert "five-stage model" in nb.cells[1].source  # the intro, after the title
    # Without "starter", Project Activities starts empty.
    other = unique("plain")
    founder.ok("POST", "spaces", json={"slug": other, "title": "Plain"})
    assert founder.ok("GET", f"spaces/{other}/pages", params={"section": "activities"}) == {
        "items": [], "next": None}
    founder.post("spaces", json={"slug": unique("bad"), "title": "B", "starter": "yes"},
                 expect=400)


# Who may add the starter set to Project Activities later (manage pages there).
STARTER_EXPECT = {
    "teacher_admin": 201,
    "teacher": 201,
    "pupil_admin": 201,
    "pupil": 403,
    "visitor": 403,
    "outsider": 403,
    "public": 401,
}


@pytest.mark.parametrize("role", list(STARTER_EXPECT))
def test_starter_endpoint_rights(world, role):
    r = world.as_(role).post(f"spaces/{world.slug}/starter", expect=STARTER_EXPECT[role])
    pages = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/pages",
                                          params={"section": "activities"})["items"]
    if r.status_code == 201:
        made = r.json()["items"]
        assert [p["title"] for p in made] == STARTER_TITLES
        assert [p["id"] for p in pages] == [p["id"] for p in made]
        assert all(notebook_file(world, "activities", p["slug"]).exists() for p in made)
    else:
        assert r.json()["message"]
        assert pages == []


def test_starter_set_twice_gets_new_names(world):
    ta = world.as_("teacher_admin")
    first = ta.ok("POST", f"spaces/{world.slug}/starter")["items"]
    second = ta.ok("POST", f"spaces/{world.slug}/starter")["items"]
    assert [p["slug"] + "-2" for p in first] == [p["slug"] for p in second]


def test_page_from_a_template(world):
    pa = world.as_("pupil_admin")
    page = pa.ok("POST", f"spaces/{world.slug}/pages",
                 json={"section": "pupils_corner", "template": "pupils_corner.ipynb"})
    assert page["title"] == "Pupils' Corner"
    assert [a["kind"] for a in page["apps"]] == ["web_content", "forum"]
    nb = read(world, "pupils_corner", page["slug"])
    assert page_apps(nb) == [(a["id"], a["kind"]) for a in page["apps"]]
    # A template of another section, or an unknown one, is refused.
    pa.post(f"spaces/{world.slug}/pages",
            json={"section": "pupils_corner", "template": STARTER_TEMPLATES[0]}, expect=400)
    world.as_("teacher_admin").post(
        f"spaces/{world.slug}/pages",
        json={"section": "activities", "template": "../pages.py"}, expect=400)
