"""Reading MP_DATA folders and signer files, and every way they can be wrong."""

from pathlib import Path

import numpy as np
import pytest

from services.trainer.data import (
    UNKNOWN_PER_SIGN,
    add_unknown,
    export_mp_data,
    load_data,
    load_mp_data,
    load_signer_file,
    read_data,
    refuse_faceless,
    with_unknown,
)
from shared.errors import DataError
from shared.model_store import UNKNOWN
from tests.conftest import MORE_SIGNERS, OTHER_SIGNS, SIGNERS


def write_sequence(root: Path, action: str, seq: str, frames: int = 30, dtype=np.float32, size=1662, start=0.0):
    folder = root / action / seq
    folder.mkdir(parents=True)
    for f in range(frames):
        np.save(folder / f"{f}.npy", np.full(size, start + f, dtype=dtype))


def test_frames_and_sequences_are_read_in_numeric_order_in_float32_or_float64(tmp_path):
    write_sequence(tmp_path, "hello", "10", start=1000)
    write_sequence(tmp_path, "hello", "9", dtype=np.float64, start=900)
    write_sequence(tmp_path, "thanks", "0")
    data = load_mp_data(tmp_path)
    assert data.X.shape == (3, 30, 1662) and data.X.dtype == np.float32
    assert data.y.tolist() == ["hello", "hello", "thanks"]
    assert data.X[0, :, 0].tolist() == [900 + f for f in range(30)]  # sequence 9 before 10, frame 10 after 9
    assert data.X[1, 12, 0] == 1012
    assert data.counts() == {"hello": 2, "thanks": 1}


@pytest.mark.parametrize("make, message", [
    (lambda root: write_sequence(root, "hello", "0", size=1600), r"shape \(1600,\)"),
    (lambda root: write_sequence(root, "hello", "0", frames=29), "29 frames, a sequence needs 30"),
    (lambda root: (root / "hello").mkdir(), "has no sequences"),
    (lambda root: write_sequence(root, "hello", "first"), "'first' is not a number"),
    (lambda root: (write_sequence(root, "hello", "0"), (root / "hello" / "0" / "x.npy").write_bytes(b"junk")),
     "'x' is not a number"),
    (lambda root: (write_sequence(root, "hello", "0"), (root / "hello" / "0" / "3.npy").write_bytes(b"junk")),
     "not a readable .npy"),
])
def test_each_bad_layout_is_one_data_error_naming_the_path(tmp_path, make, message):
    write_sequence(tmp_path, "thanks", "0")
    make(tmp_path)
    with pytest.raises(DataError, match=message) as caught:
        load_mp_data(tmp_path)
    assert str(tmp_path / "hello") in str(caught.value)


def test_a_missing_root_says_what_to_pass(tmp_path):
    with pytest.raises(DataError, match="no such folder; pass an MP_DATA folder"):
        load_data([tmp_path / "nope"])


def test_one_action_is_not_enough_to_train(tmp_path):
    write_sequence(tmp_path, "hello", "0")
    with pytest.raises(DataError, match="at least two actions"):
        load_data([tmp_path])


def test_signer_files_load_as_float32_windows_grouped_by_signer():
    data = load_data([SIGNERS / "signer_00.npz", SIGNERS / "signer_01.npz"])
    assert data.X.shape == (180, 30, 1662) and data.X.dtype == np.float32
    assert set(data.groups.tolist()) == {"signer_00", "signer_01"}
    assert data.counts() == {"hello": 60, "iloveyou": 60, "thanks": 60}


def test_a_signer_file_exported_to_mp_data_reads_back_the_same(tmp_path):
    assert export_mp_data(SIGNERS / "signer_03.npz", tmp_path) == 90
    packed = load_signer_file(SIGNERS / "signer_03.npz")
    unpacked = load_mp_data(tmp_path)
    order = np.lexsort((packed.X[:, 0, 0], packed.y))
    back = np.lexsort((unpacked.X[:, 0, 0], unpacked.y))
    np.testing.assert_array_equal(packed.X[order], unpacked.X[back])


def test_pose_and_hands_files_pool_with_full_ones_with_an_empty_face():
    extra = MORE_SIGNERS / "extra_000.npz"
    with np.load(extra) as raw:
        X258 = raw["X"].astype(np.float32)
    data = load_data([SIGNERS / "signer_00.npz", extra])
    full = load_signer_file(SIGNERS / "signer_00.npz")
    n_full = len(full.y)
    assert data.X.shape == (n_full + len(X258), 30, 1662)
    assert data.has_face.tolist() == [True] * n_full + [False] * len(X258)
    assert data.faceless_sources() == ["extra_000"]
    pooled = data.X[n_full:]
    assert not pooled[:, :, 132:1536].any(), "the face of a pose-and-hands recording is all zeros"
    assert np.array_equal(pooled[:, :, :132], X258[:, :, :132])  # pose
    assert np.array_equal(pooled[:, :, 1536:], X258[:, :, 132:])  # left hand, right hand
    assert data.subset(data.y == "hello").faceless_sources() == ["extra_000"]


def test_a_pose_and_hands_file_must_say_what_it_holds(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, X=np.zeros((2, 30, 258), np.float16), y=np.array(["a", "b"]), parts="face,pose")
    with pytest.raises(DataError, match="'face,pose'; expected 'pose,left_hand,right_hand'"):
        load_signer_file(path)


def test_a_model_that_reads_the_face_refuses_faceless_data_in_one_line():
    data = load_data([SIGNERS / "signer_00.npz", MORE_SIGNERS / "extra_000.npz", MORE_SIGNERS / "extra_001.npz"])
    refuse_faceless(data, face=False)
    with pytest.raises(DataError) as refused:
        refuse_faceless(data, face=True)
    message = str(refused.value)
    assert "\n" not in message and "extra_000, extra_001 hold pose and hands only" in message
    assert "train without --face" in message
    refuse_faceless(load_data([SIGNERS / "signer_00.npz", SIGNERS / "signer_01.npz"]), face=True)


def test_other_signs_become_unknown_beside_windows_without_hands():
    data = load_data([SIGNERS / "signer_00.npz"])
    other = OTHER_SIGNS / "other_000.npz"
    with np.load(other) as raw:
        other_labels = raw["y"].astype(str)
    pooled = with_unknown(data, [other], idle=True, seed=1)
    n, n_other = len(data.y), len(other_labels)
    assert pooled.labels == sorted({*data.labels, UNKNOWN})
    assert (pooled.y[:n] == data.y).all() and (pooled.y[n:] == UNKNOWN).all()
    assert len(pooled.y) == n + n_other + n // 10
    idle = pooled.X[n + n_other:]
    assert not idle[:, :, 1536:].any() and idle[:, :, :132].any(), "idle windows keep the pose, lose both hands"
    assert with_unknown(data, [], idle=True) is data


def test_other_signs_are_capped_so_that_a_few_own_recordings_are_not_drowned():
    data = load_data([SIGNERS / "signer_00.npz"])
    data = data.subset(np.arange(len(data.y)) % 3 == 0)  # a few dozen own recordings
    others = read_data([OTHER_SIGNS])
    pooled = add_unknown(data, others, idle=False, seed=4)
    assert pooled.counts()[UNKNOWN] == UNKNOWN_PER_SIGN * max(data.counts().values())
    again = add_unknown(data, others, idle=False, seed=4)
    assert (pooled.X == again.X).all(), "the same seed picks the same other signs"


def test_unknown_recordings_of_a_trained_sign_keep_its_label_and_unknown_is_reserved(tmp_path):
    data = load_data([SIGNERS / "signer_00.npz"])
    path = tmp_path / "others.npz"
    np.savez(path, X=np.zeros((2, 30, 258), np.float16), y=np.array(["hello", "maybe"]), parts="pose,left_hand,right_hand")
    pooled = with_unknown(data, [path], idle=False)
    assert pooled.y[-2:].tolist() == ["hello", UNKNOWN]
    with pytest.raises(DataError, match="already has a label 'unknown'"):
        with_unknown(pooled, [path])


def test_actions_may_come_from_different_sources_a_users_own_sign_beside_the_shared_ones(tmp_path):
    write_sequence(tmp_path, "please", "0")
    write_sequence(tmp_path, "please", "1")
    write_sequence(tmp_path, "hello", "0")  # also recorded, not asked for
    data = load_data([tmp_path, SIGNERS / "signer_00.npz"], actions=["hello", "thanks", "please"])
    assert data.counts() == {"hello": 31, "please": 2, "thanks": 30}


@pytest.mark.parametrize("actions, message", [
    (["hello", "please", "helo"], r"no recordings of helo in .*\(they hold hello, iloveyou, please, thanks\); "
                                  r"record them or drop them from --actions"),
    (["hello", "thanks", "iloveyou"], r"holds none of the actions hello, thanks, iloveyou \(it has please\); "
                                      r"leave it out or name its actions"),
])
def test_an_action_no_source_holds_or_a_source_with_none_of_them_is_one_line(tmp_path, actions, message):
    write_sequence(tmp_path, "please", "0")
    with pytest.raises(DataError, match=message):
        load_data([tmp_path, SIGNERS / "signer_00.npz"], actions=actions)
