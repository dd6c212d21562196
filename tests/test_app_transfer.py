"""The export panel of a space's settings (F34): export to the member's home, use as template."""

from __future__ import annotations

import html
import io
import json
import zipfile
from pathlib import Path

import pytest
from utils import unique

from twinspace_kernel import i18n
from twinspace_kernel.apps.transfer import ExportPanel


@pytest.fixture(params=["en", "fr"])
def language(request):
    i18n.set_language(request.param)
    yield request.param
    i18n.set_language("en")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """The member's home, where the kernel (running as the member) writes downloads."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/someone/")
    return tmp_path


def test_teacher_administrator_exports_and_copies_the_space(world, home, language):
    page = world.add_page("activities", "Rivers")
    world.add_app(page, "wiki", "Words")
    panel = ExportPanel(world.slug, client=world.client("teacher_admin"))
    assert panel.body.children == (panel.export_box, panel.template_box)
    assert panel.banner.value == ""

    panel.export_button.click()
    downloads = list((home / "TwinSpace downloads").glob("*.zip"))
    assert [p.name for p in downloads] == [f"{world.slug}-{__import__('datetime').date.today()}"
                                           ".zip"]
    with zipfile.ZipFile(io.BytesIO(downloads[0].read_bytes())) as archive:
        manifest = json.loads(archive.read("space.json"))
        assert "notebooks/activities/rivers.ipynb" in archive.namelist()
    assert "Rivers" in [p["title"] for p in manifest["pages"]]
    assert panel.progress.value == panel.progress.max == downloads[0].stat().st_size
    assert (f'href="/user/someone/files/TwinSpace%20downloads/{downloads[0].name}"'
            in panel.export_result.value and " download=" in panel.export_result.value)
    assert not list((home / "TwinSpace downloads").glob(".*.part"))
    ready = {"en": "The archive of this space is ready.",
             "fr": "L'archive de cet espace est prête."}[language]
    assert ready in html.unescape(panel.banner.value)

    # Use as template: a new space under a new title and address, with a link to it.
    slug = unique("tpl")
    panel.template_title.value = "Rivers 2027"
    panel.template_slug.value = slug
    panel.template_button.click()
    assert f'href="/user/someone/twinspace/space/{slug}"' in panel.template_result.value
    copy = world.as_("teacher_admin").ok("GET", f"spaces/{slug}")
    assert (copy["title"], copy["role"]) == ("Rivers 2027", "teacher_admin")
    pages = world.as_("teacher_admin").ok("GET", f"spaces/{slug}/pages")["items"]
    assert "Rivers" in [p["title"] for p in pages]
    # The same address again: said politely, in the member's language.
    panel.template_button.click()
    taken = {"en": f"The address {slug} is taken", "fr": f"L'adresse {slug} est déjà prise"}
    assert taken[language] in html.unescape(panel.banner.value)


@pytest.mark.parametrize("role", ["teacher", "pupil", "visitor"])
def test_others_are_told_politely(world, home, language, role):
    panel = ExportPanel(world.slug, client=world.client(role))
    assert panel.body.children == ()
    only = {"en": "Only the teacher administrators of this space can export it",
            "fr": "Seuls les enseignants administrateurs de cet espace peuvent l'exporter"}
    assert only[language] in html.unescape(panel.banner.value)
    # The service decides: a forced export is refused, nothing is written.
    panel.export()
    assert "Traceback" not in html.unescape(panel.banner.value)
    assert not (home / "TwinSpace downloads").exists() or not list(
        (home / "TwinSpace downloads").iterdir())
