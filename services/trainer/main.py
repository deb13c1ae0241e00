"""`signstream trainer`: the service that trains on requests from `train:requests`."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.trainer.service import TrainerService
from services.trainer.settings import TrainerSettings
from shared.lifecycle import serve
from shared.logs import default_worker_id
from shared.model_store import ModelStore
from shared.redis_client import connect


class TrainerServiceSettings(TrainerSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_TRAINER_")

    worker_id: str | None = Field(None, description="consumer name in the trainer group (default: host and pid)")
    first_model_data: Path | None = Field(None, description="where no model is promoted yet, first train "
                                          "on this (MP_DATA folder or signer files), so a fresh deployment serves "
                                          "without a request")
    first_model_epochs: int = Field(40, ge=1, le=100000, description="most epochs of that first training")
    data_root: list[Path] = Field(default_factory=list, description="a folder train requests may name data under; "
                                  "repeat for more (--first-model-data and --unknown are always allowed)")

    @field_validator("first_model_data", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if value == "" else value  # compose passes an unset variable as ""


def run_trainer(settings: TrainerServiceSettings, stop: threading.Event) -> TrainerService:
    worker = settings.worker_id or default_worker_id("trainer")
    base = TrainerSettings.model_validate(settings.model_dump(exclude={"worker_id", "first_model_data", "first_model_epochs",
                                                                       "data_root"}))
    roots = [*settings.data_root, *settings.unknown, *([settings.first_model_data] if settings.first_model_data else [])]
    service = TrainerService(connect(settings.redis_url), base, worker, stop, roots)
    if settings.first_model_data is not None and ModelStore(settings.models_dir).current() is None:
        service.train_first_model([settings.first_model_data], settings.first_model_epochs)
    service.run()
    return service


def main(argv: Sequence[str], prog: str = "signstream trainer") -> int:
    return serve(TrainerServiceSettings, argv, prog, "trainer", run_trainer)
