"""The member view's own pages (no space yet, refusals, problems): plain, translated HTML."""

from __future__ import annotations

import html

from twinspace_kernel.i18n import pick_language, translations


def N_(message: str) -> str:
    """Mark a message for translation (`make i18n`); it is translated when a page is made."""
    return message


NO_SPACE_TITLE = N_("No TwinSpace yet")
NO_SPACE = N_("You are not a member of any TwinSpace yet. A teacher can invite you; "
              "your invitation's link brings you in.")
FORBIDDEN_TITLE = N_("Not available to you")
FORBIDDEN = N_("Sorry, you may not see this page: it belongs to a part of the space that "
               "your role does not open.")
NOT_FOUND_TITLE = N_("Page not found")
NOT_FOUND = N_("This page does not exist (any more). It may have been deleted or moved.")
NOT_READY = N_("This page is not ready yet. Try again in a moment.")
UNAVAILABLE_TITLE = N_("TwinSpace is not answering")
UNAVAILABLE = N_("TwinSpace is not answering right now. Try again in a moment.")
EMPTY_SECTION_TITLE = N_("No pages yet")
EMPTY_SECTION = N_("There are no pages in this section yet.")
SESSION_TITLE = N_("Please log in again")
SESSION = N_("Your session has expired: log in again.")
HOME_LINK = N_("Back to Home")
SPACES_LINK = N_("Your TwinSpace")
LOGOUT_LINK = N_("Log out")

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f6fb;
color:#1d2433;margin:0}
main{max-width:38rem;margin:12vh auto;background:#fff;border:1px solid #d7dcea;
border-radius:8px;padding:2rem}
h1{font-size:1.5rem;margin-top:0;color:#0b3d91}
a{color:#0b3d91}
nav ul{list-style:none;padding:0;display:flex;gap:1.5rem}
a:focus{outline:3px solid #f5a623;outline-offset:2px}
"""


def message_page(language: str | None, title: str, sentence: str,
                 links: list[tuple[str, str]]) -> str:
    """A whole HTML page: `title` and `sentence` (untranslated msgids), then `links`
    as (msgid of the label, href)."""
    lang = pick_language(language)
    t = translations(lang).gettext
    items = "".join(
        f'<li><a href="{html.escape(href)}">{html.escape(t(label))}</a></li>'
        for label, href in links
    )
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(t(title))} – TwinSpace</title><style>{STYLE}</style></head>"
        f'<body><main><h1>{html.escape(t(title))}</h1>'
        f'<p role="alert" id="twinspace-message">{html.escape(t(sentence))}</p>'
        f'<nav aria-label="TwinSpace"><ul>{items}</ul></nav></main></body></html>'
    )
