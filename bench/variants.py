"""Training variants side by side on the folds, streams and clips of bench_unknown.py.

Each fold trains every variant (TrainOptions, each with `unknown`: other signs and windows without
hands, as shipped) on the same people; an ensemble serves the mean of its members' probabilities.
Per model: sign windows right (per signer, then averaged over signers), on the continuous streams
missed signs, wrong detections per sign and false detections per minute of non-sign material at
each (threshold, windows to confirm), the clips' right detections, and ms per window at batch 1
as served (TFLite), an ensemble paying all its members.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from bench_unknown import (
    CLIP_SIGNS,
    HELD_OUT,
    SIGNS,
    VIDEOS,
    clip_probabilities,
    fold_data,
    fold_streams,
    in_sign_order,
    probabilities,
)
from bench_videos import smoothed_detections
from streams import StreamScore, judge, stream_probabilities

from services.classifier.runner import fast_runner
from services.classifier.settings import ClassifierSettings
from services.trainer.data import add_unknown
from services.trainer.training import TrainOptions, fit
from shared.model_store import UNKNOWN

LABELS = [*SIGNS, UNKNOWN]
TIMED_WINDOWS = 300


def ms_per_window(runner, X: np.ndarray) -> float:
    """Median ms of one window at batch 1, as the classifier serves a single camera."""
    runner(X[:1])
    times = []
    for x in X[:TIMED_WINDOWS]:
        started = time.perf_counter()
        runner(x[None])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def compare(args: argparse.Namespace, variants: dict[str, TrainOptions],
            ensembles: dict[str, tuple[str, ...]] | None = None) -> dict:
    """Rows (one per variant and ensemble), the clips' detections per model, the folds and the run time."""
    ensembles = ensembles or {}
    models = [*variants, *ensembles]
    defaults = ClassifierSettings()
    settings = ((defaults.threshold, defaults.confirm_windows), (0.7, 5))
    signs, others, folds, in_fold = fold_data(args)
    held_out = np.isin(others.y, HELD_OUT)
    kinds = np.where(held_out, "held_out_signs", "other_signs")
    scores = {(m, s): StreamScore() for m in models for s in settings}
    signer_right: dict[str, dict[str, list[float]]] = {m: {} for m in models}
    clip_right = {m: 0 for m in models}
    clips: dict[str, dict[str, list[list[str]]]] = {m: {} for m in models}
    timings: dict[str, list[float]] = {m: [] for m in models}
    manifest = {e["file"]: e["sign"] for e in json.loads((VIDEOS / "manifest.json").read_text())}
    started = time.time()
    for k, test in enumerate(folds):
        is_test = np.isin(signs.groups, test)
        train, test_signs = signs.subset(~is_test), signs.subset(is_test)
        streams = fold_streams(test_signs, others, in_fold == k, kinds, args.seed + k)
        data = add_unknown(train, others.subset((in_fold != k) & ~held_out), idle=True, seed=args.seed)
        window_probs, stream_probs, clip_probs = {}, {}, {}
        for name, options in variants.items():
            model, labels, *_ = fit(data, options, verbose=2)
            runner = fast_runner(model)
            window_probs[name] = probabilities(runner, labels, test_signs.X)
            stream_probs[name] = [in_sign_order(stream_probabilities(runner, st.frames), labels) for st in streams]
            clip_probs[name] = clip_probabilities(runner, labels)
            timings[name].append(ms_per_window(runner, test_signs.X))
            print(f"fold {k + 1}/{len(folds)} {name}: {len(data.y)} training windows, {time.time() - started:.0f} s",
                  flush=True)
        for name, members in ensembles.items():
            window_probs[name] = np.mean([window_probs[m] for m in members], axis=0)
            stream_probs[name] = [np.mean(per, axis=0) for per in zip(*(stream_probs[m] for m in members))]
            clip_probs[name] = {clip: np.mean([clip_probs[m][clip] for m in members], axis=0)
                                for clip in clip_probs[members[0]]}
            timings[name].append(sum(timings[m][-1] for m in members))
        truth = np.array([SIGNS.index(v) for v in test_signs.y])
        for name in models:
            right = window_probs[name].argmax(axis=1) == truth
            for signer in np.unique(test_signs.groups):
                signer_right[name].setdefault(str(signer), []).append(float(right[test_signs.groups == signer].mean()))
            for stream, probs in zip(streams, stream_probs[name]):
                for threshold, confirm in settings:
                    scores[name, (threshold, confirm)].add(
                        judge(stream, probs, LABELS, threshold, confirm, background=(UNKNOWN,)))
            for clip, probs in clip_probs[name].items():
                found = smoothed_detections(probs, LABELS, defaults.threshold, defaults.confirm_windows,
                                            background=(UNKNOWN,))
                clips[name].setdefault(clip, []).append(found)
                clip_right[name] += CLIP_SIGNS.get(manifest[clip]) in found
    rows = []
    for name in models:
        per_signer = [np.mean(v) for v in signer_right[name].values()]
        rows.append({"model": name, "window_accuracy": round(float(np.mean(per_signer)), 4),
                     "worst_signer": round(float(np.min(per_signer)), 4),
                     "ms_per_window": round(float(np.mean(timings[name])), 3),
                     "clip_right_detections": clip_right[name],
                     "streams": {f"{t} / {n}": scores[name, (t, n)].summary() for t, n in settings}})
    return {"rows": rows, "clips": clips, "folds": folds, "settings": settings, "seconds": time.time() - started,
            "clips_of_trained_signs": len(folds) * sum(s in CLIP_SIGNS for s in manifest.values())}


def table(result: dict) -> list[str]:
    settings = result["settings"]
    md = ["| model | window accuracy | worst signer | ms per window | clips: right detections (of "
          f"{result['clips_of_trained_signs']}) | "
          + " | ".join(f"missed / wrong per sign / false per min at {t} / {n}" for t, n in settings) + " |",
          "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in settings) + " |"]
    for row in result["rows"]:
        cells = [f"{s['missed']:.3f} / {s['wrong_per_sign']:.3f} / {s['false_per_minute_all']:.2f}"
                 for s in row["streams"].values()]
        md.append(f"| {row['model']} | {row['window_accuracy']:.3f} | {row['worst_signer']:.3f} "
                  f"| {row['ms_per_window']:.3f} | {row['clip_right_detections']} | " + " | ".join(cells) + " |")
    return md + ["", f"Run time {result['seconds']:.0f} s."]
