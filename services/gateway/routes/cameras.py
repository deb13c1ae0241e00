"""Cameras: the registered ones, each one's newest frame and keypoints, and browsers as cameras."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, WebSocket

from services.gateway import api_models as api
from services.gateway import readers
from services.gateway.routes.context import PROBLEM, CameraId, Gateway


def cameras_router(gw: Gateway) -> APIRouter:
    router = APIRouter(tags=["cameras"])
    client, keys, stale_s = gw.client, gw.keys, gw.settings.stale_s

    @router.websocket("/api/cameras/{camera}/keypoints")
    async def browser_camera(websocket: WebSocket, camera: str) -> None:
        """A browser as a camera: keypoint vectors in, the camera's predictions and detections out
        (services/gateway/browser_camera.py)."""
        await gw.browser.serve(websocket, camera)

    @router.get("/api/cameras", response_model=list[api.Camera])
    def list_cameras() -> list[dict]:
        """Every camera capture has registered, with its state."""
        return readers.cameras(client, keys, stale_s)

    @router.get("/api/cameras/{camera}", response_model=api.Camera, responses={404: PROBLEM})
    def get_camera(camera: CameraId) -> dict:
        found = readers.camera(client, keys, camera, stale_s)
        if found is None:
            raise HTTPException(404, f"no camera {camera!r}: GET /api/cameras lists them")
        return found

    @router.get("/api/cameras/{camera}/frame.jpg", responses={
        200: {"content": {"image/jpeg": {}}, "description": "the newest frame"}, 404: PROBLEM})
    def camera_frame(camera: CameraId) -> Response:
        """The camera's newest frame as JPEG (headers X-Seq and X-Capture-Ts-Ms say which)."""
        frame = readers.latest_frame(client, keys, camera)
        if frame is None:
            raise HTTPException(404, f"no frame of camera {camera!r} in Redis: is its capture running?")
        return Response(frame.data, media_type="image/jpeg", headers={
            "Cache-Control": "no-store", "X-Seq": str(frame.seq), "X-Capture-Ts-Ms": str(frame.capture_ts_ms)})

    @router.get("/api/cameras/{camera}/keypoints", response_model=api.Keypoints, responses={404: PROBLEM})
    def camera_keypoints(camera: CameraId) -> dict:
        """The camera's newest keypoints: pose and hands, to draw over its frame."""
        found = readers.latest_keypoints(client, keys, camera)
        if found is None:
            raise HTTPException(404, f"no keypoints of camera {camera!r} in Redis: is a keypoints worker running?")
        return found

    return router
