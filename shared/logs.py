"""Log setup: one line per event, with the service and worker id in each line."""

from __future__ import annotations

import logging
import os
import socket


def default_worker_id(service: str) -> str:
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


def setup_logging(level: str, worker: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s {worker} %(name)s: %(message)s",
        force=True,
    )
    # MediaPipe, TensorFlow and absl talk a lot at INFO; their warnings still come through.
    for noisy in ("absl", "tensorflow", "h5py", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
