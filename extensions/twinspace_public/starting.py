"""While the public view loads Voila (seconds), its port already answers "starting".

JupyterHub starts its managed services one after the other and waits for each to answer
HTTP before going on: Voila's imports would add their seconds to every hub (re)start.
This answers at once on the service's port, from a thread, with a page that reloads
itself, until Voila takes the port over (`Starting.stop()`, just before Voila listens).
Only Tornado is imported here.
"""

from __future__ import annotations

import asyncio
import html
import os
import threading
from urllib.parse import urlparse

from tornado import httpserver, netutil, web

from twinspace_kernel.i18n import _, set_language


def page() -> str:
    message = html.escape(_("The public pages are starting: this page reloads in a moment."))
    return ('<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" '
            'content="2"><title>TwinSpace</title></head><body style="font-family:system-ui,'
            f'sans-serif"><p>{message}</p></body></html>')


class StartingHandler(web.RequestHandler):
    def get(self, *args) -> None:
        # Not an error: the hub counts any answer under 500 as "up", and a reader's
        # browser reloads the page until the real one answers.
        self.set_header("Cache-Control", "no-store")
        self.set_header("Retry-After", "2")
        set_language(self.request.headers.get("Accept-Language", "").split(",")[0] or "en")
        self.finish(page())


class Starting:
    """A placeholder server on the service's port, in a thread of its own."""

    def __init__(self, port: int, address: str) -> None:
        self.sockets = netutil.bind_sockets(port, address)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="twinspace-public-starting",
                                       daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = httpserver.HTTPServer(web.Application([(r".*", StartingHandler)]))
        self.server.add_sockets(self.sockets)
        self.loop.call_soon(self.ready.set)
        self.loop.run_forever()

    def stop(self) -> None:
        """Free the port for Voila."""

        async def close() -> None:
            self.server.stop()
            # Connections it accepted are closed, not left hanging: browsers reconnect.
            await self.server.close_all_connections()
            self.loop.stop()

        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(close()))
        self.thread.join(10)
        for sock in self.sockets:
            sock.close()


def answer_while_starting() -> Starting | None:
    """The placeholder on $JUPYTERHUB_SERVICE_URL's port (None when run by hand)."""
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))
    if not url.port:
        return None
    return Starting(url.port, url.hostname or "127.0.0.1")
