"""Real clips of people signing, played through the live frame path and judged as a user would.

The clips of ../shared/clips and ../shared/videos (63 people from 14 public projects, none in the
keypoint datasets) stand for what users point a camera at. Each is turned into keypoints exactly
as `signstream up --camera CLIP` would: capture's choice of frames by media time at 15 fps, its
resize to at most 960 wide, JPEG at quality 80, one MediaPipe Holistic tracker in video mode per
camera. Two ways of playing a clip:

- **once**: the person still for HELD_S before and after (the first and last frame shown that
  long), as someone who signs once in front of a camera. Every detection is judged.
- **looped**: the clip over and over, as `signstream up` plays a file. A clip shorter than a
  window is seen more than once in one window, the hand jumping back at the seam. The windows
  that start within one pass are judged.

Keypoints are cached per clip and way of playing (~/.cache/signstream/bench/live), so a rerun
that changes only the model takes seconds. Windows go to the model at the classifier's stride
and through its smoothing (`Smoother`) at the given settings.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from common import SHARED

from shared.codec import WINDOW

CLIP_FOLDERS = (SHARED / "clips", SHARED / "videos")
CACHE = Path.home() / ".cache" / "signstream" / "bench" / "live"
FPS, JPEG_QUALITY, MAX_WIDTH = 15.0, 80, 960
HELD_S = 1.0
PLAYINGS = ("once", "looped")
# Manifest names of the signs the shipped model knows, and the label it gives each.
TRAINED_SIGNS = {"hello": "hello", "thanks": "thanks", "thankyou": "thanks", "iloveyou": "iloveyou",
                 "i_love_you": "iloveyou"}
# Clips that show their sign more than once (seen by eye; every other clip shows it once): kiri_hello
# signs hello facing the camera and then turned aside; the cess clips sign at normal and then at slow speed.
PERFORMANCES = {"kiri_hello.mp4": 2, "cess_hello_gif.mp4": 2, "cess_thank_you_gif.mp4": 2}
# Three folds of the clips by the project that published them (no project in two folds), each with
# 6-8 known-sign clips and 13-15 of other signs: training on two folds' clips is judged on the third.
FOLDS = {
    "mohamedelsharkawy-coder/Deaf_Assistant_AI": 1, "Golgrax/BISIG-API": 1, "jasonz23/duoasl": 1,
    "rohan937/Sign-Language-Interpreter": 2, "team-ruku/hearbridge-slr": 2, "Cess931/ASL-APP": 2,
    "THKazi/ACT-ASL": 3, "AlpYksl/SignLanguageAndLipReadingApp": 3, "Kirichovka/Signs-Recognition": 3,
}
KEYPOINTS_VERSION = 1  # bump when the way keypoints are made changes, to leave old cache files behind

Runner = Callable[[np.ndarray], np.ndarray]  # (n, 30, 1662) float32 -> (n, labels) probabilities


@dataclass(frozen=True)
class Clip:
    path: Path
    sign: str  # as the manifest names it
    label: str | None  # the trained label it shows, or None: another sign
    repo: str = ""  # the project that published it

    @property
    def fold(self) -> int:
        return FOLDS[self.repo]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def known(self) -> bool:
        return self.label is not None

    @property
    def performances(self) -> int:
        """How many times the clip shows its sign."""
        return PERFORMANCES.get(self.name, 1)


def all_clips(folders: tuple[Path, ...] = CLIP_FOLDERS) -> list[Clip]:
    """Every clip of `folders`, from their manifests, in manifest order."""
    clips = []
    for folder in folders:
        for entry in json.loads((folder / "manifest.json").read_text()):
            clips.append(Clip(folder / entry["file"], entry["sign"], TRAINED_SIGNS.get(entry["sign"]), entry["repo"]))
    return clips


def source_frames(path: Path) -> list[np.ndarray]:
    """The BGR frames capture publishes of one pass of the clip, each after its JPEG round trip."""
    from services.capture.publisher import resized, target_size
    from services.capture.sources import at_rate, open_source
    from shared.codec import decode_jpeg, encode_jpeg

    source = open_source(str(path), FPS)
    frames = []
    try:
        for frame, _ in at_rate(source.frames(), FPS):
            width, height = target_size(frame.shape[1], frame.shape[0], None, None, MAX_WIDTH)
            frames.append(decode_jpeg(encode_jpeg(resized(frame, width, height), JPEG_QUALITY)))
    finally:
        source.close()
    if not frames:
        raise RuntimeError(f"{path}: no frames could be read")
    return frames


def passes_for(frames: int) -> int:
    """Passes of a looped clip so that every window starting within the first pass is whole."""
    return 1 + -(-(WINDOW - 1) // frames)


def played(frames: list[np.ndarray], playing: str) -> list[np.ndarray]:
    if playing == "once":
        held = int(HELD_S * FPS)
        return [frames[0]] * held + frames + [frames[-1]] * held
    if playing == "looped":
        return frames * passes_for(len(frames))
    raise ValueError(f"unknown way of playing {playing!r}; choose one of {PLAYINGS}")


def keypoints(clip: Clip, playing: str) -> tuple[np.ndarray, int]:
    """(frames, 1662) keypoints of the clip played one way, and how many frames one pass has. Cached."""
    import mediapipe

    stat = clip.path.stat()
    key = hashlib.sha256(f"{clip.name}{stat.st_size}{FPS}{JPEG_QUALITY}{MAX_WIDTH}{HELD_S}{playing}"
                         f"{mediapipe.__version__}{KEYPOINTS_VERSION}".encode()).hexdigest()[:12]
    cached = CACHE / f"{clip.path.stem}-{playing}-{key}.npz"
    if cached.exists():
        with np.load(cached) as stored:
            return stored["vectors"], int(stored["pass_frames"])
    from services.keypoints.extract import Trackers

    frames = source_frames(clip.path)
    trackers = Trackers()
    try:
        vectors = np.stack([trackers.extract(clip.name, frame)[0] for frame in played(frames, playing)])
    finally:
        trackers.close()
    CACHE.mkdir(parents=True, exist_ok=True)
    temp = cached.with_suffix(".tmp.npz")
    with open(temp, "wb") as out:
        np.savez(out, vectors=vectors, pass_frames=len(frames))
    temp.replace(cached)
    return vectors, len(frames)


def windows(vectors: np.ndarray, pass_frames: int, playing: str, stride: int) -> np.ndarray:
    """The windows the classifier takes, every `stride` frames; looped: those starting within one pass."""
    last_start = len(vectors) - WINDOW if playing == "once" else pass_frames - 1
    starts = range(0, last_start + 1, stride)
    if not starts:
        return np.zeros((0, WINDOW, vectors.shape[1]), np.float32)
    return np.stack([vectors[s:s + WINDOW] for s in starts]).astype(np.float32)


def clip_windows(clip: Clip, stride: int) -> np.ndarray:
    """Every `stride`-th window of the clip played once, as training examples."""
    return windows(*keypoints(clip, "once"), "once", stride)


@dataclass
class Judged:
    """One clip played one way, as the classifier's outputs judge it."""
    windows: int
    said: dict[str, int]  # top label of each window, counted
    windows_right: int | None  # windows whose top label is the clip's sign (known signs only)
    detections: list[dict] = field(default_factory=list)  # label, confidence, first and last window
    minutes: float = 0.0  # of footage the windows were taken from

    @property
    def right(self) -> int:
        return sum(d["right"] for d in self.detections)

    @property
    def wrong(self) -> int:
        return sum(not d["right"] for d in self.detections)


def judge(clip: Clip, probs: np.ndarray, labels: list[str], stride: int, threshold: float, confirm_windows: int,
          background: tuple[str, ...], frames: int, merge_within: float | None = None) -> Judged:
    from services.classifier.smoothing import MERGE_WITHIN, Smoother

    top = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    said = [labels[i] for i in top]
    smoother = Smoother(threshold, confirm_windows, background=background,
                        merge_within=MERGE_WITHIN if merge_within is None else merge_within)
    detections = []
    for i, p in enumerate(probs):
        # The window's frames stand for its capture times, as the classifier gives them.
        confirmed = smoother.update("clip", labels[int(p.argmax())], float(p.max()), i * stride, i * stride + WINDOW - 1)
        if confirmed:
            detections.append({"label": confirmed.label, "confidence": round(confirmed.confidence, 3),
                               "first_frame": confirmed.ts_start, "last_frame": confirmed.ts_end,
                               "right": confirmed.label == clip.label})
    return Judged(len(said), dict(Counter(said)), sum(s == clip.label for s in said) if clip.known else None,
                  detections, frames / FPS / 60)


def run_clips(runner: Runner, labels: list[str], clips: list[Clip], stride: int, threshold: float,
              confirm_windows: int, background: tuple[str, ...], playings: tuple[str, ...] = PLAYINGS
              ) -> dict[str, dict[str, Judged]]:
    """playing -> clip name -> how the clip, played that way, is judged."""
    out: dict[str, dict[str, Judged]] = {p: {} for p in playings}
    for clip in clips:
        for playing in playings:
            vectors, pass_frames = keypoints(clip, playing)
            batch = windows(vectors, pass_frames, playing, stride)
            probs = runner(batch) if len(batch) else np.zeros((0, len(labels)), np.float32)
            frames = len(vectors) if playing == "once" else pass_frames
            out[playing][clip.name] = judge(clip, np.asarray(probs), labels, stride, threshold, confirm_windows,
                                            background, frames)
    return out


def totals(clips: list[Clip], judged: dict[str, Judged]) -> dict:
    """The figures a user cares about, over every clip played one way."""
    known = [c for c in clips if c.known]
    other = [c for c in clips if not c.known]
    clean = [c.name for c in known if judged[c.name].right >= 1 and judged[c.name].wrong == 0]
    false = sum(len(judged[c.name].detections) for c in other)
    minutes = sum(judged[c.name].minutes for c in other)
    return {
        "known_clips": len(known),
        "clean": len(clean),
        "not_clean": [c.name for c in known if c.name not in clean],
        "with_wrong": sum(judged[c.name].wrong > 0 for c in known),
        "silent": sum(not judged[c.name].detections for c in known),
        "counted_twice": [c.name for c in known if judged[c.name].right > c.performances],
        "windows_right": sum(judged[c.name].windows_right for c in known),
        "known_windows": sum(judged[c.name].windows for c in known),
        "other_clips": len(other),
        "other_clips_with_detection": sum(bool(judged[c.name].detections) for c in other),
        "false_detections": false,
        "other_minutes": round(minutes, 2),
        "false_per_minute": round(false / minutes, 2) if minutes else 0.0,
    }


def false_cell(t: dict) -> str:
    """A table cell of false detections and their rate, from `totals`."""
    return f"{t['false_detections']} ({t['false_per_minute']:.2f})"


def judged_json(judged: Judged) -> dict:
    return {"windows": judged.windows, "said": judged.said, "windows_right": judged.windows_right,
            "detections": judged.detections, "minutes": round(judged.minutes, 3)}
