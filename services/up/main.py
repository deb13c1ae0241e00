"""`signstream up`: Redis, capture per camera, keypoint workers; detections printed live.

Ctrl-C (or SIGTERM) stops the services in order and then the embedded Redis.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence

from services.up.console import Console
from services.up.redis_server import RedisServer
from services.up.settings import UpSettings
from services.up.supervisor import Supervisor
from shared import local_deployment
from shared.errors import EXIT_OK, ConfigError, RedisUnreachable
from shared.keys import unique_camera_id
from shared.lifecycle import install_stop_signals
from shared.logs import setup_logging
from shared.model_store import ModelStore
from shared.redis_client import CONNECTION_ERRORS, auth_error, check_connection, connect, is_outage, redact_url, scrub

log = logging.getLogger("signstream.up")


def main(argv: Sequence[str], prog: str = "signstream up") -> int:
    settings = load(argv, prog)
    setup_logging(settings.log_level, "up")
    stop = threading.Event()
    install_stop_signals(stop)

    embedded = None
    url = settings.redis_url
    if url is None:
        embedded = RedisServer(settings.data_dir / "redis", persist=True)
        embedded.start()
        url = embedded.url
        log.info("embedded redis-server on %s, data in %s", redact_url(url), embedded.workdir)
        announced = local_deployment.announce(settings.data_dir, url)  # `signstream stats` run here finds it
    else:
        # Credentials Redis refuses end `up` now (exit code 3), before any service meets them;
        # an unreachable Redis is waited for, by the services and by us.
        client = connect(url)
        try:
            check_connection(client, url)
        except RedisUnreachable as e:
            log.warning("%s; the services wait for it", e)
        finally:
            client.close()
    env = dict(os.environ, REDIS_URL=url, SIGNSTREAM_NAMESPACE=settings.namespace)
    # The terminal belongs to detections and status lines; the services speak up only for problems,
    # unless a log level was asked for.
    env.setdefault("SIGNSTREAM_LOG_LEVEL", "WARNING")
    # The C++ libraries' own lines are shown only to someone debugging.
    supervisor = Supervisor(env, quiet_native=env["SIGNSTREAM_LOG_LEVEL"].upper() != "DEBUG")
    try:
        return run(settings, url, supervisor, stop)
    finally:
        supervisor.stop_all()
        if embedded:
            announced.unlink(missing_ok=True)
            embedded.stop()
        log.info("all stopped")


def load(argv: Sequence[str], prog: str) -> UpSettings:
    from shared.settings import load_settings

    settings = load_settings(UpSettings, argv, prog)
    if not settings.camera:
        raise ConfigError("no camera given: pass --camera SOURCE (a camera index, video file, URL or image folder)")
    return settings


def start_gateway(settings: UpSettings, supervisor: Supervisor) -> str | None:
    """The dashboard and API on loopback, unless turned off or its port is taken (then said, and skipped:
    a dashboard is no reason to stop recognising signs)."""
    if not settings.gateway_port:
        return None
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", settings.gateway_port))
        except OSError:
            log.warning("port %d is taken: no dashboard this time; pass --gateway-port with a free one",
                        settings.gateway_port)
            return None
    args = ["gateway", "--host", "127.0.0.1", "--port", str(settings.gateway_port)]
    if settings.bootstrap_data is not None:
        args += ["--train-data", str(settings.bootstrap_data.resolve())]
    supervisor.start("gateway", *args)
    return f"http://127.0.0.1:{settings.gateway_port}/"


def run(settings: UpSettings, url: str, supervisor: Supervisor, stop: threading.Event) -> int:
    taken: set[str] = set()
    for source in settings.camera:
        cam = unique_camera_id(source, taken)
        args = ["capture", "--source", source, "--camera", cam, "--fps", str(settings.fps)]
        if settings.loop:
            args.append("--loop")
        supervisor.start(f"capture[{cam}]", *args)
    for i in range(settings.keypoint_workers):
        supervisor.start(f"keypoints[{i}]", "keypoints")
    supervisor.start("classifier", "classifier", "--models-dir", str(settings.models_dir),
                     "--stride", str(settings.stride))
    unknown = [arg for path in settings.unknown_data for arg in ("--unknown", str(path.resolve()))]
    # Train requests may name the data this run was given, and nothing else on this machine.
    roots = [arg for path in ([settings.bootstrap_data] if settings.bootstrap_data else [])
             for arg in ("--data-root", str(path.resolve()))]
    supervisor.start("trainer", "trainer", "--models-dir", str(settings.models_dir), *unknown, *roots)
    dashboard = start_gateway(settings, supervisor)
    if settings.bootstrap_data is not None and ModelStore(settings.models_dir).current() is None:
        log.info("no model in %s yet: training one on %s (%d epochs); the classifier starts serving it when done",
                 settings.models_dir, settings.bootstrap_data, settings.bootstrap_epochs)
        supervisor.start("first training", "train", "--data", str(settings.bootstrap_data), "--models-dir",
                         str(settings.models_dir), "--epochs", str(settings.bootstrap_epochs),
                         "--min-accuracy", "0.6", *unknown).restart_on_failure = False

    console = Console(connect(url), settings.keys)
    print(f"signstream is up: {len(settings.camera)} camera(s), {settings.keypoint_workers} keypoint worker(s)"
          f"{f'; dashboard {dashboard}, a browser as a camera {dashboard}camera' if dashboard else ''}; "
          "Ctrl-C stops it", flush=True)
    next_status = time.monotonic() + settings.status_every_s
    while not stop.is_set():
        reason = supervisor.check()
        if reason:
            log.error("%s; stopping everything", reason)
            return supervisor.exit_code
        if supervisor.all_finished():
            log.info("every service finished")
            return EXIT_OK
        try:
            console.detections(block_ms=500)
            if time.monotonic() >= next_status:
                console.status()
                next_status = time.monotonic() + settings.status_every_s
        except CONNECTION_ERRORS as e:
            if not is_outage(e):
                raise auth_error(e, url) from e
            log.warning("redis at %s unreachable (%s); the services wait for it, retrying in 1 s", redact_url(url),
                        scrub(str(e), url))
            stop.wait(1.0)
    return EXIT_OK
