"""Keypoint workers with real MediaPipe on real video frames, against a real redis-server."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import cv2
import mediapipe as mp
import msgpack
import numpy as np
import pytest

from services.keypoints.main import run_worker
from services.keypoints.settings import KeypointsSettings
from shared.messages import FrameGap, FrameMessage, KeypointsMessage, decode_keypoints_entry
from tests.conftest import VIDEOS, signstream_cmd
from tests.frames import publish_frames, video_jpegs
from tests.waiting import wait_for


def outputs(r, keys, camera) -> list[KeypointsMessage]:
    return [KeypointsMessage.decode(f) for _, f in r.xrange(keys.keypoints(camera))]




class InProcessWorker:
    def __init__(self, redis_url, namespace, **options):
        settings = KeypointsSettings(redis_url=redis_url, namespace=namespace, block_ms=100, refresh_cameras_s=0.2,
                                     **options)
        self.stop = threading.Event()
        self.result = {}
        self.thread = threading.Thread(target=lambda: self.result.setdefault("worker", run_worker(settings, self.stop)),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()
        return self.result["worker"]


def recipe_extract_keypoints(results) -> np.ndarray:
    """The recipe notebook's extract_keypoints, written out independently of our extract.py."""
    pose = np.array([[r.x, r.y, r.z, r.visibility] for r in results.pose_landmarks.landmark]).flatten() \
        if results.pose_landmarks else np.zeros(33 * 4)
    face = np.array([[r.x, r.y, r.z] for r in results.face_landmarks.landmark]).flatten() \
        if results.face_landmarks else np.zeros(468 * 3)
    lh = np.array([[r.x, r.y, r.z] for r in results.left_hand_landmarks.landmark]).flatten() \
        if results.left_hand_landmarks else np.zeros(21 * 3)
    rh = np.array([[r.x, r.y, r.z] for r in results.right_hand_landmarks.landmark]).flatten() \
        if results.right_hand_landmarks else np.zeros(21 * 3)
    return np.concatenate([pose, face, lh, rh])


@pytest.mark.slow
def test_a_worker_turns_real_frames_into_the_same_vectors_mediapipe_gives(r, keys, redis_url, namespace):
    jpegs = video_jpegs(VIDEOS / "kiri_hello.mp4", count=24, every=6)
    publish_frames(r, keys, "kiri", jpegs)
    worker = InProcessWorker(redis_url, namespace, max_age=600, drop_behind=False)
    try:
        assert wait_for(lambda: r.xlen(keys.keypoints("kiri")) == len(jpegs))
    finally:
        worker.close()
    got = outputs(r, keys, "kiri")
    assert [m.seq for m in got] == list(range(len(jpegs)))

    holistic = mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=1,
                                              refine_face_landmarks=False)
    hands_seen = 0
    for message, data in zip(got, jpegs):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        results = holistic.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        expected = recipe_extract_keypoints(results).astype(np.float32)
        assert message.vector.shape == (1662,)
        np.testing.assert_array_equal(message.vector, expected)
        found = {"pose": results.pose_landmarks, "face": results.face_landmarks,
                 "left_hand": results.left_hand_landmarks, "right_hand": results.right_hand_landmarks}
        assert set(message.parts) == {name for name, part in found.items() if part is not None}
        hands_seen += bool({"left_hand", "right_hand"} & set(message.parts))
    holistic.close()
    assert all({"pose", "face"} <= set(m.parts) for m in got), "a person faces the camera in every frame"
    assert hands_seen >= 3, "the signer's hands are in view in part of the clip"
    assert all(m.processing_ms > 0 and m.worker for m in got)


@pytest.mark.slow
def test_two_workers_share_one_camera_with_no_frame_done_twice_and_none_lost(r, keys, service_env):
    procs = [subprocess.Popen(signstream_cmd("keypoints", "--max-age", "600", "--no-drop-behind", "--worker-id", f"w{i}",
                                             "--refresh-cameras-s", "0.2"),
                              env=service_env, stderr=subprocess.PIPE, text=True) for i in (1, 2)]
    try:
        assert wait_for(lambda: all(r.exists(keys.health("keypoints", f"w{i}")) for i in (1, 2)))
        jpegs = video_jpegs(VIDEOS / "bisig_hello.mp4", count=28)
        publish_frames(r, keys, "bisig", jpegs, interval_s=0.03)
        assert wait_for(lambda: r.xlen(keys.keypoints("bisig")) >= len(jpegs))
        time.sleep(1.0)  # anything done twice would show up now
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(30) for proc in procs]
    assert codes == [0, 0]
    got = outputs(r, keys, "bisig")
    assert sorted(m.seq for m in got) == list(range(len(jpegs)))
    by_worker = {w: sum(m.worker == w for m in got) for w in ("w1", "w2")}
    assert min(by_worker.values()) >= 3, by_worker
    assert r.xpending(keys.frames("bisig"), "keypoints")["pending"] == 0
    assert all("stopped ◆" in proc.stderr.read() for proc in procs)


def all_threads_stopped(pid: int) -> bool:
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            # The state follows the parenthesised command name, which may itself hold spaces.
            states.append(task.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return bool(states) and all(state in ("T", "t") for state in states)


def frozen_holding_a_frame(proc: subprocess.Popen, r, stream: str) -> bool:
    """Freeze the worker; True if it holds an unacknowledged frame, else let it run on and say False.

    A worker reading one frame at a time holds none between its ack and its next read, so it is
    frozen before it is looked at, and killed only while it holds one. SIGSTOP is delivered
    asynchronously, so the pending count is read only once every thread is seen stopped."""
    proc.send_signal(signal.SIGSTOP)
    assert wait_for(lambda: all_threads_stopped(proc.pid), timeout_s=5)
    if r.xpending(stream, "keypoints")["pending"] >= 1:
        return True
    proc.send_signal(signal.SIGCONT)
    return False


@pytest.mark.slow
def test_frames_pending_in_a_killed_worker_are_claimed_by_another(r, keys, service_env):
    # Enough frames that the doomed worker cannot finish them all before it is killed.
    jpegs = video_jpegs(VIDEOS / "bisig_hello.mp4", count=20) * 4
    publish_frames(r, keys, "bisig", jpegs)
    doomed = subprocess.Popen(signstream_cmd("keypoints", "--max-age", "600", "--no-drop-behind", "--worker-id", "doomed",
                                             "--refresh-cameras-s", "0.2"), env=service_env,
                              stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: r.xlen(keys.keypoints("bisig")) >= 3)
        assert wait_for(lambda: frozen_holding_a_frame(doomed, r, keys.frames("bisig")), timeout_s=10)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        pending = r.xpending(keys.frames("bisig"), "keypoints")
        assert pending["pending"] >= 1 and pending["consumers"][0]["name"] == b"doomed"
        done_by_doomed = r.xlen(keys.keypoints("bisig"))
        rescuer = subprocess.Popen(signstream_cmd("keypoints", "--max-age", "600", "--no-drop-behind", "--worker-id", "rescuer",
                                                  "--claim-idle-ms", "300", "--refresh-cameras-s", "0.2"),
                                   env=service_env, stderr=subprocess.DEVNULL)
        try:
            assert wait_for(lambda: r.xlen(keys.keypoints("bisig")) >= len(jpegs))
            time.sleep(1.0)
        finally:
            rescuer.send_signal(signal.SIGTERM)
            assert rescuer.wait(30) == 0
    finally:
        doomed.kill()
    got = outputs(r, keys, "bisig")
    assert sorted(m.seq for m in got) == list(range(len(jpegs)))
    assert done_by_doomed < len(jpegs)
    assert r.xpending(keys.frames("bisig"), "keypoints")["pending"] == 0
    stats = json.loads(r.hget(keys.stats("keypoints"), "rescuer"))
    assert stats["cameras"]["bisig"]["claimed"] >= 1


def test_malformed_frames_go_to_dead_with_a_reason_and_the_worker_goes_on(r, keys, redis_url, namespace):
    jpegs = video_jpegs(VIDEOS / "bisig_hello.mp4", count=2)
    r.hset(keys.cameras, "cam", "{}")
    stream = keys.frames("cam")
    now = int(time.time() * 1000)
    r.xadd(stream, {"msg": b"\xc1 not msgpack"})
    r.xadd(stream, FrameMessage(camera="cam", seq=0, capture_ts_ms=now, width=1, height=1, encoding="jpeg",
                                data=b"not an image").encode())
    r.xadd(stream, {"msg": msgpack.packb({"v": 1, "camera": "cam", "seq": 1})})
    publish_frames(r, keys, "cam", jpegs, first_seq=1)
    worker = InProcessWorker(redis_url, namespace, max_age=600, drop_behind=False)
    try:
        assert wait_for(lambda: r.xlen(keys.keypoints("cam")) == 3)  # seq 0 as a gap, then 1 and 2
        assert wait_for(lambda: r.xlen(keys.dead) == 3)
    finally:
        result = worker.close()
    reasons = [f[b"reason"].decode() for _, f in r.xrange(keys.dead)]
    assert "not msgpack" in reasons[0]
    assert "not a decodable image" in reasons[1]
    assert "lacks" in reasons[2]
    assert all(f[b"service"] == b"keypoints" and f[b"stream"] == stream.encode() for _, f in r.xrange(keys.dead))
    assert result.stats.total("dead") == 3 and result.stats.total("out") == 2
    assert r.xpending(stream, "keypoints")["pending"] == 0
    entries = [decode_keypoints_entry(f) for _, f in r.xrange(keys.keypoints("cam"))]
    assert [(type(e).__name__, e.seq) for e in entries] == [("FrameGap", 0), ("KeypointsMessage", 1),
                                                            ("KeypointsMessage", 2)]
    assert entries[0].reason == "undecodable"


def test_frames_older_than_max_age_are_dropped_counted_and_reported_as_gaps(r, keys, redis_url, namespace):
    jpegs = video_jpegs(VIDEOS / "bisig_hello.mp4", count=3)
    publish_frames(r, keys, "late", jpegs, capture_ts_ms=int(time.time() * 1000) - 10_000)
    worker = InProcessWorker(redis_url, namespace, max_age=1.0, worker_id="w-late", drop_behind=False)
    try:
        last_id = r.xrevrange(keys.frames("late"), count=1)[0][0]

        def all_delivered_and_acked():
            groups = r.xinfo_groups(keys.frames("late")) if r.exists(keys.health("keypoints", "w-late")) else []
            return bool(groups) and groups[0]["last-delivered-id"] == last_id and groups[0]["pending"] == 0

        assert wait_for(all_delivered_and_acked, 30)
    finally:
        worker.close()
    # each dropped frame is announced on the keypoints stream, so the classifier need not wait for it
    gaps = [decode_keypoints_entry(fields) for _, fields in r.xrange(keys.keypoints("late"))]
    assert [(type(g), g.seq, g.reason) for g in gaps] == [(FrameGap, seq, "too old") for seq in range(3)]
    stats = json.loads(r.hget(keys.stats("keypoints"), "w-late"))
    assert stats["cameras"]["late"]["dropped_old"] == 3 and stats["cameras"]["late"].get("out", 0) == 0


def test_under_overload_every_camera_gets_its_newest_frames_processed_and_the_rest_reported_dropped(
        r, keys, redis_url, namespace):
    # Two cameras whose frames arrive faster than one worker can go: a backlog on each.
    jpegs = video_jpegs(VIDEOS / "bisig_hello.mp4", count=24)
    now = int(time.time() * 1000)
    publish_frames(r, keys, "first", jpegs, capture_ts_ms=now)
    publish_frames(r, keys, "second", jpegs, capture_ts_ms=now)
    worker = InProcessWorker(redis_url, namespace, max_age=600, read_count=8, worker_id="w-fair")
    try:
        assert wait_for(lambda: all(r.xlen(keys.keypoints(c)) == 24 for c in ("first", "second")), 60)
    finally:
        result = worker.close()
    done = {}
    for camera in ("first", "second"):
        entries = [decode_keypoints_entry(f) for _, f in r.xrange(keys.keypoints(camera))]
        assert sorted(e.seq for e in entries) == list(range(24))  # each frame once: keypoints or a gap
        done[camera] = sorted(e.seq for e in entries if isinstance(e, KeypointsMessage))
        gaps = [e for e in entries if isinstance(e, FrameGap)]
        assert gaps and all(g.reason == "behind" for g in gaps)
        assert 23 in done[camera]  # the newest frame is always the one processed
    assert len(done["first"]) == len(done["second"]) == 3  # one per pass of 8, each camera alike
    assert result.stats.total("dropped_behind") == 2 * (24 - 3)
    assert r.xpending(keys.frames("first"), "keypoints")["pending"] == 0


@pytest.mark.slow
def test_a_flood_of_camera_names_without_frames_neither_starves_a_real_camera_nor_leaves_streams(
        r, keys, redis_url, namespace):
    # Names that sort before the real camera's, as a flood would be served first by name.
    r.hset(keys.cameras, mapping={f"aaa-{i:04d}": "{}" for i in range(3000)})
    jpegs = video_jpegs(VIDEOS / "bisig_hello.mp4", count=6)
    publish_frames(r, keys, "zz-real", jpegs)
    worker = InProcessWorker(redis_url, namespace, max_age=600, drop_behind=False)
    try:
        assert wait_for(lambda: r.xlen(keys.keypoints("zz-real")) == len(jpegs), 60)
    finally:
        worker.close()
    assert list(r.scan_iter(match=keys.frames("aaa-*"), count=1000)) == []
    assert list(r.scan_iter(match=keys.keypoints("aaa-*"), count=1000)) == []


@pytest.mark.slow
def test_cameras_that_go_quiet_give_their_trackers_memory_back(r, keys, redis_url, namespace):
    import psutil

    from services.keypoints.worker import KeypointWorker
    from shared.redis_client import connect

    jpegs = video_jpegs(VIDEOS / "bisig_hello.mp4", count=3)
    settings = KeypointsSettings(redis_url=redis_url, namespace=namespace, block_ms=100, refresh_cameras_s=0.2,
                                 idle_camera_s=1.0, max_age=600, drop_behind=False)
    worker = KeypointWorker(connect(redis_url), settings, "w-churn", threading.Event())
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    rss_mb = []
    try:
        for i in range(6):  # cameras come and go, one at a time
            publish_frames(r, keys, f"churn-{i}", jpegs)
            assert wait_for(lambda: r.xlen(keys.keypoints(f"churn-{i}")) == len(jpegs), 60)
            assert wait_for(lambda: len(worker.trackers) == 0, 30), "a quiet camera's tracker was kept"
            rss_mb.append(psutil.Process().memory_info().rss / 2**20)
    finally:
        worker.stop.set()
        thread.join(15)
    # A tracker holds 50-180 MB: six kept would be several hundred MB more; released, the heap stays flat.
    assert rss_mb[-1] - rss_mb[0] < 200, rss_mb


def test_a_frame_above_the_pixel_limit_is_refused_from_its_header_and_the_worker_goes_on(r, keys, redis_url, namespace):
    big = np.full((4000, 5000, 3), 128, np.uint8)  # 20 megapixels, above the 4K default limit
    cv2.putText(big, "huge", (500, 2000), cv2.FONT_HERSHEY_SIMPLEX, 40, (0, 0, 0), 60)
    data = cv2.imencode(".jpg", big)[1].tobytes()
    r.hset(keys.cameras, "cam", "{}")
    r.xadd(keys.frames("cam"), FrameMessage(camera="cam", seq=0, capture_ts_ms=int(time.time() * 1000), width=5000,
                                            height=4000, encoding="jpeg", data=data).encode())
    publish_frames(r, keys, "cam", video_jpegs(VIDEOS / "bisig_hello.mp4", count=1), first_seq=1)
    worker = InProcessWorker(redis_url, namespace, max_age=600, drop_behind=False)
    try:
        assert wait_for(lambda: r.xlen(keys.keypoints("cam")) == 2)
    finally:
        result = worker.close()
    [(_, letter)] = r.xrange(keys.dead)
    assert b"5000x4000 pixels is above --max-pixels" in letter[b"reason"]
    entries = [decode_keypoints_entry(f) for _, f in r.xrange(keys.keypoints("cam"))]
    assert [(type(e).__name__, e.seq) for e in entries] == [("FrameGap", 0), ("KeypointsMessage", 1)]
    assert result.stats.total("dead") == 1
