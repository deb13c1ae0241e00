"""Keras layers the trainer's models are built from, registered so saved models load anywhere.

Importing this module is what lets `keras.models.load_model` read a model that uses them; the
classifier imports it before loading.
"""

from __future__ import annotations

import keras
from keras import ops

POSE_POINTS, FACE_POINTS, HAND_POINTS = 33, 468, 21
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12


@keras.saving.register_keras_serializable(package="signstream")
class BodyNormalization(keras.layers.Layer):
    """Keypoints relative to the body: origin between the shoulders, unit = shoulder width.

    Camera distance and framing change where a signer appears and how big; signing does not.
    x and y of every point become (p - shoulder centre) / shoulder width, z is divided by the
    width, pose visibility is kept, and a part MediaPipe did not find stays all zeros, so the
    network can still tell "missing" from "at the centre". Input and output are (..., 30, 1662).
    """

    def call(self, x):
        pose = ops.reshape(x[..., : POSE_POINTS * 4], (-1, ops.shape(x)[1], POSE_POINTS, 4))
        rest = ops.reshape(x[..., POSE_POINTS * 4:], (-1, ops.shape(x)[1], FACE_POINTS + 2 * HAND_POINTS, 3))
        left, right = pose[:, :, LEFT_SHOULDER, :2], pose[:, :, RIGHT_SHOULDER, :2]
        centre = (left + right) / 2.0  # (b, t, 2)
        width = ops.maximum(ops.sqrt(ops.sum(ops.square(left - right), axis=-1, keepdims=True)), 1e-3)  # (b, t, 1)

        def normalise(points):  # (b, t, n, 3+)
            found = ops.cast(ops.any(ops.not_equal(points[..., :3], 0.0), axis=-1, keepdims=True), x.dtype)
            xy = (points[..., :2] - centre[:, :, None, :]) / width[:, :, None, :]
            z = points[..., 2:3] / width[:, :, None, :]
            return ops.concatenate([xy, z], axis=-1) * found

        # Hands are grouped with the face: 21 + 21 + 468 points share the same treatment.
        pose_out = ops.concatenate([normalise(pose), pose[..., 3:4]], axis=-1)
        out = ops.concatenate([ops.reshape(pose_out, (-1, ops.shape(x)[1], POSE_POINTS * 4)),
                               ops.reshape(normalise(rest), (-1, ops.shape(x)[1], (FACE_POINTS + 2 * HAND_POINTS) * 3))],
                              axis=-1)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape
