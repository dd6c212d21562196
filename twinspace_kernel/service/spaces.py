"""Spaces (F1, F2, F30) and their members' roles (F3, F9)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from .. import rights
from ..store import models as m
from .base import APIError, APIHandler

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")

# The fixed structure every space starts with (the guide's top bar): a Home page with
# its five applications and a Chat page with one room.
HOME_APPS = (
    ("members", "TwinSpace members"),
    ("mailbox", "Mailbox"),
    ("calendar", "Calendar"),
    ("blog", "Project journal"),
    ("activity", "Latest activities"),
)


def space_json(space: m.Space, role: str, member_count: int | None = None) -> dict:
    body = {
        "slug": space.slug,
        "title": space.title,
        "description": space.description,
        "public": space.public,
        "role": role,
        "sections": [
            s
            for s in rights.SECTIONS
            if rights.allowed(role, "view", s, state=space.state, published=space.public)
        ],
    }
    if role != "public":
        body["state"] = space.state
        body["created_at"] = space.created_at
    if member_count is not None:
        body["member_count"] = member_count
    return body


def create_default_pages(db, space: m.Space, founder: m.User) -> None:
    home = m.Page(
        space_id=space.id, section="home", slug="home", title="Home", position=0,
        created_by_id=founder.id,
    )
    home.apps = [
        m.AppInstance(kind=kind, title=title, position=i)
        for i, (kind, title) in enumerate(HOME_APPS)
    ]
    chat = m.Page(
        space_id=space.id, section="chat", slug="chat", title="Chat", position=0,
        created_by_id=founder.id,
    )
    chat.apps = [m.AppInstance(kind="chat", title="Chat", position=0)]
    db.add_all([home, chat, m.ChatRoom(space_id=space.id, name="General",
                                       created_by_id=founder.id)])


class SpacesHandler(APIHandler):
    def get(self):
        """Spaces the caller belongs to; `?public=1` lists published spaces instead."""
        if self.get_argument("public", "") in ("1", "true") or self.identity.user is None:
            spaces = self.db.scalars(
                select(m.Space)
                .where(m.Space.public.is_(True), m.Space.state != "closed")
                .order_by(m.Space.title)
            )
            items = [space_json(s, "public") for s in spaces]
        else:
            rows = self.db.execute(
                select(m.Space, m.Membership.role)
                .join(m.Membership, m.Membership.space_id == m.Space.id)
                .where(m.Membership.user_id == self.me.id)
                .order_by(m.Space.title)
            )
            items = [
                space_json(s, role) for s, role in rows if s.state != "closed" or role == rights.TA
            ]
        self.write_json({"items": items})

    def post(self):
        """Create a space; its founder (a teacher) becomes its teacher administrator."""
        user = self.me
        if user.kind != "teacher" and not self.identity.hub_admin:
            raise APIError(403, "Only teachers can create a TwinSpace.")
        body = self.json_body()
        slug = self.field(body, "slug", max_len=63).lower()
        if not SLUG_RE.match(slug):
            raise APIError(400, "A space's short name uses lowercase letters, digits and '-'.")
        if self.db.scalar(select(m.Space.id).where(m.Space.slug == slug)):
            raise APIError(409, f"A space called {slug} already exists.")
        space = m.Space(
            slug=slug,
            title=self.field(body, "title", max_len=200),
            description=self.field(body, "description", default="", max_len=5000,
                                   allow_empty=True),
            created_by_id=user.id,
        )
        self.db.add(space)
        self.db.flush()
        self.db.add(m.Membership(space_id=space.id, user_id=user.id, role=rights.TA))
        create_default_pages(self.db, space, user)
        self.record(space, "space.create", "home", obj=space, summary=space.title)
        self.commit()
        self.write_json(space_json(space, rights.TA), 201)


class SpaceHandler(APIHandler):
    def get(self, slug):
        """A space's name, description, state and the caller's role and sections."""
        space = self.load_space(slug)
        role = self.require(space, "view", "home", published=space.public)
        count = None
        if role != "public":
            count = self.db.scalar(
                select(func.count()).where(m.Membership.space_id == space.id)
            )
        self.write_json(space_json(space, role, count))

    def patch(self, slug):
        """Change title/description/state (administer) or the public flag (publish)."""
        space = self.load_space(slug)
        body = self.json_body()
        if "public" in body:
            self.require(space, "publish", "home")
            space.public = self.field(body, "public", bool)
        if {"title", "description", "state"} & body.keys():
            self.require(space, "administer", "home")
        if "title" in body:
            space.title = self.field(body, "title", max_len=200)
        if "description" in body:
            space.description = self.field(body, "description", max_len=5000, allow_empty=True)
        if "state" in body:
            space.state = self.field(body, "state", choices=rights.SPACE_STATES)
        self.record(space, "space.update", "home", obj=space, summary=space.title)
        self.commit(f"space:{space.id}")
        self.write_json(space_json(space, self.role_in(space)))


class MembersHandler(APIHandler):
    def get(self, slug):
        """The members list (F3): name, school, country, role, photo; pupils hidden from
        visitors' profile views but listed by display name."""
        space = self.load_space(slug)
        self.require(space, "view", "home")
        rows = self.db.execute(
            select(m.User, m.Membership.role)
            .join(m.Membership, m.Membership.user_id == m.User.id)
            .where(m.Membership.space_id == space.id)
            .order_by(m.Membership.role, m.User.display_name)
        )
        items = []
        for user, role in rows:
            item = self.user_brief(user)
            item["role"] = role
            item["has_photo"] = bool(user.profile and user.profile.photo_key)
            items.append(item)
        self.write_json({"items": items})


class MemberHandler(APIHandler):
    login_required = True

    def get(self, slug, name):
        """One member of the space and their role."""
        space = self.load_space(slug)
        self.require(space, "view", "home")
        user, membership = self._membership(space, name)
        self.write_json({**self.user_brief(user), "role": membership.role})

    def put(self, slug, name):
        """Add an existing account to the space with a role (hub administrators)."""
        self.require_hub_admin()
        space = self.load_space(slug)
        user = self.load_user(name)
        role = self.field(self.json_body(), "role", choices=rights.MEMBER_ROLES)
        check_role_fits(user, role)
        membership = self.db.scalar(
            select(m.Membership).where(
                m.Membership.space_id == space.id, m.Membership.user_id == user.id
            )
        )
        status = 200
        if membership is None:
            membership = m.Membership(space_id=space.id, user_id=user.id, role=role)
            self.db.add(membership)
            status = 201
            self.record(space, "member.join", "home", obj=user, summary=user.display_name)
        membership.role = role
        self.commit(f"space:{space.id}")
        self.write_json({**self.user_brief(user), "role": role}, status)

    def patch(self, slug, name):
        """Change a member's role (F9; teacher administrators)."""
        space = self.load_space(slug)
        self.require(space, "invite", "home")
        user, membership = self._membership(space, name)
        role = self.field(self.json_body(), "role", choices=rights.MEMBER_ROLES)
        check_role_fits(user, role)
        if membership.role == rights.TA and role != rights.TA:
            self._keep_one_admin(space)
        membership.role = role
        self.record(space, "member.role", "home", obj=user,
                    summary=f"{user.display_name}: {role.replace('_', ' ')}")
        self.commit(f"space:{space.id}")
        self.write_json({**self.user_brief(user), "role": role})

    def delete(self, slug, name):
        """Remove a member (teacher administrators), or leave the space yourself."""
        space = self.load_space(slug)
        user, membership = self._membership(space, name)
        if user.id != self.me.id:
            self.require(space, "invite", "home")
        if membership.role == rights.TA:
            self._keep_one_admin(space)
        self.db.delete(membership)
        self.commit(f"space:{space.id}")
        self.no_content()

    def _membership(self, space: m.Space, name: str):
        user = self.load_user(name)
        membership = self.db.scalar(
            select(m.Membership).where(
                m.Membership.space_id == space.id, m.Membership.user_id == user.id
            )
        )
        if membership is None:
            raise APIError(404, f"{name} is not a member of this space.")
        return user, membership

    def _keep_one_admin(self, space: m.Space) -> None:
        admins = self.db.scalar(
            select(func.count()).where(
                m.Membership.space_id == space.id, m.Membership.role == rights.TA
            )
        )
        if admins <= 1:
            raise APIError(409, "A space needs at least one teacher administrator.")


def check_role_fits(user: m.User, role: str) -> None:
    """Pupils hold pupil roles only; teachers and visitors never hold pupil roles."""
    if (user.kind == "pupil") != (role in rights.PUPIL_ROLES):
        raise APIError(400, f"A {user.kind} account cannot have the role {role}.")
    if user.kind == "visitor" and role != rights.V:
        raise APIError(400, "A visitor account can only be a visitor.")


default_handlers = [
    (r"/spaces", SpacesHandler),
    (r"/spaces/(?P<slug>[^/]+)", SpaceHandler),
    (r"/spaces/(?P<slug>[^/]+)/members", MembersHandler),
    (r"/spaces/(?P<slug>[^/]+)/members/(?P<name>[^/]+)", MemberHandler),
]
