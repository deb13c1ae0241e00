"""What each signer's hands do under each label, measured without any model.

The worst signers of every leave-signers-out run are the same four. This looks at their
recordings directly: for every hand MediaPipe found, how far each fingertip (index, middle,
ring, pinky) is from the wrist, in palm lengths (wrist to middle knuckle, in 3D): a stretched
finger is about 2, a folded one 1 or less. Each signer's shape per label (median over sequences
of the per-sequence median) is read as which fingers are stretched: `I··P` is the I-love-you
hand (middle and ring folded), `IMRP` a flat hand (hello, thanks), `····` a fist. A shape other
than the one most signers use for that label is a recording of another sign under that label.

Covers the 12 dev signers and the 81 pose-and-hands signers (the face plays no part here).

    python bench/audit_handshapes.py [--extended 1.4]
Writes bench/results/handshapes.json and .md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np  # noqa: E402
from common import SHARED, write_results

from services.trainer.data import load_data  # noqa: E402
from shared.model_layers import FACE_END, HAND_POINTS  # noqa: E402

FINGERTIPS = {"index": 8, "middle": 12, "ring": 16, "pinky": 20}
WRIST, MIDDLE_KNUCKLE = 0, 9


def finger_extension(windows: np.ndarray) -> np.ndarray:
    """(n, 30, 1662) -> (n, 4): per sequence, the median over found hands of tip-to-wrist / palm length."""
    hands = windows[..., FACE_END:].reshape(len(windows), -1, HAND_POINTS, 3)  # both hands of every frame
    found = np.any(hands != 0, axis=(-1, -2))
    wrist = hands[..., WRIST, :]
    palm = np.linalg.norm(hands[..., MIDDLE_KNUCKLE, :] - wrist, axis=-1)
    ratios = np.stack([np.linalg.norm(hands[..., tip, :] - wrist, axis=-1) / np.maximum(palm, 1e-6)
                       for tip in FINGERTIPS.values()], axis=-1)
    ratios[~found] = np.nan
    with np.errstate(all="ignore"):
        return np.nanmedian(ratios, axis=1)


def shape(profile: np.ndarray, extended: float) -> str:
    """'I··P' for index and pinky stretched, middle and ring folded; '?' where no hand was found."""
    return "".join("?" if np.isnan(v) else name[0].upper() if v >= extended else "·"
                   for name, v in zip(FINGERTIPS, profile))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extended", type=float, default=1.4,
                        help="palm lengths from the wrist that count as a stretched finger")
    args = parser.parse_args()
    data = load_data([SHARED / "datasets" / "signers", SHARED / "datasets" / "more_signers"])
    signers = sorted(set(data.groups.tolist()))
    rows = []
    for signer in signers:
        for label in data.labels:
            profile = np.nanmedian(finger_extension(data.X[(data.groups == signer) & (data.y == label)]), axis=0)
            rows.append({"signer": signer, "label": label, "shape": shape(profile, args.extended),
                         "profile": dict(zip(FINGERTIPS, np.round(profile, 2).tolist()))})
    usual = {}
    for label in data.labels:
        shapes = [r["shape"] for r in rows if r["label"] == label]
        usual[label] = max(set(shapes), key=shapes.count)
    for r in rows:
        r["differs"] = r["shape"] != usual[r["label"]]
        r["shape_of"] = [label for label in data.labels if label != r["label"] and usual[label] == r["shape"]]
    differing = sorted({r["signer"] for r in rows if r["differs"]})
    lines = [f"# Handshapes of all {len(signers)} signers ({time.strftime('%Y-%m-%d')}; no model involved)", "",
             "Fingertip to wrist in palm lengths (index, middle, ring, pinky; median over sequences), read as the "
             f"fingers stretched at {args.extended} or more: `I··P` the I-love-you hand, `IMRP` a flat hand, "
             "`····` a fist.",
             "", "Usual shape per label: " + ", ".join(f"{label} `{usual[label]}`" for label in data.labels), "",
             "| signer | " + " | ".join(data.labels) + " |", "| --- |" + " --- |" * len(data.labels)]
    for signer in signers:
        cells = []
        for r in (r for r in rows if r["signer"] == signer):
            numbers = " ".join(f"{v:.1f}" for v in r["profile"].values())
            note = ""
            if r["differs"]:
                note = " **differs**" + (f": the {'/'.join(r['shape_of'])} shape" if r["shape_of"] else "")
            cells.append(f"`{r['shape']}` {numbers}{note}")
        lines.append(f"| {signer} | " + " | ".join(cells) + " |")
    lines += ["", "Signers with a label recorded in another handshape than most signers use: "
              f"{', '.join(differing) or 'none'}."]
    write_results("handshapes", {"extended": args.extended, "labels": data.labels, "usual": usual,
                                 "rows": rows, "differing_signers": differing}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
