"""Stopping cleanly: the first SIGTERM/SIGINT finishes the message in hand, a second one exits at once."""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger(__name__)


def install_stop_signals(stop: threading.Event) -> None:
    """Make SIGTERM and SIGINT set `stop`; a second signal ends the process immediately."""

    def on_signal(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("second %s: exiting now without finishing", name)
            os._exit(128 + signum)
        log.info("%s received: finishing the message in hand, then exiting (send again to exit now)", name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
