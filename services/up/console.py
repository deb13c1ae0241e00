"""What `signstream up` shows in the terminal: each detection as it happens, and a status line."""

from __future__ import annotations

import json
import time

import redis

from shared.keys import Keys
from shared.messages import Detection


class Console:
    def __init__(self, client: redis.Redis, keys: Keys, out=print):
        self.redis = client
        self.keys = keys
        self.out = out
        self._last_id = "$"

    def detections(self, block_ms: int) -> None:
        reply = self.redis.xread({self.keys.detections: self._last_id}, block=block_ms, count=100)
        for _, items in reply or []:
            for entry_id, fields in items:
                self._last_id = entry_id
                d = Detection.decode(fields)
                clock = time.strftime("%H:%M:%S", time.localtime(d.ts_end / 1000))
                self.out(f"{clock}  {d.camera:<16} {d.label:<12} {d.confidence:5.0%}  (model {d.model})")

    def status(self) -> None:
        cameras = {k.decode(): json.loads(v) for k, v in self.redis.hgetall(self.keys.cameras).items()}
        keypoints_out: dict[str, int] = {}
        for raw in self.redis.hvals(self.keys.stats("keypoints")):
            for camera, counts in json.loads(raw).get("cameras", {}).items():
                keypoints_out[camera] = keypoints_out.get(camera, 0) + counts.get("out", 0)
        parts = []
        for camera, info in sorted(cameras.items()):
            parts.append(f"{camera}: {info.get('status', '?')}, {info.get('frames_sent', 0)} frames, "
                         f"{keypoints_out.get(camera, 0)} keypoint vectors")
        self.out("status  " + ("; ".join(parts) if parts else "no camera has registered yet"))
