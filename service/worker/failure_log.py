"""Failed SMTP exchanges in the log, without flooding it.

The first failure of a (relay, reply code) is logged at once; the repeats within the window that it
opens are counted and logged as one line when the window is over (or when flushed: the relay came
back, the worker stops). Every line carries structured fields (service.logs): `relay` (host:port),
`smtp_code` (None for a connection that failed before any reply), `smtp_reply` (the reply text, or the
connection error; for a repeat line, the last one), `count` (failures this line stands for) and
`window_seconds`. A 4-minute outage of a relay that refuses connections is one line, then one per window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

Key = tuple[str, int | None]


@dataclass(slots=True)
class _Window:
    opened: float
    repeats: int = 0
    last_reply: str = ""
    level: int = logging.WARNING


class FailureLog:
    def __init__(self, logger: logging.Logger, window_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = logger
        self.window = window_seconds
        self.clock = clock
        self._open: dict[Key, _Window] = {}

    def record(self, relay: str, code: int | None, reply: str, level: int = logging.WARNING) -> None:
        """One failed exchange with `relay`: logged now when it opens a window, else counted."""
        key = (relay, code)
        now = self.clock()
        window = self._open.get(key)
        if window is not None and now - window.opened < self.window:
            window.repeats += 1
            window.last_reply = reply
            window.level = max(window.level, level)
            return
        if window is not None:
            self._emit_repeats(key, window)
        self._open[key] = _Window(now, level=level)
        self.log.log(level, "SMTP failure on relay %s: %s", relay, reply,
                     extra={"relay": relay, "smtp_code": code, "smtp_reply": reply, "count": 1,
                            "window_seconds": self.window})

    def flush(self, relay: str | None = None, *, everything: bool = False) -> None:
        """Log the repeats of windows that are over; with `relay` or `everything`, of those open too."""
        now = self.clock()
        for key in list(self._open):
            window = self._open[key]
            if everything or key[0] == relay or now - window.opened >= self.window:
                del self._open[key]
                self._emit_repeats(key, window)

    def _emit_repeats(self, key: Key, window: _Window) -> None:
        if window.repeats == 0:
            return
        relay, code = key
        seconds = self.clock() - window.opened
        self.log.log(window.level, "SMTP failure on relay %s: %d more in %.0fs; last: %s", relay,
                     window.repeats, seconds, window.last_reply,
                     extra={"relay": relay, "smtp_code": code, "smtp_reply": window.last_reply,
                            "count": window.repeats, "window_seconds": self.window})
