"""Pupil accounts (F5–F8): created by teachers with generated usernames and passwords."""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from .. import rights
from ..passwords import PasswordError, check_pupil_password, generate_pupil_password, hash_password
from ..store import models as m
from .auth import lift_account_lock
from .base import APIError, APIHandler

MAX_PUPILS = 500
NOT_OWN = "You can only manage pupils you created."

# argon2 releases the GIL: a class's hashes run on every core at once. One thread per
# core (more only queue for the same cores), apart from the loop's default executor so
# a class being hashed never holds up other requests' file and image work.
_HASHERS = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")


async def hash_all(passwords: list[str]) -> list[str]:
    """argon2id hashes of `passwords` (same order), computed on the pool; the event loop
    goes on serving other requests meanwhile."""
    loop = asyncio.get_running_loop()
    return list(await asyncio.gather(
        *(loop.run_in_executor(_HASHERS, hash_password, p) for p in passwords)
    ))


def ascii_letters(text: str) -> str:
    """'Léa-Zoé' -> 'leazoe': lowercase a–z only, accents folded."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z]", "", folded.lower())


def name_base(full_name: str) -> str:
    """'Ana Lopez' -> 'ana.l'; 'Ana' -> 'ana'; names without Latin letters -> 'pupil'."""
    parts = full_name.split()
    first = ascii_letters(parts[0])[:20] if parts else ""
    initial = ascii_letters(parts[-1])[:1] if len(parts) > 1 else ""
    if not first:
        first, initial = initial or "pupil", ""
    return f"{first}.{initial}" if initial else first


def pick_name(base: str, taken: set[str]) -> str:
    """base, base2, base3… — the first one nobody has (and never shorter than 2)."""
    if len(base) >= 2 and base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def slug_prefix(slug: str) -> str:
    prefix = re.sub(r"[^a-z0-9-]", "", slug.lower())[:12].strip("-")
    return prefix if len(prefix) >= 1 else "pupil"


class PupilsHandler(APIHandler):
    login_required = True

    def get(self, slug):
        """The space's pupil accounts with who created them (never passwords).

        Oldest first (the order they were created in); page on with ?after=<next>.
        """
        space = self.load_space(slug)
        self.require(space, "manage_pupils", "home")
        me = self.me
        query = (
            select(m.User)
            .join(m.Membership, m.Membership.user_id == m.User.id)
            .where(m.Membership.space_id == space.id, m.User.kind == "pupil")
        )
        rows, cursor = self.keyset(query, m.User.id, newest_first=False)
        roles = dict(
            self.db.execute(
                select(m.Membership.user_id, m.Membership.role).where(
                    m.Membership.space_id == space.id,
                    m.Membership.user_id.in_([u.id for u in rows]),
                )
            ).all()
        )
        items = []
        for user in rows:
            own = user.created_by_id == me.id
            items.append(
                {
                    **self.user_brief(user),
                    "role": roles.get(user.id),
                    "created_by": self.author(user.created_by_id),
                    "created_at": user.created_at,
                    "can_reset": self.may(space, "manage_pupils", "home", own=own),
                }
            )
        self.write_json({"items": items, "next": cursor})

    async def post(self, slug):
        """Create pupil accounts from a list of names or a count; shows the passwords once.

        Body: {names: ["Ana Lopez", …]} or {count: N} (1–500), optional {school, country}
        (default: yours); hub administrators name the creating teacher with {teacher}.
        Answers {items: [{name, display_name, password}]}: write the
        passwords down or print the sheet now — they are never shown again.
        """
        space = self.load_space(slug)
        body = self.json_body()
        if "teacher" in body:
            # The `twinspace` command creates pupils on behalf of a teacher of the space.
            self.require_hub_admin()
            creator = self.load_user(self.field(body, "teacher", max_len=63))
            role = self.db.scalar(
                select(m.Membership.role).where(
                    m.Membership.space_id == space.id, m.Membership.user_id == creator.id
                )
            )
            if role is None or not self.may(space, "manage_pupils", "home", role=role):
                raise APIError(400, f"{creator.name} may not create pupils in {space.slug}.")
        else:
            self.require(space, "manage_pupils", "home")
            creator = self.me
        if ("names" in body) == ("count" in body):
            raise APIError(400, "Give either 'names' (a list of pupils' names) or 'count'.")
        if "names" in body:
            names = body["names"]
            if not isinstance(names, list) or not names:
                raise APIError(400, "'names' must be a non-empty list of names.")
            if len(names) > MAX_PUPILS:
                raise APIError(400, f"At most {MAX_PUPILS} pupils at once.")
            display_names = []
            for i, name in enumerate(names, 1):
                if not isinstance(name, str) or not name.strip():
                    raise APIError(400, f"Name number {i} is empty or not text.")
                clean = " ".join(name.split())
                if len(clean) > 120:
                    raise APIError(400, f"Name number {i} is too long (at most 120 characters).")
                display_names.append(clean)
        else:
            count = self.field(body, "count", int)
            if not 1 <= count <= MAX_PUPILS:
                raise APIError(400, f"'count' must be between 1 and {MAX_PUPILS}.")
            display_names = None
        school = self.field(body, "school", default=creator.school, max_len=160, allow_empty=True)
        country = self.field(body, "country", default=creator.country, max_len=64,
                             allow_empty=True)

        total = len(display_names) if display_names is not None else count
        passwords = [generate_pupil_password() for _ in range(total)]
        hashes = await hash_all(passwords)

        for attempt in range(3):
            if display_names is not None:
                pairs = self._names_from_people(display_names)
            else:
                pairs = self._names_from_count(space, count)
            users = [
                m.User(
                    name=name,
                    kind="pupil",
                    display_name=display,
                    school=school,
                    country=country,
                    password_hash=password_hash,
                    created_by_id=creator.id,
                )
                for (name, display), password_hash in zip(pairs, hashes, strict=True)
            ]
            try:
                self.db.add_all(users)
                self.db.flush()
                self.db.add_all(
                    m.Membership(space_id=space.id, user_id=u.id, role=rights.P) for u in users
                )
                # No names here: Latest activities may be read by visitors and the public.
                self.record(space, "member.join", "home",
                            summary=f"{len(users)} pupil account(s) created")
                self.commit(f"space:{space.id}")
                break
            except IntegrityError:
                # Someone took one of these usernames meanwhile: choose again.
                self.db.rollback()
                if attempt == 2:
                    raise APIError(
                        409, "Some usernames were just taken; please try again."
                    ) from None
        items = [
            {"name": u.name, "display_name": u.display_name, "password": password}
            for u, password in zip(users, passwords, strict=True)
        ]
        self.write_json({"items": items, "hub_url": self.ctx.public_url}, 201)

    def _taken(self, bases: set[str]) -> set[str]:
        if not bases:
            return set()
        conditions = [m.User.name.like(f"{base}%") for base in bases]
        return set(self.db.scalars(select(m.User.name).where(or_(*conditions))))

    def _names_from_people(self, display_names: list[str]) -> list[tuple[str, str]]:
        bases = [name_base(n) for n in display_names]
        taken = self._taken(set(bases))
        pairs = []
        for base, display in zip(bases, display_names, strict=True):
            name = pick_name(base, taken)
            taken.add(name)
            pairs.append((name, display))
        return pairs

    def _names_from_count(self, space: m.Space, count: int) -> list[tuple[str, str]]:
        prefix = f"{slug_prefix(space.slug)}-p"
        taken = self._taken({prefix})
        pairs = []
        n = 0
        while len(pairs) < count:
            n += 1
            name = f"{prefix}{n:02d}"
            if name not in taken:
                pairs.append((name, f"Pupil {n:02d}"))
        return pairs


class PupilPasswordHandler(APIHandler):
    login_required = True

    async def post(self, slug, name):
        """Reset a pupil's password: a new generated one, or the word you choose (5–8).

        Teacher administrators reset any pupil of the space; teachers their own pupils;
        hub administrators (and the `twinspace` command) any pupil.
        Pupils never change their own password (F8).
        """
        space = self.load_space(slug)
        hub_admin = self.identity.hub_admin or self.is_trusted_service
        if not hub_admin:
            self.require(space, "manage_pupils", "home")
        pupil = self.db.scalar(
            select(m.User)
            .join(m.Membership, m.Membership.user_id == m.User.id)
            .where(
                m.Membership.space_id == space.id,
                m.User.name == name,
                m.User.kind == "pupil",
            )
        )
        if pupil is None:
            raise APIError(404, f"{name} is not a pupil of this space.")
        if not hub_admin and not self.may(
            space, "manage_pupils", "home", own=pupil.created_by_id == self.me.id
        ):
            raise APIError(403, NOT_OWN)
        password = self.json_body().get("password")
        if password is None or password == "":
            password = generate_pupil_password()
        else:
            try:
                check_pupil_password(password)
            except PasswordError as e:
                raise APIError(400, str(e)) from None
        (pupil.password_hash,) = await hash_all([password])
        lift_account_lock(self.db, pupil.name)  # locked out by guesses: in with the new one
        # Not in Latest activities: a password reset is nobody else's business.
        self.commit()
        self.write_json({"name": pupil.name, "password": password})


default_handlers = [
    (r"/spaces/(?P<slug>[^/]+)/pupils", PupilsHandler),
    (r"/spaces/(?P<slug>[^/]+)/pupils/(?P<name>[^/]+)/password", PupilPasswordHandler),
]
