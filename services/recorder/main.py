"""`signstream collect --camera C --action hello --sequences 30`: record MP_DATA from a running pipeline."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from services.recorder.recording import Recorder, collect
from services.recorder.settings import CollectSettings
from shared.errors import EXIT_OK
from shared.lifecycle import install_stop_signals
from shared.logs import setup_logging
from shared.redis_client import connect
from shared.settings import load_settings


def main(argv: Sequence[str], prog: str = "signstream collect") -> int:
    settings = load_settings(CollectSettings, argv, prog)
    setup_logging(settings.log_level, "collect")
    stop = threading.Event()
    install_stop_signals(stop)
    recorder = Recorder(connect(settings.redis_url), settings.keys, settings.camera, settings.gap_wait_ms,
                        settings.timeout_s, stop)
    written = collect(recorder, settings.root, settings.action, settings.sequences, settings.pause_s)
    print(f"recorded {len(written)} sequence(s) of {settings.action!r} into {settings.root / settings.action}",
          flush=True)
    return EXIT_OK
