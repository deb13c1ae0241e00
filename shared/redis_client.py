"""Redis connections, and waiting for Redis with backoff instead of exiting or spinning."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

T = TypeVar("T")

CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)


def connect(url: str) -> redis.Redis:
    """A client that returns raw bytes (frames and vectors are binary).

    redis-py's own silent retries are limited to one, so that an outage reaches our loops,
    which log it and back off, instead of stalling them unseen.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1),
    )


class Backoff:
    """Exponential backoff with jitter, capped, that a stop event can cut short."""

    def __init__(self, base_s: float = 0.25, cap_s: float = 10.0):
        self._policy = ExponentialWithJitterBackoff(cap=cap_s, base=base_s)
        self.failures = 0

    def next_delay(self) -> float:
        delay = self._policy.compute(self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


def with_redis(
    action: Callable[[], T], *, stop: threading.Event, what: str, url: str, backoff: Backoff | None = None
) -> T | None:
    """Run `action` until it succeeds, logging each wait for Redis; give up only once `stop` is set.

    It is always tried once, even when stopping (a last heartbeat, a last acknowledgement).
    Returns None only when stopped before Redis answered.
    """
    backoff = backoff or Backoff()
    while True:
        try:
            result = action()
        except CONNECTION_ERRORS as e:
            if stop.is_set():
                log.warning("redis at %s unreachable while %s (%s); stopping without it", url, what, e)
                return None
            delay = backoff.next_delay()
            log.warning("redis at %s unreachable while %s (%s); retrying in %.1fs", url, what, e, delay)
            stop.wait(delay)
            continue
        if backoff.failures:
            log.info("redis at %s reachable again; %s resumed", url, what)
            backoff.reset()
        return result
