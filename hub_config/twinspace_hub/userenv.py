"""Builds the members' Python environment: the venv every member's server and kernels run in.

The hub's own environment usually lives where system users cannot go (a pyenv or a
checkout under /root), so members get their own venv, made from Debian's
/usr/bin/python3 in a world-readable place (default /opt/twinspace/user), with this
project installed as a wheel: nothing in it points back into the checkout.

    python -m twinspace_hub.userenv [--prefix /opt/twinspace/user] [--project DIR] [--force]

Re-running is a no-op while the project's sources are unchanged (a stamp in the prefix
records their hash). Importing this module does nothing.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

DEFAULT_PREFIX = "/opt/twinspace/user"
SYSTEM_PYTHON = "/usr/bin/python3"
STAMP_NAME = ".twinspace-user-env.json"
# Pulled in by jupyter-events' jsonschema extras, optional to jsonschema, slow to import.
SLOW_OPTIONAL_PACKAGE = "rfc3987-syntax"

# What goes into the wheel; the hash of these decides whether a rebuild is needed.
PROJECT_FILES = ("pyproject.toml", "README.md")
PROJECT_TREES = (
    "twinspace_kernel",
    "hub_config/twinspace_hub",
    "extensions/twinspace_volume",
    "extensions/twinspace_view",
    "extensions/twinspace_public",
)
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}


class UserEnvError(RuntimeError):
    """The members' environment could not be built; the message says why and what to do."""


def default_project_dir() -> Path:
    """The checkout this module belongs to (hub_config/twinspace_hub/ -> the repository)."""
    return Path(__file__).resolve().parents[2]


def _project_sources(project: Path) -> list[Path]:
    files = [project / name for name in PROJECT_FILES if (project / name).is_file()]
    for tree in PROJECT_TREES:
        for path in sorted((project / tree).rglob("*")):
            if path.is_file() and not SKIP_PARTS & set(path.parts) and path.suffix != ".pyc":
                files.append(path)
    return files


def project_fingerprint(project: Path) -> dict[str, str]:
    """Version and content hash of the project as it would be installed."""
    project = Path(project)
    with open(project / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    digest = hashlib.sha256()
    for path in _project_sources(project):
        digest.update(str(path.relative_to(project)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return {"version": version, "hash": digest.hexdigest()}


def read_stamp(prefix: str | os.PathLike) -> dict | None:
    try:
        return json.loads((Path(prefix) / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def is_up_to_date(prefix: str | os.PathLike, project: str | os.PathLike | None = None) -> bool:
    """True when `prefix` holds a working members' env built from this very project."""
    project = Path(project) if project else default_project_dir()
    stamp = read_stamp(prefix)
    if not stamp or not (Path(prefix) / "bin" / "jupyterhub-singleuser").exists():
        return False
    fingerprint = project_fingerprint(project)
    return all(stamp.get(key) == value for key, value in fingerprint.items())


def _run(cmd: list[str], log: Callable[[str], None], **kwargs) -> None:
    log("+ " + " ".join(cmd))
    result = subprocess.run(cmd, **kwargs)
    if result.returncode != 0:
        raise UserEnvError(f"`{' '.join(cmd)}` failed with exit code {result.returncode}.")


def _ensure_venv_module(python: str, log: Callable[[str], None]) -> None:
    """Debian ships venv's pip bootstrap (ensurepip) separately, in python3-venv."""
    if not Path(python).exists():
        raise UserEnvError(
            f"{python} is missing: install Debian's python3 (apt-get install python3-venv)."
        )
    probe = subprocess.run([python, "-c", "import ensurepip, venv"], capture_output=True)
    if probe.returncode == 0:
        return
    if os.geteuid() != 0:
        raise UserEnvError("python3-venv is missing: run `apt-get install python3-venv` as root.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "python3-venv"]
    if subprocess.run(install, env=env).returncode != 0:
        _run(["apt-get", "update"], log, env=env)
        _run(install, log, env=env)


def _copy_project(project: Path, into: Path) -> Path:
    """A clean copy to build the wheel from: pip builds in-tree and would leave build/ behind."""
    target = into / "src"
    target.mkdir()
    for name in PROJECT_FILES:
        if (project / name).is_file():
            shutil.copy2(project / name, target / name)
    ignore = shutil.ignore_patterns(*SKIP_PARTS, "*.pyc", "*.egg-info")
    for tree in PROJECT_TREES:
        shutil.copytree(project / tree, target / tree, ignore=ignore)
    return target


def make_world_readable(prefix: Path) -> None:
    """Directories 0755, files readable by all (executables stay executable)."""
    for root, dirs, files in os.walk(prefix):
        for name in dirs:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o755)
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            mode = os.stat(path).st_mode
            wanted = mode | 0o444 | (0o111 if mode & stat.S_IXUSR else 0)
            if wanted != mode:
                os.chmod(path, wanted)
    for parent in [prefix, *prefix.parents]:
        if parent == Path("/"):
            break
        # Every directory above must be traversable, or members cannot reach the env.
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005 and parent.owner() == "root":
            parent.chmod(mode | 0o755)


def build_user_env(
    prefix: str | os.PathLike = DEFAULT_PREFIX,
    project_dir: str | os.PathLike | None = None,
    *,
    python: str = SYSTEM_PYTHON,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> bool:
    """Create or update the members' venv at `prefix`; returns False when already up to date.

    Raises UserEnvError with a message to show when something is missing.
    """
    prefix = Path(prefix)
    project = Path(project_dir).resolve() if project_dir else default_project_dir()
    if not (project / "pyproject.toml").is_file():
        raise UserEnvError(
            f"No TwinSpace checkout at {project}: pass the project's folder (--project)."
        )
    if not force and is_up_to_date(prefix, project):
        log(f"The members' environment at {prefix} is up to date.")
        return False
    try:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        lock = open(prefix.parent / f".{prefix.name}.lock", "w")  # noqa: SIM115
    except PermissionError:
        raise UserEnvError(
            f"Cannot write {prefix}: build the members' environment as root."
        ) from None
    # Two builds at once (parallel test workers, a CLI run) would break each other's pip.
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(prefix, project, python=python, force=force, log=log)


def _build_locked(prefix: Path, project: Path, *, python: str, force: bool,
                  log: Callable[[str], None]) -> bool:
    fingerprint = project_fingerprint(project)
    if not force and is_up_to_date(prefix, project):
        log(f"The members' environment at {prefix} is up to date ({fingerprint['version']}).")
        return False
    if not os.access(prefix.parent, os.W_OK):
        raise UserEnvError(f"Cannot write {prefix}: build the members' environment as root.")

    _ensure_venv_module(python, log)
    vpython = prefix / "bin" / "python"
    if not vpython.exists() or subprocess.run([str(vpython), "-c", "pass"]).returncode != 0:
        if prefix.exists():
            shutil.rmtree(prefix)
        _run([python, "-m", "venv", str(prefix)], log)
    (prefix / STAMP_NAME).unlink(missing_ok=True)

    pip = [str(vpython), "-m", "pip", "--disable-pip-version-check"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with tempfile.TemporaryDirectory(prefix="twinspace-user-env-") as tmp:
        source = _copy_project(project, Path(tmp))
        # The wheel is built aside; servers of a running hub import from the env all the
        # while, so the swap itself must be short: the project's own version does not
        # change between commits, hence a forced reinstall of it alone, then its
        # dependencies topped up.
        _run([*pip, "wheel", "-q", "--no-deps", "-w", tmp, str(source)], log, env=env)
        [wheel] = Path(tmp).glob("twinspace-*.whl")
        _run([*pip, "install", "-q", "--no-deps", "--force-reinstall", str(wheel)], log, env=env)
        _run([*pip, "install", "-q", str(wheel)], log, env=env)
        # jsonschema's optional IRI format check builds an Earley parser at every import:
        # 1-10 s more for every member's server start. No IRI is validated here.
        _run([*pip, "uninstall", "-q", "-y", SLOW_OPTIONAL_PACKAGE], log, env=env,
             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    make_world_readable(prefix)
    stamp = {**fingerprint, "python": python}
    (prefix / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n")
    (prefix / STAMP_NAME).chmod(0o644)
    log(f"The members' environment at {prefix} is ready ({fingerprint['version']}).")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the members' Python environment.")
    parser.add_argument("--prefix", default=os.environ.get("TWINSPACE_USER_ENV", DEFAULT_PREFIX))
    parser.add_argument("--project", default=None, help="the checkout to install (default: this)")
    parser.add_argument("--python", default=SYSTEM_PYTHON)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    try:
        build_user_env(args.prefix, args.project, python=args.python, force=args.force)
    except UserEnvError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
