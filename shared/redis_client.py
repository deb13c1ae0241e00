"""Redis connections, and waiting for Redis with backoff instead of exiting or spinning.

Two kinds of Redis trouble, told apart because only one of them passes by itself:

- an outage (refused, reset, timed out, Redis loading): `is_outage(e)`; loops wait it out.
- Redis refusing our credentials or a command to our user (WRONGPASS, NOAUTH, NOPERM):
  `is_auth_error(e)`; waiting does not help, the command ends with exit code 3 and one line
  (`RedisAuthError`). redis-py makes `AuthenticationError` a subclass of `ConnectionError`, so
  `except CONNECTION_ERRORS` also catches it: a loop that waits out outages must re-raise
  what is not one:

      except CONNECTION_ERRORS as e:
          if not is_outage(e):
              raise
          ...wait and retry...

A Redis URL may hold a password: log `redact_url(url)`, never the URL itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import redis
import redis.exceptions
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.retry import Retry

from shared.errors import RedisAuthError, RedisConnectError, RedisUnreachable

log = logging.getLogger(__name__)

T = TypeVar("T")

# What an outage looks like. redis-py (5 to 8) wraps every socket error of a connect, read or
# write (refused, reset, DNS, timeout) in redis.ConnectionError or redis.TimeoutError; the builtin
# ConnectionError and TimeoutError (OSError subclasses) cover a socket error that slips through.
# Not plain OSError: a full disk or a too long file name inside a loop is not a Redis outage.
# Includes redis.AuthenticationError (a redis.ConnectionError): use `is_outage` to tell them apart.
CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)

# Redis refusing who we are or what we may do; retrying never helps.
AUTH_ERRORS = (
    redis.exceptions.AuthenticationError,  # WRONGPASS, NOAUTH, "invalid password" (a ConnectionError!)
    redis.exceptions.AuthenticationWrongNumberOfArgsError,  # AUTH user pass against Redis < 6
    redis.exceptions.AuthorizationError,  # a ConnectionError too
    redis.exceptions.NoPermissionError,  # NOPERM: an ACL user without the command or key
)
_AUTH_CODES = ("WRONGPASS", "NOAUTH", "NOPERM")

_last_url: str | None = None


def connect(url: str) -> redis.Redis:
    """A client that returns raw bytes (frames and vectors are binary).

    redis-py's own silent retries are limited to one, so that an outage reaches our loops,
    which log it and back off, instead of stalling them unseen. No connection is made yet:
    `check_connection` makes one and tells an outage from refused credentials.
    """
    global _last_url
    _last_url = url
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1),
    )


def _auth_code(exc: BaseException) -> str | None:
    code = getattr(exc, "status_code", None)
    if code:
        return str(code)
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return "NOPERM"
    first = str(exc).split(" ", 1)[0]
    return first if first in _AUTH_CODES else None


def is_auth_error(exc: BaseException) -> bool:
    """Redis refused our credentials or a command to our user: not an outage, never retried."""
    if isinstance(exc, RedisAuthError) or isinstance(exc, AUTH_ERRORS):
        return True
    return isinstance(exc, redis.RedisError) and _auth_code(exc) in _AUTH_CODES


def is_outage(exc: BaseException) -> bool:
    """Redis unreachable for now (refused, reset, timed out, loading): wait and retry."""
    return isinstance(exc, CONNECTION_ERRORS) and not is_auth_error(exc)


def redact_url(url: str | None) -> str:
    """`url` with its password (in the user part or a `password=` query argument) shown as ***."""
    if url is None:
        return "?"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a REDIS_URL that is not a URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        # A lone user part may be a password put in the wrong place: hide it too.
        netloc = f"{user}:***@{host}" if has_password else f"***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k == "password" for k, _ in pairs):
            query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets(url: str | None) -> list[str]:
    if not url:
        return []
    try:
        parts = urlsplit(url)
        found = [parts.password or "", "" if parts.password is not None else parts.username or ""]
        found += [v for k, v in parse_qsl(parts.query) if k == "password"]
    except ValueError:
        return []
    found += [unquote(s) for s in found]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def scrub(text: str, url: str | None) -> str:
    """`text` with any password of `url` in it replaced by ***."""
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def auth_error(exc: BaseException, url: str | None = None) -> RedisAuthError:
    """The one-line error for Redis refusing us, naming the Redis (password hidden) and the fix.

    `url` defaults to the last one `connect` was given.
    """
    if isinstance(exc, RedisAuthError):
        return exc
    url = url if url is not None else _last_url
    where = f"Redis at {redact_url(url)}"
    code = _auth_code(exc)
    text = scrub(str(exc).strip(), url)
    if code == "NOPERM":
        return RedisAuthError(f"{where} refused a command to the user of REDIS_URL (NOPERM {text}): give that "
                              f"user the commands and keys signstream needs, or use another user in REDIS_URL")
    if code == "NOAUTH":
        return RedisAuthError(f"{where} requires a password and REDIS_URL gives none (NOAUTH): set it in "
                              f"REDIS_URL, as redis://:PASSWORD@host:port/db")
    detail = f"{code} {text}" if code and not text.startswith(code) else text
    return RedisAuthError(f"{where} refused the credentials ({detail}): set the password in REDIS_URL")


def unreachable_error(exc: BaseException, url: str | None = None) -> RedisUnreachable:
    """The one-line error of a one-shot command that found no Redis."""
    url = url if url is not None else _last_url
    return RedisUnreachable(f"Redis at {redact_url(url)} unreachable ({scrub(str(exc).strip(), url)}): "
                            f"start it or set REDIS_URL")


def as_connect_error(exc: BaseException, url: str | None = None) -> RedisConnectError | None:
    """The exit-code-3 error `exc` amounts to for a command that cannot wait, else None."""
    if isinstance(exc, RedisConnectError):
        return exc
    if is_auth_error(exc):
        return auth_error(exc, url)
    if is_outage(exc) and isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return unreachable_error(exc, url)
    return None


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
    Returns None only when stopped before Redis answered. Redis refusing our credentials raises
    `RedisAuthError` at once; any other error of the action propagates as it is.
    """
    backoff = backoff or Backoff()
    shown = redact_url(url)
    while True:
        try:
            result = action()
        except CONNECTION_ERRORS + AUTH_ERRORS as e:
            if is_auth_error(e):
                raise auth_error(e, url) from e
            if stop.is_set():
                log.warning("redis at %s unreachable while %s (%s); stopping without it", shown, what,
                            scrub(str(e), url))
                return None
            delay = backoff.next_delay()
            log.warning("redis at %s unreachable while %s (%s); retrying in %.1fs", shown, what,
                        scrub(str(e), url), delay)
            stop.wait(delay)
            continue
        except redis.RedisError as e:
            if is_auth_error(e):  # a NOPERM/WRONGPASS reply redis-py left a plain ResponseError
                raise auth_error(e, url) from e
            raise
        if backoff.failures:
            log.info("redis at %s reachable again; %s resumed", shown, what)
            backoff.reset()
        return result


def check_connection(client: redis.Redis, url: str, *, stop: threading.Event | None = None,
                     what: str = "connecting") -> bool:
    """Make sure Redis answers us: True once it does.

    Redis refusing our credentials raises `RedisAuthError` at once. An outage: without `stop`
    (one-shot commands) raises `RedisUnreachable`; with `stop` (services) waits for Redis with
    logged backoff, and returns False if stopped first.
    """
    if stop is None:
        try:
            client.ping()
        except Exception as e:
            error = as_connect_error(e, url)
            if error is None:
                raise
            raise error from e
        return True
    return with_redis(client.ping, stop=stop, what=what, url=url) is not None


def one_shot(url: str, command: Callable[[redis.Redis], T]) -> T:
    """Run a one-shot command (`signstream stats`, `health`) against the Redis at `url`.

    Redis unreachable or refusing us, at the start or half way, is one `RedisConnectError`
    (exit code 3), never a traceback; the connection is closed however the command ends.
    """
    client = connect(url)
    try:
        check_connection(client, url)
        return command(client)
    except Exception as e:
        error = as_connect_error(e, url)
        if error is None:
            raise
        raise error from e
    finally:
        client.close()

