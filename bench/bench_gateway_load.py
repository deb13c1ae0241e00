"""Does watching slow the pipeline? 200 live clients on the gateway, some never reading.

Runs the real pipeline (capture of looping real clips, one keypoint worker, the classifier with
the shipped model) and the gateway on loopback, then measures three phases of equal length:
before any client, during (`--clients` live stream clients in a separate process, `--stalled` of
them never reading a byte), and after they leave. Per phase: frames per second out of the
keypoint workers, predictions per second, capture-to-prediction latency, CPU of each process;
during: what every reading client received against what was published, and the gateway's
counters (clients cut off for falling behind).

    python bench/bench_gateway_load.py [--clients 200] [--stalled 50] [--seconds 40]
Writes bench/results/gateway_load.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import redis  # noqa: E402
from common import SHARED, Services, cpu_seconds, machine, start_redis, write_results

from services.up.redis_server import free_port  # noqa: E402
from shared.keys import Keys  # noqa: E402

NAMESPACE = "bench:"
CLIPS = ["kiri_hello.mp4", "bisig_thanks.mp4"]


async def client(url: str, counts: list[int], index: int, stop: asyncio.Event, stalled: bool) -> None:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    if stalled:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET /api/events/predictions HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    if stalled:
        await stop.wait()
    else:
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 0.5)
            except asyncio.TimeoutError:
                continue
            if not chunk:
                break
            counts[index] += chunk.count(b"\nevent: prediction\n")
    writer.close()


async def clients_main(url: str, reading: int, stalled: int, seconds: float) -> dict:
    counts = [0] * reading
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client(url, counts, i, stop, False)) for i in range(reading)]
    tasks += [asyncio.create_task(client(url, [0], 0, stop, True)) for _ in range(stalled)]
    await asyncio.sleep(seconds)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, Exception)]
    return {"received": counts, "errors": errors[:5], "error_count": len(errors)}


def phase(col_client: redis.Redis, keys: Keys, pids: dict[str, int], seconds: float, cameras: list[str]) -> dict:
    cpu0, t0 = cpu_seconds(pids), int(time.time() * 1000)
    time.sleep(seconds)
    cpu1, t1 = cpu_seconds(pids), int(time.time() * 1000)
    span_s = (t1 - t0) / 1000
    fps = {cam: len(col_client.xrange(keys.keypoints(cam), min=t0, max=t1)) / span_s for cam in cameras}
    predictions = col_client.xrange(keys.predictions, min=t0, max=t1)
    latencies = [float(f[b"latency_ms"]) for _, f in predictions]
    return {
        "seconds": round(span_s, 1),
        "keypoint_fps": {c: round(v, 2) for c, v in fps.items()},
        "keypoint_fps_total": round(sum(fps.values()), 2),
        "predictions_per_s": round(len(predictions) / span_s, 2),
        "predictions": len(predictions),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
        "cpu_percent": {name: round((cpu1[name] - cpu0[name]) / span_s * 100, 1) for name in pids},
    }


def gateway_counters(url: str) -> dict:
    out = {}
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("signstream_gateway_") and 'stream="predictions"' in line:
            out[line.split("{")[0]] = float(line.split()[-1])
    return out


def markdown(result: dict) -> list[str]:
    b, d, a = (result["phases"][k] for k in ("before", "during", "after"))
    load = result["load"]
    received = load["received"]
    lines = [
        f"# The gateway under 200 live clients ({result['date'][:10]}; {result['machine']})", "",
        f"The pipeline (capture of {len(result['cameras'])} looping clips at {result['fps']} fps, one keypoint worker, the "
        f"classifier with the shipped model) and the gateway on loopback; {result['seconds']} s per phase. During: "
        f"{load['reading']} clients reading `/api/events/predictions` and {load['stalled']} that connect and never "
        "read a byte, in a separate process. Same run, same machine: compare the phases by their ratio.", "",
        "| phase | keypoint frames/s (all cameras) | ratio to before | predictions/s | latency p50 / p95 ms "
        "| CPU % keypoints / classifier / gateway / clients |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, p in (("before", b), ("during", d), ("after", a)):
        cpu = p["cpu_percent"]
        lines.append(f"| {name} | {p['keypoint_fps_total']} | {p['keypoint_fps_total'] / b['keypoint_fps_total']:.3f} | "
                     f"{p['predictions_per_s']} | {p['latency_ms_p50']} / {p['latency_ms_p95']} | "
                     f"{cpu.get('keypoints')} / {cpu.get('classifier')} / {cpu.get('gateway')} / "
                     f"{cpu.get('clients', '-')} |")
    published = load["published_during"]
    lines += [
        "",
        f"Reading clients: {len(received)}; each received between {min(received)} and {max(received)} predictions "
        f"(median {int(np.median(received))}) of the {published} published while all were connected "
        f"(the window is a little longer than the measured phase). Connection errors: {load['error_count']}.",
        f"Gateway counters after the run: {json.dumps(result['gateway_counters'])} "
        "(client_overflows: clients cut off for falling behind).",
        f"Live clients one phase after they all left: "
        f"{result['gateway_counters_at_end'].get('signstream_gateway_live_clients')}.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--stalled", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--fps", type=float, default=15)
    parser.add_argument("--load-process", nargs=4, metavar=("URL", "READING", "STALLED", "SECONDS"),
                        help=argparse.SUPPRESS)  # the client process the bench starts
    args = parser.parse_args()
    if args.load_process:
        url, reading, stalled, seconds = args.load_process
        print(json.dumps(asyncio.run(clients_main(url, int(reading), int(stalled), float(seconds)))))
        return

    server = start_redis()
    logdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    services = Services(server.url, logdir, NAMESPACE)
    keys = Keys(NAMESPACE)
    cameras = [Path(c).stem for c in CLIPS]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        for clip in CLIPS:
            services.start(f"capture-{Path(clip).stem}", "capture", "capture", "--source", str(SHARED / "videos" / clip),
                           "--camera", Path(clip).stem, "--fps", str(args.fps), "--loop")
        services.start("keypoints", "keypoints", "keypoints")
        services.start("classifier", "classifier", "classifier", "--models-dir", str(logdir / "models"))
        services.start("gateway", "gateway", "gateway", "--port", str(port))
        client = redis.Redis.from_url(server.url)
        deadline = time.monotonic() + 180
        while {f[b"camera"].decode() for _, f in client.xrevrange(keys.predictions, count=50)} != set(cameras):
            services.check()
            if time.monotonic() > deadline:
                raise RuntimeError("no predictions for every camera within 180 s:\n" + services.tail("classifier"))
            time.sleep(1)
        time.sleep(10)  # past MediaPipe's and TensorFlow's first calls
        pids = {name: proc.pid for name, proc in services.procs.items() if not name.startswith("capture")}
        print("measuring: before", flush=True)
        before = phase(client, keys, pids, args.seconds, cameras)
        print(before, flush=True)

        reading = args.clients - args.stalled
        t_start = int(time.time() * 1000)
        load = subprocess.Popen([sys.executable, __file__, "--load-process", url, str(reading), str(args.stalled),
                                 str(args.seconds + 8)], stdout=subprocess.PIPE, text=True)
        time.sleep(4)  # every client connected
        live = httpx.get(url + "/metrics", timeout=10).text
        print([line for line in live.splitlines() if line.startswith("signstream_gateway_live_clients")], flush=True)
        print("measuring: during", flush=True)
        during = phase(client, keys, {**pids, "clients": load.pid}, args.seconds, cameras)
        print(during, flush=True)
        out, _ = load.communicate(timeout=120)
        t_end = int(time.time() * 1000)
        load_result = json.loads(out.strip().splitlines()[-1])
        load_result.update(reading=reading, stalled=args.stalled,
                           published_during=len(client.xrange(keys.predictions, min=t_start, max=t_end)))
        counters = gateway_counters(url)
        time.sleep(2)
        print("measuring: after", flush=True)
        after = phase(client, keys, pids, args.seconds, cameras)
        print(after, flush=True)
        at_end = gateway_counters(url)  # the clients left a phase ago: nothing of them should remain
        services.check()
    finally:
        services.stop()
        server.stop()
    result = {"cameras": cameras, "fps": args.fps, "seconds": args.seconds, "clients": args.clients,
              "phases": {"before": before, "during": during, "after": after}, "load": load_result,
              "gateway_counters": counters, "gateway_counters_at_end": at_end}
    lines = markdown({"date": time.strftime("%Y-%m-%d"), "machine": machine(), **result})
    write_results("gateway_load", result, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
