"""`signstream classifier`: serve the current model on every camera's keypoints."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from services.classifier.model_watch import ModelWatch
from services.classifier.settings import ClassifierSettings
from services.classifier.shipped import SHIPPED_MODEL
from services.classifier.worker import ClassifierWorker
from shared.lifecycle import serve
from shared.logs import default_worker_id
from shared.redis_client import connect, with_redis

log = logging.getLogger("signstream.classifier")


def run_classifier(settings: ClassifierSettings, stop: threading.Event) -> ClassifierWorker:
    worker_id = settings.worker_id or default_worker_id("classifier")
    client = connect(settings.redis_url)
    watch = ModelWatch(client, settings.keys, worker_id, stop, settings.stream_maxlen)
    shipped = SHIPPED_MODEL if settings.shipped_model else None
    with_redis(lambda: watch.initial(settings.model, settings.models_dir, shipped), stop=stop,
               what="looking for the current model", url=settings.redis_url)
    watcher = threading.Thread(target=watch.watch, name="model-watch", daemon=True)
    watcher.start()
    worker = ClassifierWorker(client, settings, worker_id, stop, watch)
    worker.run()
    watcher.join(3)
    return worker


def main(argv: Sequence[str], prog: str = "signstream classifier") -> int:
    return serve(ClassifierSettings, argv, prog, "classifier", run_classifier)
