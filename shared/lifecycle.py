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


def serve(settings_cls, argv, prog: str, service: str, run) -> int:
    """The entry point of a long-running service: settings, logging, signals, then `run(settings, stop)`."""
    from shared.errors import EXIT_OK
    from shared.logs import default_worker_id, setup_logging
    from shared.settings import load_settings

    settings = load_settings(settings_cls, argv, prog)
    setup_logging(settings.log_level, getattr(settings, "worker_id", None) or default_worker_id(service))
    stop = threading.Event()
    install_stop_signals(stop)
    run(settings, stop)
    return EXIT_OK
