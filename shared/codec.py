"""Byte-level encodings: msgpack envelopes, JPEG images and float32 keypoint vectors."""

from __future__ import annotations

import io
import warnings
from typing import Any

import msgpack
import numpy as np

from shared.errors import DecodeError, MalformedMessage

# A keypoint vector: pose 33 x (x, y, z, visibility), face 468, left hand 21, right hand 21 x (x, y, z).
POSE_POINTS, FACE_POINTS, HAND_POINTS = 33, 468, 21
POSE_END = POSE_POINTS * 4
FACE_END = POSE_END + FACE_POINTS * 3
LEFT_END = FACE_END + HAND_POINTS * 3
VECTOR_SIZE = LEFT_END + HAND_POINTS * 3  # 1662
FACE = slice(POSE_END, FACE_END)  # where the 468 face points sit in a vector
POSE_HANDS_SIZE = VECTOR_SIZE - (FACE.stop - FACE.start)  # 258: a vector recorded without its face
POSE_HANDS_PARTS = "pose,left_hand,right_hand"  # what such recordings say they hold
WINDOW = 30


def pack(obj: dict[str, Any]) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes) -> dict[str, Any]:
    try:
        obj = msgpack.unpackb(data, raw=False)
    except Exception as e:  # msgpack raises several unrelated types
        raise DecodeError(f"not msgpack: {e}") from e
    if not isinstance(obj, dict):
        raise DecodeError(f"msgpack envelope is a {type(obj).__name__}, expected a map")
    return obj


def vector_to_bytes(vector: np.ndarray) -> bytes:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.size != VECTOR_SIZE:
        raise MalformedMessage(f"keypoint vector has {v.size} floats, expected {VECTOR_SIZE}")
    return v.astype("<f4").tobytes()


def vector_from_bytes(data: bytes) -> np.ndarray:
    if len(data) != VECTOR_SIZE * 4:
        raise DecodeError(f"keypoint vector is {len(data)} bytes, expected {VECTOR_SIZE * 4}")
    return np.frombuffer(data, dtype="<f4")


def encode_jpeg(image_bgr: np.ndarray, quality: int) -> bytes:
    import cv2  # only services that touch images need OpenCV

    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise MalformedMessage("OpenCV could not JPEG-encode the frame")
    return buf.tobytes()


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the JPEG header, without decoding: what decoding would cost is known first."""
    from PIL import Image  # reads only the header until asked for pixels

    if not data:
        raise MalformedMessage("frame data is empty: not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the caller sets the limit
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
                return image.size
    except Image.DecompressionBombError:
        raise MalformedMessage(f"frame of {len(data)} bytes claims over {Image.MAX_IMAGE_PIXELS * 2} pixels in its "
                               f"JPEG header") from None
    except Exception:  # Pillow raises several unrelated types on a bad header
        raise MalformedMessage(f"frame of {len(data)} bytes is not a decodable image (no JPEG header)") from None


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> BGR image; MalformedMessage when the bytes are not an image."""
    import cv2

    if not data:
        raise MalformedMessage("frame data is empty: not an image")
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as e:  # OpenCV raises on some corrupt headers instead of returning None
        raise MalformedMessage(f"frame of {len(data)} bytes is not a decodable image ({e.msg.strip()[:80]})") from None
    if image is None:
        raise MalformedMessage(f"frame of {len(data)} bytes is not a decodable image")
    return image
