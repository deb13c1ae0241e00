"""Every architecture and input choice builds, keeps the 1662-float contract and serves through TFLite."""

from __future__ import annotations

import numpy as np
import pytest

from services.classifier.runner import fast_runner
from services.trainer.model import ARCHITECTURES, build_model
from shared.model_layers import BodyNormalization, DropFace
from tests.conftest import SIGNERS

FACE = slice(132, 1536)


@pytest.fixture(scope="module")
def windows():
    with np.load(SIGNERS / "signer_02.npz") as data:
        return data["X"][:4].astype(np.float32)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("normalise,face", [(False, True), (True, True), (True, False)])
def test_each_model_takes_1662_floats_and_the_served_tflite_model_agrees_with_keras(arch, normalise, face, windows):
    model = build_model(arch, 3, normalise=normalise, face=face)
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
