"""Every Redis key and consumer-group name signstream uses: the whole wire contract in one place.

An optional namespace (env SIGNSTREAM_NAMESPACE) goes in front of every key so that two
deployments can share one Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

# Camera ids become parts of stream keys and of every message: short, and safe in a shell,
# a URL and a file name.
CAMERA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

GROUP_KEYPOINTS = "keypoints"
GROUP_CLASSIFIER = "classifier"
GROUP_TRAINER = "trainer"

FRAMES_PREFIX = "frames:"
KEYPOINTS_PREFIX = "keypoints:"


def check_camera_id(camera: str) -> str:
    """The camera id if it is 1-64 characters of letters, digits, '_', '.' and '-'; else ValueError."""
    if not isinstance(camera, str) or not CAMERA_ID.match(camera):
        shown = repr(camera[:40]) + ("..." if len(camera) > 40 else "") if isinstance(camera, str) else repr(camera)
        raise ValueError(f"camera id {shown} is not 1-64 letters, digits, '_', '.' or '-'")
    return camera


def camera_id_for(source: str) -> str:
    """The id of a camera given only its source: `cam0` for device 0, `host-port` of a URL (never
    its credentials or path), else the file's or folder's name without its suffix (`clip.v2.mp4` is
    `clip.v2`, `/dev/video0` is `video0`); any other character becomes '-', cut to 64."""
    if source.isdigit():
        return f"cam{source}"
    if "://" in source:
        base = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://([^@/]*@)?", "", source).split("/")[0].replace(":", "-")
    else:
        base = PurePath(source.rstrip("/")).stem
    return re.sub(r"[^A-Za-z0-9_.-]", "-", base)[:64] or "cam"


def unique_camera_id(source: str, taken: set[str]) -> str:
    """`camera_id_for(source)`, with -2, -3, ... where that id is taken; the id is added to `taken`."""
    base = camera_id_for(source)[:56]  # room for the suffix within 64
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


@dataclass(frozen=True)
class Keys:
    namespace: str = ""

    def _key(self, name: str) -> str:
        return f"{self.namespace}{name}"

    def frames(self, camera: str) -> str:
        return self._key(FRAMES_PREFIX + camera)

    def keypoints(self, camera: str) -> str:
        return self._key(KEYPOINTS_PREFIX + camera)

    @property
    def predictions(self) -> str:
        return self._key("predictions")

    @property
    def detections(self) -> str:
        return self._key("detections")

    @property
    def models(self) -> str:
        return self._key("models")

    @property
    def train_requests(self) -> str:
        return self._key("train:requests")

    @property
    def train_results(self) -> str:
        return self._key("train:results")

    def train_progress(self, request_id: str) -> str:
        """Hash with a TTL: how far the trainer is with one request (TrainProgress), while and after it trains."""
        return self._key(f"train:progress:{request_id}")

    @property
    def dead(self) -> str:
        return self._key("dead")

    @property
    def cameras(self) -> str:
        """Hash: camera id -> JSON description (source, fps, size, last seen)."""
        return self._key("cameras")

    def stats(self, service: str) -> str:
        """Hash: worker id -> JSON counters, refreshed by each running worker."""
        return self._key(f"stats:{service}")

    def health(self, service: str, worker: str) -> str:
        """String with a TTL: present while the worker's loop is alive."""
        return self._key(f"health:{service}:{worker}")

    def camera_of(self, stream_key: str, prefix: str) -> str:
        """The camera id inside a `frames:<camera>` or `keypoints:<camera>` key."""
        head = self._key(prefix)
        if not stream_key.startswith(head):
            raise ValueError(f"{stream_key[:80]!r} is not a {head}<camera> key")
        return check_camera_id(stream_key[len(head):])
