"""The web content app driven through its widgets against the real service."""

from __future__ import annotations

from twinspace_kernel.apps import show
from twinspace_kernel.apps.web_content import WebContent
from twinspace_kernel.client import TwinSpaceClient


def test_administrator_edits_and_sanitized_html_is_shown(world):
    app_id = world.new_app("web_content")
    app = WebContent(app_id, client=world.client("teacher_admin"))
    assert app.edit_box in app.body.children
    app.editor.value = '<h2>Our towns</h2><script>alert(1)</script><p onclick="x()">Hi</p>'
    app.save_button.click()
    assert app.view.value == "<h2>Our towns</h2><p>Hi</p>"
    assert "Saved" in app.banner.value
    # Another member sees the same, without an editor.
    pupil_view = show(app_id, client=world.client("pupil"))
    assert isinstance(pupil_view, WebContent)
    assert pupil_view.view.value == "<h2>Our towns</h2><p>Hi</p>"
    assert pupil_view.edit_box not in pupil_view.body.children


def test_refused_save_is_a_polite_message(world):
    app_id = world.new_app("web_content")
    app = WebContent(app_id, client=world.client("pupil"))
    # A pupil can still reach the editor's widgets from their kernel: the service decides.
    app.editor.value = "<p>vandalism</p>"
    app.save_button.click()
    assert "may not manage pages or applications" in app.banner.value
    assert WebContent(app_id, client=world.client("teacher")).editor.value == ""


def test_outsider_sees_why_not(world):
    app = WebContent(world.new_app("web_content"), client=world.client("outsider"))
    assert "not a member of this space" in app.banner.value
    assert app.body.children == ()


def test_dead_service_shows_a_banner_with_retry(world):
    from hubharness import free_port

    dead = TwinSpaceClient(f"http://127.0.0.1:{free_port()}/", "t" * 20, retry_seconds=0.2)
    app = WebContent(5, client=dead)
    assert "not answering" in app.banner.value
    assert app.retry_button.layout.display == ""
    # Retry once the service is back: point the client at the live service.
    app.client = world.client("teacher_admin")
    app.app_id = world.new_app("web_content")
    app.retry_button.click()
    assert app.retry_button.layout.display == "none"
    assert app.edit_box in app.body.children
