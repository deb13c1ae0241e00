"""What the benchmarks share: a throwaway redis-server, service processes, results files, the repo on sys.path,
and one temporary folder."""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SHARED = REPO.parent / "shared"
STOP_TIMEOUT_S = 10.0
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

# Every temporary file of a bench run (its logs, Redis's folder, Chromium's singleton sockets, TensorFlow's
# autograph sources, a bench it starts) goes in one folder removed when the run ends; errors quote the logs' tails.
_SCRATCH = tempfile.mkdtemp(prefix="signstream-bench-")
os.environ["TMPDIR"] = tempfile.tempdir = _SCRATCH
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def start_redis():
    from services.up.redis_server import RedisServer

    server = RedisServer(Path(tempfile.mkdtemp(prefix="bench-redis-")))
    server.start()
    return server


class Services:
    """The service processes of one configuration, each logging to its own file."""

    def __init__(self, url: str, logdir: Path, namespace: str):
        self.env = {**os.environ, "REDIS_URL": url, "SIGNSTREAM_NAMESPACE": namespace,
                    "SIGNSTREAM_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.roles: dict[str, str] = {}
        self.exit_codes: dict[str, int | None] = {}

    def start(self, name: str, role: str, *args: str) -> None:
        log = open(self.logdir / f"{name}.log", "wb")
        # A session of their own: the bench alone decides when they stop (one SIGTERM each).
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "services.cli", *args], cwd=REPO, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.roles[name] = role

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode} during the run:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 15) -> str:
        try:
            text = (self.logdir / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in text[-lines:])

    def stop(self) -> None:
        """SIGTERM to all, then kill whatever still runs after STOP_TIMEOUT_S."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for name, proc in self.procs.items():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop within {STOP_TIMEOUT_S:.0f} s: killed", flush=True)
                proc.kill()
                proc.wait()
            self.exit_codes[name] = proc.returncode


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
            out[name] = t.user + t.system
        except psutil.Error:
            out[name] = float("nan")
    return out


def write_results(name: str, result: dict, markdown_lines: list[str]) -> None:
    """bench/results/<name>.json and .md, each written whole (temp file, then rename)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), **result}
    for suffix, text in ((".json", json.dumps(result, indent=1)), (".md", "\n".join(markdown_lines) + "\n")):
        target = RESULTS / f"{name}{suffix}"
        temp = target.with_suffix(suffix + ".tmp")
        temp.write_text(text)
        temp.replace(target)
