"""A page notebook read and shown in a kernel: text sanitized, teachers' code run quietly.

Shared by the member view (its server and its shell kernel) and the public view's kernels.
Kept free of nbformat: reading a notebook through it (jsonschema validation) costs a kernel
~16 MB and a slow import, and a page only needs its cells.
"""

from __future__ import annotations

import ast
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

# Page notebooks carry their own Manage pages cell; the member view's navigation bar holds
# those tools and the public never has them, so views leave the cell out.
TOOLS_ROLE = "tools"


def page_path(page: dict) -> str:
    """A page notebook's path in the shared volume (the service's layout)."""
    return f"{page['space']}/{page['section']}/{page['slug']}.ipynb"


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def cell_role(cell: dict) -> str | None:
    meta = cell.get("metadata", {}).get("twinspace")
    return meta.get("role") if isinstance(meta, dict) else None


def shown_cells(notebook: dict) -> list[dict]:
    """The cells a view shows: every cell but the page's tools cell."""
    return [cell for cell in notebook.get("cells", []) if cell_role(cell) != TOOLS_ROLE]


@lru_cache(maxsize=1)
def _members_markdown():
    from markdown_it import MarkdownIt

    # Teachers' own HTML keeps what the sanitizer allows (html=True, then clean_html).
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def markdown_html(source: str) -> str:
    """A member page's Markdown cell as HTML cleaned by the service's sanitizer (a second
    wall: a title or text that slipped past escaping must not run script for readers)."""
    from .service.sanitize import clean_html

    return clean_html(_members_markdown().render(source))


def read_notebook(path: str | Path) -> dict:
    """A notebook file as plain JSON (OSError and ValueError as they come)."""
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    if not isinstance(notebook, dict):
        raise ValueError(f"{path} is not a notebook")
    return notebook


def volume_root(spaces_dir: str | None = None) -> str:
    """The shared volume's folder: `spaces_dir` when given, else $TWINSPACE_SPACES_DIR
    (set by the hub's spawner); "" where there is none."""
    return os.environ.get("TWINSPACE_SPACES_DIR", "") if spaces_dir is None else spaces_dir


def read_page_notebook(page: dict, client: Any, root: str) -> dict:
    """Page `page`'s notebook as the member may read it.

    From the shared volume `root` (this process runs as the member: OS permissions apply),
    or, without one or where it refuses, from the service, which decides: a server's Unix
    groups are those it started with, so a space made or a role given since is not in them.
    """
    if root:
        try:
            return read_notebook(Path(root) / page_path(page))
        except PermissionError:
            pass
    return client.get(f"pages/{page['id']}/notebook")


def run_cell_quietly(source: str, namespace: dict | None = None) -> None:
    """Run a cell's code like a notebook (magics; the last expression is displayed) in
    `namespace` (by default the kernel's own); errors are raised to the caller, which
    shows no traceback."""
    from IPython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    if namespace is None:
        namespace = shell.user_ns if shell is not None else {}
    code = shell.transform_cell(source) if shell is not None else source
    tree = ast.parse(code)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<page cell>", "exec"), namespace)
    if last is not None:
        value = eval(compile(last, "<page cell>", "eval"), namespace)
        if value is not None:
            display(value)


def close_all(widget: Any) -> None:
    """Close a widget and its children: the browser drops them, the kernel forgets them."""
    for child in getattr(widget, "children", ()):
        close_all(child)
    widget.close()
