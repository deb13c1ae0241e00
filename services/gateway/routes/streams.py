"""Detections and predictions: the newest ones, and live as Server-Sent Events, resumable by id."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from services.gateway import api_models as api
from services.gateway import readers
from services.gateway.live import MESSAGES, check_stream_id, events
from services.gateway.routes.context import PROBLEM, CameraFilter, Gateway, StreamId


class EventStream(StreamingResponse):
    """A live stream whose generator is closed when the response ends, however it ends. Starlette
    abandons the generator when a write to a client that hung up fails; its cleanup (leaving the hub)
    would then wait for the garbage collector, and gone clients would pile up."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


def streams_router(gw: Gateway) -> APIRouter:
    router = APIRouter(tags=["live"])
    client, keys, settings, hubs = gw.client, gw.keys, gw.settings, gw.hubs

    @router.get("/api/detections", response_model=list[api.Detection])
    def recent_detections(camera: CameraFilter = None, before: StreamId = None,
                          count: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict]:
        """The newest detections, newest first (page back with `before`)."""
        return readers.recent(client, keys.detections, MESSAGES["detections"], count, camera, before)

    @router.get("/api/predictions", response_model=list[api.Prediction])
    def recent_predictions(camera: CameraFilter = None, before: StreamId = None,
                           count: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict]:
        """The newest predictions (one per classified window), newest first."""
        return readers.recent(client, keys.predictions, MESSAGES["predictions"], count, camera, before)

    @router.get("/api/events/{stream}", responses={
        200: {"content": {"text/event-stream": {}},
              "description": "Server-Sent Events: `event: detection` or `prediction`, `id:` the entry's stream id, "
                             "`data:` the entry as JSON; `overflow` when this client fell behind (reconnect), "
                             "`gap` when entries after the given id were trimmed"},
        503: PROBLEM})
    async def live(request: Request, stream: Literal["predictions", "detections"], camera: CameraFilter = None,
                   last_id: StreamId = None) -> EventStream:
        """Entries as they are published; with `last_id` (or the Last-Event-ID header that EventSource sends
        on reconnect) first every entry after it, so that a reconnecting client misses none and gets none twice."""
        # The header wins: EventSource sends it on reconnect, with the URL (and its last_id) unchanged.
        resume = request.headers.get("last-event-id") or last_id
        if resume is not None:
            try:
                check_stream_id(resume)
            except ValueError as e:
                raise HTTPException(422, f"Last-Event-ID: {e}") from None
        hub = hubs[stream]
        if sum(len(h.subscribers) for h in hubs.values()) >= settings.max_clients:
            raise HTTPException(503, f"{settings.max_clients} live clients already: try again later")
        return EventStream(events(gw.async_client, hub, camera, resume, settings.backfill_max, request.is_disconnected),
                           media_type="text/event-stream",
                           headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return router
