"""Fixtures every test shares: a real redis-server on a free port, per-test namespaces, data paths."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import redis

from services.up.redis_server import RedisServer
from shared.keys import Keys


def pytest_configure(config):
    """Every temporary file of the run, ours and those of what we start (Chromium's singleton sockets,
    TensorFlow's autograph sources, gateway logs, ...), goes in one folder removed at the end (a test
    worker's folder inside the run's)."""
    if not hasattr(config, "workerinput"):  # the run itself, not one of its test workers
        shutil.rmtree(SUMMARY, ignore_errors=True)
    scratch = tempfile.mkdtemp(prefix="signstream-tests-")
    config.stash[SCRATCH] = (scratch, os.environ.get("TMPDIR"), tempfile.tempdir)
    os.environ["TMPDIR"] = tempfile.tempdir = scratch


def pytest_unconfigure(config):
    scratch, old_env, old_tempdir = config.stash.get(SCRATCH, (None, None, None))
    if scratch is None:
        return
    tempfile.tempdir = old_tempdir
    if old_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old_env
    shutil.rmtree(scratch, ignore_errors=True)


SCRATCH = pytest.StashKey[tuple]()


@pytest.fixture(scope="module")
def machine_to_ourselves():
    """Held by the modules that need most of the machine: the compose deployment (image builds, two
    cameras' MediaPipe, a training run) and Holistic in Chromium. With two test processes they never
    run at once: on a cold run the browser camera beside the deployment got 33 frames through in four
    minutes, too few to classify."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "machine.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        yield


def pytest_terminal_summary(terminalreporter):
    """The lines tests left with `summary_line`, at the end of the run's output (test workers' own output is not shown)."""
    for path in sorted(SUMMARY.glob("*.txt")):
        terminalreporter.write_line(path.read_text().rstrip())


def summary_line(name: str, text: str) -> None:
    """A line for the end of the run's output (timings a CI log should show), from any test worker."""
    SUMMARY.mkdir(parents=True, exist_ok=True)
    (SUMMARY / f"{name}.txt").write_text(text)


pytest_plugins = ["tests.classifier_harness"]  # start_classifier and versions, for every classifier test

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any test imports TensorFlow
os.environ.setdefault("GLOG_minloglevel", "2")

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"  # screenshots and the like, kept after the run (git ignores it)
SUMMARY = ARTIFACTS / "summary"
SHARED = REPO.parent / "shared"
VIDEOS = SHARED / "videos"
SIGNERS = SHARED / "datasets" / "signers"
MORE_SIGNERS = SHARED / "datasets" / "more_signers"  # pose and hands only (258 floats a frame)
OTHER_SIGNS = SHARED / "datasets" / "other_signs"  # signs besides hello, thanks, iloveyou; pose and hands only


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
