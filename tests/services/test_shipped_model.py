"""The model shipped with signstream: small, it loads and serves, and it is what its card says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from services.classifier.serving import load_serving_model
from services.classifier.shipped import CARD_FILE, SHIPPED_MODEL, SHIPPED_VERSION
from services.trainer.data import load_data
from shared.messages import Prediction
from tests.conftest import SIGNERS
from tests.frames import publish_keypoints
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((SHIPPED_MODEL / CARD_FILE).read_text())


def test_the_shipped_model_is_small_and_its_card_lists_what_it_learned_from(card):
    size = (SHIPPED_MODEL / "model.keras").stat().st_size
    assert size == card["model_bytes"] and size < 500_000  # a few hundred KB: it ships in the repository
    assert card["labels"] == json.loads((SHIPPED_MODEL / "labels.json").read_text())
    assert card["signers"] == 93 and sum(card["counts"].values()) == card["sequences"]
    assert card["sources"][0].startswith("datasets/signers/") and card["options"]["face"] is False
    assert (SHIPPED_MODEL / "CARD.md").read_text().startswith(f"# The shipped model ({SHIPPED_VERSION})")


@pytest.mark.slow
def test_it_serves_the_dev_signers_as_accurately_as_its_card_says(card):
    model = load_serving_model(SHIPPED_MODEL, SHIPPED_VERSION)
    data = load_data([SIGNERS])
    probs = np.concatenate([model.predict(data.X[i:i + 256]) for i in range(0, len(data.y), 256)])
    labels = list(model.labels)
    accuracy = float(np.mean(probs.argmax(axis=1) == np.array([labels.index(v) for v in data.y])))
    assert accuracy == pytest.approx(card["accuracy"]["signers"]["accuracy"], abs=0.002)
    assert accuracy >= 0.9


def test_a_classifier_with_no_trained_model_serves_the_shipped_one(start_classifier, r, keys, tmp_path):
    data = load_data([SIGNERS / "signer_00.npz"])
    classifier = start_classifier(shipped_model=True, models_dir=tmp_path / "empty", stride=30)
    publish_keypoints(r, keys, "cam", range(30), vector_of=lambda seq: data.X[0][seq])
    assert wait_for(lambda: r.xlen(keys.predictions) > 0, 60), classifier.error
    prediction = Prediction.decode(r.xrange(keys.predictions)[0][1])
    assert prediction.model == SHIPPED_VERSION
