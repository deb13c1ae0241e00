"""Recognition on real clips by people outside the dev set, as the live pipeline would see them.

../shared/videos holds short clips of hello, thanks and I-love-you from five other projects:
signers, cameras and framing none of the 12 dev signers share. Each clip is turned into
keypoints the way `signstream up --camera CLIP` does it (frames chosen by media time at the
capture's 15 fps, JPEG at quality 80, one Holistic tracker in video mode, the clip looping), and
every 30-frame window that starts in the first pass is classified, as the classifier would.
Each configuration is trained on all 12 dev signers (several seeds); the table gives how many
clips the majority of windows gets right, and the share of windows that are right.

    python bench/bench_videos.py [--seeds 0,1] [--epochs 40] [--only NAME;NAME]
Writes bench/results/videos.json and .md. Keypoints are cached in ~/.cache/signstream/bench.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np  # noqa: E402
from bench_generalisation import CONFIGS, config_fitter  # noqa: E402
from common import SHARED, write_results

from services.capture.sources import at_rate, open_source  # noqa: E402
from services.trainer.data import load_data  # noqa: E402
from shared.codec import WINDOW, decode_jpeg, encode_jpeg  # noqa: E402

VIDEOS = SHARED / "videos"
SIGN_NAMES = {"hello": "hello", "thanks": "thanks", "thankyou": "thanks", "iloveyou": "iloveyou",
              "i_love_you": "iloveyou"}
CACHE = Path.home() / ".cache" / "signstream" / "bench"
FPS, JPEG_QUALITY, PASSES = 15.0, 80, 2


def clips() -> list[tuple[str, str]]:
    """(file, dev label) of every clip whose sign is one the dev set has."""
    manifest = json.loads((VIDEOS / "manifest.json").read_text())
    return [(c["file"], SIGN_NAMES[c["sign"]]) for c in manifest if c["sign"] in SIGN_NAMES]


def clip_keypoints(name: str) -> np.ndarray:
    """(frames, 1662) over PASSES loops of the clip, as capture and a keypoint worker produce them."""
    import mediapipe

    from services.keypoints.extract import Trackers

    key = hashlib.sha256(f"{name}{FPS}{JPEG_QUALITY}{PASSES}{mediapipe.__version__}".encode()).hexdigest()[:12]
    cached = CACHE / f"{Path(name).stem}-{key}.npy"
    if cached.exists():
        return np.load(cached)
    trackers = Trackers()
    vectors = []
    for _ in range(PASSES):
        source = open_source(str(VIDEOS / name), FPS)
        for frame, _ in at_rate(source.frames(), FPS):
            vector, _ = trackers.extract(name, decode_jpeg(encode_jpeg(frame, JPEG_QUALITY)))
            vectors.append(vector)
        source.close()
    trackers.close()
    result = np.stack(vectors)
    CACHE.mkdir(parents=True, exist_ok=True)
    temp = cached.with_suffix(".tmp.npy")
    np.save(temp, result)
    temp.replace(cached)
    return result


def windows_of(vectors: np.ndarray) -> np.ndarray:
    """Every window that starts within the first pass (the loop continues it into the second)."""
    first_pass = len(vectors) // PASSES
    starts = range(0, min(first_pass, len(vectors) - WINDOW + 1))
    return np.stack([vectors[s:s + WINDOW] for s in starts])


def smoothed_detections(probs: np.ndarray, labels: list[str], threshold: float, confirm_windows: int,
                        background: tuple[str, ...] = (), stride: int = 3) -> list[str]:
    """The detections the classifier's smoothing makes over a clip's windows, in order (one camera)."""
    from services.classifier.smoothing import Smoother

    smoother = Smoother(threshold, confirm_windows, background=background)
    found = []
    for i, p in enumerate(probs):
        confirmed = smoother.update("clip", labels[int(p.argmax())], float(p.max()), i * stride, i * stride + WINDOW - 1)
        if confirmed:
            found.append(confirmed.label)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--only", default="recipe (baseline);gru + normalise + augment;"
                                          "gru + normalise + augment, no face",
                        help="semicolon-separated configuration names of bench_generalisation")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    data = load_data([SHARED / "datasets" / "signers"])
    clip_windows = {}
    for name, label in clips():
        vectors = clip_keypoints(name)
        hands = float(np.mean(np.any(vectors[:, 1536:] != 0, axis=1)))
        clip_windows[name] = (label, windows_of(vectors))
        print(f"{name}: {label}, {len(vectors) // PASSES} frames at {FPS:g} fps, a hand in {hands:.0%}", flush=True)

    rows = []
    for config in CONFIGS:
        if config.name not in args.only.split(";"):
            continue
        started = time.perf_counter()
        fitter = config_fitter(config, args.epochs)
        per_clip: dict[str, list[str]] = {name: [] for name in clip_windows}
        clips_right, window_accuracy = [], []
        for seed in seeds:
            predict = fitter(data, seed)
            right = 0
            for name, (label, windows) in clip_windows.items():
                predicted = np.array(data.labels)[predict(windows)]
                majority = max(data.labels, key=lambda l: int(np.sum(predicted == l)))
                per_clip[name].append(majority)
                right += majority == label
                window_accuracy.append(float(np.mean(predicted == label)))
            clips_right.append(right)
        rows.append({"config": config.name, "clips": len(clip_windows), "clips_right_by_seed": clips_right,
                     "mean_clips_right": float(np.mean(clips_right)),
                     "window_accuracy": round(float(np.mean(window_accuracy)), 3),
                     "majority_by_clip": per_clip, "minutes": round((time.perf_counter() - started) / 60, 1)})
        print({k: v for k, v in rows[-1].items() if k != "majority_by_clip"}, flush=True)

    names = list(clip_windows)
    lines = [f"# Clips of people outside the dev set ({time.strftime('%Y-%m-%d')}; trained on all 12 dev signers, "
             f"seeds {seeds}, at most {args.epochs} epochs)", "",
             f"{len(names)} clips from other projects, through capture's frame choice ({FPS:g} fps, JPEG "
             f"{JPEG_QUALITY}) and MediaPipe as live; a clip is right when most of its windows are.", "",
             "| configuration | clips right (per seed) | windows right |", "| --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['config']} | {' / '.join(str(c) for c in r['clips_right_by_seed'])} of {r['clips']} | "
                     f"{r['window_accuracy']:.3f} |")
    lines += ["", "Majority label per clip and seed:", "",
              "| configuration | " + " | ".join(f"{n} ({clip_windows[n][0]})" for n in names) + " |",
              "| --- |" + " --- |" * len(names)]
    lines += [f"| {r['config']} | " + " | ".join("/".join(r["majority_by_clip"][n]) for n in names) + " |"
              for r in rows]
    write_results("videos", {"seeds": seeds, "epochs": args.epochs, "fps": FPS, "rows": rows}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
