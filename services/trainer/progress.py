"""How far a train request has got, in `train:progress:<request_id>` for the dashboard and apps to read."""

from __future__ import annotations

import logging
from dataclasses import replace

import redis

from shared.keys import Keys
from shared.logs import Throttled
from shared.messages import TrainProgress, now_ms
from shared.redis_client import CONNECTION_ERRORS

log = logging.getLogger(__name__)

KEEP_S = 24 * 3600  # long enough to look at after the result, short enough that old requests go


class ProgressReport:
    """Writes a request's TrainProgress at the start and after every epoch.

    Training outlives a Redis outage: a progress write that fails is logged (a few lines, with
    counts) and skipped, never a reason to stop training.
    """

    def __init__(self, client: redis.Redis, keys: Keys, request_id: str, worker: str, epochs: int):
        self.redis = client
        self.key = keys.train_progress(request_id)
        started = now_ms()
        self.progress = TrainProgress(request_id=request_id, worker=worker, epoch=0, epochs=epochs, val_accuracy=0.0,
                                      started_ms=started, updated_ms=started)
        self._throttled = Throttled(log)
        self._write()

    def __call__(self, epoch: int, val_accuracy: float) -> None:
        self.progress = replace(self.progress, epoch=epoch, val_accuracy=round(val_accuracy, 4), updated_ms=now_ms())
        self._write()

    def _write(self) -> None:
        try:
            with self.redis.pipeline() as pipe:
                pipe.hset(self.key, mapping=self.progress.encode())
                pipe.expire(self.key, KEEP_S)
                pipe.execute()
        except CONNECTION_ERRORS as e:
            self._throttled(logging.WARNING, "progress", "training progress not written to %s (%s); training goes on",
                            self.key, e)
