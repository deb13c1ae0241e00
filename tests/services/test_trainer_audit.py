"""The label audit: which recordings are left out of training, when it refuses to judge, and the real run."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from services.trainer.audit import audit_labels
from services.trainer.training import TrainOptions
from tests.conftest import SIGNERS, signstream_cmd
from tests.services.test_trainer_generalisation import fake_data, fitter_taking


def test_a_swapped_source_is_left_out_for_those_labels_only():
    data = fake_data(signers=6)
    result = audit_labels(data, TrainOptions(audit=True), fitter_taking({(4, "a"): "b", (4, "b"): "a"}, data))
    assert {(s.signer, s.label, s.looks_like, s.swapped) for s in result.left_out} == {
        ("signer_04", "a", "b", True), ("signer_04", "b", "a", True)}
    dropped = (data.groups == "signer_04") & np.isin(data.y, ["a", "b"])
    assert len(result.kept.y) == len(data.y) - dropped.sum() == len(data.y) - 8
    assert not ((result.kept.groups == "signer_04") & (result.kept.y != "c")).any()
    assert ((result.kept.groups == "signer_04") & (result.kept.y == "c")).sum() == 4
    assert result.note == "audited 6 sources: left out 8 of 72 sequences"
    assert result.to_json()["left_out"][0] == {"source": "signer_04", "label": "a", "looks_like": "b", "count": 4,
                                               "total": 4}


def test_nothing_is_left_out_when_every_source_agrees():
    data = fake_data(signers=6)
    result = audit_labels(data, TrainOptions(audit=True), fitter_taking({}, data))
    assert result.left_out == [] and len(result.kept.y) == len(data.y)
    assert result.note == "audited 6 sources: every label agrees with the others"


def test_a_sign_that_half_the_sources_seem_to_get_wrong_is_kept_whole():
    # Half the people cannot all have recorded the wrong sign: the quick models failed on it.
    data = fake_data(signers=6)
    wrong = {(s, "c"): "a" for s in range(3)} | {(5, "b"): "a"}
    result = audit_labels(data, TrainOptions(audit=True), fitter_taking(wrong, data))
    assert [(s.signer, s.label) for s in result.left_out] == [("signer_05", "b")]
    assert (result.kept.y == "c").sum() == (data.y == "c").sum()


@pytest.mark.parametrize("signers, only_one, reason", [
    (2, False, "not audited: 2 source(s), the audit needs 3 or more"),
    (4, True, "not audited: only signer_00 recorded 'c'"),
])
def test_too_few_sources_to_judge_leaves_the_data_as_it_is(signers, only_one, reason):
    data = fake_data(signers=signers)
    if only_one:
        data = data.subset((data.y != "c") | (data.groups == "signer_00"))

    def never_called(train, seed):
        raise AssertionError("no model may be trained without a majority to trust")

    result = audit_labels(data, TrainOptions(audit=True), never_called)
    assert result.note == reason and result.left_out == [] and len(result.kept.y) == len(data.y)


@pytest.mark.slow
def test_train_with_audit_leaves_out_the_swapped_folders_of_a_real_signer(service_env, tmp_path):
    # signer_10 recorded the I-love-you hand under 'thanks' and a flat hand under 'iloveyou'
    # (bench/results/handshapes.md); the others sign the usual way.
    files = [SIGNERS / f"signer_{n:02d}.npz" for n in (0, 1, 3, 8, 10, 11)]
    result = subprocess.run(
        signstream_cmd("train", *sum((["--data", str(f)] for f in files), []), "--audit", "--audit-epochs", "10", "--epochs", "2",
                       "--patience", "0", "--min-accuracy", "0", "--no-announce", "--models-dir", str(tmp_path)),
        env=service_env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr
    audit = json.loads((tmp_path / "v0001" / "data.json").read_text())["audit"]
    left_out = {(g["source"], g["label"]): g["looks_like"] for g in audit["left_out"]}
    assert left_out.get(("signer_10", "iloveyou")) == "thanks", audit
    assert {source for source, _ in left_out} == {"signer_10"}, audit
    assert "left out of training: signer_10:" in result.stderr and "(--no-audit keeps them)" in result.stderr
    counts = json.loads((tmp_path / "v0001" / "data.json").read_text())["counts"]
    assert sum(counts.values()) == 540 - sum(g["total"] for g in audit["left_out"])
