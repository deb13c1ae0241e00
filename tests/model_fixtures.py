"""Small real keras models in the version-directory layout the trainer writes, for classifier tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_version(path: Path, model, labels: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.keras")
    (path / "labels.json").write_text(json.dumps(labels))
    return path


def constant_model(n_labels: int, favourite: int, seed: int = 0):
    """A real keras model over (30, 1662) whose output always favours one label."""
    logits = np.full(n_labels, -3.0, np.float32)
    logits[favourite] = 3.0
    return logits_model(logits, seed)


def logits_model(logits, seed: int = 0):
    """A real keras model over (30, 1662) whose output is always softmax(`logits`)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((30, 1662))
    x = keras.layers.GlobalAveragePooling1D()(inputs)
    x = keras.layers.Dense(len(logits), kernel_initializer="zeros")(x)
    bias = np.asarray(logits, np.float32)
    outputs = keras.layers.Activation("softmax")(keras.layers.Add()([x, keras.ops.convert_to_tensor(bias)[None]]))
    return keras.Model(inputs, outputs)
