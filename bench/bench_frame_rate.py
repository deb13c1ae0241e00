"""Recognition when only some frames reach the classifier: how many real frames a window needs.

An overloaded keypoint worker keeps each camera current by processing its newest frame and
dropping the rest (reported as gaps), so a camera at 15 fps may keep only every 2nd, 3rd, ...
frame. The classifier fills each dropped slot with the frame before it (`shared/windows.py`) and
classifies a window only if it holds `--min-frames` real frames. This plays every clip of
../shared/clips and ../shared/videos (played once, keypoints as `bench/live_video.py` caches
them) keeping one frame in k, builds the classifier's windows from them through `Windows` itself
(min_frames 1, so every window is seen, with its real frames), and judges them with the shipped
model and the classifier's smoothing. Per kept rate: known-sign clips with a clean detection,
windows right, false detections per minute of other signs.

    python bench/bench_frame_rate.py [--model DIR] [--name NAME]
Writes bench/results/<NAME>.json and .md (NAME: frame_rate).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np  # noqa: E402
from common import write_results
from live_video import FPS, all_clips, keypoints, totals  # noqa: E402

from services.classifier.serving import load_serving_model  # noqa: E402
from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.classifier.shipped import SHIPPED_MODEL, SHIPPED_VERSION  # noqa: E402
from services.classifier.smoothing import Smoother  # noqa: E402
from services.classifier.unknown_weight import weigh_unknown  # noqa: E402
from shared.codec import WINDOW  # noqa: E402
from shared.model_store import UNKNOWN  # noqa: E402
from shared.windows import Windows  # noqa: E402

KEEP_ONE_IN = (1, 2, 3, 4, 5, 6, 8, 10)  # 15, 7.5, 5, 3.75, 3, 2.5, 1.9, 1.5 frames a second
FRAME_MS = 1000 / FPS


def thinned_windows(vectors: np.ndarray, keep_one_in: int, stride: int, settings: ClassifierSettings):
    """The classifier's windows of a clip of which only every `keep_one_in`-th frame was processed."""
    windows = Windows(stride, settings.gap_wait_ms, max_hole_ms=settings.max_hole_ms, min_frames=1)
    ready = []
    for seq, vector in enumerate(vectors):
        ts = round(seq * FRAME_MS)
        if seq % keep_one_in == 0:
            ready += windows.add("clip", seq, vector, ts, ts)
        else:
            ready += windows.add_gap("clip", seq, ts, ts)
    return ready


def judged(clip, ready, probs: np.ndarray, labels: list[str], settings: ClassifierSettings):
    """As live_video.judge, on the windows the classifier built."""
    from live_video import Judged

    smoother = Smoother(settings.threshold, settings.confirm_windows, background=(UNKNOWN,))
    said, detections = [], []
    for window, p in zip(ready, probs):
        label = labels[int(p.argmax())]
        said.append(label)
        confirmed = smoother.update("clip", label, float(p.max()), window.first_ts_ms, window.capture_ts_ms)
        if confirmed:
            detections.append({"label": confirmed.label, "right": confirmed.label == clip.label})
    counts = {label: said.count(label) for label in set(said)}
    return Judged(len(said), counts, sum(s == clip.label for s in said) if clip.known else None, detections,
                  0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="a model version directory")
    parser.add_argument("--name", default="frame_rate", help="results file name in bench/results")
    args = parser.parse_args()
    settings = ClassifierSettings()
    model = load_serving_model(args.model, SHIPPED_VERSION if args.model == SHIPPED_MODEL else None)
    labels = list(model.labels)
    clips = all_clips()
    started = time.perf_counter()
    rows = []
    for keep in KEEP_ONE_IN:
        per_clip = {}
        real = []
        for clip in clips:
            vectors, _ = keypoints(clip, "once")
            ready = thinned_windows(vectors, keep, settings.stride, settings)
            probs = (weigh_unknown(model.predict(np.stack([w.frames for w in ready])), labels, settings.unknown_weight)
                     if ready else np.zeros((0, len(labels))))
            real += [w.real_frames for w in ready]
            per_clip[clip] = (ready, probs, len(vectors))
        # A camera thinned evenly gives every window about the same real frames: each rate stands for a minimum.
        judged_clips = {}
        for clip, (ready, probs, frames) in per_clip.items():
            j = judged(clip, ready, probs, labels, settings)
            j.minutes = frames / FPS / 60
            judged_clips[clip.name] = j
        t = totals(clips, judged_clips)
        rows.append({"keep_one_in": keep, "fps": round(FPS / keep, 2), "real_frames": int(np.median(real)),
                     "windows": sum(j.windows for j in judged_clips.values()),
                     **{k: t[k] for k in ("clean", "known_clips", "windows_right", "known_windows",
                                          "false_detections", "false_per_minute", "with_wrong")}})
        print(rows[-1], flush=True)
    seconds = time.perf_counter() - started
    md = [f"# Recognition when only some frames reach the classifier ({time.strftime('%Y-%m-%d')})", "",
          f"The {len(clips)} live clips played once (`bench/live_video.py`), keeping one frame in k as an overloaded "
          f"keypoint worker does, windows built by the classifier's own `Windows` (dropped slots repeat the frame "
          f"before), judged with model `{args.model.name}` and the classifier's smoothing (threshold "
          f"{settings.threshold}, {settings.confirm_windows} windows to confirm), every window classified whatever its "
          f"real frames. The classifier's `--min-frames` ({settings.min_frames}) is chosen from this table: windows with "
          f"fewer real frames are not classified. `bench/bench_frame_rate.py`, {seconds:.0f} s.", "",
          "| kept fps | real frames per window (median) | windows | clean clips | windows right | "
          "false detections (per min) |",
          "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        right = r["windows_right"] / r["known_windows"] if r["known_windows"] else 0.0
        md.append(f"| {r['fps']} | {r['real_frames']} | {r['windows']} | {r['clean']} of "
                  f"{r['known_clips']} | {right:.3f} | {r['false_detections']} ({r['false_per_minute']:.2f}) |")
    write_results(args.name, {"model": str(args.model), "threshold": settings.threshold,
                                 "confirm_windows": settings.confirm_windows, "window": WINDOW, "rows": rows}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
