"""Telling a Redis outage from Redis refusing us, and from errors that have nothing to do with Redis."""

from __future__ import annotations

import errno
import threading
import time

import pytest
import redis

from services.up.redis_server import RedisServer, free_port
from shared.errors import RedisAuthError, RedisUnreachable
from shared.redis_client import (
    CONNECTION_ERRORS,
    auth_error,
    check_connection,
    connect,
    is_auth_error,
    is_outage,
    redact_url,
    with_redis,
)

PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory):
    """A real redis-server that wants a password, with an ACL user who may only PING and GET."""
    server = RedisServer(tmp_path_factory.mktemp("locked-redis"), password=PASSWORD)
    server.start()
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("ACL", "SETUSER", "reader", "on", ">reader-pw", "~*", "+ping", "+get")
    admin.close()
    yield server
    server.stop()


def url_with(server: RedisServer, userinfo: str) -> str:
    return f"redis://{userinfo}127.0.0.1:{server.port}/0"


def stop_after(seconds: float) -> threading.Event:
    """A stop event set after `seconds`: a with_redis that would retry forever ends then."""
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.daemon = True
    timer.start()
    return stop


def test_with_redis_raises_at_once_when_redis_refuses_the_password(locked_redis):
    url = url_with(locked_redis, ":wrong-password@")
    client = connect(url)
    started = time.monotonic()
    with pytest.raises(RedisAuthError) as caught:
        with_redis(client.ping, stop=stop_after(5), what="pinging", url=url)
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert "wrong-password" not in message
    assert f"redis://:***@127.0.0.1:{locked_redis.port}/0" in message
    assert "WRONGPASS" in message and "set the password in REDIS_URL" in message


def test_with_redis_raises_at_once_when_no_password_is_given(locked_redis):
    url = url_with(locked_redis, "")
    with pytest.raises(RedisAuthError, match="NOAUTH"):
        with_redis(connect(url).ping, stop=stop_after(5), what="pinging", url=url)


def test_with_redis_raises_at_once_on_a_command_the_user_may_not_run(locked_redis):
    url = url_with(locked_redis, "reader:reader-pw@")
    client = connect(url)
    assert client.ping()
    with pytest.raises(RedisAuthError, match="NOPERM") as caught:
        with_redis(lambda: client.xadd("s", {"a": 1}), stop=stop_after(5), what="adding", url=url)
    assert "reader-pw" not in str(caught.value)


def test_an_os_error_of_the_action_is_not_taken_for_an_outage(locked_redis):
    calls = []

    def action():
        calls.append(1)
        raise OSError(errno.ENAMETOOLONG, "File name too long")

    with pytest.raises(OSError, match="File name too long"):
        with_redis(action, stop=stop_after(3), what="writing", url=locked_redis.url)
    assert len(calls) == 1
    assert not is_outage(OSError(errno.ENAMETOOLONG, "File name too long"))
    assert not isinstance(OSError(errno.ENOSPC, "No space left on device"), CONNECTION_ERRORS)


def test_an_outage_is_still_one_what_redis_py_raises_for_a_closed_port_and_a_timeout():
    closed = connect(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(redis.RedisError) as refused:
        closed.ping()
    assert isinstance(refused.value, CONNECTION_ERRORS) and is_outage(refused.value)
    assert not is_auth_error(refused.value)
    for exc in (redis.TimeoutError("Timeout reading from socket"), redis.ConnectionError("Connection reset by peer"),
                redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
                ConnectionResetError(errno.ECONNRESET, "reset"), TimeoutError("timed out")):
        assert is_outage(exc), exc


def test_refused_credentials_are_not_an_outage_though_redis_py_makes_them_connection_errors(locked_redis):
    with pytest.raises(redis.AuthenticationError) as wrong:
        connect(url_with(locked_redis, ":nope@")).ping()
    assert isinstance(wrong.value, CONNECTION_ERRORS)  # why loops must ask is_outage
    assert is_auth_error(wrong.value) and not is_outage(wrong.value)
    for exc in (redis.exceptions.NoPermissionError("this user has no permissions to run the 'xadd' command"),
                redis.ResponseError("NOPERM this user has no permissions"),
                redis.ResponseError("WRONGPASS invalid username-password pair"),
                redis.exceptions.AuthenticationWrongNumberOfArgsError("wrong number of arguments for 'auth'"),
                RedisAuthError("refused")):
        assert is_auth_error(exc) and not is_outage(exc), exc
    assert not is_auth_error(redis.ResponseError("BUSYGROUP Consumer Group name already exists"))


def test_check_connection_tells_the_three_cases_apart(locked_redis):
    assert check_connection(connect(locked_redis.url), locked_redis.url)
    bad = url_with(locked_redis, ":bad-password@")
    with pytest.raises(RedisAuthError):
        check_connection(connect(bad), bad)
    with pytest.raises(RedisAuthError):  # waiting would not help: raised at once, even with a stop event
        check_connection(connect(bad), bad, stop=stop_after(5))
    down = f"redis://:pw-of-down@127.0.0.1:{free_port()}/0"
    with pytest.raises(RedisUnreachable) as caught:
        check_connection(connect(down), down)
    assert "pw-of-down" not in str(caught.value) and "unreachable" in str(caught.value)
    started = time.monotonic()
    assert check_connection(connect(down), down, stop=stop_after(1.5)) is False  # a service waits until stopped
    assert time.monotonic() - started >= 1.4


def test_redact_url_hides_every_password_and_keeps_the_rest():
    assert redact_url("redis://:s3cret@127.0.0.1:6390/0") == "redis://:***@127.0.0.1:6390/0"
    assert redact_url("rediss://bob:pa%40ss@host:6380/2") == "rediss://bob:***@host:6380/2"
    assert redact_url("redis://lonely-secret@host/0") == "redis://***@host/0"
    assert redact_url("redis://host:6379/0?password=xyz&socket_timeout=5") == \
        "redis://host:6379/0?password=***&socket_timeout=5"
    assert redact_url("unix://:pw@/run/redis.sock?db=1") == "unix://:***@/run/redis.sock?db=1"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_the_auth_error_line_never_holds_the_password_even_if_the_reply_did():
    url = "redis://:hunter22@10.0.0.1:6379/0"
    line = str(auth_error(redis.AuthenticationError("invalid password hunter22"), url))
    assert "hunter22" not in line and "redis://:***@10.0.0.1:6379/0" in line
