"""Training real (small) models with real TensorFlow on real signer recordings."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from services.trainer.data import UNKNOWN_PER_SIGN, load_data
from services.trainer.model import build_model
from services.trainer.run import train_and_promote
from services.trainer.settings import TrainerSettings
from services.trainer.training import TrainOptions, stratified_split, train
from shared.messages import ModelAnnouncement
from shared.model_store import ModelStore
from tests.conftest import MORE_SIGNERS, OTHER_SIGNS, SIGNERS, signstream_cmd

SAME_SIGNERS = [SIGNERS / f"signer_{n}.npz" for n in ("00", "03", "05")]
VERSION_FILES = {"model.keras", "labels.json", "metrics.json", "options.json", "data.json", "confusion.png", "logs"}


@pytest.fixture(scope="module")
def signers_data():
    return load_data(SAME_SIGNERS)


def test_the_recipe_network_has_exactly_596741_weights_for_5_actions():
    model = build_model("recipe", 5)
    assert model.count_params() == 596_741
    assert model.input_shape == (None, 30, 1662) and model.output_shape == (None, 5)
    assert [layer.__class__.__name__ for layer in model.layers] == ["LSTM", "LSTM", "LSTM", "Dense", "Dense", "Dense"]


def test_the_validation_split_keeps_each_actions_share_and_never_overlaps():
    y = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    train_idx, val_idx = stratified_split(y, 0.2, seed=3)
    assert not set(train_idx) & set(val_idx) and len(train_idx) + len(val_idx) == 100
    assert {l: int((y[val_idx] == l).sum()) for l in "abc"} == {"a": 10, "b": 6, "c": 4}


@pytest.mark.slow
def test_training_on_three_signers_recognises_their_held_back_sequences(signers_data, tmp_path):
    # Measured: the normalised gru on pose and hands reaches 0.98 and 0.96 (seeds 0, 1) on these 54 held-back
    # sequences after 25 epochs (0.89 and 0.91 with the face too); the recipe's relu LSTM reaches only 0.39-0.56
    # in as many. With augmentation (which pays off on unseen signers) it is 0.91 and 0.98. The bar leaves room for noise.
    options = TrainOptions(arch="gru", normalise=True, augment=False, epochs=25, patience=0, seed=0, min_accuracy=0.75)
    outcome = train(signers_data, options, ModelStore(tmp_path), verbose=0)
    assert outcome.metrics["accuracy"] >= 0.75, outcome.metrics["accuracy"]
    assert outcome.metrics["n"] == 54
    assert outcome.verdict.accepted
    assert {p.name for p in outcome.path.iterdir()} == VERSION_FILES
    metrics = json.loads((outcome.path / "metrics.json").read_text())
    assert set(metrics["recall"]) == {"hello", "iloveyou", "thanks"}
    assert np.array(metrics["confusion"]).sum() == 54
    assert json.loads((outcome.path / "labels.json").read_text()) == ["hello", "iloveyou", "thanks"]
    assert json.loads((outcome.path / "data.json").read_text())["counts"] == {"hello": 90, "iloveyou": 90, "thanks": 90}


def test_a_run_that_fails_while_writing_leaves_no_version_behind(signers_data, tmp_path, monkeypatch):
    import services.trainer.training as training

    def broken_png(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(training, "save_confusion_png", broken_png)
    store = ModelStore(tmp_path)
    with pytest.raises(OSError, match="disk full"):
        train(signers_data.subset(np.arange(len(signers_data.y)) % 5 == 0), TrainOptions(epochs=1, patience=0),
              store, verbose=0)
    assert list(tmp_path.iterdir()) == []


def test_versions_are_numbered_in_order_and_current_names_the_promoted_one(tmp_path):
    store = ModelStore(tmp_path)
    for _ in range(3):
        building = store.begin()
        (building / "model.keras").write_text("x")
        store.commit(building)
    assert store.versions() == ["v0001", "v0002", "v0003"]
    assert store.current() is None
    store.set_current("v0002")
    assert store.current() == "v0002"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_a_collapsed_model_is_never_promoted(signers_data, tmp_path, redis_url, namespace, r, keys):
    # A learning rate this high drives the relu LSTM into predicting one class, its known failure.
    settings = TrainerSettings(redis_url=redis_url, namespace=namespace, models_dir=tmp_path, recipe=True,
                               epochs=2, patience=0, learning_rate=0.5, min_accuracy=0.0)
    outcome, promoted = train_and_promote(settings, signers_data.subset(np.arange(270) % 3 == 0), verbose=0)
    assert not promoted
    assert outcome.verdict.reason.startswith("collapsed")
    assert ModelStore(tmp_path).current() is None
    assert r.xlen(keys.models) == 0


@pytest.mark.slow
def test_a_promoted_model_is_announced_and_evaluate_reports_on_it(signers_data, tmp_path, redis_url, namespace, r,
                                                                  keys, service_env):
    settings = TrainerSettings(redis_url=redis_url, namespace=namespace, models_dir=tmp_path, arch="gru", normalise=True,
                               augment=False, epochs=25, patience=0, min_accuracy=0.75)
    outcome, promoted = train_and_promote(settings, signers_data, verbose=0)
    assert promoted
    assert ModelStore(tmp_path).current() == outcome.version
    announced = ModelAnnouncement.decode(r.xrange(keys.models)[-1][1])
    assert announced.version == outcome.version and announced.labels == ["hello", "iloveyou", "thanks"]
    assert announced.path == str(outcome.path.resolve())

    result = subprocess.run(signstream_cmd("evaluate", "--models-dir", str(tmp_path), "--data",
                                           str(SIGNERS / "signer_03.npz")),
                            env=service_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"model {outcome.version}: accuracy ") and "on 90 sequences" in lines[0]
    assert "true \\ predicted" in lines[1] and lines[2].startswith("hello")


def test_train_with_a_missing_data_path_exits_2_with_one_line(service_env, tmp_path):
    result = subprocess.run(signstream_cmd("train", "--data", str(tmp_path / "MP_DATA"), "--models-dir",
                                           str(tmp_path / "models")), env=service_env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such folder" in result.stderr


def test_training_on_augmented_windows_sees_new_windows_every_epoch(signers_data, tmp_path, monkeypatch):
    import services.trainer.augment as augment

    seen = []
    original = augment.Augmenter.__call__

    def recording(self, batch):
        out = original(self, batch)
        seen.append(out[0].copy())
        return out

    monkeypatch.setattr(augment.Augmenter, "__call__", recording)
    small = signers_data.subset(np.arange(len(signers_data.y)) % 9 == 0)
    outcome = train(small, TrainOptions(arch="gru", normalise=True, augment=True, epochs=2, patience=0,
                                        batch_size=64, min_accuracy=0.0), ModelStore(tmp_path), verbose=0)
    assert json.loads((outcome.path / "options.json").read_text())["augment"] is True
    assert outcome.metrics["epochs_run"] == 2
    assert len(seen) >= 2 and not any(np.array_equal(seen[0], s) for s in seen[1:])


def test_the_default_is_the_leave_signers_out_winner_and_the_recipe_is_one_option_away():
    from services.trainer.run import options_from
    from services.trainer.settings import TrainCommandSettings
    from shared.settings import load_settings

    default = options_from(load_settings(TrainCommandSettings, ["--data", "x"], "train"))
    assert (default.arch, default.normalise, default.augment, default.face) == ("gru", True, True, False)
    recipe = options_from(load_settings(TrainCommandSettings, ["--data", "x", "--recipe"], "train"))
    assert (recipe.arch, recipe.normalise, recipe.augment, recipe.face) == ("recipe", False, False, True)
    mixed = options_from(load_settings(TrainCommandSettings, ["--data", "x", "--arch", "transformer", "--face"], "train"))
    assert (mixed.arch, mixed.normalise, mixed.augment, mixed.face) == ("transformer", True, True, True)
    # The label audit is a choice (it doubles training time and gained nothing over four seeds), never the recipe's.
    assert default.audit is False
    assert options_from(load_settings(TrainCommandSettings, ["--data", "x", "--audit"], "train")).audit is True
    assert options_from(load_settings(TrainCommandSettings, ["--data", "x", "--audit", "--recipe"], "train")).audit is False


def test_pose_and_hands_signers_train_a_faceless_model_and_the_recipe_refuses_them(service_env, tmp_path):
    data = ["--data", str(SIGNERS / "signer_00.npz"), "--data", str(MORE_SIGNERS / "extra_000.npz")]
    refused = subprocess.run(signstream_cmd("train", "--recipe", *data, "--models-dir", str(tmp_path / "m"),
                                            "--epochs", "1", "--no-announce"),
                             env=service_env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().count("\n") == 0 and "extra_000 hold pose and hands only" in refused.stderr
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").glob("v*")), "nothing written for a refusal"

    trained = subprocess.run(signstream_cmd("train", *data, "--models-dir", str(tmp_path / "m"),
                                            "--epochs", "3", "--patience", "0", "--min-accuracy", "0", "--no-announce"),
                             env=service_env, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-2000:]
    sources = json.loads((tmp_path / "m" / "v0001" / "data.json").read_text())["sources"]
    assert [s.rsplit("/", 1)[-1] for s in sources] == ["signer_00.npz", "extra_000.npz"]


def test_a_model_trained_with_unknown_recordings_has_the_unknown_label(service_env, tmp_path):
    trained = subprocess.run(signstream_cmd("train", "--data", str(SIGNERS / "signer_00.npz"),
                                            "--unknown", str(OTHER_SIGNS / "other_001.npz"), "--models-dir",
                                            str(tmp_path / "m"), "--epochs", "2", "--patience", "0",
                                            "--min-accuracy", "0", "--no-announce"),
                             env=service_env, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-2000:]
    version = tmp_path / "m" / "v0001"
    assert json.loads((version / "labels.json").read_text()) == ["hello", "iloveyou", "thanks", "unknown"]
    counts = json.loads((version / "data.json").read_text())["counts"]
    with np.load(OTHER_SIGNS / "other_001.npz") as other:
        n_other = int((~np.isin(other["y"], ["hello", "iloveyou", "thanks"])).sum())
    n_signs = counts["hello"] + counts["iloveyou"] + counts["thanks"]
    other_kept = min(n_other, UNKNOWN_PER_SIGN * max(counts["hello"], counts["iloveyou"], counts["thanks"]))
    assert n_other > other_kept, "this recording is meant to be big enough to be capped"
    assert counts["unknown"] == other_kept + n_signs // 10  # the other signs, and windows without hands
