"""Pure text/HTML sanitising helpers for user content (rich text, Markdown, plain fields)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt

__all__ = ["clean_html", "clean_text", "plain_text", "render_markdown"]

# Tags a teacher or pupil can reasonably use in a web-content page (F23). Anything else is
# unwrapped (its text kept) by nh3; the CONTENT_DROP tags below lose their content too.
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "b", "strong", "i", "em", "u", "s", "h1", "h2", "h3", "h4",
        "ul", "ol", "li", "blockquote", "code", "pre", "a", "img",
        "table", "thead", "tbody", "tr", "th", "td", "hr", "span", "div", "sub", "sup",
    }
)  # fmt: skip

# Their text is code or chrome, never prose: drop it entirely rather than leak it as text.
CONTENT_DROP_TAGS: frozenset[str] = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "textarea"}
)

# No "style", "class", "id" or on* anywhere: styling attributes are a CSS-injection and
# clickjacking vector and ids can clobber DOM globals in the Voila page.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}

# nh3 applies one scheme list to every URL attribute; img gets narrowed in _filter_attribute.
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
IMG_SCHEMES: frozenset[str] = frozenset({"http", "https"})
LINK_REL = "noopener noreferrer nofollow"

_SCHEME_RE = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")
_DIMENSION_RE = re.compile(r"^\d{1,4}%?$")
_SPAN_RE = re.compile(r"^\d{1,3}$")


def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
    """Per-attribute veto on top of nh3's tag/attribute/scheme allowlists."""
    if tag == "img" and attr == "src":
        match = _SCHEME_RE.match(value)
        # Relative URLs have no scheme; absolute ones must be http(s) (no mailto:, no data:).
        if match and match.group(1).lower() not in IMG_SCHEMES:
            return None
    if tag == "img" and attr in {"width", "height"}:
        # Plain numbers only, so the attribute can't smuggle anything odd into layout code.
        return value if _DIMENSION_RE.match(value.strip()) else None
    if attr in {"colspan", "rowspan"}:
        return value if _SPAN_RE.match(value.strip()) else None
    return value


def clean_html(html: str) -> str:
    """Sanitise user-supplied rich text to a safe HTML fragment.

    Scripts, styles, frames, event handlers and javascript:/data: URLs are removed; links
    always carry ``rel="noopener noreferrer nofollow"``.
    """
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CONTENT_DROP_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_filter_attribute,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
    )


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # html=False: raw HTML in Markdown is rendered as escaped text, never as markup. The
    # output still goes through clean_html as defence in depth (e.g. data: image URLs,
    # which markdown-it's own link validator lets through).
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    """Render Markdown (CommonMark + tables + strikethrough) to sanitised HTML."""
    return clean_html(_markdown().render(text))


# Block-level tags whose boundaries separate words in the plain-text summary.
_BLOCK_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "table", "tr", "td", "th", "hr", "section", "article",
    }
)  # fmt: skip


class _TextExtractor(HTMLParser):
    """Collects text nodes, skipping code/chrome elements whose content isn't prose."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in CONTENT_DROP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in CONTENT_DROP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def plain_text(text: str, limit: int = 200) -> str:
    """Strip markup to a whitespace-collapsed summary of at most ``limit`` characters.

    The result is PLAIN text (entities decoded): escape it when putting it into HTML.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    summary = " ".join("".join(parser.parts).split())
    # HTMLParser leaves entities in unterminated trailing markup alone; decode any left over.
    summary = unescape(summary)
    if len(summary) <= limit:
        return summary
    cut = summary[: limit - 1]
    # Prefer breaking at a word boundary, unless that would throw away most of the text.
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def clean_text(text: str, *, field: str, max_len: int) -> str:
    """Normalise a plain-text form field; raise ValueError with a human message if unusable.

    Control characters other than newline and tab are removed (they break logs, CSV exports
    and terminal output); CRLF/CR become LF; the text is NFC-normalised and stripped.
    """
    if not isinstance(text, str):
        raise ValueError(f"{field} must be text.")
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
    if not text:
        raise ValueError(f"{field} must not be empty.")
    if len(text) > max_len:
        raise ValueError(
            f"{field} is too long ({len(text)} characters); the limit is {max_len} characters."
        )
    return text
