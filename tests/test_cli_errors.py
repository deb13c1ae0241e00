"""Commands meeting a Redis that refuses them or is not there: exit code 3, one line, no password, no traceback."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from services.up.redis_server import RedisServer, free_port
from tests.conftest import REPO, VIDEOS, signstream_cmd

PASSWORD = "s3cret-right"
WRONG = "wr0ng-pa55word"


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory):
    """A real redis-server started with --requirepass."""
    server = RedisServer(tmp_path_factory.mktemp("locked-redis"), password=PASSWORD)
    server.start()
    yield server
    server.stop()


def run(args: list[str], redis_url: str, timeout_s: float = 90) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNSTREAM_")}
    env.update(REDIS_URL=redis_url, SIGNSTREAM_NAMESPACE="clierr:", PYTHONUNBUFFERED="1")
    started = time.monotonic()
    result = subprocess.run(signstream_cmd(*args), env=env, cwd=REPO, capture_output=True, text=True,
                            timeout=timeout_s)
    return result, time.monotonic() - started


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if "error" in line.lower()]


SERVICES = {
    "keypoints": ["keypoints"],
    "classifier": ["classifier"],
    "capture": ["capture", "--source", str(VIDEOS / "bisig_hello.mp4"), "--camera", "c1"],
    "stats": ["stats"],
}


@pytest.mark.parametrize("name", SERVICES)
def test_a_wrong_redis_password_ends_the_command_with_code_3_and_one_line_without_the_password(locked_redis, name):
    url = f"redis://:{WRONG}@127.0.0.1:{locked_redis.port}/0"
    result, seconds = run(SERVICES[name], url)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    lines = error_lines(result)
    assert len(lines) == 1, output
    assert lines[0].startswith(f"signstream {name}: error: Redis at redis://:***@127.0.0.1:{locked_redis.port}/0 "
                               f"refused the credentials (WRONGPASS"), output
    assert "set the password in REDIS_URL" in lines[0]
    assert WRONG not in output and PASSWORD not in output
    assert "Traceback" not in output and "unreachable" not in output
    assert seconds < 60, f"took {seconds:.1f} s"


def test_no_password_where_redis_wants_one_says_so(locked_redis):
    result, _ = run(["stats"], f"redis://127.0.0.1:{locked_redis.port}/0")
    assert result.returncode == 3, result.stderr
    assert error_lines(result) == [line for line in result.stderr.splitlines() if line.strip()]
    assert "requires a password and REDIS_URL gives none (NOAUTH)" in result.stderr


def test_stats_with_nothing_listening_is_one_line_and_code_3():
    port = free_port()
    result, seconds = run(["stats"], f"redis://:{WRONG}@127.0.0.1:{port}/0")
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "Traceback" not in output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith(f"signstream stats: error: Redis at redis://:***@127.0.0.1:{port}/0 unreachable ("), output
    assert lines[0].endswith("): start it or set REDIS_URL")
    assert WRONG not in output
    assert seconds < 30


def test_stats_with_the_right_password_reaches_redis_and_says_no_deployment_ran_there(locked_redis):
    result, _ = run(["stats"], locked_redis.url)
    assert result.returncode == 1, result.stderr
    assert f"no signstream deployment at redis://:***@127.0.0.1:{locked_redis.port}/0" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_a_password_changed_while_a_worker_runs_ends_it_with_code_3_not_endless_retries(tmp_path):
    server = RedisServer(tmp_path / "redis", password=PASSWORD)
    server.start()
    proc = None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNSTREAM_")}
        env.update(REDIS_URL=server.url, SIGNSTREAM_NAMESPACE="clierr2:", PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(signstream_cmd("keypoints"), env=env, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        import redis

        admin = redis.Redis(port=server.port, password=PASSWORD)
        deadline = time.monotonic() + 60
        while not admin.keys("clierr2:health:*") and time.monotonic() < deadline:
            time.sleep(0.2)  # the worker is in its loop
        assert admin.keys("clierr2:health:*")
        admin.config_set("requirepass", "rotated-" + PASSWORD)  # an operator rotates the password
        admin = redis.Redis(port=server.port, password="rotated-" + PASSWORD)
        admin.client_kill_filter(_type="normal", skipme=True)  # the worker must authenticate again
        out, err = proc.communicate(timeout=60)
    finally:
        if proc is not None and proc.poll() is None:  # a worker that retries for ever must not outlive its test
            proc.kill()
            proc.wait()
        server.stop()
    assert proc.returncode == 3, err
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(lines) == 1 and "refused the credentials" in lines[0], err
    assert PASSWORD not in out + err and "Traceback" not in err


@pytest.mark.parametrize("name, rights", [
    ("gateway", "+ping"),  # answers PING, can read nothing
    ("classifier", "+ping"),
    ("classifier", "+@all -xread"),  # serves, but cannot follow model announcements
])
def test_a_redis_user_without_the_rights_ends_the_command_with_code_3_and_one_line(locked_redis, name, rights):
    import redis

    admin = redis.Redis(port=locked_redis.port, password=PASSWORD)
    user = f"limited-{name}-{len(rights)}"
    admin.execute_command("ACL", "SETUSER", user, "reset", "on", ">limited-pass", "~*", "&*", "-@all", *rights.split())
    args = ["gateway", "--port", str(free_port())] if name == "gateway" else [name]
    result, seconds = run(args, f"redis://{user}:limited-pass@127.0.0.1:{locked_redis.port}/0")
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    lines = error_lines(result)
    assert len(lines) == 1 and "NOPERM" in lines[0] and "give that user the commands" in lines[0], output
    assert "Traceback" not in output and "limited-pass" not in output
    assert seconds < 60, f"took {seconds:.1f} s"
