"""Every build tunekit's checks make with the defaults refuses a raising build the same way.

Before: a build that raised only from its second call (a layer held by the hypermodel with
an automatic name, called again in each build: 'The name "dense" is used 2 times') passed
the model check's build and escaped the next check's (`declared_space`, the check of
`hyperparameters=`, of `max_model_size`) as a raw `ValueError`; the same build raising on
its first call was a `ModelCheckError` naming the line.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit.data import Dataset
from tunekit.errors import ModelCheckError


class SecondCall(kt.HyperModel):
    """Builds once; raises from its second build on."""

    def __init__(self) -> None:
        super().__init__()
        self._n = 0

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        self._n += 1
        units = hp.Int("units", 2, 4, step=2)
        if self._n > 1:
            raise ValueError("built twice")
        inputs = keras.Input((8,))
        model = keras.Model(inputs, keras.layers.Dense(units, activation="softmax")(inputs))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


class HeldDense(kt.HyperModel):
    """The new user's: a held layer with an automatic name, reused in each build."""

    def __init__(self) -> None:
        super().__init__()
        self._feat = keras.layers.Dense(4, activation="relu")

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        inputs = keras.Input((8,))
        x = keras.layers.Dense(hp.Int("units", 2, 4, step=2))(self._feat(inputs))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


REFUSAL = r"`hypermodel`'s build raised ValueError: .* when built with its default hyper"


def _built_once() -> SecondCall:
    hypermodel = SecondCall()
    hypermodel.build(kt.HyperParameters())
    return hypermodel


def test_each_check_refuses_a_build_that_raises_from_its_second_call():
    from tunekit.steps.check import declared_space
    from tunekit.steps.space_checks import check_user_space
    from tunekit.tuners.size_check import check_size_limit

    with pytest.raises(
        ModelCheckError, match=r"built twice \(at test_default_builds.py:\d+\) when built"
    ):
        declared_space(_built_once())
    given = kt.HyperParameters()
    given.Int("units", 2, 4, step=2)
    with pytest.raises(ModelCheckError, match=REFUSAL):
        check_user_space(_built_once(), given, tune_new_entries=True, allow_new_entries=True)
    with pytest.raises(ModelCheckError, match=REFUSAL):
        check_size_limit(_built_once(), 10**6)


@pytest.mark.parametrize("kind", [SecondCall, HeldDense])
def test_a_run_refuses_it_before_any_trial(kind, tmp_path):
    from tunekit import CoarseToFine

    x = np.random.default_rng(0).random((32, 8), dtype=np.float32)
    data = Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int))
    run = CoarseToFine(kind(), data, directory=tmp_path, project_name="r", verbose=0)
    with pytest.raises(ModelCheckError, match=REFUSAL):
        run.open()
    assert not (tmp_path / "r" / "coarse").exists()
