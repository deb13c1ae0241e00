"""Settings of capture (env prefix SIGNSTREAM_CAPTURE_)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.keys import CAMERA_ID, camera_id_for
from shared.settings import CommonSettings


class CaptureSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_CAPTURE_")

    source: str = Field(..., description="camera index (0), device (/dev/video0), video file, rtsp:// or http:// URL, "
                        "or image folder")
    camera: str | None = Field(None, pattern=CAMERA_ID.pattern,
                               description="camera id in stream names (default: from the source)")
    fps: float = Field(15.0, gt=0, le=120, description="frames per second to publish")
    width: int | None = Field(None, ge=16, le=7680, description="resize to this width (keeps aspect unless --height too)")
    height: int | None = Field(None, ge=16, le=4320, description="resize to this height (keeps aspect unless --width too)")
    max_width: int = Field(960, ge=0, le=16384, description="scale wider frames down to this width, keeping aspect, "
                           "unless --width or --height say otherwise (0: keep the source's size); full HD costs JPEG time "
                           "and Redis memory and no accuracy (bench/results/frame_size.md)")
    jpeg_quality: int = Field(80, ge=10, le=100, description="JPEG quality of published frames")
    loop: bool = Field(False, description="replay a video file or image folder from the start when it ends")
    pace: bool = Field(True, description="publish in real time at --fps; --no-pace publishes as fast as possible")
    max_frames: int = Field(0, ge=0, description="stop after this many frames (0: no limit)")
    heartbeat_s: float = Field(1.0, gt=0, description="how often the camera's entry in the cameras hash is refreshed")
    reopen_max_s: float = Field(30.0, gt=0, description="longest wait between attempts to reopen a failed source")

    @model_validator(mode="after")
    def _camera_from_source(self) -> "CaptureSettings":
        if self.camera is None:
            self.camera = camera_id_for(self.source)
        return self
