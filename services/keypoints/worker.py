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
from shared.errors import MalformedMessage
from shared.keys import FRAMES_PREFIX, GROUP_KEYPOINTS
from shared.messages import FrameMessage, KeypointsMessage, now_ms

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
        self.stats.count(camera, "in")
        if now_ms() - frame.capture_ts_ms > self.max_age_ms:
            self.stats.count(camera, "dropped_old")  # acknowledged by the caller, never processed
            return
        if frame.encoding != "jpeg":
            raise MalformedMessage(f"frame encoding {frame.encoding!r}, expected 'jpeg'")
        started = time.perf_counter()
        image = decode_jpeg(frame.data)
        vector, parts = self.trackers.extract(camera, image)
        processing_ms = (time.perf_counter() - started) * 1000
        message = KeypointsMessage.from_vector(
            vector=vector, camera=frame.camera, seq=frame.seq, capture_ts_ms=frame.capture_ts_ms, parts=parts,
            worker=self.worker, processing_ms=round(processing_ms, 2),
        )
        pipe.xadd(self.keys.keypoints(camera), message.encode(), maxlen=self.stream_maxlen, approximate=True)
        self.stats.count(camera, "out")
        self.stats.observe_ms(camera, processing_ms)

    def on_stop(self) -> None:
        self.trackers.close()
