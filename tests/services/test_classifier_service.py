"""The classifier against a real redis-server, with real (small) keras models served through TFLite."""

from __future__ import annotations

import time

import numpy as np
import pytest

from shared.messages import ModelAnnouncement
from shared.model_store import UNKNOWN
from tests.classifier_harness import LABELS, predictions  # `versions` comes with the harness plugin
from tests.frames import publish_keypoints
from tests.model_fixtures import constant_model, logits_model, write_version
from tests.waiting import wait_for


def test_windows_are_classified_every_stride_frames_and_a_sign_is_detected_once(r, keys, versions, start_classifier):
    start_classifier(model=versions["v1"])
    publish_keypoints(r, keys, "door", range(50))
    assert wait_for(lambda: len(predictions(r, keys)) == 5)
    preds = predictions(r, keys)
    assert [p.seq for p in preds] == [29, 34, 39, 44, 49]
    assert {p.label for p in preds} == {"hello"}
    assert all(p.model == "v1" and p.confidence > 0.9 and set(p.probs) == set(LABELS) for p in preds)
    assert all(p.latency_ms >= 0 for p in preds)
    detections = r.xrange(keys.detections)
    assert len(detections) == 1
    assert detections[0][1][b"label"] == b"hello" and detections[0][1][b"camera"] == b"door"
    assert r.xpending(keys.keypoints("door"), "classifier")["pending"] == 0


def test_out_of_order_keypoints_give_the_same_predictions_as_in_order(r, keys, versions, start_classifier):
    start_classifier(model=versions["v1"])
    in_order = list(range(45))
    shuffled = in_order.copy()
    rng = np.random.default_rng(1)
    for i in range(0, 45, 3):  # two workers finishing out of order, locally
        block = shuffled[i:i + 3]
        rng.shuffle(block)
        shuffled[i:i + 3] = block
    publish_keypoints(r, keys, "a", in_order)
    publish_keypoints(r, keys, "b", shuffled)
    assert wait_for(lambda: len(predictions(r, keys)) == 8)
    by_camera = {cam: [(p.seq, p.probs) for p in predictions(r, keys) if p.camera == cam] for cam in "ab"}
    assert [s for s, _ in by_camera["a"]] == [29, 34, 39, 44]
    assert by_camera["a"] == by_camera["b"]


def test_a_new_model_is_swapped_in_between_batches_without_losing_a_window(r, keys, versions, start_classifier):
    start_classifier(model=versions["v1"])
    publish_keypoints(r, keys, "cam", range(40))
    assert wait_for(lambda: len(predictions(r, keys)) == 3)
    r.xadd(keys.models, ModelAnnouncement(version="v2", path=str(versions["v2"]), labels=LABELS).encode())
    # The camera goes on at 15 fps while v2 loads, however long that takes on a loaded machine;
    # the swap lands between two batches somewhere in the stream.
    seq = 40

    def served_v2_after_more_frames() -> bool:
        nonlocal seq
        publish_keypoints(r, keys, "cam", range(seq, seq + 5))
        seq += 5
        time.sleep(5 / 15)
        preds = predictions(r, keys)
        return preds[-1].model == "v2" and preds[-1].seq == seq - 1

    assert wait_for(served_v2_after_more_frames, timeout_s=90)
    preds = predictions(r, keys)
    assert [p.seq for p in preds] == list(range(29, seq, 5)), "every window classified once, none lost in the swap"
    versions_in_order = [p.model for p in preds]
    switch = versions_in_order.index("v2")
    assert switch >= 3 and versions_in_order == ["v1"] * switch + ["v2"] * (len(preds) - switch)
    assert all((p.label == "hello") == (p.model == "v1") for p in preds)


@pytest.mark.parametrize("bad", ["corrupt", "wrong_size"])
def test_a_bad_model_is_refused_and_the_old_one_keeps_serving(r, keys, versions, start_classifier, bad):
    start_classifier(model=versions["v1"])
    publish_keypoints(r, keys, "cam", range(30))
    assert wait_for(lambda: len(predictions(r, keys)) == 1)  # serving v1
    r.xadd(keys.models, ModelAnnouncement(version="bad", path=str(versions[bad]), labels=LABELS).encode())
    assert wait_for(lambda: r.xlen(keys.dead) == 1)
    letter = r.xrange(keys.dead)[0][1]
    assert letter[b"service"] == b"classifier" and letter[b"reason"].startswith(b"ModelError")
    publish_keypoints(r, keys, "cam", range(30, 40))
    assert wait_for(lambda: len(predictions(r, keys)) == 3)
    assert {p.model for p in predictions(r, keys)} == {"v1"}


def test_without_a_model_it_waits_then_serves_the_first_announced_one(r, keys, versions, start_classifier):
    start_classifier()
    publish_keypoints(r, keys, "cam", range(30))
    time.sleep(0.5)
    assert predictions(r, keys) == []
    r.xadd(keys.models, ModelAnnouncement(version="v2", path=str(versions["v2"]), labels=LABELS).encode())
    assert wait_for(lambda: len(predictions(r, keys)) == 1)
    assert predictions(r, keys)[0].label == "iloveyou"


def test_malformed_keypoints_go_to_dead_and_the_rest_are_classified(r, keys, versions, start_classifier):
    start_classifier(model=versions["v1"])
    r.hset(keys.cameras, "cam", "{}")
    r.xadd(keys.keypoints("cam"), {"msg": b"\xc1garbage"})
    publish_keypoints(r, keys, "cam", range(30))
    assert wait_for(lambda: len(predictions(r, keys)) == 1)
    assert r.xlen(keys.dead) == 1
    assert b"DecodeError" in r.xrange(keys.dead)[0][1][b"reason"]


def test_unknown_is_published_as_a_prediction_and_never_detected(r, keys, start_classifier, tmp_path):
    model = write_version(tmp_path / "with-unknown", constant_model(4, favourite=3), [*LABELS, UNKNOWN])
    start_classifier(model=model)
    publish_keypoints(r, keys, "door", range(60))
    assert wait_for(lambda: len(predictions(r, keys)) >= 6)
    assert {p.label for p in predictions(r, keys)} == {UNKNOWN}
    assert all(p.confidence > 0.9 for p in predictions(r, keys)), "confident, and still not a sign"
    time.sleep(0.5)
    assert r.xlen(keys.detections) == 0


@pytest.mark.parametrize("weight, label, detected", [(1.0, UNKNOWN, []), (0.2, "hello", [b"hello"])])
def test_the_unknown_weight_decides_between_a_sign_and_unknown(r, keys, tmp_path, start_classifier, weight, label,
                                                             detected):
    # hello 0.375, unknown 0.617: served as it is, unknown; with unknown weighed 0.2, hello at 0.74
    labels = [*LABELS, UNKNOWN]
    model = write_version(tmp_path / "v1", logits_model([1.5, -3.0, -3.0, 2.0]), labels)
    start_classifier(model=model, unknown_weight=weight, threshold=0.7)
    publish_keypoints(r, keys, "cam", range(40))
    assert wait_for(lambda: len(predictions(r, keys)) == 3)
    preds = predictions(r, keys)
    assert {p.label for p in preds} == {label}
    assert all(abs(sum(p.probs.values()) - 1) < 1e-3 for p in preds)
    expected_hello = 0.375 if weight == 1.0 else 0.74
    assert all(abs(p.probs["hello"] - expected_hello) < 0.01 for p in preds)
    time.sleep(0.3)
    assert [fields[b"label"] for _, fields in r.xrange(keys.detections)] == detected
