"""`signstream stats`: the counters every running worker reports, one line per worker and camera."""

from __future__ import annotations

import json
from collections.abc import Sequence

from shared.redis_client import one_shot, redact_url
from shared.settings import CommonSettings, load_settings

SERVICES = ("keypoints", "classifier")


def main(argv: Sequence[str], prog: str = "signstream stats") -> int:
    """Print the counters; Redis unreachable or refusing us is one error line and exit code 3."""
    settings = load_settings(CommonSettings, argv, prog)
    return one_shot(settings.redis_url, lambda client: show(client, settings))


def show(client, settings: CommonSettings) -> int:
    cameras = client.hgetall(settings.keys.cameras)
    for camera, raw in sorted(cameras.items()):
        info = json.loads(raw)
        print(f"camera {camera.decode()}: {info.get('status', '?')}, {info.get('frames_sent', 0)} frames sent, "
              f"source {info.get('source', '?')}")
    for service in SERVICES:
        for worker, raw in sorted(client.hgetall(settings.keys.stats(service)).items()):
            snap = json.loads(raw)
            for camera, counts in sorted(snap.get("cameras", {}).items()):
                numbers = " ".join(f"{k}={v}" for k, v in sorted(counts.items()) if not isinstance(v, dict))
                print(f"{service} {worker.decode()} {camera}: {numbers}")
    if not cameras:
        print(f"no camera registered in {settings.keys.cameras} at {redact_url(settings.redis_url)}")
    return 0
