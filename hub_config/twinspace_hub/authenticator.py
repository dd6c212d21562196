"""Logs members in against the TwinSpace store (through the API service), groups included."""

from __future__ import annotations

import json

from jupyterhub.auth import Authenticator
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets import Float, Unicode, default


class ServiceDown(Exception):
    """The TwinSpace service did not answer."""


class TwinSpaceAuthenticator(Authenticator):
    """Checks passwords with the TwinSpace service, which owns accounts and throttling.

    The service keeps argon2 hashes and counts failures per account and per client
    address (persisted, so a restart does not reset a lock). At login the hub's groups
    are set to the member's spaces and roles (`space:<slug>:<role>`).
    """

    service_api_url = Unicode(
        config=True, help="The TwinSpace API root as the hub reaches it (…/api/v1/)."
    )
    service_api_token = Unicode(
        config=True, help="A token the TwinSpace service trusts (its own service token)."
    )
    request_timeout = Float(15.0, config=True, help="Seconds to wait for the service.")

    @default("manage_groups")
    def _default_manage_groups(self):
        return True

    @default("allow_all")
    def _default_allow_all(self):
        # Whoever has a TwinSpace account may log in: the store decides, not a hub list.
        return True

    @default("refresh_pre_spawn")
    def _default_refresh_pre_spawn(self):
        return True

    async def _call(self, method: str, path: str, body: dict | None = None):
        request = HTTPRequest(
            self.service_api_url + path,
            method=method,
            body=json.dumps(body) if body is not None else None,
            headers={
                "Authorization": f"token {self.service_api_token}",
                "Content-Type": "application/json",
            },
            request_timeout=self.request_timeout,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code == 599 or response.code >= 500:
            raise ServiceDown(str(response.error))
        return response.code, json.loads(response.body or b"{}")

    async def authenticate(self, handler, data):
        """Check the login form: a user model with groups, None, or an HTTP error to show."""
        body = {
            "username": data.get("username", ""),
            "password": data.get("password", ""),
            "address": handler.request.remote_ip or "unknown",
        }
        try:
            code, answer = await self._call("POST", "auth/login", body)
        except ServiceDown as e:
            self.log.error("TwinSpace service unavailable at login: %s", e)
            raise web.HTTPError(
                503, "TwinSpace is starting or busy: please try again in a moment."
            ) from None
        if code == 200:
            return {"name": answer["name"], "groups": answer["groups"]}
        if code == 429:
            # The login form shows this message instead of "Invalid username or password".
            raise web.HTTPError(429, answer["message"])
        if code == 403 and answer.get("error") == "invalid_login":
            self.log.warning("Failed login for %r from %s", body["username"], body["address"])
            return None
        self.log.error("Unexpected answer from the TwinSpace service: %s %s", code, answer)
        raise web.HTTPError(500, "Login failed for an unexpected reason; it has been logged.")

    async def refresh_user(self, user, handler=None):
        """Before each spawn, take the groups from the store (roles may have changed)."""
        try:
            code, answer = await self._call("GET", f"auth/users/{user.name}")
        except ServiceDown:
            return True  # keep what the hub knows; the spawn can still go on
        if code != 200:
            return True
        return {"name": user.name, "groups": answer["groups"]}
