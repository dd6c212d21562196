"""The member view end to end: after login a member lands on their space's Home page (Voila).

ONE real hub from our jupyterhub_config.py for the module (node proxy, real members'
servers; as root each runs as its own system user from the members' env). Handler-level
checks go through HTTP as a browser would (requests, logged in through the hub's form);
the browser checks drive Debian's Chromium through Playwright.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import nbformat
import pytest
import requests
from browser import log_in as log_in_browser
from browser import wait_for
from hubproc import HubWorld, TwinSpaceHub, isolated_hub, log_in_until_served
from twinspace_hub.spawner import KERNEL_CULLING, write_server_config

PASSWORD = HubWorld.PASSWORD

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]


# --- the hub and its people ----------------------------------------------------------------


class World(HubWorld):
    """The module's hub with one space: a founder, a second teacher, pupils, pages."""

    def __init__(self, hub: TwinSpaceHub):
        super().__init__(hub)
        tag = self.tag
        self.slug = f"view-{tag}"
        self.founder = f"founder{tag}"
        self.loner = f"loner{tag}"
        self.teacher = self.add_teacher(self.founder, "Fiona Founder")
        self.add_teacher(self.loner, "Lou Loner")
        self.call("POST", "spaces", self.teacher,
                  json={"slug": self.slug, "title": "River project", "starter": True})
        self.second_slug = f"other-{tag}"
        self.call("POST", "spaces", self.teacher,
                  json={"slug": self.second_slug, "title": "Another project"})
        self.teachers_room = self.call("POST", f"spaces/{self.slug}/pages", self.teacher, json={
            "section": "teachers_room", "title": "Planning", "template": "teachers_room.ipynb",
        })
        self.pupils = self.call("POST", f"spaces/{self.slug}/pupils", self.teacher,
                                json={"names": ["Ana Lopez", "Ben Ng", "Cleo Diaz"]})["items"]

    def pages(self, section: str, slug: str | None = None) -> list[dict]:
        return self.call("GET", f"spaces/{slug or self.slug}/pages", self.teacher,
                         params={"section": section})["items"]


@pytest.fixture(scope="module")
def world():
    with isolated_hub("twinspace-view-", missing=pytest.skip) as hub:
        yield World(hub)


def log_in(world: World, name: str, password: str) -> tuple[requests.Session, requests.Response]:
    """Log in through the hub's form and follow on to wherever the hub sends a member."""
    return log_in_until_served(world.hub, name, password)


def page_id_of(url: str) -> int:
    match = re.search(r"/twinspace/page/(\d+)$", url)
    assert match, url
    return int(match.group(1))


# --- the servers' configuration ------------------------------------------------------------


def test_members_servers_enable_the_view_and_cull_idle_kernels(tmp_path):
    config = json.loads(write_server_config(tmp_path / "cfg", 20).read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {
        "voila.server_extension": True, "twinspace_view": True,
    }
    assert config["MappingKernelManager"] == KERNEL_CULLING
    assert KERNEL_CULLING["cull_connected"] is False  # a page open in a tab keeps its kernel


# --- through HTTP --------------------------------------------------------------------------


def test_a_pupil_lands_on_the_home_page_of_their_space(world):
    pupil = world.pupils[0]
    session, landed = log_in(world, pupil["name"], pupil["password"])
    [home] = world.pages("home")
    assert landed.status_code == 200
    assert landed.url == world.view_url(pupil["name"], f"page/{home['id']}")
    # Voila rendered the page: widget views, no source, no traceback.
    assert "application/vnd.jupyter.widget-view+json" in landed.text, world.hub.log[-8000:]
    assert "show(" not in landed.text and "Traceback" not in landed.text
    # /twinspace without the slash lands there too.
    r = session.get(world.view_url(pupil["name"]).rstrip("/"), allow_redirects=False,
                    timeout=60)
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/twinspace/page/{home['id']}")


def test_teachers_own_cells_run_without_their_code_or_errors(world):
    pupil = world.pupils[0]
    session, _landed = log_in(world, pupil["name"], pupil["password"])
    page = world.pages("activities")[2]
    path = world.hub.data_dir / "spaces" / world.slug / "activities" / f"{page['slug']}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1:1] = [nbformat.v4.new_code_cell('print("Made by " + "the teacher")'),
                     nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, path)  # in place: the file keeps its owner and ACL
    r = session.get(world.view_url(pupil["name"], f"page/{page['id']}"), timeout=120)
    assert r.status_code == 200
    assert "Made by the teacher" in r.text
    assert '"Made by " +' not in r.text and "1 / 0" not in r.text
    assert "ZeroDivisionError" not in r.text and "Traceback" not in r.text
    # The failing cell did not stop the rest: the navigation and the page's apps are there.
    assert r.text.count("application/vnd.jupyter.widget-view+json") >= 2


def test_a_page_the_member_may_not_view_gets_a_polite_refusal(world):
    pupil = world.pupils[0]
    session, _landed = log_in(world, pupil["name"], pupil["password"])
    url = world.view_url(pupil["name"], f"page/{world.teachers_room['id']}")
    r = session.get(url, timeout=60)
    assert r.status_code == 403
    assert "text/html" in r.headers["Content-Type"]
    assert "Sorry, you may not see this page" in r.text
    assert "Traceback" not in r.text and "Planning" not in r.text
    assert f'href="/user/{pupil["name"]}/twinspace/"' in r.text  # back to Home
    # The section's address says the same; an unknown page is "not found".
    r = session.get(world.view_url(pupil["name"], f"space/{world.slug}/teachers_room"),
                    timeout=60)
    assert r.status_code == 403
    r = session.get(world.view_url(pupil["name"], "page/999999"), timeout=60)
    assert r.status_code == 404
    assert "This page does not exist" in r.text


def test_a_section_without_pages_says_so_to_those_who_cannot_add_one(world):
    pupil = world.pupils[0]
    session, _landed = log_in(world, pupil["name"], pupil["password"])
    r = session.get(world.view_url(pupil["name"], f"space/{world.slug}/pupils_corner"),
                    timeout=60)
    assert r.status_code == 200
    assert "There are no pages in this section yet." in r.text


def test_the_refusal_speaks_the_members_language(world):
    pupil = world.pupils[1]
    session, landed = log_in(world, pupil["name"], pupil["password"])
    # The language switch: PATCH me, then the same page again, without the parameter.
    r = session.get(landed.url + "?lang=fr", allow_redirects=False, timeout=60)
    assert r.status_code == 302
    assert r.headers["Location"] == landed.url.removeprefix(world.hub.url.rstrip("/"))
    as_pupil = {"Authorization": f"token {world.hub.token_for(pupil['name'])}"}
    assert world.call("GET", "me", as_pupil)["user"]["locale"] == "fr"
    # A link on another site changes nothing.
    r = session.get(landed.url + "?lang=de", headers={"Sec-Fetch-Site": "cross-site"},
                    allow_redirects=False, timeout=60)
    assert r.status_code == 302
    assert world.call("GET", "me", as_pupil)["user"]["locale"] == "fr"
    r = session.get(world.view_url(pupil["name"], f"page/{world.teachers_room['id']}"),
                    timeout=60)
    assert r.status_code == 403
    assert '<html lang="fr">' in r.text
    assert "Désolé, vous ne pouvez pas voir cette page" in r.text


def test_the_last_used_space_is_where_the_member_lands(world):
    session, landed = log_in(world, world.founder, PASSWORD)
    landed_home = page_id_of(landed.url)
    homes = {slug: world.pages("home", slug)[0]["id"] for slug in (world.slug,
                                                                   world.second_slug)}
    assert landed_home in homes.values()
    other = next(slug for slug, page_id in homes.items() if page_id != landed_home)
    r = session.get(world.view_url(world.founder, f"space/{other}"), timeout=120)
    assert r.status_code == 200, world.hub.log[-4000:]
    assert page_id_of(r.url) == homes[other]
    r = session.get(world.view_url(world.founder), allow_redirects=False, timeout=60)
    assert r.headers["Location"].endswith(f"/twinspace/page/{homes[other]}")


def test_a_member_without_a_space_is_told_so(world):
    session, landed = log_in(world, world.loner, PASSWORD)
    assert landed.url == world.view_url(world.loner)
    assert landed.status_code == 200
    assert "You are not a member of any TwinSpace yet" in landed.text
    assert 'href="/hub/logout"' in landed.text


# --- in the browser ------------------------------------------------------------------------


def browser_log_in(browser, world: World, name: str, password: str):
    """A fresh browser context logged in through the hub's login form; returns its page."""
    return log_in_browser(browser, world.hub, name, password, landed=False)


def live_kernels(page, world: World, name: str) -> list[dict]:
    r = page.request.get(f"{world.hub.url}user/{name}/api/kernels")
    assert r.ok, r.text()
    return r.json()


def test_a_pupil_browses_the_space(world, browser):
    pupil = world.pupils[2]  # not logged in before: their server's only kernels are the view's
    page = browser_log_in(browser, world, pupil["name"], pupil["password"])
    [home] = world.pages("home")
    activities = world.pages("activities")
    # Lands on Home with its apps: the members list and the project journal.
    page.wait_for_selector(".twinspace-members >> text=Cleo Diaz")
    page.wait_for_selector(".twinspace-blog")
    assert page.url == world.view_url(pupil["name"], f"page/{home['id']}")
    # The calendar's weeks without events are one widget each, across the month's columns.
    grid = page.locator(".twinspace-calendar .widget-gridbox").first.bounding_box()
    weekdays = page.locator(".twinspace-calendar .ts-calendar-row").first.bounding_box()
    assert weekdays["width"] > 0.9 * grid["width"], (weekdays, grid)
    nav = page.locator("nav.ts-nav")
    assert nav.get_attribute("aria-label") == "TwinSpace"
    sections = nav.locator(".ts-sections a")
    assert sections.all_inner_texts() == ["Home", "Project Activities", "Pupils' Corner", "Chat"]
    assert nav.locator("a", has_text="Teachers' Room").count() == 0
    assert nav.locator(".ts-me").inner_text() == "Cleo Diaz · Pupil · Lycée A"
    assert nav.locator("a.ts-lab").get_attribute("href") == (
        f"/user/{pupil['name']}/lab/tree/TwinSpace")
    assert nav.locator("a.ts-logout").get_attribute("href") == "/hub/logout"
    assert nav.locator("a[aria-current=page]").all_inner_texts() == ["Home"]
    assert nav.locator(".ts-lang a[aria-current=true]").inner_text() == "English"

    wait_for(lambda: len(live_kernels(page, world, pupil["name"])) == 1, "the view's kernel")
    [kernel] = live_kernels(page, world, pupil["name"])

    # A Project Activities page through the navigation: its own address, its content,
    # shown in place by the view's shell (the same kernel, no new page load).
    page.evaluate("window.__sameDocument = true")
    nav.locator(".ts-sections a", has_text="Project Activities").click()
    page.wait_for_url(world.view_url(pupil["name"], f"page/{activities[0]['id']}"))
    page.wait_for_selector(f"h1:has-text('{activities[0]['title']}')")
    wait_for(lambda: page.title() == f"{activities[0]['title']} – TwinSpace",
             "the tab's title follows")  # tab and history
    page.wait_for_selector("nav.ts-nav .ts-pages")
    assert page.locator("nav.ts-nav .ts-pages a").all_inner_texts() == [
        p["title"] for p in activities]
    assert page.locator("nav.ts-nav a", has_text="Teachers' Room").count() == 0
    assert page.locator("button", has_text="Manage pages").count() == 0
    assert page.locator(".twinspace-members").count() == 0  # Home's apps are gone
    assert page.evaluate("window.__sameDocument") is True
    assert [k["id"] for k in live_kernels(page, world, pupil["name"])] == [kernel["id"]]

    # Another page of the section, then Back and Forward: address, content and current link.
    second = activities[1]
    page.locator("nav.ts-nav .ts-pages a", has_text=second["title"]).click()
    page.wait_for_url(world.view_url(pupil["name"], f"page/{second['id']}"))
    page.wait_for_selector(f"h1:has-text('{second['title']}')")
    page.go_back()
    page.wait_for_url(world.view_url(pupil["name"], f"page/{activities[0]['id']}"))
    page.wait_for_selector(f"h1:has-text('{activities[0]['title']}')")
    wait_for(lambda: page.locator("nav.ts-nav .ts-pages a[aria-current=page]")
             .all_inner_texts() == [activities[0]["title"]], "the current page link")
    page.go_back()
    page.wait_for_url(world.view_url(pupil["name"], f"page/{home['id']}"))
    page.wait_for_selector(".twinspace-members >> text=Cleo Diaz")
    page.go_forward()
    page.wait_for_url(world.view_url(pupil["name"], f"page/{activities[0]['id']}"))
    page.wait_for_selector(f"h1:has-text('{activities[0]['title']}')")
    assert page.evaluate("window.__sameDocument") is True
    assert [k["id"] for k in live_kernels(page, world, pupil["name"])] == [kernel["id"]]
    # A reload of a page reached in place renders it directly, with one kernel again.
    page.reload()
    page.wait_for_selector(f"h1:has-text('{activities[0]['title']}')")
    wait_for(lambda: len(live_kernels(page, world, pupil["name"])) == 1,
             "one kernel left after the reload")

    # A Teachers' Room address typed in: the polite refusal, then Back.
    response = page.goto(world.view_url(pupil["name"], f"page/{world.teachers_room['id']}"))
    assert response.status == 403
    assert "Sorry, you may not see this page" in page.inner_text("#twinspace-message")
    page.go_back()
    page.wait_for_url(world.view_url(pupil["name"], f"page/{activities[0]['id']}"))
    page.wait_for_selector("nav.ts-nav .ts-pages")
    page.context.close()


def test_the_shell_keeps_the_last_click_and_leaves_refusals_to_the_server(world, browser):
    pupil = world.pupils[1]
    page = browser_log_in(browser, world, pupil["name"], pupil["password"])
    page.wait_for_selector(".twinspace-members")
    activities = world.pages("activities")
    # Two clicks in a row: the view ends on the second page, shown once.
    page.evaluate("""ids => {
        const link = id => Object.assign(document.createElement("a"),
            {href: `${location.pathname.replace(/[0-9]+$/, "")}${id}`, textContent: id});
        const [a, b] = ids.map(link);
        document.body.append(a, b);
        a.click(); b.click();
    }""", [activities[0]["id"], activities[1]["id"]])
    page.wait_for_url(world.view_url(pupil["name"], f"page/{activities[1]['id']}"))
    page.wait_for_function("id => document.body.dataset.tsPage === String(id)",
                           arg=activities[1]["id"])
    page.wait_for_selector(f"h1:has-text('{activities[1]['title']}')")
    assert page.locator("h1").all_inner_texts() == [activities[1]["title"]]
    # A page the pupil may not see, reached by a link: the server's polite refusal (in the
    # pupil's language, which another test may have changed).
    refused = world.view_url(pupil["name"], f"page/{world.teachers_room['id']}")
    with page.expect_response(refused) as answer:
        page.evaluate("""url => {
            const a = Object.assign(document.createElement("a"), {href: url, textContent: "x"});
            document.body.append(a);
            a.click();
        }""", refused)
    assert answer.value.status == 403
    page.wait_for_selector("#twinspace-message")
    assert "Planning" not in page.content()
    page.context.close()


def test_a_teacher_sees_manage_pages_on_an_activities_page(world, browser):
    page = browser_log_in(browser, world, world.founder, PASSWORD)
    page.wait_for_selector("nav.ts-nav")
    activities = world.pages("activities")
    page.goto(world.view_url(world.founder, f"page/{activities[1]['id']}"))
    nav = page.locator("nav.ts-nav")
    nav.wait_for()
    assert "Teachers' Room" in nav.locator(".ts-sections").inner_text()
    assert nav.locator(".ts-switch summary").inner_text() == "Switch space"
    # Authors open the page notebook itself in JupyterLab (the shared volume's names).
    assert nav.locator("a.ts-lab").get_attribute("href") == (
        f"/user/{world.founder}/lab/tree/TwinSpace/River%20project/Project%20Activities/"
        + quote(activities[1]["title"] + ".ipynb"))
    button = page.locator("button", has_text="Manage pages")
    button.click()
    page.wait_for_selector("text=Add a page")
    page.wait_for_selector("text=Add application")  # the other tool, folded
    # A section without pages: Manage pages at once, to make the first one.
    page.goto(world.view_url(world.founder, f"space/{world.second_slug}/teachers_room"))
    page.wait_for_selector("text=Add a page")
    current = page.locator("nav.ts-nav .ts-sections a[aria-current=page]")
    assert current.inner_text() == "Teachers' Room"
    assert page.locator("nav.ts-nav a.ts-lab").get_attribute("href") == (
        f"/user/{world.founder}/lab/tree/TwinSpace/Another%20project/Teachers%27%20Room")
    page.context.close()


def test_tools_are_linked_by_role_and_refused_to_strangers(world, browser):
    # Handler level: a tool page of a space the member is not in is refused politely.
    session, _landing = log_in(world, world.loner, PASSWORD)
    r = session.get(world.view_url(world.loner, f"tool/profile/{world.slug}"), timeout=120)
    assert r.status_code == 403 and "Sorry, you may not see this page" in r.text

    # A pupil's bar offers their profile only; the founder's every tool of the space.
    pupil = world.pupils[0]
    page = browser_log_in(browser, world, pupil["name"], pupil["password"])
    tools = page.locator("nav.ts-nav .ts-tools a")
    tools.first.wait_for()
    assert tools.all_inner_texts() == ["My profile"]
    assert tools.first.get_attribute("href") == (
        f"/user/{pupil['name']}/twinspace/tool/profile/{world.slug}")
    page.context.close()

    page = browser_log_in(browser, world, world.founder, PASSWORD)
    page.wait_for_selector("nav.ts-nav .ts-tools a")
    assert page.locator("nav.ts-nav .ts-tools a").all_inner_texts() == [
        "My profile", "Moderation", "Quality report", "Space settings", "New space"]
    # A tool, then a page from its bar: the tool's page hosts the shell too, so the page is
    # shown in place (same document) and the tool's widgets are gone.
    page.locator("nav.ts-nav .ts-tools a", has_text="Quality report").click()
    page.wait_for_url("**/twinspace/tool/report/*")  # of the space the founder landed in
    page.wait_for_selector(".twinspace-app")
    page.evaluate("window.__sameDocument = true")
    page.locator("nav.ts-nav .ts-sections a", has_text="Home").click()
    page.wait_for_selector(".ts-shell-content .twinspace-members")
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("nav.ts-nav .ts-tools a[aria-current=page]").count() == 0
    assert page.locator("nav.ts-nav .ts-sections a[aria-current=page]").all_inner_texts() \
        == ["Home"]
    # An address naming no tool: the bar, no section current, and a polite sentence.
    page.goto(world.view_url(world.founder, f"tool/no-such-tool/{world.slug}"))
    page.wait_for_selector("text=This page does not exist (any more)")
    assert page.locator("nav.ts-nav .ts-sections a[aria-current=page]").count() == 0
    assert page.title() == "River project – TwinSpace"
    page.context.close()


def test_jupyterlab_follows_the_language_switch(world, browser):
    pupil = world.pupils[1]
    page = browser_log_in(browser, world, pupil["name"], pupil["password"])
    page.locator("nav.ts-nav .ts-lang a[lang=fr]").click()
    # At once, without a server restart: the same page again, in French.
    page.wait_for_selector("nav.ts-nav .ts-sections a:has-text('Accueil')")
    assert page.locator(".ts-lang a[aria-current=true]").inner_text() == "Français"
    # JupyterLab follows (its French language pack is in the members' environment).
    page.goto(f"{world.hub.url}user/{pupil['name']}/lab")
    page.wait_for_selector("#jp-menu-panel >> text=Fichier")
    page.goto(world.view_url(pupil["name"]))
    page.locator("nav.ts-nav .ts-lang a[lang=en]").click()
    page.wait_for_selector("nav.ts-nav .ts-sections a:has-text('Home')")
    page.goto(f"{world.hub.url}user/{pupil['name']}/lab")
    page.wait_for_selector("#jp-menu-panel >> text=File")
    page.context.close()


def test_a_space_made_after_the_server_started_opens_at_once(world, browser):
    page = browser_log_in(browser, world, world.founder, PASSWORD)
    page.wait_for_selector("nav.ts-nav")
    # Made while the founder's server runs: its Unix groups do not hold the new space's.
    slug = f"fresh-{world.tag}"
    world.call("POST", "spaces", world.teacher, json={"slug": slug, "title": "Fresh project"})
    [home] = world.pages("home", slug)
    page.goto(world.view_url(world.founder, f"space/{slug}"))
    page.wait_for_url(world.view_url(world.founder, f"page/{home['id']}"))
    page.wait_for_selector("nav.ts-nav .ts-space:has-text('Fresh project')")
    page.wait_for_selector(".twinspace-members >> text=Fiona Founder")
    # Still only what the service allows: a pupil of the first space gets nothing of it.
    pupil = world.pupils[0]
    session, _landed = log_in(world, pupil["name"], pupil["password"])
    r = session.get(world.view_url(pupil["name"], f"page/{home['id']}"), timeout=120)
    assert r.status_code == 403 and "Fresh project" not in r.text
    page.context.close()
