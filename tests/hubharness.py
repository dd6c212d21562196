"""Start a real JupyterHub (with the node proxy and a managed service) for integration tests.

Usage::

    from hubharness import RealHub, twinspace_command

    with RealHub(twinspace_command(data_dir, db_url)) as hub:
        hub.wait_for_service()
        hub.create_user("alice")
        token = hub.token_for("alice")
        r = requests.get(hub.service_url("api/v1/health"),
                         headers={"Authorization": f"token {token}"})

The hub runs as ``sys.executable -m jupyterhub`` in its own session (process group), in a
temporary directory holding ``jupyterhub_config.py``, the sqlite hub database and the logs.
Everything listens on free 127.0.0.1 ports. ``stop()`` terminates the hub and then makes sure
the proxy and the managed service (which JupyterHub starts in sessions of their own) are gone.

JupyterHub 6.1.1 permission facts this relies on:

* ``HubAuth.user_for_token`` calls ``GET /hub/api/user`` with the *user's* token, so the
  service's own token needs no scopes for token lookups.
* A user token reaches the service only if it carries ``access:services!service=twinspace``
  and the user holds that scope; users get it via ``c.JupyterHub.extra_user_scopes``
  (added in 6.0, appended to the default ``user`` role).
* Creating a token for another user requires the ``tokens`` scope on that user; the requested
  token scopes must be held by the token's owner, not by the requester.
* ``POST /hub/api/users/{name}`` with ``{"admin": true}`` needs an *admin* requester
  (``orm.Service.admin``), which scopes alone don't give: the ``harness`` service is
  configured with the (deprecated, warning-logging) ``"admin": True`` flag.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

SERVICE_NAME = "twinspace"
HARNESS_SERVICE = "harness"
ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
DEFAULT_TOKEN_SCOPES = (ACCESS_SCOPE,)
HARNESS_SCOPES = (
    "admin:users",
    "admin:servers",
    "admin:groups",
    "tokens",
    "list:users",
    "read:users",
    "list:services",
    "read:services",
    "read:roles",
    "read:hub",
    "proxy",
    ACCESS_SCOPE,
)
# HubAuth needs nothing for token lookups; these let the service read user/group models.
SERVICE_SCOPES = ("list:users", "read:users", "list:groups", "read:groups")


def _find_repo_root() -> Path:
    """Return the closest ancestor of this file that contains package.json."""
    here = Path(__file__).resolve().parent
    for cand in (here, *here.parents):
        if (cand / "package.json").is_file():
            return cand
    raise RuntimeError(f"no package.json above {here}")


REPO_ROOT = _find_repo_root()


def proxy_command() -> str:
    """Absolute path of the repo's configurable-http-proxy executable."""
    return str(REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy")


def proxy_available() -> bool:
    """True when the node proxy is installed and node is on PATH (for skip conditions)."""
    return os.access(proxy_command(), os.X_OK) and shutil.which("node") is not None


def twinspace_command(data_dir: str | os.PathLike, db_url: str) -> list[str]:
    """The managed-service command of the real TwinSpace API service."""
    return [
        sys.executable,
        "-m",
        "twinspace_kernel.service",
        "--data-dir",
        str(data_dir),
        "--db-url",
        db_url,
    ]


def free_ports(count: int, avoid: Iterable[int] = ()) -> list[int]:
    """`count` distinct TCP ports free now on 127.0.0.1, none of them in `avoid`.

    Every socket stays bound until all are picked: picked one after another, the same
    port can come back twice (seen once: a hub's proxy and its service given one port).
    """
    avoid = set(avoid)
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        while len(ports) < count:
            s = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in avoid:
                ports.append(port)
        return ports


def free_port(avoid: Iterable[int] = ()) -> int:
    """Return a currently free TCP port on 127.0.0.1 (not one of `avoid`)."""
    return free_ports(1, avoid)[0]


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may contain spaces/parens: split after the last ')'
        fields = stat.rsplit(")", 1)[-1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """All live descendant pids of ``pid`` (Linux /proc based; [] elsewhere)."""
    if not os.path.isdir("/proc"):
        return []
    children = _children_map()
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def pids_with_env(needle: str) -> list[int]:
    """Pids whose environment contains the entry ``needle`` (e.g. ``"KEY=value"``)."""
    want = needle.encode()
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if want in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _starttime(pid: int) -> str | None:
    """Kernel start time of ``pid`` (guards against pid reuse), None if gone/unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[-1].split()[0]
        return state not in ("Z", "X")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


def _signal_tree(pid: int, sig: int) -> None:
    """Signal ``pid``'s process group if it leads one, else just ``pid``."""
    with contextlib.suppress(OSError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _reap(pids: Sequence[int], timeout: float) -> None:
    """SIGTERM ``pids`` (and their groups), SIGKILL whatever survives ``timeout``."""
    live = [p for p in pids if _alive(p)]
    for p in live:
        _signal_tree(p, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        time.sleep(0.1)
        live = [p for p in live if _alive(p)]
    for p in live:
        _signal_tree(p, signal.SIGKILL)


class HubError(RuntimeError):
    """The hub or the service did not come up; the message carries the hub log."""


class RealHub:
    """A real ``jupyterhub`` subprocess with the node proxy and a managed ``twinspace`` service.

    Args:
        service_command: argv of the managed service (e.g. :func:`twinspace_command`).
        service_env: extra environment for the service; ``TWINSPACE_*`` variables of the
            current environment are passed through as well (``service_env`` wins).
        service_scopes: scopes of the service's own role.
        extra_config: additional lines appended to ``jupyterhub_config.py``.
        workdir: directory to run in (default: a fresh temp dir, removed by ``stop()``).
        keep_workdir: keep the temp dir after ``stop()`` (for debugging).
    """

    def __init__(
        self,
        service_command: Sequence[str],
        *,
        service_env: Mapping[str, str] | None = None,
        service_scopes: Sequence[str] = SERVICE_SCOPES,
        extra_config: str = "",
        workdir: str | os.PathLike | None = None,
        keep_workdir: bool = False,
        start_timeout: float = 60.0,
    ) -> None:
        self.service_command = [str(a) for a in service_command]
        env = {k: v for k, v in os.environ.items() if k.startswith("TWINSPACE_")}
        env.update(service_env or {})
        self.service_env = env
        self.service_scopes = list(service_scopes)
        self.extra_config = extra_config
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.keep_workdir = keep_workdir
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="realhub-"))
        self.port, self.hub_port, self.proxy_api_port, self.service_port = free_ports(4)
        self.harness_token = secrets.token_hex(16)
        self.service_token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self._stdout_path = self.workdir / "hub.stdout.log"
        self._stderr_path = self.workdir / "hub.stderr.log"
        self._known_pids: dict[int, str | None] = {}
        self._tokens: dict[tuple[str, tuple[str, ...]], str] = {}
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"token {self.harness_token}"

    # ----------------------------------------------------------------- urls

    @property
    def url(self) -> str:
        """Public base URL (through the proxy), with trailing slash."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        return f"{self.url}hub/api/"

    def service_url(self, path: str = "") -> str:
        return f"{self.url}services/{SERVICE_NAME}/{path.lstrip('/')}"

    # ---------------------------------------------------------------- config

    def config_text(self) -> str:
        services = [
            {"name": HARNESS_SERVICE, "api_token": self.harness_token, "admin": True},
            {
                "name": SERVICE_NAME,
                "url": f"http://127.0.0.1:{self.service_port}",
                "command": self.service_command,
                "environment": self.service_env,
                "api_token": self.service_token,
                "oauth_no_confirm": True,
            },
        ]
        roles = [
            {
                "name": "harness-admin",
                "scopes": list(HARNESS_SCOPES),
                "services": [HARNESS_SERVICE],
            },
            {
                "name": "twinspace-service",
                "scopes": self.service_scopes,
                "services": [SERVICE_NAME],
            },
        ]
        wd = self.workdir
        lines = [
            "# generated by tests/hubharness.py",
            "c = get_config()  # noqa",
            "c.JupyterHub.ip = '127.0.0.1'",
            f"c.JupyterHub.port = {self.port}",
            "c.JupyterHub.hub_ip = '127.0.0.1'",
            f"c.JupyterHub.hub_port = {self.hub_port}",
            f"c.JupyterHub.db_url = {'sqlite:///' + str(wd / 'jupyterhub.sqlite')!r}",
            f"c.JupyterHub.cookie_secret_file = {str(wd / 'jupyterhub_cookie_secret')!r}",
            f"c.JupyterHub.pid_file = {str(wd / 'jupyterhub.pid')!r}",
            "c.JupyterHub.authenticator_class = 'dummy'",
            "c.Authenticator.allow_all = True",
            f"c.ConfigurableHTTPProxy.command = [{proxy_command()!r}]",
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{self.proxy_api_port}'",
            f"c.ConfigurableHTTPProxy.pid_file = {str(wd / 'proxy.pid')!r}",
            "c.ConfigurableHTTPProxy.debug = False",
            f"c.JupyterHub.services = {services!r}",
            f"c.JupyterHub.load_roles = {roles!r}",
            f"c.JupyterHub.extra_user_scopes = {[ACCESS_SCOPE]!r}",
            "c.JupyterHub.cleanup_servers = True",
            "c.JupyterHub.cleanup_proxy = True",
            self.extra_config,
            "",
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------- lifecycle

    def start(self) -> RealHub:
        if self.proc is not None:
            raise RuntimeError("hub already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(self.config_text())
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
        env.pop("CONFIGPROXY_AUTH_TOKEN", None)
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config)],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        atexit.register(self.stop)
        try:
            self._wait_http(self.api_url, self.start_timeout, "hub API")
            self._remember_children()
        except BaseException:
            self.stop(remove=False)
            raise
        return self

    def _wait_http(self, url: str, timeout: float, what: str) -> requests.Response:
        deadline = time.monotonic() + timeout
        last: str = "no attempt"
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise HubError(f"hub exited ({code}) while waiting for {what}\n{self.log}")
            try:
                r = requests.get(url, timeout=5)
                if r.status_code == 200:
                    return r
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            if time.monotonic() > deadline:
                raise HubError(
                    f"{what} at {url} not ready after {timeout}s (last: {last})\n{self.log}"
                )
            time.sleep(0.25)

    def wait_for_service(self, timeout: float = 60.0) -> dict[str, Any]:
        """Poll the service's ``api/v1/health`` through the proxy until it answers 200."""
        r = self._wait_http(self.service_url("api/v1/health"), timeout, "service health")
        self._remember_children()
        try:
            return r.json()
        except ValueError:
            return {}

    def _remember_children(self, pid: int | None = None) -> None:
        pid = pid if pid is not None else (self.proc.pid if self.proc else None)
        if pid is not None:
            for child in descendants(pid):
                self._known_pids.setdefault(child, _starttime(child))

    def _leftover_pids(self) -> set[int]:
        """Children that may outlive the hub: they run in sessions of their own."""
        pids = {p for p, t in self._known_pids.items() if t is not None and _starttime(p) == t}
        with contextlib.suppress(OSError, ValueError):
            pids.add(int((self.workdir / "proxy.pid").read_text().strip()))
        # the managed service gets our unique service token in its environment
        pids.update(pids_with_env(f"JUPYTERHUB_API_TOKEN={self.service_token}"))
        pids.discard(os.getpid())
        return pids

    def stop(self, remove: bool | None = None) -> None:
        """Stop the hub, its proxy and the managed service; remove the temp dir if ours."""
        atexit.unregister(self.stop)
        proc, self.proc = self.proc, None
        if proc is not None:
            self._remember_children(proc.pid)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # the hub cleans up proxy + services
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    pass
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        leftovers = self._leftover_pids()
        if proc is not None or leftovers:
            _reap(sorted(leftovers), timeout=5)
        self._known_pids.clear()
        self._session.close()
        if remove is None:
            remove = self._own_workdir and not self.keep_workdir
        if remove:
            self._log_cache = self.log
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RealHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def log(self) -> str:
        """Hub stdout + stderr so far (includes proxy and service output)."""
        parts = []
        for p in (self._stdout_path, self._stderr_path):
            try:
                parts.append(p.read_text(errors="replace"))
            except OSError:
                pass
        if not parts:
            return getattr(self, "_log_cache", "")
        return "\n".join(parts)

    # ------------------------------------------------------------------ api

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the hub REST API as the ``harness`` admin service; raises on HTTP errors."""
        kwargs.setdefault("timeout", 30)
        r = self._session.request(method, self.api_url + path.lstrip("/"), **kwargs)
        if r.status_code >= 400:
            raise HubError(f"{method} {path} -> {r.status_code}: {r.text}")
        return r

    def create_user(self, name: str, admin: bool = False) -> dict[str, Any]:
        """Create user ``name`` (409 = already exists is fine); returns the user model."""
        r = self._session.post(f"{self.api_url}users/{name}", json={"admin": admin}, timeout=30)
        if r.status_code == 409:
            return self.api("GET", f"users/{name}").json()
        if r.status_code >= 400:
            raise HubError(f"create_user {name} -> {r.status_code}: {r.text}")
        return r.json()

    def token_for(self, name: str, scopes: Sequence[str] | None = None) -> str:
        """An API token of user ``name`` (cached per user and scope set)."""
        scope_list = sorted(set(DEFAULT_TOKEN_SCOPES if scopes is None else scopes))
        key = (name, tuple(scope_list))
        if key not in self._tokens:
            r = self.api(
                "POST",
                f"users/{name}/tokens",
                json={"scopes": scope_list, "note": "hubharness"},
            )
            self._tokens[key] = r.json()["token"]
        return self._tokens[key]

    def auth_headers(self, name: str, scopes: Sequence[str] | None = None) -> dict[str, str]:
        """``{"Authorization": "token ..."}`` for user ``name``."""
        return {"Authorization": f"token {self.token_for(name, scopes)}"}


@contextlib.contextmanager
def running_hub(service_command: Sequence[str], **kwargs: Any) -> Iterator[RealHub]:
    """Context manager: a started hub whose service already answers its health check."""
    with RealHub(service_command, **kwargs) as hub:
        hub.wait_for_service()
        yield hub


def fresh_pg_database(pg_url: str, prefix: str = "twinspace_test") -> tuple[str, Callable]:
    """CREATE a new database on the PostgreSQL server at `pg_url`.

    Returns its URL and a function that drops it (forcing out any connection left).
    """
    import uuid

    import sqlalchemy as sa

    admin_url = sa.make_url(pg_url)
    if admin_url.drivername == "postgresql":
        admin_url = admin_url.set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop
