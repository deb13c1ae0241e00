"""Every request carries the operator's token, or gets 401 and nothing else.

Where the gateway listens beyond loopback, camera frames and what people sign must not reach
whoever finds the port. The token comes in `Authorization: Bearer <token>`, in the cookie the
dashboard's login sets, or as `access_token=` in the query (for EventSource and <img>, which
cannot send headers). It is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

COOKIE = "signstream_token"
OPEN_PATHS = ("/login",)  # the form that sets the cookie; it shows nothing but itself
PAGES = ("/", "/camera")  # what a person opens, with ?access_token= or the sign-in form

LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>signstream: sign in</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:28em;margin:4em auto">
<h1>signstream</h1><p>{message}</p>
<form method="post" action="/login"><label>Token <input name="token" type="password" autofocus required></label>
<button type="submit">Sign in</button></form></body></html>"""


def supplied_token(scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if "cookie" in headers:
        cookie = SimpleCookie()
        try:
            cookie.load(headers["cookie"])
        except Exception:  # a malformed Cookie header is a missing token, not a 500
            cookie = SimpleCookie()
        if COOKIE in cookie:
            return cookie[COOKIE].value
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "access_token" in query:
        return query["access_token"][0]
    return None


def _from_query(scope) -> bool:
    return "access_token" in parse_qs(scope.get("query_string", b"").decode("latin-1"))


def _signing_in(send, token: str):
    """A page opened with ?access_token=: the answer also signs the browser in, as the form does,
    so the page's stylesheet, script and API calls (which carry no query) are let in too."""
    async def send_with_cookie(message) -> None:
        if message["type"] == "http.response.start":
            cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode()
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
        await send(message)
    return send_with_cookie


def token_matches(supplied: str | None, token: str) -> bool:
    return supplied is not None and hmac.compare_digest(supplied.encode("utf-8", "replace"), token.encode())


class TokenMiddleware:
    """ASGI middleware (not BaseHTTPMiddleware, which buffers streaming responses)."""

    def __init__(self, app, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send) -> None:
        if (self.token is None or scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS
                or token_matches(supplied_token(scope), self.token)):
            if self.token is not None and scope["type"] == "http" and scope["path"] in PAGES and _from_query(scope):
                send = _signing_in(send, self.token)
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        wants_page = scope["path"] in PAGES and scope["method"] == "GET"
        if wants_page:
            body = LOGIN_PAGE.format(message="This gateway needs its token.").encode()
            content_type = b"text/html; charset=utf-8"
        else:
            body = json.dumps({"detail": "missing or wrong token: send 'Authorization: Bearer <token>' "
                                         "(the operator sets it with SIGNSTREAM_GATEWAY_TOKEN)"}).encode()
            content_type = b"application/json"
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b'Bearer realm="signstream"'), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})
