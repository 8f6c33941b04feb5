"""A model's `weighted_metrics` on a test set without sample weights: said, not hidden.

A hypermodel whose own `fit` passes `sample_weight=` and whose model compiles
`weighted_metrics=["accuracy"]` got a report whose test metrics read
`{'accuracy': 0.94186, 'weighted_accuracy': 0.94186}` with no word: tunekit's
test evaluation passes no sample weights, so `weighted_accuracy` on the test
set is plain accuracy under a name that says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
from conftest import BAYES_BUDGET

from tunekit import CoarseToFine
from tunekit.data import Dataset

_RNG = np.random.default_rng(0)


class _WeighingFit(kt.HyperModel):
    """Its own fit weighs class 1 by `w1` (the README's pattern: weights computed from y)."""

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(hp.Int("units", 4, 8, step=4), "relu")]
            + [keras.layers.Dense(2, activation="softmax")]
        )
        model.compile(
            "adam",
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
            weighted_metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, x, y, **kwargs):  # type: ignore[no-untyped-def]
        weights = np.where(np.asarray(y) == 1, hp.Choice("w1", [3.0, 5.0]), 1.0)
        return model.fit(x, y, sample_weight=weights.astype("float32"), **kwargs)


# What report.md writes after such a metric's name (`tunekit.report_weights.UNWEIGHTED`).
UNWEIGHTED = " (unweighted: no test sample weights)"


@pytest.mark.long  # a whole run with two final seeds and the baseline: about 20 s
def test_a_weighted_metric_on_an_unweighted_test_set_is_said_unweighted(tmp_path: Path) -> None:
    x = _RNG.normal(size=(240, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * _RNG.normal(size=240) > 0.3).astype("int64")
    data = Dataset.from_arrays(x, y, seed=0)
    budget = {**BAYES_BUDGET, "baseline": True, "final_seeds": 2}
    run = CoarseToFine(_WeighingFit(), data, directory=tmp_path, project_name="p", **budget)
    result = run.run()
    assert result.test_metrics["weighted_accuracy"] == pytest.approx(
        result.test_metrics["accuracy"]
    )
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report.get("unweighted_test_metrics") == ["weighted_accuracy"]
    note = report["test_note"] or ""
    assert (
        "weighted_accuracy on the test set (and the baseline's and every final seed's) is "
        "unweighted, although compiled as `weighted_metrics`: the test data carry no sample "
        "weights, so Keras counted each test sample once." in note
    )
    # The fit's weights reached the training values only: the trials show the validation's.
    trials = pd.read_csv(tmp_path / "p" / "trials.csv")
    assert (trials["weighted_accuracy"] != trials["accuracy"]).any()
    assert np.allclose(trials["val_weighted_accuracy"], trials["val_accuracy"])
    assert (
        "the search's val_weighted_accuracy was not weighted either (it equals val_accuracy in "
        "every trial: the validation data carried no sample weights), so it compares with the "
        "test value." in note
    )
    markdown = (tmp_path / "p" / "report.md").read_text()
    value = result.test_metrics["weighted_accuracy"]
    assert f"| weighted_accuracy{UNWEIGHTED} | {value:.4f} |" in markdown  # the test table
    assert f"weighted_accuracy{UNWEIGHTED} {value:.4f}." in markdown  # the top line
    assert f"| weighted_accuracy{UNWEIGHTED} | " in markdown.split("## Final model over seeds")[1]
    assert note in markdown


def _evaluated(model: keras.Model, x: np.ndarray, y: object) -> keras.Model:
    model.evaluate(x, y, verbose=0)
    return model


def test_the_names_of_weighted_metrics_are_keras_own() -> None:
    """Keras names a weighted metric `weighted_<name>` beside a plain one of that name,
    `<output>_weighted_<name>` for an output, and by its own name alone."""
    from tunekit.report_weights import weighted_names

    x = _RNG.normal(size=(8, 4)).astype("float32")
    y = np.arange(8) % 2

    def one(**compiled: object) -> keras.Model:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", **compiled)
        return model

    both = one(metrics=["accuracy"], weighted_metrics=["accuracy"])
    assert weighted_names(_evaluated(both, x, y)) == (["weighted_accuracy"], ["accuracy"])
    alone = one(weighted_metrics=["accuracy"])
    assert weighted_names(_evaluated(alone, x, y)) == (["accuracy"], [])
    assert weighted_names(_evaluated(one(metrics=["accuracy"]), x, y)) == ([], [])
    assert weighted_names(one(weighted_metrics=["accuracy"])) is None  # never evaluated

    inputs = keras.Input((4,))
    outputs = {
        "cls": keras.layers.Dense(2, activation="softmax", name="cls")(inputs),
        "reg": keras.layers.Dense(1, name="reg")(inputs),
    }
    several = keras.Model(inputs, outputs)
    several.compile(
        "adam",
        {"cls": "sparse_categorical_crossentropy", "reg": "mse"},
        metrics={"cls": ["accuracy"]},
        weighted_metrics={"cls": ["accuracy"], "reg": ["mae"]},
    )
    found = weighted_names(_evaluated(several, x, {"cls": y, "reg": x[:, 0]}))
    assert found == (["cls_weighted_accuracy", "reg_mae"], ["cls_accuracy"])


def test_a_weighted_validation_is_said_not_to_compare_with_the_test_value() -> None:
    """Validation data with weights of their own (a fit that weighs `validation_data`):
    the search's `val_weighted_accuracy` differs from `val_accuracy`, and the note says the
    test's unweighted value does not compare with it; without a plain twin it cannot tell."""
    from tunekit.report_weights import unweighted_note

    frame = pd.DataFrame(
        {"val_accuracy": [0.80, 0.70], "val_weighted_accuracy": [0.74, 0.70], "val_auc": [1, 1]}
    )
    report: dict = {"test_metrics": {"accuracy": 0.9, "weighted_accuracy": 0.9, "auc": 0.8}}
    unweighted_note(report, (["weighted_accuracy", "auc"], ["accuracy"]), frame)
    assert report["unweighted_test_metrics"] == ["weighted_accuracy", "auc"]
    assert report["test_note"].startswith(
        "Note: weighted_accuracy, auc on the test set are unweighted, although compiled"
    )
    assert (
        "the search's val_weighted_accuracy was weighted (it differs from val_accuracy: the "
        "validation data carried sample weights), so it does not compare with the test value"
    ) in report["test_note"]
    assert (
        "the search's val_auc was weighted only if the validation data carried sample weights."
    ) in report["test_note"]
    plain: dict = {"test_metrics": {"accuracy": 0.9}, "test_note": "Earlier."}
    unweighted_note(plain, ([], ["accuracy"]), frame)
    assert plain == {"test_metrics": {"accuracy": 0.9}, "test_note": "Earlier.",
                     "unweighted_test_metrics": []}  # fmt: skip


def test_the_class_weight_line_says_an_own_fit_got_them_not_that_keras_applied_them() -> None:
    """Note 65: an own `fit` may apply the run's class weights in a loop of its own, or not
    at all, where tunekit cannot see; the report said "every trial and the retrain" as if
    Keras had. It says where they went; a run without weights has no line."""
    from tunekit.report_weights import class_weight_lines

    def report(passed_to: str, mode: object = "balanced") -> dict:
        weights = {"0": 0.625, "1": 2.5}
        given = {"mode": mode, "weights": weights, "passed_to": passed_to}
        return {"class_weight": given, "dataset": {"class_names": ["ant", "1"]}}

    assert class_weight_lines(report("model.fit")) == [
        "- Class weights (balanced, from the training split; every trial and the retrain): "
        "0 (ant): 0.625, 1: 2.5"
    ]
    assert class_weight_lines(report("own fit", {0: 1, 1: 4})) == [
        "- Class weights (as given; given to your hypermodel's own fit as "
        "kwargs['class_weight'] in every trial and the retrain, applied as that fit applies "
        "them): 0 (ant): 0.625, 1: 2.5"
    ]
    assert class_weight_lines({"class_weight": {"mode": None, "weights": None}}) == []
