"""The shipped model on real clips of people it has never seen, through the real pipeline.

Frames of each clip as capture publishes them (15 fps, JPEG), the person still for a second
before and after, go to a real keypoint worker (MediaPipe) and a real classifier serving the
shipped model, on a real redis-server: each trained sign is detected exactly once, and a clip of
another sign gives no detection at all.
"""

from __future__ import annotations

import pytest

from shared.messages import Detection, Prediction
from tests.conftest import SHARED, VIDEOS
from tests.frames import clip_played_once, publish_camera
from tests.services.test_keypoints import InProcessWorker
from tests.waiting import wait_for

CLIPS = SHARED / "clips"
# camera -> (clip, the one detection it must give, or None: none at all)
CAMERAS = {
    "hello": (VIDEOS / "kiri_hello.mp4", "hello"),
    "thanks": (VIDEOS / "kiri_thankyou.mp4", "thanks"),
    "iloveyou": (VIDEOS / "duoasl_iloveyou.mp4", "iloveyou"),
    "other": (CLIPS / "kiri_no.mp4", None),
}


@pytest.mark.slow
def test_each_sign_is_detected_once_and_another_sign_not_at_all(r, keys, redis_url, namespace, start_classifier,
                                                                  tmp_path):
    frames = {camera: clip_played_once(clip) for camera, (clip, _) in CAMERAS.items()}
    start_classifier(shipped_model=True, models_dir=tmp_path / "empty", stride=3, confirm_windows=3, threshold=0.8,
                     max_age_s=3600)
    # One worker, every frame (a loaded CI machine is slower than the camera; nothing may be dropped).
    worker = InProcessWorker(redis_url, namespace, max_age=3600, drop_behind=False)
    try:
        for camera, jpegs in frames.items():
            publish_camera(r, keys, camera, jpegs)
        expected_windows = sum((len(j) - 30) // 3 + 1 for j in frames.values())
        assert wait_for(lambda: r.xlen(keys.predictions) >= expected_windows, timeout_s=600, every_s=1), \
            f"{r.xlen(keys.predictions)} of {expected_windows} windows classified"
    finally:
        worker.close()
    said = [Prediction.decode(fields) for _, fields in r.xrange(keys.predictions)]
    assert {p.camera for p in said} == set(CAMERAS)
    found = {camera: [] for camera in CAMERAS}
    for _, fields in r.xrange(keys.detections):
        detection = Detection.decode(fields)
        found[detection.camera].append(detection.label)
    assert found == {camera: [sign] if sign else [] for camera, (_, sign) in CAMERAS.items()}
