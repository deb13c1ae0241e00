"""The consumer-group loop every stream-reading service runs.

Reads many streams in one blocking XREADGROUP, hands entries to the subclass, and acknowledges
each entry in the same transaction that writes its output (at-least-once, no lost output).
A service provides `streams` and `handle` (one entry); `select` (which entries of a batch to
handle) and `end_batch` (outputs of the batch as a whole, with `commit_each_entry = False`) are
the one way to extend the loop, for single-entry and batching workers alike.
It re-reads its own pending entries after a (re)start, claims entries left pending by a worker
whose heartbeat has lapsed (never from a live worker that is only slow), routes undecodable or
failing entries to `dead` with a counter, waits out Redis outages with backoff, and stops
between entries when `stop` is set.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import redis

from shared.errors import SignstreamError
from shared.health import beating, clear
from shared.keys import Keys
from shared.logs import Throttled
from shared.messages import DeadLetter, dead_payload, now_ms
from shared.redis_client import CONNECTION_ERRORS, Backoff, is_auth_error, is_outage
from shared.stats import Stats
from shared.text import text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    stream: str
    id: str
    fields: dict


@dataclass
class ConsumerOptions:
    block_ms: int = 1000
    count: int = 1
    claim_idle_ms: int = 15000
    claim_every_s: float = 5.0
    group_start_id: str = "0"
    # After a pass that read less than `count` entries from several streams, wait this long so the
    # next pass reads a batch: each pass costs the same whatever it reads (many cameras' browsers
    # sending 15 vectors a second made ~400 passes a second of 1-2 entries each).
    linger_ms: int = 0
    heartbeat_ttl_s: int = 10
    # A loop that has not finished a pass for this long is wedged: its heartbeat lapses, so
    # other workers take its entries. Above any one entry's work on a busy machine.
    stall_s: float = 120.0


class StreamConsumer(ABC):
    service: str = "service"
    # Each entry's outputs and acknowledgement go out as soon as it is handled (a frame's keypoints
    # should not wait for the next camera's frame). A batching worker sets this False: its batch's
    # acknowledgements and what end_batch() adds go out in one transaction.
    commit_each_entry: bool = True

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        group: str,
        worker: str,
        stop: threading.Event,
        options: ConsumerOptions | None = None,
        stream_maxlen: int = 10000,
    ):
        self.redis = client
        self.keys = keys
        self.group = group
        self.worker = worker
        self.stop = stop
        self.options = options or ConsumerOptions()
        self.stream_maxlen = stream_maxlen
        self.stats = Stats(self.service, worker)
        self._groups: set[str] = set()
        self._read_backlog = True  # after a (re)start, our own pending entries come first
        self._last_claim = 0.0
        self._last_progress = time.monotonic()
        self._throttled = Throttled(log)

    # --- what a service provides -------------------------------------------------------------

    @abstractmethod
    def streams(self) -> list[str]:
        """The stream keys to read now; called every pass, so new cameras are picked up."""

    @abstractmethod
    def handle(self, entry: Entry, pipe: redis.client.Pipeline) -> None:
        """Process one entry, queueing its outputs on `pipe`. Raise to send it to `dead`."""

    def select(self, entries: list[Entry], pipe: redis.client.Pipeline) -> list[Entry]:
        """The entries of a batch to handle, in order; any other must be acknowledged on `pipe` here."""
        return entries

    def end_batch(self, pipe: redis.client.Pipeline) -> None:
        """After a batch's entries were handled, before its last transaction: outputs of the batch as a whole."""

    def camera_of(self, stream: str) -> str:
        return stream

    def on_pass(self) -> None:
        """Called after every read, with or without entries (timers, flushing)."""

    def on_stop(self) -> None:
        """Called once when the loop ends (release trackers, models)."""

    # --- the loop --------------------------------------------------------------------------------

    def run(self) -> None:
        backoff = Backoff()
        log.info("%s %s started; group %s", self.service, self.worker, self.group)
        self._last_progress = time.monotonic()
        # Beating from a thread, so one slow entry (a first MediaPipe frame on a busy machine) never makes
        # a live worker look dead; a loop wedged for `stall_s` stops beating and its entries are claimed.
        heart = beating(self.redis, self.keys, self.service, self.worker, self.options.heartbeat_ttl_s / 4,
                        self.options.heartbeat_ttl_s,
                        moving=lambda: time.monotonic() - self._last_progress < self.options.stall_s)
        try:
            with heart:
                while not self.stop.is_set():
                    try:
                        self.run_once()
                        if backoff.failures:
                            log.info("redis reachable again; %s resumes", self.service)
                            backoff.reset()
                    except CONNECTION_ERRORS as e:
                        if not is_outage(e):  # refused credentials: no wait will fix them (the caller says so)
                            raise
                        delay = backoff.next_delay()
                        log.warning("redis unreachable (%s); retrying in %.1fs", e, delay)
                        self._groups.clear()  # Redis may have restarted empty
                        self._read_backlog = True
                        self.stop.wait(delay)
        finally:
            self.on_stop()
            try:
                self.stats.stopped = True
                self.stats.report(self.redis, self.keys.stats(self.service))
                clear(self.redis, self.keys, self.service, self.worker)
            except (*CONNECTION_ERRORS, redis.ResponseError):
                pass
            log.info("%s %s stopped ◆ %s", self.service, self.worker, self.stats.summary())

    def run_once(self) -> None:
        self._last_progress = time.monotonic()
        streams = self.streams()
        self._ensure_groups(streams)
        entries = self._read(streams) if streams else []
        if not streams:
            self.stop.wait(self.options.block_ms / 1000)
        if entries:
            self.process(entries)
            if self.options.linger_ms and len(entries) < self.options.count and len(streams) > 1:
                self.stop.wait(self.options.linger_ms / 1000)
        if streams and time.monotonic() - self._last_claim >= self.options.claim_every_s:
            self._last_claim = time.monotonic()
            claimed = self._claim(streams)
            if claimed:
                self.process(claimed)
        self.on_pass()
        if self.stats.due():
            self.stats.report(self.redis, self.keys.stats(self.service))

    def process(self, entries: list[Entry]) -> None:
        """Handle a batch; each entry is acknowledged with its output, or sent to `dead`."""
        pipe = self.redis.pipeline(transaction=True)
        for entry in self.select(entries, pipe):
            self._last_progress = time.monotonic()
            mark = len(pipe.command_stack)
            try:
                if entry.fields is None:
                    raise LookupError("entry was trimmed from the stream before it was processed")
                self.handle(entry, pipe)
            except CONNECTION_ERRORS:
                raise
            except Exception as e:  # any failure of one entry must not stop the worker
                if is_auth_error(e):
                    raise
                del pipe.command_stack[mark:]  # none of a failed entry's outputs
                self.dead_in(pipe, entry, e)
            pipe.xack(entry.stream, self.group, entry.id)
            if self.commit_each_entry:
                pipe.execute()
        self.end_batch(pipe)
        pipe.execute()

    def dead_in(self, pipe: redis.client.Pipeline, entry: Entry, error: BaseException) -> None:
        """Queue a copy of `entry` on `dead`, with the reason, and count it."""
        reason = f"{type(error).__name__}: {error}"[:500]
        expected = isinstance(error, (SignstreamError, LookupError))
        # An unexpected error is a bug to fix: its traceback goes with the line. A flood of the same
        # failure is one line now and then, with a count.
        self._throttled(logging.WARNING, f"{entry.stream}\0{type(error).__name__}",
                        "entry %s of %s sent to %s: %s", entry.id, entry.stream[:100], self.keys.dead, reason,
                        exc_info=None if expected else error)
        self.letter_in(pipe, reason, entry.stream, entry.id, dead_payload(entry.fields or {}))
        self.stats.count(self.camera_of(entry.stream), "dead")

    def letter_in(self, pipe: redis.client.Pipeline, reason: str, stream: str, entry_id: str, payload: str) -> None:
        """Queue a dead letter from this worker on `dead` (the reason cut to 500 characters)."""
        letter = DeadLetter(service=self.service, worker=self.worker, reason=reason[:500], stream=stream,
                            entry_id=entry_id, ts=now_ms(), payload=payload)
        pipe.xadd(self.keys.dead, letter.encode(), maxlen=self.stream_maxlen, approximate=True)

    # --- Redis plumbing -----------------------------------------------------------------------------

    def _ensure_groups(self, streams: list[str]) -> None:
        for stream in streams:
            if stream in self._groups:
                continue
            try:
                self.redis.xgroup_create(stream, self.group, id=self.options.group_start_id, mkstream=True)
                log.info("created consumer group %s on %s", self.group, stream)
            except redis.ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise
            self._groups.add(stream)

    def _read(self, streams: list[str]) -> list[Entry]:
        start = "0" if self._read_backlog else ">"
        try:
            reply = self.redis.xreadgroup(
                self.group,
                self.worker,
                {s: start for s in streams},
                count=self.options.count,
                block=None if self._read_backlog else self.options.block_ms,
            )
        except redis.ResponseError as e:
            if "NOGROUP" in str(e):  # a stream was deleted (or Redis restarted): recreate groups
                log.warning("consumer group %s missing (%s); recreating", self.group, e)
                self._groups.clear()
                return []
            raise
        entries = [Entry(text(stream), text(eid), fields) for stream, items in reply or [] for eid, fields in items]
        if self._read_backlog and not entries:
            self._read_backlog = False
        elif self._read_backlog:
            log.info("re-processing %d entries left pending by an earlier run", len(entries))
        return entries

    def _claim(self, streams: list[str]) -> list[Entry]:
        """Entries pending at least claim_idle_ms in workers of this group whose heartbeat has lapsed.

        Idle time alone cannot tell a dead worker from a slow one: on a busy machine one frame can
        take longer than any fixed idle time, and claiming it from a live worker does it twice."""
        pipe = self.redis.pipeline(transaction=False)
        for stream in streams:
            pipe.xpending(stream, self.group)
        holders = {(stream, text(c["name"])) for stream, summary in zip(streams, pipe.execute())
                   for c in summary.get("consumers") or [] if text(c["name"]) != self.worker}
        if not holders:
            return []
        names = sorted({name for _, name in holders})
        alive = dict(zip(names, self._alive(names)))
        claimed: list[Entry] = []
        for stream, name in sorted(holders):
            if not alive[name]:
                claimed.extend(self._claim_from(stream, name))
        if claimed:
            log.info("claimed %d entries left pending by a worker whose heartbeat lapsed", len(claimed))
            for e in claimed:
                self.stats.count(self.camera_of(e.stream), "claimed")
        return claimed

    def _alive(self, workers: list[str]) -> list[bool]:
        pipe = self.redis.pipeline(transaction=False)
        for worker in workers:
            pipe.exists(self.keys.health(self.service, worker))
        return [bool(n) for n in pipe.execute()]

    def _claim_from(self, stream: str, holder: str) -> list[Entry]:
        idle = self.options.claim_idle_ms
        pending = self.redis.xpending_range(stream, self.group, min="-", max="+", count=100,
                                            consumername=holder, idle=idle)
        ids = [text(p["message_id"]) for p in pending]
        if not ids:
            return []
        got = {text(eid): fields for eid, fields in self.redis.xclaim(stream, self.group, self.worker, idle, ids)
               if fields is not None}
        # Redis drops from the group's pending list, without returning them, entries trimmed from the
        # stream meanwhile; those that still exist were claimed by another worker first.
        missing = [eid for eid in ids if eid not in got]
        if missing:
            pipe = self.redis.pipeline(transaction=False)
            for eid in missing:
                pipe.xrange(stream, eid, eid)
            trimmed = sum(not found for found in pipe.execute())
            if trimmed:
                self.stats.count(self.camera_of(stream), "lost_trimmed", trimmed)
                log.warning("%d pending entries of %s were trimmed before any worker finished them", trimmed, stream)
        return [Entry(stream, eid, fields) for eid, fields in got.items()]
