"""Page notebooks in the shared volume, written after each committed change of a page.

The database is the record; `<spaces_dir>/<slug>/<section>/<page-slug>.ipynb` is what
Voila and JupyterLab open. Handlers call these functions after their commit: an existing
notebook is synchronised (teachers' own cells stay, F24), a new one is written from the
page's template or from scratch, and writes are atomic (a temporary file, then
`os.replace`), so a member's server never reads half a notebook. A failed write is
logged and never undoes the committed change: the next change of the page writes again.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from .. import pages as nbpages
from ..store import models as m
from . import volume_acl
from .base import ServiceContext

log = logging.getLogger("twinspace.service.notebooks")

NEW_FILE_MODE = 0o644


def page_path(ctx: ServiceContext, space_slug: str, section: str, page_slug: str) -> Path | None:
    if ctx.spaces_dir is None:
        return None
    return Path(ctx.spaces_dir) / space_slug / section / f"{page_slug}.ipynb"


def page_record(db, page: m.Page) -> dict:
    """The page as `twinspace_kernel.pages.sync_notebook` wants it (apps read afresh)."""
    apps = db.scalars(
        select(m.AppInstance)
        .where(m.AppInstance.page_id == page.id)
        .order_by(m.AppInstance.position, m.AppInstance.id)
    )
    return {
        "id": page.id,
        "space": page.space.slug,
        "section": page.section,
        "title": page.title,
        "published": page.published,
        "position": page.position,
        "apps": [{"id": a.id, "kind": a.kind, "title": a.title} for a in apps],
    }


def write_page(ctx: ServiceContext, db, page: m.Page,
               template: nbpages.Template | None = None) -> Path | None:
    """Write (or bring up to date) the notebook of `page`; returns its path."""
    path = page_path(ctx, page.space.slug, page.section, page.slug)
    if path is None:
        return None
    try:
        record = page_record(db, page)
        nb = _read(path)
        if nb is not None:
            nb = nbpages.sync_notebook(nb, record)
        elif template is not None:
            nb = nbpages.notebook_from_template(template, record)
        else:
            nb = nbpages.sync_notebook(nbpages.new_notebook(), record)
        write_text_atomic(path, nbpages.writes(nb))
    except (OSError, ValueError) as e:
        log.error("Could not write the notebook of page %s (%s): %s", page.id, path, e)
        path = None
    else:
        volume_acl.secure_path(ctx, page.space, page.section, path)
    from . import public  # (it imports this module)

    # A public page's published copy follows it; an unpublished one's goes, whatever happened.
    public.sync_page(ctx, page)
    return path


def write_pages(ctx: ServiceContext, db, pages) -> None:
    for page in pages:
        write_page(ctx, db, page)


def write_section(ctx: ServiceContext, db, space: m.Space, section: str) -> None:
    """Rewrite every page of a section (after a reorder: their positions changed)."""
    write_pages(ctx, db, db.scalars(
        select(m.Page).where(m.Page.space_id == space.id, m.Page.section == section)
    ))


def remove_page(ctx: ServiceContext, space_slug: str, section: str, page_slug: str) -> None:
    """Delete a deleted page's notebook (and nothing else)."""
    remove_file(page_path(ctx, space_slug, section, page_slug), "the notebook")


def remove_file(path: Path | None, what: str) -> None:
    """Delete `path` if there is one; a failure is logged, never raised (the commit stands)."""
    if path is None:
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        log.error("Could not delete %s %s: %s", what, path, e)


def _read(path: Path):
    """The notebook at `path`, None if there is none; a broken one is kept aside."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return nbpages.reads(text)
    except Exception as e:  # any unreadable notebook: keep it aside, start again
        aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
        log.warning("The notebook %s cannot be read (%s); kept as %s", path, e, aside.name)
        os.replace(path, aside)
        return None


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write `text` to `path` through a temporary file and a rename (never half a file).

    mode: the file's mode; default: the mode of the file it replaces, else 0644.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
