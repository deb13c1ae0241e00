"""`signstream up`, the README's main command, as a person runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest

from services.trainer.versions import ModelStore
from tests.conftest import REPO, VIDEOS, signstream_cmd
from tests.model_fixtures import constant_model, write_version

pytestmark = pytest.mark.slow


def test_up_runs_the_pipeline_on_a_video_prints_detections_and_stops_cleanly_on_ctrl_c(tmp_path):
    models = tmp_path / "models"
    write_version(models / "v0001", constant_model(3, favourite=2), ["hello", "thanks", "iloveyou"])
    ModelStore(models).set_current("v0001")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SIGNSTREAM_NAMESPACE")}
    proc = subprocess.Popen(
        signstream_cmd("up", "--camera", str(VIDEOS / "bisig_hello.mp4"), "--models-dir", str(models),
                       "--data-dir", str(tmp_path / "state"), "--status-every-s", "2"),
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground command
    )
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "iloveyou" in line and "bisig_hello" in line:
                break
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 5  # redis-server, capture, keypoints, classifier, trainer
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole foreground group
        rest, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "signstream is up: 1 camera(s)" in output
    assert any("bisig_hello" in l and "iloveyou" in l and "(model v0001)" in l for l in lines), output
    assert "status  bisig_hello: running" in output
    assert "Traceback" not in output
    # Redis outlives the services, so each one can still acknowledge the message in hand as it stops.
    assert "unreachable" not in output, output
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert (tmp_path / "state" / "redis").is_dir()


def test_up_without_a_camera_says_what_to_pass():
    result = subprocess.run(signstream_cmd("up"), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2
    assert "pass --camera SOURCE" in result.stderr and len(result.stderr.strip().splitlines()) == 1
