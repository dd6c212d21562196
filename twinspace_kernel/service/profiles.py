"""Profiles, profile photos and members' walls (F10, F11)."""

from __future__ import annotations

from sqlalchemy import select

from ..store import models as m
from .base import APIError, APIHandler, UploadHandler, user_fields, utcnow
from .sanitize import clean_text
from .uploads import sniff

# Plain-text profile fields and their length limits.
PROFILE_FIELDS = {"about": 2000, "interests": 1000, "hobbies": 1000, "favourite_food": 200}
# Fields of the account itself that members change on their profile (F10).
ACCOUNT_FIELDS = {"school": 160, "country": 64}
WALL_POST_MAX = 5000
# Profile photos are stored at most this size (the member list and profile card need no more).
PHOTO_SIZE = (512, 512)


def text_field(body: dict, name: str, max_len: int) -> str:
    """A plain-text field that may be empty; 400 with a clear message otherwise."""
    value = body[name]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise APIError(400, f"'{name}' must be text.")
    if not value.strip():
        return ""
    try:
        return clean_text(value, field=f"'{name}'", max_len=max_len)
    except ValueError as e:
        raise APIError(400, str(e)) from None


def profile_json(user: m.User, profile: m.Profile | None) -> dict:
    return {
        **user_fields(user),
        **{f: getattr(profile, f) if profile else "" for f in PROFILE_FIELDS},
        "has_photo": bool(profile and profile.photo_key),
        "updated_at": profile.updated_at if profile else None,
    }


class MyProfileHandler(APIHandler):
    login_required = True

    def get(self):
        """Your own profile."""
        self.write_json(profile_json(self.me, self.me.profile))

    def put(self):
        """Change your profile: {about, interests, hobbies, favourite_food, school, country}
        (plain text; fields left out keep their value)."""
        user = self.me
        body = self.json_body()
        unknown = set(body) - set(PROFILE_FIELDS) - set(ACCOUNT_FIELDS)
        if unknown:
            raise APIError(
                400, f"Unknown field(s): {', '.join(sorted(unknown))}. "
                f"A profile has: {', '.join([*PROFILE_FIELDS, *ACCOUNT_FIELDS])}."
            )
        # Check every field before changing any: bad input loses nothing.
        account = {name: " ".join(text_field(body, name, limit).split())  # one line
                   for name, limit in ACCOUNT_FIELDS.items() if name in body}
        texts = {name: text_field(body, name, limit)
                 for name, limit in PROFILE_FIELDS.items() if name in body}
        for name, value in account.items():
            setattr(user, name, value)
        profile = user.profile or m.Profile(user_id=user.id)
        for name, value in texts.items():
            setattr(profile, name, value)
        profile.updated_at = utcnow()
        self.db.add(profile)
        self.commit()
        self.write_json(profile_json(user, profile))


class MyPhotoHandler(UploadHandler):
    login_required = True

    async def put(self):
        """Upload your profile photo (the image itself as the body, ?filename=).

        Location data and all other metadata are removed; the photo is stored at most
        512×512 pixels. It replaces any earlier photo.
        """
        data = self.upload_bytes
        user = self.me
        stored = await self.store(
            "store_image", data, self.upload_filename(), thumb_size=PHOTO_SIZE
        )
        # The reduced copy is the profile photo; the full-size one is not kept.
        self.delete_blobs([stored.key])
        profile = user.profile or m.Profile(user_id=user.id)
        old_key = profile.photo_key
        profile.photo_key = stored.thumb_key
        profile.updated_at = utcnow()
        self.db.add(profile)
        self.commit_or_forget([stored.thumb_key])
        self.delete_blobs([old_key])
        self.write_json(profile_json(user, profile))

    def delete(self):
        """Remove your profile photo."""
        user = self.me
        profile = user.profile
        old_key = profile.photo_key if profile else None
        if old_key:
            profile.photo_key = None
            profile.updated_at = utcnow()
            self.commit()
            self.delete_blobs([old_key])
        self.no_content()


class _MemberHandler(APIHandler):
    """A member's profile, photo and wall: who may see them depends on the member's kind."""

    def member(self, slug: str, name: str) -> tuple[m.Space, m.User]:
        """(space, member), with the caller allowed to see that member's profile.

        Pupils' profiles stay inside the space among teachers and pupils (never visitors,
        never the public: F10, F31); other members' profiles need the right to view Home.
        """
        space = self.load_space(slug)
        # Nobody outside the space learns who is in it.
        self.require(space, "view", "home")
        user = self.db.scalar(
            select(m.User)
            .join(m.Membership, m.Membership.user_id == m.User.id)
            .where(m.Membership.space_id == space.id, m.User.name == name)
        )
        if user is None:
            raise APIError(404, f"{name} is not a member of this space.")
        self.require(space, self.profile_action(user), "home")
        return space, user

    @staticmethod
    def profile_action(user: m.User) -> str:
        return "view_pupil_profile" if user.kind == "pupil" else "view"


class MemberProfileHandler(_MemberHandler):
    def get(self, slug, name):
        """A member's profile (pupils' profiles: teachers and pupils of the space only)."""
        space, user = self.member(slug, name)
        answer = profile_json(user, user.profile)
        # Whether the caller may download and erase this pupil's data (F35): a courtesy
        # for the page; the export and erase calls check again.
        me = self.identity.user
        answer["may_manage_data"] = user.kind == "pupil" and me is not None and self.may(
            space, "manage_pupils", "home", own=user.created_by_id == me.id)
        self.write_json(answer)


class MemberPhotoHandler(_MemberHandler):
    browser_link = True

    def get(self, slug, name):
        """A member's profile photo (the image bytes; same visibility as the profile)."""
        _space, user = self.member(slug, name)
        key = user.profile.photo_key if user.profile else None
        if not key:
            raise APIError(404, f"{user.display_name} has no photo.")
        try:
            data = self.ctx.files.open(key).read_bytes()
        except FileNotFoundError:
            raise APIError(404, f"{user.display_name} has no photo.") from None
        content_type = sniff(data[:64])
        if not content_type.startswith("image/"):
            raise APIError(404, f"{user.display_name} has no photo.")
        self.set_header("Content-Type", content_type)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, no-cache")
        self.set_header("Content-Disposition", "inline")
        self.finish(data)


class WallHandler(_MemberHandler):
    def wall_section(self, user: m.User) -> str:
        # A pupil's wall is seen by exactly those who see Pupils' Corner (TA, T, PA, P), so
        # its activity lines are filed there and never reach visitors or the public.
        return "pupils_corner" if user.kind == "pupil" else "home"

    def get(self, slug, name):
        """The posts on a member's wall, newest first (keyset: ?before=<next>)."""
        space, user = self.member(slug, name)
        moderator = self.may(space, "moderate", "home")
        query = select(m.WallPost).where(
            m.WallPost.space_id == space.id, m.WallPost.wall_user_id == user.id
        )
        if not moderator:
            query = query.where(m.WallPost.hidden.is_(False))
        rows, cursor = self.keyset(query, m.WallPost.id)
        self.write_json({"items": [self.post_json(p) for p in rows], "next": cursor})

    def post(self, slug, name):
        """Write on a member's wall: {body} (plain text)."""
        space, user = self.member(slug, name)
        self.require(space, "comment", "home")
        body = self.json_body()
        if "body" not in body:
            raise APIError(400, "'body' is required.")
        text = text_field(body, "body", WALL_POST_MAX)
        if not text:
            raise APIError(400, "'body' must not be empty.")
        post = m.WallPost(space_id=space.id, wall_user_id=user.id, author_id=self.me.id,
                          body=text)
        self.db.add(post)
        self.db.flush()
        self.record(space, "wall.post", self.wall_section(user), obj=post,
                    summary=f"On {user.display_name}'s wall")
        self.commit(f"space:{space.id}")
        self.write_json(self.post_json(post), 201)

    def post_json(self, post: m.WallPost) -> dict:
        item = {
            "id": post.id,
            "author": self.author(post.author_id),
            "body": post.body,
            "created_at": post.created_at,
        }
        if post.hidden:
            item["hidden"] = True
        return item


class WallPostHandler(APIHandler):
    login_required = True

    def delete(self, post_id):
        """Delete a wall post (its author, the wall's owner, or a moderator of Home)."""
        post = self.load(m.WallPost, post_id, "wall post")
        space = self.db.get(m.Space, post.space_id)
        owner = post.wall_user_id == self.me.id
        by_owner = owner and self.may(space, "comment", "home")
        if not by_owner:
            self.require_edit(space, "home", post.author_id)
        self.db.delete(post)
        self.db.flush()
        if not by_owner:
            self.moderated_delete(space, post, post.author_id)
        self.commit(f"space:{space.id}")
        self.no_content()


default_handlers = [
    (r"/me/profile", MyProfileHandler),
    (r"/me/profile/photo", MyPhotoHandler),
    (r"/spaces/(?P<slug>[^/]+)/members/(?P<name>[^/]+)/profile", MemberProfileHandler),
    (r"/spaces/(?P<slug>[^/]+)/members/(?P<name>[^/]+)/photo", MemberPhotoHandler),
    (r"/spaces/(?P<slug>[^/]+)/members/(?P<name>[^/]+)/wall", WallHandler),
    (r"/wall-posts/(?P<post_id>[0-9]+)", WallPostHandler),
]
