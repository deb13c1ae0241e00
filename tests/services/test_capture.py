"""Capture against a real redis-server, on real videos from ../shared/videos and image folders."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time

import cv2
import numpy as np

from services.capture.main import run_capture
from services.capture.publisher import resized
from services.capture.settings import CaptureSettings
from shared.codec import decode_jpeg
from shared.messages import FrameMessage
from tests.conftest import VIDEOS, signstream_cmd


def frames(r, keys, camera) -> list[FrameMessage]:
    return [FrameMessage.decode(f) for _, f in r.xrange(keys.frames(camera))]


def capture(redis_url, namespace, **options):
    settings = CaptureSettings(redis_url=redis_url, namespace=namespace, **options)
    return run_capture(settings, threading.Event())


def test_a_video_is_published_at_the_asked_rate_with_increasing_seq_and_jpegs_of_the_asked_size(
        r, keys, redis_url, namespace):
    summary = capture(redis_url, namespace, source=str(VIDEOS / "kiri_hello.mp4"), camera="kiri", fps=15, width=320)
    sent = frames(r, keys, "kiri")
    assert 73 <= len(sent) <= 76  # 149 frames at 30 fps = 4.97 s; at 15 fps about 75
    assert summary.frames_sent == len(sent) and summary.frames_skipped == 149 - len(sent)
    assert [f.seq for f in sent] == list(range(len(sent)))
    intervals = np.diff([f.capture_ts_ms for f in sent])
    assert abs(intervals.mean() - 1000 / 15) < 1000 / 15 * 0.2, f"mean interval {intervals.mean():.1f} ms"
    for f in sent[:: len(sent) // 5]:
        image = decode_jpeg(f.data)
        assert image.shape == (180, 320, 3) and (f.width, f.height) == (320, 180)


def test_a_25_fps_video_at_15_fps_keeps_15_frames_per_second_of_video(r, keys, redis_url, namespace):
    capture(redis_url, namespace, source=str(VIDEOS / "bisig_hello.mp4"), camera="bisig", fps=15, pace=False)
    sent = frames(r, keys, "bisig")
    assert abs(len(sent) - 2.28 * 15) <= 1.5  # 57 frames at 25 fps = 2.28 s
    assert (sent[0].width, sent[0].height) == (500, 500)


def test_full_hd_is_published_960_wide_by_default_and_at_its_own_size_when_asked(r, keys, redis_url, namespace):
    capture(redis_url, namespace, source=str(VIDEOS / "alp_val_hello.mp4"), camera="hd", fps=15, pace=False,
            max_frames=3)
    capture(redis_url, namespace, source=str(VIDEOS / "alp_val_hello.mp4"), camera="full", fps=15, pace=False,
            max_frames=3, max_width=0)
    capture(redis_url, namespace, source=str(VIDEOS / "kiri_hello.mp4"), camera="small", fps=15, pace=False,
            max_frames=3)
    assert {(f.width, f.height, decode_jpeg(f.data).shape[:2]) for f in frames(r, keys, "hd")} == {(960, 540, (540, 960))}
    assert {(f.width, f.height) for f in frames(r, keys, "full")} == {(1920, 1080)}
    assert {(f.width, f.height) for f in frames(r, keys, "small")} == {(854, 480)}  # narrower: untouched


def test_an_image_folder_is_published_in_natural_order(r, keys, redis_url, namespace, tmp_path):
    for n in (10, 2, 1):
        image = np.full((48, 64, 3), n * 20, np.uint8)
        cv2.imwrite(str(tmp_path / f"{n}.png"), image)
    (tmp_path / "notes.txt").write_text("not an image")
    capture(redis_url, namespace, source=str(tmp_path), camera="folder", fps=30, pace=False)
    sent = frames(r, keys, "folder")
    brightness = [int(decode_jpeg(f.data).mean().round()) for f in sent]
    assert brightness == [20, 40, 200]


def test_a_missing_file_exits_2_with_one_line_saying_what_to_check(service_env):
    result = subprocess.run(signstream_cmd("capture", "--source", "/nowhere/video.mp4"), env=service_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "/nowhere/video.mp4" in lines[0] and "check the path" in lines[0]


def test_an_empty_image_folder_exits_2_with_one_line(service_env, tmp_path):
    result = subprocess.run(signstream_cmd("capture", "--source", str(tmp_path)), env=service_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "has no .jpg/.png" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_bad_setting_exits_2_with_one_line(service_env):
    result = subprocess.run(signstream_cmd("capture", "--source", "0", "--fps", "0"), env=service_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--fps (env SIGNSTREAM_CAPTURE_FPS)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sigterm_stops_a_looping_capture_quickly_and_marks_the_camera_ended(r, keys, service_env):
    proc = subprocess.Popen(signstream_cmd("capture", "--source", str(VIDEOS / "bisig_hello.mp4"), "--camera", "loop",
                                           "--loop", "--fps", "15"), env=service_env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and r.xlen(keys.frames("loop")) < 50:  # > 34: it looped
            time.sleep(0.1)
        running = json.loads(r.hget(keys.cameras, "loop"))
        assert running["status"] == "running" and running["fps"] == 15
        assert time.time() * 1000 - running["last_seen_ms"] < 3000
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert time.monotonic() - stopped_at < 5
    finally:
        proc.kill()
    assert r.xlen(keys.frames("loop")) >= 50
    ended = json.loads(r.hget(keys.cameras, "loop"))
    assert ended["status"] == "ended" and ended["frames_sent"] == r.xlen(keys.frames("loop"))
    assert "frames sent" in proc.stderr.read()


def test_a_restarted_capture_continues_the_seq_numbering_and_announces_its_run(r, keys, redis_url, namespace):
    runs = []
    for _ in range(2):
        capture(redis_url, namespace, source=str(VIDEOS / "bisig_hello.mp4"), camera="again", pace=False,
                max_frames=5)
        runs.append(json.loads(r.hget(keys.cameras, "again")))
    sent = frames(r, keys, "again")
    assert [f.seq for f in sent] == list(range(10))
    # each run says where it began, so readers can tell its frames from the run before
    assert [run["first_seq"] for run in runs] == [0, 5]
    assert runs[0]["started_ms"] <= sent[0].capture_ts_ms and runs[0]["started_ms"] < runs[1]["started_ms"]
    assert runs[1]["started_ms"] <= sent[5].capture_ts_ms


def test_a_frame_injected_with_the_largest_seq_does_not_stop_capture_from_starting_again(r, keys, service_env):
    from shared.messages import MAX_SEQ

    jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    r.xadd(keys.frames("hijacked"), FrameMessage(camera="hijacked", seq=MAX_SEQ - 1, capture_ts_ms=int(time.time() * 1000),
                                                 width=8, height=8, encoding="jpeg", data=jpeg).encode())
    said = []
    for _ in range(2):  # and every start after
        proc = subprocess.run(signstream_cmd("capture", "--source", str(VIDEOS / "bisig_hello.mp4"), "--camera",
                                             "hijacked", "--no-pace", "--max-frames", "3"),
                              env=service_env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        said.append("which no camera reaches; numbering from 0" in proc.stderr)
    assert [f.seq for f in frames(r, keys, "hijacked")] == [MAX_SEQ - 1, 0, 1, 2, 3, 4, 5]
    assert said == [True, False]


def test_an_unreachable_camera_is_reopened_with_backoff_not_a_crash(r, keys, redis_url, namespace, caplog):
    settings = CaptureSettings(redis_url=redis_url, namespace=namespace, source="rtsp://127.0.0.1:9/none",
                               camera="gone", reopen_max_s=0.5)
    stop = threading.Event()
    thread = threading.Thread(target=run_capture, args=(settings, stop), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum("reopening in" in m for m in caplog.messages) < 2:
            time.sleep(0.1)
        assert thread.is_alive()
        assert json.loads(r.hget(keys.cameras, "gone"))["status"] == "reopening"
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert sum("reopening in" in m for m in caplog.messages) >= 2


def test_frames_are_chosen_by_media_time_whatever_the_source_rate():
    from services.capture.sources import at_rate

    def source(fps, seconds):
        return ((i, i / fps) for i in range(int(fps * seconds)))

    skipped = []
    assert [i for i, _ in at_rate(source(30, 2), 15, lambda: skipped.append(1))] == list(range(0, 60, 2))
    assert len(skipped) == 30
    assert len(list(at_rate(source(25, 4), 15))) == 60  # 4 s of a 25 fps file at 15 fps
    assert len(list(at_rate(source(10, 3), 15))) == 30  # a slower source gives what it has


def test_frames_are_resized_bilinear_down_to_half_size_and_by_area_below():
    frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    assert resized(frame, 1280, 720) is frame
    # Bilinear within half size: 4 times cheaper at 1280x720 -> 960 with keypoints within a pixel (bench/results/resize.md).
    np.testing.assert_array_equal(resized(frame, 960, 540), cv2.resize(frame, (960, 540), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_array_equal(resized(frame, 640, 360), cv2.resize(frame, (640, 360), interpolation=cv2.INTER_LINEAR))
    # Smaller than half: area averaging, so that fine detail does not alias.
    np.testing.assert_array_equal(resized(frame, 480, 270), cv2.resize(frame, (480, 270), interpolation=cv2.INTER_AREA))
    assert not np.array_equal(resized(frame, 480, 270), cv2.resize(frame, (480, 270), interpolation=cv2.INTER_LINEAR))
