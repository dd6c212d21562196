"""The forum app driven through its widgets against the real service (F19)."""

from __future__ import annotations

from twinspace_kernel.apps import show
from twinspace_kernel.apps.forum import Forum


def threads_of(world, app_id, role="teacher"):
    return world.as_(role).ok("GET", f"apps/{app_id}/threads")["items"]


def add_thread(world, app_id, role="teacher", title="Our trip", body="Where shall we go?"):
    return world.as_(role).ok("POST", f"apps/{app_id}/threads",
                              json={"title": title, "body": body})


def add_reply(world, thread_id, role="pupil", body="To the sea!"):
    return world.as_(role).ok("POST", f"threads/{thread_id}/replies", json={"body": body})


def test_teacher_opens_a_thread_and_finds_it_in_the_list(world):
    app_id = world.new_app("forum")
    app = show(app_id, client=world.client("teacher"))
    assert isinstance(app, Forum)
    assert app.new_thread_box in app.body.children
    app.new_title.value = "<b>Trip</b> & plans"
    app.new_body.value = "Where?\n\n<script>alert(1)</script>"
    app.open_thread_button.click()
    assert "thread is open" in app.banner.value
    [stored] = threads_of(world, app_id, "pupil")
    assert stored["title"] == "<b>Trip</b> & plans"
    # The widget now shows the thread, its opening message sanitized.
    assert app.thread["id"] == stored["id"]
    assert "&lt;b&gt;Trip&lt;/b&gt; &amp; plans" in app.thread_header.value
    [first] = app.reply_views
    assert "<script" not in first.content.value
    assert first.delete_button not in first.actions.children  # the opening message stays
    # Back to the list.
    app.back_button.click()
    assert app.list_box in app.body.children
    [row] = app.threads_box.children
    assert "&lt;b&gt;Trip&lt;/b&gt;" in row.children[0].value
    assert "0 replies" in row.children[0].value
    assert "(École Test, FR)" in row.children[0].value


def test_pupil_may_not_open_a_thread_in_activities(world):
    app_id = world.new_app("forum")
    app = Forum(app_id, client=world.client("pupil"))
    assert app.new_thread_box not in app.body.children
    # Forcing it from the pupil's own kernel: the service refuses, politely.
    app.new_title.value = "Mine"
    app.new_body.value = "Hello"
    app.open_thread_button.click()
    assert "A pupil may not open a forum thread in the activities section." in app.banner.value
    assert app.thread is None
    assert threads_of(world, app_id) == []


def test_reply_with_a_quote(world):
    app_id = world.new_app("forum")
    thread = add_thread(world, app_id, body="Where shall we **go**?")
    app = Forum(app_id, client=world.client("pupil"))
    [row] = app.threads_box.children
    row.open_button.click()
    assert app.thread["id"] == thread["id"]
    assert app.reply_box in app.body.children
    [first] = app.reply_views
    assert "<strong>go</strong>" in first.content.value
    first.quote_button.click()
    assert app.quote_bar.layout.display == ""
    assert "Quoting Teacher" in app.quote_label.value
    app.reply_input.value = "To the <i>sea</i>!"
    app.reply_button.click()
    assert "reply is posted" in app.banner.value
    assert app.quote_bar.layout.display == "none" and app.reply_input.value == ""
    replies = world.as_("teacher").ok("GET", f"threads/{thread['id']}/replies")["items"]
    assert [r["body"] for r in replies] == ["Where shall we **go**?", "To the <i>sea</i>!"]
    assert replies[1]["quote"]["id"] == first.item["id"]
    # The new reply shows the quoted excerpt above its text.
    first_view, mine = app.reply_views
    assert "wrote:" in mine.header.value and "Where shall we go?" in mine.header.value
    assert "<blockquote" in mine.header.value
    # The list shows the new count and the last activity by the pupil.
    app.back_button.click()
    [row] = app.threads_box.children
    assert "1 reply" in row.children[0].value
    assert "by Pupil" in row.children[0].value


def test_refused_reply_shows_the_services_message(world):
    app_id = world.new_app("forum", "pupils_corner")
    thread = add_thread(world, app_id, role="pupil", title="Pupils' talk")
    app = Forum(app_id, client=world.client("teacher"))
    assert app.new_thread_box not in app.body.children
    app.threads_box.children[0].open_button.click()
    assert app.reply_box not in app.body.children
    [first] = app.reply_views
    assert first.quote_button not in first.actions.children
    app.reply_input.value = "A teacher's word"
    app.reply_button.click()
    assert "A teacher may not reply in the pupils corner section." in app.banner.value
    assert len(world.as_("pupil").ok("GET", f"threads/{thread['id']}/replies")["items"]) == 1


def test_edit_delete_own_reply_and_report(world):
    app_id = world.new_app("forum")
    thread = add_thread(world, app_id)
    reply = add_reply(world, thread["id"], "pupil", "first try")
    app = Forum(app_id, client=world.client("pupil"))
    app.open_item(None, thread["id"])
    first, mine = app.reply_views
    assert first.edit_button not in first.actions.children
    assert mine.edit_button in mine.actions.children
    mine.edit_button.click()
    mine.body_input.value = "second *try*"
    mine.save_button.click()
    assert "<em>try</em>" in mine.content.value
    assert world.as_("teacher").ok("GET", f"replies/{reply['id']}")["body"] == "second *try*"
    # Forcing an edit of the teacher's opening message is refused.
    first.start_edit()
    first.body_input.value = "hacked"
    first.save_button.click()
    assert "You may only edit or delete your own content." in app.banner.value
    # Report the teacher's message.
    first.report_button.click()
    first.reason_input.value = "Wrong date"
    first.send_report_button.click()
    assert "moderators will look at it" in app.banner.value
    reports = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/reports")["items"]
    assert [(r["object_type"], r["object_id"], r["reason"]) for r in reports] == [
        ("forum_reply", first.item["id"], "Wrong date")
    ]
    # Delete own reply.
    mine.delete_button.click()
    mine.confirm_yes.click()
    assert app.reply_views == [first]
    assert len(world.as_("teacher").ok("GET", f"threads/{thread['id']}/replies")["items"]) == 1


def test_thread_author_deletes_the_thread(world):
    app_id = world.new_app("forum")
    thread = add_thread(world, app_id)
    visitor = Forum(app_id, client=world.client("visitor"))
    visitor.open_item(None, thread["id"])
    assert visitor.delete_thread_button.layout.display == "none"
    app = Forum(app_id, client=world.client("teacher"))
    app.open_item(None, thread["id"])
    assert app.delete_thread_button.layout.display == ""
    app.delete_thread_button.click()
    app.confirm_thread_box.children[1].click()
    assert "thread is deleted" in app.banner.value
    assert app.threads_box.children == ()
    assert threads_of(world, app_id) == []


def test_load_more_replies_and_older_threads(world, monkeypatch):
    app_id = world.new_app("forum")
    thread = add_thread(world, app_id, body="0")
    for i in range(1, 5):
        add_reply(world, thread["id"], body=str(i))
    for title in ("B", "C"):
        add_thread(world, app_id, title=title)
    monkeypatch.setattr(Forum, "page_size", 2)
    app = Forum(app_id, client=world.client("visitor"))
    assert [r.thread["title"] for r in app.threads_box.children] == ["C", "B"]
    app.older_threads_button.click()
    assert [r.thread["title"] for r in app.threads_box.children] == ["C", "B", "Our trip"]
    assert app.older_threads_button.layout.display == "none"
    app.threads_box.children[2].open_button.click()
    assert [v.item["body"] for v in app.reply_views] == ["0", "1"]
    assert app.more_replies_button.layout.display == ""
    app.more_replies_button.click()
    app.more_replies_button.click()
    assert [v.item["body"] for v in app.reply_views] == ["0", "1", "2", "3", "4"]
    assert app.more_replies_button.layout.display == "none"
