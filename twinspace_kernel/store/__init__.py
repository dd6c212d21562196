"""The TwinSpace store: SQLAlchemy models, the session factory and migrations."""

from .db import new_session_factory, reading_sessions, sqlite_url, upgrade

__all__ = ["new_session_factory", "reading_sessions", "sqlite_url", "upgrade"]
