"""The keypoint worker: frames of every camera -> vectors on keypoints:<camera>."""

from __future__ import annotations

import logging
import threading
import time

import redis

from services.keypoints.extract import Trackers
from services.keypoints.settings import KeypointsSettings
from shared.cameras import CameraDirectory
from shared.codec import decode_jpeg, jpeg_size
from shared.consumer import ConsumerOptions, Entry, StreamConsumer
from shared.errors import DecodeError, MalformedMessage
from shared.keys import FRAMES_PREFIX, GROUP_KEYPOINTS
from shared.messages import FrameGap, FrameMessage, KeypointsMessage, now_ms

log = logging.getLogger(__name__)


class KeypointWorker(StreamConsumer):
    service = "keypoints"

    def __init__(self, client: redis.Redis, settings: KeypointsSettings, worker: str, stop: threading.Event):
        # Reading one frame per camera lets other workers share a camera's frames; dropping behind
        # needs to see what waits.
        count = settings.read_count if settings.drop_behind else 1
        options = ConsumerOptions(block_ms=settings.block_ms, count=count, claim_idle_ms=settings.claim_idle_ms)
        super().__init__(client, settings.keys, GROUP_KEYPOINTS, worker, stop, options, settings.stream_maxlen)
        self.settings = settings
        self.cameras = CameraDirectory(client, settings.keys, settings.keys.frames, settings.refresh_cameras_s,
                                       settings.idle_camera_s)
        self.trackers = Trackers(settings.min_detection_confidence, settings.min_tracking_confidence)
        self.max_age_ms = settings.max_age * 1000
        self._passes = 0

    def camera_of(self, stream: str) -> str:
        return self.keys.camera_of(stream, FRAMES_PREFIX)

    def streams(self) -> list[str]:
        cameras = self.cameras.names()
        self.trackers.keep_only(set(cameras))  # a camera gone quiet gives its tracker's memory back
        return [self.keys.frames(c) for c in cameras]

    def select(self, entries: list[Entry], pipe: redis.client.Pipeline) -> list[Entry]:
        """Under overload, keep each camera current: the newest waiting frame is processed, older ones dropped.

        Plain first-in-first-out with an age limit lets one camera's backlog crowd out another's
        (measured: a second camera kept 22% of its frames while the first kept all) and holds every
        camera at the age limit; newest-first gives each camera one frame per pass, as fresh as it gets.
        """
        if not self.settings.drop_behind:
            return entries
        newest: dict[str, Entry] = {}
        for entry in entries:
            newest[entry.stream] = entry  # XREADGROUP returns each stream's entries in order
        for entry in entries:
            if newest[entry.stream] is not entry:
                self._drop_behind(entry, pipe)
        order = list(newest.values())
        if len(order) > 1:  # no camera always goes first
            shift = self._passes % len(order)
            order = order[shift:] + order[:shift]
        self._passes += 1
        return order

    def _drop_behind(self, entry: Entry, pipe: redis.client.Pipeline) -> None:
        camera = self.camera_of(entry.stream)
        try:
            frame = FrameMessage.decode(entry.fields or {})
        except DecodeError as e:
            self.dead_in(pipe, entry, e)
        else:
            self.stats.count(camera, "in")
            self.stats.count(camera, "dropped_behind")
            if frame.camera == camera:
                self._gap(pipe, frame, "behind")
        pipe.xack(entry.stream, self.group, entry.id)

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
        width, height = jpeg_size(frame.data)
        # Decoding and tracking a huge frame holds a worker many seconds and gigabytes: refused unread.
        if width * height > self.settings.max_pixels:
            raise MalformedMessage(f"frame of {width}x{height} pixels is above --max-pixels {self.settings.max_pixels}: "
                                   f"send smaller frames (capture --max-width) or raise the limit")
        if (width, height) != (frame.width, frame.height):
            raise MalformedMessage(f"image is {width}x{height}, the frame says {frame.width}x{frame.height}")
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
