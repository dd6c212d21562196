"""Space calendar (F13): a month grid and a list, events added and edited, iCalendar download."""

from __future__ import annotations

import calendar as stdcal
import datetime as dt
from collections.abc import Iterable
from typing import Any

import ipywidgets as widgets

from ..i18n import _
from .base import TwinSpaceApp, action, escape, on_demand
from .uploading import author_name, browser_url

KINDS = ("deadline", "unavailability", "holiday", "meeting", "other")
# (background, text): dark text on light backgrounds, contrast above 7:1.
KIND_COLOURS = {
    "deadline": ("#fde2e1", "#7a1212"),
    "unavailability": ("#e4e4e4", "#262626"),
    "holiday": ("#dff3e4", "#0d5223"),
    "meeting": ("#e3ecfd", "#0b3d91"),
    "other": ("#fff1c9", "#4d3900"),
}
TODAY_STYLE = "background:#fff8c4;color:#222"
GRID_COLUMNS = "repeat(7, minmax(5em, 1fr))"
GRID_GAP = "2px"
# A day without events drawn inside a week's HTML: what a day's own widget looks like (its
# padding, plus the margin its label would have, and its border).
# A row spans the month's grid (the browser's widgets ignore a Layout's grid_column), its
# content as wide as the row.
ROW_STYLE = ("<style>.twinspace-calendar .ts-calendar-row{grid-column:1 / -1}"
             ".twinspace-calendar .ts-calendar-row .widget-html-content{flex:1 1 auto}</style>")
QUIET_DAY_STYLE = "min-height:5em;padding:4px;border:1px solid #cfcfcf;box-sizing:border-box"


def kind_label(kind: str) -> str:
    return {
        "deadline": _("Deadline"),
        "unavailability": _("Unavailability"),
        "holiday": _("Holiday"),
        "meeting": _("Meeting"),
        "other": _("Other"),
    }.get(kind, kind)


def month_name(month: int) -> str:
    return (
        _("January"), _("February"), _("March"), _("April"), _("May"), _("June"), _("July"),
        _("August"), _("September"), _("October"), _("November"), _("December"),
    )[month - 1]


def weekday_names() -> tuple[str, ...]:
    return (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))


def shift_month(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def local_zone() -> dt.tzinfo:
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


def event_span(event: dict) -> tuple[dt.date, dt.date]:
    """The first and last day (kernel's local time) an event covers."""
    if event["all_day"]:
        return dt.date.fromisoformat(event["starts_at"]), dt.date.fromisoformat(event["ends_at"])
    zone = local_zone()
    starts = dt.datetime.fromisoformat(event["starts_at"]).astimezone(zone)
    ends = dt.datetime.fromisoformat(event["ends_at"]).astimezone(zone)
    return starts.date(), ends.date()


def event_when(event: dict) -> str:
    """ "2026-05-04" / "2026-05-04 – 2026-05-08" / "2026-05-04 14:00 – 15:30" """
    if event["all_day"]:
        first, last = event_span(event)
        return str(first) if first == last else f"{first} – {last}"
    zone = local_zone()
    starts = dt.datetime.fromisoformat(event["starts_at"]).astimezone(zone)
    ends = dt.datetime.fromisoformat(event["ends_at"]).astimezone(zone)
    end_text = ends.strftime("%H:%M") if ends.date() == starts.date() else (
        ends.strftime("%Y-%m-%d %H:%M"))
    return f"{starts:%Y-%m-%d %H:%M} – {end_text}"


class Calendar(TwinSpaceApp):
    """The space's calendar on its Home page (the space comes from the app: `self.space`)."""

    kind = "calendar"

    def __init__(self, app_id: int | None = None, *, today: dt.date | None = None,
                 **kwargs: Any) -> None:
        self.today = today or dt.date.today()
        self.month = self.today.replace(day=1)
        self.events: list[dict] = []
        self.me: str | None = None
        self.editing: dict | None = None
        # The widget showing each day: its VBox (its number, then its events), only its
        # number (an HTML), or its whole week's HTML (a week without events).
        self.day_cells: dict[dt.date, widgets.Widget] = {}
        # Navigation
        self.prev_button = widgets.Button(description=_("Previous"), icon="chevron-left",
                                          tooltip=_("Previous month"))
        self.prev_button.on_click(self.previous_month)
        self.next_button = widgets.Button(description=_("Next"), icon="chevron-right",
                                          tooltip=_("Next month"))
        self.next_button.on_click(self.next_month)
        self.today_button = widgets.Button(description=_("Today"), icon="calendar",
                                           tooltip=_("Back to this month"))
        self.today_button.on_click(self.this_month)
        self.month_label = widgets.HTML()
        self.ics_link = widgets.HTML()
        self.nav = widgets.HBox([self.prev_button, self.month_label, self.next_button,
                                 self.today_button, self.ics_link],
                                layout=widgets.Layout(align_items="center"))
        # Views
        self.grid = widgets.GridBox(layout=widgets.Layout(
            grid_template_columns=GRID_COLUMNS, grid_gap=GRID_GAP))
        self.list_view = widgets.VBox()
        self.tabs = widgets.Tab(children=[self.grid, self.list_view])
        self.tabs.titles = (_("Month"), _("List"))
        # The List tab is filled when it is opened (its rows are models too).
        self.list_current = False
        self.tabs.observe(self._tab_opened, names="selected_index")
        self.details = widgets.HTML()
        super().__init__(app_id, **kwargs)

    # The form to add or edit an event, for those who may (and for an event being
    # edited): made when first shown.
    form_title = on_demand("build_form")
    kind_field = on_demand("build_form")
    title_field = on_demand("build_form")
    description_field = on_demand("build_form")
    start_field = on_demand("build_form")
    end_field = on_demand("build_form")
    all_day_field = on_demand("build_form")
    start_time_field = on_demand("build_form")
    end_time_field = on_demand("build_form")
    times_box = on_demand("build_form")
    save_button = on_demand("build_form")
    cancel_button = on_demand("build_form")
    delete_button = on_demand("build_form")
    form = on_demand("build_form")

    def build_form(self) -> None:
        self.form_title = widgets.HTML()
        self.kind_field = widgets.Dropdown(
            options=[(kind_label(k), k) for k in KINDS], value="deadline",
            description=_("Kind"))
        self.title_field = widgets.Text(description=_("Title"),
                                        placeholder=_("What happens?"))
        self.description_field = widgets.Textarea(description=_("Details"),
                                                  placeholder=_("Description (optional)"))
        self.start_field = widgets.DatePicker(description=_("Starts"))
        self.end_field = widgets.DatePicker(description=_("Ends"))
        self.all_day_field = widgets.Checkbox(value=True, description=_("All day"))
        self.start_time_field = widgets.Text(description=_("From"), placeholder="14:00")
        self.end_time_field = widgets.Text(description=_("Until"), placeholder="15:30")
        self.times_box = widgets.HBox([self.start_time_field, self.end_time_field],
                                      layout=widgets.Layout(display="none"))
        self.all_day_field.observe(self._toggle_times, names="value")
        self.save_button = widgets.Button(description=_("Add event"), icon="plus",
                                          button_style="primary")
        self.save_button.on_click(self.save)
        self.cancel_button = widgets.Button(description=_("Cancel"), icon="times",
                                            layout=widgets.Layout(display="none"))
        self.cancel_button.on_click(self.cancel_edit)
        self.delete_button = widgets.Button(description=_("Delete event"), icon="trash",
                                            button_style="danger",
                                            layout=widgets.Layout(display="none"))
        self.delete_button.on_click(self.delete_event)
        self.form = widgets.VBox([
            self.form_title, self.kind_field, self.title_field, self.description_field,
            widgets.HBox([self.start_field, self.end_field]), self.all_day_field,
            self.times_box,
            widgets.HBox([self.save_button, self.cancel_button, self.delete_button]),
        ])

    # --- reading ----------------------------------------------------------------------

    def refresh(self) -> None:
        if self.me is None:
            self.me = (self.client.get("me") or {}).get("name") or ""
        self.ics_link.value = (
            f'<a href="{escape(browser_url(self.client, f"spaces/{self.space}/calendar.ics"))}"'
            f' download="{escape(self.space)}.ics">'
            f"{escape(_('Download the calendar (iCalendar)'))}</a>"
        )
        weeks = stdcal.Calendar(firstweekday=0).monthdatescalendar(self.month.year,
                                                                   self.month.month)
        first, last = weeks[0][0], weeks[-1][-1]
        self.events = self.client.get(f"spaces/{self.space}/events",
                                      **{"from": first.isoformat(), "to": last.isoformat()}
                                      )["items"]
        self.render(weeks)

    def render(self, weeks: list[list[dt.date]]) -> None:
        self.month_label.value = (
            f"<b style='padding:0 1em'>{escape(month_name(self.month.month))} "
            f"{self.month.year}</b>"
        )
        self.render_grid(weeks)
        self.list_current = False
        if self.tabs.selected_index == 1:
            self.render_list()
        children: list[widgets.Widget] = [self.nav, self.tabs, self.details]
        if self.may.get("add_event") or self.editing is not None:
            self.render_form()
            children.append(self.form)
        self.body.children = children

    def render_grid(self, weeks: list[list[dt.date]]) -> None:
        # The weekday names, and each week with no event and not today, have nothing to
        # click: one widget each (an HTML grid of the month's columns across the month's
        # grid) rather than seven, which look the same.
        cells: list[widgets.Widget] = [self.grid_row(
            f'<div style="margin:2px"><b>{escape(name)}</b></div>' for name in weekday_names()
        )]
        cells[0].value = ROW_STYLE + cells[0].value
        self.day_cells = {}
        for week in weeks:
            if self.today in week or any(self.covers(e, day) for e in self.events
                                         for day in week):
                for day in week:
                    cell = self.day_cell(day)
                    self.day_cells[day] = cell
                    cells.append(cell)
                continue
            row = self.grid_row(
                f'<div class="twinspace-day" style="{QUIET_DAY_STYLE}">{self.day_label(day)}'
                "</div>" for day in week)
            self.day_cells.update(dict.fromkeys(week, row))
            cells.append(row)
        self.grid.children = cells

    @staticmethod
    def grid_row(cells: Iterable[str]) -> widgets.HTML:
        """Seven cells as one widget across the month's grid, in the same columns."""
        row = widgets.HTML(
            f'<div style="display:grid;grid-template-columns:{GRID_COLUMNS};gap:{GRID_GAP}">'
            + "".join(cells) + "</div>",
            layout=widgets.Layout(margin="0"))
        row.add_class("ts-calendar-row")
        return row

    def day_label(self, day: dt.date) -> str:
        """A day's number (today marked; days of other months muted)."""
        if day == self.today:
            return (f"<b aria-current='date' style='{TODAY_STYLE};padding:0 4px'>"
                    f"{day.day} · {escape(_('today'))}</b>")
        colour = "#222" if day.month == self.month.month else "#6b6b6b"
        return f"<span style='color:{colour}'>{day.day}</span>"

    def day_cell(self, day: dt.date) -> widgets.Widget:
        """One day: its number (today marked), then its events as coloured buttons."""
        is_today = day == self.today
        label = self.day_label(day)
        chips = [self.event_chip(e) for e in self.events if self.covers(e, day)]
        border = "2px solid #8a6d00" if is_today else "1px solid #cfcfcf"
        cell: widgets.Widget
        if chips or is_today:
            cell = widgets.VBox([widgets.HTML(label), *chips], layout=widgets.Layout(
                min_height="5em", padding="2px", border=border))
        else:
            # A day without events is only its number: one widget, not a box and a label
            # (the box's padding plus the label's margin, as padding: it looks the same).
            cell = widgets.HTML(label, layout=widgets.Layout(
                min_height="5em", padding="4px", margin="0", border=border))
        cell.add_class("twinspace-today" if is_today else "twinspace-day")
        return cell

    @staticmethod
    def covers(event: dict, day: dt.date) -> bool:
        first, last = event_span(event)
        return first <= day <= last

    def event_chip(self, event: dict) -> widgets.Button:
        background, text = KIND_COLOURS.get(event["kind"], KIND_COLOURS["other"])
        chip = widgets.Button(
            description=event["title"],
            tooltip=f"{kind_label(event['kind'])}: {event['title']}",
            layout=widgets.Layout(width="auto", height="auto"),
        )
        chip.style.button_color = background
        chip.style.text_color = text
        chip.on_click(lambda b, ev=event: self.open_event(b, ev))
        chip.event_id = event["id"]
        return chip

    def _tab_opened(self, change: dict) -> None:
        if change["new"] == 1 and not self.list_current:
            self.render_list()

    def render_list(self) -> None:
        self.list_current = True
        first = self.month
        last = shift_month(self.month, 1) - dt.timedelta(days=1)
        rows: list[widgets.Widget] = []
        for event in self.events:
            start, end = event_span(event)
            if end < first or start > last:
                continue
            background, text = KIND_COLOURS.get(event["kind"], KIND_COLOURS["other"])
            html = widgets.HTML(
                f"<div style='background:{background};color:{text};padding:2px 6px'>"
                f"<b>{escape(event_when(event))}</b> · {escape(kind_label(event['kind']))} · "
                f"{escape(event['title'])} <small>({escape(author_name(event.get('author')))})"
                f"</small></div>"
            )
            button = widgets.Button(description=_("Open"), icon="eye",
                                    tooltip=_("Open {title}").format(title=event["title"]))
            button.on_click(lambda b, ev=event: self.open_event(b, ev))
            rows.append(widgets.HBox([html, button]))
        if not rows:
            rows = [widgets.HTML(f"<p><i>{escape(_('No events this month.'))}</i></p>")]
        self.list_view.children = rows

    def render_form(self) -> None:
        editing = self.editing is not None
        heading = _("Edit the event") if editing else _("Add an event")
        self.form_title.value = f"<h4>{escape(heading)}</h4>"
        self.save_button.description = _("Save") if editing else _("Add event")
        self.save_button.icon = "save" if editing else "plus"
        self.cancel_button.layout.display = "" if editing else "none"
        self.delete_button.layout.display = "" if editing else "none"

    def may_change(self, event: dict) -> bool:
        """Own events, or any for moderators of Home (the service checks again)."""
        author = event.get("author") or {}
        return bool(self.me and author.get("name") == self.me) or bool(self.may.get("moderate"))

    def _toggle_times(self, change: dict) -> None:
        self.times_box.layout.display = "none" if change["new"] else ""

    # --- actions ----------------------------------------------------------------------

    @action
    def previous_month(self) -> None:
        self.month = shift_month(self.month, -1)
        self.refresh()

    @action
    def next_month(self) -> None:
        self.month = shift_month(self.month, 1)
        self.refresh()

    @action
    def this_month(self) -> None:
        self.month = self.today.replace(day=1)
        self.refresh()

    @action
    def open_event(self, event: dict) -> None:
        description = event.get("description") or ""
        accent = KIND_COLOURS.get(event["kind"], KIND_COLOURS["other"])[1]
        self.details.value = (
            f"<div style='border-left:4px solid {accent};"
            f"padding:4px 8px;color:#222'><b>{escape(event['title'])}</b> · "
            f"{escape(kind_label(event['kind']))}<br>{escape(event_when(event))}<br>"
            f"<span style='white-space:pre-wrap'>{escape(description)}</span><br>"
            f"<small>{escape(_('Added by {name}').format(name=author_name(event.get('author'))))}"
            f"</small></div>"
        )
        if self.may_change(event):
            self.start_edit(event)

    def start_edit(self, event: dict) -> None:
        self.editing = event
        self.kind_field.value = event["kind"] if event["kind"] in KINDS else "other"
        self.title_field.value = event["title"]
        self.description_field.value = event.get("description") or ""
        self.all_day_field.value = bool(event["all_day"])
        first, last = event_span(event)
        self.start_field.value, self.end_field.value = first, last
        if not event["all_day"]:
            zone = local_zone()
            self.start_time_field.value = dt.datetime.fromisoformat(
                event["starts_at"]).astimezone(zone).strftime("%H:%M")
            self.end_time_field.value = dt.datetime.fromisoformat(
                event["ends_at"]).astimezone(zone).strftime("%H:%M")
        if self.form not in self.body.children:
            self.body.children = (*self.body.children, self.form)
        self.render_form()

    def clear_form(self) -> None:
        self.editing = None
        self.title_field.value = self.description_field.value = ""
        self.start_field.value = self.end_field.value = None
        self.start_time_field.value = self.end_time_field.value = ""
        self.all_day_field.value = True
        self.kind_field.value = "deadline"

    def when_value(self, day: dt.date | None, time_text: str) -> str | None:
        """What the service reads: "YYYY-MM-DD", or a date and time with the kernel's offset.

        Nothing is checked here: the service explains what is wrong (F13, 400 messages)."""
        if day is None:
            return None
        if self.all_day_field.value:
            return day.isoformat()
        offset = dt.datetime.now().astimezone().strftime("%z")
        offset = f"{offset[:3]}:{offset[3:]}" if offset else "Z"
        return f"{day.isoformat()}T{time_text.strip() or '00:00'}:00{offset}"

    def form_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind_field.value,
            "title": self.title_field.value.strip(),
            "description": self.description_field.value,
            "all_day": self.all_day_field.value,
            "starts_at": self.when_value(self.start_field.value, self.start_time_field.value),
        }
        ends = self.when_value(self.end_field.value, self.end_time_field.value)
        if ends is not None:
            body["ends_at"] = ends
        return body

    @action
    def save(self) -> None:
        body = self.form_body()
        if self.editing is None:
            event = self.client.post(f"spaces/{self.space}/events", body)
            message = _("Event {title} added.")
        else:
            event = self.client.patch(f"events/{self.editing['id']}", body)
            message = _("Event {title} saved.")
        self.clear_form()
        self.details.value = ""
        self.month = event_span(event)[0].replace(day=1)
        self.refresh()
        self.notice(message.format(title=event["title"]), "success")

    @action
    def cancel_edit(self) -> None:
        self.clear_form()
        self.details.value = ""
        self.refresh()

    @action
    def delete_event(self) -> None:
        if self.editing is None:
            return
        self.client.delete(f"events/{self.editing['id']}")
        title = self.editing["title"]
        self.clear_form()
        self.details.value = ""
        self.refresh()
        self.notice(_("Event {title} deleted.").format(title=title), "success")
