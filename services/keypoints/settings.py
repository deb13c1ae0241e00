"""Settings of a keypoint worker (env prefix SIGNSTREAM_KEYPOINTS_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import CommonSettings


class KeypointsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_KEYPOINTS_")

    worker_id: str | None = Field(None, description="consumer name in the keypoints group (default: host and pid)")
    max_age: float = Field(1.0, gt=0, description="seconds: older frames are acknowledged and dropped (counted), "
                           "to stay real-time")
    drop_behind: bool = Field(True, description="when newer frames of a camera already wait, process the newest and "
                              "drop the older ones (counted, reported as gaps), so every camera gets its share and its "
                              "delay stays at about one frame's processing; --no-drop-behind processes every frame "
                              "younger than --max-age")
    read_count: int = Field(8, ge=2, le=100, description="with --drop-behind, frames read per camera at once "
                            "(the newest is processed)")
    block_ms: int = Field(1000, ge=1, description="how long one read waits for frames")
    claim_idle_ms: int = Field(10000, ge=100, description="frames pending this long in a dead worker are claimed")
    refresh_cameras_s: float = Field(2.0, gt=0, description="how often the cameras hash is read for new cameras")
    idle_camera_s: float = Field(60.0, gt=0, description="seconds without frames after which a camera is not "
                                 "read and its tracker is released, until it sends again")
    max_pixels: int = Field(3840 * 2160, ge=1, description="frames with more pixels (read from the JPEG header, "
                            "before decoding) go to dead: capture's --max-width keeps frames below it")
    min_detection_confidence: float = Field(0.5, ge=0, le=1, description="MediaPipe Holistic detection confidence")
    min_tracking_confidence: float = Field(0.5, ge=0, le=1, description="MediaPipe Holistic tracking confidence")
