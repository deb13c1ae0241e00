"""The gateway's HTTP API against a real redis-server and a real gateway process: cameras and
their newest frame and keypoints, recent detections, models, training requests, health, metrics,
and bad requests answered with a clear 4xx."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared.health import beat
from shared.messages import Detection, KeypointsMessage, ModelAnnouncement, TrainProgress, TrainRequest, TrainResult, now_ms
from shared.stats import Stats
from tests.conftest import SIGNERS, VIDEOS
from tests.frames import publish_frames, video_jpegs
from tests.gateway_process import start_gateway


@pytest.fixture
def gateway(service_env):
    gw = start_gateway(service_env)
    yield gw
    assert gw.stop() == 0, gw.log()
    assert "Traceback" not in gw.log()


def register(r, keys, camera: str, **info) -> None:
    r.hset(keys.cameras, camera, json.dumps({"source": f"/videos/{camera}.mp4", "status": "running", "fps": 15,
                                             "width": 480, "height": 270, "frames_sent": 3,
                                             "last_seen_ms": now_ms(), **info}))


def detection(camera: str, label: str, i: int = 0) -> Detection:
    return Detection(camera=camera, label=label, confidence=0.9, ts_start=now_ms() - 1000, ts_end=now_ms() + i,
                     model="v0001")


def test_cameras_show_their_newest_frame_and_keypoints(gateway, r, keys):
    jpegs = video_jpegs(VIDEOS / "kiri_hello.mp4", 3)
    publish_frames(r, keys, "door", jpegs)
    register(r, keys, "door")
    vector = np.load(SIGNERS / "signer_00.npz")["X"][0, 10].astype(np.float32)
    message = KeypointsMessage.from_vector(vector=vector, camera="door", seq=2, capture_ts_ms=now_ms(),
                                           parts=("pose", "right_hand"), worker="kp-1", processing_ms=21.5)
    r.xadd(keys.keypoints("door"), message.encode())

    with gateway.client() as http:
        cameras = http.get("/api/cameras").json()
        assert [(c["id"], c["up"], c["state"], c["fps"]) for c in cameras] == [("door", True, "up", 15)]
        assert http.get("/api/cameras/door").json()["source"] == "/videos/door.mp4"

        frame = http.get("/api/cameras/door/frame.jpg")
        assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
        assert frame.content == jpegs[-1] and frame.headers["x-seq"] == "2"
        r.xadd(keys.frames("door"), {"msg": b"not a frame"})  # a bad newest entry: the one before serves
        assert http.get("/api/cameras/door/frame.jpg").content == jpegs[-1]

        points = http.get("/api/cameras/door/keypoints").json()
        assert points["seq"] == 2 and points["parts"] == ["pose", "right_hand"]
        assert np.allclose(points["pose"], vector[:132].reshape(33, 4), atol=1e-4)
        assert np.allclose(points["right_hand"], vector[-63:].reshape(21, 3), atol=1e-4)
        assert points["left_hand"] == []  # not found in this frame: nothing to draw

        missing = http.get("/api/cameras/window/frame.jpg")
        assert missing.status_code == 404 and "window" in missing.json()["detail"]
        assert http.get("/api/cameras/window").status_code == 404


def test_recent_detections_newest_first_by_camera_and_paged(gateway, r, keys):
    ids = [r.xadd(keys.detections, detection("a" if i % 2 else "b", f"sign{i}", i).encode()).decode()
           for i in range(10)]
    r.xadd(keys.detections, {"camera": "a", "label": "no numbers here"})  # not a detection: skipped
    with gateway.client() as http:
        newest = http.get("/api/detections", params={"count": 3}).json()
        assert [d["id"] for d in newest] == ids[::-1][:3]
        assert newest[0]["label"] == "sign9" and newest[0]["confidence"] == 0.9

        only_a = http.get("/api/detections", params={"camera": "a"}).json()
        assert [d["label"] for d in only_a] == ["sign9", "sign7", "sign5", "sign3", "sign1"]

        page = http.get("/api/detections", params={"before": ids[5], "count": 2}).json()
        assert [d["id"] for d in page] == [ids[4], ids[3]]


def test_models_serving_and_training_requests(gateway, r, keys):
    metrics = {"accuracy": 0.93, "confusion": [[9, 1], [0, 10]]}
    r.xadd(keys.models, ModelAnnouncement(version="v0001", path="/models/v0001", labels=["hello", "thanks"],
                                          metrics=metrics).encode())
    for junk in ("v" * 5000, "../../etc", ""):  # announcements every classifier refuses
        r.xadd(keys.models, ModelAnnouncement(version=junk, path="/models/x", labels=["hello"]).encode())
    stats = Stats("classifier", "clf-1")
    stats.info["model"] = "v0001"
    stats.report(r, keys.stats("classifier"))

    with gateway.client() as http:
        view = http.get("/api/models").json()
        assert view["serving"]["clf-1"]["model"] == "v0001"
        assert [(v["version"], v["metrics"]["confusion"]) for v in view["versions"]] == [("v0001", [[9, 1], [0, 10]])]

        asked = http.post("/api/train", json={"data": ["/data/MP_DATA"], "options": {"epochs": 5}})
        assert asked.status_code == 202
        request_id = asked.json()["request_id"]
        (entry_id, fields), = r.xrange(keys.train_requests)
        request = TrainRequest.decode(fields)
        assert (request.data, request.options, request.request_id) == (["/data/MP_DATA"], {"epochs": 5}, request_id)

        assert http.get(f"/api/train/{request_id}").status_code == 404  # not taken up yet
        progress = TrainProgress(request_id=request_id, worker="trainer-1", epoch=3, epochs=5, val_accuracy=0.9,
                                 started_ms=1, updated_ms=2)
        r.hset(keys.train_progress(request_id), mapping=progress.encode())
        training = http.get(f"/api/train/{request_id}").json()
        assert (training["status"], training["progress"]["epoch"], training["progress"]["epochs"]) == ("training", 3, 5)
        r.xadd(keys.train_results, TrainResult(request_id=request_id, status="done", version="v0002",
                                               promoted=1).encode())
        result = http.get(f"/api/train/{request_id}").json()
        assert (result["status"], result["version"], result["promoted"]) == ("done", "v0002", 1)
        assert result["progress"]["epoch"] == 3

        no_data = http.post("/api/train", json={})
        assert no_data.status_code == 422 and "--train-data" in no_data.json()["detail"]


def test_the_train_button_uses_the_gateways_data(service_env, r, keys):
    gw = start_gateway(service_env, "--train-data", "/data/MP_DATA")
    try:
        with gw.client() as http:
            assert http.post("/api/train", json={}).status_code == 202
        (_, fields), = r.xrange(keys.train_requests)
        assert TrainRequest.decode(fields).data == ["/data/MP_DATA"]
    finally:
        gw.stop()


def test_health_is_503_while_something_is_down(gateway, r, keys):
    register(r, keys, "door")
    with gateway.client() as http:
        down = http.get("/api/health")  # a running camera and no worker to serve it
        assert down.status_code == 503 and down.json()["ok"] is False
        assert {i["kind"] for i in down.json()["items"] if not i["up"]} == {"keypoints", "classifier"}
        beat(r, keys, "keypoints", "kp-1")
        beat(r, keys, "classifier", "clf-1")
        up = http.get("/api/health")
        assert up.status_code == 200 and up.json()["ok"] is True
        assert {(i["kind"], i["name"]) for i in up.json()["items"]} == {
            ("camera", "door"), ("keypoints", "kp-1"), ("classifier", "clf-1")}


def test_metrics_for_prometheus_from_every_workers_stats(gateway, r, keys):
    register(r, keys, "door", frames_sent=42)
    kp = Stats("keypoints", "kp-1")
    for ms in (20, 30, 600):
        kp.count("door", "in")
        kp.count("door", "out")
        kp.observe_ms("door", ms)
    kp.count("door", "dropped_old", 2)
    kp.report(r, keys.stats("keypoints"))
    clf = Stats("classifier", "clf-1")
    clf.info["model"] = "v0003"
    clf.observe_ms("door", 180.0, "latency")
    clf.report(r, keys.stats("classifier"))

    with gateway.client() as http:
        page = http.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    text = page.text
    assert 'signstream_keypoints_out_total{camera="door",worker="kp-1"} 3.0' in text
    assert 'signstream_keypoints_dropped_old_total{camera="door",worker="kp-1"} 2.0' in text
    assert 'signstream_keypoints_processing_seconds_bucket{camera="door",le="0.025",worker="kp-1"} 1.0' in text
    assert 'signstream_keypoints_processing_seconds_bucket{camera="door",le="+Inf",worker="kp-1"} 3.0' in text
    assert 'signstream_keypoints_processing_seconds_sum{camera="door",worker="kp-1"} 0.65' in text
    assert 'signstream_classifier_latency_seconds_count{camera="door",worker="clf-1"} 1.0' in text
    assert 'signstream_model_info{version="v0003",worker="clf-1"} 1.0' in text
    assert 'signstream_capture_frames_sent_total{camera="door"} 42.0' in text
    assert 'signstream_camera_up{camera="door"} 1.0' in text
    assert 'signstream_gateway_stream_read_errors_total{stream="predictions"} 0.0' in text


@pytest.mark.parametrize("path, status", [
    ("/api/cameras/bad%20id", 422),
    ("/api/cameras/" + "x" * 65, 422),
    ("/api/detections?count=0", 422),
    ("/api/detections?count=100000", 422),
    ("/api/detections?before=yesterday", 422),
    ("/api/detections?camera=%00", 422),
    ("/api/events/everything", 422),
    ("/api/events/detections?last_id=12-ab", 422),
    ("/api/train/..%2F..%2Fetc", 404),
    ("/api/nothing", 404),
])
def test_bad_requests_get_a_clear_4xx(gateway, path, status):
    with gateway.client() as http:
        response = http.get(path)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_bad_bodies_and_headers_get_a_clear_4xx(gateway):
    with gateway.client() as http:
        assert http.post("/api/train", content=b"{not json", headers={"content-type": "application/json"}
                         ).status_code == 422
        assert http.post("/api/train", json={"data": "not a list"}).status_code == 422
        assert http.post("/api/train", json={"data": ["x"], "surprise": 1}).status_code == 422
        assert http.post("/api/train", json={"data": ["x" * 5000]}).status_code == 422
        huge = http.post("/api/train", content=b"[" * 200_000, headers={"content-type": "application/json"})
        assert huge.status_code == 413
        bad_resume = http.get("/api/events/detections", headers={"Last-Event-ID": "DROP TABLE"})
        assert bad_resume.status_code == 422 and "stream id" in bad_resume.json()["detail"]


def test_redis_down_is_503_with_a_reason_not_a_500(service_env, tmp_path):
    from services.up.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    gw = start_gateway({**service_env, "REDIS_URL": server.url})
    try:
        server.stop()
        with gw.client() as http:
            response = http.get("/api/cameras")
        assert response.status_code == 503 and "Redis is unreachable" in response.json()["detail"]
    finally:
        gw.stop()
    assert "Traceback" not in gw.log()
