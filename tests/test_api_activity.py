"""Latest activities (F15): newest first, only what the reader may see, live updates."""

from __future__ import annotations

import threading
import time

import pytest
from utils import ROLES

# A private space: members read the feed; the public must log in.
VIEW = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
        "visitor": 200, "outsider": 403, "public": 401}
# A published space: the public reads it too (published pages only), and so does an
# account that is not a member (it reads as the public does).
VIEW_PUBLIC_SPACE = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
                     "visitor": 200, "outsider": 200, "public": 200}
# Who sees the creation of a Teachers' Room page.
SEES_TEACHERS_ROOM = {"teacher_admin": True, "teacher": True, "pupil_admin": False,
                      "pupil": False, "visitor": False}
# Who sees the creation of a Pupils' Corner page.
SEES_PUPILS_CORNER = {"teacher_admin": True, "teacher": True, "pupil_admin": True,
                      "pupil": True, "visitor": False}


def feed(world, role, **params) -> dict:
    return world.as_(role).ok("GET", f"spaces/{world.slug}/activity", params=params)


def summaries(world, role) -> list[str]:
    return [e["summary"] for e in feed(world, role, limit=100)["items"]]


@pytest.mark.parametrize("role", ROLES)
def test_view_private_space(world, role):
    r = world.as_(role).get(f"spaces/{world.slug}/activity", expect=VIEW[role])
    if r.status_code != 200:
        assert r.json()["message"]
        return
    items = r.json()["items"]
    assert items and items[-1]["verb"] == "space.create"
    assert set(items[0]) >= {"id", "verb", "section", "page_id", "object_type", "object_id",
                             "summary", "actor", "created_at"}
    ids = [e["id"] for e in items]
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize("role", ROLES)
def test_view_public_space(world, role):
    ta = world.as_("teacher_admin")
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    shown = world.add_page("activities", "Shown page")
    ta.ok("PATCH", f"pages/{shown}", json={"published": True})
    world.add_page("activities", "Draft page")
    r = world.as_(role).get(f"spaces/{world.slug}/activity", expect=VIEW_PUBLIC_SPACE[role])
    if r.status_code != 200:
        assert r.json()["message"]
        return
    texts = [e["summary"] for e in r.json()["items"]]
    assert "Shown page" in texts
    if role in ("public", "outsider"):
        # Only events of published pages; never the draft, never space-level events.
        assert "Draft page" not in texts
        assert all(e["page_id"] == shown for e in r.json()["items"])
    else:
        assert "Draft page" in texts


@pytest.mark.parametrize("role", ROLES[:5])
def test_teachers_room_hidden_from_others(world, role):
    world.add_page("teachers_room", "Staff plans")
    assert ("Staff plans" in summaries(world, role)) is SEES_TEACHERS_ROOM[role]


@pytest.mark.parametrize("role", ROLES[:5])
def test_pupils_corner_hidden_from_visitors(world, role):
    world.as_("pupil_admin").ok(
        "POST", f"spaces/{world.slug}/pages",
        json={"section": "pupils_corner", "title": "Our den"},
    )
    assert ("Our den" in summaries(world, role)) is SEES_PUPILS_CORNER[role]


def test_public_sees_no_pupil_names(world):
    ta = world.as_("teacher_admin")
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    page = world.add_page("activities", "Shared")
    ta.ok("PATCH", f"pages/{page}", json={"published": True})
    # A pupil administrator renames the published page: an event by a pupil.
    world.as_("pupil_admin").ok("PATCH", f"pages/{page}", json={"title": "Shared work"})
    public = feed(world, "public")["items"]
    by_pupil = [e for e in public if e["summary"] == "Shared work"]
    assert by_pupil and by_pupil[0]["actor"] == {
        "name": None, "display_name": "A pupil", "kind": "pupil"}
    member = feed(world, "visitor")["items"]
    named = [e for e in member if e["summary"] == "Shared work"][0]
    assert named["actor"]["name"] == world.as_("pupil_admin").name


def test_pagination_counts_only_visible(world):
    for i in range(4):
        world.add_page("teachers_room", f"staff {i}")
        world.add_page("activities", f"open {i}")
    first = feed(world, "visitor", limit=3)
    assert [e["summary"] for e in first["items"]] == ["open 3", "open 2", "open 1"]
    second = feed(world, "visitor", limit=3, before=first["next"])
    assert [e["summary"] for e in second["items"]][:1] == ["open 0"]
    assert len(second["items"]) == 3  # filled with older visible events, not short


def test_long_poll_wakes_on_new_event(world):
    pupil = world.as_("pupil")
    last = feed(world, "pupil")["last_id"]
    result = {}

    def poll():
        started = time.monotonic()
        result["body"] = pupil.ok("GET", f"spaces/{world.slug}/activity",
                                  params={"after": last, "wait": 10})
        result["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()
    # An event the pupil may not see does not end the wait...
    world.add_page("teachers_room", "Secret")
    time.sleep(0.5)
    assert thread.is_alive()
    # ...one they may see does.
    world.add_page("activities", "Visible")
    thread.join(15)
    assert not thread.is_alive()
    assert [e["summary"] for e in result["body"]["items"]] == ["Visible"]
    assert result["elapsed"] < 10
    assert result["body"]["last_id"] == result["body"]["items"][0]["id"]


def test_long_poll_times_out_empty(world):
    last = feed(world, "teacher")["last_id"]
    body = feed(world, "teacher", after=last, wait=0.3)
    assert body["items"] == [] and body["last_id"] == last
