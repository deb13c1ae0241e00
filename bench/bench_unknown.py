"""The unknown outcome: how often a model names one of its signs for windows that hold none of them,
against how often it misses a sign, on people it never saw.

Leave-signers-out over the 93 signers of hello / thanks / iloveyou (../shared/datasets/signers and
more_signers). The people of ../shared/datasets/other_signs follow their `same_signer_as` signer
into a fold, the others are spread over the folds. Two signs, please and welcome (HELD_OUT), are
never trained by any configuration: they stand for the signs nobody taught the model.

- `three signs`: the default model as shipped; only the confidence threshold can refuse a window.
- `with unknown`: the same, plus the other signs of the training signers (not HELD_OUT) and
  windows without hands, learned as the label `unknown` (`signstream train --unknown`).

Per threshold, on the test signers: **missed** = share of sign windows not reported as their sign
(another sign, unknown, or below the threshold); **false** = share of no-sign windows reported as one
of the three signs: HELD_OUT signs, the other signs of test signers, and their windows without hands.
"per minute" multiplies by the 300 windows a camera gives a minute (15 fps, stride 3); detections
need 5 such windows in a row, so they are fewer. The clips of ../shared/videos go through the live
frame path (as bench_videos.py, windows at stride 3) and the classifier's smoothing (threshold 0.7,
5 windows in a row).

    python bench/bench_unknown.py [--folds 3] [--epochs 15] [--seed 0]
Writes bench/results/unknown.json and .md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np  # noqa: E402
from bench_videos import VIDEOS, clip_keypoints, smoothed_detections, windows_of  # noqa: E402
from common import SHARED, write_results
from streams import FPS, STRIDE, StreamScore, judge, person_stream, stream_probabilities  # noqa: E402

from services.classifier.runner import fast_runner  # noqa: E402
from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.trainer.data import add_unknown, load_data, read_data, without_hands  # noqa: E402
from services.trainer.generalisation import signer_folds  # noqa: E402
from services.trainer.training import TrainOptions, fit  # noqa: E402
from shared.model_store import UNKNOWN  # noqa: E402

DATASETS = SHARED / "datasets"
HELD_OUT = ("please", "welcome")
SIGNS = ("hello", "iloveyou", "thanks")
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
WINDOWS_PER_MINUTE = FPS * 60 / STRIDE
CLIP_SIGNS = {"hello": "hello", "thanks": "thanks", "thankyou": "thanks", "iloveyou": "iloveyou",
              "i_love_you": "iloveyou"}


def other_signers() -> dict[str, str | None]:
    """other_signs file stem -> the more_signers stem of the same person, where known."""
    manifest = json.loads((DATASETS / "other_signs" / "manifest.json").read_text())
    return {Path(f["file"]).stem: Path(f["same_signer_as"]).stem if f["same_signer_as"] else None
            for f in manifest["files"]}


def fold_of_others(folds: list[list[str]]) -> dict[str, int]:
    where = {signer: i for i, fold in enumerate(folds) for signer in fold}
    out, spread = {}, 0
    for other, same in sorted(other_signers().items()):
        if same in where:
            out[other] = where[same]
        else:
            out[other], spread = spread % len(folds), spread + 1
    return out


def fold_arguments(description: str) -> argparse.ArgumentParser:
    """The options every leave-signers-out bench over the unknown streams takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--signers-only", action="store_true",
                        help="a quick try: the 12 signers of ../shared/datasets/signers and their folds only")
    return parser


class FoldData(NamedTuple):
    signs: object  # Dataset of the three signs
    others: object  # Dataset of other_signs
    folds: list[list[str]]  # test signers of each fold
    others_fold: np.ndarray  # per other_signs sequence, the fold that tests its person


def fold_data(args: argparse.Namespace) -> FoldData:
    signs = load_data([DATASETS / "signers"] if args.signers_only else [DATASETS / "signers", DATASETS / "more_signers"])
    others = read_data([DATASETS / "other_signs"])
    folds = signer_folds(signs.groups, args.folds, seed=args.seed)
    other_fold = fold_of_others(folds)
    return FoldData(signs, others, folds, np.array([other_fold[g] for g in others.groups]))


def fold_streams(test_signs, others, in_test: np.ndarray, kinds: np.ndarray, seed: int) -> list:
    """One stream per person of the test fold: their signs, their other signs (each of the kind
    `kinds` names), idle stretches; people of other_signs with no sign recordings get a stream of their own."""
    same = other_signers()
    rng = np.random.default_rng(seed)
    people: dict[str, tuple[list, list]] = {}
    for x, label, group in zip(test_signs.X, test_signs.y, test_signs.groups):
        people.setdefault(str(group), ([], []))[0].append((str(label), x))
    for x, group, kind in zip(others.X[in_test], others.groups[in_test], kinds[in_test]):
        person = same.get(str(group)) if same.get(str(group)) in people else str(group)
        people.setdefault(person, ([], []))[1].append((str(kind), x))
    return [person_stream(signs, non_signs, rng) for _, (signs, non_signs) in sorted(people.items())]


def probabilities(runner, labels: list[str], X: np.ndarray) -> np.ndarray:
    """Probabilities over SIGNS (+ UNKNOWN where the model has it), in that order, as served (TFLite)."""
    probs = np.concatenate([runner(X[i:i + 256]) for i in range(0, len(X), 256)]) if len(X) else np.zeros((0, len(labels)))
    return in_sign_order(probs, labels)


def in_sign_order(probs: np.ndarray, labels: list[str]) -> np.ndarray:
    """The columns of SIGNS, then UNKNOWN where the model has it."""
    return probs[:, [labels.index(s) for s in SIGNS] + ([labels.index(UNKNOWN)] if UNKNOWN in labels else [])]


def reported(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Index into SIGNS of what each window reports, or -1 (unknown, or below the threshold)."""
    top = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    return np.where((top < len(SIGNS)) & (conf >= threshold), top, -1)


def clip_probabilities(runner, labels: list[str]) -> dict[str, np.ndarray]:
    """Per clip, the probabilities (in sign order) of the windows the classifier takes over one pass of it."""
    return {entry["file"]: probabilities(runner, labels, windows_of(clip_keypoints(entry["file"]))[::STRIDE])
            for entry in json.loads((VIDEOS / "manifest.json").read_text())}


def clip_detections(runner, labels: list[str]) -> dict[str, list[str]]:
    """Per clip, the detections the classifier's smoothing makes over one pass of it."""
    return {clip: smoothed_detections(probs, [*SIGNS, UNKNOWN], 0.7, 5, background=(UNKNOWN,))
            for clip, probs in clip_probabilities(runner, labels).items()}


def main() -> None:
    args = fold_arguments(__doc__.splitlines()[0]).parse_args()
    signs, others, folds, in_fold = fold_data(args)
    held_out = np.isin(others.y, HELD_OUT)
    configs = ("three signs", "with unknown")
    clips: dict[str, dict[str, list]] = {c: {} for c in configs}  # clip -> detections of each fold's model
    scores: dict[str, dict[str, list]] = {c: {"signs": [], "held_out_signs": [], "other_signs": [], "no_hands": []}
                                          for c in configs}
    stream_scores = {c: {t: StreamScore() for t in THRESHOLDS} for c in configs}
    stream_minutes = 0.0
    started = time.time()
    for k, test in enumerate(folds):
        is_test = np.isin(signs.groups, test)
        train, test_signs = signs.subset(~is_test), signs.subset(is_test)
        trained_others = others.subset((in_fold != k) & ~held_out)
        none_sets = {"held_out_signs": others.X[(in_fold == k) & held_out],
                     "other_signs": others.X[(in_fold == k) & ~held_out],
                     "no_hands": without_hands(test_signs.X)}
        streams = fold_streams(test_signs, others, in_fold == k, np.where(held_out, "held_out_signs", "other_signs"),
                               args.seed + k)
        stream_minutes += sum(len(st.frames) for st in streams) / FPS / 60
        for config in configs:
            data = add_unknown(train, trained_others, idle=True, seed=args.seed) if config == "with unknown" else train
            options = TrainOptions(epochs=args.epochs, patience=5, seed=args.seed)
            model, labels, *_ = fit(data, options, verbose=2)
            runner = fast_runner(model)
            truth = np.array([SIGNS.index(v) for v in test_signs.y])
            scores[config]["signs"].append((probabilities(runner, labels, test_signs.X), truth))
            for name, X in none_sets.items():
                scores[config][name].append(probabilities(runner, labels, X))
            for stream in streams:
                probs = in_sign_order(stream_probabilities(runner, stream.frames), labels)
                for threshold in THRESHOLDS:
                    stream_scores[config][threshold].add(judge(stream, probs, [*SIGNS, UNKNOWN], threshold, 5,
                                                               background=(UNKNOWN,)))
            for clip, found in clip_detections(runner, labels).items():
                clips[config].setdefault(clip, []).append(found)
            print(f"fold {k + 1}/{len(folds)} {config}: {len(data.y)} training windows, {time.time() - started:.0f} s",
                  flush=True)

    table = {}
    for config in configs:
        probs = np.concatenate([p for p, _ in scores[config]["signs"]])
        truth = np.concatenate([t for _, t in scores[config]["signs"]])
        rows = {}
        for threshold in THRESHOLDS:
            said = reported(probs, threshold)
            row = {"missed": float(np.mean(said != truth)), "wrong": float(np.mean((said >= 0) & (said != truth)))}
            for name in ("held_out_signs", "other_signs", "no_hands"):
                none = np.concatenate(scores[config][name])
                row[f"false_{name}"] = float(np.mean(reported(none, threshold) >= 0)) if len(none) else 0.0
            row["false_per_minute"] = round(WINDOWS_PER_MINUTE * np.mean(
                [row[f"false_{n}"] for n in ("held_out_signs", "other_signs", "no_hands")]), 1)
            rows[threshold] = row
        table[config] = rows

    counts = {"sign_windows": int(len(signs.y)),
              "held_out_signs": int(held_out.sum()), "other_signs": int((~held_out).sum()),
              "no_hands": int(len(signs.y))}
    md = ["# The unknown outcome: false reports on windows with no trained sign, against missed signs", "",
          f"Leave-signers-out, {args.folds} folds over the 93 signers of hello / thanks / iloveyou, seed {args.seed}, "
          f"at most {args.epochs} epochs (patience 5). No-sign windows of the test signers: the signs "
          f"{' and '.join(HELD_OUT)} (never trained by either model: {counts['held_out_signs']} windows in all), "
          f"the other signs of ../shared/datasets/other_signs ({counts['other_signs']}), and each sign window "
          "with both hands removed. A window is reported when its top label is a sign at or above the threshold.",
          "", f"`bench/bench_unknown.py`; the classifier's default threshold is {ClassifierSettings().threshold}.", ""]
    for config in configs:
        md += [f"## {config}", "",
               "| threshold | missed signs | wrong sign | false: held-out signs | false: other signs "
               "| false: no hands | false windows / min |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for threshold, row in table[config].items():
            md.append(f"| {threshold} | {row['missed']:.3f} | {row['wrong']:.3f} | {row['false_held_out_signs']:.3f} "
                      f"| {row['false_other_signs']:.3f} | {row['false_no_hands']:.3f} | {row['false_per_minute']} |")
        md.append("")
    streams_table = {c: {str(t): score.summary() for t, score in per.items()} for c, per in stream_scores.items()}
    md += ["## Detections on continuous streams", "",
           f"Each test person's recordings played back to back as one camera stream ({stream_minutes:.0f} minutes in all, "
           "at 15 fps): their signs, their other signs, and hands-out-of-view stretches, shuffled; windows every 3rd "
           "frame through the classifier's smoothing (5 windows in a row at or above the threshold; `bench/streams.py` "
           "says how a detection is judged). **Missed**: share of sign occurrences with no right detection. "
           "**False / min**: detections per minute of material that holds none of the three signs.", "",
           "| model | threshold | missed signs | wrong detections per sign | false / min: held-out signs "
           "| other signs | no hands | all non-sign material |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for config in configs:
        for threshold, row in streams_table[config].items():
            per = row["false_per_minute"]
            md.append(f"| {config} | {threshold} | {row['missed']:.3f} | {row['wrong_per_sign']:.3f} "
                      f"| {per.get('held_out_signs', 0):.2f} | {per.get('other_signs', 0):.2f} "
                      f"| {per.get('no_hands', 0):.2f} | {row['false_per_minute_all']:.2f} |")
    md += ["", f"Sign occurrences: {streams_table[configs[0]][str(THRESHOLDS[0])]['occurrences']}; "
           f"non-sign material: {streams_table[configs[0]][str(THRESHOLDS[0])]['non_sign_minutes']} minutes.", ""]
    md += ["## Clips through the live frame path (detections in one pass, each fold's model)", "",
           "| clip | sign | " + " | ".join(configs) + " |", "| --- | --- | " + " | ".join("---" for _ in configs) + " |"]
    manifest = {e["file"]: e["sign"] for e in json.loads((VIDEOS / "manifest.json").read_text())}
    for clip, sign in manifest.items():
        cells = []
        for config in configs:
            per_fold = clips[config].get(clip, [])
            cells.append("; ".join(",".join(found) or "none" for found in per_fold))
        md.append(f"| {clip} | {CLIP_SIGNS.get(sign, sign + ' (not trained)')} | " + " | ".join(cells) + " |")
    md += ["", f"Run time {time.time() - started:.0f} s."]
    write_results("unknown", {"folds": folds, "held_out": HELD_OUT, "epochs": args.epochs, "seed": args.seed,
                              "counts": counts, "table": {c: {str(t): r for t, r in rows.items()}
                                                          for c, rows in table.items()},
                              "streams": streams_table, "clips": clips}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
