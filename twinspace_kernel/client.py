"""The HTTP client that apps use inside kernels to talk to the TwinSpace service."""

from __future__ import annotations

import os
import time
from typing import Any

import requests

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})


class TwinSpaceError(Exception):
    """An error answered by the service; `message` is written for people."""

    def __init__(self, status: int, code: str, message: str, body: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.body = body or {}


class BadRequest(TwinSpaceError):
    pass


class Unauthorized(TwinSpaceError):
    pass


class Forbidden(TwinSpaceError):
    pass


class NotFound(TwinSpaceError):
    pass


class Conflict(TwinSpaceError):
    """A stale save (wiki) or a name already taken; `body` carries the current state."""


class TooLarge(TwinSpaceError):
    pass


class UnsupportedType(TwinSpaceError):
    pass


class TooManyRequests(TwinSpaceError):
    pass


class ServiceUnavailable(TwinSpaceError):
    """The service did not answer (restarting or down): widgets show a retry banner."""


ERRORS_BY_STATUS = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    415: UnsupportedType,
    429: TooManyRequests,
}


def default_url() -> str:
    url = os.environ.get("TWINSPACE_API_URL", "")
    if not url:
        raise ServiceUnavailable(
            0, "not_configured", "TWINSPACE_API_URL is not set: this server has no TwinSpace."
        )
    return url


class TwinSpaceClient:
    """Calls /services/twinspace/api/v1/ with the member's hub token.

    url: the API root (default $TWINSPACE_API_URL, which the hub's spawner sets).
    token: a hub API token (default $JUPYTERHUB_API_TOKEN, the server's own token).
    retry_seconds: how long idempotent calls keep retrying while the service restarts
    (its watcher starts it again at once; bench/crash_restart.py measures the gap).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retry_seconds: float = 10.0,
    ) -> None:
        self.url = (url or default_url()).rstrip("/") + "/"
        self.token = token if token is not None else os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.session = requests.Session()
        if self.token:
            self.session.headers["Authorization"] = f"token {self.token}"

    # --- the generic call -----------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request; raise a TwinSpaceError subclass for any error answer."""
        method = method.upper()
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        url = self.url + path.lstrip("/")
        deadline = time.monotonic() + (self.retry_seconds if method in IDEMPOTENT else 0)
        delay = 0.1
        while True:
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.ConnectionError as e:
                if time.monotonic() + delay > deadline:
                    raise ServiceUnavailable(
                        0, "unavailable", "The TwinSpace service is not answering. Try again."
                    ) from e
            else:
                if response.status_code not in RETRY_STATUSES:
                    break
                if time.monotonic() + delay > deadline:
                    break
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        if response.status_code >= 300:
            raise error_from(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.json("GET", path, params=_drop_none(params))

    def post(self, path: str, body: dict | None = None, **params: Any) -> Any:
        return self.json("POST", path, json=body or {}, params=_drop_none(params))

    def put(self, path: str, body: dict | None = None) -> Any:
        return self.json("PUT", path, json=body or {})

    def patch(self, path: str, body: dict | None = None) -> Any:
        return self.json("PATCH", path, json=body or {})

    def delete(self, path: str) -> None:
        self.json("DELETE", path)

    def upload(self, path: str, data: bytes, filename: str, *, method: str = "POST",
               **params: Any) -> Any:
        """Send a file's bytes (the body) with its name; the service sniffs the type."""
        params = {"filename": filename, **_drop_none(params)}
        return self.json(
            method,
            path,
            data=data,
            params=params,
            headers={"Content-Type": "application/octet-stream"},
        )

    def download(self, path: str) -> bytes:
        return self.request("GET", path).content

    def wait(self, path: str, *, after: int | None, wait: float, **params: Any) -> Any:
        """A long-poll: returns as soon as there is something after `after`."""
        params = _drop_none({"after": after, "wait": wait, **params})
        return self.json("GET", path, params=params, timeout=wait + self.timeout)


def error_from(response: requests.Response) -> TwinSpaceError:
    """Turn the service's error JSON into the matching exception."""
    status = response.status_code
    try:
        body = response.json()
        code, message = body["error"], body["message"]
    except (ValueError, KeyError, TypeError):
        body = {}
        if 300 <= status < 400:
            # An OAuth redirect: the token was missing or no longer valid.
            status, code, message = 401, "unauthorized", "Your session has expired: log in again."
        else:
            code, message = "error", f"The TwinSpace service answered {status}."
    if status in RETRY_STATUSES:
        return ServiceUnavailable(status, code, "The TwinSpace service is restarting. Try again.")
    return ERRORS_BY_STATUS.get(status, TwinSpaceError)(status, code, message, body)


def _drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None}
