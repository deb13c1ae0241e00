"""`signstream train --data PATH`: train, write a version, promote it if it passes the check."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.trainer.run import options_from, train_and_promote, training_data
from services.trainer.settings import TrainCommandSettings
from shared.errors import EXIT_ERROR, EXIT_OK
from shared.logs import setup_logging
from shared.settings import load_settings

log = logging.getLogger("signstream.train")


def main(argv: Sequence[str], prog: str = "signstream train") -> int:
    settings = load_settings(TrainCommandSettings, argv, prog)
    setup_logging(settings.log_level, "train")
    data = training_data(settings, settings.data)
    options = options_from(settings)
    log.info("training %s (normalise %s, augment %s, face %s) on %d sequences %s", options.arch, options.normalise,
             options.augment, options.face, len(data.y), data.counts())
    outcome, promoted = train_and_promote(settings, data)
    m = outcome.metrics
    print(f"{outcome.version}: validation accuracy {m['accuracy']:.3f} on {m['n']} sequences, "
          f"{m['epochs_run']} epochs at {m['seconds_per_epoch']:.2f} s; "
          + ("promoted" if promoted else f"not promoted: {outcome.verdict.reason}") + f" ({outcome.path})",
          flush=True)
    return EXIT_OK if promoted else EXIT_ERROR
