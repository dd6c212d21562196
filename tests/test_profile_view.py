"""Profiles in the member view (F10, F11) and personal data (F35), end to end.

ONE real hub from our jupyterhub_config.py for the module (as root each member's server
runs as their own system user). A pupil follows a teacher's name to their profile and
writes on the wall, edits their own profile, downloads their data and switches to
French; a teacher erases a pupil they manage and a pupil erases their own account: the
hub user, their server and their home directory go too.
"""

from __future__ import annotations

import json
import pwd
from pathlib import Path

import pytest
import requests
from browser import log_in, wait_for
from hubproc import ROOT, HubWorld, TwinSpaceHub, isolated_hub, log_in_until_served
from twinspace_hub.spawner import system_username

from twinspace_kernel.apps.base import profile_link
from twinspace_kernel.apps.manage_pages import AddApplication
from twinspace_kernel.client import TwinSpaceClient

PASSWORD = HubWorld.PASSWORD
# Names no other module uses: usernames come from names and system users (ts-<username>)
# are machine-wide, so erasing these must not meet another hub's pupils of the same name.
PUPILS = ["Ana Erasmo", "Ben Erasmo", "Cleo Erasmo"]

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]


class World(HubWorld):
    """The module's hub with one space: a founder (teacher administrator) and her pupils."""

    def __init__(self, hub: TwinSpaceHub):
        super().__init__(hub)
        self.slug = f"prof-{self.tag}"
        self.founder = f"fiona{self.tag}"
        self.teacher = self.add_teacher(self.founder, "Fiona Founder")
        self.call("POST", "spaces", self.teacher,
                  json={"slug": self.slug, "title": "River project", "starter": True})
        self.pupils = self.call("POST", f"spaces/{self.slug}/pupils", self.teacher,
                                json={"names": PUPILS})["items"]

    def hub_user_status(self, name: str) -> int:
        return self.hub._session.get(f"{self.hub.api_url}users/{name}", timeout=30).status_code

    def home_of(self, name: str) -> Path:
        """Where the member's server keeps their files (their home)."""
        if ROOT:
            return Path("/home") / system_username(name)
        return self.hub.data_dir / "dev-homes" / name


@pytest.fixture(scope="module")
def world():
    with isolated_hub("twinspace-profile-", missing=pytest.skip) as hub:
        yield World(hub)


def log_in_over_http(world: World, name: str, password: str) -> requests.Session:
    """Log in as a browser would and wait until the member's server runs."""
    session, landed = log_in_until_served(world.hub, name, password)
    assert "/twinspace/" in landed.url, landed.url
    return session


def system_user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(system_username(name))
    except KeyError:
        return False
    return True


# --- without a browser ---------------------------------------------------------------------


def test_names_link_to_profiles_only_in_a_members_server(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ana.l/")
    assert profile_link("river", "fiona", "Fiona <F>") == (
        '<a class="twinspace-profile-link" '
        'href="/user/ana.l/twinspace/tool/profile/river?member=fiona" target="_top">'
        "Fiona &lt;F&gt;</a>")
    # An erased author, or the public view's kernels: the name as plain text.
    assert profile_link("river", None, "Former member") == "Former member"
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/public/")
    assert profile_link("river", "fiona", "Fiona") == "Fiona"


def test_add_application_offers_profiles_on_home_and_activities(world):
    client = TwinSpaceClient(world.hub.api_base, world.hub.token_for(world.founder))

    def offered(section: str) -> list[str]:
        page = world.call("GET", f"spaces/{world.slug}/pages", world.teacher,
                          params={"section": section})["items"][0]
        return [kind for _label, kind in AddApplication(page["id"], client=client)
                .kind_choice.options]

    assert offered("home")[-1] == "profile"
    assert "profile" in offered("activities")
    world.call("POST", f"spaces/{world.slug}/pages", world.teacher,
               json={"section": "teachers_room", "title": "Planning"})
    assert offered("teachers_room") == [
        "blog", "forum", "wiki", "documents", "gallery", "web_content"]


# --- in the browser ------------------------------------------------------------------------


def test_a_pupil_visits_a_teachers_profile_edits_hers_and_downloads_her_data(world, browser):
    ana = world.pupils[0]
    page = log_in(browser, world.hub, ana["name"], ana["password"])
    ana_headers = world.headers(ana["name"])

    # Home's members list: the teacher's name opens her profile, with its wall.
    link = page.locator(".twinspace-members a.twinspace-profile-link", has_text="Fiona Founder")
    link.click()
    page.wait_for_url(world.view_url(
        ana["name"], f"tool/profile/{world.slug}?member={world.founder}"))
    page.wait_for_selector(".twinspace-profile h4:has-text('Fiona Founder')")
    page.wait_for_selector("text=Nothing on this wall yet.")
    # Someone else's profile: "My profile" is not the current tool, and the language links
    # keep whose profile this is.
    my_profile = page.locator("nav.ts-nav .ts-tools a", has_text="My profile")
    assert my_profile.get_attribute("aria-current") is None
    english = page.locator("nav.ts-nav .ts-lang a[lang=en]").get_attribute("href")
    assert f"member={world.founder}" in english and "lang=en" in english
    page.fill("textarea[placeholder='Write on the wall…']", "Hello from Ana!")
    page.click("button:has-text('Post on the wall')")
    page.wait_for_selector("text=Posted on the wall.")
    page.wait_for_selector(".twinspace-profile >> text=Hello from Ana!")
    wall = world.call("GET", f"spaces/{world.slug}/members/{world.founder}/wall",
                      world.teacher)["items"]
    assert [(post["author"]["name"], post["body"]) for post in wall] == [
        (ana["name"], "Hello from Ana!")]

    # Her own profile from the bar: school, about, saved.
    page.locator("nav.ts-nav .ts-tools a", has_text="My profile").click()
    page.wait_for_url(world.view_url(ana["name"], f"tool/profile/{world.slug}"))
    assert my_profile.get_attribute("aria-current") == "page"
    school = page.locator(".twinspace-field-school input")
    school.wait_for()
    assert school.input_value() == "Lycée A"
    school.fill("Gimnazjum nr 3")
    page.fill(".twinspace-field-about textarea", "I like rivers.")
    page.click("button:has-text('Save my profile')")
    page.wait_for_selector("text=Your profile was saved.")
    me = world.call("GET", "me/profile", ana_headers)
    assert (me["school"], me["about"]) == ("Gimnazjum nr 3", "I like rivers.")

    # My data: a progress bar, then a link to the file in her home.
    page.click("button:has-text('Download my data')")
    download_link = page.locator("a.twinspace-download")
    download_link.wait_for()
    with page.expect_download() as info:
        download_link.click()
    data = json.loads(Path(info.value.path()).read_text())
    assert data["account"]["name"] == ana["name"]
    assert [post["body"] for post in data["wall_posts_written"]] == ["Hello from Ana!"]
    assert data["profile"]["about"] == "I like rivers."
    saved = list((world.home_of(ana["name"]) / "TwinSpace downloads").glob("*.json"))
    assert [json.loads(f.read_text())["account"]["name"] for f in saved] == [ana["name"]]

    # French: chosen on the profile, the next page speaks it.
    page.select_option(".twinspace-field-language select", label="Français")
    page.click("button:has-text('Save my profile')")
    page.click("a:has-text('Show this page in Français')")
    page.wait_for_selector("button:has-text('Enregistrer mon profil')")
    for label in ("Mes données", "Télécharger mes données", "Effacer mon compte", "École"):
        page.wait_for_selector(f".twinspace-profile >> text={label}")
    assert world.call("GET", "me", ana_headers)["user"]["locale"] == "fr"
    page.context.close()


def test_a_teacher_erases_a_pupil_she_manages_and_a_pupil_erases_herself(world, browser):
    ben, cleo = world.pupils[1], world.pupils[2]
    for pupil in (ben, cleo):  # their servers run, their homes exist
        log_in_over_http(world, pupil["name"], pupil["password"])
        assert world.home_of(pupil["name"]).is_dir()
        assert world.hub_user_status(pupil["name"]) == 200

    # The teacher, on Ben's profile: his data, then erasing him (his username to confirm).
    page = log_in(browser, world.hub, world.founder, PASSWORD)
    page.goto(world.view_url(world.founder, f"tool/profile/{world.slug}?member={ben['name']}"))
    page.locator(".twinspace-personal-data", has_text="Personal data of").wait_for()
    page.click("button:has-text('Erase this pupil')")
    page.wait_for_selector(f"text=To erase the account, type the username {ben['name']}")
    page.get_by_placeholder(f"Type their username ({ben['name']}) to confirm").fill(ben["name"])
    page.click("button:has-text('Erase this pupil')")
    page.wait_for_selector(f"text={ben['name']}'s account and personal data were erased.")
    # Gone everywhere: the store, the hub (server stopped), the system user and home.
    members = world.call("GET", f"spaces/{world.slug}/members", world.teacher)["items"]
    assert ben["name"] not in [m["name"] for m in members]
    assert world.hub_user_status(ben["name"]) == 404
    assert not world.home_of(ben["name"]).exists()
    if ROOT:
        assert not system_user_exists(ben["name"])
    page.context.close()

    # Cleo erases her own account from her profile, then is pointed to Log out.
    page = log_in(browser, world.hub, cleo["name"], cleo["password"])
    page.goto(world.view_url(cleo["name"], f"tool/profile/{world.slug}"))
    page.get_by_placeholder(f"Type your username ({cleo['name']}) to confirm").fill(cleo["name"])
    page.click("button:has-text('Erase my account')")
    page.wait_for_selector("text=Your account and personal data were erased.")
    logout = page.locator(".twinspace-profile a", has_text="Log out")
    assert logout.get_attribute("href") == "/hub/logout"
    wait_for(lambda: world.hub_user_status(cleo["name"]) == 404, "Cleo's hub user removed")
    wait_for(lambda: not world.home_of(cleo["name"]).exists(), "Cleo's home removed")
    if ROOT:
        assert not system_user_exists(cleo["name"])
    page.context.close()
