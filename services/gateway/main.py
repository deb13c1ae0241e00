"""`signstream gateway`: the HTTP API, live streams, metrics and dashboard of a deployment."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import redis

from services.gateway.readers import check_access
from services.gateway.settings import GatewaySettings
from shared.errors import EXIT_OK
from shared.lifecycle import install_stop_signals
from shared.logs import default_worker_id, setup_logging
from shared.redis_client import auth_error, check_connection, connect, is_auth_error
from shared.settings import load_settings

log = logging.getLogger("signstream.gateway")


def main(argv: Sequence[str], prog: str = "signstream gateway") -> int:
    settings = load_settings(GatewaySettings, argv, prog)
    token = settings.resolved_token()  # before anything listens: an open port without one is refused
    tls = settings.tls_files()
    setup_logging(settings.log_level, default_worker_id("gateway"))
    stop = threading.Event()
    install_stop_signals(stop, "the shutdown")
    client = connect(settings.redis_url)
    if not check_connection(client, settings.redis_url, stop=stop, what="starting the gateway"):
        return EXIT_OK
    try:
        check_access(client, settings.keys)
    except redis.RedisError as e:
        if is_auth_error(e):  # a user without the rights: no retry will give them (exit 3)
            raise auth_error(e, settings.redis_url) from e
        raise
    finally:
        client.close()

    import uvicorn

    from services.gateway.app import create_app

    app = create_app(settings, token)
    # Uvicorn logs each WebSocket it accepts with its query string, which may carry the token.
    logging.getLogger("uvicorn.error").addFilter(lambda record: '"WebSocket ' not in str(record.msg))
    # No access log: a query string may carry the token. Uvicorn takes over SIGINT and SIGTERM here,
    # and gives open live streams 2 s to end.
    config = uvicorn.Config(app, host=settings.host, port=settings.port, access_log=False, log_config=None,
                            timeout_graceful_shutdown=2, lifespan="on",
                            # Keypoints are float32 that barely compress; inflating them was 5% of the
                            # gateway's time with 50 browser cameras (bench/results/browser_scale.md).
                            ws_per_message_deflate=False, **tls)
    log.info("gateway on %s://%s:%d (dashboard /, browser camera /camera, API spec /openapi.json, metrics /metrics)%s",
             "https" if tls else "http", settings.host, settings.port,
             "; every request needs the token" if token else "; loopback only, no token")

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            # Live streams never end by themselves: end them first, so that uvicorn's wait for open
            # connections is short and cancels nothing mid-write.
            for hub in app.state.hubs.values():
                hub.close_all()
            super().handle_exit(sig, frame)

    Server(config).run()
    log.info("gateway stopped")
    return EXIT_OK
