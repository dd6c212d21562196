"""Which client address a login is counted against: forwarded headers only from trusted proxies."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from tornado import httpclient, httpserver, netutil, web
from twinspace_hub.authenticator import TwinSpaceAuthenticator, client_address


class AddressHandler(web.RequestHandler):
    def get(self):
        self.write(client_address(self.request, self.settings["networks"]))


async def address_seen(headers: dict, trusted: list[str]) -> str:
    """What a real Tornado server run like the hub's (xheaders=True) takes as the client's
    address, for a request from 127.0.0.1 (the node proxy's place) with `headers`."""
    networks = [ipaddress.ip_network(item, strict=False) for item in trusted]
    server = httpserver.HTTPServer(web.Application([(r"/", AddressHandler)], networks=networks),
                                   xheaders=True)
    [sock] = netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets([sock])
    try:
        port = sock.getsockname()[1]
        response = await httpclient.AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{port}/", headers=headers)
        return response.body.decode()
    finally:
        server.stop()


def seen(headers: dict, trusted: list[str] | None = None) -> str:
    return asyncio.run(address_seen(headers, trusted or []))


def test_the_node_proxys_entry_is_the_client():
    assert seen({}) == "127.0.0.1"
    # The node proxy appends the address it saw: entries before it are the client's own.
    assert seen({"X-Forwarded-For": "192.0.2.7"}) == "192.0.2.7"
    assert seen({"X-Forwarded-For": "10.9.8.7, 192.0.2.7"}) == "192.0.2.7"
    assert seen({"X-Forwarded-For": "::ffff:192.0.2.7"}) == "192.0.2.7"


def test_headers_a_client_writes_are_not_believed():
    # X-Real-Ip is never set by the node proxy: whatever it says is a client's claim.
    assert seen({"X-Real-Ip": "10.9.8.7"}) == "127.0.0.1"
    assert seen({"X-Real-Ip": "10.9.8.7", "X-Forwarded-For": "10.9.8.7, 127.0.0.1"}) == (
        "127.0.0.1")
    assert seen({"X-Forwarded-For": "not-an-address"}) == "127.0.0.1"


def test_a_schools_reverse_proxy_when_listed():
    chain = {"X-Forwarded-For": "10.9.8.7, 198.51.100.20, 10.0.0.5"}
    # Not listed: the school's proxy is the client (every login would seem to be its own).
    assert seen(chain) == "10.0.0.5"
    # Listed: the entry that proxy appended is the client; what came before is not believed.
    assert seen(chain, ["10.0.0.5"]) == "198.51.100.20"
    assert seen(chain, ["10.0.0.0/8"]) == "198.51.100.20"
    # Two trusted hops in a row (a load balancer in front of the proxy).
    assert seen(chain, ["10.0.0.5", "198.51.100.0/24"]) == "10.9.8.7"


def test_trusted_proxies_setting(monkeypatch):
    monkeypatch.setenv("TWINSPACE_TRUSTED_PROXIES", "10.0.0.5, 192.0.2.0/24")
    assert TwinSpaceAuthenticator().trusted_proxies == ["10.0.0.5", "192.0.2.0/24"]
    monkeypatch.delenv("TWINSPACE_TRUSTED_PROXIES")
    assert TwinSpaceAuthenticator().trusted_proxies == []
    with pytest.raises(Exception, match="Not an address or network"):
        TwinSpaceAuthenticator(trusted_proxies=["school-proxy"])
