"""Recording sequences from the live keypoint stream, the recipe's collection loop as a service.

Frames come from `keypoints:<camera>` as any subscriber reads them (no consumer group, so the
classifier keeps its own copy). Each sequence is put in capture order by the classifier's
window logic, written to a hidden folder beside its final place, then renamed: a sequence on
disk is always complete. New sequences are numbered after the highest existing one.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import redis

from shared.codec import WINDOW
from shared.errors import SourceError
from shared.keys import Keys
from shared.messages import FrameGap, decode_keypoints_entry, now_ms
from shared.windows import CameraWindow

log = logging.getLogger(__name__)


def next_sequence_number(action_dir: Path) -> int:
    numbers = [int(p.name) for p in action_dir.iterdir() if p.is_dir() and p.name.isdigit()] if action_dir.is_dir() else []
    return max(numbers, default=-1) + 1


def write_sequence(action_dir: Path, number: int, frames: np.ndarray) -> Path:
    """Write frames as <action_dir>/<number>/<0..29>.npy, all or nothing."""
    final = action_dir / str(number)
    if final.exists():
        raise FileExistsError(f"{final} exists; refusing to overwrite a recorded sequence")
    temp = action_dir / f".{number}.partial-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        for i, frame in enumerate(frames):
            np.save(temp / f"{i}.npy", np.asarray(frame, dtype=np.float32))
        os.rename(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return final


class Recorder:
    def __init__(self, client: redis.Redis, keys: Keys, camera: str, gap_wait_ms: int, timeout_s: float,
                 stop: threading.Event):
        self.redis = client
        self.stream = keys.keypoints(camera)
        self.camera = camera
        self.gap_wait_ms = gap_wait_ms
        self.timeout_s = timeout_s
        self.stop = stop

    def record_one(self) -> np.ndarray | None:
        """The next 30 consecutive frames in capture order, from frames published after this call (never one
        whose predecessor arrived just before it); None if stopped."""
        # Training data wants real frames: at most a third of a recorded sequence may repeat a dropped one.
        window = CameraWindow(self.camera, stride=WINDOW, gap_wait_ms=self.gap_wait_ms, start_after_holes=True,
                              min_frames=WINDOW * 2 // 3)
        last_id = "$"
        last_frame_at = time.monotonic()
        while not self.stop.is_set():
            reply = self.redis.xread({self.stream: last_id}, block=200, count=100)
            ready = []
            for _, items in reply or []:
                for entry_id, fields in items:
                    last_id = entry_id
                    msg = decode_keypoints_entry(fields)
                    if isinstance(msg, FrameGap):
                        ready += window.add_gap(msg.seq, msg.capture_ts_ms, now_ms())
                    else:
                        ready += window.add(msg.seq, msg.vector, msg.capture_ts_ms, now_ms())
                    last_frame_at = time.monotonic()
            ready += window.drain(now_ms())
            if ready:
                return ready[0].frames
            if time.monotonic() - last_frame_at > self.timeout_s:
                raise SourceError(
                    f"no keypoints on {self.stream} for {self.timeout_s:.0f} s: is `signstream up` (or capture "
                    f"and keypoints) running for camera {self.camera!r}?"
                )
        return None


def collect(recorder: Recorder, root: Path, action: str, sequences: int, pause_s: float,
            say: Callable[[str], None] = print) -> list[Path]:
    action_dir = root / action
    action_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i in range(sequences):
        number = next_sequence_number(action_dir)
        say(f"Collecting frames for {action!r}, sequence {number} ({i + 1} of {sequences}): "
            f"get ready, starting in {pause_s:g} s")
        if recorder.stop.wait(pause_s):
            break
        say("  recording ...")
        frames = recorder.record_one()
        if frames is None:
            break
        written.append(write_sequence(action_dir, number, frames))
        say(f"  saved {written[-1]}")
    return written
