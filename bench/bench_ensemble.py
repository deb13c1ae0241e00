"""Does an ensemble pay for its cost? The shipped recipe (gru) beside a transformer, and the mean of both.

Leave-signers-out on the folds, streams and clips of bench_unknown.py: each fold trains the
shipped recipe (gru + normalise + augment, no face, with `unknown`: other signs and windows without
hands) and the same with the transformer; the ensemble serves the mean of their probabilities.
Per model: sign windows right (per signer, then averaged over signers), then on the continuous
streams missed signs, wrong detections per sign and false detections per minute of non-sign
material at the classifier's defaults and at 0.7 / 5, the clips' right detections, and ms per
window at batch 1 as served (TFLite), the ensemble paying both.

    python bench/bench_ensemble.py [--folds 3] [--epochs 15] [--seed 0]
Writes bench/results/ensemble.json and .md.
"""

from __future__ import annotations

import json
import time

from common import write_results

import numpy as np  # noqa: E402

from bench_unknown import (CLIP_SIGNS, HELD_OUT, SIGNS, VIDEOS, clip_probabilities, fold_arguments,  # noqa: E402
                           fold_data, fold_streams, in_sign_order, probabilities)
from bench_videos import smoothed_detections  # noqa: E402
from streams import StreamScore, judge, stream_probabilities  # noqa: E402
from services.classifier.runner import fast_runner  # noqa: E402
from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.trainer.data import add_unknown  # noqa: E402
from services.trainer.training import TrainOptions, fit  # noqa: E402
from shared.model_store import UNKNOWN  # noqa: E402

ARCHS = ("gru", "transformer")
MODELS = (*ARCHS, "gru + transformer (mean)")
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


def main() -> None:
    parser = fold_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    defaults = ClassifierSettings()
    settings = ((defaults.threshold, defaults.confirm_windows), (0.7, 5))

    signs, others, folds, in_fold = fold_data(args)
    held_out = np.isin(others.y, HELD_OUT)
    kinds = np.where(held_out, "held_out_signs", "other_signs")
    scores = {(m, s): StreamScore() for m in MODELS for s in settings}
    signer_right: dict[str, dict[str, list[float]]] = {m: {} for m in MODELS}
    clip_right = {m: 0 for m in MODELS}
    clips: dict[str, dict[str, list[str]]] = {m: {} for m in MODELS}
    timings: dict[str, list[float]] = {m: [] for m in MODELS}
    manifest = {e["file"]: e["sign"] for e in json.loads((VIDEOS / "manifest.json").read_text())}
    started = time.time()
    for k, test in enumerate(folds):
        is_test = np.isin(signs.groups, test)
        train, test_signs = signs.subset(~is_test), signs.subset(is_test)
        streams = fold_streams(test_signs, others, in_fold == k, kinds, args.seed + k)
        data = add_unknown(train, others.subset((in_fold != k) & ~held_out), idle=True, seed=args.seed)
        window_probs, stream_probs, clip_probs = {}, {}, {}
        for arch in ARCHS:
            model, labels, *_ = fit(data, TrainOptions(arch=arch, epochs=args.epochs, patience=5, seed=args.seed),
                                    verbose=2)
            runner = fast_runner(model)
            window_probs[arch] = probabilities(runner, labels, test_signs.X)
            stream_probs[arch] = [in_sign_order(stream_probabilities(runner, st.frames), labels) for st in streams]
            clip_probs[arch] = clip_probabilities(runner, labels)
            timings[arch].append(ms_per_window(runner, test_signs.X))
            print(f"fold {k + 1}/{len(folds)} {arch}: {len(data.y)} training windows, {time.time() - started:.0f} s",
                  flush=True)
        mean = MODELS[-1]
        window_probs[mean] = np.mean([window_probs[a] for a in ARCHS], axis=0)
        stream_probs[mean] = [np.mean(per, axis=0) for per in zip(*(stream_probs[a] for a in ARCHS))]
        clip_probs[mean] = {clip: np.mean([clip_probs[a][clip] for a in ARCHS], axis=0) for clip in clip_probs[ARCHS[0]]}
        timings[mean].append(sum(timings[a][-1] for a in ARCHS))
        truth = np.array([SIGNS.index(v) for v in test_signs.y])
        for name in MODELS:
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
    for name in MODELS:
        per_signer = [np.mean(v) for v in signer_right[name].values()]
        row = {"model": name, "window_accuracy": round(float(np.mean(per_signer)), 4),
               "worst_signer": round(float(np.min(per_signer)), 4), "ms_per_window": round(float(np.mean(timings[name])), 3),
               "clip_right_detections": clip_right[name],
               "streams": {f"{t} / {n}": scores[name, (t, n)].summary() for t, n in settings}}
        rows.append(row)
    md = ["# An ensemble against its parts: gru, transformer, and the mean of both", "",
          f"Leave-signers-out, {args.folds} folds over the 93 signers, seed {args.seed}, at most {args.epochs} epochs "
          "(patience 5), each trained with `unknown` as shipped; the streams and clips of `bench/bench_unknown.py`. "
          "Window accuracy: sign windows whose top label is right, per signer, averaged over signers. "
          "ms per window: median at batch 1 as served (TFLite), on this machine in the same run. "
          "`bench/bench_ensemble.py`.", "",
          "| model | window accuracy | worst signer | ms per window | clips: right detections (of "
          f"{len(folds) * sum(s in CLIP_SIGNS for s in manifest.values())}) | "
          + " | ".join(f"missed / wrong per sign / false per min at {t} / {n}" for t, n in settings) + " |",
          "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in settings) + " |"]
    for row in rows:
        cells = [f"{s['missed']:.3f} / {s['wrong_per_sign']:.3f} / {s['false_per_minute_all']:.2f}"
                 for s in row["streams"].values()]
        md.append(f"| {row['model']} | {row['window_accuracy']:.3f} | {row['worst_signer']:.3f} "
                  f"| {row['ms_per_window']:.3f} | {row['clip_right_detections']} | " + " | ".join(cells) + " |")
    md += ["", f"Run time {time.time() - started:.0f} s."]
    write_results("ensemble", {"folds": folds, "epochs": args.epochs, "seed": args.seed, "rows": rows,
                               "clips": clips}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
