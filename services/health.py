"""`signstream health`: one line per camera and worker, and an exit code a probe can use.

Exit 0 when everything known is up, 1 when a camera or worker is down (or cameras run with no
keypoint worker or classifier to serve them), 3 when Redis is unreachable or refuses us.
`--local SERVICE` answers only for the workers of SERVICE on this host: a container's HEALTHCHECK.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.health import Beat, read_beats
from shared.messages import now_ms
from shared.redis_client import one_shot
from shared.settings import CommonSettings, load_settings

EXIT_DOWN = 1
SERVICES = ("keypoints", "classifier", "trainer")
NEEDED = ("keypoints", "classifier")  # without one of each, running cameras are not served
FORGET_S = 3600  # a worker silent for longer is history, not a failure


class HealthSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_HEALTH_")

    local: str | None = Field(None, description="only this service's workers on this host (capture, keypoints, "
                                                "classifier, trainer): exit 0 if one is alive")
    stale_s: float = Field(15.0, gt=0, description="a camera not heard from for this long is down")


def main(argv: Sequence[str], prog: str = "signstream health") -> int:
    settings = load_settings(HealthSettings, argv, prog)
    return one_shot(settings.redis_url, lambda client: (local if settings.local else report)(client, settings))


def local(client, settings: HealthSettings) -> int:
    host = socket.gethostname()
    mine = [b for b in read_beats(client, settings.keys) if b.service == settings.local and b.host == host]
    if not mine:
        print(f"no live {settings.local} worker on {host}")
        return EXIT_DOWN
    print(" ".join(f"{b.service} {b.worker}: up" for b in mine))
    return 0


def report(client, settings: HealthSettings) -> int:
    now = now_ms()
    lines, down = [], 0
    beats: dict[tuple[str, str], Beat] = {(b.service, b.worker): b for b in read_beats(client, settings.keys)}

    running_cameras = 0
    for camera, raw in sorted(client.hgetall(settings.keys.cameras).items()):
        try:
            info = json.loads(raw)
        except ValueError:
            continue
        status = info.get("status", "?")
        age_s = (now - int(info.get("last_seen_ms", 0))) / 1000
        if status == "ended":
            state = "ended (its source finished)"
        elif age_s > settings.stale_s:
            state, down = f"DOWN: last heard {age_s:.0f} s ago ({status})", down + 1
        elif status != "running":
            state, down = f"DOWN: {status}, its source fails", down + 1
        else:
            state, running_cameras = "up", running_cameras + 1
        lines.append(f"camera {camera.decode(errors='replace')}: {state}, "
                     f"{info.get('frames_sent', 0)} frames sent, source {info.get('source', '?')}")

    for service in SERVICES:
        reported = {w.decode(errors="replace"): raw for w, raw in client.hgetall(settings.keys.stats(service)).items()}
        alive = sorted(w for (s, w) in beats if s == service)
        for worker in sorted(set(alive) | set(reported)):
            if worker in alive:
                age_s = (now - beats[service, worker].ms) / 1000
                lines.append(f"{service} {worker}: up, heartbeat {age_s:.0f} s ago")
                continue
            try:
                snap = json.loads(reported[worker])
            except ValueError:
                continue
            silent_s = (now - int(snap.get("updated_ms", 0))) / 1000
            if snap.get("stopped") or silent_s > FORGET_S:
                continue
            down += 1
            lines.append(f"{service} {worker}: DOWN: no heartbeat, last report {silent_s:.0f} s ago")
        if service in NEEDED and running_cameras and not alive:
            down += 1
            lines.append(f"{service}: DOWN: {running_cameras} cameras run and no {service} worker serves them: start one")

    if not lines:
        lines.append("nothing registered: no camera or worker has reported to this Redis")
    print("\n".join(lines))
    return EXIT_DOWN if down else 0
