"""Model architectures over (30, 1662) keypoint windows.

Every model takes the 1662 raw floats per frame that the keypoint workers publish; what it does
with them (drop the face, make points relative to the body) happens in layers inside the model,
so the classifier serves any of them unchanged. The default is `gru` on pose and hands (no
face), body-normalised, trained with augmentation: it won the leave-signers-out comparison
(bench/results/generalisation.md). The recipe's network, trained the recipe's way, is `--recipe`.
"""

from __future__ import annotations

from shared.codec import VECTOR_SIZE, WINDOW

ARCHITECTURES = ("gru", "conv", "transformer", "recipe")


def resolve_training(recipe_way: bool, arch: str, normalise: bool, augment: bool, face: bool, audit: bool) -> dict:
    """Model and data choices; `recipe_way` is the notebook exactly: its network, raw keypoints, all data as given."""
    if recipe_way:
        return {"arch": "recipe", "normalise": False, "augment": False, "face": True, "audit": False}
    return {"arch": arch, "normalise": normalise, "augment": augment, "face": face, "audit": audit}


def recipe(n_labels: int, features: int = VECTOR_SIZE):
    """The recipe's network, exactly: LSTM 64-128-64 relu, Dense 64, 32, softmax (596,741 weights at 5 labels)."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((WINDOW, features)),
        layers.LSTM(64, return_sequences=True, activation="relu"),
        layers.LSTM(128, return_sequences=True, activation="relu"),
        layers.LSTM(64, return_sequences=False, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(n_labels, activation="softmax"),
    ], name="recipe")


def gru(n_labels: int, features: int = VECTOR_SIZE):
    """A per-frame projection and two tanh GRUs: learns steadily where the relu LSTM often collapses."""
    import keras
    from keras import layers

    inputs = keras.Input((WINDOW, features))
    x = layers.Dense(128, activation="relu")(inputs)
    x = layers.Dropout(0.3)(x)
    x = layers.GRU(64, return_sequences=True)(x)
    x = layers.GRU(64)(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_labels, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="gru")


def conv(n_labels: int, features: int = VECTOR_SIZE):
    """A per-frame projection, then 1D convolutions over time (each sees ~1/3 s), pooled over the window."""
    import keras
    from keras import layers

    inputs = keras.Input((WINDOW, features))
    x = layers.Dense(128, activation="relu")(inputs)
    x = layers.Dropout(0.3)(x)
    for _ in range(3):
        x = layers.Conv1D(128, 5, padding="same", activation="relu")(x)
        x = layers.BatchNormalization()(x)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)])
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_labels, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="conv")


def transformer(n_labels: int, features: int = VECTOR_SIZE, width: int = 64, blocks: int = 2, heads: int = 4):
    """A small transformer encoder: frame projection with learned positions, two pre-norm attention blocks."""
    import keras
    from keras import layers

    from shared.model_layers import FramePosition

    inputs = keras.Input((WINDOW, features))
    x = layers.Dense(width)(inputs)
    x = FramePosition()(x)
    x = layers.Dropout(0.2)(x)
    for _ in range(blocks):
        h = layers.LayerNormalization()(x)
        h = layers.MultiHeadAttention(heads, width // heads, dropout=0.1)(h, h)
        x = layers.Add()([x, h])
        h = layers.LayerNormalization()(x)
        h = layers.Dense(width * 2, activation="gelu")(h)
        h = layers.Dense(width)(h)
        x = layers.Add()([x, h])
    x = layers.LayerNormalization()(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_labels, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="transformer")


BUILDERS = {"recipe": recipe, "gru": gru, "conv": conv, "transformer": transformer}


def build_model(arch: str, n_labels: int, learning_rate: float = 1e-3, normalise: bool = False, face: bool = True):
    """The network for `arch`, behind the chosen input layers; 1662 raw floats per frame in, always."""
    import keras

    from shared.model_layers import BodyNormalization, DropFace

    if arch not in BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(BUILDERS)}")
    if face and not normalise:
        model = BUILDERS[arch](n_labels)
    else:
        inputs = keras.Input((WINDOW, VECTOR_SIZE))
        x = inputs if face else DropFace()(inputs)
        if normalise:
            x = BodyNormalization()(x)
        network = BUILDERS[arch](n_labels, x.shape[-1])
        prefix = "".join(name for name, chosen in [("normalised_", normalise), ("noface_", not face)] if chosen)
        model = keras.Model(inputs, network(x), name=prefix + network.name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["categorical_accuracy"])
    return model
