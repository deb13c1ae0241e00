"""How many browser cameras a server holds: N simulated browsers against the gateway and one classifier.

A browser camera costs the server no MediaPipe: the device sends keypoint vectors over the
gateway's WebSocket (`/api/cameras/<camera>/keypoints`), and the server only writes them to Redis
and classifies windows. Here a separate process plays N browsers on loopback, each sending
recorded keypoint vectors of a real clip (the live-video bench's cache of kiri_hello, looped, each
camera from another frame) at 15 fps, as the page sends them (binary), with their send time as
capture time, and reading the predictions that come back on its socket. Per N (10, 50, 100, 200): server CPU (gateway,
classifier, redis-server) per camera, predictions per camera per second, and latency from the
time a window's newest vector left the browser to its prediction arriving back there (p50, p95).

The baseline, in the same run on the same machine: one camera through capture (the same clip,
looping, 15 fps) and a keypoint worker, with the same classifier and redis-server: server CPU per
camera that way. The ratio of the two is what a browser camera saves.

    python bench/bench_browser_scale.py [--cameras 10,50,100,200] [--seconds 30]
Writes bench/results/browser_scale.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis
from common import SHARED, Services, cpu_seconds, start_redis, write_results
from live_video import all_clips, keypoints

from services.up.redis_server import free_port
from shared.keys import Keys

NAMESPACE = "bench:"
CLIP = "kiri_hello.mp4"
FPS = 15.0
HEADER = struct.Struct("<dII")  # as services/gateway/browser_camera.py reads it
PARTS = (("pose", 0, 132), ("face", 132, 1536), ("left_hand", 1536, 1599), ("right_hand", 1599, 1662))


def frame_bodies(vectors: np.ndarray) -> list[bytes]:
    """Each frame as the page sends it (binary), but for the header: encoded once, sent many times."""
    bodies = []
    for vector in vectors:
        bits = sum(bit for (_, lo, hi), bit in zip(PARTS, (1, 2, 4, 8)) if np.any(vector[lo:hi] != 0))
        bodies.append((bits, np.asarray(vector, "<f4").tobytes()))
    return bodies


async def browser(url: str, camera: str, bodies: list, start: int, stop: asyncio.Event, out: dict) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    # People do not all press Start in the same millisecond. The gateway takes a connection's clock
    # offset from its first message, so a burst of connections would skew every latency measured after.
    await asyncio.sleep(random.random() * 2)
    async with connect(f"{url}/api/cameras/{camera}/keypoints", max_size=2**20, open_timeout=60) as ws:
        async def receive() -> None:
            async for message in ws:
                event = json.loads(message)
                if event.get("type") == "prediction":
                    out["latencies"].append(time.time() * 1000 - event["ts"])
                    out["predictions"] += 1
                elif event.get("type") == "refused":
                    out["refused"] += 1

        reader = asyncio.create_task(receive())
        await asyncio.sleep(random.random() / FPS)  # browsers are not in step
        due, i = loop.time(), start
        while not stop.is_set():
            bits, vector = bodies[i % len(bodies)]
            await ws.send(HEADER.pack(time.time() * 1000, i, bits) + vector)
            out["sent"] += 1
            i += 1
            due += 1 / FPS
            await asyncio.sleep(max(0.0, due - loop.time()))
        reader.cancel()


async def browsers_main(url: str, cameras: int, seconds: float, cache: str) -> dict:
    bodies = frame_bodies(np.load(cache))
    stop = asyncio.Event()
    outs = [{"sent": 0, "predictions": 0, "refused": 0, "latencies": []} for _ in range(cameras)]
    tasks = [asyncio.create_task(browser(url, f"browser-{i:03d}", bodies, random.randrange(len(bodies)), stop, out))
             for i, out in enumerate(outs)]
    await asyncio.sleep(seconds)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    return {"outs": outs, "errors": errors[:5], "error_count": len(errors)}


def measure(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """CPU of each process over `seconds`, in cores."""
    before = cpu_seconds(pids)
    time.sleep(seconds)
    after = cpu_seconds(pids)
    return {name: (after[name] - before[name]) / seconds for name in pids}


def workers_baseline(server_url: str, logdir: Path, server_pids: dict[str, int], seconds: float) -> dict:
    """One camera through capture and a keypoint worker: what it costs the server."""
    pipeline = Services(server_url, logdir, NAMESPACE)
    keys = Keys(NAMESPACE)
    client = redis.Redis.from_url(server_url)
    try:
        pipeline.start("capture", "capture", "capture", "--source", str(SHARED / "videos" / CLIP), "--camera", "worker-cam",
                       "--fps", str(FPS), "--loop")
        pipeline.start("keypoints", "keypoints", "keypoints")
        deadline = time.monotonic() + 180
        while not client.xrevrange(keys.predictions, count=1):
            pipeline.check()
            if time.monotonic() > deadline:
                raise RuntimeError("no prediction within 180 s:\n" + pipeline.tail("keypoints"))
            time.sleep(1)
        time.sleep(10)  # past MediaPipe's first frames
        pids = {**server_pids, **{name: p.pid for name, p in pipeline.procs.items()}}
        t0 = int(time.time() * 1000)
        cores = measure(pids, seconds)
        t1 = int(time.time() * 1000)
        frames = len(client.xrange(keys.keypoints("worker-cam"), min=t0, max=t1))
        predictions = client.xrange(keys.predictions, min=t0, max=t1)
        latencies = [float(f[b"latency_ms"]) for _, f in predictions]
    finally:
        pipeline.stop()
    fps = frames / seconds
    return {"keypoint_fps": round(fps, 2), "cores": {k: round(v, 3) for k, v in cores.items()},
            "server_cores": round(sum(cores.values()), 3),
            "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
            "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1) if latencies else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="10,50,100,200")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--browsers-process", nargs=4, metavar=("URL", "CAMERAS", "SECONDS", "CACHE"),
                        help=argparse.SUPPRESS)  # the process playing the browsers
    args = parser.parse_args()
    if args.browsers_process:
        url, cameras, seconds, cache = args.browsers_process
        print(json.dumps(asyncio.run(browsers_main(url, int(cameras), float(seconds), cache))))
        return

    clip = next(c for c in all_clips() if c.name == CLIP)
    vectors, _ = keypoints(clip, "looped")
    logdir = Path(tempfile.mkdtemp(prefix="bench-browser-scale-"))
    cache = logdir / "vectors.npy"
    np.save(cache, vectors)
    server = start_redis()
    services = Services(server.url, logdir, NAMESPACE)
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    rows = []
    try:
        services.start("classifier", "classifier", "classifier", "--models-dir", str(logdir / "models"))
        services.start("gateway", "gateway", "gateway", "--port", str(port), "--max-browser-cameras", "1000")
        server_pids = {"gateway": services.procs["gateway"].pid, "classifier": services.procs["classifier"].pid,
                       "redis": server.proc.pid}
        print("baseline: one camera through capture and a keypoint worker", flush=True)
        baseline = workers_baseline(server.url, logdir, server_pids, args.seconds)
        print(baseline, flush=True)
        for n in [int(v) for v in args.cameras.split(",")]:
            warm_s = 8.0
            load = subprocess.Popen([sys.executable, __file__, "--browsers-process", url, str(n),
                                     str(warm_s + args.seconds + 2), str(cache)], stdout=subprocess.PIPE, text=True)
            time.sleep(warm_s)
            cores = measure({**server_pids, "browsers": load.pid}, args.seconds)
            out, _ = load.communicate(timeout=300)
            services.check()
            played = json.loads(out.strip().splitlines()[-1])
            outs = played["outs"]
            latencies = [v for o in outs for v in o["latencies"][len(o["latencies"]) // 4:]]  # past the first windows
            span = warm_s + args.seconds + 2
            server_cores = cores["gateway"] + cores["classifier"] + cores["redis"]
            row = {"cameras": n, "server_cores": round(server_cores, 3),
                   "server_cores_per_camera": round(server_cores / n, 5),
                   "cores": {k: round(v, 3) for k, v in cores.items()},
                   "sent_per_camera_per_s": round(sum(o["sent"] for o in outs) / n / span, 2),
                   "predictions_per_camera_per_s": round(sum(o["predictions"] for o in outs) / n / span, 2),
                   "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
                   "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
                   "refused": sum(o["refused"] for o in outs), "errors": played["errors"],
                   "error_count": played["error_count"]}
            rows.append(row)
            print(row, flush=True)
            time.sleep(3)  # the cameras' windows drain before the next step
    finally:
        services.stop()
        server.stop()

    per_worker_camera = baseline["server_cores"] * FPS / max(baseline["keypoint_fps"], 0.1)
    md = [f"# Browser cameras: what N of them cost the server ({time.strftime('%Y-%m-%d')})", "",
          f"N simulated browsers on loopback (one process) send recorded keypoint vectors of {CLIP} at {FPS:g} fps to "
          "the gateway's socket, in the page's binary format; one classifier (shipped model, default settings) and "
          "one redis-server serve them. "
          f"{args.seconds:g} s measured per N after 8 s of warm-up. Server CPU is gateway + classifier + redis-server, "
          "in cores; latency is from the time a window's newest vector left the browser to its prediction arriving "
          "back on the browser's socket.", "",
          f"Baseline, same run: one camera through capture and a keypoint worker (MediaPipe) made "
          f"{baseline['keypoint_fps']} keypoint frames a second on {baseline['server_cores']} cores "
          f"({json.dumps(baseline['cores'])}); at {FPS:g} fps that is **{per_worker_camera:.3f} cores per camera**; "
          f"capture-to-prediction latency p50 {baseline['latency_ms_p50']} ms, p95 {baseline['latency_ms_p95']} ms.", "",
          "| browser cameras | server cores | per camera | cheaper than a worker camera | vectors sent /camera/s "
          "| predictions /camera/s | latency p50 / p95 ms | browsers' process cores | errors |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = per_worker_camera / r["server_cores_per_camera"] if r["server_cores_per_camera"] else float("inf")
        md.append(f"| {r['cameras']} | {r['server_cores']} | {r['server_cores_per_camera']:.4f} | {ratio:.0f}x | "
                  f"{r['sent_per_camera_per_s']} | {r['predictions_per_camera_per_s']} | {r['latency_ms_p50']} / "
                  f"{r['latency_ms_p95']} | {r['cores']['browsers']} | {r['error_count']} |")
    write_results("browser_scale", {"clip": CLIP, "fps": FPS, "seconds": args.seconds, "baseline": baseline,
                                    "worker_camera_cores_at_15fps": round(per_worker_camera, 3), "rows": rows}, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
