"""MediaPipe Holistic -> the 1662-float keypoint vector, in the recipe's `extract_keypoints` order.

pose 33 x (x, y, z, visibility), face 468 x (x, y, z), left hand 21 x (x, y, z), right hand
21 x (x, y, z); a part MediaPipe did not find is zeros. One tracker per camera, in video mode,
because tracking uses the previous frame of the same camera.
"""

from __future__ import annotations

import numpy as np

from shared.codec import FACE_POINTS, HAND_POINTS, POSE_POINTS, VECTOR_SIZE


def _points(landmarks, count: int, with_visibility: bool) -> np.ndarray | None:
    if landmarks is None:
        return None
    if with_visibility:
        arr = np.array([[p.x, p.y, p.z, p.visibility] for p in landmarks.landmark], dtype=np.float32)
    else:
        arr = np.array([[p.x, p.y, p.z] for p in landmarks.landmark], dtype=np.float32)
    if arr.shape[0] != count:
        raise ValueError(f"MediaPipe returned {arr.shape[0]} landmarks, expected {count}")
    return arr.reshape(-1)


def keypoint_vector(results) -> tuple[np.ndarray, tuple[str, ...]]:
    """The vector and the names of the parts found, from a Holistic result."""
    parts = (
        ("pose", _points(results.pose_landmarks, POSE_POINTS, True), POSE_POINTS * 4),
        ("face", _points(results.face_landmarks, FACE_POINTS, False), FACE_POINTS * 3),
        ("left_hand", _points(results.left_hand_landmarks, HAND_POINTS, False), HAND_POINTS * 3),
        ("right_hand", _points(results.right_hand_landmarks, HAND_POINTS, False), HAND_POINTS * 3),
    )
    vector = np.concatenate([arr if arr is not None else np.zeros(size, np.float32) for _, arr, size in parts])
    assert vector.size == VECTOR_SIZE
    return vector, tuple(name for name, arr, _ in parts if arr is not None)


def new_tracker(min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
    import mediapipe as mp

    # model_complexity=1 is the only model the wheel carries; refine_face_landmarks would make
    # the face 478 points and break the 1662-float contract.
    return mp.solutions.holistic.Holistic(
        static_image_mode=False,
        model_complexity=1,
        refine_face_landmarks=False,
        min_detection_confidence=min_detection_confidence,
        min_tracking_confidence=min_tracking_confidence,
    )


class Trackers:
    """One Holistic tracker per camera, created on the camera's first frame."""

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        self.options = (min_detection_confidence, min_tracking_confidence)
        self._trackers: dict[str, object] = {}

    def extract(self, camera: str, image_bgr: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        import cv2

        tracker = self._trackers.get(camera)
        if tracker is None:
            tracker = self._trackers[camera] = new_tracker(*self.options)
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False
        return keypoint_vector(tracker.process(rgb))

    def keep_only(self, cameras: set[str]) -> None:
        """Release the trackers of cameras not in `cameras` (each holds tens of megabytes)."""
        for camera in [c for c in self._trackers if c not in cameras]:
            self._trackers.pop(camera).close()

    def __len__(self) -> int:
        return len(self._trackers)

    def close(self) -> None:
        for tracker in self._trackers.values():
            tracker.close()
        self._trackers.clear()
