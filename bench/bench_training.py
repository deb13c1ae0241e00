"""Training cost: seconds per epoch of each architecture on the 12 dev signers (1,080 sequences).

    python bench/bench_training.py [--epochs 3]
Writes bench/results/training.json and .md.
"""

from __future__ import annotations

import argparse
import time

from common import SHARED, write_results

from services.trainer.data import load_data  # noqa: E402
from services.trainer.model import ARCHITECTURES  # noqa: E402
from services.trainer.training import TrainOptions, fit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    data = load_data([SHARED / "datasets" / "signers"])
    rows = []
    for arch in ARCHITECTURES:
        options = TrainOptions(arch=arch, epochs=args.epochs, patience=0)
        _, _, _, history, seconds_per_epoch = fit(data, options, verbose=0)
        rows.append({"arch": arch, "seconds_per_epoch": round(seconds_per_epoch, 2),
                     "sequences_per_s": round(len(data.y) * (1 - options.val_fraction) / seconds_per_epoch, 1)})
        print(rows[-1], flush=True)
    lines = [f"# Training cost ({time.strftime('%Y-%m-%d')}, {len(data.y)} sequences, 80% trained on, batch 32)", "",
             "| architecture | s per epoch | sequences/s |", "| --- | --- | --- |"]
    lines += [f"| {r['arch']} | {r['seconds_per_epoch']} | {r['sequences_per_s']} |" for r in rows]
    write_results("training", {"epochs": args.epochs, "sequences": len(data.y), "rows": rows}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
