"""New space (F1, F34): a teacher creates a space, empty, with starter pages, copied or imported."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

import ipywidgets as widgets

from ..client import Conflict
from ..i18n import _
from .base import TwinSpaceApp, action, escape, server_prefix
from .uploading import MIB, human_size, selected_files, too_large_message, upload_limit

HIDDEN = "none"
# The service's rule for a space's web address (service/spaces.py decides; this only
# lets the form say what is wrong before sending).
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
SLUG_MAX = 63
RESERVED_SLUGS = frozenset({"import"})
# Tornado's largest websocket message: a FileUpload cannot bring a bigger file to the kernel.
WEBSOCKET_LIMIT = 10 * MIB
STARTS = ("starter", "empty", "template", "archive")


def _show(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = "" if visible else HIDDEN


def suggest_slug(title: str) -> str:
    """A web address from a title: "Échanges 2026 !" -> "echanges-2026"."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-")


def slug_problem(slug: str) -> str | None:
    """What is wrong with a web address, in the member's language; None if it is fine."""
    if not slug:
        return _("Choose a web address for the space.")
    if len(slug) < 2:
        return _("The web address needs at least 2 characters.")
    if len(slug) > SLUG_MAX:
        return _("The web address may have at most {n} characters.").format(n=SLUG_MAX)
    if not SLUG_RE.match(slug):
        return _("The web address may use only lowercase letters without accents, digits "
                 "and '-', and must start with a letter or a digit.")
    if slug in RESERVED_SLUGS:
        return _("“{slug}” cannot be a space's web address: choose another.").format(slug=slug)
    return None


def start_labels() -> dict[str, str]:
    return {
        "starter": _("Starter pages: Home, Chat and the five stages of a project"),
        "empty": _("Empty: only Home and Chat"),
        "template": _("A copy of one of my spaces, as a template (its pages and "
                      "applications, without members or posts)"),
        "archive": _("An archive: a space exported as a .zip file"),
    }


class NewSpace(TwinSpaceApp):
    """Create a space (teachers). `space` is the space the member is in (for the
    navigation); the new one is separate."""

    kind = "new-space"

    def __init__(self, space: str, *, client=None, base_url: str | None = None,
                 **params: Any) -> None:
        self.space_slug = space
        self.params = params
        self.base_url = base_url or server_prefix()
        self.limit = WEBSOCKET_LIMIT
        self._suggesting = False
        self.slug_edited = False

        wide = widgets.Layout(width="560px")
        self.title_text = widgets.Text(description=_("Title"), layout=wide,
                                       placeholder=_("e.g. Our rivers, from source to sea"))
        self.title_text.observe(self._title_changed, "value")
        self.description_text = widgets.Textarea(
            description=_("Description"), placeholder=_("What the project is about (optional)"),
            layout=widgets.Layout(width="560px", height="80px"))
        self.slug_text = widgets.Text(description=_("Web address"), layout=wide)
        self.slug_text.observe(self._slug_changed, "value")
        self.slug_hint = widgets.HTML()
        self.start = widgets.RadioButtons(
            options=[(label, key) for key, label in start_labels().items()],
            value="starter", description=_("Start from"),
            layout=widgets.Layout(width="auto"), style={"description_width": "initial"})
        self.start.observe(lambda _change: self._arrange_start(), "value")
        self.template_choice = widgets.Dropdown(description=_("Space to copy"),
                                                layout=widgets.Layout(width="560px"))
        self.no_template = widgets.HTML(
            f"<i>{escape(_('You administer no space yet: there is nothing to copy.'))}</i>")
        self.template_box = widgets.VBox([self.template_choice, self.no_template])
        self.archive_upload = widgets.FileUpload(accept=".zip", multiple=False,
                                                 description=_("Choose the archive"),
                                                 icon="upload",
                                                 layout=widgets.Layout(width="auto"))
        self.archive_hint = widgets.HTML()
        self.archive_box = widgets.VBox([self.archive_upload, self.archive_hint])
        self.create_button = widgets.Button(description=_("Create the space"), icon="plus",
                                            button_style="primary",
                                            layout=widgets.Layout(width="auto"))
        self.create_button.on_click(self.create)
        self.result = widgets.HTML()
        # Stable names for the page's style and for tests driving it in a browser.
        for widget, name in ((self.title_text, "title"), (self.description_text, "description"),
                             (self.slug_text, "slug"), (self.start, "start"),
                             (self.template_choice, "template"),
                             (self.archive_upload, "archive"), (self.create_button, "create")):
            widget.add_class(f"ts-new-{name}")
        self.form = widgets.VBox([
            self.title_text, self.description_text, self.slug_text, self.slug_hint,
            self.start, self.template_box, self.archive_box, self.create_button,
        ])
        super().__init__(None, client=client)

    # --- reading ----------------------------------------------------------------------

    def refresh(self) -> None:
        me = self.client.get("me")
        self.title.value = f"<h3>{escape(_('New space'))}</h3>"
        self.info = {"space": self.space_slug, "role": None, "may": {}}
        if (me.get("user") or {}).get("kind") != "teacher":
            self.body.children = []
            self.notice(_("Sorry, only teachers can create a space."), "info")
            return
        self.show_templates(me)
        self.limit = min(WEBSOCKET_LIMIT, self.guard(upload_limit, self.client) or WEBSOCKET_LIMIT)
        self.archive_hint.value = "<small>" + escape(_(
            "Largest archive through the browser: {limit} (a browser connection carries at "
            "most 10 MB). For a bigger one, ask your hub administrator to run: twinspace "
            "space import FILE --as ADDRESS").format(limit=human_size(self.limit))
        ) + "</small>"
        self._show_slug_hint()
        self._arrange_start()
        self.body.children = [self.form, self.result]

    def show_templates(self, me: dict) -> None:
        """The spaces this teacher administers, to copy as a template."""
        chosen = self.template_choice.value
        self.template_choice.options = [(s["title"], s["slug"]) for s in me.get("spaces", [])
                                        if s.get("role") == "teacher_admin"]
        slugs = self.template_slugs()
        if slugs:
            self.template_choice.value = chosen if chosen in slugs else slugs[0]

    def template_slugs(self) -> list[str]:
        return [slug for _title, slug in self.template_choice.options]

    def _arrange_start(self) -> None:
        start = self.start.value
        _show(self.template_box, start == "template")
        has_templates = bool(self.template_choice.options)
        _show(self.template_choice, has_templates)
        _show(self.no_template, not has_templates)
        _show(self.archive_box, start == "archive")

    # --- the web address ----------------------------------------------------------------

    def _title_changed(self, change: dict) -> None:
        if not self.slug_edited:
            self._suggesting = True
            try:
                self.slug_text.value = suggest_slug(change["new"])
            finally:
                self._suggesting = False

    def _slug_changed(self, change: dict) -> None:
        if not self._suggesting:
            # Once typed by the member, the title no longer rewrites it; cleared, it does.
            self.slug_edited = bool(change["new"])
        self._show_slug_hint()

    def _show_slug_hint(self) -> None:
        slug = self.slug_text.value.strip()
        problem = slug_problem(slug) if slug else None
        if problem:
            self.slug_hint.value = f'<small style="color:#7a1212">{escape(problem)}</small>'
            return
        address = self.space_url(slug) if slug else self.space_url("") + "…"
        self.slug_hint.value = ("<small>" + escape(_("The space's address will be {url}").format(
            url=address)) + "</small>")

    def space_url(self, slug: str) -> str:
        return self.base_url.rstrip("/") + "/twinspace/space/" + quote(slug)

    # --- creating -----------------------------------------------------------------------

    @action
    def create(self) -> None:
        title = self.title_text.value.strip()
        slug = self.slug_text.value.strip().lower()
        description = self.description_text.value.strip()
        start = self.start.value
        if not title:
            self.notice(_("A space needs a title."), "error")
            return
        problem = slug_problem(slug)
        if problem:
            self.notice(problem, "error")
            return
        try:
            space = self._create(start, slug, title, description)
        except Conflict:
            self.notice(_("There is already a space at the web address “{slug}”: choose "
                          "another.").format(slug=slug), "error")
            return
        if space is None:
            return
        self.result.value = (
            f'<p role="status">{escape(_("Your new space is ready:"))} '
            f'<a class="twinspace-new-space-link" href="{escape(self.space_url(space["slug"]))}">'
            f"{escape(space['title'])}</a></p>")
        self.notice(_("Space “{title}” created.").format(title=space["title"]), "success")
        # Ready for another: the form empties, the choices stay.
        self.title_text.value = ""
        self.description_text.value = ""
        self.slug_text.value = ""
        self.slug_edited = False
        self.archive_upload.value = ()
        # The new space is one more this teacher may copy.
        me = self.guard(self.client.get, "me")
        if me is not None:
            self.show_templates(me)
            self._arrange_start()

    def _create(self, start: str, slug: str, title: str, description: str) -> dict | None:
        if start in ("starter", "empty"):
            return self.client.post("spaces", {"slug": slug, "title": title,
                                               "description": description,
                                               "starter": start == "starter"})
        if start == "template":
            source = self.template_choice.value
            if not source:
                self.notice(_("Choose the space to copy."), "error")
                return None
            space = self.client.post(f"spaces/{quote(source)}/copy",
                                     {"slug": slug, "title": title})
        else:
            files = selected_files(self.archive_upload.value)
            if not files:
                self.notice(_("Choose the archive to import (a .zip file exported from "
                              "TwinSpace)."), "error")
                return None
            name, data = files[0]
            if len(data) > self.limit:
                self.notice(too_large_message(len(data), self.limit), "error")
                return None
            space = self.client.upload("spaces/import", data, name, slug=slug, title=title)
        if description:  # a copy or an import brings its own; the member's wins
            space = self.client.patch(f"spaces/{space['slug']}", {"description": description})
        return space
