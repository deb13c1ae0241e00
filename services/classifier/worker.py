"""The classifier loop: keypoints of every camera -> windows -> one model call -> predictions, detections."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import redis

from services.classifier.model_watch import ModelWatch
from services.classifier.serving import ServingModel
from services.classifier.settings import ClassifierSettings
from services.classifier.smoothing import Smoother
from services.classifier.windows import ReadyWindow, Windows
from shared.cameras import CameraDirectory
from shared.consumer import ConsumerOptions, Entry, StreamConsumer
from shared.keys import GROUP_CLASSIFIER, KEYPOINTS_PREFIX
from shared.messages import Detection, KeypointsMessage, Prediction, now_ms

log = logging.getLogger(__name__)


class ClassifierWorker(StreamConsumer):
    service = "classifier"

    def __init__(self, client: redis.Redis, settings: ClassifierSettings, worker: str, stop: threading.Event,
                 watch: ModelWatch):
        options = ConsumerOptions(block_ms=settings.block_ms, count=settings.batch_entries,
                                  claim_idle_ms=settings.claim_idle_ms)
        super().__init__(client, settings.keys, GROUP_CLASSIFIER, worker, stop, options, settings.stream_maxlen)
        self.settings = settings
        self.watch = watch
        self.model: ServingModel | None = None
        self.windows = Windows(settings.stride, settings.gap_wait_ms)
        self.smoother = Smoother(settings.threshold, settings.confirm_windows)
        self.cameras = CameraDirectory(client, settings.keys, settings.refresh_cameras_s)
        self._said_waiting = False

    def camera_of(self, stream: str) -> str:
        return self.keys.camera_of(stream, KEYPOINTS_PREFIX)

    def streams(self) -> list[str]:
        self._swap()
        if self.model is None:
            if not self._said_waiting:
                log.info("waiting for a model before reading keypoints")
                self._said_waiting = True
            return []
        return [self.keys.keypoints(c) for c in self.cameras.names()]

    def _swap(self) -> None:
        """Take a newly checked model; only ever between two batches, so no batch mixes versions."""
        model = self.watch.take()
        if model is not None:
            old = self.model.version if self.model else None
            self.model = model
            log.info("now serving model %s (was %s)", model.version, old)

    def handle(self, entry: Entry, pipe) -> None:  # entries are handled a batch at a time in process()
        raise NotImplementedError

    def process(self, entries: list[Entry]) -> None:
        """One batch: decode every entry, classify every window that became ready, publish, ack all."""
        pipe = self.redis.pipeline(transaction=True)
        ready: list[ReadyWindow] = []
        now = now_ms()
        for entry in entries:
            camera = self.camera_of(entry.stream)
            try:
                msg = KeypointsMessage.decode(entry.fields or {})
                ready += self.windows.add(msg.camera, msg.seq, msg.vector, msg.capture_ts_ms, now)
                self.stats.count(camera, "in")
            except Exception as e:  # one bad entry goes to dead, the batch goes on
                self.dead_in(pipe, entry, e)
            pipe.xack(entry.stream, self.group, entry.id)
        ready += self.windows.flush_gaps(now)
        self._publish(ready, pipe)
        pipe.execute()

    def on_pass(self) -> None:
        # Frames held back for a missing predecessor are freed by time, even when nothing arrives.
        ready = self.windows.flush_gaps(now_ms())
        if ready:
            pipe = self.redis.pipeline(transaction=True)
            self._publish(ready, pipe)
            pipe.execute()

    def _publish(self, ready: list[ReadyWindow], pipe: redis.client.Pipeline) -> None:
        if not ready or self.model is None:
            return
        model = self.model
        started = time.perf_counter()
        probs = model.runner(np.stack([w.frames for w in ready]))
        batch_ms = (time.perf_counter() - started) * 1000
        now = now_ms()
        maxlen = self.stream_maxlen
        for window, p in zip(ready, probs):
            best = int(np.argmax(p))
            label, confidence = model.labels[best], float(p[best])
            prediction = Prediction(
                camera=window.camera, seq=window.seq, ts=window.capture_ts_ms, label=label,
                confidence=round(confidence, 4),
                probs={name: round(float(v), 4) for name, v in zip(model.labels, p)},
                model=model.version, latency_ms=float(now - window.capture_ts_ms),
            )
            pipe.xadd(self.keys.predictions, prediction.encode(), maxlen=maxlen, approximate=True)
            self.stats.count(window.camera, "predictions")
            self.stats.observe_ms(window.camera, batch_ms / len(ready))
            confirmed = self.smoother.update(window.camera, label, confidence, window.first_ts_ms, window.capture_ts_ms)
            if confirmed:
                detection = Detection(camera=confirmed.camera, label=confirmed.label,
                                      confidence=round(confirmed.confidence, 4), ts_start=confirmed.ts_start,
                                      ts_end=confirmed.ts_end, model=model.version)
                pipe.xadd(self.keys.detections, detection.encode(), maxlen=maxlen, approximate=True)
                self.stats.count(window.camera, "detections")
                log.info("detected %s on %s (%.0f%%, model %s)", confirmed.label, confirmed.camera,
                         confirmed.confidence * 100, model.version)
