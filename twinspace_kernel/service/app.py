"""The TwinSpace API service: a Tornado application run as a JupyterHub-managed service."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import httpserver, web
from traitlets import Bool, Float, Integer, List, Unicode, default, validate
from traitlets.config import Application

from ..store import new_session_factory, reading_sessions, sqlite_url
from . import public, recovery, volume_acl
from .auth import ThrottlePolicy
from .base import APIError, APIHandler, ServiceContext
from .mailer import SmtpSettings
from .notify import Notifier
from .uploads import FileStore

# Each module ends with a `default_handlers` list of (pattern, handler) relative to
# the API root; adding a resource is one module plus one line here.
HANDLER_MODULES = (
    "meta",
    "transfer",  # before "spaces": its /spaces/import would match /spaces/{slug}
    "spaces",
    "pages",
    "invitations",
    "pupils",
    "profiles",
    "blog",
    "forum",
    "wiki",
    "calendar",
    "files",
    "chat",
    "mail",
    "activity",
    "moderation",
    "privacy",
    "auth",
    "accounts",
    "volume",
)

API_PREFIX = "api/v1/"


def collect_handlers(modules=HANDLER_MODULES) -> list[tuple[str, type]]:
    handlers = []
    for name in modules:
        module = importlib.import_module(f"{__package__}.{name}")
        handlers.extend(module.default_handlers)
    return handlers


class NotFoundHandler(APIHandler):
    """Answers JSON 404s for any unknown path under the service."""

    async def prepare(self) -> None:
        raise APIError(404, "No such endpoint.")


class TwinSpaceService(Application):
    """Serves /services/twinspace/: the only owner of the TwinSpace database and files."""

    name = "twinspace-service"
    description = __doc__

    aliases = {
        "data-dir": "TwinSpaceService.data_dir",
        "spaces-dir": "TwinSpaceService.spaces_dir",
        "public-dir": "TwinSpaceService.public_dir",
        "db-url": "TwinSpaceService.db_url",
        "upload-limit": "TwinSpaceService.upload_limit_mb",
        "port": "TwinSpaceService.port",
        "ip": "TwinSpaceService.ip",
        "base-url": "TwinSpaceService.base_url",
        "config": "TwinSpaceService.config_file",
        "log-level": "Application.log_level",
    }

    flags = {
        "volume-acls": (
            {"TwinSpaceService": {"volume_acls": True}},
            "Set owners, modes and POSIX ACLs on the shared volume (hubs that isolate members).",
        ),
    }

    config_file = Unicode("", config=True, help="A Python config file to load.")

    data_dir = Unicode(
        config=True,
        help="""Directory holding the SQLite database (by default) and uploaded files.

        Members must not be able to read it: the service alone owns it.
        Default: $TWINSPACE_DATA_DIR or ./twinspace-data.
        """,
    )

    @default("data_dir")
    def _default_data_dir(self):
        return os.environ.get("TWINSPACE_DATA_DIR", str(Path.cwd() / "twinspace-data"))

    spaces_dir = Unicode(
        config=True,
        help="""Directory of the spaces' page notebooks (<slug>/<section>/<page>.ipynb).

        The shared volume members' servers read (through the server extension).
        Default: $TWINSPACE_SPACES_DIR or data_dir/spaces.
        """,
    )

    @default("spaces_dir")
    def _default_spaces_dir(self):
        return os.environ.get("TWINSPACE_SPACES_DIR", str(Path(self.data_dir) / "spaces"))

    public_dir = Unicode(
        config=True,
        help="""Directory of the published copies the public view renders
        (<slug>/<section>/<page>.ipynb), outside spaces_dir and world-readable.

        Default: $TWINSPACE_PUBLIC_DIR; empty: no copies are made.
        """,
    )

    @default("public_dir")
    def _default_public_dir(self):
        return os.environ.get("TWINSPACE_PUBLIC_DIR", "")

    public_services = List(
        Unicode(),
        config=True,
        help="""Hub services treated exactly as the anonymous public (the public view's token).

        Default: $TWINSPACE_PUBLIC_SERVICES (comma-separated).
        """,
    )

    @default("public_services")
    def _default_public_services(self):
        names = os.environ.get("TWINSPACE_PUBLIC_SERVICES", "")
        return [name for name in names.split(",") if name]

    volume_acls = Bool(
        False,
        config=True,
        help="""Set owners, modes and POSIX ACLs on the shared volume (spaces_dir).

        For hubs that run members as system users (isolate_users): each role's Unix group
        reads exactly the sections rights.py lets it view; members write nothing there
        (their saves come through this service). Needs root and `setfacl` (package acl).
        """,
    )

    db_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of the database (e.g. postgresql+psycopg://user@host/db).

        Default: $TWINSPACE_DB_URL or a SQLite file in data_dir.
        """,
    )

    @default("db_url")
    def _default_db_url(self):
        return os.environ.get("TWINSPACE_DB_URL") or sqlite_url(self.data_dir)

    upload_limit_mb = Float(
        config=True,
        help="Largest accepted upload, in megabytes (default $TWINSPACE_UPLOAD_LIMIT_MB or 20).",
    )

    @default("upload_limit_mb")
    def _default_upload_limit(self):
        return float(os.environ.get("TWINSPACE_UPLOAD_LIMIT_MB", 20))

    @validate("upload_limit_mb")
    def _check_upload_limit(self, proposal):
        if not 0 < proposal.value <= 1024:
            raise ValueError("TwinSpaceService.upload_limit_mb must be between 0 and 1024")
        return proposal.value

    invitation_days = Integer(14, config=True, help="Days an invitation link stays valid.")

    ip = Unicode(config=True, help="Address to listen on (default from JUPYTERHUB_SERVICE_URL).")
    port = Integer(config=True, help="Port to listen on (default from JUPYTERHUB_SERVICE_URL).")
    base_url = Unicode(config=True, help="URL prefix (default $JUPYTERHUB_SERVICE_PREFIX).")

    @default("ip")
    def _default_ip(self):
        return urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).hostname or "127.0.0.1"

    @default("port")
    def _default_port(self):
        return urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).port or 10101

    @default("base_url")
    def _default_base_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/twinspace/")

    public_url = Unicode(
        config=True,
        help="The hub's address as people type it (for invitation links and sheets).",
    )

    @default("public_url")
    def _default_public_url(self):
        return os.environ.get("TWINSPACE_PUBLIC_URL", os.environ.get("JUPYTERHUB_PUBLIC_URL", ""))

    long_poll_max = Float(30.0, config=True, help="Longest long-poll wait, in seconds.")
    presence_seconds = Float(
        10.0,
        config=True,
        help="""Seconds a member still counts as "in the chat room" after their last heartbeat.

        The chat widget sends heartbeats (about four per period) only while the browser page
        showing it is open, so a teacher who closed the page stops supervising within it.
        """,
    )

    trusted_services = List(
        Unicode(),
        config=True,
        help="""Hub services allowed to check passwords and read group mirrors.

        The service itself (its own token, which the hub's authenticator uses) is always
        trusted. Default: $TWINSPACE_TRUSTED_SERVICES (comma-separated).
        """,
    )

    @default("trusted_services")
    def _default_trusted(self):
        names = os.environ.get("TWINSPACE_TRUSTED_SERVICES", "")
        return [name for name in names.split(",") if name]

    login_account_threshold = Integer(
        config=True,
        help="Failed logins in a row that lock an account ($TWINSPACE_LOGIN_ACCOUNT_THRESHOLD, 5).",
    )
    login_address_threshold = Integer(
        config=True,
        help="Failed logins that lock a client address, across accounts, until some are "
        "forgiven ($TWINSPACE_LOGIN_ADDRESS_THRESHOLD, 30).",
    )
    login_lock_seconds = Float(
        config=True,
        help="First lock's length in seconds; it doubles with each further failure "
        "($TWINSPACE_LOGIN_LOCK_SECONDS, 60).",
    )
    login_lock_max_seconds = Float(
        config=True,
        help="Longest lock, in seconds (default: 120 times login_lock_seconds, 2 h; "
        "see docs/security.md).",
    )
    login_address_leak_seconds = Float(
        config=True,
        help="An address's failures are forgiven one per this many seconds (default: twice "
        "login_lock_seconds, 120).",
    )

    @default("login_lock_max_seconds")
    def _default_lock_max(self):
        return 120 * self.login_lock_seconds

    @default("login_address_leak_seconds")
    def _default_address_leak(self):
        return 2 * self.login_lock_seconds
    login_step_delay = Float(
        config=True,
        help="Extra pause per consecutive failure before answering, in seconds "
        "($TWINSPACE_LOGIN_STEP_DELAY, 0.25; at most 2 s).",
    )

    @default("login_step_delay")
    def _default_step_delay(self):
        return float(os.environ.get("TWINSPACE_LOGIN_STEP_DELAY", 0.25))

    @default("login_account_threshold")
    def _default_account_threshold(self):
        return int(os.environ.get("TWINSPACE_LOGIN_ACCOUNT_THRESHOLD", 5))

    @default("login_address_threshold")
    def _default_address_threshold(self):
        return int(os.environ.get("TWINSPACE_LOGIN_ADDRESS_THRESHOLD", 30))

    @default("login_lock_seconds")
    def _default_lock_seconds(self):
        return float(os.environ.get("TWINSPACE_LOGIN_LOCK_SECONDS", 60))

    smtp_host = Unicode(
        config=True,
        help="""SMTP server for mailing invitation and password links ($TWINSPACE_SMTP_HOST).

        Empty (the default): nothing is mailed; links are only shown to whoever made them.
        """,
    )
    smtp_port = Integer(config=True, help="SMTP port ($TWINSPACE_SMTP_PORT, default 587).")
    smtp_user = Unicode(
        config=True, help="SMTP login, if the server wants one ($TWINSPACE_SMTP_USER)."
    )
    smtp_password = Unicode(config=True, help="SMTP password ($TWINSPACE_SMTP_PASSWORD).")
    smtp_from = Unicode(
        config=True,
        help="Sender address of mailed links ($TWINSPACE_SMTP_FROM; required with a host).",
    )
    smtp_starttls = Bool(
        config=True,
        help="Switch to TLS with STARTTLS before sending ($TWINSPACE_SMTP_STARTTLS, default "
        "true; set 0 for a local relay without TLS).",
    )

    @default("smtp_host")
    def _default_smtp_host(self):
        return os.environ.get("TWINSPACE_SMTP_HOST", "")

    @default("smtp_port")
    def _default_smtp_port(self):
        return int(os.environ.get("TWINSPACE_SMTP_PORT", 587))

    @default("smtp_user")
    def _default_smtp_user(self):
        return os.environ.get("TWINSPACE_SMTP_USER", "")

    @default("smtp_password")
    def _default_smtp_password(self):
        return os.environ.get("TWINSPACE_SMTP_PASSWORD", "")

    @default("smtp_from")
    def _default_smtp_from(self):
        return os.environ.get("TWINSPACE_SMTP_FROM", "")

    @default("smtp_starttls")
    def _default_smtp_starttls(self):
        value = os.environ.get("TWINSPACE_SMTP_STARTTLS", "true")
        return value.strip().lower() not in ("0", "false", "no", "off")

    extra_handler_modules = List(
        Unicode(), config=True, help="More handler modules (importable names) to serve."
    )

    def initialize(self, argv=None):
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
        logging.getLogger("twinspace").setLevel(self.log_level)

    def _public_dir(self) -> Path | None:
        if not self.public_dir:
            return None
        public = Path(self.public_dir)
        public.mkdir(parents=True, exist_ok=True)
        public.chmod(0o755)  # the public view's unprivileged user reads it
        return public

    def make_context(self) -> ServiceContext:
        data = Path(self.data_dir)
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        limit = int(self.upload_limit_mb * 1024 * 1024)
        spaces = Path(self.spaces_dir)
        spaces.mkdir(parents=True, exist_ok=True)
        sessions = new_session_factory(self.db_url)
        return ServiceContext(
            sessions=sessions,
            reading_sessions=reading_sessions(sessions),
            files=FileStore(data / "files", max_bytes=limit),
            notifier=Notifier(),
            upload_limit=limit,
            invitation_days=self.invitation_days,
            public_url=self.public_url,
            long_poll_max=self.long_poll_max,
            presence_seconds=self.presence_seconds,
            smtp=SmtpSettings(
                host=self.smtp_host,
                port=self.smtp_port,
                user=self.smtp_user,
                password=self.smtp_password,
                sender=self.smtp_from,
                starttls=self.smtp_starttls,
            ),
            spaces_dir=spaces,
            public_dir=self._public_dir(),
            volume_acls=self.volume_acls,
        )

    def make_app(self, ctx: ServiceContext | None = None) -> web.Application:
        ctx = ctx or self.make_context()
        prefix = url_path_join(self.base_url, API_PREFIX)
        handlers = [
            (url_path_join(prefix, pattern.lstrip("/")), handler)
            for pattern, handler in collect_handlers(
                HANDLER_MODULES + tuple(self.extra_handler_modules)
            )
        ]
        handlers.append((url_path_join(self.base_url, "oauth_callback"), HubOAuthCallbackHandler))
        handlers.append((r".*", NotFoundHandler))
        return web.Application(
            handlers,
            twinspace=ctx,
            throttle=ThrottlePolicy(
                account_threshold=self.login_account_threshold,
                address_threshold=self.login_address_threshold,
                base_seconds=self.login_lock_seconds,
                max_seconds=self.login_lock_max_seconds,
                address_leak_seconds=self.login_address_leak_seconds,
                step_delay=self.login_step_delay,
            ),
            public_services=frozenset(self.public_services),
            trusted_services=frozenset(
                [os.environ.get("JUPYTERHUB_SERVICE_NAME", "twinspace"), *self.trusted_services]
            ),
            api_prefix=prefix,
            cookie_secret=os.urandom(32),
            # Uploads arrive as a request body; Tornado's own limit sits just above ours
            # so ours answers with a clear 413 instead of a dropped connection.
            xsrf_cookies=False,
            log_function=_log_request,
        )

    def start(self):
        recovery.die_with_parent()  # the watcher (__main__) or the hub: never outlive it
        data = Path(self.data_dir)
        recovery.clear_stale_service(data, self.ip, self.port)
        app = self.make_app()
        ctx = app.settings["twinspace"]
        self.sweep_leftovers(ctx)
        volume_acl.secure_all(ctx, ctx.sessions)
        public.sync_all(ctx)  # copies made by an older version or left by a crash
        limit = app.settings["twinspace"].upload_limit
        server = httpserver.HTTPServer(
            app, max_body_size=limit + 1024 * 1024, max_buffer_size=limit + 1024 * 1024
        )
        server.listen(self.port, self.ip)
        recovery.write_pid_file(data)
        self.log.info("TwinSpace service at http://%s:%i%s", self.ip, self.port, self.base_url)
        asyncio.get_event_loop().run_forever()


    def sweep_leftovers(self, ctx: ServiceContext) -> None:
        """What a crash (kill -9 mid-write) left: temporary files and rowless blobs."""
        with ctx.sessions() as db:
            referenced = recovery.referenced_blobs(db)
        count, size = recovery.sweep_leftovers(ctx.files.root, referenced,
                                               (ctx.spaces_dir, ctx.public_dir))
        if count:
            self.log.warning("Removed %i file(s) (%.1f MB) left by an interrupted write.",
                             count, size / 1e6)


def _log_request(handler: web.RequestHandler) -> None:
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    logging.getLogger("twinspace.access").log(
        level,
        "%d %s %s %.1fms",
        status,
        handler.request.method,
        handler.logged_path() if hasattr(handler, "logged_path") else handler.request.path,
        1000 * handler.request.request_time(),
    )


def main(argv=None) -> None:
    logging.basicConfig(format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    TwinSpaceService.launch_instance(argv)


if __name__ == "__main__":
    main()
