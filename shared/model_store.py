"""The model store on disk: one directory per version, complete or absent, and a `current` pointer.

<models_dir>/v0001/ model.keras, labels.json, metrics.json, confusion.png, data.json, options.json
<models_dir>/current  the promoted version's name

A version is built in a hidden temporary directory and renamed into place, so a crash or a
kill never leaves a half-written version; two trainers racing for a number both succeed, the
loser with the next number. The trainer writes versions, the classifier reads them: the layout
lives here, shared, so neither service imports the other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from shared.errors import ModelError

VERSION = re.compile(r"^v(\d{4,})$")  # what the trainer numbers its versions
# What an announcement may name a version (other tools name theirs): a short name, never a path.
VERSION_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def is_version_name(version: object) -> bool:
    return isinstance(version, str) and bool(VERSION_NAME.fullmatch(version)) and version not in (".", "..")

CURRENT = "current"
MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
# A label a model may have for "none of the trained signs" (other signs, idle, no hands): the
# classifier publishes it in predictions but never confirms it as a detection.
UNKNOWN = "unknown"


def read_labels(path: Path) -> tuple[str, ...]:
    """The label names of a version directory, in the model's output order; ModelError says what is wrong."""
    where = str(path / LABELS_FILE)
    where = where if len(where) <= 120 else f"{where[:120]}... ({len(where)} characters)"
    try:
        raw = json.loads((path / LABELS_FILE).read_text())
    except (OSError, ValueError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"cannot read {where}: {reason}") from e
    labels = raw.get("labels") if isinstance(raw, dict) else raw
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{where} must hold a non-empty list of label names")
    return tuple(labels)


class ModelStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = [p.name for p in self.root.iterdir() if p.is_dir() and VERSION.match(p.name)]
        return sorted(names, key=lambda n: int(VERSION.match(n).group(1)))

    def begin(self) -> Path:
        """A fresh hidden directory to build a version in."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".building-", dir=self.root))

    def commit(self, building: Path) -> str:
        """Rename a built directory into the next free version; return the version name."""
        while True:
            versions = self.versions()
            number = int(VERSION.match(versions[-1]).group(1)) + 1 if versions else 1
            name = f"v{number:04d}"
            try:
                os.rename(building, self.root / name)  # fails if another trainer took the number
                return name
            except OSError:
                if not (self.root / name).exists():
                    raise

    def abandon(self, building: Path) -> None:
        shutil.rmtree(building, ignore_errors=True)

    def path(self, version: str) -> Path:
        return self.root / version

    def locate(self, version: str, announced_path: str | None = None) -> Path:
        """Where to read an announced version: in this store when it holds it (the reader's own mount
        of the models folder, wherever the trainer's is), else at the path the announcement gave."""
        own = self.path(version)
        if is_version_name(version) and own.is_dir():
            return own
        return Path(announced_path) if announced_path else own

    def current(self) -> str | None:
        """The promoted version's name; None when none is. OSError or ValueError: `current` is unreadable."""
        try:
            name = (self.root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return name or None

    def set_current(self, version: str) -> None:
        write_text_atomic(self.root / CURRENT, version + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text)
    os.replace(temp, path)


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True))
