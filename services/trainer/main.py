"""`signstream trainer`: the service that trains on requests from `train:requests`."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.trainer.service import TrainerService
from services.trainer.settings import TrainerSettings
from shared.lifecycle import serve
from shared.logs import default_worker_id
from shared.redis_client import connect


class TrainerServiceSettings(TrainerSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_TRAINER_")

    worker_id: str | None = Field(None, description="consumer name in the trainer group (default: host and pid)")


def run_trainer(settings: TrainerServiceSettings, stop: threading.Event) -> TrainerService:
    worker = settings.worker_id or default_worker_id("trainer")
    base = TrainerSettings.model_validate(settings.model_dump(exclude={"worker_id"}))
    service = TrainerService(connect(settings.redis_url), base, worker, stop)
    service.run()
    return service


def main(argv: Sequence[str], prog: str = "signstream trainer") -> int:
    return serve(TrainerServiceSettings, argv, prog, "trainer", run_trainer)
