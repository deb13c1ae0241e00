"""Per-camera counters and processing times a person can read: in logs, and in Redis.

Each worker keeps its own counts, logs a line every `report_every_s`, and writes the same
numbers as JSON to the hash `stats:<service>` (field = worker id), so `signstream stats`
or `redis-cli HGETALL stats:keypoints` shows every worker at once.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict, deque

import numpy as np

log = logging.getLogger(__name__)

TIMING_WINDOW = 500  # most recent processing times kept per camera for mean and p95


class Stats:
    def __init__(self, service: str, worker: str, report_every_s: float = 10.0):
        self.service = service
        self.worker = worker
        self.report_every_s = report_every_s
        self.started = time.monotonic()
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.times_ms: dict[str, deque] = defaultdict(lambda: deque(maxlen=TIMING_WINDOW))
        self._last_report = time.monotonic()
        self.stopped = False  # set for the last report of a clean stop, so health tells it from a crash

    def count(self, camera: str, what: str, n: int = 1) -> None:
        self.counts[camera][what] += n

    def observe_ms(self, camera: str, ms: float) -> None:
        self.times_ms[camera].append(ms)

    def total(self, what: str) -> int:
        return sum(c[what] for c in self.counts.values())

    def snapshot(self) -> dict:
        cameras = {}
        for camera in sorted(set(self.counts) | set(self.times_ms)):
            entry: dict = dict(self.counts[camera])
            times = self.times_ms.get(camera)
            if times:
                arr = np.fromiter(times, dtype=float)
                entry["mean_ms"] = round(float(arr.mean()), 2)
                entry["p95_ms"] = round(float(np.percentile(arr, 95)), 2)
            cameras[camera] = entry
        return {
            "service": self.service,
            "worker": self.worker,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "updated_ms": int(time.time() * 1000),
            "cameras": cameras,
            **({"stopped": True} if self.stopped else {}),
        }

    def due(self) -> bool:
        return time.monotonic() - self._last_report >= self.report_every_s

    def report(self, redis_client, key: str) -> None:
        """Log one line per camera and store the snapshot in Redis."""
        self._last_report = time.monotonic()
        snap = self.snapshot()
        for camera, entry in snap["cameras"].items():
            log.info("camera %s: %s", camera, " ".join(f"{k}={v}" for k, v in sorted(entry.items())))
        redis_client.hset(key, self.worker, json.dumps(snap))

    def summary(self) -> str:
        parts = [f"{what} {n}" for what, n in sorted(sum(self.counts.values(), Counter()).items())]
        return " ◆ ".join(parts) if parts else "nothing processed"
