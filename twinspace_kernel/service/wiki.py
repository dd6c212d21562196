"""Wiki applications (F20): pages with history, diff, revert and no lost update."""

from __future__ import annotations

import difflib

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..store import models as m
from .base import APIError, APIHandler, as_utc
from .sanitize import plain_text, render_markdown

MAX_TEXT = 200_000
MAX_TITLE = 200


def _iso(value) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value is not None else None


class WikiBase(APIHandler):
    """Shared loading, input and the conflict-safe save of a wiki page."""

    def wiki_context(self, wiki_id):
        """(wiki page, app, page, space) for a wiki page id."""
        wiki = self.load(m.WikiPage, wiki_id, "wiki page")
        app, page, space = self.app_context(wiki.app_id)
        return wiki, app, page, space

    def revision(self, wiki: m.WikiPage, number: int) -> m.WikiRevision | None:
        return self.db.scalar(
            select(m.WikiRevision).where(
                m.WikiRevision.wiki_id == wiki.id, m.WikiRevision.number == number
            )
        )

    def load_revision(self, wiki: m.WikiPage, number) -> m.WikiRevision:
        try:
            number = int(number)
        except (TypeError, ValueError):
            number = None
        rev = self.revision(wiki, number) if number is not None else None
        if rev is None:
            raise APIError(404, f"This wiki page has no revision {number}.")
        return rev

    def text_field(self, body: dict, name: str = "text") -> str:
        """Wiki text as typed (not stripped: leading spaces can matter in Markdown)."""
        value = body.get(name)
        if value is None:
            raise APIError(400, f"'{name}' is required.")
        if not isinstance(value, str):
            raise APIError(400, f"'{name}' must be a str.")
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if len(value) > MAX_TEXT:
            raise APIError(400, f"'{name}' is too long (at most {MAX_TEXT} characters).")
        return value

    def wiki_json(self, wiki: m.WikiPage, rev: m.WikiRevision | None = None) -> dict:
        rev = rev or self.revision(wiki, wiki.current_revision)
        text = rev.text if rev else ""
        return {
            "id": wiki.id,
            "app_id": wiki.app_id,
            "title": wiki.title,
            "revision": wiki.current_revision,
            "text": text,
            "html": render_markdown(text),
            "author": self.author(rev.author_id) if rev else None,
            "updated_at": rev.created_at if rev else wiki.created_at,
            "created_at": wiki.created_at,
        }

    def revision_json(self, rev: m.WikiRevision, *, with_text: bool = False) -> dict:
        body = {
            "number": rev.number,
            "author": self.author(rev.author_id),
            "summary": rev.summary,
            "reverted_from": rev.reverted_from,
            "created_at": rev.created_at,
            "size": len(rev.text),
        }
        if with_text:
            body["text"] = rev.text
            body["html"] = render_markdown(rev.text)
        return body

    def conflict(self, wiki: m.WikiPage, base: int, text: str) -> APIError:
        """The 409 answer: their current text and the caller's text, so nothing is lost."""
        self.db.rollback()
        self.db.refresh(wiki)
        current = self.revision(wiki, wiki.current_revision)
        return APIError(
            409,
            f"Someone saved this page after you started editing (revision "
            f"{wiki.current_revision}). Your text was not saved; merge it with theirs.",
            current={
                "revision": wiki.current_revision,
                "text": current.text if current else "",
                "author": self.author(current.author_id) if current else None,
                "updated_at": _iso(current.created_at) if current else None,
            },
            yours={"base_revision": base, "text": text},
        )

    def save(self, wiki, page, space, *, base: int, text: str, summary: str,
             reverted_from: int | None = None) -> bool:
        """Store `text` as revision base+1 unless someone saved since `base`.

        The check and the write are one conditional UPDATE (atomic on SQLite and
        PostgreSQL); the unique (wiki_id, number) constraint is the second guard.
        Returns False when the text equals the current one (nothing stored).
        """
        if base != wiki.current_revision:
            raise self.conflict(wiki, base, text)
        current = self.revision(wiki, base)
        if current is not None and current.text == text:
            return False
        rev = None
        try:
            rev = store_revision(self.db, wiki.id, base, text, author_id=self.me.id,
                                 summary=summary, reverted_from=reverted_from)
            if rev is not None:
                self.record(space, "wiki.edit", page.section, page=page, obj=wiki,
                            summary=f"{wiki.title} (revision {base + 1})")
                self.commit(f"space:{space.id}")
        except IntegrityError:
            rev = None
        if rev is None:
            raise self.conflict(wiki, base, text)
        self.db.refresh(wiki)
        return True


def store_revision(db, wiki_id: int, base: int, text: str, *, author_id: int | None,
                   summary: str = "", reverted_from: int | None = None):
    """Add revision base+1 to a wiki page if its current revision is still `base`.

    The check and the write are one conditional UPDATE, atomic on SQLite and
    PostgreSQL alike; the unique (wiki_id, number) constraint is the second guard
    (an IntegrityError on flush). Returns the new revision, or None when someone
    saved since `base`; the caller commits, or rolls back on None/IntegrityError.
    """
    result = db.execute(
        update(m.WikiPage)
        .where(m.WikiPage.id == wiki_id, m.WikiPage.current_revision == base)
        .values(current_revision=base + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    rev = m.WikiRevision(wiki_id=wiki_id, number=base + 1, text=text, author_id=author_id,
                         summary=summary, reverted_from=reverted_from)
    db.add(rev)
    db.flush()
    return rev


class WikiPagesHandler(WikiBase):
    def get(self, app_id):
        """The wiki's pages: title, revision, last change and its author."""
        app, page, space = self.app_context(app_id, "wiki")
        self.require_page(page)
        query = select(m.WikiPage).where(m.WikiPage.app_id == app.id)
        wikis, cursor = self.keyset(query, m.WikiPage.id)
        revs = {}
        if wikis:
            for rev in self.db.scalars(
                select(m.WikiRevision)
                .join(m.WikiPage, m.WikiPage.id == m.WikiRevision.wiki_id)
                .where(
                    m.WikiRevision.wiki_id.in_([w.id for w in wikis]),
                    m.WikiRevision.number == m.WikiPage.current_revision,
                )
            ):
                revs[rev.wiki_id] = rev
        items = []
        for wiki in wikis:
            rev = revs.get(wiki.id)
            items.append({
                "id": wiki.id,
                "title": wiki.title,
                "revision": wiki.current_revision,
                "updated_at": rev.created_at if rev else wiki.created_at,
                "author": self.author(rev.author_id) if rev else None,
            })
        self.write_json({"items": items, "next": cursor})

    def post(self, app_id):
        """Create a wiki page (revision 1)."""
        app, page, space = self.app_context(app_id, "wiki")
        self.require(space, "edit_wiki", page.section)
        body = self.json_body()
        title = self.field(body, "title", max_len=MAX_TITLE)
        text = self.text_field(body)
        summary = self.field(body, "summary", default="", max_len=200, allow_empty=True)
        taken = self.db.scalar(
            select(m.WikiPage.id).where(m.WikiPage.app_id == app.id, m.WikiPage.title == title)
        )
        if taken:
            raise APIError(409, f"This wiki already has a page called {title!r}.", id=taken)
        wiki = m.WikiPage(app_id=app.id, title=title, current_revision=1)
        self.db.add(wiki)
        try:
            self.db.flush()
        except IntegrityError:
            self.db.rollback()
            raise APIError(409, f"This wiki already has a page called {title!r}.") from None
        rev = m.WikiRevision(wiki_id=wiki.id, number=1, text=text, author_id=self.me.id,
                             summary=summary or "Created")
        self.db.add(rev)
        self.record(space, "wiki.create", page.section, page=page, obj=wiki, summary=title)
        try:
            self.commit(f"space:{space.id}")
        except IntegrityError:
            self.db.rollback()
            raise APIError(409, f"This wiki already has a page called {title!r}.") from None
        self.write_json(self.wiki_json(wiki, rev), 201)


class WikiPageHandler(WikiBase):
    def get(self, wiki_id):
        """A wiki page's current text (Markdown source and sanitized HTML)."""
        wiki, _app, page, _space = self.wiki_context(wiki_id)
        self.require_page(page)
        self.write_json(self.wiki_json(wiki))

    def put(self, wiki_id):
        """Save a new revision; 409 with both texts if someone saved since base_revision."""
        wiki, _app, page, space = self.wiki_context(wiki_id)
        self.require(space, "edit_wiki", page.section)
        body = self.json_body()
        text = self.text_field(body)
        base = self.field(body, "base_revision", int)
        summary = self.field(body, "summary", default="", max_len=200, allow_empty=True)
        self.save(wiki, page, space, base=base, text=text, summary=summary)
        self.write_json(self.wiki_json(wiki))

    def delete(self, wiki_id):
        """Delete a wiki page (its creator, or a moderator of the section)."""
        wiki, _app, page, space = self.wiki_context(wiki_id)
        first = self.revision(wiki, 1)
        author_id = first.author_id if first else None
        if not self.may(space, "moderate", page.section):
            self.require_edit(space, page.section, author_id)
        self.record(space, "wiki.delete", page.section, page=page, obj=wiki,
                    summary=plain_text(wiki.title, 300))
        self.db.delete(wiki)
        self.db.flush()
        self.moderated_delete(space, wiki, author_id)
        self.commit(f"space:{space.id}")
        self.no_content()


class WikiRevisionsHandler(WikiBase):
    def get(self, wiki_id):
        """The page's history, newest first (`?before=<number>&limit=`)."""
        wiki, _app, page, _space = self.wiki_context(wiki_id)
        self.require_page(page)
        limit = self.int_arg("limit", 50, low=1, high=100)
        before = self.int_arg("before")
        query = select(m.WikiRevision).where(m.WikiRevision.wiki_id == wiki.id)
        if before is not None:
            query = query.where(m.WikiRevision.number < before)
        rows = list(self.db.scalars(query.order_by(m.WikiRevision.number.desc()).limit(limit + 1)))
        cursor = rows[limit - 1].number if len(rows) > limit else None
        self.write_json({
            "items": [self.revision_json(r) for r in rows[:limit]],
            "next": cursor,
        })


class WikiRevisionHandler(WikiBase):
    def get(self, wiki_id, number):
        """One old revision with its text."""
        wiki, _app, page, _space = self.wiki_context(wiki_id)
        self.require_page(page)
        rev = self.load_revision(wiki, number)
        self.write_json(self.revision_json(rev, with_text=True))


class WikiDiffHandler(WikiBase):
    def get(self, wiki_id):
        """Differences between two revisions (`?from=N&to=M`): unified text and hunks."""
        wiki, _app, page, _space = self.wiki_context(wiki_id)
        self.require_page(page)
        last = max(wiki.current_revision, 1)
        to = self.int_arg("to", last, low=1, high=last)
        start = self.int_arg("from", max(to - 1, 1), low=1, high=last)
        old = self.load_revision(wiki, start)
        new = self.load_revision(wiki, to)
        a = old.text.splitlines()
        b = new.text.splitlines()
        unified = "\n".join(
            difflib.unified_diff(a, b, f"revision {start}", f"revision {to}", lineterm="")
        )
        hunks = [
            {"op": op, "a": a[i1:i2], "b": b[j1:j2]}
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False)
            .get_opcodes()
        ]
        self.write_json({
            "from": self.revision_json(old),
            "to": self.revision_json(new),
            "unified": unified,
            "hunks": hunks,
        })


class WikiRevertHandler(WikiBase):
    def post(self, wiki_id):
        """Make a new revision whose text is an old revision's (same conflict rule)."""
        wiki, _app, page, space = self.wiki_context(wiki_id)
        self.require(space, "edit_wiki", page.section)
        body = self.json_body()
        number = self.field(body, "revision", int)
        base = self.field(body, "base_revision", int)
        old = self.load_revision(wiki, number)
        summary = self.field(body, "summary", default=f"Reverted to revision {number}",
                             max_len=200, allow_empty=True)
        created = self.save(wiki, page, space, base=base, text=old.text, summary=summary,
                            reverted_from=number)
        self.write_json(self.wiki_json(wiki), 201 if created else 200)


default_handlers = [
    (r"/apps/(?P<app_id>[^/]+)/wiki", WikiPagesHandler),
    (r"/wiki/(?P<wiki_id>[^/]+)", WikiPageHandler),
    (r"/wiki/(?P<wiki_id>[^/]+)/revisions", WikiRevisionsHandler),
    (r"/wiki/(?P<wiki_id>[^/]+)/revisions/(?P<number>[^/]+)", WikiRevisionHandler),
    (r"/wiki/(?P<wiki_id>[^/]+)/diff", WikiDiffHandler),
    (r"/wiki/(?P<wiki_id>[^/]+)/revert", WikiRevertHandler),
]
