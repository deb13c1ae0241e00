"""Settings of the classifier (env prefix SIGNSTREAM_CLASSIFIER_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import CommonSettings


class ClassifierSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_CLASSIFIER_")

    worker_id: str | None = Field(None, description="consumer name in the classifier group (default: host and pid)")
    model: Path | None = Field(None, description="serve this model version directory instead of the announced one")
    shipped_model: bool = Field(True, description="where no trained version is current, serve the model shipped with "
                                "signstream (--no-shipped-model: wait for a trained one)")
    models_dir: Path = Field(Path("models"), description="where the trainer writes versions; `current` names the one "
                             "to serve at start")
    stride: int = Field(3, ge=1, le=30, description="classify a camera's window every this many new frames")
    gap_wait_ms: int = Field(300, ge=0, le=10000, description="how long a missing frame is waited for (from when a "
                             "later one arrived) before its slot is filled with the frame before it")
    max_hole_ms: int = Field(1000, ge=100, le=60000, description="capture time without a real frame after which a "
                             "camera's window starts anew")
    # 5: with one frame in six kept (2.5 fps) the live clips lose 2 of 17 clean detections and gain no false
    # ones; at 4 and 3 real frames they lose 4 and 6 (bench/results/frame_rate.md).
    min_frames: int = Field(5, ge=1, le=30, description="real frames a window needs to be classified (dropped ones "
                            "repeat the frame before); an overloaded camera keeps fewer")
    max_age_s: float = Field(5.0, gt=0, description="keypoints captured longer ago than this are counted stale and "
                             "not classified (a backlog after a restart)")
    # 0.8 and 3 windows: on 93 people's streams, 0.171 of signs missed and 1.18 false detections per
    # minute of non-sign material, against 0.199 and 1.05 at 0.7 and 5, detected 0.4 s sooner
    # (bench/results/confirm_windows.md).
    threshold: float = Field(0.8, gt=0, le=1, description="confidence a window's top label needs to count toward a detection")
    confirm_windows: int = Field(3, ge=1, description="consecutive windows with the same top label that confirm a detection")
    unknown_weight: float = Field(1.0, gt=0, le=1, description="scale the `unknown` label's probability by this before "
                                  "the top label is taken (below 1: fewer signs lost to unknown, more false detections)")
    batch_entries: int = Field(64, ge=1, le=1024, description="keypoint entries read per pass (all cameras)")
    block_ms: int = Field(200, ge=1, description="how long one read waits for new keypoints")
    batch_wait_ms: int = Field(10, ge=0, le=1000, description="with several cameras, wait this long after a pass that "
                               "read less than a full batch, so the next one reads more at once (less CPU per "
                               "camera, at most this much later; 0: never)")
    claim_idle_ms: int = Field(10000, ge=100, description="entries pending this long in a dead classifier are claimed")
    refresh_cameras_s: float = Field(2.0, gt=0, description="how often the cameras hash is read for new cameras")
    idle_camera_s: float = Field(60.0, gt=0, description="seconds without keypoints after which a camera is not "
                                 "read and its windows are dropped, until it sends again")
