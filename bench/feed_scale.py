"""Time the activity feed, a forum thread and a chat room at 10 k rows and at 1 M rows.

Keyset pagination and the (space, id) / (thread, id) / (room, id) indexes should keep the
first page and the 50th page as cheap with a million rows as with ten thousand. This
script checks it against the real service, on SQLite or PostgreSQL:

1. two fresh databases brought to the newest schema by the store code (store/db.py),
   each with a real hub and the real service on it (tests/hubharness.py, as bench/api.py
   does): one for `--small` rows, one for `--rows`;
2. in each, three spaces with a forum thread and a chat room, made through the API. The
   quiet one gets each table's first 2,600 rows and nothing after (an old thread among
   newer rows); the busy one gets half of the rest and the other one the other half,
   interleaved (ids alternate). Busy and quiet are measured;
3. the three tables (activity_events, forum_replies, chat_messages) filled to `--small`
   or `--rows` rows each with bulk INSERTs through SQLAlchemy Core. Feed lines point at
   real replies (so the moderation filter's EXISTS runs) or are member lines;
4. for each of busy and quiet: page 1 and page 50 (50 items a page, reached by following
   `next` through the API) fetched `--repeat` times directly on the service's port, the
   two databases turn about (so the machine's load hits both alike): median and min;
5. the query plans of the statements the handlers run (EXPLAIN QUERY PLAN on SQLite,
   EXPLAIN ANALYZE on PostgreSQL): the feed's from ActivityHandler.visible itself, the
   others written as the forum and chat handlers write them.

Usage::

    .venv/bin/python bench/feed_scale.py --db sqlite
    .venv/bin/python bench/feed_scale.py --db postgresql --json /tmp/feed-pg.json

PostgreSQL tables are ANALYZEd after each fill (autovacuum would do it soon after such a
load; without statistics the planner guesses). Everything listens on 127.0.0.1; the hubs
are stopped and the databases removed at the end. Numbers only: nothing here is asserted
in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from hubharness import RealHub, fresh_pg_database, twinspace_command  # noqa: E402
from utils import Site  # noqa: E402

from twinspace_kernel.service.activity import ActivityHandler  # noqa: E402
from twinspace_kernel.store import db as store  # noqa: E402
from twinspace_kernel.store import models as m  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAGE = 50
DEEP = 50  # the page measured besides the first
CHUNK = 10_000
QUIET = PAGE * DEEP + 100  # rows of the quiet thread, room and feed: page DEEP exists
REPLY = "Thanks, we will bring the posters on **Thursday** and compare them with yours."
MESSAGE = "See you in the video call on Thursday!"
ROLE = "teacher_admin"  # the reader: sees every section


class Target:
    """A space with a forum thread (on its own page) and its General chat room."""

    def __init__(self, world, engine: sa.Engine) -> None:
        self.world, self.slug = world, world.slug
        self.caller = world.as_(ROLE)
        self.page = world.add_page("activities", "Forum")
        app = world.add_app(self.page, "forum")
        self.thread = self.caller.ok(
            "POST", f"apps/{app}/threads", json={"title": "Our spring posters", "body": "Hi!"}
        )["id"]
        self.room = self.caller.ok("GET", f"spaces/{self.slug}/rooms")["items"][0]["id"]
        # The API names spaces and people by slug and name; the rows need their ids.
        with engine.connect() as conn:
            self.space_id = conn.scalar(sa.select(m.Space.id).where(m.Space.slug == self.slug))
            self.author_id = conn.scalar(
                sa.select(m.User.id).where(m.User.name == self.caller.name))


class Scene:
    """busy: half of all rows, interleaved with other's half; quiet: the first QUIET rows
    of each table, then nothing (an old thread among a million newer rows)."""

    def __init__(self, site: Site, engine: sa.Engine) -> None:
        self.busy = Target(site.space(), engine)
        self.other = Target(site.space(founder=self.busy.caller), engine)
        self.quiet = Target(site.space(founder=self.busy.caller), engine)

    def owner(self, g: int) -> Target:
        """Whose is the g-th row of each table."""
        if g < QUIET:
            return self.quiet
        return self.busy if g % 2 == 0 else self.other


def fill(engine: sa.Engine, scene: Scene, have: int, want: int) -> float:
    """Add rows to the three tables until each has `want` rows; returns the seconds."""
    start = time.perf_counter()
    when = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    targets = (scene.busy, scene.other, scene.quiet)
    with engine.begin() as conn:
        for low in range(have, want, CHUNK):
            n = min(CHUNK, want - low)
            owner = [scene.owner(low + i) for i in range(n)]
            stamp = [when + dt.timedelta(seconds=low + i) for i in range(n)]
            conn.execute(sa.insert(m.ForumReply), [
                {"thread_id": t.thread, "author_id": t.author_id, "body": REPLY,
                 "body_html": f"<p>{REPLY}</p>", "hidden": False, "created_at": at,
                 "updated_at": at}
                for t, at in zip(owner, stamp, strict=True)
            ])
            conn.execute(sa.insert(m.ChatMessage), [
                {"room_id": t.room, "author_id": t.author_id, "body": MESSAGE,
                 "hidden": False, "created_at": at}
                for t, at in zip(owner, stamp, strict=True)
            ])
            # Feed lines point at replies that exist (each thread's newest 500).
            replies = {
                t.space_id: list(conn.scalars(
                    sa.select(m.ForumReply.id).where(m.ForumReply.thread_id == t.thread)
                    .order_by(m.ForumReply.id.desc()).limit(500)))
                for t in targets
            }
            rows = []
            for i, (t, at) in enumerate(zip(owner, stamp, strict=True)):
                line = {"space_id": t.space_id, "actor_id": t.author_id, "created_at": at}
                if (low + i) % 4 == 3:
                    line.update(verb="member.join", section="home", page_id=None,
                                object_type="", object_id=None,
                                summary="2 pupil account(s) created")
                else:
                    ids = replies[t.space_id]
                    line.update(verb="forum.reply", section="activities", page_id=t.page,
                                object_type="forum_replies", object_id=ids[(low + i) % len(ids)],
                                summary=f"Our spring posters: {REPLY[:80]}")
                rows.append(line)
            conn.execute(sa.insert(m.ActivityEvent), rows)
        for t in targets:
            count, last = conn.execute(
                sa.select(sa.func.count(), sa.func.max(m.ForumReply.id))
                .where(m.ForumReply.thread_id == t.thread)).one()
            conn.execute(sa.update(m.ForumThread).where(m.ForumThread.id == t.thread)
                         .values(reply_count=count, last_post_id=last))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("activity_events", "forum_replies", "chat_messages", "forum_threads"):
                conn.execute(sa.text(f"ANALYZE {table}"))
    return time.perf_counter() - start


def cases(scene: Scene) -> dict[str, tuple[str, str]]:
    """name -> (first page path, the cursor parameter `next` goes into)."""
    out = {}
    for label, t in (("busy", scene.busy), ("quiet", scene.quiet)):
        out[f"feed, {label}"] = (f"spaces/{t.slug}/activity?limit={PAGE}", "before")
        out[f"thread, {label}"] = (f"threads/{t.thread}?limit={PAGE}", "after")
        out[f"chat, {label}"] = (f"rooms/{t.room}/messages?limit={PAGE}", "before")
    return out


def next_cursor(body: dict):
    # A thread answers with its first page of replies inside.
    return body["replies"]["next"] if "replies" in body else body["next"]


def deep_path(session: requests.Session, api: str, first: str, key: str) -> str:
    """The path of page DEEP, reached by following `next` from the first page."""
    path = first
    for _ in range(DEEP - 1):
        cursor = next_cursor(session.get(api + path, timeout=60).json())
        if cursor is None:
            raise RuntimeError(f"{first}: fewer than {DEEP} pages")
        if path == first and first.startswith("threads/"):
            # Later pages of a thread: its replies, as the forum app reads them.
            first = first.replace("?", "/replies?")
        path = f"{first}&{key}={cursor}"
    return path


def get_ms(session: requests.Session, url: str) -> tuple[float, dict]:
    start = time.perf_counter()
    r = session.get(url, timeout=60)
    took = 1000 * (time.perf_counter() - start)
    r.raise_for_status()
    return took, r.json()


def summary(times: list[float], body: dict) -> dict:
    items = len((body["replies"] if "replies" in body else body)["items"])
    return {"median_ms": round(statistics.median(times), 2), "min_ms": round(min(times), 2),
            "max_ms": round(max(times), 2), "items": items}


def statements(engine: sa.Engine, t: Target, cursors: dict[str, int]) -> dict[str, sa.Select]:
    """The statements the handlers run for these pages (the feed's from the handler's own
    code; keep the others in step with forum.py and chat.py)."""
    with Session(engine) as db:
        feed = ActivityHandler.visible(None, db.get(m.Space, t.space_id), ROLE)  # no `self`
    event = m.ActivityEvent.id
    reply = sa.select(m.ForumReply).where(m.ForumReply.thread_id == t.thread)
    chat = sa.select(m.ChatMessage).where(m.ChatMessage.room_id == t.room)
    return {
        "feed page 1": feed.order_by(event.desc()).limit(PAGE + 1),
        f"feed page {DEEP}": feed.where(event < cursors["feed"])
        .order_by(event.desc()).limit(PAGE + 1),
        "feed last_id": feed.with_only_columns(sa.func.max(event)),
        "thread page 1": reply.order_by(m.ForumReply.id).limit(PAGE + 1),
        f"thread page {DEEP}": reply.where(m.ForumReply.id > cursors["thread"])
        .order_by(m.ForumReply.id).limit(PAGE + 1),
        "thread first reply": sa.select(sa.func.min(m.ForumReply.id))
        .where(m.ForumReply.thread_id == t.thread),
        "chat page 1": chat.order_by(m.ChatMessage.id.desc()).limit(PAGE + 1),
        f"chat page {DEEP}": chat.where(m.ChatMessage.id < cursors["chat"])
        .order_by(m.ChatMessage.id.desc()).limit(PAGE + 1),
        "chat last_id": sa.select(sa.func.max(m.ChatMessage.id))
        .where(m.ChatMessage.room_id == t.room),
    }


def plans(engine: sa.Engine, scene: Scene, measured: dict) -> dict[str, str]:
    out = {}
    for label, t in (("busy", scene.busy), ("quiet", scene.quiet)):
        cursors = {kind: int(measured[f"{kind}, {label}"]["deep_path"].rsplit("=", 1)[1])
                   for kind in ("feed", "thread", "chat")}
        with engine.connect() as conn:
            for name, stmt in statements(engine, t, cursors).items():
                sql = str(stmt.compile(dialect=engine.dialect,
                                       compile_kwargs={"literal_binds": True}))
                if engine.dialect.name == "sqlite":
                    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
                    text = "\n".join(f"{'  ' * (r[1] > 0)}{r[3]}" for r in rows)
                else:
                    rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}").all()
                    text = "\n".join(r[0] for r in rows)
                out[f"{name}, {label}"] = text
    return out


def short_plan(text: str) -> list[str]:
    """A plan without the moderation filter's per-table subplans (summarised in one line)."""
    lines, sub, skip = [], 0, None
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip())
        if skip is not None and depth > skip:
            continue
        skip = None
        if line.lstrip().startswith(("CORRELATED SCALAR SUBQUERY", "SubPlan")):
            sub, skip = sub + 1, depth
            continue
        if line.lstrip().startswith("Filter: (((section"):
            line = line[:line.index("Filter:") + 8] + "section IN (…) AND moderation filter"
        lines.append(line)
    if sub:
        lines.append(f"  (+ {sub} subqueries of the moderation filter, one per content table)")
    return lines


class Stack:
    """A fresh database (store code's schema), a real hub and service on it, a scene."""

    def __init__(self, db: str, args) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="twinspace-feed-"))
        self.drop = None
        if db == "postgresql":
            self.db_url, self.drop = fresh_pg_database(args.pg_url, "twinspace_feed")
        else:
            self.db_url = f"sqlite:///{self.workdir / 'twinspace.sqlite'}"
        store.upgrade(self.db_url)
        self.engine = store.new_engine(self.db_url)
        self.hub = RealHub(twinspace_command(self.workdir / "data", self.db_url),
                           workdir=self.workdir / "hub")

    def start(self) -> None:
        self.hub.start()
        self.hub.wait_for_service()
        self.scene = Scene(Site(self.hub), self.engine)
        self.api = f"http://127.0.0.1:{self.hub.service_port}/services/twinspace/api/v1/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.scene.busy.caller.token}"

    def stop(self) -> None:
        self.engine.dispose()
        self.hub.stop(remove=True)
        if self.drop is not None:
            self.drop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def run(db: str, args) -> dict:
    """Two stacks, one per size, measured turn about so the machine's load hits both alike."""
    sizes = (args.small, args.rows)
    stacks: dict[int, Stack] = {}
    result: dict = {"db": db, "sizes": {}}
    try:
        for rows in sizes:
            print(f"[{db}] starting a hub and a service for {rows:,} rows ...", flush=True)
            stacks[rows] = stack = Stack(db, args)
            stack.start()
            seconds = fill(stack.engine, stack.scene, 0, rows)
            print(f"[{db}] {rows:,} rows per table, filled in {seconds:.1f} s", flush=True)
            result["sizes"][rows] = {"fill_seconds": round(seconds, 1), "cases": {}}
        load = os.getloadavg()[0]
        for name, (_first, key) in cases(stacks[sizes[0]].scene).items():
            paths = {}
            for rows, stack in stacks.items():
                first_here = dict(cases(stack.scene).items())[name][0]
                paths[rows] = {"page 1": first_here,
                               f"page {DEEP}": deep_path(stack.session, stack.api,
                                                         first_here, key)}
            for page in ("page 1", f"page {DEEP}"):
                times: dict[int, list[float]] = {rows: [] for rows in sizes}
                bodies = {}
                for turn in range(args.repeat + 2):
                    for rows, stack in stacks.items():
                        took, bodies[rows] = get_ms(stack.session, stack.api + paths[rows][page])
                        if turn >= 2:  # two unmeasured turns warm the caches
                            times[rows].append(took)
                for rows in sizes:
                    case = result["sizes"][rows]["cases"].setdefault(
                        name, {"deep_path": paths[rows][f"page {DEEP}"]})
                    case[page] = summary(times[rows], bodies[rows])
            line = "   ".join(
                f"{page} {result['sizes'][rows]['cases'][name][page]['median_ms']:6.1f}"
                for rows in sizes for page in ("page 1", f"page {DEEP}"))
            print(f"    {name:<14} {line}  (ms: {sizes[0]:,} rows, then {sizes[1]:,})",
                  flush=True)
        result["load1"] = [load, os.getloadavg()[0]]
        for rows, stack in stacks.items():
            result["sizes"][rows]["plans"] = plans(
                stack.engine, stack.scene, result["sizes"][rows]["cases"])
    finally:
        for stack in stacks.values():
            stack.stop()
    return result


def report(result: dict, small: int, big: int) -> None:
    db = result["db"]
    a, b = result["sizes"][small]["cases"], result["sizes"][big]["cases"]
    print(f"\n[{db}] ms, {small:,} vs {big:,} rows per table (target: median ratio <= 1.5)")
    print(f"  {'case':<24} {'median':>9} {'median':>9} {'ratio':>6}   "
          f"{'min':>7} {'min':>7} {'ratio':>6}")
    for name in a:
        for page in ("page 1", f"page {DEEP}"):
            x, y = a[name][page], b[name][page]
            print(f"  {name + ', ' + page:<24} {x['median_ms']:>9.1f} {y['median_ms']:>9.1f} "
                  f"{y['median_ms'] / x['median_ms']:>6.2f}   {x['min_ms']:>7.1f} "
                  f"{y['min_ms']:>7.1f} {y['min_ms'] / x['min_ms']:>6.2f}")
    print(f"\n[{db}] query plans at {big:,} rows (all of them in the JSON):")
    for name, text in result["sizes"][big]["plans"].items():
        print(f"  -- {name}")
        print("\n".join("     " + line for line in short_plan(text)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"PostgreSQL server ({DEFAULT_PG})")
    parser.add_argument("--small", type=int, default=10_000, help="rows per table first (10 k)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per table then (1 M)")
    parser.add_argument("--repeat", type=int, default=15, help="timed fetches per page (15)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if not 3 * QUIET < args.small < args.rows:
        parser.error(f"need {3 * QUIET} < --small < --rows "
                     f"(page {DEEP} must exist)")
    load_before = os.getloadavg()
    print(f"Load average before: {' '.join(f'{x:.2f}' for x in load_before)}", flush=True)
    results = [run(db, args) for db in
               (("sqlite", "postgresql") if args.db == "both" else (args.db,))]
    for result in results:
        report(result, args.small, args.rows)
    print(f"\nLoad average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        out = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
               "results": results}
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
