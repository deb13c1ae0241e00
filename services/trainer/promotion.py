"""Promoting a version: point `current` at it and announce it on `models` for classifiers to swap in."""

from __future__ import annotations

import logging

import redis

from shared.keys import Keys
from shared.messages import ModelAnnouncement
from shared.model_store import ModelStore

log = logging.getLogger(__name__)

ANNOUNCED_METRICS = ("accuracy", "n", "precision", "recall", "epochs_run", "seconds_per_epoch")


def promote(store: ModelStore, version: str, labels: list[str], metrics: dict, client: redis.Redis | None, keys: Keys,
            maxlen: int) -> None:
    """Make `version` of `store` current and, with a client, announce it with its labels and headline metrics."""
    store.set_current(version)
    if client is None:
        return
    announcement = ModelAnnouncement(
        version=version,
        path=str(store.path(version).resolve()),
        labels=labels,
        metrics={k: metrics[k] for k in ANNOUNCED_METRICS if k in metrics},
    )
    client.xadd(keys.models, announcement.encode(), maxlen=maxlen, approximate=True)
    log.info("announced %s on %s", version, keys.models)
