"""A fault of the space's structure that only other values than the defaults reveal is
refused before any training (`tunekit.steps.space_builds`, `tunekit.steps.space_checks`).

Found by a new-user probe: `hp.Choice("act", ...)` inside each pass of a loop's
`hp.conditional_scope("layers", ...)`, with the default building one layer, was refused
("declares 'act' more than once") only at the first trial that drew layers >= 2: all
coarse trials drew layers=1, the narrowing ran, a fine trial trained, and the next
fine trial (layers=3) stopped the run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit import CoarseToFine, SearchInputError
from tunekit.data import Dataset
from tunekit.errors import ModelCheckError

ACT_TWICE = (
    "The hypermodel declares 'act' more than once, under other conditions (layers in "
    "[1, 2, 3]; layers in [2, 3]; layers in [3]), e.g. in each pass of a loop's "
    "hp.conditional_scope or in two scopes: KerasTuner keeps an entry per declaration but "
    "one value per name, so trials fail with KeyError: 'act' (plain KerasTuner's too). Give "
    "each declaration its own name (hp.Choice(f'act_{i}', ...) in a loop), or declare it "
    "once, outside the scopes."
)


def _data() -> Dataset:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return Dataset.from_arrays(x[:300, :8] / 16.0, y[:300] % 3, seed=0)


class Counted(kt.HyperModel):
    """`build(hp)` of the probe's shape; `extra` unrelated choices declared first."""

    def __init__(self, extra: int = 0, scoped: bool = True, twice: bool = True) -> None:
        super().__init__()
        self.extra, self.scoped, self.twice, self.builds = extra, scoped, twice, 0

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        self.builds += 1
        for i in range(self.extra):  # choices varied after the scope's parent
            hp.Choice(f"choice_{i}", ["a", "b"])
        model = keras.Sequential([keras.Input((8,))])
        for i in range(hp.Int("layers", 1, 3)):
            scope = hp.conditional_scope("layers", list(range(i + 1, 4)))
            with scope if self.scoped else contextlib.nullcontext():
                units = hp.Int(f"units_{i}", 4, 8, step=4)
                act = hp.Choice("act" if self.twice else f"act_{i}", ["relu", "tanh"])
                model.add(keras.layers.Dense(units, activation=act))
        model.add(keras.layers.Dense(3, activation="softmax"))
        rate = hp.Float("lr", 1e-3, 1e-2, sampling="log")
        model.compile(keras.optimizers.Adam(rate), "sparse_categorical_crossentropy")
        return model


def test_a_name_declared_again_only_by_other_values_is_refused_before_any_trial(tmp_path):
    """The defaults build one layer (one 'act'); layers=3 declares it under two more scopes."""
    run = CoarseToFine(Counted(), _data(), directory=tmp_path, project_name="p", verbose=0)
    with pytest.raises(SearchInputError) as refused:
        run.check_model()
    assert str(refused.value).startswith(ACT_TWICE), str(refused.value)
    assert not (tmp_path / "p" / "coarse").exists()  # nothing trained or written
    # The search's oracle says it in the same words (when a trial draws such values).
    space = kt.HyperParameters()
    Counted().build(space)
    space.values["layers"] = 3
    Counted().build(space)
    from tunekit.tuners.base_oracle import check_names_declared_once

    with pytest.raises(SearchInputError) as by_the_oracle:
        check_names_declared_once(space)
    assert str(by_the_oracle.value) == str(refused.value)


def test_the_scopes_parents_are_varied_first_within_a_small_budget(monkeypatch):
    """Twenty unrelated choices declared before the loop: its count is still varied (a
    scope's parent first), also when the time allows one build; every check build is a
    build (no fit), at most 16 beyond the defaults' (4, and only the scopes' parents, for
    a run without hyperparameters= and allow_new_entries=False)."""
    from tunekit.steps import space_builds
    from tunekit.steps.space_checks import check_user_space

    settings = {"tune_new_entries": True, "allow_new_entries": True}
    hypermodel = Counted(extra=20)
    with pytest.raises(SearchInputError, match=r"declares 'act' more than once"):
        check_user_space(hypermodel, kt.HyperParameters(), **settings)
    assert hypermodel.builds == 1 + 1  # the parent first: its first other value finds it
    assert not hasattr(space_builds, "MAX_SECONDS")  # the count alone, however slow
    fine = Counted(extra=20, twice=False)
    check_user_space(fine, kt.HyperParameters(), **settings)  # a name per layer: no fault
    assert fine.builds == 1 + 16
    # No hyperparameters= (nor allow_new_entries=False): only the scope's parent varies,
    # so every run pays for few builds: layers=3 here (1 is the default).
    plain = Counted(extra=20, twice=False)
    check_user_space(plain, None, **settings)
    assert plain.builds == 1 + 1
    again = Counted(extra=20)
    with pytest.raises(SearchInputError, match=r"declares 'act' more than once"):
        check_user_space(again, None, **settings)
    unscoped = Counted(extra=20, scoped=False, twice=False)  # no conditions: no other build
    check_user_space(unscoped, None, **settings)
    assert unscoped.builds == 1


def test_values_a_search_never_changes_are_not_varied():
    """tune_new_entries=False: entries outside hyperparameters= stay at their defaults in
    every trial (one layer), so what other layer counts declare is no fault of this run."""
    from tunekit.steps.space_checks import check_user_space

    given = kt.HyperParameters()
    given.Float("lr", 1e-3, 5e-3, sampling="log")
    check_user_space(Counted(), given, tune_new_entries=False, allow_new_entries=True)
    given.Int("layers", 1, 2)  # tuned: layers=2 declares 'act' again
    with pytest.raises(SearchInputError, match=r"\(layers in \[1, 2, 3\]; layers in \[2, 3\]\)"):
        check_user_space(Counted(), given, tune_new_entries=False, allow_new_entries=True)


def test_allow_new_entries_false_refuses_a_name_only_other_values_declare(tmp_path):
    """keras.io's loop without scopes: units_1 and units_2 are declared only when
    layers >= 2. Before, KerasTuner's refusal came after the first trial that built them
    trained (the probe: after coarse trial 1)."""
    given = kt.HyperParameters()
    for name, low in (("layers", 1), ("units_0", 4), ("act_0", None), ("lr", None)):
        if name == "act_0":
            given.Choice(name, ["relu", "tanh"])
        elif name == "lr":
            given.Float(name, 1e-3, 1e-2, sampling="log")
        else:
            given.Int(name, low, 3 if name == "layers" else 8, step=1 if name == "layers" else 4)
    run = CoarseToFine(
        Counted(scoped=False, twice=False),
        _data(),
        hyperparameters=given,
        allow_new_entries=False,
        directory=tmp_path,
        project_name="n",
        verbose=0,
    )
    with pytest.raises(
        ModelCheckError,
        match=r"allow_new_entries=False, but the hypermodel declares \['units_1', 'act_1', "
        r"'units_2', 'act_2'\] \(built with layers=3\), which `hyperparameters` does not "
        r"list: KerasTuner would fail trial that builds them",
    ):
        run.check_model()
    assert not (tmp_path / "n" / "coarse").exists()


PROBE = textwrap.dedent("""
    import keras

    def build(hp):
        inp = keras.Input((8,))
        x = inp
        for i in range(hp.Int("layers", 1, 3)):
            with hp.conditional_scope("layers", list(range(i + 1, 4))):
                units = hp.Int(f"units_{i}", 8, 16, step=8)
                x = keras.layers.Dense(units, activation=hp.Choice("act", ["relu", "tanh"]))(x)
        out = keras.layers.Dense(3, activation="softmax")(x)
        model = keras.Model(inp, out)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
""")


@pytest.mark.long
def test_the_command_line_refuses_it_before_any_training(tmp_path):
    """The probe's run, on the command line: exit 2 with the refusal, no trial trained."""
    (tmp_path / "hm5.py").write_text(PROBE)
    rng = np.random.default_rng(0)
    x = rng.random((120, 8)).astype("float32")
    y = rng.integers(0, 3, 120)
    np.savez(tmp_path / "d.npz", x_train=x[:90], y_train=y[:90], x_test=x[90:], y_test=y[90:])
    root = str(Path(__file__).resolve().parents[1])  # this checkout's tunekit, absolute
    env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = ["--hypermodel", "hm5:build", "--data", "d.npz", "--directory", "runs"]
    args += ["--coarse-trials", "4", "--coarse-epochs", "1", "--max-epochs", "2"]
    args += ["--factor", "2", "--no-baseline", "--finalists", "0", "--backend", "jax"]
    proc = subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert not list(tmp_path.glob("runs/*/coarse/trial_*"))  # before any training
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "error: " + ACT_TWICE in proc.stderr, proc.stderr[-3000:]
