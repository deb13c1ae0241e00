"""Where the deployment `signstream up` started from this folder keeps its Redis.

`up` with its embedded Redis picks a free port, so `signstream stats` and `health` run beside it
would otherwise ask 127.0.0.1:6379, often another Redis with nothing of ours, and report nothing
as if all were well. `up` writes its Redis URL and pid to `.signstream/redis.url` (its
`--data-dir`) and removes the file when it stops; the commands follow it where REDIS_URL is not
given and that `up` still runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic_settings import BaseSettings

FILE = "redis.url"
DEFAULT_DIR = Path(".signstream")


def announce(data_dir: Path, url: str) -> Path:
    """Say where this `up`'s Redis is (written whole: temp file, then rename)."""
    path = data_dir / FILE
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    temp.replace(path)
    return path


def running_url(data_dir: Path = DEFAULT_DIR) -> str | None:
    """The Redis URL of the `up` started from here, if it still runs."""
    try:
        info = json.loads((data_dir / FILE).read_text())
        url, pid = str(info["url"]), int(info["pid"])
        os.kill(pid, 0)  # raises when that `up` is gone (killed with -9, the file left behind)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url


def follow(settings: BaseSettings) -> BaseSettings:
    """`settings` asking the Redis of the `up` started here, unless REDIS_URL or --redis-url says which."""
    url = None if "redis_url" in settings.model_fields_set else running_url()
    return settings.model_copy(update={"redis_url": url}) if url else settings
