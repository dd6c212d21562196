"""Crash recovery of the TwinSpace service under a real hub: no leftovers, no gaps, no orphans.

Each test starts its own small hub (no members' servers) with the real service command,
kills processes with SIGKILL as a crash would, and waits on conditions (never on
durations): the service is back, its leftovers are gone, nothing outlives its hub.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from hubharness import RealHub, proxy_available, twinspace_command

pytestmark = [
    pytest.mark.hub,
    pytest.mark.skipif(not proxy_available(), reason="the node proxy is not installed"),
]


def wait_for(condition, what: str, timeout: float = 120) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not reached: {what}"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def parent_of(pid: int) -> int:
    """The parent of `pid`, -1 once it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except FileNotFoundError:
        return -1


def service_pid(data_dir: Path) -> int:
    return int((data_dir / "service.pid").read_text())


def healthy(hub: RealHub) -> bool:
    try:
        return requests.get(hub.service_url("api/v1/health"), timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "service-data"


@pytest.fixture
def hub(data_dir, tmp_path):
    real = RealHub(twinspace_command(data_dir, f"sqlite:///{tmp_path / 'ts.sqlite'}"))
    real.start()
    try:
        real.wait_for_service()
        yield real
    finally:
        real.stop()


def test_a_killed_service_is_back_at_once_and_sweeps_what_the_crash_left(hub, data_dir):
    first = service_pid(data_dir)
    watcher = parent_of(first)
    # What a kill -9 in the middle of writes leaves: a half-written upload and blobs whose
    # rows were never committed; and a half-written page notebook in the volume.
    files = data_dir / "files"
    (files / "ab").mkdir(parents=True, exist_ok=True)
    half_written = files / "ab" / ".tmp-x1y2z3"
    half_written.write_bytes(b"\0" * 300_000)
    orphan = files / "cd" / uuid.uuid4().hex
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"\0" * 200_000)
    spaces = data_dir / "spaces" / "some-space" / "home"
    spaces.mkdir(parents=True, exist_ok=True)
    page_tmp = spaces / ".welcome.k3j4.tmp"
    page_tmp.write_text("{")

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: (data_dir / "service.pid").exists() and service_pid(data_dir) != first
             and healthy(hub), "the service answering again")
    second = service_pid(data_dir)
    # Its watcher started it again (the hub would only notice at its next poll).
    assert parent_of(second) == watcher and alive(watcher)
    assert not half_written.exists() and not orphan.exists() and not page_tmp.exists()
    wait_for(lambda: "Removed 3 file(s) (0.5 MB) left by an interrupted write." in hub.log,
             "the sweep in the log")


def test_the_service_ends_with_its_hub(hub, data_dir):
    service = service_pid(data_dir)
    watcher = parent_of(service)
    os.kill(hub.proc.pid, signal.SIGKILL)
    wait_for(lambda: not alive(service) and not alive(watcher), "the service gone with its hub")


def test_a_new_hub_stops_a_service_left_running_and_takes_over(data_dir, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'ts.sqlite'}"
    first = RealHub(twinspace_command(data_dir, db_url))
    first.start()
    try:
        first.wait_for_service()
        port = first.service_port
        # An older service that no hub runs any more (as an older version left them):
        # started here, outside any hub, on the port the next hub's service wants.
        first.stop(remove=False)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        stale = subprocess.Popen(
            [*twinspace_command(data_dir, db_url), "--port", str(port)],
            env=env, start_new_session=True,
        )
        wait_for(lambda: (data_dir / "service.pid").exists()
                 and parent_of(service_pid(data_dir)) == stale.pid, "the stale service up")
        stale_service = service_pid(data_dir)

        second = RealHub(twinspace_command(data_dir, db_url))
        second.service_port = port
        second.start()
        try:
            # (The stale one answers on that port until the new one has stopped it.)
            wait_for(lambda: stale.poll() is not None and not alive(stale_service),
                     "the stale service stopped")
            wait_for(lambda: service_pid(data_dir) != stale_service and healthy(second),
                     "the new hub's service answering")
            assert "left running by a previous hub holds port" in second.log
        finally:
            second.stop()
    finally:
        first.stop()
        if "stale" in locals() and stale.poll() is None:
            stale.kill()
