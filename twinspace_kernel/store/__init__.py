"""The TwinSpace store: SQLAlchemy models, the session factory and migrations."""

from .db import new_session_factory, sqlite_url, upgrade

__all__ = ["new_session_factory", "sqlite_url", "upgrade"]
