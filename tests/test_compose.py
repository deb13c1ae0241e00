"""`docker-compose up` of compose.yaml, built and run for real: every image, two cameras playing real
videos, two keypoint containers, the shipped model replaced by a trained one on request, a killed
worker, a restarted Redis.

The tests share one deployment and run in file order. Predictions are read from the host with a
plain Redis client, as another app would. Building from nothing (base images by debootstrap, then
the four service images) takes several minutes; with the images cached, under two.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

import httpx
import pytest
import redis

from tests.conftest import REPO, SHARED, VIDEOS, summary_line
from tests.docker_host import ensure_base_images, ensure_daemon, ensure_packages, run, tidy_images
from tests.gateway_process import sse_events
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(2400)]

IMAGES = ("capture", "keypoints", "classifier", "trainer", "gateway")
TOKEN = "compose-test-token-0123456789"
CAMERAS = {"door": "kiri_hello.mp4", "desk": "kiri_thankyou.mp4"}
WAIT_S = 240  # the first training and MediaPipe's start share two cores with everything else


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    def __init__(self, project: str, port: int, gateway_port: int):
        self.project = project
        self.port = port
        self.gateway = f"http://127.0.0.1:{gateway_port}"
        (first_id, first_video), (second_id, second_video) = CAMERAS.items()
        self.env = {
            **os.environ,
            "SIGNSTREAM_REDIS_PORT": str(port),
            "SIGNSTREAM_GATEWAY_PORT": str(gateway_port), "SIGNSTREAM_GATEWAY_TOKEN": TOKEN,
            "SIGNSTREAM_VIDEOS": str(VIDEOS),
            "SIGNSTREAM_DATA": str(SHARED / "datasets"),
            "CAMERA_1_ID": first_id, "CAMERA_1_SOURCE": f"/videos/{first_video}",
            "CAMERA_2_ID": second_id, "CAMERA_2_SOURCE": f"/videos/{second_video}",
            # What is tested here is the deployment, not the keypoints' speed (bench/): two cameras at 15 fps
            # kept both cores busy with MediaPipe for the module's five minutes, slowing everything beside it.
            "SIGNSTREAM_FPS": "5",
            # A small model: what matters here is that one is trained and served in place of the shipped one.
            "SIGNSTREAM_MIN_ACCURACY": "0.3",
        }
        self.redis = redis.Redis(port=port, decode_responses=True, socket_timeout=10)
        self.timings: dict[str, float] = {}  # seconds each step took, for the CI log

    def compose(self, *args: str, timeout: float = 1200, check: bool = True):
        return run("docker-compose", "-f", str(REPO / "compose.yaml"), "-p", self.project, *args,
                   timeout=timeout, check=check, env=self.env)

    def timed(self, what: str, *args: str, timeout: float = 1200):
        started = time.monotonic()
        result = self.compose(*args, timeout=timeout)
        self.timings[what] = round(time.monotonic() - started, 1)
        return result

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).stdout.split()

    def inspect(self, container: str) -> dict:
        return json.loads(run("docker", "inspect", container).stdout)[0]

    def all_containers(self) -> list[str]:
        return run("docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}").stdout.split()

    def latest(self, after_ms: int = 0) -> dict[str, dict]:
        """The newest prediction of each camera captured after `after_ms`."""
        newest: dict[str, dict] = {}
        try:
            entries = self.redis.xrevrange("predictions", count=200)
        except redis.ConnectionError:
            return newest
        for _, fields in entries:
            if int(fields["ts"]) > after_ms:
                newest.setdefault(fields["camera"], fields)
        return newest

    def predicting(self, after_ms: int = 0, model: str | None = None) -> bool:
        newest = self.latest(after_ms)
        return set(newest) == set(CAMERAS) and all(model is None or p["model"] == model for p in newest.values())

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "30", check=False).stdout[-6000:]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, machine_to_ourselves):
    timings: dict[str, float] = {}
    started = time.monotonic()
    ensure_packages()
    timings["packages"] = round(time.monotonic() - started, 1)
    daemon = ensure_daemon(tmp_path_factory.mktemp("dockerd"))
    timings["dockerd"] = round(time.monotonic() - started - timings["packages"], 1)
    started = time.monotonic()
    ensure_base_images()
    timings["base images"] = round(time.monotonic() - started, 1)
    dep = Deployment(f"signstream-test-{uuid.uuid4().hex[:6]}", free_port(), free_port())
    dep.timings = timings
    try:
        dep.timed("build", "build")
        yield dep
    finally:
        dep.compose("down", "-v", "--remove-orphans", "-t", "20", check=False)
        try:  # each build leaves the images it replaced behind, untagged (gigabytes after a few runs)
            tidy_images()
        except AssertionError as error:
            summary_line("compose-tidy", f"compose: could not tidy the images: {error}")
        summary_line("compose", f"compose timings (s): {dep.timings}")  # how long a clean or a warm machine takes
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=60)


def test_each_image_carries_only_its_own_stack_and_runs_as_a_user(deployment):
    def has(image: str, module: str) -> bool:
        probe = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
        return run("docker", "run", "--rm", "--entrypoint", "python", f"signstream-{image}", "-c", probe,
                   check=False).returncode == 0

    assert has("keypoints", "mediapipe") and not has("keypoints", "tensorflow")
    assert has("classifier", "tensorflow") and not has("classifier", "mediapipe")
    assert has("trainer", "tensorflow") and not has("trainer", "mediapipe")
    assert has("capture", "cv2") and not has("capture", "tensorflow") and not has("capture", "mediapipe")
    assert has("gateway", "fastapi") and not any(has("gateway", m) for m in ("tensorflow", "mediapipe", "cv2"))
    for image in IMAGES:
        uid = run("docker", "run", "--rm", "--entrypoint", "id", f"signstream-{image}", "-u").stdout.strip()
        assert uid != "0", f"signstream-{image} runs as root"
        config = json.loads(run("docker", "image", "inspect", f"signstream-{image}").stdout)[0]["Config"]
        assert config["Healthcheck"]["Test"], f"signstream-{image} has no HEALTHCHECK"


def test_two_cameras_and_two_keypoint_workers_give_predictions_read_from_the_host(deployment):
    deployment.timed("up", "up", "-d", "--scale", "keypoints=2")
    started = time.monotonic()
    assert wait_for(lambda: deployment.predicting(model="shipped"), WAIT_S, 1.0), \
        f"no predictions of the shipped model for both cameras:\n{deployment.logs()}"
    deployment.timings["up to first predictions"] = round(time.monotonic() - started, 1)

    workers = deployment.containers("keypoints")
    assert len(workers) == 2
    hosts = {deployment.inspect(c)["Config"]["Hostname"] for c in workers}

    def frames_out_by_host() -> dict[str, int]:
        out = {}
        for worker, raw in deployment.redis.hgetall("stats:keypoints").items():
            host = next((h for h in hosts if f"-{h}-" in worker), None)
            if host:
                out[host] = sum(c.get("out", 0) for c in json.loads(raw)["cameras"].values())
        return out

    assert wait_for(lambda: len(frames_out_by_host()) == 2 and all(frames_out_by_host().values()), 60, 1.0), \
        f"both keypoint containers should have done work: {frames_out_by_host()}"
    assert wait_for(lambda: all(c["State"]["Health"]["Status"] == "healthy"
                                for c in map(deployment.inspect, deployment.all_containers())), 120, 2.0), \
        {deployment.inspect(c)["Name"]: deployment.inspect(c)["State"].get("Health", {}).get("Status")
         for c in deployment.all_containers()}


def test_the_gateway_shows_both_cameras_to_the_host_with_the_token_only(deployment):
    with httpx.Client(base_url=deployment.gateway, timeout=10) as anonymous:
        assert wait_for(lambda: anonymous.get("/api/cameras").status_code == 401, 60, 1.0), deployment.logs()
    with httpx.Client(base_url=deployment.gateway, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        assert {c["id"] for c in http.get("/api/cameras").json() if c["up"]} == set(CAMERAS)
        assert http.get(f"/api/cameras/{next(iter(CAMERAS))}/frame.jpg").content[:2] == b"\xff\xd8"
        with http.stream("GET", "/api/events/predictions") as live:
            assert next(sse_events(live))["data"]["camera"] in CAMERAS
        assert wait_for(lambda: http.get("/api/health").status_code == 200, 60, 2.0), http.get("/api/health").text
        assert "signstream_keypoints_out_total" in http.get("/metrics").text
        # The browser camera page and the MediaPipe Holistic it runs, baked into the image at build time.
        assert "camera.js" in http.get("/camera").text
        holistic = http.get("/holistic/holistic.js")
        assert holistic.status_code == 200 and "Holistic" in holistic.text


def test_a_training_request_is_served_without_restarting_a_container(deployment):
    before = {c: deployment.inspect(c)["State"]["StartedAt"] for c in deployment.all_containers()}
    deployment.redis.xadd("train:requests", {"data": json.dumps(["/data/signers"]), "request_id": "compose-test",
                                             "options": json.dumps({"epochs": 3, "min_accuracy": 0.3})})

    def result() -> dict | None:
        return next((f for _, f in deployment.redis.xrange("train:results") if f["request_id"] == "compose-test"), None)

    # The trainer adds /data/other_signs as `unknown` to every request by default: twice the data.
    assert wait_for(lambda: result() is not None, 2 * WAIT_S, 1.0), deployment.logs()
    assert result()["status"] == "done" and result()["promoted"] == "1", result()
    assert any("unknown" in json.dumps(fields) for _, fields in deployment.redis.xrange("models"))
    version = result()["version"]
    assert version == "v0001"
    # The classifier converts the new version to TFLite and dry-runs it aside from serving: 5 s on an idle
    # machine, more than a minute in a CI-like run with two CPU burners beside it.
    promoted = time.monotonic()
    assert wait_for(lambda: deployment.predicting(model=version), WAIT_S, 0.5), (
        deployment.latest(), deployment.compose("logs", "--no-color", "--tail", "20", "classifier", check=False).stdout)
    deployment.timings["promoted to served"] = round(time.monotonic() - promoted, 1)
    after = {c: deployment.inspect(c)["State"]["StartedAt"] for c in deployment.all_containers()}
    assert after == before, "a container restarted"


def test_predictions_go_on_for_both_cameras_when_a_keypoint_container_is_killed(deployment):
    victim = deployment.containers("keypoints")[0]
    run("docker", "kill", victim)
    killed_ms = int(time.time() * 1000)
    # Frames captured well after the kill can only have been served by the other worker.
    assert wait_for(lambda: deployment.predicting(after_ms=killed_ms + 5000), 60, 0.5), deployment.logs()
    assert not deployment.inspect(victim)["State"]["Running"]


def test_the_pipeline_resumes_by_itself_after_redis_restarts(deployment):
    deployment.compose("restart", "redis")
    restarted_ms = int(time.time() * 1000)
    assert wait_for(lambda: deployment.predicting(after_ms=restarted_ms + 2000), 120, 1.0), deployment.logs()
    # The model survives in the models volume and the streams in the append-only file.
    assert deployment.latest()[next(iter(CAMERAS))]["model"] == "v0001"


def test_down_leaves_nothing_behind(deployment):
    deployment.timed("down", "down", "-v", "--remove-orphans", "-t", "20")
    label = f"label=com.docker.compose.project={deployment.project}"
    assert deployment.all_containers() == []
    assert run("docker", "volume", "ls", "-q", "--filter", label).stdout.split() == []
    assert run("docker", "network", "ls", "-q", "--filter", label).stdout.split() == []
    with pytest.raises(redis.ConnectionError):
        deployment.redis.ping()


def test_what_builds_leave_is_one_cached_image_per_build_stage_and_nothing_untagged(deployment):
    assert tidy_images() == sorted(f"{s}-{stage}" for s in IMAGES for stage in ("build", "holistic", "requirements"))
    untagged = run("docker", "images", "-q", "--filter", "dangling=true", "--filter", "label=io.signstream.service")
    assert untagged.stdout.split() == []
