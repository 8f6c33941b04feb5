"""Every build tunekit's checks make with the defaults refuses a raising build the same way.

Before: a build that raised only from its second call (a layer held by the hypermodel with
an automatic name, called again in each build: 'The name "dense" is used 2 times') passed
the model check's build and escaped the next check's (`declared_space`, the check of
`hyperparameters=`, of `max_model_size`) as a raw `ValueError`; the same build raising on
its first call was a `ModelCheckError` naming the line.

Then: that refusal said "when built with its default hyperparameters ... if a
hyperparameter's value causes the error, give that hyperparameter a default= that
builds", though the defaults had built fine the first time. When tunekit built the same
object with the same values before, the refusal says state kept on the object causes it.
"""

from __future__ import annotations

import inspect

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
STATE = (
    "when built again with its default hyperparameters: the first build of the same object "
    "with the same values succeeded and a later one failed, so state kept on the object "
    "between builds causes it (e.g. a layer created in __init__ and reused in every build: "
    "create layers inside build; or a counter the build changes), not a hyperparameter's "
    "value. KerasTuner builds the same object for every trial, so no search can start: make "
    "each build start afresh."
)
FIRST = (
    "when built with its default hyperparameters (each hyperparameter's default, or its "
    "first value). KerasTuner builds it that way to declare the search space before any "
    "trial, so no search can start: fix that line, or, if a hyperparameter's value causes "
    "the error, give that hyperparameter a default= that builds."
)


def _line(cls: type, text: str) -> int:
    """The line number, in this file, of the line of `cls`'s source holding `text`."""
    lines, first = inspect.getsourcelines(cls)
    return first + next(i for i, line in enumerate(lines) if text in line)


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
    with pytest.raises(ModelCheckError, match=r"`hypermodel`'s build raised ValueError: "):
        run.open()
    assert not (tmp_path / "r" / "coarse").exists()


def _run(hypermodel: kt.HyperModel, tmp_path) -> str:
    from tunekit import CoarseToFine

    x = np.random.default_rng(0).random((32, 8), dtype=np.float32)
    data = Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int))
    run = CoarseToFine(hypermodel, data, directory=tmp_path, project_name="r", verbose=0)
    with pytest.raises(ModelCheckError) as raised:
        run.open()
    return str(raised.value)


def test_a_build_failing_after_a_first_that_succeeded_is_said_to_be_state(tmp_path):
    # The counter: tunekit's first build with the defaults succeeded, the next one raised.
    line = _line(SecondCall, 'raise ValueError("built twice")')
    assert _run(SecondCall(), tmp_path) == (
        f"`hypermodel`'s build raised ValueError: built twice (at test_default_builds.py:"
        f"{line}) {STATE}"
    )


def test_a_held_dense_failing_from_the_second_build_is_said_to_be_state(tmp_path):
    # The held Dense with an automatic name: the second model holds two "dense" layers.
    line = _line(HeldDense, "model = keras.Model(inputs")
    assert _run(HeldDense(), tmp_path) == (
        '`hypermodel`\'s build raised ValueError: The name "dense" is used 2 times in the '
        "model. All operation names should be unique. (at test_default_builds.py:"
        f"{line}) {STATE}"
    )


class Raises(kt.HyperModel):
    """Raises from its first build on."""

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        hp.Int("units", 2, 4, step=2)
        raise ValueError("never builds")


def test_a_build_failing_on_its_first_call_keeps_the_default_hint(tmp_path):
    line = _line(Raises, 'raise ValueError("never builds")')
    assert _run(Raises(), tmp_path) == (
        f"`hypermodel`'s build raised ValueError: never builds (at test_default_builds.py:"
        f"{line}) {FIRST}"
    )
