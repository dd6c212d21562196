"""Activity-page notebooks (nbformat v4): built from page records, kept in step with them.

A page is a record in the service (title, published, its applications in order) and a
notebook in the shared volume that Voila shows. The notebook holds:

- a title cell (markdown, metadata ``twinspace.role == "title"``), rewritten from the record;
- one small code cell per application (metadata ``twinspace.app_id`` and ``kind``, tag
  ``twinspace-app``): ``show(<id>)`` renders the app's widget;
- in sections with page management, one tools cell (``twinspace.role == "tools"``) showing
  Manage pages / Add application to those who may use them;
- any other cell a teacher wrote (F24), which is never touched.

`sync_notebook` brings an existing notebook in line with its record. The application cells
form "slots": after an add, remove or reorder, the slots are refilled in the record's order,
so every other cell keeps its place between the same neighbours. A new application goes
right after the application that precedes it in the record (the first one before the first
slot). Templates are notebooks whose application cells carry a kind and a title but no
app id; syncing a template against the record of a page made from it fills them in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

TEMPLATES_DIR = Path(__file__).parent / "notebooks"
STARTER_TEMPLATES = (
    "starter/1-access-and-motivation.ipynb",
    "starter/2-online-socialisation.ipynb",
    "starter/3-information-exchange.ipynb",
    "starter/4-knowledge-construction.ipynb",
    "starter/5-development.ipynb",
)
SECTION_TEMPLATES = {
    "activities": "activities.ipynb",
    "teachers_room": "teachers_room.ipynb",
    "pupils_corner": "pupils_corner.ipynb",
}
# Sections whose pages carry the Manage pages / Add application tools.
MANAGED_SECTIONS = ("activities", "teachers_room", "pupils_corner")
APP_TAG = "twinspace-app"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


# --- cells ----------------------------------------------------------------------------


def _meta(cell: NotebookNode) -> dict:
    value = cell.get("metadata", {}).get("twinspace")
    return value if isinstance(value, dict) else {}


def is_app_cell(cell: NotebookNode) -> bool:
    """An application cell (or a template's placeholder for one)."""
    return cell.get("cell_type") == "code" and bool(_meta(cell).get("kind"))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def app_source(app_id: int, title: str = "") -> str:
    comment = f"  # {_one_line(title)}" if title else ""
    return f"from twinspace_kernel.apps import show\nshow({int(app_id)}){comment}"


def app_cell(app_id: int, kind: str, title: str = "") -> NotebookNode:
    """The code cell that shows application `app_id` (its input hidden in JupyterLab)."""
    cell = new_code_cell(app_source(app_id, title))
    _set_app_metadata(cell, app_id, kind)
    return cell


def _set_app_metadata(cell: NotebookNode, app_id: int, kind: str) -> None:
    meta = cell.setdefault("metadata", {})
    twinspace = {k: v for k, v in _meta(cell).items() if k not in ("title", "html")}
    twinspace.update({"app_id": int(app_id), "kind": kind})
    meta["twinspace"] = twinspace
    tags = list(meta.get("tags", []))
    if APP_TAG not in tags:
        tags.append(APP_TAG)
    meta["tags"] = tags
    meta.setdefault("jupyter", {})["source_hidden"] = True


def title_cell(title: str) -> NotebookNode:
    cell = new_markdown_cell(_title_source(title))
    cell.metadata["twinspace"] = {"role": "title"}
    return cell


def _title_source(title: str) -> str:
    return f"# {markdown_text(_one_line(title))}"


# Backslash escapes every ASCII punctuation mark in CommonMark: none of them then starts a
# link, an emphasis or any other construct. "<" and "&" become entities, so no renderer
# (nbconvert's mistune, JupyterLab's marked) ever sees a tag in what somebody typed.
_MARKDOWN_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}
_MARKDOWN_PUNCTUATION = frozenset("!#$%'()*+,-./:;=?@[\\]^_`{|}~")


def markdown_text(text: str) -> str:
    """`text` as literal Markdown: shown exactly as typed, never markup (titles etc.)."""
    return "".join(
        _MARKDOWN_ENTITIES.get(ch) or (f"\\{ch}" if ch in _MARKDOWN_PUNCTUATION else ch)
        for ch in text
    )


def tools_source(space: str, section: str, page_id: int) -> str:
    return (
        "from twinspace_kernel.apps import page_tools\n"
        f"page_tools({space!r}, {section!r}, {int(page_id)})"
    )


def tools_cell(space: str, section: str, page_id: int) -> NotebookNode:
    """Manage pages and Add application, shown only to those who may use them."""
    cell = new_code_cell(tools_source(space, section, page_id))
    cell.metadata["twinspace"] = {"role": "tools"}
    cell.metadata["tags"] = ["twinspace-tools"]
    cell.metadata["jupyter"] = {"source_hidden": True}
    return cell


# --- notebooks ------------------------------------------------------------------------


def _apps_of(page: dict) -> list[dict]:
    apps = []
    for app in page.get("apps", []):
        if isinstance(app, dict):
            apps.append({"id": int(app["id"]), "kind": app["kind"], "title": app.get("title", "")})
        else:  # (id, kind, title)
            app_id, kind, title = app
            apps.append({"id": int(app_id), "kind": kind, "title": title})
    return apps


def page_notebook(space: str, section: str, page_id: int, title: str, apps: list,
                  published: bool = False, *, position: int | None = None) -> NotebookNode:
    """A new page notebook: title cell, then one cell per application in order.

    `apps`: dicts with id, kind and title (as the service answers), or (id, kind, title).
    """
    page = {"space": space, "section": section, "id": page_id, "title": title,
            "published": published, "apps": apps}
    if position is not None:
        page["position"] = position
    return sync_notebook(new_notebook(), page)


def sync_notebook(nb: NotebookNode, page: dict) -> NotebookNode:
    """Bring `nb` in line with the page record `page` (changed in place and returned).

    `page` is the service's page JSON with its apps (id, space, section, title,
    published, position, apps=[{id, kind, title}]); `page_id` is accepted for `id`.
    Cells that are not application cells keep their place; see the module docstring.
    """
    page_id = int(page.get("id", page.get("page_id")))
    space, section = page["space"], page["section"]
    meta = {
        "space": space,
        "section": section,
        "page_id": page_id,
        "title": page["title"],
        "published": bool(page.get("published", False)),
    }
    if "position" in page:
        meta["position"] = page["position"]
    nb.metadata["twinspace"] = meta
    nb.metadata.setdefault("kernelspec", dict(KERNELSPEC))
    nb.metadata.setdefault("language_info", {"name": "python"})

    wanted = _apps_of(page)
    by_id = {app["id"]: app for app in wanted}
    # Match existing application cells: by app id first, then placeholders by kind.
    claimed: dict[int, NotebookNode] = {}
    placeholders = []
    for cell in nb.cells:
        if not is_app_cell(cell):
            continue
        app_id = _meta(cell).get("app_id")
        if isinstance(app_id, int) and app_id in by_id and app_id not in claimed:
            claimed[app_id] = cell
        elif app_id is None:
            placeholders.append(cell)
    for cell in placeholders:
        kind = _meta(cell)["kind"]
        for app in wanted:
            if app["kind"] == kind and app["id"] not in claimed:
                claimed[app["id"]] = cell
                break

    slots = sum(1 for cell in nb.cells if is_app_cell(cell) and _claimed(cell, claimed))
    queue = list(wanted)

    def cell_for(app: dict) -> NotebookNode:
        cell = claimed.get(app["id"])
        if cell is None:
            return app_cell(app["id"], app["kind"], app["title"])
        cell.source = app_source(app["id"], app["title"])
        _set_app_metadata(cell, app["id"], app["kind"])
        return cell

    def fill_slot(last: bool) -> list[NotebookNode]:
        out = []
        # New apps before the next existing one, that one, then new apps after it.
        while queue and queue[0]["id"] not in claimed:
            out.append(cell_for(queue.pop(0)))
        if queue:
            out.append(cell_for(queue.pop(0)))
        while queue and (last or queue[0]["id"] not in claimed):
            out.append(cell_for(queue.pop(0)))
        return out

    cells: list[NotebookNode] = []
    seen_slots = 0
    has_title = has_tools = False
    for cell in nb.cells:
        if is_app_cell(cell):
            if not _claimed(cell, claimed):
                continue  # its application was removed
            seen_slots += 1
            cells.extend(fill_slot(seen_slots == slots))
            continue
        role = _meta(cell).get("role")
        if role == "title" and not has_title:
            cell.source = _title_source(page["title"])
            has_title = True
        elif role == "tools":
            if section not in MANAGED_SECTIONS or has_tools:
                continue
            cell.source = tools_source(space, section, page_id)
            has_tools = True
            if not slots:  # no application yet: they go just before the tools
                cells.extend(cell_for(queue.pop(0)) for _ in list(queue))
        cells.append(cell)
    cells.extend(cell_for(app) for app in queue)  # no slots and no tools: at the end
    if not has_title:
        cells.insert(0, title_cell(page["title"]))
    if section in MANAGED_SECTIONS and not has_tools:
        cells.append(tools_cell(space, section, page_id))
    nb.cells = cells
    return nb


def _claimed(cell: NotebookNode, claimed: dict[int, NotebookNode]) -> bool:
    return any(c is cell for c in claimed.values())


def page_apps(nb: NotebookNode) -> list[tuple[int | None, str]]:
    """(app_id, kind) of the notebook's application cells, in order."""
    return [(_meta(c).get("app_id"), _meta(c)["kind"]) for c in nb.cells if is_app_cell(c)]


# --- reading and writing --------------------------------------------------------------


def reads(text: str) -> NotebookNode:
    return nbformat.reads(text, as_version=4)


def writes(nb: NotebookNode) -> str:
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4)


# --- templates ------------------------------------------------------------------------


@dataclass
class Template:
    """A page template: its title, its applications and the notebook to start from."""

    title: str
    apps: list[dict] = field(default_factory=list)  # {kind, title, html?} in order
    notebook: NotebookNode | None = None

    @property
    def extra_cells(self) -> list[NotebookNode]:
        cells = self.notebook.cells if self.notebook is not None else []
        return [copy.deepcopy(c) for c in cells if not is_app_cell(c)]


def template_path(name: str) -> Path:
    """A template by its name relative to the templates folder (e.g. "home.ipynb")."""
    path = (TEMPLATES_DIR / name).resolve()
    if TEMPLATES_DIR.resolve() not in path.parents or path.suffix != ".ipynb":
        raise ValueError(f"No such page template: {name}")
    if not path.is_file():
        raise FileNotFoundError(f"No such page template: {name}")
    return path


def load_template(path: str | Path) -> Template:
    """Read a template notebook (a path, or a name relative to the templates folder)."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = template_path(str(path))
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("twinspace", {})
    title = meta.get("title") or path.stem.replace("-", " ").replace("_", " ").capitalize()
    apps = []
    for cell in nb.cells:
        if is_app_cell(cell):
            info = _meta(cell)
            app = {"kind": info["kind"], "title": info.get("title") or info["kind"]}
            if info.get("html"):
                app["html"] = info["html"]
            apps.append(app)
    return Template(title=title, apps=apps, notebook=nb)


def instantiate_template(path: str | Path) -> tuple[str, list[tuple[str, str]], list]:
    """(title, [(kind, title)], extra_cells) of a template: what a page made from it holds."""
    template = load_template(path)
    return (template.title, [(a["kind"], a["title"]) for a in template.apps],
            template.extra_cells)


def notebook_from_template(template: Template, page: dict) -> NotebookNode:
    """The notebook of a page just made from `template` (its apps created in order)."""
    nb = copy.deepcopy(template.notebook) if template.notebook is not None else new_notebook()
    return sync_notebook(nb, page)
