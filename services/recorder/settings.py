"""Settings of `signstream collect` (env prefix SIGNSTREAM_COLLECT_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.keys import CAMERA_ID
from shared.settings import CommonSettings


class CollectSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_COLLECT_")

    camera: str = Field(..., pattern=CAMERA_ID.pattern, description="camera id whose keypoints are recorded")
    action: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$", description="the sign being recorded, e.g. hello")
    sequences: int = Field(30, ge=1, le=10000, description="how many 30-frame sequences to record")
    root: Path = Field(Path("MP_DATA"), description="MP_DATA folder: <root>/<action>/<sequence>/<frame>.npy")
    pause_s: float = Field(2.0, ge=0, description="pause before each sequence, for the signer to get ready")
    gap_wait_ms: int = Field(300, ge=0, description="how long a missing frame is waited for before it is skipped")
    timeout_s: float = Field(30.0, gt=0, description="give up when no keypoints arrive for this long")
