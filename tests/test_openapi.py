"""The OpenAPI document matches what the service serves, and every operation is documented."""

from __future__ import annotations

import re

import pytest

from twinspace_kernel.service.app import HANDLER_MODULES, collect_handlers
from twinspace_kernel.service.meta import METHODS, openapi_path, served_operations


@pytest.fixture(scope="module")
def document(site):
    return site.anonymous.ok("GET", "openapi.json")


def test_document_is_openapi_3(document):
    assert document["openapi"].startswith("3.")
    assert document["paths"]
    assert document["components"]["schemas"]["Error"]["required"] == ["error", "message"]


def test_every_route_is_in_the_document(document):
    served = served_operations(collect_handlers(HANDLER_MODULES))
    assert set(document["paths"]) == set(served)
    for path, methods in served.items():
        assert set(document["paths"][path]) == set(methods), path


def test_every_operation_has_a_summary(document):
    missing = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation["summary"].endswith("Handler") or not operation["summary"]
    ]
    assert missing == [], "handler methods without a docstring"


def _concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: "no-such-space" if m.group(1) == "slug" else "999999",
                  path).lstrip("/")


def test_documented_methods_are_served_and_others_are_not(document, site):
    """Each documented operation answers something other than 405; others answer 405."""
    for path, operations in document["paths"].items():
        url = _concrete(path)
        for method in METHODS:
            r = site.admin.request(method.upper(), url, json={} if method != "get" else None)
            if method in operations:
                assert r.status_code != 405, f"{method.upper()} {path}: {r.text[:200]}"
            else:
                assert r.status_code == 405, f"{method.upper()} {path} -> {r.status_code}"
                assert r.json()["error"] == "method_not_allowed"


def test_unknown_endpoint_is_a_json_404(site):
    r = site.anonymous.get("no/such/thing")
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "message": "No such endpoint."}


@pytest.mark.parametrize(
    "pattern,expected",
    [
        (r"/spaces/(?P<slug>[^/]+)/pages", "/spaces/{slug}/pages"),
        (r"/pages/(?P<page_id>\d+)/apps", "/pages/{page_id}/apps"),
    ],
)
def test_openapi_path(pattern, expected):
    assert openapi_path(pattern) == expected
