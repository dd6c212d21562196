"""A burst of anonymous readers on the public view: served, p95, kernels left afterwards.

Starts a real hub from our jupyterhub_config.py (tests/hubproc.py; as root the public view
runs as `ts-public` from the members' env), makes a public space with one published page
(web content and a blog with a post), then sends N anonymous readers within T seconds to
127.0.0.1 only, each at its own moment (evenly spread). A reader GETs the page (Voila
renders it with a kernel: preheated when the pool has one), reads it for R seconds, then
leaves as a browser does (Voila's shutdown beacon). Over the cap a reader gets 503.

Reported: readers served (200) and told busy (503), time to the whole page for those
served (p50, p95, max) and to the busy page, public kernels alive at most during the
burst, right after the last reader left and once settled (the pool refilled, nothing
else), and the time an open page takes to empty itself after the teacher unpublishes it
(Chromium, one reader, measured 3 times).

    .venv/bin/python bench/public_burst.py [--readers 100] [--within 10] [--read 5]
        [--max-kernels 16] [--pool 2] [--json bench/results/public_burst.json]

Performance is never asserted in tests: this script only reports numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from browser import CHROMIUM, launch_chromium  # noqa: E402
from hubharness import descendants  # noqa: E402
from hubproc import ROOT, TwinSpaceHub, isolated_hub  # noqa: E402

KERNEL_ID_RE = re.compile(r'"kernelId": "([0-9a-f-]{36})"')


def wait_for_public_view(hub: TwinSpaceHub, timeout: float = 120) -> None:
    """Until Voila answers (a page that reloads itself answers while it starts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = requests.get(f"{hub.url}services/public/", timeout=10)
            if r.status_code == 200 and "Public spaces" in r.text:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"no public view after {timeout}s")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def public_kernels(hub: TwinSpaceHub) -> list[int]:
    """Pids of the public view's kernels (children of its Voila process)."""
    voila = [p for p in descendants(hub.proc.pid) if "-m twinspace_public" in cmdline(p)]
    kernels = []
    for pid in voila:
        kernels += [k for k in descendants(pid) if "ipykernel_launcher" in cmdline(k)]
    return kernels


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def seed(hub: TwinSpaceHub) -> dict:
    """A public space with one published page: web content, and a blog with one post."""
    tag = secrets.token_hex(3)
    api = hub.api_base
    teacher = hub.add_teacher(f"burst{tag}", "bench-" + tag * 3, display_name="Bench Teacher")

    def call(method, path, **kw):
        r = requests.request(method, api + path, headers=teacher, timeout=60, **kw)
        r.raise_for_status()
        return r.json() if r.content else None

    slug = f"burst-{tag}"
    call("POST", "spaces", json={"slug": slug, "title": "Burst space"})
    page = call("POST", f"spaces/{slug}/pages", json={"section": "activities",
                                                       "title": "Our river"})
    content = call("POST", f"pages/{page['id']}/apps", json={"kind": "web_content"})
    call("PUT", f"apps/{content['id']}/content", json={"html": "<p>The river page.</p>"})
    blog = call("POST", f"pages/{page['id']}/apps", json={"kind": "blog"})
    call("POST", f"apps/{blog['id']}/posts", json={"title": "Day one", "body": "We started."})
    call("PATCH", f"pages/{page['id']}", json={"published": True})
    call("PATCH", f"spaces/{slug}", json={"public": True})
    return {"page": page, "call": call}


def leave(hub: TwinSpaceHub, response: requests.Response) -> None:
    """What the page's beforeunload beacon does: shut its kernel down."""
    found = KERNEL_ID_RE.search(response.text)
    xsrf = response.cookies.get("_xsrf", "")
    if found:
        requests.post(f"{hub.url}services/public/voila/api/shutdown/{found[1]}", timeout=60,
                      cookies={"_xsrf": xsrf}, headers={"X-XSRFToken": xsrf})


def wait_for_kernels(hub: TwinSpaceHub, at_most: int, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    while True:
        count = len(public_kernels(hub))
        waited = time.monotonic() - started
        if count <= at_most or waited > timeout:
            return count, waited
        time.sleep(0.25)


def burst(hub: TwinSpaceHub, url: str, readers: int, within: float, read: float) -> dict:
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    peak = [0]
    done = threading.Event()
    start = time.monotonic() + 0.5

    def reader(i: int) -> None:
        time.sleep(max(0.0, start + i * within / readers - time.monotonic()))
        began = time.monotonic()
        try:
            r = requests.get(url, timeout=300)
            status = r.status_code
        except requests.RequestException:
            r, status = None, 0
        elapsed = time.monotonic() - began
        with lock:
            results.append((status, elapsed))
        if status == 200:
            time.sleep(read)
            leave(hub, r)

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], len(public_kernels(hub)))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finished = time.monotonic() - start
    done.set()
    sampler.join()
    served = sorted(e for s, e in results if s == 200)
    busy = sorted(e for s, e in results if s == 503)
    return {
        "readers": readers,
        "within_s": within,
        "read_s": read,
        "served": len(served),
        "busy_503": len(busy),
        "other": len(results) - len(served) - len(busy),
        "served_p50_s": round(statistics.median(served), 3) if served else None,
        "served_p95_s": round(percentile(served, 95), 3) if served else None,
        "served_max_s": round(served[-1], 3) if served else None,
        "busy_p95_s": round(percentile(busy, 95), 3) if busy else None,
        "kernels_peak": peak[0],
        "burst_seconds": round(finished, 1),
    }


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def unpublish_times(hub: TwinSpaceHub, world: dict, trials: int = 3) -> list[float]:
    """Seconds from the teacher's unpublish to the open page saying it is gone."""
    from playwright.sync_api import sync_playwright

    page_id = world["page"]["id"]
    times = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for _ in range(trials):
                world["call"]("PATCH", f"pages/{page_id}", json={"published": True})
                tab = browser.new_page()
                answer = tab.goto(f"{hub.url}services/public/view?page={page_id}")
                if answer is None or answer.status != 200:
                    raise RuntimeError(f"the page answered {answer and answer.status}")
                tab.get_by_text("The river page.").wait_for(timeout=120_000)
                began = time.monotonic()
                world["call"]("PATCH", f"pages/{page_id}", json={"published": False})
                tab.get_by_text("This page is no longer public.").wait_for(timeout=60_000)
                times.append(round(time.monotonic() - began, 2))
                tab.close()
        finally:
            browser.close()
            world["call"]("PATCH", f"pages/{page_id}", json={"published": True})
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--within", type=float, default=10.0, help="seconds to spread them over")
    parser.add_argument("--read", type=float, default=5.0, help="seconds each reader stays")
    parser.add_argument("--max-kernels", type=int, default=16)
    parser.add_argument("--pool", type=int, default=2)
    parser.add_argument("--max-rendering", type=int, default=0,
                        help="pages rendered at once (default: the public view's, the CPUs)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    settings = {"public_max_kernels": args.max_kernels, "public_pool_size": args.pool}
    env = ({"TWINSPACE_PUBLIC_MAX_RENDERING": str(args.max_rendering)}
           if args.max_rendering else None)
    with isolated_hub("twinspace-burst-", settings=settings, env=env, missing=sys.exit) as hub:
        try:
            wait_for_public_view(hub)
            world = seed(hub)
            url = f"{hub.url}services/public/view?page={world['page']['id']}"
            warm = requests.get(url, timeout=300)  # one unmeasured reader; then a full pool
            warm.raise_for_status()
            leave(hub, warm)
            wait_for_kernels(hub, args.pool, 120)
            time.sleep(2)  # let the refilled pool finish its preheating
            pool_rss = rss_mb(public_kernels(hub))
            began = time.monotonic()  # one reader alone, with a preheated kernel
            alone = requests.get(url, timeout=300)
            single = time.monotonic() - began
            leave(hub, alone)
            wait_for_kernels(hub, args.pool, 120)
            time.sleep(2)
            result = burst(hub, url, args.readers, args.within, args.read)
            result["single_reader_preheated_s"] = round(single, 3)
            result["kernels_after_last_reader"] = len(public_kernels(hub))
            settled, waited = wait_for_kernels(hub, args.pool, 120)
            result["kernels_settled"] = settled
            result["settled_after_s"] = round(waited, 1)
            result["pool_rss_mb_per_kernel"] = round(pool_rss / max(args.pool, 1), 1)
            result["max_kernels"] = args.max_kernels
            result["pool"] = args.pool
            result["max_rendering"] = args.max_rendering or os.cpu_count()
            print(json.dumps(result), flush=True)
            if os.path.exists(CHROMIUM):
                result["unpublish_to_gone_s"] = unpublish_times(hub, world)
        finally:
            log = Path(tempfile.gettempdir()) / "public_burst_hub.log"
            log.write_text(hub.log)
            print(f"hub log: {log}", file=sys.stderr)
    result["machine"] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "isolated": ROOT, "load_1min": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
