"""Blogs: the Home project journal (F14) and blog applications on pages (F18), with comments."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select

from .. import rights
from ..store import models as m
from .base import APIError, APIHandler, utcnow
from .sanitize import plain_text, render_markdown

TITLE_MAX = 200
BODY_MAX = 50_000
COMMENT_MAX = 10_000

POST_COLUMNS = (
    m.BlogPost.id, m.BlogPost.app_id, m.BlogPost.title, m.BlogPost.body, m.BlogPost.body_html,
    m.BlogPost.author_id, m.BlogPost.created_at, m.BlogPost.updated_at, m.BlogPost.hidden,
)
_posts_pages: dict[tuple[bool, bool, bool], object] = {}


def posts_page_statement(moderator: bool, before: bool, after: bool):
    """A page of a blog's posts with their comment counts, in one Core statement built
    once per shape (bound: app_id, limit, and before/after when given). The keyset is
    APIHandler.keyset's: newest first, oldest first after a cursor."""
    key = (moderator, before, after)
    statement = _posts_pages.get(key)
    if statement is None:
        comments = (
            select(func.count()).select_from(m.Comment).where(m.Comment.post_id == m.BlogPost.id)
        )
        if not moderator:
            comments = comments.where(m.Comment.hidden.is_(False))
        statement = select(
            *POST_COLUMNS, comments.scalar_subquery().label("comment_count")
        ).where(m.BlogPost.app_id == bindparam("app_id"))
        if not moderator:
            statement = statement.where(m.BlogPost.hidden.is_(False))
        if before:
            statement = statement.where(m.BlogPost.id < bindparam("before"))
        if after:
            statement = statement.where(m.BlogPost.id > bindparam("after"))
        order = m.BlogPost.id.asc() if after else m.BlogPost.id.desc()
        statement = _posts_pages[key] = statement.order_by(order).limit(bindparam("limit"))
    return statement


class BlogHandler(APIHandler):
    """Shared loading and serialising for posts and comments."""

    def post_context(self, post_id):
        """(post, app, page, space) for a post the caller may view; 404 if hidden from them."""
        post = self.load(m.BlogPost, post_id, "post")
        app, page, space = self.app_context(post.app_id)
        self.require_page(page)
        if post.hidden and not self.may(space, "moderate", page.section):
            raise APIError(404, "No such post.")
        return post, app, page, space

    def comment_context(self, comment_id):
        """(comment, post, page, space) for a comment the caller may view."""
        comment = self.load(m.Comment, comment_id, "comment")
        post, _app, page, space = self.post_context(comment.post_id)
        if comment.hidden and not self.may(space, "moderate", page.section):
            raise APIError(404, "No such comment.")
        return comment, post, page, space

    def may_edit(self, space: m.Space, section: str, author_id: int | None, role: str) -> bool:
        user = self.identity.user
        is_author = user is not None and author_id == user.id
        return rights.may_edit(role, section, is_author=is_author, state=space.state)

    def post_json(self, post: m.BlogPost, space: m.Space, section: str, role: str,
                  comment_count: int) -> dict:
        return {
            "id": post.id,
            "app_id": post.app_id,
            "title": post.title,
            "body": post.body,
            "body_html": post.body_html,
            "author": self.author(post.author_id),
            "created_at": post.created_at,
            "updated_at": post.updated_at,
            "comment_count": comment_count,
            "may_edit": self.may_edit(space, section, post.author_id, role),
            "hidden": post.hidden,
        }

    def comment_json(self, comment: m.Comment, space: m.Space, section: str, role: str) -> dict:
        return {
            "id": comment.id,
            "post_id": comment.post_id,
            "body": comment.body,
            "body_html": comment.body_html,
            "author": self.author(comment.author_id),
            "created_at": comment.created_at,
            "may_edit": self.may_edit(space, section, comment.author_id, role),
            "hidden": comment.hidden,
        }

    def comment_counts(self, post_ids: list[int], *, with_hidden: bool) -> dict[int, int]:
        if not post_ids:
            return {}
        query = (
            select(m.Comment.post_id, func.count())
            .where(m.Comment.post_id.in_(post_ids))
            .group_by(m.Comment.post_id)
        )
        if not with_hidden:
            query = query.where(m.Comment.hidden.is_(False))
        return dict(self.db.execute(query).all())

    def one_post_json(self, post, space, section) -> dict:
        moderator = self.may(space, "moderate", section)
        count = self.comment_counts([post.id], with_hidden=moderator).get(post.id, 0)
        return self.post_json(post, space, section, self.role_in(space), count)

    def post_fields(self, body: dict, *, partial: bool) -> dict:
        fields = {}
        if not partial or "title" in body:
            fields["title"] = self.field(body, "title", max_len=TITLE_MAX)
        if not partial or "body" in body:
            fields["body"] = self.field(body, "body", max_len=BODY_MAX)
        if partial and not fields:
            raise APIError(400, "Nothing to change: send 'title' or 'body'.")
        return fields


class PostsHandler(BlogHandler):
    def get(self, app_id):
        """A blog's posts, newest first (`?before=` the `next` cursor, `?limit=`)."""
        app, page, space = self.app_context(app_id, "blog")
        role = self.require_page(page)
        moderator = self.may(space, "moderate", page.section, role=role)
        limit, before, after = self.page_bounds()
        params = {"app_id": app.id, "limit": limit + 1}
        if before is not None:
            params["before"] = before
        if after is not None:
            params["after"] = after
        statement = posts_page_statement(moderator, before is not None, after is not None)
        # Rows, not ORM objects: a read-only list needs no identity map or unit of work.
        posts, cursor = self.page_of(list(self.db.connection().execute(statement, params)),
                                     limit)
        self.load_authors(p.author_id for p in posts)
        items = [
            self.post_json(p, space, page.section, role, p.comment_count) for p in posts
        ]
        self.write_json({"items": items, "next": cursor})

    def post(self, app_id):
        """Write a post (`title`, Markdown `body`; sanitized on the way in)."""
        app, page, space = self.app_context(app_id, "blog")
        role = self.require(space, "post", page.section)
        fields = self.post_fields(self.json_body(), partial=False)
        now = utcnow()
        post = m.BlogPost(
            app_id=app.id,
            author_id=self.me.id,
            title=fields["title"],
            body=fields["body"],
            body_html=render_markdown(fields["body"]),
            created_at=now,
            updated_at=now,
        )
        self.db.add(post)
        self.db.flush()
        self.record(space, "blog.post", page.section, page=page, obj=post, summary=post.title)
        self.commit(f"space:{space.id}")
        self.write_json(self.post_json(post, space, page.section, role, 0), 201)


class PostHandler(BlogHandler):
    def get(self, post_id):
        """One post."""
        post, _app, page, space = self.post_context(post_id)
        self.write_json(self.one_post_json(post, space, page.section))

    def patch(self, post_id):
        """Edit a post's `title` and/or `body` (its author, or a moderator)."""
        post, _app, page, space = self.post_context(post_id)
        self.require_edit(space, page.section, post.author_id)
        fields = self.post_fields(self.json_body(), partial=True)
        if "title" in fields:
            post.title = fields["title"]
        if "body" in fields:
            post.body = fields["body"]
            post.body_html = render_markdown(fields["body"])
        post.updated_at = utcnow()
        self.record(space, "blog.post.edit", page.section, page=page, obj=post,
                    summary=post.title)
        self.commit(f"space:{space.id}")
        self.write_json(self.one_post_json(post, space, page.section))

    def delete(self, post_id):
        """Delete a post and its comments (its author, or a moderator)."""
        post, _app, page, space = self.post_context(post_id)
        self.require_edit(space, page.section, post.author_id)
        self.record(space, "blog.post.delete", page.section, page=page, summary=post.title)
        self.db.delete(post)
        self.db.flush()
        self.moderated_delete(space, post, post.author_id)
        self.commit(f"space:{space.id}")
        self.no_content()


class CommentsHandler(BlogHandler):
    def get(self, post_id):
        """A post's comments, oldest first (`?after=` the `next` cursor, `?limit=`)."""
        post, _app, page, space = self.post_context(post_id)
        role = self.role_in(space)
        query = select(m.Comment).where(m.Comment.post_id == post.id)
        if not self.may(space, "moderate", page.section, role=role):
            query = query.where(m.Comment.hidden.is_(False))
        comments, cursor = self.keyset(query, m.Comment.id, newest_first=False)
        self.load_authors(c.author_id for c in comments)
        items = [self.comment_json(c, space, page.section, role) for c in comments]
        self.write_json({"items": items, "next": cursor})

    def post(self, post_id):
        """Comment on a post (Markdown `body`)."""
        post, _app, page, space = self.post_context(post_id)
        role = self.require(space, "comment", page.section)
        text = self.field(self.json_body(), "body", max_len=COMMENT_MAX)
        comment = m.Comment(
            post_id=post.id, author_id=self.me.id, body=text, body_html=render_markdown(text),
            created_at=utcnow(),
        )
        self.db.add(comment)
        self.db.flush()
        self.record(space, "blog.comment", page.section, page=page, obj=comment,
                    summary=f"{post.title}: {plain_text(comment.body_html, 120)}")
        self.commit(f"space:{space.id}")
        self.write_json(self.comment_json(comment, space, page.section, role), 201)


class CommentHandler(BlogHandler):
    def patch(self, comment_id):
        """Edit a comment's `body` (its author, or a moderator)."""
        comment, post, page, space = self.comment_context(comment_id)
        role = self.require_edit(space, page.section, comment.author_id)
        text = self.field(self.json_body(), "body", max_len=COMMENT_MAX)
        comment.body = text
        comment.body_html = render_markdown(text)
        self.record(space, "blog.comment.edit", page.section, page=page, obj=comment,
                    summary=f"{post.title}: {plain_text(comment.body_html, 120)}")
        self.commit(f"space:{space.id}")
        self.write_json(self.comment_json(comment, space, page.section, role))

    def delete(self, comment_id):
        """Delete a comment (its author, or a moderator)."""
        comment, post, page, space = self.comment_context(comment_id)
        self.require_edit(space, page.section, comment.author_id)
        self.record(space, "blog.comment.delete", page.section, page=page, summary=post.title)
        self.db.delete(comment)
        self.db.flush()
        self.moderated_delete(space, comment, comment.author_id)
        self.commit(f"space:{space.id}")
        self.no_content()


default_handlers = [
    (r"/apps/(?P<app_id>\d+)/posts", PostsHandler),
    (r"/posts/(?P<post_id>\d+)", PostHandler),
    (r"/posts/(?P<post_id>\d+)/comments", CommentsHandler),
    (r"/comments/(?P<comment_id>\d+)", CommentHandler),
]
