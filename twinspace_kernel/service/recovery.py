"""After a crash: leftovers swept at start, a stale service cleared, none outliving its hub."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from sqlalchemy import select

from ..store import models as m
from .uploads import KEY_PATTERN

log = logging.getLogger("twinspace.recovery")

PID_FILE = "service.pid"
# Linux prctl(2): PR_SET_PDEATHSIG, the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1
# What marks a process as a TwinSpace service (its command line).
SERVICE_MODULE = b"twinspace_kernel.service"


def die_with_parent() -> None:
    """End this process when the process that started it (the hub) goes, even by kill -9.

    Without it an orphaned service keeps the port and serves on after its hub died.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("Could not ask to end with the hub: %s", os.strerror(ctypes.get_errno()))
        return
    if os.getppid() != parent:  # the hub died before the request took effect
        sys.exit("The hub that started this service is gone.")


# --- files a crash can leave ------------------------------------------------------------


def referenced_blobs(db) -> set[str]:
    """Every file-store key a row refers to."""
    columns = (m.Profile.photo_key, m.Document.blob_key, m.Photo.blob_key, m.Photo.thumb_key)
    keys: set[str] = set()
    for column in columns:
        keys.update(key for key in db.scalars(select(column)) if key)
    return keys


def sweep_leftovers(files_root: Path, referenced: set[str],
                    other_dirs: tuple[Path | None, ...] = ()) -> tuple[int, int]:
    """Remove half-written temporary files and blobs no row refers to; (count, bytes).

    Called before the service listens: no write is in flight, so any temporary file is
    a crash's, and a blob without a row is one whose row was never committed.
    """
    count = size = 0

    def remove(path: Path) -> None:
        nonlocal count, size
        try:
            length = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        count += 1
        size += length

    if files_root.is_dir():
        for path in files_root.glob("*/*"):
            if path.name.startswith(".tmp-"):
                remove(path)
            elif KEY_PATTERN.fullmatch(path.name) and path.name not in referenced:
                remove(path)
    for directory in other_dirs:
        # The shared volume's and the published copies' atomic writes: `.<name>.*.tmp`.
        if directory is not None and directory.is_dir():
            for path in directory.rglob(".*.tmp"):
                if path.is_file():
                    remove(path)
    return count, size


# --- a service left running by an older hub ----------------------------------------------


def port_is_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _process(pid: int) -> tuple[bytes, int] | None:
    """(command line, parent pid) of a live process, None if it is gone."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return cmdline, int(stat.rsplit(")", 1)[1].split()[1])


def stale_service_pids(pid: int) -> list[int]:
    """The service `pid` and its watcher when no hub is above them any more, outermost
    first; [] when `pid` is not a TwinSpace service or a live hub still runs it."""
    found = _process(pid)
    if found is None or SERVICE_MODULE not in found[0]:
        return []
    chain = [pid]
    parent = found[1]
    while parent > 1:
        above = _process(parent)
        if above is None:
            break
        if b"jupyterhub" in above[0]:
            return []  # its hub is alive: not ours to stop
        if SERVICE_MODULE in above[0]:
            chain.insert(0, parent)  # the watcher (__main__) that would start it again
        parent = above[1]
    return chain


def clear_stale_service(data_dir: Path, ip: str, port: int, timeout: float = 15.0) -> None:
    """Make the port ours: stop a service an earlier, dead hub left running there.

    Anything else holding the port is not ours to stop: a clear message and exit.
    """
    if port_is_free(ip, port):
        return
    pid_file = data_dir / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid = 0
    stale = stale_service_pids(pid) if 0 < pid != os.getpid() else []
    if not stale:
        sys.exit(f"Port {port} on {ip} is in use by another program: stop it, or give the "
                 "TwinSpace service another port (TWINSPACE_SERVICE_PORT).")
    log.warning("A TwinSpace service (pid %s) left running by a previous hub holds port %i: "
                "stopping it.", ", ".join(map(str, stale)), port)
    for stale_pid in stale:
        _stop(stale_pid, timeout)
    deadline = time.monotonic() + timeout
    while not port_is_free(ip, port):
        if time.monotonic() > deadline:
            sys.exit(f"Port {port} on {ip} is still in use after stopping pid {pid}.")
        time.sleep(0.1)


def _stop(pid: int, timeout: float) -> None:
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _process(pid) is None:
                return
            time.sleep(0.1)


def write_pid_file(data_dir: Path) -> None:
    path = data_dir / PID_FILE
    path.write_text(f"{os.getpid()}\n")
