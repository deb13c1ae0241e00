"""Live video of people the product has never seen: every clip, through the real frame path and smoothing.

Every clip of ../shared/clips and ../shared/videos (`live_video.py`: capture at 15 fps, resize,
JPEG, MediaPipe in video mode; cached) is played once, with the person still before and after,
and looped. A model version (default: the shipped one, as the classifier serves it: TFLite, its
unknown weight) classifies the windows at the classifier's stride, and its smoothing (threshold,
windows to confirm) turns them into detections. Per clip: windows right, detections right and
wrong; in all: known-sign clips with a clean detection (at least one right, none wrong), clips
where one sign was counted twice, false detections per minute of other-sign footage.

    python bench/bench_live_video.py [--model DIR] [--name NAME] [--threshold T] [--confirm-windows N]
                                     [--time-scale F ...] [--fold K]
`--time-scale F` also shows the model each window's middle resampled F times as fast (F < 1: the middle
30 * F frames stretched to 30, a quick sign as slow as recorded ones) and averages the probabilities.
Writes bench/results/<NAME>.json and .md (NAME: live_video).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np  # noqa: E402
from common import write_results
from live_video import FOLDS, FPS, HELD_S, PLAYINGS, all_clips, false_cell, judged_json, run_clips, totals  # noqa: E402

from services.classifier.serving import load_serving_model  # noqa: E402
from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.classifier.shipped import SHIPPED_MODEL, SHIPPED_VERSION  # noqa: E402
from services.classifier.unknown_weight import weigh_unknown  # noqa: E402
from services.trainer.augment import speed_positions  # noqa: E402
from shared.model_store import UNKNOWN  # noqa: E402


def summary_lines(t: dict) -> list[str]:
    return [f"- Known-sign clips with a clean detection (at least one right, none wrong): **{t['clean']} of "
            f"{t['known_clips']}**; with a wrong detection: {t['with_wrong']}; with none: {t['silent']}; "
            f"windows right: {t['windows_right']} of {t['known_windows']}.",
            f"- A sign counted twice (more right detections than the clip performs it): {len(t['counted_twice'])} clip(s) "
            f"{', '.join(t['counted_twice'])}".rstrip() + ".",
            f"- Other-sign clips: {t['other_clips']} ({t['other_minutes']:.2f} min), **{t['false_detections']} false "
            f"detections, {t['false_per_minute']:.2f} per minute**, on {t['other_clips_with_detection']} clips.",
            f"- Known-sign clips without a clean detection: {', '.join(t['not_clean']) or 'none'}."]


def detections_cell(judged) -> str:
    return ", ".join(d["label"] + ("" if d["right"] else " (wrong)") for d in judged.detections) or "none"


SWEEP = {"threshold": (0.5, 0.6, 0.7, 0.8, 0.9), "confirm_windows": (2, 3, 4, 5)}


def sweep_lines(runner, labels: list[str], clips, stride: int) -> tuple[list[str], list[dict]]:
    """The curve: clean known-sign clips against false detections, per threshold and confirmation length."""
    rows = []
    for threshold in SWEEP["threshold"]:
        for confirm in SWEEP["confirm_windows"]:
            results = run_clips(runner, labels, clips, stride, threshold, confirm, (UNKNOWN,))
            rows.append({"threshold": threshold, "confirm_windows": confirm,
                         **{p: totals(clips, results[p]) for p in PLAYINGS}})
    lines = ["", "## Every threshold and confirmation length", "",
             "| threshold / windows | once: clean of 21 | false (per min) | twice | looped: clean | false (per min) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        once, looped = r["once"], r["looped"]
        lines.append(f"| {r['threshold']} / {r['confirm_windows']} | {once['clean']} | {false_cell(once)} | "
                     f"{len(once['counted_twice'])} | {looped['clean']} | {false_cell(looped)} |")
    return lines, rows


def main() -> None:
    defaults = ClassifierSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append",
                        help="a model version directory (default: the shipped model); given more than once, the "
                             "models' probabilities are averaged, as an ensemble would serve them")
    parser.add_argument("--name", default="live_video", help="results file name in bench/results")
    parser.add_argument("--threshold", type=float, default=defaults.threshold)
    parser.add_argument("--confirm-windows", type=int, default=defaults.confirm_windows)
    parser.add_argument("--unknown-weight", type=float, default=defaults.unknown_weight)
    parser.add_argument("--time-scale", type=float, action="append", default=[],
                        help="also classify each window resampled at this speed (speed_positions); averaged")
    parser.add_argument("--sweep", action="store_true", help="also every threshold and confirmation length of SWEEP")
    parser.add_argument("--fold", type=int, choices=sorted(set(FOLDS.values())),
                        help="only the clips of this fold (live_video.FOLDS: by project)")
    args = parser.parse_args()
    args.model = args.model or [SHIPPED_MODEL]
    models = [load_serving_model(path, SHIPPED_VERSION if path == SHIPPED_MODEL else None) for path in args.model]
    labels = list(models[0].labels)
    if any(list(m.labels) != labels for m in models):
        parser.error("the models of an ensemble must have the same labels in the same order")

    resamplings = [None] + [speed_positions(np.array([factor]))[0] for factor in args.time_scale]

    def runner(windows: np.ndarray) -> np.ndarray:
        views = [windows if at is None else windows[:, at] for at in resamplings]
        return weigh_unknown(np.mean([m.predict(v) for m in models for v in views], axis=0), labels,
                             args.unknown_weight)

    clips = [c for c in all_clips() if args.fold in (None, c.fold)]
    started = time.perf_counter()
    results = run_clips(runner, labels, clips, defaults.stride, args.threshold, args.confirm_windows, (UNKNOWN,))
    seconds = time.perf_counter() - started
    overall = {playing: totals(clips, results[playing]) for playing in PLAYINGS}
    scales = f", each window also at speeds {args.time_scale} (averaged)" if args.time_scale else ""
    md = [f"# Live video: {len(clips)} clips of people outside the data, through the live path "
          f"({time.strftime('%Y-%m-%d')})", "",
          f"Model `{' + '.join(path.name for path in args.model)}` ({', '.join(labels)}); "
          f"windows every {defaults.stride} frames at {FPS:g} fps, "
          f"threshold {args.threshold}, {args.confirm_windows} windows in a row confirm a detection, unknown weight "
          f"{args.unknown_weight}{scales}. `bench/bench_live_video.py` ({seconds:.0f} s with cached keypoints).", "",
          f"Played once, the person still for {HELD_S:g} s before and after:", "", *summary_lines(overall["once"]), "",
          "Looped, as `signstream up --camera clip.mp4` plays a file (windows starting within one pass):", "",
          *summary_lines(overall["looped"]), "",
          "| clip | sign | once: windows right | detections | looped: windows right | detections |",
          "| --- | --- | --- | --- | --- | --- |"]
    for clip in clips:
        cells = []
        for playing in PLAYINGS:
            j = results[playing][clip.name]
            top = max(j.said, key=j.said.get) if j.said else "-"
            cells += [f"{j.windows_right} of {j.windows}" if clip.known else f"- ({j.windows}, mostly {top})",
                      detections_cell(j)]
        md.append(f"| {clip.name} | {clip.label or clip.sign + ' (other)'} | " + " | ".join(cells) + " |")
    curve: list[dict] = []
    if args.sweep:
        lines, curve = sweep_lines(runner, labels, clips, defaults.stride)
        md += lines
    write_results(args.name, {
        "model": " + ".join(map(str, args.model)), "labels": labels, "stride": defaults.stride, "threshold": args.threshold,
        "confirm_windows": args.confirm_windows, "unknown_weight": args.unknown_weight, "held_s": HELD_S,
        "time_scales": args.time_scale,
        "totals": overall, "sweep": curve,
        "clips": {clip.name: {"sign": clip.sign, "label": clip.label,
                              **{p: judged_json(results[p][clip.name]) for p in PLAYINGS}} for clip in clips},
    }, md)
    print("\n".join(md[:16] + (md[-23:] if args.sweep else [])))


if __name__ == "__main__":
    main()
