"""Spaces (F1, F2, F30) and their members' roles (F3, F9)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from .. import pages as nbpages
from .. import rights
from ..store import models as m
from . import notebooks, public, volume_acl
from .base import APIError, APIHandler
from .pages import add_starter_pages, add_template_page

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# Words that name endpoints under /spaces/ and so cannot name a space.
RESERVED_SLUGS = frozenset({"import"})


def check_slug(slug: str) -> str:
    """A space's short name, checked; 400 with the rule otherwise."""
    if not SLUG_RE.match(slug):
        raise APIError(400, "A space's short name uses lowercase letters, digits and '-'.")
    if slug in RESERVED_SLUGS:
        raise APIError(400, f"'{slug}' cannot name a space; choose another short name.")
    return slug

# The fixed structure every space starts with (the guide's top bar): a Home page with
# its five applications and a Chat page with one room, made from their templates
# (twinspace_kernel/notebooks/home.ipynb and chat.ipynb).
DEFAULT_PAGES = (("home", "home.ipynb"), ("chat", "chat.ipynb"))
HOME_APPS = tuple((a["kind"], a["title"]) for a in nbpages.load_template("home.ipynb").apps)


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


def create_default_pages(db, space: m.Space, founder: m.User) -> list:
    """Home and Chat from their templates, and the General room; returns
    [(page, template)] for writing the notebooks once committed."""
    made = []
    for section, name in DEFAULT_PAGES:
        template = nbpages.load_template(name)
        page = add_template_page(db, space, section, template, founder)
        page.slug = section  # the fixed pages' names, whatever their title
        made.append((page, template))
    db.add(m.ChatRoom(space_id=space.id, name="General", created_by_id=founder.id))
    return made


class SpacesHandler(APIHandler):
    def get(self):
        """Spaces the caller belongs to; `?public=1` lists published spaces instead.

        `?all=1` (hub administrators and the `twinspace` command): every space, with its
        member count, whatever its state.
        """
        if self.get_argument("all", "") in ("1", "true"):
            self.require_hub_admin()
            counts = dict(
                self.db.execute(
                    select(m.Membership.space_id, func.count()).group_by(m.Membership.space_id)
                ).all()
            )
            spaces = self.db.scalars(select(m.Space).order_by(m.Space.title))
            # Not a member: no role of their own (sections as an administrator sees them).
            items = [{**space_json(s, rights.TA, counts.get(s.id, 0)), "role": None}
                     for s in spaces]
            self.write_json({"items": items})
            return
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
        """Create a space; its founder (a teacher) becomes its teacher administrator.

        Hub administrators and the `twinspace` command may name another teacher as
        `founder`; otherwise the caller founds it. `"starter": true` adds the five-stage
        starter pages (F25) to Project Activities.
        """
        body = self.json_body()
        starter = self.field(body, "starter", bool, default=False)
        if "founder" in body:
            self.require_hub_admin()
            user = self.load_user(self.field(body, "founder", max_len=63))
            if user.kind != "teacher":
                raise APIError(400, f"{user.name} is a {user.kind}: a founder must be a teacher.")
        else:
            user = self.me
            if user.kind != "teacher" and not self.identity.hub_admin:
                raise APIError(403, "Only teachers can create a TwinSpace.")
        slug = self.field(body, "slug", max_len=63).lower()
        check_slug(slug)
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
        made = create_default_pages(self.db, space, user)
        if starter:
            made += add_starter_pages(self.db, space, user)
        self.record(space, "space.create", "home", obj=space, summary=space.title, actor=user)
        self.commit()
        for page, template in made:
            notebooks.write_page(self.ctx, self.db, page, template)
        self.write_json(space_json(space, rights.TA), 201)


class SpaceHandler(APIHandler):
    def get(self, slug):
        """A space's name, description, state and the caller's role and sections.

        `may` is what the caller may do on Home; with `?section=`, `section_may` adds what
        they may do in that section (Manage pages shows its buttons from it).
        """
        space = self.load_space(slug)
        role = self.require(space, "view", "home", published=space.public)
        section = self.get_argument("section", None)
        if section is not None and section not in rights.SECTIONS:
            raise APIError(400, f"'section' must be one of: {', '.join(rights.SECTIONS)}.")
        body = space_json(space, role)
        if role != "public":
            body["member_count"] = self.db.scalar(
                select(func.count()).where(m.Membership.space_id == space.id)
            )
            body["may"] = self.permissions(space, "home", published=space.public)
            if section is not None:
                body["section_may"] = self.permissions(space, section)
        self.write_json(body)

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
        # Made public or private, closed or reopened: the published copies follow at once.
        public.sync_space(self.ctx, self.db, space)
        if "state" in body:  # who may read its folders follows its state
            volume_acl.secure_space(self.ctx, space)
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
        old_role = membership.role if membership is not None else None
        if membership is None:
            membership = m.Membership(space_id=space.id, user_id=user.id, role=role)
            self.db.add(membership)
            status = 201
            # The newcomer is the actor (not the administrator adding them): no name in
            # the summary, which visitors and the public may read.
            self.record(space, "member.join", "home", obj=user, actor=user)
        membership.role = role
        self.commit(f"space:{space.id}")
        volume_acl.after_role_change(self.ctx, space, user.name, old_role, role)
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
        old_role, membership.role = membership.role, role
        self.record(space, "member.role", "home", obj=user,
                    summary=f"{user.display_name}: {role.replace('_', ' ')}")
        self.commit(f"space:{space.id}")
        volume_acl.after_role_change(self.ctx, space, user.name, old_role, role)
        self.write_json({**self.user_brief(user), "role": role})

    def delete(self, slug, name):
        """Remove a member (teacher administrators), or leave the space yourself."""
        space = self.load_space(slug)
        user, membership = self._membership(space, name)
        if user.id != self.me.id:
            self.require(space, "invite", "home")
        if membership.role == rights.TA:
            self._keep_one_admin(space)
        old_role = membership.role
        self.db.delete(membership)
        self.commit(f"space:{space.id}")
        volume_acl.after_role_change(self.ctx, space, user.name, old_role, None)
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
