"""Keras layers the trainer's models are built from, registered so saved models load anywhere.

Importing this module is what lets `keras.models.load_model` read a model that uses them; the
classifier imports it before loading.
"""

from __future__ import annotations

import keras
from keras import ops

from shared.codec import FACE_END, FACE_POINTS, HAND_POINTS, POSE_END, POSE_POINTS
from shared.keypoint_mirror import IS_X, SOURCE_COLUMNS, Y_OF, Z_OF

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


@keras.saving.register_keras_serializable(package="signstream")
class HandShape(keras.layers.Layer):
    """Appends each hand's points relative to its own wrist, in units of its palm length.

    Body-relative points say where a hand is; these say what shape it makes (the I-love-you
    hand, a flat hand), the same wherever the hand is and however large. The hands are the last
    2 x 21 x 3 floats of both the full and the face-less layout; a missing hand stays zeros.
    """

    def call(self, x):
        hands = ops.reshape(x[..., -2 * HAND_POINTS * 3:], (-1, ops.shape(x)[1], 2, HAND_POINTS, 3))
        found = ops.cast(ops.any(ops.not_equal(hands, 0.0), axis=(-1, -2), keepdims=True), x.dtype)
        wrist = hands[..., 0:1, :]
        palm = ops.sqrt(ops.sum(ops.square(hands[..., 9:10, :] - wrist), axis=-1, keepdims=True))  # wrist to middle knuckle
        local = (hands - wrist) / ops.maximum(palm, 1e-3) * found
        return ops.concatenate([x, ops.reshape(local, (-1, ops.shape(x)[1], 2 * HAND_POINTS * 3))], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2 * HAND_POINTS * 3)


@keras.saving.register_keras_serializable(package="signstream")
class Velocity(keras.layers.Layer):
    """Appends how far every float moved since the previous frame (zeros for the first frame).

    Signs that hold similar hand shapes differ in how the hands move (hello waves out, thanks
    moves from the chin forward); a recurrent network can work that out from positions, but
    given the motion directly it need not learn it from a few thousand recordings. A float that
    is zero in either frame (its part was not found) moves by zero, so a hand coming into view
    is not a jump from the body's centre.
    """

    def call(self, x):
        previous = ops.concatenate([x[:, :1], x[:, :-1]], axis=1)
        found = ops.cast(ops.logical_and(ops.not_equal(x, 0.0), ops.not_equal(previous, 0.0)), x.dtype)
        return ops.concatenate([x, (x - previous) * found], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] * 2)


@keras.saving.register_keras_serializable(package="signstream")
class Mirror(keras.layers.Layer):
    """Raw (..., 1662) keypoints as a mirror shows them: the same signing by the other hand
    (shared.keypoint_mirror, the same mirror training augmentation uses)."""

    def call(self, x):
        out = ops.take(x, SOURCE_COLUMNS, axis=-1)
        found = ops.logical_or(ops.not_equal(out, 0.0),
                               ops.logical_or(ops.not_equal(ops.take(out, Y_OF, axis=-1), 0.0),
                                              ops.not_equal(ops.take(out, Z_OF, axis=-1), 0.0)))
        return ops.where(ops.logical_and(ops.convert_to_tensor(IS_X), found), 1.0 - out, out)

    def compute_output_shape(self, input_shape):
        return input_shape
