"""Which interpolation capture resizes with: its rule (bilinear down to half size, area averaging
below) against INTER_AREA everywhere, on every clip of ../shared/videos wider than --max-width.

Per clip, the same frames (capture's 15 fps choice, the clip looped as in bench_videos.py) are
resized both ways, JPEG-encoded and decoded, and given to a keypoint worker's Holistic tracker (one
per way, video mode). Measured: resize ms per frame (both ways on the same frame, in turn, so
machine load falls on both alike; the ratio is the result), keypoint x, y difference in pixels of
the published frame over the points both found, which parts each found, and the shipped model's
label for every window at the classifier's stride, both ways.

    python bench/bench_resize.py [--max-width 960]
Writes bench/results/resize.json and .md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from bench_videos import FPS, JPEG_QUALITY, PASSES, VIDEOS, windows_of  # noqa: E402
from common import write_results

from services.capture.publisher import resized, target_size  # noqa: E402
from services.capture.sources import at_rate, open_source  # noqa: E402
from services.classifier.serving import load_serving_model  # noqa: E402
from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.classifier.shipped import SHIPPED_MODEL, SHIPPED_VERSION  # noqa: E402
from services.keypoints.extract import Trackers  # noqa: E402
from shared.codec import FACE_END, POSE_END, VECTOR_SIZE, decode_jpeg, encode_jpeg  # noqa: E402
from shared.keypoint_mirror import X_COLUMNS, Y_OF  # noqa: E402

WAYS = ("INTER_AREA", "capture's rule")


XY_COLUMNS = np.concatenate([X_COLUMNS, Y_OF[X_COLUMNS]])  # x and y of every point


def run_clip(name: str, max_width: int) -> dict:
    trackers = {way: Trackers() for way in WAYS}
    vectors = {way: [] for way in WAYS}
    ms = {way: [] for way in WAYS}
    size = None
    for _ in range(PASSES):
        source = open_source(str(VIDEOS / name), FPS)
        for i, (frame, _) in enumerate(at_rate(source.frames(), FPS)):
            height, width = frame.shape[:2]
            size = (width, height, *target_size(width, height, None, None, max_width))
            w, h = size[2:]
            for way in (WAYS if i % 2 == 0 else WAYS[::-1]):
                started = time.perf_counter()
                small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA) if way == WAYS[0] else \
                    resized(frame, w, h)
                ms[way].append((time.perf_counter() - started) * 1000)
                vector, _ = trackers[way].extract(name, decode_jpeg(encode_jpeg(small, JPEG_QUALITY)))
                vectors[way].append(vector)
        source.close()
    for tracker in trackers.values():
        tracker.close()
    return {"size": size, "ms": {way: float(np.mean(v)) for way, v in ms.items()},
            "vectors": {way: np.stack(v) for way, v in vectors.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-width", type=int, default=960)
    args = parser.parse_args()
    defaults = ClassifierSettings()
    model = load_serving_model(SHIPPED_MODEL, SHIPPED_VERSION)
    labels = list(model.labels)
    rows = []
    for entry in json.loads((VIDEOS / "manifest.json").read_text()):
        if entry["width"] <= args.max_width:
            continue
        run = run_clip(entry["file"], args.max_width)
        area, rule = (run["vectors"][way] for way in WAYS)
        both = (area != 0) & (rule != 0)
        diff_px = (np.abs(area - rule)[:, XY_COLUMNS][both[:, XY_COLUMNS]] * run["size"][2])
        said = {}
        for way in WAYS:
            windows = windows_of(run["vectors"][way])[::defaults.stride]
            said[way] = [labels[i] for i in np.concatenate([model.predict(w[None]) for w in windows]).argmax(axis=1)]
        found = {way: {part: float(np.mean(np.any(run["vectors"][way][:, cols] != 0, axis=1)))
                       for part, cols in (("pose", slice(0, POSE_END)), ("hands", slice(FACE_END, VECTOR_SIZE)))}
                 for way in WAYS}
        rows.append({"clip": entry["file"], "size": run["size"], "resize_ms": run["ms"],
                     "ratio": run["ms"][WAYS[1]] / run["ms"][WAYS[0]],
                     "diff_px_mean": float(diff_px.mean()) if diff_px.size else 0.0,
                     "diff_px_p95": float(np.percentile(diff_px, 95)) if diff_px.size else 0.0,
                     "found": found, "labels": {way: dict(Counter(s)) for way, s in said.items()},
                     "same_label": sum(a == b for a, b in zip(*said.values())), "windows": len(said[WAYS[0]])})
    md = [f"# Capture's resize: bilinear down to half size, against INTER_AREA ({time.strftime('%Y-%m-%d')})", "",
          f"Clips of ../shared/videos wider than {args.max_width}, resized to {args.max_width} wide both ways on the "
          f"same frames (15 fps, looped {PASSES}x), JPEG {JPEG_QUALITY}, Holistic per way; labels by the shipped "
          f"model at stride {defaults.stride}. `bench/bench_resize.py`.", "",
          "| clip | size | INTER_AREA ms | capture's rule ms | ratio | keypoints apart, mean / p95 px | "
          "hands found (area / rule) | windows with the same label | labels (area / rule) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        w, h, sw, sh = r["size"]
        md.append(f"| {r['clip']} | {w}x{h} -> {sw}x{sh} | {r['resize_ms'][WAYS[0]]:.2f} | {r['resize_ms'][WAYS[1]]:.2f} "
                  f"| {r['ratio']:.2f} | {r['diff_px_mean']:.2f} / {r['diff_px_p95']:.2f} | "
                  f"{r['found'][WAYS[0]]['hands']:.2f} / {r['found'][WAYS[1]]['hands']:.2f} | "
                  f"{r['same_label']} of {r['windows']} | {r['labels'][WAYS[0]]} / {r['labels'][WAYS[1]]} |")
    write_results("resize", {"max_width": args.max_width, "rows": rows}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
