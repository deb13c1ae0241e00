"""A real video through capture, keypoints and classifier, each a real `signstream` process."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from shared.messages import Prediction
from tests.conftest import VIDEOS, signstream_cmd
from tests.model_fixtures import constant_model, write_version

pytestmark = pytest.mark.slow


def test_a_real_video_becomes_predictions_with_capture_to_prediction_latency(r, keys, service_env, tmp_path):
    version = write_version(tmp_path / "models" / "v1", constant_model(3, favourite=1), ["hello", "thanks", "iloveyou"])
    stride = 5
    procs = [
        subprocess.Popen(signstream_cmd("keypoints", "--max-age", "60", "--no-drop-behind"), env=service_env),
        # every frame counts here, however long a loaded machine takes over it
        subprocess.Popen(signstream_cmd("classifier", "--model", str(version), "--stride", str(stride),
                                        "--max-age-s", "600"), env=service_env),
    ]
    try:
        capture = subprocess.run(
            signstream_cmd("capture", "--source", str(VIDEOS / "kiri_hello.mp4"), "--camera", "kiri", "--fps", "15"),
            env=service_env, timeout=120, capture_output=True, text=True,
        )
        assert capture.returncode == 0, capture.stderr
        sent = r.xlen(keys.frames("kiri"))
        assert 70 <= sent <= 76  # 4.97 s of video at 15 fps
        expected = (sent - 30) // stride + 1
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and r.xlen(keys.predictions) < expected:
            time.sleep(0.5)
        preds = [Prediction.decode(f) for _, f in r.xrange(keys.predictions)]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(30) for proc in procs]
    assert codes == [0, 0]
    assert len(preds) == expected
    assert [p.seq for p in preds] == list(range(29, 29 + stride * expected, stride))
    assert all(p.camera == "kiri" and p.model == "v1" and p.label == "thanks" for p in preds)
    assert all(0 < p.latency_ms < 60_000 for p in preds)


def test_after_redis_restarts_empty_the_pipeline_resumes_by_itself_with_current_predictions(tmp_path, namespace):
    import os

    import redis

    from services.up.redis_server import RedisServer
    from shared.keys import Keys

    server = RedisServer(tmp_path / "redis")  # not persistent: it comes back empty
    server.start()
    env = dict(os.environ, REDIS_URL=server.url, SIGNSTREAM_NAMESPACE=namespace, PYTHONUNBUFFERED="1")
    keys = Keys(namespace)
    r = redis.Redis.from_url(server.url)
    version = write_version(tmp_path / "models" / "v1", constant_model(3, favourite=1), ["hello", "thanks", "iloveyou"])
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("capture", "keypoints", "classifier")}
    procs = {
        "keypoints": subprocess.Popen(signstream_cmd("keypoints"), env=env, stderr=logs["keypoints"]),
        "classifier": subprocess.Popen(signstream_cmd("classifier", "--model", str(version), "--stride", "3"),
                                       env=env, stderr=logs["classifier"]),
        "capture": subprocess.Popen(signstream_cmd("capture", "--source", str(VIDEOS / "kiri_hello.mp4"), "--camera",
                                                   "kiri", "--fps", "15", "--loop"), env=env, stderr=logs["capture"]),
    }

    def fresh_predictions() -> list[Prediction]:
        try:
            preds = [Prediction.decode(f) for _, f in r.xrange(keys.predictions)]
        except redis.ConnectionError:
            return []
        return [p for p in preds if time.time() * 1000 - p.ts < 3000]

    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(fresh_predictions()) < 3:
            time.sleep(0.5)
        assert len(fresh_predictions()) >= 3, "no predictions before the restart"
        server.stop()
        time.sleep(3)
        server.start()  # same port, no data: streams, groups and the cameras hash are gone
        assert r.xlen(keys.predictions) == 0
        restarted = time.monotonic()
        while time.monotonic() - restarted < 60 and len(fresh_predictions()) < 5:
            time.sleep(0.5)
        resumed_s = time.monotonic() - restarted
        preds = fresh_predictions()
        assert len(preds) >= 5, f"no current predictions {resumed_s:.0f} s after Redis came back"
        assert all(p.label == "thanks" and p.latency_ms < 3000 for p in preds)
        assert all(proc.poll() is None for proc in procs.values())  # none exited, none needed a restart
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        codes = {name: proc.wait(30) for name, proc in procs.items()}
        server.stop()
    assert codes == {"keypoints": 0, "classifier": 0, "capture": 0}
    classifier_log = (tmp_path / "classifier.log").read_text()
    assert "unreachable" in classifier_log and "Traceback" not in classifier_log
