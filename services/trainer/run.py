"""One training run as the trainer does it, for `signstream train` and the trainer service alike:
the options from settings, the data to train on, training, and promotion when the model passes."""

from __future__ import annotations

import logging
from pathlib import Path

from services.trainer.data import Dataset, load_data, refuse_faceless, with_unknown
from services.trainer.promotion import promote
from services.trainer.settings import TrainerSettings
from services.trainer.training import EpochHook, TrainOptions, TrainOutcome, train
from shared.model_store import ModelStore
from shared.redis_client import CONNECTION_ERRORS, auth_error, connect, is_outage, redact_url

log = logging.getLogger("signstream.train")


def options_from(settings: TrainerSettings) -> TrainOptions:
    return TrainOptions(**settings.model_choices(), epochs=settings.epochs, batch_size=settings.batch_size,
                        learning_rate=settings.learning_rate, val_fraction=settings.val_fraction,
                        patience=settings.patience, seed=settings.seed, min_accuracy=settings.min_accuracy,
                        audit_epochs=settings.audit_epochs)


def training_data(settings: TrainerSettings, paths: list[Path]) -> Dataset:
    """The data a run trains on: `paths`, the `--unknown` recordings, checked against the model's
    use of the face before any training starts."""
    data = with_unknown(load_data(paths, settings.actions or None), settings.unknown, settings.idle, settings.seed)
    refuse_faceless(data, settings.model_choices()["face"])
    if not settings.unknown:
        log.warning("no --unknown recordings: this model will name one of %s for every window, signing or not; "
                    "pass --unknown with recordings of other signs (../shared/datasets/other_signs, or your own) "
                    "so that it says `unknown` instead", ", ".join(data.labels))
    return data


def train_and_promote(settings: TrainerSettings, data, verbose: int | None = None,
                      on_epoch: EpochHook | None = None) -> tuple[TrainOutcome, bool]:
    """Train on loaded data; promote when accepted. Returns the outcome and whether it was promoted."""
    store = ModelStore(settings.models_dir)
    outcome = train(data, options_from(settings), store, verbose=verbose, on_epoch=on_epoch)
    if not outcome.verdict.accepted:
        return outcome, False
    client = None
    if settings.announce:
        client = connect(settings.redis_url)
        try:
            client.ping()
        except CONNECTION_ERRORS as e:
            if not is_outage(e):
                raise auth_error(e, settings.redis_url) from None
            log.warning("redis at %s unreachable (%s): %s is current on disk but not announced; "
                        "classifiers pick it up at their next start", redact_url(settings.redis_url), e,
                        outcome.version)
            client = None
    promote(store, outcome.version, outcome.labels, outcome.metrics, client, settings.keys, settings.stream_maxlen)
    return outcome, True
