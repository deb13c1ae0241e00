"""Small real keras models that fail in the ways users met (issue 10), for the classifier's fault tests.

Each is saved with `tests.model_fixtures.write_version` in the trainer's version layout.
"""

from __future__ import annotations

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="signstream_tests")
class SqrtOfNegation(keras.layers.Layer):
    """sqrt(-x): 0 on zeros, NaN on any positive input, as real keypoints are."""

    def call(self, x):
        return keras.ops.sqrt(-x)


def unbuilt_model(n_labels: int):
    """A Sequential never built or called: it saves and loads, but has no input shape."""
    return keras.Sequential([keras.layers.Dense(n_labels, activation="softmax")])


def nan_on_keypoints_model(n_labels: int):
    """Softmax over (30, 1662) that is finite (uniform) on a window of zeros and NaN on real keypoints."""
    inputs = keras.Input((30, 1662))
    x = keras.layers.GlobalAveragePooling1D()(inputs)
    x = SqrtOfNegation()(x)
    outputs = keras.layers.Dense(n_labels, activation="softmax", kernel_initializer="zeros")(x)
    return keras.Model(inputs, outputs)


def logits_model(n_labels: int):
    """Raw scores, no softmax: right shapes, finite, but not probabilities (negative, rows not summing to 1)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((30, 1662))
    x = keras.layers.GlobalAveragePooling1D()(inputs)
    bias = np.linspace(-2.0, 2.0, n_labels).astype(np.float32)
    outputs = keras.layers.Dense(n_labels, bias_initializer=keras.initializers.Constant(bias))(x)
    return keras.Model(inputs, outputs)


@keras.saving.register_keras_serializable(package="signstream_tests")
class HeadroomBelow(keras.layers.Layer):
    """sqrt(limit - the window's largest value): finite for keypoints as cameras give them, NaN above `limit`."""

    def __init__(self, limit: float = 1000.0, **kw):
        super().__init__(**kw)
        self.limit = limit

    def call(self, x):
        return keras.ops.sqrt(self.limit - keras.ops.max(x, axis=(1, 2)))[:, None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "limit": self.limit}


def nan_above_model(n_labels: int, favourite: int, limit: float = 1000.0):
    """A sound model (favours one label, passes every dry run) that overflows to NaN on values above `limit`."""
    inputs = keras.Input((30, 1662))
    x = HeadroomBelow(limit)(inputs)
    bias = np.full(n_labels, -3.0, np.float32)
    bias[favourite] = 3.0
    outputs = keras.layers.Dense(n_labels, activation="softmax", kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(bias))(x)
    return keras.Model(inputs, outputs)
