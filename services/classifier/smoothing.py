"""From per-window predictions to detections: one detection per performed sign.

A sign is confirmed when the top label of `confirm_windows` consecutive windows of one camera
is the same and above `threshold`. It is reported once. Windows overlap (30 frames, a new one
every few frames), so one performance is seen by many of them, and a run of them can break for
a window or two (the sign half out of the window, a hand lost for a frame) and resume: that is
still the same performance. So a run of a label that starts within the frames of that label's
last reported run (its first window begins before that run's last window ended) continues the
old occurrence and is not reported again. A sign held gives one detection; two signs in a row
give two; the same sign again is reported once its windows are new frames.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Run:
    label: str | None = None
    count: int = 0
    ts_start: int = 0
    best: float = 0.0
    reported: bool = False  # this run is an occurrence already reported (by it or by a run it continues)


@dataclass
class CameraState:
    run: Run = field(default_factory=Run)
    last_end: dict[str, int] = field(default_factory=dict)  # label -> end of its last reported run's frames


@dataclass(frozen=True)
class Confirmed:
    camera: str
    label: str
    confidence: float
    ts_start: int
    ts_end: int


class Smoother:
    def __init__(self, threshold: float, confirm_windows: int, background: tuple[str, ...] = ()):
        self.threshold = threshold
        self.confirm_windows = confirm_windows
        self.background = set(background)  # labels that mean "no sign", never reported
        self.cameras: dict[str, CameraState] = {}
        self.continued: Counter = Counter()  # per camera: runs not reported, as they continued a reported occurrence

    def keep_only(self, cameras: set[str]) -> None:
        for camera in set(self.cameras) - cameras:
            del self.cameras[camera]
            self.continued.pop(camera, None)

    def update(self, camera: str, label: str, confidence: float, ts_start: int, ts_end: int) -> Confirmed | None:
        """Take one window's top label (its frames span ts_start..ts_end); return a new detection or None."""
        state = self.cameras.setdefault(camera, CameraState())
        if confidence < self.threshold or label in self.background:
            state.run = Run()
            return None
        run = state.run
        if label != run.label:
            run = state.run = Run(label=label, ts_start=ts_start)
        run.count += 1
        run.best = max(run.best, confidence)
        if run.reported:
            state.last_end[label] = ts_end
            return None
        if run.count < self.confirm_windows:
            return None
        run.reported = True
        overlaps = run.ts_start <= state.last_end.get(label, run.ts_start - 1)
        state.last_end[label] = ts_end
        if overlaps:
            self.continued[camera] += 1
            return None
        return Confirmed(camera, label, run.best, run.ts_start, ts_end)
