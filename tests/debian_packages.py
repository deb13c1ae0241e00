"""Debian packages a test needs (docker.io, chromium, ...), installed with apt-get where missing,
so that CI on a machine where nothing was installed by hand runs every test."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest


def ensure(tools: dict[str, str], leave_out: str) -> None:
    """Install the package of every tool (command name -> Debian package) not on PATH; `leave_out` is
    the pytest -m expression that skips the tests needing them, for the message where we cannot."""
    if not missing_packages(tools):
        return
    # Test workers running side by side may both find a package missing; one apt-get at a time.
    lock = Path.home() / ".cache" / "signstream" / "apt.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        install(missing_packages(tools), leave_out)


def missing_packages(tools: dict[str, str]) -> list[str]:
    return sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})


def install(missing: list[str], leave_out: str) -> None:
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"these tests need {', '.join(missing)}: install them (apt-get install {' '.join(missing)}), "
                    f"or leave them out with -m '{leave_out}'")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args, timeout in ((["apt-get", "update", "-qq"], 300), (["apt-get", "install", "-y", "-qq", *missing], 900)):
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
