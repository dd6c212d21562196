"""A bare Tornado JSON service behind JupyterHub: the baseline that bench/api.py compares with.

It is started by JupyterHub as a managed service (see bench/api.py) and identifies callers
exactly like the TwinSpace service does (``HubOAuthenticated``, token identity checked with
``hub_auth.get_user(..., sync=False)`` and the service access scope), but does no database
work at all:

- ``GET  {prefix}read``  -> ``{"items": [20 fake blog posts], "next": null}``
- ``POST {prefix}write`` -> appends ``{"body": ...}`` to an in-memory list, answers 201 JSON

It listens on the port of ``$JUPYTERHUB_SERVICE_URL`` under ``$JUPYTERHUB_SERVICE_PREFIX``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthenticated
from tornado import web

# Messages kept in memory; older ones are dropped so a long run cannot grow without bound.
KEEP = 10_000

BODY = (
    "Our classes met online this week to compare how we celebrate the start of spring. "
    "The pupils in Lyon presented their posters and the pupils in Tartu answered with a "
    "short video. **Next step:** each group writes five questions for the partner school "
    "and we collect the answers in the wiki before the end of the month."
)


def fake_posts(count: int = 20) -> list[dict]:
    """Posts shaped (and sized) like the TwinSpace blog API's items."""
    now = dt.datetime(2025, 3, 21, 9, 30, tzinfo=dt.UTC)
    author = {
        "name": "teacher1",
        "display_name": "Teacher One",
        "kind": "teacher",
        "school": "École Test",
        "country": "FR",
    }
    return [
        {
            "id": 1000 - i,
            "app_id": 4,
            "title": f"Journal entry {count - i}: spring around Europe",
            "body": BODY,
            "body_html": "<p>"
            + BODY.replace("**Next step:**", "<strong>Next step:</strong>")
            + "</p>\n",
            "author": author,
            "created_at": (now - dt.timedelta(hours=i)).isoformat(),
            "updated_at": (now - dt.timedelta(hours=i)).isoformat(),
            "comment_count": 0,
            "may_edit": True,
            "hidden": False,
        }
        for i in range(count)
    ]


class BareHandler(HubOAuthenticated, web.RequestHandler):
    """Token identity like the TwinSpace APIHandler, then JSON; nothing else."""

    hub_auth_class = HubOAuth

    async def prepare(self) -> None:
        model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            raise web.HTTPError(401)
        if not self.hub_auth.check_scopes(self.hub_auth.access_scopes, model):
            raise web.HTTPError(403)
        self.user_name = model["name"]

    def check_xsrf_cookie(self) -> None:
        return

    def write_json(self, obj, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(obj))


class ReadHandler(BareHandler):
    def get(self) -> None:
        self.write_json({"items": self.settings["posts"], "next": None})


class WriteHandler(BareHandler):
    def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")["body"]
        except (ValueError, KeyError, TypeError) as e:
            raise web.HTTPError(400) from e
        messages: list = self.settings["messages"]
        msg = {
            "id": len(messages) + 1,
            "body": str(body)[:2000],
            "author": self.user_name,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        messages.append(msg)
        if len(messages) > KEEP:
            del messages[: KEEP // 2]
        self.write_json(msg, 201)


def make_app(prefix: str) -> web.Application:
    return web.Application(
        [(prefix + "read", ReadHandler), (prefix + "write", WriteHandler)],
        posts=fake_posts(),
        messages=[],
        cookie_secret=os.urandom(32),
    )


async def main() -> None:
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10102"))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/bare/")
    if not prefix.endswith("/"):
        prefix += "/"
    make_app(prefix).listen(url.port or 10102, url.hostname or "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
