"""Every way a model can fail to load, be announced or be called is contained (issue 10).

Against a real redis-server, with real small keras models saved in the trainer's version layout:
a bad model is refused (logged, copied to `dead`), the classifier keeps serving or waiting, and
a good model announced later still swaps in.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
import warnings

import numpy as np
import pytest

from services.classifier.model_watch import ModelWatch
from services.classifier.runner import check_runner
from services.classifier.serving import ServingModel, load_serving_model
from shared.errors import ModelError
from shared.messages import KeypointsMessage, ModelAnnouncement, Prediction
from shared.redis_client import connect
from tests.model_faults_fixtures import logits_model, nan_on_keypoints_model, unbuilt_model
from tests.model_fixtures import constant_model, write_version
from tests.waiting import wait_for

LABELS = ["hello", "thanks", "iloveyou"]
QUICK_S = 20  # what a working classifier needs is well under this; a broken one waits it out and fails


def write_unbuilt(path):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "You are saving a model that has not yet been built")
        return write_version(path, unbuilt_model(3), LABELS)


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "v1": write_version(root / "v1", constant_model(3, favourite=0), LABELS),
        "v2": write_version(root / "v2", constant_model(3, favourite=2), LABELS),
        "unbuilt": write_unbuilt(root / "unbuilt"),
        "nan": write_version(root / "nan", nan_on_keypoints_model(3), LABELS),
        "logits": write_version(root / "logits", logits_model(3), LABELS),
    }


def publish_keypoints(r, keys, camera, seqs):
    r.hset(keys.cameras, camera, json.dumps({"source": "test"}))
    for seq in seqs:
        msg = KeypointsMessage.from_vector(vector=np.full(1662, 0.1 + seq % 7 / 10, np.float32), camera=camera,
                                           seq=seq, capture_ts_ms=int(time.time() * 1000), parts=("pose",),
                                           worker="test", processing_ms=1.0)
        r.xadd(keys.keypoints(camera), msg.encode())


def predictions(r, keys) -> list[Prediction]:
    return [Prediction.decode(fields) for _, fields in r.xrange(keys.predictions)]


def announce(r, keys, version, path) -> bytes:
    return r.xadd(keys.models, ModelAnnouncement(version=version, path=str(path), labels=LABELS).encode())


def dead_letters(r, keys) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in r.xrange(keys.dead)]


def serve_until(r, keys, camera, first_seq, predicate, timeout_s=QUICK_S) -> bool:
    """Keep a camera publishing, a stride at a time, until `predicate()` holds."""
    seq = [first_seq]

    def step():
        publish_keypoints(r, keys, camera, range(seq[0], seq[0] + 5))
        seq[0] += 5
        return predicate()

    return wait_for(step, timeout_s=timeout_s, every_s=0.2)


def served_by(r, keys, version) -> bool:
    return any(p.model == version for p in predictions(r, keys))


def assert_one_line_model_error(letter, *words):
    assert letter["service"] == "classifier" and letter["stream"].endswith("models")
    assert letter["reason"].startswith("ModelError: "), letter["reason"]
    assert "\n" not in letter["reason"] and len(letter["reason"]) <= 500
    for word in words:
        assert word in letter["reason"], letter["reason"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a model saved without an input shape ---------------------------------------------------------

def test_a_model_without_an_input_shape_is_refused_and_a_good_model_announced_after_it_still_swaps_in(
        r, keys, versions, start_classifier):
    classifier = start_classifier(model=versions["v1"])
    assert serve_until(r, keys, "cam", 0, lambda: served_by(r, keys, "v1"))

    announce(r, keys, "unbuilt", versions["unbuilt"])
    assert wait_for(lambda: r.xlen(keys.dead) == 1, timeout_s=QUICK_S)
    assert_one_line_model_error(dead_letters(r, keys)[0], "input shape")

    announce(r, keys, "v2", versions["v2"])
    assert serve_until(r, keys, "cam", 100, lambda: served_by(r, keys, "v2")), "the watch died with the bad model"
    assert classifier.thread.is_alive() and classifier.error is None
    assert predictions(r, keys)[-1].label == "iloveyou"


@pytest.mark.parametrize("with_current", [True, False], ids=["current-v1", "no-current"])
def test_a_classifier_started_when_the_newest_announcement_is_a_bad_model_serves_current_or_waits(
        r, keys, versions, start_classifier, tmp_path, with_current):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    if with_current:
        (models_dir / "v1").symlink_to(versions["v1"])
        (models_dir / "current").write_text("v1\n")
    announce(r, keys, "unbuilt", versions["unbuilt"])

    classifier = start_classifier(models_dir=models_dir)
    assert wait_for(lambda: r.xlen(keys.dead) >= 1 or classifier.error is not None, timeout_s=QUICK_S)
    assert classifier.error is None, f"the classifier exited: {classifier.error!r}"
    assert_one_line_model_error(dead_letters(r, keys)[0], "input shape")
    if with_current:
        assert serve_until(r, keys, "cam", 0, lambda: served_by(r, keys, "v1"))
    else:
        publish_keypoints(r, keys, "cam", range(30))
        time.sleep(0.5)
        assert predictions(r, keys) == [] and classifier.thread.is_alive()

    announce(r, keys, "v2", versions["v2"])
    assert serve_until(r, keys, "cam", 100, lambda: served_by(r, keys, "v2"))
    assert classifier.error is None and r.xlen(keys.dead) == 1


def test_an_announced_version_is_read_from_the_classifiers_own_models_folder_wherever_the_trainer_wrote_it(
        r, keys, versions, start_classifier, tmp_path):
    # compose mounts one volume at a different path in each service: the announcement's path is the trainer's.
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "v2").symlink_to(versions["v2"])
    classifier = start_classifier(model=versions["v1"], models_dir=models_dir)
    assert serve_until(r, keys, "cam", 0, lambda: served_by(r, keys, "v1"))
    announce(r, keys, "v2", "/trainer-only-mount/models/v2")
    assert serve_until(r, keys, "cam", 100, lambda: served_by(r, keys, "v2"))
    assert classifier.error is None and r.xlen(keys.dead) == 0


# --- an absurd announcement -----------------------------------------------------------------------

@pytest.mark.parametrize("when", ["at-start", "while-serving"])
def test_an_announced_5000_character_path_is_refused_at_once_as_a_model_error_not_a_redis_outage(
        r, keys, versions, start_classifier, caplog, when):
    caplog.set_level(logging.INFO)
    long_path = "/tmp/" + "a" * 5000
    if when == "at-start":
        announce(r, keys, "v9", long_path)
        classifier = start_classifier()
    else:
        classifier = start_classifier(model=versions["v1"])
        assert serve_until(r, keys, "cam", 0, lambda: served_by(r, keys, "v1"))
        announce(r, keys, "v9", long_path)

    started = time.monotonic()
    assert wait_for(lambda: r.xlen(keys.dead) == 1, timeout_s=QUICK_S), "the long path was not refused"
    assert time.monotonic() - started < 5
    letter = dead_letters(r, keys)[0]
    assert_one_line_model_error(letter, "5005 characters")
    raw = r.xrange(keys.dead)[0][1]
    assert sum(len(k) + len(v) for k, v in raw.items()) < 2048
    payload = json.loads(letter["payload"])
    assert payload["version"] == "v9" and payload["path"]["text"].startswith("/tmp/aaa")
    assert payload["path"]["chars"] == 5005  # cut as every dead letter cuts a field, saying how long it was
    assert not [rec for rec in caplog.records if "unreachable" in rec.getMessage()]

    announce(r, keys, "v2", versions["v2"])
    assert serve_until(r, keys, "cam", 100, lambda: served_by(r, keys, "v2"))
    assert classifier.error is None


def test_paths_and_versions_that_cannot_be_a_model_are_one_line_model_errors(versions, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("not a directory")
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "labels.json").write_text(json.dumps(LABELS))
    (garbage / "model.keras").write_bytes(np.random.default_rng(0).bytes(5000))
    bad = [
        (tmp_path / ("b" * 300), None, "File name too long"),  # under the length bound, too long for the OS
        (tmp_path / "missing", None, "does not exist"),
        (a_file, None, "not a directory"),
        ("/tmp/x\0y", None, "NUL"),
        ("/tmp/" + "c" * 5000, None, "5005 characters"),
        ("", None, "empty"),
        (versions["v1"], "../../etc", "not a version name"),
        (versions["v1"], "v" * 65, "not a version name"),
        (versions["unbuilt"], "unbuilt", "input shape"),
        (garbage, "v5", "is not a Keras model file"),
    ]
    for path, version, words in bad:
        with pytest.raises(ModelError) as caught:
            load_serving_model(path, version)
        message = str(caught.value)
        assert words in message and "\n" not in message and len(message) < 400, (path, message)
    assert load_serving_model(versions["v1"], "v1").version == "v1"


# --- a model that gives NaN, or not probabilities, on real input ----------------------------------

@pytest.mark.parametrize("bad, words", [("nan", "NaN"), ("logits", "softmax")])
def test_a_model_that_fails_on_non_zero_windows_is_refused_at_the_dry_run_and_v1_keeps_serving(
        r, keys, versions, start_classifier, bad, words):
    start_classifier(model=versions["v1"])
    assert serve_until(r, keys, "cam", 0, lambda: served_by(r, keys, "v1"))

    announce(r, keys, bad, versions[bad])
    assert wait_for(lambda: r.xlen(keys.dead) == 1, timeout_s=QUICK_S), f"the {bad} model was not refused"
    assert_one_line_model_error(dead_letters(r, keys)[0], words)

    count = len(predictions(r, keys))
    assert serve_until(r, keys, "cam", 100, lambda: len(predictions(r, keys)) >= count + 3)
    preds = predictions(r, keys)
    assert {p.model for p in preds} == {"v1"}
    assert all(math.isfinite(p.confidence) and all(math.isfinite(v) for v in p.probs.values()) for p in preds)


@pytest.mark.parametrize("arch", ["recipe", "gru", "conv", "transformer"])
def test_every_trainer_architecture_passes_the_dry_run(arch):
    """The stricter dry run refuses no network the trainer builds, untrained (as served) or not."""
    import keras

    from services.trainer.model import build_model

    keras.utils.set_random_seed(0)
    for normalise, face in ((False, True), (True, False)):
        model = build_model(arch, 5, normalise=normalise, face=face)
        check_runner(lambda windows: model(windows, training=False).numpy(), 5)


# --- the serving call -----------------------------------------------------------------------------

class StubRunner:
    kind = "stub"

    def __init__(self, outputs=None, error=None):
        self.outputs, self.error = outputs, error

    def __call__(self, windows):
        if self.error is not None:
            raise self.error
        return self.outputs


def stub_model(version="v7", **runner) -> ServingModel:
    return ServingModel(version, None, tuple(LABELS), StubRunner(**runner))


def test_predict_turns_a_raising_model_call_into_a_model_error():
    model = stub_model(error=RuntimeError("tensor arena\nexhausted"))
    with pytest.raises(ModelError, match="model v7 failed on 2 window.*RuntimeError: tensor arena exhausted"):
        model.predict(np.zeros((2, 30, 1662), np.float32))


def test_predict_refuses_nan_or_infinite_rows_and_says_how_many():
    outputs = np.array([[0.2, 0.3, 0.5], [np.nan, 0.5, 0.5], [0.1, np.inf, 0.0]], np.float32)
    with pytest.raises(ModelError, match="NaN or infinite outputs for 2 of 3 window"):
        stub_model(outputs=outputs).predict(np.ones((3, 30, 1662), np.float32))


def test_predict_returns_the_probabilities_of_a_model_that_behaves():
    outputs = np.array([[0.2, 0.3, 0.5]], np.float32)
    assert np.array_equal(stub_model(outputs=outputs).predict(np.ones((1, 30, 1662), np.float32)), outputs)
    with pytest.raises(ModelError, match="shape"):
        stub_model(outputs=outputs).predict(np.ones((2, 30, 1662), np.float32))


# --- handing back a model that misbehaved while serving -------------------------------------------

def test_a_rejected_model_is_dead_lettered_the_previous_one_comes_back_and_its_version_is_not_loaded_again(
        r, keys, versions, tmp_path):
    stop = threading.Event()
    watch = ModelWatch(r, keys, "test-worker", stop, 1000)
    watch.initial(versions["v1"], tmp_path)
    first = watch.take()
    watcher = threading.Thread(target=watch.watch, daemon=True)
    watcher.start()
    try:
        entry_id = announce(r, keys, "v2", versions["v2"])
        taken = []
        assert wait_for(lambda: taken.append(watch.take()) or taken[-1] is not None, timeout_s=QUICK_S)
        second = taken[-1]
        assert (first.version, second.version) == ("v1", "v2")

        assert watch.reject(second, "model v2 gave NaN or infinite outputs for 2 of 3 window(s)") is first
        assert watch.refused == 1
        letter = dead_letters(r, keys)[0]
        assert_one_line_model_error(letter, "v2", "rejected while serving", "2 of 3")
        assert letter["entry_id"] == entry_id.decode()
        assert json.loads(letter["payload"])["version"] == "v2"

        announce(r, keys, "v2", versions["v2"])  # the same version again: refused without loading
        assert wait_for(lambda: r.xlen(keys.dead) == 2, timeout_s=QUICK_S)
        assert_one_line_model_error(dead_letters(r, keys)[1], "v2", "rejected while serving")
        assert watch.take() is None and watch.refused == 2

        assert watch.reject(first, "model v1 failed on 1 window(s)") is None  # nothing left to go back to
    finally:
        stop.set()
        watcher.join(5)
    assert not watcher.is_alive()


def test_with_redis_down_refusing_or_rejecting_a_model_neither_raises_nor_stops_the_watch(keys, versions, tmp_path):
    down = connect(f"redis://127.0.0.1:{free_port()}/0")  # as services connect: no silent retries
    stop = threading.Event()
    watch = ModelWatch(down, keys, "test-worker", stop, 1000)
    assert watch.reject(stub_model(), "NaN for 1 of 1 window(s)") is None
    assert watch.refused == 1
    # Redis went down between reading an announcement and copying its refusal to `dead`:
    assert watch._consider(b"1-0", {b"version": b"unbuilt", b"path": str(versions["unbuilt"]).encode(),
                           b"labels": json.dumps(LABELS).encode()}) is False
    assert watch.refused == 2
    watcher = threading.Thread(target=watch.watch, daemon=True)
    watcher.start()
    time.sleep(0.5)
    assert watcher.is_alive()
    stop.set()
    watcher.join(5)
    assert not watcher.is_alive()


def test_the_watch_survives_a_models_key_of_the_wrong_type_and_loads_the_next_announcement(
        r, keys, versions, tmp_path, caplog):
    r.set(keys.models, "not a stream")
    stop = threading.Event()
    watch = ModelWatch(r, keys, "test-worker", stop, 1000)
    watch.initial(None, tmp_path)  # says what is wrong and waits, rather than ending the classifier
    watcher = threading.Thread(target=watch.watch, daemon=True)
    watcher.start()
    try:
        time.sleep(1.5)
        assert watcher.is_alive(), "the watch thread died on a Redis error"
        r.delete(keys.models)
        announce(r, keys, "v2", versions["v2"])
        taken = []
        assert wait_for(lambda: taken.append(watch.take()) or taken[-1] is not None, timeout_s=QUICK_S)
        assert taken[-1].version == "v2"
    finally:
        stop.set()
        watcher.join(5)
    tracebacks = [rec for rec in caplog.records if rec.exc_info]
    assert len(tracebacks) <= 1, "the same error logged its traceback more than once"


def test_a_model_that_gives_nan_only_on_real_windows_is_rejected_and_the_one_before_serves_again(
        r, keys, versions, start_classifier, tmp_path):
    from tests.model_faults_fixtures import nan_above_model

    # Passes every dry run (inputs below 1) and gives NaN on keypoints as cameras give them (a
    # point off the frame has x above 1): it would silence every camera while saying it serves.
    bad = write_version(tmp_path / "v9", nan_above_model(3, favourite=1, limit=1.0), LABELS)
    start_classifier(model=versions["v1"])
    assert serve_until(r, keys, "cam", 0, lambda: served_by(r, keys, "v1"))
    announce(r, keys, "v9", bad)

    seq = [100]

    def step():
        for s in range(seq[0], seq[0] + 5):
            r.xadd(keys.keypoints("cam"), KeypointsMessage.from_vector(
                vector=np.full(1662, 1.2, np.float32), camera="cam", seq=s, capture_ts_ms=int(time.time() * 1000),
                parts=("pose",), worker="test", processing_ms=1.0).encode())
        seq[0] += 5
        return any("rejected while serving" in d["reason"] for d in dead_letters(r, keys))

    assert wait_for(step, timeout_s=QUICK_S, every_s=0.2), dead_letters(r, keys)
    [letter] = [d for d in dead_letters(r, keys) if "rejected while serving" in d["reason"]]
    assert_one_line_model_error(letter, "v9", "v1, served before it, classifies")
    count = len(predictions(r, keys))
    assert wait_for(lambda: step() and len(predictions(r, keys)) >= count + 3, timeout_s=QUICK_S, every_s=0.2)
    assert {p.model for p in predictions(r, keys)[count:]} == {"v1"}
    assert not any("gives NaN for these windows" in d["reason"] for d in dead_letters(r, keys)), \
        "windows were blamed for the model's fault"
