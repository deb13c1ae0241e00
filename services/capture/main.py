"""`signstream capture --source SRC`: publish one camera's frames to frames:<camera>."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from services.capture.publisher import CaptureSummary, Publisher
from services.capture.settings import CaptureSettings
from services.capture.sources import classify_source, open_source
from shared.errors import EXIT_OK
from shared.lifecycle import install_stop_signals
from shared.logs import setup_logging
from shared.redis_client import connect
from shared.settings import load_settings

log = logging.getLogger("signstream.capture")


def run_capture(settings: CaptureSettings, stop: threading.Event) -> CaptureSummary:
    if not classify_source(settings.source).live:
        open_source(settings.source, settings.fps).close()  # a bad file or folder is a config error, now
    publisher = Publisher(connect(settings.redis_url), settings, stop)
    log.info("capturing %s as camera %s at %g fps", settings.source, settings.camera, settings.fps)
    return publisher.run()


def main(argv: Sequence[str], prog: str = "signstream capture") -> int:
    settings = load_settings(CaptureSettings, argv, prog)
    setup_logging(settings.log_level, f"capture-{settings.camera}")
    stop = threading.Event()
    install_stop_signals(stop)
    summary = run_capture(settings, stop)
    log.info("stopped ◆ %s", summary.line(settings.camera))
    return EXIT_OK
