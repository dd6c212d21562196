"""Measure chat delivery latency: one member sends, another member's live loop receives.

Starts a real JupyterHub with the TwinSpace service (tests/hubharness.py, as the test suite
does) on a fresh SQLite or PostgreSQL database, makes a space with a teacher and a pupil,
and starts the pupil's `LiveLoop` on the General room: the very loop the Chat widget runs
(a daemon thread long-polling `GET rooms/{id}/messages?after=&wait=`). The teacher then
sends N messages one at a time through the API (`POST rooms/{id}/messages`, the
`TwinSpaceClient` the widget uses); each send waits until the pupil's loop has received the
message before the next one. Latency = time from just before the POST to the moment the
pupil's loop hands the message to its callback (where the widget sets its value).

With `--listeners N --spaces S` (issue 10: 100 members listening across 5 spaces), S
spaces each get N/S pupils whose own `LiveLoop`s listen to the space's General room, and
each space's teacher sends (the S senders at once, each waiting until every listener of
the space has the message); latency is measured for every (message, listener).

Usage::

    .venv/bin/python bench/chat_latency.py --db sqlite
    .venv/bin/python bench/chat_latency.py --db postgresql --n 200
    .venv/bin/python bench/chat_latency.py --db sqlite --listeners 100 --spaces 5 --n 40

Prints p50/p95/max of the delivery latency (and of the POST round trip). Performance is
never asserted in tests: this script only reports numbers.
"""

from __future__ import annotations

import argparse
import math
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))
sys.path.insert(0, str(BENCH.parent))

from hubharness import RealHub, fresh_pg_database, twinspace_command  # noqa: E402
from utils import Site  # noqa: E402

from twinspace_kernel.apps.live import LiveLoop  # noqa: E402
from twinspace_kernel.client import TwinSpaceClient  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WARMUP = 5


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return (f"{name:<22} n={len(ms):<4} p50={percentile(ms, 50):7.1f} ms  "
            f"p95={percentile(ms, 95):7.1f} ms  max={ms[-1] if ms else math.nan:7.1f} ms")


def measure(site: Site, spaces: int, listeners: int, n: int, wait: float,
                 timeout: float) -> tuple[list[float], list[float], int]:
    """`listeners` pupils across `spaces` spaces, each listening with its own LiveLoop; the
    spaces' teachers send at once. Latencies of every (message, listener)."""
    rooms = []
    for _ in range(spaces):
        world = site.space()
        teacher = world.as_("teacher")
        room = teacher.ok("GET", f"spaces/{world.slug}/rooms")["items"][0]["id"]
        pupils = []
        for _ in range(listeners // spaces):
            pupil = site.account("pupil", prefix="lis")
            site.admin.ok("PUT", f"spaces/{world.slug}/members/{pupil.name}",
                          json={"role": "pupil"})
            pupils.append(pupil)
        rooms.append((room, teacher, pupils))

    arrived = threading.Condition()
    received: dict[tuple[int, str], float] = {}  # (listener, body) -> when
    errors: list[BaseException] = []
    loops = []
    for room, _teacher, pupils in rooms:
        for pupil in pupils:
            client = TwinSpaceClient(site.api_base, pupil.token)
            last_id = client.get(f"rooms/{room}/messages", limit=1)["last_id"]
            listener = len(loops)

            def on_data(_loop, answer, listener=listener):
                now = time.perf_counter()
                with arrived:
                    for msg in answer.get("items", []):
                        received.setdefault((listener, msg["body"]), now)
                    arrived.notify_all()

            loops.append(LiveLoop(client, f"rooms/{room}/messages", after=last_id,
                                  on_data=on_data, on_error=lambda *a: errors.append(a[1]),
                                  wait=wait).start())
    latencies: list[float] = []
    posts: list[float] = []

    def send(index: int, room: int, teacher, first: int, count: int) -> None:
        sender = TwinSpaceClient(site.api_base, teacher.token)
        listening = range(first, first + count)
        for i in range(-WARMUP, n):
            body = f"space {index} message {i}"
            t0 = time.perf_counter()
            sender.post(f"rooms/{room}/messages", {"body": body})
            t1 = time.perf_counter()
            with arrived:
                if not arrived.wait_for(
                        lambda b=body: all((r, b) in received for r in listening),
                        timeout=timeout):
                    errors.append(TimeoutError(f"{body} not received within {timeout}s"))
                    return
                if i >= 0:
                    latencies.extend(received[(r, body)] - t0 for r in listening)
                    posts.append(t1 - t0)

    try:
        time.sleep(1.0)  # every listener's first long-poll is waiting
        senders, first = [], 0
        for index, (room, teacher, pupils) in enumerate(rooms):
            senders.append(threading.Thread(target=send,
                                            args=(index, room, teacher, first, len(pupils))))
            first += len(pupils)
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
    finally:
        for loop in loops:
            loop.stop()
    return latencies, posts, len(errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="messages to measure (200)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"PostgreSQL server ({DEFAULT_PG})")
    parser.add_argument("--wait", type=float, default=25.0, help="long-poll wait, s (25)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="give up when a message takes longer than this, s (30)")
    parser.add_argument("--listeners", type=int, default=1,
                        help="members listening, spread over --spaces (1: the pupil only)")
    parser.add_argument("--spaces", type=int, default=1, help="spaces with a sender each (1)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="chat-latency-"))
    drop = None
    if args.db == "postgresql":
        db_url, drop = fresh_pg_database(args.pg_url, "twinspace_bench")
    else:
        db_url = f"sqlite:///{workdir / 'twinspace.sqlite'}"
    hub = RealHub(twinspace_command(workdir / "data", db_url), workdir=workdir / "hub")
    try:
        hub.start()
        hub.wait_for_service()
        site = Site(hub)
        latencies, posts, errors = measure(site, args.spaces, max(args.listeners, 1),
                                           args.n, args.wait, args.timeout)
    finally:
        hub.stop()
        if drop is not None:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"chat delivery latency, {args.db}, {args.n} messages per sender "
          f"({WARMUP} unmeasured warm-up), {args.spaces} sender(s) at once, "
          f"{max(args.listeners, 1)} live receiver(s) over {args.spaces} space(s)")
    print(f"python {platform.python_version()}, {platform.machine()}, "
          f"long-poll wait {args.wait:g} s, errors: {errors}")
    print(summary("send -> receive", latencies))
    print(summary("POST round trip", posts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
