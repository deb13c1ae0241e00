"""Which model serves: the one to start with, and new versions announced on `models`.

New versions are loaded and checked on a thread of their own, aside from serving; the worker
takes the checked one between two batches. A version that fails its check, in any way, is
refused with a log line and an entry on `dead`; the old one keeps serving. A version that passed
its check but then misbehaves on real windows is handed back with `reject`, and the worker goes
back to the model it served before. Nothing an announcement holds can stop the watch, nor stop a
classifier from starting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import redis

from services.classifier.serving import ServingModel, load_serving_model
from services.classifier.shipped import SHIPPED_VERSION
from shared.errors import DecodeError, ModelError
from shared.keys import Keys
from shared.logs import Throttled
from shared.messages import DeadLetter, ModelAnnouncement, dead_payload, now_ms
from shared.model_store import CURRENT, MODEL_FILE, ModelStore
from shared.redis_client import CONNECTION_ERRORS, Backoff, is_auth_error
from shared.text import one_line, shortened, text

log = logging.getLogger(__name__)

REASON_CHARS = 500
UNEXPECTED_WAIT_S = 1.0  # the watch loop's pause after an error it did not expect
KEEP_SERVED = 2  # the model serving and the one before it, to go back to


def _bounded_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS - 3] + "..."


class ModelWatch:
    def __init__(self, client: redis.Redis, keys: Keys, worker: str, stop: threading.Event, stream_maxlen: int):
        self.redis = client
        self.keys = keys
        self.worker = worker
        self.stop = stop
        self.stream_maxlen = stream_maxlen
        self._ready: ServingModel | None = None
        self._served: list[ServingModel] = []  # taken by the worker, oldest first, at most KEEP_SERVED
        self._rejected: dict[str, str] = {}  # version -> why it was handed back
        self._entries: dict[str, str] = {}  # version -> id of its announcement on `models`
        self._lock = threading.Lock()
        self._last_id = "0-0"
        self.refused = 0
        self.refusal: redis.RedisError | None = None  # Redis refused the watch our credentials or rights
        self._throttled = Throttled(log)  # a flood of bad announcements: a few lines with counts
        self.store: ModelStore | None = None  # this classifier's models folder, once `initial` names it

    def take(self) -> ServingModel | None:
        """The newest checked model not yet taken, if any."""
        with self._lock:
            model, self._ready = self._ready, None
            if model is not None:
                self._served = [m for m in self._served if m is not model][-(KEEP_SERVED - 1):] + [model]
            return model

    def before(self, model: ServingModel) -> ServingModel | None:
        """The model served before `model` (still loaded), if any: what to compare it with."""
        with self._lock:
            served = list(self._served)
        i = next((i for i, m in enumerate(served) if m is model), 0)
        return served[i - 1] if i > 0 else None

    def reject(self, model: ServingModel, reason: str) -> ServingModel | None:
        """Hand back a model that misbehaved on real windows; returns the model to serve instead, or None.

        The worker calls this when `model.predict(...)` raised ModelError (NaN or infinite
        outputs, or the model call raised), with that error's text as `reason`. The model is
        logged as rejected, copied to `dead` (stream `models`, its announcement's entry id when
        known, the reason naming the version), counted in `refused`, and its version is
        remembered: a later announcement of the same version is refused without loading it.

        Returns the model taken before this one (still checked, still loaded) so the worker can
        go straight back to it: `self.model = watch.reject(self.model, str(e))`. None when there
        is none to go back to; the worker then waits for the next announced model. A newer
        model already checked and waiting is still handed out by the next `take()`. Never raises,
        even with Redis down (the dead letter is then only logged). Safe from any thread.
        """
        version = model.version
        reason = _bounded_reason(reason)
        with self._lock:
            self._rejected[version] = reason
            self.refused += 1
            self._served = [m for m in self._served if m is not model and m.version != version]
            fallback = self._served[-1] if self._served else None
            if self._ready is not None and self._ready.version == version:
                self._ready = None
            entry_id = self._entries.get(version, "")
        if fallback is not None:
            log.error("model %s rejected while serving, going back to model %s: %s", version, fallback.version, reason)
        else:
            log.error("model %s rejected while serving, no earlier model to go back to (waiting for the next "
                      "announced one): %s", version, reason)
        self._dead(entry_id, {"version": version, "path": str(model.path)},
                   f"ModelError: model {version} rejected while serving: {reason}")
        return fallback

    def initial(self, explicit: Path | None, models_dir: Path, shipped: Path | None = None) -> None:
        """Queue the model to start with: the flag, else the newest announcement, else `current`,
        else the `shipped` model.

        Only a bad `--model` raises (ModelError, the user's to fix); a bad announced or current
        model is refused and the classifier starts anyway, waiting for a good one.
        """
        try:
            newest = self.redis.xrevrange(self.keys.models, count=1)
        except redis.ResponseError as e:  # not a stream: the watch says so until it is one
            if is_auth_error(e):
                raise  # a user without the rights: the classifier ends with exit code 3
            log.error("cannot read %s (%s); starting without its newest announcement", self.keys.models, e)
            newest = []
        # Follow from here, not from "$" when watching starts: announcements made while the
        # first model loads must not be missed.
        self._last_id = newest[0][0] if newest else "0-0"
        self.store = ModelStore(models_dir)
        if explicit is not None:
            model = load_serving_model(explicit)  # a bad --model is the user's to fix: let it raise
            with self._lock:
                self._ready = model
            return
        refused_version = None
        if newest:
            if self._consider(*newest[0]):
                return
            refused_version = _announced_version(newest[0][1])
        current = models_dir / CURRENT
        try:
            version = self.store.current()
        except (OSError, ValueError) as e:
            log.error("cannot read %s (%s): waiting for a model on %s", current, one_line(e), self.keys.models)
            return
        if version and version != refused_version:
            what = f"model {_shown_version(version)} (named by {current})"
            if self._offer(lambda: load_serving_model(self.store.path(version), version), what, None, version):
                return
        if shipped is not None and (shipped / MODEL_FILE).is_file():  # a checkout may have left it out
            what = f"the shipped model ({shipped}); trained versions replace it"
            if self._offer(lambda: load_serving_model(shipped, SHIPPED_VERSION), what, None, SHIPPED_VERSION):
                return
        log.info("no model yet: waiting for one on %s (train one with `signstream train`)", self.keys.models)

    def watch(self) -> None:
        """Follow `models` until stopped (run on its own thread); no error ends it before `stop`."""
        backoff = Backoff()
        last_error = None
        while not self.stop.is_set() and self.refusal is None:
            try:
                self._watch_once(backoff)
                last_error = None
            except Exception as e:  # a bug or a surprise from Redis: say so, and keep watching
                if one_line(e) != last_error:
                    log.exception("unexpected error while watching %s; carrying on in %.0fs", self.keys.models,
                                  UNEXPECTED_WAIT_S)
                else:
                    log.warning("unexpected error again while watching %s (%s); carrying on in %.0fs",
                                self.keys.models, one_line(e), UNEXPECTED_WAIT_S)
                last_error = one_line(e)
                self.stop.wait(UNEXPECTED_WAIT_S)

    def _watch_once(self, backoff: Backoff) -> None:
        try:
            reply = self.redis.xread({self.keys.models: self._last_id}, block=1000, count=10)
            backoff.reset()
        except redis.RedisError as e:
            if is_auth_error(e):
                # Refused credentials or rights: this thread stops and the worker raises it between two
                # batches, ending the classifier with one line and exit code 3.
                self.refusal = e
                return
            if not isinstance(e, CONNECTION_ERRORS):
                raise
            delay = backoff.next_delay()
            log.warning("redis unreachable while watching %s (%s); retrying in %.1fs", self.keys.models, e, delay)
            self.stop.wait(delay)
            return
        for _, items in reply or []:
            for entry_id, fields in items:
                self._last_id = entry_id  # first, so an entry that breaks something is not read again
                self._consider(entry_id, fields)

    def _consider(self, entry_id: bytes | str, fields: dict) -> bool:
        """Load and check an announced model; True if it is queued for the worker."""
        entry = text(entry_id)
        try:
            announcement = ModelAnnouncement.decode(fields)
        except DecodeError as e:
            self._throttled(logging.ERROR, "undecodable", "announcement %s on %s refused: %s", entry, self.keys.models, e)
            self._refuse(entry, fields, f"DecodeError: {e}")
            return False
        except Exception as e:
            log.exception("announcement %s on %s refused: it could not be read", entry, self.keys.models)
            self._refuse(entry, fields, f"{type(e).__name__}: {e}")
            return False
        what = f"model {_shown_version(announcement.version)}"
        with self._lock:
            rejected = self._rejected.get(announcement.version)
        if rejected is not None:
            log.error("%s refused: it was rejected while serving (%s)", what, rejected)
            self._refuse(entry, fields, f"ModelError: {what} was rejected while serving: {rejected}")
            return False
        path = self.store.locate(announcement.version, announcement.path) if self.store else announcement.path
        return self._offer(lambda: load_serving_model(path, announcement.version), what,
                           (entry, fields), announcement.version)

    def _offer(self, load: Callable[[], ServingModel], what: str, entry: tuple[str, dict] | None,
               version: str | None) -> bool:
        """Run `load`; queue the model if it passed, else refuse it (logged, copied to `dead`, counted)."""
        started = time.monotonic()
        try:
            model = load()
        except ModelError as e:
            self._throttled(logging.ERROR, "refused", "%s refused, the model in use keeps serving: %s", what, e)
            reason = f"ModelError: {e}"
        except Exception as e:  # load_serving_model should say ModelError; if not, a traceback to report
            log.exception("%s refused, the model in use keeps serving: unexpected error while loading it", what)
            reason = f"{type(e).__name__}: {e}"
        else:
            with self._lock:
                if model.version in self._rejected:  # rejected while this copy was loading
                    return False
                self._ready = model
                if entry is not None:
                    self._entries[model.version] = entry[0]
                    self._prune_entries()
            log.info("%s loaded and checked in %.1f s (%d labels, %s runner); switching at the next batch",
                     what, time.monotonic() - started, len(model.labels), model.runner.kind)
            return True
        self._refuse(*(entry or ("", {"version": version or "", "what": what})), reason)
        return False

    def _refuse(self, entry_id: str, fields: Mapping, reason: str) -> None:
        with self._lock:
            self.refused += 1
        self._dead(entry_id, fields, reason)

    def _dead(self, entry_id: str, fields: Mapping, reason: str) -> None:
        """Copy a refused model's announcement to `dead`, small; with Redis down it is only logged."""
        letter = DeadLetter(service="classifier", worker=self.worker, reason=_bounded_reason(reason),
                            stream=self.keys.models, entry_id=entry_id, ts=now_ms(), payload=dead_payload(fields))
        try:
            self.redis.xadd(self.keys.dead, letter.encode(), maxlen=self.stream_maxlen, approximate=True)
        except Exception as e:
            log.warning("could not copy the refused model to %s (%s); it is only in this log",
                        self.keys.dead, one_line(e))

    def _prune_entries(self) -> None:
        keep = {m.version for m in self._served} | ({self._ready.version} if self._ready else set())
        for version in [v for v in self._entries if v not in keep]:
            del self._entries[version]


def _shown_version(version: str) -> str:
    return shortened(version, 64)


def _announced_version(fields: Mapping) -> str | None:
    for key, value in fields.items():
        if text(key) == "version":
            return text(value)
    return None
