"""Training choices judged on live video: train as the shipped model is trained, play the 63 clips.

Each run trains on what `scripts/build_shipped_model.py` trains on (the 93 signers' signs, other
signs and windows without hands as `unknown`) with the TrainOptions defaults changed by
`--set key=value`, saving the model after each epoch of `--snapshots`; every snapshot then plays
the clips of `live_video.py` through the classifier's smoothing (`bench_live_video.py`, with its
sweep of thresholds). One training gives the curve over epochs, so a choice is judged on
several points, not one lucky epoch.

    python bench/bench_live_training.py NAME [--set slow_camera=0.3 ...] [--without-other good ...]
                                             [--snapshots 15,20,25]
`--without-other SIGN` leaves that sign of other_signs out of `unknown` (a look-alike of a trained sign
teaches the model to call that sign unknown when a person signs it a little differently).
`--reversed-unknown SIGN` adds the recordings of that trained sign played backwards as `unknown` (a
movement the other way is not the sign: hello back to the forehead, thanks back to the chin).
`--swapped-hands SHARE` adds that share of the signs' windows with another sign's hand shape as `unknown`
(swapped_hands.py: the sign's movement in a fist, a pointing finger, ...: what look-alikes do).
`--fold K` adds the other-sign clips of the other folds (live_video.FOLDS: by project), every
`--clip-stride`-th window of each played once, as `unknown`, and judges on fold K's clips only:
negatives from live video, judged on projects the model has not seen. `--clip-positives` also adds
those folds' known-sign clips, every window as the clip's sign (as the benchmark counts windows right).
Writes bench/results/live_recipes/NAME-eE.json and .md per snapshot, and NAME.md with the curve.
Models stay in ~/.cache/signstream/bench/models/NAME-eE.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np  # noqa: E402
from common import REPO, RESULTS, SHARED
from live_video import all_clips, clip_windows
from swapped_hands import swapped_hands

from services.trainer.data import Dataset, add_unknown, shipped_data  # noqa: E402
from services.trainer.training import TrainOptions, fit  # noqa: E402
from shared.model_store import LABELS_FILE, MODEL_FILE, UNKNOWN, write_json  # noqa: E402

MODELS = Path.home() / ".cache" / "signstream" / "bench" / "models"
DATASETS = SHARED / "datasets"


def parsed_options(pairs: list[str], epochs: int, seed: int) -> TrainOptions:
    """The shipped recipe (TrainOptions defaults, as build_shipped_model sets them) with `key=value` changes."""
    options = TrainOptions(epochs=epochs, patience=0, seed=seed, min_accuracy=0.9)
    types = {f.name: f.type for f in fields(TrainOptions)}
    changes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in types:
            raise SystemExit(f"unknown option {key!r}; choose one of {sorted(types)}")
        kind = {"bool": lambda v: v.lower() in ("1", "true", "yes"), "int": int, "float": float}.get(types[key], str)
        changes[key] = kind(value)
    return replace(options, **changes)


def snapshot_saver(name: str, epochs: set[int], labels: list[str], options: TrainOptions):
    """A callback writing the model as a version directory after each epoch in `epochs`."""
    import keras

    class Snapshots(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 not in epochs:
                return
            folder = MODELS / f"{name}-e{epoch + 1}"
            folder.mkdir(parents=True, exist_ok=True)
            self.model.save(folder / MODEL_FILE)
            write_json(folder / LABELS_FILE, labels)
            write_json(folder / "options.json", {**asdict(options), "epochs_run": epoch + 1, "logs": logs})

    return Snapshots()


def train_snapshots(name: str, options: TrainOptions, snapshots: list[int], without_other: list[str],
                    reversed_unknown: list[str], swapped: float = 0.0, fold: int | None = None,
                    clip_stride: int = 2, clip_positives: bool = False) -> list[Path]:
    signs, others, data = shipped_data(DATASETS, options.seed)
    for asked, among in ((without_other, others.y), (reversed_unknown, signs.y)):
        if set(asked) - set(among.tolist()):
            raise SystemExit(f"no sign {sorted(set(asked) - set(among.tolist()))}; choose among {sorted(set(among.tolist()))}")
    if without_other:
        data = add_unknown(signs, others.subset(~np.isin(others.y, without_other)), idle=True, seed=options.seed)
    if reversed_unknown:
        backwards = data.subset(np.isin(data.y, reversed_unknown))
        data = Dataset.concat([data, Dataset(backwards.X[:, ::-1].copy(), np.full(len(backwards.y), UNKNOWN),
                                             backwards.groups, ["trained signs played backwards"], backwards.face)])
    if swapped:
        data = Dataset.concat([data, swapped_hands(signs, Dataset.concat([signs, others]), swapped, options.seed)])
    if fold is not None:
        taught = [c for c in all_clips() if c.fold != fold and (clip_positives or not c.known)]
        parts = []
        for clip in taught:
            X = clip_windows(clip, clip_stride)
            parts.append(Dataset(X, np.full(len(X), clip.label or UNKNOWN), np.array([f"clip:{clip.name}"] * len(X)),
                                 [], None if data.face is None else np.ones(len(X), bool)))
        clips = Dataset.concat(parts)
        print(f"from {len(taught)} clips of folds other than {fold}: {clips.counts()}", file=sys.stderr)
        data = Dataset.concat([data, clips])
    saver = snapshot_saver(name, set(snapshots), data.labels, options)
    started = time.perf_counter()
    fit(data, options, verbose=2, extra_callbacks=[saver])
    print(f"trained {name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return [MODELS / f"{name}-e{e}" for e in snapshots]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the run's name (results in bench/results/live_recipes/)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a TrainOptions change")
    parser.add_argument("--snapshots", default="15,20,25", help="epochs after which the model is played")
    parser.add_argument("--without-other", action="append", default=[], metavar="SIGN",
                        help="a sign of other_signs not to teach as unknown")
    parser.add_argument("--reversed-unknown", action="append", default=[], metavar="SIGN",
                        help="a trained sign whose recordings, played backwards, are taught as unknown")
    parser.add_argument("--swapped-hands", type=float, default=0.0, metavar="SHARE",
                        help="this share of the signs' windows, with another sign's hand shape, taught as unknown")
    parser.add_argument("--fold", type=int, help="teach the other folds' other-sign clips as unknown; judge on this fold")
    parser.add_argument("--clip-stride", type=int, default=2, help="with --fold: every this many frames, a window")
    parser.add_argument("--clip-positives", action="store_true",
                        help="with --fold: also the other folds' known-sign clips, as their signs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate-only", action="store_true", help="play the snapshots already trained")
    args = parser.parse_args()
    curve = RESULTS / "live_recipes" / f"{args.name}.md"
    if curve.exists() and not curve.read_text().startswith(f"# {args.name}: "):
        parser.error(f"{curve} holds another bench's results: choose another NAME")
    snapshots = sorted(int(e) for e in args.snapshots.split(","))
    options = parsed_options(args.set, max(snapshots), args.seed)
    folders = ([MODELS / f"{args.name}-e{e}" for e in snapshots] if args.evaluate_only
               else train_snapshots(args.name, options, snapshots, args.without_other, args.reversed_unknown,
                                     args.swapped_hands, args.fold, args.clip_stride, args.clip_positives))
    rows = []
    for epoch, folder in zip(snapshots, folders):
        result = f"live_recipes/{args.name}-e{epoch}"
        subprocess.run([sys.executable, str(REPO / "bench" / "bench_live_video.py"), "--model", str(folder),
                        "--name", result, "--sweep", *(["--fold", str(args.fold)] if args.fold is not None else [])],
                       check=True, stdout=subprocess.DEVNULL)
        totals = json.loads((RESULTS / f"{result}.json").read_text())["totals"]
        once, looped = totals["once"], totals["looped"]
        rows.append(f"| {epoch} | {once['clean']} | {once['false_detections']} ({once['false_per_minute']:.2f}) | "
                    f"{len(once['counted_twice'])} | {looped['clean']} | {looped['false_detections']} | "
                    f"{once['windows_right']} of {once['known_windows']} |")
    changes = ", ".join(args.set + [f"without other sign {o}" for o in args.without_other]
                        + [f"{r} backwards as unknown" for r in args.reversed_unknown]
                        + ([f"{args.swapped_hands} of the signs with another hand shape as unknown"]
                           if args.swapped_hands else [])
                        + ([f"other-sign clips of the other folds as unknown"
                            f"{' and their known-sign clips as their signs' if args.clip_positives else ''}, "
                            f"judged on fold {args.fold}"] if args.fold is not None else [])) or "none (the shipped recipe)"
    md = [f"# {args.name}: {changes}, seed {args.seed}", "",
          "| epochs | once at 0.8 / 3: clean | false (per min) | twice | looped: clean | false | windows right |",
          "| --- | --- | --- | --- | --- | --- | --- |", *rows, ""]
    curve.write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
