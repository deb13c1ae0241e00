"""The training recipe for live video against the one it replaced, on people left out of training.

The live recipe (TrainOptions' defaults now) trains with windows as live cameras give them: y
stretched as other frame aspects stretch it, signing up to 1.7 times faster or slower, and windows
moved in time (up to 8 frames). The recipe it
replaced had none of these. Leave-signers-out on the folds, continuous signer streams and clips
of bench_unknown.py (bench/variants.py), both with `unknown` as shipped, on the same people in
every fold: window accuracy per signer, missed signs and false detections per minute on the streams.

    python bench/bench_live_recipe.py [--folds 3] [--epochs 15] [--seed 0]
Writes bench/results/live_recipe.json and .md.
"""

from __future__ import annotations

from bench_unknown import fold_arguments  # noqa: E402
from common import write_results
from variants import compare, table  # noqa: E402

from services.trainer.training import TrainOptions  # noqa: E402

BEFORE = dict(stretch_y=0.0, speed=0.2, time_shift=0)


def main() -> None:
    args = fold_arguments(__doc__.splitlines()[0]).parse_args()
    common = dict(epochs=args.epochs, patience=5, seed=args.seed)
    result = compare(args, {"recipe before (gru)": TrainOptions(**common, **BEFORE),
                            "live recipe (gru)": TrainOptions(**common)})
    md = ["# The live-video training recipe against the one before it, on people left out of training", "",
          f"Leave-signers-out, {len(result['folds'])} folds, seed {args.seed}, at most {args.epochs} epochs (patience 5), "
          "both trained with `unknown` as shipped; the streams and clips of `bench/bench_unknown.py`. Window accuracy: "
          "recorded sign windows whose top label is right, per signer, averaged over signers. Before: "
          f"{BEFORE}; live: the TrainOptions defaults. `bench/bench_live_recipe.py`.", "", *table(result)]
    write_results("live_recipe", {"folds": result["folds"], "epochs": args.epochs, "seed": args.seed,
                                  "rows": result["rows"], "clips": result["clips"]}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
