"""A keypoint vector as a mirror would show it: the same signing by the other hand.

x becomes 1 - x for every point MediaPipe found (a missing point stays 0), and the body's
left and right swap: the two hands and the paired pose landmarks trade places. The face mesh
keeps its indices (its points are flipped in place). Expressed as a column permutation and, per
x column, where its point's y and z are (a point is found if any of x, y, z is not 0: x can be
exactly 1.0 and mirror to 0). Training augmentation mirrors with it; the classifier's runner and
the benches use its column maps.
"""

from __future__ import annotations

import numpy as np

from shared.codec import FACE_END, LEFT_END, POSE_END, POSE_POINTS, VECTOR_SIZE

# MediaPipe pose landmarks that swap when the body is mirrored (the nose, 0, stays).
POSE_PAIRS = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 18), (19, 20),
              (21, 22), (23, 24), (25, 26), (27, 28), (29, 30), (31, 32)]


def _columns() -> tuple[np.ndarray, np.ndarray]:
    pose = list(range(POSE_POINTS))
    for a, b in POSE_PAIRS:
        pose[a], pose[b] = b, a
    source = [p * 4 + c for p in pose for c in range(4)]
    source += list(range(POSE_END, FACE_END))
    source += list(range(LEFT_END, VECTOR_SIZE)) + list(range(FACE_END, LEFT_END))  # the hands swap
    x = [p * 4 for p in range(POSE_POINTS)] + list(range(POSE_END, VECTOR_SIZE, 3))
    assert len(source) == VECTOR_SIZE
    return np.array(source, dtype=np.int32), np.array(x, dtype=np.int32)


# out[..., i] = window[..., SOURCE_COLUMNS[i]], then x columns of found points flipped
SOURCE_COLUMNS, X_COLUMNS = _columns()
IS_X = np.zeros(VECTOR_SIZE, dtype=bool)
IS_X[X_COLUMNS] = True
Y_OF = np.arange(VECTOR_SIZE, dtype=np.int32)
Y_OF[X_COLUMNS] += 1
Z_OF = np.arange(VECTOR_SIZE, dtype=np.int32)
Z_OF[X_COLUMNS] += 2


def mirror(window: np.ndarray) -> np.ndarray:
    """(..., 1662) keypoints mirrored."""
    out = window[..., SOURCE_COLUMNS]
    found = (out != 0) | (out[..., Y_OF] != 0) | (out[..., Z_OF] != 0)
    return np.where(IS_X & found, 1.0 - out, out).astype(window.dtype)
