"""From per-window predictions to detections: the recipe's sentence logic, once per occurrence.

A sign is confirmed when the top label of `confirm_windows` consecutive windows of one camera
is the same and above `threshold`. It is then reported once; the same sign is reported again
only after the run is broken (another label, or confidence below the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Run:
    label: str | None = None
    count: int = 0
    ts_start: int = 0
    best: float = 0.0
    reported: bool = False


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
        self.runs: dict[str, Run] = {}

    def keep_only(self, cameras: set[str]) -> None:
        for camera in set(self.runs) - cameras:
            del self.runs[camera]

    def update(self, camera: str, label: str, confidence: float, ts_start: int, ts_end: int) -> Confirmed | None:
        run = self.runs.setdefault(camera, Run())
        if confidence < self.threshold or label in self.background:
            self.runs[camera] = Run()
            return None
        if label != run.label:
            run = self.runs[camera] = Run(label=label, ts_start=ts_start)
        run.count += 1
        run.best = max(run.best, confidence)
        if run.count >= self.confirm_windows and not run.reported:
            run.reported = True
            return Confirmed(camera, label, run.best, run.ts_start, ts_end)
        return None
