"""One training run: split, fit, score, write a version directory, judge it."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from services.trainer.acceptance import Verdict, judge
from services.trainer.audit import AuditResult, audit_labels
from services.trainer.augment import Augmenter, AugmentOptions, blends_as_unknown
from services.trainer.data import Dataset, refuse_faceless
from services.trainer.generalisation import Fitter
from services.trainer.metrics import save_confusion_png, scores
from services.trainer.model import build_model
from shared.model_store import LABELS_FILE, MODEL_FILE, UNKNOWN, ModelStore, write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    arch: str = "gru"
    normalise: bool = True  # keypoints relative to the body (BodyNormalization) before the network
    augment: bool = True  # each epoch sees every training window changed as real signing allows
    face: bool = False  # True: the network also sees the 468 face points (False: DropFace)
    # The live recipe: windows as live cameras give them (bench/results/live_recipes.md): signs caught
    # part-way (moved in time), frames of other aspects (y stretched), people signing at their own speed.
    time_shift: int = 8  # with augment, also move windows up to this many frames in time (shift_in_time)
    stretch_y: float = 0.35  # with augment, scale y by up to e**±this (another camera's frame aspect)
    speed: float = 0.7  # with augment, sign up to (1 + this) times faster or slower
    # with augment and an `unknown` label, this share of windows is two different signs' windows blended
    # (augment.blended) and labelled unknown: other signs than the recorded ones look like that
    blend_unknown: float = 0.0
    slow_camera: float = 0.0  # with augment, show this share of windows as a camera short of frames gives them
    audit: bool = False  # first leave out groups whose labels contradict the other sources (audit.py)
    audit_epochs: int = 20  # epochs of each quick model the audit trains
    epochs: int = 200
    batch_size: int = 32
    learning_rate: float = 1e-3
    val_fraction: float = 0.2
    patience: int = 30  # epochs without a better validation loss before stopping; 0: never stop early
    seed: int = 0
    min_accuracy: float = 0.8


@dataclass
class TrainOutcome:
    version: str
    path: Path
    labels: list[str]
    metrics: dict
    verdict: Verdict


def stratified_split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a train/validation split that keeps each label's share in both parts."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in sorted(set(y.tolist())):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = max(1, round(len(idx) * val_fraction)) if len(idx) > 1 else 0
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(val, dtype=int))


def one_hot(idx: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float32)[idx]


EpochHook = Callable[[int, float], None]  # (epochs finished, that epoch's validation accuracy)


def fit(data: Dataset, options: TrainOptions, log_dir: Path | None = None, verbose: int | None = None,
        on_epoch: EpochHook | None = None, extra_callbacks: list | None = None):
    """Train a model on `data`; return (model, labels, validation indices, history, seconds per epoch)."""
    import keras

    refuse_faceless(data, options.face)
    labels = data.labels
    y_idx = np.array([labels.index(v) for v in data.y])
    train_idx, val_idx = stratified_split(data.y, options.val_fraction, options.seed)
    keras.utils.set_random_seed(options.seed)
    model = build_model(options.arch, len(labels), options.learning_rate, options.normalise, options.face)
    callbacks = []
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir)))
    if on_epoch is not None:
        callbacks.append(keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: on_epoch(epoch + 1, float(logs.get("val_categorical_accuracy", 0.0)))))
    callbacks += extra_callbacks or []
    if options.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=options.patience,
                                                       restore_best_weights=True))
    x_train, y_train = data.X[train_idx], one_hot(y_idx[train_idx], len(labels))
    if options.augment:
        training_data = {"x": augmented_batches(x_train, y_train, options.batch_size, options.seed,
                                                AugmentOptions(time_shift=options.time_shift, stretch_y=options.stretch_y,
                                                               speed=options.speed, face=options.face,
                                                               slow_camera_p=options.slow_camera),
                                                options.blend_unknown, labels.index(UNKNOWN) if UNKNOWN in labels else None)}
    else:
        training_data = {"x": x_train, "y": y_train, "batch_size": options.batch_size}
    started = time.perf_counter()
    history = model.fit(
        **training_data,
        validation_data=(data.X[val_idx], one_hot(y_idx[val_idx], len(labels))),
        epochs=options.epochs, callbacks=callbacks,
        verbose=(1 if sys.stderr.isatty() else 2) if verbose is None else verbose,
    )
    epochs_run = len(history.history["loss"])
    seconds_per_epoch = (time.perf_counter() - started) / max(1, epochs_run)
    return model, labels, val_idx, history.history, seconds_per_epoch


def augmented_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                      augment: AugmentOptions = AugmentOptions(), blend_unknown: float = 0.0,
                      unknown: int | None = None):
    """Shuffled batches of freshly augmented windows, new ones every epoch; with `blend_unknown` and the
    index of an `unknown` label, that share of windows is a blend of two different signs, as unknown."""
    import keras

    class AugmentedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.augmenter = Augmenter(augment, seed=seed)
            self.order = self.augmenter.rng.permutation(len(x))

        def __len__(self):
            return int(np.ceil(len(x) / batch_size))

        def __getitem__(self, index):
            rows = self.order[index * batch_size:(index + 1) * batch_size]
            windows, labels = self.augmenter(x[rows]), y[rows]
            if blend_unknown and unknown is not None:
                windows, labels = blends_as_unknown(windows, labels, blend_unknown, unknown, self.augmenter.rng)
            return windows, labels

        def on_epoch_end(self):
            self.order = self.augmenter.rng.permutation(len(x))

    return AugmentedBatches()


def predict_labels(model, X: np.ndarray, batch_size: int = 64) -> np.ndarray:
    return np.argmax(model.predict(X, batch_size=batch_size, verbose=0), axis=1)


def audited(data: Dataset, options: TrainOptions) -> tuple[Dataset, AuditResult | None]:
    """The data to train on: with `options.audit`, without the groups whose labels contradict the rest."""
    if not options.audit:
        return data, None
    # The quick models: this network, trained for audit_epochs without an audit of their own.
    quick = replace(options, audit=False, epochs=options.audit_epochs, patience=0)
    result = audit_labels(data, options, keras_fitter(lambda seed: replace(quick, seed=seed)))
    log.info("%s", result.note)
    for suspect in result.left_out:
        log.warning("left out of training: %s (--no-audit keeps them)", suspect)
    return result.kept, result


def train(data: Dataset, options: TrainOptions, store: ModelStore, verbose: int | None = None,
          on_epoch: EpochHook | None = None) -> TrainOutcome:
    """Train, then write the whole version directory at once; nothing is left behind on failure."""
    building = store.begin()
    try:
        data, audit = audited(data, options)
        model, labels, val_idx, history, seconds_per_epoch = fit(data, options, building / "logs", verbose, on_epoch)
        y_idx = np.array([labels.index(v) for v in data.y])
        metrics = scores(y_idx[val_idx], predict_labels(model, data.X[val_idx]), labels)
        metrics.update(
            epochs_run=len(history["loss"]),
            seconds_per_epoch=round(seconds_per_epoch, 3),
            final_train_accuracy=float(history["categorical_accuracy"][-1]),
            history={k: [round(float(v), 5) for v in values] for k, values in history.items()},
        )
        verdict = judge(metrics, options.min_accuracy)
        metrics["accepted"] = verdict.accepted
        metrics["verdict"] = verdict.reason
        model.save(building / MODEL_FILE)
        write_json(building / LABELS_FILE, labels)
        write_json(building / "metrics.json", metrics)
        write_json(building / "options.json", asdict(options))
        write_json(building / "data.json", {"sources": data.sources, "counts": data.counts(),
                                            "validation_counts": {l: int((data.y[val_idx] == l).sum()) for l in labels},
                                            "audit": audit.to_json() if audit else None})
        save_confusion_png(metrics, building / "confusion.png", "validation")
        version = store.commit(building)
    except BaseException:
        store.abandon(building)
        raise
    return TrainOutcome(version, store.path(version), labels, metrics, verdict)


def keras_fitter(options_for_seed) -> Fitter:
    """A Fitter (for leave_signers_out) that trains as the trainer does: the audit (if chosen) and
    `fit` with early stopping, both on the training signers only."""
    def fitter(train_data: Dataset, seed: int):
        options = options_for_seed(seed)
        model, *_ = fit(audited(train_data, options)[0], options, verbose=0)
        return lambda X: predict_labels(model, X)

    return fitter
