"""`signstream collect` against a real redis-server with keypoints arriving live."""

import threading
import time

import numpy as np
import pytest

from services.recorder.recording import Recorder, collect, write_sequence
from shared.errors import SourceError
from shared.messages import KeypointsMessage


def publish_live(r, keys, camera, stop, fps=100):
    """Keypoints whose vector holds their seq (in thousandths: keypoints stay small), arriving in pairs
    swapped, as two workers would."""
    seq = 0
    while not stop.is_set():
        for s in (seq + 1, seq):
            msg = KeypointsMessage.from_vector(vector=np.full(1662, s / 1000, np.float32), camera=camera, seq=s,
                                               capture_ts_ms=int(time.time() * 1000), parts=(), worker="t",
                                               processing_ms=0.0)
            r.xadd(keys.keypoints(camera), msg.encode())
        seq += 2
        time.sleep(2 / fps)


def test_collect_appends_complete_sequences_in_capture_order_after_existing_ones(r, keys, tmp_path):
    action_dir = tmp_path / "MP_DATA" / "hello"
    for n in (0, 1, 2):
        write_sequence(action_dir, n, np.zeros((30, 1662)))
    stop_publishing = threading.Event()
    publisher = threading.Thread(target=publish_live, args=(r, keys, "cam", stop_publishing), daemon=True)
    publisher.start()
    try:
        recorder = Recorder(r, keys, "cam", gap_wait_ms=200, timeout_s=10, stop=threading.Event())
        said = []
        written = collect(recorder, tmp_path / "MP_DATA", "hello", sequences=2, pause_s=0.1, say=said.append)
    finally:
        stop_publishing.set()
        publisher.join(5)
    assert [p.name for p in written] == ["3", "4"]
    assert sorted(p.name for p in action_dir.iterdir()) == ["0", "1", "2", "3", "4"]  # nothing partial left
    for seq_dir in written:
        frames = [np.load(seq_dir / f"{i}.npy") for i in range(30)]
        assert sorted(p.name for p in seq_dir.iterdir()) == sorted(f"{i}.npy" for i in range(30))
        firsts = [round(float(f[0]) * 1000) for f in frames]
        assert firsts == list(range(firsts[0], firsts[0] + 30)), "frames out of capture order"
        assert all(f.shape == (1662,) and f.dtype == np.float32 for f in frames)
    assert any("sequence 3" in line for line in said)


def test_a_recording_never_has_a_hole_where_it_joined_the_stream(r, keys):
    # Two workers finish 49 before 48; recording starts reading between the two.
    def publish(seq):
        r.xadd(keys.keypoints("cam2"), KeypointsMessage.from_vector(
            vector=np.full(1662, seq / 1000, np.float32), camera="cam2", seq=seq, capture_ts_ms=int(time.time() * 1000),
            parts=(), worker="t", processing_ms=0.0).encode())

    publish(49)
    recorder = Recorder(r, keys, "cam2", gap_wait_ms=200, timeout_s=10, stop=threading.Event())
    recorded = []
    reading = threading.Thread(target=lambda: recorded.append(recorder.record_one()), daemon=True)
    reading.start()
    time.sleep(0.5)  # the recorder is blocked on XREAD from '$' by now
    for seq in [48] + list(range(50, 90)):
        publish(seq)
        time.sleep(0.005)
    reading.join(10)
    assert [round(float(f[0]) * 1000) for f in recorded[0]] == list(range(50, 80))


def test_collect_without_keypoints_arriving_says_what_to_start(r, keys, tmp_path):
    recorder = Recorder(r, keys, "nobody", gap_wait_ms=100, timeout_s=0.5, stop=threading.Event())
    with pytest.raises(SourceError, match="is `signstream up`"):
        collect(recorder, tmp_path, "hello", sequences=1, pause_s=0, say=lambda _: None)
    assert list((tmp_path / "hello").iterdir()) == []


def test_write_sequence_never_overwrites_a_recorded_sequence(tmp_path):
    write_sequence(tmp_path, 0, np.zeros((30, 1662)))
    with pytest.raises(FileExistsError):
        write_sequence(tmp_path, 0, np.ones((30, 1662)))
    assert np.load(tmp_path / "0" / "0.npy").max() == 0
