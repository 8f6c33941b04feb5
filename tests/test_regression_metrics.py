"""`tunekit.regression.regression_metrics` against scikit-learn on the bundled diabetes data."""

from __future__ import annotations

import json
import math
import shutil
import types

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from tunekit.errors import OutputShapeError
from tunekit.regression import REGRESSION_METRICS, check_regression_output_shape, regression_metrics
from tunekit.score_text import score_text


@pytest.fixture(scope="module")
def diabetes_predictions():
    x, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(x[:300], y[:300])
    return y[300:], model.predict(x[300:])


def test_metrics_equal_sklearn_on_diabetes(diabetes_predictions):
    y, pred = diabetes_predictions
    scores = regression_metrics(y, pred[:, None])  # a Keras model's (n, 1) output
    assert tuple(scores) == REGRESSION_METRICS
    assert scores["mse"] == pytest.approx(mean_squared_error(y, pred), rel=1e-12)
    assert scores["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-12)
    assert scores["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, pred)), rel=1e-12)
    assert scores["r2"] == pytest.approx(r2_score(y, pred), rel=1e-12)
    assert 0.3 < scores["r2"] < 0.7 and all(type(v) is float for v in scores.values())
    assert regression_metrics(y, y) == {"mse": 0.0, "mae": 0.0, "rmse": 0.0, "r2": 1.0}
    assert regression_metrics(y, np.full_like(y, y.mean()))["r2"] == pytest.approx(0.0)


def test_several_targets_are_averaged_like_sklearn(diabetes_predictions):
    y, pred = diabetes_predictions
    true2, pred2 = np.stack([y, y / 10], axis=1), np.stack([pred, pred / 10 + 1], axis=1)
    scores = regression_metrics(true2, pred2)
    assert scores["r2"] == pytest.approx(r2_score(true2, pred2))
    assert scores["mse"] == pytest.approx(mean_squared_error(true2, pred2))
    # Each target's RMSE averaged, as scikit-learn (the root of the mean MSE was reported).
    from sklearn.metrics import root_mean_squared_error

    assert scores["rmse"] == pytest.approx(root_mean_squared_error(true2, pred2), rel=1e-12)
    assert scores["rmse"] != pytest.approx(math.sqrt(scores["mse"]), rel=1e-3)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        (
            np.zeros(5),
            np.zeros((5, 2)),
            r"targets have shape \(5,\), predictions have shape \(5, 2\)",
        ),
        (np.zeros(5), np.zeros(4), r"targets have shape \(5,\), predictions have shape \(4,\)"),
        (np.zeros(3), [1.0, np.nan, 2.0], r"predictions hold 1 NaN or infinite value"),
        (np.zeros(0), np.zeros(0), r"No samples to score"),
    ],
)
def test_bad_predictions_are_refused(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        regression_metrics(y_true, y_pred)


def test_output_shape_check_for_regression():
    check_regression_output_shape((None, 1), 1)
    check_regression_output_shape((None,), 1)
    check_regression_output_shape((None, 3), 3)
    for shape, width, message in [
        (
            (None, 10),
            1,
            r"outputs shape \(None, 10\), but the regression targets have shape "
            r"\(n,\) or \(n, 1\).*Dense\(1\)",
        ),
        ((None, 1), 3, r"outputs shape \(None, 1\), .*targets have shape \(n, 3\).*Dense\(3\)"),
        ((None,), 2, r"outputs shape \(None,\)"),
        ((None, 4, 1), 1, r"outputs shape \(None, 4, 1\)"),
    ]:
        with pytest.raises(OutputShapeError, match=message):
            check_regression_output_shape(shape, width)


def test_a_metric_of_the_models_own_keeps_its_name_and_sklearns_goes_beside_it():
    """Found by a new user: Keras's `RootMeanSquaredError(name="rmse")` over 2 targets (0.6670,
    the quantity `val_rmse` ranked by) was replaced by scikit-learn's mean of per-target RMSEs
    (0.5658) under the same name. Every name tunekit adds (mse, mae, rmse, r2), and the
    intervals (the accuracy's too), follow one rule: `tunekit.regression.own_name`."""
    from tunekit.regression import beside_keras, own_name
    from tunekit.report_scores import beside_metrics, test_table

    keras_metrics = {"loss": 0.4449, "rmse": 0.6670}
    ours = {"mse": 0.4449, "mae": 0.4474, "rmse": 0.5658, "r2": -0.18}
    merged = {**keras_metrics, **beside_keras(keras_metrics, ours)}
    assert merged["rmse"] == 0.6670 and merged["sklearn_rmse"] == 0.5658
    assert set(merged) == {"loss", "rmse", "sklearn_rmse", "mse", "mae", "r2"}
    # The same metric in float32 and float64 (Keras's `metrics=["mae"]`): one name, one value.
    assert own_name("mae", 0.44737732842, {"mae": 0.44737735}) == "mae"
    # A weighted `mae` (`weighted_metrics`) and a user's "r2" of another definition.
    assert own_name("mae", 0.6011, {"mae": 0.8070}) == "sklearn_mae"
    assert own_name("r2", 0.30, {"r2": 0.25}) == "sklearn_r2"
    # Another kind: a metric of the user's called `accuracy` that is not the share of right
    # predicted classes; the Wilson interval of tunekit's accuracy goes to its own row.
    intervals = {"accuracy": {"value": 0.93, "interval": [0.83, 0.97], "method": "Wilson"}}
    moved = beside_metrics(intervals, {"loss": 0.2, "accuracy": 0.5})
    assert list(moved) == ["sklearn_accuracy"]
    table = test_table({"test_metrics": {"loss": 0.2, "accuracy": 0.5}, "test_intervals": moved})
    assert "| accuracy | 0.5000 |  |" in table
    assert "| sklearn_accuracy | 0.9300 | [0.8300, 0.9700] (Wilson) |" in table
    kept = beside_metrics(intervals, {"loss": 0.2, "accuracy": 0.93})
    assert list(kept) == ["accuracy"]


@pytest.mark.long  # a whole run with its baseline: about 20 s
def test_a_keras_rmse_over_two_targets_is_the_test_rmse_of_the_saved_model(tmp_path):
    """The probe's run (diabetes, 2 targets, objective `val_rmse`): test_metrics["rmse"], the
    report and the baseline's table gave scikit-learn's 0.5658 for the model's own 0.6670."""
    import json

    import keras
    from sklearn.metrics import root_mean_squared_error

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    x, y = load_diabetes(return_X_y=True)
    x = (x * 10).astype("float32")
    targets = np.stack([y / 100, x[:, 2] * 0.5 + x[:, 3] * 0.3], 1).astype("float32")
    data = Dataset.from_arrays(x, targets)

    def build(hp):
        model = keras.Sequential(
            [keras.Input((10,)), keras.layers.Dense(hp.Int("units", 8, 16, step=8)),
             keras.layers.Dense(2)]
        )  # fmt: skip
        model.compile("adam", "mse", metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
        return model

    result = CoarseToFine(
        build, data, directory=tmp_path, project_name="p", objective="val_rmse",
        coarse_trials=3, coarse_epochs=1, fine_tuner="bayesian", fine_trials=1, max_epochs=1,
        batch_size=64, verbose=0,
    ).run()  # fmt: skip
    model = keras.models.load_model(tmp_path / "p" / "best_model.keras")
    own = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["rmse"]
    sklearn_rmse = root_mean_squared_error(data.y_test, model.predict(data.x_test, verbose=0))
    assert abs(own - sklearn_rmse) > 1e-3  # two quantities: the probe's case
    assert result.test_metrics["rmse"] == pytest.approx(own, rel=1e-6)
    assert result.test_metrics["sklearn_rmse"] == pytest.approx(sklearn_rmse, rel=1e-5)
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["test_metrics"]["rmse"] == pytest.approx(own, rel=1e-6)
    assert "rmse" not in report["test_intervals"]  # the interval is scikit-learn's value's
    assert report["test_intervals"]["sklearn_rmse"]["value"] == pytest.approx(sklearn_rmse)
    rows = {row["name"]: row for row in report["baseline"]["metrics"]}
    assert rows["sklearn_rmse"]["tuned"] == pytest.approx(sklearn_rmse)
    assert rows["rmse"]["tuned"] == pytest.approx(own, rel=1e-6) and rows["rmse"]["objective"]
    assert "val_rmse (lower is better): test rmse" in report["baseline"]["verdict"]
    markdown = (tmp_path / "p" / "report.md").read_text()
    assert f"| rmse | {score_text(own)} |  |" in markdown
    assert "scikit-learn's is sklearn_rmse" in markdown


@pytest.mark.long  # a whole run with two final seeds
def test_a_top2_metric_named_accuracy_keeps_its_name_and_sklearns_accuracy_goes_beside_it(
    tmp_path,
):
    """The probe's run (a classifier compiling `SparseTopKCategoricalAccuracy(k=2,
    name="accuracy")`): tunekit's own accuracy was only an interval; test_metrics, the summary,
    report.md's headline and the final seeds' line gave the top-2 value alone."""
    import keras
    from sklearn.datasets import load_digits
    from sklearn.metrics import accuracy_score

    from tunekit import CoarseToFine
    from tunekit.cli_summary import summary
    from tunekit.data import Dataset

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays((x / 16).astype("float32"), y)

    def build(hp):
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(hp.Int("units", 8, 16, step=8), "relu"),
             keras.layers.Dense(10, "softmax")]
        )  # fmt: skip
        top2 = keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="accuracy")
        model.compile("adam", "sparse_categorical_crossentropy", metrics=[top2])
        return model

    result = CoarseToFine(
        build, data, directory=tmp_path, project_name="p", coarse_trials=3, coarse_epochs=1,
        fine_tuner="bayesian", fine_trials=1, max_epochs=1, final_epochs=1, batch_size=64,
        baseline=False, final_seeds=2, verbose=0,
    ).run()  # fmt: skip
    model = keras.models.load_model(tmp_path / "p" / "best_model.keras")
    own = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["accuracy"]
    ours = accuracy_score(data.y_test, np.argmax(model.predict(data.x_test, verbose=0), 1))
    assert abs(own - ours) > 1e-3  # top-2 and top-1: two quantities
    assert result.test_metrics["accuracy"] == pytest.approx(own, rel=1e-6)
    assert result.test_metrics["sklearn_accuracy"] == pytest.approx(ours)
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["test_metrics"]["sklearn_accuracy"] == pytest.approx(ours)
    assert report["test_intervals"]["sklearn_accuracy"]["value"] == pytest.approx(ours)
    seeds = report["final_seeds"]
    assert all("sklearn_accuracy" in m for m in seeds["per_seed"].values())
    assert "sklearn_accuracy" in seeds["summary"]
    printed = summary(result)
    assert f"sklearn_accuracy {ours:.4f}" in printed and f"accuracy {own:.4f}" in printed
    assert "; sklearn_accuracy mean " in printed  # the final seeds' line
    headline = (tmp_path / "p" / "report.md").read_text().split("**Chosen:**")[1].split("\n")[0]
    assert f"sklearn_accuracy {ours:.4f}" in headline and f"test accuracy {own:.4f}" in headline


def _scored_like_a_run(build, x, y):
    """`(test_metrics, intervals)` of `build`'s model fitted one epoch, as the evaluate step
    gives them: every metric, and each interval under the metric whose value it is."""
    import keras_tuner as kt

    from tunekit._kerastuner import get_hypermodel
    from tunekit.data import Dataset
    from tunekit.report_scores import beside_metrics, test_intervals
    from tunekit.steps.base import test_metrics
    from tunekit.steps.evaluate import test_predictions

    data = Dataset.from_arrays(x, y, seed=0)
    ctx = types.SimpleNamespace(data=data, hypermodel=get_hypermodel(build))
    model = build(kt.HyperParameters())
    model.fit(data.x_train, data.y_train, epochs=1, batch_size=32, verbose=0)
    metrics = test_metrics(ctx, model, 64, test_predictions(ctx, model, 64))
    predicted = test_predictions(ctx, model, 64)
    intervals = beside_metrics(test_intervals(data.y_test, predicted, data.task), metrics)
    return metrics, intervals, data, predicted


def test_every_test_value_tunekit_computes_is_a_test_metric_whatever_the_model_compiles():
    """The probe's model (binary, `metrics=[AUC(), Precision(), Recall()]`, no `accuracy`):
    `test_metrics` and report.json held auc, loss, precision and recall, while report.md's
    test table, `test_intervals` and the baseline's table gave `accuracy 0.9651 [0.9024,
    0.9881]`, and the final seeds (scored by `test_metrics`) had no accuracy. Every value
    tunekit reports for the test set is a test metric, under one name."""
    import keras
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import accuracy_score
    from sklearn.preprocessing import StandardScaler

    def binary(hp):
        model = keras.Sequential(
            [keras.Input((30,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(1, "sigmoid")]
        )
        metrics = [keras.metrics.AUC(), keras.metrics.Precision(), keras.metrics.Recall()]
        model.compile("adam", "binary_crossentropy", metrics=metrics)
        return model

    x, y = load_breast_cancer(return_X_y=True)
    x = StandardScaler().fit_transform(x).astype("float32")
    metrics, intervals, data, predicted = _scored_like_a_run(binary, x, y)
    assert set(intervals) == {"accuracy"} and set(intervals) <= set(metrics)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(data.y_test, predicted))
    assert metrics["accuracy"] == pytest.approx(intervals["accuracy"]["value"])
    assert {"auc", "loss", "precision", "recall"} <= set(metrics)

    def regression(hp):  # Keras's mae only: tunekit's mse, rmse and r2 beside it
        model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
        model.compile("adam", "mse", metrics=["mae"])
        return model

    x, y = load_diabetes(return_X_y=True)
    metrics, intervals, data, predicted = _scored_like_a_run(
        regression, (x * 10).astype("float32"), (y / 100).astype("float32")
    )
    assert set(intervals) == set(REGRESSION_METRICS) and set(intervals) <= set(metrics)
    for name in REGRESSION_METRICS:
        assert metrics[name] == pytest.approx(intervals[name]["value"], rel=1e-4)


@pytest.mark.long  # a whole run with its baseline and two final seeds
def test_a_classifier_without_an_accuracy_metric_gets_tunekits_accuracy_everywhere(tmp_path):
    """The probe's run (`metrics=[AUC(), Precision(), Recall()]`, objective `val_auc`):
    report.md's test table, the intervals and the baseline's table gave `accuracy`, while
    `test_metrics`, report.json, the final seeds' table and `tunekit compare` had none."""
    import keras
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    from tunekit import CoarseToFine
    from tunekit.cli_summary import summary
    from tunekit.data import Dataset
    from tunekit.runs import compare_runs

    x, y = load_breast_cancer(return_X_y=True)
    data = Dataset.from_arrays(StandardScaler().fit_transform(x).astype("float32"), y)

    def build(hp):
        model = keras.Sequential(
            [keras.Input((30,)), keras.layers.Dense(hp.Int("units", 4, 16, step=4), "relu"),
             keras.layers.Dense(1, "sigmoid")]
        )  # fmt: skip
        metrics = [keras.metrics.AUC(), keras.metrics.Precision(), keras.metrics.Recall()]
        model.compile("adam", "binary_crossentropy", metrics=metrics)
        return model

    result = CoarseToFine(
        build, data, directory=tmp_path, project_name="p", objective="val_auc",
        coarse_trials=3, coarse_epochs=1, fine_tuner="bayesian", fine_trials=1, max_epochs=1,
        final_epochs=1, batch_size=64, final_seeds=2, verbose=0,
    ).run()  # fmt: skip
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    accuracy = report["test_intervals"]["accuracy"]["value"]
    assert result.test_metrics["accuracy"] == pytest.approx(accuracy)
    assert report["test_metrics"]["accuracy"] == pytest.approx(accuracy)
    assert set(report["test_intervals"]) <= set(report["test_metrics"])
    assert {row["name"] for row in report["baseline"]["metrics"]} <= set(report["test_metrics"])
    assert set(report["baseline"]["baseline_model"]["test_metrics"]) == set(result.test_metrics)
    seeds = report["final_seeds"]
    assert set(seeds["summary"]) == set(report["test_metrics"])
    assert all("accuracy" in m for m in seeds["per_seed"].values())
    markdown = (tmp_path / "p" / "report.md").read_text()
    seeds_table = markdown.split("## Final model over seeds")[1]
    assert f"| accuracy | {seeds['summary']['accuracy']['mean']:.4f} |" in seeds_table
    assert f"accuracy {accuracy:.4f} (95% Wilson" in summary(result)
    shutil.copytree(tmp_path / "p", tmp_path / "copy")  # `compare` takes two runs
    compared = compare_runs(tmp_path / "p", tmp_path / "copy")
    assert compared.loc["test.accuracy"].tolist() == [pytest.approx(accuracy)] * 2
