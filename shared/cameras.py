"""The cameras a deployment has, as capture registers them in the `cameras` hash, and which of them are live."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from shared.errors import DecodeError
from shared.keys import CAMERA_ID, Keys
from shared.messages import now_ms
from shared.records import CameraRecord

log = logging.getLogger(__name__)

MAX_CAMERAS = 256  # one reader serving more is a misconfiguration or a flood, not a deployment
ACTIVE_S = 60.0  # a camera whose stream has had nothing newer is not read until it has

# The time of each stream's newest entry (its id's milliseconds), or false for an empty or missing
# stream, without sending the entries (frames are tens of kilobytes) over the wire.
_NEWEST_MS = """
local out = {}
for i, key in ipairs(KEYS) do
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
  out[i] = last and tonumber(string.match(last[1], '^(%d+)')) or false
end
return out
"""


class CameraDirectory:
    """The cameras to read now: registered in the `cameras` hash, with entries on their stream in the
    last `active_s`, the most recent first, at most MAX_CAMERAS. Re-read every `refresh_s`.

    Names alone cost nothing: a flood of names without frames (or a camera gone for good) is
    neither read, nor given a consumer group, nor kept in memory, and real cameras stay served."""

    def __init__(self, client: redis.Redis, keys: Keys, stream_of: Callable[[str], str], refresh_s: float = 2.0,
                 active_s: float = ACTIVE_S):
        self.redis = client
        self.keys = keys
        self.stream_of = stream_of
        self.refresh_s = refresh_s
        self.active_s = active_s
        self._names: list[str] = []
        self._read_at = float("-inf")
        self._refused: set[str] = set()
        self._said_idle = 0
        self._newest_ms = client.register_script(_NEWEST_MS)
        self.started_ms: dict[str, int] = {}  # when each camera's capture (re)started, as it announces

    def names(self) -> list[str]:
        if time.monotonic() - self._read_at >= self.refresh_s:
            entries = self.redis.hgetall(self.keys.cameras)
            self._names = self._active(self._valid(list(entries)))
            self.started_ms = {name: started for name in self._names
                               if (started := _started_ms(entries.get(name.encode()))) is not None}
            self._read_at = time.monotonic()
        return self._names

    def _active(self, names: list[str]) -> list[str]:
        streams = [self.stream_of(n) for n in names]
        newest = [ms for i in range(0, len(streams), 1000) for ms in self._newest_ms(keys=streams[i:i + 1000])]
        since = now_ms() - self.active_s * 1000
        recent = sorted(((ms, name) for name, ms in zip(names, newest) if ms and ms >= since), reverse=True)
        idle = len(names) - len(recent)
        if idle != self._said_idle:
            log.info("%d of %d registered cameras have nothing on their stream in the last %.0f s: "
                     "not read until they do", idle, len(names), self.active_s)
            self._said_idle = idle
        if len(recent) > MAX_CAMERAS:
            log.warning("%d cameras are live; serving the %d with the newest entries: split the cameras over "
                        "deployments (SIGNSTREAM_NAMESPACE)", len(recent), MAX_CAMERAS)
            recent = recent[:MAX_CAMERAS]
        return sorted(name for _, name in recent)

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
        return names


def _started_ms(raw: bytes | None) -> int | None:
    try:
        return CameraRecord.decode(raw).started_ms
    except DecodeError:
        return None
