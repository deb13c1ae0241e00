"""The gateway's HTTP API: routes over Redis, live streams, metrics and the dashboard's files."""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Literal
from urllib.parse import parse_qs

import redis
import redis.asyncio
from fastapi import FastAPI, HTTPException, Path, Query, Request, WebSocket
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry
from pydantic import AfterValidator

from services.gateway import api_models as api
from services.gateway import readers
from services.gateway.auth import COOKIE, LOGIN_PAGE, TokenMiddleware, token_matches
from services.gateway.body_limit import BodyLimit
from services.gateway.browser_camera import BrowserCameras, Limits
from services.gateway.holistic_files import is_complete
from services.gateway.live import MESSAGES, STREAM_ID, Hub, check_stream_id, events
from services.gateway.metrics import PipelineCollector
from services.gateway.settings import GatewaySettings
from shared.errors import DecodeError
from shared.health import HEARTBEAT_TTL_S, SERVICES, assess, beat, clear
from shared.keys import CAMERA_ID
from shared.logs import default_worker_id
from shared.messages import TrainRequest
from shared.redis_client import CONNECTION_ERRORS, connect, is_auth_error, redact_url
from shared.text import text

log = logging.getLogger(__name__)

CameraId = Annotated[str, Path(pattern=CAMERA_ID.pattern, description="a camera id (1-64 of A-Z a-z 0-9 _ . -)")]
CameraFilter = Annotated[str | None, Query(pattern=CAMERA_ID.pattern, description="only this camera")]
StreamId = Annotated[str | None, Query(pattern=STREAM_ID.pattern, max_length=41,
                                       description="a stream id like 1732612345678-0"),
                     AfterValidator(lambda v: v if v is None else check_stream_id(v))]
MAX_BODY = 64 * 1024
PROBLEM = {"model": api.Problem}


class EventStream(StreamingResponse):
    """A live stream whose generator is closed when the response ends, however it ends. Starlette
    abandons the generator when a write to a client that hung up fails; its cleanup (leaving the hub)
    would then wait for the garbage collector, and gone clients would pile up."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


def create_app(settings: GatewaySettings, token: str | None) -> FastAPI:
    keys = settings.keys
    client = connect(settings.redis_url)
    # A request waits for a free connection rather than failing when many need one at once.
    async_client = redis.asyncio.Redis.from_pool(redis.asyncio.BlockingConnectionPool.from_url(  # closed with it
        settings.redis_url, max_connections=100, timeout=20, socket_connect_timeout=5, health_check_interval=30))
    hubs = {name: Hub(async_client, name, getattr(keys, name), settings.client_buffer) for name in MESSAGES}

    worker = default_worker_id("gateway")

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
        tasks = [asyncio.create_task(hub.run(settings.redis_url), name=f"hub-{hub.stream}") for hub in hubs.values()]
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
            await async_client.aclose()
            client.close()

    # The interactive docs pages load their scripts from a CDN, which offline sites cannot reach:
    # the spec itself is at /openapi.json.
    app = FastAPI(title="signstream gateway", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  responses={422: {"model": api.ValidationProblem, "description": "a parameter or the body is invalid"}},
                  description="Cameras, models, detections and health of a signstream deployment, and live "
                              "streams of predictions and detections (Server-Sent Events, resumable by id). "
                              "Where a token is set, send it as `Authorization: Bearer <token>`.")
    app.state.hubs = hubs
    browser = BrowserCameras(async_client, keys, hubs, Limits(max_cameras=settings.max_browser_cameras),
                             settings.stream_maxlen)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(lambda: readers.stats(client, keys, SERVICES), hubs,
                                        lambda: readers.cameras(client, keys, settings.stale_s), browser.counters))

    @app.exception_handler(redis.RedisError)
    async def redis_trouble(request: Request, exc: redis.RedisError) -> JSONResponse:
        if is_auth_error(exc):
            detail = "Redis refuses the gateway's credentials: the operator must fix its REDIS_URL"
        elif isinstance(exc, CONNECTION_ERRORS):
            detail = "Redis is unreachable: the pipeline's data cannot be read now; retry"
        else:
            detail = "Redis could not answer this request; retry, and tell the operator if it persists"
        log.warning("%s %s: %s (%s)", getattr(request, "method", "WEBSOCKET"), request.url.path, detail, exc)
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}",
                             "errors": [{k: v for k, v in jsonable_encoder(e, custom_encoder={bytes: repr}).items()
                                         if k in ("type", "loc", "msg")} for e in exc.errors()]},
                            status_code=422)

    @app.websocket("/api/cameras/{camera}/keypoints")
    async def browser_camera(websocket: WebSocket, camera: str) -> None:
        """A browser as a camera: keypoint vectors in, the camera's predictions and detections out
        (services/gateway/browser_camera.py)."""
        await browser.serve(websocket, camera)

    @app.get("/api/cameras", response_model=list[api.Camera], tags=["cameras"])
    def list_cameras() -> list[dict]:
        """Every camera capture has registered, with its state."""
        return readers.cameras(client, keys, settings.stale_s)

    @app.get("/api/cameras/{camera}", response_model=api.Camera, responses={404: PROBLEM}, tags=["cameras"])
    def get_camera(camera: CameraId) -> dict:
        found = readers.camera(client, keys, camera, settings.stale_s)
        if found is None:
            raise HTTPException(404, f"no camera {camera!r}: GET /api/cameras lists them")
        return found

    @app.get("/api/cameras/{camera}/frame.jpg", tags=["cameras"], responses={
        200: {"content": {"image/jpeg": {}}, "description": "the newest frame"}, 404: PROBLEM})
    def camera_frame(camera: CameraId) -> Response:
        """The camera's newest frame as JPEG (headers X-Seq and X-Capture-Ts-Ms say which)."""
        frame = readers.latest_frame(client, keys, camera)
        if frame is None:
            raise HTTPException(404, f"no frame of camera {camera!r} in Redis: is its capture running?")
        return Response(frame.data, media_type="image/jpeg", headers={
            "Cache-Control": "no-store", "X-Seq": str(frame.seq), "X-Capture-Ts-Ms": str(frame.capture_ts_ms)})

    @app.get("/api/cameras/{camera}/keypoints", response_model=api.Keypoints, responses={404: PROBLEM},
             tags=["cameras"])
    def camera_keypoints(camera: CameraId) -> dict:
        """The camera's newest keypoints: pose and hands, to draw over its frame."""
        found = readers.latest_keypoints(client, keys, camera)
        if found is None:
            raise HTTPException(404, f"no keypoints of camera {camera!r} in Redis: is a keypoints worker running?")
        return found

    @app.get("/api/models", response_model=api.ModelsView, tags=["models"])
    def list_models() -> dict:
        """What each classifier serves now, and every promoted version with its accuracy and confusion matrix."""
        return {"serving": readers.serving(client, keys), "versions": readers.models(client, keys)}

    @app.get("/api/detections", response_model=list[api.Detection], tags=["live"])
    def recent_detections(camera: CameraFilter = None, before: StreamId = None,
                          count: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict]:
        """The newest detections, newest first (page back with `before`)."""
        return readers.recent(client, keys.detections, MESSAGES["detections"], count, camera, before)

    @app.get("/api/predictions", response_model=list[api.Prediction], tags=["live"])
    def recent_predictions(camera: CameraFilter = None, before: StreamId = None,
                           count: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict]:
        """The newest predictions (one per classified window), newest first."""
        return readers.recent(client, keys.predictions, MESSAGES["predictions"], count, camera, before)

    @app.get("/api/events/{stream}", tags=["live"], responses={
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
        return EventStream(events(async_client, hub, camera, resume, settings.backfill_max, request.is_disconnected),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/health", response_model=api.Health, responses={503: {"model": api.Health}}, tags=["health"])
    def health() -> JSONResponse:
        """One item per camera and worker; 503 when any is down, so a probe can use the status alone."""
        items = assess(client, keys, settings.stale_s)
        ok = all(item.up for item in items)
        body = {"ok": ok, "items": [{"kind": i.kind, "name": i.name, "up": i.up, "state": i.state} for i in items]}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/api/stats", tags=["health"])
    def stats() -> dict[str, dict[str, dict]]:
        """Every worker's last report: per camera counters (in, out, dropped, ...) and timings."""
        return readers.stats(client, keys, SERVICES)

    @app.post("/api/train", response_model=api.TrainAccepted, status_code=202, responses={400: PROBLEM},
              tags=["models"])
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

    @app.get("/api/train/{request_id}", response_model=api.TrainResultView, responses={404: PROBLEM},
             tags=["models"])
    def training_result(request_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]) -> dict:
        """The request's result; while it trains, status `training` with the epochs done so far."""
        found = readers.train_result(client, keys, request_id)
        if found is None:
            raise HTTPException(404, f"nothing of {request_id!r} yet: the trainer takes requests one at a time, "
                                     "or it is not running (GET /api/health)")
        return found

    @app.get("/metrics", tags=["health"], responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics() -> Response:
        """Prometheus metrics of every service (from their stats in Redis) and of the gateway."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        supplied = (parse_qs(body).get("token") or [""])[0]
        if token is None or token_matches(supplied, token):
            response = RedirectResponse("/", status_code=303)
            if token is not None:
                response.set_cookie(COOKIE, supplied, httponly=True, samesite="strict")
            return response
        return HTMLResponse(LOGIN_PAGE.format(message="Wrong token."), status_code=401)

    static = files("services.gateway") / "static"

    @app.get("/", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(), headers={"Cache-Control": "no-store"})

    @app.get("/camera", include_in_schema=False)
    def camera_page() -> HTMLResponse:
        """This browser as a camera: MediaPipe Holistic in the page, keypoints to /api/cameras/{camera}/keypoints."""
        return HTMLResponse((static / "camera.html").read_text(), headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    if is_complete(settings.holistic_dir):
        app.mount("/holistic", StaticFiles(directory=str(settings.holistic_dir)), name="holistic")
    else:
        log.warning("the /camera page needs MediaPipe Holistic for browsers in %s, which is missing: run "
                    "`signstream fetch-holistic` (or set SIGNSTREAM_GATEWAY_HOLISTIC_DIR)", settings.holistic_dir)

    app.add_middleware(TokenMiddleware, token=token)  # nothing of the API runs for a request without the token
    if settings.cors_origin:  # outside the token check: a browser's preflight never carries the token
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Last-Event-ID", "Content-Type"])
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)  # outermost: before the token check does any work
    return app
