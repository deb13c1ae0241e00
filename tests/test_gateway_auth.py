"""Camera frames show people: with a token set, every endpoint of a real gateway process refuses a
request without it (401, and nothing of the pipeline's data), the live stream included; the token
never reaches the log; listening beyond loopback without a token is refused at start; and
cross-origin access is off unless configured."""

from __future__ import annotations

import re
import subprocess

import httpx
import pytest

from shared.messages import Detection, now_ms
from tests.conftest import VIDEOS, signstream_cmd
from tests.frames import publish_frames, video_jpegs
from tests.gateway_process import start_gateway

TOKEN = "s3cret-token-of-the-operator-0123456789"
EXAMPLES = {"camera": "door", "stream": "detections", "request_id": "abc"}


@pytest.fixture
def guarded(service_env, r, keys):
    publish_frames(r, keys, "door", video_jpegs(VIDEOS / "kiri_hello.mp4", 1))
    r.xadd(keys.detections, Detection(camera="door", label="hello", confidence=0.9, ts_start=now_ms(),
                                      ts_end=now_ms(), model="v1").encode())
    gw = start_gateway(service_env, token=TOKEN)
    yield gw
    gw.stop()
    assert TOKEN not in gw.log()


def every_get(spec: dict) -> list[str]:
    paths = [re.sub(r"\{(\w+)\}", lambda m: EXAMPLES[m.group(1)], path)
             for path, ops in spec["paths"].items() if "get" in ops]
    return paths + ["/", "/openapi.json", "/static/dashboard.js", "/docs"]


def test_every_endpoint_refuses_a_missing_or_wrong_token(guarded):
    with guarded.client() as http:
        spec = http.get("/openapi.json").json()
    paths = every_get(spec)
    assert "/api/cameras/door/frame.jpg" in paths and "/api/events/detections" in paths and "/metrics" in paths
    for token in (None, "wrong-token-wrong-token-wrong", TOKEN + "x", TOKEN[:-1]):
        with guarded.client(token=token) as http:
            for path in paths:
                response = http.get(path, params={"last_id": "0"} if "events" in path else None)
                assert response.status_code == 401, (token, path)
                assert b"door" not in response.content and b"hello" not in response.content
                assert response.headers.get("www-authenticate", "").startswith("Bearer")
            assert http.post("/api/train", json={"data": ["/x"]}).status_code == 401
    with httpx.Client(base_url=guarded.url) as anonymous:
        assert anonymous.get("/api/cameras", params={"access_token": "wrong"}).status_code == 401
        assert anonymous.get("/api/cameras", cookies={"signstream_token": "wrong"}).status_code == 401
        assert anonymous.get("/api/cameras", headers={"Cookie": "signstream_token=\"\\x;;"}).status_code == 401


def test_the_token_opens_everything_by_header_query_or_login_cookie(guarded):
    with guarded.client() as http:
        assert http.get("/api/cameras").json()[0]["id"] == "door"
        with http.stream("GET", "/api/events/detections", params={"last_id": "0"}) as response:
            assert response.status_code == 200
            assert next(line for line in response.iter_lines() if line.startswith("data:"))
    with httpx.Client(base_url=guarded.url) as browser:
        assert browser.get("/api/cameras/door/frame.jpg", params={"access_token": TOKEN}).status_code == 200
        page = browser.get("/")
        assert page.status_code == 401 and "<form" in page.text  # a person gets the sign-in form
        assert browser.post("/login", data={"token": "nope"}).status_code == 401
        signed_in = browser.post("/login", data={"token": TOKEN})
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/").status_code == 200 and browser.get("/api/cameras").status_code == 200
    with httpx.Client(base_url=guarded.url) as browser:  # a link with the token signs the browser in
        page = browser.get("/", params={"access_token": TOKEN})
        assert page.status_code == 200 and "httponly" in page.headers["set-cookie"].lower()
        assert browser.get("/static/dashboard.css").status_code == 200
        assert browser.get("/api/cameras").json()[0]["id"] == "door"
    with httpx.Client(base_url=guarded.url) as browser:  # the browser camera page likewise
        assert browser.get("/camera").status_code == 401
        page = browser.get("/camera", params={"access_token": TOKEN})
        assert page.status_code == 200 and "camera.js" in page.text
        assert browser.get("/static/camera.js").status_code == 200


def test_https_serves_the_camera_page_and_a_half_or_wrong_pair_is_one_line(service_env, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    gw = start_gateway(service_env, "--tls-cert", str(cert), "--tls-key", str(key), token=TOKEN, scheme="https")
    try:
        with httpx.Client(base_url=gw.url, verify=str(cert)) as browser:
            page = browser.get("/camera", params={"access_token": TOKEN})
            assert page.status_code == 200 and "camera.js" in page.text
        with pytest.raises(httpx.TransportError):  # no plain HTTP on an HTTPS port
            httpx.get(gw.url.replace("https:", "http:") + "/camera", timeout=5)
    finally:
        gw.stop()
    assert "gateway on https://127.0.0.1:" in gw.log()
    half = subprocess.run(signstream_cmd("gateway", "--port", "0", "--tls-cert", str(cert)), env=service_env,
                          capture_output=True, text=True, timeout=60)
    assert half.returncode == 2 and "needs both --tls-cert and --tls-key" in half.stderr
    wrong = subprocess.run(signstream_cmd("gateway", "--port", "0", "--tls-cert", str(key), "--tls-key", str(key)),
                           env=service_env, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and wrong.stderr.strip().count("\n") == 0 and "cannot serve HTTPS" in wrong.stderr


def test_no_token_beyond_loopback_is_refused_at_start(service_env, tmp_path):
    env = {k: v for k, v in service_env.items() if k != "SIGNSTREAM_GATEWAY_TOKEN"}
    wide = subprocess.run(signstream_cmd("gateway", "--host", "0.0.0.0", "--port", "0"), env=env,
                          capture_output=True, text=True, timeout=60)
    assert wide.returncode == 2
    assert wide.stderr.strip().count("\n") == 0 and "set a token" in wide.stderr
    short = subprocess.run(signstream_cmd("gateway", "--port", "0"), env={**env, "SIGNSTREAM_GATEWAY_TOKEN": "abc"},
                           capture_output=True, text=True, timeout=60)
    assert short.returncode == 2 and "shorter than 16" in short.stderr and "abc" not in short.stderr
    empty = tmp_path / "token"
    empty.write_text("")
    from_file = subprocess.run(signstream_cmd("gateway", "--port", "0", "--token-file", str(empty)), env=env,
                               capture_output=True, text=True, timeout=60)
    assert from_file.returncode == 2 and "is empty" in from_file.stderr


def test_a_token_file_works_and_is_never_logged(service_env, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    gw = start_gateway(service_env, "--token-file", str(token_file), "--log-level", "DEBUG")
    try:
        with httpx.Client(base_url=gw.url) as http:
            assert http.get("/api/cameras").status_code == 401
            assert http.get("/api/cameras", params={"access_token": TOKEN}).status_code == 200
            assert http.get("/api/cameras", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    finally:
        gw.stop()
    assert TOKEN not in gw.log() and "every request needs the token" in gw.log()


def test_cross_origin_access_is_off_unless_configured(service_env):
    plain = start_gateway(service_env)
    allowed = start_gateway(service_env, "--cors-origin", "https://app.example", token=TOKEN)
    try:
        with plain.client() as http:
            response = http.get("/api/cameras", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in response.headers
        with allowed.client(token=None) as http:  # a preflight carries no token
            ok = http.options("/api/cameras", headers={"Origin": "https://app.example",
                                                       "Access-Control-Request-Method": "GET"})
            assert ok.headers.get("access-control-allow-origin") == "https://app.example"
        with allowed.client() as http:
            call = http.get("/api/cameras", headers={"Origin": "https://app.example"})
            assert call.status_code == 200 and call.headers["access-control-allow-origin"] == "https://app.example"
            other = http.get("/api/cameras", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers
    finally:
        plain.stop()
        allowed.stop()


def test_a_chunked_body_over_the_limit_is_cut_off_before_any_route_holds_it(guarded):
    import psutil

    def chunks(megabytes: int):
        for _ in range(megabytes * 16):
            yield b"x" * 65536

    rss_mb = lambda: psutil.Process(guarded.process.pid).memory_info().rss / 2**20  # noqa: E731
    before = rss_mb()
    # No Content-Length, so no header can refuse it: the bytes read are counted.
    with guarded.client(token=None, timeout=60) as http:
        login = http.post("/login", content=chunks(200), headers={"content-type": "application/x-www-form-urlencoded"})
    with guarded.client(timeout=60) as http:
        train = http.post("/api/train", content=chunks(10), headers={"content-type": "application/json"})
    assert (login.status_code, train.status_code) == (413, 413), (login.text, train.text)
    assert "request body over 65536 bytes" in login.json()["detail"]
    assert rss_mb() - before < 50, (before, rss_mb())
