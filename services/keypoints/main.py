"""`signstream keypoints`: one keypoint worker; start as many as the load needs."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from services.keypoints.settings import KeypointsSettings
from services.keypoints.worker import KeypointWorker
from shared.lifecycle import serve
from shared.logs import default_worker_id
from shared.redis_client import connect


def run_worker(settings: KeypointsSettings, stop: threading.Event) -> KeypointWorker:
    worker = KeypointWorker(connect(settings.redis_url), settings,
                            settings.worker_id or default_worker_id("keypoints"), stop)
    worker.run()
    return worker


def main(argv: Sequence[str], prog: str = "signstream keypoints") -> int:
    return serve(KeypointsSettings, argv, prog, "keypoints", run_worker)
