"""Tests for twinspace_kernel.service.sanitize with real hostile HTML and Markdown."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from twinspace_kernel.service.sanitize import (
    ALLOWED_TAGS,
    LINK_REL,
    clean_html,
    clean_text,
    plain_text,
    render_markdown,
)

# Classic XSS payloads, including parser-confusion (mXSS) and encoding tricks.
MALICIOUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)//<</script>/script>",
    '<img src=x onerror="alert(1)">',
    '<img src="javascript:alert(1)">',
    '<IMG SRC="jav&#x09;ascript:alert(1);">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<img src="data:image/png;base64,iVBORw0KGgo=">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    '<a href="java\tscript:alert(1)">click</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="https://ok.example" onclick="alert(1)" target="_blank" rel="opener">x</a>',
    "<style>body{background:url(javascript:alert(1))}</style><p>text</p>",
    '<p style="background-image:url(javascript:alert(1))">styled</p>',
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="https://evil.example/x.swf"></object><embed src="x.swf">',
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    '<svg><animate onbegin="alert(1)" attributeName="x"/></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<form action="https://evil.example"><input name="pw" autofocus onfocus="alert(1)"></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    '<body onload="alert(1)">',
    '<div onmouseover="alert(1)" id="x" class="y">hover</div>',
    "<!--<script>alert(1)</script>-->",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<table background="javascript:alert(1)"><tr><td onclick="alert(1)">x</td></tr></table>',
    '<details open ontoggle="alert(1)">',
    '<video><source onerror="alert(1)"></video>',
    "<template><script>alert(1)</script></template>",
    "<textarea><script>alert(1)</script></textarea>",
]

SAFE_SCHEMES = {"http", "https", "mailto"}


class _Inspector(HTMLParser):
    """Parses sanitiser output back so tests can assert on the real tag/attribute tree."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def _parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.tags


def _scheme(url: str) -> str | None:
    match = re.match(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):", url)
    return match.group(1).lower() if match else None


@pytest.mark.parametrize("payload", MALICIOUS)
def test_malicious_html_is_neutralised(payload: str) -> None:
    out = clean_html(payload)
    lowered = out.lower()
    assert "<script" not in lowered
    assert "<scr" not in lowered
    assert "<iframe" not in lowered
    assert "<style" not in lowered
    assert "<svg" not in lowered
    assert "javascript:" not in lowered
    for tag, attrs in _parse(out):
        assert tag in ALLOWED_TAGS, (tag, out)
        for name, value in attrs.items():
            assert not name.startswith("on"), (name, out)
            assert name not in {"style", "class", "id", "target", "srcdoc", "background"}
            if name in {"href", "src"}:
                assert value is not None
                assert _scheme(value) in SAFE_SCHEMES | {None}, (value, out)
                assert "script" not in value.lower()
                if tag == "img":
                    assert _scheme(value) != "mailto"


def test_script_and_style_content_is_dropped_not_shown() -> None:
    out = clean_html("<p>Hi</p><script>steal()</script><style>p{color:red}</style>")
    assert out == "<p>Hi</p>"


def test_nested_script_trick_leaves_only_inert_text() -> None:
    out = clean_html("<scr<script>ipt>alert(1)</script>")
    assert "<" not in out.replace("&lt;", "")
    assert _parse(out) == []


def test_formatting_is_preserved() -> None:
    html = (
        "<h2>Our project</h2><p><strong>Bold</strong>, <em>em</em>, <u>u</u>, <s>s</s>, "
        "H<sub>2</sub>O, x<sup>2</sup></p><ul><li>one</li></ul><ol><li>two</li></ol>"
        "<blockquote>quote</blockquote><pre><code>code</code></pre><hr>"
        "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>"
        "<div><span>x</span></div>"
    )
    out = clean_html(html)
    assert out == html


def test_links_get_forced_rel_and_keep_safe_attributes() -> None:
    out = clean_html('<a href="https://etwinning.net/x" title="T" rel="opener">go</a>')
    assert out == f'<a href="https://etwinning.net/x" title="T" rel="{LINK_REL}">go</a>'
    tags = _parse(clean_html('<a href="mailto:teacher@school.eu">mail</a>'))
    assert tags == [("a", {"href": "mailto:teacher@school.eu", "rel": LINK_REL})]


def test_images_allow_http_https_and_relative_only() -> None:
    tags = _parse(
        clean_html(
            '<img src="https://cdn.example/a.png" alt="A" title="t" width="120" height="80">'
            '<img src="/files/abc" alt="rel">'
            '<img src="mailto:x@example.org">'
            '<img src="data:image/png;base64,iVBORw0KGgo=">'
            '<img src="x.png" width="100px;position:fixed" height="50">'
        )
    )
    assert tags[0] == (
        "img",
        {"src": "https://cdn.example/a.png", "alt": "A", "title": "t", "width": "120",
         "height": "80"},
    )  # fmt: skip
    assert tags[1] == ("img", {"src": "/files/abc", "alt": "rel"})
    assert tags[2] == ("img", {})
    assert tags[3] == ("img", {})
    assert tags[4] == ("img", {"src": "x.png", "height": "50"})


def test_markdown_renders_tables_strikethrough_and_links_with_rel() -> None:
    md = (
        "# Title\n\n**bold** ~~gone~~ [site](https://example.org)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    out = render_markdown(md)
    assert "<h1>Title</h1>" in out
    assert "<strong>bold</strong>" in out
    assert "<s>gone</s>" in out
    assert f'<a href="https://example.org" rel="{LINK_REL}">site</a>' in out
    assert "<table>" in out and "<td>2</td>" in out


def test_markdown_raw_html_is_escaped_not_rendered() -> None:
    out = render_markdown(
        'Hello <script>alert(1)</script> <img src=x onerror=alert(1)> <b onclick="x">b</b>'
    )
    tags = _parse(out)
    assert [tag for tag, _ in tags] == ["p"]
    assert "&lt;script&gt;" in out
    assert "onerror" not in "".join(str(a) for _, a in tags)


def test_markdown_dangerous_links_are_not_links() -> None:
    md = (
        "[a](javascript:alert(1)) [b](vbscript:x) [c](data:text/html;base64,PHNjcmlwdD4=) "
        "![d](data:image/png;base64,iVBORw0KGgo=) ![e](https://ok.example/e.png) "
        "<https://auto.example/link>"
    )
    tags = _parse(render_markdown(md))
    hrefs = [attrs.get("href") for tag, attrs in tags if tag == "a"]
    srcs = [attrs.get("src") for tag, attrs in tags if tag == "img"]
    assert hrefs == ["https://auto.example/link"]
    assert srcs == [None, "https://ok.example/e.png"]
    for tag, attrs in tags:
        if tag == "a":
            assert attrs["rel"] == LINK_REL


def test_plain_text_strips_tags_and_decodes_entities() -> None:
    html = "<h2>Trip</h2><p>Tom &amp; Jerry\n\n   went <b>to</b> Paris</p><script>x()</script>"
    assert plain_text(html) == "Trip Tom & Jerry went to Paris"


def test_plain_text_truncates_with_ellipsis_at_word_boundary() -> None:
    text = "<p>" + "lorem ipsum " * 50 + "</p>"
    out = plain_text(text, limit=40)
    assert len(out) <= 40
    assert out.endswith("…")
    assert out == "lorem ipsum lorem ipsum lorem ipsum…"


def test_plain_text_short_text_unchanged_and_long_word_cut() -> None:
    assert plain_text("short", limit=10) == "short"
    assert plain_text("x" * 50, limit=10) == "x" * 9 + "…"
    with pytest.raises(ValueError):
        plain_text("x", limit=0)


def test_clean_text_strips_and_removes_control_chars() -> None:
    raw = "  Hello\x00 wor\x1bld\r\nline\ttwo\x7f\u0085  "
    assert clean_text(raw, field="Title", max_len=100) == "Hello world\nline\ttwo"


@pytest.mark.parametrize("raw", ["", "   ", "\x00\x01\n\t "])
def test_clean_text_rejects_empty(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^Title must not be empty\.$"):
        clean_text(raw, field="Title", max_len=10)


def test_clean_text_rejects_too_long_with_human_message() -> None:
    with pytest.raises(ValueError) as info:
        clean_text("x" * 11, field="Project name", max_len=10)
    expected = "Project name is too long (11 characters); the limit is 10 characters."
    assert str(info.value) == expected
    # Removed control characters don't count towards the limit.
    assert clean_text("x" * 10 + "\x00" * 5, field="Project name", max_len=10) == "x" * 10
