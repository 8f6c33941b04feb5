"""A run resumes only with the hypermodel code that made its trials (`tunekit.hypermodel_code`).

Found by a new user: an edited `build(hp)` rerun with the same command resumed the old
trials and the old winner as results of the new code, with exit 0. The code is now part
of the run's configuration; comments, layout and docstrings are not.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import logging
import sys
import textwrap

import pytest
from conftest import RUN_BUDGET

from tunekit.errors import RunConfigError
from tunekit.hypermodel_code import KEY, code_hash, code_record
from tunekit.manifest import RunManifest, fingerprint

_modules = itertools.count()

BUILD = """
import keras

UNITS = 16


def dense(x, units):
    return keras.layers.Dense(units, activation="relu")(x)


def build(hp):
    inputs = keras.Input((28, 28))
    x = keras.layers.Flatten()(inputs)
    x = dense(x, hp.Int("units", 8, 16, step=8) + UNITS - 16)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""

# The same code with other comments, blank lines, layout and a docstring.
BUILD_RESTYLED = '''
import keras

UNITS = 16  # the base width


def dense(x, units):
    """A ReLU layer."""
    # a comment
    return keras.layers.Dense(
        units, activation="relu"
    )(x)



def build(hp):
    """Builds a small dense network."""

    inputs = keras.Input((28, 28))
    x = keras.layers.Flatten()(inputs)
    x = dense(x, hp.Int("units", 8, 16, step=8) + UNITS - 16)  # units
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
'''


def _module(tmp_path, source, name=None):
    """`source` as a module of its own (named `name`, else a new name), not in `sys.modules`."""
    name = name or f"user_models_{next(_modules)}"
    folder = tmp_path / f"m{next(_modules)}"
    folder.mkdir()
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hash(tmp_path, source, attribute="build"):
    return code_hash(getattr(_module(tmp_path, source), attribute))


def test_comments_layout_and_docstrings_keep_the_hash(tmp_path):
    assert _hash(tmp_path, BUILD) == _hash(tmp_path, BUILD_RESTYLED) == _hash(tmp_path, BUILD)
    record = code_record(_module(tmp_path, BUILD).build)
    assert record == {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "sha256": _hash(tmp_path, BUILD),
    }
    assert len(record["sha256"]) == 64


@pytest.mark.parametrize(
    "edit",
    [
        ('Dense(10, activation="softmax")', 'Dense(10, activation="sigmoid")'),  # in build
        ('hp.Int("units", 8, 16, step=8)', 'hp.Int("units", 8, 32, step=8)'),  # a constant
        ('loss="sparse_categorical_crossentropy"', 'loss="categorical_crossentropy"'),
        ("x = keras.layers.Flatten()(inputs)", "x = dense(keras.layers.Flatten()(inputs), 8)"),
        ('activation="relu")(x)', 'activation="tanh")(x)'),  # in the helper build calls
        ("UNITS = 16", "UNITS = 32"),  # a module constant build reads
    ],
    ids=["layer", "units", "loss", "added-layer", "helper", "module-constant"],
)
def test_an_edit_of_what_runs_changes_the_hash(tmp_path, edit):
    old, new = edit
    assert old in BUILD
    assert _hash(tmp_path, BUILD) != _hash(tmp_path, BUILD.replace(old, new))


def test_a_closure_value_and_a_default_argument_change_the_hash(tmp_path):
    source = """
    import keras

    def make_build(units, activation="relu"):
        def build(hp, rate=0.5):
            return keras.layers.Dense(units, activation=activation)
        return build
    """
    module = _module(tmp_path, source)
    same = code_hash(module.make_build(16))
    assert code_hash(module.make_build(16)) == same
    assert code_hash(module.make_build(32)) != same
    assert code_hash(module.make_build(16, "tanh")) != same
    other_default = _module(tmp_path, source.replace("rate=0.5", "rate=0.2"))
    assert code_hash(other_default.make_build(16)) != same


def test_containers_of_simple_values_count_and_data_does_not(tmp_path):
    source = """
    import numpy as np

    LAYERS = [16, 8]
    LOOP = []
    LOOP.append(LOOP)
    TABLE = np.zeros(3)

    def build(hp):
        return LAYERS, LOOP, TABLE
    """
    module = _module(tmp_path, source)
    before = code_hash(module.build)
    assert _hash(tmp_path, source.replace("[16, 8]", "[16, 4]")) != before
    module.TABLE[:] = 1.0  # data the build reads, changed at run time: not code
    assert code_hash(module.build) == before


HYPERMODEL = '''
import keras
import keras_tuner as kt


class Base(kt.HyperModel):
    def layer(self, units):
        return keras.layers.Dense(units)


class Wide(Base):
    """A docstring."""

    WIDTH = 64

    def build(self, hp):
        return keras.Sequential([self.layer(self.WIDTH), keras.layers.Dense(10)])

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, shuffle=True, **kwargs)
'''


@pytest.mark.parametrize(
    "edit, changes",
    [
        (('"""A docstring."""', '"""Another docstring."""'), False),
        (("keras.layers.Dense(10)", "keras.layers.Dense(10, activation='softmax')"), True),
        (("shuffle=True", "shuffle=False"), True),  # its fit
        (("WIDTH = 64", "WIDTH = 128"), True),  # a class attribute
        (("return keras.layers.Dense(units)", "return keras.layers.Dense(units + 1)"), True),
    ],
    ids=["docstring", "build", "fit", "class-attribute", "base-class-method"],
)
def test_a_hypermodel_class_is_hashed_by_the_methods_of_its_classes(tmp_path, edit, changes):
    old, new = edit
    before = _module(tmp_path, HYPERMODEL).Wide()
    after = _module(tmp_path, HYPERMODEL.replace(old, new)).Wide()
    assert (code_hash(before) != code_hash(after)) is changes
    assert (code_hash(before.build) != code_hash(after.build)) is changes  # its class too


def test_a_partial_is_described_and_hashed_by_its_function_and_arguments(tmp_path, digits_small):
    from tunekit.workflow import CoarseToFine

    source = """
    def build(hp, units=8, activation="relu"):
        return units
    """
    module = _module(tmp_path, source)
    partial = functools.partial(module.build, units=16)
    assert code_hash(partial) == code_hash(functools.partial(module.build, units=16))
    assert code_hash(partial) != code_hash(functools.partial(module.build, units=32))
    assert code_hash(partial) != code_hash(functools.partial(module.build, 16))
    edited = _module(tmp_path, source.replace("return units", "return units + 1"))
    assert code_hash(partial) != code_hash(functools.partial(edited.build, units=16))
    # Before: AttributeError: 'functools.partial' object has no attribute '__qualname__'.
    run = CoarseToFine(partial, digits_small, directory=tmp_path, verbose=0)
    assert run.config()["hypermodel"] == {
        "class": f"{module.__name__}.build",
        "partial_args": [],
        "partial_keywords": {"units": 16},
    }
    assert run.run_dir.name == "build"
    from tunekit.reproduce import cli_equivalent

    assert cli_equivalent(run, "tensorflow") is None  # --hypermodel names no partial


def _refused(run_dir, config):
    with pytest.raises(RunConfigError) as info:
        RunManifest.open(run_dir, config)
    return str(info.value)


def test_a_manifest_refuses_other_code_and_resumes_old_runs_and_other_pythons(tmp_path, caplog):
    hypermodel = {"class": "user_models.build"}
    config = {"hypermodel": hypermodel, KEY: {"python": "3.11", "sha256": "a" * 64}, "seed": 0}
    manifest = RunManifest.open(tmp_path / "run", config)
    manifest.mark("coarse", "done")
    manifest.release()
    message = _refused(tmp_path / "run", {**config, KEY: {"python": "3.11", "sha256": "b" * 64}})
    assert "hypermodel code: the code of user_models.build changed since the run started" in (
        message
    )
    assert "sha256 aaaaaaaa -> bbbbbbbb" in message and "'sha256'" not in message, message
    assert message.endswith(
        "Restore the hypermodel's code to resume, pass overwrite=True to start over with this "
        "code, or choose a new project_name= to keep both runs."
    )
    # Another hypermodel: its name says so, not its code too.
    other = {**config, "hypermodel": {"class": "user_models.other"}}
    other[KEY] = {"python": "3.11", "sha256": "b" * 64}
    message = _refused(tmp_path / "run", other)
    assert "hypermodel: {'class': 'user_models.build'}" in message
    assert "hypermodel code" not in message
    # Under another Python the bytecode cannot be compared: it resumes, with a warning.
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        RunManifest.open(
            tmp_path / "run", {**config, KEY: {"python": "3.99", "sha256": "b" * 64}}
        ).release()
    assert "started under Python 3.11 and this is Python 3.99" in caplog.text
    # A run recorded before the code was resumes (nothing to compare), with any code.
    path = tmp_path / "run" / "manifest.json"
    state = json.loads(path.read_text())
    del state["config"][KEY]
    state["fingerprint"] = fingerprint(state["config"])
    path.write_text(json.dumps(state))
    resumed = RunManifest.open(tmp_path / "run", {**config, KEY: {"python": "3.11", "sha256": "c"}})
    assert resumed.is_done("coarse")
    resumed.release()


TINY_RUN = {**RUN_BUDGET, "coarse_trials": 3, "final_epochs": 1}


@pytest.mark.long
def test_a_rerun_with_an_edited_build_is_refused_and_unchanged_code_resumes(tmp_path, digits_small):
    from tunekit.workflow import CoarseToFine

    data = digits_small.subset(num_train=200, num_val=100, num_test=100)

    def run(source):
        build = _module(tmp_path, source, name="user_models").build
        return CoarseToFine(build, data, directory=tmp_path, project_name="p", **TINY_RUN)

    run(BUILD).run()
    run_dir = tmp_path / "p"
    model = run_dir / "best_model.keras"
    trials = sorted(p.name for p in run_dir.rglob("trial_*"))
    written = model.stat().st_mtime_ns
    with pytest.raises(RunConfigError) as info:
        run(BUILD.replace("UNITS = 16", "UNITS = 24")).run()
    message = str(info.value)
    assert "hypermodel code: the code of user_models.build changed" in message, message
    assert "overwrite=True" in message
    # The same code, restyled: resumed, nothing trained again.
    result = run(BUILD_RESTYLED).run()
    assert result.best_hyperparameters is not None
    assert sorted(p.name for p in run_dir.rglob("trial_*")) == trials
    assert model.stat().st_mtime_ns == written


def test_the_cli_refuses_a_rerun_after_the_users_file_was_edited(
    tmp_path, capsys, small_npz, monkeypatch
):
    from tunekit.coarse_to_fine import _load_data, _workflow_kwargs, build_parser, main
    from tunekit.hypermodel_specs import resolve_hypermodel
    from tunekit.workflow import CoarseToFine

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # an edit of the same size and second
    (tmp_path / "cli_models.py").write_text(BUILD)
    monkeypatch.delitem(sys.modules, "cli_models", raising=False)
    args = ["--hypermodel", "cli_models:build", "--data", str(small_npz)]
    args += ["--directory", str(tmp_path), "--backend", "tensorflow", "--coarse-trials", "3"]
    parsed = build_parser().parse_args(args)
    data = _load_data(parsed)
    hypermodel = resolve_hypermodel(parsed.hypermodel)(data)
    run = CoarseToFine(hypermodel, data, **_workflow_kwargs(parsed))
    manifest = RunManifest.open(run.run_dir, run.config())  # as the first run left it
    manifest.mark("coarse", "done")
    manifest.release()
    (tmp_path / "cli_models.py").write_text(BUILD.replace("UNITS = 16", "UNITS = 32"))
    del sys.modules["cli_models"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "hypermodel code: the code of cli_models.build changed" in err, err
    assert "--overwrite" in err and "--project-name" in err, err


def test_a_pickled_copy_of_a_hypermodel_keeps_the_hash():
    """Pickling a class adds `__slotnames__` to it: a worker's rebuilt run must still match."""
    import pickle

    from hypermodels import DenseHyperModel
    from tunekit.hypermodel_code import code_hash

    hypermodel = DenseHyperModel((4,), num_outputs=1, task="regression")
    before = code_hash(hypermodel)
    copy = pickle.loads(pickle.dumps(hypermodel))
    assert "__slotnames__" in vars(DenseHyperModel)
    assert code_hash(copy) == code_hash(hypermodel) == before


@pytest.mark.parametrize(
    "edit",
    [
        ("BLOCKS = {", "BLOCKS = {"),  # unchanged: the control
        ('activation="relu"', 'activation="tanh"'),  # a helper in a dict of builders
        ("Dense(u + 0)", "Dense(u + 1)"),  # a method of a module-level instance
        ("return u * 1", "return u * 2"),  # a function under functools.lru_cache
    ],
    ids=["unchanged", "dict-of-functions", "module-instance", "lru-cache"],
)
def test_code_reached_through_values_counts(tmp_path, edit):
    """Found by a new user: helpers in a dict, a module-level instance's methods and a
    cached function were hashed by their type only, so their edits resumed old trials."""
    source = """
    import functools
    import keras

    def block(x, u):
        return keras.layers.Dense(u, activation="relu")(x)

    class Builder:
        def make(self, u):
            return keras.layers.Dense(u + 0)

    @functools.lru_cache
    def width(u):
        return u * 1

    BLOCKS = {"dense": block}
    BUILDER = Builder()

    def build(hp):
        return BLOCKS["dense"], BUILDER.make(width(8))
    """
    before = _hash(tmp_path, source)
    after = _hash(tmp_path, source.replace(*edit))
    assert (after != before) is (edit[0] != "BLOCKS = {")


def test_state_a_build_changes_at_runtime_keeps_the_hash(tmp_path):
    """Found by a new user and by the suite: a module-level list a build appends to, a flag
    flipped from a notebook and a class's counter are state; rerunning unchanged code in
    the same process was refused as "code changed". Constants count as written."""
    source = """
    import keras
    import keras_tuner as kt

    SEEN = []
    FIXED = {"on": False}
    UNITS = 16

    def build(hp):
        SEEN.append(hp.Int("units", 4, 8))
        return keras.layers.Dense(UNITS if FIXED["on"] else 8)

    class Counting(kt.HyperModel):
        fits = 0

        def build(self, hp):
            type(self).fits += 1
            return build(hp)
    """
    module = _module(tmp_path, source)
    before, before_class = code_hash(module.build), code_hash(module.Counting())
    module.SEEN.extend([4, 5])
    module.FIXED["on"] = True
    module.Counting.fits = 3
    assert code_hash(module.build) == before
    assert code_hash(module.Counting()) == before_class
    assert _hash(tmp_path, source.replace("UNITS = 16", "UNITS = 32")) != before
    assert _hash(tmp_path, source.replace('{"on": False}', '{"on": True}')) != before


def test_models_a_build_caches_on_the_hypermodel_keep_the_hash(tmp_path):
    """Found by a retry probe (also on main): `self._cache[str(hp.values)] = model` put the
    cache's keys in the hash, so a rerun of the same object after one build was refused as
    "the code of ... changed". What a build puts on the instance is state, not code."""
    source = """
    import keras
    import keras_tuner as kt

    class Caching(kt.HyperModel):
        def __init__(self):
            super().__init__()
            self._cache = {}

        def build(self, hp):
            model = keras.Sequential([keras.layers.Dense(hp.Int("units", 4, 8))])
            self._cache[str(hp.values)] = model
            return model
    """
    import keras_tuner as kt

    hypermodel = _module(tmp_path, source).Caching()
    before = code_hash(hypermodel)
    hypermodel.build(kt.HyperParameters())
    assert code_hash(hypermodel) == before
    assert _hash(tmp_path, source.replace("4, 8", "4, 16"), "Caching") != _hash(
        tmp_path, source, "Caching"
    )


def test_numpy_scalars_and_keras_objects_count_by_value():
    """Found by a new user: `np.float32` arguments and a Keras loss's settings were hashed by
    type only, so a partial's `units=np.int64(32)` -> 64 or `Huber(delta=1.0)` -> 5.0
    resumed the old trials."""
    import functools

    import keras
    import numpy as np

    from hypermodels import DenseHyperModel

    def build(hp, units=8, loss=None):
        return units, loss

    def hashed(**keywords):
        return code_hash(functools.partial(build, **keywords))

    assert hashed(units=np.int64(32)) == hashed(units=np.int64(32))
    assert hashed(units=np.int64(32)) != hashed(units=np.int64(64))
    assert hashed(units=np.float32(0.1)) != hashed(units=np.float32(0.2))
    huber = hashed(loss=keras.losses.Huber(delta=1.0))
    assert hashed(loss=keras.losses.Huber(delta=1.0)) == huber
    assert hashed(loss=keras.losses.Huber(delta=5.0)) != huber
    assert code_hash(DenseHyperModel((4,), num_classes=3)) == code_hash(
        DenseHyperModel((4,), num_classes=3)
    )


WAYS_IN = """
import enum
import functools
import os

import keras
import keras_tuner as kt


def dense_block(x, units, dropout):
    return x * units * 2


class Blocks:
    def dense(self, u):
        return u * 2


class Act(enum.Enum):
    HIDDEN = "relu"


class timed:
    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)


@timed
def block(u):
    return u * 2


class Config:
    def __init__(self, **kw):
        self._d = kw

    def __getattr__(self, k):
        return self._d[k]


BLOCK = functools.partial(dense_block, dropout=0.1)
DENSE = Blocks().dense
BASE = 32
UNITS = BASE * 2
if not os.environ.get("TUNEKIT_NO_SUCH_VARIABLE"):
    WIDTH = 16
CFG = Config(units=32)
INIT = {keras.activations.relu: "he_normal"}


def add_head(layers):
    layers.append("head")
    return None


class HM(kt.HyperModel):
    BLOCKS = {"dense": dense_block}
    LOSS = keras.losses.Huber(delta=1.0)

    def __init__(self, fn=dense_block):
        super().__init__()
        self.fn = fn

    @functools.cached_property
    def units(self):
        return 32

    def build(self, hp, acts=frozenset({"relu", "tanh"})):
        add_head([])
        return (BLOCK(1, 4), DENSE(8), UNITS, WIDTH, Act.HIDDEN.value, block(2), CFG.units,
                INIT, sorted(acts), self.units, self.BLOCKS, self.LOSS, self.fn)
"""


@pytest.mark.parametrize(
    "edit, changes",
    [
        (("return x * units * 2", "return x * units * 3"), True),  # through a partial, a table
        (("return u * 2\n\n\nclass Act", "return u * 3\n\n\nclass Act"), True),  # bound method
        (("BASE = 32", "BASE = 64"), True),  # a constant another is computed from
        (("    WIDTH = 16", "    WIDTH = 8"), True),  # assigned under an `if`
        (('HIDDEN = "relu"', 'HIDDEN = "tanh"'), True),  # an enum's value
        (('{"relu", "tanh"}', '{"relu", "gelu"}'), True),  # a frozenset default
        (("return 32\n", "return 64\n"), True),  # a cached_property
        (("return u * 2\n\n\nclass Config", "return u * 3\n\n\nclass Config"), True),  # decorator
        (("Huber(delta=1.0)", "Huber(delta=5.0)"), True),  # a class attribute's Keras loss
        (
            ("def add_head(layers):\n", 'def add_head(layers):\n    """Adds."""\n'),
            False,
        ),  # docstring
    ],
    ids=[
        "partial-global",
        "bound-method-global",
        "derived-constant",
        "constant-under-if",
        "enum",
        "frozenset-default",
        "cached-property",
        "class-decorator",
        "class-attribute-loss",
        "docstring-of-a-function-using-None",
    ],
)
def test_code_reached_every_way_a_new_user_tried_counts(tmp_path, edit, changes):
    """Found by a new user's second probe: each edit resumed the old trials (or, for the
    docstring, refused unchanged code); a config object with `__getattr__` raising
    KeyError and functions as dict keys (an address in their repr) crashed or differed."""
    assert edit[0] in WAYS_IN
    before = code_hash(_module(tmp_path, WAYS_IN).HM())
    assert code_hash(_module(tmp_path, WAYS_IN).HM()) == before  # stable, no crash
    after = code_hash(_module(tmp_path, WAYS_IN.replace(*edit)).HM())
    assert (after != before) is changes


def test_a_function_kept_by_init_counts():
    """A hypermodel keeping a function its `__init__` was given: another one, another hash."""
    import types

    def other(x, units, dropout):
        return x * units * 3

    namespace = types.ModuleType("ways_in_init")
    exec(compile(textwrap.dedent(WAYS_IN), "<ways_in>", "exec"), vars(namespace))
    assert code_hash(namespace.HM()) == code_hash(namespace.HM())
    assert code_hash(namespace.HM()) != code_hash(namespace.HM(fn=other))
