"""The leave-signers-out evaluation itself: folds, leak detection, and a real small run."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from services.trainer.data import Dataset
from services.trainer.generalisation import LeakError, leave_signers_out, signer_folds
from tests.conftest import SIGNERS, signstream_cmd


def fake_data(signers=6, per_label=4, labels=("a", "b", "c")) -> Dataset:
    """Each sequence carries its signer's number in its first float and a row id in its second,
    so a fitter can tell who signed it and which recording it is."""
    X, y, groups = [], [], []
    for s in range(signers):
        for label in labels:
            for _ in range(per_label):
                x = np.full((30, 1662), s, np.float32)
                x[0, 1] = len(X)
                X.append(x)
                y.append(label)
                groups.append(f"signer_{s:02d}")
    return Dataset(np.stack(X), np.array(y), np.array(groups))


def fitter_taking(wrong: dict[tuple[int, str], str], data):
    """A fitter right about every recording except signer number and label -> the label it is taken for."""

    def fitter(train, seed):
        labels = train.labels

        def predict(X):
            out = []
            for x in X:
                signer, label = int(x[0, 0]), str(data.y[int(x[0, 1])])
                out.append(labels.index(wrong.get((signer, label), label)))
            return np.array(out)

        return predict

    return fitter


def test_folds_are_disjoint_and_test_every_signer_exactly_once():
    groups = np.array([f"s{i}" for i in range(12) for _ in range(3)])
    folds = signer_folds(groups, 4)
    flat = [s for fold in folds for s in fold]
    assert sorted(flat) == sorted(set(groups.tolist())) and len(flat) == 12
    assert [len(f) for f in folds] == [3, 3, 3, 3]
    with pytest.raises(ValueError, match="cannot make 13 folds"):
        signer_folds(groups, 13)


def test_no_fitter_ever_sees_a_signer_it_is_tested_on():
    data = fake_data()
    seen = []

    def spying_fitter(train, seed):
        trained_on = set(train.groups.tolist())
        seen.append(trained_on)

        def predict(X):
            tested = {f"signer_{int(x[0, 0]):02d}" for x in X}
            assert not tested & trained_on, f"tested on {tested & trained_on} after training on them"
            return np.zeros(len(X), dtype=int)

        return predict

    report = leave_signers_out(data, spying_fitter, n_folds=3, seeds=[0])
    assert len(seen) == 3 and all(len(s) == 4 for s in seen)
    assert sorted(report.per_signer()) == sorted(set(data.groups.tolist()))


def test_a_fitter_that_memorises_signers_scores_nothing_on_unseen_ones():
    # Memorising who signed what is perfect on seen signers and chance or worse on new ones:
    # if a test signer leaked into training, this fitter would score 1.0 and the test would fail.
    data = fake_data()
    rng = np.random.default_rng(0)
    data.y = rng.permutation(data.y)  # labels unrelated to anything but the memorised rows

    def memoriser(train, seed):
        recorded = {int(x[0, 1]): train.labels.index(label) for x, label in zip(train.X, train.y)}
        return lambda X: np.array([recorded.get(int(x[0, 1]), 0) for x in X])

    report = leave_signers_out(data, memoriser, n_folds=3, seeds=[0])
    assert report.mean < 0.5


def test_the_report_flags_a_model_that_collapsed_onto_one_class():
    report = leave_signers_out(fake_data(), lambda train, seed: (lambda X: np.ones(len(X), dtype=int)),
                               n_folds=2, seeds=[0, 1])
    assert report.collapses == 4
    assert report.folds[0].collapsed_on == "b"
    assert report.confusion().sum() == 2 * len(fake_data().y)


def test_a_leak_in_the_split_is_refused(monkeypatch):
    import services.trainer.generalisation as generalisation

    monkeypatch.setattr(Dataset, "subset", lambda self, mask: Dataset(self.X, self.y, self.groups))
    with pytest.raises(LeakError, match="are in the training data"):
        generalisation.leave_signers_out(fake_data(), lambda t, s: None, n_folds=2, seeds=[0])


@pytest.mark.slow
def test_evaluate_by_signer_trains_real_models_and_reports_every_signer(service_env, tmp_path):
    files = [str(SIGNERS / f"signer_{n:02d}.npz") for n in range(4)]
    result = subprocess.run(
        signstream_cmd("evaluate", "--by-signer", *sum((["--data", f] for f in files), []), "--folds", "2",
                       "--arch", "gru", "--normalise", "--epochs", "3", "--patience", "0"),
        env=service_env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    per_signer = {line.split()[0]: float(line.split()[1]) for line in lines[:4]}
    assert sorted(per_signer) == ["signer_00", "signer_01", "signer_02", "signer_03"]
    summary = lines[4]
    assert summary.startswith("leave-signers-out: mean ") and "of 2 trainings collapsed" in summary
    mean = float(summary.split("mean ")[1].split(" ")[0])
    assert abs(mean - np.mean(list(per_signer.values()))) < 1e-3
    assert "(seeds: 0: " in summary
    worst = min(per_signer, key=per_signer.get)
    assert lines[5] == "all signers:" and lines[6].startswith("true \\ predicted")
    assert f"worst signer, {worst}:" in lines
    worst_table = lines[lines.index(f"worst signer, {worst}:") + 1:]
    assert worst_table[0].startswith("true \\ predicted")
    # the worst signer's 90 sequences, one training per fold: its table counts only them
    counts = [int(n) for row in worst_table[1:4] for n in row.split()[1:4]]
    assert sum(counts) == 90


def test_per_signer_confusion_and_seed_spread_come_from_the_predictions():
    data = fake_data(signers=4)

    def signer_zero_right_rest_wrong(train, seed):
        labels = train.labels

        def predict(X):
            return np.array([t if int(x[0, 0]) == 0 or seed == 1 else (t + 1) % 3
                             for x, t in zip(X, index_of(X))])

        def index_of(X):
            return [labels.index(data.y[int(x[0, 1])]) for x in X]

        return predict

    report = leave_signers_out(data, signer_zero_right_rest_wrong, n_folds=2, seeds=[0, 1])
    # signer_00 is right in both seeds: its matrix is diagonal, 4 per label per seed.
    assert report.confusion("signer_00").tolist() == [[8, 0, 0], [0, 8, 0], [0, 0, 8]]
    # signer_01 is wrong in seed 0 (shifted by one class) and right in seed 1.
    assert report.confusion("signer_01").tolist() == [[4, 4, 0], [0, 4, 4], [4, 0, 4]]
    assert report.confusion().sum() == 2 * len(data.y)
    assert report.mean_by_seed() == {0: 0.25, 1: 1.0}
    assert report.seed_std == pytest.approx(0.375)
    assert report.per_signer()["signer_01"] == pytest.approx(0.5)


def test_recordings_that_look_like_another_sign_are_named_and_swaps_recognised():
    data = fake_data(signers=4, per_label=6)
    # signer_01: 'a' and 'b' folders swapped; signer_02: 'c' recorded as something that looks like 'a'
    taking = fitter_taking({(1, "a"): "b", (1, "b"): "a", (2, "c"): "a"}, data)

    def fitter(train, seed):
        predict = taking(train, seed)

        def with_one_ordinary_error(X):  # one ordinary error must not make a suspect
            out = predict(X)
            out[0] = (out[0] + 1) % 3
            return out

        return with_one_ordinary_error

    report = leave_signers_out(data, fitter, n_folds=2, seeds=[0])
    found = {(s.signer, s.label, s.looks_like, s.swapped) for s in report.mislabelled()}
    assert found == {("signer_01", "a", "b", True), ("signer_01", "b", "a", True), ("signer_02", "c", "a", False)}
    suspect = next(s for s in report.mislabelled() if s.signer == "signer_02")
    assert (suspect.count, suspect.total) == (6, 6)
    assert str(suspect).startswith("signer_02: 6 of 6 'c' recordings look like 'a'")
    assert "labels swapped?" in str(next(s for s in report.mislabelled() if s.signer == "signer_01"))


@pytest.mark.slow
def test_real_models_name_the_signer_whose_recordings_show_another_sign():
    # signer_10's 'iloveyou' folder holds flat hands and its 'thanks' folder the I-love-you hand
    # (bench/results/handshapes.md); a model trained on two signers who sign the usual way, and
    # never on signer_10, must name those recordings rather than quietly score them wrong.
    from services.trainer.data import load_data
    from services.trainer.training import TrainOptions, keras_fitter

    data = load_data([SIGNERS / f"signer_{n:02d}.npz" for n in (0, 3, 8, 10)])
    fitter = keras_fitter(lambda seed: TrainOptions(epochs=40, patience=0, seed=seed))
    report = leave_signers_out(data, fitter, n_folds=2, seeds=[0])  # signer_10 is tested beside signer_00
    assert ["signer_00", "signer_10"] in [fold.test_signers for fold in report.folds]
    suspects = {(s.signer, s.label): s.looks_like for s in report.mislabelled()}
    assert suspects.get(("signer_10", "iloveyou")) == "thanks", report.mislabelled()
    # The same model recognises a signer who signs the usual way (0.83 measured; chance is 0.33).
    assert report.per_signer()["signer_00"] >= 0.75
    assert not any(s.signer == "signer_00" for s in report.mislabelled())
