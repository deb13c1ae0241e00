"""Which model serves: the one to start with, and new versions announced on `models`.

New versions are loaded and checked on a thread of their own, aside from serving; the worker
takes the checked one between two batches. A version that fails its check is refused with a
log line and an entry on `dead`; the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import redis

from services.classifier.serving import ServingModel, load_serving_model
from shared.errors import DecodeError, ModelError
from shared.keys import Keys
from shared.messages import DeadLetter, ModelAnnouncement, dead_payload, now_ms
from shared.redis_client import CONNECTION_ERRORS, Backoff

log = logging.getLogger(__name__)


class ModelWatch:
    def __init__(self, client: redis.Redis, keys: Keys, worker: str, stop: threading.Event, stream_maxlen: int):
        self.redis = client
        self.keys = keys
        self.worker = worker
        self.stop = stop
        self.stream_maxlen = stream_maxlen
        self._ready: ServingModel | None = None
        self._lock = threading.Lock()
        self._last_id = "0-0"
        self.refused = 0

    def take(self) -> ServingModel | None:
        """The newest checked model not yet taken, if any."""
        with self._lock:
            model, self._ready = self._ready, None
            return model

    def initial(self, explicit: Path | None, models_dir: Path) -> None:
        """Queue the model to start with: the flag, else the newest announcement, else `current`."""
        newest = self.redis.xrevrange(self.keys.models, count=1)
        # Follow from here, not from "$" when watching starts: announcements made while the
        # first model loads must not be missed.
        self._last_id = newest[0][0] if newest else "0-0"
        if explicit is not None:
            model = load_serving_model(explicit)  # a bad --model is the user's to fix: let it raise
            with self._lock:
                self._ready = model
            return
        if newest:
            self._consider(*newest[0])
            return
        current = models_dir / "current"
        if current.is_file():
            version = current.read_text().strip()
            self._offer(lambda: load_serving_model(models_dir / version, version), f"model {version}", None)
            return
        log.info("no model yet: waiting for one on %s (train one with `signstream train`)", self.keys.models)

    def watch(self) -> None:
        """Follow `models` until stopped (run on its own thread)."""
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                reply = self.redis.xread({self.keys.models: self._last_id}, block=1000, count=10)
                backoff.reset()
            except CONNECTION_ERRORS as e:
                delay = backoff.next_delay()
                log.warning("redis unreachable while watching %s (%s); retrying in %.1fs", self.keys.models, e, delay)
                self.stop.wait(delay)
                continue
            for _, items in reply or []:
                for entry_id, fields in items:
                    self._last_id = entry_id
                    self._consider(entry_id, fields)

    def _consider(self, entry_id: bytes, fields: dict) -> None:
        try:
            announcement = ModelAnnouncement.decode(fields)
        except DecodeError as e:
            self._refuse(entry_id, fields, f"DecodeError: {e}")
            return
        self._offer(lambda: load_serving_model(announcement.path, announcement.version),
                    f"model {announcement.version}", (entry_id, fields))

    def _offer(self, load, what: str, entry) -> None:
        try:
            model = load()
        except ModelError as e:
            log.error("%s refused, the model in use keeps serving: %s", what, e)
            if entry is not None:
                self._refuse(*entry, f"ModelError: {e}")
            else:
                self.refused += 1
            return
        log.info("%s loaded and checked (%d labels, %s runner); switching at the next batch",
                 what, len(model.labels), model.runner.kind)
        with self._lock:
            self._ready = model

    def _refuse(self, entry_id: bytes, fields: dict, reason: str) -> None:
        self.refused += 1
        letter = DeadLetter(service="classifier", worker=self.worker, reason=reason, stream=self.keys.models,
                            entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
                            ts=now_ms(), payload=dead_payload(fields))
        self.redis.xadd(self.keys.dead, letter.encode(), maxlen=self.stream_maxlen, approximate=True)
