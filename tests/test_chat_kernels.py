"""Two members, two REAL kernels: a chat message sent in one appears in the other by itself.

Kernel A (a teacher) and kernel B (a pupil) each run `Chat(<the space's chat app>)` with
the environment the hub's spawner gives a member's server (TWINSPACE_API_URL and the
member's JUPYTERHUB_API_TOKEN). A sends; B is then only asked to READ its widget's state,
never to fetch: the message can only have come from B's background long-poll thread.
"""

from __future__ import annotations

import json
import os
import time

from jupyter_client import KernelManager

DEADLINE = 10.0


def start_kernel(api_base: str, token: str) -> tuple[KernelManager, object]:
    km = KernelManager(kernel_name="python3")
    env = {**os.environ, "TWINSPACE_API_URL": api_base, "JUPYTERHUB_API_TOKEN": token}
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def run(kc, code: str, timeout: float = 30.0) -> str:
    """Execute `code`; return its stdout; fail on an error in the kernel."""
    out: list[str] = []
    errors: list[str] = []

    def hook(msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content.get("name") == "stdout":
            out.append(content["text"])
        elif kind == "error":
            errors.append("\n".join(content.get("traceback", [])))

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    assert reply["content"]["status"] == "ok" and not errors, "\n".join(errors)
    return "".join(out)


def test_message_sent_in_kernel_a_appears_in_kernel_b(world):
    app_id = world.app_id("chat", "chat")
    api_base = world.site.api_base
    kernels = []
    try:
        km_a, kc_a = start_kernel(api_base, world.as_("teacher").token)
        kernels.append((km_a, kc_a))
        km_b, kc_b = start_kernel(api_base, world.as_("pupil").token)
        kernels.append((km_b, kc_b))
        setup = (
            "from twinspace_kernel.apps.chat import Chat\n"
            f"chat = Chat({app_id})\n"
            "print(chat.live, repr(chat.banner.value))\n"
        )
        for _km, kc in kernels:
            assert run(kc, setup).startswith("True ''")

        text = f"Hello from kernel A at {time.time():.3f}"
        run(kc_a, f"chat.input.value = {text!r}\nchat.send_button.click()\n"
                  "print(repr(chat.banner.value))\n")

        # Kernel B: read only. Nothing here fetches; the background thread must deliver.
        read_only = "import json; print(json.dumps([m['text'] for m in chat.shown_messages()]))"
        deadline = time.monotonic() + DEADLINE
        seen: list[str] = []
        while time.monotonic() < deadline:
            seen = json.loads(run(kc_b, read_only).strip())
            if text in seen:
                break
            time.sleep(0.1)
        assert text in seen, f"not delivered to kernel B within {DEADLINE}s: {seen}"
        assert text in run(kc_b, "print(chat.messages_view.value)")
        # The message really went through the service.
        room = json.loads(run(kc_a, "print(chat.room_id)"))
        bodies = [m["body"] for m in world.as_("visitor").ok("GET", f"rooms/{room}/messages")
                  ["items"]]
        assert bodies == [text]
        run(kc_b, "chat.close()\nprint(chat.live)")
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
