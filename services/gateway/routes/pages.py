"""The pages people open: the dashboard, the browser camera, sign-in, and the files they load."""

from __future__ import annotations

import logging
from importlib.resources import files
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.gateway.auth import COOKIE, LOGIN_PAGE, token_matches
from services.gateway.holistic_files import is_complete
from services.gateway.routes.context import Gateway

log = logging.getLogger(__name__)
STATIC = files("services.gateway") / "static"


def pages_router(gw: Gateway) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    token = gw.token

    @router.post("/login")
    async def login(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        supplied = (parse_qs(body).get("token") or [""])[0]
        if token is None or token_matches(supplied, token):
            response = RedirectResponse("/", status_code=303)
            if token is not None:
                response.set_cookie(COOKIE, supplied, httponly=True, samesite="strict")
            return response
        return HTMLResponse(LOGIN_PAGE.format(message="Wrong token."), status_code=401)

    @router.get("/")
    def dashboard() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(), headers={"Cache-Control": "no-store"})

    @router.get("/camera")
    def camera_page() -> HTMLResponse:
        """This browser as a camera: MediaPipe Holistic in the page, keypoints to /api/cameras/{camera}/keypoints."""
        return HTMLResponse((STATIC / "camera.html").read_text(), headers={"Cache-Control": "no-store"})

    return router


def mount_files(app: FastAPI, gw: Gateway) -> None:
    """The pages' scripts and styles, and MediaPipe Holistic for the /camera page where it was fetched."""
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    holistic_dir = gw.settings.holistic_dir
    if is_complete(holistic_dir):
        app.mount("/holistic", StaticFiles(directory=str(holistic_dir)), name="holistic")
    else:
        log.warning("the /camera page needs MediaPipe Holistic for browsers in %s, which is missing: run "
                    "`signstream fetch-holistic` (or set SIGNSTREAM_GATEWAY_HOLISTIC_DIR)", holistic_dir)
