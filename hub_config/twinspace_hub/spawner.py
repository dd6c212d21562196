"""Starts members' servers: each as its own system user when the hub is root, else all as one.

With isolate_users (the hub runs as root), hub user `anna` runs as the system user
`ts-anna`, created on first start (home /home/ts-anna, mode 0700, no password login) like
The Littlest JupyterHub's UserCreatingSpawner. Their spaces and roles become supplementary
Unix groups (`space:twin:pupil` -> `ts-twin-p`), set to exactly the current ones before
each start, so a role taken away takes its group with it. The server runs from the
members' Python environment (user_env_prefix), which system users can read.

Without it (development mode) every server runs as the hub's own user, each in its own
folder under <data>/dev-homes/: members are NOT isolated from each other or the hub.
"""

from __future__ import annotations

import asyncio
import grp
import json
import os
import pwd
import re
import shutil
import sys
import time
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SpawnException, set_user_setuid
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Bool, Float, Unicode, default

from twinspace_kernel.unix import (
    MAX_UNIX_NAME,
    ROLE_ABBREVIATIONS,
    UNIX_SAFE_RE,
    USER_PREFIX,
    short_hash,
    unix_group,
)

HUB_GROUP_RE = re.compile(r"^space:(?P<slug>[^:]+):(?P<role>[a-z_]+)$")
NOT_ISOLATED_WARNING = (
    "members are NOT isolated: development mode. Every member's server runs as the hub's "
    "user (%s) and can read the hub's and the service's data. Run the hub as root for "
    "real use."
)
USER_ENV_MISSING = (
    "The members' Python environment is missing at {prefix}: run `twinspace user-env` "
    "(or make user-env) as root."
)
# JupyterHub serves and proxies a server's websockets; Tornado closes one whose message
# passes 10 MiB, which silently breaks a page that sends a larger file through an upload
# widget. Allow the upload limit with base64's growth (4/3, rounded up) and a margin.
WEBSOCKET_OVERHEAD = 1.5
WEBSOCKET_MARGIN = 1024 * 1024
# Voila stops a page's kernel when its page closes; one left by a browser that vanished
# is culled once idle and no longer connected, so an open view keeps one live kernel.
KERNEL_CULLING = {"cull_idle_timeout": 600, "cull_interval": 60, "cull_connected": False}


def system_username(hub_name: str) -> str:
    """The system user of hub user `hub_name`: `ts-<name>`, always a valid Unix name.

    Names that are not already lowercase letters, digits, '_' and '-', or that would be
    longer than 32 characters, are cleaned, shortened and given a hash of the full hub
    name, so two hub names never share a system user.
    """
    if UNIX_SAFE_RE.match(hub_name) and len(USER_PREFIX) + len(hub_name) <= MAX_UNIX_NAME:
        return USER_PREFIX + hub_name
    clean = re.sub(r"[^a-z0-9_-]+", "-", hub_name.lower()).strip("-_")
    suffix = "-" + short_hash(hub_name, 8)
    keep = MAX_UNIX_NAME - len(USER_PREFIX) - len(suffix)
    return USER_PREFIX + clean[:keep].rstrip("-_") + suffix


def unix_groups_for(hub_groups: list[str]) -> list[str]:
    """Unix groups for hub groups `space:<slug>:<role>`; other groups are not mapped."""
    found = set()
    for name in hub_groups:
        match = HUB_GROUP_RE.match(name)
        if match and match["role"] in ROLE_ABBREVIATIONS:
            found.add(unix_group(match["slug"], match["role"]))
    return sorted(found)


def websocket_limit_bytes(upload_limit_mb: float) -> int:
    return int(upload_limit_mb * 1024 * 1024 * WEBSOCKET_OVERHEAD) + WEBSOCKET_MARGIN


def write_server_config(config_dir: str | os.PathLike, upload_limit_mb: float) -> Path:
    """Write the single-user servers' jupyter_server_config.json (world-readable)."""
    directory = Path(config_dir)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    path = directory / "jupyter_server_config.json"
    settings = {"websocket_max_message_size": websocket_limit_bytes(upload_limit_mb)}
    config = {
        "ServerApp": {
            "tornado_settings": settings,
            # The member view, and Voila that renders its pages, in every member's server.
            "jpserver_extensions": {"voila.server_extension": True, "twinspace_view": True},
            # The home folder plus the virtual TwinSpace/ folder of the member's spaces.
            "contents_manager_class": "twinspace_volume.TwinSpaceContentsManager",
        },
        "MappingKernelManager": KERNEL_CULLING,
    }
    text = json.dumps(config, indent=1) + "\n"
    if not path.exists() or path.read_text() != text:
        # Replace in one step: a server starting meanwhile never reads half a file.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(0o644)
        tmp.replace(path)
    return path


def warn_if_not_isolated(isolate_users: bool, log) -> None:
    """Log the development-mode warning (the hub calls this at start, the spawner per spawn)."""
    if not isolate_users:
        log.warning("!" * 78)
        log.warning(NOT_ISOLATED_WARNING, pwd.getpwuid(os.geteuid()).pw_name)
        log.warning("!" * 78)


async def _command(*cmd: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    return process.returncode, out.decode(errors="replace").strip()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


class TwinSpaceSpawner(LocalProcessSpawner):
    """Runs each member's server as their own system user, or all as one in development mode.

    Sets TWINSPACE_API_URL (the kernels' client calls the service with the server's
    token) and JUPYTER_CONFIG_PATH (the websocket message limit that fits the upload limit).
    """

    isolate_users = Bool(
        False,
        config=True,
        help="""Run each member's server as their own system user `ts-<name>`.

        Needs the hub to run as root. Users are created on first start (useradd; home
        /home/ts-<name>, mode 0700, no password) and get one supplementary group per space
        and role, kept in step with their memberships at every start. Off: development
        mode, where every server runs as the hub's user and members are NOT isolated.
        """,
    )
    user_env_prefix = Unicode(
        "/opt/twinspace/user",
        config=True,
        help="""The members' Python environment (a venv system users can read).

        Isolated servers run <prefix>/bin/jupyterhub-singleuser. Built by
        `twinspace user-env` (or `make user-env`) as root.
        """,
    )
    service_api_url = Unicode(
        "",
        config=True,
        help="""The TwinSpace API root as servers on this machine reach it (…/api/v1/).

        Given to every server as $TWINSPACE_API_URL; the kernels' client calls it with the
        server's own token ($JUPYTERHUB_API_TOKEN).
        """,
    )
    service_api_token = Unicode(
        "",
        config=True,
        help="""A token the TwinSpace service trusts, to read a member's current spaces and
        roles just before their server starts (their Unix groups follow them).
        """,
    )
    upload_limit_mb = Float(
        20.0,
        config=True,
        help="""Largest upload in MB; servers accept websocket messages big enough for it
        (upload x 1.5 + 1 MiB: a file sent through an upload widget travels base64-encoded).
        """,
    )
    config_dir = Unicode(
        "",
        config=True,
        help="""Where the hub writes the single-user servers' jupyter_server_config.json.

        Added to each server's $JUPYTER_CONFIG_PATH; made world-readable (directory 0755,
        file 0644) so that servers running as members' system users can read it.
        Empty: no shared server configuration.
        """,
    )
    dev_homes_dir = Unicode(
        config=True,
        help="""Development mode only: each member's folder is <dev_homes_dir>/<name>.

        Default: dev-homes/ beside config_dir (in the hub's data directory).
        """,
    )
    spaces_dir = Unicode(
        "",
        config=True,
        help="""The shared volume of the spaces' notebooks (<data>/spaces).

        Given to every server as $TWINSPACE_SPACES_DIR: the TwinSpace/ folder of JupyterLab
        reads the files there directly, as the member (the OS permissions apply).
        """,
    )
    service_timeout = Float(
        10.0, config=True, help="Seconds to wait for the service when reading a member's roles."
    )

    @default("dev_homes_dir")
    def _default_dev_homes_dir(self):
        base = Path(self.config_dir).parent if self.config_dir else Path.cwd()
        return str(base / "dev-homes")

    @default("cmd")
    def _default_cmd(self):
        if self.isolate_users:
            return [str(Path(self.user_env_prefix) / "bin" / "jupyterhub-singleuser")]
        # The hub's own environment: fine, since in this mode servers run as the hub's user.
        return [str(Path(sys.executable).parent / "jupyterhub-singleuser")]

    # --- names ----------------------------------------------------------------------------

    @property
    def system_user(self) -> str:
        """The account this server runs as."""
        if self.isolate_users:
            return system_username(self.user.name)
        return pwd.getpwuid(os.geteuid()).pw_name

    @property
    def dev_home(self) -> Path:
        return Path(self.dev_homes_dir) / self.user.name

    # --- start ----------------------------------------------------------------------------

    async def start(self):
        if self.config_dir:
            write_server_config(self.config_dir, self.upload_limit_mb)
        self.member = await self._member_record()
        if self.isolate_users:
            await self._prepare_system_user()
        else:
            warn_if_not_isolated(False, self.log)
            self.dev_home.mkdir(parents=True, exist_ok=True)
        return await super().start()

    async def _prepare_system_user(self) -> None:
        if os.geteuid() != 0:
            raise SpawnException(
                "This hub isolates members (isolate_users) but does not run as root: start "
                "it as root, or turn isolation off for development.",
                reason="not_root",
                status_code=500,
            )
        singleuser = Path(self.cmd[0])
        if not os.access(singleuser, os.X_OK):
            raise SpawnException(
                USER_ENV_MISSING.format(prefix=self.user_env_prefix),
                reason="user_env_missing",
                status_code=503,
            )
        self._check_config_reachable()
        name = self.system_user
        if not _user_exists(name):
            await self._create_user(name)
        groups = unix_groups_for(self.member["groups"])
        for group in groups:
            if not _group_exists(group):
                code, out = await _command("groupadd", group)
                # Another spawn may have created it at the same moment.
                if code != 0 and not _group_exists(group):
                    raise SpawnException(
                        f"Could not create the group {group}: {out}", reason="groupadd",
                        status_code=500,
                    )
        # Exactly the current groups: a role taken away loses its group here.
        code, out = await _command("usermod", "-G", ",".join(groups), name)
        if code != 0:
            raise SpawnException(
                f"Could not set the groups of {name}: {out}", reason="usermod", status_code=500
            )
        self.log.info("%s runs as %s with groups %s", self.user.name, name, groups or "none")

    def _check_config_reachable(self) -> None:
        """Say so when members could not reach the server config (e.g. data under /root)."""
        if not self.config_dir:
            return
        for folder in Path(self.config_dir).parents:
            if not folder.stat().st_mode & 0o001:
                self.log.warning(
                    "%s is not traversable by others: members' servers cannot read %s "
                    "(uploads over 10 MiB will fail). Put the data directory elsewhere.",
                    folder, self.config_dir,
                )
                return

    async def _create_user(self, name: str) -> None:
        home = f"/home/{name}"
        self.log.info("Creating system user %s for %s", name, self.user.name)
        code, out = await _command(
            "useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash",
            "--comment", f"TwinSpace member {self.user.name}"[:200], name,
        )
        if code != 0 and not _user_exists(name):
            raise SpawnException(
                f"Could not create the system user {name}: {out}", reason="useradd",
                status_code=500,
            )
        # useradd leaves the password locked ('!'): members log in through the hub only.
        os.chmod(home, 0o700)

    async def _member_record(self) -> dict:
        """The member's spaces, roles and language from the service.

        When the service is down, the hub's copy of the groups and no language.
        """
        if self.service_api_url and self.service_api_token:
            request = HTTPRequest(
                f"{self.service_api_url}auth/users/{self.user.name}",
                headers={"Authorization": f"token {self.service_api_token}"},
                request_timeout=self.service_timeout,
            )
            try:
                response = await AsyncHTTPClient().fetch(request, raise_error=False)
            except (OSError, HTTPClientError) as e:
                self.log.warning("Reading %s's roles from the service: %s", self.user.name, e)
            else:
                if response.code == 200:
                    return json.loads(response.body)
                self.log.warning(
                    "The service answered %s for %s's roles; using the hub's groups",
                    response.code, self.user.name,
                )
        return {"groups": [group.name for group in self.user.groups]}

    # --- erasure --------------------------------------------------------------------------

    # How long a departing member's processes (a stopped server's kernels) may take to exit
    # before their system user is removed anyway.
    remove_user_timeout = 60.0

    async def delete_forever(self):
        """The hub user is deleted (an erased account, F35): their home goes with them.

        Isolated: the system user `ts-<name>` and its home directory (userdel --remove);
        development mode: their folder under dev_homes_dir. Called once their server is
        stopped; processes still on their way out are waited for.
        """
        if not self.isolate_users:
            shutil.rmtree(self.dev_home, ignore_errors=True)
            return
        name = system_username(self.user.name)
        try:
            home = pwd.getpwnam(name).pw_dir
        except KeyError:
            return
        deadline = time.monotonic() + self.remove_user_timeout
        while True:
            code, out = await _command("userdel", "--remove", name)
            # 8: a process of theirs (a kernel of the stopped server) is still running.
            if code != 8 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        if code not in (0, 12):  # 12: the user went, only the home could not be removed
            self.log.error("Could not remove the system user %s of the erased member %s: %s",
                           name, self.user.name, out)
            return
        if home.startswith("/home/") and os.path.isdir(home):
            shutil.rmtree(home, ignore_errors=True)
        self.log.info("Removed the system user %s and home %s of the erased member %s",
                      name, home, self.user.name)

    # --- process --------------------------------------------------------------------------

    def make_preexec_fn(self, name):
        """Switch to the member's system user (isolated) or enter their folder (development)."""
        if self.isolate_users:
            return set_user_setuid(self.system_user)
        home = str(self.dev_home)

        def preexec():
            os.chdir(home)

        return preexec

    def user_env(self, env):
        if self.isolate_users:
            account = pwd.getpwnam(self.system_user)
            env["USER"] = account.pw_name
            env["HOME"] = account.pw_dir
            env["SHELL"] = account.pw_shell or "/bin/bash"
            # Nothing of the hub's own environment: only the members' env and the system.
            for key in ("PYTHONPATH", "CONDA_DEFAULT_ENV", "CONDA_ROOT"):
                env.pop(key, None)
            env["VIRTUAL_ENV"] = self.user_env_prefix
            env["PATH"] = f"{self.user_env_prefix}/bin:/usr/local/bin:/usr/bin:/bin"
        else:
            env["USER"] = self.system_user
            env["HOME"] = str(self.dev_home)
            env["SHELL"] = "/bin/bash"
            env["JUPYTERHUB_ROOT_DIR"] = str(self.dev_home)
            bin_dir = str(Path(sys.executable).parent)
            env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", os.defpath)])
        return env

    def get_env(self):
        env = super().get_env()
        if self.service_api_url:
            env["TWINSPACE_API_URL"] = self.service_api_url
        if self.spaces_dir:
            env["TWINSPACE_SPACES_DIR"] = self.spaces_dir
        if getattr(self, "member", {}).get("locale"):
            # The apps speak the member's language (twinspace_kernel.i18n reads it).
            env["TWINSPACE_LANG"] = self.member["locale"]
        if self.config_dir:
            paths = [self.config_dir]
            if env.get("JUPYTER_CONFIG_PATH"):
                paths.append(env["JUPYTER_CONFIG_PATH"])
            env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
        return env

    def get_args(self):
        args = super().get_args()
        if not self.isolate_users and os.geteuid() == 0 and "--allow-root" not in args:
            # jupyter-server refuses to run as root without it, which the hub reports only
            # as an unhelpful 500 (InvalidStateError).
            args.append("--allow-root")
        return args
