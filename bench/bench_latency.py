"""Capture-to-prediction latency and frame drops under real load, for several cameras and keypoint workers.

Each configuration (cameras x keypoint worker processes) runs the real services as processes on a
fresh redis-server: one `capture` per camera playing a real clip in a loop at 15 fps (camera i plays
clip i of CLIPS, which mixes 1080p, 854x480 and 500x500), N `keypoints` workers, and one
`classifier --stride 3` serving a small untrained GRU saved in the trainer's version layout
(latency does not depend on the weights). The clock starts when every camera's first prediction
has arrived (the warm-up is capped), runs `--seconds`, then the pipeline keeps running DRAIN_S
more so the frames captured in the run get their keypoints or are dropped, and everything is
stopped with SIGTERM (killed after 10 s).

Measured from the streams, over the timed run only:
- latency of each prediction: its entry id's millisecond time minus its `ts` (capture time of the
  newest frame in the window), and the classifier's own `latency_ms` field; p50, p95, max, and
  the p95 of the first and the last third of the run (does the lag grow?);
- the keypoint stage's delay: keypoints entry id time minus the frame's capture_ts_ms
  (queueing + JPEG decode + MediaPipe), p50, p95;
- frames sent (capture's seq at the start and end of the run), how many got keypoints (kept
  fraction), the rest dropped, and how many of those a worker announced with a tombstone (an
  entry with a `gap` field on keypoints:<camera>, where workers write them);
- the time each window covers: the prediction's `window_ms` field where the classifier has one,
  and what the 30 newest received frames up to the predicted one span (what a window of 30
  received frames covers; 1933 ms at 15 fps when nothing is dropped); and the prediction's
  `frames` field (real frames in the window) where it has one;
- CPU used by each kind of process, and the whole machine's busy fraction (others' load shows).
And the workers' own counters after stop (whole run, warm-up included): `cameras` frames_sent,
`stats:keypoints` (in, out, dropped_old, ...), every key of `stats:classifier`.
Writes bench/results/<name>.json and .md.

    python bench/bench_latency.py [--seconds 60] [--cameras 1,2,4] [--workers 1,2] [--name latency]
    python bench/bench_latency.py --seconds 10 --cameras 1 --workers 1 --name latency-smoke
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import signal
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import redis  # noqa: E402
from common import SHARED, Services, cpu_seconds, machine, start_redis, write_results

from shared.codec import unpack  # noqa: E402
from shared.errors import DecodeError  # noqa: E402
from shared.keys import Keys  # noqa: E402
from shared.messages import FrameMessage, KeypointsMessage  # noqa: E402

VIDEOS = SHARED / "videos"
CLIPS = ["alp_val_hello.mp4", "kiri_hello.mp4", "bisig_hello.mp4", "alp_thankyou.mp4"]  # camera i plays clip i % 4
LABELS = ["hello", "thanks", "iloveyou"]
FPS = 15
STRIDE = 3
WINDOW = 30
NAMESPACE = "bench:"
GAP_FIELDS = ("gap", b"gap")  # a keypoints entry that says a frame was dropped (a tombstone), where workers write them
DRAIN_S = 3.0  # after the run: frames captured in it finish or are dropped (workers drop frames older than 1 s)
POLL_S = 1.0


# --- the model ----------------------------------------------------------------------------------


def build_model(models_dir: Path) -> Path:
    """A small real keras model (per-frame projection, GRU, softmax over LABELS), untrained, as v0001."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((WINDOW, 1662))
    x = keras.layers.Dense(32, activation="relu")(inputs)
    x = keras.layers.GRU(32)(x)
    outputs = keras.layers.Dense(len(LABELS), activation="softmax")(x)
    version = models_dir / "v0001"
    version.mkdir(parents=True)
    keras.Model(inputs, outputs).save(version / "model.keras")
    (version / "labels.json").write_text(json.dumps(LABELS))
    return version


# --- processes ------------------------------------------------------------------------------------


# --- reading the streams ----------------------------------------------------------------------------


def id_ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-")[0])


def text_fields(fields: dict) -> dict[str, str]:
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()}


class Collector:
    """Follows `predictions` and every `keypoints:<camera>` from the start, as any subscriber would."""

    def __init__(self, client: redis.Redis, keys: Keys, cameras: list[str]):
        self.redis = client
        self.keys = keys
        self.cameras = cameras
        self.cursors = {keys.predictions: "0-0", **{keys.keypoints(c): "0-0" for c in cameras}}
        self.predictions: list[dict] = []
        self.keypoints: dict[str, list[tuple]] = {c: [] for c in cameras}  # (id_ms, seq, capture_ts_ms, worker, processing_ms)
        self.gaps: dict[str, list[tuple]] = {c: [] for c in cameras}  # tombstones: (id_ms, seq, capture_ts_ms, reason)
        self.prediction_fields: set[str] = set()
        self.undecodable: Counter = Counter()  # entries that are neither keypoints nor tombstones

    def poll(self) -> None:
        while True:
            reply = self.redis.xread(self.cursors, count=2000)
            if not reply:
                return
            full = False
            for stream, items in reply:
                stream = stream.decode()
                self.cursors[stream] = items[-1][0]
                full |= len(items) == 2000
                if stream == self.keys.predictions:
                    self._predictions(items)
                else:
                    self._keypoints(self.keys.camera_of(stream, "keypoints:"), items)
            if not full:
                return

    def _predictions(self, items) -> None:
        for entry_id, fields in items:
            f = text_fields(fields)
            self.prediction_fields.update(f)
            try:
                p = {"id_ms": id_ms(entry_id), "camera": f["camera"], "seq": int(f["seq"]), "ts": int(f["ts"]),
                     "latency_ms": float(f["latency_ms"])}
                for optional in ("window_ms", "frames"):  # newer classifiers: time the window covers, real frames in it
                    if optional in f:
                        p[optional] = float(f[optional])
            except (KeyError, ValueError):
                self.undecodable["predictions"] += 1
                continue
            self.predictions.append(p)

    def _keypoints(self, camera: str, items) -> None:
        for entry_id, fields in items:
            gap = next((fields[k] for k in GAP_FIELDS if k in fields), None)
            if gap is not None:
                try:
                    body = unpack(gap)
                    self.gaps[camera].append((id_ms(entry_id), int(body["seq"]), int(body["capture_ts_ms"]),
                                              str(body.get("reason", ""))))
                except Exception:  # a tombstone of another shape: counted, not understood
                    self.undecodable[f"{camera} gap"] += 1
                continue
            try:
                m = KeypointsMessage.decode(fields)
            except DecodeError:
                self.undecodable[camera] += 1
                continue
            self.keypoints[camera].append((id_ms(entry_id), m.seq, m.capture_ts_ms, m.worker, m.processing_ms))

    def cameras_with_predictions(self) -> set[str]:
        return {p["camera"] for p in self.predictions}


def last_frame_seq(client: redis.Redis, keys: Keys, camera: str) -> int:
    """The seq of the newest frame capture has published (-1 before the first)."""
    last = client.xrevrange(keys.frames(camera), count=1)
    return FrameMessage.decode(last[0][1]).seq if last else -1


def hash_json(client: redis.Redis, key: str) -> dict:
    return {k.decode(): json.loads(v) for k, v in client.hgetall(key).items()}


# --- numbers ----------------------------------------------------------------------------------------


def pct(values, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def summary(values) -> dict:
    values = np.asarray(values, float)
    return {"n": int(len(values)), "p50": pct(values, 50), "p95": pct(values, 95),
            "min": round(float(values.min()), 1) if len(values) else None,
            "max": round(float(values.max()), 1) if len(values) else None}


def latency_block(preds: list[dict], t0: int, t1: int) -> dict:
    """Latency of predictions made in [t0, t1): overall, and p95 per third of the run."""
    own = [p["id_ms"] - p["ts"] for p in preds]
    third = (t1 - t0) / 3
    thirds = [[p["id_ms"] - p["ts"] for p in preds if t0 + i * third <= p["id_ms"] < t0 + (i + 1) * third]
              for i in range(3)]
    return {
        "latency_ms": summary(own),  # entry id time - ts
        "latency_ms_field": summary([p["latency_ms"] for p in preds]),  # the classifier's own latency_ms
        "p95_by_third": [pct(t, 95) for t in thirds],
    }


def received_span(keypoints: list[tuple], seqs: list[int], seq: int) -> float | None:
    """Capture-time span of the 30 newest received frames up to `seq` (a window of 30 received frames).

    `keypoints` in seq order, `seqs` their seqs."""
    i = bisect.bisect_right(seqs, seq) - 1
    if i < WINDOW - 1 or seqs[i] != seq:
        return None
    return float(keypoints[i][2] - keypoints[i - WINDOW + 1][2])


def add_counters(total: dict, counts: dict) -> None:
    for k, v in counts.items():
        if isinstance(v, (int, float)) and not k.endswith("_ms"):
            total[k] = total.get(k, 0) + v


def analyse(col: Collector, cameras: list[str], t0: int, t1: int, seq0: dict, seq1: dict, seconds: float) -> dict:
    per_camera = {}
    all_preds, all_delay, all_spans, all_window, all_real, all_mp = [], [], [], [], [], []
    sent_total = kept_total = gaps_total = 0
    for camera in cameras:
        # Keypoints: one per seq (a redelivery may publish a seq twice; the first counts), in seq order.
        first: dict[int, tuple] = {}
        for k in col.keypoints[camera]:
            first.setdefault(k[1], k)
        kps = [first[s] for s in sorted(first)]
        in_run = [k for k in kps if seq0[camera] < k[1] <= seq1[camera]]
        delay = [k[0] - k[2] for k in in_run]
        workers = Counter(k[3] for k in in_run)
        preds = sorted((p for p in col.predictions if p["camera"] == camera and t0 <= p["id_ms"] < t1),
                       key=lambda p: p["id_ms"])
        seqs = [k[1] for k in kps]
        spans = [s for s in (received_span(kps, seqs, p["seq"]) for p in preds) if s is not None]
        window = [p["window_ms"] for p in preds if "window_ms" in p]
        real = [p["frames"] for p in preds if "frames" in p]
        gaps = {g[1]: g for g in col.gaps[camera] if seq0[camera] < g[1] <= seq1[camera]}
        gap_reasons = Counter(g[3] for g in gaps.values())
        mediapipe = [k[4] for k in in_run]
        sent = seq1[camera] - seq0[camera]
        per_camera[camera] = {
            "predictions": len(preds),
            "predictions_per_s": round(len(preds) / seconds, 2),
            **latency_block(preds, t0, t1),
            "keypoint_delay_ms": summary(delay),
            "mediapipe_processing_ms": summary(mediapipe),
            "frames_sent": sent,
            "frames_with_keypoints": len(in_run),
            "frames_without_keypoints": sent - len(in_run),
            "kept_fraction": round(len(in_run) / sent, 3) if sent else None,
            "tombstones": len(gaps),  # frames of the run a worker reported dropped on keypoints:<camera>
            "tombstone_reasons": dict(gap_reasons),
            "keypoints_by_worker": dict(workers),
            "received_30_span_ms": summary(spans),
            "window_ms": summary(window) if window else None,
            "real_frames_in_window": summary(real) if real else None,
        }
        all_preds += preds
        all_delay += delay
        all_spans += spans
        all_window += window
        all_real += real
        all_mp += mediapipe
        sent_total += sent
        kept_total += len(in_run)
        gaps_total += len(gaps)
    return {
        "per_camera": per_camera,
        "all": {
            "predictions": len(all_preds),
            "predictions_per_s": round(len(all_preds) / seconds, 2),
            **latency_block(all_preds, t0, t1),
            "keypoint_delay_ms": summary(all_delay),
            "mediapipe_processing_ms": summary(all_mp),
            "frames_sent": sent_total,
            "frames_with_keypoints": kept_total,
            "frames_without_keypoints": sent_total - kept_total,
            "kept_fraction": round(kept_total / sent_total, 3) if sent_total else None,
            "tombstones": gaps_total,
            "received_30_span_ms": summary(all_spans),
            "window_ms": summary(all_window) if all_window else None,
            "real_frames_in_window": summary(all_real) if all_real else None,
        },
    }


# --- one configuration ------------------------------------------------------------------------------


POLICIES = {  # how keypoint workers meet more frames than they can take
    "newest": [],  # the default: each camera's newest waiting frame, older ones dropped as behind
    "fifo": ["--no-drop-behind"],  # the baseline: oldest first, frames older than --max-age dropped
}


def run_configuration(n_cameras: int, n_workers: int, model_dir: Path, args, policy: str = "newest") -> dict:
    print(f"\n== {n_cameras} camera(s), {n_workers} keypoint worker(s), {policy} ==", flush=True)
    cameras = [f"cam{i}" for i in range(n_cameras)]
    clips = {c: CLIPS[i % len(CLIPS)] for i, c in enumerate(cameras)}
    keys = Keys(NAMESPACE)
    logdir = Path(tempfile.mkdtemp(prefix="bench-latency-logs-"))
    server = start_redis()
    services = Services(server.url, logdir, NAMESPACE)
    client = redis.Redis.from_url(server.url)
    result: dict = {"cameras": n_cameras, "workers": n_workers, "policy": policy, "clips": clips}
    failed = False
    try:
        # Classifier and workers first, so the clock of the frames starts once they can take them.
        services.start("classifier", "classifier", "classifier", "--model", str(model_dir),
                       "--models-dir", str(model_dir.parent), "--stride", str(STRIDE), "--worker-id", "classifier")
        for i in range(n_workers):
            services.start(f"keypoints-{i}", "keypoints", "keypoints", "--worker-id", f"w{i}", *POLICIES[policy])
        for camera in cameras:
            services.start(f"capture-{camera}", "capture", "capture", "--source", str(VIDEOS / clips[camera]),
                           "--camera", camera, "--fps", str(FPS), "--loop")
        collector = Collector(client, keys, cameras)

        started = time.monotonic()
        while collector.cameras_with_predictions() != set(cameras):
            services.check()
            if time.monotonic() - started > args.warmup_cap:
                missing = sorted(set(cameras) - collector.cameras_with_predictions())
                print(f"  warm-up capped at {args.warmup_cap:.0f} s; no prediction yet from {missing}", flush=True)
                result["warmup_missing"] = missing
                break
            time.sleep(0.25)
            collector.poll()
        result["warmup_s"] = round(time.monotonic() - started, 1)
        print(f"  warm-up {result['warmup_s']} s; timing {args.seconds:.0f} s", flush=True)

        pids = {name: proc.pid for name, proc in services.procs.items()}
        pids["redis-server"] = server.proc.pid
        pids["bench"] = os.getpid()
        machine0, cpu0 = psutil.cpu_times(), cpu_seconds(pids)
        t0 = int(time.time() * 1000)
        seq0 = {c: last_frame_seq(client, keys, c) for c in cameras}
        end = time.monotonic() + args.seconds
        next_line = time.monotonic() + 10
        while time.monotonic() < end:
            time.sleep(min(POLL_S, max(0.0, end - time.monotonic())))
            services.check()
            collector.poll()
            if time.monotonic() >= next_line:
                next_line += 10
                done = sum(1 for p in collector.predictions if p["id_ms"] >= t0)
                print(f"  {time.monotonic() - end + args.seconds:4.0f} s: {done} predictions", flush=True)
        t1 = int(time.time() * 1000)
        seq1 = {c: last_frame_seq(client, keys, c) for c in cameras}
        wall = (t1 - t0) / 1000
        machine1, cpu1 = psutil.cpu_times(), cpu_seconds(pids)

        drain_end = time.monotonic() + DRAIN_S
        while time.monotonic() < drain_end:
            time.sleep(0.5)
            collector.poll()
    except BaseException:
        failed = True
        raise
    finally:
        services.stop()
        try:
            if not failed:
                collector.poll()
                result["stats_keypoints"] = hash_json(client, keys.stats("keypoints"))
                result["stats_classifier"] = hash_json(client, keys.stats("classifier"))
                result["cameras_hash"] = hash_json(client, keys.cameras)
        finally:
            client.close()
            server.stop()
            if failed:
                for name in services.procs:
                    print(f"  --- {name} log:\n{services.tail(name)}", flush=True)
            shutil.rmtree(logdir, ignore_errors=True)
            shutil.rmtree(server.workdir, ignore_errors=True)

    result["seconds"] = round(wall, 2)
    result["exit_codes"] = services.exit_codes
    result.update(analyse(collector, cameras, t0, t1, seq0, seq1, wall))
    result["prediction_fields"] = sorted(collector.prediction_fields)
    result["undecodable_entries"] = dict(collector.undecodable)

    # CPU: cores used by each kind of process over the timed run, and how busy the whole machine was.
    by_role: dict[str, float] = defaultdict(float)
    for name in cpu1:
        role = services.roles.get(name, name)
        by_role[role] += (cpu1[name] - cpu0[name]) / wall
    busy0 = sum(machine0) - machine0.idle - getattr(machine0, "iowait", 0)
    busy1 = sum(machine1) - machine1.idle - getattr(machine1, "iowait", 0)
    cores_busy = (busy1 - busy0) / wall
    result["cpu_cores"] = {k: round(v, 2) for k, v in by_role.items()}
    result["cpu_cores"]["machine"] = round(cores_busy, 2)
    result["cpu_cores"]["others"] = round(cores_busy - sum(by_role.values()), 2)

    # The workers' own counters (whole run, warm-up included), summed over workers per camera.
    for service in ("keypoints", "classifier"):
        totals: dict[str, dict] = {}
        for snap in result.get(f"stats_{service}", {}).values():
            for camera, counts in snap.get("cameras", {}).items():
                add_counters(totals.setdefault(camera, {}), counts)
        result[f"{service}_counters"] = totals
    result["frames_sent_total"] = {c: result.get("cameras_hash", {}).get(c, {}).get("frames_sent") for c in cameras}
    return result


# --- report -----------------------------------------------------------------------------------------


def f(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def lat(s: dict) -> str:
    return f"{f(s['p50'])} / {f(s['p95'])} / {f(s['max'])}"


def thirds(block: dict) -> str:
    first, _, last = block["p95_by_third"]
    return f"{f(first)} → {f(last)}"


def span(block: dict) -> str:
    window = block["window_ms"]
    received = block["received_30_span_ms"]
    own = f"{f(window['p50'])} / {f(window['p95'])}" if window else "no field"
    return f"{own} ; {f(received['p50'])} / {f(received['p95'])}"


def real_frames(block: dict) -> str:
    real = block["real_frames_in_window"]
    return "no field" if real is None else f"{f(real['p50'])} / {f(real['min'])}"


def counters_text(counters: dict) -> str:
    if not counters:
        return "none reported"
    return "; ".join(f"{camera}: " + ", ".join(f"{k}={v}" for k, v in sorted(c.items()))
                     for camera, c in sorted(counters.items()))


def markdown(results: list[dict], args) -> list[str]:
    clips = ", ".join(f"cam{i} {CLIPS[i]} ({SIZES.get(CLIPS[i], '?')})" for i in range(max(args.cameras)))
    lines = [
        f"# Capture-to-prediction latency under load ({time.strftime('%Y-%m-%d %H:%M')})", "",
        f"Machine: {machine()}. Clips (looped, captured at {FPS} fps): {clips}.",
        f"Per configuration: a fresh redis-server, one capture per camera, N keypoint worker processes "
        f"(default --max-age 1 s), one classifier (--stride {STRIDE}, a small untrained GRU: latency does not depend "
        f"on weights); timed {args.seconds:.0f} s after every camera's first prediction.",
        "",
        "Latency = prediction entry id time - `ts` (capture time of the newest frame in the window), ms. "
        "Keypoint delay = keypoints entry id time - capture_ts_ms (queue + decode + MediaPipe). "
        "Frames: sent by capture during the run, and the share that got keypoints (the rest were dropped; "
        "in brackets, how many of those a worker reported with a tombstone on keypoints:<camera>). "
        f"Window span: the prediction's `window_ms` where it has one; then what the 30 newest received frames "
        f"up to the predicted one cover ({(WINDOW - 1) * 1000 / FPS:.0f} ms with nothing dropped).",
        "",
        "Policy: how keypoint workers meet more frames than they can take: `newest` (the default: each camera's "
        "newest waiting frame, older ones dropped as behind, cameras in turn) or `fifo` (the baseline, "
        "`--no-drop-behind`: oldest first, frames older than --max-age dropped). Kept, worst camera: the "
        "smallest share of its frames any one camera got keypoints for (fairness).",
        "",
        "| cameras | workers | policy | predictions/s (per camera) | latency p50 / p95 / max | p95 first → last third "
        "| keypoint delay p50 / p95 | frames sent | dropped | kept (worst camera) | window span p50 / p95 ; 30 received "
        "| CPU cores (machine, others) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['cameras']} | {r['workers']} | {r.get('policy', 'newest')} | "
                         f"failed: {r['error'].splitlines()[0]} |")
            continue
        a = r["all"]
        worst = min((c["kept_fraction"] for c in r["per_camera"].values() if c.get("kept_fraction") is not None),
                    default=None)
        lines.append(
            f"| {r['cameras']} | {r['workers']} | {r.get('policy', 'newest')} "
            f"| {f(a['predictions_per_s'], 2)} ({f(a['predictions_per_s'] / r['cameras'], 2)}) "
            f"| {lat(a['latency_ms'])} | {thirds(a)} | {f(a['keypoint_delay_ms']['p50'])} / {f(a['keypoint_delay_ms']['p95'])} "
            f"| {a['frames_sent']} | {a['frames_without_keypoints']} | {f(a['kept_fraction'], 3)} ({f(worst, 3)}) | {span(a)} "
            f"| {f(r['cpu_cores']['machine'], 2)}, {f(r['cpu_cores']['others'], 2)} |")
    for r in results:
        lines += ["", f"## {r['cameras']} camera(s), {r['workers']} keypoint worker(s), {r.get('policy', 'newest')}", ""]
        if "error" in r:
            lines.append(f"Failed: {r['error']}")
            continue
        lines += [
            f"Warm-up {r['warmup_s']} s"
            + (f" (capped; no prediction from {r['warmup_missing']})" if r.get("warmup_missing") else "")
            + f", timed {r['seconds']} s. CPU cores used: "
            + ", ".join(f"{k} {v}" for k, v in r["cpu_cores"].items()) + ".",
            "",
            "| camera | clip | predictions/s | latency p50 / p95 / max | `latency_ms` field p50 / p95 | p95 by third "
            "| keypoint delay p50 / p95 | MediaPipe ms p50 | frames sent | with keypoints | dropped (tombstones) | kept "
            "| window span p50 / p95 ; 30 received | real frames in window p50 / min |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        rows = [(c, r["clips"][c], b) for c, b in r["per_camera"].items()] + [("all", "", r["all"])]
        for camera, clip, b in rows:
            field = b["latency_ms_field"]
            lines.append(
                f"| {camera} | {clip} | {f(b['predictions_per_s'], 2)} | {lat(b['latency_ms'])} "
                f"| {f(field['p50'])} / {f(field['p95'])} | {' / '.join(f(x) for x in b['p95_by_third'])} "
                f"| {f(b['keypoint_delay_ms']['p50'])} / {f(b['keypoint_delay_ms']['p95'])} "
                f"| {f(b['mediapipe_processing_ms']['p50'])} | {b['frames_sent']} | {b['frames_with_keypoints']} "
                f"| {b['frames_without_keypoints']} ({b['tombstones']}) | {f(b['kept_fraction'], 3)} | {span(b)} "
                f"| {real_frames(b)} |")
        lines += [
            "",
            "Counters the services wrote (whole run, warm-up included):",
            "- capture frames_sent: " + ", ".join(f"{c}={v}" for c, v in r["frames_sent_total"].items()),
            f"- stats:keypoints (summed over workers): {counters_text(r['keypoints_counters'])}",
            f"- stats:classifier: {counters_text(r['classifier_counters'])}",
            f"- prediction fields: {', '.join(r['prediction_fields'])}"
            + (f"; entries that did not decode: {r['undecodable_entries']}" if r["undecodable_entries"] else ""),
        ]
    return lines


SIZES: dict[str, str] = {}


def interrupted(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="timed run per configuration")
    parser.add_argument("--cameras", default="1,2,4", help="camera counts, comma-separated")
    parser.add_argument("--workers", default="1,2", help="keypoint worker process counts, comma-separated")
    parser.add_argument("--name", default="latency", help="results file name in bench/results/")
    parser.add_argument("--policies", default="newest,fifo",
                        help="keypoint worker policies to compare: newest (default) and fifo (--no-drop-behind)")
    parser.add_argument("--warmup-cap", type=float, default=120.0, help="longest wait for every camera's first prediction")
    args = parser.parse_args()
    args.cameras = [int(x) for x in args.cameras.split(",")]
    args.workers = [int(x) for x in args.workers.split(",")]
    args.policies = [p for p in args.policies.split(",") if p]
    unknown = set(args.policies) - set(POLICIES)
    if unknown:
        parser.error(f"unknown policies {sorted(unknown)}; choose from {sorted(POLICIES)}")
    manifest = json.loads((VIDEOS / "manifest.json").read_text())
    SIZES.update({m["file"]: f"{m['width']}x{m['height']}" for m in manifest})

    # A SIGTERM to the bench still runs every `finally`: services stopped, redis-servers stopped.
    signal.signal(signal.SIGTERM, interrupted)
    models = Path(tempfile.mkdtemp(prefix="bench-latency-models-"))
    results = []
    started = time.monotonic()
    try:
        model_dir = build_model(models)
        for n_workers in args.workers:
            for n_cameras in args.cameras:
                for policy in args.policies:
                    try:
                        results.append(run_configuration(n_cameras, n_workers, model_dir, args, policy))
                    except Exception as e:  # one failed configuration is reported, the others still run
                        print(f"  failed: {e}", flush=True)
                        results.append({"cameras": n_cameras, "workers": n_workers, "policy": policy,
                                        "error": str(e)})
    finally:
        shutil.rmtree(models, ignore_errors=True)
    total_s = round(time.monotonic() - started, 1)
    result = {
        "clips": {f"cam{i}": f"{CLIPS[i]} ({SIZES.get(CLIPS[i], '?')})" for i in range(max(args.cameras))},
        "fps": FPS, "stride": STRIDE, "seconds": args.seconds, "warmup_cap_s": args.warmup_cap,
        "drain_s": DRAIN_S, "model": "Dense(32 relu) per frame, GRU(32), Dense(3 softmax); untrained",
        "labels": LABELS, "total_s": total_s, "configurations": results,
    }
    lines = markdown(results, args) + ["", f"Whole benchmark: {total_s:.0f} s."]
    write_results(args.name, result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
