"""Classifier inference cost: the served runner against the recipe's `model.predict` per window.

For 1, 4 and 16 cameras (one window each, as one batch), in the same run on the same model
(the recipe's network, untrained: cost does not depend on the weights):
- recipe: `model.predict(window[None])` once per window, as the notebook loop does;
- served: the classifier's runner on the batch of all cameras' windows (TFLite, fixed batch sizes).
Writes bench/results/classifier.json and .md.

    python bench/bench_classifier.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np  # noqa: E402
from common import write_results


def recipe_model(n_labels: int = 3):
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((30, 1662)),
        layers.LSTM(64, return_sequences=True, activation="relu"),
        layers.LSTM(128, return_sequences=True, activation="relu"),
        layers.LSTM(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(n_labels, activation="softmax"),
    ])


def time_ms(fn, repeats: int) -> float:
    fn()  # warm-up: graph building, allocation
    best = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best.append((time.perf_counter() - started) * 1000)
    return float(np.median(best))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    from services.classifier.runner import fast_runner

    model = recipe_model()
    runner = fast_runner(model)
    rng = np.random.default_rng(0)
    rows = []
    for cameras in (1, 4, 16):
        windows = rng.random((cameras, 30, 1662), dtype=np.float32)
        recipe = time_ms(lambda: [model.predict(w[None], verbose=0) for w in windows], args.repeats)
        served = time_ms(lambda: runner(windows), args.repeats)
        diff = float(np.abs(runner(windows) - model(windows).numpy()).max())
        rows.append({
            "cameras": cameras,
            "recipe_ms_per_batch": round(recipe, 3),
            "served_ms_per_batch": round(served, 3),
            "recipe_ms_per_window": round(recipe / cameras, 3),
            "served_ms_per_window": round(served / cameras, 3),
            "served_windows_per_s": round(1000 * cameras / served, 1),
            "recipe_windows_per_s": round(1000 * cameras / recipe, 1),
            "speedup": round(recipe / served, 1),
            "max_abs_diff": diff,
        })
        print(rows[-1], flush=True)
    lines = [
        f"# Classifier inference ({time.strftime('%Y-%m-%d')}, runner {runner.kind})",
        "",
        "Median of %d runs; recipe = `model.predict` per window; served = one batched call." % args.repeats,
        "",
        "| cameras | recipe ms/window | served ms/window | served windows/s | speed-up | max diff |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(f"| {row['cameras']} | {row['recipe_ms_per_window']} | {row['served_ms_per_window']} | "
                     f"{row['served_windows_per_s']} | {row['speedup']}x | {row['max_abs_diff']:.1e} |")
    write_results("classifier", {"runner": runner.kind, "repeats": args.repeats, "rows": rows}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
