"""More signs: does a model that also knows yes, no and please hold up on people it never saw,
without costing hello, thanks and iloveyou?

Leave-signers-out over the 93 signers of the three signs (../shared/datasets/signers and
more_signers); the people of ../shared/datasets/other_signs who recorded yes, no or please follow
their `same_signer_as` signer into a fold, the others are spread over the folds (as in
bench_unknown.py). In every fold both models train on the same training people, with the same
options (the default network, seed, epochs): `three signs` on the three signs, `six signs` on
those plus the yes / no / please recordings of the training people. Both are scored on the test
people: accuracy on the three signs (a window called yes, no or please is wrong), per-sign recall
on the new signs, each averaged over the signers who recorded it; and the clips of ../shared/videos
through the live frame path and the classifier's smoothing.

    python bench/bench_vocabulary.py [--folds 4] [--epochs 15] [--seed 0]
Writes bench/results/vocabulary.json and .md.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np  # noqa: E402
from bench_unknown import fold_of_others  # noqa: E402
from bench_videos import VIDEOS, clip_keypoints, smoothed_detections, windows_of  # noqa: E402
from common import SHARED, write_results

from services.classifier.runner import fast_runner  # noqa: E402
from services.trainer.data import Dataset, load_data, read_data  # noqa: E402
from services.trainer.generalisation import signer_folds  # noqa: E402
from services.trainer.training import TrainOptions, fit  # noqa: E402

DATASETS = SHARED / "datasets"
CORE = ("hello", "iloveyou", "thanks")
NEW = ("no", "please", "yes")
CLIP_SIGNS = {"hello": "hello", "thanks": "thanks", "thankyou": "thanks", "iloveyou": "iloveyou",
              "i_love_you": "iloveyou", "please": "please"}


def predict(runner, X: np.ndarray) -> np.ndarray:
    return np.concatenate([runner(X[i:i + 256]) for i in range(0, len(X), 256)]).argmax(axis=1)


def per_signer_mean(groups: np.ndarray, right: np.ndarray) -> tuple[float, dict[str, float]]:
    per = {str(g): float(right[groups == g].mean()) for g in np.unique(groups)}
    return float(np.mean(list(per.values()))), per


def clip_detections(runner, labels: list[str]) -> dict[str, list[str]]:
    out = {}
    for entry in json.loads((VIDEOS / "manifest.json").read_text()):
        probs = np.concatenate([runner(w[None]) for w in windows_of(clip_keypoints(entry["file"]))[::3]])
        out[entry["file"]] = smoothed_detections(probs, labels, 0.7, 5)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    signs = load_data([DATASETS / "signers", DATASETS / "more_signers"])
    others = read_data([DATASETS / "other_signs"], list(NEW))
    folds = signer_folds(signs.groups, args.folds, seed=args.seed)
    other_fold = fold_of_others(folds)
    in_fold = np.array([other_fold[g] for g in others.groups])
    configs = {"three signs": False, "six signs": True}
    core_right = {c: [] for c in configs}
    core_groups: list[np.ndarray] = []
    new_pred, new_true, new_groups = [], [], []
    clips: dict[str, dict[str, list]] = {c: {} for c in configs}
    started = time.time()
    for k, test in enumerate(folds):
        is_test = np.isin(signs.groups, test)
        train, test_core = signs.subset(~is_test), signs.subset(is_test)
        test_new = others.subset(in_fold == k)
        core_groups.append(test_core.groups)
        for config, more in configs.items():
            data = Dataset.concat([train, others.subset(in_fold != k)]) if more else train
            model, labels, *_ = fit(data, TrainOptions(epochs=args.epochs, patience=5, seed=args.seed), verbose=2)
            runner = fast_runner(model)
            core_right[config].append(np.array(labels)[predict(runner, test_core.X)] == test_core.y)
            if more:
                new_pred.append(np.array(labels)[predict(runner, test_new.X)])
                new_true.append(test_new.y)
                new_groups.append(test_new.groups)
            for clip, found in clip_detections(runner, labels).items():
                clips[config].setdefault(clip, []).append(found)
            print(f"fold {k + 1}/{len(folds)} {config}: {len(data.y)} training sequences, "
                  f"{time.time() - started:.0f} s", flush=True)

    groups = np.concatenate(core_groups)
    core = {c: per_signer_mean(groups, np.concatenate(r)) for c, r in core_right.items()}
    pred, true, ngroups = np.concatenate(new_pred), np.concatenate(new_true), np.concatenate(new_groups)
    new = {}
    for sign in NEW:
        mask = true == sign
        mean, per = per_signer_mean(ngroups[mask], pred[mask] == sign)
        confused = {str(k): int(v) for k, v in zip(*np.unique(pred[mask][pred[mask] != sign], return_counts=True))}
        new[sign] = {"signers": len(per), "sequences": int(mask.sum()), "recall_mean_over_signers": round(mean, 3),
                     "worst_signer": min(per.items(), key=lambda kv: kv[1]) if per else None,
                     "signers_below_half": sum(v < 0.5 for v in per.values()), "taken_for": confused}
    md = [f"# Six signs instead of three, on people never seen ({time.strftime('%Y-%m-%d')}; leave-signers-out, "
          f"{args.folds} folds, seed {args.seed}, at most {args.epochs} epochs)", "",
          "Both models train on the same people in every fold; `six signs` adds the yes / no / please recordings of "
          "../shared/datasets/other_signs (pose and hands only). Accuracy is per signer, then averaged over signers.",
          "", "| model | hello / thanks / iloveyou: mean over 93 signers | worst signer | signers < 0.8 |",
          "| --- | --- | --- | --- |"]
    for config, (mean, per) in core.items():
        worst = min(per.items(), key=lambda kv: kv[1])
        md.append(f"| {config} | {mean:.3f} | {worst[1]:.3f} ({worst[0]}) | {sum(v < 0.8 for v in per.values())} |")
    md += ["", "New signs, `six signs` model:", "",
           "| sign | signers | sequences | recall, mean over signers | worst signer | signers < 0.5 | taken for |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for sign, row in new.items():
        worst = f"{row['worst_signer'][1]:.2f} ({row['worst_signer'][0]})" if row["worst_signer"] else "-"
        md.append(f"| {sign} | {row['signers']} | {row['sequences']} | {row['recall_mean_over_signers']:.3f} | {worst} "
                  f"| {row['signers_below_half']} | {json.dumps(row['taken_for'])} |")
    md += ["", "Clips through the live frame path (detections in one pass, threshold 0.7, 5 windows; one list per "
           "fold's model):", "", "| clip | sign | three signs | six signs |", "| --- | --- | --- | --- |"]
    for entry in json.loads((VIDEOS / "manifest.json").read_text()):
        clip, sign = entry["file"], entry["sign"]
        cells = ["; ".join(",".join(f) or "none" for f in clips[c].get(clip, [])) for c in configs]
        md.append(f"| {clip} | {CLIP_SIGNS.get(sign, sign + ' (in neither)')} | " + " | ".join(cells) + " |")
    md += ["", f"Run time {time.time() - started:.0f} s."]
    write_results("vocabulary", {"folds": folds, "epochs": args.epochs, "seed": args.seed,
                                 "core": {c: {"mean": m, "per_signer": p} for c, (m, p) in core.items()},
                                 "new": new, "clips": clips}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
