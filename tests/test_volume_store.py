"""Migration 0003 (members' shared files) from the previous revision, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from twinspace_kernel.store import models as m
from twinspace_kernel.store import new_session_factory, sqlite_url
from twinspace_kernel.store.db import alembic_config, new_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return request.getfixturevalue("pg_url")


def _tables(url: str) -> set[str]:
    engine = new_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_0002_keeps_data_and_adds_shared_files(url):
    command.upgrade(alembic_config(url), "0002")
    assert "shared_files" not in _tables(url)
    engine = new_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO spaces (slug, title, description, state, public, created_at) "
            "VALUES ('old', 'Old space', '', 'open', false, CURRENT_TIMESTAMP)"))
    engine.dispose()

    sessions = new_session_factory(url)  # upgrades to the newest revision
    with sessions() as db:
        space = db.scalar(sa.select(m.Space).where(m.Space.slug == "old"))
        author = m.User(name="ann", kind="pupil", display_name="Ann")
        db.add(author)
        db.flush()
        db.add(m.SharedFile(space_id=space.id, section="pupils_corner", name="Poem.ipynb",
                            author_id=author.id, size=12))
        db.commit()
        db.add(m.SharedFile(space_id=space.id, section="pupils_corner", name="Poem.ipynb"))
        with pytest.raises(IntegrityError):
            db.commit()
        db.rollback()
        # Erasing the author keeps the file, attributed to nobody; the space takes it along.
        db.delete(db.get(m.User, author.id))
        db.commit()
        item = db.scalar(sa.select(m.SharedFile))
        assert (item.name, item.author_id, item.size) == ("Poem.ipynb", None, 12)
        db.delete(db.get(m.Space, space.id))
        db.commit()
        assert db.scalar(sa.select(sa.func.count()).select_from(m.SharedFile)) == 0
    sessions.kw["bind"].dispose()

    command.downgrade(alembic_config(url), "0002")
    assert "shared_files" not in _tables(url)
    assert "spaces" in _tables(url)
