"""Whether a trained model may be promoted: accurate enough, and not collapsed onto one class."""

from __future__ import annotations

from dataclasses import dataclass

COLLAPSE_SHARE = 0.9  # predicting one label for this share of validation windows is a collapse


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


def collapsed(metrics: dict) -> str | None:
    """The label a model predicts for (nearly) everything, if it does; relu LSTMs are prone to it."""
    share = metrics["predicted_share"]
    label = max(share, key=share.get)
    if len(share) > 1 and share[label] >= COLLAPSE_SHARE:
        return label
    return None


def judge(metrics: dict, min_accuracy: float) -> Verdict:
    stuck = collapsed(metrics)
    if stuck is not None:
        return Verdict(False, f"collapsed: predicts {stuck!r} for {metrics['predicted_share'][stuck]:.0%} of "
                              f"validation windows")
    if metrics["accuracy"] < min_accuracy:
        return Verdict(False, f"validation accuracy {metrics['accuracy']:.3f} is below the minimum {min_accuracy:.3f}")
    return Verdict(True, f"validation accuracy {metrics['accuracy']:.3f} ≥ {min_accuracy:.3f}")
