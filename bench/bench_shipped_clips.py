"""The shipped model on the clips of ../shared/videos, as `signstream up` serves it.

Every clip goes through the live frame path (capture's 15 fps choice of frames, JPEG, MediaPipe
Holistic in video mode: bench_videos.py, cached), windows at the classifier's stride (3), the
model as served (TFLite, `load_serving_model`, with the classifier's unknown weight) and its smoothing (its threshold and
windows to confirm). The clips come from public sign-language projects (their manifest), recorded
apart from the keypoint datasets the model learned from. Per clip:
windows right (top label is the clip's sign), whether the majority is, and the detections one pass
of the clip gives, right or wrong; for a clip of a sign the model does not know, every detection
is wrong.

    python bench/bench_shipped_clips.py
Writes bench/results/shipped_clips.json and .md.
"""

from __future__ import annotations

import json
import time
from collections import Counter

from common import write_results

import numpy as np  # noqa: E402

from bench_videos import SIGN_NAMES, VIDEOS, clip_keypoints, smoothed_detections, windows_of  # noqa: E402
from services.classifier.serving import load_serving_model  # noqa: E402
from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.classifier.shipped import SHIPPED_MODEL, SHIPPED_VERSION  # noqa: E402
from services.classifier.unknown_weight import weigh_unknown  # noqa: E402
from shared.model_store import UNKNOWN  # noqa: E402


def main() -> None:
    defaults = ClassifierSettings()
    model = load_serving_model(SHIPPED_MODEL, SHIPPED_VERSION)
    labels = list(model.labels)
    rows = []
    for entry in json.loads((VIDEOS / "manifest.json").read_text()):
        sign = SIGN_NAMES.get(entry["sign"])
        windows = windows_of(clip_keypoints(entry["file"]))[::defaults.stride]
        probs = weigh_unknown(np.concatenate([model.predict(w[None]) for w in windows]), labels,
                              defaults.unknown_weight)
        said = [labels[i] for i in probs.argmax(axis=1)]
        detections = smoothed_detections(probs, labels, defaults.threshold, defaults.confirm_windows,
                                         background=(UNKNOWN,))
        majority = Counter(said).most_common(1)[0][0]
        rows.append({"clip": entry["file"], "sign": sign or f"{entry['sign']} (not trained)", "known": sign is not None,
                     "windows": len(said), "windows_right": sum(s == sign for s in said) if sign else None,
                     "majority": majority, "detections": detections,
                     "right": sum(d == sign for d in detections), "wrong": sum(d != sign for d in detections)})
    known = [r for r in rows if r["known"]]
    unknown = [r for r in rows if not r["known"]]
    md = [f"# The shipped model on the clips, through the live path ({time.strftime('%Y-%m-%d')})", "",
          f"Windows at stride {defaults.stride}, threshold {defaults.threshold}, {defaults.confirm_windows} windows "
          f"in a row confirm a detection, unknown weight {defaults.unknown_weight} (the classifier's defaults). `bench/bench_shipped_clips.py`.", "",
          f"- Clips of a trained sign right by majority of windows: {sum(r['majority'] == r['sign'] for r in known)} "
          f"of {len(known)}; windows right: {sum(r['windows_right'] for r in known)} of {sum(r['windows'] for r in known)}.",
          f"- Clips with a right detection: {sum(r['right'] > 0 for r in known)} of {len(known)}; with a wrong "
          f"detection: {sum(r['wrong'] > 0 for r in known)}; with none: {sum(not r['detections'] for r in known)}.",
          f"- Clips of signs it does not know: {len(unknown)}, with {sum(r['wrong'] for r in unknown)} (false) "
          "detections in all.", "",
          "| clip | sign | windows right | majority | detections (one pass) |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        right = f"{r['windows_right']} of {r['windows']}" if r["known"] else f"- ({r['windows']} windows)"
        md.append(f"| {r['clip']} | {r['sign']} | {right} | {r['majority']} | {', '.join(r['detections']) or 'none'} |")
    write_results("shipped_clips", {"model": SHIPPED_VERSION, "rows": rows}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
