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

from shared.codec import FACE_END, LEFT_END, VECTOR_SIZE, WINDOW
from shared.errors import ModelError
from shared.keypoint_mirror import X_COLUMNS, Z_OF
from shared.text import one_line

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
        log.warning("TFLite could not convert the model (%s); serving it with tf.function instead", one_line(e))
        return TFFunctionRunner(model)


DRY_RUN_SEED = 1662
PROBABILITY_TOLERANCE = 1e-3


def dry_run_windows() -> tuple[np.ndarray, tuple[str, ...]]:
    """Windows a model must take before it serves, and what each is: zeros, and two non-zero ones.

    Zeros alone let through models that break on real input (NaN from a log or sqrt of a
    coordinate); so also a seeded uniform [0, 1) window, and a keypoint-like one (x, y and
    visibility in [0, 1), z in [-0.5, 0.5), the left hand not found, so all zeros).
    """
    rng = np.random.default_rng(DRY_RUN_SEED)
    zeros = np.zeros((WINDOW, VECTOR_SIZE), np.float32)
    uniform = rng.random((WINDOW, VECTOR_SIZE), dtype=np.float32)
    keypoints = rng.random((WINDOW, VECTOR_SIZE), dtype=np.float32)
    keypoints[:, Z_OF[X_COLUMNS]] -= 0.5  # every point's z
    keypoints[:, FACE_END:LEFT_END] = 0.0
    return np.stack([zeros, uniform, keypoints]), ("zeros", "a uniform [0, 1) window", "a keypoint-like window")


def check_runner(runner: Runner, n_labels: int) -> None:
    """A dry run on zeros and on real-looking input: the model takes (batch, 30, 1662), gives one probability per label.

    Refused with ModelError: a call that raises, outputs of the wrong shape, NaN or infinity,
    negative outputs, or rows that do not sum to 1 (within 1e-3; the last layer must be a softmax).
    """
    windows, names = dry_run_windows()
    for batch, which in ((windows, names), (windows[-1:], names[-1:])):  # several windows, and one alone
        try:
            probs = np.asarray(runner(batch))
        except Exception as e:
            raise ModelError(f"dry run failed: {one_line(e)}") from e
        if probs.shape != (len(batch), n_labels):
            if probs.ndim == 2 and len(probs) == len(batch):
                raise ModelError(f"model outputs {probs.shape[1]} values per window, but it has {n_labels} labels")
            raise ModelError(f"model outputs shape {probs.shape} for {len(batch)} windows of {n_labels} labels")
        for row, name in zip(probs, which):
            if not np.all(np.isfinite(row)):
                raise ModelError(f"model outputs NaN or infinity on a dry run with {name}")
            if np.any(row < -1e-6):
                raise ModelError(f"model outputs negative values (min {row.min():.3g}) on a dry run with {name}: "
                                 "its last layer must be a softmax")
            total = float(row.sum())
            if abs(total - 1.0) > PROBABILITY_TOLERANCE:
                raise ModelError(f"model outputs do not sum to 1 ({total:.4g}) on a dry run with {name}: "
                                 "its last layer must be a softmax")
