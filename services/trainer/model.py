"""Model architectures over (30, 1662) keypoint windows.

The default is `gru` with body normalisation and augmentation: it won the leave-signers-out
comparison (bench/results/generalisation.md: mean accuracy on unseen signers 0.735 against the
recipe's 0.510). The recipe's network, trained the recipe's way, is `--arch recipe`.
"""

from __future__ import annotations

from shared.codec import VECTOR_SIZE, WINDOW

ARCHITECTURES = ("gru", "recipe")


def resolve_training(recipe_way: bool, arch: str, normalise: bool, augment: bool) -> tuple[str, bool, bool]:
    """(arch, normalise, augment); `recipe_way` is the notebook exactly: its network, raw keypoints, no augmentation."""
    return ("recipe", False, False) if recipe_way else (arch, normalise, augment)


def recipe(n_labels: int):
    """The recipe's network, exactly: LSTM 64-128-64 relu, Dense 64, 32, softmax (596,741 weights at 5 labels)."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((WINDOW, VECTOR_SIZE)),
        layers.LSTM(64, return_sequences=True, activation="relu"),
        layers.LSTM(128, return_sequences=True, activation="relu"),
        layers.LSTM(64, return_sequences=False, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(n_labels, activation="softmax"),
    ], name="recipe")


def gru(n_labels: int):
    """A per-frame projection and two tanh GRUs: learns steadily where the relu LSTM often collapses."""
    import keras
    from keras import layers

    inputs = keras.Input((WINDOW, VECTOR_SIZE))
    x = layers.Dense(128, activation="relu")(inputs)
    x = layers.Dropout(0.3)(x)
    x = layers.GRU(64, return_sequences=True)(x)
    x = layers.GRU(64)(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_labels, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="gru")


def with_normalisation(network):
    """The same network behind BodyNormalization: still 1662 raw floats in, so the classifier serves it as is."""
    import keras

    from services.trainer.layers import BodyNormalization

    inputs = keras.Input((WINDOW, VECTOR_SIZE))
    return keras.Model(inputs, network(BodyNormalization()(inputs)), name=f"normalised_{network.name}")


def build_model(arch: str, n_labels: int, learning_rate: float = 1e-3, normalise: bool = False):
    import keras

    builders = {"recipe": recipe, "gru": gru}
    if arch not in builders:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(builders)}")
    model = builders[arch](n_labels)
    if normalise:
        model = with_normalisation(model)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["categorical_accuracy"])
    return model
