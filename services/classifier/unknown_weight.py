"""How much the `unknown` label counts when a window is classified.

A model trained with `unknown` learns it from thousands of other signs and idle windows, and can
take a sign performed a little differently for one of them. Serving with a weight below 1 scales
`unknown`'s probability down (then renormalises), which moves the decision towards the trained
signs without retraining: the prior shift a lower class weight in training would give.
`bench/bench_unknown_balance.py` measures the trade against false detections.
"""

from __future__ import annotations

import numpy as np

from shared.model_store import UNKNOWN


def weigh_unknown(probs: np.ndarray, labels: list[str], weight: float) -> np.ndarray:
    """`probs` (windows x labels) with `unknown`'s column times `weight`, rows summing to 1 again.

    Unchanged when the model has no `unknown` or `weight` is 1.
    """
    if weight == 1.0 or UNKNOWN not in labels:
        return probs
    scaled = probs.astype(np.float32, copy=True)
    scaled[:, labels.index(UNKNOWN)] *= weight
    return scaled / scaled.sum(axis=1, keepdims=True)
