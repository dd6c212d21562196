"""Published copies: the page notebooks the public view renders, kept apart from the shared volume.

When a page becomes public (published in a public space, or the space's Home page once
the space is public) the service copies its notebook from the shared volume to
`<public_dir>/<space slug>/<section>/<page slug>.ipynb`; when it stops being public the
copy is removed at once. The public view (`extensions/twinspace_public`, running as an
unprivileged user) reads only this tree, never `<data>/spaces`. A copy keeps the page's
title, text and application cells and the teachers' own cells (F24); it drops outputs and
the Manage pages tools. Rights come from `rights.py` like everywhere else: what the public
may view with `published=True` is what is copied.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sqlalchemy import select

from .. import pages as nbpages
from .. import rights
from ..store import models as m
from .base import ServiceContext
from .notebooks import page_path, remove_file, write_text_atomic

log = logging.getLogger("twinspace.service.public")

COPY_MODE = 0o644
DIR_MODE = 0o755


def is_public(page: m.Page, space: m.Space) -> bool:
    """Whether anyone may read `page`: the same rule the API applies to the public."""
    return rights.allowed(rights.PUB, "view", page.section, state=space.state,
                          published=page_is_published(page, space))


def page_is_published(page: m.Page, space: m.Space) -> bool:
    """A public space shows its Home page (F30) and the pages chosen for publication."""
    return bool(space.public) and (bool(page.published) or is_home_page(page))


def is_home_page(page: m.Page) -> bool:
    return page.section == "home" and page.slug == "home"


def copy_path(ctx: ServiceContext, space_slug: str, section: str, page_slug: str) -> Path | None:
    if ctx.public_dir is None:
        return None
    return Path(ctx.public_dir) / space_slug / section / f"{page_slug}.ipynb"


def sync_page(ctx: ServiceContext, page: m.Page) -> None:
    """Write the published copy of `page` if it is public, remove it otherwise."""
    target = copy_path(ctx, page.space.slug, page.section, page.slug)
    if target is None:
        return
    if not is_public(page, page.space):
        remove_copy(ctx, page.space.slug, page.section, page.slug)
        return
    source = page_path(ctx, page.space.slug, page.section, page.slug)
    try:
        nb = nbpages.reads(Path(source).read_text(encoding="utf-8")) if source else None
    except (OSError, ValueError) as e:
        # No readable notebook: no copy (the public view then says the page is not there).
        log.error("No published copy of page %s: cannot read %s: %s", page.id, source, e)
        remove_copy(ctx, page.space.slug, page.section, page.slug)
        return
    if nb is None:
        return
    try:
        _write_copy(target, nbpages.writes(public_notebook(nb)))
    except (OSError, ValueError) as e:
        log.error("Could not write the published copy of page %s (%s): %s", page.id, target, e)


def sync_space(ctx: ServiceContext, db, space: m.Space) -> None:
    """Bring every page's copy of `space` in line (after its public flag or state changed)."""
    if ctx.public_dir is None:
        return
    for page in db.scalars(select(m.Page).where(m.Page.space_id == space.id)):
        sync_page(ctx, page)
    if not space.public or space.state == "closed":
        # Nothing of it is public any more: drop the whole folder (and any stray file).
        remove_space(ctx, space.slug)


def remove_copy(ctx: ServiceContext, space_slug: str, section: str, page_slug: str) -> None:
    remove_file(copy_path(ctx, space_slug, section, page_slug), "the published copy")


def remove_space(ctx: ServiceContext, space_slug: str) -> None:
    if ctx.public_dir is None:
        return
    folder = Path(ctx.public_dir) / space_slug
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)


def public_notebook(nb):
    """The notebook as published: no outputs, no execution counts, no Manage pages tools."""
    cells = []
    for cell in nb.cells:
        if cell.get("metadata", {}).get("twinspace", {}).get("role") == "tools":
            continue
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    nb.cells = cells
    return nb


def _write_copy(path: Path, text: str) -> None:
    # The space's folder too: <public>/<slug>/<section>/ must be readable by the public view.
    for folder in (path.parent.parent, path.parent):
        folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        folder.chmod(DIR_MODE)
    write_text_atomic(path, text, COPY_MODE)


def sync_all(ctx: ServiceContext) -> None:
    """At start: every public space's copies written, and copies of nothing public removed."""
    if ctx.public_dir is None:
        return
    with ctx.sessions() as db:
        spaces = list(db.scalars(select(m.Space)))
        for space in spaces:
            sync_space(ctx, db, space)
        known = {space.slug for space in spaces}
    for folder in Path(ctx.public_dir).iterdir():
        if folder.name in known:
            continue
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            folder.unlink(missing_ok=True)
