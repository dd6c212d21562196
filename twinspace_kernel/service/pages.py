"""Pages of each section and the applications on them (F16, F17), and web content (F23)."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select

from .. import pages as nbpages
from .. import rights
from ..store import models as m
from . import notebooks, public
from .base import APIError, APIHandler, utcnow
from .files import stored_keys_of_apps
from .sanitize import clean_html

# Every application a page can hold. The guide's "Add application" offers the first six;
# the Home and Chat pages are built from the others.
ADDABLE_APPS = ("blog", "forum", "wiki", "documents", "gallery", "web_content")
APP_KINDS = ADDABLE_APPS + ("calendar", "chat", "mailbox", "members", "activity", "profile")
# The fixed pages of the top bar cannot be deleted.
FIXED_PAGES = {("home", "home"), ("chat", "chat")}


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:60] or "page"


def add_page(db, space: m.Space, section: str, title: str, user: m.User) -> m.Page:
    """A new page at the end of `section`, with a slug unique in it (not committed)."""
    base = slugify(title)
    taken = set(
        db.scalars(
            select(m.Page.slug).where(m.Page.space_id == space.id, m.Page.section == section)
        )
    )
    page_slug, n = base, 1
    while page_slug in taken:
        n += 1
        page_slug = f"{base}-{n}"
    last = db.scalar(
        select(func.max(m.Page.position)).where(
            m.Page.space_id == space.id, m.Page.section == section
        )
    )
    page = m.Page(
        space_id=space.id,
        section=section,
        slug=page_slug,
        title=title,
        position=(last if last is not None else -1) + 1,
        created_by_id=user.id,
    )
    db.add(page)
    db.flush()
    return page


def add_template_page(db, space: m.Space, section: str, template: nbpages.Template,
                      user: m.User, title: str | None = None) -> m.Page:
    """A page made from a template: its applications, web content's first text included."""
    page = add_page(db, space, section, title or template.title, user)
    for position, spec in enumerate(template.apps):
        app = m.AppInstance(page_id=page.id, kind=spec["kind"], title=spec["title"],
                            position=position)
        db.add(app)
        db.flush()
        if spec["kind"] == "web_content":
            db.add(m.WebContent(app_id=app.id, html=clean_html(spec.get("html", "")),
                                updated_by_id=user.id))
    return page


def templates_for(section: str) -> tuple[str, ...]:
    """The templates a new page of `section` may start from."""
    names = (nbpages.SECTION_TEMPLATES[section],) if section in nbpages.SECTION_TEMPLATES else ()
    return names + (nbpages.STARTER_TEMPLATES if section == "activities" else ())


def add_starter_pages(db, space: m.Space, user: m.User) -> list[tuple[m.Page, nbpages.Template]]:
    """The five-stage starter set (F25) at the end of Project Activities (not committed)."""
    made = []
    for name in nbpages.STARTER_TEMPLATES:
        template = nbpages.load_template(name)
        made.append((add_template_page(db, space, "activities", template, user), template))
    return made


def app_json(app: m.AppInstance) -> dict:
    return {
        "id": app.id,
        "page_id": app.page_id,
        "kind": app.kind,
        "title": app.title,
        "position": app.position,
        "settings": app.settings or {},
    }


def page_json(page: m.Page, *, with_apps: bool = False) -> dict:
    body = {
        "id": page.id,
        "space": page.space.slug,
        "section": page.section,
        "slug": page.slug,
        "title": page.title,
        "position": page.position,
        "published": page.published,
        "updated_at": page.updated_at,
    }
    if with_apps:
        body["apps"] = [app_json(app) for app in page.apps]
    return body


class PagesHandler(APIHandler):
    def get(self, slug):
        """The pages of a section (`?section=`), in order; only those the caller may view."""
        space = self.load_space(slug)
        section = self.get_argument("section", None)
        if section is not None and section not in rights.SECTIONS:
            raise APIError(400, f"'section' must be one of: {', '.join(rights.SECTIONS)}.")
        query = select(m.Page).where(m.Page.space_id == space.id)
        if section:
            self.require(space, "view", section, published=space.public)
            query = query.where(m.Page.section == section)
        else:
            self.require(space, "view", "home", published=space.public)
        role = self.role_in(space)
        # In the top bar's order (Home first), then each section's own order.
        found = sorted(self.db.scalars(query), key=lambda p: (
            rights.SECTIONS.index(p.section), p.position, p.id))
        items = [
            page_json(page)
            for page in found
            if rights.allowed(
                role, "view", page.section, state=space.state,
                published=self.page_published(page, space),
            )
        ]
        self.write_json({"items": items, "next": None})

    def post(self, slug):
        """Create a page in a section (Manage pages), empty or from a `template`.

        `template` names one of the section's page templates (e.g. "activities.ipynb",
        "starter/1-access-and-motivation.ipynb"); `title` then defaults to the template's.
        """
        space = self.load_space(slug)
        body = self.json_body()
        section = self.field(body, "section", choices=rights.SECTIONS)
        self.require(space, "manage_pages", section)
        template = None
        if body.get("template") is not None:
            name = self.field(body, "template", choices=templates_for(section))
            template = nbpages.load_template(name)
        title = self.field(body, "title", max_len=200,
                           **({"default": template.title} if template else {}))
        if template is not None:
            page = add_template_page(self.db, space, section, template, self.me, title)
        else:
            page = add_page(self.db, space, section, title, self.me)
        self.record(space, "page.create", section, page=page, obj=page, summary=title)
        self.commit(f"space:{space.id}")
        notebooks.write_page(self.ctx, self.db, page, template)
        self.db.expire(page, ["apps"])
        self.write_json(page_json(page, with_apps=True), 201)


class StarterHandler(APIHandler):
    def post(self, slug):
        """Add the five-stage starter pages (F25) to Project Activities."""
        space = self.load_space(slug)
        self.require(space, "manage_pages", "activities")
        made = add_starter_pages(self.db, space, self.me)
        for page, _template in made:
            self.record(space, "page.create", "activities", page=page, obj=page,
                        summary=page.title)
        self.commit(f"space:{space.id}")
        for page, template in made:
            notebooks.write_page(self.ctx, self.db, page, template)
            self.db.expire(page, ["apps"])
        self.write_json({"items": [page_json(p, with_apps=True) for p, _t in made],
                         "next": None}, 201)


class PageOrderHandler(APIHandler):
    def put(self, slug):
        """Reorder a section's pages: `ids` lists every page of `section` in the new order."""
        space = self.load_space(slug)
        body = self.json_body()
        section = self.field(body, "section", choices=rights.SECTIONS)
        self.require(space, "manage_pages", section)
        ids = self.field(body, "ids", list)
        pages = {
            p.id: p
            for p in self.db.scalars(
                select(m.Page).where(m.Page.space_id == space.id, m.Page.section == section)
            )
        }
        if sorted(ids, key=str) != sorted(pages, key=str):
            raise APIError(400, "'ids' must list each page of the section exactly once.")
        for position, page_id in enumerate(ids):
            pages[page_id].position = position
        self.record(space, "page.reorder", section, summary=section)
        self.commit(f"space:{space.id}")
        notebooks.write_section(self.ctx, self.db, space, section)
        self.write_json({"items": [page_json(pages[i]) for i in ids], "next": None})


class PageNotebookHandler(APIHandler):
    def get(self, page_id):
        """The page's notebook as the shared volume holds it (nbformat JSON).

        For a member view whose server cannot read it yet: its Unix groups are those it
        started with, and a space made or a role given since is not in them.
        """
        page = self.load(m.Page, page_id, "page")
        self.require_page(page)
        path = notebooks.page_path(self.ctx, page.space.slug, page.section, page.slug)
        try:
            text = path.read_text(encoding="utf-8") if path is not None else None
        except FileNotFoundError:
            text = None
        if text is None:
            raise APIError(404, "This page's notebook is not there yet.")
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(text)


class PageHandler(APIHandler):
    def get(self, page_id):
        """A page with its applications, in order, the caller's role and what they may do."""
        page = self.load(m.Page, page_id, "page")
        role = self.require_page(page)
        published = self.page_published(page, page.space)
        self.write_json({
            **page_json(page, with_apps=True),
            "role": role,
            "may": self.permissions(page.space, page.section, published=published),
        })

    def patch(self, page_id):
        """Rename a page (Manage pages) or publish/unpublish it (publish right)."""
        page = self.load(m.Page, page_id, "page")
        body = self.json_body()
        if "published" in body:
            self.require(page.space, "publish", "home")
            page.published = self.field(body, "published", bool)
        if "title" in body:
            self.require(page.space, "manage_pages", page.section)
            page.title = self.field(body, "title", max_len=200)
        if not {"published", "title"} & body.keys():
            raise APIError(400, "Nothing to change: send 'title' or 'published'.")
        page.updated_at = utcnow()
        self.record(page.space, "page.update", page.section, page=page, obj=page,
                    summary=page.title)
        self.commit(f"space:{page.space_id}")
        notebooks.write_page(self.ctx, self.db, page)
        self.write_json(page_json(page, with_apps=True))

    def delete(self, page_id):
        """Delete a page and everything on it (Manage pages)."""
        page = self.load(m.Page, page_id, "page")
        self.require(page.space, "manage_pages", page.section)
        if (page.section, page.slug) in FIXED_PAGES:
            raise APIError(409, "The Home and Chat pages are part of every space.")
        space = page.space
        where = (space.slug, page.section, page.slug)
        keys = stored_keys_of_apps(self.db, [app.id for app in page.apps])
        self.record(space, "page.delete", page.section, summary=page.title)
        self.db.delete(page)
        self.commit(f"space:{space.id}")
        notebooks.remove_page(self.ctx, *where)
        public.remove_copy(self.ctx, *where)
        self.delete_blobs(keys)
        self.no_content()


class PageAppsHandler(APIHandler):
    def post(self, page_id):
        """Add an application to a page (Add application)."""
        page = self.load(m.Page, page_id, "page")
        self.require(page.space, "manage_pages", page.section)
        body = self.json_body()
        kind = self.field(body, "kind", choices=APP_KINDS)
        title = self.field(body, "title", default=kind.replace("_", " ").title(), max_len=200)
        last = max((app.position for app in page.apps), default=-1)
        app = m.AppInstance(page_id=page.id, kind=kind, title=title, position=last + 1)
        self.db.add(app)
        self.db.flush()
        if kind == "web_content":
            self.db.add(m.WebContent(app_id=app.id, html="", updated_by_id=self.me.id))
        page.updated_at = utcnow()
        self.record(page.space, "app.add", page.section, page=page, obj=app,
                    summary=f"{title} ({kind})")
        self.commit(f"space:{page.space_id}")
        notebooks.write_page(self.ctx, self.db, page)
        self.write_json(app_json(app), 201)


class AppHandler(APIHandler):
    def get(self, app_id):
        """One application, with its page, space and what the caller may do there."""
        app, page, space = self.app_context(app_id)
        role = self.require_page(page)
        published = self.page_published(page, space)
        self.write_json({
            **app_json(app),
            "space": space.slug,
            "space_title": space.title,
            "section": page.section,
            "page_title": page.title,
            "role": role,
            "may": self.permissions(space, page.section, published=published),
        })

    def patch(self, app_id):
        """Rename or move an application on its page (Manage pages)."""
        app, page, space = self.app_context(app_id)
        self.require(space, "manage_pages", page.section)
        body = self.json_body()
        if "title" in body:
            app.title = self.field(body, "title", max_len=200)
        if "position" in body:
            app.position = self.field(body, "position", int)
        self.commit()
        notebooks.write_page(self.ctx, self.db, page)
        self.write_json(app_json(app))

    def delete(self, app_id):
        """Remove an application and its content from its page."""
        app, page, space = self.app_context(app_id)
        self.require(space, "manage_pages", page.section)
        keys = stored_keys_of_apps(self.db, [app.id])
        self.record(space, "app.remove", page.section, page=page, summary=app.title)
        self.db.delete(app)
        self.commit(f"space:{space.id}")
        notebooks.write_page(self.ctx, self.db, page)
        self.delete_blobs(keys)
        self.no_content()


class WebContentHandler(APIHandler):
    def get(self, app_id):
        """The sanitized HTML of a web content application."""
        app, page, _space = self.app_context(app_id, "web_content")
        self.require_page(page)
        content = self.db.get(m.WebContent, app.id)
        self.write_json(web_content_json(content, app.id, self))

    def put(self, app_id):
        """Replace the HTML (sanitized on the way in; administrators of the section)."""
        app, page, space = self.app_context(app_id, "web_content")
        self.require(space, "manage_pages", page.section)
        html = self.field(self.json_body(), "html", max_len=200_000, allow_empty=True)
        content = self.db.get(m.WebContent, app.id) or m.WebContent(app_id=app.id)
        content.html = clean_html(html)
        content.updated_by_id = self.me.id
        content.updated_at = utcnow()
        self.db.add(content)
        self.record(space, "web_content.edit", page.section, page=page, obj=app, summary=app.title)
        self.commit(f"space:{space.id}")
        self.write_json(web_content_json(content, app.id, self))


def web_content_json(content: m.WebContent | None, app_id: int, handler: APIHandler) -> dict:
    if content is None:
        return {"app_id": app_id, "html": "", "updated_at": None, "updated_by": None}
    return {
        "app_id": app_id,
        "html": content.html,
        "updated_at": content.updated_at,
        "updated_by": handler.author(content.updated_by_id),
    }


default_handlers = [
    (r"/spaces/(?P<slug>[^/]+)/pages", PagesHandler),
    (r"/spaces/(?P<slug>[^/]+)/pages/order", PageOrderHandler),
    (r"/spaces/(?P<slug>[^/]+)/starter", StarterHandler),
    (r"/pages/(?P<page_id>\d+)", PageHandler),
    (r"/pages/(?P<page_id>\d+)/apps", PageAppsHandler),
    (r"/pages/(?P<page_id>\d+)/notebook", PageNotebookHandler),
    (r"/apps/(?P<app_id>\d+)", AppHandler),
    (r"/apps/(?P<app_id>\d+)/content", WebContentHandler),
]
