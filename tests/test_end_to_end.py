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
        subprocess.Popen(signstream_cmd("classifier", "--model", str(version), "--stride", str(stride)),
                         env=service_env),
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
