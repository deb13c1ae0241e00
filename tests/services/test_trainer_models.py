"""Every architecture and input choice builds, keeps the 1662-float contract and serves through TFLite."""

from __future__ import annotations

import numpy as np
import pytest

from services.classifier.runner import fast_runner
from services.trainer.model import ARCHITECTURES, build_model, mirror_averaged
from shared.keypoint_mirror import mirror
from shared.model_layers import BodyNormalization, DropFace, HandShape, Mirror, Velocity
from tests.conftest import SIGNERS

FACE = slice(132, 1536)


@pytest.fixture(scope="module")
def windows():
    with np.load(SIGNERS / "signer_02.npz") as data:
        return data["X"][:4].astype(np.float32)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("normalise,face,hand_shape,velocity", [
    (False, True, False, False), (True, True, False, False), (True, False, False, False), (True, False, True, False),
    (True, False, False, True)])
def test_each_model_takes_1662_floats_and_the_served_tflite_model_agrees_with_keras(arch, normalise, face, hand_shape,
                                                                                    velocity, windows):
    model = build_model(arch, 3, normalise=normalise, face=face, hand_shape=hand_shape, velocity=velocity)
    assert model.input_shape == (None, 30, 1662) and model.output_shape == (None, 3)
    served = fast_runner(model)
    assert type(served).__name__ == "TFLiteRunner"  # the fast path, not the tf.function fallback
    for window in windows:
        np.testing.assert_allclose(served(window[None]), model(window[None]).numpy(), atol=1e-5)


def test_without_the_face_a_model_ignores_every_face_point(windows):
    model = build_model("gru", 3, normalise=True, face=False)
    changed = windows.copy()
    changed[..., FACE] = np.random.default_rng(0).random(changed[..., FACE].shape)
    np.testing.assert_allclose(model(changed).numpy(), model(windows).numpy(), atol=1e-6)
    with_face = build_model("gru", 3, normalise=True, face=True)
    assert not np.allclose(with_face(changed).numpy(), with_face(windows).numpy(), atol=1e-6)


def test_normalising_pose_and_hands_alone_gives_the_same_points_as_with_the_face(windows):
    full = BodyNormalization()(windows).numpy()
    alone = BodyNormalization()(DropFace()(windows)).numpy()
    assert alone.shape == (4, 30, 258)
    np.testing.assert_allclose(alone, np.concatenate([full[..., :132], full[..., 1536:]], axis=-1), atol=1e-6)


def test_a_saved_model_without_the_face_loads_and_predicts_the_same(windows, tmp_path):
    import keras

    model = build_model("transformer", 3, normalise=True, face=False)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(loaded(windows).numpy(), model(windows).numpy(), atol=1e-6)


def test_hand_shape_is_the_same_wherever_the_hand_is_and_however_large(windows):
    hands = windows[..., 1536:].reshape(4, 30, 2, 21, 3)
    moved = hands * 1.7 + np.array([0.2, -0.1, 0.05], np.float32)
    present = np.any(hands != 0, axis=(-1, -2), keepdims=True)
    moved = np.where(present, moved, 0.0).astype(np.float32)  # a missing hand stays missing
    moved_windows = windows.copy()
    moved_windows[..., 1536:] = moved.reshape(4, 30, 126)
    shape, moved_shape = HandShape()(windows).numpy()[..., 1662:], HandShape()(moved_windows).numpy()[..., 1662:]
    np.testing.assert_allclose(moved_shape, shape, atol=1e-4)
    missing = ~present[..., 0, 0]  # (4, 30, 2)
    assert missing.any() and not np.any(shape.reshape(4, 30, 2, 63)[missing])


def test_velocity_is_the_change_since_the_previous_frame_and_zero_where_a_part_is_missing(windows):
    hands = DropFace()(windows).numpy()[..., 132:]  # (4, 30, 126)
    moved = Velocity()(hands).numpy()
    assert moved.shape == (4, 30, 252)
    np.testing.assert_array_equal(moved[..., :126], hands)
    motion = moved[..., 126:]
    assert not motion[:, 0].any()  # nothing came before the first frame
    both_found = (hands[:, 1:] != 0) & (hands[:, :-1] != 0)
    np.testing.assert_allclose(motion[:, 1:][both_found], (hands[:, 1:] - hands[:, :-1])[both_found], atol=1e-6)
    appearing = (hands[:, 1:] != 0) & (hands[:, :-1] == 0)  # a hand coming into view is not a jump
    assert appearing.any() and not motion[:, 1:][appearing].any()


def test_the_mirror_layer_mirrors_as_training_augmentation_does(windows):
    np.testing.assert_array_equal(Mirror()(windows).numpy(), mirror(windows))
    np.testing.assert_array_equal(mirror(mirror(windows)), windows)


def test_a_mirror_averaged_model_answers_the_same_for_either_hand_and_serves_through_tflite(windows, tmp_path):
    import keras

    model = mirror_averaged(build_model("gru", 3, normalise=True, face=False))
    np.testing.assert_allclose(model(mirror(windows)).numpy(), model(windows).numpy(), atol=1e-5)
    served = fast_runner(model)
    assert type(served).__name__ == "TFLiteRunner"
    np.testing.assert_allclose(served(windows[:1]), model(windows[:1]).numpy(), atol=1e-5)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(loaded(windows).numpy(), model(windows).numpy(), atol=1e-6)

