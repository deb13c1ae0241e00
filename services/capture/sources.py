"""Frame sources: cameras, video files, network streams and image folders, behind one interface.

A source yields (frame, media_time_s). Files carry their own clock (the frame's timestamp in
the video), so a 30 fps file captured at 15 fps yields every second frame whatever the speed
of reading; live sources are sampled by wall clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from shared.errors import ConfigError, SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def natural_key(path: Path) -> list:
    """'2.png' before '10.png'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


@dataclass(frozen=True)
class SourceKind:
    name: str  # camera, file, url, folder
    live: bool  # a live source is sampled by wall clock and reopened when it fails


def classify_source(source: str) -> SourceKind:
    if source.isdigit() or source.startswith("/dev/"):
        return SourceKind("camera", live=True)
    if re.match(r"^(rtsp|rtsps|http|https|rtmp|udp|tcp)://", source):
        return SourceKind("url", live=True)
    path = Path(source)
    if path.is_dir():
        return SourceKind("folder", live=False)
    if path.is_file():
        return SourceKind("file", live=False)
    raise ConfigError(f"source {source!r} is not a camera index, device, URL, video file or image folder "
                      f"(no such file or folder); check the path")


class VideoSource:
    """A camera, URL or video file through OpenCV."""

    def __init__(self, source: str, kind: SourceKind):
        self.source = source
        self.kind = kind
        target = int(source) if source.isdigit() else source
        self.capture = cv2.VideoCapture(target)
        if not self.capture.isOpened():
            self.capture.release()
            if not kind.live:  # a file will not get better by waiting
                raise ConfigError(f"cannot read video file {source!r}: OpenCV does not know its format; convert it to mp4")
            raise SourceError(f"cannot open {kind.name} {source!r}")
        self.native_fps = self.capture.get(cv2.CAP_PROP_FPS) or 0.0

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        started = time.monotonic()
        index = 0
        while True:
            ok, frame = self.capture.read()
            if not ok or frame is None:
                return
            if self.kind.live:
                yield frame, time.monotonic() - started
            else:
                msec = self.capture.get(cv2.CAP_PROP_POS_MSEC)
                # Some containers report no timestamps; then the frame index and rate tell the time.
                yield frame, (msec / 1000.0 if msec > 0 or index == 0 else index / (self.native_fps or 30.0))
            index += 1

    def close(self) -> None:
        self.capture.release()


class FolderSource:
    """Images of a folder in natural order, one per frame at the capture rate."""

    def __init__(self, source: str, fps: float):
        self.source = source
        self.kind = SourceKind("folder", live=False)
        self.fps = fps
        self.paths = sorted((p for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
        if not self.paths:
            raise ConfigError(f"image folder {source!r} has no .jpg/.png/.bmp/.webp images; add some or pick another source")

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        for i, path in enumerate(self.paths):
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                raise SourceError(f"cannot read image {path}")
            yield frame, i / self.fps

    def close(self) -> None:
        pass


def at_rate(frames: Iterable[tuple[np.ndarray, float]], fps: float,
            skipped: Callable[[], None] = lambda: None) -> Iterator[tuple[np.ndarray, float]]:
    """The frames to publish at `fps`, chosen by media time: a 30 fps file at 15 fps gives every
    other frame, a 25 fps one mostly every other, so a second of video is always `fps` frames."""
    interval = 1.0 / fps
    next_media_t = 0.0
    for frame, media_t in frames:
        if media_t + 1e-6 < next_media_t:
            skipped()
            continue
        # A jump (dropped frames, a slow camera) restarts the schedule instead of bursting.
        next_media_t = next_media_t + interval if media_t - next_media_t < interval else media_t + interval
        yield frame, media_t


def open_source(source: str, fps: float) -> VideoSource | FolderSource:
    kind = classify_source(source)
    if kind.name == "folder":
        return FolderSource(source, fps)
    return VideoSource(source, kind)
