"""From per-window predictions to detections: one detection per performed sign.

A sign is confirmed when the top label of `confirm_windows` consecutive windows of one camera
is the same and above `threshold`. It is reported once. A run of a label that starts within
`merge_within` of a window (a fifth: 0.4 s of a 2 s window) after that label's last reported
window began is that run resumed, and is not reported again. A sign held gives one detection,
two signs in a row give two. At the classifier's stride (a window every 3 frames) a run broken
for even one window starts again 0.21 of a window later, so it counts as a new sign: merging
that far (0.25) counted the same sign signed twice with the hands out of view between as one,
missing 0.21 of the signer streams' signs instead of 0.10 (the shipped model on its own
signers), to spare one looped clip a double count (bench/results/merge_within.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# A run of a label that starts within this share of a window after its last reported run's last window
# began is that run resumed. 0.2 leaves the signer streams' missed signs as they were (0.185 on the 12
# dev signers' streams with the shipped model; 0.35 at 0.5, 0.41 for any overlap) and removed the
# clips' double counts.
MERGE_WITHIN = 0.2


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
    # label -> (start, end) of its reported run's last window
    last_window: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Confirmed:
    camera: str
    label: str
    confidence: float
    ts_start: int
    ts_end: int


class Smoother:
    def __init__(self, threshold: float, confirm_windows: int, background: tuple[str, ...] = (),
                 merge_within: float = MERGE_WITHIN):
        self.threshold = threshold
        self.merge_within = merge_within
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
            state.last_window[label] = (ts_start, ts_end)
            return None
        if run.count < self.confirm_windows:
            return None
        run.reported = True
        last = state.last_window.get(label)
        resumes = last is not None and run.ts_start <= last[0] + self.merge_within * (last[1] - last[0])
        state.last_window[label] = (ts_start, ts_end)
        if resumes:
            self.continued[camera] += 1
            return None
        return Confirmed(camera, label, run.best, run.ts_start, ts_end)
