"""A browser as a camera, against a real gateway process and a real redis-server: keypoint vectors
sent over the WebSocket land on `keypoints:<camera>` as a keypoint worker's do, the camera is
registered with its kind, detections come back on the socket, bad messages are refused and
counted, and every limit closes the connection with a reason."""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from shared.messages import Detection, FrameGap, KeypointsMessage, decode_keypoints_entry, now_ms
from shared.records import CameraRecord
from tests.gateway_process import start_gateway
from tests.waiting import wait_for

TOKEN = "browser-camera-token-0123456789"


@pytest.fixture
def gateway(service_env):
    gw = start_gateway({**service_env, "SIGNSTREAM_GATEWAY_MAX_BROWSER_CAMERAS": "2"}, token=TOKEN)
    yield gw
    assert gw.stop() == 0, gw.log()
    assert "Traceback" not in gw.log()
    assert TOKEN not in gw.log(), "the token reached the log (a WebSocket URL carries it)"


def socket(gateway, camera: str, token: str | None = TOKEN):
    url = gateway.url.replace("http://", "ws://") + f"/api/cameras/{camera}/keypoints"
    return connect(url + (f"?access_token={token}" if token else ""), open_timeout=10, close_timeout=5)


def frame(ts_ms: int, value: float = 0.5) -> str:
    vector = np.full(1662, value, np.float32)
    return json.dumps({"capture_ts_ms": ts_ms, "parts": ["pose", "right_hand"], "vector": vector.tolist()})


def binary_frame(ts_ms: float, value: float = 0.5, parts_bits: int = 1 | 8, size: int = 1662) -> bytes:
    """A frame as the /camera page sends it: float64 time, uint32 seq, uint32 parts bits, float32 vector."""
    return struct.pack("<dII", ts_ms, 7, parts_bits) + np.full(size, value, "<f4").tobytes()


def entries(r, keys, camera: str):
    return [decode_keypoints_entry(f) for _, f in r.xrange(keys.keypoints(camera))]


def test_vectors_from_a_browser_land_as_keypoints_with_their_slots_and_detections_come_back(gateway, r, keys):
    device_clock = 5_000_000  # the device's clock is its own: only the spacing of its frames counts
    with socket(gateway, "phone") as ws:
        for i in range(10):  # a slow device: 5 frames a second, every third slot of 15 fps
            ws.send(frame(device_clock + i * 200))
        assert wait_for(lambda: sum(isinstance(e, KeypointsMessage) for e in entries(r, keys, "phone")) == 10, 10)
        got = entries(r, keys, "phone")
        vectors = [e for e in got if isinstance(e, KeypointsMessage)]
        assert [e.seq for e in vectors] == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
        assert all(e.made_on == "browser" and e.parts == ("pose", "right_hand") for e in vectors)
        np.testing.assert_array_equal(vectors[0].vector, np.full(1662, 0.5, np.float32))
        assert abs(vectors[0].capture_ts_ms - now_ms()) < 10_000  # the gateway's time, not the device's
        assert sorted(e.seq for e in got if isinstance(e, FrameGap)) == [s for s in range(28) if s % 3]
        record = CameraRecord.decode(r.hget(keys.cameras, "phone"))
        assert (record.kind, record.status, record.source) == ("browser", "running", "browser")

        r.xadd(keys.detections, Detection(camera="phone", label="hello", confidence=0.9, ts_start=now_ms(),
                                          ts_end=now_ms(), model="v1").encode())
        r.xadd(keys.detections, Detection(camera="elsewhere", label="thanks", confidence=0.9, ts_start=now_ms(),
                                          ts_end=now_ms(), model="v1").encode())
        back = json.loads(ws.recv(timeout=10))
        assert (back["type"], back["camera"], back["label"]) == ("detection", "phone", "hello")
    assert wait_for(lambda: CameraRecord.decode(r.hget(keys.cameras, "phone")).status == "ended", 10)
    assert CameraRecord.decode(r.hget(keys.cameras, "phone")).frames_sent == 10
    # a reconnect continues the camera's slots
    with socket(gateway, "phone") as ws:
        ws.send(frame(9_000_000))
        assert wait_for(lambda: len([e for e in entries(r, keys, "phone") if isinstance(e, KeypointsMessage)]) == 11, 10)
    assert entries(r, keys, "phone")[-1].seq > 27


def test_a_camera_s_slots_start_at_its_first_frame_not_at_its_connection(gateway, r, keys):
    with socket(gateway, "late") as ws:
        time.sleep(1.0)  # the page loads Holistic (half a minute on a slow phone) before its first frame
        ws.send(frame(1_000_000))
        ws.send(frame(1_000_000 + 200))
        assert wait_for(lambda: sum(isinstance(e, KeypointsMessage) for e in entries(r, keys, "late")) == 2, 10)
    assert [(type(e).__name__, e.seq) for e in entries(r, keys, "late")] == [
        ("KeypointsMessage", 0), ("FrameGap", 1), ("FrameGap", 2), ("KeypointsMessage", 3)]


def test_bad_messages_are_refused_counted_and_never_reach_redis(gateway, r, keys):
    bad = ["not json", "[]", json.dumps({"capture_ts_ms": now_ms(), "vector": [0.5] * 10}),
           json.dumps({"capture_ts_ms": "soon", "vector": [0.5] * 1662}),
           json.dumps({"capture_ts_ms": now_ms(), "parts": ["tail"], "vector": [0.5] * 1662}),
           frame(now_ms()).replace("0.5", "NaN", 1), frame(now_ms(), value=1e9),
           binary_frame(now_ms(), size=1661), binary_frame(now_ms(), value=float("nan")), binary_frame(0),
           binary_frame(float("nan")), b"\x00" * 10]
    with socket(gateway, "junk") as ws:
        for message in bad:
            ws.send(message)
            reply = json.loads(ws.recv(timeout=10))
            assert reply["type"] == "refused" and reply["reason"], (message[:60], reply)
        ws.send(frame(now_ms()))  # the connection goes on
        assert wait_for(lambda: len(entries(r, keys, "junk")) == 1, 10)
    with gateway.client(token=TOKEN) as http:
        metrics = http.get("/metrics").text
    assert f'signstream_gateway_browser_vectors_total{{outcome="refused"}} {len(bad)}.0' in metrics, metrics[-2000:]


def test_binary_frames_land_as_the_same_keypoints_as_json_ones(gateway, r, keys):
    with socket(gateway, "page") as ws:
        ws.send(binary_frame(1_000_000, value=0.25, parts_bits=1 | 2 | 4))
        ws.send(frame(1_000_000 + 1000, value=0.25).replace('"pose", "right_hand"', '"pose", "face", "left_hand"'))
        assert wait_for(lambda: sum(isinstance(e, KeypointsMessage) for e in entries(r, keys, "page")) == 2, 10)
    binary, text = [e for e in entries(r, keys, "page") if isinstance(e, KeypointsMessage)]
    assert binary.parts == text.parts == ("pose", "face", "left_hand")
    np.testing.assert_array_equal(binary.vector, text.vector)
    assert (text.seq - binary.seq, binary.made_on) == (15, "browser")


def test_limits_close_the_connection_with_a_reason(gateway, r, keys):
    with pytest.raises(InvalidStatus):  # no token: refused before the socket opens
        with socket(gateway, "cam", token=None):
            pass
    with socket(gateway, "big") as ws:
        ws.send(json.dumps({"capture_ts_ms": now_ms(), "vector": [0.5] * 1662, "pad": "x" * 70_000}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1009 and "at most" in closed.value.rcvd.reason
    with socket(gateway, "flood") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            for i in range(500):
                ws.send(frame(now_ms() + i))
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1008 and "messages a second" in closed.value.rcvd.reason
    with socket(gateway, "one") as first, socket(gateway, "two") as second:
        first.send(frame(now_ms()))
        second.send(frame(now_ms()))
        with socket(gateway, "three") as third:
            with pytest.raises(ConnectionClosed) as closed:
                third.recv(timeout=10)
    assert closed.value.rcvd.code == 1008 and "at most 2 browser cameras" in closed.value.rcvd.reason
    with socket(gateway, "bad!") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 4400
    time.sleep(0.2)
    assert not r.exists(keys.keypoints("three")) and not r.exists(keys.keypoints("big"))


def test_junk_over_many_connections_is_all_refused_and_the_gateway_keeps_its_memory(gateway, r, keys):
    import random

    import psutil

    rng = random.Random(21)

    def junk() -> str | bytes:
        kind = rng.randrange(6)
        if kind == 0:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 7000)))  # binary of any length
        if kind == 1:
            return binary_frame(now_ms(), value=rng.choice([float("nan"), float("inf"), -float("inf")]))
        if kind == 2:
            return "{" * rng.randrange(1, 5000)  # deep or broken JSON
        if kind == 3:
            return json.dumps({"capture_ts_ms": rng.choice([-1, 0, 2**60, "x", None]), "vector": [0.1] * 1662})
        if kind == 4:
            return json.dumps({"capture_ts_ms": now_ms(), "vector": [rng.random()] * rng.randrange(0, 3000)})
        return json.dumps({"capture_ts_ms": now_ms(), "parts": [rng.random()], "vector": ["a"] * 1662})

    def round_of(connections: int) -> int:
        sent = 0
        for c in range(connections):
            with socket(gateway, f"junk-{c % 2}") as ws:
                for _ in range(40):  # under the 60-a-second limit: each one is read and refused
                    ws.send(junk())
                    assert json.loads(ws.recv(timeout=10))["type"] == "refused"
                    sent += 1
        return sent

    process = psutil.Process(gateway.process.pid)
    sent = round_of(10)  # the gateway's caches and buffers reach their size
    warm = process.memory_info().rss
    sent += round_of(30)
    grown_mb = (process.memory_info().rss - warm) / 2**20
    assert grown_mb < 20, f"the gateway grew {grown_mb:.0f} MB over 1200 junk messages"
    with gateway.client(token=TOKEN) as http:
        metrics = http.get("/metrics").text
    assert f'signstream_gateway_browser_vectors_total{{outcome="refused"}} {sent}.0' in metrics
    assert not r.exists(keys.keypoints("junk-0")) and not r.exists(keys.keypoints("junk-1"))
    print(f"{sent} junk messages over 40 connections, all refused; gateway RSS {grown_mb:+.1f} MB after warm-up")
