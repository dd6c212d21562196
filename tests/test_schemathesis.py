"""Schemathesis against the real service: no server error, no answer outside the OpenAPI document.

A bounded run of the command in README.md (few examples per operation) on a seeded space,
with a teacher administrator's token, through the real hub and proxy.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# What the run checks: every answer a 4xx or success (never 5xx), with a documented
# status, content type, headers and schema; 405s that name the allowed methods; deleted
# resources gone and created ones there. (positive/negative_data_acceptance judge how
# much of the handlers' semantic validation the document spells out: see README.md.)
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance", "unsupported_method",
    "allow_header_conformance", "use_after_free", "ensure_resource_availability",
])
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def seed(world) -> None:
    """A space with content in every kind of application, so paths meet real rows."""
    ta = world.as_("teacher_admin")
    blog = world.new_app("blog")
    post = ta.ok("POST", f"apps/{blog}/posts", json={"title": "Hello", "body": "First post"})
    ta.ok("POST", f"posts/{post['id']}/comments", json={"body": "A comment"})
    forum = world.new_app("forum")
    thread = ta.ok("POST", f"apps/{forum}/threads", json={"title": "T", "body": "first"})
    ta.ok("POST", f"threads/{thread['id']}/replies", json={"body": "a reply"})
    wiki = world.new_app("wiki")
    ta.ok("POST", f"apps/{wiki}/wiki", json={"title": "Notes", "text": "Our notes"})
    docs = world.new_app("documents")
    ta.ok("POST", f"apps/{docs}/documents", params={"filename": "a.txt"}, data=b"hello")
    ta.ok("POST", f"spaces/{world.slug}/events",
          json={"kind": "meeting", "title": "Meeting", "starts_at": "2026-12-10"})


def test_schemathesis_finds_no_server_error_and_no_schema_violation(world, tmp_path):
    seed(world)
    ta = world.as_("teacher_admin")
    config = tmp_path / "schemathesis.toml"
    # The seeded space's slug in every path that names a space: its pages and apps are
    # what the fuzzer reaches (ids it makes up mostly answer 404).
    config.write_text(f'[parameters]\n"path.slug" = "{world.slug}"\n')
    command = [
        str(SCHEMATHESIS), "--config-file", str(config), "run",
        world.site.api_base + "openapi.json",
        "-H", f"Authorization: token {ta.token}",
        "--checks", CHECKS,
        "--phases", "examples,fuzzing,stateful",
        "--max-examples", "5", "--workers", "1", "--seed", "1",
        "--no-shrink", "--no-color", "--request-timeout", "60",
        "--generation-database", "none",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    # Every operation of the document was tried (not skipped as unreadable).
    selected = re.search(r"Selected: (\d+)/(\d+)", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert selected and tested, run.stdout[-5_000:]
    assert int(tested.group(1)) == int(selected.group(2)) > 100, run.stdout[-5_000:]
