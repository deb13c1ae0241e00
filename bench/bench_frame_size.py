"""Should capture publish frames at most 960 pixels wide by default? Cost and accuracy, full size vs 960 (issue 10).

Every clip of ../shared/videos wider than --max-width, and one narrower clip as a control (its
"960" frames are its own frames, unchanged, so its differences are the run-to-run noise floor),
goes through the live frame path twice, at its own size and scaled to --max-width (capture's
`target_size`, cv2.INTER_AREA, as capture resizes): the frames capture publishes at 15 fps
(`at_rate` over `open_source`, the clip looping PASSES times as in bench_videos.py), JPEG at
quality 80, decoded and given to the keypoint worker's `Trackers` (a fresh Holistic tracker per
clip and size, video mode). Both sizes are processed frame by frame in turn, so a load from
other processes on the machine falls on both alike. Measured per frame and size:

- capture: resize ms (960 only), JPEG encode ms and bytes (what one frame costs in Redis);
- keypoint worker: JPEG decode ms, Holistic ms (wall and process CPU; each tracker's first frame,
  which creates it, is left out), which parts were found;
- keypoints at 960 against full size: mean |dx|, |dy| over the points both found, in
  image-normalised units and in pixels of a 960-wide frame;
- recognition: one model trained on all 12 dev signers with the trainer's default options
  (--epochs), classifying every 30-frame window at stride 3 (the classifier's) that starts in
  the first pass: the share of windows labelled with the clip's sign, the majority label, and
  how many windows get the same label at both sizes.

    python bench/bench_frame_size.py [--max-width 960] [--control kiri_hello.mp4] [--epochs 40]
Writes bench/results/frame_size.json and .md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from bench_videos import FPS, JPEG_QUALITY, PASSES, SIGN_NAMES, VIDEOS  # noqa: E402
from common import SHARED, write_results

from services.capture.publisher import target_size  # noqa: E402
from services.capture.sources import at_rate, open_source  # noqa: E402
from shared.codec import FACE_END, FACE_POINTS, HAND_POINTS, LEFT_END, POSE_END, POSE_POINTS, WINDOW, decode_jpeg, encode_jpeg  # noqa: E402

STRIDE = 3  # the classifier's default --stride
# Slices of the 1662-float vector (extract.py): x, y of each point of each part.
PARTS = {"pose": (0, POSE_POINTS, 4), "face": (POSE_END, FACE_POINTS, 3), "left_hand": (FACE_END, HAND_POINTS, 3),
         "right_hand": (LEFT_END, HAND_POINTS, 3)}
FULL, SMALL = "full", "960"


def xy(vectors: np.ndarray, part: str) -> np.ndarray:
    """(frames, points, 2) normalised x, y of one part."""
    start, count, width = PARTS[part]
    return vectors[:, start:start + count * width].reshape(len(vectors), count, width)[:, :, :2]


class Timer:
    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def ms(self) -> tuple[float, float]:
        return (time.perf_counter() - self.wall) * 1000, (time.process_time() - self.cpu) * 1000


def run_clip(name: str, max_width: int) -> dict:
    """Both sizes of one clip, frame by frame in turn; per-frame costs and keypoints of each."""
    from services.keypoints.extract import Trackers

    trackers = Trackers()  # cameras FULL and SMALL: a fresh tracker per clip and size
    sizes = {}
    m: dict[str, dict[str, list]] = {s: {"encode_ms": [], "bytes": [], "decode_ms": [], "holistic_ms": [],
                                         "holistic_cpu_ms": [], "vectors": [], "parts": []} for s in (FULL, SMALL)}
    resize_ms, linear_ms, first_pass = [], [], 0
    for p in range(PASSES):
        source = open_source(str(VIDEOS / name), FPS)
        for i, (frame, _) in enumerate(at_rate(source.frames(), FPS)):
            height, width = frame.shape[:2]
            w, h = target_size(width, height, max_width, None) if width > max_width else (width, height)
            t = Timer()
            small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != (width, height) else frame
            resize_ms.append(t.ms()[0])
            if (w, h) != (width, height):  # for comparison only: what a cheaper interpolation would cost
                t = Timer()
                cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
                linear_ms.append(t.ms()[0])
            images = {FULL: frame, SMALL: small}
            sizes = {FULL: (width, height), SMALL: (w, h)}
            # Alternate which size goes first, so neither always runs on a warmer cache.
            for size in ((FULL, SMALL) if i % 2 == 0 else (SMALL, FULL)):
                r = m[size]
                t = Timer()
                data = encode_jpeg(images[size], JPEG_QUALITY)
                r["encode_ms"].append(t.ms()[0])
                r["bytes"].append(len(data))
                t = Timer()
                image = decode_jpeg(data)
                r["decode_ms"].append(t.ms()[0])
                t = Timer()
                vector, parts = trackers.extract(size, image)
                wall, cpu = t.ms()
                if p == 0 and i == 0:  # the tracker is created on its first frame: not a frame's cost
                    r["first_holistic_ms"] = wall
                else:
                    r["holistic_ms"].append(wall)
                    r["holistic_cpu_ms"].append(cpu)
                r["vectors"].append(vector)
                r["parts"].append(parts)
            if p == 0:
                first_pass += 1
        source.close()
    trackers.close()
    out = {"sizes": {s: list(sizes[s]) for s in sizes}, "first_pass_frames": first_pass,
           "resize_ms": float(np.mean(resize_ms)), "resize_ms_median": float(np.median(resize_ms)),
           "resize_linear_ms": float(np.mean(linear_ms)) if linear_ms else None}
    for size, r in m.items():
        out[size] = {
            "frames": len(r["bytes"]), "timed_frames": len(r["holistic_ms"]),
            "encode_ms": float(np.mean(r["encode_ms"])), "bytes": float(np.mean(r["bytes"])),
            "decode_ms": float(np.mean(r["decode_ms"])),
            "holistic_ms": float(np.mean(r["holistic_ms"])), "holistic_ms_median": float(np.median(r["holistic_ms"])),
            "holistic_cpu_ms": float(np.mean(r["holistic_cpu_ms"])), "first_holistic_ms": r["first_holistic_ms"],
            "found": {part: float(np.mean([part in found for found in r["parts"]])) for part in PARTS},
            "vectors": np.stack(r["vectors"]),
        }
    width, height = out["sizes"][FULL]
    out["keypoint_diff"] = keypoint_diff(out[FULL]["vectors"], out[SMALL]["vectors"],
                                         (max_width, max_width * height / width))
    return out


def warm_up(name: str, max_width: int) -> None:
    """Load MediaPipe's graphs and OpenCV's code paths once, so the first clip's numbers are not the
    process's start-up; every clip still gets fresh trackers."""
    from services.keypoints.extract import Trackers

    source = open_source(str(VIDEOS / name), FPS)
    frame, _ = next(iter(source.frames()))
    source.close()
    height, width = frame.shape[:2]
    small = cv2.resize(frame, target_size(width, height, max_width, None), interpolation=cv2.INTER_AREA)
    trackers = Trackers()
    for image in (frame, small):
        trackers.extract("warm-up", decode_jpeg(encode_jpeg(image, JPEG_QUALITY)))
    trackers.close()


def keypoint_diff(full: np.ndarray, small: np.ndarray, px_size: tuple[float, float]) -> dict:
    """Mean |dx|, |dy| per part over the frames where both sizes found the part; also in pixels of a
    frame of `px_size` (the clip at 960 wide: x times its width, y times its height)."""
    w, h = px_size
    result = {}
    for part in PARTS:
        a, b = xy(full, part), xy(small, part)
        both = np.any(a != 0, axis=(1, 2)) & np.any(b != 0, axis=(1, 2))
        if not both.any():
            result[part] = {"frames_both": 0, "mean_abs": None, "mean_abs_px": None}
            continue
        d = np.abs(a[both] - b[both])  # (frames, points, 2)
        px = d * np.array([w, h], dtype=np.float32)
        result[part] = {"frames_both": int(both.sum()), "mean_abs": float(d.mean()), "mean_abs_px": float(px.mean()),
                        "p95_abs_px": float(np.percentile(px, 95))}
        if part == "pose":  # the legs and hips off screen are guesses; the points both sizes see:
            visible = ((full[:, 3:POSE_END:4] > 0.5) & (small[:, 3:POSE_END:4] > 0.5))[both]  # (frames, 33)
            result[part]["visible_mean_abs_px"] = float(px[visible].mean()) if visible.any() else None
    return result


def windows_of(vectors: np.ndarray, first_pass: int) -> np.ndarray:
    """Every window at the classifier's stride that starts within the first pass (the loop continues it)."""
    starts = range(0, min(first_pass, len(vectors) - WINDOW + 1), STRIDE)
    return np.stack([vectors[s:s + WINDOW] for s in starts])


def ratio(clips: list[dict], key: str) -> float:
    """Sum over the frames of the 960 size / of the full size, pooled over clips."""
    count = "timed_frames" if key.startswith("holistic") else "frames"
    small = sum(c[SMALL][key] * c[SMALL][count] for c in clips)
    full = sum(c[FULL][key] * c[FULL][count] for c in clips)
    return small / full


def path_ms(c: dict, size: str) -> float:
    """Resize, encode, decode and Holistic of one frame: the whole path's cost."""
    r = c[size]
    return (c["resize_ms"] if size == SMALL else 0.0) + r["encode_ms"] + r["decode_ms"] + r["holistic_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-width", type=int, default=960)
    parser.add_argument("--control", default="kiri_hello.mp4", help="a clip narrower than --max-width")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()

    manifest = json.loads((VIDEOS / "manifest.json").read_text())
    chosen = [c for c in manifest if c["width"] > args.max_width]
    control = next(c for c in manifest if c["file"] == args.control)
    assert control["width"] <= args.max_width, f"control {args.control} is wider than {args.max_width}"
    chosen.append(control)

    warm_up(chosen[0]["file"], args.max_width)
    clips = {}
    for c in chosen:
        t = time.perf_counter()
        r = run_clip(c["file"], args.max_width)
        r["sign"], r["label"], r["control"] = c["sign"], SIGN_NAMES.get(c["sign"]), c is control
        clips[c["file"]] = r
        print(f"{c['file']}: {r['sizes']} {r[FULL]['frames']} frames; bytes {r[FULL]['bytes']:.0f} -> "
              f"{r[SMALL]['bytes']:.0f}; encode {r[FULL]['encode_ms']:.2f} -> {r[SMALL]['encode_ms']:.2f} ms "
              f"(+ resize {r['resize_ms']:.2f}); holistic {r[FULL]['holistic_ms']:.1f} -> {r[SMALL]['holistic_ms']:.1f} ms; "
              f"diff px { {p: d['mean_abs_px'] for p, d in r['keypoint_diff'].items()} } "
              f"({time.perf_counter() - t:.0f} s)", flush=True)

    # One model, trained as the trainer trains by default, on all 12 dev signers.
    from services.trainer.data import load_data
    from services.trainer.training import TrainOptions, keras_fitter

    t = time.perf_counter()
    data = load_data([SHARED / "datasets" / "signers"])
    predict = keras_fitter(lambda seed: replace(TrainOptions(), epochs=args.epochs, seed=seed))(data, args.seed)
    train_s = time.perf_counter() - t
    print(f"trained on {len(data.y)} sequences, labels {data.labels}, in {train_s:.0f} s", flush=True)
    labels = np.array(data.labels)
    for name, r in clips.items():
        if r["label"] not in data.labels:  # please, welcome: signs the model does not know
            r["recognition"] = None
            continue
        predicted = {}
        for size in (FULL, SMALL):
            predicted[size] = labels[predict(windows_of(r[size]["vectors"], r["first_pass_frames"]))]
        rec = {"windows": len(predicted[FULL]),
               "same_label_both_sizes": float(np.mean(predicted[FULL] == predicted[SMALL]))}
        for size, p in predicted.items():
            majority = max(data.labels, key=lambda lab: int(np.sum(p == lab)))
            rec[size] = {"window_accuracy": float(np.mean(p == r["label"])), "majority": majority,
                         "majority_right": majority == r["label"],
                         "counts": {lab: int(np.sum(p == lab)) for lab in data.labels}}
        r["recognition"] = rec
        print(name, json.dumps(rec), flush=True)

    for r in clips.values():
        for size in (FULL, SMALL):
            del r[size]["vectors"]
    wide = [r for r in clips.values() if not r["control"]]
    recognised = [r for r in wide if r["recognition"]]

    def window_accuracy(size: str) -> float:
        right = sum(r["recognition"][size]["window_accuracy"] * r["recognition"]["windows"] for r in recognised)
        return right / sum(r["recognition"]["windows"] for r in recognised)

    def pooled_px(size_clips: list[dict], part: str) -> float | None:
        pairs = [(r["keypoint_diff"][part]["mean_abs_px"], r["keypoint_diff"][part]["frames_both"])
                 for r in size_clips if r["keypoint_diff"][part]["frames_both"]]
        return sum(v * n for v, n in pairs) / sum(n for _, n in pairs) if pairs else None

    def pooled_visible(size_clips: list[dict]) -> float | None:
        pairs = [(r["keypoint_diff"]["pose"]["visible_mean_abs_px"], r["keypoint_diff"]["pose"]["frames_both"])
                 for r in size_clips if r["keypoint_diff"]["pose"].get("visible_mean_abs_px") is not None]
        return sum(v * n for v, n in pairs) / sum(n for _, n in pairs) if pairs else None

    summary = {
        "clips": len(wide),
        "jpeg_bytes_ratio": ratio(wide, "bytes"),
        "encode_ms_ratio": ratio(wide, "encode_ms"),
        "capture_ms_ratio": (sum((c[SMALL]["encode_ms"] + c["resize_ms"]) * c[SMALL]["frames"] for c in wide)
                             / sum(c[FULL]["encode_ms"] * c[FULL]["frames"] for c in wide)),
        "decode_ms_ratio": ratio(wide, "decode_ms"),
        "path_ms": {size: sum(path_ms(c, size) * c[size]["frames"] for c in wide) / sum(c[size]["frames"] for c in wide)
                    for size in (FULL, SMALL)},
        "holistic_ms_ratio": ratio(wide, "holistic_ms"),
        "holistic_cpu_ms_ratio": ratio(wide, "holistic_cpu_ms"),
        "keypoint_diff_px": {part: pooled_px(wide, part) for part in PARTS},
        "pose_visible_diff_px": pooled_visible(wide),
        "control_keypoint_diff_px": {part: pooled_px([r for r in clips.values() if r["control"]], part)
                                     for part in PARTS},
        "window_accuracy": {FULL: window_accuracy(FULL), SMALL: window_accuracy(SMALL)},
        "majority_right": {size: sum(r["recognition"][size]["majority_right"] for r in recognised)
                           for size in (FULL, SMALL)},
        "recognised_clips": len(recognised),
        "same_label_both_sizes": (sum(r["recognition"]["same_label_both_sizes"] * r["recognition"]["windows"]
                                      for r in recognised) / sum(r["recognition"]["windows"] for r in recognised)),
    }
    result = {"max_width": args.max_width, "fps": FPS, "jpeg_quality": JPEG_QUALITY, "passes": PASSES,
              "stride": STRIDE, "epochs": args.epochs, "seed": args.seed, "labels": data.labels,
              "train_seconds": round(train_s), "minutes": round((time.perf_counter() - started) / 60, 1),
              "summary": summary, "clips": clips}
    lines = render(result)
    write_results("frame_size", result, lines)
    print("\n".join(lines))


def fmt(v: float | None, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def render(result: dict) -> list[str]:
    s, mw = result["summary"], result["max_width"]
    acc = s["window_accuracy"]
    lines = [
        f"# Frame size: full vs at most {mw} pixels wide ({time.strftime('%Y-%m-%d')}; issue 10)", "",
        f"Clips of ../shared/videos wider than {mw}, and one narrower clip as a control (its '{mw}' frames are its "
        f"own, unchanged: the noise floor), through the live frame path at both sizes: capture's frame choice at "
        f"{result['fps']:g} fps (clip looped {result['passes']}x), INTER_AREA resize, JPEG {result['jpeg_quality']}, "
        f"decode, the keypoint worker's Holistic tracker (fresh per clip and size, video mode), both sizes frame by "
        f"frame in turn. Recognition: one model, trainer's default options, all 12 dev signers, at most "
        f"{result['epochs']} epochs, seed {result['seed']}; every 30-frame window at stride {result['stride']} that "
        f"starts in the first pass.", "",
        f"**Summary ({s['clips']} clips wider than {mw}, {mw} / full):** JPEG bytes x{s['jpeg_bytes_ratio']:.2f}, "
        f"encode time x{s['encode_ms_ratio']:.2f} (x{s['capture_ms_ratio']:.2f} with the resize), decode time "
        f"x{s['decode_ms_ratio']:.2f}, MediaPipe time x{s['holistic_ms_ratio']:.2f} (CPU x{s['holistic_cpu_ms_ratio']:.2f}), "
        f"whole path (resize, encode, decode, MediaPipe) {s['path_ms'][FULL]:.1f} -> {s['path_ms'][SMALL]:.1f} ms per frame; "
        f"windows right {acc[FULL]:.3f} full vs {acc[SMALL]:.3f} at {mw}; majority right {s['majority_right'][FULL]} "
        f"vs {s['majority_right'][SMALL]} of {s['recognised_clips']}; same window label at both sizes "
        f"{s['same_label_both_sizes']:.3f}.", "",
        "Keypoints at {mw} vs full, mean |dx|,|dy| in pixels of a {mw}-wide frame (points both found): ".format(mw=mw)
        + ", ".join(f"{p} {fmt(v, '.2f')}" for p, v in s["keypoint_diff_px"].items())
        + f" (pose points with visibility > 0.5 at both sizes: {fmt(s['pose_visible_diff_px'], '.2f')})"
        + "; control (same frames twice): "
        + ", ".join(f"{p} {fmt(v, '.2f')}" for p, v in s["control_keypoint_diff_px"].items()) + ".", "",
        "| clip | size | frames | JPEG KB | resize + encode ms | decode ms | MediaPipe ms (CPU) | pose / face / left / "
        "right found | keypoint diff px pose / face / left / right | windows right | majority |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, c in result["clips"].items():
        rec = c["recognition"]
        for size in (FULL, SMALL):
            r = c[size]
            w, h = c["sizes"][size]
            capture = f"{r['encode_ms']:.2f}" if size == FULL else f"{c['resize_ms']:.2f} + {r['encode_ms']:.2f}"
            found = " / ".join(f"{r['found'][p]:.2f}" for p in PARTS)
            diff = ("" if size == FULL else
                    " / ".join(fmt(c["keypoint_diff"][p]["mean_abs_px"], ".2f") for p in PARTS))
            if rec:
                windows = f"{rec[size]['window_accuracy']:.3f} of {rec['windows']}"
                majority = f"{rec[size]['majority']} ({'right' if rec[size]['majority_right'] else 'wrong'})"
            else:
                windows = majority = f"– ({c['sign']} not a label)"
            label = f"{name} ({c['label'] or c['sign']}{', control' if c['control'] else ''})"
            lines.append(f"| {label} | {w}x{h} | {r['frames']} | {r['bytes'] / 1024:.1f} | {capture} | "
                         f"{r['decode_ms']:.2f} | {r['holistic_ms']:.1f} ({r['holistic_cpu_ms']:.1f}) | {found} | "
                         f"{diff} | {windows} | {majority} |")
    resizes = [f"{name} {c['sizes'][FULL][0]}x{c['sizes'][FULL][1]} -> {mw}: {c['resize_ms']:.2f} ms "
               f"(INTER_LINEAR would take {c['resize_linear_ms']:.2f})"
               for name, c in result["clips"].items() if not c["control"]]
    lines += ["", "Capture's resize (INTER_AREA), mean per frame: " + "; ".join(resizes) + "."]
    lines += ["", "Redis memory of one camera's frames stream at the default maxlen 600: "
              + ", ".join(f"{name} {c[FULL]['bytes'] * 600 / 2**20:.0f} MB full, "
                          f"{c[SMALL]['bytes'] * 600 / 2**20:.0f} MB at {mw}"
                          for name, c in result["clips"].items() if not c["control"]) + ".",
              "", f"Run: {result['minutes']} min, training {result['train_seconds']} s. Times are wall ms per frame "
              "on a machine shared with other work; the ratios compare sizes processed in turn, so they hold better "
              "than the absolute values."]
    return lines


if __name__ == "__main__":
    main()
