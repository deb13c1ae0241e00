"""Open-set scoring on live video: is a confident window far from every example of its sign?

A window the model calls a sign with p >= threshold is turned into `unknown` when its features
(the network's last hidden layer) lie further than tau from that sign's training examples
(Mahalanobis distance to the sign's mean, covariance shared by all labels, fitted on 8000
training windows the model gets right). The 63 clips of `live_video.py` are then judged as the
classifier would (its smoothing at its defaults), for each tau: if other signs' windows lay
further from the signs than the signs' own live windows, false detections would fall first.

    python bench/bench_open_set.py [--model DIR]
Writes bench/results/open_set.json and .md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import SHARED, write_results
from live_video import PLAYINGS, all_clips, false_cell, judge, keypoints, totals, windows  # noqa: E402

from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.classifier.shipped import SHIPPED_MODEL  # noqa: E402
from services.trainer.data import shipped_data  # noqa: E402
from shared.model_store import MODEL_FILE, UNKNOWN  # noqa: E402

TAUS = (None, 250, 200, 150, 120, 100, 80)
FIT_WINDOWS = 8000


def features_and_probabilities(model_file: Path):
    """A function of windows -> (last hidden layer, probabilities) for a trainer's model (inputs, then the network)."""
    import keras

    import shared.model_layers  # noqa: F401  (registers the layers the model uses)

    model = keras.models.load_model(model_file, compile=False)
    network = model.layers[-1]
    hidden = keras.Model(network.inputs, network.layers[-3].output)  # before the last dropout and softmax
    inputs = keras.Input(model.input_shape[1:])
    x = inputs
    for layer in model.layers[1:-1]:
        x = layer(x)
    both = keras.Model(inputs, [hidden(x), network(x)])
    return lambda batch: both.predict(batch, batch_size=256, verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="a model version directory")
    args = parser.parse_args()
    run = features_and_probabilities(args.model / MODEL_FILE)
    *_, data = shipped_data(SHARED / "datasets")
    labels = data.labels
    rows = np.sort(np.random.default_rng(0).choice(len(data.y), FIT_WINDOWS, replace=False))
    features, probs = run(data.X[rows])
    truth = np.array([labels.index(v) for v in data.y[rows]])
    right = probs.argmax(axis=1) == truth
    means = np.stack([features[right & (truth == k)].mean(axis=0) for k in range(len(labels))])
    centred = np.concatenate([features[right & (truth == k)] - means[k] for k in range(len(labels))])
    precision = np.linalg.inv(np.cov(centred.T) + 1e-3 * np.eye(features.shape[1]))

    def distances(f: np.ndarray) -> np.ndarray:  # (n, labels)
        d = f[:, None, :] - means[None]
        return np.einsum("nkf,fg,nkg->nk", d, precision, d)

    own = distances(features)[right, truth[right]]
    unknown = labels.index(UNKNOWN)
    defaults = ClassifierSettings()
    clips = all_clips()
    played = {}
    for playing in PLAYINGS:
        for clip in clips:
            vectors, pass_frames = keypoints(clip, playing)
            batch = windows(vectors, pass_frames, playing, defaults.stride)
            f, p = run(batch) if len(batch) else (np.zeros((0, features.shape[1])), np.zeros((0, len(labels))))
            played[playing, clip.name] = (distances(f), p, len(vectors) if playing == "once" else pass_frames)
    rows_out = []
    for tau in TAUS:
        result = {}
        for playing in PLAYINGS:
            judged = {}
            for clip in clips:
                d, p, frames = played[playing, clip.name]
                p = p.copy()
                top = p.argmax(axis=1)
                far = (top != unknown) & (d[np.arange(len(top)), top] > tau) if tau else np.zeros(len(top), bool)
                p[far] = 0.0
                p[far, unknown] = 1.0
                judged[clip.name] = judge(clip, p, labels, defaults.stride, defaults.threshold,
                                          defaults.confirm_windows, (UNKNOWN,), frames)
            result[playing] = totals(clips, judged)
        rows_out.append({"tau": tau, **result})
    confident = {kind: [] for kind in ("known right", "other")}
    for clip in clips:
        d, p, _ = played["once", clip.name]
        top = p.argmax(axis=1)
        hit = (top != unknown) & (p.max(axis=1) >= defaults.threshold)
        if clip.known:
            hit &= np.array([labels[t] == clip.label for t in top], bool)
        confident["known right" if clip.known else "other"] += d[hit, top[hit]].tolist()
    quantiles = {"training windows of the sign": np.percentile(own, [10, 50, 90]).round(1).tolist(),
                 **{f"live {k} windows at p >= {defaults.threshold}": np.percentile(v, [10, 50, 90]).round(1).tolist()
                    for k, v in confident.items() if v}}
    md = ["# Open-set scoring: distance to a sign's training examples, on the 63 live clips", "",
          f"Model `{args.model.name}`; features: the network's last hidden layer; Mahalanobis distance to each label's "
          f"mean (covariance shared, {FIT_WINDOWS} training windows it gets right). A window called a sign further "
          f"than tau from it becomes `unknown`; then the classifier's smoothing at {defaults.threshold} / "
          f"{defaults.confirm_windows}. `bench/bench_open_set.py`.", "",
          "Distance to the window's own label (10th, 50th, 90th percentile):", "",
          *[f"- {k}: {v}" for k, v in quantiles.items()], "",
          "| tau | once: clean of 21 | false (per min) | looped: clean | false (per min) |",
          "| --- | --- | --- | --- | --- |"]
    for r in rows_out:
        md.append(f"| {r['tau'] or 'none'} | {r['once']['clean']} | {false_cell(r['once'])} | {r['looped']['clean']} | "
                  f"{false_cell(r['looped'])} |")
    write_results("open_set", {"model": str(args.model), "quantiles": quantiles, "rows": rows_out}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
