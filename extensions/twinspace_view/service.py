"""The member view's calls to the TwinSpace service, with the server's own token (async)."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

# The service restarting answers these for a moment; a page open waits a little for it.
RETRY_STATUSES = frozenset({502, 503, 504})


class ServiceError(Exception):
    """The service refused or did not answer; `status` 0 means no answer at all."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ViewService:
    """GET/PATCH on the TwinSpace API as the server's owner ($JUPYTERHUB_API_TOKEN)."""

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 20.0, retry_seconds: float = 5.0) -> None:
        self.url = (url or os.environ.get("TWINSPACE_API_URL", "")).rstrip("/") + "/"
        self.token = token if token is not None else os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self.timeout = timeout
        self.retry_seconds = retry_seconds

    @property
    def configured(self) -> bool:
        return self.url != "/"

    async def call(self, method: str, path: str, body: dict | None = None,
                   **params: Any) -> Any:
        if not self.configured:
            raise ServiceError(0, "TWINSPACE_API_URL is not set: this server has no TwinSpace.")
        query = f"?{urlencode(params)}" if params else ""
        request = HTTPRequest(
            self.url + path.lstrip("/") + query,
            method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"},
            body=json.dumps(body) if body is not None else None,
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.retry_seconds if method == "GET" else 0)
        delay = 0.1
        while True:
            try:
                response = await AsyncHTTPClient().fetch(request, raise_error=False)
            except (OSError, HTTPClientError) as e:
                if loop.time() + delay > deadline:
                    raise ServiceError(0, f"The TwinSpace service is not answering ({e}).") from e
            else:
                if response.code not in RETRY_STATUSES or loop.time() + delay > deadline:
                    break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        if response.code >= 300:
            try:
                message = json.loads(response.body)["message"]
            except (ValueError, KeyError, TypeError):
                message = f"The TwinSpace service answered {response.code}."
            status = 401 if 300 <= response.code < 400 else response.code
            raise ServiceError(status, message)
        return json.loads(response.body) if response.body else None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, **params)

    async def patch(self, path: str, body: dict) -> Any:
        return await self.call("PATCH", path, body)
