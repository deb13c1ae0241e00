"""Augmentations keep what makes a sign a sign, on real recorded keypoints."""

import numpy as np
import pytest

from services.trainer.augment import (
    FACE_END,
    LEFT_END,
    POSE_END,
    Augmenter,
    AugmentOptions,
    affine,
    change_speed,
    drop_hand,
    found,
    hold_frames,
    mirror,
    shift_in_time,
    split,
    transform,
)
from tests.conftest import SIGNERS


@pytest.fixture(scope="module")
def windows():
    with np.load(SIGNERS / "signer_02.npz") as data:  # both hands seen in most frames
        return data["X"][:20].astype(np.float32)


def test_mirroring_twice_gives_back_the_original(windows):
    for w in windows:
        np.testing.assert_allclose(mirror(mirror(w)), w, atol=1e-6)


def test_mirroring_swaps_the_hands_and_flips_x(windows):
    w = windows[0]
    m = mirror(w)
    _, _, left, right = split(w)
    _, _, m_left, m_right = split(m)
    present = found(right)[..., 0]
    np.testing.assert_allclose(m_left[..., 0][present], 1.0 - right[..., 0][present], atol=1e-6)
    np.testing.assert_allclose(m_left[..., 1:][present], right[..., 1:][present])
    assert np.array_equal(found(m_right), found(left))


def test_missing_points_stay_missing_under_every_change(windows):
    for w in windows:
        t = transform(w, np.deg2rad(8), 1.07, np.array([0.03, -0.02]))
        for part, part_t in zip(split(w), split(t)):
            assert np.array_equal(found(part), found(part_t))
        assert np.count_nonzero(found(split(mirror(w))[0])) == np.count_nonzero(found(split(w)[0]))
    augmented = Augmenter(seed=1)(windows)
    assert augmented.shape == windows.shape and augmented.dtype == np.float32
    assert not np.allclose(augmented, windows)


def test_rotation_and_scale_keep_distances_in_proportion(windows):
    w = windows[0]
    t = transform(w, np.deg2rad(10), 1.1, np.zeros(2))
    pose, pose_t = split(w)[0], split(t)[0]
    shoulder = np.linalg.norm(pose[:, 11, :2] - pose[:, 12, :2], axis=-1)
    shoulder_t = np.linalg.norm(pose_t[:, 11, :2] - pose_t[:, 12, :2], axis=-1)
    np.testing.assert_allclose(shoulder_t, shoulder * 1.1, rtol=1e-4)


def test_speed_changes_keep_the_middle_frame_and_stay_30_frames(windows):
    w = windows[0]
    for factor in (0.8, 1.0, 1.2):
        s = change_speed(w, factor)
        assert s.shape == (30, 1662)
        assert np.array_equal(s[15], w[15]) or np.array_equal(s[14], w[14])
    assert np.array_equal(change_speed(w, 1.0), w)


def test_dropping_a_hand_zeroes_only_one_hand_for_a_few_frames(windows):
    changes = 0
    for seed in range(20):
        w = windows[seed % len(windows)]
        d = drop_hand(w, np.random.default_rng(seed))
        rows, columns = np.nonzero(d != w)
        if not columns.size:
            continue  # that hand was already missing in those frames
        changes += 1
        assert columns.min() >= FACE_END and (columns.max() < LEFT_END or columns.min() >= LEFT_END)
        assert np.all(d[rows, columns] == 0) and len(set(rows.tolist())) <= 8
    assert changes >= 10


def test_a_window_shifted_in_time_holds_its_edge_frame_where_the_recording_runs_out(windows):
    w = windows[0]
    later = shift_in_time(w, 5)
    np.testing.assert_array_equal(later[5:], w[:25])
    np.testing.assert_array_equal(later[:5], np.repeat(w[:1], 5, axis=0))
    earlier = shift_in_time(w, -5)
    np.testing.assert_array_equal(earlier[:25], w[5:])
    np.testing.assert_array_equal(earlier[25:], np.repeat(w[-1:], 5, axis=0))
    np.testing.assert_array_equal(shift_in_time(w, 0), w)


def test_time_shift_is_off_by_default_and_moves_windows_when_asked(windows):
    # Off by default: the default augmentation draws the same random numbers as before the option existed.
    np.testing.assert_array_equal(Augmenter(seed=3)(windows), Augmenter(AugmentOptions(time_shift=0), seed=3)(windows))
    plain = AugmentOptions(mirror_p=0, rotate_deg=0, scale=0, shift=0, speed=0, repeat_frames_p=0, drop_hand_p=0)
    unchanged = Augmenter(plain, seed=3)(windows)
    np.testing.assert_allclose(unchanged, windows, atol=1e-6)
    shifted = Augmenter(AugmentOptions(**{**plain.__dict__, "time_shift": 8, "time_shift_p": 1.0}), seed=3)(windows)
    held_edges = [bool(np.all(s[0] == s[1]) or np.all(s[-1] == s[-2])) for s in shifted]
    assert sum(held_edges) >= len(windows) // 2, held_edges


def test_the_batch_transform_moves_each_window_as_the_single_window_one_does(windows):
    angles, scales, shifts = np.array([0.1, -0.15]), np.array([1.05, 0.92]), np.array([[0.01, -0.02], [-0.03, 0.0]])
    moved = affine(windows[:2], angles, scales, np.ones(2), shifts)
    for i in range(2):
        np.testing.assert_allclose(moved[i], transform(windows[i], angles[i], scales[i], shifts[i]), atol=1e-5)


def test_a_y_stretch_changes_heights_and_keeps_widths_as_another_frame_aspect_would(windows):
    w = windows[:1]
    taller = affine(w, np.zeros(1), np.ones(1), np.array([1.33]), np.zeros((1, 2)))
    pose, taller_pose = split(w[0])[0], split(taller[0])[0]
    both = np.all(pose[:, [11, 12, 15], :2] != 0, axis=(1, 2))  # shoulders and a wrist found
    assert both.any()
    width = np.abs(pose[both, 11, 0] - pose[both, 12, 0])
    np.testing.assert_allclose(np.abs(taller_pose[both, 11, 0] - taller_pose[both, 12, 0]), width, atol=1e-5)
    height = pose[both, 15, 1] - (pose[both, 11, 1] + pose[both, 12, 1]) / 2
    taller_height = taller_pose[both, 15, 1] - (taller_pose[both, 11, 1] + taller_pose[both, 12, 1]) / 2
    np.testing.assert_allclose(taller_height, height * 1.33, atol=1e-5)
    assert np.all((taller[0] == 0) == (w[0] == 0))  # missing points stay missing


def test_a_model_without_the_face_gets_its_face_points_untouched(windows):
    still = AugmentOptions(mirror_p=0, speed=0, repeat_frames_p=0, drop_hand_p=0, face=False)
    out = Augmenter(still, seed=1)(windows)
    np.testing.assert_array_equal(out[..., POSE_END:FACE_END], windows[..., POSE_END:FACE_END])
    assert not np.allclose(out[..., :POSE_END], windows[..., :POSE_END])
    with_face = Augmenter(AugmentOptions(**{**still.__dict__, "face": True}), seed=1)(windows)
    assert not np.allclose(with_face[..., POSE_END:FACE_END], windows[..., POSE_END:FACE_END])


def test_a_slow_camera_repeats_the_frame_before_each_missing_one_as_the_classifiers_windows_do(windows):
    from shared.windows import CameraWindow

    kept_share = np.array([0.3] * len(windows))
    slow = hold_frames(windows, kept_share, np.random.default_rng(4))
    for original, held in zip(windows, slow):
        kept = [t for t in range(30) if t == 0 or not np.array_equal(held[t], held[t - 1])]
        assert 3 <= len(kept) <= 20 and np.array_equal(held[-1], original[-1])  # it ends on a real frame
        # The same window through the classifier's own windowing, fed only the kept frames.
        camera = CameraWindow("cam", stride=1, gap_wait_ms=0, min_frames=1)
        ready = None
        for t in kept + ([29] if 29 not in kept else []):
            for r in camera.add(t, original[t], 1000 + t * 66, 1000 + t * 66):
                ready = r
        np.testing.assert_array_equal(ready.frames, held)


def test_slow_camera_windows_come_only_when_asked(windows):
    np.testing.assert_array_equal(Augmenter(seed=3)(windows), Augmenter(AugmentOptions(slow_camera_p=0), seed=3)(windows))
    plain = AugmentOptions(mirror_p=0, rotate_deg=0, scale=0, shift=0, speed=0, repeat_frames_p=0, drop_hand_p=0,
                           slow_camera_p=1.0)
    held = Augmenter(plain, seed=3)(windows)
    repeats = [sum(np.array_equal(w[t], w[t - 1]) for t in range(1, 30)) for w in held]
    assert min(repeats) >= 3, repeats


def test_a_blend_of_two_signs_lies_between_them_where_both_were_found_and_keeps_the_first_elsewhere(windows):
    from services.trainer.augment import blended

    a, b = windows[:2], windows[2:4][::-1].copy()
    b[:, :5, LEFT_END:] = 0.0  # a hand the second window lost
    out = blended(a, b, np.array([0.5, 0.4]))
    both = (a != 0) & (b != 0)
    weight = np.array([0.5, 0.4])[:, None, None]
    np.testing.assert_allclose(out[both], (weight * a + (1 - weight) * b)[both], atol=1e-6)
    np.testing.assert_array_equal(out[~both], a[~both])
