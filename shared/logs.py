"""Log setup: one line per event, with the service and worker id in each line."""

from __future__ import annotations

import logging
import os
import socket
import time


def default_worker_id(service: str) -> str:
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


def setup_logging(level: str, worker: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s {worker} %(name)s: %(message)s",
        force=True,
    )
    # MediaPipe, TensorFlow and absl talk a lot at INFO; their warnings still come through.
    for noisy in ("absl", "tensorflow", "h5py", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Throttled:
    """Logs the first of a kind of event at once, then at most one line per `every_s` with a count.

    A flood of identical failures (thousands of malformed entries, a camera that keeps dropping
    frames) says so in a handful of lines a person can read, instead of one line per event.
    """

    def __init__(self, logger: logging.Logger, every_s: float = 10.0, clock=None):
        self.log = logger
        self.every_s = every_s
        self.clock = clock or time.monotonic
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, level: int, kind: str, msg: str, *args, **kw) -> None:
        """Log `msg` unless an event of the same `kind` was logged within `every_s`; count it then."""
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.every_s:
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        held = self._held.pop(kind, 0)
        if held:
            msg = f"{msg} (and {held} more like it in the last {now - last:.0f} s)"
        if len(self._last) >= 1000 and kind not in self._last:  # kinds come from input: keep them bounded
            self._last.clear()
            self._held.clear()
        self._last[kind] = now
        self.log.log(level, msg, *args, **kw)
