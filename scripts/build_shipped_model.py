"""Build the model signstream serves out of the box: services/classifier/shipped_model/.

Trains the default configuration on every signer in ../shared/datasets (the 12 full recordings
and the 81 pose-and-hands ones) with a fixed seed, with the other signs people recorded
(other_signs) and windows without hands as the label `unknown`, then writes the version files, `card.json`
(what it learned from, how it scores, how fast it serves) and `CARD.md` beside it. The folder is
replaced whole, never half-written. Rerun it after changing the default model or the data:

    scripts/setup.sh >/dev/null && ~/.cache/signstream/venv-*/bin/python scripts/build_shipped_model.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.classifier.serving import load_serving_model  # noqa: E402
from services.classifier.shipped import CARD_FILE, SHIPPED_MODEL, SHIPPED_VERSION  # noqa: E402
from services.trainer.data import SHIPPED_SIGNS, SHIPPED_UNKNOWN, Dataset, as_unknown, shipped_data, without_hands  # noqa: E402
from services.trainer.metrics import scores  # noqa: E402
from services.trainer.training import TrainOptions, train  # noqa: E402
from shared.model_store import LABELS_FILE, MODEL_FILE, UNKNOWN, ModelStore  # noqa: E402

KEPT_FILES = (MODEL_FILE, LABELS_FILE, "metrics.json", "options.json", "data.json", "confusion.png")


def save_for_serving(folder: Path) -> None:
    """Rewrite the model without its optimizer state: serving never trains it, and Adam's two
    moments per weight would triple the file."""
    import keras

    import shared.model_layers  # noqa: F401  (registers the layers the model uses)

    trained = keras.models.load_model(folder / MODEL_FILE, compile=False)
    served = keras.models.clone_model(trained)
    served.set_weights(trained.get_weights())
    served.save(folder / "model.tmp.keras")
    (folder / "model.tmp.keras").rename(folder / MODEL_FILE)


def accuracy_on(model, data) -> dict:
    probs = np.concatenate([model.predict(data.X[i:i + 256]) for i in range(0, len(data.y), 256)])
    labels = list(model.labels)
    result = scores(np.array([labels.index(v) for v in data.y]), probs.argmax(axis=1), labels)
    present = set(data.y.tolist())
    return {"accuracy": round(result["accuracy"], 4), "n": result["n"],
            "recall": {k: round(v, 4) for k, v in result["recall"].items() if k in present}}


def evaluation_sets(signs: Dataset, others: Dataset, sets: dict[str, Path]):
    """(name, data) of each set the card scores, made one at a time: each is gigabytes."""
    for name, path in sets.items():
        yield name, signs.subset(np.isin(signs.groups, [p.stem for p in path.glob("*.npz")]))
    yield SHIPPED_UNKNOWN, as_unknown(others, signs.labels)
    yield "windows without hands", Dataset(without_hands(signs.X), np.full(len(signs.y), UNKNOWN), signs.groups)


def ms_per_window(model, window: np.ndarray, repeats: int = 300) -> float:
    model.predict(window)
    started = time.perf_counter()
    for _ in range(repeats):
        model.predict(window)
    return round((time.perf_counter() - started) * 1000 / repeats, 3)


def live_video(model) -> dict:
    """The live-video benchmark's totals (bench/live_video.py) for the model as the classifier serves it."""
    sys.path.insert(0, str(REPO / "bench"))
    from live_video import PLAYINGS, all_clips, run_clips, totals

    from services.classifier.settings import ClassifierSettings

    defaults = ClassifierSettings()
    clips = all_clips()
    results = run_clips(model.predict, list(model.labels), clips, defaults.stride, defaults.threshold,
                        defaults.confirm_windows, (UNKNOWN,))
    return {playing: totals(clips, results[playing]) for playing in PLAYINGS}


def card_markdown(card: dict) -> str:
    lines = [
        f"# The shipped model ({card['version']})",
        "",
        "What `signstream up`, the classifier and the compose deployment serve until a model is trained",
        "and promoted. Built by `scripts/build_shipped_model.py` (fixed seed); `card.json` holds the same",
        "numbers for programs, and a test checks the model against them.",
        "",
        f"- Signs: {', '.join(card['labels'])}",
        f"- Network: {card['options']['arch']}, body-normalised: {card['options']['normalise']}, "
        f"face: {card['options']['face']}, augmented: {card['options']['augment']}, seed {card['options']['seed']}, "
        f"{card['epochs_run']} epochs",
        f"- Trained on {card['sequences']} sequences: the signs of {card['signers']} signers; as `unknown`, "
        f"other signs recorded by {card['other_signers']} people and windows without hands. " +
        ", ".join(f"{k} {v}" for k, v in card["counts"].items()),
        "- `unknown` is published as a prediction and never confirmed as a detection: apps following "
        "`detections` hear nothing when none of the signs is made.",
        f"- Validation (20% of sequences, same signers): accuracy {card['validation_accuracy']:.3f}",
        f"- Serving: {card['ms_per_window']} ms per window at batch 1 (TFLite, {card['measured_on']}); "
        f"{card['model_bytes'] // 1024} KB",
        "",
        "Accuracy of the shipped model on each data set it was trained on (all of it, as served):",
        "",
        "| data | sequences | accuracy | " + " | ".join(f"recall {l}" for l in card["labels"]) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in card["labels"]) + " |",
    ]
    for name, result in card["accuracy"].items():
        lines.append(f"| {name} | {result['n']} | {result['accuracy']:.3f} | "
                     + " | ".join(f"{result['recall'][l]:.3f}" if l in result["recall"] else "-"
                                  for l in card["labels"]) + " |")
    lines += ["", "These are training-data figures. How it does on people it has never seen, and how often it",
              "reports a sign where there is none, is measured leave-signers-out in bench/ (see README,",
              "Benchmarks; bench/results/unknown.md)."]
    live = card.get("live_video")
    if live:
        lines += ["", f"On live video of people outside its data ({live['once']['known_clips']} clips of its signs and "
                  f"{live['once']['other_clips']} of other signs from ../shared/clips and ../shared/videos, through the live "
                  "frame path and the classifier's defaults; `bench/bench_live_video.py`):", "",
                  "| played | clips of its signs with a clean detection | signs counted twice | false detections on "
                  "other signs (per minute) |", "| --- | --- | --- | --- |"]
        lines += [f"| {playing} | {t['clean']} of {t['known_clips']} | {len(t['counted_twice'])} | "
                  f"{t['false_detections']} ({t['false_per_minute']:.2f}) |" for playing, t in live.items()]
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    # 40 gave more false detections on live clips (bench/results/live_recipes.md)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sets = {name: args.datasets / name for name in SHIPPED_SIGNS}
    signs, others, data = shipped_data(args.datasets, args.seed)
    options = TrainOptions(epochs=args.epochs, patience=10, seed=args.seed, min_accuracy=0.9)  # the live recipe
    with tempfile.TemporaryDirectory() as scratch:
        outcome = train(data, options, ModelStore(Path(scratch) / "models"), verbose=2)
        if not outcome.verdict.accepted:
            print(f"not shipped: {outcome.verdict.reason}", file=sys.stderr)
            return 1
        staging = SHIPPED_MODEL.with_name(SHIPPED_MODEL.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in KEPT_FILES:
            shutil.copy2(outcome.path / name, staging / name)
        save_for_serving(staging)
        metrics = json.loads((staging / "metrics.json").read_text())
        metrics.pop("history", None)  # per-epoch curves: kilobytes nobody serving needs
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=1))

        model = load_serving_model(staging, SHIPPED_VERSION)
        card = {
            "version": SHIPPED_VERSION,
            "labels": list(model.labels),
            "options": asdict(options),
            "epochs_run": outcome.metrics["epochs_run"],
            "sequences": int(len(data.y)),
            "signers": int(len(set(signs.groups.tolist()))),
            "other_signers": int(len(set(others.groups.tolist()))),
            "counts": data.counts(),
            "sources": [str(Path(s).relative_to(args.datasets.parent)) if Path(s).is_relative_to(args.datasets.parent)
                        else s for s in data.sources],
            "validation_accuracy": round(outcome.metrics["accuracy"], 4),
            "accuracy": {name: accuracy_on(model, part) for name, part in evaluation_sets(signs, others, sets)},
            "ms_per_window": ms_per_window(model, data.X[:1]),
            "measured_on": f"{os.cpu_count()} CPU cores",
            "model_bytes": (staging / MODEL_FILE).stat().st_size,
            "live_video": live_video(model),
        }
        (staging / CARD_FILE).write_text(json.dumps(card, indent=1) + "\n")
        (staging / "CARD.md").write_text(card_markdown(card))
        old = SHIPPED_MODEL.with_name(SHIPPED_MODEL.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if SHIPPED_MODEL.exists():
            SHIPPED_MODEL.rename(old)
        staging.rename(SHIPPED_MODEL)
        shutil.rmtree(old, ignore_errors=True)
    print(card_markdown(card))
    return 0


if __name__ == "__main__":
    sys.exit(main())
