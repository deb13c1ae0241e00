"""The keypoint worker: frames of every camera -> vectors on keypoints:<camera>."""

from __future__ import annotations

import logging
import threading
import time

import redis

from services.keypoints.extract import Trackers
from services.keypoints.settings import KeypointsSettings
from shared.cameras import CameraDirectory
from shared.codec import decode_jpeg
from shared.consumer import ConsumerOptions, Entry, StreamConsumer
from shared.errors import DecodeError, MalformedMessage
from shared.keys import FRAMES_PREFIX, GROUP_KEYPOINTS
from shared.messages import FrameGap, FrameMessage, KeypointsMessage, now_ms

log = logging.getLogger(__name__)


class KeypointWorker(StreamConsumer):
    service = "keypoints"

    def __init__(self, client: redis.Redis, settings: KeypointsSettings, worker: str, stop: threading.Event):
        options = ConsumerOptions(block_ms=settings.block_ms, count=1, claim_idle_ms=settings.claim_idle_ms)
        super().__init__(client, settings.keys, GROUP_KEYPOINTS, worker, stop, options, settings.stream_maxlen)
        self.settings = settings
        self.cameras = CameraDirectory(client, settings.keys, settings.refresh_cameras_s)
        self.trackers = Trackers(settings.min_detection_confidence, settings.min_tracking_confidence)
        self.max_age_ms = settings.max_age * 1000

    def camera_of(self, stream: str) -> str:
        return self.keys.camera_of(stream, FRAMES_PREFIX)

    def streams(self) -> list[str]:
        return [self.keys.frames(c) for c in self.cameras.names()]

    def handle(self, entry: Entry, pipe: redis.client.Pipeline) -> None:
        frame = FrameMessage.decode(entry.fields)
        camera = self.camera_of(entry.stream)
        if frame.camera != camera:
            raise DecodeError(f"frame names camera {frame.camera!r} but came on {entry.stream}")
        self.stats.count(camera, "in")
        if now_ms() - frame.capture_ts_ms > self.max_age_ms:
            self.stats.count(camera, "dropped_old")  # acknowledged by the caller, never processed
            self._gap(pipe, frame, "too old")
            return
        if frame.encoding != "jpeg":
            raise MalformedMessage(f"frame encoding {frame.encoding!r}, expected 'jpeg'")
        started = time.perf_counter()
        image = decode_jpeg(frame.data)
        if image.shape[:2] != (frame.height, frame.width):
            raise MalformedMessage(f"image is {image.shape[1]}x{image.shape[0]}, the frame says "
                                   f"{frame.width}x{frame.height}")
        vector, parts = self.trackers.extract(camera, image)
        processing_ms = (time.perf_counter() - started) * 1000
        message = KeypointsMessage.from_vector(
            vector=vector, camera=camera, seq=frame.seq, capture_ts_ms=frame.capture_ts_ms, parts=parts,
            worker=self.worker, processing_ms=round(processing_ms, 2),
        )
        pipe.xadd(self.keys.keypoints(camera), message.encode(), maxlen=self.stream_maxlen, approximate=True)
        self.stats.count(camera, "out")
        self.stats.observe_ms(camera, processing_ms)

    def dead_in(self, pipe: redis.client.Pipeline, entry: Entry, error: BaseException) -> None:
        super().dead_in(pipe, entry, error)
        # A frame whose header is sound but whose image is not leaves a known hole: say so, so the
        # classifier need not wait for it.
        try:
            frame = FrameMessage.decode(entry.fields or {})
            if frame.camera == self.camera_of(entry.stream):
                self._gap(pipe, frame, "undecodable")
        except (DecodeError, ValueError):
            pass

    def _gap(self, pipe: redis.client.Pipeline, frame: FrameMessage, reason: str) -> None:
        gap = FrameGap(camera=frame.camera, seq=frame.seq, capture_ts_ms=frame.capture_ts_ms, reason=reason,
                       worker=self.worker)
        pipe.xadd(self.keys.keypoints(frame.camera), gap.encode(), maxlen=self.stream_maxlen, approximate=True)

    def on_stop(self) -> None:
        self.trackers.close()
