"""A stream's labels and the model's loss agree on their form, checked before training.

Found by a probe: arrays of one-hot rows under a sparse cross-entropy (or class ids
under a categorical one) were refused before training, but the same labels in a stream
failed every trial after training; one-hot rows on one sigmoid unit, and class weights
beside the stream's own sample weights, too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import BAYES_BUDGET

from tunekit import CoarseToFine
from tunekit.data import StreamData
from tunekit.errors import DataError, ModelCheckError, OutputShapeError

_RNG = np.random.default_rng(0)
_X = {split: _RNG.normal(size=(48, 6)).astype("float32") for split in ("train", "val", "test")}
_IDS = {split: np.arange(48) % 3 for split in _X}


def _streams(y: dict[str, Any], weights: bool = False) -> list[tf.data.Dataset]:
    parts = {s: (_X[s], y[s]) + ((np.ones(48, "float32"),) if weights else ()) for s in _X}
    return [tf.data.Dataset.from_tensor_slices(parts[s]).batch(16) for s in _X]


def _build(units: int, loss: str, activation: str = "softmax") -> Any:
    def build(hp: Any) -> keras.Model:
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("hidden", 4, 8)),
                keras.layers.Dense(units, activation=activation),
            ]
        )
        model.compile("adam", loss, metrics=["accuracy"])
        return model

    return build


def _refused_before_training(tmp_path: Path, build: Any, data: StreamData, error: type) -> str:
    run = CoarseToFine(build, data, directory=tmp_path, project_name="p", **BAYES_BUDGET)
    with pytest.raises(error) as caught:
        run.run()
    run.close()
    assert not list(tmp_path.rglob("trial.json"))  # nothing trained
    return str(caught.value)


@pytest.mark.parametrize(
    ("one_hot", "loss", "said"),
    [
        (True, "sparse_categorical_crossentropy", "the labels are one-hot rows"),
        (False, "categorical_crossentropy", "but the labels are class ids"),
    ],
)
def test_a_loss_of_the_other_label_form_is_refused_before_training(
    tmp_path: Path, one_hot: bool, loss: str, said: str
) -> None:
    y = {s: keras.utils.to_categorical(ids, 3) if one_hot else ids for s, ids in _IDS.items()}
    data = StreamData(*_streams(y), fingerprint="forms", task="classification")
    message = _refused_before_training(tmp_path, _build(3, loss), data, ModelCheckError)
    assert said in message and "Compile it with" in message


def test_a_dict_outputs_loss_of_the_other_label_form_is_refused_by_name(tmp_path: Path) -> None:
    y = {s: {"kind": keras.utils.to_categorical(ids, 3)} for s, ids in _IDS.items()}
    data = StreamData(*_streams(y), fingerprint="dict-forms", task="classification")

    def build(hp: Any) -> keras.Model:
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(hp.Int("hidden", 4, 8))(inputs)
        kind = keras.layers.Dense(3, activation="softmax", name="kind")(hidden)
        model = keras.Model(inputs, {"kind": kind})
        model.compile("adam", {"kind": "sparse_categorical_crossentropy"})
        return model

    message = _refused_before_training(tmp_path, build, data, ModelCheckError)
    assert "output 'kind' compiled with a sparse categorical cross-entropy" in message
    assert "its labels are one-hot rows" in message


def test_one_hot_rows_give_the_number_of_classes_and_a_one_unit_output_is_refused(
    tmp_path: Path,
) -> None:
    y = {s: keras.utils.to_categorical(ids, 3) for s, ids in _IDS.items()}
    data = StreamData(*_streams(y), fingerprint="one-hot", task="classification")
    assert data.num_classes == 3 and data.class_names == ["0", "1", "2"]
    assert "3 classes" in data.summary()
    build = _build(1, "binary_crossentropy", activation="sigmoid")
    message = _refused_before_training(tmp_path, build, data, OutputShapeError)
    assert "outputs 1 unit per sample but the data has 3 classes" in message


def test_class_weights_beside_the_streams_sample_weights_are_refused(tmp_path: Path) -> None:
    data = StreamData(*_streams(_IDS, weights=True), fingerprint="weighted", num_classes=3)
    with pytest.raises(DataError, match=r"hold sample weights .* Fold the class weights"):
        CoarseToFine(
            _build(3, "sparse_categorical_crossentropy"),
            data,
            directory=tmp_path,
            class_weight={0: 2.0},
            **BAYES_BUDGET,
        )
    assert not list(tmp_path.rglob("trial.json"))
