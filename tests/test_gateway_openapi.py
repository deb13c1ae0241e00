"""The gateway's OpenAPI spec is valid, and a property-based run of it (schemathesis, against a
real gateway over a real redis-server holding real entries) finds no 500, no response that
breaks the spec and no undocumented status code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from shared.health import beat
from shared.messages import Detection, ModelAnnouncement, now_ms
from tests.conftest import VIDEOS
from tests.frames import publish_frames, video_jpegs
from tests.gateway_process import start_gateway

TOKEN = "fuzzing-token-0123456789abcdef"


@pytest.fixture
def populated(service_env, r, keys):
    publish_frames(r, keys, "door", video_jpegs(VIDEOS / "kiri_hello.mp4", 2))
    r.hset(keys.cameras, "door", json.dumps({"source": "test", "status": "running", "last_seen_ms": now_ms() + 60_000}))
    for service in ("keypoints", "classifier"):  # all up: /api/health answers 200 throughout
        beat(r, keys, service, f"{service}-1", ttl_s=300)
    for i in range(5):
        r.xadd(keys.detections, Detection(camera="door", label="hello", confidence=0.9, ts_start=now_ms(),
                                          ts_end=now_ms(), model="v1").encode())
    r.xadd(keys.models, ModelAnnouncement(version="v0001", path="/m/v0001", labels=["a", "b"],
                                          metrics={"accuracy": 0.9, "confusion": [[1, 0], [0, 1]]}).encode())
    gw = start_gateway(service_env, "--train-data", "/data/MP_DATA", token=TOKEN)
    yield gw
    gw.stop()
    assert "Traceback" not in gw.log(), gw.log()[-3000:]


def test_the_spec_is_valid_openapi(populated):
    spec = httpx.get(populated.url + "/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    validate(spec)
    assert spec["openapi"].startswith("3.") and len(spec["paths"]) >= 12


@pytest.mark.slow
def test_a_property_based_run_finds_no_server_error(populated, tmp_path):
    schemathesis = Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [str(schemathesis), "run", populated.url + "/openapi.json", "-H", f"Authorization: Bearer {TOKEN}",
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
                     "content_type_conformance",
         # The live streams never end by design; their parameters are checked in test_gateway_api.
         "--exclude-path-regex", "^/api/events/",
         "--max-examples", "40", "--seed", "1", "--request-timeout", "10", "--no-color",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)  # its cache goes there, not in the checkout
    print(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
