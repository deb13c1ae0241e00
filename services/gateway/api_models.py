"""The API's response and request bodies, as the OpenAPI spec shows them to client authors."""

from __future__ import annotations

import dataclasses
from typing import get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from shared import messages


class Camera(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    up: bool = Field(description="sending frames now (an ended file source counts as up)")
    state: str = Field(description="what `signstream health` says about it")
    source: str | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    status: str | None = None
    last_seen_ms: int | None = None
    frames_sent: int | None = None


class Keypoints(BaseModel):
    camera: str
    seq: int
    capture_ts_ms: int
    parts: list[str] = Field(description="what MediaPipe found in this frame: pose, face, left_hand, right_hand")
    worker: str
    processing_ms: float
    pose: list[list[float]] = Field(description="33 points (x, y, z, visibility), x and y in 0..1 of the image")
    left_hand: list[list[float]] = Field(description="21 points (x, y, z); empty when not found")
    right_hand: list[list[float]] = Field(description="21 points (x, y, z); empty when not found")


def default_of(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return Field(default_factory=field.default_factory)
    return ...  # required


def with_stream_id(message: type, what: str) -> type[BaseModel]:
    """The API's view of a stream message: its fields as the shared message class defines them, and its id."""
    hints = get_type_hints(message)
    fields = {f.name: (hints[f.name], default_of(f)) for f in dataclasses.fields(message)}
    return create_model(message.__name__, __doc__=message.__doc__,
                        id=(str, Field(description=f"its id on the `{what}` stream: resume a live stream from it")),
                        **fields)


Prediction = with_stream_id(messages.Prediction, "predictions")
Detection = with_stream_id(messages.Detection, "detections")


class ModelVersion(BaseModel):
    id: str = Field(description="its id on the `models` stream")
    version: str
    path: str
    labels: list
    metrics: dict = Field(description="accuracy, confusion (rows true, columns predicted, in label order), "
                                      "precision, recall, ...")


class Serving(BaseModel):
    model: str | None = Field(description="the version this classifier worker serves (`shipped` for the "
                                          "model that comes with signstream)")
    updated_ms: int | None


class ModelsView(BaseModel):
    serving: dict[str, Serving] = Field(description="classifier worker -> what it serves now")
    versions: list[ModelVersion] = Field(description="promoted versions, newest first")


class HealthItem(BaseModel):
    kind: str = Field(description="camera, keypoints, classifier or trainer")
    name: str
    up: bool
    state: str


class Health(BaseModel):
    ok: bool = Field(description="false when any camera or worker is down (the response is then 503)")
    items: list[HealthItem]


class TrainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[str] | None = Field(None, min_length=1, max_length=100,
                                   description="MP_DATA folders or signer files as the trainer sees them; "
                                               "default: the gateway's --train-data")
    options: dict = Field(default_factory=dict, description="trainer options, e.g. {\"epochs\": 100}")


class TrainAccepted(BaseModel):
    request_id: str
    id: str = Field(description="the request's id on `train:requests`")


class TrainProgressView(BaseModel):
    epoch: int = Field(description="epochs finished (0 before the first)")
    epochs: int = Field(description="at most this many; early stopping may end sooner")
    val_accuracy: float = Field(description="validation accuracy after the last finished epoch")
    started_ms: int
    updated_ms: int
    worker: str
    request_id: str


class TrainResultView(BaseModel):
    id: str = Field(description="the result's entry on train:results; empty while training")
    request_id: str
    status: str = Field(description="training, done or rejected")
    version: str
    promoted: int
    reason: str
    metrics: dict
    progress: TrainProgressView | None = None


class Problem(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    detail: str = Field(description="the first thing wrong with the request, as a person reads it")
    errors: list[dict] = Field(default_factory=list, description="everything wrong: type, loc (where), msg")
