"""What every router of the gateway works with: its settings, Redis clients, live hubs and browser cameras."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
import redis.asyncio
from fastapi import Path, Query
from pydantic import AfterValidator

from services.gateway import api_models as api
from services.gateway.browser_camera import BrowserCameras
from services.gateway.live import STREAM_ID, Hub, check_stream_id
from services.gateway.settings import GatewaySettings
from shared.keys import CAMERA_ID, Keys

CameraId = Annotated[str, Path(pattern=CAMERA_ID.pattern, description="a camera id (1-64 of A-Z a-z 0-9 _ . -)")]
CameraFilter = Annotated[str | None, Query(pattern=CAMERA_ID.pattern, description="only this camera")]
StreamId = Annotated[str | None, Query(pattern=STREAM_ID.pattern, max_length=41,
                                       description="a stream id like 1732612345678-0"),
                     AfterValidator(lambda v: v if v is None else check_stream_id(v))]
PROBLEM = {"model": api.Problem}


@dataclass
class Gateway:
    settings: GatewaySettings
    token: str | None
    client: redis.Redis  # for the API's short reads (run in FastAPI's thread pool)
    async_client: redis.asyncio.Redis  # for live streams and browser cameras (on the event loop)
    hubs: dict[str, Hub]
    browser: BrowserCameras

    @property
    def keys(self) -> Keys:
        return self.settings.keys
