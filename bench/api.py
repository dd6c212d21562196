"""Measure API throughput and p95 latency of TwinSpace against a bare Tornado service.

Starts a real JupyterHub (node proxy, tests/hubharness.py) running two managed services:
the TwinSpace API service and ``bench/bare_service.py`` (a minimal Tornado JSON app with
the same hub token identity). Both are reached through the same proxy and the same hub
token check, so the difference between them is what the TwinSpace service itself adds.

Cases, run one after the other in the same run, each with ``--clients`` concurrent clients
for ``--seconds`` seconds:

- read:  bare ``GET read``             vs TwinSpace ``GET apps/{blog}/posts?limit=20``
- write: bare ``POST write {"body"}``  vs TwinSpace ``POST rooms/{room}/messages {"body"}``

With ``--slow``, a further case (issue 10): the TwinSpace read case runs with and without
ONE more client repeating a slow request, for each of

- export: ``GET spaces/{big}/export`` of a space seeded with ``--slow-mb`` MB of gallery
  photos (noise JPEGs, re-encoded by the service) and library files (random-bytes PDFs);
- upload: ``POST apps/{docs}/documents`` of a 20 MB file (then deleted again);
- import: ``POST spaces/import`` of that space's export archive (the service is started
  with ``--upload-limit`` large enough for it);
- feed:   ``GET apps/{blog}/posts?limit=100`` of 100 long posts (a big feed page).

It reports the readers' p95 while the slow request runs over their p95 just before, in
the same run (``slow ... p95 ratio``); the slow client runs in a process of its own.

Usage::

    .venv/bin/python bench/api.py --db sqlite
    .venv/bin/python bench/api.py --db postgresql --json bench/results/pg.json
    .venv/bin/python bench/api.py --slow --slow-only --seconds 15

Everything listens on 127.0.0.1 only; the hub, proxy and services are stopped at the end.
Performance is never asserted in tests: this script only reports numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import math
import multiprocessing
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
from PIL import Image
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
MIB = 1024 * 1024
SLOW_KINDS = ("export", "upload", "import", "feed")
FEED_POSTS = 100
UPLOAD_MB = 20
PHOTOS = 30


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
    stop=None,
) -> Result:
    """Run `clients` concurrent loops of one request for `seconds` (at most `max_requests`).

    With `stop` (an Event), the loops run until it is set instead (the slow case: while
    a slow client works), `seconds` then only bounding how long they wait for it.
    """
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
        while (
            time.perf_counter() < deadline if stop is None else not stop.is_set()
        ) and issued < max_requests and time.perf_counter() < deadline + 600:
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


# --------------------------------------------------------------------------- slow case


def noise_jpeg(width: int = 1280, height: int = 960) -> bytes:
    """A photo of pure noise: the service decodes and re-encodes it like any photo."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def random_pdf(size: int) -> bytes:
    """`size` bytes the library takes as a PDF (sniffed by its magic), incompressible."""
    head = b"%PDF-1.4\n"
    return head + os.urandom(max(1, size - len(head)))


def seed_slow(hub: RealHub, token: str, megabytes: int) -> dict:
    """A big space: `megabytes` MB of photos and files, a long blog; its ids and archive."""
    api = hub.service_url("api/v1/")
    slug = f"bench-big-{secrets.token_hex(3)}"
    call("POST", api + "spaces", token, json={"slug": slug, "title": "Benchmark big space"})
    page = call("POST", api + f"spaces/{slug}/pages", token,
                json={"section": "activities", "title": "Our photos and files"})
    gallery = call("POST", api + f"pages/{page['id']}/apps", token, json={"kind": "gallery"})
    docs = call("POST", api + f"pages/{page['id']}/apps", token, json={"kind": "documents"})
    album = call("POST", api + f"apps/{gallery['id']}/albums", token, json={"title": "Spring"})
    total = photos = files = 0
    while photos < PHOTOS and total < megabytes * MIB:
        photo = call("POST", api + f"albums/{album['id']}/photos?filename=photo{photos}.jpg",
                     token, data=noise_jpeg())
        total += photo["size"]
        photos += 1
    while total < megabytes * MIB:
        size = min(16 * MIB, megabytes * MIB - total)
        call("POST", api + f"apps/{docs['id']}/documents?filename=report{files}.pdf", token,
             data=random_pdf(max(size, 1024)))
        total += size
        files += 1
    home = call("GET", api + f"spaces/{slug}/pages?section=home", token)["items"][0]["id"]
    blog = next(a["id"] for a in call("GET", api + f"pages/{home}", token)["apps"]
                if a["kind"] == "blog")
    body = "\n\n".join([POST_BODY] * 12)  # about 4 kB of Markdown each
    for i in range(FEED_POSTS):
        call("POST", api + f"apps/{blog}/posts", token,
             json={"title": f"Long report {i + 1} from the partner schools", "body": body})
    return {"slug": slug, "docs": docs["id"], "blog": blog, "photos": photos, "files": files,
            "bytes": total}


SPAWN = multiprocessing.get_context("spawn")


class SlowClient(SPAWN.Process):
    """One client repeating one slow request until `seconds` pass, then setting `stop`.

    A process of its own (blocking `requests`): the bytes it moves must not take the GIL
    or the event loop of the process that times the other clients. `results` receives
    (durations, errors) at the end.
    """

    def __init__(self, kind: str, api: str, token: str, big: dict, archive: Path,
                 seconds: float, stop) -> None:
        super().__init__(name=f"slow-{kind}", daemon=True)
        self.kind, self.api, self.token, self.big, self.archive = kind, api, token, big, archive
        self.seconds, self.stop = seconds, stop
        self.results = SPAWN.Queue()

    def once(self, n: int) -> None:
        api, big = self.api, self.big
        if self.kind == "export":
            with self.session.get(api + f"spaces/{big['slug']}/export", stream=True,
                                  timeout=600) as r:
                self.check(r, 200)
                got = sum(len(c) for c in r.iter_content(MIB))
            if got < self.archive.stat().st_size // 2:  # the same space: about as big
                raise RuntimeError(f"the export gave only {got} bytes")
        elif self.kind == "upload":
            r = self.session.post(api + f"apps/{big['docs']}/documents?filename=big{n}.pdf",
                                  data=self.upload, timeout=600)
            self.check(r, 201)
            self.check(self.session.delete(api + f"documents/{r.json()['id']}", timeout=60), 204)
        elif self.kind == "import":
            slug = f"{big['slug']}-imp{n}"
            with self.archive.open("rb") as body:
                r = self.session.post(api + f"spaces/import?slug={slug}", data=body, timeout=600)
            self.check(r, 201)
        else:
            r = self.session.get(api + f"apps/{big['blog']}/posts?limit={FEED_POSTS}",
                                 timeout=600)
            self.check(r, 200)

    @staticmethod
    def check(r: requests.Response, code: int) -> None:
        if r.status_code != code:
            raise RuntimeError(f"{r.request.method} {r.url} -> {r.status_code}: {r.text[:200]}")

    def run(self) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.token}"
        self.upload = random_pdf(UPLOAD_MB * MIB) if self.kind == "upload" else b""
        self.durations: list[float] = []
        self.errors: list[str] = []
        deadline = time.perf_counter() + self.seconds
        n = 0
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    self.once(n)
                    self.durations.append(time.perf_counter() - t0)
                except (requests.RequestException, RuntimeError, KeyError, ValueError) as e:
                    self.errors.append(str(e)[:300])
                    if len(self.errors) > 3:
                        break
                n += 1
        finally:
            self.results.put((self.durations, self.errors))
            self.stop.set()
            self.session.close()


def download_export(hub: RealHub, token: str, slug: str, path: Path) -> int:
    r = requests.get(hub.service_url(f"api/v1/spaces/{slug}/export"), stream=True, timeout=600,
                     headers={"Authorization": f"token {token}"})
    if r.status_code != 200:
        raise RuntimeError(f"export of {slug} -> {r.status_code}: {r.text[:300]}")
    with path.open("wb") as out:
        for chunk in r.iter_content(MIB):
            out.write(chunk)
    return path.stat().st_size


async def measure_slow(args, hub: RealHub, token: str, blog: int, big: dict, archive: Path,
                       meter: CpuMeter) -> tuple[list[Result], dict]:
    """For each slow kind: the read case alone, then with the slow client running."""
    headers = {"Authorization": f"token {token}"}
    url = hub.service_url(f"api/v1/apps/{blog}/posts?limit={POSTS}")
    results, slow = [], {}
    for kind in args.slow_kinds:
        common = dict(clients=args.clients, seconds=args.seconds,
                      max_requests=args.max_requests, meter=meter)
        print(f"  slow {kind}: readers alone", flush=True)
        quiet = await load("slow", f"{kind}:off", "GET", url, headers, None, **common)
        stop = SPAWN.Event()
        worker = SlowClient(kind, hub.service_url("api/v1/"), token, big, archive,
                            args.seconds, stop)
        print(f"  slow {kind}: readers with one client repeating it", flush=True)
        worker.start()
        busy = await load("slow", f"{kind}:on", "GET", url, headers, None, stop=stop, **common)
        durations, errors = worker.results.get(timeout=120)
        worker.join(timeout=60)
        results += [quiet, busy]
        durations = sorted(durations)
        slow[kind] = {
            "slow_requests": len(durations),
            "slow_errors": errors,
            "slow_mean_s": round(sum(durations) / len(durations), 2) if durations else None,
            "slow_max_s": round(durations[-1], 2) if durations else None,
            "p95_off_ms": quiet.p95_ms,
            "p95_on_ms": busy.p95_ms,
            "p95_ratio": round(busy.p95_ms / quiet.p95_ms, 3) if quiet.p95_ms else None,
            "rps_ratio": round(busy.rps / quiet.rps, 3) if quiet.rps else None,
        }
    return results, slow


def slow_table(slow: dict) -> str:
    head = (f"{'slow':<8} {'done':>5} {'err':>4} {'mean s':>7} {'max s':>7} "
            f"{'p95 off':>8} {'p95 on':>8} {'p95 ratio':>9} {'rps ratio':>9}")
    lines = [head, "-" * len(head)]
    for kind, s in slow.items():
        lines.append(
            f"{kind:<8} {s['slow_requests']:>5} {len(s['slow_errors']):>4} "
            f"{s['slow_mean_s'] or 0:>7.2f} {s['slow_max_s'] or 0:>7.2f} "
            f"{s['p95_off_ms']:>8.1f} {s['p95_on_ms']:>8.1f} {s['p95_ratio'] or 0:>9.2f} "
            f"{s['rps_ratio'] or 0:>9.2f}"
        )
    for kind, s in slow.items():
        for error in s["slow_errors"]:
            lines.append(f"{kind} error: {error}")
    return "\n".join(lines)


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
    parser.add_argument(
        "--slow", action="store_true",
        help="also measure the readers' p95 while one client repeats a slow request",
    )
    parser.add_argument("--slow-only", action="store_true",
                        help="measure only the slow case (implies --slow)")
    parser.add_argument("--slow-mb", type=int, default=200,
                        help="MB of photos and files in the exported space (200)")
    parser.add_argument("--slow-kinds", default=",".join(SLOW_KINDS),
                        help=f"slow requests to run, comma-separated ({','.join(SLOW_KINDS)})")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 256 or not 0 < args.seconds <= 300:
        parser.error("--clients must be 1..256 and --seconds 0..300")
    args.slow = args.slow or args.slow_only
    args.slow_kinds = [k.strip() for k in args.slow_kinds.split(",") if k.strip()]
    if set(args.slow_kinds) - set(SLOW_KINDS) or not 1 <= args.slow_mb <= 600:
        parser.error(f"--slow-kinds takes {', '.join(SLOW_KINDS)}; --slow-mb 1..600")

    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="twinspace-bench-"))
    drop = pg_pids = None
    if args.db == "postgresql":
        db_url, drop = fresh_pg_database(args.pg_url, "twinspace_bench")
        pg_pids = backend_pids(db_url)
    else:
        db_url = f"sqlite:///{workdir / 'twinspace.sqlite'}"
    bare_port, bare_token = free_port(), secrets.token_hex(16)
    command = twinspace_command(workdir / "data", db_url)
    if args.slow:
        # The import takes the whole export archive as one upload.
        command += ["--upload-limit", str(int(args.slow_mb * 1.25) + 32)]
    hub = RealHub(
        command,
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
        results, slow, big = [], {}, {}
        if not args.slow_only:
            results = asyncio.run(measure(args, hub, bare_port, token, blog, room, meter))
        if args.slow:
            print(f"Seeding a space with {args.slow_mb} MB of photos and files ...", flush=True)
            big = seed_slow(hub, token, args.slow_mb)
            archive = workdir / "big-export.zip"
            big["archive_bytes"] = download_export(hub, token, big["slug"], archive)
            print(f"  {big['photos']} photos, {big['files']} files, export "
                  f"{big['archive_bytes'] / MIB:.0f} MB", flush=True)
            slow_results, slow = asyncio.run(
                measure_slow(args, hub, token, blog, big, archive, meter))
            results += slow_results
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
    if slow:
        print()
        print(slow_table(slow))
        print()
        for kind, s in slow.items():
            print(f"slow {kind}: readers' p95 with/without it {s['p95_ratio']:.2f}x")
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
        if slow:
            out["slow"] = slow
            out["slow_space"] = {k: v for k, v in big.items() if k != "slug"}
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
