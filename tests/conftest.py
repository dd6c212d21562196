"""Shared fixtures.

- ``db_url`` (session): each database backend the suite runs on: SQLite always,
  PostgreSQL too when ``TWINSPACE_TEST_PG_URL`` is set (a fresh database per run).
- ``hub`` (session, per backend): a real JupyterHub with the node proxy running the
  TwinSpace service as a managed service (tests/hubharness.py).
- ``site`` (session, per backend): a ``tests.utils.Site`` on that hub: makes accounts
  and callers; ``site.admin`` is a hub administrator.
- ``world``: a fresh space with one member per role (``world.as_(role)``), an
  outsider and the anonymous public.
- ``pg_url``: a fresh PostgreSQL database URL (skips without TWINSPACE_TEST_PG_URL).
- ``browser`` (module): Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hubharness import RealHub, fresh_pg_database, twinspace_command  # noqa: E402
from utils import Site  # noqa: E402

PG_URL = os.environ.get("TWINSPACE_TEST_PG_URL", "")


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request, tmp_path_factory):
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "twinspace.sqlite"
        yield f"sqlite:///{path}"
    else:
        url, drop = fresh_pg_database(PG_URL)
        yield url
        drop()


@pytest.fixture
def pg_url():
    if not PG_URL:
        pytest.skip("TWINSPACE_TEST_PG_URL is not set")
    url, drop = fresh_pg_database(PG_URL)
    yield url
    drop()


@pytest.fixture(scope="session")
def hub(db_url, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("service-data")
    real = RealHub(
        twinspace_command(data_dir, db_url),
        service_env={
            "TWINSPACE_UPLOAD_LIMIT_MB": "2",
            "TWINSPACE_LOGIN_ADDRESS_THRESHOLD": "8",
            "TWINSPACE_LOGIN_STEP_DELAY": "0.02",
        },
    )
    real.start()
    try:
        real.wait_for_service()
        real.data_dir = data_dir
        yield real
    finally:
        real.stop()


@pytest.fixture(scope="session")
def site(hub):
    return Site(hub)


@pytest.fixture
def world(site):
    return site.space()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, one per module (tests/browser.py): Playwright's
    sync API keeps an event loop running, which later modules' asyncio must not meet."""
    from browser import CHROMIUM, launch_chromium

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed: make chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
