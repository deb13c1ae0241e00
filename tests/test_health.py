"""`signstream health` against a real redis-server: live, crashed and cleanly stopped workers,
cameras up, stale, failing and ended, and the per-container probe (`--local`)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from services.cli import main as signstream
from shared.consumer import ConsumerOptions, StreamConsumer
from shared.health import beat, beating, read_beats
from shared.messages import now_ms
from tests.waiting import wait_for


class IdleWorker(StreamConsumer):
    """A consumer that reads one stream and does nothing: only its heartbeat and stats matter here."""

    service = "keypoints"

    def __init__(self, client, keys, worker: str):
        super().__init__(client, keys, "idle", worker, threading.Event(), ConsumerOptions(block_ms=50))

    def streams(self):
        return [self.keys._key("idle-in")]

    def handle(self, entry, pipe):
        pass


def health(redis_url, namespace, capsys, *args: str) -> tuple[int, list[str]]:
    code = signstream(["health", "--redis-url", redis_url, "--namespace", namespace, *args])
    return code, capsys.readouterr().out.splitlines()


def register_camera(r, keys, camera: str, status: str = "running", seen_ago_s: float = 0.0) -> None:
    info = {"source": f"/videos/{camera}.mp4", "status": status, "frames_sent": 10,
            "last_seen_ms": now_ms() - int(seen_ago_s * 1000)}
    r.hset(keys.cameras, camera, json.dumps(info))


def test_a_running_worker_is_up_and_a_clean_stop_is_not_a_failure(r, keys, namespace, redis_url, capsys):
    worker = IdleWorker(r, keys, "kp-1")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    assert wait_for(lambda: read_beats(r, keys))
    code, lines = health(redis_url, namespace, capsys)
    assert code == 0 and any(line.startswith("keypoints kp-1: up") for line in lines), lines

    worker.stop.set()
    thread.join(5)
    assert not read_beats(r, keys), "a clean stop removes the heartbeat"
    code, lines = health(redis_url, namespace, capsys)
    assert code == 0 and not any("kp-1" in line for line in lines), lines


def test_a_worker_that_reported_and_went_silent_is_down(r, keys, namespace, redis_url, capsys):
    # What a killed worker leaves: its stats, no heartbeat, no `stopped` mark.
    r.hset(keys.stats("classifier"), "cl-dead", json.dumps({"updated_ms": now_ms() - 30_000, "cameras": {}}))
    beat(r, keys, "classifier", "cl-live")
    code, lines = health(redis_url, namespace, capsys)
    assert code == 1
    assert any(line.startswith("classifier cl-dead: DOWN") for line in lines), lines
    assert any(line.startswith("classifier cl-live: up") for line in lines), lines
    # killed for good: after five minutes it is history, and health is good again
    r.hset(keys.stats("classifier"), "cl-dead", json.dumps({"updated_ms": now_ms() - 301_000, "cameras": {}}))
    code, lines = health(redis_url, namespace, capsys)
    assert code == 0 and not any("cl-dead" in line for line in lines), lines


def test_cameras_stale_failing_and_without_workers_are_down_and_an_ended_file_is_not(
        r, keys, namespace, redis_url, capsys):
    register_camera(r, keys, "ended", status="ended", seen_ago_s=600)
    code, lines = health(redis_url, namespace, capsys)
    assert code == 0, lines
    assert lines == ["camera ended: ended (its source finished), 10 frames sent, source /videos/ended.mp4"]

    register_camera(r, keys, "live")
    code, lines = health(redis_url, namespace, capsys)
    assert code == 1, "a running camera with no keypoint worker or classifier is not served"
    assert any(line.startswith("keypoints: DOWN") for line in lines) and any(
        line.startswith("classifier: DOWN") for line in lines), lines

    beat(r, keys, "keypoints", "kp")
    beat(r, keys, "classifier", "cl")
    assert health(redis_url, namespace, capsys)[0] == 0

    register_camera(r, keys, "silent", seen_ago_s=60)
    register_camera(r, keys, "broken", status="reopening")
    code, lines = health(redis_url, namespace, capsys)
    assert code == 1
    assert any(line.startswith("camera silent: DOWN: last heard 60 s ago") for line in lines), lines
    assert any(line.startswith("camera broken: DOWN: reopening") for line in lines), lines


def test_local_answers_for_this_hosts_workers_of_one_service(r, keys, namespace, redis_url, capsys):
    assert health(redis_url, namespace, capsys, "--local", "trainer")[0] == 1
    # Another container's trainer does not make this one healthy.
    r.set(keys.health("trainer", "tr-elsewhere"), json.dumps({"ms": now_ms(), "host": "elsewhere", "pid": 1}), ex=15)
    assert health(redis_url, namespace, capsys, "--local", "trainer")[0] == 1
    with beating(r, keys, "trainer", "tr-here", every_s=0.05):
        assert wait_for(lambda: any(b.worker == "tr-here" for b in read_beats(r, keys)), 5)
        code, lines = health(redis_url, namespace, capsys, "--local", "trainer")
    assert code == 0 and lines == ["trainer tr-here: up"]
    assert next(b for b in read_beats(r, keys) if b.worker == "tr-here").host == socket.gethostname()
    assert health(redis_url, namespace, capsys, "--local", "keypoints")[0] == 1


def test_unreachable_redis_is_exit_code_3(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = signstream(["health", "--redis-url", f"redis://127.0.0.1:{port}/0"])
    err = capsys.readouterr().err
    assert code == 3 and "unreachable" in err, err


@pytest.mark.parametrize("flag", ["--stale-s=0", "--stale-s=soon"])
def test_a_bad_flag_is_one_line_and_exit_code_2(flag, capsys):
    assert signstream(["health", flag]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_junk_in_the_cameras_and_stats_hashes_is_reported_and_skipped_never_a_traceback(r, keys, namespace, redis_url,
                                                                                        capsys):
    from services.up.console import Console
    from shared.messages import Detection

    register_camera(r, keys, "good")
    r.hset(keys.cameras, mapping={"notjson": "not json", "list": "[]", "textcount": '{"frames_sent": "many"}'})
    beat(r, keys, "keypoints", "kp-live")
    r.hset(keys.stats("keypoints"), mapping={"kp-live": json.dumps({"updated_ms": now_ms(), "cameras": {"good": {"out": 4}}}),
                                             "kp-junk": "{not json", "kp-text": '{"cameras": {"good": {"out": "4"}}}'})
    code = signstream(["stats", "--redis-url", redis_url, "--namespace", namespace])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "camera good: running, 10 frames sent, source /videos/good.mp4" in out
    assert sum("unreadable entry" in line for line in out) == 5, out
    assert "keypoints kp-live good: out=4" in out
    code, lines = health(redis_url, namespace, capsys)
    assert any(line.startswith("camera good: up") for line in lines) and not any("notjson" in line for line in lines)

    shown = []
    console = Console(r, keys, out=shown.append)
    console._last_id = "0-0"
    r.xadd(keys.detections, {"msg": b"\xc1 not a detection"})
    r.xadd(keys.detections, Detection(camera="good", label="hello", confidence=0.9, ts_start=now_ms(), ts_end=now_ms(),
                                      model="v1").encode())
    console.detections(block_ms=100)
    console.status()
    assert console.unreadable == 1 and any("good" in line and "hello" in line for line in shown), shown
    assert shown[-1].startswith("status  good: running, 10 frames, 4 keypoint vectors"), shown


def test_a_redis_signstream_never_ran_against_is_said_so_and_not_reported_as_healthy(r, keys, namespace, redis_url,
                                                                                      capsys):
    code, lines = health(redis_url, namespace, capsys)
    assert code == 1 and lines[0].startswith("no signstream deployment at redis://127.0.0.1:"), lines
    assert signstream(["stats", "--redis-url", redis_url, "--namespace", namespace]) == 1
    assert "no signstream deployment" in capsys.readouterr().out


def test_stats_and_health_run_where_up_was_started_ask_its_redis(r, keys, namespace, redis_url, capsys, tmp_path,
                                                                monkeypatch):
    import os

    from shared import local_deployment

    register_camera(r, keys, "door")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDIS_URL", raising=False)
    (tmp_path / ".signstream").mkdir()
    local_deployment.announce(tmp_path / ".signstream", redis_url)  # as `signstream up` here does
    assert signstream(["stats", "--namespace", namespace]) == 0
    assert "camera door: running" in capsys.readouterr().out
    # an `up` killed with -9 leaves its file: a dead pid is not followed
    (tmp_path / ".signstream" / "redis.url").write_text(json.dumps({"url": redis_url, "pid": 2**22 + 7}))
    assert local_deployment.running_url(tmp_path / ".signstream") is None
    assert os.path.exists(tmp_path / ".signstream" / "redis.url")
