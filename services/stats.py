"""`signstream stats`: the counters every running worker reports, one line per worker and camera."""

from __future__ import annotations

from collections.abc import Sequence

from shared import local_deployment
from shared.errors import EXIT_ERROR, DecodeError
from shared.health import ever_here, nothing_here
from shared.records import CameraRecord, StatsSnapshot
from shared.redis_client import one_shot, redact_url
from shared.settings import CommonSettings, load_settings
from shared.text import text

SERVICES = ("keypoints", "classifier")


def main(argv: Sequence[str], prog: str = "signstream stats") -> int:
    """Print the counters; Redis unreachable or refusing us is one error line and exit code 3."""
    settings = local_deployment.follow(load_settings(CommonSettings, argv, prog))
    return one_shot(settings.redis_url, lambda client: show(client, settings))


def show(client, settings: CommonSettings) -> int:
    cameras = client.hgetall(settings.keys.cameras)
    for camera, raw in sorted(cameras.items()):
        try:
            info = CameraRecord.decode(raw)
        except DecodeError as e:
            print(f"camera {text(camera)}: unreadable entry in {settings.keys.cameras} ({e}): remove it with HDEL")
            continue
        print(f"camera {text(camera)}: {info.status}, {info.frames_sent} frames sent, source {info.source}")
    for service in SERVICES:
        for worker, raw in sorted(client.hgetall(settings.keys.stats(service)).items()):
            try:
                snap = StatsSnapshot.decode(raw)
            except DecodeError as e:
                print(f"{service} {text(worker)}: unreadable entry in {settings.keys.stats(service)} ({e})")
                continue
            for camera, counts in sorted(snap.cameras.items()):
                numbers = " ".join(f"{k}={v}" for k, v in sorted(counts.items()) if not isinstance(v, dict))
                print(f"{service} {text(worker)} {camera}: {numbers}")
    if not cameras and not ever_here(client, settings.keys):
        print(nothing_here(redact_url(settings.redis_url), settings.namespace))
        return EXIT_ERROR
    if not cameras:
        print(f"no camera registered in {settings.keys.cameras} at {redact_url(settings.redis_url)}")
    return 0
