"""Blog (F14, F18): posts in Markdown with comments; edit or delete your own; report."""

from __future__ import annotations

import ipywidgets as widgets

from ..i18n import _, ngettext
from .base import action, built, on_demand
from .discussion import DiscussionApp, ItemView, button, note, show, shown, tag, without


class PostView(ItemView):
    """A post, with its comments behind a toggle and a box to add one."""

    def __init__(self, app: Blog, post: dict) -> None:
        self.comments_button = button("", "comments",
                                      callback=lambda b: app.toggle_comments(b, self))
        super().__init__(app, post, path=f"posts/{post['id']}", object_type="blog_post",
                         with_title=True, extra_buttons=[self.comments_button])
        self.comments_next: int | None = None
        self.comments_loaded = False
        self.count_comments(0)

    # The comments and their form, hidden until the comments button opens them: made then.
    discussion = on_demand("build_discussion")
    comments_box = on_demand("build_discussion")
    more_comments_button = on_demand("build_discussion")
    comment_input = on_demand("build_discussion")
    comment_button = on_demand("build_discussion")
    comment_form = on_demand("build_discussion")

    def build_discussion(self) -> None:
        app = self.app
        self.comments_box = widgets.VBox()
        self.more_comments_button = button(_("More comments"), "chevron-down",
                                           callback=lambda b: app.more_comments(b, self))
        self.comment_input = widgets.Textarea(
            description=_("Comment"), placeholder=_("Write a comment (Markdown)…"),
            layout=widgets.Layout(width="100%", height="70px"),
        )
        self.comment_button = button(_("Add comment"), "comment", "primary",
                                     callback=lambda b: app.add_comment(b, self))
        self.comment_form = widgets.VBox([self.comment_input, self.comment_button])
        self.discussion = widgets.VBox(
            [self.comments_box, self.more_comments_button]
            + ([self.comment_form] if app.may.get("comment") else [])
        )
        self.discussion.layout.margin = "0 0 0 24px"
        show(self.more_comments_button, False)
        show(self.discussion, False)
        self.below = (self.discussion,)
        self.place_boxes()

    def count_comments(self, change: int) -> None:
        self.item["comment_count"] = max(0, self.item.get("comment_count", 0) + change)
        n = self.item["comment_count"]
        self.comments_button.description = ngettext("{n} comment", "{n} comments", n).format(n=n)
        self.comments_button.tooltip = _("Show or hide the comments")

    def add_comment_view(self, comment: dict) -> ItemView:
        view = ItemView(self.app, comment, path=f"comments/{comment['id']}",
                        object_type="comment")
        view.post_view = self
        self.comments_box.children = (*self.comments_box.children, view)
        return view


class Blog(DiscussionApp):
    """A blog: newest posts first, a form to write one for those who may post."""

    kind = "blog"
    page_size = 20

    def __init__(self, app_id: int | None = None, **kwargs) -> None:
        self.next_cursor: int | None = None
        self.posts_box = widgets.VBox()
        self.empty = widgets.HTML(note(_("No posts yet.")))
        super().__init__(app_id, **kwargs)

    # The form to write a post (for those who may) and "Load older" (for a blog with more
    # posts than one page): made when first shown.
    form_box = on_demand("build_form_box")
    title_input = on_demand("build_form_box")
    body_input = on_demand("build_form_box")
    publish_button = on_demand("build_form_box")
    older_button = on_demand("build_older_button")

    def build_form_box(self) -> None:
        self.title_input = widgets.Text(description=_("Title"),
                                        placeholder=_("The title of your post"),
                                        layout=widgets.Layout(width="100%"))
        self.body_input = widgets.Textarea(
            description=_("Post"), placeholder=_("Write your post in Markdown…"),
            layout=widgets.Layout(width="100%", height="160px"),
        )
        self.publish_button = button(_("Publish"), "paper-plane", "primary",
                                     callback=self.publish)
        self.form_box = widgets.VBox([
            widgets.HTML(tag("h4", _("Write a post"))),
            self.title_input, self.body_input, self.publish_button,
        ])

    def build_older_button(self) -> None:
        self.older_button = button(_("Load older"), "chevron-down",
                                   tooltip=_("Show older posts"), callback=self.load_older)

    # --- reading ----------------------------------------------------------------------

    @property
    def post_views(self) -> list[PostView]:
        return [c for c in self.posts_box.children if isinstance(c, PostView)]

    def refresh(self) -> None:
        page = self.client.get(f"apps/{self.app_id}/posts", limit=self.page_size)
        self.posts_box.children = [PostView(self, post) for post in page["items"]]
        self.next_cursor = page["next"]
        self.show_state()
        self.body.children = (
            ([self.form_box] if self.may.get("post") else [])
            + [self.empty, self.posts_box]
            + ([self.older_button] if self.next_cursor is not None else [])
        )

    def show_state(self) -> None:
        if self.next_cursor is not None or built(self, "older_button"):
            show(self.older_button, self.next_cursor is not None)
        show(self.empty, not self.posts_box.children)

    @action
    def load_older(self) -> None:
        if self.next_cursor is None:
            return
        page = self.client.get(f"apps/{self.app_id}/posts", before=self.next_cursor,
                               limit=self.page_size)
        known = {v.item["id"] for v in self.post_views}
        fresh = [PostView(self, p) for p in page["items"] if p["id"] not in known]
        self.posts_box.children = (*self.posts_box.children, *fresh)
        self.next_cursor = page["next"]
        self.show_state()

    # --- writing ----------------------------------------------------------------------

    @action
    def publish(self) -> None:
        post = self.client.post(f"apps/{self.app_id}/posts", {
            "title": self.title_input.value, "body": self.body_input.value,
        })
        self.posts_box.children = (PostView(self, post), *self.posts_box.children)
        self.title_input.value = ""
        self.body_input.value = ""
        self.show_state()
        self.notice(_("Your post is published."), "success")

    def item_deleted(self, view: ItemView) -> None:
        if isinstance(view, PostView):
            without(self.posts_box, view)
            self.show_state()
        else:
            post_view: PostView = view.post_view
            without(post_view.comments_box, view)
            post_view.count_comments(-1)

    # --- comments ---------------------------------------------------------------------

    @action
    def toggle_comments(self, view: PostView) -> None:
        if shown(view.discussion):
            show(view.discussion, False)
            return
        if not view.comments_loaded:
            self.load_comments(view)
        show(view.discussion)

    def load_comments(self, view: PostView) -> None:
        page = self.client.get(f"posts/{view.item['id']}/comments", limit=self.page_size)
        view.comments_box.children = ()
        for comment in page["items"]:
            view.add_comment_view(comment)
        view.comments_next = page["next"]
        view.comments_loaded = True
        show(view.more_comments_button, view.comments_next is not None)

    @action
    def more_comments(self, view: PostView) -> None:
        if view.comments_next is None:
            return
        page = self.client.get(f"posts/{view.item['id']}/comments", after=view.comments_next,
                               limit=self.page_size)
        for comment in page["items"]:
            view.add_comment_view(comment)
        view.comments_next = page["next"]
        show(view.more_comments_button, view.comments_next is not None)

    @action
    def add_comment(self, view: PostView) -> None:
        comment = self.client.post(f"posts/{view.item['id']}/comments",
                                   {"body": view.comment_input.value})
        view.comment_input.value = ""
        if not view.comments_loaded:
            self.load_comments(view)
        elif view.comments_next is None:
            # Every older comment is on screen: the new one goes last, in order.
            view.add_comment_view(comment)
        view.count_comments(1)
        show(view.discussion)
        self.notice(_("Your comment is added."), "success")
