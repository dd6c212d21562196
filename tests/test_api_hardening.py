"""Bad input answers a clear 4xx, never a 500; every answer carries the safety headers.

Against the session's real hub and service (tests/conftest.py), through the node proxy.
"""

from __future__ import annotations

import pytest
import requests

TOO_BIG = str(2**63)  # far beyond the largest id a database column stores (2**31 - 1)


def assert_json_error(r, status: int) -> dict:
    assert r.status_code == status, r.text[:300]
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def test_ids_beyond_the_database_are_not_found(world):
    ta = world.as_("teacher_admin")
    app = world.new_app("documents")
    for path in (f"wall-posts/{TOO_BIG}", f"reports/{TOO_BIG}/dismiss", f"apps/{TOO_BIG}",
                 f"apps/{TOO_BIG}0/documents"):
        assert_json_error(ta.get(path), 404)
    # An upload route answers the same way, its body read (not a proxy's HTML 503).
    r = ta.post(f"apps/{TOO_BIG}/documents", params={"filename": "a.txt"}, data=b"x" * 4096)
    assert_json_error(r, 404)
    body = assert_json_error(ta.get(f"apps/{app}/documents", params={"before": TOO_BIG}), 400)
    assert "before" in body["message"]


def test_out_of_range_numbers_in_bodies_are_refused(world):
    ta = world.as_("teacher_admin")
    forum = world.new_app("forum")
    thread = ta.ok("POST", f"apps/{forum}/threads", json={"title": "T", "body": "first"})
    r = ta.post(f"threads/{thread['id']}/replies", json={"body": "hi", "quote_id": 2**63})
    assert "quote_id" in assert_json_error(r, 400)["message"]


def test_deeply_nested_json_is_refused(world):
    me = world.as_("pupil")
    deep = "[" * 100_000 + "]" * 100_000
    r = me.put("me/profile", data='{"about": ' + deep + "}",
               headers={"Content-Type": "application/json"})
    assert "nested" in assert_json_error(r, 400)["message"]


@pytest.mark.parametrize("path,field", [("me/profile", "about"), ("me/profile", "interests")])
def test_lone_surrogates_are_refused_and_nothing_changes(world, path, field):
    me = world.as_("pupil")
    me.ok("PUT", path, json={field: "kept"})
    r = me.put(path, data='{"' + field + '": "a\\ud800b"}',
               headers={"Content-Type": "application/json"})
    assert "Unicode" in assert_json_error(r, 400)["message"]
    assert me.ok("GET", path)[field] == "kept"


def test_every_answer_has_the_safety_headers(world, site):
    ta = world.as_("teacher_admin")
    answers = [
        ta.get("me"),                                       # JSON
        ta.get("spaces/no-such-space"),                     # a JSON error
        requests.get(site.hub.service_url("api/v1/nothing-here"), timeout=30),  # 404
        ta.get(f"spaces/{world.slug}/calendar.ics"),        # .ics
    ]
    for r in answers:
        assert r.headers["X-Content-Type-Options"] == "nosniff", r.url
        assert r.headers["Content-Security-Policy"] == "sandbox; default-src 'none'", r.url


def test_ids_of_other_digits_are_not_found(world):
    """`\\d` in a route also matches '²' (which int() refuses): a 404, not a 500."""
    ta = world.as_("teacher_admin")
    for path in ("wiki/%C2%B2", "rooms/%C2%B2", "apps/%C2%B2"):
        assert_json_error(ta.get(path), 404)
    assert_json_error(ta.delete("wiki/%C2%B2"), 404)


def test_a_405_names_the_allowed_methods(world):
    r = world.as_("teacher_admin").request("TRACE", "me")
    assert_json_error(r, 405)
    assert r.headers["Allow"] == "GET, PATCH, DELETE"


def test_ids_beyond_an_integer_column_are_not_found(world):
    """Columns are INTEGER: on PostgreSQL a larger id in a query was a 500."""
    ta = world.as_("teacher_admin")
    forum = world.new_app("forum")
    thread = ta.ok("POST", f"apps/{forum}/threads", json={"title": "T", "body": "first"})
    for path in (f"wall-posts/{2**31}", f"folders/{2**40}", f"threads/{2**31}"):
        assert_json_error(ta.get(path), 404)
    assert_json_error(ta.delete(f"photos/{2**40}"), 404)
    for params in ({"before": 2**63 - 1}, {"after": 2**31}):
        body = assert_json_error(ta.get(f"threads/{thread['id']}", params=params), 400)
        assert "must be between" in body["message"]
    r = ta.post(f"threads/{thread['id']}/replies", json={"body": "hi", "quote_id": 2**31})
    assert "quote_id" in assert_json_error(r, 400)["message"]
    wiki = ta.ok("POST", f"apps/{world.new_app('wiki')}/wiki", json={"title": "W", "text": "x"})
    r = ta.get(f"wiki/{wiki['id']}/revisions", params={"before": 2**31})
    assert "before" in assert_json_error(r, 400)["message"]
