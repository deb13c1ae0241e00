"""`signstream health`: one line per camera and worker, and an exit code a probe can use.

Exit 0 when everything known is up, 1 when a camera or worker is down (or cameras run with no
keypoint worker or classifier to serve them), 3 when Redis is unreachable or refuses us.
`--local SERVICE` answers only for the workers of SERVICE on this host: a container's HEALTHCHECK.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared import local_deployment
from shared.health import assess, ever_here, nothing_here, read_beats
from shared.redis_client import one_shot, redact_url
from shared.settings import CommonSettings, load_settings

EXIT_DOWN = 1


class HealthSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_HEALTH_")

    local: str | None = Field(None, description="only this service's workers on this host (capture, keypoints, "
                                                "classifier, trainer): exit 0 if one is alive")
    stale_s: float = Field(15.0, gt=0, description="a camera not heard from for this long is down")


def main(argv: Sequence[str], prog: str = "signstream health") -> int:
    settings = local_deployment.follow(load_settings(HealthSettings, argv, prog))
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
    items = assess(client, settings.keys, settings.stale_s)
    if not items and not ever_here(client, settings.keys):
        print(nothing_here(redact_url(settings.redis_url), settings.namespace))
        return EXIT_DOWN
    print("\n".join(item.line() for item in items) if items
          else "nothing running: no camera or worker reports to this Redis now")
    return 0 if all(item.up for item in items) else EXIT_DOWN

