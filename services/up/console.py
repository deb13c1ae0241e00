"""What `signstream up` shows in the terminal: each detection as it happens, and a status line."""

from __future__ import annotations

import time

import redis

from shared.errors import DecodeError
from shared.keys import Keys
from shared.messages import Detection
from shared.records import CameraRecord, StatsSnapshot


class Console:
    def __init__(self, client: redis.Redis, keys: Keys, out=print):
        self.redis = client
        self.keys = keys
        self.out = out
        self._last_id = "$"
        self.unreadable = 0

    def detections(self, block_ms: int) -> None:
        reply = self.redis.xread({self.keys.detections: self._last_id}, block=block_ms, count=100)
        for _, items in reply or []:
            for entry_id, fields in items:
                self._last_id = entry_id
                try:
                    d = Detection.decode(fields)
                except DecodeError:
                    self.unreadable += 1  # not ours to show; the terminal goes on
                    continue
                clock = time.strftime("%H:%M:%S", time.localtime(d.ts_end / 1000))
                self.out(f"{clock}  {d.camera:<16} {d.label:<12} {d.confidence:5.0%}  (model {d.model})")

    def status(self) -> None:
        cameras = dict(_decoded(self.redis.hgetall(self.keys.cameras), CameraRecord))
        keypoints_out: dict[str, int] = {}
        for _, snap in _decoded(self.redis.hgetall(self.keys.stats("keypoints")), StatsSnapshot):
            for camera, counts in snap.cameras.items():
                keypoints_out[camera] = keypoints_out.get(camera, 0) + counts.get("out", 0)
        parts = []
        for camera, info in sorted(cameras.items()):
            parts.append(f"{camera}: {info.status}, {info.frames_sent} frames, "
                         f"{keypoints_out.get(camera, 0)} keypoint vectors")
        self.out("status  " + ("; ".join(parts) if parts else "no camera has registered yet"))


def _decoded(entries: dict, record_class):
    """(name, record) of each entry of a hash that decodes; the others are skipped."""
    for name, raw in entries.items():
        try:
            yield name.decode(errors="replace"), record_class.decode(raw)
        except DecodeError:
            continue
