"""Parity: the /camera page's keypoints against the keypoint workers', on the same frames.

Each clip's frames as capture publishes them (bench/live_video.py, played once: 15 fps, at most
960 wide, after the JPEG round trip) go, one by one and losslessly (PNG), through MediaPipe
Holistic in the page, in real headless Chromium (software WebGL), with the page's own tracker
options and vector code (`newHolistic`, `keypointVector` of camera.js), and through the Python
keypoint workers' tracker (the bench's keypoint cache), both tracking as if frames came 1/30 s
apart. Per part: how often both find it, and the mean absolute difference of its coordinates where
both do. Then the windows of both through the shipped model at the classifier's stride and
smoothing: top labels that agree, and each clip's detections.

    python bench/bench_browser_parity.py [--clips kiri_hello.mp4,kiri_no.mp4] [--name NAME]
Writes bench/results/NAME.json and .md (NAME: browser_parity). Needs chromium and chromedriver (Debian's).
"""

from __future__ import annotations

import argparse
import base64
import socket
import tempfile
import time
from pathlib import Path

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from common import Services, start_redis, write_results
from live_video import FPS, all_clips, judge, keypoints, played, source_frames, windows  # noqa: E402

from services.classifier.settings import ClassifierSettings  # noqa: E402
from services.classifier.unknown_weight import weigh_unknown  # noqa: E402
from services.up.redis_server import free_port  # noqa: E402
from shared.model_store import UNKNOWN  # noqa: E402
from tests.chromium import SOFTWARE_WEBGL, headless_chromium  # noqa: E402

DEFAULT_CLIPS = ("kiri_hello.mp4", "kiri_thankyou.mp4", "duoasl_iloveyou.mp4", "bisig_thanks.mp4",
                 "kiri_no.mp4", "kiri_yes.mp4")
# name, first and last float of the part in the vector, floats per point
PARTS = (("pose", 0, 132, 4), ("face", 132, 1536, 3), ("left_hand", 1536, 1599, 3), ("right_hand", 1599, 1662, 3))

# Holistic stamps each frame with performance.now(), and its landmark smoothing weighs frames by
# the time between them. MediaPipe's Python solution stamps every frame 1/30 s after the one
# before, whatever the camera's rate; the page's clock here does the same, rather than the 1.5 s a
# frame takes in this software-rendered browser.
START = """const done = arguments[arguments.length - 1];
window.benchClock = 0;
performance.now = () => window.benchClock;
if (window.benchHolistic) window.benchHolistic.close();
window.benchResults = null;
window.benchHolistic = newHolistic((results) => { window.benchResults = results; });
window.benchHolistic.initialize().then(() => done(true), (e) => done(String(e)));"""
FRAME = """const [url, done] = [arguments[0], arguments[arguments.length - 1]];
const image = new Image();
image.src = url;
window.benchClock += 1000 / 30;
image.decode().then(() => window.benchHolistic.send({image}))
  .then(() => done(keypointVector(window.benchResults).vector), (e) => done(String(e)));"""


def browser():
    driver = headless_chromium(*SOFTWARE_WEBGL)
    driver.set_script_timeout(120)
    return driver


def page_vectors(driver, frames: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The page's vectors of the frames, in order, with one fresh tracker; and seconds per frame."""
    ready = driver.execute_async_script(START)
    if ready is not True:
        raise RuntimeError(f"Holistic did not start in the page: {ready}")
    vectors, started = [], time.perf_counter()
    for frame in frames:
        url = "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", frame)[1].tobytes()).decode()
        vector = driver.execute_async_script(FRAME, url)
        if not isinstance(vector, list):
            raise RuntimeError(f"the page failed on a frame: {vector}")
        vectors.append(vector)
    return np.asarray(vectors, np.float32), (time.perf_counter() - started) / len(frames)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def part_figures(page: np.ndarray, worker: np.ndarray) -> dict:
    out = {}
    for name, lo, hi, width in PARTS:
        found_page, found_worker = np.any(page[:, lo:hi] != 0, axis=1), np.any(worker[:, lo:hi] != 0, axis=1)
        both = found_page & found_worker
        diff = np.abs(page[both, lo:hi] - worker[both, lo:hi]).reshape(int(both.sum()), (hi - lo) // width, width)
        mad = lambda axes: round(float(diff[:, :, axes].mean()), 5) if both.any() else None  # noqa: E731
        out[name] = {"found_page": int(found_page.sum()), "found_worker": int(found_worker.sum()),
                     "agree": round(float(np.mean(found_page == found_worker)), 4),
                     "mad_xy": mad([0, 1]), "mad_z": mad([2]), **({"mad_visibility": mad([3])} if width == 4 else {})}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=",".join(DEFAULT_CLIPS), help="comma-separated clip file names")
    parser.add_argument("--name", default="browser_parity", help="results file name in bench/results")
    args = parser.parse_args()
    from services.classifier.serving import load_serving_model
    from services.classifier.shipped import SHIPPED_MODEL, SHIPPED_VERSION
    from services.gateway.holistic_files import default_dir, fetch

    fetch(default_dir())
    wanted = args.clips.split(",")
    clips = [c for c in all_clips() if c.name in wanted]
    if len(clips) != len(wanted):
        raise SystemExit(f"not in the manifests: {sorted(set(wanted) - {c.name for c in clips})}")
    settings = ClassifierSettings()
    model = load_serving_model(SHIPPED_MODEL, SHIPPED_VERSION)
    labels = list(model.labels)

    def sign_index(clip, top_worker: np.ndarray) -> np.ndarray:
        """Per window, the label whose probability to compare: the clip's sign, else the workers' top label."""
        return np.full(len(top_worker), labels.index(clip.label)) if clip.known else top_worker

    def probs_of(vectors: np.ndarray) -> np.ndarray:
        batch = windows(vectors, len(vectors), "once", settings.stride)
        return weigh_unknown(model.predict(batch), labels, settings.unknown_weight) if len(batch) else np.zeros((0, len(labels)))

    redis_server = start_redis()
    port = free_port()
    gateway = Services(redis_server.url, Path(tempfile.mkdtemp(prefix="bench-parity-")), "parity")
    gateway.start("gateway", "gateway", "gateway", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    driver = browser()
    rows, all_page, all_worker, said_page, said_worker = [], [], [], [], []
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            gateway.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not listen within 60 s:\n{gateway.tail('gateway')}")
            time.sleep(0.2)
        driver.get(url + "/camera")
        for clip in clips:
            frames = played(source_frames(clip.path), "once")
            worker, _ = keypoints(clip, "once")
            page, per_frame_s = page_vectors(driver, frames)
            all_page.append(page)
            all_worker.append(worker)
            p_page, p_worker = probs_of(page), probs_of(worker)
            top_page, top_worker = p_page.argmax(axis=1), p_worker.argmax(axis=1)
            said_page += list(top_page)
            compared = sign_index(clip, top_worker)
            said_worker += list(top_worker)
            judged = {name: judge(clip, p, labels, settings.stride, settings.threshold, settings.confirm_windows,
                                  (UNKNOWN,), len(frames)) for name, p in (("page", p_page), ("worker", p_worker))}
            row = {"clip": clip.name, "sign": clip.sign, "frames": len(frames), "page_s_per_frame": round(per_frame_s, 2),
                   "parts": part_figures(page, worker), "windows": len(top_page),
                   "labels_agree": round(float(np.mean(top_page == top_worker)), 4) if len(top_page) else None,
                   # where they differ: the page's and the workers' top label with its probability
                   "differ": [(i, labels[a], round(float(p_page[i, a]), 2), labels[b], round(float(p_worker[i, b]), 2))
                              for i, (a, b) in enumerate(zip(top_page, top_worker)) if a != b],
                   # every window's probability of the clip's sign (known signs) or of the workers' top label:
                   # a detection needs `confirm_windows` in a row above the threshold, so near it they part
                   "p_page": [round(float(p), 3) for p in p_page[np.arange(len(top_page)), compared]],
                   "p_worker": [round(float(p), 3) for p in p_worker[np.arange(len(top_page)), compared]],
                   "detections_page": [d["label"] for d in judged["page"].detections],
                   "detections_worker": [d["label"] for d in judged["worker"].detections]}
            rows.append(row)
            print(f"{clip.name}: {row['page_s_per_frame']} s/frame in the page; labels agree on {row['labels_agree']} "
                  f"of {row['windows']} windows; detections page {row['detections_page']}, worker "
                  f"{row['detections_worker']}; hands found (page/worker) "
                  f"{row['parts']['right_hand']['found_page']}/{row['parts']['right_hand']['found_worker']} right, "
                  f"{row['parts']['left_hand']['found_page']}/{row['parts']['left_hand']['found_worker']} left; "
                  f"differ {row['differ']}", flush=True)
    finally:
        driver.quit()
        gateway.stop()
        redis_server.stop()
    overall = part_figures(np.concatenate(all_page), np.concatenate(all_worker))
    agree = float(np.mean(np.array(said_page) == np.array(said_worker)))
    md = ["# The /camera page's keypoints against the keypoint workers' (bench/bench_browser_parity.py)", "",
          f"The same frames (played once, {FPS:g} fps, as capture publishes them) through MediaPipe Holistic in "
          "headless Chromium (the page's code, software WebGL) and through the keypoint workers' Python Holistic; "
          f"windows of both through the shipped model at stride {settings.stride}, threshold {settings.threshold}, "
          f"{settings.confirm_windows} windows to confirm.", "",
          f"**Top labels agree on {agree:.1%} of {len(said_page)} windows.**", "",
          "Coordinates are fractions of the frame's width and height; x, y differences are over frames where both "
          "found the part.", "",
          "| part | frames found (page / worker) | found agree | mean abs diff x, y | z | visibility |",
          "| --- | --- | --- | --- | --- | --- |"]
    md += [f"| {name} | {f['found_page']} / {f['found_worker']} | {f['agree']:.1%} | {f['mad_xy']} | {f['mad_z']} | "
           f"{f.get('mad_visibility', '')} |" for name, f in overall.items()]
    md += ["", "| clip | sign | frames | page s/frame | labels agree | p of the sign (or the workers' label), "
           "mean abs diff | windows above the threshold (page / worker) | detections page | detections worker |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    md += [f"| {r['clip']} | {r['sign']} | {r['frames']} | {r['page_s_per_frame']} | {r['labels_agree']} | "
           f"{np.mean(np.abs(np.subtract(r['p_page'], r['p_worker']))):.3f} | "
           f"{sum(p >= settings.threshold for p in r['p_page'])} / {sum(p >= settings.threshold for p in r['p_worker'])} | "
           f"{', '.join(r['detections_page']) or '-'} | {', '.join(r['detections_worker']) or '-'} |" for r in rows]
    write_results(args.name, {"labels_agree": round(agree, 4), "windows": len(said_page), "parts": overall,
                                     "clips": rows}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
