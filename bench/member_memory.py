"""Memory per member with the member view open: server + kernels, against a bare Voila page.

One real TwinSpace hub (our jupyterhub_config.py, tests/hubproc.py; isolated system users
when run as root, from the members' env /opt/twinspace/user). A founder makes a space with
the starter pages and `--members` pupils. Each pupil logs in through the hub's login form
in their own Chromium context (Playwright) and lands on the space's Home page; with every
view open and its widgets on screen, each member's server process and all its descendants
(the page's kernel) are measured from /proc: RSS (what the issue's "≤ 150 MB per active
member" counts) and PSS (shared pages divided between the processes that share them, so
the sum over members is what the machine really spends).

In the same run, one more pupil opens only a bare one-widget Voila notebook in their own
server (bench/page_open.py's `bare.ipynb`): the floor of any member's server with one
Voila page open; the ratio is member RSS / bare RSS.

    .venv/bin/python bench/member_memory.py [--members 5] [--json PATH]

Performance is never asserted in tests: this script only reports numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from browser import CHROMIUM, launch_chromium  # noqa: E402
from hubharness import descendants  # noqa: E402
from hubproc import ROOT, TwinSpaceHub, isolated_hub  # noqa: E402
from page_open import WAIT_MS, put_bare_notebook  # noqa: E402
from report import write_results  # noqa: E402

PASSWORD = "bench founder pw"
# Let the kernels finish starting their apps (live threads, first long-polls) before reading.
SETTLE_SECONDS = 5.0


def seed(hub: TwinSpaceHub, members: int) -> list[dict]:
    """The space and its pupils (one more for the bare page); returns their accounts."""
    founder = hub.add_teacher("memfounder", PASSWORD)
    requests.post(f"{hub.api_base}spaces", headers=founder, timeout=30,
                  json={"slug": "memory", "title": "Memory", "starter": True}
                  ).raise_for_status()
    names = [f"Pupil {i + 1}" for i in range(members + 1)]
    r = requests.post(f"{hub.api_base}spaces/memory/pupils", headers=founder, timeout=120,
                      json={"names": names})
    r.raise_for_status()
    return r.json()["items"]


def server_pid(hub: TwinSpaceHub, name: str) -> int:
    """The pid of `name`'s single-user server (the spawner's state, admin scope)."""
    model = hub.api("GET", f"users/{name}", params={"include_stopped_servers": "0"}).json()
    return int(model["servers"][""]["state"]["pid"])


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over `pids` (processes that ended meanwhile count 0)."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    field, value, *_ = line.split()
                    if field == "Rss:":
                        rss += int(value)
                    elif field == "Pss:":
                        pss += int(value)
        except OSError:
            continue
    return rss, pss


def measure(hub: TwinSpaceHub, name: str) -> dict:
    pid = server_pid(hub, name)
    kernels = descendants(pid)
    rss, pss = memory_kib([pid, *kernels])
    server_rss, _server_pss = memory_kib([pid])
    return {"member": name, "processes": 1 + len(kernels), "rss_mb": rss / 1024,
            "pss_mb": pss / 1024, "server_rss_mb": server_rss / 1024,
            "kernels_rss_mb": (rss - server_rss) / 1024}


def move_around(view, rounds: int) -> None:
    """Click through the section tabs `rounds` times, back to Home: pages shown in place."""
    for _round in range(rounds):
        for label in ("Project Activities", "Chat", "Home"):
            before = view.evaluate("document.body.dataset.tsPage || ''")
            view.locator("nav.ts-nav .ts-sections a", has_text=label).first.click()
            view.wait_for_function("b => (document.body.dataset.tsPage || '') !== b",
                                   arg=before, timeout=WAIT_MS)
    view.wait_for_selector(".ts-shell-content .twinspace-members", timeout=WAIT_MS)


def show_rows(rows: list[dict]) -> None:
    for row in rows:
        print(f"{row['member']:16} {row['processes']:3d} processes "
              f"RSS {row['rss_mb']:7.1f} MB (server {row['server_rss_mb']:6.1f}, kernel "
              f"{row['kernels_rss_mb']:6.1f})  PSS {row['pss_mb']:7.1f} MB", flush=True)


def log_in(browser, hub: TwinSpaceHub, name: str, password: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.url}hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    return page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5,
                        help="members with the view open at the same time (5)")
    parser.add_argument("--swaps", type=int, default=5,
                        help="then rounds of the section tabs in every view, measured again (5)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        sys.exit("Debian's chromium is missing: run `make chromium` first")
    from playwright.sync_api import sync_playwright

    with isolated_hub("bench-member-memory-", missing=sys.exit) as hub:
        accounts = seed(hub, args.members)
        *pupils, bare_pupil = accounts
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            views = []
            for pupil in pupils:
                views.append(log_in(browser, hub, pupil["name"], pupil["password"]))
                print(f"{pupil['name']} logged in", flush=True)
            for view in views:
                view.wait_for_selector("nav.ts-nav", timeout=WAIT_MS * 2)
                view.wait_for_selector(".twinspace-members", timeout=WAIT_MS)
            bare_view = log_in(browser, hub, bare_pupil["name"], bare_pupil["password"])
            bare_view.wait_for_selector("nav.ts-nav", timeout=WAIT_MS * 2)
            put_bare_notebook(hub, bare_pupil["name"])
            bare_view.goto(f"{hub.url}user/{bare_pupil['name']}/voila/render/bare.ipynb")
            bare_view.wait_for_selector("button:has-text('bare widget')", timeout=WAIT_MS)
            time.sleep(SETTLE_SECONDS)
            members = [measure(hub, pupil["name"]) for pupil in pupils]
            bare = measure(hub, bare_pupil["name"])
            show_rows([*members, bare])
            moved = []
            if args.swaps:
                for view in views:
                    move_around(view, args.swaps)
                time.sleep(SETTLE_SECONDS)
                moved = [measure(hub, pupil["name"]) for pupil in pupils]
                print(f"after {args.swaps} rounds of the section tabs, back on Home:")
                show_rows(moved)
            browser.close()

    rss = [row["rss_mb"] for row in members]
    pss = [row["pss_mb"] for row in members]
    summary = {
        "members": len(members),
        "rss_mb_median": statistics.median(rss), "rss_mb_max": max(rss),
        "pss_mb_median": statistics.median(pss), "pss_mb_sum": sum(pss),
        "bare_rss_mb": bare["rss_mb"], "bare_pss_mb": bare["pss_mb"],
        "ratio_rss": statistics.median(rss) / bare["rss_mb"],
        "rss_mb_median_after_swaps": statistics.median(r["rss_mb"] for r in moved)
        if moved else None,
    }
    print(f"\nmember view open (Home), isolate_users={ROOT}: {len(members)} members")
    print(f"RSS per member: median {summary['rss_mb_median']:.1f} MB, "
          f"max {summary['rss_mb_max']:.1f} MB; bare Voila page {bare['rss_mb']:.1f} MB "
          f"(ratio {summary['ratio_rss']:.2f})")
    print(f"PSS per member: median {summary['pss_mb_median']:.1f} MB; "
          f"all members together {summary['pss_mb_sum']:.1f} MB")
    if args.json:
        write_results(args.json, {
            "isolate_users": ROOT, "swaps": args.swaps,
            "raw": {"members": members, "bare": bare, "after_swaps": moved},
            "summary": summary,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
