"""Per-camera counters and processing times a person can read: in logs, and in Redis.

Each worker keeps its own counts, logs a line every `report_every_s`, and writes the same
numbers as JSON to the hash `stats:<service>` (field = worker id), so `signstream stats`
or `redis-cli HGETALL stats:keypoints` shows every worker at once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict, deque

import numpy as np

from shared.records import StatsSnapshot

log = logging.getLogger(__name__)

TIMING_WINDOW = 500  # most recent processing times kept per camera for mean and p95
# Upper bounds (ms) of the histogram buckets Prometheus gets: from a MediaPipe frame (20-60 ms)
# and a model call (under 1 ms a window) to a capture-to-prediction latency falling seconds behind.
BUCKETS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class Histogram:
    """Cumulative counts per bucket since start, as Prometheus histograms want them."""

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_MS) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, ms: float) -> None:
        self.counts[next((i for i, bound in enumerate(BUCKETS_MS) if ms <= bound), len(BUCKETS_MS))] += 1
        self.sum += ms

    def snapshot(self) -> StatsSnapshot:
        cumulative = np.cumsum(self.counts).tolist()
        return {"le": list(BUCKETS_MS), "buckets": cumulative[:-1], "count": cumulative[-1], "sum": round(self.sum, 3)}


class Stats:
    def __init__(self, service: str, worker: str, report_every_s: float = 10.0):
        self.service = service
        self.worker = worker
        self.report_every_s = report_every_s
        self.started = time.monotonic()
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.times_ms: dict[str, deque] = defaultdict(lambda: deque(maxlen=TIMING_WINDOW))
        self.histograms: dict[str, dict[str, Histogram]] = defaultdict(lambda: defaultdict(Histogram))
        self.info: dict[str, str] = {}  # what the worker runs now (the classifier's model version)
        self._last_report = time.monotonic()
        self.stopped = False  # set for the last report of a clean stop, so health tells it from a crash

    def count(self, camera: str, what: str, n: int = 1) -> None:
        self.counts[camera][what] += n

    def observe_ms(self, camera: str, ms: float, what: str = "processing") -> None:
        """A duration: `processing` (this worker's time per frame or window) feeds the logged mean
        and p95; every kind gets a histogram (`latency`: capture to prediction)."""
        if what == "processing":
            self.times_ms[camera].append(ms)
        self.histograms[camera][what].observe(ms)

    def total(self, what: str) -> int:
        return sum(c[what] for c in self.counts.values())

    def snapshot(self) -> StatsSnapshot:
        cameras = {}
        for camera in sorted(set(self.counts) | set(self.times_ms) | set(self.histograms)):
            entry: dict = dict(self.counts[camera])
            times = self.times_ms.get(camera)
            if times:
                arr = np.fromiter(times, dtype=float)
                entry["mean_ms"] = round(float(arr.mean()), 2)
                entry["p95_ms"] = round(float(np.percentile(arr, 95)), 2)
            if camera in self.histograms:
                entry["histograms_ms"] = {what: h.snapshot() for what, h in self.histograms[camera].items()}
            cameras[camera] = entry
        return StatsSnapshot(service=self.service, worker=self.worker, uptime_s=round(time.monotonic() - self.started, 1),
                             updated_ms=int(time.time() * 1000), cameras=cameras, info=dict(self.info),
                             stopped=self.stopped)

    def due(self) -> bool:
        return time.monotonic() - self._last_report >= self.report_every_s

    def report(self, redis_client, key: str) -> None:
        """Log one line per camera and store the snapshot in Redis."""
        self._last_report = time.monotonic()
        snap = self.snapshot()
        for camera, entry in snap.cameras.items():
            log.info("camera %s: %s", camera, " ".join(f"{k}={v}" for k, v in sorted(entry.items())
                                                       if not isinstance(v, dict)))
        redis_client.hset(key, self.worker, snap.encode())

    def summary(self) -> str:
        parts = [f"{what} {n}" for what, n in sorted(sum(self.counts.values(), Counter()).items())]
        return " ◆ ".join(parts) if parts else "nothing processed"
