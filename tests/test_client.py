"""The kernel-side client against the real service: typed errors, retries, uploads."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from hubharness import free_port

from twinspace_kernel import client as tc


@pytest.fixture
def member_client(world):
    """A client holding the pupil's hub token, as a kernel in their server would."""
    pupil = world.as_("pupil")
    return tc.TwinSpaceClient(world.site.api_base, pupil.token)


def test_identity_and_role_through_the_hub(world, member_client):
    me = member_client.get("me")
    assert me["name"] == world.as_("pupil").name
    assert {"slug": world.slug, "role": "pupil"}.items() <= me["spaces"][0].items()


def test_refusal_is_a_typed_error_with_the_message(world, member_client):
    with pytest.raises(tc.Forbidden) as err:
        member_client.post(
            f"spaces/{world.slug}/pages", {"section": "activities", "title": "Mine"}
        )
    assert err.value.status == 403
    assert err.value.message == (
        "A pupil may not manage pages or applications in the activities section."
    )


def test_missing_and_bad_input_errors(world, member_client):
    with pytest.raises(tc.NotFound, match="No such space"):
        member_client.get("spaces/no-such-space")
    with pytest.raises(tc.BadRequest, match="'section' must be one of"):
        member_client.get(f"spaces/{world.slug}/pages", section="kitchen")


def test_upload_too_large_is_typed(world):
    ta = tc.TwinSpaceClient(world.site.api_base, world.as_("teacher_admin").token)
    app = world.new_app("documents")
    with pytest.raises(tc.TooLarge, match="the limit is 2 MB"):
        ta.upload(f"apps/{app}/documents", b"x" * (2 * 1024 * 1024 + 10), "big.txt")


def test_invalid_token_reads_as_unauthorized(world):
    stranger = tc.TwinSpaceClient(world.site.api_base, "not-a-real-token-123")
    with pytest.raises(tc.Unauthorized, match="log in"):
        stranger.get("me")


def test_no_service_configured(monkeypatch):
    monkeypatch.delenv("TWINSPACE_API_URL", raising=False)
    with pytest.raises(tc.ServiceUnavailable, match="TWINSPACE_API_URL"):
        tc.TwinSpaceClient()


def test_dead_service_gives_up_with_a_clear_error():
    client = tc.TwinSpaceClient(f"http://127.0.0.1:{free_port()}/", "t" * 20, retry_seconds=0.5)
    with pytest.raises(tc.ServiceUnavailable, match="not answering"):
        client.get("health")


def test_idempotent_call_waits_for_a_restarting_service(tmp_path):
    """The service starts (a real process) while the client is already retrying."""
    port = free_port()
    client = tc.TwinSpaceClient(
        f"http://127.0.0.1:{port}/services/twinspace/api/v1/", "", retry_seconds=30
    )
    command = [
        sys.executable, "-m", "twinspace_kernel.service",
        "--port", str(port), "--data-dir", str(tmp_path / "data"),
    ]
    procs = []
    starter = threading.Timer(0.5, lambda: procs.append(subprocess.Popen(command)))
    starter.start()
    try:
        started = time.monotonic()
        assert client.get("health") == {"status": "ok"}
        assert time.monotonic() - started >= 0.5
    finally:
        starter.join()
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def test_writes_are_not_retried():
    client = tc.TwinSpaceClient(f"http://127.0.0.1:{free_port()}/", "t" * 20, retry_seconds=30)
    started = time.monotonic()
    with pytest.raises(tc.ServiceUnavailable):
        client.post("spaces", {"slug": "x"})
    assert time.monotonic() - started < 5
