"""Two hypermodels are the same for a run when they build the same default model.

Before, a run and its "same settings on the command line" were compared by some
attributes of the hypermodel (`tunekit.object_settings`): an argument kept under
another name (`self._w = units`), a function (`activation=keras.activations.tanh`)
or a numpy scalar (`units=np.int64(32)`) was missed, so the report printed
`--hypermodel mod:RenHM`, which trains 8 relu units instead of 32 tanh ones, and a
rerun with `RenHM(units=8)` resumed a run made with `RenHM(units=32)`, mixing the
trials of two models. A callable build object (`BUILDER32 = Builder(32)`) was
printed as `--hypermodel mod:Builder`, which the command line cannot run. Now the
default configuration's model is recorded (`tunekit.model_description`) and
compared. No training.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunekit.data import Dataset
from tunekit.errors import RunConfigError
from tunekit.manifest import RunManifest
from tunekit.reproduce import cli_equivalent

MODULE = """
import numpy as np
import keras
import keras_tuner as kt


def _model(units, activation, hp):
    model = keras.Sequential([keras.Input((8,)),
                              keras.layers.Dense(units, activation=activation),
                              keras.layers.Dense(2, activation="softmax")])
    rate = hp.Float("learning_rate", 1e-3, 1e-2, sampling="log")
    model.compile(keras.optimizers.Adam(rate), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class RenHM(kt.HyperModel):
    def __init__(self, input_shape=(8,), num_classes=2, units=8,
                 activation=keras.activations.relu):
        super().__init__()
        self._w = units
        self._act = activation
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes

    def build(self, hp):
        return _model(self._w, self._act, hp)


class NpHM(kt.HyperModel):
    def __init__(self, input_shape=(8,), num_classes=2, units=np.int64(8)):
        super().__init__()
        self.units = units
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes

    def build(self, hp):
        return _model(int(self.units), "relu", hp)


def build_fn(hp):
    return _model(hp.Int("units", 8, 32, step=8), "relu", hp)


class Builder:
    def __init__(self, units=8):
        self.units = units

    def __call__(self, hp):
        return _model(self.units, "relu", hp)


BUILDER32 = Builder(32)
"""


@pytest.fixture
def mods(tmp_path, monkeypatch):
    (tmp_path / "dm_mods.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import dm_mods

    yield dm_mods
    sys.modules.pop("dm_mods", None)


@pytest.fixture
def data():
    x = np.random.default_rng(0).random((120, 8), dtype=np.float32)
    return Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int))


def _run(hypermodel: Any, data: Dataset, tmp_path: Path, name: str = "r") -> Any:
    from tunekit import CoarseToFine

    return CoarseToFine(hypermodel, data, directory=tmp_path / "runs", project_name=name)


def _no_command(run: Any, *naming: str) -> str:
    from tunekit.reproduce import cli_command

    command = cli_equivalent(run, "jax")
    assert command is None, f"a command that does not reproduce the run: {command}"
    reason = cli_command(run, "jax")[1]
    assert reason is not None
    for word in naming:
        assert word in reason, reason
    return reason


def test_arguments_the_attributes_miss_leave_no_command(mods, data, tmp_path):
    import keras

    reason = _no_command(_run(mods.RenHM(units=32), data, tmp_path), "RenHM", "units=32")
    assert "units=8" in reason  # what --hypermodel dm_mods:RenHM would build
    tanh = mods.RenHM(activation=keras.activations.tanh)
    _no_command(_run(tanh, data, tmp_path), "RenHM", "'tanh'", "'relu'")
    _no_command(_run(mods.NpHM(units=np.int64(32)), data, tmp_path), "NpHM", "units=32")


def test_the_same_model_and_a_build_function_have_a_command(mods, data, tmp_path):
    assert "--hypermodel dm_mods:RenHM " in cli_equivalent(
        _run(mods.RenHM(), data, tmp_path), "jax"
    )
    assert "--hypermodel dm_mods:NpHM " in cli_equivalent(
        _run(mods.NpHM(units=np.int64(8)), data, tmp_path), "jax"
    )
    assert "--hypermodel dm_mods:build_fn " in cli_equivalent(
        _run(mods.build_fn, data, tmp_path), "jax"
    )


def test_a_callable_build_object_is_named_by_its_module_level_name(mods, data, tmp_path):
    from tunekit.hypermodel_specs import resolve_hypermodel

    command = cli_equivalent(_run(mods.BUILDER32, data, tmp_path), "jax")
    assert command is not None and "--hypermodel dm_mods:BUILDER32 " in command
    assert resolve_hypermodel("dm_mods:BUILDER32")(data) is mods.BUILDER32
    # One no module-level name holds: --hypermodel dm_mods:Builder would call the class.
    _no_command(_run(mods.Builder(16), data, tmp_path), "dm_mods.Builder", "module-level")


def test_a_rerun_with_another_argument_is_refused_naming_the_model(mods, data, tmp_path):
    import keras

    config = _run(mods.RenHM(units=32), data, tmp_path).config()
    manifest = RunManifest.open(tmp_path / "runs" / "r", config)
    manifest.mark("coarse", "done")  # trials of RenHM(units=32) exist
    manifest.release()
    other = _run(mods.RenHM(units=8), data, tmp_path).config()
    with pytest.raises(
        RunConfigError, match=r"default model differs: Dense\(units=32.*Dense\(units=8"
    ):
        RunManifest.open(tmp_path / "runs" / "r", other)
    tanh = _run(mods.RenHM(units=32, activation=keras.activations.tanh), data, tmp_path).config()
    with pytest.raises(
        RunConfigError, match=r"activation='relu'\) -> Dense\(units=32, activation='tanh'"
    ):
        RunManifest.open(tmp_path / "runs" / "r", tanh)
    resumed = RunManifest.open(
        tmp_path / "runs" / "r", _run(mods.RenHM(units=32), data, tmp_path).config()
    )
    assert resumed.is_done("coarse")
    resumed.release()


def test_a_run_recorded_before_the_default_model_was_a_setting_resumes(mods, data, tmp_path):
    import json

    from tunekit.manifest import fingerprint

    config = _run(mods.RenHM(units=32), data, tmp_path).config()
    manifest = RunManifest.open(tmp_path / "runs" / "r", config)
    manifest.mark("coarse", "done")
    manifest.release()
    path = tmp_path / "runs" / "r" / "manifest.json"
    state = json.loads(path.read_text())
    del state["config"]["default_model"]  # as written before this version
    state["fingerprint"] = fingerprint(state["config"])
    path.write_text(json.dumps(state))
    resumed = RunManifest.open(
        tmp_path / "runs" / "r", _run(mods.RenHM(units=32), data, tmp_path).config()
    )
    assert resumed.is_done("coarse")
    resumed.release()


def test_a_subclassed_model_keras_cannot_serialize_is_told_apart_by_its_own_values():
    """Found by a probe: `to_json` raises for a subclassed model built with a value Keras
    cannot serialize, and the fallback recorded its layers only, so `scale` 1 -> 100
    (held by the model itself, from a plain object of the hypermodel's) resumed the run."""
    import keras
    import keras_tuner as kt

    from tunekit.model_description import built_default

    class Cfg:
        def __init__(self, scale):
            self.scale = scale

    class Scaled(keras.Model):
        def __init__(self, units, cfg):
            super().__init__()
            self.cfg, self.scale = cfg, cfg.scale
            self.d1, self.d2 = keras.layers.Dense(units), keras.layers.Dense(2)

        def call(self, x):
            return self.d2(self.d1(x * self.scale))

    class Sub(kt.HyperModel):
        def __init__(self, cfg):
            super().__init__()
            self.cfg = cfg

        def build(self, hp):
            model = Scaled(hp.Int("u", 4, 16, step=4), self.cfg)
            model(np.zeros((1, 3), "float32"))
            model.compile("adam", "sparse_categorical_crossentropy")
            return model

    with pytest.raises(Exception):  # noqa: B017 (Keras cannot serialize it)
        Sub(Cfg(1.0)).build(kt.HyperParameters()).to_json()
    one, again = built_default(Sub(Cfg(1.0))), built_default(Sub(Cfg(1.0)))
    assert one == again  # the same values: the same record, in one process
    assert built_default(Sub(Cfg(100.0)))["sha256"] != one["sha256"]
