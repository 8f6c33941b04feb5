"""What a hypermodel's own `fit` passes to `model.fit`, judged by the call, not by names.

Found by a probe: a `fit` passing `batch_size=hp.Choice("bs", [16, 32])` (and
`shuffle=hp.Boolean(...)`) on a `StreamData` of tf.data streams or PyDatasets tuned
values Keras ignores, without a word: tunekit warned only for a hyperparameter NAMED
`batch_size`, and only in the narrow step, after the whole coarse search. And a `fit`
refused in the default configuration's trial (`validation_split`, tunekit's callbacks
dropped, ...) failed trial after trial until `max_consecutive_failed_trials` stopped the
run (`TrialsFailedError`, exit 1), where other refusals of the default configuration stop
it at once (`SearchInputError`, exit 2). See `tunekit.stream_fit_args` and
`tunekit.trial_refusals`.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest
import stream_models
import tensorflow as tf

import tunekit
from tunekit import CoarseToFine
from tunekit.data import Dataset, StreamData
from tunekit.errors import UsageError
from tunekit.fitting import SearchInputError

SMALL: dict[str, Any] = dict(
    coarse_trials=3, coarse_epochs=1, seed=0, verbose=0, finalists=0, baseline=False
)


def _arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (rng.normal(size=(n, 6)) + 2 * y[:, None]).astype("float32"), y


class _PyData(keras.utils.PyDataset):
    def __init__(self, n: int, seed: int) -> None:
        super().__init__()
        self.x, self.y = _arrays(n, seed)

    def __len__(self) -> int:
        return -(-len(self.x) // 16)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.x[i * 16 : (i + 1) * 16], self.y[i * 16 : (i + 1) * 16]


def _stream(kind: str) -> StreamData:
    splits = [(96, 0), (32, 1), (40, 2)]
    if kind == "tf.data":
        made = [tf.data.Dataset.from_tensor_slices(_arrays(n, s)).batch(16) for n, s in splits]
    else:
        made = [_PyData(n, s) for n, s in splits]
    return StreamData(*made, fingerprint=f"fitkw-{kind}")


class Fits(keras.callbacks.Callback):
    """Counts the fits that started (KerasTuner copies callbacks: a class attribute)."""

    count = 0

    def on_train_begin(self, logs: Any = None) -> None:
        Fits.count += 1


class OwnFit(kt.HyperModel):
    """A `fit` passing `extra(hp)` to `model.fit`."""

    def __init__(self, extra: Any) -> None:
        super().__init__()
        self.extra = extra

    def build(self, hp: Any) -> keras.Model:
        return stream_models.dense_build(hp)

    def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        return model.fit(*args, **self.extra(hp), **kwargs)


class _Said(logging.Handler):
    """The warnings of `tunekit.stream_fit_args`, each with the fits started by then."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.said: list[tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append((record.getMessage(), Fits.count))


def _coarse(tmp_path: Any, hypermodel: kt.HyperModel, data: Any) -> list[tuple[str, int]]:
    handler, logger = _Said(), logging.getLogger("tunekit.stream_fit_args")
    logger.addHandler(handler)
    Fits.count = 0
    run = CoarseToFine(
        hypermodel, data, directory=tmp_path, project_name="kw", callbacks=[Fits()], **SMALL
    )
    try:
        run.ensure("coarse")
    finally:
        logger.removeHandler(handler)
        run.close()
    assert Fits.count == 3  # every trial trained
    return handler.said


def _bs_and_shuffle(hp: Any) -> dict[str, Any]:
    return {"batch_size": hp.Choice("bs", [16, 32]), "shuffle": hp.Boolean("mix")}


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_a_tuned_batch_size_of_any_name_on_a_stream_is_said_at_the_first_trial(
    tmp_path: Any, kind: str
) -> None:
    """Before: nothing said for a hyperparameter named `bs`, and for `batch_size` only at
    the narrow step, after the whole coarse search."""
    said = _coarse(tmp_path, OwnFit(_bs_and_shuffle), _stream(kind))
    batch = [(m, n) for m, n in said if "batch_size=" in m]
    assert len(batch) == 1, said
    message, fits = batch[0]
    assert fits == 1, "said after the first trial, before the second trained"
    assert message.startswith("Trial 0: OwnFit.fit passes batch_size=16 to model.fit (the ")
    assert "value of hyperparameter 'bs' in this trial)" in message, message
    assert "Keras's fit ignores batch_size= for a stream" in message
    assert "every value of 'bs' trains the same batches" in message and "noise" in message
    shuffle = [(m, n) for m, n in said if "shuffle=" in m and "batch_size=" not in m]
    if kind == "tf.data":  # Keras ignores it there; a PyDataset's batches it shuffles
        assert len(shuffle) == 1 and shuffle[0][1] == 1, said
        assert (
            "passes shuffle=False to model.fit (the value of hyperparameter 'mix'"
            in (shuffle[0][0])
        )
        assert "ignores shuffle= for a tf.data.Dataset" in shuffle[0][0]
    else:
        assert shuffle == [], said


class PositionalFit(OwnFit):
    """`model.fit(x, None, hp.Choice("mb", ...))`: Keras 3's third position is batch_size."""

    def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        x = args[0] if args else kwargs.pop("x")
        kwargs.pop("batch_size", None)
        return model.fit(x, None, hp.Choice("mb", [16, 32]), **kwargs)


def test_a_batch_size_given_by_position_on_a_stream_is_said_as_by_keyword(
    tmp_path: Any,
) -> None:
    """Found by a probe: only keywords were read, so `model.fit(x, None, 16)` on a stream
    tuned a batch size Keras ignores without a word."""
    said = _coarse(tmp_path, PositionalFit(_bs_and_shuffle), _stream("tf.data"))
    batch = [(m, n) for m, n in said if "batch_size=" in m]
    assert len(batch) == 1 and batch[0][1] == 1, said
    assert batch[0][0].startswith("Trial 0: PositionalFit.fit passes batch_size=16 to ")
    assert "value of hyperparameter 'mb' in this trial)" in batch[0][0]


def test_model_fit_arguments_by_position_are_named_from_its_signature() -> None:
    from tunekit.fit_refusals import by_name

    fit = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).fit
    x, y = np.zeros((4, 2)), np.zeros(4)
    assert by_name(fit, (x, y, 16, 3), {"verbose": 0}) == (
        (x, y),
        {"verbose": 0, "batch_size": 16, "epochs": 3},
    )
    assert by_name(fit, (x, y), {"epochs": 2}) == ((x, y), {"epochs": 2})
    # a position also given by keyword: Python's refusal stays Keras's to raise
    assert by_name(fit, (x, y, 16), {"batch_size": 8}) == ((x, y, 16), {"batch_size": 8})

    def loose(*args: Any, **kwargs: Any) -> None: ...  # a model's own fit, handing on

    # named by Keras's fit (a probe: validation_split by position was refused as "sets
    # `epochs` itself" through such a fit)
    assert by_name(loose, (x, y, 16, 2), {}) == ((x, y), {"batch_size": 16, "epochs": 2})


def test_keywords_keras_uses_on_a_stream_and_arrays_are_not_said(tmp_path: Any) -> None:
    """`steps_per_epoch` (tuned) and `shuffle=False` as tunekit passes it act on a stream;
    a tuned batch size on arrays acts too."""
    said = _coarse(
        tmp_path / "s",
        OwnFit(lambda hp: {"steps_per_epoch": hp.Int("batch_size", 2, 3), "shuffle": False}),
        _stream("tf.data"),
    )
    assert said == []
    x, y = _arrays(96, 0)
    said = _coarse(tmp_path / "a", OwnFit(_bs_and_shuffle), Dataset.from_arrays(x, y, seed=0))
    assert said == []


def test_the_narrow_step_names_what_the_trials_recorded_whatever_the_name(
    tmp_path: Any, caplog: Any
) -> None:
    """Before: judged by `"batch_size" in hp.name`, so `bs` was never named, and a
    `batch_size` hyperparameter used for anything else was."""
    from tunekit.steps.narrow import _warn_ignored_on_a_stream
    from tunekit.stream_fit_args import StreamArgs, ignored_arguments

    stream = tf.data.Dataset.from_tensor_slices(_arrays(32, 0)).batch(16)
    found = ignored_arguments(
        stream,
        {"batch_size": 64, "shuffle": False},
        {"batch_size": 32, "shuffle": False, "epochs": 1},
        ("batch_size",),
        {"bs": 32, "batch_size": 3, "units": 8},
    )
    assert found == {"batch_size": (32, ["bs"])}
    recorded = StreamArgs(tmp_path)
    recorded.record("3", "M", {"batch_size": (16, ["bs", "units"])}, stream)  # units=16 too
    recorded.record("4", "M", found, stream)
    assert recorded.tuned() == {"batch_size": ["bs"]}  # equal in every trial: bs alone
    space = kt.HyperParameters()
    space.Choice("bs", [16, 32])
    space.Int("batch_size", 2, 3)
    tuner = SimpleNamespace(stream_fit_args=StreamArgs(tmp_path), oracle=SimpleNamespace())
    tuner.oracle.hyperparameters = space  # read back from the file, as after a rerun
    ctx = SimpleNamespace(data=_stream("tf.data"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _warn_ignored_on_a_stream(ctx, tuner)  # type: ignore[arg-type]
    said = [r.getMessage() for r in caplog.records if "ignores for a stream" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("The narrowing includes ['bs'], whose value")
    assert "batch_size= to model.fit" in said[0]
    # `shuffle=`: Keras ignores it for a tf.data.Dataset only (a probe found the note said
    # "a stream (a tf.data.Dataset or PyDataset)").
    space.Boolean("mix")
    tuner.stream_fit_args = SimpleNamespace(tuned=lambda: {"shuffle": ["mix"]})
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _warn_ignored_on_a_stream(ctx, tuner)  # type: ignore[arg-type]
    said = [r.getMessage() for r in caplog.records if "The narrowing includes" in r.getMessage()]
    assert len(said) == 1 and "shuffle= to model.fit, which Keras ignores for a " in said[0]
    assert "for a tf.data.Dataset (a PyDataset's batches it does shuffle)" in said[0]
    assert "the same order" in said[0]


# -- a refused fit call in the default configuration's trial stops the run at once -----


class Batches(keras.callbacks.Callback):
    count = 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        Batches.count += 1


def _build(hp: Any) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Calls(kt.HyperModel):
    def __init__(self, call: Any) -> None:
        super().__init__()
        self.call = call

    def build(self, hp: Any) -> keras.Model:
        return _build(hp)

    def fit(self, hp: Any, model: keras.Model, x: Any, y: Any, **kwargs: Any) -> Any:
        return self.call(hp, model, x, y, kwargs)


def _holdout(hp: Any, model: keras.Model, x: Any, y: Any, kw: dict[str, Any]) -> Any:
    kw.pop("validation_data", None)
    return model.fit(x, y, validation_split=hp.Choice("split", [0.2, 0.3]), **kw)


def _own_callbacks(hp: Any, model: keras.Model, x: Any, y: Any, kw: dict[str, Any]) -> Any:
    kw["callbacks"] = [keras.callbacks.TerminateOnNaN()]
    return model.fit(x, y, **kw)


@pytest.mark.parametrize(
    "call, run_kwargs, said",
    [
        (_holdout, {}, "Calls.fit passes validation_split=0.2 to model.fit"),
        (_own_callbacks, {}, "without the callbacks tunekit passes it"),
        (
            lambda hp, model, x, y, kw: model.fit(x, y, shufle=False, **kw),
            {},
            "got an unexpected keyword argument 'shufle'",
        ),
        (
            lambda hp, model, x, y, kw: model.fit(x, y, sample_weight=np.ones(len(y)), **kw),
            {"class_weight": "balanced"},
            "Calls.fit passes sample_weight= to model.fit",
        ),
        (  # x, y, batch_size, epochs, verbose, callbacks, validation_split
            lambda hp, model, x, y, kw: model.fit(
                x,
                y,
                kw.pop("batch_size"),
                kw.pop("epochs"),
                kw.pop("verbose"),
                kw.pop("callbacks"),
                0.25,
                **kw,
            ),
            {},
            "Calls.fit passes validation_split=0.25 to model.fit",
        ),
        (  # a probe: the coarse search ran whole, then every Hyperband trial failed
            lambda hp, model, x, y, kw: model.fit(x, y, initial_epoch=0, **kw),
            {},
            "Calls.fit sets `initial_epoch` itself (0), which tunekit cannot let it do here: "
            "Hyperband allocates each trial's epochs itself",
        ),
    ],
    ids=[
        "validation-split",
        "dropped-callbacks",
        "misspelt-keyword",
        "sample-weight",
        "validation-split-by-position",
        "initial-epoch-tunekit-did-not-pass",
    ],
)
def test_a_fit_call_refused_in_the_default_trial_stops_the_run_at_once(
    tmp_path: Any, call: Any, run_kwargs: dict[str, Any], said: str
) -> None:
    """Before: trial after trial failed the same way, until `max_consecutive_failed_trials`
    (3) stopped the run with `TrialsFailedError` (exit 1)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype("float32")
    data = Dataset.from_arrays(x, (np.arange(60) % 3 == 0).astype(int), seed=0)
    Batches.count = 0
    run = CoarseToFine(
        Calls(call),
        data,
        directory=tmp_path,
        project_name="defaults",
        callbacks=[Batches()],
        **{**SMALL, "coarse_trials": 4},
        **run_kwargs,
    )
    with pytest.raises(SearchInputError) as info:
        run.run()
    run.close()
    assert isinstance(info.value, UsageError)  # the CLI's exit 2
    message = str(info.value)
    assert message.startswith("Trial id 0, with the values {"), message
    assert said in message, message
    assert "That trial is the space's default configuration" in message
    oracle = run._tuner("coarse").oracle
    assert [t.status for t in oracle.trials.values()] == ["FAILED"]  # no further trial
    assert Batches.count == 0
    assert not isinstance(info.value, tunekit.TrialsFailedError)
