"""The trainer service: train on each request from `train:requests`, report on `train:results`.

Any app can ask for training with one XADD (fields `data`: JSON list of paths, `options`: JSON
object of trainer settings such as {"epochs": 50, "arch": "gru", "normalise": true}, `request_id`). Requests
are handled one at a time; a bad request is answered with status "rejected" and the reason.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import redis
from pydantic import ValidationError

from services.trainer.progress import ProgressReport
from services.trainer.run import train_and_promote, training_data
from services.trainer.settings import TrainerSettings
from shared.consumer import ConsumerOptions, Entry, StreamConsumer
from shared.errors import DataError, DecodeError
from shared.health import beating
from shared.keys import GROUP_TRAINER
from shared.messages import TrainRequest, TrainResult
from shared.redis_client import CONNECTION_ERRORS

log = logging.getLogger(__name__)

# Options a request may set; where models go and which Redis to use stay the operator's choice.
REQUEST_OPTIONS = {"recipe", "arch", "normalise", "augment", "face", "audit", "audit_epochs", "epochs", "batch_size",
                   "learning_rate", "val_fraction", "patience", "seed", "min_accuracy", "actions", "unknown", "idle"}


class TrainerService(StreamConsumer):
    service = "trainer"

    def __init__(self, client: redis.Redis, settings: TrainerSettings, worker: str, stop: threading.Event,
                 data_roots: list[Path]):
        # A training run takes minutes: the claim idle time must exceed it, or a live trainer's
        # request would be taken over by another.
        options = ConsumerOptions(block_ms=1000, count=1, claim_idle_ms=6 * 3600 * 1000)
        super().__init__(client, settings.keys, GROUP_TRAINER, worker, stop, options, settings.stream_maxlen)
        self.settings = settings
        self.data_roots = [Path(os.path.realpath(root)) for root in data_roots]

    def streams(self) -> list[str]:
        return [self.keys.train_requests]

    def handle(self, entry: Entry, pipe) -> None:
        try:
            request = TrainRequest.decode(entry.fields)
        except DecodeError as e:
            self._answer(pipe, TrainResult(request_id="", status="rejected", reason=f"bad request: {e}"))
            return
        request_id = request.request_id or entry.id
        result = self._train(request, request_id)
        self._answer(pipe, result)

    def train_first_model(self, data: list[Path], epochs: int) -> None:
        """Train before serving requests, where no model exists yet; the result goes on train:results as usual."""
        log.info("no model promoted in %s yet: training a first one on %s", self.settings.models_dir,
                 ", ".join(map(str, data)))
        request = TrainRequest(data=[str(p) for p in data], options={"epochs": epochs}, request_id="first-model")
        result = self._train(request, request.request_id)
        if result.status == "rejected":
            log.error("first model not trained: %s; fix SIGNSTREAM_TRAINER_FIRST_MODEL_DATA or send a train request",
                      result.reason)
        try:
            with self.redis.pipeline() as pipe:
                self._answer(pipe, result)
                pipe.execute()
        except CONNECTION_ERRORS as e:
            log.warning("first model's result not posted on %s (%s); the model files are written", self.keys.train_results, e)

    def _train(self, request: TrainRequest, request_id: str) -> TrainResult:
        with beating(self.redis, self.keys, self.service, self.worker):  # training takes minutes: stay visibly alive
            return self._train_now(request, request_id)

    def _train_now(self, request: TrainRequest, request_id: str) -> TrainResult:
        unknown = sorted(set(request.options) - REQUEST_OPTIONS)
        if unknown:
            return TrainResult(request_id=request_id, status="rejected",
                               reason=f"unknown options {unknown}; allowed: {sorted(REQUEST_OPTIONS)}")
        unknown_data = request.options.get("unknown") or []
        outside = self._outside_roots([*request.data, *([unknown_data] if isinstance(unknown_data, str) else
                                                        unknown_data if isinstance(unknown_data, list) else [])])
        if outside:
            # Said before anything on disk is looked at: a request must not learn what exists elsewhere.
            return TrainResult(request_id=request_id, status="rejected",
                               reason=f"{outside[:200]!r} is not under the trainer's data folders "
                                      f"({', '.join(map(str, self.data_roots)) or 'none'}): name data under them, "
                                      "or the operator adds a folder with SIGNSTREAM_TRAINER_DATA_ROOT")
        try:
            settings = TrainerSettings.model_validate({**self.settings.model_dump(), **request.options})
            data = training_data(settings, [Path(p) for p in request.data])
        except (ValidationError, DataError) as e:
            reason = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()) \
                if isinstance(e, ValidationError) else str(e)
            return TrainResult(request_id=request_id, status="rejected", reason=reason)
        log.info("request %s: training %s on %d sequences %s", request_id, settings.arch, len(data.y), data.counts())
        progress = ProgressReport(self.redis, self.keys, request_id, self.worker, settings.epochs)
        outcome, promoted = train_and_promote(settings, data, verbose=0, on_epoch=progress)
        log.info("request %s: %s %s (%s)", request_id, outcome.version, "promoted" if promoted else "not promoted",
                 outcome.verdict.reason)
        metrics = {k: outcome.metrics[k] for k in ("accuracy", "n", "epochs_run", "seconds_per_epoch")}
        return TrainResult(request_id=request_id, status="done", version=outcome.version, promoted=int(promoted),
                           reason=outcome.verdict.reason, metrics=metrics)

    def _outside_roots(self, paths: list[str]) -> str | None:
        """The first path not inside a data root (symbolic links and '..' followed), if any."""
        for path in paths:
            real = Path(os.path.realpath(path)) if isinstance(path, str) and "\0" not in path else None
            if real is None or not any(real.is_relative_to(root) for root in self.data_roots):
                return str(path)
        return None

    def _answer(self, pipe, result: TrainResult) -> None:
        pipe.xadd(self.keys.train_results, result.encode(), maxlen=self.stream_maxlen, approximate=True)
        self.stats.count("requests", result.status)
