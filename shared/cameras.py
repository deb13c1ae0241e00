"""The cameras a deployment has, as capture registers them in the `cameras` hash."""

from __future__ import annotations

import time

import redis

from shared.keys import Keys


class CameraDirectory:
    """Camera ids from the `cameras` hash, re-read at most every `refresh_s` so new cameras appear."""

    def __init__(self, client: redis.Redis, keys: Keys, refresh_s: float = 2.0):
        self.redis = client
        self.keys = keys
        self.refresh_s = refresh_s
        self._names: list[str] = []
        self._read_at = float("-inf")

    def names(self) -> list[str]:
        if time.monotonic() - self._read_at >= self.refresh_s:
            self._names = sorted(k.decode() for k in self.redis.hkeys(self.keys.cameras))
            self._read_at = time.monotonic()
        return self._names
