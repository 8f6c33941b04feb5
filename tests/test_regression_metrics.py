"""`tunekit.regression.regression_metrics` against scikit-learn on the bundled diabetes data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from tunekit.errors import OutputShapeError
from tunekit.regression import REGRESSION_METRICS, check_regression_output_shape, regression_metrics


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
