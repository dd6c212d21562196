"""Export and Use as template (F34) from a space's settings, driven in Chromium on a real hub.

ONE isolated hub for the module: a teacher administrator exports their space (a progress
bar, then the archive, with the page notebook holding their own cells, downloaded from their
own server), makes a new space from it as a template and opens it; then in French.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import nbformat
import pytest
import requests
from browser import log_in
from hubproc import HubWorld, TwinSpaceHub, isolated_hub
from nbformat.v4 import new_markdown_cell

PASSWORD = HubWorld.PASSWORD

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]


class World(HubWorld):
    """A space whose founder wrote a cell of their own in an activity page."""

    def __init__(self, hub: TwinSpaceHub):
        super().__init__(hub)
        self.slug = f"transfer-{self.tag}"
        self.founder = f"fiona{self.tag}"
        fiona = self.add_teacher(self.founder, "Fiona Founder")
        self.call("POST", "spaces", fiona, json={"slug": self.slug, "title": "River project"})
        page = self.call("POST", f"spaces/{self.slug}/pages", fiona,
                         json={"section": "activities", "title": "Rivers"})
        self.call("POST", f"pages/{page['id']}/apps", fiona, json={"kind": "wiki"})
        path = hub.data_dir / "spaces" / self.slug / "activities" / f"{page['slug']}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.insert(1, new_markdown_cell("Fiona's instructions: measure the river."))
        r = requests.put(f"{hub.api_base}volume/{self.slug}/activities/Rivers.ipynb",
                         headers=fiona, data=nbformat.writes(nb).encode(), timeout=60)
        assert r.status_code == 200, r.text
        self.page_slug = page["slug"]

    def settings_url(self) -> str:
        return self.view_url(self.founder, f"tool/settings/{self.slug}")


@pytest.fixture(scope="module")
def world():
    with isolated_hub("twinspace-transfer-", missing=pytest.skip) as hub:
        yield World(hub)


def test_export_download_and_use_as_template(world, browser):
    page = log_in(browser, world.hub, world.founder, PASSWORD)
    page.goto(world.settings_url())
    panel = page.locator(".twinspace-export")
    panel.locator(".ts-export-button").click()
    link = panel.locator("a.twinspace-download")
    link.wait_for()
    assert link.get_attribute("href").startswith(
        f"/user/{world.founder}/files/TwinSpace%20downloads/{world.slug}-")
    assert "The archive of this space is ready." in panel.inner_text()
    with page.expect_download() as download:
        link.click()
    data = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("space.json"))
        notebook = nbformat.reads(
            archive.read(f"notebooks/activities/{world.page_slug}.ipynb").decode(),
            as_version=4)
    assert manifest["space"]["title"] == "River project"
    assert "Fiona's instructions: measure the river." in [c.source for c in notebook.cells]

    # Use as template: a new space under a new title and address, and a link to it.
    copy = f"{world.slug}-tpl"
    panel.locator(".ts-template-title input").fill("River project, year 2")
    panel.locator(".ts-template-slug input").fill(copy)
    panel.locator(".ts-template-button").click()
    opened = panel.locator("a.twinspace-new-space")
    opened.wait_for()
    assert "River project, year 2" in opened.inner_text()
    assert opened.get_attribute("href") == f"/user/{world.founder}/twinspace/space/{copy}"
    notebook_copy = (world.hub.data_dir / "spaces" / copy / "activities"
                     / f"{world.page_slug}.ipynb")
    assert "Fiona's instructions: measure the river." in [
        c.source for c in nbformat.read(notebook_copy, as_version=4).cells]

    # In French: the same panel, translated; a taken address is said so.
    page.goto(world.settings_url() + "?lang=fr")
    panel = page.locator(".twinspace-export")
    panel.locator(".ts-export-button:has-text('Exporter cet espace')").wait_for()
    panel.locator(".ts-template-slug input").fill(copy)
    panel.locator(".ts-template-button:has-text('Utiliser comme modèle')").click()
    page.wait_for_selector(
        f".twinspace-export [role=status]:has-text(\"L'adresse {copy} est déjà prise\")")
