"""Coarse trials no better than chance do not shape the fine space.

Narrowing around trials that did not learn (too few epochs, a learning rate
that diverges, labels that carry no signal) would confine the fine search to
noise. The step compares each coarse score with the accuracy of always
predicting the most frequent class (a one-sided binomial test): trials at
chance are left out of the narrowing, and when too few trials beat chance it
keeps every hyperparameter as it was, says so, and records the rule
`chance`. (A run that learns is narrowed: `test_workflow.py`.)
"""

from __future__ import annotations

import logging
import types

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import RUN_BUDGET

from hypermodels import MnistDenseHyperModel
from tunekit import CoarseToFine
from tunekit.cli_summary import narrowing_line
from tunekit.data import CLASSIFICATION, REGRESSION, Dataset
from tunekit.steps.narrow import chance_level


def _ctx(objective="val_accuracy", direction="max", task=CLASSIFICATION, cv=1, **data):
    return types.SimpleNamespace(
        objective=kt.Objective(objective, direction),
        data=types.SimpleNamespace(task=task, **data),
        cv=cv,
        class_weights=None,
        said=str,  # a Python run's: its notes name keyword arguments
    )


def _own_accuracy():
    """A metric function of the user's named `accuracy`: right within one class (ordinal)."""

    def accuracy(y_true, y_pred):
        truth = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        guess = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32")
        return keras.ops.cast(keras.ops.abs(truth - guess) <= 1, "float32")

    return accuracy


@pytest.mark.parametrize(
    ("ctx", "expected"),
    [
        (_ctx(y_val=np.array([0, 0, 0, 1])), (0.75, 4)),
        (_ctx("val_sparse_categorical_accuracy", y_val=np.array([2, 1, 2, 2, 0])), (0.6, 5)),
        (_ctx("val_binary_accuracy", y_val=np.array([[1], [0], [1], [1]])), (0.75, 4)),
        (_ctx(y_val=np.eye(3)[[0, 1, 1, 1, 2]]), (0.6, 5)),  # one-hot
        # With cv the folds cover train+validation.
        (_ctx(cv=3, y_val=np.array([0, 1]), y_train_full=np.array([1, 1, 1, 0])), (0.75, 4)),
        (_ctx("val_loss", "min", y_val=np.array([0, 1])), None),
        (_ctx("accuracy", y_val=np.array([0, 1])), None),  # a training metric
        (_ctx(task=REGRESSION, y_val=np.array([0.5, 1.0])), None),
        (_ctx(y_val=None), None),  # a stream: no labels in memory
        # An image folder's stream knows its labels.
        (_ctx(labels={"train": np.array([0, 1]), "val": np.array([1, 1, 0, 1])}), (0.75, 4)),
        (_ctx(labels=None), None),
    ],
)
def test_chance_level_is_the_most_frequent_class_share_of_the_scored_labels(ctx, expected):
    assert chance_level(ctx) == (pytest.approx(expected) if expected else None)


def test_coarse_trials_on_labels_without_signal_keep_the_whole_space(
    tmp_path, digits_small, caplog
):
    rng = np.random.default_rng(0)
    noise = Dataset.from_arrays(
        digits_small.x_train,
        rng.integers(0, 10, len(digits_small.y_train)),
        x_test=digits_small.x_test,
        y_test=digits_small.y_test,
        validation_fraction=0.3,
        seed=0,
    )
    run = CoarseToFine(
        MnistDenseHyperModel(),
        noise,
        directory=tmp_path,
        project_name="noise",
        **RUN_BUDGET,
    )
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        narrowed = run.narrow()
    space = run.coarse().oracle.hyperparameters
    whole = {hp.name: hp.get_config() for hp in space.space if not hp.name.startswith("tuner/")}
    assert {hp.name: hp.get_config() for hp in narrowed.hyperparameters.space} == whole
    assert {c.rule for c in narrowed.changes} == {"chance"}
    assert all(c.before == c.after for c in narrowed.changes)
    assert "no coarse trial beat chance" in narrowed.top_note
    assert "no coarse trial beat chance" in str(narrowed)  # the table in report.md
    assert "the whole space is kept" in caplog.text and "(coarse_epochs=)" in caplog.text
    assert narrowing_line(narrowed).startswith("Narrowing: none, the whole space was kept")
    # Saved and reloaded as it was decided.
    again = CoarseToFine(
        MnistDenseHyperModel(), noise, directory=tmp_path, project_name="noise", **RUN_BUDGET
    )
    assert again.narrow().to_dict() == narrowed.to_dict()


class _ReluDense(MnistDenseHyperModel):
    """The dense hypermodel with its activation fixed (KerasTuner's `Fixed`-first idiom)."""

    def build(self, hp):
        hp.Fixed("activation", "relu")
        return super().build(hp)


def test_coarse_trials_that_all_learned_are_narrowed(tmp_path, digits_small, caplog):
    run = CoarseToFine(
        _ReluDense(), digits_small, directory=tmp_path, project_name="learns", **RUN_BUDGET
    )
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        narrowed = run.narrow()
    scores = [t.score for t in run.coarse().oracle.trials.values()]
    assert len(scores) == 4 and min(scores) > 0.3  # chance is about 0.1 here
    assert "chance" not in {c.rule for c in narrowed.changes}
    assert any(c.before != c.after for c in narrowed.changes)
    assert "chance" not in caplog.text


def _oracle(scores):
    """A finished coarse oracle: one trial per score, units rising with the score."""
    from keras_tuner.engine.trial import Trial

    space = kt.HyperParameters()
    space.Int("units", 8, 512, step=8)
    space.Choice("activation", ["relu", "sigmoid"])
    trials = {}
    for i, score in enumerate(scores):
        hp = space.copy()
        hp.values = {"units": 8 + 8 * i, "activation": "sigmoid" if score < 0.6 else "relu"}
        trial = Trial(hyperparameters=hp, trial_id=f"{i:02d}", status="COMPLETED")
        trial.score = score
        trials[trial.trial_id] = trial
    return types.SimpleNamespace(trials=trials, hyperparameters=space)


def _narrow(scores, y_val=None, **ctx):
    from tunekit.steps.narrow import NarrowStep

    if y_val is None:
        y_val = np.array([0] * 52 + [1] * 24 + [2] * 24)  # the majority class: 0.52 of 100
    context = _ctx(y_val=y_val)
    vars(context).update(coarse_trials=len(scores), top=3, margin=0.1, class_weights=None)
    vars(context).update(ctx)
    return NarrowStep().narrow(context, _oracle(scores))


def test_too_few_trials_above_chance_keep_the_whole_space(caplog):
    """One trial learned, four sit at the majority share: nothing to narrow around."""
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        narrowed = _narrow([0.86, 0.52, 0.58, 0.52, 0.40])
    assert {c.rule for c in narrowed.changes} == {"chance"}
    # Which test "beat" means: 0.58 is above the majority share 0.52, but not significantly.
    assert (
        "only 1 of the 5 usable coarse trials beat chance (one-sided binomial p < 0.05)"
    ) in narrowed.top_note, narrowed.top_note
    # No trial was used: none is named as a top trial, and the table says so.
    assert (narrowed.top, narrowed.top_trial_ids, narrowed.usable) == (0, (), 5)
    assert {c.active for c in narrowed.changes} == {0}
    assert str(narrowed).startswith("NarrowedSpace: none of 5 usable trials")
    assert "the whole space is kept" in caplog.text
    assert {hp.name for hp in narrowed.hyperparameters.space} == {"units", "activation"}
    (activation,) = [hp for hp in narrowed.hyperparameters.space if hp.name == "activation"]
    assert activation.values == ["relu", "sigmoid"]


def test_trials_at_chance_are_left_out_of_the_narrowing(caplog):
    """The top 5 of 6 hold two sigmoid trials at chance: narrow from the 3 that learned."""
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        narrowed = _narrow([0.90, 0.88, 0.86, 0.52, 0.55, 0.40], top=5)
    assert "chance" not in {c.rule for c in narrowed.changes}
    assert "2 of the top 5 coarse trials were no better than chance" in narrowed.top_note
    assert "narrowed from the 3 of the 6 usable trials that beat it" in narrowed.top_note
    assert "narrowed from the 3 of the 6 usable trials that beat it" in caplog.text
    assert "from the 3 coarse trials that beat chance" in narrowing_line(narrowed)
    space = {hp.name: hp for hp in narrowed.hyperparameters.space}
    # The 3 learners are the 3 relu trials of 6: as likely as 1 in 20 by chance, so
    # relu is not fixed (rule `common`); of 7 trials (1 in 35) it is.
    assert (space["activation"].values, space["activation"].default) == (
        ["relu", "sigmoid"],
        "relu",
    )
    assert {c.name: c.rule for c in narrowed.changes}["activation"] == "common"
    more = _narrow([0.90, 0.88, 0.86, 0.52, 0.55, 0.40, 0.45], top=5)
    (activation,) = [hp for hp in more.hyperparameters.space if hp.name == "activation"]
    assert isinstance(activation, kt.engine.hyperparameters.Fixed) and activation.value == "relu"
    # The learners hold units 8, 16 and 24: the range is theirs plus the margin.
    assert space["units"].min_value == 8 and 24 <= space["units"].max_value < 40
    # Used 3; the coarse phase had 6 usable trials and the user asked for 5.
    assert (narrowed.top, narrowed.usable, narrowed.requested_top) == (3, 6, 5)
    assert narrowed.top_trial_ids == ("00", "01", "02")


def test_leaving_trials_out_keeps_what_was_said_of_the_top():
    """Asked for more top trials than there are: that is still said, and in good grammar."""
    narrowed = _narrow([0.90, 0.88, 0.86, 0.85, 0.55], top=10)
    assert "asked for top=10" in narrowed.top_note
    assert "1 of the top 5 coarse trials was no better than chance" in narrowed.top_note
    assert (narrowed.top, narrowed.usable, narrowed.requested_top) == (4, 5, 10)


def test_an_exhausted_space_at_chance_says_both():
    """Every configuration tried (2 of a budget of 20), one at chance: both are said."""
    narrowed = _narrow([0.86, 0.52], coarse_trials=20)
    assert narrowed.top == 0 and {c.rule for c in narrowed.changes} == {"chance"}
    assert narrowed.top_note.startswith("the space holds only 2 distinct configurations")
    assert "only 1 of the 2 usable coarse trials beat chance" in narrowed.top_note


def test_top_trials_all_above_chance_are_narrowed():
    narrowed = _narrow([0.86, 0.80, 0.75, 0.52, 0.40])
    assert "chance" not in {c.rule for c in narrowed.changes}
    assert "chance" not in (narrowed.top_note or "")


def test_weighed_classes_skip_the_chance_check():
    """Balanced class weights trade plain accuracy for the rare classes: no chance verdict."""
    weighed = _ctx(y_val=np.array([0, 0, 0, 1]))
    weighed.class_weights = {0: 0.67, 1: 2.0}
    assert chance_level(weighed) is None
    narrowed = _narrow([0.50, 0.49, 0.48, 0.47], class_weights={0: 0.6, 1: 1.4, 2: 1.4})
    assert "chance" not in {c.rule for c in narrowed.changes}
    # ... and the table's note says the check was off, and why.
    assert "not compared with chance: the classes are weighed" in narrowed.top_note


def test_unknown_validation_labels_are_noted():
    """A stream without labels=: no chance level, said in the note."""
    narrowed = _narrow([0.50, 0.49, 0.48, 0.47], data=types.SimpleNamespace(task=CLASSIFICATION))
    assert "not compared with chance: the validation labels are unknown" in narrowed.top_note
    assert "chance" not in {c.rule for c in narrowed.changes}


@pytest.mark.parametrize(
    ("metric", "objective", "checked"),
    [
        (lambda: keras.metrics.BinaryAccuracy(name="acc"), "val_acc", True),
        (lambda: keras.metrics.SparseCategoricalAccuracy(name="hit"), "val_hit", True),
        (lambda: "acc", "val_acc", True),
        (lambda: keras.metrics.AUC(name="acc"), "val_acc", False),  # an AUC named acc
        (lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2"), "val_top2", False),
        (
            lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="accuracy"),
            "val_accuracy",
            False,
        ),
        (_own_accuracy, "val_accuracy", False),
        (lambda: keras.metrics.Recall(name="binary_accuracy"), "val_binary_accuracy", False),
        (
            lambda: keras.metrics.BinaryAccuracy(name="sparse_categorical_accuracy"),
            "val_sparse_categorical_accuracy",
            True,
        ),
    ],
)
def test_an_accuracy_is_known_by_its_class_not_only_by_keras_name(metric, objective, checked):
    """`BinaryAccuracy(name="acc")` with `objective="val_acc:max"`: the coarse trials
    were never compared with chance (two below-chance trials narrowed `units`), and
    nothing said so, where the same metric named `accuracy` was checked."""
    from tunekit._kerastuner import get_hypermodel

    def build(hp):
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 4, step=2))]
            + [keras.layers.Dense(2, activation="softmax")]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=[metric()])
        return model

    ctx = _ctx(objective, y_val=np.array([0, 0, 0, 1]))
    ctx.hypermodel, ctx.hyperparameters = get_hypermodel(build), None
    assert chance_level(ctx) == ((pytest.approx(0.75), 4) if checked else None)


def test_an_outputs_accuracy_is_compared_with_that_outputs_chance():
    """Several outputs from arrays (a dict `y`), `objective="val_digit_accuracy"`: the
    coarse trials were not compared with chance, "the validation labels are unknown (a
    stream without labels=)", although the labels were arrays in memory."""
    from tunekit._kerastuner import get_hypermodel

    def build(hp):
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(hp.Int("units", 2, 4, step=2))(inputs)
        outputs = {
            "digit": keras.layers.Dense(3, activation="softmax", name="digit")(hidden),
            "digit_odd": keras.layers.Dense(1, activation="sigmoid", name="digit_odd")(hidden),
        }
        model = keras.Model(inputs, outputs)
        model.compile(
            "adam",
            {"digit": "sparse_categorical_crossentropy", "digit_odd": "binary_crossentropy"},
            metrics={"digit": ["accuracy"], "digit_odd": ["accuracy"]},
        )
        return model

    labels = {"digit": np.array([0, 0, 0, 1, 2]), "digit_odd": np.array([1.0, 0.0, 0.0, 0.0])}
    for objective, expected in (
        ("val_digit_accuracy", (0.6, 5)),
        ("val_digit_odd_accuracy", (0.75, 4)),
    ):
        ctx = _ctx(objective, y_val=labels)
        ctx.hypermodel, ctx.hyperparameters = get_hypermodel(build), None
        assert chance_level(ctx) == (pytest.approx(expected[0]), expected[1])


# The probe's validation labels (pure noise, 95% negatives): 9 positives of 266.
_RARE = np.array([1] * 9 + [0] * 257)


def test_an_auc_objective_at_chance_keeps_the_whole_space(caplog):
    """The probe's run (objective `val_auc`, labels without signal): coarse val_auc 0.63,
    0.37, 0.53 and 0.48 narrowed the space around them, with no note. A random scorer's
    AUC is 0.5 with standard deviation 0.098 on 9 and 257 examples: none beat it."""
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        narrowed = _narrow(
            [0.6344, 0.3729, 0.5264, 0.4752], objective=kt.Objective("val_auc", "max"), y_val=_RARE
        )
    assert {c.rule for c in narrowed.changes} == {"chance"}
    assert "no coarse trial beat chance (best val_auc 0.6344; one-sided Mann-Whitney" in (
        narrowed.top_note
    )
    assert "an AUC at chance is 0.5 with standard deviation 0.0981 on 257 and 9" in (
        narrowed.top_note
    )
    assert "the whole space is kept" in caplog.text


def test_auc_trials_at_chance_are_left_out_of_the_narrowing():
    """Three trials learned (AUC 0.97, 0.95, 0.93 on 50 and 50 examples); two at 0.52 and
    0.48 are left out, as accuracy trials at the majority share are."""
    balanced = np.array([0, 1] * 50)
    narrowed = _narrow(
        [0.97, 0.95, 0.93, 0.52, 0.48],
        top=5,
        objective=kt.Objective("val_auc", "max"),
        y_val=balanced,
    )
    assert "2 of the top 5 coarse trials were no better than chance" in narrowed.top_note
    assert "one-sided Mann-Whitney (normal approximation) p >= 0.05" in narrowed.top_note
    assert narrowed.top_trial_ids == ("00", "01", "02")


def test_the_auc_p_value_is_mann_whitneys_on_the_predictions():
    """The p-value from the AUC alone (Hanley & McNeil's null variance) is scipy's
    Mann-Whitney test on the scores themselves (asymptotic, no ties, no continuity)."""
    from scipy.stats import mannwhitneyu
    from sklearn.metrics import roc_auc_score

    from tunekit.steps.chance import chance_test

    rng = np.random.default_rng(3)
    labels = (rng.random(120) < 0.3).astype(int)
    scores = rng.random(120) + 0.25 * labels  # a weak signal
    test = chance_test(_ctx("val_auc", y_val=labels))
    expected = mannwhitneyu(
        scores[labels == 1],
        scores[labels == 0],
        alternative="greater",
        method="asymptotic",
        use_continuity=False,
    ).pvalue
    assert test.p_value(roc_auc_score(labels, scores)) == pytest.approx(expected, rel=1e-9)
    assert test.p_value(0.5) == pytest.approx(0.5)


def _compiled_with(metric, units=1):
    from tunekit._kerastuner import get_hypermodel

    def build(hp):
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 4, step=2))]
            + [keras.layers.Dense(units, activation="sigmoid" if units == 1 else "softmax")]
        )
        loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
        model.compile("adam", loss, metrics=[metric])
        return model

    return {"hypermodel": get_hypermodel(build), "hyperparameters": None}


@pytest.mark.parametrize(
    ("objective", "direction", "ctx", "why"),
    [
        # Named like Keras's accuracies, computing something else: the probe's top-3 accuracy
        # on noise (0.22-0.34, chance 0.3) was "above" the majority share and narrowed.
        (
            "val_accuracy",
            "max",
            _compiled_with(keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="accuracy"), 3),
            "val_accuracy is a SparseTopKCategoricalAccuracy, not a plain accuracy, so its "
            "chance level is not the most frequent class's share",
        ),
        (
            "val_accuracy",
            "max",
            _compiled_with(_own_accuracy(), 3),
            "val_accuracy is a metric function of yours, not a plain accuracy",
        ),
        (
            "val_binary_accuracy",
            "max",
            _compiled_with(keras.metrics.Precision(name="binary_accuracy")),
            "val_binary_accuracy is a Precision, not a plain accuracy",
        ),
        # An AUC is known by its class too (not a ROC AUC: no 0.5 test).
        (
            "val_auc",
            "max",
            _compiled_with(keras.metrics.Precision(name="auc")),
            "val_auc is not a metric whose chance level tunekit knows",
        ),
        ("val_loss", "min", {}, "val_loss is a loss, whose value at chance depends on the loss"),
        (
            "val_precision",
            "max",
            _compiled_with(keras.metrics.Precision()),
            "val_precision is not a metric whose chance level tunekit",
        ),
        (
            "val_recall",
            "max",
            _compiled_with(keras.metrics.Recall()),
            "val_recall is not a metric whose chance level tunekit knows",
        ),
        (
            "val_f1",
            "max",
            _compiled_with(keras.metrics.F1Score(name="f1")),
            "val_f1 is not a metric whose chance level tunekit knows",
        ),
        # No model to read (a subclassed model's compile, unread): not said unknown.
        ("val_precision", "max", {}, "tunekit could not read the metrics of the model build()"),
        ("val_mae", "min", {"task": REGRESSION}, "val_mae scores a regression"),
        ("accuracy", "max", {}, "accuracy is not measured on the validation data"),
        ("val_accuracy", "min", {}, "val_accuracy is minimised"),
        (
            "val_pr",
            "max",
            _compiled_with(keras.metrics.AUC(curve="PR", name="pr")),
            "val_pr is the area under the precision-recall curve (curve='PR')",
        ),
        (
            "val_auc",
            "max",
            {"y_val": np.array([0, 1, 2, 2, 1])},
            "val_auc is an AUC over 3 classes",
        ),
        ("val_auc", "max", {"y_val": np.eye(2)[[0, 1, 1, 0]]}, "val_auc is an AUC over one-hot"),
        ("val_auc", "max", {"y_val": np.zeros(6)}, "the validation labels hold one class only"),
        (
            "val_auc",
            "max",
            {"data": types.SimpleNamespace(task=CLASSIFICATION)},
            "the validation labels are unknown",
        ),
    ],
)
def test_an_objective_the_chance_check_cannot_judge_is_said(objective, direction, ctx, why):
    """A loss, precision, a PR AUC, a regression's error...: the coarse trials were narrowed
    with no word that they were never compared with chance, where class weights and streams
    said so."""
    if "task" in ctx:  # a regression's data
        ctx = {"data": types.SimpleNamespace(task=ctx["task"], y_val=np.array([0.5, 1.0]))}
    narrowed = _narrow(
        [0.50, 0.49, 0.48, 0.47], objective=kt.Objective(objective, direction), **ctx
    )
    assert f"coarse trials not compared with chance: {why}" in narrowed.top_note
    assert f"not compared with chance: {why}" in str(narrowed)  # the table in report.md
    assert "chance" not in {c.rule for c in narrowed.changes}


def test_a_combined_objective_is_said_not_compared():
    from tunekit._kerastuner import MultiObjective

    combined = MultiObjective([kt.Objective("val_auc", "max"), kt.Objective("val_loss", "min")])
    narrowed = _narrow([0.50, 0.49, 0.48, 0.47], objective=combined)
    assert "not compared with chance: the objective combines val_auc, val_loss" in (
        narrowed.top_note
    )


def test_an_auc_is_known_by_its_class_and_weighed_classes_keep_its_chance_level():
    """`AUC(name="roc")` under `val_roc` is compared with 0.5, as Keras's `auc` is; class
    weights, which move the accuracy's chance level, leave an AUC's at 0.5 (validation
    metrics are not weighed by them)."""
    from tunekit.steps.chance import ChanceTest, chance_test

    ctx = _ctx("val_roc", y_val=np.array([0, 1] * 10))
    vars(ctx).update(_compiled_with(keras.metrics.AUC(name="roc")), class_weights={0: 1, 1: 3})
    found = chance_test(ctx)
    assert isinstance(found, ChanceTest) and found.p_value(0.5) == pytest.approx(0.5)
    ctx.objective = kt.Objective("val_other", "max")  # another metric of that model
    assert "val_other is not a metric whose chance level" in chance_test(ctx)


def _mixed_build(hp):
    """A classifier output `cls` (softmax over class ids) beside a regression output `reg`."""
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(hp.Int("units", 2, 4, step=2))(inputs)
    outputs = {
        "cls": keras.layers.Dense(2, activation="softmax", name="cls")(hidden),
        "reg": keras.layers.Dense(1, name="reg")(hidden),
    }
    model = keras.Model(inputs, outputs)
    model.compile(
        "adam",
        {"cls": "sparse_categorical_crossentropy", "reg": "mse"},
        metrics={"cls": ["accuracy"], "reg": ["mae"]},
    )
    return model


# Outputs of mixed kinds need task="regression", which keeps the class ids as floats.
_MIXED = {
    "cls": np.array([0.0] * 52 + [1.0] * 48, dtype="float32"),
    "reg": np.linspace(-1.5, 2.5, 100).astype("float32"),
}


def _mixed(objective="val_cls_accuracy", direction="max"):
    from tunekit._kerastuner import get_hypermodel

    return {
        "objective": kt.Objective(objective, direction),
        "data": types.SimpleNamespace(task=REGRESSION, y_val=_MIXED),
        "hypermodel": get_hypermodel(_mixed_build),
        "hyperparameters": None,
    }


def test_a_classifier_outputs_accuracy_beside_a_regression_output_is_compared_with_chance():
    """Outputs `cls` (softmax) and `reg` (MSE) from `Dataset.from_arrays(..., task=
    "regression")`, which mixed outputs need, under `objective="val_cls_accuracy:max"`: the
    narrowing said "coarse trials not compared with chance: val_cls_accuracy scores a
    regression", a reason taken from the data's task, not from the output it scores."""
    ctx = _ctx("val_cls_accuracy", task=REGRESSION, y_val=_MIXED)
    vars(ctx).update(hypermodel=_mixed()["hypermodel"], hyperparameters=None)
    assert chance_level(ctx) == (pytest.approx(0.52), 100)
    narrowed = _narrow([0.90, 0.88, 0.86, 0.52, 0.55, 0.40], top=5, **_mixed())
    assert "2 of the top 5 coarse trials were no better than chance" in narrowed.top_note
    assert "scores a regression" not in narrowed.top_note


@pytest.mark.parametrize(
    ("objective", "direction", "why"),
    [
        ("val_reg_r2", "max", "val_reg_r2 scores output 'reg', whose targets are values, not "),
        ("val_loss", "min", "val_loss is a loss, whose value at chance depends on the loss"),
        ("val_reg_mae", "min", "val_reg_mae is minimised; tunekit knows the chance level of"),
        ("val_accuracy", "max", "'val_accuracy' names no output of the labels (cls, reg)"),
    ],
)
def test_beside_mixed_outputs_the_reason_names_what_the_objective_scores(objective, direction, why):
    """Each of these said "... scores a regression" of data whose outputs are a
    classifier's and a regression's: the reason now names what the objective scores."""
    narrowed = _narrow([0.50, 0.49, 0.48, 0.47], **_mixed(objective, direction))
    assert f"coarse trials not compared with chance: {why}" in narrowed.top_note
    assert "chance" not in {c.rule for c in narrowed.changes}


def _binary_net(hp):
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 4, step=2))]
        + [keras.layers.Dense(1, activation="sigmoid")]
    )


class _CompiledInFit(kt.HyperModel):
    """build() returns an uncompiled model; the hypermodel's own fit compiles it with an
    accuracy and a ROC AUC (a new user's hypermodel on breast_cancer)."""

    def build(self, hp):
        return _binary_net(hp)

    def fit(self, hp, model, *args, **kwargs):
        metrics = ["accuracy", keras.metrics.AUC(name="auc")]
        model.compile("adam", "binary_crossentropy", metrics=metrics)
        return model.fit(*args, **kwargs)


class _BuiltInFit(_CompiledInFit):
    """build() returns no model: the own fit builds and compiles it."""

    def build(self, hp):
        hp.Int("units", 2, 4, step=2)

    def fit(self, hp, model, *args, **kwargs):
        return super().fit(hp, _binary_net(hp), *args, **kwargs)


class _ReturnsScore(kt.HyperModel):
    """The own fit returns one number computed on the validation data (`1 - ROC AUC`)."""

    def build(self, hp):
        model = _binary_net(hp)
        model.compile("adam", "binary_crossentropy")
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        from sklearn.metrics import roc_auc_score

        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        return {"score": 1 - roc_auc_score(y_val, model.predict(x_val, verbose=0))}


def _with(hypermodel, objective, direction="max"):
    ctx = _ctx(objective, direction, y_val=np.array([0, 1] * 20))
    ctx.hypermodel, ctx.hyperparameters = hypermodel, None
    return ctx


@pytest.mark.parametrize("objective", ["val_auc", "val_accuracy"])
@pytest.mark.parametrize("hypermodel", [_CompiledInFit(), _BuiltInFit()])
def test_a_metric_compiled_in_the_own_fit_is_said_unreadable_not_unknown(hypermodel, objective):
    """`val_auc` compiled in the hypermodel's own fit (build returns an uncompiled model):
    "val_auc is not a metric whose chance level tunekit knows: those are ... a binary
    validation ROC AUC (0.5)", of a binary ROC AUC; tunekit only could not read it."""
    from tunekit.steps.chance import chance_test

    why = chance_test(_with(hypermodel, objective))
    assert isinstance(why, str)
    assert "is not a metric whose chance level tunekit knows" not in why
    assert f"so tunekit cannot read what {objective} is" in why
    assert "your hypermodel's own fit" in why
    assert "in build() to have trials at chance left out of the narrowing" in why
    narrowed = _narrow([0.50, 0.49, 0.48, 0.47], **vars(_with(hypermodel, objective)))
    assert f"coarse trials not compared with chance: {why}" in narrowed.top_note
    # The same metric compiled in build() is compared with chance.
    compiled = _ctx(objective, y_val=np.array([0, 1] * 20))
    vars(compiled).update(_compiled_with(keras.metrics.AUC(name="auc")))
    if objective == "val_accuracy":
        vars(compiled).update(_compiled_with("accuracy"))
    assert not isinstance(chance_test(compiled), str)


@pytest.mark.parametrize(
    ("objective", "direction"),
    [("score", "min"), ("score", "max"), ("val_score", "max"), ("auc", "max")],
)
def test_a_number_the_own_fit_returns_is_not_said_measured_on_training_data(objective, direction):
    """`fit` returns `{"score": 1 - roc_auc_score(y_val, ...)}`, objective `score:min`:
    "score is not measured on the validation data (no val_ prefix)", of a number measured
    on the validation data; tunekit cannot tell what such a number is measured on."""
    from tunekit.steps.chance import chance_test

    why = chance_test(_with(_ReturnsScore(), objective, direction))
    assert isinstance(why, str)
    assert "no val_ prefix" not in why and "is not a metric whose chance level" not in why
    assert "your hypermodel's own fit" in why
    assert f"tunekit cannot tell what {objective} is" in why


def test_a_training_metric_of_the_default_fit_is_still_said_not_validation():
    from tunekit.steps.chance import chance_test

    for objective in ("auc", "loss"):
        ctx = _ctx(objective, "max" if objective == "auc" else "min", y_val=np.array([0, 1]))
        vars(ctx).update(_compiled_with(keras.metrics.AUC(name="auc")))
        assert chance_test(ctx) == (
            f"{objective} is not measured on the validation data (no val_ prefix)"
        )


def test_a_metric_tunekit_cannot_read_is_not_said_unknown():
    """A model whose compiled metrics cannot be read (no model to build here, as for a
    subclassed model Keras has not built): "val_roc is not a metric whose chance level
    tunekit knows", of what may be an `AUC(name="roc")`."""
    from tunekit.steps.chance import chance_test

    why = chance_test(_ctx("val_roc", y_val=np.array([0, 1] * 5)))
    assert "is not a metric whose chance level tunekit knows" not in why
    assert "could not read the metrics" in why and "cannot tell what val_roc is" in why
