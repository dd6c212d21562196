"""Test helpers: call the TwinSpace API as a given member, through the real hub's proxy."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from twinspace_kernel.rights import MEMBER_ROLES

_counter = itertools.count()

# Every kind of caller a rights test tries: each member role, an account that is not a
# member ("outsider") and the anonymous public.
ROLES = (*MEMBER_ROLES, "outsider", "public")


def unique(prefix: str) -> str:
    """A name no other test of this run uses (tests share one hub per database)."""
    return f"{prefix}{os.getpid() % 1000}x{next(_counter)}"


class ApiError(AssertionError):
    pass


@dataclass
class Caller:
    """Calls /services/twinspace/api/v1/ with one identity (a token, or none).

    The hub user and token are made on first use (`login`), so tests pay only for the
    identities they actually use.
    """

    base: str
    _token: str | None = None
    name: str | None = None
    login: Callable[[], str] | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def token(self) -> str | None:
        if self._token is None and self.login is not None:
            self._token = self.login()
        return self._token

    def request(self, method: str, path: str, *, expect: int | None = None, **kwargs: Any):
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        kwargs.setdefault("timeout", 60)
        url = self.base + path.lstrip("/")
        r = self.session.request(method, url, headers=headers, **kwargs)
        if r.status_code >= 400 and r.headers.get("Content-Type", "").startswith(
            "application/json"
        ):
            body = r.json()
            # Every error has the same shape, and never a traceback.
            assert set(body) >= {"error", "message"}, body
            assert "Traceback" not in r.text, r.text
        if expect is not None and r.status_code != expect:
            raise ApiError(
                f"{self.name or 'anonymous'}: {method} {path} -> {r.status_code}, "
                f"expected {expect}: {r.text[:500]}"
            )
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ok(self, method: str, path: str, **kw) -> Any:
        """The JSON of a call that must succeed (2xx)."""
        r = self.request(method, path, **kw)
        if not 200 <= r.status_code < 300:
            raise ApiError(f"{self.name}: {method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content and "json" in r.headers.get("Content-Type", "") else r


class Site:
    """One real hub + service: makes hub users, TwinSpace accounts and callers."""

    def __init__(self, hub) -> None:
        self.hub = hub
        self.api_base = hub.service_url("api/v1/")
        self.admin_name = unique("siteadmin")
        hub.create_user(self.admin_name, admin=True)
        self.admin = self.caller(self.admin_name)
        self.anonymous = Caller(self.api_base)

    def caller(self, name: str) -> Caller:
        """A caller for hub user `name` (created, with a token, on first use)."""

        def login() -> str:
            self.hub.create_user(name)
            return self.hub.token_for(name)

        return Caller(self.api_base, name=name, login=login)

    def account(self, kind: str = "teacher", *, prefix: str | None = None, **fields) -> Caller:
        """A new hub user with a TwinSpace account of `kind`, and a caller for them."""
        name = unique(prefix or kind[:3])
        body = {
            "name": name,
            "kind": kind,
            "display_name": fields.pop("display_name", f"{kind.title()} {name}"),
            "school": fields.pop("school", "École Test"),
            "country": fields.pop("country", "FR"),
            **fields,
        }
        self.admin.ok("POST", "users", json=body)
        return self.caller(name)

    def space(self, founder: Caller | None = None, **fields) -> World:
        """A new space with one member per role (see World)."""
        founder = founder or self.account("teacher", prefix="ta")
        slug = unique("space")
        founder.ok(
            "POST",
            "spaces",
            json={"slug": slug, "title": fields.get("title", f"Space {slug}"), **fields},
        )
        world = World(self, slug, {"teacher_admin": founder})
        kinds = {"teacher": "teacher", "pupil_admin": "pupil", "pupil": "pupil",
                 "visitor": "visitor"}
        for role, kind in kinds.items():
            member = self.account(kind, prefix=role.replace("_", "")[:4])
            self.admin.ok("PUT", f"spaces/{slug}/members/{member.name}", json={"role": role})
            world.members[role] = member
        return world


@dataclass
class World:
    """A space `slug` whose members[role] is a Caller for each member role.

    `outsider` has a TwinSpace account but no membership; `anonymous` has no token.
    """

    site: Site
    slug: str
    members: dict[str, Caller]

    def as_(self, role: str) -> Caller:
        if role == "public":
            return self.site.anonymous
        if role == "outsider":
            if "outsider" not in self.members:
                self.members["outsider"] = self.site.account("teacher", prefix="out")
            return self.members["outsider"]
        return self.members[role]

    @property
    def roles(self) -> tuple[str, ...]:
        return MEMBER_ROLES

    def page_id(self, section: str = "home") -> int:
        """The id of the first page of `section` (Home and Chat exist from the start)."""
        pages = self.as_("teacher_admin").ok("GET", f"spaces/{self.slug}/pages?section={section}")
        return pages["items"][0]["id"]

    def app_id(self, kind: str, section: str = "home") -> int:
        """The first application of `kind` on the first page of `section`."""
        page = self.as_("teacher_admin").ok("GET", f"pages/{self.page_id(section)}")
        for app in page["apps"]:
            if app["kind"] == kind:
                return app["id"]
        raise LookupError(f"no {kind} app on the first {section} page")

    def client(self, role: str):
        """The kernel-side client of `role` (what an app widget uses)."""
        from twinspace_kernel.client import TwinSpaceClient

        return TwinSpaceClient(self.site.api_base, self.as_(role).token or "")

    def page_manager(self, section: str) -> Caller:
        """Who sets up pages in `section`: the pupil administrator in Pupils' Corner."""
        return self.as_("pupil_admin" if section == "pupils_corner" else "teacher_admin")

    def add_page(self, section: str = "activities", title: str = "Our project") -> int:
        """A new page in `section`; returns its id."""
        page = self.page_manager(section).ok(
            "POST", f"spaces/{self.slug}/pages", json={"section": section, "title": title}
        )
        return page["id"]

    def add_app(self, page_id: int, kind: str, title: str | None = None,
                section: str = "activities") -> int:
        """Add an application of `kind` to a page of `section`; returns its id."""
        body = {"kind": kind} if title is None else {"kind": kind, "title": title}
        return self.page_manager(section).ok("POST", f"pages/{page_id}/apps", json=body)["id"]

    def new_app(self, kind: str, section: str = "activities") -> int:
        """A new page in `section` holding one application of `kind`; returns the app id."""
        return self.add_app(self.add_page(section, f"{kind} page"), kind, section=section)


def image_with_gps(fmt: str = "JPEG", size: tuple[int, int] = (1000, 600)) -> bytes:
    """A real photo carrying camera and GPS EXIF (the GPS IFD is tag 0x8825)."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "SchoolCam"  # Make
    exif[0x0132] = "2024:05:01 10:00:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[0x0001] = "N"
    gps[0x0002] = (48.0, 51.0, 29.6)
    gps[0x0003] = "E"
    gps[0x0004] = (2.0, 17.0, 40.2)
    image = Image.new("RGB", size, (30, 120, 200))
    image.paste((250, 200, 0), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    data = out.getvalue()
    # The fixture really carries the location we expect the service to remove.
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    return data


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll `predicate` until it returns a truthy value (for background effects)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
