"""What the API shows, read from Redis: cameras, their latest frame and keypoints, models,
recent detections, training results. Plain functions of a client, so each is one Redis call or two."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import redis

from services.gateway.live import id_key
from shared.codec import FACE, HAND_POINTS, POSE_END, POSE_POINTS
from shared.errors import DecodeError
from shared.health import assess
from shared.keys import Keys
from shared.messages import FrameMessage, KeypointsMessage, ModelAnnouncement, TrainProgress, TrainResult, decode_keypoints_entry
from shared.model_store import is_version_name
from shared.records import StatsSnapshot
from shared.text import text


def check_access(client: redis.Redis, keys: Keys) -> None:
    """One command of each kind the gateway serves with, so a Redis user without the rights is told at
    start (NoPermissionError) instead of every request failing later."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.cameras)
    pipe.xrevrange(keys.detections, count=1)
    pipe.xrange(keys.predictions, count=1)
    pipe.xread({keys.predictions: "$"}, count=1)
    pipe.scan(0, match=keys.health("*", "*"), count=1)
    pipe.mget([keys.health("gateway", "-")])
    for reply in pipe.execute(raise_on_error=False):
        if isinstance(reply, Exception):
            raise reply


def cameras(client: redis.Redis, keys: Keys, stale_s: float) -> list[dict]:
    """Every camera capture has registered, with its state as `signstream health` judges it."""
    states = {item.name: item for item in assess(client, keys, stale_s) if item.kind == "camera"}
    out = []
    for name, item in sorted(states.items()):
        info = {k: v for k, v in item.detail.items() if isinstance(v, (str, int, float, bool, list)) or v is None}
        out.append({**info, "id": name, "up": item.up, "state": item.state})
    return out


def camera(client: redis.Redis, keys: Keys, camera_id: str, stale_s: float) -> dict | None:
    return next((c for c in cameras(client, keys, stale_s) if c["id"] == camera_id), None)


def latest_frame(client: redis.Redis, keys: Keys, camera_id: str) -> FrameMessage | None:
    """The newest frame of the camera that decodes (a bad one is skipped: the one before will do)."""
    for count in (1, 5):  # frames are tens of KB: read one, and more only when the newest is bad
        for _, fields in client.xrevrange(keys.frames(camera_id), count=count):
            try:
                return FrameMessage.decode(fields)
            except DecodeError:
                continue
    return None


def latest_keypoints(client: redis.Redis, keys: Keys, camera_id: str) -> dict | None:
    """The newest keypoints of the camera: pose and hands in image coordinates (0..1), for drawing."""
    for _, fields in client.xrevrange(keys.keypoints(camera_id), count=10):
        try:
            message = decode_keypoints_entry(fields)
        except DecodeError:
            continue
        if isinstance(message, KeypointsMessage):
            return keypoints_view(message)
    return None


def keypoints_view(message: KeypointsMessage) -> dict:
    vector = message.vector  # 1662 floats: the message checked its length
    pose = vector[:POSE_END].reshape(POSE_POINTS, 4)
    hands = vector[FACE.stop:].reshape(2, HAND_POINTS, 3)

    def points(array: np.ndarray, found: bool) -> list[list[float]]:
        return np.round(array, 4).tolist() if found else []

    return {"camera": message.camera, "seq": message.seq, "capture_ts_ms": message.capture_ts_ms,
            "parts": list(message.parts), "worker": message.worker, "processing_ms": message.processing_ms,
            "pose": points(pose, "pose" in message.parts),
            "left_hand": points(hands[0], "left_hand" in message.parts),
            "right_hand": points(hands[1], "right_hand" in message.parts)}


def models(client: redis.Redis, keys: Keys, count: int = 50) -> list[dict]:
    """Promoted versions, newest first, each with its metrics (accuracy, confusion matrix)."""
    out, seen = [], set()
    for entry_id, fields in client.xrevrange(keys.models, count=count):
        try:
            announcement = ModelAnnouncement.decode(fields)
        except DecodeError:
            continue
        if not is_version_name(announcement.version):
            continue  # refused by every classifier: not a version anyone serves
        if announcement.version in seen:
            continue
        seen.add(announcement.version)
        out.append({"id": text(entry_id), **asdict(announcement)})
    return out


def serving(client: redis.Redis, keys: Keys) -> dict[str, dict]:
    """What each classifier worker serves now (its last stats report)."""
    out = {}
    for worker, raw in client.hgetall(keys.stats("classifier")).items():
        try:
            snap = StatsSnapshot.decode(raw)
        except DecodeError:
            continue
        if snap.stopped:
            continue
        out[text(worker)] = {"model": snap.info.get("model"), "updated_ms": snap.updated_ms}
    return out


def recent(client: redis.Redis, key: str, message_class, count: int, camera: str | None, before: str | None) -> list[dict]:
    """The newest entries of a flat stream (optionally one camera's, optionally before an id), newest first."""
    out: list[dict] = []
    if before is not None and id_key(before) == (0, 0):
        return out  # nothing comes before the first possible id
    top = f"({before}" if before else "+"
    while len(out) < count:
        page = client.xrevrange(key, max=top, min="-", count=max(count, 100))
        if not page:
            break
        for entry_id, fields in page:
            try:
                message = message_class.decode(fields)
            except DecodeError:
                continue
            if camera is None or getattr(message, "camera", None) == camera:
                out.append({"id": text(entry_id), **asdict(message)})
                if len(out) == count:
                    break
        top = f"({text(page[-1][0])}"
    return out


def train_result(client: redis.Redis, keys: Keys, request_id: str, scan: int = 1000) -> dict | None:
    """The request's result, or while it trains, a `training` answer; both with its progress, if any."""
    progress = train_progress(client, keys, request_id)
    for entry_id, fields in client.xrevrange(keys.train_results, count=scan):
        try:
            result = TrainResult.decode(fields)
        except DecodeError:
            continue
        if result.request_id == request_id:
            return {"id": text(entry_id), **asdict(result), "progress": progress}
    if progress is None:
        return None
    return {"id": "", **asdict(TrainResult(request_id=request_id, status="training")), "progress": progress}


def train_progress(client: redis.Redis, keys: Keys, request_id: str) -> dict | None:
    fields = client.hgetall(keys.train_progress(request_id))
    if not fields:
        return None
    try:
        return asdict(TrainProgress.decode(fields))
    except DecodeError:
        return None


def stats(client: redis.Redis, keys: Keys, services: tuple[str, ...]) -> dict[str, dict[str, dict]]:
    """service -> worker -> its last stats snapshot."""
    out: dict[str, dict[str, dict]] = {}
    for service in services:
        for worker, raw in client.hgetall(keys.stats(service)).items():
            try:
                out.setdefault(service, {})[text(worker)] = StatsSnapshot.decode(raw).as_dict()
            except DecodeError:
                continue
    return out
