"""A classifier running in a thread of the test, against the test's Redis: what the classifier tests share."""

from __future__ import annotations

import json
import threading

import pytest

from services.classifier.main import run_classifier
from services.classifier.settings import ClassifierSettings
from shared.messages import Prediction
from tests.model_fixtures import constant_model, write_version

LABELS = ["hello", "thanks", "iloveyou"]


class RunningClassifier:
    def __init__(self, settings):
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(settings,), daemon=True)
        self.thread.start()

    def _run(self, settings):
        try:
            run_classifier(settings, self.stop)
        except BaseException as e:  # the test says what went wrong instead of a thread's traceback
            self.error = e

    def close(self):
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "classifier did not stop within 10 s"


@pytest.fixture
def start_classifier(redis_url, namespace, tmp_path):
    """start(**settings) runs a classifier with quick test settings; every one started is stopped after the test."""
    running = []

    def start(**overrides):
        # No shipped model unless a test asks: each test decides what serves.
        options = dict(redis_url=redis_url, namespace=namespace, models_dir=tmp_path / "none", shipped_model=False, stride=5,
                       gap_wait_ms=100, block_ms=50, refresh_cameras_s=0.2, confirm_windows=2,
                       max_age_s=60)  # a loaded machine may start slowly: frames published first stay current
        options.update(overrides)
        classifier = RunningClassifier(ClassifierSettings(**options))
        running.append(classifier)
        return classifier

    yield start
    for classifier in running:
        classifier.close()


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """Three real model versions: v1 says hello, v2 says iloveyou, and a corrupt one."""
    root = tmp_path_factory.mktemp("models")
    v1 = write_version(root / "v1", constant_model(3, favourite=0), LABELS)
    v2 = write_version(root / "v2", constant_model(3, favourite=2), LABELS)
    corrupt = root / "corrupt"
    corrupt.mkdir()
    (corrupt / "model.keras").write_bytes(b"this is not a keras file")
    (corrupt / "labels.json").write_text(json.dumps(LABELS))
    wrong_size = write_version(root / "two-labels", constant_model(2, favourite=0), LABELS)
    return {"v1": v1, "v2": v2, "corrupt": corrupt, "wrong_size": wrong_size}


def predictions(r, keys) -> list[Prediction]:
    return [Prediction.decode(fields) for _, fields in r.xrange(keys.predictions)]
