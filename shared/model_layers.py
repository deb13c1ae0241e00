"""Keras layers the trainer's models are built from, registered so saved models load anywhere.

Importing this module is what lets `keras.models.load_model` read a model that uses them; the
classifier imports it before loading.
"""

from __future__ import annotations

import keras
from keras import ops

from shared.codec import FACE_END, FACE_POINTS, POSE_END, POSE_POINTS

LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12


@keras.saving.register_keras_serializable(package="signstream")
class DropFace(keras.layers.Layer):
    """Pose and hands only: (..., 1662) -> (..., 258).

    The 468 face points are 85% of the vector and say more about who is signing than what is
    signed; without them the network has less to memorise a signer by, and runs faster.
    """

    def call(self, x):
        return ops.concatenate([x[..., :POSE_END], x[..., FACE_END:]], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] - FACE_POINTS * 3)


@keras.saving.register_keras_serializable(package="signstream")
class BodyNormalization(keras.layers.Layer):
    """Keypoints relative to the body: origin between the shoulders, unit = shoulder width.

    Camera distance and framing change where a signer appears and how big; signing does not.
    x and y of every point become (p - shoulder centre) / shoulder width, z is divided by the
    width, pose visibility is kept, and a part MediaPipe did not find stays all zeros, so the
    network can still tell "missing" from "at the centre". Input and output are (..., 30, 1662),
    or (..., 30, 258) after DropFace: pose first, then points of three floats.
    """

    def call(self, x):
        rest_points = (x.shape[-1] - POSE_END) // 3
        pose = ops.reshape(x[..., :POSE_END], (-1, ops.shape(x)[1], POSE_POINTS, 4))
        rest = ops.reshape(x[..., POSE_END:], (-1, ops.shape(x)[1], rest_points, 3))
        left, right = pose[:, :, LEFT_SHOULDER, :2], pose[:, :, RIGHT_SHOULDER, :2]
        centre = (left + right) / 2.0  # (b, t, 2)
        width = ops.maximum(ops.sqrt(ops.sum(ops.square(left - right), axis=-1, keepdims=True)), 1e-3)  # (b, t, 1)

        def normalise(points):  # (b, t, n, 3+)
            found = ops.cast(ops.any(ops.not_equal(points[..., :3], 0.0), axis=-1, keepdims=True), x.dtype)
            xy = (points[..., :2] - centre[:, :, None, :]) / width[:, :, None, :]
            z = points[..., 2:3] / width[:, :, None, :]
            return ops.concatenate([xy, z], axis=-1) * found

        # Face and hands (or hands alone) share the same treatment.
        pose_out = ops.concatenate([normalise(pose), pose[..., 3:4]], axis=-1)
        out = ops.concatenate([ops.reshape(pose_out, (-1, ops.shape(x)[1], POSE_END)),
                               ops.reshape(normalise(rest), (-1, ops.shape(x)[1], rest_points * 3))],
                              axis=-1)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="signstream")
class FramePosition(keras.layers.Layer):
    """Adds a learned vector per frame index, so attention knows the order of frames."""

    def build(self, input_shape):
        self.position = self.add_weight(shape=(input_shape[-2], input_shape[-1]), initializer="zeros", name="position")

    def call(self, x):
        return x + self.position

    def compute_output_shape(self, input_shape):
        return input_shape
