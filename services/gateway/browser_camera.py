"""A browser as a camera: keypoints made on the user's device arrive over a WebSocket.

The page runs MediaPipe Holistic itself and sends, for each frame it processed, one JSON text
message `{"capture_ts_ms": <its clock>, "parts": [...], "vector": [1662 numbers]}` to
`/api/cameras/<camera>/keypoints`. The gateway writes each vector to `keypoints:<camera>` as a
keypoint worker would (`KeypointsMessage`, `made_on: "browser"`), so the classifier, detections,
dashboard, metrics and every subscriber treat the camera like any other, and registers the camera
in `cameras` with kind `browser`. Back on the same socket come the camera's predictions and
detections (`{"type": "prediction" | "detection", ...}`) and, for a message refused,
`{"type": "refused", "reason": ...}`; refused messages are counted and never reach Redis.

Time is the gateway's: the device's clock only spaces the frames (its offset is taken at the
first message of a connection), and each frame's slot (seq) is its capture time at the
classifier's frame rate. A device slower than that leaves slots empty, reported at once as gaps,
exactly as frames an overloaded keypoint worker drops; windows still span 2 s of capture, as in
training, and are classified while they hold `--min-frames` real frames (5: a device at 2.5 fps
or more; bench/results/frame_rate.md). A device faster than the rate has its extra frames dropped
(counted). A client that reconnects continues its camera: same slots, same run.

Limits per connection, each closing it with a reason a person can read: message size (close
1009), messages a second (1008), cameras open at once on this gateway (1008); a bad camera id
closes with 4400, a missing token with 4401 (the token middleware, as for every route).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import redis.asyncio
from fastapi import WebSocket, WebSocketDisconnect

from services.gateway.live import Hub
from shared.codec import VECTOR_SIZE
from shared.errors import DecodeError, MalformedMessage
from shared.keys import CAMERA_ID, Keys
from shared.messages import FrameGap, KeypointsMessage, now_ms
from shared.records import CameraRecord

log = logging.getLogger(__name__)

FPS = 15.0  # the slots the classifier's windows are built on, as capture numbers frames
MAX_GAPS = 30  # empty slots reported at once after a pause; a longer one starts the window anew anyway
REGISTER_EVERY_S = 1.0


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 64 * 1024  # a vector as JSON is about 20 KB
    max_per_second: float = 60.0  # four times the frame rate: room for bursts, none for a flood
    max_cameras: int = 16


@dataclass
class CameraRun:
    """What a browser camera keeps across its connections: its run's start and its slots."""
    started_ms: int
    first_seq: int | None = None
    last_seq: int = -1
    last_ts_ms: int = 0
    frames_sent: int = 0
    connections: int = 0


@dataclass
class BrowserCounters:
    accepted: int = 0
    refused: int = 0
    too_fast: int = 0
    closed: Counter = field(default_factory=Counter)  # reason -> connections closed for it


class BrowserCameras:
    def __init__(self, client: redis.asyncio.Redis, keys: Keys, hubs: dict[str, Hub], limits: Limits,
                 stream_maxlen: int = 10_000):
        self.client = client
        self.keys = keys
        self.hubs = hubs
        self.limits = limits
        self.stream_maxlen = stream_maxlen
        self.runs: dict[str, CameraRun] = {}
        self.counters = BrowserCounters()

    async def serve(self, ws: WebSocket, camera: str) -> None:
        await ws.accept()  # first, so that a refusal reaches the page with its code and reason
        if not CAMERA_ID.match(camera):
            await self._close(ws, 4400, "camera ids are 1-64 letters, digits, '_', '.' or '-'")
            return
        open_cameras = {c for c, run in self.runs.items() if run.connections}
        if camera not in open_cameras and len(open_cameras) >= self.limits.max_cameras:
            await self._close(ws, 1008, f"this gateway takes at most {self.limits.max_cameras} browser cameras at once")
            return
        run = self.runs.setdefault(camera, CameraRun(started_ms=now_ms()))
        run.connections += 1
        subs = [self.hubs[name].subscribe(camera) for name in ("predictions", "detections")]
        sender = asyncio.create_task(self._send_back(ws, subs))
        log.info("browser camera %s connected", camera)
        try:
            await self._receive(ws, camera, run)
        finally:
            sender.cancel()
            for name, sub in zip(("predictions", "detections"), subs):
                self.hubs[name].unsubscribe(sub)
            run.connections -= 1
            if not run.connections:
                await self._register(camera, run, "ended")
            log.info("browser camera %s disconnected", camera)

    async def _receive(self, ws: WebSocket, camera: str, run: CameraRun) -> None:
        offset_ms: int | None = None
        allowance, last = self.limits.max_per_second, time.monotonic()
        registered = 0.0
        while True:
            try:
                message = await ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text") if message.get("text") is not None else message.get("bytes") or b""
            if len(data) > self.limits.max_message_bytes:
                await self._close(ws, 1009, f"a message is at most {self.limits.max_message_bytes} bytes")
                return
            now = time.monotonic()
            allowance = min(self.limits.max_per_second, allowance + (now - last) * self.limits.max_per_second)
            last = now
            if allowance < 1:
                await self._close(ws, 1008, f"more than {self.limits.max_per_second:g} messages a second")
                return
            allowance -= 1
            try:
                capture_ts, parts, vector = parse(data)
                if offset_ms is None:  # a connection's first frame is now, and never before the last one placed
                    offset_ms = max(now_ms(), run.last_ts_ms + int(1000 / FPS)) - capture_ts
                await self._write(camera, run, capture_ts + offset_ms, parts, vector)
            except (DecodeError, MalformedMessage) as e:
                self.counters.refused += 1
                await ws.send_json({"type": "refused", "reason": str(e)[:300]})
                continue
            if now - registered >= REGISTER_EVERY_S:
                registered = now
                await self._register(camera, run, "running")

    async def _write(self, camera: str, run: CameraRun, capture_ts_ms: int, parts: tuple[str, ...],
                     vector: list) -> None:
        seq = max(0, int((capture_ts_ms - run.started_ms) * FPS / 1000))
        if seq <= run.last_seq:
            self.counters.too_fast += 1  # two frames in one slot: the first one stands
            return
        message = KeypointsMessage.from_vector(
            vector=_floats(vector), camera=camera, seq=seq, capture_ts_ms=capture_ts_ms, parts=parts,
            worker="browser", processing_ms=0.0, made_on="browser")
        pipe = self.client.pipeline(transaction=True)
        stream = self.keys.keypoints(camera)
        for empty in range(max(run.last_seq + 1, seq - MAX_GAPS), seq):
            gap = FrameGap(camera=camera, seq=empty, capture_ts_ms=run.started_ms + int(empty * 1000 / FPS),
                           reason="not sent by the browser", worker="browser")
            pipe.xadd(stream, gap.encode(), maxlen=self.stream_maxlen, approximate=True)
        pipe.xadd(stream, message.encode(), maxlen=self.stream_maxlen, approximate=True)
        await pipe.execute()
        if run.first_seq is None:
            run.first_seq = seq
        run.last_seq, run.last_ts_ms = seq, capture_ts_ms
        run.frames_sent += 1
        self.counters.accepted += 1

    async def _register(self, camera: str, run: CameraRun, status: str) -> None:
        record = CameraRecord(source="browser", kind="browser", status=status, fps=FPS, last_seen_ms=now_ms(),
                              frames_sent=run.frames_sent, started_ms=run.started_ms, first_seq=run.first_seq)
        try:
            await self.client.hset(self.keys.cameras, camera, record.encode())
        except redis.RedisError as e:
            log.warning("browser camera %s not registered in %s: %s", camera, self.keys.cameras, e)

    async def _send_back(self, ws: WebSocket, subs) -> None:
        """The camera's predictions and detections, as they come, until the connection ends."""
        queues = {asyncio.ensure_future(sub.queue.get()): (kind, sub) for kind, sub in zip(("prediction", "detection"), subs)}
        try:
            while True:
                done, _ = await asyncio.wait(queues, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    kind, sub = queues.pop(task)
                    event = task.result()
                    if event is None:  # the gateway is stopping
                        await self._close(ws, 1001, "the gateway is stopping: reconnect")
                        return
                    await ws.send_text(json.dumps({"type": kind, **event}))
                    queues[asyncio.ensure_future(sub.queue.get())] = (kind, sub)
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            for task in queues:
                task.cancel()

    async def _close(self, ws: WebSocket, code: int, reason: str) -> None:
        self.counters.closed[code] += 1
        try:
            await ws.close(code=code, reason=reason)
        except RuntimeError:
            pass  # already closed


def parse(data: str | bytes) -> tuple[int, tuple[str, ...], list]:
    """One message of the page: (capture time on its clock, parts found, the vector as a list)."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise DecodeError("not JSON: send {\"capture_ts_ms\": ..., \"parts\": [...], \"vector\": [1662 numbers]}") from None
    if not isinstance(body, dict):
        raise DecodeError("a message is a JSON object with capture_ts_ms, parts and vector")
    ts, parts, vector = body.get("capture_ts_ms"), body.get("parts", []), body.get("vector")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not 0 < ts < 2**53:
        raise DecodeError("capture_ts_ms must be the frame's time in Unix milliseconds")
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise DecodeError("parts must be a list of the parts found, e.g. [\"pose\", \"right_hand\"]")
    if not isinstance(vector, list) or len(vector) != VECTOR_SIZE:
        raise DecodeError(f"vector must be a list of {VECTOR_SIZE} numbers (pose, face, left hand, right hand)")
    return int(ts), tuple(parts), vector


def _floats(vector: list):
    import numpy as np

    try:
        return np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError):
        raise DecodeError(f"vector must hold {VECTOR_SIZE} numbers") from None
