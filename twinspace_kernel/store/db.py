"""Engines, sessions and Alembic upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, inspect, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def sqlite_url(data_dir: str | Path) -> str:
    """The default database: one SQLite file under the data directory."""
    return f"sqlite:///{Path(data_dir).resolve() / 'twinspace.sqlite'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers go on while one writer commits; SQLite leaves foreign keys off
    # unless asked on every connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def is_local_server(url: str) -> bool:
    """Whether the database server at `url` runs on this machine (TCP loopback or a
    Unix socket)."""
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or ""
    if isinstance(host, tuple):
        host = host[0]
    return host in LOCAL_HOSTS or host.startswith("/")


def new_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # The ping is one more round trip on every checkout, i.e. every request. A server
        # across a network drops idle connections (firewalls, failovers): ping those. A
        # local one only does when restarted, and then one request fails, as it would
        # mid-transaction anyway.
        ping = not is_local_server(url)
        engine = create_engine(url, pool_pre_ping=ping, pool_size=10, max_overflow=20,
                               **kwargs)
    return engine


def new_session_factory(url: str, *, upgrade_db: bool = True) -> sessionmaker[Session]:
    """A session factory for `url`, upgrading the schema to the newest revision first."""
    if upgrade_db:
        upgrade(url)
    return sessionmaker(new_engine(url), expire_on_commit=False)


def reading_sessions(sessions: sessionmaker[Session]) -> sessionmaker[Session] | None:
    """Sessions for requests that read (GET): on PostgreSQL in autocommit, which saves the
    BEGIN and the ROLLBACK, two round trips of a read's five. Under READ COMMITTED each
    statement sees the newest committed data inside a transaction too, so nothing a reader
    sees changes; a read's single-row write (a mail marked read) commits by itself. None on
    SQLite (no round trips to save)."""
    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        return None
    return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"),
                        expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _backup_sqlite(url: str) -> None:
    # Like jupyterhub's dbutil: keep a copy before migrating a database that has data.
    path = Path(url.removeprefix("sqlite:///"))
    if path.exists() and path.stat().st_size:
        shutil.copy2(path, path.with_suffix(path.suffix + ".bak"))


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (an empty database included)."""
    engine = new_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        if url.startswith("sqlite:///") and "alembic_version" in tables:
            from alembic.runtime.migration import MigrationContext
            from alembic.script import ScriptDirectory

            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            if current != head:
                _backup_sqlite(url)
    finally:
        engine.dispose()
    command.upgrade(alembic_config(url), revision)
