"""Tests for `tunekit.objectives`: an objective's direction is stated or certain, never guessed."""

from __future__ import annotations

import keras_tuner as kt
import numpy as np
import pytest
from conftest import RUN_BUDGET

from tunekit.errors import UnknownDirectionError
from tunekit.objectives import (
    describe_objective,
    known_direction,
    parse_objective,
    resolve_objective,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("val_accuracy", ("val_accuracy", "max")),
        ("accuracy", ("accuracy", "max")),
        ("val_sparse_categorical_accuracy", ("val_sparse_categorical_accuracy", "max")),
        ("val_f1_score", ("val_f1_score", "max")),  # KerasTuner guessed "min"
        ("val_fbeta_score", ("val_fbeta_score", "max")),
        ("val_auc", ("val_auc", "max")),
        ("val_auc_1", ("val_auc_1", "max")),  # Keras numbers repeated metric instances
        ("val_r2_score", ("val_r2_score", "max")),
        ("val_precision", ("val_precision", "max")),
        ("val_mean_iou", ("val_mean_iou", "max")),
        ("val_loss", ("val_loss", "min")),
        ("val_mae", ("val_mae", "min")),
        ("val_mean_squared_error", ("val_mean_squared_error", "min")),
        ("val_sparse_categorical_crossentropy", ("val_sparse_categorical_crossentropy", "min")),
        ("val_my_score:max", ("val_my_score", "max")),
        ("val_my_error:min", ("val_my_error", "min")),
    ],
)
def test_directions_are_stated_or_certain(text, expected):
    assert parse_objective(text) == expected
    objective = resolve_objective(text)
    assert (objective.name, objective.direction) == expected


# One output's metric of a several-output model: Keras names it `<output>_<metric>`.
OUTPUT_METRICS = [
    ("val_digit_accuracy", "max"),
    ("val_digit_sparse_categorical_accuracy_1", "max"),
    ("val_price_mae", "min"),
    ("val_head_2_auc_1", "max"),
    ("val_out_root_mean_squared_error", "min"),
    ("val_output_1_loss", "min"),
    ("digit_loss", "min"),
    # Outputs named with a word that turns a metric around (`neg`): before, their metrics
    # had no direction, and `val_neg_loss:max` (the worst trials) was accepted.
    ("val_neg_accuracy", "max"),
    ("val_neg_loss", "min"),
    ("val_inverse_class_auc", "max"),
]
OUTPUTS = ("digit", "price", "head_2", "out", "output_1", "neg", "inverse_class")


@pytest.mark.parametrize("name, direction", OUTPUT_METRICS)
def test_an_outputs_metric_has_its_metrics_direction_for_that_output_only(name, direction):
    assert parse_objective(name, outputs=OUTPUTS) == (name, direction)
    objective = resolve_objective(name, outputs=OUTPUTS)
    assert (objective.name, objective.direction) == (name, direction)
    with pytest.raises(ValueError, match="does not guess") as unknown:  # no such output
        resolve_objective(name, outputs=("other",))
    # Said why: an output named otherwise than y's keys (before: no word of outputs).
    assert "which must be the keys of y, ['other']" in str(unknown.value)
    with pytest.raises(ValueError, match="does not guess"):
        parse_objective(name, argument="--objective")  # the command line: one output


# Before, these took the direction of the Keras metric they end with (`val_not_accuracy`
# was maximised: the worst trial won), and the opposite stated direction was refused.
USERS_OWN = [
    "val_not_accuracy",
    "val_error_accuracy",
    "val_loss_auc",
    "val_precision_loss",
    "val_auc_loss",
    "val_delta_loss",
    "val_one_minus_precision",
]


@pytest.mark.parametrize("name", USERS_OWN)
def test_a_users_own_metric_ending_in_a_keras_name_is_not_given_its_direction(name):
    """Also after an output's name: `val_out_not_accuracy` is `out`'s own metric."""
    for prefix in ("val_out_", "out_"):
        assert known_direction(prefix + name.removeprefix("val_"), outputs=("out",)) is None
    with pytest.raises(ValueError, match=rf"`objective`={name!r}.*does not guess"):
        resolve_objective(name, outputs=("digit", "y"))
    for direction in ("max", "min"):
        assert parse_objective(f"{name}:{direction}") == (name, direction)
        assert resolve_objective(name, direction).direction == direction


@pytest.mark.parametrize(
    "text", ["val_my_score", "val_cosine_similarity", "val_custom_1", "f1", "val_accuracyish"]
)
def test_unknown_direction_is_refused_saying_how_to_state_it(text):
    with pytest.raises(
        ValueError,
        match=rf"`objective`={text!r}.*does not guess.*"
        rf"'{text}:max' or '{text}:min'",
    ):
        resolve_objective(text)
    with pytest.raises(ValueError, match="--direction max"):
        parse_objective(text, argument="--objective")


# Keras loss names (its aliases, its functions' and its Loss classes' logged names) that
# tunekit leaves to the user, each for its reason. A new Keras loss name fails
# `test_every_keras_loss_name_is_lower_is_better_or_an_exception` until placed.
NOT_CERTAIN_LOSS_NAMES = {
    "cosine_similarity": "also a Keras metric, for which higher is better",
    "dice": "a model's own `dice` metric is most often the Dice coefficient (max)",
    "tversky": "a model's own `tversky` metric is most often the Tversky index (max)",
}


def _keras_loss_names():
    """The names Keras logs for its losses: `metrics=["bce"]` logs `bce`, a function its
    `__name__`, a `Loss` instance its `name` (`Huber()`: `huber_loss`)."""
    from keras.src.losses import ALL_OBJECTS_DICT

    names = set()
    for key, loss in ALL_OBJECTS_DICT.items():
        if isinstance(loss, type):
            try:
                names.add(loss().name)
            except TypeError:  # LossFunctionWrapper: wraps a function named above
                continue
        else:
            names |= {key, loss.__name__}
    return names


def test_every_keras_loss_name_is_lower_is_better_or_an_exception():
    """Before, `val_crossentropy`, `val_bce`, `val_MSE`, `val_ctc`, `val_circle` (plain
    KerasTuner: 'min') and `val_huber_loss` (`Huber().name`) were refused as of unknown
    direction."""
    names = _keras_loss_names()
    assert set(NOT_CERTAIN_LOSS_NAMES) <= names  # an exception Keras dropped: remove it
    for name in sorted(names - set(NOT_CERTAIN_LOSS_NAMES)):
        for logged in (name, f"val_{name}", f"val_weighted_{name}", f"val_{name}_1"):
            assert known_direction(logged) == "min", logged
        assert parse_objective(f"val_{name}") == (f"val_{name}", "min")
    for name in NOT_CERTAIN_LOSS_NAMES:
        assert known_direction(f"val_{name}") is None, name
        for direction in ("max", "min"):  # the user states it, either way
            assert parse_objective(f"val_{name}:{direction}") == (f"val_{name}", direction)


@pytest.mark.parametrize(
    "name",
    # KerasTuner's special cases (Keras's `loss="crossentropy"` / `"ce"`) and Keras 3 losses
    ["crossentropy", "ce", "bce", "BCE", "MSE", "ctc", "circle", "binary_crossentropy"],
)
def test_keras_loss_names_are_minimised_as_keras_tuner_does(name):
    from keras_tuner.engine.metrics_tracking import infer_metric_direction

    for logged in (f"val_{name}", f"weighted_{name}", name):
        assert infer_metric_direction(logged) == "min"
        assert resolve_objective(logged).direction == "min"


@pytest.mark.parametrize(
    "name",
    # KerasTuner guesses 'min' for these; a count or a mean of the user's is not certain.
    ["val_true_positives", "val_false_negatives", "val_mean", "val_sum", "val_dice"],
)
def test_counts_and_means_stay_of_unknown_direction(name):
    assert known_direction(name) is None
    with pytest.raises(UnknownDirectionError, match="does not guess"):
        parse_objective(name)


@pytest.mark.parametrize(
    "text, close",
    [
        ("val_aucc", "val_auc"),
        ("val_acuracy", "val_accuracy"),
        ("val_precison_1", "val_precision_1"),  # Keras's numbering kept
        ("val_weighted_acuracy", "val_weighted_accuracy"),
        ("recal", "recall"),
        ("val_f1score", "val_f1_score"),
        ("val_crossentropyy", "val_crossentropy"),
    ],
)
def test_a_typo_of_a_known_metric_is_named_before_the_direction_advice(text, close):
    """Before, `val_aucc` was told to state 'val_aucc:max', which trains a first trial
    before the typo is found (the model reports no `val_aucc`)."""
    for argument in ("objective", "--objective"):
        with pytest.raises(UnknownDirectionError) as refused:
            parse_objective(text, argument=argument)
        message = str(refused.value)
        assert message.startswith(
            f"Did you mean {close!r}? `{argument}`={text!r}: tunekit does not know whether"
        ), message
        assert f"'{text}:max' or '{text}:min'" in message  # a metric of the user's own
    with pytest.raises(UnknownDirectionError, match=rf"^Did you mean {close!r}\? "):
        resolve_objective(text)


@pytest.mark.parametrize(
    ("text", "meant", "outputs"),
    [
        ("VAL_ACCURACY", "val_accuracy", ()),
        ("Val_accuracy", "val_accuracy", ()),
        ("validation_accuracy", "val_accuracy", ()),
        ("val-accuracy", "val_accuracy", ()),  # before: "Did you mean 'accuracy'?"
        ("val.accuracy", "val_accuracy", ()),
        ("valaccuracy", "val_accuracy", ()),
        ("VAL_LOSS", "val_loss", ()),  # before: "(or --direction max)", for a loss
        ("VALIDATION_LOSS", "val_loss", ()),
        ("Val-AUC", "val_auc", ()),
        ("VAL_DIGIT_ACCURACY", "val_digit_accuracy", ("digit", "size")),
    ],
)
def test_keras_names_spelt_otherwise_are_named_not_given_a_direction(text, meant, outputs):
    """Probes J and K: the refusal asked for a direction ('VAL_ACCURACY:max'), which the
    model check then refused again; now it leads with the name Keras writes."""
    for argument in ("objective", "--objective"):
        with pytest.raises(UnknownDirectionError) as refused:
            parse_objective(text, argument=argument, outputs=outputs)
        message = str(refused.value)
        assert message.startswith(f"Did you mean {meant!r}? `{argument}`={text!r} is not"), message
        assert f"write {meant!r}" in message and "--direction" not in message


@pytest.mark.parametrize("text", ["val_AUC", "val_MyPrec", "val_Valence", "valence", "value_error"])
def test_a_metric_of_ones_own_in_capitals_is_not_renamed(text):
    """Probe K: `val_AUC` (a metric named `AUC`, as Keras logs it) was told "Did you mean
    'val_auc'?", and `val_auc` then "Did you mean 'val_AUC'?"."""
    with pytest.raises(UnknownDirectionError) as refused:
        parse_objective(text)
    assert "Did you mean" not in str(refused.value)
    assert parse_objective(f"{text}:max") == (text, "max")


@pytest.mark.parametrize(
    "text",
    [
        "val_my_err",
        "val_balanced",
        "val_my_score",
        "val_custom_1",
        "val_not_accuracy",  # ends in a known name: the user's own (or an output's)
        "val_digit_loss",
        "val_neg_mse",
        "val_cosine_similarity",
        "val_dice",
    ],
)
def test_a_name_close_to_no_known_metric_gets_no_suggestion(text):
    with pytest.raises(UnknownDirectionError) as refused:
        parse_objective(text)
    assert str(refused.value).startswith(f"`objective`={text!r}: tunekit does not know")
    assert "Did you mean" not in str(refused.value)


def test_coarse_to_fine_names_the_typo_before_any_training(tmp_path):
    import keras

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    def build(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    data = Dataset.from_arrays(np.zeros((40, 4)), np.arange(40) % 2)
    with pytest.raises(UnknownDirectionError, match=r"^Did you mean 'val_auc'\? `objective`="):
        CoarseToFine(build, data, directory=tmp_path, objective="val_aucc")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(text="val_x:up"), "must be 'max' or 'min'"),
        (dict(text="val_x:max", direction="min"), "state it once"),
        (dict(text="", direction="max"), "metric name"),
        (dict(text="val_x", direction="up"), "'max' or 'min'"),
        (dict(text="val_accuracy:"), r"direction after ':' is missing; write 'val_accuracy:max'"),
        # A direction that contradicts a certain one would narrow to and retrain the worst trials.
        (
            dict(text="val_accuracy:min"),
            r"'val_accuracy' with direction 'min' would pick the worst",
        ),
        (dict(text="val_loss:max"), r"lower is better \('min'\)"),
        (dict(text="val_auc_1", direction="min"), r"higher is better \('max'\)"),
    ],
)
def test_malformed_objectives_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        parse_objective(**kwargs)


def test_direction_argument_and_keras_tuner_objective():
    assert parse_objective("val_my_score", "max") == ("val_my_score", "max")
    objective = kt.Objective("val_my_score", "max")
    assert resolve_objective(objective) is objective
    with pytest.raises(ValueError, match="also given"):
        resolve_objective(objective, "min")
    with pytest.raises(TypeError, match="metric name"):
        resolve_objective(3)
    assert describe_objective("val_f1_score", "max") == "val_f1_score (max: higher is better)"


@pytest.mark.parametrize(
    "text, direction",
    [
        ("val_neg_mse:max", "max"),  # scikit-learn's naming: higher is better
        ("val_neg_log_loss:max", "max"),
        ("val_one_minus_auc:min", "min"),
        ("val_inverse_accuracy:min", "min"),
    ],
)
def test_a_name_that_turns_a_keras_metric_around_is_the_users_own(text, direction):
    """Before, "val_neg_mse:max" was refused as a Keras metric for which lower is better,
    and the advice ("write 'val_neg_mse:min'") would have picked the worst trials."""
    name = text.partition(":")[0]
    assert parse_objective(text) == (name, direction)
    assert resolve_objective(kt.Objective(name, direction)).direction == direction
    with pytest.raises(ValueError, match="does not guess"):  # no direction inferred either
        parse_objective(name)


@pytest.mark.parametrize(
    "objective, message",
    [
        (kt.Objective("val_loss", "max"), r"would pick the worst trials.*lower is better"),
        (kt.Objective("val_accuracy", "min"), r"would pick the worst trials.*higher is better"),
        (kt.Objective("val_auc_2", "min"), r"higher is better \('max'\)"),
        (kt.Objective("val_accuracy", "up"), r"must be 'max' or 'min'.*'up'"),
        (kt.Objective("val_my_score", "highest"), r"must be 'max' or 'min'.*'highest'"),
    ],
)
def test_a_keras_tuner_objective_gets_the_string_forms_checks(tmp_path, objective, message):
    """Before, `Objective("val_loss", "max")` ran with exit 0 and picked the worst trial,
    and `Objective(..., "up")` failed every trial, then left a manifest `ls` called corrupt."""
    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    with pytest.raises(ValueError, match=message):
        resolve_objective(objective)
    from keras_tuner.src.engine.objective import MultiObjective

    with pytest.raises(ValueError, match=message):  # a part of KerasTuner's sum of objectives
        resolve_objective(MultiObjective([kt.Objective("val_f1_score", "max"), objective]))
    import keras

    def build(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    rng = np.random.default_rng(0)
    data = Dataset.from_arrays(rng.normal(size=(60, 4)), np.arange(60) % 2)
    with pytest.raises(ValueError, match=message):
        CoarseToFine(build, data, objective=objective, directory=tmp_path)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_workflow_and_make_tuner_resolve_the_same_way(tmp_path):
    import keras

    from tunekit import CoarseToFine
    from tunekit.data import Dataset
    from tunekit.tuners import make_tuner

    def build(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    data = Dataset.from_arrays(np.zeros((40, 4)), np.arange(40) % 2)
    run = CoarseToFine(build, data, directory=tmp_path, objective="val_f1_score")
    assert (run.objective.name, run.objective.direction) == ("val_f1_score", "max")
    assert run.config()["direction"] == "max"
    with pytest.raises(ValueError, match="`objective`='val_custom'"):
        CoarseToFine(build, data, directory=tmp_path, objective="val_custom")
    tuner_objective = make_tuner(
        "random",
        build,
        objective="val_f1_score",
        directory=tmp_path,
        project_name="p",
        max_trials=1,
    ).oracle.objective
    assert tuner_objective.direction == "max"
    with pytest.raises(ValueError, match="does not guess"):
        make_tuner(
            "random",
            build,
            objective="val_custom",
            directory=tmp_path,
            project_name="q",
            max_trials=1,
        )


@pytest.mark.parametrize(
    "name, warned",
    [
        ("accuracy", True),
        ("loss", True),
        ("auc_1", True),
        ("mae", True),
        ("val_accuracy", False),
        ("val_loss", False),
        ("my_score", False),  # a hypermodel's own fit may return a validation score
    ],
)
def test_a_training_metric_objective_is_accepted_with_a_warning(tmp_path, caplog, name, warned):
    import keras

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    def build(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    data = Dataset.from_arrays(np.zeros((40, 4)), np.arange(40) % 2)
    objective = name if name != "my_score" else "my_score:max"
    with caplog.at_level("WARNING", logger="tunekit"):
        run = CoarseToFine(build, data, directory=tmp_path, objective=objective)
    assert run.objective.name == name  # accepted, as KerasTuner accepts it
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if warned:
        assert any(f"'{name}' is measured on the training data" in w for w in warnings)
        assert any(f"use 'val_{name}'" in w for w in warnings)
    else:
        assert not any("measured on the training data" in w for w in warnings)


def test_a_bad_objective_is_tunekits_usage_error_as_every_bad_argument():
    # Was a bare ValueError: the CLI's exit 2 and a notebook's `except TunekitError` missed it.
    from tunekit.errors import InvalidParameterError

    for text in ("val_accuracy:up", "val_my_score", "val_accuracy:min"):
        with pytest.raises(InvalidParameterError):
            parse_objective(text)


def test_a_list_of_objectives_is_keras_tuners_sum_with_each_part_checked():
    """KerasTuner takes `objective=[...]` as a `MultiObjective`; tunekit refused it (TypeError)."""
    from keras_tuner.src.engine.objective import MultiObjective

    from tunekit.objectives import objective_parts

    summed = resolve_objective(["val_loss", kt.Objective("val_auc", "max"), "val_f1_score:max"])
    assert isinstance(summed, MultiObjective)
    assert objective_parts(summed) == [
        ["val_loss", "min"],
        ["val_auc", "max"],
        ["val_f1_score", "max"],
    ]
    # KerasTuner's own sum: the metrics to maximise subtracted, lower is better.
    assert summed.get_value({"val_loss": 0.5, "val_auc": 0.75, "val_f1_score": 0.5}) == -0.75
    assert describe_objective(summed.name, summed.direction, objective_parts(summed)) == (
        "multi_objective = val_loss - val_auc - val_f1_score (min: lower is better)"
    )
    one = resolve_objective(("val_accuracy",))  # one part ranks as that objective
    assert (one.name, one.direction, objective_parts(one)) == ("val_accuracy", "max", [])
    twice = resolve_objective(["val_loss", "val_auc", "val_loss:min"])  # KerasTuner counts it once
    assert objective_parts(twice) == [["val_loss", "min"], ["val_auc", "max"]]


@pytest.mark.parametrize(
    ("objective", "kwargs", "message"),
    [
        (["val_loss:max", "val_auc"], {}, r"`objective\[0\]` 'val_loss'.*worst trials"),
        (["val_auc", kt.Objective("val_accuracy", "min")], {}, r"objective\[1\].*worst trials"),
        (["val_auc", "val_custom"], {}, r"objective\[1\]`='val_custom'.*does not guess"),
        (["val_auc", "val_f1:max", "val_f1:min"], {}, "names 'val_f1' twice"),
        ([], {}, "empty list"),
        (["val_auc", "val_loss"], {"direction": "max"}, "each part states its own direction"),
        (["val_auc", ["val_loss"]], {}, r"objective\[1\]` is itself a list"),
        (["val_auc", 3], {}, r"objective\[1\]` must be a metric name"),
    ],
)
def test_a_bad_list_of_objectives_is_refused_naming_the_part(objective, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        resolve_objective(objective, **kwargs)


def test_a_list_objective_run_records_its_parts_and_reproduces_as_a_list(tmp_path):
    """The run's settings (compared on resume) and its Python call keep the parts: the
    name KerasTuner gives the sum, `multi_objective`, is no metric a rerun could use."""
    import keras

    from tunekit import CoarseToFine
    from tunekit.data import Dataset
    from tunekit.reproduce import cli_equivalent, python_call

    def build(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    data = Dataset.from_arrays(np.zeros((40, 4)), np.arange(40) % 2)
    run = CoarseToFine(build, data, directory=tmp_path, objective=["val_loss", "val_auc"])
    config = run.config()
    assert (config["objective"], config["direction"]) == ("multi_objective", "min")
    assert config["objectives"] == [["val_auc", "max"], ["val_loss", "min"]]
    reordered = CoarseToFine(build, data, directory=tmp_path, objective=["val_auc", "val_loss"])
    assert reordered.config() == config  # the same sum: a rerun in another order resumes
    assert "objective=['val_loss:min', 'val_auc:max']" in python_call(run)
    assert cli_equivalent(run, "jax") is None  # one --objective names one metric
    single = CoarseToFine(build, data, directory=tmp_path, objective="val_loss")
    assert "objectives" not in single.config()  # earlier runs' settings still compare equal


@pytest.mark.parametrize(
    ("returns", "objective", "warned"),
    [
        ("dict", "my_acc:max", False),  # KerasTuner's documented own-score pattern
        ("history", "accuracy", True),  # model.fit's History: accuracy beside val_accuracy
        ("history", "val_accuracy", False),
    ],
)
def test_an_own_fit_is_judged_by_what_it_returns(tmp_path, caplog, returns, objective, warned):
    """A fit returning `{"my_acc": <a validation score>}` got "The objective 'my_acc' is
    measured on the training data ... use 'val_my_acc'", a metric that does not exist.
    A fit of one's own is now judged by the History it returns."""
    import keras
    import keras_tuner as kt

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    class OwnFit(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential(
                [keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 4, step=2))]
                + [keras.layers.Dense(2, activation="softmax")]
            )
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

        def fit(self, hp, model, x, y, validation_data=None, **kwargs):
            history = model.fit(x, y, validation_data=validation_data, **kwargs)
            if returns == "history" or validation_data is None:
                return history
            return {"my_acc": float(model.evaluate(*validation_data, verbose=0)[1])}

    rng = np.random.default_rng(0)
    data = Dataset.from_arrays(rng.normal(size=(60, 4)).astype("float32"), np.arange(60) % 2)
    run = CoarseToFine(
        OwnFit(), data, directory=tmp_path, objective=objective, coarse_trials=3, verbose=0
    )
    with caplog.at_level("WARNING", logger="tunekit"):
        run.coarse()
    warnings = [
        r.getMessage() for r in caplog.records if "measured on the training" in r.getMessage()
    ]
    assert len(warnings) == (1 if warned else 0)


def _not_accuracy(y_true, y_pred):
    """1 - accuracy per sample: a metric of the user's own where lower is better."""
    import keras

    hits = keras.ops.cast(
        keras.ops.equal(
            keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"),
            keras.ops.cast(keras.ops.argmax(y_pred, -1), "int32"),
        ),
        "float32",
    )
    return 1.0 - hits


@pytest.mark.long
def test_a_run_refuses_a_users_own_metric_named_like_accuracy_and_minimises_it_when_told(
    tmp_path,
):
    """Before, `objective="val_not_accuracy"` was maximised: the worst trial won (exit 0)."""
    import keras
    from sklearn.datasets import load_digits

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays((x[:300] / 16.0).astype("float32"), y[:300] % 3, seed=0)

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(hp.Int("units", 2, 32, sampling="log"), activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        rate = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
        model.compile(
            keras.optimizers.Adam(rate),
            "sparse_categorical_crossentropy",
            metrics=[keras.metrics.MeanMetricWrapper(_not_accuracy, name="not_accuracy")],
        )
        return model

    budget = dict(directory=tmp_path, **RUN_BUDGET)
    with pytest.raises(ValueError, match="'val_not_accuracy'.*does not guess"):
        CoarseToFine(build, data, objective="val_not_accuracy", project_name="bare", **budget)
    run = CoarseToFine(build, data, objective="val_not_accuracy:min", project_name="min", **budget)
    phase, trial, _ = run.select()
    run.close()
    scores = [
        t.score
        for p in ("coarse", "fine")
        for t in run._tuner(p).oracle.trials.values()
        if t.status == "COMPLETED"
    ]
    assert len(set(scores)) > 1 and trial.score == min(scores)
