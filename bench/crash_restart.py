"""How long members see errors when the service is killed (kill -9), through the real proxy.

Starts a real hub with the real service (tests/hubharness.py), then N times: kills the
service process with SIGKILL while a client polls `api/v1/health` through the node proxy
every 20 ms, and records the gap from the kill to the first 200 again, and how many
answers in that gap were errors. Also reports whether the client's own retries
(twinspace_kernel.client, idempotent calls) would have covered the gap.

    .venv/bin/python bench/crash_restart.py [--kills 5] [--json bench/results/crash_restart.json]

Performance is never asserted in tests: this script only reports numbers.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))
sys.path.insert(0, str(BENCH.parent))

from hubharness import RealHub, twinspace_command  # noqa: E402
from report import write_results  # noqa: E402

from twinspace_kernel.client import TwinSpaceClient  # noqa: E402


def gap_after_kill(hub: RealHub, pid_file: Path) -> tuple[float, int]:
    """Seconds from SIGKILL to the next healthy answer, and error answers meanwhile."""
    pid = int(pid_file.read_text())
    session = requests.Session()
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    errors = 0
    while True:
        try:
            r = session.get(hub.service_url("api/v1/health"), timeout=5)
            if r.status_code == 200 and int(pid_file.read_text()) != pid:
                return time.monotonic() - killed, errors
            errors += r.status_code != 200
        except (requests.RequestException, ValueError):
            errors += 1
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crash-bench-") as tmp:
        data = Path(tmp) / "data"
        hub = RealHub(twinspace_command(data, f"sqlite:///{tmp}/ts.sqlite"))
        hub.start()
        try:
            hub.wait_for_service()
            gaps, errors = [], []
            for _ in range(args.kills):
                gap, bad = gap_after_kill(hub, data / "service.pid")
                gaps.append(gap)
                errors.append(bad)
                time.sleep(1)
        finally:
            hub.stop()
    retry = TwinSpaceClient.__init__.__kwdefaults__["retry_seconds"]
    result = {
        "kills": args.kills,
        "gap_seconds": {"p50": round(statistics.median(gaps), 2), "max": round(max(gaps), 2),
                        "all": [round(g, 2) for g in gaps]},
        "error_answers_per_kill": {"max": max(errors), "all": errors},
        "client_retry_seconds": retry,
        "covered_by_client_retries": max(gaps) < retry,
    }
    print(f"service killed {args.kills}x: back after p50 {result['gap_seconds']['p50']} s, "
          f"max {result['gap_seconds']['max']} s; client retries {retry} s "
          f"({'cover' if result['covered_by_client_retries'] else 'do NOT cover'} the gap)")
    if args.json:
        write_results(args.json, result)


if __name__ == "__main__":
    main()
