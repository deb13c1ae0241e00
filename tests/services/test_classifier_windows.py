import numpy as np
import pytest

from services.classifier.windows import Windows


def vec(seq: int) -> np.ndarray:
    return np.full(1662, seq, dtype=np.float32)


def feed(windows, seqs, now_ms=0, camera="c"):
    ready = []
    for seq in seqs:
        ready += windows.add(camera, seq, vec(seq), capture_ts_ms=1000 + seq, now_ms=now_ms)
    return ready


def test_a_window_is_ready_after_30_frames_and_then_every_stride_frames():
    windows = Windows(stride=5, gap_wait_ms=100)
    ready = feed(windows, range(40))
    assert [w.seq for w in ready] == [29, 34, 39]
    first = ready[0]
    assert first.frames.shape == (30, 1662) and first.frames.dtype == np.float32
    assert first.frames[:, 0].tolist() == list(range(30))
    assert first.capture_ts_ms == 1029


def test_out_of_order_arrival_gives_the_same_windows_as_in_order():
    rng = np.random.default_rng(0)
    in_order = feed(Windows(stride=3, gap_wait_ms=100), range(60))
    shuffled = list(range(60))
    # workers finish out of order only locally: shuffle within blocks of 4
    for i in range(0, 60, 4):
        block = shuffled[i:i + 4]
        rng.shuffle(block)
        shuffled[i:i + 4] = block
    assert shuffled != list(range(60))
    out_of_order = feed(Windows(stride=3, gap_wait_ms=100), shuffled)
    assert [w.seq for w in out_of_order] == [w.seq for w in in_order]
    for a, b in zip(in_order, out_of_order):
        np.testing.assert_array_equal(a.frames, b.frames)


def test_a_frame_that_never_comes_is_skipped_after_the_gap_wait():
    windows = Windows(stride=1, gap_wait_ms=200)
    assert len(feed(windows, range(30), now_ms=0)) == 1
    assert feed(windows, [31, 32], now_ms=50) == []  # 30 is missing: wait
    assert windows.flush_gaps(now_ms=100) == []  # not long enough yet
    ready = windows.flush_gaps(now_ms=260)
    assert [w.seq for w in ready] == [31, 32]
    assert windows.camera("c").skipped == 1
    assert 30 not in ready[-1].frames[:, 0]


def test_a_redelivered_or_too_late_frame_is_counted_and_ignored():
    windows = Windows(stride=1, gap_wait_ms=0)
    feed(windows, range(35))
    assert feed(windows, [3, 34]) == []
    assert windows.camera("c").late == 2


def test_cameras_have_separate_windows():
    windows = Windows(stride=1, gap_wait_ms=100)
    ready = feed(windows, range(30), camera="a") + feed(windows, range(29), camera="b")
    assert [w.camera for w in ready] == ["a"]


def test_a_vector_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="expected"):
        Windows(stride=1, gap_wait_ms=0).add("c", 0, np.zeros(10, np.float32), 0, 0)


def test_a_reader_joining_a_live_stream_starts_after_the_hole_its_start_left():
    # 49 arrived just before reading began; its pair 48 just after, then 50 onwards.
    from services.classifier.windows import CameraWindow

    arrivals = [48] + list(range(50, 90))
    lowest = CameraWindow("c", stride=30, gap_wait_ms=100)
    after_holes = CameraWindow("c", stride=30, gap_wait_ms=100, start_after_holes=True)
    ready_lowest = [w for t, seq in enumerate(arrivals) for w in lowest.add(seq, vec(seq), 1000 + seq, now_ms=t * 50)]
    ready_after = [w for t, seq in enumerate(arrivals) for w in after_holes.add(seq, vec(seq), 1000 + seq, now_ms=t * 50)]
    assert ready_lowest[0].frames[:2, 0].tolist() == [48, 50] and lowest.skipped == 1  # a hole inside
    assert ready_after[0].frames[:, 0].tolist() == list(range(50, 80)) and after_holes.skipped == 0
    assert not after_holes.pending or min(after_holes.pending) >= after_holes.next_seq
