"""Model architectures over (30, 1662) keypoint windows. The default is the recipe's network."""

from __future__ import annotations

from shared.codec import VECTOR_SIZE, WINDOW

ARCHITECTURES = ("recipe", "norm-gru")


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


def norm_gru(n_labels: int):
    """Body-relative keypoints, a per-frame projection, two tanh GRUs: learns steadily where the
    relu LSTM often collapses, and generalises better to signers it has not seen."""
    import keras
    from keras import layers

    from services.trainer.layers import BodyNormalization

    inputs = keras.Input((WINDOW, VECTOR_SIZE))
    x = BodyNormalization()(inputs)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    x = layers.GRU(64, return_sequences=True)(x)
    x = layers.GRU(64)(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_labels, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="norm_gru")


def build_model(arch: str, n_labels: int, learning_rate: float = 1e-3):
    import keras

    builders = {"recipe": recipe, "norm-gru": norm_gru}
    if arch not in builders:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(builders)}")
    model = builders[arch](n_labels)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["categorical_accuracy"])
    return model
