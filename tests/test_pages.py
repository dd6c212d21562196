"""Page notebooks: built from page records, kept in step, teachers' own cells kept (F24)."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from twinspace_kernel import pages
from twinspace_kernel.pages import (
    STARTER_TEMPLATES,
    TEMPLATES_DIR,
    app_cell,
    instantiate_template,
    load_template,
    notebook_from_template,
    page_apps,
    page_notebook,
    sync_notebook,
)

APPS = [{"id": 11, "kind": "web_content", "title": "Welcome"},
        {"id": 12, "kind": "forum", "title": "Introduce yourself"},
        {"id": 13, "kind": "gallery", "title": "Our towns"}]


def record(apps=APPS, **changes):
    page = {"id": 7, "space": "eu-water", "section": "activities", "title": "Water",
            "published": False, "apps": apps}
    page.update(changes)
    return page


def sources(nb):
    return [c.source for c in nb.cells]


def roundtrip(nb):
    return pages.reads(pages.writes(nb))


def test_app_cell_shows_the_app_and_says_which():
    cell = app_cell(12, "forum", "Introduce\nyourself")
    assert cell.cell_type == "code"
    assert cell.source == "from twinspace_kernel.apps import show\nshow(12)  # Introduce yourself"
    assert cell.metadata["twinspace"] == {"app_id": 12, "kind": "forum"}
    assert cell.metadata["tags"] == ["twinspace-app"]
    assert cell.metadata["jupyter"]["source_hidden"] is True


def test_page_notebook_has_metadata_title_and_apps_in_order():
    nb = page_notebook("eu-water", "activities", 7, "Water", APPS, published=True)
    nbformat.validate(nb)
    assert nb.metadata["twinspace"] == {"space": "eu-water", "section": "activities",
                                        "page_id": 7, "title": "Water", "published": True}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source == "# Water"
    assert page_apps(nb) == [(11, "web_content"), (12, "forum"), (13, "gallery")]
    # Activity pages end with the page tools (shown only to those who may manage pages).
    assert nb.cells[-1].metadata["twinspace"] == {"role": "tools"}
    assert "page_tools('eu-water', 'activities', 7)" in nb.cells[-1].source
    # Home has no tools cell; tuples work too.
    home = page_notebook("eu-water", "home", 1, "Home", [(1, "members", "Members")])
    assert [c.metadata["twinspace"].get("role") for c in home.cells] == ["title", None]


def with_teacher_cells():
    """A page notebook where a teacher added cells before, between and after the apps."""
    nb = page_notebook("eu-water", "activities", 7, "Water", APPS)
    intro = new_markdown_cell("Teacher's intro")
    between = new_code_cell("import ipywidgets as w\nw.IntSlider()")
    end = new_markdown_cell("Teacher's closing words")
    title, web, forum, gallery, tools = nb.cells
    nb.cells = [title, intro, web, between, forum, gallery, tools, end]
    return roundtrip(nb)


def test_teacher_cells_survive_adding_an_app():
    nb = with_teacher_cells()
    added = [*APPS, {"id": 14, "kind": "wiki", "title": "Glossary"}]
    nb = roundtrip(sync_notebook(nb, record(added)))
    assert sources(nb)[:6] == ["# Water", "Teacher's intro", pages.app_source(11, "Welcome"),
                               "import ipywidgets as w\nw.IntSlider()",
                               pages.app_source(12, "Introduce yourself"),
                               pages.app_source(13, "Our towns")]
    assert sources(nb)[6] == pages.app_source(14, "Glossary")  # right after the last app
    assert sources(nb)[-1] == "Teacher's closing words"
    assert page_apps(nb) == [(11, "web_content"), (12, "forum"), (13, "gallery"), (14, "wiki")]


def test_teacher_cells_survive_removing_an_app():
    nb = with_teacher_cells()
    nb = roundtrip(sync_notebook(nb, record([APPS[0], APPS[2]])))
    assert page_apps(nb) == [(11, "web_content"), (13, "gallery")]
    text = sources(nb)
    assert text.index("Teacher's intro") < text.index(pages.app_source(11, "Welcome"))
    assert text.index(pages.app_source(11, "Welcome")) < text.index(
        "import ipywidgets as w\nw.IntSlider()") < text.index(pages.app_source(13, "Our towns"))
    assert text[-1] == "Teacher's closing words"
    # Removing every app leaves the teacher's cells and the title.
    empty = sync_notebook(nb, record([]))
    assert page_apps(empty) == []
    assert "Teacher's intro" in sources(empty) and "Teacher's closing words" in sources(empty)


def test_teacher_cells_keep_their_place_when_apps_are_reordered():
    nb = with_teacher_cells()
    ids_before = [c.id for c in nb.cells if pages.is_app_cell(c)]
    nb = roundtrip(sync_notebook(nb, record([APPS[2], APPS[0], APPS[1]])))
    assert page_apps(nb) == [(13, "gallery"), (11, "web_content"), (12, "forum")]
    kinds = [c.metadata.get("twinspace", {}).get("kind") or c.source for c in nb.cells]
    assert kinds == ["# Water", "Teacher's intro", "gallery",
                     "import ipywidgets as w\nw.IntSlider()", "web_content", "forum",
                     pages.tools_source("eu-water", "activities", 7), "Teacher's closing words"]
    # The app cells moved (same cell ids), they were not rebuilt.
    assert sorted(c.id for c in nb.cells if pages.is_app_cell(c)) == sorted(ids_before)


def test_title_and_published_follow_the_record_and_sync_is_stable():
    nb = with_teacher_cells()
    nb = sync_notebook(nb, record(title="Water in our towns", published=True))
    assert nb.cells[0].source == "# Water in our towns"
    assert nb.metadata["twinspace"]["title"] == "Water in our towns"
    assert nb.metadata["twinspace"]["published"] is True
    again = sync_notebook(roundtrip(nb), record(title="Water in our towns", published=True))
    assert pages.writes(again) == pages.writes(nb)


def test_new_app_before_existing_ones_goes_before_the_first_slot():
    nb = with_teacher_cells()
    nb = sync_notebook(nb, record([{"id": 20, "kind": "blog", "title": "News"}, *APPS]))
    assert page_apps(nb)[0] == (20, "blog")
    assert sources(nb)[1] == "Teacher's intro"  # still right after the title


def test_notebook_without_title_or_apps_gets_them():
    nb = nbformat.v4.new_notebook(cells=[new_markdown_cell("mine")])
    nb = sync_notebook(nb, record())
    assert sources(nb)[:2] == ["# Water", "mine"]
    assert page_apps(nb) == [(11, "web_content"), (12, "forum"), (13, "gallery")]


def test_every_template_reads_and_fills_in():
    names = ["home.ipynb", "chat.ipynb", "activities.ipynb", "teachers_room.ipynb",
             "pupils_corner.ipynb", *STARTER_TEMPLATES]
    for name in names:
        title, apps, extra = instantiate_template(TEMPLATES_DIR / name)
        assert title and apps, name
        for cell in extra:
            assert not pages.is_app_cell(cell)
        template = load_template(name)
        page = record([{"id": 100 + i, "kind": k, "title": t} for i, (k, t) in enumerate(apps)],
                      title=title)
        nb = notebook_from_template(template, page)
        nbformat.validate(nb)
        assert page_apps(nb) == [(100 + i, k) for i, (k, _t) in enumerate(apps)]
        for cell in extra:
            assert cell.source in sources(nb)
    title, apps, _extra = instantiate_template(TEMPLATES_DIR / "home.ipynb")
    assert title == "Home"
    assert apps == [("members", "TwinSpace members"), ("mailbox", "Mailbox"),
                    ("calendar", "Calendar"), ("blog", "Project journal"),
                    ("activity", "Latest activities")]
    _title, _apps, extra = instantiate_template(TEMPLATES_DIR / STARTER_TEMPLATES[0])
    assert extra[0].cell_type == "markdown" and "five-stage model" in extra[0].source


def test_template_names_stay_inside_the_templates_folder():
    with pytest.raises(ValueError):
        pages.template_path("../pages.py")
    with pytest.raises(FileNotFoundError):
        pages.template_path("nothing.ipynb")


def test_first_apps_of_an_empty_page_go_before_the_tools():
    nb = page_notebook("eu-water", "activities", 7, "Water", [])
    nb.cells.append(new_markdown_cell("after the tools"))
    nb = sync_notebook(nb, record(APPS[:2]))
    roles = [c.metadata.get("twinspace", {}).get("role") or c.metadata.get("twinspace", {}).get(
        "kind") or c.source for c in nb.cells]
    assert roles == ["title", "web_content", "forum", "tools", "after the tools"]
