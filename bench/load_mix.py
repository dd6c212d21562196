"""50 members at once doing a realistic mix against a real hub + service: latency per operation.

Starts a real JupyterHub with the node proxy running the TwinSpace service as a managed
service (tests/hubharness.py, as bench/api.py does), on SQLite or PostgreSQL. Makes
`--spaces` spaces of `--clients / --spaces` members each (teacher administrator,
teacher, pupil administrator, visitor and pupils), each space with a forum thread in
Activities and its General chat room. Then every member, with their own hub token and
through the proxy like a browser's kernel, runs two loops for `--seconds`:

- an open chat page: long-polls its space's room (`GET rooms/R/messages?after=…&wait=20`),
  which gives the delivery time of every message (from the send to its arrival here);
- actions one after the other, with no think time (a closed loop, as bench/api.py), drawn
  at random with these weights: activity feed (`GET spaces/S/activity?limit=20`) 35,
  forum thread read (`GET threads/T`) 35, forum reply (`POST threads/T/replies`) 10,
  chat send (`POST rooms/R/messages`) 20.

Prints p50/p95/p99 and errors per operation, the chat delivery times, and the load.

Usage::

    .venv/bin/python bench/load_mix.py --db sqlite
    .venv/bin/python bench/load_mix.py --db postgresql --json /tmp/mix-pg.json

Everything listens on 127.0.0.1 only; the hub, proxy and service are stopped and the
PostgreSQL database dropped at the end. Numbers only: nothing is asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from hubharness import RealHub, fresh_pg_database, twinspace_command  # noqa: E402
from utils import Site  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WEIGHTS = {"feed": 35, "forum read": 35, "forum reply": 10, "chat send": 20}
WAIT = 20  # seconds a long-poll may wait (the service caps it too)
REPLY = "Our pupils liked your video a lot; we answer with ours on **Friday**."


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile in ms of seconds `values` (nan when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return 1000 * ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


class Member:
    """One client: a token, a space's slug, its forum thread and chat room."""

    def __init__(self, token: str, slug: str, thread: int, room: int) -> None:
        self.token, self.slug, self.thread, self.room = token, slug, thread, room


def seed(site: Site, spaces: int, clients: int) -> list[Member]:
    """`spaces` spaces sharing out `clients` members; a thread and some history in each."""
    members = []
    per_space = [clients // spaces + (i < clients % spaces) for i in range(spaces)]
    for count in per_space:
        world = site.space()
        founder = world.as_("teacher_admin")
        callers = [world.as_(role) for role in world.roles]
        while len(callers) < count:
            pupil = site.account("pupil", prefix="pup")
            site.admin.ok("PUT", f"spaces/{world.slug}/members/{pupil.name}",
                          json={"role": "pupil"})
            callers.append(pupil)
        app = world.new_app("forum", "activities")
        thread = founder.ok("POST", f"apps/{app}/threads",
                            json={"title": "Spring around Europe", "body": "Say hello!"})["id"]
        room = founder.ok("GET", f"spaces/{world.slug}/rooms")["items"][0]["id"]
        for i in range(30):
            founder.ok("POST", f"threads/{thread}/replies", json={"body": f"{REPLY} ({i})"})
            founder.ok("POST", f"rooms/{room}/messages", json={"body": f"Hello {i}"})
        members += [Member(c.token, world.slug, thread, room) for c in callers[:count]]
    return members


class Mix:
    """The run: latencies per operation, errors, delivery times."""

    def __init__(self, api: str, members: list[Member], seconds: float) -> None:
        self.api, self.members, self.seconds = api, members, seconds
        self.http = AsyncHTTPClient(force_instance=True, max_clients=2 * len(members) + 4)
        self.latency: dict[str, list[float]] = {op: [] for op in [*WEIGHTS, "long-poll"]}
        self.errors: dict[str, int] = dict.fromkeys(self.latency, 0)
        self.statuses: dict[str, dict[int, int]] = {op: {} for op in self.latency}
        self.delivery: list[float] = []
        self.sent: dict[str, float] = {}
        self.deadline = 0.0

    async def call(self, op: str, member: Member, method: str, path: str,
                   body: dict | None = None, timeout: float = 60) -> dict | None:
        request = HTTPRequest(
            self.api + path, method=method, request_timeout=timeout, connect_timeout=10,
            headers={"Authorization": f"token {member.token}",
                     "Content-Type": "application/json"},
            body=None if body is None else json.dumps(body),
        )
        start = time.perf_counter()
        try:
            r = await self.http.fetch(request, raise_error=False)
            code = r.code
        except (HTTPClientError, OSError):
            code = 599
        took = time.perf_counter() - start
        if not 200 <= code < 300:
            self.errors[op] += 1
            self.statuses[op][code] = self.statuses[op].get(code, 0) + 1
            return None
        self.latency[op].append(took)
        return json.loads(r.body)

    async def listen(self, member: Member) -> None:
        """An open chat page: long-poll the room, note when each marked message arrives."""
        first = await self.call("long-poll", member, "GET", f"rooms/{member.room}/messages")
        last = first["last_id"] if first else 0
        while time.perf_counter() < self.deadline:
            got = await self.call(
                "long-poll", member, "GET",
                f"rooms/{member.room}/messages?after={last}&wait={WAIT}", timeout=WAIT + 30)
            if got is None:
                await asyncio.sleep(0.5)
                continue
            now = time.perf_counter()
            for item in got["items"]:
                sent = self.sent.get(item["body"])
                if sent is not None:
                    self.delivery.append(now - sent)
            last = got["last_id"]

    async def act(self, member: Member, rng: random.Random) -> None:
        ops, weights = list(WEIGHTS), list(WEIGHTS.values())
        n = 0
        while time.perf_counter() < self.deadline:
            op = rng.choices(ops, weights)[0]
            n += 1
            if op == "feed":
                await self.call(op, member, "GET", f"spaces/{member.slug}/activity?limit=20")
            elif op == "forum read":
                await self.call(op, member, "GET", f"threads/{member.thread}")
            elif op == "forum reply":
                await self.call(op, member, "POST", f"threads/{member.thread}/replies",
                                {"body": REPLY})
            else:
                text = f"Message {id(member)}-{n}"
                self.sent[text] = time.perf_counter()
                await self.call(op, member, "POST", f"rooms/{member.room}/messages",
                                {"body": text})

    async def run(self) -> float:
        self.deadline = time.perf_counter() + self.seconds
        start = time.perf_counter()
        rng = random.Random(7)
        await asyncio.gather(
            *(self.listen(member) for member in self.members),
            *(self.act(member, random.Random(rng.random())) for member in self.members),
        )
        self.http.close()
        return time.perf_counter() - start

    def summary(self) -> dict:
        # Rates over the run's length: actions stop at the deadline, the last long-polls
        # may still wait out their `wait` after it.
        elapsed = self.seconds
        out = {}
        for op, values in self.latency.items():
            out[op] = {"requests": len(values), "errors": self.errors[op],
                       "error_statuses": self.statuses[op],
                       "per_second": round(len(values) / elapsed, 1),
                       **{f"p{p}_ms": round(percentile(values, p), 1) for p in (50, 95, 99)}}
        out["chat delivery"] = {
            "requests": len(self.delivery), "errors": 0, "error_statuses": {},
            "per_second": round(len(self.delivery) / elapsed, 1),
            **{f"p{p}_ms": round(percentile(self.delivery, p), 1) for p in (50, 95, 99)}}
        return out


def run(db: str, args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="twinspace-mix-"))
    drop = None
    if db == "postgresql":
        db_url, drop = fresh_pg_database(args.pg_url, "twinspace_mix")
    else:
        db_url = f"sqlite:///{workdir / 'twinspace.sqlite'}"
    hub = RealHub(twinspace_command(workdir / "data", db_url), workdir=workdir / "hub")
    try:
        print(f"[{db}] starting the hub and the service ...", flush=True)
        hub.start()
        hub.wait_for_service()
        members = seed(Site(hub), args.spaces, args.clients)
        load_before = os.getloadavg()
        print(f"[{db}] {len(members)} members in {args.spaces} spaces, {args.seconds:g} s; "
              f"load before {load_before[0]:.2f}", flush=True)
        mix = Mix(hub.service_url("api/v1/"), members, args.seconds)
        elapsed = asyncio.run(mix.run())
        result = {"db": db, "seconds": round(elapsed, 1), "load_before": load_before,
                  "load_after": os.getloadavg(), "operations": mix.summary()}
    finally:
        hub.stop(remove=True)
        if drop is not None:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def table(result: dict) -> str:
    head = (f"{'operation':<14} {'done':>6} {'err':>5} {'per s':>7} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    lines = [f"[{result['db']}] {result['seconds']} s, load average "
             f"{result['load_before'][0]:.2f} before, {result['load_after'][0]:.2f} after",
             head, "-" * len(head)]
    for op, r in result["operations"].items():
        lines.append(f"{op:<14} {r['requests']:>6} {r['errors']:>5} {r['per_second']:>7.1f} "
                     f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f}"
                     + (f"  {r['error_statuses']}" if r["error_statuses"] else ""))
    lines.append("(long-poll: time until an answer, up to the wait of "
                 f"{WAIT} s; chat delivery: from the send to its arrival at a listener)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"PostgreSQL server ({DEFAULT_PG})")
    parser.add_argument("--clients", type=int, default=50, help="members at once (50)")
    parser.add_argument("--spaces", type=int, default=5, help="spaces they share (5)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run (60)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.spaces <= args.clients <= 500 or args.clients < 5 * args.spaces:
        parser.error("need 1 <= --spaces, 5 members per space, --clients <= 500")
    results = []
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        results.append(run(db, args))
        print(table(results[-1]), flush=True)
    if args.json:
        out = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "clients": args.clients, "spaces": args.spaces, "weights": WEIGHTS,
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "python": platform.python_version()},
               "results": results}
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
