import numpy as np
import pytest

from shared.windows import Windows


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
    assert windows.camera("c").counts["skipped"] == 1
    assert 30 not in ready[-1].frames[:, 0]


def test_a_redelivered_or_too_late_frame_is_counted_and_ignored():
    windows = Windows(stride=1, gap_wait_ms=0)
    feed(windows, range(35))
    assert feed(windows, [3, 34]) == []
    assert windows.camera("c").counts["late"] == 2


def test_cameras_have_separate_windows():
    windows = Windows(stride=1, gap_wait_ms=100)
    ready = feed(windows, range(30), camera="a") + feed(windows, range(29), camera="b")
    assert [w.camera for w in ready] == ["a"]


def test_a_vector_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="expected"):
        Windows(stride=1, gap_wait_ms=0).add("c", 0, np.zeros(10, np.float32), 0, 0)


def test_a_reader_joining_a_live_stream_starts_after_the_hole_its_start_left():
    # 49 arrived just before reading began; its pair 48 just after, then 50 onwards.
    from shared.windows import CameraWindow

    arrivals = [48] + list(range(50, 90))
    lowest = CameraWindow("c", stride=30, gap_wait_ms=100)
    after_holes = CameraWindow("c", stride=30, gap_wait_ms=100, start_after_holes=True)
    ready_lowest = [w for t, seq in enumerate(arrivals) for w in lowest.add(seq, vec(seq), 1000 + seq, now_ms=t * 50)]
    ready_after = [w for t, seq in enumerate(arrivals) for w in after_holes.add(seq, vec(seq), 1000 + seq, now_ms=t * 50)]
    assert ready_lowest[0].frames[:3, 0].tolist() == [48, 48, 50] and lowest.counts["skipped"] == 1  # a hole, filled
    assert ready_after[0].frames[:, 0].tolist() == list(range(50, 80)) and after_holes.counts["skipped"] == 0
    assert not after_holes.pending or min(after_holes.pending) >= after_holes.next_seq


# --- windows on capture time, under drops and faults ---------------------------------------------

FRAME_MS = 1000 / 15  # capture at 15 fps


def live(window, seqs, *, dropped=(), reported=True, start_ms=0, delay_ms=400):
    """Frames of a 15 fps camera arriving `delay_ms` after capture; `dropped` seqs never come,
    or come as a worker's gap report. Returns (seq, arrival ms, ready ms) of every window made."""
    out = []
    for seq in seqs:
        captured = start_ms + round(seq * FRAME_MS)
        arrived = captured + delay_ms
        # between arrivals, the classifier's loop flushes every 50 ms as its read times out
        for t in range(arrived - round(FRAME_MS) + 50, arrived, 50):
            out += [(w.seq, None, t) for w in window.drain(t)]
        if seq in dropped:
            made = window.add_gap(seq, captured, arrived) if reported else []
        else:
            made = window.add(seq, vec(seq), captured, arrived)
        out += [(w.seq, arrived, arrived) for w in made]
    return out


def test_a_frame_a_worker_reports_dropped_costs_no_wait_and_its_slot_repeats_the_frame_before():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=1, gap_wait_ms=300)
    made = []
    for seq in range(40):
        ts = round(seq * FRAME_MS)
        made += window.add_gap(seq, ts, now_ms=ts) if seq == 31 else window.add(seq, vec(seq), ts, now_ms=ts)
    assert [w.seq for w in made] == [29, 30, 32, 33, 34, 35, 36, 37, 38, 39]  # 32 ready when it came
    w32 = made[2]
    assert w32.frames[-3:, 0].tolist() == [30, 30, 32]  # 31's slot holds 30
    assert w32.real_frames == 29 and window.counts["dropped"] == 1 and window.counts["filled"] == 1
    assert w32.span_ms == round(32 * FRAME_MS) - round(3 * FRAME_MS)  # 30 slots of capture time, as trained


@pytest.mark.parametrize("keep_every", [2, 3])
def test_one_frame_in_n_lost_unreported_keeps_windows_within_one_gap_wait_of_arrival_for_a_minute(keep_every):
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=3, gap_wait_ms=300)
    seqs = range(15 * 60)
    lost = {s for s in seqs if s % keep_every == 1}
    made = live(window, seqs, dropped=lost, reported=False)
    steps = {b[0] - a[0] for a, b in zip(made, made[1:])}
    assert made[0][0] <= 31 and max(steps) <= 3 + keep_every - 1  # a window every stride, on a real frame
    arrival = {s: round(s * FRAME_MS) + 400 for s in seqs}
    waits = [ready - arrival[seq] for seq, _, ready in made]
    assert max(waits) <= 300 + 50  # one gap wait (and one flush period), never one per hole
    assert max(waits[-20:]) <= 350  # and it does not grow over the minute
    assert window.counts["skipped"] == len(lost) - sum(1 for s in lost if s > made[-1][0])


def test_windows_under_drops_cover_the_capture_time_the_model_was_trained_on():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=3, gap_wait_ms=300)
    spans = []
    for seq in range(300):
        ts = round(seq * FRAME_MS)
        if seq % 2:
            spans += [w.span_ms for w in window.add_gap(seq, ts, ts)]
        else:
            spans += [w.span_ms for w in window.add(seq, vec(seq), ts, ts)]
    assert spans and max(spans) <= 30 * FRAME_MS  # 2 s at 15 fps, not 4 s of 30 received frames


def test_a_seq_far_ahead_does_not_stall_a_camera_that_goes_on_in_order():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=3, gap_wait_ms=300)
    made = live(window, range(40))
    window.add(10**6, vec(0), round(40 * FRAME_MS), now_ms=round(40 * FRAME_MS) + 400)
    made += live(window, range(40, 15 * 20))  # then the camera goes on for 20 s
    after = [seq for seq, _, _ in made if seq >= 40]
    assert after == list(range(41, 15 * 20, 3))  # not one window lost
    assert window.counts["out_of_range"] == 1 and window.counts["resets"] == 0


def test_a_camera_whose_numbering_restarts_resets_its_window_and_is_classified_again():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=3, gap_wait_ms=300)
    before = live(window, range(100))
    after = live(window, range(60), start_ms=round(101 * FRAME_MS))  # seq 0 again, captured later
    assert before and window.counts["resets"] == 1
    assert [seq for seq, _, _ in after] == list(range(29, 60, 3))


def test_a_camera_that_jumps_far_ahead_for_good_is_followed():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=3, gap_wait_ms=300)
    live(window, range(60))
    # numbering jumps by 5000 (frames lost upstream) and stays there
    made = live(window, range(5060, 5160), start_ms=round(60 * FRAME_MS) - round(5060 * FRAME_MS) + 100)
    assert window.counts["resets"] == 1
    assert made and made[-1][0] >= 5157  # windows every 3 frames up to the newest


def test_a_hole_longer_than_max_hole_starts_the_window_anew():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=1, gap_wait_ms=100, max_hole_ms=1000)
    live(window, range(40))
    made = live(window, range(40, 100), start_ms=2000)  # the camera paused 2 s, numbering went on
    assert window.counts["holes"] == 1
    assert made[0][0] == 69  # 30 new frames before the first window: none spans the pause


def test_a_window_with_too_few_real_frames_is_not_classified():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=1, gap_wait_ms=0, min_frames=10)
    made = []
    for seq in range(120):
        ts = round(seq * FRAME_MS)
        made += window.add(seq, vec(seq), ts, ts) if seq % 4 == 0 else window.add_gap(seq, ts, ts)
    assert made == [] and window.counts["sparse"] > 0  # 1 frame in 4: 8 real of 30


def test_one_stray_far_ahead_frame_is_never_followed_however_long_the_camera_pauses():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=3, gap_wait_ms=300)
    live(window, range(40))
    window.add(10**6, vec(0), round(40 * FRAME_MS), now_ms=round(40 * FRAME_MS) + 400)
    window.drain(now_ms=round(40 * FRAME_MS) + 5000)  # 5 s without a frame
    made = live(window, range(40, 100))
    assert window.counts["resets"] == 0 and window.counts["out_of_range"] == 1
    assert [seq for seq, _, _ in made] == list(range(41, 100, 3))


def test_a_capture_restart_announced_resets_a_window_holding_frames_of_the_run_before_once():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=3, gap_wait_ms=300)
    window.capture_started(0)  # the run the classifier found at its start: nothing to reset
    live(window, range(60))
    assert window.counts["resets"] == 0
    restart = round(61 * FRAME_MS)
    window.capture_started(restart)
    window.capture_started(restart)  # announced again at every refresh: one reset
    assert window.counts["resets"] == 1
    made = live(window, range(60, 100), start_ms=round(61 * FRAME_MS) - round(60 * FRAME_MS))
    assert made and made[0][0] == 89  # a fresh window of the new run only


def test_a_window_sent_ahead_by_forged_entries_comes_back_to_the_camera_s_real_frames():
    from shared.windows import CameraWindow

    window = CameraWindow("c", stride=3, gap_wait_ms=300)
    live(window, range(40))
    # three entries far ahead, captured "ten years from now", then the camera pauses: the window follows them
    future = 10 * 365 * 24 * 3600 * 1000
    for i in range(3):
        window.add(10**6 + i, vec(0), future + i, now_ms=round(40 * FRAME_MS) + 400)
    window.drain(now_ms=round(40 * FRAME_MS) + 2000)
    assert window.counts["resets"] == 1
    made = live(window, range(40, 140))  # the camera's real frames: behind the window, older than its "newest"
    assert window.counts["resets"] == 2  # after a window's worth of them, they win
    assert made and made[-1][0] >= 137 and made[0][0] < 40 + 30 + 30 + 3
