"""Every way a page shows an app answers a refusal politely, in the member's language."""

from __future__ import annotations

import html
import socket

import pytest

from twinspace_kernel import i18n
from twinspace_kernel.apps import APPS, app_class, page_tools, show
from twinspace_kernel.apps.base import TwinSpaceApp
from twinspace_kernel.apps.blog import Blog
from twinspace_kernel.apps.navigation import navigation
from twinspace_kernel.client import TwinSpaceClient

# What the member reads, per language (the service's own sentence is English).
FORBIDDEN = {"en": "this page is not available to you",
             "fr": "cette page ne vous est pas accessible"}
GONE = {"en": "This page does not exist (any more).",
        "fr": "Cette page n'existe pas (ou plus)."}
DOWN = {"en": "TwinSpace is not answering right now.",
        "fr": "TwinSpace ne répond pas pour le moment."}
LOGGED_OUT = {"en": "Your session has expired: log in again.",
              "fr": "Votre session a expiré : reconnectez-vous."}
REFUSED_ACTION = {"en": "A visitor may not post in the activities section.",
                  "fr": "Désolé, vous ne pouvez pas faire cela ici."}
# Parts of the service's English refusals that must not reach a French page.
ENGLISH_DETAIL = ("may not", "not a member", "No such")


@pytest.fixture(params=["en", "fr"])
def language(request):
    i18n.set_language(request.param)
    yield request.param
    i18n.set_language("en")


@pytest.fixture(scope="module")
def staff_room(site):
    """A space whose Teachers' Room page holds one app of every kind."""
    world = site.space()
    page_id = world.add_page("teachers_room", "Staff only")
    apps = {kind: world.add_app(page_id, kind, section="teachers_room") for kind in APPS}
    return world, page_id, apps


@pytest.fixture(scope="module")
def dead_url():
    """The address of a port where no service answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/twinspace/api/v1/"


def shown(widget) -> str:
    """The text of the notice a widget shows (its banner, or that of the app it holds)."""
    apps = [widget] if isinstance(widget, TwinSpaceApp) else []
    apps += [child for child in getattr(widget, "children", ()) if isinstance(child, TwinSpaceApp)]
    assert apps, f"{widget!r} shows no app"
    return " ".join(app.banner.value for app in apps)


def assert_polite(text: str, expected: dict[str, str], language: str) -> None:
    text = html.unescape(text)
    assert expected[language].lower() in text.lower(), text
    assert "Traceback" not in text
    if language != "en":
        assert not any(part in text for part in ENGLISH_DETAIL), text


@pytest.mark.parametrize("role", ["pupil", "outsider"])
@pytest.mark.parametrize("kind", list(APPS))
def test_a_refused_reader_gets_a_polite_message(staff_room, kind, role, language):
    world, _page_id, apps = staff_room
    client = world.client(role)
    for app in (show(apps[kind], client=client), app_class(kind)(apps[kind], client=client)):
        assert_polite(shown(app), FORBIDDEN, language)
        assert app.body.children == ()


def test_a_deleted_app_says_so(world, language):
    page_id = world.add_page("activities", "Soon gone")
    apps = {kind: world.add_app(page_id, kind) for kind in APPS}
    for app_id in apps.values():
        world.page_manager("activities").ok("DELETE", f"apps/{app_id}")
    client = world.client("teacher")
    for kind, app_id in apps.items():
        for app in (show(app_id, client=client), app_class(kind)(app_id, client=client)):
            assert_polite(shown(app), GONE, language)


def test_a_dead_service_says_so(staff_room, dead_url, language):
    world, page_id, apps = staff_room
    client = TwinSpaceClient(dead_url, world.as_("teacher").token or "", retry_seconds=0)
    for kind, app_id in apps.items():
        for app in (show(app_id, client=client), app_class(kind)(app_id, client=client)):
            assert_polite(shown(app), DOWN, language)
            assert app.retry_button.layout.display == ""
    assert_polite(shown(page_tools(world.slug, "teachers_room", page_id, client=client)),
                  DOWN, language)
    assert_polite(shown(navigation(page_id, client=client)), DOWN, language)


def test_an_expired_token_asks_to_log_in_again(site, staff_room, language):
    world, page_id, apps = staff_room
    # A token the hub no longer knows (the member logged out, the server was restarted).
    client = TwinSpaceClient(site.api_base, "expired-token")
    for kind, app_id in apps.items():
        for app in (show(app_id, client=client), app_class(kind)(app_id, client=client)):
            assert_polite(shown(app), LOGGED_OUT, language)
    assert_polite(shown(page_tools(world.slug, "teachers_room", page_id, client=client)),
                  LOGGED_OUT, language)
    assert_polite(shown(navigation(page_id, client=client)), LOGGED_OUT, language)


def test_a_refused_action_is_explained_in_the_members_language(world, language):
    app = Blog(world.new_app("blog"), client=world.client("visitor"))
    assert app.banner.value == ""
    # The hidden form, forced from the visitor's own kernel: the service refuses.
    app.title_input.value = "Spam"
    app.body_input.value = "spam"
    app.publish_button.click()
    assert_polite(app.banner.value, REFUSED_ACTION, language)


@pytest.mark.parametrize("role", ["pupil", "outsider"])
def test_page_tools_and_navigation_refuse_politely(staff_room, role, language):
    world, page_id, _apps = staff_room
    client = world.client(role)
    assert_polite(shown(page_tools(world.slug, "teachers_room", page_id, client=client)),
                  FORBIDDEN, language)
    assert_polite(shown(navigation(page_id, client=client)), FORBIDDEN, language)


def test_page_tools_of_a_deleted_page(world, language):
    page_id = world.add_page("activities", "Soon gone")
    world.page_manager("activities").ok("DELETE", f"pages/{page_id}")
    client = world.client("teacher_admin")
    assert_polite(shown(page_tools(world.slug, "activities", page_id, client=client)),
                  GONE, language)
    assert_polite(shown(navigation(page_id, client=client)), GONE, language)


def test_members_who_may_see_the_page_get_no_refusal(staff_room):
    world, page_id, apps = staff_room
    client = world.client("teacher")
    app = show(apps["web_content"], client=client)
    assert app.banner.value == ""
    # A pupil may view Home but not manage its pages: no tools, no notice.
    tools = page_tools(world.slug, "home", world.page_id("home"), client=world.client("pupil"))
    assert tools.children == ()
