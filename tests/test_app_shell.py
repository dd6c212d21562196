"""The member view's shell (apps/shell.py) moving between pages in place, with the real service.

The browser side and the real kernel are in test_member_view (Chromium); here the kernel
side is driven directly: which page it shows, what it closes, what a page's cells become.
"""

from __future__ import annotations

import nbformat
import pytest
from ipywidgets.widgets.widget import _instances

from twinspace_kernel.apps import APPS
from twinspace_kernel.apps.blog import Blog
from twinspace_kernel.apps.chat import Chat
from twinspace_kernel.apps.manage_pages import ManagePages
from twinspace_kernel.apps.shell import Shell, import_apps, markdown_widget


@pytest.fixture
def volume(site):
    return site.hub.data_dir / "spaces"


def notebook_path(volume, world, page_id: int):
    page = world.as_("teacher_admin").ok("GET", f"pages/{page_id}")
    return volume / page["space"] / page["section"] / f"{page['slug']}.ipynb"


def add_cells(volume, world, page_id: int, *cells) -> None:
    """What a teacher authoring the page in JupyterLab adds (F24), after its title."""
    path = notebook_path(volume, world, page_id)
    nb = nbformat.read(path, as_version=4)
    nb.cells[1:1] = list(cells)
    nbformat.write(nb, path)


@pytest.fixture
def shells(monkeypatch):
    made: list[Shell] = []

    def make(world, role: str, section: str = "home", **kwargs) -> Shell:
        # The page's cells call the service as a member's kernel does: from its environment.
        monkeypatch.setenv("TWINSPACE_API_URL", world.site.api_base)
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", world.as_(role).token or "")
        shell = Shell(world.page_id(section), space=world.slug, section=section,
                      base_url="/user/someone/", hub_url="/hub/",
                      client=world.client(role), **kwargs)
        made.append(shell)
        return shell

    yield make
    for shell in made:
        shell.close_old(set(_instances) - shell.keep)


def widgets_of(shell: Shell) -> set[str]:
    return set(_instances) - shell.keep


def swap(shell: Shell, page_id: int) -> dict:
    shown = shell.show(page_id)
    assert shown is not None
    page, old = shown
    shell.close_old(old)
    return page


def test_a_swap_shows_the_page_under_its_bar_and_closes_the_old_one(world, volume, shells):
    blog_page = world.add_page("activities", "Our blog")
    world.add_app(blog_page, "blog")
    add_cells(volume, world, blog_page,
              nbformat.v4.new_markdown_cell("## Rivers\n\nWe *measure* the water."),
              nbformat.v4.new_code_cell("depth = 42\nprint(depth)"))
    shell = shells(world, "pupil", spaces_dir=str(volume))
    assert shell.page == world.page_id("home")
    assert shell.prefix == "/user/someone/twinspace/page/"

    # Home → the blog page: the bar moves with it, the page's cells are in the content.
    shown = swap(shell, blog_page)
    assert shown["title"] == "Our blog" and shell.page == blog_page
    assert shell.nav.page["id"] == blog_page and shell.nav.section == "activities"
    assert f'href="/user/someone/twinspace/page/{blog_page}" aria-current="page"' \
        in shell.nav.bar.value
    texts = [w.value for w in shell.content.children if hasattr(w, "value")]
    assert any("<em>measure</em>" in t for t in texts)
    assert Blog in _built_kinds(shell)
    # The page's own tools cell is left out: the bar holds Manage pages.
    assert ManagePages not in _built_kinds(shell)
    blog_widgets = widgets_of(shell)
    assert blog_widgets

    # A teacher's variable stays with its page: the chat page's cell does not see it.
    chat_page = world.page_id("chat")
    add_cells(volume, world, chat_page, nbformat.v4.new_code_cell("print(depth)"))
    swap(shell, chat_page)
    assert not blog_widgets & set(_instances), "the blog page's widgets are all closed"
    assert "depth" not in shell.namespace
    [chat] = [w for w in _live_widgets(shell) if isinstance(w, Chat)]
    assert chat.live

    # Back home: the chat stopped following its room when its page went.
    swap(shell, world.page_id("home"))
    assert not chat.live
    assert shell.nav.section == "home"


def _live_widgets(shell: Shell) -> list:
    return [_instances[m] for m in widgets_of(shell) if m in _instances]


def _built_kinds(shell: Shell) -> list[type]:
    return [type(widget) for widget in _live_widgets(shell)]


def test_markdown_is_sanitized_and_a_failing_cell_does_not_stop_the_page(world, volume,
                                                                         shells):
    page_id = world.add_page("activities", "Tricky")
    add_cells(volume, world, page_id,
              nbformat.v4.new_markdown_cell(
                  'Hi <script>alert(1)</script><img src=x onerror="alert(2)">'
                  '<b>bold</b>'),
              nbformat.v4.new_code_cell("1 / 0"),
              nbformat.v4.new_code_cell("after = 'still runs'"))
    shell = shells(world, "pupil", spaces_dir=str(volume))
    swap(shell, page_id)
    [markdown] = [w for w in shell.content.children if "twinspace-markdown" in
                  getattr(w, "value", "") and "Hi" in w.value]
    assert "<script" not in markdown.value and "onerror" not in markdown.value
    assert "<b>bold</b>" in markdown.value
    assert "jp-RenderedMarkdown" in markdown._dom_classes
    assert shell.namespace["after"] == "still runs"


def test_a_page_the_member_may_not_see_is_left_to_the_server(world, volume, shells):
    teachers = world.add_page("teachers_room", "Planning")
    shell = shells(world, "pupil", spaces_dir=str(volume))
    before = list(shell.content.children), shell.page
    assert shell.show(teachers) is None
    assert shell.show(99_999_999) is None
    assert (list(shell.content.children), shell.page) == before
    # A teacher moves there in place.
    teacher = shells(world, "teacher", spaces_dir=str(volume))
    assert swap(teacher, teachers)["section"] == "teachers_room"


def test_without_the_volume_the_service_sends_the_notebook(world, volume, shells):
    page_id = world.add_page("activities", "From the service")
    add_cells(volume, world, page_id, nbformat.v4.new_code_cell("marker = 7"))
    shell = shells(world, "pupil", spaces_dir="")
    swap(shell, page_id)
    assert shell.namespace["marker"] == 7


def test_importing_the_apps_makes_no_widget():
    """A widget made on import would be the shell's own and never closed with a page."""
    before = set(_instances)
    import_apps()
    assert set(_instances) == before
    assert APPS  # every registered app was imported


def test_markdown_widget_has_lab_styles():
    widget = markdown_widget("# Title")
    assert "<h1>Title</h1>" in widget.value
    widget.close()
