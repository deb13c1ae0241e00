"""Real video frames as FrameMessage entries, for tests that start at the keypoint workers, and
keypoint entries as a camera's workers publish them, for tests that start at the classifier."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from shared.codec import encode_jpeg
from shared.keys import Keys
from shared.messages import FrameMessage, KeypointsMessage


def video_jpegs(video: Path, count: int, every: int = 2, width: int = 480) -> list[bytes]:
    """`count` frames of a real video (every `every`-th), resized and JPEG-encoded as capture does."""
    capture = cv2.VideoCapture(str(video))
    jpegs, index = [], 0
    while len(jpegs) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            h, w = frame.shape[:2]
            frame = cv2.resize(frame, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
            jpegs.append(encode_jpeg(frame, 80))
        index += 1
    capture.release()
    return jpegs


def publish_frames(r, keys: Keys, camera: str, jpegs: list[bytes], first_seq: int = 0,
                   capture_ts_ms: int | None = None, interval_s: float = 0.0) -> None:
    r.hset(keys.cameras, camera, json.dumps({"source": "test", "status": "running"}))
    for i, data in enumerate(jpegs):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        ts = capture_ts_ms if capture_ts_ms is not None else int(time.time() * 1000)
        message = FrameMessage(camera=camera, seq=first_seq + i, capture_ts_ms=ts, width=image.shape[1],
                               height=image.shape[0], encoding="jpeg", data=data)
        r.xadd(keys.frames(camera), message.encode())
        if interval_s:
            time.sleep(interval_s)


_timelines: dict[str, int] = {}


def publish_keypoints(r, keys: Keys, camera: str, seqs, vector_of=lambda seq: np.full(1662, seq % 7, np.float32)):
    """Keypoints as a 15 fps camera captures them: seq k at k/15 s on the camera's own timeline."""
    r.hset(keys.cameras, camera, json.dumps({"source": "test"}))
    seqs = list(seqs)
    origin = _timelines.setdefault(keys.keypoints(camera), int(time.time() * 1000) - max(seqs) * 1000 // 15)
    for seq in seqs:
        msg = KeypointsMessage.from_vector(vector=vector_of(seq), camera=camera, seq=seq,
                                           capture_ts_ms=origin + seq * 1000 // 15, parts=("pose",), worker="test",
                                           processing_ms=1.0)
        r.xadd(keys.keypoints(camera), msg.encode())


def clip_played_once(path: Path, fps: float = 15.0, held_s: float = 1.0, max_width: int = 960) -> list[bytes]:
    """A clip's frames as capture publishes them (chosen by media time at `fps`, scaled to at most
    `max_width`, JPEG 80), the person still for `held_s` before and after: someone signing once."""
    from services.capture.publisher import resized, target_size
    from services.capture.sources import at_rate, open_source

    source = open_source(str(path), fps)
    jpegs = []
    try:
        for frame, _ in at_rate(source.frames(), fps):
            width, height = target_size(frame.shape[1], frame.shape[0], None, None, max_width)
            jpegs.append(encode_jpeg(resized(frame, width, height), 80))
    finally:
        source.close()
    held = int(held_s * fps)
    return [jpegs[0]] * held + jpegs + [jpegs[-1]] * held


def publish_camera(r, keys: Keys, camera: str, jpegs: list[bytes], fps: float = 15.0) -> None:
    """Frames as a camera at `fps` captured them: seq k at k/fps s, the last one now."""
    r.hset(keys.cameras, camera, json.dumps({"source": "test", "status": "running"}))
    origin = int(time.time() * 1000) - int(len(jpegs) * 1000 / fps)
    for seq, data in enumerate(jpegs):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        message = FrameMessage(camera=camera, seq=seq, capture_ts_ms=origin + int(seq * 1000 / fps),
                               width=image.shape[1], height=image.shape[0], encoding="jpeg", data=data)
        r.xadd(keys.frames(camera), message.encode())


def write_y4m(path: Path, jpegs: list[bytes], frame_rate: tuple[int, int] = (15, 1)) -> Path:
    """The frames as a YUV4MPEG2 file, which Chromium plays as its camera
    (`--use-file-for-fake-video-capture`), at `frame_rate` (numerator, denominator) frames a second,
    at the first frame's size (an odd side loses a pixel: 4:2:0 needs even ones; later frames of
    another size, from another clip, are scaled to it)."""
    size = None
    with open(path, "wb") as out:
        for i, data in enumerate(jpegs):
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            h, w = image.shape[:2]
            if size is None:
                size = (w - w % 2, h - h % 2)
            elif (w - w % 2, h - h % 2) != size:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            image = np.ascontiguousarray(image[:size[1], :size[0]])
            if i == 0:
                out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F{frame_rate[0]}:{frame_rate[1]} Ip A1:1 C420jpeg\n".encode())
            out.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path
