"""Fast batched inference for a trained keras model.

The recipe calls `model.predict` per window, tens of milliseconds each. Here the model is
converted once, at load, into TFLite interpreters of a few fixed batch sizes (a variable batch
would need Flex ops the stock interpreter lacks); a batch runs on the smallest size that fits,
padded. That costs well under a millisecond per window on this CPU, with outputs equal to
keras to ~1e-7. A model TFLite cannot convert falls back to a compiled tf.function.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from typing import Protocol

import numpy as np

from shared.codec import VECTOR_SIZE, WINDOW
from shared.errors import ModelError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

log = logging.getLogger(__name__)

BATCH_SIZES = (1, 4, 16)


class Runner(Protocol):
    kind: str

    def __call__(self, windows: np.ndarray) -> np.ndarray: ...


class TFLiteRunner:
    kind = "tflite"

    def __init__(self, model, batch_sizes=BATCH_SIZES, threads: int = 1):
        import keras
        import tensorflow as tf

        self.interpreters: dict[int, tuple] = {}
        for size in batch_sizes:
            fixed_input = keras.Input(batch_shape=(size, WINDOW, VECTOR_SIZE))
            fixed = keras.Model(fixed_input, model(fixed_input))
            # The converter prints a page per call to stdout, and the interpreter warns that it
            # moves to another package in TF 2.20; neither is news to a person running this.
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                content = tf.lite.TFLiteConverter.from_keras_model(fixed).convert()
                interpreter = tf.lite.Interpreter(model_content=content, num_threads=threads)
            interpreter.allocate_tensors()
            self.interpreters[size] = (
                interpreter,
                interpreter.get_input_details()[0]["index"],
                interpreter.get_output_details()[0]["index"],
            )
        self.sizes = sorted(self.interpreters)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        outputs = []
        largest = self.sizes[-1]
        for start in range(0, len(windows), largest):
            chunk = windows[start:start + largest]
            size = next(s for s in self.sizes if s >= len(chunk))
            if len(chunk) < size:
                chunk = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), np.float32)])
            interpreter, inp, out = self.interpreters[size]
            interpreter.set_tensor(inp, np.ascontiguousarray(chunk, dtype=np.float32))
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(out)[: min(largest, len(windows) - start)].copy())
        return np.concatenate(outputs)


class TFFunctionRunner:
    kind = "tf.function"

    def __init__(self, model):
        import tensorflow as tf

        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, WINDOW, VECTOR_SIZE], tf.float32)],
        )

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return self._fn(np.asarray(windows, dtype=np.float32)).numpy()


def fast_runner(model) -> Runner:
    try:
        return TFLiteRunner(model)
    except Exception as e:  # the converter fails in many ways on exotic layers
        log.warning("TFLite could not convert the model (%s); serving it with tf.function instead", e)
        return TFFunctionRunner(model)


def check_runner(runner: Runner, n_labels: int) -> None:
    """A dry run: the model takes (batch, 30, 1662) and gives one probability per label."""
    try:
        probs = runner(np.zeros((2, WINDOW, VECTOR_SIZE), np.float32))
    except Exception as e:
        raise ModelError(f"dry run failed: {e}") from e
    if probs.shape != (2, n_labels):
        raise ModelError(f"model outputs shape {probs.shape[1:]} per window, but it has {n_labels} labels")
    if not np.all(np.isfinite(probs)):
        raise ModelError("model outputs NaN or infinity on a dry run")
