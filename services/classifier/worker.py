"""The classifier loop: keypoints of every camera -> windows -> one model call -> predictions, detections."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict

import numpy as np
import redis

from services.classifier.model_watch import ModelWatch
from services.classifier.serving import ServingModel
from services.classifier.settings import ClassifierSettings
from services.classifier.smoothing import Smoother
from services.classifier.unknown_weight import weigh_unknown
from shared.cameras import CameraDirectory
from shared.consumer import ConsumerOptions, Entry, StreamConsumer
from shared.errors import DecodeError, ModelError
from shared.keys import GROUP_CLASSIFIER, KEYPOINTS_PREFIX
from shared.logs import Throttled
from shared.messages import Detection, FrameGap, Prediction, decode_keypoints_entry, now_ms
from shared.model_store import UNKNOWN
from shared.redis_client import CONNECTION_ERRORS
from shared.windows import ReadyWindow, Windows

log = logging.getLogger(__name__)


class ClassifierWorker(StreamConsumer):
    service = "classifier"
    commit_each_entry = False  # a batch is decoded, classified in one model call and acknowledged together

    def __init__(self, client: redis.Redis, settings: ClassifierSettings, worker: str, stop: threading.Event,
                 watch: ModelWatch):
        options = ConsumerOptions(block_ms=settings.block_ms, count=settings.batch_entries, linger_ms=settings.batch_wait_ms,
                                  claim_idle_ms=settings.claim_idle_ms)
        super().__init__(client, settings.keys, GROUP_CLASSIFIER, worker, stop, options, settings.stream_maxlen)
        self.settings = settings
        self.watch = watch
        self.model: ServingModel | None = None
        self.windows = Windows(settings.stride, settings.gap_wait_ms, max_hole_ms=settings.max_hole_ms,
                               min_frames=settings.min_frames)
        self.smoother = Smoother(settings.threshold, settings.confirm_windows, background=(UNKNOWN,))
        self.cameras = CameraDirectory(client, settings.keys, settings.keys.keypoints, settings.refresh_cameras_s,
                                       settings.idle_camera_s)
        self.throttled = Throttled(log)
        self._said_waiting = False
        self._reported: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))  # sparse, predictions at last report
        self._overloaded: set[str] = set()
        self._ready: list[ReadyWindow] = []  # windows the batch being handled completed

    def camera_of(self, stream: str) -> str:
        return self.keys.camera_of(stream, KEYPOINTS_PREFIX)

    def streams(self) -> list[str]:
        self._swap()
        if self.model is None:
            if not self._said_waiting:
                log.info("waiting for a model before reading keypoints")
                self._said_waiting = True
            return []
        cameras = self.cameras.names()
        self.windows.keep_only(set(cameras))
        self.windows.capture_started(self.cameras.started_ms)
        self.smoother.keep_only(set(cameras))
        return [self.keys.keypoints(c) for c in cameras]

    def _swap(self) -> None:
        """Take a newly checked model; only ever between two batches, so no batch mixes versions."""
        if self.watch.refusal is not None:
            raise self.watch.refusal
        model = self.watch.take()
        if model is not None:
            old = self.model.version if self.model else None
            self.model = model
            self._said_waiting = False
            log.info("now serving model %s (was %s)", model.version, old)

    def handle(self, entry: Entry, pipe) -> None:
        """Into its camera's windows; the windows it completes are classified with the batch's (end_batch)."""
        # State is keyed by the stream an entry came on, never by what the entry claims.
        camera = self.camera_of(entry.stream)
        msg = decode_keypoints_entry(entry.fields)
        if msg.camera != camera:
            raise DecodeError(f"entry names camera {msg.camera!r} but came on {entry.stream}")
        now = now_ms()
        if isinstance(msg, FrameGap):
            self._ready += self.windows.add_gap(camera, msg.seq, msg.capture_ts_ms, now)
        elif msg.capture_ts_ms < now - self.settings.max_age_s * 1000:
            self.stats.count(camera, "stale")  # a backlog: its slot is known to stay empty
            self._ready += self.windows.add_gap(camera, msg.seq, msg.capture_ts_ms, now)
        else:
            self._ready += self.windows.add(camera, msg.seq, msg.vector, msg.capture_ts_ms, now)
            self.stats.count(camera, "in")

    def end_batch(self, pipe) -> None:
        """One model call for every window the batch completed, published with the batch's acknowledgements."""
        ready, self._ready = self._ready, []
        if ready:
            self._publish_contained(ready, pipe)

    def on_pass(self) -> None:
        # Frames held back for a missing predecessor are freed by time, even when nothing arrives.
        ready = self.windows.flush_gaps(now_ms())
        if ready:
            pipe = self.redis.pipeline(transaction=True)
            self._publish_contained(ready, pipe)
            pipe.execute()
        if self.stats.due():
            for camera, window in self.windows.cameras.items():
                for what, n in window.counts.items():
                    self.stats.counts[camera][what] = n
            for camera, n in self.smoother.continued.items():
                self.stats.counts[camera]["detections_continued"] = n
            self._say_overloaded()

    def _say_overloaded(self) -> None:
        """Cameras most of whose windows since the last report had too few real frames to classify:
        their keypoint workers drop frames to keep up. Said once in the log and in the stats `info`,
        which health reads, until it passes."""
        now = {c: (self.stats.counts[c]["sparse"], self.stats.counts[c]["predictions"]) for c in self.windows.cameras}
        overloaded = sorted(c for c, (sparse, done) in now.items()
                            if sparse - self._reported[c][0] > done - self._reported[c][1])
        for camera in sorted(set(overloaded) - self._overloaded):
            log.warning("camera %s is overloaded: most of its windows hold fewer than %d real frames (the keypoint "
                        "workers drop its frames to keep up), so they are not classified: add keypoint workers or "
                        "lower its --fps", camera, self.settings.min_frames)
        for camera in sorted(self._overloaded - set(overloaded)):
            log.info("camera %s is no longer overloaded", camera)
        self._overloaded = set(overloaded)
        self._reported.update(now)
        if overloaded:
            self.stats.info["overloaded"] = ",".join(overloaded)
        else:
            self.stats.info.pop("overloaded", None)

    # --- the model call ---------------------------------------------------------------------------

    def _classify(self, ready: list[ReadyWindow]) -> tuple[ServingModel, np.ndarray] | None:
        """Probabilities for the windows, from the serving model or, if it fails, the one before it."""
        batch = np.stack([w.frames for w in ready])
        while self.model is not None:
            model = self.model
            try:
                probs = model.predict(batch)
            except ModelError as e:
                self._model_failed(model, ready, e)
                continue
            fault = self._nan_is_the_models(model, batch, probs)
            if fault is None:
                return model, probs
            self._model_failed(model, ready, fault)
        for window in ready:
            self.stats.count(window.camera, "unclassified")
        return None

    def _nan_is_the_models(self, model: ServingModel, batch: np.ndarray, probs: np.ndarray) -> ModelError | None:
        """NaN rows are the model's fault, not the windows', if the model served before it classifies them.

        A model can pass its dry run and still give NaN on every real window; without a second
        opinion it would serve nothing while saying it serves. Windows that the earlier model also
        fails on hold keypoints no camera gives: those stay the windows' fault."""
        rows = ~np.all(np.isfinite(probs), axis=1)
        previous = self.watch.before(model) if rows.any() else None
        if previous is None:
            return None
        try:
            classified = int(np.count_nonzero(np.all(np.isfinite(previous.predict(batch[rows])), axis=1)))
        except ModelError:
            return None
        if not classified:
            return None
        return ModelError(f"model {model.version} gives NaN for {classified} real window(s) that model "
                          f"{previous.version}, served before it, classifies")

    def _model_failed(self, model: ServingModel, ready: list[ReadyWindow], error: ModelError) -> None:
        """A model that raises or gives NaN on real windows stops serving; the one before it takes over."""
        self.model = self.watch.reject(model, str(error))  # logs it and copies it to `dead`
        for window in ready:
            self.stats.count(window.camera, "model_errors")

    def _publish_contained(self, ready: list[ReadyWindow], pipe: redis.client.Pipeline) -> None:
        """Publish, but never let one batch stop the classifier: its entries are acknowledged whatever
        happens (a batch that failed before its acknowledgement would fail again on every restart)."""
        mark = len(pipe.command_stack)
        try:
            self._publish(ready, pipe)
        except CONNECTION_ERRORS:
            raise
        except Exception as e:
            del pipe.command_stack[mark:]  # no half of a batch's outputs
            self.throttled(logging.ERROR, type(e).__name__, "classifying %d window(s) failed, skipped: %s",
                           len(ready), e, exc_info=e)
            self._dead_windows(pipe, ready, f"{type(e).__name__}: {e}", "failed")

    def _refuse_windows(self, windows: list[ReadyWindow], model: ServingModel, pipe: redis.client.Pipeline) -> None:
        """Windows a sound model gives NaN for hold keypoints no camera gives: to `dead`, the model stays."""
        self.throttled(logging.WARNING, "unusable", "%d window(s) of %s give NaN with model %s, which passes its "
                       "dry run: their keypoints are implausible; sent to %s", len(windows),
                       ", ".join(sorted({w.camera for w in windows})), model.version, self.keys.dead)
        self._dead_windows(pipe, windows, f"model {model.version} gives NaN for these windows (implausible keypoints)",
                           "unusable")

    def _dead_windows(self, pipe: redis.client.Pipeline, windows: list[ReadyWindow], reason: str, counter: str) -> None:
        """One dead letter naming the windows (camera and newest seq, the first 16), each counted under `counter`."""
        listed = [{"camera": w.camera, "seq": w.seq} for w in windows[:16]]
        self.letter_in(pipe, reason, self.keys.keypoints(windows[0].camera), "",
                       json.dumps({"windows": listed, "count": len(windows)}))
        for window in windows:
            self.stats.count(window.camera, counter)

    def _publish(self, ready: list[ReadyWindow], pipe: redis.client.Pipeline) -> None:
        if not ready or self.model is None:
            return
        started = time.perf_counter()
        result = self._classify(ready)
        if result is None:
            return
        model, probs = result
        probs = weigh_unknown(probs, model.labels, self.settings.unknown_weight)
        self.stats.info["model"] = model.version
        batch_ms = (time.perf_counter() - started) * 1000
        usable = np.all(np.isfinite(probs), axis=1)
        if not usable.all():
            self._refuse_windows([w for w, ok in zip(ready, usable) if not ok], model, pipe)
        now = now_ms()
        maxlen = self.stream_maxlen
        for window, p in zip([w for w, ok in zip(ready, usable) if ok], probs[usable]):
            best = int(np.argmax(p))
            label, confidence = model.labels[best], float(p[best])
            prediction = Prediction(
                camera=window.camera, seq=window.seq, ts=window.capture_ts_ms, label=label,
                confidence=round(confidence, 4),
                probs={name: round(float(v), 4) for name, v in zip(model.labels, p)},
                model=model.version, latency_ms=float(now - window.capture_ts_ms),
                window_ms=window.span_ms, frames=window.real_frames,
            )
            pipe.xadd(self.keys.predictions, prediction.encode(), maxlen=maxlen, approximate=True)
            self.stats.count(window.camera, "predictions")
            self.stats.observe_ms(window.camera, batch_ms / len(ready))
            self.stats.observe_ms(window.camera, prediction.latency_ms, "latency")
            confirmed = self.smoother.update(window.camera, label, confidence, window.first_ts_ms, window.capture_ts_ms)
            if confirmed:
                detection = Detection(camera=confirmed.camera, label=confirmed.label,
                                      confidence=round(confirmed.confidence, 4), ts_start=confirmed.ts_start,
                                      ts_end=confirmed.ts_end, model=model.version)
                pipe.xadd(self.keys.detections, detection.encode(), maxlen=maxlen, approximate=True)
                self.stats.count(window.camera, "detections")
                log.info("detected %s on %s (%.0f%%, model %s)", confirmed.label, confirmed.camera,
                         confirmed.confidence * 100, model.version)
