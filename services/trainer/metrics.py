"""Scores of a model on labelled windows: accuracy, per-class precision and recall, confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def confusion(true_idx: np.ndarray, pred_idx: np.ndarray, n: int) -> np.ndarray:
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (true_idx, pred_idx), 1)
    return matrix


def scores(true_idx: np.ndarray, pred_idx: np.ndarray, labels: list[str]) -> dict:
    return scores_from_confusion(confusion(true_idx, pred_idx, len(labels)), labels)


def scores_from_confusion(matrix: np.ndarray, labels: list[str]) -> dict:
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    diagonal = np.diag(matrix)
    return {
        "accuracy": float(diagonal.sum() / max(1, matrix.sum())),
        "n": int(matrix.sum()),
        "precision": {l: float(diagonal[i] / predicted[i]) if predicted[i] else 0.0 for i, l in enumerate(labels)},
        "recall": {l: float(diagonal[i] / actual[i]) if actual[i] else 0.0 for i, l in enumerate(labels)},
        "predicted_share": {l: float(predicted[i] / max(1, matrix.sum())) for i, l in enumerate(labels)},
        "confusion": matrix.tolist(),
        "labels": list(labels),
    }


def confusion_table(result: dict) -> str:
    """The confusion matrix as text: rows are true labels, columns predictions."""
    labels = result["labels"]
    width = max(8, *(len(l) for l in labels)) + 1
    lines = ["true \\ predicted".ljust(width + 8) + "".join(l.rjust(width) for l in labels) + "   recall"]
    for label, row in zip(labels, result["confusion"]):
        lines.append(label.ljust(width + 8) + "".join(str(v).rjust(width) for v in row)
                     + f"   {result['recall'][label]:.2f}")
    lines.append("precision".ljust(width + 8) + "".join(f"{result['precision'][l]:.2f}".rjust(width) for l in labels))
    return "\n".join(lines)


def save_confusion_png(result: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = result["labels"], np.array(result["confusion"])
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_title(f"{title}\naccuracy {result['accuracy']:.2f} on {result['n']} sequences")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
