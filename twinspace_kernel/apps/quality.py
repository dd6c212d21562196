"""The Quality Label evidence (F33): per school and month, with charts and a printable copy."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
from typing import Any

import ipywidgets as widgets
from babel.dates import format_date

from ..client import TwinSpaceClient, TwinSpaceError
from ..i18n import _, current_language
from .base import TwinSpaceApp, action, escape
from .downloads import DOWNLOADS_DIR, download_link, write_to_home

# Where downloads from the member view go, in the member's home (as the profile's).
# Colours told apart by colour-blind readers too (Okabe & Ito), one per school.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
TABLE_STYLE = "border-collapse:collapse;margin:8px 0"
CELL_STYLE = "border:1px solid #b0b0b0;padding:4px 8px;text-align:right"
HEAD_STYLE = "border:1px solid #b0b0b0;padding:4px 8px;background:#eef2f7;text-align:left"
# Muted text with enough contrast on white (F37).
MUTED = "color:#4a4a4a"
PRINT_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #111; margin: 2em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.5em; }
.muted { color: #4a4a4a; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #999; padding: 3px 8px; text-align: right; }
th { background: #eef2f7; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 0.5em 0 1em; break-inside: avoid; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; }
@media print {
  @page { size: A4; margin: 15mm; }
  body { margin: 0; font-size: 10pt; }
  .no-print { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table { break-inside: avoid; page-break-inside: avoid; }
  th { background: #eef2f7 !important; -webkit-print-color-adjust: exact;
       print-color-adjust: exact; }
}
"""


def figure_labels() -> dict[str, str]:
    """The Quality Label's figures (the service's keys), in the order they are shown."""
    return {
        "active_members": _("Active members"),
        "cross_school_replies": _("Cross-school forum replies"),
        "cross_school_comments": _("Cross-school blog comments"),
        "co_written_wiki_pages": _("Wiki pages co-written by several schools"),
        "documents": _("Files shared"),
        "photos": _("Photos shared"),
        "chat_messages": _("Chat messages"),
    }


def school_name(school: dict) -> str:
    name = school.get("school") or _("School not given")
    return f"{name} ({school['country']})" if school.get("country") else name


def month_label(month: str) -> str:
    """'2025-10' as the member reads it ('Oct 2025', 'oct. 2025', 'Okt. 2025')."""
    day = dt.date(int(month[:4]), int(month[5:7]), 1)
    return format_date(day, "MMM yyyy", locale=current_language())


def cell(value: Any, *, head: bool = False, first: bool = False, key: str = "") -> str:
    style = HEAD_STYLE if head or first else CELL_STYLE
    tag = "th" if head else "td"
    scope = ' scope="row"' if first and not head else ""
    data = f' data-key="{escape(key)}"' if key else ""
    return f'<{tag} style="{style}"{scope}{data}>{escape(value)}</{tag}>'


def summary_table(report: dict) -> str:
    """One line per school and one for the whole space: the figures in all."""
    labels = figure_labels()
    head = "".join([cell(_("School (country)"), head=True), cell(_("Members"), head=True),
                    *(cell(label, head=True) for label in labels.values())])
    rows = []
    for school in report["schools"]:
        figures = "".join(cell(school.get(key, 0), key=key) for key in labels)
        rows.append(f'<tr data-school="{escape(school_name(school))}">'
                    f"{cell(school_name(school), first=True)}"
                    f"{cell(school.get('members', 0), key='members')}{figures}</tr>")
    totals, cross = report["totals"], report["cross_school"]
    # The space's own figures: a page co-written by two schools is one page, a member
    # active in two schools' work is one member.
    whole = {"active_members": totals.get("active_members", 0),
             "cross_school_replies": cross["forum_replies"],
             "cross_school_comments": cross["comments"],
             "co_written_wiki_pages": cross["wiki_pages"],
             "documents": totals.get("documents", 0), "photos": totals.get("photos", 0),
             "chat_messages": totals.get("chat_messages", 0)}
    members = sum(school.get("members", 0) for school in report["schools"])
    figures = "".join(cell(whole[key], key=key) for key in labels)
    rows.append(f'<tr data-school="*" style="font-weight:bold">'
                f"{cell(_('All schools'), first=True)}{cell(members, key='members')}"
                f"{figures}</tr>")
    return (f'<table class="ts-quality-summary" style="{TABLE_STYLE}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def monthly_tables(report: dict) -> str:
    """For each school, its figures month by month (quiet months included)."""
    labels = figure_labels()
    head = "".join([cell(_("Month"), head=True),
                    *(cell(label, head=True) for label in labels.values())])
    parts = []
    for school in report["schools"]:
        if not school.get("monthly"):
            continue
        rows = []
        for month in report["months"]:
            counts = school["monthly"].get(month, {})
            figures = "".join(cell(counts.get(key, 0), key=key) for key in labels)
            rows.append(f'<tr data-month="{escape(month)}">'
                        f"{cell(month_label(month), first=True)}{figures}</tr>")
        parts.append(f"<h4>{escape(school_name(school))}</h4>"
                     f'<table class="ts-quality-monthly" style="{TABLE_STYLE}">'
                     f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return "".join(parts)


def chart_png(report: dict, key: str, title: str) -> bytes:
    """A bar chart of one figure: months along, one bar per school."""
    # The object API with the Agg canvas: no pyplot, so the kernel's own plotting
    # settings are neither used nor changed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    months = report["months"]
    schools = [s for s in report["schools"] if s.get("monthly")]
    figure = Figure(figsize=(7.2, 2.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / max(len(schools), 1)
    for n, school in enumerate(schools):
        values = [school["monthly"].get(month, {}).get(key, 0) for month in months]
        offsets = [i - 0.4 + width * (n + 0.5) for i in range(len(months))]
        axes.bar(offsets, values, width, label=school_name(school),
                 color=PALETTE[n % len(PALETTE)])
    axes.set_title(title, fontsize=11, loc="left")
    axes.set_xticks(range(len(months)), [month_label(month) for month in months],
                    fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_ylim(bottom=0)
    axes.spines[["top", "right"]].set_visible(False)
    if schools:
        axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def charts(report: dict) -> list[tuple[str, str]]:
    """(title, data: URL of its PNG) for each figure of the report."""
    return [
        (title, "data:image/png;base64,"
         + base64.b64encode(chart_png(report, key, title)).decode("ascii"))
        for key, title in figure_labels().items()
    ]


def chart_html(title: str, url: str) -> str:
    alt = _("Chart: {figure}, per school and month").format(figure=title)
    return (f'<figure class="ts-chart" style="margin:4px 0 12px">'
            f'<img src="{url}" alt="{escape(alt)}" style="max-width:100%"></figure>')


def generated_line(report: dict) -> str:
    moment = dt.datetime.fromisoformat(report["generated_at"].replace("Z", "+00:00"))
    when = format_date(moment.date(), "long", locale=current_language())
    return _("Computed by TwinSpace on {date}, from what the members wrote and shared. "
             "Hidden (moderated) items are not counted; months are UTC calendar months."
             ).format(date=when)


def printable_html(report: dict, chart_list: list[tuple[str, str]]) -> str:
    """The report as one self-contained page to print (or save as PDF from the browser)."""
    title = _("Quality Label evidence: {space}").format(space=report["title"])
    figures = "".join(
        f'<figure><img src="{url}" alt="{escape(name)}"></figure>' for name, url in chart_list)
    months = ""
    if report["months"]:
        months = (f"<h2>{escape(_('Month by month'))}</h2>"
                  f"{figures}{monthly_tables(report)}")
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(current_language())}">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
        f"<style>{PRINT_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n"
        f'<p class="muted">{escape(generated_line(report))}</p>\n'
        f'<p class="no-print muted">'
        f"{escape(_('To print it or save it as PDF, use your browser’s Print command.'))}</p>\n"
        f"<h2>{escape(_('Per school'))}</h2>\n{summary_table(report)}\n{months}\n"
        "</body>\n</html>\n"
    )


def report_filename(slug: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", slug)
    return f"quality-report-{safe}-{dt.date.today().isoformat()}.html"


def without_time(report: dict) -> dict:
    return {key: value for key, value in report.items() if key != "generated_at"}


class QualityReport(TwinSpaceApp):
    """Teachers' evidence for the Quality Label: each school's part in the cooperation,
    in all and month by month, as tables and charts, and a printable copy in their home.

    The service computes every number and decides who may read them (the space's
    teachers); a pupil who opens the page is told politely that it is not for them.
    """

    kind = "report"

    def __init__(self, space: str, *, client: TwinSpaceClient | None = None,
                 **params: str) -> None:
        self.space_slug = space
        self.params = params
        self.report: dict = {}
        self.chart_list: list[tuple[str, str]] = []
        self.print_button = widgets.Button(description=_("Printable version"), icon="print",
                                           tooltip=_("Write the report as a page to print"))
        self.print_button.on_click(self.make_printable)
        self.progress = widgets.IntProgress(value=0, min=0, max=3,
                                            layout=widgets.Layout(display="none"))
        self.link = widgets.HTML()
        super().__init__(None, client=client)

    def refresh(self) -> None:
        try:
            report = self.client.get(f"spaces/{self.space_slug}/cooperation-report")
        except TwinSpaceError as e:
            if e.status != 403:
                raise
            self.notice(_("The Quality Label report is for the teachers of this space. "
                          "Ask one of them if you would like to see it."), "error")
            return
        self.info = {"space": self.space_slug, "title": report["title"]}
        self.report = report
        self.title.value = (
            f"<h2>{escape(_('Quality Label evidence: {space}').format(space=report['title']))}"
            "</h2>")
        purpose = _("How the schools of this space work together: what each one "
                    "contributed, in all and month by month.")
        intro = widgets.HTML(f"<p>{escape(purpose)}</p>"
                             f'<p style="{MUTED}">{escape(generated_line(report))}</p>')
        table = widgets.HTML(f"<h3>{escape(_('Per school'))}</h3>{summary_table(report)}")
        parts: list[widgets.Widget] = [intro, table]
        if report["months"]:
            self.chart_list = charts(report)
            parts.append(widgets.HTML(
                f"<h3>{escape(_('Month by month'))}</h3>"
                + "".join(chart_html(title, url) for title, url in self.chart_list)
                + f"<details><summary>{escape(_('The figures month by month'))}</summary>"
                + monthly_tables(report) + "</details>"))
        else:
            empty = _("Nothing has been written in this space yet: the report fills in "
                      "as the schools work together.")
            parts.append(widgets.HTML(f"<p><i>{escape(empty)}</i></p>"))
        self.link.value = ""
        parts.append(widgets.HBox([self.print_button, self.progress]))
        parts.append(self.link)
        self.body.children = parts

    @action
    def make_printable(self, _button: widgets.Button | None = None) -> None:
        """Write the report, with fresh figures, as a self-contained page in the home."""
        self.link.value = ""
        self.progress.value = 0
        self.progress.layout.display = ""
        try:
            report = self.client.get(f"spaces/{self.space_slug}/cooperation-report")
            self.progress.value = 1
            # The page's charts when nothing changed since (they take a moment to draw).
            unchanged = without_time(report) == without_time(self.report)
            chart_list = (self.chart_list if unchanged
                          else charts(report) if report["months"] else [])
            self.progress.value = 2
            target = write_to_home(report_filename(self.space_slug), lambda partial: (
                partial.write_text(printable_html(report, chart_list), encoding="utf-8")))
            self.progress.value = 3
        finally:
            self.progress.layout.display = "none"
        self.link.value = (
            f'<p>{escape(_("The printable report is ready:"))} '
            f"{download_link(target, target.name)}</p>"
            f'<p style="{MUTED}">'
            f"{escape(_('It is also in your folder {folder}.').format(folder=DOWNLOADS_DIR))}"
            "</p>")
