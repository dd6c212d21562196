"""The TwinSpace navigation bar on top of every page of the member view.

Plain links (`<a href>`) to `<base>/twinspace/page/<id>`, so each page has its own address
and the browser's Back button works: the space switcher, the sections the member may view
(Home | Project Activities | Teachers' Room | Pupils' Corner | Chat), the section's pages,
the member's name, role and school, the language switch, "Open in JupyterLab" and logout.
Manage pages and Add application appear for those who may manage the section's pages.
What the member may see comes from the service; the bar only shows it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode

import ipywidgets as widgets

from .. import rights, volume
from ..i18n import LANGUAGE_NAMES, LANGUAGES, _
from .base import TwinSpaceApp, escape, role_label, server_prefix
from .base import hub_url as hub_address  # `hub_url` names the argument below
from .manage_pages import ManagePages, page_tools

STYLE = """<style>
.ts-nav{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 border-bottom:2px solid #0b3d91;margin-bottom:12px;padding-bottom:6px}
.ts-nav a{color:#0b3d91;text-decoration:none}
.ts-nav a:hover{text-decoration:underline}
.ts-nav a:focus-visible,.ts-nav summary:focus-visible{outline:3px solid #f5a623;
 outline-offset:2px}
.ts-nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px}
.ts-top{display:flex;flex-wrap:wrap;align-items:center;gap:6px 18px;font-size:0.9em}
.ts-space{font-weight:700;font-size:1.2em;color:#0b3d91}
.ts-switch{position:relative}
.ts-switch summary{cursor:pointer;color:#0b3d91}
.ts-switch ul{display:block;position:absolute;z-index:10;background:#fff;
 border:1px solid #9bb8f0;border-radius:4px;padding:6px 10px;min-width:14em}
.ts-switch li{padding:2px 0}
.ts-me{color:#333}
.ts-lang a[aria-current]{font-weight:700;color:#1d2433}
.ts-sections{margin-top:8px !important}
.ts-sections a{display:inline-block;padding:6px 12px;border-radius:4px 4px 0 0;
 background:#e8f0fe}
.ts-sections a[aria-current]{background:#0b3d91;color:#fff}
.ts-pages{margin-top:6px !important;font-size:0.95em}
.ts-pages a[aria-current]{font-weight:700;color:#1d2433}
.ts-end{margin-left:auto;display:flex;gap:18px}
.ts-tools{margin-top:6px !important;font-size:0.9em}
.ts-tools a[aria-current]{font-weight:700;color:#1d2433}
</style>"""


def section_labels() -> dict[str, str]:
    return {
        "home": _("Home"),
        "activities": _("Project Activities"),
        "teachers_room": _("Teachers' Room"),
        "pupils_corner": _("Pupils' Corner"),
        "chat": _("Chat"),
    }


def tool_labels() -> dict[str, str]:
    return {
        "profile": _("My profile"),
        "moderation": _("Moderation"),
        "report": _("Quality report"),
        "settings": _("Space settings"),
        "new-space": _("New space"),
    }


def usable_tools(role: str | None, state: str, account_kind: str) -> list[str]:
    """The member view's tools a member with `role` in a space may use, in bar order.

    What each tool needs is the rights table's answer for the space's Home; a new
    space needs a teacher's account. The service checks again when the tool is used.
    """
    if role is None:
        return []
    needs = {"moderation": "moderate", "report": "moderate", "settings": "administer"}
    tools = ["profile"]
    tools += [tool for tool, action in needs.items()
              if rights.allowed(role, action, "home", state=state)]
    if account_kind == "teacher":
        tools.append("new-space")
    return tools


def bar_reads(space: str) -> list[tuple[str, dict]]:
    """What the bar reads besides its page: the member, their spaces, the space's pages."""
    return [("me", {}), ("spaces", {}), (f"spaces/{space}/pages", {})]


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query string."""
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _current(yes: bool) -> str:
    return ' aria-current="page"' if yes else ""


def _link(href: str, text: str, *, current: bool = False, extra: str = "") -> str:
    return f'<a href="{escape(href)}"{_current(current)}{extra}>{escape(text)}</a>'


def lab_path(*parts: str) -> str:
    """A JupyterLab tree address of the shared volume, each name quoted."""
    return "lab/tree/" + "/".join(quote(part, safe="") for part in parts)


class Navigation(TwinSpaceApp):
    """The navigation bar of page `page_id` for the member this kernel belongs to.

    Without a page (`page_id` None): the bar of `section` of `space`, which has no page
    yet, with Manage pages open for those who may make the first one; or, given `tool`,
    the bar above that tool of the member view (no section is current then; `member`: whose
    profile the profile tool shows, when not the member's own). Given with a page,
    `space` lets every read of the bar go out at once.
    base_url: the member's server (`/user/<name>/`); hub_url: the hub (`/hub/`).
    """

    kind = "navigation"

    def __init__(self, page_id: int | None, *, space: str = "", section: str = "",
                 tool: str = "", member: str = "", base_url: str | None = None,
                 hub_url: str | None = None, **kwargs: Any) -> None:
        self.page_id = int(page_id) if page_id is not None else None
        self.space_slug = space
        self.section = section
        self.tool = tool
        self.member = member
        self.page: dict | None = None
        # What the caller read ahead (the shell's swap): the page, and the bar's other
        # reads under way; used once, by the next refresh.
        self.ahead: tuple[dict, list[Future]] | None = None
        self.base_url = base_url or server_prefix()
        self.hub_url = hub_url or hub_address()
        self.bar = widgets.HTML()
        self.tools_button = widgets.ToggleButton(
            description=_("Manage pages"), icon="cog",
            tooltip=_("Manage this section's pages and this page's applications"),
            layout=widgets.Layout(width="auto", align_self="flex-start"),
        )
        self.tools_button.observe(self.toggle_tools, "value")
        self.tools = widgets.VBox()
        self.managing = False
        super().__init__(None, **kwargs)
        self.add_class("twinspace-navigation")
        self.arrange()

    def arrange(self) -> None:
        """The bar, any notice, and the tools only for those who may use them."""
        tools = []
        if self.managing:
            # A section without pages: Manage pages is the point, shown at once.
            tools = [self.tools_button, self.tools] if self.page else [self.tools]
        self.children = [self.bar, self.banner, self.retry_button, *tools]

    def url(self, *parts: str) -> str:
        return self.base_url.rstrip("/") + "/" + "/".join(parts)

    def page_url(self, page_id: int) -> str:
        return self.url("twinspace", "page", str(page_id))

    def refresh(self) -> None:
        if self.page_id is not None and not self.space_slug:
            self.space_slug = self.client.get(f"pages/{self.page_id}")["space"]
        if self.page_id is not None:
            context = (f"pages/{self.page_id}", {})
        else:
            context = (f"spaces/{self.space_slug}", {"section": self.section})
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            found, started = ahead
            me, spaces, pages = (call.result() for call in started)
        else:
            # Independent reads at once: a page opens as soon as its bar is drawn.
            with ThreadPoolExecutor(max_workers=4) as pool:
                calls = [pool.submit(self.client.get, path, **params)
                         for path, params in [context, *bar_reads(self.space_slug)]]
                found, me, spaces, pages = (call.result() for call in calls)
        spaces, pages = spaces["items"], pages["items"]
        if self.page_id is not None:
            self.page = found
            self.space_slug, self.section = found["space"], found["section"]
            self.info = {"space": found["space"], "section": found["section"],
                         "role": found.get("role"), "may": found.get("may", {})}
        else:
            self.info = {"space": self.space_slug, "section": self.section,
                         "role": found.get("role"), "may": found.get("section_may", {})}
        self.bar.value = STYLE + self.render(me, spaces, pages)
        self.managing = self.may.get("manage_pages", False) and not self.tool
        if self.managing and self.page is None and not self.tools.children:
            self.tools.children = [ManagePages(self.space_slug, self.section,
                                               client=self.client)]
        self.arrange()

    def go(self, page: dict, started_reads: list[Future]) -> None:
        """Become the bar of `page`, just read from the service (the member view's shell
        moves between pages in place); any open tools of the previous page go.

        started_reads: `bar_reads(page["space"])` already under way, in that order.
        """
        self.page_id, self.page = int(page["id"]), None
        self.ahead = (page, started_reads)
        self.space_slug, self.section = page["space"], page["section"]
        self.tool = self.member = ""
        self.managing = False
        self.tools_button.value = False
        self.tools.children = ()
        self.load()

    def here_url(self) -> str:
        if self.tool:
            url = self.url("twinspace", "tool", self.tool, self.space_slug)
            return with_query(url, member=self.member) if self.member else url
        if self.page is not None:
            return self.page_url(self.page["id"])
        return self.url("twinspace", "space", self.space_slug, self.section)

    # --- the bar --------------------------------------------------------------------

    def render(self, me: dict, spaces: list[dict], pages: list[dict]) -> str:
        slug, section = self.space_slug, self.section
        current_id = self.page["id"] if self.page else None
        space = next((s for s in spaces if s["slug"] == slug), {"slug": slug, "title": slug,
                                                                 "sections": [section]})
        labels = section_labels()
        top = [f'<span class="ts-space">{escape(space["title"])}</span>']
        others = [s for s in spaces if s["slug"] != slug]
        if others:
            links = "".join(f"<li>{_link(self.url('twinspace', 'space', s['slug']), s['title'])}"
                            "</li>" for s in others)
            top.append(f'<details class="ts-switch"><summary>{escape(_("Switch space"))}'
                       f'</summary><ul aria-label="{escape(_("Your spaces"))}">{links}</ul>'
                       "</details>")
        user = me.get("user") or {}
        who = [user.get("display_name") or me.get("name", ""),
               role_label(self.info.get("role") or "")]
        if user.get("school"):
            who.append(user["school"])
        top.append(f'<span class="ts-me">{" · ".join(escape(w) for w in who if w)}</span>')
        language = user.get("locale") or "en"
        langs = " ".join(
            _link(with_query(self.here_url(), lang=code), LANGUAGE_NAMES[code],
                  extra=f' lang="{code}" hreflang="{code}"'
                  + (' aria-current="true"' if code == language else ""))
            for code in LANGUAGES
        )
        top.append(f'<span class="ts-lang" role="group" aria-label="{escape(_("Language"))}">'
                   f"{langs}</span>")
        top.append('<span class="ts-end">'
                   + _link(self.url(self.lab_target(spaces, pages)),
                           _("Open in JupyterLab"), extra=' class="ts-lab"')
                   + _link(self.hub_url.rstrip("/") + "/logout", _("Log out"),
                           extra=' class="ts-logout"')
                   + "</span>")

        first_pages: dict[str, int] = {}
        for item in pages:
            first_pages.setdefault(item["section"], item["id"])
        tabs = []
        for name in rights.SECTIONS:
            if name not in space.get("sections", []):
                continue
            href = (self.page_url(first_pages[name]) if name in first_pages
                    else self.url("twinspace", "space", slug, name))
            current = name == section and not self.tool
            tabs.append(f"<li>{_link(href, labels[name], current=current)}</li>")
        in_section = [p for p in pages if p["section"] == section]
        page_list = ""
        if not self.tool and (len(in_section) > 1
                              or (in_section and section not in ("home", "chat"))):
            items = "".join(
                f"<li>{_link(self.page_url(p['id']), p['title'], current=p['id'] == current_id)}"
                "</li>" for p in in_section
            )
            page_list = (f'<ul class="ts-pages" aria-label="{escape(_("Pages of this section"))}"'
                         f">{items}</ul>")
        return (f'<nav class="ts-nav" aria-label="TwinSpace"><div class="ts-top">{"".join(top)}'
                f'</div><ul class="ts-sections" aria-label="{escape(_("Sections"))}">'
                f'{"".join(tabs)}</ul>{page_list}'
                f'{self.render_tools(space, user.get("kind", ""))}</nav>')

    def render_tools(self, space: dict, account_kind: str) -> str:
        """Links to the member view's tools this member may use (current one marked)."""
        tools = usable_tools(self.info.get("role"), space.get("state", "open"), account_kind)
        labels = tool_labels()
        items = "".join(
            "<li>" + _link(self.url("twinspace", "tool", tool, self.space_slug), labels[tool],
                           current=tool == self.tool and not self.member) + "</li>"
            for tool in tools
        )
        return f'<ul class="ts-tools" aria-label="{escape(_("Tools"))}">{items}</ul>'

    def lab_target(self, spaces: list[dict], pages: list[dict]) -> str:
        """Authors edit the page notebook; everyone else gets the TwinSpace folder."""
        if not self.may.get("manage_pages", False):
            return lab_path(volume.ROOT_FOLDER)
        folders = volume.space_folders((s["slug"], s["title"]) for s in spaces)
        section, folder = self.section, folders.get(self.space_slug)
        if self.page is None and folder is not None:
            return lab_path(volume.ROOT_FOLDER, folder, volume.SECTION_FOLDERS[section])
        page = self.page or {"id": None}
        in_section = sorted((p for p in pages if p["section"] == section),
                            key=lambda p: (p.get("position", 0), p["id"]))
        names = volume.unique_names(volume.safe_name(p["title"]) + volume.NOTEBOOK_SUFFIX
                                    for p in in_section)
        entry = next((n for p, n in zip(in_section, names, strict=True)
                      if p["id"] == page["id"]), None)
        if entry is None or folder is None:
            return lab_path(volume.ROOT_FOLDER)
        return lab_path(volume.ROOT_FOLDER, folder, volume.SECTION_FOLDERS[section], entry)

    # --- tools ----------------------------------------------------------------------

    def toggle_tools(self, change: dict) -> None:
        if change["new"] and not self.tools.children:
            tools = self.guard(page_tools, self.space_slug, self.section, self.page_id,
                               client=self.client)
            if tools is not None:
                if isinstance(tools, widgets.Accordion):
                    tools.selected_index = 0
                self.tools.children = [tools]
        self.tools.layout.display = "" if change["new"] else "none"


def navigation(page_id: int | None, **kwargs: Any) -> Navigation:
    """The navigation bar of a page (what the member view's hidden first cell calls)."""
    return Navigation(page_id, **kwargs)
