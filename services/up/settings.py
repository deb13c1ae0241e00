"""Settings of `signstream up` (env prefix SIGNSTREAM_UP_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from shared.settings import CommonSettings


class UpSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_UP_")

    redis_url: str | None = Field(  # type: ignore[assignment]
        None,
        validation_alias=AliasChoices("redis_url", "REDIS_URL"),
        description="Redis to use (env REDIS_URL); unset: start an embedded redis-server in --data-dir",
    )
    camera: list[str] = Field(
        default_factory=list,
        description="a camera source (index, device, video file, URL or image folder); repeat for more cameras",
    )
    fps: float = Field(15.0, gt=0, le=60, description="frames per second each camera publishes")
    loop: bool = Field(True, description="replay video files from the start when they end")
    keypoint_workers: int = Field(1, ge=1, le=16, description="keypoint worker processes")
    models_dir: Path = Field(Path("models"), description="where trained model versions live")
    stride: int = Field(3, ge=1, le=30, description="classify each camera's window every this many frames")
    bootstrap_data: Path | None = Field(
        None, description="where no model exists yet, train one on this data first (MP_DATA folder or signer files)")
    bootstrap_epochs: int = Field(40, ge=1, description="epochs of that first training")
    unknown_data: list[Path] = Field(default_factory=list,
                                     description="recordings of other signs that every training here learns as "
                                                 "`unknown` (e.g. ../shared/datasets/other_signs); repeat for more")
    gateway_port: int = Field(8080, ge=0, le=65535,
                              description="port of the dashboard and HTTP API, on 127.0.0.1 only; 0: no gateway")
    data_dir: Path = Field(Path(".signstream"), description="where the embedded Redis keeps its data")
    status_every_s: float = Field(5.0, gt=0, description="how often to print a status line")
