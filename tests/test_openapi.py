"""The OpenAPI document matches what the service serves, and every operation is documented."""

from __future__ import annotations

import re

import pytest
from tornado.web import Application

from twinspace_kernel.i18n import LANGUAGES
from twinspace_kernel.service.app import HANDLER_MODULES, collect_handlers
from twinspace_kernel.service.base import MAX_PAGE, APIError, APIHandler, UploadHandler
from twinspace_kernel.service.meta import METHODS, openapi_path, served_operations
from twinspace_kernel.service.openapi import openapi_document


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


# --- the document is read from the handlers' own checks ---------------------------------

KINDS = ("a", "b")


class ThingsHandler(APIHandler):
    def get(self, box_id):
        """Things, pages of them."""
        rows, cursor = self.keyset(None, None)
        self.write_json({"items": [{"id": 1, "name": "x"} for _ in rows], "next": cursor})

    def post(self, box_id):
        """Make a thing."""
        body = self.json_body()
        name = self.field(body, "name", max_len=40)
        kind = self.field(body, "kind", choices=KINDS, default="a")
        if "size" in body:
            self.field(body, "size", int)
        if name == kind:
            raise APIError(409, "Taken.")
        self.write_json({"id": 1, "name": name, "ready": False}, 201)

    def delete(self, box_id):
        """Drop the box."""
        self.no_content()


class PictureHandler(UploadHandler):
    async def post(self):
        """Upload a picture."""
        self.write_json({"name": self.upload_filename(), "size": len(self.upload_bytes)}, 201)

    def get(self):
        """The picture."""
        self.set_header("Content-Type", "image/png")
        self.finish(b"")


def test_a_handlers_checks_become_its_description():
    doc = openapi_document(Application(), [(r"/boxes/(?P<box_id>\d+)/things", ThingsHandler),
                                           (r"/picture", PictureHandler)])
    things = doc["paths"]["/boxes/{box_id}/things"]
    box_id = things["post"]["parameters"][0]
    assert box_id == {"name": "box_id", "in": "path", "required": True,
                      "schema": {"type": "integer", "minimum": 0}}
    body = things["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["name"]  # `kind` has a default, `size` is read only if sent
    assert body["properties"]["name"] == {"type": "string", "maxLength": 40, "pattern": r"\S"}
    assert body["properties"]["kind"]["enum"] == ["a", "b"]
    assert body["properties"]["size"]["type"] == "integer"
    answers = things["post"]["responses"]
    created = answers["201"]["content"]["application/json"]["schema"]
    assert created["properties"] == {"id": {"type": "integer"}, "name": {},
                                     "ready": {"type": "boolean"}}
    assert answers["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    assert "200" not in answers and "400" in answers and "404" in answers
    assert list(things["delete"]["responses"])[0] == "204"
    limit = {p["name"]: p for p in things["get"]["parameters"]}["limit"]
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}
    picture = doc["paths"]["/picture"]
    assert set(picture["post"]["requestBody"]["content"]) == {"application/octet-stream"}
    assert picture["post"]["parameters"][0]["name"] == "filename"
    assert picture["post"]["parameters"][0]["required"] is True
    assert set(picture["get"]["responses"]["200"]["content"]) == {"image/png"}


def test_served_document_follows_the_handlers(document):
    locale = document["paths"]["/me"]["patch"]["requestBody"]["content"]["application/json"]
    assert locale["schema"]["properties"]["locale"]["enum"] == sorted(LANGUAGES)
    users = document["paths"]["/users"]["post"]
    assert users["requestBody"]["content"]["application/json"]["schema"]["required"] == ["name"]
    assert "201" in users["responses"] and "409" in users["responses"]
    upload = document["paths"]["/apps/{app_id}/documents"]["post"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    assert {p["name"] for p in upload["parameters"]} >= {"app_id", "filename", "folder"}
    ics = document["paths"]["/spaces/{slug}/calendar.ics"]["get"]["responses"]["200"]
    assert set(ics["content"]) == {"text/calendar"}
    events = document["paths"]["/spaces/{slug}/events"]["post"]["responses"]["201"]
    assert events["links"]["get_EventHandler"]["parameters"] == {
        "event_id": "$response.body#/id"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"]["default"]["content"]["application/json"], path
            if method in ("post", "put", "patch") and "requestBody" in operation:
                assert operation["requestBody"]["content"], f"{method} {path}"
