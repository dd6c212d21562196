"""The wiki's no-lost-update guard at the database level (F20), on SQLite and PostgreSQL.

The API test drives the service, which serves requests one at a time; here ten
sessions race on their own connections, as several service processes would.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from twinspace_kernel.service.wiki import store_revision
from twinspace_kernel.store import models as m
from twinspace_kernel.store import new_session_factory

WRITERS = 10


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'wiki.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    factory = new_session_factory(url)
    yield factory
    factory.kw["bind"].dispose()


def make_wiki(factory) -> int:
    with factory() as db:
        space = m.Space(slug="race", title="Race")
        page = m.Page(space=space, section="activities", slug="p", title="P")
        app = m.AppInstance(page=page, kind="wiki")
        db.add_all([space, page, app])
        db.flush()
        wiki = m.WikiPage(app_id=app.id, title="Race", current_revision=1)
        db.add(wiki)
        db.flush()
        db.add(m.WikiRevision(wiki_id=wiki.id, number=1, text="v1"))
        db.commit()
        return wiki.id


def test_ten_sessions_same_base_one_wins(sessions):
    wiki_id = make_wiki(sessions)
    barrier = threading.Barrier(WRITERS)

    def save(i: int) -> bool:
        with sessions() as db:
            # Read first, as the handler does, then race on the write.
            assert db.get(m.WikiPage, wiki_id).current_revision == 1
            barrier.wait()
            try:
                rev = store_revision(db, wiki_id, 1, f"writer {i}", author_id=None)
                if rev is None:
                    db.rollback()
                    return False
                db.commit()
                return True
            except IntegrityError:
                db.rollback()
                return False

    with ThreadPoolExecutor(WRITERS) as pool:
        won = list(pool.map(save, range(WRITERS)))
    assert won.count(True) == 1, won
    with sessions() as db:
        assert db.get(m.WikiPage, wiki_id).current_revision == 2
        count = db.scalar(
            select(func.count()).where(m.WikiRevision.wiki_id == wiki_id)
        )
        assert count == 2
        text = db.scalar(
            select(m.WikiRevision.text).where(
                m.WikiRevision.wiki_id == wiki_id, m.WikiRevision.number == 2
            )
        )
        assert text == f"writer {won.index(True)}"


def test_duplicate_revision_number_is_refused(sessions):
    """The unique (wiki_id, number) constraint backs the conditional UPDATE up."""
    wiki_id = make_wiki(sessions)
    with sessions() as db:
        db.add(m.WikiRevision(wiki_id=wiki_id, number=1, text="sneaky"))
        with pytest.raises(IntegrityError):
            db.commit()
