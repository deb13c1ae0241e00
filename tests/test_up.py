"""`signstream up`, the README's main command, as a person runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import psutil
import pytest

from shared.model_store import ModelStore
from tests.conftest import OTHER_SIGNS, REPO, SIGNERS, VIDEOS, signstream_cmd
from tests.gateway_process import sse_events
from tests.model_fixtures import constant_model, write_version
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def without_redis_url() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SIGNSTREAM_NAMESPACE")}


def start_up(tmp_path, video: str = "bisig_hello.mp4", trained: bool = True, gateway_port: int = 0,
             *extra: str) -> subprocess.Popen:
    """`signstream up` on a real video, as a person starts it: with a current model (a constant one,
    no training), or with none trained (`trained=False`: the shipped model serves); the gateway on
    `gateway_port`, or none; `extra` options after these."""
    models = tmp_path / "models"
    if trained:
        write_version(models / "v0001", constant_model(3, favourite=2), ["hello", "thanks", "iloveyou"])
        ModelStore(models).set_current("v0001")
    return subprocess.Popen(
        signstream_cmd("up", "--camera", str(VIDEOS / video), "--models-dir", str(models),
                       "--data-dir", str(tmp_path / ".signstream"), "--status-every-s", "2",
                       "--gateway-port", str(gateway_port), *extra),
        env=without_redis_url(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground command
    )


def test_up_runs_the_pipeline_on_a_video_prints_detections_and_stops_cleanly_on_ctrl_c(tmp_path):
    from services.up.redis_server import free_port

    port = free_port()
    proc = start_up(tmp_path, gateway_port=port)
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "iloveyou" in line and "bisig_hello" in line:
                break
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 6  # redis-server, capture, keypoints, classifier, trainer, gateway
        check_gateway(f"http://127.0.0.1:{port}")
        # where `signstream stats` and `health` run here find this deployment's Redis, not the one at 6379
        assert json.loads((tmp_path / ".signstream" / "redis.url").read_text())["pid"] == proc.pid
        stats = subprocess.run([str(REPO / "scripts" / "signstream"), "stats"], cwd=tmp_path, env=without_redis_url(),
                               capture_output=True, text=True, timeout=300)  # the README's way to the command
        assert stats.returncode == 0 and "camera bisig_hello: running" in stats.stdout, (stats.stdout, stats.stderr)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole foreground group
        rest, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert (f"signstream is up: 1 camera(s), 1 keypoint worker(s); dashboard http://127.0.0.1:{port}/, "
            f"a browser as a camera http://127.0.0.1:{port}/camera") in output
    assert any("bisig_hello" in l and "iloveyou" in l and "(model v0001)" in l for l in lines), output
    assert "status  bisig_hello: running" in output
    assert "Traceback" not in output
    assert "W0000" not in output and "inference_feedback_manager" not in output, output  # C++ noise: quiet
    # Redis outlives the services, so each one can still acknowledge the message in hand as it stops.
    assert "unreachable" not in output, output
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert (tmp_path / ".signstream" / "redis").is_dir()
    assert not (tmp_path / ".signstream" / "redis.url").exists()


def test_native_library_info_and_warnings_are_left_out_and_everything_else_passes():
    import io

    from services.up.supervisor import forward_without_noise

    noise = [  # as MediaPipe and TensorFlow print them at start, whatever GLOG_minloglevel says
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"W0000 00:00:1796416826.260613   11006 inference_feedback_manager.cc:114] Feedback manager requires a model\n",
        b"W0000 00:00:1796416826.550487   11006 landmark_projection_calculator.cc:186] Using NORM_RECT without\n",
        b"W0000 00:00:1796416821.754183   10775 tf_tfl_flatbuffer_helpers.cc:365] Ignored output_format.\n",
        b"I0000 00:00:1796416821.764918   10775 mlir_graph_optimization_pass.cc:425] MLIR V1 optimization pass\n",
        b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
    ]
    kept = [
        b"2026-12-04 20:50:01 WARNING signstream.keypoints: camera door: frame 12 undecodable\n",
        b"E0000 00:00:1796416826.550487   11006 calculator_graph.cc:887] INTERNAL: the graph failed\n",
        b"F0000 00:00:1796416826.550487   11006 check.cc:1] Check failed: x\n",
        b"Traceback (most recent call last):\n",
    ]
    out = io.BytesIO()
    forward_without_noise(io.BytesIO(b"".join(noise[:3] + kept[:2] + noise[3:] + kept[2:])), out)
    assert out.getvalue() == b"".join(kept)


def test_up_without_a_camera_says_what_to_pass():
    result = subprocess.run(signstream_cmd("up"), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2
    assert "pass --camera SOURCE" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_kill_9_of_up_takes_every_child_with_it(tmp_path):
    proc = start_up(tmp_path)
    descendants: list[psutil.Process] = []
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the pipeline runs: a detection went all the way through
            line = proc.stdout.readline()
            lines.append(line)
            if ("iloveyou" in line and "bisig_hello" in line) or not line:
                break
        assert "iloveyou" in lines[-1], "".join(lines)
        descendants = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(p.name() for p in descendants)
        assert len(descendants) >= 5 and "redis-server" in names, names  # redis, capture, keypoints, classifier, trainer
        proc.kill()  # kill -9: no handler runs, nothing stops the children in order
        proc.wait(10)

        def alive() -> list[psutil.Process]:
            left = []
            for p in descendants:
                try:
                    if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                        left.append(p)
                except psutil.NoSuchProcess:
                    pass
            return left

        assert wait_for(lambda: not alive(), timeout_s=10), [(p.pid, p.name()) for p in alive()]
    finally:
        proc.kill()
        for p in descendants:  # whatever survived a failed run: only the processes this test started
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass


def check_gateway(url: str) -> None:
    """The API over the running pipeline: the camera with a real frame and keypoints, live predictions
    of the served model, every worker healthy, metrics with the pipeline's counters."""
    with httpx.Client(base_url=url, timeout=10) as http:
        assert wait_for(lambda: http.get("/api/health").status_code == 200, timeout_s=30), http.get("/api/health").text
        (camera,) = http.get("/api/cameras").json()
        assert camera["id"] == "bisig_hello" and camera["up"]
        frame = http.get("/api/cameras/bisig_hello/frame.jpg")
        assert frame.content[:2] == b"\xff\xd8"  # a JPEG
        assert len(http.get("/api/cameras/bisig_hello/keypoints").json()["pose"]) == 33
        with http.stream("GET", "/api/events/predictions", params={"camera": "bisig_hello"}) as live:
            event = next(sse_events(live))
        assert event["data"]["model"] == "v0001" and event["data"]["camera"] == "bisig_hello"
        # Workers report their figures every 10 s.
        assert wait_for(lambda: [s["model"] for s in http.get("/api/models").json()["serving"].values()] == ["v0001"],
                        timeout_s=20)
        metrics = http.get("/metrics").text
        assert 'signstream_keypoints_out_total{camera="bisig_hello"' in metrics
        assert "signstream_classifier_latency_seconds_bucket" in metrics


def test_up_with_a_redis_that_refuses_the_password_exits_3_at_once(tmp_path):
    from services.up.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis", password="the-right-one")
    server.start()
    try:
        env = dict(os.environ, REDIS_URL=f"redis://:not-the-one@127.0.0.1:{server.port}/0")
        proc = subprocess.Popen(signstream_cmd("up", "--camera", str(VIDEOS / "bisig_hello.mp4"),
                                               "--models-dir", str(tmp_path / "models")),
                                env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:  # it did not give up: take what it started down with it
                for child in psutil.Process(proc.pid).children(recursive=True):
                    child.kill()
                proc.kill()
    finally:
        server.stop()
    output = stdout + stderr
    assert proc.returncode == 3, output
    assert "refused the credentials (WRONGPASS" in stderr and "redis://:***@127.0.0.1" in stderr
    assert "not-the-one" not in output and "the-right-one" not in output and "Traceback" not in output
    assert "started" not in output  # no service was started to meet the same refusal


def test_a_service_that_redis_refuses_stops_up_with_code_3_instead_of_restarting(tmp_path):
    from services.up.redis_server import free_port
    from services.up.supervisor import Supervisor

    # `stats` stands in for a service: with nothing at REDIS_URL it exits 3, as a refused service does.
    supervisor = Supervisor(dict(os.environ, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    child = supervisor.start("stats", "stats")
    try:
        assert child.proc.wait(60) == 3
        assert "could not use Redis" in (supervisor.check() or "")
        assert supervisor.exit_code == 3 and child.restart_at is None
    finally:
        supervisor.stop_all()


def test_a_fresh_start_with_no_trained_model_detects_signs_with_the_shipped_one(tmp_path):
    proc = start_up(tmp_path, video="kiri_hello.mp4", trained=False)  # a person none of the training data holds
    lines = []
    try:
        started = time.monotonic()
        while time.monotonic() - started < 120:
            line = proc.stdout.readline()
            lines.append(line)
            if "kiri_hello" in line and "(model shipped)" in line:
                break
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    detections = [line for line in lines if "(model shipped)" in line]
    assert detections, "".join(lines) + rest
    assert "hello" in detections[0], detections
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir()), "nothing was trained"



def test_the_first_training_of_up_learns_unknown_from_the_unknown_data_given(tmp_path):
    proc = start_up(tmp_path, "bisig_hello.mp4", False, 0, "--bootstrap-data", str(SIGNERS / "signer_00.npz"),
                    "--bootstrap-epochs", "15", "--unknown-data", str(OTHER_SIGNS / "other_001.npz"))
    store = ModelStore(tmp_path / "models")
    try:
        trained = wait_for(lambda: store.current() is not None or proc.poll() is not None, timeout_s=300, every_s=1)
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert trained and store.current() is not None, output[-3000:]
    version = tmp_path / "models" / store.current()
    assert json.loads((version / "labels.json").read_text()) == ["hello", "iloveyou", "thanks", "unknown"]
    sources = json.loads((version / "data.json").read_text())["sources"]
    assert any(source.endswith("other_001.npz") for source in sources), sources
