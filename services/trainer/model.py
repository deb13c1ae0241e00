"""Model architectures over (30, 1662) keypoint windows. The default is the recipe's network."""

from __future__ import annotations

from shared.codec import VECTOR_SIZE, WINDOW

ARCHITECTURES = ("recipe",)


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


def build_model(arch: str, n_labels: int, learning_rate: float = 1e-3):
    import keras

    builders = {"recipe": recipe}
    if arch not in builders:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(builders)}")
    model = builders[arch](n_labels)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["categorical_accuracy"])
    return model
