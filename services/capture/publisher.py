"""The capture loop: read a source, keep --fps, resize, JPEG-encode, publish; heartbeat the camera.

A live source that fails or stops delivering is reopened with capped backoff. A file or folder
that ends is replayed with --loop, otherwise capture ends cleanly with a summary.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np
import redis

from services.capture.settings import CaptureSettings
from services.capture.sources import at_rate, open_source
from shared.codec import encode_jpeg
from shared.errors import DecodeError, SourceError
from shared.health import beat, clear
from shared.messages import MAX_SEQ, FrameMessage, now_ms
from shared.records import CameraRecord
from shared.redis_client import Backoff, redact_url, with_redis

log = logging.getLogger(__name__)


@dataclass
class CaptureSummary:
    frames_sent: int = 0
    frames_skipped: int = 0  # read from the source but not published, to keep --fps
    reopened: int = 0
    seconds: float = 0.0

    def line(self, camera: str) -> str:
        return (f"camera {camera}: {self.frames_sent} frames sent in {self.seconds:.1f} s "
                f"({self.frames_skipped} skipped to keep the rate, {self.reopened} reopens)")


def target_size(width: int, height: int, want_w: int | None, want_h: int | None,
                max_w: int | None = None) -> tuple[int, int]:
    """The size to publish: --width/--height when given, else the source's, scaled down to `max_w` wide."""
    if want_w and want_h:
        return want_w, want_h
    if want_w:
        return want_w, max(1, round(height * want_w / width))
    if want_h:
        return max(1, round(width * want_h / height)), want_h
    if max_w and width > max_w:
        return max_w, max(1, round(height * max_w / width))
    return width, height


def resized(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame at width x height, as capture publishes it.

    Bilinear interpolation reads 2x2 source pixels per output pixel, so down to half size it skips
    no detail, at a fifth of the cost of INTER_AREA at uneven ratios (1280x720 -> 960: 1.5 against
    6.7 ms a frame, keypoints 0.3 px apart, the same labels; bench/results/resize.md). Smaller than
    half, area averaging keeps fine detail from aliasing.
    """
    source_h, source_w = frame.shape[:2]
    if (width, height) == (source_w, source_h):
        return frame
    within_half = width * 2 >= source_w and height * 2 >= source_h
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR if within_half else cv2.INTER_AREA)


class Publisher:
    def __init__(self, client: redis.Redis, settings: CaptureSettings, stop: threading.Event):
        self.redis = client
        self.settings = settings
        self.stop = stop
        self.camera = settings.camera
        self.stream = settings.keys.frames(settings.camera)
        self.summary = CaptureSummary()
        self.seq = 0
        self.size: tuple[int, int] | None = None
        self._last_heartbeat = float("-inf")
        self.started_ms, self.first_seq = now_ms(), 0

    def _call(self, action, what: str):
        return with_redis(action, stop=self.stop, what=what, url=self.settings.redis_url)

    def run(self) -> CaptureSummary:
        started = time.monotonic()
        self.seq = self._call(self._next_seq, "reading the last seq") or 0
        # Announced in the cameras hash: readers know every frame of this run is at or after this
        # seq and time, whatever came before (a restart, numbering from 0 after Redis lost its data).
        self.started_ms, self.first_seq = now_ms(), self.seq
        log.info("camera %s starts at seq %d", self.camera, self.seq)
        backoff = Backoff(base_s=0.5, cap_s=self.settings.reopen_max_s)
        try:
            while not self.stop.is_set():
                try:
                    source = open_source(self.settings.source, self.settings.fps)
                except SourceError as e:
                    self._reopen_later(backoff, f"{e}")
                    continue
                try:
                    self._heartbeat("running", force=True)
                    delivered = self._publish_from(source)
                finally:
                    source.close()
                if self.stop.is_set() or self._limit_reached():
                    break
                if not source.kind.live:
                    if not self.settings.loop:
                        break
                    continue  # replay from the start
                if delivered:
                    backoff.reset()
                self._reopen_later(backoff, f"{source.kind.name} {self.settings.source!r} stopped delivering frames")
        finally:
            self.summary.seconds = time.monotonic() - started
            self._call(lambda: self._heartbeat("ended", force=True), "marking the camera ended")
        return self.summary

    def _limit_reached(self) -> bool:
        return 0 < self.settings.max_frames <= self.summary.frames_sent

    def _reopen_later(self, backoff: Backoff, why: str) -> None:
        delay = backoff.next_delay()
        log.warning("%s; reopening in %.1fs (attempt %d)", why, delay, backoff.failures)
        self.summary.reopened += 1
        self._call(lambda: self._heartbeat("reopening", force=True), "heartbeat")
        self.stop.wait(delay)

    def _publish_from(self, source) -> int:
        """Publish the frames of one opening of the source; return how many were published."""
        interval = 1.0 / self.settings.fps
        next_due = time.monotonic()
        published = 0
        for frame, _ in at_rate(source.frames(), self.settings.fps, self._count_skipped):
            if self.stop.is_set() or self._limit_reached():
                break
            if self.settings.pace:
                wait = next_due - time.monotonic()
                if wait > 0 and self.stop.wait(wait):
                    break
                next_due = max(next_due + interval, time.monotonic() - interval)
            captured_ms = now_ms()
            self._call(lambda: self._publish(frame, captured_ms), f"publishing to {self.stream}")
            published += 1
            self._call(self._heartbeat, "heartbeat")
        return published

    def _count_skipped(self) -> None:
        self.summary.frames_skipped += 1

    def _publish(self, frame: np.ndarray, captured_ms: int) -> None:
        height, width = frame.shape[:2]
        w, h = target_size(width, height, self.settings.width, self.settings.height, self.settings.max_width)
        frame = resized(frame, w, h)
        self.size = (w, h)
        message = FrameMessage(camera=self.camera, seq=self.seq, capture_ts_ms=captured_ms, width=w, height=h,
                               encoding="jpeg", data=encode_jpeg(frame, self.settings.jpeg_quality))
        self.redis.xadd(self.stream, message.encode(), maxlen=self.settings.frames_maxlen, approximate=True)
        self.seq += 1
        self.summary.frames_sent += 1

    def _next_seq(self) -> int:
        """After a restart, continue numbering after the last published frame: seq never repeats."""
        last = self.redis.xrevrange(self.stream, count=1)
        if not last:
            return 0
        try:
            after = FrameMessage.decode(last[0][1]).seq + 1
        except DecodeError:
            log.warning("last entry of %s is not a frame; numbering from 0", self.stream)
            return 0
        # No camera gets near 2**52 frames (9 million years at 15 fps): an entry that far is injected or
        # corrupt, and continuing after it would soon run out of numbers. Readers take the new run's
        # lower seq with newer capture times as a restart.
        if after >= MAX_SEQ // 2:
            log.warning("last entry of %s has seq %d, which no camera reaches; numbering from 0", self.stream, after - 1)
            return 0
        return after

    def _heartbeat(self, status: str = "running", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < self.settings.heartbeat_s:
            return
        self._last_heartbeat = now
        width, height = self.size or (self.settings.width, self.settings.height)
        source = redact_url(self.settings.source) if "://" in self.settings.source else self.settings.source
        record = CameraRecord(source=source, fps=self.settings.fps, width=width, height=height, last_seen_ms=now_ms(),
                              frames_sent=self.summary.frames_sent, status=status, started_ms=self.started_ms,
                              first_seq=self.first_seq)
        self.redis.hset(self.settings.keys.cameras, self.camera, record.encode())
        if status == "ended":
            clear(self.redis, self.settings.keys, "capture", self.camera)
        else:
            beat(self.redis, self.settings.keys, "capture", self.camera)
