"""`signstream keypoints`: one keypoint worker; start as many as the load needs."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from services.keypoints.settings import KeypointsSettings
from services.keypoints.worker import KeypointWorker
from shared.errors import EXIT_OK
from shared.lifecycle import install_stop_signals
from shared.logs import default_worker_id, setup_logging
from shared.redis_client import connect
from shared.settings import load_settings


def run_worker(settings: KeypointsSettings, stop: threading.Event) -> KeypointWorker:
    worker = KeypointWorker(connect(settings.redis_url), settings,
                            settings.worker_id or default_worker_id("keypoints"), stop)
    worker.run()
    return worker


def main(argv: Sequence[str], prog: str = "signstream keypoints") -> int:
    settings = load_settings(KeypointsSettings, argv, prog)
    setup_logging(settings.log_level, settings.worker_id or default_worker_id("keypoints"))
    stop = threading.Event()
    install_stop_signals(stop)
    run_worker(settings, stop)
    return EXIT_OK
