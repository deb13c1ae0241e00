"""Typed messages on the streams: one class per kind, one encode and one decode path each.

Two wire shapes, as DESIGN.md fixes them:
- envelopes (`frames:*`, `keypoints:*`): one field `msg` holding a msgpack map with a schema
  version, compact and binary;
- flat entries (`predictions`, `detections`, `models`, `train:*`, `dead`): plain text fields that
  any Redis client or `redis-cli XREAD` can read; dicts and lists are JSON text.

`decode` turns every failure into one `DecodeError`, which the consumer loop routes to `dead`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, get_type_hints

import numpy as np

from shared.codec import pack, unpack, vector_from_bytes, vector_to_bytes
from shared.errors import DecodeError
from shared.keys import check_camera_id

ENVELOPE_FIELD = "msg"
GAP_FIELD = "gap"
PARTS = ("pose", "face", "left_hand", "right_hand")
MADE_ON = ("server", "browser")
MAX_SEQ = 2**53  # what a JSON reader (and a float) still holds exactly
MAX_SIDE = 16384  # pixels: no camera delivers more, and a larger claim is a bad or hostile entry
MAX_FRAME_BYTES = 32 * 1024 * 1024
MAX_TEXT = 128  # worker ids and other short names inside envelopes
MAX_FUTURE_MS = 60_000  # clocks of two machines differ by less; more is a wrong clock or a forged entry
MAX_KEYPOINT = 1e4  # image-normalised coordinates: recorded data stays within 5, odd images (8x4000) reach 110
DEAD_VALUE_CHARS = 512  # a dead letter keeps at most this much of each original field
DEAD_PAYLOAD_CHARS = 2048  # and this much of all of them

T = TypeVar("T")


def now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def _fields_text(fields: Mapping) -> dict[str, Any]:
    # A field name that is not UTF-8 is no name of ours: shown, never a crash of the reader.
    return {k.decode(errors="replace") if isinstance(k, (bytes, bytearray)) else str(k): v for k, v in fields.items()}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """A message class's field types, resolved once (typing resolves them anew on every call)."""
    return get_type_hints(cls)


@functools.cache
def _fields(cls: type) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(cls)


class Envelope:
    """A message carried as one msgpack map in one entry field (`msg`, unless the class says otherwise)."""

    SCHEMA: ClassVar[int] = 1
    FIELD: ClassVar[str] = ENVELOPE_FIELD

    def encode(self) -> dict[str, bytes]:
        # Shallow: every field is a plain value (asdict's deep copy costs more than the packing).
        body = {"v": self.SCHEMA, **{f.name: getattr(self, f.name) for f in _fields(type(self))}}
        return {self.FIELD: pack(body)}

    @classmethod
    def decode(cls: type[T], fields: Mapping) -> T:
        raw = _fields_text(fields).get(cls.FIELD)  # type: ignore[attr-defined]
        if raw is None:
            raise DecodeError(f"entry has no '{cls.FIELD}' field")  # type: ignore[attr-defined]
        body = unpack(raw if isinstance(raw, bytes) else _text(raw).encode())
        version = body.pop("v", None)
        if version != cls.SCHEMA:  # type: ignore[attr-defined]
            raise DecodeError(f"{cls.__name__} schema version {version!r}, expected {cls.SCHEMA}")  # type: ignore[attr-defined]
        hints = _hints(cls)
        fields_ = _fields(cls)
        # A field added later has a default, so entries written before it still read.
        missing = {f.name for f in fields_ if f.default is dataclasses.MISSING} - body.keys()
        if missing:
            raise DecodeError(f"{cls.__name__} lacks {sorted(missing)}")
        names = {f.name for f in fields_} & body.keys()
        try:
            values = {n: _coerce(hints[n], body[n]) for n in names}
            return cls(**values)
        except DecodeError:
            raise
        except (TypeError, ValueError) as e:
            raise DecodeError(f"{cls.__name__}: {e}") from e


def _check_header(camera: str, seq: int, capture_ts_ms: int) -> None:
    """What every per-frame envelope must hold before anything keys state or streams on it."""
    try:
        check_camera_id(camera)
    except ValueError as e:
        raise DecodeError(str(e)) from None
    if not 0 <= seq < MAX_SEQ:
        raise DecodeError(f"seq {seq} out of range [0, 2**53)")
    if not 0 < capture_ts_ms < MAX_SEQ:
        raise DecodeError(f"capture_ts_ms {capture_ts_ms} is not a Unix time in milliseconds")
    ahead_ms = capture_ts_ms - now_ms()
    if ahead_ms > MAX_FUTURE_MS:
        raise DecodeError(f"capture time is {ahead_ms / 1000:.0f} s ahead of this machine's clock: "
                          "check the clocks of capture and this machine (NTP)")


def _check_text(name: str, value: str) -> None:
    if len(value) > MAX_TEXT:
        raise DecodeError(f"{name} is {len(value)} characters, at most {MAX_TEXT}")


def _coerce(kind: Any, value: Any) -> Any:
    if kind is bytes:
        if not isinstance(value, bytes):
            raise TypeError(f"expected bytes, got {type(value).__name__}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected int, got {value!r}")
        return value
    if kind is float:
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {type(value).__name__}")
        return value
    if kind == tuple[str, ...]:
        return tuple(str(v) for v in value)
    return value


@dataclass(frozen=True)
class FrameMessage(Envelope):
    """One camera frame on `frames:<camera>`."""

    camera: str
    seq: int
    capture_ts_ms: int
    width: int
    height: int
    encoding: str
    data: bytes

    def __post_init__(self) -> None:
        _check_header(self.camera, self.seq, self.capture_ts_ms)
        if not (0 < self.width <= MAX_SIDE and 0 < self.height <= MAX_SIDE):
            raise DecodeError(f"frame size {self.width}x{self.height} outside 1..{MAX_SIDE} pixels a side")
        _check_text("encoding", self.encoding)
        if len(self.data) > MAX_FRAME_BYTES:
            raise DecodeError(f"frame data is {len(self.data)} bytes, at most {MAX_FRAME_BYTES}")


@dataclass(frozen=True)
class KeypointsMessage(Envelope):
    """One frame's 1662 keypoint floats on `keypoints:<camera>`."""

    camera: str
    seq: int
    capture_ts_ms: int
    vector_f32: bytes
    parts: tuple[str, ...]
    worker: str
    processing_ms: float
    made_on: str = "server"  # where MediaPipe ran: "server" (a keypoint worker) or "browser" (the camera page)

    @classmethod
    def from_vector(cls, *, vector: np.ndarray, **kw: Any) -> "KeypointsMessage":
        return cls(vector_f32=vector_to_bytes(vector), **kw)

    @property
    def vector(self) -> np.ndarray:
        return vector_from_bytes(self.vector_f32)

    def __post_init__(self) -> None:
        _check_header(self.camera, self.seq, self.capture_ts_ms)
        _check_text("worker", self.worker)
        if len(self.vector_f32) != 1662 * 4:
            raise DecodeError(f"keypoint vector is {len(self.vector_f32)} bytes, expected {1662 * 4}")
        vector = self.vector
        if not np.isfinite(vector).all():
            raise DecodeError("keypoint vector holds NaN or infinity")
        peak = float(np.abs(vector).max())
        if peak > MAX_KEYPOINT:
            raise DecodeError(f"keypoint vector holds {peak:.3g}: MediaPipe's image-normalised "
                              f"coordinates stay within {MAX_KEYPOINT:g}")
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise DecodeError(f"unknown parts {sorted(unknown)[:4]}")
        if self.made_on not in MADE_ON:
            raise DecodeError(f"made_on {self.made_on[:40]!r}, expected one of {MADE_ON}")


@dataclass(frozen=True)
class FrameGap(Envelope):
    """A frame a keypoint worker dropped (too old to be worth processing), on `keypoints:<camera>`.

    Written in the same transaction that acknowledges the frame, so the classifier knows at once
    that the slot will stay empty instead of waiting for it.
    """

    FIELD: ClassVar[str] = GAP_FIELD

    camera: str
    seq: int
    capture_ts_ms: int
    reason: str
    worker: str

    def __post_init__(self) -> None:
        _check_header(self.camera, self.seq, self.capture_ts_ms)
        _check_text("reason", self.reason)
        _check_text("worker", self.worker)


def decode_keypoints_entry(fields: Mapping) -> KeypointsMessage | FrameGap:
    """An entry of `keypoints:<camera>`: a frame's keypoints, or the news that a frame was dropped."""
    if GAP_FIELD in _fields_text(fields):
        return FrameGap.decode(fields)
    return KeypointsMessage.decode(fields)


class Flat:
    """A message carried as plain text fields: ints, floats, text; dicts and lists as JSON."""

    def encode(self) -> dict[str, str]:
        out = {}
        for f in _fields(type(self)):
            value = getattr(self, f.name)
            out[f.name] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
        return out

    @classmethod
    def decode(cls: type[T], fields: Mapping) -> T:
        hints = _hints(cls)
        values: dict[str, Any] = {}
        try:
            text = {k: _text(v) for k, v in _fields_text(fields).items()}
            for f in _fields(cls):
                if f.name not in text:
                    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                        continue
                    raise DecodeError(f"{cls.__name__} lacks field '{f.name}'")
                kind, raw = hints[f.name], text[f.name]
                if kind in (int, float, str):
                    values[f.name] = kind(raw)
                else:
                    values[f.name] = json.loads(raw)
            return cls(**values)
        except RecursionError:
            raise DecodeError(f"{cls.__name__}: JSON nested too deep") from None
        except (TypeError, ValueError) as e:
            raise DecodeError(f"{cls.__name__}: {e}") from e


@dataclass(frozen=True)
class Prediction(Flat):
    """One classified window on `predictions`."""

    camera: str
    seq: int
    ts: int
    label: str
    confidence: float
    probs: dict
    model: str
    latency_ms: float
    window_ms: int = 0  # capture time the window covers, oldest slot to newest frame
    frames: int = 30  # real frames in the window; the other slots repeat the frame before them


@dataclass(frozen=True)
class Detection(Flat):
    """A sign confirmed by smoothing over several windows, on `detections`."""

    camera: str
    label: str
    confidence: float
    ts_start: int
    ts_end: int
    model: str


@dataclass(frozen=True)
class ModelAnnouncement(Flat):
    """A promoted model version on `models`."""

    version: str
    path: str
    labels: list
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainRequest(Flat):
    """A request to train, on `train:requests`."""

    data: list
    options: dict = field(default_factory=dict)
    request_id: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.data, list) or not 1 <= len(self.data) <= 100 or not all(
                isinstance(p, str) and 0 < len(p) <= 4096 and "\0" not in p for p in self.data):
            raise DecodeError("data must be a JSON list of 1-100 paths (text of at most 4096 characters, no NUL)")
        if not isinstance(self.options, dict):
            raise DecodeError("options must be a JSON object, e.g. {\"epochs\": 100}")
        _check_text("request_id", self.request_id)


@dataclass(frozen=True)
class TrainResult(Flat):
    """What came of a train request, on `train:results`."""

    request_id: str
    status: str
    version: str = ""
    promoted: int = 0
    reason: str = ""
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainProgress(Flat):
    """How far the trainer is with a request, in the `train:progress:<request_id>` hash: the epoch last
    finished (0 before the first) of at most `epochs`, with that epoch's validation accuracy."""

    request_id: str
    worker: str
    epoch: int
    epochs: int
    val_accuracy: float
    started_ms: int
    updated_ms: int


@dataclass(frozen=True)
class DeadLetter(Flat):
    """A message that could not be processed, copied to `dead` so nothing is lost silently."""

    service: str
    worker: str
    reason: str
    stream: str
    entry_id: str
    ts: int
    payload: str = ""  # the original fields as JSON text, bytes hex-encoded


def dead_payload(fields: Mapping, max_fields: int = 16) -> str:
    """The original entry's fields as JSON text, for `DeadLetter`, bounded in size.

    Binary values are hex-encoded. Values share DEAD_PAYLOAD_CHARS characters, at most
    DEAD_VALUE_CHARS each, and one that is cut says how long it was: enough to see what went wrong,
    while a flood of 5 MB entries cannot fill Redis with copies of itself.
    """
    out: dict[str, Any] = {}
    budget = DEAD_PAYLOAD_CHARS
    for i, (k, v) in enumerate(_fields_text(fields).items()):
        if i == max_fields:
            out["..."] = f"{len(fields) - max_fields} more fields left out"
            break
        k = k[:64]
        keep = max(0, min(DEAD_VALUE_CHARS, budget))
        if isinstance(v, (bytes, bytearray)):
            try:
                v = bytes(v).decode()
            except UnicodeDecodeError:
                part = bytes(v[:keep // 2])
                budget -= 2 * len(part)
                out[k] = {"hex": part.hex(), **({"bytes": len(v)} if len(v) > len(part) else {})}
                continue
        v = str(v)
        piece = v[:keep]
        while len(json.dumps(piece)) > keep + 2:  # escapes (control characters) count too
            piece = piece[:len(piece) // 2]
        budget -= len(json.dumps(piece))
        out[k] = v if piece == v else {"text": piece, "chars": len(v)}
    return json.dumps(out)
