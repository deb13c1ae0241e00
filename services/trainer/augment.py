"""Training-time changes to keypoint windows that real signing allows.

Each new epoch sees every training sequence changed a little, as another signer, camera or
moment would change it: mirrored (a left-handed signer: x flipped, left and right swapped),
turned and scaled a little about the shoulders, signed faster or slower, with a frame or two
repeated (a dropped camera frame) and a hand lost for a few frames (MediaPipe missing it).
Points MediaPipe did not find stay zero. Works on raw 1662-float windows, before any
normalisation layer, so what the model learns matches what the classifier serves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.codec import FACE_END, FACE_POINTS, HAND_POINTS, LEFT_END, POSE_END, POSE_POINTS, VECTOR_SIZE, WINDOW
from shared.keypoint_mirror import mirror as mirror  # one mirror for training and the served Mirror layer


@dataclass(frozen=True)
class AugmentOptions:
    mirror_p: float = 0.5
    rotate_deg: float = 10.0
    scale: float = 0.1
    shift: float = 0.05
    speed: float = 0.2
    repeat_frames_p: float = 0.3
    drop_hand_p: float = 0.2
    time_shift: int = 0  # most frames a window is moved in time (0: never)
    time_shift_p: float = 0.5


def split(window: np.ndarray):
    """Views of one (30, 1662) window as points: pose (30, 33, 4), others (30, n, 3)."""
    pose = window[:, :POSE_END].reshape(WINDOW, POSE_POINTS, 4)
    face = window[:, POSE_END:FACE_END].reshape(WINDOW, FACE_POINTS, 3)
    left = window[:, FACE_END:LEFT_END].reshape(WINDOW, HAND_POINTS, 3)
    right = window[:, LEFT_END:].reshape(WINDOW, HAND_POINTS, 3)
    return pose, face, left, right


def join(pose, face, left, right) -> np.ndarray:
    return np.concatenate([pose.reshape(WINDOW, -1), face.reshape(WINDOW, -1), left.reshape(WINDOW, -1),
                           right.reshape(WINDOW, -1)], axis=1)


def found(points: np.ndarray) -> np.ndarray:
    """(…, n, 1) mask: 1 where MediaPipe found the point (any of x, y, z non-zero)."""
    return np.any(points[..., :3] != 0, axis=-1, keepdims=True)


def transform(window: np.ndarray, angle_rad: float, scale: float, shift: np.ndarray) -> np.ndarray:
    """Rotate and scale x, y about the shoulder centre, then shift; missing points stay zero."""
    pose, face, left, right = (p.copy() for p in split(window))
    shoulders = pose[:, [11, 12], :2]
    has = np.all(shoulders != 0, axis=(1, 2))
    centre = shoulders.mean(axis=1) if has.any() else np.full((WINDOW, 2), 0.5)
    centre[~has] = centre[has].mean(axis=0) if has.any() else 0.5
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    rotation = np.array([[c, -s], [s, c]], dtype=np.float32) * scale
    for part in (pose, face, left, right):
        mask = found(part)
        xy = (part[..., :2] - centre[:, None, :]) @ rotation.T + centre[:, None, :] + shift
        part[..., :2] = np.where(mask, xy, 0.0)
        part[..., 2:3] = np.where(mask, part[..., 2:3] * scale, 0.0)
    return join(pose, face, left, right)


def change_speed(window: np.ndarray, factor: float) -> np.ndarray:
    """Resample in time: factor > 1 is faster signing (the window covers more of the sign)."""
    centre = (WINDOW - 1) / 2
    positions = np.clip(centre + (np.arange(WINDOW) - centre) * factor, 0, WINDOW - 1)
    return window[np.round(positions).astype(int)]


def repeat_frames(window: np.ndarray, rng: np.random.Generator, most: int = 3) -> np.ndarray:
    out = window.copy()
    for i in rng.choice(np.arange(1, WINDOW), size=rng.integers(1, most + 1), replace=False):
        out[i] = out[i - 1]
    return out


def shift_in_time(window: np.ndarray, offset: int) -> np.ndarray:
    """The window `offset` frames later (positive) or earlier, the edge frame held where the recording
    runs out: a sign caught part-way in, the person still before or after it, as live windows see it."""
    return window[np.clip(np.arange(WINDOW) - offset, 0, WINDOW - 1)]


def drop_hand(window: np.ndarray, rng: np.random.Generator, most_frames: int = 8) -> np.ndarray:
    out = window.copy()
    start = rng.integers(0, WINDOW)
    length = rng.integers(1, most_frames + 1)
    columns = slice(FACE_END, LEFT_END) if rng.random() < 0.5 else slice(LEFT_END, VECTOR_SIZE)
    out[start:start + length, columns] = 0.0
    return out


class Augmenter:
    def __init__(self, options: AugmentOptions = AugmentOptions(), seed: int = 0):
        self.options = options
        self.rng = np.random.default_rng(seed)

    def one(self, window: np.ndarray) -> np.ndarray:
        o, rng = self.options, self.rng
        if rng.random() < o.mirror_p:
            window = mirror(window)
        window = transform(window, np.deg2rad(rng.uniform(-o.rotate_deg, o.rotate_deg)),
                           1.0 + rng.uniform(-o.scale, o.scale), rng.uniform(-o.shift, o.shift, size=2))
        window = change_speed(window, 1.0 + rng.uniform(-o.speed, o.speed))
        if rng.random() < o.repeat_frames_p:
            window = repeat_frames(window, rng)
        if rng.random() < o.drop_hand_p:
            window = drop_hand(window, rng)
        if o.time_shift and rng.random() < o.time_shift_p:
            window = shift_in_time(window, int(rng.integers(-o.time_shift, o.time_shift + 1)))
        return window.astype(np.float32, copy=False)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.stack([self.one(w) for w in batch])
