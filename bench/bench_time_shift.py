"""Does training on windows moved in time help live recognition? The shipped recipe against the
same with windows moved up to --shift frames earlier or later (edge frames held) half the time.

Recorded sequences start where the recording loop began; live windows slide over a continuous
stream at the classifier's stride and catch signs part-way in or out. Leave-signers-out on the
folds, streams and clips of bench_unknown.py (bench/variants.py), both trained with `unknown` as
shipped, on the same people in every fold.

    python bench/bench_time_shift.py [--folds 3] [--epochs 15] [--seed 0] [--shift 10]
Writes bench/results/time_shift.json and .md.
"""

from __future__ import annotations

from common import write_results

from bench_unknown import fold_arguments  # noqa: E402
from services.trainer.training import TrainOptions  # noqa: E402
from variants import compare, table  # noqa: E402


def main() -> None:
    parser = fold_arguments(__doc__.splitlines()[0])
    parser.add_argument("--shift", type=int, default=10, help="most frames a training window is moved in time")
    args = parser.parse_args()
    shipped = TrainOptions(epochs=args.epochs, patience=5, seed=args.seed)
    shifted = TrainOptions(epochs=args.epochs, patience=5, seed=args.seed, time_shift=args.shift)
    result = compare(args, {"shipped recipe (gru)": shipped, f"gru, moved up to {args.shift} frames": shifted})
    md = [f"# Training windows moved in time (up to {args.shift} frames, half of them) against the shipped recipe", "",
          f"Leave-signers-out, {len(result['folds'])} folds, seed {args.seed}, at most {args.epochs} epochs (patience 5), "
          "both trained with `unknown` as shipped; the streams and clips of `bench/bench_unknown.py`. Window accuracy: "
          "recorded sign windows whose top label is right, per signer, averaged over signers. `bench/bench_time_shift.py`.",
          "", *table(result)]
    write_results("time_shift", {"folds": result["folds"], "epochs": args.epochs, "seed": args.seed,
                                 "shift": args.shift, "rows": result["rows"], "clips": result["clips"]}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
