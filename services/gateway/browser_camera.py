"""A browser as a camera: keypoints made on the user's device arrive over a WebSocket.

The page runs MediaPipe Holistic itself and sends, for each frame it processed, one message to
`/api/cameras/<camera>/keypoints`: binary (what the /camera page sends: 16 bytes of header,
little-endian float64 capture time in Unix ms, uint32 sequence number, uint32 parts found as bits
1 pose, 2 face, 4 left hand, 8 right hand; then the 1662 floats as little-endian float32, 6664
bytes in all) or a JSON text message `{"capture_ts_ms": <its clock>, "parts": [...], "vector":
[1662 numbers]}`, which is simpler to write and costs the gateway several times more to read. The
gateway writes each vector to `keypoints:<camera>` as a keypoint worker would (`KeypointsMessage`,
`made_on: "browser"`), so the classifier, detections, dashboard, metrics and every subscriber
treat the camera like any other, and registers the camera in `cameras` with kind `browser`. Back
on the same socket come the camera's predictions and detections (`{"type": "prediction" |
"detection", ...}`) and, for a message refused, `{"type": "refused", "reason": ...}`; refused
messages are counted and never reach Redis.

Time is the gateway's: the device's clock only spaces the frames (its offset is taken at the first
message of a connection), and each frame's slot (seq) is its capture time at the classifier's
frame rate. A device slower than that leaves slots empty, reported at once as gaps, exactly as
frames an overloaded keypoint worker drops; windows still span 2 s of capture, as in training, and
are classified while they hold `--min-frames` real frames (5: a device at 2.5 fps or more;
bench/results/frame_rate.md). A device faster than the rate has its extra frames dropped
(counted). A client that reconnects continues its camera: same slots, same run.

Limits per connection, each closing it with a reason a person can read: message size (close 1009),
messages a second (1008), cameras open at once on this gateway (1008); a bad camera id closes with
4400, a missing token with 4401 (the token middleware, as for every route).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import redis.asyncio
from fastapi import WebSocket, WebSocketDisconnect

from services.gateway.live import Hub
from shared.codec import VECTOR_SIZE
from shared.errors import DecodeError, MalformedMessage
from shared.keys import CAMERA_ID, Keys
from shared.messages import FrameGap, KeypointsMessage, now_ms
from shared.records import CameraRecord

log = logging.getLogger(__name__)

HEADER = struct.Struct("<dII")  # capture_ts_ms, seq, parts bits: a binary message's first 16 bytes
BINARY_SIZE = HEADER.size + VECTOR_SIZE * 4
PART_BITS = (("pose", 1), ("face", 2), ("left_hand", 4), ("right_hand", 8))
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
    """What a browser camera keeps across its connections: its run's start (its first frame) and its slots."""
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


Write = Callable[[redis.asyncio.client.Pipeline], object]  # one command queued on a pipeline


@dataclass
class _Batch:
    writes: list[Write]
    done: asyncio.Future


class RedisBatcher:
    """Every browser camera's writes of one event-loop turn in one pipeline: a round trip per turn
    rather than per vector, which was the gateway's largest cost with many cameras, and one Redis
    connection rather than one per camera (200 cameras registering at once emptied the pool). A
    camera awaits its writes' batch before reading its next message, so its entries stay in order."""

    def __init__(self, client: redis.asyncio.Redis):
        self.client = client
        self._batch: _Batch | None = None

    async def write(self, writes: list[Write]) -> None:
        """Queue the writes; return once Redis took them, or raise what it raised for their batch."""
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch([], asyncio.get_running_loop().create_future())
            asyncio.create_task(self._flush(batch))
        batch.writes.extend(writes)
        await batch.done

    async def _flush(self, batch: _Batch) -> None:
        await asyncio.sleep(0)  # the other connections' messages of this turn join the batch
        self._batch = None
        pipe = self.client.pipeline(transaction=False)
        for write in batch.writes:
            write(pipe)
        try:
            await pipe.execute()
        except Exception as e:  # every camera of the batch hears of it
            batch.done.set_exception(e)
        else:
            batch.done.set_result(None)


class BrowserCameras:
    def __init__(self, client: redis.asyncio.Redis, keys: Keys, hubs: dict[str, Hub], limits: Limits,
                 stream_maxlen: int = 10_000):
        self.client = client
        self.batcher = RedisBatcher(client)
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
        except redis.RedisError as e:  # the device reconnects and continues; nothing it sent is lost silently
            log.warning("browser camera %s: Redis failed (%s); closing its socket so that it reconnects", camera, e)
            await self._close(ws, 1011, "the server cannot reach its Redis now: reconnect in a moment")
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
                if offset_ms is None:  # a connection's first frame is now, and at least a slot after the last one placed
                    offset_ms = max(now_ms(), run.last_ts_ms + math.ceil(1000 / FPS)) - capture_ts
                await self._write(camera, run, capture_ts + offset_ms, parts, vector)
            except (DecodeError, MalformedMessage) as e:
                self.counters.refused += 1
                await ws.send_json({"type": "refused", "reason": str(e)[:300]})
                continue
            if now - registered >= REGISTER_EVERY_S:
                registered = now
                await self._register(camera, run, "running")

    async def _write(self, camera: str, run: CameraRun, capture_ts_ms: int, parts: tuple[str, ...],
                     vector: np.ndarray) -> None:
        if run.first_seq is None:  # slots count from the first frame: a page may load Holistic for half a minute first
            run.started_ms = capture_ts_ms
        seq = max(0, int((capture_ts_ms - run.started_ms) * FPS / 1000))
        if seq <= run.last_seq:
            self.counters.too_fast += 1  # two frames in one slot: the first one stands
            return
        message = KeypointsMessage.from_vector(
            vector=vector, camera=camera, seq=seq, capture_ts_ms=capture_ts_ms, parts=parts,
            worker="browser", processing_ms=0.0, made_on="browser")
        stream, maxlen = self.keys.keypoints(camera), self.stream_maxlen
        gaps = [FrameGap(camera=camera, seq=empty, capture_ts_ms=run.started_ms + int(empty * 1000 / FPS),
                         reason="not sent by the browser", worker="browser").encode()
                for empty in range(max(run.last_seq + 1, seq - MAX_GAPS), seq)]
        await self.batcher.write([lambda pipe, fields=fields: pipe.xadd(stream, fields, maxlen=maxlen, approximate=True)
                                  for fields in (*gaps, message.encode())])
        if run.first_seq is None:
            run.first_seq = seq
        run.last_seq, run.last_ts_ms = seq, capture_ts_ms
        run.frames_sent += 1
        self.counters.accepted += 1

    async def _register(self, camera: str, run: CameraRun, status: str) -> None:
        record = CameraRecord(source="browser", kind="browser", status=status, fps=FPS, last_seen_ms=now_ms(),
                              frames_sent=run.frames_sent, started_ms=run.started_ms, first_seq=run.first_seq)
        try:
            await self.batcher.write([lambda pipe: pipe.hset(self.keys.cameras, camera, record.encode())])
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


def parse(data: str | bytes) -> tuple[int, tuple[str, ...], np.ndarray]:
    """One message of the page: (capture time on its clock, parts found, the vector)."""
    if isinstance(data, bytes):
        return parse_binary(data)
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise DecodeError("not JSON: send {\"capture_ts_ms\": ..., \"parts\": [...], \"vector\": [1662 numbers]}") from None
    if not isinstance(body, dict):
        raise DecodeError("a message is a JSON object with capture_ts_ms, parts and vector")
    ts, parts, vector = body.get("capture_ts_ms"), body.get("parts", []), body.get("vector")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        raise DecodeError("capture_ts_ms must be the frame's time in Unix milliseconds")
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise DecodeError("parts must be a list of the parts found, e.g. [\"pose\", \"right_hand\"]")
    if not isinstance(vector, list) or len(vector) != VECTOR_SIZE:
        raise DecodeError(f"vector must be a list of {VECTOR_SIZE} numbers (pose, face, left hand, right hand)")
    try:
        floats = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError):
        raise DecodeError(f"vector must hold {VECTOR_SIZE} numbers") from None
    return _checked_time(ts), tuple(parts), floats


def parse_binary(data: bytes) -> tuple[int, tuple[str, ...], np.ndarray]:
    if len(data) != BINARY_SIZE:
        raise DecodeError(f"a binary message is {BINARY_SIZE} bytes (16 of header, {VECTOR_SIZE} float32), not {len(data)}")
    ts, _seq, bits = HEADER.unpack_from(data)
    parts = tuple(name for name, bit in PART_BITS if bits & bit)
    return _checked_time(ts), parts, np.frombuffer(data, "<f4", VECTOR_SIZE, HEADER.size)


def _checked_time(ts: float) -> int:
    if not 0 < ts < 2**53:  # NaN fails too
        raise DecodeError("capture_ts_ms must be the frame's time in Unix milliseconds")
    return int(ts)
