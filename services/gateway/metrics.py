"""Prometheus metrics for every service, read from the stats each worker keeps in Redis.

Workers already write their counters and timing histograms to `stats:<service>` every few
seconds (shared/stats.py); scraping them here means one target for the whole deployment, however
many keypoint containers run, and no port to open per worker. The gateway adds its own figures:
live clients, entries delivered, clients disconnected for falling behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from services.gateway.browser_camera import BrowserCounters
from services.gateway.live import Hub

NAME = re.compile(r"[^a-zA-Z0-9_]")
HISTOGRAM_HELP = {
    "processing": "time a worker spends on one frame (keypoints) or one window (classifier)",
    "latency": "capture of a window's newest frame to its prediction",
}


def metric_name(*parts: str) -> str:
    return NAME.sub("_", "_".join(("signstream",) + parts))


class PipelineCollector(Collector):
    """Collected at each scrape: `read_stats()` is the stats of every worker, `hubs` the live streams."""

    def __init__(self, read_stats: Callable[[], dict[str, dict[str, dict]]], hubs: dict[str, Hub],
                 read_cameras: Callable[[], list[dict]], browser: BrowserCounters | None = None) -> None:
        self.read_stats = read_stats
        self.hubs = hubs
        self.read_cameras = read_cameras
        self.browser = browser

    def collect(self) -> Iterator:
        counters: dict[str, CounterMetricFamily] = {}
        histograms: dict[str, HistogramMetricFamily] = {}
        model = GaugeMetricFamily("signstream_model_info", "the model version a classifier worker serves (value 1)",
                                  labels=["worker", "version"])
        up = GaugeMetricFamily("signstream_worker_up", "1 while a worker reports, 0 after a clean stop",
                               labels=["service", "worker"])
        for service, workers in self.read_stats().items():
            for worker, snap in workers.items():
                up.add_metric([service, worker], 0.0 if snap.get("stopped") else 1.0)
                if snap.get("info", {}).get("model"):
                    model.add_metric([worker, str(snap["info"]["model"])], 1.0)
                for camera, entry in snap.get("cameras", {}).items():
                    for what, value in entry.items():
                        if what == "histograms_ms":
                            for kind, h in value.items():
                                name = metric_name(service, kind, "seconds")
                                family = histograms.setdefault(name, HistogramMetricFamily(
                                    name, HISTOGRAM_HELP.get(kind, kind), labels=["worker", "camera"]))
                                buckets = [(str(le / 1000), n) for le, n in zip(h["le"], h["buckets"])]
                                family.add_metric([worker, camera], buckets + [("+Inf", h["count"])],
                                                  h["sum"] / 1000)
                        elif isinstance(value, int) and not isinstance(value, bool):
                            name = metric_name(service, what)
                            counters.setdefault(name, CounterMetricFamily(
                                name, f"{what} counted by {service} workers", labels=["worker", "camera"]))
                            counters[name].add_metric([worker, camera], value)
        yield from counters.values()
        yield from histograms.values()
        yield model
        yield up
        cameras = GaugeMetricFamily("signstream_camera_up", "1 while a camera sends frames", labels=["camera"])
        sent = CounterMetricFamily("signstream_capture_frames_sent", "frames a camera published", labels=["camera"])
        for camera in self.read_cameras():
            cameras.add_metric([camera["id"]], 1.0 if camera["up"] else 0.0)
            if isinstance(camera.get("frames_sent"), int):
                sent.add_metric([camera["id"]], camera["frames_sent"])
        yield cameras
        yield sent
        clients = GaugeMetricFamily("signstream_gateway_live_clients", "live stream clients now", labels=["stream"])
        delivered = CounterMetricFamily("signstream_gateway_delivered", "entries sent to live clients",
                                        labels=["stream"])
        overflows = CounterMetricFamily("signstream_gateway_client_overflows",
                                        "live clients disconnected for falling behind", labels=["stream"])
        undecodable = CounterMetricFamily("signstream_gateway_undecodable", "stream entries that did not decode",
                                          labels=["stream"])
        redis_errors = CounterMetricFamily("signstream_gateway_stream_read_errors",
                                           "reads of a live stream that Redis failed (retried)", labels=["stream"])
        for stream, hub in self.hubs.items():
            clients.add_metric([stream], len(hub.subscribers))
            delivered.add_metric([stream], hub.counters.delivered)
            overflows.add_metric([stream], hub.counters.overflows)
            undecodable.add_metric([stream], hub.counters.undecodable)
            redis_errors.add_metric([stream], hub.counters.redis_errors)
        yield from (clients, delivered, overflows, undecodable, redis_errors)
        if self.browser is not None:
            vectors = CounterMetricFamily("signstream_gateway_browser_vectors", "keypoint vectors browser cameras sent",
                                          labels=["outcome"])
            vectors.add_metric(["accepted"], self.browser.accepted)
            vectors.add_metric(["refused"], self.browser.refused)
            vectors.add_metric(["too_fast"], self.browser.too_fast)
            closed = CounterMetricFamily("signstream_gateway_browser_closed", "browser camera connections closed "
                                         "by the gateway, by close code", labels=["code"])
            for code, n in sorted(self.browser.closed.items()):
                closed.add_metric([str(code)], n)
            yield from (vectors, closed)
