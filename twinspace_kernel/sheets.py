"""Printable credential slips for pupils: one HTML page, ten cut-out slips per A4 sheet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from .i18n import current_language, pick_language, translations

SLIPS_PER_PAGE = 10  # 2 columns x 5 rows

# A4 is 210 x 297 mm; 10 mm margins leave 190 x 277 mm: 2 x 95 mm by 5 x 55 mm slips.
CSS = """
@page { size: A4; margin: 10mm }
* { box-sizing: border-box }
html, body { margin: 0; padding: 0 }
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #111 }
.screen { padding: 12px 16px; background: #eef3f8; border-bottom: 1px solid #9ab;
  font-size: 14px }
.screen h1 { font-size: 18px; margin: 0 0 6px }
.screen button { font-size: 16px; padding: 6px 18px; cursor: pointer }
.sheet { width: 190mm; display: grid; grid-template-columns: 95mm 95mm;
  grid-template-rows: repeat(5, 55mm); margin: 0 auto }
.sheet + .sheet { break-before: page }
.slip { border: 0.3mm dashed #777; padding: 4mm 5mm; overflow: hidden;
  break-inside: avoid; page-break-inside: avoid; display: flex; flex-direction: column;
  gap: 1.2mm }
.slip .space { font-size: 9pt; color: #345; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis }
.slip .who { font-size: 13pt; font-weight: bold; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis }
.slip .label { font-size: 8pt; color: #555; display: inline-block; width: 20mm }
.slip .login { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace;
  font-size: 15pt; font-variant-numeric: slashed-zero }
.slip .password { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace;
  font-size: 20pt; font-weight: bold; letter-spacing: 0.12em;
  font-variant-numeric: slashed-zero }
.password .digit { color: #0645ad; text-decoration: underline dotted }
.password .upper { color: #a33; text-decoration: underline }
.slip .hub { font-family: "DejaVu Sans Mono", monospace; font-size: 10pt; margin-top: auto;
  word-break: break-all }
.slip .hint { font-size: 7pt; color: #666 }
@media print {
  .screen { display: none }
  body { -webkit-print-color-adjust: exact; print-color-adjust: exact }
}
@media screen {
  .sheet { margin: 12px auto; box-shadow: 0 0 4px #999; background: white }
}
"""


def _field(pupil: Mapping[str, str] | object, *names: str) -> str:
    for name in names:
        value = pupil.get(name) if isinstance(pupil, Mapping) else getattr(pupil, name, None)
        if value:
            return str(value)
    return ""


def password_html(password: str) -> str:
    """Each character marked so digits and capitals cannot be mistaken for letters."""
    parts = []
    for char in password:
        if char.isdigit():
            parts.append(f'<span class="digit">{escape(char)}</span>')
        elif char.isupper():
            parts.append(f'<span class="upper">{escape(char)}</span>')
        else:
            parts.append(escape(char))
    return "".join(parts)


def slip_html(pupil, *, hub_url: str, space_title: str, language: str | None = None) -> str:
    _ = translations(pick_language(language or current_language())).gettext
    full_name = _field(pupil, "display_name", "full_name")
    username = _field(pupil, "name", "username")
    password = _field(pupil, "password")
    hint = _("digits are blue and dotted")
    if any(ch.isupper() for ch in password):
        hint = _("digits are blue and dotted, CAPITALS red and underlined")
    return (
        '<div class="slip">'
        f'<div class="space">TwinSpace: {escape(space_title)}</div>'
        f'<div class="who">{escape(full_name)}</div>'
        f'<div><span class="label">{escape(_("Username"))}</span>'
        f'<span class="login">{escape(username)}</span></div>'
        f'<div><span class="label">{escape(_("Password"))}</span>'
        f'<span class="password">{password_html(password)}</span></div>'
        f'<div class="hint">{escape(hint)}</div>'
        f'<div class="hub">{escape(_("Log in at {address}").format(address=hub_url))}</div>'
        "</div>"
    )


def credentials_sheet(
    pupils: Iterable[Mapping[str, str]],
    *,
    hub_url: str,
    space_title: str,
    school: str = "",
    language: str | None = None,
) -> str:
    """A complete HTML page of slips (name, username, password, hub address, space).

    `pupils`: mappings (or objects) with display_name, name and password — what
    `POST spaces/{slug}/pupils` answers. Print it on A4: ten slips per page, cut on
    the dashed lines. In `language` (the teacher's), else the current one.
    """
    language = pick_language(language or current_language())
    catalog = translations(language)
    _ = catalog.gettext
    pupils = list(pupils)
    slips = [slip_html(p, hub_url=hub_url, space_title=space_title, language=language)
             for p in pupils]
    sheets = [
        '<section class="sheet">' + "".join(slips[i:i + SLIPS_PER_PAGE]) + "</section>"
        for i in range(0, len(slips), SLIPS_PER_PAGE)
    ]
    title = _("Pupils' logins") + f" — {space_title}" + (f" — {school}" if school else "")
    pages = -(-len(pupils) // SLIPS_PER_PAGE)
    count = catalog.ngettext("{n} pupil", "{n} pupils", len(pupils)).format(n=len(pupils))
    sheets_count = catalog.ngettext("{n} A4 page", "{n} A4 pages", pages).format(n=pages)
    advice = _("Keep this sheet private: the passwords are not shown anywhere else. Cut "
               "along the dashed lines and hand each pupil their slip.")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body>"
        '<div class="screen">'
        f"<h1>{escape(title)}</h1>"
        f"<p>{escape(count)} · {escape(sheets_count)}. {escape(advice)}</p>"
        f'<button type="button" onclick="window.print()">{escape(_("Print"))}</button>'
        "</div>"
        + "".join(sheets)
        + "</body></html>\n"
    )
