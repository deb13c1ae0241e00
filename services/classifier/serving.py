"""Loading a model version for serving, checked before it may replace the one in use.

Every way a version can fail to load (a missing or unreadable file, an absurd path, a file keras
cannot read, a model without an input shape, a failed dry run) is one `ModelError` with a
one-line reason; nothing else escapes `load_serving_model`, so a bad model can never be taken
for a Redis outage or kill the thread that loads it.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.classifier.runner import Runner, check_runner, fast_runner
from shared.codec import VECTOR_SIZE, WINDOW
from shared.errors import ModelError
from shared.model_store import MODEL_FILE, is_version_name, read_labels
from shared.text import one_line, shortened

log = logging.getLogger(__name__)

MAX_PATH_CHARS = 4096  # Linux PATH_MAX; longer paths cannot be opened anyway
SHOWN_PATH_CHARS = 120  # how much of a path an error line quotes


@dataclass(frozen=True)
class ServingModel:
    version: str
    path: Path
    labels: tuple[str, ...]
    runner: Runner

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities (n, labels) for windows (n, 30, 1662), or ModelError if this model misbehaves.

        Raises ModelError when the model call raises, gives the wrong shape, or gives NaN or
        infinity and then fails its dry run too; the caller should then stop serving this model
        (`ModelWatch.reject`). NaN rows from a model that still passes its dry run are the windows'
        fault (keypoints no camera gives, which a sound model overflows on): those rows are returned
        as they are, for the caller to refuse. Windows of the wrong shape are the caller's bug: ValueError.
        """
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 3 or windows.shape[1:] != (WINDOW, VECTOR_SIZE):
            raise ValueError(f"windows must be (n, {WINDOW}, {VECTOR_SIZE}), got {windows.shape}")
        try:
            probs = np.asarray(self.runner(windows))
        except Exception as e:
            raise ModelError(f"model {self.version} failed on {len(windows)} window(s): {one_line(e)}") from e
        if probs.shape != (len(windows), len(self.labels)):
            raise ModelError(f"model {self.version} gave outputs of shape {probs.shape} for {len(windows)} window(s) "
                             f"and {len(self.labels)} labels")
        bad_rows = int(np.count_nonzero(~np.all(np.isfinite(probs), axis=1)))
        if bad_rows:
            try:
                check_runner(self.runner, len(self.labels))
            except ModelError as e:
                raise ModelError(f"model {self.version} gave NaN or infinite outputs for {bad_rows} of "
                                 f"{len(windows)} window(s), and fails its dry run now: {e}") from None
        return probs


def shown(path: str | Path) -> str:
    """A path as an error line quotes it: whole if short, else its start and its length."""
    return shortened(str(path), SHOWN_PATH_CHARS)


def check_version(version: object) -> str:
    """A version name as announcements may carry it: a short name of letters, digits, '_', '.', '-'."""
    if not isinstance(version, str) or not version:
        raise ModelError("model version is empty: announce the version directory's name, e.g. v0003")
    if not is_version_name(version):
        raise ModelError(f"model version {shown(version)!r} is not a version name: at most 64 "
                         "letters, digits, '_', '.' or '-', e.g. v0003")
    return version


def check_path(path: object) -> Path:
    """A model directory path that can be looked at: non-empty, no NUL, at most 4096 characters."""
    text = str(path) if isinstance(path, (str, Path)) else None
    if not text:
        raise ModelError("model path is empty: announce the version directory, e.g. models/v0003")
    if len(text) > MAX_PATH_CHARS:
        raise ModelError(f"model path is {len(text)} characters long (at most {MAX_PATH_CHARS}): "
                         f"announce the version directory, e.g. models/v0003")
    if "\0" in text:
        raise ModelError(f"model path {shown(text)!r} contains a NUL character")
    return Path(text)


def load_serving_model(path: str | Path, version: str | None = None) -> ServingModel:
    """Load, convert and dry-run a model version; any failure is a one-line ModelError saying why it cannot serve.

    `version` (as an announcement or `models/current` names it) must be a version name; without
    it the directory's name is used as is (an explicit `--model`).
    """
    import keras

    import shared.model_layers  # noqa: F401  (registers the layers saved models may use)

    path = check_path(path)
    if version is not None:
        version = check_version(version)
    try:
        return _load(keras, path, version or path.name)
    except ModelError:
        raise
    except OSError as e:  # unreadable, too long a name, not a directory, ...: never a Redis outage
        raise ModelError(f"cannot read model {shown(path)}: {e.strerror or one_line(e)}") from e
    except Exception as e:  # whatever else keras or the converter raise on a model they cannot take
        raise ModelError(f"cannot load model {shown(path)}: {one_line(e)}") from e


def _load(keras, path: Path, version: str) -> ServingModel:
    if not path.exists():
        raise ModelError(f"model directory {shown(path)} does not exist: train one with `signstream train`")
    if not path.is_dir():
        raise ModelError(f"model path {shown(path)} is not a directory: announce a version directory, "
                         "e.g. models/v0003")
    if not (path / MODEL_FILE).is_file():
        raise ModelError(f"no {MODEL_FILE} in {shown(path)}: train one with `signstream train`")
    if not zipfile.is_zipfile(path / MODEL_FILE):  # Keras says "File not found" of a file it cannot open
        raise ModelError(f"{shown(path / MODEL_FILE)} is not a Keras model file (a .keras file is a zip archive): "
                         "it is damaged or something else; train again or copy the version again")
    labels = read_labels(path)
    try:
        model = keras.models.load_model(path / MODEL_FILE, compile=False)
    except Exception as e:
        raise ModelError(f"cannot load {shown(path / MODEL_FILE)}: {one_line(e)}") from e
    try:
        shape = tuple(model.input_shape)
    except (AttributeError, ValueError, TypeError) as e:
        raise ModelError(f"{shown(path / MODEL_FILE)} has no input shape (saved before it was built or called): "
                         f"build it on keras.Input(({WINDOW}, {VECTOR_SIZE})) and save it again") from e
    if shape[1:] != (WINDOW, VECTOR_SIZE):
        raise ModelError(f"model takes input {shape[1:]}, expected ({WINDOW}, {VECTOR_SIZE})")
    runner = fast_runner(model)
    check_runner(runner, len(labels))
    return ServingModel(version, path, labels, runner)
