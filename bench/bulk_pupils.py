"""Time bulk pupil accounts: 500 pupils made as `twinspace pupils add` makes them, plus the sheet.

Starts a real TwinSpace hub (tests/hubproc.py: our jupyterhub_config.py, the node proxy,
the managed API service), makes a teacher and a space, then measures in the same run:

1. `twinspace pupils add SLUG --teacher T --count N --csv … --sheet …` run in-process
   (the whole command: batches of 25 per request, table, CSV, sheet);
2. the same N pupils from names through the CLI's `create_pupils` (the API calls alone),
   with the time of each batch, while another thread asks the service's `/health`
   every 50 ms: its latencies show whether hashing blocks the service's event loop;
3. `credentials_sheet()` for the N pupils, and printing that HTML to PDF with headless
   Chromium (when installed): the page count shows ten slips per A4 page.

Usage::

    .venv/bin/python bench/bulk_pupils.py [--pupils 500] [--json bench/results/bulk.json]

Everything listens on 127.0.0.1 only; the hub is stopped at the end. Numbers only:
performance is never asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from hubproc import TwinSpaceHub  # noqa: E402
from twinspace_hub import cli  # noqa: E402

from twinspace_kernel.client import TwinSpaceClient  # noqa: E402
from twinspace_kernel.sheets import credentials_sheet  # noqa: E402

FIRST = ["Ana", "Léa", "Hugo", "Zofia", "Jakub", "Maja", "Louis", "Inès", "Antoni", "Chloé"]
LAST = ["Lopez", "Martin", "Nowak", "Wójcik", "Bernard", "Petit", "Kamiński", "Moreau"]


def names(n: int) -> list[str]:
    return [f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}" for i in range(n)]


class Prober(threading.Thread):
    """GET `url` every `every` seconds until stopped; keeps each answer's latency."""

    def __init__(self, url: str, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.url, self.every = url, every
        self.latencies: list[float] = []
        self.errors = 0
        self.done = threading.Event()

    def run(self) -> None:
        with requests.Session() as session:
            while not self.done.wait(self.every):
                start = time.perf_counter()
                try:
                    ok = session.get(self.url, timeout=30).status_code == 200
                except requests.RequestException:
                    ok = False
                if ok:
                    self.latencies.append(time.perf_counter() - start)
                else:
                    self.errors += 1

    def stop(self) -> dict:
        self.done.set()
        self.join()
        values = sorted(self.latencies)
        pick = lambda p: values[min(len(values) - 1, int(p * len(values)))] * 1000  # noqa: E731
        return {"probes": len(values), "errors": self.errors, "p50_ms": pick(0.5),
                "p95_ms": pick(0.95), "max_ms": values[-1] * 1000}


def print_pdf(html_path: Path, workdir: Path) -> tuple[float, int] | None:
    chromium = shutil.which("chromium")
    if not chromium:
        return None
    pdf = workdir / "sheet.pdf"
    start = time.perf_counter()
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={workdir / 'chromium'}", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", html_path.as_uri()],
        check=True, capture_output=True, timeout=600, env={**os.environ, "HOME": str(workdir)},
    )
    seconds = time.perf_counter() - start
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return seconds, pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pupils", type=int, default=500)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    n = args.pupils

    workdir = Path(tempfile.mkdtemp(prefix="twinspace-bulk-"))
    hub = TwinSpaceHub(workdir / "data", settings={"isolate_users": False},
                       extra_config="c.JupyterHub.spawner_class = 'simple'")
    load_before = os.getloadavg()
    results: dict = {
        "pupils": n, "batch": cli.BATCH, "cpus": os.cpu_count(),
        "python": platform.python_version(), "machine": platform.machine(),
    }
    try:
        hub.start()
        hub.wait_for_service()
        api = f"http://127.0.0.1:{hub.service_port}/services/twinspace/api/v1/"
        base = ["--data-dir", str(hub.data_dir), "--api-url", api]
        quiet = io.StringIO()

        def twinspace(*argv: str) -> None:
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                code = cli.main([*argv, *base])
            if code != 0:
                raise SystemExit(f"twinspace {' '.join(argv)} failed:\n{quiet.getvalue()}")

        twinspace("teacher", "add", "bench", "--name", "Bench Teacher", "--school",
                  "Collège Jean Moulin", "--country", "FR")
        twinspace("space", "create", "bulk-one", "--title", "Bulk one", "--founder", "bench")
        twinspace("space", "create", "bulk-two", "--title", "Bulk two", "--founder", "bench")

        # 1. The whole command.
        start = time.perf_counter()
        twinspace("pupils", "add", "bulk-one", "--teacher", "bench", "--count", str(n),
                  "--csv", str(workdir / "class.csv"), "--sheet", str(workdir / "slips.html"))
        results["cli_seconds"] = time.perf_counter() - start

        # 2. The API calls alone, batch by batch, from names.
        client = TwinSpaceClient(api, hub.tokens["twinspace-admin"])
        probe = Prober(api + "health")
        probe.start()
        marks = [time.perf_counter()]
        created, hub_url, error = cli.create_pupils(
            client, "bulk-two", "bench", names=names(n),
            on_batch=lambda done, total: marks.append(time.perf_counter()))
        results["health_during"] = probe.stop()
        if error is not None:
            raise SystemExit(f"create_pupils failed: {error.message}")
        batches = [b - a for a, b in zip(marks, marks[1:], strict=False)]
        results["api_seconds"] = marks[-1] - marks[0]
        results["batch_median_seconds"] = statistics.median(batches)
        results["batch_max_seconds"] = max(batches)
        results["unique_usernames"] = len({p["name"] for p in created})

        # 3. The sheet.
        start = time.perf_counter()
        html = credentials_sheet(created, hub_url=hub_url, space_title="Bulk two",
                                 school="Collège Jean Moulin")
        results["sheet_seconds"] = time.perf_counter() - start
        results["sheet_bytes"] = len(html.encode())
        sheet = workdir / "bulk-two.html"
        sheet.write_text(html, encoding="utf-8")
        printed = print_pdf(sheet, workdir)
        if printed:
            results["pdf_seconds"], results["pdf_pages"] = printed
    finally:
        hub.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    results["loadavg_before"], results["loadavg_after"] = load_before, os.getloadavg()
    print(f"{n} pupils, batches of {cli.BATCH}, {results['cpus']} CPUs, "
          f"Python {results['python']}; load average before "
          f"{' '.join(f'{x:.2f}' for x in load_before)}, after "
          f"{' '.join(f'{x:.2f}' for x in results['loadavg_after'])}")
    print(f"  twinspace pupils add --count {n} --csv --sheet : {results['cli_seconds']:.2f} s")
    print(f"  API calls alone (from names)                  : {results['api_seconds']:.2f} s "
          f"({results['api_seconds'] / n * 1000:.1f} ms/pupil; batch median "
          f"{results['batch_median_seconds']:.2f} s, max {results['batch_max_seconds']:.2f} s)")
    h = results["health_during"]
    print(f"  GET /health meanwhile, every 50 ms          : {h['probes']} answers, "
          f"{h['errors']} errors, p50 {h['p50_ms']:.1f} ms, p95 {h['p95_ms']:.1f} ms, "
          f"max {h['max_ms']:.1f} ms")
    print(f"  credentials_sheet() ({results['sheet_bytes'] // 1024} KiB HTML)            : "
          f"{results['sheet_seconds'] * 1000:.1f} ms")
    if "pdf_seconds" in results:
        print(f"  Chromium print to PDF                         : {results['pdf_seconds']:.2f} s, "
              f"{results['pdf_pages']} A4 pages")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
