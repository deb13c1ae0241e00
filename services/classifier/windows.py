"""Per-camera windows: put keypoint frames back in capture order, keep the last 30, say when to classify.

Several keypoint workers finish frames out of order. Frames wait in a small reorder buffer until
their predecessors arrive; a frame that never comes (dropped as too old, lost) is skipped once
the next one has waited `gap_wait_ms`, so one lost frame costs a short delay, not a stall.
A camera's first frame to arrive need not be its first in order, so a camera starts once
`START_FRAMES` frames are buffered or the oldest has waited `gap_wait_ms`, from the lowest seq.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from shared.codec import VECTOR_SIZE, WINDOW

START_FRAMES = 8


@dataclass
class ReadyWindow:
    camera: str
    seq: int  # the newest frame in the window
    capture_ts_ms: int  # of the newest frame
    first_ts_ms: int  # of the oldest frame
    frames: np.ndarray  # (30, 1662) float32


@dataclass
class CameraWindow:
    camera: str
    stride: int
    gap_wait_ms: int
    next_seq: int | None = None
    pending: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict)
    frames: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    newest_ts: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    since_last: int = 0
    gap_since_ms: int | None = None
    late: int = 0
    skipped: int = 0
    # Start after the last hole among the first frames, dropping those before it: for a reader that
    # joins a live stream, whose first frames may miss a predecessor that arrived just before it
    # began reading. The classifier starts at the lowest instead; the recorder needs no hole.
    start_after_holes: bool = False

    def add(self, seq: int, vector: np.ndarray, capture_ts_ms: int, now_ms: int) -> list[ReadyWindow]:
        """Take one frame; return the windows that became ready, in capture order."""
        if (self.next_seq is not None and seq < self.next_seq) or seq in self.pending:
            self.late += 1  # a redelivery, or a frame we already gave up waiting for
            return []
        self.pending[seq] = (vector, capture_ts_ms)
        return self.drain(now_ms)

    def drain(self, now_ms: int) -> list[ReadyWindow]:
        """Move every frame that is next in order into the window; skip a gap that waited too long."""
        ready: list[ReadyWindow] = []
        if self.next_seq is None and not self._start(now_ms):
            return ready
        while self.pending:
            if self.next_seq in self.pending:
                vector, ts = self.pending.pop(self.next_seq)
                self.gap_since_ms = None
                window = self._push(self.next_seq, vector, ts)
                if window is not None:
                    ready.append(window)
                self.next_seq += 1
                continue
            if self.gap_since_ms is None:
                self.gap_since_ms = now_ms
            if now_ms - self.gap_since_ms < self.gap_wait_ms:
                break
            first = min(self.pending)
            self.skipped += first - self.next_seq
            self.next_seq = first
        return ready

    def _start(self, now_ms: int) -> bool:
        if not self.pending:
            return False
        if self.gap_since_ms is None:
            self.gap_since_ms = now_ms
        if len(self.pending) < START_FRAMES and now_ms - self.gap_since_ms < self.gap_wait_ms:
            return False
        self.next_seq = min(self.pending)
        if self.start_after_holes:
            self.next_seq = max(seq for seq in self.pending if seq - 1 not in self.pending)
            for seq in [seq for seq in self.pending if seq < self.next_seq]:
                del self.pending[seq]
        return True

    def _push(self, seq: int, vector: np.ndarray, ts: int) -> ReadyWindow | None:
        self.frames.append(vector)
        self.newest_ts.append(ts)
        self.since_last += 1
        if len(self.frames) < WINDOW or self.since_last < self.stride:
            return None
        self.since_last = 0
        return ReadyWindow(self.camera, seq, ts, self.newest_ts[0], np.stack(self.frames).astype(np.float32, copy=False))


class Windows:
    """All cameras' windows."""

    def __init__(self, stride: int, gap_wait_ms: int):
        self.stride = stride
        self.gap_wait_ms = gap_wait_ms
        self.cameras: dict[str, CameraWindow] = {}

    def camera(self, camera: str) -> CameraWindow:
        if camera not in self.cameras:
            self.cameras[camera] = CameraWindow(camera, self.stride, self.gap_wait_ms)
        return self.cameras[camera]

    def add(self, camera: str, seq: int, vector: np.ndarray, capture_ts_ms: int, now_ms: int) -> list[ReadyWindow]:
        if vector.shape != (VECTOR_SIZE,):
            raise ValueError(f"vector of shape {vector.shape}, expected ({VECTOR_SIZE},)")
        return self.camera(camera).add(seq, vector, capture_ts_ms, now_ms)

    def flush_gaps(self, now_ms: int) -> list[ReadyWindow]:
        """Windows freed by gaps that have now waited long enough (call when no frame arrives)."""
        ready: list[ReadyWindow] = []
        for window in self.cameras.values():
            ready.extend(window.drain(now_ms))
        return ready
