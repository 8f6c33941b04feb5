"""Your own data through the workflow and the CLI: regression, CSV, --task, class weights,
several inputs (issue 16's data layer, wired end to end)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from tunekit import CoarseToFine
from tunekit.coarse_to_fine import _load_data, _workflow_kwargs, build_parser, main
from tunekit.data import CLASS_WEIGHT_MODES, TASKS, Dataset, class_weights, load_csv
from tunekit.errors import DataError, OutputShapeError, RunConfigError
from tunekit.params import CLASS_WEIGHT_MODES as TABLE_MODES
from tunekit.params import DATA_PARAMETERS
from tunekit.params import TASKS as TABLE_TASKS
from tunekit.score_text import score_text

# The smallest budget the workflow takes: 3 coarse trials of 1 epoch, 2 Bayesian trials.
TINY_CLI = [
    "--finalists",
    "0",
    "--no-baseline",
    "--coarse-trials",
    "3",
    "--coarse-epochs",
    "1",
    "--fine-tuner",
    "bayesian",
    "--fine-trials",
    "2",
    "--max-epochs",
    "1",
    "--top",
    "2",
    "--final-epochs",
    "1",
    "--backend",
    "tensorflow",
    "--quiet",
]
TINY: dict[str, Any] = dict(
    coarse_trials=3,
    coarse_epochs=1,
    fine_tuner="bayesian",
    fine_trials=2,
    max_epochs=1,
    top=2,
    final_epochs=1,
    verbose=0,
    finalists=0,
    baseline=False,
)


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's bundled diabetes data (442 rows, 10 features) as a CSV, target `target`."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    frame["target"] = frame["target"] / 100.0  # in the hundreds: a tiny budget's scale
    path = tmp_path_factory.mktemp("data") / "diabetes.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_tables_repeat_the_data_layers_names() -> None:
    assert TABLE_TASKS == TASKS and TABLE_MODES == CLASS_WEIGHT_MODES
    actions = {a.dest: a for a in build_parser()._actions}
    assert actions["task"].option_strings == ["--task"]
    assert tuple(actions["task"].choices or ()) == TASKS
    assert tuple(actions["class_weight"].choices or ()) == ("balanced",)
    assert actions["target"].option_strings == [DATA_PARAMETERS["target"].flag]


# -- regression ----------------------------------------------------------------------


@pytest.mark.long
def test_regression_csv_from_the_cli_reports_sklearns_metrics_of_the_saved_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], diabetes_csv: Path
) -> None:
    runs = tmp_path / "runs"
    args = ["--data", str(diabetes_csv), "--target", "target", "--hypermodel", "dense"]
    seeds = ["--final-seeds", "2"]
    code = main([*args, "--directory", str(runs), "--batch-size", "32", *seeds, *TINY_CLI])
    assert code == 0, capsys.readouterr().err
    run_dir = runs / "dense-diabetes"
    report = json.loads((run_dir / "report.json").read_text())
    # The default objective of regression data is val_loss (the MSE), minimised.
    assert (report["config"]["objective"], report["config"]["direction"]) == ("val_loss", "min")
    assert report["dataset"]["task"] == "regression" and report["dataset"]["num_outputs"] == 1
    model = keras.models.load_model(run_dir / "best_model.keras", safe_mode=True)
    assert model.output_shape == (None, 1)  # DenseHyperModel(num_outputs=1, task="regression")
    data = load_csv(diabetes_csv, "target")  # the same split as the CLI's
    predicted = model.predict(data.x_test, verbose=0)[:, 0]
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    metrics = report["test_metrics"]
    assert metrics["r2"] == pytest.approx(r2_score(data.y_test, predicted), abs=1e-6)
    assert metrics["mse"] == pytest.approx(mean_squared_error(data.y_test, predicted), rel=1e-5)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(data.y_test, predicted), rel=1e-5)
    assert metrics["rmse"] == pytest.approx(np.sqrt(metrics["mse"]), rel=1e-9)
    assert "confusion_matrix" not in report
    plots = set(report["plots"])
    assert {"predicted_vs_true", "residuals"} <= plots and "confusion_matrix" not in plots
    markdown = (run_dir / "report.md").read_text()
    assert f"| r2 | {score_text(metrics['r2'])} |" in markdown
    assert "regression, 1 target" in markdown
    # Each test metric with its 95% interval, with the baseline off (it was shown only with
    # the baseline).
    from tunekit.stats import bootstrap_interval

    for name, found in report["test_intervals"].items():
        assert found["value"] == pytest.approx(metrics[name], rel=1e-4, abs=1e-6)
        expected = bootstrap_interval(data.y_test, predicted.reshape(data.y_test.shape), name)
        assert found["interval"] == pytest.approx(list(expected), rel=1e-3, abs=1e-6)
        assert found["method"] == "BCa bootstrap"
        low, high = found["interval"]
        interval = f"[{score_text(low)}, {score_text(high)}]"
        row = f"| {name} | {score_text(metrics[name])} | {interval} (BCa bootstrap) |"
        assert row in markdown
    # Every final seed is scored as the saved model is: scikit-learn's metrics for each.
    per_seed = report["final_seeds"]["per_seed"]
    assert list(per_seed) == ["0", "1"]
    for name in ("mse", "mae", "rmse", "r2"):
        assert per_seed["0"][name] == pytest.approx(metrics[name], rel=1e-6)
        assert np.isfinite(per_seed["1"][name])
        assert report["final_seeds"]["summary"][name]["n"] == 2


@pytest.mark.long
def test_a_regressor_no_better_than_the_mean_is_said_so_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Raw diabetes targets (25-346) after 1 epoch: R² < 0, once in the summary and report.

    The report's note and the baseline's verdict both said it, one after the other.
    """
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame  # targets as shipped, in the hundreds
    path = tmp_path / "diabetes_raw.csv"
    frame.to_csv(path, index=False)
    runs = tmp_path / "runs"
    args = ["--data", str(path), "--target", "target", "--hypermodel", "dense"]
    tiny = [a for a in TINY_CLI if a != "--no-baseline"]  # the baseline's verdict too
    code = main([*args, "--directory", str(runs), "--batch-size", "32", *tiny])
    out = capsys.readouterr().out
    assert code == 0, out
    run_dir = runs / "dense-diabetes_raw"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["test_metrics"]["r2"] < 0
    for name, found in report["test_intervals"].items():  # one value, not float32's and 64's
        assert found["value"] == report["test_metrics"][name], name
    assert report["test_note"].startswith(
        f"Note: test R² {report['test_metrics']['r2']:.4g} is no better than predicting the mean"
        " of the targets: the targets are far from unit scale (the test "
    )
    assert "standardise them" in report["test_note"]
    baseline = report["baseline"]
    assert baseline["note"].startswith("Note: the tuned model's test R² is")
    assert baseline["verdict"].startswith("tuned is ") and "Note:" not in baseline["verdict"]
    r2 = next(m for m in baseline["metrics"] if m["name"] == "r2")
    assert r2["baseline"] < 0  # the defaults after 1 epoch: as far off
    assert baseline["verdict"].endswith(
        f". Neither model predicts better than the mean of the targets (test R² "
        f"{r2['tuned']:.4g}, the baseline's {r2['baseline']:.4g})."
    )
    summary = out[out.index("== Summary ==") :]
    for text in (summary, (run_dir / "report.md").read_text()):
        assert text.count("no better than") == 1, text
    # Run again: already finished, so this command's seconds are fewer than its steps'.
    earlier = "the steps' times include the earlier sessions of this run"
    assert earlier not in summary
    assert main([*args, "--directory", str(runs), "--batch-size", "32", *tiny]) == 0
    again = capsys.readouterr().out
    (time_line,) = [line for line in again.splitlines() if line.startswith("Time: ")]
    assert time_line.endswith(f"(start-up, data, probe included; {earlier})"), time_line


def test_regression_default_objective_is_val_loss_and_a_classifiers_stays_val_accuracy(
    tmp_path: Path,
) -> None:
    from hypermodels import DenseHyperModel, MnistDenseHyperModel

    rng = np.random.default_rng(0)
    x = rng.random((60, 4), dtype=np.float32)
    values = Dataset.from_arrays(x, x.sum(axis=1))
    labels = Dataset.from_arrays(x, np.arange(60) % 2)
    run = CoarseToFine(DenseHyperModel((4,), num_outputs=1), values, directory=tmp_path)
    assert (run.objective.name, run.objective.direction) == ("val_loss", "min")
    run = CoarseToFine(MnistDenseHyperModel((4,), 2), labels, directory=tmp_path)
    assert (run.objective.name, run.objective.direction) == ("val_accuracy", "max")
    run = CoarseToFine(DenseHyperModel((4,), num_outputs=1), values, objective="val_mae")
    assert (run.objective.name, run.objective.direction) == ("val_mae", "min")


def test_task_overrides_the_inference_for_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "counts.npz"
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.random((40, 3)),
        y_train=np.arange(40) % 4,
        x_test=rng.random((10, 3)),
        y_test=np.arange(10) % 4,
    )
    parse = build_parser().parse_args
    assert _load_data(parse(["--data", str(path)])).task == "classification"
    data = _load_data(parse(["--data", str(path), "--task", "regression"]))
    assert data.task == "regression" and data.num_outputs == 1
    np.testing.assert_array_equal(data.y_test, np.arange(10) % 4)


# -- several inputs and class weights -------------------------------------------------

FIT_CALLS: list[Any] = []


def two_inputs(hp: kt.HyperParameters, width: int = 2) -> keras.Model:
    """A functional model of two named inputs, `a` (4 features) and `b` (3 features)."""
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    joined = keras.layers.Concatenate()(
        [keras.layers.Dense(hp.Int("units_a", 4, 12, step=4))(a), keras.layers.Dense(4)(b)]
    )
    out = keras.layers.Dense(width, activation="softmax")(keras.layers.Activation("relu")(joined))
    model = keras.Model({"a": a, "b": b}, out)
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class RecordsFit(kt.HyperModel):
    """`two_inputs`, whose `fit` records the `class_weight` that `model.fit` receives."""

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return two_inputs(hp)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        FIT_CALLS.append(kwargs.get("class_weight"))
        return model.fit(*args, **kwargs)


def _two_input_data() -> Dataset:
    """400 samples of two inputs, 95% class 0 and 5% class 1 (class 1 is shifted in `a`)."""
    rng = np.random.default_rng(0)
    y = (np.arange(400) % 20 == 0).astype(np.int64)
    x = {
        "a": rng.random((400, 4), dtype=np.float32) + y[:, None],
        "b": rng.random((400, 3), dtype=np.float32),
    }
    return Dataset.from_arrays(x, y)


def _balanced_accuracy_everywhere(
    result: Any, report: dict[str, Any], y_test: Any, predicted: Any, tmp_path: Path
) -> None:
    """Under class weights the verdict is decided on balanced accuracy, and it is a test
    metric like any other: `test_metrics`, report.json, report.md's Test set table,
    `test_intervals` (the baseline table's interval), the final seeds, the `Test:` line and
    `tunekit compare`; `tunekit ls` still ranks every run by accuracy (one quantity)."""
    import shutil

    from sklearn.metrics import balanced_accuracy_score

    from tunekit.cli_summary import summary
    from tunekit.runs import compare_runs, ls_runs

    balanced = balanced_accuracy_score(y_test, predicted)
    assert result.test_metrics["balanced_accuracy"] == pytest.approx(balanced, abs=1e-12)
    assert report["test_metrics"]["balanced_accuracy"] == result.test_metrics["balanced_accuracy"]
    found = report["test_intervals"]["balanced_accuracy"]
    row = report["baseline"]["metrics"][0]
    assert row["name"] == "balanced_accuracy" and found["method"] == "BCa bootstrap"
    assert found["value"] == pytest.approx(balanced) and found["interval"] == row["tuned_interval"]
    low, high = found["interval"]
    markdown = (result.run_dir / "report.md").read_text()
    test_set = markdown.split("## Test set")[1].split("## ")[0]
    assert f"| balanced_accuracy | {balanced:.4f} | [{low:.4f}, {high:.4f}] (BCa bootstrap) |" in (
        test_set
    )
    assert "balanced_accuracy" in report["baseline"]["baseline_model"]["test_metrics"]
    seeds = report["final_seeds"]
    assert set(seeds["summary"]) == set(report["test_metrics"])
    assert all("balanced_accuracy" in m for m in seeds["per_seed"].values())
    mean = seeds["summary"]["balanced_accuracy"]["mean"]
    seeds_table = markdown.split("## Final model over seeds")[1]
    assert f"| balanced_accuracy | {mean:.4f} |" in seeds_table
    printed = summary(result)
    assert f"balanced_accuracy {balanced:.4f} (95% BCa bootstrap [{low:.4f}, {high:.4f}])" in (
        printed
    )
    assert f"; balanced_accuracy mean {mean:.4f};" in printed  # the final seeds' line
    shutil.copytree(result.run_dir, tmp_path / "copy")  # `compare` takes two runs
    compared = compare_runs(result.run_dir, tmp_path / "copy")
    assert compared.loc["test.balanced_accuracy"].tolist() == [pytest.approx(balanced)] * 2
    listed = ls_runs(tmp_path)
    assert set(listed["test_metric"]) == {"accuracy"}  # the same quantity as every other run


@pytest.mark.long
def test_two_input_model_with_balanced_class_weights_end_to_end(tmp_path: Path) -> None:
    data = _two_input_data()
    FIT_CALLS.clear()
    # With the finalists, final seeds and baseline on: every fit must weigh the classes alike.
    trusted = {**TINY, "finalists": 2, "finalist_seeds": 1, "final_seeds": 2, "baseline": True}
    run = CoarseToFine(
        RecordsFit(), data, directory=tmp_path, class_weight="balanced", batch_size=64, **trusted
    )
    result = run.run()
    # Class weights: what model.fit received, in every trial and in the retrain.
    counts = np.bincount(data.y_train)
    assert counts[0] / counts[1] > 15  # the 95/5 split survived the stratified split
    expected = {c: len(data.y_train) / (2 * counts[c]) for c in (0, 1)}
    # every coarse and fine trial, 2 finalists x 1 seed, the retrain, 1 more final seed, baseline
    assert len(FIT_CALLS) == 3 + 2 + 2 + 1 + 1 + 1
    for received in FIT_CALLS:
        assert received.keys() == {0, 1} and received == pytest.approx(expected)
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["class_weight"]["mode"] == "balanced"
    assert report["class_weight"]["weights"] == pytest.approx({"0": expected[0], "1": expected[1]})
    assert report["config"]["class_weight"] == "balanced"
    # Two inputs: the saved model scores the dict test set, and the report says so.
    model = keras.models.load_model(result.run_dir / "best_model.keras", safe_mode=True)
    predicted = model.predict(data.x_test, verbose=0).argmax(-1)
    from sklearn.metrics import accuracy_score, confusion_matrix

    assert result.test_metrics["accuracy"] == pytest.approx(
        accuracy_score(data.y_test, predicted), abs=1e-6
    )
    assert report["dataset"]["input_shape"] == {"a": [4], "b": [3]}
    np.testing.assert_array_equal(
        report["confusion_matrix"]["counts"], confusion_matrix(data.y_test, predicted)
    )
    _balanced_accuracy_everywhere(result, report, data.y_test, predicted, tmp_path)
    # A rerun without the weighting is another configuration: refused, nothing trained.
    FIT_CALLS.clear()
    with pytest.raises(RunConfigError, match="class_weight"):
        CoarseToFine(RecordsFit(), data, directory=tmp_path, batch_size=64, **trusted).run()
    assert FIT_CALLS == []


@pytest.mark.long
def test_keras_class_weight_dict_reaches_every_fit_and_resumes(tmp_path: Path) -> None:
    """Plain KerasTuner passes `search(..., class_weight={0: 1, 1: 10})` to every fit;
    tunekit refused any class_weight but "balanced"."""
    data = _two_input_data()
    FIT_CALLS.clear()
    given = {1: 10, 0: 1}
    run = CoarseToFine(RecordsFit(), data, directory=tmp_path, class_weight=given, **TINY)
    run.run()
    assert len(FIT_CALLS) == 3 + 2 + 1  # every coarse and fine trial, and the retrain
    assert all(received == {0: 1.0, 1: 10.0} for received in FIT_CALLS)
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["class_weight"]["weights"] == {"0": 1.0, "1": 10.0}
    assert report["class_weight"]["passed_to"] == "own fit"  # it applies them as it does
    assert (
        "- Class weights (as given; given to your hypermodel's own fit as "
        "kwargs['class_weight'] in every trial and the retrain, applied as that fit applies "
        "them): 0: 1, 1: 10" in (run.run_dir / "report.md").read_text()
    )
    # The same weights resume (nothing trains); other weights are another configuration.
    FIT_CALLS.clear()
    CoarseToFine(
        RecordsFit(), data, directory=tmp_path, class_weight={0: 1.0, 1: 10.0}, **TINY
    ).run()
    assert FIT_CALLS == []
    with pytest.raises(RunConfigError, match="class_weight"):
        CoarseToFine(RecordsFit(), data, directory=tmp_path, class_weight={1: 5}, **TINY).run()
    assert FIT_CALLS == []


def test_class_weight_flag_reaches_coarse_to_fine_and_is_refused_for_regression(
    tmp_path: Path, diabetes_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["--class-weight", "balanced"])
    assert _workflow_kwargs(args)["class_weight"] == "balanced"
    assert _workflow_kwargs(build_parser().parse_args([])).get("class_weight") is None
    runs = tmp_path / "runs"
    data = ["--data", str(diabetes_csv), "--target", "target", "--class-weight", "balanced"]
    assert main([*data, "--directory", str(runs), *TINY_CLI]) == 2
    err = capsys.readouterr().err
    assert "regression" in err and "--class-weight" in err and len(err.splitlines()) == 1
    assert not runs.exists() or not any(runs.rglob("*.json"))
    with pytest.raises(DataError, match="classification"):
        class_weights(load_csv(diabetes_csv, "target"))


@pytest.mark.parametrize("forced", [False, True], ids=["inferred", "task-regression"])
def test_class_weights_of_a_regression_csv_are_refused_before_keras_loads(
    tmp_path: Path, forced: bool
) -> None:
    """Said after 110 s under load (Keras, the hypermodel and the run were set up first)."""
    import subprocess
    import sys

    from sklearn.datasets import load_breast_cancer, load_diabetes

    load = load_breast_cancer if forced else load_diabetes  # 0/1 ids, or real-valued targets
    path = tmp_path / "data.csv"
    load(as_frame=True).frame.to_csv(path, index=False)
    argv = ["--data", str(path), "--target", "target", "--class-weight", "balanced"]
    argv += ["--task", "regression"] if forced else []
    argv += ["--directory", str(tmp_path / "runs")]
    code = (
        "import sys; from tunekit.coarse_to_fine import main; "
        f"code = main({argv!r}); "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules; "
        "sys.exit(code)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert err == (
        "error: Class weights are for classification, and this data's task is regression "
        "(set by --task, or inferred from real-valued targets): there are no classes to "
        "weigh. Leave --class-weight unset, or pass --task classification if the targets "
        "are class ids."
    )
    assert not any((tmp_path / "runs").rglob("*.json"))


def test_a_two_input_model_of_the_wrong_width_names_both_shapes(tmp_path: Path) -> None:
    def too_wide(hp: kt.HyperParameters) -> keras.Model:
        return two_inputs(hp, width=3)

    data = _two_input_data()
    with pytest.raises(OutputShapeError) as info:
        CoarseToFine(too_wide, data, directory=tmp_path).open()
    message = str(info.value)
    assert "(None, 3)" in message and "2 classes" in message
    assert f"The targets (y_train) have shape {data.y_train.shape}" in message
    assert not any(tmp_path.iterdir())


# -- bad inputs: exit 2 before any training ------------------------------------------


def _float_targets_npz(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(0)
    path = tmp_path / "temperatures.npz"
    np.savez(
        path,
        x_train=rng.random((40, 3)),
        y_train=rng.random(40) * 20,
        x_test=rng.random((10, 3)),
        y_test=rng.random(10) * 20,
    )
    return ["--data", str(path), "--task", "classification"]


def _text_column_csv(tmp_path: Path) -> list[str]:
    path = tmp_path / "rivers.csv"
    rows = [f"{i / 10},{'north' if i % 2 else 'south'},{10 + i % 7}.5" for i in range(40)]
    path.write_text("flow,region,temperature\n" + "\n".join(rows) + "\n")
    return ["--data", str(path), "--target", "temperature"]


def _unknown_target(tmp_path: Path) -> list[str]:
    path = tmp_path / "rivers.csv"
    pd.DataFrame({"flow": np.arange(40) / 10, "temperature": np.arange(40) % 7 + 0.5}).to_csv(
        path, index=False
    )
    return ["--data", str(path), "--target", "temp"]


def _no_target(tmp_path: Path) -> list[str]:
    return _unknown_target(tmp_path)[:2]


def _wide_model(tmp_path: Path) -> list[str]:
    (tmp_path / "h16_wide_model.py").write_text(
        textwrap.dedent("""
        import keras

        def build(hp):
            model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3)])
            model.compile(optimizer="adam", loss="mse")
            return model
        """)
    )
    return [*_unknown_target(tmp_path)[:3], "temperature", "--hypermodel", "h16_wide_model:build"]


def _target_for_npz(tmp_path: Path) -> list[str]:
    return [*_float_targets_npz(tmp_path)[:2], "--target", "y"]


def _regression_of_mnist(tmp_path: Path) -> list[str]:
    return ["--task", "regression"]


@pytest.mark.parametrize(
    "make_args, said",
    [
        (_float_targets_npz, ["--task classification", "y_train"]),
        (_text_column_csv, ["'region'", "not numeric", "rivers.csv"]),
        (_unknown_target, ["--target temp", "['flow', 'temperature']"]),
        (_no_target, ["--target COLUMN", "['flow', 'temperature']"]),
        (_wide_model, ["(None, 3)", "(n,) or (n, 1)", "The targets (y_train) have shape"]),
        (_target_for_npz, ["--target only applies to a CSV"]),
        (_regression_of_mnist, ["--task regression does not apply to MNIST"]),
    ],
    ids=[
        "float-targets-as-classes",
        "text-column",
        "unknown-target",
        "no-target",
        "wide-model",
        "target-for-npz",
        "regression-of-mnist",
    ],
)
def test_bad_own_data_exits_2_before_training(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_args: Any,
    said: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main([*make_args(tmp_path), "--directory", str(runs), *TINY_CLI]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    for text in said:
        assert text in err, (text, err)
    assert not runs.exists() or not any(runs.rglob("manifest.json"))


# -- regression plots ----------------------------------------------------------------


def test_regression_plots_draw_the_predictions_and_residuals(tmp_path: Path) -> None:
    from sklearn.metrics import r2_score

    from tunekit import plots

    true = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 35.0], [4.0, 38.0]])
    pred = np.array([[1.5, 12.0], [2.0, 18.0], [2.5, 30.0], [4.5, 40.0]])
    fig = plots.predicted_vs_true(true, pred)
    axes = fig.axes
    assert len(axes) == 2  # one panel per target
    for j, ax in enumerate(axes):
        points = next(c for c in ax.collections if c.get_gid() == "samples").get_offsets()
        np.testing.assert_allclose(np.asarray(points), np.column_stack([true[:, j], pred[:, j]]))
        assert ax.get_title().startswith(f"R² {r2_score(true[:, j], pred[:, j]):.3f}")
    fig = plots.residuals(true[:, 0], pred[:, :1])  # (n,) targets, (n, 1) predictions
    points = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(
        np.asarray(points), np.column_stack([pred[:, 0], true[:, 0] - pred[:, 0]])
    )
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(4, 1\)"):
        plots.residuals(true, pred[:, :1])


@pytest.mark.slow
def test_regression_csv_with_two_workers_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], diabetes_csv: Path
) -> None:
    """`--workers 2` on a CSV: each worker loads the same file; every trial runs once."""
    runs = tmp_path / "runs"
    args = ["--data", str(diabetes_csv), "--target", "target", "--hypermodel", "dense"]
    code = main(
        [*args, "--directory", str(runs), "--batch-size", "32", "--workers", "2", *TINY_CLI]
    )
    assert code == 0, capsys.readouterr().err
    run_dir = runs / "dense-diabetes"
    report = json.loads((run_dir / "report.json").read_text())
    assert sorted(report["distributed"]["workers_seen"]) == ["local0", "local1"]
    assert report["dataset"]["task"] == "regression"
    model = keras.models.load_model(run_dir / "best_model.keras", safe_mode=True)
    data = load_csv(diabetes_csv, "target")
    from sklearn.metrics import r2_score

    predicted = model.predict(data.x_test, verbose=0)[:, 0]
    assert report["test_metrics"]["r2"] == pytest.approx(r2_score(data.y_test, predicted), abs=1e-6)
    trials = pd.read_csv(run_dir / "trials.csv")
    assert trials["trial"].is_unique and len(trials) == 3 + 2  # each trial ran exactly once


def _class_and_value_build(hp: kt.HyperParameters) -> keras.Model:
    """Two outputs: a class (`kind`, 3 classes) and a value (`size`)."""
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu")(inputs)
    kind = keras.layers.Dense(3, activation="softmax", name="kind")(hidden)
    size = keras.layers.Dense(1, name="size")(hidden)
    model = keras.Model(inputs, {"kind": kind, "size": size})
    model.compile(
        keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 1e-2, sampling="log")),
        loss={"kind": "sparse_categorical_crossentropy", "size": "mse"},
        metrics={"kind": ["accuracy"], "size": ["mae"]},
    )
    return model


@pytest.mark.long
def test_a_class_and_a_value_output_tune_on_one_outputs_metric(tmp_path: Path) -> None:
    """Mixed outputs: the message names the task that works; `val_kind_accuracy` is a max."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype("float32")
    y = {"kind": (x[:, 0] > 0).astype(int) + (x[:, 1] > 1), "size": x[:, 2] * 2.0}
    with pytest.raises(DataError, match=r'mix tasks .*Pass task="regression"'):
        Dataset.from_arrays(x, y)
    data = Dataset.from_arrays(x, y, task="regression")
    run = CoarseToFine(
        _class_and_value_build,
        data,
        directory=tmp_path,
        objective="val_kind_accuracy",
        **{**TINY, "baseline": True},
    )
    result = run.run()
    assert (run.objective.name, run.objective.direction) == ("val_kind_accuracy", "max")
    # The report says plainly what it cannot do for several outputs (no internal error, no
    # links to plots of one target that were not drawn).
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["baseline"]["verdict"].startswith("no comparison: the model has several outputs")
    markdown = (run.run_dir / "report.md").read_text()
    assert "predicted_vs_true" not in markdown and "float() argument" not in markdown
    # The chosen trial is the best by that metric, higher being better.
    best = max(v["score"] for v in result.phase_bests.values())
    assert result.phase_bests[result.best_phase]["score"] == best
    assert 0.0 <= result.test_metrics["kind_accuracy"] <= 1.0 and "size_mae" in result.test_metrics
    # The class output's test accuracy is judged against its most frequent class (it was not).
    share = np.bincount(data.y_test["kind"].astype(int)).max() / len(data.y_test["kind"])
    noted = result.test_metrics["kind_accuracy"] <= share
    assert (report["test_note"] is not None) == noted
    assert not noted or "output 'kind''s most frequent class" in report["test_note"]
