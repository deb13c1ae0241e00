"""The dashboard in real headless Chromium (Debian's chromium and chromium-driver, installed if
missing), served by a real gateway over a real redis-server holding real camera frames: it loads
with no console error, shows a tile per camera with its frame drawn, and a detection published
to Redis appears on the page within a second. A screenshot is saved in test-artifacts/."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from shared.health import beat
from shared.messages import Detection, KeypointsMessage, ModelAnnouncement, TrainProgress, TrainRequest, TrainResult, now_ms
from tests.chromium import headless_chromium
from tests.conftest import ARTIFACTS, SIGNERS, VIDEOS
from tests.frames import publish_frames, video_jpegs
from tests.gateway_process import start_gateway
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
CAMERAS = {"door": "kiri_hello.mp4", "desk": "bisig_thanks.mp4"}


@pytest.fixture(scope="module")
def chromium():
    driver = headless_chromium(window="1400,1000")
    yield driver
    driver.quit()


def populate(r, keys) -> None:
    vectors = np.load(SIGNERS / "signer_00.npz")["X"][0]
    for camera, video in CAMERAS.items():
        publish_frames(r, keys, camera, video_jpegs(VIDEOS / video, 3))
        r.hset(keys.cameras, camera, json.dumps({"source": f"/videos/{video}", "status": "running", "fps": 15,
                                                 "frames_sent": 3, "last_seen_ms": now_ms() + 120_000}))
        r.xadd(keys.keypoints(camera), KeypointsMessage.from_vector(
            vector=vectors[5].astype(np.float32), camera=camera, seq=2, capture_ts_ms=now_ms(),
            parts=("pose", "left_hand", "right_hand"), worker="kp-1", processing_ms=20.0).encode())
    for service in ("keypoints", "classifier"):
        beat(r, keys, service, f"{service}-1", ttl_s=300)
    r.xadd(keys.models, ModelAnnouncement(version="v0001", path="/models/v0001", labels=["hello", "thanks"],
                                          metrics={"accuracy": 0.95, "confusion": [[19, 1], [1, 19]]}).encode())


def test_the_dashboard_shows_every_camera_and_a_new_detection_within_a_second(chromium, service_env, r, keys):
    populate(r, keys)
    gateway = start_gateway(service_env)
    try:
        chromium.get(gateway.url + "/")
        tile = "return [...document.querySelectorAll('.tile')].map(t => [t.dataset.camera, Number(t.dataset.frames || 0)])"
        assert wait_for(lambda: sorted(c for c, frames in chromium.execute_script(tile) if frames > 0) == sorted(CAMERAS),
                        timeout_s=20), (chromium.execute_script(tile), chromium.get_log("browser"))
        assert wait_for(lambda: chromium.execute_script(
            "return document.getElementById('connection').textContent") == "live", timeout_s=10)

        entry_id = r.xadd(keys.detections, Detection(camera="door", label="hello", confidence=0.97, ts_start=now_ms(),
                                                     ts_end=now_ms(), model="v0001").encode()).decode()
        published = time.monotonic()
        shown = f"return document.querySelector('#detections li[data-id=\"{entry_id}\"]')?.textContent || ''"
        assert wait_for(lambda: "hello" in chromium.execute_script(shown), timeout_s=5, every_s=0.02)
        seconds = time.monotonic() - published
        assert seconds < 1.0, f"the detection took {seconds:.2f} s to appear"

        assert wait_for(lambda: "v0001" in chromium.find_element("id", "models").text, timeout_s=15)
        assert "all up" in chromium.find_element("id", "health").text
        ARTIFACTS.mkdir(exist_ok=True)
        chromium.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        errors = [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        print(f"detection on the page {seconds * 1000:.0f} ms after it was published")
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log()


def test_the_train_button_shows_the_training_epoch_by_epoch_then_its_result(chromium, service_env, r, keys):
    gateway = start_gateway(service_env, "--train-data", "/data/MP_DATA")
    status = "return document.getElementById('train-status').textContent"
    chromium.get("about:blank")
    chromium.get_log("browser")  # the page of a test before, whose gateway has gone, said so
    try:
        chromium.get(gateway.url + "/")
        chromium.find_element("id", "train").click()
        assert wait_for(lambda: r.xlen(keys.train_requests) == 1, timeout_s=5)
        request_id = TrainRequest.decode(r.xrange(keys.train_requests)[0][1]).request_id
        progress = TrainProgress(request_id=request_id, worker="trainer-1", epoch=3, epochs=40, val_accuracy=0.912,
                                 started_ms=now_ms(), updated_ms=now_ms())
        r.hset(keys.train_progress(request_id), mapping=progress.encode())
        assert wait_for(lambda: "epoch 3 of at most 40, validation accuracy 91.2%" in chromium.execute_script(status),
                        timeout_s=10), chromium.execute_script(status)
        r.xadd(keys.train_results, TrainResult(request_id=request_id, status="done", version="v0002", promoted=1).encode())
        assert wait_for(lambda: chromium.execute_script(status).startswith("done: v0002 promoted"), timeout_s=10), \
            chromium.execute_script(status)
        errors = [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log()
