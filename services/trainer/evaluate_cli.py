"""`signstream evaluate --model DIR --data PATH`: accuracy and confusion matrix of a model on a data set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.classifier.serving import MODEL_FILE, read_labels
from services.trainer.data import load_data
from services.trainer.metrics import confusion_table, scores
from services.trainer.training import predict_labels
from services.trainer.versions import ModelStore
from shared.errors import ModelError
from shared.settings import CommonSettings, load_settings


class EvaluateSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNSTREAM_EVALUATE_")

    model: str = Field("current", description="a version directory, a version name in --models-dir, or 'current'")
    models_dir: Path = Field(Path("models"), description="where versions live")
    data: list[Path] = Field(..., description="MP_DATA folder, signer .npz file or folder of them; repeat for more")


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

    import services.trainer.layers  # noqa: F401  (registers the layers saved models may use)

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


def main(argv: Sequence[str], prog: str = "signstream evaluate") -> int:
    settings = load_settings(EvaluateSettings, argv, prog)
    model_dir = resolve_model(settings.model, settings.models_dir)
    data = load_data(settings.data)
    result = evaluate(model_dir, data)
    print(f"model {model_dir.name}: accuracy {result['accuracy']:.3f} on {result['n']} sequences")
    print(confusion_table(result))
    return 0
