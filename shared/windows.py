"""Per-camera 30-frame windows on capture time: reorder, fill dropped frames, slide, say when to classify.

Capture numbers a camera's frames (seq) one per 1/fps s, so a seq is a slot of capture time.
Keypoint workers finish frames out of order, and under overload drop some (saying so on the
stream with a `FrameGap`). Windows are built on slots, not on arrivals, so that a window always
covers 30 slots = 30/fps s of capture, as the training windows did, whatever was dropped:

- A frame waits in a reorder buffer until its predecessors are placed. A seq reported dropped
  takes its slot at once. A seq nobody reports is given up once any later frame has waited
  `gap_wait_ms` since it arrived, so a run of holes costs one wait in all, not one each.
- A slot whose frame is missing repeats the frame before it (the model trained on windows with
  repeated frames). A window is classified only if it holds `min_frames` real frames, and only
  when it ends on a real frame.
- More than `max_hole_ms` of capture time without a real frame (a paused camera, a burst of
  drops) starts the window anew: a window never spans a hole.
- A seq far ahead of the window (a bug, a replay) is trusted only once the camera's frames in
  range stop coming. A frame with a lower seq but a newer capture time means the camera
  restarted its numbering. Either resets the camera's window, with a log line and a counter.

The classifier and the recorder (`signstream collect`) both build their windows here.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from shared.codec import VECTOR_SIZE, WINDOW
from shared.logs import Throttled

log = logging.getLogger(__name__)
throttled = Throttled(log)  # a flood of odd seqs is a few lines with counts, not a line each

START_FRAMES = 8  # a camera starts once this many frames are buffered (or the first has waited)
MAX_AHEAD = 2 * WINDOW  # seqs further ahead than this are suspect until the camera's numbering moves there
MAX_SUSPECTS = 2 * WINDOW
FOLLOW_AFTER = 3  # far-ahead frames it takes to believe a camera's numbering moved there
LATE_RUN = WINDOW  # frames in a row behind the window, with none placed, that mean the window is wrong


@dataclass
class ReadyWindow:
    camera: str
    seq: int  # the newest frame in the window
    capture_ts_ms: int  # of the newest frame
    first_ts_ms: int  # of the oldest slot
    frames: np.ndarray  # (30, 1662) float32
    real_frames: int  # slots holding a frame of their own (the rest repeat the one before)

    @property
    def span_ms(self) -> int:
        return self.capture_ts_ms - self.first_ts_ms


@dataclass
class _Arrival:
    vector: np.ndarray | None  # None: a worker dropped this frame
    capture_ts_ms: int
    arrived_ms: int


class CameraWindow:
    def __init__(self, camera: str, stride: int, gap_wait_ms: int, *, max_hole_ms: int = 1000,
                 min_frames: int = WINDOW // 3, start_after_holes: bool = False):
        self.camera = camera
        self.stride = stride
        self.gap_wait_ms = gap_wait_ms
        self.max_hole_ms = max_hole_ms
        self.min_frames = min_frames
        # Start after the last hole among the first frames, dropping those before it: for a reader that
        # joins a live stream, whose first frames may miss a predecessor that arrived just before it
        # began reading. The classifier starts at the lowest instead.
        self.start_after_holes = start_after_holes
        self.counts: Counter = Counter()  # late, skipped, dropped, filled, holes, resets, out_of_range
        self._started_ms: int | None = None  # the capture run last announced
        self._reset_state()

    def _reset_state(self) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, _Arrival] = {}
        self.suspects: dict[int, _Arrival] = {}  # far ahead of next_seq
        self._last_in_range_ms: int | None = None
        self._slots: deque = deque(maxlen=WINDOW)  # (vector, capture_ts_ms, real)
        self._last_real: tuple[int, np.ndarray, int] | None = None  # seq, vector, capture_ts_ms
        self._newest_ts: int | None = None  # newest capture time placed, frames and drops alike
        self._since_last = 0
        self._late_run = 0  # frames in a row that came behind the window

    def capture_started(self, started_ms: int) -> None:
        """Capture announced a (re)start at `started_ms`: frames from before it are another run."""
        seen, self._started_ms = self._started_ms, started_ms
        if seen is not None and started_ms != seen and self._newest_ts is not None and self._newest_ts < started_ms:
            self._reset("capture restarted")

    # --- taking frames -------------------------------------------------------------------------

    def add(self, seq: int, vector: np.ndarray, capture_ts_ms: int, now_ms: int) -> list[ReadyWindow]:
        """Take one frame; return the windows that became ready, in capture order."""
        if vector.shape != (VECTOR_SIZE,):
            raise ValueError(f"vector of shape {vector.shape}, expected ({VECTOR_SIZE},)")
        return self._arrive(seq, _Arrival(vector, capture_ts_ms, now_ms), now_ms)

    def add_gap(self, seq: int, capture_ts_ms: int, now_ms: int) -> list[ReadyWindow]:
        """A worker dropped this frame: its slot need not be waited for."""
        return self._arrive(seq, _Arrival(None, capture_ts_ms, now_ms), now_ms)

    def _arrive(self, seq: int, arrival: _Arrival, now_ms: int) -> list[ReadyWindow]:
        if self.next_seq is not None and seq < self.next_seq:
            if self._newest_ts is not None and arrival.capture_ts_ms > self._newest_ts and arrival.vector is not None:
                self._reset(f"seq went back from {self.next_seq - 1} to {seq} with a newer capture time "
                            "(capture restarted its numbering?)")
            else:
                self.counts["late"] += 1  # a redelivery, or a frame already given up on
                self._late_run += arrival.vector is not None
                if self._late_run < LATE_RUN:
                    return self.drain(now_ms)
                # Whatever put the window ahead (a forged entry, a clock far ahead), the camera's
                # frames are all behind it now: they are the truth.
                self._reset(f"{LATE_RUN} frames in a row came behind the window (seq {seq} < {self.next_seq})")
        elif seq in self.pending:
            self.counts["late"] += 1
            return self.drain(now_ms)
        if self.next_seq is not None and seq > self.next_seq + MAX_AHEAD:
            if len(self.suspects) >= MAX_SUSPECTS:
                del self.suspects[min(self.suspects)]
                self.counts["out_of_range"] += 1
            self.suspects[seq] = arrival
        else:
            self.pending[seq] = arrival
            self._last_in_range_ms = now_ms
        return self.drain(now_ms)

    # --- moving frames into the window ---------------------------------------------------------

    def drain(self, now_ms: int) -> list[ReadyWindow]:
        """Place every frame that is next in order; give up on holes that waited long enough."""
        ready: list[ReadyWindow] = []
        if self.next_seq is None and not self._start(now_ms):
            return ready
        self._judge_suspects(now_ms)
        while self.pending:
            arrival = self.pending.pop(self.next_seq, None)
            if arrival is not None:
                window = self._place(self.next_seq, arrival)
                if window is not None:
                    ready.append(window)
                self.next_seq += 1
                continue
            waited = now_ms - min(a.arrived_ms for a in self.pending.values())
            if waited < self.gap_wait_ms:
                break
            first = min(self.pending)
            self.counts["skipped"] += min(first - self.next_seq, MAX_AHEAD)  # slots, not a jump's distance
            self.next_seq = first
        return ready

    def _start(self, now_ms: int) -> bool:
        if not self.pending:
            return False
        waited = now_ms - min(a.arrived_ms for a in self.pending.values())
        if len(self.pending) < START_FRAMES and waited < self.gap_wait_ms:
            return False
        self.next_seq = min(self.pending)
        if self.start_after_holes:
            self.next_seq = max(seq for seq in self.pending if seq - 1 not in self.pending)
            for seq in [seq for seq in self.pending if seq < self.next_seq]:
                del self.pending[seq]
        far = [seq for seq in self.pending if seq > self.next_seq + MAX_AHEAD]
        for seq in far:
            self.suspects[seq] = self.pending.pop(seq)
        return True

    def _judge_suspects(self, now_ms: int) -> None:
        """Far-ahead frames: dropped if the camera went on in range after them; followed once several
        of them came and nothing in range did (one stray entry is never followed, however long the pause)."""
        if not self.suspects:
            return
        first_arrival = min(a.arrived_ms for a in self.suspects.values())
        in_range_since = self._last_in_range_ms is not None and self._last_in_range_ms >= first_arrival
        if (not in_range_since and len(self.suspects) >= FOLLOW_AFTER
                and now_ms - first_arrival >= self.gap_wait_ms):
            suspects, seq = self.suspects, min(self.suspects)
            self._reset(f"seq jumped ahead from {self.next_seq} to {seq} and the frames in range stopped")
            self.pending = suspects
            self._last_in_range_ms = now_ms
            self.next_seq = seq
            return
        for seq in sorted(self.suspects):
            arrival = self.suspects[seq]
            if (now_ms - arrival.arrived_ms >= self.gap_wait_ms and self._last_in_range_ms is not None
                    and self._last_in_range_ms >= arrival.arrived_ms):
                del self.suspects[seq]
                self.counts["out_of_range"] += 1
                throttled(logging.WARNING, f"ahead:{self.camera}",
                          "camera %s: frame seq %d is far ahead of the frames arriving (next %d); ignored",
                          self.camera, seq, self.next_seq)

    def _reset(self, why: str) -> None:
        throttled(logging.WARNING, f"reset:{self.camera}", "camera %s: %s; its window starts anew", self.camera, why)
        self.counts["resets"] += 1
        self._reset_state()

    def _place(self, seq: int, arrival: _Arrival) -> ReadyWindow | None:
        self._newest_ts = max(self._newest_ts or arrival.capture_ts_ms, arrival.capture_ts_ms)
        self._late_run = 0
        if arrival.vector is None:
            self.counts["dropped"] += 1
            return None  # its slot is filled when the next real frame comes
        last = self._last_real
        if last is not None:
            held = seq - last[0] - 1
            hole_ms = arrival.capture_ts_ms - last[2]
            if hole_ms > self.max_hole_ms or held >= WINDOW:
                self.counts["holes"] += 1
                self._slots.clear()
                self._since_last = 0
            else:
                for i in range(1, held + 1):  # repeat the last frame, at the times its successors were due
                    self._slots.append((last[1], last[2] + hole_ms * i // (held + 1), False))
                self.counts["filled"] += held
                self._since_last += held
        self._slots.append((arrival.vector, arrival.capture_ts_ms, True))
        self._since_last += 1
        self._last_real = (seq, arrival.vector, arrival.capture_ts_ms)
        if len(self._slots) < WINDOW or self._since_last < self.stride:
            return None
        real = sum(1 for _, _, is_real in self._slots if is_real)
        if real < self.min_frames:
            self.counts["sparse"] += 1
            return None
        self._since_last = 0
        frames = np.stack([v for v, _, _ in self._slots]).astype(np.float32, copy=False)
        return ReadyWindow(self.camera, seq, arrival.capture_ts_ms, self._slots[0][1], frames, real)


class Windows:
    """All cameras' windows, one per camera the caller names (the stream a frame came on)."""

    def __init__(self, stride: int, gap_wait_ms: int, *, max_hole_ms: int = 1000, min_frames: int = WINDOW // 3):
        self.options = dict(stride=stride, gap_wait_ms=gap_wait_ms)
        self.hole_options = dict(max_hole_ms=max_hole_ms, min_frames=min_frames)
        self.cameras: dict[str, CameraWindow] = {}

    def camera(self, camera: str) -> CameraWindow:
        if camera not in self.cameras:
            self.cameras[camera] = CameraWindow(camera, **self.options, **self.hole_options)
        return self.cameras[camera]

    def add(self, camera: str, seq: int, vector: np.ndarray, capture_ts_ms: int, now_ms: int) -> list[ReadyWindow]:
        return self.camera(camera).add(seq, vector, capture_ts_ms, now_ms)

    def add_gap(self, camera: str, seq: int, capture_ts_ms: int, now_ms: int) -> list[ReadyWindow]:
        return self.camera(camera).add_gap(seq, capture_ts_ms, now_ms)

    def capture_started(self, starts: dict[str, int]) -> None:
        for camera, started_ms in starts.items():
            if camera in self.cameras:
                self.cameras[camera].capture_started(started_ms)

    def keep_only(self, cameras: set[str]) -> None:
        """Forget the windows of cameras no longer registered, so their state cannot pile up."""
        for camera in set(self.cameras) - cameras:
            del self.cameras[camera]

    def flush_gaps(self, now_ms: int) -> list[ReadyWindow]:
        """Windows freed by holes that have now waited long enough (call when no frame arrives)."""
        ready: list[ReadyWindow] = []
        for window in self.cameras.values():
            ready.extend(window.drain(now_ms))
        return ready
