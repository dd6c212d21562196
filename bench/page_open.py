"""Time opening pages of the member view in Chromium, against a bare one-widget Voila page.

One real TwinSpace hub (our jupyterhub_config.py, tests/hubproc.py; isolated system users
when run as root, from the members' env /opt/twinspace/user). A founder makes a space with
the five starter pages plus `--pages` more Project Activities pages (each with a blog), a
pupil logs in through the hub's login form in Debian's Chromium (Playwright) and lands on
Home. Then, in the pupil's own server, all in the same run:

- cold: click a page's link in the navigation bar -> that page's navigation bar and all
  its application widgets visible; each page for the first time in this run;
- nav: the same, moving again between pages already opened once (in-space navigation);
  both are shown in place by the member view's shell (the same kernel);
- sections: click the section tabs in turn (Home, Project Activities, Pupils' Corner, Chat:
  the starter pages with all their applications, Home the heaviest), in place too;
- load: each page's address typed in (a full Voila render: a new kernel, the page's cells
  run by Voila), as when a member opens the view or reloads;
- bare: open `/voila/render/bare.ipynb` (a notebook with one ipywidgets Button, in the
  pupil's home) -> the button visible; Voila's own server extension, same server, same
  kernel spec: the floor of any Voila page.

    .venv/bin/python bench/page_open.py [--pages 10] [--rounds 2] [--json PATH]

Performance is never asserted in tests: this script only reports numbers.
"""

from __future__ import annotations

import argparse
import os
import pwd
import statistics
import sys
import time
from pathlib import Path

import nbformat
import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from browser import CHROMIUM, launch_chromium  # noqa: E402
from hubproc import ROOT, TwinSpaceHub, isolated_hub  # noqa: E402
from report import write_results  # noqa: E402

WAIT_MS = 120_000
PASSWORD = "bench founder pw"


def seed(hub: TwinSpaceHub, extra_pages: int) -> tuple[str, str]:
    """The space and its pages; returns the pupil's (name, password)."""
    founder = hub.add_teacher("benchfounder", PASSWORD)
    requests.post(f"{hub.api_base}spaces", headers=founder, timeout=30,
                  json={"slug": "bench", "title": "Bench", "starter": True}).raise_for_status()
    for i in range(extra_pages):
        page = requests.post(f"{hub.api_base}spaces/bench/pages", headers=founder, timeout=30,
                             json={"section": "activities", "title": f"Extra {i + 1}"})
        page.raise_for_status()
        requests.post(f"{hub.api_base}pages/{page.json()['id']}/apps", headers=founder,
                      timeout=30, json={"kind": "blog"}).raise_for_status()
    r = requests.post(f"{hub.api_base}spaces/bench/pupils", headers=founder, timeout=60,
                      json={"names": ["Pia Bench"]})
    r.raise_for_status()
    pupil = r.json()["items"][0]
    return pupil["name"], pupil["password"]


def activities(hub: TwinSpaceHub) -> list[dict]:
    founder = hub.auth_headers("benchfounder")
    r = requests.get(f"{hub.api_base}spaces/bench/pages", headers=founder, timeout=30,
                     params={"section": "activities"})
    r.raise_for_status()
    return r.json()["items"]


def first_pages(hub: TwinSpaceHub) -> dict[str, tuple[int, list[str]]]:
    """Each section tab a pupil sees -> its first page's id and application kinds."""
    founder = hub.auth_headers("benchfounder")
    labels = {"home": "Home", "activities": "Project Activities",
              "pupils_corner": "Pupils' Corner", "chat": "Chat"}
    found = {}
    for section, label in labels.items():
        items = requests.get(f"{hub.api_base}spaces/bench/pages", headers=founder, timeout=30,
                             params={"section": section}).json()["items"]
        if items:
            apps = requests.get(f"{hub.api_base}pages/{items[0]['id']}", headers=founder,
                                timeout=30).json()["apps"]
            found[label] = (items[0]["id"], [a["kind"] for a in apps])
    return found


def put_bare_notebook(hub: TwinSpaceHub, name: str) -> None:
    """A one-widget notebook in the pupil's home (their server's root), owned by them."""
    from twinspace_hub.spawner import system_username

    if ROOT:
        account = pwd.getpwnam(system_username(name))
        home, uid, gid = Path(account.pw_dir), account.pw_uid, account.pw_gid
    else:
        home, uid, gid = hub.data_dir / "dev-homes" / name, os.getuid(), os.getgid()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import ipywidgets as widgets\nwidgets.Button(description='bare widget')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = home / "bare.ipynb"
    nbformat.write(nb, path)
    os.chown(path, uid, gid)


def widgets_visible(page, kinds: list[str]) -> None:
    """The navigation bar and one widget per application of the page are on screen."""
    page.wait_for_selector("nav.ts-nav", timeout=WAIT_MS)
    for kind in kinds:
        page.wait_for_selector(f".twinspace-{kind}", timeout=WAIT_MS)


def page_shown(page, title: str, kinds: list[str]) -> None:
    """Page `title` is on screen: its heading (the old page's is gone), its current link in
    the navigation bar and one widget per application."""
    page.wait_for_function(
        "t => [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === t)"
        " && document.querySelector('nav.ts-nav .ts-pages a[aria-current=page]')"
        "?.textContent === t", arg=title, timeout=WAIT_MS)
    widgets_visible(page, kinds)


def open_by_click(page, title: str, kinds: list[str]) -> float:
    started = time.perf_counter()
    page.locator("nav.ts-nav .ts-pages a", has_text=title).first.click()
    page_shown(page, title, kinds)
    return time.perf_counter() - started


def open_by_address(page, url: str, title: str, kinds: list[str]) -> float:
    started = time.perf_counter()
    page.goto(url)
    page_shown(page, title, kinds)
    return time.perf_counter() - started


def open_section(page, label: str, page_id: int, kinds: list[str]) -> float:
    """Click a section's tab -> its first page shown in place with its applications."""
    started = time.perf_counter()
    page.locator("nav.ts-nav .ts-sections a", has_text=label).first.click()
    page.wait_for_function("id => document.body.dataset.tsPage === String(id)",
                           arg=page_id, timeout=WAIT_MS)
    for kind in kinds:
        page.wait_for_selector(f".ts-shell-content .twinspace-{kind}", timeout=WAIT_MS)
    return time.perf_counter() - started


def live_kernels(page, base: str) -> int:
    return len(page.request.get(f"{base}api/kernels").json())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def stats(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": statistics.median(values),
            "p95": percentile(values, 0.95), "min": min(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10,
                        help="Project Activities pages beyond the five starter pages (10)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of moving again between the pages opened once (2)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        sys.exit("Debian's chromium is missing: run `make chromium` first")
    from playwright.sync_api import sync_playwright

    results: dict[str, list[float]] = {"cold": [], "nav": [], "sections": [], "load": [],
                                       "bare": []}
    kernels_seen: list[int] = []
    with isolated_hub("bench-page-open-", missing=sys.exit) as hub:
        name, password = seed(hub, args.pages)
        pages = activities(hub)
        kinds = {p["id"]: [a["kind"] for a in requests.get(
            f"{hub.api_base}pages/{p['id']}", headers=hub.auth_headers("benchfounder"),
            timeout=30).json()["apps"]] for p in pages}
        base = f"{hub.url}user/{name}/"
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page()
            page.goto(f"{hub.url}hub/login")
            page.fill("#username_input", name)
            page.fill("#password_input", password)
            page.click("#login_submit")
            page.wait_for_selector("nav.ts-nav", timeout=WAIT_MS * 2)  # spawn + Home
            put_bare_notebook(hub, name)
            # Into Project Activities (its first page is the warm-up, not measured).
            page.locator("nav.ts-nav .ts-sections a").nth(1).click()
            widgets_visible(page, kinds[pages[0]["id"]])
            for item in pages[1:]:
                seconds = open_by_click(page, item["title"], kinds[item["id"]])
                results["cold"].append(seconds)
                kernels_seen.append(live_kernels(page, base))
                print(f"cold {item['title']:40} {seconds * 1000:7.0f} ms", flush=True)
            for _round in range(args.rounds):
                for item in pages:
                    seconds = open_by_click(page, item["title"], kinds[item["id"]])
                    results["nav"].append(seconds)
                    kernels_seen.append(live_kernels(page, base))
                    print(f"nav  {item['title']:40} {seconds * 1000:7.0f} ms", flush=True)
            sections = first_pages(hub)
            for _round in range(args.rounds + 1):
                for label, (page_id, section_kinds) in sections.items():
                    seconds = open_section(page, label, page_id, section_kinds)
                    results["sections"].append(seconds)
                    kernels_seen.append(live_kernels(page, base))
                    print(f"tab  {label:40} {seconds * 1000:7.0f} ms", flush=True)
            for item in pages:
                seconds = open_by_address(page, f"{base}twinspace/page/{item['id']}",
                                          item["title"], kinds[item["id"]])
                results["load"].append(seconds)
                kernels_seen.append(live_kernels(page, base))
                print(f"load {item['title']:40} {seconds * 1000:7.0f} ms", flush=True)
            for _i in range(len(pages)):
                started = time.perf_counter()
                page.goto(f"{base}voila/render/bare.ipynb")
                page.wait_for_selector("button:has-text('bare widget')", timeout=WAIT_MS)
                results["bare"].append(time.perf_counter() - started)
                print(f"bare {results['bare'][-1] * 1000:7.0f} ms", flush=True)
            browser.close()

    summary = {label: stats(values) for label, values in results.items()}
    print(f"\nclick -> widgets visible, isolate_users={ROOT}   (ms)")
    print(f"{'case':6} {'n':>4} {'p50':>8} {'p95':>8} {'min':>8} {'max':>8}")
    for label in ("cold", "nav", "sections", "load", "bare"):
        s = summary[label]
        print(f"{label:6} {s['n']:4d} {s['p50'] * 1000:8.0f} {s['p95'] * 1000:8.0f} "
              f"{s['min'] * 1000:8.0f} {s['max'] * 1000:8.0f}")
    ratios = {label: summary[label]["p50"] / summary["bare"]["p50"]
              for label in ("cold", "nav", "sections", "load")}
    print("ratio p50 / bare p50: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print(f"live kernels of the pupil's server after each page open: max {max(kernels_seen)}")
    if args.json:
        write_results(args.json, {
            "isolate_users": ROOT, "pages": len(pages), "rounds": args.rounds,
            "raw": results, "stats": summary, "ratio_p50": ratios,
            "live_kernels": kernels_seen,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
