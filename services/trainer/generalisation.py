"""Leave-signers-out evaluation: train on some signers, test on the others, rotating.

The recipe tests on the person who recorded the training data; users sign in front of cameras
the model has never seen. Here every signer is tested exactly once, by a model that never saw
any of that signer's sequences, and the report gives the mean and the worst signer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from services.trainer.acceptance import collapsed
from services.trainer.data import Dataset
from services.trainer.metrics import scores

# fit(train_data, seed) -> predict(X) -> label indices into train_data.labels
Fitter = Callable[[Dataset, int], Callable[[np.ndarray], np.ndarray]]


# A signer's recordings of a label that models which never saw them take for one other label this
# often are more likely a different sign (or swapped folders) than a model error.
MISLABELLED_SHARE = 2 / 3


class LeakError(AssertionError):
    """A test signer's sequences reached training: the evaluation would be worthless."""


def signer_folds(groups: np.ndarray, n_folds: int, seed: int = 0) -> list[list[str]]:
    """Split the signers into `n_folds` disjoint test sets that together hold every signer once."""
    signers = sorted(set(groups.tolist()))
    if not 2 <= n_folds <= len(signers):
        raise ValueError(f"{len(signers)} signers cannot make {n_folds} folds (need 2 to {len(signers)})")
    order = np.random.default_rng(seed).permutation(signers).tolist()
    return [sorted(order[i::n_folds]) for i in range(n_folds)]


@dataclass
class FoldResult:
    test_signers: list[str]
    seed: int
    accuracy: float
    per_signer: dict[str, float]
    collapsed_on: str | None
    metrics: dict = field(repr=False, default_factory=dict)
    # per test sequence: its signer, true and predicted label index
    signers: np.ndarray = field(repr=False, default_factory=lambda: np.array([], dtype=str))
    true: np.ndarray = field(repr=False, default_factory=lambda: np.array([], dtype=int))
    pred: np.ndarray = field(repr=False, default_factory=lambda: np.array([], dtype=int))


@dataclass(frozen=True)
class Suspect:
    """One signer's recordings of `label` that look like `looks_like` to models that never saw them."""

    signer: str
    label: str
    looks_like: str
    count: int
    total: int
    swapped: bool  # the same signer's `looks_like` recordings look like `label`: folders swapped

    def __str__(self) -> str:
        hint = "labels swapped?" if self.swapped else "another sign recorded under this label?"
        return (f"{self.signer}: {self.count} of {self.total} '{self.label}' recordings look like "
                f"'{self.looks_like}' to models that never saw this signer; check that they show the sign ({hint})")


@dataclass
class Report:
    folds: list[FoldResult]
    labels: list[str]

    def per_signer(self) -> dict[str, float]:
        """Each signer's accuracy, averaged over seeds."""
        values: dict[str, list[float]] = {}
        for fold in self.folds:
            for signer, acc in fold.per_signer.items():
                values.setdefault(signer, []).append(acc)
        return {s: float(np.mean(v)) for s, v in sorted(values.items())}

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.per_signer().values())))

    @property
    def worst(self) -> tuple[str, float]:
        per = self.per_signer()
        signer = min(per, key=per.get)
        return signer, per[signer]

    def mean_by_seed(self) -> dict[int, float]:
        """Mean over signers for each seed alone: how much the headline number moves between trainings."""
        by_seed: dict[int, list[float]] = {}
        for fold in self.folds:
            by_seed.setdefault(fold.seed, []).extend(fold.per_signer.values())
        return {seed: float(np.mean(v)) for seed, v in sorted(by_seed.items())}

    @property
    def seed_std(self) -> float:
        return float(np.std(list(self.mean_by_seed().values())))

    @property
    def collapses(self) -> int:
        return sum(f.collapsed_on is not None for f in self.folds)

    def confusion(self, signer: str | None = None) -> np.ndarray:
        """Counts (rows true, columns predicted) over every fold and seed, or for one test signer."""
        n = len(self.labels)
        matrix = np.zeros((n, n), dtype=int)
        for fold in self.folds:
            mask = slice(None) if signer is None else fold.signers == signer
            np.add.at(matrix, (fold.true[mask], fold.pred[mask]), 1)
        return matrix

    def mislabelled(self, share: float = MISLABELLED_SHARE) -> list[Suspect]:
        """Signer and label pairs whose recordings are mostly taken for one other label.

        A model that generalises still fails on recordings that show another sign than their
        folder says; naming them tells the user what to re-record rather than what to retrain.
        """
        found = []
        for signer in self.per_signer():
            matrix = self.confusion(signer)
            for t, label in enumerate(self.labels):
                row = matrix[t].copy()
                row[t] = -1
                p = int(np.argmax(row))
                if matrix[t].sum() and row[p] >= share * matrix[t].sum():
                    found.append((signer, label, self.labels[p], int(row[p]), int(matrix[t].sum())))
        pairs = {(signer, label, looks_like) for signer, label, looks_like, *_ in found}
        return [Suspect(signer, label, looks_like, count, total, (signer, looks_like, label) in pairs)
                for signer, label, looks_like, count, total in found]


def leave_signers_out(data: Dataset, fit: Fitter, n_folds: int, seeds: list[int], fold_seed: int = 0) -> Report:
    labels = data.labels
    folds = []
    for test_signers in signer_folds(data.groups, n_folds, fold_seed):
        test_mask = np.isin(data.groups, test_signers)
        train = data.subset(~test_mask)
        leaked = set(train.groups.tolist()) & set(test_signers)
        if leaked:
            raise LeakError(f"test signers {sorted(leaked)} are in the training data")
        if train.labels != labels:
            raise ValueError(f"training signers lack actions {sorted(set(labels) - set(train.labels))}")
        test = data.subset(test_mask)
        true_idx = np.array([labels.index(v) for v in test.y])
        for seed in seeds:
            predict = fit(train, seed)
            pred_idx = predict(test.X)
            result = scores(true_idx, pred_idx, labels)
            per_signer = {s: float(np.mean(pred_idx[test.groups == s] == true_idx[test.groups == s]))
                          for s in test_signers}
            folds.append(FoldResult(test_signers, seed, result["accuracy"], per_signer, collapsed(result), result,
                                    test.groups, true_idx, np.asarray(pred_idx)))
    return Report(folds, labels)
