"""The cameras a deployment has, as capture registers them in the `cameras` hash."""

from __future__ import annotations

import json
import logging
import time

import redis

from shared.keys import CAMERA_ID, Keys

log = logging.getLogger(__name__)

MAX_CAMERAS = 256  # one reader serving more is a misconfiguration or a flood, not a deployment


class CameraDirectory:
    """Camera ids from the `cameras` hash, re-read at most every `refresh_s` so new cameras appear."""

    def __init__(self, client: redis.Redis, keys: Keys, refresh_s: float = 2.0):
        self.redis = client
        self.keys = keys
        self.refresh_s = refresh_s
        self._names: list[str] = []
        self._read_at = float("-inf")
        self._refused: set[str] = set()
        self.started_ms: dict[str, int] = {}  # when each camera's capture (re)started, as it announces

    def names(self) -> list[str]:
        if time.monotonic() - self._read_at >= self.refresh_s:
            entries = self.redis.hgetall(self.keys.cameras)
            self._names = self._valid(list(entries))
            self.started_ms = {name: started for name in self._names
                               if (started := _started_ms(entries.get(name.encode()))) is not None}
            self._read_at = time.monotonic()
        return self._names

    def _valid(self, raw: list[bytes]) -> list[str]:
        names, refused = [], []
        for key in raw:
            name = key.decode(errors="replace")
            (names if CAMERA_ID.match(name) else refused).append(name)
        new = [n for n in refused if n not in self._refused]
        if new:
            log.warning("ignoring %d entries of %s that are not camera ids (1-64 letters, digits, '_', '.', '-'), "
                        "e.g. %r: remove them with HDEL", len(refused), self.keys.cameras, new[0][:40])
            self._refused = set(refused[:1000])
        names.sort()
        if len(names) > MAX_CAMERAS:
            log.warning("%s lists %d cameras; serving the first %d: remove stale ones with HDEL",
                        self.keys.cameras, len(names), MAX_CAMERAS)
            names = names[:MAX_CAMERAS]
        return names


def _started_ms(raw: bytes | None) -> int | None:
    try:
        started = json.loads(raw)["started_ms"]
    except (TypeError, ValueError, KeyError):
        return None
    return started if isinstance(started, int) and not isinstance(started, bool) else None
