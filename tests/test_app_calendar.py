"""The calendar app (Home page) driven through its widgets against the real service."""

from __future__ import annotations

import datetime as dt
import re

import requests

from twinspace_kernel.apps import show
from twinspace_kernel.apps.calendar import KIND_COLOURS, Calendar

TODAY = dt.date.today()
MID = TODAY.replace(day=15)


def events(world) -> list[dict]:
    month = TODAY.replace(day=1)
    return world.as_("teacher_admin").ok(
        "GET", f"spaces/{world.slug}/events",
        params={"from": (month - dt.timedelta(days=40)).isoformat(),
                "to": (month + dt.timedelta(days=70)).isoformat()},
    )["items"]


def chips(app: Calendar, day: dt.date) -> list[str]:
    # A day without events is only its number (an HTML widget, no children).
    return [w.description for w in getattr(app.day_cells[day], "children", ())[1:]]


def fill(app: Calendar, title: str, start: dt.date, end: dt.date | None = None,
         kind: str = "meeting") -> None:
    app.kind_field.value = kind
    app.title_field.value = title
    app.description_field.value = "Bring <your> questions"
    app.start_field.value = start
    app.end_field.value = end


def test_administrator_adds_edits_and_deletes_events(world):
    app = show(world.app_id("calendar", "home"), client=world.client("pupil_admin"))
    assert isinstance(app, Calendar)
    assert app.form in app.body.children
    assert app.tabs.titles == ("Month", "List")
    assert "<b>Mon</b>" in app.grid.children[0].value  # the weekday names' row
    assert len(app.day_cells) % 7 == 0  # whole weeks
    assert "twinspace-today" in app.day_cells[TODAY]._dom_classes
    assert "today" in app.day_cells[TODAY].children[0].value

    fill(app, "Video call", MID)
    app.save_button.click()
    assert "Event Video call added" in app.banner.value
    [event] = events(world)
    assert (event["kind"], event["starts_at"], event["all_day"]) == ("meeting", MID.isoformat(),
                                                                     True)
    assert chips(app, MID) == ["Video call"]
    chip = app.day_cells[MID].children[1]
    assert chip.style.button_color == KIND_COLOURS["meeting"][0]
    # The List tab is filled when the member opens it.
    assert app.list_view.children == ()
    app.tabs.selected_index = 1
    assert "Video call" in app.list_view.children[0].children[0].value
    app.tabs.selected_index = 0

    # A holiday over three days shows on each of them, in its own colour.
    fill(app, "Spring break", MID + dt.timedelta(days=1), MID + dt.timedelta(days=3),
         kind="holiday")
    app.save_button.click()
    for offset in (1, 2, 3):
        assert chips(app, MID + dt.timedelta(days=offset)) == ["Spring break"]
    assert app.day_cells[MID + dt.timedelta(days=2)].children[1].style.button_color == (
        KIND_COLOURS["holiday"][0])

    # Next and previous month.
    label = app.month_label.value
    app.next_button.click()
    assert app.month_label.value != label
    assert MID not in app.day_cells or chips(app, MID) == []
    assert all("Video call" not in chips(app, d) for d in app.day_cells)
    app.prev_button.click()
    app.prev_button.click()
    assert all("Video call" not in chips(app, d) for d in app.day_cells)
    app.today_button.click()
    assert app.month_label.value == label
    assert chips(app, MID) == ["Video call"]

    # Edit own event: click it, change it, save.
    app.day_cells[MID].children[1].click()
    assert "Bring &lt;your&gt; questions" in app.details.value
    assert app.editing is not None and app.title_field.value == "Video call"
    assert app.delete_button.layout.display == ""
    app.title_field.value = "Video call with Lyon"
    app.save_button.click()
    assert "Event Video call with Lyon saved" in app.banner.value
    assert chips(app, MID) == ["Video call with Lyon"]
    assert {e["title"] for e in events(world)} == {"Video call with Lyon", "Spring break"}

    # Bad dates: the service explains.
    fill(app, "Backwards", MID, MID - dt.timedelta(days=2))
    app.save_button.click()
    assert "An event cannot end before it starts" in app.banner.value
    fill(app, "Late", MID)
    app.all_day_field.value = False
    assert app.times_box.layout.display == ""
    app.start_time_field.value = "25:99"
    app.save_button.click()
    assert "&#x27;starts_at&#x27; is not a date" in app.banner.value
    app.start_time_field.value, app.end_time_field.value = "14:00", "15:30"
    app.save_button.click()
    assert "Event Late added" in app.banner.value
    late = next(e for e in events(world) if e["title"] == "Late")
    assert late["all_day"] is False
    assert "Late" in chips(app, MID)

    # Delete.
    app.day_cells[MID].children[1].click()
    app.delete_button.click()
    assert "deleted" in app.banner.value
    assert {e["title"] for e in events(world)} == {"Spring break", "Late"}

    # The iCalendar link goes through the hub's proxy; the browser's login opens it.
    [href] = re.findall(r'href="([^"]+)"', app.ics_link.value)
    assert href == f"/services/twinspace/api/v1/spaces/{world.slug}/calendar.ics"
    base = world.site.api_base.split("/services/")[0]
    r = requests.get(base + href, timeout=10,
                     headers={"Authorization": f"token {world.as_('pupil').token}"})
    assert r.status_code == 200 and b"SUMMARY:Spring break" in r.content


def test_pupil_sees_events_but_has_no_form(world):
    admin = Calendar(world.app_id("calendar", "home"), client=world.client("pupil_admin"))
    fill(admin, "Deadline for posters", MID, kind="deadline")
    admin.save_button.click()
    pupil = Calendar(world.app_id("calendar", "home"), client=world.client("pupil"))
    assert pupil.form not in pupil.body.children
    assert chips(pupil, MID) == ["Deadline for posters"]
    # Someone else's event opens read-only.
    pupil.day_cells[MID].children[1].click()
    assert "Deadline for posters" in pupil.details.value
    assert pupil.editing is None and pupil.form not in pupil.body.children
    # Forcing the hidden form: the service refuses with its message.
    fill(pupil, "Party", MID)
    pupil.save_button.click()
    assert "A pupil may not add calendar events in the home section." in pupil.banner.value
    assert [e["title"] for e in events(world)] == ["Deadline for posters"]


def test_moderator_edits_others_events(world):
    admin = Calendar(world.app_id("calendar", "home"), client=world.client("pupil_admin"))
    fill(admin, "Poster deadline", MID, kind="deadline")
    admin.save_button.click()
    teacher = Calendar(world.app_id("calendar", "home"), client=world.client("teacher"))
    teacher.day_cells[MID].children[1].click()
    assert teacher.editing is not None
    teacher.kind_field.value = "other"
    teacher.save_button.click()
    assert [e["kind"] for e in events(world)] == ["other"]
    assert teacher.day_cells[MID].children[1].style.button_color == KIND_COLOURS["other"][0]
