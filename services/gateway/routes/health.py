"""Health, every worker's stats, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from services.gateway import api_models as api
from services.gateway import readers
from services.gateway.metrics import PipelineCollector
from services.gateway.routes.context import Gateway
from shared.health import SERVICES, assess


def health_router(gw: Gateway) -> APIRouter:
    router = APIRouter(tags=["health"])
    client, keys, stale_s = gw.client, gw.keys, gw.settings.stale_s
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(lambda: readers.stats(client, keys, SERVICES), gw.hubs,
                                        lambda: readers.cameras(client, keys, stale_s), gw.browser.counters))

    @router.get("/api/health", response_model=api.Health, responses={503: {"model": api.Health}})
    def health() -> JSONResponse:
        """One item per camera and worker; 503 when any is down, so a probe can use the status alone."""
        items = assess(client, keys, stale_s)
        ok = all(item.up for item in items)
        body = {"ok": ok, "items": [{"kind": i.kind, "name": i.name, "up": i.up, "state": i.state} for i in items]}
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/api/stats")
    def stats() -> dict[str, dict[str, dict]]:
        """Every worker's last report: per camera counters (in, out, dropped, ...) and timings."""
        return readers.stats(client, keys, SERVICES)

    @router.get("/metrics", responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics() -> Response:
        """Prometheus metrics of every service (from their stats in Redis) and of the gateway."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
