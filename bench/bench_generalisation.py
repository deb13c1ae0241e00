"""Recognition of signers a model has never seen: leave-signers-out over the dev signers (12), or
with `--data signers,more_signers` over all 93 (the pose-and-hands signers train faceless models only).

For each configuration (architecture x normalisation x augmentation), every signer is tested once by models
trained without any of that signer's sequences (--folds disjoint groups of signers, rotating),
over several seeds. Reports mean and worst-signer accuracy, how often training collapsed onto
one class, and the served inference cost per window (TFLite, batch 1). The recipe's network on
raw keypoints, trained the recipe's way (Adam, categorical cross-entropy, fixed epochs, no early
stopping), is the baseline in the same run.

    python bench/bench_generalisation.py [--folds 3] [--seeds 0,1] [--epochs 40] [--data signers]
Writes bench/results/generalisation.json and .md (--name to choose another).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np  # noqa: E402
from common import RESULTS, SHARED, write_results

from services.trainer.data import load_data  # noqa: E402
from services.trainer.generalisation import leave_signers_out  # noqa: E402
from services.trainer.model import build_model  # noqa: E402
from services.trainer.training import TrainOptions, keras_fitter  # noqa: E402


@dataclass(frozen=True)
class Config:
    name: str
    arch: str
    normalise: bool = True
    augment: bool = True
    face: bool = False
    audit: bool = False
    without_differing: bool = False  # never train on the signers handshapes.json names; all are still tested
    patience: int = 10  # 0: the recipe's fixed epochs

    def options(self, epochs: int, seed: int) -> TrainOptions:
        return TrainOptions(arch=self.arch, normalise=self.normalise, augment=self.augment, face=self.face,
                            audit=self.audit, epochs=epochs, patience=self.patience,
                            seed=seed)

    def inference_ms(self, repeats: int = 200) -> float:
        """Served cost of one window: the classifier's TFLite runner at batch 1."""
        from services.classifier.runner import fast_runner

        runner = fast_runner(build_model(self.arch, 3, normalise=self.normalise, face=self.face))
        window = np.random.default_rng(0).random((1, 30, 1662), dtype=np.float32)
        runner(window)
        started = time.perf_counter()
        for _ in range(repeats):
            runner(window)
        return (time.perf_counter() - started) / repeats * 1000


CONFIGS = [
    # The baseline wherever some signers have no face recorded: the recipe's network on raw pose and hands.
    Config("recipe, no face (baseline)", "recipe", normalise=False, augment=False, patience=0),
    Config("recipe (baseline)", "recipe", normalise=False, augment=False, face=True, patience=0),
    Config("recipe + normalise", "recipe", augment=False, face=True),
    Config("gru", "gru", normalise=False, augment=False, face=True),
    Config("gru + normalise", "gru", augment=False, face=True),
    Config("gru + normalise + augment", "gru", face=True),
    Config("gru + normalise + augment, no face", "gru"),
    Config("conv + normalise + augment", "conv", face=True),
    Config("conv + normalise + augment, no face", "conv"),
    Config("transformer + normalise + augment", "transformer", face=True),
    Config("transformer + normalise + augment, no face", "transformer"),
    # Measured and removed (2026-12-05; their rows stay in results/generalisation-93.md): each hand relative to
    # its wrist (hand shape), each float's change since the previous frame (velocity), the window served beside its
    # mirror image (mirror-averaged). None beat the default.
    # Inside each fold the audit sees the training signers only, as the trainer would.
    Config("gru + normalise + augment, no face, audited", "gru", audit=True),
    # What a perfect audit could gain: the signers that the handshapes show to differ never trained on.
    Config("gru + normalise + augment, no face, differing signers not trained on", "gru", without_differing=True),
]


def differing_signers() -> list[str]:
    """The signers audit_handshapes.py found recording another handshape under some label."""
    return json.loads((RESULTS / "handshapes.json").read_text())["differing_signers"]


def config_fitter(config: Config, epochs: int):
    fitter = keras_fitter(lambda seed: config.options(epochs, seed))
    if not config.without_differing:
        return fitter
    left_out = differing_signers()
    return lambda train, seed: fitter(train.subset(~np.isin(train.groups, left_out)), seed)


def usual_signers(signers: list[str]) -> list[str]:
    """The signers whose handshapes match everyone else's for every label (audit_handshapes.py), else all."""
    differing = set(differing_signers()) if (RESULTS / "handshapes.json").exists() else set()
    return [s for s in signers if s not in differing]


def render(result: dict) -> list[str]:
    rows, signers = result["rows"], sorted(result["rows"][0]["per_signer"]) if result["rows"] else []
    if len(signers) > 12:
        return render_many(result, signers)
    usual = usual_signers(signers)
    lines = [
        f"# Leave-signers-out ({result['date'][:10]}; 12 dev signers, {result['folds']} folds, seeds {result['seeds']}, "
        f"at most {result['epochs']} epochs)", "",
        "Every signer is tested by models that never saw them; accuracy per signer averaged over seeds. "
        f"'Usual signers' are the {len(usual)} whose recordings show the handshapes most signers use for every "
        "label (handshapes.md); the others recorded another sign under some label, which no model can "
        "recognise as the label.", "",
        "| configuration | mean accuracy (± sd over seeds) | usual signers | worst signer | collapsed runs "
        "| inference ms/window |", "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        spread = f" ± {r['seed_std']:.3f}" if "seed_std" in r else ""
        usual_mean = np.mean([r["per_signer"][s] for s in usual])
        lines.append(f"| {r['config']} | {r['mean_accuracy']:.3f}{spread} | {usual_mean:.3f} | "
                     f"{r['worst_accuracy']:.3f} ({r['worst_signer']}) | {r['collapsed_runs']} of {r['runs']} | "
                     f"{r['inference_ms_per_window']} |")
    lines += ["", "Per signer (accuracy when never seen in training; * recorded another sign under some label):", "",
              "| configuration | " + " | ".join(s.removeprefix("signer_") + ("" if s in usual else "*")
                                                for s in signers) + " |",
              "| --- |" + " --- |" * len(signers)]
    lines += [f"| {r['config']} | " + " | ".join(f"{r['per_signer'][s]:.2f}" for s in signers) + " |" for r in rows]
    lines += ["", "Labels: " + ", ".join(result["labels"]) + "; confusion matrices (rows true) in the .json file."]
    return lines


def render_many(result: dict, signers: list[str]) -> list[str]:
    """Too many signers for a column each: the spread over signers, per dataset, and the worst few."""
    rows, usual = result["rows"], usual_signers(signers)
    datasets = result.get("signer_datasets", {})
    names = sorted(set(datasets.values()))
    lines = [
        f"# Leave-signers-out over {len(signers)} signers ({result['date'][:10]}; {result['folds']} folds, seeds "
        f"{result['seeds']}, at most {result['epochs']} epochs; data: {', '.join(names)})", "",
        "Every signer is tested by models that never saw them; accuracy per signer averaged over seeds, then "
        f"averaged over signers (each signer counts once, whatever their number of recordings). 'Usual signers' "
        f"are the {len(usual)} whose recordings show the handshapes most signers use for every label "
        "(handshapes.md); the others recorded another sign under some label, which no model can recognise as "
        "that label. 10th pct: the signer accuracy that 90% of signers reach.", "",
        "| configuration | mean (± sd over seeds) | " + " | ".join(f"{n} ({sum(v == n for v in datasets.values())})"
                                                           for n in names) +
        " | usual signers | 10th pct | worst signer | signers < 0.5 | collapsed runs | inference ms/window |",
        "| --- | --- |" + " --- |" * len(names) + " --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        per = r["per_signer"]
        by_set = [np.mean([per[s] for s in signers if datasets.get(s) == n]) for n in names]
        lines.append(
            f"| {r['config']} | {r['mean_accuracy']:.3f} ± {r['seed_std']:.3f} | " +
            " | ".join(f"{v:.3f}" for v in by_set) +
            f" | {np.mean([per[s] for s in usual]):.3f} | {np.percentile(list(per.values()), 10):.3f} | "
            f"{r['worst_accuracy']:.3f} ({r['worst_signer']}) | {sum(v < 0.5 for v in per.values())} | "
            f"{r['collapsed_runs']} of {r['runs']} | {r['inference_ms_per_window']} | ")
    lines += ["", "Worst five signers per configuration (* recorded another sign under some label):", ""]
    for r in rows:
        worst = sorted(r["per_signer"].items(), key=lambda kv: kv[1])[:5]
        lines.append(f"- {r['config']}: " + ", ".join(f"{s}{'' if s in usual else '*'} {v:.2f}" for s, v in worst))
    lines += ["", "Labels: " + ", ".join(result["labels"]) + "; per-signer accuracy and confusion matrices (rows "
              "true) in the .json file."]
    return lines


def config_row(config: Config, data_names: list[str], folds: int, seeds: list[int], epochs: int) -> dict:
    """One configuration's leave-signers-out results, as a row of the results table."""
    started = time.perf_counter()
    data = load_data([SHARED / "datasets" / name for name in data_names])
    report = leave_signers_out(data, config_fitter(config, epochs), n_folds=folds, seeds=seeds)
    worst_signer, worst = report.worst
    return {
        "config": config.name, "arch": config.arch, "normalise": config.normalise, "augment": config.augment,
        "face": config.face, "audit": config.audit,
        "without_differing": config.without_differing,
        "mean_accuracy": round(report.mean, 3), "seed_std": round(report.seed_std, 3),
        "mean_by_seed": {str(k): round(v, 3) for k, v in report.mean_by_seed().items()},
        "worst_signer": worst_signer, "worst_accuracy": round(worst, 3),
        "collapsed_runs": report.collapses, "runs": len(report.folds),
        "per_signer": {k: round(v, 3) for k, v in report.per_signer().items()},
        "confusion": report.confusion().tolist(),
        "per_signer_confusion": {s: report.confusion(s).tolist() for s in report.per_signer()},
        "inference_ms_per_window": round(config.inference_ms(), 3),
        "minutes": round((time.perf_counter() - started) / 60, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--data", default="signers",
                        help="comma-separated folders of ../shared/datasets to pool (e.g. signers,more_signers)")
    parser.add_argument("--only", default="", help="semicolon-separated config names to run (default: all)")
    parser.add_argument("--name", default="generalisation", help="results file name in bench/results")
    parser.add_argument("--render", action="store_true", help="only rewrite the .md from the .json, training nothing")
    args = parser.parse_args()
    if args.render:
        result = json.loads((RESULTS / f"{args.name}.json").read_text())
        write_results(args.name, result, render(result))  # keeps the run's own date and machine
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    data_names = args.data.split(",")
    # Names only: the rows load the data in their own processes.
    labels: set[str] = set()
    signer_datasets = {}
    for name in data_names:
        part = load_data([SHARED / "datasets" / name])
        labels.update(part.labels)
        signer_datasets.update({signer: name for signer in sorted(set(part.groups.tolist()))})
    # TensorFlow keeps memory from every fit (about 0.25 GB per short fit here, clear_session or not),
    # so each configuration trains in a process of its own that ends with it.
    rows = []
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as fresh_process:
        for config in CONFIGS:
            if args.only and config.name not in args.only.split(";"):
                continue
            rows.append(fresh_process.submit(config_row, config, data_names, args.folds, seeds, args.epochs).result())
            print({k: v for k, v in rows[-1].items() if "confusion" not in k and k != "per_signer"}, flush=True)
    if args.only:  # add to the table of earlier runs with the same folds, seeds and epochs
        earlier = RESULTS / f"{args.name}.json"
        if earlier.exists():
            previous = json.loads(earlier.read_text())
            if (previous["folds"], previous["seeds"], previous["epochs"], previous.get("data", ["signers"])) == \
                    (args.folds, seeds, args.epochs, data_names):
                names = {r["config"] for r in rows}
                rows = [r for r in previous["rows"] if r["config"] not in names] + rows
                order = [c.name for c in CONFIGS]
                rows.sort(key=lambda r: order.index(r["config"]) if r["config"] in order else len(order))
    result = {"folds": args.folds, "seeds": seeds, "epochs": args.epochs, "data": data_names,
              "signer_datasets": signer_datasets, "labels": sorted(labels), "rows": rows}
    lines = render({"date": time.strftime("%Y-%m-%d"), **result})
    write_results(args.name, result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
