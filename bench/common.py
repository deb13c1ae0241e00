"""What the benchmarks share: a throwaway redis-server, results files, the repo on sys.path."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def start_redis():
    from services.up.redis_server import RedisServer

    server = RedisServer(Path(tempfile.mkdtemp(prefix="bench-redis-")))
    server.start()
    return server


def write_results(name: str, result: dict, markdown_lines: list[str]) -> None:
    """bench/results/<name>.json and .md, each written whole (temp file, then rename)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), **result}
    for suffix, text in ((".json", json.dumps(result, indent=1)), (".md", "\n".join(markdown_lines) + "\n")):
        target = RESULTS / f"{name}{suffix}"
        temp = target.with_suffix(suffix + ".tmp")
        temp.write_text(text)
        temp.replace(target)
