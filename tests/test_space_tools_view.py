"""New space and Space settings (F1, F2, F30, F34) in the member view, driven in Chromium.

ONE isolated hub for the module: a teacher creates spaces from the New space tool (starter
pages, then a copy of a space as a template) and follows the link to the new Home; as
teacher administrator they archive, reopen, publish and unpublish a space from Space
settings, in English and in French; a pupil opening either tool is refused politely.
"""

from __future__ import annotations

import pytest
from browser import log_in, wait_for
from hubproc import HubWorld, TwinSpaceHub, isolated_hub

PASSWORD = HubWorld.PASSWORD

pytestmark = [pytest.mark.hub, pytest.mark.timeout(900)]


class World(HubWorld):
    """A teacher who founded one space (with starter pages) and a pupil of it."""

    def __init__(self, hub: TwinSpaceHub):
        super().__init__(hub)
        self.slug = f"river-{self.tag}"
        self.founder = f"fiona{self.tag}"
        self.teacher = self.add_teacher(self.founder, "Fiona Founder")
        self.call("POST", "spaces", self.teacher,
                  json={"slug": self.slug, "title": "River project", "starter": True})
        [self.pupil] = self.call("POST", f"spaces/{self.slug}/pupils", self.teacher,
                                 json={"names": ["Ana Lopez"]})["items"]

    def call(self, method: str, path: str, headers: dict | None = None, **kwargs) -> dict:
        """As the founder unless other headers are given."""
        return super().call(method, path, headers or self.teacher, **kwargs)

    def pages(self, slug: str, section: str) -> list[dict]:
        return self.call("GET", f"spaces/{slug}/pages", params={"section": section})["items"]

    def tool_url(self, name: str, tool: str, slug: str | None = None) -> str:
        return self.view_url(name, f"tool/{tool}/{slug or self.slug}")


@pytest.fixture(scope="module")
def world():
    with isolated_hub("twinspace-spacetools-", missing=pytest.skip) as hub:
        yield World(hub)


def fill_new_space(page, title: str, slug: str) -> None:
    """Type a title, see the address suggested from it, then type the wanted address."""
    page.locator(".ts-new-title input").fill(title)
    address = page.locator(".ts-new-slug input")
    wait_for(lambda: address.input_value() != "", "the address suggested from the title")
    address.fill(slug)


def test_a_teacher_creates_spaces_and_opens_the_new_home(world, browser):
    page = log_in(browser, world.hub, world.founder, PASSWORD)
    # From the navigation bar's tools.
    page.locator("nav.ts-nav .ts-tools a", has_text="New space").click()
    page.wait_for_url(world.tool_url(world.founder, "new-space"))
    page.wait_for_selector(".twinspace-new-space h3:has-text('New space')")
    # An archive: the browser's limit is said, and what to do for bigger ones.
    page.locator(".ts-new-start label", has_text="An archive").click()
    page.locator(".ts-new-archive").wait_for()
    hint = page.locator(".twinspace-new-space").inner_text()
    assert "10 MB" in hint and "twinspace space import" in hint

    # The address is suggested from the title; a bad one is explained, nothing is lost.
    page.locator(".ts-new-title input").fill("Océans partagés")
    address = page.locator(".ts-new-slug input")
    wait_for(lambda: address.input_value() == "oceans-partages", "the suggested address")
    address.fill("Bad Address")
    page.wait_for_selector("text=may use only lowercase letters")
    page.locator(".ts-new-create").click()
    page.wait_for_selector(".twinspace-new-space [role=status]:has-text('lowercase')")
    assert page.locator(".ts-new-title input").input_value() == "Océans partagés"

    slug = f"oceans-{world.tag}"
    address.fill(slug)
    page.locator(".ts-new-description textarea").fill("Sea life, two schools")
    page.locator(".ts-new-start label", has_text="Starter pages").click()
    page.locator(".ts-new-create").click()
    link = page.locator("a.twinspace-new-space-link")
    link.wait_for()
    assert link.get_attribute("href") == f"/user/{world.founder}/twinspace/space/{slug}"
    assert len(world.pages(slug, "activities")) == 5  # the starter pages
    created = world.call("GET", f"spaces/{slug}")
    assert (created["title"], created["description"], created["role"]) == (
        "Océans partagés", "Sea life, two schools", "teacher_admin")
    [home] = world.pages(slug, "home")
    # Opened at once, though the server started before the space (and its Unix group).
    link.click()
    page.wait_for_url(f"{world.hub.url}user/{world.founder}/twinspace/page/{home['id']}")
    page.wait_for_selector("nav.ts-nav .ts-space:has-text('Océans partagés')")
    page.wait_for_selector(".twinspace-members >> text=Fiona Founder")

    # A copy of the River project as a template: its pages, not its members or posts.
    page.goto(world.tool_url(world.founder, "new-space", slug))
    page.locator(".ts-new-start label", has_text="A copy of one of my spaces").click()
    template = page.locator(".ts-new-template select")
    template.wait_for()
    template.select_option(label="River project")
    copy = f"river-copy-{world.tag}"
    fill_new_space(page, "River project, year 2", copy)
    page.locator(".ts-new-create").click()
    page.locator(f"a.twinspace-new-space-link[href$='/twinspace/space/{copy}']").wait_for()
    assert [p["title"] for p in world.pages(copy, "activities")] == [
        p["title"] for p in world.pages(world.slug, "activities")]
    members = world.call("GET", f"spaces/{copy}/members")["items"]
    assert [m["name"] for m in members] == [world.founder]
    page.context.close()


def choose_state(page, label: str) -> None:
    page.locator(".ts-settings-state label", has_text=label).click()
    page.locator(".ts-settings-state-button").click()


def test_the_administrator_changes_state_and_publicity_in_both_languages(world, browser):
    page = log_in(browser, world.hub, world.founder, PASSWORD)
    page.goto(world.tool_url(world.founder, "settings"))
    settings = page.locator(".twinspace-settings")
    page.wait_for_selector(".twinspace-settings h3:has-text('Space settings: River project')")
    assert "This space is open." in settings.inner_text()

    # Archive: first the confirmation, saying what it means for members.
    choose_state(page, "Archived (read-only)")
    confirm = page.locator(".ts-settings-confirm-text")
    confirm.wait_for()
    assert "Archive this space?" in confirm.inner_text()
    assert "read-only for everyone" in confirm.inner_text()
    assert world.call("GET", f"spaces/{world.slug}")["state"] == "open"
    page.locator(".ts-settings-confirm").click()
    page.wait_for_selector(".twinspace-settings [role=status]:has-text('now archived')")
    assert world.call("GET", f"spaces/{world.slug}")["state"] == "archived"
    assert "Reopen the space to make it public or private." in settings.inner_text()

    choose_state(page, "Open (in use)")
    page.wait_for_selector(".ts-settings-confirm-text:has-text('Reopen this space?')")
    page.locator(".ts-settings-confirm").click()
    page.wait_for_selector(".twinspace-settings [role=status]:has-text('open again')")
    assert world.call("GET", f"spaces/{world.slug}")["state"] == "open"

    page.locator("button", has_text="Make this space public").click()
    page.wait_for_selector(".twinspace-settings [role=status]:has-text('now public')")
    assert world.call("GET", f"spaces/{world.slug}")["public"] is True
    page.locator("button", has_text="Make this space private").click()
    page.wait_for_selector(".twinspace-settings [role=status]:has-text('now private')")
    assert world.call("GET", f"spaces/{world.slug}")["public"] is False

    # In French: the page's own language switch, then every label is French.
    page.goto(world.tool_url(world.founder, "settings") + "?lang=fr")
    page.wait_for_selector(".twinspace-settings h3:has-text(\"Paramètres de l'espace\")")
    text = page.locator(".twinspace-settings").inner_text()
    for french in ("Cet espace est ouvert.", "Archivé (lecture seule)", "Changer l'état…",
                   "Rendre cet espace public", "Enregistrer le titre et la description"):
        assert french in text, french
    choose_state(page, "Fermé (enseignants administrateurs seulement)")
    page.wait_for_selector(".ts-settings-confirm-text:has-text('Fermer cet espace ?')")
    assert "Seuls les enseignants administrateurs voient l'espace" in (
        page.locator(".ts-settings-confirm-text").inner_text())
    page.locator("button", has_text="Annuler").click()
    assert world.call("GET", f"spaces/{world.slug}")["state"] == "open"
    page.goto(world.tool_url(world.founder, "new-space"))
    page.wait_for_selector(".twinspace-new-space button:has-text(\"Créer l'espace\")")
    assert "Adresse web" in page.locator(".twinspace-new-space").inner_text()
    page.context.close()


def test_a_pupil_opening_the_tools_is_refused_politely(world, browser):
    pupil = world.pupil
    page = log_in(browser, world.hub, pupil["name"], pupil["password"])
    tools = page.locator("nav.ts-nav .ts-tools")
    assert tools.locator("a", has_text="Space settings").count() == 0
    assert tools.locator("a", has_text="New space").count() == 0
    page.goto(world.tool_url(pupil["name"], "new-space"))
    page.wait_for_selector("text=Sorry, only teachers can create a space.")
    assert page.locator(".ts-new-create").count() == 0
    page.goto(world.tool_url(pupil["name"], "settings"))
    page.wait_for_selector("text=Only the teacher administrators of this space can change "
                           "its settings.")
    assert page.locator(".ts-settings-state").count() == 0
    # What it means is said; the button is not offered.
    page.wait_for_selector("text=This space is private: only its members see it.")
    assert not page.locator("button", has_text="Make this space public").is_visible()
    assert "Traceback" not in page.content()
    page.context.close()
