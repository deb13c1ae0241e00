"""Runs the service processes of `signstream up`, restarting a crashed one a bounded number of times.

The children die with `signstream up`, however it ends: stopped in order on Ctrl-C or SIGTERM,
and killed by the kernel (PR_SET_PDEATHSIG) if it is killed itself (kill -9, OOM killer).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from shared.errors import EXIT_CONFIG, EXIT_CONNECT, EXIT_ERROR
from shared.lifecycle import die_with_parent

log = logging.getLogger(__name__)

MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
# What MediaPipe's and TensorFlow's C++ write to stderr whatever GLOG_minloglevel and
# TF_CPP_MIN_LOG_LEVEL say (absl logs before it is initialised): info and warning lines about their
# own internals, which no user can act on. Errors (E, F lines) and everything else pass.
NATIVE_NOISE = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\]"
                          rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                          rb"|INFO: Created TensorFlow Lite XNNPACK delegate)")


def forward_without_noise(source, sink) -> None:
    """Copy a child's stderr line by line to `sink`, leaving out native libraries' info and warnings."""
    for line in iter(source.readline, b""):
        if not NATIVE_NOISE.match(line):
            sink.write(line)
            sink.flush()
    source.close()


@dataclass
class Child:
    name: str
    args: list[str]
    restart_on_success: bool = False  # a capture of a file that ended is done, not crashed
    restart_on_failure: bool = True  # a one-off job (a first training) is reported, not retried
    proc: subprocess.Popen | None = None
    restarts: deque = field(default_factory=lambda: deque(maxlen=MAX_RESTARTS))
    finished: bool = False
    restart_at: float | None = None


class Supervisor:
    def __init__(self, env: dict[str, str], quiet_native: bool = True):
        self.env = env
        self.quiet_native = quiet_native
        self.children: list[Child] = []
        self.exit_code = EXIT_ERROR  # what `up` should exit with once check() gave a reason to give up

    def start(self, name: str, *args: str) -> Child:
        child = Child(name, list(args))
        self._spawn(child)
        self.children.append(child)
        return child

    def _spawn(self, child: Child) -> None:
        # The death signal is tied to the thread that forks, not to our process: spawning from
        # another thread would kill the child when that thread ends. start() and check() run on
        # the main thread, which lives as long as `up`.
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the supervisor spawns services from the main thread only")
        child.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *child.args], env=self.env,
            # Children get their own process group, so Ctrl-C reaches them only through us, in order.
            start_new_session=True,
            # Out of our group, nothing would stop them if we were killed: SIGKILL them then. What
            # a service held is still pending in its consumer group, and is redelivered.
            preexec_fn=die_with_parent(signal.SIGKILL),
            stderr=subprocess.PIPE if self.quiet_native else None,
        )
        if self.quiet_native:
            threading.Thread(target=forward_without_noise, args=(child.proc.stderr, sys.stderr.buffer),
                             name=f"stderr-{child.name}", daemon=True).start()
        log.info("started %s (pid %d): signstream %s", child.name, child.proc.pid, " ".join(child.args))

    def check(self) -> str | None:
        """Restart crashed children; return a reason to give up when one crashes too often."""
        for child in self.children:
            if child.restart_at is not None:
                if time.monotonic() >= child.restart_at:
                    child.restart_at = None
                    self._spawn(child)
                continue
            if child.finished or child.proc is None or child.proc.poll() is None:
                continue
            code = child.proc.returncode
            if code == 0 and not child.restart_on_success:
                log.info("%s finished", child.name)
                child.finished = True
                continue
            if code == EXIT_CONFIG:
                self.exit_code = EXIT_CONFIG
                return f"{child.name} stopped on a configuration error (its message is above)"
            if code == EXIT_CONNECT:  # Redis refused its credentials: a restart would meet the same
                self.exit_code = EXIT_CONNECT
                return f"{child.name} could not use Redis (its message is above)"
            if not child.restart_on_failure:
                log.warning("%s exited with code %s (its message is above)", child.name, code)
                child.finished = True
                continue
            now = time.monotonic()
            if len(child.restarts) == MAX_RESTARTS and now - child.restarts[0] < RESTART_WINDOW_S:
                return f"{child.name} crashed {MAX_RESTARTS} times within {RESTART_WINDOW_S:.0f} s"
            child.restarts.append(now)
            recent = sum(now - t < RESTART_WINDOW_S for t in child.restarts)
            delay = min(2.0 ** (recent - 1), 10.0)  # 1, 2, 4, 8 s: a crash loop stays slow
            log.warning("%s exited with code %s; restarting in %.0f s (%d restarts in the last minute)",
                        child.name, code, delay, recent)
            child.restart_at = now + delay
        return None

    def all_finished(self) -> bool:
        return all(c.finished for c in self.children)

    def stop_all(self, timeout_s: float = 10.0) -> None:
        running = [c for c in self.children if c.proc and c.proc.poll() is None]
        for child in running:
            child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in running:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s; killing it", child.name, timeout_s)
                os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
