"""The shipped model on the clips of ../shared/videos, as `signstream up` serves it.

Every clip goes through the live frame path (capture's 15 fps choice of frames, JPEG, MediaPipe
Holistic in video mode: bench_videos.py, cached), windows at the classifier's stride (3), the
model as served (TFLite, `load_serving_model`, with the classifier's unknown weight) and its smoothing (its threshold and
windows to confirm). The clips come from public sign-language projects (their manifest), recorded
apart from the keypoint datasets the model learned from. Per clip:
windows right (top label is the clip's sign), whether the majority is, and the detections one pass
of the clip gives, right or wrong; for a clip of a sign the model does not know, every detection
is wrong.

Each clip is played two ways. Looped, as `signstream up --camera clip.mp4` plays it: a clip
shorter than a window (2 s) is seen more than once in one window, with the hand jumping back to
where it began at the seam. Once, with the person still for a second before and after (its first
and last frame held), as someone signing once in front of a camera.

    python bench/bench_shipped_clips.py
Writes bench/results/shipped_clips.json and .md.
"""

from __future__ import annotations

import json
import time
from collections import Counter

from common import write_results

import numpy as np  # noqa: E402

from bench_videos import FPS, PASSES, SIGN_NAMES, VIDEOS, clip_keypoints, smoothed_detections, windows_of  # noqa: E402
from services.classifier.serving import load_serving_model  # noqa: E402
from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.classifier.shipped import SHIPPED_MODEL, SHIPPED_VERSION  # noqa: E402
from services.classifier.unknown_weight import weigh_unknown  # noqa: E402
from shared.codec import WINDOW  # noqa: E402
from shared.model_store import UNKNOWN  # noqa: E402

HELD_S = 1.0


def played_once(vectors: np.ndarray) -> np.ndarray:
    """Every window of one pass of the clip, the person still for HELD_S before and after."""
    one = vectors[:len(vectors) // PASSES]
    held = int(HELD_S * FPS)
    frames = np.concatenate([np.repeat(one[:1], held, 0), one, np.repeat(one[-1:], held, 0)])
    return np.stack([frames[s:s + WINDOW] for s in range(len(frames) - WINDOW + 1)])


def judged(model, labels: list[str], windows: np.ndarray, sign: str | None, defaults: ClassifierSettings) -> dict:
    windows = windows[::defaults.stride]
    probs = weigh_unknown(np.concatenate([model.predict(w[None]) for w in windows]), labels, defaults.unknown_weight)
    said = [labels[i] for i in probs.argmax(axis=1)]
    detections = smoothed_detections(probs, labels, defaults.threshold, defaults.confirm_windows,
                                     background=(UNKNOWN,))
    return {"windows": len(said), "windows_right": sum(s == sign for s in said) if sign else None,
            "said": dict(Counter(said)), "majority": Counter(said).most_common(1)[0][0], "detections": detections,
            "right": sum(d == sign for d in detections), "wrong": sum(d != sign for d in detections)}


def summary(rows: list[dict], playing: str) -> list[str]:
    known = [r[playing] for r in rows if r["known"]]
    signs = [r["sign"] for r in rows if r["known"]]
    unknown = [r[playing] for r in rows if not r["known"]]
    return [f"- Clips of a trained sign right by majority of windows: {sum(k['majority'] == s for k, s in zip(known, signs))} "
            f"of {len(known)}; windows right: {sum(k['windows_right'] for k in known)} of {sum(k['windows'] for k in known)}.",
            f"- Clips with a right detection: {sum(k['right'] > 0 for k in known)} of {len(known)}; with a wrong "
            f"detection: {sum(k['wrong'] > 0 for k in known)}; with none: {sum(not k['detections'] for k in known)}.",
            f"- Clips of signs it does not know: {len(unknown)}, with {sum(u['wrong'] for u in unknown)} (false) "
            "detections in all."]


def main() -> None:
    defaults = ClassifierSettings()
    model = load_serving_model(SHIPPED_MODEL, SHIPPED_VERSION)
    labels = list(model.labels)
    rows = []
    for entry in json.loads((VIDEOS / "manifest.json").read_text()):
        sign = SIGN_NAMES.get(entry["sign"])
        vectors = clip_keypoints(entry["file"])
        rows.append({"clip": entry["file"], "sign": sign or f"{entry['sign']} (not trained)", "known": sign is not None,
                     "looped": judged(model, labels, windows_of(vectors), sign, defaults),
                     "once": judged(model, labels, played_once(vectors), sign, defaults)})
    md = [f"# The shipped model on the clips, through the live path ({time.strftime('%Y-%m-%d')})", "",
          f"Windows at stride {defaults.stride}, threshold {defaults.threshold}, {defaults.confirm_windows} windows "
          f"in a row confirm a detection, unknown weight {defaults.unknown_weight} (the classifier's defaults). "
          "`bench/bench_shipped_clips.py`.", "",
          "Looped, as `signstream up --camera clip.mp4` plays a clip (a clip shorter than 2 s is seen more than "
          "once in a window, the hand jumping back at the seam):", "", *summary(rows, "looped"), "",
          f"Once, the person still for {HELD_S:g} s before and after (first and last frame held):", "",
          *summary(rows, "once"), "",
          "| clip | sign | looped: windows right | majority | detections | once: windows right | majority | detections |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = []
        for playing in ("looped", "once"):
            p = r[playing]
            right = f"{p['windows_right']} of {p['windows']}" if r["known"] else f"- ({p['windows']} windows)"
            cells += [right, p["majority"], ", ".join(p["detections"]) or "none"]
        md.append(f"| {r['clip']} | {r['sign']} | " + " | ".join(cells) + " |")
    write_results("shipped_clips", {"model": SHIPPED_VERSION, "held_s": HELD_S, "rows": rows}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
