"""Promoting a version: point `current` at it and announce it on `models` for classifiers to swap in."""

from __future__ import annotations

import logging

import redis

from services.trainer.training import TrainOutcome
from shared.keys import Keys
from shared.messages import ModelAnnouncement
from shared.model_store import ModelStore

log = logging.getLogger(__name__)

ANNOUNCED_METRICS = ("accuracy", "n", "precision", "recall", "epochs_run", "seconds_per_epoch")


def promote(store: ModelStore, outcome: TrainOutcome, client: redis.Redis | None, keys: Keys, maxlen: int) -> None:
    store.set_current(outcome.version)
    if client is None:
        return
    announcement = ModelAnnouncement(
        version=outcome.version,
        path=str(outcome.path.resolve()),
        labels=outcome.labels,
        metrics={k: outcome.metrics[k] for k in ANNOUNCED_METRICS if k in outcome.metrics},
    )
    client.xadd(keys.models, announcement.encode(), maxlen=maxlen, approximate=True)
    log.info("announced %s on %s", outcome.version, keys.models)
