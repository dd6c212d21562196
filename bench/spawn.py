"""Time login -> server ready on a TwinSpace hub against a bare JupyterHub with the same spawner.

Both hubs run in the same run, side by side, with the node proxy and real single-user
servers started by `twinspace_hub.spawner.TwinSpaceSpawner` with the same settings
(isolated system users when run as root, from the members' env /opt/twinspace/user):

- twinspace: our jupyterhub_config.py (tests/hubproc.py): the login form checks the
  password with the TwinSpace service (argon2, throttling), the hub groups follow the
  member's spaces, and before the spawn the spawner reads the member's roles again and
  sets their Unix groups;
- bare: a generated config (tests/hubharness.RealHub) with JupyterHub's dummy
  authenticator, no TwinSpace service and hence no groups to read.

For each of N users (pupils made through the API on our hub; plain names on the bare one)
and each hub in turn: a fresh session GETs the login form and POSTs it (login), then POSTs
/hub/api/users/{name}/server and polls the user model every 0.1 s until the server is
ready (spawn). Each user's first start includes creating the system user, on both hubs.
One unmeasured user per hub warms the caches first; servers are stopped after measuring.

    .venv/bin/python bench/spawn.py [--users 5] [--json bench/results/spawn.json]

Performance is never asserted in tests: this script only reports numbers.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from hubharness import HARNESS_SCOPES, RealHub  # noqa: E402
from hubproc import (  # noqa: E402
    ROOT,
    USER_ENV,
    TwinSpaceHub,
    browser_login,
    isolated_hub,
    remove_system_accounts,
)
from report import write_results  # noqa: E402
from twinspace_hub.spawner import system_username  # noqa: E402

UPLOAD_LIMIT_MB = 20.0
READY_TIMEOUT = 180.0


class BareHub(RealHub):
    """JupyterHub with the dummy authenticator and our spawner; no TwinSpace service."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(["true"], workdir=workdir)
        spawner = {
            "isolate_users": ROOT,
            "user_env_prefix": USER_ENV,
            "upload_limit_mb": UPLOAD_LIMIT_MB,
            "config_dir": str(workdir / "jupyter-config"),
        }
        harness = {"name": "harness", "api_token": self.harness_token, "admin": True}
        role = {"name": "harness-admin", "scopes": list(HARNESS_SCOPES), "services": ["harness"]}
        self.extra_config = "\n".join([
            "c.JupyterHub.spawner_class = 'twinspace_hub.spawner.TwinSpaceSpawner'",
            *(f"c.TwinSpaceSpawner.{key} = {value!r}" for key, value in spawner.items()),
            # Only the harness: the TwinSpace service RealHub would add is left out.
            f"c.JupyterHub.services = [{harness!r}]",
            f"c.JupyterHub.load_roles = [{role!r}]",
            "c.JupyterHub.cleanup_servers = False",
        ])


def wait_ready(hub: RealHub, session: requests.Session, name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        server = session.get(f"{hub.api_url}users/{name}", timeout=30).json()["servers"].get("")
        if server and server.get("ready"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name}'s server was not ready in {READY_TIMEOUT}s\n{hub.log[-4000:]}")


def login_to_ready(hub: RealHub, name: str, password: str) -> tuple[float, float]:
    """(login seconds, spawn-to-ready seconds) for one user, the way a browser does it."""
    t0 = time.perf_counter()
    session = browser_login(hub, name, password)
    if session.login_response.status_code != 302:
        raise RuntimeError(f"login of {name} failed: {session.login_response.status_code}")
    t1 = time.perf_counter()
    xsrf = next(c.value for c in session.cookies if c.name == "_xsrf" and c.path == "/hub/")
    r = session.post(f"{hub.api_url}users/{name}/server", timeout=READY_TIMEOUT,
                     headers={"X-XSRFToken": xsrf, "Sec-Fetch-Mode": "cors"})
    if r.status_code not in (201, 202):
        raise RuntimeError(f"spawn of {name}: {r.status_code} {r.text}")
    wait_ready(hub, session, name)
    t2 = time.perf_counter()
    hub.api("DELETE", f"users/{name}/server", timeout=60)
    return t1 - t0, t2 - t1


def twinspace_pupils(hub: TwinSpaceHub, count: int) -> list[tuple[str, str]]:
    founder = hub.add_teacher("benchfounder", "bench founder pw")
    requests.post(f"{hub.api_base}spaces", headers=founder, timeout=30,
                  json={"slug": "bench", "title": "Bench"}).raise_for_status()
    r = requests.post(f"{hub.api_base}spaces/bench/pupils", headers=founder, timeout=60,
                      json={"names": [f"Pupil{i} Bench" for i in range(count)]})
    r.raise_for_status()
    return [(p["name"], p["password"]) for p in r.json()["items"]]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5, help="measured users per hub (5)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {
        "twinspace": {"login": [], "spawn": [], "total": []},
        "bare": {"login": [], "spawn": [], "total": []},
    }
    bare_users = [(f"bench{i}", "any") for i in range(args.users + 1)]
    with isolated_hub("bench-spawn-", settings={"upload_limit_mb": UPLOAD_LIMIT_MB},
                      missing=sys.exit) as ours:
        work = Path(tempfile.mkdtemp(prefix="bench-spawn-bare-"))
        work.chmod(0o711)  # members' servers must reach the hub's jupyter-config folder
        bare = BareHub(work)
        try:
            bare.start()
            pupils = twinspace_pupils(ours, args.users + 1)
            # Warm-up (not measured): the members' env is read from disk once, on each hub.
            login_to_ready(ours, *pupils[0])
            login_to_ready(bare, *bare_users[0])
            for i in range(1, args.users + 1):
                for label, hub, (name, password) in (
                    ("twinspace", ours, pupils[i]),
                    ("bare", bare, bare_users[i]),
                ):
                    login, spawn = login_to_ready(hub, name, password)
                    results[label]["login"].append(login)
                    results[label]["spawn"].append(spawn)
                    results[label]["total"].append(login + spawn)
                    print(f"{label:9} {name:12} login {login * 1000:7.0f} ms  "
                          f"spawn->ready {spawn * 1000:7.0f} ms", flush=True)
        finally:
            bare.stop()
            shutil.rmtree(work, ignore_errors=True)
            if ROOT:  # the bare hub's members' accounts (isolated_hub removes ours)
                remove_system_accounts([system_username(name) for name, _ in bare_users], [])

    stats = {label: {k: summary(v) for k, v in parts.items()} for label, parts in results.items()}
    print(f"\nlogin -> server ready, {args.users} users each, isolate_users={ROOT}")
    print(f"{'hub':10} {'login':>10} {'spawn':>10} {'total':>10}   (medians, ms)")
    for label in ("twinspace", "bare"):
        row = [stats[label][k]["median"] * 1000 for k in ("login", "spawn", "total")]
        print(f"{label:10} {row[0]:10.0f} {row[1]:10.0f} {row[2]:10.0f}")
    ratio = stats["twinspace"]["total"]["median"] / stats["bare"]["total"]["median"]
    print(f"ratio twinspace / bare (median total): {ratio:.2f}")
    if args.json:
        write_results(args.json, {
            "users": args.users,
            "isolate_users": ROOT,
            "raw": results,
            "stats": stats,
            "ratio_total_median": ratio,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
