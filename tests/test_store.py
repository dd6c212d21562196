"""The store on SQLite and PostgreSQL: migrations, constraints, cascades, indexes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from twinspace_kernel.store import models as m
from twinspace_kernel.store import new_session_factory, sqlite_url, upgrade
from twinspace_kernel.store.db import alembic_config, new_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return request.getfixturevalue("pg_url")


def _space_with_member(session):
    teacher = m.User(name="tea", kind="teacher", display_name="Tea Cher", school="A")
    space = m.Space(slug="s1", title="Space one")
    session.add_all([teacher, space])
    session.flush()
    session.add(m.Membership(space_id=space.id, user_id=teacher.id, role="teacher_admin"))
    session.commit()
    return teacher, space


def test_upgrade_from_empty_creates_every_table(url):
    upgrade(url)
    engine = new_engine(url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in m.Base.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_downgrade_and_upgrade_again(url):
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = new_engine(url)
    assert "users" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    upgrade(url)
    sessions = new_session_factory(url, upgrade_db=False)
    with sessions() as session:
        _space_with_member(session)


def test_models_match_the_migrations(url):
    """Autogenerate finds nothing to add: the migration describes the models exactly."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(url)
    engine = new_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    sessions = new_session_factory(sqlite_url(tmp_path))
    with sessions() as session:
        assert session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


def test_deleting_a_space_cascades_and_authors_survive_erasure(url):
    sessions = new_session_factory(url)
    with sessions() as session:
        teacher, space = _space_with_member(session)
        page = m.Page(space_id=space.id, section="activities", slug="p", title="P")
        page.apps = [m.AppInstance(kind="blog", title="Blog")]
        session.add(page)
        session.flush()
        post = m.BlogPost(app_id=page.apps[0].id, author_id=teacher.id, title="t",
                          body="b", body_html="<p>b</p>")
        session.add(post)
        session.commit()
        # Erasing the author keeps the post, attributed to nobody (F35).
        session.delete(teacher)
        session.commit()
        session.expire_all()
        assert session.get(m.BlogPost, post.id).author_id is None
        session.delete(session.get(m.Space, space.id))
        session.commit()
        assert session.scalar(select(sa.func.count()).select_from(m.BlogPost)) == 0
        assert session.scalar(select(sa.func.count()).select_from(m.Membership)) == 0


def test_one_membership_per_user_and_space(url):
    sessions = new_session_factory(url)
    with sessions() as session:
        teacher, space = _space_with_member(session)
        session.add(m.Membership(space_id=space.id, user_id=teacher.id, role="teacher"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_wiki_revision_numbers_are_unique(url):
    sessions = new_session_factory(url)
    with sessions() as session:
        _teacher, space = _space_with_member(session)
        page = m.Page(space_id=space.id, section="activities", slug="w", title="W")
        page.apps = [m.AppInstance(kind="wiki")]
        session.add(page)
        session.flush()
        wiki = m.WikiPage(app_id=page.apps[0].id, title="Home", current_revision=1)
        session.add(wiki)
        session.flush()
        session.add(m.WikiRevision(wiki_id=wiki.id, number=1, text="a"))
        session.commit()
        session.add(m.WikiRevision(wiki_id=wiki.id, number=1, text="b"))
        with pytest.raises(IntegrityError):
            session.commit()


@pytest.mark.parametrize(
    "query,index",
    [
        (
            "SELECT * FROM chat_messages WHERE room_id = 1 AND id > 5 ORDER BY id LIMIT 50",
            "ix_chat_messages_room",
        ),
        (
            "SELECT * FROM activity_events WHERE space_id = 1 AND id < 900 "
            "ORDER BY id DESC LIMIT 50",
            "ix_activity_space",
        ),
        (
            "SELECT * FROM forum_replies WHERE thread_id = 1 AND id > 5 ORDER BY id LIMIT 50",
            "ix_forum_replies_thread",
        ),
        (
            "SELECT * FROM mail_recipients WHERE recipient_id = 1 AND message_id < 99 "
            "ORDER BY message_id DESC LIMIT 50",
            "ix_mail_recipients_inbox",
        ),
    ],
)
def test_feeds_page_through_an_index(tmp_path, query, index):
    """Keyset pages are index range scans (no sort, no full scan) whatever the size."""
    sessions = new_session_factory(sqlite_url(tmp_path))
    with sessions() as session:
        plan = " ".join(
            str(row[-1]) for row in session.execute(sa.text("EXPLAIN QUERY PLAN " + query))
        )
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_reading_sessions_skip_transactions_on_postgresql_only(url):
    """GET requests read without BEGIN/ROLLBACK on PostgreSQL; SQLite keeps one factory."""
    from twinspace_kernel.store import reading_sessions

    sessions = new_session_factory(url)
    reading = reading_sessions(sessions)
    if url.startswith("sqlite"):
        assert reading is None
        return
    with reading() as db, sessions() as writer:
        assert db.connection().connection.dbapi_connection.autocommit is True
        space = m.Space(slug="read-now", title="T")
        writer.add(space)
        writer.commit()
        # A reader sees what was committed since its last statement (as READ COMMITTED does).
        assert db.scalar(select(m.Space.title).where(m.Space.slug == "read-now")) == "T"
    with sessions() as db:  # the writers' pool connections are not left in autocommit
        assert db.connection().connection.dbapi_connection.autocommit is False
