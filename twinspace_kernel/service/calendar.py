"""The space calendar (F13): deadlines, unavailability, holidays, meetings; iCalendar export."""

from __future__ import annotations

import datetime as dt
import re

import icalendar
from sqlalchemy import select

from ..store import models as m
from .base import APIError, APIHandler, as_utc, utcnow

EVENT_KINDS = ("deadline", "unavailability", "holiday", "meeting", "other")
MAX_RANGE_DAYS = 400
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PRODID = "-//TwinSpace on Jupyter//Calendar//EN"


def parse_when(value, name: str) -> tuple[dt.datetime, bool]:
    """(UTC datetime, is_date) from "YYYY-MM-DD" or an ISO datetime with an offset."""
    if not isinstance(value, str) or not value.strip():
        raise APIError(400, f"'{name}' must be a date (2026-12-01) or a date and time "
                            "with an offset (2026-12-01T14:00:00+01:00).")
    value = value.strip()
    if DATE_RE.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise APIError(400, f"'{name}' is not a real date: {value}.") from None
        return dt.datetime.combine(day, dt.time(), dt.UTC), True
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise APIError(400, f"'{name}' is not a date (2026-12-01) or a date and time "
                            f"with an offset (2026-12-01T14:00:00+01:00): {value}.") from None
    if when.tzinfo is None:
        raise APIError(400, f"'{name}' needs a time zone offset, e.g. {value}+01:00 or {value}Z.")
    return when.astimezone(dt.UTC), False


def parse_day(raw: str, name: str) -> dt.date:
    try:
        if not DATE_RE.match(raw):
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise APIError(400, f"'{name}' must be a date written YYYY-MM-DD, not {raw!r}.") from None


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def month_start(day: dt.date, shift: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + shift
    return dt.date(index // 12, index % 12 + 1, 1)


class EventBase(APIHandler):
    def event_context(self, event_id):
        event = self.load(m.Event, event_id, "event")
        return event, self.db.get(m.Space, event.space_id)

    def home_page(self, space: m.Space) -> m.Page | None:
        """The Home page holding the calendar (so Latest activities can place the event)."""
        return self.db.scalar(
            select(m.Page).where(m.Page.space_id == space.id, m.Page.section == "home")
            .order_by(m.Page.position, m.Page.id).limit(1)
        )

    def require_calendar(self, space: m.Space) -> None:
        """Readers of the calendar: the members who may view Home, and the public only
        where a page the public may read shows it (the pages' publishing rule)."""
        public = self.role_in(space) == "public"
        self.require(space, "view", "home", published=public and self.calendar_published(space))

    def calendar_published(self, space: m.Space) -> bool:
        pages = self.db.scalars(
            select(m.Page).join(m.AppInstance, m.AppInstance.page_id == m.Page.id)
            .where(m.Page.space_id == space.id, m.AppInstance.kind == "calendar")
        )
        return any(self.page_published(page, space) for page in pages)

    def event_json(self, event: m.Event) -> dict:
        starts, ends = as_utc(event.starts_at), as_utc(event.ends_at)
        return {
            "id": event.id,
            "kind": event.kind,
            "title": event.title,
            "description": event.description,
            "all_day": event.all_day,
            # All-day events carry dates; ends_at is the last day (inclusive).
            "starts_at": starts.date() if event.all_day else starts,
            "ends_at": ends.date() if event.all_day else ends,
            "author": self.author(event.author_id),
            "created_at": event.created_at,
        }

    def apply(self, event: m.Event, body: dict, *, creating: bool) -> None:
        """Check and copy the fields of `body` onto `event` (all of them when creating)."""
        if creating or "kind" in body:
            event.kind = self.field(body, "kind", choices=EVENT_KINDS)
        if creating or "title" in body:
            event.title = self.field(body, "title", max_len=200)
        if creating or "description" in body:
            event.description = self.field(body, "description", default="", max_len=5000,
                                           allow_empty=True)
        times = {"starts_at", "ends_at", "all_day"} & body.keys()
        if not (creating or times):
            return
        if "starts_at" in body or creating:
            starts, starts_is_date = parse_when(body.get("starts_at"), "starts_at")
        else:
            starts, starts_is_date = as_utc(event.starts_at), event.all_day
        if body.get("ends_at") is not None:
            ends, _ = parse_when(body["ends_at"], "ends_at")
        elif "starts_at" in body or creating:
            ends = starts
        else:
            ends = as_utc(event.ends_at)
        default_all_day = starts_is_date if ("starts_at" in body or creating) else event.all_day
        all_day = self.field(body, "all_day", bool, default=default_all_day)
        if all_day:
            starts, ends = midnight(starts.date()), midnight(ends.date())
        if ends < starts:
            raise APIError(400, "An event cannot end before it starts ('ends_at' < 'starts_at').")
        event.starts_at, event.ends_at, event.all_day = starts, ends, all_day


class EventsHandler(EventBase):
    def get(self, slug):
        """Events overlapping `?from=YYYY-MM-DD&to=YYYY-MM-DD` (default: this month ± 1)."""
        space = self.load_space(slug)
        self.require_calendar(space)
        today = utcnow().date()
        raw_from, raw_to = self.get_argument("from", ""), self.get_argument("to", "")
        first = parse_day(raw_from, "from") if raw_from else month_start(today, -1)
        last = (
            parse_day(raw_to, "to") if raw_to else month_start(today, 2) - dt.timedelta(days=1)
        )
        if first > last:
            raise APIError(400, "'from' must not be after 'to'.")
        if (last - first).days > MAX_RANGE_DAYS:
            raise APIError(400, f"Ask for at most {MAX_RANGE_DAYS} days at a time.")
        start, end = midnight(first), midnight(last + dt.timedelta(days=1))
        events = self.db.scalars(
            select(m.Event)
            .where(m.Event.space_id == space.id, m.Event.starts_at < end,
                   m.Event.ends_at >= start)
            .order_by(m.Event.starts_at, m.Event.id)
        )
        self.write_json({
            "items": [self.event_json(e) for e in events],
            "next": None,
            "from": first,
            "to": last,
        })

    def post(self, slug):
        """Add an event (kind, title, description, starts_at, ends_at, all_day)."""
        space = self.load_space(slug)
        self.require(space, "add_event", "home")
        event = m.Event(space_id=space.id, author_id=self.me.id)
        self.apply(event, self.json_body(), creating=True)
        self.db.add(event)
        self.db.flush()
        self.record(space, "event.add", "home", page=self.home_page(space), obj=event,
                    summary=event.title)
        self.commit(f"space:{space.id}")
        self.write_json(self.event_json(event), 201)


class EventHandler(EventBase):
    def get(self, event_id):
        """One event."""
        event, space = self.event_context(event_id)
        self.require_calendar(space)
        self.write_json(self.event_json(event))

    def patch(self, event_id):
        """Change an event (its author, or a moderator of Home)."""
        event, space = self.event_context(event_id)
        self.require_edit(space, "home", event.author_id)
        self.apply(event, self.json_body(), creating=False)
        self.record(space, "event.update", "home", page=self.home_page(space), obj=event,
                    summary=event.title)
        self.commit(f"space:{space.id}")
        self.write_json(self.event_json(event))

    def delete(self, event_id):
        """Delete an event (its author, or a moderator of Home)."""
        event, space = self.event_context(event_id)
        self.require_edit(space, "home", event.author_id)
        self.record(space, "event.delete", "home", page=self.home_page(space), obj=event,
                    summary=event.title)
        self.db.delete(event)
        self.db.flush()
        self.moderated_delete(space, event, event.author_id)
        self.commit(f"space:{space.id}")
        self.no_content()


class CalendarExportHandler(EventBase):
    browser_link = True

    def get(self, slug):
        """The space's calendar as an iCalendar file (for any calendar program)."""
        space = self.load_space(slug)
        self.require_calendar(space)
        cal = icalendar.Calendar()
        cal.add("prodid", PRODID)
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("x-wr-calname", space.title)
        now = utcnow()
        for event in self.db.scalars(
            select(m.Event).where(m.Event.space_id == space.id)
            .order_by(m.Event.starts_at, m.Event.id)
        ):
            cal.add_component(ics_event(event, now))
        self.set_header("Content-Type", "text/calendar; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{space.slug}.ics"')
        self.set_header("Cache-Control", "no-store")
        self.finish(cal.to_ical())


def ics_event(event: m.Event, stamp: dt.datetime) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", f"event-{event.id}@twinspace")
    vevent.add("dtstamp", stamp)
    vevent.add("created", as_utc(event.created_at))
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("categories", [event.kind])
    starts, ends = as_utc(event.starts_at), as_utc(event.ends_at)
    if event.all_day:
        # iCalendar's DTEND of an all-day event is the day after the last one.
        vevent.add("dtstart", starts.date())
        vevent.add("dtend", ends.date() + dt.timedelta(days=1))
    else:
        vevent.add("dtstart", starts)
        vevent.add("dtend", ends)
    return vevent


default_handlers = [
    (r"/spaces/(?P<slug>[^/]+)/events", EventsHandler),
    (r"/spaces/(?P<slug>[^/]+)/calendar\.ics", CalendarExportHandler),
    (r"/events/(?P<event_id>[^/]+)", EventHandler),
]
