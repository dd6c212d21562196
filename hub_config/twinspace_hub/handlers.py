"""Hub pages of TwinSpace (joining by invitation, setting a password).

Both pages are reached by a one-time link (`/hub/twinspace/join?token=…`,
`/hub/twinspace/password?token=…`) that the TwinSpace API made, showed to whoever
made it, and mailed when SMTP is configured. The pages talk to the API with the
authenticator's service token; the API checks and uses up the link.

After a successful form the person is logged in at once through the normal login path
(`login_user` with the password they just chose: the authenticator checks it with the
service, which records the attempt and answers the groups), then sent on to the hub.

The token stays out of every address after the link's own: the form posts it in its
body to the bare page path, the redirects after it never carry the query on, and the
pages send no Referer (their address holds the token).
"""

from __future__ import annotations

from urllib.parse import quote

from jupyterhub._xsrf_utils import _set_xsrf_cookie
from jupyterhub.handlers import BaseHandler
from tornado import web
from tornado.httputil import url_concat

from .authenticator import ServiceDown

SERVICE_BUSY = "TwinSpace is starting or busy: please try again in a moment."
PASSWORDS_DIFFER = "The two passwords are not the same: please type them again."


class LinkPage(BaseHandler):
    """A page opened with a one-time `?token=` link, showing a form that uses it."""

    # Subclasses: the API path of the link, the form template, the page titles.
    api_path = ""
    template = ""
    form_title = ""
    problem_title = ""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # This page's address holds a secret: links and resources must not send it on.
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    def token(self) -> str:
        return self.get_argument("token", "", strip=True)

    def append_query_parameters(self, url, exclude=None):
        # JupyterHub carries the request's query on to the next URL (/hub/spawn,
        # then spawn-pending): never the one-time token.
        return super().append_query_parameters(url, [*(exclude or ["next"]), "token"])

    async def call_service(self, method: str, path: str, body: dict | None = None):
        """(status, JSON) from the TwinSpace API; a 503 page when it does not answer."""
        try:
            return await self.authenticator._call(method, path, body)
        except ServiceDown as e:
            self.log.error("TwinSpace service unavailable for %s: %s", self.request.path, e)
            raise web.HTTPError(503, SERVICE_BUSY) from None

    def link_api(self, token: str) -> str:
        return self.api_path.format(token=quote(token, safe=""))

    async def problem(self, status: int, message: str, advice: str = "") -> None:
        """A clear page for a link that cannot be used: the service's own words."""
        self.set_status(status)
        html = await self.render_template(
            "twinspace_message.html",
            page_title=self.problem_title,
            message=message,
            advice=advice,
        )
        self.finish(html)

    async def lookup(self, token: str) -> dict | None:
        """The link's details, or None after showing why it cannot be used."""
        if not token:
            await self.problem(404, self.missing_message)
            return None
        code, answer = await self.call_service("GET", self.link_api(token))
        if code != 200:
            await self.problem(code, answer.get("message", "This link cannot be used."))
            return None
        return answer

    async def show_form(self, token: str, details: dict, *, error: str = "",
                        values: dict | None = None, status: int = 200) -> None:
        # A fresh XSRF cookie, as JupyterHub's login page sets one, so the form can post.
        if self.request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate":
            _set_xsrf_cookie(
                self, self._xsrf_token_id, cookie_path=self.hub.base_url,
                xsrf_token=self.xsrf_token,
            )
        self.set_status(status)
        html = await self.render_template(
            self.template,
            page_title=self.form_title,
            token=token,
            action=self.request.path,  # the token goes in the body, not the address
            error=error,
            values=values or {},
            **self.form_namespace(details),
        )
        self.finish(html)

    def form_namespace(self, details: dict) -> dict:
        return {}

    async def get(self):
        token = self.token()
        details = await self.lookup(token)
        if details is not None:
            await self.show_form(token, details, values=self.initial_values(details))

    def initial_values(self, details: dict) -> dict:
        return {}

    async def post(self):
        token = self.get_body_argument("token", "", strip=True) or self.token()
        details = await self.lookup(token)
        if details is None:
            return
        values = self.typed_values()
        password = self.get_body_argument("password", "")
        if password != self.get_body_argument("password2", ""):
            await self.show_form(token, details, error=PASSWORDS_DIFFER, values=values,
                                 status=400)
            return
        code, answer = await self.call_service(
            "POST", self.link_api(token), self.request_body(values, password)
        )
        if code not in (200, 201):
            # The link may have been used or expired meanwhile: then say so plainly;
            # otherwise show the service's message on the form, keeping what was typed.
            if await self.lookup(token) is None:
                return
            await self.show_form(token, details, error=answer.get("message", ""),
                                 values=values, status=code)
            return
        await self.log_in(answer["name"], password)

    def typed_values(self) -> dict:
        return {}

    def request_body(self, values: dict, password: str) -> dict:
        return {"password": password}

    async def log_in(self, name: str, password: str) -> None:
        """Log the person in with the password they just chose, then go on to the hub."""
        try:
            user = await self.login_user({"username": name, "password": password})
        except web.HTTPError as e:
            self.log.warning("Login right after %s failed for %s: %s", self.request.path,
                             name, e)
            user = None
        if user is None:
            # The account is ready all the same: the login page takes it from here.
            self.redirect(url_concat(self.settings["login_url"], {"username": name}))
            return
        self._jupyterhub_user = user
        self.redirect(self.get_next_url(user))

    @property
    def missing_message(self) -> str:
        return "This link is not valid."


class JoinHandler(LinkPage):
    """/hub/twinspace/join?token=…: a newcomer accepts an invitation to a space."""

    api_path = "invitations/by-token/{token}"
    template = "twinspace_join.html"
    form_title = "Join a TwinSpace"
    problem_title = "This invitation cannot be used"
    fields = ("username", "display_name", "school", "country")

    @property
    def missing_message(self) -> str:
        return "This invitation link is not valid."

    def form_namespace(self, details: dict) -> dict:
        return {"invitation": details}

    def initial_values(self, details: dict) -> dict:
        return {"username": details.get("username") or ""}

    def typed_values(self) -> dict:
        return {
            name: self.get_body_argument(name, "", strip=True) for name in self.fields
        }

    def request_body(self, values: dict, password: str) -> dict:
        body = {name: value for name, value in values.items() if value}
        body["password"] = password
        return body


class PasswordHandler(LinkPage):
    """/hub/twinspace/password?token=…: an account made by an administrator sets its password."""

    api_path = "password-links/{token}"
    template = "twinspace_password.html"
    form_title = "Choose your password"
    problem_title = "This link cannot be used"

    def form_namespace(self, details: dict) -> dict:
        return {"account": details}


# Relative to the hub's prefix: served at /hub/twinspace/….
default_handlers: list = [
    (r"/twinspace/join", JoinHandler),
    (r"/twinspace/password", PasswordHandler),
]
