"""Logs members in against the TwinSpace store (through the API service), groups included."""

from __future__ import annotations

import ipaddress
import json
import os

from jupyterhub.auth import Authenticator
from tornado import httputil, web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets import Float, List, Unicode, default, validate

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
    return getattr(ip, "ipv4_mapped", None) or ip


def client_address(request: httputil.HTTPServerRequest, trusted_proxies: list[Network]) -> str:
    """The address a login attempt comes from, which no client can choose.

    The hub runs Tornado with xheaders=True, so `request.remote_ip` is whatever a client
    wrote in X-Real-Ip or X-Forwarded-For. Instead: the hub's peer is the node proxy on
    loopback, which appends the address of whoever connected to it to X-Forwarded-For
    (entries before it were written by someone else). That entry is the client, unless
    it is one of `trusted_proxies` (a school's reverse proxy in front of the node
    proxy): then the entry that proxy appended is taken, and so on.
    """
    context = request.connection.context if request.connection else None
    peer_address = getattr(context, "address", None)
    peer = _ip(peer_address[0]) if isinstance(peer_address, tuple) else None
    if peer is None:
        return request.remote_ip or "unknown"
    if not peer.is_loopback:
        return str(peer)  # reached the hub directly, not through the node proxy
    hops = [
        hop for value in request.headers.get_list("X-Forwarded-For") for hop in value.split(",")
    ]
    address = peer
    while hops:
        hop = _ip(hops.pop())
        if hop is None:
            break  # not written by a proxy we trust: keep the last address we believe
        address = hop
        if not any(address in network for network in trusted_proxies):
            break
    return str(address)


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
    trusted_proxies = List(
        Unicode(),
        config=True,
        help="""Reverse proxies in front of the hub's node proxy whose X-Forwarded-For is believed.

        Addresses or networks (`192.0.2.10`, `10.0.0.0/8`). Default: none
        ($TWINSPACE_TRUSTED_PROXIES, comma-separated): the address the node proxy saw is
        the client's. A school behind its own reverse proxy lists that proxy here, or
        every login would seem to come from it (and lock everyone at once).
        """,
    )

    @default("trusted_proxies")
    def _default_trusted_proxies(self):
        listed = os.environ.get("TWINSPACE_TRUSTED_PROXIES", "")
        return [item.strip() for item in listed.split(",") if item.strip()]

    @validate("trusted_proxies")
    def _check_trusted_proxies(self, proposal):
        for item in proposal["value"]:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"Not an address or network: {item!r}") from None
        return proposal["value"]

    def proxy_networks(self) -> list[Network]:
        return [ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies]

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
            "address": client_address(handler.request, self.proxy_networks()),
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
