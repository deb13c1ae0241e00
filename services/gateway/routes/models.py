"""Models: what serves and every promoted version, and training on request."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from services.gateway import api_models as api
from services.gateway import readers
from services.gateway.routes.context import PROBLEM, Gateway
from shared.errors import DecodeError
from shared.messages import TrainRequest
from shared.text import text


def models_router(gw: Gateway) -> APIRouter:
    router = APIRouter(tags=["models"])
    client, keys, settings = gw.client, gw.keys, gw.settings

    @router.get("/api/models", response_model=api.ModelsView)
    def list_models() -> dict:
        """What each classifier serves now, and every promoted version with its accuracy and confusion matrix."""
        return {"serving": readers.serving(client, keys), "versions": readers.models(client, keys)}

    @router.post("/api/train", response_model=api.TrainAccepted, status_code=202, responses={400: PROBLEM})
    def request_training(body: api.TrainBody) -> dict:
        """Ask the trainer for a new model; GET /api/train/{request_id} tells how it went."""
        data = body.data or settings.train_data
        if not data:
            raise HTTPException(422, "no data to train on: give `data`, or start the gateway with --train-data")
        try:
            request = TrainRequest(data=list(data), options=body.options, request_id=secrets.token_hex(8))
        except DecodeError as e:
            raise HTTPException(422, str(e)) from None
        entry_id = client.xadd(keys.train_requests, request.encode(), maxlen=settings.stream_maxlen, approximate=True)
        return {"request_id": request.request_id, "id": text(entry_id)}

    @router.get("/api/train/{request_id}", response_model=api.TrainResultView, responses={404: PROBLEM})
    def training_result(request_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]) -> dict:
        """The request's result; while it trains, status `training` with the epochs done so far."""
        found = readers.train_result(client, keys, request_id)
        if found is None:
            raise HTTPException(404, f"nothing of {request_id!r} yet: the trainer takes requests one at a time, "
                                     "or it is not running (GET /api/health)")
        return found

    return router
