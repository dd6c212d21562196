"""Calendar API (F13): events for every role, date checks, iCalendar export."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import icalendar
import pytest
from utils import ROLES

# The space is not published.
VIEW = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 200,
        "visitor": 200, "outsider": 403, "public": 401}
ADD = {"teacher_admin": 201, "teacher": 201, "pupil_admin": 201, "pupil": 403,
       "visitor": 403, "outsider": 403, "public": 401}
# Events made by the pupil administrator: the author and the Home moderators may change them.
EDIT = {"teacher_admin": 200, "teacher": 200, "pupil_admin": 200, "pupil": 403,
        "visitor": 403, "outsider": 403, "public": 401}
DELETE = {"teacher_admin": 204, "teacher": 204, "pupil_admin": 204, "pupil": 403,
          "visitor": 403, "outsider": 403, "public": 401}

HOLIDAY = {"kind": "holiday", "title": "Winter holidays", "starts_at": "2026-12-19",
           "ends_at": "2027-01-03", "description": "Schools closed in France"}
MEETING = {"kind": "meeting", "title": "Video call", "starts_at": "2026-12-03T14:00:00+01:00",
           "ends_at": "2026-12-03T15:30:00+01:00"}
DEADLINE = {"kind": "deadline", "title": "Posters due", "starts_at": "2026-11-30"}


@pytest.fixture(scope="module")
def shared(site):
    world = site.space()
    pa = world.as_("pupil_admin")
    ids = {
        "holiday": pa.ok("POST", f"spaces/{world.slug}/events", json=HOLIDAY)["id"],
        "meeting": pa.ok("POST", f"spaces/{world.slug}/events", json=MEETING)["id"],
        "deadline": pa.ok("POST", f"spaces/{world.slug}/events", json=DEADLINE)["id"],
    }
    return SimpleNamespace(world=world, ids=ids)


def refused(r):
    assert r.json()["message"], r.text


@pytest.mark.parametrize("role", ROLES)
def test_list_events(shared, role):
    r = shared.world.as_(role).get(f"spaces/{shared.world.slug}/events",
                                   params={"from": "2026-12-01", "to": "2026-12-31"},
                                   expect=VIEW[role])
    if r.status_code != 200:
        return refused(r)
    body = r.json()
    # Overlapping the range, ordered by start; the deadline of 30 Nov is outside.
    assert [e["title"] for e in body["items"]] == ["Video call", "Winter holidays"]
    meeting, holiday = body["items"]
    assert meeting["starts_at"] == "2026-12-03T13:00:00+00:00"
    assert meeting["ends_at"] == "2026-12-03T14:30:00+00:00"
    assert meeting["all_day"] is False
    assert holiday == {**holiday, "kind": "holiday", "all_day": True,
                       "starts_at": "2026-12-19", "ends_at": "2027-01-03",
                       "description": "Schools closed in France"}
    assert holiday["author"]["name"] == shared.world.as_("pupil_admin").name
    assert (body["from"], body["to"]) == ("2026-12-01", "2026-12-31")


@pytest.mark.parametrize("role", ROLES)
def test_add_event(shared, role):
    r = shared.world.as_(role).post(
        f"spaces/{shared.world.slug}/events",
        json={"kind": "unavailability", "title": f"Away ({role})", "starts_at": "2027-02-01",
              "ends_at": "2027-02-05"},
        expect=ADD[role],
    )
    if r.status_code != 201:
        return refused(r)
    body = r.json()
    assert body["kind"] == "unavailability" and body["all_day"] is True
    assert (body["starts_at"], body["ends_at"]) == ("2027-02-01", "2027-02-05")
    assert body["author"]["name"] == shared.world.as_(role).name


@pytest.mark.parametrize("role", ROLES)
def test_get_event(shared, role):
    r = shared.world.as_(role).get(f"events/{shared.ids['meeting']}", expect=VIEW[role])
    if r.status_code != 200:
        return refused(r)
    assert r.json()["title"] == "Video call"


@pytest.mark.parametrize("role", ROLES)
def test_patch_event(shared, role):
    pa = shared.world.as_("pupil_admin")
    event = pa.ok("POST", f"spaces/{shared.world.slug}/events", json=DEADLINE)
    r = shared.world.as_(role).patch(f"events/{event['id']}",
                                     json={"title": "Posters due (moved)",
                                           "starts_at": "2026-12-07"},
                                     expect=EDIT[role])
    after = pa.ok("GET", f"events/{event['id']}")
    if r.status_code != 200:
        refused(r)
        assert after["title"] == "Posters due"
        return
    assert after["title"] == "Posters due (moved)"
    assert (after["starts_at"], after["ends_at"]) == ("2026-12-07", "2026-12-07")


@pytest.mark.parametrize("role", ROLES)
def test_delete_event(shared, role):
    pa = shared.world.as_("pupil_admin")
    event = pa.ok("POST", f"spaces/{shared.world.slug}/events", json=DEADLINE)
    r = shared.world.as_(role).delete(f"events/{event['id']}", expect=DELETE[role])
    still = pa.get(f"events/{event['id']}")
    if r.status_code != 204:
        refused(r)
        assert still.status_code == 200
        return
    assert still.status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_ics_export(shared, role):
    r = shared.world.as_(role).get(f"spaces/{shared.world.slug}/calendar.ics",
                                   expect=VIEW[role])
    if r.status_code != 200:
        return refused(r)
    assert r.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="{shared.world.slug}.ics"'
    )
    cal = icalendar.Calendar.from_ical(r.content)
    assert "TwinSpace" in str(cal["PRODID"])
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    holiday = events[f"event-{shared.ids['holiday']}@twinspace"]
    assert str(holiday["SUMMARY"]) == "Winter holidays"
    assert str(holiday["DESCRIPTION"]) == "Schools closed in France"
    assert [str(c) for c in holiday["CATEGORIES"].cats] == ["holiday"]
    # All-day: DATE values, DTEND the day after the last day.
    assert holiday["DTSTART"].dt == dt.date(2026, 12, 19)
    assert holiday["DTEND"].dt == dt.date(2027, 1, 4)
    assert holiday["DTSTAMP"].dt.tzinfo is not None
    meeting = events[f"event-{shared.ids['meeting']}@twinspace"]
    assert meeting["DTSTART"].dt == dt.datetime(2026, 12, 3, 13, 0, tzinfo=dt.UTC)
    assert meeting["DTEND"].dt == dt.datetime(2026, 12, 3, 14, 30, tzinfo=dt.UTC)
    assert [str(c) for c in meeting["CATEGORIES"].cats] == ["meeting"]
    deadline = events[f"event-{shared.ids['deadline']}@twinspace"]
    assert deadline["DTSTART"].dt == dt.date(2026, 11, 30)
    assert deadline["DTEND"].dt == dt.date(2026, 12, 1)


def test_published_space_public_reads(world):
    ta = world.as_("teacher_admin")
    event = ta.ok("POST", f"spaces/{world.slug}/events", json=HOLIDAY)
    public = world.as_("public")
    public.get(f"spaces/{world.slug}/calendar.ics", expect=401)
    ta.ok("PATCH", f"spaces/{world.slug}", json={"public": True})
    r = public.get(f"spaces/{world.slug}/calendar.ics", expect=200)
    cal = icalendar.Calendar.from_ical(r.content)
    assert [str(e["SUMMARY"]) for e in cal.walk("VEVENT")] == ["Winter holidays"]
    items = public.ok("GET", f"spaces/{world.slug}/events?from=2026-12-01&to=2026-12-31")
    assert [e["id"] for e in items["items"]] == [event["id"]]
    public.ok("GET", f"events/{event['id']}")
    public.post(f"spaces/{world.slug}/events", json=DEADLINE, expect=401)
    public.patch(f"events/{event['id']}", json={"title": "x"}, expect=401)
    public.delete(f"events/{event['id']}", expect=401)


def test_default_range_is_this_month_plus_minus_one(world):
    ta = world.as_("teacher_admin")
    today = dt.datetime.now(dt.UTC).date()
    near = ta.ok("POST", f"spaces/{world.slug}/events",
                 json={"kind": "other", "title": "Today", "starts_at": today.isoformat()})
    ta.ok("POST", f"spaces/{world.slug}/events",
          json={"kind": "other", "title": "Far", "starts_at": (today.replace(day=1)
                + dt.timedelta(days=120)).isoformat()})
    body = ta.ok("GET", f"spaces/{world.slug}/events")
    assert [e["title"] for e in body["items"]] == ["Today"]
    assert body["items"][0]["id"] == near["id"]
    assert body["from"] < today.isoformat() < body["to"]


def test_bad_dates(world):
    ta = world.as_("teacher_admin")
    events = f"spaces/{world.slug}/events"
    for params in ({"from": "2026-13-01"}, {"from": "yesterday"}, {"to": "2026-02-30"},
                   {"from": "2026-12-31", "to": "2026-12-01"},
                   {"from": "2026-01-01", "to": "2027-06-01"}):
        r = ta.get(events, params=params, expect=400)
        assert r.json()["message"]
    assert "after" in ta.get(events, params={"from": "2026-12-31", "to": "2026-12-01"},
                             expect=400).json()["message"]
    assert "400 days" in ta.get(events, params={"from": "2026-01-01", "to": "2027-06-01"},
                                expect=400).json()["message"]
    bad_bodies = [
        {**DEADLINE, "starts_at": "tomorrow"},
        {**DEADLINE, "starts_at": "2026-02-30"},
        {**MEETING, "starts_at": "2026-12-03T14:00:00"},  # no offset
        {**MEETING, "ends_at": "2026-12-03T13:00:00+01:00"},  # ends before it starts
        {**HOLIDAY, "ends_at": "2026-12-01"},
        {**DEADLINE, "kind": "party"},
        {**DEADLINE, "title": ""},
        {"kind": "deadline", "title": "No date"},
        {**DEADLINE, "all_day": "yes"},
    ]
    for body in bad_bodies:
        r = ta.post(events, json=body, expect=400)
        assert r.json()["message"]
    assert "offset" in ta.post(events, json=bad_bodies[2], expect=400).json()["message"]
    ok = ta.ok("POST", events, json=DEADLINE)
    ta.patch(f"events/{ok['id']}", json={"ends_at": "2026-11-01"}, expect=400)
    ta.patch(f"events/{ok['id']}", json={"kind": "nope"}, expect=400)
    ta.get("events/999999", expect=404)
    ta.get("spaces/no-such-space/events", expect=404)
    assert ta.ok("GET", f"events/{ok['id']}")["ends_at"] == "2026-11-30"


def test_utc_offsets_and_timed_to_all_day(world):
    ta = world.as_("teacher_admin")
    events = f"spaces/{world.slug}/events"
    ev = ta.ok("POST", events, json={"kind": "meeting", "title": "Z",
                                     "starts_at": "2026-12-03T09:00:00Z"})
    assert ev["all_day"] is False
    assert ev["starts_at"] == ev["ends_at"] == "2026-12-03T09:00:00+00:00"
    moved = ta.ok("PATCH", f"events/{ev['id']}", json={"all_day": True})
    assert (moved["starts_at"], moved["ends_at"], moved["all_day"]) == (
        "2026-12-03", "2026-12-03", True)
    # An event that ends on the first day of the range is in it; one ending before is not.
    ta.ok("POST", events, json={"kind": "other", "title": "Before",
                                "starts_at": "2026-11-20", "ends_at": "2026-11-30"})
    ta.ok("POST", events, json={"kind": "other", "title": "Spans",
                                "starts_at": "2026-11-20", "ends_at": "2026-12-01"})
    listed = ta.ok("GET", events, params={"from": "2026-12-01", "to": "2026-12-31"})["items"]
    assert [e["title"] for e in listed] == ["Spans", "Z"]


def test_changes_are_in_latest_activities(world):
    pa = world.as_("pupil_admin")
    event = pa.ok("POST", f"spaces/{world.slug}/events", json=DEADLINE)
    pa.ok("PATCH", f"events/{event['id']}", json={"title": "Posters due soon"})
    pa.delete(f"events/{event['id']}", expect=204)
    feed = world.as_("visitor").ok("GET", f"spaces/{world.slug}/activity")["items"]
    verbs = [(i["verb"], i["object_id"]) for i in feed if i["verb"].startswith("event.")]
    assert verbs == [("event.delete", event["id"]), ("event.update", event["id"]),
                     ("event.add", event["id"])]
