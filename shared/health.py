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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from shared.keys import Keys
from shared.messages import now_ms
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
def beating(client: redis.Redis, keys: Keys, service: str, worker: str, every_s: float = HEARTBEAT_TTL_S / 3) -> Iterator[None]:
    """Keep a worker's heartbeat fresh from a thread while a long job (a training run) holds its loop."""
    done = threading.Event()

    def run() -> None:
        while not done.wait(every_s):
            try:
                beat(client, keys, service, worker)
            except CONNECTION_ERRORS:
                pass  # Redis away: the key lapses and health says so, which is true

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
