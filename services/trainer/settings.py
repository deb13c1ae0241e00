"""Settings of `signstream train` and the trainer service (env prefix SIGNSTREAM_TRAINER_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.trainer.model import ARCHITECTURES, resolve_training
from shared.settings import CommonSettings


class ModelChoices(CommonSettings):
    """What to train: shared by `signstream train`, the trainer service and `evaluate --by-signer`."""

    recipe: bool = Field(False, description="the notebook's way exactly: recipe network, raw keypoints, no augmentation")
    arch: Literal[ARCHITECTURES] = Field("gru", description=f"network: {', '.join(ARCHITECTURES)}")
    normalise: bool = Field(True, description="make keypoints relative to the body (shoulder centre and width) first")
    augment: bool = Field(True, description="train on windows changed as real signing allows: mirror, turn, speed, lost hands")
    face: bool = Field(False, description="also feed the 468 face points to the network (default: pose and hands only)")
    audit: bool = Field(False, description="with 3+ sources (signer files, MP_DATA folders): first leave out a source's "
                                           "recordings of a sign that quick models trained on the others take for another")

    def model_choices(self) -> dict:
        return resolve_training(self.recipe, self.arch, self.normalise, self.augment, self.face, self.audit)


class TrainerSettings(ModelChoices):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_TRAINER_")

    models_dir: Path = Field(Path("models"), description="where versions are written")
    epochs: int = Field(200, ge=1, le=100000, description="most epochs to train")
    audit_epochs: int = Field(20, ge=1, le=1000, description="with --audit, epochs of each quick model (fewer: a "
                              "quicker audit, which may miss a swapped label)")
    batch_size: int = Field(32, ge=1, le=4096, description="sequences per training step")
    learning_rate: float = Field(1e-3, gt=0, lt=1, description="Adam learning rate")
    val_fraction: float = Field(0.2, gt=0, lt=0.9, description="share of each action held out for validation")
    patience: int = Field(30, ge=0, description="stop after this many epochs without a better validation loss (0: never)")
    seed: int = Field(0, description="random seed: the same data and seed give the same model")
    min_accuracy: float = Field(0.8, ge=0, le=1, description="validation accuracy a model needs to be promoted")
    announce: bool = Field(True, description="announce a promoted model on the models stream (--no-announce: only files)")
    actions: list[str] = Field(default_factory=list, description="train on these actions only (default: all found)")
    unknown: list[Path] = Field(default_factory=list, description="recordings of other signs (files or folders, as "
                                "--data): learned as one more label, `unknown`, which the classifier never reports")
    idle: bool = Field(True, description="with --unknown, also learn windows without hands as `unknown`")


class TrainCommandSettings(TrainerSettings):
    data: list[Path] = Field(..., description="MP_DATA folder, signer .npz file or folder of them; repeat for more")
