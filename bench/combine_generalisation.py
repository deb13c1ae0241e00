"""One table from several bench_generalisation runs with different seeds (same folds and epochs).

Each run's mean is over all 12 signers, so the combined mean is the mean of the runs' means;
the spread shown is the lowest and highest single-seed mean (or run mean, for rows written before
per-seed means were kept), and collapses are summed.

    python bench/combine_generalisation.py generalisation generalisation-seeds-2-3 [--name generalisation-combined]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np  # noqa: E402
from bench_generalisation import usual_signers
from common import RESULTS, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="results names in bench/results")
    parser.add_argument("--name", default="generalisation-combined")
    args = parser.parse_args()
    runs = [json.loads((RESULTS / f"{name}.json").read_text()) for name in args.runs]
    if len({(r["folds"], r["epochs"]) for r in runs}) != 1:
        raise SystemExit("these runs differ in folds or epochs; combine runs of one design only")
    order, by_config = [], {}
    for run in runs:
        for row in run["rows"]:
            if row["config"] not in by_config:
                order.append(row["config"])
            by_config.setdefault(row["config"], []).append((run["seeds"], row))
    lines = [f"# Leave-signers-out over several seed sets ({time.strftime('%Y-%m-%d')}; {runs[0]['folds']} folds, "
             f"at most {runs[0]['epochs']} epochs; from {', '.join(args.runs)})", "",
             "'Usual signers': the mean over the signers whose recordings show the handshapes most signers use "
             "for every label (handshapes.md).", "",
             "| configuration | seeds | mean accuracy | range of means | usual signers | worst signer (mean over seeds) "
             "| collapsed runs | inference ms/window |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    combined = []
    for config in order:
        parts = by_config[config]
        seeds = sorted(s for seed_set, _ in parts for s in seed_set)
        means = [m for _, row in parts for m in (row.get("mean_by_seed") or {"run": row["mean_accuracy"]}).values()]
        per_signer: dict[str, list[float]] = {}
        for seed_set, row in parts:
            for signer, acc in row["per_signer"].items():
                per_signer.setdefault(signer, []).extend([acc] * len(seed_set))
        signer_means = {s: float(np.mean(v)) for s, v in per_signer.items()}
        worst = min(signer_means, key=signer_means.get)
        usual = usual_signers(sorted(signer_means))
        entry = {"config": config, "seeds": seeds, "mean_accuracy": round(float(np.mean(list(signer_means.values()))), 3),
                 "usual_signers_accuracy": round(float(np.mean([signer_means[s] for s in usual])), 3),
                 "min_mean": round(min(means), 3), "max_mean": round(max(means), 3), "worst_signer": worst,
                 "worst_accuracy": round(signer_means[worst], 3),
                 "collapsed_runs": sum(row["collapsed_runs"] for _, row in parts),
                 "runs": sum(row["runs"] for _, row in parts),
                 "inference_ms_per_window": parts[-1][1]["inference_ms_per_window"]}
        combined.append(entry)
        lines.append(f"| {config} | {','.join(map(str, seeds))} | {entry['mean_accuracy']:.3f} | "
                     f"{entry['min_mean']:.3f} to {entry['max_mean']:.3f} | {entry['usual_signers_accuracy']:.3f} | "
                     f"{entry['worst_accuracy']:.3f} ({worst}) | "
                     f"{entry['collapsed_runs']} of {entry['runs']} | {entry['inference_ms_per_window']} |")
    write_results(args.name, {"runs": args.runs, "rows": combined}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
