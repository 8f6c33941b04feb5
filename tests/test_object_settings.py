"""`callbacks=` and a HyperModel's own values are part of a run's settings.

Before, `callbacks=` was not recorded: a rerun with other callbacks (an
`EarlyStopping` added after the coarse phase) resumed silently, its trials a mix
of both, and `report.md`'s reproducing call named the new callbacks for all of
them. Likewise a HyperModel's list or dict argument (`MyHyperModel(activations=
["tanh"])`) that no hyperparameter declares.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import keras
import keras_tuner as kt
import pytest
from conftest import RUN_BUDGET

from tunekit import CoarseToFine
from tunekit.errors import RunConfigError
from tunekit.manifest import RunManifest, fingerprint
from tunekit.object_settings import describe_callbacks, hypermodel_settings

TINY = {**RUN_BUDGET, "coarse_trials": 3}


def build(hp):
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Warmup(keras.callbacks.Callback):
    """A callback of the user's: a setting (`epochs`), a private one, and state (`seen`)."""

    def __init__(self, epochs=2, scale=None, log_dir="logs"):
        super().__init__()
        self.epochs = epochs
        self._scale = scale
        self.log_dir = log_dir
        self.seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1


@pytest.fixture(scope="module")
def data(digits_small):
    return digits_small.subset(num_train=200, num_val=100, num_test=100)


def test_callbacks_are_described_by_class_and_the_arguments_they_keep():
    def schedule(epoch, rate):
        return rate * 0.9

    described = describe_callbacks(
        [
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0),
            keras.callbacks.TensorBoard(log_dir="logs/tb/20250101-120000"),  # observes only
            keras.callbacks.ModelCheckpoint("ckpt/m.keras"),  # observes only
            keras.callbacks.ReduceLROnPlateau(factor=0.2, verbose=1),
            keras.callbacks.LearningRateScheduler(schedule),
            Warmup(3, scale=[1, 2], log_dir="elsewhere"),
        ]
    )
    assert [d["class"] for d in described] == [
        "keras.callbacks.EarlyStopping",
        "keras.callbacks.ReduceLROnPlateau",
        "keras.callbacks.LearningRateScheduler",
        f"{__name__}.Warmup",
    ]
    early = described[0]
    assert (early["monitor"], early["patience"], early["min_delta"]) == ("val_loss", 0, 10.0)
    assert "wait" not in early and "best" not in early  # what a fit changes is not a setting
    assert described[1]["factor"] == 0.2 and "verbose" not in described[1]
    assert described[2]["schedule"]["function"].endswith("schedule")  # by its code
    warmup = described[3]
    assert warmup["epochs"] == 3 and warmup["_scale"] == [1, 2] and "sha256" in warmup
    assert "seen" not in warmup and "log_dir" not in warmup  # state and where it writes


def test_a_callback_describes_the_same_after_a_fit_and_in_another_process(tmp_path, capsys):
    early = keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    warmup = Warmup(4)
    before = describe_callbacks([early, warmup])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = keras.random.uniform((16, 3), seed=0)
    model.fit(x, x[:, :1], epochs=3, verbose=0, callbacks=[early, warmup])
    assert warmup.seen == 3 and early.best is not None
    assert describe_callbacks([early, warmup]) == before  # a notebook reusing them resumes
    (tmp_path / "user_callbacks.py").write_text(
        textwrap.dedent("""
        import keras

        class Warmup(keras.callbacks.Callback):
            def __init__(self, epochs=2):
                super().__init__()
                self.epochs = epochs

            def on_epoch_begin(self, epoch, logs=None):
                pass
        """)
    )
    code = textwrap.dedent("""
        import json, keras
        from user_callbacks import Warmup
        from tunekit.object_settings import describe_callbacks
        print(json.dumps(describe_callbacks(
            [keras.callbacks.EarlyStopping(monitor="loss", patience=1), Warmup(5)]
        )))
    """)
    sys.path.insert(0, str(tmp_path))
    try:
        exec(code, {})  # noqa: S102 - the same lines here, printed to compare
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("user_callbacks", None)
    here = capsys.readouterr().out.splitlines()[-1]
    path = os.pathsep.join([str(tmp_path), *sys.path])
    env = {**os.environ, "PYTHONPATH": path, "KERAS_BACKEND": "jax"}  # JAX loads faster
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()[-1]
    assert here == there
    assert json.loads(there)[1]["epochs"] == 5 and "sha256" in json.loads(there)[1]


def test_a_rerun_with_other_callbacks_is_refused_and_the_same_ones_resume(tmp_path, data):
    def run(callbacks):
        return CoarseToFine(
            build, data, directory=tmp_path, project_name="cb", callbacks=callbacks, **TINY
        )

    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    run([early, keras.callbacks.TensorBoard(log_dir=str(tmp_path / "tb" / "first"))]).coarse()
    trials = sorted(p.name for p in (tmp_path / "cb" / "coarse").glob("trial_*"))
    # The probe's mix: no callbacks at first, then an EarlyStopping. Now refused, naming both.
    with pytest.raises(RunConfigError) as info:
        run([]).coarse()
    message = str(info.value)
    assert "callbacks: [EarlyStopping(" in message and "patience=1" in message
    assert ")] -> []" in message and "overwrite=True" in message
    with pytest.raises(RunConfigError, match=r"patience=1.*-> \[EarlyStopping\(.*patience=0"):
        run([keras.callbacks.EarlyStopping(monitor="val_loss", patience=0)]).coarse()
    # The same callback settings resume: a new instance, the one a fit used, and a
    # TensorBoard of another log_dir (or none: it only observes).
    same = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    run([same, keras.callbacks.TensorBoard(log_dir=str(tmp_path / "tb" / "second"))]).coarse()
    run([early]).coarse()
    assert sorted(p.name for p in (tmp_path / "cb" / "coarse").glob("trial_*")) == trials


def test_a_run_recorded_before_callbacks_were_settings_resumes(tmp_path, data, caplog):
    """Its callbacks are unknown, not `[]`: it resumes with any, and says so when it has some."""
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    config = CoarseToFine(build, data, directory=tmp_path, project_name="old", **TINY).config()
    manifest = RunManifest.open(tmp_path / "old", config)
    manifest.mark("coarse", "done")
    manifest.release()
    path = tmp_path / "old" / "manifest.json"
    state = json.loads(path.read_text())
    for key in ("callbacks", "hypermodel_settings"):  # as written before this version
        del state["config"][key]
    state["fingerprint"] = fingerprint(state["config"])
    path.write_text(json.dumps(state))
    for callbacks, warned in (([], False), ([early], True)):
        rerun = CoarseToFine(
            build, data, directory=tmp_path, project_name="old", callbacks=callbacks, **TINY
        )
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tunekit"):
            resumed = RunManifest.open(tmp_path / "old", rerun.config())
        assert resumed.is_done("coarse")
        assert "callbacks" not in resumed.state["config"]  # still unknown, not adopted
        resumed.release()
        assert ("recorded before callbacks were part of a run's settings" in caplog.text) is warned
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tunekit"):  # every step opens the run
        RunManifest.open(tmp_path / "old", rerun.config()).release()
    assert "recorded before callbacks" not in caplog.text  # said once


class Activations(kt.HyperModel):
    def __init__(self, activations=None, widths=(8, 16), **kwargs):
        super().__init__(**kwargs)
        self.activations = activations or ["relu"]
        self.widths = widths
        self.built = []  # state: not an argument

    def build(self, hp):
        self.built.append(1)
        model = keras.Sequential(
            [
                keras.Input((28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(
                    hp.Choice("units", list(self.widths)), activation=self.activations[0]
                ),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


def test_a_hypermodels_list_arguments_are_described_and_its_state_is_not():
    relu = Activations(["relu"])
    assert hypermodel_settings(relu) == {"activations": ["relu"]}
    relu.built.append(1)
    assert hypermodel_settings(relu) == {"activations": ["relu"]}
    assert hypermodel_settings(lambda hp: None) == {}


def test_a_hypermodels_list_argument_is_a_setting(tmp_path, data):
    """`Activations(["tanh"])` after `Activations(["relu"])` resumed: a list was not recorded."""
    relu = Activations(["relu"])
    config = CoarseToFine(relu, data, directory=tmp_path, project_name="hm", **TINY).config()
    manifest = RunManifest.open(tmp_path / "hm", config)
    manifest.mark("coarse", "done")
    manifest.release()
    tanh = CoarseToFine(
        Activations(["tanh"]), data, directory=tmp_path, project_name="hm", **TINY
    ).config()
    with pytest.raises(RunConfigError, match=r"hypermodel activations: \['relu'\] -> \['tanh'\]"):
        RunManifest.open(tmp_path / "hm", tanh)
    same = CoarseToFine(Activations(["relu"]), data, directory=tmp_path, project_name="hm", **TINY)
    RunManifest.open(tmp_path / "hm", same.config()).release()
