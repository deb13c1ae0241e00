"""How far apart two runs of one label may start and still be one sign (Smoother's merge_within).

The shipped model classifies every window of the 93 signers' streams (`streams.py`, as
`bench_unknown.py` builds them: signs, other signs, hands out of view) and of the 63 clips
(`live_video.py`) once; each merge_within then smooths the same probabilities. The streams are the
model's own training people (in-sample): the question is the smoothing's, not the model's.

    python bench/bench_merge_within.py [--merge 0.2 --merge 0.25 ...]
Writes bench/results/merge_within.json and .md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_unknown import DATASETS, fold_streams
from common import write_results
from live_video import PLAYINGS, all_clips, keypoints, totals, windows
from live_video import judge as judge_clip
from streams import StreamScore, stream_probabilities
from streams import judge as judge_stream

from services.classifier.serving import load_serving_model
from services.classifier.settings import ClassifierSettings
from services.classifier.shipped import SHIPPED_MODEL, SHIPPED_VERSION
from services.trainer.data import load_data, read_data
from shared.model_store import UNKNOWN


def footage_frames(clip, playing: str) -> int:
    """The frames a clip's windows were taken from, as `run_clips` counts them."""
    vectors, pass_frames = keypoints(clip, playing)
    return len(vectors) if playing == "once" else pass_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merge", type=float, action="append", help="merge_within values (default 0.2 0.25 0.3)")
    args = parser.parse_args()
    merges = args.merge or [0.2, 0.25, 0.3]
    settings = ClassifierSettings()
    model = load_serving_model(SHIPPED_MODEL, SHIPPED_VERSION)
    labels = list(model.labels)
    started = time.perf_counter()
    signs = load_data([DATASETS / "signers", DATASETS / "more_signers"])
    others = read_data([DATASETS / "other_signs"])
    streams = fold_streams(signs, others, np.ones(len(others.y), bool), np.full(len(others.y), "other"), seed=0)
    stream_probs = [stream_probabilities(model.predict, s.frames) for s in streams]
    clips = all_clips()
    clip_probs = {}
    for clip in clips:
        for playing in PLAYINGS:
            batch = windows(*keypoints(clip, playing), playing, settings.stride)
            clip_probs[(clip.name, playing)] = model.predict(batch) if len(batch) else np.zeros((0, len(labels)))
    rows, results = [], []
    for merge in merges:
        score = StreamScore()
        for stream, probs in zip(streams, stream_probs):
            score.add(judge_stream(stream, probs, labels, settings.threshold, settings.confirm_windows, (UNKNOWN,),
                                   merge))
        on_streams = score.summary()
        on_clips = {}
        for playing in PLAYINGS:
            judged = {c.name: judge_clip(c, clip_probs[(c.name, playing)], labels, settings.stride,
                                         settings.threshold, settings.confirm_windows, (UNKNOWN,),
                                         footage_frames(c, playing), merge)
                      for c in clips}
            on_clips[playing] = totals(clips, judged)
        results.append({"merge_within": merge, "streams": on_streams, "clips": on_clips})
        rows.append(f"| {merge} | {on_streams['missed']:.3f} | {on_streams['repeated_per_sign']:.4f} | "
                    f"{on_streams['false_per_minute_all']:.2f} | "
                    + " | ".join(f"{on_clips[p]['clean']} / {on_clips[p]['false_detections']} / "
                                 f"{', '.join(on_clips[p]['counted_twice']) or 'none'}" for p in PLAYINGS) + " |")
    seconds = time.perf_counter() - started
    md = [f"# Two runs of one label: one sign or two (merge_within), {time.strftime('%Y-%m-%d')}", "",
          f"The shipped model at threshold {settings.threshold} / {settings.confirm_windows} windows; "
          f"{len(streams)} streams of the 93 signers and 55 other-sign people ({results[0]['streams']['occurrences']} "
          f"signs; in-sample: the model trained on them), and the 63 clips. `bench/bench_merge_within.py` "
          f"({seconds:.0f} s).", "",
          "| merge_within | streams: missed | counted again per sign | false per min | "
          "clips once: clean of 21 / false / counted twice | looped: clean / false / counted twice |",
          "| --- | --- | --- | --- | --- | --- |", *rows]
    write_results("merge_within", {"threshold": settings.threshold, "confirm_windows": settings.confirm_windows,
                                   "results": results, "seconds": round(seconds)}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
