"""A hypermodel's own `fit` that trains on held-out samples, or validates on trained ones.

Probe A: a `fit` that called `model.fit(X, Y, **kwargs)` on the notebook's whole arrays,
not the `x, y` it was given, scored 1.0 test accuracy on labels of noise, exit 0, with
only the note that it "trained on transformed inputs"; one that passed
`validation_data=(X, Y)` ranked every trial on samples it trained on (0.82 validation
against 0.63 test), with no note. Both are refused before training
(`tunekit.fit_changes.held_out_refusal`); a `fit` that augments, rescales, subsamples or
oversamples its data is not.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.fitting import HyperModelFitError, SearchInputError, fit_hypermodel

RNG = np.random.default_rng(0)
X = RNG.normal(size=(400, 6)).astype("float32")
Y = RNG.integers(0, 2, 400)  # labels of noise: only memory scores above chance
DATA = Dataset.from_arrays(X, Y, seed=0)


def _build(hp):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return model


class OwnFit(kt.HyperModel):
    """`fit` as `how` writes it: `how(x, y, validation_data)` -> `(x, y, validation_data)`."""

    def __init__(self, how):
        super().__init__()
        self.how = how

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        x, y, validation_data = self.how(x, y, validation_data)
        return model.fit(x, y, validation_data=validation_data, **kwargs)


def _fit(how, held_out=None, validation=True):
    """One call of `fit_hypermodel` as a search's trial (`validation`) or a fit on
    train+validation makes it (`held_out={"test": ...}`)."""
    model = _build(kt.HyperParameters())
    x, y = (DATA.x_train, DATA.y_train) if validation else DATA.train_and_validation()
    extra = {"validation_data": (DATA.x_val, DATA.y_val)} if validation else {}
    return fit_hypermodel(
        OwnFit(how), kt.HyperParameters(), model, x, y, epochs=1, verbose=0,
        held_out=held_out, **extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    "how",
    [
        lambda x, y, v: (X, Y, v),  # the notebook's whole arrays
        lambda x, y, v: (np.concatenate([x, v[0]]), np.concatenate([y, v[1]]), v),
        lambda x, y, v: (X.astype("float64"), Y, v),  # cast on the way: the same samples
    ],
    ids=["global", "train-and-validation", "float64"],
)
def test_a_fit_on_validation_samples_is_refused_in_a_search(how):
    with pytest.raises(HyperModelFitError) as info:
        _fit(how)
    message = str(info.value)
    assert "OwnFit.fit passes model.fit samples of the validation split (60 of its 60 " in (message)
    assert "every trial's score would measure memory of samples it trained on" in message
    assert "Train on the x, y your fit is given" in message


def test_a_fit_on_test_samples_is_refused_on_train_and_validation():
    """The retrain, the baseline and final seeds pass `held_out={"test": x_test}`."""
    with pytest.raises(HyperModelFitError, match=r"samples of the test split \(60 of its 60 "):
        _fit(lambda x, y, v: (X, Y, v), held_out={"test": DATA.x_test}, validation=False)
    _fit(lambda x, y, v: (x, y, v), held_out={"test": DATA.x_test}, validation=False)


def test_validation_data_of_trained_samples_is_refused():
    with pytest.raises(HyperModelFitError) as info:
        _fit(lambda x, y, v: (x, y, (x, y)))
    message = str(info.value)
    assert (
        "passes model.fit a validation_data other than the one it was given, and 280 of its 280"
        in (message)
    )
    assert "Pass kwargs['validation_data'] on as given" in message
    with pytest.raises(HyperModelFitError, match="validation_data other than"):
        _fit(lambda x, y, v: (x, y, (X, Y)))  # every sample: the training ones among them


@pytest.mark.parametrize(
    "how",
    [
        lambda x, y, v: (x, y, v),  # as given
        lambda x, y, v: (x * 2.0, y, (v[0] * 2.0, v[1])),  # rescaled alike
        lambda x, y, v: (np.concatenate([x, x + 0.01]), np.concatenate([y, y]), v),  # noise
        lambda x, y, v: (x[::2], y[::2], v),  # a subset
        lambda x, y, v: (np.repeat(x, 2, axis=0), np.repeat(y, 2), v),  # oversampled
        lambda x, y, v: (x, y, (v[0][:30], v[1][:30])),  # part of the validation split
        lambda x, y, v: (x, y, None),  # no validation: KerasTuner's error, not this one
        lambda x, y, v: (  # probe C: a masked copy of few binary features meets val rows
            np.concatenate([x > 0, np.where(np.arange(6) == 0, 0, x > 0)]).astype("float32"),
            np.concatenate([y, y]),
            ((v[0] > 0).astype("float32"), v[1]),
        ),
    ],
    ids=["given", "rescaled", "augmented", "subset", "oversampled", "part", "none", "masked"],
)
def test_fits_that_change_their_data_otherwise_are_not_refused(how):
    try:
        _fit(how)
    except HyperModelFitError as e:
        pytest.fail(f"refused: {e}")
    except Exception:  # noqa: BLE001, S110 - a fit without validation: not this check's
        pass


@pytest.mark.long
def test_a_run_whose_fit_trains_on_the_whole_data_stops_at_its_first_trial(tmp_path):
    """Probe A's run, end to end: it reported test accuracy 1.0 on noise, exit 0."""

    run = CoarseToFine(
        OwnFit(lambda x, y, v: (X, Y, v)),
        DATA,
        directory=str(tmp_path),
        project_name="p",
        coarse_trials=3,
        coarse_epochs=1,
        max_epochs=2,
        factor=2,
        verbose=0,
        seed=0,
        baseline=False,
    )
    with pytest.raises(SearchInputError, match="samples of the validation split"):
        run.run()
    assert not (tmp_path / "p" / "best_model.keras").exists()
