"""The Quality Label evidence (F33) month by month, on a space seeded with known counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session
from utils import image_with_gps

from twinspace_kernel.store import models as m
from twinspace_kernel.store.db import new_engine

SEPT, OCT, NOV = "2025-09", "2025-10", "2025-11"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def upload(caller, path: str, data: bytes, filename: str):
    return caller.post(path, data=data, params={"filename": filename}, expect=201)


def when(month: str, day: int = 12) -> dt.datetime:
    return dt.datetime(int(month[:4]), int(month[5:]), day, 9, 30, tzinfo=dt.UTC)


def redate(db_url: str, changes: list[tuple]) -> None:
    """Move items back in time: (model, condition, month) each; the API writes 'now'."""
    engine = new_engine(db_url)
    try:
        with Session(engine) as db:
            for model, condition, month in changes:
                db.execute(update(model).where(condition).values(created_at=when(month)))
            db.commit()
    finally:
        engine.dispose()


def only(counts: dict) -> dict:
    """The figures of a month that are not zero."""
    return {key: n for key, n in counts.items() if n}


def test_quality_report_month_by_month(site, db_url):
    ta = site.account("teacher", prefix="qa", school="Lycée A", country="FR")
    world = site.space(ta)
    partner = site.account("teacher", prefix="qb", school="Schule B", country="DE")
    pupil_b = site.account("pupil", prefix="qp", school="Schule B", country="DE")
    site.admin.ok("PUT", f"spaces/{world.slug}/members/{partner.name}", json={"role": "teacher"})
    site.admin.ok("PUT", f"spaces/{world.slug}/members/{pupil_b.name}", json={"role": "pupil"})
    dated: list[tuple] = []

    # Blog: A posts in September; B comments in September and October (a pupil's October
    # comment is hidden by a moderator); A's own comment is not cross-school.
    journal = world.app_id("blog", "home")
    post = ta.ok("POST", f"apps/{journal}/posts", json={"title": "Day 1", "body": "Hi"})["id"]
    dated.append((m.BlogPost, m.BlogPost.id == post, SEPT))
    comments = {}
    for who, month in ((partner, SEPT), (partner, OCT), (pupil_b, OCT), (ta, OCT)):
        comments[who.name] = who.ok("POST", f"posts/{post}/comments",
                                    json={"body": "Hello"})["id"]
        dated.append((m.Comment, m.Comment.id == comments[who.name], month))
    ta.ok("POST", "moderation", json={"object_type": "comment",
                                      "object_id": comments[pupil_b.name], "action": "hide"})

    # Forum: B opens a thread in September; A answers in October (cross-school), B's pupil
    # too (same school: not cross-school).
    forum = world.new_app("forum")
    thread = partner.ok("POST", f"apps/{forum}/threads",
                        json={"title": "Rivers", "body": "Yours?"})["id"]
    dated += [(m.ForumThread, m.ForumThread.id == thread, SEPT),
              (m.ForumReply, m.ForumReply.thread_id == thread, SEPT)]
    for who in (ta, pupil_b):
        reply = who.ok("POST", f"threads/{thread}/replies", json={"body": "Ours"})["id"]
        dated.append((m.ForumReply, m.ForumReply.id == reply, OCT))

    # Wiki: A starts two pages in September; B edits one in October: co-written in October.
    wiki = world.new_app("wiki")
    shared = ta.ok("POST", f"apps/{wiki}/wiki", json={"title": "Shared", "text": "A"})["id"]
    alone = ta.ok("POST", f"apps/{wiki}/wiki", json={"title": "Alone", "text": "A"})["id"]
    partner.ok("PUT", f"wiki/{shared}", json={"text": "A\nB", "base_revision": 1})
    revision = m.WikiRevision
    dated += [(revision, revision.wiki_id.in_([shared, alone]) & (revision.number == 1), SEPT),
              (revision, (revision.wiki_id == shared) & (revision.number == 2), OCT)]

    # Files: B shares a document in September and one in October; photos: A two in
    # October, one of them hidden by a moderator.
    library = world.new_app("documents")
    for month in (SEPT, OCT):
        doc = upload(partner, f"apps/{library}/documents", PDF, f"{month}.pdf").json()["id"]
        dated.append((m.Document, m.Document.id == doc, month))
    gallery = world.new_app("gallery")
    album = ta.ok("POST", f"apps/{gallery}/albums", json={"title": "Trip"})["id"]
    photos = [upload(ta, f"albums/{album}/photos", image_with_gps(), f"{n}.jpg").json()["id"]
              for n in range(2)]
    dated.append((m.Photo, m.Photo.id.in_(photos), OCT))

    # Chat: A twice in October, B once in November.
    rooms = ta.ok("GET", f"spaces/{world.slug}/rooms")["items"]
    general = next(r for r in rooms if r["name"] == "General")["id"]
    for who, month in ((ta, OCT), (ta, OCT), (partner, NOV)):
        message = who.ok("POST", f"rooms/{general}/messages", json={"body": "Hallo"})["id"]
        dated.append((m.ChatMessage, m.ChatMessage.id == message, month))

    redate(db_url, dated)
    engine = new_engine(db_url)
    with engine.begin() as conn:
        conn.execute(update(m.Photo).where(m.Photo.id == photos[1]).values(hidden=True))
    engine.dispose()

    report = world.as_("teacher").ok("GET", f"spaces/{world.slug}/cooperation-report")
    assert report["months"] == [SEPT, OCT, NOV]
    schools = {(s["school"], s["country"]): s for s in report["schools"]}
    a, b = schools[("Lycée A", "FR")], schools[("Schule B", "DE")]
    assert only(a["monthly"][SEPT]) == {"blog_posts": 1, "wiki_revisions": 2,
                                        "active_members": 1}
    assert only(a["monthly"][OCT]) == {"cross_school_replies": 1, "co_written_wiki_pages": 1,
                                       "photos": 1, "chat_messages": 2, "active_members": 1}
    assert NOV not in a["monthly"]  # a quiet month for A
    assert only(b["monthly"][SEPT]) == {"cross_school_comments": 1, "forum_threads": 1,
                                        "documents": 1, "active_members": 1}
    # Both B members were active in October (the hidden comment is not what counts: the
    # pupil's reply is).
    assert only(b["monthly"][OCT]) == {"cross_school_comments": 1, "co_written_wiki_pages": 1,
                                       "documents": 1, "wiki_revisions": 1,
                                       "active_members": 2}
    assert only(b["monthly"][NOV]) == {"chat_messages": 1, "active_members": 1}
    # In all, per school: the months add up.
    assert (a["members"], a["active_members"], a["photos"], a["chat_messages"]) == (1, 1, 1, 2)
    assert (b["members"], b["active_members"], b["documents"], b["comments"]) == (2, 2, 2, 2)
    assert a["co_written_wiki_pages"] == b["co_written_wiki_pages"] == 1

    # The space's months: a co-written page counts once; active members are distinct.
    space = {month: only(counts) for month, counts in report["monthly"].items()}
    assert space[SEPT] == {"cross_school_comments": 1, "documents": 1, "blog_posts": 1,
                           "forum_threads": 1, "wiki_revisions": 2, "active_members": 2}
    assert space[OCT] == {"cross_school_comments": 1, "cross_school_replies": 1,
                          "co_written_wiki_pages": 1, "documents": 1, "photos": 1,
                          "chat_messages": 2, "wiki_revisions": 1, "active_members": 3}
    assert space[NOV] == {"chat_messages": 1, "active_members": 1}
    assert report["cross_school"] == {"comments": 2, "forum_replies": 1, "wiki_pages": 1}
    assert (report["totals"]["active_members"], report["totals"]["chat_messages"]) == (3, 3)

    # Pupils do not see the evidence.
    pupil_b.get(f"spaces/{world.slug}/cooperation-report", expect=403)
