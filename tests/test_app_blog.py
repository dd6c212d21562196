"""The blog app driven through its widgets against the real service (F14, F18)."""

from __future__ import annotations

from twinspace_kernel.apps import show
from twinspace_kernel.apps.blog import Blog, PostView


def posts_of(world, app_id, role="teacher"):
    return world.as_(role).ok("GET", f"apps/{app_id}/posts")["items"]


def add_post(world, app_id, role="teacher", title="Our towns", body="We live *here*."):
    return world.as_(role).ok("POST", f"apps/{app_id}/posts", json={"title": title, "body": body})


def test_member_publishes_and_member_text_is_safe(world):
    app_id = world.new_app("blog")
    app = show(app_id, client=world.client("pupil"))
    assert isinstance(app, Blog)
    assert app.form_box in app.body.children
    app.title_input.value = "<b>Bold</b> move"
    app.body_input.value = "Hello **world**\n\n<script>alert(1)</script>"
    app.publish_button.click()
    assert "published" in app.banner.value
    assert app.title_input.value == "" and app.body_input.value == ""
    stored = posts_of(world, app_id)
    assert [p["title"] for p in stored] == ["<b>Bold</b> move"]
    [view] = app.post_views
    assert "&lt;b&gt;Bold&lt;/b&gt; move" in view.header.value
    assert "<b>Bold</b>" not in view.header.value
    # The service's sanitizer made the script harmless text; the widget shows that as is.
    assert "<script" not in view.content.value
    assert "<strong>world</strong>" in view.content.value
    # Author with school and country, a date, a comment count.
    assert "(École Test, FR)" in view.header.value
    assert "UTC" in view.header.value
    assert view.comments_button.description == "0 comments"
    # Another member sees it too.
    other = Blog(app_id, client=world.client("visitor"))
    assert [v.item["title"] for v in other.post_views] == ["<b>Bold</b> move"]


def test_refused_post_shows_the_services_message(world):
    app_id = world.new_app("blog")
    app = Blog(app_id, client=world.client("visitor"))
    assert app.form_box not in app.body.children
    # Forcing the hidden form from the visitor's kernel: the service refuses.
    app.title_input.value = "Spam"
    app.body_input.value = "spam"
    app.publish_button.click()
    assert "A visitor may not post in the activities section." in app.banner.value
    assert app.post_views == []
    assert posts_of(world, app_id) == []


def test_comments_toggle_add_edit_delete(world):
    app_id = world.new_app("blog")
    post = add_post(world, app_id)
    app = Blog(app_id, client=world.client("pupil"))
    [view] = app.post_views
    assert view.discussion.layout.display == "none"
    view.comments_button.click()
    assert view.discussion.layout.display == ""
    assert view.comment_form in view.discussion.children
    view.comment_input.value = "Nice <img src=x onerror=alert(1)> town"
    view.comment_button.click()
    assert "comment is added" in app.banner.value
    comments = world.as_("teacher").ok("GET", f"posts/{post['id']}/comments")["items"]
    assert [c["body"] for c in comments] == ["Nice <img src=x onerror=alert(1)> town"]
    assert view.comments_button.description == "1 comment"
    [comment_view] = view.comments_box.children
    assert "<img" not in comment_view.content.value
    # Edit own comment.
    assert comment_view.edit_button in comment_view.actions.children
    comment_view.edit_button.click()
    assert comment_view.body_input.value == comments[0]["body"]
    comment_view.body_input.value = "Nice town!"
    comment_view.save_button.click()
    assert "Saved" in app.banner.value
    assert "Nice town!" in comment_view.content.value
    assert world.as_("teacher").ok("GET", f"posts/{post['id']}/comments")["items"][0][
        "body"] == "Nice town!"
    # The comments hide again and come back.
    view.comments_button.click()
    assert view.discussion.layout.display == "none"
    view.comments_button.click()
    assert len(view.comments_box.children) == 1
    # Delete own comment, after confirming.
    comment_view.delete_button.click()
    assert comment_view.confirm_box.layout.display == ""
    comment_view.confirm_yes.click()
    assert view.comments_box.children == ()
    assert view.comments_button.description == "0 comments"
    assert world.as_("teacher").ok("GET", f"posts/{post['id']}/comments")["items"] == []


def test_refused_comment_shows_the_services_message(world):
    app_id = world.new_app("blog", "pupils_corner")
    add_post(world, app_id, role="pupil", title="Pupils only")
    app = Blog(app_id, client=world.client("teacher"))
    [view] = app.post_views
    assert app.form_box not in app.body.children
    view.comments_button.click()
    assert view.comment_form not in view.discussion.children
    view.comment_input.value = "A teacher's word"
    view.comment_button.click()
    assert "A teacher may not comment in the pupils corner section." in app.banner.value
    assert view.comments_box.children == ()
    assert view.comments_button.description == "0 comments"


def test_edit_and_delete_own_post_or_as_moderator(world):
    app_id = world.new_app("blog")
    mine = add_post(world, app_id, role="pupil", title="Mine", body="first draft")
    app = Blog(app_id, client=world.client("pupil"))
    [view] = app.post_views
    assert view.edit_button in view.actions.children
    view.edit_button.click()
    assert (view.title_input.value, view.body_input.value) == ("Mine", "first draft")
    view.title_input.value = "Mine, <i>edited</i>"
    view.body_input.value = "second *draft*"
    view.save_button.click()
    assert "Saved" in app.banner.value
    assert "Mine, &lt;i&gt;edited&lt;/i&gt;" in view.header.value
    assert "<em>draft</em>" in view.content.value
    stored = world.as_("teacher").ok("GET", f"posts/{mine['id']}")
    assert (stored["title"], stored["body"]) == ("Mine, <i>edited</i>", "second *draft*")

    # Someone else's post: no Edit/Delete for a visitor, and forcing it is refused.
    visitor = Blog(app_id, client=world.client("visitor"))
    [theirs] = visitor.post_views
    assert theirs.edit_button not in theirs.actions.children
    assert theirs.delete_button not in theirs.actions.children
    theirs.start_edit()
    theirs.body_input.value = "vandalised"
    theirs.save_button.click()
    assert "You may only edit or delete your own content." in visitor.banner.value
    assert world.as_("teacher").ok("GET", f"posts/{mine['id']}")["body"] == "second *draft*"

    # A teacher moderates the activities section: they may delete it.
    teacher = Blog(app_id, client=world.client("teacher"))
    [moderated] = teacher.post_views
    assert moderated.delete_button in moderated.actions.children
    moderated.delete_button.click()
    moderated.confirm_yes.click()
    assert "Deleted" in teacher.banner.value
    assert teacher.post_views == []
    assert teacher.empty.layout.display == ""
    assert posts_of(world, app_id) == []


def test_report_a_post_and_a_comment(world):
    app_id = world.new_app("blog")
    post = add_post(world, app_id)
    comment = world.as_("pupil").ok("POST", f"posts/{post['id']}/comments",
                                    json={"body": "rude words"})
    app = Blog(app_id, client=world.client("visitor"))
    [view] = app.post_views
    assert view.report_button in view.actions.children
    view.report_button.click()
    view.reason_input.value = "Off topic"
    view.send_report_button.click()
    assert "moderators will look at it" in app.banner.value
    view.comments_button.click()
    [comment_view] = view.comments_box.children
    comment_view.report_button.click()
    comment_view.reason_input.value = "Rude"
    comment_view.send_report_button.click()
    reports = world.as_("teacher_admin").ok("GET", f"spaces/{world.slug}/reports")["items"]
    assert sorted((r["object_type"], r["object_id"], r["reason"]) for r in reports) == sorted([
        ("blog_post", post["id"], "Off topic"), ("comment", comment["id"], "Rude"),
    ])
    # Twice: the service's message, politely.
    view.send_report_button.click()
    assert "You have already reported this" in app.banner.value


def test_load_older_posts(world, monkeypatch):
    app_id = world.new_app("blog")
    for i in range(5):
        add_post(world, app_id, title=f"Post {i}")
    monkeypatch.setattr(Blog, "page_size", 2)
    app = Blog(app_id, client=world.client("pupil_admin"))
    assert [v.item["title"] for v in app.post_views] == ["Post 4", "Post 3"]
    assert app.older_button.layout.display == ""
    app.older_button.click()
    app.older_button.click()
    assert [v.item["title"] for v in app.post_views] == [f"Post {i}" for i in (4, 3, 2, 1, 0)]
    assert app.older_button.layout.display == "none"
    assert all(isinstance(v, PostView) for v in app.posts_box.children)


def test_outsider_sees_why_not(world):
    app = Blog(world.new_app("blog", "teachers_room"), client=world.client("pupil"))
    assert "may not view this" in app.banner.value
    assert app.body.children == ()
