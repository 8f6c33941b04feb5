"""Build functions for the stream tests, importable by worker processes.

`toon_build` is written the way the ToonVision article writes its model: a
`keras.Sequential` with no `Input` (Keras builds it on the first batch) and
`SparseCategoricalAccuracy` as its metric. The article's `Rescaling(1/255)` first
layer is left out: tunekit's image folders are already divided by 255 (the check
before training refuses the model that would scale them twice).
"""

from __future__ import annotations

import keras
import keras_tuner as kt

NUM_CLASSES = 3


def toon_build(hp: kt.HyperParameters) -> keras.Model:
    """A small lazily built CNN in the ToonVision article's style (3 classes)."""
    model = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal"),
            keras.layers.Conv2D(hp.Int("filters", 4, 8, step=4), 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model


def dense_build(hp: kt.HyperParameters) -> keras.Model:
    """A lazily built dense classifier of 3 classes, for tabular streams."""
    model = keras.Sequential(
        [
            keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 3e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
