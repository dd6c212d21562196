"""The public view's system user: unprivileged, no login, in no TwinSpace group."""

from __future__ import annotations

import pwd
import subprocess

PUBLIC_SYSTEM_USER = "ts-public"


class AccountError(RuntimeError):
    """The public view's system user could not be made; the message says why."""


def ensure_public_user(name: str = PUBLIC_SYSTEM_USER) -> pwd.struct_passwd:
    """The system user the public view runs as, created (as root) when missing.

    A system account with a home of its own (IPython keeps its files there), no shell and
    a locked password: nobody logs in as it, and it belongs to no space's group, so the
    shared volume and the hub's and service's data stay closed to it.
    """
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    done = subprocess.run(
        ["useradd", "--system", "--create-home", "--home-dir", f"/home/{name}",
         "--shell", "/usr/sbin/nologin", "--comment", "TwinSpace public view", name],
        capture_output=True, text=True,
    )
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise AccountError(f"Could not create the system user {name}: "
                           f"{done.stdout}{done.stderr}".strip()) from None
    return account
