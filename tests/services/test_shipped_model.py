"""The model shipped with signstream: small, it loads and serves, and it is what its card says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from services.classifier.serving import load_serving_model
from services.classifier.shipped import CARD_FILE, SHIPPED_MODEL, SHIPPED_VERSION
from services.trainer.data import as_unknown, load_data, read_data, without_hands
from shared.codec import FACE
from shared.messages import Detection, Prediction
from shared.model_store import UNKNOWN
from tests.conftest import OTHER_SIGNS, SIGNERS
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
    assert UNKNOWN in card["labels"] and card["counts"][UNKNOWN] > 0 and card["other_signers"] == 55
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


def served_labels(model, X: np.ndarray) -> np.ndarray:
    probs = np.concatenate([model.predict(X[i:i + 256]) for i in range(0, len(X), 256)])
    return np.array(model.labels)[probs.argmax(axis=1)]


@pytest.mark.slow
def test_it_says_unknown_for_other_signs_and_for_no_hands_as_its_card_says(card):
    model = load_serving_model(SHIPPED_MODEL, SHIPPED_VERSION)
    signs = [label for label in model.labels if label != UNKNOWN]
    others = as_unknown(read_data([OTHER_SIGNS]), signs)
    accuracy = float(np.mean(served_labels(model, others.X) == others.y))
    assert accuracy == pytest.approx(card["accuracy"]["other_signs"]["accuracy"], abs=0.002)
    no_hands = served_labels(model, without_hands(load_data([SIGNERS]).X))
    assert np.mean(no_hands == UNKNOWN) >= 0.95


def test_the_live_classifier_stays_silent_without_hands_and_detects_a_sign_after(start_classifier, r, keys, tmp_path):
    """Through the classifier's own path: hands out of view give `unknown` predictions and no detection;
    a signed hello right after is detected."""
    data = load_data([SIGNERS / "signer_00.npz"])
    hellos = data.X[data.y == "hello"]
    with_hands = (np.abs(hellos[..., FACE.stop:]).sum(axis=-1) > 0).sum(axis=1)  # frames with a hand, per sequence
    hello = hellos[int(np.argmax(with_hands >= 25))]  # a recording where MediaPipe found the hands
    idle = without_hands(hello)
    frames = np.concatenate([idle, idle, hello, hello])  # 60 frames without hands, then 60 of hello
    start_classifier(shipped_model=True, models_dir=tmp_path / "empty", stride=3, confirm_windows=3)
    publish_keypoints(r, keys, "cam", range(len(frames)), vector_of=lambda seq: frames[seq])
    assert wait_for(lambda: r.xlen(keys.detections) > 0, 60)
    said = [Prediction.decode(fields) for _, fields in r.xrange(keys.predictions)]
    idle_only = [p for p in said if p.seq < 60]
    assert len(idle_only) >= 8 and {p.label for p in idle_only} == {UNKNOWN}
    detections = [Detection.decode(fields) for _, fields in r.xrange(keys.detections)]
    assert [d.label for d in detections] == ["hello"] and detections[0].ts_end > max(p.ts for p in idle_only)


def test_a_classifier_with_no_trained_model_serves_the_shipped_one(start_classifier, r, keys, tmp_path):
    data = load_data([SIGNERS / "signer_00.npz"])
    classifier = start_classifier(shipped_model=True, models_dir=tmp_path / "empty", stride=30)
    publish_keypoints(r, keys, "cam", range(30), vector_of=lambda seq: data.X[0][seq])
    assert wait_for(lambda: r.xlen(keys.predictions) > 0, 60), classifier.error
    prediction = Prediction.decode(r.xrange(keys.predictions)[0][1])
    assert prediction.model == SHIPPED_VERSION
