"""Loading a model version for serving, checked before it may replace the one in use."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from services.classifier.runner import Runner, check_runner, fast_runner
from shared.codec import VECTOR_SIZE, WINDOW
from shared.errors import ModelError

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"


@dataclass(frozen=True)
class ServingModel:
    version: str
    path: Path
    labels: tuple[str, ...]
    runner: Runner


def read_labels(path: Path) -> tuple[str, ...]:
    try:
        raw = json.loads((path / LABELS_FILE).read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read {path / LABELS_FILE}: {e}") from e
    labels = raw.get("labels") if isinstance(raw, dict) else raw
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{path / LABELS_FILE} must hold a non-empty list of label names")
    return tuple(labels)


def load_serving_model(path: str | Path, version: str | None = None) -> ServingModel:
    """Load, convert and dry-run a model version; ModelError says why it cannot serve."""
    import keras

    import services.trainer.layers  # noqa: F401  (registers the layers saved models may use)

    path = Path(path)
    if not (path / MODEL_FILE).is_file():
        raise ModelError(f"no {MODEL_FILE} in {path}: train one with `signstream train`")
    labels = read_labels(path)
    try:
        model = keras.models.load_model(path / MODEL_FILE, compile=False)
    except Exception as e:
        raise ModelError(f"cannot load {path / MODEL_FILE}: {e}") from e
    shape = tuple(model.input_shape)
    if shape[1:] != (WINDOW, VECTOR_SIZE):
        raise ModelError(f"model takes input {shape[1:]}, expected ({WINDOW}, {VECTOR_SIZE})")
    runner = fast_runner(model)
    check_runner(runner, len(labels))
    return ServingModel(version or path.name, path, labels, runner)
