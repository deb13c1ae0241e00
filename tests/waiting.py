"""Waiting in tests for something another thread or process does."""

from __future__ import annotations

import time


def wait_for(predicate, timeout_s: float = 60.0, every_s: float = 0.05) -> bool:
    """True as soon as `predicate()` is; False if it never is within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return False
