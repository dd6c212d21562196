"""Translations (F36): every string of the apps is in the catalogs, and the apps use them."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from twinspace_kernel import i18n
from twinspace_kernel.apps.web_content import WebContent

ROOT = Path(__file__).resolve().parents[1]
APPS_DIR = ROOT / "twinspace_kernel" / "apps"
# The same keywords as `make i18n`.
KEYWORDS = {"_": None, "ngettext": (1, 2), "N_": None}
PLURAL_FORMS = {
    "en": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
    "de": "nplurals=2; plural=(n != 1);",
}


def source_messages() -> dict[str | tuple[str, ...], list[str]]:
    """Every message of the apps' current sources, extracted as `make i18n` does (babel.cfg)."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    # babel.cfg names files relative to the repository root; here we walk the apps only.
    prefix = "twinspace_kernel/apps/"
    method_map = [(pattern.removeprefix(prefix), method) for pattern, method in method_map]
    found: dict[str | tuple[str, ...], list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(APPS_DIR), method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def catalog(language: str):
    po_file = i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with po_file.open("rb") as handle:
        return read_po(handle, locale=language, domain=i18n.DOMAIN)


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def test_extraction_sees_the_apps_strings():
    messages = source_messages()
    assert len(messages) > 300
    # Strings inside f-strings and N_() markers are found too.
    assert "Your inbox is empty." in messages
    assert "posted in the blog" in messages
    assert ("{n} reply", "{n} replies") in messages


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_source_string_is_translated(language):
    cat = catalog(language)
    assert cat.plural_forms == PLURAL_FORMS[language]
    problems = []
    for message, where in sorted(source_messages().items(), key=lambda item: str(item[0])):
        key = message[0] if isinstance(message, tuple) else message
        entry = cat.get(key)
        if entry is None:
            problems.append(f"missing: {message!r} ({where[0]}) -- run `make i18n`")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if isinstance(message, tuple) != isinstance(entry.id, tuple):
            problems.append(f"plural mismatch: {message!r} -- run `make i18n`")
        elif entry.fuzzy or not all(s and s.strip() for s in strings):
            problems.append(f"untranslated or fuzzy: {message!r} ({where[0]})")
        elif language == "en" and strings != (message if isinstance(message, tuple)
                                               else (message,)):
            problems.append(f"English differs from its msgid: {message!r}")
    assert not problems, f"{language}: {len(problems)} problems\n" + "\n".join(problems)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_placeholders_match(language):
    problems = []
    for entry in catalog(language):
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        wanted = set().union(*(fields(i) for i in ids))
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for text in strings:
            if text and fields(text) != wanted:
                problems.append(f"{entry.id!r}: {text!r} has {sorted(fields(text))}")
    assert not problems, "\n".join(problems)


def test_catalogs_compile_and_plurals_follow_the_language():
    try:
        i18n.set_language("fr")
        assert i18n._("Save") == "Enregistrer"
        assert i18n.ngettext("{n} reply", "{n} replies", 1).format(n=1) == "1\u00a0réponse"
        # French: 0 takes the singular; German and English: the plural.
        assert i18n.ngettext("{n} reply", "{n} replies", 0).format(n=0) == "0\u00a0réponse"
        assert i18n.ngettext("{n} reply", "{n} replies", 2).format(n=2) == "2\u00a0réponses"
        i18n.set_language("de")
        assert i18n._("Save") == "Speichern"
        assert i18n.ngettext("{n} reply", "{n} replies", 0).format(n=0) == "0 Antworten"
        i18n.set_language("en")
        assert i18n._("Save") == "Save"
        assert i18n._("a string no catalog has") == "a string no catalog has"
    finally:
        i18n.set_language("en")


def test_an_app_speaks_french(world):
    app_id = world.new_app("web_content")
    try:
        assert i18n.set_language("fr") == "fr"
        app = WebContent(app_id, client=world.client("teacher_admin"))
        assert app.save_button.description == "Enregistrer"
        assert app.editor.placeholder.startswith("Écrivez en HTML")
        app.editor.value = "<p>Bonjour</p>"
        app.save_button.click()
        assert "Enregistré." in app.banner.value
    finally:
        i18n.set_language("en")
    assert WebContent(app_id, client=world.client("teacher")).save_button.description == "Save"


def test_pick_language(monkeypatch):
    monkeypatch.delenv("TWINSPACE_LANG", raising=False)
    monkeypatch.delenv("LANG", raising=False)
    assert i18n.pick_language("fr_FR.UTF-8") == "fr"
    assert i18n.pick_language("de_DE@euro") == "de"
    assert i18n.pick_language("fr-BE") == "fr"
    assert i18n.pick_language("FR") == "fr"
    assert i18n.pick_language("pt_BR.UTF-8") == "en"
    assert i18n.pick_language("") == "en"
    assert i18n.pick_language(None) == "en"
    monkeypatch.setenv("LANG", "de_AT.UTF-8")
    assert i18n.pick_language(None) == "de"
    assert i18n.pick_language("xx") == "de"  # unknown: the next candidate
    monkeypatch.setenv("TWINSPACE_LANG", "fr")
    assert i18n.pick_language(None) == "fr"
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("TWINSPACE_LANG")
    assert i18n.pick_language(None) == "en"
    assert i18n.set_language("nl") == "en"
    assert i18n.current_language() == "en"


def test_catalogs_are_installed_with_the_package():
    """The members' env installs a wheel: its package data must carry the .po files."""
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as handle:
        patterns = tomllib.load(handle)["tool"]["setuptools"]["package-data"]["twinspace_kernel"]
    package = ROOT / "twinspace_kernel"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    for language in i18n.LANGUAGES:
        assert package / "locale" / language / "LC_MESSAGES" / "twinspace.po" in shipped
