"""Liveness in Redis: each running worker keeps `health:<service>:<worker>` fresh (a TTL key).

The key's value says where the worker runs (host, pid), so `signstream health --local SERVICE`
can answer a container's HEALTHCHECK ("is this container's worker alive?") without a port.
A worker that stops cleanly deletes its key and marks its last stats snapshot `stopped`, so a
clean stop is not reported as a failure.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from shared.errors import DecodeError
from shared.keys import Keys
from shared.messages import now_ms
from shared.records import CameraRecord, StatsSnapshot
from shared.redis_client import CONNECTION_ERRORS

log = logging.getLogger(__name__)

HEARTBEAT_TTL_S = 15


@dataclass(frozen=True)
class Beat:
    service: str
    worker: str
    ms: int
    host: str


def beat(client: redis.Redis, keys: Keys, service: str, worker: str, ttl_s: int = HEARTBEAT_TTL_S) -> None:
    value = json.dumps({"ms": now_ms(), "host": socket.gethostname(), "pid": os.getpid()})
    client.set(keys.health(service, worker), value, ex=ttl_s)


def clear(client: redis.Redis, keys: Keys, service: str, worker: str) -> None:
    client.delete(keys.health(service, worker))


@contextmanager
def beating(client: redis.Redis, keys: Keys, service: str, worker: str, every_s: float = HEARTBEAT_TTL_S / 3,
            ttl_s: int = HEARTBEAT_TTL_S, moving: Callable[[], bool] = lambda: True) -> Iterator[None]:
    """Keep a worker's heartbeat fresh from a thread while its work holds its loop (a training run; one
    slow entry on a busy machine), as long as `moving()` says the work is not wedged."""
    done = threading.Event()

    def run() -> None:
        while True:
            if moving():
                try:
                    beat(client, keys, service, worker, ttl_s)
                except (*CONNECTION_ERRORS, redis.ResponseError):
                    pass  # Redis away or refusing: the key lapses and health says so; the loop meets it too
            if done.wait(every_s):
                return

    thread = threading.Thread(target=run, name=f"heartbeat-{worker}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def read_beats(client: redis.Redis, keys: Keys) -> list[Beat]:
    """Every live heartbeat, sorted by service and worker."""
    names = sorted(client.scan_iter(match=keys.health("*", "*"), count=500))
    head = keys.health("", "")[:-1]  # "<namespace>health:"
    beats = []
    for name, raw in zip(names, client.mget(names) if names else []):
        if raw is None:
            continue  # expired between SCAN and MGET
        service, _, worker = name.decode(errors="replace")[len(head):].partition(":")
        try:
            info = json.loads(raw)
            ms, host = int(info["ms"]), str(info.get("host", ""))
        except (ValueError, TypeError, KeyError):
            ms, host = 0, ""  # written by another version: alive, but nothing more known
        beats.append(Beat(service, worker, ms, host))
    return beats


def _overloaded(client: redis.Redis, keys: Keys, now: int) -> set[str]:
    """Cameras a classifier worker said, in its last report, were overloaded."""
    out: set[str] = set()
    for raw in client.hvals(keys.stats("classifier")):
        try:
            snap = StatsSnapshot.decode(raw)
        except DecodeError:
            continue
        if not snap.stopped and now - snap.updated_ms < REPORT_FRESH_S * 1000 and snap.info.get("overloaded"):
            out.update(snap.info["overloaded"].split(","))
    return out


REPORT_FRESH_S = 60  # a worker's report older than this says nothing of now
SERVICES = ("keypoints", "classifier", "trainer")


def nothing_here(shown_url: str, namespace: str) -> str:
    """What `signstream stats` and `health` say of a Redis signstream never ran against."""
    where = f" in namespace {namespace!r}" if namespace else ""
    return (f"no signstream deployment at {shown_url}{where}: nothing has ever run against it. Start one with "
            "`signstream up --camera SOURCE` in this folder (then this command finds it), or set REDIS_URL to the "
            "Redis your deployment uses")


def ever_here(client: redis.Redis, keys: Keys) -> bool:
    """Whether signstream has run against this Redis (and namespace) at all."""
    return bool(client.exists(keys.cameras, *(keys.stats(s) for s in SERVICES))) or bool(read_beats(client, keys))
NEEDED = ("keypoints", "classifier")  # without one of each, running cameras are not served
# A worker silent for longer is history, not a failure: long enough to be seen on a dashboard; a
# service left with no worker at all stays DOWN by its own item for as long as cameras run.
FORGET_S = 300


@dataclass(frozen=True)
class HealthItem:
    """One camera or worker (or a missing service), as `signstream health` and the gateway show it."""

    kind: str  # camera, keypoints, classifier, trainer
    name: str  # camera id or worker id; "" for a service with no worker at all
    up: bool
    state: str  # what a person reads: "up", "ended (its source finished)", "DOWN: ..."
    detail: dict

    def line(self) -> str:
        head = f"{self.kind} {self.name}" if self.name else self.kind
        if self.kind == "camera":
            return (f"{head}: {self.state}, {self.detail.get('frames_sent', 0)} frames sent, "
                    f"source {self.detail.get('source', '?')}")
        return f"{head}: {self.state}"


def assess(client: redis.Redis, keys: Keys, stale_s: float) -> list[HealthItem]:
    """Every camera and worker known to this Redis, each up or down with the reason."""
    now = now_ms()
    items: list[HealthItem] = []
    beats: dict[tuple[str, str], Beat] = {(b.service, b.worker): b for b in read_beats(client, keys)}

    overloaded = _overloaded(client, keys, now)
    running_cameras = 0
    for camera, raw in sorted(client.hgetall(keys.cameras).items()):
        try:
            record = CameraRecord.decode(raw)
        except DecodeError:
            continue
        age_s = (now - record.last_seen_ms) / 1000
        status = record.status
        up = True
        if status == "ended":
            state = "ended (its source finished)"
        elif age_s > stale_s:
            state, up = f"DOWN: last heard {age_s:.0f} s ago ({status})", False
        elif status != "running":
            state, up = f"DOWN: {status}, its source fails", False
        elif camera.decode(errors="replace") in overloaded:
            state, up, running_cameras = ("DOWN: overloaded, too few of its frames reach the classifier to classify "
                                          "its windows: add keypoint workers or lower its --fps"), False, running_cameras + 1
        else:
            state, running_cameras = "up", running_cameras + 1
        items.append(HealthItem("camera", camera.decode(errors="replace"), up, state, record.as_dict()))

    for service in SERVICES:
        reported = {w.decode(errors="replace"): raw for w, raw in client.hgetall(keys.stats(service)).items()}
        alive = sorted(w for (s, w) in beats if s == service)
        for worker in sorted(set(alive) | set(reported)):
            if worker in alive:
                beat_ = beats[service, worker]
                age_s = (now - beat_.ms) / 1000
                items.append(HealthItem(service, worker, True, f"up, heartbeat {age_s:.0f} s ago",
                                        {"host": beat_.host, "heartbeat_age_s": round(age_s, 1)}))
                continue
            try:
                snap = StatsSnapshot.decode(reported[worker])
            except DecodeError:
                continue
            silent_s = (now - snap.updated_ms) / 1000
            if snap.stopped or silent_s > FORGET_S:
                continue
            items.append(HealthItem(service, worker, False, f"DOWN: no heartbeat, last report {silent_s:.0f} s ago",
                                    {"last_report_s": round(silent_s, 1)}))
        if service in NEEDED and running_cameras and not alive:
            items.append(HealthItem(service, "", False, f"DOWN: {running_cameras} cameras run and no {service} "
                                                        f"worker serves them: start one", {}))
    return items
