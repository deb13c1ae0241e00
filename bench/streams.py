"""Continuous camera streams made of recorded sequences, and what the live classifier reports on them.

Recorded sequences are single windows, but a camera gives an endless stream: signs, other
signs, hands out of view, and the transitions between them. A stream here is one person's
sequences, shuffled and played back to back; sliding windows over it at the classifier's stride
go through the classifier's own smoothing (`Smoother`), and each detection is judged by the
frames its run of windows covered:

- **right**: they overlap a segment of that sign that had no detection yet;
- **repeated**: they overlap a segment of that sign that was already detected;
- **wrong**: they overlap a segment of another sign, and none of this one;
- **false**: they overlap no sign at all (charged to the non-sign material they overlap most).

A sign segment with no right detection is **missed**. Where two segments of the same sign would
be neighbours, that person's hands-out-of-view copy of the first goes between them, since a
single run of windows cannot tell two occurrences apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from services.trainer.data import without_hands
from shared.codec import WINDOW

STRIDE = 3  # the classifier's default: a window every 3rd frame
FPS = 15  # the capture default the stride is counted against
BATCH = 256
NO_HANDS = "no_hands"


@dataclass
class Stream:
    frames: np.ndarray  # (n, 1662)
    spans: list[tuple[int, int, str, str | None]]  # (first frame, end frame, kind, sign or None)


@dataclass
class StreamScore:
    occurrences: int = 0
    right: int = 0
    repeated: int = 0
    wrong: int = 0
    false: dict[str, int] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)  # frames of each non-sign kind
    signs: dict[str, list[int]] = field(default_factory=dict)  # sign -> [occurrences, right]

    def add(self, other: "StreamScore") -> None:
        self.occurrences += other.occurrences
        self.right += other.right
        self.repeated += other.repeated
        self.wrong += other.wrong
        for kind, n in other.false.items():
            self.false[kind] = self.false.get(kind, 0) + n
        for kind, n in other.frames.items():
            self.frames[kind] = self.frames.get(kind, 0) + n
        for sign, (n, right) in other.signs.items():
            tally = self.signs.setdefault(sign, [0, 0])
            tally[0] += n
            tally[1] += right

    def summary(self) -> dict:
        minutes = {kind: n / FPS / 60 for kind, n in self.frames.items()}
        total_minutes = sum(minutes.values())
        return {
            "occurrences": self.occurrences,
            "missed": round(1 - self.right / self.occurrences, 4) if self.occurrences else 0.0,
            "wrong_per_sign": round(self.wrong / self.occurrences, 4) if self.occurrences else 0.0,
            "repeated_per_sign": round(self.repeated / self.occurrences, 4) if self.occurrences else 0.0,
            "false_per_minute": {kind: round(self.false.get(kind, 0) / m, 2) for kind, m in minutes.items() if m},
            "false_per_minute_all": round(sum(self.false.values()) / total_minutes, 2) if total_minutes else 0.0,
            "non_sign_minutes": round(total_minutes, 1),
            "missed_by_sign": {sign: round(1 - right / n, 4) for sign, (n, right) in sorted(self.signs.items()) if n},
        }


def person_stream(signs: list[tuple[str, np.ndarray]], non_signs: list[tuple[str, np.ndarray]],
                  rng: np.random.Generator, idle_share: float = 0.1) -> Stream:
    """One person's stream: `signs` (label, sequence), `non_signs` (kind, sequence) and, as idle
    stretches, a share of the sign sequences with the hands out of view; shuffled."""
    pieces: list[tuple[str, str | None, np.ndarray]] = [("sign", label, x) for label, x in signs]
    pieces += [(kind, None, x) for kind, x in non_signs]
    if signs:
        for i in rng.choice(len(signs), size=max(1, round(len(signs) * idle_share)), replace=False):
            pieces.append((NO_HANDS, None, without_hands(signs[i][1])))
    order = rng.permutation(len(pieces))
    placed: list[tuple[str, str | None, np.ndarray]] = []
    for i in order:
        kind, label, x = pieces[i]
        if label is not None and placed and placed[-1][1] == label:
            placed.append((NO_HANDS, None, without_hands(placed[-1][2])))
        placed.append((kind, label, x))
    spans, start = [], 0
    for kind, label, x in placed:
        spans.append((start, start + len(x), kind, label))
        start += len(x)
    return Stream(np.concatenate([x for *_, x in placed]).astype(np.float32), spans)


def stream_probabilities(runner, frames: np.ndarray) -> np.ndarray:
    """The served model's probabilities for every window the classifier would take of `frames`."""
    views = np.lib.stride_tricks.sliding_window_view(frames, WINDOW, axis=0)[::STRIDE]  # (n, 1662, 30)
    return np.concatenate([runner(np.ascontiguousarray(views[i:i + BATCH].transpose(0, 2, 1)))
                           for i in range(0, len(views), BATCH)])


def judge(stream: Stream, probs: np.ndarray, labels: list[str], threshold: float, confirm_windows: int,
          background: tuple[str, ...] = (), merge_within: float | None = None) -> StreamScore:
    from services.classifier.smoothing import MERGE_WITHIN, Smoother

    score = StreamScore()
    for start, end, kind, label in stream.spans:
        if label is None:
            score.frames[kind] = score.frames.get(kind, 0) + end - start
        else:
            score.occurrences += 1
            score.signs.setdefault(label, [0, 0])[0] += 1
    found: set[int] = set()
    smoother = Smoother(threshold, confirm_windows, background=background,
                        merge_within=MERGE_WITHIN if merge_within is None else merge_within)
    for i, p in enumerate(probs):
        confirmed = smoother.update("stream", labels[int(p.argmax())], float(p.max()), i * STRIDE,
                                    i * STRIDE + WINDOW - 1)  # the window's frames, as the classifier's capture times
        if confirmed is None:
            continue
        first, last = confirmed.ts_start, confirmed.ts_end + 1
        overlapping = [(min(end, last) - max(start, first), n, kind, label)
                       for n, (start, end, kind, label) in enumerate(stream.spans) if start < last and end > first]
        same = [n for _, n, _, label in overlapping if label == confirmed.label]
        if same:
            fresh = [n for n in same if n not in found]
            if fresh:
                found.add(fresh[0])
                score.right += 1
                score.signs[confirmed.label][1] += 1
            else:
                score.repeated += 1
        elif any(label is not None for *_, label in overlapping):
            score.wrong += 1
        else:
            kind = max(overlapping)[2]
            score.false[kind] = score.false.get(kind, 0) + 1
    return score
