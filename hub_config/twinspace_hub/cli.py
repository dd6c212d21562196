"""The `twinspace` command (also `jupyter twinspace`): manage a running TwinSpace hub.

One traitlets Application per subcommand, as nbgrader does. Every subcommand except
`demo` and `user-env` talks only to the running hub's TwinSpace API service, as the
`twinspace-admin` service whose token the hub keeps in <data>/hub/secrets.json.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from traitlets import Bool, Integer, Unicode, default
from traitlets.config import Application

from twinspace_kernel import pages as nbpages
from twinspace_kernel.client import ServiceUnavailable, TwinSpaceClient, TwinSpaceError

from .config import ACCESS_SCOPE, ADMIN_SERVICE, REPO_ROOT, SERVICE_NAME

BATCH = 25  # pupils per request: the progress bar moves and no request runs long


class CommandError(Exception):
    """A problem to show the person at the keyboard (no traceback), then exit 1."""


def _env_service_port() -> int:
    return int(os.environ.get("TWINSPACE_SERVICE_PORT", "10101"))


class TwinSpaceCommand(Application):
    """What every subcommand shares: where the hub's data is and how to reach its API."""

    name = "twinspace"
    version = "0.1.0"

    data_dir = Unicode(
        config=True,
        help="The hub's data directory ($TWINSPACE_DATA_DIR, default ./twinspace-data; "
        "when neither exists, a demo's ./demo-data or the running `make demo`'s).",
    )

    @default("data_dir")
    def _default_data_dir(self):
        if "TWINSPACE_DATA_DIR" in os.environ:
            return os.environ["TWINSPACE_DATA_DIR"]
        # Nobody said where: admin_token() may find a demo's data instead.
        self._data_dir_implicit = True
        return str(Path.cwd() / "twinspace-data")

    api_url = Unicode(
        config=True,
        help="""The TwinSpace API of the running hub.

        Default: http://127.0.0.1:<$TWINSPACE_SERVICE_PORT or 10101>/services/twinspace/api/v1/
        """,
    )

    @default("api_url")
    def _default_api_url(self):
        if self._demo_api_url:
            return self._demo_api_url
        return f"http://127.0.0.1:{_env_service_port()}/services/{SERVICE_NAME}/api/v1/"

    _data_dir_implicit = False
    _demo_api_url = ""

    aliases = {
        "data-dir": "TwinSpaceCommand.data_dir",
        "api-url": "TwinSpaceCommand.api_url",
        "log-level": "Application.log_level",
    }
    flags = {}

    # --- helpers ------------------------------------------------------------------------

    def out(self, text: str = "") -> None:
        print(text, file=sys.stdout, flush=True)

    def err(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def admin_token(self) -> str:
        path = Path(self.data_dir) / "hub" / "secrets.json"
        if not path.exists() and self._data_dir_implicit:
            self.use_demo_data()
            path = Path(self.data_dir) / "hub" / "secrets.json"
        try:
            return json.loads(path.read_text())[ADMIN_SERVICE]
        except FileNotFoundError:
            raise CommandError(
                f"No hub data at {self.data_dir} (missing {path}). Start the hub first, or "
                f"say where its data is: `{self.usage()} --data-dir DIR` or "
                f"`TWINSPACE_DATA_DIR=DIR {self.usage()}` (`make demo` keeps its data in "
                "./demo-data)."
            ) from None
        except PermissionError:
            raise CommandError(
                f"Cannot read {path}: run this as the hub's user (usually root)."
            ) from None
        except (ValueError, KeyError):
            raise CommandError(f"{path} has no {ADMIN_SERVICE} token: restart the hub.") from None

    def use_demo_data(self) -> None:
        """No data where nobody said: take a demo's (./demo-data, or `make demo`'s running one)."""
        here = Path.cwd() / "demo-data"
        for candidate in (here, REPO_ROOT / "demo-data"):
            if not (candidate / "hub" / "secrets.json").exists():
                continue
            record = running_demo(candidate)
            if record is None and candidate != here:
                continue  # the repository's demo data only while that demo runs
            self.data_dir = str(candidate)
            # Its API address (the demo may run on other ports), unless --api-url said.
            self._demo_api_url = (record or {}).get("api_url", "")
            self.err(f"Using the demo's hub data in {candidate} (nothing in "
                     f"{Path.cwd() / 'twinspace-data'}; --data-dir DIR chooses another).")
            return

    def client(self) -> TwinSpaceClient:
        token = self.admin_token()  # first: it may find a demo and its API address
        return TwinSpaceClient(self.api_url, token, retry_seconds=2.0)

    def positional(self, *names: str) -> list[str]:
        if len(self.extra_args) != len(names):
            raise CommandError(
                f"Expected {' '.join(n.upper() for n in names) or 'no arguments'}; "
                f"got {' '.join(self.extra_args) or 'nothing'}. See `{self.usage()} --help`."
            )
        return list(self.extra_args)

    def usage(self) -> str:
        return "twinspace " + self.name.removeprefix("twinspace-").replace("-", " ")

    def require(self, **values: str) -> None:
        missing = [f"--{name}" for name, value in values.items() if not value]
        if missing:
            raise CommandError(f"Missing {', '.join(missing)}. See `{self.usage()} --help`.")

    def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self.subapp is not None:
            return self.subapp.start()
        if self.subcommands:
            self.print_subcommands()
            raise CommandError(f"Which one? `{self.usage()} <subcommand> --help` tells more.")
        try:
            self.run()
        except ServiceUnavailable as e:
            raise CommandError(f"{e.message} (is the hub running? API: {self.api_url})") from None
        except TwinSpaceError as e:
            raise CommandError(e.message) from None


# --- space ------------------------------------------------------------------------------


class SpaceCreateApp(TwinSpaceCommand):
    name = "twinspace-space-create"
    description = "Create a TwinSpace whose founder (a teacher) is its teacher administrator."
    examples = 'twinspace space create water --title "Water around us" --founder mdupont'

    title = Unicode("", config=True, help="The space's title.")
    founder = Unicode("", config=True, help="Username of the founding teacher.")
    space_description = Unicode("", config=True, help="What the project is about.")
    aliases = {
        **TwinSpaceCommand.aliases,
        "title": "SpaceCreateApp.title",
        "founder": "SpaceCreateApp.founder",
        "description": "SpaceCreateApp.space_description",
    }

    def run(self) -> None:
        (slug,) = self.positional("slug")
        self.require(title=self.title, founder=self.founder)
        space = self.client().post("spaces", {
            "slug": slug, "title": self.title, "founder": self.founder,
            "description": self.space_description,
        })
        self.out(f"Created {space['slug']} ({space['title']}); "
                 f"{self.founder} is its teacher administrator.")


class SpaceListApp(TwinSpaceCommand):
    name = "twinspace-space-list"
    description = "List every space of the hub with its state and number of members."
    examples = "twinspace space list"

    def run(self) -> None:
        self.positional()
        items = self.client().get("spaces", all=1)["items"]
        if not items:
            self.out("No spaces yet: `twinspace space create --help`.")
            return
        rows = [(s["slug"], s["title"], s["state"], str(s.get("member_count", "")),
                 "public" if s["public"] else "") for s in items]
        self.out(table(("SLUG", "TITLE", "STATE", "MEMBERS", ""), rows))


TRANSFER_CHUNK = 256 * 1024
# Building the archive, or storing an imported one, may take minutes before any answer.
TRANSFER_TIMEOUT = (30, 900)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / (1024 * 1024):.1f} MB"


def byte_progress(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {human_size(done)} / {human_size(total)}"


class ProgressBar:
    """A bytes progress bar on stderr, redrawn only when it visibly moves."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.shown = total, 0, None
        self.add(0)

    def add(self, count: int) -> None:
        self.done += count
        line = byte_progress(self.done, self.total)
        if line != self.shown:
            print(line, end="", file=sys.stderr, flush=True)
            self.shown = line

    def end(self) -> None:
        print(file=sys.stderr, flush=True)


class ProgressReader:
    """A file to upload whose reads move a progress bar (requests streams it, sized)."""

    def __init__(self, handle, total: int, bar: ProgressBar) -> None:
        self.handle, self.total, self.bar = handle, total, bar

    def __len__(self) -> int:
        return self.total

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.bar.add(len(chunk))
        return chunk

    def __iter__(self):
        while chunk := self.read(TRANSFER_CHUNK):
            yield chunk


def archive_space(path: Path) -> dict:
    """The `space` of a TwinSpace export's space.json; a clear error for anything else."""
    import zipfile

    from twinspace_kernel.service.transfer import FORMAT, MANIFEST

    not_ours = f"{path} is not a TwinSpace space export"
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
    except zipfile.BadZipFile:
        raise CommandError(f"{not_ours} (not a ZIP archive).") from None
    except KeyError:
        raise CommandError(f"{not_ours} (it has no {MANIFEST}).") from None
    except (ValueError, OSError) as e:
        raise CommandError(f"{not_ours} ({MANIFEST} cannot be read: {e}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("space"), dict):
        raise CommandError(f"{not_ours} (its {MANIFEST} is something else).")
    return manifest["space"]


class SpaceExportApp(TwinSpaceCommand):
    name = "twinspace-space-export"
    description = """Download a space as a ZIP archive: its pages and their notebooks, its
    applications' content, files, calendar and chat (not its members). A progress bar shows
    the download; FILE is written only once it is complete."""
    examples = "twinspace space export water water-2026.zip"

    overwrite = Bool(False, config=True, help="Replace FILE if it exists.")
    flags = {"overwrite": ({"SpaceExportApp": {"overwrite": True}}, "Replace FILE if it exists.")}

    def run(self) -> None:
        import requests

        slug, target = self.positional("slug", "file")
        path = Path(target)
        if path.is_dir():
            raise CommandError(f"{path} is a folder: give the archive's file name, "
                               f"e.g. {path / (slug + '.zip')}.")
        if path.exists() and not self.overwrite:
            raise CommandError(f"{path} exists already: choose another name, or add "
                               "--overwrite to replace it.")
        if not path.absolute().parent.is_dir():
            raise CommandError(f"There is no folder {path.absolute().parent} to write to.")
        client = self.client()
        self.err(f"Preparing the archive of {slug}…")
        partial = path.with_name(f".{path.name}.part")
        try:
            response = client.request("GET", f"spaces/{slug}/export", stream=True,
                                      timeout=TRANSFER_TIMEOUT)
            total = int(response.headers.get("Content-Length") or 0)
            bar = ProgressBar(total)
            with response, open(partial, "wb") as out:
                for chunk in response.iter_content(TRANSFER_CHUNK):
                    out.write(chunk)
                    bar.add(len(chunk))
            bar.end()
            if total and bar.done != total:
                raise CommandError(f"The download stopped at {human_size(bar.done)} of "
                                   f"{human_size(total)}: {path} was not written. Try again.")
            os.replace(partial, path)
        except requests.RequestException as e:
            raise CommandError(f"The download failed ({e}): {path} was not written.") from None
        finally:
            partial.unlink(missing_ok=True)
        self.out(f"Exported {slug} to {path} ({human_size(path.stat().st_size)}).")


class SpaceImportApp(TwinSpaceCommand):
    name = "twinspace-space-import"
    description = """Import a space archive (from `twinspace space export` or a space's
    settings) as a NEW space, private, whose teacher administrator is --owner (default:
    the archive's founder, when this hub has that teacher). A progress bar shows the
    upload. A refused archive creates nothing."""
    examples = """twinspace space import water-2026.zip
twinspace space import water-2026.zip --as water-2027 --owner mdupont --title 'Water 2027'"""

    as_slug = Unicode("", config=True, help="The new space's slug (default: the archive's).")
    owner = Unicode("", config=True,
                    help="Username of the teacher who administers it (default: the founder).")
    title = Unicode("", config=True, help="The new space's title (default: the archive's).")
    aliases = {
        **TwinSpaceCommand.aliases,
        "as": "SpaceImportApp.as_slug",
        "owner": "SpaceImportApp.owner",
        "title": "SpaceImportApp.title",
    }

    def run(self) -> None:
        import requests

        (source,) = self.positional("file")
        path = Path(source)
        if not path.is_file():
            raise CommandError(f"There is no file {path}.")
        space = archive_space(path)
        slug = self.as_slug or space.get("slug") or ""
        owner = self.owner or space.get("founder") or ""
        if not slug:
            raise CommandError("The archive does not say its space's slug: give --as SLUG.")
        if not owner:
            raise CommandError("The archive does not name its founder: give --owner TEACHER.")
        client = self.client()
        total = path.stat().st_size
        self.err(f"Uploading {path} ({human_size(total)})…")
        params = {"slug": slug, "owner": owner, "title": self.title or None}
        try:
            with open(path, "rb") as handle:
                bar = ProgressBar(total)
                try:
                    answer = client.json(
                        "POST", "spaces/import", data=ProgressReader(handle, total, bar),
                        params={k: v for k, v in params.items() if v is not None},
                        headers={"Content-Type": "application/zip"}, timeout=TRANSFER_TIMEOUT)
                finally:
                    bar.end()
        except TwinSpaceError as e:
            if e.status == 409:
                raise CommandError(f"{e.message} Choose another slug: --as SLUG.") from None
            if e.status == 404 and not self.owner:
                raise CommandError(f"{e.message} Say who owns the import: --owner TEACHER.") \
                    from None
            raise
        except requests.RequestException as e:
            raise CommandError(f"The upload failed ({e}): nothing was imported.") from None
        counts = answer["imported"]
        self.out(f"Imported {path.name} as {answer['slug']} ({answer['title']}); {owner} is "
                 "its teacher administrator.")
        self.out(", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items()))
        if not answer.get("authors_matched"):
            self.out("The archive was not exported by this hub: its content is attributed "
                     "to nobody.")
        elif answer.get("unmatched_authors"):
            self.out("Authors without an account here (their content is attributed to "
                     f"nobody): {', '.join(answer['unmatched_authors'])}")


class SpaceApp(TwinSpaceCommand):
    name = "twinspace-space"
    description = "Create, list, export and import spaces."
    subcommands = {
        "create": (SpaceCreateApp, SpaceCreateApp.description),
        "list": (SpaceListApp, SpaceListApp.description),
        "export": (SpaceExportApp, "Download a space as a ZIP archive."),
        "import": (SpaceImportApp, "Import a space archive as a new space."),
    }


# --- teacher ----------------------------------------------------------------------------


class TeacherAddApp(TwinSpaceCommand):
    name = "twinspace-teacher-add"
    description = """Create a teacher's account and print the one-time link with which they
    choose their password (mailed too when SMTP is configured and --email is given)."""
    examples = ('twinspace teacher add mdupont --name "Marie Dupont" '
                '--school "Collège Jean Moulin" --country FR --email marie@example.org')

    full_name = Unicode("", config=True, help="The teacher's full name.")
    school = Unicode("", config=True, help="The teacher's school.")
    country = Unicode("", config=True, help="The school's country (e.g. FR).")
    email = Unicode("", config=True, help="E-mail address (optional).")
    aliases = {
        **TwinSpaceCommand.aliases,
        "name": "TeacherAddApp.full_name",
        "school": "TeacherAddApp.school",
        "country": "TeacherAddApp.country",
        "email": "TeacherAddApp.email",
    }

    def run(self) -> None:
        (username,) = self.positional("user")
        self.require(name=self.full_name, school=self.school, country=self.country)
        client = self.client()
        body = {"name": username, "kind": "teacher", "display_name": self.full_name,
                "school": self.school, "country": self.country}
        if self.email:
            body["email"] = self.email
        user = client.post("users", body)
        link = client.post(f"users/{user['name']}/password-link")
        self.out(f"Created teacher {user['name']} ({user['display_name']}, {user['school']}, "
                 f"{user['country']}).")
        self.out(f"Set-password link (works once, until {link['expires_at'][:10]}):")
        self.out(f"  {link['link']}")
        if link.get("mailed"):
            self.out(f"The link was mailed to {self.email}.")
        elif link.get("mail_error"):
            self.err(f"Mailing the link failed: {link['mail_error']}. Hand it over yourself.")


class TeacherApp(TwinSpaceCommand):
    name = "twinspace-teacher"
    description = "Teacher accounts."
    subcommands = {"add": (TeacherAddApp, "Create a teacher's account.")}


# --- pupils -----------------------------------------------------------------------------


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]
    return "\n".join(lines)


def progress(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} pupils"


def pupils_csv(items: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "username", "password"])
    for item in items:
        writer.writerow([item["display_name"], item["name"], item["password"]])
    return buffer.getvalue()


def write_private(path: str | os.PathLike, text: str) -> None:
    """Passwords on disk: readable by their owner only."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    path.chmod(0o600)


def create_pupils(client: TwinSpaceClient, slug: str, teacher: str, *,
                  names: list[str] | None = None, count: int = 0,
                  on_batch=None) -> tuple[list[dict], str, TwinSpaceError | None]:
    """Create pupils in batches of BATCH; returns (created, hub_url, error that stopped it).

    What was created before an error is returned, so its passwords are not lost.
    """
    total = len(names) if names is not None else count
    created: list[dict] = []
    hub_url = ""
    while len(created) < total:
        body: dict = {"teacher": teacher}
        if names is not None:
            body["names"] = names[len(created):len(created) + BATCH]
        else:
            body["count"] = min(BATCH, total - len(created))
        try:
            answer = client.post(f"spaces/{slug}/pupils", body)
        except TwinSpaceError as e:
            return created, hub_url, e
        created += answer["items"]
        hub_url = answer.get("hub_url") or hub_url
        if on_batch:
            on_batch(len(created), total)
    return created, hub_url, None


class PupilsAddApp(TwinSpaceCommand):
    name = "twinspace-pupils-add"
    description = """Create pupil accounts in a space on behalf of one of its teachers, from
    names or a count. Usernames and generated passwords are printed once: keep the CSV or
    print the sheet (ten slips per A4 page)."""
    examples = """twinspace pupils add water --teacher mdupont --names "Ana Lopez,Zoé Martin"
twinspace pupils add water --teacher mdupont --count 24 --csv class.csv --sheet slips.html"""

    teacher = Unicode("", config=True, help="Username of the teacher who creates them.")
    names = Unicode("", config=True, help="Pupils' full names, separated by commas.")
    count = Integer(0, config=True, help="How many pupils (named Pupil 01, 02, …).")
    csv_file = Unicode("", config=True, help="Write name,username,password to this CSV file.")
    sheet = Unicode("", config=True, help="Write the printable credentials sheet (HTML) here.")
    aliases = {
        **TwinSpaceCommand.aliases,
        "teacher": "PupilsAddApp.teacher",
        "names": "PupilsAddApp.names",
        "count": "PupilsAddApp.count",
        "csv": "PupilsAddApp.csv_file",
        "sheet": "PupilsAddApp.sheet",
    }

    def run(self) -> None:
        (slug,) = self.positional("slug")
        self.require(teacher=self.teacher)
        names = [n.strip() for n in self.names.split(",") if n.strip()] if self.names else None
        if (names is not None) == (self.count > 0):
            raise CommandError("Give either --names \"A,B\" or --count N (one of them).")
        if names == []:
            raise CommandError("--names lists no names.")
        client = self.client()
        title = space_title(client, slug)
        total = len(names) if names is not None else self.count
        print(progress(0, total).lstrip("\r"), end="", file=sys.stderr, flush=True)
        created, hub_url, error = create_pupils(
            client, slug, self.teacher, names=names, count=self.count,
            on_batch=lambda done, all_: print(progress(done, all_), end="", file=sys.stderr,
                                              flush=True),
        )
        self.err("")
        if created:
            self.out(table(("NAME", "USERNAME", "PASSWORD"),
                           [(i["display_name"], i["name"], i["password"]) for i in created]))
            if self.csv_file:
                write_private(self.csv_file, pupils_csv(created))
                self.out(f"Wrote {self.csv_file}")
            if self.sheet:
                from twinspace_kernel.sheets import credentials_sheet

                hub_url = hub_url or os.environ.get("TWINSPACE_PUBLIC_URL", "")
                # The sheet is the teacher's: in their language (English if unknown; the
                # passwords are printed above whatever happens).
                try:
                    language = client.get(f"users/{self.teacher}").get("locale")
                except TwinSpaceError:
                    language = None
                write_private(self.sheet, credentials_sheet(
                    created, hub_url=hub_url, space_title=title, language=language))
                self.out(f"Wrote {self.sheet} (open it in a browser and print it)")
            self.out(f"Created {len(created)} pupil(s) in {slug}. "
                     "These passwords are not shown again.")
        if error is not None:
            done = f" after creating {len(created)} of {total}" if created else ""
            raise CommandError(f"{error.message} (stopped{done})")


def space_title(client: TwinSpaceClient, slug: str) -> str:
    for space in client.get("spaces", all=1)["items"]:
        if space["slug"] == slug:
            return space["title"]
    raise CommandError(f"No such space: {slug}.")


class PupilsResetApp(TwinSpaceCommand):
    name = "twinspace-pupils-reset"
    description = "Give a pupil a new password: a generated one, or the word you choose (5–8)."
    examples = """twinspace pupils reset water ana.l
twinspace pupils reset water ana.l --password tiger7"""

    password = Unicode("", config=True, help="The new password (5–8 letters or digits).")
    aliases = {**TwinSpaceCommand.aliases, "password": "PupilsResetApp.password"}

    def run(self) -> None:
        slug, username = self.positional("slug", "user")
        body = {"password": self.password} if self.password else {}
        answer = self.client().post(f"spaces/{slug}/pupils/{username}/password", body)
        self.out(f"New password of {answer['name']}: {answer['password']}")


class PupilsApp(TwinSpaceCommand):
    name = "twinspace-pupils"
    description = "Pupil accounts."
    subcommands = {
        "add": (PupilsAddApp, "Create pupil accounts (names or a count)."),
        "reset": (PupilsResetApp, "Reset a pupil's password."),
    }


# --- user-env ---------------------------------------------------------------------------


class UserEnvApp(TwinSpaceCommand):
    name = "twinspace-user-env"
    description = """Build (or update) the members' Python environment, from Debian's
    /usr/bin/python3 in a world-readable place. A no-op when it is up to date."""
    examples = "twinspace user-env --prefix /opt/twinspace/user"

    prefix = Unicode(config=True, help="Where (default $TWINSPACE_USER_ENV, /opt/twinspace/user).")
    force = Bool(False, config=True, help="Rebuild even when up to date.")

    @default("prefix")
    def _default_prefix(self):
        return os.environ.get("TWINSPACE_USER_ENV", "/opt/twinspace/user")

    aliases = {**TwinSpaceCommand.aliases, "prefix": "UserEnvApp.prefix"}
    flags = {"force": ({"UserEnvApp": {"force": True}}, "Rebuild even when up to date.")}

    def run(self) -> None:
        self.positional()
        build(self.prefix, self.force, self.err)


def build(prefix: str, force: bool, log) -> None:
    from .userenv import UserEnvError, build_user_env

    try:
        build_user_env(prefix, REPO_ROOT, force=force, log=log)
    except UserEnvError as e:
        raise CommandError(str(e)) from None


# --- demo -------------------------------------------------------------------------------

DEMO_PASSWORD = "twinspace-demo"
DEMO_SPACE = "water-around-us"
DEMO_STAGES = (
    ("Access and motivation", "forum", "Introduce yourselves"),
    ("Online socialisation", "blog", "Our schools and towns"),
    ("Information exchange", "forum", "Questions and answers"),
    ("Knowledge construction", "wiki", "What we found out"),
    ("Development", "blog", "What we learned together"),
)
# Pupils' Corner pages are made by pupil administrators only (rights.py), not here.
DEMO_PRIVATE_PAGES = (("teachers_room", "Planning the project"),)
DEMO_WELCOME = (
    "<h2>Welcome to Water around us!</h2><p>Two schools, two countries, one river each. "
    "Work through the five stages below: introduce yourselves, get to know each other, "
    "exchange what you find, build a shared wiki and look back on what you learned.</p>"
)
DEMO_TEACHERS = (
    ("mdupont", "Marie Dupont", "Collège Jean Moulin", "FR"),
    ("akowalska", "Anna Kowalska", "Gimnazjum nr 3", "PL"),
)
DEMO_PUPILS = {
    "mdupont": ["Léa Martin", "Hugo Bernard", "Chloé Petit", "Louis Moreau", "Inès Laurent",
                "Jules Girard"],
    "akowalska": ["Zofia Nowak", "Jakub Wiśniewski", "Maja Wójcik", "Antoni Kamiński",
                  "Lena Lewandowska", "Szymon Zieliński"],
}


DEMO_RECORD = "demo-running.json"  # in the demo's data dir while it runs


def running_demo(data: Path) -> dict | None:
    """The record of the demo running on `data` ({"pid", "api_url", "url"}), if it runs."""
    try:
        record = json.loads((data / DEMO_RECORD).read_text())
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record


class DemoApp(TwinSpaceCommand):
    name = "twinspace-demo"
    description = """Start a demo hub: the first time, it creates a data directory with two
    partner schools in two countries, a founder and a partner teacher, a visitor, a dozen
    pupils and a space with starter pages; then prints the address and the logins and runs
    until Ctrl-C."""
    examples = "twinspace demo --port 8000 --data-dir ./demo-data"

    port = Integer(8000, config=True, help="Port to open the demo on.")
    aliases = {**TwinSpaceCommand.aliases, "port": "DemoApp.port"}

    @default("data_dir")
    def _default_demo_dir(self):
        return str(Path.cwd() / "demo-data")

    hub: subprocess.Popen | None = None

    def run(self) -> None:
        self.positional()
        # Ctrl-C and `kill` both stop the demo cleanly, even when started from a shell that
        # ignores SIGINT in background jobs (ignored signals would pass on to the hub, its
        # proxy and service, which then could not be interrupted either).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        data = Path(self.data_dir).resolve()
        env = {**os.environ, "TWINSPACE_DATA_DIR": str(data), "TWINSPACE_PORT": str(self.port)}
        env.setdefault("TWINSPACE_PUBLIC_URL", f"http://localhost:{self.port}")
        from .config import TwinSpaceHub

        saved = dict(os.environ)
        os.environ.update(env)
        try:
            settings = TwinSpaceHub()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if settings.isolate_users:
            self.err("Preparing the members' environment (once; later runs check it only)…")
            build(settings.user_env_prefix, False, self.err)
        data.mkdir(parents=True, exist_ok=True)
        self.api_url = settings.service_api_url
        self.start_hub(data, env)
        try:
            # The service (directly), then the hub's API through the proxy: the address
            # printed below works when we get past this.
            self.wait_for(self.api_url + "health")
            self.wait_for(f"http://127.0.0.1:{self.port}/hub/api/")
            hub_api = self.hub_api = f"http://127.0.0.1:{settings.hub_port}/hub/api/"
            logins = self.seed(data, hub_api)
            # So that `twinspace space list` etc. find this demo without --data-dir.
            (data / DEMO_RECORD).write_text(json.dumps({
                "pid": os.getpid(), "api_url": self.api_url,
                "url": env["TWINSPACE_PUBLIC_URL"] + "/"}) + "\n")
            self.out("")
            self.out(f"TwinSpace demo running at {env['TWINSPACE_PUBLIC_URL']}/ "
                     f"(data in {data}, log in {data / 'hub.log'})")
            self.out(logins)
            self.out("Press Ctrl-C to stop.")
            while self.hub.poll() is None:
                time.sleep(0.5)
            raise CommandError(f"The hub stopped (exit {self.hub.returncode}): see "
                               f"{data / 'hub.log'}.")
        except KeyboardInterrupt:
            self.err("Stopping the demo hub…")
        finally:
            (data / DEMO_RECORD).unlink(missing_ok=True)
            self.stop_hub()

    def start_hub(self, data: Path, env: dict) -> None:
        jupyterhub = Path(sys.executable).parent / "jupyterhub"
        command = [str(jupyterhub) if jupyterhub.exists() else "jupyterhub",
                   "-f", str(REPO_ROOT / "jupyterhub_config.py")]
        log = open(data / "hub.log", "ab")  # noqa: SIM115 - the hub writes to it until stopped
        # Its own process group: Ctrl-C reaches us only, and we stop the hub (and its
        # proxy and service) cleanly.
        self.hub = subprocess.Popen(command, cwd=data, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def stop_members_servers(self, timeout: float = 60.0) -> None:
        """Members' servers outlive a hub restart by design; the demo's end stops them."""
        import requests

        hub_api = getattr(self, "hub_api", None)
        if hub_api is None:
            return
        admin = {"Authorization": f"token {self.admin_token()}"}
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                running = [u["name"] for u in requests.get(
                    hub_api + "users", headers=admin, timeout=10).json() if u.get("servers")]
                if not running:
                    return
                for name in running:
                    requests.delete(f"{hub_api}users/{name}/server", headers=admin, timeout=30)
                time.sleep(1)
            self.err("Some members' servers did not stop in time.")
        except (requests.RequestException, ValueError) as e:
            self.err(f"Could not stop the members' servers: {e}")

    def stop_hub(self) -> None:
        """SIGTERM: the hub stops its proxy and the API service itself, then exits."""
        if self.hub is None or self.hub.poll() is not None:
            return
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        self.stop_members_servers()
        try:
            self.hub.terminate()
            self.hub.wait(40)
        except subprocess.TimeoutExpired:
            self.err("The hub did not stop in time: killing it.")
            self.hub.kill()
            self.hub.wait(10)
        self.err("Stopped.")

    def wait_for(self, url: str, timeout: float = 120.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.hub.poll() is not None:
                raise CommandError(f"The hub did not start: see {Path(self.data_dir) / 'hub.log'}.")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise CommandError(f"{url} did not answer in time: see hub.log.")

    def seed(self, data: Path, hub_api: str) -> str:
        """The demo's people and space, made once through the API; returns the logins text."""
        logins_file = data / "demo-logins.txt"
        if (data / ".demo-seeded").exists() and logins_file.exists():
            return logins_file.read_text()
        self.err("Creating the demo space and its members…")
        client = self.client()
        founder, partner = DEMO_TEACHERS
        for name, full, school, country in DEMO_TEACHERS:
            ensure_user(client, {"name": name, "kind": "teacher", "display_name": full,
                                 "school": school, "country": country,
                                 "password": DEMO_PASSWORD})
        ensure_user(client, {"name": "visitor", "kind": "visitor",
                             "display_name": "Vera Visitor", "school": "",
                             "country": "", "password": DEMO_PASSWORD})
        spaces = {s["slug"] for s in client.get("spaces", all=1)["items"]}
        if DEMO_SPACE not in spaces:
            client.post("spaces", {
                "slug": DEMO_SPACE, "title": "Water around us", "founder": founder[0],
                "description": "Rivers of Auvergne and Silesia: a joint eTwinning project.",
            })
        client.put(f"spaces/{DEMO_SPACE}/members/{partner[0]}", {"role": "teacher"})
        client.put(f"spaces/{DEMO_SPACE}/members/visitor", {"role": "visitor"})
        self.add_starter_pages(hub_api, founder[0])
        pupils: list[tuple[str, dict]] = []
        for teacher, names in DEMO_PUPILS.items():
            created, _, error = create_pupils(client, DEMO_SPACE, teacher, names=names)
            if error is not None:
                raise error
            school = next(t[2] for t in DEMO_TEACHERS if t[0] == teacher)
            pupils += [(school, item) for item in created]
        lines = ["Demo logins (password of the adults: " + DEMO_PASSWORD + ")",
                 f"  founder teacher  {founder[0]:<12} {DEMO_PASSWORD}   ({founder[2]}, FR)",
                 f"  partner teacher  {partner[0]:<12} {DEMO_PASSWORD}   ({partner[2]}, PL)",
                 f"  visitor          {'visitor':<12} {DEMO_PASSWORD}",
                 "  pupils:"]
        lines += [f"    {item['name']:<14} {item['password']:<8}  {item['display_name']} "
                  f"({school})" for school, item in pupils]
        text = "\n".join(lines) + "\n"
        write_private(logins_file, text)
        (data / ".demo-seeded").write_text("1\n")
        return text

    def add_starter_pages(self, api: str, founder: str) -> None:
        """The five-stage starter pages in Project Activities, made as the founder.

        Pages are made by a member, so the admin service asks the hub for a short-lived
        token of the founder (it holds the `tokens` scope for this).
        """
        import requests

        admin = {"Authorization": f"token {self.admin_token()}"}
        r = requests.get(f"{api}users/{founder}", headers=admin, timeout=30)
        if r.status_code == 404:
            requests.post(f"{api}users/{founder}", headers=admin, timeout=30).raise_for_status()
        r = requests.post(f"{api}users/{founder}/tokens", headers=admin, timeout=30, json={
            "scopes": [ACCESS_SCOPE], "expires_in": 600, "note": "twinspace demo setup"})
        if r.status_code >= 300:
            raise CommandError(f"The hub refused a setup token ({r.status_code}): {r.text}")
        as_founder = TwinSpaceClient(self.api_url, r.json()["token"])
        existing = as_founder.get(f"spaces/{DEMO_SPACE}/pages", section="activities")["items"]
        if existing:
            return
        for i, (title, kind, app_title) in enumerate(DEMO_STAGES):
            page = as_founder.post(f"spaces/{DEMO_SPACE}/pages",
                                   {"section": "activities", "title": title})
            if i == 0:
                welcome = as_founder.post(f"pages/{page['id']}/apps",
                                          {"kind": "web_content", "title": "Welcome"})
                as_founder.put(f"apps/{welcome['id']}/content", {"html": DEMO_WELCOME})
            as_founder.post(f"pages/{page['id']}/apps", {"kind": kind, "title": app_title})
            if i == 0:
                # The public view has something to show: the space and its first page.
                as_founder.patch(f"pages/{page['id']}", {"published": True})
        as_founder.patch(f"spaces/{DEMO_SPACE}", {"public": True})
        # A Teachers' Room page, so teachers' navigation differs from pupils'.
        for section, title in DEMO_PRIVATE_PAGES:
            as_founder.post(f"spaces/{DEMO_SPACE}/pages", {
                "section": section, "title": title,
                "template": nbpages.SECTION_TEMPLATES[section]})


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def ensure_user(client: TwinSpaceClient, body: dict) -> None:
    try:
        client.post("users", body)
    except TwinSpaceError as e:
        if e.status != 409:
            raise


# --- the command ------------------------------------------------------------------------


class TwinSpaceApp(TwinSpaceCommand):
    name = "twinspace"
    description = "Manage a TwinSpace hub: spaces, teachers, pupils; or start a demo."
    examples = """twinspace demo
twinspace space create water --title "Water around us" --founder mdupont
twinspace pupils add water --teacher mdupont --count 24 --sheet slips.html"""
    subcommands = {
        "space": (SpaceApp, SpaceApp.description),
        "teacher": (TeacherApp, TeacherApp.description),
        "pupils": (PupilsApp, PupilsApp.description),
        "user-env": (UserEnvApp, "Build the members' Python environment."),
        "demo": (DemoApp, "Start a demo hub with sample schools, people and pages."),
    }


ALL_COMMANDS = (TwinSpaceApp, SpaceApp, SpaceCreateApp, SpaceListApp, SpaceExportApp,
                SpaceImportApp, TeacherApp,
                TeacherAddApp, PupilsApp, PupilsAddApp, PupilsResetApp, UserEnvApp, DemoApp)


def main(argv: list[str] | None = None) -> int:
    """Run `twinspace ARGS`; returns the exit status (also usable in-process, in tests)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    app = TwinSpaceApp()
    try:
        app.initialize(argv)
        app.start()
        return 0
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    except SystemExit as e:  # --help, bad options: traitlets exits itself
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        # Subcommand apps are singletons: forget them so the next main() starts afresh.
        for cls in ALL_COMMANDS:
            cls.clear_instance()


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
