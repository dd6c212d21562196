"""The real TwinSpace hub over HTTP, as a browser uses it: login form, throttling, join pages.

Each scenario that counts failed logins gets its own hub: every request of the tests
comes from 127.0.0.1, so failures of one scenario would count toward the address limit
of another. The simple spawner runs the few servers started here (by following the
redirects after joining), as the hub's user, without isolation.
Throttle settings are small (3 s locks) so locks can be seen to expire.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import sys
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from hubharness import proxy_available
from hubproc import TwinSpaceHub, browser_login
from utils import Caller, unique, wait_until

pytestmark = [
    pytest.mark.hub,
    pytest.mark.skipif(not proxy_available(), reason="the node proxy is not installed"),
]

PASSWORD = "correct-horse-battery"
INVALID = "Invalid username or password"
LOCKED = "Too many attempts: try again in 1 minute."
THROTTLE_ENV = {
    "TWINSPACE_LOGIN_LOCK_SECONDS": "3",
    "TWINSPACE_LOGIN_STEP_DELAY": "0.01",
    "TWINSPACE_LOGIN_ADDRESS_THRESHOLD": "8",
}


def start_hub(tmp_path_factory, name: str, **env: str) -> TwinSpaceHub:
    data_dir = tmp_path_factory.mktemp(name)
    # A browser following the redirects after a login starts the member's server: the
    # simple spawner runs this venv's real single-user server, homes in the data dir.
    single_user = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
    if os.geteuid() == 0:
        single_user.append("--allow-root")
    hub = TwinSpaceHub(
        data_dir,
        settings={"isolate_users": False},
        env={**THROTTLE_ENV, **env},
        extra_config="\n".join([
            "c.JupyterHub.spawner_class = 'simple'",
            f"c.Spawner.cmd = {single_user!r}",
            f"c.SimpleLocalProcessSpawner.home_dir_template = "
            f"{str(data_dir / 'homes' / '{username}')!r}",
        ]),
    )
    hub.start()
    hub.wait_for_service()
    return hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = start_hub(tmp_path_factory, "login-hub")
    yield hub
    hub.stop()


def admin(hub: TwinSpaceHub) -> Caller:
    """The `twinspace` command's identity (a trusted service of the hub)."""
    return Caller(hub.api_base, _token=hub.tokens["twinspace-admin"], name="twinspace-admin")


def account(hub: TwinSpaceHub, kind: str = "teacher", password: str | None = PASSWORD,
            **fields) -> str:
    name = unique(kind[:3])
    body = {"name": name, "kind": kind, "display_name": fields.pop("display_name", name),
            "school": "École Test", "country": "FR", **fields}
    if password is not None:
        body["password"] = password
    admin(hub).ok("POST", "users", json=body)
    return name


def space_with(hub: TwinSpaceHub, founder: str, title: str = "Rivers of Europe") -> str:
    slug = unique("space")
    admin(hub).ok("POST", "spaces", json={"slug": slug, "title": title, "founder": founder})
    return slug


def as_member(hub: TwinSpaceHub, name: str) -> Caller:
    """`name` calling the API with a token of their own, as their kernel would."""
    hub.create_user(name)
    return Caller(hub.api_base, _token=hub.token_for(name), name=name)


def hub_user(hub: TwinSpaceHub, session: requests.Session) -> requests.Response:
    return session.get(f"{hub.url}hub/api/user", timeout=30)


def html(response: requests.Response) -> str:
    """The page as a browser reads it (UTF-8, as its <meta charset> says)."""
    return response.content.decode("utf-8")


def error_text(response: requests.Response) -> str:
    """The visible error of a form page (login or TwinSpace pages)."""
    found = re.search(r'class="(?:login_error|twinspace-error)"[^>]*>(.*?)</p>', html(response),
                      re.S)
    return unescape(found.group(1)).strip() if found else ""


def form_post(session: requests.Session, url: str, data: dict) -> requests.Response:
    data = {**data, "_xsrf": session.cookies.get("_xsrf")}
    return session.post(url, data=data, allow_redirects=False, timeout=60)


def login_error(hub: TwinSpaceHub, name: str, password: str) -> str:
    r = browser_login(hub, name, password).login_response
    assert r.status_code in (403, 429), (r.status_code, html(r)[:300])
    assert "<form" in html(r) and 'name="password"' in html(r)  # the form again
    return error_text(r)


# --- the login page --------------------------------------------------------------------


def test_login_page_is_themed(hub):
    r = requests.get(f"{hub.url}hub/login", timeout=30)
    assert r.status_code == 200
    assert "<title>Log in · TwinSpace</title>" in html(r)
    assert "Pupils: type the username and password from your paper slip." in html(r)
    assert 'for="username_input"' in html(r) and 'for="password_input"' in html(r)


def test_login_through_the_form_gives_groups(hub):
    founder = account(hub)
    slug = space_with(hub, founder)
    (pupil,) = as_member(hub, founder).ok(
        "POST", f"spaces/{slug}/pupils", json={"names": ["Léa Martin"]}
    )["items"]

    for name, password, role in ((founder, PASSWORD, "teacher_admin"),
                                 (pupil["name"], pupil["password"], "pupil")):
        session = browser_login(hub, name, password)
        assert session.login_response.status_code == 302
        # The session cookie is never sent along with another site's requests.
        cookie = session.login_response.headers["Set-Cookie"]
        assert "jupyterhub-session-id" in cookie and "SameSite=Lax" in cookie
        r = hub_user(hub, session)
        assert r.status_code == 200, html(r)
        assert r.json()["name"] == name
        assert r.json()["groups"] == [f"space:{slug}:{role}"]


def test_unknown_user_and_wrong_password(hub):
    name = account(hub)
    assert login_error(hub, "nobody-at-all", PASSWORD) == INVALID
    assert login_error(hub, name, "not-the-password") == INVALID


def test_session_survives_a_hub_restart(hub):
    name = account(hub)
    session = browser_login(hub, name, PASSWORD)
    assert hub_user(hub, session).status_code == 200
    hub.restart()
    r = hub_user(hub, session)
    assert r.status_code == 200 and r.json()["name"] == name


# --- joining by invitation -------------------------------------------------------------


def invite(hub: TwinSpaceHub, **body) -> tuple[dict, str, str]:
    """A founder (display name "Marie Curie") invites someone; (invitation, slug, founder)."""
    founder = account(hub, display_name="Marie Curie")
    slug = space_with(hub, founder, "Rivers of Europe")
    invitation = as_member(hub, founder).ok("POST", f"spaces/{slug}/invitations",
                           json={"role": "teacher", **body})
    return invitation, slug, founder


def expire_invitation(hub: TwinSpaceHub, invitation_id: int) -> None:
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(hub.data_dir / "service" / "twinspace.sqlite") as db:
        db.execute("UPDATE invitations SET expires_at = ? WHERE id = ?",
                   (past, invitation_id))


def join_form(name: str, password: str = PASSWORD, password2: str | None = None) -> dict:
    return {"username": name, "display_name": "Jan Novák", "school": "ZŠ Brno",
            "country": "CZ", "password": password, "password2": password2 or password}


def test_newcomer_joins_through_the_link_and_logs_in(hub):
    invitation, slug, _ = invite(hub, email=f"{unique('jan')}@school.example")
    link = invitation["link"]
    assert link.startswith(hub.url + "hub/twinspace/join?token=")

    browser = requests.Session()
    page = browser.get(link, timeout=30)
    assert page.status_code == 200
    assert "Rivers of Europe" in html(page) and "Marie Curie" in html(page)
    assert re.search(r'id="join-role">\s*teacher\s*<', html(page))

    name = unique("jan")
    r = form_post(browser, link, join_form(name))
    assert r.status_code == 302, html(r)[:500]
    me = hub_user(hub, browser)  # logged in at once
    assert me.status_code == 200
    assert me.json()["name"] == name and me.json()["groups"] == [f"space:{slug}:teacher"]

    again = browser_login(hub, name, PASSWORD)
    assert again.login_response.status_code == 302

    # The link is used up: a clear page, whoever opens it.
    for opener in (requests.Session(), browser):
        used = opener.get(link, timeout=30)
        assert used.status_code == 409
        assert error_text(used) == "This invitation has already been used."
        assert "Traceback" not in html(used)


def test_join_form_keeps_what_was_typed_on_errors(hub):
    invitation, _, _ = invite(hub)
    link = invitation["link"]
    browser = requests.Session()
    browser.get(link, timeout=30)

    name = unique("eva")
    r = form_post(browser, link, join_form(name, PASSWORD, "something-else"))
    assert r.status_code == 400
    assert error_text(r) == "The two passwords are not the same: please type them again."
    assert f'value="{name}"' in html(r) and 'value="ZŠ Brno"' in html(r)
    assert PASSWORD not in html(r) and "something-else" not in html(r)

    taken = account(hub)
    r = form_post(browser, link, join_form(taken))
    assert r.status_code == 409
    assert error_text(r) == f"The username {taken} is taken."
    assert 'value="Jan Novák"' in html(r) and PASSWORD not in html(r)

    r = form_post(browser, link, join_form(name, "short", "short"))
    assert r.status_code == 400
    assert error_text(r) == "A password must be at least 8 characters long."

    # Nothing was used up by the failures.
    assert form_post(browser, link, join_form(name)).status_code == 302


def test_expired_and_unknown_join_links_get_a_clear_page(hub):
    invitation, _, _ = invite(hub)
    expire_invitation(hub, invitation["id"])
    r = requests.get(invitation["link"], timeout=30)
    assert r.status_code == 409
    assert error_text(r) == "This invitation has expired."
    assert "This invitation cannot be used" in html(r)

    session = requests.Session()
    session.get(f"{hub.url}hub/login", timeout=30)  # an XSRF cookie, as a browser has
    r = form_post(session, invitation["link"], join_form(unique("late")))
    assert r.status_code == 409 and error_text(r) == "This invitation has expired."

    for url in (f"{hub.url}hub/twinspace/join?token=made-up",
                f"{hub.url}hub/twinspace/join"):
        r = requests.get(url, timeout=30)
        assert r.status_code == 404
        assert error_text(r) == "This invitation link is not valid."


def submit_form_as_a_browser(session: requests.Session, page: requests.Response,
                             typed: dict) -> requests.Response:
    """Post the page's form to its own `action`, hidden fields included; follow redirects."""
    form = re.search(r'<form method="post" action="([^"]*)"(.*?)</form>', html(page), re.S)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"',
                             form.group(2)))
    data = {name: unescape(value) for name, value in hidden.items()} | typed
    return session.post(urljoin(page.url, unescape(form.group(1))), data=data, timeout=120)


def assert_secret_not_in_urls_after_use(hub: TwinSpaceHub, link: str, typed: dict) -> None:
    """The link's form, sent as a browser does: no later URL or hub log line holds its token."""
    token = parse_qs(urlsplit(link).query)["token"][0]
    browser = requests.Session()
    page = browser.get(link, timeout=30)
    assert page.status_code == 200
    log_before = len(hub.log)
    done = submit_form_as_a_browser(browser, page, typed)
    assert done.history and done.history[0].status_code == 302, html(done)[:500]
    try:
        after_use = [*(r.headers.get("Location", "") for r in done.history), done.url]
        assert [url for url in after_use if "/hub/spawn-pending/" in url], after_use
        assert not [url for url in after_use if token in url], after_use
        assert token not in done.request.url and token not in done.history[0].request.url
        assert requests.get(link, timeout=30).status_code == 409  # used up: logged as refused
        assert token not in hub.log[log_before:]
        # The form page's own address holds the token: it must not leave through Referer.
        assert page.headers.get("Referrer-Policy") == "no-referrer"
    finally:
        stop_server(hub, browser.get(f"{hub.url}hub/api/user", timeout=30).json()["name"])


def stop_server(hub: TwinSpaceHub, name: str) -> None:
    """Stop the server that following the redirects started (once it is up: a pending
    spawn cannot be stopped), so it loads no other test."""
    def server() -> dict | None:
        return hub.api("GET", f"users/{name}").json()["servers"].get("")

    wait_until(lambda: (server() or {}).get("ready") or server() is None, 120, 0.5)
    if server() is not None:
        assert hub.api("DELETE", f"users/{name}/server").status_code in (202, 204)
    wait_until(lambda: server() is None, 60, 0.5)


def test_no_invitation_token_in_urls_after_joining(hub):
    invitation, slug, _ = invite(hub)
    name = unique("ida")
    assert_secret_not_in_urls_after_use(hub, invitation["link"], join_form(name))
    assert hub.api("GET", f"users/{name}").json()["groups"] == [f"space:{slug}:teacher"]


def test_no_password_link_token_in_urls_after_use(hub):
    name = account(hub, password=None)
    link = admin(hub).ok("POST", f"users/{name}/password-link")["link"]
    assert_secret_not_in_urls_after_use(hub, link,
                                        {"password": PASSWORD, "password2": PASSWORD})
    assert browser_login(hub, name, PASSWORD).login_response.status_code == 302


# --- choosing a password with a link ---------------------------------------------------


def test_password_link_page(hub):
    name = account(hub, password=None, display_name="Ana Lopez")
    link = admin(hub).ok("POST", f"users/{name}/password-link")["link"]
    assert link.startswith(hub.url + "hub/twinspace/password?token=")
    assert login_error(hub, name, PASSWORD) == INVALID  # no password yet

    browser = requests.Session()
    page = browser.get(link, timeout=30)
    assert page.status_code == 200
    assert "Ana Lopez" in html(page) and name in html(page)

    r = form_post(browser, link, {"password": PASSWORD, "password2": "other-password"})
    assert r.status_code == 400 and "not the same" in error_text(r)
    r = form_post(browser, link, {"password": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302
    assert hub_user(hub, browser).json()["name"] == name

    assert browser_login(hub, name, PASSWORD).login_response.status_code == 302
    used = requests.get(link, timeout=30)
    assert used.status_code == 409
    assert error_text(used) == "This link has already been used."


# --- throttling (own hubs: the counts are per hub) --------------------------------------


# Far longer than a hub restart, even on a loaded machine (a restart took 18 s under load).
ACCOUNT_LOCK = 600.0


@pytest.fixture(scope="module")
def account_hub(tmp_path_factory):
    # Locks outlast a hub restart here; the address limit is out of the way (the race
    # test sends many attempts from 127.0.0.1 and is about the account's lock).
    hub = start_hub(tmp_path_factory, "account-throttle",
                    TWINSPACE_LOGIN_LOCK_SECONDS=str(ACCOUNT_LOCK),
                    TWINSPACE_LOGIN_ADDRESS_THRESHOLD="1000")
    yield hub
    hub.stop()


def test_wrong_passwords_lock_the_account_across_a_restart(account_hub):
    hub = account_hub
    name = account(hub)
    for _ in range(5):  # the fifth failure sets the lock
        assert login_error(hub, name, "wrong-password") == INVALID
    locked_at = time.monotonic()
    assert login_error(hub, name, PASSWORD) == "Too many attempts: try again in 10 minutes."

    hub.restart()  # the lock is in the database, not in the hub's memory
    assert time.monotonic() - locked_at < ACCOUNT_LOCK - 1, "restart slower than the lock"
    assert login_error(hub, name, PASSWORD).startswith("Too many attempts: try again in ")
    # (Locks ending is tested with a short lock: test_one_address_against_many_accounts.)
    # Other accounts from the same address were never locked out by this.
    other = account(hub)
    assert browser_login(hub, other, PASSWORD).login_response.status_code == 302


def form_sessions(hub: TwinSpaceHub, count: int,
                  headers: list[dict] | None = None) -> list[requests.Session]:
    """Browsers that have opened the login form (so they hold an XSRF cookie), each
    sending its `headers` with every request (JupyterHub ties the XSRF token of an
    anonymous browser to the address it believes, so a forger forges it on both)."""
    sessions = []
    for i in range(count):
        session = requests.Session()
        session.headers.update(headers[i] if headers else {})
        session.get(f"{hub.url}hub/login", timeout=30).raise_for_status()
        sessions.append(session)
    return sessions


def post_login(session: requests.Session, hub: TwinSpaceHub, name: str,
               password: str) -> requests.Response:
    return session.post(
        f"{hub.url}hub/login",
        data={"username": name, "password": password, "_xsrf": session.cookies.get("_xsrf")},
        allow_redirects=False, timeout=120,
    )


def test_parallel_guesses_cannot_race_past_the_lock(account_hub):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    hub = account_hub
    name = account(hub)
    sessions = form_sessions(hub, 30)
    start = Barrier(len(sessions))

    def guess(i: int) -> int:
        start.wait()  # all 30 POSTs leave together
        return post_login(sessions[i], hub, name, f"guess-{i:04d}").status_code

    with ThreadPoolExecutor(len(sessions)) as pool:
        codes = list(pool.map(guess, range(len(sessions))))
    # Each attempt is reserved before its password is checked: exactly the threshold's
    # five guesses were evaluated (403), every other one was refused unseen (429).
    assert sorted(codes) == [403] * 5 + [429] * 25, codes
    assert login_error(hub, name, PASSWORD).startswith("Too many attempts")


@pytest.fixture(scope="module")
def address_hub(tmp_path_factory):
    hub = start_hub(tmp_path_factory, "address-throttle")
    yield hub
    hub.stop()


def test_one_address_against_many_accounts_is_locked(address_hub):
    hub = address_hub
    names = [account(hub) for _ in range(9)]
    # Each guess claims another address: the hub believes only what its node proxy saw.
    forged = [{"X-Real-Ip": f"10.9.8.{i}", "X-Forwarded-For": f"10.7.7.{i}, 10.9.8.{i}"}
              for i in range(9)]
    sessions = form_sessions(hub, 9, forged)
    for name, session in zip(names[:8], sessions, strict=False):
        r = post_login(session, hub, name, "guess-1234")  # one each: no account's limit
        assert r.status_code == 403 and error_text(r) == INVALID
    def logged_addresses() -> list[str]:
        return [found for name in names[:8] for found in
                re.findall(rf"Failed login for '{name}' from (\S+)", hub.log)]

    assert wait_until(lambda: len(logged_addresses()) == 8, timeout=60)
    assert logged_addresses() == ["127.0.0.1"] * 8
    # The address is locked now, for everyone coming from it, right password or not,
    # whatever address they claim.
    assert login_error(hub, names[8], PASSWORD) == LOCKED
    assert login_error(hub, "nobody-at-all", PASSWORD) == LOCKED
    r = post_login(sessions[8], hub, names[8], PASSWORD)
    assert r.status_code == 429 and error_text(r) == LOCKED
    # One failure is forgiven per leak period (6 s here): then the right password works.
    wait_until(lambda: browser_login(hub, names[8], PASSWORD).login_response.status_code == 302,
               timeout=300, interval=1.0)
