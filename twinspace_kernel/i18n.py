"""Translations of everything the apps show (F36): gettext catalogs kept as .po files."""

from __future__ import annotations

import ast
import gettext
import io
import os
from collections.abc import Collection, Iterator
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "twinspace"
LANGUAGES = ("en", "fr", "de")
# Each language in its own words (what a language switch shows).
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch"}
DEFAULT_LANGUAGE = "en"

# The spawner sets $TWINSPACE_LANG to the member's language; nothing else is guessed at
# import, so what a kernel shows never depends on the machine's own locale.
_current = os.environ.get("TWINSPACE_LANG", "").split("_")[0].lower()
if _current not in LANGUAGES:
    _current = DEFAULT_LANGUAGE


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of `language`, compiled in memory from its .po file.

    Keeping only .po files in the repository (no compiled .mo) means a translator's
    change is live at once and no build step can forget it.
    """
    po_file = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_file.exists():
        return gettext.NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick_language(preferred: str | None = None) -> str:
    """The member's language if we have it, else $TWINSPACE_LANG, $LANG, then English."""
    for candidate in (preferred, os.environ.get("TWINSPACE_LANG"), os.environ.get("LANG")):
        if candidate:
            # fr_FR.UTF-8, fr-FR, de_DE@euro, fr -> the language part.
            code = candidate.replace("-", "_").split(".")[0].split("@")[0].split("_")[0]
            code = code.strip().lower()
            if code in LANGUAGES:
                return code
    return DEFAULT_LANGUAGE


def set_language(language: str | None) -> str:
    """Switch every app's strings to `language` (kept if unknown); returns the one in use."""
    global _current
    _current = pick_language(language)
    return _current


def current_language() -> str:
    return _current


def _(message: str) -> str:
    """Translate `message` into the current language."""
    return translations(_current).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current).ngettext(singular, plural, n)


def extract_python(
    fileobj, keywords: Collection[str], comment_tags: Collection[str], options: dict
) -> Iterator[tuple[int, str, tuple[str | None, ...], list[str]]]:
    """Babel extractor (see babel.cfg): the calls of `keywords` in a Python file, from its AST.

    Babel's own Python extractor misses `_()` inside f-strings before Python 3.12
    (`f"<i>{escape(_('No posts yet.'))}</i>"`); the AST sees every call wherever it is.
    Yields (line, keyword, positional arguments (None when not a literal), comments).
    """
    encoding = options.get("encoding", "utf-8")
    tree = ast.parse(fileobj.read().decode(encoding))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in keywords or not node.args:
            continue
        messages = tuple(
            arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
            for arg in node.args
        )
        found.append((node.lineno, node.col_offset, name, messages))
    for lineno, _col, name, messages in sorted(found):
        yield lineno, name, messages, []


def fill_english() -> int:
    """Complete the English catalog: msgstr = msgid for every message (make i18n)."""
    po_file = LOCALE_DIR / DEFAULT_LANGUAGE / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=DEFAULT_LANGUAGE, domain=DOMAIN)
    for message in catalog:
        if message.id:
            message.string = message.id
            message.flags.discard("fuzzy")
    with po_file.open("wb") as handle:
        write_po(handle, catalog, include_previous=False)
    return len(catalog)
