"""The live part of the chat and the activity feed: a daemon thread that long-polls the service.

One `LiveLoop` follows one path (`rooms/{id}/messages`, `spaces/{slug}/activity`) with
`?after=<last id>&wait=<s>` and hands every answer to a callback, which sets widget values
(ipykernel 7.1+ sends widget updates made from other threads). The loop has its own HTTP
session, never dies on an error (it reports it, backs off and retries) and stops on `stop()`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..client import ServiceUnavailable, TwinSpaceClient, TwinSpaceError
from ..i18n import _
from .base import refusal_text

log = logging.getLogger("twinspace.apps.live")

DataCallback = Callable[["LiveLoop", dict], None]
ErrorCallback = Callable[["LiveLoop", BaseException, float], None]
RecoverCallback = Callable[["LiveLoop"], None]


class LiveLoop:
    """Long-poll `path` after `after` in a daemon thread; call `on_data` with each answer.

    on_data(loop, answer): a new answer (its `last_id` already taken as the next `after`).
    on_error(loop, error, delay): the call failed; the loop retries after `delay` seconds
    (doubling up to `max_backoff`). on_recover(loop): the first answer after errors.
    Callbacks run in the loop's thread; an exception in one is logged, never fatal.
    """

    def __init__(
        self,
        client: TwinSpaceClient,
        path: str,
        *,
        after: int,
        on_data: DataCallback,
        on_error: ErrorCallback | None = None,
        on_recover: RecoverCallback | None = None,
        wait: float = 25.0,
        first_backoff: float = 1.0,
        max_backoff: float = 30.0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.url = client.url
        self.token = client.token
        self.path = path
        self.after = after
        self.on_data = on_data
        self.on_error = on_error
        self.on_recover = on_recover
        self.wait = wait
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.params = params or {}
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"twinspace-live {path}", daemon=True
        )

    def start(self) -> LiveLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the loop to end; it does after the call in flight (it is a daemon anyway)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        # Its own session: the widget's client may be busy in the kernel's main thread.
        client = TwinSpaceClient(self.url, self.token, timeout=10.0, retry_seconds=0)
        delay = self.first_backoff
        try:
            while not self._stop.is_set():
                try:
                    answer = client.wait(self.path, after=self.after, wait=self.wait,
                                         **self.params)
                except Exception as error:  # the loop must survive anything
                    if self._stop.is_set():
                        break
                    self.failures += 1
                    log.warning("live %s failed (%s); retrying in %.0f s", self.path,
                                getattr(error, "message", error), delay)
                    self._call(self.on_error, error, delay)
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.max_backoff)
                    continue
                if self._stop.is_set():
                    break
                if self.failures:
                    self.failures = 0
                    delay = self.first_backoff
                    self._call(self.on_recover)
                answer = answer or {}
                self.after = max(self.after or 0, answer.get("last_id") or 0)
                self._call(self.on_data, answer)
        finally:
            client.session.close()

    def _call(self, callback: Callable | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(self, *args)
        except Exception:  # a widget bug must not kill live updates
            log.exception("live %s: callback failed", self.path)


class BrowserHeartbeat:
    """Whether a browser still shows the page: a hidden `Play` widget ticks in the browser.

    The Play's model steps its value every `tick_ms` in the browser while the page is open,
    and the kernel observes the value: ticks stop when the page closes (or the browser
    sleeps), whatever the kernel does. Every `period` seconds a daemon thread calls
    `on_beat()` if the browser ticked since the last time. Until the first tick (for at
    most `start_within` seconds) it also (re)starts the Play, because a Play starts ticking
    only when `playing` changes while its view is on the page; never after, so a kernel
    whose page closed sends nothing and is culled as idle. `widget` must be displayed
    (hidden is fine); `stop()` ends the thread.
    """

    def __init__(self, on_beat: Callable[[], None], *, period: float = 2.5,
                 tick_ms: int = 1000, start_within: float = 300.0) -> None:
        self.on_beat = on_beat
        self.period = period
        self.start_within = start_within
        self.ticks = 0
        self.widget = widgets.Play(
            value=0, min=0, max=2**30, step=1, interval=tick_ms, repeat=True,
            show_repeat=False, layout=widgets.Layout(display="none"),
        )
        self.widget.observe(self._tick, "value")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twinspace-heartbeat",
                                        daemon=True)

    def start(self) -> BrowserHeartbeat:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _tick(self, _change: dict) -> None:
        self.ticks += 1  # in the kernel's main thread: keep it this cheap

    def _run(self) -> None:
        seen = self.ticks
        started = time.monotonic()
        while not self._stop.wait(self.period):
            if self.ticks != seen:
                seen = self.ticks
                try:
                    self.on_beat()
                except Exception:  # a failed heartbeat must not stop the next ones
                    log.exception("heartbeat failed")
            elif seen == 0 and time.monotonic() - started < self.start_within:
                self._kick()

    def _kick(self) -> None:
        # The browser sees playing go false then true: its view starts the timer.
        self.widget.playing = False
        self.widget.playing = True


def short_time(value: str | None) -> str:
    """A service time (ISO 8601) in local time: "14:05" today, else with the date."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone()
    if moment.date() == dt.datetime.now().astimezone().date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


class LiveBanner:
    """For apps with a LiveLoop in `self._loop`: say when live updates pause and resume."""

    _live_banner = ""

    def _on_live_error(self, loop: LiveLoop, error: BaseException, delay: float) -> None:
        if loop is not self._loop:
            return
        if isinstance(error, ServiceUnavailable):
            why = _("TwinSpace is not answering right now.")
        elif isinstance(error, TwinSpaceError):
            why = refusal_text(error)
        else:
            why = _("The connection to TwinSpace was interrupted.")
        self.notice(
            _("Live updates paused: {why} Trying again in {n} s.").format(
                why=why, n=round(delay)),
            "error",
        )
        self._live_banner = self.banner.value

    def _on_live_recover(self, loop: LiveLoop) -> None:
        if loop is self._loop and self.banner.value == self._live_banner:
            self.clear_notice()
