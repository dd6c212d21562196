"""Every page template, made into a real page by the service, runs in a real kernel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from twinspace_kernel.apps import APPS
from twinspace_kernel.apps.base import BANNER_STYLES
from twinspace_kernel.pages import STARTER_TEMPLATES, instantiate_template

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
ERROR_BANNER = BANNER_STYLES["error"]
# template -> the section its page lives in (Home and Chat are made with every space).
TEMPLATES = {
    "home.ipynb": "home",
    "chat.ipynb": "chat",
    "activities.ipynb": "activities",
    "teachers_room.ipynb": "teachers_room",
    "pupils_corner.ipynb": "pupils_corner",
    **{name: "activities" for name in STARTER_TEMPLATES},
}
# Who views each section's page in the kernel (a member who may see it).
VIEWER = {"pupils_corner": "pupil_admin", "teachers_room": "teacher"}


def missing_apps(template: str) -> list[str]:
    """App kinds of the template whose module is not (yet) there."""
    _title, apps, _extra = instantiate_template(template)
    missing = []
    for kind, _t in apps:
        module = APPS.get(kind, "").partition(":")[0]
        if not module or importlib.util.find_spec(f"twinspace_kernel.apps.{module}") is None:
            missing.append(kind)
    return missing


def page_file(world, template: str) -> Path:
    section = TEMPLATES[template]
    if section in ("home", "chat"):
        slug = section
    else:
        page = world.page_manager(section).ok(
            "POST", f"spaces/{world.slug}/pages",
            json={"section": section, "template": template},
        )
        slug = page["slug"]
    return Path(world.site.hub.data_dir) / "spaces" / world.slug / section / f"{slug}.ipynb"


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_template_page_runs_without_errors(world, template, monkeypatch, tmp_path):
    missing = missing_apps(template)
    if missing:
        pytest.skip(f"apps not written yet: {', '.join(missing)}")
    path = page_file(world, template)
    nb = nbformat.read(path, as_version=4)
    role = VIEWER.get(TEMPLATES[template], "teacher_admin")
    # nbclient starts the kernel with this process's environment: the member's kernel.
    monkeypatch.setenv("TWINSPACE_API_URL", world.site.api_base)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", world.as_(role).token)
    monkeypatch.setenv("TWINSPACE_LANG", "en")
    client = NotebookClient(nb, kernel_name="python3", timeout=60,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [
        (cell.source, output.get("ename"), output.get("evalue"))
        for cell in nb.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.get("output_type") == "error"
    ]
    assert errors == []
    # No app shows an error banner (a refusal, a dead service) either.
    state = nb.metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    banners = [w["state"].get("value", "") for w in state.values()
               if ERROR_BANNER in str(w.get("state", {}).get("value", ""))]
    assert state and banners == []
    for cell in nb.cells:
        if cell.metadata.get("twinspace", {}).get("kind"):
            shown = [o for o in cell.outputs if WIDGET_MIME in o.get("data", {})]
            assert shown, f"{template}: no widget shown by {cell.source!r}"
