"""Reading training data: the recipe's MP_DATA folders and packed signer files, checked as they load.

Every problem is a DataError that names the path and says what is expected, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared.codec import FACE, POSE_HANDS_PARTS, POSE_HANDS_SIZE, VECTOR_SIZE, WINDOW
from shared.errors import DataError
from shared.model_store import UNKNOWN


@dataclass
class Dataset:
    X: np.ndarray  # (n, 30, 1662) float32
    y: np.ndarray  # (n,) label names
    groups: np.ndarray  # (n,) where each sequence came from (signer file or MP_DATA root): splits by signer
    sources: list[str] = field(default_factory=list)
    face: np.ndarray | None = None  # (n,) bool: recorded with the face; None: all were

    @property
    def has_face(self) -> np.ndarray:
        return np.ones(len(self.y), bool) if self.face is None else self.face

    def faceless_sources(self) -> list[str]:
        """The groups some of whose sequences were recorded without the face (pose and hands only)."""
        return sorted(set(self.groups[~self.has_face].tolist()))

    @property
    def labels(self) -> list[str]:
        return sorted(set(self.y.tolist()))

    def counts(self) -> dict[str, int]:
        names, counts = np.unique(self.y, return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts)}

    def subset(self, mask: np.ndarray) -> "Dataset":
        return Dataset(self.X[mask], self.y[mask], self.groups[mask], self.sources,
                       None if self.face is None else self.face[mask])

    @staticmethod
    def concat(parts: list["Dataset"]) -> "Dataset":
        face = None if all(p.face is None for p in parts) else np.concatenate([p.has_face for p in parts])
        return Dataset(np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
                       np.concatenate([p.groups for p in parts]), [s for p in parts for s in p.sources], face)


def with_face_slot(X: np.ndarray) -> np.ndarray:
    """Pose-and-hands frames (..., 258) as full vectors (..., 1662) whose face points are all zeros.

    Models that drop the face train on these beside full recordings; `refuse_faceless` keeps
    them from a model that reads the face, which would learn that faces are missing.
    """
    full = np.zeros((*X.shape[:-1], VECTOR_SIZE), np.float32)
    full[..., :FACE.start] = X[..., :FACE.start]
    full[..., FACE.stop:] = X[..., FACE.start:]
    return full


def refuse_faceless(data: Dataset, face: bool) -> None:
    """A DataError when a model that reads the face would train on recordings without one."""
    faceless = data.faceless_sources()
    if face and faceless:
        shown = ", ".join(faceless[:3]) + (f" and {len(faceless) - 3} more" if len(faceless) > 3 else "")
        raise DataError(f"{shown} hold pose and hands only (no face points); a model that reads the face "
                        f"(--face, --recipe) cannot learn from them: train without --face, or leave those out")


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
    if not action_dirs:
        raise DataError(f"{root}: no action folders; expected <action>/<sequence>/<frame>.npy")
    if actions:
        # A folder may hold some of the actions (a user's own new sign) while other sources hold the
        # rest; read_data checks that the pool has them all.
        chosen = [p for p in action_dirs if p.name in actions]
        if not chosen:
            raise DataError(f"{root}: holds none of the actions {', '.join(actions)} (it has "
                            f"{', '.join(p.name for p in action_dirs)}); leave it out or name its actions")
        action_dirs = chosen
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
    """A packed signer file: X (n, 30, 1662) float16, y (n,) names; the file is the signer.

    X may also hold pose and hands only, (n, 30, 258) with `parts` saying so; those sequences are
    given an all-zero face and marked faceless (`with_face_slot`).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            X, y = data["X"], data["y"]
            parts = str(data["parts"]) if "parts" in data.files else None
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path}: not a signer file with arrays X and y ({e})") from None
    if X.ndim != 3 or X.shape[1:] not in ((WINDOW, VECTOR_SIZE), (WINDOW, POSE_HANDS_SIZE)) or len(X) != len(y):
        raise DataError(f"{path}: X has shape {X.shape} for {len(y)} labels, expected (n, {WINDOW}, {VECTOR_SIZE}) "
                        f"or, pose and hands only, (n, {WINDOW}, {POSE_HANDS_SIZE})")
    group = np.array([path.stem] * len(y))
    if X.shape[2] == VECTOR_SIZE:
        return Dataset(X.astype(np.float32), y.astype(str), group, [str(path)])
    if parts != POSE_HANDS_PARTS:
        raise DataError(f"{path}: X holds {POSE_HANDS_SIZE} floats per frame but its `parts` is {parts!r}; "
                        f"expected {POSE_HANDS_PARTS!r} (pose, left hand, right hand, in that order)")
    return Dataset(with_face_slot(X), y.astype(str), group, [str(path)], np.zeros(len(y), bool))


def load_data(paths: list[Path], actions: list[str] | None = None) -> Dataset:
    """Any mix of MP_DATA folders, signer .npz files and folders of signer files, to train on."""
    data = read_data(paths, actions)
    if len(set(data.y.tolist())) < 2:
        raise DataError(f"{', '.join(map(str, paths))}: found {data.counts()}; a classifier needs at least two actions")
    return data


def read_data(paths: list[Path], actions: list[str] | None = None) -> Dataset:
    """Any mix of MP_DATA folders, signer .npz files and folders of signer files, pooled."""
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
    if not actions:
        return data
    found = sorted(set(data.y.tolist()))
    missing = [a for a in actions if a not in found]
    if missing:
        raise DataError(f"no recordings of {', '.join(missing)} in {', '.join(str(p) for p in paths)[:300]} "
                        f"(they hold {', '.join(found)[:300]}); record them or drop them from --actions")
    return data.subset(np.isin(data.y, actions))


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


def with_unknown(data: Dataset, unknown: list[Path], idle: bool = True, seed: int = 0) -> Dataset:
    """`data` plus the recordings in `unknown` (other signs) as the label `unknown`: `add_unknown`."""
    return add_unknown(data, read_data(unknown), idle, seed) if unknown else data


# At most this many `unknown` examples per example of the most recorded sign: a few dozen recordings
# of one's own signs beside thousands of other signs would teach a model to say `unknown` to all.
UNKNOWN_PER_SIGN = 3


def as_unknown(others: Dataset, known: list[str]) -> Dataset:
    """`others` labelled `unknown`, except recordings of a sign in `known`, which keep their label."""
    return Dataset(others.X, np.where(np.isin(others.y, known), others.y, UNKNOWN), others.groups, others.sources,
                   others.face)


def without_hands(X: np.ndarray) -> np.ndarray:
    """Windows as MediaPipe reports them when it finds neither hand."""
    X = X.copy()
    X[..., FACE.stop:] = 0.0
    return X


def add_unknown(data: Dataset, others: Dataset, idle: bool = True, seed: int = 0) -> Dataset:
    """`data` plus examples of `unknown`: `others` (recordings of other signs) and, with `idle`,
    windows of no hands (recorded windows with both hands removed, a tenth as many as `data`).

    A sequence in `others` of a sign `data` trains keeps its label: it is more of that sign. Other
    signs beyond UNKNOWN_PER_SIGN times the most recorded sign are left out, picked by `seed`.
    """
    known = data.labels
    if UNKNOWN in known:
        raise DataError(f"the training data already has a label {UNKNOWN!r}; name those recordings otherwise "
                        f"or pass them with --unknown")
    others = as_unknown(others, known)
    cap = UNKNOWN_PER_SIGN * max(data.counts().values())
    is_unknown = others.y == UNKNOWN
    if is_unknown.sum() > cap:
        keep = np.random.default_rng([seed, 1]).choice(np.flatnonzero(is_unknown), size=cap, replace=False)
        others = others.subset(~is_unknown | np.isin(np.arange(len(others.y)), keep))
    parts = [data, others]
    if idle:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(data.y), size=max(1, len(data.y) // 10), replace=False))
        parts.append(Dataset(without_hands(data.X[pick]), np.full(len(pick), UNKNOWN), data.groups[pick],
                             ["idle: recorded windows without hands"], data.has_face[pick]))
    return Dataset.concat(parts)


# What the shipped model learns from, by folder under ../shared/datasets (scripts/build_shipped_model.py).
SHIPPED_SIGNS = ("signers", "more_signers")
SHIPPED_UNKNOWN = "other_signs"


def shipped_data(datasets: Path, seed: int = 0) -> tuple[Dataset, Dataset, Dataset]:
    """(signs, other signs, both with `unknown` added as the trainer adds it) of the shipped model's data
    under `datasets`: what build_shipped_model trains on, and the benches that train as it does."""
    signs = load_data([datasets / name for name in SHIPPED_SIGNS])
    others = read_data([datasets / SHIPPED_UNKNOWN])
    return signs, others, add_unknown(signs, others, idle=True, seed=seed)
