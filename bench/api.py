"""Measure API throughput and p95 latency of TwinSpace against a bare Tornado service.

Starts a real JupyterHub (node proxy, tests/hubharness.py) running two managed services:
the TwinSpace API service and ``bench/bare_service.py`` (a minimal Tornado JSON app with
the same hub token identity). Both are reached through the same proxy and the same hub
token check, so the difference between them is what the TwinSpace service itself adds.

Cases, run one after the other in the same run, each with ``--clients`` concurrent clients
for ``--seconds`` seconds:

- read:  bare ``GET read``             vs TwinSpace ``GET apps/{blog}/posts?limit=20``
- write: bare ``POST write {"body"}``  vs TwinSpace ``POST rooms/{room}/messages {"body"}``

Usage::

    .venv/bin/python bench/api.py --db sqlite
    .venv/bin/python bench/api.py --db postgresql --json bench/results/pg.json

Everything listens on 127.0.0.1 only; the hub, proxy and services are stopped at the end.
Performance is never asserted in tests: this script only reports numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
import sqlalchemy as sa
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from hubharness import (  # noqa: E402
    ACCESS_SCOPE,
    RealHub,
    free_port,
    fresh_pg_database,
    pids_with_env,
    twinspace_command,
)

BARE = "bare"
BARE_SCOPE = f"access:services!service={BARE}"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTS = 20
POST_BODY = (
    "Our classes met online this week to compare how we celebrate the start of spring. "
    "The pupils in Lyon presented their posters and the pupils in Tartu answered with a "
    "short video. **Next step:** each group writes five questions for the partner school "
    "and we collect the answers in the wiki before the end of the month."
)
TICK = os.sysconf("SC_CLK_TCK")
MESSAGE = "Hello from the benchmark: see you in the video call on Thursday!"


@dataclass
class Result:
    """One measured case."""

    case: str
    target: str
    method: str
    url: str
    clients: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    response_bytes: int
    load1_after: float
    # CPU milliseconds per successful request, by process (client = this script).
    cpu_ms_per_req: dict[str, float]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[-1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


class CpuMeter:
    """CPU time of the processes on the request path: client, proxy, hub, services, db."""

    def __init__(self, processes: dict[str, list[int]], pg_pids=None) -> None:
        self.processes = processes
        self.pg_pids = pg_pids

    def snapshot(self) -> dict[str, float]:
        out = {"client": time.process_time()}
        groups = dict(self.processes)
        if self.pg_pids is not None:
            groups["postgres"] = self.pg_pids()
        for name, pids in groups.items():
            out[name] = sum(cpu_seconds(p) for p in pids)
        return out


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def load(
    case: str,
    target: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    meter: CpuMeter,
    warmup: int = 20,
) -> Result:
    """Run `clients` concurrent loops of one request for `seconds` (at most `max_requests`)."""
    http = AsyncHTTPClient(force_instance=True, max_clients=clients)

    def request() -> HTTPRequest:
        return HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            request_timeout=30,
            connect_timeout=10,
        )

    # Warm up (token caches, connection pools, SQLAlchemy statement caches) unmeasured.
    size = 0
    for _ in range(warmup):
        r = await http.fetch(request())
        size = len(r.body)

    latencies: list[float] = []
    errors = 0
    issued = 0
    cpu_before = meter.snapshot()
    start = time.perf_counter()
    deadline = start + seconds

    async def client() -> None:
        nonlocal errors, issued
        while time.perf_counter() < deadline and issued < max_requests:
            issued += 1
            t0 = time.perf_counter()
            try:
                r = await http.fetch(request(), raise_error=False)
                ok = 200 <= r.code < 300
            except (HTTPClientError, OSError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    cpu_after = meter.snapshot()
    http.close()
    done = max(1, len(latencies))
    cpu = {
        name: round(1000 * (cpu_after[name] - cpu_before.get(name, 0.0)) / done, 2)
        for name in cpu_after
    }
    latencies.sort()
    return Result(
        case=case,
        target=target,
        method=method,
        url=url,
        clients=clients,
        seconds=round(elapsed, 3),
        requests=len(latencies),
        errors=errors,
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(1000 * percentile(latencies, 50), 2),
        p95_ms=round(1000 * percentile(latencies, 95), 2),
        max_ms=round(1000 * (latencies[-1] if latencies else math.nan), 2),
        response_bytes=size,
        load1_after=round(os.getloadavg()[0], 2),
        cpu_ms_per_req=cpu,
    )


def backend_pids(db_url: str):
    """A callable listing the PostgreSQL server processes serving database `db_url`."""
    url = sa.make_url(db_url)
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    query = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name")

    def pids() -> list[int]:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(query, {"name": url.database})]

    pids.engine = engine
    return pids


def bare_config(port: int, token: str) -> str:
    """jupyterhub_config.py lines adding the bare service next to TwinSpace."""
    service = {
        "name": BARE,
        "url": f"http://127.0.0.1:{port}",
        "command": [sys.executable, str(BENCH / "bare_service.py")],
        "api_token": token,
        "oauth_no_confirm": True,
    }
    return "\n".join(
        [
            f"c.JupyterHub.services.append({service!r})",
            f"c.JupyterHub.extra_user_scopes = {[ACCESS_SCOPE, BARE_SCOPE]!r}",
        ]
    )


def wait_ok(url: str, headers: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            r = requests.get(url, headers=headers, timeout=5)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout}s ({last})")


def call(method: str, url: str, token: str, **kwargs) -> dict:
    r = requests.request(
        method, url, headers={"Authorization": f"token {token}"}, timeout=30, **kwargs
    )
    if not 200 <= r.status_code < 300:
        raise RuntimeError(f"{method} {url} -> {r.status_code}: {r.text[:300]}")
    return r.json()


def seed(hub: RealHub) -> tuple[str, int, int]:
    """A hub admin, a teacher, a space, 20 blog posts; returns (teacher token, blog, room)."""
    api = hub.service_url("api/v1/")
    suffix = secrets.token_hex(3)
    admin, teacher = f"benchadmin{suffix}", f"benchteacher{suffix}"
    hub.create_user(admin, admin=True)
    admin_token = hub.token_for(admin)
    call(
        "POST",
        api + "users",
        admin_token,
        json={
            "name": teacher,
            "kind": "teacher",
            "display_name": "Teacher One",
            "school": "École Test",
            "country": "FR",
        },
    )
    hub.create_user(teacher)
    token = hub.token_for(teacher, [ACCESS_SCOPE, BARE_SCOPE])
    slug = f"bench-{suffix}"
    call("POST", api + "spaces", token, json={"slug": slug, "title": "Benchmark space"})
    home = call("GET", api + f"spaces/{slug}/pages?section=home", token)["items"][0]["id"]
    page = call("GET", api + f"pages/{home}", token)
    blog = next(a["id"] for a in page["apps"] if a["kind"] == "blog")
    for i in range(POSTS):
        call(
            "POST",
            api + f"apps/{blog}/posts",
            token,
            json={"title": f"Journal entry {i + 1}: spring around Europe", "body": POST_BODY},
        )
    room = call("GET", api + f"spaces/{slug}/rooms", token)["items"][0]["id"]
    return token, blog, room


def table(results: list[Result]) -> str:
    head = f"{'case':<8} {'target':<10} {'req':>7} {'err':>4} {'req/s':>8} "
    head += f"{'p50 ms':>8} {'p95 ms':>8} {'bytes':>6} {'load1':>6}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.case:<8} {r.target:<10} {r.requests:>7} {r.errors:>4} {r.rps:>8.1f} "
            f"{r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.response_bytes:>6} {r.load1_after:>6.2f}"
        )
    lines += ["", "CPU ms per request, by process:"]
    names = list(dict.fromkeys(n for r in results for n in r.cpu_ms_per_req))
    head = f"{'case':<8} {'target':<10} " + " ".join(f"{n:>9}" for n in names)
    lines += [head, "-" * len(head)]
    for r in results:
        cells = " ".join(f"{r.cpu_ms_per_req.get(n, 0.0):>9.2f}" for n in names)
        lines.append(f"{r.case:<8} {r.target:<10} {cells}")
    return "\n".join(lines)


def ratios(results: list[Result]) -> dict[str, dict[str, float]]:
    """service/bare throughput and p95 for each case measured through the proxy."""
    by = {(r.case, r.target): r for r in results}
    out = {}
    for case in ("read", "write"):
        bare, service = by.get((case, "bare")), by.get((case, "twinspace"))
        if bare and service and bare.rps and bare.p95_ms:
            out[case] = {
                "throughput": round(service.rps / bare.rps, 3),
                "p95": round(service.p95_ms / bare.p95_ms, 3),
            }
    return out


async def measure(
    args, hub: RealHub, bare_port: int, token: str, blog: int, room: int, meter: CpuMeter
):
    headers = {"Authorization": f"token {token}"}
    json_headers = {**headers, "Content-Type": "application/json"}
    message = json.dumps({"body": MESSAGE}).encode()
    bare = f"{hub.url}services/{BARE}/"
    api = hub.service_url("api/v1/")
    cases = [
        ("read", "bare", "GET", bare + "read", headers, None),
        ("read", "twinspace", "GET", api + f"apps/{blog}/posts?limit={POSTS}", headers, None),
        ("write", "bare", "POST", bare + "write", json_headers, message),
        ("write", "twinspace", "POST", api + f"rooms/{room}/messages", json_headers, message),
    ]
    if args.direct:
        direct_bare = f"http://127.0.0.1:{bare_port}/services/{BARE}/read"
        direct_api = f"http://127.0.0.1:{hub.service_port}/services/twinspace/api/v1/"
        cases += [
            ("read", "bare-dir", "GET", direct_bare, headers, None),
            (
                "read",
                "ts-dir",
                "GET",
                direct_api + f"apps/{blog}/posts?limit={POSTS}",
                headers,
                None,
            ),
        ]
    results = []
    for case, target, method, url, hdrs, body in cases:
        print(f"  {case} {target}: {method} {url}", flush=True)
        results.append(
            await load(
                case,
                target,
                method,
                url,
                hdrs,
                body,
                clients=args.clients,
                seconds=args.seconds,
                max_requests=args.max_requests,
                meter=meter,
            )
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per case (10)")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="upper bound of requests per case"
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help=f"PostgreSQL server ({DEFAULT_PG})")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="also measure both reads directly on the service ports (no proxy hop)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 256 or not 0 < args.seconds <= 300:
        parser.error("--clients must be 1..256 and --seconds 0..300")

    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="twinspace-bench-"))
    drop = pg_pids = None
    if args.db == "postgresql":
        db_url, drop = fresh_pg_database(args.pg_url, "twinspace_bench")
        pg_pids = backend_pids(db_url)
    else:
        db_url = f"sqlite:///{workdir / 'twinspace.sqlite'}"
    bare_port, bare_token = free_port(), secrets.token_hex(16)
    hub = RealHub(
        twinspace_command(workdir / "data", db_url),
        extra_config=bare_config(bare_port, bare_token),
        workdir=workdir / "hub",
    )
    try:
        print(f"Load average before: {load_before[0]:.2f} {load_before[1]:.2f}", flush=True)
        print(f"Starting JupyterHub + TwinSpace ({args.db}) + bare service ...", flush=True)
        hub.start()
        hub.wait_for_service()
        token, blog, room = seed(hub)
        wait_ok(f"{hub.url}services/{BARE}/read", {"Authorization": f"token {token}"})
        # Both services must really check the token: without one they refuse.
        for url in (
            f"{hub.url}services/{BARE}/write",
            hub.service_url(f"api/v1/rooms/{room}/messages"),
        ):
            code = requests.post(url, json={"body": "x"}, timeout=10).status_code
            if code not in (401, 403):
                raise RuntimeError(f"POST {url} without a token answered {code}")
        print(f"Measuring: {args.clients} clients, {args.seconds:g} s per case", flush=True)
        proxy_pid = int((hub.workdir / "proxy.pid").read_text().strip())
        processes = {
            "proxy": [proxy_pid],
            "hub": [hub.proc.pid],
            "twinspace": pids_with_env(f"JUPYTERHUB_API_TOKEN={hub.service_token}"),
            BARE: pids_with_env(f"JUPYTERHUB_API_TOKEN={bare_token}"),
        }
        meter = CpuMeter(processes, pg_pids)
        results = asyncio.run(measure(args, hub, bare_port, token, blog, room, meter))
    finally:
        hub.stop(remove=True)
        if pg_pids is not None:
            pg_pids.engine.dispose()
        if drop is not None:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = ratios(results)
    print()
    print(table(results))
    print()
    for case, r in ratio.items():
        print(f"{case}: TwinSpace/bare throughput {r['throughput']:.2f}, p95 {r['p95']:.2f}x")
    if args.json:
        out = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "db": args.db,
            "clients": args.clients,
            "seconds": args.seconds,
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            },
            "results": [asdict(r) for r in results],
            "ratios": ratio,
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
