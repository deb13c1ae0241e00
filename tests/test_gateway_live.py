"""Live streams from the gateway against a real redis-server: a client that disconnects and
resumes with its last id gets every detection exactly once, and a client that stops reading is
cut off (counted) without slowing the clients that keep up."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from shared.messages import Detection, Prediction, now_ms
from tests.gateway_process import sse_events, start_gateway
from tests.waiting import wait_for


def detection(i: int) -> Detection:
    return Detection(camera="door", label=f"n{i}", confidence=0.9, ts_start=now_ms(), ts_end=now_ms(), model="v1")


def prediction(i: int) -> Prediction:
    return Prediction(camera="door", seq=i, ts=now_ms(), label="hello", confidence=0.9,
                      probs={"hello": 0.9, "thanks": 0.05, "iloveyou": 0.05}, model="v1", latency_ms=120.0)


@pytest.fixture
def gateway(service_env):
    gw = start_gateway(service_env, "--client-buffer", "64")
    yield gw
    gw.stop()
    assert "Traceback" not in gw.log()


def test_a_client_that_reconnects_with_its_last_id_gets_every_detection_exactly_once(gateway, r, keys):
    total = 300
    started = threading.Event()

    def publish() -> None:
        started.wait()
        for i in range(total):
            r.xadd(keys.detections, detection(i).encode())
            time.sleep(0.004)

    publisher = threading.Thread(target=publish)
    publisher.start()
    got: list[str] = []
    last_id = "0"  # from the start of the stream
    reconnects = 0
    with gateway.client(timeout=httpx.Timeout(10, read=5)) as http:
        while len(got) < total:
            with http.stream("GET", "/api/events/detections", headers={"Last-Event-ID": last_id}) as response:
                assert response.status_code == 200
                started.set()
                for event in sse_events(response, limit=min(70, total - len(got))):  # then hang up, mid-stream
                    assert event["event"] == "detection"
                    got.append(event["data"]["label"])
                    last_id = event["id"]
            reconnects += 1
            time.sleep(0.2)  # while away, more are published
    publisher.join()
    assert reconnects >= 4
    assert got == [f"n{i}" for i in range(total)]


def test_a_camera_filter_and_live_entries_without_a_last_id(gateway, r, keys):
    r.xadd(keys.detections, detection(-1).encode())  # before the client: not sent without a last id
    with gateway.client() as http, http.stream("GET", "/api/events/detections", params={"camera": "door"}) as response:
        time.sleep(0.5)
        r.xadd(keys.detections, Detection(camera="hall", label="other", confidence=0.9, ts_start=1, ts_end=2,
                                          model="v1").encode())
        r.xadd(keys.detections, detection(0).encode())
        event = next(sse_events(response))
    assert event["data"]["label"] == "n0" and event["data"]["camera"] == "door"


def stalled_client(url: str) -> socket.socket:
    """A client that asks for the live stream and never reads a byte of it."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /api/events/predictions HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def overflows(http) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith('signstream_gateway_client_overflows_total{stream="predictions"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_client_that_stops_reading_is_cut_off_and_the_others_get_everything(gateway, r, keys):
    total = 20_000
    stalled = [stalled_client(gateway.url) for _ in range(3)]
    received: list[int] = []

    def read() -> None:
        with gateway.client(timeout=httpx.Timeout(10, read=30)) as http, \
                http.stream("GET", "/api/events/predictions") as response:
            for event in sse_events(response):
                received.append(event["data"]["seq"])
                if event["data"]["seq"] == total - 1:
                    return

    reader = threading.Thread(target=read)
    reader.start()
    with gateway.client() as http:
        assert wait_for(lambda: 'signstream_gateway_live_clients{stream="predictions"} 4.0' in http.get("/metrics").text,
                        timeout_s=10)
        started = time.perf_counter()
        for start in range(0, total, 100):
            pipe = r.pipeline(transaction=False)
            for i in range(start, start + 100):
                pipe.xadd(keys.predictions, prediction(i).encode())
            pipe.execute()
            time.sleep(0.005)
        reader.join(60)
        elapsed = time.perf_counter() - started
        assert not reader.is_alive(), f"the reading client got {len(received)} of {total}"
        assert received == list(range(total))  # in order, none lost, none twice
        assert overflows(http) == 3, gateway.log()[-2000:]
        assert http.get("/api/cameras").status_code == 200  # and the gateway still answers at once
    for sock in stalled:
        sock.close()
    with gateway.client() as http:  # gone clients leave nothing behind in the gateway
        assert wait_for(lambda: 'signstream_gateway_live_clients{stream="predictions"} 0.0' in http.get("/metrics").text,
                        timeout_s=20), [line for line in http.get("/metrics").text.splitlines() if "live_clients" in line]
    print(f"{total} predictions to a reading client in {elapsed:.1f} s beside 3 stalled ones")


def test_a_long_replay_comes_in_parts_and_still_exactly_once(service_env, r, keys):
    for i in range(120):
        r.xadd(keys.detections, detection(i).encode())
    gw = start_gateway(service_env, "--backfill-max", "50")
    got, last_id, parts = [], "0", 0
    try:
        with gw.client() as http:
            while len(got) < 120:
                with http.stream("GET", "/api/events/detections", params={"last_id": last_id}) as response:
                    for event in sse_events(response):
                        if event["event"] == "overflow":
                            break
                        got.append(event["data"]["label"])
                        last_id = event["id"]
                        if len(got) == 120:
                            break
                parts += 1
    finally:
        gw.stop()
    assert got == [f"n{i}" for i in range(120)] and parts == 3


def test_clients_that_hang_up_without_falling_behind_are_forgotten(gateway, r, keys):
    stalled = [stalled_client(gateway.url) for _ in range(3)]
    with gateway.client() as http:
        live = 'signstream_gateway_live_clients{stream="predictions"}'
        assert wait_for(lambda: f"{live} 3.0" in http.get("/metrics").text, timeout_s=10)
        for i in range(5):
            r.xadd(keys.predictions, prediction(i).encode())
        for sock in stalled:
            sock.close()
        assert wait_for(lambda: f"{live} 0.0" in http.get("/metrics").text, timeout_s=20), [
            line for line in http.get("/metrics").text.splitlines() if "live_clients" in line]
        assert overflows(http) == 0
