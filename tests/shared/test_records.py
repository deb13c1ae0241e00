"""The `cameras` and `stats:<service>` records: one encode, one decode, and junk refused as DecodeError."""

from __future__ import annotations

import json
import random

import pytest

from shared.errors import DecodeError
from shared.records import CameraRecord, StatsSnapshot
from shared.stats import Stats


def test_what_capture_and_stats_write_reads_back_the_same():
    record = CameraRecord(source="/videos/a.mp4", status="running", fps=15.0, width=640, height=480,
                          last_seen_ms=1_700_000_000_000, frames_sent=12, started_ms=1_699_999_999_000, first_seq=0)
    assert CameraRecord.decode(record.encode()) == record
    stats = Stats("keypoints", "w1")
    stats.count("cam", "out", 3)
    stats.observe_ms("cam", 12.5)
    stats.info["model"] = "v0002"
    snap = stats.snapshot()
    assert StatsSnapshot.decode(snap.encode()) == snap
    assert snap.cameras["cam"]["out"] == 3 and snap.info == {"model": "v0002"}


def test_older_and_partial_entries_read_with_defaults_and_unknown_keys_are_ignored():
    assert CameraRecord.decode(b"{}") == CameraRecord()
    assert CameraRecord.decode(json.dumps({"source": "test", "kind": "browser"})).source == "test"
    assert StatsSnapshot.decode(b'{"updated_ms": 5, "cameras": {}}').updated_ms == 5


@pytest.mark.parametrize("raw", [
    None, b"", b"not json", b"{not json", b"[]", b"3", b'"text"', b"null",
    b'{"last_seen_ms": "1700000000000"}', b'{"frames_sent": true}', b'{"fps": "15"}', b'{"status": 3}',
    b'{"width": 1.5}', b'{"source": ["a"]}', b"\xff\xfe",
])
def test_a_camera_record_that_no_capture_writes_is_a_decode_error(raw):
    with pytest.raises(DecodeError):
        CameraRecord.decode(raw)


@pytest.mark.parametrize("raw", [
    b"not json", b"[]", b'{"updated_ms": "soon"}', b'{"cameras": "x"}', b'{"cameras": {"c": "x"}}',
    b'{"cameras": {"c": {"out": "3"}}}', b'{"cameras": {"c": {"out": null}}}', b'{"info": {"model": 2}}',
    b'{"stopped": "yes"}', b'{"cameras": {"c": {"histograms_ms": {"latency": 3}}}}',
])
def test_a_stats_snapshot_that_no_worker_writes_is_a_decode_error(raw):
    with pytest.raises(DecodeError):
        StatsSnapshot.decode(raw)


def junk(rng: random.Random, depth: int = 0):
    kinds = ["int", "float", "text", "bool", "none"] + (["list", "object"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 2**63, 15, 1_700_000_000_000])
    if kind == "float":
        return rng.choice([0.5, -1e308, 15.0])
    if kind == "text":
        return rng.choice(["", "running", "x" * 300, "é\n", "{"])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    names = ["source", "status", "fps", "last_seen_ms", "frames_sent", "started_ms", "cameras", "info", "stopped",
             "updated_ms", "out", "histograms_ms", "other"]
    return {rng.choice(names): junk(rng, depth + 1) for _ in range(rng.randint(0, 5))}


@pytest.mark.parametrize("record_class", [CameraRecord, StatsSnapshot])
def test_random_json_either_decodes_to_a_record_that_encodes_again_or_is_a_decode_error(record_class):
    rng = random.Random(0)
    decoded = refused = 0
    for _ in range(3000):
        raw = json.dumps(junk(rng)).encode()
        try:
            record = record_class.decode(raw)
        except DecodeError:
            refused += 1
            continue
        decoded += 1
        assert record_class.decode(record.encode()) == record
    assert decoded > 100 and refused > 100, (decoded, refused)
