"""TensorBoard logs of a real run, read back with TensorBoard's own readers and server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def _accumulator(path: Path) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    return acc


def _session_values(session_dir: Path) -> dict:
    acc = _accumulator(session_dir)
    content = acc.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = hparams_metadata.parse_session_start_info_plugin_data(content)
    return {
        name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
        for name, value in info.hparams.items()
    }


def _active(hp) -> dict:
    return {k: v for k, v in hp.values.items() if not k.startswith("tuner/") and hp.is_active(k)}


@pytest.mark.parametrize("run_fixture", ["finished_run", "fit_hp_run"])
def test_every_trial_has_its_hparams_session(request, run_fixture):
    run, _ = request.getfixturevalue(run_fixture)
    for phase in ("coarse", "fine"):
        oracle = run._tuner(phase).oracle
        for trial_id, trial in oracle.trials.items():
            session = run.run_dir / "tensorboard" / phase / trial_id / "execution0"
            values = _session_values(session)
            assert values["phase"] == phase
            active = _active(trial.hyperparameters)
            assert set(values) == {*active, "phase"}
            for name, value in active.items():
                assert values[name] == pytest.approx(value), name
            assert "epoch_accuracy" in _accumulator(session / "validation").Tags()["tensors"]


def _experiments(tensorboard: Path) -> dict[str, object]:
    """Every HParams experiment declared under `tensorboard`, by run folder."""
    found = {}
    for folder in [tensorboard, *(p for p in tensorboard.rglob("*") if p.is_dir())]:
        if not list(folder.glob("events.out.tfevents.*")):
            continue
        try:
            metadata = _accumulator(folder).PluginTagToContent("hparams")
        except KeyError:  # no hparams data in this folder
            continue
        if hparams_metadata.EXPERIMENT_TAG in metadata:
            found[str(folder.relative_to(tensorboard))] = (
                hparams_metadata.parse_experiment_plugin_data(
                    metadata[hparams_metadata.EXPERIMENT_TAG]
                )
            )
    return found


@pytest.mark.parametrize("run_fixture", ["finished_run", "fit_hp_run"])
def test_run_declares_one_experiment_with_both_phases_and_every_hp(request, run_fixture):
    run, _ = request.getfixturevalue(run_fixture)
    experiments = _experiments(run.run_dir / "tensorboard")
    assert list(experiments) == ["."]  # TensorBoard reads one experiment per --logdir
    experiment = experiments["."]
    infos = {info.name: info for info in experiment.hparam_infos}
    phases = [v.string_value for v in infos["phase"].domain_discrete.values]
    assert phases == ["coarse", "fine"]
    coarse_space = {
        hp.name: hp.get_config() for hp in run._tuner("coarse").oracle.hyperparameters.space
    }
    declared = {
        name
        for phase in ("coarse", "fine")
        for trial in run._tuner(phase).oracle.trials.values()
        for name in _active(trial.hyperparameters)
    }
    assert set(infos) == {*coarse_space, *declared, "phase"}
    config = coarse_space["learning_rate"]
    interval = infos["learning_rate"].domain_interval  # the coarse domain: covers the fine one
    assert (interval.min_value, interval.max_value) == pytest.approx(
        (config["min_value"], config["max_value"])
    )
    metrics = [(m.name.group, m.name.tag) for m in experiment.metric_infos]
    assert metrics[0] == ("", "trial/score")  # first: the parallel coordinates' colours
    assert ("", "trial/val_accuracy") in metrics and ("", "trial/loss") in metrics


def test_fit_declared_hp_is_in_the_experiment_and_the_first_session(fit_hp_run):
    run, _ = fit_hp_run
    infos = {i.name: i for i in _experiments(run.run_dir / "tensorboard")["."].hparam_infos}
    assert [v.bool_value for v in infos["shuffle"].domain_discrete.values] == [False, True]
    first = run._tuner("coarse").oracle.trials["0"]
    values = _session_values(run.run_dir / "tensorboard" / "coarse" / "0" / "execution0")
    assert values["shuffle"] == first.hyperparameters.values["shuffle"]


def test_experiment_is_rewritten_when_a_hyperparameter_appears(tmp_path):
    import keras_tuner as kt

    from tunekit.tensorboard import write_experiment

    hp = kt.HyperParameters()
    hp.Int("units", 8, 64, step=8)
    assert write_experiment(tmp_path, hp, phases=("coarse", "fine"))
    assert not write_experiment(tmp_path, hp, phases=("coarse", "fine"))  # unchanged: kept
    hp.Choice("units_2", [16, 32])  # e.g. a layer only the fine phase built
    assert write_experiment(tmp_path, hp, phases=("coarse", "fine"))
    experiments = _experiments(tmp_path)
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1
    assert [i.name for i in experiments["."].hparam_infos] == ["units", "units_2", "phase"]


def test_a_hyperparameter_named_phase_keeps_its_column_beside_tunekits(tmp_path):
    """A user's `hp.Choice("phase", ["warm", "cold"])` was overwritten by the trial's phase
    in every session, and the experiment declared `phase` twice."""
    import keras_tuner as kt

    from tunekit.tensorboard import hparam_values, write_experiment

    hp = kt.HyperParameters()
    hp.Choice("phase", ["warm", "cold"])
    hp.Int("units", 8, 64, step=8)
    write_experiment(tmp_path, hp, phases=("coarse", "fine"))
    infos = {i.name: i for i in _experiments(tmp_path)["."].hparam_infos}
    assert list(infos) == ["phase", "units", "tunekit/phase"]
    assert [v.string_value for v in infos["phase"].domain_discrete.values] == ["cold", "warm"]
    tunekits = infos["tunekit/phase"].domain_discrete.values
    assert [v.string_value for v in tunekits] == ["coarse", "fine"]
    hp.values["phase"] = "cold"
    values = hparam_values(hp, "fine")
    assert values == {"phase": "cold", "units": 8, "tunekit/phase": "fine"}


def test_session_is_rewritten_when_values_appear_during_training(tmp_path):
    from tunekit.tensorboard import HParamsSession

    values = {"units": 32, "phase": "coarse"}
    session = HParamsSession(str(tmp_path), lambda: dict(values), "coarse/0")
    session.on_train_begin()
    assert _session_values(tmp_path) == {"units": 32, "phase": "coarse"}
    values["shuffle"] = True  # e.g. declared by HyperModel.fit after model.fit started
    session.on_train_end({"loss": 0.5})
    assert _session_values(tmp_path) == {"units": 32, "phase": "coarse", "shuffle": True}
    content = (
        _accumulator(tmp_path)
        .SummaryMetadata(hparams_metadata.SESSION_END_INFO_TAG)
        .plugin_data.content
    )
    assert hparams_metadata.parse_session_end_info_plugin_data(content).status == 1  # SUCCESS


def test_final_model_logs_confusion_matrix_samples_and_histograms(finished_run):
    run, _ = finished_run
    final = run.run_dir / "tensorboard" / "final"
    test_tags = _accumulator(final / "test").Tags()
    assert {"confusion_matrix", "test_samples"} <= set(test_tags["tensors"])
    acc = _accumulator(final / "test")
    image = acc.Tensors("confusion_matrix")[0].tensor_proto
    assert image.string_val and image.string_val[2].startswith(b"\x89PNG")
    train = _accumulator(final / "train").Tags()["tensors"]
    assert "epoch_loss" in train
    assert any(tag.endswith("/histogram") for tag in train)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, route: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/data/plugin/hparams/{route}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.mark.parametrize("run_fixture", ["finished_run", "fit_hp_run"])
def test_tensorboard_server_shows_both_phases_and_every_hp(request, run_fixture):
    """The dashboard as a user sees it: `tensorboard --logdir <run>/tensorboard`."""
    from tunekit.results import trials_dataframe

    run, _ = request.getfixturevalue(run_fixture)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(run.run_dir / "tensorboard"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],  # default loader, as a user runs it
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                experiment = _post(port, "experiment", {"experimentName": ""})
                if experiment.get("hparamInfos"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "tensorboard did not answer within 60 s"
            time.sleep(0.5)
        columns = [
            {"hparam": h["name"], "includeInResult": True} for h in experiment["hparamInfos"]
        ]
        columns += [
            {"metric": m["name"], "includeInResult": True} for m in experiment["metricInfos"]
        ]
        groups = _post(
            port,
            "session_groups",
            {
                "experimentName": "",
                "startIndex": 0,
                "sliceSize": 1000,
                "colParams": columns,
                "aggregationType": "AGGREGATION_AVG",
                "allowedStatuses": STATUSES,
            },
        )["sessionGroups"]
        fine_only = _post(
            port,
            "session_groups",
            {
                "experimentName": "",
                "startIndex": 0,
                "sliceSize": 1000,
                "colParams": [
                    {"hparam": "phase", "includeInResult": True, "filterDiscrete": ["fine"]}
                ],
                "allowedStatuses": STATUSES,
                "aggregationType": "AGGREGATION_AVG",
            },
        )["sessionGroups"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    infos = {h["name"]: h for h in experiment["hparamInfos"]}
    assert infos["phase"]["domainDiscrete"] == ["coarse", "fine"]
    trials = {
        f"{phase}/{trial_id}": trial
        for phase in ("coarse", "fine")
        for trial_id, trial in run._tuner(phase).oracle.trials.items()
    }
    assert {name for trial in trials.values() for name in _active(trial.hyperparameters)} <= set(
        infos
    )
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == set(trials)
    assert experiment["metricInfos"][0]["name"] == {"group": "", "tag": "trial/score"}
    table = trials_dataframe(run.run_dir).set_index("trial")
    for name, trial in trials.items():
        group = by_name[name]
        assert group["hparams"]["phase"] == name.split("/")[0]
        for hp_name, value in _active(trial.hyperparameters).items():
            assert group["hparams"][hp_name] == pytest.approx(value), (name, hp_name)
        metrics = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        # The trial's score and metrics as trials.csv has them (TensorBoard keeps float32).
        for column in ("score", "val_accuracy", "val_loss", "accuracy", "loss"):
            assert metrics[f"trial/{column}"] == float(np.float32(table.loc[name, column]))
    assert {g["name"] for g in fine_only} == {n for n in trials if n.startswith("fine/")}


def test_trial_sessions_log_only_what_the_trial_declared(tmp_path):
    import keras
    import keras_tuner as kt
    from keras_tuner.engine.trial import Trial

    from tunekit.tensorboard import HParamsSession, configure_trial_logdirs, hparam_values
    from tunekit.tuners import declared_only

    space = kt.HyperParameters()
    space.Int("num_layers", 1, 3, default=1)
    for i in range(3):
        space.Int(f"units_{i}", 2, 8, step=2)  # an oracle fills all three
    space.values["tuner/epochs"] = 2
    trial = Trial(space, trial_id="7")
    with declared_only(trial) as declared:
        callbacks = [keras.callbacks.TensorBoard(log_dir=str(tmp_path))]
        configure_trial_logdirs(
            callbacks,
            trial,
            0,
            "fine",
            lambda base, tid, ex: f"{base}/{tid}/execution{ex}",
            declared=declared,
        )
        session = callbacks[-1]
        assert isinstance(session, HParamsSession)
        hp = trial.hyperparameters
        for i in range(hp.Int("num_layers", 1, 3, default=1)):  # what build() declares
            hp.Int(f"units_{i}", 2, 8, step=2)
        session.on_train_begin()
        logdir = tmp_path / "7" / "execution0"
        assert _session_values(logdir) == {"num_layers": 1, "units_0": 2, "phase": "fine"}
        hp.Boolean("shuffle")  # declared later, e.g. in HyperModel.fit
        session.on_train_end({"loss": 0.5})
        assert _session_values(logdir) == {
            "num_layers": 1,
            "units_0": 2,
            "shuffle": False,
            "phase": "fine",
        }
    # Once the trial ran, it keeps only what it declared (and KerasTuner's tuner/ values).
    assert type(trial.hyperparameters) is kt.HyperParameters
    assert set(trial.hyperparameters.values) == {"num_layers", "units_0", "shuffle", "tuner/epochs"}
    assert hparam_values(space, "coarse", declared={"units_1"}) == {"units_1": 2, "phase": "coarse"}


@pytest.mark.parametrize(
    ("shape", "image"),
    [((28, 28), True), ((8, 8, 1), True), ((8, 8, 3), True), ((8, 8, 4), True)]
    + [((1, 8, 8), False), ((4, 4, 6), False), ((8, 8, 2), False), ((30,), False)],
)
def test_only_image_shaped_samples_become_test_images(shape, image):
    from tunekit.tensorboard import sample_images

    x = np.random.default_rng(0).random((10, *shape), dtype=np.float32)
    images = sample_images(x, shape)
    assert (images is not None) == image
    if image:
        assert images.shape == (8, *shape[:2], shape[2] if len(shape) == 3 else 1)


def test_a_run_on_samples_that_are_not_images_writes_its_report(tmp_path, caplog):
    """Channel-first digits `(n, 1, 8, 8)` or 6-band patches `(n, 4, 4, 6)`: every step
    trained, then the report's sample images failed ("image must have 1, 2, 3, or 4
    channels") and no report was ever written, on every rerun."""
    from conftest import RUN_BUDGET

    from hypermodels import DenseHyperModel
    from tunekit import CoarseToFine, Dataset
    from tunekit.tensorboard import log_images

    rng = np.random.default_rng(0)
    x = rng.random((240, 4, 4, 6), dtype=np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) > 0.5).astype(int)
    run = CoarseToFine(
        DenseHyperModel((4, 4, 6), num_classes=2),
        Dataset.from_arrays(x, y, seed=0),
        directory=tmp_path,
        project_name="bands",
        **RUN_BUDGET,
    )
    run.run()
    assert (run.run_dir / "report.json").is_file() and (run.run_dir / "report.md").is_file()
    tags = _accumulator(run.run_dir / "tensorboard" / "final" / "test").Tags()["tensors"]
    assert "confusion_matrix" in tags and "test_samples" not in tags
    # and an image TensorBoard cannot encode is left out with a warning, not a crash
    log_images(tmp_path / "pictures", [("six_channels", np.zeros((2, 4, 4, 6), "float32"))])
    assert "TensorBoard image 'six_channels' not written" in caplog.text


def test_the_hparams_table_has_the_score_then_the_objectives_columns():
    """A run tuned on `val_err` (or a regressor on `val_mae`) had only accuracy and loss
    columns: its objective was in none. Every column is the trial's result as trials.csv
    has it (`trial/<name>` in its session folder), the score first."""
    from tunekit.tensorboard import experiment_metrics

    columns = experiment_metrics(["val_err"], classification=True)
    assert columns[:3] == [
        ("trial/score", "", "score"),
        ("trial/val_err", "", "val_err"),
        ("trial/err", "", "err"),
    ]
    assert [c[2] for c in columns[3:]] == ["val_loss", "loss", "val_accuracy", "accuracy"]
    names = [c[2] for c in experiment_metrics(["val_mae"], classification=False)]
    assert names == ["score", "val_mae", "mae", "val_loss", "loss"]
    assert [c[2] for c in experiment_metrics(["val_accuracy"], classification=True)] == [
        "score",
        "val_accuracy",
        "accuracy",
        "val_loss",
        "loss",
    ]


def test_a_trial_run_again_starts_its_epoch_logs_afresh(tmp_path):
    """A trial stopped by Ctrl-C (or a kill) runs again on the rerun; its stopped attempt's
    `train/` and `validation/` event files stayed beside the new ones, so TensorBoard drew
    epochs 0, 0, 1 (or 0, 1, 0, 1, 2, 3) for one trial."""
    import keras
    import keras_tuner as kt
    import tensorflow as tf

    from tunekit.tensorboard import HParamsSession, configure_trial_logdirs

    trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id="1")
    logdir = tmp_path / "coarse" / "1" / "execution0"
    for part in ("train", "validation"):  # the stopped attempt's epoch 0
        with tf.summary.create_file_writer(str(logdir / part)).as_default():
            tf.summary.scalar("epoch_accuracy", 0.2, step=0)
    other = tmp_path / "coarse" / "0" / "execution0" / "train"
    other.mkdir(parents=True)
    callbacks = [keras.callbacks.TensorBoard(log_dir=str(tmp_path / "coarse"))]
    configure_trial_logdirs(
        callbacks, trial, 0, "coarse", lambda base, tid, e: f"{base}/{tid}/execution{e}"
    )
    assert callbacks[0].log_dir == str(logdir)
    assert isinstance(callbacks[1], HParamsSession)
    assert not (logdir / "train").exists() and not (logdir / "validation").exists()
    assert other.exists()  # another trial's logs are its own


def _events(folder: Path) -> list[Path]:
    return sorted(folder.rglob("events.out.tfevents.*"))


@pytest.mark.long
def test_a_users_tensorboard_gets_a_folder_per_phase_trial_and_fit(tmp_path):
    """Found by new users: a `keras.callbacks.TensorBoard(log_dir=...)` in `callbacks=` had
    the coarse and fine trials of the same id share (and clear) one folder, and the
    finalists, the retrain, the baseline and the final seeds all wrote into `log_dir`
    itself; a rerun that replaced the retrain mixed its epochs with the old ones."""
    import keras
    from sklearn.datasets import load_digits

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(hp.Int("units", 8, 64, step=8), activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays((x / 16).astype("float32")[:300], y[:300], seed=0)
    logs = tmp_path / "mine"
    board = keras.callbacks.TensorBoard(log_dir=str(logs), write_graph=False)

    def run(final_epochs):
        return CoarseToFine(
            build,
            data,
            directory=tmp_path / "runs",
            coarse_trials=3,
            coarse_epochs=1,
            fine_tuner="bayesian",
            fine_trials=1,
            max_epochs=1,
            finalists=2,
            finalist_seeds=1,
            final_seeds=2,
            final_epochs=final_epochs,
            seed=0,
            verbose=0,
            callbacks=[board],
        ).run()

    result = run(1)
    assert board.log_dir == str(logs)  # the user's object is not changed
    assert not (logs / "train").exists() and not (logs / "validation").exists()
    for phase, count in (("coarse", 3), ("fine", 1)):
        trials = sorted(p.name for p in (logs / phase).iterdir())
        ran = sorted(
            p.name.removeprefix("trial_") for p in (result.run_dir / phase).glob("trial_*")
        )
        assert trials == ran and len(trials) == count, (trials, ran)
        for trial_id in trials:
            run_dir = logs / phase / trial_id / "execution0"
            assert len(_events(run_dir / "train")) == 1
            assert len(_events(run_dir / "validation")) == 1
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    finalists = manifest["steps"]["finalists"]["finalists"]
    assert len(finalists) == 2
    for finalist in finalists:
        folder = logs / "finalists" / f"{finalist['phase']}_{finalist['trial_id']}" / "seed1"
        assert len(_events(folder / "train")) == 1
    for folder in ("final", "baseline", "final_seeds/seed1"):
        assert len(_events(logs / folder / "train")) == 1, folder
    searched = _events(logs / "coarse") + _events(logs / "fine")
    # A rerun that replaces the retrain (and what follows): the old logs are set aside.
    run(2)
    assert len(_events(logs / "final" / "train")) == 1
    (aside,) = (logs / "replaced").glob("*/final")  # with the baseline's, the seeds'
    assert len(_events(aside / "train")) == 1
    assert _events(logs / "coarse") + _events(logs / "fine") == searched  # kept as they were


def test_a_fit_or_search_from_its_start_sets_the_earlier_logs_of_its_folder_aside(tmp_path):
    """Another run (or a replaced step) with the same `log_dir`: its logs are moved to
    `<log_dir>/replaced/<UTC time>/`, not mixed with the new ones nor deleted."""
    import keras

    from tunekit.user_tensorboard import phase_callbacks, set_aside_logs

    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path))
    for folder in ("coarse/0/execution0/train", "final/train"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "events.out.tfevents.1").write_text("old")
    (copied,) = phase_callbacks([board], "final", fresh=True)
    assert copied is not board and board.log_dir == str(tmp_path)
    assert copied.log_dir == str(tmp_path / "final")
    set_aside_logs([board], "coarse")
    set_aside_logs([board], "fine")  # nothing there: nothing moved
    assert not (tmp_path / "final").exists() and not (tmp_path / "coarse").exists()
    moved = sorted(p.relative_to(tmp_path).parts[2:] for p in _events(tmp_path / "replaced"))
    assert moved == [
        ("coarse", "0", "execution0", "train", "events.out.tfevents.1"),
        ("final", "train", "events.out.tfevents.1"),
    ]
    assert phase_callbacks([board], "final", fresh=True)[0].log_dir == str(tmp_path / "final")
