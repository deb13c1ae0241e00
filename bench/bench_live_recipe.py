"""Training recipes for live video side by side, on people left out of training.

The live recipe trains with windows as live cameras give them: y stretched as other frame aspects
stretch it, signing up to 1.7 times faster or slower, windows moved in time (up to 8 frames), and
(since 2026-12-05) a share of windows as a camera short of frames gives them, each missing frame
the one before repeated. Leave-signers-out on the folds, continuous signer streams and clips of
bench_unknown.py (bench/variants.py), all with `unknown` as shipped, on the same people in every
fold: window accuracy per signer, missed signs and false detections per minute on the streams.

    python bench/bench_live_recipe.py [--folds 3] [--epochs 15] [--seed 0] [--recipes before,live,...] [--name N]
Writes bench/results/<N>.json and .md (N: live_recipe).

Memory: every fit stays in the process (TensorFlow keeps its memory), with the folds' data and streams: two
recipes fit in 24 GiB, three with --ensemble did not (killed in the third fold, 2026-12-05).
"""

from __future__ import annotations

from bench_unknown import fold_arguments  # noqa: E402
from common import write_results
from variants import compare, table  # noqa: E402

from services.trainer.training import TrainOptions  # noqa: E402

RECIPES = {
    "before": ("recipe before (gru)", dict(stretch_y=0.0, speed=0.2, time_shift=0, slow_camera=0.0)),
    "live": ("live recipe (gru)", dict(slow_camera=0.0)),
    "slow": ("live recipe + slow cameras (gru)", dict(slow_camera=0.3)),
    "slow1": ("live recipe + slow cameras, seed + 1 (gru)", dict(slow_camera=0.3, seed_offset=1)),
    "blend": ("live recipe + blends as unknown (gru)", dict(blend_unknown=0.25)),
}


def main() -> None:
    parser = fold_arguments(__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="before,live", help=f"comma-separated, of {', '.join(RECIPES)}")
    parser.add_argument("--name", default="live_recipe", help="results file name in bench/results")
    parser.add_argument("--ensemble", action="store_true", help="also serve the mean of the chosen recipes' models")
    args = parser.parse_args()
    chosen = [RECIPES[key] for key in args.recipes.split(",")]
    common = dict(epochs=args.epochs, patience=5)

    def options(changes: dict) -> TrainOptions:
        changes = dict(changes)
        return TrainOptions(**common, seed=args.seed + changes.pop("seed_offset", 0), **changes)

    variants = {name: options(changes) for name, changes in chosen}
    ensembles = {"mean of the " + str(len(variants)): tuple(variants)} if args.ensemble else None
    result = compare(args, variants, ensembles)
    md = ["# Training recipes for live video, on people left out of training", "",
          f"Leave-signers-out, {len(result['folds'])} folds, seed {args.seed}, at most {args.epochs} epochs (patience 5), "
          "all trained with `unknown` as shipped; the streams and clips of `bench/bench_unknown.py`. Window accuracy: "
          "recorded sign windows whose top label is right, per signer, averaged over signers. Recipes (changes to the "
          "TrainOptions defaults): " + "; ".join(f"{name}: {changes}" for name, changes in chosen) +
          ". `bench/bench_live_recipe.py`.", "", *table(result)]
    write_results(args.name, {"folds": result["folds"], "epochs": args.epochs, "seed": args.seed,
                              "recipes": {name: changes for name, changes in chosen},
                              "rows": result["rows"], "clips": result["clips"]}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
