"""`python -m twinspace_kernel.service` starts the TwinSpace API service, kept running.

The hub notices a dead managed service only at its next poll (every 30 s), and those
seconds are failed logins and error pages for everyone. So this process only watches:
the service runs in a child process, started again at once if it dies (a crash, an
out-of-memory kill), while a stop signal from the hub stops both. A child that keeps
dying right after starting is a broken installation: then this process exits too, with
the child's status, and the hub's log says why.
"""

import signal
import subprocess
import sys
import time

from .recovery import die_with_parent

# A child that lived less than this died of its start, not of an accident.
QUICK_DEATH_SECONDS = 10.0
QUICK_DEATHS_ALLOWED = 3


def supervise(argv: list[str]) -> int:
    die_with_parent()
    command = [sys.executable, "-m", "twinspace_kernel.service.app", *argv]
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    quick_deaths = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        status = child.wait()
        if stopping:
            return status
        quick_deaths = quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH_SECONDS else 0
        if quick_deaths >= QUICK_DEATHS_ALLOWED:
            print(f"The TwinSpace service keeps exiting at start (status {status}): giving up.",
                  file=sys.stderr, flush=True)
            return status or 1
        print(f"The TwinSpace service exited (status {status}): starting it again.",
              file=sys.stderr, flush=True)


sys.exit(supervise(sys.argv[1:]))
