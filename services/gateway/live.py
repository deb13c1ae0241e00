"""Live streams for any number of clients, read from Redis once.

One `Hub` per stream (predictions, detections) reads it with one blocking XREAD and offers each
entry to every subscribed client's bounded queue; Redis and the pipeline see one reader however
many clients watch. A client that falls `client_buffer` entries behind (it stopped reading, or
reads slower than signs arrive) is sent what it holds, then an `overflow` event, and is
disconnected and counted; it resumes with its last id like any reconnecting client, so nothing is
lost. Resuming replays the stream from Redis after that id before joining the live entries,
subscribed first, so that no entry falls between the replay and the live queue, and none comes
twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field

import redis
import redis.asyncio

from shared.errors import DecodeError
from shared.messages import Detection, Prediction
from shared.redis_client import CONNECTION_ERRORS, Backoff, is_auth_error, scrub

log = logging.getLogger(__name__)

STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
KEEPALIVE_S = 15.0
DISCONNECT_CHECK_S = 1.0
MESSAGES = {"predictions": Prediction, "detections": Detection}


def check_stream_id(value: str) -> str:
    """A Redis stream id (milliseconds-sequence, both below 2**64), else ValueError."""
    if not STREAM_ID.match(value) or max(id_key(value)) >= 2 ** 64:
        raise ValueError(f"{value[:40]!r} is not a stream id like 1732612345678-0")
    return value


def id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def event_of(stream: str, entry_id: bytes | str, fields: dict) -> dict | None:
    """The JSON an API client gets for one entry: its id and the typed message's fields."""
    try:
        message = MESSAGES[stream].decode(fields)
    except DecodeError:
        return None
    return {"id": entry_id.decode() if isinstance(entry_id, bytes) else entry_id, **asdict(message)}


@dataclass(eq=False)
class Subscriber:
    camera: str | None
    queue: asyncio.Queue
    overflowed: bool = False
    closing: bool = False

    def offer(self, event: dict) -> bool:
        """Queue the event for this client; False once it has fallen too far behind."""
        if self.overflowed:
            return False
        if self.camera is not None and event.get("camera") != self.camera:
            return True
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            self.overflowed = True
            return False


@dataclass
class HubCounters:
    delivered: int = 0
    overflows: int = 0
    undecodable: int = 0
    redis_errors: int = 0


@dataclass(eq=False)
class Hub:
    client: redis.asyncio.Redis
    stream: str  # predictions or detections
    key: str  # its Redis key (with the namespace)
    buffer: int
    subscribers: set[Subscriber] = field(default_factory=set)
    counters: HubCounters = field(default_factory=HubCounters)
    last_id: str | None = None

    def subscribe(self, camera: str | None) -> Subscriber:
        sub = Subscriber(camera, asyncio.Queue(self.buffer))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def close_all(self) -> None:
        """The gateway is stopping: every live response ends now, instead of being cut off mid-write later."""
        for sub in list(self.subscribers):
            sub.closing = True
            try:
                sub.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass  # it is not reading anyway

    async def run(self, url: str) -> None:
        backoff = Backoff()
        while True:
            try:
                if self.last_id is None:
                    newest = await self.client.xrevrange(self.key, count=1)
                    self.last_id = newest[0][0].decode() if newest else "0-0"
                # No more at once than half a client's buffer: between reads, clients that keep up drain theirs.
                reply = await self.client.xread({self.key: self.last_id}, block=1000, count=max(1, min(500, self.buffer // 2)))
            except (*CONNECTION_ERRORS, redis.RedisError) as e:
                self.counters.redis_errors += 1
                delay = backoff.next_delay()
                log.warning("reading %s for live clients: %s (%s); retrying in %.1f s", self.key,
                            "Redis refuses the gateway's credentials" if is_auth_error(e) else "Redis unreachable",
                            scrub(str(e), url), delay)
                await asyncio.sleep(delay)
                continue
            if backoff.failures:
                log.info("reading %s for live clients again", self.key)
                backoff.reset()
            for _, entries in reply:
                for entry_id, fields in entries:
                    self.last_id = entry_id.decode()
                    self.publish(event_of(self.stream, entry_id, fields))

    def publish(self, event: dict | None) -> None:
        if event is None:
            self.counters.undecodable += 1
            return
        for sub in list(self.subscribers):
            if sub.offer(event):
                continue
            self.unsubscribe(sub)  # it is sent what it holds, then told to resume
            self.counters.overflows += 1
            log.info("a live %s client fell %d entries behind: disconnected; it resumes from its last id",
                     self.stream, self.buffer)


def sse(event: dict, kind: str) -> bytes:
    return f"id: {event['id']}\nevent: {kind}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


async def replay(client: redis.asyncio.Redis, hub: Hub, after: str, camera: str | None,
                 limit: int) -> AsyncIterator[tuple[list[dict], int]]:
    """Entries of the stream after `after` (exclusive), oldest first, a page at a time with the count of
    entries read so far, at most `limit`."""
    start, read = f"({after}", 0
    while read < limit:
        page = await client.xrange(hub.key, min=start, max="+", count=min(500, limit - read))
        if not page:
            return
        read += len(page)
        events = (event_of(hub.stream, entry_id, fields) for entry_id, fields in page)
        yield [e for e in events if e is not None and (camera is None or e["camera"] == camera)], read
        start = f"({page[-1][0].decode()}"


RECONNECT = (b"event: overflow\ndata: {\"detail\": \"more entries than this response carries: reconnect with "
             b"the Last-Event-ID header (EventSource does) to get the rest\"}\n\n")


def trimmed(oldest: str) -> bytes:
    detail = {"detail": "entries after your id were trimmed from Redis before you came back", "oldest": oldest}
    return f"event: gap\ndata: {json.dumps(detail)}\n\n".encode()


async def events(client: redis.asyncio.Redis, hub: Hub, camera: str | None, after: str | None,
                 backfill_max: int, gone: Callable[[], Awaitable[bool]]) -> AsyncIterator[bytes]:
    """The SSE body for one client: the replay after `after`, then live entries until it leaves
    (`gone()` says whether it hung up)."""
    kind = hub.stream.removesuffix("s")
    sub = hub.subscribe(camera)  # before the replay: what arrives meanwhile waits in the queue
    try:
        yield b"retry: 1000\n\n"
        last_write = time.monotonic()
        newest = None
        if after is not None:
            first = await client.xrange(hub.key, count=1)
            if first and id_key(first[0][0].decode()) > id_key(after) and after not in ("0", "0-0"):
                yield trimmed(first[0][0].decode())
            read = 0
            async for page, read in replay(client, hub, after, camera, backfill_max):
                if page:
                    newest = id_key(page[-1]["id"])
                    yield b"".join(sse(event, kind) for event in page)
            if read >= backfill_max:  # maybe more to replay than one response carries: come back for it
                yield RECONNECT
                return
        while True:
            if sub.closing and sub.queue.empty():
                return
            if sub.overflowed and sub.queue.empty():  # fell behind and has been sent all it held
                yield RECONNECT
                return
            try:
                first = await asyncio.wait_for(sub.queue.get(), DISCONNECT_CHECK_S)
            except asyncio.TimeoutError:
                # A client that hung up is only noticed by a write or a look: look, so that a quiet
                # stream does not keep gone clients subscribed.
                if await gone():
                    return
                if time.monotonic() - last_write >= KEEPALIVE_S:
                    last_write = time.monotonic()
                    yield b": keepalive\n\n"
                continue
            last_write = time.monotonic()
            if first is None:  # closing: EventSource comes back by itself, with its last id, to the next gateway
                return
            # All that waits goes out in one write: a client that keeps up drains its queue as fast
            # as the hub fills it, however bursty the stream.
            batch = [e for e in [first] + [sub.queue.get_nowait() for _ in range(sub.queue.qsize())] if e is not None]
            if newest is not None:
                batch = [e for e in batch if id_key(e["id"]) > newest]  # already replayed
                newest = None if batch else newest
            if batch:
                hub.counters.delivered += len(batch)
                yield b"".join(sse(event, kind) for event in batch)
    finally:
        hub.unsubscribe(sub)
