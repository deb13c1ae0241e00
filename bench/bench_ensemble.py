"""Does an ensemble pay for its cost? The shipped recipe (gru) beside a transformer, and the mean of both.

Leave-signers-out on the folds, streams and clips of bench_unknown.py (bench/variants.py): each
fold trains the shipped recipe (gru + normalise + augment, no face, with `unknown`: other signs and
windows without hands) and the same with the transformer; the ensemble serves the mean of their
probabilities.

    python bench/bench_ensemble.py [--folds 3] [--epochs 15] [--seed 0]
Writes bench/results/ensemble.json and .md.
"""

from __future__ import annotations

from bench_unknown import fold_arguments  # noqa: E402
from common import write_results
from variants import compare, table  # noqa: E402

from services.trainer.training import TrainOptions  # noqa: E402


def main() -> None:
    args = fold_arguments(__doc__.splitlines()[0]).parse_args()
    variants = {arch: TrainOptions(arch=arch, epochs=args.epochs, patience=5, seed=args.seed)
                for arch in ("gru", "transformer")}
    result = compare(args, variants, {"gru + transformer (mean)": ("gru", "transformer")})
    md = ["# An ensemble against its parts: gru, transformer, and the mean of both", "",
          f"Leave-signers-out, {args.folds} folds over the 93 signers, seed {args.seed}, at most {args.epochs} epochs "
          "(patience 5), each trained with `unknown` as shipped; the streams and clips of `bench/bench_unknown.py`. "
          "Window accuracy: sign windows whose top label is right, per signer, averaged over signers. "
          "ms per window: median at batch 1 as served (TFLite), on this machine in the same run. "
          "`bench/bench_ensemble.py`.", "", *table(result)]
    write_results("ensemble", {"folds": result["folds"], "epochs": args.epochs, "seed": args.seed,
                               "rows": result["rows"], "clips": result["clips"]}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
