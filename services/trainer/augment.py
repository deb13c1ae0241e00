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
from shared.keypoint_mirror import X_COLUMNS
from shared.keypoint_mirror import mirror as mirror  # re-exported: the augmentation's mirror

LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12


@dataclass(frozen=True)
class AugmentOptions:
    mirror_p: float = 0.5
    rotate_deg: float = 10.0
    scale: float = 0.1
    stretch_y: float = 0.0  # y scaled by up to e**±this about the shoulders: another frame aspect (see below)
    shift: float = 0.05
    speed: float = 0.2  # signing up to (1 + this) times faster or slower
    repeat_frames_p: float = 0.3
    drop_hand_p: float = 0.2
    time_shift: int = 0  # most frames a window is moved in time (0: never)
    time_shift_p: float = 0.5
    slow_camera_p: float = 0.0  # share of windows seen as a camera short of frames gives them (hold_frames)
    slow_camera_keep: tuple[float, float] = (0.2, 0.8)  # the range of the share of frames such a camera keeps
    face: bool = True  # False: leave the face points as they are (a model that drops the face never reads them)


def split(window: np.ndarray):
    """Views of one (30, 1662) window as points: pose (30, 33, 4), others (30, n, 3)."""
    pose = window[:, :POSE_END].reshape(WINDOW, POSE_POINTS, 4)
    face = window[:, POSE_END:FACE_END].reshape(WINDOW, FACE_POINTS, 3)
    left = window[:, FACE_END:LEFT_END].reshape(WINDOW, HAND_POINTS, 3)
    right = window[:, LEFT_END:].reshape(WINDOW, HAND_POINTS, 3)
    return pose, face, left, right


def found(points: np.ndarray) -> np.ndarray:
    """(…, n, 1) mask: 1 where MediaPipe found the point (any of x, y, z non-zero)."""
    return np.any(points[..., :3] != 0, axis=-1, keepdims=True)


def transform(window: np.ndarray, angle_rad: float, scale: float, shift: np.ndarray) -> np.ndarray:
    """Rotate and scale x, y of one window about the shoulder centre, then shift; missing points stay zero."""
    return affine(window[None], np.array([angle_rad]), np.array([scale]), np.ones(1), np.asarray(shift)[None])[0]


def change_speed(window: np.ndarray, factor: float) -> np.ndarray:
    """Resample in time: factor > 1 is faster signing (the window covers more of the sign)."""
    return window[speed_positions(np.array([factor]))[0]]


def repeat_frames(window: np.ndarray, rng: np.random.Generator, most: int = 3) -> np.ndarray:
    out = window.copy()
    for i in rng.choice(np.arange(1, WINDOW), size=rng.integers(1, most + 1), replace=False):
        out[i] = out[i - 1]
    return out


def shift_in_time(window: np.ndarray, offset: int) -> np.ndarray:
    """The window `offset` frames later (positive) or earlier, the edge frame held where the recording
    runs out: a sign caught part-way in, the person still before or after it, as live windows see it."""
    return window[np.clip(np.arange(WINDOW) - offset, 0, WINDOW - 1)]


def hold_frames(batch: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Windows of (n, 30, ...) as a camera keeping each frame with probability `keep` (per window)
    gives them to the classifier: a missing slot repeats the frame before it (shared.windows), and a
    window starts and ends on a real frame."""
    kept = rng.random(batch.shape[:2]) < keep[:, None]
    kept[:, 0] = kept[:, -1] = True
    source = np.maximum.accumulate(np.where(kept, np.arange(WINDOW), 0), axis=1)
    return np.take_along_axis(batch, source.reshape(*source.shape, *([1] * (batch.ndim - 2))), axis=1)


def drop_hand(window: np.ndarray, rng: np.random.Generator, most_frames: int = 8) -> np.ndarray:
    out = window.copy()
    start = rng.integers(0, WINDOW)
    length = rng.integers(1, most_frames + 1)
    columns = slice(FACE_END, LEFT_END) if rng.random() < 0.5 else slice(LEFT_END, VECTOR_SIZE)
    out[start:start + length, columns] = 0.0
    return out


def affine(batch: np.ndarray, angle_rad: np.ndarray, scale: np.ndarray, stretch_y: np.ndarray,
           shift: np.ndarray, columns: np.ndarray = X_COLUMNS) -> np.ndarray:
    """Per window of (n, 30, 1662): rotate, scale, stretch y and shift x, y about the shoulder centre.

    MediaPipe's x is a share of the image's width and y of its height, so the same person looks
    taller in a 16:9 frame than in a 4:3 one, and shorter in a square one: a y stretch is another
    camera's frame aspect. z follows the scale; points not found stay zero. `columns`: the x
    columns of the points to move (their y and z follow them).
    """
    out = batch.copy()
    x, y, z = out[..., columns], out[..., columns + 1], out[..., columns + 2]  # (n, 30, points)
    found_ = (x != 0) | (y != 0) | (z != 0)
    shoulders = batch[..., [LEFT_SHOULDER * 4, LEFT_SHOULDER * 4 + 1, RIGHT_SHOULDER * 4, RIGHT_SHOULDER * 4 + 1]]
    has = np.all(shoulders != 0, axis=-1)  # (n, 30)
    centre = np.stack([(shoulders[..., 0] + shoulders[..., 2]) / 2, (shoulders[..., 1] + shoulders[..., 3]) / 2], -1)
    seen = has.sum(axis=1, keepdims=True)
    mean = np.where(seen > 0, (centre * has[..., None]).sum(axis=1) / np.maximum(seen, 1), 0.5)  # (n, 2)
    centre = np.where(has[..., None], centre, mean[:, None, :])
    c, s = (np.cos(angle_rad) * scale)[:, None, None], (np.sin(angle_rad) * scale)[:, None, None]
    dx, dy = x - centre[..., :1], y - centre[..., 1:]
    new_x = c * dx - s * dy + centre[..., :1] + shift[:, 0, None, None]
    new_y = (s * dx + c * dy) * stretch_y[:, None, None] + centre[..., 1:] + shift[:, 1, None, None]
    out[..., columns] = np.where(found_, new_x, 0.0)
    out[..., columns + 1] = np.where(found_, new_y, 0.0)
    out[..., columns + 2] = np.where(found_, z * scale[:, None, None], 0.0)
    return out


def speed_positions(factor: np.ndarray) -> np.ndarray:
    """(n, 30) frame indices of `change_speed` for each window's factor."""
    centre = (WINDOW - 1) / 2
    positions = centre + (np.arange(WINDOW)[None, :] - centre) * factor[:, None]
    return np.round(np.clip(positions, 0, WINDOW - 1)).astype(int)


def blended(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Windows between `a` and `b` (n, 30, 1662): weight * a + (1 - weight) * b where both found a point,
    `a` where only it did: movements and hand shapes between two signs, which is neither of them."""
    both = (a != 0) & (b != 0)
    w = weight[:, None, None]
    return np.where(both, w * a + (1 - w) * b, a).astype(a.dtype)


def blends_as_unknown(windows: np.ndarray, labels: np.ndarray, share: float, unknown: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch (windows, one-hot labels) with about `share` of its sign windows blended with a window of
    another sign (`blended`, weights 0.35-0.65) and labelled `unknown` (its index in the labels)."""
    sign = labels.argmax(axis=1)
    partner = rng.permutation(len(windows))
    chosen = np.flatnonzero((rng.random(len(windows)) < share) & (sign != unknown) & (sign[partner] != unknown)
                            & (sign != sign[partner]))
    if not len(chosen):
        return windows, labels
    windows, labels = windows.copy(), labels.copy()
    windows[chosen] = blended(windows[chosen], windows[partner[chosen]], rng.uniform(0.35, 0.65, len(chosen)))
    labels[chosen] = 0.0
    labels[chosen, unknown] = 1.0
    return windows, labels


NOT_FACE_X = X_COLUMNS[(X_COLUMNS < POSE_END) | (X_COLUMNS >= FACE_END)]


class Augmenter:
    """Augments a batch at once: the per-window changes above, drawn per window, in numpy over the batch."""

    def __init__(self, options: AugmentOptions = AugmentOptions(), seed: int = 0):
        self.options = options
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        o, rng = self.options, self.rng
        out = np.array(batch, dtype=np.float32, copy=True)
        n = len(out)
        flip = rng.random(n) < o.mirror_p
        if flip.any():
            out[flip] = mirror(out[flip])
        out = affine(out, np.deg2rad(rng.uniform(-o.rotate_deg, o.rotate_deg, n)), 1.0 + rng.uniform(-o.scale, o.scale, n),
                     np.exp(rng.uniform(-o.stretch_y, o.stretch_y, n)), rng.uniform(-o.shift, o.shift, (n, 2)),
                     X_COLUMNS if o.face else NOT_FACE_X)
        most = np.log1p(o.speed)
        out = np.take_along_axis(out, speed_positions(np.exp(rng.uniform(-most, most, n)))[..., None], axis=1)
        slow = np.flatnonzero(rng.random(n) < o.slow_camera_p) if o.slow_camera_p else []
        if len(slow):
            out[slow] = hold_frames(out[slow], rng.uniform(*o.slow_camera_keep, len(slow)), rng)
        for i in np.flatnonzero(rng.random(n) < o.repeat_frames_p):
            out[i] = repeat_frames(out[i], rng)
        for i in np.flatnonzero(rng.random(n) < o.drop_hand_p):
            out[i] = drop_hand(out[i], rng)
        if o.time_shift:
            for i in np.flatnonzero(rng.random(n) < o.time_shift_p):
                out[i] = shift_in_time(out[i], int(rng.integers(-o.time_shift, o.time_shift + 1)))
        return out
