"""A rerun with a different hypermodel object is refused; the same one, used by tunekit, resumes.

Before: (1) a value changed by hand on the same object between two runs in one process
(`hm._w = 512`) resumed the first run, mixing the trials of two spaces, exit 0: the object
was compared as tunekit first saw it. Now what changes during tunekit's own use of it is
state (`tunekit.hypermodel_use`), what changes between runs is compared. (2) A held Keras
layer counted by its config alone: `Normalization` layers adapted on other data resumed
each other's run. (3) An object with neither `__dict__` nor pickling counted by its class,
silently.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunekit.data import Dataset
from tunekit.errors import RunConfigError
from tunekit.manifest import RunManifest

MODULE = """
import random
import threading

import numpy as np
import keras
import keras_tuner as kt


class Store:
    # A cache of built models, filled by its own method (no source reading sees it).
    def __init__(self):
        self.models = {}

    def keep(self, hp, model):
        self.models[json.dumps(hp.values, sort_keys=True)] = model


import json


class Held(kt.HyperModel):
    STOP = None  # Ctrl-C in the fit number STOP (as `KeyboardInterrupt`)
    fits = 0

    def __init__(self, wide=False):
        super().__init__()
        self._w = 32 if wide else 4
        self._r = random.Random(0)
        self.store = Store()
        self.stem = keras.layers.Dense(4, name="stem")  # trained in every trial

    def build(self, hp):
        self._r.random()
        inputs = keras.Input((8,))
        units = hp.Int("units", self._w, 4 * self._w, step=self._w)
        x = keras.layers.Dense(units)(self.stem(inputs))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        self.store.keep(hp, model)
        return model

    def fit(self, hp, model, *args, **kwargs):
        type(self).fits += 1
        if type(self).STOP is not None and type(self).fits >= type(self).STOP:
            raise KeyboardInterrupt
        return model.fit(*args, **kwargs)


class Plain(kt.HyperModel):
    def __init__(self):
        super().__init__()
        self._w = 4
        self._r = random.Random(0)  # drawn from by every build: state

    def build(self, hp):
        self._r.random()
        inputs = x = keras.Input((8,))
        if hp.Boolean("big", default=False):  # `_w` is not in the default model
            x = keras.layers.Dense(self._w)(x)
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


def adapted(seed):
    layer = keras.layers.Normalization()
    layer.adapt(np.random.default_rng(seed).random((16, 8)).astype("float32"))
    return layer


class Normalized(kt.HyperModel):
    def __init__(self, seed=0, words=("a", "b")):
        super().__init__()
        self._norm = adapted(seed)
        self._lookup = keras.layers.StringLookup()
        self._lookup.adapt(np.array(list(words)))

    def build(self, hp):
        inputs = keras.Input((8,))
        x = keras.layers.Dense(hp.Int("units", 2, 4, step=2))(self._norm(inputs))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


def bump(hypermodel):
    hypermodel.seen += 1  # a helper outside the class: no reading of its source sees it


class Counted(kt.HyperModel):
    # Public attributes its build writes: state, not settings.
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.seen = 0
        self.public = 1

    def build(self, hp):
        self.calls += 1
        bump(self)
        inputs = keras.Input((8,))
        x = keras.layers.Dense(hp.Int("units", 2, 4, step=2))(inputs)
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


class Rows(kt.HyperModel):
    # A held `Normalization` adapted on `rows` rows (built on them: a batch of that size).
    def __init__(self, rows=16):
        super().__init__()
        self.norm = keras.layers.Normalization()
        self.norm.adapt(np.random.default_rng(0).random((rows, 8)).astype("float32"))

    def build(self, hp):
        inputs = keras.Input((8,))
        x = keras.layers.Dense(hp.Int("units", 2, 4, step=2))(self.norm(inputs))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


class Width:
    # No `__dict__`, cannot be pickled, but says its value.
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def __reduce_ex__(self, protocol):
        raise TypeError("cannot pickle Width")

    def __repr__(self):
        return f"Width({self.n})"


class Opaque(kt.HyperModel):
    def __init__(self, n=64):
        super().__init__()
        self._width = Width(n)
        self._lock = threading.Lock()

    def build(self, hp):
        return None
"""


@pytest.fixture
def mods(tmp_path, monkeypatch):
    (tmp_path / "hu_mods.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import hu_mods

    yield hu_mods
    sys.modules.pop("hu_mods", None)


@pytest.fixture
def data():
    x = np.random.default_rng(0).random((48, 8), dtype=np.float32)
    return Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int))


def _run(hypermodel: Any, data: Dataset, tmp_path: Path) -> Any:
    from tunekit import CoarseToFine

    return CoarseToFine(
        hypermodel,
        data,
        directory=tmp_path,
        project_name="r",
        coarse_trials=3,
        coarse_epochs=1,
        batch_size=16,
        verbose=0,
    )


def _started(config: dict[str, Any], tmp_path: Path) -> None:
    manifest = RunManifest.open(tmp_path / "r", config)
    manifest.mark("coarse", "done")  # trials of this hypermodel exist
    manifest.release()


def _resumes(config: dict[str, Any], tmp_path: Path) -> None:
    manifest = RunManifest.open(tmp_path / "r", config)
    assert manifest.is_done("coarse")
    manifest.release()


def test_a_value_changed_by_hand_on_the_same_object_is_refused(mods, data, tmp_path):
    """No training: the default model's build is tunekit's use of the object."""
    held = mods.Plain()
    _started(_run(held, data, tmp_path).config(), tmp_path)
    for _ in range(2):  # state its builds change, outside tunekit: the same paths
        held.build(__import__("keras_tuner").HyperParameters())
    _resumes(_run(held, data, tmp_path).config(), tmp_path)
    held._w = 32
    with pytest.raises(RunConfigError, match=r"hypermodel attribute _w: 4 -> 32"):
        RunManifest.open(tmp_path / "r", _run(held, data, tmp_path).config())
    held._w = 4
    _resumes(_run(held, data, tmp_path).config(), tmp_path)


def test_a_value_changed_by_hand_after_the_run_was_made_is_refused_before_its_next_step(
    mods, data, tmp_path
):
    """Before: `run = CoarseToFine(hm, ...)`, `hm._w = 32`, `run.run()` trained on 32 while
    the run folder recorded 4, so a later run of `hm` with 4 resumed trials of 32, exit 0."""
    held = mods.Plain()
    run = _run(held, data, tmp_path)
    held._w = 32
    with pytest.raises(RunConfigError, match=r"changed after this CoarseToFine was made \("):
        run.open()
    with pytest.raises(RunConfigError, match=r"hypermodel attribute _w: 4 -> 32\)"):
        run.open()
    assert not (tmp_path / "r").exists()  # refused before anything was written
    held._w = 4
    run.open()  # set back: the run goes on
    run.config()  # tunekit builds its default model: state, not a change
    run.open()
    held._w = 8  # between two steps, too
    with pytest.raises(RunConfigError, match=r"hypermodel attribute _w: 4 -> 8\)"):
        run.open()


def test_a_build_by_hand_before_the_first_step_is_not_a_change(mods, data, tmp_path):
    """Before: a notebook cell `hm.build(hp).summary()` between `run = CoarseToFine(hm, ...)`
    and `run.run()` drew from the held generator (and filled the held cache) before tunekit
    had seen a build change them: refused as `hypermodel state ...` changed by hand."""
    import keras_tuner as kt

    for make in (mods.Plain, mods.Held):
        held = make()
        run = _run(held, data, tmp_path / make.__name__)
        held.build(kt.HyperParameters()).summary(print_fn=lambda *a, **k: None)
        run.open()  # a step's first check: the values it was made with
        run.config()
        held._w = 8  # a change a build does not make is still refused
        with pytest.raises(RunConfigError, match=r"hypermodel attribute _w: (4|32) -> 8\)"):
            run.open()


def test_the_same_object_resumes_after_a_ctrl_c_and_a_run_but_not_after_a_hand_change(
    mods, data, tmp_path
):
    """Its builds draw from a held `random.Random`, fill a held cache of models through the
    cache's own method and train a held layer: state, learned during tunekit's use."""
    held = mods.Held()
    mods.Held.STOP, mods.Held.fits = 2, 0
    with pytest.raises(KeyboardInterrupt):
        _run(held, data, tmp_path).coarse()  # Ctrl-C in the second trial
    mods.Held.STOP = None
    rerun = _run(held, data, tmp_path)
    rerun.coarse()  # the notebook cell run again: resumes
    assert len(rerun._tuner("coarse").oracle.trials) == 3
    assert len(held.store.models) >= 2
    _run(held, data, tmp_path).open()  # again, after the completed search
    held._w = 32
    with pytest.raises(RunConfigError, match=r"hypermodel attribute _w: 4 -> 32"):
        _run(held, data, tmp_path).open()


def test_a_held_adapted_layer_is_compared_by_its_statistics(mods, data, tmp_path):
    _started(_run(mods.Normalized(seed=0), data, tmp_path).config(), tmp_path)
    with pytest.raises(RunConfigError, match=r"hypermodel attribute _norm\.weights_sha256: '"):
        RunManifest.open(tmp_path / "r", _run(mods.Normalized(seed=1), data, tmp_path).config())
    other_words = _run(mods.Normalized(words=("a", "c")), data, tmp_path).config()
    with pytest.raises(RunConfigError, match=r"hypermodel attribute _lookup\.vocabulary_sha256"):
        RunManifest.open(tmp_path / "r", other_words)
    _resumes(_run(mods.Normalized(seed=0), data, tmp_path).config(), tmp_path)


def test_an_adapted_layer_is_described_alike_in_a_new_process(mods, tmp_path):
    """A script or CLI rerun adapts anew on the same data: it resumes."""
    from tunekit.hypermodel_state import describe_state

    here = describe_state(mods.Normalized())
    script = "import json, hu_mods\nfrom tunekit.hypermodel_state import describe_state\n"
    script += "print(json.dumps(describe_state(hu_mods.Normalized())))"
    path = os.pathsep.join([str(tmp_path), str(Path(__file__).parents[1])])
    env = {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == here
    assert "weights_sha256" in here["_norm"]


def test_an_object_neither_pickled_nor_read_is_compared_by_its_repr_or_warned_of(
    mods, data, tmp_path, caplog
):
    from tunekit.hypermodel_state import describe_state

    with caplog.at_level(logging.WARNING, logger="tunekit"):
        described = describe_state(mods.Opaque())
    assert described["_width"] == {"class": "hu_mods.Width", "repr": "Width(64)"}
    assert "The hypermodel's attribute _lock holds a _thread.lock" in caplog.text
    assert "compares it by its class alone" in caplog.text
    _started(_run(mods.Opaque(), data, tmp_path).config(), tmp_path)
    with pytest.raises(
        RunConfigError, match=r"hypermodel attribute _width\.repr: 'Width\(64\)' -> 'Width\(8\)'"
    ):
        RunManifest.open(tmp_path / "r", _run(mods.Opaque(n=8), data, tmp_path).config())
    _resumes(_run(mods.Opaque(), data, tmp_path).config(), tmp_path)


def test_a_public_attribute_build_writes_is_state_in_every_record(mods, data, tmp_path):
    """Before: `self.calls += 1` in build, recorded by the hypermodel's description when the
    next run was made, refused the same untouched object (`hypermodel calls: 0 -> 12`)."""
    counted = mods.Counted()
    # Built when the run is made (`learn_build_state`) and for its default model: 2.
    _started(_run(counted, data, tmp_path).config(), tmp_path)
    counted.build(__import__("keras_tuner").HyperParameters())  # tried by hand
    assert (counted.calls, counted.seen) == (3, 3)
    _resumes(_run(counted, data, tmp_path).config(), tmp_path)
    _resumes(_run(counted, data, tmp_path).config(), tmp_path)  # every rerun after
    from tunekit.hypermodel_use import recorded_values

    values = recorded_values(counted)
    assert "calls" not in values["hypermodel"]  # its class's build writes it
    assert values["hypermodel"]["seen"] == 0  # tunekit's use changed it: as first seen
    assert "calls" not in recorded_values(mods.Counted())["hypermodel"]  # a new object too
    counted.public = 2  # a hand change is a setting, named
    with pytest.raises(RunConfigError, match=r"\(hypermodel public: 1 -> 2\)"):
        RunManifest.open(tmp_path / "r", _run(counted, data, tmp_path).config())


def test_a_layer_adapted_on_more_rows_is_named_by_its_statistics_alone(mods, data, tmp_path):
    """Before: the default model's hash held the adapted row count (`build_config`), so the
    refusal added `builds another default model (... sha256 10b690fe -> b067c679)`."""
    from tunekit.model_description import built_default

    assert built_default(mods.Rows(16)) == built_default(mods.Rows(17))
    _started(_run(mods.Rows(16), data, tmp_path).config(), tmp_path)
    with pytest.raises(RunConfigError) as refused:
        RunManifest.open(tmp_path / "r", _run(mods.Rows(17), data, tmp_path).config())
    assert "hypermodel attribute norm.weights_sha256: '" in str(refused.value)
    assert "default model" not in str(refused.value)
    _resumes(_run(mods.Rows(16), data, tmp_path).config(), tmp_path)


def test_a_default_model_told_by_hashes_alone_is_not_said_beside_its_named_cause():
    from tunekit.manifest import _differences

    model = {"sha256": "a", "layers": ["Dense(units=2)"], "compile": None}
    old = {"hypermodel": {"class": "m.H", "public": 1}, "default_model": model}
    new = {"hypermodel": {"class": "m.H", "public": 2}, "default_model": {**model, "sha256": "b"}}
    assert _differences(old, new) == ["hypermodel public: 1 -> 2"]
    alone = _differences({**old, "hypermodel": new["hypermodel"]}, new)
    assert alone == [
        "the hypermodel builds another default model (a setting of its layers or compile "
        "differs: sha256 a -> b)"
    ]
