"""Trained signs with another sign's hand shape, as `unknown`: a bench-only training idea.

The false detections left on live video are look-alikes (apple, okay, wow, nice-to-meet-you said
`thanks`; friend said `iloveyou`): a hand where a trained sign's hand goes, moving as it moves, in
another shape. Nothing in the data says that shape matters, since other_signs holds only ten signs.
Here each chosen window of a trained sign keeps its movement (each hand's wrist, frame by frame)
and takes the finger configuration of a window of a sign whose hand shape differs (a fist, one or
two fingers, the I-love-you hand), scaled to the source's hand size and mirrored when the donor
signs with the other hand.
"""

from __future__ import annotations

import numpy as np

from services.trainer.augment import split
from services.trainer.data import Dataset
from shared.codec import VECTOR_SIZE, WINDOW
from shared.model_store import UNKNOWN

MIDDLE_KNUCKLE = 9
# Signs made with a flat hand (ASL B or open 5): their shapes are not another shape for one another.
FLAT = {"hello", "thanks", "please", "welcome", "good", "goodbye"}


def differs(a: str, b: str) -> bool:
    """Whether sign `b`'s usual hand shape is another one than sign `a`'s (the donor rule)."""
    return a != b and not (a in FLAT and b in FLAT)


def hands(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Views of the left and right hand of a (30, 1662) window as (30, 21, 3) points (augment.split)."""
    return split(window)[2:]


def shapes(window: np.ndarray) -> np.ndarray | None:
    """(30, 21, 3) the donor's hand relative to its wrist, in hand sizes, for the hand it shows most
    (frames without it take the nearest frame with it), as a right hand; None when no hand shows."""
    both = hands(window)
    counts = [np.any(points != 0, axis=(1, 2)) for points in both]
    slot = int(counts[1].sum() > counts[0].sum())
    points = both[slot]
    relative = points - points[:, :1]
    size = np.linalg.norm(relative[:, MIDDLE_KNUCKLE, :2], axis=-1)
    seen = np.flatnonzero(counts[slot] & (size > 0))
    if not len(seen):
        return None
    relative = relative / np.where(size > 0, size, 1.0)[:, None, None]
    if slot == 0:  # MediaPipe's left hand is the mirror image of a right one
        relative[..., 0] *= -1
    nearest = seen[np.abs(seen[None, :] - np.arange(WINDOW)[:, None]).argmin(axis=1)]
    return relative[nearest]


def with_shapes(window: np.ndarray, donor: np.ndarray) -> np.ndarray:
    """`window` with each found hand's fingers replaced by the donor's shapes, about its own wrist."""
    out = window.copy()
    for slot, (points, written) in enumerate(zip(hands(window), hands(out))):
        found = np.any(points != 0, axis=(1, 2))
        size = np.linalg.norm(points[:, MIDDLE_KNUCKLE, :2] - points[:, 0, :2], axis=-1)
        shape = donor.copy()
        if slot == 0:
            shape[..., 0] *= -1
        written[:] = np.where(found[:, None, None], points[:, :1] + shape * size[:, None, None], 0.0)
    return out


def swapped_hands(signs: Dataset, donors: Dataset, share: float, seed: int) -> Dataset:
    """About `share` of `signs`' windows (picked at random) with a donor's hand shape, labelled unknown.
    `donors`: windows with their own sign names (trained signs and other signs)."""
    rng = np.random.default_rng([seed, 7])
    picked = np.sort(rng.choice(len(signs.y), size=int(len(signs.y) * share), replace=False))
    names = donors.labels
    X, used = [], []
    for i in picked:
        donor_sign = rng.choice([d for d in names if differs(str(signs.y[i]), d)])
        for j in rng.permutation(np.flatnonzero(donors.y == donor_sign))[:5]:
            shape = shapes(donors.X[j])
            if shape is not None:
                X.append(with_shapes(signs.X[i], shape))
                used.append(i)
                break
    X = np.array(X, np.float32).reshape(-1, WINDOW, VECTOR_SIZE)
    return Dataset(X, np.full(len(X), UNKNOWN), signs.groups[used], ["trained signs with another sign's hand shape"],
                   signs.has_face[used])
