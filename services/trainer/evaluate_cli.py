"""`signstream evaluate --model DIR --data PATH`: accuracy and confusion matrix of a model on a data set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.trainer.data import load_data
from services.trainer.metrics import confusion_table, scores, scores_from_confusion
from services.trainer.settings import ModelChoices
from services.trainer.training import predict_labels
from shared.errors import ModelError
from shared.model_store import MODEL_FILE, ModelStore, read_labels
from shared.settings import load_settings


class EvaluateSettings(ModelChoices):
    """Model choices (--arch, --recipe, ...) apply with --by-signer: what to train in each fold."""

    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_EVALUATE_")

    model: str = Field("current", description="a version directory, a version name in --models-dir, or 'current'")
    models_dir: Path = Field(Path("models"), description="where versions live")
    data: list[Path] = Field(..., description="MP_DATA folder, signer .npz file or folder of them; repeat for more")
    by_signer: bool = Field(False, description="instead of scoring --model: train and test leave-signers-out, "
                                               "so every signer is scored by models that never saw them")
    folds: int = Field(3, ge=2, description="with --by-signer: groups of signers tested in turn")
    seeds: list[int] = Field(default_factory=lambda: [0], description="with --by-signer: a training per seed and fold")
    epochs: int = Field(40, ge=1, description="with --by-signer: most epochs per training")
    patience: int = Field(10, ge=0, description="with --by-signer: early-stopping patience (0: fixed epochs)")


def resolve_model(spec: str, models_dir: Path) -> Path:
    store = ModelStore(models_dir)
    if spec == "current":
        current = store.current()
        if current is None:
            raise ModelError(f"no current model in {models_dir}: train one with `signstream train`, or pass --model DIR")
        return store.path(current)
    path = Path(spec)
    return path if path.is_dir() else store.path(spec)


def evaluate(model_dir: Path, data) -> dict:
    import keras

    import shared.model_layers  # noqa: F401  (registers the layers saved models may use)

    labels = list(read_labels(model_dir))
    try:
        model = keras.models.load_model(model_dir / MODEL_FILE, compile=False)
    except Exception as e:
        raise ModelError(f"cannot load {model_dir / MODEL_FILE}: {e}") from e
    unknown = sorted(set(data.y.tolist()) - set(labels))
    if unknown:
        raise ModelError(f"the data has actions {unknown} that model {model_dir.name} does not know ({labels})")
    true_idx = np.array([labels.index(v) for v in data.y])
    return scores(true_idx, predict_labels(model, data.X), labels)


def by_signer(settings: EvaluateSettings, data) -> None:
    from services.trainer.generalisation import leave_signers_out
    from services.trainer.training import TrainOptions, keras_fitter

    fitter = keras_fitter(lambda seed: TrainOptions(**settings.model_choices(), epochs=settings.epochs,
                                                    patience=settings.patience, seed=seed))
    report = leave_signers_out(data, fitter, settings.folds, settings.seeds)
    for signer, accuracy in report.per_signer().items():
        print(f"{signer:<24} {accuracy:.3f}")
    worst_signer, worst = report.worst
    spread = ", ".join(f"{seed}: {mean:.3f}" for seed, mean in report.mean_by_seed().items())
    print(f"leave-signers-out: mean {report.mean:.3f} (seeds: {spread}), worst {worst:.3f} ({worst_signer}), "
          f"{report.collapses} of {len(report.folds)} trainings collapsed")
    print("all signers:")
    print(confusion_table(scores_from_confusion(report.confusion(), report.labels)))
    print(f"worst signer, {worst_signer}:")
    print(confusion_table(scores_from_confusion(report.confusion(worst_signer), report.labels)))
    suspects = report.mislabelled()
    if suspects:
        print("recordings that look like another sign:")
        for suspect in suspects:
            print(f"  {suspect}")


def main(argv: Sequence[str], prog: str = "signstream evaluate") -> int:
    settings = load_settings(EvaluateSettings, argv, prog)
    if settings.by_signer:
        by_signer(settings, load_data(settings.data))
        return 0
    model_dir = resolve_model(settings.model, settings.models_dir)
    data = load_data(settings.data)
    result = evaluate(model_dir, data)
    print(f"model {model_dir.name}: accuracy {result['accuracy']:.3f} on {result['n']} sequences")
    print(confusion_table(result))
    return 0
