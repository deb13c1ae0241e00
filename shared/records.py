"""The two hashes every service reads: `cameras` and `stats:<service>`, one record class each.

Capture writes a `CameraRecord` per camera (field = camera id); every worker writes a
`StatsSnapshot` (field = worker id). Each has one encode, used by its writer, and one decode,
used by every reader, which refuses with DecodeError what no writer of ours writes (text that is
not JSON, a list, a count that is text), so one bad field is one skipped entry, never a traceback.
Keys a reader does not know are ignored: a newer writer may add some.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from shared.errors import DecodeError

_NUMBER = (int, float)


def _object(raw: bytes | str | None, what: str) -> dict:
    try:
        obj = json.loads(raw) if raw is not None else None
    except (ValueError, TypeError):
        raise DecodeError(f"{what} is not JSON") from None
    if not isinstance(obj, dict):
        raise DecodeError(f"{what} is a JSON {type(obj).__name__}, expected an object")
    return obj


def _is(value, kind) -> bool:
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, kind)


def _typed(cls, obj: dict, kinds: dict[str, tuple], what: str) -> dict:
    """The known keys of `obj`, each checked against its kinds (None allowed where listed)."""
    out = {}
    for f in fields(cls):
        if f.name not in obj:
            continue
        value = obj[f.name]
        if not any(value is None if kind is None else _is(value, kind) for kind in kinds[f.name]):
            raise DecodeError(f"{what}: {f.name} is {type(value).__name__}")
        out[f.name] = value
    return out


@dataclass(frozen=True)
class CameraRecord:
    """One camera as its capture announces it, about once a second."""

    source: str = "?"
    kind: str = "capture"  # capture (frames, keypoints made by the workers) or browser (keypoints made on the device)
    status: str = "?"  # running, reopening, ended
    fps: float = 0.0
    width: int | None = None
    height: int | None = None
    last_seen_ms: int = 0
    frames_sent: int = 0
    started_ms: int | None = None  # when this run of capture began, and its first seq
    first_seq: int | None = None

    KINDS = {"source": (str,), "kind": (str,), "status": (str,), "fps": (_NUMBER,), "width": (int, None), "height": (int, None),
             "last_seen_ms": (int,), "frames_sent": (int,), "started_ms": (int, None), "first_seq": (int, None)}

    def encode(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes | str | None) -> CameraRecord:
        return cls(**_typed(cls, _object(raw, "camera record"), cls.KINDS, "camera record"))

    def as_dict(self) -> dict:
        return asdict(self)


def _counts(cameras: object) -> dict[str, dict]:
    """camera -> its counters (numbers) and timing histograms (objects), as Stats writes them."""
    if not isinstance(cameras, dict):
        raise DecodeError(f"stats snapshot: cameras is {type(cameras).__name__}")
    for camera, counts in cameras.items():
        if not isinstance(counts, dict) or not all(
                _is(v, _NUMBER) or (isinstance(v, dict) and all(isinstance(h, dict) for h in v.values()))
                for v in counts.values()):
            raise DecodeError(f"stats snapshot: counts of {str(camera)[:64]!r} are not numbers")
    return cameras


@dataclass(frozen=True)
class StatsSnapshot:
    """One worker's counters and timings, written every few seconds and at its stop."""

    service: str = ""
    worker: str = ""
    uptime_s: float = 0.0
    updated_ms: int = 0
    cameras: dict = field(default_factory=dict)  # camera -> {counter: n, "mean_ms", "p95_ms", "histograms_ms": {...}}
    info: dict = field(default_factory=dict)  # what the worker runs now (the classifier's model version)
    stopped: bool = False  # its last report of a clean stop

    KINDS = {"service": (str,), "worker": (str,), "uptime_s": (_NUMBER,), "updated_ms": (int,), "cameras": (dict,),
             "info": (dict,), "stopped": (bool,)}

    def encode(self) -> str:
        return json.dumps(self.as_dict())

    @classmethod
    def decode(cls, raw: bytes | str | None) -> StatsSnapshot:
        values = _typed(cls, _object(raw, "stats snapshot"), cls.KINDS, "stats snapshot")
        if "cameras" in values:
            _counts(values["cameras"])
        if not all(isinstance(v, str) for v in values.get("info", {}).values()):
            raise DecodeError("stats snapshot: info values are not text")
        return cls(**values)

    def as_dict(self) -> dict:
        out = asdict(self)
        if not self.info:
            del out["info"]
        if not self.stopped:
            del out["stopped"]
        return out
