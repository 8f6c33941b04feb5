"""The check before any training: the hypermodel's model fits the data and can be saved.

Run when a run folder is first opened and before each search, so a model
that cannot fit the data (or cannot make the save-and-load trip the final
model makes) fails in seconds, leaving nothing on disk.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import keras_tuner as kt

from tunekit.compile_drift import drift_samples
from tunekit.data import Dataset, StreamData
from tunekit.data._stream_ids import check_test_classes
from tunekit.data._stream_labels import check_validation_classes
from tunekit.data._stream_shapes import check_stream_inputs
from tunekit.default_build import build_with_defaults, check_built_a_model, note_built
from tunekit.errors import ModelCheckError
from tunekit.hypermodel_kinds import own_fit
from tunekit.metric_directions import keras_spelling, misspelt
from tunekit.model_description import describe_model
from tunekit.model_files import check_round_trip  # the file check, beside the loaders
from tunekit.objectives import known_direction
from tunekit.outputs import model_output_shape, training_samples
from tunekit.retraining import rate_not_settable
from tunekit.steps.loss_batches import check_output_loss_batches
from tunekit.steps.output_checks import WHAT as _WHAT
from tunekit.steps.output_checks import check_built_model, model_sample, outputs_and_compile
from tunekit.steps.pairing_checks import check_pairings, check_runs_on, check_text_backend
from tunekit.steps.stream_heads import classifying_outputs, quantity_unit
from tunekit.steps.trial_checks import check_output_fits, check_trainable
from tunekit.steps.vector_objectives import check_scalar_objective

_logger = logging.getLogger(__name__)

__all__ = [
    "check_declares_hyperparameters",
    "check_model",
    "check_objective_reported",
    "check_round_trip",
    "check_trainable",
    "check_vector_objective",
    "declared_space",
    "default_model",
]


def check_model(
    hypermodel: kt.HyperModel,
    data: Dataset | StreamData,
    hyperparameters: kt.HyperParameters | None = None,
    objective_names: Sequence[str] = (),
    schedule: str | None = None,
    describe: Callable[[Any], None] | None = None,
) -> str | None:
    """Checks, before any training, that the hypermodel's output fits the data.

    Builds the model once with default hyperparameters (those of `hyperparameters`, the
    run's `hyperparameters=`, first; a lazily built model is called on two training samples;
    a dict `x` feeds each named input) and checks its output against the targets:
    `data.num_classes` for classification (`tunekit.outputs.check_output_shape`),
    `data.num_outputs` for regression (`tunekit.regression.check_regression_output_shape`);
    then that it survives a `.keras` save and safe load (`check_round_trip`). A build that
    raises here is refused (`ModelCheckError`): KerasTuner's tuner builds the hypermodel
    with its defaults to declare the space, so no search could start. A lazily built model
    that cannot be run on the samples is refused with Keras's error (`check_runs_on`) unless
    the hypermodel has its own `fit`; a model with several outputs (and a dict `y`) is left
    to its trials. Unless the hypermodel has its own `fit`, its first layers, loss, outputs
    and the metrics of `objective_names` (the objective's metric names) must agree with the
    data and each other (`tunekit.steps.pairing_checks`). For a `StreamData`, the model is
    called on its first training batch; its output width is checked against the classes when
    known, and against every validation class id (`check_validation_classes`, one pass); for
    a dict `y`, each output compiled with a classification loss against its labels' ids.
    Before that, without training (`check_trainable`): the model is compiled and its
    declared input fits `x_train`'s samples; after it, a one-unit logit classifier's
    accuracy metric must not threshold its logits at 0.5, and a model never compiled (the
    hypermodel's own fit trains it) must have one output and, if it is one classifier unit,
    end in a sigmoid: its test set is scored from its predictions, which must say what they
    mean. With `schedule="cosine"` (the run's `final_schedule`; default `None`), a
    compiled optimizer whose learning rate cannot be set (`rate_not_settable`: its own
    schedule or a callable, also inside a `LossScaleOptimizer`) is logged now, before
    the search: the retrain keeps that rate. `describe` (default `None`), if given, is
    called with the model built (before any check), so a run records it without another
    build (`tunekit.model_description`).

    Raises:
        ModelCheckError (a `ValueError`): The build with the default
            hyperparameters raised (naming the error and where), or see
            `check_trainable`.
        OutputShapeError (a `ValueError`): Naming the model's output shape
            and the targets' shape, with the fix.
        ModelSaveError: See `check_round_trip`.
        DataError: A validation or test class id the stream's model cannot take (both read
            when the `StreamData` was made), or a batch read then whose `x` the model's
            input cannot take (`tunekit.data._stream_shapes.check_input_sizes`).

    Returns:
        `check_round_trip`'s note when the model's file needs more than
        `keras.models.load_model(path)` to load, else `None`.
    """
    note, heads, quantity = None, None, ""
    model = build_with_defaults(hypermodel, _defaults(hyperparameters))
    try:
        check_built_a_model(model)
        if describe is not None:
            describe(model)
        check_trainable(hypermodel, model, data)
        if isinstance(data, StreamData):  # batches read when it was made (not the first)
            check_stream_inputs(data, model)
        _say_schedule_kept(model, schedule)
        check_text_backend(model, data, _WHAT)
        sample = model_sample(data)
        fed_as_is = not own_fit(hypermodel)  # an own fit may not be
        if fed_as_is:
            check_runs_on(model, sample)  # a lazily built model, on the data's samples
        shape = check_built_model(model, _WHAT, data, sample)
        if fed_as_is:
            check_pairings(model, data, objective_names, sample=sample)
            check_output_loss_batches(model, data, objective_names)
        if isinstance(data, StreamData):  # what its outputs are, read while it exists
            heads = classifying_outputs(model, data) if data.several_outputs else shape
            quantity = quantity_unit(model, shape)
        if shape is not None:

            def rebuild() -> keras.Model:
                rebuilt = build_with_defaults(hypermodel, _defaults(hyperparameters))
                model_output_shape(rebuilt, sample)  # builds a lazily built model
                return rebuilt

            note = check_round_trip(model, rebuild, samples=drift_samples(data))
    finally:
        del model
        keras.backend.clear_session()
    if isinstance(data, StreamData):  # a first batch may show only some classes
        check_validation_classes(data, heads, quantity)
        check_test_classes(data, heads, quantity)  # read when it was made: nothing read now
    check_output_fits(shape, data, _WHAT, hypermodel)
    return note


def _say_schedule_kept(model: Any, schedule: str | None) -> None:
    """Logs, before the search, that the cosine retrain schedule will keep the rate."""
    optimizer = getattr(model, "optimizer", None)
    why = rate_not_settable(optimizer) if optimizer is not None else None
    if schedule == "cosine" and why is not None:
        _logger.warning("The cosine retrain schedule will not be applied: %s.", why)


def check_vector_objective(
    hypermodel: kt.HyperModel,
    objective: Any,
    hyperparameters: kt.HyperParameters | None = None,
) -> None:
    """Refuses an `objective` (a name, `"name:max"`, a `keras_tuner.Objective` or a list)
    that names a vector metric of the default model, or one of its values: asked before
    the question of its direction, whose answer would be refused the same (a model that
    does not build is left to the check before the search).

    Raises:
        ModelCheckError (a `ValueError`): As `check_scalar_objective`, with the advice.
    """
    parts = objective if isinstance(objective, list | tuple) else [objective]
    names = [str(getattr(p, "name", p)).partition(":")[0].strip() for p in parts]
    keras.backend.clear_session()  # fresh names: `precision`, not `precision_1`
    try:
        hp = _defaults(hyperparameters)
        model = hypermodel.build(hp)
        note_built(hypermodel, hp)
        metrics = [m for part in outputs_and_compile(model) for m in part.metrics]
    except Exception:  # noqa: BLE001 - a model that does not build: the check says why
        return
    finally:
        keras.backend.clear_session()
    for name in names:
        check_scalar_objective(name, metrics)


def _defaults(hyperparameters: kt.HyperParameters | None) -> kt.HyperParameters:
    """What a build with the defaults starts from: the run's `hyperparameters=` (copied)."""
    return kt.HyperParameters() if hyperparameters is None else hyperparameters.copy()


def default_model(
    hypermodel: kt.HyperModel, hyperparameters: kt.HyperParameters | None = None
) -> dict[str, Any] | None:
    """`tunekit.model_description.describe_model` of the model built with the defaults.

    Built as `check_model` builds it (the run's `hyperparameters=` first), then discarded.

    Raises:
        ModelCheckError: The build raised (as `check_model` says it).
    """
    model = build_with_defaults(hypermodel, _defaults(hyperparameters))
    try:
        return describe_model(model)
    finally:
        del model
        keras.backend.clear_session()


def declared_space(
    hypermodel: kt.HyperModel, hyperparameters: kt.HyperParameters | None = None
) -> kt.HyperParameters:
    """The hyperparameters a build with the defaults declares (the model is discarded).

    With `hyperparameters` (the run's `hyperparameters=`), its entries come
    first and win over the hypermodel's own, as in KerasTuner's oracle.
    """
    declared = _defaults(hyperparameters)
    try:
        build_with_defaults(hypermodel, declared)
    finally:
        keras.backend.clear_session()
    return declared


def check_declares_hyperparameters(
    hypermodel: kt.HyperModel, declared: kt.HyperParameters | None = None
) -> None:
    """Raises `ModelCheckError` for a hypermodel with nothing to tune.

    Its build with the default hyperparameters declares none (`declared`, the
    `declared_space` when already built), and it has no `fit` of its own
    (which may declare some, e.g. a tuned `batch_size`): before, the coarse
    phase trained its one configuration and the fine phase then failed with
    "0 ran". Checked after `check_model`, whose errors about the model say more.
    """
    if own_fit(hypermodel):
        return
    if not (declared or declared_space(hypermodel)).space:
        raise ModelCheckError(
            "`hypermodel` declares no hyperparameters (its build calls no hp.Int, hp.Float, "
            "hp.Choice or hp.Boolean), so there is nothing to tune: the search would train "
            "one configuration again and again. Declare what to tune with hp.Int(...) and "
            "the like, or train the model with model.fit."
        )


def check_objective_reported(
    hypermodel: kt.HyperModel,
    data: Dataset | StreamData,
    names: list[str],
    hyperparameters: kt.HyperParameters | None = None,
    callbacks: Sequence[Any] = (),
    directions: Mapping[str, str] | None = None,
) -> None:
    """Refuses, before training, an objective the model never reports.

    A metric the model is not compiled with (`val_auc` for a model compiled with
    `metrics=["accuracy"]`), and Keras's names by output for a model with several
    (`digit_accuracy`, `val_digit_loss`, so the default objective `val_accuracy` or a
    name written for one output is not among them): a search would find it only after
    its first trial trained. The model built with the default hyperparameters is
    evaluated on two training samples (one compile of its test step) and each validation
    name of `names` (the objective's metric names, `val_<name>`) must be one it reports,
    exactly (a close one, also in another letter case, is named). A training name
    (`gnorm`: a `train_step` of the user's may add it to the logs, which `evaluate` does
    not run), an objective of the loss alone (`val_loss`, which every compiled model
    reports), a model
    not compiled or trained by the hypermodel's own `fit` (which may report its own
    metrics), and a run with `callbacks` of its own (one may write the objective into
    the epoch's logs, as KerasTuner allows) are left to the first trial.

    `directions` (`{name: "min" | "max"}`, the objective's) keeps a metric of the other
    direction out of the close ones (`val_top3:max` is not pointed to `val_loss`).

    Raises:
        ModelCheckError (a `ValueError`): Naming the objective, the metrics the
            model reports and the closest one.
    """
    if own_fit(hypermodel) or callbacks:
        return
    # A validation name only: what `evaluate` reports is the test step's (a training name,
    # `gnorm`, may be a key a train_step of the user's adds to the logs: the first trial's).
    names = [
        name
        for name in names
        if (name.startswith("val_") and name != "val_loss")
        or misspelt(name)  # VAL_ACCURACY, val-accuracy: never a name Keras logs
    ]
    if not names:
        return  # every compiled model reports its loss (and no build to pay)
    try:
        model = hypermodel.build(_defaults(hyperparameters))
    except Exception:  # noqa: BLE001 - `check_model` names a failing build
        return
    try:
        if not isinstance(model, keras.Model) or not getattr(model, "compiled", False):
            return
        several = len(outputs_and_compile(model)) > 1
        x, y = training_samples(data, targets=True)
        try:
            reported = list(model.evaluate(x, y, verbose=0, return_dict=True))
        except Exception:  # noqa: BLE001 - a model that cannot run here: its trials say why
            return
    finally:
        del model
        keras.backend.clear_session()
    known = [*reported, *(f"val_{name}" for name in reported)]
    for name in names:
        if name in known:
            continue
        base = name.removeprefix("val_")
        close = [  # the same metric of each output (val_accuracy: val_digit_accuracy, ...)
            k
            for k in sorted(known)
            if k.endswith(f"_{base}") and k.startswith("val_") == name.startswith("val_")
        ] or [k for k in sorted(known) if keras_spelling(k) == keras_spelling(name)]
        wanted = (directions or {}).get(name)
        alike = [k for k in known if wanted is None or known_direction(k, None) in (None, wanted)]
        close = close or difflib.get_close_matches(name, alike, n=1)
        raise ModelCheckError(
            f"The objective {name!r} is not among the metrics the model reports"
            + (": its outputs' metrics are named by output, " if several else ", ")
            + f"{sorted(known)} (the model built with the default hyperparameters, "
            "evaluated on two training samples). "
            + (f"Did you mean {' or '.join(map(repr, close))}? " if close else "")
            + "Choose one of those as `objective`, or compile the model with the metric "
            "you mean."
        )
