"""The gateway's application: one `Gateway` (Redis clients, live hubs, browser cameras), its routers
(services/gateway/routes/), error handlers, and the middleware every request passes."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import redis
import redis.asyncio
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from services.gateway import api_models as api
from services.gateway.auth import TokenMiddleware
from services.gateway.body_limit import BodyLimit
from services.gateway.browser_camera import BrowserCameras, Limits
from services.gateway.live import MESSAGES, Hub
from services.gateway.routes.cameras import cameras_router
from services.gateway.routes.context import Gateway
from services.gateway.routes.health import health_router
from services.gateway.routes.models import models_router
from services.gateway.routes.pages import mount_files, pages_router
from services.gateway.routes.streams import streams_router
from services.gateway.settings import GatewaySettings
from shared.health import HEARTBEAT_TTL_S, beat, clear
from shared.logs import default_worker_id
from shared.redis_client import CONNECTION_ERRORS, connect, is_auth_error, redact_url

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def gateway_for(settings: GatewaySettings, token: str | None) -> Gateway:
    keys = settings.keys
    # A request waits for a free connection rather than failing when many need one at once.
    async_client = redis.asyncio.Redis.from_pool(redis.asyncio.BlockingConnectionPool.from_url(  # closed with it
        settings.redis_url, max_connections=100, timeout=20, socket_connect_timeout=5, health_check_interval=30))
    hubs = {name: Hub(async_client, name, getattr(keys, name), settings.client_buffer) for name in MESSAGES}
    browser = BrowserCameras(async_client, keys, hubs, Limits(max_cameras=settings.max_browser_cameras),
                             settings.stream_maxlen)
    return Gateway(settings, token, connect(settings.redis_url), async_client, hubs, browser)


def lifespan_of(gw: Gateway):
    worker = default_worker_id("gateway")
    settings, client, keys = gw.settings, gw.client, gw.keys

    async def heartbeat() -> None:
        """`health:gateway:<worker>`, which the image's HEALTHCHECK (`signstream health --local gateway`) reads."""
        while True:
            try:
                await asyncio.to_thread(beat, client, keys, "gateway", worker)
            except redis.RedisError:
                pass  # Redis away: the key lapses and health says so, which is true
            await asyncio.sleep(HEARTBEAT_TTL_S / 3)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        tasks = [asyncio.create_task(hub.run(settings.redis_url), name=f"hub-{hub.stream}") for hub in gw.hubs.values()]
        tasks.append(asyncio.create_task(heartbeat(), name="heartbeat"))
        log.info("gateway reading Redis at %s%s", redact_url(settings.redis_url),
                 f", namespace {settings.namespace!r}" if settings.namespace else "")
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                clear(client, keys, "gateway", worker)
            except redis.RedisError:
                pass
            await gw.async_client.aclose()
            client.close()

    return lifespan


async def redis_trouble(request: Request, exc: redis.RedisError) -> JSONResponse:
    if is_auth_error(exc):
        detail = "Redis refuses the gateway's credentials: the operator must fix its REDIS_URL"
    elif isinstance(exc, CONNECTION_ERRORS):
        detail = "Redis is unreachable: the pipeline's data cannot be read now; retry"
    else:
        detail = "Redis could not answer this request; retry, and tell the operator if it persists"
    log.warning("%s %s: %s (%s)", getattr(request, "method", "WEBSOCKET"), request.url.path, detail, exc)
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})


async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}",
                         "errors": [{k: v for k, v in jsonable_encoder(e, custom_encoder={bytes: repr}).items()
                                     if k in ("type", "loc", "msg")} for e in exc.errors()]},
                        status_code=422)


def create_app(settings: GatewaySettings, token: str | None) -> FastAPI:
    gw = gateway_for(settings, token)
    # The interactive docs pages load their scripts from a CDN, which offline sites cannot reach:
    # the spec itself is at /openapi.json.
    app = FastAPI(title="signstream gateway", version="1", lifespan=lifespan_of(gw), docs_url=None, redoc_url=None,
                  responses={422: {"model": api.ValidationProblem, "description": "a parameter or the body is invalid"}},
                  description="Cameras, models, detections and health of a signstream deployment, and live "
                              "streams of predictions and detections (Server-Sent Events, resumable by id). "
                              "Where a token is set, send it as `Authorization: Bearer <token>`.")
    app.state.hubs = gw.hubs
    app.add_exception_handler(redis.RedisError, redis_trouble)
    app.add_exception_handler(RequestValidationError, bad_request)
    for router in (cameras_router, models_router, streams_router, health_router, pages_router):
        app.include_router(router(gw))
    mount_files(app, gw)

    app.add_middleware(TokenMiddleware, token=token)  # nothing of the API runs for a request without the token
    if settings.cors_origin:  # outside the token check: a browser's preflight never carries the token
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Last-Event-ID", "Content-Type"])
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)  # outermost: before the token check does any work
    return app
