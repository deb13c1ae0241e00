"""Reading training data: the recipe's MP_DATA folders and packed signer files, checked as they load.

Every problem is a DataError that names the path and says what is expected, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.codec import VECTOR_SIZE, WINDOW
from shared.errors import DataError


@dataclass
class Dataset:
    X: np.ndarray  # (n, 30, 1662) float32
    y: np.ndarray  # (n,) label names
    groups: np.ndarray  # (n,) where each sequence came from (signer file or MP_DATA root): splits by signer
    sources: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return sorted(set(self.y.tolist()))

    def counts(self) -> dict[str, int]:
        names, counts = np.unique(self.y, return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts)}

    def subset(self, mask: np.ndarray) -> "Dataset":
        return Dataset(self.X[mask], self.y[mask], self.groups[mask], self.sources)

    @staticmethod
    def concat(parts: list["Dataset"]) -> "Dataset":
        return Dataset(np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
                       np.concatenate([p.groups for p in parts]), [s for p in parts for s in p.sources])


def _number(path: Path, what: str) -> int:
    stem = path.stem if what == "frame" else path.name
    if not stem.isdigit():
        raise DataError(f"{path}: {what} name {stem!r} is not a number; MP_DATA is <action>/<sequence>/<frame>.npy "
                        f"with numbered sequences and frames")
    return int(stem)


def read_sequence(folder: Path) -> np.ndarray:
    frames = sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: _number(p, "frame"))
    for p in frames:
        if p.suffix != ".npy":
            raise DataError(f"{p}: expected only <frame>.npy files in a sequence folder")
    if len(frames) < WINDOW:
        raise DataError(f"{folder}: {len(frames)} frames, a sequence needs {WINDOW}; record it again or delete it")
    vectors = []
    for p in frames[:WINDOW]:
        try:
            v = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DataError(f"{p}: not a readable .npy file ({e})") from None
        if v.shape != (VECTOR_SIZE,):
            raise DataError(f"{p}: shape {v.shape}, expected ({VECTOR_SIZE},) keypoint floats")
        if not np.issubdtype(v.dtype, np.floating):
            raise DataError(f"{p}: dtype {v.dtype}, expected float32 or float64")
        vectors.append(v.astype(np.float32))
    return np.stack(vectors)


def load_mp_data(root: Path, actions: list[str] | None = None) -> Dataset:
    """<root>/<action>/<sequence>/<frame>.npy, sequences and frames in numeric order."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; pass an MP_DATA folder (<action>/<sequence>/<frame>.npy)")
    action_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if actions:
        missing = sorted(set(actions) - {p.name for p in action_dirs})
        if missing:
            raise DataError(f"{root}: no folder for action(s) {missing}")
        action_dirs = [p for p in action_dirs if p.name in actions]
    if not action_dirs:
        raise DataError(f"{root}: no action folders; expected <action>/<sequence>/<frame>.npy")
    X, y = [], []
    for action_dir in action_dirs:
        seq_dirs = [p for p in action_dir.iterdir() if not p.name.startswith(".")]
        if not seq_dirs:
            raise DataError(f"{action_dir}: action {action_dir.name!r} has no sequences; record some "
                            f"(`signstream collect --action {action_dir.name}`) or remove the folder")
        for seq_dir in sorted(seq_dirs, key=lambda p: _number(p, "sequence")):
            if not seq_dir.is_dir():
                raise DataError(f"{seq_dir}: expected a sequence folder of <frame>.npy files")
            X.append(read_sequence(seq_dir))
            y.append(action_dir.name)
    return Dataset(np.stack(X), np.array(y), np.array([str(root)] * len(y)), [str(root)])


def load_signer_file(path: Path) -> Dataset:
    """A packed signer file: X (n, 30, 1662) float16, y (n,) names; the file is the signer."""
    try:
        with np.load(path, allow_pickle=False) as data:
            X, y = data["X"], data["y"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path}: not a signer file with arrays X and y ({e})") from None
    if X.ndim != 3 or X.shape[1:] != (WINDOW, VECTOR_SIZE) or len(X) != len(y):
        raise DataError(f"{path}: X has shape {X.shape} for {len(y)} labels, expected (n, {WINDOW}, {VECTOR_SIZE})")
    return Dataset(X.astype(np.float32), y.astype(str), np.array([path.stem] * len(y)), [str(path)])


def load_data(paths: list[Path], actions: list[str] | None = None) -> Dataset:
    """Any mix of MP_DATA folders, signer .npz files and folders of signer files."""
    if not paths:
        raise DataError("no data given: pass --data with an MP_DATA folder or signer .npz files")
    parts = []
    for path in paths:
        path = Path(path)
        try:
            path.stat()
        except FileNotFoundError:
            pass  # said below, with what the layout should be
        except OSError as e:  # a name too long, a loop of links, no permission
            raise DataError(f"cannot read {str(path)[:120]}: {e.strerror}") from None
        except ValueError as e:  # a NUL in the name
            raise DataError(f"cannot read {str(path)[:120]!r}: {e}") from None
        if path.is_file() and path.suffix == ".npz":
            parts.append(load_signer_file(path))
        elif path.is_dir() and any(path.glob("*.npz")):
            parts.extend(load_signer_file(p) for p in sorted(path.glob("*.npz")))
        else:
            parts.append(load_mp_data(path, actions))
    data = Dataset.concat(parts)
    if actions:
        data = data.subset(np.isin(data.y, actions))
    if len(set(data.y.tolist())) < 2:
        raise DataError(f"{', '.join(map(str, paths))}: found {data.counts()}; a classifier needs at least two actions")
    return data


def export_mp_data(npz_path: Path, root: Path) -> int:
    """Write a signer file's sequences as <root>/<label>/<seq_id>/<frame>.npy; return how many."""
    with np.load(npz_path, allow_pickle=False) as data:
        X, y, ids = data["X"], data["y"].astype(str), data["seq_ids"].astype(str)
    for seq, label, seq_id in zip(X, y, ids):
        folder = root / label / seq_id
        folder.mkdir(parents=True, exist_ok=True)
        for f, frame in enumerate(seq):
            np.save(folder / f"{f}.npy", frame.astype(np.float32))
    return len(X)
