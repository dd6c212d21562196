"""Builds the whole JupyterHub configuration of a TwinSpace hub from a few settings."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from pathlib import Path

from traitlets import Bool, Float, Integer, List, Unicode, default
from traitlets.config import Configurable

PACKAGE_DIR = Path(__file__).parent
REPO_ROOT = PACKAGE_DIR.parents[1]
SERVICE_NAME = "twinspace"
ADMIN_SERVICE = "twinspace-admin"
# The public view (/services/public/): its token is treated as the anonymous public.
PUBLIC_SERVICE = "public"
ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
# Passed on to the API service when set in the hub's environment.
SERVICE_ENV_PASSTHROUGH = (
    "TWINSPACE_LOGIN_ACCOUNT_THRESHOLD",
    "TWINSPACE_LOGIN_ADDRESS_THRESHOLD",
    "TWINSPACE_LOGIN_LOCK_SECONDS",
    "TWINSPACE_LOGIN_STEP_DELAY",
    "TWINSPACE_SMTP_HOST",
    "TWINSPACE_SMTP_PORT",
    "TWINSPACE_SMTP_USER",
    "TWINSPACE_SMTP_PASSWORD",
    "TWINSPACE_SMTP_FROM",
    "TWINSPACE_SMTP_STARTTLS",
)
# Passed on to the public view when set in the hub's environment.
PUBLIC_ENV_PASSTHROUGH = (
    "TWINSPACE_PUBLIC_CULL_IDLE",
    "TWINSPACE_PUBLIC_RECHECK_SECONDS",
    "TWINSPACE_PUBLIC_MAX_RENDERING",
    "TWINSPACE_PUBLIC_MAX_WAITING",
    "TWINSPACE_PUBLIC_WAIT_SECONDS",
)


# Cookies that hold a session: never sent along with requests from other sites.
COOKIE_OPTIONS = {"samesite": "Lax"}


def _env(name: str, fallback: str = "") -> str:
    return os.environ.get(name, fallback)


class TwinSpaceHub(Configurable):
    """The settings of a TwinSpace hub; every other option follows from them.

    Each has an environment variable (used when the option is not set in config).
    """

    data_dir = Unicode(
        config=True,
        help="""Where the hub keeps everything ($TWINSPACE_DATA_DIR, default ./twinspace-data).

        hub/ (hub database, cookie secret, service tokens) and service/ (the TwinSpace
        database and uploaded files) are readable by the hub's user only; spaces/ is the
        shared volume of page notebooks.
        """,
    )

    @default("data_dir")
    def _default_data_dir(self):
        return _env("TWINSPACE_DATA_DIR", str(Path.cwd() / "twinspace-data"))

    db_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of the TwinSpace database ($TWINSPACE_DB_URL).

        Default: a SQLite file in data_dir/service. PostgreSQL:
        postgresql+psycopg://user@host:5432/dbname.
        """,
    )

    @default("db_url")
    def _default_db_url(self):
        return _env("TWINSPACE_DB_URL")

    ip = Unicode(config=True, help="Address the hub listens on ($TWINSPACE_IP, default all).")
    port = Integer(config=True, help="Port people connect to ($TWINSPACE_PORT, default 8000).")
    hub_port = Integer(config=True, help="The hub's internal port ($TWINSPACE_HUB_PORT, 8081).")
    proxy_api_port = Integer(
        config=True, help="The proxy's API port ($TWINSPACE_PROXY_API_PORT, 8001)."
    )
    service_port = Integer(
        config=True, help="The TwinSpace API service's port ($TWINSPACE_SERVICE_PORT, 10101)."
    )

    @default("ip")
    def _default_ip(self):
        return _env("TWINSPACE_IP", "")

    @default("port")
    def _default_port(self):
        return int(_env("TWINSPACE_PORT", "8000"))

    @default("hub_port")
    def _default_hub_port(self):
        return int(_env("TWINSPACE_HUB_PORT", "8081"))

    @default("proxy_api_port")
    def _default_proxy_api_port(self):
        return int(_env("TWINSPACE_PROXY_API_PORT", "8001"))

    @default("service_port")
    def _default_service_port(self):
        return int(_env("TWINSPACE_SERVICE_PORT", "10101"))

    public_port = Integer(
        config=True, help="The public view's port ($TWINSPACE_PUBLIC_PORT, 10102; 127.0.0.1)."
    )
    public_max_kernels = Integer(
        config=True,
        help="""Most kernels serving anonymous readers at once ($TWINSPACE_PUBLIC_MAX_KERNELS,
        16); over it readers get a "busy, try again" page (503). Preheated ones come on top.""",
    )
    public_pool_size = Integer(
        config=True,
        help="Preheated kernels the public view keeps ready ($TWINSPACE_PUBLIC_POOL_SIZE, 2).",
    )

    @default("public_port")
    def _default_public_port(self):
        return int(_env("TWINSPACE_PUBLIC_PORT", "10102"))

    @default("public_max_kernels")
    def _default_public_max_kernels(self):
        return int(_env("TWINSPACE_PUBLIC_MAX_KERNELS", "16"))

    @default("public_pool_size")
    def _default_public_pool_size(self):
        return int(_env("TWINSPACE_PUBLIC_POOL_SIZE", "2"))

    public_url = Unicode(
        config=True,
        help="""The hub's address as people type it ($TWINSPACE_PUBLIC_URL).

        Printed on pupils' credential slips and in invitation links.
        Default: http://<this machine's name>:<port>.
        """,
    )

    @default("public_url")
    def _default_public_url(self):
        import socket

        return _env("TWINSPACE_PUBLIC_URL", f"http://{socket.gethostname()}:{self.port}")

    upload_limit_mb = Float(
        config=True, help="Largest upload in MB ($TWINSPACE_UPLOAD_LIMIT_MB, default 20)."
    )

    @default("upload_limit_mb")
    def _default_upload_limit(self):
        return float(_env("TWINSPACE_UPLOAD_LIMIT_MB", "20"))

    isolate_users = Bool(
        config=True,
        help="""Run each member's server as their own system user ($TWINSPACE_ISOLATE).

        Default: on when the hub runs as root, the only way it can. Off is a development
        mode in which every server runs as the hub's user: members are NOT isolated.
        """,
    )

    @default("isolate_users")
    def _default_isolate(self):
        value = _env("TWINSPACE_ISOLATE")
        if value:
            return value.lower() in ("1", "true", "yes", "on")
        return os.geteuid() == 0

    user_env_prefix = Unicode(
        config=True,
        help="""The members' Python environment ($TWINSPACE_USER_ENV, /opt/twinspace/user).

        Built from Debian's /usr/bin/python3 in a world-readable place (system users
        cannot run a Python that lives under /root) by `twinspace user-env`.
        """,
    )

    @default("user_env_prefix")
    def _default_user_env(self):
        return _env("TWINSPACE_USER_ENV", "/opt/twinspace/user")

    admin_users = List(
        Unicode(),
        config=True,
        help="Hub administrators' usernames ($TWINSPACE_ADMIN_USERS, comma-separated).",
    )

    @default("admin_users")
    def _default_admin_users(self):
        return [n for n in _env("TWINSPACE_ADMIN_USERS").split(",") if n]

    proxy_command = List(
        Unicode(),
        config=True,
        help="The node configurable-http-proxy to run (default: the one `npm ci` installed).",
    )

    @default("proxy_command")
    def _default_proxy_command(self):
        local = REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
        if local.exists():
            return [str(local)]
        found = shutil.which("configurable-http-proxy")
        return [found or "configurable-http-proxy"]

    # --- derived ------------------------------------------------------------------------

    @property
    def data(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def hub_dir(self) -> Path:
        return self.data / "hub"

    @property
    def service_dir(self) -> Path:
        return self.data / "service"

    @property
    def spaces_dir(self) -> Path:
        return self.data / "spaces"

    @property
    def public_dir(self) -> Path:
        """Published copies of public pages: what the public view renders (world-readable)."""
        return self.data / "public"

    @property
    def service_api_url(self) -> str:
        """The API as the hub and kernels on this machine reach it (not through the proxy)."""
        return f"http://127.0.0.1:{self.service_port}/services/{SERVICE_NAME}/api/v1/"

    def make_dirs(self) -> None:
        """The data layout, with modes that keep members out of the hub's and service's parts."""
        self.data.mkdir(parents=True, exist_ok=True)
        # Traversable but not listable: members reach spaces/ and nothing else.
        self.data.chmod(0o711)
        for private in (self.hub_dir, self.service_dir):
            private.mkdir(exist_ok=True)
            private.chmod(0o700)
        self.spaces_dir.mkdir(exist_ok=True)
        self.public_dir.mkdir(exist_ok=True)
        self.public_dir.chmod(0o755)

    def secrets(self) -> dict[str, str]:
        """API tokens of the hub's services, made once and kept (restarts keep sessions)."""
        path = self.hub_dir / "secrets.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        wanted = {SERVICE_NAME, ADMIN_SERVICE, PUBLIC_SERVICE}
        if not wanted <= known.keys():
            known.update({name: secrets.token_hex(24) for name in wanted - known.keys()})
            path.touch(mode=0o600)
            path.write_text(json.dumps(known))
        return known

    def admin_token_file(self) -> Path:
        """Where the `twinspace` command finds its token (readable by the hub's user)."""
        return self.hub_dir / "secrets.json"

    def service_environment(self) -> dict[str, str]:
        env = {
            "TWINSPACE_UPLOAD_LIMIT_MB": str(self.upload_limit_mb),
            "TWINSPACE_PUBLIC_URL": self.public_url,
            "TWINSPACE_TRUSTED_SERVICES": ADMIN_SERVICE,
            "TWINSPACE_PUBLIC_SERVICES": PUBLIC_SERVICE,
        }
        env.update({k: os.environ[k] for k in SERVICE_ENV_PASSTHROUGH if k in os.environ})
        return env


def configure(c, hub: TwinSpaceHub | None = None) -> TwinSpaceHub:
    """Fill JupyterHub config `c` for a TwinSpace hub; returns the settings used."""
    hub = hub or TwinSpaceHub(config=c)
    hub.make_dirs()
    from traitlets.log import get_logger

    from .spawner import warn_if_not_isolated

    warn_if_not_isolated(hub.isolate_users, get_logger())
    tokens = hub.secrets()

    c.JupyterHub.ip = hub.ip
    c.JupyterHub.port = hub.port
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = hub.hub_port
    c.JupyterHub.db_url = f"sqlite:///{hub.hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(hub.hub_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(hub.hub_dir / "jupyterhub.pid")
    # Members' servers keep running across a hub restart; their sessions stay valid.
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.cleanup_proxy = True

    # Session cookies (the hub's, members' servers', the service's) are never sent with
    # another site's requests.
    c.JupyterHub.tornado_settings = {"cookie_options": COOKIE_OPTIONS}

    c.ConfigurableHTTPProxy.command = hub.proxy_command
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(hub.hub_dir / "proxy.pid")

    c.JupyterHub.authenticator_class = "twinspace_hub.authenticator.TwinSpaceAuthenticator"
    c.TwinSpaceAuthenticator.service_api_url = hub.service_api_url
    c.TwinSpaceAuthenticator.service_api_token = tokens[SERVICE_NAME]
    c.Authenticator.admin_users = set(hub.admin_users)

    c.JupyterHub.spawner_class = "twinspace_hub.spawner.TwinSpaceSpawner"
    c.TwinSpaceSpawner.isolate_users = hub.isolate_users
    c.TwinSpaceSpawner.user_env_prefix = hub.user_env_prefix
    c.TwinSpaceSpawner.service_api_url = hub.service_api_url
    c.TwinSpaceSpawner.service_api_token = tokens[SERVICE_NAME]
    c.TwinSpaceSpawner.upload_limit_mb = hub.upload_limit_mb
    c.TwinSpaceSpawner.config_dir = str(hub.data / "jupyter-config")
    c.TwinSpaceSpawner.spaces_dir = str(hub.spaces_dir)
    # After login a member lands on their space's Home page (the member view), not in Lab.
    c.Spawner.default_url = "/twinspace/"
    # JupyterHub gives a started server 30 s to answer; a class logging in at once on a
    # small machine needs more, and a timed-out spawn is a failed login for a pupil.
    c.Spawner.http_timeout = 120

    # A kernel's token reaches the TwinSpace service only when the token asks for the
    # access scope AND its user holds it.
    c.JupyterHub.extra_user_scopes = [ACCESS_SCOPE]
    c.Spawner.server_token_scopes = [
        "users:activity!user",
        "access:servers!server",
        ACCESS_SCOPE,
    ]

    service_command = [
        sys.executable, "-m", "twinspace_kernel.service",
        "--data-dir", str(hub.service_dir),
        "--spaces-dir", str(hub.spaces_dir),
        "--public-dir", str(hub.public_dir),
    ]
    if hub.db_url:
        service_command += ["--db-url", hub.db_url]
    if hub.isolate_users:
        # Members' kernels run as system users: the volume's ACLs keep them to their sections.
        service_command.append("--volume-acls")
    c.JupyterHub.services = [
        {
            "name": SERVICE_NAME,
            "url": f"http://127.0.0.1:{hub.service_port}",
            "command": service_command,
            # Its login cookie (HubOAuth reads the options from there).
            "environment": {**hub.service_environment(),
                            "JUPYTERHUB_COOKIE_OPTIONS": json.dumps(COOKIE_OPTIONS)},
            "api_token": tokens[SERVICE_NAME],
            "oauth_no_confirm": True,
            "display": False,
        },
        # The `twinspace` command's identity: a service with no server of its own.
        {"name": ADMIN_SERVICE, "api_token": tokens[ADMIN_SERVICE]},
    ]
    public = public_service(hub, tokens[PUBLIC_SERVICE], get_logger())
    if public is not None:
        c.JupyterHub.services.append(public)
    c.JupyterHub.load_roles = [
        {
            "name": "twinspace-service",
            # servers: a member whose new role sees less is stopped (their Unix groups
            # are set at the next start). delete:users: an erased member's hub user goes,
            # with their server, system user and home (F35).
            "scopes": ["list:users", "read:users", "list:groups", "read:groups", "servers",
                       "delete:users"],
            "services": [SERVICE_NAME],
        },
        {
            "name": "twinspace-admin",
            "scopes": [
                "admin:users", "admin:servers", "list:users", "admin:groups", "tokens",
                "read:hub", ACCESS_SCOPE,
            ],
            "services": [ADMIN_SERVICE],
        },
    ]

    c.JupyterHub.template_paths = [str(PACKAGE_DIR / "templates")]
    c.JupyterHub.template_vars = {"twinspace_public_url": hub.public_url}
    from .handlers import default_handlers

    c.JupyterHub.extra_handlers = default_handlers
    return hub


def public_service(hub: TwinSpaceHub, token: str, log) -> dict | None:
    """The public view (extensions/twinspace_public): Voila for anonymous readers.

    As root it runs, kernels included, as the unprivileged system user `ts-public` from the
    members' environment (the hub's own may be unreadable to it); in development mode as
    the hub's user. Its token gives it nothing more than the anonymous public. None (and a
    warning) when the members' environment it needs is not built yet: the hub starts
    without the public view rather than not at all.
    """
    env = {
        "TWINSPACE_API_URL": hub.service_api_url,
        "TWINSPACE_PUBLIC_DIR": str(hub.public_dir),
        "TWINSPACE_PUBLIC_MAX_KERNELS": str(hub.public_max_kernels),
        "TWINSPACE_PUBLIC_POOL_SIZE": str(hub.public_pool_size),
    }
    env.update({k: os.environ[k] for k in PUBLIC_ENV_PASSTHROUGH if k in os.environ})
    python = sys.executable
    entry: dict = {}
    if hub.isolate_users:
        from twinspace_public.account import PUBLIC_SYSTEM_USER, ensure_public_user

        python = str(Path(hub.user_env_prefix) / "bin" / "python")
        if not os.access(python, os.X_OK):
            log.warning("No public view: the members' environment is missing at %s (run "
                        "`twinspace user-env` as root, then restart the hub).",
                        hub.user_env_prefix)
            return None
        account = ensure_public_user()
        prefix = hub.user_env_prefix
        env.update({
            "HOME": account.pw_dir,
            "VIRTUAL_ENV": prefix,
            "PATH": f"{prefix}/bin:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": "",
        })
        entry["user"] = PUBLIC_SYSTEM_USER
    return {
        **entry,
        "name": PUBLIC_SERVICE,
        "url": f"http://127.0.0.1:{hub.public_port}",
        "command": [python, "-m", "twinspace_public"],
        "environment": env,
        "api_token": token,
        "cwd": str(hub.public_dir),
        "display": False,
    }
