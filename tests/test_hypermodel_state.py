"""A hypermodel's own values, and what its default model's settings are, identify a run.

Before, a value a HyperModel keeps under a private name not matching its argument
(`self._w = 512 if wide else 64`) and uses only in other configurations than the
default (`if hp.Boolean("big"): Dense(self._w)`) changed neither the recorded
attributes nor the default model: `Wide(wide=True)` resumed a run of
`Wide(wide=False)`, mixing the trials of two spaces, exit 0. Likewise an array it
holds (normalisation statistics). And a default model differing only in its
optimizer's settings or a layer's initializer was refused with two hashes, not
with what differs. No training: the manifest is opened as a step would.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunekit.data import Dataset
from tunekit.errors import RunConfigError
from tunekit.manifest import RunManifest, fingerprint

MODULE = """
import dataclasses
import random

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler
import keras
import keras_tuner as kt


class Wide(kt.HyperModel):
    def __init__(self, wide=False, stats=None):
        super().__init__()
        self._w = 512 if wide else 64
        self._mean = np.zeros(8, "float32") if stats is None else np.asarray(stats, "float32")
        self.built = []  # state a build changes: not a setting
        self._calls = 0
        self._cache = {}
        self._grown = 0

    def build(self, hp):
        self.built.append(1)
        self._calls += 1
        self._cache[self._calls] = True
        self._grow()
        inputs = x = keras.Input((8,))
        if hp.Boolean("big", default=False):  # not in the default model
            x = keras.layers.Normalization(mean=self._mean, variance=np.ones(8))(x)
            x = keras.layers.Dense(self._w, activation="relu")(x)
        outputs = keras.layers.Dense(2, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def _grow(self):
        self._grown += 1


LOG = []


def note(hypermodel, hp):  # a helper outside the class changes the hypermodel
    hypermodel.log.append(dict(hp.values))


class Reused(kt.HyperModel):
    # Its builds change it through objects it holds and a function outside it.

    def __init__(self, seed=0):
        super().__init__()
        self._r = random.Random(seed)
        self.rng = np.random.default_rng(seed)
        self.scaler = StandardScaler().fit(np.zeros((4, 8)))
        self.log = []

    def build(self, hp):
        note(self, hp)
        self._r.gauss(0, 1)
        self.rng.integers(10)
        self.scaler.partial_fit(np.ones((4, 8)))
        inputs = keras.Input((8,))
        outputs = keras.layers.Dense(2, activation="softmax")(inputs)
        model = keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


class Thing:
    def __init__(self, n):
        self.n = n


class Tables(kt.HyperModel):
    # Object arrays and frames: their values text holds memory addresses.

    def __init__(self, n=1):
        super().__init__()
        self.tags = np.array([Thing(n), "x", len], dtype=object)
        self.frame = pd.DataFrame(
            {"f": [lambda t: t * n, np.sin], "w": [n, 2], "name": ["a", "b"],
             "when": pd.Timestamp("2024-01-01")}
        )
        self.column = self.frame["w"]

    def build(self, hp):
        return None


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b


@dataclasses.dataclass(slots=True, frozen=True)
class Frozen:
    wide: int = 64


class Seeded(kt.HyperModel):
    def __init__(self, seed=0, wide=64):
        super().__init__()
        self._slots, self._frozen = Slotted(wide, "x"), Frozen(wide)
        self._gen, self._legacy = np.random.default_rng(seed), np.random.RandomState(seed)
        self._r = random.Random(seed)

    def build(self, hp):
        return None


@dataclasses.dataclass
class Cfg:
    drop: float = 0.1


class Configured(kt.HyperModel):
    def __init__(self, drop=0.1):
        super().__init__()
        self.cfg = Cfg(drop)

    def build(self, hp):
        self.cfg.last_values = dict(hp.values)  # written by a build: state
        return None


class Initialized(kt.HyperModel):
    def __init__(self, init="glorot", l2=0.01):
        super().__init__()
        he = init == "he"
        self._init = keras.initializers.HeNormal() if he else keras.initializers.GlorotUniform()
        self._reg = keras.regularizers.L2(l2)

    def build(self, hp):
        return None


class Compiled(kt.HyperModel):
    def __init__(self, optimizer="adam", rate=1e-3, initializer="glorot_uniform", l2=None):
        super().__init__()
        self._opt, self._lr = optimizer, rate
        self._init, self._l2 = initializer, l2

    def build(self, hp):
        regularizer = keras.regularizers.L2(self._l2) if self._l2 else None
        model = keras.Sequential([
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", kernel_initializer=self._init,
                               kernel_regularizer=regularizer),
            keras.layers.Dense(2, activation="softmax"),
        ])
        optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[self._opt]
        model.compile(optimizer(self._lr), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model
"""


@pytest.fixture
def mods(tmp_path, monkeypatch):
    (tmp_path / "hs_mods.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import hs_mods

    yield hs_mods
    sys.modules.pop("hs_mods", None)


@pytest.fixture
def data():
    x = np.random.default_rng(0).random((120, 8), dtype=np.float32)
    return Dataset.from_arrays(x, (x[:, 0] > 0.5).astype(int))


def _config(hypermodel: Any, data: Dataset, tmp_path: Path) -> dict[str, Any]:
    from tunekit import CoarseToFine

    return CoarseToFine(hypermodel, data, directory=tmp_path, project_name="r").config()


def _started(config: dict[str, Any], tmp_path: Path) -> None:
    manifest = RunManifest.open(tmp_path / "r", config)
    manifest.mark("coarse", "done")  # trials of this hypermodel exist
    manifest.release()


def _resumes(config: dict[str, Any], tmp_path: Path) -> None:
    manifest = RunManifest.open(tmp_path / "r", config)
    assert manifest.is_done("coarse")
    manifest.release()


def test_a_private_value_used_only_off_the_default_is_a_setting(mods, data, tmp_path):
    _started(_config(mods.Wide(wide=False), data, tmp_path), tmp_path)
    with pytest.raises(RunConfigError, match=r"hypermodel attribute _w: 64 -> 512"):
        RunManifest.open(tmp_path / "r", _config(mods.Wide(wide=True), data, tmp_path))
    _resumes(_config(mods.Wide(wide=False), data, tmp_path), tmp_path)


def test_an_array_the_hypermodel_holds_is_a_setting_by_its_values(mods, data, tmp_path):
    _started(_config(mods.Wide(stats=np.zeros(8)), data, tmp_path), tmp_path)
    stats = np.zeros(8)
    stats[3] = 0.5
    with pytest.raises(
        RunConfigError, match=r"hypermodel attribute _mean: <array float32 \(8,\), sha256 \w+> ->"
    ):
        RunManifest.open(tmp_path / "r", _config(mods.Wide(stats=stats), data, tmp_path))
    _resumes(_config(mods.Wide(stats=np.zeros(8)), data, tmp_path), tmp_path)


def test_state_a_build_changes_is_not_a_setting(mods, data, tmp_path):
    """A hypermodel reused after a run (a notebook) holds other state: it still resumes."""
    import keras_tuner as kt

    from tunekit.hypermodel_state import describe_state, kept_by_build

    assert {"built", "_calls", "_cache", "_grown"} <= kept_by_build(mods.Wide)
    assert not {"_w", "_mean"} & kept_by_build(mods.Wide)
    reused = mods.Wide()
    before = describe_state(reused)
    assert set(before) == {"_w", "_mean"}
    _started(_config(reused, data, tmp_path), tmp_path)
    for _ in range(2):
        reused.build(kt.HyperParameters())
    assert describe_state(reused) == before
    _resumes(_config(reused, data, tmp_path), tmp_path)


def test_the_same_object_given_again_is_compared_as_first_seen(mods, data, tmp_path):
    """Found by a retry probe: a notebook reusing its hypermodel after a run (or a Ctrl-C)
    was refused, its builds having changed it through a held `random.Random`, a scaler's
    `partial_fit` or a helper outside the class, which no reading of its source sees. The
    same object is compared as tunekit first saw it in this process; a new one afresh."""
    import keras_tuner as kt

    reused = mods.Reused()
    _started(_config(reused, data, tmp_path), tmp_path)
    for _ in range(2):
        reused.build(kt.HyperParameters())
    _resumes(_config(reused, data, tmp_path), tmp_path)
    _resumes(_config(reused, data, tmp_path), tmp_path)  # again, after the rerun
    _resumes(_config(mods.Reused(), data, tmp_path), tmp_path)  # a new, equal object
    with pytest.raises(RunConfigError, match=r"hypermodel attribute _r\.state_sha256: "):
        RunManifest.open(tmp_path / "r", _config(mods.Reused(seed=1), data, tmp_path))


def test_object_arrays_and_frames_are_described_alike_in_every_process(mods):
    """Found by a retry probe: an object array or a DataFrame holding objects was hashed by
    its text, memory addresses included (`<Thing object at 0x7f...>`), so the same script
    in a new process was refused. Their values are described as other values are, without
    addresses; a DataFrame by `pandas.util.hash_pandas_object`."""
    from tunekit.hypermodel_state import describe_state

    one, again, other = (describe_state(mods.Tables(n)) for n in (1, 1, 2))
    assert one == again
    assert "0x" not in json.dumps(one)
    assert one["frame"]["dtype"] == "DataFrame" and one["frame"]["array"] == [2, 4]
    assert one["column"]["dtype"] == "Series"
    for name in ("tags", "frame", "column"):
        assert one[name]["sha256"] != other[name]["sha256"], name


def test_objects_without_a_dict_are_described_by_their_state(mods):
    """Found by a retry probe: a `__slots__` class, a `@dataclass(slots=True)`, a NumPy
    `Generator` or `RandomState` (and a `random.Random`'s seed) were recorded by class only:
    another seed or width resumed the old run, exit 0. They are described by what pickling
    them keeps."""
    from tunekit.hypermodel_state import describe_state

    one = describe_state(mods.Seeded())
    assert one == describe_state(mods.Seeded())
    assert one["_slots"]["state"][1] == {"a": 64, "b": "x"}
    assert one["_frozen"]["state"] == [64]
    seeded, wide = describe_state(mods.Seeded(seed=1)), describe_state(mods.Seeded(wide=512))
    assert {k for k in one if one[k] != seeded[k]} == {"_gen", "_legacy", "_r"}
    assert {k for k in one if one[k] != wide[k]} == {"_slots", "_frozen"}


def test_what_a_build_writes_inside_a_value_leaves_out_only_that(mods, data, tmp_path):
    """Found by a retry probe: `self.cfg.last_values = ...` in `build` left the whole `cfg`
    out of the record, so `Configured(drop=0.2)` resumed a run of `drop=0.1`, exit 0."""
    import keras_tuner as kt

    from tunekit.hypermodel_state import describe_state, kept_by_build

    assert "cfg.last_values" in kept_by_build(mods.Configured)
    assert "cfg" not in kept_by_build(mods.Configured)
    built = mods.Configured()
    before = describe_state(built)
    built.build(kt.HyperParameters())
    assert describe_state(built) == before
    _started(_config(mods.Configured(), data, tmp_path), tmp_path)
    with pytest.raises(RunConfigError, match=r"hypermodel attribute cfg\.drop: 0\.1 -> 0\.2"):
        RunManifest.open(tmp_path / "r", _config(mods.Configured(drop=0.2), data, tmp_path))
    _resumes(_config(built, data, tmp_path), tmp_path)


def test_a_changed_keras_object_is_said_by_its_settings_that_differ(mods):
    """Found by a retry probe: a held initializer of another class was said as two whole
    config dicts to compare by eye; only what differs is said."""
    from tunekit.hypermodel_state import KEY, describe_state
    from tunekit.object_settings import differences

    said = differences(
        KEY,
        describe_state(mods.Initialized()),
        describe_state(mods.Initialized(init="he", l2=0.02)),
    )
    assert said == [
        "hypermodel attribute _init.class: "
        "'keras.src.initializers.random_initializers.GlorotUniform' -> "
        "'keras.src.initializers.random_initializers.HeNormal'",
        "hypermodel attribute _reg.config.l2: 0.01 -> 0.02",
    ]


def _as_written_before(tmp_path: Path) -> None:
    """The run's manifest as the previous version wrote it: no `hypermodel_state`, a
    default model record without its settings."""
    path = tmp_path / "r" / "manifest.json"
    state = json.loads(path.read_text())
    del state["config"]["hypermodel_state"]
    for key in ("layer_settings", "optimizer_settings"):
        del state["config"]["default_model"][key]
    state["fingerprint"] = fingerprint(state["config"])
    path.write_text(json.dumps(state))


def test_a_run_recorded_before_these_records_resumes(mods, data, tmp_path, caplog):
    """Its values are unknown, not a change: it resumes, saying they cannot be compared."""
    _started(_config(mods.Wide(), data, tmp_path), tmp_path)
    _as_written_before(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        _resumes(_config(mods.Wide(), data, tmp_path), tmp_path)
    assert "a hypermodel's own values were part of a run's settings" in caplog.text
    assert "(_mean=<array float32 (8,), sha256 " in caplog.text
    assert ", _w=64)" in caplog.text


def test_a_default_model_recorded_without_its_settings_compares_its_hash(mods, data, tmp_path):
    _started(_config(mods.Compiled(), data, tmp_path), tmp_path)
    _as_written_before(tmp_path)
    with pytest.raises(RunConfigError, match="builds another default model"):
        RunManifest.open(tmp_path / "r", _config(mods.Compiled(rate=1e-2), data, tmp_path))
    _resumes(_config(mods.Compiled(), data, tmp_path), tmp_path)


@pytest.mark.parametrize(
    ("other", "said"),
    [
        (
            {"rate": 1e-2},
            r"default model's optimizer differs: Adam\(learning_rate=0\.001\) -> "
            r"Adam\(learning_rate=0\.01\)",
        ),
        (
            {"optimizer": "sgd"},
            r"default model's optimizer differs: Adam\(.*beta_1=0\.9.*\) -> SGD\(",
        ),
        (
            {"initializer": "he_normal"},
            r"default model differs in layer 1, Dense\(units=16, activation='relu'\): "
            r"kernel_initializer: 'GlorotUniform' -> 'HeNormal'",
        ),
        (
            {"l2": 0.01},
            r"kernel_regularizer: None -> 'L2', kernel_regularizer\.l2: not set -> 0\.01",
        ),
    ],
    ids=["learning-rate", "optimizer-class", "initializer", "regularizer"],
)
def test_a_default_model_differing_in_a_setting_is_refused_naming_it(
    mods, data, tmp_path, other, said
):
    _started(_config(mods.Compiled(), data, tmp_path), tmp_path)
    with pytest.raises(RunConfigError, match=said):
        RunManifest.open(tmp_path / "r", _config(mods.Compiled(**other), data, tmp_path))
    _resumes(_config(mods.Compiled(), data, tmp_path), tmp_path)


def test_the_default_model_record_is_the_same_for_the_same_model(mods):
    """Keras numbers its objects' names per process: `beta_1` stays a setting's name."""
    from tunekit.model_description import built_default

    one, again = built_default(mods.Compiled()), built_default(mods.Compiled())
    assert one == again
    assert one["optimizer_settings"]["beta_1"] == 0.9
    assert one["optimizer_settings"]["class"] == "Adam"
